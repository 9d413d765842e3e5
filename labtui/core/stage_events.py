"""What a stage tells its caller: progress events and the final report (the vocabulary of the CLI bar, the app and
the watcher, which need it without importing the writer)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING

from labtui.core.lock import Holder
from labtui.core.rejects import RejectRecord
from labtui.core.scan import Outcome

if TYPE_CHECKING:
    from labtui.core.metrics import MetricsUpdate


class EventKind(StrEnum):
    LOCK_WAIT = "lock_wait"  # another writer holds the lock; `holder` says who
    SCAN = "scan"  # the plan is made: `total` files, `message` says how many need reading
    FILE = "file"  # one file read: `outcome`, `done` of `total`
    NOTE = "note"  # a note on a staged file known once the stage's files are all read: `source_file`, `message`
    COMMIT = "commit"  # a batch is committed
    DONE = "done"  # the run ended; `message` is the report's line


class WatchEventKind(StrEnum):
    """What `labtui stage --watch` (core.watch) did in one poll."""

    STAGED = "staged"
    WAITING = "waiting"  # the lock is held elsewhere
    ERROR = "error"  # the raw folder is unreachable, or staging failed: retried at the next poll
    UNLISTED = "unlisted"  # a folder in the raw tree cannot be listed: its files wait until it can
    RECOVERED = "recovered"  # the raw folder is back


@dataclass(frozen=True)
class StageEvent:
    """What the engine tells its caller; emitted on the calling thread only."""

    kind: EventKind
    done: int = 0
    total: int = 0
    source_file: str | None = None
    outcome: Outcome | None = None
    message: str = ""
    counts: dict[str, int] = field(default_factory=dict)
    holder: Holder | None = None


@dataclass
class StageReport:
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(Outcome, 0))
    elapsed_s: float = 0.0
    cancelled: bool = False
    new_store: bool = False  # nothing staged into it before this stage took the lock (its first, of racing ones)
    staged_run_ids: list[str] = field(default_factory=list)
    staged_files: list[str] = field(default_factory=list)
    busy_files: dict[str, str] = field(default_factory=dict)  # deferred (still being written) → why
    unlisted_folders: list[str] = field(default_factory=list)  # raw folders that cannot be listed, and why
    new_rejects: list[RejectRecord] = field(default_factory=list)
    known_rejects: list[RejectRecord] = field(default_factory=list)  # unchanged files, rejected before
    warned: dict[str, list[str]] = field(default_factory=dict)  # staged files → what was not as expected
    commits: int = 0
    read_again: int = 0  # unchanged raw files read again: made by older extraction rules or registry entries
    # the zone the store's runs were dated in and the one this stage dates them in, where they differ (another
    # `local_tz` in the config: every run whose local date moves is read again, into its new partition)
    zone_change: tuple[str, str] | None = None
    redated: int = 0  # of `read_again`, the runs whose local date the zone change moves
    touched: int = 0  # of the unchanged, files read because their stat changed, whose content is as staged
    metrics: MetricsUpdate | None = None  # the derived table's update after the commits (None: nothing to do)

    @property
    def staged(self) -> int:
        return self.counts[Outcome.STAGED]

    @property
    def unchanged(self) -> int:
        return self.counts[Outcome.UNCHANGED]

    @property
    def busy(self) -> int:
        return self.counts[Outcome.BUSY]

    @property
    def rejected(self) -> int:
        return self.counts[Outcome.REJECTED]

    def line(self) -> str:
        return f"{'cancelled: ' if self.cancelled else ''}{self.tally()} in {self.elapsed_s:.2f} s"

    def read_again_why(self) -> str:
        """Why unchanged files were read again: the lab's zone changed (their runs' dates move), newer rules."""
        if self.zone_change is None or not self.redated:
            return "read again by newer rules"
        was, now = self.zone_change
        rules = self.read_again - self.redated
        return (f"read again: {self.redated} dated in {now} (local_tz), where the store's runs were dated in {was}: "
                f"set local_tz back if that is the lab's zone{f'; {rules} by newer rules' if rules > 0 else ''}")

    def tally(self) -> str:
        """The files by outcome, as the command line and the app's stage screen say them."""
        again = f" ({self.read_again} {self.read_again_why()})" if self.read_again else ""
        touched = f" ({self.touched} touched: content as staged, new times recorded)" if self.touched else ""
        return (f"{self.staged} staged{again}, {self.unchanged} unchanged{touched}, {self.busy} busy (deferred), "
                f"{self.rejected} rejected")


EventCallback = Callable[[StageEvent], None]
