"""A chip's trends: one point per run, from the metrics table, in the same `PlotSpec` the run plots use.

    rows = trend_rows(runs, metrics, annotations)          # once per chip
    spec = trend_spec(Trend.CNP, rows, tz=config.local_tz)  # cheap, on every switch

`runs` are the chip's manifest rows with their `seq` (`selection.chip_runs`), `metrics` the table of
`labtui.core.metrics.read_metrics`, `annotations` the store's `current_annotations`. Every point keeps its run
(`Series.point_run_ids`, `point_seqs`, so the CSV export names it); a run whose quantity is null is left out and
counted in the spec's messages, never interpolated; excluded runs are hidden and counted unless asked for.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from enum import StrEnum
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import polars as pl

from labtui.core.annotations import AnnotationFilter, hidden_note, with_annotations
from labtui.core.metrics.arrays import median
from labtui.core.metrics.definitions import DOUBT_COLUMNS, DOUBTS, IN_DOUBT
from labtui.core.plotdata.labels import TITLE_PARTS, chip_names
from labtui.core.plotdata.load import drawable_rows, left_out
from labtui.core.plotdata.loglog import LAWS, by_sign, fitted
from labtui.core.plotdata.model import PlotSpec, Series
from labtui.core.plotdata.numeric import log_middle, max_abs
from labtui.core.registry import family_expr
from labtui.core.si import format_si, si_scale
from labtui.core.wording import counted

TIME = "time"  # the x column of the time trends: local start time, made relative below
# their x axis drawn against the runs' order instead (`trend_spec(by_seq=True)`): a chip measured in sessions weeks
# apart has each session's runs, and their drift within it, squeezed into one vertical smear on a time axis
BY_SEQ = "run (seq)"
HOURS_UP_TO_DAYS = 2  # a history shorter than this many days reads in hours, a longer one in days
# A line against time breaks across a gap longer than this share of its span and this many of its median steps:
# weeks without a measurement drawn as a straight line read as a measured drift.
GAP_SHARE, GAP_STEPS = 0.1, 5


class Trend(StrEnum):
    CNP = "cnp"  # Dirac point of each IVg run (forward and backward legs) against time
    HYSTERESIS = "hysteresis"  # backward minus forward Dirac point of each IVg run against time
    PHOTORESPONSE = "photoresponse"  # ΔI of each lit It run against its irradiated power, one series per λ
    RESPONSIVITY = "responsivity"  # the same as responsivity (ΔI / P)
    SPECTRAL = "spectral"  # responsivity against wavelength
    DARK = "dark"  # dark current of each It run against time


@dataclass(frozen=True)
class _Plan:
    """What one trend draws: a procedure's rows, an x and a y column, and how the points split into series."""

    title: str
    proc: str
    x: str
    x_label: str
    x_unit: str
    ys: tuple[tuple[str, str], ...]  # (metrics column, series label) — several for CNP forward/backward
    y_label: str
    y_unit: str
    by_wavelength: bool = False
    lit_only: bool = False
    joined: bool = True
    prefixed: bool = True  # the y unit takes an SI prefix (µA, nA); a gate voltage stays in V


PLANS: dict[Trend, _Plan] = {
    Trend.CNP: _Plan("Dirac point against time", "IVg", TIME, "", "",
                     (("cnp_fwd_v", "CNP forward"), ("cnp_bwd_v", "CNP backward")), "V_CNP", "V", prefixed=False),
    Trend.HYSTERESIS: _Plan("hysteresis against time", "IVg", TIME, "", "", (("hysteresis_v", "hysteresis"),),
                            "hysteresis", "V", prefixed=False),  # a longer title took the terminal's x title's line
    Trend.PHOTORESPONSE: _Plan("photoresponse against power", "It", "power_w", "P", "W",
                               (("delta_i_a", "ΔI"),), "ΔI", "A", by_wavelength=True, lit_only=True),
    Trend.RESPONSIVITY: _Plan("responsivity against power", "It", "power_w", "P", "W",
                              (("responsivity_a_per_w", "R"),), "R", "A/W", by_wavelength=True, lit_only=True),
    Trend.SPECTRAL: _Plan("spectral response", "It", "laser_wavelength_nm", "λ", "nm",
                          (("responsivity_a_per_w", "R, every power"),), "R", "A/W", lit_only=True, joined=False),
    Trend.DARK: _Plan("dark current against time", "It", TIME, "", "", (("i_dark_a", "I dark"),), "I dark", "A"),
}


def against_time(trend: Trend | str) -> bool:
    """Whether the trend is drawn against time, and so can be drawn by run instead (`trend_spec(by_seq=True)`)."""
    return PLANS[Trend(trend)].x == TIME


def against_power(trend: Trend | str) -> bool:
    """Whether the trend is drawn against power, and so can be drawn on log–log axes (`trend_spec(log_log=True)`)."""
    return PLANS[Trend(trend)].x == "power_w"


def trend_record(trend: Trend | str, *, include_excluded: bool, by_seq: bool,
                 log_log: bool = False) -> dict[str, object]:
    """What a trend figure's record names, as `labtui plot --from` reads it back: its name and switches (`by_seq`
    and `log` only when set, as records written before them have none)."""
    return {"name": str(Trend(trend)), "include_excluded": include_excluded, **({"by_seq": True} if by_seq else {}),
            **({"log": True} if log_log else {})}


# what an aligned overlay shifts by; the power a lit It run's legend says, and the doubts on it and on the run's ΔI
# (`shape._it_warnings`)
PLOTTED_QUANTITIES = ("cnp_fwd_v", "power_w", *DOUBT_COLUMNS)


def with_plotted_quantities(runs: pl.DataFrame, metrics: pl.DataFrame) -> pl.DataFrame:
    """`runs` with each IVg run's forward-leg Dirac point (`cnp_fwd_v`) and each lit It run's irradiated power
    (`power_w`, said beside its laser voltage: a legend of VL alone made the reader price it), and the columns of the
    doubts on that power and on the run's ΔI (`DOUBT_COLUMNS`), which the figure's warnings count and its CSV
    carries (an It figure of runs under 5σ said nothing of it)."""
    return runs.drop(PLOTTED_QUANTITIES, strict=False).join(
        metrics.select("run_id", *PLOTTED_QUANTITIES), on="run_id", how="left", maintain_order="left"
    )


def trend_rows(runs: pl.DataFrame, metrics: pl.DataFrame, annotations: pl.DataFrame) -> pl.DataFrame:
    """The chip's runs joined with their metrics and annotations: read once per chip, so switching trends (or
    showing excluded runs) only re-shapes these rows."""
    quantities = metrics.drop([c for c in metrics.columns if c in runs.columns and c != "run_id"])
    return with_annotations(runs.join(quantities, on="run_id", how="left"), annotations)


def trend_spec(trend: Trend | str, rows: pl.DataFrame, *, include_excluded: bool = False, tz: str,
               procedures_file: Path | None = None, by_seq: bool = False, log_log: bool = False, reveal: str = "",
               whose: str = "the chip has") -> PlotSpec:
    """The trend of `trend_rows`' output: points in axis units; excluded runs of the trend's procedure hidden
    unless `include_excluded`, and they and the runs without the quantity counted in `messages`. A run of a
    procedure like the trend's (IVgT like IVg, in `procedures_file`'s registry) is one of its runs. `by_seq`: a
    trend against time drawn against the runs' seq instead (`BY_SEQ`). `log_log`: a trend against power drawn as
    |y| on log–log axes, each series' points of each sign apart and its power law fitted (`loglog`). `reveal`: how
    the caller draws the excluded runs too (`--include-excluded draws them`), said beside their count. `whose`: the
    runs given, as the note that none is of the trend's procedure names them (`seq 1-3 hold`)."""
    trend = Trend(trend)
    plan = PLANS[trend]
    chip_rows = rows
    if by_seq and not against_time(trend):
        raise ValueError(f"the {trend} trend is not drawn against time: it has no run-order axis")
    if log_log and not against_power(trend):
        raise ValueError(f"the {trend} trend is not drawn against power: it has no log–log axes")
    chips = chip_names(rows.head(1).to_dicts())
    rows = rows.filter(family_expr(procedures_file) == plan.proc)
    if plan.lit_only:
        rows = rows.filter(pl.col("has_light").fill_null(False))
    rows, hidden = AnnotationFilter(include_excluded=include_excluded).apply(rows)
    messages = [", ".join(filter(None, (note, reveal)))] if (note := hidden_note(hidden)) else []
    if rows.is_empty() and not hidden:
        messages.append(f"{whose} no {'lit ' if plan.lit_only else ''}{plan.proc} run")
    x, x_label, x_unit = plan.x, plan.x_label, plan.x_unit
    dates_from: tuple[str, ...] = ()
    if plan.x == TIME:
        rows, x_label, x_unit, dates_from = _local_time(rows, chip_rows, tz)
        if by_seq:
            x, x_label, x_unit = "seq", BY_SEQ, ""
    series: list[Series] = []
    doubted: list[tuple[float, float]] = []
    excluded: list[tuple[float, float]] = []
    used: set[str] = set()
    keys = _series_keys(rows, plan)
    groups = rows.partition_by(keys, maintain_order=True) if keys else [rows]
    # (a partition is never empty: its first row orders it)
    groups.sort(key=lambda frame: tuple((frame[key][0] is None, frame[key][0]) for key in keys))
    for column, label in plan.ys:
        for group in groups:
            if group.is_empty():
                continue
            points, absurd = drawable_rows(group.drop_nulls([plan.x, x, column]).sort(x, "seq"), x, column)
            parts = [_SERIES_NAMES[key](group[key][0]) for key in keys]
            name = ", ".join([label, *parts] if parts and len(plan.ys) > 1 else parts) or label
            if absurd:
                messages.append(f"{name}: {left_out(absurd)}")
            if points.is_empty():
                continue
            used.update(points["run_id"])
            if plan.lit_only:
                doubted += points.filter(IN_DOUBT).select(x, column).rows()
            excluded += points.filter(pl.col("excluded")).select(x, column).rows()
            series.append(Series(
                label=name, x=points[x].to_numpy().astype(float), y=points[column].to_numpy().astype(float),
                run_id="", seq=None, run_index=len(series), direction=-1 if column == "cnp_bwd_v" else 0,
                point_run_ids=tuple(points["run_id"]), point_seqs=tuple(points["seq"]),
                breaks=_breaks(points, plan),
            ))
        messages += _missing(rows, plan, column)
    quantity = plan.ys[0][1]
    if log_log:
        series, zeros = by_sign(series, quantity)
        messages += zeros
        used = {run for s in series for run in s.point_run_ids}  # not a run whose value was 0
        doubted, excluded = ([(x, abs(y)) for x, y in points if y] for points in (doubted, excluded))
    if plan.x == "power_w":  # power is the one x that needs a prefix (µW, mW)
        x_factor, x_prefix = si_scale(max_abs([s.x for s in series]))
        x_unit = x_prefix + x_unit
    else:
        x_factor = 1.0
    # gate voltages in V on every chip: one chip's V_CNP axis read mV and another's V, side by side on a slide; a
    # log axis's prefix from the middle of its decades, as a run plot's (`shape`)
    y_factor, y_prefix = si_scale((log_middle if log_log else max_abs)([s.y for s in series])) if plan.prefixed \
        else (1.0, "")
    series = [_scaled(s, x_factor, y_factor) for s in series]
    plotted = rows.filter(pl.col("run_id").is_in(list(used))).sort("seq")
    # each kind of doubt: its points are ringed (`IN_DOUBT`)
    warnings = [f"{counted(count, 'point')} {doubt.of_points}" for doubt in DOUBTS
                if plan.lit_only and (count := plotted.filter(doubt.holds).height)]
    if plan.x == "laser_wavelength_nm":  # first, after the runs left out (which the app's 4-line box must show)
        at = 1 if note else 0
        messages[at:at] = _spectral_notes(plotted)
    # fitted in axis units: the line is drawn in them, and α is the same in any
    # excluded runs drawn (`include_excluded`) crossed out, and left out of each fit
    aside = frozenset(rows.filter(pl.col("excluded").fill_null(False))["run_id"]) if include_excluded else frozenset()
    series, fits = fitted(series, quantity, aside) if log_log else (series, [])
    return PlotSpec(
        kind=f"trend-{trend}",
        title=TITLE_PARTS.join([*chips, plan.title.replace("against time", "by run") if by_seq else plan.title,
                                *(_powers(plotted) if plan.x == "laser_wavelength_nm" else [])]),
        x_label=x_label,
        x_unit=x_unit,
        y_label=f"|{plan.y_label}|" if log_log else plan.y_label,
        y_unit=y_prefix + plan.y_unit,
        log_y=log_log,
        series=tuple(series),
        markers=(),
        spans=(),
        warnings=tuple(warnings),
        messages=tuple(messages),
        runs=plotted,
        points=True,
        hidden=hidden,
        # a line through one series in x order reads as a curve; where an x repeats (runs at one power on several
        # days) it would draw vertical zig-zags between them: markers only; on log–log axes the fitted power law is
        # the line through them
        joined=plan.joined and not log_log and all(np.unique(s.x).size == s.x.size for s in series),
        doubted=tuple((x * x_factor, y * y_factor) for x, y in doubted),
        excluded=tuple((x * x_factor, y * y_factor) for x, y in excluded),
        integer_x=x == "seq",
        sessions=_sessions(plotted) if x == "seq" else (),
        dates_from=dates_from if x == TIME else (),
        log_x=log_log,
        fit_law=LAWS[quantity] if log_log else "",
        fits=tuple(fits),
    )


POWERS_APART = 1.5  # a spectral trend whose points' powers span this factor or more says so: R depends on power


def _spectral_notes(plotted: pl.DataFrame) -> list[str]:
    """What a spectral trend cannot show, first among its notes (at 80×24 the notes past four lines scroll out of
    sight): a spectrum of one wavelength is no spectrum (nothing to compare, so its powers go unsaid); else a note
    when its points were measured at powers POWERS_APART or more apart: a graphene photoresponse is sublinear in power
    (at one chip and VG, R fell from 0.51 to 0.17 A/W from 6 to 30 µW), so a wavelength measured at more powers
    spreads, and one measured at another power shifts."""
    if (measured := plotted["laser_wavelength_nm"].drop_nulls().unique()).len() == 1:
        return [f"every point at {measured[0]:g} nm: a spectral response needs lit runs at two wavelengths or more"]
    if (powers := _power_range(plotted)) is None or not 0 < powers[0] * POWERS_APART <= powers[1]:
        return []
    low, high = (format_si(power, "W", zeros=True) for power in powers)
    return [f"R at powers from {low} to {high}: it depends on power (the responsivity trend shows how), so compare "
            "wavelengths at one power"]


def _powers(plotted: pl.DataFrame) -> list[str]:
    """A spectral trend's powers, in its title: a figure of R against λ said at what power only in the notes
    (stderr), and R depends on power."""
    if (powers := _power_range(plotted)) is None:
        return []
    low, high = (format_si(power, "W", zeros=True) for power in powers)  # a range's dash, not `…`: a title cut
    return [f"P={low}" if low == high else f"P {low} – {high}"]  # short ends with that


def _power_range(plotted: pl.DataFrame) -> tuple[float, float] | None:
    """The least and the largest power the points were measured at; None where none was priced."""
    low, high = plotted["power_w"].min(), plotted["power_w"].max()
    return (low, high) if isinstance(low, float) and isinstance(high, float) else None


SESSION_LABELS = 12  # a trend by run marks each measuring day up to this many, else only those after a long pause


def _sessions(plotted: pl.DataFrame) -> tuple[tuple[float, str], ...]:
    """Where each measuring day starts on a trend by run (between the runs either side), with its date: by seq, a
    pause of days read as one step, and nothing said when anything was measured. Past SESSION_LABELS days, only the
    days after a long pause (`gaps`)."""
    timed = plotted.drop_nulls([TIME, "date_local"]).sort("seq")
    if timed.is_empty():
        return ()
    seqs, days = timed["seq"].to_numpy().astype(float), timed["date_local"].to_list()
    starts = [0, *(k for k in range(1, len(days)) if days[k] != days[k - 1])]
    if len(starts) > SESSION_LABELS:
        starts = [0, *gaps(timed[TIME].to_numpy())]
    return tuple(((seqs[k - 1] + seqs[k]) / 2 if k else seqs[0] - 0.5, f"{days[k]:%Y-%m-%d}") for k in starts)


def _breaks(points: pl.DataFrame, plan: _Plan) -> tuple[int, ...]:
    """Where a series' line stops: across a long pause (`gaps`, in either axis of a time trend), and on both sides of
    an excluded run's point drawn (`--include-excluded`): the line ran through it, and the eye read the crossed-out
    point as part of the trend."""
    pauses = gaps(points[TIME].to_numpy()) if plan.x == TIME else ()
    apart = np.flatnonzero(points["excluded"].fill_null(False).to_numpy())
    if not apart.size:
        return pauses
    around = {int(at) + side for at in apart for side in (0, 1)}
    return tuple(sorted((set(pauses) | around) & set(range(1, points.height))))


def gaps(x: np.ndarray) -> tuple[int, ...]:
    """Where a line against time stops: before each point that follows the one before it by more than
    `GAP_SHARE` of the span and `GAP_STEPS` median steps (`median`: `np.median` imported numpy.ma, 20 ms of the
    app's first trend)."""
    steps = np.diff(x)
    if steps.size < 2:
        return ()
    long = (steps > GAP_SHARE * float(x[-1] - x[0])) & (steps > GAP_STEPS * median(steps))
    return tuple((np.flatnonzero(long) + 1).tolist())


def thinned(spec: PlotSpec, columns: int, rows: int) -> PlotSpec:
    """The spec with one point per character cell of a `columns` × `rows` terminal plot (a marker fills one), first
    in x order, and points no longer joined once a series has more of them than the plot has columns: what a
    terminal can show of a chip with thousands of runs, drawn fast. For drawing only: the points lose their runs
    (export the full spec)."""
    xs = [s.x for s in spec.series if s.x.size]
    if not xs:
        return spec
    x_all, y_all = np.concatenate(xs), np.concatenate([s.y for s in spec.series if s.x.size])
    dots_x, dots_y = max(columns, 1), max(rows, 1)

    def dot(values: np.ndarray, every: np.ndarray, count: int, log: bool) -> np.ndarray:
        """Each value's cell along an axis of `count` (in logs on a log axis: in values, the lowest decades of a
        log–log trend were one cell)."""
        if log:
            values, every = np.log10(values), np.log10(every)
        low, span = float(every.min()), float(np.ptp(every)) or 1.0
        return np.floor((values - low) / span * (count - 1)).astype(np.int64)

    series = []
    for s in spec.series:
        cells = dot(s.x, x_all, dots_x, spec.log_x) * dots_y + dot(s.y, y_all, dots_y, spec.log_y)
        _, first = np.unique(cells, return_index=True)
        keep = np.sort(first)
        breaks = tuple(dict.fromkeys(np.searchsorted(keep, s.breaks).tolist()))  # before the first point kept after
        series.append(replace(s, x=s.x[keep], y=s.y[keep], point_run_ids=(), point_seqs=(), breaks=breaks))
    # A line through more points than the plot has columns is a scribble, and the costliest thing plotext draws.
    joined = spec.joined and all(s.x.size <= columns for s in series)
    return replace(spec, series=tuple(series), joined=joined)


def _local_time(rows: pl.DataFrame, chip_rows: pl.DataFrame, tz: str) -> tuple[pl.DataFrame, str, str,
                                                                              tuple[str, ...]]:
    """x = time since local midnight of the chip's first run's day (of any procedure: a chip's trends share one
    origin, which showing excluded runs does not move), in hours (short histories) or days; and that day and zone
    (none without a start time)."""
    local = rows.select(pl.col("start_time_utc").dt.convert_time_zone(tz).dt.replace_time_zone(None))[
        "start_time_utc"
    ]
    if local.drop_nulls().is_empty():
        return rows.with_columns(pl.lit(None, pl.Float64).alias(TIME)), "time", "h", ()
    # the earliest instant is the earliest local time: the chip's one value converted, not its every run's
    earliest: dt.datetime = chip_rows["start_time_utc"].min()  # type: ignore[assignment]  # a Datetime's min: datetime
    first = earliest.astimezone(ZoneInfo(tz)).replace(tzinfo=None)
    last: dt.datetime = local.max()  # type: ignore[assignment]
    origin = dt.datetime.combine(first.date(), dt.time())
    span_days = (last - origin).total_seconds() / 86400
    unit, seconds = ("h", 3600) if span_days < HOURS_UP_TO_DAYS else ("d", 86400)
    since = ((local - origin).dt.total_microseconds() / (seconds * 1e6)).alias(TIME)
    return (rows.with_columns(since), f"time since {origin:%Y-%m-%d}, {tz}", unit,  # from that day's midnight
            (f"{origin:%Y-%m-%d}", tz))


def _missing(rows: pl.DataFrame, plan: _Plan, column: str) -> list[str]:
    """One line per reason a run of this trend has no point: the quantity, or the x it is placed at, is null."""
    lines = []
    what = f"lit {plan.proc}" if plan.lit_only else plan.proc
    for needed in dict.fromkeys((plan.x, column)):  # a null x (no power) explains a null y
        count = rows.filter(pl.col(needed).is_null()).height
        if count:
            name = "start time" if needed == TIME else needed
            lines.append(f"{counted(count, what + ' run')} without {name} left out")
        rows = rows.filter(pl.col(needed).is_not_null())
    return lines


def _series_keys(rows: pl.DataFrame, plan: _Plan) -> list[str]:
    """The columns whose values split a trend's points into series: the wavelength where the plan says so, an It
    run's gate voltage where the runs have several (a dark current or a ΔI at VG = −0.4 V and at +0.4 V are other
    quantities: in one series, the dark current zig-zagged from 33 to 135 µA in a day), the runs' bias where they
    have several (a ΔI at Vds 0.5 V is 5× one at 0.1 V), and a lit run's laser period
    where a series would hold several (ΔI is read at the end of a pulse the device has not settled in: at one chip,
    λ, VG and power, pulses of 60, 120 and 180 s gave rise times of 26, 49 and 66 s)."""
    keys = ["laser_wavelength_nm"] if plan.by_wavelength else []
    if plan.proc == "IVg" and rows["has_light"].n_unique() > 1:  # a lit sweep's Dirac point moves with the light
        # (photogating): on one line with the dark sweeps, a lit one's −0.66 V read as the chip's drift
        keys.append("has_light")
    if plan.proc == "It" and rows["vg_fixed_v"].n_unique() > 1:
        keys.append("vg_fixed_v")
    drawn = rows.filter(pl.any_horizontal(pl.col(column).is_not_null() for column, _ in plan.ys))
    if drawn["vds_v"].n_unique() > 1:  # a current, ΔI or R at Vds 0.5 V beside one at 0.1 V: 5× apart, one series
        keys.append("vds_v")  # (of the runs drawn: a sweep at 0 V has no Dirac point to split off)
    # only where one of those series would mix periods: a legend of 20 entries was unreadable in a terminal
    if plan.lit_only and rows.group_by(keys or pl.lit(0)).agg(pl.col("laser_period_s").n_unique() > 1)[
            "laser_period_s"].any():
        keys.append("laser_period_s")
    return keys


def _wavelength(value: float | None) -> str:
    return "λ unknown" if value is None else f"{value:g} nm"


def _gate(value: float | None) -> str:
    return "VG unknown" if value is None else f"VG={value:g} V"


def _bias(value: float | None) -> str:
    return "VDS unknown" if value is None else f"VDS={value:g} V"


def _period(value: float | None) -> str:
    return "period unknown" if value is None else f"period {value:g} s"


def _light(value: bool | None) -> str:
    return "light unknown" if value is None else "lit" if value else "dark"


_SERIES_NAMES = {"laser_wavelength_nm": _wavelength, "vg_fixed_v": _gate, "vds_v": _bias, "laser_period_s": _period,
                 "has_light": _light}


def _scaled(series: Series, x_factor: float, y_factor: float) -> Series:
    return replace(series, x=series.x * x_factor, y=series.y * y_factor)
