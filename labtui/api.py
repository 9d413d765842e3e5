"""The store from Python: `open_store(path)` for notebooks and scripts.

```python
from labtui import open_store

store = open_store("data/02_stage")
store.runs(chip=67, proc="It", light=True)             # the chip's history, the filters of `labtui history`
store.scan(chip=67, proc="It").collect()               # every data column of those runs, one row per sample
```

Read-only and lock-free, with the guarantees of every reader of the store: the manifest is read through one open
handle (the previous or the next commit, never a torn one); each run's Parquet is read through one memory map, so
a writer replacing it mid-read hands over the old or the new file, whole; a run whose file a commit removed is
looked up again in the newest manifest (re-staged under another path: read there; its raw file another run now:
`StoreChanged`, scan again; pruned: skipped).

`scan` is lazy and builds its file list from the manifest, never from a directory listing: filters on run-level
columns (`run_id`, `proc`, `date_local`, `seq`, the manifest columns asked for) prune whole files before any is
opened, only the data columns a query uses are read, and foreign files in the store are never seen. A row that a
hand edit left without a valid run_id, proc or date_local names no file: `scan` leaves it out (`runs` lists it).

A wrong argument raises a `UsageError` that names it and says what it takes (`light takes True, False or None, not
'yes'`); a wrong type is a `TypeError` too. A single name stands for a list of one (`proc="It"`, `columns="chip_name"`,
`run_ids="…"`), and NumPy's integers, floats and bools stand for Python's.
"""

from __future__ import annotations

import datetime as dt
import math
import numbers
import os
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from labtui.core.annotations import AnnotationFilter, annotate_runs, current_annotations, unread_note
from labtui.core.config import StagingConfig, default_derived_root, known_zone
from labtui.core.errors import UsageError
from labtui.core.history import HistoryFilter, cached_manifest, history, timeline
from labtui.core.layout import addresses_a_run, run_parquet_paths
from labtui.core.manifest import MANIFEST_NAME, MANIFEST_SCHEMA
from labtui.core.store import MANIFEST_DIR, derived_root_gone, locate_store, recorded_derived_root, recorded_zone
from labtui.core.wording import cut
from labtui.run_scan import RUN_COLUMNS, DamagedRun, RunScan, StoreChanged, StoreGone, present

__all__ = ["AnnotationsUnread", "DamagedRun", "Store", "StoreChanged", "StoreGone", "WrongType", "open_store"]

MANIFEST_FILE = Path(MANIFEST_DIR) / MANIFEST_NAME


def open_store(path: str | Path, *, local_tz: str | None = None, derived_root: str | Path | None = None) -> Store:
    """The store at `path`: the store folder (`data/02_stage`, holding `_manifest/`) or its `raw_measurements`.

    `local_tz` dates and numbers histories (`runs`' `date`, `seq`; by default the lab's: the zone the store's last
    stage dated its runs in, recorded in the store); a scan's `date_local` stays the store's partition date, the
    stage's zone, whatever `local_tz` says (in another zone, a run near midnight has two dates). `derived_root`
    holds the derived tables (by default where the store's last stage was told to put them, else `data/03_derived`
    beside `data/02_stage`; see `default_derived_root`).
    """
    folder = _path(path, "path")
    given = _text(local_tz, "local_tz", 'an IANA time zone name ("America/Santiago") or None')
    derived = None if derived_root is None else _path(derived_root, "derived_root")
    root, stage_root = locate_store(folder)
    zone = given or recorded_zone(root) or StagingConfig.local_tz
    try:
        known_zone(zone)
    except ValueError as exc:
        where = "local_tz" if given else f"the zone the store records ({root / MANIFEST_DIR}/store.json): pass local_tz"
        raise UsageError(f"{where}: {exc}") from None
    if derived is None and (derived := recorded_derived_root(root)) is None and (
            gone := derived_root_gone(root)) is not None:  # an empty table, read as none computed
        import warnings

        warnings.warn(f"the store keeps its derived tables in {gone}, which is not there (a share not mounted?): "
                      f"reading {default_derived_root(root)} instead; pass derived_root={str(gone)!r} once it is back",
                      stacklevel=2)
    return Store(root=root, stage_root=stage_root, local_tz=zone, derived_root=derived or default_derived_root(root))


class WrongType(UsageError, TypeError):
    """An argument of a type it cannot take (`chip=67.0`, `light="yes"`): a TypeError, as Python's own are, and a
    UsageError, as every other mistake labtui reports (one `except` catches them all)."""

    def __init__(self, argument: str, takes: str, value: object, hint: str = "") -> None:
        super().__init__(_takes(argument, takes, value) + hint)


class AnnotationsUnread(UserWarning):
    """Annotation files that cannot be read: their records (an exclusion, a star) are left out of what `runs`,
    `metrics` and `annotations` return."""


@dataclass(frozen=True)
class Store:
    """A staged store, read-only. Build it with `open_store`."""

    root: Path
    stage_root: Path
    local_tz: str
    derived_root: Path

    @property
    def manifest_path(self) -> Path:
        return self.root / MANIFEST_FILE

    @property
    def manifest(self) -> pl.DataFrame:
        """One row per run, as committed (re-read only when a writer has committed since); `StoreGone` when the
        store's folder is no longer there."""
        present(self)
        return cached_manifest(self.manifest_path)

    def runs(
        self,
        chip: int | str | None = None,
        *,
        group: str | None = None,
        proc: str | Iterable[str] | None = None,
        light: bool | None = None,
        since: dt.date | str | None = None,
        until: dt.date | str | None = None,
        wavelength: float | None = None,
        vg: float | None = None,
        search: str | None = None,
        starred: bool = False,
        tag: str | None = None,
        include_excluded: bool = True,
    ) -> pl.DataFrame:
        """Runs oldest first with the columns and filters of `labtui history --format json`, typed, the annotation
        columns (`starred`, `excluded`, `exclude_reason`, `tags`, `note`) among them; but its `start_time` (epoch
        seconds: `start_time_utc` here), and `summary` the conditions alone. Every run when `chip` is None.

        `seq` numbers each chip's whole history (filters never renumber); `proc` accepts aliases (`ITS` = It).
        Excluded runs are returned, marked, unless `include_excluded=False` (a notebook decides what to leave out).
        """
        filters = _history_filter(proc, light, since, until, wavelength, vg, search)
        chip, group = _chip(chip), _text(group, "group", 'a chip group ("Alisson") or None')
        marked = AnnotationFilter(
            starred=_flag(starred, "starred"), tag=_text(tag, "tag", "one tag (a str) or None"),
            include_excluded=_flag(include_excluded, "include_excluded"),
        )
        manifest = self.manifest
        if chip is None:
            if group is not None:
                raise UsageError('group needs chip: it is the group of a chip number (chip=67, group="Alisson")')
            runs = timeline(manifest, tz=self.local_tz).filter(filters.expression())
        else:
            runs = history(manifest, chip, group, tz=self.local_tz, filters=filters)
        return self._annotated(runs).filter(marked.expression())

    def scan(
        self,
        proc: str | Iterable[str] | None = None,
        chip: int | str | None = None,
        *,
        group: str | None = None,
        run_ids: str | Iterable[str] | None = None,
        columns: str | Iterable[str] | None = (),
        include_excluded: bool = True,
    ) -> pl.LazyFrame:
        """Every sample of the selected runs as a LazyFrame: `run_id`, `proc`, `date_local`, `seq`, the run-level
        `columns` asked for (any manifest, history or annotation column: `chip_name`, `has_light`, `excluded`, …),
        then every data column of those runs, the union across procedures (null where a procedure lacks one).
        Excluded runs are in it unless `include_excluded=False`, as in `runs`. A run column that the runs' data has
        too (`vds_v`: a Vt or VVg run's measured VDS) is refused, its footers read at once to say so here: a data
        column keeps its name, whatever `columns` holds.
        """
        wanted = None if run_ids is None else _names(run_ids, "run_ids", "a run_id or a list of them")
        extra = _names(columns, "columns", "a column name or a list of them")
        selected = self.runs(chip, group=group, proc=proc, include_excluded=include_excluded)
        if wanted is not None:
            selected = selected.filter(pl.col("run_id").is_in(list(wanted)))
        source = RunScan(self, self._run_table(selected, extra), dict(selected.select("run_id", "source_file").rows()))
        if extra:
            source.data_schema()  # a run column its data also has is refused here: inside collect, Polars wraps it
        return source.lazy()

    @property
    def annotations(self) -> pl.DataFrame:
        """One row per annotated run (`run_id` and the five columns `runs` carries), as the last annotation left it:
        the annotations alone, for a frame of your own (`runs` and `scan` already join them). Runs no longer in the
        manifest keep theirs (a run re-staged under a new run_id: `labtui validate --fix` carries them over)."""
        self._say_unread()
        return current_annotations(self.root)

    @property
    def metrics(self) -> pl.DataFrame:
        """The derived per-run metrics (`<derived_root>/metrics.parquet`, schema `METRICS_SCHEMA`) with `seq` after
        `chip_name`, as `labtui metrics` numbers them (a chip's history; the calibrations' own), and the annotation
        columns last (`starred`, `excluded`, `exclude_reason`, `tags`, `note`, as `runs` has them); no rows until
        they have been computed (`labtui metrics`, or any stage). Excluded runs are in it, marked: a mean over the
        table took a run the lab had excluded, unmarked (`labtui metrics` hides them). Only the manifest's runs: a
        row of a run a commit replaced (the table is written after the manifest; a stage killed in between leaves
        it behind until the next stage) read as a run of no history; a run staged since has no row until then."""
        from labtui.core.metrics import read_metrics

        table = read_metrics(self.derived_root)
        columns = table.columns
        columns.insert(columns.index("chip_name") + 1, "seq")
        seq = timeline(self.manifest, tz=self.local_tz).select("run_id", "seq")
        return self._annotated(table.join(seq, on="run_id", maintain_order="left").select(columns))

    def _annotated(self, runs: pl.DataFrame) -> pl.DataFrame:
        """`runs` with their annotation columns, and a warning when action files among them cannot be read."""
        self._say_unread()
        return annotate_runs(self.root, runs)

    def _say_unread(self) -> None:
        """A warning, at the line of the reader's own code (the first frame outside labtui), when annotation files
        cannot be read: an exclusion among them left its run counted in every mean, unsaid (`history` says it;
        `validate` names the files). Python shows it once per line of that code."""
        if (unread := unread_note(self.root)) is None:
            return
        import warnings

        package, frame, level = str(Path(__file__).parent), sys._getframe(1), 2
        while frame.f_back is not None and frame.f_code.co_filename.startswith(package):
            frame, level = frame.f_back, level + 1
        warnings.warn(unread, AnnotationsUnread, stacklevel=level)

    def _run_table(self, selected: pl.DataFrame, columns: tuple[str, ...]) -> pl.DataFrame:
        """One row per selected run: the run-level columns of a scan plus `path`, the run's Parquet."""
        extra = [name for name in dict.fromkeys(columns) if name not in RUN_COLUMNS]
        known = dict.fromkeys([*selected.columns, *MANIFEST_SCHEMA])
        if unknown := [name for name in extra if name not in known]:
            noun = "column" if len(unknown) == 1 else "columns"
            raise UsageError(f"columns: unknown run {noun} {', '.join(unknown)} (known: {', '.join(known)})")
        from_manifest = [name for name in ("date_local", *extra) if name not in selected.columns]
        runs = selected.join(self.manifest.select("run_id", *from_manifest), on="run_id", how="left")
        return runs.filter(addresses_a_run()).select(*RUN_COLUMNS, *extra, path=run_parquet_paths(self.stage_root))


def _history_filter(
    proc: object, light: object, since: object, until: object, wavelength: object, vg: object, search: object
) -> HistoryFilter:
    procs = _names(proc, "proc", "a procedure name or a list of them")
    try:
        return HistoryFilter(
            procs=procs,
            light=None if light is None else _flag(light, "light", "True, False or None"),
            since=_date(since, "since"),
            until=_date(until, "until"),
            wavelength_nm=_number(wavelength, "wavelength", "a wavelength in nm (365) or None"),
            vg_v=_number(vg, "vg", "a gate voltage in V (-0.5) or None"),
            text=_text(search, "search", "a text to look for or None"),
        )
    except ValueError as exc:  # an unknown procedure: the known ones are said
        raise UsageError(f"proc: {exc}") from exc


# -- arguments: one check per kind, each failing with `<argument> takes <what>, not <value>` ----------------------
def _takes(argument: str, takes: str, value: object) -> str:
    return f"{argument} takes {takes}, not {cut(repr(value), 60)}"


def _text(value: object, argument: str, takes: str) -> str | None:
    """A str or None: anything else (`tag=5`, a list of tags) fails deep in a filter, in Python's words."""
    if value is None or isinstance(value, str):
        return value
    raise WrongType(argument, takes, value)


def _names(value: object, argument: str, takes: str) -> tuple[str, ...]:
    """Names (procedures, columns, run_ids): one alone is a list of one, not its letters (`columns="chip_name"`
    read as c, h, i, …); None is none."""
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if isinstance(value, Iterable):
        names = tuple(value)
        if all(isinstance(name, str) for name in names):
            return names
    raise WrongType(argument, takes, value)


def _flag(value: object, argument: str, takes: str = "True or False") -> bool:
    """A bool, NumPy's too; not 1, "yes" or None, which a filter compares with a bool column and matches nothing."""
    if isinstance(value, bool):
        return value
    numpy = sys.modules.get("numpy")  # a NumPy bool exists only once NumPy is imported: nothing to import here
    if numpy is not None and isinstance(value, numpy.bool_):
        return bool(value)
    raise WrongType(argument, takes, value)


def _number(value: object, argument: str, takes: str) -> float | None:
    """A finite number (NumPy's too) or None: Polars reads a str as a column name, a bool is no number meant and a
    NaN matches nothing."""
    if value is None:
        return None
    if not isinstance(value, numbers.Real) or isinstance(value, bool):
        raise WrongType(argument, takes, value)
    if not math.isfinite(value):
        raise UsageError(_takes(argument, takes, value))
    return float(value)


def _chip(value: object) -> int | str | None:
    """A chip as `history` takes it: a name (`"Alisson67"`) or a number, NumPy's too; not a float or a bool."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        return int(value)
    raise WrongType("chip", 'a chip number (67) or name ("Alisson67")', value)


_DATE = 'a local date ("2025-09-08" or datetime.date)'


def _date(value: object, argument: str) -> dt.date | None:
    """A local date: an ISO string or a `datetime.date`; not a datetime (a date to isinstance too: compared with
    date_local, `since` 09:00 would have lost that whole day)."""
    if isinstance(value, dt.datetime):
        raise WrongType(argument, _DATE, value, " (its .date(), or filter start_time_utc for a time of day)")
    if value is None or isinstance(value, dt.date):
        return value
    if not isinstance(value, str):
        raise WrongType(argument, _DATE, value)
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise UsageError(_takes(argument, _DATE, value)) from None


def _path(value: object, argument: str) -> Path:
    """A folder as a str or a path, `~` expanded."""
    if isinstance(value, str | os.PathLike):  # absolute: a notebook's `%cd` later must not move the store it names
        return Path(value).expanduser().absolute()
    raise WrongType(argument, "a folder (a str or pathlib.Path)", value)
