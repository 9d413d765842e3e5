"""The store at 10× the real corpus: a chip history and a cross-chip aggregate with labtui's API, DuckDB and Spark.

    .venv/bin/python bench/scale.py [--dir DIR] [--chips 12 --days 210] [--rounds 5] [--no-spark]

Writes a synthetic lab with `labtui.synth` (about 5,500 runs and 600 MB of CSV: 10× the lab's 553 real files) into
`--dir` (kept, so a second run skips the generation), stages it, prints what the store holds, then measures,
interleaved per round (medians):

- chip history: one chip's runs, oldest first, from the manifest;
- dark current: the mean current of every dark It run per chip and local day, over the samples.

Each query runs in labtui's Python API (`open_store`), DuckDB and Spark in local mode (when pyspark is installed;
its session start is reported apart), and the engines' answers are checked against each other. Not a test.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import polars as pl

from labtui import open_store
from labtui.core.config import load_config
from labtui.core.stager import stage
from labtui.synth import LabSpec, generate_lab

REAL_RUNS, REAL_RAW_MB = 553, 56  # the lab's corpus in ../shared/realdata


def timed(fn: Callable[[], object]) -> tuple[float, object]:
    started = time.perf_counter()
    result = fn()
    return (time.perf_counter() - started) * 1000, result


def folder_bytes(folder: Path) -> tuple[int, int]:
    files = [Path(root) / name for root, _, names in os.walk(folder) for name in names]
    return len(files), sum(path.stat().st_size for path in files)


def build(folder: Path, chips: int, days: int) -> Path:
    """The synthetic lab, generated and staged once; returns the store folder."""
    raw, store = folder / "raw", folder / "store"
    config = load_config(None, raw_root=raw, stage_root=store / "raw_measurements")
    if not raw.is_dir():
        elapsed, summary = timed(lambda: generate_lab(raw, LabSpec(chips=chips, days=days, seed=13)))
        print(f"generated {len(summary.runs)} raw files in {elapsed / 1000:.0f} s")  # type: ignore[attr-defined]
    elapsed, report = timed(lambda: stage(config))
    counts = ", ".join(f"{n} {outcome.value}" for outcome, n in report.counts.items())  # type: ignore[attr-defined]
    print(f"stage: {counts} in {elapsed / 1000:.1f} s")
    return store


def duckdb_queries(store: Path, group: str, number: int) -> dict[str, Callable[[], pl.DataFrame]]:
    import duckdb

    db = duckdb.connect()
    db.sql(f"CREATE VIEW manifest AS SELECT * FROM read_parquet('{store}/_manifest/manifest.parquet')")
    keys = r"proc=([^/]*)/date=([^/]*)/run_id=([^/]*)/[^/]*$"  # docs/scale.md's query: a run's own three folders
    db.sql(f"""CREATE MACRO samples(files) AS TABLE SELECT * EXCLUDE (filename, run_keys),
                   run_keys.proc, CAST(run_keys.date AS DATE) AS date, run_keys.run_id
               FROM (SELECT *, regexp_extract(filename, '{keys}', ['proc', 'date', 'run_id']) AS run_keys
                     FROM read_parquet(files, union_by_name = true, filename = true, hive_partitioning = false))""")
    history = f"""SELECT * FROM manifest WHERE chip_group = '{group}' AND chip_number = {number}
                  ORDER BY start_time_utc, file_idx, source_file"""
    dark = f"""SELECT chip_name, date AS date_local, avg(i_a) AS dark_current_a
               FROM samples('{store}/raw_measurements/proc=It/*/*/part-000.parquet') AS samples JOIN manifest
                   ON samples.run_id = manifest.run_id AND samples.proc = manifest.proc
                   AND samples.date = manifest.date_local
               WHERE NOT has_light GROUP BY ALL"""
    return {"chip history": lambda: db.sql(history).pl(), "dark current": lambda: db.sql(dark).pl()}


def spark_queries(store: Path, group: str, number: int) -> dict[str, Callable[[], pl.DataFrame]]:
    from pyspark.sql import SparkSession
    from pyspark.sql import functions as F

    started = time.perf_counter()
    spark = (
        SparkSession.builder.master("local[2]")
        .config("spark.sql.sources.partitionColumnTypeInference.enabled", "false")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    print(f"Spark session started in {time.perf_counter() - started:.1f} s (not in the timings below)")
    manifest = spark.read.parquet(f"{store}/_manifest/manifest.parquet")
    samples = (spark.read.option("mergeSchema", "true").option("basePath", f"{store}/raw_measurements")
               .parquet(f"{store}/raw_measurements/proc=It"))

    def history() -> pl.DataFrame:
        rows = (manifest.filter((F.col("chip_group") == group) & (F.col("chip_number") == number))
                .orderBy("start_time_utc", "file_idx", "source_file"))
        return pl.DataFrame(rows.toArrow())

    def dark() -> pl.DataFrame:
        means = (samples.join(manifest.select("run_id", "chip_name", "has_light"), "run_id")
                 .filter(~F.col("has_light"))
                 .groupBy("chip_name", F.to_date("date").alias("date_local"))
                 .agg(F.avg("i_a").alias("dark_current_a")))
        return pl.DataFrame(means.toArrow())

    return {"chip history": history, "dark current": dark}


def labtui_queries(store: Path, group: str, number: int) -> dict[str, Callable[[], pl.DataFrame]]:
    lab = open_store(store)

    def dark() -> pl.DataFrame:
        return (lab.scan(proc="It", columns=["chip_name", "has_light"])
                .filter(~pl.col("has_light"))
                .group_by("chip_name", "date_local")
                .agg(pl.col("i_a").mean().alias("dark_current_a"))
                .collect())

    return {"chip history": lambda: lab.runs(chip=number, group=group), "dark current": dark}


def same_answer(results: dict[str, pl.DataFrame], query: str) -> None:
    """Every engine's answer equals labtui's (row count; for the aggregate, the values to float precision)."""
    reference = results["labtui"]
    for engine, frame in results.items():
        assert frame.height == reference.height, f"{query}: {engine} has {frame.height} rows, labtui {reference.height}"
        if query == "dark current":
            keys = ["chip_name", "date_local"]
            joined = reference.join(frame.select(*keys, other="dark_current_a"), on=keys)
            assert joined.height == reference.height
            assert (joined["dark_current_a"] - joined["other"]).abs().le(1e-12).all(), f"{engine} differs"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", type=Path, default=Path(tempfile.gettempdir()) / "labtui-bench-scale")
    parser.add_argument("--chips", type=int, default=12)
    parser.add_argument("--days", type=int, default=210)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--no-spark", action="store_true")
    args = parser.parse_args()

    store = build(args.dir, args.chips, args.days)
    manifest = open_store(store).manifest
    n_files, n_bytes = folder_bytes(store / "raw_measurements")
    raw_files, raw_bytes = folder_bytes(args.dir / "raw")
    print(f"store: {manifest.height} runs ({manifest.height / REAL_RUNS:.1f}× the real corpus), "
          f"{n_files} Parquet files, {n_bytes / 2**20:.0f} MiB ({n_bytes / manifest.height / 1024:.0f} KiB a run; "
          f"raw {raw_bytes / 2**20:.0f} MiB in {raw_files} files), "
          f"manifest {(store / '_manifest' / 'manifest.parquet').stat().st_size / 2**20:.2f} MiB, "
          f"{int(manifest['n_rows'].sum()) / 1e6:.1f} M samples")
    chips = manifest.filter(pl.col("chip_number").is_not_null()).group_by("chip_group", "chip_number").len()
    chip = chips.sort("len", "chip_number", descending=True).row(0)  # the busiest chip
    group, number = chip[0], chip[1]
    print(f"chip {group}{number}: {chip[2]} runs")

    engines = {"labtui": labtui_queries(store, group, number), "DuckDB": duckdb_queries(store, group, number)}
    try:
        if not args.no_spark:
            engines["Spark"] = spark_queries(store, group, number)
    except ImportError:
        print("Spark: pyspark is not installed (pip install labtui[spark]); skipped")

    first = {engine: timed(queries["dark current"])[0] for engine, queries in engines.items()}
    print("first dark-current query (labtui reads every It footer once, then keeps them):",
          ", ".join(f"{engine} {ms:.0f} ms" for engine, ms in first.items()))
    samples: dict[tuple[str, str], list[float]] = {}
    for _ in range(args.rounds):
        for query in ("chip history", "dark current"):
            answers = {}
            for engine, queries in engines.items():
                elapsed, answers[engine] = timed(queries[query])
                samples.setdefault((query, engine), []).append(elapsed)
            same_answer(answers, query)  # type: ignore[arg-type]
    load = os.getloadavg()
    print(f"\nmedians of {args.rounds} interleaved rounds, load average {load[0]:.1f} / {load[1]:.1f} "
          f"on {os.cpu_count()} cores:")
    for query in ("chip history", "dark current"):
        line = ", ".join(f"{engine} {statistics.median(samples[(query, engine)]):.0f} ms" for engine in engines)
        print(f"  {query:13s} {line}")


if __name__ == "__main__":
    main()
