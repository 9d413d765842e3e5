"""The staging engine: raw CSVs → one Parquet per run + the manifest, incrementally, in worker threads.

Commit protocol (one writer, under the lock):
1. workers parse a file, claim its run_id (a case twin never overwrites the owner's Parquet) and write its Parquet
   to a hidden temp file in `_manifest/tmp/` (outside the dataset: the stage root holds only whole Parquet);
2. every `commit_interval_seconds` and at the end, the calling thread makes the batch's temp files durable,
   replaces them into place and makes that durable (one `syncfs` each where the OS has it, else fsyncs), writes
   reject records, then replaces the manifest (the commit point), then removes what the commit made obsolete
   (old Parquet of a run whose start time changed, reject records of files that now stage).
A `.dirty` marker in `_manifest/` lives from the first write to the clean end; a writer that finds it (the previous
one crashed) first removes temp files and Parquet folders the manifest does not reference.
After each manifest replace the stat index (`stat_index.py`) is rewritten; the plan reads it instead of the
manifest, so a run that finds nothing to do never loads Polars (this module imports it only where there is work).
The raw tree is only ever opened read-only.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import shutil
import threading
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import ValidationError

from labtui.core import faults
from labtui.core.atomic import fsync_dir, publish, write_temp
from labtui.core.config import StagingConfig, extraction_version
from labtui.core.errors import OperationFailed, os_error_in
from labtui.core.layout import run_dir, run_parquet_path
from labtui.core.rawread import Busy, read_raw
from labtui.core.recovery import sweep_store
from labtui.core.rejects import RejectRecord, load_rejects, remove_reject, write_reject
from labtui.core.scan import Candidate, Outcome, known_outcome, relative_source, scan_raw, staged_signatures, stat_rows
from labtui.core.stage_events import EventCallback, EventKind, StageEvent, StageReport
from labtui.core.stat_index import Signatures, read_stat_index, write_stat_index
from labtui.core.store import DIRTY_MARKER, check_location, check_raw_root, lock_store, write_identity

if TYPE_CHECKING:  # Polars, NumPy, the parser and the models are imported where a file is read or a commit made
    import polars as pl

    from labtui.core.manifest import ManifestRow
    from labtui.core.registry import Registry

STAGING_AREA = "tmp"  # in _manifest/: Parquet written by workers, published into the stage root at commit


@dataclass
class _Staged:
    row: ManifestRow
    warnings: list[str]
    temp: Path  # the run's Parquet, written but not yet published
    target: Path
    event_temp: Path  # its event record, written by the worker, published after the commit
    derived: tuple[object, ...] = ()  # the run's from-data metrics, computed while its frame is in memory


@dataclass
class _Rejected:
    record: RejectRecord


_Result = _Staged | _Rejected | Busy


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
        self._pending: list[_Staged] = []
        self._pending_rejects: list[RejectRecord] = []
        self._dirty = False
        self._temp_dir: Path | None = None
        self._claim_lock = threading.Lock()
        self._claimed: dict[str, str] = {}  # run_id -> source_file that owns it (see _claim)
        self._owned: dict[str, str] = {}  # source_file -> its run_id
        self._present: set[str] = set()
        self._derived: dict[str, tuple[str, tuple[object, ...]]] = {}  # run_id -> (content hash, from-data metrics)

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

    # -- one file (worker thread) -----------------------------------------------------------------------------
    def _stage_file(self, cand: Candidate) -> _Result:
        from labtui.core.parser import Reject

        try:
            return self._read_and_write(cand)
        except Reject as problem:
            return self._rejected(cand, problem.kind, problem.reason, problem.line)

    def _rejected(self, cand: Candidate, kind: str, reason: str, line: int | None = None) -> _Rejected:
        return _Rejected(
            RejectRecord(
                source_file=cand.source_file,
                kind=kind,
                reason=reason,
                line=line,
                rejected_at_utc=dt.datetime.now(dt.UTC),
                source_size=cand.size,
                source_mtime_ns=cand.mtime_ns,
            )
        )

    def _read_and_write(self, cand: Candidate) -> _Result:
        from labtui.core.extract import build_row
        from labtui.core.metrics import from_data
        from labtui.core.parser import Reject, parse_data, parse_header

        read = read_raw(cand)
        if isinstance(read, Busy):
            return read
        data, after = read
        cand = Candidate(cand.source_file, cand.path, after.st_size, after.st_mtime_ns, False)
        sha256 = hashlib.sha256(data).hexdigest()
        header = parse_header(data, self.registry, Path(cand.path).stem)
        frame, data_warnings = parse_data(data, header)
        try:
            row, notes = build_row(
                header,
                frame,
                source_file=cand.source_file,
                size=cand.size,
                mtime_ns=cand.mtime_ns,
                sha256=sha256,
                zone=self.config.zone,
                extraction_version=self.version,
                ingested_at=dt.datetime.now(dt.UTC),
            )
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
            raise Reject("invalid_values", f"header values out of range: {problems}") from None
        target = run_parquet_path(self.config.stage_root, row.proc, row.date_local, row.run_id)
        self._claim(row)
        target.parent.mkdir(parents=True, exist_ok=True)  # here, in parallel, not in the commit's serial loop
        try:
            temp = write_temp(
                target,
                lambda path: frame.write_parquet(path, compression="zstd", statistics=True),
                temp_dir=self._temp_dir,
            )
        except Exception as exc:  # Polars wraps an OS error (a full disk) in its own error types
            if (cause := os_error_in(exc)) is None:
                raise
            raise OperationFailed("write the Parquet of", cand.source_file, cause) from exc
        faults.point("after_temp_write")
        warnings = header.warnings + data_warnings + notes
        event = self._event_record(row, warnings)
        event_temp = write_temp(
            self._event_path(row.run_id), lambda path: path.write_bytes(event), temp_dir=self._temp_dir
        )
        derived = from_data(row.proc, frame, row.vds_v, self.config.metrics)
        return _Staged(row, warnings, temp, target, event_temp, derived)

    def _stage_group(self, group: list[Candidate]) -> list[tuple[Candidate, _Result]]:
        """Names equal but for letter case can be one run_id: one worker stages them in name order, so which one
        owns the run never depends on thread timing."""
        return [(cand, self._stage_file(cand)) for cand in group]

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

    def _staging_area(self) -> Path | None:
        """Where workers write Parquet until the commit publishes it: `_manifest/tmp/`, outside the dataset, so a
        directory scan of the stage root only ever meets whole Parquet files. Beside the target (hidden) when the
        stage root is another filesystem, as `os.replace` cannot cross filesystems."""
        area = self.config.manifest_dir / STAGING_AREA
        area.mkdir(parents=True, exist_ok=True)
        self.config.stage_root.mkdir(parents=True, exist_ok=True)
        return area if area.stat().st_dev == self.config.stage_root.stat().st_dev else None

    # -- the run ----------------------------------------------------------------------------------------------
    def run(self) -> StageReport:
        started = time.monotonic()
        check_location(self.config)
        lock = lock_store(self.config, self.cancel, lambda holder: self._emit("lock_wait", holder=holder))
        try:
            self._recover_if_dirty()
            rejects = load_rejects(self.config.rejects_dir)
            candidates = scan_raw(self.config.raw_root)
            present = {cand.source_file for cand in candidates}
            manifest: pl.DataFrame | None = None  # read only when the stat index is stale or there is work
            staged = read_stat_index(self.config.manifest_path)
            index_stale = staged is None
            if staged is None:
                manifest = self._manifest()
                staged = staged_signatures(manifest)
            identity = check_raw_root(self.config, list(staged), moved=self.raw_root_moved)
            if identity is not None:
                self._mark_dirty()  # a crash while recording it leaves a temp file that the next writer sweeps
                write_identity(self.config, identity)
            work, skipped = self._plan(candidates, staged, rejects)
            total = len(work) + len(skipped)
            for cand, outcome in skipped:
                self.report.counts[outcome] += 1
                if outcome is Outcome.BUSY:
                    self.report.busy_files.append(cand.source_file)
                elif outcome is Outcome.REJECTED:
                    self.report.known_rejects.append(rejects[cand.source_file])
            self._emit("scan", total=total, message=f"{len(work)} to read, {len(skipped)} skipped")
            unchanged = {cand.source_file for cand, outcome in skipped if outcome is Outcome.UNCHANGED}
            self._drop_stale_rejects(rejects, present, unchanged)
            if work:
                self._mark_dirty()
                self._temp_dir = self._staging_area()
                self.config.events_dir.mkdir(parents=True, exist_ok=True)
                _ = self.registry, self.version  # load once here, not racing in the workers
                if manifest is None:
                    manifest = self._manifest()
                manifest = self._run_pool(work, manifest, rejects, present, total, len(skipped))
            if index_stale and self.report.commits == 0 and manifest is not None and self.config.manifest_path.exists():
                write_stat_index(self.config.manifest_path, stat_rows(manifest))  # heal: a crash, an older labtui
            if self._dirty:
                self._clear_dirty()
            if work or not self.config.metrics_path.exists():  # a no-change stage never loads the metrics
                from labtui.core.metrics import update_after_stage

                self.report.metrics = update_after_stage(
                    self.config, manifest, changed=bool(work), computed=self._derived
                )
        finally:
            lock.release()
        self.report.elapsed_s = time.monotonic() - started
        self._emit("done", total=self.report_total(), message=self.report.line())
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
        groups: dict[str, list[Candidate]] = {}
        for cand in work:
            groups.setdefault(cand.source_file.lower(), []).append(cand)
        queue: Iterator[list[Candidate]] = iter(groups.values())
        last_commit = time.monotonic()
        self._claimed = dict(zip(manifest["run_id"].to_list(), manifest["source_file"].to_list(), strict=True))
        self._present = present
        self._owned = dict(zip(manifest["source_file"].to_list(), manifest["run_id"].to_list(), strict=True))
        with ThreadPoolExecutor(self.config.workers, thread_name_prefix="labtui-stage") as pool:
            running: dict[Future[list[tuple[Candidate, _Result]]], list[Candidate]] = {}

            def refill() -> None:
                while len(running) < 2 * self.config.workers and not self.cancel.is_set():
                    group = next(queue, None)
                    if group is None:
                        return
                    running[pool.submit(self._stage_group, group)] = group

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
                            "file",
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
        self.report.cancelled = self.cancel.is_set() and next(queue, None) is not None
        return self._commit(manifest, rejects)

    @staticmethod
    def _message(result: _Result) -> str:
        if isinstance(result, _Rejected):
            return result.record.describe()
        if isinstance(result, Busy):
            return result.reason
        return "; ".join(result.warnings)

    def _collect(self, cand: Candidate, result: _Result, rejects: dict[str, RejectRecord]) -> Outcome:
        """Book one worker result (run_id conflicts were settled by `_claim` before any Parquet was written)."""
        if isinstance(result, Busy):
            self.report.busy_files.append(cand.source_file)
            return Outcome.BUSY
        if isinstance(result, _Staged):
            self._pending.append(result)
            self.report.staged_run_ids.append(result.row.run_id)
            self.report.staged_files.append(result.row.source_file)
            self._derived[result.row.run_id] = (result.row.source_sha256, result.derived)
            return Outcome.STAGED
        self._pending_rejects.append(result.record)
        self.report.new_rejects.append(result.record)
        rejects[cand.source_file] = result.record
        return Outcome.REJECTED

    def _commit(self, manifest: pl.DataFrame, rejects: dict[str, RejectRecord]) -> pl.DataFrame:
        """Make everything collected so far durable and visible; the manifest replace is the commit point."""
        from labtui.core.manifest import upsert, write_manifest

        if not self._pending and not self._pending_rejects:
            return manifest
        staged = self._pending
        self._pending = []
        new_rejects = self._pending_rejects
        self._pending_rejects = []
        previous = dict(
            zip(
                manifest["source_file"].to_list(),
                zip(
                    manifest["run_id"].to_list(),
                    manifest["proc"].to_list(),
                    manifest["date_local"].to_list(),
                    strict=True,
                ),
                strict=True,
            )
        )
        publish([(item.temp, item.target) for item in staged], self.config.store_root)
        faults.point("after_parquet_replace")
        broken: set[str] = set()
        for record in new_rejects:
            old = previous.get(record.source_file)
            if old is not None:
                broken.add(old[0])
                record = record.model_copy(update={"previous_run_id": old[0]})
            write_reject(self.config.rejects_dir, record)
            faults.point("after_reject_write")
        faults.point("before_manifest_replace")
        updated = upsert(manifest, [item.row for item in staged], drop_run_ids=broken)
        write_manifest(updated, self.config.manifest_path)
        faults.point("after_manifest_replace")
        write_stat_index(self.config.manifest_path, stat_rows(updated))
        self.report.commits += 1
        kept = set(updated["run_id"].to_list())
        for run_id, proc, date_local in previous.values():
            if run_id not in kept:
                shutil.rmtree(run_dir(self.config.stage_root, proc, date_local, run_id), ignore_errors=True)
                faults.point("after_obsolete_run_remove")
                self._event_path(run_id).unlink(missing_ok=True)
        for item in staged:
            if remove_reject(self.config.rejects_dir, item.row.source_file):
                rejects.pop(item.row.source_file, None)
                faults.point("after_reject_remove")
            os.replace(item.event_temp, self._event_path(item.row.run_id))
        self._emit(
            "commit",
            message=f"committed {len(staged)} runs, {len(new_rejects)} rejects",
            counts=dict(self.report.counts),
        )
        return updated

    def _event_path(self, run_id: str) -> Path:
        return self.config.events_dir / f"{run_id}.json"

    def _event_record(self, row: ManifestRow, warnings: list[str]) -> bytes:
        """What happened at the last staging of a run: diagnostics, so published after the commit (only committed
        runs get one) atomically but not fsynced. Encoded by the worker, so the commit only renames it."""
        record = {
            "run_id": row.run_id,
            "source_file": row.source_file,
            "outcome": Outcome.STAGED.value,
            "staged_at_utc": row.ingested_at_utc.isoformat(),
            "n_rows": row.n_rows,
            "is_complete": row.is_complete,
            "warnings": warnings,
            "extraction_version": self.version,
            "row": row.model_dump(mode="json"),  # what `labtui repair` rebuilds the manifest from
        }
        return json.dumps(record, ensure_ascii=False).encode("utf-8")

    def _drop_stale_rejects(self, rejects: dict[str, RejectRecord], present: set[str], unchanged: set[str]) -> None:
        """Reject records of raw files that no longer exist refer to nothing; those of files the manifest holds as
        they are now are left by a crash between the commit and their removal: remove both."""
        for source in [s for s in rejects if s not in present or s in unchanged]:
            self._mark_dirty()
            remove_reject(self.config.rejects_dir, source)
            faults.point("after_stale_reject_remove")
            rejects.pop(source)

    # -- crash recovery ---------------------------------------------------------------------------------------
    @property
    def _marker(self) -> Path:
        return self.config.manifest_dir / DIRTY_MARKER

    def _mark_dirty(self) -> None:
        """Created in place, not through a temp file: a crash while writing it must leave the marker (whose
        content does not matter), never a temp file that no marker announces to the next writer."""
        if not self._dirty:
            self.config.manifest_dir.mkdir(parents=True, exist_ok=True)
            fd = os.open(self._marker, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            try:
                os.write(fd, str(os.getpid()).encode())
                os.fsync(fd)
            finally:
                os.close(fd)
            fsync_dir(self.config.manifest_dir)
            faults.point("after_mark_dirty")
            self._dirty = True

    def _clear_dirty(self) -> None:
        faults.point("before_clear_dirty")
        self._marker.unlink(missing_ok=True)
        fsync_dir(self.config.manifest_dir)
        self._dirty = False

    def _recover_if_dirty(self) -> None:
        if self._marker.exists():
            self._dirty = True
            sweep_store(self.config)

    def _emit(self, kind: EventKind, **fields: object) -> None:
        fields.setdefault("counts", dict(self.report.counts))
        self.on_event(StageEvent(kind=kind, **fields))  # type: ignore[arg-type]


def stage(config: StagingConfig, **options: object) -> StageReport:
    """Stage the raw tree (or `only` some files) into the store; see `Stager` for the options."""
    return Stager(config, **options).run()  # type: ignore[arg-type]
