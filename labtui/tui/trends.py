"""The trends screen: one chip's Dirac point, photoresponse, spectral response and dark current over its runs.

The chip's manifest rows, metrics and annotations are read and joined once, in a worker (`trend_rows`); every key
then re-shapes those rows with `trend_spec`, which is what keeps switching trends instant at 65k runs.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl
from textual import events, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.content import Content
from textual.message import Message
from textual.widgets import Header, Static, Tab, Tabs

from labtui.core.plotdata import PlotOptions, PlotSpec, export_file_name
from labtui.core.plotdata.selection import chip_runs
from labtui.core.plotdata.trends import (
    Trend,
    against_power,
    against_time,
    thinned,
    trend_record,
    trend_rows,
    trend_spec,
)
from labtui.core.wording import counted
from labtui.tui.base import LabFooter
from labtui.tui.plot import FigureScreen
from labtui.tui.plot_view import LegendBox, PlotView, legend, palette_for, saved_line

# The views, one a tab; the photoresponse view shows ΔI or, with `r`, the responsivity ΔI / P.
TABS = {Trend.CNP: "Dirac point", Trend.HYSTERESIS: "Hysteresis", Trend.PHOTORESPONSE: "Photoresponse",
        Trend.SPECTRAL: "Spectral", Trend.DARK: "Dark current"}
# why `l` draws a tab on linear axes: log–log is the photoresponse's against power
LINEAR = {Trend.CNP: "a Dirac point is a gate voltage, on either side of 0 V",
          Trend.HYSTERESIS: "a hysteresis is a difference of gate voltages, of either sign",
          Trend.SPECTRAL: "its x is a wavelength (the Photoresponse tab draws R against power on log–log axes)",
          Trend.DARK: "its x is a time (the Photoresponse tab draws ΔI against power on log–log axes)"}


def trend_status(spec: PlotSpec, include_excluded: bool, saved: tuple[Path, ...], *,
                 no_table: str | None = None) -> Content:
    """What is drawn, whether excluded runs are in it, what was left out and why (`no_table`: why the store has no
    metrics table to read), and the last export."""
    points = sum(series.x.size for series in spec.series)
    state = [f"{counted(points, 'point')} of {counted(spec.runs.height, 'run')}",
             # hidden ones: counted below; shown, crossed out (X in a chip without one seemed to do nothing)
             *([f"excluded runs shown{'' if spec.excluded else ' (none)'}"] if include_excluded else []),
             *(["log–log"] if spec.log_x else [])]
    # the excluded runs left out first (`trend_spec` says it first): at 80×24 the box shows 4 lines, and the warnings
    # before it had scrolled it out of view
    hidden, notes = (spec.messages[0], spec.messages[1:]) if spec.hidden else ("", spec.messages)
    lines = [Content(" · ".join(state)), *([Content.assemble(("· " + hidden, "$text-muted"))] if hidden else [])]
    lines += [Content(fit) for fit in spec.fits]  # what l was pressed for: before the warnings, in the 4 lines seen
    lines += [Content.assemble(("⚠ " + warning, "$text-warning")) for warning in spec.warnings]
    lines += [Content.assemble(("· " + message, "$text-muted")) for message in notes]  # notes, as a plot's
    if not spec.series:
        why = no_table or "no run of this chip has the quantity"
        lines.append(Content.assemble((f"nothing to draw: {why}", "$text-error")))
    return Content("\n").join([*lines, *saved_line(saved)])


class TrendsScreen(FigureScreen):
    """`TrendsScreen(group, number)`: the trends of one chip."""

    HELP = (
        "One point per run of the chip, from the metrics table (`labtui metrics`). tab / shift+tab switch between "
        "the Dirac point (forward and backward leg; lit sweeps a series apart) against time, the hysteresis (each "
        "sweep's backward minus forward Dirac point) against time, the photoresponse against the irradiated power "
        "(one series per wavelength; r toggles ΔI and the responsivity ΔI / P; l draws |ΔI| or |R| against P on "
        "log–log axes, the points below 0 a series apart (▼, ▽ in doubt), with each series' power law ΔI ∝ P^α "
        "fitted and its α said below the plot, excluded runs shown not fitted), the spectral response "
        "(responsivity against wavelength) and the dark current against time. An It trend is split further where "
        "its runs differ in gate voltage (each VG is another quantity) or, lit, in laser period (ΔI is read at a "
        "pulse's end): the legend names each series. Runs without the quantity are left "
        "out and counted below the plot. o draws the trends against time by run (seq) instead, one step a run: "
        "sessions weeks apart no longer squeeze each session's runs into one vertical smear. X shows "
        "the runs marked excluded (hidden by default). e saves the figure "
        "as PDF and PNG and its points (with run_id and seq) as CSV in the exports folder."
    )
    BINDINGS = [
        # at 80 columns the footer has room for tab, esc, ?, e and r and l or o: `Export PDF+PNG+CSV` left r out,
        # and `ΔI / responsivity` l
        Binding("tab", "next_trend", "Next trend", id="trends_next"),
        Binding("e", "export", "Export", id="trends_export"),  # the help names its files, the status line after it
        Binding("shift+tab", "previous_trend", "Previous trend", id="trends_previous", show=False),
        Binding("r", "toggle_responsivity", "ΔI / R", id="trends_responsivity"),
        # o twice too: the footer names the axis it switches to
        Binding("o", "by_seq(True)", "Against seq", id="trends_by_seq"),
        Binding("o", "by_seq(False)", "Against time", id="trends_by_seq"),
        # X twice, one enabled by the state (`check_action`): the help says what it will do. Not in the footer: the
        # status line names X when it hides runs
        Binding("X", "show_excluded(True)", "Show excluded", id="trends_excluded", show=False),
        Binding("X", "show_excluded(False)", "Hide excluded", id="trends_excluded", show=False),
        # l twice too, on the photoresponse tab alone (`check_action`); elsewhere said why not, as r and o are
        Binding("l", "log_log(True)", "Log–log", id="trends_log"),
        Binding("l", "log_log(False)", "Linear", id="trends_log"),
    ]
    DEFAULT_CSS = """
    TrendsScreen {
        #legend-box { width: 30; max-width: 35%; }
    }
    """

    class Loaded(Message):
        """The worker joined the chip's runs with their metrics and annotations (posted from its thread)."""

        def __init__(self, rows: pl.DataFrame, no_table: str | None) -> None:
            super().__init__()
            self.rows = rows
            self.no_table = no_table

    def __init__(self, group: str | None, number: int) -> None:
        super().__init__()
        self.group = group
        self.number = number
        self.tab = Trend.CNP
        self.responsivity = False  # the photoresponse tab: ΔI (False) or ΔI / P
        self.include_excluded = False
        self.by_seq = False  # a trend against time drawn against the runs' seq (`o`)
        self.log_log = False  # the photoresponse tab (ΔI and R) on log–log axes (`l`)
        self.rows: pl.DataFrame | None = None  # None until the worker has read them
        self.no_table: str | None = None  # why the store has no metrics table to read (the worker looked)
        self.spec: PlotSpec | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        yield Tabs(*(Tab(text, id=f"trend-{trend}") for trend, text in TABS.items()))
        with Horizontal(id="plot-row"):
            yield PlotView()
            yield LegendBox(id="legend-box")
        with VerticalScroll(id="status-box"):
            yield Static("loading…", id="plot-status")
        yield LabFooter()

    def on_mount(self) -> None:
        self.title = f"Trends · {self.group or ''}{self.number}"
        self.reload()

    def reload(self) -> None:
        self.load()

    @work(thread=True, exclusive=True, group="trends-load", exit_on_error=False)
    def load(self) -> None:
        store = self.lab.store
        runs = chip_runs(store.manifest(), self.number, self.group, None, tz=store.config.local_tz)
        metrics, damaged = store.metrics_or_empty()  # damaged: "loading…" for ever once its dialog was seen
        rows = trend_rows(runs, metrics, store.annotations())
        no_table = ("the metrics table is damaged: `labtui metrics --rebuild` recomputes it" if damaged else
                    "no metrics table yet: a stage (s on the dashboard) or `labtui metrics` computes it"
                    if not store.config.metrics_path.exists() else None)
        self.post_message(self.Loaded(rows, no_table))

    def on_trends_screen_loaded(self, message: Loaded) -> None:
        self.rows, self.no_table = message.rows, message.no_table
        self.show()
        self.refresh_bindings()

    def on_plot_view_resized(self) -> None:
        self.show()

    @property
    def drawn_by_seq(self) -> bool:
        """Against seq: chosen, and the trend is one against time (the choice stays for the next such tab)."""
        return self.by_seq and against_time(self.trend)

    @property
    def drawn_log_log(self) -> bool:
        """On log–log axes: chosen, and the trend is one against power (the choice stays for its tab)."""
        return self.log_log and against_power(self.trend)

    @property
    def trend(self) -> Trend:
        if self.tab is Trend.PHOTORESPONSE and self.responsivity:
            return Trend.RESPONSIVITY
        return self.tab

    def show(self) -> None:
        """Shape the trend on show from the joined rows and draw it: cheap, so called on every change."""
        plot = self.query_one(PlotView)
        if self.rows is None or not plot.size.width:
            return
        self.spec = trend_spec(self.trend, self.rows, include_excluded=self.include_excluded,
                               tz=self.lab.config.local_tz, procedures_file=self.lab.config.procedures_file,
                               by_seq=self.drawn_by_seq, log_log=self.drawn_log_log, reveal="X shows them")
        palette = palette_for(self.app.theme_variables)
        plot.draw(thinned(self.spec, plot.size.width, plot.size.height), palette)
        self.query_one(LegendBox).show(legend(self.spec, palette))
        self._show_status()

    def _show_status(self) -> None:
        if self.spec is not None:
            self.query_one("#plot-status", Static).update(
                trend_status(self.spec, self.include_excluded, self.saved, no_table=self.no_table))

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "toggle_responsivity":
            return self.tab is Trend.PHOTORESPONSE
        if action == "export":
            return self.spec is not None and bool(self.spec.series)
        if action == "show_excluded":
            return parameters[0] != self.include_excluded
        if action == "by_seq":
            return against_time(self.trend) and parameters[0] != self.by_seq
        if action == "log_log":
            return against_power(self.trend) and parameters[0] != self.log_log
        return True

    def on_key(self, event: events.Key) -> None:
        """A view key the trend on show has no use for (hidden from the footer) says so instead of doing nothing."""
        actions = {binding.action for binding in self._bindings.key_to_bindings.get(event.key, ())}
        if "toggle_responsivity" in actions and self.tab is not Trend.PHOTORESPONSE:
            self.notify(f"ΔI / responsivity applies to the Photoresponse trend, not to {TABS[self.tab]}",
                        severity="warning")
        elif actions & {"by_seq(True)", "by_seq(False)"} and not against_time(self.trend):
            self.notify(f"{TABS[self.tab]} is not drawn against time: against seq or time does not apply",
                        severity="warning")
        elif actions & {"log_log(True)", "log_log(False)"} and not against_power(self.trend):
            self.notify(f"{TABS[self.tab]} is drawn on linear axes: {LINEAR[self.tab]}", severity="warning")

    def _changed_view(self) -> None:
        self.saved = ()
        self.show()
        self.refresh_bindings()

    # -- keys -------------------------------------------------------------------------------------------------
    def action_next_trend(self) -> None:
        self.step_tab(forward=True)

    def action_previous_trend(self) -> None:
        self.step_tab(forward=False)

    def tab_chosen(self, tab_id: str) -> None:
        trend = Trend(tab_id.removeprefix("trend-"))
        if trend is not self.tab:
            self.tab = trend
            self._changed_view()

    def action_log_log(self, log_log: bool) -> None:
        self.log_log = log_log
        self._changed_view()

    def action_toggle_responsivity(self) -> None:
        """The tab says which of the two it shows: it read Photoresponse over a responsivity's axis."""
        self.responsivity = not self.responsivity
        self.query_one(f"#trend-{Trend.PHOTORESPONSE}", Tab).label = "Responsivity" if self.responsivity \
            else TABS[Trend.PHOTORESPONSE]
        self._changed_view()

    def action_by_seq(self, by_seq: bool) -> None:
        self.by_seq = by_seq
        self._changed_view()

    def action_show_excluded(self, shown: bool) -> None:
        self.include_excluded = shown
        self._changed_view()

    # -- export -----------------------------------------------------------------------------------------------
    def action_export(self) -> None:
        """The figure as `labtui plot CHIP --trend` draws it (PDF, PNG) and its points with their runs (CSV)."""
        assert self.spec is not None  # `check_action` offers `e` only then
        self.say_exporting()
        tag = "_by-seq" * self.drawn_by_seq + "_log-log" * self.drawn_log_log + "_with-excluded" * self.include_excluded
        self.export(self.spec, tag, trend_record(self.trend, include_excluded=self.include_excluded,
                                                 by_seq=self.drawn_by_seq, log_log=self.drawn_log_log))

    @work(thread=True, group="trends-export", exit_on_error=False)
    def export(self, spec: PlotSpec, tag: str, trend: dict[str, object]) -> None:
        """`trend`: what the figure's record names, as `labtui plot --trend` writes it."""
        folder = self.lab.config.exports_dir
        paths = tuple(folder / export_file_name(spec, f"{tag}.{ext}") for ext in ("pdf", "png", "csv"))
        self.write_figures(spec, paths, record=(spec.runs, PlotOptions(), trend))
