"""Runs that are copies of another file's run: the same chip, procedure and start time, to the microsecond (`labtui
validate`'s `same_start` reads the last two), under another name (`IVg_1 (conflicted copy).csv` beside `IVg_1.csv`,
`… - Copy.csv`, a download cut short). Each is staged as a run of its own, counted twice in histories and trends;
where the bytes are the same the stager says so as it books the file (`Stager._collect`), and where they differ (a
copy cut short, read as an aborted run) once every file is read (`copy_notes`)."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any, NamedTuple

from labtui.core.wording import quoted

if TYPE_CHECKING:
    import polars as pl

_KEY = ("chip_group", "chip_number", "proc", "start_time_utc")  # two chips started at one instant: no copies
NAMED = 3  # the other files a note names, then how many more
_MOVE = ("Each is a run of the {whose} history: move the {what} out of the raw tree (labtui never deletes raw "
         "data), then `labtui prune`")


class StagedStart(NamedTuple):
    """What `copy_notes` reads of a staged run's manifest row (kept for every run until the stage's end: small)."""

    source_file: str
    chip_group: str | None
    chip_number: int | None
    proc: str
    start_time_utc: dt.datetime
    n_rows: int
    source_sha256: str


def copy_notes(store: pl.DataFrame, staged: list[StagedStart]) -> dict[str, str]:
    """The staged runs' source files → the file whose run each may be a copy of: one of the same chip, procedure and
    start time, other bytes (a copy of the same bytes is said as it is booked). Of such runs the original is taken
    to be the one of the most rows, then one staged before (a byte copy staged now is its copy), then of the
    shortest name (`IVg_1.csv`, not `IVg_1 - Copy.csv`); a staged original is told of the copies staged before it.
    `store`: the manifest's rows of the raw files present but the staged ones."""
    if not staged:
        return {}
    import polars as pl

    stored = store.select(StagedStart._fields)
    new = pl.DataFrame(staged, schema=stored.schema, orient="row")  # typed as the manifest's (a column all None)
    stored = stored.filter(pl.col("start_time_utc").is_in(new["start_time_utc"].implode()))  # a 65k-run store's few
    every = pl.concat([stored.with_columns(staged=pl.lit(False)), new.with_columns(staged=pl.lit(True))])
    contents = every.filter(pl.col("source_sha256").n_unique().over(_KEY) > 1)
    notes: dict[str, str] = {}
    for group in contents.partition_by(list(_KEY)):
        runs = sorted(group.iter_rows(named=True),
                      key=lambda run: (-run["n_rows"], run["staged"], len(run["source_file"]), run["source_file"]))
        original, others = runs[0], [run for run in runs[1:] if run["source_sha256"] != runs[0]["source_sha256"]]
        for run in others:
            if run["staged"]:
                notes[run["source_file"]] = _copy_note(run, original)
        if original["staged"] and (before := [run for run in others if not run["staged"]]):
            notes[original["source_file"]] = _original_note(original, before)
    return notes


def _copy_note(run: dict[str, Any], original: dict[str, Any]) -> str:
    rows = (f", and holds {run['n_rows']} of its {original['n_rows']} data rows"
            if run["n_rows"] < original["n_rows"] else "")
    return (f"its {run['proc']} run started at the same instant as that of {quoted(original['source_file'])} "
            f"({_same(run)}){rows}: a copy of it (a sync tool's conflict copy, a download cut short)? "
            f"{_move(run, 'copy')}")


def _original_note(original: dict[str, Any], copies: list[dict[str, Any]]) -> str:
    names = ", ".join(quoted(run["source_file"]) for run in copies[:NAMED])
    more = f" and {len(copies) - NAMED} more" if len(copies) > NAMED else ""
    return (f"its {original['proc']} run started at the same instant as that of {names}{more}, staged before "
            f"({_same(original)}): copies of this file? {_move(original, 'copies')}")


def _same(run: dict[str, Any]) -> str:
    """What the runs share, as a note says it: a calibration has no chip."""
    return f"{'the same chip, ' if run['chip_number'] is not None else ''}its Start time to the microsecond"


def _move(run: dict[str, Any], what: str) -> str:
    return _MOVE.format(whose="chip's" if run["chip_number"] is not None else "setup's", what=what)
