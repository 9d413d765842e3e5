"""The annotation log on disk: its format, writing an action, compaction, and the cached reading of the whole log.

The log is append-only and lock-free, so annotating never waits for a stage and two writers lose nothing:

    _annotations/actions/<UTC time>-<random>.json   one action (one or more records), written whole: hidden temp
                                                    file, fsync, rename, fsync the folder; never changed afterwards
    _annotations/log.parquet                        compacted copy of the actions above (a cache, never the authority)

A record is (run_id, source_file, kind, value, author, time_utc). Kinds come in pairs — star/unstar,
exclude/include, tag/untag — plus note (an empty note clears it); an edit or a removal is a new record, so a run's
annotation history can always be shown. The current view is the last word of each pair per run.

Readers list `actions/` and read the snapshot; an action is in the snapshot or in its own file (or both), so a
concurrent compaction can never hide one. Action files are never deleted, so two compactions racing each other
only cost a re-read. The listing is cached on the folder's stat, trusted only once its mtime is older than the
clock's granularity (as git does with its index), so a history refresh does not list 10k files.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import getpass
import json
import os
import re
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, cast, get_args

import polars as pl

from labtui.core.atomic import (
    TEMP_SUFFIX,
    atomic_write,
    atomic_write_bytes,
    left_behind,
    read_parquet_pinned,
    read_record,
)
from labtui.core.errors import OperationFailed, UsageError
from labtui.core.json_text import parse_json
from labtui.core.wording import counted, cut, os_text, shown

ANNOTATIONS_DIR = "_annotations"
ACTIONS_DIR = "actions"
SNAPSHOT = "log.parquet"
COMPACT_AFTER = 64  # actions outside the snapshot before a writer compacts them into it
AnnotationKind = Literal["star", "unstar", "exclude", "include", "tag", "untag", "note"]
KINDS: tuple[AnnotationKind, ...] = get_args(AnnotationKind)
EXCLUSION_KINDS: tuple[AnnotationKind, ...] = ("exclude", "include")  # the pair whose last word excludes a run
_NEEDS_VALUE = {"exclude", "tag", "untag", "note"}
DESCRIBED_CHARACTERS = 200  # of a value in the line that says a change: a pasted page of text is cut
MAX_CHARACTERS = {"exclude": 200, "tag": 200, "untag": 200, "note": 4000}  # of a new annotation's text (`annotate`)
_TEXT_NAME = {"exclude": "an exclusion reason", "tag": "a tag", "untag": "a tag", "note": "a note"}
RACY_SECONDS = 0.05  # a folder modified this recently may change again within the same mtime tick

_UTC = pl.Datetime("us", "UTC")
LOG_SCHEMA: dict[str, pl.DataType] = {
    "action": pl.String(), "index": pl.Int32(), "run_id": pl.String(), "source_file": pl.String(), "kind": pl.String(),
    "value": pl.String(), "author": pl.String(), "time_utc": _UTC,
}
LOG_ORDER = ("time_utc", "action", "index")
TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"  # UTC, microseconds: the records' time as written in the action files


class AnnotationError(UsageError):
    """An annotation that cannot be right: an empty reason, a tag with a `;`, an unknown kind."""


@dataclass(frozen=True)
class Change:
    """One thing done to a run: `Change("tag", "hBN batch 2")`, `Change("star")`, `Change("note", "")` (clear)."""

    kind: AnnotationKind
    value: str | None = None

    @classmethod
    def read(cls, kind: str, value: str | None) -> Change:
        """A change as stored (plain text): its kind is checked when the change is made, as for every change."""
        return cls(cast(AnnotationKind, kind), value)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise AnnotationError(f"unknown annotation {self.kind!r} (known: {', '.join(KINDS)})")
        if self.kind not in _NEEDS_VALUE:
            object.__setattr__(self, "value", None)
            return
        value = (self.value or "").strip()
        if self.kind == "exclude" and not value:
            raise AnnotationError("an exclusion needs a reason (e.g. \"contact lost at 40 s\")")
        if self.kind in ("tag", "untag") and not value:
            raise AnnotationError("a tag cannot be empty: type its text")
        if self.kind in ("tag", "untag") and (";" in value or len(value.splitlines()) > 1):  # \r too
            raise AnnotationError(f"a tag is one line of text without ';' (got {self.value!r})")
        object.__setattr__(self, "value", value)

    def describe(self) -> str:
        """What the change did, as a history line says it: `excluded “contact lost”`, `tagged “455 nm”`, each text
        quoted (a reason with a colon ran into the line's own); the value as a terminal line shows it (an escape
        sequence pasted into a note coloured the terminal), a long note cut."""
        value = cut(self.value or "", DESCRIBED_CHARACTERS, shown)
        match self.kind:
            case "exclude":
                return f"excluded “{value}”"
            case "include":
                return "included again"
            case "tag" | "untag":
                return f"{self.kind}ged “{value}”"
            case "note":
                return f"note “{value}”" if value else "note cleared"
            case _:
                return f"{self.kind}red"


@dataclass(frozen=True)
class Action:
    """What one `annotate` call wrote: its id (to undo it), the runs it changed and the changes."""

    id: str
    run_ids: tuple[str, ...]
    changes: tuple[Change, ...]

    def describe(self) -> str:
        return ", ".join(change.describe() for change in self.changes)

    def changes_exclusion(self) -> bool:
        """Whether it excluded runs or included them again: of a calibration, that reprices runs (`reprice_after`)."""
        return any(change.kind in EXCLUSION_KINDS for change in self.changes)


def annotations_dir(store_root: Path) -> Path:
    return Path(store_root) / ANNOTATIONS_DIR


def default_author(user: str | None = None) -> str:
    """The config's `user:` when set, else the OS user."""
    if user:
        return user
    try:
        return os_text(getpass.getuser())  # `USER=josé` under LC_ALL=C: surrogate escapes, a traceback
    except (OSError, KeyError):  # no login name and no passwd entry (some containers)
        return "unknown"


# -- writing -----------------------------------------------------------------------------------------------------
def check_length(change: Change) -> None:
    """A new annotation's text holds at most `MAX_CHARACTERS` of its kind. Checked by `annotate` (and by the app
    before it writes), not in `Change`: undoing and re-attaching copy what is stored, whatever its length."""
    if change.value and len(change.value) > (limit := MAX_CHARACTERS[change.kind]):
        raise AnnotationError(f"{_TEXT_NAME[change.kind]} holds at most {limit} characters (this one has "
                              f"{len(change.value)}): keep longer text in a file and name it in the note")


def write_action(
    store_root: Path, records: list[tuple[str, str, Change]], *, author: str, at: dt.datetime | None = None
) -> Action:
    """One action file holding `records`, written whole under a unique name; then compact if many are pending.

    `at` (default now) lets re-attached copies keep their original time, so newer annotations still win. A new
    action comes after every action already written, whatever the clocks say: a lab PC whose clock was an hour
    behind wrote an `--include` older than the `--exclude` it answered, said it had included the run, and the run
    stayed excluded. An action of the same runs further ahead (a PC whose clock ran a year ahead) is answered too:
    its `--exclude` outlived every `--include` dated before it, each said as done (`ahead_of_clock` names it).
    """
    now = (at or dt.datetime.now(dt.UTC)).astimezone(dt.UTC)
    if at is None:
        same_runs = read_log(store_root).filter(pl.col("run_id").is_in([run_id for run_id, _, _ in records]))
        for newest in (_newest_action_time(store_root, now + CLOCKS_APART), same_runs.get_column("time_utc").max()):
            if isinstance(newest, dt.datetime) and now <= newest:
                now = newest + dt.timedelta(microseconds=1)
    action = f"{now.strftime('%Y%m%dT%H%M%S%fZ')}-{uuid.uuid4().hex[:12]}"
    document = {"action": action, "records": [
        {"run_id": run_id, "source_file": source, "kind": change.kind, "value": change.value, "author": author,
         "time_utc": now.strftime(TIME_FORMAT)}
        for run_id, source, change in records
    ]}
    path = annotations_dir(store_root) / ACTIONS_DIR / f"{action}.json"
    try:
        atomic_write_bytes(path, json.dumps(document, ensure_ascii=False).encode("utf-8"))
    except OSError as exc:
        raise OperationFailed("write the annotation", path, exc) from exc
    _compact_if_due(store_root)
    run_ids = tuple(dict.fromkeys(run_id for run_id, _, _ in records))
    return Action(action, run_ids, tuple(dict.fromkeys(change for _, _, change in records)))


_ACTION_TIME = re.compile(r"\d{8}T\d{12}Z-")  # an action file's name: its time, to the microsecond
# A newer action at most this far ahead of this machine's clock is another's clock running ahead; further, a clock
# gone wrong (a year ahead), which every later action would otherwise be dated after.
CLOCKS_APART = dt.timedelta(days=1)


def _newest_action_time(store_root: Path, until: dt.datetime) -> dt.datetime | None:
    """The time of the newest action file up to `until`, by its name (names sort as their times do); a name that is
    no time (a hand-made file) is passed over."""
    for name in sorted((name for name in listed_actions(store_root) if _ACTION_TIME.match(name)), reverse=True):
        try:
            when = dt.datetime.strptime(name[:21], "%Y%m%dT%H%M%S%f").replace(tzinfo=dt.UTC)
        except ValueError:  # `20991399T…`
            continue
        if when <= until:
            return when
    return None


def _compact_if_due(store_root: Path) -> None:
    """Compact once COMPACT_AFTER actions are pending; counted from this process's last listing plus its own writes
    since, so an annotation does not pay for reading the pending actions of a folder of 10k files (other writers
    count their own)."""
    root = annotations_dir(store_root)
    with _lock:
        cache = _cache_of(root)
        cache.written += 1
        if cache.pending_of is not None and len(cache.pending) + cache.written < COMPACT_AFTER and \
                not cache.snapshot_damaged:
            return
        _, pending = _pending(root, cache)
        damaged = cache.snapshot_damaged
    if len(pending) >= COMPACT_AFTER or damaged:
        log, _ = _load(store_root)
        with contextlib.suppress(OSError):  # only a cache: the actions are written, the next writer compacts
            atomic_write(root / SNAPSHOT, lambda handle: log.write_parquet(handle), durable=False)
        _sweep_stale_temps(root)


def _sweep_stale_temps(root: Path) -> None:
    """Remove the temp files of writers killed before their rename (`labtui annotate`, a compaction). No lock guards
    the log, so a temp file is a leftover only once it is older than any write takes (`left_behind`)."""
    for folder in (root, root / ACTIONS_DIR):
        for path in left_behind(folder.glob(f".*{TEMP_SUFFIX}")):
            with contextlib.suppress(OSError):  # gone meanwhile (its writer renamed it), or not ours to remove
                path.unlink()


# -- reading -----------------------------------------------------------------------------------------------------
@dataclass
class _Cache:
    """What one process last read of one store's log; each part is re-read only when its file or folder changed."""

    snapshot_key: tuple[int, int, int] | None = None
    snapshot: pl.DataFrame = field(default_factory=lambda: _empty_log())
    snapshot_damaged: bool = False  # the snapshot could not be read: ignored, and the next writer rewrites it
    snapshot_actions: frozenset[str] = frozenset()
    folder_key: tuple[int, int, int] | None = None
    listed_at: float = 0.0
    names: tuple[str, ...] = ()
    parsed: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # action files are immutable: parse each once
    written: int = 0  # actions this process wrote since its last listing
    pending_of: tuple[str, ...] | None = None  # the listing `pending` was computed from
    pending: list[str] = field(default_factory=list)
    log_key: tuple[str, ...] | None = None  # the listing `log` was built from (None: rebuild)
    log: pl.DataFrame = field(default_factory=lambda: _empty_log())


_caches: dict[Path, _Cache] = {}
_lock = threading.Lock()


def _cache_of(root: Path) -> _Cache:
    key = Path(os.path.realpath(root))  # a link that loops is no RuntimeError: its reads say it
    cache = _caches.get(key)
    if cache is None:
        cache = _caches[key] = _Cache()
    return cache


def _stat_key(path: Path) -> tuple[int, int, int] | None:
    try:
        info = path.stat()
    except FileNotFoundError:
        return None
    return info.st_ino, info.st_mtime_ns, info.st_size


def _list_actions(folder: Path, cache: _Cache) -> tuple[str, ...]:
    key = _stat_key(folder)
    if key is None:
        return ()
    if key == cache.folder_key and key[1] / 1e9 < cache.listed_at - RACY_SECONDS:
        return cache.names
    listed_at = time.time()
    names = tuple(n for n in os.listdir(folder) if n.endswith(".json") and not n.startswith("."))
    if names != cache.names:  # the same object when nothing changed: what depends on it stays cached
        cache.names = names
    cache.folder_key, cache.listed_at, cache.written = key, listed_at, 0
    return cache.names


def read_action(path: Path) -> list[dict[str, Any]]:
    """The records of one action file; an unreadable one (hand-edited, truncated copy) counts as empty here and is
    reported by `unreadable_actions`."""
    try:
        document = parse_json(read_record(path))
        action = document["action"]
        records = [{**record, "action": action, "index": i} for i, record in enumerate(document["records"])]
        for record in records:
            texts = (action, record["run_id"], record["source_file"], record["author"], record["kind"])
            if not (all(isinstance(text, str) for text in texts) and isinstance(record["value"], str | None)):
                raise TypeError(record)  # valid JSON of another shape (`"value": 5`)
            Change.read(record["kind"], record["value"])
            # as written (a hand's `…30.5Z` is read too: `%f` takes 1–6 digits; the log's reader takes 6)
            record["time_utc"] = dt.datetime.strptime(record["time_utc"], TIME_FORMAT).strftime(TIME_FORMAT)
        return records
    except (OSError, ValueError, KeyError, TypeError, UsageError):
        return []


def _pending(root: Path, cache: _Cache) -> tuple[tuple[str, ...], list[str]]:
    """Every action file's name, and those the snapshot does not hold yet (call with `_lock` held)."""
    snapshot_key = _stat_key(root / SNAPSHOT)
    if snapshot_key != cache.snapshot_key:
        cache.snapshot_damaged = False
        try:
            snapshot = read_parquet_pinned(root / SNAPSHOT) if snapshot_key else _empty_log()
            snapshot = snapshot.select(list(LOG_SCHEMA)).cast(LOG_SCHEMA)  # type: ignore[arg-type]
        except FileNotFoundError:
            snapshot, snapshot_key = _empty_log(), None
        except (OSError, pl.exceptions.PolarsError):  # written without fsync: a power cut can leave it cut short
            snapshot, cache.snapshot_damaged = _empty_log(), True  # every record is in its action file too
        cache.snapshot_key, cache.snapshot = snapshot_key, snapshot
        cache.snapshot_actions = frozenset(snapshot["action"].unique().to_list())
        cache.pending_of = cache.log_key = None
    names = _list_actions(root / ACTIONS_DIR, cache)
    if names is not cache.pending_of:
        cache.pending_of = names
        cache.pending = [name for name in names if name[:-5] not in cache.snapshot_actions]
    return names, cache.pending


def _load(store_root: Path) -> tuple[pl.DataFrame, tuple[str, ...]]:
    """The whole log in order: the snapshot plus the action files it does not hold yet; and the listing of the
    action files it was built from."""
    root = annotations_dir(store_root)
    with _lock, _reading(root):
        cache = _cache_of(root)
        names, pending = _pending(root, cache)
        if names is not cache.log_key:
            cache.parsed = {name: cache.parsed.get(name) or read_action(root / ACTIONS_DIR / name) for name in pending}
            rows = [record for records in cache.parsed.values() for record in records]
            fresh = (
                pl.DataFrame(rows, schema={**LOG_SCHEMA, "time_utc": pl.String}).with_columns(
                    pl.col("time_utc").str.to_datetime(
                        TIME_FORMAT.replace("%f", "%6f"), time_unit="us", time_zone="UTC"
                    ))
                if rows else _empty_log()
            )
            cache.log = pl.concat([cache.snapshot, fresh.select(list(LOG_SCHEMA))]).sort(LOG_ORDER)
            cache.log_key = names
        return cache.log, names


@contextlib.contextmanager
def _reading(root: Path) -> Iterator[None]:
    """An OS error reading the annotations as one that names the operation (a file copied in as `actions`, a link
    that loops: "operating-system error on …: Not a directory" said neither what nor where to mend)."""
    try:
        yield
    except OSError as exc:
        raise OperationFailed("read the annotations in", exc.filename or root, exc, reading=True) from exc


def _empty_log() -> pl.DataFrame:
    return pl.DataFrame(schema=LOG_SCHEMA)


def read_log(store_root: Path) -> pl.DataFrame:
    """Every annotation record ever written, oldest first."""
    return _load(store_root)[0]


def read_log_listed(store_root: Path) -> tuple[pl.DataFrame, tuple[str, ...]]:
    """`read_log`, and the names of the action files it holds (whatever was written since is not in it)."""
    return _load(store_root)


def listed_actions(store_root: Path) -> tuple[str, ...]:
    """The names of the action files (`<action>.json`), as this process last listed them (`_list_actions`)."""
    root = annotations_dir(store_root)
    with _lock, _reading(root):
        return _list_actions(root / ACTIONS_DIR, _cache_of(root))


def annotation_log(store_root: Path, run_id: str) -> pl.DataFrame:
    """One run's annotation history, oldest first: time_utc, author, kind, value."""
    return read_log(store_root).filter(pl.col("run_id") == run_id).select("time_utc", "author", "kind", "value")




def ahead_of_clock(store_root: Path) -> list[str]:
    """The runs with annotation records dated more than CLOCKS_APART after this machine's clock, one line each: the
    first of them a clock ahead wrote; the later ones `write_action` dated after it, so that they count (an action
    of several runs, all of them)."""
    ahead = read_log(store_root).filter(pl.col("time_utc") > dt.datetime.now(dt.UTC) + CLOCKS_APART)
    runs = ahead.group_by("run_id", maintain_order=True).agg(
        pl.col("source_file").first(), pl.len(), pl.col("time_utc").first().alias("first"),
        pl.col("author").first(), pl.col("time_utc").last().alias("last"))
    minute = "%Y-%m-%d %H:%M"
    return [f"{run_id} {source}: {counted(records, 'record')} dated {first:{minute}}"
            f"{f' to {last:{minute}}' if f'{last:{minute}}' != f'{first:{minute}}' else ''} UTC, the first by {author}"
            for run_id, source, records, first, author, last in runs.iter_rows()]


def unread_note(store_root: Path) -> str | None:
    """What a reader of the annotations says when action files among them cannot be read (their records, an
    exclusion say, are left out: the run was drawn again, unsaid); None when every one is read."""
    _load(store_root)
    with _lock:
        cache = _cache_of(annotations_dir(store_root))
        unread = sum(1 for name in cache.pending if not cache.parsed.get(name))
    if not unread:
        return None
    return (f"{counted(unread, 'annotation file')} cannot be read: {'its' if unread == 1 else 'their'} records are "
            "left out (`labtui validate` names the files)")


def unreadable_actions(store_root: Path) -> list[str]:
    """Action files that cannot be parsed (their records are ignored), and a snapshot that cannot be read."""
    root = annotations_dir(store_root)
    folder = root / ACTIONS_DIR
    with _lock:
        cache = _cache_of(root)
        _pending(root, cache)
        damaged = [f"{root / SNAPSHOT} (a copy of the action files: the next annotation rewrites it)"] \
            if cache.snapshot_damaged else []
    if not folder.is_dir():
        return damaged
    names = sorted(n for n in os.listdir(folder) if n.endswith(".json") and not n.startswith("."))
    return [*damaged, *(str(folder / name) for name in names if not read_action(folder / name))]

