"""`ansi_text` decodes what plotext writes to the very `Text` Rich's `Text.from_ansi` makes: characters, style
spans, line ends. Checked on real plots and on any mix of escape sequences (the hostile ones go to Rich whole)."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rich.text import Text
from textual_plotext.plot import Plot

from labtui.core.plotdata.model import PlotSpec, Series
from labtui.tui.ansi import ansi_text
from labtui.tui.plot_view import draw_spec, palette_for


def same_text(ansi: str) -> None:
    fast, rich = ansi_text(ansi), Text.from_ansi(ansi)
    assert fast.plain == rich.plain
    assert fast.spans == rich.spans
    assert (fast.end, fast.tab_size, fast.style, fast.justify, fast.overflow, fast.no_wrap) == (
        rich.end, rich.tab_size, rich.style, rich.justify, rich.overflow, rich.no_wrap)


@pytest.mark.parametrize("theme", ["default", "dark", "clear", "pro", "matrix"])
def test_a_plot_of_many_coloured_points_decodes_as_rich_decodes_it(theme: str) -> None:
    rng = np.random.default_rng(7)
    series = tuple(Series(f"run {k}", np.sort(rng.uniform(0, 10, 400)), rng.normal(k, 1, 400), f"r{k}", k)
                   for k in range(4))
    spec = PlotSpec("trend", "Alisson68 · Dirac point against time", "time", "d", "V_CNP", "V", False, series, (),
                    (), (), (), pl.DataFrame(), points=True)
    plt = Plot()
    plt.plotsize(120, 40)
    draw_spec(plt, spec, palette_for({"surface": "#1e1e1e", "foreground": "#e0e0e0"}), 120)
    plt.theme(theme)
    drawn = plt.build()
    assert drawn.count("\x1b[") > 300  # a cell-by-cell coloured canvas, the case this decoder is for
    same_text(drawn)


TOKENS = st.sampled_from([
    "a", "xyz", " ", "│", "⣿", "\n", "\r", "\t",
    "\x1b[0m", "\x1b[m", "\x1b[1m", "\x1b[;1m", "\x1b[31m", "\x1b[38;5;200m", "\x1b[48;5;999m", "\x1b[38;2;1;2;3m",
    "\x1b[48;2;255;160;60m", "\x1b[38;5m", "\x1b[4;9;53m",  # sequences plotext writes, and cut or odd ones
    "\x1b]8;;https://example.org\x1b\\", "\x1b]8;;\x1b\\", "\x1b[2J", "\x1b(B", "\x1b", "\x1b[",  # not colours
])


@settings(max_examples=300, deadline=None)
@given(st.lists(TOKENS, max_size=40))
def test_any_mix_of_escape_sequences_decodes_as_rich_decodes_it(tokens: list[str]) -> None:
    same_text("".join(tokens))
