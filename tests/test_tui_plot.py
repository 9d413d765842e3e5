"""The plot screen, driven with Pilot over a real store staged from synthetic raw files, plus SVG snapshots."""

from __future__ import annotations

import datetime as dt
import gc
import re
import shutil
import warnings
import weakref
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from syrupy.extensions.image import SVGImageSnapshotExtension
from textual.app import App
from textual.binding import Binding
from textual.color import Color
from textual.containers import VerticalScroll
from textual.content import Content
from textual.screen import Screen
from textual.theme import BUILTIN_THEMES
from textual.widgets import Input, Label, Static
from textual_plotext.plot import Plot

from labtui.core.config import StagingConfig
from labtui.core.history import history
from labtui.core.layout import run_parquet_path
from labtui.core.manifest import read_manifest
from labtui.core.plotdata import Baseline, GmMethod, PlotOptions, shape
from labtui.core.plotdata.load import PLACE, with_places
from labtui.core.plotdata.model import PlotSpec, Series
from labtui.core.plotdata.selection import FigureRecord
from labtui.core.plotdata.view import current_rows, file_suffix, plot_rows, plot_title
from labtui.core.stager import stage
from labtui.synth import write_run
from labtui.tui.messages import PlotRequested
from labtui.tui.plot import PlotScreen
from labtui.tui.plot_view import (
    MIN_PLOT_ROWS,
    RAMP_CELLS,
    SEQ_SPAN,
    SERIES_COLORS,
    LegendBox,
    Palette,
    PlotView,
    colouring,
    draw_spec,
    fitted,
    legend,
    palette_for,
    saved_line,
    status,
)
from labtui.tui.store import Store
from labtui.tui.trends import trend_status
from tests.pilot import record_notifications, said, wait_until

TZ = "America/Santiago"
START = dt.datetime(2025, 10, 13, 15, 0, tzinfo=dt.UTC)
# (name, proc, header overrides, rows kept or None for a complete run); chip Alisson 67 unless said otherwise
RUNS = [
    ("it_1v", "It", {"Laser voltage": 1.0}, None),
    ("it_2v", "It", {"Laser voltage": 2.0}, None),
    ("it_dark", "It", {"Laser voltage": 0.0}, None),
    ("ivg_other_chip", "IVg", {}, None),
    ("it_aborted", "It", {"Laser voltage": 1.5}, 900),
    ("ivg_dark", "IVg", {}, None),
    ("ivg_lit", "IVg", {"Laser voltage": 1.5}, None),
    ("iv", "IV", {}, None),
    ("cal_455", "LaserCalibration", {"Laser wavelength": 455}, None),
    ("cal_365", "LaserCalibration", {"Laser wavelength": 365}, None),
]
CHIPS = {"ivg_other_chip": ("Alisson", 68), "cal_455": (None, None), "cal_365": (None, None)}


def build_store(root: Path) -> StagingConfig:
    for index, (name, proc, params, rows) in enumerate(RUNS):
        group, number = CHIPS.get(name, ("Alisson", 67))
        write_run(root / "raw" / "2025-10-13", proc, file_idx=index + 1, chip_group=group, chip_number=number,
                  start_utc=START + dt.timedelta(minutes=10 * index), params=params, n_rows=rows, seed=7)
    config = StagingConfig(raw_root=root / "raw", stage_root=root / "store" / "raw_measurements", local_tz=TZ)
    stage(config)
    return config


@dataclass(frozen=True)
class Lab:
    """The staged store and the run_id of each named run of `RUNS`."""

    config: StagingConfig
    run_ids: dict[str, str]

    def ids(self, *names: str) -> list[str]:
        return [self.run_ids[name] for name in names]


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Lab:
    """Staged once for the module; a test that changes the store works on a copy."""
    config = build_store(tmp_path_factory.mktemp("plot"))
    manifest = read_manifest(config.manifest_path)
    by_file = dict(zip(manifest["file_idx"].to_list(), manifest["run_id"].to_list(), strict=False))
    return Lab(config, {name: by_file[index + 1] for index, (name, *_) in enumerate(RUNS)})


class Selection(Screen):
    """Stands in for the chip history: `p` asks to plot the selected runs."""

    BINDINGS = [Binding("p", "plot", "Plot")]

    def __init__(self, run_ids: list[str]) -> None:
        super().__init__()
        self.run_ids = run_ids

    def action_plot(self) -> None:
        self.post_message(PlotRequested(tuple(self.run_ids)))


class Host(App):
    """Opens the plot screen on `PlotRequested` exactly as the lab app is meant to."""

    def __init__(self, config: StagingConfig, run_ids: list[str]) -> None:
        super().__init__()
        self.config = config
        self.store = Store(config)  # the door the plot screen reads and exports through
        self.run_ids = run_ids

    def on_mount(self) -> None:
        self.push_screen(Selection(self.run_ids))

    def on_plot_requested(self, message: PlotRequested) -> None:
        runs = plot_rows(read_manifest(self.config.manifest_path), message.run_ids, self.config.local_tz)
        self.push_screen(PlotScreen(runs))


async def settle(pilot) -> None:
    """Let the load/export workers finish and their messages be handled."""
    await pilot.pause()
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


async def open_plot(pilot) -> PlotScreen:
    await pilot.press("p")
    await settle(pilot)
    screen = pilot.app.screen
    assert isinstance(screen, PlotScreen)
    return screen


def status_text(screen: PlotScreen) -> str:
    return str(screen.query_one("#plot-status", Static).render())


def points(screen: PlotScreen) -> int:
    return sum(series.x.size for series in screen.spec.series)


# -- Pilot ------------------------------------------------------------------------------------------------------
async def test_p_opens_the_plot_and_b_cycles_the_it_baseline(lab):
    app = Host(lab.config, lab.ids("it_1v", "it_2v", "it_dark"))
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_plot(pilot)
        spec = screen.spec
        assert (spec.kind, len(spec.series), spec.x_title) == ("It", 3, "t (s)")
        assert spec.y_title == "I − I_dark (nA)" and spec.spans  # laser window from the VL column
        # lit runs' λ, and their power beside the laser voltage it is priced from
        assert [s.label for s in spec.series] == ["VL=1 V, P=3.84 µW, λ=455 nm", "VL=2 V, P=8.64 µW, λ=455 nm",
                                                  "dark"]
        assert plot_title(spec) == "Alisson67 · It · VG=-0.4 V · seq 1–3"
        assert "just before laser ON" in status_text(screen)
        assert "mixes light and dark" in status_text(screen)
        seen = []
        for _ in range(3):
            await pilot.press("b")
            seen.append(screen.current.baseline)
        assert seen == [Baseline.RAW, Baseline.FIRST, Baseline.AUTO]  # no t = 0 s: the first point's curve again
        await pilot.press("b")
        assert screen.spec.y_label == "I" and "no baseline" in status_text(screen)
        assert min(float(s.y.min()) for s in screen.spec.series) > 0  # raw currents of a conducting channel
        await pilot.press("escape")
        assert isinstance(app.screen, Selection)


async def test_t_sets_the_fixed_baseline_time(lab):
    app = Host(lab.config, lab.ids("it_1v", "it_2v"))
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_plot(pilot)
        await pilot.press("t", "3", "0", "enter")
        assert (screen.current.baseline, screen.current.baseline_time_s) == (Baseline.FIXED, 30.0)
        assert "I(t = 30 s)" in status_text(screen)
        seen = []
        for _ in range(4):  # once a time is set, b passes through it
            await pilot.press("b")
            seen.append(screen.current.baseline)
        assert seen == [Baseline.AUTO, Baseline.RAW, Baseline.FIRST, Baseline.FIXED]
        full = shape(screen.groups["It"], screen.current)
        assert [np.interp(30.0, s.x, s.y) for s in full.series] == pytest.approx([0.0, 0.0], abs=1e-12)
        await pilot.press("t", "escape")  # Esc closes the field first, then leaves the plot
        assert app.screen is screen and screen.focused is None
        await pilot.press("escape")
        assert isinstance(app.screen, Selection)


async def test_l_g_m_on_a_gate_sweep(lab):
    app = Host(lab.config, lab.ids("ivg_dark", "ivg_lit"))
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_plot(pilot)
        assert screen.spec.kind == "IVg" and {s.direction for s in screen.spec.series} == {1, -1}
        assert screen.spec.markers and "Dirac Vg=" in status_text(screen)
        await pilot.press("l")
        assert screen.spec.log_y and screen.spec.y_label == "|I|"
        assert all(float(s.y.min()) > 0 for s in screen.spec.series)
        await pilot.press("g")
        assert (screen.spec.y_label, screen.spec.y_unit[-1:], screen.spec.log_y) == ("gm", "S", False)
        assert "Savitzky–Golay over 0.5 V, order 2 (as gm_max)" in " ".join(status_text(screen).split())
        smooth = screen.spec
        await pilot.press("m")
        assert screen.current.gm_method is GmMethod.GRADIENT and "plain gradient" in status_text(screen)
        assert not np.allclose(screen.spec.series[1].y, smooth.series[1].y)  # the method changed the numbers
        await pilot.press("g")
        assert screen.spec.y_label == "I"


async def test_keys_apply_only_where_they_mean_something(lab):
    app = Host(lab.config, lab.ids("it_1v", "ivg_dark", "iv"))
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_plot(pilot)
        enabled = lambda *actions: [bool(screen.check_action(action, ())) for action in actions]  # noqa: E731
        assert enabled("cycle_baseline", "toggle_log", "toggle_gm", "next_group") == [True, True, False, True]
        await pilot.press("tab")
        assert screen.proc == "IVg"
        assert enabled("cycle_baseline", "toggle_log", "toggle_gm", "cycle_gm_method") == [False, True, True, False]
        await pilot.press("g")
        assert enabled("toggle_log", "cycle_gm_method") == [False, True]
        screen.action_next_group()  # the group on show at once, not when the Tabs' message comes: an `e` pressed in
        assert screen.proc == "IV"  # between exported the group before
        await settle(pilot)
        assert (screen.proc, screen.spec.x_title) == ("IV", "Vsd (mV)")  # ±0.1 V sweep: SI prefix
        assert enabled("toggle_log", "toggle_gm") == [True, False]
        await pilot.press("shift+tab", "shift+tab")
        assert screen.proc == "It" and screen.current == PlotOptions()  # untouched by the other groups' keys
        await pilot.press("tab")
        assert screen.current.gm  # every group keeps its own options


async def test_an_export_whose_legend_does_not_fit_says_so(lab, tmp_path, monkeypatch):
    """As `labtui plot` says it (a chip's 40 sweeps): the toast names what the figure leaves out."""
    record_notifications(monkeypatch)
    monkeypatch.setattr("labtui.core.plotdata.figure.LEGEND_MAX", 2)  # three runs (four entries with the laser)
    app = Host(replace(lab.config, exports_dir=tmp_path / "exports"), lab.ids("it_1v", "it_2v", "it_dark"))
    async with app.run_test(size=(120, 40)) as pilot:
        await open_plot(pilot)
        await pilot.press("e")
        await settle(pilot)
        assert said(app)[-1].message.endswith("; no legend: its 4 entries do not fit beside the axes (the title "
                                              "counts the runs)")


async def test_e_exports_the_figure_and_the_full_series_as_csv(lab, tmp_path, monkeypatch):
    record_notifications(monkeypatch)
    config = replace(lab.config, exports_dir=tmp_path / "exports")
    app = Host(config, lab.ids("it_1v", "it_2v", "it_dark"))
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_plot(pilot)
        await pilot.press("e")
        assert said(app)[0].message.startswith("writing the figure")  # at once, before it is done: it takes seconds
        await settle(pilot)
        stem = config.exports_dir / "Alisson67_It_seq1-3_dI-auto"
        pdf, png, csv = (stem.with_name(f"{stem.name}.{ext}") for ext in ("pdf", "png", "csv"))
        assert pdf.read_bytes().startswith(b"%PDF-") and png.read_bytes().startswith(b"\x89PNG")
        record = pdf.with_name(f"{pdf.name}.json")  # as `labtui plot` writes one: `--from` redraws the figure
        assert screen.saved == (pdf, png, csv, record)
        assert said(app)[-1].message == f"{pdf.name} and its PNG, CSV, JSON written to {config.exports_dir}"
        recorded = FigureRecord.read(record)
        assert recorded.run_ids == tuple(screen.groups["It"].runs["run_id"]) and recorded.options == screen.current
        assert f"saved {stem} .pdf .png .csv .pdf.json" in status_text(screen)  # one name, its suffixes
        exported = pl.read_csv(csv)
        full = shape(screen.groups["It"], screen.current)
        assert exported["label"].unique(maintain_order=True).to_list() == [s.label for s in full.series]
        assert exported.height == sum(s.x.size for s in full.series) > points(screen)  # not the downsampled view
        assert (exported["x_unit"][0], exported["y_unit"][0]) == (full.x_unit, full.y_unit)
        second = exported.filter(pl.col("label") == "VL=2 V, P=8.64 µW, λ=455 nm")["y"].to_numpy()
        assert second == pytest.approx(full.series[1].y)


def test_an_export_into_the_raw_folder_or_the_store_is_refused(lab, tmp_path):
    """`exports_dir` relative to the working folder, the app started in the raw folder: `e` wrote the PDF, PNG, CSV
    and record among the raw files (each a reject at the next stage), as `labtui export` did."""
    from labtui.core.errors import UsageError
    from labtui.tui.store import Store

    spec = PlotSpec("It", "t", "t", "s", "I", "A", False, (), (), (), (), (), pl.DataFrame())
    for folder in (lab.config.raw_root / "exports", lab.config.store_root / "exports"):
        store = Store(replace(lab.config, exports_dir=folder))
        with pytest.raises(UsageError, match=r"^the config's exports_dir: .* is in the (raw folder|store) "):
            store.write_figures(spec, (folder / "f.pdf",))
        assert not folder.exists()


async def test_a_theme_switch_redraws_in_that_theme_s_colours(lab):
    app = Host(lab.config, lab.ids("iv"))
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_plot(pilot)
        legend = lambda: screen.query_one("#legend", Static).render().spans[0].style  # noqa: E731
        assert legend() == "rgb({},{},{})".format(*SERIES_COLORS[True][0])
        app.theme = "textual-light"
        await pilot.pause()
        assert legend() == "rgb({},{},{})".format(*SERIES_COLORS[False][0])


async def test_missing_parquet_is_a_message_not_a_crash(lab, tmp_path):
    shutil.copytree(lab.config.store_root, tmp_path / "store")
    config = replace(lab.config, stage_root=tmp_path / "store" / "raw_measurements")
    manifest = read_manifest(config.manifest_path)
    for name in ("it_2v", "iv"):
        row = manifest.filter(pl.col("run_id") == lab.run_ids[name]).row(0, named=True)
        run_parquet_path(config.stage_root, row["proc"], row["date_local"], row["run_id"]).unlink()
    app = Host(config, lab.ids("it_1v", "it_2v", "iv"))
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_plot(pilot)
        assert [s.label for s in screen.spec.series] == ["seq 1"]
        assert "seq 2: cannot read its Parquet" in status_text(screen) and "validate --fix" in status_text(screen)
        await pilot.press("tab")
        assert screen.proc == "IV" and not screen.spec.series and "cannot read" in status_text(screen)
        assert not screen.check_action("export", ())


async def test_a_run_restaged_under_a_new_run_id_while_plotted_stays_in_the_plot(lab, tmp_path):
    """Its start time corrected and re-staged from another terminal (`labtui restage`) while its plot is open: the
    reload read the old run_id's Parquet, gone since, and the plot went blank with a FileNotFoundError."""
    shutil.copytree(lab.config.raw_root, tmp_path / "raw")
    shutil.copytree(lab.config.store_root, tmp_path / "store")
    config = replace(lab.config, raw_root=tmp_path / "raw", stage_root=tmp_path / "store" / "raw_measurements")
    app = Host(config, lab.ids("it_1v", "it_2v"))
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_plot(pilot)
        assert [s.label.split(",")[0] for s in screen.spec.series] == ["VL=1 V", "VL=2 V"]
        write_run(config.raw_root / "2025-10-13", "It", file_idx=2, chip_group="Alisson", chip_number=67,
                  start_utc=START + dt.timedelta(minutes=12), params={"Laser voltage": 2.0}, seed=7)
        assert stage(config).counts["staged"] == 1
        assert lab.run_ids["it_2v"] not in read_manifest(config.manifest_path)["run_id"].to_list()
        screen.reload()  # what the app's store poll does when the manifest changed
        await settle(pilot)
        assert [s.label.split(",")[0] for s in screen.spec.series] == ["VL=1 V", "VL=2 V"]
        assert "cannot read" not in status_text(screen)
    # VL=2 V alone, at its place among the two chosen (the other excluded and left out): re-staged, it keeps it
    placed = with_places(plot_rows(read_manifest(lab.config.manifest_path), lab.ids("it_1v", "it_2v"),
                                   config.local_tz)).slice(1)
    assert current_rows(placed, read_manifest(config.manifest_path), config.local_tz)[PLACE].to_list() == [1]


async def test_a_sentinel_current_is_left_out_and_an_empty_log_plot_draws(lab, tmp_path):
    """A sweep whose current reads 1e308 A throughout (a meter's sentinel) crashed the app in plotext's axis; with
    no point left to draw, `l` crashed it again (a log axis without values)."""
    shutil.copytree(lab.config.store_root, tmp_path / "store")
    config = replace(lab.config, stage_root=tmp_path / "store" / "raw_measurements")
    row = read_manifest(config.manifest_path).filter(pl.col("run_id") == lab.run_ids["ivg_dark"]).row(0, named=True)
    path = run_parquet_path(config.stage_root, row["proc"], row["date_local"], row["run_id"])
    pl.read_parquet(path).with_columns(i_a=pl.lit(1e308)).write_parquet(path)
    app = Host(config, lab.ids("ivg_dark"))
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_plot(pilot)
        assert not screen.spec.series and "points of ±1e+30 or more (overflow marks) left out" in status_text(screen)
        await pilot.press("l")
        await settle(pilot)
        assert screen.current.log_y and app.is_running


def test_values_at_the_drawable_limit_draw_in_the_terminal_and_in_a_figure():
    """The largest reading (under `NO_READING`) leaves room for what both renderers add: plotext's ±50 % around a
    flat axis and its ticks, the unit prefixes (a µ multiplies by 1e6), matplotlib's margins and log ticks."""
    from labtui.core.datablock import NO_READING
    from labtui.core.drawing import render
    from labtui.core.plotdata import LoadedGroup
    from labtui.core.plotdata.figure import drawing_of
    from labtui.core.plotdata.load import KINDS

    largest = np.nextafter(NO_READING, 0)
    vg = np.linspace(-5.0, 5.0, 201)
    runs = pl.DataFrame({"run_id": ["a", "b"], "seq": [1, 2], "chip_name": "Alisson67", "has_light": False})
    for current in (np.full(vg.size, largest), np.where(vg > 0, largest, 1e-9), -np.full(vg.size, largest)):
        group = LoadedGroup("IVg", runs, ({"vg_v": vg, "i_a": current}, {"vg_v": vg, "i_a": 1e-6 * vg}), (),
                            kind=KINDS["IVg"])
        for options in (PlotOptions(), PlotOptions(log_y=True), PlotOptions(gm=True)):
            plt = Plot()
            plt.plotsize(80, 20)
            draw_spec(plt, shape(group, options, 80), palette_for({"surface": "#1e1e1e", "foreground": "#e0e0e0"}),
                      80)
            assert plt.build()
            assert render(drawing_of(shape(group, options, 400)), "png", dpi=30)[:4] == b"\x89PNG"


async def test_incomplete_runs_are_drawn_and_labelled(lab):
    app = Host(lab.config, lab.ids("it_1v", "it_aborted"))
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_plot(pilot)
        aborted = screen.spec.series[1]
        assert aborted.incomplete and aborted.label.endswith("(incomplete)") and aborted.x.size
        assert "(incomplete)" in str(screen.query_one("#legend", Static).render())
        assert "durations differ" in status_text(screen)


async def test_resize_reshapes_without_reading_parquet(lab, monkeypatch):
    reads, builds = [], []
    real_load, real_build = Store.load_runs, Plot.build
    monkeypatch.setattr(Store, "load_runs", lambda store, runs: reads.append(runs) or real_load(store, runs))
    monkeypatch.setattr(Plot, "build", lambda plt: builds.append(plt) or real_build(plt))
    app = Host(lab.config, lab.ids("it_1v", "it_2v", "it_dark"))
    async with app.run_test(size=(160, 40)) as pilot:
        screen = await open_plot(pilot)
        wide = points(screen)
        builds.clear()
        await pilot.resize_terminal(90, 40)
        await settle(pilot)
        assert points(screen) < wide and len(reads) == 1
        assert len(builds) == 1  # plotext never builds the old points at the new width


# -- issue 17: the plot screen's frictions ---------------------------------------------------------------------
async def test_t_opens_a_labelled_field_that_says_what_it_does(lab):
    app = Host(lab.config, lab.ids("it_1v"))
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_plot(pilot)
        await pilot.press("t")
        await pilot.pause()  # laid out: on a loaded machine the label had no region yet
        field = screen.query_one("#baseline-time", Input)
        assert screen.focused is field and field.value == ""  # no unexplained "0"
        label = screen.query_one("#baseline-time-label", Label)
        assert label.display and label.region.width and "Baseline at t (s)" in str(label.render())
        assert "esc" in field.placeholder and "I(t)" in field.placeholder
        await pilot.press("2", "0", "enter")
        await pilot.pause()
        assert not label.region.width  # the field closes once applied
        await pilot.press("t")
        assert field.value == "20"  # reopening shows the time in force
        await pilot.press("backspace", "backspace", "enter")  # empty: says what to type, the field stays open
        assert "type a time in seconds" in said(app)[-1].message and screen.focused is field
        await pilot.press(*"9999", "enter")  # past every run's end: applied, and said
        assert "past the end of the runs" in said(app)[-1].message and screen.current.baseline_time_s == 9999


async def test_l_on_an_it_plot_draws_log_abs_current(lab):
    app = Host(lab.config, lab.ids("it_1v", "it_2v"))
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_plot(pilot)
        await pilot.press("l")
        assert screen.spec.log_y and screen.spec.y_label == "|I − I_dark|" and "log |y|" in status_text(screen)
        assert all(float(s.y.min()) > 0 for s in screen.spec.series)
        await pilot.press("b", "l")  # raw: log |I|
        assert (screen.spec.y_label, screen.spec.log_y) == ("I", False)


async def test_a_log_plot_survives_a_new_height(lab):
    """plotext takes a log axis's log in place when it builds: a second build on a new height (the terminal resized,
    the baseline field opened by `t`) took the log of the log, and the app died of a math domain error."""
    app = Host(lab.config, lab.ids("it_1v", "it_2v"))
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await open_plot(pilot)
        await pilot.press("l")
        await pilot.pause()
        view = screen.query_one(PlotView)
        frame = str(view.render())
        await pilot.press("t")  # the baseline field takes a line from the plot
        await pilot.pause()
        await pilot.press("escape")
        await pilot.resize_terminal(100, 36)
        await pilot.pause()
        assert app.is_running and view.size.height > 20 and str(view.render()).count("\n") > frame.count("\n")
        await pilot.resize_terminal(100, 30)
        await pilot.pause()
        assert str(view.render()) == frame  # the same figure as first drawn at this size


async def test_a_plot_too_low_for_a_figure_says_so_and_draws_once_it_is_not(lab):
    """At 40×12 the plot had two rows: plotext wrote its y ticks on the frame's lines, 50 and 60 for currents of
    24 µA. Too low, the view says so; made taller, it draws the figure, its ticks within the data."""
    app = Host(lab.config, lab.ids("it_1v", "it_2v"))
    async with app.run_test(size=(40, 10)) as pilot:
        screen = await open_plot(pilot)
        view = screen.query_one(PlotView)
        assert view.size.height < MIN_PLOT_ROWS
        assert str(view.render()) == f"{view.size.height} rows: too few to plot (a plot needs {MIN_PLOT_ROWS})"
        await pilot.resize_terminal(40, 20)
        await wait_until(pilot, lambda: view.size.height >= MIN_PLOT_ROWS)  # one pause was not always enough
        frame = str(view.render())
        assert "┌" in frame and "too few" not in frame


async def test_a_dark_it_run_opens_without_a_laser_baseline(lab):
    app = Host(lab.config, lab.ids("it_dark"))
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_plot(pilot)
        assert screen.current.baseline is Baseline.RAW and screen.spec.y_label == "I"
        assert "laser ON" not in status_text(screen) and "no baseline" in status_text(screen)


async def test_a_view_key_the_plot_has_no_use_for_says_so(lab, monkeypatch):
    record_notifications(monkeypatch)
    app = Host(lab.config, lab.ids("ivg_dark"))
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_plot(pilot)
        await pilot.press("b")  # a baseline is for It runs
        assert said(app)[-1].message == "Baseline does not apply to the IVg plot"
        await pilot.press("g", "l")
        await settle(pilot)
        assert said(app)[-1].message == "Log |y| does not apply to the IVg plot of gm (g shows I again)"
        assert screen.current.gm and not screen.current.log_y


async def test_every_leg_of_a_sweep_has_its_own_legend_entry(lab):
    app = Host(lab.config, lab.ids("ivg_dark"))
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_plot(pilot)
        labels = [s.label for s in screen.spec.series]
        assert len(labels) == 4 and len(set(labels)) == 4  # 0 → −V → +V → −V → 0: two forward, two backward legs
        legend = str(screen.query_one("#legend", Static).render())
        assert all(label in legend for label in labels)
        markers = [m.text.split(":")[0] for m in screen.spec.markers]
        assert len(markers) == len(set(markers))  # each Dirac point names one leg


async def test_a_closed_plot_leaves_nothing_behind(lab):
    """Each plot opened and closed stayed in memory with its runs (4–5 MB a minute of use, the app open all day):
    the theme signal's callbacks held the screen and its plot widget. Closed, neither is subscribed nor alive; the
    open one still redraws in a new theme."""
    app = Host(lab.config, lab.ids("ivg_dark"))
    async with app.run_test(size=(120, 40)) as pilot:
        closed = []
        for _ in range(3):
            screen = await open_plot(pilot)
            closed += [weakref.ref(screen), weakref.ref(screen.query_one(PlotView))]
            await pilot.press("escape")
            await settle(pilot)
        screen = await open_plot(pilot)
        gc.collect()
        assert [ref() for ref in closed] == [None] * 6
        assert set(app.theme_changed_signal._subscriptions) == {screen, screen.query_one(PlotView)}
        before = screen.query_one(PlotView)._drawn
        app.theme = "textual-light"
        await settle(pilot)
        assert screen.query_one(PlotView)._drawn != before  # redrawn in the light palette


def test_axis_and_plot_titles_are_cut_to_fit_rather_than_left_out():
    """plotext leaves out a title that does not fit: cut it, keeping the unit, and the plot still says what its
    axis is (the trends' x axis at 80 columns had no name)."""
    label = "time since 2025-09-01, America/Santiago"
    assert fitted(label, "d", 60) == f"{label} (d)"
    assert fitted(label, "d", 25) == "time since… (d)"  # at a word's end
    assert fitted(label, "d", 33) == "time since 2025-09-01… (d)"
    assert fitted("Alisson68 · Dirac point against time", "", 12) == "Alisson68…"  # whole parts
    assert fitted(label, "d", 4) == ""
    plt = Plot()
    plt.plotsize(50, 16)
    spec = PlotSpec("trend", "Alisson68 · Dirac point against time · 31 runs, and more words", label, "d",
                    "V_CNP", "V", False, (Series("CNP", np.arange(3.0), np.arange(3.0), "r", 1),), (), (), (), (),
                    pl.DataFrame(), points=True)
    draw_spec(plt, spec, palette_for({"surface": "#1e1e1e", "foreground": "#e0e0e0"}), 50)
    drawn = plt.build()
    assert "… (d)" in drawn and "Alisson68 · Dirac point against time" in drawn


@pytest.mark.parametrize("width", [49, 60, 79])
@pytest.mark.parametrize("decades", [1, 6, 9])
def test_a_title_is_drawn_over_a_log_axis_of_wide_ticks(width: int, decades: int) -> None:
    """plotext centres the title on the frame, right of the y ticks, and leaves out one that would end past the plot:
    at 80 columns a log |ΔI| axis ticked `100000`, `1e+06` moved the centre right, and the title went blank."""
    plt = Plot()
    plt.plotsize(width, 16)
    title = "Alisson67 · It · VG=-0.4 V · seq 7"
    title += " · " + "9" * (width - 4 - len(title) - 3)  # as long as the room it was given (the plot's width less 4)
    spec = PlotSpec("It", title, "t", "s", "|ΔI|", "pA", True,
                    (Series("seq 7", np.arange(50.0), np.logspace(-3, decades, 50), "r", 7),), (), (), (), (),
                    pl.DataFrame())
    draw_spec(plt, spec, palette_for({"surface": "#1e1e1e", "foreground": "#e0e0e0"}), width)
    first = re.sub(r"\x1b\[[0-9;]*m", "", plt.build()).splitlines()[0].strip()
    assert first.startswith("Alisson67 · It"), first


@pytest.mark.parametrize(("overlay", "marker", "entry"), [("doubted", "○", "value in doubt"),
                                                        ("excluded", "×", "excluded run")])
def test_a_trends_marked_points_are_drawn_over_their_own_and_named_in_the_legend(overlay: str, marker: str,
                                                                                   entry: str) -> None:
    """A point priced by a stale calibration or within the noise, or one of an excluded run shown with X, was drawn
    as sure as any other: only the notes, or the CSV, told them apart. Ringed or crossed out where it is, named once
    in the legend."""
    plt = Plot()
    plt.plotsize(40, 12)
    spec = PlotSpec("trend", "Alisson81 · photoresponse against power", "P", "µW", "ΔI", "µA", False,
                    (Series("455 nm", np.array([1.0, 2.0, 3.0]), np.array([1.0, 2.0, 3.0]), "", None),), (), (), (),
                    (), pl.DataFrame(), points=True, joined=False, **{overlay: ((2.0, 2.0),)})
    palette = palette_for({"surface": "#1e1e1e", "foreground": "#e0e0e0"})
    draw_spec(plt, spec, palette, 40)
    drawn = plt.build()
    assert drawn.count(marker) == 1 and drawn.count("●") == 2
    assert str(legend(spec, palette)).splitlines() == ["● 455 nm", f"{marker} {entry}"]


def test_a_trends_points_in_doubt_keep_their_series_colour_and_sign() -> None:
    """A ring in a colour of its own over each point in doubt hid which series, and on log–log axes which sign, it
    was of: on the real chip 67, whose every point is in doubt, the plot showed no ▽ its legend named. Hollow, in
    its series' colour: ● → ○, ▼ → ▽."""
    plt = Plot()
    plt.plotsize(40, 12)
    x = np.array([1.0, 2.0, 3.0])
    above = Series("455 nm", x, x, "", None, sign=1)
    below = Series("455 nm, ΔI < 0", x, x * 10, "", None, run_index=1, sign=-1)
    spec = PlotSpec("trend", "Alisson81 · photoresponse against power", "P", "µW", "|ΔI|", "µA", True,
                    (above, below), (), (), (), (), pl.DataFrame(), points=True, joined=False, log_x=True,
                    doubted=((2.0, 2.0), (3.0, 30.0)))
    palette = palette_for({"surface": "#1e1e1e", "foreground": "#e0e0e0"})
    draw_spec(plt, spec, palette, 40)
    drawn = plt.build()
    assert [drawn.count(marker) for marker in "●○▼▽"] == [2, 1, 2, 1]
    colour_before = {marker: re.findall(rf"(\x1b\[[0-9;]*m)[{marker}]", drawn) for marker in "●○▼▽"}
    assert set(colour_before["○"]) <= set(colour_before["●"]) and set(colour_before["▽"]) <= set(colour_before["▼"])
    assert set(colour_before["●"]) != set(colour_before["▼"])  # two series, two colours
    assert str(legend(spec, palette)).splitlines() == ["● 455 nm", "▼ 455 nm, ΔI < 0", "○▽ value in doubt"]


def test_a_trends_points_at_the_ends_of_its_axes_are_drawn_clear_of_the_frame() -> None:
    """The points at the least x and the largest y were drawn on the frame's lines: at 80 columns most of a
    responsivity trend sat in the frame's column."""
    plt = Plot()
    plt.plotsize(40, 12)
    spec = PlotSpec("trend", "Alisson81 · photoresponse against power", "P", "µW", "ΔI", "µA", False,
                    (Series("455 nm", np.array([1.0, 2.0, 3.0]), np.array([1.0, 2.0, 3.0]), "", None),), (), (), (),
                    (), pl.DataFrame(), points=True, joined=False)
    draw_spec(plt, spec, palette_for({"surface": "#1e1e1e", "foreground": "#e0e0e0"}), 40)
    lines = re.sub(r"\x1b\[[0-9;]*m", "", plt.build()).splitlines()  # without its colours
    assert sum(line.count("●") for line in lines) == 3
    assert not any(re.search("[│┤]●|●[│├]", line) or ("●" in line and re.search("[┌└]", line)) for line in lines)


def test_an_exports_files_are_named_once_on_the_status_line():
    """Each path written out took 3–4 lines of an 80×24 screen's plot: one name, its suffixes."""
    saved = tuple(Path("exports") / f"Alisson67_It_seq1-3{suffix}" for suffix in (".pdf", ".png", ".csv", ".pdf.json"))
    assert [line.plain for line in saved_line(saved)] == ["saved exports/Alisson67_It_seq1-3 .pdf .png .csv .pdf.json"]
    assert [line.plain for line in saved_line((Path("a/x.pdf"), Path("b/x.png")))] == ["saved a/x.pdf, b/x.png"]
    assert saved_line(()) == []


def test_what_was_left_out_is_a_note_under_a_plot_not_an_error():
    """"✗ 1 excluded run hidden" in red, under a plot and a trend, read as a failure: a note, muted."""
    spec = PlotSpec("IVg", "Alisson67 · IVg", "Vg", "V", "I", "A", False, (), (), (), ("calibration stale",),
                    ("1 excluded run hidden",), pl.DataFrame({"run_id": ["a"]}), hidden=1)
    for shown in (status(spec, PlotOptions(), (), 0.5), trend_status(spec, False, ())):
        lines = shown.plain.splitlines()
        assert "· 1 excluded run hidden" in lines and "⚠ calibration stale" in lines and "✗" not in shown.plain
        note = next(span for span in shown.spans if shown.plain[span.start:span.end].startswith("· 1 excluded"))
        assert "muted" in str(note.style)
    # a trend's box shows 4 lines at 80×24: what was left out comes before its warnings, which had hidden it
    assert trend_status(spec, False, ()).plain.splitlines()[1] == "· 1 excluded run hidden"


async def test_a_plot_title_too_long_for_the_terminal_keeps_whole_parts(lab):
    """Cut at a word, the title parted a value from its unit (`VG=-0.4…` at 75 columns) or ended on a dangling
    `·`: it keeps its first parts whole, each value with its unit."""
    app = Host(lab.config, lab.ids("it_1v"))
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_plot(pilot)
        parts = plot_title(screen.spec).split(" · ")
        for width in (75, 81):
            await pilot.resize_terminal(width, 24)
            await settle(pilot)
            title = screen.query_one(PlotView).render().plain.splitlines()[0].strip()
            assert title.endswith("…")
            shown = title.removesuffix("…").split(" · ")
            assert shown == parts[: len(shown)], width


def test_many_sweeps_have_one_legend_line_per_run_and_one_per_direction():
    """Past two sweeps (eight legs), the legend lists runs, as the paper figure does: not four lines a run."""
    def sweep(run: int) -> list[Series]:
        legs = ("0→-5 V", "-5→5 V", "5→-5 V", "-5→0 V")
        return [Series(f"seq {run} {leg}", np.zeros(2), np.zeros(2), f"r{run}", run, run_index=run,
                       direction=(-1) ** (n + 1), run_label=f"seq {run}") for n, leg in enumerate(legs)]

    palette = Palette(SERIES_COLORS[True], (1, 2, 3), (4, 5, 6), SEQ_SPAN[True])
    for runs, expected in ((2, 8), (3, 3 + 2)):
        spec = PlotSpec("IVg", "IVg", "Vg", "V", "I", "µA", False, tuple(s for r in range(runs) for s in sweep(r)),
                        (), (), (), (), pl.DataFrame())
        lines = str(legend(spec, palette)).splitlines()
        assert len(lines) == expected
    assert lines == ["━━ seq 0", "━━ seq 1", "━━ seq 2", "━━ forward (Vg rising)",
                     "·· backward (Vg falling)"]


def test_runs_past_the_palette_take_their_colour_by_seq_with_a_colour_bar():
    """Past the palette's 10 colours, 30 sweeps repeated each colour three times, in the plot and in 30 legend lines:
    each run's colour is along viridis by its seq (every run its own), the legend one colour bar and the directions.
    Within 10 runs, the palette as before; a run without a seq places every run by its place in the plot."""
    def sweeps(seqs: list[int | None]) -> tuple[Series, ...]:
        return tuple(Series(f"seq {seq} {leg}", np.arange(2.0), np.arange(2.0) + run, f"r{run}", seq, run_index=run,
                            direction=direction, run_label=f"seq {seq}")
                     for run, seq in enumerate(seqs) for leg, direction in (("up", 1), ("down", -1)))

    def spec_of(series: tuple[Series, ...]) -> PlotSpec:
        return PlotSpec("IVg", "IVg", "Vg", "V", "I", "µA", False, series, (), (), (), (), pl.DataFrame())

    dark = palette_for({"surface": "#1e1e1e", "foreground": "#e0e0e0"})
    many = spec_of(sweeps([3 * n + 2 for n in range(30)]))  # seqs 2 … 89
    color = colouring(many, dark).color_of
    colors = {color(series) for series in many.series}
    assert len(colors) == 30 and not colors & set(dark.series)
    assert color(many.series[0]) == dark.along(0.0) == (54, 95, 139) and color(many.series[-1]) == (253, 231, 37)
    lines = str(legend(many, dark)).splitlines()
    assert lines == ["█" * 12 + " seq 2 → 89", "━━ forward (Vg rising)", "·· backward (Vg falling)"]
    legend_colors = {span.style for span in legend(many, dark).spans}
    assert len(legend_colors) >= RAMP_CELLS
    light = palette_for({"surface": "#ffffff", "foreground": "#000000"})
    on_light = colouring(many, light).color_of
    assert on_light(many.series[0]) == (68, 1, 84)  # the dark end reads on a light canvas
    assert on_light(many.series[-1]) == light.along(1.0) != (253, 231, 37)  # not its faint yellow
    unnamed = spec_of(sweeps([*range(20), None]))
    assert str(legend(unnamed, dark)).splitlines()[0].endswith(" run 1 → 21, in the plot's order")
    few = spec_of(sweeps(list(range(10))))
    assert [colouring(few, dark).color_of(series) for series in few.series[::2]] == list(dark.series)
    # 11 runs chosen, one excluded and left out: the 10 drawn keep their places (0–10), past the palette as the 11
    # are (taken as within it, the run at place 10 had place 0's colour)
    placed = spec_of(tuple(series for series in sweeps(list(range(11))) if series.run_index != 4))
    assert len({colouring(placed, dark).color_of(series) for series in placed.series}) == 10


def test_calibrations_past_the_palette_take_their_wavelengths_colour():
    """12 calibrations at three wavelengths were coloured by seq, the legend a colour bar: which curve was which λ,
    the plot no longer said. The runs of one wavelength share its colour and one legend line, in λ order."""
    nms = [455, 365, 850] * 4
    order = sorted(set(nms))
    series = tuple(Series(f"λ={nm} nm seq {n + 1}", np.arange(2.0), np.arange(2.0) * n, f"r{n}", n + 1, run_index=n,
                          group=f"λ={nm} nm", group_index=order.index(nm)) for n, nm in enumerate(nms))
    spec = PlotSpec("LaserCalibration", "LaserCalibration", "VL", "V", "P", "µW", False, series, (), (), (), (),
                    pl.DataFrame())
    dark = palette_for({"surface": "#1e1e1e", "foreground": "#e0e0e0"})
    assert str(legend(spec, dark)).splitlines() == ["━━ λ=365 nm", "━━ λ=455 nm", "━━ λ=850 nm"]
    color = colouring(spec, dark).color_of
    assert [color(s) for s in series[:3]] == [dark.series[1], dark.series[0], dark.series[2]]
    assert [color(s) for s in series] == [color(s) for s in series[:3]] * 4


def test_trend_series_past_the_palette_each_take_a_colour_of_their_own():
    """A trend of 12 wavelengths gave the 11th and 12th the 1st's and 2nd's colour; within 10, the palette's."""
    def trend(count: int) -> PlotSpec:
        series = tuple(Series(f"{350 + 25 * n} nm", np.arange(2.0), np.arange(2.0) * n, "", None, run_index=n)
                       for n in range(count))
        return PlotSpec("trend-photoresponse", "t", "P", "µW", "ΔI", "nA", False, series, (), (), (), (),
                        pl.DataFrame(), points=True)

    dark = palette_for({"surface": "#1e1e1e", "foreground": "#e0e0e0"})
    many = trend(12)
    colors = [colouring(many, dark).color_of(s) for s in many.series]
    assert len(set(colors)) == 12 and colors[0] == dark.along(0.0) and colors[-1] == dark.along(1.0)
    assert [span.style for span in legend(many, dark).spans] == [f"rgb({r},{g},{b})" for r, g, b in colors]
    few = trend(10)
    assert [colouring(few, dark).color_of(s) for s in few.series] == list(dark.series)


# -- helpers of the screen --------------------------------------------------------------------------------------
def test_plot_rows_number_runs_as_the_chip_history_does(lab):
    manifest = read_manifest(lab.config.manifest_path)
    rows = plot_rows(manifest, lab.ids("ivg_lit", "it_aborted", "cal_365"), TZ)
    assert rows["run_id"].to_list() == lab.ids("it_aborted", "ivg_lit", "cal_365")  # history order
    chip = history(manifest, 67, "Alisson", tz=TZ)
    expected = dict(zip(chip["run_id"].to_list(), chip["seq"].to_list(), strict=False))
    assert rows["seq"].to_list()[:2] == [expected[run_id] for run_id in lab.ids("it_aborted", "ivg_lit")] == [4, 6]
    assert rows["seq"][2] == 2 and "date_local" in rows.columns  # second calibration; Parquet paths need the date


@pytest.mark.parametrize(
    ("kind", "options", "suffix"),
    [
        ("It", PlotOptions(baseline=Baseline.RAW), ".csv"),
        ("It", PlotOptions(baseline=Baseline.FIXED, baseline_time_s=30.5), "_dI-t30.5s.csv"),
        ("It", PlotOptions(log_y=True), "_dI-auto_log.csv"),
        ("IVg", PlotOptions(log_y=True), "_log.csv"),
        ("IVg", PlotOptions(gm=True, gm_method=GmMethod.GRADIENT), "_gm_gradient.csv"),
        ("LaserCalibration", PlotOptions(log_y=True), ".csv"),
    ],
)
def test_export_names_say_which_view(kind, options, suffix):
    assert file_suffix(kind, options, ".csv") == suffix


def _contrast(a: tuple[int, int, int], b: tuple[int, int, int]) -> float:
    """WCAG 2 contrast ratio."""

    def luminance(rgb: tuple[int, int, int]) -> float:
        linear = [(c / 12.92) if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in (v / 255 for v in rgb)]
        return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]

    high, low = sorted((luminance(a), luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


@pytest.mark.parametrize("name", [name for name in BUILTIN_THEMES if not name.startswith("ansi")])
def test_colours_read_on_every_theme(name):
    variables = BUILTIN_THEMES[name].to_color_system().generate()
    palette = palette_for(variables)
    canvas = Color.parse(variables["surface"]).rgb
    assert min(_contrast(color, canvas) for color in (*palette.series, palette.marker)) >= 3.0
    assert _contrast(palette.span, canvas) >= 1.5  # laser edges are visible but quieter than the data


# -- snapshots --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("runs", "keys"),
    [
        (("it_1v", "it_2v", "it_dark", "it_aborted"), ()),
        (("ivg_dark", "ivg_lit"), ()),
        (("ivg_dark", "ivg_lit"), ("g",)),
        (("iv",), ()),
        (("cal_455", "cal_365"), ()),
    ],
    ids=["It", "IVg", "IVg-gm", "IV", "LaserCalibration"],
)
async def test_snapshot(lab, runs, keys, snapshot):
    app = Host(lab.config, lab.ids(*runs))
    async with app.run_test(size=(120, 40)) as pilot:
        await open_plot(pilot)
        await pilot.press(*keys)
        await settle(pilot)  # a key's redraw may wait on a worker: one pause read the screen before it, under load
        assert app.export_screenshot() == snapshot(extension_class=SVGImageSnapshotExtension)


# -- property: any column the store can hold is drawn or said, never a crash ------------------------------------
HOSTILE_FLOATS = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0.0, -0.0, 5e-324, 1e-320, 1e100, -1e100, 1e101, 1e308, -1e308, 1.7976931348623157e308]),
    st.floats(-10.0, 10.0),
)


@settings(derandomize=True, database=None, deadline=None, max_examples=120,
          suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(["IVg", "It", "LaserCalibration"]), st.lists(st.tuples(HOSTILE_FLOATS, HOSTILE_FLOATS,
                                                                             HOSTILE_FLOATS), min_size=0, max_size=40),
       st.sampled_from([PlotOptions(), PlotOptions(log_y=True), PlotOptions(gm=True), PlotOptions(baseline="raw"),
                        PlotOptions(baseline="fixed", baseline_time_s=1.0)]))
def test_hostile_columns_are_drawn_or_said_never_a_crash(proc, rows, options):
    """Values near the limits of a float (1e308, 5e-324), NaN, inf, repeats and any order: shaped, drawn by plotext
    and numbers formatted without an exception or a NumPy warning (the app crashed on several)."""
    from labtui.core.plotdata import KINDS, LoadedGroup
    from labtui.core.plotdata.load import drawable_rows

    kind = KINDS[proc]
    names = [kind.x, kind.y, *kind.extra]
    frame = pl.DataFrame({name: [row[k] for row in rows] for k, name in enumerate(names)}, schema=dict.fromkeys(names,
                                                                                                             pl.Float64))
    kept, _ = drawable_rows(frame, kind.x, kind.y)
    runs = pl.DataFrame({"run_id": ["a"], "seq": [1], "chip_name": "Alisson67", "has_light": True,
                         "laser_voltage_v": 1.0, "is_complete": True})
    columns = ({name: kept[name].to_numpy() for name in names},) if kept.height else ()
    group = LoadedGroup(proc, runs if columns else runs.clear(), columns, (), kind=kind)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        spec = shape(group, options, 60)
        plt = Plot()
        plt.plotsize(60, 16)
        draw_spec(plt, spec, palette_for({"surface": "#1e1e1e", "foreground": "#e0e0e0"}), 60)
        plt.build()


async def test_a_legend_longer_than_the_plot_says_how_much_is_out_of_sight() -> None:
    """At 80×24 a trend's legend of 24 series showed 16 of them, and nothing said there were more."""

    class Legend(App):
        CSS = "LegendBox { height: 8; }"

        def compose(self):
            yield LegendBox()

    app = Legend()
    async with app.run_test(size=(40, 12)) as pilot:
        box = app.query_one(LegendBox)
        more = box.query_one("#legend-more", Static)
        box.show(Content("\n").join(Content(f"series {n}") for n in range(3)))
        await settle(pilot)
        assert not more.display  # it all fits: no line about it
        box.show(Content("\n").join(Content(f"series {n}") for n in range(20)))
        await settle(pilot)
        assert more.display and str(more.render()) == "↓ 13 more lines (pgdn)"  # 7 in sight, the 8th says so
        box.query_one(VerticalScroll).scroll_to(y=5, animate=False)
        await settle(pilot)
        assert str(more.render()) == "↓ 8 more lines (pgdn)"
        box.page(1)  # the plot's and the trends' pgdn: the mouse alone scrolled it, which the line said
        await settle(pilot)
        assert str(more.render()) == "↓ 1 more line (pgdn)"  # a page on: from line 5 of 20 to 12, 7 in sight
        box.page(1)
        await settle(pilot)
        assert str(more.render()) == "↑ pgup for the rest"
        for _ in range(2):
            box.page(-1)
            await settle(pilot)
        assert box.query_one(VerticalScroll).scroll_y == 0
