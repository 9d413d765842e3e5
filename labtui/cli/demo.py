"""`labtui demo DIR`: write a realistic synthetic lab (raw files + config) to try labtui without lab data."""

from __future__ import annotations

import argparse
from contextlib import contextmanager

from labtui.cli import EXIT_OK, CommandUsage, add_command
from labtui.cli.arg_types import path_arg

TYPE_CHECKING = False  # as in labtui.cli: pathlib is not imported by `labtui demo --help`
if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path


def register_demo(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    parser = add_command(sub, "demo", examples=(
        "labtui demo ~/demo-lab --stage",
        "labtui demo lab2 --chips 3 --days 10 --seed 7 --no-irregularities",
    ))
    parser.add_argument("folder", type=path_arg, metavar="DIR", help="an empty or new folder")
    parser.add_argument("--chips", type=int, default=6, metavar="N",
                        help="chips measured (default: %(default)s; one number is also used by a second group)")
    parser.add_argument("--days", type=int, default=20, metavar="N",
                        help="days of measurements (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=1, metavar="N",
                        help="random seed: the same seed writes the same lab, byte for byte (default: %(default)s)")
    parser.add_argument(
        "--no-irregularities",
        action="store_true",
        help="a tidy lab (default: also the irregular files a real lab has: aborted, header-only, overnight "
        "runs and more)",
    )
    parser.add_argument("--stage", action="store_true", help="also stage it")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from labtui.synth import LabSpec
    from labtui.synth.demo import config_file_of, write_demo

    try:
        spec = LabSpec(chips=args.chips, days=args.days, seed=args.seed, irregularities=not args.no_irregularities)
    except ValueError as exc:  # no chip, no day, a negative seed
        raise CommandUsage(str(exc)) from None
    with demo_errors(args.folder):
        summary = write_demo(args.folder, spec)
    counts = ", ".join(f"{n} {proc}" for proc, n in sorted(summary.counts.items()))
    config_file = config_file_of(args.folder)
    print(
        f"wrote {len(summary.runs)} raw files ({counts}) for {len(summary.chips)} chips "
        f"to {args.folder / 'data' / '01_raw'}"
    )
    if args.stage:
        from labtui.cli.progress import ProgressBar
        from labtui.cli.stage import run_cancellable
        from labtui.core.config import load_config
        from labtui.core.stager import Stager

        print(run_cancellable(Stager(load_config(config_file), on_event=ProgressBar())).line())
    print(f"open it with: labtui --config {config_file}")
    return EXIT_OK


@contextmanager
def demo_errors(folder: Path) -> Iterator[None]:
    """Writing a demo lab into `folder` (`labtui demo DIR`, or `--demo`'s folder) fails in one line that names it."""
    from labtui.core.errors import OperationFailed, os_reason

    try:
        yield
    except FileExistsError as exc:  # a folder with other things in it: choose another
        raise CommandUsage(str(exc)) from None
    except NotADirectoryError as exc:  # `labtui demo afile`: the user's mistake (exit 2), not the system's (74)
        raise CommandUsage(f"cannot write the demo lab into {folder}: {os_reason(exc, folder)}") from None
    except OSError as exc:
        raise OperationFailed("write the demo lab into", folder, exc) from None
