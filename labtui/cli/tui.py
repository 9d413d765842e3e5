"""`labtui tui` (and plain `labtui`): the terminal app. Textual is imported here, inside the command, only."""

from __future__ import annotations

import argparse
import sys

from labtui.cli import EXIT_OK, EXIT_USAGE, HelpFormatter, add_command, report_bug
from labtui.cli.locate import config_from, demo_config_file

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing, which every start would pay for
if TYPE_CHECKING:
    from labtui.core.config import StagingConfig
    from labtui.tui.app import LabApp


LAB_OPTIONS = ("config", "raw_root", "store", "stage_root")  # a lab named on the command line


def app_options(default: object = None) -> argparse.ArgumentParser:
    """What the app starts with; accepted by plain `labtui` and by `labtui tui` (whose copy, as the common options,
    leaves an option it was not given unset)."""
    options = argparse.ArgumentParser(add_help=False, argument_default=default, formatter_class=HelpFormatter)
    group = options.add_argument_group("app")
    group.add_argument("--watch", action="store_true",
                       help="watch the raw folder: stage each new run once it stops changing (w toggles it)")
    group.add_argument("--demo", action="store_true",
                       help="open a built-in demo lab (generated once in ~/.cache/labtui/demo or $LABTUI_DEMO_DIR) "
                            "and stage it; before a command, the command reads it (labtui --demo history 68)")
    return options


def register_tui(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    parser = add_command(sub, "tui", common, app_options(argparse.SUPPRESS), examples=(
        "labtui tui --watch",
        "labtui tui --config ~/lab/config/labtui.yaml",
    ))
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        print("labtui: the app needs a terminal; for scripts use the commands (`labtui --help`)", file=sys.stderr)
        return EXIT_USAGE
    if not sys.stderr.isatty():  # Textual draws on it: `labtui 2>log` drew the app into the log, the terminal blank
        print("labtui: the app draws on the standard error: run it without redirecting that (2>…)")
        return EXIT_USAGE
    app = build_app(args)
    app.run()
    if app.return_code:  # an error the app did not handle: Textual has printed its traceback
        return report_bug()
    return EXIT_OK


def build_app(args: argparse.Namespace) -> LabApp:
    """The app the command line asks for: the configured lab, or the demo lab, staged at start.

    Plain `labtui` on a lab with no raw file and no store yet (a fresh checkout) opens the demo instead, saying so
    in the app; `labtui tui`, `--watch` (waiting for the first run) and a lab named by an option (`--store`,
    `--config`, …) always open the lab asked for.
    """
    from labtui.core.config import load_config
    from labtui.tui.app import LabApp
    from labtui.tui.store import short_path

    notice = ""
    if not args.demo:
        config = config_from(args)
        named = any(getattr(args, option, None) is not None for option in LAB_OPTIONS)
        if args.command is not None or args.watch or named or not is_empty(config):
            return LabApp(config, watch=args.watch)
        notice = (f"No raw CSV file in {short_path(config.raw_root)} and no store yet, so this is the demo lab; "
                  "`labtui tui` opens your empty lab.")
    demo = load_config(demo_config_file())
    # why plain `labtui` opened the demo stays long enough to be read; where `--demo`'s files are, a moment
    seconds = 20 if notice else 8
    notice = notice or f"The demo lab: synthetic runs in {short_path(demo.raw_root)}, staged as it opens."
    return LabApp(demo, stage_on_start=True, watch=args.watch, notice=notice, notice_seconds=seconds)


def is_empty(config: StagingConfig) -> bool:
    """No store and nothing to stage into one (what `scan_raw` finds: its walk never recurses, so a raw folder
    nested a thousand deep is an answer, not a RecursionError)."""
    from labtui.core.scan import scan_raw

    return not config.manifest_path.exists() and not scan_raw(config.raw_root)
