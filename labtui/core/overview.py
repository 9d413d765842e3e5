"""The store at a glance (the app's dashboard): its numbers, the latest runs, the runs per day and the last Dirac
point of each chip measured lately. Pure functions of the manifest, the metrics and the annotations.

The numbers the manifest alone decides are also kept beside it, in `_manifest/overview.json`: the writer rewrites
the file right after each manifest replace (with the stat index), named by the SHA-256 of the manifest it
describes, so the app paints its dashboard before it has imported Polars. As with the stat index, a file that does
not describe the manifest now committed (a crash between the two replaces, a repair, an older labtui, another
time zone, a hand edit) is not used: the numbers are computed from the manifest instead.

This module imports Polars only inside the functions that compute: reading the file must not load it.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from labtui.core.atomic import atomic_write_bytes
from labtui.core.fields import CONVERTERS
from labtui.core.json_text import parse_json

if TYPE_CHECKING:
    import polars as pl

LATEST_RUNS = 25  # on the dashboard (a tall terminal shows about 25)
LATEST_KEYS = ("date", "time_hms", "chip_name", "proc", "light", "summary", "run_id")  # a latest run, as text
DIRAC_CHIPS = 8  # the recently measured chips whose last Dirac point the dashboard shows
ACTIVITY_DAYS = 30  # days in the dashboard's runs-per-day sparkline
OVERVIEW_NAME = "overview.json"
FORMAT = 1

LatestRun = dict[str, str | None]
_text, _instant = CONVERTERS["str"], CONVERTERS["dt.datetime"]  # the records' own checks: text, a zoned ISO time


@dataclass(frozen=True)
class Overview:
    """The dashboard's numbers: what the manifest decides, in the lab's time zone."""

    runs: int
    chips: int
    procs: dict[str, int]  # runs per procedure, most first
    last_staged_utc: dt.datetime | None
    latest: list[LatestRun]  # the last runs measured, newest first: LATEST_KEYS as display text (history columns)
    per_day: list[int]  # runs per local day from first_day on, up to the last run's day (ACTIVITY_DAYS at most)
    first_day: dt.date | None


def overview(manifest: pl.DataFrame, tz: str) -> Overview:
    import polars as pl

    from labtui.core.history import CHIP_KEYS, summary_line, timeline

    procs = manifest["proc"].value_counts(sort=True)
    per_day, first_day = runs_per_day(manifest)
    latest = timeline(manifest.top_k(LATEST_RUNS, by="start_time_utc"), tz=tz).reverse()
    return Overview(
        runs=manifest.height,
        chips=manifest.select(CHIP_KEYS).filter(pl.col("chip_number").is_not_null()).n_unique(),  # no copy of all
        procs=dict(zip(procs["proc"].to_list(), procs["count"].to_list(), strict=True)),
        last_staged_utc=cast(dt.datetime | None, manifest["ingested_at_utc"].max()),
        # the history's own text for each cell (the summary without its heading: icon, procedure and chip have
        # their own columns), so the dashboard shows the runs as their history does
        latest=latest.select(
            *(pl.col(key).cast(pl.String) for key in LATEST_KEYS if key != "summary"),
            summary=summary_line(heading=False),
        ).to_dicts(),
        per_day=per_day,
        first_day=first_day,
    )


def overview_path(manifest_path: Path) -> Path:
    return manifest_path.with_name(OVERVIEW_NAME)


def write_overview(manifest_path: Path, manifest: pl.DataFrame, tz: str, digest: str | None) -> None:
    """Record the overview of `manifest`, now at `manifest_path` with `manifest_digest` `digest`. Atomic but not
    fsynced, like the stat index: a file lost to a power cut fails the hash check and the app computes the numbers
    itself."""
    record = {"format": FORMAT, "manifest_sha256": digest, "local_tz": tz,
              **asdict(overview(manifest, tz))}
    atomic_write_bytes(overview_path(manifest_path), json.dumps(record, ensure_ascii=False, default=str).encode(),
                       durable=False)


def read_overview(manifest_path: Path, tz: str, digest: str | None) -> Overview | None:
    """The recorded overview when it describes the manifest now committed (`digest`: its `manifest_digest`), in
    zone `tz`; else None."""
    try:
        record = parse_json(overview_path(manifest_path).read_bytes())
        if (record["format"], record["local_tz"]) != (FORMAT, tz) or digest is None or (
                record["manifest_sha256"] != digest):
            return None
        return Overview(
            runs=_count(record["runs"]),
            chips=_count(record["chips"]),
            procs={_text(proc): _count(n) for proc, n in record["procs"].items()},
            last_staged_utc=None if record["last_staged_utc"] is None else _instant(record["last_staged_utc"]),
            latest=[{key: _text_or_none(run[key]) for key in LATEST_KEYS} for run in record["latest"]],
            per_day=[_count(n) for n in record["per_day"]],
            first_day=None if record["first_day"] is None else dt.date.fromisoformat(record["first_day"]),
        )
    except (OSError, ValueError, TypeError, KeyError, AttributeError):
        return None  # missing, torn, or not ours: the manifest answers instead


def _count(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"not a count: {value!r}")
    return value


def _text_or_none(value: Any) -> str | None:
    return None if value is None else _text(value)


def last_dirac_points(
    manifest: pl.DataFrame, metrics: pl.DataFrame, annotations: pl.DataFrame, chips: int = DIRAC_CHIPS,
    procedures_file: Path | None = None,
) -> pl.DataFrame:
    """The chips measured last (by their newest run of any procedure), newest first, each with its newest IVg (or
    a run like one: IVgT): its Dirac point (`cnp_v`, null when the sweep gave none: a dead channel, a Dirac point
    beyond the sweep; `no_cnp_why` says which in a few words), local date and run_id; all null when the chip has no
    sweep in the metrics table (`swept`: whether it has one in the store: its metrics not computed yet). Not the
    newest sweep that has one: a chip dead for a week showed the Dirac point of its last good day, and looked fine.
    Excluded runs are left out, as in every derived view."""
    import polars as pl

    from labtui.core.annotations import with_annotations
    from labtui.core.registry import family_expr

    is_ivg = family_expr(procedures_file) == "IVg"
    recent = (manifest.filter(pl.col("chip_number").is_not_null())
              .group_by("chip_name").agg(pl.col("start_time_utc").max().alias("last_run_utc"), swept=is_ivg.any())
              .top_k(chips, by="last_run_utc"))
    # the metrics table is written after the manifest and not by every writer (`prune`, `repair` drop runs from the
    # manifest alone): a run it still holds that the manifest does not is no longer the store's
    ivg = metrics.filter(is_ivg & pl.col("run_id").is_in(manifest["run_id"].implode()))
    # why a sweep has no Dirac point, in a few words: `IVg: dead channel (max |I| …)` → `dead channel`
    why = (pl.col("remarks").list.eval(pl.element().filter(pl.element().str.contains(r"^(IVg|cnp_fwd_v|cnp_bwd_v): ")))
           .list.first().str.replace(r"^[^:]+: ", "").str.replace(r" \(.*$", ""))
    points = with_annotations(ivg.select("run_id", "chip_name", "start_time_utc", "date_local", "cnp_v",
                                         pl.when(pl.col("cnp_v").is_null()).then(why).alias("no_cnp_why")),
                              annotations)
    newest = (points.filter(~pl.col("excluded")).sort("start_time_utc")
              .group_by("chip_name").last().select("chip_name", "cnp_v", "no_cnp_why", "date_local", "run_id"))
    return recent.join(newest, on="chip_name", how="left").sort("last_run_utc", "chip_name", descending=[True, False])


def runs_per_day(manifest: pl.DataFrame, days: int = ACTIVITY_DAYS) -> tuple[list[int], dt.date | None]:
    """Runs per local day, zeros included, from the first run's day (at most `days` back) to the last run's day,
    and that first day: the lab's recent activity, also in a store that has not grown for a while."""
    dates = manifest["date_local"]
    if dates.is_empty():
        return [], None
    last, earliest = cast(dt.date, dates.max()), cast(dt.date, dates.min())
    first = max(earliest, last - dt.timedelta(days=days - 1))
    counts = dict(dates.filter(dates >= first).value_counts().iter_rows())
    return [counts.get(first + dt.timedelta(days=i), 0) for i in range((last - first).days + 1)], first
