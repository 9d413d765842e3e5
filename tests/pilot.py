"""Driving the app under `App.run_test`: wait for what a test expects instead of sleeping, and read back what the
app said.

`wait_until` polls a condition between rounds of the app's message loop (no fixed delay), so a test is as fast as
the app and still passes on a loaded machine; `settle` waits for the workers. Notifications expire after their
timeout (5 s by default), and a slow run could look silent: `said` keeps every one an app posted.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable

import pytest
from textual import _wait
from textual.app import App
from textual.notifications import Notification
from textual.pilot import Pilot
from textual.worker import WorkerCancelled

# Textual's pilot waits for the app to go idle after every key and pause: it sleeps 20 ms at a time and calls the
# app idle when less than 1 ms of CPU passed in one. A quarter of each, the same ratio, leaves a test as sure that
# the app is idle and takes a fifth off the app's tests (1,000s of keys pressed).
_wait.SLEEP_GRANULARITY, _wait.SLEEP_IDLE = _wait.SLEEP_GRANULARITY / 4, _wait.SLEEP_IDLE / 4
TIMEOUT = 60.0  # generous: a condition that holds returns at once; this only bounds a test that would hang
POLL = 0.002  # the poll interval, not a wait for anything: the condition is checked again after every round


async def wait_until(pilot: Pilot, condition: Callable[[], object], timeout: float = TIMEOUT,
                     what: str = "") -> None:
    """Let the app (and its threads) run until `condition()` is true; fail naming the condition after `timeout`."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:g} s waiting for {what or _describe(condition)}")
        await pilot.pause()
        if not condition():  # the loop is idle: poll again soon, leaving the interpreter to the app's threads
            await asyncio.sleep(POLL)


def _describe(condition: Callable[[], object]) -> str:
    code = getattr(condition, "__code__", None)
    return f"the condition at {code.co_filename.rsplit('/', 1)[-1]}:{code.co_firstlineno}" if code else "a condition"


async def settle(pilot: Pilot, rounds: int = 3) -> None:
    """Let workers finish and the messages they posted be handled (a finished load may start the next one)."""
    for _ in range(rounds):
        # an exclusive worker superseded by a newer one ends cancelled: the next round waits for its successor
        with contextlib.suppress(WorkerCancelled):
            await pilot.app.workers.wait_for_complete()
        await pilot.pause()


def said(app: App[object]) -> list[Notification]:
    """Every notification `app` posted so far, expired or not (recorded by `record_notifications`)."""
    return list(getattr(app, "_said", []))


def record_notifications(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make every app keep its notifications for `said` (the real `notify` still runs)."""
    notify = App.notify

    def recording(self: App[object], message: str, **options: object) -> None:
        self.__dict__.setdefault("_said", []).append(Notification(str(message), **options))  # type: ignore[arg-type]
        notify(self, message, **options)  # type: ignore[arg-type]

    monkeypatch.setattr(App, "notify", recording)
