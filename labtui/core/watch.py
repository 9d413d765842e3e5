"""Watching the acquisition folder: stage each run once it has stopped changing.

Polling, because it must work on network shares where file-system events never arrive, and cheap, because it
does not re-list the whole tree every second: a new file changes its folder's mtime, so each poll stats the
known folders, the files still being written and the files it staged within the last `RESTAT_SECONDS` (of those
its first scan listed, those written then: an old backlog is no paused run), as an acquisition that paused longer
than the settle time writes on, and an append leaves the folder's mtime alone;
a full re-scan every `full_rescan_seconds` catches what a coarse folder mtime (SMB, FAT) could hide.
"""

from __future__ import annotations

import os
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from labtui.core.config import StagingConfig
from labtui.core.errors import LabtuiError
from labtui.core.lock import LockBusy
from labtui.core.parser import HEADER_LIMIT
from labtui.core.raw_text import DATA_TAG, VISIBLE
from labtui.core.rejects import load_rejects
from labtui.core.scan import SYSTEM_FOLDERS, PassedOver, scan_raw, source_path
from labtui.core.stage_events import StageEvent, StageReport, WatchEventKind
from labtui.core.stager import Stager

FULL_RESCAN_SECONDS = 60.0
RESTAT_SECONDS = 3600.0  # a file the watcher staged is stat'ed at every poll this long after its last write (an
# acquisition paused longer than the settle time writes on: a dark run, hours)
QUEUED_SECONDS = 86400.0  # a header without rows written this long ago is a run that never began: rejected


@dataclass(frozen=True)
class WatchEvent:
    """What the watcher did in one poll."""

    kind: WatchEventKind
    message: str
    report: StageReport | None = None
    staged: tuple[str, ...] = ()  # source files staged in this poll
    run_ids: tuple[str, ...] = ()


@dataclass
class _State:
    files: dict[str, tuple[int, int]] = field(default_factory=dict)  # source file → (size, mtime_ns)
    folders: dict[Path, int] = field(default_factory=dict)  # folder → mtime_ns
    pending: dict[str, float] = field(default_factory=dict)  # changed files → wall time of their last change
    staged: dict[str, float] = field(default_factory=dict)  # files this watcher staged → when last written
    waiting: set[str] = field(default_factory=set)  # settled files whose run has not begun (a queued run)
    listed: set[str] = field(default_factory=set)  # the first scan's files, until seen to change: a backlog, whose
    # last writes (their mtimes) tell whether one may be a paused run's


class Watcher:
    """Call `poll()` every few seconds (or `run(cancel)`); it stages files unchanged for the settle time."""

    def __init__(
        self,
        config: StagingConfig,
        *,
        on_event: Callable[[WatchEvent], object] | None = None,
        on_stage_event: Callable[[StageEvent], None] | None = None,
        wall: Callable[[], float] = time.time,
        full_rescan_seconds: float = FULL_RESCAN_SECONDS,
    ) -> None:
        self.config = config
        self.on_event = on_event or (lambda event: None)
        self.on_stage_event = on_stage_event
        self.wall = wall
        self.full_rescan_seconds = full_rescan_seconds
        self.state = _State()
        self._last_full = -float("inf")
        self._failing = False
        self._locked_out = False  # the last staging found the store locked (said once, retried every poll)
        self._failed: str | None = None  # what the last staging failed on (said once, retried every poll)
        self._unlisted: set[str] = set()  # raw folders the last full scan could not list (each said once)
        self.cancel = threading.Event()

    # -- change detection -------------------------------------------------------------------------------------
    def _full_scan(self) -> list[WatchEvent]:
        """Every file's signature; a folder the scan cannot list (or can again) is said once."""
        passed = PassedOver()
        candidates = scan_raw(self.config.raw_root, passed)
        seen = {c.source_file: (c.size, c.mtime_ns) for c in candidates}
        if not self.state.files:
            self.state.listed = set(seen)
        self._note_changes(seen, complete=True, unseen=passed.unseen)
        for source in self._plausible_now(seen):  # unchanged, but no longer in the future of the clock
            self.state.pending.setdefault(source, -float("inf"))
        self.state.folders = self._folder_mtimes()
        self._last_full = self.wall()
        said, self._unlisted = self._unlisted, set(passed.unlisted)
        named = passed.unlisted_named(self.config.raw_root)
        return [
            *(WatchEvent(WatchEventKind.UNLISTED, f"cannot list the raw folder {named[folder]}: its files wait until "
                                                  "it can be read") for folder in sorted(self._unlisted - said)),
            *(WatchEvent(WatchEventKind.RECOVERED, f"the raw folder {folder or self.config.raw_root} can be listed "
                                                   "again") for folder in sorted(said - self._unlisted)),
        ]

    def _plausible_now(self, seen: dict[str, tuple[int, int]]) -> list[str]:
        """Files rejected for a start time in the future of the clock, which the clock has reached since (a clock
        set right on the lab's PC, where watch runs all day): a one-shot stage reads them again, and so does this."""
        try:
            rejects = load_rejects(self.config.rejects_dir)
        except OSError:  # a file where the folder should be: said by the next stage and by validate
            return []
        return [source for source, record in rejects.items() if source in seen and record.plausible_now()]

    def _folder_mtimes(self) -> dict[Path, int]:
        folders: dict[Path, int] = {}
        stack = [self.config.raw_root]
        while stack:
            folder = stack.pop()
            try:
                folders[folder] = folder.stat().st_mtime_ns
                stack.extend(Path(e.path) for e in os.scandir(folder)  # the folders a scan enters (`files_under`)
                             if not e.name.startswith(".") and e.name.casefold() not in SYSTEM_FOLDERS
                             and e.is_dir(follow_symlinks=False))
            except OSError:
                continue
        return folders

    def _changed_folders(self) -> list[Path]:
        changed = []
        for folder, mtime in list(self.state.folders.items()):
            try:
                now = folder.stat().st_mtime_ns
            except OSError:
                now = -1
            if now != mtime:
                changed.append(folder)
        return changed

    def _note_changes(self, seen: dict[str, tuple[int, int]], *, complete: bool, under: set[str] | None = None,
                      unseen: Callable[[str], bool] = lambda source: False) -> None:
        """Record new or changed files as pending; forget vanished ones (within the scanned part of the tree, and
        not in a folder it could not list: those may be there still)."""
        now = self.wall()
        for source, signature in seen.items():
            if (before := self.state.files.get(source)) != signature:
                if before is not None:
                    self.state.listed.discard(source)
                self.state.files[source] = signature
                self.state.pending[source] = now
        scanned = self.state.files if complete else {s for s in self.state.files if _parent(s) in (under or set())}
        for source in [s for s in scanned if s not in seen and not unseen(s)]:
            self.state.files.pop(source, None)
            self.state.pending.pop(source, None)
            self.state.waiting.discard(source)
        self.state.waiting -= self.state.pending.keys()

    def _quick_scan(self) -> None:
        changed = self._changed_folders()
        if changed:
            folders = self._folder_mtimes()
            changed += [folder for folder in folders if folder not in self.state.folders]  # new day folders
            self.state.folders = folders
            root = self.config.raw_root
            rels = {"" if f == root else f.relative_to(root).as_posix() for f in changed}
            seen = {c.source_file: (c.size, c.mtime_ns) for c in scan_raw(root) if _parent(c.source_file) in rels}
            self._note_changes(seen, complete=False, under=rels)
        now = self.wall()
        self.state.staged = {s: at for s, at in self.state.staged.items() if now - at < RESTAT_SECONDS}
        restat = {**self.state.pending, **dict.fromkeys(self.state.staged), **dict.fromkeys(self.state.waiting)}
        for source in restat:
            try:
                info = source_path(self.config.raw_root, source).stat(follow_symlinks=False)
            except OSError:
                self.state.pending.pop(source, None)
                self.state.files.pop(source, None)
                self.state.staged.pop(source, None)
                self.state.waiting.discard(source)
                continue
            if (info.st_size, info.st_mtime_ns) != self.state.files.get(source):
                self.state.files[source] = (info.st_size, info.st_mtime_ns)
                self.state.pending[source] = now
                self.state.listed.discard(source)
                self.state.waiting.discard(source)

    # -- one poll ---------------------------------------------------------------------------------------------
    def poll(self) -> list[WatchEvent]:
        """Detect changes, stage the files that settled; never raises for a vanished folder or a busy lock."""
        events: list[WatchEvent] = []
        if not self.config.raw_root.is_dir():
            if not self._failing:
                self._failing = True
                unreachable = f"raw folder {self.config.raw_root} is not reachable; retrying"
                events.append(WatchEvent(WatchEventKind.ERROR, unreachable))
            return self._emit(events)
        if self._failing:
            self._failing = False
            events.append(WatchEvent(WatchEventKind.RECOVERED, f"raw folder {self.config.raw_root} is back"))
            self._last_full = -float("inf")
        if self.wall() - self._last_full >= self.full_rescan_seconds:
            events += self._full_scan()
        else:
            self._quick_scan()
        settle = self.config.watch_settle_seconds
        for source in [s for s in self.state.waiting if not self._may_begin(s)]:
            self.state.waiting.discard(source)
            self.state.pending[source] = -float("inf")  # never begun: staged now, i.e. rejected
        ready = [s for s, changed in self.state.pending.items() if self.wall() - changed >= settle]
        for source in [s for s in ready if self._may_begin(s) and not_begun(source_path(self.config.raw_root, s))]:
            ready.remove(source)  # its rows will come (and change it), or a one-shot `labtui stage` rejects it
            self.state.pending.pop(source)
            self.state.waiting.add(source)
        if ready and (event := self._stage(ready)) is not None:
            events.append(event)
        return self._emit(events)

    def _may_begin(self, source: str) -> bool:
        """Small and written within `QUEUED_SECONDS` (known from its stat, so a first scan opens no old file)."""
        size, mtime_ns = self.state.files.get(source, (0, 0))
        return size <= HEADER_LIMIT and self.wall() - mtime_ns / 1e9 < QUEUED_SECONDS

    def _stage(self, ready: list[str]) -> WatchEvent | None:
        """Stage the settled files; None when the manifest already had them all (e.g. the first scan)."""
        stager = Stager(
            self.config,
            only=[source_path(self.config.raw_root, source) for source in ready],
            force=False,  # the first full scan lists every file: the manifest decides what really changed
            hash_named=False,  # ... by their stat, as a plain stage does
            settle_seconds=0,
            recording_seconds=0,  # settled by the watcher's clock: a cut row unchanged for its settle time is final
            on_event=self.on_stage_event,
            cancel=self.cancel,
        )
        try:
            report = stager.run()
        except LockBusy as exc:  # a watcher that does not wait for the lock (the app's) meets it at every poll
            said, self._locked_out = self._locked_out, True
            return None if said else WatchEvent(WatchEventKind.WAITING, f"{exc}; will retry")
        except (OSError, LabtuiError) as exc:  # a full disk, a share gone between the poll's look and the stage's:
            failed, self._failed = self._failed, f"staging failed: {exc}; will retry"  # retried, never fatal; said
            return None if failed == self._failed else WatchEvent(WatchEventKind.ERROR, self._failed)  # once (every
            # poll printed it: 86,000 lines a day in a service's log)
        self._locked_out, self._failed = False, None
        busy, now = set(report.busy_files), self.wall()
        # re-stat'ed for an hour after its last write: what this stage read anew; not the unchanged files a first
        # scan lists (10k of them, stat'ed every second, were 5 % of a core), nor those of its files last written
        # over an hour ago (a backlog the watcher staged itself: 552 old runs, 1 % of a core for an hour). A file
        # seen to change was written now, whatever its mtime says (a share's clock behind this one's)
        read = {*report.staged_files, *(reject.source_file for reject in report.new_rejects)}
        for source in ready:
            if source in busy:
                self.state.pending[source] = now
            else:
                self.state.pending.pop(source, None)
                written = self.state.files.get(source, (0, 0))[1] / 1e9 if source in self.state.listed else now
                if source in read and now - written < RESTAT_SECONDS:
                    self.state.staged[source] = written
        if not (report.staged or report.new_rejects or report.busy):
            return None
        staged, run_ids = tuple(report.staged_files), tuple(report.staged_run_ids)
        return WatchEvent(WatchEventKind.STAGED, report.line(), report, staged, run_ids)

    def growing(self) -> list[str]:
        """Files that changed within the settle time: the runs being measured right now."""
        now = self.wall()
        return sorted(
            s for s, changed in self.state.pending.items() if now - changed < self.config.watch_settle_seconds
        )

    def run(self, cancel: threading.Event) -> None:
        """Poll until `cancel` is set; errors are reported as events and retried, never fatal."""
        self.cancel = cancel
        while not cancel.is_set():
            self.poll()
            cancel.wait(self.config.watch_poll_seconds)

    def _emit(self, events: list[WatchEvent]) -> list[WatchEvent]:
        for event in events:
            self.on_event(event)
        return events


_PYMEASURE_HEADER = re.compile(rb"(?i)\A(?:\xef\xbb\xbf)?#[ \t]*procedure:")
_DATA_LINE = re.compile(DATA_TAG + rb"\n")


def not_begun(path: Path) -> bool:
    """An acquisition header with no data row yet: a run PyMeasure queued (it writes the file when queued and
    inserts the start time when the run begins), one in its burn-in, or a header still being written."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(HEADER_LIMIT + 1)
    except OSError:
        return False
    if len(head) > HEADER_LIMIT or not _PYMEASURE_HEADER.match(head):
        return False
    tag = _DATA_LINE.search(head)
    if tag is None:
        return True
    row_end = head.find(b"\n", tag.end())
    return row_end < 0 or VISIBLE.search(head, row_end + 1) is None


def _parent(source_file: str) -> str:
    head, _, _ = source_file.rpartition("/")
    return head
