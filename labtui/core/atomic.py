"""Atomic, durable file replacement: temp file in the same folder (hidden), fsync, `os.replace`, fsync the folder.

Readers never see a half-written file: they see the old file or the new one.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import BinaryIO

from labtui.core import faults

TEMP_SUFFIX = ".tmp"


def temp_path_for(path: Path) -> Path:
    """Hidden, unique, same folder (so `os.replace` is atomic), recognisable for crash clean-up."""
    return path.with_name(f".{path.name}.{uuid.uuid4().hex[:12]}{TEMP_SUFFIX}")


def is_temp(name: str) -> bool:
    return name.startswith(".") and name.endswith(TEMP_SUFFIX)


def atomic_write(path: Path, write: Callable[[BinaryIO], object], *, durable: bool = True, sync_dir: bool = True) -> None:
    """Write through `write(handle)` into a temp file, then replace `path`; the temp file never survives a failure."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = temp_path_for(path)
    try:
        with open(temp, "wb") as handle:
            write(handle)
            handle.flush()
            if durable:
                os.fsync(handle.fileno())
        faults.point("before_replace")
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    if durable and sync_dir:
        fsync_dir(path.parent)


def atomic_write_bytes(path: Path, data: bytes, *, durable: bool = True) -> None:
    atomic_write(path, lambda handle: handle.write(data), durable=durable)


def fsync_dir(folder: Path) -> None:
    """Make a folder's entries (a new or replaced file, a new sub-folder) survive a power cut."""
    fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_dirs(folders: Iterable[Path]) -> None:
    for folder in sorted(set(folders), key=lambda p: len(p.parts), reverse=True):
        fsync_dir(folder)
