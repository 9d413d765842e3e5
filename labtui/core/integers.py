"""Integers as a file or a command line writes them, and the range the manifest's integer columns hold. Light: the
command line parses its arguments with them."""

from __future__ import annotations

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1  # what the manifest's integer columns hold


def int_of_digits(digits: str) -> int:
    """A run of ASCII digits with an optional sign, as an int: exactly within 64 bits, and one wider as the integer
    just past the 64-bit range on its side (Python refuses to convert over 4300 digits: a `Chip number` that long
    was a traceback that stopped every stage). Nothing wider is stored."""
    sign = "-" if digits.startswith("-") else ""
    significant = digits.lstrip("+-").lstrip("0")
    if len(significant) > len(str(INT64_MAX)):
        return INT64_MIN - 1 if sign else INT64_MAX + 1
    return int(sign + (significant or "0"))
