"""A run's Parquet footer: what validation needs of every run, decoded by hand (Thrift compact protocol): the row
count and the run its record names; and the whole record, for repair, recovery and the deep check."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, NamedTuple

from labtui.core.json_text import parse_json
from labtui.core.layout import RUN_RECORD_KEY

_RECORD_RUN_ID = b'{"run_id":"'  # how a run's record begins (`stage_chunk.run_record`); a run_id is 16 hex digits


class Footer(NamedTuple):
    rows: int
    run_id: str | None  # the run its record names; None without a record (staged before records moved in)
    raw: bytes  # the footer undecoded (its key-value strings verbatim: `footer_value`)


def read_footer(path: str | Path) -> Footer:
    """Rows of a Parquet file and the run its record names, from its footer alone; ValueError when the file is not
    (or no longer) Parquet.

    pyarrow's `read_metadata` costs 30-70 µs a file, mostly building Python objects; validation reads every run's
    footer, so this decodes just `FileMetaData.num_rows` (Thrift compact protocol, field 3) in a few µs, and finds
    the record's run_id as the bytes it is stored as (a key-value string is stored verbatim).
    """
    footer = footer_bytes(path)
    pos = field_id = 0
    while footer[pos]:
        head = footer[pos]
        pos += 1
        if head >> 4:
            field_id += head >> 4
        else:
            value, pos = _varint(footer, pos)
            field_id = (value >> 1) ^ -(value & 1)
        if field_id == 3 and head & 0x0F == _I64:
            value, pos = _varint(footer, pos)
            return Footer((value >> 1) ^ -(value & 1), _record_run_id(footer), footer)
        pos = _skip_schema(footer, pos) if field_id == 2 and head & 0x0F == _LIST else _skip(footer, pos, head & 0x0F)
    raise ValueError("the Parquet footer has no row count")


def footer_bytes(path: str | Path) -> bytes:
    """A Parquet file's footer, undecoded (its key-value strings are in it verbatim); ValueError when the file is
    not (or no longer) Parquet."""
    fd = os.open(path, os.O_RDONLY)
    try:
        size = os.fstat(fd).st_size
        tail = os.pread(fd, 8, size - 8) if size >= 12 else b""
        if tail[4:] != b"PAR1" or os.pread(fd, 4, 0) != b"PAR1":
            raise ValueError("not a Parquet file (truncated, or overwritten)")
        length = int.from_bytes(tail[:4], "little")
        if length > size - 12:
            raise ValueError("the Parquet footer is longer than the file")
        return os.pread(fd, length, size - 8 - length)
    finally:
        os.close(fd)


def _record_run_id(footer: bytes) -> str | None:
    key = footer.rfind(RUN_RECORD_KEY.encode())
    start = footer.find(_RECORD_RUN_ID, key) if key >= 0 else -1
    if start < 0:
        return None
    start += len(_RECORD_RUN_ID)
    return footer[start : start + 16].decode("ascii", "replace")


def read_run_record(path: Path) -> dict[str, Any] | None:
    """The record in a run's Parquet footer (its manifest row, outcome and warnings); None without one (staged by
    an older labtui), when the file is not Parquet, or when its record is no JSON object."""
    try:
        return footer_record(footer_bytes(path))
    except (OSError, ValueError):
        return None


def footer_record(footer: bytes) -> dict[str, Any] | None:
    """The run's record in a footer already read (`footer_bytes`, `Footer.raw`); None without one, or when it is no
    JSON object."""
    try:
        record = None if (text := footer_value(footer, RUN_RECORD_KEY)) is None else parse_json(text)
    except ValueError:
        return None
    return record if isinstance(record, dict) else None


_known_schemas: list[bytes] = []  # encoded schema lists already decoded once: the runs of a procedure share one


def _skip_schema(footer: bytes, pos: int) -> int:
    """Skip the schema list, by recognising a known encoding when possible (Thrift compact is self-delimiting,
    so bytes equal to an encoding decoded before end exactly where it did)."""
    for known in _known_schemas:
        if footer.startswith(known, pos):
            return pos + len(known)
    end = _skip(footer, pos, _LIST)
    if len(_known_schemas) < 64:
        _known_schemas.append(footer[pos:end])
    return end


_I64, _DOUBLE, _BINARY, _LIST, _SET, _MAP, _STRUCT = 6, 7, 8, 9, 10, 11, 12


def footer_value(footer: bytes, key: str) -> str | None:
    """The value of a key-value string in a Parquet footer (`footer_bytes`), found by hand as the record's run_id is:
    a Thrift compact `KeyValue` is its key (field 1) then its value (field 2, a binary: header 0x18), each a varint
    length and bytes. None when the footer has no such key (the key's text inside another value is not it: its
    length byte is looked for with it)."""
    name = key.encode()
    at = footer.rfind(bytes([len(name)]) + name) if len(name) < 0x80 else -1
    pos = at + 1 + len(name)
    if at < 0 or pos >= len(footer) or footer[pos] != 0x18:
        return None
    length, pos = _varint(footer, pos + 1)
    return footer[pos : pos + length].decode("utf-8", "replace")


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            return result, pos
        shift += 7


def _skip(data: bytes, pos: int, ttype: int, in_container: bool = False) -> int:
    """Position after one Thrift compact value of type `ttype` starting at `pos`."""
    if ttype <= 2:  # bool: held in the field header, one byte inside a list or map
        return pos + in_container
    if ttype == 3:  # byte
        return pos + 1
    if ttype < _DOUBLE:  # i16, i32, i64: varints
        return _varint(data, pos)[1]
    if ttype == _DOUBLE:
        return pos + 8
    if ttype == _BINARY:
        length, pos = _varint(data, pos)
        return pos + length
    if ttype in (_LIST, _SET):
        head = data[pos]
        count, pos = (head >> 4, pos + 1) if head >> 4 != 15 else _varint(data, pos + 1)
        for _ in range(count):
            pos = _skip(data, pos, head & 0x0F, True)
        return pos
    if ttype == _MAP:
        count, pos = _varint(data, pos)
        if count:
            kinds = data[pos]
            pos += 1
            for _ in range(count):
                pos = _skip(data, _skip(data, pos, kinds >> 4, True), kinds & 0x0F, True)
        return pos
    if ttype == _STRUCT:
        while data[pos]:
            head = data[pos]
            pos = pos + 1 if head >> 4 else _varint(data, pos + 1)[1]  # long form: a zigzag field id follows
            pos = _skip(data, pos, head & 0x0F)
        return pos + 1
    raise ValueError(f"corrupt Parquet footer (Thrift type {ttype})")
