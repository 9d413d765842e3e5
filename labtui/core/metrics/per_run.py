"""Step 1 of the metrics table's update: each run's from-data quantities (`from_data`) and each calibration's curve
(`curve_of`), from a frame the stager just parsed or from the run's Parquet read back (`compute_runs`, in threads a
few chunks ahead of the thread that computes). `table` joins them with the chips, the calibrations and each other.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import polars as pl

from labtui.core.atomic import read_parquet_pinned, read_parquets_pinned
from labtui.core.config import MetricsSettings, StagingConfig
from labtui.core.datablock import NO_READING
from labtui.core.errors import first_line
from labtui.core.header_values import ReadingLimit, reading_limit, sweep_limits
from labtui.core.layout import run_parquet_path
from labtui.core.manifest import run_parameters
from labtui.core.metrics.calibration import calibration_curve, calibration_quantities
from labtui.core.metrics.definitions import QUANTITIES
from labtui.core.metrics.it import it_quantities, lit_vl_disagrees
from labtui.core.metrics.ivg import ivg_quantities
from labtui.core.metrics.schema import METRICS_SCHEMA
from labtui.core.metrics_stamp import METRICS_VERSION
from labtui.core.registry import load_registry
from labtui.core.wording import counted

DATA_COLUMNS = tuple(q.column for q in QUANTITIES if q.from_data)
T = TypeVar("T")
R = TypeVar("R")
Derived = tuple[Any, ...]  # one run's from-data quantities in DATA_COLUMNS order, then its remarks
Curve = tuple[np.ndarray, np.ndarray]  # a calibration's (VL, Power) points sorted by VL, NaN Power at a VL with no
# reading between two with one (`calibration_curve`)
READ_COLUMNS = {"IVg": ("vg_v", "i_a"), "It": ("t_s", "i_a", "vl_v"), "LaserCalibration": ("vl_v", "power_w")}
WRITTEN_AS = {"vg_v": "Vg (V)", "i_a": "I (A)", "t_s": "t (s)", "vl_v": "VL (V)", "power_w": "Power (W)"}  # in a file
READ_BACK_CHUNK = 32  # runs whose Parquet one query reads back (`_read_chunk`)


def compute_runs(config: StagingConfig, todo: pl.DataFrame, family: pl.Expr, version: str,
                 computed: Mapping[str, tuple[str, Derived]],
                 curves: dict[str, tuple[str, Curve]]) -> tuple[pl.DataFrame, list[str]]:
    """The from-data rows of the runs `todo` (with `metrics_version` and the windows' hash `version`), and the
    problems of runs that could not be read: from `computed` where the caller has them at the same hash, else read
    back in chunks, each run as its `family` (`registry.family_expr`: an IVgT run as an IVg one). The curve of each
    calibration read back goes into `curves` (run_id → (content hash, curve)): pricing reads none twice."""
    results: list[tuple[Derived, str | None]] = []
    to_read: list[tuple[Any, ...]] = []
    rows = todo.select("run_id", "proc", "date_local", "vds_v", "source_sha256", "laser_voltage_v", "parameters",
                       family.alias("family"))
    for row in rows.iter_rows():
        known = computed.get(row[0])
        if known is not None and known[0] == row[4] and known[1]:
            results.append(((row[0], *known[1], row[4]), None))
        else:
            to_read.append(row)
    chunks = [to_read[at : at + READ_BACK_CHUNK] for at in range(0, len(to_read), READ_BACK_CHUNK)]
    for chunk, frames in _read_ahead(config, lambda chunk: _read_chunk(config, chunk), chunks):
        results += _from_frames(config, chunk, frames, curves)
    schema = {name: METRICS_SCHEMA[name] for name in ("run_id", *DATA_COLUMNS, "remarks", "source_sha256")}
    frame = pl.DataFrame([r[0] for r in results], schema=schema, orient="row")
    frame = frame.with_columns(metrics_version=pl.lit(METRICS_VERSION, pl.Int32), settings_hash=pl.lit(version))
    return frame, [r[1] for r in results if r[1]]


def map_in_threads(config: StagingConfig, work: Callable[[T], R], items: list[T]) -> list[R]:
    """`work` on every item, in `config.workers` threads (Polars reads Parquet without the GIL) when there are a
    few; the reads of a full stage's update are its serial tail."""
    if len(items) <= 2:
        return [work(item) for item in items]
    return [result for _, result in _read_ahead(config, work, items)]


def _read_ahead(config: StagingConfig, read: Callable[[T], R], items: list[T]) -> Iterator[tuple[T, R]]:
    """(item, `read(item)`) in order, read in `config.workers` threads at most that many items ahead of the caller.

    The caller computes in its own thread: NumPy's small calls hold the GIL, and four threads computing took twice
    the CPU of one (GIL hand-overs, cold caches) for no gain in wall time. Reading ahead is bounded, so a rebuild of
    a large store never holds more than a few chunks of frames."""
    with ThreadPoolExecutor(config.workers, thread_name_prefix="labtui-metrics") as pool:
        pending: deque[tuple[T, Future[R]]] = deque()
        for item in items:
            pending.append((item, pool.submit(read, item)))
            if len(pending) > config.workers:
                item, future = pending.popleft()
                yield item, future.result()
        while pending:
            item, future = pending.popleft()
            yield item, future.result()


def _read_chunk(config: StagingConfig, rows: list[tuple[Any, ...]]) -> list[pl.DataFrame | Exception]:
    """The Parquet of runs (run_id, proc, date_local, …, family) in one Polars query (a read per file cost twice the
    CPU); when a file cannot be read, which fails the query, each file alone: its error in its place."""
    paths = [run_parquet_path(config.stage_root, proc, date_local, run_id) for run_id, proc, date_local, *_ in rows]
    columns = [list(READ_COLUMNS[row[-1]]) for row in rows]
    try:
        return list(read_parquets_pinned(paths, columns))
    except (OSError, pl.exceptions.PolarsError):
        return [read_run(path, names) for path, names in zip(paths, columns, strict=True)]


def _from_frames(config: StagingConfig, rows: list[tuple[Any, ...]], frames: list[pl.DataFrame | Exception],
                 curves: dict[str, tuple[str, Curve]]) -> list[tuple[Derived, str | None]]:
    """The from-data rows of runs (run_id, proc, date_local, vds_v, source_sha256, laser_voltage_v, parameters,
    family) read back; a run whose Parquet could not be read gets an empty row without a hash (so it is retried) and
    a problem."""
    results: list[tuple[Derived, str | None]] = []
    registry = load_registry(config.procedures_file)
    for (run_id, proc, date_local, vds_v, sha256, laser_v, parameters, family), frame in zip(rows, frames,
                                                                                             strict=True):
        if isinstance(frame, Exception):
            path = run_parquet_path(config.stage_root, proc, date_local, run_id)
            problem = f"{proc} run {run_id}: cannot read {path}: {first_line(frame)}"
            results.append(((run_id, *[None] * len(DATA_COLUMNS),
                             [f"run: cannot read its Parquet ({first_line(frame)})"], None), problem))
        else:
            raw = run_parameters(parameters) or {}  # a hand-edited row's `[]` or garbage: no header values
            limits = sweep_limits(registry.get(proc), raw) if family != "It" else None
            derived = from_data(family, frame, vds_v, config.metrics, laser_v, limits, reading_limit(family, raw))
            results.append(((run_id, *derived, sha256), None))
            if family == "LaserCalibration":
                curves[run_id] = (sha256, curve_of(frame))
    return results


def read_run(path: Path, columns: list[str]) -> pl.DataFrame | Exception:
    """A run's Parquet, or the error that makes it unreadable (a missing or damaged file)."""
    try:
        return read_parquet_pinned(path, columns=columns)
    except (OSError, pl.exceptions.PolarsError) as error:
        return error


def from_data(proc: str, frame: pl.DataFrame, vds_v: float | None, settings: MetricsSettings,
              laser_v: float | None = None, limits: tuple[float, float] | None = None,
              reading: ReadingLimit | None = None) -> Derived:
    """The from-data quantities (in `DATA_COLUMNS` order) and the remarks of one run's data frame (as staged, or
    read back), or () for a procedure without metrics. The stager calls it in its workers on the frame it just
    parsed, so a stage never reads its own Parquet back. `laser_v`: the header's laser voltage, which prices a lit
    It run's power: said when the VL column reads another while lit. `limits`: the header's sweep limits
    (`header_values.sweep_limits`), which a swept column reaching far past says is in another unit; `reading`: the
    bound of the measured column (`header_values.reading_limit`: the meter's current range, the power sensor's full
    scale), which a current or a power reaching far past says the same of."""
    if proc not in READ_COLUMNS:
        return ()
    present = frame.columns  # a list Polars builds at each read
    if missing := [name for name in READ_COLUMNS[proc] if name not in present]:  # a registry entry `like:` a
        # procedure whose columns its data lack (the remark was Polars' `no column "vl_v" not found`)
        written = " nor ".join(WRITTEN_AS[name] for name in missing)
        return (*[None] * len(DATA_COLUMNS), [f"run: its data have no {written} column, which {proc}'s quantities "
                                              "are read from"])
    columns, spans, gaps = _readings(frame, READ_COLUMNS[proc])
    if proc != "It" and (beyond := _past_limits(proc, spans[0], limits)) is not None:
        return (*[None] * len(DATA_COLUMNS), [*gaps, beyond])
    if (beyond := _past_range(proc, columns[1], spans[1], reading)) is not None:
        return (*[None] * len(DATA_COLUMNS), [*gaps, beyond])
    try:
        with np.errstate(all="ignore"):  # absurd values (1e308) overflow to inf: a null with its reason, no warning
            if proc == "IVg":
                vg, i = columns
                values, remarks = ivg_quantities(vg, i, vds_v, settings)
            elif proc == "It":
                t, i, vl = columns
                values, remarks = it_quantities(t, i, vl, vds_v, settings, laser_v)
                remarks += lit_vl_disagrees(vl, laser_v, settings.light_threshold_v)
            else:
                values, remarks = calibration_quantities(*columns)
    except (ArithmeticError, ValueError, np.linalg.LinAlgError) as error:  # data no fit can describe
        return (*[None] * len(DATA_COLUMNS), [f"run: no metrics from these data ({error})"])
    return (*[_finite(values.get(name)) for name in DATA_COLUMNS], gaps + remarks)


SWEPT_NAMES = {"IVg": "Vg", "LaserCalibration": "VL"}
PAST_LIMITS = 10.0  # a swept column reaching this many times as far from 0 as its header's sweep is in another unit
# (a prefix apart is 1000×; a header edited apart from its data, 3×, keeps its quantities)


def _past_limits(proc: str, span: tuple[float, float], limits: tuple[float, float] | None) -> str | None:
    """A remark when the swept column, of finite `span` (`_readings`), reaches PAST_LIMITS × farther from 0 than the
    header's sweep: a Vg or VL logged in mV under a (V) name, which made a Dirac point of 417 V and priced a run's
    power 357× low, both with no remark. The remark of a calibration starts with its procedure: no part of such a
    curve prices a run."""
    if limits is None or not (reach := max(-limits[0], limits[1])) > 0:
        return None
    low, high = span  # a NaN or an inf is no reading: the others decide
    if not max(-low, high) > PAST_LIMITS * reach:  # NaN (no finite reading, or none at all) passes
        return None
    return (f"{proc}: {SWEPT_NAMES[proc]} reaches {low:g}…{high:g} V, past the header's sweep of {limits[0]:g}…"
            f"{limits[1]:g} V: logged in another unit? No quantities from it")


MEASURED_NAMES = {"IVg": ("I", "A"), "It": ("I", "A"), "LaserCalibration": ("Power", "W")}


def _past_range(proc: str, measured: np.ndarray, span: tuple[float, float],
                reading: ReadingLimit | None) -> str | None:
    """A remark when the measured column (I, a calibration's Power), of finite `span` (`_readings`), reaches past
    what its instrument reads (the limit's slack: a meter the header names reads 5 % past its range, a bound of no
    named one is a guess): an I logged in mA or nA under `I (A)` made a dark current of 47 kA and a responsivity of
    −6e7 A/W, a calibration's Power in µW under `Power (W)` priced runs 10⁶× high, with no remark (a meter reads
    9.9e37 past its range, which `_readings` takes as a gap)."""
    if reading is None or not measured.size:
        return None
    low, high = span
    bound = reading.slack * reading.value
    if not max(-low, high) > bound:  # NaN (no finite reading) passes: the others say it
        return None
    name, unit = MEASURED_NAMES[proc]
    before = _finite_span(measured[:-1]) if measured.size > 2 else (math.nan, math.nan)
    if max(-before[0], before[1]) <= bound:  # the last row alone: `2.02437532e-05` cut to `2.02`, a line end after
        return (f"{proc}: its last {name} reading ({measured[-1]:g} {unit}) alone is past {reading.source}: its last "
                "row cut short (a download or a copy cut off, then saved)? No quantities from it")
    return f"{proc}: {name} reaches {low:g}…{high:g} {unit}, past {reading.source}: logged in another unit? No " \
           "quantities from it"


def _finite_span(values: np.ndarray) -> tuple[float, float]:
    """The least and the largest finite value (NaN, NaN when there is none): two passes where every value is."""
    low, high = float(values.min()), float(values.max())
    if math.isfinite(low) and math.isfinite(high):
        return low, high
    finite = values[np.isfinite(values)]
    return (float(finite.min()), float(finite.max())) if finite.size else (math.nan, math.nan)


def curve_of(frame: pl.DataFrame) -> Curve:
    """A LaserCalibration's curve from its frame (as staged, or read back); empty without its columns."""
    try:
        (vl, power), _, _ = _readings(frame, READ_COLUMNS["LaserCalibration"])
    except pl.exceptions.ColumnNotFoundError:
        return np.empty(0), np.empty(0)
    return calibration_curve(vl, power)


def _readings(frame: pl.DataFrame, names: tuple[str, ...]) -> tuple[list[np.ndarray], list[tuple[float, float]],
                                                                     list[str]]:
    """The columns as float arrays (no copy of a Float64 column without nulls; a null becomes NaN), each value of
    ±`NO_READING` or beyond a NaN (a gap, as a sensor's); each column's least and largest finite value (NaN, NaN
    for none: `_finite_span`), which its reach is judged by; and a remark for each column that had such values."""
    columns, spans, remarks = [], [], []
    for name in names:
        series = frame.get_column(name)
        values = (series if series.dtype == pl.Float64 else series.cast(pl.Float64)).to_numpy()
        # max and min: two passes without temporaries where every value reads, which are then its span (NaN fails
        # both: the mask decides)
        low, high = (float(values.min()), float(values.max())) if values.size else (math.nan, math.nan)
        if values.size and not (low > -NO_READING and high < NO_READING):
            marks = np.abs(values) >= NO_READING
            if count := int(np.count_nonzero(marks)):
                values = np.where(marks, np.nan, values)
                remarks.append(f"{name}: {counted(count, 'value')} of ±{NO_READING:g} or more (an instrument's "
                               "overflow mark) read as gaps")
            low, high = _finite_span(values)
        columns.append(values)
        spans.append((low, high))
    return columns, spans, remarks


def _finite(value: float | None) -> float | None:
    """NaN and ±inf (from overflowing hostile data) are no number: null."""
    return value if value is None or math.isfinite(value) else None
