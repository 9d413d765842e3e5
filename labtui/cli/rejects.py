"""`labtui rejects`: the rejected raw files and why, as a table or JSON."""

from __future__ import annotations

import argparse
import sys

from labtui.cli import add_command
from labtui.cli.locate import config_from, require_store
from labtui.cli.output import print_data
from labtui.core.wording import counted, shown


def register_rejects(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    parser = add_command(sub, "rejects", common, examples=(
        "labtui rejects",
        "labtui rejects --json",
    ))
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from labtui.core.rejects import read_rejects

    config = require_store(config_from(args))
    readable, unreadable = read_rejects(config.rejects_dir)
    records = sorted(readable.values(), key=lambda r: r.source_file)
    if unreadable:  # not listed below: said, and what to do
        print(f"labtui: {counted(len(unreadable), 'reject record')} cannot be read (first: {unreadable[0]}); "
              "`labtui validate --fix` removes them and the next stage judges their files again", file=sys.stderr)
    if args.json:
        import json

        from labtui.core.fields import as_json

        print_data(json.dumps([as_json(record) for record in records], indent=2, ensure_ascii=False))
        return 0
    if not records:
        print(f"no rejected files in {config.store_root}")  # where it looked, as `chips` says: a store or none
        return 0
    width = max(len(record.source_file) for record in records)
    when_title = f"WHEN ({config.local_tz})"  # the lab's time, as everywhere else
    when_width = max(16, len(when_title))
    kind_width = max(len("KIND"), *(len(record.kind) for record in records))  # 'conflicting_parameter' has 21
    print(f"{'FILE':<{width}}  {'KIND':<{kind_width}}  {when_title:<{when_width}}  REASON")
    for record in records:
        when = record.rejected_at_utc.astimezone(config.zone).strftime("%Y-%m-%d %H:%M")
        print(shown(f"{record.source_file:<{width}}  {record.kind:<{kind_width}}  {when:<{when_width}}  "
                    f"{record.describe()}"))
    them = "it" if len(records) == 1 else "them"
    print(f"{counted(len(records), 'rejected file')}; fix {them} and run `labtui restage FILE` or `labtui stage`")
    return 0
