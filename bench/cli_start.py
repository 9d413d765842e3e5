"""Whole-process times of the command line against Python's own start-up, interleaved, medians.

    .venv/bin/python bench/cli_start.py [--raw DIR] [--rounds 7]

Stages the raw data once into a temp store, then times, round by round in one interleaved order: `python -c pass`,
`python -c "import polars"`, `labtui --help`, `--version`, every command's `--help`, a no-change `labtui stage`
and the seed plan's naive stager's (bench/naive_stager.py), `labtui history 67` and `labtui chips`. Prints each
median and its ratio to its reference with the target: help and version ≤ 3× `pass`; the no-change stage ≤ 0.8×
`import polars`, and its ratio to the naive stager's; history and chips ≤ 1.2× `import polars`.
Bytecode is cached (in a temp folder) and warmed by an untimed first round, as in an installed labtui: a checkout
run with PYTHONDONTWRITEBYTECODE would compile labtui's sources on every start while Polars' come precompiled.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_RAW = ROOT.parent / "shared" / "realdata" / "raw"


def commands() -> list[str]:
    """Every subcommand the parser knows, so a new one is timed too."""
    from labtui.cli import build_parser

    parser = build_parser()
    return [name for action in parser._subparsers._group_actions for name in action.choices]  # type: ignore[union-attr]


def timed(argv: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True, cwd=ROOT, env=env)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--raw", type=Path, default=DEFAULT_RAW)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--chip", default="67")
    args = parser.parse_args()
    if not args.raw.is_dir():
        sys.exit(f"no raw data at {args.raw}; pass --raw DIR (e.g. a lab written by `labtui demo`)")
    py = [sys.executable]
    labtui = [
        sys.executable,
        "-c",
        "import sys; from labtui.__main__ import run; sys.exit(run())",
    ]  # what the `labtui` script runs (pyproject's `labtui = "labtui.__main__:run"`)
    with tempfile.TemporaryDirectory(prefix="bench-cli-") as tmp:
        env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONPYCACHEPREFIX": str(Path(tmp) / "pycache")}
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        store = ["--raw-root", str(args.raw), "--stage-root", str(Path(tmp) / "store" / "raw_measurements")]
        subprocess.run([*labtui, "stage", "-q", *store], check=True, cwd=ROOT, env=env, stdout=subprocess.DEVNULL)
        naive = [*py, str(ROOT / "bench" / "naive_stager.py"), str(args.raw), str(Path(tmp) / "naive")]
        subprocess.run(naive, check=True, cwd=ROOT, env=env, stdout=subprocess.DEVNULL)
        cases: dict[str, tuple[list[str], str, float]] = {  # name: argv, reference, target ratio
            "python -c pass": ([*py, "-c", "pass"], "", 0),
            "python -c 'import polars'": ([*py, "-c", "import polars"], "", 0),
            "labtui --help": ([*labtui, "--help"], "python -c pass", 3),
            "labtui --version": ([*labtui, "--version"], "python -c pass", 3),
            **{f"labtui {name} --help": ([*labtui, name, "--help"], "python -c pass", 3) for name in commands()},
            "labtui stage (no change)": ([*labtui, "stage", "-q", *store], "python -c 'import polars'", 0.8),
            "naive stager (no change)": (naive, "", 0),
            f"labtui history {args.chip}": ([*labtui, "history", args.chip, *store], "python -c 'import polars'", 1.2),
            "labtui chips": ([*labtui, "chips", *store], "python -c 'import polars'", 1.2),
        }
        times: dict[str, list[float]] = {name: [] for name in cases}
        print(f"{os.cpu_count()} cores, load avg {os.getloadavg()[0]:.2f}, {args.rounds} interleaved rounds")
        for argv, _, _ in cases.values():
            timed(argv, env)  # warm the bytecode and file caches
        for _ in range(args.rounds):
            for name, (argv, _, _) in cases.items():
                times[name].append(timed(argv, env))
    median = {name: statistics.median(values) for name, values in times.items()}
    misses = 0
    for name, (_, reference, target) in cases.items():
        line = f"{name:<32} {median[name] * 1000:7.0f} ms"
        if reference:
            ratio = median[name] / median[reference]
            ok = ratio <= target
            misses += not ok
            line += f"  {ratio:5.2f}× {reference}  (target ≤ {target:g}×) {'ok' if ok else 'MISSED'}"
        print(line)
    print(f"labtui stage (no change) = {median['labtui stage (no change)'] / median['naive stager (no change)']:.2f}× "
          "the naive stager's")
    print(f"load avg after: {os.getloadavg()[0]:.2f}; {misses} target(s) missed")


if __name__ == "__main__":
    main()
