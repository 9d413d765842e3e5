"""The derived quantities where users meet them in the app (Pilot): the history's key quantities and the run
detail's definitions, chip geometry in the chips view, the dashboard's last Dirac points, and excluded runs left
out of a plot."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from labtui.core.annotations import Change, annotate, current_annotations
from labtui.core.config import MetricsSettings
from labtui.core.history_quantities import KEY_QUANTITIES, with_metrics
from labtui.core.metrics import BY_COLUMN, read_metrics
from labtui.core.overview import last_dirac_points
from labtui.tui.app import LabApp
from labtui.tui.dialogs import FieldsDialog
from labtui.tui.history_view import View, definition_items, quantity_items
from labtui.tui.plot import PlotScreen
from labtui.tui.plot_view import colouring, palette_for
from labtui.tui.store import short_path
from labtui.tui.table import FrameTable
from tests.lab import IVG_COLUMNS, Lab, data_rows, epoch, raw_csv, tui_lab
from tests.pilot import said, settle
from tests.test_tui import dialog_text, open_chip, table, text_of

GEOMETRY = """\
Alisson67:
  channel_length_um: 10
  channel_width_um: 5
  dielectric:
    - {material: hBN, thickness_nm: 20, relative_permittivity: 3.4}
"""


@pytest.fixture
def lab(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Lab:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "chip_params.yaml").write_text(GEOMETRY, encoding="utf-8")
    return tui_lab(tmp_path, chip_params_file=tmp_path / "config" / "chip_params.yaml")


def test_key_quantities_are_si_prefixed_and_blank_where_undefined() -> None:
    runs = pl.DataFrame({"run_id": ["a", "b", "c"], "seq": [1, 2, 3]})
    metrics = read_metrics(Path("/nonexistent")).vstack(pl.DataFrame(
        {"run_id": ["b", "a"], "cnp_v": [None, -0.35], "delta_i_a": [1.23e-8, None], "delta_i_rel": [0.0523, None],
         "power_w": [3e-6, None], "responsivity_a_per_w": [4.1e-6, None]}).select(
        pl.col(name).cast(dtype) if name in ("run_id", "cnp_v", "delta_i_a", "delta_i_rel", "power_w",
                                             "responsivity_a_per_w")
        else pl.lit(None, dtype=dtype).alias(name)
        for name, dtype in read_metrics(Path("/nonexistent")).schema.items()))
    shown = with_metrics(runs, metrics)
    assert shown["seq"].to_list() == [1, 2, 3]  # the history's order and rows, whatever the metrics hold
    assert shown.select(f"{column}_text" for column, _ in KEY_QUANTITIES).rows() == [  # the mark's place kept
        # (right-aligned, the units line up)
        ("-350 mV", None, None, None, None), (None, "12.3 nA", "5.23 %", "3 µW", "4.1 µA/W  "),
        (None, None, None, None, None)]
    assert shown["cnp_v"].to_list() == [-0.35, None, None]  # the value stays, for sorting
    stale = with_metrics(runs, metrics.with_columns(calibration_stale=pl.col("run_id") == "b"))
    assert stale["responsivity_a_per_w_text"].to_list() == [None, "4.1 µA/W ⚠", None]
    assert stale.columns == shown.columns
    for snr, text in ((4.99, "4.1 µA/W ⚠"), (5.0, "4.1 µA/W  ")):  # a ΔI the dark noise could make is doubted too
        noisy = with_metrics(runs, metrics.with_columns(delta_i_snr=pl.lit(snr)))
        assert noisy["responsivity_a_per_w_text"].to_list() == [None, text, None]
    for spread, text in ((2.0, "4.1 µA/W ⚠"), (1.99, "4.1 µA/W  ")):  # and a power the calibrations disagree on
        disputed = with_metrics(runs, metrics.with_columns(calibration_spread=pl.lit(spread)))
        assert disputed["responsivity_a_per_w_text"].to_list() == [None, text, None]
    # and a ΔI the dark drift alone could make; not one the drift ran against (the step is larger than read)
    for corrected, text in ((0.0, "4.1 µA/W ⚠"), (1e-12, "4.1 µA/W  "), (2.46e-8, "4.1 µA/W  "), (-1e-9, "4.1 µA/W ⚠")):
        drifting = with_metrics(runs, metrics.with_columns(delta_i_drift_corrected_a=pl.lit(corrected)))
        assert drifting["responsivity_a_per_w_text"].to_list() == [None, text, None]
        assert drifting.columns == shown.columns


def test_the_detail_says_a_power_comes_from_a_stale_calibration() -> None:
    """A responsivity priced by a calibration days away read as sure as any other."""
    empty = read_metrics(Path("/nonexistent"))
    values = {"run_id": "a", "proc": "It", "remarks": [], "power_w": 2e-6, "responsivity_a_per_w": -0.73,
              "delta_i_a": -1.46e-6, "calibration_age_h": 141.2, "calibration_stale": True}
    metrics = pl.DataFrame({name: [value] for name, value in values.items()}).select(
        pl.col(name).cast(dtype) if name in values else pl.lit(None, dtype=dtype).alias(name)
        for name, dtype in empty.schema.items())
    items = {column: text.plain.split("\n")[0] for column, text in quantity_items(metrics, "a")}
    for column in ("power_w", "responsivity_a_per_w"):
        assert items[column].endswith(" ⚠ from a calibration 141 h before the run: stale"), items[column]
    assert "⚠" not in items["delta_i_a"]
    # the age's sign said in words: `-97.82 h` read as a bug
    assert items["calibration_age_h"] == "141.2 h  the calibration before the run"
    after = quantity_items(metrics.with_columns(calibration_age_h=pl.lit(-97.82)), "a")
    assert dict(after)["calibration_age_h"].plain.split("\n")[0] == "-97.82 h  the calibration after the run"
    fresh = quantity_items(metrics.with_columns(calibration_stale=pl.lit(False)), "a")
    assert not any("⚠" in text.plain for _, text in fresh)
    disputed = metrics.with_columns(calibration_spread=pl.lit(2.83))
    items = {column: text.plain.split("\n")[0] for column, text in quantity_items(disputed, "a", settings=
             MetricsSettings(calibration_stale_h=12))}
    for column in ("power_w", "responsivity_a_per_w"):
        assert items[column].endswith(" ⚠ from a calibration 141 h before the run: stale ⚠ the calibrations "
                                      "within 12 h of the run disagree 2.8× on its power: one at another laser "
                                      "setting? It is priced by the nearest (the setup's history lists them)"), \
            items[column]


def test_the_detail_doubts_a_photoresponse_the_noise_or_the_drift_could_make() -> None:
    """Of the real lit It runs, 60 in 234 had a ΔI within 5σ of the dark noise, and in 118 the dark drift carried on
    under the light made half of ΔI or more: their responsivity read as sure as any other."""
    empty = read_metrics(Path("/nonexistent"))
    values = {"run_id": "a", "proc": "It", "remarks": [], "power_w": 2e-6, "responsivity_a_per_w": 0.016,
              "delta_i_a": 3.19e-8, "delta_i_drift_corrected_a": 3.0e-8, "delta_i_snr": 2.13,
              "calibration_stale": False}
    metrics = pl.DataFrame({name: [value] for name, value in values.items()}).select(
        pl.col(name).cast(dtype) if name in values else pl.lit(None, dtype=dtype).alias(name)
        for name, dtype in empty.schema.items())

    def firsts(frame: pl.DataFrame) -> dict[str, str]:
        return {column: text.plain.split("\n")[0] for column, text in quantity_items(frame, "a")}

    noisy = firsts(metrics)
    for column in ("delta_i_a", "responsivity_a_per_w"):
        assert noisy[column].endswith(" ⚠ ΔI is 2.1σ of the dark noise: not resolved"), noisy[column]
    assert noisy["delta_i_snr"] == "2.13"
    drifting = firsts(metrics.with_columns(delta_i_snr=pl.lit(40.0), delta_i_drift_corrected_a=pl.lit(1.2e-8)))
    assert drifting["delta_i_a"] == ("31.9 nA · the dark drift carried on under the light makes 62% of ΔI "
                                     "(drift-corrected 12 nA)")
    against = firsts(metrics.with_columns(delta_i_snr=pl.lit(40.0), delta_i_drift_corrected_a=pl.lit(6.4e-8)))
    assert against["delta_i_a"] == "31.9 nA · the dark drift ran against the step (drift-corrected 64 nA)"
    assert "⚠" not in against["responsivity_a_per_w"]
    settling = firsts(metrics.with_columns(delta_i_snr=pl.lit(40.0), delta_i_drift_corrected_a=pl.lit(-1.2e-8)))
    for column in ("delta_i_a", "responsivity_a_per_w"):  # the drift alone could make the step: in doubt, marked
        assert settling[column].endswith(" ⚠ the dark drift carried on under the light makes 138% of ΔI "
                                         "(drift-corrected -12 nA): the drift alone could make the step"), settling
    clear = firsts(metrics.with_columns(delta_i_snr=pl.lit(40.0)))
    assert not any("⚠" in text or "drift" in text for text in clear.values()), clear


def test_a_null_hysteresis_gives_the_reason_of_the_dirac_point_it_is_read_from() -> None:
    """A broken-down sweep's detail said its hysteresis was null because the channel broke down and there was no
    chip geometry (the mobility's reason): its backward Dirac point, outside the sweep, was the reason."""
    empty = read_metrics(Path("/nonexistent"))
    outside = "min |I| within 0.2 V of the leg's end: the Dirac point is outside the sweep"
    values = {"run_id": "a", "proc": "IVg", "cnp_fwd_v": 0.3, "cnp_v": 0.3, "gm_max_hole_s": 1e-5, "remarks": [
        f"cnp_bwd_v: {outside}", "IVg: the channel broke down at Vg 11.5 V: the quantities are of the sweep before it",
        "mobility: no chip geometry: config/chip_params.yaml does not exist"]}
    metrics = pl.DataFrame({name: [value] for name, value in values.items()}).select(
        pl.col(name).cast(dtype) if name in values else pl.lit(None, dtype=dtype).alias(name)
        for name, dtype in empty.schema.items())
    items = {column: text.plain for column, text in quantity_items(metrics, "a")}
    assert items["cnp_bwd_v"] == f"—  {outside}"
    assert items["hysteresis_v"] == "—  (as for cnp_bwd_v)"
    assert items["mobility_hole_cm2_vs"] == "—  no chip geometry: config/chip_params.yaml does not exist"
    assert sum("geometry" in text for text in items.values()) == 1


def test_a_null_mobility_gives_the_reason_of_the_gm_it_is_read_from() -> None:
    """`labtui metrics` said why gm_max_hole_s was null; the app's detail showed the mobility read from it blank."""
    empty = read_metrics(Path("/nonexistent"))
    remarks = ["gm_max_hole_s: the hole branch spans less than 0.5 V of the sweep"]
    metrics = pl.DataFrame({"run_id": ["a"], "proc": ["IVg"], "remarks": [remarks]}).select(
        pl.col(name).cast(dtype) if name in ("run_id", "proc", "remarks") else pl.lit(None, dtype=dtype).alias(name)
        for name, dtype in empty.schema.items())
    items = dict(quantity_items(metrics, "a"))
    assert items["gm_max_hole_s"].plain == "—  the hole branch spans less than 0.5 V of the sweep"
    assert items["mobility_hole_cm2_vs"].plain == "—  (as for gm_max_hole_s)"
    assert "hole branch" not in items["mobility_electron_cm2_vs"].plain


def test_the_detail_defines_a_quantity_with_the_labs_windows() -> None:
    """A lab that averages its It windows over 4 s reads "4 s" beside its ΔI, not the default's 5 s."""
    empty = read_metrics(Path("/nonexistent"))
    metrics = pl.DataFrame({"run_id": ["a"], "proc": ["It"], "remarks": [[]]}).select(
        pl.col(name).cast(dtype) if name in ("run_id", "proc", "remarks") else pl.lit(None, dtype=dtype).alias(name)
        for name, dtype in empty.schema.items())
    lab_windows = dict(definition_items("It", settings=MetricsSettings(it_window_s=4, calibration_stale_h=12)))
    assert "mean I over the 4 s before the laser switches off" in lab_windows["delta_i_a"].plain
    assert "|calibration_age_h| > 12 h" in lab_windows["calibration_stale"].plain
    assert "mean I over the 5 s before" in dict(definition_items("It"))["delta_i_a"].plain
    assert list(lab_windows) == [column for column, _ in quantity_items(metrics, "a")]


def test_a_reason_of_many_nulls_is_said_once() -> None:
    """A dark run's detail repeated "the laser never switched on (…)" beside each of a dozen quantities, each with
    a definition of 10–20 lines: the run's own fields began five pages down."""
    empty = read_metrics(Path("/nonexistent"))
    remarks = ["laser_on: the laser never switched on (a dark run, or one stopped before its pulse)"]
    metrics = pl.DataFrame({"run_id": ["a"], "proc": ["It"], "remarks": [remarks]}).select(
        pl.col(name).cast(dtype) if name in ("run_id", "proc", "remarks") else pl.lit(None, dtype=dtype).alias(name)
        for name, dtype in empty.schema.items())
    items = {column: text.plain for column, text in quantity_items(metrics, "a")}
    assert items["i_dark_a"] == "—  the laser never switched on (a dark run, or one stopped before its pulse)"
    assert items["delta_i_a"] == items["tau_rise_s"] == "—  (as for i_dark_a)"


def test_an_aborted_runs_remark_is_said_once_not_as_the_reason_of_a_null() -> None:
    """The remark of a run the manifest says aborted is of all its values: the detail says it first, once, and
    not after each null value as the reason it is null."""
    empty = read_metrics(Path("/nonexistent"))
    remarks = ["gm_max_hole_s: the hole branch spans less than 0.5 V of the sweep",
               "run not complete: its quantities are of the rows it has (stopped short, or rows missing inside it: the "
               "manifest's is_complete is false)"]
    metrics = pl.DataFrame({"run_id": ["a"], "proc": ["IVg"], "remarks": [remarks]}).select(
        pl.col(name).cast(dtype) if name in ("run_id", "proc", "remarks") else pl.lit(None, dtype=dtype).alias(name)
        for name, dtype in empty.schema.items())
    items = quantity_items(metrics, "a")
    assert items[0][0] == "run not complete" and items[0][1].plain.startswith("its quantities are of the rows it has")
    assert not any("rows it has" in text.plain for _, text in items[1:])
    assert "the hole branch spans less than 0.5 V" in dict(items)["gm_max_hole_s"].plain


async def test_history_shows_the_key_quantities_and_the_detail_defines_every_one(lab: Lab) -> None:
    app = LabApp(lab.config)
    async with app.run_test(size=(140, 50)) as pilot:
        await settle(pilot)
        await open_chip(pilot, "67")
        frame = table(app).frame
        assert frame["proc"].to_list() == ["IVg", "It", "It", "It"]
        assert frame["cnp_v_text"].to_list() == ["167 mV", None, None, None]
        assert "CNP" in str(table(app).render_line(0).text) and "167 mV" in str(table(app).render_line(1).text)
        await pilot.press("enter")
        assert isinstance(app.screen, FieldsDialog)
        body = " ".join(dialog_text(app).split())
        assert body.startswith("run 🌙 IVg Alisson67 VDS=0.1 V VG:-1→1 V step 0.5 V #1 · 2025-10-13 10:00 cnp_fwd_v "
                               "167 mV cnp_bwd_v")  # the run at a glance, then its values, their definitions last
        assert f"mobility_electron_cm2_vs {BY_COLUMN['mobility_electron_cm2_vs'].defined()}" in body
        assert body.endswith(f"calibration_spread {BY_COLUMN['calibration_spread'].defined()}")  # a sweep's power
        # (under light: priced as an It run is) and its calibration's, last
        assert "definitions of the quantities above, with the lab's windows cnp_fwd_v Dirac point (charge-neutrality " \
               "point) of the forward leg" in body
        assert "hysteresis_v" in body and "delta_i_a" not in body  # the quantities of the run's procedure
        mobility = read_metrics(lab.config).filter(pl.col("run_id") == frame["run_id"][0])["mobility_hole_cm2_vs"]
        assert f"mobility_hole_cm2_vs {mobility.item():.4g} cm²/(V·s) mobility_electron_cm2_vs" in body
        await pilot.press("escape", "j", "enter")
        body = " ".join(dialog_text(app).split())
        assert ("i_dark_a — the laser switched on 1 s into the run, before a 5 s dark window delta_i_a — (as for "
                "i_dark_a)") in body
        assert ("power_w — no LaserCalibration of 455 nm in the store calibration_run_id — the laser switched on 1 s "
                "into the run, before a 5 s dark window; no LaserCalibration of 455 nm in the store") in body
        assert "responsivity_a_per_w — (as for calibration_run_id) annotations" in body
        assert f"responsivity_a_per_w {BY_COLUMN['responsivity_a_per_w'].defined()}" in body


def test_a_history_leaves_out_the_quantities_none_of_its_rows_has() -> None:
    """A view of sweeps (t: IVg) headed ΔI, ΔI/I, P and resp over empty cells; with no row, every title stays."""
    view = View()
    sweeps = pl.DataFrame({column: [None] for column, _ in KEY_QUANTITIES}, schema=dict.fromkeys(
        (column for column, _ in KEY_QUANTITIES), pl.Float64)).with_columns(cnp_v=pl.lit(0.17))
    keys = [column.key for column in view.displayed(sweeps)]
    assert "cnp_v_text" in keys and not {"delta_i_a_text", "power_w_text", "responsivity_a_per_w_text"} & set(keys)
    assert [column.key for column in view.displayed(sweeps.clear())] == [column.key for column, _ in view.columns]


def drawn(app: LabApp, selector: str) -> list[str]:
    """The lines a widget draws, a no-break space as the space it shows."""
    widget = app.screen.query_one(selector)
    return [widget.render_line(y).text.replace("\xa0", " ").strip() for y in range(widget.content_size.height)]


async def test_chips_view_shows_the_geometry_and_a_bad_file_in_one_line(lab: Lab) -> None:
    app = LabApp(lab.config)
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(pilot)
        await pilot.press("c")
        await settle(pilot)
        await pilot.press(*"alisson67")
        await pilot.pause()
        assert drawn(app, "#chip-info")[0].startswith("Alisson67: ")  # named, as a chip without an entry is
        pieces = ("channel L × W: 10 µm × 5 µm", "gate dielectric: hBN 20 nm (ε=3.4)", "gate capacitance: 151 nF/cm²")
        for width in range(60, 121, 3):  # each piece whole on a line: `151` and `nF/cm²` were parted
            await pilot.resize_terminal(width, 30)
            await pilot.pause()
            lines = drawn(app, "#chip-info")
            assert all(any(piece in line for line in lines) for piece in pieces), (width, lines)
        await pilot.resize_terminal(30, 30)  # a piece wider than a line: parted, a number never from its unit
        await pilot.pause()
        lines = drawn(app, "#chip-info")
        assert lines[:2] == ["Alisson67: channel L × W:", "10 µm × 5 µm"]
        assert not any(line[-1].isdigit() for line in lines)
        await pilot.resize_terminal(120, 30)
        await pilot.press(*["backspace"] * 9, *"other")
        await pilot.pause()
        assert "other71: no entry in chip_params.yaml: geometry unknown" in text_of(app, "#chip-info")
        # edited while the list is open: the next move shows it (the list kept what it read when it opened)
        lab.config.chip_params_file.write_text(GEOMETRY.replace("length_um: 10", "length_um: 12"), encoding="utf-8")
        await pilot.press(*["backspace"] * 5, *"alisson67")
        await pilot.pause()
        assert any("12 µm × 5 µm" in line for line in drawn(app, "#chip-info"))
        lab.config.chip_params_file.write_text("Alisson67:\n  channel_length_um: -1\n", encoding="utf-8")
        await pilot.press("escape", "escape", "c")  # the filter cleared, then back
        await settle(pilot)
        info = text_of(app, "#chip-info")
        assert info.startswith("chip parameters ")
        assert "chip Alisson67, channel_length_um: Input should be greater" in info
        lab.config.chip_params_file.unlink()  # a lab without the file: it is the file that is missing, not an entry
        await pilot.press("escape", "escape", "c")  # the filter cleared, then back
        await settle(pilot)
        missing = short_path(lab.config.chip_params_file)
        assert text_of(app, "#chip-info") == (f"Alisson67: no chip parameters file ({missing} does not exist): "
                                              "geometry unknown, no mobility")


async def test_dashboard_shows_each_recent_chips_last_dirac_point(lab: Lab) -> None:
    app = LabApp(lab.config)
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(pilot)
        dirac = app.screen.query_one("#dirac", FrameTable)
        assert dirac.frame.select("chip_name", "cnp").rows() == [
            ("other71", "167 mV"), ("Alisson71", "167 mV"), ("Alisson67", "167 mV")]
        assert [str(day) for day in dirac.frame["date_local"]] == ["2025-10-14", "2025-10-14", "2025-10-13"]
        dirac.focus()
        await pilot.press("j", "j", "enter")
        await settle(pilot)
        assert table(app).row["proc"] == "IVg" and app.screen.title == "History · Alisson67"


async def test_a_chip_whose_newest_sweep_has_no_dirac_point_says_so(lab: Lab) -> None:
    """A chip dead for a week showed the Dirac point of its last good day, and looked fine at a glance."""
    sweep = [-1 + 0.5 * step for step in range(5)]
    dead = data_rows(((vg, 1e-12 * (1 + step % 3)) for step, vg in enumerate([0.0, *sweep[::-1], *sweep, 0.0])),
                     len(IVG_COLUMNS))  # no V: a dead channel's noise
    lab.write("2025-10-20/IVg2025-10-20_1.csv", raw_csv("IVg", start=epoch(2025, 10, 20), rows=dead))
    lab.stage()
    app = LabApp(lab.config)
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(pilot)
        dirac = app.screen.query_one("#dirac", FrameTable)
        assert dirac.frame.select("chip_name", "cnp").row(0) == ("Alisson67", "dead channel")  # why, not "no CNP"
        assert str(dirac.frame["date_local"][0]) == "2025-10-20"


def test_excluded_runs_give_no_dirac_point(lab: Lab) -> None:
    manifest, metrics = pl.read_parquet(lab.config.manifest_path), read_metrics(lab.config)
    ivg67 = metrics.filter((pl.col("chip_name") == "Alisson67") & (pl.col("proc") == "IVg"))
    annotate(lab.config.store_root, ivg67, [Change("exclude", "contact lost")], author="alice")
    points = last_dirac_points(manifest, metrics, current_annotations(lab.config.store_root), chips=2)
    assert points["chip_name"].to_list() == ["other71", "Alisson71"]  # the chips measured last
    points = last_dirac_points(manifest, metrics, current_annotations(lab.config.store_root))
    assert points.row(2, named=True)["chip_name"] == "Alisson67" and points.row(2, named=True)["cnp_v"] is None


async def test_a_plot_of_a_selection_leaves_excluded_runs_out_and_says_so(lab: Lab) -> None:
    app = LabApp(lab.config)
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(pilot)
        await open_chip(pilot, "67")
        await pilot.press("j", "space", "j", "space")  # select seq 2 and 3; then someone excludes seq 2
        annotate(lab.config.store_root, table(app).frame.filter(pl.col("seq") == 2), [Change("exclude", "contact")],
                 author="bo")
        app.check_store()
        await settle(pilot)
        assert "1 excluded run hidden" in text_of(app, "#status") and "2 selected" in text_of(app, "#status")
        expected = table(app).frame.filter(pl.col("seq") == 3)["run_id"].to_list()
        await pilot.press("p")
        await settle(pilot)
        assert isinstance(app.screen, PlotScreen) and app.screen.runs["run_id"].to_list() == expected
        assert any("1 excluded run hidden from the plot" in str(note.message) for note in said(app))
        hidden = colours(app.screen)
        await pilot.press("escape", "X", "p")  # shown: seq 3 keeps its colour (it took seq 2's, which it had then)
        await settle(pilot)
        assert isinstance(app.screen, PlotScreen) and app.screen.runs.height == 2
        assert hidden.items() <= colours(app.screen).items()


async def test_a_plot_of_runs_excluded_since_the_history_read_them_says_so_not_an_empty_plot(lab: Lab) -> None:
    """The app reads the annotations again when `p` asks for a plot: runs another terminal excluded since the
    history last read them opened an empty plot."""
    app = LabApp(lab.config)
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(pilot)
        await open_chip(pilot, "67")
        await pilot.press("j", "space")
        annotate(lab.config.store_root, table(app).frame.filter(pl.col("seq") == 2), [Change("exclude", "contact")],
                 author="bo")  # not yet seen by the history (no check of the store)
        await pilot.press("p")
        await settle(pilot)
        assert not isinstance(app.screen, PlotScreen)
        assert any(str(note.message).startswith("nothing to plot: the chosen runs were excluded since this view was "
                                                "read") for note in said(app))


def colours(screen: PlotScreen) -> dict[str, tuple[int, int, int]]:
    """Each plotted run's colour in the app's plot."""
    assert screen.spec is not None
    color_of = colouring(screen.spec, palette_for(screen.app.theme_variables)).color_of
    return {series.run_id: color_of(series) for series in screen.spec.series}


async def test_a_run_pruned_from_another_terminal_leaves_the_dirac_points_and_enter_says_so(lab: Lab) -> None:
    """`labtui prune --yes` dropped runs from the manifest, not from the metrics table: the dashboard kept showing
    the pruned IVg's Dirac point, and Enter on it (or on any row drawn before a prune or a re-stage) crashed the app
    (OutOfBoundsError, exit 70). The table follows the prune now; a row drawn before it is still said gone."""
    app = LabApp(lab.config)
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(pilot)
        dirac = app.screen.query_one("#dirac", FrameTable)
        shown = dirac.frame.filter(pl.col("chip_name") == "Alisson67").row(0, named=True)
        gone = lab.manifest().filter(pl.col("run_id") == shown["run_id"])["source_file"][0]
        (lab.raw / gone).unlink()
        pruned = lab.cli("prune", "--yes")
        assert pruned.returncode == 0 and "dropped 1 run" in pruned.stdout, pruned.stderr
        assert shown["run_id"] not in read_metrics(lab.config)["run_id"].to_list()  # the table follows the prune
        dirac.focus()
        dirac.cursor = dirac.frame["chip_name"].to_list().index("Alisson67")
        await pilot.press("enter")  # drawn before the store poll saw the prune
        await settle(pilot)
        assert app.is_running and app.screen is not None and app.screen.query("#dirac")
        assert any("no longer in the store" in str(note.message) for note in said(app))
        app.check_store()
        await settle(pilot)
        now = dirac.frame.filter(pl.col("chip_name") == "Alisson67").row(0, named=True)
        assert now["run_id"] != shown["run_id"]


def test_the_detail_names_the_calibration_that_priced_a_run_as_the_setups_history_lists_it(lab: Lab) -> None:
    """`calibration_run_id 68e6974be749b75e` alone: a reader matched it against a CSV to find which calibration."""
    from labtui.tui.run_detail import _calibration_named

    lab.write("2025-10-13/LaserCalibration2025-10-13_5.csv", raw_csv("LaserCalibration", start=epoch(2025, 10, 13, 12)))
    lab.stage()
    metrics, manifest = read_metrics(lab.config), lab.manifest()
    run = metrics.filter(pl.col("calibration_run_id").is_not_null()).row(0, named=True)
    items = dict(_calibration_named(quantity_items(metrics, run["run_id"]), manifest, lab.config.local_tz))
    calibration = manifest.filter(pl.col("run_id") == run["calibration_run_id"]).row(0, named=True)
    assert items["calibration_run_id"].plain == (
        f"{run['calibration_run_id']}  the setup's seq 1, 2025-10-13 09:00:00, {calibration['laser_wavelength_nm']:g} "
        "nm (`labtui history --calibrations`)")
    unpriced = metrics.filter(pl.col("proc") == "It", pl.col("calibration_run_id").is_null()).row(0, named=True)
    assert dict(_calibration_named(quantity_items(metrics, unpriced["run_id"]), manifest, lab.config.local_tz))[
        "calibration_run_id"].plain.startswith("—")
