"""A chip as people name it: its number (`67`), or its name as the history shows it (`Alisson67`; any letter case,
a `-`, `_` or space before the number). Light (no Polars): the command line parses its arguments with it."""

from __future__ import annotations

import re

from labtui.core.errors import UsageError

_CHIP = re.compile(r"\s*+(?:([A-Za-z][\w-]*?)[\s_-]?)?(\d+)\s*+")  # a separator only after a group


def parse_chip(text: str) -> tuple[str | None, int] | None:
    """(the group the name gives or None, the number); None when `text` names no chip."""
    match = _CHIP.fullmatch(text)
    return None if match is None else (match.group(1), int(match.group(2)))


def merge_groups(named: str | None, given: str | None, chip: str) -> str | None:
    """The group of a chip named `chip` (giving `named`) and a group given apart from it: they must agree."""
    if named is not None and given is not None and named.casefold() != given.casefold():
        raise UsageError(f"chip {chip} and group {given} name different groups")
    return given if given is not None else named
