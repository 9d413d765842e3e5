"""FrameTable: a cursor over a Polars frame that only ever draws the rows on screen."""

from __future__ import annotations

import time
from dataclasses import replace

import polars as pl
import pytest
from textual.app import App, ComposeResult

from labtui.tui.table import Column, FrameTable, _cell
from tests.pilot import wait_until

ROWS = 100_000


def big_frame(n: int = ROWS) -> pl.DataFrame:
    return pl.DataFrame({"run_id": [f"{i:016x}" for i in range(n)], "seq": range(1, n + 1),
                         "value": [i * 0.5 for i in range(n)]})


class TableApp(App[None]):
    def compose(self) -> ComposeResult:
        yield FrameTable([Column("seq", "seq", right=True), Column("value", "value", pl.col("value").round(1))],
                         key="run_id", selectable=True)


async def test_a_100k_row_frame_is_shown_at_once_and_drawn_a_screenful_at_a_time(monkeypatch) -> None:
    app = TableApp()
    async with app.run_test(size=(14, 20)) as pilot:  # narrower than the rows: a horizontal scrollbar takes a line
        table = app.query_one(FrameTable)
        table.focus()
        started = time.perf_counter()
        table.show(big_frame())
        assert time.perf_counter() - started < 1.0
        drawn: list[int] = []
        real_line = FrameTable._line
        monkeypatch.setattr(FrameTable, "_line",
                            lambda self, cells, mark: drawn.append(1) or real_line(self, cells, mark))
        await pilot.press("end")
        await pilot.pause()
        assert table.cursor == ROWS - 1 and table.row["seq"] == ROWS
        assert 0 < len(drawn) <= 3 * 20  # the visible lines, not the frame
        assert table.scrollable_content_region.height < table.size.height
        last = table.render_line(table.scrollable_content_region.height - 1).text
        assert str(ROWS) in last  # the cursor row is above the scrollbar, not behind it


async def test_keys_move_the_cursor_and_the_selection_marks_a_row() -> None:
    app = TableApp()
    async with app.run_test(size=(60, 12)) as pilot:
        table = app.query_one(FrameTable)
        table.focus()
        table.show(big_frame(100))
        await pilot.press("j", "j", "k")
        assert table.cursor == 1
        await pilot.press("pagedown")
        assert table.cursor == 1 + table.scrollable_content_region.height - 2
        await pilot.press("G")
        assert table.cursor == 99
        await pilot.press("g")
        assert table.cursor == 0
        table.toggle_selected()
        assert table.selected == {f"{0:016x}"}
        assert table.render_line(1).text.startswith(" ●")


async def test_the_cursor_stays_on_its_row_when_the_rows_change() -> None:
    app = TableApp()
    async with app.run_test(size=(60, 12)) as pilot:
        table = app.query_one(FrameTable)
        table.show(big_frame(100))
        table.cursor = 40
        await pilot.pause()
        table.show(big_frame(100).sort("seq", descending=True))
        assert table.row["seq"] == 41 and table.cursor == 59
        table.show(big_frame(10))  # the row is gone: the cursor stays in range
        assert table.cursor == 9


async def test_rows_in_a_new_order_keep_the_cursor_on_its_line_or_show_their_top() -> None:
    """Sorted again, the cursor's run stays on the line it was on; when it now sits within the first screenful, the
    rows from the first are shown (kept on its line, a sort showed seq 12 first: seq 1 to 11 were out of view)."""
    app = TableApp()
    async with app.run_test(size=(60, 12)) as pilot:
        table = app.query_one(FrameTable)
        table.show(big_frame(100))
        table.cursor = 60
        await wait_until(pilot, lambda: table.scroll_y > 0, what="row 60 in view")
        line = table.cursor - round(table.scroll_y)
        table.show(big_frame(100).sort("seq", descending=True))  # row 60 is now the 40th
        await wait_until(pilot, lambda: table.cursor - round(table.scroll_y) == line, what="the cursor on its line")
        assert table.row["seq"] == 61 and table.scroll_y > 0
        table.show(big_frame(100).filter(pl.col("seq") >= 58))  # now the 4th: the top is in view with it
        await wait_until(pilot, lambda: table.scroll_y == 0, what="the top of the rows")
        assert table.row["seq"] == 61 and table.cursor == 3


async def test_rows_shown_with_a_row_to_keep_scroll_it_into_view() -> None:
    """A history opened on a run far down (from the dashboard, a validation finding) shows that run: the rows
    arrive before the table's new height is laid out, which clamps an immediate scroll to the old one."""
    app = TableApp()
    async with app.run_test(size=(60, 12)) as pilot:
        table = app.query_one(FrameTable)
        table.show(big_frame(100), keep=f"{80:016x}")
        assert table.cursor == 80
        await wait_until(pilot, lambda: table.scroll_y <= 80 < table.scroll_y + table.scrollable_content_region.height
                         - 1, timeout=5, what="row 80 scrolled into view once laid out")


async def test_enter_posts_the_chosen_row() -> None:
    chosen: list[dict] = []

    class ChoosingApp(TableApp):
        def on_frame_table_chosen(self, message: FrameTable.Chosen) -> None:
            chosen.append(message.row)

    app = ChoosingApp()
    async with app.run_test(size=(60, 12)) as pilot:
        table = app.query_one(FrameTable)
        table.focus()
        table.show(big_frame(5))
        await pilot.press("j", "enter")
        await pilot.pause()
    assert [row["seq"] for row in chosen] == [2]


def test_a_value_cut_to_its_column_ends_in_an_ellipsis() -> None:
    assert _cell("VG=-0.35 V VDS=0.1 V", 12, right=False) == "VG=-0.35 V …"
    assert _cell("-350 mV", 9, right=True) == "  -350 mV" and _cell("ab", 4, right=False) == "ab  "


class WideApp(App[None]):
    def __init__(self, selectable: bool = False, fixed: int = 0) -> None:
        super().__init__()
        self.selectable = selectable
        self.fixed = fixed

    def compose(self) -> ComposeResult:
        yield FrameTable([Column(f"c{i}", f"column {i}") for i in range(6)], key="c0", selectable=self.selectable,
                         fixed=self.fixed)


async def test_a_control_character_in_a_value_is_drawn_escaped_and_the_row_stays_one_line() -> None:
    """A chip staged (before labtui refused them) as `Alisson\\r#\\tChip number: 5` drew its CR into the terminal:
    the dashboard's rows overwrote each other."""
    app = TableApp()
    async with app.run_test(size=(40, 8)) as pilot:
        table = app.query_one(FrameTable)
        table.show(pl.DataFrame({"run_id": ["a", "b"], "seq": [1, 2], "value": [0.5, 1.5]}),
                   columns=[Column("seq", "seq", pl.format("A\r#\tB{}", pl.col("seq")))])
        await pilot.pause()
        lines = [strip.text for strip in (table.render_line(y) for y in range(3))]
        assert any("A\\r#\\" in line for line in lines), lines  # escaped (and, longer now, cut to the column)
        assert all(char.isprintable() for line in lines for char in line)


@pytest.mark.parametrize("selectable", [False, True])  # a history's table, with its selection marks, never moved
async def test_left_and_right_scroll_by_whole_columns(selectable: bool) -> None:
    app = WideApp(selectable)
    async with app.run_test(size=(30, 8)) as pilot:
        table = app.query_one(FrameTable)
        table.focus()
        table.show(pl.DataFrame({f"c{i}": [f"value {i}"] for i in range(6)}))
        await pilot.pause()
        await pilot.press("right")
        await pilot.pause()
        assert table.render_line(0).text.startswith(" column 1 ")  # the next column at the left edge
        await pilot.press("right", "right", "left")
        await pilot.pause()
        assert table.render_line(0).text.startswith(" column 2 ")
        await pilot.press("left", "left", "left")
        await pilot.pause()
        assert table.scroll_x == 0 and table.render_line(0).text.lstrip().startswith("column 0 ")
        await pilot.press("right", "right", "end", "home")  # home: the first row, and the first columns
        await pilot.pause()
        assert table.scroll_x == 0 and table.cursor == 0
        await pilot.press("right", "end")  # end: the last row, scrolled as it was
        await pilot.pause()
        assert table.scroll_x > 0


@pytest.mark.parametrize("selectable", [False, True])
async def test_fixed_columns_stay_in_view_while_the_others_scroll(selectable: bool) -> None:
    """A history scrolled to its information column lost seq and date: no row could be told from another."""
    app = WideApp(selectable, fixed=2)
    async with app.run_test(size=(40, 8)) as pilot:
        table = app.query_one(FrameTable)
        table.focus()
        table.show(pl.DataFrame({f"c{i}": [f"value {i}"] for i in range(6)}))
        await pilot.pause()
        mark = "  " if selectable else ""
        pinned = f"{mark} column 0 column 1 "
        assert table.render_line(0).text.startswith(pinned + "column 2 ")
        await pilot.press("right")
        await pilot.pause()
        assert table.render_line(0).text.startswith(pinned + "column 3 ")
        assert table.render_line(1).text.startswith(f"{mark} value 0  value 1  value 3 ")
        await pilot.press("right", "right", "right")
        await pilot.pause()
        header = table.render_line(0).text
        assert header.startswith(pinned) and header.rstrip().endswith("column 5")  # the last column reached
        await pilot.press("left", "left", "left", "left")
        await pilot.pause()
        assert table.scroll_x == 0 and table.render_line(0).text.startswith(pinned + "column 2 ")


class NumbersApp(App[None]):
    """A history's shape: seq and date pinned, then right-aligned numbers of several widths."""

    def compose(self) -> ComposeResult:
        yield FrameTable([Column("seq", "seq", right=True), Column("date", "date"),
                          *(Column(f"v{i}", f"v{i}", right=True) for i in range(8))],
                         key="seq", selectable=True, fixed=2)


async def test_a_value_is_shown_whole_or_not_at_all_at_every_scroll_and_width() -> None:
    """A history scrolled to its end (80 columns, a vertical scrollbar) began mid-column, `5→5` for `-5→5`, and cut
    the column at the right edge before its unit (`-286 …` for `-286 mA/W`)."""
    values = {f"v{i}": [f"-{i}.21→{'5' * (i + 2)}" for _ in range(40)] for i in range(8)}  # 40 rows: a scrollbar
    frame = pl.DataFrame({"seq": range(1, 41), "date": ["2025-09-01"] * 40, **values})
    whole = {"1", "2025-09-01", *(value[0] for value in values.values())}  # the first row's values
    app = NumbersApp()
    async with app.run_test(size=(49, 12)) as pilot:
        table = app.query_one(FrameTable)
        table.focus()
        table.show(frame)  # at 49: the scrollbar its rows bring moved the last stop, and no resize said so
        for width in (49, 40, 53, 63, 76):
            await pilot.resize_terminal(width, 12)
            await pilot.press("home")
            seen: set[str] = set()
            for _ in range(10):
                await pilot.pause()
                tokens = set(table.render_line(1).text.split())
                assert tokens <= whole | {"…"}, (width, table.render_line(1).text)
                seen |= tokens
                await pilot.press("right")
            assert seen >= whole, width  # and every column was reached
        await pilot.press("home")
        await pilot.pause()
        # the titles' row says more columns follow to the right, where → goes (at 80 columns a history's power
        # and responsivity were there, unsaid); scrolled to the end, nothing follows
        assert table.render_line(0).text.rstrip().endswith("→") and table.render_line(1).text.rstrip().endswith("…")
        await pilot.press("end", *["right"] * 10)
        await pilot.pause()
        assert not table.render_line(0).text.rstrip().endswith("→")


class ProseApp(App[None]):
    """A dashboard's latest runs: a date, a value, then a summary (prose)."""

    def compose(self) -> ComposeResult:
        yield FrameTable([Column("date", "date"), Column("vg", "Vg", right=True),
                          Column("summary", "summary", max_width=60, prose=True)], key="date")


async def test_prose_is_read_cut_at_the_right_edge_where_a_value_is_left_out() -> None:
    """Text columns went behind `…` with the values, and the dashboard's latest runs lost their summary at 80
    columns: a summary reads cut (`VG=-0.35 V VDS…`), a number never does."""
    frame = pl.DataFrame({"date": ["2025-09-01"], "vg": ["-3.21"], "summary": ["VG=-0.35 V VDS=0.1 V λ=365 nm"]})
    app = ProseApp()
    async with app.run_test(size=(30, 5)) as pilot:
        table = app.query_one(FrameTable)
        table.show(frame)
        await pilot.pause()
        line = table.render_line(1).text
        assert line.rstrip().endswith("…") and " -3.21 VG=-0.35" in line, line
        table.columns[2] = replace(table.columns[2], prose=False)  # the same text as a value: left out
        table.show(frame)
        await pilot.pause()
        assert "VG=" not in table.render_line(1).text
