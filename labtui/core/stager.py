"""The staging engine: raw CSVs → one Parquet per run + the manifest, incrementally, in worker threads.

A run plans from the stat index (what changed since the last stage), then workers take chunks of files through
load (read, hash, parse) → row and claim → metrics → write (a temp Parquet), one phase over the whole chunk at a
time, and the calling thread commits batches by the protocol in `commit.py`. A run that finds nothing to do never
loads Polars (imported only where there is work). The raw tree is only ever opened read-only.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from functools import cached_property, partial
from pathlib import Path
from typing import TYPE_CHECKING

from labtui.core import faults
from labtui.core.atomic import write_temp, write_temps
from labtui.core.commit import Staged, StoreCommit, event_path, event_record
from labtui.core.config import StagingConfig, extraction_version
from labtui.core.errors import OperationFailed, os_error_in
from labtui.core.layout import run_parquet_path
from labtui.core.overview import read_overview
from labtui.core.rawread import Busy, read_raw, release_large_buffers
from labtui.core.rejects import RejectRecord, load_rejects
from labtui.core.scan import Candidate, Outcome, known_outcome, relative_source, scan_raw, staged_signatures
from labtui.core.stage_events import EventCallback, EventKind, StageEvent, StageReport
from labtui.core.stat_index import Signatures, manifest_digest, read_stat_index
from labtui.core.store import check_location, check_raw_root, lock_store, write_identity

if TYPE_CHECKING:  # Polars, NumPy, the parser and the models are imported where a file is read or a commit made
    import polars as pl

    from labtui.core.manifest_row import ManifestRow
    from labtui.core.metrics.table import Curve
    from labtui.core.parser import Header, Reject
    from labtui.core.registry import Registry

_Result = Staged | RejectRecord | Busy
CHUNK_FILES = 16  # files a worker takes at once (see `Stager._stage_chunk`) ...
CHUNK_BYTES = 1 << 20  # ... and their raw bytes, held until the chunk is parsed (its frames until written)


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
    event: bytes = b""
    data: bytes = b""  # the raw bytes, from the load to the parse
    result: _Result | None = None


class Stager:
    """One staging run. Use `stage()`; the class only keeps the run's state together."""

    def __init__(
        self,
        config: StagingConfig,
        *,
        registry: Registry | None = None,
        force: bool | None = None,
        only: Iterable[Path] | None = None,
        raw_root_moved: bool = False,
        settle_seconds: float | None = None,
        on_event: EventCallback | None = None,
        cancel: threading.Event | None = None,
    ) -> None:
        self.config = config
        self._registry = registry
        self.only = None if only is None else {relative_source(config.raw_root, p) for p in only}
        self.force = (self.only is not None) if force is None else force  # files named by the user are re-read
        self.raw_root_moved = raw_root_moved  # the lab moved the raw tree: record the new root (see core.store)
        self.settle = config.settle_seconds if settle_seconds is None else settle_seconds
        self.on_event = on_event or (lambda event: None)
        self.cancel = cancel or threading.Event()
        self.report = StageReport()
        self._committer = StoreCommit(config)
        self._temp_dir: Path | None = None
        self._events_dir = config.events_dir  # looked up once: a config path property costs a few Path joins per call
        self._claim_lock = threading.Lock()
        self._claimed: dict[str, str] = {}  # run_id -> source_file that owns it (see _claim)
        self._owned: dict[str, str] = {}  # source_file -> its run_id
        self._present: set[str] = set()
        self._derived: dict[str, tuple[str, tuple[object, ...]]] = {}  # run_id -> (content hash, from-data metrics)
        self._curves: dict[str, tuple[str, Curve]] = {}  # calibration run_id -> (hash, its curve)

    @cached_property
    def registry(self) -> Registry:
        """Loaded only when a file is read: a no-change re-run needs neither the registry nor the version."""
        from labtui.core.registry import load_registry

        return self._registry or load_registry(self.config.procedures_file)

    @cached_property
    def version(self) -> str:
        return extraction_version()

    # -- planning ---------------------------------------------------------------------------------------------
    def _plan(
        self, candidates: list[Candidate], staged: Signatures, rejects: dict[str, RejectRecord]
    ) -> tuple[list[Candidate], list[tuple[Candidate, Outcome]]]:
        now_ns = time.time_ns()
        work: list[Candidate] = []
        skipped: list[tuple[Candidate, Outcome]] = []
        for cand in candidates:
            if self.only is not None and cand.source_file not in self.only:
                continue
            known = None if self.force else known_outcome(cand, staged, rejects)
            if known is not None:
                skipped.append((cand, known))
            elif not cand.is_symlink and (now_ns - cand.mtime_ns) < self.settle * 1e9:
                skipped.append((cand, Outcome.BUSY))
            else:
                work.append(cand)
        return work, skipped

    # -- one chunk of files (worker thread): load → parse → row and claim → metrics → write, phase by phase -----
    def _stage_chunk(self, chunk: list[Candidate]) -> list[tuple[Candidate, _Result]]:
        """Each phase runs over the whole chunk before the next starts: the parse and the write are one Polars
        query each for the chunk (see `parser.parse_many`), and the code of each phase stays in the CPU's caches
        from one file to the next (file by file, each library evicted the others': the metrics cost 2–4× their
        tight-loop time, and a stage 6–13 % more CPU). A file leaves the chunk when it is settled (rejected,
        busy); the rest go on. Only settled files are returned."""
        files = [_File(cand) for cand in chunk]
        phases = (_per_file(self._load), self._parse, _per_file(self._make_row), _per_file(self._derive), self._write)
        for phase in phases:
            if self.cancel.is_set():  # the files not yet written are left for the next stage, as if never begun
                break
            live = [file for file in files if file.result is None]
            if live:
                phase(live)
        return [(file.cand, file.result) for file in files if file.result is not None]

    def _load(self, file: _File) -> None:
        """Read, hash and parse the header of one file. Its bytes are kept for the chunk's parse: a chunk holds
        about `CHUNK_BYTES`."""
        from labtui.core.parser import parse_header

        read = read_raw(file.cand)
        if isinstance(read, Busy):
            file.result = read
            return
        data, after = read
        file.sha256 = hashlib.sha256(data).hexdigest()
        file.as_read = Candidate(file.cand.source_file, file.cand.path, after.st_size, after.st_mtime_ns, False)
        file.header = parse_header(data, self.registry, Path(file.cand.path).stem)
        file.data = data

    def _parse(self, files: list[_File]) -> None:
        """The chunk's data blocks, in one Polars query; the raw bytes are let go here."""
        from labtui.core.parser import Reject, parse_many

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
        """The run's manifest row (raises `Reject` for values out of range), its run_id claimed."""
        from pydantic import ValidationError

        from labtui.core.extract import build_row
        from labtui.core.parser import Reject

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
                ingested_at=dt.datetime.now(dt.UTC),
            )
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
            raise Reject("invalid_values", f"header values out of range: {problems}") from None
        file.warnings += notes
        self._claim(file.row)

    def _derive(self, file: _File) -> None:
        """The run's from-data metrics (and a calibration's curve, which the metrics interpolate It runs' power on)
        and its event record."""
        from labtui.core.metrics import curve_of, from_data

        row, frame = file.row, file.frame
        assert row is not None and frame is not None
        file.derived = from_data(row.proc, frame, row.vds_v, self.config.metrics)
        file.curve = curve_of(frame) if row.proc == "LaserCalibration" else None
        file.event = event_record(row, file.warnings, self.version)

    def _write(self, files: list[_File]) -> None:
        """The runs' Parquet as temp files, in one Polars query, and their event records; the commit publishes
        them."""
        import polars as pl

        rows: list[ManifestRow] = []
        frames: list[pl.DataFrame] = []
        for file in files:
            assert file.row is not None and file.frame is not None  # every file still in the chunk has both
            rows.append(file.row)
            frames.append(file.frame)
        targets = [run_parquet_path(self.config.stage_root, row.proc, row.date_local, row.run_id) for row in rows]
        for folder in {target.parent for target in targets}:  # here, in parallel, not in the commit's serial loop
            folder.mkdir(parents=True, exist_ok=True)

        def write_all(paths: list[Path]) -> None:
            pl.collect_all([
                frame.lazy().sink_parquet(path, compression="zstd", statistics=True, credential_provider=None,
                                          lazy=True)
                for frame, path in zip(frames, paths, strict=True)
            ])

        try:
            temps = write_temps(targets, write_all, self._temp_dir)
        except Exception as exc:  # Polars wraps an OS error (a full disk) in its own error types
            if (cause := os_error_in(exc)) is None:
                raise
            raise OperationFailed("write Parquet into", self._temp_dir or self.config.stage_root, cause) from exc
        for file, row, temp, target in zip(files, rows, temps, targets, strict=True):
            faults.point("after_temp_write")
            event = partial(Path.write_bytes, data=file.event)
            event_temp = write_temp(event_path(self._events_dir, row.run_id), event, temp_dir=self._temp_dir)
            file.frame = None
            file.result = Staged(row, file.warnings, temp, target, event_temp, file.derived, file.curve)

    def _claim(self, row: ManifestRow) -> None:
        """Reserve the row's run_id before its Parquet is written: a second file with the same run_id (a case
        twin) is rejected without touching the Parquet of the file that owns the run."""
        from labtui.core.parser import Reject

        with self._claim_lock:
            owner = self._claimed.get(row.run_id)
            if owner is not None and owner != row.source_file and owner in self._present:
                raise Reject(
                    "duplicate_run",
                    f"maps to the same run as {owner} (paths equal but for letter case, same start time)",
                )
            old = self._owned.get(row.source_file)
            if old is not None and old != row.run_id and self._claimed.get(old) == row.source_file:
                del self._claimed[old]  # the file's start time moved: its old run_id is free
            self._claimed[row.run_id] = row.source_file
            self._owned[row.source_file] = row.run_id

    # -- the run ----------------------------------------------------------------------------------------------
    def run(self) -> StageReport:
        started = time.monotonic()
        check_location(self.config)
        lock = lock_store(self.config, self.cancel, lambda holder: self._emit(EventKind.LOCK_WAIT, holder=holder))
        try:
            self._committer.recover_if_dirty()
            rejects = load_rejects(self.config.rejects_dir)
            candidates = scan_raw(self.config.raw_root)
            present = {cand.source_file for cand in candidates}
            manifest: pl.DataFrame | None = None  # read only when the stat index is stale or there is work
            path = self.config.manifest_path
            digest = manifest_digest(path)  # one read of the manifest checks both records
            staged = read_stat_index(path, digest)
            index_stale = staged is None or read_overview(path, self.config.local_tz, digest) is None
            if staged is None:
                manifest = self._manifest()
                staged = staged_signatures(manifest)
            identity = check_raw_root(self.config, list(staged), moved=self.raw_root_moved)
            if identity is not None:
                self._committer.mark_dirty()  # a crash while recording it leaves a temp file the next writer sweeps
                write_identity(self.config, identity)
            work, skipped = self._plan(candidates, staged, rejects)
            total = len(work) + len(skipped)
            for cand, outcome in skipped:
                self.report.counts[outcome] += 1
                if outcome is Outcome.BUSY:
                    self.report.busy_files.append(cand.source_file)
                elif outcome is Outcome.REJECTED:
                    self.report.known_rejects.append(rejects[cand.source_file])
            self._emit(EventKind.SCAN, total=total, message=f"{len(work)} to read, {len(skipped)} skipped")
            unchanged = {cand.source_file for cand, outcome in skipped if outcome is Outcome.UNCHANGED}
            self._committer.drop_stale_rejects(rejects, present, unchanged)
            if work:
                self._committer.mark_dirty()
                self._temp_dir = self._committer.staging_area()
                self.config.events_dir.mkdir(parents=True, exist_ok=True)
                _ = self.registry, self.version  # load once here, not racing in the workers
                release_large_buffers()
                if manifest is None:
                    manifest = self._manifest()
                manifest = self._run_pool(work, manifest, rejects, present, total, len(skipped))
            if index_stale and self.report.commits == 0 and self.config.manifest_path.exists():
                self._committer.index_manifest(manifest if manifest is not None else self._manifest())
            if self._committer.dirty:
                self._committer.clear_dirty()
            if work or not self.config.metrics_path.exists():  # a no-change stage never loads the metrics
                from labtui.core.metrics import update_after_stage

                self.report.metrics = update_after_stage(
                    self.config, manifest, changed=bool(work), computed=self._derived, curves=self._curves
                )
        finally:
            lock.release()
        self.report.elapsed_s = time.monotonic() - started
        self._emit(EventKind.DONE, total=self.report_total(), message=self.report.line())
        return self.report

    def _manifest(self) -> pl.DataFrame:
        from labtui.core.manifest import read_manifest

        return read_manifest(self.config.manifest_path)

    def report_total(self) -> int:
        return sum(self.report.counts.values())

    def _run_pool(
        self,
        work: list[Candidate],
        manifest: pl.DataFrame,
        rejects: dict[str, RejectRecord],
        present: set[str],
        total: int,
        done: int,
    ) -> pl.DataFrame:
        per_worker = -(-len(work) // self.config.workers)  # rounded up: a small stage still reaches every worker
        queue = _chunks(work, max_files=min(CHUNK_FILES, per_worker))
        last_commit = time.monotonic()
        self._claimed = dict(zip(manifest["run_id"].to_list(), manifest["source_file"].to_list(), strict=True))
        self._present = present
        self._owned = dict(zip(manifest["source_file"].to_list(), manifest["run_id"].to_list(), strict=True))
        with ThreadPoolExecutor(self.config.workers, thread_name_prefix="labtui-stage") as pool:
            running: dict[Future[list[tuple[Candidate, _Result]]], list[Candidate]] = {}

            def refill() -> None:
                while len(running) < 2 * self.config.workers and not self.cancel.is_set():
                    chunk = next(queue, None)
                    if chunk is None:
                        return
                    running[pool.submit(self._stage_chunk, chunk)] = chunk

            refill()
            while running:
                finished, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in finished:
                    running.pop(future)
                    for cand, result in future.result():
                        outcome = self._collect(cand, result, rejects)
                        done += 1
                        self.report.counts[outcome] += 1
                        self._emit(
                            EventKind.FILE,
                            done=done,
                            total=total,
                            source_file=cand.source_file,
                            outcome=outcome,
                            message=self._message(result),
                        )
                if time.monotonic() - last_commit >= self.config.commit_interval_seconds:
                    manifest = self._commit(manifest, rejects)
                    last_commit = time.monotonic()
                refill()
        self.report.cancelled = self.cancel.is_set() and done < total
        return self._commit(manifest, rejects)

    @staticmethod
    def _message(result: _Result) -> str:
        if isinstance(result, RejectRecord):
            return result.describe()
        if isinstance(result, Busy):
            return result.reason
        return "; ".join(result.warnings)

    def _collect(self, cand: Candidate, result: _Result, rejects: dict[str, RejectRecord]) -> Outcome:
        """Book one worker result (run_id conflicts were settled by `_claim` before any Parquet was written)."""
        if isinstance(result, Busy):
            self.report.busy_files.append(cand.source_file)
            return Outcome.BUSY
        if isinstance(result, Staged):
            self._committer.pending.append(result)
            self.report.staged_run_ids.append(result.row.run_id)
            self.report.staged_files.append(result.row.source_file)
            self._derived[result.row.run_id] = (result.row.source_sha256, result.derived)
            if result.curve is not None:
                self._curves[result.row.run_id] = (result.row.source_sha256, result.curve)
            return Outcome.STAGED
        self._committer.pending_rejects.append(result)
        self.report.new_rejects.append(result)
        rejects[cand.source_file] = result
        return Outcome.REJECTED

    def _commit(self, manifest: pl.DataFrame, rejects: dict[str, RejectRecord]) -> pl.DataFrame:
        committed = self._committer.commit(manifest, rejects)
        if committed is None:
            return manifest
        self.report.commits += 1
        self._emit(EventKind.COMMIT, message=f"committed {committed.runs} runs, {committed.rejects} rejects")
        return committed.manifest

    def _emit(self, kind: EventKind, **fields: object) -> None:
        fields.setdefault("counts", dict(self.report.counts))
        self.on_event(StageEvent(kind=kind, **fields))  # type: ignore[arg-type]


def _per_file(step: Callable[[_File], None]) -> Callable[[list[_File]], None]:
    """A phase that takes a chunk's files one by one: a `Reject` settles only its own file."""
    from labtui.core.parser import Reject

    def phase(files: list[_File]) -> None:
        for file in files:
            try:
                step(file)
            except Reject as problem:
                file.result = _rejected(file.cand, problem)

    return phase


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
    )


def _chunks(work: list[Candidate], max_files: int) -> Iterator[list[Candidate]]:
    """The work in chunks of up to `max_files` files and about `CHUNK_BYTES`. Names equal but for letter case can
    be one run_id: they go to one chunk, in name order, so which one owns the run never depends on thread timing."""
    groups: dict[str, list[Candidate]] = {}
    for cand in work:
        groups.setdefault(cand.source_file.lower(), []).append(cand)
    chunk: list[Candidate] = []
    size = 0
    for group in groups.values():
        if chunk and (len(chunk) + len(group) > max_files or size >= CHUNK_BYTES):
            yield chunk
            chunk, size = [], 0
        chunk += group
        size += sum(cand.size for cand in group)
    if chunk:
        yield chunk


def stage(config: StagingConfig, **options: object) -> StageReport:
    """Stage the raw tree (or `only` some files) into the store; see `Stager` for the options."""
    return Stager(config, **options).run()  # type: ignore[arg-type]
