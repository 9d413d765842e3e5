"""The app as a new user meets it: keys that do what the footer and README say, times in the lab's zone, a
dashboard that shows what comes next, an editor one can leave."""

from __future__ import annotations

import contextlib
import io
import re
import stat
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest
from rich.console import Console

from labtui.tui.app import LabApp
from labtui.tui.chips import ChipsScreen
from labtui.tui.dashboard import DashboardScreen
from labtui.tui.dialogs import FieldsDialog, HelpDialog
from labtui.tui.history import HistoryScreen
from labtui.tui.stage import StageScreen
from labtui.tui.store import short_path
from labtui.tui.table import FrameTable
from tests.lab import REJECT, Lab, tui_lab
from tests.pilot import said, settle

README = Path(__file__).resolve().parents[1] / "README.md"


@pytest.fixture
def lab(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Lab:
    monkeypatch.chdir(tmp_path)
    return tui_lab(tmp_path)


def rows(app: LabApp, selector: str = "FrameTable") -> list[dict]:
    return app.screen.query_one(selector, FrameTable).frame.to_dicts()


async def test_chips_typing_always_filters_and_the_arrows_move(lab: Lab) -> None:
    app = LabApp(lab.config)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await pilot.press("c")
        await settle(pilot)
        assert isinstance(app.screen, ChipsScreen)
        await pilot.press("down", "down")  # the highlight moves; the filter keeps the keys
        assert app.screen.query_one(FrameTable).row["chip_name"] == "other71"
        await pilot.click("#chips", offset=(5, 1))  # a click moves the highlight, and typing still filters
        await pilot.press("7", "1", "k")  # j and k are letters of a filter like any other
        assert [row["chip_name"] for row in rows(app)] == []
        await pilot.pause()
        assert str(app.screen.query_one("#chip-info").render()).startswith("no chip matches “71k”")
        await pilot.press("question_mark")  # help, not a filter character: no chip name has one
        await pilot.pause()
        assert isinstance(app.screen, HelpDialog)
        await pilot.press("escape")
        assert app.screen.query_one("#filter").value == "71k"
        await pilot.press("backspace", "up")
        assert [row["chip_name"] for row in rows(app)] == ["Alisson71", "other71"]
        assert app.screen.query_one(FrameTable).row["chip_name"] == "Alisson71"
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, HistoryScreen) and (app.screen.group, app.screen.number) == ("Alisson", 71)


def test_the_readme_key_table_says_what_the_chips_screen_does() -> None:
    row = next(line for line in README.read_text(encoding="utf-8").splitlines() if line.startswith("| Chips"))
    assert "`j`/`k`" not in row and "↑/↓" in row and "type to filter" in row


async def test_the_run_detail_shows_the_start_in_the_labs_local_time(lab: Lab) -> None:
    app = LabApp(lab.config)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("c", "6", "7", "enter")
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, FieldsDialog)
        console = Console(width=200, file=io.StringIO(), record=True)
        console.print(app.screen.body)
        text = console.export_text()
    # the fixture's first run starts 2025-10-13 13:00 UTC: 10:00 in Santiago (UTC-3)
    assert re.search(r"start_time_local\s+2025-10-13 10:00:00 -03 \(America/Santiago\)", text), text
    # a dark sweep whose header keeps the last lit run's wavelength: a history shows none, the detail says whose
    assert re.search(r"laser_wavelength_nm\s+455 \(the header's, left from the last lit run: this run is dark\)",
                     text), text


async def test_the_dashboard_lists_the_latest_runs_and_the_runs_per_day(lab: Lab) -> None:
    app = LabApp(lab.config)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        latest = rows(app, "#latest")
        source_files = dict(app.store.manifest().select("run_id", "source_file").iter_rows())
        assert [source_files[row["run_id"]] for row in latest[:2]] == [
            "2025-10-14/IVg2025-10-14_2.csv", "2025-10-14/IVg2025-10-14_1.csv"]  # newest first
        assert [(row["date"], row["proc"], row["summary"][-2:]) for row in latest[:2]] == [
            ("2025-10-14", "IVg", "#2"), ("2025-10-14", "IVg", "#1")]  # as their history shows them
        screen = app.screen
        assert isinstance(screen, DashboardScreen)
        assert screen.query_one("#sparkline").data == [4, 2]  # 2025-10-13, 2025-10-14
        assert "2 days to 10-14:\n6 runs\n" in str(screen.query_one("#per-day-caption").render())  # not the total
        screen.query_one("#latest", FrameTable).focus()
        await pilot.press("down", "enter")  # the second latest run, in its chip's history
        await settle(pilot)
        assert isinstance(app.screen, HistoryScreen) and (app.screen.group, app.screen.number) == ("Alisson", 71)


@pytest.fixture
def no_editor_set(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Neither $VISUAL nor $EDITOR, and a PATH holding only what the test puts there."""
    monkeypatch.delenv("VISUAL", raising=False)
    monkeypatch.delenv("EDITOR", raising=False)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    monkeypatch.setenv("PATH", str(bin_dir))
    return bin_dir


async def edit_the_reject(app: LabApp, monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    ran: list[list[str]] = []
    monkeypatch.setattr(subprocess, "run", lambda args, **kw: ran.append(args))
    monkeypatch.setattr(app, "suspend", contextlib.nullcontext)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await pilot.press("r")
        await settle(pilot)
        await pilot.press("o")
        await settle(pilot)
    return ran


async def test_edit_without_editor_set_falls_back_to_nano_not_vi(
    lab: Lab, no_editor_set: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    nano = no_editor_set / "nano"
    nano.write_text("#!/bin/sh\n")
    nano.chmod(nano.stat().st_mode | stat.S_IXUSR)
    app = LabApp(lab.config)
    assert await edit_the_reject(app, monkeypatch) == [[str(nano), str(lab.config.raw_root / REJECT)]]
    assert any("opened in nano: $EDITOR is not set" in n.message for n in said(app))


async def test_edit_without_any_editor_says_how_to_set_one(
    lab: Lab, no_editor_set: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = LabApp(lab.config)
    assert await edit_the_reject(app, monkeypatch) == []
    assert any("export EDITOR=your-editor" in n.message for n in said(app))  # none installed to name
    assert app.clipboard == str(lab.config.raw_root / REJECT)
    vi = no_editor_set / "vi"  # installed, but never opened unasked (a newcomer may not know how to quit it)
    vi.write_text("#!/bin/sh\n")
    vi.chmod(vi.stat().st_mode | stat.S_IXUSR)
    app = LabApp(lab.config)
    assert await edit_the_reject(app, monkeypatch) == []
    assert any("export EDITOR=vi" in n.message for n in said(app))


async def test_the_stage_screen_offers_cancel_while_staging_and_back_after(lab: Lab) -> None:
    app = LabApp(lab.config)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await pilot.press("s")
        await settle(pilot)
        assert isinstance(app.screen, StageScreen) and app.screen.state == "done"
        escape = [active.binding.description for active in app.screen.active_bindings.values()
                  if active.binding.key == "escape" and active.enabled]
        assert escape == ["Back"]
        await pilot.press("escape")
        assert isinstance(app.screen, DashboardScreen)


async def test_a_raw_root_that_is_a_file_is_named_as_such_in_the_app(lab: Lab) -> None:
    not_a_folder = lab.root / "raw.csv"
    not_a_folder.write_text("x")
    app = LabApp(replace(lab.config, raw_root=not_a_folder))
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        assert "is a file, not a folder" in str(app.screen.query_one("#waiting").render())
        await pilot.press("s")
        await settle(pilot)
        assert f"The raw folder {not_a_folder} is a file, not a folder" in str(app.screen.query_one("#notice").render())


async def test_a_missing_raw_folder_is_said_in_the_compact_card(lab: Lab) -> None:
    """At 80×24 the card keeps one line of detail, which cut "the raw folder /tmp/… does not exist" before its
    point; its first line said "—"."""
    missing = lab.root / "not-there"
    app = LabApp(replace(lab.config, raw_root=missing))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        card = str(app.screen.query_one("#waiting").render())
        assert card.split("\n")[0] == "no raw folder" and f"{missing} does not exist" in card


def test_paths_are_shown_as_a_user_would_type_them(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Relative inside the working folder, with ~ under home; the working folder itself by name, never "."."""
    home, work = tmp_path / "home", tmp_path / "home" / "lab"
    (work / "data").mkdir(parents=True)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(work)
    assert short_path(work / "data") == "data"
    assert short_path(Path(".")) == short_path(work) == "~/lab"
    assert short_path(home) == "~"
    assert short_path(tmp_path) == str(tmp_path)
