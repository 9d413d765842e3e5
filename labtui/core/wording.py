"""Counts said as a person says them: `1 run`, `3 runs`, `1 match` — not `1 run(s)`."""

from __future__ import annotations


def counted(count: int, noun: str, plural: str | None = None) -> str:
    """`count` and the noun in the number that count takes (`plural` where adding an s is wrong)."""
    return f"{count} {noun if count == 1 else plural or noun + 's'}"
