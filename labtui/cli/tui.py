"""`labtui tui` (and plain `labtui`): the terminal app. Textual is imported here, inside the command, only."""

from __future__ import annotations

import argparse
import sys

from labtui.cli import EXIT_OK, EXIT_USAGE, config_from


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    parser = sub.add_parser("tui", parents=[common], help="open the terminal app (the default without a command)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    config = config_from(args)
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        print("labtui: the app needs a terminal; for scripts use the commands (`labtui --help`)", file=sys.stderr)
        return EXIT_USAGE
    from labtui.tui.app import LabApp

    LabApp(config).run()
    return EXIT_OK
