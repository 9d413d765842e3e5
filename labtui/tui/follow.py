"""Following the run being measured: its rows drawn as the raw file grows, with the plot screen's keys.

Apart from the watching (`labtui.tui.live`) so that the app starts without the plot screen and its libraries.
"""

from __future__ import annotations

import threading
from pathlib import PurePosixPath

import polars as pl
from textual import work
from textual.content import Content
from textual.message import Message
from textual.widgets import Static

from labtui.core.plotdata import Baseline, LoadedGroup, PlotOptions
from labtui.core.plotdata.live import live_group
from labtui.tui.live import LiveChanged
from labtui.tui.plot import PlotScreen
from labtui.tui.plot_view import status

FOLLOW_SECONDS = 1.0  # how often the follow screen looks for new rows


class FollowScreen(PlotScreen):
    """The run being measured, redrawn as rows arrive; the plot screen's keys (baseline, log, export) apply."""

    recorded = False  # its export has no record: the record names staged runs, and this one is not yet

    HELP = (
        "The run being measured, drawn from the rows written so far and updated every second. It is staged once "
        "the file stops changing. The plot keys apply as for staged runs; e saves what is drawn now."
    )

    class Rows(Message):
        """New rows, or news about the file (posted from the follow worker)."""

        def __init__(self, group: LoadedGroup | None, rows: int, description: str) -> None:
            super().__init__()
            self.group = group
            self.rows = rows
            self.description = description

    def __init__(self, source_file: str) -> None:
        super().__init__(pl.DataFrame())  # no staged runs: the rows come from the raw file
        self.source_file = source_file
        self.description = f"{PurePosixPath(source_file).name} — reading…"
        self.rows = 0  # rows read so far
        self.cancel = threading.Event()

    def on_mount(self) -> None:
        """Runs before PlotScreen's own `on_mount` (Textual calls every class's handler)."""
        self._show_status()
        self.follow(self.cancel)

    def on_unmount(self) -> None:
        self.cancel.set()

    def reload(self) -> None:
        """The store is not what this screen shows: the follow worker reads the raw file."""

    @work(thread=True, group="follow", exit_on_error=False)
    def follow(self, cancel: threading.Event) -> None:
        run, zone = self.lab.store.follow(self.source_file), self.lab.config.zone
        shown: tuple[int, str] | None = None
        while not cancel.is_set():
            run.refresh()
            now = run.frame.height, run.describe()
            if now != shown:
                shown = now
                self.post_message(self.Rows(live_group(run, zone), *now))
            cancel.wait(FOLLOW_SECONDS)

    def on_live_changed(self, _: LiveChanged) -> None:
        self._show_title()
        self._show_status()  # the dashboard's word for the file may have changed, or the file stopped growing

    def _over(self) -> bool:
        """Measuring until the watcher no longer sees the file grow (as the dashboard's line): then it is staged."""
        live = self.lab.live
        return live.watching and all(run.source_file != self.source_file for run in live.measuring)

    def _show_title(self) -> None:
        self.title = "Measured: the file stopped growing" if self._over() else "Measuring now"

    def on_follow_screen_rows(self, message: Rows) -> None:
        self._show_title()  # after PlotScreen's `on_mount` named it "Plot"
        self.description, self.rows = message.description, message.rows
        group = message.group
        if group is not None:
            if not self.proc:  # the first rows: now the screen knows what it plots
                self.proc, self.procs = group.proc, [group.proc]
                self.options = {group.proc: PlotOptions(baseline=Baseline.RAW)}  # I vs t as it is measured
                self.refresh_bindings()
            self.groups = {group.proc: group}
        self.show()
        self._show_status()

    def _described(self) -> str:
        """The run's progress, and once the file stopped growing that it did (`84 s of 180 s` read as still going
        on). While no header could be read, the file as the dashboard's line says it: a queued run's header (no
        start time, no rows) read as a reject, `header only: … the run was never recorded, or the file was cut`."""
        if self.proc:
            return f"{self.description} · stopped growing: staged as it is" if self._over() else self.description
        line = next((run.description for run in self.lab.live.measuring if run.source_file == self.source_file), None)
        return line if line is not None else self.description  # the watcher knows a queued run from a cut file

    def _show_status(self) -> None:
        lines = [Content(self._described())]
        if self.spec is not None:
            lines.append(status(self.spec, self.current, self.saved, self.lab.config.metrics.gm_window_v))
        self.query_one("#plot-status", Static).update(Content("\n").join(lines))
