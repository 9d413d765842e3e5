"""The plot screen: the selected runs drawn in the terminal, one procedure group at a time.

Parquet is read once, in a worker. Every key press, resize and theme change re-shapes the cached arrays with
`labtui.core.plotdata.shape` and redraws, which is what keeps iterating on a plot instant.
"""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path
from typing import Any

import polars as pl
from textual import events, on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.message import Message
from textual.widgets import Header, Input, Label, Static, Tab, Tabs

from labtui.core.plotdata import (
    Baseline,
    GmMethod,
    LoadedGroup,
    PlotOptions,
    PlotSpec,
    export_file_name,
    group_by_proc,
    shape,
)
from labtui.core.plotdata.figure import DRAW_BUCKETS, legend_left_out
from labtui.core.plotdata.model import baseline_time
from labtui.core.plotdata.selection import draws_derived
from labtui.core.plotdata.trends import with_plotted_quantities
from labtui.core.plotdata.view import controls, current_rows, default_options, file_suffix
from labtui.core.registry import proc_family
from labtui.core.wording import counted
from labtui.tui.base import LabFooter, LabScreen
from labtui.tui.plot_view import LegendBox, PlotView, legend, palette_for, status
from labtui.tui.store import short_path

# The option each key changes; a key shows in the footer only where its option applies (`controls`).
ACTION_CONTROLS = {
    "cycle_baseline": "baseline",
    "baseline_time": "baseline",
    "toggle_log": "log_y",
    "toggle_gm": "gm",
    "cycle_gm_method": "gm_method",
    "toggle_align": "align_cnp",
}
SHORT_ROWS = 30  # a shorter terminal keeps fewer lines of notes under a figure


class FigureScreen(LabScreen):
    """A screen whose `e` writes its figure (PDF, PNG) and the CSV of every point from a worker, then says where."""

    class Exported(Message):
        """The export worker wrote these files."""

        def __init__(self, paths: tuple[Path, ...], notes: tuple[str, ...] = ()) -> None:
            super().__init__()
            self.paths = paths
            self.notes = notes  # what the figure leaves out (its legend, when too long)

    BINDINGS = [
        Binding("pagedown", "legend(1)", "Legend: page down", id="legend_down", show=False),
        Binding("pageup", "legend(-1)", "Legend: page up", id="legend_up", show=False),
    ]
    # the notes under the figure scroll past 8 lines, past 4 on a short terminal: at 80×24 six warnings left the
    # plot 7 rows
    DEFAULT_CSS = """
    FigureScreen {
        #plot-row { height: 1fr; }
        #status-box { height: auto; max-height: 8; padding: 0 1; background: $panel; color: $text-muted; }
        &.-short #status-box { max-height: 4; }
    }
    """
    saved: tuple[Path, ...] = ()  # files of the last export of this view

    def on_resize(self) -> None:
        self.set_class(self.size.height < SHORT_ROWS, "-short")

    def action_legend(self, pages: int) -> None:
        self.query_one(LegendBox).page(pages)

    def on_mount(self) -> None:
        """Redrawn in a new theme's colours. Textual calls every class's handler: this one runs after the screen's."""
        self.app.theme_changed_signal.subscribe(self, lambda _: self.show())

    def on_unmount(self) -> None:
        """Unsubscribed when closed: the signal's callback holds its screen, so every plot, trends and follow screen
        opened and closed stayed in memory with its runs (4–5 MB a minute of use)."""
        self.app.theme_changed_signal.unsubscribe(self)

    def show(self) -> None:
        """Draw the current view."""
        raise NotImplementedError

    def step_tab(self, forward: bool) -> None:
        """The next (previous) tab, on show at once, not when the Tabs' message comes: an `e` pressed in between
        exported the view before."""
        tabs = self.query_one(Tabs)
        if forward:
            tabs.action_next_tab()
        else:
            tabs.action_previous_tab()
        self.tab_chosen(tabs.active)

    @on(Tabs.TabActivated)
    def _tab_activated(self, _: Tabs.TabActivated) -> None:
        """A click, or the message of a key already acted on: the tab active now, not the event's (two quick tabs
        switched back to the first when its message came, then on again)."""
        self.tab_chosen(self.query_one(Tabs).active)

    def tab_chosen(self, tab_id: str) -> None:
        """Show the view of the tab `tab_id` (nothing to do when it is on show)."""
        raise NotImplementedError

    def say_exporting(self) -> None:
        """Said at once: a figure of many runs takes seconds to write, and a key that seems to do nothing gets
        pressed again."""
        self.notify("writing the figure (PDF, PNG) and its points (CSV)…", timeout=4)

    def write_figures(self, full: PlotSpec, paths: tuple[Path, ...], drawn: PlotSpec | None = None, *,
                      record: tuple[pl.DataFrame, PlotOptions, dict[str, object] | None] | None = None) -> None:
        """Called from an export worker: write the files (and, given the runs, options and trend of `record`, the
        figure's record beside the PDF, as `labtui plot` writes one), then tell the screen on the UI thread (a
        failure is the worker's error, which the app shows as it shows every other)."""
        drawing = None
        if record is not None:
            runs, options, trend = record
            drawing = (runs, options, trend, trend is not None or draws_derived(full, runs, options))
        sidecar = self.lab.store.write_figures(full, paths, drawn=drawn, record=drawing)
        paths = (*paths, sidecar) if sidecar is not None else paths
        self.post_message(self.Exported(paths, tuple(legend_left_out(drawn or full))))

    def on_figure_screen_exported(self, message: Exported) -> None:
        self.saved = message.paths
        first, *others = message.paths  # named: "PDF, PNG, CSV written to exports" left the reader to find them
        also = f" and its {', '.join(path.suffix.lstrip('.').upper() for path in others)}" if others else ""
        said = "".join(f"; {note}" for note in message.notes)
        self.notify(f"{first.name}{also} written to {short_path(first.parent)}{said}", title="Exported", timeout=5)
        self._show_status()

    def _show_status(self) -> None:
        """Redraw the status line, which names the files of the last export."""
        raise NotImplementedError


class PlotScreen(FigureScreen):
    """`PlotScreen(runs)`: `runs` are manifest rows (with `seq`) of the selection, any procedures."""

    recorded = True  # an export writes the figure's record too (`labtui plot --from` redraws it)

    HELP = (
        "The selected runs, one tab per procedure (tab / shift+tab). It: b cycles the baseline (raw, first point, "
        "fixed time set with t, just before the laser switches on; dark runs open without one); l log |I|. IVg: "
        "l log |I|, g transconductance, m its method, a aligns the sweeps on their Dirac points (Vg − V_CNP of "
        "each run's forward leg, from the metrics table). Other procedures: the columns their registry entry names, "
        "l log |y| (not a calibration's power). e saves the figure as PDF and PNG (as `labtui plot` draws it) and "
        "the plotted points as CSV in the exports folder."
    )
    BINDINGS = [
        Binding("e", "export", "Export PDF+PNG+CSV", id="plot_export"),  # first: at 80 columns the footer's last
        Binding("b", "cycle_baseline", "Baseline", id="plot_baseline"),  # keys are left out
        Binding("t", "baseline_time", "Baseline time", id="plot_baseline_time"),
        Binding("l", "toggle_log", "Log |y|", id="plot_log"),
        Binding("g", "toggle_gm", "gm", id="plot_gm"),
        Binding("m", "cycle_gm_method", "gm method", id="plot_gm_method"),
        Binding("a", "toggle_align", "Align on CNP", id="plot_align"),
        Binding("tab", "next_group", "Next procedure", id="plot_next"),
        Binding("shift+tab", "previous_group", "Previous procedure", id="plot_previous", show=False),
    ]
    DEFAULT_CSS = """
    PlotScreen {
        #legend-box { width: 34; max-width: 35%; }
        #baseline-time-box { display: none; height: 1; background: $primary 20%; }
        #baseline-time-box.editing { display: block; }
        #baseline-time-label { width: auto; padding: 0 1; text-style: bold; }
        #baseline-time { border: none; height: 1; padding: 0 1; width: 1fr; }
    }
    """

    class Loaded(Message):
        """The worker read the selection (posted from its thread)."""

        def __init__(self, groups: list[LoadedGroup]) -> None:
            super().__init__()
            self.groups = groups

    def __init__(self, runs: pl.DataFrame, procedures_file: Path | None = None) -> None:
        super().__init__()
        self.runs = runs
        groups = group_by_proc(runs) if runs.height else []
        self.counts = {proc: frame.height for proc, frame in groups}
        self.procs = list(self.counts)
        self.families = {proc: proc_family(proc, procedures_file) for proc in self.procs}  # IVgT: IVg's options
        self.proc = self.procs[0] if self.procs else ""  # the procedure on show; "" for an empty selection
        self.options = {proc: default_options(self.families[proc], frame) for proc, frame in groups}
        self.groups: dict[str, LoadedGroup] | None = None  # None until the worker has read the selection
        self.spec: PlotSpec | None = None  # what is drawn now

    def compose(self) -> ComposeResult:
        yield Header()
        if len(self.procs) > 1:
            yield Tabs(*(Tab(f"{proc} ({count})", id=f"proc-{proc}") for proc, count in self.counts.items()))
        with Horizontal(id="plot-row"):
            yield PlotView()
            yield LegendBox(id="legend-box")
        loading = f"loading {counted(self.runs.height, 'run')}…" if self.procs else "no runs selected"
        with VerticalScroll(id="status-box"):
            yield Static(loading, id="plot-status")
        with Horizontal(id="baseline-time-box"):
            yield Label("Baseline at t (s):", id="baseline-time-label")
            yield Input(placeholder="e.g. 20 — enter: ΔI = I − I(t), esc: cancel", type="number", id="baseline-time")
        yield LabFooter()

    def on_mount(self) -> None:
        self.title = "Plot"
        self.reload()

    def reload(self) -> None:
        """Read the selection again (the store changed: a run may have been re-staged); options are kept."""
        if self.procs:
            self.load()

    @work(thread=True, exclusive=True, group="plot-load", exit_on_error=False)
    def load(self) -> None:
        store = self.lab.store
        # a run re-staged under a new run_id since it was chosen is read under that one (its old Parquet is gone)
        runs = self.runs = current_rows(self.runs, store.manifest(), store.config.local_tz)
        if {"IVg", "It"} & set(self.families.values()):  # Dirac points (the aligned overlay, `a`), It runs' powers
            runs = with_plotted_quantities(runs, store.metrics_or_empty()[0])  # damaged: the data drawn alone
        self.post_message(self.Loaded(store.load_runs(runs)))

    def on_plot_screen_loaded(self, message: Loaded) -> None:
        self.groups = {group.proc: group for group in message.groups}
        self.show()
        self.refresh_bindings()  # `e` now has something to export

    def on_plot_view_resized(self) -> None:
        self.show()

    def show(self) -> None:
        """Shape the current group for the plot's width and draw it; cheap, so called on every change."""
        plot = self.query_one(PlotView)
        if self.groups is None or not self.proc or not plot.size.width:
            return  # still loading, or not laid out yet: a Loaded or Resized message follows
        self.spec = shape(self.groups[self.proc], self.current, plot.size.width, self.lab.config.metrics)
        palette = palette_for(self.app.theme_variables)
        plot.draw(self.spec, palette)
        self.query_one(LegendBox).show(legend(self.spec, palette))
        self._show_status()

    def _show_status(self) -> None:
        if self.spec is not None:
            self.query_one("#plot-status", Static).update(
                status(self.spec, self.current, self.saved, self.lab.config.metrics.gm_window_v))

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Show a key only where it does something: baseline for It, log and gm for sweeps, tabs for mixes."""
        if action in ACTION_CONTROLS:
            family = self.families.get(self.proc, self.proc)  # a followed run's screen keeps its own procs
            return bool(self.proc) and ACTION_CONTROLS[action] in controls(family, self.current)
        if action in ("next_group", "previous_group"):
            return len(self.procs) > 1
        if action == "export":
            return self.spec is not None and bool(self.spec.series)
        return True

    def on_key(self, event: events.Key) -> None:
        """A view key the plot on show has no use for (hidden from the footer) says so instead of doing nothing."""
        if not self.proc or isinstance(self.focused, Input):
            return
        unused = [binding for binding in self._bindings.key_to_bindings.get(event.key, ())
                  if binding.action in ACTION_CONTROLS and not self.check_action(binding.action, ())]
        if unused:
            mode = " of gm (g shows I again)" if self.current.gm else ""
            self.notify(f"{unused[0].description} does not apply to the {self.proc} plot{mode}", severity="warning")

    @property
    def current(self) -> PlotOptions:
        """The options of the group on show; keys reach this only when there is one (`check_action`)."""
        return self.options[self.proc]

    def _update(self, **changes: Any) -> None:
        self.options[self.proc] = replace(self.current, **changes)
        self._changed_view()

    def _changed_view(self) -> None:
        """Another group or other options: redraw, forget the last export, offer the keys that now apply."""
        self.saved = ()
        self.show()
        self.refresh_bindings()  # the footer recomposes: not on every resize

    # -- keys -------------------------------------------------------------------------------------------------
    def action_cycle_baseline(self) -> None:
        """raw → first point → (I at the time `t` set) → before laser ON: the fixed time joins once `t` gave one
        (at its default t = 0 it drew the first point's curve a second time)."""
        modes = [mode for mode in Baseline if mode is not Baseline.FIXED or self.current.baseline_time_s]
        self._update(baseline=modes[(modes.index(self.current.baseline) + 1) % len(modes)])

    def action_baseline_time(self) -> None:
        field = self.query_one("#baseline-time", Input)
        fixed = self.current.baseline is Baseline.FIXED
        field.value = f"{self.current.baseline_time_s:g}" if fixed else ""  # no unexplained "0"
        self.query_one("#baseline-time-box").add_class("editing")
        field.focus()

    @on(Input.Submitted, "#baseline-time")
    def _baseline_time_set(self, event: Input.Submitted) -> None:
        at = baseline_time(event.value)
        if at is None:
            said = f"{event.value.strip()!r} is not" if event.value.strip() else "type"
            self.notify(f"{said} a time in seconds from the run's start (e.g. 30); Esc leaves it", severity="error")
            return
        drawn = self.spec.series if self.spec is not None else ()
        longest = max((float(series.x.max()) for series in drawn if series.x.size), default=math.inf)
        if at > longest:
            self.notify(f"t = {at:g} s is past the end of the runs ({longest:g} s): their last point is the "
                        "baseline", severity="warning")
        self._close_baseline_time()
        self._update(baseline=Baseline.FIXED, baseline_time_s=at)

    def _close_baseline_time(self) -> None:
        self.query_one("#baseline-time-box").remove_class("editing")
        self.set_focus(None)

    def action_back(self) -> None:
        """Esc leaves the baseline-time field first, then the screen."""
        if isinstance(self.focused, Input):
            self._close_baseline_time()
        else:
            super().action_back()

    def action_toggle_log(self) -> None:
        self._update(log_y=not self.current.log_y)

    def action_toggle_gm(self) -> None:
        self._update(gm=not self.current.gm, log_y=False)  # log |gm| is meaningless: back to linear

    def action_toggle_align(self) -> None:
        self._update(align_cnp=not self.current.align_cnp)

    def action_cycle_gm_method(self) -> None:
        methods = list(GmMethod)
        self._update(gm_method=methods[(methods.index(self.current.gm_method) + 1) % len(methods)])

    def action_next_group(self) -> None:
        self.step_tab(forward=True)

    def action_previous_group(self) -> None:
        self.step_tab(forward=False)

    def tab_chosen(self, tab_id: str) -> None:
        proc = tab_id.removeprefix("proc-")
        if proc != self.proc:
            self.proc = proc
            self._changed_view()

    # -- export -----------------------------------------------------------------------------------------------
    def action_export(self) -> None:
        """The figure as `labtui plot` draws it (PDF, PNG) and every point of the plotted series (CSV)."""
        assert self.groups is not None and self.spec is not None  # `check_action` offers `e` only then
        self.say_exporting()
        self.export(self.groups[self.proc], self.current)

    @work(thread=True, group="plot-export", exit_on_error=False)
    def export(self, group: LoadedGroup, options: PlotOptions) -> None:
        full = shape(group, options, width=None, settings=self.lab.config.metrics)
        folder = self.lab.config.exports_dir
        paths = tuple(folder / export_file_name(full, file_suffix(full.kind, options, f".{ext}"))
                      for ext in ("pdf", "png", "csv"))
        record = (group.runs, options, None) if self.recorded else None  # a run being measured is in no store yet
        self.write_figures(full, paths, drawn=shape(group, options, DRAW_BUCKETS, self.lab.config.metrics),
                           record=record)
