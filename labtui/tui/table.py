"""A read-only table over a Polars frame that renders only the rows on screen.

Textual's DataTable builds a Python object per cell and stalls beyond ~10k rows; this widget keeps the frame,
formats the columns once with Polars expressions and draws each visible line on demand (Line API), so a 100k-run
history scrolls as fast as a 10-run one. A few rows already written as text (the dashboard's latest runs, painted
before Polars is imported) are shown as they are.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from rich.cells import cell_len, set_cell_size
from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.binding import Binding
from textual.geometry import Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

from labtui.core.wording import shown

if TYPE_CHECKING:
    import polars as pl

MARK = "●"


@dataclass(frozen=True)
class Column:
    """One displayed column: `expr` formats it (default: the frame column `key` as text)."""

    key: str
    title: str
    expr: pl.Expr | None = None
    width: int | None = None  # fixed cell width; None fits the content up to max_width
    max_width: int = 40
    right: bool = False
    prose: bool = False  # free text (a summary, a reason): read cut at the view's edge, with `…`, unlike a value


class FrameTable(ScrollView, can_focus=True):
    """Rows of a frame with a cursor and, when `selectable`, a selection of rows by key."""

    BINDINGS = [
        Binding("up,k", "move(-1)", "Up", show=False),
        Binding("down,j", "move(1)", "Down", show=False),
        Binding("pageup,ctrl+b", "page(-1)", "Page up", show=False),
        Binding("pagedown,ctrl+f", "page(1)", "Page down", show=False),
        Binding("home,g", "jump(0)", "First row", show=False),
        Binding("end,G", "jump(-1)", "Last row", show=False),
        Binding("left", "column(-1)", "Column left", show=False),
        Binding("right", "column(1)", "Column right", show=False),
        Binding("enter", "choose", "Open", show=False),
    ]
    COMPONENT_CLASSES = {"frame-table--header", "frame-table--cursor", "frame-table--selected", "frame-table--empty"}

    cursor: reactive[int] = reactive(0, always_update=True)

    class Said(Message):
        """A message of this table: handlers find it by the table's id (`@on(..., "#runs")`)."""

        def __init__(self, table: FrameTable) -> None:
            super().__init__()
            self.table = table

        @property
        def control(self) -> FrameTable:
            return self.table

    class CursorMoved(Said):
        """The cursor is on another row (None: the table is empty)."""

        def __init__(self, table: FrameTable, row: dict | None) -> None:
            super().__init__(table)
            self.row = row

    class Chosen(CursorMoved):
        """Enter on a row."""

        row: dict  # never None: enter on an empty table chooses nothing

    class HeaderClicked(Said):
        """A click on a column's title (to sort by it)."""

        def __init__(self, table: FrameTable, column: Column) -> None:
            super().__init__(table)
            self.column = column

    def __init__(
        self, columns: Iterable[Column], *, key: str | None = None, selectable: bool = False, id: str | None = None,
        choosable: bool = True, fixed: int = 0,
    ) -> None:
        super().__init__(id=id)
        self.fixed = fixed  # leading columns that stay in view while the rest scroll sideways (which row is this)
        self.choosable = choosable  # False: enter opens nothing here, and the help does not offer it
        self.columns = list(columns)
        self.key = key  # a unique column: the cursor stays on its row across reloads
        self.selectable = selectable and key is not None
        self.selected: set[str] = set()
        self._rows: _FrameRows | _TextRows = _TextRows([], self.columns)
        self.sorted_by: tuple[str, bool] | None = None  # (column key, descending): its header says so (↑ ↓)
        self.empty_text = ""  # said under the header while there is no row: why, and what to do
        self._widths = [column.width or cell_len(column.title) for column in self.columns]

    # -- data -------------------------------------------------------------------------------------------------
    def show(self, frame: pl.DataFrame, *, columns: Iterable[Column] | None = None, keep: str | None = None,
             sorted_by: tuple[str, bool] | None = None) -> None:
        """Replace the rows (and columns); the cursor follows the row with key `keep` (default: the row it is on);
        `sorted_by` (column key, descending) marks the column the rows are sorted by."""
        self.columns = list(columns) if columns is not None else self.columns
        self.sorted_by = sorted_by
        self._replace(_FrameRows(frame, self.columns), keep)

    def show_text(self, rows: Sequence[Mapping[str, str | None]], keep: str | None = None) -> None:
        """Replace the rows by rows already written as text, a value per column key (None: blank)."""
        self._replace(_TextRows(rows, self.columns), keep)

    def _replace(self, rows: _FrameRows | _TextRows, keep: str | None) -> None:
        keep = keep if keep is not None else self._key_at(self.cursor)
        line = self.cursor - round(self.scroll_y)  # the cursor's line on the screen
        self._rows = rows
        self._widths = [self._fit(i, column) for i, column in enumerate(self.columns)]
        self._size_virtually()
        found = rows.find(self.key, keep) if keep is not None and self.key is not None else None
        self.cursor = found if found is not None else min(self.cursor, max(rows.height - 1, 0))
        if not rows.height:  # the titles alone, and the empty text, from the left edge
            self.scroll_to(x=0, animate=False)
        self.call_after_refresh(self._scroll_to_line, line)  # the new rows' height is laid out by then
        self.refresh()

    def _fit(self, index: int, column: Column) -> int:
        """A fixed width, else the content's up to `max_width`; wide enough for the title and its sort arrow."""
        width = column.width if column.width is not None else min(column.max_width, self._rows.longest(index))
        return max(cell_len(self._title(column)), width)

    def _title(self, column: Column) -> str:
        if self.sorted_by is None or self.sorted_by[0] != column.key:
            return column.title
        return f"{column.title} {'↓' if self.sorted_by[1] else '↑'}"

    def _key_at(self, index: int) -> str | None:
        if self.key is None or not 0 <= index < self._rows.height:
            return None
        return self._rows.key(index, self.key)

    @property
    def frame(self) -> pl.DataFrame:
        """The rows shown, every column."""
        return self._rows.frame()

    @property
    def row_count(self) -> int:
        return self._rows.height

    @property
    def row(self) -> dict | None:
        """The row under the cursor, every column."""
        return self._rows.record(self.cursor) if 0 <= self.cursor < self._rows.height else None

    def toggle_selected(self) -> None:
        key = self._key_at(self.cursor)
        if key is not None and self.selectable:
            self.selected ^= {key}
            self.refresh()

    # -- cursor -----------------------------------------------------------------------------------------------
    def validate_cursor(self, value: int) -> int:
        return max(0, min(value, self._rows.height - 1))

    @property
    def _rows_on_screen(self) -> int:
        """Rows below the header, scrollbars excluded (`size` includes them)."""
        return max(self.scrollable_content_region.height - 1, 1)

    def watch_cursor(self, value: int) -> None:
        self._scroll_to_cursor()
        self.refresh()
        self.post_message(self.CursorMoved(self, self.row))

    def _scroll_to_line(self, line: int) -> None:
        """After new rows (another sort, a filter, a run staged): the cursor's row on the line it was on; the top
        of the rows when it is among the first screenful (kept on its line, a sort showed seq 12 first, and seq 1
        to 11 were above, out of view)."""
        top = 0 if self.cursor < self._rows_on_screen else max(self.cursor - line, 0)
        self.scroll_to(y=top, animate=False)
        self._scroll_to_cursor()

    def _scroll_to_cursor(self) -> None:
        """Scroll just enough to show the cursor's row (a scroll is clamped to the size last laid out)."""
        visible = self._rows_on_screen
        if self.cursor < self.scroll_y:
            self.scroll_to(y=self.cursor, animate=False)
        elif self.cursor >= self.scroll_y + visible:
            self.scroll_to(y=self.cursor - visible + 1, animate=False)

    def action_move(self, delta: int) -> None:
        self.cursor += delta

    def action_page(self, direction: int) -> None:
        self.cursor += direction * max(self._rows_on_screen - 1, 1)

    def action_column(self, direction: int) -> None:
        """Scroll sideways by a whole column: the next one starts at the left edge (a cell at a time, a wide
        history took sixty presses to reach its summary)."""
        if not self._widths:
            return
        stops, x = self._stops(self.scrollable_content_region.width), self._stop()
        if direction > 0:
            target = next((left for left in stops if left > x), x)
        else:
            target = next((left for left in reversed(stops) if left < x), 0)
        self.scroll_to(x=target, animate=False)

    def action_jump(self, index: int) -> None:
        """The last row, or the first row and the first columns (Home left a history scrolled sideways, its
        marks and quantities out of view until ← was pressed as often as → had been)."""
        self.cursor = index if index >= 0 else self._rows.height - 1
        if index == 0:
            self.scroll_to(x=0, animate=False)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return self.choosable or action != "choose"

    def action_choose(self) -> None:
        if self.row is not None:
            self.post_message(self.Chosen(self, self.row))

    async def _on_click(self, event: events.Click) -> None:
        if event.y >= 1:
            self.cursor = int(self.scroll_y) + event.y - 1
        elif (column := self.column_at(event.x)) is not None:
            self.post_message(self.HeaderClicked(self, column))

    def column_at(self, x: int) -> Column | None:
        """The column drawn at cell `x` of a line in view (None: between two, or past the last); the pinned columns
        stay put, the others move with the sideways scroll (`_in_view`)."""
        at = x if x < min(self._pinned(), self.scrollable_content_region.width) else x + self._stop()
        return next((column for column, start, width in zip(self.columns, self._starts(), self._widths, strict=True)
                     if start <= at < start + width), None)

    # -- drawing ----------------------------------------------------------------------------------------------
    def _starts(self) -> list[int]:
        """Where each column's cells begin in a line."""
        starts, at = [], (2 if self.selectable else 0) + 1
        for width in self._widths:
            starts.append(at)
            at += width + 1
        return starts

    def _stops(self, width: int) -> list[int]:
        """The sideways scrolls that put a column beside the pinned ones (else at the left edge, after a space), up
        to the first that shows the last column: the first is the table's own (with a selection mark, it began at 3
        and → scrolled back to 0: never moved)."""
        starts, total = self._starts(), self._line_width()
        lefts = [0] + [start - (self._pinned() or 1) for start in starts[self.fixed + 1 :]]
        last = next((i for i, left in enumerate(lefts) if left + width >= total), len(lefts) - 1)
        return lefts[: last + 1]

    def _stop(self) -> int:
        """The stop at or left of the scroll (a mouse scrolls by cells): the columns are drawn from there."""
        stops = self._stops(self.scrollable_content_region.width)
        return max(stop for stop in stops if stop <= self.scroll_x)

    def _line_width(self) -> int:
        return sum(self._widths) + len(self._widths) + (2 if self.selectable else 0) + 1

    def _size_virtually(self) -> None:
        """Wide enough to scroll to the last stop: a scroll clamped short of it began mid-column (`5→5` for
        `-5→5`)."""
        width = self.scrollable_content_region.width
        self.virtual_size = Size(max(self._line_width(), self._stops(width)[-1] + width), self._rows.height + 1)

    def _pinned(self) -> int:
        """Cells of each line that stay in view when it scrolls sideways: the fixed columns and a space after (where
        `_starts` puts the first column that scrolls; summed here, as every line drawn asks)."""
        if not 0 < self.fixed < len(self._widths):
            return 0
        return (2 if self.selectable else 0) + 1 + sum(self._widths[: self.fixed]) + self.fixed

    def _line(self, cells: Iterable[str], mark: str) -> str:
        parts = [
            _cell(text, width, column.right)
            for text, width, column in zip(cells, self._widths, self.columns, strict=True)
        ]
        return (f" {mark}" if self.selectable else "") + " " + " ".join(parts)

    def render_line(self, y: int) -> Strip:
        scroll_y = self.scroll_offset.y
        width = self.scrollable_content_region.width
        if y == 0:
            text = self._line((self._title(column) for column in self.columns), " ")
            style = self.get_component_rich_style("frame-table--header")
        else:
            index = scroll_y + y - 1
            if index == 0 and not self._rows.height and self.empty_text:
                dim = self.rich_style + self.get_component_rich_style("frame-table--empty")
                return Strip([Segment(" " + self.empty_text, dim)]).crop_extend(0, width, dim)  # not scrolled away
            if index >= self._rows.height:
                return Strip.blank(width, self.rich_style)
            selected = self.selectable and self._key_at(index) in self.selected
            text = self._line(self._rows.cells(index), MARK if selected else " ")
            style = self.rich_style
            if selected:
                style += self.get_component_rich_style("frame-table--selected")
            if index == self.cursor:
                style += self.get_component_rich_style("frame-table--cursor")
        return self._in_view(Strip([Segment(text, style)]), style, width, more="→" if y == 0 else "…")

    def _in_view(self, line: Strip, style: Style, width: int, more: str) -> Strip:
        """The pinned cells, then the columns that fit whole from the scroll's stop, and `more` when more follow
        (the titles' `→`: at 80 columns a history's power and responsivity were there, and no key said how to reach
        them): a value cut at either edge read as a whole one (`.21` for `-3.21`, `-286 …` for `-286 mA/W`). Only a
        column wider than the view, or of prose cut at the right edge, is cut (with `…`), or it could never be read."""
        pinned = min(self._pinned(), width)
        x = self._stop()
        begin, edge = x + pinned, x + width
        ends = [start + cells for start, cells in zip(self._starts(), self._widths, strict=True)][self.fixed :]
        end = edge
        if ends and ends[-1] > edge:  # a space and the `…` after the last column shown (`-5.21…` read as cut)
            end = max((end for end in ends if begin < end <= edge - 2), default=edge - 1)
            cut = next(k for k, column_end in enumerate(ends) if column_end > end) + self.fixed
            if self.columns[cut].prose and self._starts()[cut] < edge - 2:  # text reads cut: the summary stays
                end = edge - 1
        head = line.crop(0, pinned) if pinned else Strip([])
        if begin >= edge:  # the pinned cells fill the view
            return head
        body = line.crop_extend(begin, end, style)
        if end < edge and width > 1 and line.crop(end, line.cell_length).text.strip():  # more to the right: say so
            body = Strip.join([body, Strip.blank(edge - end - 1, style), Strip([Segment(more, style)])])
        return Strip.join([head, body]).extend_cell_length(width, style)

    def on_resize(self) -> None:
        self._size_virtually()  # the last stop moves with the width
        self.cursor = self.cursor  # keep the cursor row in view

    def watch_show_vertical_scrollbar(self) -> None:
        """The vertical scrollbar takes cells from the width (a history grown past a screenful): no resize says so."""
        self.call_after_refresh(self._size_virtually)


def _cell(text: str, width: int, right: bool) -> str:
    """The text in `width` cells (control characters escaped: `shown`): padded, or cut with `…` so that a cut value
    never reads as a whole one."""
    text = shown(text)
    pad = width - cell_len(text)
    if pad < 0 and width > 1:
        return set_cell_size(text, width - 1) + "…"
    return " " * pad + text if right and pad > 0 else set_cell_size(text, width)


class _FrameRows:
    """A frame's rows, their cells formatted once by the columns' expressions."""

    def __init__(self, frame: pl.DataFrame, columns: Sequence[Column]) -> None:
        import polars as pl

        self._frame = frame
        self.height = frame.height
        self._text = frame.select(
            (pl.col(column.key) if column.expr is None else column.expr).cast(pl.String).fill_null("").alias(f"c{i}")
            for i, column in enumerate(columns)
        )

    def frame(self) -> pl.DataFrame:
        return self._frame

    def cells(self, index: int) -> tuple[str, ...]:
        return self._text.row(index)

    def record(self, index: int) -> dict:
        return self._frame.row(index, named=True)

    def key(self, index: int, column: str) -> str | None:
        """One cell of a row (drawing a selection asks this of every visible row: no whole row is built)."""
        return self._frame[column][index]

    def find(self, key: str, value: str) -> int | None:
        import polars as pl

        hits = self._frame.with_row_index("_i").filter(pl.col(key) == value)["_i"]
        return int(hits[0]) if len(hits) else None

    def longest(self, index: int) -> int:
        """Characters in the column's longest cell."""
        import polars as pl

        longest = self._text.select(pl.col(f"c{index}").str.len_chars().max()).item() if self.height else 0
        return longest or 0


class _TextRows:
    """Rows given as text, each a value per column key (the columns have no expressions to apply)."""

    def __init__(self, rows: Sequence[Mapping[str, str | None]], columns: Sequence[Column]) -> None:
        self._rows = rows
        self.height = len(rows)
        self._text = [tuple(row.get(column.key) or "" for column in columns) for row in rows]

    def frame(self) -> pl.DataFrame:
        import polars as pl

        return pl.DataFrame(list(self._rows))

    def cells(self, index: int) -> tuple[str, ...]:
        return self._text[index]

    def record(self, index: int) -> dict:
        return dict(self._rows[index])

    def key(self, index: int, column: str) -> str | None:
        return self._rows[index].get(column)

    def find(self, key: str, value: str) -> int | None:
        return next((index for index, row in enumerate(self._rows) if row.get(key) == value), None)

    def longest(self, index: int) -> int:
        return max((len(cells[index]) for cells in self._text), default=0)
