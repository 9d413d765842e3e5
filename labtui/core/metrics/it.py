"""Photoresponse of an It run (current against time under a laser pulse): pure numpy on one run's columns.

The run is dark until the first sample with VL ≥ the light threshold (switch-on), lit until the first sample
after it below the threshold (switch-off), dark again after; a sample whose VL is missing (NaN) switches neither.
Windows are measured back from those two edges.

A run's windows are a few hundred samples, whose NumPy calls cost their Python layers more than their arithmetic:
ndarray methods and slices (`t.searchsorted`, `t[1:] - t[:-1]`), not the functions that wrap them (~1–3 µs each).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import partial

import numpy as np

from labtui.core.config import MetricsSettings
from labtui.core.metrics.arrays import all_finite, median
from labtui.core.metrics.definitions import (
    DRIFT_MAKES_ALL,
    FLICKER_SAMPLES,
    GAP_SHARE,
    GAP_SPACINGS,
    RESOLVED_SIGMAS,
    drift_share,
)
from labtui.core.metrics.glitches import BREAKDOWN_FALL, said_dropouts, trace_glitches
from labtui.core.metrics.ivg import vds_doubt
from labtui.core.wording import told_apart

COLUMNS = ("i_dark_a", "delta_i_a", "delta_i_rel", "drift_a_per_s", "delta_i_drift_corrected_a", "delta_i_snr",
           "tau_rise_s", "tau_decay_s")
_COVERAGE = 0.9  # a window counts when the run covers this share of it (samples are ~0.08 s apart)
MISREAD_SHARE = 0.1  # a laser off within a pulse for less than this share of the window is one too


def laser_on(vl: np.ndarray, threshold: float, t: np.ndarray | None = None, window_s: float = 0.0,
             laser_v: float | None = None) -> np.ndarray:
    """Whether the laser is on at each sample: VL ≥ `threshold`. A sample whose VL is missing (NaN) keeps the state
    of the last recorded one (none: off), and a state held for at most FLICKER_SAMPLES samples is a misread VL, not
    a switch (one 0 V sample mid-pulse switched the laser off a minute early: half the ΔI): it takes the state of
    the last stretch held longer (the first, before any).

    With the clock `t` and the averaging window `window_s`, so is a blip: a state between two of the other, held
    under MISREAD_SHARE of the window and a tenth of the two around it (3 samples of 0 V, 0.25 s mid-pulse, or
    0.5 s after the switch-on, read as a second pulse, flipped ΔI's sign) — a laser off always, a laser on only
    beside a longer pulse or in a run its header says is dark (its laser voltage `laser_v` under the threshold: VL
    noise reaching the threshold read as pulses). A lone short pulse, or a train of them, stays what it is; in a run
    the header says is dark, an on shorter than that anywhere is a misread too. The metrics read the pulse and the
    plots shade it from this one answer."""
    on = vl >= threshold  # NaN compares False
    if not on.any():  # a dark run (80k samples, most of a stage's): nothing to switch
        return on
    if (missing := np.isnan(vl)).any():
        on = on[np.maximum.accumulate(np.where(missing, 0, np.arange(vl.size)))]
    bounds = np.concatenate(([0], (on[1:] != on[:-1]).nonzero()[0] + 1, [on.size]))  # of each stretch of one state
    starts, lengths = bounds[:-1], bounds[1:] - bounds[:-1]
    held = lengths > FLICKER_SAMPLES
    held[-1] |= not on[starts[-1]]  # a laser off for the run's last samples is a switch-off it ended at, no misread:
    # one or two of them read as "never switched off", and the run lost its ΔI
    # a pulse (dark, lit, dark: every real lit run) in a run its header says is lit holds no blip: no clock to read
    header_dark = laser_v is not None and not laser_v >= threshold
    pulse = starts.size == 3 and on[starts[1]] and not header_dark
    if t is not None and window_s > 0 and not pulse:
        with np.errstate(invalid="ignore"):  # a clock of inf: NaN spans, compared False below (held)
            spans = np.abs(np.diff(t[np.append(starts, t.size - 1)]))  # each stretch's, to the next one's start
        short, lit = spans < MISREAD_SHARE * window_s, on[starts]
        if header_dark and not (lit & ~short).any():  # only slivers of light where the header says dark
            return np.zeros(on.size, dtype=bool)
        if starts.size > 2:
            longer_pulse = bool((lit & ~short).any())
            blip = short[1:-1] & (10 * spans[1:-1] < spans[:-2] + spans[2:]) & (
                ~lit[1:-1] | longer_pulse | header_dark)
            held[1:-1] &= ~blip
    if held.all() or not held.any():  # no misread (every real run), or no stretch to trust
        return on
    last_held = np.maximum.accumulate(np.where(held, np.arange(starts.size), -1))
    return np.repeat(on[starts][np.where(last_held >= 0, last_held, int(np.argmax(held)))], lengths)


def it_quantities(
    t: np.ndarray, i: np.ndarray, vl: np.ndarray, vds_v: float | None, settings: MetricsSettings,
    laser_v: float | None = None,
) -> tuple[dict[str, float | None], list[str]]:
    """The from-data It quantities (see `definitions`) and remarks on the ones left null; `laser_v`: the header's
    laser voltage, which says whether the run is meant lit (`laser_on`).

    Times are the acquisition's monotonic clock, so windows are index ranges found by bisection (long dark runs
    have 80k+ samples: no whole-array masks beyond the one that finds the laser edges). A contact dropout passed
    over is said first, whatever else is.
    """
    keep, dropped = readings(t, i)
    values, remarks = _quantities(t, i, vl, keep, vds_v, settings, laser_v)
    return values, [*dropped, *remarks]


def _quantities(
    t: np.ndarray, i: np.ndarray, vl: np.ndarray, keep: np.ndarray | None, vds_v: float | None,
    settings: MetricsSettings, laser_v: float | None,
) -> tuple[dict[str, float | None], list[str]]:
    """`it_quantities` of the samples `keep` (None: all) says are readings."""
    values: dict[str, float | None] = dict.fromkeys(COLUMNS)
    step = None  # the clock's step, where samples were left out: a window must still hold its share of them
    recorded_t, recorded_vl = t, vl
    if keep is not None:
        clock = t[np.isfinite(t)]
        if clock.size > 1:
            step = float(clock[-1] - clock[0]) / (clock.size - 1)
        t, i, vl = t[keep], i[keep], vl[keep]
    if t.size < 3:
        return values, ["It: fewer than 3 finite points"]
    if (back := (t[1:] < t[:-1]).nonzero()[0]).size:  # every window below is found by bisection on t
        before, after = told_apart(t[back[0]], t[back[0] + 1])
        return values, [f"It: t (s) goes back at sample {int(back[0]) + 2} ({before} → {after} s): "
                        "rows out of order or two runs in one file"]
    if not (math.isfinite(vl[0]) or np.isfinite(vl).any()):  # the first sample answers for every real run
        return values, ["It: the VL column holds no value: when the laser was on is unknown"]
    on = laser_on(vl, settings.light_threshold_v, t, settings.it_window_s, laser_v)
    k_on = int(on.argmax())
    if not on[k_on]:
        # not a dark run: its lit samples lost to readings of I that are none
        if keep is not None and (was_on := laser_on(recorded_vl, settings.light_threshold_v, recorded_t,
                                                     settings.it_window_s, laser_v)).any() and \
                (read := int(np.count_nonzero(keep[was_on]))) < (lit_samples := int(np.count_nonzero(was_on))):
            held = "no reading" if not read else f"{read} readings of its {lit_samples} samples"
            return values, [f"photoresponse: the laser switched on at {float(recorded_t[np.argmax(was_on)]):.4g} s, "
                            f"but I holds {held} while it was on (NaN, overflow marks or contact glitches)"]
        values["i_dark_a"] = _mean(i)
        values["drift_a_per_s"] = fit_line(t, i)[0]
        return values, ["photoresponse: the laser never switched on (a dark run, or one stopped before its pulse)"]
    t_on, window = float(t[k_on]), settings.it_window_s
    if t_on - t[0] < _COVERAGE * window:
        return values, [
            f"It: the laser switched on {t_on - t[0]:.3g} s into the run, before a {window:g} s dark window"
        ]
    dark = dark_window(t, k_on, window)
    if dark.start >= dark.stop:
        return values, ["It: no sample in the dark window"]
    settled = slice(int(t.searchsorted(t_on - settings.it_drift_window_s)), k_on)  # the start's transient left out
    spacing = partial(sample_spacing, t, settled)  # taken only where a stretch may be a gap (rarely: not cached)
    if (thin := _thin(dark, window, step, "dark") or _gap(t, dark, t_on, window, spacing, "dark")) is not None:
        return values, [thin]
    values["i_dark_a"] = i_dark = _mean(i[dark])
    values["drift_a_per_s"] = drift = fit_line(t[settled], i[settled])[0]
    if vds_v and abs(i_dark / vds_v) < settings.dead_conductance_s:
        return values, [f"photoresponse: dead channel (|I| {abs(i_dark):.2g} A at Vds {vds_v:g} V){vds_doubt(vds_v)}"]
    off = ~on[k_on:]
    k_off = k_on + int(off.argmax())
    if not off[k_off - k_on]:
        return values, ["photoresponse: the laser never switched off before the run ended (no dark after the pulse)"]
    t_off = float(t[k_off])
    k_end, remarks = t.size, []  # the dark after the pulse ends where the laser switches on again
    if (again := on[k_off:]).any():  # only the first pulse is read (the definitions say so): said, as its data show it
        k_end = k_off + int(again.argmax())
        remarks = [f"photoresponse: the laser switched on again at {float(t[k_end]):.4g} s (several pulses in one "
                   "run): only the first is read"]
    if t_off - t_on < _COVERAGE * window:
        return values, [*remarks, f"photoresponse: the laser was on {t_off - t_on:.3g} s, less than the {window:g} s "
                                  "window"]
    lit = slice(max(int(t.searchsorted(t_off - window)), k_on), k_off)
    if lit.start >= lit.stop:
        return values, [*remarks, "photoresponse: no sample in the window before switch-off"]
    span = min(window, t_off - t_on)
    if (thin := _thin(lit, span, step, "lit") or _gap(t, lit, t_off, span, spacing, "lit")) is not None:
        return values, [*remarks, thin]
    values["delta_i_a"] = delta = _mean(i[lit]) - i_dark
    values["delta_i_rel"] = delta / i_dark if i_dark else None
    if drift is not None:
        values["delta_i_drift_corrected_a"] = delta - drift * (_mean(t[lit]) - _mean(t[dark]))
    remarks += _times(t, i, k_on, k_off, k_end, i_dark, delta, settled, values, spacing, settings)
    return values, remarks + _times_of_drift(values)


def _times_of_drift(values: dict[str, float | None]) -> list[str]:
    """A remark on τ where the dark drift alone could make ΔI (`DRIFT_ALONE`, which puts the responsivity in
    doubt): the 63 % times of a step the drift makes are the drift's (27 of the real corpus's 174 τ_rise)."""
    if values["tau_rise_s"] is None and values["tau_decay_s"] is None:
        return []
    if not (share := drift_share(values)) or not share >= DRIFT_MAKES_ALL:
        return []
    return ["tau_rise_s, tau_decay_s: the dark drift carried on under the light could make ΔI alone: the times may "
            "be the drift's, not the device's response"]


VL_AGREES = 0.01  # the VL column while lit and the header's laser voltage agree within this share (real runs: equal)


def lit_vl_disagrees(vl: np.ndarray, laser_v: float | None, threshold: float) -> list[str]:
    """A remark when the VL column reads another voltage while lit (its median over the samples ≥ `threshold`) than
    the header's `laser_v`, which prices the run's power: a header written for another setting (0.5 V in the header,
    3.52 V driven, made a responsivity 9× the run's) or a VL logged in other units; or never lit at all (a power
    beside "the laser never switched on", unsaid)."""
    if laser_v is None or not laser_v >= threshold:
        return []
    lit = vl[vl >= threshold]
    if not lit.size and np.isfinite(vl).any():  # a header written for a lit run the laser never reached (no VL
        # at all is said by `it_quantities`)
        return [f"It: the VL column never reaches {threshold:g} V, the header's laser voltage {laser_v:g} V (power_w "
                "is priced at the header's)"]
    if not lit.size or VL_AGREES * laser_v >= max(laser_v - float(lit.min()), float(lit.max()) - laser_v):
        return []  # every lit sample agrees (every real run): no median to take
    if abs((level := median(lit)) - laser_v) <= VL_AGREES * laser_v:
        return []
    return [f"It: the VL column reads {level:.4g} V while lit, the header's laser voltage {laser_v:g} V (power_w "
            "is priced at the header's)"]


def _thin(samples: slice, span: float, step: float | None, name: str) -> str | None:
    """Why a window of `span` seconds cannot be averaged: it holds under _COVERAGE of the samples the clock's `step`
    puts in it, the others no readings (NaN, an overflow mark); None when it holds enough, or none were left out."""
    expected = span / step if step else 0.0
    held = samples.stop - samples.start
    if held >= _COVERAGE * expected:
        return None
    return (f"It: {held} of the ~{expected:.0f} samples in the {span:g} s {name} window are readings (the rest NaN, "
            "overflow marks or contact glitches): too few to average")


def sample_spacing(t: np.ndarray, samples: slice) -> float:
    """The run's usual interval between samples: the median over `samples` (the drift window's, a few hundred:
    a gap in them changes it not), else over the run."""
    clock = t[samples] if samples.stop - samples.start > 2 else t
    return median(clock[1:] - clock[:-1])


def _gap(t: np.ndarray, samples: slice, edge: float, span: float, spacing: Callable[[], float],
         name: str) -> str | None:
    """Why the `span` seconds before `edge` cannot be averaged: a stretch of over half of them holds no reading (and
    over 2 of the run's usual `spacing()`: a run sampled every 3 s is no gap): rows missing, or readings left out (6
    samples of the last 0.5 s read as a lit window's 5 s). None when the readings cover it."""
    inside = t[samples]
    stretch, since = _widest_interval(inside)
    for width, start in ((float(inside[0]) - (edge - span), edge - span), (edge - float(inside[-1]), inside[-1])):
        if width > stretch:
            stretch, since = width, float(start)
    if not (stretch > span / 2 and stretch > 2 * spacing()):
        return None
    return (f"It: no reading between {since:.6g} and {since + stretch:.6g} s, over half the {span:g} s {name} "
            "window (rows missing, or NaN, overflow marks or glitches): too little of it to average")


def _widest_interval(times: np.ndarray) -> tuple[float, float]:
    """The widest interval between two consecutive `times`, and the time it starts at; (0, 0) for fewer than two."""
    steps = times[1:] - times[:-1]
    if not steps.size:
        return 0.0, 0.0
    at = int(steps.argmax())
    return float(steps[at]), float(times[at])


def readings(t: np.ndarray, i: np.ndarray) -> tuple[np.ndarray | None, list[str]]:
    """Which samples are readings of the channel: t and I finite, and no contact glitch (`glitches`: a spike of up to
    GLITCH_RUN samples, which made ΔI 37× with one sample in a window, or a dropout); None when all are. And a remark
    for each dropout longer than a glitch: passed over, but said.

    A run whose |I| stays within ×BREAKDOWN_FALL of its least (every real one: a photoresponse is a few %) can
    hold no glitch: two reductions instead of the comparisons over 80k samples. Noise around 0 is none either
    (`trace_glitches`: a photocurrent at Vds 0 V)."""
    keep = None if all_finite(t, i) else np.isfinite(t) & np.isfinite(i)
    current = i if keep is None else i[keep]
    if not current.size:
        return keep, []
    low, high = float(current.min()), float(current.max())
    if (low > 0 and high < BREAKDOWN_FALL * low) or (high < 0 and -low < BREAKDOWN_FALL * -high):
        return keep, []
    glitch = trace_glitches(current)
    if not glitch.any():
        return keep, []
    times = t if keep is None else t[keep]
    remarks = said_dropouts("It", np.abs(current), glitch, "samples",
                            lambda start, end: f"t {times[start]:.4g}–{times[end - 1]:.4g} s")
    if keep is None:
        return ~glitch, remarks
    keep[np.flatnonzero(keep)[glitch]] = False
    return keep, remarks


def dark_window(t: np.ndarray, k_on: int, window: float) -> slice:
    """The samples i_dark_a averages: those of the `window` seconds before sample `k_on`, the switch-on."""
    return slice(int(t.searchsorted(t[k_on] - window)), k_on)


def dark_level(t: np.ndarray, i: np.ndarray, t_on: float, window: float) -> float:
    """i_dark_a of a switch-on at `t_on`: the mean I of its `dark_window`, finite samples only (the first sample's I
    when none precedes it). The plot's ΔI baseline, so that a ΔI read off the plot is the table's."""
    # a dark run's period/2 past its end (aborted): the window before its last sample
    if (keep := readings(t, i)[0]) is not None and keep.any():
        t, i = t[keep], i[keep]
    k_on = min(int(np.searchsorted(t, t_on)), t.size - 1)
    dark = i[dark_window(t, k_on, window)]
    return _mean(dark) if dark.size else float(i[0])


def fit_line(t: np.ndarray, i: np.ndarray) -> tuple[float | None, float]:
    """Least-squares slope of i against t and the residual σ about that line (None, σ about the mean with < 3
    points, or t's spread overflowing: near ±1e308 the slope read 0): an It run's dI/dt, a calibration's dPower/dVL.

    Three sums of products on centred data: dark runs have 80k+ samples, so no pass is spent twice. Not `np.dot`:
    on vectors that long BLAS wakes its thread pool, which costs 5-40× the arithmetic in a busy staging process."""
    if not t.size:
        return None, 0.0
    dt, di = t - _mean(t), i - _mean(i)
    stt, sti, sii = float((dt * dt).sum()), float((dt * di).sum()), float((di * di).sum())
    if t.size < 3 or not 0 < stt < math.inf:
        return None, math.sqrt(sii / t.size)
    return sti / stt, math.sqrt(max(sii - sti * sti / stt, 0.0) / t.size)


def _mean(values: np.ndarray) -> float:
    """`values.mean()` to the bit (the same pairwise sum, over the count) without its Python layers: an It run
    takes six means, ~4 µs each of dispatch."""
    return float(values.sum()) / values.size


def moving_average(y: np.ndarray, points: int) -> np.ndarray:
    """Centred mean over `points` samples, the window shrinking at the ends (never reaching past them).

    Differences of one running sum: slices in the interior, the shrinking windows only at the two ends."""
    n, half = y.size, points // 2
    total = np.empty(n + 1)
    total[0] = 0.0
    y.cumsum(out=total[1:])
    if n <= 2 * half:  # every window reaches an end
        index = np.arange(n)
        low, high = np.maximum(index - half, 0), np.minimum(index + half + 1, n)
        return (total[high] - total[low]) / (high - low)
    width = 2 * half + 1
    smooth = np.empty(n)
    smooth[half:n - half] = (total[width:] - total[:n + 1 - width]) / width
    reach = np.arange(half + 1, width)  # the first points' windows: [0, j + half + 1)
    smooth[:half] = total[half + 1 : width] / reach
    smooth[n - half:] = (total[n] - total[n - width + 1:n - half]) / reach[::-1]
    return smooth


def _times(
    t: np.ndarray,
    i: np.ndarray,
    k_on: int,
    k_off: int,
    k_end: int,
    i_dark: float,
    delta: float,
    settled: slice,
    values: dict[str, float | None],
    spacing: Callable[[], float],
    settings: MetricsSettings,
) -> list[str]:
    """delta_i_snr, and tau_rise_s and tau_decay_s from the trace smoothed separately while lit and after switch-off
    (up to `k_end`, where a next pulse starts);
    the times only off a step clear of the noise, measured on the smoothed dark trace itself (a wandering baseline
    is not white noise); `spacing()`: the run's usual sample interval (`sample_spacing`)."""
    # the smoothing counts samples by the run's mean interval, as ever: by its median, 43 real runs' delta_i_snr and
    # 16 τ_rise moved (one 28 → 35 s); rows missing far from every window still change it a little
    interval = float(t[-1] - t[0]) / (t.size - 1)
    points = max(1, round(settings.it_smoothing_s / interval))
    reach = max(settled.start - points // 2, 0)  # the smoothing windows of the settled span start here
    noise = fit_line(t[settled], moving_average(i[reach:k_on], points)[settled.start - reach:])[1]
    values["delta_i_snr"] = abs(delta) / noise if noise else None
    remarks = [] if noise else ["delta_i_snr: the smoothed dark trace holds no noise (σ = 0 A)"]
    if not delta:
        return [*remarks, "tau: delta_i_a is 0 A"]
    if abs(delta) < RESOLVED_SIGMAS * noise:
        from labtui.core.si import format_si  # a σ as every current is written (not 1.5e-08 A)

        return [f"tau: delta_i_a is within {RESOLVED_SIGMAS:g}σ of the smoothed dark noise ({format_si(noise, 'A')}; "
                "delta_i_snr)"]
    rise = (moving_average(i[k_on:k_off], points) - i_dark) / delta
    reached = (rise >= 1 - 1 / math.e).nonzero()[0]
    fallen = ((moving_average(i[k_off:k_end], points) - i_dark) / delta <= 1 / math.e).nonzero()[0]  # not into a next
    # pulse
    for name, level, within, start, stop, crossed, switch in (
            ("tau_rise_s", "1 − 1/e", "while lit", k_on, k_off, reached, "on"),
            ("tau_decay_s", "1/e", "by the end of the run", k_off, k_end, fallen, "off")):
        at = start + int(crossed[0]) if crossed.size else start
        tau = float(t[at] - t[start])
        if crossed.size and (gap := _timing_gap(t, start, at, stop, points // 2, spacing, tau)) is not None:
            width, since, at_switch = gap
            where, unknown = (f"before the switch-{switch}", "when it switched") if at_switch else (
                f"around where {level} of the step is reached", "when it was reached")
            remarks.append(f"{name}: no reading for {width:.3g} s {where} (from {since:.6g} s: rows missing, or NaN, "
                           f"overflow marks or glitches): {unknown} is unknown")
        elif not (crossed.size and crossed[0]):
            remarks.append(_unread(name, level, within, crossed.size, settings))
        else:
            values[name] = tau
    return remarks


def _timing_gap(t: np.ndarray, switch: int, at: int, stop: int, half: int, spacing: Callable[[], float],
                tau: float) -> tuple[float, float, bool] | None:
    """The widest interval without a reading that a time constant `tau`, read from the switch at sample `switch` to
    sample `at`, spans at either end: into the switch, or within the smoothing's reach (`half` samples) either side
    of `at` (up to `stop`); (its width, its start, whether it is the switch's) when it is a gap, over GAP_SPACINGS
    of the run's usual `spacing()` and GAP_SHARE of `tau` (rows deleted across a crossing read τ at the first sample
    after them); else None."""
    width, since = _widest_interval(t[max(at - half - 1, switch):min(at + half + 1, stop)])
    at_switch = False
    if (edge := float(t[switch] - t[switch - 1])) > width:
        width, since, at_switch = edge, float(t[switch - 1]), True
    return (width, since, at_switch) if width > GAP_SHARE * tau and width > GAP_SPACINGS * spacing() else None


def _unread(name: str, level: str, within: str, crossed: int, settings: MetricsSettings) -> str:
    """Why a time constant has no value: its level never crossed, or crossed at the first sample already (a step
    faster than the smoothed trace resolves: it read 0 s, a time no device has)."""
    if not crossed:
        return f"{name}: {level} of the step not reached {within}"
    return (f"{name}: faster than the trace resolves ({level} of the step already at the first sample, smoothed over "
            f"{settings.it_smoothing_s:g} s)")
