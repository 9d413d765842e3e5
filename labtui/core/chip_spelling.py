"""How a store's runs name their chips: one chip written two ways (two histories of it), and two chips under one
name (`Alisson7` chip 2 and `Alisson` chip 72 are both Alisson72: the chip parameters are looked up by that name).
The stager says the first of the runs it staged, once it read them all; `validate` says both, and the metrics'
mobility reads the second."""

from __future__ import annotations

from typing import TYPE_CHECKING

from labtui.core.chip_name import foreign_letters, look_alike
from labtui.core.wording import quoted

if TYPE_CHECKING:
    import datetime as dt

    import polars as pl

    from labtui.core.manifest_row import ManifestRow


def spelling_notes(store: pl.DataFrame, staged: list[ManifestRow]) -> dict[str, str]:
    """The staged runs' source files → why the run's chip may be another's, filed apart (two histories): most runs
    of the chip write its group otherwise (`alisson80` among `Alisson80`'s runs), or it has no group where the store
    has a grouped chip of its number (an empty `Chip group name`). A lab that never gives groups hears nothing.
    `store`: its runs but the `staged` ones. Said once the stage's runs are all read: said as they were booked, the
    first spelling staged was the chip's (five right runs after a typo were each told to correct their group, and
    with more workers it was whichever finished first). A run staged before, whose spelling the stage's runs now
    outnumber, is `validate`'s to say."""
    names = _names(store, staged)
    said: dict[str, str] = {}
    for row in staged:
        if row.chip_number is None or row.chip_name is None:
            continue
        if row.chip_group is None:
            grouped = next((name for (_, number), name in names.items() if number == row.chip_number), None)
            if grouped is not None:
                said[row.source_file] = (
                    f"chip {row.chip_name}: its header gives no chip group, and the store has chip {quoted(grouped)}: "
                    "filed as a chip apart (two histories of one chip?): give its 'Chip group name'")
        elif (spelt := names.get((look_alike(row.chip_group), row.chip_number), row.chip_name)) != row.chip_name:
            said[row.source_file] = (
                f"chip {row.chip_name}: the chip is written {quoted(spelt)} in the store's other runs ("
                f"{''.join(f'{letter}; ' for letter in foreign_letters(row.chip_name + spelt))}typed in another way? "
                "two histories): correct its 'Chip group name'")
    return said


def _names(store: pl.DataFrame, staged: list[ManifestRow]) -> dict[tuple[str, int], str]:
    """Each chip of the runs (its group as it looks, `chip_name.look_alike`, and its number) → the name most of them
    have; a tie goes to the name whose first run started first, then to the first in order: never to the run a
    worker finished first."""
    import polars as pl

    counts = (store.select("chip_group", "chip_number", "chip_name", "start_time_utc").drop_nulls()
              .group_by("chip_group", "chip_number", "chip_name").agg(pl.len(), pl.col("start_time_utc").min()))
    new = [(row.chip_group, row.chip_number, row.chip_name, 1, row.start_time_utc) for row in staged
           if row.chip_group is not None and row.chip_number is not None and row.chip_name is not None]
    runs: dict[tuple[str, int], dict[str, tuple[int, dt.datetime]]] = {}  # chip → name → its runs, the first's start
    for group, number, name, count, first in [*counts.iter_rows(), *new]:
        if looks := look_alike(group):  # no letter nor digit (`..`, `*`, an emoji): like no other
            spellings = runs.setdefault((looks, number), {})
            had, earliest = spellings.get(name, (0, first))
            spellings[name] = (had + count, min(earliest, first))
    return {chip: min(spellings, key=lambda name: (-spellings[name][0], spellings[name][1], name))
            for chip, spellings in sorted(runs.items())}


def shared_names(runs: pl.DataFrame) -> pl.DataFrame:
    """`chip_name` and `chips`, how many chips (group and number apart) bear it, of the names more than one does."""
    import polars as pl

    return (runs.group_by("chip_name").agg(pl.struct("chip_group", "chip_number").n_unique().alias("chips"))
            .filter(pl.col("chips") > 1))
