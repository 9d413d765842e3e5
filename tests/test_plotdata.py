"""Known-answer tests for the headless plot data preparation (real small Parquet files, no mocks)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import io
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from labtui.core.config import MetricsSettings, default_registry_path
from labtui.core.follow import FollowedRun
from labtui.core.layout import run_parquet_path
from labtui.core.metrics.it import it_quantities
from labtui.core.metrics.ivg import ivg_quantities
from labtui.core.plotdata import (
    Baseline,
    GmMethod,
    PlotOptions,
    build_plots,
    export_file_name,
    export_frame,
    format_si,
    group_by_proc,
    load_selection,
    log_drawable,
    minmax_downsample,
    savgol_derivative,
    shape,
    si_scale,
    sweep_legs,
)
from labtui.core.plotdata.live import live_group
from labtui.core.plotdata.numeric import laser_windows, log_ticks, merge_spans, nice_ticks
from labtui.core.plotdata.view import controls, default_options, file_suffix, runs_text, view_parts
from labtui.core.registry import load_registry
from labtui.core.si import format_si_each
from tests.lab import COLUMNS, SANTIAGO, Lab, data_rows, raw_csv, sweep

DAY = dt.date(2025, 10, 13)


def run_row(n: int, proc: str, **fields) -> dict:
    """A manifest row with the columns the plots read; `fields` override the defaults."""
    return {
        "run_id": f"{n:016x}",
        "proc": proc,
        "date_local": DAY,
        "chip_name": "Alisson67",
        "file_idx": n,
        "seq": n,
        "has_light": True,
        "laser_voltage_v": 1.15,
        "laser_wavelength_nm": 455.0,
        "laser_period_s": 120.0,
        "vg_fixed_v": -0.4,
        "is_complete": True,
        **fields,
    }


def calibration_row(n: int) -> dict:
    """LaserCalibration runs belong to the setup: no chip, no seq, no laser voltage or gate of their own."""
    return run_row(
        n, "LaserCalibration", seq=None, chip_name=None, laser_voltage_v=None, vg_fixed_v=None, has_light=None
    )


def manifest(rows: list[dict]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema_overrides={"seq": pl.Int64, "file_idx": pl.Int64})


def stage(stage_root: Path, row: dict, data: dict[str, np.ndarray]) -> dict:
    path = run_parquet_path(stage_root, row["proc"], row["date_local"], row["run_id"])
    path.parent.mkdir(parents=True, exist_ok=True)
    pl.DataFrame({k: np.asarray(v, dtype=float) for k, v in data.items()}).write_parquet(path)
    return row


def step_run(
    t_on: float = 60.0, t_off: float = 120.0, duration: float = 180.0, dt_s: float = 0.1, light: bool = True
) -> dict[str, np.ndarray]:
    """It with known levels: 10 µA until 30 s, 12 µA until the laser edge, +5 µA while ON, back to 12 µA."""
    t = np.arange(0.0, duration + dt_s / 2, dt_s)
    on = (t >= t_on) & (t < t_off)
    i = np.where(t < 30.0, 10e-6, 12e-6) + np.where(on, 5e-6, 0.0)
    vl = np.where(on & light, 1.15, 0.0)
    return {"t_s": t, "i_a": i, "vl_v": vl, "plate_t_degc": np.full(t.size, np.nan)}


def ivg_sweep(limit: float = 5.0, step: float = 0.05) -> np.ndarray:
    """0 → −limit → +limit → −limit → 0 by accumulated steps, float drift included as in the real files."""
    n = round(limit / step)
    return np.cumsum(np.r_[0.0, np.repeat([-step, step, -step, step], [n, 2 * n, 2 * n, n])])


def only(specs):
    assert len(specs) == 1
    return specs[0]


# --- SI prefixes ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "factor", "prefix"),
    [
        (2.5, 1.0, ""),
        (4800.0, 1.0, ""),  # no kilo-seconds
        (1e-3, 1e3, "m"),
        (999e-6, 1e6, "µ"),
        (1.5e-5, 1e6, "µ"),
        (3.2e-9, 1e9, "n"),
        (4e-12, 1e12, "p"),
        (1e-16, 1e12, "p"),  # clamped at pico
        (0.0, 1.0, ""),
        (float("nan"), 1.0, ""),
    ],
)
def test_si_scale_picks_engineering_prefix(value, factor, prefix):
    got_factor, got_prefix = si_scale(value)
    assert got_prefix == prefix
    assert got_factor == pytest.approx(factor)


def test_format_si_uses_its_own_prefix():
    assert format_si(1.23e-5, "A") == "12.3 µA"
    assert format_si(-0.35, "V") == "-350 mV"
    assert format_si(0.99999999, "V") == "1 V"
    assert format_si(-0.0, "A") == "0 A"  # a metric computed as -0.0 (a difference of equal means)
    values = np.array([1.23e-5, -0.35, 0.0, 999.6e-9, 1e-14, 2.0, float("nan")])
    assert format_si_each(values, "A") == ["12.3 µA", "-350 mA", "0 A", "1 µA", "0.01 pA", "2 A", "nan A"]


@pytest.mark.filterwarnings("error")
def test_format_si_shows_the_extremes_of_a_float_as_they_are():
    """A subnormal current (its rounding step underflows to 0) crashed the Dirac marker's text and the metrics
    table's column with `int(nan)`; the largest float rounded past itself to inf."""
    assert format_si_each(np.array([5e-324, -1e-320, 1.7976931348623157e308]), "A") == [
        "4.94e-312 pA", "-1e-308 pA", "1.8e+308 A"]
    # rounded once, from the exact value (twice, 0.009265 A read 9.26 mA and 0.001005 A 1 mA)
    assert format_si_each([0.009265, 0.001005, 9.9999e-4, 0.99999], "A") == ["9.27 mA", "1.01 mA", "1 mA", "1 A"]


# --- downsampling -----------------------------------------------------------------------------------------


def test_downsampling_keeps_extremes_and_the_step():
    rng = np.random.default_rng(0)
    n, width, t_step = 85_000, 200, 3_000.0
    t = np.linspace(0.0, 7_200.0, n)
    y = 1e-5 + 1e-8 * rng.standard_normal(n) + np.where(t >= t_step, 2e-7, 0.0)
    y[12_345], y[70_001] = 5e-5, -3e-5  # one-sample spikes
    xs, ys = minmax_downsample(t, y, width)
    assert xs.size <= 2 * width
    assert np.all(np.diff(xs) > 0)
    assert ys.max() == y.max() and ys.min() == y.min()
    bucket = t[-1] * np.ceil(n / width) / n
    clean = ys.copy()
    clean[(ys == y.max()) | (ys == y.min())] = np.median(ys)  # the step is the biggest jump besides the spikes
    jump = np.argmax(np.abs(np.diff(clean)))
    assert abs(xs[jump + 1] - t_step) <= bucket


def test_downsampling_leaves_short_series_alone():
    x = np.arange(10.0)
    xs, ys = minmax_downsample(x, x**2, 5)
    assert np.array_equal(xs, x) and np.array_equal(ys, x**2)


# --- sweep legs and log safety --------------------------------------------------------------------------


def test_full_sweep_splits_into_four_legs():
    vg = ivg_sweep()
    assert vg.size == 601
    legs = sweep_legs(vg)
    assert [leg.direction for leg in legs] == [-1, 1, -1, 1]
    ends = [(round(vg[leg.start], 6), round(vg[leg.stop - 1], 6)) for leg in legs]
    assert ends == [(0, -5), (-5, 5), (5, -5), (-5, 0)]
    assert legs[-1].stop == vg.size


def test_repeated_points_do_not_open_legs():
    vg = np.array([0, 0, -1, -2, -2, -2, -1, 0, 1, 1, 2, 2, 1, 0], dtype=float)
    assert [leg.direction for leg in sweep_legs(vg)] == [-1, 1, -1]


def test_aborted_sweep_gives_fewer_legs():
    vg = ivg_sweep()[:151]  # stopped on the way back up from −5 V
    legs = sweep_legs(vg)
    assert [leg.direction for leg in legs] == [-1, 1]
    assert legs[-1].stop == 151
    assert sweep_legs(np.array([0.0])) == [(0, 1, 0)]


def test_a_log_axis_draws_the_finite_nonzero_points_and_says_the_zeros_it_leaves_out(tmp_path: Path) -> None:
    """Four readings of 0 A at a sweep's −5 V were lifted to the leg's smallest |I| on a log axis: a second Dirac
    point drawn at −5 V, and exported by `--points` as values nobody measured."""
    y = np.array([1e-6, 0.0, -2e-6, np.nan, np.inf, -np.inf, 3e-9])
    assert log_drawable(y).tolist() == [0, 2, 6]
    lab = Lab(tmp_path)
    vg = np.array(sweep(-2, 2, 0.1, "loop"))
    current = 1e-6 * (1 + (vg - 0.2) ** 2)
    current[20:24] = 0.0  # −2 V, at the turn: 4 readings of 0 A
    lab.write("2025-10-14/IVg2025-10-14_1.csv", raw_csv("IVg", rows=data_rows(zip(vg, current, strict=True),
                                                                              len(COLUMNS["IVg"]))))
    lab.stage()
    spec = build_plots(lab.manifest(), lab.stage_root, PlotOptions(log_y=True))[0]
    drawn = np.concatenate([s.y for s in spec.series])
    assert (drawn > 0).all() and spec.y_unit == "µA" and float(drawn.min()) == pytest.approx(1.0)  # at 0.2 V
    assert spec.messages == ("readings of I = 0 left out: a log axis has no 0",)


# --- transconductance ----------------------------------------------------------------------------------


@pytest.mark.parametrize("method", list(GmMethod))
def test_linear_ivg_has_constant_gm(tmp_path, method):
    a, b = 2.5e-6, 4e-5
    vg = ivg_sweep()
    row = stage(tmp_path, run_row(1, "IVg"), {"vg_v": vg, "i_a": a * vg + b})
    spec = only(build_plots(manifest([row]), tmp_path, PlotOptions(gm=True, gm_method=method)))
    assert (spec.y_label, spec.y_unit) == ("gm", "µS")
    assert len(spec.series) == 4
    for s in spec.series:
        assert np.allclose(s.y, 2.5, rtol=1e-9)


def test_savgol_is_exact_on_a_quadratic_with_uneven_spacing():
    x = np.cumsum(np.r_[0.0, np.linspace(0.03, 0.07, 40)])
    y = 3 * x**2 - 2 * x + 1
    assert np.allclose(savgol_derivative(x, y, 11, 2), 6 * x - 2)  # edges included


@pytest.mark.parametrize("x", [np.linspace(-2.0, 3.0, 41), np.linspace(3.0, -2.0, 41)], ids=["rising", "falling"])
def test_savgol_on_an_even_grid_is_exact_at_the_edges_too(x):
    from labtui.core.metrics.savgol import _local_fits

    """An even grid takes the fixed-weights path (interior and both edges): a cubic is exact with polyorder 3."""
    y = x**3 - 2 * x
    assert np.allclose(savgol_derivative(x, y, 11, 3), 3 * x**2 - 2)
    quartic = y + 0.5 * x**4  # not exact for polyorder 2: the fixed weights must equal a fit at each point
    assert np.allclose(savgol_derivative(x, quartic, 7, 2), _local_fits(x, quartic, 7, 2, np.arange(x.size)))


def test_savgol_smooths_noise_that_gradient_passes_through():
    rng = np.random.default_rng(1)
    x = np.arange(0.0, 5.0, 0.05)
    y = 2.0 * x + 0.01 * rng.standard_normal(x.size)
    assert np.std(savgol_derivative(x, y, 11, 2) - 2.0) < 0.3 * np.std(np.gradient(y, x) - 2.0)


@pytest.mark.parametrize("n", [2, 3, 5, 10])
def test_savgol_handles_legs_shorter_than_the_window(n):
    x = np.linspace(-1.0, 1.0, n)
    assert np.allclose(savgol_derivative(x, 4.0 * x, 11, 2), 4.0)


def test_the_figures_csv_neutralises_a_formula_as_every_csv_does(tmp_path):
    """The app's `e` wrote its CSV's text as it was: a label of `=HYPERLINK(…)` ran in the spreadsheet."""
    from labtui.core.plotdata.figure import write_figure_set

    row = stage(tmp_path, run_row(1, "IVg"), {"vg_v": np.array([0.0, 0.5, 1.0]), "i_a": np.array([1e-6, 2e-6, 3e-6])})
    spec = only(build_plots(manifest([row]), tmp_path, PlotOptions()))
    spec = dataclasses.replace(spec, series=(dataclasses.replace(spec.series[0], label="=HYPERLINK(1)"),))
    paths = [tmp_path / f"figure.{ext}" for ext in ("pdf", "png", "csv")]
    write_figure_set(spec, paths)
    exported = pl.read_csv(paths[2])
    assert exported["label"].unique().to_list() == ["'=HYPERLINK(1)"] and exported["y"].dtype == pl.Float64


def test_the_apps_export_writes_its_figure_points_and_record_as_one_set(tmp_path):
    """The app's `e` wrote the figure, its points and its record one by one: a record that could not be written
    left the new figure beside the last export's record, which `labtui plot --from` then redrew as another."""
    from labtui.core.errors import OperationFailed
    from labtui.core.plotdata.figure import write_figure_set

    row = stage(tmp_path, run_row(1, "IVg"), {"vg_v": np.array([0.0, 0.5, 1.0]), "i_a": np.array([1e-6, 2e-6, 3e-6])})
    spec = only(build_plots(manifest([row]), tmp_path, PlotOptions()))
    out = tmp_path / "exports"
    paths = [out / f"figure.{ext}" for ext in ("pdf", "png", "csv")]
    record = out / "figure.pdf.json"
    record.mkdir(parents=True)  # a folder in its place
    with pytest.raises(OperationFailed, match=f"^cannot write the figure record {record}: a folder has its name"):
        write_figure_set(spec, paths, record=(record, b"{}"))
    assert [path.name for path in out.iterdir()] == [record.name]
    record.rmdir()
    write_figure_set(spec, paths, record=(record, b"{}"))
    assert sorted(path.name for path in out.iterdir()) == ["figure.csv", "figure.pdf", "figure.pdf.json", "figure.png"]


def test_gm_collapses_repeated_vg_and_drops_one_point_legs(tmp_path):
    vg = np.array([0.0, 0.5, 0.5, 1.0, 1.5, 1.5])
    row = stage(tmp_path, run_row(1, "IVg"), {"vg_v": vg, "i_a": 3e-6 * (vg + 1)})  # 0 A first: a dropout
    spec = only(build_plots(manifest([row]), tmp_path, PlotOptions(gm=True, gm_method=GmMethod.GRADIENT)))
    assert np.array_equal(spec.series[0].x, [0.0, 0.5, 1.0, 1.5])
    assert np.allclose(spec.series[0].y, 3.0)
    flat = stage(tmp_path, run_row(2, "IVg"), {"vg_v": [1.0, 1.0], "i_a": [1e-6, 2e-6]})
    assert only(build_plots(manifest([flat]), tmp_path, PlotOptions(gm=True))).series == ()


# --- IVg shaping ---------------------------------------------------------------------------------------


def test_ivg_legs_and_dirac_points(tmp_path):
    vg = ivg_sweep()
    i = 1e-7 + 2e-6 * np.abs(vg - 1.0)  # Dirac point at Vg = +1 V
    row = stage(tmp_path, run_row(1, "IVg", vg_fixed_v=None), {"vg_v": vg, "i_a": i})
    spec = only(build_plots(manifest([row]), tmp_path, PlotOptions()))
    assert [s.direction for s in spec.series] == [-1, 1, -1, 1]
    # The four legs of 0 → −5 → +5 → −5 → 0 are named by where they go: two "seq 1 bwd" would not read apart.
    assert [s.label for s in spec.series] == ["seq 1 0→-5 V", "seq 1 -5→5 V", "seq 1 5→-5 V", "seq 1 -5→0 V"]
    # The 0 → −5 V and −5 → 0 V legs never reach +1 V: their minimum is an end point, not a Dirac point.
    assert [m.x for m in spec.markers] == pytest.approx([1.0, 1.0])
    assert spec.markers[0].y == pytest.approx(0.1)  # µA
    assert "Dirac Vg=1 V, I=100 nA" in spec.markers[0].text


def test_a_sweep_leg_s_line_stops_across_rows_without_a_reading(tmp_path):
    """NaN currents over −0.6…0.6 V of the up-sweep: the leg was drawn as a straight chord where the V's bottom was
    (the table said there was no Dirac point, beside the gap). The line stops there; the other legs are whole."""
    vg = ivg_sweep()
    i = 1e-5 + 2e-6 * np.abs(vg - 0.1)
    rising = np.concatenate([[False], np.diff(vg) > 0])
    i = np.where(rising & (np.abs(vg) < 0.6) & (np.arange(vg.size) < vg.size // 2), np.nan, i)
    row = stage(tmp_path, run_row(1, "IVg", vg_fixed_v=None), {"vg_v": vg, "i_a": i})
    for width in (None, 60):  # 60 columns: the leg thinned to 120 points, its break with it (it stayed at 88)
        spec = only(build_plots(manifest([row]), tmp_path, PlotOptions(), width=width))
        up = spec.series[1]
        assert up.label == "seq 1 -5→5 V" and len(up.breaks) == 1
        assert up.x[up.breaks[0] - 1] < -0.55 and up.x[up.breaks[0]] > 0.55  # the gap's two sides
        assert [s.breaks for s in spec.series if s is not up] == [(), (), ()]


@pytest.mark.parametrize("log_y", [False, True])
def test_no_dirac_marker_past_a_breakdown_as_in_the_metrics(tmp_path, log_y):
    """The plot marks what the table gives: the forward leg's Dirac point before the collapse, none after."""
    vg = ivg_sweep()
    i = 1e-5 + 2e-6 * np.abs(vg - 0.3)
    i = np.where(np.arange(vg.size) >= np.flatnonzero(np.isclose(vg, 3.0))[0], i / 10 * (1.2 + np.sin(3 * vg)), i)
    row = stage(tmp_path, run_row(1, "IVg", vg_fixed_v=None), {"vg_v": vg, "i_a": i})
    spec = only(build_plots(manifest([row]), tmp_path, PlotOptions(log_y=log_y)))
    values, _ = ivg_quantities(vg, i, 0.1, MetricsSettings())
    assert [m.x for m in spec.markers] == pytest.approx([values["cnp_fwd_v"]], abs=1e-6)
    assert values["cnp_bwd_v"] is None  # the backward leg lies past the breakdown: no value, no marker


@pytest.mark.parametrize(("current", "settings"), [
    # a Dirac point at −2.5 V lies inside the 0 → −5 V and −5 → 0 V legs too: four markers, the table has two
    (lambda vg: 1e-5 + 2e-6 * np.abs(vg + 2.5), MetricsSettings()),
    # a dead channel (the real Alisson71 of 12 September): no Dirac point in the table, seven markers on its plot
    (lambda vg: 1e-8 * (1 + 0.05 * np.sin(7 * vg) ** 2 + 0.1 * np.abs(vg + 1.3)), MetricsSettings()),
    # the config's windows: a minimum 1 V from the sweep's end is outside the sweep for a 1.5 V margin
    (lambda vg: 1e-5 + 2e-6 * np.abs(vg - 4.0), MetricsSettings(cnp_edge_margin_v=1.5, cnp_fit_window_v=1.0)),
])
def test_dirac_markers_are_the_tables_dirac_points(tmp_path, current, settings):
    """The README's promise: the plots mark the Dirac points of the table (`cnp_fwd_v`, `cnp_bwd_v`), no other. The
    plot marked a minimum on every leg, also on a dead channel's sweep, with the default windows: on the real data
    262 markers the table does not have."""
    vg = ivg_sweep()
    i = current(vg)
    row = stage(tmp_path, run_row(1, "IVg", vg_fixed_v=None, vds_v=0.1), {"vg_v": vg, "i_a": i})
    (group,) = load_selection(manifest([row]), tmp_path)
    values, _ = ivg_quantities(vg, i, 0.1, settings)
    table = sorted(v for v in (values["cnp_fwd_v"], values["cnp_bwd_v"]) if v is not None)
    for log_y in (False, True):
        spec = shape(group, PlotOptions(log_y=log_y), None, settings)
        assert sorted(m.x for m in spec.markers) == pytest.approx(table, abs=1e-6)


def test_the_gm_plot_peaks_at_the_tables_gm_max_whatever_the_step(tmp_path):
    """The plot's Savitzky–Golay window was 11 points whatever the step: 0.5 V at 0.05 V, but 2.2 V at the 0.2 V
    steps of some real sweeps, whose gm peak it smoothed to a third below the table's `gm_max_*`. Its default is now
    the metrics' window in volts."""
    vg = ivg_sweep(step=0.2)
    i = 1e-6 * (1.2 - np.exp(-((vg - 1.0) ** 2)))  # gm peaks ±0.86 µS at 0.71 V each side of the CNP at 1 V
    row = stage(tmp_path, run_row(1, "IVg", vg_fixed_v=None, vds_v=0.1), {"vg_v": vg, "i_a": i})
    (group,) = load_selection(manifest([row]), tmp_path)
    values, _ = ivg_quantities(vg, i, 0.1, MetricsSettings())
    table = max(values["gm_max_hole_s"], values["gm_max_electron_s"])

    def peak(options: PlotOptions) -> float:
        spec = shape(group, options, None, MetricsSettings())
        assert spec.y_unit == "nS"
        return 1e-9 * max(float(np.abs(s.y).max()) for s in spec.series)

    assert peak(PlotOptions(gm=True)) == pytest.approx(table, rel=0.01)
    assert peak(PlotOptions(gm=True, sg_window=11)) < 0.8 * table  # an older figure's record keeps its 11 points


@pytest.mark.parametrize("sign", [1.0, -1.0])
def test_dirac_at_zero_gate_reads_zero_despite_float_drift(tmp_path, sign):
    vg = sign * ivg_sweep()
    row = stage(tmp_path, run_row(1, "IVg"), {"vg_v": vg, "i_a": 1e-7 + 2e-6 * np.abs(vg)})
    spec = only(build_plots(manifest([row]), tmp_path, PlotOptions()))
    assert [m.x for m in spec.markers] == [0.0, 0.0]
    assert all("Dirac Vg=0 V," in m.text for m in spec.markers)


def test_points_beyond_the_drawable_range_are_left_out_and_said(tmp_path):
    """A writer's sentinel (1e308 A) or a meter's overflow mark (9.9e37) is no measurement: an axis spanning it
    overflowed plotext and matplotlib (the app crashed on it). The points under ±1e30 are all drawn."""
    vg = ivg_sweep()
    i = 2e-6 * (vg - 1.0)
    i[[5, 50]] = [1e308, -9.9e37]
    i[60] = np.nextafter(1e30, 0)
    row = stage(tmp_path, run_row(1, "IVg"), {"vg_v": vg, "i_a": i})
    (group,) = load_selection(manifest([row]), tmp_path)
    assert group.columns[0]["i_a"].size == vg.size - 2 and float(group.columns[0]["i_a"].max()) == i[60]
    assert "seq 1: 2 points of ±1e+30 or more (overflow marks) left out" in shape(group, PlotOptions(), 50).messages


def test_log_ivg_is_positive_even_with_zero_current(tmp_path):
    vg = ivg_sweep()
    i = 2e-6 * (vg - 1.0)  # crosses zero exactly at the Dirac point
    row = stage(tmp_path, run_row(1, "IVg"), {"vg_v": vg, "i_a": i})
    spec = only(build_plots(manifest([row]), tmp_path, PlotOptions(log_y=True), width=50))
    assert spec.log_y and spec.y_label == "|I|"
    ys = np.concatenate([s.y for s in spec.series] + [np.array([m.y for m in spec.markers])])
    assert np.all(np.isfinite(ys)) and np.all(ys > 0)


def test_a_log_axis_takes_its_prefix_from_the_middle_of_its_decades(tmp_path):
    """|I| from 0.1 nA to 1 µA: ticks 0.1 … 1000 nA, not the 0.0001 … 1 µA its maximum's prefix gives."""
    vg = ivg_sweep()
    i = 1e-10 * 10.0 ** (4 * (vg - vg.min()) / np.ptp(vg))
    row = stage(tmp_path, run_row(1, "IVg"), {"vg_v": vg, "i_a": i})
    spec = only(build_plots(manifest([row]), tmp_path, PlotOptions(log_y=True)))
    assert spec.y_unit == "nA" and spec.y_title == "|I| (nA)"
    ys = np.concatenate([s.y for s in spec.series])
    assert ys.min() == pytest.approx(0.1) and ys.max() == pytest.approx(1000.0)
    assert log_ticks(ys.min(), ys.max(), 7)[1] == ["0.1", "1", "10", "100", "1000"]
    linear = only(build_plots(manifest([row]), tmp_path, PlotOptions()))
    assert linear.y_unit == "µA" and max(s.y.max() for s in linear.series) == pytest.approx(1.0)  # by its maximum


def test_log_scale_is_refused_for_gm(tmp_path):
    vg = ivg_sweep()
    row = stage(tmp_path, run_row(1, "IVg"), {"vg_v": vg, "i_a": 1e-6 * vg})
    spec = only(build_plots(manifest([row]), tmp_path, PlotOptions(gm=True, log_y=True)))
    assert not spec.log_y
    assert any("log scale" in m for m in spec.messages)


# --- It shaping ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "y_label", "on_value_uA"),
    [
        (PlotOptions(baseline=Baseline.RAW), "I", 17.0),
        (PlotOptions(baseline=Baseline.FIRST), "I − I(first point)", 7.0),
        (PlotOptions(baseline=Baseline.FIXED, baseline_time_s=45.0), "I − I(45 s)", 5.0),
        (PlotOptions(baseline=Baseline.AUTO), "I − I_dark", 5.0),
    ],
)
def test_step_response_under_each_baseline(tmp_path, options, y_label, on_value_uA):
    row = stage(tmp_path, run_row(1, "It"), step_run())
    spec = only(build_plots(manifest([row]), tmp_path, options))
    assert (spec.y_label, spec.y_unit, spec.x_unit) == (y_label, "µA", "s")
    s = spec.series[0]
    assert s.y[np.searchsorted(s.x, 90.0)] == pytest.approx(on_value_uA)
    assert np.allclose(spec.spans, [(60.0, 120.0)])
    assert spec.messages == ()


def test_auto_baseline_is_the_tables_dark_current_so_the_plotted_delta_i_is_the_tables(tmp_path):
    """The plot subtracted the one sample before switch-on, the table the mean over the 5 s before it: on the real
    runs the two differed by a median 5 % of ΔI (up to 9 ΔI on a small response). A noisy run: the plotted ΔI
    averaged over the table's lit window is the table's delta_i_a."""
    data = step_run()
    t, vl = data["t_s"], data["vl_v"]
    noise = np.random.default_rng(7).normal(0.0, 5e-9, t.size)
    k_on = int(np.argmax(vl >= 0.1))
    noise[k_on - 1] = 2e-7  # the sample just before switch-on, 40 σ off its neighbours
    data["i_a"] = data["i_a"] + noise
    row = stage(tmp_path, run_row(1, "It"), data)
    spec = only(build_plots(manifest([row]), tmp_path, PlotOptions(baseline=Baseline.AUTO)))
    settings = MetricsSettings()
    values, _ = it_quantities(t, data["i_a"], vl, 0.1, settings)
    s = spec.series[0]
    lit = (s.x >= 120.0 - settings.it_window_s) & (s.x < 120.0)
    assert s.y[lit].mean() * 1e-6 == pytest.approx(values["delta_i_a"], rel=1e-9)
    assert s.y[s.x < 60.0][-1] * 1e-6 == pytest.approx(data["i_a"][k_on - 1] - values["i_dark_a"], rel=1e-9)


def test_laser_windows_from_vl_and_their_union():
    t = np.arange(30.0)
    vl = np.repeat([1.0, 1.0, 0.0, np.nan, 2.0, 2.0, 0.0, 0.0, 3.0, 3.0], 3)  # ON at the start and at the end
    assert laser_windows(t, vl, 0.1, 5.0) == [(0.0, 6.0), (12.0, 18.0), (24.0, 29.0)]
    blank = np.repeat([np.nan, 0.0, 1.0, 1.0, np.nan, 1.0, 0.0, np.nan, 0.0, 0.0], 3)  # a VL not recorded while ON
    assert laser_windows(t, blank, 0.1, 5.0) == [(6.0, 18.0)]  # switches nothing, as in the metrics (`it_quantities`)
    flicker = np.repeat([0.0, 2.0, 2.0, 0.0], 10)  # on from 10 to 30
    flicker[[15, 21, 22]] = 0.0  # a misread VL of one sample, and of two, mid-pulse: no switch; nor one while off
    flicker[[29, 30, 35]] = [0.0, 2.0, 2.0]  # nor a flicker at the switch-off: it is where the off stretch starts
    assert laser_windows(np.arange(40.0), flicker, 0.1, 5.0) == [(10.0, 31.0)]
    # rows newest first: one window, forwards (a misread takes the state before it in the file's order)
    assert laser_windows(np.arange(40.0)[::-1], flicker[::-1], 0.1, 5.0) == [(9.0, 28.0)]
    assert merge_spans([(60.1, 120.1), (0.0, 1.0), (60.0, 120.0)]) == [(0.0, 1.0), (60.0, 120.1)]


def test_auto_baseline_uses_the_period_when_vl_shows_no_edge(tmp_path):
    # The laser edge is late (70 s) but VL is all 0 (dark): the period (ON from 60 s) is the only clue.
    row = stage(tmp_path, run_row(1, "It", has_light=False), step_run(t_on=70.0, light=False))
    spec = only(build_plots(manifest([row]), tmp_path, PlotOptions()))
    s = spec.series[0]
    assert s.y[np.searchsorted(s.x, 65.0)] == pytest.approx(0.0, abs=1e-9)
    assert s.y[np.searchsorted(s.x, 90.0)] == pytest.approx(5.0)
    assert spec.spans == ()


def test_auto_baseline_falls_back_to_first_point_with_a_message(tmp_path):
    row = stage(tmp_path, run_row(1, "It", laser_period_s=None), step_run(light=False))
    spec = only(build_plots(manifest([row]), tmp_path, PlotOptions()))
    assert spec.series[0].y[0] == 0.0
    assert spec.warnings == ("no laser edge and no period: baseline at the first point (seq 1)",)


def test_fixed_baseline_interpolates_and_notes_out_of_range_times(tmp_path):
    data = step_run()
    data["i_a"] = 1e-6 * data["t_s"]  # a ramp: I(t) = t µA
    row = stage(tmp_path, run_row(1, "It"), data)
    inside = only(build_plots(manifest([row]), tmp_path, PlotOptions(baseline="fixed", baseline_time_s=33.33)))
    assert inside.series[0].y[0] == pytest.approx(-33.33)
    outside = only(build_plots(manifest([row]), tmp_path, PlotOptions(baseline="fixed", baseline_time_s=500)))
    assert outside.series[0].y[-1] == pytest.approx(0.0)
    assert "outside the run" in outside.warnings[0] and not outside.messages


def test_a_baseline_that_falls_back_in_many_runs_is_one_warning_naming_a_few(tmp_path):
    """Its reason first: eighty runs named before it ran past the foot of the screen."""
    rows = [stage(tmp_path, run_row(seq, "It"), step_run()) for seq in (1, 2, 3)]
    spec = only(build_plots(manifest(rows), tmp_path, PlotOptions(baseline="fixed", baseline_time_s=500)))
    assert spec.warnings == ("baseline time 500 s is outside the run, used its nearest end (seq 1, seq 2, seq 3)",)
    rows += [stage(tmp_path, run_row(seq, "It"), step_run()) for seq in range(4, 9)]
    spec = only(build_plots(manifest(rows), tmp_path, PlotOptions(baseline="fixed", baseline_time_s=500)))
    assert spec.warnings == ("baseline time 500 s is outside the run, used its nearest end (seq 1, seq 2, seq 3 and "
                             "5 more)",) and not spec.messages


def test_it_overlay_warns_about_durations_and_light_dark_mix(tmp_path):
    rows = [
        stage(tmp_path, run_row(1, "It"), step_run()),
        stage(tmp_path, run_row(2, "It", laser_voltage_v=0.0, has_light=False), step_run(light=False)),
    ]
    spec = only(build_plots(manifest(rows), tmp_path, PlotOptions()))
    assert spec.warnings == ("the selection mixes light and dark runs",)
    rows.append(stage(tmp_path, run_row(3, "It", laser_voltage_v=2.0), step_run(duration=240.0)))
    spec = only(build_plots(manifest(rows), tmp_path, PlotOptions()))
    assert spec.warnings[0] == "durations differ by more than 10% (180–240 s)"
    rows[2] = stage(tmp_path, run_row(3, "It", laser_voltage_v=2.0), step_run(duration=240.0661))
    assert only(build_plots(manifest(rows), tmp_path, PlotOptions())).warnings[0].endswith("(180–240 s)")  # rounded
    assert [s.label for s in spec.series] == ["VL=1.15 V, λ=455 nm", "dark", "VL=2 V, λ=455 nm"]
    reversed_rows = {name: values[::-1] for name, values in step_run().items()}  # a file written backwards
    rows[2] = stage(tmp_path, run_row(3, "It", laser_voltage_v=2.0), reversed_rows)
    assert only(build_plots(manifest(rows), tmp_path, PlotOptions())).warnings == spec.warnings[1:]  # its span: 180 s
    longer = [rows[0], stage(tmp_path, run_row(4, "It"), step_run(duration=11.8)),
              stage(tmp_path, run_row(5, "It"), step_run(duration=6750.0, dt_s=1.0))]
    spec = only(build_plots(manifest(longer), tmp_path, PlotOptions()))
    assert spec.warnings[0] == "durations differ by more than 10% (12–6750 s)"  # as `dur s` says them, not 6.75e+03


def test_a_lone_run_written_newest_first_is_shaded_without_a_warning_of_other_runs(tmp_path):
    """Its rows in reverse gave each laser window backwards, and the plot of that one run warned that the "laser ON
    windows differ between runs"."""
    run = {name: values[::-1] for name, values in step_run().items()}
    spec = only(build_plots(manifest([stage(tmp_path, run_row(1, "It"), run)]), tmp_path, PlotOptions()))
    assert np.allclose(spec.spans, [(60.0, 120.0)], atol=0.11)
    assert not any("between runs" in warning for warning in spec.warnings), spec.warnings


def test_it_overlay_of_other_laser_windows_says_the_shading_is_their_union(tmp_path):
    """Chip 80's seq 8 and 10 (periods 240 and 360 s: ON 120–240 and 180–360 s) were shaded ON from 120 to 360 s
    without a word: seq 8's plateau after its laser went off read as a saturation under light."""
    rows = [stage(tmp_path, run_row(8, "It"), step_run(120.0, 240.0, 360.0)),
            stage(tmp_path, run_row(10, "It"), step_run(180.0, 360.0, 540.0))]
    spec = only(build_plots(manifest(rows), tmp_path, PlotOptions()))
    assert np.allclose(spec.spans, [(120.0, 360.0)])
    assert spec.warnings[-1] == ("laser ON windows differ between runs (seq 8: 120–240 s; seq 10: 180–360 s): the "
                                 "shading is their union")
    rows[1] = stage(tmp_path, run_row(10, "It"), step_run(120.0, 240.0, 360.0))
    assert not only(build_plots(manifest(rows), tmp_path, PlotOptions())).warnings  # one window: nothing to say
    rows[1] = stage(tmp_path, run_row(10, "It", is_complete=False), step_run(120.0, 240.0, 200.0))  # aborted while ON
    assert "laser ON windows" not in " ".join(only(build_plots(manifest(rows), tmp_path, PlotOptions())).warnings)


def test_laser_windows_warning_names_each_design_once_not_every_run(tmp_path):
    """48 of a chip's It runs (ON 60–120 s and 120–240 s) made the warning list all 48, one `seq n: 60–120 s`
    each: nine lines under an 80×24 plot. Runs of one window are said together, the first few by seq."""
    rows = [stage(tmp_path, run_row(n, "It"), step_run(60.0, 120.0, 180.0)) for n in range(1, 7)]
    rows += [stage(tmp_path, run_row(n, "It"), step_run(120.0, 240.0, 360.0)) for n in range(7, 9)]
    warning = only(build_plots(manifest(rows), tmp_path, PlotOptions())).warnings[-1]
    assert warning == ("laser ON windows differ between runs (seq 1, seq 2, seq 3 and 3 more: 60–120 s; "
                       "seq 7, seq 8: 120–240 s): the shading is their union")


def test_incomplete_runs_are_flagged_in_the_label(tmp_path):
    row = stage(tmp_path, run_row(4, "It", is_complete=False), step_run(duration=90.0))
    spec = only(build_plots(manifest([row]), tmp_path, PlotOptions()))
    assert spec.series[0].label == "seq 4 (incomplete)" and spec.series[0].incomplete
    assert np.allclose(spec.spans, [(60.0, 90.0)])  # aborted while ON: the window ends with the run


def test_resizing_reshapes_without_reading_parquet_again(tmp_path):
    row = stage(tmp_path, run_row(1, "It"), step_run(dt_s=0.01))
    (group,) = load_selection(manifest([row]), tmp_path)
    run_parquet_path(tmp_path, "It", DAY, row["run_id"]).unlink()
    wide, narrow = shape(group, PlotOptions(), 300), shape(group, PlotOptions(), 40)
    assert wide.series[0].x.size <= 600 and narrow.series[0].x.size <= 80
    assert narrow.series[0].y.max() == pytest.approx(5.0)
    assert shape(group, PlotOptions()).series[0].x.size == 18_001  # width None: full resolution


# --- labels, titles, grouping, failures ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "labels", "title"),
    [
        (
            [{"laser_voltage_v": 1.15}, {"laser_voltage_v": 2.5}],
            ["VL=1.15 V", "VL=2.5 V"],
            "Alisson67 · It · λ=455 nm · VG=-0.4 V",
        ),
        (
            [{"laser_wavelength_nm": 455.0}, {"laser_wavelength_nm": 365.0}],
            ["λ=455 nm", "λ=365 nm"],
            "Alisson67 · It · VL=1.15 V · VG=-0.4 V",
        ),
        (
            [{"vg_fixed_v": -0.4}, {"vg_fixed_v": 0.3}],
            ["VG=-0.4 V", "VG=0.3 V"],
            "Alisson67 · It · λ=455 nm · VL=1.15 V",
        ),
        ([{}, {}], ["seq 1", "seq 2"], "Alisson67 · It · λ=455 nm · VL=1.15 V · VG=-0.4 V"),
        (  # dark runs keep the last wavelength: it names nothing
            [{"laser_voltage_v": 0.0, "has_light": False}, {"laser_voltage_v": 0.0, "has_light": False}],
            ["seq 1", "seq 2"],
            "Alisson67 · It · dark · VG=-0.4 V",
        ),
        (  # a spectral series at other powers (chip 72's seq 16, 20): the legend names the wavelength too
            [{"laser_voltage_v": 4.53, "laser_wavelength_nm": 680.0}, {"laser_voltage_v": 2.31,
                                                                       "laser_wavelength_nm": 625.0}],
            ["VL=4.53 V, λ=680 nm", "VL=2.31 V, λ=625 nm"],
            "Alisson67 · It · VG=-0.4 V",
        ),
        (  # the gate differs too (chip 72's seq 59, 60, 64): VG is what sets the sign of the response
            [{"laser_voltage_v": 0.88, "laser_wavelength_nm": 365.0, "vg_fixed_v": -0.3},
             {"laser_voltage_v": 0.88, "laser_wavelength_nm": 365.0, "vg_fixed_v": 0.3},
             {"laser_voltage_v": 2.12, "laser_wavelength_nm": 385.0, "vg_fixed_v": -0.3}],
            ["VL=0.88 V, λ=365 nm, VG=-0.3 V", "VL=0.88 V, λ=365 nm, VG=0.3 V", "VL=2.12 V, λ=385 nm, VG=-0.3 V"],
            "Alisson67 · It",
        ),
        (  # a dark run has no wavelength to name
            [{"laser_voltage_v": 0.0, "has_light": False}, {"laser_voltage_v": 1.15, "laser_wavelength_nm": 365.0},
             {"laser_voltage_v": 1.15}],
            ["dark", "VL=1.15 V, λ=365 nm", "VL=1.15 V, λ=455 nm"],
            "Alisson67 · It · VG=-0.4 V",
        ),
        (  # lit runs beside a dark reference: their labels name their wavelength (the dark run's is stale)
            [{"laser_voltage_v": 0.0, "has_light": False, "laser_wavelength_nm": 850.0}, {"laser_voltage_v": 1.15}],
            ["dark", "VL=1.15 V, λ=455 nm"],
            "Alisson67 · It · VG=-0.4 V",
        ),
        (  # dark by its `Laser toggle` beside a lit run at the voltage left set: the legend says which is dark
            [{"laser_voltage_v": 1.15, "has_light": False}, {"laser_voltage_v": 1.15}],
            ["dark", "VL=1.15 V, λ=455 nm"],
            "Alisson67 · It · VG=-0.4 V",
        ),
        (  # runs at other biases (a ΔI 5× apart) were `seq 1 / seq 2`, their title claiming what they share
            [{"vds_v": 0.1}, {"vds_v": 0.5}],
            ["VDS=0.1 V", "VDS=0.5 V"],
            "Alisson67 · It · λ=455 nm · VL=1.15 V · VG=-0.4 V",
        ),
        (
            [{"laser_voltage_v": 1.0}, {"laser_voltage_v": 1.0}, {"laser_voltage_v": 2.0}],
            ["VL=1 V, seq 1", "VL=1 V, seq 2", "VL=2 V, seq 3"],
            "Alisson67 · It · λ=455 nm · VG=-0.4 V",
        ),
    ],
)
def test_legend_names_the_varying_parameter(tmp_path, overrides, labels, title):
    rows = [stage(tmp_path, run_row(n, "It", **o), step_run()) for n, o in enumerate(overrides, start=1)]
    spec = only(build_plots(manifest(rows), tmp_path, PlotOptions()))
    assert [s.label for s in spec.series] == labels
    assert spec.title == title


def test_mixed_selection_is_grouped_by_procedure_in_order(tmp_path):
    vl = np.arange(0.0, 5.05, 0.1)
    rows = [
        stage(tmp_path, run_row(1, "It"), step_run()),
        stage(tmp_path, run_row(2, "IVg"), {"vg_v": ivg_sweep(), "i_a": 1e-6 + 0 * ivg_sweep()}),
        stage(tmp_path, run_row(3, "It"), step_run()),
        stage(tmp_path, calibration_row(4), {"vl_v": vl, "power_w": 1e-6 * vl}),
        stage(tmp_path, run_row(5, "IV"), {"vsd_v": [-1e-3, 0.0, 1e-3], "i_a": [-1e-6, 0.0, 1e-6]}),
        stage(tmp_path, run_row(6, "Vt"), {"t_s": [0.0, 1.0, 2.0, 3.0, 4.0], "vds_v": [0.2, 0.3, 0.3, 0.3, 0.25],
                                           "vl_v": [0.0, 3.0, 3.0, 3.0, 0.0]}),
    ]
    runs = manifest(rows)
    assert [(proc, frame["seq"].to_list()) for proc, frame in group_by_proc(runs)] == [
        ("It", [1, 3]),
        ("IVg", [2]),
        ("LaserCalibration", [None]),
        ("IV", [5]),
        ("Vt", [6]),
    ]
    specs = build_plots(runs, tmp_path, PlotOptions(), width=100)
    assert [spec.kind for spec in specs] == ["It", "IVg", "LaserCalibration", "IV", "Vt"]
    assert [len(spec.series) for spec in specs] == [2, 4, 1, 1, 1]
    assert {s.run_id for s in specs[0].series} == {rows[0]["run_id"], rows[2]["run_id"]}
    calibration = specs[2]
    assert calibration.title == "LaserCalibration · λ=455 nm"
    assert (calibration.x_title, calibration.y_title) == ("VL (V)", "P (µW)")
    assert (specs[3].x_unit, specs[3].y_unit) == ("mV", "µA")
    assert (specs[4].x_title, specs[4].y_title) == ("t (s)", "VDS (mV)")  # the registry's columns: VDS vs t
    assert specs[4].spans and not specs[3].spans  # a Vt run's laser ON window is shaded, as an It run's
    assert controls("Vt", PlotOptions()) == ("log_y",) and controls("LaserCalibration", PlotOptions()) == ()
    (vt_log,) = build_plots(runs.filter(pl.col("proc") == "Vt"), tmp_path, PlotOptions(log_y=True), width=100)
    assert vt_log.log_y and vt_log.y_title == "|VDS| (mV)"


def test_the_registrys_other_procedures_plot_their_declared_columns(tmp_path):
    """A procedure without a plot of its own draws the columns its registry entry names (Pwl: `plot:`), in their
    own units: nm and °C take no SI prefix. One whose entry names a single column says how to name a second."""
    nm = np.arange(400.0, 701.0, 10.0)
    rows = [stage(tmp_path, run_row(1, "Pwl", seq=None, chip_name=None), {"wavelength_nm": nm, "power_w": 1e-6 + 0 * nm,
                                                                         "time_s": np.arange(nm.size, dtype=float)}),
            stage(tmp_path, run_row(2, "Tt"), {"time_s": [0.0, 60.0, 120.0], "plate_t_degc": [20.0, 45.5, 80.0]}),
            stage(tmp_path, run_row(3, "Tt"), {"time_s": [0.0, 60.0], "plate_temperature_degc": [20.0, 45.5]})]
    power, temperature = build_plots(manifest(rows), tmp_path, PlotOptions(), width=100)
    assert (power.x_title, power.y_title, power.series[0].x.tolist()) == ("Wavelength (nm)", "Power (µW)", nm.tolist())
    assert (temperature.x_title, temperature.y_title) == ("Time (s)", "Plate T (degC)")
    assert [s.y.tolist() for s in temperature.series] == [[20.0, 45.5, 80.0]]  # an older column's name: said, in a line
    assert temperature.messages == ("seq 3: no plate_t_degc column to draw in its data (it has time_s, "
                                    "plate_temperature_degc)",)
    registry = tmp_path / "procedures.yaml"
    registry.write_text("procedures:\n  Tt: {required_columns: ['Time (s)'], optional_columns: ['Plate T (degC)']}\n")
    (spec,) = build_plots(manifest(rows[1:2]), tmp_path, PlotOptions(), procedures_file=registry)
    assert not spec.series and spec.messages == (
        "no plot for Tt runs (1 selected): the procedure registry names no two data columns to draw "
        "(`plot: {x: …, y: …}` in its entry)",)
    without = tmp_path / "without_tt.yaml"  # a registry that has lost Tt's entry since the run was staged
    without.write_text("procedures:\n  It: {required_columns: ['t (s)', 'I (A)']}\n")
    (spec,) = build_plots(manifest(rows[1:2]), tmp_path, PlotOptions(), procedures_file=without)
    assert spec.messages == ("no plot for Tt runs (1 selected): the procedure registry has no Tt entry",)


def test_unreadable_parquet_becomes_a_message_not_an_error(tmp_path):
    good = stage(tmp_path, run_row(1, "It"), step_run())
    missing = run_row(2, "It")
    corrupt = run_row(3, "It")
    path = run_parquet_path(tmp_path, "It", DAY, corrupt["run_id"])
    path.parent.mkdir(parents=True)
    path.write_bytes(b"not a parquet file")
    no_points = stage(tmp_path, run_row(4, "It", n_rows=1), {"t_s": [np.nan], "i_a": [1.0], "vl_v": [0.0]})
    spec = only(build_plots(manifest([good, missing, corrupt, no_points]), tmp_path, PlotOptions()))
    assert [s.seq for s in spec.series] == [1]
    assert [m.split(":")[0] for m in spec.messages] == ["seq 2", "seq 3", "seq 4"]
    assert "FileNotFoundError" in spec.messages[0] and spec.messages[2] == "seq 4: no finite point in its 1 row"
    assert not any("\n" in message for message in spec.messages)  # a status line each: no Polars query plan
    assert spec.runs["seq"].to_list() == [1]


def test_plot_options_reject_bad_values():
    with pytest.raises(ValueError):
        PlotOptions(sg_window=10)
    with pytest.raises(ValueError):
        PlotOptions(sg_window=5, sg_polyorder=5)
    with pytest.raises(ValueError):
        PlotOptions(baseline="median")


# --- export --------------------------------------------------------------------------------------------


def test_export_frame_is_tidy_with_units(tmp_path):
    rows = [stage(tmp_path, run_row(n, "It", laser_voltage_v=float(n)), step_run()) for n in (3, 5, 9)]
    spec = only(build_plots(manifest(rows), tmp_path, PlotOptions()))
    frame = export_frame(spec)
    assert frame.columns == ["run_id", "seq", "label", "x", "y", "x_unit", "y_unit", "x_label", "y_label"]
    assert frame.height == 3 * 1801
    # what y is: ΔI from the dark current, not I; |ΔI| on a log axis (the sign is gone: the CSV must say so)
    assert (frame["x_label"][0], frame["y_label"][0]) == ("t", "I − I_dark")
    logged = export_frame(only(build_plots(manifest(rows), tmp_path, PlotOptions(log_y=True))))
    assert logged["y_label"].unique().to_list() == ["|I − I_dark|"] and logged["y"].min() >= 0
    assert frame["seq"].unique().sort().to_list() == [3, 5, 9]
    assert frame.filter(pl.col("seq") == 5)["label"].unique().to_list() == ["VL=5 V"]
    assert frame["y_unit"].unique().to_list() == ["µA"]
    assert frame["y"].max() == pytest.approx(5.0)
    assert export_file_name(spec) == "Alisson67_It_seq3+5+9.csv"  # `3-5-9` read as a range


def test_a_figures_csv_writes_no_digits_of_the_unit_scaling():
    """`1.378906e-05` A drawn in µA was written `13.789060000000001`: the scaling's float noise, not a reading."""
    from labtui.core.plotdata.figure import points_csv
    from labtui.core.plotdata.model import PlotSpec, Series

    spec = PlotSpec("IVg", "IVg", "Vg", "V", "I", "µA", False,
                    (Series("seq 1", np.array([-0.30000000000000004, 0.1]), np.array([1.378906e-05, 2e-07]) * 1e6,
                            "a" * 16, 1),), (), (), (), (), pl.DataFrame({"run_id": ["a" * 16], "seq": [1]}))
    rows = pl.read_csv(io.BytesIO(points_csv(spec)))
    assert rows["y"].to_list() == [13.78906, 0.2] and rows["x"].to_list() == [-0.3, 0.1]


def test_calibrations_get_one_trace_per_wavelength(tmp_path):
    vl = np.arange(0.0, 5.05, 0.1)
    rows = [
        stage(tmp_path, calibration_row(n) | {"laser_wavelength_nm": nm}, {"vl_v": vl, "power_w": 1e-3 * vl * n})
        for n, nm in ((1, 455.0), (2, 365.0))
    ]
    spec = only(build_plots(manifest(rows), tmp_path, PlotOptions(log_y=True)))
    assert [s.label for s in spec.series] == ["λ=455 nm", "λ=365 nm"]
    assert (spec.title, spec.y_title) == ("LaserCalibration", "|P| (mW)")
    assert all(np.all(s.y > 0) for s in spec.series)


def test_export_file_names_without_seq_or_with_many_runs(tmp_path):
    vl = np.arange(0.0, 1.0, 0.1)
    rows = [
stage(tmp_path, calibration_row(n), {"vl_v": vl, "power_w": vl}) for n in (1, 2)
    ]
    spec = only(build_plots(manifest(rows), tmp_path, PlotOptions()))
    assert export_file_name(spec) == "LaserCalibration_2025-10-13_idx1-2.csv"
    many = [stage(tmp_path, run_row(n, "It"), step_run(duration=10.0)) for n in range(1, 13)]
    spec = only(build_plots(manifest(many), tmp_path, PlotOptions()))
    assert export_file_name(spec) == "Alisson67_It_seq1-12.csv"  # runs in a row: their range
    apart = [row for row in many if row["seq"] % 2] + [stage(tmp_path, run_row(n, "It"), step_run(duration=10.0))
                                                      for n in (13, 15, 17, 19, 21, 23)]
    spec = only(build_plots(manifest(apart), tmp_path, PlotOptions()))
    assert export_file_name(spec) == "Alisson67_It_seq1to23_12runs.csv"  # 12 ranges: first, last and a count
    assert export_frame(shape(load_selection(manifest([run_row(99, "It")]), tmp_path)[0], PlotOptions())).height == 0


# --- real files, staged by the project's own stager ----------------------------------------------------


@pytest.mark.realdata
def test_real_runs_staged_by_the_stager_plot_end_to_end(lab, real_raw):
    for rel in (
        "2025-10-20/It2025-10-20_2.csv",  # the largest It: 85k points, dark, 4800 s period
        "2025-10-13/It2025-10-13_1.csv",  # light, 120 s period
        "2025-10-10/IVg2025-10-10_1.csv",  # full −5..5 V sweep
        "2025-10-13/LaserCalibration2025-10-13_1.csv",
    ):
        lab.write(rel, (real_raw / rel).read_bytes())
    lab.stage()
    groups = {group.proc: group for group in load_selection(lab.manifest(), lab.config.stage_root)}
    width = 120
    assert len(shape(groups["IVg"], PlotOptions()).series) == 4
    assert all(np.all(s.y > 0) for s in shape(groups["LaserCalibration"], PlotOptions(log_y=True), width).series)
    full, plotted = shape(groups["It"], PlotOptions()), shape(groups["It"], PlotOptions(), width)
    assert max(s.x.size for s in full.series) == 85_066
    assert all(s.x.size <= 2 * width for s in plotted.series)
    for a, b in zip(full.series, plotted.series, strict=False):
        assert (a.y.min(), a.y.max()) == (b.y.min(), b.y.max())
    (span,) = plotted.spans
    assert span == pytest.approx((60.0, 120.0), abs=0.2)
    assert "the selection mixes light and dark runs" in plotted.warnings


# --- the words of a plot view, and the run being measured as a plot ----------------------------------------------

def test_runs_text_names_seq_ranges_else_each_run() -> None:
    assert runs_text(pl.DataFrame({"seq": [9, 3, 4, 5, 11]})) == "seq 3–5, 9, 11"
    unstaged = pl.DataFrame({"seq": [None, 2], "file_idx": [4, None], "date_local": [dt.date(2025, 10, 14)] * 2,
                             "run_id": ["a1", "b2"]})
    assert runs_text(unstaged) == "2025-10-14 #4, seq 2"
    assert runs_text(pl.DataFrame({"seq": [None], "file_idx": [None], "run_id": ["abc"]})) == "abc"
    undated = pl.DataFrame({"seq": [None], "file_idx": [2], "date_local": [dt.date(2025, 10, 13)], "run_id": ["x"]})
    assert runs_text(undated) == "2025-10-13 #2"
    assert runs_text(pl.DataFrame({"seq": [1, 3, 5, 7, 9, 11]})) == "seq 1, 3, 5, 7, 9, 11"
    assert runs_text(pl.DataFrame({"seq": [1, 3, 5, 7, 9, 11, 13, 14]})) == "8 runs, seq 1–14"  # a title fits
    assert runs_text(pl.DataFrame({"seq": [None] * 7, "file_idx": list(range(7)), "run_id": list("abcdefg"),
                                   "date_local": [dt.date(2025, 10, 13)] * 7})) == "7 runs"


@pytest.mark.parametrize(("kind", "options", "status", "suffix"), [
    ("It", PlotOptions(), ["ΔI = I − I dark (mean just before laser ON)", "linear"], "_dI-auto.csv"),
    ("It", PlotOptions(baseline=Baseline.FIXED, baseline_time_s=2.5, log_y=True),
     ["ΔI = I − I(t = 2.5 s)", "log |y|"], "_dI-t2.5s_log.csv"),
    ("It", PlotOptions(baseline=Baseline.RAW), ["I, no baseline", "linear"], ".csv"),
    ("IVg", PlotOptions(gm=True, sg_window=7, sg_polyorder=3),
     ["gm = dI/dVg per sweep leg", "Savitzky–Golay 7 pts, order 3"], "_gm_savgol.csv"),
    ("IVg", PlotOptions(gm=True, gm_method=GmMethod.GRADIENT, align_cnp=True),
     ["gm = dI/dVg per sweep leg", "plain gradient", "aligned: Vg − V_CNP (forward leg)"], "_gm_gradient_aligned.csv"),
    ("IVg", PlotOptions(log_y=True), ["I vs Vg", "log |y|"], "_log.csv"),
    ("IV", PlotOptions(gm=True), ["linear"], ".csv"),  # gm is the IVg's: no part of an IV's view
    ("LaserCalibration", PlotOptions(log_y=True), [], ".csv"),
])
def test_the_status_line_and_the_file_names_agree_on_the_active_options(
    kind: str, options: PlotOptions, status: list[str], suffix: str
) -> None:
    assert [text for text, _ in view_parts(kind, options)] == status
    assert file_suffix(kind, options, ".csv") == suffix


def test_dark_it_runs_plot_the_current_as_measured() -> None:
    assert default_options("It", pl.DataFrame({"has_light": [False, None]})).baseline is Baseline.RAW
    assert default_options("It", pl.DataFrame({"has_light": [False, True]})).baseline is Baseline.AUTO
    assert default_options("IVg", pl.DataFrame({"has_light": [False]})) == PlotOptions()


def test_a_growing_run_is_a_plot_group_once_it_has_rows(tmp_path: Path) -> None:
    data = raw_csv("It")
    path = tmp_path / "It2025-10-14_3.csv"
    path.write_bytes(data[: data.index(b"t (s)")])
    run = FollowedRun(path, load_registry())
    run.refresh()
    assert live_group(run, SANTIAGO) is None  # no header yet
    path.write_bytes(data[: data.index(b"\n", data.index(b"t (s)")) + 1])
    run.refresh()
    assert live_group(run, SANTIAGO).messages == ("no data rows yet",)
    path.write_bytes(data)
    run.refresh()
    group = live_group(run, SANTIAGO)
    assert group.proc == "It" and not group.messages
    assert group.runs.row(0, named=True) == {
        "run_id": path.name, "proc": "It", "date_local": dt.date(2025, 10, 13), "file_idx": 3,
        "chip_name": "Alisson67", "has_light": True, "laser_voltage_v": 1.15, "laser_wavelength_nm": 455.0,
        "laser_period_s": 2.0, "vg_fixed_v": -0.35}
    (columns,) = group.columns
    assert set(columns) == {"t_s", "i_a", "vl_v"} and len(columns["t_s"]) == run.frame.height
    lines = data.splitlines()
    names, last = lines[lines.index(b"#Data:") + 1].split(b","), lines[-1].split(b",")
    last[names.index(b"I (A)")] = b"1e308"  # a glitch of the meter, as the live plot follows it
    path.write_bytes(data + b",".join(last) + b"\r\n")
    run.refresh()
    group = live_group(run, SANTIAGO)
    assert group.messages == ("1 point of ±1e+30 or more (overflow marks) left out",)
    assert group.columns[0]["t_s"].size == len(columns["t_s"])


def test_a_growing_run_of_another_procedure_draws_its_registry_columns(tmp_path: Path) -> None:
    path = tmp_path / "Vt2025-10-14_3.csv"  # a procedure the acquisition defines, drawn as its registry entry says
    path.write_bytes(raw_csv("It").replace(b"procedures.It.It>", b"procedures.Vt.Vt>").replace(b"I (A)", b"VDS (V)"))
    run = FollowedRun(path, load_registry())
    run.refresh()
    group = live_group(run, SANTIAGO)
    assert group is not None and group.runs.height == 1 and group.kind is not None
    assert (group.kind.x, group.kind.y) == ("t_s", "vds_v") and group.columns[0]["vds_v"].size == run.frame.height
    spec = shape(group, PlotOptions(), 80)
    assert spec.y_title.startswith("VDS (") and len(spec.series) == 1
    registry = tmp_path / "procedures.yaml"
    single = '"t (s)"]'  # an entry that names one data column: nothing to draw it against
    registry.write_text(default_registry_path().read_text().replace('"t (s)", "VDS (V)", "VL (V)"]', single))
    run = FollowedRun(path, load_registry(registry))
    run.refresh()
    group = live_group(run, SANTIAGO)
    assert group is not None and group.runs.is_empty() and group.messages == ("no live plot for Vt runs",)


@pytest.mark.parametrize(("low", "high", "count", "labels"), [
    (-5.0000001, 5.0, 5, ["-4", "-2", "0", "2", "4"]),  # a sweep's float-drifted end: no "-0.0" in the middle
    (24.3, 78.3, 7, ["30", "40", "50", "60", "70"]),  # not 24.3, 33.3, … 78.3
    (-0.844, 0.1, 5, ["-0.8", "-0.6", "-0.4", "-0.2", "0.0"]),
    (0.001, 0.0123, 5, ["0.0025", "0.0050", "0.0075", "0.0100"]),
    (0.0, 120.5, 5, ["0", "25", "50", "75", "100"]),
    (1.0, 1.0, 5, []),  # a flat axis: plotext's own ticks
    (0.0, float("nan"), 5, []),
])
def test_axis_ticks_are_round_and_within_the_data(low: float, high: float, count: int, labels: list[str]) -> None:
    ticks, said = nice_ticks(low, high, count)
    assert said == labels and len(ticks) <= count
    assert all(low <= tick <= high for tick in ticks)


@pytest.mark.parametrize(("low", "high", "labels"), [
    (0.05, 3.0, ["0.05", "0.1", "0.2", "0.5", "1", "2"]),  # 1, 2, 5 × 10^k
    (1e-3, 100.0, ["0.001", "0.01", "0.1", "1", "10", "100"]),  # too many for 1-2-5: the decades
    (1e-12, 1e3, ["1e-12", "1e-09", "1e-06", "0.001", "1", "1000"]),  # too many decades: every third
    (24.3, 78.3, ["30", "40", "50", "60", "70"]),  # within a decade: round values
    (9.0, 45.0, ["10", "20", "30", "40"]),  # 1-2-5 gave 10 and 20 alone: the upper half unlabelled
    (12.38, 12.47, ["12.38", "12.40", "12.42", "12.44", "12.46"]),  # one number of decimals (it read 12.4 by 12.42)
    (0.0, 10.0, []),  # nothing on a log axis is ≤ 0
])
def test_log_axis_ticks(low: float, high: float, labels: list[str]) -> None:
    ticks, said = log_ticks(low, high, 7)
    assert said == labels and all(low <= tick <= high for tick in ticks)


def test_a_lit_runs_power_is_said_beside_its_laser_voltage():
    """A legend of VL alone left the reader to price each run: a lit It run's power (`power_w`, joined from the
    metrics) follows its VL, with its prefix; a dark run has none to say, a lit one the metrics could not price
    says `?`, and one power shared by every run goes to the title with the others shared."""
    from labtui.core.plotdata.labels import legend_labels, title

    def row(seq, vl, power, light=True):
        return {"seq": seq, "chip_name": "Alisson67", "laser_voltage_v": vl, "laser_wavelength_nm": 455.0,
                "vg_fixed_v": -0.4, "has_light": light, "power_w": power, "date_local": None, "file_idx": seq}

    rows = [row(1, 1.0, 3.84e-6), row(2, 2.0, 8.64e-6), row(3, 0.0, None, light=False), row(4, 3.0, None)]
    assert legend_labels(rows) == ["VL=1 V, P=3.84 µW, λ=455 nm", "VL=2 V, P=8.64 µW, λ=455 nm", "dark",
                                   "VL=3 V, P=? W, λ=455 nm"]
    shared = [row(1, 1.0, 3.84e-6), row(2, 1.0, 3.84e-6)]
    assert title("It", shared) == "Alisson67 · It · λ=455 nm · VL=1 V · P=3.84 µW · VG=-0.4 V"
    assert "P=" not in title("It", [{**r, "power_w": None} for r in shared])  # no metrics: nothing said
    # a power priced by a calibration far in time from the run is said so on the figure (it was on stderr alone)
    stale = [{**rows[0], "calibration_stale": True}, {**rows[1], "calibration_stale": False}]
    assert legend_labels(stale) == ["VL=1 V, P=3.84 µW (stale cal.)", "VL=2 V, P=8.64 µW"]
    # to 3 figures each, its zeros kept: `P=6 µW` beside `P=5.98 µW` read as a rougher value
    assert legend_labels([row(1, 1.0, 6e-6), row(2, 2.0, 5.98e-6), row(3, 3.0, 12e-6)]) == [
        "VL=1 V, P=6.00 µW", "VL=2 V, P=5.98 µW", "VL=3 V, P=12.0 µW"]
    assert "P=3.84 µW (stale cal.)" in title("It", [{**r, "calibration_stale": r["seq"] == 2} for r in shared])
