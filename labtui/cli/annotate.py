"""`labtui annotate`: star, exclude (with a reason), tag or note runs; kept in `_annotations/`, never in the data."""

from __future__ import annotations

import argparse

from labtui.cli import EXIT_OK, add_chip_arguments, add_command
from labtui.cli.locate import config_from, require_store
from labtui.core.errors import UsageError
from labtui.core.wording import counted

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing, which every start would pay for
if TYPE_CHECKING:
    from pathlib import Path

    import polars as pl

    from labtui.core.annotations import Change

MIN_PREFIX = 6  # a run_id prefix this long is almost always unique in a lab's store


def register_annotate(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    parser = add_command(
        sub, "annotate", common,
        examples=(
            "labtui annotate 67 --seq 7,9,13 --star --tag \"365 nm power series\"",
            "labtui annotate 67 --seq 12 --note \"sample re-mounted before this run\"",
            "labtui annotate --run 3f9c0a1b2d4e --exclude \"contact lost at 40 s\"",
            "labtui annotate 67 --seq 12 --include   # undo an exclusion",
            "labtui annotate --calibrations --seq 4 --exclude \"meter moved\"",
        ),
        description="Annotate runs by run_id, by a chip's seq numbers or the setup calibrations' (as `labtui history` "
                    "and `labtui history --calibrations` show them). "
                    "Several annotations at once are one action; nothing is ever overwritten.",
    )
    add_chip_arguments(parser, "chip number or name, with --seq (e.g. 67 or Alisson67)")
    parser.add_argument("--seq", type=seq_numbers, metavar="4-7|1,3,5", help="runs of the chip's history")
    parser.add_argument("--calibrations", action="store_true",
                        help="the setup's runs (its laser calibrations; Pt, Pwl, Tt), with --seq (`labtui history "
                             "--calibrations`)")
    parser.add_argument("--run", action="append", default=[], metavar="RUN_ID",
                        help=f"a run_id or a unique prefix of at least {MIN_PREFIX} characters; repeat for more")
    marks = parser.add_argument_group("annotations")
    star = marks.add_mutually_exclusive_group()
    star.add_argument("--star", dest="star", action="store_const", const=True, help="star the runs ★")
    star.add_argument("--unstar", dest="star", action="store_const", const=False, help="take the star back")
    exclude = marks.add_mutually_exclusive_group()
    exclude.add_argument("--exclude", metavar="REASON", help="leave the runs out of trends and figures, saying why")
    exclude.add_argument("--include", action="store_true", help="take an exclusion back")
    marks.add_argument("--tag", action="append", default=[], metavar="TAG", help="add a tag; repeat for more")
    marks.add_argument("--untag", action="append", default=[], metavar="TAG", help="remove a tag")
    note = marks.add_mutually_exclusive_group()
    note.add_argument("--note", metavar="TEXT", help="the runs' note (replaces the previous one)")
    note.add_argument("--clear-note", action="store_true", help="remove the note")
    marks.add_argument("--like", metavar="RUN_ID", help="mark the runs as this run is marked (its star, exclusion, "
                       "tags and note): a moved file's run, staged again under a new run_id")
    parser.set_defaults(func=run)


def seq_numbers(text: str) -> tuple[int, ...]:
    """`4-7` → 4..7, `1,3,5`, or both (`1,4-7`), as `plot --seq` takes them."""
    from labtui.core.seqs import parse_seqs

    try:
        return tuple(parse_seqs(text))
    except UsageError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def run(args: argparse.Namespace) -> int:
    import polars as pl

    from labtui.cli.history import say_unread_annotations
    from labtui.core.annotations import Change, annotate, default_author
    from labtui.core.history import calibrations, history, load_manifest
    from labtui.core.metrics import reprice_after
    from labtui.core.seqs import missing_seqs

    changes = [
        *([Change("star" if args.star else "unstar")] if args.star is not None else []),
        *([Change("exclude", args.exclude)] if args.exclude is not None else []),
        *([Change("include")] if args.include else []),
        *(Change("tag", tag) for tag in args.tag),
        *(Change("untag", tag) for tag in args.untag),
        *([Change("note", args.note)] if args.note is not None else []),
        *([Change("note", "")] if args.clear_note else []),
    ]
    if not changes and args.like is None:
        raise UsageError("say what to do: --star, --unstar, --exclude REASON, --include, --tag, --untag, --note, "
                         "--clear-note, --like RUN_ID")
    if both := sorted({tag.strip() for tag in args.tag} & {tag.strip() for tag in args.untag}):
        raise UsageError(f"--tag and --untag both name {', '.join(map(repr, both))}: say which")
    chosen = [how for how, given in (("--run", args.run), ("a chip number", args.number is not None),
                                     ("--calibrations", args.calibrations)) if given]
    if len(chosen) != 1:
        which = "say which runs" if not chosen else f"{' and '.join(chosen)} both name runs"
        raise UsageError(f"{which}: --run RUN_ID, a chip number with --seq, or --calibrations with --seq")
    if args.run and (given := [flag for flag, value in (("--seq", args.seq), ("--group", args.group))
                               if value is not None]):
        raise UsageError(f"--run names the runs: {', '.join(given)} chooses a chip's runs, give it with a chip number "
                         "instead of --run")
    if args.calibrations and args.group is not None:
        raise UsageError("calibrations belong to the setup, not to a chip: --group does not apply")
    config = require_store(config_from(args))
    if args.like is not None:
        changes = [*_marks_of(config.store_root, args.like), *changes]
    manifest = load_manifest(config)
    if args.run:
        runs = pl.concat([_run_by_id(manifest, text) for text in args.run]).unique("run_id", maintain_order=True)
        target = _run_label(runs["run_id"][0], runs["source_file"][0]) if runs.height == 1 else f"{runs.height} runs"
    else:
        whose = "the setup's calibrations" if args.calibrations else f"chip {args.number}"
        if args.seq is None:
            raise UsageError(f"say which runs of {whose}: --seq 4-7 or --seq 1,3,5")
        if args.calibrations:
            listed, name = calibrations(manifest, tz=config.local_tz), "the setup's calibrations"
        else:
            listed = history(manifest, args.number, args.group, tz=config.local_tz)
            name = listed["chip_name"][0]
        if missing := missing_seqs(args.seq, listed.height):
            has, its = ("have", "their") if args.calibrations else ("has", "its")
            seqs = f"{its} seq are 1–{listed.height}" if listed.height else "none is staged"
            raise UsageError(f"{name} {has} no run with seq {missing} ({seqs})")
        runs = listed.filter(pl.col("seq").is_in(list(args.seq)))
        target = f"{counted(runs.height, 'run')} of {name} (seq {_ranges(args.seq)})"
    _check_untagged(config.store_root, runs, changes, target)
    say_unread_annotations(config.store_root)  # "already as asked" may be of records left out
    action = annotate(config.store_root, runs, changes, author=default_author(config.user))
    if action is None:
        print(f"nothing to change: {target} already as asked (nothing recorded)")
    elif len(action.run_ids) < runs.height:  # the others were already so
        print(f"{action.describe()}: {counted(len(action.run_ids), 'run')} of {target}")
    else:
        print(f"{action.describe()}: {target}")
    if action is not None and action.changes_exclusion() and (repriced := reprice_after(config, action.run_ids)):
        print(repriced)
    return EXIT_OK


def _marks_of(store_root: Path, text: str) -> list[Change]:
    """The changes that mark a run as run `text` (a run_id or a unique prefix of 6 characters or more) is marked now;
    a run no longer staged too, whose annotations the log keeps."""
    from labtui.core.annotations import Change, current_annotations

    found = _by_prefix(current_annotations(store_root), text)
    if found.height != 1:
        why = "no annotated run has" if found.is_empty() else f"{found.height} annotated runs have"
        raise UsageError(f"--like {text}: {why} that run_id (its full run_id, or 6 characters or more of it)")
    row = found.row(0, named=True)
    return [*([Change("star")] if row["starred"] else []),
            *([Change("exclude", row["exclude_reason"])] if row["excluded"] else []),
            *(Change("tag", tag) for tag in row["tags"] or ()), *([Change("note", row["note"])] if row["note"] else [])]


def _check_untagged(store_root: Path, runs: pl.DataFrame, changes: list[Change], target: str) -> None:
    """An --untag of a tag none of the runs has is a typo (`365 nm power serie`), refused naming the tag meant, as
    the app's `-tag` is: "nothing to change" left the real tag on."""
    from labtui.cli.meant import did_you_mean
    from labtui.core.annotations import annotate_runs

    untags = [change.value for change in changes if change.kind == "untag" and change.value]
    if not untags:
        return
    tags = set(annotate_runs(store_root, runs.select("run_id"))["tags"].explode().drop_nulls().to_list())
    if missing := next((tag for tag in untags if tag not in tags), None):
        raise UsageError(f"{target}: no tag {missing!r} to remove{did_you_mean(missing, sorted(tags))}")


def _run_by_id(manifest: pl.DataFrame, text: str) -> pl.DataFrame:
    if len(text.strip()) < MIN_PREFIX:
        raise UsageError(f"run_id {text!r} is too short: give at least {MIN_PREFIX} characters")
    rows = _by_prefix(manifest, text)
    if rows.height == 1:
        return rows
    if rows.is_empty():
        raise UsageError(f"no run with run_id {text!r} in the manifest")
    raise UsageError(f"run_id {text!r} is ambiguous ({rows.height} runs start with it): give more characters")


def _by_prefix(runs: pl.DataFrame, text: str) -> pl.DataFrame:
    """The rows of `runs` whose run_id starts with `text` (blanks and case aside); none for fewer than `MIN_PREFIX`
    characters."""
    import polars as pl

    wanted = text.strip().lower()
    return runs.filter(pl.col("run_id").str.starts_with(wanted)) if len(wanted) >= MIN_PREFIX else runs.clear()


def _run_label(run_id: str, source_file: str) -> str:
    return f"run {run_id} ({source_file})"


def _ranges(numbers: tuple[int, ...]) -> str:
    """4,5,6,7,9 → `4–7, 9`."""
    ordered = sorted(numbers)
    spans: list[list[int]] = []
    for number in ordered:
        if spans and number == spans[-1][1] + 1:
            spans[-1][1] = number
        else:
            spans.append([number, number])
    return ", ".join(str(a) if a == b else f"{a}–{b}" for a, b in spans)
