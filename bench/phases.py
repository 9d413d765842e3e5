"""The engine's per-file work, phase by phase, against another checkout: the regressions a full stage's noise hides.

    git worktree add /tmp/base <rev>
    .venv/bin/python bench/phases.py --against /tmp/base [--raw DIR] [--rounds 7]

A full stage on this VM swings ±10 % from one minute to the next, so a change that costs a stage 5 % goes unseen in
its A/B (round 25 added 10 % of CPU that way: a regex search stopping at every CRLF, a median per It run). Here
each phase of a staging worker (`stage_chunk.py`: header, data-block checks, parse, manifest row, run record,
metrics) runs over every real file in a tight loop, CPU time of the best of five passes, in a fresh process per
tree and round, the two trees alternating which goes first. Prints each phase's median per tree, this tree's ratio
to the other, and flags a phase more than 10 % slower. On this VM a single phase still swings by up to a third between
runs (a phase the change did not touch read 0.83–1.36×): trust a flag that holds in every run. Without --against it
measures this tree alone.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_RAW = ROOT.parent / "shared" / "realdata" / "raw"
PHASES = ("header", "block", "parse", "row", "record", "metrics")
SLOWER = 1.10  # a phase this much slower than the other tree's is flagged

_CHILD = """
import datetime as dt, json, sys, time
from pathlib import Path
from labtui.__main__ import tune_native_libraries
tune_native_libraries()
from labtui.core.config import StagingConfig
from labtui.core.datablock import data_block, parse_many
from labtui.core.extract import build_row
from labtui.core.metrics import from_data
from labtui.core.parser import Reject, parse_header  # parser re-exports Reject: older checkouts define it there
from labtui.core.registry import load_registry
from labtui.core.stage_chunk import run_record

config = StagingConfig()
registry = load_registry(config.procedures_file)
files = [(path, path.read_bytes()) for path in map(Path, json.loads(sys.argv[1]))]


def best(phase):
    times = []
    for _ in range(5):
        started = time.process_time()
        result = phase()
        times.append(time.process_time() - started)
    return min(times) * 1000, result


def headers():
    parsed = []
    for path, data in files:
        try:
            parsed.append((data, parse_header(data, registry, path.stem)))
        except Reject:
            pass
    return parsed


def blocks():
    for data, header in loaded:
        try:
            data_block(data, header)
        except Reject:
            pass


def frames():
    parsed = []
    for at in range(0, len(loaded), 16):  # the chunk a worker parses in one query
        chunk = loaded[at : at + 16]
        parsed += [(header, result[0]) for (_, header), result in zip(chunk, parse_many(chunk))
                   if not isinstance(result, Reject)]
    return parsed


def rows():
    made = []
    for header, frame in parsed:
        try:
            row, _ = build_row(header, frame, source_file=f"day/{header.proc}.csv", size=1, mtime_ns=1,
                               sha256="0" * 64, zone=config.zone, extraction_version="bench",
                               procedure_rules="0" * 64,
                               ingested_at=dt.datetime.now(dt.UTC))
        except ValueError:  # a header value out of the row's range: the stage rejects it
            continue
        made.append((row, frame))
    return made


ms = {}
ms["header"], loaded = best(headers)
ms["block"], _ = best(blocks)
ms["parse"], parsed = best(frames)
ms["row"], made = best(rows)
ms["record"], _ = best(lambda: [run_record(row, [], "bench") for row, _ in made])
ms["metrics"], _ = best(lambda: [from_data(row.proc, frame, row.vds_v, config.metrics) for row, frame in made])
print(json.dumps(ms))
"""


def measure(tree: Path, files: list[str]) -> dict[str, float]:
    """One child process on `tree`'s labtui: each phase's CPU milliseconds over `files`."""
    env = {**os.environ, "PYTHONPATH": str(tree)}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    out = subprocess.run([sys.executable, "-c", _CHILD, json.dumps(files)], capture_output=True, text=True,
                         check=True, cwd=tree, env=env).stdout
    return json.loads(out)  # type: ignore[no-any-return]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--raw", type=Path, default=DEFAULT_RAW)
    parser.add_argument("--against", type=Path, default=None, help="another labtui checkout (a git worktree)")
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    if not args.raw.is_dir():
        sys.exit(f"no raw data at {args.raw}; pass --raw DIR (e.g. a lab written by `labtui demo`)")
    if args.against is not None and not (args.against / "labtui" / "core").is_dir():
        sys.exit(f"{args.against} is not a labtui checkout")
    files = sorted(str(p) for p in args.raw.rglob("*") if p.suffix.lower() == ".csv" and p.is_file())
    trees = {"this": ROOT} | ({"other": args.against.resolve()} if args.against else {})
    print(f"{len(files)} files, {args.rounds} rounds, load avg {os.getloadavg()[0]:.2f}; CPU ms of the best of five "
          f"passes; this tree {ROOT}" + (f", the other {trees['other']}" if args.against else ""))
    samples: dict[str, dict[str, list[float]]] = {name: {phase: [] for phase in PHASES} for name in trees}
    for round_no in range(args.rounds):
        order = list(trees) if round_no % 2 == 0 else list(reversed(trees))
        for name in order:
            for phase, ms in measure(trees[name], files).items():
                samples[name][phase].append(ms)
    for phase in PHASES:
        this = statistics.median(samples["this"][phase])
        line = f"  {phase:8} this {this:7.1f} ms"
        if args.against:
            other = statistics.median(samples["other"][phase])
            flag = "  SLOWER" if this > SLOWER * other else ""
            line += f", the other {other:7.1f} ms, {this / other:4.2f}×{flag}"
        print(line)
    print(f"load avg after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
