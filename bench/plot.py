"""Plot speed: pressing `p` on the largest real It run and on 10 overlaid It runs, and re-rendering on a resize.

    .venv/bin/python bench/plot.py [--repeat 5]

Stages the runs into a temp store: the real 85k-point It2025-10-20_2.csv and the ten largest It runs of
2025-10-23 from ../shared/realdata, or, when that is absent, synthetic runs of the same sizes. Then, headless and
in-process, times from `push_screen(PlotScreen(...))` to the first paint of the plot (Parquet read in the worker,
shaping, plotext), and from a terminal resize to the re-rendered plot. Target < 200 ms. Prints milliseconds; not a test.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import shutil
import tempfile
import time
from pathlib import Path

import polars as pl
from _timing import Painted, Rounds
from textual.app import App
from textual_plotext.plot import Plot

from labtui.core.config import StagingConfig
from labtui.core.manifest import read_manifest
from labtui.core.plotdata import PlotOptions, load_selection, shape
from labtui.core.plotdata.view import plot_rows
from labtui.core.stager import stage
from labtui.synth import write_run
from labtui.synth.physics import SAMPLE_INTERVAL_S
from labtui.tui.app import freeze_long_lived
from labtui.tui.plot import PlotScreen
from labtui.tui.plot_view import draw_spec, palette_for
from labtui.tui.store import Store

REAL_RAW = Path(__file__).resolve().parents[2] / "shared" / "realdata" / "raw"
LARGEST = "2025-10-20/It2025-10-20_2.csv"
OVERLAY_DAY = "2025-10-23"
SYNTH_ROWS = (85_000, *[80_000] * 7, *[8_500] * 3)  # the real sizes: one 85k run, then 7 × 80k and 3 × 8.5k
SIZE, RESIZED = (160, 50), (120, 40)
TARGET_MS = 200


def real_files(raw: Path) -> tuple[list[str], list[list[str]]]:
    """Copy the largest It run and the ten largest It runs of one day; the selections as source paths."""
    day = sorted(REAL_RAW.joinpath(OVERLAY_DAY).glob("It*.csv"), key=lambda path: path.stat().st_size)[-10:]
    chosen = [REAL_RAW / LARGEST, *day]
    for path in chosen:
        target = raw / path.relative_to(REAL_RAW)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, target)
    return [LARGEST], [[path.relative_to(REAL_RAW).as_posix() for path in day]]


def synthetic_files(raw: Path) -> tuple[list[str], list[list[str]]]:
    """Runs of the real sizes, from the synthetic lab (one It period spans 2/3 of the run, as in the real files)."""
    start = dt.datetime(2025, 10, 20, 15, tzinfo=dt.UTC)
    names = []
    for index, rows in enumerate(SYNTH_ROWS):
        period = round(rows * SAMPLE_INTERVAL_S / 1.5)
        path = write_run(raw / "2025-10-20", "It", file_idx=index + 1, start_utc=start + dt.timedelta(hours=2 * index),
                         params={"Laser ON+OFF period": period, "Laser voltage": 1.0 + 0.1 * index}, seed=index)
        names.append(path.relative_to(raw).as_posix())
    return names[:1], [names[1:]]


def selection(config: StagingConfig, sources: list[str]) -> pl.DataFrame:
    manifest = read_manifest(config.manifest_path)
    ids = manifest.filter(pl.col("source_file").is_in(sources))["run_id"].to_list()
    return plot_rows(manifest, ids, config.local_tz)


class Host(App):
    """A bare app holding what the plot screen reads through: the config and the store's door."""

    def __init__(self, config: StagingConfig) -> None:
        super().__init__()
        self.config = config
        self.store = Store(config)

    def on_mount(self) -> None:
        freeze_long_lived()  # as the real app does when it mounts


async def time_screen(config: StagingConfig, runs: pl.DataFrame, repeat: int) -> Rounds:
    """Open and resize wall times over `repeat` pushes of a fresh PlotScreen, interleaved."""
    painted = Painted()
    times = Rounds("p → plot", "resize → plot")
    app = Host(config)
    async with app.run_test(size=SIZE) as pilot:
        for _ in range(repeat):
            screen = PlotScreen(runs)
            painted.expect(screen)
            started = time.perf_counter()
            app.push_screen(screen)
            times.add("p → plot", await painted.since(started))
            painted.expect(screen)
            started = time.perf_counter()
            await pilot.resize_terminal(*RESIZED)
            times.add("resize → plot", await painted.since(started))
            await pilot.resize_terminal(*SIZE)
            app.pop_screen()
            await pilot.pause()
    return times


def breakdown(config: StagingConfig, runs: pl.DataFrame) -> str:
    """Where an open goes: reading Parquet (worker thread), shaping, and plotext building the text."""
    started = time.perf_counter()
    (group,) = load_selection(runs, config.stage_root)
    read = time.perf_counter() - started
    started = time.perf_counter()
    spec = shape(group, PlotOptions(), SIZE[0] - 34)
    shaped = time.perf_counter() - started
    plt = Plot()
    plt.plotsize(SIZE[0] - 34, SIZE[1] - 8)
    started = time.perf_counter()
    draw_spec(plt, spec, palette_for({"surface": "#1e1e1e", "foreground": "#e0e0e0"}), SIZE[0] - 34)
    plt.build()
    built = time.perf_counter() - started
    points = sum(len(columns["t_s"]) for columns in group.columns)
    return (f"{points:,} points read in {read * 1000:.0f} ms, shaped to {sum(s.x.size for s in spec.series):,} in "
            f"{shaped * 1000:.1f} ms, plotext {built * 1000:.0f} ms")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="labtui-bench-plot-") as tmp:
        config = StagingConfig(raw_root=Path(tmp) / "raw", stage_root=Path(tmp) / "store" / "raw_measurements")
        config.raw_root.mkdir()
        real = REAL_RAW.is_dir()
        largest, (overlay,) = (real_files if real else synthetic_files)(config.raw_root)
        stage(config)
        print(f"{'real' if real else 'synthetic (../shared/realdata absent)'} runs, terminal {SIZE[0]}×{SIZE[1]}, "
              f"resized to {RESIZED[0]}×{RESIZED[1]}, {args.repeat} repeats")
        for name, sources in (("largest It run", largest), (f"{len(overlay)} overlaid It runs", overlay)):
            runs = selection(config, sources)
            print(f"{name}: {breakdown(config, runs)}")
            asyncio.run(time_screen(config, runs, args.repeat)).report(target_ms=TARGET_MS)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
