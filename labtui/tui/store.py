"""The app's one door to the engine, for one store: every read, every write (stage, re-stage, fixes, annotations),
the watcher and the raw-file follower. No Textual import; safe to call from any thread (screens call it from
workers). Pure shaping of frames already read (`timeline`, `shape`, `trend_spec`) stays plain function calls.

Reads are cached on the identity of the files they come from (`labtui.core.filecache`): every commit replaces the
manifest and every reject write renames a file in its folder, so `signature` changes with any write, by this app or
by a `labtui stage` in another terminal; the app polls it to tell the screens to reload.

Writers never wait for another writer's lock unless asked (`wait=True`): a busy store raises `LockBusy`, which the
app shows as it shows every `LabtuiError` (`LabApp.show_error`), in the CLI's words.
"""

from __future__ import annotations

import math
import os
import threading
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from labtui.core.config import StagingConfig
from labtui.core.errors import LabtuiError
from labtui.core.filecache import Cached, Identity, identity
from labtui.core.lock import Holder, read_holder
from labtui.core.overview import Overview, last_dirac_points, overview, read_overview
from labtui.core.rejects import RejectRecord, excerpt, load_rejects
from labtui.core.scan import PassedOver, Waiting, source_path
from labtui.core.stat_index import manifest_digest

if TYPE_CHECKING:  # imported when first used: the dashboard is painted from the recorded overview before Polars
    # (and everything that reads with it) is loaded; the writers, the watcher and the checks come later still
    import polars as pl

    from labtui.core.annotations import Action, Change, Undone
    from labtui.core.chip_params import ChipParams
    from labtui.core.findings import ValidationReport
    from labtui.core.fixes import FixReport
    from labtui.core.follow import FollowedRun
    from labtui.core.measuring import Measured, MeasuringWatcher
    from labtui.core.plotdata import LoadedGroup, PlotOptions, PlotSpec
    from labtui.core.stage_events import EventCallback, StageReport
    from labtui.core.watch import WatchEvent

    ChipParamsRead = tuple[dict[str, ChipParams], str | None]

Signature = tuple[Identity, Identity, Identity]


class Store:
    """One store, as the app reads and writes it."""

    def __init__(self, config: StagingConfig) -> None:
        self.config = config
        self._chips: Cached[pl.DataFrame] = Cached()
        self._metrics: Cached[pl.DataFrame] = Cached()
        self._chip_params: Cached[ChipParamsRead] = Cached()
        self._annotations_seen: pl.DataFrame | None = None  # as first read here, then as `annotated` last saw them

    # -- reads ------------------------------------------------------------------------------------------------
    def signature(self) -> Signature:
        """Changes whenever the manifest, the set of reject records or the derived metrics change (the metrics
        are written just after the commit that staged their runs)."""
        config = self.config
        return identity(config.manifest_path), identity(config.rejects_dir), identity(config.metrics_path)

    def manifest(self) -> pl.DataFrame:
        from labtui.core.history import load_manifest

        return load_manifest(self.config)  # the process's one manifest cache, keyed on the file's identity

    def annotations(self) -> pl.DataFrame:
        """The current annotations; the same frame object until someone (any process) annotates again."""
        from labtui.core.annotations import current_annotations

        current = current_annotations(self.config.store_root)
        if self._annotations_seen is None:
            self._annotations_seen = current
        return current

    def unread_annotations(self) -> str | None:
        """Why some annotations are left out (`unread_note`: action files that cannot be read), or None."""
        from labtui.core.annotations import unread_note

        return unread_note(self.config.store_root)

    def annotated(self) -> bool:
        """Whether anyone annotated since the annotations were first read here, or since this last said so. False
        while nothing has read them: nothing on screen can be out of date (and the dashboard's first paint needs
        no Polars)."""
        if self._annotations_seen is None:
            return False
        seen, self._annotations_seen = self._annotations_seen, self.annotations()
        return self._annotations_seen is not seen

    def as_annotated(self, runs: pl.DataFrame) -> pl.DataFrame:
        """`runs` with their annotations as stored now (not as a table drawn before the last change shows them)."""
        from labtui.core.annotations import with_annotations

        return with_annotations(runs, self.annotations())

    def annotation_log(self, run_id: str) -> pl.DataFrame:
        from labtui.core.annotations import annotation_log

        return annotation_log(self.config.store_root, run_id)

    def chips(self) -> pl.DataFrame:
        from labtui.core.history import chips

        return self._chips.get(identity(self.config.manifest_path), lambda: chips(self.manifest()))

    def metrics(self) -> pl.DataFrame:
        """The derived metrics table (`read_metrics`), re-read only when a writer replaced it."""
        from labtui.core.metrics import read_metrics

        return self._metrics.get(identity(self.config.metrics_path), lambda: read_metrics(self.config))

    def metrics_or_empty(self) -> tuple[pl.DataFrame, bool]:
        """`metrics()`, and False; an empty table and True when it is damaged: a screen shows its runs with their
        derived values blank, and says so (a history opened empty and unexplained, its error dialog shown once)."""
        from labtui.core.metrics.schema import MetricsDamaged, empty_metrics

        try:
            return self.metrics(), False
        except MetricsDamaged:
            return empty_metrics(), True

    def chip_params(self) -> ChipParamsRead:
        """`config/chip_params.yaml` as (chip name → parameters, None), or ({}, its one-line error) when it is bad;
        re-read only when the file changed."""
        from labtui.core.chip_params import load_chip_params

        path = self.config.chip_params_file

        def read() -> ChipParamsRead:
            try:
                return load_chip_params(path), None
            except LabtuiError as exc:
                return {}, str(exc)

        return self._chip_params.get(identity(path) if path is not None else None, read)

    def recorded_overview(self) -> Overview | None:
        """The dashboard's numbers as the last commit recorded them (None: an older store, a repair since, another
        time zone): a small file, no Polars."""
        path = self.config.manifest_path
        return read_overview(path, self.config.local_tz, manifest_digest(path))

    def overview(self) -> Overview:
        """The dashboard's numbers computed from the manifest (where none is recorded)."""
        return overview(self.manifest(), self.config.local_tz)

    def dirac_points(self) -> tuple[pl.DataFrame, bool]:
        """The dashboard's Dirac points (`last_dirac_points` of the store as it is now), and whether the metrics table
        is damaged (read as none)."""
        metrics, damaged = self.metrics_or_empty()
        return last_dirac_points(self.manifest(), metrics, self.annotations(),
                                 procedures_file=self.config.procedures_file), damaged

    def rejects(self) -> list[RejectRecord]:
        return sorted(load_rejects(self.config.rejects_dir).values(), key=lambda record: record.source_file)

    def staged_anything(self) -> bool:
        """Whether a stage ever staged or rejected a file here."""
        return bool(self.manifest().height or self.rejects())

    def derived_outdated(self) -> bool:
        """Whether the runs' derived quantities are missing or were computed by another labtui, other windows or
        another chip geometry (a store of an older labtui, an edited chip_params.yaml): the next stage redoes them."""
        from labtui.core.metrics_stamp import is_current

        return bool(self.manifest().height) and not is_current(self.config)

    def holder(self) -> Holder | None:
        """Who writes the store now (None: nobody)."""
        return read_holder(self.config.lock_path)

    def excerpt(self, record: RejectRecord) -> list[tuple[int, str]]:
        """The rejected file's first lines and those around its offending line; OSError when it cannot be read."""
        return excerpt(self.raw_path(record.source_file), record.line)

    def raw_path(self, source_file: str) -> Path:
        return source_path(self.config.raw_root, source_file)

    def validate(self, *, deep: bool = False) -> tuple[ValidationReport, Signature]:
        """A validation of the store and the signature it was made at (to tell when it is out of date); `deep`
        hashes every raw file and decodes every Parquet data page."""
        signature = self.signature()
        from labtui.core.errors import LabtuiError
        from labtui.core.validate import validate

        try:
            manifest: pl.DataFrame | None = self.manifest()
        except LabtuiError:  # damaged or missing: validation reads the file itself and says so, as on the CLI
            manifest = None  # (the screen said "validating…" for ever)
        return validate(self.config, manifest=manifest, hash_all=deep, decode_all=deep), signature

    def waiting(self, passed: PassedOver | None = None) -> Waiting | None:
        """Raw files the next `stage` would read (None: the raw folder is not there); the folders it cannot list go
        into `passed`."""
        from labtui.core.scan import pending_files

        return pending_files(self.config, self.manifest(), passed)

    def load_runs(self, runs: pl.DataFrame) -> list[LoadedGroup]:
        """The Parquet of the chosen runs, one group per procedure, for the plot screen."""
        from labtui.core.plotdata import load_selection  # numpy: not at start-up

        return load_selection(runs, self.config.stage_root, self.config.procedures_file)

    def follow(self, source_file: str) -> FollowedRun:
        """A raw file being written, read as it grows."""
        from labtui.core.follow import FollowedRun
        from labtui.core.registry import load_registry

        return FollowedRun(self.raw_path(source_file), load_registry(self.config.procedures_file))

    # -- writes -----------------------------------------------------------------------------------------------
    def _writing(self, wait: bool) -> StagingConfig:
        return replace(self.config, lock_timeout_seconds=math.inf if wait else 0)

    def stage(
        self,
        *,
        only: Sequence[Path] | None = None,
        on_event: EventCallback | None = None,
        cancel: threading.Event | None = None,
        wait: bool = False,
        take_cut_short: bool = False,
    ) -> StageReport:
        """Stage new and changed raw files (`only`: these, re-read even when unchanged; a file cut short since
        staged is taken as it is only when `take_cut_short`, which the user confirmed)."""
        from labtui.core.stager import stage

        return stage(self._writing(wait), only=only, take_cut_short=take_cut_short, on_event=on_event, cancel=cancel)

    def restage(self, source_file: str, *, take_cut_short: bool = False) -> StageReport:
        return self.stage(only=[self.raw_path(source_file)], take_cut_short=take_cut_short)

    def fix(self, report: ValidationReport, cancel: threading.Event) -> FixReport:
        from labtui.core.fixes import apply_fixes  # the validate screen's `f`: not at start-up

        return apply_fixes(self._writing(False), report, cancel=cancel)

    def annotate(self, runs: pl.DataFrame, change: Change) -> Action | None:
        """Annotate `runs` as the store holds them now: a run re-staged under a new run_id since its row was drawn
        (its start time corrected in another terminal while a reason was typed) is annotated under that one; its
        old run_id is no run any more, so the annotation showed on none."""
        from labtui.core.annotations import annotate, default_author
        from labtui.core.history import staged_now

        runs = staged_now(runs.select("run_id", "source_file"), self.manifest())
        return annotate(self.config.store_root, runs, [change], author=default_author(self.config.user))

    def reprice(self, action: Action) -> str | None:
        """After `action` excluded or included runs: the metrics updated when one is a calibration (`reprice_after`,
        which waits for a stage in progress a few seconds at most: a thread blocked on the lock held the app's exit)."""
        from labtui.core.metrics import reprice_after

        return reprice_after(self.config, action.run_ids) if action.changes_exclusion() else None

    def undo(self, action: Action) -> Undone | None:
        from labtui.core.annotations import default_author, undo

        return undo(self.config.store_root, action.id, author=default_author(self.config.user),
                    manifest=self.manifest())

    def watcher(
        self, on_event: Callable[[WatchEvent], object], on_measuring: Callable[[tuple[Measured, ...]], object]
    ) -> MeasuringWatcher:
        """The engine's polling watcher of the raw folder: it stages each new run once it settles, and says which
        runs are being measured (`run(cancel)` in a thread). It never waits for the lock: while another process
        stages, its polls go on (the measuring line with them) and the next one retries."""
        from labtui.core.measuring import MeasuringWatcher

        return MeasuringWatcher(self._writing(False), on_event=on_event, on_measuring=on_measuring)

    def write_figures(self, full: PlotSpec, paths: tuple[Path, ...], drawn: PlotSpec | None = None, *,
                      record: tuple[pl.DataFrame, PlotOptions, dict[str, object] | None, bool] | None = None
                      ) -> Path | None:
        """The app's export (`write_figure_set`), with the figure's record beside its PDF when `record` gives its
        runs, options, trend and whether it drew derived quantities (whose definitions and windows the record
        names), as `labtui plot` writes one: `labtui plot --from` redraws it. The record's path, if written."""
        from labtui.core.errors import UsageError
        from labtui.core.metrics_stamp import metrics_stamp
        from labtui.core.plotdata.figure import write_figure_set  # matplotlib: only when exporting
        from labtui.core.plotdata.selection import figure_record

        if (problem := self.config.inside_problem(paths[0].parent)) is not None:  # `exports_dir` relative to the
            # working folder, the app started in the raw folder: the PDF, PNG and CSV were written among raw files
            raise UsageError(f"the config's exports_dir: {problem}")
        written = None
        if record is not None:
            runs, options, trend, derived = record
            written = figure_record(paths[0], runs, options, trend, metrics_stamp(self.config) if derived else None)
        write_figure_set(full, paths, drawn=drawn, record=written)
        return written[0] if written is not None else None


def short_path(path: Path) -> str:
    """A path as a user would type it: relative to the working folder when inside it, else with `~` (the working
    folder itself is named, not ".")."""
    absolute = Path(os.path.abspath(path))
    for base, prefix in ((Path.cwd(), ""), (Path.home(), "~/")):
        if absolute == base and not prefix:
            continue
        try:
            return (prefix + absolute.relative_to(base).as_posix()).removesuffix("/.")
        except ValueError:
            continue
    return str(absolute)
