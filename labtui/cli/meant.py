"""What a mistyped word meant: the command, option or choice close to it, the option a folder is given with, and
the command that does what a new user's word names (`labtui trends 67`). Answered in one line by the parser's
errors (`Parser`), and by the commands that check a name against a list (a tag, a column)."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

_TRENDS = "; a chip's trends are drawn by `labtui plot CHIP --trend cnp` (or hysteresis, photoresponse, " \
    "responsivity, spectral, dark) --out FILE"
_FIGURES = "; a figure is written by `labtui plot CHIP --seq 3,5 --out FILE.pdf` (or .svg, .png)"
# words a new user types for what another command does: `labtui trends 67` was an invalid choice, and no more
COMMAND_FOR = {"trends": _TRENDS, "trend": _TRENDS, "figure": _FIGURES, "figures": _FIGURES, "fig": _FIGURES,
               "responsivity": "; the derived quantities (responsivity, Dirac points, ΔI) are `labtui metrics CHIP`",
               "dirac": _TRENDS, "runs": "; a chip's runs are `labtui history CHIP`, the chips `labtui chips`"}


def did_you_mean(word: str, known: Sequence[str]) -> str:
    """`; did you mean 'stage'?` when one of `known` is close to a mistyped `word`, else nothing."""
    from difflib import get_close_matches

    # two letters swapped read as far in a short word (`cpn` for `cnp`) as an unrelated one (`--bogus`, `--out`)
    swapped = [name for name in known if sorted(name) == sorted(word) and sum(map(str.__ne__, name, word)) == 2]
    close = swapped or get_close_matches(word, known, n=1, cutoff=0.7)
    return f"; did you mean {close[0]!r}?" if close else ""


def unrecognized(words: Sequence[str], parser: argparse.ArgumentParser) -> str:
    """argparse's `unrecognized arguments: …`, naming the option meant by the first mistyped one (`--raw-rot`), or
    the option a folder is given with (`labtui stage ~/raw`: `--raw-root`, a store's `--store`)."""
    typed = next((word for word in words if word.startswith("--") and word != "--"), None)
    meant = option_meant(typed, parser) if typed else folder_meant(words, parser)
    return f"unrecognized arguments: {' '.join(words)}{meant}"


def folder_meant(words: Sequence[str], parser: argparse.ArgumentParser) -> str:
    """`; a raw folder is given as --raw-root DIR` when the first of `words` is a folder and the command takes one."""
    from pathlib import Path

    from labtui.core.store import is_store

    folder = Path(words[0]) if words else None
    try:  # a name too long, a folder not ours to look into: no folder to name
        if folder is None or not folder.is_dir():
            return ""
        store = next(filter(is_store, (folder, folder.parent)), None)
    except OSError:
        return ""
    if store is not None and "--store" in parser._option_string_actions:
        return f"; a store is given as --store {store}"
    return f"; a raw folder is given as --raw-root {folder}" if "--raw-root" in parser._option_string_actions else ""


def option_meant(typed: str, parser: argparse.ArgumentParser) -> str:
    """`; did you mean '--raw-root'?` for a mistyped option (`--raw-rot` or `--raw-rot=DIR`) when one is close, or
    the options it is the start of (`--d`: `'--deep' or '--derived-root'`)."""
    typed = typed.split("=")[0]
    options = list(dict.fromkeys([*(option for option in parser._option_string_actions if option.startswith("--")),
                                  "--help", "--version"]))
    started = [option for option in options if option.startswith(typed)]
    return f"; did you mean {' or '.join(map(repr, started))}?" if started else did_you_mean(typed, options)
