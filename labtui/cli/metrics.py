"""`labtui metrics`: every run's derived quantities (Dirac points, photoresponse, power, responsivity, mobility).

The table is brought up to date first (only new or changed runs are computed); `--rebuild` recomputes it all.
"""

from __future__ import annotations

import argparse
import sys

from labtui.cli import EXIT_OK, add_chip_arguments, add_command, add_table_output
from labtui.cli.locate import config_from, require_store

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing, which every start would pay for
if TYPE_CHECKING:
    import polars as pl

ID_COLUMNS = ("run_id", "source_file", "chip_name", "seq", "proc", "date_local", "start_time_utc")
# what a run was measured under: a photoresponse plotted against wavelength or laser voltage needs them beside it
CONDITIONS = ("has_light", "laser_wavelength_nm", "laser_voltage_v", "vg_fixed_v", "vds_v")
CONDITIONS_SHOWN = {"It": ("laser_wavelength_nm", "laser_voltage_v", "vg_fixed_v"), "IVg": ("vds_v",),
                    "LaserCalibration": ("laser_wavelength_nm",)}  # the terminal table's, per procedure family


def register_metrics(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    parser = add_command(sub, "metrics", common,
                         examples=(
                             "labtui metrics 67 --proc IVg                # Dirac points, gm, mobility",
                             "labtui metrics 67 --proc It --out a67_photoresponse.csv",
                             "labtui metrics 67 --columns cnp_fwd_v,cnp_bwd_v  # the Dirac points alone",
                             "labtui metrics --rebuild                    # recompute from the store",
                         ),
                         description="One row per IVg, It and LaserCalibration run; --definitions prints what each "
                                     "quantity is, with the lab's windows (the README's Derived quantities). Other "
                                     "procedures have no row.")
    add_chip_arguments(parser, "chip number or name (e.g. 67 or Alisson67); all runs when omitted")
    parser.add_argument("--proc", metavar="PROC", help="IVg, It (or ITS) or LaserCalibration")
    add_table_output(parser)
    parser.add_argument("--columns", metavar="COL,…", type=column_list,
                        help="only these quantities, in this order (e.g. cnp_fwd_v,cnp_bwd_v; names as in the README's "
                             "Derived quantities); each run's chip, seq, procedure and date stay")
    parser.add_argument("--definitions", action="store_true",
                        help="print each quantity's definition with the lab's windows (of --proc, --columns), not "
                             "the table")
    parser.add_argument("--rebuild", action="store_true",
                        help="recompute every run from the store (e.g. after changing the windows)")
    parser.add_argument("--include-excluded", action="store_true",
                        help="show excluded runs too (hidden by default, and counted; see `labtui annotate`)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.definitions:
        return print_definitions(args)
    import polars as pl

    from labtui.cli.history import emit, say_unread_annotations
    from labtui.core.annotations import (
        ANNOTATION_COLUMNS,
        AnnotationFilter,
        annotate_runs,
        hidden_note,
        summaries,
    )
    from labtui.core.errors import UsageError
    from labtui.core.export import TAG_SEPARATOR
    from labtui.core.history import (
        canonical_proc,
        chip_rows,
        load_manifest,
        resolve_chip,
        timeline,
    )
    from labtui.core.metrics import QUANTITIES, columns_of, refresh_metrics
    from labtui.core.metrics.schema import PROVENANCE_SCHEMA
    from labtui.core.registry import family_expr

    config = require_store(config_from(args))
    say_unread_annotations(config.store_root)  # its excluded runs are listed or left out as annotated
    update = refresh_metrics(config, rebuild=args.rebuild)
    if update.computed:
        print(update.line(), file=sys.stderr)
    for problem in update.problems:
        print(f"labtui: {problem}", file=sys.stderr)
    table = update.table
    manifest = load_manifest(config)
    if args.number is not None:
        group, number = resolve_chip(manifest, args.number, args.group)
        table = chip_rows(table, group, number)
    elif args.group is not None:
        raise UsageError("--group needs a chip number")
    if args.proc is not None:
        try:
            table = table.filter(pl.col("proc") == canonical_proc(args.proc, config.procedures_file))
        except ValueError as exc:
            raise UsageError(str(exc)) from None
    seq = timeline(manifest, tz=config.local_tz).select("run_id", "seq")  # a chip's, or the calibrations' (`history`)
    dark = pl.col("has_light").not_()  # a dark run's header keeps the last wavelength: not what it was measured under
    conditions = (pl.when(dark).then(None).otherwise(pl.col(name)).alias(name) if name == "laser_wavelength_nm"
                  else pl.col(name) for name in CONDITIONS)
    rows = annotate_runs(config.store_root, table.join(seq, on="run_id", how="left")).select(
        *ID_COLUMNS, *conditions, *(q.column for q in QUANTITIES), *PROVENANCE_SCHEMA, *ANNOTATION_COLUMNS)
    rows, hidden = AnnotationFilter(include_excluded=args.include_excluded).apply(rows)
    hidden_line = f"{hidden_note(hidden)} (--include-excluded shows them)" if hidden else ""
    to_terminal = args.format == "table" and args.out is None
    if hidden and not to_terminal:
        print(f"labtui metrics: {hidden_line}", file=sys.stderr)
    if rows.is_empty() and to_terminal:
        print("no derived quantities for this selection (they exist for IVg, It and LaserCalibration runs)"
              + (f"; {hidden_line}" if hidden else ""))
        return EXIT_OK
    flat = rows.with_columns(pl.col("remarks").list.join("; "),
                             pl.when(pl.col("tags").list.len() > 0).then(pl.col("tags").list.join(TAG_SEPARATOR)))
    terminal = ["chip_name", "seq", "proc", "date_local"]
    if args.columns is not None:  # those alone, after the run's identity
        shown = _chosen(args.columns, [name for name in rows.columns if name not in ID_COLUMNS])
        terminal += shown
        flat, rows = (frame.select(*ID_COLUMNS, *shown) for frame in (flat, rows))
    else:
        families = rows.select(family_expr(config.procedures_file)).to_series().unique(maintain_order=True).to_list()
        shown = list(dict.fromkeys(column for family in families for column in columns_of(family)))  # a lit
        # sweep's power is an It run's column too
        measured = [name for name in CONDITIONS if any(name in CONDITIONS_SHOWN.get(family, ()) for family in families)]
        terminal += [*measured, *shown, "source_file", "remarks"]
    marked = args.columns is None  # the annotations' summary, made only for a terminal table
    emit(args, table=lambda: _readable(flat.select(terminal, **({"annotations": summaries(rows)} if marked else {}))),
         csv=lambda: utc_text(flat), json=lambda: utc_text(rows), whole=shown)
    if hidden and to_terminal:
        print(hidden_line)
    return EXIT_OK


def column_list(text: str) -> list[str]:
    """`--columns`' names, comma-separated (blanks around them ignored): at least one."""
    names = list(dict.fromkeys(name.strip() for name in text.split(",") if name.strip()))
    if not names:
        raise argparse.ArgumentTypeError("name at least one column (e.g. cnp_fwd_v,cnp_bwd_v)")
    return names


def _chosen(names: list[str], known: list[str]) -> list[str]:
    """`names` as the table has them; a name it does not have is a usage error naming the one meant."""
    from labtui.cli.meant import did_you_mean
    from labtui.core.errors import UsageError

    if unknown := [name for name in names if name not in known]:
        raise UsageError(f"--columns: no column {unknown[0]!r}{did_you_mean(unknown[0], known)} (the README's "
                         "Derived quantities lists them)")
    return names


def utc_text(frame: pl.DataFrame) -> pl.DataFrame:
    """UTC times written as the history writes them (`…Z`), not as each format's default (+0000, +00:00)."""
    import polars as pl

    from labtui.core.export import UTC_TEXT

    return frame.with_columns(pl.col(pl.Datetime).dt.strftime(UTC_TEXT))


def _readable(frame):
    """Each quantity with its unit and an SI prefix, three significant digits (`-840 mV`, `24.4 µA`), as the app
    shows it: a terminal table is for reading, CSV and JSON keep every digit in base units."""
    import polars as pl

    from labtui.core.metrics import BY_COLUMN

    floats = [name for name, dtype in frame.schema.items() if dtype == pl.Float64]
    return frame.with_columns(
        BY_COLUMN[name].format_each(frame[name]) if name in BY_COLUMN
        else pl.col(name).map_elements(lambda value: f"{value:.4g}", return_dtype=pl.String) for name in floats)


def print_definitions(args: argparse.Namespace) -> int:
    """`--definitions`: each quantity (of `--proc`, of `--columns`) as the metrics define it under the lab's windows
    (its config's), one paragraph each: the README's table, and the app's run detail, at the command line."""
    import textwrap

    from labtui.cli.locate import config_from
    from labtui.core.errors import UsageError
    from labtui.core.history import canonical_proc
    from labtui.core.metrics import PROCEDURES, QUANTITIES
    from labtui.core.registry import proc_family

    given = [flag for flag, value in (("a chip", args.number is not None), ("--rebuild", args.rebuild),
                                      ("--out", args.out is not None),
                                      ("--format", args.format != "table" and args.out is None),  # --out's own
                                      ("--include-excluded", args.include_excluded)) if value]
    if given:  # each was dropped without a word: `--out def.csv` wrote no file
        verb = "does" if len(given) == 1 else "do"
        raise UsageError(f"--definitions prints what each quantity is: {' and '.join(given)} {verb} not apply (give "
                         "it alone, or with --proc or --columns)")
    config = config_from(args)
    try:
        family = proc_family(canonical_proc(args.proc, config.procedures_file), config.procedures_file) \
            if args.proc else None
    except ValueError as exc:  # an unknown procedure: as the table says it
        raise UsageError(str(exc)) from None
    names = _chosen(args.columns, [q.column for q in QUANTITIES]) if args.columns is not None else None
    chosen = [q for q in QUANTITIES if (family is None or q.applies_to(family)) and (names is None or q.column in
                                                                                      names)]
    if not chosen:
        raise UsageError(f"no derived quantity of {family} runs is among --columns" if family in PROCEDURES and names
                         else f"{args.proc} runs have no derived quantities (IVg, It and LaserCalibration runs have)")
    for quantity in chosen:
        print(f"{quantity.column} ({quantity.unit or 'no unit'}, {quantity.runs} runs)")
        print(textwrap.fill(quantity.defined(config.metrics), width=100, initial_indent="  ",
                            subsequent_indent="  "))
    return EXIT_OK

