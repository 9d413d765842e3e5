"""Store health, the raw tree: raw files against the manifest and the reject records (gone, changed, touched, new,
rejected). Raw files are hashed only where size or mtime changed, unless `hash_all`; only ever read."""

from __future__ import annotations

import errno
import hashlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import polars as pl

from labtui.core.config import StagingConfig, registry_digest
from labtui.core.extraction_rules import EXTRACTION_RULES
from labtui.core.findings import Finding, FindingCode
from labtui.core.findings import make_finding as _finding  # short: the checks below align their arguments on it
from labtui.core.registry import procedure_rules
from labtui.core.rejects import read_rejects
from labtui.core.scan import PassedOver, made_by_current_rules, mtime_us, rejected_as_is, scan_raw, source_path
from labtui.core.store import record_lost


# -- the raw tree --------------------------------------------------------------------------------------------------
def raw_findings(
    frame: pl.DataFrame, config: StagingConfig, hash_all: bool
) -> tuple[list[Finding], set[str] | None, dict[str, int]]:
    """Raw files vs the manifest and the reject records; also the set of raw files present (None: no raw root)."""
    rejects, bad_records = read_rejects(config.rejects_dir)
    findings = _finding(
        FindingCode.REJECT_UNREADABLE, "warning", "reject records that cannot be read", bad_records,
        "delete them (`labtui validate --fix`); the next stage re-judges those files",
    )
    if not config.raw_root.is_dir():
        findings += _finding(
            FindingCode.RAW_ROOT_MISSING, "warning", "the raw root is not there: raw files were not checked",
            [str(config.raw_root)], "mount or restore the raw folder, or fix raw_root in the config"
            + record_lost(config),
        )
        return findings, None, {"raw_files": 0, "rejects": len(rejects)}
    passed = PassedOver()
    candidates = scan_raw(config.raw_root, passed)
    if (error := passed.unlisted.get("")) is not None:
        findings += _finding(
            FindingCode.RAW_ROOT_UNREADABLE, "warning",
            f"the raw root cannot be listed ({error.strerror or error}): raw files were not checked",
            [str(config.raw_root)], "give the user running labtui read access to it, or fix raw_root in the config",
        )
        return findings, None, {"raw_files": 0, "rejects": len(rejects)}
    on_disk = pl.DataFrame(
        {
            "source_file": [c.source_file for c in candidates],
            "disk_size": [c.size for c in candidates],
            "disk_mtime": [mtime_us(c.mtime_ns) for c in candidates],
        },
        schema={"source_file": pl.String, "disk_size": pl.Int64, "disk_mtime": pl.Int64},
    ).with_columns(pl.from_epoch("disk_mtime", time_unit="us").dt.replace_time_zone("UTC"))
    present = set(on_disk.get_column("source_file").to_list())
    # a row without a source file names no raw file to look for: `null_required` reports it
    staged = frame.filter(pl.col("source_file").is_not_null()).select(
        "run_id", "source_file", "source_size", "source_mtime", "source_sha256", "extraction_rules",
        "proc", "procedure_rules",
    ).join(on_disk, on="source_file", how="left")
    unseen = [source for source in staged.get_column("source_file").to_list() if passed.unseen(source)]
    gone = staged.filter(pl.col("disk_size").is_null() & ~pl.col("source_file").is_in(unseen))
    on_both = staged.filter(pl.col("disk_size").is_not_null())
    stat_changed = (pl.col("disk_size") != pl.col("source_size")) | (pl.col("disk_mtime") != pl.col("source_mtime"))
    registry = registry_digest(config.procedures_file)
    rejected_now = {c.source_file for c in candidates
                    if (r := rejects.get(c.source_file)) and rejected_as_is(c, r, registry)}
    suspects = on_both if hash_all else on_both.filter(stat_changed.fill_null(True))
    suspects = suspects.filter(~pl.col("source_file").is_in(rejected_now))  # broken since staged: a reject, below
    hashes = hash_files(config.raw_root, suspects.get_column("source_file").to_list(), config.workers)
    suspects = suspects.with_columns(disk_sha256=pl.Series(hashes, dtype=pl.String))
    changed = suspects.filter(pl.col("disk_sha256").ne_missing(pl.col("source_sha256")))
    touched = suspects.filter(pl.col("disk_sha256").eq_missing(pl.col("source_sha256")) & stat_changed.fill_null(True))
    older = ~made_by_current_rules(procedure_rules(config.procedures_file))  # as they are, read again by the next stage
    older_rows = on_both.filter(  # not those rejected as they are: no stage reads them (their runs stay)
        older & ~stat_changed.fill_null(True) & ~pl.col("source_file").is_in(rejected_now)
    ).get_column("source_file").to_list()
    older_rejects = [source for source in rejected_now if rejects[source].extraction_rules < EXTRACTION_RULES]
    older_rules = sorted({*older_rows, *older_rejects})
    known = set(frame.get_column("source_file").to_list())
    unstaged = [c.source_file for c in candidates if c.source_file not in known and c.source_file not in rejected_now]
    outstanding = [r for source, r in sorted(rejects.items()) if source in present]
    stale = sorted(source for source in rejects if source not in present and not passed.unseen(source))
    findings += [
        *_finding(FindingCode.RAW_MISSING, "warning", "staged runs whose raw file is gone",
                  gone.get_column("source_file").to_list(),
                  "restore the raw file if it was moved by mistake (the staged copy is kept either way); "
                  "`labtui prune` lists the runs to drop, `labtui prune --yes` drops them"),
        *_finding(FindingCode.RAW_CHANGED, "warning", "raw files whose content changed since staging",
                  changed.get_column("source_file").to_list(),
                  # found by hashing alone (their size and time as staged): a fix without --hash would not see them
                  f"re-stage them (`labtui validate {'--hash ' if hash_all else ''}--fix`)",
                  changed.get_column("source_file").to_list()),
        *_finding(FindingCode.RAW_TOUCHED, "info",
                  "raw files touched since staging (size or mtime changed, content identical)",
                  touched.get_column("source_file").to_list(),
                  "`labtui stage` (or `labtui validate --fix`) records their new size and mtime; their runs stay as "
                  "they are"),
        *_finding(FindingCode.RAW_OLDER_RULES, "info",
                  "raw files read by older rules (an older labtui's extraction rules, or a registry entry "
                  "edited since)", older_rules,
                  "`labtui stage` (or `labtui validate --fix`) reads them again", older_rules),
        *_finding(FindingCode.RAW_NEW, "warning", "raw files not staged yet (new, or rejected and edited since)",
                  unstaged,
                  "stage them (`labtui stage` or `labtui validate --fix`)"),
        *_finding(FindingCode.REJECTS, "warning", "rejected raw files",
                  [r.headline() for r in outstanding],
                  "fix the file and run `labtui restage FILE`, or leave it if it is not a run"),
        *_finding(FindingCode.REJECTS_STALE, "info", "reject records of raw files that no longer exist", stale,
                  "`labtui stage` (or `--fix`) drops them"),
        *_finding(FindingCode.RAW_NOT_REGULAR, "info", "entries named .csv that are not files (a pipe, a socket, a "
                  "device): never read", sorted(passed.not_regular),
                  "replace each with the measurement file it stands for, or remove it"),
        *_finding(FindingCode.RAW_FOLDER_LINK, "warning", "links to folders in the raw tree: never followed, so no "
                  "run in them is staged", sorted(passed.folder_links),
                  "move or copy the folder itself into the raw tree (labtui follows no links), or remove the link"),
        *_finding(FindingCode.RAW_UNLISTED, "warning", "folders in the raw tree that cannot be listed: their files "
                  "were not checked, nor staged",
                  list(passed.unlisted_named(config.raw_root).values()), _unlisted_fix(passed)),
    ]
    return findings, present, {"raw_files": len(candidates), "rejects": len(outstanding), "hashed": len(hashes)}


def hash_files(raw_root: Path, sources: list[str], workers: int) -> list[str | None]:
    """SHA-256 of raw files (None when unreadable); threads, as hashlib releases the GIL on large buffers."""

    def digest(source: str) -> str | None:
        try:
            with open(source_path(raw_root, source), "rb") as handle:
                return hashlib.file_digest(handle, "sha256").hexdigest()
        except OSError:
            return None

    if len(sources) < 8:
        return [digest(source) for source in sources]
    with ThreadPoolExecutor(workers, thread_name_prefix="labtui-hash") as pool:
        return list(pool.map(digest, sources))


def _unlisted_fix(passed: PassedOver) -> str:
    """What makes the unlisted folders listable, by why they were not: a path too long is no permission problem
    (`chmod` was the advice for both)."""
    reasons = {error.errno for error in passed.unlisted.values()}
    fixes = []
    if reasons & {errno.EACCES, errno.EPERM}:
        fixes.append("give the user running labtui read access to them (chmod, chown)")
    if errno.ENAMETOOLONG in reasons:
        fixes.append("shorten their paths (longer than the system allows)")
    if reasons - {errno.EACCES, errno.EPERM, errno.ENAMETOOLONG}:
        fixes.append("check them (the reason is after each)")
    return f"{', '.join(fixes)}, or move their files out"
