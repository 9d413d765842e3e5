"""The history screen's key quantities: what joining and formatting them costs per reload, at the app's scale.

    .venv/bin/python bench/history_metrics.py [--runs 10000] [--store 65000] [--repeat 15]

Builds a chip history of `--runs` runs (half IVg, half It) and a metrics table of `--store` runs (the whole store,
as `read_metrics` returns it), then measures, interleaved and reported as medians:
- `with_metrics`: the join of the four key quantities onto the history plus their SI-prefixed text;
- the same history with its annotation columns joined (`with_annotations`, what a reload already does) as the
  yardstick; the ratio is the price of the quantities on a reload.
Prints milliseconds; not a test.
"""

from __future__ import annotations

import argparse

import numpy as np
import polars as pl
from _timing import Rounds

from labtui.core.annotations import CURRENT_SCHEMA, with_annotations
from labtui.core.history_quantities import with_metrics
from labtui.core.metrics import METRICS_SCHEMA, empty_metrics

QUANTITIES = "with_metrics (join + SI text of 4 quantities)"
YARDSTICK = "with_annotations (the reload's existing join)"


def frames(runs: int, store: int) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    rng = np.random.default_rng(1)
    ids = [f"{index:016x}" for index in range(store)]
    ivg = pl.int_range(store) % 2 == 0
    values = pl.DataFrame({"run_id": ids, "a": rng.normal(0, 1, store), "b": rng.normal(0, 1e-8, store)})
    values = values.with_columns(
        proc=pl.when(ivg).then(pl.lit("IVg")).otherwise(pl.lit("It")), cnp_v=pl.when(ivg).then("a"),
        delta_i_a=pl.when(~ivg).then("b"), delta_i_rel=pl.when(~ivg).then(pl.col("a") / 10),
        responsivity_a_per_w=pl.when(~ivg).then(pl.col("b") * 1e5),
    )
    metrics = pl.concat([empty_metrics(), values.select(
        pl.col(name).cast(dtype) if name in values.columns else pl.lit(None, dtype=dtype).alias(name)
        for name, dtype in METRICS_SCHEMA.items())])
    history = pl.DataFrame({"run_id": ids[:runs], "seq": range(1, runs + 1)})
    annotations = pl.DataFrame({"run_id": ids[: runs // 10]}).with_columns(
        starred=pl.lit(True), excluded=pl.lit(False), exclude_reason=pl.lit(None, pl.String),
        tags=pl.lit(["batch"]), note=pl.lit(None, pl.String)).cast(CURRENT_SCHEMA)  # type: ignore[arg-type]
    return history, metrics, annotations


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--store", type=int, default=65_000)
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args()
    history, metrics, annotations = frames(args.runs, args.store)
    rounds = Rounds(QUANTITIES, YARDSTICK)
    for _ in range(args.repeat):
        rounds.time(QUANTITIES, lambda: with_metrics(history, metrics))
        rounds.time(YARDSTICK, lambda: with_annotations(history, annotations))
    print(f"history of {args.runs} runs, metrics of {args.store} runs, {args.repeat} interleaved rounds:")
    rounds.report(reference=YARDSTICK)


if __name__ == "__main__":
    main()
