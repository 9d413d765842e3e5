"""Crash recovery: what an interrupted writer can leave in the store, and its removal.

The stager sweeps when it finds the `.dirty` marker of a writer that did not finish (see the protocol in
commit.py); `labtui validate --fix` moves orphan run folders to the quarantine under the writer lock.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

from labtui.core import faults
from labtui.core.atomic import is_temp
from labtui.core.config import StagingConfig
from labtui.core.layout import PART_NAME, addresses_a_run, run_dir
from labtui.core.parquet_footer import read_run_record
from labtui.core.quarantine import quarantine
from labtui.core.scan import files_under
from labtui.core.store import DIRTY_MARKER

if TYPE_CHECKING:
    import polars as pl


def sweep_store(config: StagingConfig) -> list[Path]:
    """Remove leftovers of an interrupted writer: temp files, and the run folders it published that the manifest
    does not reference (those staged before it marked the store are set aside instead: `_clear_orphan_runs`)."""
    try:
        marked = dt.datetime.fromtimestamp(os.stat(config.manifest_dir / DIRTY_MARKER).st_mtime, dt.UTC)
    except OSError:
        marked = None
    removed: list[Path] = []
    for folder in (config.stage_root, config.manifest_dir, config.rejects_dir):
        for _, entry in files_under(folder):
            if is_temp(entry.name):
                Path(entry.path).unlink(missing_ok=True)
                removed.append(Path(entry.path))
                faults.point("during_sweep")
    removed.extend(_clear_orphan_runs(config, marked))
    return removed


def orphan_run_dirs(config: StagingConfig, manifest: pl.DataFrame | None = None) -> list[Path]:
    """Run folders under the stage root that no manifest row points to; a row that `addresses_a_run` not (a hand
    edit) points to none."""
    from labtui.core.manifest import read_manifest

    manifest = read_manifest(config.manifest_path) if manifest is None else manifest
    rows = manifest.filter(addresses_a_run()).select("run_id", "proc", "date_local")
    referenced = {run_dir(config.stage_root, proc, date_local, run_id) for run_id, proc, date_local in rows.iter_rows()}
    return [folder for folder in sorted(config.stage_root.glob("proc=*/date=*/run_id=*")) if folder not in referenced]


def _clear_orphan_runs(config: StagingConfig, marked: dt.datetime | None) -> list[Path]:
    """Delete the orphan run folders the interrupted writer made (their records were staged after it marked the
    store dirty at `marked`, or they are empty: its workers make them before the commit fills them); move the others
    to the quarantine: a run staged earlier that the manifest does not name is not this writer's debris (its
    manifest was deleted, say), and its record could still restore it. Returns the folders deleted."""
    debris: list[Path] = []
    older: list[Path] = []
    for folder in orphan_run_dirs(config):  # one pass: a large stage cut short leaves thousands
        (debris if _empty_folder(folder) or _staged_since(folder / PART_NAME, marked) else older).append(folder)
    quarantine(config, older, "runs-older-than-a-crash")
    for folder in debris:
        shutil.rmtree(folder, ignore_errors=True)
        faults.point("during_sweep")
    for folder in config.stage_root.glob("proc=*/date=*"):
        if folder.is_dir() and not any(folder.iterdir()):
            folder.rmdir()
    return debris


def _empty_folder(path: Path) -> bool:
    try:
        return not path.is_symlink() and not any(path.iterdir())
    except OSError:  # a file in a run folder's place: not a folder a worker made
        return False


def _staged_since(path: Path, marked: dt.datetime | None) -> bool:
    """Whether the run's record says it was staged at or after `marked` (False without a record or a time)."""
    record = read_run_record(path) or {}
    try:
        return marked is not None and dt.datetime.fromisoformat(record["staged_at_utc"]) >= marked
    except (TypeError, KeyError, ValueError):  # no record, or a tampered one
        return False
