"""What the annotation log means now: the current annotations per run, joined onto runs, filtered, and shown."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from labtui.core.annotations.log import LOG_ORDER, Change, annotations_dir, read_log
from labtui.core.wording import counted

ANNOTATION_COLUMNS = ("starred", "excluded", "exclude_reason", "tags", "note")
CURRENT_SCHEMA: dict[str, pl.DataType] = {
    "run_id": pl.String(), "starred": pl.Boolean(), "excluded": pl.Boolean(), "exclude_reason": pl.String(),
    "tags": pl.List(pl.String()), "note": pl.String(),
}
_PAIRS = {"star": "starred", "unstar": "starred", "exclude": "excluded", "include": "excluded"}

_current: dict[Path, tuple[pl.DataFrame, pl.DataFrame]] = {}  # store → (the log it was computed from, its view)
_lock = threading.Lock()


def current_annotations(store_root: Path) -> pl.DataFrame:
    """One row per annotated run: run_id, starred, excluded, exclude_reason, tags (oldest first), note."""
    log = read_log(store_root)
    key = Path(os.path.realpath(annotations_dir(store_root)))
    with _lock:
        cached = _current.get(key)
        if cached is None or cached[0] is not log:
            cached = _current[key] = (log, current_view(log))
        return cached[1]


def current_view(log: pl.DataFrame) -> pl.DataFrame:
    """The last word of each pair per run; runs whose annotations were all taken back have no row."""
    if log.is_empty():  # most stores: no query to run
        return pl.DataFrame(schema=CURRENT_SCHEMA)
    ordered = log.sort(LOG_ORDER)
    last = (
        ordered.filter(pl.col("kind").is_in(list(_PAIRS)))
        .with_columns(field=pl.col("kind").replace_strict(_PAIRS))
        .group_by("run_id", "field", maintain_order=True)
        .agg(pl.col("kind").last(), pl.col("value").last())
    )
    starred = last.filter(pl.col("field") == "starred").select("run_id", starred=pl.col("kind") == "star")
    excluded = last.filter(pl.col("field") == "excluded").select(
        "run_id",
        excluded=pl.col("kind") == "exclude",
        exclude_reason=pl.when(pl.col("kind") == "exclude").then(pl.col("value")),
    )
    tags = (
        ordered.filter(pl.col("kind").is_in(["tag", "untag"]))
        .group_by("run_id", "value", maintain_order=True)
        .agg(pl.col("kind").last(), first=pl.col("time_utc").filter(pl.col("kind") == "tag").first())
        .filter(pl.col("kind") == "tag")
        .sort("first")
        .group_by("run_id", maintain_order=True)
        .agg(tags=pl.col("value"))
    )
    notes = (
        ordered.filter(pl.col("kind") == "note")
        .group_by("run_id", maintain_order=True)
        .agg(note=pl.col("value").last())
        .with_columns(note=pl.when(pl.col("note") != "").then(pl.col("note")))
    )
    current = ordered.select("run_id").unique(maintain_order=True)
    for part in (starred, excluded, tags, notes):
        current = current.join(part, on="run_id", how="left")
    current = _filled(current)
    annotated = pl.col("starred") | pl.col("excluded") | (pl.col("tags").list.len() > 0) | pl.col("note").is_not_null()
    return current.filter(annotated).select(list(CURRENT_SCHEMA))


def _filled(frame: pl.DataFrame) -> pl.DataFrame:
    """No annotation reads as not starred, not excluded, no tags (an empty list), no note."""
    return frame.with_columns(
        pl.col("starred").fill_null(False),
        pl.col("excluded").fill_null(False),
        pl.col("tags").fill_null(pl.lit([], dtype=pl.List(pl.String))),
    )


def with_annotations(runs: pl.DataFrame, annotations: pl.DataFrame) -> pl.DataFrame:
    """`runs` (any frame with run_id) plus the five annotation columns, filled for runs without annotations."""
    joined = runs.drop([c for c in ANNOTATION_COLUMNS if c in runs.columns]).join(
        annotations.select("run_id", *ANNOTATION_COLUMNS).cast(CURRENT_SCHEMA),  # type: ignore[arg-type]
        on="run_id", how="left", maintain_order="left",
    )
    return _filled(joined)


def altered(change: Change, runs: pl.DataFrame) -> pl.Series:
    """Which of `runs` (with their annotation columns) `change` alters: starring a starred run, including one not
    excluded, untagging a tag it lacks, … alters nothing, and is not worth a record."""
    match change.kind:
        case "star" | "unstar":
            return runs["starred"] != (change.kind == "star")
        case "exclude":
            return ~(runs["excluded"] & (runs["exclude_reason"] == change.value).fill_null(False))
        case "include":
            return runs["excluded"]
        case "tag" | "untag":
            return runs["tags"].list.contains(change.value).fill_null(False) != (change.kind == "tag")
        case _:  # a note: replaced, or cleared (an empty value)
            return runs["note"].fill_null("") != (change.value or "")


def annotate_runs(store_root: Path, runs: pl.DataFrame) -> pl.DataFrame:
    """`runs` with the store's current annotations joined on: what histories and the Python API return."""
    return with_annotations(runs, current_annotations(store_root))


# -- filtering ---------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class AnnotationFilter:
    """Rows by annotation; excluded runs are left out unless `include_excluded` (and the caller says so)."""

    starred: bool = False
    tag: str | None = None
    include_excluded: bool = False

    def expression(self) -> pl.Expr:
        conditions = [pl.lit(True)]
        if self.starred:
            conditions.append(pl.col("starred"))
        if self.tag:
            conditions.append(pl.col("tags").list.contains(self.tag.strip()))
        if not self.include_excluded:
            conditions.append(~pl.col("excluded"))
        return pl.all_horizontal(conditions)

    def apply(self, runs: pl.DataFrame) -> tuple[pl.DataFrame, int]:
        """The rows kept, and how many excluded runs that would otherwise match were hidden."""
        kept = runs.filter(self.expression())
        if self.include_excluded:
            return kept, 0
        matching = AnnotationFilter(self.starred, self.tag, include_excluded=True).expression()
        return kept, runs.filter(matching & pl.col("excluded")).height


def hidden_note(count: int) -> str:
    """The line every view prints when it leaves excluded runs out."""
    return f"{counted(count, 'excluded run')} hidden" if count else ""


# -- display and health ------------------------------------------------------------------------------------------
def log_lines(log: pl.DataFrame, tz: str) -> list[str]:
    """`2025-10-14 13:05:22  alice  excluded: contact lost` per record, in the lab's time zone."""
    local = log.with_columns(when=pl.col("time_utc").dt.convert_time_zone(tz).dt.strftime("%Y-%m-%d %H:%M:%S"))
    return [f"{when}  {author}  {Change(kind, value).describe()}"
            for when, author, kind, value in local.select("when", "author", "kind", "value").iter_rows()]



def summary(row: dict[str, Any], width: int = 40) -> str:
    """`★ ⊘ contact lost # 455 nm, hBN ✎ note` — the marks of one annotated row, for listings: each text on one
    line and cut to `width` characters (the full texts are the row's own columns)."""
    parts: Iterable[str] = (
        "★" if row.get("starred") else "",
        f"⊘ {_brief(row['exclude_reason'], width)}" if row.get("excluded") else "",
        "# " + _brief(", ".join(row["tags"]), width) if row.get("tags") else "",
        f"✎ {_brief(row['note'], width)}" if row.get("note") else "",
    )
    return "  ".join(part for part in parts if part)


def summaries(runs: pl.DataFrame) -> pl.Series:
    """`summary` of each of `runs` (with the annotation columns): a listing's ANNOTATIONS column."""
    rows = runs.select(ANNOTATION_COLUMNS).iter_rows(named=True)
    return pl.Series("marks", [summary(row) for row in rows], dtype=pl.String)


def _brief(text: str, width: int) -> str:
    line = " ".join(text.split())
    return line if len(line) <= width else line[: width - 1] + "…"
