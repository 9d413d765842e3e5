"""Counts said as a person says them (`1 run`, `3 runs`, not `1 run(s)`), and text as a terminal shows it."""

from __future__ import annotations

import os
from collections.abc import Callable


def counted(count: int, noun: str, plural: str | None = None) -> str:
    """`count` and the noun in the number that count takes (`plural` where adding an s is wrong)."""
    return f"{count} {noun if count == 1 else plural or noun + 's'}"


def os_text(text: str) -> str:
    """Text the OS handed over (an argument, a login name) as the UTF-8 it is: under a C locale with UTF-8 mode off,
    Python gives its bytes as surrogate escapes, which no JSON, Parquet or Polars string takes (a traceback). Bytes
    that are not UTF-8 become �."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return os.fsencode(text).decode("utf-8", "replace")
    return text


CONTROL_CODES = (*range(0x20), *range(0x7F, 0xA0))  # Unicode's Cc: C0, DEL and C1
# Invisible format characters that hide or reorder a line's text: zero-width ones, bidi marks, overrides and isolates,
# a BOM (a right-to-left override in a file name showed `Pro‮be72` as `Proeb27`)
FORMAT_CODES = (0x061C, *range(0x200B, 0x2010), *range(0x202A, 0x202F), *range(0x2060, 0x2070), 0xFEFF)
# ... as Python writes them in a string: `\n`, `\r`, `\t`, `\x1b`, `\u202e`
_ESCAPED = {code: repr(chr(code))[1:-1] for code in (*CONTROL_CODES, *FORMAT_CODES)}
_ESCAPED_BUT_NEWLINES = {code: text for code, text in _ESCAPED.items() if code != ord("\n")}


def shown(text: str, *, lines: bool = False) -> str:
    """`text` as a terminal line shows it: a control character (a newline, an escape sequence in a file name, a CR
    in a chip name staged before labtui refused them) or an invisible format character escaped, or the terminal would
    act on it and break or reorder the line.
    With `lines`, the newlines of a text of several lines stay."""
    if text.isprintable():
        return text
    return text.translate(_ESCAPED_BUT_NEWLINES if lines else _ESCAPED)


def cut(text: str, limit: int = 40, show: Callable[[str], str] = str) -> str:
    """A value from a file as a line names it (`show`n: as it is, or `repr`), a hostile header's 5000-character value
    cut to `limit` characters, its length said."""
    return show(text) if len(text) <= limit else f"{show(text[:limit])}… ({len(text):,} characters)"


def quoted(text: str, limit: int = 60) -> str:
    """A value from a file as a message quotes it: `repr`, cut to `limit` characters with its length said (a hostile
    header's 1 MB value would otherwise fill the reject record, the terminal and the rejects screen)."""
    return cut(text, limit, repr)


def told_apart(first: float, second: float) -> tuple[str, str]:
    """Two numbers written with the fewest digits (6 at least, as `:g`) that tell them apart: a time going back by
    1 µs read "from 58.9882 to 58.9882"."""
    for digits in (6, 9, 12, 17):
        if (one := f"{first:.{digits}g}") != (other := f"{second:.{digits}g}"):
            return one, other
    return f"{first:g}", f"{second:g}"
