"""`labtui export histories|metadata` (CSV views for people and old scripts) and `labtui parity` (old vs new)."""

from __future__ import annotations

import argparse

from labtui.cli import EXIT_ERROR, EXIT_OK, CommandUsage, add_command, examples_text
from labtui.cli.arg_types import count_arg, path_arg
from labtui.cli.history import iso_date
from labtui.cli.locate import config_from, require_store
from labtui.cli.output import print_data
from labtui.core.errors import UsageError
from labtui.core.wording import counted, cut

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing, which every start would pay for
if TYPE_CHECKING:
    from pathlib import Path

    from labtui.core.config import StagingConfig
    from labtui.core.export import HistoryFile
    from labtui.core.parity import ParityReport

ITEMS_PRINTED = 5


def register_export(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    # the store's options before KIND too (`export --store DIR histories`), as after it
    export = add_command(sub, "export", common, examples=("labtui export histories --out histories/",
                                                          "labtui export metadata --date 2025-10-21"))
    kinds = export.add_subparsers(dest="kind", metavar="KIND", required=True)
    histories = kinds.add_parser(
        "histories", parents=[common], help="one <chip>_history.csv per chip",
        description="Write one <chip>_history.csv per chip: the columns of the lab's old tool, from the manifest "
                    "(excluded runs included; the files are views, never read back).",
        epilog=examples_text(("labtui export histories",
                              "labtui export histories --min-experiments 5 --out histories/")))
    histories.add_argument("--min-experiments", type=count_arg, default=1, metavar="N",
                           help="skip chips with fewer runs (default: %(default)s, every chip)")
    histories.add_argument("--out", type=path_arg, metavar="DIR", help="folder (default: histories_dir of the config)")
    metadata = kinds.add_parser(
        "metadata", parents=[common], help="day-level metadata.csv files like the old tool's",
        description="Write a metadata.csv per raw folder, one row per run with its parameters, as the lab's old "
                    "tool wrote them beside the raw files (here under --out, never into the raw tree).",
        epilog=examples_text(("labtui export metadata", "labtui export metadata --date 2025-10-21 --out meta/")))
    metadata.add_argument("--date", type=iso_date, metavar="YYYY-MM-DD",
                          help="only the folders holding runs of this local date")
    metadata.add_argument("--out", type=path_arg, metavar="DIR", help="folder (default: <exports_dir>/metadata)")
    for parser in (histories, metadata):
        parser.add_argument("--source-prefix", default="", metavar="PREFIX",
                            help="prepended to source_file, e.g. raw_data/ for scripts written for the old tool")
    histories.set_defaults(func=run_histories)
    metadata.set_defaults(func=run_metadata)


def register_parity(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    check = add_command(sub, "parity", common, examples=(
        "labtui parity old/Alisson67_history.csv",
        "labtui parity old_history.csv --chip 72 --group Alisson --json",
    ))
    check.add_argument("old_history", type=path_arg, help="the old tool's <chip>_history.csv")
    check.add_argument("--chip", type=int, metavar="N", help="chip number (default: the chip most of its runs are of)")
    check.add_argument("--group", help="chip group, with --chip")
    check.add_argument("--json", action="store_true", help="machine-readable report")
    check.set_defaults(func=run_parity)


def out_folder(config: StagingConfig, given: Path | None, default: Path, setting: str) -> Path:
    """An export's folder: `--out` when `given`, else the config's `setting`, `default`. A file there is a usage
    error, not an operating-system one, and so is `-` (the standard output, to other commands: here it made a folder
    named `-`); said as where the user gave it. Nor is it in the raw folder or the store (`inside_problem`): the
    default, relative to the working folder, wrote 15 CSVs into the raw folder from a shell there (each then a
    reject), or into the store (a `foreign_files` error)."""
    path, named = (given, "--out") if given is not None else (default, f"the config's {setting}:")
    if (problem := config.inside_problem(path)) is not None:
        raise UsageError(f"{named} {problem}" + ("" if given is not None else "; give --out DIR"))
    if str(path) == "-":
        raise UsageError(f"{named} -: an export writes a folder of files, not to the standard output; give a folder")
    if path.exists() and not path.is_dir():
        raise UsageError(f"{named} {path} is a file: an export writes a folder of files, give a folder")
    return path


def run_histories(args: argparse.Namespace) -> int:
    from labtui.cli.history import say_unread_annotations
    from labtui.core.annotations import current_annotations
    from labtui.core.export import export_histories, history_file_name
    from labtui.core.history import load_manifest

    config = require_store(config_from(args))
    say_unread_annotations(config.store_root)  # the histories' annotation columns are of the records read
    out = out_folder(config, args.out, config.histories_dir, "histories_dir")
    written = export_histories(
        load_manifest(config), out, tz=config.local_tz, min_experiments=args.min_experiments,
        source_prefix=args.source_prefix, annotations=current_annotations(config.store_root),
    )
    if not written:  # "wrote 0 chip histories to DIR" named a folder it did not make
        few = f"no chip has {args.min_experiments} runs or more" if args.min_experiments > 1 else "no chip runs"
        print(f"{few}: nothing written")
        _say_other_histories(out, written)
        return EXIT_OK
    print(f"wrote {counted(len(written), 'chip history', 'chip histories')} to {out}")
    apart = [file for file in written if file.path.name != history_file_name(file.chip_name)]
    if apart:
        print("named apart (another chip's name makes the same file name, or the name is too long):")
    for file in apart:
        print(f"  {file.path.name}  {chip_label(file.chip_group, file.chip_number)}")
    _say_other_histories(out, written)
    return EXIT_OK


def _say_other_histories(out: Path, written: list[HistoryFile]) -> None:
    """The chip histories of an earlier export left in `out` (`other_histories`), named."""
    from labtui.core.export import other_histories

    if others := other_histories(out, written):
        shown = ", ".join(path.name for path in others[:ITEMS_PRINTED]) + (", …" if len(others) > ITEMS_PRINTED else "")
        print(f"left alone: {counted(len(others), 'chip history', 'chip histories')} in {out} not of this export "
              f"(an earlier one's: a chip pruned, renamed or under --min-experiments): {shown}")


def chip_label(group: str | None, number: int) -> str:
    """A chip with its group quoted (`a/b` and `a_b` are told apart), cut short: a header's group can be kilobytes."""
    return f"chip {number}, no group" if group is None else f"chip {number}, group {cut(group, show=repr)}"


def run_metadata(args: argparse.Namespace) -> int:
    from labtui.core.export import export_metadata
    from labtui.core.history import load_manifest

    config = require_store(config_from(args))
    out = out_folder(config, args.out, config.exports_dir / "metadata", "exports_dir")
    written = export_metadata(
        load_manifest(config), out, tz=config.local_tz, on_date=args.date, source_prefix=args.source_prefix,
        procedures_file=config.procedures_file,
    )
    if not written:
        print(f"no run measured on {args.date}: nothing written" if args.date else "no runs: nothing written")
        return EXIT_OK
    print(f"wrote {counted(len(written), 'metadata.csv file')} to {out}")
    return EXIT_OK


def run_parity(args: argparse.Namespace) -> int:
    from labtui.core.history import load_manifest
    from labtui.core.parity import parity, read_legacy_history

    config = require_store(config_from(args))
    try:
        old = read_legacy_history(args.old_history)
        report = parity(
            old, load_manifest(config), tz=config.local_tz, raw_root=config.raw_root, number=args.chip, group=args.group
        )
    except ValueError as exc:  # not an old history, or one of no chip labtui knows: another file is wanted
        raise CommandUsage(str(exc)) from None
    if args.json:
        import json

        print_data(json.dumps(report.to_dict(), indent=2, ensure_ascii=False, default=str))
    else:
        print_parity(report)
    return EXIT_OK if report.agree else EXIT_ERROR


def print_parity(report: ParityReport) -> None:
    chip = f"{report.chip_group or ''}{report.chip_number}"
    print(f"chip {chip}: {counted(report.matched, 'run')} in both; the old file has {counted(report.old_rows, 'row')}")
    if report.explained:
        print("known legacy defects, ignored:")
        for item in report.explained:
            print(f"  {item.count} {item.title}")
            _items(item.items, item.count)
    differences = (
        ("only in the old file", [f"{s}: {r}" for s, r in report.only_old.select("source_file", "reason").iter_rows()]),
        ("only in labtui", [f"seq {q}: {s}" for q, s in report.only_labtui.select("seq", "source_file").iter_rows()]),
        ("in another order", report.order),
    )
    for title, lines in differences:
        print(f"{title}: {len(lines)}")
        _items(lines, len(lines))
    print("AGREE" if report.agree else "DIFFER")


def _items(items: list[str], count: int) -> None:
    for item in items[:ITEMS_PRINTED]:
        print(f"      {item}")
    if count > ITEMS_PRINTED:
        print(f"      … and {count - ITEMS_PRINTED} more")
