"""Store health: every way the manifest, the Parquet runs and the raw tree can disagree, with counts and fixes.

`validate` only reads (lock-free: a writer may be committing meanwhile, which the report says). The Parquet runs are
checked in `parquet_checks.py`, the raw tree in `raw_checks.py`.
The vocabulary is in `findings.py`; the repairs (`apply_fixes`, which write) in `fixes.py`.
"""

from __future__ import annotations

import os
import time
from functools import cache
from pathlib import Path
from types import NoneType, UnionType
from typing import Annotated, Union, get_args, get_origin

import polars as pl
from pydantic_core import SchemaValidator, ValidationError
from pydantic_core.core_schema import list_schema

from labtui.core.annotations import ACTIONS_DIR, ahead_of_clock, annotations_dir, unreadable_actions
from labtui.core.annotations import orphans as annotation_orphans
from labtui.core.atomic import read_parquet_pinned
from labtui.core.chip_spelling import chip_name_findings
from labtui.core.config import StagingConfig, default_registry_path
from labtui.core.errors import first_line
from labtui.core.extract import DATE_IN_PATH, DATE_SLACK_DAYS
from labtui.core.findings import MANIFEST_FILE_CODES, SEVERITY_ORDER, Finding, FindingCode, ValidationReport
from labtui.core.findings import make_finding as _finding  # short: the checks below align their arguments on it
from labtui.core.lab_files import ConfigError
from labtui.core.layout import STAGING_AREA
from labtui.core.lock import read_holder
from labtui.core.manifest import (
    MANIFEST_SCHEMA,
    MISSING_COLUMNS,
    empty_manifest,
    holds_runs,
    refuse_newer,
)
from labtui.core.manifest_row import ManifestRow
from labtui.core.parquet_checks import parquet_findings
from labtui.core.quarantine import foreign_files, quarantine_root
from labtui.core.raw_checks import raw_findings
from labtui.core.registry import load_registry
from labtui.core.store import DIRTY_MARKER, identity_path, read_identity, same_folder
from labtui.core.wording import counted


# -- the manifest file and its rows ---------------------------------------------------------------------------------
def _read_manifest_file(config: StagingConfig) -> tuple[pl.DataFrame, list[Finding]]:
    """The manifest conformed to the schema (so the other checks can run), and what was wrong with its columns."""
    path = config.manifest_path
    if not path.exists():  # damaged by the rule the readers follow: a first commit cut short is no manifest lost
        runs = holds_runs(config.manifest_dir)
        return empty_manifest(), _finding(
            FindingCode.MANIFEST_MISSING, "error", "the manifest is missing, but the store holds runs", [str(path)],
            "run `labtui repair`: it rebuilds the manifest from the store (no raw file needed)",
        ) if runs else []
    try:
        frame = read_parquet_pinned(path)
    except (OSError, pl.exceptions.PolarsError) as exc:
        return empty_manifest(), _finding(
            FindingCode.MANIFEST_UNREADABLE, "error", "the manifest cannot be read", [f"{path}: {first_line(exc)}"],
            "run `labtui repair`: it rebuilds the manifest from the store (no raw file needed)",
        )
    refuse_newer(path, frame)  # not damage: the one line every command says, where repair would downgrade it
    return _conform(frame)


def _conform(frame: pl.DataFrame) -> tuple[pl.DataFrame, list[Finding]]:
    schema = frame.schema
    # a column that an older labtui's manifest lacks, whose value there is known (`MISSING_COLUMNS`), is no problem
    missing = [name for name in MANIFEST_SCHEMA if name not in schema and name not in MISSING_COLUMNS]
    problems = [f"missing column {name}" for name in missing]
    problems += [f"unknown column {name}" for name in schema if name not in MANIFEST_SCHEMA]
    problems += [
        f"column {name} is {schema[name]}, not {dtype}"
        for name, dtype in MANIFEST_SCHEMA.items()
        if name in schema and schema[name] != dtype
    ]
    finding = _finding(
        FindingCode.MANIFEST_COLUMNS, "error", "manifest columns differ from the schema", problems,
        "run `labtui repair`: it rebuilds the manifest from the store (no raw file needed)",
    )
    if not {"run_id", "source_file"} <= set(schema):  # no row names a run (another table written in its place):
        return empty_manifest(), finding  # a finding per row of nulls would bury the one that matters
    conformed = frame.select(
        (pl.col(name).cast(dtype, strict=False) if name in schema else pl.lit(MISSING_COLUMNS.get(name), dtype))
        .alias(name)
        for name, dtype in MANIFEST_SCHEMA.items()
    )
    return conformed, finding


def _nullable(annotation: object) -> bool:
    if get_origin(annotation) is Annotated:
        return _nullable(get_args(annotation)[0])
    return get_origin(annotation) in (Union, UnionType) and NoneType in get_args(annotation)


REQUIRED_FIELDS = tuple(name for name, info in ManifestRow.model_fields.items() if not _nullable(info.annotation))


def _schema_errors(frame: pl.DataFrame) -> list[tuple[int, str]]:
    """(row index, first error) of every row that `ManifestRow` rejects, in its words (`field: message`).

    Column by column, each through its field's own compiled schema (`_field_checks`): `ManifestRow` checks each
    field alone (no check spans fields), so a row fails iff one of its values does, and its first error is that of
    its first failing field, as the model reports it. A dict per row cost more than the checks: 65k runs 580 → 250
    ms. Datetimes go as ISO text: building Python datetimes costs more than validating them, and the text keeps the
    zone, so a naive or non-UTC value still fails.
    """
    frame = frame.with_columns(pl.col(pl.Datetime).dt.to_string("%Y-%m-%dT%H:%M:%S%.f%:z"))
    first: dict[int, str] = {}
    for name, check in _field_checks().items():  # in the model's field order: a row's first error comes first
        try:
            check.validate_python(frame.get_column(name).to_list())
        except ValidationError as exc:
            for error in exc.errors():
                index, *inner = error["loc"]
                first.setdefault(int(index), f"{'.'.join(map(str, (name, *inner)))}: {error['msg']}")
    return sorted(first.items())


@cache
def _field_checks() -> dict[str, SchemaValidator]:
    """Each `ManifestRow` field's compiled schema (its type, constraints and validators), over a list of values."""
    model = ManifestRow.__pydantic_core_schema__
    assert model["type"] == "model" and model["schema"]["type"] == "model-fields"
    checks = {}
    for name, field in model["schema"]["fields"].items():
        schema = field["schema"]
        checks[name] = SchemaValidator(list_schema(schema["schema"] if schema["type"] == "default" else schema))
    return checks


def _row_findings(
    frame: pl.DataFrame, config: StagingConfig, present: set[str] | None, invalid: list[tuple[int, str]]
) -> list[Finding]:
    """Checks of the manifest alone. `present`: raw files that exist (None when the raw root is unavailable);
    `invalid`: the rows `ManifestRow` rejects, with their first error."""

    def restageable(rows: pl.DataFrame) -> list[str]:
        sources = rows.get_column("source_file").drop_nulls().to_list()
        return sources if present is None else [source for source in sources if source in present]

    def label(rows: pl.DataFrame) -> list[str]:
        return [f"{run_id} {source}" for run_id, source in rows.select("run_id", "source_file").iter_rows()]

    findings: list[Finding] = []
    outside = frame.filter(outside_raw_root(pl.col("source_file")))
    findings += _finding(
        FindingCode.SOURCE_OUTSIDE, "error", "runs whose source path is not under the raw root", label(outside),
        "`labtui prune --yes` drops them (they cannot be re-staged from the raw root)",
    )
    bad_rows = frame[[index for index, _ in invalid]]
    findings += _finding(
        FindingCode.SCHEMA, "error", "manifest rows that fail the ManifestRow schema",
        [f"{run}: {error}" for run, (_, error) in zip(label(bad_rows), invalid, strict=True)],
        "re-stage their raw files (`labtui validate --fix`)", restageable(bad_rows),
    )
    nulls = frame.select(pl.col(REQUIRED_FIELDS).null_count()).row(0, named=True)
    findings += _finding(
        FindingCode.NULL_REQUIRED, "error", "required manifest fields holding nulls",
        [f"{name}: {counted(count, 'null')}" for name, count in nulls.items() if count],
        "re-stage the affected runs (`labtui validate --fix`)",
        restageable(frame.filter(pl.any_horizontal(pl.col(REQUIRED_FIELDS).is_null()))),
    )
    duplicated = frame.filter(pl.col("run_id").is_duplicated() & pl.col("run_id").is_not_null()).sort("run_id")
    findings += _finding(
        FindingCode.DUPLICATE_RUN_ID, "error", "run_ids that appear on more than one manifest row", label(duplicated),
        "re-stage their raw files: the manifest keeps one row per run", restageable(duplicated),
    )
    local_date = pl.col("start_time_utc").dt.convert_time_zone(config.local_tz).dt.date()
    shifted = frame.filter(local_date != pl.col("date_local"))
    findings += _finding(
        FindingCode.DATE_LOCAL_MISMATCH, "error", f"date_local differs from the start time's date in {config.local_tz}",
        label(shifted), "re-stage them (was local_tz changed? `labtui stage` or `--fix` moves them to their dates)",
        restageable(shifted),
    )
    named = pl.col("source_file").str.extract_all(DATE_IN_PATH).list.last().str.to_date(strict=False)
    apart = frame.filter((pl.col("date_local") - named).dt.total_days().abs() > DATE_SLACK_DAYS)
    findings += _finding(
        FindingCode.DATED_APART, "warning",
        f"runs whose start is more than {counted(DATE_SLACK_DAYS, 'day')} from the day in their raw file's path",
        label(apart), "the acquisition computer's clock was off? Each run is dated by its header's Start time: "
        "correct it in the raw file, then `labtui restage FILE`",
    )
    incomplete = frame.filter(~pl.col("is_complete"))
    findings += _finding(
        FindingCode.INCOMPLETE, "info", "runs not complete (stopped short of the sweep or the time their header "
        "promises, or rows missing inside them)", label(incomplete),
        "nothing to do: they are kept and flagged is_complete = false (their staging note says why)",
    )
    findings += _finding(
        FindingCode.DUPLICATE_CONTENT, "warning", "raw files with identical content",
        [" = ".join(sources) for sources in _files_sharing(frame, "source_sha256")],
        "if one is an accidental copy, move it out of the raw tree yourself (labtui never deletes raw data), then "
        "`labtui prune`",
    )
    findings += _finding(  # one run in two files whose bytes differ: a copy edited afterwards
        FindingCode.SAME_START, "warning", "raw files of one run (the same procedure and start time, other bytes)",
        [" ≈ ".join(sources) for sources in _files_sharing(frame, "proc", "start_time_utc", other_bytes=True)],
        "one is a copy edited afterwards: keep the file you trust in the raw tree, move the other out, then "
        "`labtui prune` (each counts as a run until then)",
    )
    return findings + chip_name_findings(frame)


def _files_sharing(frame: pl.DataFrame, *keys: str, other_bytes: bool = False) -> list[list[str]]:
    """The raw files of rows that agree on `keys` (none null), each group sorted; with `other_bytes`, only groups
    whose files' contents differ. Two files at least: a row duplicated by hand is `duplicate_run_id`'s, not a copy
    of its file ("X = X")."""
    shared = frame.filter(pl.struct(*keys).is_duplicated() & pl.all_horizontal(pl.col(*keys).is_not_null()))
    groups = shared.group_by(*keys).agg(pl.col("source_file").unique().sort(),
                                        versions=pl.col("source_sha256").n_unique())
    groups = groups.filter(pl.col("source_file").list.len() > 1)
    if other_bytes:
        groups = groups.filter(pl.col("versions") > 1)
    return groups.sort("source_file").get_column("source_file").to_list()


# -- annotations ---------------------------------------------------------------------------------------------------
def _annotation_findings(frame: pl.DataFrame, config: StagingConfig) -> list[Finding]:
    """Annotations of runs the manifest no longer holds: re-attachable when their raw file is staged under a new
    run_id (its start time changed), else kept in the log for the record."""
    found = annotation_orphans(config.store_root, frame)
    lost = [run_id for run_id in found.run_ids if run_id not in found.reattachable]
    return [
        *_finding(
            FindingCode.ANNOTATIONS_REATTACHABLE,
            "warning",
            "annotations of runs re-staged under a new run_id (their start time changed)",
            [f"{new} {found.sources[old]} (annotated as {old})" for old, new in found.reattachable.items()],
            "re-attach them to the run staged from the same raw file",
        ),
        *_finding(
            FindingCode.ANNOTATIONS_ORPHANED,
            "info",
            "annotations of runs that are no longer staged (kept in the log)",
            [f"{run_id} {found.sources.get(run_id, '')}".rstrip() for run_id in lost],
            "nothing to do: kept for the record, they come back if a raw file is staged again at that path (a "
            "file moved elsewhere is another run: `labtui annotate --run NEW --like OLD` marks it alike)",
        ),
        *_finding(
            FindingCode.ANNOTATIONS_UNREADABLE,
            "warning",
            "annotation files that cannot be read (their records are ignored)",
            unreadable_actions(config.store_root),
            "restore them from a backup, or move them out of the store",
        ),
        *_finding(
            FindingCode.ANNOTATIONS_AHEAD,
            "warning",
            "annotations dated more than a day ahead of this machine's clock: a clock ahead wrote the first of each "
            "run's, and labtui dates every later one of the run after it, so that it counts",
            ahead_of_clock(config.store_root),
            "set the clock of the PC that wrote the first: nothing is lost, the dates stay as written",
        ),
    ]


# -- the lab's procedure registry -----------------------------------------------------------------------------------
def _calibrations(frame: pl.DataFrame, config: StagingConfig) -> int:
    """The laser calibrations among the runs (those like one too): a Pt or a Tt run, of no chip either, is none."""
    try:
        families = load_registry(config.procedures_file).families()
    except ConfigError:  # said by `_registry_findings`
        families = {}
    return frame.filter(pl.col("proc").replace(families) == "LaserCalibration").height


def _registry_findings(frame: pl.DataFrame, config: StagingConfig) -> list[Finding]:
    """The lab's registry when it does not load (a stage with nothing to read passes it by: the next file read fails
    it), and runs of a legacy procedure that the lab's own registry (a copy of labtui's from before `like:`) reads
    as a procedure of its own, where labtui's reads them as another's (IVgT like IVg): they get no derived
    quantities, no trends and not their family's plot options. Said with the line to add."""
    lab_file = config.procedures_file
    try:
        lab = load_registry(lab_file)
    except ConfigError as error:
        return _finding(FindingCode.REGISTRY_INVALID, "error", "the procedure registry does not load",
                        [first_line(error)], "fix the registry: every stage with a file to read fails until then")
    if lab_file is None or frame.is_empty() or os.path.realpath(lab_file) == os.path.realpath(default_registry_path()):
        return []
    own = load_registry()
    counts = frame.group_by("proc").len().sort("proc").iter_rows()
    missing = [f"{proc}: {counted(runs, 'run')}; add `like: {family}` to its entry" for proc, runs in counts
               if (family := own.family(proc)) != proc and lab.family(proc) == proc and lab.get(family) is not None]
    return _finding(
        FindingCode.REGISTRY_WITHOUT_LIKE, "warning",
        f"the lab's procedure registry ({lab_file}) reads legacy procedures as their own, not as their family",
        missing,
        "add the `like:` lines: their runs get their family's plot options, and its derived quantities and trends "
        "once `labtui metrics` (or the next stage) computes them",
    )


# -- the derived tables -------------------------------------------------------------------------------------------
def _metrics_findings(config: StagingConfig) -> list[Finding]:
    """The metrics table when it cannot be read as one (cut short, overwritten): `validate` called such a store
    healthy while every trend and `metrics` failed on it. It is derived from the store alone: a rebuild mends it."""
    from labtui.core.metrics.schema import MetricsDamaged, read_metrics

    try:
        read_metrics(config)
    except (MetricsDamaged, OSError) as damaged:  # OSError: unreadable (another user's file)
        return _finding(FindingCode.METRICS_DAMAGED, "error", "the metrics table cannot be read",
                        [first_line(damaged)], "`labtui metrics --rebuild` recomputes it from the store")
    return []


# -- the store as a whole ------------------------------------------------------------------------------------------
def _file_for_folder(path: Path) -> bool:
    """Something stands where the store keeps a folder: a file, or a link to nothing or that loops."""
    return os.path.lexists(path) and not path.is_dir()


def _annotation_folders(config: StagingConfig) -> tuple[Path, Path]:
    """The annotations' folder and its actions' (a file copied in as `actions` stopped validate itself)."""
    return annotations_dir(config.store_root), annotations_dir(config.store_root) / ACTIONS_DIR


def outside_raw_root(source: pl.Expr) -> pl.Expr:
    """A source path that cannot be relative to the raw root: absolute, or climbing out of it with `..`."""
    return source.str.starts_with("/") | source.str.contains(r"(^|/)\.\.(/|$)") | source.str.contains(r"^[A-Za-z]:")


def _store_findings(config: StagingConfig) -> list[Finding]:
    holder = read_holder(config.lock_path)
    identity = read_identity(identity_path(config))
    raw_root = os.path.abspath(config.raw_root)
    return [
        *_finding(
            FindingCode.STORE_MISSING,
            "warning",
            "no store here yet: nothing has been staged into it",
            [str(config.store_root)] if not config.manifest_dir.is_dir() else [],
            "`labtui stage` creates it; if you meant an existing store, check --store or stage_root in the config",
        ),
        *_finding(
            FindingCode.FOREIGN_FILES,
            "error",
            "files in the stage root that are not a run's Parquet "
            "(they break directory-scan readers such as DuckDB and Spark)",
            foreign_files(config),
            f"move them to {quarantine_root(config)} (`labtui validate --fix`; nothing is deleted)",
        ),
        *_finding(
            FindingCode.FILE_FOR_FOLDER,
            "error",
            "files where the store keeps a folder (every stage stops on them)",
            [str(path) for path in (config.stage_root, config.rejects_dir, config.derived_dir,
                                    config.manifest_dir / STAGING_AREA, *_annotation_folders(config))
             if _file_for_folder(path)],
            "move each away (rename it): labtui makes the folder again",
        ),
        *_finding(
            FindingCode.RAW_ROOT_DIFFERS,
            "warning",
            "the store was built from another raw root",
            [f"{identity.raw_root} (configured: {raw_root})"]
            if identity and not same_folder(Path(identity.raw_root), Path(raw_root)) else [],  # a link to it is it
            "fix raw_root in the config; if the lab moved the raw tree, `labtui stage --raw-root-moved`",
        ),
        *_finding(
            FindingCode.INTERRUPTED_WRITER,
            "warning",
            "a writer was interrupted (its .dirty marker is still there)",
            # while a writer holds the lock the marker is its own, not one an interrupted writer left
            [str(config.manifest_dir / DIRTY_MARKER)] if not holder and (config.manifest_dir / DIRTY_MARKER).exists()
            else [],
            "run `labtui stage` (or `--fix`): it sweeps what the interrupted writer left",
        ),
        *_finding(
            FindingCode.WRITER_ACTIVE,
            "info",
            "a writer is using the store: findings may be transient",
            [holder.describe()] if holder else [],
            "validate again when the writer is done",
        ),
    ]


# a manifest that is gone or unreadable: `repair` brings its runs back, so its raw files are not "to stage"
LOST_MANIFEST = {FindingCode.MANIFEST_MISSING, FindingCode.MANIFEST_UNREADABLE}


def validate(
    config: StagingConfig, *, manifest: pl.DataFrame | None = None, hash_all: bool = False, decode_all: bool = False
) -> ValidationReport:
    """Check the whole store; read-only. Pass `manifest` to check an in-memory frame instead of the file.
    `hash_all` hashes every raw file, `decode_all` decodes every run's Parquet: the deep check, slower."""
    started = time.perf_counter()
    if manifest is None:
        frame, findings = _read_manifest_file(config)
    else:
        frame, findings = _conform(manifest)
    raw, present, raw_stats = raw_findings(frame, config, hash_all)
    invalid = _schema_errors(frame)
    findings += _row_findings(frame, config, present, invalid)
    valid = frame.with_row_index("_row").filter(~pl.col("_row").is_in([index for index, _ in invalid])).drop("_row")
    trusted = not any(finding.code in MANIFEST_FILE_CODES for finding in findings)
    findings += parquet_findings(valid, config, present, trusted=trusted, decode_all=decode_all)
    lost = any(finding.code in LOST_MANIFEST for finding in findings)  # every raw file would read as not staged
    findings += [finding for finding in raw if not (lost and finding.code is FindingCode.RAW_NEW)]
    # without a readable manifest every annotated run would look orphaned; a file as the annotations' folder is
    # `file_for_folder`'s (reading it stopped validate with an operating-system error)
    if trusted and not any(map(_file_for_folder, _annotation_folders(config))):
        findings += _annotation_findings(valid, config)
    findings += _store_findings(config) + _registry_findings(frame, config) + _metrics_findings(config)
    findings.sort(key=lambda finding: SEVERITY_ORDER[finding.severity])
    owned = frame.filter(pl.col("chip_number").is_not_null())
    stats = {
        "runs": frame.height,
        "chips": owned.select(pl.struct("chip_group", "chip_number").n_unique()).item() if owned.height else 0,
        "calibrations": _calibrations(frame, config),
        **raw_stats,
    }
    return ValidationReport(findings, stats, time.perf_counter() - started)


