"""Headless data preparation for in-terminal plots of selected runs (no plotting library imported).

Two steps, so a resize or an option toggle never re-reads Parquet:

    groups = load_selection(runs, stage_root)          # once per selection: one group per procedure
    specs = [shape(g, options, width) for g in groups]  # cheap, on every resize / toggle

`build_plots` does both. A `PlotSpec` holds the series in axis units (SI prefix chosen per axis), markers,
laser-ON spans, warnings and per-run messages; `export_frame` / `export_file_name` turn one into a CSV.
The same spec is drawn by the terminal plot and by `figure` (matplotlib, imported only when a figure is made);
`view` words the view (status, title, file names) for both, `selection` chooses runs and records a figure's.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from labtui.core.config import MetricsSettings
from labtui.core.plotdata.export import export_file_name, export_frame
from labtui.core.plotdata.load import (
    KINDS,
    LoadedGroup,
    group_by_proc,
    load_group,
    load_selection,
)
from labtui.core.plotdata.model import (
    Baseline,
    GmMethod,
    Marker,
    PlotOptions,
    PlotSpec,
    Series,
)
from labtui.core.plotdata.numeric import (
    log_drawable,
    minmax_downsample,
    savgol_derivative,
    sweep_legs,
)
from labtui.core.plotdata.shape import shape
from labtui.core.si import format_si, si_scale


def build_plots(
    runs: pl.DataFrame, stage_root: Path, options: PlotOptions, width: int | None = None,
    settings: MetricsSettings | None = None, procedures_file: Path | None = None,
) -> list[PlotSpec]:
    """Load and shape a selection: one `PlotSpec` per procedure, in order of first appearance; `settings` are the
    config's metrics windows (`config.metrics`), which place the Dirac points and the gm window as the table does."""
    return [shape(group, options, width, settings) for group in load_selection(runs, stage_root, procedures_file)]


__all__ = [
    "KINDS",
    "Baseline",
    "GmMethod",
    "LoadedGroup",
    "Marker",
    "PlotOptions",
    "PlotSpec",
    "Series",
    "build_plots",
    "export_file_name",
    "export_frame",
    "format_si",
    "group_by_proc",
    "load_group",
    "load_selection",
    "log_drawable",
    "minmax_downsample",
    "savgol_derivative",
    "shape",
    "si_scale",
    "sweep_legs",
]
