"""Chip histories straight from the manifest: Polars filters and sorts, no CSV views in between.

Every function but `load_manifest` is pure (a manifest frame in, a frame out), so the CLI and the TUI share them.
Dates and times are always shown in the lab's zone: a run at 22:30 local time is on the local date, not the next
UTC date, and the America/Santiago DST change moves the offset, not the calendar.
"""

from __future__ import annotations

import datetime as dt
import threading
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from labtui.core.chip_name import group_spelling, merge_groups, parse_chip
from labtui.core.config import StagingConfig
from labtui.core.errors import UsageError
from labtui.core.filecache import Cached, identity
from labtui.core.manifest import read_manifest
from labtui.core.wording import cut, quoted

CHIP_KEYS = ("chip_group", "chip_number")
RUN_ORDER = ("start_time_utc", "file_idx", "source_file")  # start time, then queue index; path only breaks ties
HISTORY_COLUMNS = (
    "seq", "date", "time_hms", "proc", "light", "summary", "vg", "vds_v", "laser_voltage_v", "laser_wavelength_nm",
    "laser_period_s", "duration_s", "n_rows", "is_complete", "file_idx", "day_folder", "run_id", "source_file",
    "start_time_utc", "has_light", "information", "chip_name", "chip_group", "chip_number", "vg_fixed_v",
    "vg_start_v", "vg_end_v",
)
WAVELENGTH_TOLERANCE_NM = 0.5
VG_TOLERANCE_V = 1e-3

_manifests: dict[Path, Cached[pl.DataFrame]] = {}
_manifests_lock = threading.Lock()


class ChipNotFound(UsageError):
    """No run of the requested chip; the message says which chips exist instead."""


class AmbiguousChip(UsageError):
    """A chip number used under several groups; `groups` lists them (None = runs without a group name)."""

    def __init__(self, number: int, groups: list[str | None]) -> None:
        self.number = number
        self.groups = groups
        names = ", ".join(_group_label(group) for group in groups)
        chips = [f"{group}{number}" for group in groups if group is not None and cut(group) == group][:4]
        super().__init__(f"chip number {number} exists in several groups ({names}): say which group "
                         "(--group on the command line, group= in Python)"
                         + (f", or name the chip ({', '.join(chips)})" if chips else ""))


def _group_label(group: str | None) -> str:
    return '(no group: "")' if group is None else cut(group)


def load_manifest(config: StagingConfig) -> pl.DataFrame:
    """The committed manifest of the configured store (see `cached_manifest`)."""
    return cached_manifest(config.manifest_path)


def cached_manifest(path: Path) -> pl.DataFrame:
    """The committed manifest, read again only when a commit replaced it: the one manifest cache of the process,
    keyed on the file's identity, so every reader (the app, the API, a command) sees every commit."""
    key = identity(path)
    if key is None:
        return read_manifest(path)  # empty, or `ManifestDamaged` when the store holds runs
    with _manifests_lock:
        cached = _manifests.setdefault(path, Cached())
    return cached.get(key, lambda: read_manifest(path))


def canonical_proc(name: str, procedures_file: Path | None = None) -> str:
    """A user-typed procedure (`ITS`, `ivg`) → the stored name, in the lab's registry (`procedures_file` of the
    config); unknown names raise ValueError listing the known."""
    from labtui.core.registry import load_registry  # YAML and Pydantic: only when a procedure is named

    registry = load_registry(procedures_file)
    proc = registry.canonical(name.strip())
    if proc is None:
        raise ValueError(f"unknown procedure {name!r} (known: {', '.join(sorted(registry.procedures))})")
    return proc


@dataclass(frozen=True)
class HistoryFilter:
    """Row filters of a history; they select rows, `seq` keeps the numbering of the whole history.

    `procs` accepts aliases (`ITS` → `It`). `wavelength_nm` matches lit runs only (a dark run keeps the last
    wavelength, which says nothing). `vg_v` matches runs at a fixed gate voltage (It, IV), not sweeps.
    `text` is a case-insensitive substring of the Information note or the summary line (`summary_line`).
    """

    procs: tuple[str, ...] = ()
    light: bool | None = None
    since: dt.date | None = None
    until: dt.date | None = None
    wavelength_nm: float | None = None
    vg_v: float | None = None
    text: str | None = None
    procedures_file: Path | None = None  # the lab's registry, where `procs` are looked up (None: the default)

    def __post_init__(self) -> None:
        object.__setattr__(self, "procs", tuple(canonical_proc(name, self.procedures_file) for name in self.procs))

    def expression(self) -> pl.Expr:
        conditions = [pl.lit(True)]
        if self.procs:
            conditions.append(pl.col("proc").is_in(list(self.procs)))
        if self.light is not None:
            conditions.append(pl.col("has_light") == self.light)
        if self.since is not None:
            conditions.append(pl.col("date") >= self.since)
        if self.until is not None:
            conditions.append(pl.col("date") <= self.until)
        if self.wavelength_nm is not None:
            near = (pl.col("laser_wavelength_nm") - self.wavelength_nm).abs() <= WAVELENGTH_TOLERANCE_NM
            conditions.append(pl.col("has_light") & near)
        if self.vg_v is not None:
            conditions.append((pl.col("vg_fixed_v") - self.vg_v).abs() <= VG_TOLERANCE_V)
        if self.text:  # also the file and the local date and time: a lab's first search is `10-20` or a file name
            needle = self.text.lower()
            conditions.append(
                pl.any_horizontal(
                    text.str.to_lowercase().str.contains(needle, literal=True)
                    for text in (pl.col("information"), summary_line(), pl.col("source_file"),
                                 pl.concat_str(pl.col("date").cast(pl.String), pl.col("time_hms"), separator=" "))
                )
            )
        return pl.all_horizontal(conditions).fill_null(False)


def chips(manifest: pl.DataFrame) -> pl.DataFrame:
    """One row per chip (group + number): run counts per procedure, light/dark counts, first and last local date."""
    owned = manifest.filter(pl.col("chip_number").is_not_null())
    procs = sorted(owned.get_column("proc").drop_nulls().unique().to_list())  # a null (a hand edit): no column
    return (
        owned.group_by(CHIP_KEYS)
        .agg(
            pl.col("chip_name").drop_nulls().first(),
            pl.len().cast(pl.Int64).alias("n_runs"),
            *((pl.col("proc") == proc).sum().cast(pl.Int64).alias(f"n_{proc}") for proc in procs),
            pl.col("has_light").sum().cast(pl.Int64).alias("n_light"),
            (~pl.col("has_light")).sum().cast(pl.Int64).alias("n_dark"),
            pl.col("date_local").min().alias("first_date"),
            pl.col("date_local").max().alias("last_date"),
        )
        .sort(["chip_number", "chip_group"], nulls_last=True)
    )


def told_apart() -> pl.Expr:
    """A chip's name as a list of `chips` shows it: with its group, which `--group` takes, where two chips share it
    (Alisson8's chip 80 and Alisson's chip 880 are both Alisson880: two identical rows)."""
    name = pl.col("chip_name")
    return (pl.when(name.is_duplicated()).then(pl.format("{} (group {})", name, pl.col("chip_group").fill_null("none")))
            .otherwise(name))


def resolve_chip(manifest: pl.DataFrame, chip: int | str, group: str | None = None) -> tuple[str | None, int]:
    """(group, number) of the chip the user means: a number (alone when only one group uses it) or a chip name
    (`Alisson67`, see `chip_name`; its group must agree with `group`).

    A name is first a chip name as the manifest (and `labtui chips`) writes it: `G215` is group G2's chip 15 when
    that chip is staged, `Batch-37` Batch-3's chip 7. A group is matched exactly, else as the same letters in any
    case or Unicode spelling (`alisson` finds `Alisson`); an empty one (`--group ""`) means the runs whose header
    names no group.
    """
    if isinstance(chip, str) and (found := _named_chip(manifest, chip.strip(), group)) is not None:
        return found
    if isinstance(chip, int):
        number = chip
    elif (named := parse_chip(chip)) is not None:
        group, number = merge_groups(named[0], group, chip), named[1]
    else:
        raise UsageError(f"not a chip number or name (67, Alisson67): {quoted(chip, 40)}")
    rows = manifest.filter(pl.col("chip_number") == number)
    groups = rows.get_column("chip_group").unique().sort(nulls_last=True).to_list()
    if group is None:
        if len(groups) == 1:
            return groups[0], number
        if groups:
            raise AmbiguousChip(number, groups)
        if (found := _named_chip(manifest, str(number), None)) is not None:  # `6772`: group 67's chip 72, so named
            return found
        raise ChipNotFound(f"no runs of chip number {number} in the manifest{_known_numbers(manifest)}")
    groups_named = f"{'group' if len(groups) == 1 else 'groups'} {', '.join(map(_group_label, groups))}"
    elsewhere = f"; chip {number} exists in {groups_named}" if groups else ""
    if not group.strip():
        if None in groups:
            return None, number
        raise ChipNotFound(f"no runs of chip number {number} without a group in the manifest{elsewhere}")
    exact = [g for g in groups if g == group]
    spelled = group_spelling(group).casefold()
    folded = [g for g in groups if g is not None and group_spelling(g).casefold() == spelled]
    for matches in (exact, folded):
        if len(matches) == 1:
            return matches[0], number
    if folded:
        raise AmbiguousChip(number, folded)
    asked = cut(chip.strip()) if isinstance(chip, str) else f"{group} {number}"  # as typed: "G 215" read as no name
    raise ChipNotFound(f"no runs of chip {asked} in the manifest{elsewhere}")


def _named_chip(manifest: pl.DataFrame, name: str, group: str | None) -> tuple[str | None, int] | None:
    """The one chip whose manifest name is `name` (and whose group is `group`, when given), as written, else in any
    letter case (as groups are matched: `batch-37`); None for none; a name two chips share (G2's 15 and G's 215 are
    both G215) is said."""
    named = manifest.filter(pl.col("chip_name").str.to_lowercase() == group_spelling(name).lower()).select(
        "chip_group", "chip_number", "chip_name").unique()  # the name's rows first: not every run's, then theirs
    if group is not None:
        named = named.filter(pl.col("chip_group").str.to_lowercase() == group_spelling(group).lower())
    exact = named.filter(pl.col("chip_name") == name)
    chips = (exact if exact.height else named).select("chip_group", "chip_number")
    if chips.height > 1:
        which = ", ".join(f"{_group_label(g)} {n}" for g, n in chips.sort("chip_group", "chip_number").rows())
        raise UsageError(f"{cut(name)} is the name of {chips.height} chips ({which}): say which group (--group on "
                         "the command line, group= in Python)")
    return chips.row(0) if chips.height else None


def _known_numbers(manifest: pl.DataFrame, limit: int = 30) -> str:
    numbers = manifest.get_column("chip_number").drop_nulls().unique().sort().to_list()
    if not numbers:
        return " (no chip runs are staged)"
    shown = ", ".join(map(str, numbers[:limit])) + (" …" if len(numbers) > limit else "")
    return f" (chips: {shown})"


def history(
    manifest: pl.DataFrame,
    chip: int | str,
    group: str | None = None,
    *,
    tz: str,
    filters: HistoryFilter | None = None,
) -> pl.DataFrame:
    """The chip's runs (a number or a name, see `resolve_chip`), oldest first, `seq` = 1..n over the whole history
    (filters never renumber)."""
    return _filtered(timeline(chip_rows(manifest, *resolve_chip(manifest, chip, group)), tz=tz), filters)


def staged_now(runs: pl.DataFrame, manifest: pl.DataFrame) -> pl.DataFrame:
    """`runs` (run_id, source_file, …) each under the run_id the manifest holds its raw file under now: one re-staged
    under a new run_id since it was read (its start time corrected, in another terminal) is found by its file; one
    no longer staged keeps its own."""
    now = manifest.select("source_file", _now=pl.col("run_id"))
    return (runs.join(now, on="source_file", how="left", maintain_order="left")
            .with_columns(run_id=pl.coalesce("_now", "run_id")).drop("_now"))


def chip_rows(manifest: pl.DataFrame, group: str | None, number: int) -> pl.DataFrame:
    """The manifest rows of one chip, its group exact (None: the runs without a group name)."""
    return manifest.filter((pl.col("chip_number") == number) & pl.col("chip_group").eq_missing(group))


def calibrations(manifest: pl.DataFrame, *, tz: str, filters: HistoryFilter | None = None) -> pl.DataFrame:
    """Runs that belong to the setup rather than a chip (LaserCalibration; Pt, Pwl, Tt: a procedure of no chip), as a
    history of their own."""
    return _filtered(timeline(manifest.filter(pl.col("chip_number").is_null()), tz=tz), filters)


def _filtered(frame: pl.DataFrame, filters: HistoryFilter | None) -> pl.DataFrame:
    return frame if filters is None else frame.filter(filters.expression())


def timeline(rows: pl.DataFrame, *, tz: str) -> pl.DataFrame:
    """History rows of any set of runs: sorted, `seq` numbered per chip, local date and time, display columns;
    a wavelength only for lit runs.

    Numbering per chip (not per frame) lets the exports build every chip's history in one pass.
    """
    local = pl.col("start_time_utc").dt.convert_time_zone(tz)
    frame = rows.sort(RUN_ORDER, nulls_last=True).with_columns(
        seq=pl.int_range(1, pl.len() + 1, dtype=pl.Int64).over(CHIP_KEYS),
        date=local.dt.date(),
        time_hms=local.dt.strftime("%H:%M:%S"),
        light=light_icon(),
        vg=pl.coalesce(
            number_text("vg_fixed_v"),
            pl.concat_str(number_text("vg_start_v"), pl.lit("→"), number_text("vg_end_v")),
        ),
        # a dark run's header keeps the last wavelength; the manifest keeps it, a history shows none
        laser_wavelength_nm=pl.when(pl.col("has_light")).then(pl.col("laser_wavelength_nm")),
    )
    # a time the night a DST change repeats (23:30 twice) is given its offset: two runs an hour apart read as one
    # time, or out of order (the offsets are written for those rows alone: 9 ms more at 65k runs for all)
    repeated = local.dt.replace_time_zone(None).dt.replace_time_zone(tz, ambiguous="null").is_null() & \
        local.is_not_null()
    if frame.select(repeated.any()).item():
        frame = frame.with_columns(time_hms=pl.when(repeated).then(pl.concat_str("time_hms", pl.lit(" "),
                                                                                  local.dt.strftime("%Z")))
                                   .otherwise("time_hms"))
    return frame.select(HISTORY_COLUMNS)


LIGHT_ICON = {True: "💡", False: "🌙", None: "❗"}


def light_icon() -> pl.Expr:
    """💡 lit, 🌙 dark, ❗ unknown (no laser voltage in the header)."""
    light = pl.col("has_light")
    return (pl.when(light.is_null()).then(pl.lit(LIGHT_ICON[None]))
            .when(light).then(pl.lit(LIGHT_ICON[True])).otherwise(pl.lit(LIGHT_ICON[False])))


def summary_line(*, heading: bool = True) -> pl.Expr:
    """A run's one-line summary, from manifest or history columns: the heading (light icon, procedure, chip; a
    table with columns of their own for them leaves it out), the conditions the manifest stores, the file index.
    `💡 It Alisson67 VG=-0.35 V VDS=0.1 V VL=1.15 V λ=455 nm period=2 s #10`."""
    parts = [light_icon(), pl.col("proc"), pl.col("chip_name")] if heading else []
    conditions = pl.when(pl.col("summary") != "").then(pl.col("summary"))
    index = pl.concat_str(pl.lit("#"), pl.col("file_idx").cast(pl.String))
    return pl.concat_str(*parts, conditions, index, separator=" ", ignore_nulls=True)


def number_text(column: str) -> pl.Expr:
    """-0.35 → "-0.35", 5.0 → "5": the way the lab writes voltages."""
    return pl.col(column).cast(pl.String).str.replace(r"\.0$", "")
