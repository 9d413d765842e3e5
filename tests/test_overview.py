"""The dashboard's overview: computed from the manifest, recorded beside it by every commit, trusted only while it
describes the committed manifest in the lab's time zone."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from labtui.core.config import StagingConfig
from labtui.core.overview import Overview, overview, overview_path, read_overview
from labtui.core.repair import drop_runs
from labtui.core.stat_index import manifest_digest
from tests.lab import Lab


def recorded_of(config: StagingConfig, tz: str | None = None) -> Overview | None:
    """The recorded overview of the store's committed manifest, in the config's zone (or `tz`)."""
    return read_overview(config.manifest_path, tz or config.local_tz, manifest_digest(config.manifest_path))


@pytest.fixture
def staged(lab: Lab) -> Lab:
    """Two days, three procedures, two chips."""
    lab.write_run("2025-10-13/It2025-10-13_1.csv", "It", start=dt.datetime(2025, 10, 13, 13, tzinfo=dt.UTC))
    lab.write_run("2025-10-13/IVg2025-10-13_2.csv", "IVg", start=dt.datetime(2025, 10, 13, 14, tzinfo=dt.UTC))
    lab.write_run("2025-10-14/IVg2025-10-14_1.csv", "IVg", start=dt.datetime(2025, 10, 14, 15, tzinfo=dt.UTC),
                  number=71)
    lab.write_run("2025-10-14/LaserCalibration2025-10-14_2.csv", "LaserCalibration",
                  start=dt.datetime(2025, 10, 14, 12, tzinfo=dt.UTC))
    lab.stage()
    return lab


def test_every_commit_records_the_overview_of_its_manifest(staged: Lab) -> None:
    config = staged.config
    recorded = recorded_of(config)
    assert recorded == overview(staged.manifest(), config.local_tz)
    assert recorded is not None and recorded.runs == 4 and recorded.chips == 2
    assert recorded.procs == {"IVg": 2, "It": 1, "LaserCalibration": 1}
    newest = recorded.latest[0]
    assert (newest["date"], newest["proc"], newest["summary"], newest["run_id"]) == (
        "2025-10-14", "IVg", newest["summary"], staged.run_of("2025-10-14/IVg2025-10-14_1.csv")["run_id"])
    assert newest["summary"] is not None and newest["summary"].endswith("#1")  # the history's summary, no heading
    assert [run["time_hms"] for run in recorded.latest[1:]] == ["09:00:00", "11:00:00", "10:00:00"]  # UTC-3


def test_an_overview_of_another_manifest_or_zone_is_not_trusted(staged: Lab) -> None:
    config = staged.config
    assert recorded_of(config, "Europe/Berlin") is None  # the config's zone changed since
    drop_runs(config, {"2025-10-13/It2025-10-13_1.csv"})  # a repair replaces it
    assert recorded_of(config) is None
    (staged.raw / "2025-10-13/It2025-10-13_1.csv").unlink()
    assert staged.stage().staged == 0  # nothing to stage: the no-change run records it again
    recorded = recorded_of(config)
    assert recorded is not None and recorded.runs == 3


@pytest.mark.parametrize(
    "damage",
    [
        lambda record: record.update(runs="4"),  # a count as text
        lambda record: record.update(runs=-1),
        lambda record: record["latest"][0].update(date=20251014),  # a cell that is not text
        lambda record: record["latest"][0].pop("summary"),
        lambda record: record.update(last_staged_utc="2025-10-14 12:00:00"),  # an instant without its zone
        lambda record: record.update(first_day="yesterday"),
        lambda record: record.update(procs=["It"]),
        lambda record: record.update(format=99),
    ],
    ids=["text count", "negative count", "number cell", "missing cell", "naive instant", "bad date", "bad procs",
         "newer format"],
)
def test_a_damaged_overview_is_not_trusted(staged: Lab, damage) -> None:
    path = overview_path(staged.config.manifest_path)
    record = json.loads(path.read_bytes())
    damage(record)
    path.write_text(json.dumps(record), encoding="utf-8")
    assert recorded_of(staged.config) is None


@pytest.mark.parametrize("content", [b"", b'{"format": 1, "runs"', b"[1, 2]", b"\xff\xfe"],
                         ids=["empty", "torn", "a list", "not utf-8"])
def test_a_torn_or_foreign_file_is_not_trusted(staged: Lab, content: bytes) -> None:
    overview_path(staged.config.manifest_path).write_bytes(content)
    assert recorded_of(staged.config) is None


def test_no_overview_without_a_manifest(staged: Lab) -> None:
    staged.config.manifest_path.unlink()
    assert recorded_of(staged.config) is None


def test_an_empty_store_has_an_empty_overview(staged: Lab) -> None:
    glance = overview(staged.manifest().clear(), "UTC")
    assert (glance.runs, glance.chips, glance.procs, glance.latest, glance.per_day, glance.first_day,
            glance.last_staged_utc) == (0, 0, {}, [], [], None, None)
