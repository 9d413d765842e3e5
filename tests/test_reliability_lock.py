"""Promise 6: one writer at a time through an OS lock that dies with its holder; any number of lock-free readers.

Every writer here is a real `labtui` subprocess: the lock is a kernel `flock`, so only separate processes prove it.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import polars as pl

from labtui.core.lock import WriterLock, read_holder
from labtui.core.manifest import read_manifest
from labtui.synth import write_files
from tests.lab import OLD_MTIME, Lab, lock_held_elsewhere, put
from tests.promises import CRASH_EXIT, LOCKED_EXIT, assert_settled, raw_snapshot, store_state, tree_listing


def _fill(lab: Lab, per_proc: int = 10, *, day: int = 1, seed: int = 0) -> list[str]:
    """Synthetic files of three procedures in one day folder; returns their source_file names."""
    names = []
    for k, proc in enumerate(("IVg", "IV", "LaserCalibration")):
        start = dt.datetime(2025, 9, day, 10 + 3 * k, tzinfo=dt.UTC)
        for path in write_files(lab.raw / f"2025-09-{day:02d}", proc, per_proc, seed=seed, start_utc=start):
            put(path, path.read_bytes(), OLD_MTIME + len(names) + 100 * day)
            names.append(path.relative_to(lab.raw).as_posix())
    return names


def _manifest_sources(lab: Lab) -> list[str]:
    return sorted(read_manifest(lab.config.manifest_path)["source_file"].to_list())


def test_busy_store_fails_at_once_names_the_holder_and_writes_nothing(tmp_path: Path) -> None:
    lab = Lab(tmp_path)
    _fill(lab)
    lab.stage()
    new = _fill(lab, 3, day=2)  # a run would have work to do
    store_before, raw_before = tree_listing(lab.store_root), raw_snapshot(lab.raw)
    with WriterLock(lab.config.lock_path, command="holder-of-the-test"):
        store_with_holder = tree_listing(lab.store_root)
        for command in (["stage", "--lock-timeout", "0"], ["restage", str(lab.raw / new[0]), "--lock-timeout", "0"]):
            started = time.monotonic()
            result = lab.cli(*command)
            assert result.returncode == LOCKED_EXIT, (result.returncode, result.stderr)
            assert time.monotonic() - started < 10, "--lock-timeout 0 must not wait"
            assert "holder-of-the-test" in result.stderr and f"pid {os.getpid()}" in result.stderr, result.stderr
            assert tree_listing(lab.store_root) == store_with_holder, "a refused writer changed the store"
    assert {k: v for k, v in tree_listing(lab.store_root).items() if k != "_manifest/.lock"} == {
        k: v for k, v in store_before.items() if k != "_manifest/.lock"}
    assert raw_snapshot(lab.raw) == raw_before
    assert lab.cli("stage").returncode == 0, "the store stays usable once the holder is gone"
    assert set(new) <= set(_manifest_sources(lab))


def test_a_waiting_stager_proceeds_when_the_lock_is_released(tmp_path: Path) -> None:
    lab = Lab(tmp_path)
    names = _fill(lab)
    holder = WriterLock(lab.config.lock_path, command="slow-writer")
    holder.acquire(0)
    try:
        waiter = lab.popen("stage", "--lock-timeout", "60")
        assert waiter.stderr is not None
        assert "waiting for the store lock held by" in waiter.stderr.readline()  # it says so, even when --quiet
        assert waiter.poll() is None, "the second writer must wait, not fail or write"
        assert not lab.config.manifest_path.exists()
    finally:
        holder.release()
    _, err = waiter.communicate(timeout=60)
    assert waiter.returncode == 0, err
    assert _manifest_sources(lab) == sorted(names)
    assert_settled(lab.config)


def test_the_lock_of_a_killed_holder_never_blocks(tmp_path: Path) -> None:
    lab = Lab(tmp_path)
    names = _fill(lab, 4)
    lock_path = lab.config.lock_path
    with lock_held_elsewhere(lock_path, "doomed-holder") as holder:  # SIGKILLed on leaving
        who = read_holder(lock_path)
        assert who is not None and who.pid == holder.pid and who.command == "doomed-holder"
        assert lab.cli("stage", "--lock-timeout", "0").returncode == LOCKED_EXIT
    assert json.loads(lock_path.read_text())["pid"] == holder.pid, "the dead holder's note is still in the file"
    result = lab.cli("stage", "--lock-timeout", "0")
    assert result.returncode == 0, result.stderr
    assert _manifest_sources(lab) == sorted(names)


def test_a_stager_that_crashed_mid_run_leaves_no_lock(tmp_path: Path) -> None:
    lab = Lab(tmp_path)
    names = _fill(lab, 4)
    crashed = lab.cli("stage", crash_at="before_manifest_replace")
    assert crashed.returncode == CRASH_EXIT
    result = lab.cli("stage", "--lock-timeout", "0")
    assert result.returncode == 0, result.stderr
    assert _manifest_sources(lab) == sorted(names)
    assert read_holder(lab.config.lock_path) is None


def _json_counts(process: subprocess.Popen[str]) -> dict[str, object]:
    out, err = process.communicate(timeout=120)
    assert process.returncode == 0, err
    return json.loads(out)


def test_racing_stagers_lose_nothing_and_stage_each_file_once(tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    reference = Lab(tmp_path / "reference", raw=raw)
    names = _fill(reference, 40)
    reference.stage()
    lab = Lab(tmp_path / "subject", raw=raw, workers=1, commit_interval_seconds=0.05)
    racers = [lab.popen("stage", "--lock-timeout", "120", "--json") for _ in range(4)]
    reports = [_json_counts(racer) for racer in racers]
    assert sum(int(report["staged"]) for report in reports) == len(names), reports
    assert _manifest_sources(lab) == sorted(names)
    assert store_state(lab.config) == store_state(reference.config)
    assert_settled(lab.config)


def test_concurrent_restages_of_disjoint_files_both_land(tmp_path: Path) -> None:
    lab = Lab(tmp_path, workers=1, commit_interval_seconds=0.05)
    names = _fill(lab, 20)
    lab.stage()
    before = read_manifest(lab.config.manifest_path)
    halves = (names[::2], names[1::2])
    for number, name in enumerate(names):  # new content, same start time: same run, new data
        path = lab.raw / name
        put(path, path.read_bytes().replace(b"#Data:", b"#\tOperator: second pass\r\n#Data:", 1),
                  OLD_MTIME + 10_000 + number)
    racers = [lab.popen("restage", *[str(lab.raw / name) for name in half], "--lock-timeout", "120", "--json")
              for half in halves]
    reports = [_json_counts(racer) for racer in racers]
    assert [int(report["staged"]) for report in reports] == [len(halves[0]), len(halves[1])]
    after = read_manifest(lab.config.manifest_path)
    assert sorted(after["source_file"].to_list()) == sorted(names)
    assert sorted(after["run_id"].to_list()) == sorted(before["run_id"].to_list())
    changed = after.join(before, on="run_id", suffix="_before").filter(
        pl.col("source_sha256") != pl.col("source_sha256_before"))
    assert changed.height == len(names), "every file of both halves carries its new content"
    assert_settled(lab.config)


def test_readers_need_no_lock(tmp_path: Path) -> None:
    lab = Lab(tmp_path)
    names = _fill(lab, 3)
    (lab.raw / "2025-09-01" / "broken.csv").write_bytes(b"<html>502 Bad Gateway</html>")
    lab.stage()
    with WriterLock(lab.config.lock_path, command="long-writer"):
        assert _manifest_sources(lab) == sorted(names)
        frame = pl.scan_parquet(lab.stage_root, hive_partitioning=True, missing_columns="insert",
                                extra_columns="ignore").collect()
        assert frame.height == read_manifest(lab.config.manifest_path)["n_rows"].sum()
        listed = lab.cli("rejects", "--json")
        assert listed.returncode == 0 and json.loads(listed.stdout)[0]["kind"] == "not_this_format"
        who = read_holder(lab.config.lock_path)
        assert who is not None and who.command == "long-writer" and who.pid == os.getpid()
    assert read_holder(lab.config.lock_path) is None


def test_readers_see_whole_manifests_while_a_writer_commits_many_times(tmp_path: Path) -> None:
    """The manifest is replaced at every commit; a lock-free reader polling it must never get a torn read.

    (Polars and pyarrow open a *path* more than once per read: a replace in between gives them the footer of one
    file and the pages of the other. `read_manifest` must pin one version of the file.)"""
    lab = Lab(tmp_path, workers=2, commit_interval_seconds=0.001)
    for day in range(1, 9):
        _fill(lab, 12, day=day, seed=day)
    writer = lab.popen("stage")
    config = lab.config
    reads, errors = 0, []
    while writer.poll() is None:
        try:
            frame = read_manifest(config.manifest_path)
            assert frame["run_id"].n_unique() == frame.height
            reads += 1
        except BaseException as exc:
            errors.append(f"{type(exc).__name__}: {str(exc)[:200]}")
    assert writer.returncode == 0, writer.communicate()[1]
    assert reads > 20
    assert not errors, f"{len(errors)} torn reads out of {reads + len(errors)}: {errors[:3]}"


def test_a_waiting_repair_or_prune_says_whose_lock_it_waits_for(tmp_path: Path) -> None:
    """`repair` waited up to three minutes for another writer's lock without a word, as `prune --yes` did: a stage
    says it."""
    lab = Lab(tmp_path, lock_timeout_seconds=60)
    names = _fill(lab, 2)
    assert lab.cli("stage").returncode == 0
    (lab.raw / names[0]).unlink()  # a run for prune to drop
    holder = WriterLock(lab.config.lock_path, command="slow-writer")
    holder.acquire(0)
    try:
        waiters = [lab.popen("repair"), lab.popen("prune", "--yes")]
        for waiter in waiters:
            assert waiter.stderr is not None
            assert waiter.stderr.readline().startswith("waiting for the store lock held by slow-writer")
    finally:
        holder.release()
    for waiter in waiters:
        _, err = waiter.communicate(timeout=60)
        assert waiter.returncode == 0, err
    assert names[0] not in _manifest_sources(lab)


def test_of_stages_racing_into_a_new_store_only_the_first_says_it_started_it(tmp_path: Path) -> None:
    """Each stage decided "new store" before it waited for the lock: racing first stages both said they started
    the store, or, when the lock's folder was made before they looked, neither did."""
    lab = Lab(tmp_path)
    _fill(lab, 2)
    holder = WriterLock(lab.config.lock_path, command="first-writer")
    holder.acquire(0)  # makes `_manifest/`, as a racing stage's lock does
    try:
        racers = [lab.popen("stage", "--lock-timeout", "60") for _ in range(2)]
        for racer in racers:
            assert racer.stderr is not None and "waiting for the store lock" in racer.stderr.readline()
    finally:
        holder.release()
    said = [racer.communicate(timeout=60)[1] for racer in racers]
    assert [racer.returncode for racer in racers] == [0, 0], said
    assert sum(f"this started a new store at {lab.store_root}" in err for err in said) == 1, said


_HOLDER_UNWRITABLE = """
import errno, resource, signal, sys
from pathlib import Path
from labtui.core.lock import LockBusy, WriterLock
path = Path(sys.argv[1])
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # past the limit a write fails (EFBIG), as on a full disk
resource.setrlimit(resource.RLIMIT_FSIZE, (0, resource.RLIM_INFINITY))
try:
    WriterLock(path).acquire(0)
    raise SystemExit("the holder's record was written past the limit")
except OSError as error:
    assert error.errno == errno.EFBIG, error
resource.setrlimit(resource.RLIMIT_FSIZE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
try:
    with WriterLock(path):  # the same process tries again, the disk freed: the app's second `s`
        print("taken")
except LockBusy:
    print("busy")
"""


def test_a_holder_record_that_cannot_be_written_leaves_the_lock_free(tmp_path: Path) -> None:
    """A full disk failed the holder's record after the lock was taken: the app kept the lock until it quit, and
    every later stage, its own and another terminal's, said the store was being written by another process."""
    path = tmp_path / "_manifest" / ".lock"
    done = subprocess.run([sys.executable, "-c", _HOLDER_UNWRITABLE, str(path)], capture_output=True, text=True,
                          timeout=60, env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])})
    assert (done.returncode, done.stdout, done.stderr) == (0, "taken\n", "")
