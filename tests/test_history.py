"""Chip histories from the manifest: order, stable seq, local dates, chip identity, filters, CLI."""

from __future__ import annotations

import datetime as dt
import json
import re

import polars as pl
import pytest

from labtui.cli import main
from labtui.core.errors import UsageError
from labtui.core.history import (
    AmbiguousChip,
    ChipNotFound,
    HistoryFilter,
    calibrations,
    chips,
    history,
    load_manifest,
    resolve_chip,
    summary_line,
    told_apart,
)
from labtui.core.manifest import read_manifest, write_manifest
from labtui.core.metrics import read_metrics
from labtui.core.si import format_si
from tests.lab import Lab, chip67_lab, local

TZ = "America/Santiago"


@pytest.fixture
def lab(tmp_path) -> Lab:
    return chip67_lab(tmp_path)


def test_history_is_sorted_by_start_time_then_file_index(lab: Lab) -> None:
    manifest = lab.manifest()
    first = manifest.filter(pl.col("source_file") == "Alisson_05_sept/IVg2025-09-05_1.csv")["start_time_utc"][0]
    shared = manifest.with_columns(  # two IVg sharing a start time (to the second, as the old metadata wrote it)
        start_time_utc=pl.when(pl.col("source_file").str.contains("IVg2025-09-05_"))
        .then(pl.lit(first)).otherwise(pl.col("start_time_utc"))
    )
    runs = history(shared, 67, "Alisson", tz=TZ)
    assert runs["seq"].to_list() == [1, 2, 3, 4, 5]
    # file index 1 before 2, whatever the file system order
    assert runs["source_file"].to_list() == [
        "Alisson_05_sept/IVg2025-09-05_1.csv",
        "Alisson_05_sept/IVg2025-09-05_2.csv",
        "Alisson_05_sept/It2025-09-05_1.csv",
        "Alisson_08_sept/It2025-09-08_1.csv",
        "Alisson_08_sept/It2025-09-08_2.csv",
    ]
    assert runs["chip_name"].unique().to_list() == ["Alisson67"]


def test_dates_and_times_are_local_across_dst_and_utc_midnight(lab: Lab) -> None:
    runs = history(lab.manifest(), 67, "Alisson", tz=TZ).select("source_file", "date", "time_hms", "start_time_utc")
    by_file = {source: (date, time, utc) for source, date, time, utc in runs.iter_rows()}
    # before the 2025-09-07 change Santiago is UTC-4, after it UTC-3
    assert by_file["Alisson_05_sept/It2025-09-05_1.csv"][:2] == (dt.date(2025, 9, 5), "10:30:00")
    assert by_file["Alisson_05_sept/It2025-09-05_1.csv"][2].hour == 14
    assert by_file["Alisson_08_sept/It2025-09-08_1.csv"][:2] == (dt.date(2025, 9, 8), "09:15:00")
    assert by_file["Alisson_08_sept/It2025-09-08_1.csv"][2].hour == 12
    # 22:30 local is 01:30 UTC the next day: the history shows the local date
    late_date, late_time, late_utc = by_file["Alisson_08_sept/It2025-09-08_2.csv"]
    assert (late_date, late_time) == (dt.date(2025, 9, 8), "22:30:00")
    assert late_utc.date() == dt.date(2025, 9, 9)
    # another zone moves the same runs (the frame is not just echoing date_local)
    utc = history(lab.manifest(), 67, "Alisson", tz="UTC")
    assert utc.filter(pl.col("source_file").str.ends_with("2025-09-08_2.csv"))["date"].item() == dt.date(2025, 9, 9)
    # the night Santiago's clocks go back (2026-04-05 00:00 → 04-04 23:00), 23:30 comes twice: each with its offset
    # (the history printed 23:30:00 for both, or a later run before an earlier one)
    night = [dt.datetime(2026, 4, 5, 2, 30, tzinfo=dt.UTC), dt.datetime(2026, 4, 5, 3, 30, tzinfo=dt.UTC)]
    rows = lab.manifest().head(2).with_columns(start_time_utc=pl.Series(night).dt.cast_time_unit("us"))
    assert history(rows, 67, "Alisson", tz=TZ)["time_hms"].to_list() == ["23:30:00 -03", "23:30:00 -04"]


def test_filters_select_rows_and_keep_seq(lab: Lab) -> None:
    manifest = lab.manifest()
    full = history(manifest, 67, "Alisson", tz=TZ)
    seq_of = dict(full.select("run_id", "seq").iter_rows())
    cases = {
        HistoryFilter(procs=("ITS",)): [3, 4, 5],
        HistoryFilter(procs=("its",), light=True): [3, 4],
        HistoryFilter(light=False): [1, 2, 5],
        HistoryFilter(since=dt.date(2025, 9, 8)): [4, 5],
        HistoryFilter(until=dt.date(2025, 9, 5)): [1, 2, 3],
        HistoryFilter(wavelength_nm=365): [3],  # the dark run at 455 nm is not "at 455 nm"
        HistoryFilter(wavelength_nm=455): [4],
        HistoryFilter(vg_v=0.2): [4],
        HistoryFilter(text="RELAXATION"): [5],
        HistoryFilter(text="alisson67 vds"): [1, 2],  # the summary is searched too
        HistoryFilter(text="It2025-09-08"): [4, 5],  # and the file, and the local date and time: a lab's first
        HistoryFilter(text="09-08 09:15"): [4],  # searches found nothing
        HistoryFilter(procs=("IVg",), text="nothing like this"): [],
    }
    for filters, expected in cases.items():
        runs = history(manifest, 67, "Alisson", tz=TZ, filters=filters)
        assert runs["seq"].to_list() == expected, filters
        assert all(seq_of[run_id] == seq for run_id, seq in runs.select("run_id", "seq").iter_rows())


def test_unknown_procedure_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match=r"unknown procedure 'Sweep'.*IVg"):
        HistoryFilter(procs=("Sweep",))


def test_history_columns_and_display_values(lab: Lab) -> None:
    runs = history(lab.manifest(), 67, "Alisson", tz=TZ)
    first_it = runs.filter(pl.col("proc") == "It").row(0, named=True)
    assert first_it["light"] == "💡" and first_it["vg"] == "-0.35" and first_it["laser_wavelength_nm"] == 365
    assert first_it["laser_period_s"] == 2 and first_it["is_complete"] and first_it["n_rows"] == 31
    assert first_it["duration_s"] == pytest.approx(3.0)
    assert runs.row(0, named=True)["vg"] == "-1→1" and runs.row(0, named=True)["light"] == "🌙"
    assert runs.schema["date"] == pl.Date and runs.schema["seq"] == pl.Int64
    assert runs.row(4, named=True)["day_folder"] == "Alisson_08_sept"


def test_a_hostile_group_name_is_cut_in_the_message_naming_the_groups() -> None:
    """A header's 5000-character group made `labtui plot 80` print a 5 kB line."""
    message = str(AmbiguousChip(80, ["x" * 5000, "Alisson", None]))
    assert len(message) < 250 and "x… (5,000 characters), Alisson, (no group" in message


def test_chip_number_shared_by_two_groups(lab: Lab) -> None:
    manifest = lab.manifest()
    with pytest.raises(AmbiguousChip) as caught:
        history(manifest, 67, tz=TZ)
    assert caught.value.groups == ["Alisson", "other"]
    assert "Alisson, other" in str(caught.value) and str(caught.value).endswith(", or name the chip (Alisson67, "
                                                                               "other67)")
    assert resolve_chip(manifest, 67, "alisson") == ("Alisson", 67)
    other = history(manifest, 67, "other", tz=TZ)
    assert other["proc"].to_list() == ["IV"] and other["seq"].to_list() == [1]
    with pytest.raises(ChipNotFound, match="chip 67 exists in group"):
        resolve_chip(manifest, 67, "Bob")
    with pytest.raises(ChipNotFound, match=r"chip number 99 .*\(chips: 67\)"):
        history(manifest, 99, tz=TZ)


@pytest.mark.parametrize("name", ["other67", "OTHER67", "other-67", "other_67", " other 67 "])
def test_a_chip_name_is_its_group_and_number(lab: Lab, name: str) -> None:
    manifest = lab.manifest()
    assert resolve_chip(manifest, name) == ("other", 67)
    assert resolve_chip(manifest, name, "Other") == ("other", 67)
    assert history(manifest, name, tz=TZ).equals(history(manifest, 67, "other", tz=TZ))


@pytest.mark.parametrize(("chip", "group", "message"), [
    ("other67", "Alisson", "chip other67 and group Alisson name different groups"),
    ("other67", "", 'chip other67 and group "" (no group) name different groups'),
    ("67x", None, "not a chip number or name"),
    ("Alisson", None, "not a chip number or name"),
    ("-5", None, "not a chip number or name"),  # a separator only after a group
    ("6" * 4301, None, "not a chip number or name (67, Alisson67): '6666"),  # past 64 bits (past 4300 digits: a
    ("9223372036854775808", None, "not a chip number or name"),             # traceback), named cut short
    ("Bob67", None, "no runs of chip Bob67 in the manifest; chip 67 exists in groups Alisson, other"),
])
def test_a_chip_name_that_names_no_chip_of_the_store_says_why(lab: Lab, chip: str, group: str | None,
                                                              message: str) -> None:
    with pytest.raises(UsageError, match=re.escape(message)):
        resolve_chip(lab.manifest(), chip, group)


def test_a_chip_is_found_by_the_name_the_chips_list_gives_it(tmp_path) -> None:
    """`chips` lists group G2's chip 15 as G215 and Batch-3's chip 7 as Batch-37: read as group G chip 215 and
    group Batch chip 37, history, metrics and plot said they name no chip; A.B's chip was no chip name at all."""
    lab = Lab(tmp_path)
    for index, (group, number) in enumerate((("G2", 15), ("Batch-3", 7), ("A.B", 4), ("G", 215)), start=1):
        lab.write_run(f"d/It2025-10-14_{index}.csv", "It", start=local(f"2025-10-14 1{index}:00"), number=number,
                      group=group)
    lab.stage()
    manifest = lab.manifest()
    assert sorted(manifest["chip_name"]) == ["A.B4", "Batch-37", "G215", "G215"]
    assert resolve_chip(manifest, "Batch-37") == resolve_chip(manifest, "batch-37") == ("Batch-3", 7)
    assert resolve_chip(manifest, "G215", "g2") == ("G2", 15)  # any letter case, as groups are matched
    assert resolve_chip(manifest, "A.B4") == ("A.B", 4)
    assert resolve_chip(manifest, "G215", "G2") == ("G2", 15)  # two chips show as G215: --group picks one
    with pytest.raises(UsageError, match=r"G215 is the name of 2 chips \(G 215, G2 15\): say which group"):
        resolve_chip(manifest, "G215")
    assert resolve_chip(manifest, "G-215") == ("G", 215)  # a separator: no chip's name, read as group and number
    with pytest.raises(UsageError, match="not a chip number or name"):
        resolve_chip(manifest, "A.B5")
    # the chips list tells the two G215 apart by the group `--group` takes, where it showed two identical rows
    listed = chips(manifest)
    assert listed.select(told_apart())["chip_name"].to_list() == ["A.B4", "Batch-37", "G215 (group G2)",
                                                                  "G215 (group G)"]
    assert listed["chip_name"].to_list() == ["A.B4", "Batch-37", "G215", "G215"]  # as the manifest's, for scripts


def test_a_chip_whose_group_is_digits_is_found_by_the_number_its_name_reads_as(tmp_path, capsys) -> None:
    """Group `67`'s chip 72 is listed as 6772; `labtui history 6772` read chip number 6772 and said `no runs of
    chip number 6772`, where the API's `runs(chip="6772")` found it."""
    lab = Lab(tmp_path)
    lab.write_run("d/It2025-10-14_1.csv", "It", start=local("2025-10-14 12:00"), number=72, group="67")
    lab.stage()
    assert resolve_chip(lab.manifest(), 6772) == resolve_chip(lab.manifest(), "6772") == ("67", 72)
    assert main(lab.args("history", "6772")) == 0
    assert "It2025-10-14_1.csv" in capsys.readouterr().out


def test_a_group_is_found_by_the_letters_it_shows(tmp_path) -> None:
    """A store staged before groups were normalised keeps a decomposed `Peña`: the name typed in a terminal finds it,
    and a new run's header spelling it either way joins the same chip."""
    lab = Lab(tmp_path)
    lab.write_run("d/It2025-10-14_1.csv", "It", start=local("2025-10-14 12:00"), number=80, group="Pen\u0303a")
    lab.write_run("d/It2025-10-14_2.csv", "It", start=local("2025-10-14 13:00"), number=80, group="Pe\u00f1a\u200b")
    lab.stage()
    manifest = lab.manifest()
    assert manifest["chip_group"].to_list() == ["Pe\u00f1a"] * 2
    old_store = manifest.with_columns(chip_group=pl.lit("Pen\u0303a"))
    assert resolve_chip(old_store, "PEÑA80") == resolve_chip(old_store, 80, "pe\u00f1a") == ("Pen\u0303a", 80)


def test_runs_whose_header_names_no_group_are_chosen_with_an_empty_group(tmp_path) -> None:
    lab = Lab(tmp_path)
    lab.write_run("d/It2025-10-14_1.csv", "It", start=local("2025-10-14 12:00"), number=80)
    lab.write_run("d/It2025-10-14_2.csv", "It", start=local("2025-10-14 13:00"), number=80, group="")
    lab.stage()
    manifest = lab.manifest()
    with pytest.raises(AmbiguousChip, match=re.escape('several groups (Alisson, (no group: ""))')):
        history(manifest, 80, tz=TZ)
    assert history(manifest, 80, " ", tz=TZ)["source_file"].to_list() == ["d/It2025-10-14_2.csv"]
    assert resolve_chip(manifest, 80, "") == (None, 80)
    with pytest.raises(ChipNotFound, match="no runs of chip number 81 without a group"):
        resolve_chip(manifest.with_columns(chip_number=pl.lit(81)).filter(pl.col("chip_group").is_not_null()), 81, "")


def test_number_alone_when_unambiguous(tmp_path) -> None:
    lab = Lab(tmp_path)
    lab.write_run("d/It2025-10-14_1.csv", "It", start=local("2025-10-14 12:00"), number=80)
    lab.stage()
    assert history(lab.manifest(), 80, tz=TZ)["chip_name"].to_list() == ["Alisson80"]


def test_chips_overview(lab: Lab) -> None:
    table = chips(lab.manifest())
    assert table.select("chip_group", "chip_number").rows() == [("Alisson", 67), ("other", 67)]
    alisson = table.row(0, named=True)
    assert alisson["chip_name"] == "Alisson67"
    assert (alisson["n_runs"], alisson["n_It"], alisson["n_IVg"], alisson["n_IV"]) == (5, 3, 2, 0)
    assert (alisson["n_light"], alisson["n_dark"]) == (2, 3)
    assert (alisson["first_date"], alisson["last_date"]) == (dt.date(2025, 9, 5), dt.date(2025, 9, 8))
    assert "n_LaserCalibration" not in table.columns  # calibrations belong to no chip


def test_calibrations_are_listed_apart(lab: Lab) -> None:
    runs = calibrations(lab.manifest(), tz=TZ)
    assert runs["proc"].to_list() == ["LaserCalibration"]
    assert runs["chip_name"].to_list() == [None] and runs["seq"].to_list() == [1]
    assert lab.manifest().filter(pl.col("proc") == "LaserCalibration")["chip_number"].to_list() == [None]


def test_load_manifest_is_cached_until_the_manifest_changes(lab: Lab) -> None:
    first = load_manifest(lab.config)
    assert load_manifest(lab.config) is first
    lab.write_run("Alisson_09_sept/It2025-09-09_1.csv", "It", start=local("2025-09-09 10:00"))
    lab.stage()
    again = load_manifest(lab.config)
    assert again is not first and again.height == first.height + 1


def test_empty_store(tmp_path) -> None:
    lab = Lab(tmp_path)
    assert load_manifest(lab.config).is_empty()
    assert chips(load_manifest(lab.config)).is_empty()
    with pytest.raises(ChipNotFound, match="no chip runs are staged"):
        history(load_manifest(lab.config), 67, tz=TZ)


# -- CLI -----------------------------------------------------------------------------------------------------------
def test_cli_history_table(lab: Lab, capsys) -> None:
    assert main(lab.args("history", "67", "--group", "Alisson")) == 0
    out = capsys.readouterr().out
    assert "Alisson_08_sept/It2025-09-08_2.csv" in out and "22:30:00" in out and "5 runs" in out


def test_cli_history_table_counts_the_runs_its_filters_left_of_the_history(lab: Lab, capsys) -> None:
    """`--light` on a chip measured only in the dark printed "0 runs", as if it had never been measured."""
    assert main(lab.args("history", "67", "--group", "Alisson", "--proc", "IVg")) == 0
    assert capsys.readouterr().out.endswith("\n2 of 5 runs\n")
    assert main(lab.args("history", "67", "--group", "Alisson", "--proc", "IVg", "--since", "2030-01-01")) == 0
    assert capsys.readouterr().out.endswith("\n0 of 5 runs\n")


def test_cli_history_filtered_csv_to_file(lab: Lab, tmp_path, capsys) -> None:
    out_file = tmp_path / "alisson67_its.csv"
    code = main(lab.args("history", "67", "--group", "Alisson", "--proc", "ITS", "--light", "--since", "2025-09-01",
                        "--format", "csv", "--out", str(out_file)))
    assert code == 0
    written = pl.read_csv(out_file)
    assert written.columns[:10] == ["seq", "date", "time_hms", "proc", "summary", "source_file", "file_idx",
                                    "start_time", "day_folder", "has_light"]
    assert written["seq"].to_list() == [3, 4] and set(written["proc"]) == {"It"}
    assert written["has_light"].to_list() == [True, True]


def test_cli_history_json(lab: Lab, capsys) -> None:
    assert main(lab.args("history", "67", "--group", "other", "--format", "json")) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [row["proc"] for row in rows] == ["IV"] and rows[0]["date"] == "2025-09-08"


def test_cli_ambiguous_and_missing_chip(lab: Lab, capsys) -> None:
    assert main(lab.args("history", "67")) == 2  # a usage error: say which group
    assert "Alisson, other" in capsys.readouterr().err
    assert main(lab.args("history", "12")) == 2
    assert main(lab.args("history")) == 2
    assert main(lab.args("history", "67", "--proc", "Sweep")) == 2
    assert "unknown procedure" in capsys.readouterr().err


@pytest.mark.parametrize("argv", [("history", "67"), ("metrics", "67"), ("annotate", "67", "--seq", "1", "--star"),
                                  ("plot", "67", "--seq", "1", "--out", "fig.pdf")])
def test_an_ambiguous_chip_says_how_to_name_its_group_in_every_command(lab: Lab, capsys, argv) -> None:
    """Only `history` said `with --group`; metrics, plot and annotate stopped at `say which group`."""
    assert main(lab.args(*argv)) == 2
    assert "(Alisson, other): say which group (--group on the command line" in capsys.readouterr().err


def test_cli_history_shows_the_key_derived_quantities_as_the_app(lab: Lab, capsys) -> None:
    """The app's history showed CNP, ΔI, ΔI/I, P and the responsivity beside each run; `labtui history` none."""
    assert main(lab.args("history", "67", "--group", "Alisson")) == 0
    header, *rows = capsys.readouterr().out.splitlines()
    quantities = ["CNP", "ΔI", "ΔI/I", "P", "RESP"]
    assert [title for title in header.split() if title in quantities] == quantities, header
    metrics = read_metrics(lab.config)
    for run in metrics.filter(pl.col("chip_name") == "Alisson67").iter_rows(named=True):
        column = "cnp_v" if run["proc"] == "IVg" else "delta_i_a"
        if run[column] is not None:
            line = next(line for line in rows if run["source_file"] in line)
            assert f" {format_si(run[column], 'V' if column == 'cnp_v' else 'A')} " in line, (column, line)


def test_cli_calibrations_and_chips(lab: Lab, capsys) -> None:
    assert main(lab.args("history", "--calibrations")) == 0
    out = capsys.readouterr().out.splitlines()
    # the curve's quantities and the information where a chip's gate, drain and period columns stood empty
    # the procedure said only of a run that is no calibration: "LaserCalibration" on every row took the
    # information's place at 80 columns; a PROC and a DUR blank on every row are left out
    assert out[0].split()[:9] == ["SEQ", "DATE", "TIME", "λ", "(nm)", "P", "MAX", "SLOPE", "VL"]
    assert "VG (V)" not in out[0] and "INFORMATION" in out[0] and "LaserCalibration" in out[1]  # its file
    assert out[1].split()[3] == "455", out[1]  # λ right after the time
    curve = read_metrics(lab.config).filter(pl.col("proc") == "LaserCalibration").row(0, named=True)
    for name, unit in (("p_max_w", "W"), ("slope_w_per_v", "W/V")):
        assert f" {format_si(curve[name], unit)} " in out[1], name
    assert main(lab.args("chips")) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split() == ["CHIP", "RUNS", "IV", "IVg", "It", "LIGHT", "DARK", "FIRST", "LAST"]
    assert out[1].split() == ["Alisson67", "5", "0", "2", "3", "2", "3", "2025-09-05", "2025-09-08"]
    assert main(lab.args("chips", "--format", "json")) == 0
    assert [row["chip_name"] for row in json.loads(capsys.readouterr().out)] == ["Alisson67", "other67"]


def test_a_manifest_written_before_the_summary_held_only_data_reads_and_shows_the_same(lab: Lab, capsys) -> None:
    """Old manifests stored the whole display line; they read as the conditions, so nothing needs re-staging."""
    new = lab.manifest()

    def shown() -> list[str]:
        outputs = []
        for args in (("history", "67", "--group", "Alisson", "--format", "csv"),
                     ("history", "--calibrations", "--format", "json"),
                     ("history", "67", "--group", "Alisson", "--search", "alisson67 vg=-0.35")):
            assert main(lab.args(*args)) == 0
            outputs.append(capsys.readouterr().out)
        return outputs

    before = shown()
    old = pl.read_parquet(lab.config.manifest_path).with_columns(summary=summary_line())
    write_manifest(old, lab.config.manifest_path)
    stored = pl.read_parquet(lab.config.manifest_path).sort("source_file")
    assert stored.filter(pl.col("source_file") == "Alisson_08_sept/It2025-09-08_2.csv")["summary"].item() == (
        "🌙 It Alisson67 VG=-0.35 V VDS=0.1 V #2")  # as labtui stored it before
    assert lab.manifest().equals(new)
    assert shown() == before
    assert "🌙 It Alisson67 VG=-0.35 V VDS=0.1 V #2" in before[0]  # exports keep the whole line


def test_old_summaries_read_as_their_conditions_and_new_ones_as_stored(lab: Lab, tmp_path) -> None:
    rows = lab.manifest().filter(pl.col("chip_name") == "Alisson67").head(3).with_columns(
        has_light=pl.Series([None, True, False], dtype=pl.Boolean), file_idx=pl.Series([5, None, 7]),
        summary=pl.Series(["❗ IVg Alisson67 #5", "💡 IVg Alisson67 VDS=0.1 V", "VG=1 V #7"]))
    path = tmp_path / "manifest.parquet"
    rows.write_parquet(path)
    assert read_manifest(path)["summary"].to_list() == ["", "VDS=0.1 V", "VG=1 V #7"]  # the last is new: kept
