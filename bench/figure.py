"""Figure speed: `labtui plot CHIP --seq … --out fig.pdf` of 10 It runs, as a whole process (imports included).

    python bench/figure.py [--repeat 5]

Stages the ten largest It runs of 2025-10-23 from ../shared/realdata (or, when that is absent, synthetic runs of
the same sizes) into a temp store, then runs, interleaved `--repeat` times: `labtui --version` (the interpreter
and labtui's own start), `labtui plot` writing PDF, SVG and PNG, and the PDF drawn in the command's own process
(`worth_a_process` patched to say no: what it costs without the renderer process, which imports matplotlib while
the command reads the data). Prints the medians, the PDF's ratio to the 1.5 s target and to the one-process PDF.
Bytecode is cached (in a temp folder) and warmed by an untimed first round, as in an installed labtui
(bench/cli_start.py does the same). Not a test.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import polars as pl

from labtui.core.config import StagingConfig
from labtui.core.manifest import read_manifest
from labtui.core.plotdata.view import plot_rows
from labtui.core.stager import stage
from labtui.synth import write_run
from labtui.synth.physics import SAMPLE_INTERVAL_S

REAL_RAW = Path(__file__).resolve().parents[2] / "shared" / "realdata" / "raw"
DAY = "2025-10-23"
SYNTH_ROWS = (*[80_000] * 7, *[8_500] * 3)  # the sizes of the real day's ten largest It runs
TARGET_S = 1.5


def raw_files(raw: Path) -> str:
    if REAL_RAW.is_dir():
        for path in sorted(REAL_RAW.joinpath(DAY).glob("It*.csv"), key=lambda path: path.stat().st_size)[-10:]:
            target = raw / DAY / path.name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, target)
        return f"real: the ten largest It runs of {DAY}"
    start = dt.datetime(2025, 10, 23, 15, tzinfo=dt.UTC)
    for index, rows in enumerate(SYNTH_ROWS):
        period = round(rows * SAMPLE_INTERVAL_S / 1.5)
        write_run(raw / DAY, "It", file_idx=index + 1, start_utc=start + dt.timedelta(hours=2 * index),
                  params={"Laser ON+OFF period": period, "Laser voltage": 1.0 + 0.1 * index}, seed=index)
    return "synthetic: ten It runs of the real sizes"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="labtui-bench-figure-") as folder:
        root = Path(folder)
        source = raw_files(root / "raw")
        config = StagingConfig(raw_root=root / "raw", stage_root=root / "store" / "raw_measurements")
        stage(config)
        manifest = read_manifest(config.manifest_path)
        runs = plot_rows(manifest, manifest.filter(pl.col("proc") == "It")["run_id"], config.local_tz)
        chip = runs.group_by("chip_group", "chip_number").len().sort("len").row(-1, named=True)
        runs = runs.filter(
            (pl.col("chip_number") == chip["chip_number"]) & (pl.col("chip_group") == chip["chip_group"])
        )
        seqs = ",".join(map(str, runs["seq"].to_list()))
        points = int(runs["n_rows"].sum())
        base = [sys.executable, "-m", "labtui"]
        store = ["--raw-root", str(config.raw_root), "--stage-root", str(config.stage_root)]
        commands = {"labtui --version": [*base, "--version"]}
        for ext in ("pdf", "svg", "png"):
            commands[f"plot → {ext}"] = [
                *base,
                "plot",
                str(chip["chip_number"]),
                "--group",
                chip["chip_group"],
                "--seq",
                seqs,
                *store,
                "--out",
                str(root / f"fig.{ext}"),
            ]
        one_process = ("import sys, labtui.core.renderer as r; r.worth_a_process = lambda: False; "
                       "from labtui.__main__ import run; sys.exit(run())")
        commands["plot → pdf, one process"] = [sys.executable, "-c", one_process, *commands["plot → pdf"][3:]]
        env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1]),
               "PYTHONPYCACHEPREFIX": str(root / "pycache")}
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        for command in commands.values():
            subprocess.run(command, check=True, capture_output=True, env=env)  # bytecode and file caches
        times: dict[str, list[float]] = {name: [] for name in commands}
        cpu: dict[str, list[float]] = {name: [] for name in commands}  # user + sys: what load does not inflate
        for _ in range(args.repeat):
            for name, command in commands.items():  # interleaved: a load spike hits every command alike
                before = resource.getrusage(resource.RUSAGE_CHILDREN)
                started = time.perf_counter()
                subprocess.run(command, check=True, capture_output=True, env=env)
                times[name].append(time.perf_counter() - started)
                after = resource.getrusage(resource.RUSAGE_CHILDREN)
                cpu[name].append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
        print(
            f"{source}: {runs.height} runs of chip {chip['chip_group']}{chip['chip_number']}, {points:,} points; "
            f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"
        )
        for name, values in times.items():
            print(
                f"  {name:24} wall median {statistics.median(values):.2f} s (min {min(values):.2f} s), "
                f"CPU median {statistics.median(cpu[name]):.2f} s"
            )
        pdf, pdf_cpu = statistics.median(times["plot → pdf"]), statistics.median(cpu["plot → pdf"])
        print(
            f"PDF of {runs.height} It runs: wall {pdf:.2f} s = {pdf / TARGET_S:.2f} × the {TARGET_S} s target, "
            f"CPU {pdf_cpu:.2f} s = {pdf_cpu / TARGET_S:.2f} ×; {(root / 'fig.pdf').stat().st_size / 1024:.0f} KiB; "
            f"{pdf / statistics.median(times['plot → pdf, one process']):.2f} × the wall time drawing in one process"
        )


if __name__ == "__main__":
    main()
