"""The key derived quantities a chip's history shows beside each run (the app's table, `labtui history`), joined
from the metrics table and written as a physicist reads them, once per load."""

from __future__ import annotations

import polars as pl

from labtui.core.metrics import BY_COLUMN
from labtui.core.metrics.definitions import DOUBT_COLUMNS, IN_DOUBT

# the irradiated power between ΔI and the responsivity ΔI / P: ΔI against P was read one run's detail at a time
# the CNP is the mean of the sweep's two legs (`cnp_v`; one leg's alone, with a remark), said: a plot marks each leg's
KEY_QUANTITIES = (("cnp_v", "CNP mean"), ("delta_i_a", "ΔI"), ("delta_i_rel", "ΔI/I"), ("power_w", "P"),
                  ("responsivity_a_per_w", "resp"))
# a calibration's own: the setup's history showed the chips' quantities, empty, and these only in a run's detail
SETUP_QUANTITIES = (("p_max_w", "P max"), ("slope_w_per_v", "slope"), ("threshold_v", "VL th"))
DOUBT_MARK = " ⚠"  # after a responsivity in doubt (`IN_DOUBT`): its calibration, or a ΔI within the noise or drift


def with_metrics(runs: pl.DataFrame, metrics: pl.DataFrame) -> pl.DataFrame:
    """The history plus its key derived quantities (blank where undefined or not of the run's procedure): each
    value, for sorting, and its SI-prefixed text, formatted here once so that filtering and sorting never do. A
    responsivity priced by a stale calibration or by one its neighbours disagree with (`calibration_spread` from
    `CALIBRATIONS_DISAGREE`), or of a ΔI the noise or the dark drift alone could make (`IN_DOUBT`), is marked
    (`DOUBT_MARK`, the detail says which): it read as sure as any other. The others keep the mark's cells blank: a
    marked value, right-aligned, stood two cells left of its neighbours' units."""
    columns = [column for column, _ in KEY_QUANTITIES + SETUP_QUANTITIES]
    doubts = [column for column in DOUBT_COLUMNS if column not in columns]  # read for the mark only
    joined = runs.join(metrics.select("run_id", *columns, *doubts), on="run_id", how="left",
                       maintain_order="left")
    texts = joined.with_columns(BY_COLUMN[column].format_each(joined[column]).alias(f"{column}_text")
                                for column in columns)
    responsivity = pl.col("responsivity_a_per_w_text")
    mark = pl.when(IN_DOUBT).then(pl.lit(DOUBT_MARK)).otherwise(pl.lit(" " * len(DOUBT_MARK)))
    return texts.with_columns(responsivity_a_per_w_text=responsivity + mark).drop(doubts)
