"""`labtui` command line: the TUI by default, headless subcommands over the same engine for scripts.

Each subcommand lives in its own module with `register(subparsers, common)`; the UI is imported only when the
TUI is started, so `labtui stage` and friends never load Textual.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path

from labtui import __version__
from labtui.core.config import StagingConfig, load_config
from labtui.core.errors import ExitCode, LabtuiError

EXIT_OK, EXIT_ERROR, EXIT_USAGE = ExitCode.OK, ExitCode.ERROR, ExitCode.USAGE
EXIT_LOCKED, EXIT_INTERRUPTED = ExitCode.LOCKED, ExitCode.INTERRUPTED

COMMAND_MODULES = ("stage", "rejects", "history", "annotate", "validate", "export", "plot", "demo", "tui")


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
        return int(args.func(args) or ExitCode.OK)
    except LabtuiError as exc:
        print(f"labtui: {exc}", file=sys.stderr)
        return int(exc.exit_code)
    except KeyboardInterrupt:
        print("labtui: interrupted", file=sys.stderr)
        return int(ExitCode.INTERRUPTED)
    except BrokenPipeError:
        return int(ExitCode.OK)
    except OSError as exc:
        print(f"labtui: {describe_os_error(exc)}", file=sys.stderr)
        return int(ExitCode.READ_ONLY if isinstance(exc, PermissionError) else ExitCode.IO)
    except Exception:
        traceback.print_exc()
        print(f"labtui {__version__}: this is a bug in labtui; please report it with the lines above.", file=sys.stderr)
        return int(ExitCode.BUG)


def describe_os_error(exc: OSError) -> str:
    """An OS error that no command translated itself: still one line, naming the path when the OS gave one."""
    where = f" {exc.filename}" if exc.filename else ""
    return f"operating-system error on{where}: {exc.strerror or exc}"
