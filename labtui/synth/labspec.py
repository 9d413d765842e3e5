"""What lab to generate and what a generated lab holds: the spec, and the ground truth `generate_lab` returns."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

IRREGULARITIES = frozenset({
    "aborted_run",  # fewer rows than the sweep or period implies → stage, is_complete = false
    "header_only",  # a run that never started: no #Metadata, no start time, no rows → reject
    "overnight_run",  # queued in the evening of day D, runs past local midnight → stage, local date D+1 (its
    #                   first runs start in the evening, so they also show as evening runs)
    "evening_run",  # starts after 21:00 local: the UTC date is the next day → stage, local date D
    "chip_reused",  # a chip number also used under the group "other" → stage as a distinct chip
    "dead_chip",  # a broken channel, currents at noise level → stage
    "junk_file",  # .DS_Store → ignore
    "legacy_folder",  # hand-made day folders like Alisson_15_sept/ → stage
    "index_gap",  # the queue index skips a number → stage
    "index_out_of_order",  # queue indices not in start-time order → stage
    "in_progress",  # the newest run, still being written (truncated, just modified) → defer
})


@dataclass(frozen=True)
class LabSpec:
    """What lab to generate. `irregularities` is True (all), False (none) or a set of names from IRREGULARITIES."""

    chips: int = 6
    days: int = 20
    seed: int = 1
    start_date: dt.date = dt.date(2025, 9, 1)
    tz: str = "America/Santiago"
    irregularities: bool | Iterable[str] = True
    group: str = "Alisson"
    kinds: frozenset[str] = field(init=False)  # the irregularities switched on

    def __post_init__(self) -> None:
        chosen = self.irregularities
        kinds = IRREGULARITIES if chosen is True else frozenset() if chosen is False else frozenset(chosen)
        if unknown := kinds - IRREGULARITIES:
            raise ValueError(f"unknown irregularities {sorted(unknown)}; known: {sorted(IRREGULARITIES)}")
        if self.chips < 1 or self.days < 1:
            raise ValueError("a lab needs at least one chip and one day")
        if self.seed < 0:
            raise ValueError(f"the seed is a whole number ≥ 0, not {self.seed}")
        object.__setattr__(self, "kinds", kinds)

    def enabled(self, kind: str) -> bool:
        return kind in self.kinds


@dataclass(frozen=True)
class RunInfo:
    """Ground truth about one written run file, for asserting what a stager extracts."""

    path: str  # relative to the raw root, forward slashes
    proc: str
    chip: tuple[str, int] | None
    day_folder: str
    start_utc: dt.datetime | None  # None for a header-only file
    date_local: dt.date | None
    n_rows: int
    expected_rows: int
    laser_voltage: float | None
    wavelength_nm: float | None
    dirac_v: float | None  # the chip's true Dirac point when the run started
    truth: Mapping[str, float | None] = field(default_factory=dict)  # true derived quantities (`synth.truth`)

    @property
    def complete(self) -> bool:
        return self.n_rows == self.expected_rows and self.start_utc is not None


@dataclass(frozen=True)
class IrregularFile:
    """A file (or folder) that is irregular on purpose."""

    path: str  # relative to the raw root
    kind: str  # one of IRREGULARITIES
    detail: str
    expect: str  # what a stager should do: stage, stage_incomplete, reject, ignore, defer


@dataclass(frozen=True)
class LabSummary:
    root: Path
    runs: tuple[RunInfo, ...]
    irregular: tuple[IrregularFile, ...]
    chips: tuple[tuple[str, int], ...]
    chip_params: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)  # chip name → chip_params.yaml entry

    @property
    def counts(self) -> dict[str, int]:
        """Run files per procedure."""
        return dict(Counter(run.proc for run in self.runs))

    @property
    def rejects(self) -> tuple[str, ...]:
        """Files a stager must reject (the header-only ones)."""
        return tuple(item.path for item in self.irregular if item.expect == "reject")

    def of_kind(self, kind: str) -> tuple[IrregularFile, ...]:
        return tuple(item for item in self.irregular if item.kind == kind)

