"""The dashboard's "Last Dirac point" card: each chip measured lately, the day of its newest sweep and that sweep's
Dirac point (`cnp_v`: the mean of its two legs', or the one leg's that has one), or why there is none, in a column
as wide as the panel leaves it."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from labtui.tui.table import Column

if TYPE_CHECKING:
    import polars as pl

DIRAC_COLUMNS = [
    Column("chip_name", "chip"),
    Column("measured", "on"),  # see `dirac_rows`
    # last, at least as wide as an 80-column panel has room for: a long reason for no CNP is cut (enter: all of it)
    Column("cnp", "CNP mean", right=True, max_width=10, prose=True),  # of the two legs: no plot marks that one
]
DIRAC_OTHER_CELLS = 20  # the chip's name and the day, their gaps and the scrollbar: what the CNP column leaves


def dirac_rows(points: pl.DataFrame, damaged: bool) -> pl.DataFrame:
    """`overview.last_dirac_points` as the card shows them; `damaged`: the metrics table could not be read."""
    import polars as pl

    from labtui.core.metrics import BY_COLUMN

    # the day as month-day when the chips were all measured in one year, as the runs-per-day caption writes it
    # (the full date was cut to "20…" at 80 columns)
    one_year = points["date_local"].drop_nulls().dt.year().n_unique() <= 1
    # a chip measured lately without a sweep yet says so, not an empty row; a sweep without a Dirac point too
    none = (pl.when(pl.col("run_id").is_null())  # a chip whose sweeps the metrics table lacks (none computed,
            # a damaged table) has sweeps: it read "no sweep" beside its dozens
            .then(pl.when(pl.col("swept")).then(pl.lit("damaged" if damaged else "not computed"))
                  .otherwise(pl.lit("no sweep")))
            .otherwise(pl.coalesce("no_cnp_why", pl.lit("no CNP"))))  # `dead channel`: why the sweep has none
    return points.with_columns(
        cnp=pl.coalesce(BY_COLUMN["cnp_v"].format_each(points["cnp_v"]), none),
        measured=pl.col("date_local").dt.strftime("%m-%d" if one_year else "%Y-%m-%d"))


def fitted_columns(width: int) -> list[Column]:
    """The card's columns in a panel `width` cells wide: the CNP column as wide as it leaves (a reason cut at 10
    cells at 80 columns, not at 120), fitted again at each resize (fitted once, it stayed cut at 120, and overran
    the card at 80)."""
    return [replace(column, max_width=max(column.max_width, width - DIRAC_OTHER_CELLS)) if column.key == "cnp"
            else column for column in DIRAC_COLUMNS]
