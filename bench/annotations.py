"""Annotations: the cost of one annotation, and of histories, with 10k annotations in the store.

    .venv/bin/python bench/annotations.py [--annotations 10000] [--repeat 15]

Stages a synthetic demo lab into a temp folder, writes `--annotations` annotations spread over its runs (one action
file each, compacted as `annotate` does), then measures, interleaved and reported as medians:
- one `annotate` call (write, fsync, rename, fsync the folder, compaction check);
- the current view warm (nothing changed: the stat-keyed cache) and after another process annotated (re-read);
- a chip history with the five annotation columns joined, vs the same history without them (the ratio is the
  price of annotations), with the manifest loaded.
Prints milliseconds; not a test.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import polars as pl
from _timing import Rounds

from labtui.core.annotations import Change, annotate, annotate_runs, current_annotations
from labtui.core.annotations import log as annotation_log
from labtui.core.config import load_config
from labtui.core.history import history, load_manifest
from labtui.core.stager import stage
from labtui.synth.demo import write_demo

TZ = "America/Santiago"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--annotations", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        write_demo(folder)
        config = load_config(folder / "config" / "labtui.yaml")
        stage(config)
        manifest = load_manifest(config)
        store = config.store_root
        runs = manifest.select("run_id", "source_file")
        started = time.perf_counter()
        compact = annotation_log._compact_if_due
        annotation_log._compact_if_due = lambda store_root: None  # setup only: compacted once below, same files
        for i in range(args.annotations):
            row = runs.slice(i % runs.height, 1)
            annotate(store, row, [Change("tag", f"series {i % 50}") if i % 3 else Change("star")], author="bench")
        annotation_log._compact_if_due = compact
        compact(store)
        print(f"{manifest.height} runs; wrote {args.annotations} annotations in {time.perf_counter() - started:.1f} s")
        number = manifest.group_by("chip_number").len().sort("len")["chip_number"][-1]
        rounds = Rounds()
        for i in range(args.repeat):
            row = runs.slice(i, 1)
            rounds.time("annotate", lambda: annotate(store, row, [Change("star")], author="b"))  # noqa: B023
            rounds.time("current view, after a new annotation", lambda: current_annotations(store))
            time.sleep(0.06)  # past the racy window: the listing cache is trusted again
            rounds.time("current view, warm", lambda: current_annotations(store))
            rounds.time("history without annotations", lambda: history(manifest, number, tz=TZ))
            rounds.time("history with annotations (warm)",
                        lambda: annotate_runs(store, history(manifest, number, tz=TZ)))
        rounds.report(reference="history without annotations")
        joined = annotate_runs(store, history(manifest, number, tz=TZ))
        print(f"chip {number}: {joined.height} runs, {int(joined['starred'].sum())} starred; "
              f"{pl.Series(joined['tags'].list.len()).sum()} tags")


if __name__ == "__main__":
    main()
