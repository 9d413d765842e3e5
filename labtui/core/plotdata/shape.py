"""Shaping loaded runs into a `PlotSpec`: baselines, sweep legs, gm, log safety, downsampling, SI units.

Cheap by design (vectorised numpy over arrays already in memory), so a resize or an option toggle just
calls `shape` again on the same `LoadedGroup`.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import polars as pl

from labtui.core.config import MetricsSettings
from labtui.core.metrics.definitions import DOUBTS
from labtui.core.metrics.glitches import sweep_glitches
from labtui.core.metrics.it import dark_level
from labtui.core.metrics.ivg import breakdown_at, cnp_legs, dirac_point, read_sweep
from labtui.core.metrics.savgol import window_points
from labtui.core.plotdata.labels import WAVELENGTH, doubt_columns, legend_labels, title
from labtui.core.plotdata.load import PLACE, LoadedGroup, row_gaps, run_ident
from labtui.core.plotdata.model import (
    Baseline,
    GmMethod,
    Marker,
    PlotOptions,
    PlotSpec,
    Series,
)
from labtui.core.plotdata.numeric import (
    Leg,
    collapse_repeats,
    laser_windows,
    log_drawable,
    log_middle,
    max_abs,
    merge_spans,
    minmax_index,
    savgol_derivative,
    sweep_legs,
)
from labtui.core.si import format_si, si_scale
from labtui.core.wording import counted

DURATION_TOLERANCE = 0.10  # overlaid It runs whose lengths differ more than this are not like for like


@dataclass
class _Draft:
    """A procedure's traces in base SI units, before the shared finishing steps."""

    y_label: str
    y_unit: str
    series: list[Series]
    spans: list[tuple[float, float]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    messages: list[str] = field(default_factory=list)
    dirac: bool = False  # mark the Dirac point of the legs in `dirac_legs`
    # the legs the metrics read a Dirac point on: series index -> that leg's part of its whole sweep's glitches
    dirac_legs: dict[int, np.ndarray] = field(default_factory=dict)
    broken: dict[int, float | None] = field(default_factory=dict)  # series index → x where its channel broke down
    log_ok: bool = True
    x_label: str | None = None  # None: the procedure's own (`KINDS`)


@np.errstate(all="ignore")
def shape(
    group: LoadedGroup, options: PlotOptions, width: int | None = None, settings: MetricsSettings | None = None
) -> PlotSpec:
    """Shape one procedure group for a plot `width` columns wide (None: full resolution, e.g. for export). Absurd
    values (near ±1e308) overflow to inf in ΔI, gm or the unit scaling: not drawn, and no NumPy warning on stderr
    (the metrics' rule too). `settings`, the config's metrics windows, place the Dirac points as the table does."""
    settings = settings or MetricsSettings()
    kind = group.kind
    if kind is None:
        return PlotSpec(group.proc, group.proc, "", "", "", "", False, (), (), (), (), group.messages, group.runs)
    rows = group.runs.to_dicts()
    draft = _DRAFTERS.get(group.family, _draft_xy)(group, rows, legend_labels(rows), options, settings)
    if group.family in BY_WAVELENGTH:
        _by_wavelength(draft, rows)
    messages = [*group.messages, *draft.messages]
    log_y = options.log_y and draft.log_ok
    if options.log_y and not draft.log_ok:
        messages.append(f"log scale does not apply to {draft.y_label}")
    series, y_label = draft.series, draft.y_label
    if log_y:
        drawn = [log_drawable(s.y) for s in series]
        if any(np.isfinite(s.y).sum() > index.size for s, index in zip(series, drawn, strict=True)):
            # not counted: a sweep's legs share their turning points, which a count took twice
            messages.append(f"readings of {y_label} = 0 left out: a log axis has no 0")
        series = [_at(s, index, np.abs(s.y[index])) for s, index in zip(series, drawn, strict=True)]
        y_label = f"|{y_label}|"
    markers = _dirac_markers(series, draft, draft.x_label or kind.x_label, y_label, settings) if draft.dirac else []
    if width is not None:
        series = [_thinned(s, width) for s in series]
    x_factor, x_prefix = si_scale(max_abs([s.x for s in series])) if kind.x_si else (1.0, "")
    y_factor, y_prefix = si_scale((log_middle if log_y else max_abs)([s.y for s in series])) if kind.y_si else (1.0, "")
    return PlotSpec(
        kind=group.family,  # what the plot's options are of (an IVgT plot has gm and the aligned overlay)
        title=title(group.proc, rows),
        x_label=draft.x_label or kind.x_label,
        x_unit=x_prefix + kind.x_unit,
        y_label=y_label,
        y_unit=y_prefix + draft.y_unit,
        log_y=log_y,
        series=tuple(_with_points(s, s.x * x_factor, s.y * y_factor) for s in series),
        markers=tuple(replace(m, x=m.x * x_factor, y=m.y * y_factor) for m in markers),
        spans=tuple((a * x_factor, b * x_factor) for a, b in draft.spans),
        warnings=tuple(draft.warnings),
        messages=tuple(messages),
        runs=group.runs,
    )


def _with_points(series: Series, x: np.ndarray, y: np.ndarray) -> Series:
    return replace(series, x=x, y=y)


def _thinned(series: Series, width: int) -> Series:
    """The series in at most 2·`width` points (`minmax_downsample`)."""
    if (index := minmax_index(series.y, width)) is None:
        return series
    return _at(series, index, series.y[index])


def _at(series: Series, index: np.ndarray, y: np.ndarray) -> Series:
    """The series' points at `index` (sorted), with `y` there, its line's breaks before the first point kept after
    each (left at its full resolution's, a leg's break over a gap of rows moved to another Vg, and the chord was
    drawn again at 80 columns)."""
    breaks = tuple(dict.fromkeys(np.searchsorted(index, series.breaks).tolist()))
    return replace(series, x=series.x[index], y=y, breaks=breaks)


def _series(row: dict[str, Any], index: int, label: str, x: np.ndarray, y: np.ndarray, direction: int = 0,
            leg: str = "") -> Series:
    """A run's trace (`leg`: the sweep leg it is, named after the run's label), said incomplete or excluded (drawn
    with the excluded runs, or redrawn from a record) where it is; coloured by its `PLACE` in the selection where it
    has one, else by its `index` among the runs drawn."""
    incomplete, excluded = row.get("is_complete") is False, row.get("excluded") is True
    states = [word for word, state in (("incomplete", incomplete), ("excluded", excluded)) if state]
    suffix = f" ({', '.join(states)})" if states else ""
    return Series(
        label=f"{label} {leg}{suffix}" if leg else f"{label}{suffix}",
        run_label=f"{label}{suffix}" if leg else "",
        x=x,
        y=y,
        run_id=row["run_id"],
        seq=row.get("seq"),
        incomplete=incomplete,
        run_index=index if row.get(PLACE) is None else row[PLACE],
        direction=direction,
        excluded=excluded,
    )


def _draft_it(
    group: LoadedGroup, rows: list[dict[str, Any]], labels: list[str], options: PlotOptions, settings: MetricsSettings
) -> _Draft:
    """I (or ΔI) vs t, one trace per run, with the laser-ON windows read from the VL column. A baseline that fell
    back is said once for the runs it fell back in (a t= past the end of fifty runs is one line, not fifty), as a
    warning naming the first few."""
    draft = _Draft(_it_y_label(options), "A", [])
    fell_back: dict[str, list[str]] = {}
    lit: dict[str, tuple[float, float, list[tuple[float, float]]]] = {}  # each lit run's span and ON windows
    for index, (row, columns) in enumerate(zip(rows, group.columns, strict=False)):
        t, i = columns["t_s"], columns["i_a"]
        windows = laser_windows(t, columns["vl_v"], settings.light_threshold_v, settings.it_window_s,
                                row.get("laser_voltage_v"))
        draft.spans.extend(windows)
        if windows:
            lit[run_ident(row)] = (float(np.nanmin(t)), float(np.nanmax(t)), windows)
        reference, note = _baseline(t, i, windows, row.get("laser_period_s"), options, settings.it_window_s)
        if note:
            fell_back.setdefault(note, []).append(run_ident(row))
        draft.series.append(_series(row, index, labels[index], t, i - reference))
    draft.spans = merge_spans(draft.spans)
    # a warning (the runs are drawn), its reason first: a list of 80 runs before it ran past the screen's foot
    draft.warnings = _it_warnings(rows, group.columns) + [f"{note} ({_some(runs)})" for note, runs in fell_back.items()]
    if len(lit) > 1 and any(_seconds(windows) != _seconds(_within(draft.spans, start, end))
                            for start, end, windows in lit.values()):
        # periods of 240 and 360 s: one shading from 120 to 360 s read as both runs' ON (a run that merely ends
        # sooner, aborted while ON, is shaded as it was lit)
        by_windows: dict[str, list[str]] = {}  # runs of one design said once: 48 runs were a 9-line warning
        for run, (_, _, windows) in lit.items():
            by_windows.setdefault(_seconds(windows), []).append(run)
        draft.warnings.append("laser ON windows differ between runs ("
                              + "; ".join(f"{_some(runs)}: {windows}" for windows, runs in by_windows.items())
                              + "): the shading is their union")
    return draft


def _it_y_label(options: PlotOptions) -> str:
    """An It plot's y axis: ΔI as the difference it is, naming its baseline (`I − I_dark`): a paper's figure read
    `ΔI (µA)` whichever it was (the dark current, the first point, t = 30 s), said only on the app's status line."""
    match options.baseline:
        case Baseline.RAW:
            return "I"
        case Baseline.FIRST:
            return "I − I(first point)"
        case Baseline.FIXED:
            return f"I − I({options.baseline_time_s:g} s)"
        case Baseline.AUTO:
            return "I − I_dark"


def _some(runs: list[str], shown: int = 3) -> str:
    """Runs as a warning names them: the first few, then how many more (`seq 7, seq 8, seq 9 and 21 more`)."""
    if len(runs) <= shown + 1:
        return ", ".join(runs)
    return f"{', '.join(runs[:shown])} and {len(runs) - shown} more"


def _within(spans: list[tuple[float, float]], start: float, end: float) -> list[tuple[float, float]]:
    """The parts of `spans` within [start, end]."""
    return [(max(a, start), min(b, end)) for a, b in spans if min(b, end) > max(a, start)]


def _seconds(windows: list[tuple[float, float]]) -> str:
    """Windows to the second, as a warning says them: the edges of one design differ by a sample (and a file written
    backwards has its edges the other way round)."""
    return ", ".join(f"{round(min(edges))}–{round(max(edges))} s" for edges in windows)


def _baseline(
    t: np.ndarray, i: np.ndarray, windows: list[tuple[float, float]], period: float | None, options: PlotOptions,
    dark_window_s: float,
) -> tuple[float, str | None]:
    """The current to subtract, and a note when the requested reference had to fall back; auto: the table's i_dark_a
    (the mean over `dark_window_s` before switch-on), not one sample of the noise."""
    match options.baseline:
        case Baseline.RAW:
            return 0.0, None
        case Baseline.FIRST:
            return float(i[0]), None
        case Baseline.FIXED:
            at = options.baseline_time_s
            note = None if t[0] <= at <= t[-1] else f"baseline time {at:g} s is outside the run, used its nearest end"
            return float(np.interp(at, t, i)), note
        case Baseline.AUTO:
            # The VL column shows when the laser really switched on; the period (ON from period/2) is the
            # design, and the only clue in a dark run.
            if windows:
                return dark_level(t, i, windows[0][0], dark_window_s), None
            if period:
                return dark_level(t, i, period / 2, dark_window_s), None
            return float(i[0]), "no laser edge and no period: baseline at the first point"


def _it_warnings(rows: list[dict[str, Any]], columns: tuple[dict[str, np.ndarray], ...]) -> list[str]:
    warnings = []
    durations = [float(c["t_s"].max() - c["t_s"].min()) for c in columns]  # the manifest's span: rows out of order
    # (a reversed file) gave a negative duration
    if durations and max(durations) > (1 + DURATION_TOLERANCE) * min(durations):
        warnings.append(
            f"durations differ by more than {DURATION_TOLERANCE:.0%} "
            f"({_duration(min(durations))}–{_duration(max(durations))} s)"
        )
    if {True, False} <= {row.get("has_light") for row in rows}:
        warnings.append("the selection mixes light and dark runs")
    # the legend's P of a run (`trends.with_plotted_quantities`) in doubt, and its ΔI, as a trend's points say them
    doubts = doubt_columns(rows).with_columns(
        run=pl.Series([run_ident(row) for row in rows], dtype=pl.String),
        priced=pl.Series([row.get("power_w") is not None for row in rows], dtype=pl.Boolean))
    for doubt in DOUBTS:
        held = doubts.filter(doubt.holds & pl.col("priced")) if doubt.on_power else doubts.filter(doubt.holds)
        if doubted := held["run"].to_list():
            warnings.append(f"{'P of ' if doubt.on_power else ''}{_some(doubted)} {doubt.of_points}")
    return warnings


def _duration(seconds: float) -> str:
    """A run's length as the history's `dur s` column gives it, in whole seconds (`.3g` wrote 6750 s as
    `6.75e+03`); under 10 s, to 2 figures."""
    return f"{seconds:.0f}" if abs(seconds) >= 10 else f"{seconds:.2g}"


def _draft_ivg(
    group: LoadedGroup, rows: list[dict[str, Any]], labels: list[str], options: PlotOptions, settings: MetricsSettings
) -> _Draft:
    """I (or gm) vs Vg, one trace per monotonic sweep leg, so forward and backward never join up. The Dirac points
    are marked on the legs the metrics read them on (`dirac_leg_starts`), none on a dead channel's sweep.

    Aligned (`align_cnp`), each run is drawn against Vg − its forward-leg Dirac point from the metrics table, so
    curves of a drifting chip overlay; a run without one is left out and counted, never guessed."""
    draft = _Draft("gm", "S", [], log_ok=False) if options.gm else _Draft("I", "A", [], dirac=True)
    unaligned = []
    if options.align_cnp:
        draft.x_label = "Vg − V_CNP"
    for index, (row, columns) in enumerate(zip(rows, group.columns, strict=False)):
        vg, i = columns["vg_v"], columns["i_a"]
        shift = row.get("cnp_fwd_v") if options.align_cnp else 0.0
        if shift is None:
            unaligned.append(run_ident(row))
            continue
        legs = sweep_legs(vg)
        broken = None if options.gm else breakdown_at(np.abs(i))  # gm: no Dirac markers to keep from the collapse
        dirac_starts = set() if options.gm else dirac_leg_starts(vg, i, row.get("vds_v"), settings)
        glitch = sweep_glitches(np.abs(i)) if dirac_starts else None  # the whole sweep's, as the metrics read them
        for leg, name in zip(legs, leg_names(vg, legs), strict=False):
            if glitch is not None and leg.start in dirac_starts:
                draft.dirac_legs[len(draft.series)] = glitch[leg.start : leg.stop]
            x, y = vg[leg.start : leg.stop] - shift, i[leg.start : leg.stop]
            if options.gm:
                x, y = _transconductance(x, y, options, settings)
            elif broken is not None and broken < leg.stop:  # the metrics read no Dirac point past a breakdown
                draft.broken[len(draft.series)] = float(x[broken - leg.start]) if broken > leg.start else None
            if x.size:
                gaps = () if options.gm else row_gaps(columns, leg.start, leg.stop)
                draft.series.append(replace(_series(row, index, labels[index], x, y, leg.direction, name),
                                            breaks=gaps))
    if unaligned:
        draft.messages.append(f"{counted(len(unaligned), 'run')} without a forward Dirac "
                              f"point (cnp_fwd_v) left out of the aligned overlay: {', '.join(unaligned)}")
    return draft


def dirac_leg_starts(vg: np.ndarray, i: np.ndarray, vds_v: float | None, settings: MetricsSettings) -> set[int]:
    """Where the legs the metrics read the Dirac points on start (`metrics.ivg.read_sweep`, `cnp_legs`), as
    positions in the whole sweep; none for a sweep they read none on (a dead channel)."""
    sweep = read_sweep(vg, i, vds_v, settings)
    if not sweep.usable:
        return set()
    starts = [leg.start for leg in cnp_legs(sweep.vg) if leg is not None]
    return set(starts) if sweep.at is None else {int(sweep.at[start]) for start in starts}


def leg_names(vg: np.ndarray, legs: list[Leg]) -> list[str]:
    """`0→-5 V`, `-5→5 V`, …: each leg by where it goes, so the four legs of a 0 → −V → +V → −V → 0 sweep (two
    forward, two backward) read apart; a leg that repeats an earlier one's range gets its number."""
    names = [f"{_volts(vg[leg.start])}→{_volts(vg[leg.stop - 1])} V" for leg in legs]
    return [f"{name} (leg {k + 1})" if names.count(name) > 1 else name for k, name in enumerate(names)]


def _volts(value: float) -> str:
    return format(round(float(value), 3) + 0.0, "g")  # setpoint drift and -0.0 never show


def _transconductance(
    vg: np.ndarray, i: np.ndarray, options: PlotOptions, settings: MetricsSettings
) -> tuple[np.ndarray, np.ndarray]:
    """gm = dI/dVg on one monotonic leg; empty when the leg has fewer than two distinct Vg. Savitzky–Golay's window
    is by default the metrics' (`gm_window_v` at the leg's step): the plot's peak is the table's `gm_max_*` (11 points
    at a 0.2 V step smoothed it to a third below), contact glitches left out as there."""
    if (glitch := sweep_glitches(np.abs(i))).any():
        vg, i = vg[~glitch], i[~glitch]
    vg, i = collapse_repeats(vg, i)
    if vg.size < 2:
        return vg[:0], i[:0]
    if options.gm_method is GmMethod.GRADIENT:
        return vg, np.gradient(i, vg)
    window = options.sg_window or window_points(vg, settings.gm_window_v)
    return vg, savgol_derivative(vg, i, window, options.sg_polyorder)


def _dirac_markers(
    series: list[Series], draft: _Draft, x_label: str, y_label: str, settings: MetricsSettings
) -> list[Marker]:
    """The Dirac point of each leg the metrics read one on (`draft.dirac_legs`), as they define it
    (`metrics.ivg.dirac_point`, with the config's windows), at the measured min |I|; none where it lies outside the
    leg (an end point is the sweep limit, not a Dirac point), nor past the point where the channel broke down
    (`draft.broken`). Named by the x axis: an aligned overlay gives Vg − V_CNP."""
    markers = []
    broken, y_unit = draft.broken, draft.y_unit
    for index, s in enumerate(series):
        if index not in draft.dirac_legs:
            continue
        # the whole sweep's glitches, as the metrics read them; the leg's own where a log axis left points out
        glitch: np.ndarray | None = draft.dirac_legs[index] if draft.dirac_legs[index].size == s.x.size else None
        if index in broken:
            if (at := broken[index]) is None:
                continue
            before = s.x < at if s.direction > 0 else s.x > at
            s, glitch = replace(s, x=s.x[before], y=s.y[before]), None if glitch is None else glitch[before]
        if not s.direction or s.y.size < 3:
            continue
        found = dirac_point(s.x, s.y, fit_window_v=settings.cnp_fit_window_v, edge_margin_v=settings.cnp_edge_margin_v,
                            glitch=glitch)
        if found.vg is not None:
            # Setpoints carry float drift (±1.8e-14 for 0 V), which reads 0 (−0.0 too): µV is far below a step.
            # Not rounded to µV: −86.1497 mV became −86.150, said −86.2 mV beside the table's −86.1 mV
            vg = found.vg if abs(found.vg) >= 1e-6 else 0.0
            y = float(s.y[found.at])
            text = f"{s.label}: Dirac {x_label}={format_si(vg, 'V')}, {y_label}={format_si(y, y_unit)}"
            markers.append(Marker(vg, y, text, s.run_id, s.label))
    return markers


def _draft_xy(
    group: LoadedGroup, rows: list[dict[str, Any]], labels: list[str], options: PlotOptions, settings: MetricsSettings
) -> _Draft:
    """y vs x as acquired, one trace per run (IV sweeps, laser power calibrations, the registry's other procedures)."""
    kind = group.kind
    assert kind is not None  # `shape` drafts only a group with a kind
    draft = _Draft(kind.y_label, kind.y_unit, [])
    for index, (row, columns) in enumerate(zip(rows, group.columns, strict=False)):
        draft.series.append(_series(row, index, labels[index], columns[kind.x], columns[kind.y]))
        if "vl_v" in kind.extra:  # a timed run under the pulsed laser (Vt, Pt): its ON windows shaded, as It's
            draft.spans += laser_windows(columns[kind.x], columns["vl_v"], settings.light_threshold_v,
                                         settings.it_window_s, row.get("laser_voltage_v"))
    draft.spans = merge_spans(draft.spans)
    return draft


def _by_wavelength(draft: _Draft, rows: list[dict[str, Any]]) -> None:
    """Each run's series in its wavelength's group (`Series.group`; a lit run of unknown λ next, dark runs last):
    past the palette's runs, runs at several wavelengths are coloured by λ (`drawing.groups`), as a colour by seq
    would not tell which λ a curve is. Calibrations at several are the rule; It runs are compared per λ."""

    def key(row: dict[str, Any]) -> tuple[int, float]:
        nm = WAVELENGTH.value(row)
        return (0, nm) if nm is not None else (1, 0.0) if WAVELENGTH.applies(row) else (2, 0.0)

    def name(place: tuple[int, float]) -> str:
        return "dark" if place[0] == 2 else WAVELENGTH.format(place[1] if place[0] == 0 else None)

    keys = [key(row) for row in rows]
    order = sorted(set(keys))
    draft.series = [replace(s, group=name(place), group_index=order.index(place))
                    for s, place in zip(draft.series, keys, strict=True)]


_DRAFTERS = {"It": _draft_it, "IVg": _draft_ivg}  # the others: `_draft_xy`
BY_WAVELENGTH = frozenset({"It", "LaserCalibration"})  # their runs are grouped by λ (`_by_wavelength`)
