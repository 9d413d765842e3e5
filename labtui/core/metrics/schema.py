"""The metrics table's columns and its lock-free read: all a reader needs (the app's dashboard, a history's metric
columns, a notebook), without the computations' NumPy or the chip parameters' Pydantic."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from labtui.core.atomic import read_parquet_pinned
from labtui.core.config import METRICS_FILE, StagingConfig
from labtui.core.errors import LabtuiError, first_line
from labtui.core.metrics.definitions import QUANTITIES
from labtui.core.wording import counted

CONTEXT_SCHEMA: dict[str, pl.DataType] = {
    "run_id": pl.String(), "source_file": pl.String(), "proc": pl.String(), "chip_group": pl.String(),
    "chip_number": pl.Int64(), "chip_name": pl.String(), "start_time_utc": pl.Datetime("us", "UTC"),
    "date_local": pl.Date(), "has_light": pl.Boolean(), "laser_wavelength_nm": pl.Float64(),
    "laser_voltage_v": pl.Float64(), "vg_fixed_v": pl.Float64(), "vds_v": pl.Float64(),
}
PROVENANCE_SCHEMA: dict[str, pl.DataType] = {
    "remarks": pl.List(pl.String()),  # "<column or topic>: <why it is null>"
    "source_sha256": pl.String(),  # the run content the from-data quantities were computed from
    "calibration_sha256": pl.String(),  # the calibration content power_w was interpolated from
    # the usable calibrations in reach of a lit run, which calibration_spread compares: `<first>…<last> (<count>)
    # <digest>`, run_ids in start order (they are consecutive), then 64 bits of a digest of their contents
    "calibration_set": pl.String(),
    "metrics_version": pl.Int32(),
    "settings_hash": pl.String(),  # the windows (config `metrics:`) the from-data quantities used
}
METRICS_SCHEMA: dict[str, pl.DataType] = {
    **CONTEXT_SCHEMA,
    **{q.column: q.dtype() if isinstance(q.dtype, type) else q.dtype for q in QUANTITIES},
    **PROVENANCE_SCHEMA,
}


def empty_metrics() -> pl.DataFrame:
    return pl.DataFrame(schema=METRICS_SCHEMA)


class MetricsDamaged(LabtuiError):
    """The metrics table cannot be read as one (cut short, overwritten, re-saved with other column types). It is
    derived from the store alone, so a writer recomputes it (`update_metrics`); a reader says how in one line."""

    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(f"the metrics table {path} is damaged ({reason}): `labtui metrics --rebuild` recomputes it "
                         "from the store")


def read_metrics(source: StagingConfig | Path) -> pl.DataFrame:
    """The committed metrics table (a config, a derived_root folder or the file itself), with the full schema;
    empty when nothing was computed yet; `MetricsDamaged` when it cannot be read as one. Lock-free: a writer
    replaces the file whole."""
    path = source.metrics_path if isinstance(source, StagingConfig) else Path(source)
    if not isinstance(source, StagingConfig) and path.is_dir():  # a folder where the table is is damage, not none
        path = path / METRICS_FILE
    try:
        frame = read_parquet_pinned(path)
    except FileNotFoundError:
        return empty_metrics()
    except IsADirectoryError:
        raise MetricsDamaged(path, "a folder, not a file: move it away") from None
    except (pl.exceptions.PolarsError, ValueError) as exc:
        raise MetricsDamaged(path, f"not a readable Parquet file: {first_line(exc)[:120]}") from None
    wrong = [f"{name} is {dtype}, not {METRICS_SCHEMA[name]}" for name, dtype in frame.schema.items()
             if name in METRICS_SCHEMA and dtype != METRICS_SCHEMA[name]]
    if wrong:
        raise MetricsDamaged(path, f"{counted(len(wrong), 'column')} of another type: {'; '.join(wrong[:3])}"
                                   f"{'; …' if len(wrong) > 3 else ''}")
    missing = [name for name in METRICS_SCHEMA if name not in frame.columns]
    frame = frame.with_columns(pl.lit(None, dtype=METRICS_SCHEMA[name]).alias(name) for name in missing)
    return frame.select(list(METRICS_SCHEMA))
