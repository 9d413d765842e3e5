"""The data block of a file whose header parsed: read by Polars with an explicit Float64 schema (schema inference
turns all-`nan` sensor columns into strings and costs 3–4× the parse), many files in one query; a block Polars
cannot read is diagnosed row by row, for a reject that names the bad line.
"""

from __future__ import annotations

import csv
import dataclasses
import math
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import polars as pl

from labtui.core.column_row import names_again
from labtui.core.parser import SECTIONS, Header
from labtui.core.raw_text import BLANK_LINES, VISIBLE, decode_line
from labtui.core.rejects import Reject
from labtui.core.wording import counted, quoted

if TYPE_CHECKING:
    import numpy as np

T = TypeVar("T")

_PARSE_ERRORS = (pl.exceptions.ComputeError, pl.exceptions.SchemaError, pl.exceptions.NoDataError)

# A value this large is no reading in SI units: an instrument's overflow mark (Keithley's meters write 9.9e37 out of
# range, 9.91e37 for NaN) or corrupted data. The Parquet keeps it as written; the plots leave such samples out and
# the derived quantities read them as gaps, and both say so.
NO_READING = 1e30


@dataclass(frozen=True)
class DataBlock:
    """A file's data rows as Polars reads them: the file's own bytes (cut after its last whole line) with the
    header's lines skipped (a slice of the block would copy megabytes per file, in every worker at once)."""

    data: bytes
    skip_lines: int
    schema: dict[str, type[pl.DataType]]
    warnings: list[str]


LONE_CR = "a carriage return alone (\\r) inside the line runs two rows together"
_QUOTED_ROW_LIMIT = 64 * 1024  # a longer row with a quote is counted by its commas
DOS_EOF = b"\x1a"
_BLANK_BYTES = b" \t\r\n"  # a blank line's, as `BLANK_LINES` and Polars skip them
_EXPONENT = re.compile(rb"[+-]?(?:\d+\.?\d*|\.\d+)[eE][+-]?(\d+)")  # a number with an exponent; its digits
BLANK_TAIL_PROBE = 4096  # a block ending in more blank bytes than this has them cut before Polars reads it
RAGGED_CHECK_BYTES = 1 << 20  # a block this large has its fields counted before Polars reads it (~0.3 ms a MiB)


def _whole_row(data: bytes, start: int, end: int, columns: int) -> bool:
    """Whether the unterminated last line (at `end`, the rows from `start`) is a whole row, not one cut mid-write:
    every field there, and a last one that no longer value can be cut to: a `nan` (the sensor columns of a run
    without the sensor), or a number with an exponent of as many digits as the row before's last one (the acquisition
    writes `8.95e-06`: a cut loses all or part of the exponent, `8.95e-0` or `8.95`). A number without one may be
    one cut short (`0.16` of `0.1673`): such a line is dropped, as the acquisition writes each row's end."""
    fields = data[end:].rstrip(b"\r").split(b",")
    if len(fields) != columns:
        return False
    last = fields[-1].strip()
    if last.lower() in (b"nan", b"-nan", b"+nan"):
        return True
    previous = data[max(data.rfind(b"\n", start, end - 1) + 1, start):end - 1].rstrip(b"\r") if end > start else b""
    exponent, before = _EXPONENT.fullmatch(last), _EXPONENT.fullmatch(previous.rsplit(b",", 1)[-1].strip())
    return exponent is not None and before is not None and len(exponent[1]) == len(before[1])


def data_block(data: bytes, header: Header) -> DataBlock:
    """The block to read; a partial last line is dropped with a warning, a block without rows is a `Reject`."""
    # Blank lines before the first row are skipped: Polars would take the blank first line for a 1-column row
    start = BLANK_LINES.match(data, header.data_offset).end()  # type: ignore[union-attr]  # matches anywhere
    warnings: list[str] = []
    cut = ""
    if len(data) > start and not data.endswith(b"\n"):
        end = max(data.rfind(b"\n", start) + 1, start)
        if b"\r" in data[end:].rstrip(b"\r"):  # not a row cut short: rows parted by a lone CR, hundreds of them
            raise Reject("bad_row", LONE_CR, data.count(b"\n", 0, end) + 1)
        # NUL bytes or a DOS end-of-file mark (Ctrl+Z, which some Windows tools append) after a whole last row: no
        # row was cut
        if not data[end:].strip(b"\x00" + DOS_EOF + _BLANK_BYTES):
            if nul := data.count(b"\x00", end):
                warnings.append(f"{counted(nul, 'NUL byte')} after the last row dropped (a write lost in a crash?)")
            if DOS_EOF in data[end:]:
                warnings.append("a DOS end-of-file mark (0x1A, Ctrl+Z) after the last row dropped")
        elif _whole_row(data, start, end, len(header.columns)):  # a file rewritten without its last line end
            end = len(data)
        elif VISIBLE.search(data, end):
            lost = data.find(b"\x00", end) >= 0  # its length was written and its bytes never were
            why = "it ends in NUL bytes: a write lost in a crash?" if lost else "acquisition stopped mid-row"
            warnings.append(f"the last line was unterminated ({why}) and was dropped")
            cut = " (its only row was cut off mid-line: acquisition stopped?)"
        data = data[:end]
    data = _without_blank_tail(data, start)
    if not VISIBLE.search(data, start):
        raise Reject("no_rows", f"the file has a header but zero data rows{cut}", header.column_line + 1)
    first_row_fields = data.count(b",", start, data.find(b"\n", start)) + 1
    if first_row_fields != len(header.columns) or (len(data) - start > RAGGED_CHECK_BYTES and (
        _count(data, start, b",") >= (_count(data, start, b"\n") + 1) * len(header.columns)
    )) or _cr_ends_a_field(data, start) or (header.spec.text_columns and _quote_spans_lines(data, start)):
        # a wide first row Polars widens into as many columns (5.8 GB for 50 MB), or more fields than rows × columns;
        # or a CR that ends a field, which Polars drops: a damaged digit in `2.377078e-05` made `2.377078e-0\r`,
        # staged as 2.377078 A; or a quote, which in a text column Polars reads on over the lines until one closes
        # it: 4 rows of an IVsaw run were one `polarity`, staged as complete
        _diagnose(data[header.data_offset :], header)
    text = set(header.spec.text_columns)
    if text:
        data = _text_in_utf8(data, start, warnings)
    schema: dict[str, type[pl.DataType]] = {
        stored: pl.String if name in text else pl.Float64
        for name, stored in zip(header.columns, header.stored_columns, strict=False)
    }
    return DataBlock(data, data.count(b"\n", 0, start), schema, warnings)


def _text_in_utf8(data: bytes, start: int, warnings: list[str]) -> bytes:
    """The rows in UTF-8, which Polars reads text columns in: a byte that is no UTF-8 (`negación` written in
    Windows-1252 by a Windows tool) is read as such, as the header's are (`decode_line`), and said. Polars failed
    the whole block on it, and the file was rejected as "could not be parsed as numbers"."""
    try:
        data[start:].decode("utf-8")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, start + error.start) + 1
        warnings.append(f"line {line}: text that is not UTF-8 is read as Windows-1252 (written by a Windows tool?)")
        return data[:start] + decode_line(data[start:]).encode("utf-8")
    return data


def _without_blank_tail(data: bytes, start: int) -> bytes:
    """The block without the blank lines that end it (spaces and tabs, a CR before the line end), when they are
    many: Polars reads each as a row of nulls and `_blank_rows` then finds them line by line (12 MB of line ends took
    8 s and 2 GB). The last row keeps its whole line, its line end with it: what it holds (a trailing tab, `\r\r\n`)
    is judged as it would be without the tail. A few blank lines are left: cutting them would copy every block."""
    if len(data) - start <= BLANK_TAIL_PROBE or data[-BLANK_TAIL_PROBE:].strip(_BLANK_BYTES):
        return data
    end = data.find(b"\n", _blank_from(data, start)) + 1
    if data.count(b"\r", end) != data.count(b"\r\n", end):  # a CR not ending its line: no line Polars reads as blank
        return data
    return data[:end]


def _blank_from(data: bytes, start: int) -> int:
    """Where the blank bytes that end `data` begin (`start` at the least), read back a probe at a time: `rstrip`
    would copy the whole block."""
    for window_end in range(len(data), start, -BLANK_TAIL_PROBE):
        window_start = max(window_end - BLANK_TAIL_PROBE, start)
        if visible := len(data[window_start:window_end].rstrip(_BLANK_BYTES)):
            return window_start + visible
    return start


def _blocks(data: bytes, start: int, overlap: int = 0) -> Iterator[np.ndarray]:
    """The bytes from `start` as NumPy views of a MiB (each reaching `overlap` bytes into the next): NumPy counts and
    compares them mostly without the GIL, which a stage's Python phases wait for, with a MiB of temporaries."""
    import numpy as np  # a stage has it loaded for its metrics

    view = np.frombuffer(data, np.uint8)[start:]
    for at in range(0, view.size, RAGGED_CHECK_BYTES):
        yield view[at : at + RAGGED_CHECK_BYTES + overlap]


def _count(data: bytes, start: int, byte: bytes) -> int:
    """`data.count(byte, start)`, 5× faster than bytes.count (commas and newlines of the real corpus's 26 MB of large
    blocks: 30 → 6 ms)."""
    import numpy as np

    return sum(int(np.count_nonzero(block == ord(byte))) for block in _blocks(data, start))


def _cr_ends_a_field(data: bytes, start: int) -> bool:
    """`b"\\r," in data[start:]`: a CR that ends a field inside a row. Every real file ends its lines in CRLF, so a
    regex search stopped at every line: 55 ms of the GIL for the real corpus, this 27 ms of CPU mostly without it."""
    return any(bool(((block[:-1] == ord("\r")) & (block[1:] == ord(","))).any())
               for block in _blocks(data, start, overlap=1))


def _quote_spans_lines(data: bytes, start: int) -> bool:
    """A line end inside quotes: an odd number of quotes before some line end, where a field Polars reads on over
    the lines swallows the rows up to the quote that closes it. Counted by NumPy, not line by line in Python."""
    if data.find(b'"', start) < 0:
        return False
    import numpy as np

    view = np.frombuffer(data, np.uint8)[start:]
    quotes_before = np.cumsum(view == ord('"'), dtype=np.int64)
    return bool((quotes_before[view == ord("\n")] % 2).any())


def _csv_options(block: DataBlock) -> dict[str, Any]:
    # credential_provider=None: bytes in memory need no cloud credentials (the lookup costs Python time per file)
    return {"has_header": False, "skip_lines": block.skip_lines, "schema": block.schema, "raise_if_empty": False,
            "credential_provider": None}


def parse_data(data: bytes, header: Header) -> tuple[pl.DataFrame, list[str]]:
    """The data block as Float64 columns with stored names (text columns as strings), and warnings."""
    block = data_block(data, header)
    try:
        frame = pl.read_csv(block.data, **_csv_options(block))
    except _PARSE_ERRORS:
        frame, block = _past_trailing_blanks(block, header)
    return _rows(frame, block, header)


# possessive, from the first blank of a run only: a plain `[ \t]+` rescanned a long run of blanks from each of them
# (40k blanks before an `x`: 46 s)
_TRAILING_BLANKS = re.compile(rb"(?<![ \t])[ \t]++(?=,|\r?\n|\r?$)")


def _past_trailing_blanks(block: DataBlock, header: Header) -> tuple[pl.DataFrame, DataBlock]:
    """A block Polars failed on, read again without the spaces and tabs after its values (`1.5 ,` or `nan ` at a
    line's end: a hand edit, another tool), which Polars does not read past as it does those before a number: the
    file was rejected, though its leading blanks are read. Said once; a block that still fails is diagnosed. Not
    where the procedure has text columns: their blanks, quoted or not, are the text's."""
    rows_at = header.data_offset
    cleaned = block.data if header.spec.text_columns else (
        block.data[:rows_at] + _TRAILING_BLANKS.sub(b"", block.data[rows_at:]))
    if len(cleaned) < len(block.data):
        block = dataclasses.replace(block, data=cleaned, warnings=[
            *block.warnings, "spaces or tabs after some values (a hand edit?) are read past"])
        try:
            return pl.read_csv(block.data, **_csv_options(block)), block
        except _PARSE_ERRORS:
            pass
    _diagnose(block.data[rows_at:], header)
    raise Reject("bad_data", "the data block could not be parsed as numbers") from None  # no line found to name


def parse_many(files: list[tuple[bytes, Header]]) -> list[tuple[pl.DataFrame, list[str]] | Reject]:
    """`parse_data` of each file, all read by one Polars query (`collect_all`): it parses the files in parallel
    and crosses into Polars once (the real corpus in 4 threads, 16 files a query: 0.63 CPU-s and 0.38 s; a call
    per file, 0.90 and 0.70 s). A file Polars cannot read fails the whole query: then each file is parsed on its
    own, which names the bad one and its line. A result is the file's frame and warnings, or its `Reject`."""
    blocks = [_or_reject(data_block, data, header) for data, header in files]
    readable = [block for block in blocks if isinstance(block, DataBlock)]
    try:
        frames = iter(pl.collect_all([pl.scan_csv(block.data, **_csv_options(block)) for block in readable]))
    except _PARSE_ERRORS:
        return [_or_reject(parse_data, data, header) for data, header in files]
    return [
        _or_reject(_rows, next(frames), block, header) if isinstance(block, DataBlock) else block
        for block, (_, header) in zip(blocks, files, strict=True)
    ]


def _or_reject(parse: Callable[..., T], *args: Any) -> T | Reject:
    try:
        return parse(*args)
    except Reject as problem:
        return problem


def _rows(frame: pl.DataFrame, block: DataBlock, header: Header) -> tuple[pl.DataFrame, list[str]]:
    """The frame without blank lines (read as rows of nulls: they are not rows); empty fields and infinite values
    are warnings. A line of empty fields (`,,,,`) is a row, of missing values: dropped with the blank lines, a
    thousand of them left a run of 1,057 rows staged as complete, without a word."""
    warnings = [*block.warnings, *_infinities(frame, header)]
    if _has_nulls(frame):
        blank = _blank_rows(frame, block)
        nulls = frame.select(pl.any_horizontal(pl.all().is_null()).arg_true()).to_series()
        gaps = nulls.filter(~nulls.is_in(blank)).to_list()  # rows with an empty field, as lines from the first row
        if gaps:
            # those lines alone are diagnosed (a short row is filled with nulls): one empty field in a 15 MB run
            # sent every line through Python, 0.8 → 2.9 s
            lead = block.skip_lines - block.data.count(b"\n", 0, header.data_offset)  # blank lines before row 0
            _diagnose(block.data[header.data_offset :], header, [lead + row for row in gaps])
            warnings.append(f"line {header.column_line + 1 + lead + gaps[0]}: some data fields are empty "
                            f"({counted(len(gaps), 'row')}); they are stored as missing values")
        frame = frame.filter(~pl.int_range(pl.len()).is_in(blank))
    if frame.height == 0:
        raise Reject("no_rows", "the file has a header but zero data rows", header.column_line + 1)
    return header.in_si(frame), warnings


def _blank_rows(frame: pl.DataFrame, block: DataBlock) -> list[int]:
    """The rows of nulls read from a blank line (nothing but spaces), not from a line of empty fields."""
    nulls = frame.select(pl.all_horizontal(pl.all().is_null()).arg_true()).to_series().to_list()
    if not nulls:
        return []
    lines = block.data.split(b"\n")[block.skip_lines :]  # row i is line i: blank lines are rows here
    return [row for row in nulls if row >= len(lines) or not lines[row].strip()]


def _infinities(frame: pl.DataFrame, header: Header) -> list[str]:
    """A warning for each column holding ±inf: `inf` written, or a number past ±1.8e308 (`1e400`) that Polars reads
    as one. No instrument measures an infinite current; the value is kept as written, and said. A column's min and
    max (NaN and nulls skipped) are kept by Polars' kernels: ~15 µs a file, not a query."""
    warnings = []
    for name, column in zip(header.columns, frame.iter_columns(), strict=True):
        if column.dtype == pl.Float64 and any(isinstance(end, float) and math.isinf(end)
                                              for end in (column.min(), column.max())):
            line = header.column_line + 1 + column.is_infinite().arg_true()[0]  # blank lines are rows here
            warnings.append(f"line {line}: column {quoted(name)} holds an infinite value (`inf`, or a number past "
                            "±1.8e308); stored as ±inf")
    return warnings


def _has_nulls(frame: pl.DataFrame) -> bool:
    """From each column's null count, kept by Polars: no query per file, as `null_count()` would run."""
    return any(column.has_nulls() for column in frame.iter_columns())


def _diagnose(body: bytes, header: Header, offsets: Iterable[int] | None = None) -> None:
    """Find the first bad row for a precise reject message: when the fast parse failed, or before it where Polars
    would read a bad block without failing (see `data_block`). `offsets`: only these lines of `body` (0: its
    first), else all."""
    width = len(header.columns)
    lines = body.split(b"\n")
    first = next((offset for offset, line in enumerate(lines) if line.strip()), 0)  # the first row's
    last = next((offset for offset in range(len(lines) - 1, -1, -1) if lines[offset].strip()), 0)  # the last row's
    for offset in range(len(lines)) if offsets is None else offsets:
        raw_line = lines[offset]
        row = decode_line(raw_line).rstrip("\r")
        text = row.strip()
        if not text:
            continue
        line = header.column_line + 1 + offset
        if raw_line.endswith(b"\r\r"):
            raise Reject("bad_row", "the line ends in two carriage returns (\\r\\r\\n: converted twice?)", line)
        if (cr := row.find("\r,")) >= 0:
            column = header.columns[min(row.count(",", 0, cr), width - 1)]
            raise Reject("bad_row", f"a carriage return (\\r) ends the field of column {quoted(column)} inside the "
                                    "line (a damaged byte?)", line)
        if "\r" in row:
            raise Reject("bad_row", LONE_CR, line)
        if marker := next((m for m in SECTIONS if text.startswith(m)), None):
            raise Reject("bad_row", f"a second run's header starts here ({marker}): a file holds one run", line)
        if text.startswith("#"):
            raise Reject("bad_row", "a comment line (#) among the data rows", line)
        # a quoted field may hold a comma (a text column's "pos,itive"); else the commas are counted before
        # splitting: a 50 MB row split into 13 M strings took 5 GB
        cells = next(csv.reader([row.lstrip()])) if '"' in row and len(row) <= _QUOTED_ROW_LIMIT else None
        if row.count('"') % 2:  # a row is a line: a field that goes on to the next swallows rows (or says "1 field")
            raise Reject("bad_row", "a quote (\") opens a field that the line does not close", line)
        fields = len(cells) if cells is not None else row.count(",") + 1
        if fields != width:
            raise Reject("bad_row", f"a data row has {counted(fields, 'field')}, the column row has {width}"
                         + _fields_hint(fields, width, row, offset == last, b"." not in body[:4096]), line)
        cells = cells if cells is not None else row.lstrip().split(",")
        if not _reads_as_number(cells[0].strip(" \t")) and names_again(cells, header.columns):  # "'VG (V)' in
            # column 'Vg (V)' is not a number" said what, not why
            raise Reject("bad_row", "the column row again among the data rows: two files joined into one?", line)
        for name, written in zip(header.columns, cells, strict=True):
            token = written.strip(" \t")  # the blanks Polars skips before a number; not NBSP, a form feed, …
            if token and name not in header.spec.text_columns:
                if written.rstrip(" \t") != written:  # after it, read past (`_past_trailing_blanks`) but beside text
                    raise Reject("bad_value", f"{quoted(written, 40)} in column {quoted(name)} ends with a space or "
                                              "tab (a hand edit?)", line)
                if not _reads_as_number(token):
                    raise Reject("bad_value", f"{quoted(token, 40)} in column {quoted(name)} is not a number"
                                 + _text_hint(name, header, offset == first), line)


def _fields_hint(fields: int, width: int, row: str, last_row: bool, no_point: bool) -> str:
    """Why a row may have other than the column row's fields: numbers written with a decimal comma (no point in the
    row, nor in the data's start (`no_point`) or a fraction of many digits, and a comma more per number: a
    spreadsheet in a decimal-comma locale), or the file's last row cut short (a partial download saved by an
    editor, which ended the cut row with a line break), or a comma ending the row (a logger's separator written after
    every field, the last too)."""
    if fields == width + 1 and row.rstrip(" \t").endswith(","):
        return ": it ends with a comma, the column row does not (a logger writing one after every field?)"
    if fields > width and "." not in row and _decimal_commas(row.strip().split(","), no_point) == width:
        return (": numbers written with a decimal comma (a spreadsheet in a decimal-comma locale re-saved the "
                "file?): stage the acquisition's own CSV")
    if fields < width and last_row:
        return ": the file's last row, cut short (a download or a copy cut off, then saved?)"
    return ""


_WHOLE = re.compile(r"[-+]?\d+")
_FRACTION = re.compile(r"\d+(?:[eE][-+]?\d+)?")
_MANY_DIGITS = re.compile(r"\d{3,}(?:[eE][-+]?\d+)?|\d+[eE][-+]?\d+")  # `30000000000000004`, `140818e-05`


def _decimal_commas(cells: list[str], no_point: bool) -> int:
    """How many numbers `cells` are, each whole part joined to the fraction after it (`-0`,`3` → `-0,3`), where
    one fraction at least has the acquisition's many digits or an exponent, or the data have no point (`no_point`);
    else 0 (a row of whole numbers with a field too many among rows of points pairs up too, and is no decimal
    comma)."""
    numbers, written, at = 0, no_point, 0
    while at < len(cells):
        if at + 1 < len(cells) and _WHOLE.fullmatch(cells[at]) and _FRACTION.fullmatch(cells[at + 1]):
            written, at = written or bool(_MANY_DIGITS.fullmatch(cells[at + 1])), at + 2
        else:
            at += 1
        numbers += 1
    return numbers if written else 0


def _text_hint(name: str, header: Header, first_row: bool) -> str:
    """What a reject adds for text from the first row on in a column the registry does not name (another
    acquisition's `Timestamp`): how to have it stored as text. A number gone bad later in a column is damage."""
    spec = header.spec
    if not first_row or name in spec.required_columns or name in spec.optional_columns:
        return ""
    return f" (a column of text? list it under text_columns of {header.proc} in config/procedures.yaml)"


def _reads_as_number(token: str) -> bool:
    """Polars reads it as a Float64: `float` also takes `1_000`, other scripts' digits (`١٢`) and blanks around
    the number, which Polars refuses, and the reject then named no line."""
    if not token.isascii() or "_" in token or token != token.strip():  # `float` skips a form feed, Polars not
        return False
    try:
        float(token)
    except ValueError:
        return False
    return True
