"""`labtui` command line: the TUI by default, headless subcommands over the same engine for scripts.

Start-up is part of the interface: `labtui --help` must answer before a person notices. So building the parser
imports nothing heavy (no Polars, NumPy, Pydantic, Textual, the demo generator): each command module imports
only argparse-level things at its top and the engine inside its run function, only the command being run is
imported and gets its options (`build_parser`), and the config machinery is loaded only when a command asks for
its config (`locate.config_from`). `tests/test_cli_startup.py` holds every command to that.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import itertools
import os
import sys
from collections.abc import Sequence

from labtui import __version__
from labtui.cli.arg_types import file_arg, path_arg
from labtui.cli.meant import COMMAND_FOR, did_you_mean, option_meant, unrecognized
from labtui.cli.output import PLAIN_ERRORS, said_output
from labtui.core.errors import ExitCode, LabtuiError, OperationFailed, UsageError, error_line
from labtui.core.wording import shown

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing, which every start would pay for
if TYPE_CHECKING:
    from typing import NoReturn

EXIT_OK, EXIT_ERROR, EXIT_USAGE = ExitCode.OK, ExitCode.ERROR, ExitCode.USAGE
EXIT_LOCKED, EXIT_INTERRUPTED = ExitCode.LOCKED, ExitCode.INTERRUPTED


class CommandUsage(UsageError):
    """Arguments that parse but do not fit together (`--since` after `--until`); said as argparse says its own."""


def terminal_columns() -> int:
    """`shutil.get_terminal_size().columns` without importing shutil (which loads bz2, lzma and fnmatch: a tenth of
    a `--help`): $COLUMNS, else the terminal of the standard output, else 80."""
    try:
        columns = int(os.environ.get("COLUMNS", "0"))
    except ValueError:
        columns = 0
    if columns <= 0:
        try:
            columns = os.get_terminal_size(sys.__stdout__.fileno()).columns  # type: ignore[union-attr]
        except (AttributeError, ValueError, OSError):
            columns = 0
    return columns if columns > 0 else 80


class HelpFormatter(argparse.HelpFormatter):
    """argparse's help layout, told the terminal's width (argparse imports shutil to find it); a line indented by two
    spaces (an example command) is kept as written, where argparse would run it into the text around it."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        if len(args) < 4 and kwargs.get("width") is None:  # argparse's own default: the width less a margin of 2
            kwargs["width"] = terminal_columns() - 2
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        from itertools import groupby

        blocks: list[str] = []
        for verbatim, lines in groupby(text.splitlines(), key=lambda line: line.startswith("  ")):
            if verbatim:
                blocks.extend(indent + line for line in lines)
            else:
                blocks.append(super()._fill_text("\n".join(lines), width, indent))
        return "\n".join(blocks)


class ArgumentsRefused(SystemExit):
    """argparse's exit on arguments it cannot parse, with its message: a command asked for JSON answers in JSON
    (`answers_json`: the refusing command has a JSON mode; `plot --json` is refused as any unknown option is)."""

    def __init__(self, message: str, *, answers_json: bool = False) -> None:
        super().__init__(ExitCode.USAGE)
        self.message = message
        self.answers_json = answers_json


class Parser(argparse.ArgumentParser):
    """Each (sub)command reports its own usage errors: argparse hands a subcommand's unknown arguments up to the
    top-level parser, whose usage then says nothing about the command that was typed. Help is laid out by
    `HelpFormatter`. No option is read from a prefix of its name: `stage --forc` re-staged everything and `prune --y`
    dropped runs; a prefix is answered as a typo is, with the option meant."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        kwargs.setdefault("formatter_class", HelpFormatter)
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]

    def error(self, message: str) -> NoReturn:
        """One line, as every other error: the usage of a command with twenty options buried the message. A required
        argument found missing because its option was mistyped (`plot --outt a.png`: "required: --out") is said as
        the typo it is, with the option meant."""
        if message.startswith("the following arguments are required") and (typos := self._mistyped()):
            message = unrecognized(typos, self)
        self._print_message(usage_line(self.prog, message), sys.stderr)  # argparse's: a closed stderr is no error
        # a command's parser knows whether it has a JSON mode; the top one (`labtui`: `--confg x history 67 --json`)
        # does not know the command, and answers as asked
        raise ArgumentsRefused(message, answers_json="--json" in self._option_string_actions or " " not in self.prog)

    def _check_value(self, action: argparse.Action, value: object) -> None:
        """argparse's check of a choice (a command, a --format), naming the choice meant when one is close."""
        if action.choices is not None and value not in action.choices:
            choices = [str(choice) for choice in action.choices]
            meant = COMMAND_FOR.get(str(value).lower(), "") if "plot" in choices else ""  # the commands' choice
            meant = meant or did_you_mean(str(value), choices)
            raise argparse.ArgumentError(action, f"invalid choice: {value!r}{meant} (choose from {', '.join(choices)})")

    def _get_value(self, action: argparse.Action, arg_string: str) -> object:
        """A text argument (a tag, a note, `Müller68`) typed on a UTF-8 terminal under a C locale with UTF-8 mode
        off reaches Python as surrogate escapes: read as the UTF-8 it is (a tag crashed `annotate`, a chip name was
        not one). Paths (typed arguments) keep the escapes, which name the file's bytes, and so does the command's
        rest of the line, which its own parser reads."""
        if action.type is None and action.nargs != argparse.PARSER and not arg_string.isascii():
            from labtui.core.wording import os_text

            arg_string = os_text(arg_string)
        return super()._get_value(action, arg_string)

    def _mistyped(self) -> list[str]:
        """The options of the arguments being parsed that this command does not know (`--outt`, `--outt=a.png`)."""
        options = itertools.takewhile(lambda word: word != "--", self._parsing)  # after `--`, only values
        known = self._option_string_actions
        return [word for word in options if word.startswith("--") and word.split("=")[0] not in known]

    _parsing: Sequence[str] = ()  # the arguments `parse_known_args` is parsing (none: `error` called outside it)

    def parse_known_args(self, args=None, namespace=None):
        self._parsing = list(sys.argv[1:] if args is None else args)  # for `error`, which argparse gives no arguments
        parsed, extras = super().parse_known_args(args, namespace)
        if extras:
            self.error(unrecognized(extras, self))
        if not hasattr(parsed, "command_parser"):  # the innermost subcommand parses first
            parsed.command_parser = self
        if "format" in parsed and parsed.format is None:  # a table's format not given: the --out file's, if it has one
            suffix = parsed.out.suffix.lower() if parsed.out is not None else ""
            if suffix in DATA_SUFFIXES:  # a text table in `runs.parquet` broke the notebook that read it
                self.error(f"--out {parsed.out.name}: a table is written as text, CSV or JSON (--format); typed "
                           "frames come from labtui.api (README: Reading the store from Python)")
            parsed.format = {".csv": "csv", ".json": "json"}.get(suffix, "table")
        return parsed, extras


DATA_SUFFIXES = frozenset((".parquet", ".pq", ".arrow", ".feather", ".ipc", ".xlsx", ".xls", ".avro"))  # not text


def report_bug() -> int:
    """After a bug's traceback: the line that asks for a report, and the exit code that says it was a bug."""
    print(f"labtui {__version__}: this is a bug in labtui; please report it with the lines above.", file=sys.stderr)
    return int(ExitCode.BUG)


def usage_line(prog: str, message: str) -> str:
    return f"{prog}: error: {message} ({prog} --help lists the options)\n"


def add_chip_arguments(parser: argparse.ArgumentParser | argparse._ArgumentGroup, help: str) -> None:
    """The chip a command is about: `67`, or its name as `chips` lists it (`Alisson67`, also `alisson-67`), which
    `resolve_chip` reads; `--group` for a number (or a name) several groups use."""
    parser.add_argument("number", action=ChipName, nargs="?", metavar="CHIP", help=help)
    parser.add_argument("--group", help="chip group, when several groups use the number (e.g. Alisson)")


def add_table_output(parser: argparse.ArgumentParser) -> None:
    """A command that prints a table: its format (`--json` too, as the report commands spell it) and `--out`."""
    parser.add_argument("--format", choices=("table", "csv", "json"), default=None,
                        help="output format (default: csv or json when --out ends so, else table)")
    parser.add_argument("--json", dest="format", action="store_const", const="json", help="the same as --format json")
    parser.add_argument("--out", type=file_arg, metavar="FILE", help="write to FILE (atomically) instead of stdout")


class ChipName(argparse.Action):
    """A chip number or name: a number into `number` as an int; a name as given, which `resolve_chip` reads
    against the manifest's chip names first (`chips` lists `G215` for group G2's chip 15, and `Batch-37` for
    Batch-3's chip 7: read as group G, chip 215, they named no chip)."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: object,
                 option_string: str | None = None) -> None:
        from labtui.core.chip_name import parse_chip

        if not isinstance(values, str):  # the chip left out
            return
        chip = parse_chip(values)
        namespace.number = chip[1] if chip is not None and chip[0] is None else values.strip()


def common_options(default: object = None) -> argparse.ArgumentParser:
    """Options every command accepts; they override the config file. A command's copy leaves an option it was not
    given unset (`default=argparse.SUPPRESS`), so `labtui --store DIR chips` keeps the DIR given before the command."""
    common = argparse.ArgumentParser(add_help=False, argument_default=default, formatter_class=HelpFormatter)
    group = common.add_argument_group("store")
    group.add_argument("--config", type=path_arg, metavar="FILE", help="config file (default: config/labtui.yaml)")
    group.add_argument("--raw-root", type=path_arg, metavar="DIR", help="folder of raw CSV files")
    group.add_argument("--store", type=path_arg, metavar="DIR", help="the store: the folder holding _manifest/")
    group.add_argument("--stage-root", type=path_arg, metavar="DIR",
                       help="the store's raw_measurements folder (or the store folder itself)")
    group.add_argument("--derived-root", type=path_arg, metavar="DIR",
                       help="folder of derived tables (metrics.parquet); default: 03_derived beside "
                            "data/02_stage, <store>_derived beside a store of another name")
    return common


# Every command: the module labtui/cli/<module>.py that defines it with `register_<name>(sub, common)` (top-level
# imports: argparse-level only), and the line `labtui --help` lists it with, kept here so that the list imports none.
COMMANDS: dict[str, tuple[str, str]] = {
    "stage": ("stage", "stage new and changed raw files into the store"),
    "restage": ("stage", "re-stage the given raw files (e.g. after fixing them)"),
    "rejects": ("rejects", "list rejected raw files and the reason"),
    "chips": ("history", "every chip: runs per procedure, light/dark, dates"),
    "history": ("history", "a chip's experiment history, oldest first"),
    "annotate": ("annotate", "star, exclude, tag or note runs (kept apart from the data)"),
    "metrics": ("metrics", "derived quantities of every run (CNP, ΔI, power, …)"),
    "validate": ("validate", "check the store; exit 1 when it has errors"),
    "repair": ("repair", "rebuild a damaged manifest from the store itself (no raw file needed)"),
    "prune": ("repair", "list the runs whose raw file is gone or outside the raw root; --yes drops them"),
    "export": ("export", "write CSV views of the manifest (never read back)"),
    "parity": ("export", "compare a history exported by the old tool with labtui's"),
    "plot": ("plot", "write a figure (PDF, SVG or PNG) of a chip's runs"),
    "demo": ("demo", "write a synthetic demo lab (raw files and a config) into DIR"),
    "tui": ("tui", "open the terminal app (the default without a command)"),
}


def add_command(sub: argparse._SubParsersAction, name: str, *parents: argparse.ArgumentParser,
                examples: Sequence[str] = (), **settings: object) -> argparse.ArgumentParser:
    """The parser of the command `name`, with its line from `COMMANDS` as its help in the list of commands and as
    the first line of its own --help (unless it says more), and its `examples` (command lines) at the end of it: a
    command module's `register_<name>`."""
    line = COMMANDS[name][1]
    settings.setdefault("description", line[0].upper() + line[1:] + ".")
    if examples:
        settings["epilog"] = examples_text(examples)
    return sub.add_parser(name, parents=list(parents), help=line, **settings)  # type: ignore[arg-type]


def examples_text(examples: Sequence[str]) -> str:
    """The end of a command's --help: its example command lines, each kept on its line (`HelpFormatter`)."""
    return "examples:\n" + "\n".join(f"  {example}" for example in examples)


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The whole command line; given the arguments, only the command they name (none: every command listed by name
    and help line), so that a command imports no other command's module and builds no other parser."""
    from importlib import import_module

    from labtui.cli.tui import app_options

    common, app = common_options(), app_options()
    parser = Parser(
        prog="labtui",
        parents=[common, app],
        description="Stage, browse and plot a graphene-FET lab's measurement files. Without a command: the TUI.",
        epilog=examples_text(("labtui --demo                # the app on a demo lab",
                              "labtui                       # the app on the lab of config/labtui.yaml",
                              "labtui stage && labtui history 67",
                              "labtui COMMAND --help        # a command's options and examples")),
    )
    parser.add_argument("--version", action="version", version=f"labtui {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    built = set(COMMANDS) if argv is None else _commands_to_build(argv, common, app)
    command_common = common_options(argparse.SUPPRESS)
    for name, (module, _) in COMMANDS.items():
        if name in built:
            getattr(import_module(f"labtui.cli.{module}"), f"register_{name}")(sub, command_common)
        elif not built:  # `labtui --help` lists the commands: by name and line only; no -h of their own (their
            add_command(sub, name, add_help=False)  # gettext lookups alone would be ~10 ms of every start)
    return parser


class FirstPass(argparse.ArgumentParser):
    """The parse that finds the command: what it cannot read (`--store` without its folder) is said as every usage
    error (it printed argparse's usage, headed `__main__.py`)."""

    error = Parser.error


def _commands_to_build(argv: Sequence[str], *parents: argparse.ArgumentParser) -> set[str]:
    """The command the arguments name (none: `labtui --help`, the app); every command when they name an unknown one
    or do not parse, so that the full parser says what is wrong."""
    first = FirstPass(prog="labtui", add_help=False, parents=list(parents), exit_on_error=False,
                      formatter_class=HelpFormatter, allow_abbrev=False)
    first.add_argument("command", nargs="?")
    try:
        parsed, extras = first.parse_known_args(argv)
    except argparse.ArgumentError:
        return set(COMMANDS)
    named = parsed.command
    if named is None:
        return set()
    typed = next((word for word in extras if word.startswith("--") and word not in ("--help", "--version")), None)
    if named not in COMMANDS and typed is not None and list(argv).index(typed) < list(argv).index(named):
        # `--raw-rot DIR stage`: the option was mistyped, not the command (`trends --help`: the command was)
        Parser(prog="labtui").error(f"unrecognized option {typed}{option_meant(typed, first)}")
    return {named} if named in COMMANDS else set(COMMANDS)


def wants_json(args: argparse.Namespace | None, argv: Sequence[str] = ()) -> bool:
    """Whether the command was asked for JSON (`--json`, `--format json`): its errors are then JSON on stdout too.
    From `argv` where its arguments did not parse."""
    if args is None:
        return "--json" in argv or "--format=json" in argv or ("--format", "json") in itertools.pairwise(argv)
    return getattr(args, "json", False) is True or getattr(args, "format", None) == "json"


def json_error(message: str, code: int) -> None:
    """The error as JSON on stdout, for a script that reads the JSON it asked for (an empty stdout it cannot parse)."""
    import json

    print(json.dumps({"error": message, "exit_code": code}))


def main(argv: Sequence[str] | None = None) -> int:
    # labtui uses no Pydantic plugin, and looking for them reads every installed package's metadata when the first
    # model is built: a fifth of Pydantic's start-up, which every command that reads a config pays
    os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")
    for name in ("stdout", "stderr"):  # closed (`>&-`, `2>&-`), Python's stream is None: `stage 2>&-` was a traceback
        if getattr(sys, name) is None:
            setattr(sys, name, open(os.devnull, "w"))  # noqa: SIM115 (the process's stream: open until it exits)
    for stream in (sys.stdout, sys.stderr):  # a terminal or file in ASCII, Latin-1 or cp1252: `uA` for µA, `?` for 💡
        if hasattr(stream, "reconfigure") and stream.encoding.replace("-", "").lower() != "utf8":
            stream.reconfigure(errors=PLAIN_ERRORS)
    given, sys.stdout = sys.stdout, said_output(sys.stdout)
    args: argparse.Namespace | None = None
    try:
        argv = sys.argv[1:] if argv is None else list(argv)
        args = build_parser(argv).parse_args(argv)
        if getattr(args, "func", None) is None:
            from labtui.cli.tui import run as run_tui

            args.func = run_tui
        status = int(args.func(args) or ExitCode.OK)
        sys.stdout.flush()  # here, not at exit: a full disk behind `> report.txt` is said as any other error
        return status
    except CommandUsage as exc:
        assert args is not None  # raised by a command, after its arguments parsed
        sys.stderr.write(usage_line(args.command_parser.prog, str(exc)))  # as argparse's own errors
        if wants_json(args):
            json_error(str(exc), int(exc.exit_code))
        return int(exc.exit_code)
    except LabtuiError as exc:
        print(error_line(exc), file=sys.stderr)
        if wants_json(args):
            json_error(str(exc), int(exc.exit_code))
        return int(exc.exit_code)
    except BrokenPipeError:
        return int(ExitCode.OK)
    except OSError as exc:
        if isinstance(exc, FileNotFoundError) and exc.filename is None:  # a relative path (`--out x.csv`) resolved
            from labtui.core.config import working_dir  # in a working folder deleted under the shell
            from labtui.core.lab_files import ConfigError

            try:
                working_dir()
            except ConfigError as gone:
                print(error_line(gone), file=sys.stderr)
                return int(gone.exit_code)
        print(shown(f"labtui: {describe_os_error(exc)}"), file=sys.stderr)
        read_only = isinstance(exc, PermissionError) or exc.errno == errno.EROFS
        return int(ExitCode.READ_ONLY if read_only else ExitCode.IO)
    except Exception:
        import traceback

        traceback.print_exc()
        return report_bug()
    except BaseException as exc:  # argparse's SystemExit passes, its help flushed here; a Ctrl+C is said in one line
        if isinstance(exc, ArgumentsRefused) and exc.answers_json and wants_json(None, argv or ()):
            json_error(exc.message, int(ExitCode.USAGE))
        if isinstance(exc, SystemExit):
            try:
                sys.stdout.flush()
            except OperationFailed as failed:
                print(error_line(failed), file=sys.stderr)
                return int(failed.exit_code)
        if not interrupted(exc):
            raise
        print("labtui: interrupted", file=sys.stderr)
        return int(ExitCode.INTERRUPTED)
    finally:
        said, sys.stdout = sys.stdout, given
        if said is not given:
            with contextlib.suppress(Exception):  # what a failed command printed before its error; a failure of
                said.flush()  # the output itself was said already, or the command's own error is


def interrupted(exc: BaseException) -> bool:
    """A Ctrl+C: its KeyboardInterrupt, or, when it lands while Rust code calls into Python (Polars registering
    itself as it is imported), pyo3's PanicException naming the KeyboardInterrupt."""
    return isinstance(exc, KeyboardInterrupt) or (type(exc).__name__ == "PanicException"
                                                  and "KeyboardInterrupt" in str(exc))


def describe_os_error(exc: OSError) -> str:
    """An OS error that no command translated itself: still one line, naming the path when the OS gave one."""
    from labtui.core.errors import os_reason

    where = f" on {exc.filename}" if exc.filename else ""
    return f"operating-system error{where}: {os_reason(exc)}"
