"""Following the run being measured: its rows drawn as the raw file grows, with the plot screen's keys.

Apart from the watching (`labtui.tui.live`) so that the app starts without the plot screen and its libraries.
"""

from __future__ import annotations

import threading
from pathlib import Path

import polars as pl
from textual import work
from textual.content import Content
from textual.message import Message
from textual.widgets import Static

from labtui.core.config import StagingConfig
from labtui.core.extract import chip_name_of, has_light, local_date
from labtui.core.follow import FollowedRun
from labtui.core.plotdata import KINDS, Baseline, LoadedGroup, PlotOptions
from labtui.core.registry import load_registry
from labtui.tui.plot import PlotScreen, status

FOLLOW_SECONDS = 1.0  # how often the follow screen looks for new rows


class FollowScreen(PlotScreen):
    """The run being measured, redrawn as rows arrive; the plot screen's keys (baseline, log, export) apply."""

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

    def __init__(self, path: Path, config: StagingConfig) -> None:
        super().__init__(pl.DataFrame(), config)  # no staged runs: the rows come from the raw file
        self.path = path
        self.description = f"{path.name} — reading…"
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
        run = FollowedRun(self.path, load_registry(self.config.procedures_file))
        shown: tuple[int, str] | None = None
        while not cancel.is_set():
            run.refresh()
            now = run.frame.height, run.describe()
            if now != shown:
                shown = now
                self.post_message(self.Rows(live_group(run, self.config), *now))
            cancel.wait(FOLLOW_SECONDS)

    def on_follow_screen_rows(self, message: Rows) -> None:
        self.title = "Measuring now"  # after PlotScreen's `on_mount` named it "Plot"
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

    def _show_status(self) -> None:
        lines = [Content(self.description)]
        if self.spec is not None:
            lines.append(status(self.spec, self.current, self.saved))
        self.query_one("#plot-status", Static).update(Content("\n").join(lines))


def live_group(run: FollowedRun, config: StagingConfig) -> LoadedGroup | None:
    """The rows read so far as a plot group, as `load_group` makes one from a staged run; None before the header."""
    header = run.header
    if header is None:
        return None
    fields = header.fields
    row = {
        "run_id": run.path.name,
        "proc": header.proc,
        "date_local": local_date(header.start_time_utc, config.zone),
        "file_idx": fields.get("file_idx"),
        "chip_name": chip_name_of(fields.get("chip_group"), fields.get("chip_number")),
        "has_light": has_light(header),
        **{name: fields.get(name) for name in ("laser_voltage_v", "laser_wavelength_nm", "laser_period_s",
                                               "vg_fixed_v")},
    }
    runs = pl.DataFrame([row])
    kind = KINDS.get(header.proc)
    if kind is None:
        return LoadedGroup(header.proc, runs.clear(), (), (f"no live plot for {header.proc} runs",))
    names = [kind.x, kind.y, *kind.extra]
    if missing := [name for name in names if name not in run.frame.columns]:
        return LoadedGroup(header.proc, runs.clear(), (), (f"no {', '.join(missing)} column in {run.path.name}",))
    frame = run.frame.select(names).filter(pl.col(kind.x).is_finite() & pl.col(kind.y).is_finite())
    if frame.is_empty():
        return LoadedGroup(header.proc, runs.clear(), (), ("no data rows yet",))
    return LoadedGroup(header.proc, runs, ({name: frame[name].to_numpy() for name in names},), ())

