"""Repricing after the lab excludes a calibration or includes it again: `power_w`'s rule passes over excluded ones, so
the lit runs such a calibration priced (and those it was in reach of) change when its exclusion does, at once."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

import polars as pl

from labtui.core.config import StagingConfig
from labtui.core.errors import LabtuiError, first_line
from labtui.core.manifest import read_manifest
from labtui.core.metrics.schema import MetricsDamaged, read_metrics
from labtui.core.metrics.table import update_metrics
from labtui.core.registry import family_expr
from labtui.core.wording import counted

REPRICE_WAIT_S = 10.0  # for a stage in progress to release the lock: then `labtui metrics` reprices (the app's exit,
# a command's prompt, never wait the lock's whole timeout on it)
_COMPARED = ("run_id", "calibration_run_id", "power_w", "calibration_set")


def reprice_after(config: StagingConfig, run_ids: Iterable[str]) -> str | None:
    """After runs were excluded or included again (an annotation, its undo, annotations re-attached): when one is a
    calibration, the table updated at once under the writer lock (the lit runs it priced take the next nearest, or it
    prices them again) and a line that says what changed; None when none is a calibration, or no table is written
    yet (the stage that writes it reads the exclusions)."""
    from labtui.core.store import StoreReadOnly, lock_store

    if not config.metrics_path.exists():
        return None
    changed = read_manifest(config.manifest_path).filter(
        pl.col("run_id").is_in(list(run_ids)), family_expr(config.procedures_file) == "LaserCalibration")
    if changed.is_empty():
        return None
    try:
        lock = lock_store(replace(config, lock_timeout_seconds=min(config.lock_timeout_seconds, REPRICE_WAIT_S)))
    except StoreReadOnly as error:
        return f"power_w not repriced: {first_line(error)}"
    except LabtuiError as error:  # the lock held past the wait: the annotation stands, the table is behind
        return f"power_w not repriced ({first_line(error)}): `labtui metrics` reprices"
    try:
        try:
            before = read_metrics(config).select(_COMPARED)  # under the lock: a stage's new runs are not "repriced"
        except MetricsDamaged:
            update = update_metrics(config)
            return "; ".join(["power_w repriced: the metrics table was damaged, and is computed anew",
                              *update.problems])
        update = update_metrics(config)
    finally:
        lock.release()
    return "; ".join([_what_changed(before, update.table.select(_COMPARED), changed["run_id"]), *update.problems])


def _what_changed(before: pl.DataFrame, after: pl.DataFrame, calibrations: pl.Series) -> str:
    """`power_w repriced: 31 lit It runs (31 by it again)`, and the runs whose calibrations in reach changed alone
    (their `calibration_spread` redone)."""
    joined = after.join(before, on="run_id", how="left", suffix="_before")
    # by another calibration, or priced where it was not (or the other way): a run its nearest calibration cannot
    # price keeps that one's run_id beside a null power
    moved_expr = pl.col("calibration_run_id").ne_missing(pl.col("calibration_run_id_before")) | (
        pl.col("power_w").is_null() != pl.col("power_w_before").is_null())
    moved = joined.filter(moved_expr)
    reach = joined.filter(~moved_expr, pl.col("calibration_set").ne_missing(pl.col("calibration_set_before"))).height
    it = "it" if calibrations.len() == 1 else "them"
    unpriced = moved.filter(pl.col("power_w").is_null()).height
    again = moved.filter(pl.col("power_w").is_not_null(), pl.col("calibration_run_id").is_in(calibrations.implode())
                         ).height
    parts = [f"{count} {how}" for count, how in ((again, f"by {it} again"),
                                                  (moved.height - again - unpriced, "by another calibration"),
                                                  (unpriced, "by none")) if count]
    line = (f"power_w repriced: {counted(moved.height, 'lit It run')} ({', '.join(parts)})" if parts
            else f"power_w: no lit It run priced by {it}, none repriced")
    if reach:
        line += f"; calibration_spread redone for {counted(reach, 'run')} {it} was in reach of"
    return line
