"""The staging engine end to end on real files in a temp lab: layout, manifest rows, lifecycle, incrementality."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import polars as pl
import pytest

from labtui.cli import EXIT_LOCKED, main
from labtui.core import metrics
from labtui.core.annotations import Change, annotate
from labtui.core.atomic import is_temp, write_temps
from labtui.core.datablock import parse_data
from labtui.core.extract import run_id_for
from labtui.core.findings import FindingCode
from labtui.core.fixes import apply_fixes
from labtui.core.layout import run_parquet_path
from labtui.core.lock import WriterLock
from labtui.core.manifest_row import ManifestRow
from labtui.core.parquet_footer import read_run_record
from labtui.core.parser import parse_header
from labtui.core.rawread import Busy
from labtui.core.registry import load_registry
from labtui.core.scan import Candidate, Outcome, Waiting, pending_files, scan_raw
from labtui.core.stage_chunk import CHUNK_BYTES, CHUNK_FILES, ChunkWorker, chunks
from labtui.core.stage_events import EventKind, StageEvent
from labtui.core.stager import Stager
from labtui.core.validate import validate
from tests.lab import OLD_MTIME, PARAMS, Lab, default_rows, epoch, it_rows, ivg_rows, raw_csv
from tests.promises import run_content, temp_files

SANTIAGO = "America/Santiago"


def tree_snapshot(root: Path) -> dict[str, tuple[int, int, str]]:
    """Every file under root with its size, mtime and content hash: raw files must never change."""
    snapshot = {}
    for path in sorted(root.rglob("*")):
        if path.is_file() and not path.is_symlink():
            info = path.stat()
            snapshot[str(path.relative_to(root))] = (
                info.st_size,
                info.st_mtime_ns,
                hashlib.sha256(path.read_bytes()).hexdigest(),
            )
    return snapshot


def only_row(lab: Lab) -> dict:
    manifest = lab.manifest()
    assert manifest.height == 1
    return manifest.row(0, named=True)


def test_layout_and_manifest_row_of_an_it_run(lab: Lab) -> None:
    lab.write("2025-10-13/It2025-10-13_10.csv", raw_csv("It"))
    report = lab.stage()
    assert (report.staged, report.rejected) == (1, 0)
    row = only_row(lab)
    start = dt.datetime.fromtimestamp(1760371684.3180444, dt.UTC)
    assert row["run_id"] == hashlib.sha1(b"2025-10-13/it2025-10-13_10.csv|2025-10-13T16:08:04Z").hexdigest()[:16]
    assert row["run_id"] == run_id_for("2025-10-13/It2025-10-13_10.csv", start)
    assert row["date_local"] == dt.date(2025, 10, 13)
    assert row["start_time_utc"] == start.replace(microsecond=start.microsecond)
    assert (row["proc"], row["chip_group"], row["chip_number"], row["chip_name"]) == ("It", "Alisson", 67, "Alisson67")
    assert row["has_light"] is True and row["is_complete"] is True
    assert row["summary"] == "VG=-0.35 V VDS=0.1 V VL=1.15 V λ=455 nm period=2 s"  # data only: no icon, chip, index
    assert row["n_rows"] == len(it_rows())
    assert row["duration_s"] == pytest.approx(3.0)
    assert row["day_folder"] == "2025-10-13"
    assert json.loads(row["parameters"])["Information"] == "fixture"
    ManifestRow(**row)  # the stored row still validates
    part = run_parquet_path(lab.config.stage_root, "It", dt.date(2025, 10, 13), row["run_id"])
    assert (
        part.relative_to(lab.config.stage_root).as_posix()
        == f"proc=It/date=2025-10-13/run_id={row['run_id']}/part-000.parquet"
    )
    data = pl.read_parquet(part)
    assert data.columns[:3] == ["t_s", "i_a", "vl_v"] and data.height == row["n_rows"]
    record = read_run_record(part)  # in the Parquet's footer: what `labtui repair` rebuilds the manifest from
    assert record is not None and record["outcome"] == "staged" and record["n_rows"] == row["n_rows"]
    assert ManifestRow.model_validate(record["row"]).model_dump() == ManifestRow(**row).model_dump()
    assert not lab.config.legacy_records_dir.exists()  # no file of its own


def test_dark_sweep_summary_hides_the_stale_wavelength(lab: Lab) -> None:
    lab.write("d/IVg2025-10-13_2.csv", raw_csv("IVg"))
    lab.stage()
    row = only_row(lab)
    assert row["has_light"] is False and row["is_complete"] is True
    assert row["summary"] == "VDS=0.1 V VG:-1→1 V step 0.5 V"
    assert (row["vg_start_v"], row["vg_end_v"]) == (-1.0, 1.0)


@pytest.mark.parametrize(("toggle", "lit"), [("False", False), (" off ", False), ("0", False), ("Disabled", False),
                                             ("True", True), ("1", True), (None, True)])
def test_a_laser_toggled_off_is_dark_whatever_voltage_was_left_set(lab: Lab, toggle: str | None, lit: bool) -> None:
    """A newer acquisition writes `Laser toggle` beside a laser voltage that keeps its last value: a dark sweep at
    `Laser voltage: 3.5 V` was stored lit, and drawn in the lit CNP trend."""
    params = {**PARAMS["IVg"], "Laser voltage": "3.5 V", "Laser toggle": toggle}
    lab.write("d/IVg2025-10-13_2.csv", raw_csv("IVg", params=params))
    lab.stage()
    row = only_row(lab)
    assert row["has_light"] is lit and row["laser_voltage_v"] == 3.5
    assert ("λ=" in row["summary"]) is lit  # a dark run's summary leaves its stale wavelength out


@pytest.mark.parametrize(
    ("local", "expected_date"),
    [
        ((2025, 10, 14, 22, 30), dt.date(2025, 10, 14)),  # evening run: the next UTC date, same local date
        ((2025, 9, 6, 23, 30), dt.date(2025, 9, 6)),  # the night Santiago's clocks jump (UTC−4 → UTC−3)
        ((2025, 9, 7, 1, 30), dt.date(2025, 9, 7)),
        ((2025, 10, 15, 0, 10), dt.date(2025, 10, 15)),  # overnight: queued in folder 14, starts on 15
    ],
)
def test_dates_are_local_santiago_dates(lab: Lab, local: tuple[int, ...], expected_date: dt.date) -> None:
    start = epoch(*local, tz=SANTIAGO)
    lab.write("2025-10-14/It2025-10-14_1.csv", raw_csv("It", start=start))
    lab.stage()
    row = only_row(lab)
    assert row["date_local"] == expected_date
    assert row["day_folder"] == "2025-10-14"
    assert f"date={expected_date.isoformat()}" in str(next(lab.config.stage_root.rglob("*.parquet")))


@pytest.mark.parametrize("written", ["2025-10-13T13:08:04.318044-03:00", "2025-10-13 16:08:04.318044 UTC"])
def test_a_start_time_in_iso_8601_stages_without_a_note(lab: Lab, written: str) -> None:
    """`Start time: 2025-10-13T13:08:04.318044-03:00` dates the run, and was also typed as seconds: every stage
    said "parameter 'Start time' … is not a finite number in s; left empty" of the time it had just read. UTC named
    by a word was rejected."""
    lab.write("2025-10-13/It2025-10-13_1.csv", raw_csv("It", start=written))
    report = lab.stage()
    assert report.staged == 1 and report.warned == {}
    assert only_row(lab)["start_time_utc"] == dt.datetime(2025, 10, 13, 16, 8, 4, 318044, tzinfo=dt.UTC)


def test_a_raw_file_moved_to_another_folder_is_said_when_staged_again(lab: Lab) -> None:
    """A file moved between day folders is a new path: staged again as a second run beside the first (whose raw
    file is gone), with `1 staged` alone, and every history and trend counted the run twice. The stage says so."""
    lab.write("2025-10-13/It2025-10-13_1.csv", raw_csv("It"))
    lab.write("2025-10-13/It2025-10-13_2.csv", raw_csv("It", start=epoch(2025, 10, 13, 12)))
    lab.stage()
    (lab.raw / "2025-10-14").mkdir()
    os.rename(lab.raw / "2025-10-13/It2025-10-13_1.csv", lab.raw / "2025-10-14/It2025-10-13_1.csv")
    report = lab.stage()
    assert report.staged_files == ["2025-10-14/It2025-10-13_1.csv"]
    assert report.warned == {"2025-10-14/It2025-10-13_1.csv": [
        "the content of 2025-10-13/It2025-10-13_1.csv, staged and its raw file gone: moved? `labtui prune --yes` "
        "drops the run of the old path"]}
    # a new name in another letter case is the same run (its run_id reads the path in lower case), taken over: it
    # sent the user to a `prune` that had nothing to drop
    os.rename(lab.raw / "2025-10-13/It2025-10-13_2.csv", lab.raw / "2025-10-13/it2025-10-13_2.csv")
    before = lab.manifest().filter(pl.col("source_file") == "2025-10-13/It2025-10-13_2.csv")["run_id"].to_list()
    report = lab.stage()
    assert report.warned == {"2025-10-13/it2025-10-13_2.csv": [
        "renamed from 2025-10-13/It2025-10-13_2.csv (letter case only): the same run, under this name"]}
    assert report.staged_run_ids == before
    assert lab.manifest().filter(pl.col("run_id") == before[0])["source_file"].to_list() == [
        "2025-10-13/it2025-10-13_2.csv"]


def spelt_otherwise(name: str, other: str, letters: str = "") -> str:
    """The stage's note on a run of a chip whose most runs write it `other`."""
    return (f"chip {name}: the chip is written {other!r} in the store's other runs ({letters}typed in another way? "
            "two histories): correct its 'Chip group name'")


def spelt_as_often(name: str, other: str) -> str:
    """The stage's note on a run of a chip as many of whose runs write it `other`."""
    return (f"chip {name}: the chip is written {other!r} in as many of the store's runs (typed in another way? two "
            "histories): correct the runs typed wrong, their 'Chip group name'")


def stored_otherwise(name: str, other: str, source: str) -> str:
    """The stage's note on its first run of a chip one run of which the store writes `other`."""
    return (f"chip {name}: 1 run of the store writes it {other!r} ({source}): typed in another way? two histories: "
            "correct its 'Chip group name'")


def test_a_chips_group_typed_in_another_case_is_said_when_staged(lab: Lab) -> None:
    """`Chip group name: alisson` among Alisson67's runs filed them under a chip of their own (two histories), said
    only by `validate`. The stage says so, for a run among the store's and among its own new ones."""
    lab.write("2025-10-13/It2025-10-13_1.csv", raw_csv("It"))
    lab.stage()
    lab.write("2025-10-14/It2025-10-14_1.csv", raw_csv("It", start=epoch(2025, 10, 14), params={"Chip group name":
                                                                                                 "alisson"}))
    lab.write("2025-10-14/It2025-10-14_2.csv", raw_csv("It", start=epoch(2025, 10, 14, 12), params={
        "Chip group name": "ALISSON", "Chip number": "68"}))
    lab.write("2025-10-14/It2025-10-14_3.csv", raw_csv("It", start=epoch(2025, 10, 14, 13), params={
        "Chip group name": "Alisson", "Chip number": "68"}))
    report = lab.stage()
    # one run each way: neither is told it is the one typed wrong (a first run may be the typo)
    assert report.staged == 3 and report.warned == {
        "2025-10-14/It2025-10-14_1.csv": [spelt_as_often("alisson67", "Alisson67")],
        "2025-10-14/It2025-10-14_2.csv": [spelt_as_often("ALISSON68", "Alisson68")],
        "2025-10-14/It2025-10-14_3.csv": [spelt_as_often("Alisson68", "ALISSON68")]}
    # outnumbered, the store's run typed otherwise is named, once, by the stage's run; a run being corrected is
    # none of "the other runs"
    lab.write("2025-10-15/It2025-10-15_1.csv", raw_csv("It", start=epoch(2025, 10, 15)))
    assert lab.stage().warned == {"2025-10-15/It2025-10-15_1.csv": [
        stored_otherwise("Alisson67", "alisson67", "2025-10-14/It2025-10-14_1.csv")]}
    lab.write("2025-10-14/It2025-10-14_1.csv", raw_csv("It", start=epoch(2025, 10, 14)))  # alisson67 corrected
    assert lab.stage().warned == {}
    # what looks the same: a Cyrillic А (which no one can type for --group), quotes or a dot around the group
    for index, group in enumerate(("\u0410lisson", '"Alisson"', "Alisson.", "Alis son"), start=2):
        lab.write(f"2025-10-15/It2025-10-15_{index}.csv", raw_csv("It", start=epoch(2025, 10, 15, index),
                                                                  params={"Chip group name": group}))
    cyrillic = "'\u0410' is CYRILLIC CAPITAL LETTER A; "
    assert lab.stage().warned == {
        f"2025-10-15/It2025-10-15_{index}.csv": [spelt_otherwise(f"{group}67", "Alisson67",
                                                                 cyrillic if index == 2 else "")]
        for index, group in enumerate(("\u0410lisson", '"Alisson"', "Alisson.", "Alis son"), start=2)}
    # groups of no letter nor digit look like no other group: `..80` and `*80` were "written" like each other
    for index, group in enumerate(("..", "*", "\U0001f9ea"), start=6):
        lab.write(f"2025-10-15/It2025-10-15_{index}.csv", raw_csv("It", start=epoch(2025, 10, 15, index),
                                                                  params={"Chip group name": group}))
    assert lab.stage().warned == {}


@pytest.mark.parametrize("workers", [1, 3])
def test_a_chip_typed_two_ways_in_one_stage_is_said_on_the_runs_of_the_fewer_spelling(
        tmp_path: Path, workers: int, capsys: pytest.CaptureFixture[str]) -> None:
    """Six runs of a new chip, the first typed `alisson`: the five right ones were each told to correct their group
    (with one worker; with three, whichever was booked first won). Counted over the stage's runs once all are read,
    the typo's run is said, in every way the stage says its notes."""
    lab = Lab(tmp_path, workers=workers)
    for index in range(1, 7):
        group = "alisson" if index == 1 else "Alisson"
        lab.write(f"2025-10-15/It2025-10-15_{index}.csv", raw_csv("It", start=epoch(2025, 10, 15, 10 + index),
                                                                  params={"Chip group name": group}))
    note = spelt_otherwise("alisson67", "Alisson67")
    assert main(lab.args("stage", "--json")) == 0
    assert json.loads(capsys.readouterr().out)["notes"] == [
        {"source_file": "2025-10-15/It2025-10-15_1.csv", "notes": [note]}]
    events: list[StageEvent] = []
    assert lab.stage(force=True, on_event=events.append).warned == {"2025-10-15/It2025-10-15_1.csv": [note]}
    assert [(event.source_file, event.message) for event in events if event.kind is EventKind.NOTE] == [
        ("2025-10-15/It2025-10-15_1.csv", note)]  # after the files' events, which said no chip
    files = [str(path) for path in sorted((lab.raw / "2025-10-15").iterdir())]
    assert main(lab.args("restage", "--force", "--quiet", *files)) == 0
    assert [line for line in capsys.readouterr().out.splitlines() if line.startswith("note")] == [
        f"note 2025-10-15/It2025-10-15_1.csv: {note}"]


def test_a_typo_staged_first_is_not_the_chips_spelling_once_outnumbered(lab: Lab) -> None:
    """As `stage --watch` stages a new chip run by run: its first run typed `ALISSON` (caps lock), then right ones.
    One against one, neither run is told it is the typo (the second, right one was told to adopt the typo); two
    against one, the store's run typed otherwise is named, and `validate` says the chip's two spellings."""
    def run(index: int, group: str) -> Path:
        return lab.write(f"2025-10-15/It2025-10-15_{index}.csv", raw_csv("It", start=epoch(2025, 10, 15, 10 + index),
                                                                         params={"Chip group name": group}))

    assert lab.stage(only=[run(1, "ALISSON")]).warned == {}
    assert lab.stage(only=[run(2, "Alisson")]).warned == {
        "2025-10-15/It2025-10-15_2.csv": [spelt_as_often("Alisson67", "ALISSON67")]}
    assert lab.stage(only=[run(3, "Alisson")]).warned == {
        "2025-10-15/It2025-10-15_3.csv": [stored_otherwise("Alisson67", "ALISSON67", "2025-10-15/It2025-10-15_1.csv")]}
    clash = next(finding for finding in validate(lab.config).findings if finding.code is FindingCode.CHIP_NAME_CLASH)
    assert clash.items == ["ALISSON67 / Alisson67: one chip, its group typed in two ways?"]


def test_a_group_typed_with_an_accent_is_said_by_the_stage_and_by_validate(lab: Lab) -> None:
    """`Alissón` (a Spanish keyboard) among Alisson67's runs started a chip of its own without a word, from the
    stage or `validate`; both now say it, by one rule."""
    for index, group in enumerate(("Alisson", "Alisson", "Aliss\u00f3n"), start=1):
        lab.write(f"2025-10-15/It2025-10-15_{index}.csv", raw_csv("It", start=epoch(2025, 10, 15, 10 + index),
                                                                  params={"Chip group name": group}))
    assert lab.stage().warned == {"2025-10-15/It2025-10-15_3.csv": [spelt_otherwise("Aliss\u00f3n67", "Alisson67")]}
    clash = next(finding for finding in validate(lab.config).findings if finding.code is FindingCode.CHIP_NAME_CLASH)
    assert clash.items == ["Alisson67 / Aliss\u00f3n67: one chip, its group typed in two ways?"]


def write_chips(lab: Lab, chips: list[tuple[str, str]]) -> None:
    """An It run of each (Chip group name, Chip number), one an hour from 2025-10-15 11:00 UTC."""
    for index, (group, number) in enumerate(chips, start=1):
        lab.write(f"2025-10-15/It2025-10-15_{index}.csv", raw_csv("It", start=epoch(2025, 10, 15, 10 + index),
                                                                  params={"Chip group name": group,
                                                                          "Chip number": number}))


def test_a_group_one_letter_off_is_said_by_the_stage_and_by_validate(lab: Lab) -> None:
    """`Alison` for Alisson with chip 80's number started a chip of its own without a word from the stage or
    validate (only look-alike spellings were said). A typo names one chip; two groups one letter apart that each
    name several chips are two groups (two students, Daniel and Daniela, each with chips 1 and 2)."""
    write_chips(lab, [("Alisson", "67"), ("Alisson", "80"), ("Alison", "80"), ("Daniel", "1"), ("Daniel", "2"),
                      ("Daniela", "1"), ("Daniela", "2")])
    assert lab.stage().warned == {"2025-10-15/It2025-10-15_3.csv": [
        "chip Alison80: its group names no other chip, and is one letter from that of chip 'Alisson80' (a group of "
        "several chips): typed in another way? two histories"]}
    clash = next(finding for finding in validate(lab.config).findings if finding.code is FindingCode.CHIP_NAME_CLASH)
    assert clash.items == ["Alison80 / Alisson80: one chip, its group typed in two ways (one letter apart)?"]
    from labtui.core.chip_name import one_letter_apart

    assert [one_letter_apart("alisson", typo) for typo in ("alison", "alisosn", "laisson", "alissoon", "alisso",
                                                           "alissom", "aliossn", "other", "alis")] == \
        [True] * 5 + [False] * 4  # `alissom`: the last letter alone other reads as a series (BatchA, BatchB)


def test_a_group_ending_with_its_chip_number_is_said_beside_that_chip(lab: Lab) -> None:
    """`Chip group name: Alisson67` with `Chip number: 67` filed the run as chip Alisson6767 beside Alisson67's
    runs without a word. A group that ends in its number by name (`Sample2`, chip 2) is no slip: said only where
    the store has that chip without the digits."""
    lab.write("2025-10-14/It2025-10-14_1.csv", raw_csv("It", start=epoch(2025, 10, 14)))  # Alisson67
    write_chips(lab, [("Alisson67", "67"), ("Alisson167", "67"), ("Sample2", "2")])
    assert lab.stage().warned == {"2025-10-15/It2025-10-15_1.csv": [
        "chip Alisson6767: its 'Chip group name' 'Alisson67' ends with its chip number 67, and the store has chip "
        "'Alisson67': the number typed into the group too? (two histories)"]}


def test_a_group_looks_alike_by_its_latin_letters_in_any_case_and_script() -> None:
    """The look-alikes are Unicode's confusables of Latin letters (Cyrillic е, р, с, ѕ; Greek Ι, Ο), not any letter
    whose name ends in a Latin one: a Cyrillic и is no i. A letter's accent is left out: a Spanish ñ looks as an n
    (`Peña` typed on an English keyboard)."""
    from labtui.core.chip_name import foreign_letters, look_alike

    assert look_alike("\u0420\u0435rez") == look_alike("Perez") == look_alike("PEREZ.") == "perez"
    assert look_alike("Ali\u0455son") == look_alike("\u0391lisson") == "alisson"  # a Cyrillic ѕ, a Greek Α
    assert look_alike("Pe\u00f1a") == look_alike("Pen\u0303a") == look_alike("Pena") == "pena"  # ñ, n + tilde
    assert look_alike("Aliss\u00f3n") == "alisson" and look_alike("\u0438") == "\u0438"
    assert foreign_letters("\u0420e\u0440ez Pe\u00f1a") == [
        "'\u0420' is CYRILLIC CAPITAL LETTER ER", "'\u0440' is CYRILLIC SMALL LETTER ER"]


def test_a_chip_without_a_group_beside_a_grouped_one_of_its_number_is_said(lab: Lab) -> None:
    """An empty `Chip group name` filed an Alisson67 run as chip 67, a history apart, with no word; a lab that never
    gives groups (PyMeasure writes `None`) hears nothing."""
    lab.write("2025-10-13/It2025-10-13_1.csv", raw_csv("It"))
    lab.write("2025-10-13/It2025-10-13_2.csv", raw_csv("It", start=epoch(2025, 10, 13, 12),
                                                       params={"Chip group name": "None", "Chip number": "68"}))
    assert lab.stage().warned == {}
    lab.write("2025-10-14/It2025-10-14_1.csv", raw_csv("It", start=epoch(2025, 10, 14),
                                                       params={"Chip group name": ""}))
    assert lab.stage().warned == {"2025-10-14/It2025-10-14_1.csv": [
        "chip 67: its header gives no chip group, and the store has chip 'Alisson67': filed as a chip apart (two "
        "histories of one chip?): give its 'Chip group name'"]}


def test_a_copy_of_a_staged_raw_file_is_said_when_staged(lab: Lab) -> None:
    """A raw file copied under another name was staged as a second run without a word (`29 staged`, the dashboard
    healthy): histories and trends counted each run twice, and only `validate` told. The stage now says which."""
    events: list[StageEvent] = []
    lab.write("2025-10-13/It2025-10-13_1.csv", raw_csv("It"))
    lab.stage()
    lab.write("copies/It2025-10-13_1.csv", raw_csv("It"))
    lab.write("copies/It2025-10-13_9.csv", raw_csv("It", start=epoch(2025, 10, 13, 12)))
    lab.write("copies/It2025-10-13_9 (copy).csv", raw_csv("It", start=epoch(2025, 10, 13, 12)))
    report = lab.stage(on_event=events.append)
    def copy_of(other: str) -> list[str]:
        return [f"the same content as {other}, staged too: a copy? Move one out of the raw tree (labtui never deletes "
                "raw data), then `labtui prune`"]

    pair = ["copies/It2025-10-13_9 (copy).csv", "copies/It2025-10-13_9.csv"]  # the one staged second is said
    assert report.warned in ({"copies/It2025-10-13_1.csv": copy_of("2025-10-13/It2025-10-13_1.csv"),
                              second: copy_of(first)} for first, second in (pair, pair[::-1]))
    assert {event.source_file: event.message for event in events if event.kind is EventKind.FILE} == {
        source: "; ".join(report.warned.get(source, ())) for source in report.staged_files}
    lab.write("copies/It2025-10-13_1.csv", raw_csv("It", params={"Information": "edited"}))  # not the same bytes
    lab.write("backup/It2025-10-13_1.csv", raw_csv("It"))  # while the edit stages: the old hash is no file's
    warned = lab.stage().warned
    assert warned["backup/It2025-10-13_1.csv"] == copy_of("2025-10-13/It2025-10-13_1.csv")
    # the edited copy is still the run started that instant on that chip: a copy of the file staged first
    assert warned["copies/It2025-10-13_1.csv"][0].startswith(
        "its It run started at the same instant as that of '2025-10-13/It2025-10-13_1.csv' (the same chip, its "
        "Start time to the microsecond): a copy of it")


def test_a_copy_cut_short_is_said_as_a_copy_not_only_as_an_aborted_run(lab: Lab) -> None:
    """A sync tool's conflict copy holding half a download was staged as a second run of its own, said only as
    "aborted: 276 of the 601 rows": its bytes are not the file's, so the content check missed it. A run of the same
    chip, procedure and start time is said as a copy of the file of the most rows."""
    rows = ivg_rows()
    lab.write("d/IVg2025-10-13_1 (conflicted copy).csv", raw_csv("IVg", rows=rows[:5]))
    report = lab.stage()
    assert "d/IVg2025-10-13_1 (conflicted copy).csv" not in report.warned or not any(
        "same instant" in note for note in report.warned["d/IVg2025-10-13_1 (conflicted copy).csv"])
    lab.write("d/IVg2025-10-13_1.csv", raw_csv("IVg"))  # the whole file arrives: told of the copy staged before
    lab.write("d/IVg2025-10-13_1 - Copy.csv", raw_csv("IVg", rows=rows[:9]))  # and a second copy, cut elsewhere
    lab.write("d/IVg2025-10-13_2.csv", raw_csv("IVg", rows=rows[:9], start=epoch(2025, 10, 13, 12)))  # no copy
    warned = lab.stage().warned
    assert warned["d/IVg2025-10-13_1 - Copy.csv"][-1] == (
        "its IVg run started at the same instant as that of 'd/IVg2025-10-13_1.csv' (the same chip, its Start time "
        f"to the microsecond), and holds 9 of its "
        f"{len(rows)} data rows: a copy of it (a sync tool's conflict copy, a download cut short)? Each is a run of "
        "the chip's history: move the copy out of the raw tree (labtui never deletes raw data), then `labtui prune`")
    assert warned["d/IVg2025-10-13_1.csv"] == [
        "its IVg run started at the same instant as that of 'd/IVg2025-10-13_1 (conflicted copy).csv', staged before "
        "(the same chip, its Start time to the microsecond): copies of this file? Each is a run of the chip's "
        "history: move the copies out of the raw tree (labtui never deletes raw data), then `labtui prune`"]
    assert not any("same instant" in note for note in warned.get("d/IVg2025-10-13_2.csv", []))
    # a calibration is the setup's, of no chip
    lab.write("c/LaserCalibration2025-10-13_1.csv", raw_csv("LaserCalibration"))
    lab.write("c/LaserCalibration2025-10-13_1 (1).csv", raw_csv("LaserCalibration", rows=default_rows(
        "LaserCalibration")[:3]))
    assert lab.stage().warned["c/LaserCalibration2025-10-13_1 (1).csv"][-1] == (
        "its LaserCalibration run started at the same instant as that of 'c/LaserCalibration2025-10-13_1.csv' (its "
        "Start time to the microsecond), and holds 3 of its 5 data rows: a copy of it (a sync tool's conflict copy, "
        "a download cut short)? Each is a run of the setup's history: move the copy out of the raw tree (labtui "
        "never deletes raw data), then `labtui prune`")


def test_two_runs_in_one_file_are_said_not_only_their_span_judged(lab: Lab) -> None:
    """A run resumed into its file (its data block twice), or a stray row far past the end, was staged complete
    without a note: completeness read only the time column's span and counted only rows too few."""
    sweep, trace = ivg_rows(), it_rows()
    lab.write("a/IVg2025-10-13_1.csv", raw_csv("IVg", rows=sweep + sweep))
    lab.write("a/It2025-10-13_2.csv", raw_csv("It", rows=trace + trace, start=epoch(2025, 10, 13, 11)))
    lab.write("a/It2025-10-13_3.csv", raw_csv("It", rows=[*trace[:10], "99999.0,1e-6,1.15,nan,nan,nan"],
                                             start=epoch(2025, 10, 13, 12)))
    shuffled = sweep[:1] + sweep[5:6] + sweep[2:5] + sweep[1:2] + sweep[6:]  # two rows swapped
    lab.write("a/IVg2025-10-13_4.csv", raw_csv("IVg", rows=shuffled, start=epoch(2025, 10, 13, 13)))
    # not two runs: a time in ms, and a sweep finer than its header's step
    in_ms = [",".join([str(float(row.split(",")[0]) * 1000), *row.split(",")[1:]]) for row in trace]
    lab.write("a/It2025-10-13_5.csv", raw_csv("It", rows=in_ms, start=epoch(2025, 10, 13, 14)))
    lab.write("a/IVg2025-10-13_6.csv", raw_csv("IVg", rows=sweep, params={"VG step": "1 V"},
                                              start=epoch(2025, 10, 13, 15)))
    lab.write("a/IVg2025-10-13_7.csv", raw_csv("IVg", rows=[*sweep[:3], *[sweep[3]] * 20, *sweep[3:]],
                                              start=epoch(2025, 10, 13, 16)))  # one point read 20 times more
    lab.write("a/IVg2025-10-13_8.csv", raw_csv("IVg", rows=sweep, params={"VG step": "5e-324 V"},
                                              start=epoch(2025, 10, 13, 17)))  # no step to leap by: "inf of its steps"
    # a whole sweep coarser than its header's step: complete as swept (it was "aborted: 13 of the 25 rows"), said;
    # cut short at that step, aborted
    lab.write("a/IVg2025-10-13_9.csv", raw_csv("IVg", rows=sweep, params={"VG step": "0.25 V"},
                                              start=epoch(2025, 10, 13, 18)))
    lab.write("a/IVg2025-10-13_10.csv", raw_csv("IVg", rows=sweep[:-3], params={"VG step": "0.25 V"},
                                               start=epoch(2025, 10, 13, 19)))
    report = lab.stage()
    assert lab.run_of("a/IVg2025-10-13_9.csv")["is_complete"]
    assert not lab.run_of("a/IVg2025-10-13_10.csv")["is_complete"]
    assert report.warned.pop("a/IVg2025-10-13_9.csv") == [
        "Vg (V) steps by 0.5 where its header says 0.25: 13 rows for its 25"]
    assert report.warned.pop("a/IVg2025-10-13_10.csv") == [
        "aborted: 10 of the 13 rows its sweep takes at its step of 0.5",
        "Vg (V) steps by 0.5 where its header says 0.25: 10 rows for its 25"]
    assert report.staged == 10 and report.warned.pop("a/IVg2025-10-13_8.csv") == [
        "its header's step of 4.94066e-324 is no step of a -1…1 sweep: judged by its data's"]
    assert report.warned.pop("a/IVg2025-10-13_7.csv") == [
        f"Vg (V) repeats its points (most rows at the value of the row before): {len(sweep) + 20} rows for the "
        f"{len(sweep)} its sweep parameters imply"]
    leap = report.warned.pop("a/IVg2025-10-13_4.csv")
    assert leap[-1].startswith("Vg (V) leaps from ") and leap[-1].endswith(
        "rows out of order, or a sweep resumed elsewhere"), leap
    assert report.warned.pop("a/It2025-10-13_5.csv") == [
        "t (s) spans 3000 where its header promises 3: a time in another unit (ms)?"]
    assert report.warned.pop("a/IVg2025-10-13_6.csv") == [
        "Vg (V) steps by 0.5 where its header says 1: 13 rows for its 7"]
    span = "rows out of order, or two runs in one file (its duration and completeness are read from the span)"
    assert report.warned == {
        "a/IVg2025-10-13_1.csv": [f"{2 * len(sweep)} rows where its sweep parameters imply {len(sweep)}: two sweeps "
                                  "in one file (a run resumed?)"],
        "a/It2025-10-13_2.csv": [f"t (s) goes back from 3 to 0: {span}"],
        "a/It2025-10-13_3.csv": [f"t (s) leaps from 0.9 to 99999: {span}"],
    }


def test_an_it_run_far_longer_than_its_period_names_the_period_too_unless_timed_in_ms(lab: Lab) -> None:
    """`Laser ON+OFF period: 2` meant in minutes, over a 120 s run: its span of 60× the header's length was said to be
    "a time in another unit (ms)?", which would span 1000×; the period is as likely what is off."""
    lab.write("a/It2025-10-13_1.csv", raw_csv("It", params={"Laser ON+OFF period": "2"}, rows=it_rows(120, 1.0)))
    assert lab.stage().warned == {"a/It2025-10-13_1.csv": [
        "t (s) spans 180 where its header promises 3: a time in another unit, or its 'Laser ON+OFF period' of 2 s in "
        "another?"]}
    assert lab.run_of("a/It2025-10-13_1.csv")["is_complete"]


def test_a_run_dated_far_from_its_path_and_a_column_without_a_reading_are_said(lab: Lab) -> None:
    """A header from a computer whose clock was reset (2001 among 2025's runs) and a current that is all NaN were
    staged without a word. An overnight run, a day after its folder's date, is no news; nor is a path without a day
    or a sensor column all NaN (the sensor off, as in every real file)."""
    lab.write("2025-10-13/IVg2025-10-13_1.csv", raw_csv("IVg", start=epoch(2001, 9, 8, 12)))
    lab.write("2025-10-13/It2025-10-13_2.csv", raw_csv("It", start=epoch(2025, 10, 14, 11)))  # overnight
    lab.write("misc/It_3.csv", raw_csv("It", start=epoch(2025, 1, 1, 12)))
    no_current = [",".join([row.split(",")[0], "nan", *row.split(",")[2:]]) for row in it_rows()]
    lab.write("2025-10-13/It2025-10-13_4.csv", raw_csv("It", rows=no_current, start=epoch(2025, 10, 13, 13)))
    report = lab.stage()
    assert report.staged == 4
    assert report.warned == {
        "2025-10-13/IVg2025-10-13_1.csv": [
            "the header's start time is on 2001-09-08, 8,801 days from the 2025-10-13 its path names: the "
            "acquisition computer's clock was off? The run is dated by its header"],
        "2025-10-13/It2025-10-13_4.csv": [
            "no reading in 'I (A)': not one finite value (the instrument off, or not connected?)"],
    }
    [dated] = [finding for finding in validate(lab.config).findings if finding.code == FindingCode.DATED_APART]
    assert dated.severity == "warning" and [item.split()[-1] for item in dated.items] == [
        "2025-10-13/IVg2025-10-13_1.csv"]


def test_incomplete_runs_are_staged_and_flagged(lab: Lab) -> None:
    lab.write("a/It2025-10-13_1.csv", raw_csv("It", rows=it_rows()[:12]))
    lab.write("a/IVg2025-10-13_2.csv", raw_csv("IVg", rows=["0.0,1e-6,nan,nan,nan", "-0.5,1e-6,nan,nan,nan"]))
    report = lab.stage()
    assert report.staged == 2
    assert lab.manifest()["is_complete"].to_list() == [False, False]


def test_completeness_reads_the_period_in_its_unit(lab: Lab) -> None:
    """`Laser ON+OFF period: 2000 ms` is the 2 s period the data covers 1.5 times, not 2000 s."""
    for name, period in (("a/It2025-10-13_1.csv", "2000 ms"), ("a/It2025-10-13_2.csv", "0.0333333334 min")):
        lab.write(name, raw_csv("It", params={"Laser ON+OFF period": period}, start=1760371684.5 + len(name)))
    lab.stage()
    manifest = lab.manifest()
    assert manifest["laser_period_s"].to_list() == pytest.approx([2.0, 2.0]) and manifest["is_complete"].all()


def test_second_run_reads_nothing_and_changes_nothing(lab: Lab) -> None:
    lab.write("a/It2025-10-13_1.csv", raw_csv("It"))
    lab.write("a/IVg2025-10-13_2.csv", raw_csv("IVg", start=1760371784.5))
    lab.write("a/broken.csv", b"garbage")
    first = lab.stage()
    before = tree_snapshot(lab.config.store_root)
    manifest = lab.manifest()
    second = lab.stage()
    assert (second.staged, second.unchanged, second.rejected) == (0, 2, 1)
    assert second.commits == 0
    after = tree_snapshot(lab.config.store_root)
    assert after.pop("_manifest/.lock")[0] == 0  # the lock file is the only thing touched, and left empty
    before.pop("_manifest/.lock")
    assert after == before
    assert lab.manifest().equals(manifest)
    assert first.staged == 2


def test_force_restage_is_identical_apart_from_ingest_times(lab: Lab) -> None:
    lab.write("a/It2025-10-13_1.csv", raw_csv("It"))
    lab.stage()
    parquet = next(lab.config.stage_root.rglob("*.parquet"))
    content = run_content(parquet)
    manifest = lab.manifest()
    assert lab.stage(force=True).staged == 1
    assert run_content(parquet) == content
    volatile = ["ingested_at_utc"]
    assert lab.manifest().drop(volatile).equals(manifest.drop(volatile))


def test_a_touched_file_has_its_new_time_recorded_and_is_not_staged_again(lab: Lab) -> None:
    """A `touch`, or a copy of the raw tree that does not keep times: each file is hashed, found as staged, and its
    row records its new stat; its Parquet and staging time stay (a copied tree was staged again whole)."""
    path = lab.write("a/It2025-10-13_1.csv", raw_csv("It"))
    lab.write("a/IVg2025-10-13_2.csv", raw_csv("IVg", start=1760371784.5))
    lab.stage()
    manifest, parquets = lab.manifest(), tree_snapshot(lab.config.stage_root)
    moved = path.stat().st_mtime_ns - 3600 * 10**9
    os.utime(path, ns=(moved, moved))
    events: list[StageEvent] = []
    report = lab.stage(on_event=events.append)
    assert (report.staged, report.unchanged, report.touched, report.commits) == (0, 2, 1, 1)
    assert "0 staged, 2 unchanged (1 touched: content as staged, new times recorded)," in report.line()
    assert [event.message for event in events if event.source_file == "a/It2025-10-13_1.csv"] == [
        "touched: its content is as staged, its new time recorded"]
    assert any(event.message == "committed 0 runs, 0 rejects, the new times of 1 touched file" for event in events)
    assert tree_snapshot(lab.config.stage_root) == parquets
    after = lab.manifest()
    assert after.drop("source_mtime").equals(manifest.drop("source_mtime"))  # its staging time too
    assert after.filter(pl.col("source_file") == "a/It2025-10-13_1.csv")["source_mtime"].dt.epoch("us").item() \
        == moved // 1000
    again = lab.stage()
    assert (again.staged, again.unchanged, again.touched, again.commits) == (0, 2, 0, 0)
    assert FindingCode.RAW_TOUCHED not in {finding.code for finding in validate(lab.config).findings}
    os.utime(path, ns=(moved - 10**9,) * 2)
    listed = json.loads(lab.cli("stage", "--json").stdout)
    assert (listed["staged"], listed["unchanged"], listed["touched"]) == (0, 2, 1)


def test_a_touched_file_is_staged_again_when_its_run_needs_it(lab: Lab) -> None:
    """Only touched, but its Parquet gone, cut or another run's: staged again (a re-stage had restored it, and still
    does); `--force` stages it again as asked; a file broken since staging and restored as it was loses its reject,
    as when staged."""
    path = lab.write("a/It2025-10-13_1.csv", raw_csv("It"))
    lab.write("a/It2025-10-13_2.csv", raw_csv("It", start=1760371784.5))
    lab.stage()
    parquet = run_parquet_path(lab.config.stage_root, **{key: lab.run_of("a/It2025-10-13_1.csv")[key]
                                                         for key in ("proc", "date_local", "run_id")})
    other = run_parquet_path(lab.config.stage_root, **{key: lab.run_of("a/It2025-10-13_2.csv")[key]
                                                       for key in ("proc", "date_local", "run_id")})
    whole, data = parquet.read_bytes(), pl.read_parquet(parquet)
    stamp = path.stat().st_mtime_ns
    damages = (parquet.unlink, lambda: os.truncate(parquet, len(whole) // 2), lambda: shutil.copy(other, parquet),
               lambda: None)
    forced = {"force": True}  # every file, the other too
    for step, (damage, options) in enumerate(zip(damages, ({}, {}, {}, forced), strict=True), start=1):
        damage()
        os.utime(path, ns=(stamp - step * 10**9,) * 2)
        report = lab.stage(**options)
        assert (report.staged, report.touched) == (2 if options else 1, 0) and pl.read_parquet(parquet).equals(data)
        assert read_run_record(parquet)["row"]["source_mtime"] == lab.run_of("a/It2025-10-13_1.csv")[
            "source_mtime"].isoformat().replace("+00:00", "Z")
    good = path.read_bytes()
    path.write_bytes(b"#Procedure: <laser_setup.procedures.It.It>\r\n")
    assert lab.stage().rejected == 1 and set(lab.rejects()) == {"a/It2025-10-13_1.csv"}
    path.write_bytes(good)
    os.utime(path, ns=(stamp - 10 * 10**9,) * 2)
    report = lab.stage()
    assert (report.staged, report.touched, report.rejected) == (0, 1, 0) and lab.rejects() == {}
    assert lab.stage().unchanged == 2


def test_modified_file_is_restaged_in_place(lab: Lab) -> None:
    path = lab.write("a/It2025-10-13_1.csv", raw_csv("It", rows=it_rows()[:5]))
    lab.stage()
    run_id = only_row(lab)["run_id"]
    path.write_bytes(raw_csv("It"))
    os.utime(
        path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns - 1_000_000)
    )  # a future mtime would read as busy
    report = lab.stage()
    assert report.staged == 1
    row = only_row(lab)
    assert row["run_id"] == run_id and row["n_rows"] == len(it_rows()) and row["is_complete"]


def test_start_time_change_replaces_the_old_run_and_its_parquet(lab: Lab) -> None:
    path = lab.write("a/It2025-10-13_1.csv", raw_csv("It"))
    lab.stage()
    old = only_row(lab)
    path.write_bytes(raw_csv("It", start=1760371999.0))
    report = lab.stage()
    new = only_row(lab)
    assert new["run_id"] != old["run_id"]
    folders = [p.name for p in lab.config.stage_root.rglob("run_id=*")]
    assert folders == [f"run_id={new['run_id']}"]
    # said: another measurement copied over the file (an acquisition PC that restarted its numbering) took the
    # old run's data out of the store with `1 staged` alone; its Parquet, maybe the last copy of it, was deleted
    assert report.warned == {"a/It2025-10-13_1.csv": [
        f"replaces the file's staged run {old['run_id']} (It, started {old['start_time_utc']:%Y-%m-%d %H:%M:%S} "
        f"UTC, {old['n_rows']} rows): its start time is now 2025-10-13 16:13:19 UTC. Its Parquet is set aside in "
        "the store's _quarantine/…-replaced-runs/: if another measurement was copied over the file, the old one's "
        "data are there; restore its raw file from a backup under a name of its own"]}
    (kept,) = lab.config.store_root.glob(f"_quarantine/*-replaced-runs/*/proc=It/*/run_id={old['run_id']}")
    assert pl.read_parquet(kept / "part-000.parquet").height == old["n_rows"]
    assert lab.stage().warned == {}  # said once


def test_a_replaced_run_that_cannot_be_set_aside_is_left_for_validate(lab: Lab) -> None:
    """A `_quarantine` that cannot be written (another user's, a file): the replaced run's folder stays in the stage
    root (the stage does not fail after its commit, nor delete the data), and validate names it and sets it aside
    once it can."""
    path = lab.write("a/It2025-10-13_1.csv", raw_csv("It"))
    lab.stage()
    old = only_row(lab)
    (lab.store_root / "_quarantine").write_text("not a folder")
    path.write_bytes(raw_csv("It", start=1760371999.0))
    lab.stage()
    assert f"run_id={old['run_id']}" in [p.name for p in lab.config.stage_root.rglob("run_id=*")]
    assert lab.stage().staged == 0  # the next stages are not blocked by it
    (lab.store_root / "_quarantine").unlink()
    report = validate(lab.config)
    assert [f.code for f in report.findings if f.severity != "info"] == ["orphan_parquet"]
    apply_fixes(lab.config, report)
    assert [p.name for p in lab.config.stage_root.rglob("run_id=*")] == [f"run_id={only_row(lab)['run_id']}"]
    assert list(lab.store_root.glob(f"_quarantine/*/*/proc=It/*/run_id={old['run_id']}"))


def test_a_replaced_run_s_annotations_are_said_left_behind(lab: Lab) -> None:
    """A file re-timed (the acquisition PC's clock corrected) stages a new run_id: its exclusion stayed with the old
    one, unsaid, and the run was counted in every mean until someone ran `validate --fix`."""
    path = lab.write("a/It2025-10-13_1.csv", raw_csv("It"))
    lab.stage()
    old = only_row(lab)
    annotate(lab.config.store_root, lab.manifest(), [Change("exclude", "contact lost"), Change("star")], author="ana")
    path.write_bytes(raw_csv("It", start=1760371999.0))
    (note,) = lab.stage().warned["a/It2025-10-13_1.csv"]
    assert f"UTC. Its annotations (★  ⊘ contact lost) stay with run {old['run_id']}, not on the new one: `labtui " \
           "validate --fix` carries them over (for the same measurement re-timed, not another one copied over the " \
           "file). Its Parquet is set aside" in note
    annotate(lab.config.store_root, lab.manifest(), [Change("exclude", "contact lost")], author="ana")
    path.write_bytes(raw_csv("IVg", start=1760371999.0))  # another procedure at the same start: the same run_id
    (note,) = lab.stage().warned["a/It2025-10-13_1.csv"]
    assert "it now holds an IVg run. Its annotations (⊘ contact lost) now mark the new run, which keeps its " \
           f"run_id: `labtui annotate --run {only_row(lab)['run_id']} --include` takes them back if they were of " \
           "the old measurement alone." in note
    assert main(lab.args("annotate", "--run", only_row(lab)["run_id"], "--include")) == 0  # the command, as said


@pytest.mark.parametrize("proc", ["It", "LaserCalibration"])
def test_another_procedure_written_over_a_staged_file_is_said_not_taken_for_a_cut(lab: Lab, proc: str) -> None:
    """An It run written over a staged IVg at the same start replaced the sweep with `1 staged` alone, and a
    calibration (fewer rows) was refused as the sweep "cut short", `restage --force` advised. Another procedure is
    another measurement: staged, the old run named as the one it replaces."""
    path = lab.write("a/IVg2025-10-13_1.csv", raw_csv("IVg"))
    lab.stage()
    old = only_row(lab)
    path.write_bytes(raw_csv(proc))
    report = lab.stage()
    new = only_row(lab)
    assert (report.staged, report.rejected, new["proc"], new["run_id"]) == (1, 0, proc, old["run_id"])
    assert report.warned["a/IVg2025-10-13_1.csv"][-1].startswith(
        f"replaces the file's staged run {old['run_id']} (IVg, started {old['start_time_utc']:%Y-%m-%d %H:%M:%S} UTC, "
        f"{old['n_rows']} rows): it now holds {'an' if proc == 'It' else 'a'} {proc} run. If another measurement was "
        "copied over the file")
    assert [p.parent.parent.name for p in lab.config.stage_root.rglob("run_id=*")] == [f"proc={proc}"]
    assert validate(lab.config).ok


def test_reject_then_fixed_removes_the_reject_record(lab: Lab) -> None:
    path = lab.write("a/It2025-10-13_1.csv", raw_csv("It", start=None))
    report = lab.stage()
    assert report.rejected == 1
    record = lab.rejects()["a/It2025-10-13_1.csv"]
    assert record.kind == "no_start_time" and record.source_size == path.stat().st_size
    path.write_bytes(raw_csv("It"))
    report = lab.stage()
    assert (report.staged, report.rejected) == (1, 0)
    assert lab.rejects() == {}
    assert list(lab.config.rejects_dir.iterdir()) == []


def test_staged_file_that_breaks_becomes_a_reject_and_its_run_stays_staged(lab: Lab) -> None:
    """A raw file truncated or overwritten after staging: the store's copy may be the only good one left, so its
    run stays (as a deleted file's does) and the reject says so; the next stage has nothing to do, and a repaired
    file replaces the run."""
    path = lab.write("a/It2025-10-13_1.csv", raw_csv("It"))
    lab.stage()
    row = only_row(lab)
    before = sorted(lab.config.stage_root.rglob("*.parquet"))
    path.write_bytes(b"#Procedure: <laser_setup.procedures.It.It>\r\n")
    events: list[StageEvent] = []
    report = lab.stage(on_event=events.append)
    assert report.rejected == 1 and "its last good content stays staged" in report.new_rejects[0].describe()
    said = [event.message for event in events if event.source_file == "a/It2025-10-13_1.csv"]
    assert said and "its last good content stays staged" in said[0]  # the app's stage log says it too
    assert only_row(lab) == row and sorted(lab.config.stage_root.rglob("*.parquet")) == before
    assert lab.rejects()["a/It2025-10-13_1.csv"].previous_run_id == row["run_id"]
    again = lab.stage()
    assert (again.staged, again.rejected, again.new_rejects) == (0, 1, [])
    codes = {finding.code for finding in validate(lab.config).findings}
    assert FindingCode.REJECTS in codes and FindingCode.RAW_CHANGED not in codes
    moved = lab.raw.parent / "elsewhere.csv"  # the same content moved off the raw tree, a link left in its place:
    moved.write_bytes(raw_csv("It"))
    path.unlink()
    path.symlink_to(moved)  # a reject (links are not followed) whose content is the run's, not a touched raw file
    assert lab.stage().rejected == 1 and only_row(lab) == row
    findings = {finding.code: finding for finding in validate(lab.config).findings}
    assert FindingCode.RAW_TOUCHED not in findings and FindingCode.RAW_CHANGED not in findings
    path.unlink()
    lab.write("a/It2025-10-13_1.csv", raw_csv("It", rows=it_rows()[:5]), mtime=time.time() - 60)  # restored, say,
    # from a partial copy a minute ago (written within 30 s, it is busy: being saved still?):
    assert [r.kind for r in lab.stage().new_rejects] == ["cut_short"] and only_row(lab) == row  # still not taken
    assert lab.stage(only=[path], take_cut_short=True).staged == 1 and lab.rejects() == {}  # until it is named
    assert only_row(lab)["run_id"] == row["run_id"] and only_row(lab)["n_rows"] == 5


def test_deleted_raw_file_keeps_its_run_and_drops_a_stale_reject(lab: Lab) -> None:
    good = lab.write("a/It2025-10-13_1.csv", raw_csv("It"))
    bad = lab.write("a/bad.csv", b"nope")
    lab.stage()
    good.unlink()
    bad.unlink()
    lab.stage()
    assert lab.manifest().height == 1
    assert lab.rejects() == {}


def test_settle_window_defers_fresh_files_as_busy(lab: Lab) -> None:
    lab.write("a/It2025-10-13_1.csv", raw_csv("It"))
    report = lab.stage(settle_seconds=3600)
    assert (report.busy, report.staged) == (1, 0)
    assert lab.manifest().height == 0 and lab.rejects() == {}


def test_a_file_dated_in_the_future_is_not_deferred_past_the_settle_window(lab: Lab) -> None:
    """An mtime ahead of the clock (the acquisition PC's clock runs ahead, a copy kept it) was `busy` until the clock
    caught up: with no settle time at all, and in watch mode, which stages with none."""
    now = time.time()
    lab.write("a/It2025-10-13_1.csv", raw_csv("It"), mtime=now + 86_400)
    lab.write("a/It2025-10-13_2.csv", raw_csv("It", start=1760371999.0), mtime=now + 30)
    assert (lab.stage(settle_seconds=60).busy, lab.manifest()["source_file"].to_list()) == (1, ["a/It2025-10-13_1.csv"])
    assert (lab.stage(settle_seconds=0).staged, lab.manifest().height) == (1, 2)


def test_a_file_named_with_an_index_past_a_64_bit_integer_is_staged(lab: Lab) -> None:
    """It was rejected ('header values out of range: file_idx'): the index of a name orders runs, nothing more."""
    lab.write("a/It2025-10-13_" + "9" * 20 + ".csv", raw_csv("It"))
    assert (lab.stage().staged, lab.rejects()) == (1, {})
    assert lab.manifest()["file_idx"].to_list() == [None]


def test_a_file_named_with_a_dot_or_a_blank_after_csv_keeps_its_index(lab: Lab) -> None:
    """`It…_3.csv.` staged (Windows drops the dot, a share keeps it) without the index its name gives."""
    for index, end in ((3, "."), (4, " "), (5, "\t")):
        lab.write(f"a/It2025-10-13_{index}.csv{end}", raw_csv("It", start=1760371684.0 + index))
    assert lab.stage().staged == 3
    assert sorted(lab.manifest()["file_idx"].to_list()) == [3, 4, 5]


def test_file_that_changes_between_scan_and_read_is_busy(lab: Lab) -> None:
    path = lab.write("a/It2025-10-13_1.csv", raw_csv("It"))
    info = path.stat()
    stale = Candidate("a/It2025-10-13_1.csv", path, info.st_size - 10, info.st_mtime_ns, False)
    with ChunkWorker(lab.config, load_registry(), "test", None, claim=lambda row, last_line: None,
                     cancel=threading.Event()) as worker:
        [(_, result)] = worker.stage([stale])
    assert isinstance(result, Busy)
    assert not list(lab.config.stage_root.rglob("*.parquet"))


def test_chunks_keep_case_twins_together_and_bound_files_and_bytes() -> None:
    def cand(name: str, size: int = 10) -> Candidate:
        return Candidate(name, Path(name), size, 0, False)

    names = ["a/1.csv", "a/2.csv", "a/3.csv", "a/X.csv", "a/x.csv", "a/4.csv"]
    names_by_chunk = [[c.source_file for c in chunk] for chunk in chunks([cand(n) for n in names], max_files=4)]
    assert names_by_chunk == [["a/1.csv", "a/2.csv", "a/3.csv"], ["a/X.csv", "a/x.csv", "a/4.csv"]]
    big = [cand("a/big.csv", CHUNK_BYTES), cand("a/small.csv"), cand("a/other.csv")]
    assert [len(chunk) for chunk in chunks(big, max_files=16)] == [1, 2]
    assert list(chunks([], max_files=4)) == []


def test_one_chunk_of_good_and_bad_files_stages_each_as_it_would_alone(tmp_path: Path) -> None:
    """One worker reads all six files as one chunk: a file Polars cannot read fails the chunk's single query, and
    then each file is read alone, so the bad one is rejected with its line and the others stage unchanged."""
    lab = Lab(tmp_path, workers=1, mtime=OLD_MTIME)  # written long ago: the cut one is no run being recorded
    good = [raw_csv("It", start=epoch(2025, 10, 13, 10, n)) for n in range(3)]
    bad_token = raw_csv("It", start=epoch(2025, 10, 13, 11), rows=[*it_rows()[:3], "0.3,abc,0,nan,nan,nan"])
    blank_line = raw_csv("It", start=epoch(2025, 10, 13, 12), rows=[*it_rows()[:2], "", *it_rows()[2:4]])
    names = [f"a/It2025-10-13_{n}.csv" for n in range(1, 7)]
    for name, data in zip(names, [good[0], bad_token, good[1], blank_line, good[2], good[0][:-40]], strict=True):
        lab.write(name, data)
    report = lab.stage()
    assert report.staged == 5 and report.rejected == 1, report.line()
    (reject,) = lab.rejects().values()
    assert reject.source_file == names[1] and reject.kind == "bad_value" and "'abc'" in reject.reason
    assert reject.line == len(bad_token.decode().splitlines())
    manifest = lab.manifest()
    for name in (names[0], names[3], names[5]):
        row = manifest.filter(pl.col("source_file") == name).row(0, named=True)
        stored = pl.read_parquet(run_parquet_path(lab.config.stage_root, "It", row["date_local"], row["run_id"]))
        data = (lab.raw / name).read_bytes()
        alone, _ = parse_data(data, parse_header(data, load_registry(), Path(name).stem))
        assert stored.equals(alone) and stored.height == (4 if name == names[3] else alone.height)


def test_write_temps_leaves_no_temp_file_nor_folder_it_made_when_the_write_fails(tmp_path: Path) -> None:
    """A full disk left the folders an export had made for its files (`export metadata`'s day folders), empty."""
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "kept.txt").write_text("the lab's own")
    targets = [tmp_path / "a" / "deep" / "one.parquet", tmp_path / "b" / "two.parquet"]

    def write_one_then_fail(temps: list[Path]) -> None:
        temps[0].write_bytes(b"half")
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError):
        write_temps(targets, write_one_then_fail)
    assert sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*")) == ["b", "b/kept.txt"]
    temps = write_temps(targets, lambda temps: [temp.write_bytes(b"x") for temp in temps])  # no temp_dir: beside
    assert [temp.parent for temp in temps] == [target.parent for target in targets]
    assert all(is_temp(temp.name) for temp in temps)


def test_a_temp_files_name_fits_a_file_name_and_stays_utf8_where_its_name_is(tmp_path: Path) -> None:
    """A 250-byte `--out` name was refused ("File name too long": its temp file's was longer); cut to fit, a name of
    accented letters was cut inside one, which APFS and SMB shares refuse; a name of bytes that are no UTF-8 keeps
    them."""
    from labtui.core.atomic import temp_path_for

    for name in ("a" * 250 + ".pdf", "é" * 123 + ".pdf", os.fsdecode(b"caf\xe9" * 60 + b".csv")):
        temp = temp_path_for(tmp_path / name)
        assert len(os.fsencode(temp.name)) <= 255 and is_temp(temp.name)
        temp.write_bytes(b"x")  # the file system takes it
        if name.isascii() or "é" in name:
            os.fsencode(temp.name).decode("utf-8")  # whole characters


def test_candidates_ignore_hidden_junk_and_non_csv(lab: Lab) -> None:
    lab.write("a/It2025-10-13_1.CSV", raw_csv("It"))
    lab.write("a/.DS_Store", b"\x00\x01")
    lab.write("a/.hidden.csv", raw_csv("It"))
    lab.write(".git/x.csv", raw_csv("It"))
    # a file server's or an OS's own folders: a run the lab deleted (in the recycle bin), or every run again (a
    # snapshot), staged as runs of their own
    for system in ("#recycle/a", "#snapshot/GMT+01-2025.10.14-12.00.00/a", "@eaDir", "@Recycle",
                   "$RECYCLE.BIN/S-1-5-21", "$Recycle.Bin", "System Volume Information"):
        lab.write(f"{system}/It2025-10-13_2.csv", raw_csv("It"))
    lab.write("a/notes.txt", b"hello")
    (lab.raw / "a" / "folder.csv").mkdir()
    os.mkfifo(lab.raw / "a" / "pipe.csv")
    assert [c.source_file for c in scan_raw(lab.raw)] == ["a/It2025-10-13_1.CSV"]


def test_symlinks_are_rejected_not_followed(lab: Lab, tmp_path: Path) -> None:
    outside = tmp_path / "outside.csv"
    outside.write_bytes(raw_csv("It"))
    lab.write("a/It2025-10-13_1.csv", raw_csv("It"))
    (lab.raw / "a" / "link.csv").symlink_to(outside)
    (lab.raw / "dirlink").symlink_to(tmp_path)
    report = lab.stage()
    assert (report.staged, report.rejected) == (1, 1)
    assert lab.rejects()["a/link.csv"].kind == "symlink"


def test_case_twins_with_one_start_time_are_one_run(lab: Lab) -> None:
    lab.write("a/It2025-10-13_1.csv", raw_csv("It"))
    lab.write("a/IT2025-10-13_1.csv", raw_csv("It"))
    report = lab.stage()
    assert (report.staged, report.rejected) == (1, 1)
    (record,) = lab.rejects().values()
    assert record.kind == "duplicate_run" and "letter case" in record.reason


def test_a_case_twin_with_an_upper_case_extension_leaves_the_run_to_the_acquisitions_file(lab: Lab) -> None:
    """An 8.3/FAT-style copy `…_1.CSV` beside its original `…_1.csv`: the copy, first in name order, took the run,
    and the acquisition's own file was the one rejected."""
    lab.write("a/IVg2025-10-15_1.csv", raw_csv("IVg"))
    lab.write("a/IVg2025-10-15_1.CSV", raw_csv("IVg"))
    lab.stage()
    assert lab.manifest()["source_file"].to_list() == ["a/IVg2025-10-15_1.csv"]
    assert lab.rejects()["a/IVg2025-10-15_1.CSV"].owner_file == "a/IVg2025-10-15_1.csv"


def test_a_case_twin_takes_the_run_once_the_file_that_owned_it_is_gone(lab: Lab) -> None:
    """A twin's reject depends on another file: moved away, the twin is read again and staged, not left rejected
    for a file no longer there (and `prune` then dropped the run with both files' data gone from the store).
    While the owner is there and as staged, the twin's reject holds without a read."""
    twin = lab.write("a/It2025-10-13_1.csv", raw_csv("It"))
    lab.write("a/IT2025-10-13_1.csv", raw_csv("It"))  # the first in name order: it owns the run
    lab.stage()
    (record,) = lab.rejects().values()
    assert record.owner_file == "a/IT2025-10-13_1.csv"
    assert lab.stage().counts[Outcome.REJECTED] == 1  # unchanged, and so is its owner: not read
    assert pending_files(lab.config, lab.manifest()) == Waiting([], 0)
    (lab.raw / "a" / "IT2025-10-13_1.csv").rename(lab.root / "moved.csv")
    assert pending_files(lab.config, lab.manifest()).files == ["a/It2025-10-13_1.csv"]
    report = lab.stage()
    assert (report.staged, report.rejected) == (1, 0) and lab.rejects() == {}
    assert lab.manifest()["source_file"].to_list() == [twin.relative_to(lab.raw).as_posix()]


def test_a_case_twins_reject_holds_while_the_file_owning_the_run_is_broken(lab: Lab) -> None:
    """The owner broken since (rejected, its run kept): the twin was read again, and rejected again, at every stage,
    the manifest rewritten each time (the store's state machine found it). Its reject holds as the owner's does."""
    lab.write("a/It2025-10-13_1.csv", raw_csv("It"))
    lab.write("a/IT2025-10-13_1.csv", raw_csv("It"))
    lab.stage()
    lab.write("a/IT2025-10-13_1.csv", raw_csv("It").replace(b"I (A)", b"Q (A)"))  # the owner loses its current
    report = lab.stage()  # the twin read once more: its owner changed
    assert sorted(record.kind for record in report.new_rejects) == ["duplicate_run", "missing_column"]
    manifest = lab.config.manifest_path.read_bytes()
    again = lab.stage()
    assert (again.staged, again.new_rejects, again.counts[Outcome.REJECTED]) == (0, [], 2)
    assert lab.config.manifest_path.read_bytes() == manifest
    assert pending_files(lab.config, lab.manifest()) == Waiting([], 0)


def test_restage_only_reads_the_given_files(lab: Lab) -> None:
    a = lab.write("a/It2025-10-13_1.csv", raw_csv("It"))
    lab.stage()
    lab.write("a/It2025-10-13_2.csv", raw_csv("It", start=1760371999.0))
    report = lab.stage(only=[a])
    assert (report.staged, report.unchanged) == (1, 0)
    assert lab.manifest().height == 1
    with pytest.raises(ValueError, match="not under the raw root"):
        Stager(lab.config, only=[lab.root / "elsewhere.csv"])


def test_restage_reads_a_named_file_edited_in_place_with_its_mtime_put_back(lab: Lab) -> None:
    """Size and mtime as staged, content not: `restage FILE` hashes the files it is given before calling one
    unchanged (it said "0 staged, 1 unchanged" while only `validate --hash` saw the edit)."""
    a = lab.write("a/It2025-10-13_1.csv", raw_csv("It"))
    b = lab.write("a/It2025-10-13_2.csv", raw_csv("It", start=1760371999.0))
    lab.stage()
    before = os.stat(a)
    a.write_bytes(a.read_bytes().replace(b"Sample: other", b"Sample: 0ther"))
    os.utime(a, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert lab.stage().staged == 0  # a stage of the tree trusts size and mtime, as documented
    report = lab.stage(only=[a, b], force=False)
    assert (report.staged, report.unchanged) == (1, 1)
    assert lab.manifest().filter(pl.col("source_file") == "a/It2025-10-13_1.csv")["parameters"].str.contains(
        "0ther").to_list() == [True]


def test_events_and_periodic_commits(lab: Lab) -> None:
    """One worker, three chunks: two are in flight at first and the third is handed out after the first periodic
    commit, so a stage commits at least twice however fast the worker is (with every chunk in flight at once, a
    loaded machine could finish them all before the first commit)."""
    files = 2 * CHUNK_FILES + 1
    for idx in range(1, files + 1):
        lab.write(f"a/It2025-10-13_{idx}.csv", raw_csv("It", start=1760371684.0 + 200 * idx))
    events: list[StageEvent] = []
    config = replace(lab.config, commit_interval_seconds=1e-9, workers=1)
    report = Stager(config, on_event=events.append).run()
    kinds = [event.kind for event in events]
    assert kinds[0] == "scan" and kinds[-1] == "done"
    file_events = [event for event in events if event.kind == "file"]
    assert [event.done for event in file_events] == list(range(1, files + 1))
    assert all(event.outcome is Outcome.STAGED for event in file_events)
    assert report.commits >= 2 and kinds.count("commit") == report.commits
    assert events[-1].counts[Outcome.STAGED] == files


class Overlap:
    """Wraps ChunkWorker methods to record how many threads are inside them at once."""

    def __init__(self) -> None:
        self.inside: set[int] = set()
        self.threads: set[int] = set()
        self.most = 0
        self.guard = threading.Lock()

    def watch(self, step: Callable[[ChunkWorker, object], None]) -> Callable[[ChunkWorker, object], None]:
        def run(self_: ChunkWorker, file: object) -> None:
            me = threading.get_ident()
            with self.guard:
                self.inside.add(me)
                self.threads.add(me)
                self.most = max(self.most, len(self.inside))
            threading.Event().wait(0.005)  # long enough for a second thread to get in, were it let
            step(self_, file)
            with self.guard:
                self.inside.discard(me)

        return run


def test_one_thread_at_a_time_runs_the_python_phases_and_the_reads_overlap(
    lab: Lab, monkeypatch: pytest.MonkeyPatch
) -> None:
    for idx in range(1, 13):
        lab.write(f"a/It2025-10-13_{idx}.csv", raw_csv("It", start=1760371684.0 + 200 * idx))
    python, reads = Overlap(), Overlap()
    for name in ("_header", "_make_row", "_derive"):
        monkeypatch.setattr(ChunkWorker, name, python.watch(getattr(ChunkWorker, name)))
    monkeypatch.setattr(ChunkWorker, "_read", reads.watch(ChunkWorker._read))
    report = Stager(replace(lab.config, workers=3)).run()
    assert report.staged == 12
    assert len(python.threads) >= 2 and python.most == 1
    assert reads.most >= 2  # on a network share, reads wait on the server: in parallel


def test_the_metrics_are_computed_during_the_write_and_a_bug_there_leaves_no_temp_file(
    lab: Lab, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The chunk's Parquet is written in a helper thread while the worker computes its metrics; a bug in a metric
    surfaces as itself, once the write has ended (its temp files then removed, none left being written)."""
    for idx in range(1, 5):
        lab.write(f"a/It2025-10-13_{idx}.csv", raw_csv("It", start=1760371684.0 + 200 * idx))
    writers_alive: list[bool] = []

    def broken(*args: object) -> None:
        writers_alive.append(any(thread.name.startswith("labtui-write") for thread in threading.enumerate()))
        raise RuntimeError("a bug in a metric")

    monkeypatch.setattr(metrics, "from_data", broken)
    with pytest.raises(RuntimeError, match="a bug in a metric"):
        Stager(replace(lab.config, workers=1)).run()
    assert writers_alive and all(writers_alive)
    assert temp_files(lab.store_root) == [] and not lab.config.manifest_path.exists()
    monkeypatch.undo()
    assert lab.stage().staged == 4


def test_cancel_leaves_a_consistent_store_and_the_rest_stages_later(lab: Lab) -> None:
    for idx in range(1, 21):
        lab.write(f"a/It2025-10-13_{idx}.csv", raw_csv("It", start=1760371684.0 + 200 * idx))
    cancel = threading.Event()

    def on_event(event: StageEvent) -> None:
        if event.kind == "file" and event.done == 3:
            cancel.set()

    config = replace(lab.config, workers=1)
    report = Stager(config, on_event=on_event, cancel=cancel).run()
    assert report.cancelled and 3 <= report.staged < 20
    manifest = lab.manifest()
    assert manifest.height == report.staged
    for row in manifest.iter_rows(named=True):
        assert (
            pl.read_parquet(
                run_parquet_path(lab.config.stage_root, row["proc"], row["date_local"], row["run_id"])
            ).height
            == row["n_rows"]
        )
    assert not (lab.config.manifest_dir / ".dirty").exists()
    rest = lab.stage()
    assert rest.staged == 20 - report.staged and lab.manifest().height == 20


def test_a_run_being_recorded_is_deferred_until_its_cut_row_is_old(lab: Lab) -> None:
    """A plain stage between two of the acquisition's writes took the run being measured for an aborted one. A file
    whose last row is cut and that was written seconds ago is busy, and says so; one cut long ago (an acquisition
    that stopped mid-row) stages, its cut row dropped and said. A file that ends with its row is judged as ever. A
    mtime up to an hour ahead of this computer's clock (a share's clock ahead) is as fresh."""
    cut = raw_csv("It")[:-20]
    lab.write("a/It2025-10-13_1.csv", cut)
    live = lab.raw / "a/It2025-10-13_1.csv"
    now = time.time()
    os.utime(live, (now, now))
    report = lab.stage()
    assert report.staged == 0 and re.fullmatch(  # 0 s ago on a quiet machine
        r"its last row is cut and it was written ([0-9]|1[0-9]) s ago: still being recorded\? Staged once it is 30 s "
        r"old", report.busy_files["a/It2025-10-13_1.csv"])
    assert "busy a/It2025-10-13_1.csv: its last row is cut" in lab.cli("stage").stdout  # which file, and why
    listed = json.loads(lab.cli("stage", "--json").stdout)
    assert listed["busy"] == 1 and listed["busy_files"][0]["source_file"] == "a/It2025-10-13_1.csv"  # the count kept
    ahead_at = time.time() + 600  # a share whose clock is ahead: its mtime was taken for an old one
    os.utime(live, (ahead_at, ahead_at))
    ahead = lab.stage().busy_files["a/It2025-10-13_1.csv"]
    assert re.match(r"its last row is cut and it was written (58[0-9]|59[0-9]|600) s ahead of this computer's clock "
                    r"\(the share's clock ahead\?\): still being recorded\?", ahead), ahead
    os.utime(live, (now - 31, now - 31))
    report = lab.stage()
    assert report.staged == 1 and "the last line was unterminated" in report.warned["a/It2025-10-13_1.csv"][0]

def test_a_run_short_of_its_end_and_begun_lately_is_deferred_while_written(lab: Lab) -> None:
    """The run being measured, read between two whole rows, was staged as an aborted run (the app's `s` staged the
    very file its dashboard listed as measuring now). Short of its end, begun lately and written seconds ago, it is
    busy; written 31 s ago (the acquisition stopped), it stages as aborted. An old run short of its end in a backlog
    copied a moment ago stages at once; so does a whole run just written, and one written ahead of this computer's
    clock (a share's clock ahead: deferred until the clock caught up, up to an hour)."""
    now = time.time()
    lab.write("a/It2025-10-13_1.csv", raw_csv("It", start=now - 60, rows=it_rows()[:5]), mtime=now)
    lab.write("a/It2025-10-13_2.csv", raw_csv("It", start=now - 3 * 86400, rows=it_rows()[:5]), mtime=now)
    lab.write("a/It2025-10-13_3.csv", raw_csv("It", start=now - 600), mtime=now)
    lab.write("a/It2025-10-13_4.csv", raw_csv("It", start=now - 900, rows=it_rows()[:5]), mtime=now + 1200)
    report = lab.stage()
    assert report.staged == 3 and list(report.busy_files) == ["a/It2025-10-13_1.csv"]
    assert report.busy_files["a/It2025-10-13_1.csv"] == ("its run has not reached its end and it was written 0 s ago: "
                                                         "still being measured (or saved)? Staged once it is 30 s old")
    os.utime(lab.raw / "a/It2025-10-13_1.csv", (now - 31, now - 31))
    assert lab.stage().staged == 1
    assert lab.manifest().sort("source_file")["is_complete"].to_list() == [False, False, True, False]



def test_a_file_renamed_while_staging_is_deferred_not_rejected(lab: Lab) -> None:
    """A name gone since the scan was a reject ("cannot be read: No such file or directory") for a file that no
    longer exists; the new name stages at the next run."""
    for idx in (1, 2):
        lab.write(f"a/It2025-10-13_{idx}.csv", raw_csv("It", start=1760371684.0 + 200 * idx))
    old, new = lab.raw / "a/It2025-10-13_2.csv", lab.raw / "a/It2025-10-13_3.csv"

    def on_event(event: StageEvent) -> None:
        if event.kind == "scan":
            old.rename(new)

    report = Stager(replace(lab.config, workers=1), on_event=on_event).run()
    assert (report.staged, report.rejected, list(report.busy_files)) == (1, 0, ["a/It2025-10-13_2.csv"])
    assert lab.stage().staged == 1 and lab.manifest().height == 2 and lab.rejects() == {}


def test_second_writer_fails_fast_with_the_lock_exit_code(lab: Lab, capsys: pytest.CaptureFixture[str]) -> None:
    lab.write("a/It2025-10-13_1.csv", raw_csv("It"))
    holder = WriterLock(lab.config.lock_path, command="labtui stage (test holder)")
    holder.acquire(0)
    try:
        before = tree_snapshot(lab.root)
        code = main(["stage", "--config", str(lab.root / "config" / "labtui.yaml"), "--lock-timeout", "0", "-q"])
        assert code == EXIT_LOCKED
        assert "test holder" in capsys.readouterr().err
        assert tree_snapshot(lab.root) == before
    finally:
        holder.release()
    assert main(["stage", "--config", str(lab.root / "config" / "labtui.yaml"), "-q"]) == 0


def test_crash_leftovers_are_swept_by_the_next_writer(lab: Lab) -> None:
    lab.write("a/It2025-10-13_1.csv", raw_csv("It"))
    lab.stage()
    orphan = lab.config.stage_root / "proc=It" / "date=2025-01-01" / "run_id=0123456789abcdef"
    orphan.mkdir(parents=True)
    (orphan / "part-000.parquet").write_bytes(b"half")
    temp = lab.config.manifest_dir / ".manifest.parquet.abc.tmp"
    temp.write_bytes(b"torn")
    (lab.config.manifest_dir / ".dirty").write_text("123")
    lab.stage()
    assert not orphan.exists() and not orphan.parent.exists() and not temp.exists()
    assert not (lab.config.manifest_dir / ".dirty").exists()
    assert lab.manifest().height == 1


def test_raw_tree_is_never_modified(lab: Lab) -> None:
    lab.write("a/It2025-10-13_1.csv", raw_csv("It"))
    lab.write("a/bad.csv", b"\x00bad")
    lab.write("b/IVg2025-10-14_1.csv", raw_csv("IVg"))
    before = tree_snapshot(lab.raw)
    lab.stage()
    lab.stage(force=True)
    assert tree_snapshot(lab.raw) == before
    assert sorted(p.name for p in lab.raw.rglob("*")) == sorted(
        ["a", "b", "It2025-10-13_1.csv", "bad.csv", "IVg2025-10-14_1.csv"]
    )


@pytest.mark.realdata
def test_real_data_stages_completely_and_faithfully(real_raw: Path, tmp_path: Path) -> None:
    from labtui.core.config import load_config
    from labtui.core.parser import parse_header
    from labtui.core.registry import load_registry
    from labtui.core.stager import stage

    before = tree_snapshot(real_raw)
    config = load_config(None, raw_root=real_raw, stage_root=tmp_path / "stage" / "raw_measurements")
    report = stage(config)
    assert [r.source_file for r in report.new_rejects] == ["Alisson_25_sept/It2025-09-25_10.csv"]
    candidates = scan_raw(real_raw)
    assert report.staged == len(candidates) - 1
    manifest = pl.read_parquet(config.manifest_path)
    registry = load_registry()
    for row in manifest.iter_rows(named=True):
        header = parse_header((real_raw / row["source_file"]).read_bytes(), registry)
        assert row["proc"] == header.proc
        assert (row["chip_group"], row["chip_number"]) == (
            header.fields.get("chip_group"),
            header.fields.get("chip_number"),
        )
    assert tree_snapshot(real_raw) == before


def test_stage_of_a_missing_raw_folder_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        ["stage", "--raw-root", str(tmp_path / "nope"), "--stage-root", str(tmp_path / "s" / "raw_measurements")]
    )
    assert code == 2 and "does not exist" in capsys.readouterr().err
    assert not (tmp_path / "s").exists()


def test_manifest_schema_has_a_column_of_the_right_type_per_row_field() -> None:
    """`MANIFEST_SCHEMA` is written out so readers need no Pydantic: it must stay the `ManifestRow` fields."""
    import types
    import typing

    from labtui.core.manifest import MANIFEST_SCHEMA

    polars_of = {str: pl.String(), int: pl.Int64(), float: pl.Float64(), bool: pl.Boolean(), dt.date: pl.Date(),
                 dt.datetime: pl.Datetime("us", "UTC")}

    def base(annotation: object) -> object:
        if typing.get_origin(annotation) is typing.Annotated:
            return base(typing.get_args(annotation)[0])
        if isinstance(annotation, types.UnionType):
            return base(next(arg for arg in typing.get_args(annotation) if arg is not type(None)))
        return annotation

    from_model = {name: polars_of[base(info.annotation)] for name, info in ManifestRow.model_fields.items()}  # type: ignore[index]
    assert list(MANIFEST_SCHEMA.items()) == list(from_model.items())


def test_records_written_before_pydantic_left_the_read_path_read_and_write_the_same(tmp_path: Path) -> None:
    """Reject records and the store identity are plain dataclasses now: the files stay byte for byte the same."""
    from labtui.core.config import StagingConfig
    from labtui.core.rejects import read_rejects, write_reject
    from labtui.core.store import StoreIdentity, read_identity, write_identity

    reject = (b'{\n  "source_file": "2025-10-14/It2025-10-14_3.csv",\n  "kind": "bad_row",\n  "reason": "a data row '
              b'has 3 fields, the column row has 4 \xce\xbc",\n  "line": 12,\n  "rejected_at_utc": '
              b'"2025-10-14T12:00:00.123456Z",\n  "source_size": 120,\n  "source_mtime_ns": 1760443200000000000,\n'
              b'  "previous_run_id": null\n}')
    (tmp_path / "rejects").mkdir()
    (tmp_path / "rejects" / "old.json").write_bytes(reject)
    records, unreadable = read_rejects(tmp_path / "rejects")
    record = records["2025-10-14/It2025-10-14_3.csv"]
    assert unreadable == [] and record.line == 12 and record.rejected_at_utc.tzinfo is not None
    assert write_reject(tmp_path / "again", record).read_bytes() == reject.replace(
        b'null\n}', b'null,\n  "registry_sha256": null,\n  "extraction_rules": 0,\n  "plausible_from_utc": null,\n'
                                                                           b'  "owner_file": null\n}')
    # a record without the registry and the extraction rules it was judged by (0: older than any), nor a clock, nor
    # the run's owner (a twin's)

    (tmp_path / "rejects" / "bad.json").write_bytes(reject.replace(b'"bad_row"', b'"no_such_kind"'))
    assert read_rejects(tmp_path / "rejects")[1] == ["bad.json"]

    config = StagingConfig(raw_root=tmp_path / "raw", stage_root=tmp_path / "store" / "raw_measurements")
    identity = (b'{\n  "raw_root": "/lab/raw",\n  "stage_dir": "raw_measurements",\n  "recorded_at_utc": '
                b'"2025-10-14T12:00:00Z",\n  "written_by_a_newer_labtui": 1\n}')
    config.manifest_dir.mkdir(parents=True)
    (config.manifest_dir / "store.json").write_bytes(identity)
    read = read_identity(config.manifest_dir / "store.json")
    assert read == StoreIdentity(raw_root="/lab/raw", stage_dir="raw_measurements",
                                 recorded_at_utc=dt.datetime(2025, 10, 14, 12, tzinfo=dt.UTC))
    write_identity(config, read)
    assert (config.manifest_dir / "store.json").read_bytes() == identity.replace(  # an older record, written again
        b',\n  "written_by_a_newer_labtui": 1',
        b',\n  "store_root": null,\n  "local_tz": null,\n  "derived_root": null')


_HOLD_A_LARGE_BLOCK = """
import ctypes, sys
from labtui.core.config import load_config
from labtui.core.stager import stage

class Info(ctypes.Structure):  # glibc's mallinfo2(3)
    _fields_ = [(name, ctypes.c_size_t) for name in
                "arena ordblks smblks hblks hblkhd usmblks fsmblks uordblks fordblks keepcost".split()]

libc = ctypes.CDLL(None)
libc.mallinfo2.restype = Info
if sys.argv[1] == "stage":
    stage(load_config(None, raw_root=sys.argv[2], stage_root=sys.argv[3]))
block = bytearray(4 << 20)  # a multi-megabyte raw file's bytes, freed, then the next such file's
del block
before = libc.mallinfo2().hblks
block = bytearray(4 << 20)
print(libc.mallinfo2().hblks - before)
"""


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc's allocator")
@pytest.mark.parametrize(("first", "own_mmaps"), [("stage", 1), ("nothing", 0)])
def test_a_stage_hands_large_buffers_back_to_the_system(lab: Lab, first: str, own_mmaps: int) -> None:
    """After a stage, a block freed and asked for again is its own mmap (returned when freed), not carved from an
    arena that keeps it; without a stage glibc's sliding threshold puts it in the arena (the check can fail)."""
    lab.write("d/It2025-10-13_1.csv", raw_csv("It"))
    env = {key: value for key, value in os.environ.items() if key != "MALLOC_MMAP_THRESHOLD_"}
    out = subprocess.run([sys.executable, "-c", _HOLD_A_LARGE_BLOCK, first, str(lab.raw), str(lab.stage_root)],
                         capture_output=True, text=True, check=True, env=env).stdout
    assert int(out) == own_mmaps


def test_a_restage_while_the_raw_folder_is_gone_keeps_the_reject_record(lab: Lab) -> None:
    """The raw folder unmounted, `r` on a reject read it as a folder of no files: the record was dropped ("the file
    is no longer in the raw folder") and the file was neither staged nor rejected until the next full stage."""
    from labtui.core.errors import UsageError
    from labtui.core.rejects import load_rejects

    lab.write("2025-10-13/It2025-10-13_1.csv", raw_csv("It", rows=it_rows()))
    reject = "2025-10-13/It2025-10-13_2.csv"
    lab.write(reject, b"#Procedure: <laser_setup.procedures.It.It>\r\n")
    lab.stage()
    assert reject in load_rejects(lab.config.rejects_dir)
    gone = lab.raw.with_name("raw.unmounted")
    lab.raw.rename(gone)
    with pytest.raises(UsageError, match=f"^the raw folder {re.escape(str(lab.raw))} does not exist$"):
        Stager(lab.config, only=[lab.raw / reject]).run()
    gone.rename(lab.raw)
    assert reject in load_rejects(lab.config.rejects_dir)
