"""A one-line live progress bar for staging on a terminal (files/s, ETA, current file); silent when piped."""

from __future__ import annotations

import shutil
import sys
import time
from typing import TextIO

from labtui.core.lock import Holder, waiting_text
from labtui.core.pace import Pace
from labtui.core.scan import Outcome
from labtui.core.stage_events import EventKind, StageEvent
from labtui.core.wording import shown


def say_waiting(holder: Holder | None) -> None:
    """On stderr, that a command waits for another writer's lock (`lock_store`'s `on_wait`), as a stage says it."""
    print(waiting_text(holder), file=sys.stderr, flush=True)


class ProgressBar:
    """Turns engine events into a redrawn status line, at most ~10 redraws a second."""

    def __init__(self, stream: TextIO | None = None, enabled: bool | None = None) -> None:
        self.stream = stream or sys.stderr  # looked up now: sys.stderr may be replaced after import
        self.enabled = self.stream.isatty() if enabled is None else enabled
        self.pace = Pace()
        self.last_draw = 0.0

    def __call__(self, event: StageEvent) -> None:
        if event.kind == EventKind.LOCK_WAIT:
            print(waiting_text(event.holder), file=self.stream, flush=True)
            return
        if event.kind == EventKind.SCAN:
            self.pace.restart(sum(event.counts.values()))
        if event.kind == EventKind.DONE:
            self.clear()
            return
        if event.kind != EventKind.FILE or not self.enabled:
            return
        now = time.monotonic()
        if now - self.last_draw < 0.1 and event.done < event.total:
            return
        self.last_draw = now
        self.draw(event)

    def draw(self, event: StageEvent) -> None:
        """The status line; the file's name `shown`: an escape sequence in it cleared or recoloured the terminal."""
        width = shutil.get_terminal_size((100, 20)).columns
        fraction = event.done / event.total if event.total else 1.0
        bar_width = max(10, min(30, width // 4))
        filled = int(bar_width * fraction)
        counts = event.counts
        text = (
            f"[{'█' * filled}{'·' * (bar_width - filled)}] {event.done}/{event.total} "
            f"{self.pace.text(event.done, event.total)} "
            f"✔{counts.get(Outcome.STAGED, 0)} ={counts.get(Outcome.UNCHANGED, 0)} "
            f"⏳{counts.get(Outcome.BUSY, 0)} ✘{counts.get(Outcome.REJECTED, 0)} {shown(event.source_file or '')}"
        )
        self.stream.write("\r" + text[: width - 1].ljust(width - 1))
        self.stream.flush()

    def clear(self) -> None:
        if self.enabled:
            width = shutil.get_terminal_size((100, 20)).columns
            self.stream.write("\r" + " " * (width - 1) + "\r")
            self.stream.flush()
