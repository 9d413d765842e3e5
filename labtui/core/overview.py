"""The store at a glance (the app's dashboard): its numbers, the latest runs, the runs per day and the last Dirac
point of each chip measured lately. Pure functions of the manifest, the metrics and the annotations, plus the two
small reads (rejects, lock holder) that a glance needs."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import cast

import polars as pl

from labtui.core.annotations import with_annotations
from labtui.core.config import StagingConfig
from labtui.core.history import CHIP_KEYS, timeline
from labtui.core.lock import Holder, read_holder
from labtui.core.rejects import load_rejects

LATEST_RUNS = 10  # on the dashboard
DIRAC_CHIPS = 8  # the recently measured chips whose last Dirac point the dashboard shows
ACTIVITY_DAYS = 30  # days in the dashboard's runs-per-day sparkline


@dataclass(frozen=True)
class Overview:
    """The dashboard's numbers."""

    runs: int
    chips: int
    procs: dict[str, int]
    last_staged_utc: dt.datetime | None
    rejects: int
    holder: Holder | None
    latest: pl.DataFrame  # the last runs measured, newest first, as history rows
    per_day: list[int]  # runs per local day from first_day on, up to the last run's day (ACTIVITY_DAYS at most)
    first_day: dt.date | None


def overview(config: StagingConfig, manifest: pl.DataFrame) -> Overview:
    procs = manifest["proc"].value_counts(sort=True)
    per_day, first_day = runs_per_day(manifest)
    return Overview(
        runs=manifest.height,
        chips=manifest.filter(pl.col("chip_number").is_not_null()).select(CHIP_KEYS).n_unique(),
        procs=dict(zip(procs["proc"].to_list(), procs["count"].to_list(), strict=True)),
        last_staged_utc=cast(dt.datetime | None, manifest["ingested_at_utc"].max()),
        rejects=len(load_rejects(config.rejects_dir)),
        holder=read_holder(config.lock_path),
        latest=timeline(manifest.top_k(LATEST_RUNS, by="start_time_utc"), tz=config.local_tz).reverse(),
        per_day=per_day,
        first_day=first_day,
    )


def last_dirac_points(
    manifest: pl.DataFrame, metrics: pl.DataFrame, annotations: pl.DataFrame, chips: int = DIRAC_CHIPS
) -> pl.DataFrame:
    """The chips measured last (by their newest run of any procedure), newest first, each with the Dirac point
    (`cnp_v`) of its newest IVg that has one, and that run's local date and run_id; null when it has none yet.
    Excluded runs are left out, as in every derived view."""
    recent = (manifest.filter(pl.col("chip_number").is_not_null())
              .group_by("chip_name").agg(pl.col("start_time_utc").max().alias("last_run_utc"))
              .top_k(chips, by="last_run_utc"))
    points = with_annotations(metrics.filter((pl.col("proc") == "IVg") & pl.col("cnp_v").is_not_null())
                              .select("run_id", "chip_name", "start_time_utc", "date_local", "cnp_v"), annotations)
    newest = (points.filter(~pl.col("excluded")).sort("start_time_utc")
              .group_by("chip_name").last().select("chip_name", "cnp_v", "date_local", "run_id"))
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
