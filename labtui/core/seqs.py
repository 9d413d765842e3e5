"""Runs chosen by their seq in a chip's history (`4-7`, `1,8,13`, `1-3,9`), as `plot` and `annotate` take them."""

from __future__ import annotations

from labtui.core.errors import UsageError
from labtui.core.integers import int_of_digits
from labtui.core.wording import cut, quoted

MAX_SEQ = 1_000_000  # beyond any chip's history: a typo (4-7000000 for 4-7) is refused before it is spelt out
SHOWN_SEQS = 10  # of the seqs a history lacks, the first ones named


def parse_seqs(text: str) -> list[int]:
    """The seqs in the order given, repeats dropped; anything else is a usage error that says what a seq list is."""
    seqs: dict[int, None] = {}
    for part in text.split(","):
        first, dash, last = (piece.strip() for piece in part.partition("-"))
        if not all(piece.isascii() and piece.isdigit() for piece in ((first, last) if dash else (first,))):
            raise UsageError(f"not a seq list: {quoted(text, 40)} (e.g. 4-7 or 1,8,13)")
        low, high = int_of_digits(first), int_of_digits(last or first)
        if low < 1 or high < low:
            raise UsageError(f"not a seq list: {quoted(text, 40)} (seqs are 1, 2, … and ranges go up, e.g. 4-7)")
        if high > MAX_SEQ:
            raise UsageError(f"not a seq list: {quoted(text, 40)} (seq {cut(last or first, 20)} is beyond any "
                             "history)")
        seqs.update(dict.fromkeys(range(low, high + 1)))
    return list(seqs)


def missing_seqs(wanted: list[int] | tuple[int, ...], last: int) -> str | None:
    """The seqs beyond a history of `last` runs, the first few named (`9, 12`, `61, 62, … (939 in all)`); None
    when it has them all."""
    missing = sorted(seq for seq in set(wanted) if seq > last)
    if not missing:
        return None
    shown = ", ".join(map(str, missing[:SHOWN_SEQS]))
    return shown if len(missing) <= SHOWN_SEQS else f"{shown}, … ({len(missing)} in all)"
