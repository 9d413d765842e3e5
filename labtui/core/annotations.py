"""Annotations: star, exclude (with a reason), tag and note runs, kept apart from the data in `<store>/_annotations/`.

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
import threading
import time
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from labtui.core.atomic import atomic_write, atomic_write_bytes, read_parquet_pinned
from labtui.core.errors import OperationFailed, UsageError

ANNOTATIONS_DIR = "_annotations"
ACTIONS_DIR = "actions"
SNAPSHOT = "log.parquet"
COMPACT_AFTER = 64  # actions outside the snapshot before a writer compacts them into it
ANNOTATION_COLUMNS = ("starred", "excluded", "exclude_reason", "tags", "note")
KINDS = ("star", "unstar", "exclude", "include", "tag", "untag", "note")
_NEEDS_VALUE = {"exclude", "tag", "untag", "note"}
_PAIRS = {"star": "starred", "unstar": "starred", "exclude": "excluded", "include": "excluded"}
RACY_SECONDS = 0.05  # a folder modified this recently may change again within the same mtime tick

_UTC = pl.Datetime("us", "UTC")
LOG_SCHEMA: dict[str, pl.DataType] = {
    "action": pl.String(), "index": pl.Int32(), "run_id": pl.String(), "source_file": pl.String(), "kind": pl.String(),
    "value": pl.String(), "author": pl.String(), "time_utc": _UTC,
}
CURRENT_SCHEMA: dict[str, pl.DataType] = {
    "run_id": pl.String(), "starred": pl.Boolean(), "excluded": pl.Boolean(), "exclude_reason": pl.String(),
    "tags": pl.List(pl.String()), "note": pl.String(),
}
LOG_ORDER = ("time_utc", "action", "index")
TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"  # UTC, microseconds: the records' time as written in the action files


class AnnotationError(UsageError):
    """An annotation that cannot be right: an empty reason, a tag with a `;`, an unknown kind."""


@dataclass(frozen=True)
class Change:
    """One thing done to a run: `Change("tag", "hBN batch 2")`, `Change("star")`, `Change("note", "")` (clear)."""

    kind: str
    value: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise AnnotationError(f"unknown annotation {self.kind!r} (known: {', '.join(KINDS)})")
        if self.kind not in _NEEDS_VALUE:
            object.__setattr__(self, "value", None)
            return
        value = (self.value or "").strip()
        if self.kind == "exclude" and not value:
            raise AnnotationError("say why the run is excluded (e.g. \"contact lost at 40 s\")")
        if self.kind in ("tag", "untag") and (not value or ";" in value or "\n" in value):
            raise AnnotationError(f"a tag is one line of text without ';' (got {self.value!r})")
        object.__setattr__(self, "value", value)

    def describe(self) -> str:
        """What the change did, as a history line says it: `excluded: contact lost`, `tagged “455 nm”`."""
        match self.kind:
            case "exclude":
                return f"excluded: {self.value}"
            case "include":
                return "included again"
            case "tag" | "untag":
                return f"{self.kind}ged “{self.value}”"
            case "note":
                return f"note: {self.value}" if self.value else "note cleared"
            case _:
                return f"{self.kind}red"


@dataclass(frozen=True)
class Action:
    """What one `annotate` call wrote: its id (to undo it), the runs and the changes."""

    id: str
    run_ids: tuple[str, ...]
    changes: tuple[Change, ...]

    def describe(self) -> str:
        return ", ".join(change.describe() for change in self.changes)


def annotations_dir(store_root: Path) -> Path:
    return Path(store_root) / ANNOTATIONS_DIR


def default_author(user: str | None = None) -> str:
    """The config's `user:` when set, else the OS user."""
    if user:
        return user
    try:
        return getpass.getuser()
    except (OSError, KeyError):  # no login name and no passwd entry (some containers)
        return "unknown"


# -- writing -----------------------------------------------------------------------------------------------------
def annotate(store_root: Path, runs: pl.DataFrame, changes: Sequence[Change], *, author: str) -> Action:
    """Record `changes` for every run of `runs` (columns run_id, source_file) as one action; takes no lock.

    `source_file` travels with each record so that `validate` can re-attach it when the file is re-staged under a
    new run_id.
    """
    if not changes:
        raise AnnotationError("nothing to do: give at least one annotation")
    pairs = list(dict.fromkeys(runs.select("run_id", "source_file").iter_rows()))
    if not pairs:
        raise AnnotationError("no run to annotate")
    return _write(store_root, [(run_id, source, change) for run_id, source in pairs for change in changes],
                  author=author)


def _write(
    store_root: Path, records: list[tuple[str, str, Change]], *, author: str, at: dt.datetime | None = None
) -> Action:
    """One action file holding `records`, written whole under a unique name; then compact if many are pending.

    `at` (default now) lets re-attached copies keep their original time, so newer annotations still win.
    """
    now = (at or dt.datetime.now(dt.UTC)).astimezone(dt.UTC)
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


def _compact_if_due(store_root: Path) -> None:
    """Compact once COMPACT_AFTER actions are pending; counted from this process's last listing plus its own writes
    since, so an annotation does not pay for listing a folder of 10k files (other writers count their own)."""
    root = annotations_dir(store_root)
    with _lock:
        cache = _cache_of(root)
        cache.written += 1
        if cache.pending_of is not None and len(cache.pending) + cache.written < COMPACT_AFTER:
            return
        _, pending = _pending(root, cache)
    if len(pending) >= COMPACT_AFTER:
        log = _load(store_root)
        with contextlib.suppress(OSError):  # only a cache: the actions are written, the next writer compacts
            atomic_write(root / SNAPSHOT, lambda handle: log.write_parquet(handle), durable=False)


def undo(store_root: Path, action_id: str, *, author: str) -> Action | None:
    """Undo an action by writing a new one that puts back what it changed (nothing is deleted); None if unknown."""
    log = read_log(store_root).with_row_index("_at")
    done = log.filter(pl.col("action") == action_id)
    if done.is_empty():
        return None
    state = {row["run_id"]: row for row in current_view(log.head(done["_at"].min())).iter_rows(named=True)}  # type: ignore[arg-type]
    restore: dict[tuple[str, str], tuple[str, str, Change]] = {}  # (run_id, what) → the record that restores it
    for run_id, source, kind, value in done.select("run_id", "source_file", "kind", "value").iter_rows():
        was = state.get(run_id, {})
        if kind in ("star", "unstar"):
            what, change = "star", Change("star" if was.get("starred") else "unstar")
        elif kind in ("exclude", "include"):
            what = "exclude"
            change = Change("exclude", was["exclude_reason"]) if was.get("excluded") else Change("include")
        elif kind in ("tag", "untag"):
            what, change = f"tag {value}", Change("tag" if value in (was.get("tags") or []) else "untag", value)
        else:
            what, change = "note", Change("note", was.get("note") or "")
        restore[(run_id, what)] = (run_id, source, change)
    return _write(store_root, list(restore.values()), author=author)


# -- reading -----------------------------------------------------------------------------------------------------
@dataclass
class _Cache:
    """What one process last read of one store's log; each part is re-read only when its file or folder changed."""

    snapshot_key: tuple[int, int, int] | None = None
    snapshot: pl.DataFrame = field(default_factory=lambda: _empty_log())
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
    current_of: pl.DataFrame | None = None  # the log `current` was computed from
    current: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=CURRENT_SCHEMA))


_caches: dict[Path, _Cache] = {}
_lock = threading.Lock()


def _cache_of(root: Path) -> _Cache:
    key = root.resolve()
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


def _read_action(path: Path) -> list[dict[str, Any]]:
    """The records of one action file; an unreadable one (hand-edited, truncated copy) counts as empty here and is
    reported by `unreadable_actions`."""
    try:
        document = json.loads(path.read_bytes())
        action = document["action"]
        records = [{**record, "action": action, "index": i} for i, record in enumerate(document["records"])]
        for record in records:
            Change(record["kind"], record["value"])
            dt.datetime.strptime(record["time_utc"], TIME_FORMAT)
            if not (isinstance(record["run_id"], str) and isinstance(record["author"], str)):
                raise TypeError(record)
        return records
    except (OSError, ValueError, KeyError, TypeError, UsageError):
        return []


def _pending(root: Path, cache: _Cache) -> tuple[tuple[str, ...], list[str]]:
    """Every action file's name, and those the snapshot does not hold yet (call with `_lock` held)."""
    snapshot_key = _stat_key(root / SNAPSHOT)
    if snapshot_key != cache.snapshot_key:
        try:
            snapshot = read_parquet_pinned(root / SNAPSHOT) if snapshot_key else _empty_log()
        except FileNotFoundError:
            snapshot, snapshot_key = _empty_log(), None
        cache.snapshot_key, cache.snapshot = snapshot_key, snapshot.cast(LOG_SCHEMA)  # type: ignore[arg-type]
        cache.snapshot_actions = frozenset(snapshot["action"].unique().to_list())
        cache.pending_of = cache.log_key = None
    names = _list_actions(root / ACTIONS_DIR, cache)
    if names is not cache.pending_of:
        cache.pending_of = names
        cache.pending = [name for name in names if name[:-5] not in cache.snapshot_actions]
    return names, cache.pending


def _load(store_root: Path) -> pl.DataFrame:
    """The whole log in order: the snapshot plus the action files it does not hold yet."""
    root = annotations_dir(store_root)
    with _lock:
        cache = _cache_of(root)
        names, pending = _pending(root, cache)
        if names is not cache.log_key:
            cache.parsed = {name: cache.parsed.get(name) or _read_action(root / ACTIONS_DIR / name) for name in pending}
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
        return cache.log


def _empty_log() -> pl.DataFrame:
    return pl.DataFrame(schema=LOG_SCHEMA)


def read_log(store_root: Path) -> pl.DataFrame:
    """Every annotation record ever written, oldest first."""
    return _load(store_root)


def annotation_log(store_root: Path, run_id: str) -> pl.DataFrame:
    """One run's annotation history, oldest first: time_utc, author, kind, value."""
    return read_log(store_root).filter(pl.col("run_id") == run_id).select("time_utc", "author", "kind", "value")


def current_annotations(store_root: Path) -> pl.DataFrame:
    """One row per annotated run: run_id, starred, excluded, exclude_reason, tags (oldest first), note."""
    log = _load(store_root)
    cache = _cache_of(annotations_dir(store_root))
    with _lock:
        if cache.current_of is not log:
            cache.current_of, cache.current = log, current_view(log)
        return cache.current


def current_view(log: pl.DataFrame) -> pl.DataFrame:
    """The last word of each pair per run; runs whose annotations were all taken back have no row."""
    ordered = log.sort(LOG_ORDER)
    last = (
        ordered.filter(pl.col("kind").is_in(list(_PAIRS)))
        .with_columns(field=pl.col("kind").replace_strict(_PAIRS))
        .group_by("run_id", "field", maintain_order=True)
        .agg(pl.col("kind").last(), pl.col("value").last())
    )
    starred = last.filter(pl.col("field") == "starred").select("run_id", starred=pl.col("kind") == "star")
    excluded = last.filter(pl.col("field") == "excluded").select(
        "run_id",
        excluded=pl.col("kind") == "exclude",
        exclude_reason=pl.when(pl.col("kind") == "exclude").then(pl.col("value")),
    )
    tags = (
        ordered.filter(pl.col("kind").is_in(["tag", "untag"]))
        .group_by("run_id", "value", maintain_order=True)
        .agg(pl.col("kind").last(), first=pl.col("time_utc").filter(pl.col("kind") == "tag").first())
        .filter(pl.col("kind") == "tag")
        .sort("first")
        .group_by("run_id", maintain_order=True)
        .agg(tags=pl.col("value"))
    )
    notes = (
        ordered.filter(pl.col("kind") == "note")
        .group_by("run_id", maintain_order=True)
        .agg(note=pl.col("value").last())
        .with_columns(note=pl.when(pl.col("note") != "").then(pl.col("note")))
    )
    current = ordered.select("run_id").unique(maintain_order=True)
    for part in (starred, excluded, tags, notes):
        current = current.join(part, on="run_id", how="left")
    current = _filled(current)
    annotated = pl.col("starred") | pl.col("excluded") | (pl.col("tags").list.len() > 0) | pl.col("note").is_not_null()
    return current.filter(annotated).select(list(CURRENT_SCHEMA))


def _filled(frame: pl.DataFrame) -> pl.DataFrame:
    """No annotation reads as not starred, not excluded, no tags (an empty list), no note."""
    return frame.with_columns(
        pl.col("starred").fill_null(False),
        pl.col("excluded").fill_null(False),
        pl.col("tags").fill_null(pl.lit([], dtype=pl.List(pl.String))),
    )


def with_annotations(runs: pl.DataFrame, annotations: pl.DataFrame) -> pl.DataFrame:
    """`runs` (any frame with run_id) plus the five annotation columns, filled for runs without annotations."""
    joined = runs.drop([c for c in ANNOTATION_COLUMNS if c in runs.columns]).join(
        annotations.select("run_id", *ANNOTATION_COLUMNS).cast(CURRENT_SCHEMA),  # type: ignore[arg-type]
        on="run_id", how="left", maintain_order="left",
    )
    return _filled(joined)


def annotate_runs(store_root: Path, runs: pl.DataFrame) -> pl.DataFrame:
    """`runs` with the store's current annotations joined on: what histories and the Python API return."""
    return with_annotations(runs, current_annotations(store_root))


# -- filtering ---------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class AnnotationFilter:
    """Rows by annotation; excluded runs are left out unless `include_excluded` (and the caller says so)."""

    starred: bool = False
    tag: str | None = None
    include_excluded: bool = False

    def expression(self) -> pl.Expr:
        conditions = [pl.lit(True)]
        if self.starred:
            conditions.append(pl.col("starred"))
        if self.tag:
            conditions.append(pl.col("tags").list.contains(self.tag.strip()))
        if not self.include_excluded:
            conditions.append(~pl.col("excluded"))
        return pl.all_horizontal(conditions)

    def apply(self, runs: pl.DataFrame) -> tuple[pl.DataFrame, int]:
        """The rows kept, and how many excluded runs that would otherwise match were hidden."""
        kept = runs.filter(self.expression())
        if self.include_excluded:
            return kept, 0
        matching = AnnotationFilter(self.starred, self.tag, include_excluded=True).expression()
        return kept, runs.filter(matching & pl.col("excluded")).height


def hidden_note(count: int) -> str:
    """The line every view prints when it leaves excluded runs out."""
    return f"{count} excluded run{'s' if count != 1 else ''} hidden" if count else ""


# -- display and health ------------------------------------------------------------------------------------------
def log_lines(log: pl.DataFrame, tz: str) -> list[str]:
    """`2025-10-14 13:05:22  alice  excluded: contact lost` per record, in the lab's time zone."""
    local = log.with_columns(when=pl.col("time_utc").dt.convert_time_zone(tz).dt.strftime("%Y-%m-%d %H:%M:%S"))
    return [f"{when}  {author}  {Change(kind, value).describe()}"
            for when, author, kind, value in local.select("when", "author", "kind", "value").iter_rows()]


@dataclass(frozen=True)
class Orphans:
    """Annotated runs the manifest no longer holds; `reattachable` maps old run_id → the run now staged from the
    same raw file (its start time changed, so its run_id did)."""

    run_ids: tuple[str, ...]
    sources: dict[str, str]
    reattachable: dict[str, str]


def orphans(store_root: Path, manifest: pl.DataFrame) -> Orphans:
    current = current_annotations(store_root)
    gone = current.filter(~pl.col("run_id").is_in(manifest["run_id"].implode()))["run_id"].to_list()
    log = read_log(store_root).filter(pl.col("run_id").is_in(gone))
    sources = dict(log.group_by("run_id").agg(pl.col("source_file").last()).iter_rows())
    staged = dict(manifest.select("source_file", "run_id").iter_rows())
    reattachable = {old: staged[sources[old]] for old in gone if sources.get(old) in staged}
    return Orphans(tuple(gone), sources, reattachable)


def reattach(store_root: Path, manifest: pl.DataFrame, *, author: str) -> list[tuple[str, str]]:
    """Move the annotations of re-staged runs to their new run_id: the old records are copied with their original
    author and time (so newer annotations of the new run still win), then the old run's are taken back."""
    found = orphans(store_root, manifest)
    log = read_log(store_root)
    for old, new in found.reattachable.items():
        source = found.sources[old]
        records = log.filter(pl.col("run_id") == old)
        for (when, who), group in records.group_by("time_utc", "author", maintain_order=True):
            copies = [(new, source, Change(kind, value)) for kind, value in group.select("kind", "value").iter_rows()]
            _write(store_root, copies, author=str(who), at=when)
        tags = current_view(records)["tags"].explode().drop_nulls().to_list()
        clear = [Change("unstar"), Change("include"), Change("note", ""), *(Change("untag", tag) for tag in tags)]
        _write(store_root, [(old, source, change) for change in clear], author=author)
    return list(found.reattachable.items())


def unreadable_actions(store_root: Path) -> list[str]:
    """Action files that cannot be parsed (their records are ignored)."""
    folder = annotations_dir(store_root) / ACTIONS_DIR
    if not folder.is_dir():
        return []
    names = sorted(n for n in os.listdir(folder) if n.endswith(".json") and not n.startswith("."))
    return [str(folder / name) for name in names if not _read_action(folder / name)]


def summary(row: dict[str, Any]) -> str:
    """`★ ⊘ contact lost # 455 nm, hBN ✎ note` — the marks of one annotated row, for listings."""
    parts: Iterable[str] = (
        "★" if row.get("starred") else "",
        f"⊘ {row['exclude_reason']}" if row.get("excluded") else "",
        "# " + ", ".join(row["tags"]) if row.get("tags") else "",
        f"✎ {row['note']}" if row.get("note") else "",
    )
    return "  ".join(part for part in parts if part)
