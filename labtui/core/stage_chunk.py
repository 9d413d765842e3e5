"""What a staging worker does with a chunk of files: read and hash → header → parse → row and claim → metrics and
record → write (a temp Parquet, the record in its footer), one phase over the whole chunk at a time. The stager
(`stager.py`) plans the work, cuts it into chunks (`chunks`), runs a `ChunkWorker` in its threads and commits what
they return.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import errno
import hashlib
import os
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from labtui.core import faults
from labtui.core.atomic import write_temps
from labtui.core.commit import Retimed, Staged
from labtui.core.config import StagingConfig
from labtui.core.errors import OperationFailed, os_error_in
from labtui.core.extraction_rules import EXTRACTION_RULES
from labtui.core.layout import RUN_COMPRESSION, RUN_COMPRESSION_LEVEL, RUN_RECORD_KEY, addresses_a_run, run_parquet_path
from labtui.core.rawread import Busy, read_raw
from labtui.core.rejects import RejectRecord
from labtui.core.scan import Candidate, Outcome, csv_stem
from labtui.core.stat_index import Signatures

if TYPE_CHECKING:  # Polars, NumPy, the parser and the models are imported where a file is read
    import polars as pl

    from labtui.core.manifest_row import ManifestRow
    from labtui.core.metrics.per_run import Curve
    from labtui.core.parser import Header
    from labtui.core.registry import Registry
    from labtui.core.rejects import Reject

ChunkResult = Staged | Retimed | RejectRecord | Busy
CHUNK_FILES = 16  # files a worker takes at once (see `ChunkWorker.stage`) ...
CHUNK_BYTES = 1 << 20  # ... and their raw bytes, held until the chunk is parsed (its frames until written)
RECORDING_SECONDS = 30  # a file whose last row is cut, written this recently, is being recorded (a row a second)
# ... or written this far ahead of this computer's clock: a share's clock ahead (its mtime "in the future" was taken
# for an old one, the run being measured staged as aborted). Farther ahead, a clock set wrong: judged as old.
CLOCK_AHEAD_SECONDS = 3600
MEASURING_SECONDS = 86400  # a run begun this recently, short of its end and written within RECORDING_SECONDS, is
# being measured (the longest runs take hours)


class StagedRun(NamedTuple):
    """A staged run as its manifest row has it: what a file only touched must still match."""

    sha256: str  # its raw file's content
    parquet: Path
    run_id: str
    rows: int

    def in_place(self) -> bool:
        """Its Parquet is whole (a footer, read in a few µs) and holds its rows and its record: a touch re-staged a
        damaged one before its new stat was recorded without staging, and still does."""
        from labtui.core.parquet_footer import read_footer

        try:
            footer = read_footer(self.parquet)
        except (OSError, ValueError, IndexError):  # missing, cut, overwritten: a footer that does not decode
            return False
        return (footer.rows, footer.run_id) == (self.rows, self.run_id)


def as_staged(config: StagingConfig, manifest: pl.DataFrame, work: list[Candidate],
              staged: Signatures) -> dict[str, StagedRun]:
    """The runs of the files to read whose size is the one staged, by a row this labtui would make again
    (`stat_columns` gives another row a size no file has): only their mtime changed, and a worker that finds their
    content as staged records their new stat instead of staging them (`Retimed`)."""
    import polars as pl

    sources = [cand.source_file for cand in work if (staged.get(cand.source_file) or (None,))[0] == cand.size]
    if not sources:
        return {}
    rows = manifest.filter(pl.col("source_file").is_in(sources) & pl.col("source_sha256").is_not_null()
                           & pl.col("n_rows").is_not_null() & addresses_a_run())
    return {source: StagedRun(sha256, run_parquet_path(config.stage_root, proc, date_local, run_id), run_id, rows)
            for source, sha256, proc, date_local, run_id, rows
            in rows.select("source_file", "source_sha256", "proc", "date_local", "run_id", "n_rows").iter_rows()}


@dataclass
class _File:
    """One file on its way through a chunk's phases; `result` is set once it is settled."""

    cand: Candidate  # as scanned: a reject records this stat, which the next plan compares
    as_read: Candidate | None = None  # the stat its bytes were read with: the manifest row records this one
    sha256: str = ""
    header: Header | None = None
    frame: pl.DataFrame | None = None
    warnings: list[str] = field(default_factory=list)
    row: ManifestRow | None = None
    derived: tuple[object, ...] = ()
    curve: Curve | None = None
    record: str = ""  # `run_record`: written into the run's Parquet footer
    data: bytes = b""  # the raw bytes, from the load to the parse
    result: ChunkResult | None = None


def _begun_lately(row: ManifestRow) -> bool:
    """The run began within `MEASURING_SECONDS`: it may be measured still (a backlog copied in a minute ago, its
    files all new, holds old runs: an aborted one among them stages at once)."""
    return (dt.datetime.now(dt.UTC) - row.start_time_utc).total_seconds() < MEASURING_SECONDS


def _row_cut(data: bytes, rows_at: int) -> bool:
    """The file ends inside a data row (rows from byte `rows_at`): not after a line end, nor after blanks."""
    from labtui.core.raw_text import VISIBLE

    return not data.endswith(b"\n") and VISIBLE.search(data, max(data.rfind(b"\n") + 1, rows_at)) is not None


class ChunkWorker:
    """The phases of one stage's chunks; the stager's threads share one. `claim` reserves a row's run_id across
    them (`RunClaims.claim`); `temp_dir` is the staging area (None: temp files beside their targets); `as_staged`:
    the runs of the files read whose row this labtui would make again as it is (only their stat changed): a file
    whose content is its run's, and whose run's Parquet is whole, was only touched (`Retimed`)."""

    def __init__(self, config: StagingConfig, registry: Registry, version: str | Future[str], temp_dir: Path | None,
                 claim: Callable[[ManifestRow, int], None], cancel: threading.Event,
                 registry_sha256: str | None = None, recording_s: float = 0,
                 as_staged: Mapping[str, StagedRun] | None = None) -> None:
        self.config = config
        self.registry = registry
        self._version = version
        self.temp_dir = temp_dir
        self.claim = claim
        self.cancel = cancel
        self.python = threading.Lock()  # held by the per-file phases: one thread runs them at a time (see `stage`)
        self.registry_sha256 = registry_sha256  # the registry's digest, recorded in each reject (`rejected_as_is`)
        self.recording_s = recording_s  # a file whose last row is cut, written this recently, is busy (`_header`)
        self.as_staged = as_staged or {}
        # threads that wait on the chunks' writes (see `_write`), started once: one started per chunk waited for
        # the GIL to start, 5 % of a stage's samples
        self.writer = ThreadPoolExecutor(config.workers, thread_name_prefix="labtui-write")

    @property
    def version(self) -> str:
        """The extraction version, awaited at the first row: a checkout's `git describe` (17 ms) runs while the first
        chunks are read and parsed, not before they start."""
        return self._version if isinstance(self._version, str) else self._version.result()

    def __enter__(self) -> ChunkWorker:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.writer.shutdown()

    def stage(self, chunk: list[Candidate]) -> list[tuple[Candidate, ChunkResult]]:
        """Each phase runs over the whole chunk before the next starts: the parse and the write are one Polars
        query each for the chunk (see `datablock.parse_many`), and the code of each phase stays in the CPU's caches
        from one file to the next (file by file, each library evicted the others': the metrics cost 2–4× their
        tight-loop time, and a stage 6–13 % more CPU). A file leaves the chunk when it is settled (rejected,
        busy); the rest go on. Only settled files are returned.

        The header, row and metrics phases are Python under the GIL, and one thread at a time runs them
        (`self.python`; the metrics while the chunk's write runs, see `_write`); the others wait there, read files
        or run their chunk's Polars queries. Three threads contending for the GIL instead handed it back and forth at
        every NumPy call that releases it: a stage took 8–9 % more CPU and wall time (10 interleaved pairs). The
        reads stay outside: on a network share they wait on the server, in parallel."""
        files = [_File(cand) for cand in chunk]
        header, make_row = (_per_file(step, self.python) for step in (self._header, self._make_row))
        phases = (_per_file(self._read), header, self._parse, make_row, self._write)
        for phase in phases:
            if self.cancel.is_set():  # the files not yet written are left for the next stage, as if never begun
                break
            live = [file for file in files if file.result is None]
            if live:
                phase(live)
        return [(file.cand, _judged_by(file.result, self.registry_sha256)) for file in files if file.result is not None]

    def _read(self, file: _File) -> None:
        """Read and hash one file (neither holds the GIL for long). Its bytes are kept for the chunk's parse: a
        chunk holds about `CHUNK_BYTES`. A file with the content staged, only touched, goes no further: a tree
        copied without its times is hashed, not staged again."""
        read = read_raw(file.cand)
        if isinstance(read, Busy):
            file.result = read
            return
        data, after = read
        file.sha256 = hashlib.sha256(data).hexdigest()
        staged = self.as_staged.get(file.cand.source_file)
        if staged is not None and staged.sha256 == file.sha256 and staged.in_place():
            file.result = Retimed(file.cand.source_file, file.sha256, after.st_mtime_ns)
            return
        file.as_read = Candidate(file.cand.source_file, file.cand.path, after.st_size, after.st_mtime_ns, False)
        file.data = data

    def _header(self, file: _File) -> None:
        from labtui.core.parser import parse_header

        file.header = parse_header(file.data, self.registry, csv_stem(os.path.basename(file.cand.path)))
        if (when := self._written_lately(file, ahead=True)) and _row_cut(file.data, file.header.data_offset):
            # read between two of the acquisition's writes: a plain stage took the run being measured for an aborted
            # one. Older (an acquisition stopped mid-row), it stages: its cut row dropped, and said
            file.result = Busy(f"its last row is cut and it was {when}: still being recorded? Staged once it is "
                               f"{self.recording_s:g} s old")

    def _written_lately(self, file: _File, *, ahead: bool = False) -> str | None:
        """How lately the file was written, when within `recording_s` (or, with `ahead`, ahead of this computer's
        clock, within `CLOCK_AHEAD_SECONDS`): an acquisition may be writing it still. Only a cut row is judged busy
        ahead of the clock: a run short of its end, or a file cut short, was deferred until the clock caught up
        with its mtime (up to an hour, said as "once it is 30 s old"), where it had staged at once."""
        assert file.as_read is not None  # read before its header
        age = time.time_ns() - file.as_read.mtime_ns
        if not (self.recording_s and (-CLOCK_AHEAD_SECONDS * 1e9 if ahead else 0) <= age < self.recording_s * 1e9):
            return None
        return f"written {age / 1e9:.0f} s ago" if age >= 0 else \
            f"written {-age / 1e9:.0f} s ahead of this computer's clock (the share's clock ahead?)"

    def _parse(self, files: list[_File]) -> None:
        """The chunk's data blocks, in one Polars query; the raw bytes are let go here."""
        from labtui.core.datablock import parse_many
        from labtui.core.rejects import Reject

        loaded: list[tuple[bytes, Header]] = []
        for file in files:
            assert file.header is not None  # every file still in the chunk has been loaded
            loaded.append((file.data, file.header))
        for file, (_, header), result in zip(files, loaded, parse_many(loaded), strict=True):
            file.data = b""
            if isinstance(result, Reject):
                file.result = _rejected(file.cand, result)
            else:
                file.frame, data_warnings = result
                file.warnings = header.warnings + data_warnings

    def _make_row(self, file: _File) -> None:
        """The run's manifest row (raises `Reject` for values out of range), its run_id claimed, and its record."""
        from pydantic import ValidationError

        from labtui.core.extract import build_row
        from labtui.core.rejects import Reject

        assert file.header is not None and file.frame is not None and file.as_read is not None
        try:
            file.row, notes = build_row(
                file.header,
                file.frame,
                source_file=file.as_read.source_file,
                size=file.as_read.size,
                mtime_ns=file.as_read.mtime_ns,
                sha256=file.sha256,
                zone=self.config.zone,
                extraction_version=self.version,
                procedure_rules=self.registry.rules[file.header.proc],
                ingested_at=dt.datetime.now(dt.UTC),
            )
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
            raise Reject("invalid_values", f"header values out of range: {problems}") from None
        if not file.row.is_complete and (when := self._written_lately(file)) and _begun_lately(file.row):
            # the run being measured, read between two rows: staged, it was an aborted run until its end (the app's
            # `s` staged the very file its dashboard listed as measuring now)
            file.result = Busy(f"its run has not reached its end and it was {when}: still being measured (or "
                               f"saved)? Staged once it is {self.recording_s:g} s old")
            return
        file.warnings += notes
        try:
            self.claim(file.row, file.header.column_line + file.row.n_rows)  # the line its rows end on
        except Reject as problem:  # fewer rows than its staged run, read mid-save (a sync, a copy over it): its
            # reject, and its advice to `restage --force` what is left, were wrong while the file was written
            if problem.kind != "cut_short" or not (when := self._written_lately(file)):
                raise
            file.result = Busy(f"it holds fewer rows than its staged run and it was {when}: still being saved or "
                               f"copied? Staged once it is {self.recording_s:g} s old")
            return
        file.record = run_record(file.row, file.warnings, self.version)

    def _derive(self, file: _File) -> None:
        """The run's from-data metrics (and a calibration's curve, which the metrics interpolate It runs' power on)."""
        from labtui.core.header_values import reading_limit, sweep_limits
        from labtui.core.metrics import curve_of, from_data

        row, frame, header = file.row, file.frame, file.header
        assert row is not None and frame is not None and header is not None
        family = self.registry.family(row.proc)
        limits = sweep_limits(header.spec, header.raw) if family != "It" else None
        file.derived = from_data(family, frame, row.vds_v, self.config.metrics, row.laser_voltage_v, limits,
                                 reading_limit(family, header.raw))
        file.curve = curve_of(frame) if family == "LaserCalibration" else None

    def _write(self, files: list[_File]) -> None:
        """The runs' Parquet as temp files, their records in the footers, in one Polars query; the commit publishes
        them. A writer thread waits on the query while this one computes the runs' metrics (`_derive`): the query
        works in Polars' threads without the GIL, so the two overlap (a full stage took 18 % longer with the metrics
        computed before the write, 12 % with them computed during it: medians of 9 interleaved pairs)."""
        import polars as pl

        rows: list[ManifestRow] = []
        frames: list[pl.DataFrame] = []
        for file in files:
            assert file.row is not None and file.frame is not None  # every file still in the chunk has both
            rows.append(file.row)
            frames.append(file.frame)
        # their folders made by `write_temps`: here, in parallel, not in the commit's serial loop
        targets = [run_parquet_path(self.config.stage_root, row.proc, row.date_local, row.run_id) for row in rows]

        def write_all(paths: list[Path]) -> None:
            sinks = [
                frame.lazy().sink_parquet(path, compression=RUN_COMPRESSION, compression_level=RUN_COMPRESSION_LEVEL,
                                          statistics=True, credential_provider=None, lazy=True,
                                          metadata={RUN_RECORD_KEY: file.record})
                for frame, path, file in zip(frames, paths, files, strict=True)
            ]
            writing = self.writer.submit(pl.collect_all, sinks)
            try:
                _per_file(self._derive, self.python)(files)
            finally:
                _written(writing, paths[0].parent)  # finished even when a metric fails: `write_temps` removes the temps

        try:
            temps = write_temps(targets, write_all, self.temp_dir)
        except Exception as exc:  # Polars wraps an OS error (a full disk) in its own error types
            if (cause := os_error_in(exc)) is None:
                raise
            raise OperationFailed("write Parquet into", self.temp_dir or self.config.stage_root, cause) from exc
        for file, row, temp, target in zip(files, rows, temps, targets, strict=True):
            faults.point("after_temp_write")
            file.frame = None
            file.result = Staged(row, file.warnings, temp, target, file.derived, file.curve)


def _written(writing: Future[Any], folder: Path) -> None:
    """Wait for the Parquet write. A full disk does not always reach Polars' error as an OS error (`Invalid thrift:
    transport error`): a write that failed while the disk is full, its temps still taking the space, is said as the
    full disk it is, not as a bug in labtui."""
    try:
        writing.result()
    except Exception as exc:
        if os_error_in(exc) is None and _disk_full(folder):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC)) from exc
        raise


def _disk_full(folder: Path) -> bool:
    """Less than a MiB left for this user (a page of Parquet with its footer needs more)."""
    try:
        usage = os.statvfs(folder)
    except OSError:
        return False
    return usage.f_bavail * usage.f_frsize < 1 << 20


def run_record(row: ManifestRow, warnings: list[str], extraction_version: str) -> str:
    """What happened at a run's staging, with its manifest row (what `labtui repair` rebuilds the manifest from),
    as JSON for its Parquet's footer: a file of its own per run took 8 % of a full stage (a second file created and
    renamed per run). Encoded by Pydantic's serializer, which writes the row straight to JSON."""
    from pydantic_core import to_json  # loaded with the row's model already

    record = {
        "run_id": row.run_id,
        "source_file": row.source_file,
        "outcome": Outcome.STAGED.value,
        "staged_at_utc": row.ingested_at_utc.isoformat(),
        "n_rows": row.n_rows,
        "is_complete": row.is_complete,
        "warnings": warnings,
        "extraction_version": extraction_version,
        "row": row,
    }
    return to_json(record).decode()


def _per_file(step: Callable[[_File], None], lock: threading.Lock | None = None) -> Callable[[list[_File]], None]:
    """A phase that takes a chunk's files one by one, holding `lock` if given: a `Reject` settles only its own
    file."""
    from labtui.core.rejects import Reject

    def phase(files: list[_File]) -> None:
        with lock or nullcontext():
            for file in files:
                try:
                    step(file)
                except Reject as problem:
                    file.result = _rejected(file.cand, problem)

    return phase


def _judged_by(result: ChunkResult, registry: str | None) -> ChunkResult:
    """A reject records the registry it was judged by: edited (the procedure the reject names added), the next
    stage reads the file again."""
    return dataclasses.replace(result, registry_sha256=registry) if isinstance(result, RejectRecord) else result


def _rejected(cand: Candidate, problem: Reject) -> RejectRecord:
    """A file's reject, with the stat of the scan: the next plan compares it."""
    return RejectRecord(
        source_file=cand.source_file,
        kind=problem.kind,
        reason=problem.reason,
        line=problem.line,
        rejected_at_utc=dt.datetime.now(dt.UTC),
        source_size=cand.size,
        source_mtime_ns=cand.mtime_ns,
        extraction_rules=EXTRACTION_RULES,
        plausible_from_utc=problem.plausible_from,
        owner_file=problem.owner,
    )


def chunks(work: list[Candidate], max_files: int) -> Iterator[list[Candidate]]:
    """The work in chunks of up to `max_files` files and about `CHUNK_BYTES`. Names equal but for letter case can
    be one run_id: they go to one chunk, the name the acquisition writes (`.csv`) first, then in name order, so which
    one owns the run never depends on thread timing (by name alone, a `.CSV` copy took the run from its original)."""
    groups: dict[str, list[Candidate]] = {}
    for cand in work:
        groups.setdefault(cand.source_file.lower(), []).append(cand)
    chunk: list[Candidate] = []
    size = 0
    for group in groups.values():
        if len(group) > 1:
            group.sort(key=lambda cand: (not cand.source_file.endswith(".csv"), cand.source_file))
        if chunk and (len(chunk) + len(group) > max_files or size >= CHUNK_BYTES):
            yield chunk
            chunk, size = [], 0
        chunk += group
        size += sum(cand.size for cand in group)
    if chunk:
        yield chunk
