"""Watching the raw folder: a run written in pieces is staged exactly once, after it settles."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest

from labtui.core.follow import FollowedRun
from labtui.core.lock import WriterLock
from labtui.core.measuring import QUEUE_STALLED_SECONDS, Measured, MeasuringWatcher
from labtui.core.registry import load_registry
from labtui.core.rejects import reject_path
from labtui.core.watch import QUEUED_SECONDS, RESTAT_SECONDS, Watcher, WatchEvent
from tests.lab import Lab, cli_env, it_rows, raw_csv, unlistable


class Clock:
    """Wall time under the test's control; file mtimes are set from it so 'settled' is deterministic."""

    def __init__(self) -> None:
        self.now = time.time() - 1000  # in the past: the stager compares mtimes with the real clock

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def write_pieces(path: Path, data: bytes, clock: Clock, upto: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data[:upto])
    os.utime(path, (clock.now, clock.now))


def watcher_for(lab: Lab, clock: Clock, events: list[WatchEvent], settle: float = 5.0) -> Watcher:
    config = replace(lab.config, watch_settle_seconds=settle)
    return Watcher(config, on_event=events.append, wall=clock, full_rescan_seconds=3600)


def test_a_file_written_in_pieces_is_staged_once_after_it_settles(lab: Lab) -> None:
    clock, events = Clock(), []
    watcher = watcher_for(lab, clock, events)
    watcher.poll()  # empty folder: nothing to do
    data = raw_csv("It")
    path = lab.raw / "2025-10-14" / "It2025-10-14_1.csv"
    for upto in (len(data) // 3, 2 * len(data) // 3, len(data)):
        write_pieces(path, data, clock, upto)
        clock.advance(1)
        watcher.poll()
        assert watcher.growing() == ["2025-10-14/It2025-10-14_1.csv"]
        assert lab.manifest().height == 0  # never staged half
    clock.advance(5)
    watcher.poll()
    staged = [e for e in events if e.kind == "staged"]
    assert len(staged) == 1 and staged[0].staged == ("2025-10-14/It2025-10-14_1.csv",)
    assert lab.manifest().height == 1 and lab.manifest()["n_rows"][0] == len(it_rows())
    clock.advance(10)
    watcher.poll()
    assert len([e for e in events if e.kind == "staged"]) == 1 and watcher.growing() == []


def test_the_watcher_looks_at_no_folder_a_scan_passes_over(lab: Lab) -> None:
    """A Synology share keeps an `@eaDir` in every folder, and a recycle bin beside them: the watcher stat'ed each
    at every poll, for files no scan stages. It watches the folders a scan enters."""
    clock, events = Clock(), []
    for folder in ("2025-10-14/@eaDir", "#recycle/2025-10-14", ".hidden"):
        (lab.raw / folder).mkdir(parents=True)
    watcher = watcher_for(lab, clock, events)
    watcher.poll()
    assert sorted(watcher.state.folders) == [lab.raw, lab.raw / "2025-10-14"]


def test_a_start_time_the_clock_has_reached_is_staged_by_the_watcher(
    lab: Lab, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Rejected as in the future of a clock that was behind, the unchanged file waited for a one-shot stage: the
    watcher only looked at files whose size or mtime changed. Its full scans read such a reject again."""
    import labtui.core.start_time as start_time

    clock, events = Clock(), []
    watcher = watcher_for(lab, clock, events)
    path = lab.raw / "2025-10-14" / "It2025-10-14_1.csv"
    write_pieces(path, raw_csv("It"), clock, len(raw_csv("It")))
    monkeypatch.setattr(start_time, "FUTURE_SLACK", dt.timedelta(days=-3 * 366))  # the clock years behind
    watcher.poll()
    clock.advance(10)
    watcher.poll()  # settled: staged, rejected
    (record,) = lab.rejects().values()
    assert record.kind == "bad_start_time" and record.plausible_from_utc is not None
    monkeypatch.undo()
    reject = reject_path(lab.config.rejects_dir, record.source_file)  # the clock reaches that moment
    written = json.loads(reject.read_text())
    written["plausible_from_utc"] = f"{dt.datetime.now(dt.UTC):%Y-%m-%dT%H:%M:%S.%fZ}"
    reject.write_text(json.dumps(written))
    clock.advance(10)
    watcher.poll()  # no full scan yet: the file has not changed
    assert lab.manifest().height == 0
    clock.advance(3600)
    watcher.poll()
    assert lab.manifest().height == 1 and not lab.rejects()


def test_new_day_folder_and_regrown_file_are_noticed(lab: Lab) -> None:
    clock, events = Clock(), []
    watcher = watcher_for(lab, clock, events, settle=2)
    lab.write("d1/It2025-10-14_1.csv", raw_csv("It", rows=it_rows()[:5]), mtime=clock.now)
    watcher.poll()
    clock.advance(3)
    watcher.poll()
    assert lab.manifest()["n_rows"].to_list() == [5]
    clock.advance(1)
    lab.write("d1/It2025-10-14_1.csv", raw_csv("It"), mtime=clock.now)  # acquisition resumed: grows in place
    lab.write("d2/IVg2025-10-15_1.csv", raw_csv("IVg", start=1760371999.0), mtime=clock.now)
    watcher.poll()  # the append leaves d1's mtime alone: the file is stat'ed because the watcher staged it
    clock.advance(3)
    watcher.poll()
    manifest = lab.manifest().sort("proc")
    assert manifest["n_rows"].to_list() == [13, len(it_rows())]
    watcher.full_rescan_seconds = 2 * RESTAT_SECONDS
    clock.advance(RESTAT_SECONDS)
    lab.write("d1/It2025-10-14_1.csv", raw_csv("It", rows=it_rows()[:7]), mtime=clock.now)
    watcher.poll()
    assert watcher.growing() == []  # an hour after its staging, a change waits for the full re-scan


def test_a_first_scan_of_staged_files_leaves_them_to_the_folder_checks(lab: Lab) -> None:
    """Files already in the manifest are not re-stat'ed at every poll (10k of them cost 5 % of a core, idle); a
    file the watcher stages, or rejects, is."""
    for index in range(1, 4):
        lab.write(f"d/It2025-10-14_{index}.csv", raw_csv("It", start=1760371684.0 + 600 * index))
    lab.stage()
    clock, events = Clock(), []
    watcher = watcher_for(lab, clock, events, settle=2)
    watcher.poll()
    clock.advance(3)
    watcher.poll()
    assert not events and watcher.state.pending == {} and watcher.state.staged == {}
    lab.write("d/It2025-10-14_9.csv", raw_csv("It", start=1760381684.0), mtime=clock.now)
    lab.write("d/It2025-10-14_10.csv", b"Procedure: <laser_setup.procedures.It.It>\n", mtime=clock.now)
    lab.write("d/It2025-10-14_11.csv", b"#Procedure: <laser_setup.procedures.It.It>\n", mtime=clock.now)
    watcher.poll()
    clock.advance(3)
    watcher.poll()
    assert set(watcher.state.staged) == {"d/It2025-10-14_9.csv", "d/It2025-10-14_10.csv"}
    assert watcher.state.waiting == {"d/It2025-10-14_11.csv"}  # a header begun: stat'ed until its rows come


def test_a_watchers_first_scan_trusts_size_and_mtime_as_a_plain_stage_does(lab: Lab) -> None:
    """The first scan lists every file as settled, and the stager hashed each one that looked unchanged, as for a
    `restage` of files a user names: 10k files read at every start of `stage --watch` or the app. An edit of the
    same size with its mtime put back is found by `restage FILE` and `validate --hash`, not by a plain stage."""
    path = lab.write("d/It2025-10-14_1.csv", raw_csv("It"), mtime=time.time() - 600)
    lab.stage()
    before = os.stat(path)
    path.write_bytes(path.read_bytes().replace(b"Sample: other", b"Sample: 0ther"))
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    clock, events = Clock(), []
    watcher = watcher_for(lab, clock, events, settle=2)
    watcher.poll()
    clock.advance(3)
    watcher.poll()
    assert not events and '"Sample": "other"' in lab.manifest()["parameters"][0]


def test_a_backlog_the_watcher_stages_is_not_restated(lab: Lab) -> None:
    """Old runs a watcher stages itself (its first start on a lab's folder) are no acquisition paused mid-run: only
    the file written within `RESTAT_SECONDS` is stat'ed at every poll (552 old ones cost 1 % of a core for an
    hour). Its time is its last write, so an append an hour after a slow stage is still seen."""
    clock, events = Clock(), []
    for index in range(1, 4):
        lab.write(f"d/It2025-10-14_{index}.csv", raw_csv("It", start=1760371684.0 + 600 * index),
                  mtime=clock.now - RESTAT_SECONDS - 600 * index)
    lab.write("d/It2025-10-14_9.csv", raw_csv("It", start=1760381684.0), mtime=clock.now - 60)
    watcher = watcher_for(lab, clock, events, settle=2)
    watcher.poll()
    clock.advance(3)
    watcher.poll()
    assert lab.manifest().height == 4
    assert watcher.state.staged == {"d/It2025-10-14_9.csv": clock.now - 63}
    # a run the watcher sees written, on a share whose clock is two hours behind this one: its old-looking mtime
    # is no backlog's, and an append after a pause is seen at the next poll, not at the next full rescan
    lab.write("d/It2025-10-14_10.csv", raw_csv("It", start=1760391684.0, rows=it_rows()[:5]), mtime=clock.now - 7200)
    watcher.poll()
    clock.advance(3)
    watcher.poll()
    assert "d/It2025-10-14_10.csv" in watcher.state.staged
    lab.write("d/It2025-10-14_10.csv", raw_csv("It", start=1760391684.0), mtime=clock.now - 7190)
    watcher.poll()
    assert "d/It2025-10-14_10.csv" in watcher.growing()


def test_watching_survives_a_deleted_folder_and_a_held_lock(lab: Lab) -> None:
    clock, events = Clock(), []
    watcher = watcher_for(lab, clock, events, settle=0)
    lab.write("d/It2025-10-14_1.csv", raw_csv("It"), mtime=clock.now - 10)
    holder = WriterLock(lab.config.lock_path, command="manual labtui stage")
    holder.acquire(0)
    config = replace(watcher.config, lock_timeout_seconds=0)
    watcher.config = config
    watcher.poll()
    watcher.poll()  # still locked: retried, not said again (the app's watcher polls every second)
    holder.release()
    assert [e.kind for e in events] == ["waiting"] and "manual labtui stage" in events[-1].message
    watcher.poll()
    assert events[-1].kind == "staged" and lab.manifest().height == 1
    raw = lab.raw
    raw.rename(raw.with_name("raw-away"))
    watcher.poll()
    assert events[-1].kind == "error"
    raw.with_name("raw-away").rename(raw)
    lab.write("d/It2025-10-14_2.csv", raw_csv("It", start=1760371999.0), mtime=clock.now - 10)
    watcher.poll()
    kinds = [e.kind for e in events[-2:]]
    assert kinds == ["recovered", "staged"] and lab.manifest().height == 2


def test_a_stage_that_fails_in_labtuis_words_is_retried_not_fatal(lab: Lab) -> None:
    """A stage's own error (a folder it cannot make, a share gone between the poll's look and the stage's) escaped
    the watcher, which caught the OS's errors alone: `stage --watch` ended, and the app's watching stopped unsaid."""
    clock, events = Clock(), []
    watcher = watcher_for(lab, clock, events, settle=0)
    lab.write("d/It2025-10-14_1.csv", raw_csv("It"), mtime=clock.now - 10)
    blocker = lab.config.manifest_dir / "tmp"  # where the staging area's folder goes
    blocker.parent.mkdir(parents=True)
    blocker.write_text("a file in the way")
    watcher.poll()
    assert events[-1].kind == "error" and events[-1].message.startswith(
        f"staging failed: cannot make the folder {blocker}: ") and events[-1].message.endswith("; will retry")
    for _ in range(3):  # retried at every poll, said once (a service's log took the line every second)
        clock.advance(1)
        watcher.poll()
    assert [event.kind for event in events] == ["error"]
    blocker.unlink()
    clock.advance(1)
    watcher.poll()
    assert events[-1].kind == "staged" and lab.manifest().height == 1


def test_a_folder_the_watcher_cannot_list_is_said_once_and_its_files_staged_when_it_can(
    lab: Lab, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A raw sub-folder without read permission was passed over without a word while the app watched."""
    clock, events = Clock(), []
    watcher = Watcher(replace(lab.config, watch_settle_seconds=0), on_event=events.append, wall=clock,
                      full_rescan_seconds=0)
    lab.write("locked/It2025-10-14_1.csv", raw_csv("It"), mtime=clock.now - 10)
    with unlistable(lab.raw / "locked", monkeypatch):
        watcher.poll()
        watcher.poll()  # said once, not at every scan
        assert [(event.kind, event.message) for event in events] == [
            ("unlisted", "cannot list the raw folder locked/ (Permission denied): its files wait until it can be read")
        ]
    watcher.poll()
    assert [event.kind for event in events[1:]] == ["recovered", "staged"] and lab.manifest().height == 1
    assert events[1].message == "the raw folder locked/ can be listed again"


def test_follow_reads_only_new_rows_and_describes_the_run(lab: Lab) -> None:
    data = raw_csv("It")
    path = lab.raw / "It2025-10-14_3.csv"
    header_end = data.index(b"t (s)")
    path.write_bytes(data[:header_end])
    run = FollowedRun(path, load_registry())
    assert run.refresh() == 0 and "waiting for the header" in run.describe()
    cut = data.index(b"\r\n", header_end + 200) + 5  # a few full rows and a partial one
    path.write_bytes(data[:cut])
    first = run.refresh()
    assert first > 0 and run.frame.height == first
    path.write_bytes(data)
    assert run.refresh() == len(it_rows()) - first
    assert run.frame["t_s"].to_list() == sorted(run.frame["t_s"].to_list())
    assert run.describe() == "It2025-10-14_3.csv — Alisson67, λ=455 nm, 3 s of 3 s"
    moved = path.rename(path.with_suffix(".bak"))  # deleted or moved while followed: said, not frozen on its rows
    assert run.refresh() == 0 and run.describe() == "It2025-10-14_3.csv — cannot read it: No such file or directory"
    moved.rename(path)
    assert run.refresh() == 0 and run.describe() == "It2025-10-14_3.csv — Alisson67, λ=455 nm, 3 s of 3 s"


STOP_IN_ANOTHER_THREAD = """
import signal, threading, time
from labtui.cli.stage import run_interruptible
cancel = threading.Event()
def work():
    import polars
    time.sleep(0.5)  # the main thread has taken SIGINT back from Polars: it waits on the work now
    signal.pthread_kill(threading.get_ident(), signal.SIGTERM)
    return cancel.wait(20)
print(run_interruptible(work, cancel, "stopping"))
"""


def test_a_stop_signal_the_kernel_gives_another_thread_still_winds_the_work_down() -> None:
    """Python runs a signal's handler on the main thread alone. A SIGTERM or a Ctrl+C the kernel delivered to a
    worker thread waited for the main thread's next wake, and with no timeout on its wait once Polars was loaded, a
    watcher (whose work never ends) ignored it for good: systemd's SIGKILL followed, temp files left behind."""
    done = subprocess.run([sys.executable, "-c", STOP_IN_ANOTHER_THREAD], capture_output=True, text=True,
                          timeout=60, env=cli_env())
    assert done.stdout.split() == ["True"] and "stopping" in done.stderr, (done.stdout, done.stderr)


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP])
def test_stage_watch_headless_stops_cleanly_on_ctrl_c(lab: Lab, stop: signal.Signals) -> None:
    """Ctrl+C, and what systemd stops a service with (SIGTERM) or a closed terminal sends (SIGHUP): those two killed
    the watcher at once, its temp files left for the next stage."""
    lab.write("d/It2025-10-14_1.csv", raw_csv("It", params={"VG": "6 7"}), mtime=time.time() - 60)  # a note
    lab.write("d/bad.csv", b"not a measurement", mtime=time.time() - 60)
    process = subprocess.Popen(
        [sys.executable, "-m", "labtui", "stage", "--watch", "--config", str(lab.config_file), "--settle", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=cli_env(),
    )
    assert process.stdout is not None
    said = [process.stdout.readline()]  # the watcher says what it staged: wait for the poll's summary line
    while said[-1] and "staged:" not in said[-1]:
        said.append(process.stdout.readline())
    assert any(" rejected d/bad.csv: " in line for line in said), said  # named, as a one-shot stage names it
    assert any("   note: line " in line and "'6 7' is not a finite number in V" in line for line in said), said
    process.send_signal(stop)
    out, err = process.communicate(timeout=20)
    assert process.returncode == 0, err
    assert lab.manifest().height == 1
    assert "staged" in "".join(said) and "stopped watching" in out
    stamp = dt.datetime.strptime(next(line for line in said if "staged" in line).split()[0], "%H:%M:%S")
    now = dt.datetime.now(lab.config.zone)  # the lab's clock, as the app and the histories say times
    drift = (now.hour * 3600 + now.minute * 60 + now.second) - (stamp.hour * 3600 + stamp.minute * 60 + stamp.second)
    assert min(drift % 86400, -drift % 86400) < 120, (now, stamp)


def test_follow_names_the_wavelength_only_of_a_light_run(lab: Lab) -> None:
    """A dark run keeps the last wavelength in its header: the manifest's light rule leaves it unsaid."""
    for name, volts, shown in (("It2025-10-14_4.csv", "0.05 V", False), ("It2025-10-14_5.csv", "0.1 V", True)):
        path = lab.raw / name
        path.write_bytes(raw_csv("It", params={"Laser voltage": volts}))
        run = FollowedRun(path, load_registry())
        run.refresh()
        assert ("λ=455 nm" in run.describe()) is shown, run.describe()


def test_the_runs_being_measured_are_reported_while_they_grow_and_an_error_is_retried(lab: Lab) -> None:
    clock, events, reports = Clock(), [], []
    failures = [RuntimeError("the dashboard went away")]

    def on_measuring(runs: tuple[Measured, ...]) -> None:
        if failures:
            raise failures.pop()
        reports.append(runs)

    watcher = MeasuringWatcher(replace(lab.config, watch_settle_seconds=5), on_event=events.append,
                               on_measuring=on_measuring)
    watcher.wall, watcher.full_rescan_seconds = clock, 3600
    data = raw_csv("It")
    path = lab.raw / "2025-10-14" / "It2025-10-14_1.csv"
    source = "2025-10-14/It2025-10-14_1.csv"
    write_pieces(path, data, clock, data.index(b"t (s)"))  # the header so far
    watcher.poll()  # a first look: new, not yet seen growing
    assert reports == [] and not events
    clock.advance(1)
    write_pieces(path, data, clock, len(data) // 2)
    watcher.poll()  # it grew, but reporting it failed: said, never fatal
    assert events[-1].kind == "error" and events[-1].message == "RuntimeError: the dashboard went away; retrying"
    clock.advance(1)
    write_pieces(path, data, clock, len(data))
    watcher.poll()
    assert reports[-1] == (Measured(source, "It2025-10-14_1.csv — Alisson67, λ=455 nm, 3 s of 3 s"),)
    watcher.poll()  # nothing changed: nothing said again
    assert len(reports) == 1
    clock.advance(6)
    watcher.poll()  # settled: staged, and no run is being measured any more
    assert events[-1].kind == "staged" and events[-1].staged == (source,)
    assert reports[-1] == () and lab.manifest().height == 1


def test_a_refused_stage_is_said_in_its_own_words_while_the_app_watches(lab: Lab, tmp_path: Path) -> None:
    """A user's problem (here: the raw root is not the one the store was built from) reads as the CLI says it,
    without an exception's class name, which the app keeps for a bug."""
    lab.write("2025-10-14/It2025-10-14_1.csv", raw_csv("It"))
    lab.stage()
    other = tmp_path / "elsewhere"
    shutil.copytree(lab.raw, other)  # the same files, not where the store's raw root was
    events: list[WatchEvent] = []
    config = replace(lab.config, raw_root=other, watch_settle_seconds=0)
    watcher = MeasuringWatcher(config, on_event=events.append, on_measuring=lambda runs: None)
    (other / "2025-10-14" / "It2025-10-14_2.csv").write_bytes(raw_csv("It", start=1760371684.0 + 600))
    watcher.poll()
    assert [event.kind for event in events] == ["error"]
    assert events[0].message.startswith(f"staging failed: the store {lab.config.store_root} was built from the raw "
                                        "root")  # as `stage --watch` says it, where it ended the watcher
    assert events[0].message.endswith("pass --raw-root-moved; will retry")


def test_a_queued_run_is_not_rejected_while_it_waits_for_its_turn(lab: Lab) -> None:
    """PyMeasure writes a queued run's file at once, header only (no #Metadata: as the real It2025-09-25_10.csv),
    inserts its start time when the run begins and appends the rows: a run not begun yet is waited for, not
    rejected (and a burn-in's header with its start time but no row yet, or a header half written, neither)."""
    clock, events = Clock(), []
    watcher = watcher_for(lab, clock, events)
    queued = lab.write("d/It2025-10-14_2.csv", raw_csv("It", start=None, rows=[]), mtime=clock.now)
    burn_in = lab.write("d/IVg2025-10-14_3.csv", raw_csv("IVg", start=1760371999.0, rows=[]), mtime=clock.now)
    half = raw_csv("IVg", start=1760372999.0)
    cut = lab.write("d/IVg2025-10-14_4.csv", half[: half.index(b"#Data")], mtime=clock.now)
    for _ in range(3):  # the queue's earlier runs are measured meanwhile
        clock.advance(30)
        watcher.poll()
    assert lab.rejects() == {} and [e for e in events if e.kind == "staged"] == []
    assert lab.manifest().height == 0
    for path, data in ((queued, raw_csv("It")), (burn_in, raw_csv("IVg", start=1760371999.0)), (cut, half)):
        path.write_bytes(data)  # in place: the folder's mtime does not change
        os.utime(path, (clock.now, clock.now))
    clock.advance(1)
    watcher.poll()
    clock.advance(6)
    watcher.poll()
    staged = [s for e in events if e.kind == "staged" for s in e.staged]
    assert sorted(staged) == ["d/IVg2025-10-14_3.csv", "d/IVg2025-10-14_4.csv", "d/It2025-10-14_2.csv"]
    assert lab.rejects() == {} and lab.manifest().height == 3


def test_a_header_without_rows_for_a_day_is_a_run_that_never_began(lab: Lab) -> None:
    """A queued run abandoned is rejected, as `labtui stage` rejects it, once its file is a day old; a first scan
    opens no file older than that (10k of them, on a share, to find none)."""
    clock, events = Clock(), []
    watcher = watcher_for(lab, clock, events)
    lab.write("d/It2025-10-14_2.csv", raw_csv("It", start=None, rows=[]), mtime=clock.now)
    lab.write("d/It2025-10-13_9.csv", raw_csv("It", start=None, rows=[]), mtime=clock.now - QUEUED_SECONDS - 1)
    watcher.poll()
    clock.advance(6)
    watcher.poll()
    assert set(lab.rejects()) == {"d/It2025-10-13_9.csv"} and watcher.state.waiting == {"d/It2025-10-14_2.csv"}
    clock.advance(QUEUED_SECONDS)
    watcher.poll()
    assert set(lab.rejects()) == {"d/It2025-10-13_9.csv", "d/It2025-10-14_2.csv"} and not watcher.state.waiting


def test_follow_reads_the_rows_of_a_procedure_with_a_text_column(lab: Lab) -> None:
    """IVsaw's `polarity` is text, as the stager stores it: its rows are counted while measured, not dropped."""
    data = raw_csv("IVsaw", columns=["Vsd (V)", "I (A)", "polarity"],
                   rows=["0.0,1e-9,positive", "0.1,2e-9,positive", "0.0,-1e-9,negative"])
    path = lab.raw / "IVsaw2025-10-13_1.csv"
    path.write_bytes(data[: data.index(b"0.0,-1e-9")])
    run = FollowedRun(path, load_registry())
    assert run.refresh() == 2
    path.write_bytes(data)
    assert run.refresh() == 1 and run.problem is None
    assert run.frame["polarity"].to_list() == ["positive", "positive", "negative"]
    assert run.describe() == "IVsaw2025-10-13_1.csv — Alisson67, 3 rows"


def test_the_measuring_line_reads_the_start_time_inserted_when_a_queued_run_begins(lab: Lab) -> None:
    """PyMeasure writes the header (here in two writes) when the run is queued and, as it begins, inserts the
    #Metadata with its start time above #Data: the line then names the run, not the header it saw first."""
    clock, reports = Clock(), []
    watcher = MeasuringWatcher(replace(lab.config, watch_settle_seconds=5), on_event=lambda event: None,
                               on_measuring=reports.append)
    watcher.wall, watcher.full_rescan_seconds = clock, 3600
    queued, begun = raw_csv("It", start=None, rows=[]), raw_csv("It")
    path, source = lab.raw / "d" / "It2025-10-14_1.csv", "d/It2025-10-14_1.csv"
    write_pieces(path, queued, clock, len(queued) // 2)
    watcher.poll()
    clock.advance(1)
    write_pieces(path, queued, clock, len(queued))
    watcher.poll()  # seen growing: followed, its header has no start time yet
    clock.advance(1)
    write_pieces(path, begun, clock, len(begun))  # the run begins: start time inserted, rows appended
    watcher.poll()
    assert reports[-1] == (Measured(source, "It2025-10-14_1.csv — Alisson67, λ=455 nm, 3 s of 3 s"),)


def test_a_queued_run_and_one_in_its_burn_in_are_on_the_measuring_line(lab: Lab) -> None:
    """Waited for, not staged: the dashboard named nothing as measured while the acquisition held them."""
    clock, reports = Clock(), []
    watcher = MeasuringWatcher(replace(lab.config, watch_settle_seconds=5), on_event=lambda event: None,
                               on_measuring=reports.append)
    watcher.wall, watcher.full_rescan_seconds = clock, 3600
    lab.write("d/It2025-10-14_2.csv", raw_csv("It", start=None, rows=[]), mtime=clock.now)
    lab.write("d/IVg2025-10-14_3.csv", raw_csv("IVg", start=1760371999.0, rows=[]), mtime=clock.now)
    for _ in range(2):
        clock.advance(6)
        watcher.poll()
    assert watcher.state.waiting == {"d/It2025-10-14_2.csv", "d/IVg2025-10-14_3.csv"}
    assert reports[-1] == (Measured("d/IVg2025-10-14_3.csv", "IVg2025-10-14_3.csv — Alisson67, 0 rows"),
                           Measured("d/It2025-10-14_2.csv", "It2025-10-14_2.csv — queued: its run has not begun"))


def test_a_queued_run_leaves_the_measuring_line_ten_minutes_after_its_queue_stopped(lab: Lab) -> None:
    """PyMeasure starts the next run as one ends: a queued run waits while the run before it is measured, and is
    said to; once nothing was measured for `QUEUE_STALLED_SECONDS` the queue was stopped, and the dashboard no
    longer says it measures the run (it said so for a day, until the file was rejected)."""
    clock, reports = Clock(), []
    watcher = MeasuringWatcher(replace(lab.config, watch_settle_seconds=5), on_event=lambda event: None,
                               on_measuring=reports.append)
    watcher.wall, watcher.full_rescan_seconds = clock, 3600
    queued = Measured("d/It2025-10-14_2.csv", "It2025-10-14_2.csv — queued: its run has not begun")
    lab.write("d/It2025-10-14_2.csv", raw_csv("It", start=None, rows=[]), mtime=clock.now)
    running = raw_csv("It", rows=it_rows(200.0))
    for piece in range(1, 5):  # the run before it, measured for 20 minutes
        write_pieces(lab.raw / "d" / "It2025-10-14_1.csv", running, clock, len(running) * piece // 5)
        watcher.poll()
        clock.advance(300)
    assert queued in reports[-1]
    clock.advance(QUEUE_STALLED_SECONDS - 301)  # the last growth was seen 599 s ago
    watcher.poll()
    assert queued in watcher.reported
    clock.advance(1)
    watcher.poll()
    assert queued not in watcher.reported and watcher.state.waiting == {queued.source_file}


def test_follow_starts_over_when_the_file_is_written_anew(lab: Lab) -> None:
    """A file cut shorter than what was read (written again from its start) is read again from its start."""
    path = lab.raw / "It2025-10-14_2.csv"
    path.write_bytes(raw_csv("It"))
    run = FollowedRun(path, load_registry())
    run.refresh()
    path.write_bytes(raw_csv("It", rows=it_rows()[:5]))
    run.refresh()
    assert run.frame.height == 5
