"""A one-line live progress bar for staging on a terminal (files/s, ETA, current file); silent when piped."""

from __future__ import annotations

import shutil
import sys
import time
from typing import TextIO

from labtui.core.stager import Outcome, StageEvent


class ProgressBar:
    """Turns engine events into a redrawn status line, at most ~10 redraws a second."""

    def __init__(self, stream: TextIO | None = None, enabled: bool | None = None) -> None:
        self.stream = stream or sys.stderr  # looked up now: sys.stderr may be replaced after import
        self.enabled = self.stream.isatty() if enabled is None else enabled
        self.started = time.monotonic()
        self.first_done: int | None = None
        self.last_draw = 0.0

    def __call__(self, event: StageEvent) -> None:
        if event.kind == "lock_wait":
            who = event.holder.describe() if event.holder else "another labtui process"
            self.stream.write(f"waiting for the store lock held by {who}…\n")
            self.stream.flush()
            return
        if event.kind == "scan":
            self.started = time.monotonic()
            self.first_done = None
        if event.kind == "done":
            self.clear()
            return
        if event.kind != "file" or not self.enabled:
            return
        if self.first_done is None:
            self.first_done = event.done - 1
        now = time.monotonic()
        if now - self.last_draw < 0.1 and event.done < event.total:
            return
        self.last_draw = now
        self.draw(event, now)

    def draw(self, event: StageEvent, now: float) -> None:
        width = shutil.get_terminal_size((100, 20)).columns
        elapsed = max(now - self.started, 1e-6)
        read = event.done - (self.first_done or 0)
        rate = read / elapsed
        remaining = (event.total - event.done) / rate if rate > 0 else 0.0
        fraction = event.done / event.total if event.total else 1.0
        bar_width = max(10, min(30, width // 4))
        filled = int(bar_width * fraction)
        counts = event.counts
        text = (
            f"[{'█' * filled}{'·' * (bar_width - filled)}] {event.done}/{event.total} "
            f"{rate:5.0f} files/s ETA {remaining:4.0f}s "
            f"✔{counts.get(Outcome.STAGED, 0)} ={counts.get(Outcome.UNCHANGED, 0)} "
            f"⏳{counts.get(Outcome.BUSY, 0)} ✘{counts.get(Outcome.REJECTED, 0)} {event.source_file or ''}"
        )
        self.stream.write("\r" + text[: width - 1].ljust(width - 1))
        self.stream.flush()

    def clear(self) -> None:
        if self.enabled:
            width = shutil.get_terminal_size((100, 20)).columns
            self.stream.write("\r" + " " * (width - 1) + "\r")
            self.stream.flush()
