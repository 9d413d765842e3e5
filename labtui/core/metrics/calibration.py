"""Laser calibrations (Power against VL): their summary numbers, and the power a calibration gives at a voltage."""

from __future__ import annotations

import math

import numpy as np

from labtui.core.metrics.glitches import GLITCH_RUN, glitches
from labtui.core.metrics.it import fit_line

COLUMNS = ("p_max_w", "slope_w_per_v", "threshold_v")
LINEAR_PART = (0.1, 0.9)  # of p_max: above the threshold's knee, below any saturation
LASING = 0.01  # of the rise from the dark reading to p_max: the laser is on


def calibration_quantities(vl: np.ndarray, power: np.ndarray) -> tuple[dict[str, float | None], list[str]]:
    """p_max_w, and the slope and threshold of the straight part of the curve (see `definitions`)."""
    values: dict[str, float | None] = dict.fromkeys(COLUMNS)
    vl, power = _read_curve(vl, power)
    clipped = []
    if flat := _clipped(power):
        from labtui.core.si import format_si

        clipped = [f"p_max_w: the Power reads a flat {format_si(float(power[-1]), 'W')} from VL {vl[-flat]:g} V on: "
                   "the meter's range clipped it; no run at those voltages is priced"]
        vl, power = vl[:-flat], power[:-flat]
    if (why := _no_curve(vl)) is not None:
        return values, [f"LaserCalibration: {why}"]
    p_max = float(power.max())
    if not p_max > 0:  # a sensor's negative offset alone (−1.3 nW read as the laser's largest power)
        return values, ["LaserCalibration: no Power reading above 0 W: no light reached the sensor"]
    if (zeroed := _zeroed_under_light(power, p_max)) is not None:
        return values, [f"LaserCalibration: {zeroed}. No quantities from it"]
    values["p_max_w"] = p_max
    dark = float(power[0])
    if p_max <= dark:
        return values, ["LaserCalibration: the power never rises above the dark reading"]
    remarks = clipped
    off = np.flatnonzero(power <= _lit_from(dark, p_max))  # never empty: the dark reading itself
    if off[-1] + 1 < vl.size:
        values["threshold_v"] = float(vl[off[-1] + 1])
    else:
        remarks.append("threshold_v: the power falls back to the dark reading at the highest VL")
    linear = (power >= LINEAR_PART[0] * p_max) & (power <= LINEAR_PART[1] * p_max)
    vl_linear = vl[linear]  # sorted, as `vl` is
    # fewer than 3 distinct VL; not np.unique, whose first call imports for ~7 ms in a stage
    if np.count_nonzero(vl_linear[1:] != vl_linear[:-1]) < 2:
        return values, [*remarks, "slope_w_per_v: fewer than 3 points on the linear part (10–90 % of p_max_w)"]
    # least squares by centred sums, not np.polyfit: on absurd values (±1e308) LAPACK printed its errors straight
    # onto the terminal (under the app's screen) and NumPy a RankWarning
    slope = fit_line(vl_linear, power[linear])[0]
    if slope is None or not math.isfinite(slope):
        return values, [*remarks, "slope_w_per_v: no finite fit (VL or Power near the limits of a float)"]
    if slope <= 0:
        return values, [*remarks, "slope_w_per_v: the power does not rise with VL"]
    values["slope_w_per_v"] = float(slope)
    return values, remarks


SENSOR_NOISE_W = 10e-9  # a photodiode sensor's dark readings scatter by a few nW (the real ones: +0.5–20 nW)


def _zeroed_under_light(power: np.ndarray, p_max: float) -> str | None:
    """Why a curve's powers all read low, when its reading at the lowest VL is below 0 W by more than LASING of
    p_max and SENSOR_NOISE_W: a sensor zeroed with light on it reads every power low by as much, and priced runs low
    unsaid. Not where the next reading is a dark one near 0 W (within the noise below it, under LASING of p_max above
    it): then the first is a glitch, which an offset is not (it moves them all). Many real curves have one dark
    reading, so no median of several can tell the offset."""
    first = float(power[0])
    if not first < -max(LASING * p_max, SENSOR_NOISE_W):
        return None
    if power.size > 1 and -SENSOR_NOISE_W <= float(power[1]) <= LASING * p_max:
        return None
    from labtui.core.si import format_si

    return (f"its reading at the lowest laser voltage is below 0 W ({format_si(first, 'W')}, {-first / p_max:.0%} of P "
            "max): a sensor zeroed with light on it reads every power low by as much")


def calibration_curve(vl: np.ndarray, power: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The curve a run is priced by (`_read_curve`), up to where its meter's range clipped it (`_clipped`)."""
    vl, power = _read_curve(vl, power)
    return (vl[:-flat], power[:-flat]) if (flat := _clipped(power)) else (vl, power)


def _read_curve(vl: np.ndarray, power: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Finite points sorted by VL, ready for `np.interp`, without the sensor's glitches (`glitches`: a dropout or a
    spike of up to 3 readings between two others; one reading of 0 W at a run's VL priced it at 1e-20 W, a
    responsivity of 1e12 A/W, unflagged); readings repeated at one VL are one point, their mean (the best estimate
    of the power there: `np.interp` took whichever sorted last, the largest, and the curve's dark reading, p_max and
    slope the extremes of the repeats)."""
    vl, power = _merged(vl, power)
    glitch = _lit_glitches(power)
    return (vl[~glitch], power[~glitch]) if glitch.any() else (vl, power)  # a monotone curve has none


def _clipped(power: np.ndarray) -> int:
    """How many readings at a curve's highest VLs read exactly its largest Power, when two or more do (else 0): a
    meter on a fixed range writes its full scale past it (no real curve repeats its largest reading), and a run at
    those voltages was priced at the clip, 20 % low, unsaid."""
    if power.size < 2 or not power[-1] > 0 or power[-1] != power[-2] or power[-1] != power.max():
        return 0
    below = np.flatnonzero(power != power[-1])
    flat = power.size - int(below[-1]) - 1 if below.size else power.size
    return flat if power.size - flat >= 2 else 0  # a curve flat throughout, or all but one reading: no clip to tell


def _lit_glitches(power: np.ndarray) -> np.ndarray:
    """The glitches of a curve's lit part: runs (`glitches`, the interior's) whose readings on both sides are lit,
    above the dark reading by LASING of the rise to the curve's 4th largest reading (which 3 spikes cannot lift).
    The dark readings' noise is no glitch: a dark reading before the knee passed over as a "dropout" let `np.interp`
    draw a line from the dark level to the first lit one, pricing a run below the threshold at 600× its power."""
    if power.size < 3:
        return np.zeros(power.size, dtype=bool)
    with np.errstate(all="ignore"):  # readings near ±1e308 overflow when doubled: compared as inf, no warning
        glitch = glitches(np.abs(power), ends=False)
    if not glitch.any():
        return glitch
    fourth = max(power.size - 1 - GLITCH_RUN, 0)
    dark, top = float(power[0]), float(np.partition(power, fourth)[fourth])
    lit = power > _lit_from(dark, top)
    edges = np.flatnonzero(np.diff(np.r_[False, glitch, False].astype(np.int8)))  # each run's start, then its end
    for start, end in zip(edges[::2], edges[1::2], strict=True):
        if not (lit[start - 1] and lit[end]):  # `ends=False`: every run has a reading on each side
            glitch[start:end] = False
    return glitch


def _merged(vl: np.ndarray, power: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The finite points sorted by VL, readings repeated at one VL made one point, their mean."""
    keep = np.isfinite(vl) & np.isfinite(power)
    order = np.lexsort((power[keep], vl[keep]))  # repeats by power too: their mean's rounding is the rows' order's
    vl, power = vl[keep][order], power[keep][order]
    if vl.size < 2 or vl[0] == vl[-1] or np.all(vl[1:] != vl[:-1]):  # one VL is no curve (`_no_curve` says so);
        return vl, power  # no repeats: every real calibration
    starts = np.flatnonzero(np.r_[True, vl[1:] != vl[:-1]])
    counts = np.diff(np.r_[starts, vl.size])
    return vl[starts], np.add.reduceat(power / np.repeat(counts, counts), starts)  # each divided first: no overflow


def _no_curve(vl: np.ndarray) -> str | None:
    """Why a calibration curve's VL values make no curve: fewer than 2 points, or one voltage (a stuck VL column)."""
    if vl.size < 2:
        return "fewer than 2 finite points"
    return None if vl[-1] > vl[0] else f"VL never changes ({vl[0]:g} V): a power at one voltage is no curve"


def powers_at(vl: np.ndarray, power: np.ndarray, laser_vs: np.ndarray) -> np.ndarray:
    """The powers `power_at` gives at many voltages at once; NaN where it gives none (outside the curve's VL range,
    not above its laser's threshold or 0 W, or no curve)."""
    if _no_curve(vl) is not None:
        return np.full(laser_vs.shape, np.nan)
    with np.errstate(all="ignore"):
        at = np.interp(laser_vs, vl, power)
        lasing = at > _lasing_level(power)
    slack = _slack(vl)
    return np.where((laser_vs >= vl[0] - slack) & (laser_vs <= vl[-1] + slack) & lasing, at, np.nan)


def _lasing_level(power: np.ndarray) -> float:
    """The power a curve must exceed for its laser to be on: `_lit_from` its dark reading (the lowest VL's) and p_max
    (`threshold_v`'s level), and 0 W. Below it the sensor reads its own offset, no light: a responsivity over it is
    off by orders of magnitude."""
    return max(_lit_from(float(power[0]), float(power.max())), 0.0)


def _lit_from(dark: float, top: float) -> float:
    """The power from which a curve's laser is on: its `dark` reading and LASING of its rise to `top`."""
    return dark + LASING * (top - dark)


def in_range(vl: np.ndarray, laser_v: float) -> bool:
    """Whether a sorted curve's VL range holds `laser_v` (allowing for its float drift, `_slack`)."""
    return vl[0] - (slack := _slack(vl)) <= laser_v <= vl[-1] + slack


def _slack(vl: np.ndarray) -> float:
    """How far past a curve's ends a laser voltage is still in its range: float drift of the setpoints (a cumulative
    0.1 V sum writes 5 V as 4.999999999999998, which priced no run at 5 V). `np.interp` holds the end's power."""
    return 1e-6 * float(vl[-1] - vl[0])


def power_at(vl: np.ndarray, power: np.ndarray, laser_v: float) -> tuple[float | None, str | None]:
    """Linear interpolation of a sorted calibration curve at `laser_v`; never extrapolated beyond its VL range, and
    no power where the curve gives none above 0 W (a responsivity over it would be infinite or of the wrong sign)."""
    if (why := _no_curve(vl)) is not None:
        return None, f"power_w: the calibration has {why}" if vl.size < 2 else f"power_w: the calibration's {why}"
    if not in_range(vl, laser_v):
        return None, f"power_w: VL {laser_v:g} V is outside the calibrated {vl[0]:g}–{vl[-1]:g} V"
    with np.errstate(all="ignore"):  # points near ±1e308 overflow between them: NaN, refused below
        at = float(np.interp(laser_v, vl, power))
        lasing = _lasing_level(power)
    if not at > 0:
        return None, f"power_w: the calibration gives {at:.3g} W at VL {laser_v:g} V, no power above 0 W"
    if not at > lasing:
        return None, (f"power_w: the calibration gives {at:.3g} W at VL {laser_v:g} V, not above its laser's threshold "
                      f"({lasing:.3g} W: its dark reading and 1 % of its rise): no light to price")
    return at, None
