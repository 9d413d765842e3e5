"""`labtui validate`: the store's health report; exit 0 without errors, 1 with. `--fix` does the safe repairs."""

from __future__ import annotations

import argparse
import sys

from labtui.cli import EXIT_ERROR, EXIT_INTERRUPTED, EXIT_OK, add_command
from labtui.cli.locate import config_from
from labtui.cli.output import print_data
from labtui.core.wording import counted, shown

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing, which every start would pay for
if TYPE_CHECKING:
    from labtui.core.config import StagingConfig
    from labtui.core.findings import ValidationReport

ITEMS_PRINTED = 5
_MARK = {"error": "ERROR  ", "warning": "WARNING", "info": "INFO   "}
_STAT_NOUNS = {"runs": "run", "chips": "chip", "calibrations": "calibration", "raw_files": "raw file",
               "rejects": "reject"}  # what `validate` counts, in the singular


def register_validate(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    parser = add_command(sub, "validate", common, examples=(
        "labtui validate",
        "labtui validate --fix       # the safe repairs, then check again",
        "labtui validate --deep      # every raw file hashed, every Parquet decoded",
        "labtui validate --hash --json",
    ))
    parser.add_argument("--fix", action="store_true",
                        help="do the safe repairs (stage, re-stage from raw, drop orphan Parquet), then check again")
    parser.add_argument("--hash", action="store_true",
                        help="hash every raw file, not only those whose size or mtime changed")
    parser.add_argument("--deep", action="store_true",
                        help="--hash, and decode every run's Parquet data, not only its footer (finds damaged data "
                             "pages; about 1 s per 20 MB of Parquet)")
    parser.add_argument("--json", action="store_true", help="machine-readable report")
    parser.add_argument("--verbose", "-v", action="store_true",
                        help=f"list every offender the report keeps per finding (default: the first {ITEMS_PRINTED})")
    parser.add_argument("--quiet", "-q", action="store_true", help="no progress bar while fixing")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from labtui.cli.progress import ProgressBar, say_waiting
    from labtui.cli.stage import run_interruptible
    from labtui.core.fixes import apply_fixes
    from labtui.core.validate import validate

    config = config_from(args)
    check_raw_root_of(config)
    depth = {"hash_all": args.hash or args.deep, "decode_all": args.deep}
    if args.deep and not args.json and sys.stderr.isatty():  # it takes long enough to wonder about
        print("validating deeply: every raw file hashed, every run's Parquet decoded…", file=sys.stderr, flush=True)
    report = validate(config, **depth)
    fixes: list[str] = []
    if args.fix and report.fixable:
        if not args.json:
            print_report(report, verbose=args.verbose)
            print("\nfixing…")
        import threading

        progress, cancel = ProgressBar(enabled=False if args.quiet or args.json else None), threading.Event()
        done = run_interruptible(lambda: apply_fixes(config, report, on_event=progress, cancel=cancel,
                                                     on_wait=say_waiting), cancel,
                                 "stopping after the current repair…")
        fixes = done.lines
        if done.cancelled:
            print("\n".join(fixes))
            return EXIT_INTERRUPTED
        if not args.json:
            print("\n".join(f"  {line}" for line in fixes) + "\n\nafter the fixes:")
        report = validate(config, **depth)
    if args.json:
        import json

        print_data(json.dumps({**report.to_dict(), "fixes": fixes}, indent=2, ensure_ascii=False))
    else:
        print_report(report, verbose=args.verbose)
    return EXIT_OK if report.ok else EXIT_ERROR


def check_raw_root_of(config: StagingConfig) -> None:
    """A sub-folder or another tree as the raw root is refused, as `stage` and `prune` refuse it: every run looked
    gone and every file new, and the report advised those refused commands under `store healthy`."""
    from labtui.core.manifest import ManifestDamaged, read_manifest
    from labtui.core.store import check_raw_root

    if not config.raw_root.is_dir():  # a raw root not there is a finding of its own
        return
    try:
        sources = read_manifest(config.manifest_path)["source_file"].to_list()
    except ManifestDamaged:  # the damage is the finding
        return
    check_raw_root(config, sources, moved=False)


def print_report(report: ValidationReport, *, verbose: bool) -> None:
    for finding in report.findings:
        print(f"{_MARK[finding.severity]} {finding.title}: {finding.count}  [{finding.code}]")
        listed = finding.items if verbose else finding.items[:ITEMS_PRINTED]
        for item in listed:
            print(f"          {shown(item)}")  # it names files: a newline or an escape sequence, escaped
        if finding.count > len(listed):
            print(f"          … and {finding.count - len(listed)} more{'' if verbose else ' (-v lists more)'}")
        said = finding.fixable and "--fix" not in finding.fix  # a fix that names `validate --fix` already says so
        print(f"          fix: {finding.fix}{' (--fix does it)' if said else ''}")
    stats = ", ".join(counted(value, _STAT_NOUNS[name]) if name in _STAT_NOUNS else f"{value} {name}"
                      for name, value in report.stats.items())
    counts = ", ".join(counted(count, severity, "info" if severity == "info" else None)
                       for severity, count in report.counts().items())
    verdict = "no store here yet" if report.no_store else "store healthy" if report.ok else "store NOT healthy"
    print(f"{verdict}: {counts} — {stats} — checked in {report.elapsed_s:.2f} s")
