"""The safe read of one raw file: read-only, no links followed, and "busy" when it changes while it is read."""

from __future__ import annotations

import functools
import os
import stat
from dataclasses import dataclass

from labtui.core.atomic import LIBC
from labtui.core.scan import Candidate

_M_MMAP_THRESHOLD = -3  # glibc's mallopt(3) parameter
LARGE_BUFFER = 1 << 20  # bytes: a raw file's bytes and its data block are often larger
MAX_RAW_BYTES = 1 << 30  # a file is read whole: the longest real run is ~5 MB, a day of It samples ~60 MB


@functools.cache
def release_large_buffers() -> bool:
    """Serve every block of `LARGE_BUFFER` or more by its own mmap, handed back to the system when freed.

    glibc raises its mmap threshold to the largest block freed so far: after the first multi-megabyte file, every
    later one is carved from a worker thread's arena, which keeps the memory. Peak memory then grew with the number
    of files staged (193 MiB at 10× the real corpus, 184 MiB with the threshold fixed, at no measurable cost). Does
    nothing where the allocator is not glibc's, or when the user set `MALLOC_MMAP_THRESHOLD_` themselves.
    """
    mallopt = getattr(LIBC, "mallopt", None)
    if mallopt is None or "MALLOC_MMAP_THRESHOLD_" in os.environ:
        return False
    return bool(mallopt(_M_MMAP_THRESHOLD, LARGE_BUFFER) == 1)


@dataclass
class Busy:
    """A file still being written: deferred to the next stage, never half-read."""

    reason: str


def read_raw(cand: Candidate) -> tuple[bytes, os.stat_result] | Busy:
    """The file's bytes, read-only and without following links; busy if it changes while we look."""
    from labtui.core.rejects import Reject

    if cand.is_symlink:
        raise Reject(
            "symlink", "the file is a symbolic link; labtui does not follow links: stage the target itself"
        )
    try:
        # O_NONBLOCK: a FIFO swapped in since the scan must not block the open (it is then not a regular file)
        fd = os.open(cand.path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
        try:
            before = os.fstat(fd)
            if not stat.S_ISREG(before.st_mode):
                raise Reject("not_a_file", "not a regular file")
            if before.st_size > MAX_RAW_BYTES:  # a video or a disk image named .csv must not fill the memory
                raise Reject("too_large", f"the file holds {before.st_size / 2**30:.1f} GiB, more than any run "
                                          f"(labtui reads a raw file whole, up to {MAX_RAW_BYTES >> 30} GiB)")
            with os.fdopen(os.dup(fd), "rb") as handle:
                data = handle.read()
            after = os.fstat(fd)
        finally:
            os.close(fd)
    except FileNotFoundError:  # renamed or deleted since the scan: not a broken file, and no reject for a name gone
        return Busy("the file was moved or deleted while it was staged")
    except OSError as exc:
        raise Reject("unreadable", f"the file cannot be read: {exc.strerror or exc}") from None
    seen = {(cand.size, cand.mtime_ns), (before.st_size, before.st_mtime_ns), (after.st_size, after.st_mtime_ns)}
    if len(seen) > 1 or len(data) != after.st_size:
        return Busy("the file changed while it was read (still being written)")
    return data, after

