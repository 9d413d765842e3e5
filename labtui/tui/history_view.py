"""What a chip's history screen shows, without the screen: its columns, the user's view (filter and sort) applied in
Polars, and the derived quantities of each run; pure functions of frames, which workers call off the UI thread."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl
from rich.text import Text

from labtui.core.annotations import AnnotationFilter, hidden_note
from labtui.core.config import MetricsSettings
from labtui.core.history import HistoryFilter, calibrations, chip_rows, number_text, summary_line, timeline
from labtui.core.history_quantities import DOUBT_MARK, KEY_QUANTITIES, SETUP_QUANTITIES
from labtui.core.metrics import BY_COLUMN, INCOMPLETE_TOPIC, columns_of
from labtui.core.metrics.definitions import DOUBTS, DRIFT_MAKES_ALL, DRIFT_WORDS, drift_of
from labtui.core.registry import proc_family
from labtui.tui.table import Column

SortedColumn = tuple[Column, str | None]  # a column and its sort key: a value column, never display text


def _quantities(quantities: tuple[tuple[str, str], ...]) -> list[SortedColumn]:
    """The derived quantities' columns: text formatted once per reload (`with_metrics`), sorted by value; as wide as
    their longest (a width cut `-83.8 mA/W ⚠` to `-83.8 mA/…`: a number never loses digits, unit or mark)."""
    return [(Column(f"{column}_text", title, right=True), column) for column, title in quantities]


_RUN: list[SortedColumn] = [  # which run a row is, and its marks: first in either history
    (Column("seq", "seq", right=True), "seq"),
    (Column("date", "date"), "start_time_utc"),
    (Column("time_hms", "time"), "start_time_utc"),
    (Column("proc", "proc"), "proc"),
    (Column("light", "💡", width=2), "has_light"),
    # in the first screenful: an aborted run's quantities are of the rows it has (the detail says so)
    (Column("is_complete", "done", pl.when(pl.col("is_complete")).then(pl.lit("✓")).otherwise(pl.lit("✗"))),
     "is_complete"),
    (Column("marks", "★⊘#✎", pl.concat_str(  # starred, excluded, tagged, noted
        pl.when(pl.col("starred")).then(pl.lit("★")).otherwise(pl.lit(" ")),
        pl.when(pl.col("excluded")).then(pl.lit("⊘")).otherwise(pl.lit(" ")),
        pl.when(pl.col("tags").list.len() > 0).then(pl.lit("#")).otherwise(pl.lit(" ")),
        pl.when(pl.col("note").is_not_null()).then(pl.lit("✎")).otherwise(pl.lit(" ")),
    ), width=4), "starred"),
]
# the summary line without its heading: icon, procedure and chip have their own columns here
_SUMMARY: SortedColumn = (Column("summary", "summary", summary_line(heading=False), max_width=56, prose=True), None)
_WAVELENGTH: SortedColumn = (Column("laser_wavelength_nm", "λ nm", number_text("laser_wavelength_nm"), right=True),
                             "laser_wavelength_nm")
_LAST: list[SortedColumn] = [
    (Column("duration_s", "dur s", pl.col("duration_s").round(0).cast(pl.Int64), right=True), "duration_s"),
    (Column("n_rows", "rows", right=True), "n_rows"),
    (Column("tags", "tags", pl.col("tags").list.join(", "), max_width=30, prose=True), None),
    (Column("information", "information", max_width=40, prose=True), "information"),
]
COLUMNS: list[SortedColumn] = [
    *_RUN, *_quantities(KEY_QUANTITIES), _SUMMARY,
    (Column("vg", "Vg V", right=True), "vg_order"),
    (Column("vds_v", "Vds V", number_text("vds_v"), right=True), "vds_v"),
    (Column("laser_voltage_v", "VL V", number_text("laser_voltage_v"), right=True), "laser_voltage_v"),
    _WAVELENGTH, *_LAST,
]
# the setup's runs: by wavelength, with their curve's quantities; no gate, no drain. The procedure only where it
# is no calibration (a Pt or a Tt run, of no chip either, read as a calibration with no curve): a column of
# "LaserCalibration" put the threshold past 80 columns
_OTHER_PROC: SortedColumn = (Column("proc", "proc", pl.when(pl.col("proc") != "LaserCalibration").then("proc")),
                             "proc")
SETUP_COLUMNS: list[SortedColumn] = [
    *[column if column[0].key != "proc" else _OTHER_PROC for column in _RUN if column[0].key != "light"],
    _WAVELENGTH,
    *_quantities(SETUP_QUANTITIES), _SUMMARY,
    *_LAST,
]
_SORT_NAMES = {"marks": "★ starred", "light": "light"}  # as the status line says a sort by a symbol column


def sortable(columns: list[SortedColumn]) -> list[tuple[str, str, str]]:
    """(name, sort key, the column that shows it) of each column a history sorts by; the time sorts as the date."""
    return [(_SORT_NAMES.get(column.key, column.title), key, column.key) for column, key in columns
            if key is not None and column.key != "time_hms"]


LIGHT_STATES = (None, True, False)
LIGHT_NAMES = {True: "💡 light", False: "🌙 dark"}


@dataclass(frozen=True)
class View:
    """What the user chose to see; applied to the chip's full history off the UI thread."""

    proc: str | None = None
    light: bool | None = None
    text: str = ""
    sort: int = 0  # index into `sortable(columns)`
    descending: bool = False
    starred: bool = False
    include_excluded: bool = False
    procedures_file: Path | None = None  # the lab's registry, where `proc` is looked up
    whose: str = "this chip"  # the runs' owner, as an empty history says it
    columns: tuple[SortedColumn, ...] = tuple(COLUMNS)  # the history's (SETUP_COLUMNS: the setup's calibrations)

    @property
    def sortable(self) -> list[tuple[str, str, str]]:
        return sortable(list(self.columns))

    @property
    def quantities(self) -> list[str]:
        """The derived quantities the table shows (each in a `<quantity>_text` column, sorted by its value)."""
        return [by for column, by in self.columns if by is not None and column.key == f"{by}_text"]

    @property
    def marked(self) -> AnnotationFilter:
        return AnnotationFilter(starred=self.starred, include_excluded=self.include_excluded)

    @property
    def sorted_by(self) -> tuple[str, bool]:
        """The column the rows are sorted by, and whether descending (the table marks its header)."""
        return self.sortable[self.sort][2], self.descending

    def displayed(self, shown: pl.DataFrame) -> list[Column]:
        """The table's columns for these rows: a derived quantity none of them has is left out (the It quantities'
        empty titles beside a view of sweeps), as is the setup's procedure where every row is a calibration (a
        column titled `proc`, blank on every row); every one while there is no row, titles over the empty text."""
        empty = {by for by in self.quantities if shown.height and shown[by].null_count() == shown.height}
        calibrations = shown.height and "proc" in shown.columns and (shown["proc"] == "LaserCalibration").all()
        return [column for column, by in self.columns if (by not in empty or column.key != f"{by}_text")
                and not (calibrations and column is _OTHER_PROC[0])]

    def shown(self, runs: pl.DataFrame) -> tuple[pl.DataFrame, int]:
        """The rows to show, sorted, and how many excluded runs the view hides."""
        chosen = HistoryFilter(procs=(self.proc,) if self.proc else (), light=self.light,
                               procedures_file=self.procedures_file)
        key = self.sortable[self.sort][1]
        by = list(dict.fromkeys([key, "seq"]))  # seq breaks ties, so equal keys keep the history's order
        rows, hidden = self.marked.apply(runs.filter(chosen.expression() & self._text_expression()))
        return rows.sort(by, descending=self.descending, nulls_last=True), hidden

    def _text_expression(self) -> pl.Expr:
        """The text filter also finds a run by its tags and note."""
        if not self.text:
            return pl.lit(True)
        needle = self.text.lower()
        annotations = pl.concat_str(pl.col("tags").list.join(" "), pl.col("note"), separator=" ", ignore_nulls=True)
        found = annotations.str.to_lowercase().str.contains(needle, literal=True).fill_null(False)
        return HistoryFilter(text=self.text).expression() | found

    def describe(self) -> str:
        """The sort, then the filters in force (none said when a view shows everything): the status line must
        fit 80 columns with the counts before it."""
        title = self.sortable[self.sort][0]
        arrow = "↓" if self.descending else "↑"
        shown = ["excluded shown"] if self.include_excluded else []
        return " · ".join([f"sort: {title} {arrow}", *self._filters(), *shown])

    def why_empty(self, hidden: int) -> str:
        """What a view without a row means, said where its rows would be: the table's column titles over nothing
        left it to the status line's counts."""
        if hidden:
            return f"every run in this view is excluded ({hidden_note(hidden)}): X shows them"
        if filters := self._filters():
            return f"no run matches {' · '.join(filters)} (/ t l S change the filters)"
        return f"the store holds no run of {self.whose}"

    def _filters(self) -> list[str]:
        """The filters in force on the runs, as said after the sort."""
        parts = []
        if self.proc:
            parts.append(f"proc: {self.proc}")
        if self.light is not None:
            parts.append(LIGHT_NAMES[self.light])
        if self.starred:
            parts.append("★ only")
        if self.text:
            parts.append(f"text: “{self.text}”")
        return parts


def load_history(manifest: pl.DataFrame, group: str | None, number: int | None, tz: str) -> pl.DataFrame:
    """The chip's history as `labtui history` builds it; the group is exact (None is a group of its own here).
    No number: the runs of the setup, no chip's (LaserCalibration), as `labtui history --calibrations` lists them."""
    runs = calibrations(manifest, tz=tz) if number is None else timeline(chip_rows(manifest, group, number), tz=tz)
    return runs.with_columns(vg_order=pl.coalesce("vg_fixed_v", "vg_start_v"))


DRIFT_SHARE = 0.5  # a ΔI whose dark drift carried on under the light makes this share of it or more: said


def quantity_items(metrics: pl.DataFrame, run_id: str, procedures_file: Path | None = None,
                   settings: MetricsSettings | None = None) -> list[tuple[str, Text]]:
    """Each derived quantity of a run (those of its family in `procedures_file`'s registry: IVg's for IVgT): its
    value with unit and doubts, and the remark when null; a remark said for an earlier null one is not said again
    (a dark run's dozen nulls each repeated "the laser never switched on"). Their definitions: `definition_items`."""
    rows = metrics.filter(pl.col("run_id") == run_id)
    if not rows.height:
        return []
    run = rows.row(0, named=True)
    holding = rows.select(doubt.holds.alias(doubt.reason) for doubt in DOUBTS).row(0, named=True)
    remarks = [tuple(remark.split(": ", 1)) for remark in run["remarks"] or [] if ": " in remark]
    # the run's own (IVg, It, run): not a remark on a topic of some quantities (mobility, gm, tau), said for those
    general = [why for topic, why in remarks if topic not in BY_COLUMN and topic != INCOMPLETE_TOPIC
               and not any(column.startswith(topic) for column in BY_COLUMN)]
    # first, of all the values: no reason for one of them to be null
    items = [(INCOMPLETE_TOPIC, Text(why, style="italic")) for topic, why in remarks if topic == INCOMPLETE_TOPIC]
    said: dict[str, str] = {}  # a null's reason -> the first quantity it was said for
    for column in _detailed(proc_family(run["proc"], procedures_file)):
        quantity, value = BY_COLUMN[column], run[column]
        text = Text(quantity.format(value), style="bold")
        if value is not None and column in ("power_w", "responsivity_a_per_w"):
            text.append(_doubts_said(run, holding, True, settings or MetricsSettings()), style="yellow")
        if value is not None and column in ("delta_i_a", "responsivity_a_per_w"):
            text.append(_doubts_said(run, holding, False, settings or MetricsSettings()), style="yellow")
        if value is not None and column == "calibration_age_h":  # its sign said: `-97.82 h` read as a bug
            text.append(f"  the calibration {'after' if value < 0 else 'before'} the run", style="italic")
        if value is None:
            # its own remark, else its topic's (tau, gm, mobility), else that of the quantity it is read from (a
            # mobility's gm), else the run's (and, for the quantities joined from the calibration, why power_w is null)
            own = [why for topic, why in remarks if topic == column] or [
                why for topic, why in remarks if topic not in BY_COLUMN and column.startswith(topic)] or [
                why for topic, why in remarks if topic in quantity.read_from and run[topic] is None] or general + [
                why for topic, why in remarks if topic == "power_w" and not quantity.from_data]
            if own:
                why = "; ".join(own)
                first = said.setdefault(why, column)
                text.append(f"  {why}" if first == column else f"  (as for {first})", style="italic")
        items.append((column, text))
    return items


def definition_items(proc: str, procedures_file: Path | None = None,
                     settings: MetricsSettings | None = None) -> list[tuple[str, Text]]:
    """The definition of each derived quantity of a `proc` run, with the lab's windows (`settings`)."""
    return [(column, Text(BY_COLUMN[column].defined(settings), style="dim"))
            for column in _detailed(proc_family(proc, procedures_file))]


def _detailed(family: str) -> list[str]:
    """The quantities a run's detail lists: `responsivity_doubt` (for exports) is said on the responsivity's line,
    with the numbers behind each doubt."""
    return [column for column in columns_of(family) if column != "responsivity_doubt"]


def _doubts_said(run: dict[str, Any], holding: dict[str, bool], on_power: bool, settings: MetricsSettings) -> str:
    """The doubts (`DOUBTS`) that hold on a run's power (its calibration) or on its ΔI, each with the run's numbers,
    ⚠ as the table marks them. ΔI's line also says a dark drift that, carried on under the light, makes half of it or
    more, without the mark: half the real lit runs have one, and the correction's own slope is uncertain."""
    said = "".join(f"{DOUBT_MARK} {doubt.said(run, settings)}" for doubt in DOUBTS
                   if doubt.on_power == on_power and holding[doubt.reason])
    if on_power or not (drift := drift_of(run)):
        return said
    share, corrected = drift
    if DRIFT_SHARE <= share < DRIFT_MAKES_ALL:  # from DRIFT_MAKES_ALL up, a doubt said above
        return f"{said} · {DRIFT_WORDS.format(share=share, corrected=corrected)}"
    if share <= -DRIFT_SHARE:  # the step is larger than read, not in doubt
        return f"{said} · the dark drift ran against the step ({corrected})"
    return said
