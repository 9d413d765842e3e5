"""One writer at a time: an OS file lock (`flock`) that the kernel releases when the holder dies.

A crashed stager therefore never leaves a stale lock. The lock file also records who holds it, so a second
stager can say whom it waits for.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
import os
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from labtui.core.errors import ExitCode, LabtuiError
from labtui.core.json_text import parse_json


def host_name() -> str:
    """This computer's name, as gethostname(2) gives it (`os.uname`: `socket` costs a command's start-up 3 ms)."""
    return os.uname().nodename


@dataclass(frozen=True)
class Holder:
    pid: int
    host: str
    command: str
    since: str  # ISO UTC

    def describe(self, zone: dt.tzinfo | None = None) -> str:
        """`labtui stage (pid 12 on lab-pc, since …)`: the time as stored (UTC), or in `zone` (the lab's) when given."""
        since = self.since
        if zone is not None:
            with contextlib.suppress(ValueError):
                since = dt.datetime.fromisoformat(self.since).astimezone(zone).strftime("%Y-%m-%d %H:%M:%S")
        return f"{self.command} (pid {self.pid} on {self.host}, since {since})"

    def is_this_process(self) -> bool:
        """This process holds the lock (the app staging or watching itself): no other labtui is at work."""
        return self.pid == os.getpid() and self.host == host_name()


def holder_text(holder: Holder | None, zone: dt.tzinfo | None = None) -> str:
    """Who holds the lock, in the words every message about it uses."""
    return holder.describe(zone) if holder else "another labtui process"


def waiting_text(holder: Holder | None, zone: dt.tzinfo | None = None) -> str:
    """The line shown while a writer waits for the lock."""
    return f"waiting for the store lock held by {holder_text(holder, zone)}…"


class LockBusy(LabtuiError):
    """Another writer holds the store; `holder` says who, when it could be read."""

    exit_code = ExitCode.LOCKED

    def __init__(self, path: Path, holder: Holder | None, waited: float) -> None:
        who = holder_text(holder)
        super().__init__(f"the store is being written by {who}; gave up after {waited:.0f} s (lock {path})")
        self.holder = holder


def read_holder(path: Path) -> Holder | None:
    """Who holds the lock now (None when it is free or unreadable); lock-free, for status displays."""
    return lock_state(path)[1]


def lock_state(path: Path) -> tuple[bool, Holder | None]:
    """Whether the lock is held now, and by whom (None when its note cannot be read: being written, or a process
    that is no labtui holds it): a display that took an unreadable note for a free lock said "the other writer is
    done" while it held on. Lock-free."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return False, None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            try:
                return True, Holder(**parse_json(os.pread(fd, 4096, 0) or b"null"))
            except (ValueError, TypeError):
                return True, None
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False, None
    finally:
        os.close(fd)


class WriterLock:
    """Exclusive writer lock; waits up to `timeout` seconds (0 = fail at once), honouring a cancel event."""

    def __init__(self, path: Path, command: str | None = None) -> None:
        self.path = path
        self.command = command or " ".join([Path(sys.argv[0]).name, *sys.argv[1:]])[:200]
        self._fd: int | None = None

    def acquire(
        self,
        timeout: float,
        cancel: threading.Event | None = None,
        on_wait: Callable[[Holder | None], None] | None = None,
    ) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            self._lock(fd, timeout, cancel, on_wait)
            holder = Holder(
                pid=os.getpid(),
                host=host_name(),
                command=self.command,
                since=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            )
            os.ftruncate(fd, 0)
            os.pwrite(fd, json.dumps(holder.__dict__).encode(), 0)
        except BaseException:  # closing unlocks: a full disk failed the holder's record after the lock was taken,
            os.close(fd)  # and the app held the store's lock until it quit (every stage "busy", its own too)
            raise
        self._fd = fd

    def _lock(self, fd: int, timeout: float, cancel: threading.Event | None,
              on_wait: Callable[[Holder | None], None] | None) -> None:
        """Take the lock on `fd`, waiting up to `timeout` seconds; `LockBusy` when another holds it longer."""
        started = time.monotonic()
        told = False
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return
            except BlockingIOError:
                waited = time.monotonic() - started
                if waited >= timeout or (cancel is not None and cancel.is_set()):
                    raise LockBusy(self.path, read_holder(self.path), waited) from None
                if on_wait is not None and not told:
                    on_wait(read_holder(self.path))
                    told = True
                time.sleep(min(0.1, max(timeout - waited, 0.01)))

    def release(self) -> None:
        if self._fd is not None:
            os.ftruncate(self._fd, 0)
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> WriterLock:
        """`with WriterLock(path):` holds the lock (fails at once when busy); `with lock:` after `acquire` keeps it."""
        if self._fd is None:
            self.acquire(0)
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
