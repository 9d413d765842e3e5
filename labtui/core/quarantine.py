"""Moving things out of the dataset without deleting them: `<store>/_quarantine/<UTC time>-<why>/…`.

The stage root must hold nothing but the runs' Parquet: one stray file (`notes.txt`, a copied `junk.parquet`) makes
every directory-scan reader (DuckDB, Spark, `pl.scan_parquet`) fail or read wrong rows. Whatever labtui takes out of
the dataset (strangers in the stage root, runs dropped on request, folders a repair cannot vouch for) goes to the
quarantine folder, keeping its path relative to the store, so the lab can look at it and delete it themselves.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from pathlib import Path

from labtui.core.atomic import is_temp
from labtui.core.config import StagingConfig
from labtui.core.errors import OperationFailed
from labtui.core.layout import PART_NAME
from labtui.core.scan import files_under

QUARANTINE_DIR = "_quarantine"
_RUN_PART = re.compile(rf"^proc=[^/]+/date=[^/]+/run_id=[^/]+/{re.escape(PART_NAME)}$")


def quarantine_root(config: StagingConfig) -> Path:
    return config.store_root / QUARANTINE_DIR


def foreign_files(config: StagingConfig) -> list[str]:
    """Files in the stage root (relative, sorted) that are not a run's Parquet where the layout puts one.

    A writer's hidden temp files are left to the writer's own recovery; run folders the manifest does not
    reference are a finding of their own (orphans), so only the layout is checked here. A symlink is a stranger
    too, never followed.
    """
    return sorted(rel for rel, entry in files_under(config.stage_root)
                  if not is_temp(entry.name) and not _RUN_PART.match(rel))


STAMP_FORMAT = "%Y%m%dT%H%M%S.%fZ"  # a quarantine folder is named <when, UTC>-<why>
REPLACED_RUNS = "replaced-runs"  # the why of the runs a stage replaced by a run of another run_id from their file


def quarantine(config: StagingConfig, paths: list[Path], why: str) -> Path | None:
    """Move `paths` (inside the store) into a new quarantine folder, keeping their paths relative to the store;
    returns the folder (None when there was nothing to move). Empty folders left behind in the stage root go."""
    if not paths:
        return None
    stamp = dt.datetime.now(dt.UTC).strftime(STAMP_FORMAT)
    target_root = quarantine_root(config) / f"{stamp}-{why}"
    for path in paths:
        target = target_root / path.relative_to(config.store_root)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(path, target)
        except OSError as exc:
            raise OperationFailed("move into the quarantine folder", path, exc) from exc
        _remove_empty_parents(path.parent, config.stage_root)
    return target_root


def _remove_empty_parents(folder: Path, stop: Path) -> None:
    while folder != stop and stop in folder.parents:
        try:
            folder.rmdir()
        except OSError:
            return  # not empty (or gone): stop climbing
        folder = folder.parent
