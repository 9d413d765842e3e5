"""`labtui --demo`, and plain `labtui` without lab data: the app opens on the built-in demo lab and stages it.

The app is built by the function the command line uses (`build_app`), then driven with `run_test`, which needs no
terminal.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from labtui.cli import CommandUsage, build_parser
from labtui.cli.tui import build_app
from labtui.synth import LabSpec
from labtui.synth.demo import ensure_demo
from labtui.tui.dashboard import DashboardScreen
from labtui.tui.stage import StageScreen
from tests.lab import raw_csv
from tests.pilot import said, settle

SMALL = LabSpec(chips=2, days=2, seed=3)


@pytest.fixture
def demo_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty working folder (no config, no data) and the demo cache in the test's own folder."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("LABTUI_CONFIG", raising=False)
    monkeypatch.setenv("LABTUI_DEMO_DIR", str(tmp_path / "demo"))
    return tmp_path / "demo"


def app_for(*argv: str):
    return build_app(build_parser().parse_args(list(argv)))


async def test_demo_opens_on_the_dashboard_and_stages_there(demo_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    app = app_for("--demo")
    assert app.config.raw_root == demo_dir / "data" / "01_raw" and not app.config.manifest_path.exists()
    assert "writing the demo lab into" in capsys.readouterr().err  # seconds before the app can draw: said first
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot, rounds=6)
        screen = app.screen
        assert isinstance(screen, DashboardScreen) and not screen.staging
        assert not any(isinstance(s, StageScreen) for s in app.screen_stack)
        messages = [notification.message for notification in said(app)]
        assert any("The demo lab: synthetic runs in" in message for message in messages)
        staged = next(message for message in messages if " runs staged" in message)
        assert "r shows why" in staged  # the demo's irregularities
        assert int(str(screen.query_one("#runs").render()).split()[0]) == int(staged.split()[0]) > 100

    second = app_for("--demo")  # a second start stages nothing new, and says nothing about it
    async with second.run_test(size=(100, 30)) as pilot:
        await settle(pilot, rounds=6)
        assert isinstance(second.screen, DashboardScreen)
        assert not any(" runs staged" in notification.message for notification in said(second))


async def test_plain_labtui_without_lab_data_says_in_the_app_that_it_opens_the_demo(
    demo_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ensure_demo(demo_dir, SMALL)  # generated once; later starts reuse it
    app = app_for()
    assert app.config.raw_root == demo_dir / "data" / "01_raw" and app.stage_on_start
    assert capsys.readouterr().err == ""  # printed before the app starts, it would be seen only after quitting
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        assert any("no store yet, so this is the demo lab" in notification.message
                   for notification in said(app))


@pytest.mark.parametrize("argv", [("tui",), ("--watch",)])
def test_an_empty_lab_opens_as_it_is_when_asked_for(argv: tuple[str, ...], demo_dir: Path) -> None:
    app = app_for(*argv)
    assert app.config.raw_root == demo_dir.parent / "data" / "01_raw" and not app.stage_on_start
    assert not demo_dir.exists()


@pytest.mark.parametrize("option", ["--store", "--raw-root", "--stage-root"])
def test_a_lab_named_on_the_command_line_opens_even_empty(option: str, demo_dir: Path) -> None:
    """`labtui --store /tmp/empty` opened the demo lab, saying "no raw CSV file in data/01_raw": not the folder
    named. A lab named by an option is the one asked for, as `labtui tui` opens the configured one."""
    named = demo_dir.parent / "named"
    named.mkdir()
    app = app_for(option, str(named))
    assert not app.stage_on_start and not demo_dir.exists()
    assert named in (app.config.store_root, app.config.raw_root, app.config.stage_root)


def test_a_lab_with_raw_files_opens_without_a_store(demo_dir: Path) -> None:
    raw = demo_dir.parent / "data" / "01_raw" / "2025-10-14"
    raw.mkdir(parents=True)
    (raw / "It2025-10-14_1.csv").write_bytes(raw_csv("It"))
    app = app_for()
    assert app.config.raw_root == raw.parent and not app.stage_on_start


@pytest.mark.parametrize(("holds", "error", "message"), [
    ("notes.txt", CommandUsage, "is not empty (it holds notes.txt)"),
    (None, CommandUsage, "cannot write the demo lab into"),  # $LABTUI_DEMO_DIR names a file: the user's mistake
])
def test_a_demo_folder_that_cannot_take_the_lab_is_said_by_name(demo_dir: Path, holds: str | None,
                                                               error: type[Exception], message: str) -> None:
    """Both were `labtui: operating-system error…`, the second naming a folder inside the demo lab, not the file."""
    if holds is None:
        demo_dir.write_text("")
    else:
        demo_dir.mkdir()
        (demo_dir / holds).write_text("")
    with pytest.raises(error) as raised:
        app_for("--demo")
    assert message in str(raised.value) and str(demo_dir) in str(raised.value)
