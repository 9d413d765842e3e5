"""A chip's history: the `labtui history` table, filtered and sorted in Polars, shown a screenful at a time."""

from __future__ import annotations

import asyncio
from collections.abc import Collection
from dataclasses import replace
from typing import TYPE_CHECKING, Any, NamedTuple

import polars as pl
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.reactive import reactive
from textual.screen import Screen
from textual.widgets import Header, Input

from labtui.core.annotations import (
    ANNOTATION_COLUMNS,
    AnnotationFilter,
    hidden_note,
    with_annotations,
)
from labtui.core.history import HISTORY_COLUMNS
from labtui.core.history_quantities import with_metrics
from labtui.core.wording import counted
from labtui.tui.annotating import AnnotatingScreen
from labtui.tui.base import LabFooter, Shown
from labtui.tui.dialogs import ChoiceDialog
from labtui.tui.history_view import (
    COLUMNS,
    LIGHT_STATES,
    SETUP_COLUMNS,
    View,
    load_history,
)
from labtui.tui.messages import PlotRequested
from labtui.tui.table import FrameTable

if TYPE_CHECKING:
    from labtui.tui.app import LabApp

SETUP_TITLE = "History · setup calibrations"
RUN_ACTIONS = {"select", "select_all", "plot", "cycle_proc", "cycle_light", "sort_by", "reverse_sort", "copy_paths",
               "copy_rows", "star", "exclude", "tag", "note", "undo", "toggle_starred", "show_excluded"}


class HistoryPlace(NamedTuple):
    """Where the user left a chip's history: opened again in the session, its sort and cursor are as they left them.
    Not its filters (a history that opens filtered hides runs without a word) nor its selection: a `*` on the run
    under the cursor starred four runs selected on an earlier visit, and `u`, of that visit, could not undo it."""

    sort: int
    descending: bool
    cursor: str | None


class HistoryScreen(AnnotatingScreen):
    HELP = (
        "Every run of the chip, oldest first; seq numbers the whole history and never changes with a filter; done "
        "✗ marks a run not complete (stopped short of the sweep or the time its header promises, or rows missing "
        "inside it: its quantities are of the rows it has); ★⊘#✎ a star, an exclusion, tags and a note. "
        "t and l filter by procedure and light, / by text in the information, summary, file, local date and time, "
        "tags or note (enter keeps "
        "the text, esc clears it). space selects "
        "(or unselects) the run under the cursor for p (plot; excluded runs stay out unless X shows them) and y / Y "
        "(copy). o sorts by a column chosen from a list (or click its title; the same column again reverses), O "
        "reverses. CNP mean (IVg), ΔI, ΔI/I, the power P and responsivity (It) are the derived quantities (`labtui "
        "metrics`); ⚠ after a responsivity doubts it (a stale calibration, calibrations that disagree, or a ΔI "
        "within the noise: the run's detail says which); enter shows every field of a run, all its quantities with "
        "their definitions, and its annotations. "
        "* stars, x excludes (with a reason; again re-includes), # tags (-tag removes), n writes a note, u undoes "
        "your last annotation; S shows starred runs only, X shows excluded runs too (hidden by default)."
    )
    AUTO_FOCUS = "#runs"
    BINDINGS = [
        # in the footer's order: what a narrow terminal shows first (the annotations before the filters)
        Binding("space", "select", "Select", id="select"),
        Binding("a", "select_all", "Select all shown / none", id="select_all", show=False),
        Binding("p", "plot", "Plot", id="plot"),
        Binding("asterisk", "star", "Star", id="star"),
        Binding("x", "exclude", "Exclude", id="exclude"),
        Binding("number_sign", "tag", "Tag", id="tag"),
        Binding("n", "note", "Note", id="note"),
        Binding("T", "trends", "Trends", id="trends"),
        Binding("T", "no_trends", "Trends", id="trends", show=False),  # the setup's runs: T says why there are none
        Binding("t", "cycle_proc", "Procedure", id="proc_filter"),
        Binding("l", "cycle_light", "Lit/dark runs", id="light_filter"),  # not the colour theme (ctrl+t)
        Binding("o", "sort_by", "Sort", id="sort"),
        Binding("O", "reverse_sort", "Reverse sort", id="sort_reverse", show=False),
        Binding("y", "copy_paths", "Copy paths", id="copy_paths", show=False),
        Binding("Y", "copy_rows", "Copy rows as TSV", id="copy_rows", show=False),
        Binding("u", "undo", "Undo annotation", id="undo_annotation", show=False),
        Binding("S", "toggle_starred", "Starred only", id="starred_filter", show=False),
        # X twice, one enabled by the state (`check_action`): the help says what it will do
        Binding("X", "show_excluded(True)", "Show excluded", id="excluded_filter", show=False),
        Binding("X", "show_excluded(False)", "Hide excluded", id="excluded_filter", show=False),
    ]

    status: reactive[str] = reactive("")  # runs shown and selected, and the view

    def __init__(self, group: str | None, number: int | None, *, focus_run: str | None = None) -> None:
        super().__init__()
        self.group = group
        self.number = number  # None: the setup's runs (calibrations), no chip's
        self.focus_run = focus_run
        self.asked_run = focus_run  # the run it was opened at (the dashboard's, a finding's): shown even if excluded
        self.sorted_anew = False  # a sort was asked for: its first row is shown, the cursor on it
        self.loaded = False  # until the chip's runs are read and shown (a moment for a large chip), its run keys wait
        self.view = View(columns=tuple(COLUMNS if number is not None else SETUP_COLUMNS))
        self.hidden = 0  # excluded runs the view leaves out
        self.metrics_damaged = False  # the derived columns are blank: the metrics table cannot be read
        self.gone_said: set[str] = set()  # raw files of selected runs said to have left this history
        self.unread_said = False  # that annotation files cannot be read: said once

    def compose(self) -> ComposeResult:
        yield Header()
        yield Input(placeholder="filter: information, summary, file, date, tags, note (enter keeps, esc clears)",
                    id="filter")
        yield FrameTable([column for column, _ in self.view.columns], key="run_id", selectable=True, id="runs",
                         fixed=2)  # seq and date: which run a row is, however far it scrolls
        yield Shown(id="status").data_bind(text=HistoryScreen.status)
        yield LabFooter()

    def on_mount(self) -> None:
        self.title = f"History · {self.group or ''}{self.number}" if self.number is not None else SETUP_TITLE
        self.view = replace(self.view, procedures_file=self.lab.config.procedures_file,
                            whose="this chip" if self.number is not None else "the setup (calibrations)")
        if (place := self.lab.histories.get((self.group, self.number))) is not None:
            self.view = replace(self.view, sort=place.sort, descending=place.descending)
            self.focus_run = self.focus_run or place.cursor  # a run asked for (a finding's) before the one left on
        self.reload()

    def reload(self) -> None:
        self.load()

    @work(group="load", exclusive=True, exit_on_error=False)
    async def load(self) -> None:
        store, group, number, tz = self.lab.store, self.group, self.number, self.lab.config.local_tz
        before = self.runs
        def read() -> tuple[pl.DataFrame, str | None]:
            metrics, self.metrics_damaged = store.metrics_or_empty()
            runs = with_metrics(with_annotations(load_history(store.manifest(), group, number, tz),
                                                 store.annotations()), metrics)
            return runs, store.unread_annotations()

        self.runs, unread = await asyncio.to_thread(read)
        if unread is not None and not self.unread_said:  # an exclusion among them lost: its run back, unsaid
            self.unread_said = True
            self.notify(f"{unread}; `v` on the dashboard validates", title="Annotations", severity="warning")
        table = self.query_one(FrameTable)
        if table.selected and before.height:  # by raw file: a run re-staged under a new run_id stays selected
            chosen = before.filter(pl.col("run_id").is_in(list(table.selected)))["source_file"]
            kept = self.runs.filter(pl.col("source_file").is_in(chosen.implode()))
            table.selected = set(kept["run_id"].to_list())
            if gone := set(chosen) - set(kept["source_file"]) - self.gone_said:  # pruned in another terminal: the
                # selection shrank unsaid, and the next key acted on the run under the cursor
                self.gone_said |= gone
                left = f"{len(table.selected)} still selected" if table.selected else "nothing is selected now"
                self.notify(f"{counted(len(gone), 'selected run')} left this history (pruned, or staged anew under "
                            f"another chip): {left}", title="Selection", severity="warning")
        if before.height:
            self._say_renumbered(before)
        self.show_view()

    def _say_renumbered(self, before: pl.DataFrame) -> None:
        """Runs staged before the ones shown (a day copied in late), or pruned, renumber the history: said, with an
        example, or a seq noted for `labtui annotate 80 --seq …` named another run."""
        moved = before.select("source_file", was="seq").join(self.runs.select("source_file", "seq"),
                                                             on="source_file").filter(pl.col("was") != pl.col("seq"))
        if moved.height:
            was, now = moved.row(0)[1:]
            self.notify(f"{counted(moved.height, 'run')} of this history renumbered by runs staged or pruned before "
                        f"them: seq {was} is seq {now} now", title="History")

    @work(group="view", exclusive=True, exit_on_error=False)
    async def show_view(self) -> None:
        shown, self.hidden = await asyncio.to_thread(self.view.shown, self.runs)
        if self.asked_run is not None and self.hidden and not shown["run_id"].is_in([self.asked_run]).any() and \
                (asked := self.runs.filter(pl.col("run_id") == self.asked_run)).height and asked["excluded"][0]:
            # the run it was opened at, which the view hides as excluded: shown with them, said (the history had
            # opened on its first run, the one asked for nowhere, without a word)
            self.view = replace(self.view, include_excluded=True)
            shown, self.hidden = await asyncio.to_thread(self.view.shown, self.runs)
            self.refresh_bindings()
            reason = asked["exclude_reason"][0]
            self.notify(f"seq {asked['seq'][0]} is excluded{f' ({reason})' if reason else ''}: the excluded runs are "
                        "shown (X hides them)", title="History")
        self.asked_run = None  # once: an undo's run, excluded again, is said as not in view (`annotating`)
        table = self.query_one(FrameTable)
        table.empty_text = self.view.why_empty(self.hidden)
        if self.sorted_anew and shown.height:  # the top of the new order: kept on its run, the cursor took the view
            self.focus_run = shown["run_id"][0]  # to the blank tail (a run without the sorted quantity sorts last)
        table.show(shown, columns=self.view.displayed(shown), keep=self.focus_run, sorted_by=self.view.sorted_by)
        self.focus_run, self.sorted_anew = None, False
        self._status()
        if (said := self.after_reload) is not None:
            self.after_reload = None
            said()
        if not self.loaded:
            self.loaded = True
            self.refresh_bindings()

    def _status(self) -> None:
        table = self.query_one(FrameTable)
        shown = counted(table.frame.height, "run")
        if table.frame.height + self.hidden != self.runs.height:  # a filter's: "20 of 22" read as one with the
            shown = f"{table.frame.height} of {counted(self.runs.height, 'run')}"  # excluded runs alone hidden
        selected = f" · {len(table.selected)} selected" if table.selected else ""
        if away := self._out_of_view(table.selected):
            selected += f" ({away} not in view)"  # the actions apply to them too: filters do not unselect
        hidden = f" · {hidden_note(self.hidden)} (X shows)" if self.hidden else ""
        self.status = f"{shown}{selected}{hidden} · {self.view.describe()}"
        if self.metrics_damaged:
            self.status = f"⚠ metrics table damaged (labtui metrics --rebuild): no derived values · {self.status}"

    def _set_view(self, **changes: Any) -> None:
        self.view = replace(self.view, **changes)
        if self.runs.width:  # else the load shows the runs in this view
            self.show_view()
        self.refresh_bindings()  # X says what it will do next

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """The keys that act on the runs are disabled until they are read: pressed at once on opening a history
        (`a`, `p`, `y`, a sort or a filter) they crashed the app on the empty frame before it."""
        if not self.loaded and action in RUN_ACTIONS:
            return None
        if action in ("trends", "no_trends") and (action == "trends") != (self.number is not None):
            return False
        if action == "show_excluded":
            return parameters[0] != self.view.include_excluded
        return super().check_action(action, parameters)

    # -- filters and sort -------------------------------------------------------------------------------------
    @on(Input.Changed, "#filter")
    def _text_changed(self, event: Input.Changed) -> None:
        self._set_view(text=event.value.strip())

    @on(Input.Submitted, "#filter")
    def _text_done(self) -> None:
        self.set_focus(self.query_one(FrameTable))

    def action_back(self) -> None:
        """Esc in the filter field clears it and goes back to the runs (enter keeps it), as in a pager's search;
        from the runs it leaves the screen, as the session will open it again (`HistoryPlace`)."""
        if isinstance(field := self.focused, Input):
            field.clear()
            self.set_focus(self.query_one(FrameTable))
        else:
            table = self.query_one(FrameTable)
            cursor = row["run_id"] if (row := table.row) is not None else None
            self.lab.histories[self.group, self.number] = HistoryPlace(self.view.sort, self.view.descending, cursor)
            super().action_back()

    def action_cycle_proc(self) -> None:
        procs = [None, *sorted(self.runs["proc"].unique().to_list())] if self.runs.height else [None]
        current = procs.index(self.view.proc) if self.view.proc in procs else 0
        self._set_view(proc=procs[(current + 1) % len(procs)])

    def action_cycle_light(self) -> None:
        self._set_view(light=LIGHT_STATES[(LIGHT_STATES.index(self.view.light) + 1) % len(LIGHT_STATES)])

    def action_sort_by(self) -> None:
        """The sortable columns in a list, the current one highlighted (choosing it again reverses the order): a
        history's fifteen were cycled through one `o` at a time."""
        arrow = "↓" if self.view.descending else "↑"
        names = [f"{name} {arrow}" if index == self.view.sort else name
                 for index, (name, _, _) in enumerate(self.view.sortable)]
        self.app.push_screen(ChoiceDialog("Sort by", names, self.view.sort), self._sort)

    @on(FrameTable.HeaderClicked)
    def _header_clicked(self, event: FrameTable.HeaderClicked) -> None:
        key = next(key for column, key in self.view.columns if column.key == event.column.key)
        index = next((index for index, (_, by, _) in enumerate(self.view.sortable) if by == key), None)
        if index is None:
            self.notify(f"the {event.column.title} column does not sort: / filters by its text", title="Sort")
        self._sort(index)

    def _sort(self, index: int | None) -> None:
        """Sort by the view's sortable column `index`, ascending; by the current one again, the other way (None: as
        it was)."""
        if index is not None:
            self.sorted_anew = True
            self._set_view(sort=index, descending=not self.view.descending if index == self.view.sort else False)

    def action_reverse_sort(self) -> None:
        self._set_view(descending=not self.view.descending)

    def action_toggle_starred(self) -> None:
        self._set_view(starred=not self.view.starred)

    def action_show_excluded(self, shown: bool) -> None:
        self._set_view(include_excluded=shown)

    # -- selection and actions --------------------------------------------------------------------------------
    def action_select(self) -> None:
        """The run under the cursor only: the cursor stays, so ↓ space ↓ space selects neighbouring runs."""
        table = self.query_one(FrameTable)
        table.toggle_selected()
        self._status()

    def action_select_all(self) -> None:
        """Every run shown; when they all are, none at all: the runs a filter hides too, which a filter does not
        unselect (selected under another filter, they went on being plotted and excluded with no way to clear
        them but to go back to that filter)."""
        table = self.query_one(FrameTable)
        shown = set(table.frame["run_id"].to_list())
        if shown and shown <= table.selected:  # every run shown selected: none at all
            if away := self._out_of_view(table.selected):  # said: selected under another filter, out of sight
                self.notify(f"unselected {counted(len(table.selected), 'run')}, {away} of them not in view",
                            title="Selection")
            table.selected = set()
        elif shown:  # none shown (a filter that matches nothing): nothing to select, nor a reason to clear
            table.selected = table.selected | shown
        table.refresh()
        self._status()

    def chosen(self) -> pl.DataFrame:
        """The selected runs (filters do not unselect), else the run under the cursor: what an action applies to;
        with neither (a filter that matches nothing), says so rather than letting the key do nothing."""
        table = self.query_one(FrameTable)
        if table.selected:
            return self.runs.filter(pl.col("run_id").is_in(list(table.selected)))
        if not table.frame.height:
            self.notify(f"no run in view: {self.view.why_empty(self.hidden)}", title="History")  # what the table says
        return table.frame.slice(table.cursor, 1)

    def not_in_view(self, rows: pl.DataFrame) -> int:
        return self._out_of_view(rows["run_id"].to_list())

    def _out_of_view(self, run_ids: Collection[str]) -> int:
        """How many of `run_ids` (distinct) the table does not show: the status line's and an annotation's count."""
        return len(run_ids) - int(self.query_one(FrameTable).frame["run_id"].is_in(list(run_ids)).sum())

    def action_plot(self) -> None:
        """Plot the chosen runs; excluded ones (selected before they were excluded) stay out unless X shows them."""
        chosen, hidden = self.chosen(), 0
        rows = chosen
        if not self.view.include_excluded:
            rows, hidden = AnnotationFilter().apply(chosen)
        if hidden and not rows.height:
            self.notify(f"nothing to plot: {hidden_note(hidden)} (X shows excluded runs)", title="Plot")
        elif hidden:
            self.notify(f"{hidden_note(hidden)} from the plot (X shows excluded runs)", title="Plot")
        if rows.height:
            self.post_message(PlotRequested(tuple(chosen["run_id"].to_list()), self.view.include_excluded))

    def action_trends(self) -> None:
        from labtui.tui.trends import TrendsScreen  # the metrics engine: loaded when first asked for

        if self.app.screen is self and self.number is not None:  # `T T` typed ahead: the first one opened it
            self.app.push_screen(TrendsScreen(self.group, self.number))

    def action_no_trends(self) -> None:
        """T on the setup's runs, which have no trends: said, where a T learnt on a chip's history did nothing."""
        self.notify("trends are a chip's (its Dirac point, photoresponse, dark current): open a chip's history; the "
                    "calibrations' own values: `labtui metrics --proc LaserCalibration`", title="Trends")

    def action_copy_paths(self) -> None:
        rows = self.chosen()
        paths = [str(self.lab.store.raw_path(source)) for source in rows["source_file"].to_list()]
        self._copy("\n".join(paths), counted(len(paths), "raw file path"))

    def action_copy_rows(self) -> None:
        """What the table shows, for a spreadsheet: the history's columns, the key quantities in SI units (A, V,
        A/W) and the annotations (tags joined by `; `, as `labtui history --format csv` writes them), formulas
        neutralised as in every CSV labtui writes."""
        from labtui.core.export import spreadsheet_safe

        rows = self.chosen()
        if not rows.height:  # no run in view (`chosen` said so): not "copied 0 rows"
            return
        copied = rows.select(
            *HISTORY_COLUMNS, *self.view.quantities,  # the quantities as the table shows them
            *(pl.col(name).list.join("; ") if name == "tags" else pl.col(name) for name in ANNOTATION_COLUMNS),
        )
        self._copy(spreadsheet_safe(copied).write_csv(separator="\t"), f"{counted(rows.height, 'row')} as TSV")

    def _copy(self, text: str, what: str) -> None:
        if text.strip():
            self.app.copy_to_clipboard(text)
            self.notify(f"copied {what}", title="Clipboard")

    @on(FrameTable.Chosen, "#runs")
    def _detail(self, event: FrameTable.Chosen) -> None:
        self._open_detail(event.row["run_id"])


def run_screen(manifest: pl.DataFrame, run_id: str, lab: LabApp) -> Screen | None:
    """Where a run is shown: its chip's history with the cursor on it (a setup run's, a calibration's: the setup's
    history, as the Chips screen's ctrl+l opens it); None when the manifest no longer holds it (re-staged under a new
    run_id or pruned from another terminal since the screen that names it was drawn)."""
    rows = manifest.filter(pl.col("run_id") == run_id)
    if not rows.height:
        return None
    run = rows.row(0, named=True)
    return HistoryScreen(run["chip_group"] if run["chip_number"] is not None else None, run["chip_number"],
                         focus_run=run_id)
