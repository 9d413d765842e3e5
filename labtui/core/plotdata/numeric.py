"""Vectorised array helpers behind the plots. Pure numpy: every function here is a known-answer test away."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

# The sweep helpers live with the IVg quantities (gm's derivative in savgol), so a plotted Dirac point or gm is the
# tabulated one.
from labtui.core.metrics.it import laser_on
from labtui.core.metrics.ivg import Leg as Leg
from labtui.core.metrics.ivg import collapse_repeats as collapse_repeats
from labtui.core.metrics.ivg import sweep_legs as sweep_legs
from labtui.core.metrics.savgol import savgol_derivative as savgol_derivative


def nice_ticks(low: float, high: float, count: int, *, integer: bool = False) -> tuple[list[float], list[str]]:
    """Round ticks within [low, high] — 1, 2, 2.5 or 5 × 10^k apart, the closest apart that gives at most `count` —
    and their labels, with the decimals the step needs: `0`, never the `-0.0` or `78.3` of evenly split data
    limits; `integer`: whole numbers only (1 apart or more). Empty for a range that is not a finite, positive
    span."""
    if not (math.isfinite(low) and math.isfinite(high)) or high <= low or count < 2:
        return [], []
    power = math.floor(math.log10((high - low) / (count - 1)))
    steps = sorted(m * 10.0**e for e in (power - 1, power, power + 1) for m in (1.0, 2.0, 2.5, 5.0))
    if integer:  # whole steps of 1 or more
        steps = [step for step in steps if step >= 1 and step.is_integer()] or [1.0]
    for step in steps:
        multiples = range(math.ceil(low / step - 1e-9), math.floor(high / step + 1e-9) + 1)
        if len(multiples) <= count:
            break
    decimals = next((d for d in range(16) if abs(step * 10**d - round(step * 10**d)) <= 1e-6 * step * 10**d), 15)
    return [k * step for k in multiples], [f"{k * step:.{decimals}f}" for k in multiples]


def log_ticks(low: float, high: float, count: int) -> tuple[list[float], list[str]]:
    """Ticks of a log axis over the positive values [low, high]: 1, 2 and 5 × 10^k, else 1 and 3 × 10^k (0.4–20 µW
    of a log–log trend had 5, 10, 15 and 20 of 5 ticks, its lower decade bare), else the decades alone (every nth
    when they are too many); within a decade, `nice_ticks`' round values. Values, as plotext takes them (it takes
    their logs itself), with their labels."""
    if not (math.isfinite(low) and math.isfinite(high)) or not 0 < low < high or count < 2:
        return [], []
    decades = range(math.floor(math.log10(low)), math.ceil(math.log10(high)) + 1)
    values: list[float] = []
    for mantissas in ((1.0, 2.0, 5.0), (1.0, 3.0), (1.0,)):
        values = [m * 10.0**k for k in decades for m in mantissas if low <= m * 10.0**k <= high]
        if len(values) <= count:
            break
    if len(values) > count:  # many decades: every nth
        values = values[:: -(-len(values) // count)]
    # within about a decade: labelled as a linear axis is, with one number of decimals (10 and 20 alone left the
    # upper half of 9–45 µA unlabelled)
    if len(values) < 3:
        ticks = [(value, label) for value, label in zip(*nice_ticks(low, high, count), strict=True) if value > 0]
        return [value for value, _ in ticks], [label for _, label in ticks]
    return values, [f"{value:g}" for value in values]


# A power law is fitted to this many points or more, at powers this factor apart or more: two points always lie on
# one, and over less than a factor of 2 (0.3 decades) a noise of a few % in |y| moves the exponent by tenths.
FIT_POINTS, FIT_SPAN = 3, 2.0


@dataclass(frozen=True)
class PowerLaw:
    """|y| = 10^intercept · x^exponent, fitted by least squares to log10 |y| against log10 x over `points` points
    from x = `low` to `high`; `stderr` is the exponent's standard error from the residuals (n − 2 degrees of
    freedom: 0 for points exactly on a power law)."""

    exponent: float
    stderr: float
    intercept: float
    points: int
    low: float
    high: float

    def at(self, x: float) -> float:
        return 10.0 ** (self.intercept + self.exponent * math.log10(x))

    def line(self) -> tuple[tuple[float, float], tuple[float, float]]:
        """The fitted line's ends, over the span fitted: straight on log–log axes."""
        return (self.low, self.at(self.low)), (self.high, self.at(self.high))


def power_law(x: np.ndarray, y: np.ndarray) -> PowerLaw | str:
    """The power law through the points with x > 0 and y ≠ 0 (finite): the slope of log10 |y| against log10 x.
    Or, where it is refused, why in a few words: fewer than FIT_POINTS points, or x less than FIT_SPAN apart."""
    keep = np.isfinite(x) & np.isfinite(y) & (x > 0) & (y != 0)
    log_x, log_y = np.log10(x[keep]), np.log10(np.abs(y[keep]))
    if log_x.size < FIT_POINTS:
        return f"{log_x.size} point{'s' * (log_x.size != 1)}: a fit needs {FIT_POINTS} or more"
    low, high = float(x[keep].min()), float(x[keep].max())
    if high < FIT_SPAN * low:
        apart = "every point at one power" if high == low else f"powers only {high / low:.2g}× apart"
        return f"{apart}: a fit needs powers {FIT_SPAN:g}× apart or more"
    centred = log_x - log_x.mean()
    spread = float(centred @ centred)
    exponent = float(centred @ (log_y - log_y.mean())) / spread
    intercept = float(log_y.mean()) - exponent * float(log_x.mean())
    residuals = log_y - (intercept + exponent * log_x)
    stderr = math.sqrt(float(residuals @ residuals) / (log_x.size - 2) / spread)
    return PowerLaw(exponent, stderr, intercept, int(log_x.size), low, high)


def max_abs(arrays: list[np.ndarray]) -> float:
    """Largest finite |value| over several arrays (0 when there is none): what an axis must show."""
    return max((float(np.max(np.abs(a))) for a in arrays if a.size), default=0.0)


def log_middle(arrays: list[np.ndarray]) -> float:
    """Geometric middle of the finite positive values over several arrays (0 when there is none): the value a log
    axis takes its prefix from, so its ticks read 0.1 … 100 nA rather than the 0.0001 … 0.1 µA of its maximum."""
    positive = [a[(a > 0) & np.isfinite(a)] for a in arrays]
    positive = [a for a in positive if a.size]
    if not positive:
        return 0.0
    low, high = min(float(a.min()) for a in positive), max(float(a.max()) for a in positive)
    return math.sqrt(low * high)


def log_drawable(y: np.ndarray) -> np.ndarray:
    """The indices of the points a log axis draws: finite, and |y| above 0. plotext crashes on a value ≤ 0 there,
    and an exact zero lifted to the smallest |I| (as it once was) drew a second Dirac point at a sweep's end, and
    the `--points` CSV exported that value, which nobody measured."""
    return np.flatnonzero(np.isfinite(y) & (y != 0))


def minmax_downsample(x: np.ndarray, y: np.ndarray, buckets: int) -> tuple[np.ndarray, np.ndarray]:
    """At most 2·`buckets` points: the min and the max of each equal-count bucket, in x order.

    Unlike striding, this keeps every spike, the global extremes and a step edge (to within one bucket).
    Expects finite y.
    """
    index = minmax_index(y, buckets)
    return (x, y) if index is None else (x[index], y[index])


def minmax_index(y: np.ndarray, buckets: int) -> np.ndarray | None:
    """The points `minmax_downsample` keeps, in order; None when it keeps them all."""
    n = y.size
    if buckets < 1 or n <= 2 * buckets:
        return None
    size = -(-n // buckets)
    rows = -(-n // size)
    pad = rows * size - n
    lows = np.argmin(np.concatenate([y, np.full(pad, np.inf)]).reshape(rows, size), axis=1)
    highs = np.argmax(np.concatenate([y, np.full(pad, -np.inf)]).reshape(rows, size), axis=1)
    index = (np.sort(np.stack([lows, highs], axis=1), axis=1) + (np.arange(rows) * size)[:, None]).ravel()
    return index[np.concatenate([[True], index[1:] != index[:-1]])]  # a flat bucket has min == max


def laser_windows(t: np.ndarray, vl: np.ndarray, threshold: float, window_s: float,
                  laser_v: float | None = None) -> list[tuple[float, float]]:
    """(t_on, t_off) for each stretch where the laser is on (`laser_on`, with the metrics' light threshold and
    window, and the run's header `laser_v`: the shading is the laser ON the table reads); t_off is the first OFF
    sample, or the last t if still ON."""
    on = laser_on(vl, threshold, t, window_s, laser_v)
    edges = np.diff(on.astype(np.int8))
    rises = np.flatnonzero(edges == 1) + 1
    falls = np.flatnonzero(edges == -1) + 1
    if on.size and on[0]:
        rises = np.concatenate([[0], rises])
    if on.size and on[-1]:
        falls = np.concatenate([falls, [on.size - 1]])
    # as (earlier, later): rows written newest first give each window backwards
    return [(float(min(t[a], t[b])), float(max(t[a], t[b]))) for a, b in zip(rises, falls, strict=False)]


def merge_spans(spans: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """Union of intervals: overlaid runs with the same period shade one window, not ten near-copies."""
    merged: list[tuple[float, float]] = []
    for start, stop in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], stop))
        else:
            merged.append((start, stop))
    return merged
