"""A believable lab: chips measured over weeks in the acquisition's folder layout, with the real irregularities.

The lab is planned first (`schedule.py`: a queue per day with a clock in UTC, chip states evolving in time order),
then its files are named and written here. Every irregularity of the real data can be switched on or off by name;
the summary (`labspec.py`) says which files carry which, and what a stager is expected to do with them.
"""

from __future__ import annotations

import datetime as dt
import itertools
import random
from collections import Counter
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np

from labtui.synth.labspec import IrregularFile, LabSpec, LabSummary, RunInfo
from labtui.synth.runs import Countdown, PlannedRun
from labtui.synth.schedule import Planner
from labtui.synth.writer import nominal_rows, write_measurement


def _assign_indices(plan: list[PlannedRun], spec: LabSpec, rng: random.Random) -> list[IrregularFile]:
    """Queue indices per day folder and procedure, in queue order, with the skips and swaps of the real data."""
    counters: Counter[tuple[str, str]] = Counter()
    gaps = Countdown(rng, (3, 15), (40, 120))
    irregular = []
    for run in sorted(plan, key=lambda run: run.start):
        key = (run.folder, run.proc)
        counters[key] += 1
        if spec.enabled("index_gap") and gaps.fire():
            counters[key] += 1
            irregular.append((run, "index_gap", f"queue index {counters[key] - 1} missing"))
        run.file_idx = counters[key]
    if spec.enabled("index_out_of_order"):
        by_queue: dict[tuple[str, str], list[PlannedRun]] = {}
        for run in sorted(plan, key=lambda run: run.start):
            by_queue.setdefault((run.folder, run.proc), []).append(run)
        pairs = [
            (a, b)
            for runs in by_queue.values()
            for a, b in itertools.pairwise(runs)
            if b.file_idx == a.file_idx + 1 and not (a.header_only or b.header_only)
        ]
        for a, b in rng.sample(pairs, min(2, len(pairs))):
            a.file_idx, b.file_idx = b.file_idx, a.file_idx
            irregular.extend(
                (run, "index_out_of_order", "queue index order differs from start-time order") for run in (a, b)
            )
    return [IrregularFile(run.name, kind, detail, "stage") for run, kind, detail in irregular]


def _mark_in_progress(plan: list[PlannedRun], rng: random.Random) -> None:
    """The newest run is still being written when the lab is looked at."""
    run = max((run for run in plan if not run.header_only), key=lambda run: run.start)
    run.in_progress = True
    run.n_rows = int(rng.uniform(0.3, 0.7) * nominal_rows(run.proc, run.header))



def _write_junk(root: Path, folders: list[str], rng: random.Random) -> list[IrregularFile]:
    """Finder's .DS_Store, at the root and in one day folder: binary, not a measurement."""
    junk = []
    for folder in ("", rng.choice(folders)):
        path = root / folder / ".DS_Store"
        body = bytes(rng.getrandbits(8) if i % 97 == 0 else 0 for i in range(6144))
        path.write_bytes(b"\x00\x00\x00\x01Bud1" + body)
        relative = path.relative_to(root).as_posix()
        junk.append(IrregularFile(relative, "junk_file", "Finder metadata, not a measurement", "ignore"))
    return junk


def _classify(run: PlannedRun, info: RunInfo, zone: ZoneInfo, group: str) -> list[IrregularFile]:
    """The irregularities a written run carries, read off what was actually written."""
    found = []
    if run.header_only:
        found.append(("header_only", "no #Metadata, no start time, no data rows", "reject"))
    elif run.in_progress:
        found.append(("in_progress", f"still being written: {info.n_rows} rows so far, just modified", "defer"))
    elif not info.complete:
        found.append(("aborted_run", f"{info.n_rows} of {info.expected_rows} rows", "stage_incomplete"))
    if info.start_utc is not None and info.date_local is not None:
        local = info.start_utc.astimezone(zone)
        if info.date_local != run.queue_date:
            found.append(("overnight_run", f"queued {run.queue_date}, starts {local:%Y-%m-%d %H:%M} local", "stage"))
        elif info.start_utc.date() != info.date_local:
            found.append(("evening_run", f"starts {local:%H:%M} local, {info.start_utc:%Y-%m-%d} UTC", "stage"))
    if run.chip is not None and run.chip.group != group:
        found.append(("chip_reused", f"chip number {run.chip.number} also used by group {group}", "stage"))
    if run.device is not None and run.device.dead:
        found.append(("dead_chip", "currents at noise level (dead channel)", "stage"))
    return [IrregularFile(info.path, kind, detail, expect) for kind, detail, expect in found]


def generate_lab(root: Path, spec: LabSpec | None = None) -> LabSummary:
    """Write a whole lab under `root` (the raw root, e.g. data/01_raw) and return its ground truth.

    Deterministic for `spec.seed`: the same spec gives a byte-identical tree. File mtimes are the runs' end times
    (except an in-progress file, which keeps its write time).
    """
    spec = spec or LabSpec()
    root = Path(root)
    zone = ZoneInfo(spec.tz)
    rng = random.Random(spec.seed + 1)
    plan = Planner(spec).build()
    irregular = _assign_indices(plan, spec, rng)
    if spec.enabled("in_progress"):
        _mark_in_progress(plan, rng)
    runs = []
    for run in plan:
        written = write_measurement(
            root / run.name,
            run.proc,
            run.header,
            start_epoch=run.start,
            device=run.device,
            vd=0.0 if run.vd is None else run.vd,
            rng=np.random.default_rng([spec.seed, run.ordinal]),
            laser_factor=run.laser_factor,
            n_rows=run.n_rows,
            header_only=run.header_only,
            set_mtime=not run.in_progress,
            mobility_factor=run.chip.mobility_factor if run.chip else None,
        )
        start = None if run.header_only else dt.datetime.fromtimestamp(run.start, dt.UTC)
        laser_v = run.header.get("Laser voltage")
        info = RunInfo(
            path=run.name,
            proc=run.proc,
            chip=(run.chip.group, run.chip.number) if run.chip else None,
            day_folder=run.folder,
            start_utc=start,
            date_local=start.astimezone(zone).date() if start else None,
            n_rows=written.n_rows,
            expected_rows=written.expected_rows,
            laser_voltage=float(laser_v.split()[0]) if laser_v else None,
            wavelength_nm=float(run.header["Laser wavelength"]),
            dirac_v=run.vd,
            truth=written.truth,
        )
        runs.append(info)
        irregular += _classify(run, info, zone, spec.group)
    folders = sorted({run.folder for run in plan})
    if spec.enabled("junk_file"):
        irregular += _write_junk(root, folders, rng)
    if spec.enabled("legacy_folder"):
        irregular += [
            IrregularFile(folder, "legacy_folder", "hand-made day folder name", "stage")
            for folder in folders
            if not folder[:4].isdigit()
        ]
    chips = sorted({info.chip for info in runs if info.chip is not None})
    params = {run.chip.name: run.chip.geometry for run in plan if run.chip is not None}
    return LabSummary(root, tuple(runs), tuple(irregular), tuple(chips), dict(sorted(params.items())))
