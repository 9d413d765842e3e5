"""Values read from the store's files, kept until a file is replaced: readers may ask on every refresh for free.

Every writer replaces the store's files whole (`os.replace`), and a rename changes its folder: inode, size and mtime
change with every write, by this process or another, so a value keyed on them is never stale.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from pathlib import Path
from typing import Generic, TypeVar

T = TypeVar("T")
Identity = tuple[int, int, int] | None  # None: the file is not there (or cannot be looked at)


def identity(path: Path) -> Identity:
    """What changes whenever `path` is replaced, renamed into or out of (a folder), or written."""
    try:
        info = path.stat()
    except OSError:
        return None
    return info.st_ino, info.st_size, info.st_mtime_ns


class Cached(Generic[T]):
    """One value and the key (file identities) it was computed at; thread-safe, computed at most once per key."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entry: tuple[Hashable, T] | None = None

    def get(self, key: Hashable, compute: Callable[[], T]) -> T:
        with self._lock:
            if self._entry is None or self._entry[0] != key:
                self._entry = key, compute()
            return self._entry[1]
