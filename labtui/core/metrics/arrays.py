"""Array primitives the definitions share, to the bit of NumPy's own and without its Python layers: whether a run's
columns are all finite, a median and percentiles, and the runs of True in a mask."""

from __future__ import annotations

import math

import numpy as np


def all_finite(x: np.ndarray, y: np.ndarray) -> bool:
    """Whether no value is NaN or ±inf, from the columns' sums (a NaN or an inf makes a sum so): one pass each
    and no masks, where every real run is finite. False also when finite values overflow a sum (the caller then
    masks, keeping them all)."""
    return math.isfinite(x.sum() + y.sum())


def median(values: np.ndarray) -> float:
    """`np.median` of finite values, to the bit (the middle one, or the mean of the two middle ones), at a quarter
    of its cost: it checks for NaN and dispatches through three Python layers, ~20 µs a sweep."""
    half = values.size // 2
    if values.size % 2:
        return float(np.partition(values, half)[half])
    low, high = np.partition(values, (half - 1, half))[half - 1 : half + 1]
    return float((low + high) / 2)


def percentiles(values: np.ndarray, percents: tuple[float, ...]) -> list[float]:
    """`np.percentile(values, percents)` of finite values, to the bit (its linear interpolation, rounded as NumPy
    rounds it), without the import of numpy.ma it makes the first time it runs: 15–25 ms of the GIL in a stage."""
    last = values.size - 1
    at = [last * (percent / 100) for percent in percents]
    below = [min(math.floor(index), last) for index in at]
    ordered = np.partition(values, sorted({*below, *(min(k + 1, last) for k in below)}))
    found = []
    for index, k in zip(at, below, strict=True):
        if index >= last:
            found.append(float(ordered[last]))
            continue
        low, high, share = ordered[k], ordered[k + 1], index - k
        step = high - low
        found.append(float(high - step * (1 - share) if share >= 0.5 else low + step * share))
    return found


def true_runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """Each run of True in `mask`: its start and its end (past its last). Where the mask differs from the point before
    it (False before the first and after the last), not `np.r_` and `np.diff`: ~7 µs of Python layers a sweep."""
    if not mask.any():  # every real sweep's glitches
        return []
    edges = (np.concatenate(([False], mask)) != np.concatenate((mask, [False]))).nonzero()[0]
    return list(zip(edges[::2].tolist(), edges[1::2].tolist(), strict=True))
