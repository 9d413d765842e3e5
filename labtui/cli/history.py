"""`labtui chips` and `labtui history`: chip overviews and histories from the manifest, as a table, CSV or JSON."""

from __future__ import annotations

import argparse
import sys

from labtui.cli import (
    EXIT_OK,
    CommandUsage,
    add_chip_arguments,
    add_command,
    add_table_output,
    terminal_columns,
)
from labtui.cli.arg_types import finite_arg
from labtui.cli.locate import config_from, require_store
from labtui.cli.output import print_data
from labtui.core.errors import UsageError
from labtui.core.wording import counted, shown

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing, which every start would pay for
if TYPE_CHECKING:
    import datetime as dt
    from collections.abc import Callable, Collection
    from pathlib import Path

    import polars as pl

    from labtui.core.config import StagingConfig

    Frame = Callable[[], pl.DataFrame]  # a frame made only when its output format is the one asked for

HISTORY_TABLE = {
    "seq": "SEQ", "date": "DATE", "time_hms": "TIME", "proc": "PROC", "light": "L", "vg": "VG (V)", "vds_v": "VDS (V)",
    "laser_voltage_v": "VL (V)", "laser_wavelength_nm": "λ (nm)", "laser_period_s": "PERIOD (s)",
    "duration_s": "DUR (s)", "n_rows": "ROWS", "complete": "DONE",
    # the key derived quantities, as the app's history shows them (⚠: a responsivity in doubt, `labtui metrics`
    # says why); the CSV and JSON keep the old tool's history columns: `labtui metrics` has the numbers
    "cnp_v_text": "CNP", "delta_i_a_text": "ΔI", "delta_i_rel_text": "ΔI/I", "power_w_text": "P",
    "responsivity_a_per_w_text": "RESP", "source_file": "FILE", "marks": "ANNOTATIONS",
}


DERIVED_TITLES = frozenset({"CNP", "ΔI", "ΔI/I", "P", "RESP"})  # in `labtui metrics`, not in the history's CSV
# what a terminal too narrow for a history leaves out first: where the file is, its size, then the run's settings
# that least tell runs apart, then the derived quantities (a run's DONE, its λ and VL stay)
HISTORY_OPTIONAL = ("FILE", "ROWS", "DUR (s)", "PERIOD (s)", "VDS (V)", "RESP", "P", "ΔI/I", "ΔI", "CNP",
                    "TIME")  # TIME last: two runs of a day differ by their time alone
# the setup's runs: their curve's quantities, and the information that tells a driver setting from another, where
# a chip's gate, drain and period columns stood empty
CALIBRATIONS_TABLE = {
    "seq": "SEQ", "date": "DATE", "time_hms": "TIME", "proc": "PROC", "laser_wavelength_nm": "λ (nm)",
    "p_max_w_text": "P MAX", "slope_w_per_v_text": "SLOPE", "threshold_v_text": "VL TH", "duration_s": "DUR (s)",
    "n_rows": "ROWS", "complete": "DONE",
    "source_file": "FILE", "information": "INFORMATION", "marks": "ANNOTATIONS",
}
CALIBRATIONS_OPTIONAL = ("FILE", "ROWS", "DUR (s)", "TIME", "INFORMATION")


def _with_quantities(runs: pl.DataFrame, config: StagingConfig) -> pl.DataFrame:
    """The runs with their key derived quantities as the app's history has them (`with_metrics`): none where the
    metrics table has no row, and a damaged table is said."""
    from labtui.core.errors import LabtuiError
    from labtui.core.history_quantities import with_metrics
    from labtui.core.metrics import read_metrics
    from labtui.core.metrics.schema import empty_metrics

    try:
        table = read_metrics(config)
    except LabtuiError as exc:
        print(f"labtui: {exc}", file=sys.stderr)
        table = empty_metrics()
    return with_metrics(runs, table)


def register_chips(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    chip_list = add_command(sub, "chips", common, examples=(
        "labtui chips",
        "labtui chips --out chips.csv",
    ))
    add_table_output(chip_list)
    chip_list.set_defaults(func=run_chips)


def register_history(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    parser = add_command(sub, "history", common, examples=(
        "labtui history 67",
        "labtui history Alisson67 --proc It --light --since 2025-10-01",
        "labtui history 67 --proc IVg --out a67_ivg.csv",
        "labtui history 67 --starred --tag \"365 nm power series\"",
        "labtui history --calibrations",
    ))
    add_chip_arguments(parser, "chip number or name (e.g. 67 or Alisson67)")
    parser.add_argument("--calibrations", action="store_true",
                        help="the setup's runs, not a chip's: its laser calibrations, and any run of a procedure of no "
                             "chip (Pt, Pwl, Tt)")
    filters = parser.add_argument_group("filters (they select rows; seq keeps the whole history's numbering)")
    filters.add_argument("--proc", action="append", default=[], metavar="PROC",
                         help="procedure (ITS = It); repeat or separate with commas")
    light = filters.add_mutually_exclusive_group()
    light.add_argument("--light", dest="light", action="store_const", const=True, help="lit runs only 💡")
    light.add_argument("--dark", dest="light", action="store_const", const=False, help="dark runs only 🌙")
    filters.add_argument("--since", type=iso_date, metavar="YYYY-MM-DD", help="from this local date on")
    filters.add_argument("--until", type=iso_date, metavar="YYYY-MM-DD", help="up to this local date")
    filters.add_argument("--wavelength", type=finite_arg, metavar="NM", help="lit runs at this laser wavelength")
    filters.add_argument("--vg", type=finite_arg, metavar="V", help="runs at this fixed gate voltage")
    filters.add_argument("--search", metavar="TEXT",
                         help="text in the Information note, the summary, the file or the local date and time")
    marks = parser.add_argument_group("annotations (see `labtui annotate`)")
    marks.add_argument("--starred", action="store_true", help="starred runs only ★")
    marks.add_argument("--tag", metavar="TAG", help="runs with this tag")
    marks.add_argument("--include-excluded", action="store_true",
                       help="show excluded runs too (hidden by default, and counted)")
    add_table_output(parser)
    parser.set_defaults(func=run_history)


def iso_date(text: str) -> dt.date:
    import datetime as dt

    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from None


def run_chips(args: argparse.Namespace) -> int:
    from labtui.core.history import chips, load_manifest, told_apart

    config = require_store(config_from(args))  # none there: said as the other readers say it (it was "no runs")
    table = chips(load_manifest(config))
    if table.is_empty() and args.format == "table":
        print(f"no chip runs staged yet in {config.store_root} (run `labtui stage`)")
        return EXIT_OK
    names = {"chip_name": "CHIP", "n_runs": "RUNS", "n_light": "LIGHT", "n_dark": "DARK", "first_date": "FIRST",
             "last_date": "LAST"}
    shown = table.with_columns(told_apart()).drop("chip_group", "chip_number").rename(
        lambda name: names.get(name, name.removeprefix("n_")))
    emit(args, table=lambda: shown, csv=lambda: table, json=lambda: table)
    return EXIT_OK


def run_history(args: argparse.Namespace) -> int:
    if args.number is not None and args.calibrations:  # the setup's runs belong to no chip
        raise CommandUsage("give a chip number or --calibrations, not both")
    if args.number is None and not args.calibrations:
        raise CommandUsage("give a chip number, or --calibrations")
    if args.calibrations and args.group is not None:
        raise CommandUsage("calibrations belong to the setup, not to a chip: --group does not apply")
    if args.since and args.until and args.since > args.until:
        raise CommandUsage(f"--since {args.since} is after --until {args.until}: no run can match")
    # an empty shell variable (`--proc "$P"`, `--proc "$A,$B"`: procedures are separated by commas) listed every run
    if blank := [value for value in args.proc if not value.replace(",", "").strip()]:
        raise CommandUsage(f"--proc names a procedure, not {blank[0]!r}")
    if args.tag is not None and not args.tag.strip():
        raise CommandUsage(f"--tag names a tag, not {args.tag!r}")
    import polars as pl

    from labtui.core.annotations import AnnotationFilter, annotate_runs, hidden_note, summaries
    from labtui.core.history import HistoryFilter, calibrations, history, load_manifest

    config = require_store(config_from(args))
    manifest = load_manifest(config)
    try:
        filters = HistoryFilter(
            procs=tuple(name for item in args.proc for name in item.split(",") if name.strip()),
            light=args.light, since=args.since, until=args.until, wavelength_nm=args.wavelength, vg_v=args.vg,
            text=args.search, procedures_file=config.procedures_file,
        )
    except ValueError as exc:  # an unknown procedure
        raise CommandUsage(str(exc)) from None
    try:
        every = (
            calibrations(manifest, tz=config.local_tz)
            if args.calibrations
            else history(manifest, args.number, args.group, tz=config.local_tz)
        )
    except UsageError as exc:  # raised, not printed: `main` answers a JSON request with JSON
        raise UsageError(f"{exc} (store {config.store_root})") from None
    held = set(every.get_column("proc").drop_nulls().unique().to_list())
    if filters.procs and held and not held & set(filters.procs):  # "0 of 12 runs" read as a filter that failed
        whose = "the setup's runs" if args.calibrations else f"chip {args.number}'s runs"
        print(f"labtui: none of {whose} is {' or '.join(filters.procs)} (they are {', '.join(sorted(held))})",
              file=sys.stderr)
    marked = AnnotationFilter(starred=args.starred, tag=args.tag, include_excluded=args.include_excluded)
    annotated = annotate_runs(config.store_root, every.filter(filters.expression()))
    say_unread_annotations(config.store_root)
    runs, hidden = marked.apply(annotated)
    if args.tag is not None and runs.is_empty():  # a typo read as "0 runs": say which tags there are
        tags = sorted(annotated.get_column("tags").explode().drop_nulls().unique().to_list())
        print(f"labtui: no run here is tagged {args.tag!r} (its tags: {', '.join(map(repr, tags)) or 'none'})",
              file=sys.stderr)

    def table() -> pl.DataFrame:
        shown = runs.with_columns(
            complete=pl.when(~pl.col("is_complete")).then(pl.lit("✗")).otherwise(pl.lit("✓")),
            marks=summaries(runs),
        )
        if args.calibrations:
            other = pl.when(pl.col("proc") != "LaserCalibration").then("proc").otherwise(pl.lit(""))  # as the app:
            # "LaserCalibration" on every row took the information's place at 80 columns
            setup = _with_quantities(shown.with_columns(proc=other), config).select(list(CALIBRATIONS_TABLE))
            # PROC of calibrations alone, and the duration of runs without a time column: blank on every row
            blank = [name for name in ("proc", "duration_s")
                     if not (setup.get_column(name).cast(pl.String).str.len_chars() > 0).any()]
            return setup.drop(blank).rename({name: title for name, title in CALIBRATIONS_TABLE.items()
                                             if name not in blank})
        return _with_quantities(shown, config).select(list(HISTORY_TABLE)).rename(HISTORY_TABLE)

    def rows() -> pl.DataFrame:
        """One column set and one timestamp style for CSV and JSON."""
        from labtui.core.export import history_view, with_parameters

        return history_view(with_parameters(runs, manifest))

    emit(args, table=table, csv=rows, json=lambda: rows().with_columns(runs.get_column("tags")),  # JSON: tags a list
         optional=CALIBRATIONS_OPTIONAL if args.calibrations else HISTORY_OPTIONAL)
    hidden_line = f"{hidden_note(hidden)} (--include-excluded shows them)" if hidden else ""
    if args.format == "table" and args.out is None:
        filtered = runs.height + hidden < every.height  # "0 runs" alone read as a chip never measured
        shown = f"{runs.height} of {counted(every.height, 'run')}" if filtered else counted(runs.height, "run")
        print(shown + (f"; {hidden_line}" if hidden else ""))
    elif hidden:
        print(f"labtui history: {hidden_line}", file=sys.stderr)
    return EXIT_OK


def say_unread_annotations(store_root: Path) -> None:
    """On stderr, that annotation files cannot be read (`unread_note`): an exclusion among their records lost, its
    run was listed, computed, drawn and exported again by every command that reads them, and said by `history`
    alone."""
    from labtui.core.annotations import unread_note

    if (unread := unread_note(store_root)) is not None:
        print(f"labtui: {unread}", file=sys.stderr)


def emit(args: argparse.Namespace, *, table: Frame, csv: Frame, json: Frame, whole: Collection[str] = (),
         optional: Collection[str] = ()) -> None:
    """Print (or write to --out) the chosen format: an aligned text table, CSV or JSON rows, each made from its own
    frame, and only the chosen one made; the table's `whole` columns (values written as text) are never cut."""
    from labtui.core.errors import OperationFailed

    if args.format == "csv":
        from labtui.core.export import spreadsheet_safe  # here: a table or JSON loads none of the export's imports

        text = spreadsheet_safe(csv()).write_csv()
    elif args.format == "json":
        text = json().write_json()
    else:
        to_terminal = args.out is None and sys.stdout.isatty()
        text = render_table(table(), width=terminal_columns() if to_terminal else None, whole=whole, optional=optional)
    if args.out is None:
        if args.format == "table":
            sys.stdout.write(text if text.endswith("\n") else text + "\n")
        else:
            print_data(text)
    else:
        from labtui.core.atomic import atomic_write_bytes

        try:
            atomic_write_bytes(args.out, text.encode("utf-8"))
        except OSError as exc:
            raise OperationFailed("write", args.out, exc) from None
        print(f"wrote {args.out}", file=sys.stderr)


TEXT_MIN = 12  # a text column (a path, a summary) cut to fit a terminal keeps at least this many characters
LAST_LEFT_OUT = 2  # a table this many columns too wide for a terminal leaves them out; wider, it is shown by row


def render_table(frame: pl.DataFrame, width: int | None = None, whole: Collection[str] = (),
                 optional: Collection[str] = ()) -> str:
    """An aligned text table; emoji count as two terminal columns. For a terminal `width` columns wide, columns
    with nothing in them are left out and the widest text columns are cut with … until the table fits (numbers,
    and the `whole` columns, never: a cut number reads as another number); where it still does not, the `optional`
    columns are left out in their order (else the last column or two) and named under it, and were more in the way,
    each row is a block of `name value` pairs (`_records`): the terminal wrapped each row over 2–5 lines mid-value
    (a history, an It run's metrics at 80 columns). A file or a pipe gets every column."""
    import textwrap

    import polars as pl

    note = ""
    if width is not None:
        frame = frame.select(name for name in frame.columns if frame[name].cast(pl.String).fill_null("").str
                             .len_chars().max() or not frame.height)
    cells = [[_cell(name) for name in frame.columns]] + [[_cell(value) for value in row] for row in frame.iter_rows()]
    widths = [max(display_width(row[i]) for row in cells) for i in range(frame.width)]
    if width is not None:
        # a path column keeps its longest file name whole (cut at the start: "…/IVg2025-09-01_1.csv")
        least = {i: max([TEXT_MIN, *(display_width(row[i].rsplit("/", 1)[-1]) + 2 for row in cells[1:]
                                     if "/" in row[i])])
                 for i, (name, dtype) in enumerate(frame.schema.items()) if dtype == pl.String and name not in whole}
        order = [frame.columns.index(name) for name in optional if name in frame.columns] if optional else \
            list(range(frame.width - 1, 0, -1))[:LAST_LEFT_OUT]
        keep = list(range(frame.width))
        fitted = _cut_to(widths, least, keep, width)
        for column in order:
            if fitted is not None:
                break
            keep.remove(column)
            fitted = _cut_to(widths, least, keep, width)
        if fitted is None:
            return _records(frame.columns, cells[1:], width)
        if len(keep) < frame.width:
            left = [name for i, name in enumerate(frame.columns) if i not in keep]
            plain, derived = ([n for n in left if (n in DERIVED_TITLES) == is_derived] for is_derived in (False, True))
            said = [f"{', '.join(plain)}; --format csv has them"] if plain else []
            said += [f"{'and ' if plain else ''}{', '.join(derived)}, which `labtui metrics` has"] if derived else []
            note = "\n".join(textwrap.wrap(f"(left out at {width} columns: {'; '.join(said)})", width,
                                           break_on_hyphens=False)) + "\n"
        cells = [[row[i] for i in keep] for row in cells]
        widths = fitted
    table = "\n".join(
        "  ".join(_fitted(text, width) for text, width in zip(row, widths, strict=True)).rstrip()
        for row in cells
    ) + "\n"
    return table + note


def _cut_to(widths: list[int], least: dict[int, int], keep: list[int], width: int) -> list[int] | None:
    """The widths of the columns `keep`, the widest text ones cut by one at a time (each to its `least` at most)
    until the row fits `width`; None when it cannot."""
    cut = [widths[i] for i in keep]
    floor = [min(widths[i], least.get(i, widths[i])) for i in keep]
    excess = sum(cut) + 2 * (len(cut) - 1) - width
    while excess > 0 and (cuttable := [k for k in range(len(cut)) if cut[k] > floor[k]]):
        cut[max(cuttable, key=lambda k: cut[k])] -= 1
        excess -= 1
    return cut if excess <= 0 else None


def _records(names: list[str], rows: list[list[str]], width: int) -> str:
    """Each row as its `name value` pairs (the empty ones left out) packed into lines of `width` columns, a pair
    never split but one longer than a line (a remark) wrapped at its words, rows apart by a blank line."""
    import textwrap

    blocks = []
    for row in rows:
        lines: list[str] = []
        for name, text in zip(names, row, strict=True):
            if not text:
                continue
            pair = f"{name} {text}"
            if lines and display_width(lines[-1]) + 2 + display_width(pair) <= width:
                lines[-1] += f"  {pair}"
            elif display_width(pair) + 2 <= width or not lines:
                lines.append(pair if not lines else f"  {pair}")
            else:
                lines += textwrap.wrap(pair, width, initial_indent="  ", subsequent_indent="    ")
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks) + "\n"


def _fitted(text: str, width: int) -> str:
    """`text` padded to `width` terminal columns, or cut to it with … (a path at its start: the file name stays)."""
    if display_width(text) <= width:
        return text + " " * (width - display_width(text))
    path = "/" in text and " " not in text
    while display_width(text) > width - 1:
        text = text[1:] if path else text[:-1]
    if path and "/" in text:  # at a folder's end: "…/IVg2025-09-01_1.csv", not "…t/IVg2025-09-01_1.csv"
        text = text[text.index("/"):]
    return ("…" + text if path else text + "…") + " " * (width - 1 - display_width(text))


def _cell(value: object) -> str:
    """A value as the table shows it: a control character in a file name (a newline, an escape sequence) escaped,
    or the terminal would act on it and break the row."""
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:g}"
    return shown(str(value))


def display_width(text: str) -> int:
    import unicodedata

    return sum(2 if unicodedata.east_asian_width(char) in "WF" else 1 for char in text)
