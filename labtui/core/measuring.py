"""The runs being measured now: the watcher of the raw folder, also telling after every poll which files grow.

`Watcher.growing()` also lists every file of a first scan (each is new to it) until they settle; a run is being
measured when it was seen to grow, so a file counts only once its size or mtime changed between two polls.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from labtui.core.config import StagingConfig
from labtui.core.errors import described
from labtui.core.follow import FollowedRun
from labtui.core.registry import load_registry
from labtui.core.stage_events import WatchEventKind
from labtui.core.watch import Watcher, WatchEvent

QUEUE_STALLED_SECONDS = 600.0  # a queue that measured nothing for this long since a run was queued was stopped


@dataclass(frozen=True)
class Measured:
    """A raw file being written now: where it is and the dashboard's line for it."""

    source_file: str
    description: str  # FollowedRun.describe(): "It2025-10-14_35.csv — Alisson67, λ=455 nm, 83 s of 180 s"


class MeasuringWatcher(Watcher):
    """The engine's watcher, also calling `on_measuring` whenever the runs being measured (or their progress)
    change. A lab PC watches all day: an unforeseen error in a poll is reported as an event and retried."""

    def __init__(
        self,
        config: StagingConfig,
        *,
        on_event: Callable[[WatchEvent], object],
        on_measuring: Callable[[tuple[Measured, ...]], object],
    ) -> None:
        super().__init__(config, on_event=on_event)
        self.on_measuring = on_measuring
        self.registry = load_registry(config.procedures_file)
        self.seen: dict[str, tuple[int, int]] = {}  # source file → (size, mtime_ns) at the previous poll
        self.followed: dict[str, FollowedRun] = {}  # the files seen growing, still within the settle time
        self.reported: tuple[Measured, ...] = ()
        self.last_growth = float("-inf")  # wall time of the last poll that saw a file grow

    def poll(self) -> list[WatchEvent]:
        try:
            events = super().poll()
            self._report_measuring()
        except Exception as error:  # reported, and retried at the next poll: never fatal
            events = self._emit([WatchEvent(WatchEventKind.ERROR, f"{described(error)}; retrying")])
        return events

    def _report_measuring(self) -> None:
        files = self.state.files
        grew = {source for source, signature in files.items() if self.seen.get(source, signature) != signature}
        self.seen = dict(files)
        root, waiting = self.config.raw_root, self.state.waiting  # queued, or in their burn-in: measured too
        self.followed = {
            source: self.followed.get(source) or FollowedRun(root / source, self.registry)
            for source in [*self.growing(), *sorted(waiting)]
            if source in grew or source in self.followed or source in waiting
        }
        for run in self.followed.values():
            run.refresh()  # only the bytes appended since the last poll
        now = self.wall()
        if grew:
            self.last_growth = now
        runs = tuple(Measured(source, f"{run.path.name} — queued: its run has not begun"
                              if source in waiting and run.header is None else run.describe())
                     for source, run in self.followed.items()
                     if not (source in waiting and run.header is None and self._stalled(files[source][1], now)))
        if runs != self.reported:
            self.reported = runs
            self.on_measuring(runs)

    def _stalled(self, queued_ns: int, now: float) -> bool:
        """Whether a run queued at `queued_ns` waits in a queue that was stopped: PyMeasure starts the next run as
        one ends, so a queue that measured nothing for `QUEUE_STALLED_SECONDS` since the run was queued runs no more.
        Its runs are not on the measuring line; their files wait, and are rejected a day after they were written."""
        return now - max(queued_ns / 1e9, self.last_growth) >= QUEUE_STALLED_SECONDS
