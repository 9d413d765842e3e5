"""Parity with the lab's old tool: does labtui's history of a chip list the same runs, in the same order?

Runs are matched by source file (the old `raw_data/` prefix stripped) and start time (within a millisecond), never
by wall-clock time. The old histories have known defects, which are explained and then ignored: rows repeated
through a `_test` day folder, runs of another chip group with the same number, times in the old tool's host zone,
and runs whose files are not in the raw tree.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import polars as pl

from labtui.core.errors import OperationFailed, UsageError
from labtui.core.history import history, resolve_chip

OLD_RAW_PREFIX = r"^(?:.*/)?raw_data/"
MATCH_TOLERANCE_US = 1_000
REQUIRED_COLUMNS = ("source_file", "start_time")
READ_COLUMNS = (*REQUIRED_COLUMNS, "day_folder", "date", "time_hms")  # of an old history, what the comparison reads
ITEMS_SHOWN = 20


@dataclass(frozen=True)
class Explained:
    """A known defect of the old history, and the old rows it accounts for."""

    code: str
    title: str
    count: int
    items: list[str]


@dataclass
class ParityReport:
    chip_group: str | None
    chip_number: int
    old_rows: int
    matched: int
    explained: list[Explained]
    only_old: pl.DataFrame  # old rows labtui does not have: source_file, start_time, day_folder, reason
    only_labtui: pl.DataFrame  # labtui history rows the old file does not list
    order: list[str]  # runs both list, at different positions

    @property
    def agree(self) -> bool:
        return self.only_old.is_empty() and self.only_labtui.is_empty() and not self.order

    def to_dict(self) -> dict[str, object]:
        return {
            "chip_group": self.chip_group, "chip_number": self.chip_number, "agree": self.agree,
            "old_rows": self.old_rows, "matched": self.matched,
            "explained": [vars(item) for item in self.explained],
            "only_old": self.only_old.to_dicts(),
            "only_labtui": self.only_labtui.select("seq", "source_file", "run_id").to_dicts(),
            "order": self.order,
        }


def read_legacy_history(path: Path) -> pl.DataFrame:
    """An old tool's history CSV (that very file: no pattern), every column as text; `UsageError` when there is no
    such file, `OperationFailed` when it cannot be read, ValueError when it is not a CSV with what matching needs."""
    try:
        data = path.read_bytes()
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError) as exc:  # a path typed wrong
        raise UsageError(f"cannot read the old history {path}: {exc.strerror}") from None
    except OSError as exc:
        raise OperationFailed("read", path, exc, reading=True) from None
    try:
        frame = pl.read_csv(data, infer_schema=False)
    except (pl.exceptions.ComputeError, pl.exceptions.NoDataError) as exc:
        problem = str(exc).splitlines()[0] if str(exc).strip() else "empty"
        raise ValueError(f"{path} is not an old history (a CSV of runs): {problem}") from None
    missing = [name for name in REQUIRED_COLUMNS if name not in frame.columns]
    if missing:
        raise ValueError(f"{path} is not an old history: no {', '.join(missing)} column")
    return frame


def parity(
    old: pl.DataFrame,
    manifest: pl.DataFrame,
    *,
    tz: str,
    raw_root: Path | None = None,
    number: int | None = None,
    group: str | None = None,
) -> ParityReport:
    """Compare an old history with labtui's history of the same chip (inferred from the runs when not given).

    `raw_root` lets runs whose files are absent from the raw tree be explained rather than reported.
    """
    rows = _match(old, manifest)
    group, number = _chip(rows, manifest, number, group)
    ours = history(manifest, number, group, tz=tz)
    first = pl.struct("source", "start_us").is_first_distinct()
    this_chip = pl.col("chip_number").eq_missing(number) & pl.col("chip_group").eq_missing(group)
    other_group = pl.col("chip_number").eq_missing(number) & ~pl.col("chip_group").eq_missing(group)
    missing_files = [] if raw_root is None else [
        source for source in rows.get_column("source").drop_nulls().unique() if not (raw_root / source).exists()
    ]
    absent = pl.col("source").is_in(missing_files) & pl.col("known_start_us").is_null()
    rows = rows.with_columns(
        kind=pl.when(~first).then(pl.lit("duplicate"))
        .when(pl.col("run_id").is_null() & absent).then(pl.lit("not_in_raw"))
        .when(pl.col("run_id").is_not_null() & this_chip).then(pl.lit("matched"))
        .when(pl.col("run_id").is_not_null() & other_group).then(pl.lit("other_group"))
        .otherwise(pl.lit("only_old"))
    )
    matched = rows.filter(pl.col("kind") == "matched")
    explained = [
        _explain(rows, "duplicate", "rows listed twice (e.g. through a `_test` day folder)"),
        _explain(rows, "other_group", f"runs of another chip group with number {number}"),
        _explain(rows, "not_in_raw", "runs whose files are not in the raw tree"),
        _host_zone(matched, ours),
    ]
    return ParityReport(
        chip_group=group,
        chip_number=number,
        old_rows=old.height,
        matched=matched.height,
        explained=[item for item in explained if item is not None],
        only_old=rows.filter(pl.col("kind") == "only_old").select(
            pl.col("source").alias("source_file"), "start_time", "day_folder", _REASON.alias("reason")
        ),
        only_labtui=ours.filter(~pl.col("run_id").is_in(matched.get_column("run_id").implode())),
        order=_order_differences(matched, ours),
    )


def _match(old: pl.DataFrame, manifest: pl.DataFrame) -> pl.DataFrame:
    """Old rows with the manifest run they name (run_id null when the file or its start time is not staged); of
    the old columns, those matching reads (a history labtui exported has the manifest's own columns too)."""
    old = old.select(name for name in READ_COLUMNS if name in old.columns)
    old = old.with_row_index("old_row").with_columns(
        source=pl.col("source_file").str.strip_chars().str.replace(OLD_RAW_PREFIX, ""),
        start_us=(pl.col("start_time").cast(pl.Float64, strict=False) * 1e6).round().cast(pl.Int64, strict=False),
        day_folder=pl.col("day_folder") if "day_folder" in old.columns else pl.lit(None, dtype=pl.String),
    )
    staged = manifest.select(
        pl.col("source_file").alias("source"),
        pl.col("start_time_utc").dt.epoch("us").alias("known_start_us"),
        "run_id", "chip_group", "chip_number", "chip_name", "start_time_utc",
    )
    same_run = (pl.col("start_us") - pl.col("known_start_us")).abs() <= MATCH_TOLERANCE_US
    return (
        old.join(staged, on="source", how="left")
        .with_columns(
            pl.when(same_run).then(pl.col(name)).alias(name)
            for name in ("run_id", "chip_group", "chip_number", "chip_name", "start_time_utc")
        )
        .sort("old_row")
    )


def _chip(rows: pl.DataFrame, manifest: pl.DataFrame, number: int | None, group: str | None) -> tuple[str | None, int]:
    """The chip the old history is about: as given, else the chip most of its runs belong to."""
    if number is not None:
        return resolve_chip(manifest, number, group)
    counts = rows.filter(pl.col("chip_number").is_not_null()).group_by("chip_group", "chip_number").len()
    if counts.is_empty():
        raise ValueError("none of the old history's runs is staged: cannot tell which chip it is about; give the chip")
    best = counts.sort(["len", "chip_number", "chip_group"], descending=[True, False, False], nulls_last=True).row(0)
    return best[0], best[1]


def _explain(rows: pl.DataFrame, kind: str, title: str) -> Explained | None:
    hits = rows.filter(pl.col("kind") == kind)
    if hits.is_empty():
        return None
    items = [
        f"{source} ({folder})" if folder else source
        for source, folder in hits.select("source", "day_folder").head(ITEMS_SHOWN).iter_rows()
    ]
    return Explained(kind, title, hits.height, items)


def _host_zone(matched: pl.DataFrame, ours: pl.DataFrame) -> Explained | None:
    """Old wall-clock times that differ from labtui's local ones: the old tool's host zone, named by its offsets."""
    if "date" not in matched.columns or "time_hms" not in matched.columns:
        return None
    compared = matched.join(ours.select("run_id", local_date="date", local_time="time_hms"), on="run_id").with_columns(
        old_wall=pl.concat_str("date", pl.lit(" "), "time_hms").str.to_datetime("%Y-%m-%d %H:%M:%S", strict=False)
    )
    shifted = compared.filter(
        (pl.col("date") != pl.col("local_date").cast(pl.String)) | (pl.col("time_hms") != pl.col("local_time"))
    ).with_columns(
        offset_h=((pl.col("old_wall") - pl.col("start_time_utc").dt.replace_time_zone(None)).dt.total_seconds() / 3600)
        .round(2)
    )
    if shifted.is_empty():
        return None
    offsets = ", ".join(f"UTC{hours:+g} h" for hours in sorted(shifted.get_column("offset_h").drop_nulls().unique()))
    items = [
        f"{source}: {date} {time} (labtui {local_date} {local_time})"
        for source, date, time, local_date, local_time in shifted.select(
            "source", "date", "time_hms", "local_date", "local_time"
        ).head(ITEMS_SHOWN).iter_rows()
    ]
    return Explained("host_zone", f"wall-clock times in the old tool's host zone ({offsets or 'unparseable'})",
                     shifted.height, items)


# why labtui's history lacks an old row that no known defect explains
_REASON = (
    pl.when(pl.col("run_id").is_not_null())
    .then(pl.format("labtui has this run under chip {}", pl.col("chip_name").fill_null("(none)")))
    .when(pl.col("start_us").is_null())  # before the next: it compares nothing with the staged start time
    .then(pl.lit("the old row has no usable start_time"))
    .when(pl.col("known_start_us").is_not_null())
    .then(pl.lit("the staged file has another start time (re-recorded?)"))
    .otherwise(pl.lit("the raw file is not staged (see `labtui rejects` and `labtui validate`)"))
)


def _order_differences(matched: pl.DataFrame, ours: pl.DataFrame) -> list[str]:
    """Runs both histories list, whose position among those shared runs differs."""
    old_order = matched.get_column("run_id").to_list()
    shared = set(old_order)
    new_order = [run_id for run_id in ours.get_column("run_id").to_list() if run_id in shared]
    if old_order == new_order:
        return []
    new_position = {run_id: position for position, run_id in enumerate(new_order, start=1)}
    seq = dict(ours.select("run_id", "seq").iter_rows())
    sources = dict(matched.select("run_id", "source").iter_rows())
    return [
        f"{sources[run_id]}: old position {position}, labtui position {new_position[run_id]} (seq {seq[run_id]})"
        for position, run_id in enumerate(old_order, start=1)
        if new_position[run_id] != position
    ]
