"""Store health, the runs' Parquet against the manifest: missing, unreadable, of another run, with the wrong row
count, or orphaned. Footers are read (`parquet_footer.py`), and the data decoded too when asked (`decode_all`: a
damaged data page leaves the footer whole); only ever read."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl

from labtui.core.config import StagingConfig
from labtui.core.errors import first_line
from labtui.core.findings import Finding, FindingCode
from labtui.core.findings import make_finding as _finding  # short: the checks below align their arguments on it
from labtui.core.layout import PART_NAME
from labtui.core.parquet_footer import footer_record, read_footer
from labtui.core.wording import counted, shown

if TYPE_CHECKING:  # pyarrow is imported by the deep check only
    import pyarrow as pa
    from pyarrow.parquet import ColumnChunkMetaData


def parquet_findings(
    frame: pl.DataFrame, config: StagingConfig, present: set[str] | None, *, trusted: bool, decode_all: bool
) -> list[Finding]:
    """Footer row counts and folders vs the manifest. `frame`: schema-valid rows only (their path parts are safe).
    Orphans only when the manifest is `trusted`: without one, every folder would look orphaned. `decode_all` reads
    every data page as well (about 1 s per 20 MB of Parquet on 2 cores).

    One listing of the run folders serves both directions (missing runs, orphan folders); paths are built as
    strings, since 65k pathlib objects cost more than reading 65k footers.
    """
    listed = _listed_run_dirs(config.stage_root)
    runs = frame.select(
        "run_id", "source_file", "n_rows",
        folder=pl.format("proc={}/date={}/run_id={}", "proc", pl.col("date_local").cast(pl.String), "run_id"),
    ).with_columns(path=pl.format("{}/{}/{}", pl.lit(str(config.stage_root)), "folder", pl.lit(PART_NAME)))
    # deep: what each row says of its run, held to the row its Parquet's record keeps (a notebook's edit of the
    # manifest, chip 67's run put under 68, went unseen; a stage --force quietly put it back)
    stated = frame.select(RECORDED).iter_rows(named=True) if decode_all else None
    missing: list[tuple[str, str]] = []
    unreadable: list[tuple[str, str, str]] = []
    mismatched: list[tuple[str, str, str]] = []
    foreign: list[tuple[str, str, str]] = []
    unlike: list[tuple[str, str, str]] = []
    for run_id, source, n_rows, folder, path in runs.iter_rows():
        row = next(stated) if stated is not None else None
        try:
            if folder not in listed:
                raise FileNotFoundError(folder)
            footer = read_footer(path)
            if row is not None:
                _decode(path)
        except FileNotFoundError:
            missing.append((run_id, source))
        except (OSError, ValueError, IndexError) as exc:
            unreadable.append((run_id, source, str(exc) or type(exc).__name__))
        else:
            if footer.run_id is not None and footer.run_id != run_id:  # copied or moved over this run's file
                foreign.append((run_id, source, f"its record names run {shown(footer.run_id)}"))
            elif footer.rows != n_rows:
                mismatched.append((run_id, source, f"the Parquet has {counted(footer.rows, 'row')}, "
                                                   f"the manifest says {n_rows}"))
            elif row is not None and (differs := _unlike_record(footer.raw, row)):
                unlike.append((run_id, source, differs))

    def restageable(runs: Sequence[tuple[str, ...]]) -> list[str]:
        return [run[1] for run in runs if present is None or run[1] in present]

    fix = "re-stage the raw files (`labtui validate --fix`); a run whose raw file is gone too is lost"
    orphans = sorted(listed - set(runs.get_column("folder").to_list())) if trusted else []
    return [
        *_finding(FindingCode.PARQUET_MISSING, "error", "runs whose Parquet file is missing",
                  [f"{run_id} {source}" for run_id, source in missing], fix, restageable(missing)),
        *_finding(FindingCode.PARQUET_UNREADABLE, "error", "runs whose Parquet file is unreadable",
                  [f"{run_id} {source}: {why}" for run_id, source, why in unreadable], fix, restageable(unreadable)),
        *_finding(FindingCode.ROW_COUNT_MISMATCH, "error", "runs whose Parquet row count differs from the manifest",
                  [f"{run_id} {source}: {why}" for run_id, source, why in mismatched], fix, restageable(mismatched)),
        *_finding(FindingCode.PARQUET_OF_ANOTHER_RUN, "error", "runs whose Parquet holds another run's data",
                  [f"{run_id} {source}: {why}" for run_id, source, why in foreign], fix, restageable(foreign)),
        *_finding(FindingCode.MANIFEST_UNLIKE_RECORD, "error", "runs whose manifest row says other than the record "
                  "their Parquet keeps of their staging (the manifest edited by hand or by a script?)",
                  [f"{run_id} {source}: {why}" for run_id, source, why in unlike], fix, restageable(unlike)),
        *_finding(FindingCode.ORPHAN_PARQUET, "error", "Parquet folders the manifest does not reference (directory-"
                  "scan readers such as DuckDB, pyarrow and Spark read them as runs: a copied run folder counted "
                  "twice, a copied day folder `date=… (1)` failed them)", orphans,
                  "move them to the quarantine (`labtui validate --fix`); they hold no run the manifest knows"),
    ]


# what a manifest row says of its run that staging alone sets, and nothing after it changes (a touched raw file's
# new time, a re-dating, an annotation are not in it): held to the row in the run's record by `validate --deep`
RECORDED = ("chip_name", "proc", "source_sha256", "has_light", "laser_wavelength_nm", "laser_voltage_v", "vds_v",
            "is_complete")


def _unlike_record(footer: bytes, row: dict[str, object]) -> str | None:
    """How the manifest's `row` differs from the row in the record of its run's Parquet footer (`chip_name
    'Alisson68' in the manifest, 'Alisson67' in its record`); None where it does not, or the record (an older
    labtui's) keeps none. From the footer `read_footer` read already, not a second read."""
    record = footer_record(footer)  # None, or no JSON: no row to hold the manifest to
    kept = record.get("row") if record is not None else None
    if not isinstance(kept, dict):
        return None
    differs = [f"{name} {row[name]!r} in the manifest, {kept[name]!r} in its record" for name in RECORDED
               if name in kept and kept[name] != row[name]]
    return "; ".join(differs) or None


def _decode(path: str) -> None:
    """Decode every data page of a run's Parquet and hold it to the statistics its footer recorded at write time:
    Polars writes no page checksums, so a damaged page can decode to other numbers without an error. ValueError
    saying what disagrees."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        parquet = pq.ParquetFile(path)
        for index in range(parquet.num_row_groups):
            group, footer = parquet.read_row_group(index), parquet.metadata.row_group(index)
            for position in range(footer.num_columns):
                chunk = footer.column(position)
                if (disagreement := _disagreement(chunk, group.column(chunk.path_in_schema))) is not None:
                    raise ValueError(f"its data disagrees with its footer: column {chunk.path_in_schema} "
                                     f"{disagreement}")
    except FileNotFoundError:
        raise
    except (pa.ArrowException, OSError) as exc:  # pyarrow says a page it cannot decompress with an OSError
        raise ValueError(f"its data cannot be decoded: {first_line(exc)}") from None


def _disagreement(chunk: ColumnChunkMetaData, values: pa.ChunkedArray) -> str | None:
    """How a column chunk's decoded values differ from the statistics its footer recorded (None: they agree)."""
    import pyarrow.compute as pc

    if (recorded := chunk.statistics) is None:
        return None
    if recorded.has_null_count and values.null_count != recorded.null_count:
        return f"has {values.null_count} nulls, its footer says {recorded.null_count}"
    if recorded.has_min_max and chunk.physical_type not in _TRUNCATED_STATISTICS:
        low, high = (value.as_py() for value in pc.min_max(values).values())
        if (low, high) != (recorded.min, recorded.max):
            return f"holds {low} to {high}, its footer says {recorded.min} to {recorded.max}"
    return None


_TRUNCATED_STATISTICS = ("BYTE_ARRAY", "FIXED_LEN_BYTE_ARRAY")  # writers may cut their min and max short


def _listed_run_dirs(stage_root: Path) -> set[str]:
    """`proc=…/date=…/run_id=…` folders under the stage root, relative, as the store layout names them."""

    def folders(parent: str, prefix: str) -> list[str]:
        try:
            with os.scandir(parent) as entries:
                return [e.name for e in entries if e.name.startswith(prefix) and e.is_dir(follow_symlinks=False)]
        except OSError:
            return []

    root = str(stage_root)
    return {
        f"{proc}/{date}/{run}"
        for proc in folders(root, "proc=")
        for date in folders(os.path.join(root, proc), "date=")
        for run in folders(os.path.join(root, proc, date), "run_id=")
    }
