"""Trends speed: `T` on a chip of a 65k-run store to the first painted trend, and tab to the next trend.

    .venv/bin/python bench/trends.py [--runs 65000] [--chip-runs 10000] [--repeat 5]

Stages a small synthetic lab (labtui.synth, one chip), then repeats its manifest rows and their metrics rows under
new run_ids until the store holds `--runs` runs, `--chip-runs` of them on the measured chip (the rest on other
chips), as a lab's years would. The trends read only the manifest, the metrics table and the annotations, so no
run Parquet is copied. Headless and in-process, times from `push_screen(TrendsScreen(...))` to the first render of
the plot (worker: chip rows, metrics read and join; then the spec and plotext), and from `tab` to the next trend's
render. Target ≤ 200 ms. Interleaved with each round, the plot screen opening one IVg run of the same store (the
`p` that bench/plot.py holds to < 200 ms) is timed the same way, so a loaded machine still gives a fair ratio.
Prints milliseconds and the ratio of medians; not a test.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import tempfile
import time
from pathlib import Path

import polars as pl
from _timing import Painted, Rounds

from labtui.cli import main as labtui_main
from labtui.core.annotations import current_annotations
from labtui.core.config import StagingConfig, load_config
from labtui.core.manifest import read_manifest, write_manifest
from labtui.core.metrics import read_metrics
from labtui.core.plotdata.selection import chip_runs
from labtui.core.plotdata.trends import Trend, trend_rows, trend_spec
from labtui.core.plotdata.view import plot_rows
from labtui.synth import LabSpec
from labtui.synth.demo import config_file_of, write_demo
from labtui.tui.app import LabApp
from labtui.tui.plot import PlotScreen
from labtui.tui.trends import TrendsScreen

SIZE = (160, 50)
TARGET_MS = 200
REFERENCE = "p → one IVg (reference)"
OTHER_CHIP = 1000  # copies beyond the measured chip's share go to chips number + 1000, + 2000, …


def big_store(folder: Path, runs: int, chip_runs_wanted: int) -> tuple[StagingConfig, int]:
    """The demo lab staged, its manifest and metrics repeated to `runs` rows; the measured chip's number."""
    write_demo(folder, LabSpec(chips=1, days=20, seed=7, irregularities=False))
    assert labtui_main(["stage", "-q", "--config", str(config_file_of(folder))]) == 0
    config = load_config(config_file_of(folder))
    manifest, metrics = read_manifest(config.manifest_path), read_metrics(config)
    number = int(manifest["chip_number"].drop_nulls()[0])
    on_chip = manifest.filter(pl.col("chip_number") == number).height
    copies, same_chip = math.ceil(runs / manifest.height), math.ceil(chip_runs_wanted / on_chip)

    def copy(frame: pl.DataFrame, k: int) -> pl.DataFrame:
        return frame.with_columns(
            run_id=pl.col("run_id").str.slice(0, 10) + pl.lit(f"{k:06x}"),
            source_file=pl.lit(f"copy{k}/") + pl.col("source_file"),
            start_time_utc=pl.col("start_time_utc") + pl.duration(days=30 * (k % same_chip)),
            chip_number=pl.col("chip_number") + OTHER_CHIP * (k // same_chip),
        )

    write_manifest(pl.concat([copy(manifest, k) for k in range(copies)]).head(runs), config.manifest_path)
    pl.concat([copy(metrics, k) for k in range(copies)]).write_parquet(config.metrics_path)
    return config, number


async def time_screens(config: StagingConfig, number: int, repeat: int) -> Rounds:
    """Per round: open the trends, tab to the next trend, and (the reference) open one IVg run's plot."""
    painted = Painted()
    times = Rounds("T → trend", "tab → next", REFERENCE)
    app = LabApp(config)
    async with app.run_test(size=SIZE) as pilot:
        await app.workers.wait_for_complete()
        manifest = app.store.manifest()  # the app holds it once the dashboard has loaded
        ivg = manifest.filter(pl.col("chip_number") == number, pl.col("proc") == "IVg")["run_id"][:1]
        reference = plot_rows(manifest, ivg, config.local_tz)
        await pilot.pause()
        for _ in range(repeat):
            screen = TrendsScreen("Alisson", number)
            painted.expect(screen)
            started = time.perf_counter()
            app.push_screen(screen)
            times.add("T → trend", await painted.since(started))
            painted.expect(screen)
            started = time.perf_counter()
            await pilot.press("tab")
            times.add("tab → next", await painted.since(started))
            app.pop_screen()
            await pilot.pause()
            plot = PlotScreen(reference)
            painted.expect(plot)
            started = time.perf_counter()
            app.push_screen(plot)
            times.add(REFERENCE, await painted.since(started))
            app.pop_screen()
            await pilot.pause()
    return times


def breakdown(config: StagingConfig, number: int) -> str:
    """Where an open goes, engine side: the chip's rows, the metrics read and join, one trend's spec."""
    manifest = read_manifest(config.manifest_path)
    started = time.perf_counter()
    runs = chip_runs(manifest, number, "Alisson", None, tz=config.local_tz)
    chip = time.perf_counter() - started
    started = time.perf_counter()
    rows = trend_rows(runs, read_metrics(config), current_annotations(config.store_root))
    joined = time.perf_counter() - started
    started = time.perf_counter()
    spec = trend_spec(Trend.CNP, rows, tz=config.local_tz)
    shaped = time.perf_counter() - started
    points = sum(s.x.size for s in spec.series)
    return (f"{manifest.height:,} runs, chip of {runs.height:,}: its rows {chip * 1000:.0f} ms, metrics read + join "
            f"{joined * 1000:.0f} ms, CNP trend ({points:,} points) {shaped * 1000:.1f} ms")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=65_000)
    parser.add_argument("--chip-runs", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="labtui-bench-trends-") as tmp:
        config, number = big_store(Path(tmp), args.runs, args.chip_runs)
        print(breakdown(config, number))
        asyncio.run(time_screens(config, number, args.repeat)).report(reference=REFERENCE, target_ms=TARGET_MS)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
