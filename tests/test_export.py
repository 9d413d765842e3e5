"""Exports: chip history CSVs and day-level metadata CSVs, re-read and compared with what they were made from."""

from __future__ import annotations

import csv
import datetime as dt
import os
import time

import polars as pl
import pytest

from labtui.cli import main
from labtui.core.atomic import STALE_TEMP_S
from labtui.core.export import (
    HISTORY_CSV_COLUMNS,
    LEGACY_HISTORY_COLUMNS,
    distinct_file_name,
    export_histories,
    export_metadata,
    history_file_name,
    metadata_tables,
)
from labtui.core.history import history, summary_line
from tests.lab import REALDATA, Lab, chip67_lab, local, raw_csv, unwritable

TZ = "America/Santiago"


@pytest.fixture
def lab(tmp_path) -> Lab:
    return chip67_lab(tmp_path)


def test_histories_are_written_per_chip_and_read_back(lab: Lab, tmp_path) -> None:
    out = tmp_path / "histories"
    written = [file.path for file in export_histories(lab.manifest(), out, tz=TZ)]
    assert [path.name for path in written] == ["Alisson67_history.csv", "other67_history.csv"]
    assert sorted(out.iterdir()) == sorted(written)  # no temp files left behind
    back = pl.read_csv(out / "Alisson67_history.csv").with_columns(pl.col("date").str.to_date())
    assert tuple(back.columns) == HISTORY_CSV_COLUMNS
    assert tuple(back.columns[:10]) == LEGACY_HISTORY_COLUMNS
    original = history(lab.manifest(), 67, "Alisson", tz=TZ).with_columns(summary=summary_line())  # the whole line
    for column in ("seq", "date", "time_hms", "proc", "summary", "source_file", "file_idx", "day_folder",
                   "has_light", "run_id", "n_rows", "is_complete", "vg", "light"):
        assert back[column].to_list() == original[column].to_list(), column
    epochs = original["start_time_utc"].dt.epoch("us").to_list()
    assert back["start_time"].to_list() == pytest.approx([us / 1e6 for us in epochs], abs=1e-6)
    headers = lab.manifest().join(original.select("run_id"), on="run_id").select(  # the header's digits, as written
        "run_id", pl.col("parameters").str.json_path_match("$['Start time']"))
    written = pl.read_csv(out / "Alisson67_history.csv", infer_schema=False).select("run_id", "start_time")
    assert written.join(headers, on="run_id").filter(pl.col("start_time") != pl.col("parameters")).is_empty()


def test_an_export_sweeps_the_temp_files_of_one_killed_before_it(lab: Lab, tmp_path) -> None:
    """A kill -9 while the files were written left a hidden temp file per chip, for good: each interrupted export
    added another set. The next export removes those of its own files; nothing else of the folder."""
    out = tmp_path / "histories"
    out.mkdir()
    left = [out / ".Alisson67_history.csv.0123456789ab.tmp", out / ".other67_history.csv.ba9876543210.tmp"]
    for path in left:
        path.write_text("seq,da")  # cut mid-row
        os.utime(path, (time.time() - STALE_TEMP_S - 1,) * 2)
    # another export's into the same folder, being written now: a second export swept it, and the first failed
    live = out / ".Alisson67_history.csv.fedcba987654.tmp"
    live.write_text("seq,date")
    (out / ".notes.tmp").write_text("the lab's own")
    written = [file.path for file in export_histories(lab.manifest(), out, tz=TZ)]
    assert sorted(out.iterdir()) == sorted([*written, out / ".notes.tmp", live])


def test_min_experiments_and_source_prefix(lab: Lab, tmp_path) -> None:
    written = export_histories(lab.manifest(), tmp_path, tz=TZ, min_experiments=2, source_prefix="raw_data/")
    assert [file.path.name for file in written] == ["Alisson67_history.csv"]
    sources = pl.read_csv(written[0].path)["source_file"].to_list()
    assert sources[0] == "raw_data/Alisson_05_sept/IVg2025-09-05_1.csv"


def test_history_file_names_are_safe() -> None:
    assert history_file_name("Alisson67") == "Alisson67_history.csv"
    assert history_file_name("../evil group/3") == "__evil_group_3_history.csv"  # never a hidden file
    assert distinct_file_name(".x72", ".x", 72).startswith("_x72@")


def test_a_chip_group_starting_with_a_dot_is_not_exported_as_a_hidden_file(tmp_path, capsys) -> None:
    """Group `../..` chip 72 was written as `.._..72_history.csv`, which a file browser does not show."""
    lab = Lab(tmp_path)
    lab.write_run("d/IVg2025-09-01_1.csv", "IVg", start=local("2025-09-01 10:00"), group="../..", number=72,
                  light=False)
    lab.stage()
    assert main(lab.args("export", "histories")) == 0
    assert [path.name for path in (tmp_path / "histories").iterdir()] == ["__..72_history.csv"]


@pytest.mark.parametrize(("more", "said"), [
    ((), "no chip runs: nothing written\n"),
    (("--min-experiments", "2"), "no chip has 2 runs or more: nothing written\n"),
])
def test_an_export_with_no_history_to_write_says_so(tmp_path, capsys, more: tuple[str, ...], said: str) -> None:
    """It printed `wrote 0 chip histories to DIR`, naming a folder it did not make."""
    lab = Lab(tmp_path)
    if more:
        lab.write_run("d/IVg2025-09-01_1.csv", "IVg", start=local("2025-09-01 10:00"), light=False)
    lab.write_run("d/LaserCalibration2025-09-01_1.csv", "LaserCalibration", start=local("2025-09-01 09:00"))
    lab.stage()
    assert main(lab.args("export", "histories", *more)) == 0
    assert capsys.readouterr().out == said and not (tmp_path / "histories").exists()


def test_chips_whose_names_make_one_file_name_get_a_file_each(tmp_path, capsys) -> None:
    """`a/b` 80 and `a_b` 80 were both `a_b80_history.csv`: one chip's history overwrote the other's, both counted.
    The chip whose name is its file name keeps it (the lab's scripts open it by that name), even if measured later."""
    lab = Lab(tmp_path)
    chips = (("a/b", 80), ("a_b", 80), ("Alisson", 67), ("alisson", 67), ("Alisson7", 2), ("Alisson", 72))
    for day, (group, number) in enumerate(chips, start=1):
        lab.write_run(f"d/IVg2025-09-0{day}_1.csv", "IVg", start=local(f"2025-09-0{day} 10:00"), group=group,
                      number=number, light=False)
    lab.stage()
    written = export_histories(lab.manifest(), tmp_path / "histories", tz=TZ)
    assert len(list((tmp_path / "histories").iterdir())) == len(chips)
    assert {(file.chip_group, file.chip_number): file.path.name for file in written} == {
        ("a/b", 80): "a_b80@6b29630d_history.csv",  # a hash of group and number: the same at every export
        ("a_b", 80): "a_b80_history.csv",
        ("Alisson", 67): "Alisson67_history.csv",
        ("alisson", 67): distinct_file_name("alisson67", "alisson", 67),  # one file on a Windows or macOS share
        ("Alisson7", 2): "Alisson72_history.csv",  # measured first
        ("Alisson", 72): distinct_file_name("Alisson72", "Alisson", 72),
    }
    for file in written:
        back = pl.read_csv(file.path, schema_overrides={"chip_group": pl.String})
        assert back.select("chip_group", "chip_number").rows() == [(file.chip_group, file.chip_number)]
    assert main(lab.args("export", "histories")) == 0
    assert "  a_b80@6b29630d_history.csv  chip 80, group 'a/b'\n" in capsys.readouterr().out


def test_a_chip_name_too_long_for_a_file_name_gets_a_short_one(lab: Lab, capsys) -> None:
    """A 5000-character group (a header staged without complaint) stopped the export half-way (`File name too long`)
    with a 5 kB error line."""
    lab.write_run("d/IVg2025-09-10_1.csv", "IVg", start=local("2025-09-10 10:00"), group="x" * 5000, number=80,
                  light=False)
    lab.stage()
    assert main(lab.args("export", "histories")) == 0
    out = capsys.readouterr().out
    assert max(map(len, out.splitlines())) < 200
    readable, other, long = sorted(path.name for path in (lab.root / "histories").iterdir())
    assert (readable, other) == ("Alisson67_history.csv", "other67_history.csv")
    assert len(long.encode()) <= 100 and long == distinct_file_name("x" * 5000 + "80", "x" * 5000, 80)
    assert f"  {long}  chip 80, group {'x' * 40!r}… (5,000 characters)\n" in out


def test_an_export_that_fails_writes_no_file(lab: Lab, capsys) -> None:
    """A folder in the way of one chip's file failed the export after the chips before it were written."""
    out = lab.root / "histories"
    (out / "other67_history.csv").mkdir(parents=True)
    code = main(lab.args("export", "histories"))
    assert [path.name for path in out.iterdir()] == ["other67_history.csv"]
    assert code == 2 and "other67_history.csv is a folder" in capsys.readouterr().err


def test_a_history_that_cannot_be_replaced_stops_the_export_before_any_is(lab: Lab, capsys) -> None:
    """One file locked (open in a spreadsheet on a share): the chips before it were replaced, the rest not, and the
    temp files of the rest stayed; the error named the folder, not the file."""
    assert main(lab.args("export", "histories")) == 0
    out = lab.root / "histories"
    first, *_, last = sorted(out.iterdir())
    first.write_text("OLD")
    with unwritable(last):
        code = main(lab.args("export", "histories"))
    err = capsys.readouterr().err
    assert code == 73 and f"cannot replace the chip history {last}:" in err, err  # named
    assert first.read_text() == "OLD" and sorted(path.name for path in out.iterdir()) == sorted(
        path.name for path in (first, *_, last))  # no temp file either


def test_a_metadata_table_in_the_way_stops_the_export_before_any_is_written(lab: Lab, tmp_path, capsys) -> None:
    """A folder where one folder's metadata.csv goes failed the export after the tables before it were written."""
    tables = export_metadata(lab.manifest(), tmp_path / "first", tz=TZ)
    in_the_way = tmp_path / "out" / tables[-1].relative_to(tmp_path / "first")
    in_the_way.mkdir(parents=True)
    assert main(lab.args("export", "metadata", "--out", str(tmp_path / "out"))) == 2
    assert f"{in_the_way} is a folder, where a folder's metadata table goes" in capsys.readouterr().err
    assert [path for path in (tmp_path / "out").rglob("*") if path.is_file()] == []


def test_metadata_tables_are_like_the_old_tools(lab: Lab, tmp_path) -> None:
    written = export_metadata(lab.manifest(), tmp_path, tz=TZ)
    assert [path.relative_to(tmp_path).as_posix() for path in written] == [
        "Alisson_05_sept/metadata.csv", "Alisson_08_sept/metadata.csv",
    ]
    table = pl.read_csv(tmp_path / "Alisson_08_sept" / "metadata.csv", infer_schema=False)
    assert table.columns[-5:] == ["Laser toggle", "has_light", "source_file", "start_time", "time_hms"]
    assert "Start time" not in table.columns
    rows = {row["source_file"]: row for row in table.iter_rows(named=True)}
    lit = rows["Alisson_08_sept/It2025-09-08_1.csv"]
    assert (lit["VDS"], lit["Chip number"], lit["Laser wavelength"], lit["NPLC"]) == ("0.1", "67.0", "455.0", "1.0")
    assert (lit["Procedure version"], lit["Chip group name"], lit["Information"]) == ("2.2.0", "Alisson", "fixture run")
    assert (lit["Laser toggle"], lit["has_light"], lit["time_hms"]) == ("true", "true", "09:15:00")
    dark = rows["Alisson_08_sept/It2025-09-08_2.csv"]
    assert (dark["Laser toggle"], dark["has_light"], dark["time_hms"]) == ("false", "false", "22:30:00")
    calibration = rows["Alisson_08_sept/LaserCalibration2025-09-08_1.csv"]
    assert calibration["Laser toggle"] is None and calibration["has_light"] == "true"
    assert calibration["Optical fiber"] == "F1 (M92L02)" and calibration["Chip number"] is None
    assert float(lit["start_time"]) == pytest.approx(local("2025-09-08 09:15").timestamp())


def test_metadata_numbers_are_in_one_unit_per_column(tmp_path) -> None:
    """A parameter written in a prefixed unit (`500 mV`, `2 min`) is converted to the registry's unit, as its manifest
    field is; one the registry does not know, in units that differ, stays text: the column once read 500 (V)."""
    lab = Lab(tmp_path)
    lab.write("day/It2025-10-13_1.csv", raw_csv("It", start=1760371684.5, params={
        "Laser voltage": "500 mV", "Laser ON+OFF period": "2 min", "Irange": "100 uA", "Step time": "0.5 s",
        "Stage temperature": "21.5°C", "Gate offset": "-0 V", "Firmware": "2.1.0"}))
    lab.write("day/It2025-10-13_2.csv", raw_csv("It", start=1760371784.5, params={
        "Laser voltage": "1.25 V", "Laser ON+OFF period": "3 s", "Irange": "0.001 A", "Step time": "0.5 s",
        "Stage temperature": "22 °C", "Gate offset": "0.1V", "Firmware": "2.2"}))
    lab.stage()
    table = metadata_tables(lab.manifest(), tz=TZ)["day"]
    assert table["Laser voltage"].to_list() == [0.5, 1.25]
    assert table["Laser ON+OFF period"].to_list() == [120.0, 3.0]
    assert table["Irange"].to_list() == ["100 uA", "0.001 A"]
    assert table["Step time"].to_list() == [0.5, 0.5]
    # parameters the registry does not know are read as the header's parser reads numbers (`0.1V`, `-0 V` is 0)
    assert table["Stage temperature"].to_list() == [21.5, 22.0]
    assert [str(value) for value in table["Gate offset"]] == ["0.0", "0.1"]
    assert table["Firmware"].to_list() == ["2.1.0", "2.2"]


def test_metadata_for_one_local_date(lab: Lab) -> None:
    tables = metadata_tables(lab.manifest(), tz=TZ, on_date=dt.date(2025, 9, 5))
    assert list(tables) == ["Alisson_05_sept"] and tables["Alisson_05_sept"].height == 3
    assert metadata_tables(lab.manifest(), tz=TZ, on_date=dt.date(2025, 9, 9)) == {}
    # in UTC the 22:30 run is on 2025-09-09: its whole folder is exported, complete
    utc = metadata_tables(lab.manifest(), tz="UTC", on_date=dt.date(2025, 9, 9))
    assert list(utc) == ["Alisson_08_sept"] and utc["Alisson_08_sept"].height == 4


def test_cli_exports(lab: Lab, capsys, monkeypatch) -> None:
    monkeypatch.chdir(lab.root)
    assert main(lab.args("export", "histories")) == 0
    assert main(lab.args("export", "histories", "--min-experiments", "3")) == 0
    out = capsys.readouterr().out
    assert "wrote 1 chip history to" in out
    # the first export's history of the chip now under --min-experiments: said, not deleted
    assert out.splitlines()[-1] == (f"left alone: 1 chip history in {lab.root / 'histories'} not of this export (an "
                                    "earlier one's: a chip pruned, renamed or under --min-experiments): "
                                    "other67_history.csv")
    assert sorted(p.name for p in (lab.root / "histories").iterdir()) == ["Alisson67_history.csv",
                                                                          "other67_history.csv"]
    assert main(lab.args("export", "histories", "--min-experiments", "99")) == 0
    assert capsys.readouterr().out.splitlines() == [
        "no chip has 99 runs or more: nothing written",
        f"left alone: 2 chip histories in {lab.root / 'histories'} not of this export (an earlier one's: a chip "
        "pruned, renamed or under --min-experiments): Alisson67_history.csv, other67_history.csv"]
    assert main(lab.args("export", "metadata", "--date", "2025-09-08", "--source-prefix", "raw_data/")) == 0
    table = pl.read_csv(lab.root / "exports" / "metadata" / "Alisson_08_sept" / "metadata.csv")
    assert table["source_file"].str.starts_with("raw_data/Alisson_08_sept/").all()
    assert main(lab.args("history", "67", "--group", "Alisson", "--format", "csv", "--out",
                        str(lab.root / "h.csv"))) == 0
    assert pl.read_csv(lab.root / "h.csv").equals(pl.read_csv(lab.root / "histories" / "Alisson67_history.csv"))
    capsys.readouterr()
    assert main(lab.args("export", "metadata", "--date", "2030-01-01", "--out", str(lab.root / "none"))) == 0
    assert capsys.readouterr().out == "no run measured on 2030-01-01: nothing written\n"  # not "wrote 0 files"
    assert main(lab.args("export", "histories", "--out", str(lab.root / "h.csv"))) == 2  # a file, not a folder
    assert "--out" in capsys.readouterr().err and not (lab.root / "none").exists()
    assert main(lab.args("export", "metadata", "--out", "-")) == 2  # made a folder named `-`
    assert "not to the standard output" in capsys.readouterr().err and not (lab.root / "-").exists()
    # the store's options before the kind, as every other command takes them before its own
    assert main(["export", "--config", str(lab.config_file), "--store", str(lab.store_root), "histories", "--out",
                 str(lab.root / "before")]) == 0
    assert "Alisson67_history.csv" in [p.name for p in (lab.root / "before").iterdir()]
    capsys.readouterr()
    lab.configure(histories_dir=str(lab.root / "h.csv"))  # the config's folder, not an --out the user never gave
    assert main(lab.args("export", "histories")) == 2
    assert capsys.readouterr().err == (f"labtui: the config's histories_dir: {lab.root / 'h.csv'} is a file: an export "
                                       "writes a folder of files, give a folder\n")
    # a default relative to the working folder, run from the raw folder: 15 CSVs written there, each a reject next
    lab.configure(histories_dir=str(lab.raw / "histories"))
    assert main(lab.args("export", "histories")) == 2
    assert capsys.readouterr().err == (f"labtui: the config's histories_dir: {lab.raw / 'histories'} is in the raw "
                                       f"folder ({lab.raw}): labtui writes its outputs elsewhere; give --out DIR\n")
    assert main(lab.args("export", "metadata", "--out", str(lab.store_root / "meta"))) == 2
    assert "is in the store" in capsys.readouterr().err
    assert not (lab.raw / "histories").exists() and not (lab.store_root / "meta").exists()


FORMULA = "=cmd|' /C calc'!A0"


def test_csv_outputs_neutralise_spreadsheet_formulas_in_text_only(tmp_path, monkeypatch) -> None:
    """A header's `Information: =cmd|' /C calc'!A0` landed verbatim in the CSVs the lab opens in Excel, which runs
    it. A text cell starting with = + - @, a tab or a CR gets a leading `'`; numbers (a Vg of -0.4) stay numbers."""
    lab = Lab(tmp_path)
    monkeypatch.chdir(tmp_path)
    lab.write_run("d/It2025-09-08_1.csv", "It", start=local("2025-09-08 10:00"), information=FORMULA, vg=-0.4)
    lab.write_run("d/IVg2025-09-08_2.csv", "IVg", start=local("2025-09-08 11:00"), information="@SUM(1+1)",
                  group="-x", number=68, light=False)
    lab.stage()
    for argv in (("export", "histories", "--out", "h"), ("export", "metadata", "--out", "m"),
                 ("history", "67", "--out", "history.csv"), ("metrics", "--out", "metrics.csv"),
                 ("chips", "--out", "chips.csv")):
        assert main(lab.args(*argv)) == 0
    cells: dict[str, list[str]] = {}
    for path in tmp_path.glob("**/*.csv"):
        if lab.raw not in path.parents:
            with path.open(newline="", encoding="utf-8") as handle:
                cells[path.relative_to(tmp_path).as_posix()] = [cell for row in csv.reader(handle) for cell in row]
    assert sorted(cells) == ["chips.csv", "h/-x68_history.csv", "h/Alisson67_history.csv", "history.csv",
                             "m/d/metadata.csv", "metrics.csv"]
    for name, texts in cells.items():
        risky = [cell for cell in texts if cell[:1] in ("=", "+", "-", "@", "\t", "\r") and not numbers(cell)]
        assert risky == [], name
    for name in ("h/Alisson67_history.csv", "history.csv", "m/d/metadata.csv"):
        assert "'" + FORMULA in cells[name], name
    assert "'@SUM(1+1)" in cells["m/d/metadata.csv"] and "'-x68" in cells["chips.csv"]
    assert "-0.4" in cells["history.csv"] and "-0.4" in cells["m/d/metadata.csv"]  # a number, as it was
    assert "-1→1" in cells["h/-x68_history.csv"]  # the sweep's Vg range: numbers too


def numbers(text: str) -> bool:
    """A number, or a sweep's range of two (`-1→1`): written as it is."""
    try:
        [float(part) for part in text.split("→", 1)]
    except ValueError:
        return False
    return True


@pytest.mark.realdata
def test_metadata_export_matches_the_old_tools_files(real_store, tmp_path) -> None:
    """Every value the old tool wrote for a run is in labtui's export, equal (numbers as numbers)."""
    from labtui.core.manifest import read_manifest

    export_metadata(read_manifest(real_store.manifest_path), tmp_path, tz=TZ, source_prefix="raw_data/")
    compared = 0
    for old_file in sorted((REALDATA / "metadata").glob("*/metadata.csv")):
        if old_file.parent.name.endswith("_test"):
            continue  # the old data's duplicate folder
        old = pl.read_csv(old_file, infer_schema=False)
        new = pl.read_csv(tmp_path / old_file.parent.name / "metadata.csv", infer_schema=False)
        new_rows = {row["source_file"]: row for row in new.iter_rows(named=True)}
        for row in old.iter_rows(named=True):
            if row["source_file"] not in new_rows:  # not in raw/ (never available), or rejected (no start time)
                raw = REALDATA / "raw" / row["source_file"].removeprefix("raw_data/")
                assert not raw.exists() or row["start_time"] is None, row["source_file"]
                continue
            mine = new_rows[row["source_file"]]
            for key, value in row.items():
                if key not in mine or value is None:
                    continue
                compared += 1
                if key == "start_time":  # as written: a join on it matches (the µs-rounded float did not)
                    assert mine[key] == value, (row["source_file"], mine[key], value)
                else:
                    assert _same(mine[key], value), (row["source_file"], key, mine[key], value)
    assert compared > 5000


def _same(mine: str | None, old: str) -> bool:
    try:
        return mine is not None and float(mine) == float(old)
    except ValueError:
        return mine == old.strip()
