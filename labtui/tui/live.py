"""The live lab: watching the raw folder from the app (following the run being measured: `labtui.tui.follow`).

The engine's polling `Watcher` runs in a thread worker (it must work on network shares, where file-system events
never arrive). Everything it learns reaches the app as messages posted from that thread; the worker never reads a
widget. The app keeps what the screens show (`WatchController`) and tells them when it changes (`LiveChanged`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

from textual.app import App
from textual.message import Message

from labtui.core.config import StagingConfig
from labtui.core.follow import FollowedRun
from labtui.core.registry import load_registry
from labtui.core.watch import Watcher, WatchEvent, WatchEventKind

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
            events = self._emit([WatchEvent(WatchEventKind.ERROR, f"{type(error).__name__}: {error}; retrying")])
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
        if event.kind == WatchEventKind.ERROR:
            if event.message != self.problem:
                self.problem = event.message
                self.app.notify(event.message, title="Watching", severity="error", timeout=10)
            return
        self.problem = None
        if event.kind != WatchEventKind.STAGED:  # recovered, or waiting for the lock
            waiting = event.kind == WatchEventKind.WAITING
            self.app.notify(event.message, title="Watching", severity="warning" if waiting else "information")
            return
        rejects = event.report.new_rejects if event.report else []
        lines = [*event.staged[:SHOWN_FILES]]
        if len(event.staged) > SHOWN_FILES:
            lines.append(f"… and {len(event.staged) - SHOWN_FILES} more")
        lines += [f"✘ {record.headline()}" for record in rejects[:SHOWN_FILES]]
        self.app.notify("\n".join(lines) or event.message, severity="warning" if rejects else "information",
                        title=f"{len(event.staged)} new run(s) staged" if event.staged else "Watching")

    def measured(self, message: Measuring) -> bool:
        """Take the running watcher's report (a stopped one may still post its last); True when it changed."""
        if message.watcher is not self.watcher or message.runs == self.measuring:
            return False
        self.measuring = message.runs
        return True
