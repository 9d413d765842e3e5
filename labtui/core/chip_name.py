"""A chip as people name it: its number (`67`), or its name as the history shows it (`Alisson67`; any letter case,
a `-`, `_` or space before the number). Light (no Polars): the command line parses its arguments with it."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping

from labtui.core.errors import UsageError
from labtui.core.integers import INT64_MAX, int_of_digits

_CHIP = re.compile(r"\s*+(?:([A-Za-z][\w-]*?)[\s_-]?)?(\d+)\s*+")  # a separator only after a group


def parse_chip(text: str) -> tuple[str | None, int] | None:
    """(the group the name gives or None, the number); None when `text` names no chip (nor a number a chip can
    have: past 64 bits)."""
    match = _CHIP.fullmatch(text)
    if match is None or (number := int_of_digits(match.group(2))) > INT64_MAX:
        return None
    return match.group(1), number


def group_spelling(text: str) -> str:
    """A chip group as one spelling of what it shows: NFKC (a decomposed `ñ`, a no-break space, a full-width letter
    are the letters a person reads) without format characters (a zero-width space, a BOM, a bidi override, all
    invisible). Otherwise a group typed twice would file a chip's runs under two chips that look the same."""
    if text.isascii():
        return text.strip()
    plain = unicodedata.normalize("NFKC", text)
    return "".join(c for c in plain if unicodedata.category(c) != "Cf").strip()


# letters of other scripts a group may be typed with that read as Latin ones (after casefold), as Unicode's
# confusables (UTS #39) list them: a Cyrillic `А` on a keyboard set to Russian, a Greek `Ο`
_LOOK_ALIKE = str.maketrans({
    **dict(zip("авеёкмнорстухѕіїјԁһӏԛԝ", "abeekmhopctyxsiijdhlqw", strict=True)),  # Cyrillic
    **dict(zip("αβεζηικμνορτυχ", "abezhikmnoptyx", strict=True)),  # Greek
})


def look_alike(group: str) -> str:
    """What a group looks like, to say that two spellings may be one group: `group_spelling` in any case, its
    letters and digits alone without their accents (`"Alisson"`, `Alisson.`, `Alisson_` and `Alissón`, typed on a
    Spanish keyboard, are `alisson`: NFKD leaves an accent a combining mark, which is no letter), a Cyrillic or
    Greek letter that reads as a Latin one read as it (`Аlisson` with a Cyrillic `А`, which no one can type for
    `--group`)."""
    letters = unicodedata.normalize("NFKD", group_spelling(group).casefold())
    return "".join(char for char in letters if char.isalnum()).translate(_LOOK_ALIKE)


TYPO_MIN_LETTERS = 5  # groups this long or longer, of letters alone, one letter apart are one group typed twice?
# (shorter ones, or with digits — `Run2`, `Run3` — are too often two groups)


def one_letter_apart(a: str, b: str) -> bool:
    """Whether two look-alike groups (`look_alike`) differ by one letter typed wrong, left out, added or swapped
    with the next (`alison`, `alisosn` for `alisson`): a typo, where two groups of a lab sharing chip numbers differ
    by more. Only groups of `TYPO_MIN_LETTERS` letters or more, digits none, and not the last letter alone other
    (`BatchA`, `BatchB`: a series)."""
    if a == b or not (a.isalpha() and b.isalpha()) or min(len(a), len(b)) < TYPO_MIN_LETTERS \
            or abs(len(a) - len(b)) > 1:
        return False
    start = next((i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), min(len(a), len(b)))
    if len(a) != len(b):  # one letter left out or added
        longer, shorter = (a, b) if len(a) > len(b) else (b, a)
        return longer[start + 1:] == shorter[start:]
    swapped = a[start:start + 2] == b[start:start + 2][::-1] and a[start + 2:] == b[start + 2:]
    # the last letter alone other (`batcha`, `batchb`) names a series: two groups
    return (a[start + 1:] == b[start + 1:] and start < len(a) - 1) or swapped


def typo_of(group: str, number: int, numbers: Mapping[str, set[int]]) -> str | None:
    """The group (look-alike key) that `group` (one) may be a typo of, for a chip of `number`: `group` names no other
    chip, and a group one letter from it names this one and others (`alison` 80 beside `alisson`'s chips 67, 80…).
    Two groups of a lab whose names are one letter apart (`daniel`, `daniela`) each name several chips; a typo, one."""
    if numbers.get(group) != {number}:
        return None
    return next((other for other, theirs in numbers.items() if number in theirs and len(theirs) > 1
                 and one_letter_apart(group, other)), None)


def foreign_letters(text: str) -> list[str]:
    """The letters of `text` that only look Latin (`_LOOK_ALIKE`), named: `'А' is CYRILLIC CAPITAL LETTER A`."""
    odd = dict.fromkeys(char for char in text if not char.isascii() and ord(char.casefold()[0]) in _LOOK_ALIKE)
    return [f"{char!r} is {unicodedata.name(char, 'a letter of no name')}" for char in odd]


def merge_groups(named: str | None, given: str | None, chip: str) -> str | None:
    """The group of a chip named `chip` (giving `named`) and a group given apart from it: they must agree."""
    if named is not None and given is not None and group_spelling(named).casefold() != group_spelling(given).casefold():
        group = given if given.strip() else '"" (no group)'  # an empty --group read as a double space
        raise UsageError(f"chip {chip} and group {group} name different groups")
    return given if given is not None else named
