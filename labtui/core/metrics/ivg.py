"""Gate sweeps: monotonic legs, Dirac points, transconductance and the IVg quantities. Pure numpy on one run.

The plots (`labtui.core.plotdata`) use the same legs, derivative (`savgol`) and Dirac point, so a marker on a plot is
the number in the table.
"""

from __future__ import annotations

import itertools
import math
from typing import NamedTuple

import numpy as np

from labtui.core.config import MetricsSettings
from labtui.core.metrics.arrays import all_finite, median
from labtui.core.metrics.definitions import LOOP_TURNS, OUT_OF_ORDER_ROWS, TURNS_APART, VDS_PLAUSIBLE_V
from labtui.core.metrics.glitches import (
    BREAKDOWN_FALL,
    GLITCH_RUN,
    glitches,
    said_dropouts,
    sweep_glitches,
    v_bottom,
    v_bottoms,
)
from labtui.core.metrics.savgol import savgol_derivative, window_points
from labtui.core.si import format_si

Remarks = list[str]


class Leg(NamedTuple):
    """Points `start:stop` of a sweep; consecutive legs share their turning point."""

    start: int
    stop: int
    direction: int  # +1 rising, -1 falling, 0 when x never moves


def sweep_legs(x: np.ndarray) -> list[Leg]:
    """Split a gate sweep (0 → start → end → start → 0) into monotonic legs.

    Repeated points (a step of 0 within float noise) continue the current direction, so a dwell at a turning
    point does not open a leg; an aborted sweep simply yields fewer legs.
    """
    n = x.size
    if n < 2:
        return [Leg(0, n, 0)] if n else []
    step = x[1:] - x[:-1]  # np.diff's arithmetic without its Python layers (~3 µs a call)
    moving = _moves(step, x).nonzero()[0]
    if not moving.size:
        return [Leg(0, n, 0)]
    direction = np.sign(step[moving]).astype(np.int8)  # of each step that moves; the others continue a leg
    changes = (direction[1:] != direction[:-1]).nonzero()[0] + 1
    turns = moving[changes]  # step k moves from point k: point k is the turn
    bounds = [0, *turns.tolist(), n - 1]
    directions = [int(direction[0]), *direction[changes].tolist()]
    return [Leg(a, b + 1, d) for (a, b), d in zip(itertools.pairwise(bounds), directions, strict=True)]


def collapse_repeats(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Average the y of consecutive points at the same x, so a derivative never divides by a zero step."""
    if x.size < 2:
        return x, y
    moves = _moves(x[1:] - x[:-1], x)
    if moves.all():  # nothing to average (every forward leg of a real sweep)
        return x, y
    group = np.concatenate([[0], np.cumsum(moves)])
    counts = np.bincount(group)
    return np.bincount(group, x) / counts, np.bincount(group, y) / counts


def _moves(step: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Which steps really move x: float drift of the setpoints (~1e-14 V) is not a step."""
    return np.abs(step) > 1e-6 * float(x.max() - x.min())


FLAT_SPAN = 16  # a leg whose |I| spans fewer times its point-to-point noise than this is flat: no Dirac point
FLAT_MIN_POINTS = 10  # a leg shorter than this is too short to tell its noise from its V (`flat`)


def breakdown_at(current: np.ndarray) -> int | None:
    """The first point after the channel broke down: |I| falls to under half of the point before and stays under
    that for the rest of the sweep. Graphene's current changes smoothly with Vg (the real sweeps' steepest step is
    ×1.45), and a dropout or a spike comes back: a glitch (`glitches`) is passed over, so the fall back from a spike
    is no breakdown; nor is a fall into the V's bottom at the sweep's last points (`v_bottom`). None when the sweep
    has no such fall (a sweep without any fall of ×BREAKDOWN_FALL, every real sweep but one, costs one
    comparison)."""
    if not (current[1:] * BREAKDOWN_FALL < current[:-1]).any():
        return None
    kept = np.flatnonzero(~glitches(current))
    level = current[kept]
    falls = np.flatnonzero(level[1:] * BREAKDOWN_FALL < level[:-1]) + 1
    for k in falls.tolist():
        if float(level[k:].max()) * BREAKDOWN_FALL < float(level[k - 1]):
            if level.size - k <= GLITCH_RUN and v_bottom(level, k, level.size):
                continue  # a loop back at its V's bottom: at 1 V steps it ends at 0 V, near many Dirac points
            return int(kept[k])
    return None


class Dirac(NamedTuple):
    """The Dirac point of one leg: `vg` refined (None when outside the sweep), `at` the index of the raw min |I|;
    `flat`: the gate does not move the leg's |I| beyond its noise (`flat`), which has no gm either."""

    vg: float | None
    at: int
    remark: str | None
    flat: bool = False


def dirac_point(vg: np.ndarray, i: np.ndarray, *, fit_window_v: float = 0.2, edge_margin_v: float = 0.2,
                glitch: np.ndarray | None = None) -> Dirac:
    """Min |I| of a monotonic leg, refined by a least-squares parabola through the points within `fit_window_v`,
    or within one step of it when the sweep's steps are wider (a parabola needs the minimum's two neighbours).

    The window is narrow because a graphene curve is a V whose arms differ in slope: a parabola through ±0.5 V of
    it leaned toward the shallower arm, a quarter of the real Dirac points landing beyond the sampled minimum's
    neighbours (on the synthetic lab, the error's 95th percentile 36 mV, 11 mV at ±0.2 V).

    A contact glitch (`sweep_glitches`: a spike of up to GLITCH_RUN points, a dropout, not the V's bottom) is no
    reading of the channel: it is passed over, in the minimum and in the fit. A leg whose |I| the gate does not
    move beyond its noise has no Dirac point (`flat`); nor has one whose minimum lies within `edge_margin_v` of its
    ends (the Dirac point is outside the sweep). A parabola that opens downwards or puts its vertex outside the
    window or the leg (a noisy flat bottom) falls back to the raw minimum, with a remark. Distances allow for
    setpoints written as 0.30000000000000004. `glitch`: the leg's part of the whole sweep's glitches (a dropout
    over a turning point touches the leg's end, where the leg alone cannot tell it: it was read as the Dirac point,
    4.5 V off); None, the leg's own. A minimum beside a dropout longer than a glitch is no Dirac point: it may lie
    in the dropout (one over the V's bottom put it at the dropout's edge).
    """
    current = np.abs(i)
    glitch = sweep_glitches(current) if glitch is None else glitch
    glitched = glitch.any()  # (a leg of every real sweep but a few has none)
    k = int((np.where(glitch, np.inf, current) if glitched else current).argmin())
    if (why := flat(current[~glitch] if glitched else current)) is not None:
        return Dirac(None, k, why, flat=True)
    if glitched and (dropout := _dropout_beside(vg, glitch, k)) is not None:
        return Dirac(None, k, f"min |I| beside a contact dropout (Vg {dropout[0]:g}…{dropout[1]:g} V): the Dirac "
                              "point may lie in it")
    low, high, at = float(vg.min()), float(vg.max()), float(vg[k])  # Python floats: NumPy's scalars are slower
    slack = 1e-6 * (high - low)
    if at - low < edge_margin_v - slack or high - at < edge_margin_v - slack:
        return Dirac(
            None, k, f"min |I| within {edge_margin_v:g} V of the leg's end: the Dirac point is outside the sweep"
        )
    if (gap := _gap_beside(vg, k, fit_window_v)) is not None:
        low_v, high_v = (round(v, 9) + 0.0 for v in gap)  # setpoints summed in 0.05 V steps: -1.77636e-14 is 0
        return Dirac(None, k, f"min |I| beside a gap in the readings (Vg {low_v:g}…{high_v:g} V, rows without a "
                              "finite Vg or I): the Dirac point may lie in it")
    window = max(fit_window_v, *(abs(float(vg[j]) - at) for j in (k - 1, k + 1) if 0 <= j < vg.size))
    near = np.abs(vg - at) <= window + slack
    if glitched:
        near &= ~glitch
    vertex = parabola_vertex(vg[near] - at, current[near] / (float(current[k]) or 1.0))
    if vertex is not None and abs(vertex) <= window and low <= at + vertex <= high:
        return Dirac(at + vertex, k, None)
    return Dirac(at, k, "no parabola fits the minimum: the raw minimum is given")


def _dropout_beside(vg: np.ndarray, glitch: np.ndarray, k: int) -> tuple[float, float] | None:
    """The Vg span of a run of glitches longer than GLITCH_RUN (a dropout) next to the point `k`, or None."""
    for step in (-1, 1):
        end = k + step
        while 0 <= end < glitch.size and glitch[end]:
            end += step
        if abs(end - k) - 1 > GLITCH_RUN:
            inner = sorted((float(vg[k + step]), float(vg[end - step])))
            return inner[0], inner[1]
    return None


GAP_STEPS = 2.5  # a step this many times the steps beyond it, beside a leg's minimum, is a gap in its readings


def _gap_beside(vg: np.ndarray, k: int, fit_window_v: float) -> tuple[float, float] | None:
    """The Vg span of a gap beside the minimum `k` (rows without a finite Vg or I dropped), when the step to a
    neighbour is wider than the fit window and GAP_STEPS × the step beyond it: the minimum read was the gap's edge,
    and the fit reached across it (a 0.5 V gap moved a Dirac point 42 mV, and the hysteresis read 18× smaller, said
    only as rows missing). A gap within the window (3 rows at 0.05 V: 8 mV) is read across."""
    for near, far in ((k - 1, k - 2), (k + 1, k + 2)):
        if 0 <= far < vg.size and 0 <= near < vg.size and abs(float(vg[near] - vg[k])) > max(
                fit_window_v, GAP_STEPS * abs(float(vg[far] - vg[near]))) and vg[far] != vg[near]:
            return min(float(vg[k]), float(vg[near])), max(float(vg[k]), float(vg[near]))
    return None


NOISE_PER_D3 = 0.6745 * math.sqrt(20)  # median |third difference| of white noise, in σ (its variance is 20 σ²)
THIRD = np.array([1.0, -3.0, 3.0, -1.0])  # a third difference


def flat(current: np.ndarray) -> str | None:
    """Why a leg has no Dirac point clear of its noise: its |I| spans under FLAT_SPAN × its point-to-point noise (a
    gate that does not move the current); None when the span is wider, or the leg too short to tell.

    The noise is the median |third difference| (which cancels any parabola: the V's slope and curvature, even on a
    short coarse leg), in σ of white noise. White noise alone spans under 11 σ over 50–2400 points, 14 σ over 20
    (99.9 % of draws); the flattest real leg spans 28 σ (max/min |I| 1.29). The corner of a sharp V takes three
    third differences: under FLAT_MIN_POINTS points (seven differences) they would be the median (a 5-point V read
    as flat).

    At least half the |third differences| reach their median, so its square is at most twice their mean square: a
    span clear of that bound (477 of the 483 real legs) needs no median, half of this function's time."""
    if current.size < FLAT_MIN_POINTS:
        return None
    third = np.correlate(current, THIRD, "valid")
    low, high = float(current.min()), float(current.max())
    limit = (high - low) * NOISE_PER_D3 / FLAT_SPAN  # the noise's median |third difference| must stay under this
    if limit * limit * third.size > 2 * float(np.dot(third, third)) or limit > median(np.abs(third)):
        return None
    ratio = high / low if low else math.inf if high else math.nan  # an all-0 A leg: no ratio
    return (f"no minimum clear of the noise (the curve is flat: max/min |I| {ratio:.5g}, a span under {FLAT_SPAN}× "
            "its point-to-point noise)")


def parabola_vertex(x: np.ndarray, y: np.ndarray) -> float | None:
    """x of the vertex of the least-squares parabola through (x, y), when it opens upwards (a minimum).

    The 3×3 normal equations are solved by Cramer's rule on Python floats: `np.linalg.solve` spends ~15 µs in its
    Python layers on a system this small, and a sweep fits two of them."""
    if x.size < 3:
        return None
    scale = float(np.abs(x).max()) or 1.0
    u = x / scale
    uu = u * u
    s0, s1, s2, s3, s4 = float(x.size), float(u.sum()), float(uu.sum()), float(uu.dot(u)), float(uu.dot(uu))
    m0, m1, m2 = float(y.sum()), float(u.dot(y)), float(uu.dot(y))
    minor0, minor1, minor2 = s2 * s4 - s3 * s3, s1 * s4 - s2 * s3, s1 * s3 - s2 * s2
    det = s0 * minor0 - s1 * minor1 + s2 * minor2
    if not det > 1e-12 * s0 * s0 * s0:  # fewer than three distinct x (the Gram determinant is ≥ 0)
        return None
    b = (s0 * (m1 * s4 - s3 * m2) - m0 * minor1 + s2 * (s1 * m2 - m1 * s2)) / det
    a = (s0 * (s2 * m2 - s3 * m1) - s1 * (s1 * m2 - s2 * m1) + m0 * minor2) / det
    return -b / (2 * a) * scale if a > 0 else None


def longest_leg(vg: np.ndarray, legs: list[Leg], direction: int, drift: float) -> Leg | None:
    """The leg of that direction spanning the widest Vg range (the −V → +V and +V → −V legs of a full loop); of
    legs as wide (within `drift`, the sweep's float drift), the last: in an aborted loop (0 → −V → +V → 0) the
    first leg only left the resting 0 V."""
    chosen = [leg for leg in legs if leg.direction == direction and leg.stop - leg.start >= 3]
    if not chosen:
        return None
    spans = [abs(float(vg[leg.stop - 1] - vg[leg.start])) for leg in chosen]
    widest = max(spans) - drift
    return [leg for leg, span in zip(chosen, spans, strict=True) if span >= widest][-1]


def vds_doubt(vds_v: float) -> str:
    """What a dead channel's remark adds when its Vds is past any such device's: `VDS: 0.1 kV` (or 100 V written for
    100 mV) called a channel carrying 47 µA dead."""
    return ": or a Vds in another unit (mV written V)?" if abs(vds_v) > VDS_PLAUSIBLE_V else ""


class ReadSweep(NamedTuple):
    """The points of a sweep its quantities are read on: the finite ones, up to a breakdown; `at` their positions in
    the sweep as measured (None: the first ones, in order). `usable` False: no quantity but `i_min_a` is read (too
    few points, a dead channel; `remarks` say which)."""

    vg: np.ndarray
    i: np.ndarray
    at: np.ndarray | None
    usable: bool
    remarks: Remarks


def out_of_order(vg: np.ndarray) -> str | None:
    """Why a sweep's rows are not in the order they were measured in (None for every real sweep, which steps one
    setpoint at a time and turns at its limits): a third of its rows repeat the Vg before them and it never turns
    (sorted by Vg: each setpoint's up- and down-sweep readings side by side, read as one leg whose Dirac point mixed
    both; a loop that reads each setpoint twice turns at its limits), or it turns
    back at more than a tenth of its rows, and more than two loops do (shuffled: a Dirac point of 3.6e-13 V)."""
    if vg.size < OUT_OF_ORDER_ROWS:
        return None
    steps = vg[1:] - vg[:-1]
    moved = steps[_moves(steps, vg)]  # a repeat within float noise, as `sweep_legs` reads one
    rising = moved > 0
    turns = int(np.count_nonzero(rising[1:] != rising[:-1]))
    if not turns and 3 * (repeats := steps.size - moved.size) >= steps.size:  # a loop read twice a setpoint turns
        return f"IVg: {repeats} of its {vg.size} rows repeat the Vg before them: rows sorted by Vg? No Dirac point " \
               "nor gm from them"
    if turns > 2 * LOOP_TURNS and turns * TURNS_APART > vg.size:
        return f"IVg: Vg turns back {turns} times in {vg.size} rows: rows out of order? No Dirac point nor gm from them"
    return None


def read_sweep(vg: np.ndarray, i: np.ndarray, vds_v: float | None, settings: MetricsSettings) -> ReadSweep:
    """The part of one sweep `ivg_quantities` reads, and why it reads less than all of it; the plot marks the
    Dirac points on the same legs (`cnp_legs`)."""
    at, gaps = None, []
    if not all_finite(vg, i):
        keep = np.isfinite(vg) & np.isfinite(i)
        if (missing := vg.size - int(np.count_nonzero(keep))) and (kept := vg.size - missing) >= 3:
            # half a sweep's currents NaN read as a whole sweep, unsaid
            gaps = [f"IVg: {missing} of its {vg.size} rows have no finite Vg or I: its quantities are of the other "
                    f"{kept}"]
        vg, i, at = vg[keep], i[keep], np.flatnonzero(keep)
    if vg.size < 3:
        return ReadSweep(vg, i, at, False, ["IVg: fewer than 3 finite points"])
    if (disorder := out_of_order(vg)) is not None:
        return ReadSweep(vg, i, at, False, [*gaps, disorder])
    if vds_v == 0:  # no bias, no channel current: a gate's leakage read a Dirac point, 1.2 V of hysteresis
        return ReadSweep(vg, i, at, False, [*gaps, "IVg: at Vds 0 V no current is driven through the channel: its I "
                                                   "is the gate's leakage or an offset, no Dirac point"])
    current = np.abs(i)
    i_max = float(current.max())
    if vds_v and i_max / abs(vds_v) < settings.dead_conductance_s:
        return ReadSweep(vg, i, at, False, [*gaps,
            f"IVg: dead channel (max |I| {format_si(i_max, 'A')} at Vds {vds_v:g} V, conductance below "
            f"{format_si(settings.dead_conductance_s, 'S')}){vds_doubt(vds_v)}"
        ])
    if (broken := breakdown_at(current)) is None:
        return ReadSweep(vg, i, at, True, gaps)
    before = np.flatnonzero(~glitches(current)[:broken])[-1]  # the last reading before it: not a spike
    remark = (f"IVg: the channel broke down at Vg {vg[broken]:g} V (|I| {current[before]:.2g} → "
              f"{current[broken]:.2g} A, for good): the quantities are of the sweep before it")
    return ReadSweep(vg[:broken], i[:broken], None if at is None else at[:broken], True, [*gaps, remark])


def cnp_legs(vg: np.ndarray) -> tuple[Leg | None, Leg | None]:
    """The up- and down-sweep legs the Dirac points are read on: the widest of each direction (the sweep's span
    taken once for both)."""
    legs = sweep_legs(vg)
    drift = 1e-6 * float(vg.max() - vg.min()) if vg.size else 0.0
    return longest_leg(vg, legs, 1, drift), longest_leg(vg, legs, -1, drift)


def ivg_quantities(
    vg: np.ndarray, i: np.ndarray, vds_v: float | None, settings: MetricsSettings
) -> tuple[dict[str, float | None], Remarks]:
    """The from-data IVg quantities of one sweep (see `definitions`), and remarks on the ones left null."""
    values: dict[str, float | None] = dict.fromkeys(
        (
            "cnp_fwd_v",
            "cnp_bwd_v",
            "cnp_v",
            "hysteresis_v",
            "i_min_a",
            "on_off_ratio",
            "gm_max_hole_s",
            "gm_max_electron_s",
        )
    )
    vg, i, _, usable, remarks = read_sweep(vg, i, vds_v, settings)
    if vg.size < 3:
        return values, remarks
    current = np.abs(i)
    glitch = glitches(current)
    if glitch.any() and (bottoms := v_bottoms(current, glitch)).any():
        glitch &= ~bottoms
        # as deep as a dropout, it may be one: a dropout there read i_min 2.2× low, said nowhere
        remarks.append("i_min_a: the V's bottom reads under half of both its neighbours (a V sharper than the "
                       "sweep's step resolves, or a dropout there): read as the minimum")
    read = current[~glitch] if glitch.any() else current  # a dropout is no minimum, a spike no maximum
    values["i_min_a"] = i_min = float(read.min())
    if not usable:  # (rows out of order: their falls and returns are no dropouts to say)
        return values, remarks
    remarks += said_dropouts("IVg", current, glitch, "points", lambda start, end: f"Vg {vg[start]:g} to "
                                                                                  f"{vg[end - 1]:g} V")
    if i_min > 0:
        values["on_off_ratio"] = float(read.max()) / i_min
    else:
        remarks.append("on_off_ratio: the smallest |I| is 0 A")
    forward, backward = cnp_legs(vg)
    flat_forward = False
    for column, leg, name in (("cnp_fwd_v", forward, "up-sweep"), ("cnp_bwd_v", backward, "down-sweep")):
        if leg is None:
            remarks.append(f"{column}: no {name} leg")
            continue
        found = dirac_point(
            vg[leg.start : leg.stop],
            i[leg.start : leg.stop],
            fit_window_v=settings.cnp_fit_window_v,
            edge_margin_v=settings.cnp_edge_margin_v,
            glitch=glitch[leg.start : leg.stop],
        )
        values[column] = found.vg
        flat_forward = flat_forward or (found.flat and leg is forward)
        if found.remark:
            remarks.append(f"{column}: {found.remark}")
    defined = [v for v in (values["cnp_fwd_v"], values["cnp_bwd_v"]) if v is not None]
    values["cnp_v"] = sum(defined) / len(defined) if defined else None  # np.mean of one or two: the same bits
    if len(defined) == 1:  # shown as the sweep's CNP beside two-leg means, off from one by half a hysteresis
        alone = "up-sweep" if values["cnp_fwd_v"] is not None else "down-sweep"
        remarks.append(f"cnp_v: the {alone} leg's Dirac point alone (the other leg has none), not a two-leg mean")
    if len(defined) == 2:
        values["hysteresis_v"] = hysteresis = values["cnp_bwd_v"] - values["cnp_fwd_v"]  # type: ignore[operator]
        remarks += _within_lag(hysteresis, vg)
    if forward is None:
        remarks.append("gm: no up-sweep leg to read it on")
    elif flat_forward:  # its largest slope is of the noise: it made mobilities of 28 cm²/(V·s) from a constant I
        remarks.append("gm: the up-sweep leg is flat (see cnp_fwd_v): a gate that does not move the current has no "
                       "transconductance")
    else:
        up = slice(forward.start, forward.stop)
        remarks += _gm_maxima(vg[up], i[up], glitch[up], values, settings)
    return values, remarks


LAG_STEPS = 2  # a hysteresis within this many gate steps is no more than a sweep's settling lag


def _within_lag(hysteresis: float, vg: np.ndarray) -> Remarks:
    """A remark on a hysteresis of up to `LAG_STEPS` gate steps below 0: a current read before it settles puts the
    up-sweep's minimum a step or so late and the down-sweep's early, a shift of −1.3 to −2 steps on the real chips
    that have none of their own (`Step time` 0 s), which is the acquisition's, not the device's. A positive one is
    the device's (the lag only makes it smaller)."""
    if not hysteresis <= 0:
        return []
    step = median(np.abs(vg[1:] - vg[:-1]))  # the sweep's readings are finite (`read_sweep`)
    if not (step > 0 and -LAG_STEPS * step < hysteresis):
        return []
    return [f"hysteresis_v: {hysteresis:+.3g} V is within {LAG_STEPS} gate steps ({step:g} V): a current read before "
            "it settled lags each leg by about a step, so this much is the sweep's, not necessarily the device's"]


def _gm_maxima(
    vg: np.ndarray, i: np.ndarray, glitch: np.ndarray, values: dict[str, float | None], settings: MetricsSettings
) -> Remarks:
    """The largest fall of |I| with Vg left of the forward CNP (or of the raw minimum when the CNP is outside the
    sweep), and its largest rise right of it, the sweep's glitches left out (one spike of 1 mA made it 0.9 mS, 25
    times the sweep's). Signed so: |dI/dVg| took a step the wrong way (a contact recovering, the fall before a
    breakdown) for the transconductance, twice or five times the branch's (two real sweeps)."""
    if glitch.any():
        vg, i = vg[~glitch], i[~glitch]
    x, y = collapse_repeats(vg, i)
    if x.size < 3:
        return ["gm: fewer than 3 distinct Vg on the forward leg"]
    rise = np.sign(y) * savgol_derivative(x, y, window_points(x, settings.gm_window_v), 2)  # d|I|/dVg
    split = values["cnp_fwd_v"]
    if split is None:
        split = float(x[int(np.abs(y).argmin())])
    remarks = []
    # x rises (a forward leg, its repeats averaged): each branch is a slice, found by bisection
    hole, electron = slice(0, int(x.searchsorted(split, "left"))), slice(int(x.searchsorted(split, "right")), x.size)
    for column, side, name, gm in (("gm_max_hole_s", hole, "hole", -rise),
                                   ("gm_max_electron_s", electron, "electron", rise)):
        if side.stop - side.start < 2 or x[side.stop - 1] - x[side.start] < settings.gm_window_v:
            remarks.append(f"{column}: the {name} branch spans less than {settings.gm_window_v:g} V of the sweep")
        elif (largest := float(gm[side].max())) > 0:
            values[column] = largest
        else:
            remarks.append(f"{column}: |I| never {'falls' if name == 'hole' else 'rises'} with Vg on the {name} "
                           "branch")
    return remarks
