"""The metrics table `<derived_root>/metrics.parquet`: one row per IVg, It and LaserCalibration run, keyed by run_id.

Update protocol (`update_metrics`, run by the stager under the writer lock after its commits, or by
`labtui metrics` under the same lock):
1. from-data quantities (`per_run`) are computed only for runs that are new, changed (another `source_sha256`) or
   computed under another `metrics_version` or window settings (`settings_hash`); each such run's Parquet is read
   once, only the columns it needs, in worker threads;
2. the joined quantities are redone for every row, as they are cheap: context copied from the manifest, mobility
   from the chip geometry, the nearest calibration of each lit It run (`pricing`); a calibration curve is read only
   for runs whose calibration (`calibration_run_id`, `calibration_sha256`) or laser voltage changed, and not at all
   when the stager kept it from the frame it parsed;
3. the table is written whole, atomically and durably like the manifest, and only when it changed or its footer
   lacks this labtui's stamp (`metrics_stamp`: a stage with nothing to stage redoes a table without it).
Runs gone from the manifest leave the table. Deleting the file, or `rebuild=True`, recomputes it from the store.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Mapping
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from labtui.core.annotations import excluded_runs
from labtui.core.atomic import atomic_write, stale_temps
from labtui.core.chip_params import ChipParams, load_chip_params
from labtui.core.chip_spelling import shared_names
from labtui.core.config import StagingConfig
from labtui.core.errors import LabtuiError, OperationFailed
from labtui.core.layout import addresses_a_run
from labtui.core.manifest import read_manifest
from labtui.core.metrics.definitions import (
    INCOMPLETE_TOPIC,
    MOBILITY_LIMIT,
    PROCEDURES,
    QUANTITIES,
    RESPONSIVITY_DOUBT,
    VDS_PLAUSIBLE_V,
)
from labtui.core.metrics.per_run import DATA_COLUMNS, Curve, Derived, compute_runs
from labtui.core.metrics.pricing import PRICING_TOPIC, calibrate
from labtui.core.metrics.schema import CONTEXT_SCHEMA, METRICS_SCHEMA, MetricsDamaged, empty_metrics, read_metrics
from labtui.core.metrics_stamp import (
    METRICS_VERSION,
    OWNER_KEY,
    STAMP_KEY,
    is_current,
    metrics_stamp,
    settings_hash,
)
from labtui.core.registry import family_expr
from labtui.core.wording import counted

INCOMPLETE = (f"{INCOMPLETE_TOPIC}: its quantities are of the rows it has (stopped short, or rows missing inside it: "
              "the manifest's is_complete is false)")
JOINED_TOPICS = ("mobility", "power_w", "responsivity", "calibration_spread", PRICING_TOPIC,  # the join's remarks
                 INCOMPLETE_TOPIC)


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
    table = _join(config, runs, data, old, curves, family, excluded_runs(config.store_root))
    stale = rebuild or not table.equals(old) or not is_current(config)
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
        write_metrics(update.table, config, metrics_stamp(config))
        update.written = True
    update.elapsed_s += time.monotonic() - started
    update.cpu_s += time.process_time() - cpu
    return update


def write_metrics(table: pl.DataFrame, config: StagingConfig, stamp: str) -> None:
    """The table, replacing the last one, with its stamp and the store it is of (`shared_derived_problem`); a killed
    writer's temp file beside it (`stale_temps`) goes, which stayed there for good, unreported."""
    path = config.metrics_path
    owner = str(config.store_root.absolute())
    try:
        atomic_write(path, lambda handle: table.write_parquet(handle, compression="zstd", statistics=True,
                                                              metadata={STAMP_KEY: stamp, OWNER_KEY: owner}))
    except OSError as error:
        raise OperationFailed("write the metrics table", path, error) from error
    for temp in stale_temps(path):
        with contextlib.suppress(OSError):  # renamed or removed meanwhile: nothing left to sweep
            temp.unlink()


def _joined_remark(remark: pl.Expr) -> pl.Expr:
    return pl.any_horizontal(remark.str.starts_with(f"{topic}") for topic in JOINED_TOPICS)


# -- step 2: joined quantities ------------------------------------------------------------------------------------
def _join(config: StagingConfig, runs: pl.DataFrame, data: pl.DataFrame, old: pl.DataFrame,
          curves: Mapping[str, tuple[str, Curve]], family: pl.Expr, excluded: Mapping[str, str]) -> pl.DataFrame:
    """`family`: each run's procedure family (`Registry.family`), which says which quantities it has; `excluded`:
    the runs the lab excluded, whose calibrations price no run."""
    aborted = pl.when(~pl.col("is_complete")).then(pl.lit(INCOMPLETE)).alias("_aborted_remark")  # a cut sweep's CNP
    table = runs.select(*CONTEXT_SCHEMA, aborted).join(data, on="run_id", how="inner")
    table = _mobility(table, load_chip_params(config.chip_params_file), config.chip_params_file, family)
    table = calibrate(config, runs, table, old, curves, family, excluded)
    responsivity = pl.col("delta_i_a") / pl.col("power_w")  # both finite, power_w > 0: only an overflow is not
    # the conductance's change, not the current's: a run biased at −Vds has the opposite ΔI for the same physics;
    # without a Vds (or at 0 V) the dark current's sign is the bias's (it was not negated: a sign of chance)
    biased = pl.col("vds_v").is_not_null() & (pl.col("vds_v") != 0)
    negated = pl.when(biased).then(pl.col("vds_v") < 0).otherwise(pl.col("i_dark_a") < 0)
    responsivity = pl.when(negated).then(-responsivity).otherwise(responsivity)
    overflow = pl.when(~responsivity.is_finite()).then(pl.lit("responsivity_a_per_w: delta_i_a / power_w overflows"))
    # where there is a responsivity to sign: a dead channel's ±1 pA (no ΔI) is no current against anything
    against = pl.when(responsivity.is_not_null() & biased & (pl.col("i_dark_a") * pl.col("vds_v") < 0)).then(
        pl.lit("responsivity_a_per_w: i_dark_a and Vds have opposite signs, a current against the bias, which no "
               "channel carries (an ammeter wired the other way?): signed by Vds"))
    alone = pl.when(pl.col("power_w").is_not_null() & pl.col("calibration_spread").is_null()).then(pl.lit(
        f"calibration_spread: fewer than two calibrations within {config.metrics.calibration_stale_h:g} h price it "
        "(or one prices it at a power too near 0 W to divide by): nothing to compare"))
    # list.eval's drop_nulls, not list.drop_nulls: the same lists, 6 ms instead of 42 at 65k runs (Polars 2.1)
    remarks = pl.concat_list("remarks", "_mobility_remark", "_power_remark", alone, overflow, against,
                             "_aborted_remark").list.eval(
        pl.element().drop_nulls())
    table = table.with_columns(
        remarks=remarks,
        responsivity_a_per_w=pl.when(responsivity.is_finite()).then(responsivity),
        calibration_stale=pl.col("calibration_age_h").abs() > config.metrics.calibration_stale_h,
    ).with_columns(responsivity_doubt=RESPONSIVITY_DOUBT)
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
        unknown = pl.lit(f"mobility: no chip geometry: {path} does not exist (chip_params_file; its format: the "
                         "README, Chip geometry)")
    known = {name: (p.channel_length_um / p.channel_width_um / p.capacitance_f_per_m2)  # type: ignore[operator]
             for name, p in chips.items() if p.has_geometry}
    # a name two chips share (group `Alisson6` number 7, `Alisson` 67): the geometry of one gave the other a mobility
    shared = shared_names(table.filter(pl.col("chip_name").is_in(list(known))))["chip_name"].to_list() if known else []
    is_shared = pl.col("chip_name").is_in(shared)
    factor = pl.when(is_shared).then(None).otherwise(
        pl.col("chip_name").replace_strict(known, default=None, return_dtype=pl.Float64))
    unknown = pl.when(is_shared).then(pl.format(
        "mobility: {} is the name of several chips (their groups and numbers apart): whose geometry chip_params.yaml "
        "gives is unknown", pl.col("chip_name"))).otherwise(unknown)
    per_gm = factor / pl.col("vds_v").abs() * 1e4  # m² → cm²
    implausible = pl.col("vds_v").abs() > VDS_PLAUSIBLE_V
    is_ivg = family == "IVg"
    reason = (pl.when(is_ivg & factor.is_null())
              .then(unknown)
              .when(is_ivg & pl.col("vds_v").is_null())
              .then(pl.lit("mobility: no drain voltage (Vds) in the header"))
              .when(is_ivg & (pl.col("vds_v") == 0))  # the header gives it, as 0: no current to divide by it
              .then(pl.lit("mobility: the drain voltage (Vds) is 0 V"))
              .when(is_ivg & implausible)  # 100 mV written V: gm divided by 1000× the bias, a mobility 1000× low
              .then(pl.format(f"mobility: Vds {{}} V is past any graphene transistor's bias ({VDS_PLAUSIBLE_V:g} V): "
                              "in another unit (mV written V)? No mobility from it", pl.col("vds_v")))
              .when(is_ivg & ~per_gm.is_finite())  # extreme but valid numbers: no number, not ±inf
              .then(pl.format("mobility: the geometry of {} in chip_params.yaml overflows a float",
                              pl.col("chip_name")))
              .when(is_ivg & (per_gm == 0))  # L/W below the smallest float: every mobility would read 0
              .then(pl.format("mobility: the geometry of {} in chip_params.yaml underflows a float",
                              pl.col("chip_name"))))
    mobility = {q.column: pl.col(q.read_from[0]) * per_gm for q in QUANTITIES if q.column.startswith("mobility_")}
    highest = pl.max_horizontal(*mobility.values())
    # 3 digits and a power of ten of its own: `round_sig_figs` wrote 1e297 as 1.9900000000000012e+297, and past a
    # float's range (a Vds of 1e-300 V) there is no number to write
    rounded = highest.round_sig_figs(3)  # 9.996e6 is 1.0e7, not 10.0e6
    exponent = rounded.log10().floor()
    shown = pl.when(highest.is_finite()).then(pl.format(
        "{}e{} cm²/(V·s)", (rounded / pl.lit(10.0).pow(exponent)).round(2), exponent.cast(pl.Int64, strict=False))
    ).otherwise(pl.lit("past a float's range"))
    reason = reason.when(is_ivg & (highest > MOBILITY_LIMIT)).then(pl.format(
        f"mobility: {{}} is beyond any graphene's (over {MOBILITY_LIMIT / 1e6:g}e6 cm²/(V·s)): check Vds ({{}} V) "
        "and the geometry of {} in chip_params.yaml", shown, pl.col("vds_v"), pl.col("chip_name")))
    return table.with_columns(
        **{name: pl.when(value.is_finite() & (per_gm != 0) & (value <= MOBILITY_LIMIT) & ~implausible).then(value)
           for name, value in mobility.items()},
        _mobility_remark=reason,
    )


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
    if not changed and is_current(config):
        return None
    try:
        if computing is None:
            return update_metrics(config, manifest, computed=computed, curves=curves)
        return write_update(config, computing.result())
    except LabtuiError as error:
        return MetricsUpdate(empty_metrics(), problems=[f"metrics not updated: {error}"])
