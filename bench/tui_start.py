"""Cold start of `labtui` to a usable dashboard, and a 10k-run chip history, measured headless.

    .venv/bin/python bench/tui_start.py [--raw ../shared/realdata/raw] [--repeat 5]

Cold start = a fresh Python process (imports, config, the store's overview, first paint) until the dashboard is
painted with the store's numbers and latest runs, timed from the parent; also until the app handles its next event
(after the paint, Polars is imported in a worker thread for the Dirac points and the validation, and holds the
interpreter meanwhile). Stores: the real data staged once into a temp folder,
and a synthetic 65k-run manifest (the real manifest repeated, one chip holding 10k+ runs) with the overview a commit
records beside it; and the same 65k store without that overview (as an older labtui left it: the numbers come from
the manifest, through Polars). Targets: ≤ 0.6 s and ≤ 1 s. Interleaved with them, a process that only imports
Polars and Textual: on a busy machine the ratio to it is the figure to trust.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import polars as pl

from labtui.core.config import StagingConfig
from labtui.core.manifest import read_manifest, write_manifest
from labtui.core.overview import write_overview
from labtui.core.stager import stage
from labtui.core.stat_index import manifest_digest

ROOT = Path(__file__).resolve().parents[1]
CHILD = """
import sys, time
from labtui.__main__ import tune_native_libraries
tune_native_libraries()  # as the `labtui` command does, before NumPy and Polars are imported
from labtui.core.config import load_config
from labtui.tui.app import LabApp
from labtui.tui.dashboard import DashboardScreen

painted = []
after_paint = DashboardScreen._load_the_rest

def stamped(screen):
    painted.append(time.time())  # Textual has refreshed the screen since the numbers and latest runs were set
    after_paint(screen)

async def until_ready(pilot):
    while not (isinstance(pilot.app.screen, DashboardScreen) and pilot.app.screen.loaded):
        await pilot.pause(0.005)
    print(painted[0], time.time(), flush=True)
    pilot.app.exit()

DashboardScreen._load_the_rest = stamped
config = load_config(None, raw_root=sys.argv[1], stage_root=sys.argv[2])
LabApp(config).run(headless=True, size=(120, 40), auto_pilot=until_ready)
"""


def cold_start(raw: Path, stage_root: Path) -> tuple[float, float]:
    """Seconds from the process's start until the dashboard was painted, and until the app handled its next event
    (the paint is followed by Polars' import in a worker thread, for the Dirac points and the validation)."""
    started = time.time()
    out = subprocess.run([sys.executable, "-c", CHILD, str(raw), str(stage_root)], capture_output=True, text=True,
                         check=True, cwd=ROOT)
    painted, answered = map(float, out.stdout.split()[-2:])
    return painted - started, answered - started


def imports_only() -> float:
    started = time.time()
    subprocess.run([sys.executable, "-c", "import polars, textual.app"], check=True, cwd=ROOT)
    return time.time() - started


def synthetic_manifest(real: StagingConfig, target: Path, copies: int, *, recorded: bool) -> StagingConfig:
    """The real manifest `copies` times under new paths and run_ids: same chips, 10k+ runs for the busiest; with
    the overview a commit records when `recorded`."""
    manifest = read_manifest(real.manifest_path)
    frames = [
        manifest.with_columns(
            run_id=pl.col("run_id").str.slice(0, 10) + pl.lit(f"{k:06x}"),
            source_file=pl.lit(f"copy{k}/") + pl.col("source_file"),
            start_time_utc=pl.col("start_time_utc") + pl.duration(days=30 * k),
        )
        for k in range(copies)
    ]
    config = StagingConfig(raw_root=real.raw_root, stage_root=target / "raw_measurements")
    manifest = pl.concat(frames)
    write_manifest(manifest, config.manifest_path)
    if recorded:
        write_overview(config.manifest_path, manifest, config.local_tz, manifest_digest(config.manifest_path))
    return config


async def history_timings(config: StagingConfig) -> tuple[int, dict[str, float]]:
    """In-process, once the dashboard is idle: open the busiest chip's history, filter by procedure, sort, scroll."""
    from labtui.tui.app import LabApp
    from labtui.tui.history import HistoryScreen

    app = LabApp(config)
    timings: dict[str, float] = {}
    async with app.run_test(size=(120, 40)) as pilot:
        started = time.perf_counter()
        while not app.screen.loaded or app.last_validation is None:  # the dashboard validates in the background
            await pilot.pause(0.01)
        timings["dashboard + background validation"] = time.perf_counter() - started
        busiest = app.store.chips().sort("n_runs", descending=True).row(0, named=True)
        steps = (("open", ()), ("filter t", ("t",)), ("o: the sort list", ("o",)), ("j", ("j",)),
                 ("enter: sorted by date", ("enter",)), ("scroll to end", ("end",)))
        for label, keys in steps:
            started = time.perf_counter()
            if not keys:
                await app.push_screen(HistoryScreen(busiest["chip_group"], busiest["chip_number"]))
            else:
                await pilot.press(*keys)
            await pilot.pause()
            await app.workers.wait_for_complete()
            await pilot.pause()
            timings[label] = time.perf_counter() - started
    return busiest["n_runs"], timings


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--raw", type=Path, default=ROOT.parent / "shared" / "realdata" / "raw")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--copies", type=int, default=118, help="65k runs from the real data's 552")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="labtui-bench-") as tmp:
        real = StagingConfig(raw_root=args.raw, stage_root=Path(tmp) / "real" / "raw_measurements")
        stage(real)
        big = synthetic_manifest(real, Path(tmp) / "big", args.copies, recorded=True)
        older = synthetic_manifest(real, Path(tmp) / "older", args.copies, recorded=False)
        stores = {"real data": (real, 0.6), "65k runs": (big, 1.0), "65k runs, no overview recorded": (older, 1.0)}
        times: dict[str, list[float]] = {name: [] for name in (*stores, "imports")}
        answered: dict[str, list[float]] = {name: [] for name in stores}
        for _ in range(args.repeat):  # interleaved, so that a change in the machine's load hits every figure alike
            for name, (config, _target) in stores.items():
                paint, answer = cold_start(config.raw_root, config.stage_root)
                times[name].append(paint)
                answered[name].append(answer)
            times["imports"].append(imports_only())
        floor = statistics.median(times["imports"])
        print(f"python -c 'import polars, textual.app' (reference): median {floor:.2f} s")
        for name, (config, target) in stores.items():
            runs, median = read_manifest(config.manifest_path).height, statistics.median(times[name])
            verdict = "ok" if median <= target else "TOO SLOW"
            print(f"cold start, {name} ({runs} runs): painted, median {median:.2f} s = {median / floor:.2f}× the "
                  f"reference, min {min(times[name]):.2f} s, max {max(times[name]):.2f} s  (target ≤ {target:g} s: "
                  f"{verdict}); next event handled, median {statistics.median(answered[name]):.2f} s")
        runs, timings = asyncio.run(history_timings(big))
        print(f"65k runs, in-process (times include the harness's settling): the history of a {runs}-run chip: "
              + ", ".join(f"{label} {seconds * 1000:.0f} ms" for label, seconds in timings.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
