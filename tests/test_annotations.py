"""Annotations: the append-only log and its current view, undo, concurrency with real processes, re-staging,
validation and re-attachment, and the CLI (`annotate`, `history` filters, exports)."""

from __future__ import annotations

import datetime as dt
import json
import os
import random
import shlex
import subprocess
import sys
import time
from pathlib import Path

import polars as pl
import pytest

from labtui.cli import main
from labtui.core.annotations import (
    ACTIONS_DIR,
    ANNOTATION_COLUMNS,
    CURRENT_SCHEMA,
    SNAPSHOT,
    AnnotationError,
    AnnotationFilter,
    Change,
    annotate,
    annotation_log,
    annotations_dir,
    current_annotations,
    exclusions,
    log_lines,
    read_log,
    summary,
    undo,
    with_annotations,
)
from labtui.core.annotations import log as annotation_log_module
from labtui.core.annotations.exclusions import DIGEST, excluded_runs
from labtui.core.annotations.log import COMPACT_AFTER, write_action
from labtui.core.fixes import apply_fixes
from labtui.core.history import history, load_manifest
from labtui.core.lock import WriterLock
from labtui.core.recovery import sweep_store
from labtui.core.validate import validate
from tests.lab import Lab, chip67_lab, cli_env, local

TZ = "America/Santiago"
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def lab(tmp_path: Path) -> Lab:
    return chip67_lab(tmp_path)


def chip(lab: Lab) -> pl.DataFrame:
    return history(lab.manifest(), 67, "Alisson", tz=TZ)


def state(lab: Lab) -> dict[int, dict]:
    """seq → the five annotation columns, for the chip's runs that have any."""
    joined = with_annotations(chip(lab), current_annotations(lab.config.store_root))
    marked = joined.filter(pl.col("starred") | pl.col("excluded") | (pl.col("tags").list.len() > 0)
                           | pl.col("note").is_not_null())
    return {row["seq"]: {name: row[name] for name in ANNOTATION_COLUMNS} for row in marked.iter_rows(named=True)}


def test_edits_and_removals_are_new_records_compacted_into_a_current_view(lab: Lab) -> None:
    store, runs = lab.config.store_root, chip(lab)
    annotate(store, runs[1:3], [Change("star"), Change("tag", "hBN batch 2"), Change("tag", "455 nm")], author="ana")
    annotate(store, runs[2:3], [Change("exclude", "contact lost at 40 s"), Change("note", "re-mounted")], author="bo")
    annotate(store, runs[1:2], [Change("untag", "hBN batch 2"), Change("unstar")], author="ana")
    annotate(store, runs[2:3], [Change("note", "re-mounted twice")], author="bo")
    assert state(lab) == {
        2: {"starred": False, "excluded": False, "exclude_reason": None, "tags": ["455 nm"], "note": None},
        3: {"starred": True, "excluded": True, "exclude_reason": "contact lost at 40 s",
            "tags": ["hBN batch 2", "455 nm"], "note": "re-mounted twice"},
    }
    history_of_3 = annotation_log(store, runs["run_id"][2])
    assert history_of_3["kind"].to_list() == ["star", "tag", "tag", "exclude", "note", "note"]
    assert history_of_3["author"].to_list() == ["ana"] * 3 + ["bo"] * 3
    first = log_lines(history_of_3, TZ)[0]
    when = history_of_3["time_utc"][0].astimezone(local("2025-09-08 00:00").tzinfo)
    assert first == f"{when:%Y-%m-%d %H:%M:%S}  ana  starred"  # shown in the lab's time zone
    assert read_log(store).height == 6 + 2 + 2 + 1  # nothing overwritten


def test_undo_puts_back_the_previous_state_as_new_records(lab: Lab) -> None:
    store, runs = lab.config.store_root, chip(lab)
    annotate(store, runs[:1], [Change("exclude", "noisy"), Change("tag", "keep")], author="ana")
    action = annotate(store, runs[:2], [Change("include"), Change("tag", "keep"), Change("note", "x"),
                                        Change("star")], author="ana")
    before = read_log(store).height
    undone = undo(store, action.id, author="ana")
    assert undone is not None and undone.action is not None and set(undone.action.run_ids) == set(runs["run_id"][:2])
    assert undone.kept == 0 and undone.describe() == ""
    assert state(lab) == {1: {"starred": False, "excluded": True, "exclude_reason": "noisy", "tags": ["keep"],
                              "note": None}}
    assert read_log(store).height > before  # the undo is a new action; the undone one is still in the log
    assert undo(store, "no-such-action", author="ana") is None


def test_undo_leaves_an_annotation_someone_changed_since(lab: Lab) -> None:
    """A colleague re-excluded a run (from the CLI) after ana's exclusion: ana's undo put back the state before hers
    and erased the colleague's without a word. Now that annotation stays as the colleague left it, and it is said;
    the rest of the action (its other run, its tag) is undone."""
    store, runs = lab.config.store_root, chip(lab)
    action = annotate(store, runs[:2], [Change("exclude", "reason A"), Change("tag", "t")], author="ana")
    annotate(store, runs[:1], [Change("include")], author="bo")
    annotate(store, runs[:1], [Change("exclude", "reason B")], author="bo")
    undone = undo(store, action.id, author="ana")
    assert undone is not None and undone.kept == 1 and undone.kept_by == ("bo",)
    assert undone.describe() == "; 1 annotation left as bo changed it since"
    assert state(lab) == {1: {"starred": False, "excluded": True, "exclude_reason": "reason B", "tags": [],
                              "note": None}}
    again = annotate(store, runs[1:2], [Change("star")], author="ana")
    annotate(store, runs[1:2], [Change("unstar")], author="bo")
    everything_changed = undo(store, again.id, author="ana")
    assert everything_changed is not None and everything_changed.action is None and everything_changed.kept == 1


@pytest.mark.parametrize(("kind", "value"), [("exclude", " "), ("tag", "a;b"), ("tag", ""), ("untag", "x\ny"),
                                             ("tag", "cr\rhere"), ("tag", "line\u2028separator"), ("approve", None)])
def test_an_annotation_that_cannot_be_right_is_refused(kind: str, value: str | None) -> None:
    with pytest.raises(AnnotationError):
        Change.read(kind, value)  # as read from a file: the kind is text


@pytest.mark.parametrize(("kind", "column", "limit", "name"), [
    ("exclude", "exclude_reason", 200, "an exclusion reason"), ("tag", "tags", 200, "a tag"),
    ("note", "note", 4000, "a note")])
def test_a_new_annotations_text_has_a_limit_and_listings_keep_it_short(lab: Lab, kind: str, column: str, limit: int,
                                                                      name: str) -> None:
    store, runs = lab.config.store_root, chip(lab)
    too_long = f"^{name} holds at most {limit} characters \\(this one has {limit + 1}\\)"
    with pytest.raises(AnnotationError, match=too_long):
        annotate(store, runs[:1], [Change(kind, "x" * (limit + 1))], author="ana")  # type: ignore[arg-type]
    assert read_log(store).is_empty()
    text = ("a " if kind == "tag" else "a\n") + "x" * (limit - 2)
    annotate(store, runs[:1], [Change(kind, text)], author="ana")  # type: ignore[arg-type]
    row = current_annotations(store).row(0, named=True)
    assert row[column] == ([text] if kind == "tag" else text)  # stored whole
    marks = summary(row)
    assert marks[2:] == "a " + "x" * 37 + "…"  # one line, cut to 40 characters after its mark


def test_a_change_is_said_with_its_control_characters_escaped_and_a_long_note_cut() -> None:
    """`labtui annotate` and the app's toast say the change: an escape sequence pasted into a note coloured the
    terminal, and a pasted page filled it. The note is stored whole."""
    note = "\x1b[31mred\nnext" + "x" * 300
    assert Change("note", note).describe() == "note “\\x1b[31mred\\nnext" + "x" * 187 + "… (313 characters)”"
    assert Change("tag", "t\x07ag").describe() == "tagged “t\\x07ag”"


def test_annotations_live_apart_and_survive_a_forced_restage(lab: Lab) -> None:
    store, runs = lab.config.store_root, chip(lab)
    annotate(store, runs, [Change("star")], author="ana")
    manifest_before = lab.manifest()
    lab.stage(force=True)
    sweep_store(lab.config)  # what a writer does after a crash: it must not take annotations for leftovers
    assert len(state(lab)) == runs.height
    assert not set(ANNOTATION_COLUMNS) & set(lab.manifest().columns)
    assert lab.manifest()["run_id"].to_list() == manifest_before["run_id"].to_list()
    assert sorted(path.name for path in annotations_dir(store).iterdir()) == [ACTIONS_DIR, DIGEST]


def test_annotating_does_not_wait_for_a_running_stage(lab: Lab) -> None:
    with WriterLock(lab.config.lock_path) as lock:
        assert lock is not None
        started = time.perf_counter()
        annotate(lab.config.store_root, chip(lab)[:1], [Change("star")], author="ana")
        assert time.perf_counter() - started < 1.0  # it never touched the lock (a wait would be 180 s)
    assert state(lab)[1]["starred"]


WRITER = """
import sys, polars as pl
from pathlib import Path
from labtui.core.annotations import Change, annotate
store, who = Path(sys.argv[1]), sys.argv[2]
runs = pl.DataFrame({"run_id": ["0123456789abcdef"], "source_file": ["a.csv"]})
for i in range(100):
    annotate(store, runs, [Change("tag", f"{who} {i}")], author=who)
"""


def test_two_processes_annotating_at_once_lose_nothing(tmp_path: Path) -> None:
    """Each writer compacts when 64 actions are pending, so compactions race with writes and with each other."""
    env = {"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}
    writers = [subprocess.Popen([sys.executable, "-c", WRITER, str(tmp_path), who], env=env) for who in ("ana", "bo")]
    assert [writer.wait(timeout=120) for writer in writers] == [0, 0]
    log = read_log(tmp_path)
    assert log.height == 200 and log["action"].n_unique() == 200
    assert len(current_annotations(tmp_path)["tags"][0]) == 200
    assert (annotations_dir(tmp_path) / SNAPSHOT).exists()  # compacted at least once
    compacted = pl.read_parquet(annotations_dir(tmp_path) / SNAPSHOT)
    assert compacted.height >= COMPACT_AFTER


def test_compaction_keeps_every_action_and_readers_combine_it_with_newer_files(tmp_path: Path) -> None:
    runs = pl.DataFrame({"run_id": ["0123456789abcdef"], "source_file": ["a.csv"]})
    for i in range(COMPACT_AFTER + 1):
        annotate(tmp_path, runs, [Change("tag", f"t{i}")], author="ana")
    snapshot = pl.read_parquet(annotations_dir(tmp_path) / SNAPSHOT)
    assert snapshot.height == COMPACT_AFTER  # compacted when the 64th action was written
    assert len(list((annotations_dir(tmp_path) / ACTIONS_DIR).iterdir())) == COMPACT_AFTER + 1  # none deleted
    assert len(current_annotations(tmp_path)["tags"][0]) == COMPACT_AFTER + 1


def test_compaction_removes_the_temp_files_of_killed_writers(tmp_path: Path) -> None:
    """A kill -9 of `labtui annotate` (or of a compaction) between its write and its rename left a hidden temp file
    for good; a compaction removes those older than any write takes, never a writer's at work."""
    runs = pl.DataFrame({"run_id": ["0123456789abcdef"], "source_file": ["a.csv"]})
    annotate(tmp_path, runs, [Change("tag", "t")], author="ana")
    actions = annotations_dir(tmp_path) / ACTIONS_DIR
    killed = [actions / ".20251014T130522000000Z-0a1b2c3d4e5f.json.1a2b3c4d5e6f.tmp",
              annotations_dir(tmp_path) / f".{SNAPSHOT}.6f5e4d3c2b1a.tmp"]
    at_work = actions / ".20251014T130523000000Z-0a1b2c3d4e5f.json.abcdefabcdef.tmp"
    for path in (*killed, at_work):
        path.write_bytes(b"{")
    for path in killed:
        os.utime(path, (time.time() - 3600, time.time() - 3600))
    for i in range(COMPACT_AFTER):
        annotate(tmp_path, runs, [Change("tag", f"t{i}")], author="ana")
    assert (annotations_dir(tmp_path) / SNAPSHOT).exists()  # compacted
    assert [path.exists() for path in (*killed, at_work)] == [False, False, True]


@pytest.mark.parametrize("damage", [b"", b"PAR1 cut", b"not parquet at all"])
def test_a_damaged_snapshot_is_ignored_said_and_rewritten(lab: Lab, capsys, damage: bytes) -> None:
    """The snapshot is written without fsync (a cache): a power cut can leave it empty or cut. It made `history`,
    `validate`, `metrics` and `annotate` exit with a Polars traceback, and nothing rewrote it."""
    store, runs = lab.config.store_root, chip(lab)
    for i in range(2):
        annotate(store, runs[:1], [Change("tag", f"t{i}")], author="ana")
    snapshot = annotations_dir(store) / SNAPSHOT
    snapshot.write_bytes(damage)
    assert len(current_annotations(store)["tags"][0]) == 2  # every record is in its action file
    assert main(lab.args("history", "67", "--group", "Alisson")) == 0
    finding = next(f for f in validate(lab.config).findings if f.code == "annotations_unreadable")
    assert finding.items == [f"{snapshot} (a copy of the action files: the next annotation rewrites it)"]
    assert main(lab.args("annotate", "67", "--group", "Alisson", "--seq", "1", "--star")) == 0
    assert pl.read_parquet(snapshot).height == 3  # rewritten by the next writer, though few actions were pending
    assert not [f for f in validate(lab.config).findings if f.code == "annotations_unreadable"]


def test_a_reader_sees_each_new_action_at_once(lab: Lab) -> None:
    """Actions written in the same file-system clock tick leave the folder's mtime unchanged: the listing cache
    must not trust a folder modified that recently."""
    store, runs = lab.config.store_root, chip(lab)
    for count in range(1, 21):
        annotate(store, runs[:1], [Change("tag", f"t{count}")], author="ana")
        assert len(current_annotations(store)["tags"][0]) == count


def test_a_damaged_action_file_is_ignored_and_reported(lab: Lab, capsys) -> None:
    store = lab.config.store_root
    action = annotate(store, chip(lab)[:1], [Change("star")], author="ana")
    actions = annotations_dir(store) / ACTIONS_DIR
    (actions / "20250101T000000000000Z-broken.json").write_text('{"action": "x", "rec')
    written = json.loads((actions / f"{action.id}.json").read_text())
    for name, value in (("number", 5), ("list", ["a"])):  # valid JSON of another shape (hand-edited)
        record = {**written["records"][0], "kind": "tag", "value": value}
        (actions / f"20250101T000000000001Z-{name}.json").write_text(json.dumps({**written, "records": [record]}))
    os.mkfifo(actions / "20250101T000000000002Z-fifo.json")  # hung every command that read the annotations
    assert state(lab)[1]["starred"]
    edited = {**written, "records": [{**written["records"][0], "kind": "tag", "value": "x", "time_utc":
                                      "2030-01-01T00:00:30.5Z"}]}  # a hand's time: fewer digits, still a time
    (actions / "20300101T000030500000Z-short.json").write_text(json.dumps(edited))
    assert state(lab)[1]["tags"] == ["x"]
    finding = next(f for f in validate(lab.config).findings if f.code == "annotations_unreadable")
    assert sorted(item.rsplit("-", 1)[-1] for item in finding.items) == ["broken.json", "fifo.json", "list.json",
                                                                        "number.json"]
    # and a reader says so (an exclusion in one was gone, the run drawn again and `--include` "already as asked")
    said = "labtui: 4 annotation files cannot be read: their records are left out (`labtui validate` names the files)"
    # metrics, plot and export listed, drew and exported such a run too, without a word
    figure = lab.root / "figure.svg"
    for command in (("history", "Alisson67"), ("annotate", "Alisson67", "--seq", "1", "--star"),
                    ("metrics", "Alisson67"), ("plot", "Alisson67", "--seq", "1", "--out", str(figure)),
                    ("export", "histories", "--out", str(lab.root / "histories"))):
        assert main(lab.args(*command)) == 0, command
        assert said in capsys.readouterr().err.splitlines(), command


def excluded_now(store: Path) -> dict[str, str]:
    """The reference: the runs the whole log's current view says are excluded, with their reasons."""
    view = current_annotations(store).filter(pl.col("excluded"))
    return dict(view.select("run_id", "exclude_reason").iter_rows())


def test_the_exclusions_digest_follows_each_new_action_as_the_whole_log_does(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Once built, the digest is brought up to date from the new action files alone (the log is not read again),
    the latest word of a run winning in the log's order: a copy written with an older time (as `reattach` writes)
    loses to a newer word already in the digest."""
    runs = pl.DataFrame({"run_id": [f"{i:016x}" for i in range(4)], "source_file": [f"d/{i}.csv" for i in range(4)]})
    annotate(tmp_path, runs[:2], [Change("exclude", "sensor moved")], author="ana")
    assert excluded_runs(tmp_path) == excluded_now(tmp_path) == dict.fromkeys(runs["run_id"][:2], "sensor moved")
    monkeypatch.setattr(exclusions, "_from_log", None)  # from here on, a read of the whole log fails the test
    rng = random.Random(7)
    changes = [Change("exclude", "bad contact"), Change("exclude", "noisy"), Change("include"), Change("star")]
    for step in range(40):
        picked = runs.sample(rng.randint(1, 3), seed=step)
        if step % 5 == 4:  # an old word, copied late: it must not win over newer ones
            old = dt.datetime(2020, 1, 1, tzinfo=dt.UTC) + dt.timedelta(seconds=step)
            write_action(tmp_path, [(run_id, source, rng.choice(changes)) for run_id, source in picked.iter_rows()],
                         author="bo", at=old)
        else:
            annotate(tmp_path, picked, [rng.choice(changes)], author="ana")
        assert excluded_runs(tmp_path) == excluded_now(tmp_path), step
    digest = json.loads((annotations_dir(tmp_path) / DIGEST).read_text())
    assert len(digest["actions"]) == len(list((annotations_dir(tmp_path) / ACTIONS_DIR).iterdir()))


def test_a_digest_damaged_behind_or_unwritable_leaves_the_exclusions_right(tmp_path: Path) -> None:
    """The digest is a cache: damaged, naming an action file that is gone, behind by an action that cannot be read
    (whose copy the snapshot may still hold), or impossible to write (here a folder in its place), the answer comes
    from the whole log."""
    runs = pl.DataFrame({"run_id": ["0123456789abcdef", "fedcba9876543210"], "source_file": ["a.csv", "b.csv"]})
    first = annotate(tmp_path, runs[:1], [Change("exclude", "sensor moved")], author="ana")
    annotate(tmp_path, runs[1:], [Change("exclude", "noisy")], author="ana")
    digest, actions = annotations_dir(tmp_path) / DIGEST, annotations_dir(tmp_path) / ACTIONS_DIR
    expected = {"0123456789abcdef": "sensor moved", "fedcba9876543210": "noisy"}
    shapes = ({"r": ["x"]}, {"r": None}, {"r": ["t", "a", "0", "exclude", "x"]})  # a hand's edit, another labtui's
    for damage in (b"", b"{", b'{"format": 99}', b'[1, 2]', *(json.dumps({"format": exclusions.DIGEST_FORMAT,
                   "actions": [], "words": words}).encode() for words in shapes),
                   json.dumps({"format": exclusions.DIGEST_FORMAT, "actions": [[1]], "words": {}}).encode()):
        digest.write_bytes(damage)
        assert excluded_runs(tmp_path) == expected
        assert json.loads(digest.read_text())["format"] == exclusions.DIGEST_FORMAT  # rebuilt
    assert first is not None
    (actions / f"{first.id}.json").unlink()  # by hand: the digest names an action that is gone
    assert excluded_runs(tmp_path) == excluded_now(tmp_path) == {"fedcba9876543210": "noisy"}
    # a copy still being written: nothing of it read, and read once it is whole (it was taken as read for good)
    cut = actions / "20300101T000000000000Z-0a1b2c3d4e5f.json"
    whole = json.dumps({"action": cut.stem, "records": [
        {"run_id": "0123456789abcdef", "source_file": "a.csv", "kind": "exclude", "value": "sensor moved again",
         "author": "bo", "time_utc": "2030-01-01T00:00:00.000000Z"}]})
    cut.write_text(whole[:40])
    assert excluded_runs(tmp_path) == excluded_now(tmp_path) == {"fedcba9876543210": "noisy"}
    cut.write_text(whole)
    annotation_log_module._caches.clear()  # as a new process reads it (one process takes action files as immutable)
    assert excluded_runs(tmp_path) == excluded_now(tmp_path) == {
        "fedcba9876543210": "noisy", "0123456789abcdef": "sensor moved again"}
    digest.unlink()
    digest.mkdir()
    annotate(tmp_path, runs[1:], [Change("include")], author="ana")
    assert excluded_runs(tmp_path) == excluded_now(tmp_path) == {"0123456789abcdef": "sensor moved again"}


def test_validate_reattaches_annotations_when_a_raw_file_is_restaged_under_a_new_run_id(lab: Lab) -> None:
    store, runs = lab.config.store_root, chip(lab)
    moved = "Alisson_08_sept/It2025-09-08_1.csv"
    target = runs.filter(pl.col("source_file") == moved)
    annotate(store, target, [Change("star"), Change("tag", "455 nm"), Change("note", "good one")], author="ana")
    assert validate(lab.config).ok
    lab.write_run(moved, "It", start=local("2025-09-08 09:16"), vg=0.2)  # its start time was corrected: a new run_id
    lab.stage()
    new_id = lab.run_of(moved)["run_id"]
    assert new_id != target["run_id"][0]
    report = validate(lab.config)
    finding = next(f for f in report.findings if f.code == "annotations_reattachable")
    assert finding.fixable and finding.items == [f"{new_id} {moved} (annotated as {target['run_id'][0]})"]
    done = apply_fixes(lab.config, report)
    assert "re-attached the annotations of 1 re-staged run to their new run_id" in done.lines
    now = current_annotations(store).filter(pl.col("run_id") == new_id).row(0, named=True)
    assert (now["starred"], now["tags"], now["note"]) == (True, ["455 nm"], "good one")
    assert set(annotation_log(store, new_id)["author"].to_list()) == {"ana"}  # who annotated, not who fixed
    assert not [f for f in validate(lab.config).findings if f.code.startswith("annotations")]


def test_annotations_come_back_when_a_start_time_is_corrected_and_then_put_back(lab: Lab) -> None:
    """A → B → A, `validate --fix` after each: the second move's copies kept their original time, older than the
    records that took the annotations off A in the first, and every annotation was lost while validate said
    healthy."""
    store, moved = lab.config.store_root, "Alisson_08_sept/It2025-09-08_1.csv"
    first = lab.run_of(moved)
    annotate(store, chip(lab).filter(pl.col("source_file") == moved),
             [Change("star"), Change("tag", "455 nm"), Change("note", "good one")], author="ana")
    for start in (local("2025-09-08 09:16"), first["start_time_utc"]):
        lab.write_run(moved, "It", start=start, vg=0.2)
        lab.stage()
        assert "re-attached the annotations of 1 re-staged run" in " ".join(
            apply_fixes(lab.config, validate(lab.config)).lines)
    assert lab.run_of(moved)["run_id"] == first["run_id"]
    now = current_annotations(store).filter(pl.col("run_id") == first["run_id"]).row(0, named=True)
    assert (now["starred"], now["tags"], now["note"]) == (True, ["455 nm"], "good one")
    annotate(store, chip(lab).filter(pl.col("source_file") == moved), [Change("unstar")], author="ana")
    assert not current_annotations(store).filter(pl.col("run_id") == first["run_id"])["starred"][0]  # newer wins
    assert not [f for f in validate(lab.config).findings if f.code.startswith("annotations")]


def test_annotations_written_on_the_new_run_id_stay_newer_than_the_reattached_ones(lab: Lab) -> None:
    """Its start time corrected, the run is annotated again under its new run_id (in the app, or `labtui annotate`),
    then re-staged under that same run_id (the file touched, `stage --force`) before `validate --fix`: the copies
    were shifted past everything older than that last staging, and the old note and star overrode the new ones."""
    store, moved = lab.config.store_root, "Alisson_08_sept/It2025-09-08_1.csv"
    annotate(store, chip(lab).filter(pl.col("source_file") == moved), [Change("star"), Change("note", "old")],
             author="ana")
    lab.write_run(moved, "It", start=local("2025-09-08 09:16"), vg=0.2)
    lab.stage()
    new_id = lab.run_of(moved)["run_id"]
    annotate(store, chip(lab).filter(pl.col("source_file") == moved), [Change("note", "new"), Change("tag", "t")],
             author="bo")
    time.sleep(0.01)
    lab.write_run(moved, "It", start=local("2025-09-08 09:16"), vg=0.3)  # the same run_id, staged again
    assert lab.stage(only=[lab.raw / moved]).staged == 1  # as `labtui restage` does
    assert lab.run_of(moved)["run_id"] == new_id
    done = apply_fixes(lab.config, validate(lab.config))
    assert "re-attached the annotations of 1 re-staged run to their new run_id" in done.lines
    now = current_annotations(store).filter(pl.col("run_id") == new_id).row(0, named=True)
    assert (now["note"], now["tags"], now["starred"]) == ("new", ["t"], True)  # the star: nothing newer said no
    assert not [f for f in validate(lab.config).findings if f.code.startswith("annotations")]


def test_a_clearing_written_on_the_new_run_id_is_no_earlier_life_of_it(lab: Lab) -> None:
    """Under its new run_id the run is starred, excluded and noted, then all three are taken back at once (`labtui
    annotate --run … --unstar --include --clear-note`): that action reads like the one `validate --fix` writes when
    annotations move away, and the older star, exclusion and note of the old run_id were copied past it."""
    store, moved = lab.config.store_root, "Alisson_08_sept/It2025-09-08_1.csv"
    annotate(store, chip(lab).filter(pl.col("source_file") == moved),
             [Change("star"), Change("exclude", "contact lost"), Change("note", "old")], author="ana")
    lab.write_run(moved, "It", start=local("2025-09-08 09:16"), vg=0.2)  # its start time corrected: a new run_id
    lab.stage()
    new_id = lab.run_of(moved)["run_id"]
    now = chip(lab).filter(pl.col("source_file") == moved)
    annotate(store, now, [Change("star"), Change("exclude", "noisy"), Change("note", "new")], author="bo")
    assert annotate(store, now, [Change("unstar"), Change("include"), Change("note", "")], author="bo") is not None
    done = apply_fixes(lab.config, validate(lab.config))
    assert "re-attached the annotations of 1 re-staged run to their new run_id" in done.lines
    assert current_annotations(store).filter(pl.col("run_id") == new_id).is_empty()  # bo's word is the newest


def test_a_moved_raw_folder_s_note_gives_the_command_that_marks_its_new_runs_alike(
    lab: Lab, capsys: pytest.CaptureFixture[str]
) -> None:
    """A raw folder moved into another (`Alisson_08_sept/` into `2025/`) is staged again under new run_ids, without
    the old runs' annotations, unsaid: the excluded run counted in every mean again, for good after the prune its
    note advises. The note says where they are, and the command that marks the new run alike."""
    store = lab.config.store_root
    runs = chip(lab).filter(pl.col("source_file").str.starts_with("Alisson_08_sept/It"))
    excluded = runs.filter(pl.col("source_file") == "Alisson_08_sept/It2025-09-08_1.csv")
    # text a shell or argparse would change: a tag like an option, a note over two lines
    annotate(store, excluded, [Change("exclude", "contact lost"), Change("star"), Change("tag", "-dash"),
                               Change("tag", "365 nm"), Change("note", "Ana's\nsecond line")], author="ana")
    (lab.raw / "2025").mkdir()
    (lab.raw / "Alisson_08_sept").rename(lab.raw / "2025" / "Alisson_08_sept")
    report = lab.stage()
    moved = lab.run_of("2025/Alisson_08_sept/It2025-09-08_1.csv")["run_id"]
    (note,) = report.warned["2025/Alisson_08_sept/It2025-09-08_1.csv"]
    command = f"labtui annotate --run {moved} --like {excluded['run_id'][0]}"
    assert note.startswith("the content of Alisson_08_sept/It2025-09-08_1.csv, staged and its raw file gone: moved? "
                           "`labtui prune --yes` drops the run of the old path. Its annotations (★  ⊘ contact lost")
    assert note.endswith(f"stay with that run, not on this one: `{command}` marks this one alike")
    assert main(lab.args("prune", "--yes")) == 0  # the old run's annotations stay in the log: --like still finds them
    assert main(lab.args(*shlex.split(command)[1:])) == 0
    assert current_annotations(store).filter(pl.col("run_id") == moved).select(
        "starred", "exclude_reason", "tags", "note").row(0) == (True, "contact lost", ["-dash", "365 nm"],
                                                               "Ana's\nsecond line")
    capsys.readouterr()
    assert main(lab.args("annotate", "--run", moved, "--like", "0123456789")) == 2
    assert "--like 0123456789: no annotated run has that run_id" in capsys.readouterr().err


def test_a_copy_pruned_leaves_its_original_as_it_was(lab: Lab) -> None:
    """A copy staged beside its original, excluded as a duplicate, then deleted: the prune handed its exclusion to
    the original, the one copy of the measurement left, which dropped out of every mean."""
    store, original = lab.config.store_root, "Alisson_08_sept/It2025-09-08_1.csv"
    copy = lab.raw / "copies" / "It2025-09-08_1.csv"
    copy.parent.mkdir()
    copy.write_bytes((lab.raw / original).read_bytes())
    lab.stage()
    annotate(store, lab.manifest().filter(pl.col("source_file") == "copies/It2025-09-08_1.csv"),
             [Change("exclude", "duplicate of the original")], author="ana")
    copy.unlink()
    assert main(lab.args("prune", "--yes")) == 0
    assert lab.run_of(original)["run_id"] not in excluded_runs(store)


def test_annotations_of_a_run_no_longer_staged_are_reported_and_kept(lab: Lab) -> None:
    store = lab.config.store_root
    ghost = pl.DataFrame({"run_id": ["0123456789abcdef"], "source_file": ["gone/It2025-01-01_1.csv"]})
    annotate(store, ghost, [Change("star")], author="ana")
    finding = next(f for f in validate(lab.config).findings if f.code == "annotations_orphaned")
    assert finding.severity == "info" and not finding.fixable
    assert finding.items == ["0123456789abcdef gone/It2025-01-01_1.csv"]


# -- command line ----------------------------------------------------------------------------------------------
def test_cli_annotates_by_seq_or_run_id_in_one_line(lab: Lab, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(lab.args("annotate", "67", "--group", "Alisson", "--seq", "2-3,5", "--tag", "455 nm power series",
                        "--star")) == 0
    assert capsys.readouterr().out == "starred, tagged “455 nm power series”: 3 runs of Alisson67 (seq 2–3, 5)\n"
    run_id = chip(lab)["run_id"][0]
    assert main(lab.args("annotate", "--run", run_id[:8], "--exclude", "contact lost at 40 s")) == 0
    assert capsys.readouterr().out.startswith(f"excluded “contact lost at 40 s”: run {run_id} (")
    assert state(lab)[1]["exclude_reason"] == "contact lost at 40 s"
    assert state(lab)[5]["tags"] == ["455 nm power series"]


@pytest.mark.parametrize(("argv", "message"), [
    (("--seq", "3", "--star"), "say which runs: --run RUN_ID, a chip number with --seq, or --calibrations with --seq"),
    (("67", "--calibrations", "--seq", "1", "--star"), "a chip number and --calibrations both name runs: --run"),
    (("--calibrations", "--star"), "say which runs of the setup's calibrations: --seq 4-7 or --seq 1,3,5"),
    (("--calibrations", "--seq", "9", "--star"), "the setup's calibrations have no run with seq 9 (their seq are 1–1)"),
    (("--calibrations", "--group", "Alisson", "--seq", "1", "--star"), "--group does not apply"),
])
def test_cli_says_which_runs_to_name(lab: Lab, capsys, argv: tuple[str, ...], message: str) -> None:
    """`--seq 3` alone was told "give --run RUN_ID, or a chip number with --seq (not both)": not both of none."""
    assert main(lab.args("annotate", *argv)) == 2
    assert message in capsys.readouterr().err


def test_cli_refuses_to_untag_a_tag_no_run_has(lab: Lab, capsys) -> None:
    """A typo (`455 nm serie`) was "nothing to change: … already as asked": the real tag stayed on, unsaid."""
    seq = ("67", "--group", "Alisson", "--seq", "2-3")
    assert main(lab.args("annotate", *seq, "--tag", "455 nm series")) == 0
    capsys.readouterr()
    assert main(lab.args("annotate", *seq, "--untag", "455 nm serie")) == 2
    assert capsys.readouterr().err == ("labtui: 2 runs of Alisson67 (seq 2–3): no tag '455 nm serie' to remove; did "
                                       "you mean '455 nm series'?\n")
    assert main(lab.args("annotate", *seq, "--tag", "")) == 2
    assert "a tag cannot be empty" in capsys.readouterr().err
    assert main(lab.args("annotate", *seq, "--untag", "455 nm series")) == 0
    assert 2 not in state(lab) and 3 not in state(lab)  # no annotation left


@pytest.mark.parametrize("again", [("--star",), ("--unstar",), ("--include",),
                                   ("--tag", "455 nm"), ("--exclude", "noisy"), ("--note", "re-mounted"),
                                   ("--clear-note",)])
def test_cli_records_nothing_for_what_is_already_so(lab: Lab, capsys, again: tuple[str, ...]) -> None:
    """Starring a starred run, including one never excluded, untagging a tag it lacks: said, nothing written (each
    call wrote a record and said "unstarred" as if it had)."""
    seq = ("67", "--group", "Alisson", "--seq", "2")
    if again[0] in ("--star", "--tag", "--exclude", "--note"):
        assert main(lab.args("annotate", *seq, *again)) == 0
    records = read_log(lab.config.store_root).height if annotations_dir(lab.config.store_root).exists() else 0
    capsys.readouterr()
    assert main(lab.args("annotate", *seq, *again)) == 0
    said = capsys.readouterr().out
    assert said == "nothing to change: 1 run of Alisson67 (seq 2) already as asked (nothing recorded)\n"
    after = read_log(lab.config.store_root).height if annotations_dir(lab.config.store_root).exists() else 0
    assert after == records


def test_an_action_records_only_the_runs_it_changes(lab: Lab, capsys) -> None:
    """`--untag zz` on 3 runs, one of them tagged, wrote 3 removals: each run's log then said it lost a tag it never
    had. Starring runs of which some are starred likewise."""
    seqs = ("67", "--group", "Alisson", "--seq")
    assert main(lab.args("annotate", *seqs, "2", "--tag", "zz", "--star")) == 0
    before = read_log(lab.config.store_root).height
    capsys.readouterr()
    assert main(lab.args("annotate", *seqs, "1-3", "--untag", "zz", "--star")) == 0
    assert capsys.readouterr().out == "starred, untagged “zz”: 3 runs of Alisson67 (seq 1–3)\n"  # each changed
    new = read_log(lab.config.store_root).slice(before)
    seq_of = dict(history(load_manifest(lab.config), 67, "Alisson", tz=lab.config.local_tz)
                  .select("run_id", "seq").iter_rows())
    assert sorted((seq_of[run_id], kind) for run_id, kind in new.select("run_id", "kind").iter_rows()) == [
        (1, "star"), (2, "untag"), (3, "star")]


@pytest.mark.parametrize(("args", "message"), [
    (("67", "--group", "Alisson", "--seq", "9", "--star"), "Alisson67 has no run with seq 9 (its seq are 1–5)"),
    (("67", "--group", "Alisson", "--seq", "1"), "say what to do"),
    (("--run", "abc", "--star"), "too short"),
    (("--star",), "say which runs: --run RUN_ID, a chip number with --seq"),
    # --seq beside --run was dropped: the --run run was tagged, not seq 2
    (("--run", "abcdef12", "--seq", "2", "--star"), "--run names the runs: --seq chooses a chip's runs"),
    (("--run", "abcdef12", "--group", "other", "--star"), "--run names the runs: --group chooses a chip's runs"),
    (("67", "--group", "Alisson", "--seq", "1", "--exclude", ""), "an exclusion needs a reason"),
    (("67", "--group", "Alisson", "--seq", "1", "--tag", "x", "--untag", "x "),
     "--tag and --untag both name 'x': say which"),  # it kept the tag, without a word
])
def test_cli_refuses_what_cannot_be_right(
    lab: Lab, capsys: pytest.CaptureFixture[str], args: tuple[str, ...], message: str
) -> None:
    assert main(lab.args("annotate", *args)) == 2
    assert message in capsys.readouterr().err
    assert not annotations_dir(lab.config.store_root).exists()


def test_history_of_a_tag_no_run_has_names_the_tags_there_are(lab: Lab, capsys: pytest.CaptureFixture[str]) -> None:
    """`--tag 455nm` for "455 nm" printed "0 runs" and nothing else."""
    annotate(lab.config.store_root, chip(lab)[:2], [Change("tag", "455 nm")], author="ana")
    assert main(lab.args("history", "67", "--group", "Alisson", "--tag", "455nm")) == 0
    assert "labtui: no run here is tagged '455nm' (its tags: '455 nm')" in capsys.readouterr().err


def test_history_hides_excluded_runs_says_so_and_filters(lab: Lab, capsys: pytest.CaptureFixture[str]) -> None:
    store, runs = lab.config.store_root, chip(lab)
    annotate(store, runs[:2], [Change("star")], author="ana")
    annotate(store, runs[1:2], [Change("exclude", "bad contact")], author="ana")
    annotate(store, runs[3:4], [Change("tag", "after 365 nm")], author="ana")
    assert main(lab.args("history", "67", "--group", "Alisson")) == 0
    table = capsys.readouterr().out
    assert "5 runs" not in table and "4 runs; 1 excluded run hidden (--include-excluded shows them)" in table
    assert "★" in table and "# after 365 nm" in table
    assert main(lab.args("history", "67", "--group", "Alisson", "--starred", "--format", "json")) == 0
    out = capsys.readouterr()
    assert [row["seq"] for row in json.loads(out.out)] == [1]
    assert "1 excluded run hidden" in out.err
    assert main(lab.args("history", "67", "--group", "Alisson", "--starred", "--include-excluded", "--format",
                        "json")) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [(row["seq"], row["excluded"], row["exclude_reason"]) for row in rows] == [
        (1, False, None), (2, True, "bad contact")]
    assert main(lab.args("history", "67", "--group", "Alisson", "--tag", "after 365 nm", "--format", "csv")) == 0
    assert pl.read_csv(capsys.readouterr().out.encode())["seq"].to_list() == [4]


def test_history_json_and_csv_carry_the_five_columns_for_every_run(lab: Lab, capsys) -> None:
    annotate(lab.config.store_root, chip(lab)[:1], [Change("tag", "a"), Change("tag", "b"), Change("note", "n")],
             author="ana")
    assert main(lab.args("history", "67", "--group", "Alisson", "--format", "json")) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [{name: row[name] for name in ANNOTATION_COLUMNS} for row in rows[:2]] == [
        {"starred": False, "excluded": False, "exclude_reason": None, "tags": ["a", "b"], "note": "n"},
        {"starred": False, "excluded": False, "exclude_reason": None, "tags": [], "note": None},
    ]
    assert main(lab.args("history", "67", "--group", "Alisson", "--format", "csv")) == 0
    csv = pl.read_csv(capsys.readouterr().out.encode(), schema_overrides={"tags": pl.String, "note": pl.String})
    assert csv.select(ANNOTATION_COLUMNS).head(2).rows() == [(False, False, None, "a; b", "n"),
                                                             (False, False, None, None, None)]


def test_export_histories_carries_every_run_and_its_annotations(lab: Lab, capsys) -> None:
    annotate(lab.config.store_root, chip(lab)[:1], [Change("exclude", "bad contact")], author="ana")
    assert main(lab.args("export", "histories")) == 0
    back = pl.read_csv(lab.root / "histories" / "Alisson67_history.csv")
    assert back.height == 5 and back["excluded"].to_list() == [True, False, False, False, False]
    assert back["exclude_reason"][0] == "bad contact"


def test_the_author_is_the_configured_user(lab: Lab, capsys) -> None:
    lab.configure(user="Alisson R.")
    assert main(lab.args("annotate", "67", "--group", "Alisson", "--seq", "1", "--star")) == 0
    assert read_log(lab.config.store_root)["author"].to_list() == ["Alisson R."]


def test_annotation_filter_counts_only_the_hidden_runs_that_would_match() -> None:
    runs = pl.DataFrame({"run_id": ["a", "b", "c"], "source_file": ["a", "b", "c"]})
    current = pl.DataFrame({"run_id": ["a", "b"], "starred": [True, False], "excluded": [True, True],
                            "exclude_reason": ["x", "y"], "tags": [[], []], "note": [None, None]},
                           schema=CURRENT_SCHEMA)
    joined = with_annotations(runs, current)
    kept, hidden = AnnotationFilter(starred=True).apply(joined)
    assert (kept.height, hidden) == (0, 1)
    kept, hidden = AnnotationFilter().apply(joined)
    assert (kept["run_id"].to_list(), hidden) == (["c"], 2)


def test_a_login_name_the_c_locale_cannot_spell_is_kept_as_typed(lab: Lab) -> None:
    """`USER=josé` under LC_ALL=C with UTF-8 mode off reached the log as surrogate escapes: `annotate` was a
    traceback."""
    env = {**cli_env(), "LC_ALL": "C", "PYTHONUTF8": "0", "LOGNAME": "josé", "USER": "josé"}
    result = subprocess.run(lab.command("annotate", "Alisson67", "--seq", "1", "--star"), capture_output=True,
                            text=True, env=env, timeout=60)
    assert result.returncode == 0, result.stderr
    assert read_log(lab.config.store_root)["author"].to_list() == ["josé"]


def test_an_action_written_after_another_comes_after_it_whatever_the_clocks_say(lab: Lab) -> None:
    """A lab PC an hour behind another (or a clock stepped back) wrote its `--include` an hour before the `--exclude`
    it answered: `annotate` said "included again" and the run stayed excluded. A new action now comes last."""
    run = chip(lab).head(1)
    row = (run["run_id"][0], run["source_file"][0])
    ahead = dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)  # the other PC's clock
    write_action(lab.store_root, [(*row, Change("exclude", "bad contact"))], author="ana", at=ahead)
    write_action(lab.store_root, [(*row, Change("include"))], author="ben")  # this PC's clock: an hour behind
    assert not current_annotations(lab.store_root).filter(pl.col("run_id") == row[0], pl.col("excluded")).height
    assert list(annotation_log(lab.store_root, row[0])["kind"]) == ["exclude", "include"]
    assert not excluded_runs(lab.store_root)
    # a clock gone wrong (a year ahead) is not followed, and a hand-made name that is no time is passed over
    actions = lab.store_root / "_annotations" / "actions"
    for name in ("99991231T235959999999Z-0.json", "20991399T000000000000Z-0.json"):
        (actions / name).write_text('{"action": "x", "records": []}', encoding="utf-8")
    write_action(lab.store_root, [(*row, Change("exclude", "after all"))], author="ben")
    assert list(annotation_log(lab.store_root, row[0])["kind"]) == ["exclude", "include", "exclude"]
    assert excluded_runs(lab.store_root) == {row[0]: "after all"}  # the last written wins


def test_an_action_of_runs_a_clock_far_ahead_annotated_is_dated_after_it_and_validate_says_so(lab: Lab) -> None:
    """A PC a year ahead excluded a run: every `--include` after it was dated before it, said "included again" and
    changed nothing, and `validate` said "store healthy". An action of those runs is dated after it; validate names
    the record; the other runs' actions keep this machine's time."""
    run, other = chip(lab).head(2).iter_rows(named=True)
    row, other_row = (run["run_id"], run["source_file"]), (other["run_id"], other["source_file"])
    ahead = dt.datetime.now(dt.UTC) + dt.timedelta(days=400)
    write_action(lab.store_root, [(*row, Change("exclude", "bad contact"))], author="ana", at=ahead)
    assert excluded_runs(lab.store_root) == {row[0]: "bad contact"}
    write_action(lab.store_root, [(*row, Change("include"))], author="ben")
    assert not excluded_runs(lab.store_root)
    assert annotation_log(lab.store_root, row[0])["time_utc"].to_list()[-1] > ahead
    write_action(lab.store_root, [(*other_row, Change("star"))], author="ben")
    assert annotation_log(lab.store_root, other_row[0])["time_utc"][0] < ahead - dt.timedelta(days=300)
    (finding,) = [found for found in validate(lab.config).findings if found.code == "annotations_ahead"]
    assert finding.severity == "warning" and finding.items == [  # one line a run, the first record's author
        f"{row[0]} {row[1]}: 2 records dated {ahead:%Y-%m-%d %H:%M} UTC, the first by ana"]
