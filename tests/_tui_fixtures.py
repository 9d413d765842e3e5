"""A small deterministic lab for the TUI tests: raw files written from `raw_csv`, staged, times frozen.

Chips Alisson67 (dark IVg sweeps, light and dark It runs), Alisson71 and other71 (one number, two groups), and one
rejected file (a header without a start time) that `fixed_reject` repairs.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
from dataclasses import dataclass
from pathlib import Path

import polars as pl
from textual.pilot import Pilot
from textual.worker import WorkerCancelled

from labtui.core.config import StagingConfig, load_config
from labtui.core.manifest import read_manifest, write_manifest
from labtui.core.rejects import load_rejects, write_reject
from labtui.core.stager import stage
from tests.conftest import epoch, raw_csv

FROZEN = dt.datetime(2025, 10, 26, 15, 0, tzinfo=dt.UTC)  # "now" for ingest and reject times
FILE_MTIME = epoch(2025, 10, 25)
REJECT = "2025-10-14/It2025-10-14_9.csv"
DARK = {"Laser voltage": "0 V"}
OTHER71 = {"Chip group name": "other", "Chip number": "71"}
ALISSON71 = {"Chip number": "71"}

RUNS: dict[str, bytes] = {
    "2025-10-13/IVg2025-10-13_1.csv": raw_csv("IVg", start=epoch(2025, 10, 13, 13, 0)),
    "2025-10-13/It2025-10-13_2.csv": raw_csv("It", start=epoch(2025, 10, 13, 13, 10)),
    "2025-10-13/It2025-10-13_3.csv": raw_csv(
        "It", start=epoch(2025, 10, 13, 13, 20), params={"Laser wavelength": "365", "Information": "after annealing"}
    ),
    "2025-10-13/It2025-10-13_4.csv": raw_csv("It", start=epoch(2025, 10, 13, 13, 30), params=DARK),
    "2025-10-14/IVg2025-10-14_1.csv": raw_csv("IVg", start=epoch(2025, 10, 14, 12, 0), params=ALISSON71),
    "2025-10-14/IVg2025-10-14_2.csv": raw_csv("IVg", start=epoch(2025, 10, 14, 12, 5), params=OTHER71),
    REJECT: raw_csv("It", start=None, data_section=False),
}


def fixed_reject() -> bytes:
    """The rejected file as it should have been: it stages as a light It run of Alisson67."""
    return raw_csv("It", start=epoch(2025, 10, 14, 13, 0), params={"Information": "repaired"})


@dataclass
class Lab:
    root: Path
    config: StagingConfig

    def write(self, rel: str, content: bytes) -> Path:
        path = self.config.raw_root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
        os.utime(path, (FILE_MTIME, FILE_MTIME))
        return path

    def stage(self) -> None:
        stage(self.config)
        freeze(self.config)


def make_lab(root: Path, *, staged: bool = True, **config: object) -> Lab:
    """The lab in `root` (raw/, store/, config/labtui.yaml); one worker and one commit, so logs are in order."""
    config_file = root / "config" / "labtui.yaml"
    config_file.parent.mkdir(parents=True, exist_ok=True)
    config_file.write_text("raw_root: raw\nstage_root: store/raw_measurements\n", encoding="utf-8")
    settings = {"workers": 1, "commit_interval_seconds": 600.0, **config}
    lab = Lab(root, load_config(config_file, **settings))
    for rel, content in RUNS.items():
        lab.write(rel, content)
    if staged:
        lab.stage()
    return lab


def freeze(config: StagingConfig) -> None:
    """Ingest and reject times (and the code version) as if staged at FROZEN: screenshots stay identical."""
    manifest = read_manifest(config.manifest_path)
    write_manifest(
        manifest.with_columns(ingested_at_utc=pl.lit(FROZEN), extraction_version=pl.lit("test")), config.manifest_path
    )
    for record in load_rejects(config.rejects_dir).values():
        write_reject(config.rejects_dir, record.model_copy(update={"rejected_at_utc": FROZEN}))


async def settle(pilot: Pilot, rounds: int = 3) -> None:
    """Let workers finish and the messages they posted be handled (a finished load may start the next one)."""
    for _ in range(rounds):
        # an exclusive worker superseded by a newer one ends cancelled: the next round waits for its successor
        with contextlib.suppress(WorkerCancelled):
            await pilot.app.workers.wait_for_complete()
        await pilot.pause()
