"""Shared fixtures: a throw-away lab per test (`tests.lab`), the real lab files when present, and notifications
kept for `tests.pilot.said`."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest

from labtui.core.config import StagingConfig
from tests.lab import REAL_RAW, Lab
from tests.pilot import record_notifications


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The `slow` tests first (10–25 s each, a store killed at every step): met last, one kept a worker busy while
    the other had nothing left (xdist's workers steal from each other's ends)."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)


@pytest.fixture
def lab(tmp_path: Path) -> Lab:
    return Lab(tmp_path)


@pytest.fixture
def real_raw() -> Path:
    if not REAL_RAW.is_dir():
        pytest.skip("../shared/realdata/raw is not available")
    return REAL_RAW


@pytest.fixture(scope="session")
def real_store(tmp_path_factory: pytest.TempPathFactory) -> StagingConfig:
    """../shared/realdata/raw staged once per session (per xdist worker)."""
    if not REAL_RAW.is_dir():
        pytest.skip("../shared/realdata is not available")
    lab = Lab(tmp_path_factory.getbasetemp() / "labtui-realdata", raw=REAL_RAW)
    lab.stage()
    return lab.config


@pytest.fixture(autouse=True)
def _keep_notifications(monkeypatch: pytest.MonkeyPatch) -> None:
    record_notifications(monkeypatch)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> object:
    """The app's tests (the `test_tui*` modules, and every test a pilot drives) run with the coverage tracers
    stopped: the coverage target is the engine's, which its own tests must reach, and tracing Textual's many calls
    made the app's tests ~70 % slower. Every tracer: an xdist worker runs two, and stopping one resumes the other
    (which is also why pytest-cov's `no_cover` marker does not help there)."""
    import coverage

    if not (item.path.name.startswith("test_tui") or inspect.iscoroutinefunction(getattr(item, "function", None))):
        return (yield)
    stopped = []
    while (tracer := coverage.Coverage.current()) is not None:
        tracer.stop()
        stopped.append(tracer)
    try:
        return (yield)
    finally:
        for tracer in reversed(stopped):
            tracer.start()
