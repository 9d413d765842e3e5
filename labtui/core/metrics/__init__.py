"""Derived physics of every run: Dirac points, photoresponse, calibrated power, responsivity, mobility.

The engine API (headless; the CLI, the app, figures and notebooks read the table through it):

    read_metrics(config_or_path) -> pl.DataFrame   # the committed table, stable schema (METRICS_SCHEMA), lock-free
    update_metrics(config, manifest=None, rebuild=False) -> MetricsUpdate   # incremental; hold the writer lock
    refresh_metrics(config, rebuild=False) -> MetricsUpdate   # takes the writer lock, then update_metrics
    from_data(proc, frame, vds_v, settings, laser_v), curve_of(frame)   # the stager's, from a frame it parsed
    QUANTITIES / BY_COLUMN / columns_of(proc)        # each quantity's column, unit, procedure and definition

One row per IVg, It and LaserCalibration run, keyed by `run_id` (join it with the manifest or the annotations);
other procedures have no row. `ivg`, `it` and `calibration` hold the pure numpy definitions on one run's columns.

Reading is light (`definitions`, `schema`: Polars only); the table's computations (`per_run` and `table`: NumPy,
the chip parameters) are imported when one of their names is first used, so the app's dashboard and a history's metric
columns start without them.
"""

from __future__ import annotations

from labtui.core.metrics.definitions import (
    BY_COLUMN,
    CALIBRATIONS_DISAGREE,
    INCOMPLETE_TOPIC,
    NOT_COMPUTED,
    PROCEDURES,
    QUANTITIES,
    RESOLVED_SIGMAS,
    Quantity,
    columns_of,
    definitions_markdown,
)
from labtui.core.metrics.schema import METRICS_SCHEMA, empty_metrics, read_metrics
from labtui.core.metrics_stamp import METRICS_VERSION

TYPE_CHECKING = False
if TYPE_CHECKING:
    from labtui.core.metrics.per_run import curve_of, from_data
    from labtui.core.metrics.reprice import reprice_after
    from labtui.core.metrics.table import (
        MetricsUpdate,
        compute_update,
        refresh_metrics,
        update_after_stage,
        update_metrics,
    )

_COMPUTING = {"MetricsUpdate": "table", "compute_update": "table", "refresh_metrics": "table",
              "update_after_stage": "table", "update_metrics": "table", "curve_of": "per_run", "from_data": "per_run",
              "reprice_after": "reprice"}


def __getattr__(name: str) -> object:
    """The computing names, imported from `table` or `per_run` when first asked for."""
    if (module := _COMPUTING.get(name)) is not None:
        from importlib import import_module

        return getattr(import_module(f"labtui.core.metrics.{module}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

__all__ = [
    "BY_COLUMN",
    "CALIBRATIONS_DISAGREE",
    "INCOMPLETE_TOPIC",
    "METRICS_SCHEMA",
    "METRICS_VERSION",
    "NOT_COMPUTED",
    "PROCEDURES",
    "QUANTITIES",
    "RESOLVED_SIGMAS",
    "MetricsUpdate",
    "Quantity",
    "columns_of",
    "compute_update",
    "curve_of",
    "definitions_markdown",
    "empty_metrics",
    "from_data",
    "read_metrics",
    "refresh_metrics",
    "reprice_after",
    "update_after_stage",
    "update_metrics",
]
