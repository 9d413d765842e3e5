"""Crash recovery: what an interrupted writer can leave in the store, and its removal.

The stager sweeps when it finds the `.dirty` marker of a writer that did not finish (see the protocol in
commit.py); `labtui validate --fix` removes orphan run folders under the writer lock.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

from labtui.core import faults
from labtui.core.atomic import is_temp
from labtui.core.config import StagingConfig
from labtui.core.layout import run_dir

if TYPE_CHECKING:
    import polars as pl


def sweep_store(config: StagingConfig) -> list[Path]:
    """Remove leftovers of an interrupted writer: temp files, and run folders the manifest does not reference."""
    removed: list[Path] = []
    for folder in (config.stage_root, config.manifest_dir, config.rejects_dir):
        if folder.is_dir():
            for root, _dirs, files in os.walk(folder):
                for name in files:
                    if is_temp(name):
                        (Path(root) / name).unlink(missing_ok=True)
                        removed.append(Path(root) / name)
                        faults.point("during_sweep")
    removed.extend(remove_orphan_runs(config))
    return removed


def orphan_run_dirs(config: StagingConfig, manifest: pl.DataFrame | None = None) -> list[Path]:
    """Run folders under the stage root that no manifest row points to."""
    from labtui.core.manifest import read_manifest

    manifest = read_manifest(config.manifest_path) if manifest is None else manifest
    referenced = {
        run_dir(config.stage_root, proc, date_local, run_id)
        for run_id, proc, date_local in manifest.select("run_id", "proc", "date_local").iter_rows()
    }
    return [folder for folder in sorted(config.stage_root.glob("proc=*/date=*/run_id=*")) if folder not in referenced]


def remove_orphan_runs(config: StagingConfig) -> list[Path]:
    orphans = orphan_run_dirs(config)
    for folder in orphans:
        shutil.rmtree(folder, ignore_errors=True)
        faults.point("during_sweep")
    for folder in config.stage_root.glob("proc=*/date=*"):
        if folder.is_dir() and not any(folder.iterdir()):
            folder.rmdir()
    return orphans
