"""Derived physics of every run: Dirac points, photoresponse, calibrated power, responsivity, mobility.

The engine API (headless; the CLI, the app, figures and notebooks read the table through it):

    read_metrics(config_or_path) -> pl.DataFrame   # the committed table, stable schema (METRICS_SCHEMA), lock-free
    update_metrics(config, manifest=None, rebuild=False) -> MetricsUpdate   # incremental; hold the writer lock
    refresh_metrics(config, rebuild=False) -> MetricsUpdate   # takes the writer lock, then update_metrics
    QUANTITIES / BY_COLUMN / columns_of(proc)        # each quantity's column, unit, procedure and definition

One row per IVg, It and LaserCalibration run, keyed by `run_id` (join it with the manifest or the annotations);
other procedures have no row. `ivg`, `it` and `calibration` hold the pure numpy definitions on one run's columns.
"""

from __future__ import annotations

from labtui.core.metrics.definitions import (
    BY_COLUMN,
    METRICS_VERSION,
    NOT_COMPUTED,
    PROCEDURES,
    QUANTITIES,
    Quantity,
    columns_of,
    definitions_markdown,
)
from labtui.core.metrics.table import (
    METRICS_SCHEMA,
    MetricsUpdate,
    empty_metrics,
    from_data,
    read_metrics,
    refresh_metrics,
    update_after_stage,
    update_metrics,
)

__all__ = [
    "BY_COLUMN",
    "METRICS_SCHEMA",
    "METRICS_VERSION",
    "NOT_COMPUTED",
    "PROCEDURES",
    "QUANTITIES",
    "MetricsUpdate",
    "Quantity",
    "columns_of",
    "definitions_markdown",
    "empty_metrics",
    "from_data",
    "read_metrics",
    "refresh_metrics",
    "update_after_stage",
    "update_metrics",
]
