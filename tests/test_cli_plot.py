"""`labtui plot`: figures from the command line, their record, and one clear line for every bad input."""

from __future__ import annotations

import datetime as dt
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from labtui.cli import main
from labtui.core.history import load_manifest
from labtui.core.plotdata import PlotOptions, build_plots
from labtui.core.plotdata.selection import as_recorded, chip_runs, without_excluded
from labtui.synth import write_run
from tests.lab import COLUMNS, Lab, data_rows, raw_csv, sweep, unwritable

START = dt.datetime(2025, 10, 13, 15, 0, tzinfo=dt.UTC)
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Lab:
    return staged_lab(tmp_path_factory.mktemp("cli-plot"))


def staged_lab(folder: Path) -> Lab:
    """Chip Alisson67: seq 1–2 It (VL 1 and 2 V), seq 3 IVg; one calibration on 2025-10-13."""
    lab = Lab(folder)
    for index, (proc, params) in enumerate([("It", {"Laser voltage": 1.0}), ("It", {"Laser voltage": 2.0}),
                                            ("IVg", {})]):
        write_run(lab.raw / "2025-10-13", proc, file_idx=index + 1, start_utc=START + dt.timedelta(minutes=10 * index),
                  params=params, n_rows=400, seed=5)
    write_run(lab.raw / "2025-10-13", "LaserCalibration", file_idx=9, chip_group=None, chip_number=None,
              start_utc=START - dt.timedelta(hours=1), seed=5)
    lab.stage()
    return lab


def test_plot_writes_the_figure_and_its_record(lab, tmp_path, capsys):
    out = tmp_path / "its.pdf"
    assert main(lab.args("plot", "67", "--seq", "1-2", "--baseline", "t=5", "--log", "--out", str(out))) == 0
    assert out.read_bytes().startswith(b"%PDF-")
    record = json.loads((tmp_path / "its.pdf.json").read_text(encoding="utf-8"))
    assert [run["seq"] for run in record["runs"]] == [1, 2]
    assert {k: record["options"][k] for k in ("baseline", "baseline_time_s", "log_y")} == {
        "baseline": "fixed", "baseline_time_s": 5.0, "log_y": True}
    assert f"wrote {out} (2 traces of 2 runs) and {out}.json" in capsys.readouterr().out


def test_plot_points_writes_every_point_of_the_figure_as_the_apps_export_does(lab, tmp_path, capsys):
    """Only the app's `e` wrote a figure's points: a scripted figure and its data (a paper's supplementary material)
    could not come from the command line."""
    import polars as pl

    out, points = tmp_path / "its.pdf", tmp_path / "its.csv"
    assert main(lab.args("plot", "67", "--seq", "1-2", "--out", str(out), "--points", str(points))) == 0
    assert f"wrote {out} (2 traces of 2 runs), {out}.json and {points}" in capsys.readouterr().out
    table = pl.read_csv(points)
    assert {"label", "x", "y", "x_unit", "y_unit"} <= set(table.columns) and table["label"].n_unique() == 2
    assert table.height == 2 * 400  # every sample of both runs: the full series, not the drawing's buckets
    trend = tmp_path / "cnp.csv"
    assert main(lab.args("plot", "67", "--trend", "cnp", "--out", str(tmp_path / "cnp.png"), "--points",
                         str(trend))) == 0
    times = pl.read_csv(trend, infer_schema=False)["start_time_utc"]  # as every CSV of labtui writes a time
    assert times.len() >= 1 and times.str.ends_with("Z").all() and not times.str.contains(r"\+0000").any()
    with pytest.raises(SystemExit):
        main(lab.args("plot", "67", "--seq", "1", "--out", str(out), "--points", str(tmp_path / "its.txt")))
    assert "the points are written as CSV; name a .csv file" in capsys.readouterr().err
    assert main(lab.args("plot", "67", "--seq", "1", "--out", str(out), "--points",
                         str(lab.config.store_root / "p.csv"))) == 2  # checked as --out is
    assert "labtui writes its outputs elsewhere" in capsys.readouterr().err


def test_a_record_that_cannot_be_replaced_leaves_the_figure_as_it_was(lab, tmp_path, capsys):
    """The figure was replaced, then its record failed: a new figure beside the old record, which `--from` redraws
    as another."""
    out = tmp_path / "its.pdf"
    assert main(lab.args("plot", "67", "--seq", "1", "--out", str(out))) == 0
    before = out.read_bytes()
    capsys.readouterr()
    with unwritable(tmp_path / "its.pdf.json"):
        assert main(lab.args("plot", "67", "--seq", "1-2", "--out", str(out))) == 73
    assert f"cannot replace {tmp_path / 'its.pdf.json'}:" in capsys.readouterr().err
    assert out.read_bytes() == before
    assert sorted(path.name for path in tmp_path.iterdir()) == ["its.pdf", "its.pdf.json"]  # no temp file


def test_a_figure_and_its_record_are_written_both_or_neither_whatever_the_length_of_their_names(lab, tmp_path,
                                                                                                capsys):
    """A name of 231 bytes was written, its record then failed ("File name too long", exit 74: the figure left
    without it); one of 240 bytes was refused, though a file name holds 255: its temp file's name was longer."""
    allowed = tmp_path / f"{'a' * 231}.pdf"
    assert main(lab.args("plot", "67", "--seq", "1", "--out", str(allowed))) == 0
    assert sorted(path.name for path in tmp_path.iterdir()) == [allowed.name, f"{allowed.name}.json"]
    capsys.readouterr()
    no_room = tmp_path / f"{'b' * 247}.pdf"  # allowed, its record's name not
    assert main(lab.args("plot", "67", "--seq", "1", "--out", str(no_room))) == 2
    assert "its name, with .json, is past the 255 bytes a file name holds" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:  # an OS error before (exit 74), said as no operation's
        main(lab.args("history", "67", "--out", str(tmp_path / f"{'c' * 300}.csv")))
    assert exit_info.value.code == 2
    assert "a name of 304 bytes, past the 255 a file or folder name holds" in capsys.readouterr().err
    assert sorted(path.name for path in tmp_path.iterdir()) == [allowed.name, f"{allowed.name}.json"]


def test_from_redraws_and_says_when_a_run_changed(lab, tmp_path, capsys):
    out = tmp_path / "ivg.svg"
    assert main(lab.args("plot", "67", "--seq", "3", "--gm", "--gm-method", "gradient", "--out", str(out))) == 0
    again = tmp_path / "again.png"
    assert main(lab.args("plot", "--from", str(out) + ".json", "--out", str(again))) == 0
    assert again.read_bytes().startswith(b"\x89PNG")
    assert json.loads((tmp_path / "again.png.json").read_text(encoding="utf-8"))["options"]["gm_method"] == "gradient"
    assert "changed" not in capsys.readouterr().err
    record = json.loads(Path(str(out) + ".json").read_text(encoding="utf-8"))
    record["runs"][0]["source_sha256"] = "0" * 64  # as if the raw file was re-staged with other data since
    Path(str(out) + ".json").write_text(json.dumps(record), encoding="utf-8")
    assert main(lab.args("plot", "--from", str(out) + ".json", "--out", str(again))) == 0
    assert "labtui plot: seq 3 (run " in (err := capsys.readouterr().err) and "has changed since" in err


def test_a_figure_of_derived_quantities_records_their_definitions_and_redrawn_says_when_they_changed(tmp_path, capsys):
    """A Dirac point, an alignment on it, a trend or a lit It run's power (in its legend) is drawn under the
    metrics' definitions and windows: the record said nothing of them, so a redraw after an upgrade or an edited
    `metrics:` window silently drew other values. The record carries their stamp, `--from` says when it differs, and
    a figure read from a table computed under other windows says the table is stale."""
    from labtui.core.metrics_stamp import metrics_stamp

    lab = staged_lab(tmp_path / "lab")
    ivg, its = tmp_path / "ivg.svg", tmp_path / "its.svg"
    assert main(lab.args("plot", "67", "--seq", "3", "--out", str(ivg))) == 0
    assert main(lab.args("plot", "67", "--seq", "1-2", "--out", str(its))) == 0
    assert main(lab.args("plot", "67", "--trend", "cnp", "--out", str(tmp_path / "cnp.svg"))) == 0
    stamp = metrics_stamp(lab.config)
    records = {name: json.loads((tmp_path / f"{name}.svg.json").read_text(encoding="utf-8")) for name in
               ("ivg", "its", "cnp")}
    assert records["ivg"]["metrics"] == records["cnp"]["metrics"] == records["its"]["metrics"] == stamp
    capsys.readouterr()
    lab.configure(metrics={"cnp_fit_window_v": 0.8})
    for name in ("ivg", "cnp", "its"):
        assert main(lab.args("plot", "--from", str(tmp_path / f"{name}.svg.json"), "--out",
                             str(tmp_path / f"{name}-again.svg"))) == 0
        err = capsys.readouterr().err
        changed = f"labtui plot: its derived quantities were computed under {stamp}, this labtui's are under "
        assert changed in err, (name, err)
        stale = "labtui plot: the metrics table was computed by another labtui, under other `metrics:` windows or with"
        assert stale in err, (name, err)  # the tables read: the trend's, the powers' (a sweep's under light too)


def test_the_readme_shows_no_metrics_version_but_the_current_one() -> None:
    """The README's record example said `metrics_version=14` while labtui stamped 17."""
    from labtui.core.metrics_stamp import METRICS_VERSION

    shown = re.findall(r"metrics_version=(\d+)", (ROOT / "README.md").read_text(encoding="utf-8"))
    assert [int(version) for version in shown if int(version) != METRICS_VERSION] == []


def test_excluded_runs_are_left_out_and_counted_unless_asked_for(tmp_path, capsys):
    lab = staged_lab(tmp_path / "lab")
    assert main(lab.args("annotate", "67", "--seq", "2", "--exclude", "contact lost")) == 0
    out = tmp_path / "its.svg"
    assert main(lab.args("plot", "67", "--seq", "1-2", "--out", str(out))) == 0
    assert f"wrote {out} (1 trace of 1 run; 1 excluded run hidden, --include-excluded draws them)" in (
        capsys.readouterr().out)
    assert [run["seq"] for run in json.loads((tmp_path / "its.svg.json").read_text(encoding="utf-8"))["runs"]] == [1]
    assert main(lab.args("plot", "67", "--seq", "1-2", "--include-excluded", "--out", str(out))) == 0
    out_text, err = capsys.readouterr()  # said: past a palette's runs the legend is a colour bar, with no labels
    assert f"wrote {out} (2 traces of 2 runs) and {out}.json" in out_text
    assert re.fullmatch(r"labtui plot: seq 2 \(run \w+\) is excluded \(contact lost\); drawn, --include-excluded\n",
                        err)
    runs = chip_runs(load_manifest(lab.config), 67, None, [1, 2], tz=lab.config.local_tz)
    for drawn in (without_excluded(lab.config.store_root, runs, include=True)[0],  # the figure's runs, and a redraw's
                  as_recorded(lab.config.store_root, runs)[0]):  # drawn, and said to be excluded where it is drawn
        said = {s.run_id: s.label.endswith("excluded)") for s in build_plots(drawn, lab.config.stage_root,
                                                                              PlotOptions())[0].series}
        assert said == {run_id: seq == 2 for run_id, seq in runs.select("run_id", "seq").iter_rows()}
    both = tmp_path / "both.svg.json"  # its record: redrawn, the excluded run is drawn, as recorded, and said
    both.write_bytes((tmp_path / "its.svg.json").read_bytes())
    assert main(lab.args("plot", "--from", str(both), "--out", str(tmp_path / "again.svg"))) == 0
    out_text, err = capsys.readouterr()
    assert "(2 traces of 2 runs)" in out_text
    assert "labtui plot: seq 2 (run " in err and ") is excluded (contact lost); drawn, as the figure records it" in err
    assert main(lab.args("plot", "67", "--seq", "2", "--out", str(tmp_path / "none.svg"))) == 2
    assert capsys.readouterr().err.strip() == (
        "labtui: the chosen run is excluded (--include-excluded draws them)")
    assert not (tmp_path / "none.svg").exists()
    assert main(lab.args("plot", "67", "--proc", "IVg", "--out", str(out))) == 0  # seq 2 is an It run: not counted
    assert f"wrote {out} (3 traces of 1 run) and {out}.json" in capsys.readouterr().out  # a sweep's legs


def test_a_run_keeps_its_colour_whether_or_not_the_excluded_runs_are_drawn(tmp_path):
    """Colours followed the runs drawn: drawing an excluded run with the others (--include-excluded) gave every run
    after it the next run's colour, so one run changed colour between two figures of the same selection."""
    from matplotlib.figure import Figure

    from labtui.core.drawing import draw_axes
    from labtui.core.plotdata.figure import drawing_of

    lab = staged_lab(tmp_path / "lab")
    assert main(lab.args("annotate", "67", "--seq", "1", "--exclude", "contact lost")) == 0
    runs = chip_runs(load_manifest(lab.config), 67, None, [1, 2], tz=lab.config.local_tz)

    def colours(include: bool) -> dict[str, object]:
        spec = build_plots(without_excluded(lab.config.store_root, runs, include=include)[0], lab.config.stage_root,
                           PlotOptions())[0]
        ax = Figure().add_subplot()
        draw_axes(ax, drawing_of(spec))
        lines = {line.get_gid(): line.get_color() for line in ax.get_lines()}
        return {series.run_id: lines[f"series-{number}"] for number, series in enumerate(spec.series)}

    hidden, shown = colours(False), colours(True)
    assert len(hidden) == 1 and len(shown) == 2 and hidden.items() <= shown.items()
    figure, again = tmp_path / "its.svg", tmp_path / "again.svg"  # its record keeps the place: redrawn, as it was
    assert main(lab.args("plot", "67", "--seq", "1-2", "--out", str(figure))) == 0
    assert [run["place"] for run in json.loads((tmp_path / "its.svg.json").read_text(encoding="utf-8"))["runs"]] == [1]
    assert main(lab.args("plot", "--from", f"{figure}.json", "--out", str(again))) == 0
    assert again.read_bytes() == figure.read_bytes()


def test_the_runs_counted_are_the_runs_drawn(tmp_path):
    """An aligned overlay leaves out a sweep without a Dirac point (one cut after 2 rows), and said so; the count
    after it still counted that run ('4 traces of 2 runs' for one run drawn)."""
    lab = Lab(tmp_path / "lab")
    lab.write("2025-10-13/IVg2025-10-13_1.csv", raw_csv("IVg", start=1760371684.5))
    lab.write("2025-10-13/IVg2025-10-13_2.csv", raw_csv("IVg", start=1760371784.5,
                                                        rows=data_rows(((0.0, 1e-6), (-0.5, 1.1e-6)), 5)))
    lab.stage()
    done = lab.cli("plot", "67", "--proc", "IVg", "--align-cnp", "--out", str(tmp_path / "aligned.png"))
    assert done.returncode == 0, done.stderr
    assert "1 run without a forward Dirac point (cnp_fwd_v) left out of the aligned overlay: seq 2" in done.stderr
    record = tmp_path / "aligned.png.json"
    assert f" of 1 run; 1 more not drawn, as said above) and {record}" in done.stdout, done.stdout


def test_calibrations_of_a_day(lab, tmp_path, capsys):
    out = tmp_path / "cal.svg"
    assert main(lab.args("plot", "--calibrations", "--date", "2025-10-13", "--out", str(out))) == 0
    assert out.read_text(encoding="utf-8").lstrip().startswith("<?xml")


def test_calibrations_chosen_by_seq_draw_those_runs_only(tmp_path):
    """`--seq` with `--calibrations` was dropped without a word: `labtui plot --calibrations --seq 2` drew every
    calibration of the store (62 on the real data). It picks them as `labtui history --calibrations` numbers them."""
    lab = Lab(tmp_path / "lab")
    for index, hours in enumerate((1, 2, 26)):  # seq 1 and 2 on 2025-10-13, seq 3 the next day
        write_run(lab.raw / "2025-10-13", "LaserCalibration", file_idx=index + 1, chip_group=None, chip_number=None,
                  start_utc=START - dt.timedelta(hours=3) + dt.timedelta(hours=hours), seed=5)
    lab.stage()
    out = tmp_path / "cal.svg"
    done = lab.cli("plot", "--calibrations", "--seq", "2,3", "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert f"wrote {out} (2 traces of 2 runs)" in done.stdout
    record = json.loads((tmp_path / "cal.svg.json").read_text(encoding="utf-8"))
    assert [(run["seq"], run["source_file"]) for run in record["runs"]] == [
        (2, "2025-10-13/LaserCalibration2025-10-13_2.csv"), (3, "2025-10-13/LaserCalibration2025-10-14_3.csv")]
    for args, message in [
        (("--seq", "4"), "the calibrations have no run seq 4 (their history has seq 1–3)"),
        (("--seq", "3", "--date", "2025-10-13"), "no calibration runs at the chosen seq on 2025-10-13 in the manifest"),
    ]:
        done = lab.cli("plot", "--calibrations", *args, "--out", str(tmp_path / "no.svg"))
        assert (done.returncode, done.stderr) == (2, f"labtui: {message}\n")
    assert not (tmp_path / "no.svg").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("67", "--seq", "7"), "chip Alisson67 has no run seq 7 (its history has seq 1–3)"),
        (("99", "--seq", "1"), "no runs of chip number 99 in the manifest (chips: 67)"),
        (("67",), "the chosen runs mix procedures: It (2), IVg (1); choose one with --proc"),
        (("67", "--seq", "1-x"), "not a seq list: '1-x' (e.g. 4-7 or 1,8,13)"),
        (("67", "--seq", ""), "not a seq list: '' (e.g. 4-7 or 1,8,13)"),  # an empty $SEQS drew every run
        (("67", "--proc", "IV"), "no IV run among the chosen runs"),
        (("--calibrations", "--date", "2025-10-14"), "no calibration runs on 2025-10-14 in the manifest"),
        ((), "give a chip number, --calibrations or --from FIGURE.json (one of them)"),
        (("67", "--proc", "It", "--gm", "--log"), "these are It runs: --gm is for IVg runs"),
        (("67", "--proc", "IVg", "--baseline", "first"), "these are IVg runs: --baseline is for It runs"),
        (("--calibrations", "--date", "2025-10-13", "--log"), "these are LaserCalibration runs: --log does not "
                                                              "apply to them"),
        (("67", "--proc", "IVg", "--gm-method", "gradient"),
         "--gm-method chooses how --gm is drawn: give it with --gm"),
        (("67", "--date", "2025-10-13"),
         "--date chooses calibrations: give it with --calibrations (a chip's runs are chosen by --seq)"),
    ],
)
def test_bad_input_is_one_line_exit_2_and_no_file(lab, tmp_path, capsys, args, message):
    assert main(lab.args("plot", *args, "--out", str(tmp_path / "fig.pdf"))) == 2
    assert capsys.readouterr().err == f"labtui: {message}\n"
    assert list(tmp_path.iterdir()) == []


def test_run_choices_a_source_does_not_use_are_refused_not_dropped(lab, tmp_path):
    """`--from` redraws its record's runs and calibrations belong to no chip: `--from rec --seq 2` drew the record's
    runs, `--calibrations --group other` every calibration, each without a word that the choice was dropped."""
    record = tmp_path / "its.svg"
    assert lab.cli("plot", "67", "--seq", "1-2", "--out", str(record)).returncode == 0
    for args, message in [
        (("--from", f"{record}.json", "--seq", "2"), "--from redraws the runs its record names: --seq does not apply"),
        # it drew them as recorded, and its record said include_excluded: true of a figure that hid them
        (("--from", f"{record}.json", "--include-excluded"),
         "--from redraws the runs its record names: --include-excluded does not apply"),
        (("--from", f"{record}.json", "--proc", "IVg", "--group", "Alisson"),
         "--from redraws the runs its record names: --proc, --group does not apply"),
        (("--calibrations", "--group", "other"),
         "calibrations belong to the setup, not to a chip: --group does not apply"),
    ]:
        done = lab.cli("plot", *args, "--out", str(tmp_path / "again.svg"))
        assert (done.returncode, done.stderr) == (2, f"labtui: {message}\n")
    assert sorted(path.name for path in tmp_path.iterdir()) == ["its.svg", "its.svg.json"]
    assert lab.cli("plot", "--from", f"{record}.json", "--log", "--out", str(tmp_path / "again.svg")).returncode == 0


@pytest.mark.parametrize(("option", "value", "message"), [
    ("baseline_time_s", "soon", "baseline_time_s: must be a number, not 'soon'"),
    ("baseline_time_s", None, "baseline_time_s: must be given (it cannot be empty)"),
    ("baseline_time_s", -5.0, "baseline_time_s must be a number of seconds ≥ 0, got -5.0"),
    ("log_y", "no", "log_y: must be true or false, not 'no'"),
    # each named as the record's field, where Python's words were said ('<=' not supported between 'int' and 'str')
    ("sg_polyorder", "two", "sg_polyorder: must be a whole number, not 'two'"),
    ("gm_method", "fast", "gm_method: must be one of gradient, savgol, not 'fast'"),
    ("log_x", True, "log_x: unknown (did you mean log_y?)"),
])
def test_a_record_edited_by_hand_is_one_line_exit_2_and_no_file(lab, tmp_path, capsys, option, value, message):
    """A fixed baseline's time as text or null ended in a NumPy traceback (exit 70) while shaping the It runs; a
    negative one drew against the run's first point, which `--baseline t=-5` refuses; `"log_y": "no"` drew log."""
    assert main(lab.args("plot", "67", "--seq", "1-2", "--baseline", "t=5", "--out", str(tmp_path / "its.svg"))) == 0
    record = json.loads((tmp_path / "its.svg.json").read_text(encoding="utf-8"))
    record["options"][option] = value
    (tmp_path / "edited.json").write_text(json.dumps(record), encoding="utf-8")
    capsys.readouterr()
    assert main(lab.args("plot", "--from", str(tmp_path / "edited.json"), "--out", str(tmp_path / "again.svg"))) == 2
    assert capsys.readouterr().err == f"labtui: {tmp_path / 'edited.json'} is not a labtui figure record ({message})\n"
    assert not (tmp_path / "again.svg").exists()


def test_bad_output_paths(lab, tmp_path, capsys):
    (tmp_path / "notes.txt").write_text("x", encoding="utf-8")
    (tmp_path / "fig.pdf.json").mkdir()  # the record's name taken: found before the figure is written
    (tmp_path / "dangling.pdf").symlink_to(tmp_path / "gone" / "a.pdf")  # its message named the link's folder
    for out, message in [
        ("fig.jpg", "cannot tell the figure type of {} ('.jpg'): use .pdf, .svg or .png"),
        ("notes.txt/fig.pdf", "cannot write the figure {}: " + str(tmp_path / "notes.txt") + " is not a folder"),
        ("fig.pdf", "cannot write the figure record {}.json: a folder has its name"),
        ("typo/fig.pdf", f"the folder {tmp_path / 'typo'} does not exist: create it first, or check the path"),
        ("dangling.pdf", f"the folder {tmp_path / 'gone'} does not exist ({{}} links to {tmp_path / 'gone/a.pdf'}): "
                         "create it first, or check the path"),
    ]:
        assert main(lab.args("plot", "67", "--seq", "1", "--out", str(tmp_path / out))) == 2
        assert capsys.readouterr().err == f"labtui: {message.format(tmp_path / out)}\n"
    assert sorted(path.name for path in tmp_path.iterdir()) == ["dangling.pdf", "fig.pdf.json", "notes.txt"]


@pytest.mark.parametrize("given", ["t=soon", "t=nan", "t=inf", "t=-5"])
def test_a_bad_baseline_is_a_usage_error(lab, tmp_path, capsys, given):
    """As the app's `t` takes a time: `t=nan` drew every run against its last point, with a line per run."""
    with pytest.raises(SystemExit) as exit_info:
        main(lab.args("plot", "67", "--baseline", given, "--out", str(tmp_path / "a.pdf")))
    assert exit_info.value.code == 2 and f"not a baseline: '{given}'" in capsys.readouterr().err


def test_help_and_the_app_start_without_matplotlib():
    code = ("import sys, contextlib, io\n"
            "from labtui.cli import main\n"
            "import labtui.tui.app\n"
            "with contextlib.suppress(SystemExit), contextlib.redirect_stdout(io.StringIO()):\n"
            "    main(['--help'])\n"
            "with contextlib.suppress(SystemExit), contextlib.redirect_stdout(io.StringIO()):\n"
            "    main(['plot', '--help'])\n"
            "print(sorted(name for name in sys.modules if name.split('.')[0] == 'matplotlib'))\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert result.stdout.strip() == "[]"


def test_a_legacy_sweep_is_drawn_as_the_procedure_it_is_like(tmp_path, capsys):
    """IVgT is `like` IVg in the registry: the same sweep under both names draws the same points, and `--gm`,
    `--align-cnp` and `--log` are IVg's options for it (it was 'no plot for IVgT runs yet')."""
    lab = Lab(tmp_path)
    params = {"VG start": "-2 V", "VG end": "2 V", "VG step": "0.1 V"}
    rows = data_rows(((v, 1e-6 * (1 + (v - 0.3) ** 2)) for v in sweep(-2, 2, 0.1, "loop")), len(COLUMNS["IVg"]))
    for later, proc in enumerate(("IVg", "IVgT")):
        lab.write(f"2025-10-13/{proc}2025-10-13_1.csv",
                  raw_csv(proc, params=params, rows=rows, start=START.timestamp() + later))
    lab.stage()
    runs = chip_runs(load_manifest(lab.config), 67, "Alisson", None, tz=lab.config.local_tz)
    ivg, ivgt = build_plots(runs, lab.config.stage_root, PlotOptions(gm=True), 200, lab.config.metrics)
    assert (ivg.kind, ivgt.kind) == ("IVg", "IVg") and "IVgT" in ivgt.title
    assert [s.x.tolist() for s in ivgt.series] == [s.x.tolist() for s in ivg.series]
    assert [s.y.tolist() for s in ivgt.series] == [s.y.tolist() for s in ivg.series] and ivgt.series
    for flags in (["--gm"], ["--align-cnp"], ["--log"]):
        out = tmp_path / f"ivgt{flags[0]}.png"
        assert main(lab.args("plot", "67", "--proc", "IVgT", *flags, "--out", str(out))) == 0, capsys.readouterr()
        assert out.stat().st_size
