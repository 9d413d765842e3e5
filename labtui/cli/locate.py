"""Where a command's store and raw tree are, and whether its output may be written there: checked before the
command touches anything (a typo must not start a second store; a store named alone finds its own raw files).
The engine's config machinery is imported inside, so that `--help` pays for none of it."""

from __future__ import annotations

import argparse
import os

from labtui.core.errors import UsageError

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (start-up)
if TYPE_CHECKING:
    from pathlib import Path

    from labtui.core.config import StagingConfig

CREATE_STORES = {"stage", "tui", None}  # commands that may be given a store that does not exist yet (None: the app)


def config_from(args: argparse.Namespace, **overrides: object) -> StagingConfig:
    """The config with the command line's overrides; the store is located and checked before any command uses it,
    and so is the command's output (`--out`) against it, which then names the file a link points to (the link
    stays; a read-only file is not replaced)."""
    from dataclasses import replace

    from labtui.core.config import load_config  # only for commands that read the config
    from labtui.core.store import check_location, check_named_store, derived_root_gone, is_store, stage_root_of

    if getattr(args, "demo", False) and args.command not in (None, "tui"):
        args.config = demo_config(args)
    stage_root = args.stage_root
    if getattr(args, "store", None) is not None:
        if stage_root is not None:
            raise UsageError("give --store or --stage-root, not both")
        stage_root = stage_root_of(args.store, store=True)
    elif stage_root is not None:
        stage_root = stage_root_of(stage_root, store=False)
    named = getattr(args, "store", None) or args.stage_root
    if stage_root is not None and args.raw_root is not None and is_store(args.raw_root) \
            and not is_store(stage_root.parent):
        raise UsageError(f"--raw-root {args.raw_root} is a labtui store, and {named} is not: were the raw folder "
                         "and the store swapped?")
    if stage_root is not None:
        check_named_store(stage_root, named, reading=args.command not in CREATE_STORES,
                          repairing=args.command == "repair")
    flags = {"stage_root": "--store"} if getattr(args, "store", None) is not None else None
    config = load_config(args.config, flags=flags, raw_root=args.raw_root, stage_root=stage_root,
                         derived_root=getattr(args, "derived_root", None), **overrides)
    if is_store(config.stage_root):  # the config file names the store folder, as the app does
        config = replace(config, stage_root=stage_root_of(config.stage_root, store=True))
    if named is not None and not is_store(config.store_root) and not config.store_root.parent.is_dir():
        # a new store (`stage`): a typo would build a second store, and folders, anywhere
        raise UsageError(f"the folder {config.store_root.parent} does not exist: create it first, or check the "
                         f"path (a new store goes in a folder that exists)")
    if named is not None and args.raw_root is None and not config.raw_root.exists():  # the store alone: its own
        config = replace(config, raw_root=recorded_raw_root(config) or config.raw_root)
    check_location(config)  # with the raw root the store recorded: a derived root in it wrote into the raw tree
    if config.derived_root is None and (gone := derived_root_gone(config.store_root)) is not None:  # not told one
        import sys

        print(f"labtui: the store keeps its derived tables in {gone}, which is not there (a share not mounted?): "
              f"reading {config.derived_dir} instead; give --derived-root {gone} once it is back", file=sys.stderr)
    if (out := getattr(args, "out", None)) is not None:
        args.out = checked_output(config, out, args.config)
    return config


def require_store(config: StagingConfig) -> StagingConfig:
    """`config`, when its store exists (its `_manifest/` or its stage root): a command that writes into a store it
    only maintains (metrics, repair) must not start one in an empty folder, or inside a raw tree, and one that reads
    it (history, plot, …) must not read a store that is not there as an empty one."""
    from labtui.core.store import is_store

    if not (is_store(config.store_root) or config.stage_root.is_dir()):
        raise UsageError(f"no labtui store at {config.store_root}: stage the raw files first (`labtui stage`), or "
                         "name the store (--store DIR)")
    return config


def demo_config(args: argparse.Namespace) -> Path:
    """`labtui --demo COMMAND`: the demo lab's config, as the app opens it (written and staged first if it is not
    there yet): `labtui history 68`, as the README's first example, found nothing beside the demo, and `--demo` was
    ignored."""
    import sys

    from labtui.core.config import load_config

    given = [flag for flag, value in (("--config", args.config), ("--store", getattr(args, "store", None)),
                                      ("--stage-root", args.stage_root), ("--raw-root", args.raw_root)) if value]
    if given:
        raise UsageError(f"--demo names the lab: not with {', '.join(given)}")
    config_file = demo_config_file()
    config = load_config(config_file)
    if args.command != "stage" and not config.manifest_path.exists():  # the app stages it as it opens: so here
        from labtui.core.stager import stage

        print("labtui: staging the demo lab (the first time only)…", file=sys.stderr)
        stage(config)
    return config_file


def demo_config_file() -> Path:
    """The demo lab's config file (`$LABTUI_DEMO_DIR` or the user's cache), the lab written first when it is not
    there yet: seconds, said before they pass (the app cannot draw meanwhile)."""
    import sys

    from labtui.cli.demo import demo_errors
    from labtui.synth.demo import default_demo_dir, ensure_demo
    from labtui.tui.store import short_path

    folder = default_demo_dir()  # $LABTUI_DEMO_DIR naming a file or a full folder was "operating-system error"
    with demo_errors(folder):
        return ensure_demo(folder, announce=lambda folder: print(
            f"labtui: writing the demo lab into {short_path(folder)} (the first time only: a few seconds)…",
            file=sys.stderr, flush=True))


def recorded_raw_root(config: StagingConfig) -> Path | None:
    """The raw root the store records it was built from: what a command given the store alone (`--store DIR`, no
    config) means, instead of the default `data/01_raw` below the working folder; gone (moved, not mounted), it is
    still the folder to name (the default named a path the user never gave)."""
    from pathlib import Path

    from labtui.core.store import identity_path, read_identity

    identity = read_identity(identity_path(config))
    return Path(identity.raw_root) if identity is not None else None


def checked_output(config: StagingConfig, out: Path, config_file: Path | None = None) -> Path:
    """`out` as the file to write (a link's target), or the one-line reason it must not be written (`config_file`:
    the config `--config` named)."""
    from pathlib import Path

    from labtui.core.errors import OperationFailed

    if problem := config.output_problem(out, config_file):
        raise UsageError(problem)
    target = Path(os.path.realpath(out)) if out.is_symlink() else out
    if target.is_file() and not os.access(target, os.W_OK):
        raise OperationFailed("write", out, PermissionError(13, "the file is read-only"))
    return target
