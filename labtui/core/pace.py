"""How fast a stage run goes and how long it has left, for every progress display (CLI bar, app screen).

The clock starts at the scan: files the scan settles without reading them (unchanged, known rejects) are counted
done at once and would make the rate a lie, so only the files read since then count.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from labtui.core.wording import counted


@dataclass
class Pace:
    clock: Callable[[], float] = time.monotonic
    started: float = field(init=False)
    settled: int = 0  # files done at the scan, without reading

    def __post_init__(self) -> None:
        self.started = self.clock()

    def restart(self, settled: int) -> None:
        """The scan is done: `settled` files need no reading; the clock starts now."""
        self.started, self.settled = self.clock(), settled

    def rate(self, done: int) -> float:
        """Files read per second since the scan (0 before any)."""
        elapsed = self.clock() - self.started
        return (done - self.settled) / elapsed if elapsed > 0 else 0.0

    def text(self, done: int, total: int) -> str:
        """`120 files/s · ETA 4 s` (`1 file/s`), or `— files/s` before the rate is known; `nothing to read` at the
        end of a stage that read no file (not a rate never known)."""
        if done >= total and done <= self.settled:
            return "nothing to read"
        rate = self.rate(done)
        return f"{counted(round(rate), 'file')}/s · ETA {(total - done) / rate:.0f} s" if rate > 0 else "— files/s"
