"""Following a run while it is being measured: read only the bytes appended since the last look.

Never stages anything (a growing file is staged by the watcher once it settles); it only shows what is there.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import cast

import polars as pl

from labtui.core.extract import chip_name_of, has_light
from labtui.core.parser import HEADER_LIMIT, Header, parse_header
from labtui.core.raw_text import DATA_TAG
from labtui.core.registry import Registry
from labtui.core.rejects import Reject
from labtui.core.scan import csv_stem
from labtui.core.wording import counted

_COMPLETE_HEADER = re.compile(DATA_TAG + rb"\n[^\n]*\n")  # the data tag and the column row


class FollowedRun:
    """The rows written so far to one raw file; `refresh()` reads the new bytes, keeps a partial last line."""

    def __init__(self, path: Path, registry: Registry) -> None:
        self.path = path
        self.registry = registry  # the lab's (config.procedures_file), so its own procedures can be followed
        self._start_over()

    def _start_over(self) -> None:
        self.header: Header | None = None
        self.problem: str | None = None  # why the file cannot be followed (not this format, …)
        self.unreadable: str | None = None  # why it could not be read at the last refresh (deleted, moved)
        self._offset = 0
        self._pending = b""
        self._chunks: list[pl.DataFrame] = []

    def refresh(self) -> int:
        """Read what was appended; returns the number of new complete rows."""
        try:
            with open(self.path, "rb") as handle:
                if os.fstat(handle.fileno()).st_size < self._offset:  # written anew from its start
                    self._start_over()
                handle.seek(self._offset)
                new = handle.read()
        except OSError as exc:  # deleted or moved while followed, a share gone: said until it reads again
            self.unreadable = f"cannot read it: {exc.strerror or exc}"
            return 0
        self.unreadable = None
        self._offset += len(new)
        self._pending += new
        if self.header is None and not self._read_header():
            return 0
        assert self.header is not None  # _read_header sets it when it returns True
        cut = self._pending.rfind(b"\n") + 1
        block, self._pending = self._pending[:cut], self._pending[cut:]
        if not block.strip():
            return 0
        try:
            rows = pl.read_csv(block, has_header=False, schema=self._schema(), truncate_ragged_lines=True)
            rows = rows.filter(~pl.all_horizontal(pl.all().is_null()))  # a blank line is not a row
        except (pl.exceptions.ComputeError, pl.exceptions.SchemaError) as exc:
            self.problem = f"unreadable rows in {self.path.name}: {exc}".splitlines()[0]
            return 0
        self._chunks.append(self.header.in_si(rows))
        return rows.height

    def _read_header(self) -> bool:
        match = _COMPLETE_HEADER.search(self._pending)
        if match is None:
            return False  # the acquisition has not written the column row yet
        try:
            self.header = parse_header(self._pending[: match.end()], self.registry, csv_stem(self.path.name))
        except Reject as exc:
            self.problem = str(exc)
            if self._offset <= HEADER_LIMIT:  # read again: PyMeasure inserts the start time as a queued run begins
                self._offset, self._pending = 0, b""
            return False
        self.problem = None
        self._pending = self._pending[match.end() :]
        return True

    @property
    def frame(self) -> pl.DataFrame:
        if len(self._chunks) > 1:
            self._chunks = [pl.concat(self._chunks)]
        if self._chunks:
            return self._chunks[0]
        return pl.DataFrame(schema=self._schema())

    def _schema(self) -> dict[str, type[pl.DataType]]:
        """As the stager stores them: the procedure's text columns (IVsaw's polarity) as strings, the rest Float64."""
        if self.header is None:
            return {}
        text = set(self.header.spec.text_columns)
        return {stored: pl.String if name in text else pl.Float64
                for name, stored in zip(self.header.columns, self.header.stored_columns, strict=False)}

    def progress(self) -> tuple[float, float] | None:
        """(done, expected) in seconds for timed runs (It: 1.5 laser periods), else None."""
        header = self.header
        rule = header.spec.completeness if header else None
        if header is None or rule is None or rule.kind != "duration" or self.frame.height == 0:
            return None
        period = header.fields.get("laser_period_s")
        time_column = (
            header.stored_columns[header.columns.index(rule.column)] if rule.column in header.columns else None
        )
        if not period or time_column is None:
            return None
        return float(cast(float, self.frame[time_column].max())), rule.periods * period

    def describe(self) -> str:
        """`It2025-10-14_35.csv — Alisson67, λ=455 nm, 83 s of 180 s`: the dashboard's "measuring now" line."""
        if self.unreadable is not None:
            return f"{self.path.name} — {self.unreadable}"
        if self.header is None:
            return f"{self.path.name} — {self.problem or 'waiting for the header'}"
        fields = self.header.fields
        parts = [p for p in (chip_name_of(fields.get("chip_group"), fields.get("chip_number")),) if p]
        if fields.get("laser_wavelength_nm") and has_light(self.header):  # the manifest's rule: a dark run's λ is stale
            parts.append(f"λ={fields['laser_wavelength_nm']:g} nm")
        progress = self.progress()
        parts.append(f"{progress[0]:.0f} s of {progress[1]:.0f} s" if progress else counted(self.frame.height, "row"))
        return f"{self.path.name} — {', '.join(parts)}"
