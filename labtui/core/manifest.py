"""The manifest: one validated row per run (`manifest_row.ManifestRow`), the single authority on what the store holds.

Written only as a whole (temp file in the same folder, fsync, `os.replace`): the replace is the commit point, so a
reader sees the previous or the next manifest, never a torn one. Each commit keeps the manifest it replaces in
`previous/` (a hard link: no copy) and every run's row sits in its Parquet's footer, so `labtui repair` can rebuild a
manifest that a full disk, a bad copy or a stray editor damaged, from the store alone.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl

from labtui.core.atomic import atomic_write, read_parquet_pinned
from labtui.core.errors import LabtuiError, OperationFailed, UsageError, first_line
from labtui.core.json_text import parse_json
from labtui.core.overview import OVERVIEW_NAME
from labtui.core.stat_index import INDEX_NAME
from labtui.core.wording import counted

if TYPE_CHECKING:
    from labtui.core.manifest_row import ManifestRow

SCHEMA_VERSION = 1
MANIFEST_NAME = "manifest.parquet"  # in _manifest/
PREVIOUS_DIR = "previous"  # in _manifest/: the last few committed manifests
PREVIOUS_KEPT = 3
LEGACY_RECORDS_DIR = "events"  # in _manifest/: each run's record, as an older labtui kept it (now in its Parquet)
_UTC_US = pl.Datetime("us", "UTC")
# One column per `ManifestRow` field, in its order (a test holds the two together). Written out rather than derived
# from the model: readers of the manifest then never import Pydantic.
MANIFEST_SCHEMA: dict[str, pl.DataType] = {
    "run_id": pl.String(), "source_file": pl.String(), "proc": pl.String(), "date_local": pl.Date(),
    "start_time_utc": _UTC_US, "file_idx": pl.Int64(), "chip_group": pl.String(), "chip_number": pl.Int64(),
    "chip_name": pl.String(), "sample": pl.String(), "has_light": pl.Boolean(), "laser_voltage_v": pl.Float64(),
    "laser_wavelength_nm": pl.Float64(), "laser_period_s": pl.Float64(), "vg_start_v": pl.Float64(),
    "vg_end_v": pl.Float64(), "vg_fixed_v": pl.Float64(), "vds_v": pl.Float64(), "duration_s": pl.Float64(),
    "summary": pl.String(), "information": pl.String(), "procedure_version": pl.String(),
    "parameters": pl.String(), "n_rows": pl.Int64(), "is_complete": pl.Boolean(), "day_folder": pl.String(),
    "source_size": pl.Int64(), "source_mtime": _UTC_US, "source_sha256": pl.String(),
    "schema_version": pl.Int64(), "extraction_version": pl.String(), "extraction_rules": pl.Int64(),
    "procedure_rules": pl.String(), "ingested_at_utc": _UTC_US,
}
# What a manifest written before a column existed holds in it (else null): its rows were made by the rules before
# rows recorded them, which the next stage reads again (`extraction_rules.py`); `procedure_rules` null, which an
# older labtui's rewrite of rows that had it leaves (`scan.made_by_current_rules`)
MISSING_COLUMNS = {"extraction_rules": 0, "procedure_rules": None}


def empty_manifest() -> pl.DataFrame:
    return pl.DataFrame(schema=MANIFEST_SCHEMA)


class ManifestDamaged(LabtuiError):
    """The manifest is missing (while the store holds runs), unreadable or of another schema."""

    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(f"the manifest {path} is damaged ({reason}): run `labtui repair` to rebuild it from the store")
        self.path = path
        self.reason = reason


class ManifestNewer(LabtuiError):
    """The manifest was written by a newer labtui (a higher `schema_version`: two PCs on one share, one upgraded).
    Not damage: `repair` must not rebuild it, nor a stage rewrite it without the columns this labtui does not know."""

    def __init__(self, path: Path, version: int) -> None:
        super().__init__(f"the manifest {path} was written by a newer labtui (manifest schema {version}; this labtui "
                         f"knows {SCHEMA_VERSION}): upgrade labtui on this computer to read or write this store")
        self.path = path


def refuse_newer(path: Path, frame: pl.DataFrame) -> None:
    """`ManifestNewer` when a newer labtui wrote the manifest `frame` read from `path` (whatever type its
    `schema_version` column has there)."""
    if "schema_version" not in frame.columns:  # a store older than the column: version 1
        return
    version = frame["schema_version"].cast(pl.Int64, strict=False).max()
    if isinstance(version, int) and version > SCHEMA_VERSION:
        raise ManifestNewer(path, version)


def read_manifest(path: Path) -> pl.DataFrame:
    """The committed manifest (the previous or the next one while a writer commits, never a torn one), or an empty
    one with the full schema when nothing has been staged yet; `ManifestDamaged` when it cannot be trusted,
    `ManifestNewer` when a newer labtui wrote it."""
    try:
        frame = _read_if_committed(path)
    except (pl.exceptions.PolarsError, ValueError) as exc:
        raise ManifestDamaged(path, f"not a readable Parquet file: {first_line(exc)[:120]}") from None
    except IsADirectoryError:
        raise _folder_given(path) from None
    if frame is None:
        return empty_manifest()
    refuse_newer(path, frame)  # before the columns, which a newer schema may change
    if "run_id" not in frame.columns:
        raise ManifestDamaged(path, "no run_id column: another table written in its place?")
    wrong = [f"{name} is {dtype}, not {MANIFEST_SCHEMA[name]}" for name, dtype in frame.schema.items()
             if name in MANIFEST_SCHEMA and dtype != MANIFEST_SCHEMA[name]]
    if wrong:
        raise ManifestDamaged(path, f"{counted(len(wrong), 'column')} of another type: {'; '.join(wrong[:3])}"
                                    f"{'; …' if len(wrong) > 3 else ''}")
    missing = [name for name in MANIFEST_SCHEMA if name not in frame.columns]
    if missing:
        frame = frame.with_columns(pl.lit(MISSING_COLUMNS.get(n), dtype=MANIFEST_SCHEMA[n]).alias(n) for n in missing)
    frame = frame.select(list(MANIFEST_SCHEMA))
    newest = frame["summary"].max()  # a cheap look first: an old summary starts with an icon, above any letter
    if isinstance(newest, str) and newest >= min(_OLD_ICONS.values()):
        frame = frame.with_columns(summary=_conditions())
    return frame


def _folder_given(path: Path) -> LabtuiError:
    """A folder where the manifest file goes: damage as `_manifest/manifest.parquet`, anywhere else a folder given
    for the file (the store, its `_manifest/`), which `labtui repair` would not change."""
    from labtui.core.store import MANIFEST_DIR, locate_store

    if (path.parent.name, path.name) == (MANIFEST_DIR, MANIFEST_NAME):
        return ManifestDamaged(path, "a folder, not a file")
    try:
        file = str(locate_store(path.parent if path.name == MANIFEST_DIR else path)[0] / MANIFEST_DIR / MANIFEST_NAME)
    except UsageError:  # no store there either
        file = f"a store's {MANIFEST_DIR}/{MANIFEST_NAME}"
    return UsageError(f"{path} is a folder: read_manifest takes the manifest file ({file})")


# Rows staged before the summary held only data stored a display line in it: light icon, procedure, chip,
# conditions and `#file_idx` (`💡 It Alisson67 VG=-0.35 V … #10`). Such rows are read as the conditions alone, so
# an old manifest shows the same as a new one and no run needs re-staging; the next commit writes them the new way.
_OLD_ICONS = {True: "💡", False: "🌙", None: "❗"}  # as those rows hold them, whatever the app shows today


def _conditions() -> pl.Expr:
    """The stored summary, or the conditions of a summary in the old form."""
    icon = (pl.when(pl.col("has_light").is_null()).then(pl.lit(_OLD_ICONS[None]))
            .when(pl.col("has_light")).then(pl.lit(_OLD_ICONS[True])).otherwise(pl.lit(_OLD_ICONS[False])))
    heading = pl.concat_str(icon, pl.col("proc"), pl.col("chip_name"), separator=" ", ignore_nulls=True)
    index = pl.concat_str(pl.lit("#"), pl.col("file_idx").cast(pl.String)).fill_null("\x00")  # \x00: never a suffix
    summary = pl.col("summary")
    old = summary.str.strip_prefix(heading).str.strip_suffix(index).str.strip_chars(" ")
    return pl.when(summary.str.starts_with(heading)).then(old).otherwise(summary)


def run_parameters(text: str | None) -> dict[str, Any] | None:
    """A row's `parameters` (its header's values, as JSON): None when they are not a JSON object, which only a hand
    edit of the manifest makes (`labtui validate` reports it: the row fails `ManifestRow`)."""

    try:
        value = parse_json(text) if text is not None else None
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _read_if_committed(path: Path) -> pl.DataFrame | None:
    """The manifest file, or None when the store never committed a run; missing while the store holds runs, it
    is damaged. What shows a commit is written only after its manifest, so one found after a first look that
    missed the manifest means a first commit landed in between: a second look finds the manifest."""
    try:
        return read_parquet_pinned(path)
    except FileNotFoundError:
        if not holds_runs(path.parent):
            return None
    try:
        return read_parquet_pinned(path)
    except FileNotFoundError:
        raise ManifestDamaged(path, "it is missing, but the store holds runs") from None


def holds_runs(manifest_dir: Path) -> bool:
    """Whether a manifest was committed here: a stage's last commit describes it in the stat index and the overview
    (each written after the manifest), a later commit keeps the one it replaces, and an older labtui wrote each run's
    record to a file of its own after the manifest. A run's Parquet tells too, unless a writer's `.dirty` marker is
    there: a commit publishes the Parquet before the manifest, but only after marking the store dirty, and the marker
    goes once the manifest names every folder left (a crashed writer's are swept first). So a store whose manifest,
    stat index and overview were deleted (or its whole `_manifest/`) is damaged, not new: staging it afresh would
    leave the runs of raw files gone since as orphans for `validate --fix` to delete."""
    if any((manifest_dir / name).is_file() for name in (INDEX_NAME, OVERVIEW_NAME)):
        return True
    for folder, suffix in ((LEGACY_RECORDS_DIR, ".json"), (PREVIOUS_DIR, ".parquet")):
        try:
            with os.scandir(manifest_dir / folder) as entries:
                if any(entry.name.endswith(suffix) for entry in entries):
                    return True
        except OSError:
            continue
    from labtui.core.store import DIRTY_MARKER  # only when the manifest is missing

    return not (manifest_dir / DIRTY_MARKER).exists() and _any_run_folder(manifest_dir.parent)


def _any_run_folder(store_root: Path) -> bool:
    """A `proc=…/date=…/run_id=…` folder in a folder of the store (its stage root, whatever it is named)."""

    def subfolders(folder: Path, prefix: str) -> list[Path]:
        try:
            with os.scandir(folder) as entries:
                return [Path(e.path) for e in entries if e.name.startswith(prefix) and e.is_dir(follow_symlinks=False)]
        except OSError:
            return []

    return any(
        subfolders(date, "run_id=")
        for stage_root in subfolders(store_root, "")
        if not stage_root.name.startswith("_")  # _manifest, _quarantine, _rejects, _annotations
        for proc in subfolders(stage_root, "proc=")
        for date in subfolders(proc, "date=")
    )


def rows_to_frame(rows: list[ManifestRow]) -> pl.DataFrame:
    return pl.DataFrame([row.model_dump() for row in rows], schema=MANIFEST_SCHEMA, orient="row")


def sort_manifest(frame: pl.DataFrame) -> pl.DataFrame:
    """Deterministic order (start time, then file index, then path) so identical content gives identical bytes."""
    return frame.sort(["start_time_utc", "file_idx", "source_file"], nulls_last=True)


def upsert(current: pl.DataFrame, rows: list[ManifestRow]) -> pl.DataFrame:
    """Replace rows with the same run_id or source file, add new ones. A row whose run_id or source file a hand edit
    made null matches no new row: it stays (for `validate` to report) until its raw file is staged again."""
    if not rows:
        return current
    new = rows_to_frame(rows)
    replaced = pl.any_horizontal(pl.col(key).is_in(new[key].to_list()) for key in ("run_id", "source_file"))
    kept = current.filter(~replaced.fill_null(False))
    return sort_manifest(pl.concat([kept, new], how="vertical"))


def retime(current: pl.DataFrame, mtimes: dict[str, int]) -> pl.DataFrame:
    """The rows of raw files whose mtime changed but not their content (a `touch`, a copy that does not keep times:
    `mtimes`, source file → its mtime in µs) with their new mtime: the next stage finds them unchanged, and their
    runs, Parquet and staging time stay as they were."""
    if not mtimes:
        return current
    source = pl.col("source_file")
    new_mtime = pl.from_epoch(source.replace_strict(mtimes, default=None, return_dtype=pl.Int64), time_unit="us")
    return current.with_columns(source_mtime=pl.when(source.is_in(list(mtimes)).fill_null(False))
                                .then(new_mtime.dt.replace_time_zone("UTC")).otherwise(pl.col("source_mtime")))


def write_manifest(frame: pl.DataFrame, path: Path) -> None:
    """Commit point of a staging batch: the whole manifest, atomically and durably; the one it replaces is kept."""
    _keep_previous(path)
    try:
        atomic_write(path, lambda handle: sort_manifest(frame).write_parquet(handle, compression="zstd"))
    except OSError as error:
        raise OperationFailed("write the manifest", path, error) from error


def previous_manifests(path: Path) -> list[Path]:
    """The kept manifests, newest first."""
    folder = path.parent / PREVIOUS_DIR
    return sorted(folder.glob("manifest-*.parquet"), reverse=True) if folder.is_dir() else []


def _keep_previous(path: Path) -> None:
    """Hard-link the current manifest into `previous/` before it is replaced, and keep the newest few."""
    folder = path.parent / PREVIOUS_DIR
    try:
        folder.mkdir(exist_ok=True)
        os.link(path, folder / f"manifest-{time.time_ns():020d}.parquet")
    except FileNotFoundError:
        return  # the first commit: nothing to keep
    except OSError:
        return  # a filesystem without hard links: the run records still allow a repair
    for old in previous_manifests(path)[PREVIOUS_KEPT:]:
        old.unlink(missing_ok=True)
