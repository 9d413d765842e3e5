"""The writer's commit protocol: how staged runs and reject records become durable and visible, and what a crash
leaves for the next writer.

Commit protocol (one writer, under the lock):
1. workers parse a file, claim its run_id (a case twin never overwrites the owner's Parquet) and write its Parquet
   to a hidden temp file in `_manifest/tmp/` (outside the dataset: the stage root holds only whole Parquet);
2. every `commit_interval_seconds` and at the end, the calling thread makes the batch's temp files durable,
   replaces them into place and makes that durable (one `syncfs` each where the OS has it, else fsyncs), writes
   reject records, then replaces the manifest (the commit point), then removes what the commit made obsolete
   (old Parquet of a run whose start time changed, reject records of files that now stage).
A `.dirty` marker in `_manifest/` lives from the first write to the clean end; a writer that finds it (the previous
one crashed) first removes temp files and Parquet folders the manifest does not reference.
After a stage's last manifest replace the stat index (`stat_index.py`) and the overview (`overview.py`) are
rewritten (a long stage's periodic commits skip them: a reader that finds them stale uses the manifest): the plan
reads the index instead of the manifest, so a run that finds nothing to do never loads Polars (this module imports
it only inside a commit), and the app paints its dashboard from the overview.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from labtui.core import faults
from labtui.core.atomic import fsync_dir, publish
from labtui.core.config import StagingConfig
from labtui.core.layout import run_dir
from labtui.core.overview import write_overview
from labtui.core.recovery import sweep_store
from labtui.core.rejects import RejectRecord, reject_path, remove_reject, write_reject
from labtui.core.scan import Outcome, stat_rows
from labtui.core.stat_index import manifest_digest, write_stat_index
from labtui.core.store import DIRTY_MARKER

if TYPE_CHECKING:
    import polars as pl

    from labtui.core.manifest_row import ManifestRow
    from labtui.core.metrics.per_run import Curve

STAGING_AREA = "tmp"  # in _manifest/: Parquet written by workers, published into the stage root at commit


@dataclass
class Staged:
    """One run a worker wrote and the next commit publishes."""

    row: ManifestRow
    warnings: list[str]
    temp: Path  # the run's Parquet, written but not yet published
    target: Path
    event_temp: Path  # its event record, written by the worker, published after the commit
    derived: tuple[object, ...] = ()  # the run's from-data metrics, computed while its frame is in memory
    curve: Curve | None = None  # a LaserCalibration's curve, for the metrics' power_w


@dataclass(frozen=True)
class Committed:
    manifest: pl.DataFrame
    runs: int
    rejects: int


def event_path(events_dir: Path, run_id: str) -> Path:
    """A run's event record in `config.events_dir` (the folder is passed: callers look it up once per batch)."""
    return events_dir / f"{run_id}.json"


def event_record(row: ManifestRow, warnings: list[str], extraction_version: str) -> bytes:
    """What happened at the last staging of a run: diagnostics, so published after the commit (only committed
    runs get one) atomically but not fsynced. Encoded by the worker, so the commit only renames it; by Pydantic's
    serializer, which writes the row straight to JSON (a third of the time of a dump to a dict, then `json`)."""
    from pydantic_core import to_json  # loaded with the row's model already: no import cost on a no-change run

    record = {
        "run_id": row.run_id,
        "source_file": row.source_file,
        "outcome": Outcome.STAGED.value,
        "staged_at_utc": row.ingested_at_utc.isoformat(),
        "n_rows": row.n_rows,
        "is_complete": row.is_complete,
        "warnings": warnings,
        "extraction_version": extraction_version,
        "row": row,  # what `labtui repair` rebuilds the manifest from
    }
    return to_json(record)


class StoreCommit:
    """The writer's side of one staging run: collects what the workers produced and commits it by the protocol."""

    def __init__(self, config: StagingConfig) -> None:
        self.config = config
        self.pending: list[Staged] = []
        self.pending_rejects: list[RejectRecord] = []
        self.dirty = False

    # -- the .dirty marker and crash recovery -----------------------------------------------------------------
    @property
    def marker(self) -> Path:
        return self.config.manifest_dir / DIRTY_MARKER

    def recover_if_dirty(self) -> None:
        if self.marker.exists():
            self.dirty = True
            sweep_store(self.config)

    def mark_dirty(self) -> None:
        """Created in place, not through a temp file: a crash while writing it must leave the marker (whose
        content does not matter), never a temp file that no marker announces to the next writer."""
        if not self.dirty:
            self.config.manifest_dir.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.marker, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            try:
                os.write(fd, str(os.getpid()).encode())
                os.fsync(fd)
            finally:
                os.close(fd)
            fsync_dir(self.config.manifest_dir)
            faults.point("after_mark_dirty")
            self.dirty = True

    def clear_dirty(self) -> None:
        faults.point("before_clear_dirty")
        self.marker.unlink(missing_ok=True)
        fsync_dir(self.config.manifest_dir)
        self.dirty = False

    # -- before the workers start -----------------------------------------------------------------------------
    def staging_area(self) -> Path | None:
        """Where workers write Parquet until the commit publishes it: `_manifest/tmp/`, outside the dataset, so a
        directory scan of the stage root only ever meets whole Parquet files. Beside the target (hidden) when the
        stage root is another filesystem, as `os.replace` cannot cross filesystems."""
        area = self.config.manifest_dir / STAGING_AREA
        area.mkdir(parents=True, exist_ok=True)
        self.config.stage_root.mkdir(parents=True, exist_ok=True)
        return area if area.stat().st_dev == self.config.stage_root.stat().st_dev else None

    def discard_uncommitted(self) -> None:
        """After a stage failed (a full disk): the temp files no commit will publish now go at once, giving back the
        space that was short (the next writer would sweep them; the `.dirty` marker stays): the staging area's, and
        those of the collected runs, which sit beside their targets when the stage root is another filesystem."""
        area = self.config.manifest_dir / STAGING_AREA
        try:
            temps = [area / name for name in os.listdir(area)]
        except OSError:
            temps = []
        for item in self.pending:
            temps += [item.temp, item.event_temp]
        for temp in temps:
            with contextlib.suppress(OSError):
                os.unlink(temp)

    def drop_stale_rejects(self, rejects: dict[str, RejectRecord], present: set[str], unchanged: set[str]) -> None:
        """Reject records of raw files that no longer exist refer to nothing; those of files the manifest holds as
        they are now are left by a crash between the commit and their removal: remove both."""
        for source in [s for s in rejects if s not in present or s in unchanged]:
            self.mark_dirty()
            remove_reject(self.config.rejects_dir, source)
            faults.point("after_stale_reject_remove")
            rejects.pop(source)

    def index_manifest(self, manifest: pl.DataFrame) -> None:
        """Describe the manifest now committed: after a stage's last commit, and to heal a stale stat index (after
        a crash, or an older labtui) when no commit rewrote it."""
        path = self.config.manifest_path
        digest = manifest_digest(path)  # one read of the manifest names it in both
        write_stat_index(path, stat_rows(manifest), digest)
        write_overview(path, manifest, self.config.local_tz, digest)

    # -- the commit -------------------------------------------------------------------------------------------
    def commit(
        self, manifest: pl.DataFrame, rejects: dict[str, RejectRecord], *, index: bool = True
    ) -> Committed | None:
        """Make everything collected so far durable and visible; the manifest replace is the commit point.
        None when there was nothing to commit. `index=False` leaves the stat index and the overview describing an
        older manifest (a reader then uses the manifest): a long stage's periodic commits, whose last commit
        writes them."""
        from labtui.core.manifest import upsert, write_manifest

        if not self.pending and not self.pending_rejects:
            return None
        staged, self.pending = self.pending, []
        new_rejects, self.pending_rejects = self.pending_rejects, []
        previous = dict(
            zip(
                manifest["source_file"].to_list(),
                zip(
                    manifest["run_id"].to_list(),
                    manifest["proc"].to_list(),
                    manifest["date_local"].to_list(),
                    strict=True,
                ),
                strict=True,
            )
        )
        publish([(item.temp, item.target) for item in staged], self.config.store_root)
        faults.point("after_parquet_replace")
        for record in new_rejects:  # of a file broken since it was staged too: its run stays, as a deleted file's
            write_reject(self.config.rejects_dir, record)
            faults.point("after_reject_write")
        faults.point("before_manifest_replace")
        updated = upsert(manifest, [item.row for item in staged])
        write_manifest(updated, self.config.manifest_path)
        faults.point("after_manifest_replace")
        if index:
            self.index_manifest(updated)
        kept = set(updated["run_id"].to_list())
        for run_id, proc, date_local in previous.values():
            if run_id not in kept:
                shutil.rmtree(run_dir(self.config.stage_root, proc, date_local, run_id), ignore_errors=True)
                faults.point("after_obsolete_run_remove")
                event_path(self.config.events_dir, run_id).unlink(missing_ok=True)
        rejects_dir, events_dir = self.config.rejects_dir, self.config.events_dir
        recorded = _file_names(rejects_dir)  # one listing, not a failing unlink for each staged run
        for item in staged:
            source = item.row.source_file
            if reject_path(rejects_dir, source).name in recorded and remove_reject(rejects_dir, source):
                rejects.pop(source, None)
                faults.point("after_reject_remove")
            os.replace(item.event_temp, event_path(events_dir, item.row.run_id))
        return Committed(updated, len(staged), len(new_rejects))


def _file_names(folder: Path) -> set[str]:
    try:
        return set(os.listdir(folder))
    except FileNotFoundError:
        return set()
