"""Shared fixtures: a byte-exact raw-file builder for edge cases and a throw-away store per test."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import polars as pl
import pytest

from labtui.core.config import StagingConfig, load_config
from labtui.core.manifest import read_manifest
from labtui.core.rejects import RejectRecord, load_rejects
from labtui.core.stage_events import StageReport
from labtui.core.stager import stage
from labtui.synth.writer import raw_text

# The session-wide real-data store is a fixture every module can ask for by name.
pytest_plugins = ["tests._store_fixtures"]

REALDATA = Path(__file__).resolve().parents[2] / "shared" / "realdata"
REAL_RAW = REALDATA / "raw"

IT_COLUMNS = ("t (s)", "I (A)", "VL (V)", "Plate T (degC)", "Ambient T (degC)", "Clock (ms)")
IVG_COLUMNS = ("Vg (V)", "I (A)", "Plate T (degC)", "Ambient T (degC)", "Clock (ms)")
BASE_PARAMS = {
    "Irange": "0.001 A",
    "NPLC": "1",
    "Chip group name": "Alisson",
    "Chip number": "67",
    "Information": "fixture",
    "Laser voltage": "1.15 V",
    "Laser wavelength": "455",
    "Procedure version": "2.2.0",
    "Sample": "other",
    "VDS": "0.1 V",
}
PROC_PARAMS = {
    "It": {"Laser ON+OFF period": "2 s", "VG": "-0.35 V"},
    "IVg": {"VG start": "-1 V", "VG end": "1 V", "VG step": "0.5 V", "Laser voltage": "0 V"},
}


def epoch(year: int, month: int, day: int, hour: int = 12, minute: int = 0, tz: str = "UTC") -> float:
    from zoneinfo import ZoneInfo

    return dt.datetime(year, month, day, hour, minute, tzinfo=ZoneInfo(tz)).timestamp()


def it_rows(period: float = 2.0, dt_s: float = 0.1, voltage: float = 1.15) -> list[str]:
    """A complete It data block: 1.5 periods, laser on between period/2 and period."""
    rows = []
    for k in range(round(1.5 * period / dt_s) + 1):
        t = k * dt_s
        on = period / 2 <= t < period
        rows.append(f"{t!r},{1e-6 + (2e-7 if on else 0.0)!r},{voltage if on else 0.0!r},nan,nan,nan")
    return rows


def ivg_rows() -> list[str]:
    """0 → −1 → 1 → −1 → 0 V in 0.5 V steps: the acquisition's sweep shape."""
    path = [0.0, -0.5, -1.0, -0.5, 0.0, 0.5, 1.0, 0.5, 0.0, -0.5, -1.0, -0.5, 0.0]
    return [f"{vg!r},{1e-6 * (1 + abs(vg - 0.2))!r},nan,nan,nan" for vg in path]


def raw_csv(
    proc: str = "It",
    *,
    params: dict[str, str | None] | None = None,
    start: float | str | None = 1760371684.3180444,
    columns: Sequence[str] | None = None,
    rows: Iterable[str] | None = None,
    eol: str = "\r\n",
    data_section: bool = True,
) -> bytes:
    """A raw file in the acquisition's exact layout; `params` values of None remove a key."""
    merged = {**BASE_PARAMS, **PROC_PARAMS.get(proc, {}), **(params or {})}
    return raw_text(
        proc,
        {key: value for key, value in merged.items() if value is not None},
        start=start,
        columns=columns or (IT_COLUMNS if proc == "It" else IVG_COLUMNS),
        rows=rows if rows is not None else (it_rows() if proc == "It" else ivg_rows()),
        line_ending=eol,
        data_section=data_section,
    ).encode("utf-8")


@dataclass
class Store:
    """A raw root and a stage store in a temp folder, with helpers to write raw files and stage them."""

    root: Path
    config: StagingConfig

    @property
    def raw(self) -> Path:
        return self.config.raw_root

    def write(self, rel: str, content: bytes | str, mtime: float | None = None) -> Path:
        path = self.raw / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content.encode() if isinstance(content, str) else content)
        if mtime is not None:
            import os

            os.utime(path, (mtime, mtime))
        return path

    def stage(self, **options: object) -> StageReport:
        return stage(self.config, **options)

    def manifest(self) -> pl.DataFrame:
        return read_manifest(self.config.manifest_path)

    def rejects(self) -> dict[str, RejectRecord]:
        return load_rejects(self.config.rejects_dir)


def make_store(root: Path) -> Store:
    """A project folder with its own config file, so nothing depends on the cwd or the repo's config."""
    (root / "raw").mkdir(parents=True, exist_ok=True)
    config_file = root / "config" / "labtui.yaml"
    config_file.parent.mkdir(exist_ok=True)
    config_file.write_text("raw_root: raw\nstage_root: store/raw_measurements\nworkers: 2\n", encoding="utf-8")
    return Store(root, load_config(config_file))


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return make_store(tmp_path)


@pytest.fixture
def real_raw() -> Path:
    if not REAL_RAW.is_dir():
        pytest.skip("../shared/realdata/raw is not available")
    return REAL_RAW
