"""What a new user meets on the command line: usage errors, output formats that agree, Ctrl+C at any moment."""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import polars as pl
import pytest

from labtui.cli import main
from labtui.cli.output import PLAIN_ERRORS
from labtui.core.config import default_registry_path, load_config
from labtui.core.store import DIRTY_MARKER
from labtui.core.validate import validate
from labtui.synth import LabSpec
from labtui.synth.demo import write_demo
from tests.lab import REJECT, REPO, Lab, cli_env, epoch, local, raw_csv, sha_tree, tui_lab

STAGE = [sys.executable, "-m", "labtui", "stage", "--workers", "1"]



@pytest.fixture
def lab(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Lab:
    monkeypatch.chdir(tmp_path)
    return tui_lab(tmp_path)


def test_history_leaves_the_wavelength_of_dark_runs_blank(lab: Lab, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(lab.args("history", "67", "--format", "json")) == 0
    rows = {row["source_file"]: row for row in json.loads(capsys.readouterr().out)}
    assert rows["2025-10-13/IVg2025-10-13_1.csv"]["laser_wavelength_nm"] is None  # dark: the header says 455
    assert rows["2025-10-13/It2025-10-13_4.csv"]["laser_wavelength_nm"] is None
    assert rows["2025-10-13/It2025-10-13_3.csv"]["laser_wavelength_nm"] == 365
    assert main(lab.args("history", "67")) == 0
    table = capsys.readouterr().out.splitlines()
    dark_ivg = next(line for line in table if "IVg2025-10-13_1.csv" in line)
    assert "455" not in dark_ivg


def test_history_of_a_procedure_the_runs_lack_names_the_ones_they_have(lab: Lab, capsys) -> None:
    """`history --calibrations --proc It` and `history 67 --proc IV` printed "0 of N runs" and nothing else."""
    lab.write_run("2025-10-13/LaserCalibration2025-10-13_1.csv", "LaserCalibration", start=local("2025-10-13 07:00"))
    lab.stage()
    assert main(lab.args("history", "--calibrations", "--proc", "It")) == 0
    assert "labtui: none of the setup's runs is It (they are LaserCalibration)" in capsys.readouterr().err
    assert main(lab.args("history", "67", "--proc", "IV,ITS")) == 0
    assert "labtui: none of chip 67's runs is IV or It (they are IVg)" not in capsys.readouterr().err  # It: some
    assert main(lab.args("history", "67", "--proc", "IV")) == 0
    assert "labtui: none of chip 67's runs is IV (they are IVg, It)" in capsys.readouterr().err


def test_the_setup_history_names_each_run_s_procedure_and_validate_counts_only_calibrations(lab: Lab,
                                                                                            capsys) -> None:
    """A Pt run (a procedure of no chip) listed among the calibrations without its procedure read as a calibration
    with no curve, and `validate` counted it as one."""
    lab.write_run("2025-10-13/LaserCalibration2025-10-13_1.csv", "LaserCalibration", start=local("2025-10-13 07:00"))
    pt = raw_csv("Pt", params={"Chip number": None, "Chip group name": None},
                 start=local("2025-10-13 07:30").timestamp(), columns=("t (s)", "P (W)", "VL (V)"),
                 rows=[f"{t},1e-6,{1 if 1 <= t < 2 else 0}" for t in range(4)])
    lab.write("2025-10-13/Pt2025-10-13_1.csv", pt)
    report = lab.stage()
    assert report.staged == 2, report
    assert main(lab.args("history", "--calibrations")) == 0
    lines = capsys.readouterr().out.splitlines()
    assert "PROC" in lines[0] and " Pt " in next(line for line in lines if "07:30" in line)
    assert validate(lab.config).stats["calibrations"] == 1  # this one; the Pt run none


def test_store_options_count_before_and_after_the_command(lab: Lab, tmp_path: Path, capsys, monkeypatch) -> None:
    """`labtui --store DIR chips` is `labtui chips --store DIR`; given twice, the one after the command wins."""
    monkeypatch.chdir(tmp_path / "raw")  # no config file here: only the options name the store
    store = ["--raw-root", str(lab.raw), "--store", str(lab.store_root)]
    outputs = []
    for argv in (["chips", *store], [*store, "chips"], ["--store", str(tmp_path / "nowhere"), "chips", *store]):
        assert main(argv) == 0, argv
        outputs.append(capsys.readouterr().out)
    assert "Alisson67" in outputs[0] and outputs == [outputs[0]] * 3


def test_history_csv_and_json_carry_the_same_columns_and_timestamps(lab: Lab, capsys) -> None:
    assert main(lab.args("history", "67", "--format", "csv")) == 0
    csv = pl.read_csv(capsys.readouterr().out.encode(), infer_schema=False)
    assert main(lab.args("history", "67", "--format", "json")) == 0
    rows = json.loads(capsys.readouterr().out)
    assert list(rows[0]) == csv.columns
    assert [row["start_time_utc"] for row in rows] == csv["start_time_utc"].to_list()
    assert all(row["start_time_utc"].endswith("Z") for row in rows)


@pytest.mark.parametrize("command", [["export", "histories", "--out"], ["chips", "--store"], ["stage", "--raw-root"]])
def test_an_empty_path_is_a_usage_error_not_the_current_folder(lab: Lab, tmp_path: Path, capsys, monkeypatch,
                                                               command: list[str]) -> None:
    """`Path("")` is `.`: `export histories --out ''` wrote every chip's history into the current folder."""
    here = tmp_path / "here"
    here.mkdir()
    monkeypatch.chdir(here)
    with pytest.raises(SystemExit) as exit_info:
        main(lab.args(*command, ""))
    assert exit_info.value.code == 2
    assert f"argument {command[-1]}: an empty path (give a folder or file" in capsys.readouterr().err
    assert list(here.iterdir()) == []


@pytest.mark.parametrize("out", ["", ".", "/", "./", "{tmp}", "{tmp}/"])
@pytest.mark.parametrize("command", [["history", "67"], ["metrics"], ["plot", "67", "--seq", "1"]])
def test_an_out_that_names_no_file_is_a_usage_error(lab: Lab, tmp_path: Path, capsys, command: list[str],
                                                   out: str) -> None:
    """`--out ''` or a folder: a traceback (the temp file's name is built from the target's) or a write error."""
    with pytest.raises(SystemExit) as exit_info:
        main(lab.args(*command, "--out", out.format(tmp=tmp_path)))
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert f"argument --out: {out.format(tmp=tmp_path)!r} is not a file name" in err
    # its example is a file the command writes: `plot --out out/` suggested runs.csv, a type plot refuses
    assert ("e.g. fig.pdf" if command[0] == "plot" else "e.g. runs.csv") in err


@pytest.mark.parametrize("command", ["history", "metrics"])
def test_a_table_shows_control_characters_in_file_names_escaped_one_row_a_line(lab: Lab, capsys, command: str) -> None:
    """A newline or an escape sequence in a file name would break the row or recolour the terminal; CSV and JSON
    keep the name as it is (their writers quote it)."""
    names = {"2025-10-15/It\x1b[31mRED\x1b[0m_1.csv": "It\\x1b[31mRED\\x1b[0m_1.csv",
             "2025-10-15/It\n2025_2.csv": "It\\n2025_2.csv"}
    for minute, name in enumerate(names):
        lab.write(name, raw_csv("It", start=epoch(2025, 10, 15, 12, minute)))
    lab.stage()
    assert main(lab.args(command, "67")) == 0
    table = capsys.readouterr().out
    for shown in names.values():
        assert sum(shown in line for line in table.splitlines()) == 1
    assert all(char == "\n" or char.isprintable() for char in table)
    assert main(lab.args(command, "67", "--format", "json")) == 0
    assert set(names) <= {row["source_file"] for row in json.loads(capsys.readouterr().out)}


def test_stage_rejects_and_validate_lines_show_control_characters_escaped(lab: Lab, capsys) -> None:
    """`rejected …`, `note …`, the rejects list and validate's findings name files too: an escape sequence in a name
    recoloured the terminal, a newline split the line, a right-to-left override reversed it."""
    lab.write("2025-10-15/It\x1b[31m_1.csv", b"#Procedure: <laser_setup.procedures.It.It>\r\n")
    lab.write("2025-10-15/It\u202e_3.csv", b"#Procedure: <laser_setup.procedures.It.It>\r\n")
    lab.write("2025-10-15/It\n_2.csv", raw_csv("It", start=epoch(2025, 10, 15, 12, 0), params={"VDS": "1e9 V"}))
    capsys.readouterr()
    assert main(lab.args("stage")) == 0
    stage = capsys.readouterr().out
    assert "rejected 2025-10-15/It\\x1b[31m_1.csv: " in stage and "note 2025-10-15/It\\n_2.csv: " in stage
    assert main(lab.args("rejects")) == 0
    listed = capsys.readouterr().out
    assert "2025-10-15/It\\x1b[31m_1.csv" in listed and "2025-10-15/It\\u202e_3.csv" in listed
    assert main(lab.args("validate", "-v")) == 0
    found = capsys.readouterr().out
    assert "2025-10-15/It\\x1b[31m_1.csv" in found and "2025-10-15/It\\u202e_3.csv" in found
    assert all(char == "\n" or char.isprintable() for char in stage + listed + found)


@pytest.mark.parametrize("command", [["history", "67"], ["chips"], ["metrics", "67"]])
def test_table_commands_take_json_as_the_report_commands_spell_it(lab: Lab, capsys, command: list[str]) -> None:
    """`--json` (validate, rejects, stage) is `--format json` on the commands that print tables."""
    assert main(lab.args(*command, "--format", "json")) == 0
    spelled_out = capsys.readouterr().out
    assert main(lab.args(*command, "--json")) == 0
    assert capsys.readouterr().out == spelled_out and json.loads(spelled_out)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (("history", "67", "--since", "2025-10-14", "--until", "2025-10-13"),
         "--since 2025-10-14 is after --until 2025-10-13"),
        (("history",), "give a chip number, or --calibrations"),
        (("history", "67", "--calibrations"), "give a chip number or --calibrations, not both"),
        # each was dropped without a word: a forced re-stage that never happened
        (("stage", "--watch", "--force"), "--force does not apply to --watch, which stages each file as it comes (a "
                                          "plain `labtui stage` takes them)"),
        (("stage", "--watch", "--json", "--strict"), "--strict and --json do not apply to --watch"),
        (("history", "--calibrations", "--group", "other"),  # it was dropped: every calibration was listed
         "calibrations belong to the setup, not to a chip: --group does not apply"),
        (("history", "67", "--proc", "Sweep"), "unknown procedure"),
        (("history", "67", "--bogus"), "unrecognized arguments: --bogus"),
        (("history", "67", "--proc", " "), "--proc names a procedure, not ' '"),  # an empty variable listed every run
        (("history", "67", "--tag", ""), "--tag names a tag, not ''"),
        (("history", "67", "--proc", ","), "--proc names a procedure, not ','"),  # "$A,$B", both unset: every run
        (("metrics", "--out", "m.parquet"), "--out m.parquet: a table is written as text, CSV or JSON (--format)"),
        (("history", "67", "--vg", "nan"), "argument --vg: a finite number, not 'nan'"),  # it matched no run
        (("history", "67", "--wavelength", "inf"), "argument --wavelength: a finite number, not 'inf'"),
        (("stage", "--wait"), "unrecognized arguments: --wait"),
        (("stage", "--raw-rot", "data"), "unrecognized arguments: --raw-rot data; did you mean '--raw-root'?"),
        (("history", "67", "--format", "tabel"), "invalid choice: 'tabel'; did you mean 'table'? (choose from table,"),
        (("plot", "67", "--trend", "cpn", "--out", "a.png"), "invalid choice: 'cpn'; did you mean 'cnp'? (choose from"),
        (("export", "histories", "--date", "2025-10-13"), "unrecognized arguments: --date"),
        (("demo", "lab", "--chips", "0"), "at least one chip"),
        # a required option mistyped was "the following arguments are required: --out": the typo, said as one
        (("plot", "67", "--seq", "1", "--outt", "a.png"), "unrecognized arguments: --outt; did you mean '--out'?"),
        (("plot", "67", "--seq", "1", "--outt=a.png"), "unrecognized arguments: --outt=a.png; did you mean '--out'?"),
        (("plot", "67", "--seq", "1"), "the following arguments are required: --out"),  # nothing mistyped
    ],
)
def test_usage_errors_are_one_line_naming_the_command(lab: Lab, capsys, argv: tuple[str, ...], message: str) -> None:
    try:
        code = main(list(argv) if argv[0] == "demo" else lab.args(*argv))  # demo writes its own config
    except SystemExit as exit_:  # argparse's own errors
        code = exit_.code
    err = capsys.readouterr().err
    assert code == 2 and message in err
    command = " ".join(argv[:2]) if argv[0] == "export" else argv[0]  # `export KIND` is a command of its own
    assert err.startswith(f"labtui {command}: error: ") and err.count("\n") == 1  # the usage buried it
    assert err.endswith(f"(labtui {command} --help lists the options)\n")


def test_a_folder_given_without_its_option_names_the_option(lab: Lab, capsys) -> None:
    """`labtui stage ~/raw`, the natural form, said only `unrecognized arguments: ~/raw`."""
    for argv, meant in ((["stage", str(lab.raw)], f"; a raw folder is given as --raw-root {lab.raw}"),
                        (["validate", str(lab.config.stage_root)], f"; a store is given as --store {lab.store_root}"),
                        (["validate", str(lab.store_root)], f"; a store is given as --store {lab.store_root}")):
        with pytest.raises(SystemExit) as exit_:
            main(argv)
        assert exit_.value.code == 2 and f"unrecognized arguments: {argv[1]}{meant}" in capsys.readouterr().err


def test_help_before_an_unknown_word_is_the_help(capsys) -> None:
    """`labtui --help trendz` answered "unrecognized option --help; did you mean '--help'?"."""
    with pytest.raises(SystemExit) as exit_:
        main(["--help", "trendz"])
    assert exit_.value.code == 0 and capsys.readouterr().out.startswith("usage: labtui")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["stgae"], "invalid choice: 'stgae'; did you mean 'stage'? (choose from stage, restage,"),
        (["--raw-rot", "data", "stage"], "unrecognized option --raw-rot; did you mean '--raw-root'?"),  # not 'data'
        (["--versoin"], "unrecognized arguments: --versoin; did you mean '--version'?"),
        (["zzz"], "invalid choice: 'zzz' (choose from stage,"),  # nothing close: no guess
        (["--stor", "x", "chips"], "unrecognized option --stor; did you mean '--store'?"),  # not the command 'x'
        # what another command does, in a new user's words: `labtui trends 67` named no way to draw them
        (["trends", "67"], "invalid choice: 'trends'; a chip's trends are drawn by `labtui plot CHIP --trend cnp`"),
        # asked for its help: the command is the mistake (it was "unrecognized option --help; did you mean '--help'?")
        (["trends", "--help"], "invalid choice: 'trends'; a chip's trends are drawn by `labtui plot CHIP --trend"),
        (["Figure"], "invalid choice: 'Figure'; a figure is written by `labtui plot CHIP --seq 3,5 --out FILE.pdf`"),
    ],
)
def test_a_mistyped_command_or_option_names_the_one_meant(capsys, argv: list[str], message: str) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and err.startswith("labtui: error: ") and message in err and err.count("\n") == 1
    if argv[0] == "trends":  # the commands' choice alone: an option's value named no command
        with pytest.raises(SystemExit):
            main(["history", "67", "--format", "trends"])
        assert "invalid choice: 'trends' (choose from table, csv, json)" in capsys.readouterr().err


@pytest.mark.parametrize(("argv", "meant"), [
    (("stage", "--forc"), "'--force'"),
    (("validate", "--fi"), "'--fix'"),
    (("prune", "--y"), "'--yes'"),
    (("history", "67", "--form=json"), "'--format'"),
    (("chips", "--st", "x"), "'--store' or '--stage-root'"),
])
def test_the_start_of_an_option_is_no_option(lab: Lab, capsys, argv: tuple[str, ...], meant: str) -> None:
    """argparse read a prefix as the option it starts: `stage --forc` re-staged everything, `validate --fi` ran the
    fixes, `prune --y` dropped runs. A prefix is answered as a typo is, naming the option meant, and changes
    nothing."""
    (lab.raw / "2025-10-13/It2025-10-13_2.csv").unlink()  # a run `prune --yes` would drop
    before = sha_tree(lab.store_root)
    with pytest.raises(SystemExit) as exit_:
        main(lab.args(*argv))
    err = capsys.readouterr().err
    assert exit_.value.code == 2
    assert f"unrecognized arguments: {' '.join(argv[2 if argv[0] == 'history' else 1:])}; did you mean {meant}?" in err
    assert sha_tree(lab.store_root) == before


def test_rejects_are_listed_in_the_labs_local_time(lab: Lab, capsys) -> None:
    assert main(lab.args("rejects")) == 0
    header, row, *_ = capsys.readouterr().out.splitlines()
    assert "WHEN (America/Santiago)" in header and "2025-10-26 12:00" in row  # rejected at 15:00 UTC
    for record in lab.config.rejects_dir.glob("*.json"):
        record.write_text("{not json")
    assert main(lab.args("rejects")) == 0
    out, err = capsys.readouterr()
    assert out == f"no rejected files in {lab.store_root}\n" and "1 reject record cannot be read" in err  # not 'none'


def test_rejects_columns_line_up_for_every_kind(tmp_path) -> None:
    """A kind longer than 20 characters (`conflicting_parameter`) pushed its row's time and reason a column right."""
    lab = Lab(tmp_path)
    lab.write("2025-10-14/It2025-10-14_1.csv", raw_csv("It").replace(b"#Metadata:", b"#\tVDS: 0.2 V\r\n#Metadata:"))
    lab.write("2025-10-14/It2025-10-14_2.csv", b"")
    lab.stage()
    result = lab.cli("rejects")
    header, *rows, _ = result.stdout.splitlines()
    when, reason = header.index("WHEN"), header.index("REASON")
    assert result.returncode == 0 and [row.split()[1] for row in rows] == ["conflicting_parameter", "empty"]
    for row in rows:
        assert re.fullmatch(r"  \d{4}-\d\d-\d\d \d\d:\d\d", row[when - 2 : when + 16]), row
        assert row[reason - 2 : reason + 1].startswith("  ") and row[reason] != " ", row


def test_an_ambiguous_chip_number_is_a_usage_error(lab: Lab, capsys) -> None:
    assert main(lab.args("history", "71")) == 2
    err = capsys.readouterr().err
    assert "Alisson, other" in err and err.startswith("labtui: ") and len(err.splitlines()) == 1  # as every error


def test_demo_help_describes_every_option(capsys) -> None:
    with pytest.raises(SystemExit):
        main(["demo", "--help"])
    out = capsys.readouterr().out
    for option in ("--chips", "--days", "--seed"):
        line = next(line for line in out.splitlines() if line.strip().startswith(option))
        assert len(line.split(maxsplit=2)) == 3, line  # option, metavar, description


def test_a_stage_names_the_files_it_staged_with_notes(lab: Lab, capsys) -> None:
    """A parameter left empty (a dark run then reads as light unknown) was said only in the run's record."""
    lab.write("2025-11-02/It2025-11-02_1.csv", raw_csv("It", params={"VDS": "0.1 Volt"}, start=epoch(2025, 11, 2)))
    assert main(lab.args("stage", "--quiet")) == 0
    out = capsys.readouterr().out
    assert "note 2025-11-02/It2025-11-02_1.csv: line " in out and "parameter 'VDS' = '0.1 Volt'" in out
    lab.write("2025-11-03/It2025-11-03_1.csv", raw_csv("It", params={"VDS": "x"}, start=epoch(2025, 11, 3)))
    assert main(lab.args("stage", "--json")) == 0
    assert [note["source_file"] for note in json.loads(capsys.readouterr().out)["notes"]] == [
        "2025-11-03/It2025-11-03_1.csv"]


def test_stage_json_lists_every_file_it_counts_as_rejected(lab: Lab, capsys) -> None:
    assert main(lab.args("stage", "--json")) == 0  # staged already: the reject is known, not new
    report = json.loads(capsys.readouterr().out)
    assert report["rejected"] == len(report["rejects"]) == 1
    assert report["rejects"][0]["source_file"] == "2025-10-14/It2025-10-14_9.csv" and not report["rejects"][0]["new"]


def test_a_raw_root_that_is_a_file_is_named_as_such(tmp_path: Path, capsys) -> None:
    raw = tmp_path / "raw.csv"
    raw.write_text("not a folder")
    assert main(["stage", "--raw-root", str(raw), "--stage-root", str(tmp_path / "s" / "raw_measurements")]) == 2
    assert f"the raw folder {raw} is a file, not a folder (check --raw-root)" in capsys.readouterr().err


@pytest.mark.parametrize(("target", "said"), [("raw", "is a symbolic link that loops (to itself, or through others): "
                                                     "mend the link"),
                                              ("gone", "is a symbolic link to gone, which does not exist")])
def test_a_raw_root_that_is_a_link_to_nothing_or_that_loops_is_named_as_such(tmp_path: Path, capsys, target: str,
                                                                             said: str) -> None:
    """A raw root that is a link looping to itself stopped `stage`, `validate` and `prune` with a RuntimeError's
    traceback (Python 3.11's `Path.resolve`)."""
    raw = tmp_path / "raw"
    raw.symlink_to(target)
    assert main(["stage", "--raw-root", str(raw), "--stage-root", str(tmp_path / "s" / "raw_measurements")]) == 2
    assert capsys.readouterr().err == f"labtui: the raw folder {raw} {said} (check --raw-root)\n"


def test_an_output_named_in_bytes_that_are_no_utf8_is_written(lab: Lab, tmp_path: Path) -> None:
    """`--out $'caf\\xe9.txt'` (a Latin-1 name from an older tool): a traceback in the temp file's name, exit 70."""
    (tmp_path / "out").mkdir()
    out = tmp_path / "out" / os.fsdecode(b"caf\xe9.csv")
    assert main(lab.args("history", "67", "--format", "csv", "--out", str(out))) == 0
    assert os.listdir(os.fsencode(tmp_path / "out")) == [b"caf\xe9.csv"]


def test_an_error_naming_a_path_with_a_newline_stays_one_line(tmp_path: Path, capsys) -> None:
    """A store folder named with a newline (a pasted path) split the error over two lines, and an escape sequence in
    one would have acted on the terminal."""
    store = tmp_path / "lab\nwork\x1b[2J" / "nowhere"
    assert main(["--store", str(store), "chips"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "lab\\nwork\\x1b[2J" in err and "\x1b" not in err, err


def test_restage_of_a_file_still_rejected_says_why(lab: Lab, capsys) -> None:
    assert main(lab.args("restage", REJECT)) == 0
    out = capsys.readouterr().out  # unchanged: not read again, but the reason is said (it printed "1 rejected" only)
    assert out.startswith(f"still rejected {REJECT}: ") and "(unchanged since; --force reads it again)" in out
    assert main(lab.args("restage", "--force", REJECT)) == 0
    assert capsys.readouterr().out.startswith(f"rejected {REJECT}: ")


def test_a_stage_into_a_new_store_says_so(lab: Lab, tmp_path: Path, capsys) -> None:
    """A misspelt --store builds a second store of the whole raw tree: at least it is said."""
    typo = tmp_path / "02_stge"
    assert main(lab.args("stage", "--store", str(typo), "--quiet")) == 0
    assert f"labtui: this started a new store at {typo}" in capsys.readouterr().err
    assert main(lab.args("stage", "--store", str(typo), "--quiet")) == 0
    assert "a new store" not in capsys.readouterr().err


@pytest.mark.parametrize("command", ["metrics", "repair"])
def test_a_command_that_maintains_a_store_never_starts_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys,
                                                           command: str) -> None:
    """In an empty folder (or a raw tree) `metrics` made data/02_stage/_manifest/.lock and a metrics table, and
    `repair` the lock, saying "nothing to repair"."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("LABTUI_CONFIG", raising=False)
    assert main([command]) == 2
    assert "no labtui store at" in capsys.readouterr().err and list(tmp_path.iterdir()) == []


def test_a_new_store_goes_in_a_folder_that_exists(lab: Lab, tmp_path: Path, capsys) -> None:
    """A misspelt --store made every missing folder on its path and staged a second store there, with a note."""
    typo = tmp_path / "dta" / "02_stage"
    assert main(lab.args("stage", "--store", str(typo), "--quiet")) == 2
    assert f"the folder {typo.parent} does not exist: create it first" in capsys.readouterr().err
    assert not typo.parent.exists()


def test_a_folder_inside_a_store_is_named_as_such(lab: Lab, capsys) -> None:
    """`--store <its raw_measurements>` advised `labtui stage --store <that folder>`, which is refused too."""
    assert main(lab.args("history", "67", "--store", str(lab.stage_root))) == 2
    err = capsys.readouterr().err
    assert f"is inside the store {lab.store_root}: give {lab.store_root} itself" in err and "stage into" not in err


@pytest.mark.parametrize("command", [("chips",), ("history", "67"), ("metrics",), ("validate",), ("repair",),
                                     ("rejects",), ("prune",)])
def test_a_misspelt_store_is_refused_by_the_commands_that_read_one(lab: Lab, tmp_path: Path, capsys,
                                                                    command: tuple[str, ...]) -> None:
    """Not an empty store that reads "healthy" or "nothing staged yet", and nothing created there (a lock, a
    derived folder)."""
    typo = tmp_path / "02_stge"
    assert main(lab.args(*command, "--store", str(typo))) == 2
    assert f"labtui: no labtui store at {typo} (it has no _manifest/ folder)" in capsys.readouterr().err
    assert not typo.exists() and not (tmp_path / "02_stge_derived").exists()


@pytest.mark.parametrize("command", [("history", "67"), ("history", "--calibrations"), ("rejects",),
                                     ("export", "histories"), ("plot", "67", "--out", "a.png"),
                                     ("annotate", "67", "--seq", "1", "--star")])
def test_a_command_in_a_folder_without_a_store_says_so(tmp_path: Path, capsys, monkeypatch,
                                                       command: tuple[str, ...]) -> None:
    """Run where no store is (no config, the default data/02_stage absent), these read an empty store: an empty
    calibrations table, "no rejected files", "nothing written", "no runs of chip 67"."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("LABTUI_CONFIG", raising=False)
    assert main(list(command)) == 2
    assert capsys.readouterr().err == (f"labtui: no labtui store at {tmp_path / 'data' / '02_stage'}: stage the raw "
                                       "files first (`labtui stage`), or name the store (--store DIR)\n")
    assert list(tmp_path.iterdir()) == []


def test_a_store_whose_raw_tree_moved_names_it_and_how_to_follow_it(lab: Lab, tmp_path: Path, capsys,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """Given the store alone after its raw tree was renamed, `stage` named `data/01_raw` below the working folder,
    a path the user never gave, and said to set raw_root in a config there is none of."""
    lab.config_file.unlink()
    lab.raw.rename(tmp_path / "raw_renamed")
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    monkeypatch.delenv("LABTUI_CONFIG", raising=False)
    assert main(["stage", "--store", str(lab.store_root)]) == 2
    assert capsys.readouterr().err == (
        f"labtui: the raw folder {lab.raw} does not exist (the store was staged from it: mount it, or if the raw tree "
        "moved, give its new place with --raw-root NEW --raw-root-moved)\n")
    assert main(["stage", "--quiet", "--store", str(lab.store_root), "--raw-root", str(tmp_path / "raw_renamed"),
                 "--raw-root-moved"]) == 0


@pytest.mark.parametrize("command", [("history", "67"), ("chips",), ("stage", "--quiet")])
@pytest.mark.parametrize("cwd", ["the lab", "elsewhere"])
def test_a_store_given_by_the_folder_holding_it_names_the_store_below(lab: Lab, tmp_path_factory, capsys, monkeypatch,
                                                                       command: tuple[str, ...], cwd: str) -> None:
    """`--store` given the lab folder said from there that the store and a default raw root the user never set
    "must not contain each other", and from elsewhere that the folder was "not empty"."""
    if cwd == "elsewhere":
        monkeypatch.chdir(tmp_path_factory.mktemp("elsewhere"))  # no config here nor above
    monkeypatch.delenv("LABTUI_CONFIG", raising=False)
    assert main([*command, "--store", str(lab.root)]) == 2
    assert capsys.readouterr().err == (f"labtui: no labtui store at {lab.root} (it has no _manifest/ folder); "
                                       f"{lab.store_root} is one: give --store {lab.store_root}\n")


@pytest.mark.parametrize("command", [("history", "67"), ("chips",), ("validate",), ("stage", "--quiet")])
def test_a_command_run_in_the_stores_own_folder_reads_it(lab: Lab, tmp_path_factory, capsys, monkeypatch,
                                                         command: tuple[str, ...]) -> None:
    """`cd store && labtui history 67 --store .` said that the store and a default raw root the user never gave
    (`store/data/01_raw`, not there) "must not contain each other"; from any other folder it worked."""
    store = tmp_path_factory.mktemp("elsewhere") / "store"  # no config file here nor above: the defaults apply
    shutil.copytree(lab.store_root, store)
    monkeypatch.chdir(store)
    monkeypatch.delenv("LABTUI_CONFIG", raising=False)
    assert main([*command, "--store", "."]) == 0, capsys.readouterr().err
    assert "must not contain" not in capsys.readouterr().err


@pytest.mark.parametrize(("where", "said"), [
    ("raw/derived", "is in the raw folder"),
    ("store/raw_measurements", "is in the store"),
    ("store/_manifest", "is in the store"),
    ("other/raw_measurements", "is in another labtui store ({tmp}/other)"),  # it broke that store's readers
    ("nowhere/derived", "the derived root {tmp}/nowhere/derived does not exist: create it first"),
    ("nowhere", "the derived root {tmp}/nowhere does not exist: create it first"),  # store_dervied: a second table
])
@pytest.mark.parametrize("command", [("stage",), ("metrics", "--rebuild")])
def test_a_derived_root_in_the_raw_folder_the_store_or_nowhere_is_refused(
    lab: Lab, tmp_path: Path, capsys, where: str, said: str, command: tuple[str, ...]
) -> None:
    """`--derived-root` was taken as given: the metrics table landed in the raw folder labtui promises never to
    write, among the store's runs (then a foreign file to `validate` and a schema clash to pyarrow's reader), or in
    a folder a typo created."""
    places = {"raw": lab.raw, "store": lab.store_root, "nowhere": tmp_path / "nowhere", "other": tmp_path / "other"}
    for folder in ("_manifest", "raw_measurements"):  # another store's shape
        (tmp_path / "other" / folder).mkdir(parents=True)
    top, _, rest = where.partition("/")
    derived = places[top] / rest if rest else places[top]
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    assert main(lab.args(*command, "--store", str(lab.store_root), "--derived-root", str(derived))) == 2
    err = capsys.readouterr().err
    assert err.startswith("labtui: ") and said.format(tmp=tmp_path) in err and err.count("\n") == 1, err
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before  # nothing written anywhere


def test_a_derived_root_in_the_raw_folder_the_store_recorded_is_refused(lab: Lab, tmp_path: Path, capsys,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """Run with `--store` alone (no config: the raw root is the one the store recorded), `--derived-root raw` wrote
    metrics.parquet into the raw tree; and a raw folder named like the store's default derived folder took it too."""
    lab.config_file.unlink()  # the raw root is the store's record alone
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    monkeypatch.delenv("LABTUI_CONFIG", raising=False)
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    assert main(["metrics", "--store", str(lab.store_root), "--derived-root", str(lab.raw)]) == 2, (
        capsys.readouterr())
    assert "is in the raw folder" in capsys.readouterr().err
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before
    shutil.rmtree(tmp_path / "store_derived")
    lab.raw.rename(tmp_path / "store_derived")  # the raw folder where the store's tables go by default
    assert main(["stage", "--raw-root", str(tmp_path / "store_derived"), "--store", str(lab.store_root),
                 "--raw-root-moved"]) == 2
    assert capsys.readouterr().err == (
        f"labtui: the store's derived tables would go in the raw folder ({tmp_path / 'store_derived'}): their folder "
        f"{tmp_path / 'store_derived'} is beside the store; give --derived-root a folder outside it\n")
    assert not (tmp_path / "store_derived" / "metrics.parquet").exists()


def test_two_stores_given_one_derived_root_are_refused_the_second(lab: Lab, tmp_path: Path, capsys) -> None:
    """Two stores staged with one `--derived-root` rewrote each other's metrics table at every command (547 rows,
    then 4): the commands' answers held, a notebook reading the table got whichever store ran last. A table whose
    store is gone, or keeps its tables elsewhere now, is this store's to take."""
    shared = tmp_path / "shared"
    shared.mkdir()
    assert main(lab.args("stage", "--quiet", "--derived-root", str(shared))) == 0
    table = pl.read_parquet(shared / "metrics.parquet")
    other = Lab(tmp_path / "other")
    other.write("2025-10-21/IVg2025-10-21_1.csv", raw_csv("IVg"))
    for command in (("stage", "--quiet"), ("metrics",), ("history", "67")):
        assert main(other.args(*command, "--derived-root", str(shared))) == 2, command
        assert capsys.readouterr().err == (
            f"labtui: the derived root {shared} holds the derived tables of the store {lab.store_root.absolute()}, "
            "which keeps them there: give each store a derived root of its own (--derived-root, or derived_root in "
            "the config)\n")
    assert pl.read_parquet(shared / "metrics.parquet").equals(table) and not other.store_root.exists()
    (tmp_path / "own").mkdir()
    assert main(lab.args("stage", "--quiet", "--derived-root", str(tmp_path / "own"))) == 0  # the first moves out
    assert main(other.args("stage", "--quiet", "--derived-root", str(shared))) == 0  # the folder is free
    assert pl.read_parquet(shared / "metrics.parquet")["source_file"].to_list() == ["2025-10-21/IVg2025-10-21_1.csv"]


def test_a_stores_default_derived_root_given_to_another_store_is_refused(tmp_path: Path, capsys) -> None:
    """A store keeping its table in its default folder (`<store>_derived`, recorded as no derived root) had it taken
    by a second store's `--derived-root`: the two rewrote it at every command, a notebook read whichever ran last."""
    lab = Lab(tmp_path / "first")
    lab.write("2025-10-21/It2025-10-21_1.csv", raw_csv("It"))
    assert main(lab.args("stage", "--quiet")) == 0
    capsys.readouterr()
    default = lab.config.metrics_path.parent
    table = pl.read_parquet(lab.config.metrics_path)
    other = Lab(tmp_path / "other")
    other.write("2025-10-21/IVg2025-10-21_1.csv", raw_csv("IVg"))
    assert main(other.args("stage", "--quiet", "--derived-root", str(default))) == 2
    assert capsys.readouterr().err.startswith(f"labtui: the derived root {default} holds the derived tables of the "
                                              f"store {lab.store_root.absolute()}, which keeps them there")
    assert pl.read_parquet(lab.config.metrics_path).equals(table) and not other.store_root.exists()


@pytest.mark.parametrize("command", [("stage", "--quiet"), ("metrics", "67"), ("chips",)])
def test_a_configured_derived_root_that_is_not_there_is_refused(lab: Lab, tmp_path: Path, capsys,
                                                                 command: tuple[str, ...]) -> None:
    """`derived_root:` in the config with its last folder mistyped made the folder and a second metrics table."""
    lab.configure(derived_root="store_dervied")
    assert main(lab.args(*command)) == 2
    assert capsys.readouterr().err == (f"labtui: the derived root {tmp_path / 'store_dervied'} does not exist: create "
                                       "it first, or check the path (labtui makes only its default one, beside the "
                                       "store)\n")
    assert not (tmp_path / "store_dervied").exists()
    (tmp_path / "derived").mkdir()
    lab.configure(derived_root="derived")
    assert main(lab.args(*command)) == 0
    lab.configure(derived_root=None)  # the default folder is labtui's to make
    shutil.rmtree(lab.config.derived_dir, ignore_errors=True)
    assert main(lab.args("metrics")) == 0 and lab.config.metrics_path.is_file()


@pytest.mark.parametrize("command", [("stage", "--json"), ("validate", "--json"), ("history", "67", "--json"),
                                     ("rejects", "--json")])
def test_a_command_asked_for_json_fails_in_json_too(lab: Lab, capsys, command: tuple[str, ...]) -> None:
    """`labtui stage --json | python -m json.tool` failed with "Expecting value" when the stage could not start (a
    held lock, a missing store): stdout was empty. The error is JSON on stdout as well as its line on stderr."""
    assert main(lab.args(*command, "--derived-root", str(lab.raw / "derived"))) == 2
    captured = capsys.readouterr()
    message = captured.err.removeprefix("labtui: ").rstrip("\n")
    assert json.loads(captured.out) == {"error": message, "exit_code": 2} and "is in the raw folder" in message


@pytest.mark.parametrize(("argv", "message"), [
    (("history", "67", "--json", "--since", "2025-13-01"), "argument --since: not a date (YYYY-MM-DD): '2025-13-01'"),
    (("history", "67", "--format=json", "--bogus"), "unrecognized arguments: --bogus"),
    (("history", "67", "--calibrations", "--format", "json"), "give a chip number or --calibrations, not both"),
])
def test_a_usage_error_of_a_command_asked_for_json_is_json_too(lab: Lab, capsys, argv: tuple[str, ...],
                                                               message: str) -> None:
    """An option argparse or the command refused printed its line on stderr and nothing on stdout."""
    try:
        code = main(lab.args(*argv))
    except SystemExit as refused:  # argparse's own errors leave as the exit labtui's process ends with
        code = refused.code
    assert code == 2
    captured = capsys.readouterr()
    assert json.loads(captured.out) == {"error": message, "exit_code": 2}
    assert captured.err == f"labtui history: error: {message} (labtui history --help lists the options)\n"


def test_a_command_without_json_refuses_json_in_plain_text(lab: Lab, capsys) -> None:
    """`plot --json`: the option is refused as any it does not know, and JSON printed on stdout for it promised a
    JSON mode the command does not have."""
    with pytest.raises(SystemExit) as refused:
        main(lab.args("plot", "67", "--seq", "1", "--out", "a.png", "--json"))
    captured = capsys.readouterr()
    assert refused.value.code == 2 and captured.out == ""
    assert captured.err.startswith("labtui plot: error: unrecognized arguments: --json")
    with pytest.raises(SystemExit):  # refused before a command is known: answered as asked
        main(["--confg", "x", "history", "67", "--json"])
    assert json.loads(capsys.readouterr().out)["error"].startswith("unrecognized option --confg")


@pytest.mark.parametrize("chip", [("677", "--format", "json"), ("677", "--json"), ("Alisson677", "--json"),
                                  ("67", "--group", "Foo", "--json")])
def test_history_of_an_unknown_chip_asked_for_json_fails_in_json(lab: Lab, capsys, chip: tuple[str, ...]) -> None:
    """`history` printed its own error and returned, so `main` never answered the JSON request: stdout was empty."""
    assert main(lab.args("history", *chip)) == 2
    captured = capsys.readouterr()
    message = captured.err.removeprefix("labtui: ").rstrip("\n")
    assert json.loads(captured.out) == {"error": message, "exit_code": 2}
    assert message.startswith("no runs of chip") and message.endswith(f"(store {lab.store_root})")


def interrupted(
    command: list[str], ready: Callable[[subprocess.Popen[str]], bool]
) -> subprocess.CompletedProcess[str]:
    """`command` in a process that gets one SIGINT (a Ctrl+C) as soon as `ready(process)` holds (or it ended)."""
    process = subprocess.Popen(command, env=cli_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 30
    while not ready(process) and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)  # polling another process's file: there is no message to await
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=60)
    return subprocess.CompletedProcess(command, process.returncode, out, err)


def test_ctrl_c_while_staging_prints_the_summary_and_leaves_a_clean_store(tmp_path: Path) -> None:
    """SIGINT as soon as the stager marks the store dirty (Polars is parsing in the workers)."""
    write_demo(tmp_path, LabSpec(chips=2, days=4, seed=5))
    config = tmp_path / "config" / "labtui.yaml"
    marker = tmp_path / "data" / "02_stage" / "_manifest" / DIRTY_MARKER
    midway = interrupted([*STAGE, "--config", str(config)], lambda _: marker.exists())
    assert midway.returncode == 130, midway.stderr
    assert "Traceback" not in midway.stderr and "cancelled: " in midway.stdout and " staged, " in midway.stdout
    report = validate(load_config(config))
    assert not any(finding.code == "interrupted_writer" for finding in report.findings) and not marker.exists()


# `python -m labtui`, saying `up` when `labtui.__main__.run` starts importing the command line
LOADING = """
import sys
class Up:
    def find_spec(self, name, path=None, target=None):
        if name == "labtui.cli":
            sys.meta_path.remove(self)
            print("up", flush=True)
sys.meta_path.insert(0, Up())
import labtui.__main__ as entry
sys.exit(entry.run())
"""


def test_ctrl_c_while_starting_ends_quietly(tmp_path: Path) -> None:
    """SIGINT as soon as labtui imports its command line (where a Ctrl+C lands when labtui is slow to start); from
    there on, wherever it lands: no traceback, no dirty store. Earlier, Python is still loading the entry module
    itself, and a SIGINT ends in Python's own traceback; waiting for `up` keeps the test off the machine's load."""
    lab = tui_lab(tmp_path, staged=False)
    command = [sys.executable, "-c", LOADING, *STAGE[3:], "--config", str(lab.config_file)]
    early = interrupted(command, lambda process: process.stdout is not None and process.stdout.readline() == "up\n")
    assert early.returncode in (0, 130) and "Traceback" not in early.stderr, early.stderr
    assert not (lab.config.manifest_dir / DIRTY_MARKER).exists()


def test_a_stage_stopped_before_its_first_file_does_not_say_the_raw_folder_is_empty(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A Ctrl+C that lands before any file is done: the stage says it stopped, not that there are no raw files."""
    import labtui.cli.stage

    def stopped_at_once(stager):  # type: ignore[no-untyped-def]
        stager.cancel.set()
        return stager.run()

    lab = Lab(tmp_path)  # nothing staged yet
    lab.write("2025-10-13/It2025-10-13_1.csv", raw_csv("It"))
    monkeypatch.setattr(labtui.cli.stage, "run_cancellable", stopped_at_once)
    assert main(lab.args("stage", "--settle", "0")) == 130
    assert "no raw files" not in capsys.readouterr().err and not lab.config.manifest_path.exists()


def test_a_ctrl_c_inside_polars_rust_code_ends_quietly_and_a_real_panic_does_not(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A Ctrl+C while Polars registers itself at import reaches Python as pyo3's PanicException naming the
    KeyboardInterrupt (seen in 2 of 100 Ctrl+Cs at random moments of `labtui plot`): one line, exit 130, as any
    Ctrl+C. A panic of Polars' own is a bug, and stays loud."""
    import labtui.cli.demo

    from_rust = "called `Result::unwrap()` on an `Err` value: PyErr { type: <class 'KeyboardInterrupt'>, value: ...}"
    for message, expected in ((from_rust, 130), ("index out of bounds: the len is 3 but the index is 7", None)):
        def panic(args: object, message: str = message) -> int:
            raise pl.exceptions.PanicException(message)

        monkeypatch.setattr(labtui.cli.demo, "run", panic)
        if expected is None:
            with pytest.raises(pl.exceptions.PanicException):
                main(["demo", str(tmp_path / "lab")])
        else:
            assert main(["demo", str(tmp_path / "lab")]) == expected
            assert capsys.readouterr().err == "labtui: interrupted\n"


def test_a_chip_is_named_as_the_history_shows_it_or_by_number(lab: Lab, capsys) -> None:
    """`Alisson67` (any case, `-` or `_` between) is chip 67 of group Alisson; its group agrees with `--group`."""
    outputs = []
    chips = (["67"], ["Alisson67"], ["alisson-67"], ["--group", "ALISSON", "Alisson_67"],
             ["Alisson67", "--group", "alisson"])
    for chip in chips:
        assert main(lab.args("history", *chip, "--format", "csv")) == 0, chip
        outputs.append(capsys.readouterr().out)
    assert "Alisson67" in outputs[0] and outputs == [outputs[0]] * 5
    for name in ("other71", "Alisson71"):  # 71 is used by two groups: the name picks one
        assert main(lab.args("history", name, "--format", "json")) == 0
        assert [row["chip_name"] for row in json.loads(capsys.readouterr().out)] == [name]
    for argv, message in ((("Alisson67", "--group", "other"), "chip Alisson67 and group other name different groups"),
                          (("67x",), "not a chip number or name (67, Alisson67): '67x'")):
        assert main(lab.args("history", *argv)) == 2 and message in capsys.readouterr().err


@pytest.mark.parametrize("command", [["history", "67"], ["chips"], ["metrics", "67"]])
def test_an_out_file_ending_csv_or_json_gets_that_format(lab: Lab, tmp_path: Path, command: list[str]) -> None:
    """Without --format, `--out x.csv` wrote the padded text table into x.csv (one column to every CSV reader)."""
    assert main(lab.args(*command, "--out", str(tmp_path / "t.CSV"))) == 0
    table = pl.read_csv(tmp_path / "t.CSV")
    assert main(lab.args(*command, "--out", str(tmp_path / "t.json"))) == 0
    assert len(json.loads((tmp_path / "t.json").read_text())) == table.height and table.width > 3
    assert main(lab.args(*command, "--format", "table", "--out", str(tmp_path / "t.csv"))) == 0
    assert "," not in (tmp_path / "t.csv").read_text().splitlines()[0]  # asked for: the table
    assert main(lab.args(*command, "--out", str(tmp_path / "t.txt"))) == 0
    assert (tmp_path / "t.txt").read_text() == (tmp_path / "t.csv").read_text()


def test_an_output_never_replaces_a_lab_file_a_link_or_a_device(lab: Lab, tmp_path: Path, capsys) -> None:
    """An output is written by a rename, which replaces whatever has its name: a raw file, the manifest, a run's
    Parquet, the metrics table, a symbolic link (the link is kept, its file written), a pipe."""
    raw_file = next(lab.raw.rglob("*.csv"))
    lab_files = [raw_file, lab.config.manifest_path, next(lab.config.stage_root.rglob("*.parquet"))]
    before = {path: path.read_bytes() for path in lab_files}
    for target in (*lab_files, lab.raw / "new.csv", lab.config.metrics_path):
        assert main(lab.args("history", "67", "--format", "csv", "--out", str(target))) == 2, target
        assert "labtui writes its outputs elsewhere" in capsys.readouterr().err or target == lab.config.metrics_path
    assert {path: path.read_bytes() for path in lab_files} == before and not (lab.raw / "new.csv").exists()
    kept = tmp_path / "kept.csv"
    kept.write_text("old")
    (tmp_path / "link.csv").symlink_to(kept)
    assert main(lab.args("history", "67", "--format", "csv", "--out", str(tmp_path / "link.csv"))) == 0
    assert (tmp_path / "link.csv").is_symlink() and kept.read_text().startswith("seq,")
    os.mkfifo(tmp_path / "fifo.csv")
    assert main(lab.args("metrics", "--format", "csv", "--out", str(tmp_path / "fifo.csv"))) == 2
    assert "is not a regular file" in capsys.readouterr().err
    piped = lab.cli("history", "67", "--format", "csv", "--out", "/dev/stdout")  # stdout is a pipe here
    assert piped.returncode == 2 and piped.stderr == "labtui: /dev/stdout is not a regular file (a device, a pipe " \
                                                     "or a socket)\n", piped.stderr
    assert main(lab.args("plot", "67", "--seq", "1", "--out", str(lab.config.store_root / "fig.png"))) == 2
    assert not (lab.config.store_root / "fig.png").exists()


def test_an_output_never_replaces_a_file_labtui_reads(lab: Lab, tmp_path: Path, capsys) -> None:
    """`history 69 --out config/labtui.yaml` wrote its table over the lab's config (every later command failed on
    it), `metrics --out config/chip_params.yaml` over the chip geometry, and so the lab's registry."""
    chips, registry = tmp_path / "geometry.yaml", tmp_path / "procedures.yaml"
    chips.write_text("{}\n")
    registry.write_text(default_registry_path().read_text())
    lab.configure(chip_params_file=str(chips), procedures_file=str(registry))
    kept = {path: path.read_bytes() for path in (lab.config_file, chips, registry)}
    named = tmp_path / "mylab.yaml"  # a config named by --config, not found by its name
    named.write_text(lab.config_file.read_text())
    kept[named] = named.read_bytes()
    for target, said, config in (
            (lab.config_file, "the config", lab.config_file), (named, "the config", named),
            (chips, "the chip geometry file (chip_params_file)", lab.config_file),
            (registry, "the procedure registry (procedures_file)", lab.config_file)):
        assert main(["metrics", "--config", str(config), "--out", str(target)]) == 2, target
        assert capsys.readouterr().err == f"labtui: {target} is {said}, which labtui reads: write the output " \
                                          "elsewhere\n"
    assert {path: path.read_bytes() for path in kept} == kept
    other = tmp_path / "elsewhere" / "labtui.yaml"  # a file of that name labtui does not read: an output may go there
    other.parent.mkdir()
    assert main(lab.args("metrics", "--out", str(other))) == 0 and other.exists()
    lab3 = tmp_path / "lab3" / "config" / "labtui.yaml"  # another project's, where labtui finds it: refused
    lab3.parent.mkdir(parents=True)
    lab3.write_text("stage_root: data/02_stage\n")
    assert main(lab.args("metrics", "--out", str(lab3))) == 2
    assert capsys.readouterr().err.endswith(f"{lab3} is a lab's config, which labtui reads: write the output "
                                            "elsewhere\n") and lab3.read_text() == "stage_root: data/02_stage\n"


def test_a_terminal_that_cannot_show_greek_or_emoji_gets_their_plain_letters(lab: Lab) -> None:
    """A Latin-1 or cp1252 console: λ, Δ and 💡 were a traceback, even for --help; then each was a `?`, and an ASCII
    one wrote `8.84 ?A`: the prefix, and the magnitude with it, lost. Each is a letter as wide, the table aligned."""
    env = {**cli_env(), "PYTHONIOENCODING": "cp1252"}
    for argv in (lab.command("history", "67"), [sys.executable, "-m", "labtui", "--help"]):
        result = subprocess.run(argv, capture_output=True, env=env, timeout=60)
        assert result.returncode == 0 and b"Traceback" not in result.stderr, result.stderr.decode(errors="replace")
    assert b"l (nm)" in subprocess.run(lab.command("history", "67"), capture_output=True, env=env).stdout
    ascii_out = subprocess.run(lab.command("history", "67"), capture_output=True, env={
        **cli_env(), "PYTHONIOENCODING": "ascii"}, timeout=60).stdout.decode("ascii")
    utf8_out = subprocess.run(lab.command("history", "67"), capture_output=True, env=cli_env(), timeout=60).stdout
    assert "?" not in ascii_out and "l (nm)" in ascii_out
    assert "8.84 µA, λ=455 nm, −5→5 V, ΔI ≥ 5σ, 💡".encode("ascii", errors=PLAIN_ERRORS) == \
        b"8.84 uA, l=455 nm, -5:5 V, dI >= 5 sigma, L "
    assert [len(line) for line in ascii_out.splitlines()] == [
        len(line.replace("💡", "L ").replace("🌙", "D ")) for line in utf8_out.decode().splitlines()]


def test_text_typed_under_a_c_locale_is_read_as_the_utf8_it_is(lab: Lab) -> None:
    """LC_ALL=C with UTF-8 mode off: `--tag "5 µW"` reached the engine as surrogate escapes, a traceback."""
    env = {**cli_env(), "LC_ALL": "C", "PYTHONUTF8": "0"}
    annotate = subprocess.run(lab.command("annotate", "67", "--seq", "1", "--tag", "5 µW"), capture_output=True,
                              text=True, env=env, timeout=60)
    assert annotate.returncode == 0, annotate.stderr
    found = subprocess.run(lab.command("history", "67", "--tag", "5 µW", "--format", "csv"), capture_output=True,
                           env=env, timeout=60)
    assert found.returncode == 0 and found.stdout.count(b"\n") == 2, found  # the header and the run tagged


def test_a_non_ascii_raw_file_is_found_under_a_c_locale(lab: Lab) -> None:
    """LC_ALL=C with UTF-8 mode off: `prune` listed `Señal/…` as gone (`--yes` dropped its run), and `validate
    --hash` and `restage` of it were a traceback."""
    lab.write("Señal_µ/It2025-10-22_1.csv", raw_csv("It", start=epoch(2025, 10, 22)))
    assert lab.cli("stage").returncode == 0
    env = {**cli_env(), "LC_ALL": "C", "PYTHONUTF8": "0"}
    for argv in (["prune"], ["validate", "--hash"], ["restage", "Señal_µ/It2025-10-22_1.csv"]):
        result = subprocess.run(lab.command(*argv), cwd=lab.root, capture_output=True, text=True, env=env, timeout=60)
        assert result.returncode == 0 and "Traceback" not in result.stderr, (argv, result.stderr)
        assert "gone" not in result.stdout, argv


def test_a_working_folder_deleted_under_the_shell(lab: Lab, tmp_path: Path) -> None:
    """A shell left in a folder that was deleted: every command said "operating-system error: No such file or
    directory", also with an absolute --config, which needs no working folder."""
    gone = tmp_path / "gone"
    gone.mkdir()
    in_gone = ["sh", "-c", 'cd "$0" && rmdir "$0" && exec "$@"', str(gone)]
    env = {**cli_env(), "PYTHONPATH": str(REPO)}  # a relative entry stops Python itself there
    given = subprocess.run([*in_gone, *lab.command("chips")], capture_output=True, text=True, env=env, timeout=60)
    assert given.returncode == 0 and "Alisson67" in given.stdout, given.stderr
    gone.mkdir()
    found = subprocess.run([*in_gone, sys.executable, "-m", "labtui", "chips"], capture_output=True, text=True,
                           env=env, timeout=60)
    assert (found.returncode, found.stderr) == (2, "labtui: the working folder no longer exists (deleted or "
                                                   "unmounted): cd to another one\n")
    gone.mkdir()  # an absolute --config, and a relative output that needs the working folder
    out = subprocess.run([*in_gone, *lab.command("history", "67", "--out", "h.csv")], capture_output=True, text=True,
                         env=env, timeout=60)
    assert (out.returncode, out.stderr) == (found.returncode, found.stderr)


def test_csv_and_json_on_a_latin1_output_are_utf8_as_out_writes_them(lab: Lab) -> None:
    """A Latin-1 or cp1252 output (a redirection on Windows): `--format json` and `csv` came out in that encoding,
    every 🌙, → and λ a `?`, where `--out` writes UTF-8."""
    assert lab.cli("annotate", "67", "--seq", "1", "--tag", "5 µW ü").returncode == 0
    env = {**cli_env(), "PYTHONIOENCODING": "latin-1"}
    for output in ("json", "csv"):
        result = subprocess.run(lab.command("history", "67", "--format", output), capture_output=True, env=env,
                                timeout=60)
        assert result.returncode == 0 and "5 µW ü" in result.stdout.decode("utf-8"), output


def test_the_app_with_its_standard_error_redirected_says_so_on_the_terminal(lab: Lab) -> None:
    """Textual draws on stderr: `labtui 2>log` drew the app into the log and left the terminal blank, waiting."""
    import pty

    terminal, device = pty.openpty()
    try:
        result = subprocess.run(lab.command("tui"), stdin=device, stdout=device, stderr=subprocess.PIPE,
                                env=cli_env(), timeout=30)
        shown = os.read(terminal, 4096).decode()
    finally:
        os.close(terminal)
        os.close(device)
    assert result.returncode == 2 and result.stderr == b""
    assert "the app draws on the standard error: run it without redirecting that" in shown


def test_a_deep_validation_says_on_a_terminal_why_it_takes_long(lab: Lab) -> None:
    """Hashing every raw file and decoding every Parquet takes minutes on a large store: a terminal is told what
    runs meanwhile; a pipe or a log gets the report alone."""
    import pty

    terminal, device = pty.openpty()
    try:
        result = subprocess.run(lab.command("validate", "--deep"), stdout=subprocess.PIPE, stderr=device,
                                env=cli_env(), timeout=60)
        said = os.read(terminal, 4096).decode()
    finally:
        os.close(terminal)
        os.close(device)
    assert said.startswith("validating deeply: every raw file hashed, every run's Parquet decoded")
    assert b"hashed" in result.stdout
    piped = subprocess.run(lab.command("validate", "--deep"), capture_output=True, env=cli_env(), timeout=60)
    assert piped.stderr == b"" and b"hashed" in piped.stdout


def test_the_progress_line_shows_an_escape_in_a_file_name_escaped(monkeypatch: pytest.MonkeyPatch) -> None:
    """`stage` on a terminal wrote a raw file's name as it is: an `ESC[2J` in it cleared the screen."""
    from labtui.cli.progress import ProgressBar
    from labtui.core.stage_events import EventKind, StageEvent

    monkeypatch.setenv("COLUMNS", "200")
    line = io.StringIO()
    ProgressBar(line, enabled=True)(StageEvent(EventKind.FILE, done=1, total=2, source_file="It\x1b[2J_1.csv"))
    assert "\x1b" not in line.getvalue() and "It\\x1b[2J_1.csv" in line.getvalue()


def test_a_full_disk_behind_a_redirection_is_one_line(lab: Lab) -> None:
    """Every command that prints: `validate`, `rejects`, `stage` and the JSON outputs said "operating-system error:
    No space left on device", naming nothing (only the tables knew it was their output). Buffered or not (`-u`,
    PYTHONUNBUFFERED: the output keeps the buffering Python gave it)."""
    commands = (["history", "67"], ["history", "67", "--json"], ["chips"], ["metrics"], ["validate"],
                ["validate", "--json"], ["rejects"], ["rejects", "--json"], ["stage"], ["annotate", "--help"])
    for unbuffered in (False, True):
        env = {key: value for key, value in cli_env().items() if key != "PYTHONUNBUFFERED"}
        for command in commands if not unbuffered else (["history", "67"], ["validate", "--json"], ["stage"]):
            with open("/dev/full", "w") as full:
                result = subprocess.run(lab.command(*command), stdout=full, stderr=subprocess.PIPE, text=True,
                                        env=env | ({"PYTHONUNBUFFERED": "1"} if unbuffered else {}), timeout=60)
            assert result.returncode == 74, (command, unbuffered, result.stderr)
            assert result.stderr == "labtui: cannot write the standard output: No space left on device\n", command


def test_a_closed_standard_stream_is_no_traceback(lab: Lab) -> None:
    """`labtui stage 2>&-` (a cron line, a backgrounded watcher) staged nothing and exited 70, `history 67 >&-` too."""
    lab.write("2025-10-22/It2025-10-22_1.csv", raw_csv("It", start=epoch(2025, 10, 22)))
    closed = {"stage": "2>&-", "history": ">&-"}
    for command, redirection in closed.items():
        argv = lab.command(command, *(["67"] if command == "history" else []))
        result = subprocess.run(["sh", "-c", f'exec "$@" {redirection}', "sh", *argv], capture_output=True, text=True,
                                env=cli_env(), timeout=60)
        assert result.returncode == 0 and "Traceback" not in result.stdout + result.stderr, result
    assert "It2025-10-22_1.csv" in lab.cli("history", "67").stdout  # the stage with stderr closed staged it


@pytest.mark.parametrize(
    ("argv", "message"),
    [(("stage", "--workers", "0"), "--workers: a whole number ≥ 1, not '0'"),
     (("stage", "--lock-timeout", "nan"), "--lock-timeout: seconds ≥ 0, not 'nan'"),
     (("stage", "--settle", "-5"), "--settle: seconds ≥ 0, not '-5'"),
     (("export", "histories", "--min-experiments", "-5"), "--min-experiments: a whole number ≥ 1, not '-5'")],
)
def test_a_bad_option_value_is_named_as_the_option_not_the_config_file(lab: Lab, capsys, argv, message) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(lab.args(*argv))
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and message in err and "configuration" not in err


def test_a_value_past_the_configs_bounds_is_the_command_lines(lab: Lab, capsys) -> None:
    """`--workers 1000` was "invalid configuration (--raw-root, --stage-root)": the wrong options blamed."""
    assert main(lab.args("stage", "--workers", "1000")) == 2
    err = capsys.readouterr().err
    assert err == "labtui: invalid value on the command line: workers: must be ≤ 64, not 1000\n"


def test_a_store_given_with_store_is_named_so_in_a_configuration_error(lab: Lab, capsys) -> None:
    """A raw folder inside the store given with `--store` was blamed on `--stage-root`, an option not typed."""
    store = lab.root / "store"
    assert main(["stage", "--raw-root", str(store / "raw_measurements"), "--store", str(store)]) == 2
    err = capsys.readouterr().err
    assert "--store" in err and "--stage-root" not in err and "must not contain each other" in err


def test_a_table_for_a_terminal_leaves_out_empty_columns_and_cuts_text_never_numbers() -> None:
    from labtui.cli.history import render_table

    frame = pl.DataFrame({"SEQ": [1, 2], "VALUE": [1.234567e-6, 2.0], "NOTE": [None, None],
                          "FILE": ["Alisson_01_sept/IVg2025-09-01_1.csv", "Alisson_01_sept/It2025-09-01_12.csv"],
                          "SUMMARY": ["a long description of the run " * 2] * 2})
    whole = render_table(frame)
    assert "NOTE" in whole and "Alisson_01_sept/It2025-09-01_12.csv" in whole  # a file or a pipe: all of it
    lines = render_table(frame, width=60).splitlines()
    assert "NOTE" not in lines[0] and all(len(line) <= 60 for line in lines)
    assert "1.23457e-06" in lines[1] and "…/IVg2025-09-01_1.csv" in lines[1] and "…/It2025-09-01_12.csv" in lines[2]
    assert lines[1].endswith("…") and "a long descr" in lines[1]  # the widest text column gave way first
    units = pl.DataFrame({"mobility": ["4479 cm²/(V·s)"], "FILE": ["Alisson_01_sept/IVg2025-09-01_1.csv"]})
    line = render_table(units, width=40, whole=("mobility",)).splitlines()[1]
    assert line.startswith("4479 cm²/(V·s)  …/IVg")  # a value written as text is never cut, only the path


def test_a_table_too_wide_for_the_terminal_leaves_out_a_column_or_two_or_is_shown_by_row() -> None:
    """An It run's metrics at 80 columns wrapped each row over 3–5 lines mid-value, and a history at 120 over two:
    a column or two too many are left out and named; more, and each row is a block of its `name value` pairs."""
    from labtui.cli.history import render_table

    wide = pl.DataFrame({"SEQ": [1, 2], "DATE": ["2025-10-15", "2025-10-17"], "DELTA_I": ["-901 nA", "-1.11 µA"],
                         "POWER": ["1.23 µW", "2.73 µW"], "FILE": ["2025-10-15/It2025-10-15_1.csv", "d/It_2.csv"]})
    lines = render_table(wide, width=40).splitlines()
    assert lines[0].split() == ["SEQ", "DATE", "DELTA_I", "POWER"] and all(len(line) <= 40 for line in lines)
    assert lines[-2:] == ["(left out at 40 columns: FILE; --format", "csv has them)"]
    # the caller's order: what tells runs apart least goes first (an aborted run's mark stayed out of a history)
    lines = render_table(wide, width=33, optional=("FILE", "DATE", "SEQ")).splitlines()
    assert lines[0].split() == ["SEQ", "DELTA_I", "POWER"] and lines[-2:] == [
        "(left out at 33 columns: DATE,", "FILE; --format csv has them)"]
    remark = "tau_decay_s: 1/e of the step not reached by the end of the run; calibration_spread: nothing to compare"
    metrics = wide.with_columns(RESPONSIVITY=pl.lit("-732 mA/W"), REMARKS=pl.Series([remark, None]),
                                EMPTY=pl.lit(None, pl.String))
    blocks = render_table(metrics, width=40).split("\n\n")
    assert blocks[0].splitlines() == [
        "SEQ 1  DATE 2025-10-15  DELTA_I -901 nA", "  POWER 1.23 µW", "  FILE 2025-10-15/It2025-10-15_1.csv",
        "  RESPONSIVITY -732 mA/W", "  REMARKS tau_decay_s: 1/e of the step", "    not reached by the end of the run;",
        "    calibration_spread: nothing to", "    compare"]
    assert blocks[1] == "SEQ 2  DATE 2025-10-17  DELTA_I -1.11 µA\n  POWER 2.73 µW  FILE d/It_2.csv\n  RESPONSIVITY " \
                        "-732 mA/W\n"
    assert "EMPTY" not in render_table(metrics, width=40) and "EMPTY" in render_table(metrics)  # a pipe: the table


def test_a_history_too_wide_for_80_columns_keeps_the_time_and_wraps_its_note() -> None:
    """Two runs of a day told apart by their time alone: an annotation's column left TIME out first (and an
    aborted run's DONE took 7 columns), and the note naming what was left out wrapped mid-word."""
    from labtui.cli.history import HISTORY_OPTIONAL, render_table

    history = pl.DataFrame({
        "SEQ": [13, 15, 16], "DATE": ["2025-10-19"] * 3, "TIME": ["14:04:28", "18:44:20", "14:59:53"],
        "PROC": ["It"] * 3, "L": ["💡", "💡", "🌙"], "VG (V)": ["-0.4"] * 3, "VDS (V)": ["0.1"] * 3,
        "VL (V)": ["4.6", "4.6", "0"], "λ (nm)": ["365", "365", None], "PERIOD (s)": ["120"] * 3,
        "DUR (s)": ["180"] * 3, "ROWS": ["2148"] * 3, "DONE": ["✓", "✓", "✗"],
        "FILE": ["2025-10-19/It2025-10-19_1.csv"] * 3, "ANNOTATIONS": ["★  # 365 nm power series", None, None]})
    lines = render_table(history, width=80, optional=HISTORY_OPTIONAL).splitlines()
    assert "TIME" in lines[0].split() and "18:44:20" in lines[2]
    assert all(len(line) <= 80 for line in lines), lines
    assert lines[-2:] == ["(left out at 80 columns: VDS (V), PERIOD (s), DUR (s), ROWS, FILE; --format csv",
                          "has them)"]
    # the key derived quantities, as the app's history shows them: left out before the time, and said where to find
    quantities = history.with_columns(CNP=pl.lit(None, pl.String), **{"ΔI": pl.Series(["-901 nA", "-1.11 µA", None])},
                                      **{"ΔI/I": pl.Series(["-6.51 %", "-7.71 %", None])},
                                      P=pl.Series(["1.23 µW", "2.73 µW", None]),
                                      RESP=pl.Series(["-732 mA/W ⚠", "-405 mA/W ⚠", None]))
    wide = render_table(quantities, width=200, optional=HISTORY_OPTIONAL).splitlines()
    assert "-732 mA/W ⚠" in wide[1] and "CNP" not in wide[0]  # an empty column is left out, as ever
    narrow = render_table(quantities, width=80, optional=HISTORY_OPTIONAL).splitlines()
    assert "TIME" in narrow[0].split() and all(len(line) <= 80 for line in narrow), narrow
    assert " ".join(narrow[-2:]) == ("(left out at 80 columns: VDS (V), PERIOD (s), DUR (s), ROWS, FILE; --format csv "
                                     "has them; and ΔI, ΔI/I, P, RESP, which `labtui metrics` has)")


def test_a_new_stage_root_of_another_name_is_the_store_folder(lab: Lab, tmp_path: Path, capsys) -> None:
    """--stage-root names the runs folder inside a store, or the store folder itself; a new folder not named
    raw_measurements is the store (it made the folder above the store, scattering `_manifest/` beside the user's
    notes), as an existing store given so is."""
    work = tmp_path / "work"
    (work / "notes").mkdir(parents=True)
    assert main(lab.args("stage", "--stage-root", str(work / "02_stage"))) == 0
    assert f"started a new store at {work / '02_stage'}" in capsys.readouterr().err
    assert sorted(path.name for path in work.iterdir()) == ["02_stage", "03_derived", "notes"]
    assert list((work / "02_stage" / "raw_measurements").rglob("*.parquet"))
    assert main(lab.args("chips", "--stage-root", str(work / "02_stage"))) == 0
    assert "Alisson67" in capsys.readouterr().out


def test_a_store_given_alone_uses_the_raw_root_it_records(lab: Lab, tmp_path: Path, tmp_path_factory, capsys,
                                                          monkeypatch) -> None:
    """`--store DIR` with no config and no --raw-root: the raw folder the store was built from, not data/01_raw
    below the working folder (which does not exist here)."""
    store = tmp_path / "store"
    assert main(["stage", "--raw-root", str(lab.config.raw_root), "--store", str(store), "--quiet"]) == 0
    monkeypatch.chdir(tmp_path_factory.mktemp("elsewhere"))  # no config here nor above
    monkeypatch.delenv("LABTUI_CONFIG", raising=False)
    capsys.readouterr()
    assert main(["stage", "--store", str(store), "--quiet"]) == 0
    assert "0 staged, 6 unchanged" in capsys.readouterr().out
    assert main(["validate", "--store", str(store)]) == 0
    assert "7 raw files" in capsys.readouterr().out
