"""Text from the lab's files and hands is shown as itself, never read as Rich markup: a `[/]` in a file name, an
Information line, a reject's reason, a note or a tag crashed the app (`MarkupError`), and `[red]` would restyle."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pytest
from textual.geometry import Region
from textual.widgets import Tree
from textual.widgets.tree import TreeNode

from labtui.tui.app import LabApp
from labtui.tui.dialogs import ErrorDialog, FieldsDialog, TextDialog
from labtui.tui.history import HistoryScreen
from labtui.tui.rejects import RejectsScreen
from labtui.tui.validate import ValidateScreen
from tests.lab import Lab, raw_csv, raw_file
from tests.pilot import record_notifications, said, settle, wait_until

MARKUP = "[/] [bold red]boom[/bold red] [link=file:///etc/passwd]x[/link]"
ESCAPE = "\x1b[31m"  # a terminal acts on it: never sent as it is
START = dt.datetime(2025, 10, 14, 10, 0, tzinfo=dt.UTC)


@pytest.fixture
def lab(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Lab:
    monkeypatch.chdir(tmp_path)
    record_notifications(monkeypatch)
    lab = Lab(tmp_path, workers=1)
    lab.write(f"2025-10-14/It2025-10-14_1 {ESCAPE}RED {MARKUP}.csv", raw_file("It", start=START, information=MARKUP))
    rows = ["0.0,1e-6,0.0,nan,nan,nan", f"{MARKUP}{ESCAPE},1,0,1,1,1"]
    lab.write("2025-10-14/It2025-10-14_2.csv", raw_csv("It", rows=rows))
    lab.stage()
    return lab


async def test_markup_in_the_data_is_shown_as_text_on_every_screen(lab: Lab) -> None:
    app = LabApp(lab.config)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("c")
        await settle(pilot)
        await pilot.press(*"[/]")  # a filter that matches no chip is quoted back
        await wait_until(pilot, lambda: "no chip matches “[/]”" in str(app.screen.query_one("#chip-info").render()))
        await pilot.press("backspace", "backspace", "backspace", "enter")  # the chip's history
        await wait_until(pilot, lambda: isinstance(app.screen, HistoryScreen) and app.screen.loaded)
        await pilot.press("enter")  # the run's fields: its Information and file name
        await wait_until(pilot, lambda: isinstance(app.screen, FieldsDialog))
        await pilot.pause()
        box = app.screen.query_one("#dialog")
        drawn = "".join(segment.text for strip in box.render_lines(Region(0, 0, *box.size)) for segment in strip)
        assert "\\x1b[31mRED" in drawn and "\x1b" not in drawn  # the title names the file: escaped, as the CLI does
        body = app.screen.query_one("#dialog-body")
        drawn = "".join(segment.text for strip in body.render_lines(Region(0, 0, *body.size)) for segment in strip)
        assert "\\x1b[31mRED" in drawn and "\x1b" not in drawn  # and so does its source_file field
        await pilot.press("escape")
        for key in ("n", "number_sign"):  # a note, then a tag, typed with markup in them
            await pilot.press(key)
            await wait_until(pilot, lambda: isinstance(app.screen, TextDialog))
            await pilot.press(*"[/]x[b]", "enter")
            await settle(pilot)
        assert any("[/]x[b]" in notice.message for notice in said(app))  # the annotation said, as typed
        await pilot.press("p")  # the plot's title and legend name the file
        await settle(pilot)
        await pilot.press("escape", "escape", "escape")
        await settle(pilot)
        await pilot.press("r")  # the reject quotes the bad value; re-staging says it again in a notification
        await wait_until(pilot, lambda: isinstance(app.screen, RejectsScreen))
        await settle(pilot)  # the file's lines, the bad one with its escape sequence shown, not sent
        assert f"{MARKUP}\\x1b[31m,1,0" in str(app.screen.query_one("#excerpt").render())
        await pilot.press("r")
        await wait_until(pilot, lambda: any("Still rejected" in notice.title for notice in said(app)))
        assert any("'[/] [bold red]boom[/bold red]" in notice.message for notice in said(app))
        app.show_error(ValueError(f"{MARKUP}\n{ESCAPE}two"))  # an error dialog says it as it is, on its two lines
        await wait_until(pilot, lambda: isinstance(app.screen, ErrorDialog))
        await pilot.pause()
        assert str(app.screen.query_one("#dialog-body").render()) == f"ValueError: {MARKUP}\n\\x1b[31mtwo"


async def test_validate_lists_a_marked_up_file_name_as_text(lab: Lab) -> None:
    """A finding's items name files: a `[/]` in one crashed the validate screen, an escape reached the terminal."""
    source = lab.raw / f"2025-10-14/It2025-10-14_1 {ESCAPE}RED {MARKUP}.csv"
    os.utime(source, (START.timestamp(), START.timestamp()))  # touched since staging: an item naming the file
    app = LabApp(lab.config)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("v")
        await wait_until(pilot, lambda: isinstance(app.screen, ValidateScreen) and app.screen.report is not None)
        tree = app.screen.query_one("#findings", Tree)
        leaves = [str(node.label) for node in _nodes(tree.root)]
        assert "2025-10-14/It2025-10-14_1 \\x1b[31mRED [/] [bold red]boom[/bold red]" in "\n".join(leaves)


def _nodes(node: TreeNode[str]) -> list[TreeNode[str]]:
    return [child for top in node.children for child in [top, *_nodes(top)]]
