"""Chips: a type-to-filter list with the highlighted chip's parameters (geometry) below; Enter opens its history."""

from __future__ import annotations

import asyncio
import re

import polars as pl
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.content import Content
from textual.visual import Visual
from textual.widgets import Header, Input, Static

from labtui.core.history import told_apart
from labtui.core.wording import counted
from labtui.tui.base import FilteredScreen, LabFooter, plain
from labtui.tui.history import HistoryScreen
from labtui.tui.store import short_path
from labtui.tui.table import Column, FrameTable

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing, which every start would pay for
if TYPE_CHECKING:
    from pathlib import Path

    from textual.css.styles import RulesMap
    from textual.strip import Strip
    from textual.style import Style
    from textual.visual import RenderOptions

    from labtui.tui.store import ChipParamsRead

_NOT_PROCS = {"n_runs", "n_light", "n_dark"}


def chip_columns(chips: pl.DataFrame) -> list[Column]:
    """Group + number, then runs per procedure as the store has them, light/dark and dates."""
    procs = [name for name in chips.columns if name.startswith("n_") and name not in _NOT_PROCS]
    return [
        Column("chip_name", "chip", told_apart()),
        Column("n_runs", "runs", right=True),
        *(Column(name, name[2:], right=True) for name in procs),
        Column("n_light", "💡", right=True),
        Column("n_dark", "🌙", right=True),
        Column("first_date", "first"),
        Column("last_date", "last"),
    ]


_VALUE_UNIT = re.compile(r"(?<=\d) (?=\S)")  # a number's space before its unit (`32 nF/cm²`, `115 nm`)


class Unparted(Visual):
    """Pieces of text laid out at the width they are drawn at: as many whole pieces a line as fit, `gap` apart; a
    piece wider than a line parted at its spaces, never at a no-break one. Textual and Rich wrap at any Unicode
    space, U+00A0 and U+202F too: the chips' `gate capacitance: 32 nF/cm²` was parted after `32` at 80 columns."""

    def __init__(self, pieces: list[Content], gap: str = "   ") -> None:
        self.pieces = pieces
        self.gap = gap

    def laid_out(self, width: int) -> Content:
        return Content("\n").join(_packed(self.pieces, self.gap, width))

    def render_strips(self, width: int, height: int | None, style: Style, options: RenderOptions) -> list[Strip]:
        return self.laid_out(width).render_strips(width, height, style, options)

    def get_optimal_width(self, rules: RulesMap, container_width: int) -> int:
        return Content(self.gap).join(self.pieces).get_optimal_width(rules, container_width)

    def get_height(self, rules: RulesMap, width: int) -> int:
        return self.laid_out(width).get_height(rules, width)


def _packed(pieces: list[Content], gap: str, width: int) -> list[Content]:
    """The lines of `Unparted`: a piece joins the line before it where both fit in `width` cells."""
    lines: list[Content] = []
    for piece in pieces:
        if piece.cell_length > width and " " in piece.plain:
            lines += _packed([word for word in piece.split(" ") if word.plain], " ", width)
        elif lines and lines[-1].cell_length + len(gap) + piece.cell_length <= width:
            lines[-1] = lines[-1] + gap + piece
        else:
            lines.append(piece)
    return lines


def chip_info(name: str | None, params: ChipParamsRead, path: Path | None) -> Text | Unparted:
    """What the chip parameters file (`path`) says about a chip (geometry, gate capacitance), or why there is
    nothing to say; after the chip's name, as the list's highlight may be out of view (a chip with an entry, the
    demo's, was the one not named)."""
    chips, error = params
    if error is not None:
        return Text(error, style="bold red")
    entry = chips.get(name or "")
    if entry is None:
        where = (f"no entry in {path.name}" if path is not None and path.exists() else
                 f"no chip parameters file ({short_path(path)} does not exist)" if path is not None else
                 "no chip parameters file (chip_params_file is not set)")
        return Text(f"{name or 'this chip'}: {where}: geometry unknown, no mobility", style="italic")
    pieces = [Content.assemble((f"{label}:", "bold"), " ", _VALUE_UNIT.sub("\u00a0", value))
              for label, value in entry.describe()]  # never empty: without geometry, it says there is no mobility
    pieces[0] = Content.assemble((f"{name}:", "bold"), " ", pieces[0])
    return Unparted(pieces)


def filter_chips(chips: pl.DataFrame, text: str) -> pl.DataFrame:
    """Every word must match the chip's name (group + number), case-insensitively."""
    name = pl.col("chip_name").fill_null("").str.to_lowercase()
    return chips.filter(pl.all_horizontal(name.str.contains(word, literal=True) for word in text.lower().split()))


def highlighted_chip(highlighted: dict | None, shown: pl.DataFrame) -> str | None:
    """The chip key the highlight goes to in the rows `shown`: the chip it is on while that one still matches, else
    the first match. Kept at its place in the list, the highlight of Alisson72 (the 6th chip matching `7`) went to
    the 2nd of `71`'s matches, other71, and enter opened that instead of Alisson71 at the top."""
    if not shown.height:
        return None
    keys = shown["chip_key"]
    if highlighted is not None and highlighted["chip_key"] in keys:
        return highlighted["chip_key"]
    return keys[0]


class ChipsScreen(FilteredScreen):
    """One model: the filter field keeps the focus, so typing always filters; the arrow and page keys move the
    highlight in the list, enter opens the highlighted chip."""

    HELP = (
        "Every chip in the store with its runs per procedure. Type to filter (e.g. `alis 67`; esc clears it, then "
        "goes back); ↑ ↓ and page up / "
        "page down move in the list, enter opens the highlighted chip's history. Below the list: the chip's "
        "parameters from chip_params.yaml (channel L × W, gate dielectric and its capacitance per area). ctrl+l "
        "lists the setup's runs (its laser calibrations, and any Pt, Pwl or Tt run) as a history, where p plots them."
    )
    BINDINGS = [
        # priority: the filter field holds the focus, and its own keys would hide these from the footer
        Binding("up", "move(-1)", "Up", show=False, priority=True),
        # not in the footer, where 80 columns keep ctrl+l and f1's help instead: the arrows are no secret
        Binding("down", "move(1)", "Move", key_display="↑↓", id="chips_move", priority=True, show=False),
        Binding("pageup", "page(-1)", "Page up", show=False, priority=True),
        Binding("pagedown", "page(1)", "Page down", show=False, priority=True),
        Binding("enter", "open", "Open history", id="chips_open", priority=True),
        # The filter field holds the focus and takes every printable key: the history's T is ctrl+g here.
        Binding("ctrl+g", "trends", "Trends", id="chips_trends"),
        Binding("ctrl+l", "calibrations", "Calibrations", id="chips_calibrations"),
    ]
    AUTO_FOCUS = "#filter"
    DEFAULT_CSS = """
    ChipsScreen #chip-info { height: auto; max-height: 4; padding: 0 1; }
    ChipsScreen FrameTable > .frame-table--cursor {  /* the list never has the focus, yet it is what keys move */
        background: $block-cursor-background;
        color: $block-cursor-foreground;
        text-style: $block-cursor-text-style;
    }
    """

    def __init__(self) -> None:
        super().__init__()
        self.chips = pl.DataFrame()
        self.open_when_loaded = False  # enter came before the chips were read: open the highlighted one then
        self.columns: list[Column] = []

    def compose(self) -> ComposeResult:
        yield Header()
        yield Input(placeholder="type to filter: group, number…", id="filter")
        table = FrameTable([], key="chip_key", id="chips", fixed=1)  # the chip stays in view
        table.can_focus = False  # a click moves the highlight; the keys stay with the filter
        yield table
        yield Static(id="chip-info")
        yield LabFooter()

    def on_mount(self) -> None:
        self.title = "Chips"
        self.reload()

    def reload(self) -> None:
        self.load()

    @work(group="load", exclusive=True, exit_on_error=False)
    async def load(self) -> None:
        chips = await asyncio.to_thread(self.lab.store.chips)
        await asyncio.to_thread(self.lab.store.chip_params)  # read here, off the screen's thread; then cached
        self.chips = chips.with_columns(
            pl.concat_str(pl.col("chip_group").fill_null(""), pl.lit("|"), pl.col("chip_number").cast(pl.String))
            .alias("chip_key")
        )
        self.columns = chip_columns(chips)
        self._filter()
        if self.open_when_loaded:
            self.action_open()

    def action_back(self) -> None:
        """Esc clears the filter's text first, as a history's does (it left the screen with the filter kept); on an
        empty filter it leaves."""
        if (field := self.query_one("#filter", Input)).value:
            field.clear()
        else:
            super().action_back()

    @on(Input.Changed, "#filter")
    def _filter(self) -> None:
        field = self.query_one("#filter", Input)
        if "?" in field.value:  # typed into the field, which holds the keys; no chip name has one: the help
            field.value = field.value.replace("?", "")
            self.lab.action_help()
            return
        text = field.value
        shown = filter_chips(self.chips, text) if text.strip() and self.chips.height else self.chips
        table = self.query_one(FrameTable)
        table.empty_text = self._empty_text(text)
        table.show(shown, columns=self.columns, keep=highlighted_chip(table.row, shown))
        total = counted(self.chips.height, "chip")
        self.sub_title = f"{shown.height} of {total}" if text.strip() else total

    def _empty_text(self, text: str) -> str:
        """What an empty list means: nothing read yet (no words), a lab without runs, or a filter matching none."""
        if not self.chips.width:
            return ""
        if not self.chips.height:
            return "no chips yet: the store holds no runs (s on the dashboard stages the raw files)"
        return f"no chip matches “{text.strip()}”"  # quoted as the line below quotes it

    @on(Input.Submitted, "#filter")
    def action_open(self) -> None:
        self.open_when_loaded = not self.chips.width
        if not self.open_when_loaded:
            # after the keys typed before it: in a burst (`80` then enter) this binding ran before the field had
            # read the digits, and enter opened the chip highlighted before them (the first)
            self.query_one("#filter", Input).call_later(self._open_filtered)

    def _open_filtered(self) -> None:
        self._filter()  # the field's Changed messages may still be on their way
        self.query_one(FrameTable).action_choose()

    def action_trends(self) -> None:
        self.query_one("#filter", Input).call_later(self._trends_filtered)  # after the keys typed before it

    def _trends_filtered(self) -> None:
        from labtui.tui.trends import TrendsScreen  # the metrics engine: loaded when first asked for

        self._filter()
        row = self.query_one(FrameTable).row
        if row is not None:
            self.app.push_screen(TrendsScreen(row["chip_group"], row["chip_number"]))

    def action_calibrations(self) -> None:
        """The setup's runs (LaserCalibration), no chip's: listed in no chip's history, they had no place in the app
        (`labtui history --calibrations` and `plot --calibrations` on the command line)."""
        self.app.push_screen(HistoryScreen(None, None))

    def action_move(self, delta: int) -> None:
        self.query_one(FrameTable).action_move(delta)

    def action_page(self, direction: int) -> None:
        self.query_one(FrameTable).action_page(direction)

    @on(FrameTable.CursorMoved, "#chips")
    def _show_chip(self, event: FrameTable.CursorMoved) -> None:
        text = self.query_one("#filter", Input).value.strip()
        info: Text | Unparted | str = ""
        if event.row is not None:
            # asked at each move: an edit of chip_params.yaml while the list is open shows at once (a stat when not)
            info = chip_info(event.row["chip_name"], self.lab.store.chip_params(), self.lab.config.chip_params_file)
        elif text:
            info = f"no chip matches “{text}”: type part of a group name or a number"
        self.query_one("#chip-info", Static).update(plain(info))

    @on(FrameTable.Chosen, "#chips")
    def _open(self, event: FrameTable.Chosen) -> None:
        row = event.row
        self.app.push_screen(HistoryScreen(row["chip_group"], row["chip_number"]))
