"""The live lab: watching the raw folder from the app (following the run being measured: `labtui.tui.follow`).

The engine's polling watcher (`labtui.core.measuring`, from the store's door) runs in a thread worker (it must work
on network shares, where file-system events never arrive). Everything it learns reaches the app as messages posted
from that thread; the worker never reads a widget. The app keeps what the screens show (`WatchController`) and
tells them when it changes (`LiveChanged`).
"""

from __future__ import annotations

import threading
from functools import partial

from textual.app import App
from textual.message import Message

from labtui.core.stage_events import WatchEventKind
from labtui.core.wording import counted
from labtui.tui.store import Store

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing, which every start would pay for
if TYPE_CHECKING:  # the watcher (and the stager behind it) is imported when watching starts
    from labtui.core.measuring import Measured, MeasuringWatcher
    from labtui.core.watch import WatchEvent

SHOWN_FILES = 5  # in a notification; the history has them all


class Watched(Message):
    """The watcher staged files, is waiting for the lock, failed or recovered (posted from its thread)."""

    def __init__(self, event: WatchEvent) -> None:
        super().__init__()
        self.event = event


class Measuring(Message):
    """The files being written changed, or their progress did (posted from the watcher's thread)."""

    def __init__(self, watcher: MeasuringWatcher, runs: tuple[Measured, ...]) -> None:
        super().__init__()
        self.watcher = watcher
        self.runs = runs


class LiveChanged(Message, bubble=False):
    """What the app knows of the live lab changed: show it again."""


class WatchController:
    """The app's side of watching: one watcher thread at a time, and the last things it reported."""

    def __init__(self, app: App, store: Store) -> None:
        self.app = app
        self.store = store
        self.watcher: MeasuringWatcher | None = None  # the running one; None when not watching
        self.cancel = threading.Event()
        self.measuring: tuple[Measured, ...] = ()
        self.problem: str | None = None  # the last error, until the watcher recovers or stages again

    @property
    def watching(self) -> bool:
        return self.watcher is not None

    def start(self) -> None:
        self.cancel = threading.Event()
        post = self.app.post_message
        self.watcher = watcher = self.store.watcher(lambda event: post(Watched(event)),
                                                    lambda runs: post(Measuring(watcher, runs)))
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
            warning = event.kind in (WatchEventKind.WAITING, WatchEventKind.UNLISTED)
            self.app.notify(event.message, title="Watching", severity="warning" if warning else "information")
            return
        rejects = event.report.new_rejects if event.report else []
        warned = event.report.warned if event.report else {}  # an aborted run said here, not only on its plot
        lines = [f"{source}: {'; '.join(warned[source])}" if source in warned else source
                 for source in event.staged[:SHOWN_FILES]]
        if len(event.staged) > SHOWN_FILES:
            lines.append(f"… and {len(event.staged) - SHOWN_FILES} more")
        lines += [f"✘ {record.headline()}" for record in rejects[:SHOWN_FILES]]
        title = f"{counted(len(event.staged), 'run')} staged" if event.staged else "Watching"  # a grown file's run
        self.app.notify("\n".join(lines) or event.message, severity="warning" if rejects or warned else "information",
                        title=title)  # is staged again: "new run" was not always true

    def measured(self, message: Measuring) -> bool:
        """Take the running watcher's report (a stopped one may still post its last); True when it changed."""
        if message.watcher is not self.watcher or message.runs == self.measuring:
            return False
        self.measuring = message.runs
        return True
