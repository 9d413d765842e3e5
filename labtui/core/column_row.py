"""The column row under `#Data:`: its names, checked against the procedure's registry entry before a row is read."""

from __future__ import annotations

import re

from labtui.core.header_values import prefix_apart
from labtui.core.registry import ProcedureSpec, snake_column
from labtui.core.rejects import Reject
from labtui.core.wording import quoted

_SEPARATORS = {"\t": "tabs", ";": "semicolons"}
NAME_LIMIT = 1024  # characters of a column's name: a few words in a measurement; the Parquet footer holds each thrice
_NAME_AND_UNIT = re.compile(r"(?P<name>.*?)\s*[(\[](?P<unit>[^()\[\]]+)[)\]]")  # `I (mA)`, `I [mA]`


def column_names(text: str, spec: ProcedureSpec, line: int, warnings: list[str],
                 scales: dict[str, int] | None = None) -> list[str]:
    """The names of the column row `text` (stripped, on `line`), in file order; a row that holds no names, or names
    the procedure cannot be read with, raises `Reject`. Columns the registry does not know are kept and said. A
    registered column written in another prefix of its unit (`I (mA)` for `I (A)`) is that column, its stored name's
    power of ten to SI put in `scales` (`{"i_a": -3}`)."""
    columns = [unquoted(name.strip()) for name in text.split(",")]
    if all(_is_number(name) for name in columns):  # else `column 'nan' appears twice`, or a missing 'VL (V)'
        raise Reject("no_columns", f"the line after #Data: is a data row ({quoted(text)}), not the column names: the "
                                   "column row is missing (a hand edit?)", line)
    if text.startswith("#"):  # a parameter line written after the tag (`#\tVDS: 0.1 V`) read as tab-separated
        raise Reject("bad_columns", f"the line after #Data: is a header line ({quoted(text)}), not the column names: "
                                    "the header's lines go before #Data: (a hand edit?)", line)
    if len(columns) == 1 and (separator := next((sep for sep in ("\t", ";") if sep in text), None)):
        raise Reject("bad_columns", f"the columns are separated by {_SEPARATORS[separator]}, not commas (a "
                                    "spreadsheet's export?): stage the acquisition's own CSV", line)
    registered = {*spec.required_columns, *spec.optional_columns, *spec.text_columns}
    columns = _check_columns(spec, columns, registered, line, warnings, {} if scales is None else scales)
    if extra := [name for name in columns if name not in registered]:
        warnings.append(f"line {line}: columns not in the registry kept as numbers: {_names(extra)}")
    return columns


def _is_number(name: str) -> bool:
    """A column name that is a number, as a data row's fields are (`0.0`, `nan`, `2.3e-05`)."""
    try:
        float(name)
    except ValueError:
        return False
    return True


def unquoted(name: str) -> str:
    """A column name as CSV quotes it (`"I (A)"`, a tool that quotes every field) is the name."""
    return name[1:-1].replace('""', '"').strip() if len(name) >= 2 and name[0] == name[-1] == '"' else name


def _check_columns(spec: ProcedureSpec, columns: list[str], registered: set[str], line: int,
                   warnings: list[str], scales: dict[str, int]) -> list[str]:
    """The names, each spelt as the registry spells a column of the same stored name (`Vg(V)`, `VG (V)` and
    `Vg<no-break space>(V)` are `Vg (V)`, said: they were missing columns, and stored alike when kept); a name
    that is empty, twice, or a required one missing raises `Reject`."""
    seen: dict[str, str] = {}
    for k, name in enumerate(columns):
        if not name:
            where = " (it ends with a comma, as a spreadsheet's export may end every line)" if k == len(columns) - 1 \
                else ""
            raise Reject("bad_columns", f"the column row has an empty column name{where}", line)
        if len(name) > NAME_LIMIT:  # a 10 MB name made a 43 MB Parquet of a 25 KB file
            raise Reject("bad_columns", f"a column is named {quoted(name, 40)}: a measurement names its columns in "
                                        f"a few words (labtui stores up to {NAME_LIMIT:,} characters)", line)
        stored = snake_column(name)
        if stored in seen:
            twin = f" (same stored name as {quoted(seen[stored])})" if seen[stored] != name else ""
            raise Reject("duplicate_column", f"column {quoted(name)} appears twice{twin}", line)
        seen[stored] = name
        if stored.endswith("_"):  # only a name readers add gets one (`snake_column`)
            warnings.append(f"line {line}: column {quoted(name)} is stored as {stored!r}: readers add a column "
                            f"{stored[:-1]!r} to every row (the run's folder in the store, or a scan's run columns)")
    spelt = {snake_column(name): name for name in registered}
    respelt = [name if name in registered else spelt.get(snake_column(name), name) for name in columns]
    for k, name in enumerate(columns):
        if respelt[k] != name:
            warnings.append(f"line {line}: column {quoted(name)} read as {quoted(respelt[k])}")
        elif name not in registered and (prefixed := _in_another_prefix(name, registered)) is not None and \
                prefixed[0] not in respelt:  # `I (A)` and `I (mA)` both: two columns, as written
            respelt[k], scales[snake_column(prefixed[0])] = prefixed
            scaled = f", its values × 1e{prefixed[1]:+d}" if prefixed[1] else ""  # `µA` for `uA`: one prefix
            warnings.append(f"line {line}: column {quoted(name)} read as {quoted(prefixed[0])}{scaled}")
    missing = [name for name in spec.required_columns if name not in respelt]
    if missing:
        raise Reject(
            "missing_column",
            f"{spec.name} needs {'the column' if len(missing) == 1 else 'the columns'} "
            f"{', '.join(map(repr, missing))}; the file has {_names(columns)}",
            line,
        )
    return respelt


def names_again(cells: list[str], columns: list[str]) -> bool:
    """Whether a row's `cells` are the column row's names (`columns`, as read) again, each as any spelling or unit
    of it writes it (`VG (V)` or `I (mA)` for `Vg (V)`, `I (A)`): two files joined into one."""
    def name(text: str) -> str:
        return snake_column(written["name"] if (written := _NAME_AND_UNIT.fullmatch(text)) else text)

    return len(cells) == len(columns) and all(name(unquoted(cell.strip())) == name(column)
                                              for cell, column in zip(cells, columns, strict=True))


def _in_another_prefix(name: str, registered: set[str]) -> tuple[str, int] | None:
    """The registered column `name` is in another SI prefix of the unit of (`I (mA)` of `I (A)`, `t (ms)` of `t (s)`),
    and the power of ten from its unit to that column's; else None. Another acquisition's columns, or a channel
    logged in mA, were rejected as missing their column."""
    if (written := _NAME_AND_UNIT.fullmatch(name)) is None or written["unit"].strip().startswith("M"):
        return None  # `I (MA)`: mA typed in capitals (column names are read case-blind), not a mega-ampere
    for candidate in sorted(registered):
        if (own := _NAME_AND_UNIT.fullmatch(candidate)) and snake_column(own["name"]) == snake_column(
                written["name"]) and (power := prefix_apart(written["unit"].strip(), own["unit"])) is not None:
            return candidate, power
    return None


def _names(columns: list[str], shown: int = 12) -> str:
    """A file's column names for a message: the first `shown`, each cut to 40 characters, and how many there are.
    A name with an unusual space or a control character is quoted with it escaped: `Vg\xa0(V)` read as `Vg (V)`, so
    "needs the column 'Vg (V)'; the file has Vg (V)" named no difference."""
    names = ", ".join(quoted(name, 40) if not name.isprintable() else name if len(name) <= 40 else f"{name[:40]}…"
                      for name in columns[:shown])
    return names if len(columns) <= shown else f"{names}, … ({len(columns):,} columns)"
