"""The metrics table `<derived_root>/metrics.parquet`: one row per IVg, It and LaserCalibration run, keyed by run_id.

Update protocol (`update_metrics`, run by the stager under the writer lock after its commits, or by
`labtui metrics` under the same lock):
1. from-data quantities (`per_run`) are computed only for runs that are new, changed (another `source_sha256`) or
   computed under another `metrics_version` or window settings (`settings_hash`); each such run's Parquet is read
   once, only the columns it needs, in worker threads;
2. the joined quantities are redone for every row, as they are cheap: context copied from the manifest, mobility
   from the chip geometry, the nearest calibration of each lit It run; a calibration curve is read only for runs
   whose calibration (`calibration_run_id`, `calibration_sha256`) or laser voltage changed, and not at all when
   the stager kept it from the frame it parsed;
3. the table is written whole, atomically and durably like the manifest, and only when it changed or its footer
   lacks this labtui's stamp (`metrics_stamp`: a stage with nothing to stage redoes a table without it).
Runs gone from the manifest leave the table. Deleting the file, or `rebuild=True`, recomputes it from the store.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Mapping
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import polars as pl

from labtui.core.atomic import atomic_write
from labtui.core.chip_params import ChipParams, load_chip_params
from labtui.core.config import StagingConfig
from labtui.core.errors import LabtuiError, OperationFailed
from labtui.core.layout import addresses_a_run, run_parquet_path
from labtui.core.manifest import read_manifest
from labtui.core.metrics.calibration import in_range, power_at
from labtui.core.metrics.definitions import ABORTED_TOPIC, MOBILITY_LIMIT, PROCEDURES, QUANTITIES
from labtui.core.metrics.per_run import (
    DATA_COLUMNS,
    READ_COLUMNS,
    Curve,
    Derived,
    compute_runs,
    curve_of,
    map_in_threads,
    read_run,
)
from labtui.core.metrics.schema import CONTEXT_SCHEMA, METRICS_SCHEMA, MetricsDamaged, empty_metrics, read_metrics
from labtui.core.metrics.spread import Reach, Spreads, reach
from labtui.core.metrics_stamp import METRICS_VERSION, STAMP_KEY, is_current, metrics_stamp, settings_hash
from labtui.core.registry import family_expr
from labtui.core.wording import counted

ABORTED = f"{ABORTED_TOPIC}: its quantities are of the rows it has (the manifest's is_complete is false)"
JOINED_TOPICS = ("mobility", "power_w", "responsivity", ABORTED_TOPIC)  # remarks the join makes start with one
UNREADABLE_CALIBRATION = "power_w: the calibration's Parquet could not be read"
WHOLE_CURVE = ("LaserCalibration: ", "run: ")  # a calibration's remarks that no part of its curve can be used


@dataclass
class MetricsUpdate:
    """What an update did; `table` is the current table (written or not)."""

    table: pl.DataFrame
    computed: int = 0  # runs whose Parquet was read
    stale: bool = False  # the table differs from the file (or there is none): `write_update` writes it
    written: bool = False
    elapsed_s: float = 0.0
    cpu_s: float = 0.0  # CPU time of the process meanwhile (all threads): comparable on a loaded machine
    problems: list[str] = field(default_factory=list)  # runs that could not be read (they are retried next time)

    def line(self) -> str:
        state = "updated" if self.written else "up to date"
        runs = counted(self.table.height, "run")
        return f"metrics {state}: {runs}, {self.computed} computed in {self.elapsed_s * 1e3:.0f} ms"


def update_metrics(
    config: StagingConfig,
    manifest: pl.DataFrame | None = None,
    *,
    rebuild: bool = False,
    computed: Mapping[str, tuple[str, Derived]] | None = None,
    curves: Mapping[str, tuple[str, Curve]] | None = None,
) -> MetricsUpdate:
    """Bring the table in line with the manifest (see the module's protocol); the caller holds the writer lock.

    `computed`: run_id → (source_sha256, `from_data(...)`) already computed by the caller (the stager, from the
    frames it parsed); `curves`: calibration run_id → (source_sha256, `curve_of(...)`), the same for calibration
    curves. Each is used where the hash still matches, so those runs are not read back.
    """
    return write_update(config, compute_update(config, manifest, rebuild=rebuild, computed=computed, curves=curves))


def compute_update(
    config: StagingConfig,
    manifest: pl.DataFrame | None = None,
    *,
    rebuild: bool = False,
    computed: Mapping[str, tuple[str, Derived]] | None = None,
    curves: Mapping[str, tuple[str, Curve]] | None = None,
) -> MetricsUpdate:
    """Steps 1 and 2 of `update_metrics`: the table, not yet written (reads only: a thread may compute it while a
    commit writes the manifest it is given, see `update_after_stage`)."""
    started, cpu = time.monotonic(), time.process_time()
    manifest = read_manifest(config.manifest_path) if manifest is None else manifest
    family = family_expr(config.procedures_file)  # an IVgT row is computed, joined and priced as an IVg one
    runs = _with_metrics(manifest, family)
    old = empty_metrics() if rebuild else _previous_table(config)
    version = settings_hash(config.metrics)
    # a run the stager has just computed takes its new values, also one of the same content: re-read because its
    # registry entry was edited (a `like:` fixed), the old values are another family's
    current = old.filter(
        (pl.col("metrics_version") == METRICS_VERSION) & (pl.col("settings_hash") == version)
        & ~pl.col("run_id").is_in(list(computed or ())),
    ).join(runs.select("run_id", "source_sha256"), on=["run_id", "source_sha256"], how="semi")
    todo = runs.join(current, on="run_id", how="anti")
    curves = dict(curves or {})  # with those of the calibrations read back next
    fresh, problems = compute_runs(config, todo, family, version, computed or {}, curves)
    data = pl.concat([current.select(["run_id", *DATA_COLUMNS, "remarks", "source_sha256", "metrics_version",
                                      "settings_hash"]), fresh], how="vertical")
    data = data.with_columns(pl.col("remarks").list.eval(pl.element().filter(~_joined_remark(pl.element()))))
    table = _join(config, runs, data, old, curves, family)
    stale = rebuild or not table.equals(old) or not is_current(config.metrics_path, config.metrics)
    return MetricsUpdate(table, computed=todo.height, stale=stale, problems=problems,
                         elapsed_s=time.monotonic() - started, cpu_s=time.process_time() - cpu)


def _with_metrics(manifest: pl.DataFrame, family: pl.Expr) -> pl.DataFrame:
    """The runs the table has a row of: those of a family with quantities (`family`: `registry.family_expr`) whose
    row addresses its Parquet (a row a hand edit damaged has none to read)."""
    return manifest.filter(family.is_in(PROCEDURES) & addresses_a_run())


def _previous_table(config: StagingConfig) -> pl.DataFrame:
    """The table as last written, or none to start from when it is damaged: it is derived from the store alone, so
    the update recomputes every row and replaces it."""
    try:
        return read_metrics(config)
    except MetricsDamaged:
        return empty_metrics()


def write_update(config: StagingConfig, update: MetricsUpdate) -> MetricsUpdate:
    """Step 3 of `update_metrics`: the table written where it changed; the caller holds the writer lock."""
    started, cpu = time.monotonic(), time.process_time()
    if update.stale:
        write_metrics(update.table, config.metrics_path, metrics_stamp(config.metrics))
        update.written = True
    update.elapsed_s += time.monotonic() - started
    update.cpu_s += time.process_time() - cpu
    return update


def write_metrics(table: pl.DataFrame, path: Path, stamp: str) -> None:
    try:
        atomic_write(path, lambda handle: table.write_parquet(handle, compression="zstd", statistics=True,
                                                              metadata={STAMP_KEY: stamp}))
    except OSError as error:
        raise OperationFailed("write the metrics table", path, error) from error


def _joined_remark(remark: pl.Expr) -> pl.Expr:
    return pl.any_horizontal(remark.str.starts_with(f"{topic}") for topic in JOINED_TOPICS)


# -- step 2: joined quantities ------------------------------------------------------------------------------------
def _join(config: StagingConfig, runs: pl.DataFrame, data: pl.DataFrame, old: pl.DataFrame,
          curves: Mapping[str, tuple[str, Curve]], family: pl.Expr) -> pl.DataFrame:
    """`family`: each run's procedure family (`Registry.family`), which says which quantities it has."""
    aborted = pl.when(~pl.col("is_complete")).then(pl.lit(ABORTED)).alias("_aborted_remark")  # a cut sweep's CNP
    table = runs.select(*CONTEXT_SCHEMA, aborted).join(data, on="run_id", how="inner")
    table = _mobility(table, load_chip_params(config.chip_params_file), config.chip_params_file, family)
    table = _calibrate(config, runs, table, old, curves, family)
    responsivity = pl.col("delta_i_a") / pl.col("power_w")  # both finite, power_w > 0: only an overflow is not
    # the conductance's change, not the current's: a run biased at −Vds has the opposite ΔI for the same physics
    responsivity = pl.when(pl.col("vds_v") < 0).then(-responsivity).otherwise(responsivity)
    overflow = pl.when(~responsivity.is_finite()).then(pl.lit("responsivity_a_per_w: delta_i_a / power_w overflows"))
    # list.eval's drop_nulls, not list.drop_nulls: the same lists, 6 ms instead of 42 at 65k runs (Polars 2.1)
    remarks = pl.concat_list("remarks", "_mobility_remark", "_power_remark", overflow, "_aborted_remark").list.eval(
        pl.element().drop_nulls())
    table = table.with_columns(
        remarks=remarks,
        responsivity_a_per_w=pl.when(responsivity.is_finite()).then(responsivity),
        calibration_stale=pl.col("calibration_age_h").abs() > config.metrics.calibration_stale_h,
    )
    return table.select(list(METRICS_SCHEMA)).sort(["start_time_utc", "run_id"])


def _mobility(table: pl.DataFrame, chips: dict[str, ChipParams], path: Path | None, family: pl.Expr) -> pl.DataFrame:
    """μ = (L/W)·gm/(C·|Vds|) in cm²/(V·s), for chips whose geometry is complete; `path` the chip parameters file,
    named in the remark when it is not there (a misspelt `chip_params_file` is otherwise silent)."""
    by_case = {name.lower(): name for name in chips}  # an entry spelt in another case is named (it is no match)
    spelt = pl.col("chip_name").str.to_lowercase().replace_strict(by_case, default=None, return_dtype=pl.String)
    unknown = (pl.when(~pl.col("chip_name").is_in(list(chips)) & spelt.is_not_null())
               .then(pl.format("mobility: chip_params.yaml names {}, not {} (chip names are matched with their case)",
                               spelt, pl.col("chip_name")))
               .otherwise(pl.format("mobility: no complete geometry for {} in chip_params.yaml",
                                    pl.col("chip_name").fill_null("this chip"))))
    if path is None:
        unknown = pl.lit("mobility: no chip geometry: the config sets no chip_params_file")
    elif not path.exists():
        unknown = pl.lit(f"mobility: no chip geometry: {path} does not exist (chip_params_file)")
    known = {name: (p.channel_length_um / p.channel_width_um / p.capacitance_f_per_m2)  # type: ignore[operator]
             for name, p in chips.items() if p.has_geometry}
    factor = pl.col("chip_name").replace_strict(known, default=None, return_dtype=pl.Float64)
    per_gm = factor / pl.col("vds_v").abs() * 1e4  # m² → cm²
    is_ivg = family == "IVg"
    reason = (pl.when(is_ivg & factor.is_null())
              .then(unknown)
              .when(is_ivg & pl.col("vds_v").is_null())
              .then(pl.lit("mobility: no drain voltage (Vds) in the header"))
              .when(is_ivg & (pl.col("vds_v") == 0))  # the header gives it, as 0: no current to divide by it
              .then(pl.lit("mobility: the drain voltage (Vds) is 0 V"))
              .when(is_ivg & ~per_gm.is_finite())  # extreme but valid numbers: no number, not ±inf
              .then(pl.format("mobility: the geometry of {} in chip_params.yaml overflows a float",
                              pl.col("chip_name")))
              .when(is_ivg & (per_gm == 0))  # L/W below the smallest float: every mobility would read 0
              .then(pl.format("mobility: the geometry of {} in chip_params.yaml underflows a float",
                              pl.col("chip_name"))))
    mobility = {q.column: pl.col(q.read_from) * per_gm for q in QUANTITIES if q.column.startswith("mobility_")
                and q.read_from is not None}
    highest = pl.max_horizontal(*mobility.values())
    reason = reason.when(is_ivg & (highest > MOBILITY_LIMIT)).then(pl.format(
        f"mobility: {{}}e6 cm²/(V·s) is beyond any graphene's (over {MOBILITY_LIMIT / 1e6:g}e6): check Vds ({{}} V) "
        "and the geometry of {} in chip_params.yaml", (highest / 1e6).round_sig_figs(3), pl.col("vds_v"),
        pl.col("chip_name")))
    return table.with_columns(
        **{name: pl.when(value.is_finite() & (per_gm != 0) & (value <= MOBILITY_LIMIT)).then(value)
           for name, value in mobility.items()},
        _mobility_remark=reason,
    )


def _calibrate(config: StagingConfig, runs: pl.DataFrame, table: pl.DataFrame, old: pl.DataFrame,
               staged_curves: Mapping[str, tuple[str, Curve]], family: pl.Expr) -> pl.DataFrame:
    """Each lit It run's nearest calibration of its wavelength that can price power, its age, and the power it gives
    at the run's VL; a run whose calibrations all cannot is told why the nearest cannot. Also how far the powers of
    the calibrations within the stale window disagree (`calibration_spread`, over `calibration_set`)."""
    settings = config.metrics
    calibrations = runs.filter(family == "LaserCalibration")
    cal_ids = calibrations["run_id"].to_numpy()
    unpriced = _why_unpriced(calibrations, table)
    priceable = np.array([reason is None for reason in unpriced], dtype=bool)
    cal_us = calibrations["start_time_utc"].dt.epoch("us").to_numpy()  # whole µs: two as near are a tie, not a
    # rounding of float hours (which decided a quarter of such ties for the later one)
    cal_nm = calibrations["laser_wavelength_nm"].fill_null(np.nan).to_numpy()
    lit = (family == "It") & (pl.col("laser_voltage_v") >= settings.light_threshold_v)
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
            priced.append((run_id, None, f"power_w: no LaserCalibration {what} in the store"))
            continue
        if (curve := curves[cal_id]) is None:
            priced.append((run_id, None, f"{UNREADABLE_CALIBRATION} ({cal_id}): read again at the next update"))
            continue
        if not in_range(curve[0], laser_v):
            pool = pools[wavelength]
            farther = pool[np.lexsort((cal_us[pool], np.abs(cal_us[pool] - at)))][1:]  # the nearest first
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
    return table.join(joined, on="run_id", how="left").with_columns(
        _power_remark=pl.when(unlit & header_v.is_null())
        .then(pl.lit("power_w: the header gives no 'Laser voltage', though VL pulses in the data"))
        .when(unlit)
        .then(pl.format("power_w: the header's 'Laser voltage' ({} V) says the laser was off, though VL pulses in "
                        "the data", header_v))
        .otherwise("_power_remark"))


def _why_unpriced(calibrations: pl.DataFrame, table: pl.DataFrame) -> list[str | None]:
    """Why each calibration can price no power at all (None where it can), from its row alone, so that choosing one
    reads no curve: the remark on its whole curve (fewer than 2 points, no rise above the dark reading, an
    unreadable run), or no Power above 0 W."""
    rows = calibrations.select("run_id").join(
        table.select("run_id", "p_max_w", "remarks"), on="run_id", how="left", maintain_order="left"
    )
    reasons: list[str | None] = []
    for p_max, remarks in rows.select("p_max_w", "remarks").iter_rows():
        whole = [remark.split(": ", 1)[1] for remark in remarks or () if remark.startswith(WHOLE_CURVE)]
        reasons.append(whole[0] if whole else None if p_max is not None and p_max > 0 else "no Power above 0 W")
    return reasons


def _curves(config: StagingConfig, calibrations: pl.DataFrame, staged: Mapping[str, tuple[str, Curve]],
            cal_ids: list[str]) -> dict[str, Curve | None]:
    """The curves of these calibrations, each read once: the stager's (`staged`: run_id → (content hash, curve))
    where the content still matches, the others read back from the store in threads; None where the Parquet cannot
    be read (a price from it is refused and redone at the next update, not a remark kept for good)."""
    ids = calibrations["run_id"].to_list()
    dates = dict(zip(ids, calibrations["date_local"].to_list(), strict=True))
    shas = dict(zip(ids, calibrations["source_sha256"].to_list(), strict=True))
    needed = list(dict.fromkeys(cal_ids))
    curves: dict[str, Curve | None] = {cal_id: staged[cal_id][1] for cal_id in needed
                                       if cal_id in staged and staged[cal_id][0] == shas[cal_id]}
    to_read = [cal_id for cal_id in needed if cal_id not in curves]
    curves.update(zip(to_read, map_in_threads(config, lambda cal_id: _curve(config, cal_id, dates[cal_id]), to_read),
                      strict=True))
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


def _curve(config: StagingConfig, run_id: str, date_local: dt.date) -> Curve | None:
    """A calibration's curve read back; None when its Parquet cannot be read."""
    path = run_parquet_path(config.stage_root, "LaserCalibration", date_local, run_id)
    frame = read_run(path, list(READ_COLUMNS["LaserCalibration"]))
    return None if isinstance(frame, Exception) else curve_of(frame)


def refresh_metrics(config: StagingConfig, *, rebuild: bool = False) -> MetricsUpdate:
    """`update_metrics` under the store's writer lock (waiting like a second stager), for callers outside a stage.
    A store that cannot be written (a read-only share) is read: the table as last computed, and a problem line that
    says so and counts the runs it lacks; only `rebuild` needs to write."""
    from labtui.core.store import StoreReadOnly, lock_store

    try:
        lock = lock_store(config)
    except StoreReadOnly:
        if rebuild:
            raise
        table = read_metrics(config)
        runs = _with_metrics(read_manifest(config.manifest_path), family_expr(config.procedures_file))
        lacking = runs.height - runs.filter(pl.col("run_id").is_in(table["run_id"].implode())).height
        behind = f"; {counted(lacking, 'run')} not computed yet" if lacking else ""
        return MetricsUpdate(table, problems=[f"the store is read-only: derived quantities as last computed{behind}"])
    try:
        return update_metrics(config, rebuild=rebuild)
    finally:
        lock.release()


def update_after_stage(
    config: StagingConfig,
    manifest: pl.DataFrame | None,
    *,
    changed: bool,
    computed: Mapping[str, tuple[str, Derived]] | None = None,
    curves: Mapping[str, tuple[str, Curve]] | None = None,
    computing: Future[MetricsUpdate] | None = None,
) -> MetricsUpdate | None:
    """The stager's hook, under its lock, after its commits: update for what the stage committed (or build a
    missing table). `computing`: the table for the manifest of the stage's last commit (`compute_update`), which
    the stager computes in a thread while that commit writes; it is written here, after the commit.

    A problem here (a bad chip_params.yaml, a full disk) must not fail a stage whose runs are committed: it is
    returned as a problem of the update, and the next stage or `labtui metrics` tries again.
    """
    if not changed and is_current(config.metrics_path, config.metrics):
        return None
    try:
        if computing is None:
            return update_metrics(config, manifest, computed=computed, curves=curves)
        return write_update(config, computing.result())
    except LabtuiError as error:
        return MetricsUpdate(empty_metrics(), problems=[f"metrics not updated: {error}"])
