"""CSV views of the manifest for people and old scripts: chip histories and day-level metadata tables.

Views only: nothing in labtui reads them back. Column names are the lab's old tool's where one existed, so old
scripts keep working; labtui's extras come after them. Every file is written atomically.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from collections.abc import Iterable
from pathlib import Path
from typing import NamedTuple

import polars as pl

from labtui.core.annotations import ANNOTATION_COLUMNS, CURRENT_SCHEMA, with_annotations
from labtui.core.atomic import check_replaceable, replace_all, stale_temps
from labtui.core.errors import OperationFailed, UsageError
from labtui.core.header_values import parse_number, split_number
from labtui.core.history import CHIP_KEYS, HISTORY_COLUMNS, summary_line, timeline
from labtui.core.manifest import run_parameters
from labtui.core.registry import ParameterSpec, Registry, load_registry

LEGACY_HISTORY_COLUMNS = (
    "seq", "date", "time_hms", "proc", "summary", "source_file", "file_idx", "start_time", "day_folder", "has_light",
)
HISTORY_CSV_COLUMNS = LEGACY_HISTORY_COLUMNS + tuple(
    name for name in HISTORY_COLUMNS if name not in LEGACY_HISTORY_COLUMNS
) + ANNOTATION_COLUMNS
TAG_SEPARATOR = "; "  # tags cannot contain ';', so a CSV cell of tags splits back unambiguously
UTC_TEXT = "%Y-%m-%dT%H:%M:%S%.6fZ"  # a UTC time in CSV and JSON output: ISO 8601, microseconds, Z
METADATA_FILE = "metadata.csv"
HISTORY_SUFFIX = "_history.csv"
MAX_FILE_NAME = 100  # bytes: far under any file system's 255, with room for the temp name of an atomic write
DISTINCT_MARK = "@"  # never in a readable file name (`_UNSAFE_NAME` replaces it): a distinct name cannot clash
HASH_DIGITS = 8
_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9_.+-]+|^\.+")  # leading dots too: `.x72` exported as a hidden file
FORMULA_START = r"^[=+\-@\t\r]"  # what a spreadsheet reads as a formula at the start of a cell (OWASP's list)
_NUMBER = r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?"
PLAIN_NUMBER = rf"^{_NUMBER}(→{_NUMBER})?$"  # `-0.4` as text, a sweep's `-1→1`: numbers, nothing a spreadsheet runs


def spreadsheet_safe(frame: pl.DataFrame) -> pl.DataFrame:
    """`frame` for a CSV that Excel opens: a text cell or column name starting with `=`, `+`, `-`, `@`, a tab or a
    CR (and not numbers, `PLAIN_NUMBER`) gets a leading `'` (OWASP's rule), or a raw header's `Information: =cmd|' /C
    calc'!A0` runs as a formula on the lab's PC. Number columns stay numbers."""
    def risky(text: pl.Expr) -> pl.Expr:
        return text.str.contains(FORMULA_START) & ~text.str.contains(PLAIN_NUMBER)

    names = {name: f"'{name}" for name in frame.columns
             if re.match(FORMULA_START, name) and not re.match(PLAIN_NUMBER, name) and f"'{name}" not in frame.columns}
    return frame.with_columns(
        pl.when(risky(pl.col(name))).then(pl.lit("'") + pl.col(name)).otherwise(pl.col(name)).alias(name)
        for name, dtype in frame.schema.items() if dtype == pl.String
    ).rename(names)


def write_csv_set(files: list[tuple[Path, pl.DataFrame]], out_dir: Path, noun: str, plural: str) -> None:
    """Every file written or none: each to a temp file first (a full disk leaves the folders as they were), then all
    renamed into place; a folder in the way of one, or a file that cannot be replaced (open in a spreadsheet on a
    share, read-only), is refused before anything is written."""
    in_the_way = next((path for path, _ in files if path.is_dir()), None)
    if in_the_way is not None:
        raise UsageError(f"{in_the_way} is a folder, where a {noun} goes: move it away; nothing was written")
    try:
        check_replaceable(path for path, _ in files)
    except OSError as error:
        raise OperationFailed(f"replace the {noun}", error.filename, error) from error
    try:
        for path, _ in files:  # an export killed mid-write left its temp files: nothing else sweeps this folder
            for stale in stale_temps(path):
                stale.unlink(missing_ok=True)
        replace_all([path for path, _ in files], lambda paths: [  # no temp file left in the lab's folder
            spreadsheet_safe(frame).write_csv(temp) for (_, frame), temp in zip(files, paths, strict=True)
        ], out_dir)
    except OSError as error:
        raise OperationFailed(f"write the {plural} to", error.filename2 or out_dir, error) from error


def start_epoch() -> pl.Expr:
    """`start_time` as the old tool wrote it: the header's epoch seconds (`1757016983.8000882`) where they are the
    run's start, else the stored start (to the µs: `1757016983.800088`, which no exact join with the old tool's
    files on `start_time` matched)."""
    stored = pl.col("start_time_utc").dt.epoch("us") / 1e6
    header = pl.col("parameters").str.json_path_match("$['Start time']").cast(pl.Float64, strict=False)
    return pl.when((header - stored).abs() < 1e-6).then(header).otherwise(stored)


def with_parameters(rows: pl.DataFrame, manifest: pl.DataFrame) -> pl.DataFrame:
    """History rows with their header's `parameters` (a history leaves them out): what `history_view` reads the
    header's start time from."""
    return rows.join(manifest.select("run_id", "parameters"), on="run_id", how="left", maintain_order="left")


def history_view(history_frame: pl.DataFrame, *, source_prefix: str = "") -> pl.DataFrame:
    """A history (`with_parameters`) as the CSV the old tool wrote (plus extras): epoch `start_time` (`start_epoch`),
    ISO `start_time_utc`.

    `source_prefix` (e.g. `raw_data/`) recreates the old tool's paths for scripts that join them to a folder.
    Annotation columns come last (empty for a frame without them); tags are joined with `; `.
    """
    if "tags" not in history_frame.columns:
        history_frame = with_annotations(history_frame, pl.DataFrame(schema=CURRENT_SCHEMA))
    return history_frame.with_columns(
        summary=summary_line(),  # the whole line, as the old tool's `summary` column had it
        tags=pl.when(pl.col("tags").list.len() > 0).then(pl.col("tags").list.join(TAG_SEPARATOR)),
        start_time=start_epoch(),
        start_time_utc=pl.col("start_time_utc").dt.strftime(UTC_TEXT),
        source_file=pl.lit(source_prefix) + pl.col("source_file"),
    ).select(HISTORY_CSV_COLUMNS)


class HistoryFile(NamedTuple):
    """A chip's exported history: the chip (group and number: two chips can share a name) and its file."""

    chip_group: str | None
    chip_number: int
    chip_name: str
    path: Path


def history_file_name(chip_name: str) -> str:
    """The readable file name of a chip's history: its name, each run of characters unsafe in a file name (or dots
    it starts with) as `_`."""
    return f"{_UNSAFE_NAME.sub('_', chip_name)}{HISTORY_SUFFIX}"


def distinct_file_name(chip_name: str, group: str | None, number: int) -> str:
    """A file name of this chip's alone: the readable name cut to fit `MAX_FILE_NAME`, then `@` and a hash of the
    group and number (not of the name: `Alisson7` chip 2 and `Alisson` chip 72 are both `Alisson72`)."""
    digest = hashlib.sha256(json.dumps([group, number]).encode()).hexdigest()[:HASH_DIGITS]
    stem = _UNSAFE_NAME.sub("_", chip_name)[: MAX_FILE_NAME - len(HISTORY_SUFFIX) - len(DISTINCT_MARK) - HASH_DIGITS]
    return f"{stem}{DISTINCT_MARK}{digest}{HISTORY_SUFFIX}"


def history_file_names(chips: pl.DataFrame) -> dict[tuple[str | None, int], str]:
    """(group, number) → the file name of that chip's history, a different one for every chip of `chips`
    (`chip_group`, `chip_number`, `chip_name`, `first_run`).

    A chip gets its readable name unless that is longer than `MAX_FILE_NAME` or another chip's is the same, letter
    case aside (a Windows or macOS share does not tell `Alisson67` from `alisson67`). Of the chips sharing one, the
    one whose name needed no change, then the one measured first, keeps it (whatever order the files were staged in;
    a look-alike measured earlier but staged later takes the name over); the others get `distinct_file_name`.
    """
    names: dict[tuple[str | None, int], str] = {}
    taken: set[str] = set()
    by_claim = chips.with_columns(changed=pl.col("chip_name").str.contains(_UNSAFE_NAME.pattern)).sort(
        "changed", "first_run", "chip_number", "chip_group", nulls_last=True
    )
    for group, number, chip_name in by_claim.select("chip_group", "chip_number", "chip_name").iter_rows():
        readable = history_file_name(chip_name)
        if len(readable) <= MAX_FILE_NAME and readable.lower() not in taken:
            taken.add(readable.lower())
            names[(group, number)] = readable
        else:
            names[(group, number)] = distinct_file_name(chip_name, group, number)
    return names


def export_histories(
    manifest: pl.DataFrame,
    out_dir: Path,
    *,
    tz: str,
    min_experiments: int = 1,
    source_prefix: str = "",
    annotations: pl.DataFrame | None = None,
) -> list[HistoryFile]:
    """A history CSV per chip with at least `min_experiments` runs, named by `history_file_names`; the files written.

    Every run is in it, excluded ones too: the `excluded` and `exclude_reason` columns say which and why.
    All files are written or none (`write_csv_set`).
    """
    chip_runs = manifest.filter(pl.col("chip_number").is_not_null())
    rows = with_parameters(timeline(chip_runs, tz=tz), chip_runs)
    if annotations is not None:
        rows = with_annotations(rows, annotations)
    # a name a hand edit made null is missing: another run's, else the one group and number make (`chip_name_of`)
    made = pl.concat_str(pl.col("chip_group").fill_null(""), pl.col("chip_number").cast(pl.String))
    chips = rows.group_by(CHIP_KEYS).agg(
        pl.coalesce(pl.col("chip_name").drop_nulls().first(), made.first()), first_run=pl.col("start_time_utc").min()
    )
    chip_names = {(group, number): name for group, number, name in chips.select(*CHIP_KEYS, "chip_name").iter_rows()}
    names = history_file_names(chips)  # of every chip, so that --min-experiments changes no file's name
    frames = rows.partition_by(CHIP_KEYS, maintain_order=True)
    files, views = [], []
    for frame in sorted(frames, key=lambda f: (f["chip_number"][0], f["chip_group"][0] or "")):
        if frame.height >= min_experiments:
            group, number = frame["chip_group"][0], frame["chip_number"][0]
            files.append(HistoryFile(group, number, chip_names[(group, number)], out_dir / names[(group, number)]))
            views.append(history_view(frame, source_prefix=source_prefix))
    write_csv_set([(file.path, view) for file, view in zip(files, views, strict=True)], out_dir,
                  "chip history", "chip histories")
    return files


def other_histories(out_dir: Path, written: list[HistoryFile]) -> list[Path]:
    """The chip histories in `out_dir` this export did not write: an earlier export's, of a chip pruned, renamed or
    now under --min-experiments. Left in place (labtui deletes no file it did not just write), and said: a reader of
    `*_history.csv` took them for current."""
    ours = {file.path.name for file in written}
    if not out_dir.is_dir():
        return []
    return sorted(path for path in out_dir.glob(f"*{HISTORY_SUFFIX}") if path.name not in ours and path.is_file())


def metadata_tables(
    manifest: pl.DataFrame, *, tz: str, on_date: dt.date | None = None, source_prefix: str = "",
    procedures_file: Path | None = None,
) -> dict[str, pl.DataFrame]:
    """Folder of the raw tree (relative, e.g. `2025-10-14`) → the old tool's `metadata.csv` for it.

    One row per run: every header parameter (the unit stripped from numbers, as the old tool did; a parameter the
    lab's registry, `procedures_file`, gives a unit is in that unit: `500 mV` is 0.5 beside another run's `1 V`), then
    `Laser toggle`, `has_light`, `source_file`, `start_time` (epoch), `time_hms` (local). With `on_date`, only the
    folders holding a run on that local date, each complete (a partial table would mislead old scripts).
    """
    runs = with_parameters(timeline(manifest, tz=tz), manifest).with_columns(
        folder=pl.col("source_file").str.replace(r"/?[^/]*$", ""))
    if on_date is not None:
        folders = runs.filter(pl.col("date") == on_date).get_column("folder").unique()
        runs = runs.filter(pl.col("folder").is_in(folders.implode()))
    units = parameter_units(load_registry(procedures_file))
    return {
        str(frame["folder"][0]): _metadata_table(frame, source_prefix, units)
        for frame in runs.partition_by("folder", maintain_order=True)
    }


def parameter_units(registry: Registry) -> dict[str, str]:
    """Header parameter → the unit the registry stores it in (`Laser voltage` → V), where its procedures agree."""
    units: dict[str, set[str]] = {}
    for spec in registry.procedures.values():
        for key, parameter in registry.parameters_of(spec).items():
            if parameter.type == "float" and parameter.unit:
                units.setdefault(key, set()).add(parameter.unit)
    return {key: unit for key, (unit, *others) in units.items() if not others}


def _metadata_table(runs: pl.DataFrame, source_prefix: str, units: dict[str, str]) -> pl.DataFrame:
    headers = [run_parameters(text) or {} for text in runs["parameters"]]  # None: a hand edit left none to read
    keys = list(dict.fromkeys(key for header in headers for key in header if key != "Start time"))
    laser_run = pl.Series([header.get("Laser voltage") is not None for header in headers])
    derived = runs.select(
        pl.when(laser_run).then(pl.col("has_light")).alias("Laser toggle"),  # the old tool's flag of laser runs
        "has_light",
        (pl.lit(source_prefix) + pl.col("source_file")).alias("source_file"),
        start_epoch().alias("start_time"),
        "time_hms",
    )
    table = derived.with_columns(
        _parameter_column(key, [header.get(key) for header in headers], units.get(key)) for key in keys
    )  # a header key named like a derived column replaces it
    return table.select(*keys, *(name for name in derived.columns if name not in keys))


def _parameter_column(name: str, values: Iterable[str | None], unit: str | None) -> pl.Series:
    """Numbers, unit dropped, when every present value is one in `unit` (a prefixed one converted: `50 mV` is 0.05
    for V), or in one unit they share when `unit` is None; else the verbatim text: a column of `500` for `500 mV`
    beside `1.25` for `1.25 V` read as volts said the laser ran at 500 V."""
    texts = [None if value is None else value.strip() for value in values]
    splits = [None if text is None else split_number(text) for text in texts]  # read as the header's parser reads
    if any(split is None for split, text in zip(splits, texts, strict=True) if text is not None):
        return pl.Series(name, texts, dtype=pl.String)
    if unit is None:
        numbers = [None if split is None else split[0] for split in splits]
        one_unit = len({split[1] for split in splits if split is not None} - {None}) <= 1
    else:
        spec = ParameterSpec(field="value", unit=unit)  # a number in `unit`, no manifest field's type
        numbers = [None if text is None else parse_number(text, spec) for text in texts]
        one_unit = all(number is not None for number, text in zip(numbers, texts, strict=True) if text is not None)
    return pl.Series(name, numbers, dtype=pl.Float64) if one_unit else pl.Series(name, texts, dtype=pl.String)


def export_metadata(
    manifest: pl.DataFrame, out_dir: Path, *, tz: str, on_date: dt.date | None = None, source_prefix: str = "",
    procedures_file: Path | None = None,
) -> list[Path]:
    """`<out_dir>/<folder>/metadata.csv` for every raw folder (or those of `on_date`), all or none; the paths."""
    tables = metadata_tables(manifest, tz=tz, on_date=on_date, source_prefix=source_prefix,
                             procedures_file=procedures_file)
    files = [(out_dir / folder / METADATA_FILE, table) for folder, table in sorted(tables.items())]
    write_csv_set(files, out_dir, "folder's metadata table", "metadata tables")
    return [path for path, _ in files]
