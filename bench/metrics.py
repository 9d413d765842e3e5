"""Derived metrics against staging: what the derived step adds to a stage, a full rebuild, one new run.

    .venv/bin/python bench/metrics.py [--raw DIR] [--rounds 5]

Each round, in fresh stores (the raw tree hard-linked, one lit It run held back): a stage with the derived step
switched off (the baseline) and a full stage (its workers compute each run's metrics from the frame they parsed,
the table is updated after the commits), in alternating order and each in a fresh process; then a full rebuild of
the metrics from the store alone (`labtui metrics --rebuild`), then the held-back run added and staged (the
incremental cost of one run). Prints per round and the medians, wall time and CPU time (all threads; the fairer
measure on a shared, loaded machine), with the targets: derived step ≤ 15 % of the stage without it, rebuild
≤ 0.5× a full stage, one new run ≤ 50 ms; and the CPU the full stage's threads spent inside the derived step's hooks
as a share of the stage without them: its own cost, which the file system's state (that moves whole stages by tens
of percent on this VM) leaves alone.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from pathlib import Path

import polars as pl
from _timing import ChildStage, stage_in_child

from labtui.core.config import StagingConfig, load_config
from labtui.core.metrics import update_metrics
from labtui.core.stager import stage

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_RAW = ROOT.parent / "shared" / "realdata" / "raw"


def linked_tree(raw: Path, target: Path, held_back: Path) -> None:
    """The raw tree as hard links (no copy of the data), without `held_back`."""
    for path in raw.rglob("*"):
        if path.is_file() and path != held_back:
            destination = target / path.relative_to(raw)
            destination.parent.mkdir(parents=True, exist_ok=True)
            os.link(path, destination)


def lit_it_file(raw: Path) -> Path | None:
    """The newest light It file: the run a physicist just measured (None: the data have no lit It run)."""
    files = sorted(raw.rglob("It*.csv"), key=lambda p: p.stat().st_mtime)
    return next((p for p in reversed(files) if b"Laser voltage: 0 V" not in p.read_bytes()[:2000]), None)


Times = tuple[float, float, float, float]


def timed_stage(config: StagingConfig, derived: bool) -> ChildStage:
    """A full stage with or without the derived step, in a fresh process."""
    return stage_in_child(derived=derived, raw_root=config.raw_root, stage_root=config.stage_root,
                          derived_root=config.derived_dir)


def one_round(raw: Path, held_back: Path, bare_first: bool, root: Path) -> tuple[Times, Times, float]:
    """(wall, CPU) times of: the stage without metrics, with them, a full rebuild, the one-run update; and the CPU
    the full stage's threads spent inside the derived step's hooks (its own cost, free of the file system's noise
    that moves whole stages)."""
    linked_tree(raw, root / "raw", held_back)
    for name in ("bare", "store"):
        (root / name / "derived").mkdir(parents=True)  # a derived root is a folder that exists
    configs = [
        load_config(None, raw_root=root / "raw", stage_root=root / name / "store" / "raw_measurements",
                    derived_root=root / name / "derived")
        for name in ("bare", "store")
    ]
    if bare_first:
        bare = timed_stage(configs[0], derived=False)
    full = timed_stage(configs[1], derived=True)
    if not bare_first:
        bare = timed_stage(configs[0], derived=False)
    assert configs[1].metrics_path.exists() and not configs[0].metrics_path.exists()
    rebuild = update_metrics(configs[1], rebuild=True)
    os.link(held_back, root / "raw" / held_back.relative_to(raw))
    one = stage(configs[1]).metrics
    assert one is not None and one.computed == 1, one
    return ((bare.wall_s, full.wall_s, rebuild.elapsed_s, one.elapsed_s),
            (bare.cpu_s, full.cpu_s, rebuild.cpu_s, one.cpu_s), full.derived_cpu_s)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--raw", type=Path, default=DEFAULT_RAW)
    parser.add_argument("--rounds", type=int, default=7)  # a round's ratio swings ±15 points on this VM
    args = parser.parse_args()
    if not args.raw.is_dir():
        sys.exit(f"no raw data at {args.raw}; pass --raw DIR (e.g. a lab written by `labtui demo`)")
    held_back = lit_it_file(args.raw)
    if held_back is None:
        sys.exit(f"no lit It run in {args.raw} to add as the one new run; pass --raw DIR with one")
    n_files = sum(1 for p in args.raw.rglob("*.csv"))
    print(f"data: {n_files} files; {os.cpu_count()} cores, load avg {os.getloadavg()[0]:.2f}, polars {pl.__version__}")
    walls, cpus, owns = [], [], []
    with tempfile.TemporaryDirectory(prefix="bench-metrics-") as tmp:  # kept until every round is timed (_timing)
        for round_no in range(1, args.rounds + 1):
            wall, cpu, own = one_round(args.raw, held_back, bare_first=round_no % 2 == 1,
                                       root=Path(tmp) / f"{round_no}")
            walls.append(wall)
            cpus.append(cpu)
            owns.append(own / cpu[0])
            print(
                f"round {round_no}: "
                + " || ".join(_line(times) + f" [{name}]" for name, times in (("wall", wall), ("CPU", cpu)))
                + f" || the derived hooks' own CPU {own:.3f} s = {own / cpu[0]:.1%} of the stage without them"
            )
    for name, rows in (("wall", walls), ("CPU", cpus)):
        bare, full, rebuild, one = (statistics.median(column) for column in zip(*rows, strict=False))
        share = statistics.median(f / b - 1 for b, f, _, _ in rows)
        ratio = statistics.median(r / f for _, f, r, _ in rows)
        print(
            f"median {name}: stage {bare:.3f} s without metrics, {full:.3f} s with them: {share:+.1%} (target ≤ 15 %);"
            f" rebuild {rebuild:.3f} s = {ratio:.2f}× the stage (target ≤ 0.5×); one new run {one * 1000:.1f} ms "
            f"(target ≤ 50 ms)"
        )
    print(f"median of the derived hooks' own CPU (the threads inside from_data, curve_of, compute_update, "
          f"update_after_stage): {statistics.median(owns):.1%} of the stage without them "
          f"(rounds {min(owns):.1%} … {max(owns):.1%})")


def _line(times: Times) -> str:
    bare, full, rebuild, one = times
    return (
        f"stage {bare:.3f} s → {full:.3f} s with metrics ({full / bare - 1:+.1%}), rebuild {rebuild:.3f} s "
        f"({rebuild / full:.2f}×), one new run {one * 1000:.1f} ms"
    )


if __name__ == "__main__":
    main()
