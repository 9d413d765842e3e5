"""Cost of watching: idle CPU with many raw files under watch, and the delay from a finished file to its run.

    .venv/bin/python bench/watch.py [--files 10000] [--idle 20]

Writes N small synthetic runs (IVg sweeps, in day folders of 200, last written two days ago), stages them once,
then runs the watcher in this process for `--idle` seconds and reports its CPU time as a share of one core (target
< 2 %); then writes one new file and reports how long after its last write it appears in the manifest (target:
settle time + 2 s). Last, where /proc tells a process's CPU, the command a lab PC runs: `labtui stage --watch` on a
new store, which stages the backlog itself, then idles (the same target).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

from labtui.core.config import load_config
from labtui.core.manifest import read_manifest
from labtui.core.stager import stage
from labtui.core.watch import Watcher
from labtui.synth import write_run

FILES_PER_FOLDER = 200
BACKLOG_AGE_SECONDS = 2 * 86400  # the runs' last writes: a lab's folder of earlier days
# before idle is measured: the first scan's stage (or the backlog's metrics table) done, and the allocator's freed
# pages given back (Polars' jemalloc purges over ~10 s: 0.6 % of a core in a window begun 3 s after a stage)
SETTLING_SECONDS = 15


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def write_lab(raw: Path, n: int) -> Callable[[int], bytes]:
    """N short IVg runs: many files, little data (watching cost depends on the file count, not on sizes).
    Returns the maker of run i's content, for writing one more later."""
    start = dt.datetime(2025, 9, 1, 12, tzinfo=dt.UTC)
    template = write_run(raw / "template", "IVg", file_idx=1, start_utc=start, seed=1,
                         params={"VG start": -1, "VG end": 1, "VG step": 0.5})
    content = template.read_bytes()
    template.unlink()
    template.parent.rmdir()
    marker = content.index(b"Start time: ") + len(b"Start time: ")
    end = content.index(b"\r", marker)

    def make(i: int) -> bytes:
        return content[:marker] + str(start.timestamp() + 60 * i).encode() + content[end:]

    for i in range(n):
        folder = raw / f"day{i // FILES_PER_FOLDER:04d}"
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"IVg2025-09-01_{i}.csv"
        path.write_bytes(make(i))
        os.utime(path, (time.time() - BACKLOG_AGE_SECONDS,) * 2)
    return make


def process_cpu_seconds(pid: int) -> float:
    """A process's CPU time, all its threads (Linux's /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def command_idle_share(raw: Path, store: Path, files: int, settle: float, idle: float) -> float:
    """`labtui stage --watch` on a new store: the CPU share of one core it takes idle, once it has staged the
    backlog (its main thread, its watcher and the libraries' threads)."""
    command = [sys.executable, "-m", "labtui", "stage", "--watch", "--raw-root", str(raw), "--stage-root",
               str(store / "raw_measurements"), "--settle", f"{settle:g}", "-q"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        manifest = store / "_manifest" / "manifest.parquet"
        deadline = time.perf_counter() + 600
        while not (manifest.exists() and read_manifest(manifest).height == files):
            if process.poll() is not None or time.perf_counter() > deadline:
                raise SystemExit(f"labtui stage --watch ended or stalled before staging {files} files")
            time.sleep(0.2)
        time.sleep(settle + SETTLING_SECONDS)
        cpu, wall = process_cpu_seconds(process.pid), time.perf_counter()
        time.sleep(idle)
        return (process_cpu_seconds(process.pid) - cpu) / (time.perf_counter() - wall)
    finally:
        process.terminate()
        process.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=10_000)
    parser.add_argument("--idle", type=float, default=20.0, help="seconds of idle watching to measure")
    parser.add_argument("--settle", type=float, default=2.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-watch-") as tmp:
        raw = Path(tmp) / "raw"
        make = write_lab(raw, args.files)
        config = load_config(None, raw_root=raw, stage_root=Path(tmp) / "stage" / "raw_measurements",
                             watch_settle_seconds=args.settle, watch_poll_seconds=1.0)
        started = time.perf_counter()
        report = stage(config)
        print(f"{args.files} files in {args.files // FILES_PER_FOLDER} folders, staged in "
              f"{time.perf_counter() - started:.1f} s ({report.staged} staged)")
        cancel = threading.Event()
        watcher = Watcher(config)
        thread = threading.Thread(target=watcher.run, args=(cancel,))
        cpu = cpu_seconds()
        thread.start()
        time.sleep(args.settle + SETTLING_SECONDS)
        print(f"the watcher's start: its first scan and the stage of every file it lists (nothing to stage): "
              f"{cpu_seconds() - cpu:.2f} s of CPU")
        cpu, wall = cpu_seconds(), time.perf_counter()
        time.sleep(args.idle)
        idle_share = (cpu_seconds() - cpu) / (time.perf_counter() - wall)
        print(f"idle watching: {idle_share:.2%} of one core over {args.idle:.0f} s (target < 2 %)")
        new = raw / "day0000" / "IVg2025-09-01_new.csv"
        new.write_bytes(make(args.files))
        written = time.perf_counter()
        while read_manifest(config.manifest_path).height == report.staged and time.perf_counter() - written < 60:
            time.sleep(0.05)
        delay = time.perf_counter() - written
        print(f"new file staged {delay:.2f} s after its last write (settle {args.settle:g} s; target ≤ settle + 2 s)")
        cancel.set()
        thread.join()
        if Path("/proc/self/stat").exists():
            share = command_idle_share(raw, Path(tmp) / "command", args.files + 1, args.settle, args.idle)
            print(f"labtui stage --watch, idle after staging the backlog itself: {share:.2%} of one core over "
                  f"{args.idle:.0f} s (target < 2 %)")


if __name__ == "__main__":
    main()
