"""Reading the selected runs' Parquet once, so re-shaping (resize, option toggles) never touches the disk."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from labtui.core.atomic import read_parquet_pinned, read_parquets_pinned
from labtui.core.datablock import NO_READING
from labtui.core.errors import first_line
from labtui.core.layout import addresses_a_run, run_parquet_path
from labtui.core.registry import LASER_COLUMN, PlotAxes, Registry, load_registry, snake_column
from labtui.core.wording import counted


@dataclass(frozen=True)
class Kind:
    """Which Parquet columns a procedure plots, and what its axes are called (base SI units)."""

    x: str
    y: str
    x_label: str
    x_unit: str
    y_label: str
    y_unit: str
    extra: tuple[str, ...] = ()

    @property
    def columns(self) -> list[str]:
        """The Parquet columns a plot of this kind reads."""
        return [self.x, self.y, *self.extra]

    @property
    def x_si(self) -> bool:
        """Whether the x axis takes SI prefixes (mV, µA, ks): its unit is an SI unit, not one shown as written (nm,
        degC, ms: `knm` or `µms` would read wrong)."""
        return self.x_unit in SI_UNITS

    @property
    def y_si(self) -> bool:
        return self.y_unit in SI_UNITS

    @classmethod
    def of_axes(cls, axes: PlotAxes) -> Kind:
        """The kind a registry entry's `plot` (or its default axes) declares: `VDS (V)` is drawn as VDS in V."""
        (x_label, x_unit), (y_label, y_unit) = _label_unit(axes.x), _label_unit(axes.y)
        return cls(snake_column(axes.x), snake_column(axes.y), x_label, x_unit, y_label, y_unit)


SI_UNITS = frozenset({"s", "V", "A", "W", "S", "Ω", "Hz", "F", "J", "C", "K"})
_NAME_UNIT = re.compile(r"(?P<label>.*?)\s*\((?P<unit>[^()]*)\)\s*")


def _label_unit(raw_name: str) -> tuple[str, str]:
    """`Plate T (degC)` → (`Plate T`, `degC`); a name without a unit in brackets is its own label."""
    match = _NAME_UNIT.fullmatch(raw_name)
    return (match["label"] or raw_name, match["unit"].strip()) if match else (raw_name.strip(), "")


KINDS: dict[str, Kind] = {
    "It": Kind("t_s", "i_a", "t", "s", "I", "A", extra=("vl_v",)),
    "IVg": Kind("vg_v", "i_a", "Vg", "V", "I", "A"),
    "IV": Kind("vsd_v", "i_a", "Vsd", "V", "I", "A"),
    "LaserCalibration": Kind("vl_v", "power_w", "VL", "V", "P", "W"),
}


def kind_of(family: str, registry: Registry) -> Kind | None:
    """How runs of a family are plotted: its own kind (`KINDS`), else the axes its registry entry declares; None
    when it declares none (a procedure with a single data column)."""
    if (kind := KINDS.get(family)) is not None:
        return kind
    spec = registry.get(family)
    if spec is None or (axes := spec.axes) is None:
        return None
    kind = Kind.of_axes(axes)
    lit = axes.x == spec.time_column and LASER_COLUMN in spec.required_columns  # Vt, Pt: the laser's ON windows
    return replace(kind, extra=(snake_column(LASER_COLUMN),)) if lit else kind




@dataclass(frozen=True, eq=False)
class LoadedGroup:
    """The runs of one procedure that loaded, with their columns as finite-x/y numpy arrays (rows aligned)."""

    proc: str
    runs: pl.DataFrame
    columns: tuple[dict[str, np.ndarray], ...]
    messages: tuple[str, ...]
    family: str = ""  # the procedure its runs are drawn as (`Registry.family`: IVg for IVgT); "": `proc`
    kind: Kind | None = None  # what is drawn (`kind_of`); None: nothing

    def __post_init__(self) -> None:
        if not self.family:
            object.__setattr__(self, "family", self.proc)


def group_by_proc(runs: pl.DataFrame) -> list[tuple[str, pl.DataFrame]]:
    """Split a selection by procedure, in order of first appearance: different procedures never share axes."""
    return [(frame["proc"][0], frame) for frame in runs.partition_by("proc", maintain_order=True)]


PLACE = "place"  # a run's place among the chosen runs of its procedure (`with_places`): its colour


def with_places(runs: pl.DataFrame) -> pl.DataFrame:
    """`runs` with each one's `PLACE` among the chosen runs of its procedure, in their order, taken before the
    excluded ones are left out: showing them (X, --include-excluded) adds their faded traces, and every other run
    keeps its colour (by its place in the runs drawn, each run after an excluded one took the next one's)."""
    return runs.with_columns(pl.int_range(pl.len(), dtype=pl.Int64).over("proc").alias(PLACE))


def load_selection(runs: pl.DataFrame, stage_root: Path, procedures_file: Path | None = None) -> list[LoadedGroup]:
    """Load every procedure group of a selection; one group per tab of the plot view."""
    return [load_group(proc, frame, stage_root, procedures_file) for proc, frame in group_by_proc(runs)]


def load_group(proc: str, runs: pl.DataFrame, stage_root: Path, procedures_file: Path | None = None) -> LoadedGroup:
    """Read one procedure's runs, drawn as its family's (in `procedures_file`'s registry); a run that cannot be read,
    or whose hand-edited manifest row `addresses_a_run` not, becomes a message, not a failed plot."""
    registry = load_registry(procedures_file)
    family = registry.family(proc)
    kind = kind_of(family, registry)
    if kind is None:
        return LoadedGroup(proc, runs.clear(), (), (no_plot(proc, runs.height, registry),))
    loaded, columns = [], []
    messages = [f"{run_ident(row)}: its manifest row names no Parquet (`labtui validate` says why)"
                for row in runs.filter(~addresses_a_run()).to_dicts()]
    runs = runs.filter(addresses_a_run())
    rows = runs.to_dicts()
    for index, (row, read) in enumerate(zip(rows, _read_runs(rows, proc, kind, stage_root), strict=True)):
        if isinstance(read, MissingColumns):
            messages.append(f"{run_ident(row)}: {read}")
            continue
        if isinstance(read, Exception):
            messages.append(f"{run_ident(row)}: cannot read its Parquet ({type(read).__name__}: {first_line(read)}); "
                            "left out (`validate --fix` re-stages a damaged run from its raw file)")
            continue
        data, absurd = read
        if absurd:
            messages.append(f"{run_ident(row)}: {left_out(absurd)}")
        if not data[kind.x].size:  # an empty run, or one whose every value is NaN or ±inf (an aborted sweep)
            n_rows = row.get("n_rows") or 0
            said = f"no finite point in its {counted(n_rows, 'row')}" if n_rows else "no data points"
            messages.append(f"{run_ident(row)}: {said}")
            continue
        loaded.append(index)
        columns.append(data)
    return LoadedGroup(proc, runs.gather(loaded), tuple(columns), tuple(messages), family, kind)


def no_plot(proc: str, selected: int, registry: Registry) -> str:
    """Said in a plot's place: what the lab's registry lacks to draw these runs."""
    if registry.get(proc) is None:  # staged under a registry that had it: the lab's has lost the entry since
        return f"no plot for {proc} runs ({selected} selected): the procedure registry has no {proc} entry"
    return (f"no plot for {proc} runs ({selected} selected): the procedure registry names no two data columns to "
            "draw (`plot: {x: …, y: …}` in its entry)")


Read = tuple[dict[str, np.ndarray], int] | Exception
_UNREADABLE = (OSError, ValueError, pl.exceptions.PolarsError)


def _read_runs(rows: list[Row], proc: str, kind: Kind, stage_root: Path) -> list[Read]:
    """Each run's plotted columns (`_columns`), all read by one Polars query (10 overlaid 80k-sample runs: 30 → 20
    ms); when that fails, each run alone, so an unreadable file is that run's error in its place."""
    try:
        paths = [_path(row, proc, stage_root) for row in rows]
        return [_columns(frame, kind) for frame in read_parquets_pinned(paths, [kind.columns] * len(paths))]
    except _UNREADABLE:
        return [_read_run(row, proc, kind, stage_root) for row in rows]


class MissingColumns(ValueError):
    """A run whose data lack a column its plot draws (a Tt run written before `Plate T (degC)` had that name)."""


def _read_run(row: Row, proc: str, kind: Kind, stage_root: Path) -> Read:
    path = _path(row, proc, stage_root)
    try:
        return _columns(read_parquet_pinned(path, columns=kind.columns), kind)
    except pl.exceptions.ColumnNotFoundError:
        try:
            present = list(pl.read_parquet_schema(path))
        except _UNREADABLE as error:
            return error
        missing = [name for name in kind.columns if name not in present]
        return MissingColumns(f"no {' or '.join(missing)} column to draw in its data (it has {', '.join(present)})")
    except _UNREADABLE as error:
        return error


def _path(row: Row, proc: str, stage_root: Path) -> Path:
    return run_parquet_path(stage_root, proc, row["date_local"], row["run_id"])


ROW = "_row"  # beside the plotted columns where rows were left out: each kept row's place in the run


def _columns(frame: pl.DataFrame, kind: Kind) -> tuple[dict[str, np.ndarray], int]:
    """The plotted columns as floats, of the rows a plot can draw (`drawable_rows`), and the count of those beyond;
    where some were left out, also each row's place in the run (`ROW`), so a line stops across the gap."""
    height = frame.height
    frame, absurd = drawable_rows(frame.select(pl.all().cast(pl.Float64)).with_row_index(ROW), kind.x, kind.y)
    if frame.height == height:  # every row drawn (every real run): no places to keep
        frame = frame.drop(ROW)
    return {name: frame[name].to_numpy() for name in frame.columns}, absurd


def row_gaps(columns: dict[str, np.ndarray], start: int, stop: int) -> tuple[int, ...]:
    """Where, in the kept rows `start:stop` of a run, rows were left out before a row (`ROW`): a line stops there
    (an IVg leg drew a straight chord across 24 NaN currents where the V's bottom was)."""
    if ROW not in columns:
        return ()
    return tuple((np.flatnonzero(np.diff(columns[ROW][start:stop]) > 1) + 1).tolist())


def drawable_rows(frame: pl.DataFrame, x: str, y: str) -> tuple[pl.DataFrame, int]:
    """The rows with a finite x and y that are readings (under ±`NO_READING`; non-finite ones are aborted tails and
    sensor gaps), and how many finite rows are not: those are said. An overflow mark drawn would also span an axis
    that overflows (its ±margins, its tick steps) in plotext and in matplotlib alike."""
    finite = frame.filter(pl.col(x).is_finite() & pl.col(y).is_finite())
    drawable = finite.filter((pl.col(x).abs() < NO_READING) & (pl.col(y).abs() < NO_READING))
    return drawable, finite.height - drawable.height


def left_out(absurd: int) -> str:
    return f"{counted(absurd, 'point')} of ±{NO_READING:g} or more (overflow marks) left out"


Row = dict[str, Any]
"""One manifest row as `to_dicts()` gives it."""


def run_ident(row: Row) -> str:
    """How a user recognises a run: its seq in the chip history, else its date and queue index."""
    if row.get("seq") is not None:
        return f"seq {row['seq']}"
    if row.get("file_idx") is not None:
        return f"{row['date_local']} #{row['file_idx']}"
    return str(row["run_id"])
