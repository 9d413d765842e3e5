"""Contact glitches: the points of a current trace that are no reading of the channel (a dropout or a spike of a few
points), which the sweeps' and the It runs' quantities, and the plots, pass over. Pure numpy.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable

import numpy as np

from labtui.core.metrics.arrays import median, true_runs

BREAKDOWN_FALL = 2.0  # |I| divided by this from one setpoint to the next, never to come back: the channel broke down
GLITCH_RUN = 3  # the most points a spike takes (0.27 s at 0.09 s a point); a dropout takes any number that comes back
# a dropout longer than GLITCH_RUN reads under this fraction of the readings around it (a contact lost reads decades
# less, or 0 A): the bottom of a sharp V, a fast photoresponse down by half, are readings of the channel
DROPOUT_DEPTH = 10.0
SAID_DROPOUTS = 3  # dropouts said one by one; more are said in one remark


def glitches(current: np.ndarray, *, ends: bool = True) -> np.ndarray:
    """Which points are no reading of the channel: runs of up to GLITCH_RUN consecutive points all under
    1/BREAKDOWN_FALL of both points around the run (a contact dropout), or all over BREAKDOWN_FALL × both (a spike);
    and longer dropouts inside the trace (`_long_dropouts`). Without `ends`, the interior's alone: a calibration's
    dark readings start far below its lit ones.

    Graphene's current changes smoothly with Vg: in the real sweeps no run of 1 to 6 points stands more than ×1.16
    off the points around it. A dropout starts with a fall of ×BREAKDOWN_FALL and a spike ends with one: a sweep
    without such a fall, or a rise at its ends (every real sweep but one), costs three comparisons. A run at an end
    has one side, held to the two points after (or before) it, which must agree: the first points may be a spike or
    a dropout, the last ones a spike (a fall there may be a breakdown: `breakdown_at`).
    """
    n = current.size
    glitch = np.zeros(n, dtype=bool)
    if n < 3:
        return glitch
    outer = current[: GLITCH_RUN + 1].tolist(), current[-GLITCH_RUN - 1 :].tolist()  # a few points: Python floats
    if not ((current[1:] * BREAKDOWN_FALL < current[:-1]).any()
            or any(low * BREAKDOWN_FALL < high for end in outer for low, high in itertools.pairwise(end))):
        return glitch
    highest = lowest = current[1:-1]  # of the run of `length` points from each of the points 1, 2, …
    for length in range(1, min(GLITCH_RUN, n - 2) + 1):
        if length > 1:
            highest = np.maximum(highest[:-1], current[length:-1])
            lowest = np.minimum(lowest[:-1], current[length:-1])
        before, after = current[: n - length - 1], current[length + 1 :]
        dropout = highest * BREAKDOWN_FALL < np.minimum(before, after)
        run = dropout | (lowest > BREAKDOWN_FALL * np.maximum(before, after))
        for offset in range(length):
            glitch[1 + offset : n - length + offset] |= run
    _long_dropouts(current, glitch)
    if not ends:
        return glitch
    for length in range(min(GLITCH_RUN, n - 3), 0, -1):  # the longest first: a run's first point is no run alone
        if _stands_off(current[:length], current[length : length + 2], dropout=True):
            glitch[:length] = True
            break
    for length in range(min(GLITCH_RUN, n - 3), 0, -1):
        if _stands_off(current[n - length :], current[n - length - 2 : n - length], dropout=False):
            glitch[n - length :] = True
            break
    return glitch


def _long_dropouts(current: np.ndarray, glitch: np.ndarray) -> None:
    """Marks the interior dropouts longer than GLITCH_RUN points in `glitch`: from a fall of ×BREAKDOWN_FALL off a
    reading, the points up to the first that comes back to that reading (within ×BREAKDOWN_FALL of it), all under
    1/DROPOUT_DEPTH of both (a contact lost for 4 points of a sweep read as its Dirac point, 2.56 V off, on/off
    1.6e6; for 4 samples of an It run's ON window, a ΔI 53 % too large). A fall that never comes back is a breakdown
    (`breakdown_at`); one that comes back elsewhere is a change of the current (at Vds 0 V, the pA of noise around 0
    before a pulse); spikes (marked) are neither side of one."""
    for start in (np.flatnonzero(current[1:] * BREAKDOWN_FALL < current[:-1]) + 1).tolist():
        if glitch[start] or glitch[start - 1]:  # a short one, within a long one found, or the fall off a spike
            continue
        before = float(current[start - 1])
        back = _first_at_least(current, start, before / BREAKDOWN_FALL)
        if back - start > GLITCH_RUN and back < current.size and not glitch[back] and (
                _dropped(current, start, back) and float(current[back]) <= BREAKDOWN_FALL * before):
            glitch[start:back] = True


def _dropped(current: np.ndarray, start: int, end: int) -> bool:
    """Whether the interior points `start:end` all read under 1/DROPOUT_DEPTH of the reading on each side."""
    return DROPOUT_DEPTH * float(current[start:end].max()) < min(float(current[start - 1]), float(current[end]))


def _first_at_least(values: np.ndarray, start: int, level: float) -> int:
    """The first index from `start` whose value is `level` or more (`values.size`: none), looked for in windows
    growing 16× each: a search over the rest of an 85k-sample trace from each of its falls was quadratic."""
    width = 16
    while start < values.size:
        if (hit := np.flatnonzero(values[start : start + width] >= level)).size:
            return start + int(hit[0])
        start, width = start + width, width * 16
    return values.size


def said_dropouts(topic: str, current: np.ndarray, glitch: np.ndarray, unit: str,
                  where: Callable[[int, int], str]) -> list[str]:
    """The remarks on the dropouts longer than GLITCH_RUN among `glitch` (`glitches` of `current`), which its
    quantities pass over: one each, up to SAID_DROPOUTS, else one for all (a dark run falling to noise halfway got
    2,322 remarks); `where(start, end)` places one (`Vg -5 to -4.8 V`). A glitch run that is no such dropout (a
    spike beside another, a V's bottom, a run at an end) is not said: the short ones never were."""
    runs = [(start, end) for start, end in true_runs(glitch) if end - start > GLITCH_RUN and start > 0
            and end < current.size and _dropped(current, start, end)]
    depth = f"|I| under 1/{DROPOUT_DEPTH:g} of the readings beside"
    if len(runs) <= SAID_DROPOUTS:
        return [f"{topic}: a contact dropout of {end - start} {unit} ({where(start, end)}, {depth} it) passed over"
                for start, end in runs]
    sizes = [end - start for start, end in runs]
    return [f"{topic}: {len(runs)} contact dropouts of {min(sizes)}–{max(sizes)} {unit} passed over (the first "
            f"{where(*runs[0])}; {depth} them)"]


def _stands_off(run: np.ndarray, beside: np.ndarray, *, dropout: bool) -> bool:
    """Whether the points of `run`, at a sweep's end, are all over BREAKDOWN_FALL × the two points `beside` it (or,
    with `dropout`, all under 1/BREAKDOWN_FALL of them), which agree with each other: a glitch with one side."""
    low, high = float(beside.min()), float(beside.max())
    if not high < BREAKDOWN_FALL * low:
        return False
    return float(run.min()) > BREAKDOWN_FALL * high or (dropout and float(run.max()) * BREAKDOWN_FALL < low)


def sweep_glitches(current: np.ndarray) -> np.ndarray:
    """`glitches` of a gate sweep's |I|, but for the bottom of its V: at a coarse step (1 V) or on a sharp V (on/off
    over ~100 at 0.1 V), the setpoint nearest the Dirac point reads under half of both its neighbours, and it was
    passed over as a dropout (a Dirac point 1 V off, a flat curve, an i_min of a neighbour)."""
    glitch = glitches(current)
    return glitch & ~v_bottoms(current, glitch) if glitch.any() else glitch


def v_bottoms(current: np.ndarray, glitch: np.ndarray) -> np.ndarray:
    """Which of the `glitch` points (`glitches` of a sweep's |I|) are a V's bottom (`v_bottom`), not a dropout."""
    bottoms = np.zeros(current.size, dtype=bool)
    for start, end in true_runs(glitch):
        bottoms[start:end] = v_bottom(current, start, end)
    return bottoms


NOISE_SIGMAS = 5.0  # a reading this many σ of the trace's point-to-point noise from 0, or nearer, may be noise


def trace_glitches(current: np.ndarray) -> np.ndarray:
    """`glitches` of a current trace's |I|, but for noise around 0: a run whose readings and the readings on each
    side are within NOISE_SIGMAS σ of 0 (σ of the trace's point-to-point differences) is no glitch. At Vds 0 V a
    photocurrent is pA around 0: a third of its samples read under half their neighbours' |I| and were passed over,
    its dark window too thin to average. A dropout's neighbours carry the channel's current; a spike stands off."""
    glitch = glitches(np.abs(current))
    if not glitch.any() or not float(current.min()) < 0 < float(current.max()):
        return glitch
    sigma = median(np.abs(np.diff(current))) / (0.6745 * np.sqrt(2))  # white noise's, from the median difference
    near = np.abs(current) <= NOISE_SIGMAS * sigma
    for start, end in true_runs(glitch):
        if near[max(start - 1, 0) : end + 1].all():
            glitch[start:end] = False
    return glitch


def v_bottom(current: np.ndarray, start: int, end: int) -> bool:
    """Whether the run `current[start:end]` is the bottom of a V, not a dropout: below the points beside it, the two
    points before it falling into it and the two after rising out of it, and no deeper than 1/BREAKDOWN_FALL of
    where the higher of the two arms' lines reaches it (a convex V's bottom is on or above both lines; the lower
    one, beside a steep arm, reaches near 0 or below, and let a dropout beside the bottom pass). At a sweep's ends
    one arm judges it: a loop starts at 0 V, near many Dirac points, and at 1 V steps its first reading, the
    sweep's least, was passed over as a dropout."""
    beside, lines = [], []
    if start >= 1:
        beside.append(float(current[start - 1]))
    if start >= 2:
        before, into = float(current[start - 2]), float(current[start - 1])
        if not before > into:
            return False
        lines.append(2 * into - before)
    if end < current.size:
        beside.append(float(current[end]))
    if end + 2 <= current.size:
        out, after = float(current[end]), float(current[end + 1])
        if not after > out:
            return False
        lines.append(2 * out - after)
    if not lines or float(current[start:end].max()) >= min(beside):  # no arm to judge by; a spike
        return False
    return float(current[start:end].min()) * BREAKDOWN_FALL >= max(lines)
