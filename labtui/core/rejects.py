"""Reject records: one JSON per rejected raw file, named from a hash of its relative path (names never collide)."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Literal, get_args

from labtui.core.atomic import atomic_write_bytes, is_temp, read_record
from labtui.core.errors import OperationFailed
from labtui.core.fields import build, json_bytes, one_of
from labtui.core.json_text import parse_json

HEAD_LINES = 30  # lines shown from the top of a rejected file
CONTEXT = 6  # lines shown around an offending line further down
LINE_BYTES = 400  # of one line shown: a data row is ~60, a header line ~40

RejectKind = Literal[
    # the parser
    "empty", "not_this_format", "unknown_procedure", "conflicting_parameter", "no_data_section", "no_columns",
    "bad_columns", "duplicate_column", "missing_column", "no_start_time", "bad_start_time", "no_chip_number",
    "bad_chip_number", "bad_chip_group", "header_too_large", "no_rows", "bad_data", "bad_row", "bad_value",
    # the safe read
    "symlink", "not_a_file", "unreadable", "too_large",
    # the stager
    "invalid_values", "duplicate_run", "cut_short",
    # written by early versions (now `not_this_format`): their records still read
    "no_procedure",
]
"""Why a file was rejected: machine-readable, stored in reject records (a Literal, so the parser's raise sites
name it as the plain string they store)."""


def reject_text(reason: str, line: int | None) -> str:
    """`a data row has 3 fields, the column row has 4 (line 12)`: a reject as every view says it."""
    return f"{reason} (line {line})" if line else reason


class Reject(Exception):
    """A file that cannot be identified or trusted; becomes a reject record, never a crash."""

    def __init__(self, kind: RejectKind, reason: str, line: int | None = None, *,
                 plausible_from: dt.datetime | None = None, owner: str | None = None) -> None:
        super().__init__(reason)
        self.kind = kind
        self.reason = reason
        self.line = line
        self.plausible_from = plausible_from  # see `RejectRecord.plausible_from_utc`
        self.owner = owner  # see `RejectRecord.owner_file`

    def __str__(self) -> str:
        return reject_text(self.reason, self.line)


@dataclass(frozen=True, kw_only=True)
class RejectRecord:
    source_file: str  # relative to the raw root, forward slashes
    kind: RejectKind
    reason: str  # a sentence a physicist understands
    line: int | None = None
    rejected_at_utc: dt.datetime
    source_size: int | None = None
    source_mtime_ns: int | None = None  # to skip an unchanged rejected file on the next run
    previous_run_id: str | None = None  # the run this file was staged as before it broke, which stays staged
    registry_sha256: str | None = None  # the procedure registry it was judged by (`config.registry_digest`)
    extraction_rules: int = 0  # the `extraction_rules.EXTRACTION_RULES` it was judged by (0: before records said)
    # a start time in the future of the staging computer's clock: the moment that clock makes it plausible, from which
    # the file is read again (a clock 420 days behind, set right); None for a reject the file alone decides
    plausible_from_utc: dt.datetime | None = None
    # a case twin's (`duplicate_run`): the file that owns the run, whose reject holds only while that file is there
    # and as staged (`scan.known_outcome`); None for a reject the file alone decides
    owner_file: str | None = None

    def plausible_now(self) -> bool:
        """Its start time, in the future when it was judged, is not any more by this computer's clock."""
        return self.plausible_from_utc is not None and dt.datetime.now(dt.UTC) >= self.plausible_from_utc

    def describe(self) -> str:
        kept = f"; its last good content stays staged (run {self.previous_run_id})" if self.previous_run_id else ""
        return reject_text(self.reason, self.line) + kept

    @classmethod
    def from_json(cls, text: bytes) -> RejectRecord:
        """A record from its file; `ValueError` naming every bad field (`json.JSONDecodeError` is one)."""
        return build(cls, parse_json(text), types={"RejectKind": _KIND})

    def headline(self) -> str:
        """`2025-10-14/It2025-10-14_3.csv: the file is empty`: the file and why, on one line."""
        return f"{self.source_file}: {self.describe()}"


_KIND = one_of(get_args(RejectKind))


def reject_path(rejects_dir: Path, source_file: str) -> Path:
    return rejects_dir / f"{hashlib.sha1(source_file.encode('utf-8')).hexdigest()[:16]}.json"


def write_reject(rejects_dir: Path, record: RejectRecord) -> Path:
    path = reject_path(rejects_dir, record.source_file)
    try:
        atomic_write_bytes(path, json_bytes(record))
    except OSError as error:  # a full disk said as "operating-system error", naming no file
        raise OperationFailed("write the reject record", path, error) from error
    return path


def remove_reject(rejects_dir: Path, source_file: str) -> bool:
    path = reject_path(rejects_dir, source_file)
    try:
        path.unlink()
    except FileNotFoundError:
        return False
    return True


def read_rejects(rejects_dir: Path) -> tuple[dict[str, RejectRecord], list[str]]:
    """All reject records by source file, and the names of those that cannot be read (validation reports them)."""
    records: dict[str, RejectRecord] = {}
    unreadable: list[str] = []
    if not rejects_dir.is_dir():
        return records, unreadable
    for path in sorted(rejects_dir.glob("*.json")):
        if is_temp(path.name):
            continue
        try:
            record = RejectRecord.from_json(read_record(path))
        except (OSError, ValueError):
            unreadable.append(path.name)
            continue
        records[record.source_file] = record
    return records, unreadable


def load_rejects(rejects_dir: Path) -> dict[str, RejectRecord]:
    """All readable reject records by source file: an unreadable one is skipped (the next stage re-judges its file)."""
    return read_rejects(rejects_dir)[0]


def unreadable_rejects(rejects_dir: Path) -> list[str]:
    """Reject records `load_rejects` skips: report them rather than lose them."""
    return read_rejects(rejects_dir)[1]


def excerpt(path: Path, line: int | None) -> list[tuple[int, str]]:
    """The file's first lines, plus the lines around `line` when it lies further down; (number, text) pairs, each
    line cut to `LINE_BYTES` (a file without line breaks, or a 5-million-field row, is never read into memory)."""
    wanted = set(range(1, HEAD_LINES + 1))
    if line is not None:
        wanted |= set(range(max(1, line - CONTEXT), line + CONTEXT // 2 + 1))
    with path.open("rb") as handle:
        return [(n, text) for n, text in _cut_lines(handle, max(wanted)) if n in wanted]


def _cut_lines(handle: BinaryIO, count: int) -> Iterator[tuple[int, str]]:
    """The first `count` lines, each at most `LINE_BYTES` (then `…`); the rest of a long line is skipped in chunks."""
    for number in range(1, count + 1):
        raw = handle.readline(LINE_BYTES)
        if not raw:
            return
        cut = len(raw) == LINE_BYTES and not raw.endswith(b"\n")
        while cut and (rest := handle.readline(1 << 16)) and not rest.endswith(b"\n"):
            pass
        yield number, raw.decode("utf-8", "replace").rstrip("\r\n") + ("…" if cut else "")
