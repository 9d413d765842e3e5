"""The TUI driven with the keyboard (Pilot) on a store staged from generated raw files."""

from __future__ import annotations

import contextlib
import datetime as dt
import gc
import io
import re
import shutil
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from rich.console import Console
from rich.text import Text
from textual import events
from textual.command import CommandList
from textual.geometry import Region
from textual.pilot import Pilot
from textual.widget import Widget
from textual.widgets import Input, OptionList, ProgressBar, RichLog

import labtui.core.datablock
from labtui.cli import EXIT_USAGE, main
from labtui.core.annotations import Change, annotate
from labtui.core.config import default_registry_path
from labtui.core.layout import run_parquet_path
from labtui.core.lock import WriterLock, lock_state
from labtui.core.manifest import read_manifest
from labtui.core.overview import overview_path
from labtui.core.pace import Pace
from labtui.core.rejects import load_rejects
from labtui.tui.app import LabApp, QuitWhileStaging
from labtui.tui.chips import ChipsScreen
from labtui.tui.dashboard import DashboardScreen
from labtui.tui.dialogs import (
    REMAP_HINT,
    SHOWN_CHARACTERS,
    ConfirmDialog,
    ErrorDialog,
    FieldsDialog,
    HelpDialog,
    field_text,
    help_text,
)
from labtui.tui.history import HistoryScreen
from labtui.tui.plot import PlotScreen
from labtui.tui.rejects import RejectsScreen, choose_editor
from labtui.tui.stage import LOCK_POLL_SECONDS, StageScreen, WrappedLog
from labtui.tui.table import FrameTable
from labtui.tui.validate import ValidateScreen
from tests.lab import (
    IVG_COLUMNS,
    REJECT,
    TUI_RUNS,
    Lab,
    damage_a_data_page,
    data_rows,
    epoch,
    fixed_reject,
    lock_held_elsewhere,
    raw_csv,
    sweep,
    tui_lab,
    unlistable,
)
from tests.pilot import said, settle, wait_until


@pytest.fixture
def lab(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Lab:
    monkeypatch.chdir(tmp_path)
    return tui_lab(tmp_path)


def table(app: LabApp) -> FrameTable:
    return app.screen.query_one(FrameTable)


def column(app: LabApp, name: str) -> list:
    return table(app).frame[name].to_list()


def text_of(app: LabApp, selector: str) -> str:
    return str(app.screen.query_one(selector).render())


async def close_errors(app: LabApp, pilot) -> None:
    """Once the app settled, close the error dialogs on top (each said once), as a user reading them would."""
    await settle(pilot)
    while isinstance(app.screen, ErrorDialog):
        await pilot.press("escape")
        await settle(pilot)


def dialog_text(app: LabApp) -> str:
    """A dialog's body (a Rich renderable) as plain text."""
    console = Console(width=200, file=io.StringIO(), record=True)
    console.print(app.screen.body)
    return console.export_text()


async def open_chip(pilot, query: str) -> None:
    await pilot.press("c")
    await settle(pilot)
    await pilot.press(*query, "enter")
    await settle(pilot)


async def test_the_setups_calibrations_open_from_the_chips_screen_as_a_history_that_plots_them(lab: Lab) -> None:
    """LaserCalibration runs belong to no chip: no history listed them, and the app could not plot them."""
    for day in (15, 16):
        lab.write(f"2025-10-{day}/LaserCalibration2025-10-{day}_1.csv",
                  raw_csv("LaserCalibration", start=epoch(2025, 10, day)))
    lab.stage()
    app = LabApp(lab.config)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("c")
        await settle(pilot)
        shown = [str(key.render()) for key in app.screen.query("FooterKey") if key.visible]
        assert any("Calibrations" in key for key in shown), shown  # found where the chips are, at 80 columns
        await pilot.press("ctrl+l")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, HistoryScreen) and screen.title == "History · setup calibrations"
        assert column(app, "proc") == ["LaserCalibration"] * 2 and column(app, "seq") == [1, 2]
        header = table(app).render_line(0).text
        assert "λ nm" in header and "P max" in header and "CNP" not in header  # a calibration's, not the chips'
        assert "proc 💡" not in header  # no gate, no drain, no light column: a calibration's laser is its sweep
        # nor `LaserCalibration` on every row: its 16 columns pushed the slope and the threshold off 80 columns;
        # the procedure of a run that is no calibration (Pt, Tt: of no chip either); with none, no column blank on
        # every row (as `labtui history --calibrations` leaves it out)
        assert "proc" not in header.split() and "slope" in header and "VL th" in header
        assert "LaserCalibration" not in table(app).render_line(1).text
        assert table(app).row["p_max_w_text"] == "400 µW"  # the largest power of its curve
        assert not screen.check_action("trends", ())  # no chip: no trends in the footer
        await pilot.press("T")  # a T learnt on a chip's history said nothing here: now it says why
        await settle(pilot)
        assert isinstance(app.screen, HistoryScreen)
        assert any("trends are a chip's" in str(note.message) for note in said(app))
        await pilot.press("space", "down", "space", "p")
        await settle(pilot)
        assert isinstance(app.screen, PlotScreen) and app.screen.spec.kind == "LaserCalibration"
        assert len(app.screen.spec.series) == 2


async def test_a_calibration_among_the_latest_runs_opens_in_the_setups_history(lab: Lab) -> None:
    """Enter on a calibration in the dashboard's latest runs opened its fields alone: now the setup's history, at it."""
    lab.write("2025-10-16/LaserCalibration2025-10-16_1.csv", raw_csv("LaserCalibration", start=epoch(2025, 10, 16)))
    lab.stage()
    newest = lab.manifest().filter(pl.col("proc") == "LaserCalibration")["run_id"][0]
    app = LabApp(lab.config)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        assert app.screen.query_one("#latest", FrameTable).row["run_id"] == newest  # the newest run: on top
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, HistoryScreen) and app.screen.title == "History · setup calibrations"
        assert table(app).row["run_id"] == newest


async def test_an_excluded_run_among_the_latest_opens_shown_with_the_excluded(lab: Lab) -> None:
    """Enter on a run excluded since: its history opened at seq 1, the run hidden, without a word."""
    lab.stage()
    newest = lab.manifest().sort("start_time_utc", descending=True).head(1)
    annotate(lab.config.store_root, newest, [Change("exclude", "gate leak")], author="test")
    app = LabApp(lab.config)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        assert app.screen.query_one("#latest", FrameTable).row["run_id"] == newest["run_id"][0]
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, HistoryScreen) and table(app).row["run_id"] == newest["run_id"][0]
        assert app.screen.view.include_excluded
        assert any("is excluded (gate leak): the excluded runs are shown (X hides them)" in str(note.message)
                   for note in said(app))


@pytest.mark.parametrize(
    ("imported", "absent"),
    [
        # the engine is headless: neither it nor the command line loads a terminal UI
        ("labtui.core.stager, labtui.cli", ("textual", "textual_plotext", "plotext")),
        # the app starts with what the dashboard shows; staging, checks, the watcher and plotting load when used
        ("labtui.tui.app", ("labtui.core.stager", "labtui.core.commit", "labtui.core.validate", "labtui.core.watch",
                            "labtui.core.measuring", "labtui.core.metrics.table", "labtui.core.metrics.per_run",
                            "labtui.tui.plot", "plotext", "pydantic", "numpy", "polars")),
    ],
    ids=["headless engine", "lean app start"],
)
def test_what_importing_a_layer_loads(imported: str, absent: tuple[str, ...]) -> None:
    code = (
        f"import sys, labtui.cli, {imported}\n"
        "labtui.cli.build_parser()\n"
        f"print(sorted(m for m in sys.modules if m in {absent!r} or m.split('.')[0] in {absent!r}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


PAINT_PROBE = """
import sys
from pathlib import Path
from labtui.core.config import load_config
from labtui.tui.app import LabApp
from labtui.tui.dashboard import DashboardScreen

painted = []
show = DashboardScreen._show_overview

def recording(screen, *args):
    painted.append(("polars" in sys.modules, screen.query_one("#latest").row_count))
    show(screen, *args)

async def until_loaded(pilot):
    while not (isinstance(pilot.app.screen, DashboardScreen) and pilot.app.screen.loaded):
        await pilot.pause(0.01)
    pilot.app.exit()

DashboardScreen._show_overview = recording
LabApp(load_config(Path(sys.argv[1]))).run(headless=True, size=(100, 30), auto_pilot=until_loaded)
print(painted)
"""


@pytest.mark.parametrize("recorded", [True, False], ids=["recorded overview", "older store"])
def test_the_dashboard_paints_before_polars_is_loaded(lab: Lab, recorded: bool) -> None:
    """The store's numbers and latest runs come from the overview the last commit recorded, so the first paint
    needs no Polars (it comes for the Dirac points, the waiting files and the validation, after). A store without
    one (staged by an older labtui) shows the same, computed from the manifest."""
    lab.write_run("2025-10-13/It2025-10-13_1.csv", "It", start=dt.datetime(2025, 10, 13, 13, tzinfo=dt.UTC))
    lab.stage()
    if not recorded:
        overview_path(lab.config.manifest_path).unlink()
    out = subprocess.run([sys.executable, "-c", PAINT_PROBE, str(lab.config_file)], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == f"[({not recorded}, 0)]"  # Polars not loaded yet; the table still empty


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize("command", [[], ["tui"]])
def test_labtui_starts_the_app_with_the_store_options(command: list[str], lab: Lab, monkeypatch) -> None:
    started: list[LabApp] = []
    monkeypatch.setattr(LabApp, "run", lambda app: started.append(app))
    monkeypatch.setattr(sys, "stdin", Terminal())
    monkeypatch.setattr(sys, "stdout", Terminal())
    monkeypatch.setattr(sys, "stderr", Terminal())  # Textual draws on it
    assert main([*command, "--raw-root", "elsewhere", "--stage-root", "store/raw_measurements"]) == 0
    assert [app.config.raw_root for app in started] == [lab.root / "elsewhere"]


def test_labtui_without_a_terminal_says_so_instead_of_hanging(lab: Lab, capsys) -> None:
    assert main([]) == EXIT_USAGE
    assert "needs a terminal" in capsys.readouterr().err


async def test_dashboard_shows_the_store_and_new_raw_files(lab: Lab) -> None:
    app = LabApp(lab.config)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        assert isinstance(app.screen, DashboardScreen)
        cards = {card: text_of(app, f"#{card}").split()[0] for card in ("runs", "chips", "waiting", "rejects")}
        assert cards == {"runs": "6", "chips": "3", "waiting": "0", "rejects": "1"}
        assert text_of(app, "#staged").startswith("2025-10-26 12:00")  # 15:00 UTC in Santiago (UTC-3)
        await pilot.press("f")  # follow, while not watching: says how a run being measured would show
        assert said(app)[-1].message == "no run is being measured (w watches the raw folder for runs being written)"
        lab.write("2025-10-15/IVg2025-10-15_1.csv", raw_csv("IVg", start=epoch(2025, 10, 15)))
        await pilot.press("c", "escape")  # coming back to the dashboard refreshes it
        await settle(pilot)
        assert text_of(app, "#waiting").startswith("1")


async def test_the_dashboard_in_view_sees_new_raw_files_and_a_stage_made_elsewhere(
    lab: Lab, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(DashboardScreen, "refresh_seconds", 0.05)
    app = LabApp(lab.config)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        assert text_of(app, "#waiting").startswith("0") and text_of(app, "#runs").startswith("6")
        lab.write("2025-10-15/IVg2025-10-15_1.csv", raw_csv("IVg", start=epoch(2025, 10, 15)))  # a run just measured
        await wait_until(pilot, lambda: text_of(app, "#waiting").startswith("1"))
        lab.stage()  # as a `labtui stage` in another terminal: the app did not stage it
        await wait_until(pilot, lambda: text_of(app, "#runs").startswith("7") and text_of(app, "#waiting")[0] == "0")


async def test_a_chip_measured_lately_without_a_dirac_point_says_so(lab: Lab) -> None:
    lab.write("2025-10-20/It2025-10-20_1.csv", raw_csv("It", params={"Chip number": "80"}, start=epoch(2025, 10, 20)))
    lab.stage()
    app = LabApp(lab.config)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        dirac = app.screen.query_one("#dirac", FrameTable)
        assert dirac.frame.select("chip_name", "cnp").row(0) == ("Alisson80", "no sweep")  # not an empty row
        assert dirac.frame["cnp"].to_list()[1:] == ["167 mV"] * 3
        lab.config.metrics_path.unlink()  # moved away, or never computed: the chips' sweeps are not computed
        app.screen.load_dirac_points()
        await settle(pilot)
        assert dirac.frame["cnp"].to_list() == ["no sweep", *["not computed"] * 3]  # "no sweep" beside their dozens
        lab.stage()  # a stage with nothing to stage writes the table again
        lab.config.metrics_path.write_bytes(lab.config.metrics_path.read_bytes()[:200])  # and damaged: said so
        app.screen.load_dirac_points()
        await settle(pilot)
        assert dirac.frame["cnp"].to_list() == ["no sweep", *["damaged"] * 3]
        lab.stage()
        app.screen.load_dirac_points()
        await settle(pilot)
        assert dirac.frame["cnp"].to_list() == ["no sweep", *["167 mV"] * 3]
        await pilot.press("tab")  # from the latest runs to the Dirac points
        assert app.focused is dirac
        await pilot.press("down", "enter")  # the newest IVg of the chip on that row
        await settle(pilot)
        assert isinstance(app.screen, HistoryScreen) and "other71" in app.screen.title


async def test_the_latest_runs_at_80_columns_date_a_run_in_one_column_for_the_summary(lab: Lab) -> None:
    """At 80 columns the date and the time to the second left the summary 5 cells (`VG=-…`)."""
    app = LabApp(lab.config)
    async with app.run_test(size=(80, 30)) as pilot:
        await settle(pilot)
        latest = app.screen.query_one("#latest", FrameTable)
        newest = lab.manifest().sort("start_time_utc")[-1]["start_time_utc"][0].astimezone(lab.config.zone)
        assert [column.key for column in latest.columns][:2] == ["when", "chip_name"]
        assert latest.render_line(1).text.split()[:2] == [f"{newest:%m-%d}", f"{newest:%H:%M}"]
        await pilot.resize_terminal(140, 40)
        await settle(pilot)
        assert [column.key for column in latest.columns][:2] == ["date", "time_hms"]


async def test_a_chip_staged_since_comes_first_in_view_in_the_dirac_points(tmp_path: Path) -> None:
    """At 80×24 the card has two lines; after a stage its cursor stayed on the chip it was on, now the second row,
    and the chip just measured, first, was scrolled out of view."""
    lab = tui_lab(tmp_path)
    app = LabApp(lab.config)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        dirac = app.screen.query_one("#dirac", FrameTable)
        await wait_until(pilot, lambda: dirac.row_count > 0)
        assert dirac.frame["chip_name"][0] != "Alisson81"
        lab.write("2025-10-21/IVg2025-10-21_1.csv", raw_csv("IVg", params={"Chip number": "81"},
                                                            start=epoch(2025, 10, 21)))
        lab.stage()
        app.check_store()
        await wait_until(pilot, lambda: dirac.row_count and dirac.frame["chip_name"][0] == "Alisson81")
        await settle(pilot)
        assert dirac.cursor == 0 and dirac.scroll_y == 0 and "Alisson81" in dirac.render_line(1).text


async def test_the_dirac_points_fit_their_panel_again_after_a_resize(lab: Lab) -> None:
    """Fitted once at load: started at 80 columns and widened, a dead chip's `dead chan…` stayed cut beside empty
    cells; started wide and narrowed, the table ran over its card."""
    dead = data_rows(((vg, 1e-10) for vg in sweep(-1, 1, 0.5, "loop")), len(IVG_COLUMNS))
    lab.write("2025-10-20/IVg2025-10-20_1.csv", raw_csv("IVg", params={"Chip number": "80"}, rows=dead,
                                                        start=epoch(2025, 10, 20)))
    lab.stage()
    app = LabApp(lab.config)
    async with app.run_test(size=(80, 30)) as pilot:
        await settle(pilot)
        dirac = app.screen.query_one("#dirac", FrameTable)
        assert dirac.frame.select("chip_name", "cnp").row(0) == ("Alisson80", "dead channel")

        def row_text() -> str:
            return dirac.render_line(1).text

        assert "dead channel" not in row_text()  # cut at 80 columns
        await pilot.resize_terminal(140, 40)
        await settle(pilot)
        assert "dead channel" in row_text()
        await pilot.resize_terminal(80, 30)
        await settle(pilot)
        assert "dead channel" not in row_text() and len(row_text()) <= dirac.size.width


async def test_the_dashboard_tells_an_empty_raw_folder_from_a_staged_one_and_counts_a_rejecting_stage(
    tmp_path: Path,
) -> None:
    empty = Lab(tmp_path / "empty")
    app = LabApp(empty.config)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        assert text_of(app, "#waiting") == "0\nno raw CSV files"
        assert text_of(app, "#staged").startswith("never")
        # the latest runs and the Dirac points say why they are empty, not column titles over nothing
        assert app.screen.query_one("#latest", FrameTable).render_line(1).text.strip() == "no runs yet"
        assert app.screen.query_one("#dirac", FrameTable).render_line(1).text.strip() == "no chip measured yet"
    empty.write("2025-10-15/IVg2025-10-15_1.csv", "#Procedure: <laser_setup.procedures.IVg.IVg>\nnot a run\n")
    empty.stage()  # rejects the only file: nothing committed, but it was staged
    app = LabApp(empty.config)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        assert text_of(app, "#waiting") == "0\nnothing new"
        assert not text_of(app, "#staged").startswith("never") and text_of(app, "#rejects").startswith("1")


async def test_the_runs_card_counts_every_procedure_at_80_columns(lab: Lab) -> None:
    """The compact card's one line of detail drew `It 329 · IVg 217 · L…`: the calibrations and IV runs unseen."""
    lab.write("2025-10-15/LaserCalibration2025-10-15_1.csv", raw_csv("LaserCalibration", start=epoch(2025, 10, 15)))
    lab.write("2025-10-15/IV2025-10-15_2.csv", raw_csv("IV", start=epoch(2025, 10, 15, 13)))
    lab.stage()
    app = LabApp(lab.config)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        card = drawn(app.screen.query_one("#runs")).replace("\xa0", " ")
        assert all(count in card for count in ("8  ", "IVg 3,", "It 3,", "LaserCal… 1,", "IV 1 ")), card
        await pilot.resize_terminal(80, 40)  # room for the names whole, under the total
        await settle(pilot)
        assert text_of(app, "#runs") == "8\nIVg\xa03, It\xa03, LaserCalibration\xa01, IV\xa01"


def drawn(widget: Widget) -> str:
    """What the widget draws, its lines run together."""
    return "".join(segment.text for strip in widget.render_lines(Region(0, 0, *widget.outer_size)) for segment in strip)


async def test_the_dashboard_says_a_raw_folder_it_cannot_list(lab: Lab, monkeypatch: pytest.MonkeyPatch) -> None:
    """Its files are not counted among those waiting: said on the card (at 80 columns), not left to a low count."""
    lab.write("locked/It2025-10-20_1.csv", raw_csv("It"))
    with unlistable(lab.raw / "locked", monkeypatch):
        app = LabApp(lab.config)
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            assert text_of(app, "#waiting") == "0\n1 folder unreadable"
            assert "1 folder unreadable" in drawn(app.screen.query_one("#waiting"))  # whole at 80 columns
        with unlistable(lab.raw, monkeypatch):
            app = LabApp(lab.config)
            async with app.run_test(size=(80, 24)) as pilot:
                await settle(pilot)
                assert text_of(app, "#waiting").startswith("no raw folder\ncannot list the raw folder")


async def test_the_dashboard_cards_say_their_detail_whole_at_80_columns(lab: Lab, tmp_path: Path) -> None:
    """Below 32 rows a card keeps one line of detail, and at 80 columns it was cut: `files that could not…`,
    `new or changed since…`, and a new lab's `press s to stage the …`."""
    lab.write("2025-10-15/IVg2025-10-15_1.csv", raw_csv("IVg", start=epoch(2025, 10, 15)))  # waiting: 1
    for config in (lab.config, Lab(tmp_path / "empty").config):
        app = LabApp(config)
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            for card in app.screen.query(".card"):
                assert "…" not in drawn(card), drawn(card)


async def test_the_dashboard_says_when_the_derived_quantities_are_out_of_date(lab: Lab) -> None:
    """A store staged by an older labtui has a metrics table of other definitions, or none: the history's CNP and
    ΔI columns were blank, or stale, and nothing said that a stage redoes them."""
    lab.config.metrics_path.unlink()
    app = LabApp(lab.config)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        assert text_of(app, "#waiting") == "0\nderived values stale"
        await pilot.press("s")
        await settle(pilot)
        assert app.screen.state == "done" and lab.config.metrics_path.exists()
        await pilot.press("escape")
        await wait_until(pilot, lambda: text_of(app, "#waiting") == "0\nnothing new", what="the table redone")


async def test_the_latest_runs_stay_on_the_newest_after_a_stage(lab: Lab) -> None:
    app = LabApp(lab.config)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        latest = app.screen.query_one("#latest", FrameTable)
        assert latest.cursor == 0
        for day in range(1, 4):
            lab.write(f"2025-11-0{day}/IVg2025-11-0{day}_1.csv", raw_csv("IVg", start=epoch(2025, 11, day)))
        lab.stage()
        await pilot.press("c", "escape")
        await settle(pilot)
        assert latest.cursor == 0 and latest.row["date"] == "2025-11-03"


async def test_the_dashboard_names_another_process_staging_but_not_its_own(lab: Lab) -> None:
    """The app's own staging (a watcher's, the demo's first) shows as its progress line, not as someone else's."""
    app = LabApp(lab.config)
    async with app.run_test(size=(100, 30)) as pilot:
        own = WriterLock(lab.config.lock_path, command="labtui")
        own.acquire(0)
        try:
            await pilot.press("c", "escape")
            await settle(pilot)
            assert text_of(app, "#lock") == ""
        finally:
            own.release()
        with lock_held_elsewhere(lab.config.lock_path, "labtui stage --force") as other:
            await pilot.press("c", "escape")
            await settle(pilot)
            assert text_of(app, "#lock").startswith(
                f"⚠ the store is being written by labtui stage --force (pid {other.pid} ")


async def test_the_dashboard_in_view_says_when_another_writer_takes_and_releases_the_lock(lab: Lab) -> None:
    """Its line came only with a commit or a return to the dashboard: a writer holding the lock without committing
    yet (a long `stage --force`, `validate --fix`, `prune`) went unsaid while the app's watcher waited on it."""
    app = LabApp(lab.config)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, DashboardScreen) and text_of(app, "#lock") == ""
        with lock_held_elsewhere(lab.config.lock_path, "labtui validate --fix") as other:
            screen._look_again()  # the screen's 10 s timer, the store unchanged
            await settle(pilot)
            assert text_of(app, "#lock").startswith(
                f"⚠ the store is being written by labtui validate --fix (pid {other.pid} ")
        screen._look_again()
        await settle(pilot)
        assert text_of(app, "#lock") == ""


async def test_chips_filter_and_open_a_history(lab: Lab) -> None:
    app = LabApp(lab.config)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await pilot.press("c")
        await settle(pilot)
        assert isinstance(app.screen, ChipsScreen)
        assert column(app, "chip_name") == ["Alisson67", "Alisson71", "other71"]
        await pilot.press("7", "1")
        assert column(app, "chip_name") == ["Alisson71", "other71"]
        await pilot.press("down", "enter")  # one down, open
        await settle(pilot)
        assert isinstance(app.screen, HistoryScreen)
        assert (app.screen.group, app.screen.number) == ("other", 71)
        assert column(app, "source_file") == ["2025-10-14/IVg2025-10-14_2.csv"]
        await pilot.press("escape")
        assert isinstance(app.screen, ChipsScreen)
        # esc clears the filter first, as in a history; then it leaves (it left with the filter kept)
        await pilot.press("escape")
        assert isinstance(app.screen, ChipsScreen) and column(app, "chip_name") == ["Alisson67", "Alisson71", "other71"]
        await pilot.press("escape")
        assert isinstance(app.screen, DashboardScreen)


async def test_a_filter_that_hides_the_highlighted_chip_highlights_its_first_match(lab: Lab) -> None:
    """The highlight kept its place in the list when its chip stopped matching: other71 (3rd) highlighted, `a`
    left Alisson67 and Alisson71, and enter opened Alisson71, the 2nd, not the match at the top."""
    app = LabApp(lab.config)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await pilot.press("c")
        await settle(pilot)
        await pilot.press("down", "down")
        assert table(app).row["chip_name"] == "other71"
        await pilot.press("a")
        assert column(app, "chip_name") == ["Alisson67", "Alisson71"]
        assert table(app).row["chip_name"] == "Alisson67"
        await pilot.press("down", "space", "7")  # `a 7`: the highlighted chip still matches, the highlight stays
        assert table(app).row["chip_name"] == "Alisson71"
        await pilot.press("enter")
        await settle(pilot)
        assert (app.screen.group, app.screen.number) == ("Alisson", 71)


async def test_an_empty_chip_list_says_why(lab: Lab, tmp_path: Path) -> None:
    """A lab without runs, or a filter matching no chip, showed the column titles over an empty list: nothing said
    whether the chips were still loading, missing, or filtered out."""
    for config, typed, said_first in (
        (Lab(tmp_path / "empty").config, "", "no chips yet: the store holds no runs (s on the dashboard stages"),
        (lab.config, "xyz", "no chip matches “xyz”"),  # quoted as the line below the list says it
    ):
        app = LabApp(config)
        async with app.run_test(size=(100, 30)) as pilot:
            await settle(pilot)
            await pilot.press("c", *typed)
            await settle(pilot)
            assert table(app).render_line(1).text.strip().startswith(said_first)
            if typed:  # matches again: the rows, not the words
                await pilot.press(*["backspace"] * len(typed))
                await settle(pilot)
                assert table(app).render_line(1).text.split()[0] == column(app, "chip_name")[0]


async def test_screens_opened_and_closed_all_day_leave_no_widgets_behind(lab: Lab) -> None:
    """Each screen closed left its header on the app, and each return to the dashboard its footer's old keys on the
    footer (Textual keeps a watcher's widget until the watched value is set): widgets grew with every screen."""
    app = LabApp(lab.config)

    def alive() -> Counter[str]:
        gc.collect()
        return Counter(type(node).__name__ for node in gc.get_objects() if isinstance(node, Widget))

    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        before = alive()
        for _ in range(3):
            await pilot.press("c")
            await settle(pilot)
            await pilot.press("escape")
            await settle(pilot)
        after = alive()
        assert isinstance(app.screen, DashboardScreen)
        assert (after["Header"], after["FooterKey"]) == (before["Header"], before["FooterKey"])


async def test_c_a_chip_and_enter_typed_at_once_open_that_chip(lab: Lab) -> None:
    """`c71⏎` in one burst (a fast typist, tmux send-keys): the digits reached the dashboard, not the chips' filter,
    and the enter opened the first chip (Alisson67), or nothing before the chips were read."""
    app = LabApp(lab.config)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        for key in ("c", "7", "1", "enter"):
            app.post_message(events.Key(key, None if key == "enter" else key))
        await wait_until(pilot, lambda: isinstance(app.screen, HistoryScreen), timeout=10)
        assert (app.screen.group, app.screen.number) == ("Alisson", 71)


async def test_a_chip_typed_and_enter_at_once_in_the_open_chips_list_open_that_chip(lab: Lab) -> None:
    """In the chips list, `71⏎` in one burst (tmux send-keys, a fast typist): the enter reached its binding before
    the filter field's Changed messages, and opened the chip highlighted before the digits (Alisson67)."""
    app = LabApp(lab.config)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await pilot.press("c")
        await settle(pilot)
        assert isinstance(app.screen, ChipsScreen) and column(app, "chip_name")[0] == "Alisson67"
        for key in ("7", "1", "enter"):
            app.post_message(events.Key(key, None if key == "enter" else key))
        await wait_until(pilot, lambda: isinstance(app.screen, HistoryScreen), timeout=10)
        assert (app.screen.group, app.screen.number) == ("Alisson", 71)


async def test_history_filters_by_procedure_light_and_text(lab: Lab) -> None:
    app = LabApp(lab.config)
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(pilot)
        await open_chip(pilot, "67")
        assert column(app, "seq") == [1, 2, 3, 4]
        await pilot.press("t")  # procedures cycle: all → IVg → It
        await settle(pilot)
        assert column(app, "proc") == ["IVg"]
        await pilot.press("t", "l")  # It, light only
        await settle(pilot)
        assert column(app, "seq") == [2, 3]
        await pilot.press("slash", *"anneal", "enter")
        await settle(pilot)
        assert column(app, "seq") == [3]  # seq keeps the numbering of the whole history
        assert "1 of 4 runs" in text_of(app, "#status")
        assert app.screen.focused is table(app)
        await pilot.press("slash", *"qqq", "enter", "p", "Y")  # nothing matches: p and Y say so, not doing nothing
        await settle(pilot)
        assert column(app, "seq") == [] and [note.message for note in said(app)].count(  # the filters in force, named
            "no run in view: no run matches proc: It · 💡 light · text: “qqq” (/ t l S change the filters)") == 2
        assert not any("copied" in note.message for note in said(app))  # not "copied 0 rows as TSV"
        await pilot.press("slash", "escape")  # esc clears the filter, back on the runs (enter kept it)
        await settle(pilot)
        assert column(app, "seq") == [2, 3] and app.screen.focused is table(app)
        assert app.screen.query_one("#filter", Input).value == ""
        # a selection a filter hides stays (the actions apply to it): `a` twice clears it too, not only the runs shown
        await pilot.press("space", "slash", *"anneal", "enter")  # seq 2 selected, then seq 3 alone in view
        await settle(pilot)
        assert column(app, "seq") == [3] and "1 selected (1 not in view)" in text_of(app, "#status")
        await pilot.press("a")
        assert "2 selected (1 not in view)" in text_of(app, "#status")
        await pilot.press("a")
        assert "selected" not in text_of(app, "#status") and not table(app).selected
        assert said(app)[-1].message == "unselected 2 runs, 1 of them not in view"
        await pilot.press("escape")  # from the runs: back to the chips
        assert isinstance(app.screen, ChipsScreen)


async def test_an_empty_history_view_says_why(lab: Lab) -> None:
    """A view without a row showed the column titles over nothing, as a chip without runs would: the table now
    says which filters match no run, or that the runs they match are all excluded (X shows them)."""
    ivg = lab.manifest().filter((pl.col("chip_number") == 67) & (pl.col("proc") == "IVg"))
    annotate(lab.config.store_root, ivg, [Change("exclude", "contact lost")], author="bo")
    app = LabApp(lab.config)
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(pilot)
        await open_chip(pilot, "67")
        await pilot.press("slash", *"qqq", "enter")
        await settle(pilot)
        assert table(app).render_line(1).text.strip().startswith("no run matches text: “qqq” (/ t l S change")
        await pilot.press("slash", *["backspace"] * 3, "enter", "t")  # IVg: its one run is excluded
        await settle(pilot)
        assert table(app).render_line(1).text.strip() == (
            "every run in this view is excluded (1 excluded run hidden): X shows them")
        await pilot.press("X")
        await settle(pilot)
        assert column(app, "proc") == ["IVg"] and table(app).render_line(1).text.split()[0] == "1"


async def test_keys_typed_right_after_slash_reach_the_filter(lab: Lab) -> None:
    """A burst (a fast typist, tmux send-keys) is dispatched before the focus would move if `/` were not a
    priority key; inside the field `/` is text."""
    app = LabApp(lab.config)
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(pilot)
        await open_chip(pilot, "67")
        for character in "/after/x":
            app.post_message(events.Key("slash" if character == "/" else character, character))
        await wait_until(pilot, lambda: app.screen.query_one("#filter").value == "after/x", timeout=10)


async def test_keys_pressed_while_a_history_loads_wait_for_its_runs(lab: Lab) -> None:
    """The chip's runs are read in a thread: `a`, `p`, `y` or a sort pressed at once on opening the history (a large
    chip reads for a moment) crashed the app on the empty frame before them. Now they do nothing until then."""
    app = LabApp(lab.config)
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(pilot)
        app.push_screen(HistoryScreen("Alisson", 67))
        await pilot.press("a", "y", "O", "slash", *"ivg")  # the first at least is handled before the runs are read
        await settle(pilot)
        assert app.is_running and isinstance(app.screen, HistoryScreen)
        assert column(app, "proc") == ["IVg"]  # the filter typed meanwhile applies


async def test_history_sorts_and_reverses(lab: Lab) -> None:
    app = LabApp(lab.config)
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(pilot)
        await open_chip(pilot, "67")
        await pilot.press("O")
        await settle(pilot)
        assert column(app, "seq") == [4, 3, 2, 1]
        header = table(app).render_line(0).text
        assert "seq ↓" in header and "↑" not in header  # the sorted column's header says so
        await pilot.press("o")  # a list of the columns, the current one highlighted and its order said
        await settle(pilot)
        choices = app.screen.query_one(OptionList)
        assert choices.highlighted == 0 and str(choices.get_option_at_index(0).prompt) == "seq ↓"
        await pilot.press("j", "down", "enter")  # seq → date → proc, ascending
        await settle(pilot)
        assert column(app, "proc") == ["IVg", "It", "It", "It"]
        # on its first row: kept on its run (seq 4), the cursor showed the end of the order, where runs without
        # the sorted quantity are (sorted by responsivity, a screen of blanks)
        assert table(app).cursor == 0 and table(app).row["seq"] == 1
        assert "sort: proc ↑" in text_of(app, "#status")
        header = table(app).render_line(0).text
        assert "proc ↑" in header and "seq ↓" not in header
        await pilot.press("o", "enter")  # the current column again: the other way
        await settle(pilot)
        assert column(app, "proc") == ["It", "It", "It", "IVg"] and "sort: proc ↓" in text_of(app, "#status")
        await pilot.press("o", "escape")  # nothing chosen: as it was
        await settle(pilot)
        assert isinstance(app.screen, HistoryScreen) and "sort: proc ↓" in text_of(app, "#status")
        await pilot.press("o", *"jjj", "enter")  # light, done, then the marks: fixed width, widened for its arrow
        await settle(pilot)
        assert "★⊘#✎ ↑" in table(app).render_line(0).text


async def test_a_history_opened_again_is_as_it_was_left_but_for_its_filters_and_selection(lab: Lab) -> None:
    """Back on the chips and into the same history, its sort and cursor were gone. They are kept for the session;
    its filters are not (a history that opened filtered would hide runs without a word), nor its selection: `*` on
    the run under the cursor starred the runs selected on an earlier visit, which `u` could not undo."""
    app = LabApp(lab.config)
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(pilot)
        await open_chip(pilot, "67")
        await pilot.press("O", "space", "t")  # seq ↓, the cursor's run (seq 1) selected; IVg only
        await settle(pilot)
        await pilot.press("t")  # It only
        await settle(pilot)
        await pilot.press("down")  # the cursor on seq 3
        await settle(pilot)
        assert column(app, "seq") == [4, 3, 2] and table(app).row["seq"] == 3
        await pilot.press("escape")
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
        assert column(app, "seq") == [4, 3, 2, 1] and table(app).row["seq"] == 3
        assert table(app).selected == set() and "selected" not in text_of(app, "#status")
        assert "sort: seq ↓" in text_of(app, "#status") and "proc" not in text_of(app, "#status")


async def test_a_click_on_a_column_title_sorts_by_it(lab: Lab) -> None:
    """Clicked, a title sorts by its column, the pinned ones and those scrolled sideways alike; again, the other
    way. The time sorts as the date does; a text column says it does not sort."""
    app = LabApp(lab.config)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await open_chip(pilot, "67")
        runs = table(app)

        async def click(title: str) -> None:
            header = runs.render_line(0).text
            await pilot.click(runs, offset=(header.index(title) + 1, 0))
            await settle(pilot)

        await click("proc")
        assert column(app, "proc") == ["IVg", "It", "It", "It"] and "sort: proc ↑" in text_of(app, "#status")
        await click("proc")
        assert "sort: proc ↓" in text_of(app, "#status")
        await click("time")
        assert "sort: date ↑" in text_of(app, "#status")
        await pilot.press(*["right"] * 12)  # far to the right: the pinned seq stays, the others have moved
        await settle(pilot)
        await click("information")
        assert "sort: information ↑" in text_of(app, "#status")
        await click("seq")
        assert "sort: seq ↑" in text_of(app, "#status")
        await click("tags")
        assert "sort: seq ↑" in text_of(app, "#status")
        assert any("tags column does not sort" in str(note.message) for note in said(app))


async def test_history_select_copy_and_plot(lab: Lab) -> None:
    noted = lab.manifest().filter(pl.col("source_file") == "2025-10-13/It2025-10-13_2.csv")
    annotate(lab.config.store_root, noted, [Change("note", "=1+1")], author="bo")  # a formula, for a spreadsheet
    app = LabApp(lab.config)
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(pilot)
        await open_chip(pilot, "67")
        await pilot.press("y")  # nothing selected: the row under the cursor
        assert app.clipboard == str(lab.config.raw_root / "2025-10-13/IVg2025-10-13_1.csv")
        await pilot.press("j", "space")  # space selects the run under the cursor, which stays there
        assert table(app).row["seq"] == 2 and "1 selected" in text_of(app, "#status")
        await pilot.press("space")  # and unselects it
        assert table(app).row["seq"] == 2 and "selected" not in text_of(app, "#status")
        await pilot.press("space", "j", "space")  # select seq 2 and 3
        await pilot.press("t")  # IVg only: the It runs stay selected, and the status line says they are
        await settle(pilot)
        assert "2 selected (2 not in view)" in text_of(app, "#status")
        await pilot.press("t")  # filter to It: the selection survives the filter
        await settle(pilot)
        assert "2 selected ·" in text_of(app, "#status")
        await pilot.press("y")
        assert app.clipboard.splitlines() == [str(lab.config.raw_root / name) for name in (
            "2025-10-13/It2025-10-13_2.csv", "2025-10-13/It2025-10-13_3.csv")]
        await pilot.press("Y")
        header, *rows = app.clipboard.splitlines()
        assert header.startswith("seq\tdate\ttime_hms\tproc") and [row.split("\t")[0] for row in rows] == ["2", "3"]
        assert header.endswith("\tcnp_v\tdelta_i_a\tdelta_i_rel\tpower_w\tresponsivity_a_per_w\tstarred\texcluded"
                               "\texclude_reason\ttags\tnote")  # what the table shows, not only the manifest's
        assert rows[0].endswith("\t'=1+1")  # neutralised, as in every CSV labtui writes
        expected = table(app).frame.filter(pl.col("seq").is_in([2, 3]))["run_id"].to_list()
        history_screen = app.screen
        for _ in range(3):  # `p p p` typed ahead: all three handled before the first plot opens
            history_screen.action_plot()
        await pilot.pause()
        assert isinstance(app.screen, PlotScreen)
        assert app.screen.runs["run_id"].to_list() == expected and app.screen.runs["seq"].to_list() == [2, 3]
        await settle(pilot)
        assert sum(isinstance(screen, PlotScreen) for screen in app.screen_stack) == 1
        await pilot.press("escape")
        history_screen.action_trends()
        history_screen.action_trends()
        await settle(pilot)
        assert sum(type(screen).__name__ == "TrendsScreen" for screen in app.screen_stack) == 1


async def test_history_detail_shows_every_manifest_field(lab: Lab) -> None:
    app = LabApp(lab.config)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await open_chip(pilot, "67")
        await pilot.press("j", "enter")
        assert isinstance(app.screen, FieldsDialog)
        body = dialog_text(app)
        for name in read_manifest(lab.config.manifest_path).columns:
            if name != "parameters":
                assert name in body
        assert "Laser ON+OFF period" in body  # the header parameters, spelled out
        await pilot.pause()
        box = app.screen.query_one("#dialog")
        width, height = box.outer_size
        edge = "".join(segment.text for segment in box.render_lines(Region(0, height - 1, width, 1))[0])
        assert "esc close" in edge  # in view: below the fields, it was scrolled out of it
        await pilot.press("escape")
        assert isinstance(app.screen, HistoryScreen)


async def test_a_runs_parameters_a_hand_edit_garbled_are_said_in_its_detail(lab: Lab) -> None:
    """The manifest's `parameters` edited into text that is not JSON: enter on the run ended the app in a
    traceback. The detail says so where the header's values would be, and how to read them again."""
    manifest = read_manifest(lab.config.manifest_path)
    first = manifest.filter(pl.col("chip_number") == 67).sort("start_time_utc")["source_file"][0]
    manifest.with_columns(parameters=pl.when(pl.col("source_file") == first).then(pl.lit('{"VG": "0.3 V"'))
                          .otherwise("parameters")).write_parquet(lab.config.manifest_path)
    app = LabApp(lab.config)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await open_chip(pilot, "67")
        await pilot.press("enter")
        assert isinstance(app.screen, FieldsDialog)
        body = " ".join(dialog_text(app).split())
        assert "not readable from the manifest ('{\"VG\": \"0.3 V\"')" in body
        assert f"labtui restage --force {first}" in body


async def test_the_detail_leaves_the_values_most_of_a_narrow_terminal(lab: Lab) -> None:
    """At 80 columns a header's 36-character parameter name took the names' column, leaving the values 30 columns:
    a timestamp broke over two lines, a definition over five. The names get at most two fifths (a longer one wraps)."""
    long_name = {"Sampling time (excluding Keithley)": "0 s"}  # as the real It headers have it
    lab.write("2025-10-15/It2025-10-15_1.csv", raw_csv("It", start=epoch(2025, 10, 15), params=long_name))
    lab.stage()
    app = LabApp(lab.config)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await open_chip(pilot, "67")
        await pilot.press("G", "enter")  # the new run, the last
        assert isinstance(app.screen, FieldsDialog)
        width = app.screen.query_one("#dialog-body").content_region.width
        console = Console(width=width, file=io.StringIO(), record=True)
        console.print(app.screen.body)
        text = console.export_text()
        assert "Sampling time" in text  # the long name is there, wrapped
        stamp = next(line for line in text.splitlines() if line.startswith("start_time_utc"))
        assert stamp.rstrip().endswith("+00:00")  # the whole timestamp on the name's line
        assert stamp.index("20") <= width * 2 // 5 + 2  # the values start within two fifths of the width


def test_a_very_long_field_is_cut_in_the_detail_with_its_length() -> None:
    """A hostile header's 900 kB Information took the dialog 10 s to lay out; the store keeps the whole text."""
    assert field_text(None) == "—" and field_text(0.1) == "0.1"
    assert field_text("x" * SHOWN_CHARACTERS) == "x" * SHOWN_CHARACTERS
    assert field_text("x" * 900_000) == "x" * SHOWN_CHARACTERS + "… (900,000 characters in all)"


@contextlib.asynccontextmanager
async def staged_from_the_app(lab: Lab, size: tuple[int, int]) -> AsyncIterator[tuple[LabApp, Pilot]]:
    """The app at `size`, its stage screen shown once `s` staged the lab."""
    app = LabApp(lab.config)
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        await pilot.press("s")
        await settle(pilot)
        yield app, pilot


async def test_stage_shows_progress_and_a_summary_with_the_rejects(tmp_path: Path) -> None:
    lab = tui_lab(tmp_path, staged=False)
    async with staged_from_the_app(lab, (100, 30)) as (app, pilot):
        assert isinstance(app.screen, StageScreen)
        screen = app.screen
        assert screen.state == "done" and screen.report.staged == 6 and screen.report.rejected == 1
        summary = text_of(app, "#summary")
        assert "6 staged" in summary and REJECT in summary
        log = "\n".join(line.text for line in screen.query_one("#log").lines)
        assert "✔ 2025-10-13/IVg2025-10-13_1.csv" in log and f"✘ {REJECT}" in log
        assert text_of(app, "#numbers").startswith("7 / 7 files")
        await pilot.press("r")  # the summary's way to the rejects, in its place: fixed there, the file left a
        await settle(pilot)  # stage screen behind that still counted it (`v` did nothing there either)
        assert isinstance(app.screen, RejectsScreen) and column(app, "source_file") == [REJECT]
        lab.write(REJECT, fixed_reject())
        await restage_from_the_rejects(app, pilot, REJECT)
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, DashboardScreen) and text_of(app, "#runs").startswith("7")
        assert not any(isinstance(screen, StageScreen) for screen in app.screen_stack)


async def test_the_stage_screen_says_which_runs_write_their_chip_otherwise(tmp_path: Path) -> None:
    """Which runs of a chip typed two ways are the odd ones is known once the stage's runs are all read: said at
    the end of the stage's log, after each file's line, the typo's run and not the right ones."""
    lab = Lab(tmp_path, workers=1)
    for index, group in enumerate(("alisson", "Alisson", "Alisson"), start=1):
        lab.write(f"2025-10-15/It2025-10-15_{index}.csv", raw_csv("It", start=epoch(2025, 10, 15, 10 + index),
                                                                  params={"Chip group name": group}))
    async with staged_from_the_app(lab, (100, 30)) as (app, _):
        assert isinstance(app.screen, StageScreen) and app.screen.state == "done"
        log = " ".join(" ".join(line.text.split()) for line in app.screen.query_one("#log").lines)  # lines unwrapped
        note = ("⚠ 2025-10-15/It2025-10-15_1.csv chip alisson67: the chip is written 'Alisson67' in the store's other "
                "runs (typed in another way? two histories): correct its 'Chip group name'")
        assert note in log and log.count("typed in another way") == 1
        assert log.index(note) > log.index("✔ 2025-10-15/It2025-10-15_3.csv")


async def test_a_stage_that_finds_no_raw_file_says_where_it_looked(tmp_path: Path) -> None:
    """An empty raw folder (or the wrong one) staged to `Done: 0 staged, 0 unchanged, …` and nothing more, where
    `labtui stage` asks whether it is the raw folder."""
    lab = Lab(tmp_path / "empty")
    async with staged_from_the_app(lab, (100, 30)) as (app, _):
        assert isinstance(app.screen, StageScreen) and app.screen.state == "done"
        summary = " ".join(text_of(app, "#summary").split())
        assert f"No raw files (*.csv) in {lab.config.raw_root}: is it the raw folder?" in summary
        assert "--raw-root DIR" in summary


async def test_files_read_again_for_an_edited_registry_are_said_so_on_the_stage_screen(tmp_path: Path) -> None:
    """The app's summary was its own copy of the command line's, without `(… read again by newer rules)`: after a
    registry edit a stage re-read every file of a procedure and said they were staged, as if new. The dashboard's
    card called them `new or changed` before."""
    lab = tui_lab(tmp_path)
    registry = tmp_path / "procedures.yaml"
    step = "      VG step: {field: vg_step_v, unit: V, minimum: -1100, maximum: 1100}\n"  # IVg's alone (in a
    # line of its own: IVgT's and VVg's share theirs)
    assert default_registry_path().read_text().count(step) == 1
    registry.write_text(default_registry_path().read_text().replace(step, step.replace("1100}", "1000}")))
    lab.configure(procedures_file=registry)
    ivg = lab.manifest().filter(pl.col("proc") == "IVg").height
    lab.write("2025-10-20/It2025-10-20_1.csv", raw_csv("It", start=epoch(2025, 10, 20)))  # one new file besides
    app = LabApp(lab.config)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        # and the reject, judged by another registry
        assert text_of(app, "#waiting") == f"{ivg + 2}\n{ivg} by newer rules"
        assert f"{ivg} by newer rules" in drawn(app.screen.query_one("#waiting"))  # whole at 80 columns
    async with staged_from_the_app(lab, (100, 30)) as (app, _):
        assert isinstance(app.screen, StageScreen) and app.screen.state == "done"
        assert f"{ivg + 1} staged ({ivg} read again by newer rules)" in " ".join(text_of(app, "#summary").split())


async def test_the_stage_log_wraps_its_lines_at_its_width_and_again_after_a_resize(tmp_path: Path) -> None:
    """Textual's log renders at 78 columns at least (at 80×24 the ends of long lines hid past its right edge), and
    wraps a line once, at the width it is written at (narrowed, the lines ran past the edge; widened, they stayed
    broken). At each size the log holds the same words, every line within the width of the moment."""
    lab = tui_lab(tmp_path, staged=False)
    async with staged_from_the_app(lab, (80, 24)) as (app, pilot):
        log = app.screen.query_one("#log", RichLog)
        assert log.scrollable_content_region.width < 78 and log.max_scroll_x == 0
        words = [word for line in log.lines for word in line.text.split()]
        assert REJECT in " ".join(words)
        at_80 = len(log.lines)
        for size in ((140, 30), (60, 30), (80, 24)):
            await pilot.resize_terminal(*size)
            await settle(pilot)
            width = log.scrollable_content_region.width
            assert all(line.cell_length <= width for line in log.lines) and log.max_scroll_x == 0, size
            assert [word for line in log.lines for word in line.text.split()] == words, size
            assert (len(log.lines) > at_80) == (size[0] == 60), size  # the reject's reason on two lines at 60 only


async def test_the_stage_log_keeps_the_line_read_at_its_top_after_a_resize_and_follows_only_at_its_end(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """After a resize the log jumped back to its end: a reject's reason scrolled up to was gone. The line read stays
    at the top, at the new wrapping, and a new line neither moves it nor is followed; at the end the log follows.
    Written again 5 lines a batch, the line read comes in a later batch, first with too few lines below it."""
    monkeypatch.setattr(WrappedLog, "REWRAP_BATCH", 5)
    lab = tui_lab(tmp_path, staged=False)
    for n in range(40):
        lab.write(f"2025-10-20/It2025-10-20_{n + 1}.csv", raw_csv("It", start=epoch(2025, 10, 20, 10, n)))
    async with staged_from_the_app(lab, (80, 24)) as (app, pilot):
        log = app.screen.query_one("#log", WrappedLog)

        async def resize(size: tuple[int, int]) -> None:
            await pilot.resize_terminal(*size)
            await wait_until(pilot, lambda: not log.pending)
            await settle(pilot)

        def top() -> str:
            return log.lines[log.scroll_offset.y].text

        await settle(pilot)
        assert log.is_vertical_scroll_end and log.max_scroll_y  # the summary below took rows: the last line in view
        read = next(y for y, line in enumerate(log.lines) if line.text.startswith(f"✘ {REJECT}"))
        assert WrappedLog.REWRAP_BATCH < read < log.max_scroll_y  # after the first batch, above the last screen
        log.scroll_to(y=read, animate=False)
        await pilot.pause()
        for size in ((140, 30), (60, 30), (80, 24)):
            await resize(size)
            assert top().startswith(f"✘ {REJECT}") and not log.is_vertical_scroll_end, size
        log.write(Text("a new line"))
        await settle(pilot)
        assert top().startswith(f"✘ {REJECT}"), "a new line moved the line read"
        log.scroll_end(animate=False, immediate=True)
        for size in ((140, 30), (60, 30)):
            await resize(size)
            # its last batch scrolls to the end once drawn (RichLog's `scroll_end` after a refresh)
            await wait_until(pilot, lambda: log.is_vertical_scroll_end, timeout=5, what=f"the end in view at {size}")
            assert log.lines[-1].text.startswith("a new line"), size
        log.write(Text("one more"))
        await settle(pilot)
        assert log.is_vertical_scroll_end and log.lines[-1].text.startswith("one more")


async def test_a_refused_stage_says_why_and_stops_its_progress_bar(tmp_path: Path) -> None:
    """A raw root the store was not built from (not where it was relative to the store): the reason in a dialog, the
    screen says nothing more was committed, and its progress bar no longer pulses."""
    lab = tui_lab(tmp_path / "lab")
    elsewhere = tmp_path / "elsewhere-raw"
    shutil.copytree(lab.raw, elsewhere)
    lab.configure(raw_root=elsewhere)
    app = LabApp(lab.config)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await pilot.press("s")
        await settle(pilot)
        assert isinstance(app.screen, ErrorDialog)
        assert "was built from the raw root" in dialog_text(app) and "--raw-root-moved" in dialog_text(app)
        await pilot.press("escape")
        screen = app.screen
        assert isinstance(screen, StageScreen) and screen.state == "done"
        assert text_of(app, "#notice").startswith("Staging failed") and not screen.query_one(ProgressBar).display


async def test_a_damaged_manifest_is_said_by_validate_and_by_a_stage_each_time(tmp_path: Path) -> None:
    """The validate screen said "validating…" for ever (its worker's error went to a dialog shown once), and a
    stage said "Staging failed" with no reason once that dialog had been seen."""
    lab = tui_lab(tmp_path / "lab")
    lab.config.manifest_path.write_bytes(lab.config.manifest_path.read_bytes()[:100])
    app = LabApp(lab.config)
    async with app.run_test(size=(100, 30)) as pilot:
        await close_errors(app, pilot)  # the start-up's word on it
        await pilot.press("v")
        await wait_until(pilot, lambda: isinstance(app.screen, ValidateScreen) and app.screen.report is not None)
        assert [f.code for f in app.screen.report.findings][:1] == ["manifest_unreadable"]
        assert "problems" in text_of(app, "#summary")
        tree = app.screen.query_one("#findings")  # Enter on the finding's item: it read the manifest, a traceback
        tree.select_node(next(node for severity in tree.root.children for finding in severity.children
                              for node in finding.children if node.data is not None))  # the rejected file
        await settle(pilot)
        assert app.is_running
        await close_errors(app, pilot)
        assert isinstance(app.screen, ValidateScreen)
        await pilot.press("escape", "s")
        await close_errors(app, pilot)
        assert isinstance(app.screen, StageScreen)
        assert text_of(app, "#notice").startswith("Staging failed: ") and "labtui repair" in text_of(app, "#notice")


async def test_a_manifest_damaged_while_the_app_runs_leaves_no_number_of_before_on_the_dashboard(
        tmp_path: Path) -> None:
    """The cards kept the counts of before, "nothing new" and "✔ healthy" with four files waiting, the latest runs
    and the Dirac points too, once the dialog was seen: all said unreadable now, the validation run again; back
    once `labtui repair` mends it."""
    lab = tui_lab(tmp_path / "lab")
    app = LabApp(lab.config)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        whole = lab.config.manifest_path.read_bytes()
        lab.config.manifest_path.write_bytes(whole[:100])
        app.check_store()
        await wait_until(pilot, lambda: isinstance(app.screen, ErrorDialog))
        await pilot.press("escape")
        await settle(pilot)
        assert text_of(app, "#runs") == "damaged\nlabtui repair"
        assert text_of(app, "#waiting") == text_of(app, "#chips") == "?\nno manifest to read"
        assert [app.screen.query_one(f"#{name}", FrameTable).frame.height for name in ("latest", "dirac")] == [0, 0]
        await wait_until(pilot, lambda: text_of(app, "#validation").startswith("✘"))
        assert lab.cli("repair").returncode == 0
        app.check_store()
        await wait_until(pilot, lambda: text_of(app, "#runs").startswith(str(lab.manifest().height)))
        assert app.screen.query_one("#latest", FrameTable).frame.height > 0


async def test_a_damaged_metrics_table_leaves_a_history_its_runs_and_says_why_their_values_are_blank(
        tmp_path: Path) -> None:
    """Every history opened empty (no row, no status line) once the dialog on a damaged metrics table was seen: the
    manifest was whole, only the table derived from it was cut."""
    lab = tui_lab(tmp_path / "lab")
    lab.config.metrics_path.write_bytes(lab.config.metrics_path.read_bytes()[:200])
    app = LabApp(lab.config)
    async with app.run_test(size=(80, 24)) as pilot:
        await close_errors(app, pilot)  # the start-up's word on it
        await open_chip(pilot, "67")
        assert table(app).frame.height == lab.manifest().filter(pl.col("chip_number") == 67).height > 0
        status = text_of(app, "#status")
        assert status.startswith("⚠ metrics table damaged (labtui metrics --rebuild): no derived values · "), status
        await pilot.press("enter")  # the run's detail says it where its values stand
        assert isinstance(app.screen, FieldsDialog)
        assert "derived the metrics table is damaged: `labtui metrics --rebuild` recomputes it" in " ".join(
            dialog_text(app).split())


async def test_a_staging_that_failed_shows_no_rate_eta_nor_count_of_it(tmp_path: Path) -> None:
    """After "Staging failed: cannot write Parquet into …", the screen kept "6 files/s · ETA 8 s" and "staged 1",
    which was not committed (the retry staged every file)."""
    lab = tui_lab(tmp_path, staged=False)
    (lab.config.manifest_dir).mkdir(parents=True, exist_ok=True)
    (lab.config.manifest_dir / "tmp").write_text("a file where the staging area's folder goes")
    app = LabApp(lab.config)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await pilot.press("s")
        await wait_until(pilot, lambda: any(isinstance(screen, StageScreen) and screen.state == "done"
                                            for screen in app.screen_stack))
        await close_errors(app, pilot)
        assert text_of(app, "#notice").startswith("Staging failed: cannot make the folder ")  # it named none
        assert text_of(app, "#numbers") == ""


def gated_lab(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, files: int) -> tuple[Lab, threading.Event]:
    """A lab of `files` It runs to stage, whose staging waits in its chunks in flight until the gate is set (up to
    5 s): a staging the test catches while it runs."""
    lab = tui_lab(tmp_path, staged=False, commit_interval_seconds=0.01)
    for n in range(files):
        lab.write(f"2025-10-20/It2025-10-20_{n + 1}.csv", raw_csv("It", start=epoch(2025, 10, 20, 10, n)))
    slow_parse = labtui.core.datablock.parse_many
    gate = threading.Event()

    def parse(*args: object):
        gate.wait(5)
        return slow_parse(*args)

    monkeypatch.setattr(labtui.core.datablock, "parse_many", parse)  # the stager imports it per chunk
    return lab, gate


async def start_staging(app: LabApp, pilot: Pilot) -> StageScreen:
    """`s` on the dashboard: the stage screen, its staging running."""
    await settle(pilot)
    await pilot.press("s")
    screen = app.screen
    assert isinstance(screen, StageScreen) and screen.running
    return screen


async def test_escape_cancels_staging_cleanly(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    lab, gate = gated_lab(tmp_path, monkeypatch, 40)
    app = LabApp(lab.config)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await start_staging(app, pilot)
        await pilot.press("escape")
        assert screen.state == "cancelling" and screen.cancel.is_set()
        gate.set()
        await settle(pilot)
        report = screen.report
        assert screen.state == "done" and report.cancelled and report.staged < 46
        assert "Cancelled" in text_of(app, "#summary")
        assert read_manifest(lab.config.manifest_path).height == report.staged  # what was committed is valid
        await pilot.press("escape")
        assert isinstance(app.screen, DashboardScreen)


async def test_q_while_staging_asks_first(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`q`, meant to close a screen, stopped a stage at 27 % at once. While a staging runs it asks: n stays (the
    staging goes on), q again quits."""
    lab, gate = gated_lab(tmp_path, monkeypatch, 10)
    app = LabApp(lab.config)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await start_staging(app, pilot)
        await pilot.press("q")  # no settling: it waits for the staging, which waits for the test
        await wait_until(pilot, lambda: isinstance(app.screen, QuitWhileStaging))
        assert app.is_running
        await pilot.press("n")
        await wait_until(pilot, lambda: app.screen is screen)
        assert screen.running and not screen.cancel.is_set()
        await pilot.press("q", "q")
        await wait_until(pilot, lambda: app.return_code is not None)
        gate.set()
    deadline = time.monotonic() + 30
    while lock_state(lab.config.lock_path)[0] and time.monotonic() < deadline:  # the staging stops, then lets go
        time.sleep(0.05)
    committed = read_manifest(lab.config.manifest_path).height if lab.config.manifest_path.exists() else 0
    report = lab.stage()  # what it committed stays valid; the next stage does the rest
    assert committed + report.staged + report.rejected == len(list(lab.raw.rglob("*.csv"))) and report.staged >= 1


@pytest.mark.parametrize("wait_first", [True, False])
async def test_stage_while_another_writer_holds_the_lock_offers_to_wait(lab: Lab, wait_first: bool) -> None:
    """w waits for the lock; pressed after the writer is gone, it stages at once. The screen says when the writer is
    done: "The store is being written by …" stayed after that writer had finished, until w was pressed."""
    lab.write("2025-10-15/IVg2025-10-15_1.csv", raw_csv("IVg", start=epoch(2025, 10, 15)))
    lock = WriterLock(lab.config.lock_path, command="labtui stage --force")
    lock.acquire(0)
    app = LabApp(lab.config)
    try:
        async with app.run_test(size=(100, 30)) as pilot:
            await settle(pilot)
            await pilot.press("s")
            await settle(pilot)
            screen = app.screen
            assert isinstance(screen, StageScreen) and screen.state == "locked"
            assert "labtui stage --force" in text_of(app, "#notice")
            if wait_first:
                await pilot.press("w")
                await wait_until(pilot, lambda: screen.state == "running")  # waiting for the lock, not failing
            lock.release()
            if not wait_first:
                await wait_until(pilot, lambda: text_of(app, "#notice").startswith("✔ The other writer is done."))
                lock.acquire(0)  # another writer since: said again
                await wait_until(pilot, lambda: text_of(app, "#notice").startswith("⚠ The store is being written"))
                lock.release()
                await wait_until(pilot, lambda: text_of(app, "#notice").startswith("✔ The other writer is done."))
                await pilot.press("w")
            await wait_until(pilot, lambda: screen.state == "done")
            assert screen.report is not None and screen.report.staged == 1
    finally:
        lock.release()


async def test_a_lock_whose_holder_has_not_written_its_note_is_still_said_held(lab: Lab) -> None:
    """A holder that has the lock but no note yet (`read_holder` None) is "another labtui process", not a free lock,
    also after the screen looks again (it said "✔ The other writer is done." a second later, the lock still held)."""
    import fcntl

    lab.config.lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lab.config.lock_path, "w") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        app = LabApp(lab.config)
        async with app.run_test(size=(100, 30)) as pilot:
            await settle(pilot)
            await pilot.press("s")
            await settle(pilot)
            assert isinstance(app.screen, StageScreen) and app.screen.state == "locked"
            assert text_of(app, "#notice").startswith("⚠ The store is being written by another labtui process.")
            await pilot.pause(3 * LOCK_POLL_SECONDS)
            assert text_of(app, "#notice").startswith("⚠ The store is being written by another labtui process.")


async def open_rejects(app: LabApp, pilot: Pilot) -> None:
    """From the dashboard, `r`: the rejects screen, listing the lab's one reject."""
    await settle(pilot)
    await pilot.press("r")
    await settle(pilot)
    assert isinstance(app.screen, RejectsScreen) and column(app, "source_file") == [REJECT]


async def test_the_rejects_pane_shows_the_offending_line_under_the_reason(lab: Lab) -> None:
    """At 80×24 the pane showed the file's first lines: the offending one, 45 lines down, only by scrolling."""
    lines = raw_csv("It").splitlines(keepends=True)
    lines[44] = b"abc,def,ghi\r\n"
    lab.write("2025-10-13/It2025-10-13_9.csv", b"".join(lines))
    lab.stage()
    app = LabApp(lab.config)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("r")
        await settle(pilot)
        table(app).cursor = column(app, "source_file").index("2025-10-13/It2025-10-13_9.csv")
        await settle(pilot)
        assert "(line 45)" in text_of(app, "#reason")
        detail = app.screen.query_one("#detail")
        row = [line.strip() for line in text_of(app, "#excerpt").split("\n")].index("45 abc,def,ghi")
        assert 0 < detail.scroll_y <= row < detail.scroll_y + detail.scrollable_content_region.height
        table(app).cursor = column(app, "source_file").index(REJECT)  # no line: the pane shows the top
        await settle(pilot)
        assert detail.scroll_y == 0


async def test_restage_a_fixed_reject_moves_it_into_the_history(lab: Lab) -> None:
    app = LabApp(lab.config)
    async with app.run_test(size=(100, 30)) as pilot:
        await open_rejects(app, pilot)
        assert "no start time" in text_of(app, "#reason")
        assert "#Procedure: <laser_setup.procedures.It.It>" in text_of(app, "#excerpt")
        await pilot.press("r")  # not fixed yet: still rejected, still listed
        await settle(pilot)
        assert column(app, "source_file") == [REJECT]
        lab.write(REJECT, fixed_reject())
        await pilot.press("r")
        await settle(pilot)
        assert column(app, "source_file") == []
        assert load_rejects(lab.config.rejects_dir) == {}
        await pilot.press("escape")
        await open_chip(pilot, "67")
        assert REJECT in column(app, "source_file")


async def test_a_write_while_another_writer_holds_the_store_is_said_once_in_the_clis_words(lab: Lab) -> None:
    """The re-stage and the stage screen fail at once (the door never waits unasked); the app says who holds the
    store in a notification, not a dialog, with the line `labtui restage` would print."""
    lab.write(REJECT, fixed_reject())
    lock = WriterLock(lab.config.lock_path, command="labtui stage --force")
    app = LabApp(lab.config)
    try:
        async with app.run_test(size=(100, 30)) as pilot:
            await settle(pilot)
            await pilot.press("r")
            await settle(pilot)
            lock.acquire(0)
            await pilot.press("r")
            await settle(pilot)
            busy = [n for n in app._notifications if n.title == "Store busy"]
            assert len(busy) == 1 and busy[0].message.startswith("labtui: the store is being written by labtui stage")
            assert isinstance(app.screen, RejectsScreen) and column(app, "source_file") == [REJECT]
            lock.release()
            await pilot.press("r")
            await settle(pilot)
            assert column(app, "source_file") == []
    finally:
        lock.release()


def cut_short(lab: Lab, rows: int, mtime: float | None = None) -> dict[str, Any]:
    """The store's IVg run, its file cut to `rows` data rows and staged: a `cut_short` reject."""
    run = read_manifest(lab.config.manifest_path).filter(pl.col("proc") == "IVg").row(0, named=True)
    write_cut(lab, run["source_file"], rows, mtime)
    assert [record.kind for record in lab.stage().new_rejects] == ["cut_short"]
    return run


def write_cut(lab: Lab, source_file: str, rows: int | None, mtime: float | None = None) -> None:
    """The raw file as first written (`TUI_RUNS`), cut to its first `rows` data rows (None: whole)."""
    lines = TUI_RUNS[source_file].splitlines(keepends=True)
    data_at = next(number for number, line in enumerate(lines) if line.startswith(b"#Data:"))
    lab.write(source_file, b"".join(lines if rows is None else lines[:data_at + 2 + rows]), mtime)


async def restage_from_the_rejects(app: LabApp, pilot: Any, source_file: str) -> None:
    """`r` on the reject of `source_file`, in the reject review."""
    if not isinstance(app.screen, RejectsScreen):
        await pilot.press("r")
        await settle(pilot)
    table(app).cursor = column(app, "source_file").index(source_file)
    await pilot.press("r")
    await settle(pilot, rounds=5)


async def test_restaging_a_file_cut_short_asks_before_its_complete_run_is_replaced(lab: Lab) -> None:
    """`r` takes a file as it is: for one cut short since staged that replaces a staged run whose rows are in no
    raw file now, so the app asks; `n` keeps the run, `y` stages what is left."""
    run = cut_short(lab, 5)
    app = LabApp(lab.config)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await restage_from_the_rejects(app, pilot, run["source_file"])
        assert isinstance(app.screen, ConfirmDialog)
        await pilot.press("n")
        await settle(pilot)
        assert run["source_file"] in column(app, "source_file")
        assert lab.run_of(run["source_file"])["n_rows"] == run["n_rows"]
        await pilot.press("R", "y")  # all: the same question
        await settle(pilot, rounds=5)
        assert isinstance(app.screen, StageScreen)
    assert lab.run_of(run["source_file"])["n_rows"] == 5


async def test_a_file_restored_since_it_was_found_cut_short_is_restaged_without_asking(lab: Lab) -> None:
    """The question told the user to restore the file, which they had done: a file changed since its reject is no
    longer known to be cut, and `r` stages it as it is."""
    run = cut_short(lab, 5)
    write_cut(lab, run["source_file"], None, time.time() - 540)  # restored (a copy: a new mtime)
    app = LabApp(lab.config)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await restage_from_the_rejects(app, pilot, run["source_file"])
        assert not isinstance(app.screen, ConfirmDialog)
        assert run["source_file"] not in column(app, "source_file")
        assert lab.run_of(run["source_file"])["n_rows"] == run["n_rows"]
        cut_short(lab, 5, time.time() - 480)  # (written 30 s ago or less, a file cut short is busy: being saved?)
        write_cut(lab, run["source_file"], 6, time.time() - 420)  # copied again, cut again
        app.check_store()
        await settle(pilot)
        await restage_from_the_rejects(app, pilot, run["source_file"])  # judged again: refused again, not taken
        assert not isinstance(app.screen, ConfirmDialog) and run["source_file"] in column(app, "source_file")
        assert lab.run_of(run["source_file"])["n_rows"] == run["n_rows"]
        write_cut(lab, run["source_file"], None, time.time() - 360)  # restored again: R, as r, asks nothing
        app.check_store()
        await settle(pilot)
        await pilot.press("R")
        await settle(pilot, rounds=5)
        assert isinstance(app.screen, StageScreen) and app.screen.report is not None
    assert lab.run_of(run["source_file"])["n_rows"] == run["n_rows"]
    assert run["source_file"] not in {record.source_file for record in lab.rejects().values()}


async def test_a_stage_with_nothing_new_says_so_not_a_rate_never_known(lab: Lab) -> None:
    """A stage that read no file showed `— files/s` and "553 raw files: 0 to read, 553 skipped" beside its tally."""
    app = LabApp(lab.config)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await pilot.press("s")
        await wait_until(pilot, lambda: isinstance(app.screen, StageScreen) and app.screen.state == "done")
        screen = app.screen
        staged = lab.manifest().height
        assert text_of(app, "#numbers").startswith(f"{staged + 1} / {staged + 1} files · nothing to read\n")
        log = "\n".join(line.text for line in screen.query_one("#log").lines)
        assert f"0 to read; {staged} unchanged; 1 rejected before, unchanged" in log


async def test_restage_all_rejects_shows_progress(lab: Lab) -> None:
    lab.write(REJECT, fixed_reject())
    app = LabApp(lab.config)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await pilot.press("r")
        await settle(pilot)
        await pilot.press("R")
        await settle(pilot)
        assert isinstance(app.screen, StageScreen) and app.screen.report.staged == 1
        assert text_of(app, "#numbers").startswith("1 / 1 file · ")  # `1 / 1 files`, and `1 files/s`:
        assert Pace(clock=iter([0.0, 1.0]).__next__).text(1, 1) == "1 file/s · ETA 0 s"  # its rate, one a second
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, RejectsScreen) and column(app, "source_file") == []
        # no file to act on: r, R and o are not offered (they did nothing, and said nothing)
        assert not any(app.screen.check_action(action, ()) for action in ("restage", "restage_all", "edit"))


async def test_edit_suspends_the_app_and_runs_the_editor(lab: Lab, monkeypatch: pytest.MonkeyPatch) -> None:
    ran: list[list[str]] = []
    suspended: list[bool] = []

    @contextlib.contextmanager
    def suspend():
        suspended.append(True)
        yield

    monkeypatch.setenv("EDITOR", "nano -w")
    monkeypatch.delenv("VISUAL", raising=False)
    monkeypatch.setattr(subprocess, "run", lambda args, **kw: ran.append(args))
    app = LabApp(lab.config)
    monkeypatch.setattr(app, "suspend", suspend)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await pilot.press("r")
        await settle(pilot)
        await pilot.press("o")
        await settle(pilot)
    assert suspended == [True]
    assert ran == [["nano", "-w", str(lab.config.raw_root / REJECT)]]


async def test_an_editor_that_cannot_start_gives_the_app_back(lab: Lab, monkeypatch: pytest.MonkeyPatch) -> None:
    """`EDITOR=code` without VS Code: the error left Textual's `suspend`, which then never resumed (a blank app,
    deaf to every key until Ctrl+C). The stand-in resumes as Textual's does: only when its block ends cleanly."""
    resumed: list[bool] = []

    @contextlib.contextmanager
    def suspend():
        yield
        resumed.append(True)

    monkeypatch.setenv("EDITOR", "/nonexistent/editor --wait")
    monkeypatch.delenv("VISUAL", raising=False)
    app = LabApp(lab.config)
    monkeypatch.setattr(app, "suspend", suspend)
    async with app.run_test(size=(100, 30)) as pilot:
        await open_rejects(app, pilot)
        await pilot.press("o")
        await settle(pilot)
        assert resumed == [True]
        assert any("cannot start /nonexistent/editor" in str(n.message) for n in app._notifications)


@pytest.mark.parametrize(("visual", "editor", "chosen"), [("", 'vim "', ['vim "']), ("  ", "nano -w", ["nano", "-w"])])
def test_an_editor_variable_with_an_open_quote_or_blank_is_no_crash(monkeypatch: pytest.MonkeyPatch, visual: str,
                                                                     editor: str, chosen: list[str]) -> None:
    """`EDITOR='vim "'` crashed the app on `o` (shlex's ValueError), a blank `VISUAL` too (an empty command): the
    first is taken whole, to be said as a command that cannot start; a blank one counts as unset."""
    monkeypatch.setenv("VISUAL", visual)
    monkeypatch.setenv("EDITOR", editor)
    assert choose_editor() == (chosen, False)


def parquet_of_row(lab: Lab, row: dict[str, Any]) -> Path:
    return run_parquet_path(lab.config.stage_root, row["proc"], row["date_local"], row["run_id"])


async def open_validate(app: LabApp, pilot: Pilot) -> ValidateScreen:
    """From the dashboard, `v`: the validate screen, its report in."""
    await settle(pilot)
    await pilot.press("v")
    await settle(pilot)
    assert isinstance(app.screen, ValidateScreen) and app.screen.report is not None
    return app.screen


async def test_validate_shows_findings_jumps_and_applies_fixes(lab: Lab) -> None:
    run = read_manifest(lab.config.manifest_path).filter(pl.col("source_file") == "2025-10-13/It2025-10-13_3.csv")
    row = run.row(0, named=True)
    parquet_of_row(lab, row).unlink()
    app = LabApp(lab.config)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_validate(app, pilot)
        assert not screen.report.ok
        assert "1 error," in text_of(app, "#summary")
        tree = screen.query_one("#findings")
        assert "parquet file is missing" in str(tree.cursor_node.label).lower()
        await pilot.press("enter")  # expand the finding; its items follow the fix line
        await pilot.press("j", "j", "enter")
        await settle(pilot)
        assert isinstance(app.screen, HistoryScreen)
        assert table(app).row["run_id"] == row["run_id"]  # the cursor is on the run
        await pilot.press("escape")
        await pilot.press("f")
        assert isinstance(app.screen, ConfirmDialog)
        asked = dialog_text(app)  # the fix as this screen does it, not the command line's
        assert "(`f` here)" in asked and "labtui validate --fix" not in asked
        await pilot.press("y")
        await settle(pilot, rounds=5)
        assert app.screen is screen and screen.report.ok
        assert app.last_validation is screen.report
        await pilot.press("escape")
        await settle(pilot)
        assert text_of(app, "#validation").startswith("✔ healthy")


async def test_the_validation_card_of_a_lab_not_staged_yet_says_what_to_stage(tmp_path: Path) -> None:
    """It read "no store yet / 2 warnings, 0 info": its two warnings are that very fact and the files to stage."""
    lab = tui_lab(tmp_path, staged=False)
    app = LabApp(lab.config)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        assert app.last_validation is not None and app.last_validation.no_store
        assert text_of(app, "#validation").split("\n") == ["no store yet", f"{len(TUI_RUNS)} raw files to stage"]


async def test_the_deep_check_finds_a_damaged_data_page_the_quick_one_cannot(lab: Lab) -> None:
    row = read_manifest(lab.config.manifest_path).filter(pl.col("proc") == "It").row(0, named=True)
    damage_a_data_page(parquet_of_row(lab, row), 60)
    app = LabApp(lab.config)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_validate(app, pilot)
        assert screen.report is not None and screen.report.ok
        assert "d checks deeper" in text_of(app, "#summary")
        await pilot.press("d")
        await wait_until(pilot, lambda: "deep check (every raw file hashed" in text_of(app, "#summary"))
        errors = [finding for finding in screen.report.findings if finding.severity == "error"]
        assert [finding.code for finding in errors] == ["parquet_unreadable"] and row["run_id"] in errors[0].items[0]


async def test_the_deep_check_keeps_the_findings_the_user_opened_open(lab: Lab) -> None:
    """`d` rebuilt the tree with every finding closed: the one being read had to be found and opened again."""
    app = LabApp(lab.config)
    async with app.run_test(size=(120, 30)) as pilot:
        screen = await open_validate(app, pilot)
        tree = screen.query_one("#findings")
        assert "rejected raw files" in str(tree.cursor_node.label) and not tree.cursor_node.is_expanded
        await pilot.press("enter")  # opens it
        await pilot.pause()
        before = screen.report
        await pilot.press("d")
        await wait_until(pilot, lambda: screen.report is not before and "deep check" in text_of(app, "#summary"))
        await settle(pilot)
        assert "rejected raw files" in str(tree.cursor_node.label) and tree.cursor_node.is_expanded
        assert [node.is_expanded for node in tree.codes] == [code == "rejects" for code in tree.codes.values()]


@pytest.mark.parametrize("width", [80, 200])
async def test_a_findings_line_the_tree_cuts_off_is_shown_whole_below_it(lab: Lab, width: int) -> None:
    """At 80 columns a reject's reason does not fit its line: it ends in "…", and the highlighted line is shown in
    full under the tree (and nothing is, where the line fits)."""
    app = LabApp(lab.config)
    async with app.run_test(size=(width, 24)) as pilot:
        tree = (await open_validate(app, pilot)).query_one("#findings")
        assert "rejected raw files" in str(tree.cursor_node.label)
        await pilot.press("enter", "j", "j")  # the finding, its fix, its first item
        await pilot.pause()
        item = str(tree.cursor_node.label)
        assert item.startswith(REJECT) and len(item) > 80 - 8
        whole = app.screen.query_one("#whole-line")
        assert whole.display is (width == 80)
        drawn = tree.render_line(tree.cursor_line - int(tree.scroll_y)).text.rstrip()
        assert drawn.endswith("…") is (width == 80)  # a cut line says so (cut mid-word, it read as complete)
        if whole.display:
            assert text_of(app, "#whole-line") == item
            await pilot.resize_terminal(200, 24)  # now it fits
            await pilot.pause()
            assert not whole.display
        await pilot.press("k")  # the fix line: a command in it is set apart, not quoted in backticks
        await pilot.pause()
        assert "`" not in str(tree.cursor_node.label) and "labtui restage FILE" in str(tree.cursor_node.label)


async def test_the_fix_key_with_nothing_to_fix_says_so(lab: Lab) -> None:
    app = LabApp(lab.config)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_validate(app, pilot)
        assert screen.report is not None and not screen.report.fixable
        await pilot.press("f")
        await settle(pilot)
        assert app.screen is screen  # no confirmation: there is nothing to confirm
        assert said(app)[-1].message.startswith("nothing to fix: no finding here has a safe fix")


async def test_store_changes_reach_every_open_screen(lab: Lab) -> None:
    app = LabApp(lab.config)
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(pilot)
        await open_chip(pilot, "67")
        assert len(column(app, "seq")) == 4
        lab.write("2025-10-15/It2025-10-15_1.csv", raw_csv("It", start=epoch(2025, 10, 15)))
        lab.stage()  # as `labtui stage` in another terminal would
        app.check_store()  # what the app's poll timer does every few seconds
        await settle(pilot)
        assert column(app, "seq") == [1, 2, 3, 4, 5]
        await pilot.press("escape")
        await settle(pilot)
        assert table(app).frame.filter(pl.col("chip_name") == "Alisson67")["n_runs"].item() == 5


async def test_a_failing_worker_shows_an_error_dialog(lab: Lab, monkeypatch: pytest.MonkeyPatch) -> None:
    app = LabApp(lab.config)

    def broken() -> None:
        raise RuntimeError("the disk went away")

    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        monkeypatch.setattr(app.store, "chips", broken)
        await pilot.press("c")
        await settle(pilot)
        assert isinstance(app.screen, ErrorDialog)
        assert "RuntimeError: the disk went away" in dialog_text(app)
        await pilot.press("escape")
        assert isinstance(app.screen, ChipsScreen)  # still running, back where it was


async def test_keys_are_remapped_from_the_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    lab = tui_lab(tmp_path, keys={"chips": "x", "plot": "P", "nonsense": "z", "chip": "y"})
    app = LabApp(lab.config)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        # the unknown ones first, and where the known are: all 50 listed, it was taller than the screen
        assert [n.message for n in said(app) if n.message.startswith("config keys")] == [
            "config keys: unknown actions chip (chips?), nonsense: ? lists each screen's keys with their action ids"]
        assert app.screen.query_one("#chips").border_subtitle == "x →"
        await pilot.press("c")
        assert isinstance(app.screen, DashboardScreen)
        await pilot.press("x")
        assert isinstance(app.screen, ChipsScreen)


async def test_a_remapped_key_that_another_action_of_its_screen_has_is_said(tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """`stage: r` took the dashboard's `r` from Rejects without a word (Rejects left the footer, and `r` staged):
    the app says which key is taken from which action, as it says an unknown action."""
    monkeypatch.chdir(tmp_path)
    lab = tui_lab(tmp_path, keys={"stage": "r", "chips": "x"})
    app = LabApp(lab.config)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        warnings = [n.message for n in said(app) if n.message.startswith("config keys")]
        # the dashboard's own: stage is not an every-screen key, so Rejects' `r` (re-stage) is no conflict
        assert warnings == ["config keys: stage → r is also the key of rejects: give one of them another key"]


async def test_help_lists_the_screen_keys_and_the_palette_runs_them(lab: Lab) -> None:
    app = LabApp(lab.config)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        app.notify("undone: excluded: bad contact")  # a toast covered the help's keys at 80×24
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpDialog) and not app._notifications
        body = dialog_text(app)
        for description in ("Chips", "Rejects", "Validate", "Stage", "Quit"):
            assert description in body
        assert re.search(r"Chips +chips\b", body) and REMAP_HINT in body  # the ids `keys:` remaps by
        await pilot.press("escape", "ctrl+p")
        await pilot.press(*"Rejects")
        commands = app.screen.query_one(CommandList)

        def offered() -> bool:  # the palette searches in the background
            return bool(commands.option_count) and "Rejects" in str(commands.get_option_at_index(0).prompt)

        await wait_until(pilot, offered)
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, RejectsScreen)
        await pilot.press("escape", "c")
        await settle(pilot)
        await pilot.press("question_mark")
        body = dialog_text(app)
        assert "Open history" in body and "Delete" not in body  # the filter field's editing keys are not listed
        # what to type is set apart, not quoted in backticks
        assert "(e.g. alis 67; esc clears it" in body and "`" not in body
        assert body.index("Open history") < body.index("Quit")  # the screen's own keys first
        screen = app.screen_stack[-2]
        titles = {command.title for command in app.get_system_commands(screen)}
        assert {"Open history", "Trends", "Theme"} <= titles and not titles & {"Keys", "Delete left", "Maximize"}
        assert {"Stage", "Watch", "Quit"} <= titles  # keys the filter field takes as text: the palette has them
        assert {"Rejects", "Validate"} <= titles  # the dashboard's tasks, from every screen
        assert "palette" not in titles  # ctrl+p's own entry, in the palette, only opened the palette again


async def test_the_palette_opens_each_chips_history_and_trends_from_any_screen(lab: Lab) -> None:
    """Only the chips list led to a chip's history and trends: from another chip's history, the way was back to the
    dashboard and through the list. The palette finds them by the chip's number."""
    from labtui.tui.trends import TrendsScreen

    app = LabApp(lab.config)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_chip(pilot, "67")
        await pilot.press("ctrl+p", *"71")
        commands = app.screen.query_one(CommandList)

        def offered() -> list[str]:  # the palette searches in the background
            return [str(commands.get_option_at_index(index).prompt).splitlines()[0]
                    for index in range(commands.option_count)]

        await wait_until(pilot, lambda: {"History · other71", "Trends · other71"} <= set(offered()))
        await pilot.press(*["down"] * offered().index("Trends · other71"), "enter")
        await settle(pilot)
        assert isinstance(app.screen, TrendsScreen) and app.screen.title == "Trends · other71"
        history = next(command for command in app.get_system_commands(app.screen)
                       if command.title == "History · Alisson67")
        history.callback()
        await settle(pilot)
        assert isinstance(app.screen, HistoryScreen) and app.screen.title == "History · Alisson67"


async def test_ctrl_c_says_how_to_quit_in_words_not_markup(lab: Lab) -> None:
    """Textual's note for ctrl+c is markup, shown as typed by the app's plain notifications: `Press [b]ctrl+q[/b]`."""
    app = LabApp(lab.config)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+c")
        await settle(pilot)
        said = [str(note.message) for note in app._notifications if note.title == "Do you want to quit?"]
        assert said == ["press q or ^q to quit labtui"]


async def test_stage_is_the_dashboards_key_not_a_slip_beside_historys_starred(lab: Lab) -> None:
    """`s` staged from every screen: in a history, a slip on `S` (starred runs only) threw the user onto the stage
    screen. It is the dashboard's key now, and the palette's everywhere, where a table's moves no longer bury it."""
    app = LabApp(lab.config)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await open_chip(pilot, "67")
        history = app.screen
        assert isinstance(history, HistoryScreen)
        await pilot.press("s")
        await settle(pilot)
        assert app.screen is history
        commands = list(app.get_system_commands(history))
        assert not {command.title for command in commands} & {"Column left", "First row", "Page up", "Next table"}
        stage = next(command for command in commands if command.title == "Stage")
        assert stage.help == "key: dashboard: s"
        await stage.callback()
        await settle(pilot)
        assert isinstance(app.screen, StageScreen)


async def test_rejects_help_offers_no_enter_that_does_nothing(lab: Lab) -> None:
    """The rejects table listed Textual's `⏎ Open` in the help (every FrameTable has it), and enter there did
    nothing: the pane already shows the file; `o` opens it in the editor."""
    app = LabApp(lab.config)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_rejects(app, pilot)
        await pilot.press("question_mark")
        body = dialog_text(app)
        assert "Edit ($EDITOR)" in body and "Re-stage file" in body
        assert "Open" not in body
        await pilot.press("escape", "escape", "c")
        await settle(pilot)
        await pilot.press("question_mark")
        assert "Open history" in dialog_text(app)  # a table whose enter opens something keeps it


def test_help_sets_what_to_type_apart_from_the_prose() -> None:
    text = help_text("Type to filter (e.g. `alis 67`); see `labtui metrics`.")
    assert text.plain == "Type to filter (e.g. alis 67); see labtui metrics."
    code = [text.plain[span.start : span.end] for span in text.spans if span.style == "not italic bold"]
    assert code == ["alis 67", "labtui metrics"] and text.style == "italic"


async def test_theme_toggles_between_dark_and_light(lab: Lab) -> None:
    app = LabApp(lab.config)
    async with app.run_test(size=(100, 30)) as pilot:
        assert app.theme == "textual-dark"
        await pilot.press("ctrl+t")
        assert app.theme == "textual-light"


def footer_keys_whole(footer: Widget) -> bool:
    """Every key the footer shows ends left of the palette's, and the first one it hides would not have."""
    *keys, palette = footer.query("FooterKey")
    shown = [key for key in keys if key.visible]
    hidden = keys[len(shown):]
    return (all(key.region.right <= palette.region.x for key in shown) and not any(key.visible for key in hidden)
            and (not hidden or (shown[-1].region.right if shown else 0) + hidden[0].render().cell_len
                 > palette.region.x))


async def test_the_footer_keeps_its_keys_whole_through_a_resize_and_under_the_palette(lab: Lab) -> None:
    """A footer recomposed under the command palette, or resized, showed keys cut (`t Proc`), or left hidden the
    keys a wider terminal had room for; the plot's, measured before its new keys had their style, ended in `? He`."""
    app = LabApp(lab.config)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await open_chip(pilot, "67")
        footer = app.screen.query_one("Footer")
        await pilot.press("ctrl+p")
        await settle(pilot)
        assert footer_keys_whole(footer)
        await pilot.press("escape")
        for size in ((120, 30), (200, 50), (80, 24)):
            await pilot.resize_terminal(*size)
            await settle(pilot)
            assert footer_keys_whole(footer), size
        await pilot.press("a", "p")  # a plot of both procedures: its keys come with its first drawing
        await settle(pilot)
        assert isinstance(app.screen, PlotScreen) and footer_keys_whole(app.screen.query_one("Footer"))


@pytest.mark.parametrize("size", [(80, 24), (200, 60)])
async def test_screens_fit_the_terminal(lab: Lab, size: tuple[int, int]) -> None:
    """Nothing is cut off: every screen's footer is on the last line, each key it shows whole (`t Proc` ended the
    history's at 80 columns), and its main widget has room."""
    app = LabApp(lab.config)
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        for keys in ((), ("c",), ("6", "7", "enter"), ("escape", "escape", "r"), ("escape", "v")):
            await pilot.press(*keys)
            await settle(pilot)
            footer = app.screen.query_one("Footer")
            assert footer.region.y == size[1] - 1 and footer.region.width == size[0]
            assert footer_keys_whole(footer), keys
            for widget in app.screen.query("FrameTable, #findings, #cards"):
                # a hidden widget needs no room (the dashboard's Dirac panel on 24 rows)
                assert not widget.display or (widget.region.height >= 4 and widget.region.right <= size[0])
