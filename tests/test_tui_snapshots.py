"""Screenshots (SVG) of every screen at fixed sizes on the deterministic lab; `--snapshot-update` rewrites them.

Times on screen are frozen: ingest and reject times by the fixture, the staging clock here.
"""

from __future__ import annotations

import concurrent.futures
from pathlib import Path

import pytest
from syrupy.extensions.single_file import SingleFileSnapshotExtension, WriteMode
from textual.widgets import Input

import labtui.core.stager
import labtui.tui.stage
from labtui.tui.app import LabApp
from tests.lab import tui_lab
from tests.pilot import settle


class SVGSnapshot(SingleFileSnapshotExtension):
    file_extension = "svg"
    _write_mode = WriteMode.TEXT


@pytest.fixture
def svg(snapshot):
    return snapshot.use_extension(SVGSnapshot)


@pytest.fixture
def lab_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)  # paths on screen are relative to the working folder: identical in every run
    monkeypatch.setattr(labtui.tui.stage, "clock", lambda: 0.0)
    return tmp_path


SCREENS = {  # name: keys from the dashboard
    "dashboard": (),
    "chips_filtered": ("c", "7"),
    "history": ("c", "6", "7", "enter", "j", "space", "j", "space"),
    "history_detail": ("c", "6", "7", "enter", "j", "enter"),
    "history_annotated": ("c", "6", "7", "enter", "asterisk", "j", "n", "o", "k", "enter", "O"),
    "rejects": ("r",),
    "validate": ("v",),
    "help": ("question_mark",),
}


async def screenshot(app: LabApp, keys: tuple[str, ...], size: tuple[int, int]) -> str:
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        for key in keys:
            await pilot.press(key)
            await settle(pilot)
        for field in app.screen.query(Input):
            field.cursor_blink = False
        await pilot.pause()
        return app.export_screenshot()


@pytest.mark.parametrize("name", SCREENS)
async def test_screen(name: str, lab_root: Path, svg) -> None:
    app = LabApp(tui_lab(lab_root).config)
    assert await screenshot(app, SCREENS[name], (100, 30)) == svg


@pytest.mark.parametrize("size", [(80, 24), (200, 60)])
@pytest.mark.parametrize("name", ["dashboard", "history", "rejects"])
async def test_screen_at_the_size_limits(name: str, size: tuple[int, int], lab_root: Path, svg) -> None:
    app = LabApp(tui_lab(lab_root).config)
    assert await screenshot(app, SCREENS[name], size) == svg


async def test_stage_summary(lab_root: Path, svg, monkeypatch: pytest.MonkeyPatch) -> None:
    def in_submission_order(futures, return_when):
        """The engine books finished files as a set; for a stable log, finish them all and in order."""
        done, pending = concurrent.futures.wait(futures, return_when=concurrent.futures.ALL_COMPLETED)
        return [future for future in futures if future in done], pending

    monkeypatch.setattr(labtui.core.stager, "wait", in_submission_order)
    app = LabApp(tui_lab(lab_root, staged=False).config)
    assert await screenshot(app, ("s",), (100, 30)) == svg


async def test_light_theme(lab_root: Path, svg) -> None:
    app = LabApp(tui_lab(lab_root).config)
    assert await screenshot(app, ("ctrl+t", "c", "6", "7", "enter"), (100, 30)) == svg
