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
import statistics
import tempfile
import time
from pathlib import Path

import polars as pl
from textual.app import App
from textual_plotext.plot import Plot

from labtui.core.config import StagingConfig
from labtui.core.manifest import read_manifest
from labtui.core.plotdata import PlotOptions, load_selection, shape
from labtui.core.plotdata.view import plot_rows
from labtui.core.stager import stage
from labtui.synth import write_run
from labtui.synth.physics import SAMPLE_INTERVAL_S
from labtui.tui.plot import PlotScreen
from labtui.tui.plot_view import PlotView, draw_spec, palette_for
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


class Painted:
    """Wraps `PlotView.render` to record when the plot was first rendered with a new spec."""

    def __init__(self) -> None:
        self.event = asyncio.Event()
        self.at = 0.0  # perf_counter() when that render returned
        self.screen: PlotScreen | None = None
        self.old: object = None  # the spec painted before: waiting for a newer one
        original = PlotView.render

        def render(view: PlotView):
            result = original(view)
            spec = None if self.screen is None else self.screen.spec
            if spec is not None and spec is not self.old and view.shaped_width == view.size.width:
                self.at = time.perf_counter()
                self.event.set()
            return result

        PlotView.render = render  # type: ignore[method-assign]

    def expect(self, screen: PlotScreen) -> None:
        """Call before the action timed: the next paint of a spec other than the current one sets the event."""
        self.screen, self.old = screen, screen.spec
        self.event.clear()

    async def since(self, started: float) -> float:
        """Milliseconds from `started` to the expected render."""
        await asyncio.wait_for(self.event.wait(), 10)
        return (self.at - started) * 1000


class Host(App):
    """A bare app holding what the plot screen reads through: the config and the store's door."""

    def __init__(self, config: StagingConfig) -> None:
        super().__init__()
        self.config = config
        self.store = Store(config)


async def time_screen(config: StagingConfig, runs: pl.DataFrame, repeat: int) -> tuple[list[float], list[float]]:
    """(open, resize) wall times in ms over `repeat` pushes of a fresh PlotScreen."""
    painted = Painted()
    opens, resizes = [], []
    app = Host(config)
    async with app.run_test(size=SIZE) as pilot:
        for _ in range(repeat):
            screen = PlotScreen(runs)
            painted.expect(screen)
            started = time.perf_counter()
            app.push_screen(screen)
            opens.append(await painted.since(started))
            painted.expect(screen)
            started = time.perf_counter()
            await pilot.resize_terminal(*RESIZED)
            resizes.append(await painted.since(started))
            await pilot.resize_terminal(*SIZE)
            app.pop_screen()
            await pilot.pause()
    return opens, resizes


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
    draw_spec(plt, spec, palette_for({"surface": "#1e1e1e", "foreground": "#e0e0e0"}))
    plt.build()
    built = time.perf_counter() - started
    points = sum(len(columns["t_s"]) for columns in group.columns)
    return (f"{points:,} points read in {read * 1000:.0f} ms, shaped to {sum(s.x.size for s in spec.series):,} in "
            f"{shaped * 1000:.1f} ms, plotext {built * 1000:.0f} ms")


def report(name: str, opens: list[float], resizes: list[float]) -> None:
    for label, times in (("p → plot", opens), ("resize → plot", resizes)):
        median = statistics.median(times)
        verdict = "ok" if median < TARGET_MS else "TOO SLOW"
        print(f"  {label:14} median {median:5.0f} ms, min {min(times):5.0f}, max {max(times):5.0f}  "
              f"(target < {TARGET_MS} ms: {verdict})")


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
            report(name, *asyncio.run(time_screen(config, runs, args.repeat)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
