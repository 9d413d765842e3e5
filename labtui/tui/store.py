"""What the screens read from the store: thread-safe (workers call it), no Textual import.

Every commit replaces the manifest file (new inode and mtime) and every reject write renames a file in its folder,
so the stat of the two (`signature`) changes with any write, by this app or by a `labtui stage` in another
terminal: caches keyed on it are never stale, and the app polls it to tell the screens to reload.
"""

from __future__ import annotations

import datetime as dt
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import polars as pl

from labtui.core.annotations import (
    annotation_log,
    current_annotations,
    with_annotations,
)
from labtui.core.chip_params import ChipParams, load_chip_params
from labtui.core.config import StagingConfig
from labtui.core.errors import LabtuiError
from labtui.core.findings import ValidationReport
from labtui.core.history import chips, load_manifest, timeline
from labtui.core.lock import Holder, read_holder
from labtui.core.rejects import RejectRecord, load_rejects
from labtui.core.scan import pending_files
from labtui.core.validate import validate

Stat = tuple[int, int, int] | None
Signature = tuple[Stat, Stat, Stat]
ChipParamsRead = tuple[dict[str, ChipParams], str | None]
LATEST_RUNS = 10  # on the dashboard
DIRAC_CHIPS = 8  # the recently measured chips whose last Dirac point the dashboard shows
ACTIVITY_DAYS = 30  # days in the dashboard's runs-per-day sparkline


def _stat(path: Path) -> Stat:
    try:
        info = path.stat()
    except OSError:
        return None
    return info.st_ino, info.st_size, info.st_mtime_ns


@dataclass(frozen=True)
class Status:
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


class Store:
    """Cached reads of one store; safe to call from any thread."""

    def __init__(self, config: StagingConfig) -> None:
        self.config = config
        self._lock = threading.Lock()
        self._chips: tuple[Stat, pl.DataFrame] | None = None
        self._metrics: tuple[Stat, pl.DataFrame] | None = None
        self._chip_params: tuple[Stat, ChipParamsRead] | None = None

    def signature(self) -> Signature:
        """Changes whenever the manifest, the set of reject records or the derived metrics change (the metrics
        are written just after the commit that staged their runs)."""
        return _stat(self.config.manifest_path), _stat(self.config.rejects_dir), _stat(self.config.metrics_path)

    def manifest(self) -> pl.DataFrame:
        return load_manifest(self.config)  # cached by the history module, keyed on the file's identity

    def annotations(self) -> pl.DataFrame:
        """The current annotations; the same frame object until someone (any process) annotates again."""
        return current_annotations(self.config.store_root)

    def annotation_log(self, run_id: str) -> pl.DataFrame:
        return annotation_log(self.config.store_root, run_id)

    def chips(self) -> pl.DataFrame:
        key = _stat(self.config.manifest_path)
        with self._lock:
            if self._chips is None or self._chips[0] != key:
                self._chips = key, chips(self.manifest())
            return self._chips[1]

    def metrics(self) -> pl.DataFrame:
        """The derived metrics table (`read_metrics`), re-read only when a writer replaced it."""
        from labtui.core.metrics import read_metrics

        key = _stat(self.config.metrics_path)
        with self._lock:
            if self._metrics is None or self._metrics[0] != key:
                self._metrics = key, read_metrics(self.config)
            return self._metrics[1]

    def chip_params(self) -> ChipParamsRead:
        """`config/chip_params.yaml` as (chip name → parameters, None), or ({}, its one-line error) when it is bad;
        re-read only when the file changed."""
        path = self.config.chip_params_file
        key = _stat(path) if path is not None else None
        with self._lock:
            if self._chip_params is None or self._chip_params[0] != key:
                try:
                    read: ChipParamsRead = load_chip_params(path), None
                except LabtuiError as exc:
                    read = {}, str(exc)
                self._chip_params = key, read
            return self._chip_params[1]

    def dirac_points(self) -> pl.DataFrame:
        """The dashboard's Dirac points (`last_dirac_points` of the store as it is now)."""
        return last_dirac_points(self.manifest(), self.metrics(), self.annotations())

    def rejects(self) -> list[RejectRecord]:
        return sorted(load_rejects(self.config.rejects_dir).values(), key=lambda record: record.source_file)

    def raw_path(self, source_file: str) -> Path:
        return self.config.raw_root / source_file

    def status(self) -> Status:
        manifest = self.manifest()
        procs = manifest["proc"].value_counts(sort=True)
        per_day, first_day = runs_per_day(manifest)
        return Status(
            runs=manifest.height,
            chips=self.chips().height,
            procs=dict(zip(procs["proc"].to_list(), procs["count"].to_list(), strict=True)),
            last_staged_utc=manifest["ingested_at_utc"].max(),  # type: ignore[arg-type]
            rejects=len(load_rejects(self.config.rejects_dir)),
            holder=read_holder(self.config.lock_path),
            latest=timeline(manifest.top_k(LATEST_RUNS, by="start_time_utc"), tz=self.config.local_tz).reverse(),
            per_day=per_day,
            first_day=first_day,
        )

    def validate(self) -> tuple[ValidationReport, Signature]:
        """A validation of the store and the signature it was made at (to tell when it is out of date)."""
        signature = self.signature()
        return validate(self.config, manifest=self.manifest()), signature

    def waiting(self) -> list[str] | None:
        """Raw files the next `stage` would read (None: the raw folder is not there)."""
        return pending_files(self.config, self.manifest())


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


def short_path(path: Path) -> str:
    """A path as a user would type it: relative to the working folder when inside it, else with `~`."""
    absolute = Path(os.path.abspath(path))
    for base, prefix in ((Path.cwd(), ""), (Path.home(), "~/")):
        try:
            return prefix + absolute.relative_to(base).as_posix()
        except ValueError:
            continue
    return str(absolute)
