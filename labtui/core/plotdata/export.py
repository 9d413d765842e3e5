"""Export of what is plotted: a tidy table and a file name that says whose runs they are. The UI writes files."""

from __future__ import annotations

import re

import polars as pl

from labtui.core.metrics.definitions import DOUBT_COLUMNS
from labtui.core.plotdata.labels import chip_names, in_a_row
from labtui.core.plotdata.load import Row
from labtui.core.plotdata.model import PlotSpec

MAX_LISTED = 10  # beyond this many ranges of runs a file name gives the first, the last and a count
_SCHEMA = {"run_id": pl.String, "seq": pl.Int64, "label": pl.String, "x": pl.Float64, "y": pl.Float64}
DIRAC_LABEL = "Dirac point"  # a Dirac point's row's label starts so, then names its sweep leg


def export_frame(spec: PlotSpec) -> pl.DataFrame:
    """One row per plotted point with its run, the axis units and what the axes are (`ΔI` from the baseline, `|I|`
    on a log axis, the time trends' origin): what the figure's axis titles say, so its numbers read alone; a
    log–log trend's values signed, as the metrics table has them (its axis draws |ΔI|).

    Shape with `width=None` first to export every point rather than the downsampled view.
    """
    frames = [  # a log–log trend's |y| with its sign again: the CSV holds the quantity, negative where it is
        pl.DataFrame({"run_id": s.point_run_ids or s.run_id, "seq": s.point_seqs or s.seq, "label": s.label,
                      "x": s.x, "y": s.y * (s.sign or 1)}, schema=_SCHEMA)
        for s in spec.series
    ]
    signed = any(s.sign for s in spec.series)
    # the Dirac points the figure marks, a row each after the curves (the figure could not be rebuilt from its CSV)
    seqs = {s.run_id: s.seq for s in spec.series}
    frames += [pl.DataFrame([(m.run_id, seqs.get(m.run_id), f"{DIRAC_LABEL}, {m.leg}", m.x, m.y) for m in spec.markers],
                            schema=_SCHEMA, orient="row")]
    points = pl.concat([pl.DataFrame(schema=_SCHEMA), *frames]).with_columns(
        x_unit=pl.lit(spec.x_unit), y_unit=pl.lit(spec.y_unit), x_label=pl.lit(spec.x_label),
        y_label=pl.lit(spec.y_label.strip("|") if signed else spec.y_label),
    )
    # beside each point of a lit trend: what makes it in doubt, which the warnings count and the figure rings
    doubts = [name for name in DOUBT_COLUMNS if name in spec.runs.columns and spec.runs[name].is_not_null().any()]
    # and, where excluded runs are drawn (X, --include-excluded), which they are and why: they look like the others
    if "excluded" in spec.runs.columns and spec.runs["excluded"].fill_null(False).any():
        doubts += ["excluded", "exclude_reason"]
    # a trend's point is a run: when it was measured (a trend by seq, or one of hours since a date, gave no date)
    when = ["date_local", "start_time_utc"] if spec.points and "start_time_utc" in spec.runs.columns else []
    if doubts or when:
        points = points.join(spec.runs.select("run_id", *when, *doubts), on="run_id", how="left",
                             maintain_order="left")
    return points


def export_file_name(spec: PlotSpec, suffix: str = ".csv") -> str:
    """`Alisson67_It_seq3-5+9.csv` (runs 3, 4, 5 and 9); runs outside a chip history (calibrations) are named by
    date and index."""
    rows = spec.runs.to_dicts()
    chips = chip_names(rows)
    stem = "_".join([*(["+".join(chips)] if chips else []), spec.kind, _run_part(rows)])
    return re.sub(r"[^A-Za-z0-9._+-]", "_", stem) + suffix


def _run_part(rows: list[Row]) -> str:
    seqs: list[int] = [row["seq"] for row in rows if row.get("seq") is not None]
    if rows and len(seqs) == len(rows):
        return "seq" + _numbers(seqs)
    dates = sorted({str(row["date_local"]) for row in rows})
    if len(dates) == 1:
        return f"{dates[0]}_idx" + _numbers([row["file_idx"] for row in rows])
    return f"{dates[0]}_to_{dates[-1]}_{len(rows)}runs" if dates else "no-runs"


def _numbers(values: list[int]) -> str:
    """`3-5+9`: runs in a row as a range, the ranges joined by `+` (`7-9` had named runs 7 and 9, 8 not among
    them); past MAX_LISTED ranges, the first, the last and how many."""
    ranges = in_a_row(values)
    if len(ranges) <= MAX_LISTED:
        return "+".join(str(r[0]) if len(r) == 1 else f"{r[0]}-{r[-1]}" for r in ranges)
    return f"{ranges[0][0]}to{ranges[-1][-1]}_{len(set(values))}runs"
