"""Reject records: one JSON per rejected raw file, named from a hash of its relative path (names never collide)."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from itertools import islice
from pathlib import Path

from pydantic import BaseModel, ConfigDict, ValidationError

from labtui.core.atomic import atomic_write_bytes, is_temp

HEAD_LINES = 30  # lines shown from the top of a rejected file
CONTEXT = 6  # lines shown around an offending line further down


class RejectRecord(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    source_file: str  # relative to the raw root, forward slashes
    kind: str  # machine-readable problem class, e.g. no_start_time
    reason: str  # a sentence a physicist understands
    line: int | None = None
    rejected_at_utc: dt.datetime
    source_size: int | None = None
    source_mtime_ns: int | None = None  # to skip an unchanged rejected file on the next run
    previous_run_id: str | None = None  # the run this file was staged as before it broke

    def describe(self) -> str:
        return f"{self.reason} (line {self.line})" if self.line else self.reason


def reject_path(rejects_dir: Path, source_file: str) -> Path:
    return rejects_dir / f"{hashlib.sha1(source_file.encode('utf-8')).hexdigest()[:16]}.json"


def write_reject(rejects_dir: Path, record: RejectRecord) -> Path:
    path = reject_path(rejects_dir, record.source_file)
    atomic_write_bytes(path, record.model_dump_json(indent=2).encode("utf-8"))
    return path


def remove_reject(rejects_dir: Path, source_file: str) -> bool:
    path = reject_path(rejects_dir, source_file)
    try:
        path.unlink()
    except FileNotFoundError:
        return False
    return True


def load_rejects(rejects_dir: Path) -> dict[str, RejectRecord]:
    """All reject records by source file; an unreadable record is skipped (validation reports the store)."""
    records: dict[str, RejectRecord] = {}
    if not rejects_dir.is_dir():
        return records
    for path in sorted(rejects_dir.glob("*.json")):
        if is_temp(path.name):
            continue
        try:
            record = RejectRecord.model_validate_json(path.read_bytes())
        except (OSError, ValidationError, json.JSONDecodeError):
            continue
        records[record.source_file] = record
    return records


def excerpt(path: Path, line: int | None) -> list[tuple[int, str]]:
    """The file's first lines, plus the lines around `line` when it lies further down; (number, text) pairs."""
    wanted = set(range(1, HEAD_LINES + 1))
    if line is not None:
        wanted |= set(range(max(1, line - CONTEXT), line + CONTEXT // 2 + 1))
    with path.open("rb") as handle:
        numbered = islice(enumerate(handle, start=1), max(wanted))
        return [(n, raw.decode("utf-8", "replace").rstrip("\r\n")) for n, raw in numbered if n in wanted]
