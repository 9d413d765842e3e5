"""Laser calibrations (Power against VL): their summary numbers, and the power a calibration gives at a voltage."""

from __future__ import annotations

import math

import numpy as np

from labtui.core.metrics.arrays import true_runs
from labtui.core.metrics.glitches import GLITCH_RUN, glitches
from labtui.core.metrics.it import fit_line

COLUMNS = ("p_max_w", "slope_w_per_v", "threshold_v")
LINEAR_PART = (0.1, 0.9)  # of p_max: above the threshold's knee, below any saturation
LASING = 0.01  # of the rise from the dark reading to p_max: a reading lit beyond doubt (with no dark one beside it)


def calibration_quantities(vl: np.ndarray, power: np.ndarray) -> tuple[dict[str, float | None], list[str]]:
    """p_max_w, and the slope and threshold of the straight part of the curve (see `definitions`)."""
    values: dict[str, float | None] = dict.fromkeys(COLUMNS)
    vl, power, missing, remarks, clip = _cut_curve(vl, power)
    clipped = [] if clip is None else [clip]
    if missing.size:
        remarks.append(f"curve: no Power reading at {_voltages(missing)}: no run between their neighbours is priced")
    if (why := _no_curve(vl)) is not None:
        return values, [f"LaserCalibration: {why}"]
    p_max = float(power.max())
    if not p_max > 0:  # a sensor's negative offset alone (−1.3 nW read as the laser's largest power)
        return values, ["LaserCalibration: no Power reading above 0 W: no light reached the sensor"]
    if (zeroed := _zeroed_under_light(power, p_max)) is not None:
        return values, [f"LaserCalibration: {zeroed}. No quantities from it"]
    values["p_max_w"] = p_max
    remarks += clipped
    if (dark := _dark_reading(vl, power)) is None:
        from labtui.core.si import format_si

        remarks.append(f"threshold_v: the Power reads {format_si(float(power[0]), 'W')} at VL {vl[0]:g} V, its lowest: "
                       "the curve starts lit, with no dark reading to tell where the laser switches on")
    elif p_max <= dark:
        return values, ["LaserCalibration: the power never rises above the dark reading"]
    elif p_max - dark <= LIT_OVER_DARK_W:  # a fibre off the sensor: its noise priced a run at 1.7 nW, 15,000× low
        from labtui.core.si import format_si

        return values, [f"LaserCalibration: the Power rises {format_si(p_max - dark, 'W')} above its dark reading at "
                        f"most, within a sensor's dark scatter ({format_si(LIT_OVER_DARK_W, 'W')}): no light reached "
                        "the sensor; it prices no run"]
    elif (last_off := int(np.flatnonzero(power <= _lit_from(dark, p_max))[-1])) + 1 == vl.size:  # never empty:
        remarks.append("threshold_v: the power falls back to the dark reading at the highest VL")  # the dark one
    elif missing.size and ((missing > vl[last_off]) & (missing < vl[last_off + 1])).any():
        remarks.append(f"threshold_v: the laser switches on between VL {vl[last_off]:g} and {vl[last_off + 1]:g} V, "
                       "where the Power has no reading")
    else:
        values["threshold_v"] = float(vl[last_off + 1])
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
LIT_OVER_DARK_W = 2 * SENSOR_NOISE_W  # a reading this far over the dark one is light (the real lit ones: 25 nW up)


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
    """The curve a run is priced by (`_cut_curve`), with a NaN Power at each VL inside it that has no reading:
    `interpolated` gives no power next to one."""
    vl, power, missing, _, _ = _cut_curve(vl, power)
    if not missing.size:  # every real calibration
        return vl, power
    at = np.searchsorted(vl, missing)
    return np.insert(vl, at, missing), np.insert(power, at, np.nan)


def _cut_curve(vl: np.ndarray, power: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[str], str | None]:
    """The read curve (`_read_curve`) up to where its meter's range clipped it (`_clipped`), the VLs inside it with no
    reading (`_missing`), the read's remarks, and the clip's remark (None: no clip). A VL missing past an end (or in
    the clip) is no gap: the curve ends before it, and a farther calibration may reach the run."""
    missing = _missing(vl, power)
    vl, power, remarks = _read_curve(vl, power)
    clip = None
    if flat := _clipped(power):
        from labtui.core.si import format_si

        clip = (f"p_max_w: the Power reads a flat {format_si(float(power[-1]), 'W')} from VL {vl[-flat]:g} V on: the "
                "meter's range clipped it; no run at those voltages is priced")
        vl, power = vl[:-flat], power[:-flat]
    if missing.size and vl.size:
        missing = missing[(missing > vl[0]) & (missing < vl[-1])]
    return vl, power, missing, remarks, clip


def _read_curve(vl: np.ndarray, power: np.ndarray) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Finite points sorted by VL, without the sensor's glitches (`glitches`: a dropout or a
    spike of up to 3 readings between two others; one reading of 0 W at a run's VL priced it at 1e-20 W, a
    responsivity of 1e12 A/W, unflagged) nor a first reading that spikes above the dark ones after it (`_spike_first`,
    said in the remarks); readings repeated at one VL are one point, their mean (the best estimate of the power there:
    `np.interp` took whichever sorted last, the largest, and the curve's dark reading, p_max and slope the extremes
    of the repeats)."""
    vl, power = _merged(vl, power)
    remarks = []
    if _spike_first(power):
        from labtui.core.si import format_si

        remarks.append(f"curve: its first reading ({format_si(float(power[0]), 'W')} at VL {vl[0]:g} V) "
                       "stands above the dark readings after it, a settling spike: left out")
        vl, power = vl[1:], power[1:]
    if (glitch := _lit_glitches(vl, power)).any():  # a monotone curve has none
        vl, power = vl[~glitch], power[~glitch]
    return vl, power, remarks


def _missing(vl: np.ndarray, power: np.ndarray) -> np.ndarray:
    """The VLs at which a curve has no Power reading (NaN, an overflow mark: `per_run._readings`), sorted; where a
    finite reading at one of them is also there, it is read. `np.interp` drew a line across three missing readings
    of a curve's knee, 54 % over the run's power, unsaid."""
    if (read_power := np.isfinite(power)).all():  # a calibration's few points: no sums to overflow (`all_finite`)
        return np.empty(0)
    read = vl[np.isfinite(vl) & read_power]
    gaps = vl[np.isfinite(vl) & ~read_power]
    return np.sort(gaps[~np.isin(gaps, read)])


def _voltages(values: np.ndarray) -> str:
    """Sorted VLs for a remark: `VL 0.1, 0.3 and 4.5 V`; past six, `9 VLs from 1.6 to 2.4 V`."""
    texts = [f"{value:g}" for value in values.tolist()]
    if len(texts) > 6:
        return f"{len(texts)} VLs from {texts[0]} to {texts[-1]} V"
    return f"VL {texts[0]} V" if len(texts) == 1 else f"VL {', '.join(texts[:-1])} and {texts[-1]} V"


def _lit_alone(reading: float, p_max: float) -> bool:
    """Whether a reading is the laser's light with no dark reading to compare it with: above LASING of the curve's
    p_max and above the sensor's dark scatter (the real dark readings: 0.5–20 nW, at most 0.3 % of their p_max)."""
    return reading > max(LASING * p_max, LIT_OVER_DARK_W)


def _spike_first(power: np.ndarray) -> bool:
    """Whether a curve's first reading is a settling spike: lit (`_lit_alone`) before a dark one, and above the
    reading after that (a lit start whose next reading dropped out climbs on past it: a glitch, passed over after).
    As the dark reading a spike moved the threshold to 1.3 V for 0.2 V and refused every run below it; `glitches`
    reads no end."""
    if power.size < 3:
        return False
    first, p_max = float(power[0]), float(power.max())
    return _lit_alone(first, p_max) and not _lit_alone(float(power[1]), p_max) and float(power[2]) < first


CLIMB_V = 0.1  # a curve's start climbs where its next readings within this much VL (two at least) rise above it


def _dark_reading(vl: np.ndarray, power: np.ndarray) -> float | None:
    """A curve's dark reading (of its finite points): its first, at its lowest VL; None when the curve starts lit:
    its first reading lit (`_lit_alone`), at a VL above 0 V, and the readings within CLIMB_V after it (two at least,
    whatever the step: a dropout among them is passed over) rising above it by LASING of p_max (a sweep from 0.5 V,
    or its 0 V reading missing). The threshold is then unknown, and a run is priced as the curve measured it: as
    the dark reading, a lit one refused runs at its own VL as "not above its laser's threshold". A start as high
    but flat (an ambient offset, a weak laser's sensor), or at 0 V (the laser not driven), is dark."""
    first, p_max = float(power[0]), float(power.max())
    if vl[0] <= 0 or not _lit_alone(first, p_max):
        return first
    ahead = power[1 : max(int(np.searchsorted(vl, vl[0] + CLIMB_V, side="right")), 3)]
    return None if ahead.size and float(ahead.max()) - first > LASING * p_max else first


def _clipped(power: np.ndarray) -> int:
    """How many readings at a curve's highest VLs read exactly its largest Power, when two or more do (else 0): a
    meter on a fixed range writes its full scale past it (no real curve repeats its largest reading), and a run at
    those voltages was priced at the clip, 20 % low, unsaid."""
    if power.size < 2 or not power[-1] > 0 or power[-1] != power[-2] or power[-1] != power.max():
        return 0
    below = np.flatnonzero(power != power[-1])
    flat = power.size - int(below[-1]) - 1 if below.size else power.size
    return flat if power.size - flat >= 2 else 0  # a curve flat throughout, or all but one reading: no clip to tell


def _lit_glitches(vl: np.ndarray, power: np.ndarray) -> np.ndarray:
    """The glitches of a curve's lit part: runs (`glitches`, the interior's) whose readings on both sides are lit,
    above the dark reading (`_dark_reading`; a curve that starts lit has none: 0 W) by LASING of the rise to the
    curve's 4th largest reading (which 3 spikes cannot lift).
    The dark readings' noise is no glitch: a dark reading before the knee passed over as a "dropout" let `np.interp`
    draw a line from the dark level to the first lit one, pricing a run below the threshold at 600× its power."""
    if power.size < 3:
        return np.zeros(power.size, dtype=bool)
    with np.errstate(all="ignore"):  # readings near ±1e308 overflow when doubled: compared as inf, no warning
        glitch = glitches(np.abs(power), ends=False)
    if not glitch.any():
        return glitch
    fourth = max(power.size - 1 - GLITCH_RUN, 0)
    dark, top = _dark_reading(vl, power), float(np.partition(power, fourth)[fourth])
    dark = 0.0 if dark is None else dark  # a lit start whose next reading dropped out: the dropout is one
    lit = power > _lit_from(dark, top)
    for start, end in true_runs(glitch):
        if not (lit[start - 1] and lit[end]):  # `ends=False`: every run has a reading on each side
            glitch[start:end] = False
    return glitch


def _merged(vl: np.ndarray, power: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The finite points sorted by VL, readings repeated at one VL made one point, their mean."""
    keep = np.isfinite(vl) & np.isfinite(power)
    order = np.lexsort((power[keep], vl[keep]))  # repeats by power too: their mean's rounding is the rows' order's
    vl, power = vl[keep][order], power[keep][order]
    if vl.size < 2 or vl[0] == vl[-1] or (vl[1:] != vl[:-1]).all():  # one VL is no curve (`_no_curve` says so);
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
    slack = _slack(vl)
    with np.errstate(all="ignore"):
        at = interpolated(vl, power, laser_vs)
        level, dark_until = _lasing(vl, power)
        lasing = (at > level) & (np.asarray(laser_vs) > dark_until + slack)
    return np.where((laser_vs >= vl[0] - slack) & (laser_vs <= vl[-1] + slack) & lasing, at, np.nan)


def interpolated(vl: np.ndarray, power: np.ndarray, at: np.ndarray) -> np.ndarray:
    """The curve's Power at the voltages `at`, linear between readings; NaN between a reading and a VL with none
    (`calibration_curve`'s NaN), not a line across the gap. np.interp alone gives NaN there too, but also at a
    reading beside a gap."""
    if (read := np.isfinite(power)).all():  # every real calibration has a reading at each VL
        return np.interp(at, vl, power)
    if not read.any():
        return np.full(np.shape(at), np.nan)
    values = np.interp(at, vl[read], power[read])
    left = np.clip(np.searchsorted(vl, at, side="right") - 1, 0, vl.size - 1)
    right = np.minimum(left + 1, vl.size - 1)
    slack = _slack(vl)  # a setpoint written 0.30000000000000004 is the reading at 0.3 V
    on_reading = (read[left] & (np.abs(vl[left] - at) <= slack)) | (read[right] & (np.abs(vl[right] - at) <= slack))
    return np.where(on_reading | (read[left] & read[right]), values, np.nan)


def _lasing(vl: np.ndarray, power: np.ndarray) -> tuple[float, float]:
    """The power a curve must exceed for its laser to be on: `_lit_from` its dark reading (`_dark_reading`; without
    one, 0 W) and p_max (`threshold_v`'s level), and 0 W. Below it the sensor reads its own offset, no light: a
    responsivity over it is off by orders of magnitude. And the VL of the last reading at or under that level before
    the curve's top (−inf: none), at or below which no run is priced: a reading of the sensor's noise over the level
    below the laser's threshold (one count of a coarse meter, 22 nW over a dark reading of −15 nW) priced a run."""
    if not (read := np.isfinite(power)).all():  # a curve with gaps (`calibration_curve`): its readings
        if not read.any():  # no reading at all: no power either (`interpolated`)
            return 0.0, -math.inf
        vl, power = vl[read], power[read]
    if (dark := _dark_reading(vl, power)) is None:
        return 0.0, -math.inf
    level = max(_lit_from(dark, float(power.max())), 0.0)
    off = np.flatnonzero(power[: int(np.argmax(power)) + 1] <= level)
    return level, float(vl[off[-1]]) if off.size else -math.inf


LIT_SHARE = 0.001  # of a curve's rise: a reading this far above its dark one is light on any sensor's range


def _lit_from(dark: float, top: float) -> float:
    """The power from which a curve's laser is on: its `dark` reading and the larger of LIT_SHARE of its rise to
    `top` and twice the sensor's dark scatter (or LASING of the rise, where that is less: a weak laser's curve).
    1 % of the rise alone put 14 of the real calibrations' threshold at 0.2 V where they read 25–250 nW at 0.1 V,
    6–60× their dark reading: light, which a run at 0.1 V would have been refused."""
    rise = top - dark
    return dark + max(LIT_SHARE * rise, min(LIT_OVER_DARK_W, LASING * rise))


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
        at = float(interpolated(vl, power, np.array([laser_v]))[0])
        lasing, dark_until = _lasing(vl, power)
    if math.isnan(at) and not np.isfinite(power).all():
        return None, f"power_w: the calibration has no Power reading next to VL {laser_v:g} V: none is drawn across"
    if not at > 0:
        return None, f"power_w: the calibration gives {at:.3g} W at VL {laser_v:g} V, no power above 0 W"
    if not at > lasing:
        return None, (f"power_w: the calibration gives {at:.3g} W at VL {laser_v:g} V, not above its laser's threshold "
                      f"({lasing:.3g} W: its dark reading and a margin over the sensor's noise, see threshold_v): "
                      "no light to price")
    if laser_v <= dark_until + _slack(vl):
        return None, (f"power_w: VL {laser_v:g} V is below its laser's threshold (the calibration reads dark up to "
                      f"{dark_until:g} V, see threshold_v): its {at:.3g} W there is the sensor's noise, no light to "
                      "price")
    return at, None
