"""The writer's commit protocol: how staged runs and reject records become durable and visible, and what a crash
leaves for the next writer.

Commit protocol (one writer, under the lock):
1. workers parse a file, claim its run_id (a case twin never overwrites the owner's Parquet) and write its Parquet,
   its run record in the footer (`layout.RUN_RECORD_KEY`), to a hidden temp file in `_manifest/tmp/` (outside the
   dataset: the stage root holds only whole Parquet); a file only touched (its content as staged) writes nothing:
   its new stat goes into its row with the manifest (`Retimed`);
2. every `commit_interval_seconds` and at the end, the calling thread makes the batch's temp files durable,
   replaces them into place and makes that durable (one `syncfs` each where the OS has it, else fsyncs), writes
   reject records, then replaces the manifest (the commit point), then removes what the commit made obsolete
   (old Parquet of a run whose start time changed, reject records of files that now stage, an older labtui's
   JSON record of a run now staged again).
A `.dirty` marker in `_manifest/` lives from the first write to the clean end; a writer that finds it (the previous
one crashed) first removes temp files and Parquet folders the manifest does not reference.
After a stage's last manifest replace the stat index (`stat_index.py`) and the overview (`overview.py`) are
rewritten (a long stage's periodic commits skip them: a reader that finds them stale uses the manifest): the plan
reads the index instead of the manifest, so a run that finds nothing to do never loads Polars (this module imports
it only inside a commit), and the app paints its dashboard from the overview.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from labtui.core import faults
from labtui.core.atomic import fsync_dir, publish, remove_empty
from labtui.core.config import StagingConfig, registry_digest
from labtui.core.errors import LabtuiError, OperationFailed
from labtui.core.layout import STAGING_AREA, addresses_a_run, run_dir
from labtui.core.overview import write_overview
from labtui.core.quarantine import REPLACED_RUNS, quarantine
from labtui.core.recovery import sweep_store
from labtui.core.rejects import RejectRecord, reject_path, remove_reject, write_reject
from labtui.core.scan import mtime_us, stat_columns
from labtui.core.stat_index import manifest_digest, write_stat_index
from labtui.core.store import DIRTY_MARKER

if TYPE_CHECKING:
    from collections.abc import Callable

    import polars as pl

    from labtui.core.manifest_row import ManifestRow
    from labtui.core.metrics.per_run import Curve



@dataclass
class Staged:
    """One run a worker wrote and the next commit publishes."""

    row: ManifestRow
    warnings: list[str]
    temp: Path  # the run's Parquet, written but not yet published
    target: Path
    derived: tuple[object, ...] = ()  # the run's from-data metrics, computed while its frame is in memory
    curve: Curve | None = None  # a LaserCalibration's curve, for the metrics' power_w


@dataclass(frozen=True)
class Retimed:
    """A raw file whose mtime changed and whose content is the one staged (a `touch`, a copy that does not
    keep times): the next commit records its new stat in its row, and rewrites no Parquet."""

    source_file: str
    sha256: str
    mtime_ns: int


@dataclass(frozen=True)
class Committed:
    manifest: pl.DataFrame
    runs: int
    rejects: int
    retimed: int


class StoreCommit:
    """The writer's side of one staging run: collects what the workers produced and commits it by the protocol."""

    def __init__(self, config: StagingConfig) -> None:
        self.config = config
        self.pending: list[Staged] = []
        self.pending_rejects: list[RejectRecord] = []
        self.pending_retimes: list[Retimed] = []
        self.dirty = False

    # -- the .dirty marker and crash recovery -----------------------------------------------------------------
    @property
    def marker(self) -> Path:
        return self.config.manifest_dir / DIRTY_MARKER

    def recover_if_dirty(self) -> None:
        if self.marker.exists():
            self.dirty = True
            sweep_store(self.config)

    def mark_dirty(self) -> None:
        """Created in place, not through a temp file: a crash while writing it must leave the marker (whose
        content does not matter), never a temp file that no marker announces to the next writer."""
        if not self.dirty:
            try:
                self.config.manifest_dir.mkdir(parents=True, exist_ok=True)
                fd = os.open(self.marker, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
                try:
                    os.write(fd, str(os.getpid()).encode())
                    os.fsync(fd)
                finally:
                    os.close(fd)
                fsync_dir(self.config.manifest_dir)
            except OSError as error:
                raise OperationFailed("mark the store as being written", self.marker, error) from error
            faults.point("after_mark_dirty")
            self.dirty = True

    def clear_dirty(self) -> None:
        faults.point("before_clear_dirty")
        self.marker.unlink(missing_ok=True)
        fsync_dir(self.config.manifest_dir)
        self.dirty = False

    # -- before the workers start -----------------------------------------------------------------------------
    def staging_area(self) -> Path | None:
        """Where workers write Parquet until the commit publishes it: `_manifest/tmp/`, outside the dataset, so a
        directory scan of the stage root only ever meets whole Parquet files. Beside the target (hidden) when the
        stage root is another filesystem, as `os.replace` cannot cross filesystems."""
        area = self.config.manifest_dir / STAGING_AREA
        for folder in (area, self.config.stage_root):
            try:
                folder.mkdir(parents=True, exist_ok=True)
            except OSError as error:  # a file in its place: "operating-system error on …" named no operation
                raise OperationFailed("make the folder", folder, error) from error
        return area if area.stat().st_dev == self.config.stage_root.stat().st_dev else None

    def discard_uncommitted(self) -> None:
        """After a stage failed (a full disk): the temp files no commit will publish now go at once, giving back the
        space that was short (the next writer would sweep them; the `.dirty` marker stays): the staging area's, and
        those of the collected runs, which sit beside their targets when the stage root is another filesystem."""
        area = self.config.manifest_dir / STAGING_AREA
        try:
            temps = [area / name for name in os.listdir(area)]
        except OSError:
            temps = []
        temps += [item.temp for item in self.pending]
        for temp in temps:
            with contextlib.suppress(OSError):
                os.unlink(temp)
        # and the run folders made for them, left empty (`validate` took them for Parquet the manifest lost)
        stage_root = self.config.stage_root
        remove_empty({folder for item in self.pending for folder in item.target.parents
                      if folder.is_relative_to(stage_root) and folder != stage_root})

    def drop_stale_rejects(self, rejects: dict[str, RejectRecord], present: set[str], unchanged: set[str]) -> None:
        """Reject records of raw files that no longer exist refer to nothing; those of files the manifest holds as
        they are now are left by a crash between the commit and their removal: remove both."""
        for source in [s for s in rejects if s not in present or s in unchanged]:
            self.mark_dirty()
            remove_reject(self.config.rejects_dir, source)
            faults.point("after_stale_reject_remove")
            rejects.pop(source)

    def index_manifest(self, manifest: pl.DataFrame) -> None:
        """Describe the manifest now committed: after a stage's last commit, and to heal a stale stat index (after
        a crash, or an older labtui) when no commit rewrote it."""
        from labtui.core.registry import procedure_rules

        path = self.config.manifest_path
        digest = manifest_digest(path)  # one read of the manifest names it in both
        registry = registry_digest(self.config.procedures_file)  # before its rules: an edit between is seen next run
        columns = stat_columns(manifest, procedure_rules(self.config.procedures_file), self.config.local_tz)
        with contextlib.suppress(OSError):  # a full disk: the records left name an older manifest, and are not used
            write_stat_index(path, columns, digest, registry, self.config.local_tz)
            write_overview(path, manifest, self.config.local_tz, digest)

    # -- the commit -------------------------------------------------------------------------------------------
    def commit(
        self,
        manifest: pl.DataFrame,
        rejects: dict[str, RejectRecord],
        *,
        index: bool = True,
        writing: Callable[[pl.DataFrame], object] | None = None,
    ) -> Committed | None:
        """Make everything collected so far durable and visible; the manifest replace is the commit point.
        None when there was nothing to commit. `index=False` leaves the stat index and the overview describing an
        older manifest (a reader then uses the manifest): a long stage's periodic commits, whose last commit
        writes them. `writing` is told the manifest the commit writes before it writes anything (the stager
        starts its metrics' computation there, while the commit waits on the disk)."""
        import polars as pl

        from labtui.core.manifest import retime, upsert, write_manifest

        if not self.pending and not self.pending_rejects and not self.pending_retimes:
            return None
        staged, self.pending = self.pending, []
        new_rejects, self.pending_rejects = self.pending_rejects, []
        retimed, self.pending_retimes = self.pending_retimes, []
        mtimes = {item.source_file: mtime_us(item.mtime_ns) for item in retimed}
        updated = retime(upsert(manifest, [item.row for item in staged]), mtimes)
        # the run folders no row addresses any more: a run replaced by one of another run_id (its file's start
        # time moved), or moved to another date (the lab's zone changed); a join, not a dict of every run built at
        # each commit (30 ms and megabytes of short-lived objects at 65k runs); a row that addresses no folder (a
        # hand edit) has none to remove
        address = ["run_id", "proc", "date_local"]
        obsolete = manifest.filter(addresses_a_run()).join(updated.select(address), on=address, how="anti").select(
            address).rows()
        if writing is not None:
            writing(updated)
        publish([(item.temp, item.target) for item in staged], self.config.store_root)
        faults.point("after_parquet_replace")
        for record in new_rejects:  # of a file broken since it was staged too: its run stays, as a deleted file's
            write_reject(self.config.rejects_dir, record)
            faults.point("after_reject_write")
        faults.point("before_manifest_replace")
        write_manifest(updated, self.config.manifest_path)
        faults.point("after_manifest_replace")
        if index:
            self.index_manifest(updated)
        # a run re-dated (the lab's zone changed) is the same data at its new address: removed; one replaced by a
        # run of another run_id (its file re-timed, or another measurement copied over it) may be the last copy of
        # its data: set aside, as prune and the crash sweep set runs aside (it was deleted)
        still = set(updated.filter(pl.col("run_id").is_in([run_id for run_id, *_ in obsolete]))["run_id"])
        folders = [(run_id in still, run_dir(self.config.stage_root, proc, date, run_id))
                   for run_id, proc, date in obsolete]
        for folder in [folder for redated, folder in folders if redated]:
            shutil.rmtree(folder, ignore_errors=True)
            faults.point("after_obsolete_run_remove")
        replaced = [folder for redated, folder in folders if not redated]
        # `_quarantine/` not writable (another user's): the folder stays, a run folder no row names, which validate
        # reports and `validate --fix` sets aside (a stage that failed on it here, or after, would lose nothing)
        with contextlib.suppress(LabtuiError):
            quarantine(self.config, [folder for folder in replaced if folder.exists()], REPLACED_RUNS)
        faults.point("after_obsolete_run_remove")
        rejects_dir = self.config.rejects_dir
        recorded = _file_names(rejects_dir)  # one listing, not a failing unlink for each staged run
        for source in [item.row.source_file for item in staged] + list(mtimes):  # broken once, now as staged
            if reject_path(rejects_dir, source).name in recorded and remove_reject(rejects_dir, source):
                rejects.pop(source, None)
                faults.point("after_reject_remove")
        self._drop_legacy_records([run_id for run_id, *_ in obsolete] + [item.row.run_id for item in staged])
        return Committed(updated, len(staged), len(new_rejects), len(retimed))

    def _drop_legacy_records(self, run_ids: list[str]) -> None:
        """An older labtui kept each run's record in a JSON file of its own: the record of a run now removed or
        staged again (its new Parquet carries its record) would be stale."""
        folder = self.config.legacy_records_dir
        legacy = _file_names(folder)
        for run_id in run_ids:
            if f"{run_id}.json" in legacy:
                (folder / f"{run_id}.json").unlink(missing_ok=True)


def _file_names(folder: Path) -> set[str]:
    try:
        return set(os.listdir(folder))
    except FileNotFoundError:
        return set()
