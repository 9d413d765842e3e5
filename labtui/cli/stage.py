"""`labtui stage` and `labtui restage`: run the staging engine with a progress bar and a one-line summary."""

from __future__ import annotations

import argparse
import sys

from labtui.cli import (
    EXIT_ERROR,
    EXIT_INTERRUPTED,
    EXIT_OK,
    CommandUsage,
    add_command,
)
from labtui.cli.arg_types import count_arg, path_arg, seconds_arg
from labtui.cli.locate import config_from, recorded_raw_root
from labtui.core.errors import OperationFailed, UsageError
from labtui.core.wording import counted, shown

SHOWN_FILES = 10  # staged files with notes, and busy files, listed after a stage; `--json` has them all
TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing, which every start would pay for
if TYPE_CHECKING:
    import threading
    from collections.abc import Callable
    from pathlib import Path
    from typing import TypeVar

    from labtui.core.config import StagingConfig
    from labtui.core.stage_events import StageReport
    from labtui.core.stager import Stager
    from labtui.core.watch import WatchEvent

    T = TypeVar("T")


def register_stage(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    stage = add_command(sub, "stage", common, examples=(
        "labtui stage                       # new and changed raw files",
        "labtui stage --force               # every file again",
        "labtui stage --watch               # each new run once it stops changing",
        "labtui stage --raw-root /mnt/new/raw --raw-root-moved",
    ))
    _engine_options(stage)
    stage.add_argument("--force", action="store_true", help="re-stage every file, changed or not")
    stage.add_argument("--watch", action="store_true",
                       help="keep watching the raw folder; stage each file once it stops changing (Ctrl+C stops)")
    stage.set_defaults(func=run_stage)


def register_restage(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    restage = add_command(sub, "restage", common, examples=(
        "labtui restage 2025-10-21/It2025-10-21_3.csv   # as `labtui rejects` names it",
        "labtui restage data/01_raw/2025-10-21/*.csv",
    ))
    restage.add_argument("files", nargs="+", type=path_arg,
                         help="raw files: paths as labtui prints them (relative to the raw root) or real paths")
    restage.add_argument("--force", action="store_true", help="re-extract a file even when it has not changed, and "
                         "take a file cut short as it is (its staged run replaced by the rows left)")
    _engine_options(restage)
    restage.set_defaults(func=run_restage)


def _engine_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--workers", type=count_arg, metavar="N", help="worker threads (default from config)")
    parser.add_argument("--lock-timeout", type=seconds_arg, metavar="S",
                        help="seconds to wait for another writer (0 = fail at once; exit code 75)")
    parser.add_argument("--settle", type=seconds_arg, metavar="S",
                        help="files modified within S seconds are busy (deferred)")
    parser.add_argument("--strict", action="store_true", help="exit 1 when any file is rejected")
    parser.add_argument("--raw-root-moved", action="store_true",
                        help="the lab moved the raw tree: record the new --raw-root (run_ids stay the same)")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    parser.add_argument("--quiet", "-q", action="store_true", help="no progress bar")


def run_stage(args: argparse.Namespace) -> int:
    return run_watch(args) if args.watch else _run(args, force=args.force, only=None)


def run_restage(args: argparse.Namespace) -> int:
    return _run(args, force=args.force, only=args.files)


def raw_files(raw_root: Path, given: list[Path]) -> list[Path]:
    """The raw files the user means: a path as labtui prints it (relative to the raw root) or a real path."""
    from labtui.core.scan import not_scanned
    from labtui.core.wording import shown

    found, missing = [], []
    for path in given:
        candidates = [path] if path.is_absolute() else [raw_root / path, path]
        hit = next((c for c in candidates if _there(c)), None)
        if hit is None:
            missing.append(shown(str(path)))
        elif problem := not_scanned(hit, raw_root):  # a name ending in a CR wrote over the line it was said on
            raise UsageError(f"{shown(str(path))} {problem}: labtui stages the *.csv files under the raw root")
        else:
            found.append(hit)
    if missing:
        raise UsageError(
            f"no such raw file (neither under the raw root {raw_root} nor from here): {', '.join(missing)}"
        )
    return found


def _there(path: Path) -> bool:
    """Whether a named raw file is there (a link too, broken or not); a folder on its way that cannot be read is
    said as such, where it was "operating-system error on <the file>" and exit 73, the store's read-only code."""
    try:
        return path.exists() or path.is_symlink()
    except OSError as exc:
        raise OperationFailed("look for the raw file", path, exc, reading=True) from None


def _run(args: argparse.Namespace, *, force: bool, only: list[Path] | None) -> int:
    from labtui.cli.progress import ProgressBar
    from labtui.core.stager import Stager

    config = config_from(args, workers=args.workers, lock_timeout_seconds=args.lock_timeout)
    if only is not None:
        only = raw_files(config.raw_root, only)
    if problem := config.raw_root_problem():
        raise raw_root_error(problem, args, config)
    try:
        stager = Stager(
            config,
            force=force,
            only=only,
            # `restage --force` takes a named file cut short as it is; without it, a failed copy restaged with the
            # rest replaced its staged run without a word
            take_cut_short=force,
            settle_seconds=args.settle,
            raw_root_moved=args.raw_root_moved,
            on_event=ProgressBar(enabled=False if args.quiet or args.json else None),
        )
    except ValueError as exc:  # a restage path outside the raw root
        raise CommandUsage(str(exc)) from None
    report = run_cancellable(stager)
    report.cancelled |= stager.cancel.is_set()  # a Ctrl+C after the last file: said "stopping…", then exited 0
    if args.json:
        import json

        print(json.dumps(report_dict(report), indent=2))
    else:
        for record in report.new_rejects:
            print(shown(f"rejected {record.headline()}"))
        if only is not None:  # files named to restage: each one still rejected says why, as a new reject does
            for record in report.known_rejects:
                print(shown(f"still rejected {record.headline()} (unchanged since; --force reads it again)"))
        print_first([f"note {source}: {'; '.join(notes)}" for source, notes in sorted(report.warned.items())],
                    "more file", "staged with notes")
        print_first([f"busy {source}: {why}" for source, why in sorted(report.busy_files.items())],  # and until when
                    "more busy file")
        print(report.line())
        for folder in report.unlisted_folders:
            print(shown(f"labtui: cannot list the raw folder {folder}: its files were not staged"), file=sys.stderr)
        if report.new_store:  # a new lab, or a misspelt --store: either way, said
            print(f"labtui: this started a new store at {config.store_root}", file=sys.stderr)
        if only is None and not report.cancelled and not stager.report_total():  # a Ctrl+C before the first file
            print(f"labtui: {config.no_raw_files()}", file=sys.stderr)
    for problem in report.metrics.problems if report.metrics is not None else ():
        print(f"labtui: {problem}", file=sys.stderr)  # the runs are staged; the derived table is retried next time
    if report.cancelled:
        return EXIT_INTERRUPTED
    return EXIT_ERROR if args.strict and report.rejected else EXIT_OK


def raw_root_error(problem: str, args: argparse.Namespace, config: StagingConfig) -> UsageError:
    """The raw folder's problem, with where it came from: the --raw-root given, the store's record (or that it is
    lost), or the config."""
    from labtui.core.store import record_lost

    if args.raw_root is not None:
        hint = "check --raw-root"
    elif config.raw_root == recorded_raw_root(config):
        hint = ("the store was staged from it: mount it, or if the raw tree moved, give its new place with --raw-root "
                "NEW --raw-root-moved")
    elif lost := record_lost(config):
        return UsageError(problem + lost)
    else:
        hint = "set raw_root in the config or pass --raw-root"
    return UsageError(f"{problem} ({hint})")


def run_cancellable(stager: Stager) -> StageReport:
    """Run in a thread so Ctrl+C sets the cancel event: committed work stays valid, nothing is left half-done."""
    return run_interruptible(stager.run, stager.cancel, "stopping after the files in progress…")


SIGINT_RETAKE_SECONDS = 0.02  # how long a Ctrl+C can reach Polars' hook after its import
STOP_WAKE_SECONDS = 1.0  # how long a stop signal the kernel delivered to another thread waits for its handler
STOP_SIGNALS = ("SIGINT", "SIGTERM", "SIGHUP")  # those this platform has


def run_interruptible(work: Callable[[], T], cancel: threading.Event, stopping: str) -> T:
    """`work()` in a thread while Ctrl+C only sets `cancel`, so `work` winds down cleanly and returns its result.

    Ctrl+C never raises here: Python would raise KeyboardInterrupt wherever the main thread is, and Polars (whose
    import installs its own SIGINT hook at C level) inside whichever worker is running a query, mid-file. Polars is
    imported only when the stage has work (a no-change run never loads it), so while `work` runs, the waiting main
    thread looks every few milliseconds for Polars' import to be done and then takes SIGINT back, once: Polars sets
    its hook at import only, and taking it back every 20 ms all day cost `stage --watch` 1 % of a core (the watcher
    imports Polars before it starts, so its main thread wakes once a second).
    """
    import contextlib
    import signal
    import threading

    outcome: dict[str, object] = {}
    finished = threading.Event()

    def target() -> None:
        try:
            outcome["result"] = work()
        except BaseException as exc:  # re-raised on the calling thread
            outcome["error"] = exc
        finally:
            finished.set()

    def interrupted(signum: int, frame: object) -> None:
        if not cancel.is_set():
            with contextlib.suppress(OSError):  # a hang-up: the terminal is gone
                print(f"\nlabtui: {stopping}", file=sys.stderr)
        cancel.set()

    # Ctrl+C, and what a service manager or a closed terminal sends (systemd stops `stage --watch` with SIGTERM):
    # each winds down as Ctrl+C does, where the default action killed it with its temp files left behind
    stops = [getattr(signal, name) for name in STOP_SIGNALS if hasattr(signal, name)]
    previous = {signum: signal.signal(signum, interrupted) for signum in stops}
    try:
        threading.Thread(target=target, name="labtui-engine", daemon=True).start()
        while not _imported("polars") and not finished.wait(SIGINT_RETAKE_SECONDS):
            pass  # a signal runs its handler, then the wait goes on
        signal.signal(signal.SIGINT, interrupted)
        while not finished.wait(STOP_WAKE_SECONDS):  # a signal the kernel gave another thread runs its handler
            pass  # here, at the next wake (with no timeout, a watcher ignored Ctrl+C and SIGTERM for good)
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    if "error" in outcome:
        raise outcome["error"]  # type: ignore[misc]
    return outcome["result"]  # type: ignore[return-value]


def _imported(name: str) -> bool:
    """The module `name` is imported in full (its import sets its hooks while it runs)."""
    module = sys.modules.get(name)
    return module is not None and not getattr(module.__spec__, "_initializing", False)


def run_watch(args: argparse.Namespace) -> int:
    """`labtui stage --watch`: a lab PC that stages all day; errors are printed and retried, never fatal."""
    import datetime as dt
    import threading

    from labtui.core.watch import Watcher

    given = [option for option, value in (("--force", args.force), ("--strict", args.strict), ("--json", args.json),
                                          ("--raw-root-moved", args.raw_root_moved)) if value]
    if given:  # each was dropped without a word: a forced re-stage that never happened
        raise CommandUsage(f"{' and '.join(given)} {'does' if len(given) == 1 else 'do'} not apply to --watch, which "
                           "stages each file as it comes (a plain `labtui stage` takes them)")
    config = config_from(
        args, workers=args.workers, lock_timeout_seconds=args.lock_timeout, watch_settle_seconds=args.settle
    )
    if config.raw_root.is_dir() and (problem := config.raw_root_problem()):  # a missing one may be a share: retried
        raise raw_root_error(problem, args, config)

    def report(event: WatchEvent) -> None:
        stamp = dt.datetime.now(config.zone).strftime("%H:%M:%S")  # the lab's time, as the app and histories say
        warned = event.report.warned if event.report is not None else {}
        for source in event.staged:
            print(shown(f"{stamp} staged {source}"))
            for note in warned.get(source, ()):  # an aborted run, a chip written otherwise: as a one-shot stage says
                print(shown(f"{stamp}   note: {note}"))
        for record in event.report.new_rejects if event.report is not None else ():  # as a one-shot stage says
            print(shown(f"{stamp} rejected {record.headline()}"))  # them: the count alone named no file
        print(shown(f"{stamp} {event.kind}: {event.message}"), flush=True)

    import polars  # noqa: F401  (its SIGINT hook set now: `run_interruptible` takes SIGINT back at once, and its
    # main thread need not look for Polars' import 50 times a second all day; the first stage loads it anyway)

    cancel = threading.Event()
    watcher = Watcher(config, on_event=report)
    print(
        f"watching {config.raw_root} (settle {config.watch_settle_seconds:g} s, poll {config.watch_poll_seconds:g} s); "
        "Ctrl+C stops",
        flush=True,
    )
    run_interruptible(lambda: watcher.run(cancel), cancel, "stopping the watcher…")
    print("stopped watching", flush=True)
    return EXIT_OK


def print_first(lines: list[str], more: str, what: str = "") -> None:
    """The first `SHOWN_FILES` lines (files staged with notes, files busy), then how many `more` there are."""
    for line in lines[:SHOWN_FILES]:
        print(shown(line))
    if len(lines) > SHOWN_FILES:
        print(f"… and {counted(len(lines) - SHOWN_FILES, more)}{f' {what}' if what else ''} (stage --json lists them "
              "all)")


def report_dict(report: StageReport) -> dict[str, object]:
    from labtui.core.fields import as_json

    return {
        **{str(key): value for key, value in report.counts.items()},
        "touched": report.touched,  # of the unchanged: their new stat recorded, their runs as they were
        "elapsed_s": round(report.elapsed_s, 3),
        "cancelled": report.cancelled,
        # every file this run counts as rejected: new ones, and unchanged ones rejected before
        "rejects": [
            {**as_json(record), "new": new}
            for new, records in ((True, report.new_rejects), (False, report.known_rejects))
            for record in records
        ],
        "notes": [{"source_file": source, "notes": warnings} for source, warnings in sorted(report.warned.items())],
        "unlisted_folders": report.unlisted_folders,
        "busy_files": [{"source_file": source, "why": why} for source, why in sorted(report.busy_files.items())],
    }
