"""The runs the lab has excluded now, for the metrics (an excluded calibration prices no run), from a digest kept
beside the log: `_annotations/exclusions.json` holds the last exclude/include word of each run and the action files
it has read. Action files are never changed nor deleted, so the words are brought up to date by reading the actions
written since (a few small JSON files) instead of the whole log: in a store of 300 annotation actions, a stage paid
~35 ms to read and fold the log (its Parquet snapshot, the pending actions, a dozen Polars queries) to learn which
runs were excluded.

The digest is a cache, never the authority: one that is missing, damaged, or names an action file that is gone is
rebuilt from the log; an action file that cannot be read (which the log's snapshot may still hold) sends the answer
to the log too, and is read again by the next reader (a copy still being written, another user's file); a digest
that cannot be written (a read-only share) leaves the answer right and the next reader to try.
"""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Any

from labtui.core.annotations.log import (
    ACTIONS_DIR,
    COMPACT_AFTER,
    EXCLUSION_KINDS,
    SNAPSHOT,
    TIME_FORMAT,
    annotations_dir,
    listed_actions,
    read_action,
    read_log_listed,
)
from labtui.core.atomic import atomic_write_bytes
from labtui.core.json_text import parse_json

DIGEST = "exclusions.json"
DIGEST_FORMAT = 1
Word = list[Any]  # [time_utc as written, action, index, kind, reason]: the last of a run's exclude/include records


def excluded_runs(store_root: Path) -> dict[str, str]:
    """run_id → reason of each run the lab has excluded now (the current view's `excluded`, `exclude_reason`)."""
    root = annotations_dir(store_root)
    names = listed_actions(store_root)
    if not names and not (root / SNAPSHOT).exists():  # a store nobody annotated
        return {}
    digest = _read_digest(root / DIGEST)
    covered = set(digest["actions"]) if digest else set()
    new = [name for name in names if name not in covered]
    words = None
    if digest and len(new) <= COMPACT_AFTER and len(covered) + len(new) == len(names):  # none of it gone
        words = _brought_up_to_date(digest["words"], root / ACTIONS_DIR, new)
    if rebuilt := words is None:
        words, names = _from_log(store_root)
    if new or rebuilt:
        document = {"format": DIGEST_FORMAT, "actions": sorted(names), "words": words}
        with contextlib.suppress(OSError):  # only a cache: the next reader builds it again
            atomic_write_bytes(root / DIGEST, json.dumps(document, ensure_ascii=False).encode("utf-8"), durable=False)
    return {run_id: word[4] for run_id, word in words.items() if word[3] == "exclude"}


def _read_digest(path: Path) -> dict[str, Any] | None:
    """The digest, or None when it is missing or not one (damaged, another format, a hand's edit)."""
    try:
        digest = parse_json(path.read_bytes())
    except (OSError, ValueError):
        return None
    if not (isinstance(digest, dict) and digest.get("format") == DIGEST_FORMAT
            and isinstance(actions := digest.get("actions"), list) and isinstance(words := digest.get("words"), dict)
            and all(isinstance(name, str) for name in actions) and all(map(_is_word, words.values()))):
        return None
    return digest


def _is_word(word: object) -> bool:
    return (isinstance(word, list) and len(word) == 5 and isinstance(word[0], str) and isinstance(word[1], str)
            and isinstance(word[2], int) and word[3] in EXCLUSION_KINDS and isinstance(word[4], str | None))


def _brought_up_to_date(words: dict[str, Word], folder: Path, new: list[str]) -> dict[str, Word] | None:
    """The digest's words with the exclude/include records of the action files `new` folded in, the latest word
    of each run winning in the log's order (time, action, index: a re-attached copy keeps its original time); None
    when one of them cannot be read."""
    for name in new:
        records = read_action(folder / name)
        if not records:
            return None
        for record in records:
            if record["kind"] not in EXCLUSION_KINDS:
                continue
            word = [record["time_utc"], record["action"], record["index"], record["kind"], record["value"]]
            last = words.get(record["run_id"])
            if last is None or word[:3] > last[:3]:
                words[record["run_id"]] = word
    return words


def _from_log(store_root: Path) -> tuple[dict[str, Word], tuple[str, ...]]:
    """Each run's last exclude/include word from the whole log, and the action files whose records it holds: not
    one it could not read (cut short by a copy, another user's), which the next reader tries again."""
    import polars as pl

    log, names = read_log_listed(store_root)
    # the log is in order: each run's last record is its last word
    last = log.filter(pl.col("kind").is_in(EXCLUSION_KINDS)).group_by("run_id").agg(pl.all().last())
    words = {run_id: [time.strftime(TIME_FORMAT), action, index, kind, value]
             for run_id, time, action, index, kind, value
             in last.select("run_id", "time_utc", "action", "index", "kind", "value").iter_rows()}
    held = set(log["action"].unique().to_list())
    return words, tuple(name for name in names if name.removesuffix(".json") in held)
