"""Promise 5 (and 1, 3, 4 along the way): a kill -9 at any instant is repaired by the next run, with no manual step.

Two kinds of crash:
- exhaustive fault injection: an in-process run records every fault point the commit protocol passes (with one
  worker the sequence is deterministic); then, for each passage, a real `labtui stage` subprocess is made to
  `os._exit` exactly there (`LABTUI_CRASH_AT=<point>:<n>`), the frozen store is checked by readers, and the next
  run must produce exactly what an uninterrupted run produces;
- random `kill -9` of a real stager during a few hundred files, several times in a row, with a reader polling the
  store the whole time.
"""

from __future__ import annotations

import collections
import datetime as dt
import random
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import polars as pl
import pytest

from labtui.core import faults
from labtui.core.layout import run_parquet_path
from labtui.core.manifest import read_manifest
from labtui.synth import write_files
from tests.lab import OLD_MTIME, Lab, put, render_run
from tests.promises import CRASH_EXIT, assert_readable, assert_settled, raw_snapshot, store_bytes, store_state

T0 = dt.datetime(2025, 9, 15, 13, 0, tzinfo=dt.UTC)
DAY = "2025-09-15"
OLD_DAY = "Alisson_16_sept"


def _at(minutes: float) -> dt.datetime:
    return T0 + dt.timedelta(minutes=minutes)


def _file(rel: str, proc: str, idx: int, *, minutes: float, seed: int = 0, n_rows: int = 20,
          params: dict[str, str | None] | None = None) -> tuple[str, bytes]:
    _, data = render_run(proc, file_idx=idx, start_utc=_at(minutes), seed=seed, n_rows=n_rows, params=params)
    return rel, data


def _binary() -> bytes:
    return bytes(range(256)) * 8


def scenario_trees() -> tuple[dict[str, tuple[bytes, float]], dict[str, tuple[bytes, float]]]:
    """Two states of one raw tree whose second stage passes every step of the commit protocol:
    new, unchanged, touched (its content as staged, its new mtime recorded), modified in place (same run_id), moved in
    time (new run_id, old Parquet removed), staged then
    broken (reject with previous_run_id, its run kept), rejected then fixed (reject removed), rejected then
    deleted (stale reject removed), staged then deleted, new and broken, and junk that is no candidate."""
    d = f"{DAY}/"
    o = f"{OLD_DAY}/"
    before = dict([
        _file(d + "It2025-09-15_1.csv", "It", 1, minutes=0),
        _file(d + "IVg2025-09-15_2.csv", "IVg", 2, minutes=10),
        _file(d + "IV2025-09-15_3.csv", "IV", 3, minutes=20),
        _file(d + "LaserCalibration2025-09-15_4.csv", "LaserCalibration", 4, minutes=30),
        _file(d + "IVg2025-09-15_5.csv", "IVg", 5, minutes=40, params={"Chip number": "sixty"}),
        _file(o + "IV2025-09-16_6.csv", "IV", 6, minutes=50),
        (o + "It2025-09-16_7.csv", _binary()),
        _file(o + "IVg2025-09-16_8.csv", "IVg", 8, minutes=70),
        _file(o + "It2025-09-16_9.csv", "It", 9, minutes=80),
    ])
    after = dict(before)
    after.update([
        _file(d + "IVg2025-09-15_2.csv", "IVg", 2, minutes=10, seed=1, n_rows=40),  # same start: same run_id
        _file(d + "IVg2025-09-15_5.csv", "IVg", 5, minutes=40),  # fixed
        _file(o + "IVg2025-09-16_8.csv", "IVg", 8, minutes=60 * 30),  # start moved to the next day: new run_id
        (o + "It2025-09-16_9.csv", before[o + "It2025-09-16_9.csv"][: 300]),  # broken: header cut, no data
        _file(d + "It2025-09-15_10.csv", "It", 10, minutes=100),
        _file(d + "IVg2025-09-15_11.csv", "IVg", 11, minutes=110, params={"Sample": "D\r\n#\tSample: E"}),
        _file(o + "LaserCalibration2025-09-16_12.csv", "LaserCalibration", 12, minutes=120),
        (d + ".DS_Store", b"\x00\x00\x00\x01Bud1"),
        (d + "notes.txt", b"not a measurement"),
    ])
    del after[o + "IV2025-09-16_6.csv"]
    del after[o + "It2025-09-16_7.csv"]
    mtimes = {rel: OLD_MTIME + i for i, rel in enumerate(sorted(after))}
    first = {rel: (data, OLD_MTIME + i) for i, (rel, data) in enumerate(sorted(before.items()))}
    second = {rel: (data, first[rel][1] if rel in first and first[rel][0] == data else mtimes[rel] + 1000)
              for rel, data in after.items()}
    touched = d + "IV2025-09-15_3.csv"
    second[touched] = (second[touched][0], second[touched][1] + 500)
    return first, second


def materialise(root: Path, tree: dict[str, tuple[bytes, float]]) -> Path:
    for rel, (data, mtime) in tree.items():
        put(root / rel, data, mtime)
    return root


def trace_points(lab: Lab, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every fault point an uninterrupted run passes, in order, as `<point>:<n>`."""
    passed: list[str] = []
    seen: collections.Counter[str] = collections.Counter()

    def record(name: str) -> None:
        seen[name] += 1
        passed.append(f"{name}:{seen[name]}")

    with monkeypatch.context() as patch:
        patch.setattr(faults, "point", record)
        lab.stage()
    return passed


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    base = tmp_path_factory.mktemp("crash")
    first, second = scenario_trees()
    raw_before = materialise(base / "raw_before", first)
    raw_after = materialise(base / "raw_after", second)
    return {"base": base, "raw_before": raw_before, "raw_after": raw_after}


PROTOCOL_POINTS = {
    "after_mark_dirty", "after_stale_reject_remove", "after_temp_write", "before_replace", "after_parquet_replace",
    "after_reject_write", "before_manifest_replace", "after_manifest_replace", "after_obsolete_run_remove",
    "after_reject_remove", "before_clear_dirty",
}


@pytest.mark.slow
@pytest.mark.parametrize("commit_interval", [3600.0, 1e-6], ids=["one-commit", "commit-per-file"])
def test_crash_at_every_protocol_step_converges(
    scenario: dict[str, object], commit_interval: float, monkeypatch: pytest.MonkeyPatch
) -> None:
    base: Path = scenario["base"] / f"interval-{commit_interval:g}"  # type: ignore[operator]
    raw_before: Path = scenario["raw_before"]  # type: ignore[assignment]
    raw_after: Path = scenario["raw_after"]  # type: ignore[assignment]

    # the store before the run that crashes, and what an uninterrupted run makes of it
    template = Lab(base / "template", workers=1, commit_interval_seconds=commit_interval, raw=raw_before)
    template.stage()
    assert_settled(template.config)

    def lab_from_template(name: str) -> Lab:
        lab = Lab(base / name, workers=1, commit_interval_seconds=commit_interval, raw=raw_after)
        lab.copy_store(template.store_root)
        return lab

    reference = lab_from_template("reference")
    report = reference.stage()
    assert (report.staged, report.rejected, report.touched) == (5, 2, 1), report.line()
    expected = store_state(reference.config)
    assert_settled(reference.config)

    traced = lab_from_template("traced")
    passages = trace_points(traced, monkeypatch)
    assert store_state(traced.config) == expected
    steps = {p.partition(":")[0] for p in passages}
    assert steps >= PROTOCOL_POINTS, f"protocol steps without a fault point: {passages}"

    raw_before_run = raw_snapshot(raw_after)
    labs = {point: lab_from_template(f"crash-{i:03d}") for i, point in enumerate(passages)}

    def crash_then_crash_the_recovery(point: str) -> tuple[object, object]:
        """The run dies at `point`; then (one-commit variant) the recovery run dies while sweeping the debris."""
        first = labs[point].cli("stage", crash_at=point)
        second = labs[point].cli("stage", crash_at="during_sweep:1") if commit_interval > 1 else None
        return first, second

    with ThreadPoolExecutor(max_workers=2) as pool:
        outcomes = dict(zip(labs, pool.map(crash_then_crash_the_recovery, labs), strict=True))
    crashed = {point: first for point, (first, _) in outcomes.items()}
    swept = sum(1 for _, second in outcomes.values() if second is not None and second.returncode == CRASH_EXIT)
    assert commit_interval < 1 or swept >= len(labs) // 2, "the recovery runs should mostly have debris to sweep"

    failures: list[str] = []
    for point, lab in labs.items():
        config = lab.config
        try:
            result = crashed[point]
            # with commits between files, the moment a worker's result is collected can shift a late passage
            # beyond the end of the run: then the run completed and must simply be right
            assert result.returncode in (CRASH_EXIT, 0), f"exit {result.returncode}: {result.stderr[-800:]}"
            assert_readable(config, settled=result.returncode == 0)
            recovery = lab.stage()  # lock timeout 0: the dead writer's lock must not block
            assert not recovery.cancelled
            assert_settled(config)
            assert store_state(config) == expected, "the run after the crash differs from an uninterrupted run"
            before = store_bytes(lab.store_root)
            again = lab.stage()
            assert again.staged == 0 and store_bytes(lab.store_root) == before, "a re-run changed the store"
        except AssertionError as exc:
            failures.append(f"crash at {point}: {str(exc)[:1500]}")
    assert raw_snapshot(raw_after) == raw_before_run, "the raw tree changed"
    completed = [point for point, result in crashed.items() if result.returncode == 0]
    assert len(completed) <= len(labs) // 10, f"too many crash points were never reached: {completed}"
    assert not failures, f"{len(failures)} of {len(labs)} crash points did not converge:\n" + "\n".join(failures)


def _bulk_raw(root: Path) -> int:
    """A few hundred synthetic files of every procedure in a few day folders, pinned to old mtimes."""
    count = 0
    for k, (proc, n) in enumerate([("It", 40), ("IVg", 90), ("IV", 90), ("LaserCalibration", 80)]):
        start = dt.datetime(2025, 9, 1 + k, 12, 0, tzinfo=dt.UTC)
        for path in write_files(root / f"2025-09-0{1 + k}", proc, n, seed=k, start_utc=start):
            put(path, path.read_bytes(), OLD_MTIME + count)
            count += 1
    return count


class _Reader(threading.Thread):
    """A lock-free reader polling the store while writers run and die.

    Through the manifest every look must succeed: each row's Parquet exists, reads, and has the row's n_rows (no
    committed run is ever removed in this scenario). A directory scan of the stage root must never meet a torn or
    foreign file; it may race a sweep that removes a dead writer's uncommitted run between listing and reading
    (FileNotFoundError), and must then succeed when retried."""

    def __init__(self, lab: Lab) -> None:
        super().__init__(daemon=True)
        self.config = lab.config
        self.stop = threading.Event()
        self.looks = 0
        self.scan_races = 0
        self.errors: list[str] = []

    def _through_manifest(self) -> None:
        manifest = read_manifest(self.config.manifest_path)
        for row in manifest.iter_rows(named=True):
            path = run_parquet_path(self.config.stage_root, row["proc"], row["date_local"], row["run_id"])
            height = pl.read_parquet(path).height
            assert height == row["n_rows"], f"{path}: {height} rows, manifest says {row['n_rows']}"

    def _scan(self) -> None:
        if not (self.config.stage_root.exists() and any(self.config.stage_root.iterdir())):
            return
        for attempt in range(10):  # a reader that raced a sweep reads again a moment later (promise 4's limit)
            try:
                pl.scan_parquet(
                    self.config.stage_root, hive_partitioning=True, missing_columns="insert", extra_columns="ignore"
                ).select(pl.len()).collect()
                return
            except FileNotFoundError:
                self.scan_races += 1
                time.sleep(0.01 * (attempt + 1))
            except pl.exceptions.ComputeError as exc:
                if "expanded paths were empty" not in str(exc):
                    raise
                return  # folders but no Parquet file yet (or any more): an empty store, nothing to read
        raise AssertionError("a directory scan kept failing")

    def run(self) -> None:
        while not self.stop.is_set():
            for look in (self._through_manifest, self._scan):
                try:
                    look()
                except Exception as exc:
                    self.errors.append(f"{look.__name__}: {type(exc).__name__}: {str(exc)[:300]}")
                    time.sleep(0.01)
            self.looks += 1


@pytest.mark.slow
def test_random_kill_9_during_a_large_stage_converges(tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    n_files = _bulk_raw(raw)
    reference = Lab(tmp_path / "reference", raw=raw)
    started = time.monotonic()
    assert reference.stage().staged == n_files
    duration = time.monotonic() - started
    expected = store_state(reference.config)
    raw_before = raw_snapshot(raw)

    lab = Lab(tmp_path / "subject", raw=raw, commit_interval_seconds=0.05)
    reader = _Reader(lab)
    reader.start()
    rng = random.Random(20250915)
    kills = 0
    try:
        for _ in range(12):  # until five runs were killed: how many finish first depends on the machine's speed
            if kills == 5:
                break
            process = lab.popen("stage")
            time.sleep(rng.uniform(0.35, 0.45 + duration))  # interpreter start-up is ~0.35 s
            if process.poll() is None:
                process.send_signal(signal.SIGKILL)
                kills += 1
            process.communicate(timeout=60)
            assert process.returncode in (0, -signal.SIGKILL), process.returncode
            assert_readable(lab.config, settled=process.returncode == 0)
    finally:
        reader.stop.set()
        reader.join(30)
    print(f"{kills} kills, {reader.looks} looks, {reader.scan_races} directory scans raced a sweep")
    assert kills >= 3, "the random delays should kill most runs"
    final = lab.stage()
    assert not final.cancelled
    assert_settled(lab.config)
    assert store_state(lab.config) == expected
    assert raw_snapshot(raw) == raw_before
    assert reader.looks > 0
    assert not reader.errors, (
        f"{len(reader.errors)} failed reads out of {reader.looks + len(reader.errors)}: {reader.errors[:5]}"
    )
