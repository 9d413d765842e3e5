"""The joined step's pricing: each lit It (or IVg) run's nearest calibration of its wavelength that reaches its laser
voltage, the power interpolated there, and how far the calibrations in reach disagree (`spread`). Curves are read
only for runs whose calibration or laser voltage changed, and not at all when the stager kept them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

import numpy as np
import polars as pl

from labtui.core.config import StagingConfig
from labtui.core.layout import run_parquet_path
from labtui.core.metrics.arrays import median
from labtui.core.metrics.calibration import in_range, power_at
from labtui.core.metrics.definitions import PRICED, UNITS_APART
from labtui.core.metrics.per_run import READ_COLUMNS, Curve, curve_of, map_in_threads, read_run
from labtui.core.metrics.spread import Reach, Spreads, reach
from labtui.core.metrics_stamp import METRICS_VERSION
from labtui.core.wording import counted

UNREADABLE_CALIBRATION = "power_w: the calibration's Parquet could not be read"
WHOLE_CURVE = ("LaserCalibration: ", "run: ")  # a calibration's remarks that no part of its curve can be used
PRICING_TOPIC = "pricing"  # a calibration's remark of the join: why it prices no run (`_apart`, NO_WAVELENGTH)
NO_WAVELENGTH = "its header gives no laser wavelength (or 0 nm): which laser it measured is unknown; it prices no run"


def calibrate(config: StagingConfig, runs: pl.DataFrame, table: pl.DataFrame, old: pl.DataFrame,
               staged_curves: Mapping[str, tuple[str, Curve]], family: pl.Expr,
               excluded: Mapping[str, str]) -> pl.DataFrame:
    """Each lit It or IVg run's nearest calibration of its wavelength that can price power, its age, and the power
    it gives at the run's VL; a run whose calibrations all cannot is told why the nearest cannot. Also how far the
    powers of the calibrations within the stale window disagree (`calibration_spread`, over `calibration_set`).
    `excluded`: run_id → reason of the runs the lab excluded (`excluded_runs`): such a calibration prices no run."""
    settings = config.metrics
    calibrations = runs.filter(family == "LaserCalibration")
    cal_ids = calibrations["run_id"].to_numpy()
    unpriced, apart = _why_unpriced(calibrations, table, excluded, settings.wavelength_tolerance_nm)
    priceable = np.array([reason is None for reason in unpriced], dtype=bool)
    cal_us = calibrations["start_time_utc"].dt.epoch("us").to_numpy()  # whole µs: two as near are a tie, not a
    # rounding of float hours (which decided a quarter of such ties for the later one)
    cal_nm = calibrations["laser_wavelength_nm"].fill_null(np.nan).to_numpy()
    # lit by the header's laser voltage, unless its `Laser toggle` says off (`has_light`: a voltage left set)
    lit = family.is_in(PRICED) & (pl.col("laser_voltage_v") >= settings.light_threshold_v) & \
        pl.col("has_light").fill_null(True)
    it = table.filter(lit).select("run_id", "start_time_utc", "laser_wavelength_nm", "laser_voltage_v")
    at_us = it["start_time_utc"].dt.epoch("us").to_numpy()
    nm = it["laser_wavelength_nm"].fill_null(np.nan).to_numpy()
    best = np.full(it.height, -1)
    pools: dict[float, np.ndarray] = {}  # per wavelength, the calibrations that can price (the nearest may end early)
    refused = np.full(it.height, -1)  # of a run no calibration can price: the nearest one, which its remark names
    reaches: list[Reach] = []  # per wavelength: the usable calibrations in reach of each lit run
    window_us = settings.calibration_stale_h * 3.6e9
    # not np.unique: its first call imports ~7 ms; 0 nm is the header's mark of a dark run, no laser to price
    for wavelength in sorted(set(nm[np.isfinite(nm) & (nm > 0)].tolist())):
        of_wavelength = nm == wavelength
        candidates = np.flatnonzero(np.abs(cal_nm - wavelength) <= settings.wavelength_tolerance_nm)
        usable = candidates[priceable[candidates]]
        if usable.size:
            best[of_wavelength] = usable[_nearest(cal_us[usable], at_us[of_wavelength])]
            pools[wavelength] = usable
            reaches.append(reach(cal_us, usable, at_us, np.flatnonzero(of_wavelength), window_us))
        elif candidates.size:
            refused[of_wavelength] = candidates[_nearest(cal_us[candidates], at_us[of_wavelength])]
    found = best >= 0
    ages = np.where(found, (at_us - cal_us[best]) / 3.6e9, np.nan) if cal_ids.size else np.full(it.height, np.nan)
    assigned = it.select("run_id", "laser_voltage_v", "laser_wavelength_nm",
                         _at_us=pl.col("start_time_utc").dt.epoch("us")).with_columns(
        calibration_run_id=pl.Series([cal_ids[b] if b >= 0 else None for b in best.tolist()], dtype=pl.String),
        _refused=pl.Series([f"{cal_ids[r]}: {unpriced[r]}" if r >= 0 else None for r in refused.tolist()],
                           dtype=pl.String),
        # from a list: Polars' first Series built from an array imports numpy.ma (~5 ms of a stage)
        calibration_age_h=pl.Series(ages.tolist(), dtype=pl.Float64).fill_nan(None),
    ).join(calibrations.select(pl.col("run_id").alias("calibration_run_id"),
                               pl.col("source_sha256").alias("calibration_sha256")),
           on="calibration_run_id", how="left")
    before = old.filter(  # a price of another definition is redone; so is every run without a calibration (no read)
        pl.col("metrics_version") == METRICS_VERSION, pl.col("calibration_run_id").is_not_null(),
        pl.col("power_w").is_not_null(),  # unpriced by its nearest: a farther one that reaches it may have come
        ~pl.col("remarks").list.eval(pl.element().str.starts_with(UNREADABLE_CALIBRATION)).list.any(),
    ).select(
        "run_id",
        "calibration_run_id",
        "calibration_sha256",
        "laser_voltage_v",
        "power_w",
        pl.col("remarks")
        .list.eval(pl.element().filter(pl.element().str.starts_with("power_w")))
        .list.first()
        .alias("_power_remark"),
    )
    kept = assigned.join(
        before,
        on=["run_id", "calibration_run_id", "calibration_sha256", "laser_voltage_v"],
        how="inner",
        nulls_equal=True,
    )
    redo = assigned.join(kept, on="run_id", how="anti")
    spreads = Spreads(reaches, it, calibrations, old)
    curves = _curves(config, calibrations, staged_curves, [*redo["calibration_run_id"].drop_nulls(), *spreads.needed()])
    priced: list[tuple[str, float | None, str | None]] = []
    unlabelled = sum(reason == NO_WAVELENGTH for reason in unpriced)  # said to a run that finds none of its own
    without = f" ({counted(unlabelled, 'LaserCalibration')} without a wavelength)" if unlabelled else ""
    reached: list[tuple[str, int, int]] = []  # a run priced by a farther calibration than the nearest, whose VL
    # range ends before the run's laser voltage (an aborted one): its index in `calibrations`, and the run's start
    for run_id, laser_v, wavelength, cal_id, refused_by, at in redo.select(
        "run_id", "laser_voltage_v", "laser_wavelength_nm", "calibration_run_id", "_refused", "_at_us"
    ).iter_rows():
        if refused_by is not None:
            priced.append((run_id, None, f"power_w: no LaserCalibration of {wavelength:g} nm can price it (the "
                                         f"nearest, {refused_by})"))
            continue
        if cal_id is None:
            if wavelength == 0:  # lit by its VL, dark by its wavelength: which laser is unknown
                priced.append((run_id, None, "power_w: the header's wavelength is 0 nm (a dark run's), though its "
                                             "laser voltage lights it: no calibration can price it"))
                continue
            what = f"of {wavelength:g} nm" if wavelength is not None else "(the run has no wavelength)"
            priced.append((run_id, None, f"power_w: no LaserCalibration {what} in the store{without}"))
            continue
        if (curve := curves[cal_id]) is None:
            priced.append((run_id, None, f"{UNREADABLE_CALIBRATION} ({cal_id}): read again at the next update"))
            continue
        if not in_range(curve[0], laser_v):
            pool = pools[wavelength]
            nearest_first = pool[np.lexsort((cal_us[pool], np.abs(cal_us[pool] - at)))]  # (the nearest: not always
            farther = nearest_first[cal_ids[nearest_first] != cal_id]  # first, beside a twin of its start time)
            if (reaching := _reaching(config, calibrations, staged_curves, curves, farther, laser_v)) is not None:
                reached.append((run_id, reaching[0], at))
                curve = reaching[1]
        priced.append((run_id, *power_at(*curve, laser_v)))
    if reached:
        assigned = assigned.update(pl.DataFrame({
            "run_id": [run_id for run_id, _, _ in reached],
            "calibration_run_id": [cal_ids[k] for _, k, _ in reached],
            "calibration_sha256": calibrations["source_sha256"].gather([k for _, k, _ in reached]),
            "calibration_age_h": [(at - cal_us[k]) / 3.6e9 for _, k, at in reached],
        }), on="run_id")
    powers = pl.concat(
        [
            kept.select("run_id", "power_w", "_power_remark"),
            pl.DataFrame(
                priced, schema={"run_id": pl.String, "power_w": pl.Float64, "_power_remark": pl.String}, orient="row"
            ),
        ]
    )
    joined = assigned.select("run_id", "calibration_run_id", "calibration_sha256", "calibration_age_h").join(
        powers, on="run_id", how="left"
    ).join(spreads.computed(curves), on="run_id", how="left")
    # a photoresponse (the VL column pulses) where the header's voltage says dark: priced by neither, said why
    unlit = (family == "It") & pl.col("delta_i_a").is_not_null() & ~lit.fill_null(False)
    header_v = pl.col("laser_voltage_v")
    of_another_unit = pl.col("run_id").replace_strict(apart, default=None, return_dtype=pl.String)
    return table.join(joined, on="run_id", how="left").with_columns(
        _power_remark=pl.when(of_another_unit.is_not_null())  # said on the calibration's own row too, as a remark
        .then(pl.lit(f"{PRICING_TOPIC}: ") + of_another_unit)  # of the join (a from-data one would stay for good)
        .when(unlit & header_v.is_null())
        .then(pl.lit("power_w: the header gives no readable 'Laser voltage', though VL pulses in the data"))
        .when(unlit & (header_v >= settings.light_threshold_v))  # dark by its `Laser toggle`
        .then(pl.format("power_w: the header's 'Laser toggle' says the laser was off (its 'Laser voltage' left at {} "
                        "V), though VL pulses in the data", header_v))
        .when(unlit)
        .then(pl.format("power_w: the header's 'Laser voltage' ({} V) says the laser was off, though VL pulses in "
                        "the data", header_v))
        .otherwise("_power_remark"))


def _why_unpriced(calibrations: pl.DataFrame, table: pl.DataFrame, excluded: Mapping[str, str],
                  tolerance_nm: float) -> tuple[list[str | None], dict[str, str]]:
    """Why each calibration can price no power at all (None where it can), from the rows alone, so that choosing one
    reads no curve: excluded by the lab (a sensor misplaced, a wrong filter: its reason), the remark on its whole
    curve (fewer than 2 points, no rise above the dark reading, an unreadable run), no Power above 0 W, a P max
    far from its wavelength's other calibrations (`_apart`) or no wavelength; the last two are also returned by
    run_id, said on its own row (nothing else says why a usable curve prices nothing)."""
    rows = calibrations.select("run_id", "laser_wavelength_nm").join(
        table.select("run_id", "p_max_w", "remarks"), on="run_id", how="left", maintain_order="left"
    )
    reasons: list[str | None] = []
    for run_id, p_max, remarks in rows.select("run_id", "p_max_w", "remarks").iter_rows():
        whole = [remark.split(": ", 1)[1] for remark in remarks or () if remark.startswith(WHOLE_CURVE)]
        if run_id in excluded:
            reasons.append(f"excluded “{excluded[run_id]}”")
        elif whole:
            reasons.append(whole[0])
        else:
            reasons.append(None if p_max is not None and p_max > 0 else "no Power above 0 W")
    nm = rows["laser_wavelength_nm"].fill_null(np.nan).to_numpy()
    usable = np.array([reason is None for reason in reasons], dtype=bool)
    said = _apart(rows["p_max_w"].to_numpy(), nm, usable, tolerance_nm)
    for k in np.flatnonzero(usable & ~(nm > 0)).tolist():  # NaN compares False: no wavelength, or a dark run's 0 nm
        said[k] = NO_WAVELENGTH
    reasons = [own if own is not None else reason for reason, own in zip(reasons, said, strict=True)]
    return reasons, {run_id: own for run_id, own in zip(rows["run_id"], said, strict=True) if own is not None}


def _apart(p_max: np.ndarray, nm: np.ndarray, usable: np.ndarray, tolerance_nm: float) -> list[str | None]:
    """Why each `usable` calibration's P max cannot be a power of its laser (None where it can): UNITS_APART or more
    from the median of the usable calibrations of its wavelength, three at least, itself among them (at three, one
    in mW beside two in µW cannot move it; excluded and dark ones have no say). A Power logged in mW under `Power
    (W)` read 0.02 "W", under its sensor's full scale, and priced every run 1000× high, unsaid. One median per
    wavelength: a store's thousands of calibrations are a few sorts."""
    from labtui.core.si import format_si

    valid = usable & np.isfinite(p_max) & np.isfinite(nm)
    reasons: list[str | None] = [None] * p_max.size
    for wavelength in sorted(set(nm[valid].tolist())):
        group = valid & (np.abs(nm - wavelength) <= tolerance_nm)
        if (count := int(np.count_nonzero(group))) < 3:
            continue
        middle = median(p_max[group])
        for k in np.flatnonzero(group & (nm == wavelength)).tolist():
            if 1 / UNITS_APART < (ratio := float(p_max[k]) / middle) < UNITS_APART:
                continue
            how_far = f"{ratio:.0f}×" if ratio > 1 else f"1/{1 / ratio:.0f}"
            reasons[k] = (f"P max {format_si(float(p_max[k]), 'W')} is {how_far} the median of the store's {count} "
                          f"calibrations of {wavelength:g} nm ({format_si(middle, 'W')}): its Power logged in another "
                          "unit? It prices no run")
    return reasons


def _curves(config: StagingConfig, calibrations: pl.DataFrame, staged: Mapping[str, tuple[str, Curve]],
            cal_ids: list[str]) -> dict[str, Curve | None]:
    """The curves of these calibrations, each read once: the stager's (`staged`: run_id → (content hash, curve))
    where the content still matches, the others read back from the store in threads; None where the Parquet cannot
    be read (a price from it is refused and redone at the next update, not a remark kept for good)."""
    ids = calibrations["run_id"].to_list()
    folders = dict(zip(ids, calibrations.select("proc", "date_local").iter_rows(), strict=True))
    shas = dict(zip(ids, calibrations["source_sha256"].to_list(), strict=True))
    needed = list(dict.fromkeys(cal_ids))
    curves: dict[str, Curve | None] = {cal_id: staged[cal_id][1] for cal_id in needed
                                       if cal_id in staged and staged[cal_id][0] == shas[cal_id]}
    to_read = [cal_id for cal_id in needed if cal_id not in curves]
    curves.update(zip(to_read, map_in_threads(config, lambda cal_id: _curve(config, cal_id, *folders[cal_id]),
                                              to_read), strict=True))
    return curves


def _reaching(config: StagingConfig, calibrations: pl.DataFrame, staged: Mapping[str, tuple[str, Curve]],
              curves: dict[str, Curve | None], order: np.ndarray, laser_v: float) -> tuple[int, Curve] | None:
    """The first calibration in `order` (indices into `calibrations`) whose curve reaches `laser_v`, and its curve
    (read into `curves`); None when none does. Read one at a time: a nearest calibration that stops short is rare."""
    ids = calibrations["run_id"]
    for k in order.tolist():
        if (cal_id := ids[k]) not in curves:
            curves.update(_curves(config, calibrations, staged, [cal_id]))
        if (curve := curves[cal_id]) is not None and in_range(curve[0], laser_v):
            return k, curve
    return None


def _nearest(sorted_or_not: np.ndarray, at: np.ndarray) -> np.ndarray:
    """Index into `sorted_or_not` of the value nearest to each of `at`; of two as near, the smaller (the earlier
    calibration)."""
    order = np.argsort(sorted_or_not, kind="stable")
    values = sorted_or_not[order]
    right = np.clip(np.searchsorted(values, at), 0, values.size - 1)
    left = np.clip(right - 1, 0, values.size - 1)
    return order[np.where(np.abs(at - values[left]) <= np.abs(values[right] - at), left, right)]


def _curve(config: StagingConfig, run_id: str, proc: str, date_local: dt.date) -> Curve | None:
    """A calibration's curve read back from its procedure's folder (a registry's own `like: LaserCalibration` is
    its own); None when its Parquet cannot be read."""
    path = run_parquet_path(config.stage_root, proc, date_local, run_id)
    frame = read_run(path, list(READ_COLUMNS["LaserCalibration"]))
    return None if isinstance(frame, Exception) else curve_of(frame)
