"""`labtui repair` (rebuild a damaged manifest from the store alone) and `labtui prune` (drop runs whose raw file is
gone, after the user confirms)."""

from __future__ import annotations

import argparse
import sys

from labtui.cli import EXIT_OK, add_command
from labtui.cli.locate import config_from, require_store
from labtui.core.errors import UsageError
from labtui.core.wording import counted, shown


def register_repair(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    repair = add_command(sub, "repair", common, examples=(
        "labtui repair",
        "labtui repair --store /mnt/lab/data/02_stage",
    ))
    repair.set_defaults(func=run_repair)


def register_prune(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    prune = add_command(sub, "prune", common, examples=(
        "labtui prune          # list the runs whose raw file is gone",
        "labtui prune --yes    # and drop them",
    ))
    prune.add_argument("--yes", action="store_true",
                       help="drop them (their Parquet goes to the store's _quarantine/ folder, nothing is deleted)")
    prune.set_defaults(func=run_prune)


def run_repair(args: argparse.Namespace) -> int:
    from labtui.cli.progress import say_waiting
    from labtui.core.repair import repair

    for line in repair(require_store(config_from(args)), say_waiting).lines():
        print(line)
    return EXIT_OK


def run_prune(args: argparse.Namespace) -> int:
    from labtui.cli.progress import say_waiting
    from labtui.core.manifest import read_manifest
    from labtui.core.repair import drop_runs, prunable
    from labtui.core.scan import PassedOver
    from labtui.core.store import check_raw_root, record_lost

    config = config_from(args)
    if not config.raw_root.is_dir():
        raise UsageError(f"the raw root {config.raw_root} is not there: every run would look gone; mount it first"
                         + record_lost(config))
    if problem := config.raw_root_problem():  # it cannot be listed: every run would look gone
        raise UsageError(problem)
    manifest = read_manifest(config.manifest_path)
    sources = manifest["source_file"].to_list()
    check_raw_root(config, sources, moved=False)  # a sub-folder, another tree: as `stage` refuses them
    passed = PassedOver()
    runs = prunable(config, manifest, passed)
    for unlisted in passed.unlisted_named(config.raw_root).values():
        print(shown(f"labtui: cannot list the raw folder {unlisted}: its runs were not checked, and are kept"),
              file=sys.stderr)
    if runs.height and runs.height == len(sources):
        raise UsageError(f"no staged run's raw file is under {config.raw_root}: an unmounted share, or another "
                         "folder? Nothing dropped (to empty the store, delete it)")
    for run_id, source, why in runs.iter_rows():
        print(f"{run_id}  {source}  ({why})")
    if runs.is_empty():
        checked = " that could be checked" if passed.unlisted else ""
        print(f"nothing to prune in {config.store_root}: every run's raw file{checked} is under {config.raw_root}")
    elif not args.yes:
        print(f"{counted(runs.height, 'run')} would be dropped from {config.store_root}; "
              "run again with --yes to drop them")
    else:
        dropped, folder, problems = drop_runs(config, set(runs["source_file"].to_list()), say_waiting)
        kept = f"; their Parquet and records are in {folder}" if folder else " (no Parquet of theirs to set aside)"
        print(f"dropped {counted(dropped, 'run')}{kept}")
        for problem in problems:
            print(shown(f"labtui: {problem}; the next stage computes the derived quantities again"), file=sys.stderr)
    return EXIT_OK
