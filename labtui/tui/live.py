"""The live lab: watching the raw folder from the app, and following the run being measured.

The engine's polling `Watcher` runs in a thread worker (it must work on network shares, where file-system events
never arrive). Everything it learns reaches the app as messages posted from that thread; the worker never reads a
widget. The app keeps what the screens show (`WatchController`) and tells them when it changes (`LiveChanged`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import polars as pl
from textual import work
from textual.app import App
from textual.content import Content
from textual.message import Message
from textual.widgets import Static

from labtui.core.config import StagingConfig
from labtui.core.extract import chip_name_of, has_light, local_date
from labtui.core.follow import FollowedRun
from labtui.core.plotdata import KINDS, Baseline, LoadedGroup, PlotOptions
from labtui.core.registry import load_registry
from labtui.core.watch import Watcher, WatchEvent
from labtui.tui.plot import PlotScreen, status

FOLLOW_SECONDS = 1.0  # how often the follow screen looks for new rows
SHOWN_FILES = 5  # in a notification; the history has them all


@dataclass(frozen=True)
class Measured:
    """A raw file being written now: where it is and the dashboard's line for it."""

    source_file: str
    description: str  # FollowedRun.describe(): "It2025-10-14_35.csv — Alisson67, λ=455 nm, 83 s of 180 s"


class Watched(Message):
    """The watcher staged files, is waiting for the lock, failed or recovered (posted from its thread)."""

    def __init__(self, event: WatchEvent) -> None:
        super().__init__()
        self.event = event


class Measuring(Message):
    """The files being written changed, or their progress did (posted from the watcher's thread)."""

    def __init__(self, watcher: LiveWatcher, runs: tuple[Measured, ...]) -> None:
        super().__init__()
        self.watcher = watcher
        self.runs = runs


class LiveChanged(Message, bubble=False):
    """What the app knows of the live lab changed: show it again."""


class LiveWatcher(Watcher):
    """The engine's watcher, also reporting after every poll which runs are being measured.

    `Watcher.growing()` also lists every file of a first scan (each is new to it) until they settle; a run is being
    measured when it was seen to grow, so a file counts only once its size or mtime changed between two polls.
    """

    def __init__(self, config: StagingConfig, post: Callable[[Message], object]) -> None:
        super().__init__(config, on_event=lambda event: post(Watched(event)))
        self.post = post
        self.registry = load_registry(config.procedures_file)
        self.seen: dict[str, tuple[int, int]] = {}  # source file → (size, mtime_ns) at the previous poll
        self.followed: dict[str, FollowedRun] = {}  # the files seen growing, still within the settle time
        self.reported: tuple[Measured, ...] = ()

    def poll(self) -> list[WatchEvent]:
        try:
            events = super().poll()
            self._report_measuring()
        except Exception as error:  # a lab PC watches all day: an unforeseen error is reported and retried
            events = self._emit([WatchEvent("error", f"{type(error).__name__}: {error}; retrying")])
        return events

    def _report_measuring(self) -> None:
        files = self.state.files
        grew = {source for source, signature in files.items() if self.seen.get(source, signature) != signature}
        self.seen = dict(files)
        root = self.config.raw_root
        self.followed = {
            source: self.followed.get(source) or FollowedRun(root / source, self.registry)
            for source in self.growing()
            if source in grew or source in self.followed
        }
        for run in self.followed.values():
            run.refresh()  # only the bytes appended since the last poll
        runs = tuple(Measured(source, run.describe()) for source, run in self.followed.items())
        if runs != self.reported:
            self.reported = runs
            self.post(Measuring(self, runs))


class WatchController:
    """The app's side of watching: one watcher thread at a time, and the last things it reported."""

    def __init__(self, app: App, config: StagingConfig) -> None:
        self.app = app
        self.config = config
        self.watcher: LiveWatcher | None = None  # the running one; None when not watching
        self.cancel = threading.Event()
        self.measuring: tuple[Measured, ...] = ()
        self.problem: str | None = None  # the last error, until the watcher recovers or stages again

    @property
    def watching(self) -> bool:
        return self.watcher is not None

    def start(self) -> None:
        self.cancel = threading.Event()
        self.watcher = LiveWatcher(self.config, self.app.post_message)
        self.app.run_worker(partial(self.watcher.run, self.cancel), name="watch", group="watch", thread=True,
                            exit_on_error=False)

    def stop(self) -> None:
        """The watcher finishes its current poll (a staging stops after the files in flight) and ends."""
        self.cancel.set()
        self.watcher = None
        self.measuring, self.problem = (), None

    def watched(self, event: WatchEvent) -> None:
        """Record an event and say it: each new run by name, a problem once (a failing staging retries every poll)."""
        if event.kind == "error":
            if event.message != self.problem:
                self.problem = event.message
                self.app.notify(event.message, title="Watching", severity="error", timeout=10)
            return
        self.problem = None
        if event.kind != "staged":  # recovered, or waiting for the lock
            self.app.notify(event.message, title="Watching", severity="warning" if event.kind == "waiting" else
                            "information")
            return
        rejects = event.report.new_rejects if event.report else []
        lines = [*event.staged[:SHOWN_FILES]]
        if len(event.staged) > SHOWN_FILES:
            lines.append(f"… and {len(event.staged) - SHOWN_FILES} more")
        lines += [f"✘ {record.source_file}: {record.describe()}" for record in rejects[:SHOWN_FILES]]
        self.app.notify("\n".join(lines) or event.message, severity="warning" if rejects else "information",
                        title=f"{len(event.staged)} new run(s) staged" if event.staged else "Watching")

    def measured(self, message: Measuring) -> bool:
        """Take the running watcher's report (a stopped one may still post its last); True when it changed."""
        if message.watcher is not self.watcher or message.runs == self.measuring:
            return False
        self.measuring = message.runs
        return True


# -- follow ---------------------------------------------------------------------------------------------------
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

