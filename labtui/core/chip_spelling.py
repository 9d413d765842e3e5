"""How a store's runs name their chips: one chip written two ways (two histories of it), and two chips under one
name (`Alisson7` chip 2 and `Alisson` chip 72 are both Alisson72: the chip parameters are looked up by that name).
The stager says the first of the runs it staged, once it read them all (`spelling_notes`); `validate` says both
(`chip_name_findings`), and the metrics' mobility reads the second (`shared_names`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

from labtui.core.chip_name import foreign_letters, look_alike, typo_of
from labtui.core.findings import Finding, FindingCode, make_finding
from labtui.core.wording import counted, quoted

if TYPE_CHECKING:
    import polars as pl


class StagedChip(NamedTuple):
    """What `spelling_notes` reads of a staged run's manifest row (a stage keeps one per run until its end: the rows
    themselves, their parameters with them, raised a 5,530-file stage's peak memory from 185 to 204 MiB)."""

    source_file: str
    chip_group: str | None
    chip_number: int | None
    chip_name: str | None


def spelling_notes(store: pl.DataFrame, staged: list[StagedChip]) -> dict[str, str]:
    """The staged runs' source files → why the run's chip may be another's, filed apart (two histories): most runs
    of the chip write its group otherwise (`alisson80` among `Alisson80`'s runs), as many write it otherwise (one
    typo against one right run: neither is told to change), the store holds runs of the chip written otherwise
    (said once, on the stage's first run of the chip), its group ends with its chip number where the store has
    that chip (`Alisson67` number 67 beside Alisson67), its group names no other chip and is one letter from a
    group of several chips that has its number (`Alison80`: `typo_of`), or it has no group where the store has a
    grouped chip of its number (an empty `Chip group name`). A lab that never gives groups hears nothing. `store`:
    its runs but the `staged` ones. Said once the stage's runs are all read, in name order: said as they were
    booked, the first spelling staged was the chip's (five right runs after a typo were each told to correct their
    group, and with more workers it was whichever finished first)."""
    if not staged:  # a stage that staged nothing: the store's spellings are validate's
        return {}
    chips = _spellings(store, staged)
    numbers: dict[str, set[int]] = {}
    for group, number in chips:
        numbers.setdefault(group, set()).add(number)
    said: dict[str, str] = {}
    told: set[str] = set()  # the chips whose store runs written otherwise were said
    for row in sorted(staged, key=lambda row: row.source_file):
        if row.chip_number is None or row.chip_name is None:
            continue
        if row.chip_group is None:
            grouped = next((name for (_, number), names in chips.items() if number == row.chip_number
                            for name in [_most(names)] if name is not None), None)
            if grouped is not None:
                said[row.source_file] = (
                    f"chip {row.chip_name}: its header gives no chip group, and the store has chip {quoted(grouped)}: "
                    "filed as a chip apart (two histories of one chip?): give its 'Chip group name'")
        elif note := _spelling_note(row, chips, numbers, told):
            said[row.source_file] = note
    return said


class _Spelling(NamedTuple):
    runs: int  # of the store and the stage
    stored: int  # of the store alone
    first_stored: str  # the first of the store's runs' source files ('' for none)


def _spelling_note(row: StagedChip, chips: dict[tuple[str, int], dict[str, _Spelling]],
                   numbers: dict[str, set[int]], told: set[str]) -> str | None:
    """The note on a grouped run's chip (`spelling_notes`); `numbers`: each group's chip numbers (`typo_of`);
    `told`: the chips whose store runs written otherwise a run before it in the stage said (once a chip a stage),
    added to."""
    assert row.chip_group is not None and row.chip_number is not None and row.chip_name is not None
    names = chips.get((look_alike(row.chip_group), row.chip_number), {})
    others = [name for name in names if name != row.chip_name]
    if others and (best := _most(names)) != row.chip_name:
        other = best or others[0]
        how = "in the store's other runs" if best else "in as many of the store's runs"
        return (f"chip {row.chip_name}: the chip is written {quoted(other)} {how} ("
                f"{''.join(f'{letter}; ' for letter in foreign_letters(row.chip_name + other))}typed in another way? "
                f"two histories): {'correct its' if best else 'correct the runs typed wrong, their'} 'Chip group name'")
    stored = [name for name in others if names[name].stored]
    if stored and row.chip_name not in told:
        told.add(row.chip_name)
        spelt = names[stored[0]]
        one = spelt.stored == 1
        return (f"chip {row.chip_name}: {counted(spelt.stored, 'run')} of the store {'writes' if one else 'write'} it "
                f"{quoted(stored[0])} ({spelt.first_stored}{'' if one else ', …'}): typed in another way? two "
                f"histories: correct {'its' if one else 'their'} 'Chip group name'")
    number = str(row.chip_number)
    if row.chip_group.endswith(number) and (bare := look_alike(row.chip_group[:-len(number)])) and \
            (chip := _most(chips.get((bare, row.chip_number), {}))) is not None:
        return (f"chip {row.chip_name}: its 'Chip group name' {quoted(row.chip_group)} ends with its chip number "
                f"{number}, and the store has chip {quoted(chip)}: the number typed into the group too? (two "
                "histories)")
    if (group := typo_of(look_alike(row.chip_group), row.chip_number, numbers)) is None or \
            (chip := _most(chips[(group, row.chip_number)])) is None:
        return None
    return (f"chip {row.chip_name}: its group names no other chip, and is one letter from that of chip "
            f"{quoted(chip)} (a group of several chips): typed in another way? two histories")


def _most(names: dict[str, _Spelling]) -> str | None:
    """The name most runs of a chip have; None when two have as many."""
    ranked = sorted(names, key=lambda name: -names[name].runs)
    if not ranked or (len(ranked) > 1 and names[ranked[0]].runs == names[ranked[1]].runs):
        return None
    return ranked[0]


def _spellings(store: pl.DataFrame, staged: list[StagedChip]) -> dict[tuple[str, int], dict[str, _Spelling]]:
    """Each chip of the runs (its group as it looks, `chip_name.look_alike`, and its number) → each name its runs
    have → how many, of them the store's, and the store's first one's file."""
    import polars as pl

    counts = (store.select("chip_group", "chip_number", "chip_name", "source_file").drop_nulls()
              .group_by("chip_group", "chip_number", "chip_name")
              .agg(pl.len().alias("runs"), pl.len().alias("stored"), pl.col("source_file").min()))
    new: list[tuple[str, int, str, int, int, str]] = [
        (row.chip_group, row.chip_number, row.chip_name, 1, 0, "") for row in staged
        if row.chip_group is not None and row.chip_number is not None and row.chip_name is not None]
    chips: dict[tuple[str, int], dict[str, _Spelling]] = {}
    for group, number, name, runs, stored, first in [*counts.iter_rows(), *new]:
        if looks := look_alike(group):  # no letter nor digit (`..`, `*`, an emoji): like no other
            names = chips.setdefault((looks, number), {})
            had = names.get(name, _Spelling(0, 0, ""))
            names[name] = _Spelling(had.runs + runs, had.stored + stored,
                                    min(filter(None, (had.first_stored, first)), default=""))
    return chips


def shared_names(runs: pl.DataFrame) -> pl.DataFrame:
    """`chip_name` and `chips`, how many chips (group and number apart) bear it, of the names more than one does."""
    import polars as pl

    return (runs.group_by("chip_name").agg(pl.struct("chip_group", "chip_number").n_unique().alias("chips"))
            .filter(pl.col("chips") > 1))


def chip_name_findings(frame: pl.DataFrame) -> list[Finding]:
    """One chip written two ways (`Alisson` and `alisson` or `Alissón`, or a zero-width space or another Unicode
    spelling that a store staged before `chip_name.group_spelling` kept: two histories), or two chips with one name
    (`Alisson7` chip 2 and `Alisson` chip 72 are both Alisson72: the chip parameters are looked up by that name)."""
    import polars as pl

    named = pl.col("chip_number").is_not_null() & pl.col("chip_name").is_not_null()  # null: a hand edit, no spelling
    chips = frame.filter(named).select("chip_group", "chip_number", "chip_name").unique()
    # the key the stage says them by (`chip_spelling`), once per chip, not per run; a group of no letter nor digit
    # (`..`, `*`) is like no other
    looks = pl.col("chip_group").map_elements(look_alike, return_dtype=pl.String)
    spelled = (
        chips.with_columns(looks.alias("group")).filter(pl.col("group") != "").group_by("group", "chip_number")
        .agg(pl.col("chip_name").unique().sort())
        .filter(pl.col("chip_name").list.len() > 1)
        .sort("chip_name")
    )
    clashes = shared_names(chips).sort("chip_name")
    items = [f"{' / '.join(names)}: one chip, its group typed in two ways?" for names in
             spelled.get_column("chip_name").to_list()]
    items += _one_letter_apart(chips.with_columns(looks.alias("group")))
    items += [f"{name}: the name of {count} different chips (group and number)" for name, count in
              clashes.select("chip_name", "chips").iter_rows()]
    return make_finding(
        FindingCode.CHIP_NAME_CLASH, "warning", "chips whose names are ambiguous", items,
        "correct the 'Chip group name' in the raw files (and re-stage them), so that each chip has one name",
    )


def _one_letter_apart(chips: pl.DataFrame) -> list[str]:
    """Chips whose group, naming no other chip, is one letter from a group of several chips with their number
    (`Alison80` beside Alisson's chips: `typo_of`), as the stage says them."""
    numbers: dict[str, set[int]] = {}
    names: dict[tuple[str, int], str] = {}
    for group, number, name in chips.select("group", "chip_number", "chip_name").sort("chip_name").iter_rows():
        numbers.setdefault(group, set()).add(number)
        names.setdefault((group, number), name)
    return [f"{name} / {names[(typo, number)]}: one chip, its group typed in two ways (one letter apart)?"
            for (group, number), name in names.items() if (typo := typo_of(group, number, numbers)) is not None]
