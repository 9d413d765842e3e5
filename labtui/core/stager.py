"""The staging engine: raw CSVs → one Parquet per run + the manifest, incrementally, in worker threads.

A run plans from the stat index (what changed since the last stage), then workers take chunks of files through
the phases of `stage_chunk.py` (read → header → parse → row and claim → metrics → write a temp Parquet), and the
calling thread commits batches by the protocol in `commit.py`. A run that finds nothing to do never loads Polars
(imported only where there is work). The raw tree is only ever opened read-only.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import replace
from functools import cached_property, partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from labtui.core.chip_spelling import StagedChip, spelling_notes
from labtui.core.commit import Retimed, Staged, StoreCommit
from labtui.core.config import StagingConfig, extraction_version, no_folder, registry_digest
from labtui.core.copies import StagedStart, copy_notes
from labtui.core.errors import LabtuiError, OperationFailed, UsageError
from labtui.core.metrics_stamp import is_current
from labtui.core.overview import read_overview
from labtui.core.rawread import Busy, release_large_buffers
from labtui.core.rejects import RejectRecord, load_rejects
from labtui.core.run_claims import RunClaims, moved_note, replaced_note
from labtui.core.scan import (
    Candidate,
    Outcome,
    PassedOver,
    plan_stage,
    read_again,
    redated,
    relative_source,
    scan_raw,
    staged_signatures,
)
from labtui.core.stage_chunk import CHUNK_FILES, RECORDING_SECONDS, ChunkResult, ChunkWorker, as_staged, chunks
from labtui.core.stage_events import EventCallback, EventKind, StageEvent, StageReport
from labtui.core.stat_index import manifest_digest, read_stat_index
from labtui.core.store import (
    check_location,
    check_raw_root,
    identity_path,
    lock_store,
    record_lost,
    recorded_zone,
    write_identity,
)
from labtui.core.wording import counted

if TYPE_CHECKING:  # Polars, NumPy, the parser and the models are imported where a file is read or a commit made
    import polars as pl

    from labtui.core.metrics import MetricsUpdate
    from labtui.core.metrics.per_run import Curve
    from labtui.core.registry import Registry


T = TypeVar("T")


# the files a stage does not read, as its scan says them ("0 to read; 552 unchanged; 1 rejected before, unchanged")
_LEFT_AS_THEY_ARE = {Outcome.UNCHANGED: "unchanged", Outcome.REJECTED: "rejected before, unchanged",
                     Outcome.BUSY: "still being written (deferred)"}


class Stager:
    """One staging run. Use `stage()`; the class only keeps the run's state together."""

    def __init__(
        self,
        config: StagingConfig,
        *,
        registry: Registry | None = None,
        force: bool | None = None,
        only: Iterable[Path] | None = None,
        hash_named: bool = True,
        raw_root_moved: bool = False,
        take_cut_short: bool = False,
        settle_seconds: float | None = None,
        recording_seconds: float = RECORDING_SECONDS,
        on_event: EventCallback | None = None,
        cancel: threading.Event | None = None,
    ) -> None:
        self.config = config
        self._registry = registry
        self.only = None if only is None else {relative_source(config.raw_root, p) for p in only}
        self.force = (self.only is not None) if force is None else force  # files named by the user are re-read
        # files of `only` that look unchanged are hashed for an edit with its mtime put back (`plan_stage`): a
        # user's restage. Not the watcher's, whose `only` are the files it saw settle, its first scan's every file
        # among them (10k files hashed at each start)
        self.hash_named = hash_named
        self.raw_root_moved = raw_root_moved  # the lab moved the raw tree: record the new root (see core.store)
        # a file cut short since its run was staged (a copy that failed, an edit) is rejected and its run kept,
        # unless the user named it (`only`) to be taken as it is (`restage --force`, a yes in the app): see `RunClaims`
        self.take_cut_short = take_cut_short and self.only is not None
        self.settle = config.settle_seconds if settle_seconds is None else settle_seconds
        self.recording_s = recording_seconds  # a cut last row this fresh: being recorded (`ChunkWorker`); 0: never
        self.on_event = on_event or (lambda event: None)
        self.cancel = cancel or threading.Event()
        self.report = StageReport()
        self._committer = StoreCommit(config)
        self._claims: RunClaims | None = None  # which file owns each run, from the manifest the work started from
        self._gone: dict[str, tuple[str, str]] = {}  # content hash -> (source_file, run_id) of a run whose raw file is
        # gone
        self._held: dict[str, str] = {}  # content hash -> source_file of a staged run whose raw file is here
        self._staged_chips: list[StagedChip] = []  # of the runs staged, to say their chips' spellings at the end
        self._staged_starts: list[StagedStart] = []  # ... and the runs they may be copies of
        self._derived: dict[str, tuple[str, tuple[object, ...]]] = {}  # run_id -> (content hash, from-data metrics)
        self._curves: dict[str, tuple[str, Curve]] = {}  # calibration run_id -> (hash, its curve)
        self._metrics: Future[MetricsUpdate] | None = None  # computed while the last commit writes (`_compute_metrics`)
        self._index_stale = False  # the stat index and overview do not describe the manifest committed last

    @cached_property
    def registry(self) -> Registry:
        """Loaded only when a file is read: a no-change re-run needs neither the registry nor the version."""
        from labtui.core.registry import load_registry

        return self._registry or load_registry(self.config.procedures_file)

    # -- the run ----------------------------------------------------------------------------------------------
    def run(self) -> StageReport:
        started = time.monotonic()
        check_location(self.config)
        if not self.config.raw_root.is_dir():  # read as a folder of no files, it dropped the reject records of a
            raise UsageError(f"the raw folder {self.config.raw_root} {no_folder(self.config.raw_root)}"  # restage
                             + record_lost(self.config))
        lock = lock_store(self.config, self.cancel, lambda holder: self._emit(EventKind.LOCK_WAIT, holder=holder))
        try:
            self.report.new_store = not identity_path(self.config).exists() and not self.config.manifest_path.exists()
            self._committer.recover_if_dirty()
            recovered = self._committer.dirty  # a writer died mid-stage: the table of its last commit may be missing
            rejects = load_rejects(self.config.rejects_dir)
            passed = PassedOver()
            candidates = scan_raw(self.config.raw_root, passed)
            if (error := passed.unlisted.get("")) is not None:
                raise OperationFailed("list the raw folder", self.config.raw_root, error, reading=True)
            self.report.unlisted_folders = list(passed.unlisted_named(self.config.raw_root).values())
            present = {cand.source_file for cand in candidates}
            present |= {source for source in rejects if passed.unseen(source)}  # whose records must stay
            manifest: pl.DataFrame | None = None  # read only when the stat index is stale or there is work
            path = self.config.manifest_path
            digest = manifest_digest(path)  # one read of the manifest checks both records
            registry = registry_digest(self.config.procedures_file)  # a run and a reject hold while the registry does
            if registry is None:  # unreadable (a mistyped `procedures_file`): said even when no file would be read
                from labtui.core.registry import load_registry

                load_registry(self.config.procedures_file)  # raises the one-line error that says why
            staged = read_stat_index(path, digest, registry, self.config.local_tz)
            self._index_stale = staged is None or read_overview(path, self.config.local_tz, digest) is None
            if staged is None:
                from labtui.core.registry import procedure_rules

                manifest = self._manifest()
                staged = staged_signatures(manifest, procedure_rules(self.config.procedures_file), self.config.local_tz)
            if staged and not self.config.stage_root.is_dir():  # its folder moved, or its record edited: staging
                raise UsageError(f"the store {self.config.store_root} lists runs in {self.config.stage_root}, which is "
                                 "not there (the folder moved or deleted, or its _manifest/store.json edited?): mend "
                                 "it, or `labtui validate` lists what is missing")  # would split the store in two
            if manifest is not None and (zone := recorded_zone(self.config.store_root)) not in (None,
                                                                                                self.config.local_tz):
                # said: one colleague's config re-dates everyone's store (read from the manifest: the stat index
                # is of one zone)
                self.report.zone_change = (zone, self.config.local_tz)
                self.report.redated = redated(manifest, self.config.local_tz, present)  # a gone file's: not read
            identity = check_raw_root(self.config, list(staged), moved=self.raw_root_moved)
            if identity is not None:
                _ = self.registry  # loaded before any marker: one that does not load leaves none behind
                self._committer.mark_dirty()  # a crash while recording it leaves a temp file the next writer sweeps
                write_identity(self.config, identity)
            work, skipped = plan_stage(self.config, candidates, staged, rejects, registry, only=self.only,
                                       force=self.force, settle_s=self.settle, hash_named=self.hash_named,
                                       manifest=self._manifest)
            total = len(work) + len(skipped)
            for cand, outcome in skipped:
                self.report.counts[outcome] += 1
                if outcome is Outcome.BUSY:
                    why = f"written within the last {self.settle:g} s (settle_seconds)"
                    self.report.busy_files[cand.source_file] = why
                elif outcome is Outcome.REJECTED:
                    self.report.known_rejects.append(rejects[cand.source_file])
            self.report.read_again = sum(read_again(cand, staged, rejects) for cand in work)
            again = f" ({self.report.read_again} {self.report.read_again_why()})" if self.report.read_again else ""
            left = [f"{self.report.counts[outcome]} {words}" for outcome, words in _LEFT_AS_THEY_ARE.items()
                    if self.report.counts[outcome]]
            self._emit(EventKind.SCAN, total=total, message="; ".join([f"{len(work)} to read{again}", *left]))
            unchanged = {cand.source_file for cand, outcome in skipped if outcome is Outcome.UNCHANGED}
            self._committer.drop_stale_rejects(rejects, present, unchanged)
            if work:
                version = _aside(extraction_version, "version")  # a checkout's `git describe`, awaited at the first row
                _ = self.registry  # (a marker sent `validate`'s user back to the stage that had failed)
                self._committer.mark_dirty()
                release_large_buffers()
                if manifest is None:
                    manifest = self._manifest()
                self._claims = RunClaims(manifest, present, self.take_cut_short)
                with ChunkWorker(  # the registry loaded once here, not racing in the workers
                    self.config, self.registry, version, self._committer.staging_area(), self._claims.claim,
                    self.cancel, registry, self.recording_s, None if self.force else as_staged(self.config, manifest,
                                                                                           work, staged),
                ) as worker:
                    manifest = self._run_pool(worker, work, manifest, rejects, present, total, len(skipped))
            if self._index_stale and self.config.manifest_path.exists():
                self._committer.index_manifest(manifest if manifest is not None else self._manifest())
            if work or recovered or not is_current(self.config):  # else no Polars
                from labtui.core.metrics import update_after_stage

                self.report.metrics = update_after_stage(
                    self.config, manifest, changed=bool(work) or recovered, computed=self._derived,
                    curves=self._curves, computing=self._metrics,
                )
            if self._committer.dirty:  # only now: a kill before the metrics' table is written leaves the marker
                self._committer.clear_dirty()
        except BaseException:
            self._committer.discard_uncommitted()
            raise
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
        worker: ChunkWorker,
        work: list[Candidate],
        manifest: pl.DataFrame,
        rejects: dict[str, RejectRecord],
        present: set[str],
        total: int,
        done: int,
    ) -> pl.DataFrame:
        per_worker = -(-len(work) // self.config.workers)  # rounded up: a small stage still reaches every worker
        queue = chunks(work, max_files=min(CHUNK_FILES, per_worker))
        last_commit = time.monotonic()
        import polars as pl

        here, hashed = pl.col("source_file").is_in(list(present)), pl.col("source_sha256").is_not_null()
        gone = manifest.filter(~here & hashed)
        self._gone = {sha: (source, run_id) for sha, source, run_id in gone.select(
            "source_sha256", "source_file", "run_id").iter_rows()}
        # the files read now have their new hashes booked as they come (`_collect`): their old ones may be stale
        unread = pl.col("source_file").is_in([cand.source_file for cand in work]).not_()
        self._held = _by_hash(manifest.filter(here & hashed & unread))
        with ThreadPoolExecutor(self.config.workers, thread_name_prefix="labtui-stage") as pool:
            running: dict[Future[list[tuple[Candidate, ChunkResult]]], list[Candidate]] = {}

            def refill() -> None:
                while len(running) < 2 * self.config.workers and not self.cancel.is_set():
                    chunk = next(queue, None)
                    if chunk is None:
                        return
                    running[pool.submit(worker.stage, chunk)] = chunk

            refill()
            try:
                while running:
                    finished, _ = wait(running, return_when=FIRST_COMPLETED)
                    for future in finished:
                        running.pop(future)
                        done = self._book(future.result(), rejects, done, total)
                    if time.monotonic() - last_commit >= self.config.commit_interval_seconds:
                        manifest = self._commit(manifest, rejects, index=False)
                        last_commit = time.monotonic()
                    refill()
            except BaseException:
                self._abandon(running)
                raise
        self.report.cancelled = self.cancel.is_set() and done < total
        self._note_runs(manifest, present)
        return self._commit(manifest, rejects, writing=self._compute_metrics)

    def _book(self, results: list[tuple[Candidate, ChunkResult]], rejects: dict[str, RejectRecord], done: int,
              total: int) -> int:
        """Collect a finished chunk's results, each said as an event; the count of files done after them."""
        for cand, result in results:
            outcome = self._collect(cand, result, rejects)
            if outcome is Outcome.REJECTED:  # as booked: naming the run kept of a file that broke
                result = rejects[cand.source_file]
            done += 1
            self.report.counts[outcome] += 1
            self._emit(EventKind.FILE, done=done, total=total, source_file=cand.source_file, outcome=outcome,
                       message=self._message(result))
        return done

    def _abandon(self, running: dict[Future[list[tuple[Candidate, ChunkResult]]], list[Candidate]]) -> None:
        """A chunk failed (a full disk, whose space its removed temps then gave back): the chunks still in flight
        finish, and the runs they wrote go with the uncommitted ones (`discard_uncommitted`), not left as temp files
        beside their targets."""
        wait(running)
        for future in running:
            if not future.cancelled() and future.exception() is None:
                self._committer.pending += [result for _, result in future.result() if isinstance(result, Staged)]

    def _compute_metrics(self, manifest: pl.DataFrame) -> None:
        """The metrics' table for the manifest the last commit writes, computed in a thread while that commit waits
        on the disk (renames, the manifest, the stat index); `run` writes it after the commit (`update_after_stage`)."""
        from labtui.core.metrics import compute_update

        self._metrics = _aside(partial(compute_update, self.config, manifest, computed=self._derived,
                                       curves=self._curves), "metrics")

    def _message(self, result: ChunkResult) -> str:
        if isinstance(result, RejectRecord):
            return result.describe()
        if isinstance(result, Busy):
            return result.reason
        if isinstance(result, Retimed):
            return "touched: its content is as staged, its new time recorded"
        return "; ".join(self.report.warned.get(result.row.source_file, ()))

    def _marks(self, run_id: str) -> dict[str, Any] | None:
        """The annotations of a run a file's new run replaces (its row of `current_annotations`), None for none: an
        exclusion of the old run lapsed unsaid (the new run counted in every mean)."""
        import polars as pl

        from labtui.core.annotations import current_annotations

        try:
            marks = current_annotations(self.config.store_root).filter(pl.col("run_id") == run_id)
        except LabtuiError:  # annotations that cannot be read: said by every reader, and by validate
            return None
        return marks.row(0, named=True) if marks.height else None

    def _collect(self, cand: Candidate, result: ChunkResult, rejects: dict[str, RejectRecord]) -> Outcome:
        """Book one worker result (run_id conflicts were settled by `RunClaims.claim` before any Parquet was
        written)."""
        if isinstance(result, Busy):
            self.report.busy_files[cand.source_file] = result.reason
            return Outcome.BUSY
        if isinstance(result, Retimed):
            self._committer.pending_retimes.append(result)
            self._held.setdefault(result.sha256, result.source_file)
            self.report.touched += 1
            return Outcome.UNCHANGED
        assert self._claims is not None  # made before any chunk is staged
        if isinstance(result, Staged):
            self._committer.pending.append(result)
            self.report.staged_run_ids.append(result.row.run_id)
            self.report.staged_files.append(result.row.source_file)
            warnings = result.warnings
            sha, source = result.row.source_sha256, result.row.source_file
            moved = self._gone.get(sha)  # (source_file, run_id) of a staged run of this content, its file gone
            if moved is not None and moved[0].lower() == source.lower():
                # the run_id reads the path in lower case: the same run, taken over (prune has nothing to drop)
                warnings = [*warnings, f"renamed from {moved[0]} (letter case only): the same run, under this name"]
            elif moved is not None:  # a second run of one file
                warnings = [*warnings, moved_note(moved[0], result.row.run_id, moved[1], self._marks(moved[1]))]
            elif (copy_of := self._held.setdefault(sha, source)) != source:  # counted twice in histories and trends
                warnings = [*warnings, f"the same content as {copy_of}, staged too: a copy? Move one out of the raw "
                                       "tree (labtui never deletes raw data), then `labtui prune`"]
            if (old := self._claims.replaced_run(source)) is not None:  # said: the old run's data leave the store
                warnings = [*warnings, replaced_note(old, result.row, self._marks(old["run_id"]))]
            row = result.row
            self._staged_chips.append(StagedChip(source, row.chip_group, row.chip_number, row.chip_name))
            self._staged_starts.append(StagedStart(source, row.chip_group, row.chip_number, row.proc,
                                                   row.start_time_utc, row.n_rows, sha))
            if warnings:  # a parameter left empty, a run aborted, a last line dropped: said, not only kept
                self.report.warned[source] = warnings
            self._derived[result.row.run_id] = (sha, result.derived)
            if result.curve is not None:
                self._curves[result.row.run_id] = (sha, result.curve)
            return Outcome.STAGED
        if (kept := self._claims.run_of(cand.source_file)) is not None:  # broken since it was staged: the run stays
            result = replace(result, previous_run_id=kept)
        self._committer.pending_rejects.append(result)
        self.report.new_rejects.append(result)
        rejects[cand.source_file] = result
        return Outcome.REJECTED

    def _note_runs(self, manifest: pl.DataFrame, present: set[str]) -> None:
        """Each staged run whose chip most runs name otherwise (two histories of one chip, `spelling_notes`), and
        each that another file's run may be a copy of (`copy_notes`), said once the stage's runs are all read: its
        note joins the run's others, after the file's own event."""
        import polars as pl

        # the store's runs but the staged files': their old rows replaced, their new ones maybe committed already
        store = manifest.filter(pl.col("source_file").is_in(self.report.staged_files).not_())
        notes = [spelling_notes(store, self._staged_chips),
                 copy_notes(store.filter(pl.col("source_file").is_in(list(present))), self._staged_starts)]
        for source, note in ((source, note) for said in notes for source, note in said.items()):
            self.report.warned[source] = [*self.report.warned.get(source, ()), note]
            self._emit(EventKind.NOTE, source_file=source, message=note)

    def _commit(
        self,
        manifest: pl.DataFrame,
        rejects: dict[str, RejectRecord],
        *,
        index: bool = True,
        writing: Callable[[pl.DataFrame], object] | None = None,
    ) -> pl.DataFrame:
        committed = self._committer.commit(manifest, rejects, index=index, writing=writing)
        if committed is None:
            return manifest
        self._index_stale = not index
        self.report.commits += 1
        done = f"{counted(committed.runs, 'run')}, {counted(committed.rejects, 'reject')}"
        if committed.retimed:
            done += f", the new times of {counted(committed.retimed, 'touched file')}"
        self._emit(EventKind.COMMIT, message=f"committed {done}")
        return committed.manifest

    def _emit(self, kind: EventKind, **fields: object) -> None:
        fields.setdefault("counts", dict(self.report.counts))
        self.on_event(StageEvent(kind=kind, **fields))  # type: ignore[arg-type]


def _by_hash(runs: pl.DataFrame) -> dict[str, str]:
    """Content hash -> raw file of the manifest's `runs`."""
    return dict(zip(runs["source_sha256"].to_list(), runs["source_file"].to_list(), strict=True))


def _aside(work: Callable[[], T], name: str) -> Future[T]:
    """`work` in a thread of its own, while the caller goes on (its thread ends with it)."""
    thread = ThreadPoolExecutor(1, thread_name_prefix=f"labtui-{name}")
    done = thread.submit(work)
    thread.shutdown(wait=False)
    return done


def stage(config: StagingConfig, **options: object) -> StageReport:
    """Stage the raw tree (or `only` some files) into the store; see `Stager` for the options."""
    return Stager(config, **options).run()  # type: ignore[arg-type]
