"""How a store's runs name their chips: one chip written two ways (two histories of it), and two chips under one
name (`Alisson7` chip 2 and `Alisson` chip 72 are both Alisson72: the chip parameters are looked up by that name).
The stager says the first of a run as it stages it; `validate` and the metrics' mobility read the second."""

from __future__ import annotations

from typing import TYPE_CHECKING

from labtui.core.chip_name import foreign_letters, look_alike
from labtui.core.wording import quoted

if TYPE_CHECKING:
    import polars as pl

    from labtui.core.manifest_row import ManifestRow


class ChipSpellings:
    """Each chip of a store's runs (its group as it looks, `chip_name.look_alike`, and its number) → the name most of
    its runs have: a store that holds a typo's run too names the chip as the others do."""

    def __init__(self, runs: pl.DataFrame | None = None) -> None:
        self._names: dict[tuple[str, int], str] = {}
        if runs is None:
            return
        names = (runs.select("chip_group", "chip_number", "chip_name").drop_nulls()
                 .group_by("chip_group", "chip_number", "chip_name").len()
                 .sort(["len", "chip_name"], descending=[True, False]))
        for group, number, name, _ in names.iter_rows():
            if looks := look_alike(group):
                self._names.setdefault((looks, number), name)

    def note(self, row: ManifestRow) -> str | None:
        """Why the run's chip may be another's, filed apart (two histories): the store's other runs write its group
        otherwise (`alisson80` among `Alisson80`'s runs; the first spelling staged of a chip is its own), or it has
        no group where the store has a grouped chip of its number (an empty `Chip group name`). A lab that never
        gives groups hears nothing."""
        if row.chip_number is None or row.chip_name is None:
            return None
        if row.chip_group is None:
            grouped = next((name for (_, number), name in self._names.items() if number == row.chip_number), None)
            return None if grouped is None else (
                f"chip {row.chip_name}: its header gives no chip group, and the store has chip {quoted(grouped)}: "
                "filed as a chip apart (two histories of one chip?): give its 'Chip group name'")
        if not (looks := look_alike(row.chip_group)):  # no letter nor digit (`..`, `*`, an emoji): like no other
            return None
        spelt = self._names.setdefault((looks, row.chip_number), row.chip_name)
        return None if spelt == row.chip_name else (
            f"chip {row.chip_name}: the chip is written {quoted(spelt)} in the store's other runs ("
            f"{''.join(f'{letter}; ' for letter in foreign_letters(row.chip_name + spelt))}typed in another way? two "
            "histories): correct its 'Chip group name'")


def shared_names(runs: pl.DataFrame) -> pl.DataFrame:
    """`chip_name` and `chips`, how many chips (group and number apart) bear it, of the names more than one does."""
    import polars as pl

    return (runs.group_by("chip_name").agg(pl.struct("chip_group", "chip_number").n_unique().alias("chips"))
            .filter(pl.col("chips") > 1))
