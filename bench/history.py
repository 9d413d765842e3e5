"""History, chips and validation speed: the manifest approach vs the old one (concatenating metadata CSVs).

    .venv/bin/python bench/history.py [--runs 65000] [--chip 68]

Needs ../shared/realdata. Stages the real raw files into a temp store, then builds a synthetic store of about
`--runs` runs by replicating the real manifest rows with new chips, dates and run_ids. Its raw files and Parquet
files are hard links to the real ones (so validation reads real footers and stats real files, without copying
hundreds of MB), and the old tool's day-level metadata CSVs are replicated the same number of times.
Prints milliseconds; not a test.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import math
import os
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import polars as pl

from labtui.core.config import StagingConfig, load_config
from labtui.core.extract import chip_name_of, run_id_for
from labtui.core.history import chips, history, load_manifest
from labtui.core.layout import run_parquet_path
from labtui.core.manifest import write_manifest
from labtui.core.stager import stage
from labtui.core.validate import validate

REALDATA = Path(__file__).resolve().parents[2] / "shared" / "realdata"
CHIP_SPACING = 1000  # replica k of chip 67 is chip 67 + k * 1000
DAY_SPACING = 7  # replica k starts k weeks later


def timed(fn: Callable[[], object], repeat: int = 1) -> float:
    """Median wall time in ms."""
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


def config_for(root: Path) -> StagingConfig:
    return load_config(None, raw_root=root / "raw", stage_root=root / "stage" / "raw_measurements")


def stage_real(root: Path) -> StagingConfig:
    shutil.copytree(REALDATA / "raw", root / "raw")  # same file system as the replicas, so they can be hard links
    config = config_for(root)
    stage(config)
    return config


def replicate(real: StagingConfig, root: Path, copies: int) -> StagingConfig:
    """A store of `copies` × the real runs: chip numbers, dates, paths and run_ids shifted per copy."""
    config = config_for(root)
    manifest = load_manifest(real)
    frames = []
    for k in range(copies):
        shift = dt.timedelta(days=DAY_SPACING * k)
        frame = manifest.with_columns(
            source_file=pl.lit(f"copy{k:03d}/") + pl.col("source_file"),
            start_time_utc=pl.col("start_time_utc") + shift,
            chip_number=pl.col("chip_number") + CHIP_SPACING * k,
            source_sha256=pl.col("source_sha256").map_elements(
                lambda sha, k=k: hashlib.sha256(f"{sha}{k}".encode()).hexdigest(), return_dtype=pl.String
            ),  # distinct content per copy, as in a real store
        )
        rows = frame.select("source_file", "start_time_utc", "chip_group", "chip_number").rows()
        frame = frame.with_columns(
            run_id=pl.Series([run_id_for(source, start) for source, start, _, _ in rows]),
            chip_name=pl.Series([chip_name_of(group, number) for _, _, group, number in rows], dtype=pl.String),
            date_local=pl.col("start_time_utc").dt.convert_time_zone(config.local_tz).dt.date(),
        )
        frames.append(frame)
        for (old_source, old_run, old_proc, old_date), (source, run, date) in zip(
            manifest.select("source_file", "run_id", "proc", "date_local").rows(),
            frame.select("source_file", "run_id", "date_local").rows(),
            strict=True,
        ):
            _link(real.raw_root / old_source, config.raw_root / source)
            _link(run_parquet_path(real.stage_root, old_proc, old_date, old_run),
                  run_parquet_path(config.stage_root, old_proc, date, run))
    write_manifest(pl.concat(frames), config.manifest_path)
    return config


def _link(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    os.link(source, target)


def replicate_metadata(root: Path, copies: int) -> Path:
    """The old tool's day folders, `copies` times, chip numbers shifted like the synthetic store's."""
    out = root / "metadata"
    for k in range(copies):
        for csv in sorted((REALDATA / "metadata").glob("*/metadata.csv")):
            frame = pl.read_csv(csv, infer_schema=False).with_columns(
                (pl.col("Chip number").cast(pl.Float64) + CHIP_SPACING * k).cast(pl.String)
            )
            target = out / f"copy{k:03d}" / csv.parent.name / "metadata.csv"
            target.parent.mkdir(parents=True, exist_ok=True)
            frame.write_csv(target)
    return out


def old_runs(metadata_root: Path) -> pl.DataFrame:
    """What the old tool did for every question: read every day's metadata.csv and concatenate them."""
    return pl.concat(
        [pl.read_csv(path, infer_schema=False) for path in sorted(metadata_root.rglob("metadata.csv"))],
        how="diagonal",
    )


def old_history(metadata_root: Path, number: int) -> pl.DataFrame:
    runs = old_runs(metadata_root)
    return runs.filter(pl.col("Chip number").cast(pl.Float64) == number).sort(pl.col("start_time").cast(pl.Float64))


def old_chips(metadata_root: Path) -> pl.DataFrame:
    start = pl.col("start_time").cast(pl.Float64)
    return old_runs(metadata_root).group_by("Chip group name", "Chip number").agg(
        pl.len(), start.min().alias("first"), start.max().alias("last")
    )


def measure(config: StagingConfig, metadata_root: Path, number: int) -> dict[str, float]:
    tz = config.local_tz
    manifest = load_manifest(config)

    def cold_history() -> None:
        frame = pl.read_parquet(config.manifest_path)
        history(frame, number, tz=tz)

    return {
        "runs": manifest.height,
        "manifest read (cold)": timed(lambda: pl.read_parquet(config.manifest_path), 5),
        "history, manifest loaded": timed(lambda: history(manifest, number, tz=tz), 50),
        "history, cold (read + query)": timed(cold_history, 5),
        "chips": timed(lambda: chips(manifest), 20),
        "validate (no hashing)": timed(lambda: validate(config), 3),
        "old: history from metadata CSVs": timed(lambda: old_history(metadata_root, number), 3),
        "old: chips from metadata CSVs": timed(lambda: old_chips(metadata_root), 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=65_000, help="size of the synthetic store (default 65000)")
    parser.add_argument("--chip", type=int, default=68, help="chip whose history is timed (default 68)")
    args = parser.parse_args()
    if not (REALDATA / "raw").is_dir():
        raise SystemExit(f"needs {REALDATA}/raw")
    with tempfile.TemporaryDirectory(prefix="labtui-bench-") as temp:
        root = Path(temp)
        started = time.perf_counter()
        real = stage_real(root / "real")
        copies = math.ceil(args.runs / load_manifest(real).height)
        synthetic = replicate(real, root / "synthetic", copies)
        print(f"built the stores in {time.perf_counter() - started:.1f} s ({copies} copies of the real runs)")
        results = {
            "real": measure(real, REALDATA / "metadata", args.chip),
            f"{copies}× synthetic": measure(synthetic, replicate_metadata(root, copies), args.chip + CHIP_SPACING),
        }
    width = max(map(len, next(iter(results.values()))))
    print(f"{'ms (median)':<{width}}" + "".join(f"{name:>18}" for name in results))
    for metric in next(iter(results.values())):
        digits = 0 if metric == "runs" else 1
        print(f"{metric:<{width}}" + "".join(f"{values[metric]:>18,.{digits}f}" for values in results.values()))


if __name__ == "__main__":
    main()
