"""Parser for the lab's PyMeasure-style CSV files.

A file is `#Procedure:` / `#Parameters:` / `#<TAB>Key: value` lines / `#Metadata:` / `#Data:` / a column row / rows.
The header is parsed here, in Python (it is a few hundred bytes); the data block goes to Polars (`datablock`).
Anything that makes a file untrustworthy raises `Reject` with a sentence a physicist understands and, where it
applies, a line.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from labtui.core.column_row import column_names, unquoted
from labtui.core.header_chip import chip_identity
from labtui.core.header_values import (
    parse_integer,
    parse_number,
    split_number,
    times_ten_to,
    typed_value,
    unset,
)
from labtui.core.integers import INT64_MAX
from labtui.core.raw_text import (
    BLANK_LINES,
    DATA_TAG,
    VISIBLE,
    decode_line,
    decode_lines,
    not_a_measurement,
    text_end,
)
from labtui.core.registry import ParameterSpec, ProcedureSpec, Registry, snake_column
from labtui.core.rejects import Reject
from labtui.core.start_time import START_TIME, start_time
from labtui.core.wording import counted, quoted

if TYPE_CHECKING:
    import polars as pl

# It runs on untrusted lines of any length: possessive quantifiers and a greedy tail keep it linear (the lazy
# `\s*(\S.*?)?\s*$` forms it and `header_values.NUMBER_WITH_UNIT` replace backtracked quadratically: an 8 MB line
# hung the stager).
_PROCEDURE = re.compile(r"^#Procedure:\s*+<?\s*+([A-Za-z_][\w.]*+)(?:\s++object at 0x[0-9a-fA-F]++)?\s*+>?$")
_FILE_IDX = re.compile(r"_(\d+)$")
# A measurement's header is a few hundred bytes (the real corpus: 492 at most); it is stored in the manifest, which
# every command reads, and in its run's Parquet footer, which every plot reads: a larger one is a file of another kind
HEADER_LIMIT = 64 * 1024
# fields that describe a run and decide nothing of it: given twice with two values (a note added by hand under the
# acquisition's), the first is kept and the other said, as for a parameter the registry reads nothing from
DESCRIPTIVE_FIELDS = frozenset({"information", "procedure_version"})
SECTIONS = ("#Procedure:", "#Parameters:", "#Metadata:", "#Data:")  # a header's section lines
PROCEDURE_TAG = re.compile(r"(?i)#[ \t]*procedure[ \t]*:")  # `#procedure:`, `# Procedure :` as hands retype it
_LONE_CR = b"\r#"  # a header line's end without its \n: the next line runs into it
_DATA_LINE = re.compile(r"(?i)#[ \t]*data:")  # stripped: `DATA_TAG`'s line as text
_DATA_WITH_TEXT = re.compile(r"(?i)#[ \t]*data:[ \t]*\S")  # `#Data: Vg (V),…`: the column row moved up a line
# `#Data`, `#Data :`, `#Data:\r\r`, `#Data:` + NBSP: not the tag, so the column row below it was blamed
_DATA_MISWRITTEN = re.compile(r"(?i)#[ \t]*data\b")
_START_TIME_LINE = re.compile(rb"(?m)^#[ \t]*Start time:")
# C0 controls and DEL (a tab, a CR, an escape). Not C1 (U+0080–U+009F): a line that is not UTF-8 is read as
# Windows-1252, which has none but for its 5 unused bytes; the tables show those escaped instead (`shown`).
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# PyMeasure writes a header value as `str(value).encode("unicode_escape")`: `medición` as `medici\xf3n`, `µA` as
# `\xb5A`, a tab as `\t`, a backslash as `\\`. The escapes that codec writes are read back, no others.
_PYMEASURE_ESCAPE = re.compile(r"\\(?:[\\tnr]|x[0-9a-f]{2}|u[0-9a-f]{4}|U[0-9a-f]{8})")
_ESCAPED_CHARACTER = {"\\": "\\", "t": "\t", "n": "\n", "r": "\r"}


@dataclass
class Header:
    """Everything the header says, typed where the registry knows the key."""

    proc: str
    spec: ProcedureSpec
    raw: dict[str, str]  # every parameter and metadata value, verbatim
    fields: dict[str, Any]  # typed values by manifest field name
    start_time_utc: dt.datetime
    columns: list[str]  # raw column names, in file order
    data_offset: int  # byte offset of the first data row
    column_line: int  # 1-based line number of the column row
    warnings: list[str] = field(default_factory=list)
    # stored column → the power of ten its values are multiplied by: written in another prefix of its unit (`I (mA)`)
    column_scales: dict[str, int] = field(default_factory=dict)

    @property
    def stored_columns(self) -> list[str]:
        return [snake_column(name) for name in self.columns]

    def in_si(self, frame: pl.DataFrame) -> pl.DataFrame:
        """The data rows read with the columns written in another prefix (`column_scales`) in the registry's unit,
        each value divided by an exact power of ten and rounded once, as a header's `10 uA` is 1e-05: NumPy's
        division, where Polars' reads 1150 mV as 1.1500000000000001 V. An empty field stays a missing value."""
        if not self.column_scales:
            return frame
        return frame.with_columns(_scaled(frame[name], power) for name, power in self.column_scales.items())


def _scaled(series: pl.Series, power: int) -> pl.Series:
    import polars as pl  # the header is parsed without it (`labtui --help` does not load it)

    scaled = pl.Series(series.name, times_ten_to(series.to_numpy(), power))  # a null reads NaN there: put back
    return scaled.scatter(series.is_null().arg_true(), None) if series.has_nulls() else scaled


def _procedure_line(text: str) -> tuple[str, str]:
    """A `#Procedure:` line as the acquisition spells its tag, and the tag as written where it was spelt otherwise
    (`#procedure:`, `# Procedure :`; else "")."""
    tag = PROCEDURE_TAG.match(text)
    if tag is None or tag.group() == "#Procedure:":
        return text, ""
    return "#Procedure:" + text[tag.end():], tag.group()


def parse_header(data: bytes, registry: Registry, file_stem: str = "") -> Header:
    """Parse and check everything above the data rows; raises Reject for an untrustworthy file."""
    end_of_text = text_end(data)
    if data.startswith(b"\xef\xbb\xbf"):
        data = b"   " + data[3:]  # keep byte offsets; the BOM is not part of the text
    data_tag = re.search(DATA_TAG + rb"$", data)
    # a header line's own line end, lost: read as one, in place (the byte offsets hold); looked for in the header
    # alone (all of a CRLF file's first 64 KiB cost the header phase 70 %), or where the tag was not found
    broken = data.find(_LONE_CR, 0, data_tag.start() if data_tag else HEADER_LIMIT)
    if broken >= 0:
        data = data[:HEADER_LIMIT].replace(_LONE_CR, b"\n#") + data[HEADER_LIMIT:]
        data_tag = re.search(DATA_TAG + rb"$", data)
    header_end = data_tag.start() if data_tag else end_of_text  # a queued run's header, NUL bytes after it
    lines = decode_lines(data[:header_end])
    first, retyped = _procedure_line(lines[0].strip())
    # a spreadsheet pads every line to the widest row, with its locale's separator (a Chilean Excel's is `;`)
    padding = first[-1:] if first.endswith((",", ";")) else None
    if padding is None and data_tag is None and (tail := re.search(DATA_TAG + rb"([,;])+[ \t]*\r?$", data)):
        padding = tail.group(1).decode()
    if padding is not None:
        raise Reject("not_this_format", f"the header lines end with {'semicolons' if padding == ';' else 'commas'}: "
                                        "a spreadsheet re-saved the file (and may have rounded its numbers): stage "
                                        "the acquisition's own CSV")
    proc_match = _PROCEDURE.match(first)
    if not first.startswith("#Procedure:"):
        not_a_measurement(data)
    if "<" in first and not first.endswith(">"):  # the class name may be cut too: not worth looking up
        raise Reject("no_procedure", f"the #Procedure line is cut off: {quoted(first, 80)} (a truncated file?)", 1)
    if not proc_match:
        raise Reject("no_procedure", f"the #Procedure line names no procedure class: {quoted(first, 80)}", 1)
    proc = proc_match.group(1).rsplit(".", 1)[-1]
    spec = registry.get(proc)
    if spec is None:
        known = ", ".join(sorted(registry.procedures))
        # an alias names a procedure in filters (older notes' ITS for It), not a file's class: said how to stage it
        alias = ""
        if (canonical := registry.canonical(proc)) is not None and proc.lower() == canonical.lower():
            alias = f" (spelt {canonical} there: a class name is matched with its case)"
        elif canonical is not None:
            alias = f" ({proc} names {canonical} in filters only: its entry says `like: {canonical}`, as ITt's does)"
        raise Reject("unknown_procedure",
                     f"unknown procedure {quoted(proc)} (known: {known}); add it to config/procedures.yaml{alias}", 1)

    raw: dict[str, str] = {}
    seen_at: dict[str, int] = {}
    warnings: list[str] = []
    if retyped:
        warnings.append(f"line 1: {quoted(retyped)} read as '#Procedure:'")
    if broken >= 0:
        number = data.count(b"\n", 0, broken) + 1
        warnings.append(f"line {number}: a carriage return alone (\\r) ended it, before the next '#' line: read as "
                        "a line break")
    typed_keys = {**registry.parameters_of(spec), **registry.metadata}
    spelled = {_folded(key): key for key in typed_keys}  # `Chip Number`, `vds`, `Laser  voltage` as a hand retypes them
    for number, line in enumerate(lines[1:], start=2):
        text = line.rstrip("\r\n")
        if text.strip() in ("", "#", "#Parameters:", "#Metadata:"):
            continue
        # a queued run's header, then its own: one run only if they agree. Retyped (`# Procedure:`), only where it
        # names a class as PyMeasure does (`<…>`): `#\tProcedure: tuning` is a parameter (the regex only on a line
        # that may be one)
        if text.startswith("#Procedure:") or (text[1:].lstrip(" \t")[:1] in ("P", "p") and "<" in text
                                              and PROCEDURE_TAG.match(text)):
            again = _PROCEDURE.match(_procedure_line(text.strip())[0])
            if again is None or again.group(1).rsplit(".", 1)[-1] != proc:
                raise Reject("conflicting_parameter", f"a second #Procedure line ({quoted(text.strip(), 80)}) names "
                                                      f"another procedure than {quoted(proc)}: a file holds one run",
                             number)
            continue
        if not text.startswith("#"):
            if _DATA_WITH_TEXT.match(above := lines[number - 2].strip()):
                raise Reject("not_this_format", f"the #Data: line has text after it ({quoted(above)}): the column "
                                                "names go on the next line", number - 1)
            if _DATA_MISWRITTEN.match(above := lines[number - 2].rstrip("\n").removesuffix("\r")):
                raise Reject("not_this_format", f"the #Data: line is written {quoted(above)}: the rows follow a "
                                                "line of just `#Data:`", number - 1)
            named = {unquoted(name.strip()) for name in text.split(",")}
            if spec.required_columns and set(spec.required_columns) <= named:
                raise Reject("not_this_format", f"the column row {quoted(text)} has no #Data: line above it: the "
                                                "header ends with a line of just `#Data:`", number)
            raise Reject("not_this_format", f"a header line does not start with '#': {quoted(text)}", number)
        body = text[1:].lstrip("\t ")
        if "\\" in body:
            body = _PYMEASURE_ESCAPE.sub(_unescaped, body)
        plain = body.isprintable()  # false for a control character (and an unusual space): one C call a line
        key, sep, value = body.partition(": ")
        if not sep:  # `Key:value`, `Key:<TAB>value`, `Key:` (empty)
            key, sep, value = body.partition(":")
            if not sep or not key.strip():
                warnings.append(f"line {number}: header line without 'Key: value' ignored: {quoted(text)}")
                continue
            value = value.lstrip("\t ")
        if not plain:
            key, value = _printable(key, value, number, spelled, warnings)
        key = key.strip()
        if key not in typed_keys and (spelling := spelled.get(fold := _folded(key))) is not None:
            if fold != key.casefold():  # a case apart is the same key; a space or an invisible character is said
                warnings.append(f"line {number}: header key {quoted(key)} read as {quoted(spelling)}")
            key = spelling
        elif key not in typed_keys and (read := _unit_in_key(key, value, spelled, typed_keys)) is not None:
            # beside the key itself too: one parameter given twice (kept apart, a second VDS went unsaid)
            warnings.append(f"line {number}: header key {quoted(key)} read as {quoted(read[0])}: {quoted(read[1])}")
            key, value = read
        if key in raw and raw[key].strip() != value.strip() and not _same_value(key, raw[key], value, typed_keys):
            if unset(raw[key]):  # a note written under the acquisition's unset one: the note is the value
                warnings.append(f"line {number}: parameter {quoted(key)} given again ({quoted(value)}) after line "
                                f"{seen_at[key]} left it unset ({quoted(raw[key])}): the second is kept")
                raw[key], seen_at[key] = value, number
                continue
            if unset(value):  # and the other way round: unset again, the value stays
                warnings.append(f"line {number}: parameter {quoted(key)} left unset ({quoted(value)}) after line "
                                f"{seen_at[key]} gave it ({quoted(raw[key])}): the first is kept")
                continue
            if key not in typed_keys or typed_keys[key].field in DESCRIPTIVE_FIELDS:  # nothing read from it, or a
                # description: kept as first given, the other said (a note added by hand lost the whole run)
                warnings.append(f"line {number}: parameter {quoted(key)} given again with another value "
                                f"({quoted(value)}; line {seen_at[key]} said {quoted(raw[key])}): the first is kept")
                continue
            raise Reject(
                "conflicting_parameter",
                f"parameter {quoted(key)} is given twice with different values ({quoted(raw[key])} on line "
                f"{seen_at[key]}, {quoted(value)} on line {number})",
                number,
            )
        raw.setdefault(key, value)
        seen_at.setdefault(key, number)

    if data_tag is None:
        what = "no #Metadata (no start time) and no #Data section" if START_TIME not in raw else "no #Data section"
        raise Reject("no_data_section", f"header only: {what} (the run was never recorded, or the file was cut)")

    tag_end = data_tag.end() + 1
    row_start = BLANK_LINES.match(data, tag_end).end()  # type: ignore[union-attr]  # matches anywhere
    row_end = data.find(b"\n", row_start)
    has_rows = row_end >= 0 and VISIBLE.search(data, row_end + 1) is not None
    try:
        start_time_utc = start_time(raw, seen_at)
    except Reject as problem:
        if problem.kind == "no_start_time" and not has_rows:
            problem.reason = ("header only: no 'Start time' and no data rows (the run was never recorded, or the file "
                              "was cut)")
        elif problem.kind == "no_start_time" and (late := _START_TIME_LINE.search(data, header_end)):
            problem.reason = ("'Start time' comes after the #Data: line: the header's sections are out of order (a "
                              "hand edit?); #Data: must be the header's last line")
            problem.line = data.count(b"\n", 0, late.start()) + 1
        raise
    fields: dict[str, Any] = {}
    given_by: dict[str, str] = {}  # field → the parameter that gave it (a procedure may spell one field two ways)
    for key, pspec in typed_keys.items():
        if key == START_TIME:  # read by `start_time` (ISO 8601 too, which typed as seconds was said "left empty")
            fields[pspec.field] = start_time_utc.timestamp()
        elif key in raw:
            value = typed_value(key, raw[key], pspec, seen_at[key], warnings)
            if value is None and pspec.field in fields:
                continue  # a spelling left empty does not erase another's value
            if (other := given_by.get(pspec.field)) is not None and fields[pspec.field] not in (None, value):
                warnings.append(f"line {seen_at[key]}: parameters {quoted(other)} and {quoted(key)} both give "
                                f"{pspec.field} ({fields[pspec.field]!r} and {value!r}); {quoted(key)} is kept")
            fields[pspec.field] = value
            given_by[pspec.field] = key
    chip_identity(spec, raw, seen_at, fields, file_stem, registry, warnings)
    fields["file_idx"] = _file_index(file_stem, warnings)

    column_line = len(lines) + 1
    if blank := data.count(b"\n", tag_end, row_start):  # a hand edit's (it was "no column-name row after #Data:")
        warnings.append(f"line {column_line}: {counted(blank, 'blank line')} before the column row, read past")
        column_line += blank
    column_text = decode_line(data[row_start : len(data) if row_end < 0 else row_end]).strip()
    if not column_text:
        raise Reject("no_columns", "no column-name row after #Data:", column_line)
    if _DATA_LINE.fullmatch(column_text):
        raise Reject("bad_columns", "the #Data: line is there twice: the column names follow a single one",
                     column_line)
    if "\r" in column_text:
        raise Reject("bad_columns", "a carriage return alone (\\r) ends the column row, which runs into the next line "
                                    "(lines converted from classic Mac OS?)", column_line)
    scales: dict[str, int] = {}
    columns = column_names(column_text, spec, column_line, warnings, scales)
    if header_end > HEADER_LIMIT:
        longest = max(range(len(lines)), key=lambda k: len(lines[k]))
        raise Reject("header_too_large", f"the header above #Data: is {header_end:,} bytes, a measurement's a few "
                                         f"hundred (labtui stores up to {HEADER_LIMIT // 1024} KiB); its longest "
                                         f"line is {quoted(lines[longest].strip().lstrip('#').strip())}", longest + 1)
    return Header(
        proc=proc,
        spec=spec,
        raw=raw,
        fields=fields,
        start_time_utc=start_time_utc,
        columns=columns,
        data_offset=len(data) if row_end < 0 else row_end + 1,
        column_line=column_line,
        warnings=warnings,
        column_scales=scales,
    )


def _unescaped(escape: re.Match[str]) -> str:
    """One character as PyMeasure's `unicode_escape` spelled it; a spelling of no character (a lone surrogate, past
    U+10FFFF) stays as written: no Parquet or JSON file could hold it."""
    text = escape.group()
    if text[1] in _ESCAPED_CHARACTER:
        return _ESCAPED_CHARACTER[text[1]]
    code = int(text[2:], 16)
    return chr(code) if code <= 0x10FFFF and not 0xD800 <= code <= 0xDFFF else text


def _same_value(key: str, first: str, second: str, typed_keys: dict[str, ParameterSpec]) -> bool:
    """Whether a parameter given twice says one number twice (`VDS: 0.1 V`, then `VDS: 100 mV`), or one non-number
    (`NaN V`, then `nan V`: no value either way, which was rejected as a conflict): not a conflict."""
    spec = typed_keys.get(key)
    if spec is None or spec.type == "str":
        return False
    values = [parse_integer(text) if spec.type == "int" else parse_number(text, spec) for text in (first, second)]
    return values[0] is not None and (values[0] == values[1] or (
        values[1] is not None and math.isnan(values[0]) and math.isnan(values[1])))


_SPACED_SIGN = re.compile(r" ?([^\w ]) ?")  # a sign with a space beside it (`ON + OFF`): the space set aside
_INVISIBLE = dict.fromkeys(map(ord, "\u00ad\u200b\u200c\u200d\u2060\ufeff"))  # soft hyphen, zero widths, BOM


_KEY_WITH_UNIT = re.compile(r"(.+?)\s*\(([^()]+)\)")  # `VDS (V)`: a key with its unit, as columns are named


def _unit_in_key(key: str, value: str, spelled: dict[str, str], typed_keys: dict[str, ParameterSpec]
                 ) -> tuple[str, str] | None:
    """`VDS (V): 0.1`, written as a column is named, as `VDS: 0.1 V` (the field was lost without a word); None where
    the brackets are no unit of the parameter they follow (`Laser voltage (max): 5 V` is another parameter)."""
    if (united := _KEY_WITH_UNIT.fullmatch(key)) is None or (spelling := spelled.get(_folded(united[1]))) is None:
        return None
    unit, spec = united[2].strip(), typed_keys[spelling]
    if spec.unit is None or parse_number(f"1 {unit}", spec) is None:
        return None
    if (reading := split_number(value)) is not None and reading[1] is None and math.isfinite(reading[0]):
        value = f"{value.strip()} {unit}"  # a bare number takes the unit
    return spelling, value


@lru_cache(maxsize=4096)  # the registry's keys and the acquisition's, folded for every file's header
def _folded(key: str) -> str:
    """A header key as matched against the registry's: its case, runs of spaces (NBSP too), spaces beside a sign
    and invisible characters set aside (`Laser  voltage`, `Laser<NBSP>voltage`, `Laser ON + OFF period` and a BOM
    before `VDS` lost the field without a word: the last run counted complete, its period unknown)."""
    return _SPACED_SIGN.sub(r"\1", " ".join(key.translate(_INVISIBLE).split())).casefold()


def _printable(key: str, value: str, line: int, spelled: dict[str, str], warnings: list[str]) -> tuple[str, str]:
    """A header line's key and value with each control character as a space: a CR that joined two lines, an escape
    sequence, a tab within a value would reach the manifest and every table printed from it; a warning says so
    (tabs around the value are blanks, as spaces are). A chip group with one is a reject: it names no chip the lab
    wrote, and a run filed under it would start a chip of its own."""
    clean_key, inner = _CONTROL.sub(" ", key).strip(), value.strip()
    if clean_key != key.strip() or _CONTROL.search(inner):
        if _CONTROL.search(inner) and spelled.get(_folded(clean_key)) == "Chip group name":
            raise Reject("bad_chip_group", f"'Chip group name' {quoted(inner)} holds control characters (two header "
                                           "lines run together?): fix the line to name the chip", line)
        warnings.append(f"line {line}: control characters in {quoted(f'{key.strip()}: {inner}')} are stored as spaces")
    return clean_key, _CONTROL.sub(" ", value)


def _file_index(stem: str, warnings: list[str]) -> int | None:
    """The queue index N of a `…_<N>.csv` name: an order among runs that started together, nothing more, so one past
    a 64-bit integer is left empty with a warning (the run was rejected as 'header values out of range')."""
    match = _FILE_IDX.search(stem)
    if match is None:
        return None
    if (index := int(match.group(1))) > INT64_MAX:
        warnings.append(f"the file name's index {quoted(match.group(1), 30)} is past a 64-bit integer; left empty")
        return None
    return index
