"""`labtui validate --fix`: the safe repairs of a validation report, through the engine (this side writes).

Staging, re-staging from the raw file, removing Parquet folders the manifest does not reference, quarantining
foreign files, re-attaching annotations; never writes, moves or deletes anything in the raw tree.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from labtui.core.annotations import default_author, excluded_runs, reattach
from labtui.core.config import StagingConfig
from labtui.core.findings import FIX_ACTION, MANIFEST_FILE_CODES, FixAction, ValidationReport
from labtui.core.manifest import read_manifest
from labtui.core.metrics.reprice import reprice_after
from labtui.core.quarantine import foreign_files, quarantine
from labtui.core.recovery import orphan_run_dirs
from labtui.core.rejects import unreadable_rejects
from labtui.core.scan import source_path
from labtui.core.stage_events import EventCallback, StageReport
from labtui.core.stager import stage
from labtui.core.store import LockWait, lock_store
from labtui.core.wording import counted


@dataclass
class FixReport:
    lines: list[str] = field(default_factory=list)
    stage_reports: list[StageReport] = field(default_factory=list)
    cancelled: bool = False


def apply_fixes(
    config: StagingConfig,
    report: ValidationReport,
    *,
    on_event: EventCallback | None = None,
    cancel: threading.Event | None = None,
    on_wait: LockWait | None = None,
) -> FixReport:
    """Repair the fixable findings of `report`; safe when the report is stale.

    Re-staging and staging go through the engine (its lock, its commit protocol). Orphans are recomputed under the
    writer lock right before they are moved to the quarantine, so a folder committed since the report was made is
    never touched.
    """
    cancel = cancel or threading.Event()
    actions = {FIX_ACTION[finding.code] for finding in report.fixable}
    done = FixReport()
    if any(finding.code in MANIFEST_FILE_CODES for finding in report.findings):
        done.lines.append("nothing done: the manifest is damaged (the engine would stop on it); run `labtui repair`")
        return done
    if FixAction.QUARANTINE in actions and not cancel.is_set():  # first: a file where a run's folder belongs
        with lock_store(config, cancel, on_wait):  # stopped its re-stage ("File exists"), and nothing was moved
            strangers = foreign_files(config)
            folder = quarantine(config, [config.stage_root / rel for rel in strangers], "foreign-files")
            done.lines.append(f"moved {counted(len(strangers), 'foreign file')} out of the stage root to {folder}")
    restage = sorted({source for finding in report.fixable for source in finding.restage})
    if restage and not cancel.is_set():
        paths = [source_path(config.raw_root, source) for source in restage]
        result = stage(config, only=paths, on_event=on_event, cancel=cancel)
        done.stage_reports.append(result)
        done.lines.append(f"re-staged {counted(len(restage), 'file')} from the raw tree: {result.line()}")
    if FixAction.STAGE in actions and not cancel.is_set():
        result = stage(config, on_event=on_event, cancel=cancel)
        done.stage_reports.append(result)
        done.lines.append(f"staged new and changed files: {result.line()}")
    if restage:
        actions.add(FixAction.QUARANTINE_ORPHANS)  # a run re-staged at another date leaves its old folder behind
    if actions & {FixAction.QUARANTINE_ORPHANS, FixAction.REMOVE_BAD_REJECTS} and not cancel.is_set():
        with lock_store(config, cancel, on_wait):
            # no manifest: everything looks orphaned
            if FixAction.QUARANTINE_ORPHANS in actions and config.manifest_path.exists():
                orphans = orphan_run_dirs(config)  # each holds its run's record: set aside, never deleted
                if orphans:  # after a re-stage that moved none ("moved 0 Parquet folders … to None")
                    folder = quarantine(config, orphans, "orphan-runs")
                    done.lines.append(f"moved {counted(len(orphans), 'Parquet folder')} the manifest does not "
                                      f"reference to {folder}")
            if FixAction.REMOVE_BAD_REJECTS in actions:
                bad = [config.rejects_dir / name for name in unreadable_rejects(config.rejects_dir)]
                for path in bad:
                    path.unlink(missing_ok=True)
                done.lines.append(f"deleted {counted(len(bad), 'unreadable reject record')}")
    # after any re-staging, which may be what changed the run_ids
    if FixAction.REATTACH in actions and not cancel.is_set():
        moved = reattach(config.store_root, read_manifest(config.manifest_path), author=default_author(config.user))
        done.lines.append(f"re-attached the annotations of {counted(len(moved), 're-staged run')} to their new run_id")
        excluded = excluded_runs(config.store_root) if moved else {}  # an exclusion re-attached to a calibration
        if (now := [new for _, new in moved if new in excluded]) and (repriced := reprice_after(config, now)):
            done.lines.append(repriced)
    done.cancelled = cancel.is_set() or any(r.cancelled for r in done.stage_reports)
    return done
