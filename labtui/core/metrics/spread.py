"""How far the calibrations within reach of a lit It run disagree on its power (`calibration_spread`).

A run's calibrations in reach, those of its wavelength started within the stale window of it, are consecutive in
start order, so a run holds a slice of them (its first and how many), and the runs that hold a calibration are
consecutive too: the work and the memory go with runs plus calibrations, not with their pairs (a lab calibrating
every 15 minutes has ~100 in reach of each run).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import polars as pl

from labtui.core.metrics.calibration import powers_at
from labtui.core.metrics.per_run import Curve
from labtui.core.metrics_stamp import METRICS_VERSION


@dataclass(frozen=True)
class Reach:
    """The usable calibrations of one wavelength in start order (`cals`: indices into the calibrations) and its lit
    runs in start order (`runs`: indices into them), each with its slice of `cals`: from `first`, `count` of them
    (0 where fewer than two: the run has no spread)."""

    runs: np.ndarray
    cals: np.ndarray
    first: np.ndarray
    count: np.ndarray


def reach(cal_us: np.ndarray, usable: np.ndarray, run_us: np.ndarray, runs: np.ndarray, window_us: float) -> Reach:
    """`Reach` of the calibrations `usable` (indices into `cal_us`, their start times) and the lit runs `runs`
    (indices into `run_us`): those started within `window_us` of the run, either side."""
    cals = usable[np.argsort(cal_us[usable], kind="stable")]
    runs = runs[np.argsort(run_us[runs], kind="stable")]
    times = cal_us[cals]
    first = np.searchsorted(times, run_us[runs] - window_us, "left")
    count = np.searchsorted(times, run_us[runs] + window_us, "right") - first
    count[count < 2] = 0
    return Reach(runs, cals, first, count)


class Spreads:
    """The lit runs' spreads: kept from the last table where the run, its VL and the contents of its calibrations in
    reach are as they were (`kept`), the others computed from the curves (`needed`, then `computed`). A run's
    `calibration_set` names its first and last calibration and their count, then a digest of their contents: a
    member that left or joined (pruned, another wavelength, a wider tolerance) changes it, whatever the ends."""

    def __init__(self, reaches: list[Reach], it: pl.DataFrame, calibrations: pl.DataFrame,
                 old: pl.DataFrame) -> None:
        self.reaches = reaches
        self.vl = it["laser_voltage_v"].to_numpy()
        self.cal_ids: list[str] = calibrations["run_id"].to_list()
        # each calibration's content as 64 bits of its hash; a slice's digest is their sum (mod 2**64), from sums
        contents = np.array([int(sha[:16], 16) for sha in calibrations["source_sha256"].to_list()], dtype=np.uint64)
        run_ids = it["run_id"].to_list()
        rows = []
        for index, spans in enumerate(reaches):
            ids = [self.cal_ids[cal] for cal in spans.cals.tolist()]
            summed = np.r_[np.uint64(0), np.cumsum(contents[spans.cals], dtype=np.uint64)]
            digests = (summed[spans.first + spans.count] - summed[spans.first]).tolist()  # arrays wrap silently
            for place in np.flatnonzero(spans.count).tolist():
                first, count = int(spans.first[place]), int(spans.count[place])
                run = int(spans.runs[place])
                rows.append((run_ids[run], self.vl[run],
                             f"{ids[first]}…{ids[first + count - 1]} ({count}) {digests[place]:016x}", index, place))
        keyed = pl.DataFrame(rows, orient="row", schema={
            "run_id": pl.String, "laser_voltage_v": pl.Float64, "calibration_set": pl.String, "_reach": pl.Int64,
            "_place": pl.Int64})
        current = old.filter(pl.col("metrics_version") == METRICS_VERSION)
        kept = keyed.join(
            current.select("run_id", "laser_voltage_v", "calibration_set", "calibration_spread"),
            on=["run_id", "laser_voltage_v", "calibration_set"], how="inner", nulls_equal=True)
        self.kept = kept.select("run_id", "calibration_set", "calibration_spread")
        # the runs whose spread is computed, by reach, in start order: (reach index, their places, their rows)
        redo = keyed.join(kept, on="run_id", how="anti").sort("_reach", "_place")
        self.redo = [(frame["_reach"][0], frame["_place"].to_numpy(), frame.select("run_id", "calibration_set"))
                     for frame in redo.partition_by("_reach", maintain_order=True)]

    def needed(self) -> list[str]:
        """The calibrations whose curves `computed` reads: those in reach of a run whose spread is computed."""
        needed: list[str] = []
        for index, places, _ in self.redo:
            spans = self.reaches[index]
            covered = np.zeros(spans.cals.size + 1, dtype=np.int64)
            np.add.at(covered, spans.first[places], 1)
            np.add.at(covered, spans.first[places] + spans.count[places], -1)
            needed += [self.cal_ids[cal] for cal in spans.cals[np.cumsum(covered[:-1]) > 0].tolist()]
        return needed

    def computed(self, curves: Mapping[str, Curve | None]) -> pl.DataFrame:
        """run_id, calibration_set and calibration_spread of the runs not kept: each calibration's powers at the VLs
        of the runs that hold it, taken at once; a run one of whose calibrations cannot be read (None in `curves`,
        which holds every one `needed` names) has neither, and the next update tries again."""
        frames = [self.kept]
        for index, places, rows in self.redo:
            spans = self.reaches[index]
            first = spans.first[places]
            last = first + spans.count[places] - 1
            vl = self.vl[spans.runs[places]]
            high, low = np.full(places.size, np.nan), np.full(places.size, np.nan)
            priced, unread = np.zeros(places.size, dtype=np.int64), np.zeros(places.size, dtype=bool)
            for cal in range(int(first.min()), int(last.max()) + 1):
                # the runs that hold it are consecutive: both ends of the slices rise with the runs' start times
                begin, end = np.searchsorted(last, cal, "left"), np.searchsorted(first, cal, "right")
                if begin >= end:
                    continue
                if (curve := curves[self.cal_ids[int(spans.cals[cal])]]) is None:
                    unread[begin:end] = True
                    continue
                power = powers_at(*curve, vl[begin:end])
                high[begin:end] = np.fmax(high[begin:end], power)
                low[begin:end] = np.fmin(low[begin:end], power)
                priced[begin:end] += np.isfinite(power)
            with np.errstate(all="ignore"):
                ratio = high / low
            spread = np.where((priced >= 2) & ~unread & np.isfinite(ratio), ratio, np.nan)  # an overflow: none
            frames.append(rows.select(
                "run_id",
                calibration_set=pl.when(pl.Series(unread.tolist())).then(None).otherwise("calibration_set"),
                calibration_spread=pl.Series(spread.tolist(), dtype=pl.Float64).fill_nan(None),
            ))
        return pl.concat(frames)
