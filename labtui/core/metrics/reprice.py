"""Repricing after the lab excludes a calibration or includes it again: `power_w`'s rule passes over excluded ones, so
the lit runs such a calibration priced (and those it was in reach of) change when its exclusion does, at once."""

from __future__ import annotations

from collections.abc import Iterable

import polars as pl

from labtui.core.config import StagingConfig
from labtui.core.errors import LabtuiError, first_line
from labtui.core.manifest import read_manifest
from labtui.core.metrics.table import previous_table, refresh_metrics
from labtui.core.registry import family_expr
from labtui.core.wording import counted

_COMPARED = ("run_id", "calibration_run_id", "calibration_set")


def reprice_after(config: StagingConfig, run_ids: Iterable[str]) -> str | None:
    """After runs were excluded or included again (an annotation, its undo, annotations re-attached): when one is a
    calibration, the table updated at once (the lit runs it priced take the next nearest, or it prices them again)
    and a line that says what changed; None when none is a calibration, or no table is written yet (the stage that
    writes it reads the exclusions)."""
    if not config.metrics_path.exists():
        return None
    changed = read_manifest(config.manifest_path).filter(
        pl.col("run_id").is_in(list(run_ids)), family_expr(config.procedures_file) == "LaserCalibration")
    if changed.is_empty():
        return None
    before = previous_table(config).select(_COMPARED)
    try:
        update = refresh_metrics(config)
    except LabtuiError as error:  # the lock held past its timeout: the annotation stands, the table is behind
        return f"power_w not repriced ({first_line(error)}): `labtui metrics` reprices"
    return "; ".join([_what_changed(before, update.table.select(_COMPARED), changed["run_id"]), *update.problems])


def _what_changed(before: pl.DataFrame, after: pl.DataFrame, calibrations: pl.Series) -> str:
    """`power_w repriced: 31 lit It runs (31 by it again)`, and the runs whose calibrations in reach changed alone
    (their `calibration_spread` redone)."""
    joined = after.join(before, on="run_id", how="left", suffix="_before")
    moved = joined.filter(pl.col("calibration_run_id").ne_missing(pl.col("calibration_run_id_before")))
    reach = joined.filter(pl.col("calibration_run_id").eq_missing(pl.col("calibration_run_id_before")),
                          pl.col("calibration_set").ne_missing(pl.col("calibration_set_before"))).height
    it = "it" if calibrations.len() == 1 else "them"
    again = moved.filter(pl.col("calibration_run_id").is_in(calibrations.implode())).height
    unpriced = moved.filter(pl.col("calibration_run_id").is_null()).height
    parts = [f"{count} {how}" for count, how in ((again, f"by {it} again"),
                                                  (moved.height - again - unpriced, "by another calibration"),
                                                  (unpriced, "by none")) if count]
    line = (f"power_w repriced: {counted(moved.height, 'lit It run')} ({', '.join(parts)})" if parts
            else f"power_w: no lit It run priced by {it}, none repriced")
    if reach:
        line += f"; calibration_spread redone for {counted(reach, 'run')} {it} was in reach of"
    return line
