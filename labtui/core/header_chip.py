"""Which chip a run belongs to: its header's `Chip group name` and `Chip number`, the file name
(`<Group><Number>_<idx>.csv`) where the header leaves them out, and what is said where the two disagree."""

from __future__ import annotations

import re
from typing import Any

from labtui.core.chip_name import group_spelling
from labtui.core.header_values import parse_integer, unset
from labtui.core.integers import INT64_MAX, int_of_digits
from labtui.core.registry import ProcedureSpec, Registry
from labtui.core.rejects import Reject
from labtui.core.wording import quoted

_FILE_CHIP = re.compile(r"^(?P<group>[A-Za-z][A-Za-z_-]*?)(?P<number>\d+)_(?P<idx>\d+)$")
# an older acquisition's one `Chip: Alisson80` (`Alisson 80`, `Alisson-80`, `80`): the group, then the number
_CHIP_PARAMETER = re.compile(r"^\s*(?:(?P<group>[A-Za-z](?:[A-Za-z_-]*[A-Za-z])?)[\s_-]*)?(?P<number>\d+)\s*$")


def chip_identity(
    spec: ProcedureSpec,
    raw: dict[str, str],
    seen_at: dict[str, int],
    fields: dict[str, Any],
    stem: str,
    registry: Registry,
    warnings: list[str],
) -> None:
    """Chip = group + number from the header; the `<Group><Number>_<idx>` file name only as a fallback. A setup
    procedure (`chip: false`, a laser calibration) belongs to no chip even when its header names one: the chip's
    history and the calibrations list must not split over it (the values stay in the run's parameters)."""
    if not spec.chip:
        fields.pop("chip_number", None)
        fields.pop("chip_group", None)
        return
    match = _FILE_CHIP.match(stem)
    if match and registry.canonical(match.group("group")) is not None:  # `It67_1`, `ITS67_1`: a procedure's name
        match = None
    if "Chip number" in raw and not unset(raw["Chip number"]):  # `None`: PyMeasure's unset, as if absent
        number = fields.get("chip_number")
        if number is None or number <= 0:
            given = raw["Chip number"].strip()
            what = "too large for a chip number" if (parse_integer(given) or 0) > 0 else "not a positive integer"
            raise Reject("bad_chip_number", f"'Chip number' {quoted(given)} is {what}", seen_at["Chip number"])
        if match:
            _chip_of_the_name(match, fields, warnings)
    elif (named := _CHIP_PARAMETER.match(raw.get("Chip", ""))) is not None:  # an older acquisition's one parameter
        given, number = raw["Chip"].strip(), int_of_digits(named.group("number"))
        if not 0 < number <= INT64_MAX:
            what = "too large for a chip number" if number else "chip number 0; chip numbers are positive"
            raise Reject("bad_chip_number", f"'Chip' {quoted(given)} gives {what}", seen_at.get("Chip"))
        fields["chip_number"] = number
        if (group := named.group("group")) and not fields.get("chip_group"):
            fields["chip_group"] = group
        elif group and group_spelling(group) != group_spelling(fields["chip_group"].strip()):
            warnings.append(f"'Chip' {quoted(given)} and 'Chip group name' {quoted(fields['chip_group'].strip())} "
                            "name other groups: the run is filed under its 'Chip group name'")
        if match:
            _chip_of_the_name(match, fields, warnings)
    elif not match:
        raise Reject(
            "no_chip_number",
            f"{spec.name} runs belong to a chip, but the header has no 'Chip number' (nor does the file name)",
        )
    else:
        fields["chip_number"] = int(match.group("number"))
        if fields["chip_number"] <= 0:
            raise Reject("bad_chip_number", f"the file name {stem!r} gives chip number 0; chip numbers are positive")
        fields.setdefault("chip_group", match.group("group"))
    if (written := fields.get("chip_group")) is not None:
        fields["chip_group"] = group_spelling(written) or None
        if fields["chip_group"] not in (None, written.strip()):
            line = seen_at.get("Chip group name", "?")
            warnings.append(f"line {line}: 'Chip group name' {quoted(written.strip())} is stored as "
                            f"{fields['chip_group']!r} (invisible characters or another Unicode spelling of the same "
                            "letters would start a chip of its own)")


def _chip_of_the_name(match: re.Match[str], fields: dict[str, Any], warnings: list[str]) -> None:
    """A `<Group><Number>_<idx>` file name beside a header that numbers its chip: of the same number, it gives the
    group a header left out or empty (`Alisson67_8.csv` with `Chip number: 67` was filed as chip `67`); of another
    chip, the run is filed by its header, and said (a file renamed, or a header copied from another chip's run).
    Chips are compared by their whole names: `Alisson272_4.csv` is chip 72 of a group `Alisson2`."""
    group, number = match.group("group"), int(match.group("number"))
    header_group = (fields.get("chip_group") or "").strip()
    if not header_group and number == fields["chip_number"]:
        fields["chip_group"] = group
        warnings.append(f"the header gives no 'Chip group name': {group!r} is read from the file name")
        return
    named, headed = f"{group}{number}", f"{header_group}{fields['chip_number']}"
    spelt = f"{group_spelling(header_group) or header_group}{fields['chip_number']}"  # as it is filed (`Ａlisson`)
    if named.casefold() != spelt.casefold():
        warnings.append(f"the file name names chip {quoted(named)}, its header chip {quoted(headed)}: the run is "
                        "filed under its header's")
