"""Rebuilding the manifest from the store alone, and dropping runs on the user's explicit request.

`repair` needs no raw file: every committed run's Parquet carries its manifest row in its record (JSON in the
footer's key-value metadata, `layout.RUN_RECORD_KEY`; an older labtui wrote it to `_manifest/events/<run_id>.json`),
and the last few committed manifests are kept in `_manifest/previous/`. A run folder is restored when a record or a
kept manifest vouches for it and its Parquet holds the rows the record says; a folder nobody vouches for is moved to
the quarantine, never deleted. Everything else in the store (rejects, `_annotations/`, the raw tree) is left as it
is.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl
from pydantic import ValidationError

from labtui.core.atomic import read_parquet_pinned
from labtui.core.config import StagingConfig
from labtui.core.errors import OperationFailed
from labtui.core.json_text import parse_json
from labtui.core.layout import PART_NAME, addresses_a_run, run_dir
from labtui.core.manifest import (
    MANIFEST_SCHEMA,
    ManifestDamaged,
    previous_manifests,
    read_manifest,
    rows_to_frame,
    write_manifest,
)
from labtui.core.manifest_row import ManifestRow
from labtui.core.parquet_footer import read_footer, read_run_record
from labtui.core.quarantine import STAMP_FORMAT, quarantine, quarantine_root
from labtui.core.scan import PassedOver, scan_raw, system_folder_of
from labtui.core.store import LockWait, lock_store
from labtui.core.validate import outside_raw_root
from labtui.core.wording import counted


@dataclass
class RepairReport:
    damage: str | None = None  # what was wrong with the manifest (None: it was fine)
    from_records: int = 0
    from_previous: int = 0
    lost_runs: list[str] = field(default_factory=list)  # rows of a kept manifest whose Parquet is gone
    unvouched: list[str] = field(default_factory=list)  # run folders no record vouches for (quarantined)
    superseded: list[str] = field(default_factory=list)  # older runs of a raw file staged again (quarantined)
    quarantined: Path | None = None
    quarantined_manifest: Path | None = None  # where a folder in the manifest's place went

    def lines(self) -> list[str]:
        if self.damage is None:
            return ["the manifest is readable: nothing to repair (`labtui validate` checks the rest)"]
        restored = self.from_records + self.from_previous
        lines = [
            f"the manifest was damaged ({self.damage})",
            f"restored {counted(restored, 'run')}: {self.from_records} from their run records, "
            f"{self.from_previous} from the last kept manifest",
        ]
        if self.lost_runs:
            shown = ", ".join(self.lost_runs[:5]) + (" …" if len(self.lost_runs) > 5 else "")
            lines.append(f"lost {counted(len(self.lost_runs), 'run')} whose Parquet is gone "
                         f"(re-stage them from the raw files): {shown}")
        if self.unvouched:
            folders = counted(len(self.unvouched), "run folder")
            lines.append(f"moved {folders} no record vouches for to {self.quarantined} (a store of an older labtui "
                         "has none: `labtui stage` stages their raw files again, their annotations kept)")
        if self.superseded:
            folders = counted(len(self.superseded), "run folder")
            lines.append(f"moved {folders} of an older staging of a raw file staged again to {self.quarantined}")
        if self.quarantined_manifest is not None:
            lines.append(f"moved the folder in the manifest's place to {self.quarantined_manifest}")
        if not self.lost_runs and not self.unvouched and not self.superseded:
            lines.append("nothing is lost")
        return lines


DROPPED = "dropped-runs"  # the quarantine folder of runs dropped on request


def repair(config: StagingConfig, on_wait: LockWait | None = None) -> RepairReport:
    """Rebuild a damaged manifest from the run records, the kept manifests and the Parquet present, under the lock."""
    report = RepairReport()
    try:  # a deleted `_manifest/` (the runs still there) holds the lock too
        config.manifest_dir.mkdir(exist_ok=True)
    except OSError as error:
        raise OperationFailed("create", config.manifest_dir, error) from None
    with lock_store(config, on_wait=on_wait):  # `on_wait`: told once while another writer holds it
        try:
            read_manifest(config.manifest_path)
            return report
        except ManifestDamaged as exc:
            report.damage = exc.reason
        kept = _last_kept(config)
        vouched: list[tuple[ManifestRow, str, Path]] = []
        unvouched: list[Path] = []
        for folder in sorted(config.stage_root.glob("proc=*/date=*/run_id=*")):
            run_id = folder.name.removeprefix("run_id=")
            row, source = _record_row(config, folder / PART_NAME, run_id), "records"
            if row is None and run_id in kept:
                row, source = kept[run_id], "previous"
            if row is None or not _matches(config, folder, row):
                unvouched.append(folder)
                continue
            vouched.append((row, source, folder))
        newest, older = _one_row_per_source(vouched)
        rows = [row for row, _, _ in newest]
        report.from_records = sum(source == "records" for _, source, _ in newest)
        report.from_previous = len(newest) - report.from_records
        restored = {row.source_file for row in rows}  # a kept row of a file staged since is not lost
        pruned = _pruned(config)  # nor one `labtui prune --yes` dropped since it was staged: its raw file is gone
        report.lost_runs = sorted(f"{row.run_id} {row.source_file}" for row in kept.values()
                                  if row.source_file not in restored
                                  and pruned.get(row.run_id, _NEVER) < row.ingested_at_utc)
        report.unvouched = [str(folder.relative_to(config.stage_root)) for folder in unvouched]
        report.superseded = [str(folder.relative_to(config.stage_root)) for _, _, folder in older]
        report.quarantined = quarantine(config, unvouched + [folder for _, _, folder in older], "unvouched-runs")
        if config.manifest_path.is_dir():  # not a manifest at all, whatever it holds: set aside
            report.quarantined_manifest = quarantine(config, [config.manifest_path], "manifest-folder")
        config.manifest_path.unlink(missing_ok=True)  # damaged: not worth keeping among the previous manifests
        write_manifest(rows_to_frame(rows), config.manifest_path)
    return report


_NEVER = dt.datetime.min.replace(tzinfo=dt.UTC)


def _pruned(config: StagingConfig) -> dict[str, dt.datetime]:
    """When `drop_runs` last set each run_id aside on request (`labtui prune --yes`), from its quarantine folder's
    name: a run staged again since (its raw file put back) is the store's again, and can be lost again."""
    pruned: dict[str, dt.datetime] = {}
    for folder in quarantine_root(config).glob(f"*-{DROPPED}/**/run_id=*"):
        stamp = folder.relative_to(quarantine_root(config)).parts[0].removesuffix(f"-{DROPPED}")
        try:
            at = dt.datetime.strptime(stamp, STAMP_FORMAT).replace(tzinfo=dt.UTC)
        except ValueError:  # not a folder `quarantine` named: as a prune of now
            at = dt.datetime.max.replace(tzinfo=dt.UTC)
        run_id = folder.name.removeprefix("run_id=")
        pruned[run_id] = max(at, pruned.get(run_id, _NEVER))
    return pruned


def _record_row(config: StagingConfig, path: Path, run_id: str) -> ManifestRow | None:
    """The row of the run's record: in its Parquet, else in the JSON file an older labtui wrote."""
    try:
        record = read_run_record(path) or parse_json((config.legacy_records_dir / f"{run_id}.json").read_bytes())
        return ManifestRow.model_validate(record["row"])
    except (OSError, ValueError, KeyError, TypeError, ValidationError):
        return None


def _last_kept(config: StagingConfig) -> dict[str, ManifestRow]:
    """Rows of the newest kept manifest that reads and validates (the oldest stores have no run records)."""
    for path in previous_manifests(config.manifest_path):
        try:
            frame = read_parquet_pinned(path)
            if dict(frame.schema) != MANIFEST_SCHEMA:
                continue
            return {row["run_id"]: ManifestRow.model_validate(row) for row in frame.iter_rows(named=True)}
        except (OSError, pl.exceptions.PolarsError, ValueError, ValidationError):
            continue
    return {}


def _matches(config: StagingConfig, folder: Path, row: ManifestRow) -> bool:
    """The folder is where the row puts its run, and its Parquet holds the row's number of rows."""
    if run_dir(config.stage_root, row.proc, row.date_local, row.run_id) != folder:
        return False
    try:
        return read_footer(folder / PART_NAME).rows == row.n_rows
    except (OSError, ValueError, IndexError):
        return False


_Vouched = tuple[ManifestRow, str, Path]  # a run's row, what vouched for it ("records", "previous"), its folder


def _one_row_per_source(vouched: list[_Vouched]) -> tuple[list[_Vouched], list[_Vouched]]:
    """(newest staging of each source file, the older ones): a file staged again with a new start time leaves its
    old run until the commit removes it, and the manifest holds one run per file. The older runs are not restored,
    so they are reported and set aside, not left in the stage root as orphans for `validate --fix` to delete."""
    newest: dict[str, _Vouched] = {}
    older: list[_Vouched] = []
    for item in vouched:
        source = item[0].source_file
        if source not in newest:
            newest[source] = item
        elif item[0].ingested_at_utc > newest[source][0].ingested_at_utc:
            older.append(newest[source])
            newest[source] = item
        else:
            older.append(item)
    return list(newest.values()), older


def drop_runs(config: StagingConfig, sources: set[str],
              on_wait: LockWait | None = None) -> tuple[int, Path | None, list[str]]:
    """Remove the runs of these raw files from the manifest (their Parquet and records go to the quarantine); (runs
    dropped, folder, problems). By raw file, as `prunable` finds them: a row whose run_id a hand edit made null is
    dropped too. The metrics table follows, as after a stage: a power priced by a dropped calibration is priced
    again. Where that update fails (a broken chip_params.yaml), the table is removed, so that the next stage
    computes it again rather than keep the dropped runs' prices; its problems are returned."""
    from labtui.core.metrics import update_after_stage

    with lock_store(config, on_wait=on_wait):
        manifest = read_manifest(config.manifest_path)
        pruned = pl.col("source_file").is_in(list(sources)).fill_null(False)
        dropped = manifest.filter(pruned)
        if dropped.is_empty():
            return 0, None, []
        kept = manifest.filter(~pruned)
        write_manifest(kept, config.manifest_path)
        update = update_after_stage(config, kept, changed=True)
        problems = update.problems if update is not None and not update.written else []
        if problems:
            with contextlib.suppress(OSError):  # not there, or not removable: the stage's update says so
                config.metrics_path.unlink()
        addressed = dropped.filter(addresses_a_run())  # a hand-edited row's folder stays an orphan for validate
        paths = [run_dir(config.stage_root, proc, date, run_id)
                 for run_id, proc, date in addressed.select("run_id", "proc", "date_local").iter_rows()]
        paths += [config.legacy_records_dir / f"{run_id}.json" for run_id in addressed["run_id"]]
        folder = quarantine(config, [path for path in paths if path.exists()], DROPPED)
    return dropped.height, folder, problems


def prunable(config: StagingConfig, manifest: pl.DataFrame, passed: PassedOver) -> pl.DataFrame:
    """Runs of `manifest` whose raw file is gone from the raw root, or whose source path is not under it: (run_id,
    source, why). A run in a folder that cannot be listed is not gone: nobody can tell (`passed.unlisted` names
    the folders; the raw root among them, every run is)."""
    manifest = manifest.select("run_id", "source_file")
    outside = manifest.filter(outside_raw_root(pl.col("source_file")))
    inside = manifest.filter(~outside_raw_root(pl.col("source_file")))
    present = {candidate.source_file for candidate in scan_raw(config.raw_root, passed)}
    gone = inside.filter(pl.Series([source not in present and not passed.unseen(source)
                                    for source in inside["source_file"]], dtype=pl.Boolean))
    # staged before such folders were passed over: the file is there, where no scan looks
    why = [f"in {folder}/, a recycle bin or snapshot folder labtui does not scan"
           if (folder := system_folder_of(source.split("/"))) else "raw file gone" for source in gone["source_file"]]
    return pl.concat([
        outside.with_columns(why=pl.lit("not under the raw root")),
        gone.with_columns(why=pl.Series(why, dtype=pl.String)),
    ]).sort("source_file")
