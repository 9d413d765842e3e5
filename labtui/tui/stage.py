"""Staging with live progress: the engine runs in a worker thread and reports through thread-safe messages."""

from __future__ import annotations

import threading
import time
from bisect import bisect_right
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.events import Resize
from textual.message import Message
from textual.reactive import reactive
from textual.timer import Timer
from textual.widgets import Header, ProgressBar, RichLog
from textual.worker import Worker, WorkerState

from labtui.core.errors import LabtuiError
from labtui.core.lock import Holder, LockBusy, holder_text, lock_state, waiting_text
from labtui.core.pace import Pace
from labtui.core.scan import Outcome
from labtui.core.stage_events import EventKind, StageEvent, StageReport
from labtui.core.wording import counted
from labtui.tui.base import LabFooter, LabScreen, Shown

LOCK_POLL_SECONDS = 1.0  # how often a screen refused by the lock looks whether it is free
FREE_AGAIN = "✔ The other writer is done.\nw: stage now · esc: back"
clock = time.monotonic  # what rates and elapsed times are measured with (frozen in snapshot tests)
POST_INTERVAL_S = 0.1
SHOWN_REJECTS = 5  # in the summary; the rejects screen has them all
# locked (another writer; w waits) | missing (no raw folder) | running | cancelling | done
StageState = Literal["locked", "missing", "running", "cancelling", "done"]
ICONS = {Outcome.STAGED: "✔", Outcome.UNCHANGED: "=", Outcome.BUSY: "⏳", Outcome.REJECTED: "✘"}
STYLES = {Outcome.STAGED: "green", Outcome.BUSY: "yellow", Outcome.REJECTED: "bold red"}


class WrappedLog(RichLog):
    """A log whose lines wrap again when its width changes. RichLog wraps a line once, at the width it is written
    at: after the terminal was resized, the stage's log kept the old width's lines (cut past the right edge when
    narrower, half-empty when wider). Keeps what was written, as many entries as it keeps lines, and writes them
    again after a resize a batch per refresh: 5,000 lines took 2.5 s at once, which froze the app.

    It follows new lines only while the user is at its end (its auto_scroll, set as it scrolls), and after a resize
    the entry at its top stays there, at the new wrapping: it jumped to the end, away from a reject's reason read."""

    REWRAP_BATCH = 100

    def __init__(self, **options: object) -> None:
        super().__init__(wrap=True, min_width=1, **options)  # type: ignore[arg-type]  # min_width: default 78
        self.written: deque[Text] = deque(maxlen=self.max_lines)  # copies: an entry is known by its identity
        self.starts: deque[int] = deque(maxlen=self.max_lines)  # each entry's first line, as RichLog counts them
        self.pending: deque[Text] = deque()  # still to be written again since the last resize, in order
        self.wrapped_at = 0  # the width the lines were wrapped at
        self.top: Text | None = None  # while written again: the entry to keep at the top (None: follow the end)
        self.top_line: int | None = None  # its first line once written again

    def write(self, content: object, *args: object, **options: object) -> WrappedLog:
        if not self._size_known:  # RichLog defers the write and makes it again here once it knows its size
            super().write(content, *args, **options)  # type: ignore[arg-type]
            return self
        assert isinstance(content, Text | str), content  # the stage's lines
        self.written.append(content.copy() if isinstance(content, Text) else Text(content))
        self.wrapped_at = self.scrollable_content_region.width
        if self.pending:  # after the lines written before it
            self.pending.append(self.written[-1])
        else:
            self._write_out(self.written[-1], *args, **options)
        return self

    def _write_out(self, entry: Text, *args: object, **options: object) -> int:
        """Writes `entry` at the end; returns its first line, counted since the last clear as RichLog counts them
        (its lines past max_lines are dropped from the front, `_start_line` their number)."""
        start = self._start_line + len(self.lines)
        self.starts.append(start)
        super().write(entry, *args, **options)  # type: ignore[arg-type]
        return start

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        """Scrolled up, the user reads on: new lines no longer pull the log to its end until they scroll back."""
        super().watch_scroll_y(old_value, new_value)
        self.auto_scroll = new_value >= self.max_scroll_y

    def on_resize(self, event: Resize) -> None:  # RichLog's own handler runs after this one (Textual calls both)
        width = self.scrollable_content_region.width
        if not self._size_known or not self.written or width == 0:
            return
        if width == self.wrapped_at:  # shorter only (the stage's summary appeared below): its last lines hid below
            if self.auto_scroll:
                self.call_after_refresh(self.scroll_end, animate=False)
            return
        self.wrapped_at = width
        restart = not self.pending
        if restart:  # else the entry to keep is the one kept when the writing again began
            self.top = None if self.auto_scroll else self._entry_at(self.scroll_offset.y)
        self.top_line = None
        self.clear()  # its size is known: no write waits to be made
        self.starts.clear()
        self.pending = deque(self.written)
        if restart:
            self._write_pending()

    def _entry_at(self, y: int) -> Text:
        """The entry line `y` is part of (when nothing is pending, each entry kept has its start, in the same order)."""
        return self.written[bisect_right(self.starts, self._start_line + y) - 1]

    def _write_pending(self) -> None:
        if not self.is_attached:  # the screen closed meanwhile
            self.pending.clear()
            return
        for _ in range(min(self.REWRAP_BATCH, len(self.pending))):
            entry = self.pending.popleft()
            start = self._write_out(entry, scroll_end=self.top is None)
            if entry is self.top:
                self.top_line = start
        if self.top_line is not None:  # again after each batch: the lines below it may not have filled a screen
            self.scroll_to(y=self.top_line - self._start_line, animate=False)
        if self.pending:
            self.call_after_refresh(self._write_pending)
        elif self.top is not None:  # the clear's scroll to 0 read as being at the end
            self.auto_scroll = self.is_vertical_scroll_end


class Progress(Message):
    """The latest engine event and the log lines since the previous message."""

    def __init__(self, event: StageEvent, lines: list[Text]) -> None:
        super().__init__()
        self.event = event
        self.lines = lines


class Relay:
    """The engine's `on_event`, on the worker thread: at most ~10 messages a second, every log line kept."""

    def __init__(self, post: Callable[[Message], object], zone: ZoneInfo) -> None:
        self.post = post
        self.zone = zone
        self.lines: list[Text] = []
        self.last_post = 0.0

    def __call__(self, event: StageEvent) -> None:
        if event.kind != EventKind.DONE:  # the summary under the log says it
            self.lines.append(log_line(event, self.zone))
        now = time.monotonic()
        if event.kind == EventKind.FILE and now - self.last_post < POST_INTERVAL_S and event.done < event.total:
            return
        self.post(Progress(event, self.lines))
        self.lines = []
        self.last_post = now


def log_line(event: StageEvent, zone: ZoneInfo) -> Text:
    if event.kind == EventKind.FILE and event.outcome is not None:
        line = Text.assemble((f"{ICONS[event.outcome]} {event.source_file}", STYLES.get(event.outcome, "")))
        if event.message:
            line.append(f"  {event.message}", style="dim")
        return line
    if event.kind == EventKind.NOTE:  # after the files' lines: known once they were all read
        return Text(f"⚠ {event.source_file}  {event.message}", style="yellow")
    if event.kind == EventKind.LOCK_WAIT:
        return Text(waiting_text(event.holder, zone), style="yellow")
    if event.kind == EventKind.SCAN:
        return Text(f"{counted(event.total, 'raw file')}: {event.message}", style="bold")
    return Text(event.message, style="dim")


class StageScreen(LabScreen):
    HELP = (
        "Stages new and changed raw files into the store. Esc cancels cleanly: what was committed stays valid and "
        "the rest stages next time. When another labtui holds the store, w waits for it; otherwise w turns watching "
        "on or off, as on every screen. Once done, r opens the rejects in this screen's place."
    )
    BINDINGS = [
        Binding("escape", "cancel", "Cancel", id="cancel_stage"),  # while staging; afterwards esc goes back
        Binding("escape", "back", "Back", id="back"),
        Binding("w", "wait", "Wait for the lock", id="wait"),
        Binding("r", "rejects", "Rejects", id="stage_rejects"),
    ]

    notice: reactive[str] = reactive("")  # what stops the staging, or what it waits for
    numbers: reactive[str] = reactive("")  # progress, rate, ETA and the running counts
    current: reactive[str] = reactive("")  # the file read last
    summary: reactive[Text | str] = reactive("")  # the outcome, once done

    def __init__(self, only: list[Path] | None = None, *, take_cut_short: bool = False) -> None:
        super().__init__()
        self.only = only
        self.take_cut_short = take_cut_short  # the user confirmed: files cut short since staged replace their runs
        self.cancel = threading.Event()
        self.state: StageState = "locked"
        self.report: StageReport | None = None
        self.pace = Pace(clock=lambda: clock())  # looked up at each call: snapshot tests freeze `clock`
        self.total = 0
        self._lock_poll: Timer | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        yield Shown(hide_empty=True, id="notice", classes="notice").data_bind(text=StageScreen.notice)
        yield ProgressBar(show_eta=False, id="progress")
        yield Shown(id="numbers").data_bind(text=StageScreen.numbers)
        yield Shown(id="current").data_bind(text=StageScreen.current)
        yield WrappedLog(max_lines=5000, id="log")
        yield Shown(id="summary").data_bind(text=StageScreen.summary)
        yield LabFooter()

    def on_mount(self) -> None:
        self.title = f"Re-stage {counted(len(self.only), 'file')}" if self.only is not None else "Stage"
        config = self.lab.config
        holder = self.lab.store.holder()
        if problem := config.raw_root_problem():
            self.state = "missing"
            self.notice = (f"⚠ {problem[0].upper()}{problem[1:]}: nothing to stage.\n"
                           "Set raw_root in config/labtui.yaml or start labtui with --raw-root DIR.")
        elif holder is not None:
            self._locked(holder)
        else:
            self.start(wait=False)
            return
        self.query_one(ProgressBar).display = False

    def reload(self) -> None:
        """Nothing to reload: this screen shows a run, not the store."""

    @property
    def running(self) -> bool:
        return self.state in ("running", "cancelling")

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "wait":
            return self.state == "locked"
        if action == "rejects":
            return self.state == "done"
        if action in ("cancel", "back"):
            return self.running == (action == "cancel")
        return True

    def action_rejects(self) -> None:
        """The rejects in this screen's place: its summary counts the files this staging rejected, and Esc from the
        rejects, some of them fixed there, came back to `2 files rejected` with 1 left."""
        self.app.pop_screen()
        self.lab.action_open("rejects")

    def action_wait(self) -> None:
        self.notice = "waiting for the other writer to finish · esc: stop waiting"
        self.start(wait=True)

    def action_cancel(self) -> None:
        if self.state == "running":
            self.cancel.set()
            self.state = "cancelling"
            self.current = "cancelling: finishing the files in progress…"

    def on_unmount(self) -> None:
        """Quitting the app stops the staging cleanly instead of leaving the process waiting for it."""
        self.cancel.set()

    def start(self, *, wait: bool) -> None:
        self.state = "running"
        self.query_one(ProgressBar).display = True
        self.pace.restart(0)
        self.refresh_bindings()
        self.run_stage(wait)

    @work(thread=True, group="stage", exclusive=True, exit_on_error=False)
    def run_stage(self, wait: bool) -> StageReport:
        relay = Relay(self.post_message, self.lab.config.zone)
        return self.lab.store.stage(only=self.only, on_event=relay, cancel=self.cancel, wait=wait,
                                    take_cut_short=self.take_cut_short)

    @on(Progress)
    def _progress(self, message: Progress) -> None:
        log = self.query_one(WrappedLog)
        for line in message.lines:
            log.write(line)
        event = message.event
        if event.kind == EventKind.SCAN:
            self.pace.restart(sum(event.counts.values()))
            self.notice = ""
        if event.kind in (EventKind.SCAN, EventKind.FILE):
            self.total = event.total
            self._numbers(event.done or self.pace.settled, event.counts)
        if event.kind == EventKind.FILE and self.state == "running":
            self.current = f"last read: {event.source_file}"

    def _numbers(self, done: int, counts: dict[str, int]) -> None:
        """Progress bar, files/s, ETA and the running counts."""
        self.query_one(ProgressBar).update(total=self.total or 1, progress=done if self.total else 1)
        speed = self.pace.text(done, self.total)
        tally = "   ".join(f"{ICONS[o]} {o.value} {counts.get(o, 0)}" for o in Outcome)
        self.numbers = f"{done} / {counted(self.total, 'file')} · {speed}\n{tally}"

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.worker.group != "stage" or event.state not in (WorkerState.SUCCESS, WorkerState.ERROR):
            return
        self.state = "done"
        self.current = ""
        if event.state is WorkerState.SUCCESS and event.worker.result is not None:
            self._finished(event.worker.result)
        elif isinstance(error := event.worker.error, LockBusy):  # taken just now: offer to wait for it
            self._locked(error.holder)
            self.query_one(ProgressBar).display = False
        else:  # the app shows the error itself, once: this screen says it each time (a damaged manifest, …)
            why = f": {error}" if isinstance(error, LabtuiError) else ""
            self.notice = f"Staging failed{why}; what was committed before the error stays valid."
            self.query_one(ProgressBar).display = False  # it would pulse on as if staging went on
            self.numbers = ""  # its ETA, speed and "staged 1" (not committed: the retry staged them all) were stale
        self.refresh_bindings()
        self.lab.check_store()

    def _finished(self, report: StageReport) -> None:
        self.report = report
        self._numbers(sum(report.counts.values()), report.counts)
        head = "Cancelled" if report.cancelled else "Done"
        text = Text.assemble((f"{head}: ", "bold"), f"{report.tally()} in {clock() - self.pace.started:.1f} s")
        if report.cancelled:
            text.append("\nThe runs committed so far are in the store; the rest stages next time.")
        elif self.only is None and not sum(report.counts.values()):  # as `labtui stage` says it
            said = self.lab.config.no_raw_files()
            text.append(f"\n{said[0].upper()}{said[1:]} Set raw_root in config/labtui.yaml or start labtui with "
                        "--raw-root DIR.", style="bold")
        for folder in report.unlisted_folders:
            text.append(f"\n⚠ Cannot list the raw folder {folder}: its files were not staged.", style="yellow")
        for record in report.new_rejects[:SHOWN_REJECTS]:
            text.append(f"\n✘ {record.headline()}", style="red")
        if report.rejected:
            rejected = counted(report.rejected, "file")
            them = "it" if report.rejected == 1 else "them"
            text.append(f"\n{rejected} rejected: press r to see why and fix {them}.", style="bold")
        self.summary = text

    def _locked(self, holder: Holder | None) -> None:
        self.state = "locked"
        self.notice = self._busy(holder)  # a holder whose note cannot be read yet still holds it
        if self._lock_poll is None:
            self._lock_poll = self.set_interval(LOCK_POLL_SECONDS, self._check_lock)

    def _check_lock(self) -> None:
        """Say when the other writer is done, and when another takes the lock since: the notice of the first stayed
        until w was pressed, long after it had gone."""
        if self.state == "locked":
            held, holder = lock_state(self.lab.config.lock_path)
            self.notice = self._busy(holder) if held else FREE_AGAIN

    def _busy(self, holder: Holder | None) -> str:
        return (f"⚠ The store is being written by {holder_text(holder, self.lab.config.zone)}.\n"
                "w: wait until it is done, then stage · esc: back")
