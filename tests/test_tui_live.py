"""The live lab in the TUI: watching stages new runs into the open screens, `f` follows the run being measured.

The watcher runs on its own thread, as in the app, but on the test's clock (`WatcherTime`): a run settles when the
test says so, however long a loaded machine takes to draw or export meanwhile. Each test waits for what it expects
(the watcher's polls, the screens' updates) instead of sleeping.
"""

from __future__ import annotations

import time
from pathlib import Path

import polars as pl
import pytest
from textual.pilot import Pilot

import labtui.tui.app
import labtui.tui.follow
from labtui.core.manifest import read_manifest
from labtui.core.watch import Watcher, WatchEvent
from labtui.tui.app import LabApp
from labtui.tui.dashboard import DashboardScreen
from labtui.tui.follow import FollowScreen
from labtui.tui.history import HistoryScreen
from labtui.tui.live import Watched
from labtui.tui.table import FrameTable
from tests.lab import Lab, epoch, it_rows, raw_csv, tui_lab
from tests.pilot import said, wait_until

NEW = "2025-10-15/It2025-10-15_1.csv"
WATCH = {"watch_settle_seconds": 1.0, "watch_poll_seconds": 0.1}


class RecordingApp(LabApp):
    """Keeps every watch event (Textual calls the handlers of every class in the MRO: no super call here)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.events: list[WatchEvent] = []

    def on_watched(self, message: Watched) -> None:
        self.events.append(message.event)


@pytest.fixture
def lab(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Lab:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(labtui.tui.app, "STORE_POLL_SECONDS", 3600.0)  # only the watcher may refresh the screens
    monkeypatch.setattr(labtui.tui.follow, "FOLLOW_SECONDS", 0.1)
    return tui_lab(tmp_path, **WATCH)


SETTLE = WATCH["watch_settle_seconds"]


class WatcherTime:
    """The running watcher's wall clock, frozen until the test advances it, and the number of polls it finished."""

    def __init__(self, watcher: Watcher) -> None:
        self.now, self.polls = time.time(), 0
        poll = watcher.poll

        def counted() -> list[WatchEvent]:
            events = poll()
            self.polls += 1
            return events

        watcher.wall = lambda: self.now
        watcher.poll = counted  # type: ignore[method-assign]

    def advance(self, seconds: float) -> None:
        self.now += seconds

    async def polled(self, pilot: Pilot, times: int = 2) -> None:
        """Wait until the watcher finished `times` more polls: two, and one of them began after the caller's change."""
        target = self.polls + times
        await wait_until(pilot, lambda: self.polls >= target, what=f"{times} polls of the watcher")


def history(app: LabApp) -> list[str]:
    if not isinstance(app.screen, HistoryScreen):
        return []
    frame = app.screen.query_one(FrameTable).frame  # before its runs are read: an empty frame of no columns
    return frame["source_file"].to_list() if "source_file" in frame.columns else []


def runs_of(lab: Lab, source_file: str) -> pl.DataFrame:
    return read_manifest(lab.config.manifest_path).filter(pl.col("source_file") == source_file)


def staged(lab: Lab, source_file: str) -> int:
    return runs_of(lab, source_file).height


def append(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "ab") as handle:
        handle.write(data)


def pieces(data: bytes, n: int) -> list[bytes]:
    """The file as the acquisition writes it: the header with a few rows, then rows, cut anywhere."""
    first = data.index(b"\r\n", data.index(b"t (s)")) + 2 + 100
    size = -(-(len(data) - first) // (n - 1))
    return [data[:first], *(data[at : at + size] for at in range(first, len(data), size))]


async def test_a_run_written_in_pieces_is_staged_once_into_the_open_history(lab: Lab) -> None:
    app = RecordingApp(lab.config, watch=True)
    async with app.run_test(size=(120, 30)) as pilot:
        assert app.live.watching and "watching ⟳" in app.sub_title
        clock = WatcherTime(app.live.watcher)
        await pilot.press("c")
        await wait_until(pilot, lambda: app.screen.query(FrameTable) and app.screen.query_one(FrameTable).frame.height)
        await pilot.press(*"67", "enter")
        await wait_until(pilot, lambda: len(history(app)) == 4)
        path = lab.config.raw_root / NEW
        for piece in pieces(raw_csv("It", start=epoch(2025, 10, 15)), 6):
            append(path, piece)
            await clock.polled(pilot)
            clock.advance(0.8 * SETTLE)  # within the settle time of the last piece, not of the first
            await clock.polled(pilot)
            assert staged(lab, NEW) == 0  # never half a run
        clock.advance(SETTLE)  # unchanged for longer than the settle time
        await wait_until(pilot, lambda: NEW in history(app))  # the open history updates by itself, at once
        assert runs_of(lab, NEW)["n_rows"].to_list() == [len(it_rows())]  # all of it
        assert any(NEW in n.message and n.title == "1 run staged" for n in said(app))
        clock.advance(2 * SETTLE)
        await clock.polled(pilot, 3)  # settled long ago: nothing is staged twice
        assert [e.staged for e in app.events if e.kind == "staged"] == [(NEW,)]
        assert history(app).count(NEW) == 1


@pytest.mark.parametrize(("size", "short"), [((80, 24), True), ((120, 40), False)])
async def test_the_dashboard_fits_a_small_terminal_while_watching(lab: Lab, size: tuple[int, int],
                                                                   short: bool) -> None:
    """80×24 gets the compact cards: the whole screen fits with the watcher's line, every latest run of the lab
    (6) is in view and the Dirac points keep a row (6-row cards left 3 latest runs and no Dirac panel)."""
    app = LabApp(lab.config, watch=True)
    async with app.run_test(size=size) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, DashboardScreen) and app.screen.loaded)
        screen = app.screen
        latest, dirac = screen.query_one("#latest", FrameTable), screen.query_one("#dirac", FrameTable)
        await wait_until(pilot, lambda: bool(screen.live_lines) and dirac.row_count > 0)
        await pilot.pause()
        assert screen.has_class("-short") is short
        assert screen.max_scroll_y == 0
        assert latest.row_count == 6 and latest._rows_on_screen >= 6
        assert dirac.display and dirac._rows_on_screen >= 1


async def test_f_follows_the_run_being_measured(lab: Lab) -> None:
    app = LabApp(lab.config, watch=True)
    path = lab.config.raw_root / NEW
    data = pieces(raw_csv("It", start=epoch(2025, 10, 15)), 4)
    async with app.run_test(size=(120, 30)) as pilot:
        clock = WatcherTime(app.live.watcher)  # stands still while the screens draw and export: nothing settles
        await wait_until(pilot, lambda: isinstance(app.screen, DashboardScreen) and app.screen.loaded)
        live = app.screen.query_one("#live")
        assert "watching" in str(live.render())
        await pilot.press("f")  # nothing is being measured yet: said, and the screen stays
        assert isinstance(app.screen, DashboardScreen) and said(app)[-1].message == "no run is being measured"
        append(path, data[0])
        await clock.polled(pilot)
        append(path, data[1])  # seen growing: being measured
        # the dashboard hears of it by a message after `measuring` is set: wait for the line, not for the flag
        await wait_until(pilot, lambda: "measuring now" in str(live.render()))
        assert "measuring now: It2025-10-15_1.csv — Alisson67, λ=455 nm, " in str(live.render())
        assert str(live.render()).endswith("  (f follows it)")
        await pilot.press("f")
        assert isinstance(app.screen, FollowScreen)
        screen = app.screen
        await wait_until(pilot, lambda: screen.spec is not None and screen.spec.series)
        written = screen.rows
        assert 0 < written < len(it_rows())
        assert "It2025-10-15_1.csv — Alisson67" in str(screen.query_one("#plot-status").render())
        append(path, data[2])
        await wait_until(pilot, lambda: screen.rows > written)  # redrawn from the rows written so far
        assert screen.spec.series[0].x.size == screen.rows and screen.title == "Measuring now"
        assert staged(lab, NEW) == 0
        await pilot.press("e")  # what is drawn now, saved as for a staged run
        await wait_until(pilot, lambda: bool(screen.saved))  # matplotlib loads and draws PDF and PNG
        expected = [f"Alisson67_It_2025-10-15_idx1.{ext}" for ext in ("pdf", "png", "csv")]
        assert [path.name for path in screen.saved] == expected
        clock.advance(SETTLE)  # the acquisition stopped: the run is staged as it is, and the screen says so
        await wait_until(pilot, lambda: staged(lab, NEW) == 1 and screen.title.startswith("Measured: "))
        # its progress (`… of 180 s`) read as still going on
        assert "· stopped growing: staged as it is" in str(screen.query_one("#plot-status").render())
        toast = next(n for n in said(app) if n.title == "1 run staged")  # the toast says it is short too
        assert toast.message.startswith(f"{NEW}: ") and "aborted: t (s) spans 2 of 3" in toast.message
        assert toast.severity == "warning"
        await pilot.press("escape")
        assert isinstance(app.screen, DashboardScreen) and screen.cancel.is_set()
        append(path, data[3])  # it wrote on
        await clock.polled(pilot)
        clock.advance(SETTLE)  # the run is over
        await wait_until(pilot, lambda: runs_of(lab, NEW)["n_rows"].to_list() == [len(it_rows())]
                         and "measuring now" not in str(live.render()))


async def test_f_on_a_queued_run_says_queued_as_the_dashboard_does(lab: Lab) -> None:
    """The dashboard said `— queued: its run has not begun`; f on it said `header only: no 'Start time' and no data
    rows (the run was never recorded, or the file was cut)`, the reject's words for a run that will never be."""
    app = LabApp(lab.config, watch=True)
    path = lab.config.raw_root / NEW
    async with app.run_test(size=(120, 30)) as pilot:
        clock = WatcherTime(app.live.watcher)
        await wait_until(pilot, lambda: isinstance(app.screen, DashboardScreen) and app.screen.loaded)
        live = app.screen.query_one("#live")
        append(path, raw_csv("It", start=None, rows=[]))
        await clock.polled(pilot)
        clock.advance(SETTLE + 1)  # settled without a row: waited for, as PyMeasure's queue holds it
        await wait_until(pilot, lambda: "queued" in str(live.render()))
        await pilot.press("f")
        assert isinstance(app.screen, FollowScreen)
        screen = app.screen
        await wait_until(pilot, lambda: "—" in str(screen.query_one("#plot-status").render())
                         and "reading…" not in str(screen.query_one("#plot-status").render()))
        shown = str(screen.query_one("#plot-status").render())
        assert "queued: its run has not begun" in shown and "never recorded" not in shown


async def test_the_watcher_goes_on_polling_while_another_process_stages(lab: Lab) -> None:
    """A `labtui stage` in another terminal held the lock: the app's watcher waited for it inside a poll (up to
    `lock_timeout_seconds`, 3 minutes), and the measuring line froze with it. Its polls go on now; the lock is said
    once, and the run is staged by the first poll after the lock is free."""
    from labtui.core.lock import WriterLock

    app = LabApp(lab.config, watch=True)
    async with app.run_test(size=(120, 30)) as pilot:
        clock = WatcherTime(app.live.watcher)
        await wait_until(pilot, lambda: isinstance(app.screen, DashboardScreen) and app.screen.loaded)
        holder = WriterLock(lab.config.lock_path, command="labtui stage (another terminal)")
        holder.acquire(0)
        try:
            append(lab.config.raw_root / NEW, raw_csv("It", start=epoch(2025, 10, 15)))
            await clock.polled(pilot)
            clock.advance(SETTLE + 1)
            await clock.polled(pilot, 4)  # settled, found locked, and polled on
            assert staged(lab, NEW) == 0
            waits = [n for n in said(app) if "another terminal" in n.message]
            assert len(waits) == 1 and waits[0].severity == "warning"
        finally:
            holder.release()
        await wait_until(pilot, lambda: staged(lab, NEW) == 1)


async def test_watching_survives_a_vanished_folder_and_w_toggles_it(lab: Lab) -> None:
    app = LabApp(lab.config, watch=True)
    raw, away = lab.config.raw_root, lab.config.raw_root.with_name("raw-away")
    async with app.run_test(size=(120, 30)) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, DashboardScreen) and app.screen.loaded)
        live = app.screen.query_one("#live")
        raw.rename(away)  # the network share went away
        await wait_until(pilot, lambda: "not reachable" in str(live.render()))  # the dashboard says it once told
        assert any("not reachable" in n.message and n.severity == "error" for n in said(app))
        away.rename(raw)
        await wait_until(pilot, lambda: app.live.problem is None)
        append(raw / NEW, raw_csv("It", start=epoch(2025, 10, 15)))
        await wait_until(pilot, lambda: staged(lab, NEW) == 1)
        footer = lambda: {a.binding.description for a in app.screen.active_bindings.values()  # noqa: E731
                          if a.binding.key == "w" and a.enabled}
        assert footer() == {"Stop watching"}  # what w will do, in the footer and the help
        await pilot.press("w")
        assert not app.live.watching and "watching" not in app.sub_title and not live.display
        assert footer() == {"Watch"}
        await pilot.press("w")
        assert app.live.watching and live.display
    assert app.live.cancel.is_set()  # quitting stops the watcher
