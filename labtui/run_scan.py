"""`Store.scan`'s source: the selected runs' samples, read file by file as Polars asks for them.

Each run's Parquet is read through one memory map (a writer replacing it mid-read hands over the old or the new
file, whole), the runs' footers give the union of their columns (a type two procedures disagree on is said, not
guessed), and a run whose file a commit removed is looked up again in the newest manifest: re-staged elsewhere,
it is read there; its raw file staged as another run since, the scan is `StoreChanged`; gone (pruned), it is left
out; still listed, it is a `DamagedRun`.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

import polars as pl

from labtui.core.errors import LabtuiError, UsageError
from labtui.core.layout import addresses_a_run, run_parquet_path
from labtui.core.manifest import read_manifest

if TYPE_CHECKING:
    from labtui.api import Store

RUN_COLUMNS = ("run_id", "proc", "date_local", "seq")  # always in a scan, before the data columns
_READ_THREADS = 8  # file reads wait on the disk as much as on the CPU; more threads than cores hide it
_FILES_PER_BATCH = 64


class DamagedRun(LabtuiError):
    """A run's Parquet that cannot be read (damaged outside labtui: a store writes whole files only)."""

    def __init__(self, path: Path, error: Exception) -> None:
        super().__init__(f"damaged run file {path}: {error} (`labtui validate` reports it)")


class StoreGone(LabtuiError):
    """The store's folder is no longer where it was opened (moved, renamed or unmounted while a reader held it): its
    runs read as none, an empty result no reader could tell from "no such runs"."""

    def __init__(self, root: Path) -> None:
        super().__init__(f"the store {root} is gone: moved, renamed or unmounted since it was opened (open_store it "
                         "where it is now)")


class StoreChanged(LabtuiError):
    """A run a scan selected left the store while the scan read it, and its raw file is another run now (edited, its
    start time changed; or pruned, and another measurement saved under its name). Left out, the file's samples were
    missing from the result, unsaid."""

    def __init__(self, run_id: object, source_file: str, replaced_by: str) -> None:
        super().__init__(f"run {run_id} ({source_file}) left the store while this scan read it, and its raw file now "
                         f"holds run {replaced_by}: scan again (store.scan(...) anew) for the store as it is now")


def present(store: Store) -> None:
    """Raise `StoreGone` when the store's `_manifest/` folder is gone."""
    if not store.manifest_path.parent.is_dir():
        raise StoreGone(store.root)


class RunScan:
    """A Polars IO source over the runs of a run table: pruning, projection and a pinned read of each file."""

    _footers: ClassVar[dict[tuple[str, object], dict[str, pl.DataType]]] = {}  # by (path, ingested_at_utc)

    def __init__(self, store: Store, runs: pl.DataFrame, sources: dict[str, str]) -> None:
        self.store = store
        self.runs = runs
        self.sources = sources  # run_id → its raw file, to tell a run replaced from one pruned (`_read`)
        self.run_schema = {name: dtype for name, dtype in runs.schema.items() if name != "path"}
        self._schema: dict[str, pl.DataType] | None = None

    def lazy(self) -> pl.LazyFrame:
        from polars.io.plugins import register_io_source

        return register_io_source(self._batches, schema=lambda: pl.Schema(self.schema()), explain_name="labtui store")

    def schema(self) -> dict[str, pl.DataType]:
        """Run-level columns, then the union of the selected runs' data columns."""
        if self._schema is None:
            self._schema = self.run_schema | self.data_schema()
        return self._schema

    def data_schema(self) -> dict[str, pl.DataType]:
        """The union of the selected runs' data columns (their footers, read once per file version, in threads:
        reading a footer is mostly waiting). A run column asked for that a run's data also has is refused: one
        name would hold the header's value (VDS of a Vt run's manifest row) where the run's data has its own."""
        stamps = self.store.manifest.select("run_id", "ingested_at_utc")
        rows = self.runs.join(stamps, on="run_id", how="left").select("path", "ingested_at_utc", "proc").rows()
        todo = [(path, stamp) for path, stamp, _ in rows if (path, stamp) not in self._footers]
        with ThreadPoolExecutor(_READ_THREADS) as pool:
            for key, footer in zip(todo, pool.map(lambda key: _footer(Path(key[0])), todo), strict=True):
                if footer is not None:
                    self._footers[key] = footer
        data: dict[str, pl.DataType] = {}
        clashes: dict[str, list[str]] = {}  # a run column asked for → the procedures whose data has it too
        for path, stamp, proc in rows:
            for name, dtype in self._footers.get((path, stamp), {}).items():
                data[name] = dtype if name not in data else _supertype(name, data[name], dtype)
                if name in self.run_schema and name not in RUN_COLUMNS:
                    clashes.setdefault(name, []).append(proc)
        if clashes:
            name, procs = next(iter(clashes.items()))
            raise UsageError(f"columns: {name} is a run column and a data column of the "
                             f"{', '.join(dict.fromkeys(procs))} runs, which a scan keeps under its name: leave it out "
                             f"of columns (store.runs() has the run's {name}, to join on run_id)")
        return {name: dtype for name, dtype in data.items() if name not in RUN_COLUMNS}

    def _batches(
        self, with_columns: list[str] | None, predicate: pl.Expr | None, n_rows: int | None, _batch_size: int | None
    ) -> Iterator[pl.DataFrame]:
        schema = self.schema()
        wanted = list(schema) if with_columns is None else with_columns
        needed = list(dict.fromkeys([*wanted, *(predicate.meta.root_names() if predicate is not None else [])]))
        runs = self.runs
        if predicate is not None and set(predicate.meta.root_names()) <= set(self.run_schema):
            runs = runs.filter(predicate)  # partition pruning: whole runs out before any file is opened
        data_columns = [name for name in needed if name not in self.run_schema]
        typed = [pl.col(name).cast(schema[name]) for name in needed]
        left = n_rows
        with ThreadPoolExecutor(_READ_THREADS) as pool:
            for start in range(0, runs.height, _FILES_PER_BATCH):
                chunk = runs.slice(start, _FILES_PER_BATCH).to_dicts()
                parts = [
                    part.select(typed)
                    for part in pool.map(lambda run: self._read(run, data_columns), chunk)
                    if part is not None
                ]
                if not parts:
                    continue
                batch = pl.concat(parts, how="vertical")
                if predicate is not None:
                    batch = batch.filter(predicate)
                batch = batch.select(wanted)
                if left is not None:
                    batch = batch.head(left)
                    left -= batch.height
                yield batch
                if left is not None and left <= 0:
                    return

    def _read(self, run: dict[str, object], columns: list[str]) -> pl.DataFrame | None:
        """One run's samples with its run-level columns; a file a commit removed is looked up in the new manifest."""
        path = Path(str(run["path"]))
        for _ in range(3):
            try:
                frame = _read_columns(path, columns)
            except FileNotFoundError:
                present(self.store)
                latest = read_manifest(self.store.manifest_path).filter(addresses_a_run())
                moved = latest.filter(pl.col("run_id") == run["run_id"])
                if moved.is_empty():
                    source = self.sources.get(str(run["run_id"]), "")
                    if not (now := latest.filter(pl.col("source_file") == source)).is_empty():
                        raise StoreChanged(run["run_id"], source, now["run_id"][0]) from None
                    return None  # pruned by a commit since the manifest was read: no longer in the store
                row = moved.row(0, named=True)  # re-staged elsewhere (its procedure changed): read it there
                run = run | {name: row[name] for name in run if name in row}
                staged = run_parquet_path(self.store.stage_root, row["proc"], row["date_local"], row["run_id"])
                if staged == path:  # the manifest still names it: deleted outside labtui (it was left out, unsaid)
                    raise DamagedRun(path, FileNotFoundError("the file is missing")) from None
                path = staged
                continue
            literals = {name: pl.lit(run[name], dtype=dtype) for name, dtype in self.run_schema.items()}
            return frame.with_columns(**literals)
        raise DamagedRun(path, FileNotFoundError("the run kept moving while it was read"))


def _footer(path: Path) -> dict[str, pl.DataType] | None:
    """A run file's column types; None when a commit has just removed it (`_read` finds where it went)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        schema = pq.read_schema(pa.memory_map(str(path)))
    except FileNotFoundError:
        return None
    except pa.ArrowException as exc:
        raise DamagedRun(path, exc) from None
    return dict(pl.DataFrame(schema.empty_table()).schema)


def _read_columns(path: Path, columns: list[str]) -> pl.DataFrame:
    """The file's share of `columns` (absent ones null), read through one memory map: one version, whole."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    source = pa.memory_map(str(path))  # FileNotFoundError before any read: the retry's signal
    try:
        parquet = pq.ParquetFile(source)
        present = [name for name in columns if name in parquet.schema_arrow.names]
        if present:
            frame = pl.from_arrow(parquet.read(columns=present))
            assert isinstance(frame, pl.DataFrame)
        else:  # only run-level columns: one row per sample, no column worth reading
            frame = pl.DataFrame(height=parquet.metadata.num_rows)
    except pa.ArrowException as exc:
        raise DamagedRun(path, exc) from None
    return frame.with_columns(pl.lit(None).alias(name) for name in columns if name not in frame.columns)


def _supertype(name: str, left: pl.DataType, right: pl.DataType) -> pl.DataType:
    """The type both runs' `name` fits (Float64 and Int64 → Float64); a clear error where none exists."""
    if left == right:
        return left
    try:
        return pl.concat(
            [pl.DataFrame(schema={name: left}), pl.DataFrame(schema={name: right})], how="vertical_relaxed"
        ).schema[name]
    except pl.exceptions.PolarsError:
        raise UsageError(f"column {name!r} is {left} in some runs and {right} in others") from None
