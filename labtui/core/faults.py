"""Fault injection for the crash tests: `LABTUI_CRASH_AT=<point>[:<n>]` makes the process exit hard (no clean-up,
like `kill -9`) the n-th time (default 1st) it passes that point of the commit protocol. Unset, it costs a dict
lookup."""

from __future__ import annotations

import os

CRASH_EXIT_CODE = 86
_target = os.environ.get("LABTUI_CRASH_AT", "")
_name, _, _nth = _target.partition(":")
_remaining = int(_nth or 1) if _name else 0


def point(name: str) -> None:
    global _remaining
    if _remaining and name == _name:
        _remaining -= 1
        if _remaining == 0:
            os._exit(CRASH_EXIT_CODE)
