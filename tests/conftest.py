"""Shared fixtures: a throw-away lab per test (`tests.lab`), the real lab files when present, and notifications
kept for `tests.pilot.said`."""

from __future__ import annotations

from pathlib import Path

import pytest

from labtui.core.config import StagingConfig
from tests.lab import REAL_RAW, Lab
from tests.pilot import record_notifications


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
