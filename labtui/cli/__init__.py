"""`labtui` command line: the TUI by default, headless subcommands over the same engine for scripts.

Each subcommand lives in its own module with `register(subparsers, common)`; the UI is imported only when the
TUI is started, so `labtui stage` and friends never load Textual.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from pathlib import Path

from labtui import __version__
from labtui.core.config import ConfigError, StagingConfig, load_config
from labtui.core.lock import LockBusy

EXIT_OK, EXIT_ERROR, EXIT_USAGE = 0, 1, 2
EXIT_LOCKED = 75  # EX_TEMPFAIL: another writer holds the store; try again later
EXIT_INTERRUPTED = 130

COMMAND_MODULES = ("stage", "rejects", "history", "validate", "export", "demo", "tui")


def common_options() -> argparse.ArgumentParser:
    """Options every command accepts; they override the config file."""
    common = argparse.ArgumentParser(add_help=False)
    group = common.add_argument_group("store")
    group.add_argument("--config", type=Path, metavar="FILE", help="config file (default: config/labtui.yaml)")
    group.add_argument("--raw-root", type=Path, metavar="DIR", help="folder of raw CSV files")
    group.add_argument("--stage-root", type=Path, metavar="DIR",
                       help="the raw_measurements folder; _manifest/ and _rejects/ sit beside it")
    return common


def config_from(args: argparse.Namespace, **overrides: object) -> StagingConfig:
    return load_config(args.config, raw_root=args.raw_root, stage_root=args.stage_root, **overrides)


def build_parser() -> argparse.ArgumentParser:
    from labtui.cli.tui import app_options

    common = common_options()
    parser = argparse.ArgumentParser(
        prog="labtui",
        parents=[common, app_options()],
        description="Stage, browse and plot a graphene-FET lab's measurement files. Without a command: the TUI.",
    )
    parser.add_argument("--version", action="version", version=f"labtui {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(f"labtui.cli.{name}").register(sub, common)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "func", None) is None:
        from labtui.cli.tui import run as run_tui

        args.func = run_tui
    try:
        return int(args.func(args) or EXIT_OK)
    except ConfigError as exc:
        print(f"labtui: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except LockBusy as exc:
        print(f"labtui: {exc}", file=sys.stderr)
        return EXIT_LOCKED
    except KeyboardInterrupt:
        print("labtui: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        return EXIT_OK
