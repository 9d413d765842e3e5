"""Atomic, durable file replacement: temp file in the same folder (hidden), fsync, `os.replace`, fsync the folder.

Readers never see a half-written file: they see the old file or the new one. Many files at once (a staging
batch) are made durable with one `syncfs` per step instead of two fsyncs per file (`publish`).
"""

from __future__ import annotations

import contextlib
import ctypes
import glob
import io
import os
import stat
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from labtui.core import faults
from labtui.core.errors import OperationFailed

if TYPE_CHECKING:
    import polars as pl

TEMP_SUFFIX = ".tmp"


def temp_path_for(path: Path) -> Path:
    """Hidden, unique, same folder (so `os.replace` is atomic), recognisable for crash clean-up."""
    return path.with_name(_temp_name(path.name))


def _temp_name(name: str) -> str:
    """48 random bits: unique among a store's temp files (a `uuid4()` object costs several times more per file)."""
    return f".{temp_stem(name)}.{os.urandom(6).hex()}{TEMP_SUFFIX}"


_NAME_MAX = 255  # bytes of a file name (ext4, XFS, APFS, NTFS's 255 UTF-16 units are as many or more)


def temp_stem(name: str) -> str:
    """`name` as its temp files start with (after the dot): cut to leave room for the dot, the 12 hex digits and
    the suffix, so that a file whose name is allowed can be written (a `--out` name of 250 bytes "was too long")."""
    room = _NAME_MAX - len(f"..{'0' * 12}{TEMP_SUFFIX}")
    encoded = os.fsencode(name)  # a name of bytes that are no UTF-8 (`caf\xe9`) too: its surrogates encode back
    if len(encoded) <= room:
        return name
    try:
        name.encode("utf-8")  # text, no byte that is no UTF-8 in it
    except UnicodeEncodeError:
        return os.fsdecode(encoded[:room])  # such a name's bytes, cut as bytes
    return encoded[:room].decode("utf-8", errors="ignore")  # whole characters: APFS and SMB refuse a name that is
    # no UTF-8


def is_temp(name: str) -> bool:
    return name.startswith(".") and name.endswith(TEMP_SUFFIX)


def atomic_write(
    path: Path, write: Callable[[BinaryIO], object], *, durable: bool = True, sync_dir: bool = True
) -> None:
    """`atomic_write_bytes` of what `write(handle)` writes. It fills memory first: Polars writing to the file itself
    turned a full disk into its own error ("os error 28", or "Invalid thrift: transport error"), a traceback; Python's
    write raises the OSError."""
    buffer = io.BytesIO()
    write(buffer)
    atomic_write_bytes(path, buffer.getbuffer(), durable=durable, sync_dir=sync_dir)


def atomic_write_bytes(path: Path, data: bytes | memoryview, *, durable: bool = True, sync_dir: bool = True) -> None:
    """Write `data` into a temp file, then replace `path`; the temp file never survives a failure."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = temp_path_for(path)
    try:
        with open(temp, "wb") as handle:
            handle.write(data)
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


STALE_TEMP_S = 60  # a temp file is written in seconds at most: one this old is a killed writer's, not a live one's


def stale_temps(path: Path) -> list[Path]:
    """The temp files of `path` (`temp_path_for`) a writer killed before its rename left beside it (`left_behind`: a
    second export into the same folder swept the first's as it wrote them, which then failed)."""
    return left_behind(path.parent.glob(f".{glob.escape(temp_stem(path.name))}.*{TEMP_SUFFIX}"))


def left_behind(temps: Iterable[Path]) -> list[Path]:
    """Of `temps`, those older than STALE_TEMP_S: a killed writer's, not a live one's (no lock guards every writer)."""
    stale = time.time() - STALE_TEMP_S
    found = []
    for temp in temps:
        with contextlib.suppress(OSError):  # renamed meanwhile by its writer
            if temp.stat().st_mtime < stale:
                found.append(temp)
    return found


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


def write_temps(paths: list[Path], write: Callable[[list[Path]], object], temp_dir: Path | None = None) -> list[Path]:
    """First half of a batched atomic write: the hidden temp files of `paths`, which one call writes (a Polars query
    that writes them all), not yet durable nor visible, and their targets' folders; if it fails, none of them
    survive (a full disk had left a stage's run folders behind, empty).

    `write` gets the temp paths, not handles: Polars writes a path natively, a Python handle costs a copy per page.
    `temp_dir` (same filesystem) keeps the temp files out of the targets' folders: a Parquet dataset's folders must
    hold nothing but Parquet files, or a directory scan (`pl.scan_parquet(folder)`) fails on the stranger. The caller
    makes `temp_dir` once.
    """
    made: list[Path] = []  # the folders made here
    for folder in {path.parent for path in paths}:
        missing = folder
        while not missing.exists():  # a stat or two: the store's folders are there, a new run's own is not
            made.append(missing)
            missing = missing.parent
        folder.mkdir(parents=True, exist_ok=True)
    temps = [(temp_dir or path.parent) / _temp_name(path.name) for path in paths]
    try:
        write(temps)
    except BaseException:
        for temp in temps:
            temp.unlink(missing_ok=True)
        remove_empty(made)
        raise
    return temps


def remove_empty(folders: Iterable[Path]) -> None:
    """Remove those of `folders` that are empty, the deepest first (one holding anything stays)."""
    for folder in sorted(folders, key=lambda folder: -len(folder.parts)):
        with contextlib.suppress(OSError):
            folder.rmdir()


def replace_all(targets: list[Path], write: Callable[[list[Path]], object], anchor: Path) -> None:
    """`targets` written through `write` (given their temp paths, `write_temps`) and renamed into place (`publish`),
    all of them or none: the temp files not renamed (a write or a rename failed, a Ctrl+C) are removed. Raises what
    the write or the rename raised."""
    temps: list[Path] = []
    try:
        temps = write_temps(targets, write)
        publish(list(zip(temps, targets, strict=True)), anchor)
    finally:
        for temp in temps:  # those not renamed into place
            temp.unlink(missing_ok=True)


def check_replaceable(paths: Iterable[Path]) -> None:
    """Raise the OSError (naming the file) of the first existing file that cannot be opened for writing: a file
    locked by another program (a spreadsheet open on a share), immutable, or read-only to this user. Called before a
    set of files is written, so that a refused one leaves every file as it was, not the set half replaced. Opened
    to append and closed: nothing is written, its times stay."""
    for path in paths:
        try:
            os.close(os.open(path, os.O_WRONLY | os.O_APPEND))  # no O_CREAT: a missing file stays missing
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            continue  # nothing to replace; a folder in the way, or a file as its folder, the caller says in its words


def publish(pairs: list[tuple[Path, Path]], anchor: Path) -> None:
    """Second half: make every temp durable, replace each target, make the replacements durable.

    `anchor` is a folder on the same filesystem; with `syncfs` the cost is two calls, whatever the batch size.
    """
    if not pairs:
        return
    if not sync_filesystem(anchor):
        for temp, _ in pairs:
            _fsync_path(temp)
    for temp, target in pairs:
        try:
            if not target.parent.is_dir():  # usually made by the worker; a stat is cheaper than mkdir's error
                target.parent.mkdir(parents=True, exist_ok=True)
            faults.point("before_replace")
            os.replace(temp, target)
        except OSError as error:  # the run's folder said, not the temp file's name in the staging area
            raise OperationFailed("replace", target, error) from error
    if not sync_filesystem(anchor):
        folders = {target.parent for _, target in pairs}
        fsync_dirs(folders | {folder.parent for folder in folders} | {folder.parent.parent for folder in folders})


def _fsync_path(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


LIBC = ctypes.CDLL(None, use_errno=True) if sys.platform.startswith("linux") else None  # syncfs, mallopt


def sync_filesystem(folder: Path) -> bool:
    """`syncfs(2)` on Linux: flush every pending write of the filesystem holding `folder`; False where unavailable."""
    if LIBC is None or not hasattr(LIBC, "syncfs"):
        return False
    fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        return bool(LIBC.syncfs(fd) == 0)
    finally:
        os.close(fd)


def read_record(path: Path) -> bytes:
    """A small record the store keeps (an annotation's action, a reject record), read without blocking: a FIFO
    named `*.json` dropped into its folder hung every command that read them. `ValueError` for no regular file."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise ValueError(f"{path} is not a regular file")
        with os.fdopen(os.dup(fd), "rb") as handle:
            return handle.read()
    finally:
        os.close(fd)


def read_parquet_pinned(path: Path, columns: list[str] | None = None) -> pl.DataFrame:
    """Read a Parquet file that a writer may replace at any moment, lock-free.

    Polars and pyarrow open a *path* more than once per read; an `os.replace` in between hands them the footer of
    one file and the pages of the other (a torn read, sometimes a Rust panic). One open handle pins one version.
    """
    import polars as pl  # here: the writers' helpers above serve commands that never load Polars

    with open(path, "rb") as handle:
        return pl.read_parquet(handle, columns=columns)


def read_parquets_pinned(paths: list[Path], columns: list[list[str]]) -> list[pl.DataFrame]:
    """`read_parquet_pinned` of many files (each its own `columns`) in one Polars query, which reads them in
    parallel and crosses into Polars once; raises what reading any one of them raises."""
    import polars as pl

    with contextlib.ExitStack() as stack:
        handles = [stack.enter_context(open(path, "rb")) for path in paths]
        return pl.collect_all([pl.scan_parquet(handle).select(names) for handle, names in zip(handles, columns,
                                                                                               strict=True)])
