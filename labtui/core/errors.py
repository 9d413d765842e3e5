"""One error type for everything a user can get wrong: a one-line message and the exit code the CLI returns.

The CLI prints `labtui: <message>` and exits with `exit_code`; the app shows the same line in a dialog. Anything
else that escapes is a bug and is reported as one (with the traceback and a line asking to report it).
"""

from __future__ import annotations

import errno
import os
import re
from enum import IntEnum

from labtui.core.wording import shown

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing, which every start would pay for
if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from typing import Any

_OS_ERROR = re.compile(r"\(os error (\d+)\)")


class ExitCode(IntEnum):
    """The documented exit codes of every command."""

    OK = 0
    ERROR = 1  # a finding, a damaged store, a failed operation
    USAGE = 2  # bad arguments, a bad config, a path that is not what it should be
    READ_ONLY = 73  # EX_CANTCREAT: the store cannot be written (read-only share, permissions)
    IO = 74  # EX_IOERR: an operating-system error (disk full, unreadable file)
    LOCKED = 75  # EX_TEMPFAIL: another writer holds the store; try again later
    BUG = 70  # EX_SOFTWARE: an unexpected error, i.e. a bug in labtui
    INTERRUPTED = 130


class LabtuiError(Exception):
    """A problem the user can act on; `str(error)` is the whole one-line message."""

    exit_code: ExitCode = ExitCode.ERROR


def error_line(error: LabtuiError) -> str:
    """A user's problem in one line, as the CLI prints it and the app shows it: a newline or an escape in a path
    it names escaped (a store folder named with a newline split the error over two lines)."""
    return shown(f"labtui: {error}")


def described(error: BaseException) -> str:
    """A user's problem in its own words; anything else (a bug) with its type too, the first clue to its cause."""
    return str(error) if isinstance(error, LabtuiError) else f"{type(error).__name__}: {error}"


def first_line(error: BaseException) -> str:
    """An error's message up to its first line break: Polars' go on with the query plan that failed."""
    return str(error).partition("\n")[0]


def first_invalid(problems: Sequence[Mapping[str, Any]]) -> str:
    """The first of a Pydantic `ValidationError.errors()` in one line, `where: what` (and how many more)."""
    first = problems[0]
    where = ".".join(str(part) for part in first["loc"])
    what = str(first["msg"]).removeprefix("Value error, ")
    more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
    return f"{where}: {what}{more}" if where else f"{what}{more}"


class UsageError(LabtuiError):
    """Arguments or paths that cannot be right (a missing chip, a file given as a folder, ...)."""

    exit_code = ExitCode.USAGE


class OperationFailed(LabtuiError):
    """An operating-system error, said as: what labtui was doing, on which path, and why. A write refused exits
    READ_ONLY (73); a read refused (`reading`: a raw folder of another user's) is an unreadable file, IO (74)."""

    exit_code = ExitCode.IO

    def __init__(self, operation: str, path: object, error: OSError, *, reading: bool = False) -> None:
        super().__init__(f"cannot {operation} {path}: {os_reason(error, path)}")
        self.operation = operation
        self.path = path
        self.error = error
        if not reading and (isinstance(error, PermissionError) or getattr(error, "errno", None) == 30):  # EROFS
            self.exit_code = ExitCode.READ_ONLY


def os_reason(error: OSError, path: object = None) -> str:
    """The OS's words for `error`; for "Not a directory" or "File exists", also the file that stands where a folder
    is needed (a store's `_rejects` made a file by hand, a `--out notes.txt/h.csv`): what to move or rename."""
    reason = error.strerror or str(error)
    if error.errno in (errno.ENOTDIR, errno.EEXIST) and (blocker := _file_in_the_way(path, error)) is not None:
        reason += f" ({blocker} is a file where a folder is needed)"
    return reason


def _file_in_the_way(path: object, error: OSError) -> str | None:
    """The file that stands where a folder must be, on the way to `path` (or the error's own path): what "Not a
    directory" or "File exists" is about when a store's folder was replaced by a file. (`os.path`: `--help` loads
    this module, and must not pay for pathlib.)"""
    for named in (error.filename, path):
        if not isinstance(named, str | os.PathLike):
            continue
        candidate = given = os.fspath(named)
        while True:
            if os.path.isdir(candidate):
                break
            # a file on the way, or (a folder made where a file is) the file named itself
            if os.path.exists(candidate) and (candidate != given or error.errno == errno.EEXIST):
                return str(candidate)
            parent = os.path.dirname(candidate)
            if parent == candidate:
                break
            candidate = parent
    return None


def os_error_in(error: Exception) -> OSError | None:
    """The operating-system error behind an exception: itself, or the `(os error N)` a Rust library (Polars) wraps
    into its own error type (a full disk while Polars writes Parquet)."""
    if isinstance(error, OSError):
        return error
    found = _OS_ERROR.search(str(error))
    return OSError(int(found.group(1)), os.strerror(int(found.group(1)))) if found else None
