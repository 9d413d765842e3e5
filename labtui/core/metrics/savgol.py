"""The transconductance's derivative: Savitzky–Golay dI/dVg on a sweep leg's actual offsets, and the window of points
that spans a width in volts. The table's gm and the plot's (`labtui.core.plotdata`) are this one derivative."""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from labtui.core.metrics.arrays import median

FIT_CELLS = 1 << 18  # points in one block of an uneven leg's local fits (~2 MB an array): 12k fits of 601 points
# at once held 0.5 GB


def savgol_derivative(x: np.ndarray, y: np.ndarray, window: int, polyorder: int) -> np.ndarray:
    """Savitzky–Golay dy/dx: the slope at each point of a least-squares polynomial over `window` points (on an
    unevenly spaced leg, over the x span they cover at its typical step).

    The coefficients are solved from the actual x offsets, so uneven spacing is exact. Near the ends the
    window is shifted inward (not shrunk), as SciPy's `mode="interp"` does; a leg shorter than the window
    uses the longest odd window it has, and a 2-point leg falls back to the plain gradient. On an evenly
    spaced leg (every real sweep) the interior is one correlation with fixed weights.
    """
    n = x.size
    window = min(window, n if n % 2 else n - 1)
    polyorder = min(polyorder, window - 1)
    if polyorder < 1:
        return np.gradient(y, x)
    step = x[1:] - x[:-1]
    half = window // 2
    spacing = float(step.sum()) / step.size  # `step.mean()` to the bit, once
    if n > window and step.max() - step.min() <= 1e-6 * abs(spacing):
        edge = _edge_weights(window, polyorder)
        slope = np.empty(n)  # per step of the grid, then (each value divided once, in place) per unit of x
        slope[half:n - half] = np.correlate(y, edge[half], mode="valid")
        slope[:half] = edge[:half] @ y[:window]
        slope[n - half:] = -(edge[:half] @ y[:n - window - 1:-1])[::-1]  # the start's fits, mirrored
        slope /= spacing
        return slope
    rows = max(1, FIT_CELLS // window)  # each fit is a row of `window` points: a block at a time bounds the memory
    return np.concatenate([_local_fits(x, y, window, polyorder, np.arange(at, min(at + rows, n)))
                           for at in range(0, n, rows)])


@lru_cache(maxsize=32)
def _edge_weights(window: int, polyorder: int) -> np.ndarray:
    """Derivative weights on a unit grid, row k for the point k of a window (row window // 2: the centred one):
    slope = row · y. The first rows serve the points of a leg's start, whose window is shifted inward; mirrored,
    they serve its end."""
    offsets = np.arange(window)[None, :] - np.arange(window // 2 + 1)[:, None]
    return np.stack([np.linalg.pinv(row[:, None] ** np.arange(polyorder + 1))[1] for row in offsets])


def _local_fits(x: np.ndarray, y: np.ndarray, window: int, polyorder: int, at: np.ndarray) -> np.ndarray:
    """The slope at the points `at`, each from its own least-squares polynomial on the actual x offsets, over the
    points within the x span that `window` points cover at the leg's typical step (shifted inward at the ends; at
    least polyorder + 1 points, at most `window`): where the step changes along the leg, a window of points would
    reach over a coarser part several times as far (a 0.1 V part of a 0.01 V sweep: 5 V instead of 0.5 V)."""
    n = x.size
    rising = x if x[-1] > x[0] else -x  # a monotonic leg, either way
    step = median(rising[1:] - rising[:-1])
    width = (window - 1) * step
    low = np.minimum(np.maximum(rising[at] - width / 2, rising[0]), rising[-1] - width)
    starts = np.minimum(np.searchsorted(rising, low - step / 2), n - polyorder - 1)
    stops = np.maximum(np.searchsorted(rising, low + width + step / 2), starts + polyorder + 1)
    # a part denser than the typical step: its `window` points around the point, as on an even leg (a cluster of
    # 10k points in 10 mV made every window 10k wide: memory and time grew with the square of the leg)
    crowded = stops - starts > window
    starts = np.where(crowded, np.clip(at - window // 2, 0, n - window), starts)
    stops = np.where(crowded, starts + window, stops)
    span = starts[:, None] + np.arange(int((stops - starts).max()))
    inside = span < stops[:, None]  # before the clamp: past the leg's end a row repeats its last point
    index = np.minimum(span, n - 1)
    offsets = np.where(inside, x[index] - x[at][:, None], 0.0)  # polynomial centred on the point it differentiates at
    scale = np.abs(offsets).max(axis=1)  # unit offsets keep the normal equations well conditioned
    unit = offsets / scale[:, None]
    powers = [inside.astype(float)]  # every power carries the mask: points beyond a window weigh nothing
    for _ in range(2 * polyorder):
        powers.append(powers[-1] * unit)
    sums = np.stack([p.sum(axis=1) for p in powers], axis=1)  # Σ u^k, k = 0 … 2·polyorder
    order = np.arange(polyorder + 1)
    normal = sums[:, order[:, None] + order[None, :]]
    moments = np.stack([(powers[k] * y[index]).sum(axis=1) for k in order], axis=1)
    coefficients = np.linalg.solve(normal, moments[..., None])
    return coefficients[:, 1, 0] / scale


def window_points(x: np.ndarray, width: float) -> int:
    """An odd number of points (≥ 3) spanning about `width` in x at the sweep's typical step."""
    step = median(np.abs(x[1:] - x[:-1])) if x.size > 1 else 0.0
    points = round(width / step) + 1 if step > 0 else 3
    return max(3, points + 1 - points % 2)
