"""The values options take (`type=` of an argparse option): each refuses what would be read wrongly, said against
the option as argparse says its own errors. Light: `--help` builds every parser with them."""

from __future__ import annotations

import argparse
import os

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pathlib import Path


def path_arg(text: str) -> Path:
    """The `type` of a path option: pathlib is imported when a path is given, not by every `--help`. An empty one
    is refused: `Path("")` is the current folder, where `--out ''` wrote 15 histories."""
    from pathlib import Path

    if not text.strip():
        raise argparse.ArgumentTypeError("an empty path (give a folder or file; . is the current folder)")
    if too_long := next((part for part in Path(text).parts if len(os.fsencode(part)) > NAME_MAX), None):
        raise argparse.ArgumentTypeError(f"{too_long[:40]}…: a name of {len(os.fsencode(too_long))} bytes, past the "
                                         f"{NAME_MAX} a file or folder name holds")
    return Path(text)


NAME_MAX = 255  # bytes of one file or folder name (every file system labs use): longer, "operating-system error"


def file_arg(text: str) -> Path:
    """The `type` of an --out that names a file to write: not empty, not a folder (`.`, `/`, `out/`)."""
    if not text.strip() or text.endswith(("/", os.sep)) or (path := path_arg(text)).name in ("", "..") or path.is_dir():
        raise argparse.ArgumentTypeError(f"{text!r} is not a file name (give the file to write, e.g. runs.csv)")
    return path


def count_arg(text: str) -> int:
    """The `type` of an option that counts (workers): a whole number ≥ 1, said against the option, not the config."""
    if not (text.strip().isascii() and text.strip().isdigit()) or int(text) < 1:
        raise argparse.ArgumentTypeError(f"a whole number ≥ 1, not {text!r}")
    return int(text)


def finite_arg(text: str) -> float:
    """The `type` of a value an option filters on (a wavelength, a gate voltage): a finite number (`nan` matched
    nothing, silently)."""
    import math

    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"a finite number, not {text!r}")
    return value


def seconds_arg(text: str) -> float:
    """The `type` of a duration option: finite seconds ≥ 0."""
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 <= value < float("inf"):
        raise argparse.ArgumentTypeError(f"seconds ≥ 0, not {text!r}")
    return value
