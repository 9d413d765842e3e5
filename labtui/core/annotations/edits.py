"""Annotations written from what the log says: an annotation of the runs it changes, undoing an action, and moving
the annotations of re-staged runs."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import polars as pl

from labtui.core.annotations.log import (
    EXCLUSION_KINDS,
    Action,
    AnnotationError,
    Change,
    check_length,
    read_log,
    write_action,
)
from labtui.core.annotations.views import altered, current_annotations, current_view, with_annotations

_TICK = dt.timedelta(microseconds=1)  # the log's resolution


def annotate(store_root: Path, runs: pl.DataFrame, changes: Sequence[Change], *, author: str) -> Action | None:
    """Record `changes` on the runs of `runs` (columns run_id, source_file) they alter, as one action; None when
    they alter none. Starring a starred run is no change: a record of it would say, in the run's log, that something
    happened (`--untag zz` on 21 runs wrote 21 removals for the one that had it). Takes no lock.

    `source_file` travels with each record so that `validate` can re-attach it when the file is re-staged under a
    new run_id.
    """
    if not changes:
        raise AnnotationError("nothing to do: give at least one annotation")
    for change in changes:
        check_length(change)
    pairs = runs.select("run_id", "source_file").unique(maintain_order=True)
    if pairs.is_empty():
        raise AnnotationError("no run to annotate")
    marked = with_annotations(pairs, current_annotations(store_root))
    records = [(run_id, source, change) for change in changes  # in the order given: `describe` says them so
               for run_id, source in marked.filter(altered(change, marked)).select(pairs.columns).iter_rows()]
    return write_action(store_root, records, author=author) if records else None


@dataclass(frozen=True)
class Undone:
    """What `undo` did: the action that put annotations back (None when none was left to put back), and who changed
    the annotations it left alone (`undo`)."""

    action: Action | None
    kept: int = 0  # a run's annotation (its star, exclusion, a tag or its note) changed again since the undone action
    kept_by: tuple[str, ...] = ()  # the authors of those later changes

    def describe(self) -> str:
        """`; 1 run's annotation left as bo changed it since`, or nothing when every change was put back."""
        if not self.kept:
            return ""
        whose = "annotation" if self.kept == 1 else "annotations"
        return f"; {self.kept} {whose} left as {', '.join(self.kept_by)} changed it since"


def undo(store_root: Path, action_id: str, *, author: str, manifest: pl.DataFrame | None = None) -> Undone | None:
    """Undo an action by writing a new one that puts back what it changed (nothing is deleted); None if unknown.

    A run's annotation that is no longer as the action left it (a colleague's exclusion since, from another
    process) is left as it is now: putting back the state before the action erased the later one without a word.

    With the `manifest`, a run re-staged since under a new run_id (its annotations re-attached there) is put back
    under that one: its old run_id is no run any more. Not re-attached yet, they are put back where they are, and
    re-attaching moves them."""
    log = read_log(store_root).with_row_index("_at")
    done = log.filter(pl.col("action") == action_id)
    if done.is_empty():
        return None
    first, last = cast(int, done["_at"].min()), cast(int, done["_at"].max())
    before, after, current = ({row["run_id"]: row for row in current_view(records).iter_rows(named=True)}
                              for records in (log.head(first), log.head(last + 1), log))
    now = staged_as(manifest) if manifest is not None else {}
    restore: dict[tuple[str, str], tuple[str, str, Change]] = {}  # (run_id, what) → the record that restores it
    kept: dict[tuple[str, str], str] = {}  # (run_id, what) → who changed it since
    for run_id, source, kind, value in done.select("run_id", "source_file", "kind", "value").iter_rows():
        was, target, what = before.get(run_id, {}), now.get(source, run_id), _annotation(kind, value)
        if target not in current:  # re-staged, its annotations not re-attached yet (`validate --fix`): still here
            target = run_id
        if _state(after.get(run_id, {}), what) != _state(current.get(target, {}), what):
            kept[(target, what)] = _last_author(log, last, {run_id, target}, what)
            continue
        if what == "star":
            change = Change("star" if was.get("starred") else "unstar")
        elif what == "exclude":
            change = Change("exclude", was["exclude_reason"]) if was.get("excluded") else Change("include")
        elif kind in ("tag", "untag"):
            change = Change("tag" if value in (was.get("tags") or []) else "untag", value)
        else:
            change = Change("note", was.get("note") or "")
        restore[(target, what)] = (target, source, change)
    action = write_action(store_root, list(restore.values()), author=author) if restore else None
    return Undone(action, len(kept), tuple(sorted(set(kept.values()))))


def _annotation(kind: str, value: str | None) -> str:
    """Which of a run's annotations a record sets: its star, its exclusion, one tag, or its note."""
    if kind in ("star", "unstar"):
        return "star"
    if kind in EXCLUSION_KINDS:
        return "exclude"
    return f"tag {value}" if kind in ("tag", "untag") else "note"


def _state(run: dict[str, Any], what: str) -> object:
    """One annotation of a run (a row of `current_view`; {} for a run without any) as compared by `undo`."""
    if what == "star":
        return bool(run.get("starred"))
    if what == "exclude":
        return (bool(run.get("excluded")), run.get("exclude_reason"))
    if what.startswith("tag "):
        return what.removeprefix("tag ") in (run.get("tags") or [])
    return run.get("note")


def _last_author(log: pl.DataFrame, since: int, run_ids: set[str], what: str) -> str:
    """Who last set annotation `what` of the run (under any of its `run_ids`) after log row `since`."""
    later = log.filter((pl.col("_at") > since) & pl.col("run_id").is_in(list(run_ids)))
    authors = [by for kind, value, by in later.select("kind", "value", "author").iter_rows()
               if _annotation(kind, value) == what]
    return authors[-1] if authors else "someone"


def staged_as(manifest: pl.DataFrame) -> dict[str, str]:
    """Raw file → the run_id it is staged as now: a run re-staged under a new run_id (its start time corrected) is
    found by its file (`history.staged_now` is the same rule for a frame of runs)."""
    return dict(manifest.select("source_file", "run_id").iter_rows())


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
    staged = staged_as(manifest)
    reattachable = {old: staged[sources[old]] for old in gone if sources.get(old) in staged}
    return Orphans(tuple(gone), sources, reattachable)


def reattach(store_root: Path, manifest: pl.DataFrame, *, author: str) -> list[tuple[str, str]]:
    """Move the annotations of re-staged runs to their new run_id: the old records are copied with their original
    author and time (so newer annotations of the new run still win), then the old run's are taken back.

    A new run_id can have had a life before (a start time corrected, then put back): its records from then end with
    those that took its annotations back when they moved away. Copies older than those follow them by a tick each,
    order kept; what was written on the new run_id since it was staged again (in the app, with `labtui annotate`)
    stays newer than every copy."""
    found = orphans(store_root, manifest)
    log = read_log(store_root)
    staged_at = dict(manifest.select("run_id", "ingested_at_utc").iter_rows())
    for old, new in found.reattachable.items():
        source = found.sources[old]
        records = log.filter(pl.col("run_id") == old)
        # its earlier life ended before it was staged again: a clearing written since is the lab's, not a move's
        taken_back = _taken_back(log.filter((pl.col("run_id") == new) & (pl.col("time_utc") < staged_at[new])))
        groups = records.group_by("time_utc", "author", maintain_order=True)  # oldest first: the log is in order
        for index, ((when, who), group) in enumerate(groups):
            changes = group.select("kind", "value").iter_rows()
            copies = [(new, source, Change.read(kind, value)) for kind, value in changes]
            # older than the records that took the new run_id's annotations back: just after them, order kept
            at = cast(dt.datetime, when) if taken_back is None else max(when, taken_back + _TICK * (index + 1))
            write_action(store_root, copies, author=str(who), at=at)
        tags = current_view(records)["tags"].explode().drop_nulls().to_list()
        clear = [Change("unstar"), Change("include"), Change("note", ""), *(Change("untag", tag) for tag in tags)]
        write_action(store_root, [(old, source, change) for change in clear], author=author)
    return list(found.reattachable.items())


def _taken_back(records: pl.DataFrame) -> dt.datetime | None:
    """When a run's annotations were last taken back by a re-attachment that moved them to another run_id (the
    action `reattach` writes: unstar, include and an empty note, with any untags), None if never: the end of the
    run_id's earlier life. Its staging time is no such bound: a re-stage of the same run_id (`stage --force`,
    `validate --fix` re-staging it) moves it past the annotations written since, which the copies
    then overrode. `records` are those older than the run_id's staging: the lab's own unstar, include and cleared
    note in one action (`labtui annotate --unstar --include --clear-note`) reads the same."""
    cleared = records.group_by("action").agg(
        pl.col("time_utc").max(),
        pl.col("kind").is_in(["unstar", "include", "note", "untag"]).all().alias("only_removals"),
        pl.col("kind").is_in(["unstar"]).any().alias("unstar"),
        pl.col("kind").is_in(["include"]).any().alias("include"),
        ((pl.col("kind") == "note") & (pl.col("value").fill_null("") == "")).any().alias("clear_note"),
    ).filter("only_removals", "unstar", "include", "clear_note")
    return cast(dt.datetime | None, cleared["time_utc"].max())


