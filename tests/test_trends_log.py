"""The photoresponse and responsivity trends on log–log axes: the power-law fit (`numeric.power_law`) on exact
and noisy synthetic laws, its refusals and the real corpus; the spec's signs, zeros, CSV and fits; the figure, the
terminal, `labtui plot --trend … --log` and its record, and the app's `l`."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import matplotlib
import numpy as np
import polars as pl
import pytest
from matplotlib.figure import Figure

from labtui.cli import main
from labtui.cli.plot import LOG_LOG_TRENDS
from labtui.core import drawing as drawing_module
from labtui.core.annotations import current_annotations
from labtui.core.config import StagingConfig
from labtui.core.drawing import draw_axes
from labtui.core.history import load_manifest
from labtui.core.metrics import read_metrics
from labtui.core.plotdata import export_frame
from labtui.core.plotdata.figure import drawing_of
from labtui.core.plotdata.numeric import FIT_POINTS, FIT_SPAN, PowerLaw, log_ticks, power_law
from labtui.core.plotdata.selection import FigureRecord, chip_runs
from labtui.core.plotdata.trends import Trend, against_power, thinned, trend_rows, trend_spec
from labtui.tui.plot_view import HOLLOW, NEGATIVE, POINT, PlotView
from labtui.tui.trends import TrendsScreen
from tests.pilot import said, settle
from tests.test_trends import DemoLab, footer_keys, trends_at_80_columns

ALPHA = 0.62


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> DemoLab:
    return DemoLab(tmp_path_factory.mktemp("trends-log"))


# --- the fit ------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("alpha", [ALPHA, 1.0, 0.3, -0.4, 1.7])
def test_an_exact_power_law_gives_its_exponent_back(alpha: float) -> None:
    power = np.array([1.2e-6, 2.5e-6, 4e-6, 9e-6, 2.4e-5, 6e-5])  # W, as the metrics table has them
    fit = power_law(power, -3e-3 * power**alpha)  # the sign is not the law's: |y| is fitted
    assert isinstance(fit, PowerLaw)
    assert fit.exponent == pytest.approx(alpha, abs=1e-9) and fit.stderr < 1e-9
    assert (fit.points, fit.low, fit.high) == (6, 1.2e-6, 6e-5)
    assert 10**fit.intercept == pytest.approx(3e-3, rel=1e-9)
    (x0, y0), (x1, y1) = fit.line()  # over the powers fitted, on the law
    assert (x0, x1) == (1.2e-6, 6e-5)
    assert (y0, y1) == (pytest.approx(3e-3 * x0**alpha, rel=1e-9), pytest.approx(3e-3 * x1**alpha, rel=1e-9))


def test_a_noisy_power_law_is_found_within_its_standard_error() -> None:
    rng = np.random.default_rng(7)
    power = np.geomspace(1e-6, 3e-5, 12)
    found = []
    for _ in range(200):
        fit = power_law(power, 1e-2 * power**ALPHA * rng.lognormal(0.0, 0.1, power.size))
        assert isinstance(fit, PowerLaw) and fit.stderr > 0
        found.append((fit.exponent, fit.stderr))
    exponents, errors = np.array(found).T
    # the standard error is the exponents' spread, and the truth lies within 2 of them about 95 % of the time
    assert np.std(exponents) == pytest.approx(np.median(errors), rel=0.25)
    assert 0.9 <= np.mean(np.abs(exponents - ALPHA) < 2 * errors) <= 0.99
    assert abs(np.mean(exponents) - ALPHA) < 0.01


def test_a_fit_is_refused_with_too_few_points_or_too_narrow_powers() -> None:
    assert (FIT_POINTS, FIT_SPAN) == (3, 2.0)
    assert power_law(np.array([1e-6, 4e-6]), np.array([1.0, 2.0])) == "2 points: a fit needs 3 or more"
    assert power_law(np.array([1e-6]), np.array([1.0])) == "1 point: a fit needs 3 or more"
    assert power_law(np.full(4, 5e-6), np.array([1.0, 2.0, 3.0, 4.0])) == (
        "every point at one power: a fit needs powers 2× apart or more")
    assert power_law(np.array([1e-6, 1.2e-6, 1.5e-6]), np.array([1.0, 2.0, 3.0])) == (
        "powers only 1.5× apart: a fit needs powers 2× apart or more")
    # a zero or a NaN is no point of a power law: not counted
    assert power_law(np.array([1e-6, 4e-6, 9e-6, np.nan]), np.array([1.0, 0.0, 2.0, 3.0])) == (
        "2 points: a fit needs 3 or more")
    # three points at two powers 2× apart are enough
    assert isinstance(power_law(np.array([1e-6, 1e-6, 2e-6]), np.array([1.0, 1.1, 2.0])), PowerLaw)


def test_log_ticks_over_a_decade_and_a_half_mark_its_lower_decade() -> None:
    """0.4–20 µW, 5 ticks: 1, 2 and 5 × 10ⁿ are 6; the decades alone 2, which fell back to a linear 5, 10, 15, 20."""
    assert log_ticks(0.4, 20.0, 5) == ([1.0, 3.0, 10.0], ["1", "3", "10"])
    assert log_ticks(0.4, 20.0, 7)[1] == ["0.5", "1", "2", "5", "10", "20"]


# --- the spec -----------------------------------------------------------------------------------------------------

def exact_rows(lab: DemoLab, *, zero: int = 0) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The chip's rows with every lit It run's ΔI on ΔI = ∓2 µA · (P / 1 µW)^0.62, negative for every other run (by
    seq), R = ΔI / P; the first `zero` of them ΔI = 0. And those lit runs with a power."""
    lit = lab.metrics.filter(pl.col("proc") == "It", pl.col("has_light"), pl.col("power_w").is_not_null())
    lit = lit.join(lab.runs.select("run_id", "seq"), on="run_id").sort("seq").with_row_index("k")
    signed = lit.with_columns(delta_i_a=pl.when(pl.col("k") < zero).then(0.0).otherwise(
        pl.when(pl.col("k") % 2 == 0).then(-1.0).otherwise(1.0) * 2e-6 * (pl.col("power_w") / 1e-6) ** ALPHA))
    metrics = lab.metrics.update(signed.select("run_id", "delta_i_a"), on="run_id").with_columns(
        responsivity_a_per_w=pl.col("delta_i_a") / pl.col("power_w"))
    return trend_rows(lab.runs, metrics, current_annotations(lab.config.store_root)), signed


def test_a_log_log_trend_draws_each_sign_apart_and_fits_each_series(lab: DemoLab) -> None:
    rows, signed = exact_rows(lab, zero=1)
    spec = trend_spec(Trend.PHOTORESPONSE, rows, tz=lab.config.local_tz, log_log=True)
    linear = trend_spec(Trend.PHOTORESPONSE, rows, tz=lab.config.local_tz)
    assert (spec.log_x, spec.log_y, spec.y_title, spec.fit_law) == (True, True, f"|ΔI| ({spec.y_unit})", "|ΔI| ∝ P^α")
    assert not spec.joined  # the fitted law is the line through the points
    below = [s for s in spec.series if s.sign < 0]
    assert below and all(s.label.endswith(", ΔI < 0") for s in below)
    assert all(s.sign > 0 and "<" not in s.label for s in spec.series if s not in below)
    assert all((s.y > 0).all() for s in spec.series)
    # each negative series beside its positive twin, in its colour (its run_index), named after it
    twins = {s.label: s.run_index for s in spec.series if s.sign > 0}
    assert all(twins.get(s.label.removesuffix(", ΔI < 0"), s.run_index) == s.run_index for s in below)
    # every point of the linear trend but the zero, in one series of its sign
    zero = signed.filter(pl.col("k") == 0)
    counted_points = sum(s.x.size for s in spec.series)
    assert counted_points == sum(s.x.size for s in linear.series) - 1
    zero_label = next(s.label for s in linear.series if zero["run_id"][0] in s.point_run_ids)
    assert f"{zero_label}: 1 run with ΔI = 0 left out: a log axis has no 0" in spec.messages
    assert zero["run_id"][0] not in spec.runs["run_id"].to_list()  # nor counted among the runs drawn
    # the CSV keeps each value's sign, and names it as signed
    exported = export_frame(spec).join(signed.select("run_id", "delta_i_a"), on="run_id")
    assert exported.height == counted_points and exported["y_label"].unique().to_list() == ["ΔI"]
    scale = exported["y"][0] / exported["delta_i_a"][0]
    assert scale > 0
    np.testing.assert_allclose(exported["y"], exported["delta_i_a"] * scale, rtol=1e-12)
    assert (exported.filter(pl.col("label").str.ends_with("ΔI < 0"))["y"] < 0).all()
    # α on the exact law, in each series fitted; each other series says why it has none
    assert spec.fits[0] == "power law per series: |ΔI| ∝ P^α"
    fitted = [s for s in spec.series if s.fit is not None]
    assert fitted and all(s.fit.exponent == pytest.approx(ALPHA, abs=1e-9) for s in fitted)
    assert all(s.fit_note == f"α = 0.62 ± 0.00 ({s.x.size} runs)" for s in fitted)
    assert all(s.fit_note.startswith("no α: ") for s in spec.series if s.fit is None)
    assert list(spec.fits[1:]) == [f"{s.label}: {s.fit_note}" for s in spec.series]
    assert not any("α" in message for message in spec.messages)


def test_the_responsivity_says_the_photoresponses_alpha(lab: DemoLab) -> None:
    """R = ΔI / P ∝ P^(α−1): its line's slope is α − 1, and its legend says α, the same number as ΔI's."""
    rows, _ = exact_rows(lab)
    response = trend_spec(Trend.PHOTORESPONSE, rows, tz=lab.config.local_tz, log_log=True)
    responsivity = trend_spec(Trend.RESPONSIVITY, rows, tz=lab.config.local_tz, log_log=True)
    assert responsivity.fit_law == "|R| ∝ P^(α−1)" and responsivity.y_title.startswith("|R| (")
    assert responsivity.fits[0] == "power law per series: |R| ∝ P^(α−1), so α is that of |ΔI| ∝ P^α"
    assert [s.label.replace("R < 0", "ΔI < 0") for s in responsivity.series] == [s.label for s in response.series]
    for ours, theirs in zip(responsivity.series, response.series, strict=True):
        assert ours.fit_note == theirs.fit_note
        if ours.fit is not None and theirs.fit is not None:
            assert ours.fit.exponent == pytest.approx(theirs.fit.exponent - 1, abs=1e-9)
            assert ours.fit.stderr == pytest.approx(theirs.fit.stderr, abs=1e-9)
    # on the demo's own noisy values too: the fit of log |R| is that of log |ΔI| less log P, point for point
    noisy = trend_rows(lab.runs, lab.metrics, current_annotations(lab.config.store_root))
    pairs = zip(*(trend_spec(trend, noisy, tz=lab.config.local_tz, log_log=True).series
                  for trend in (Trend.PHOTORESPONSE, Trend.RESPONSIVITY)), strict=True)
    assert all(a.fit_note == b.fit_note for a, b in pairs)


def test_excluded_runs_drawn_are_not_fitted(tmp_path: Path) -> None:
    """X (--include-excluded) draws the runs the lab set aside, crossed out: fitted with the others, one 10× off the
    law moved the α the legend says, and the dashed line went through it."""
    lab = DemoLab(tmp_path)

    def on_the_law(victim: str = "") -> pl.DataFrame:  # every ΔI below 0, the victim's 10× the law's
        rows, _ = exact_rows(lab)
        return rows.with_columns(delta_i_a=-pl.col("delta_i_a").abs() * pl.when(pl.col("run_id") == victim)
                                 .then(10.0).otherwise(1.0))

    law = trend_spec(Trend.PHOTORESPONSE, on_the_law(), tz=lab.config.local_tz, log_log=True)
    series = next(s for s in law.series if s.fit is not None and s.x.size >= 4)
    middle = int(np.argsort(series.x)[1])  # the others still span the powers fitted
    victim = series.point_run_ids[middle]
    assert main(lab.cli("annotate", str(lab.number), "--group", "Alisson", "--seq", str(series.point_seqs[middle]),
                        "--exclude", "laser flicker")) == 0
    rows = on_the_law(victim)
    shown = trend_spec(Trend.PHOTORESPONSE, rows, include_excluded=True, tz=lab.config.local_tz, log_log=True)
    drawn = next(s for s in shown.series if victim in s.point_run_ids)
    assert drawn.x.size == series.x.size and shown.excluded  # drawn, crossed out
    assert drawn.fit is not None and drawn.fit.points == series.x.size - 1
    assert drawn.fit.exponent == pytest.approx(ALPHA, abs=1e-9)
    assert drawn.fit_note == f"α = 0.62 ± 0.00 ({series.x.size - 1} runs; 1 excluded run not fitted)"
    assert f"{drawn.label}: {drawn.fit_note}" in shown.fits
    hidden = trend_spec(Trend.PHOTORESPONSE, rows, tz=lab.config.local_tz, log_log=True)  # neither drawn nor said
    assert next(s for s in hidden.series if s.label == drawn.label).fit_note == (
        f"α = 0.62 ± 0.00 ({series.x.size - 1} runs)")


def test_only_the_trends_against_power_have_log_log_axes(lab: DemoLab) -> None:
    # the command line's, written out so that `--help` imports nothing
    assert tuple(trend for trend in Trend if against_power(trend)) == (Trend.PHOTORESPONSE, Trend.RESPONSIVITY) \
        == LOG_LOG_TRENDS
    rows = trend_rows(lab.runs, lab.metrics, current_annotations(lab.config.store_root))
    for trend in (Trend.CNP, Trend.HYSTERESIS, Trend.SPECTRAL, Trend.DARK):
        with pytest.raises(ValueError, match="not drawn against power"):
            trend_spec(trend, rows, tz=lab.config.local_tz, log_log=True)


def test_a_terminal_keeps_a_point_per_cell_of_a_log_axis(lab: DemoLab) -> None:
    """Cells counted in values, the points of the lowest decades of three fell in one cell, and all but one went."""
    rows, _ = exact_rows(lab)
    spec = trend_spec(Trend.PHOTORESPONSE, rows, tz=lab.config.local_tz, log_log=True)
    x = np.array([1e-3, 2e-3, 5e-3, 1e-2, 1.0])  # three decades and a half
    spread = replace(spec, series=(replace(spec.series[0], x=x, y=x),))
    assert thinned(spread, 40, 20).series[0].x.size == 5
    assert thinned(replace(spread, log_x=False, log_y=False), 40, 20).series[0].x.size == 2


# --- the figure ---------------------------------------------------------------------------------------------------

def test_a_log_log_figure_draws_hollow_negatives_and_dashed_fits(lab: DemoLab) -> None:
    rows, _ = exact_rows(lab)
    spec = trend_spec(Trend.PHOTORESPONSE, rows, tz=lab.config.local_tz, log_log=True)
    drawing = drawing_of(spec)
    assert drawing.log_x and drawing.log_y and drawing.legend_title == "|ΔI| ∝ P^α"
    with matplotlib.rc_context(drawing_module._RC):  # as `render` draws it
        figure = Figure()
        ax = figure.add_subplot()
        draw_axes(ax, drawing)
    assert (ax.get_xscale(), ax.get_yscale()) == ("log", "log")
    lines = {line.get_gid(): line for line in ax.get_lines()}
    for number, series in enumerate(spec.series):
        points = lines[f"series-{number}"]
        assert (points.get_markerfacecolor() == "white") == (series.sign < 0)
        if series.fit is None:
            assert f"fit-{number}" not in lines
            continue
        fit = lines[f"fit-{number}"]  # dashed, in its series' colour, over the powers fitted
        assert fit.get_linestyle() == "--" and fit.get_color() == points.get_color()
        assert (fit.get_xdata()[0], fit.get_xdata()[-1]) == pytest.approx((series.x.min(), series.x.max()))
        assert np.diff(np.log10(fit.get_ydata())) / np.diff(np.log10(fit.get_xdata())) == pytest.approx(ALPHA)
    legend = ax.get_legend() or figure.legends[0]
    assert legend.get_title().get_text() == r"|ΔI| ∝ P$^\mathregular{α}$"
    # a row as an entry is: at the figure's text size, a full column beside the axes ran off the figure's foot
    assert legend.get_title().get_fontsize() == legend.get_texts()[0].get_fontsize()
    texts = [text.get_text() for text in legend.get_texts()]
    fitted = next(s for s in spec.series if s.fit is not None)
    assert f"{fitted.label.replace('-', '−')}: α = 0.62 ± 0.00 ({fitted.x.size} runs)" in texts


# --- the command line ---------------------------------------------------------------------------------------------

def test_cli_draws_a_log_log_trend_and_its_redraw_keeps_it(lab: DemoLab, tmp_path: Path, capsys) -> None:
    out, points_file = tmp_path / "p.svg", tmp_path / "p.csv"
    assert main(lab.cli("plot", str(lab.number), "--group", "Alisson", "--trend", "photoresponse", "--log",
                        "--out", str(out), "--points", str(points_file))) == 0
    err = capsys.readouterr().err
    assert "labtui plot: power law per series: |ΔI| ∝ P^α\n" in err and "α = " in err
    assert json.loads((tmp_path / "p.svg.json").read_text(encoding="utf-8"))["trend"] == {
        "name": "photoresponse", "include_excluded": False, "log": True}
    exported = pl.read_csv(points_file)
    assert (exported.filter(pl.col("label").str.ends_with("ΔI < 0"))["y"] < 0).all()
    again = tmp_path / "again.png"
    assert main(lab.cli("plot", "--from", str(tmp_path / "p.svg.json"), "--out", str(again))) == 0
    assert FigureRecord.read(tmp_path / "again.png.json").trend == {"name": "photoresponse",
                                                                    "include_excluded": False, "log": True}
    assert "power law per series" in capsys.readouterr().err
    # a linear responsivity's record, redrawn with --log: log–log (a trend's record took no view option)
    linear = tmp_path / "r.pdf"
    assert main(lab.cli("plot", str(lab.number), "--group", "Alisson", "--trend", "responsivity",
                        "--out", str(linear))) == 0
    assert main(lab.cli("plot", "--from", f"{linear}.json", "--log", "--out", str(again))) == 0
    assert FigureRecord.read(tmp_path / "again.png.json").trend["log"] is True  # type: ignore[index]


@pytest.mark.parametrize("trend", ["cnp", "hysteresis", "spectral", "dark"])
def test_cli_log_of_a_trend_not_against_power_is_one_line(lab: DemoLab, tmp_path: Path, capsys, trend: str) -> None:
    out = tmp_path / "x.pdf"
    assert main(lab.cli("plot", str(lab.number), "--group", "Alisson", "--trend", trend, "--log",
                        "--out", str(out))) == 2
    assert capsys.readouterr().err == (
        "labtui: --trend draws the chip's runs (--seq: some of them), one point each: --log does not apply; --log is "
        "for the photoresponse and responsivity trends (log–log against power)\n")
    assert not out.exists()


def test_a_record_whose_trend_has_no_log_log_axes_is_refused(lab: DemoLab, tmp_path: Path, capsys) -> None:
    out = tmp_path / "d.pdf"
    assert main(lab.cli("plot", str(lab.number), "--group", "Alisson", "--trend", "dark", "--out", str(out))) == 0
    record = json.loads((tmp_path / "d.pdf.json").read_text(encoding="utf-8"))
    record["trend"]["log"] = True  # edited by hand
    (tmp_path / "d.pdf.json").write_text(json.dumps(record), encoding="utf-8")
    capsys.readouterr()
    assert main(lab.cli("plot", "--from", str(tmp_path / "d.pdf.json"), "--out", str(tmp_path / "e.pdf"))) == 2
    assert capsys.readouterr().err == (f"labtui: the dark trend is not drawn against power: {tmp_path / 'd.pdf.json'}"
                                       "'s log is for photoresponse and responsivity\n")
    record["trend"]["log"] = "no"
    (tmp_path / "d.pdf.json").write_text(json.dumps(record), encoding="utf-8")
    assert main(lab.cli("plot", "--from", str(tmp_path / "d.pdf.json"), "--out", str(tmp_path / "e.pdf"))) == 2
    assert "its trend's log must be true or false, got 'no'" in capsys.readouterr().err


# --- the app ------------------------------------------------------------------------------------------------------

async def test_l_draws_the_photoresponse_on_log_log_axes_and_exports_it(lab: DemoLab) -> None:
    async with trends_at_80_columns(lab) as (pilot, screen):
        app = pilot.app
        assert "l" not in footer_keys(screen)  # the Dirac point: a voltage on either side of 0 V
        await pilot.press("l")
        assert said(app)[-1].message == ("Dirac point is drawn on linear axes: a Dirac point is a gate voltage, on "
                                         "either side of 0 V")
        await pilot.press("tab", "tab")
        await settle(pilot)
        assert screen.spec.kind == "trend-photoresponse" and {"r", "l"} <= footer_keys(screen)  # at 80 columns
        l_says = lambda: screen.active_bindings["l"].binding.description  # noqa: E731
        assert l_says() == "Log–log"
        await pilot.press("l")
        await settle(pilot)
        assert screen.spec.log_x and screen.spec.log_y and l_says() == "Linear"
        status = str(screen.query_one("#plot-status").render())
        assert status.startswith(f"{sum(s.x.size for s in screen.spec.series)} points of ") and "log–log" in status
        assert status.splitlines()[1] == "power law per series: |ΔI| ∝ P^α"  # before the warnings: in view at 80×24
        drawn = str(screen.query_one(PlotView).render())
        assert NEGATIVE in drawn and POINT in drawn
        legend = str(screen.query_one("#legend").render())
        assert f"{NEGATIVE} " in legend and ", ΔI <" in legend
        await pilot.press("r")  # the responsivity, on log–log axes too
        await settle(pilot)
        assert screen.spec.kind == "trend-responsivity" and screen.spec.fit_law == "|R| ∝ P^(α−1)"
        await pilot.press("e")
        await settle(pilot)
        assert screen.saved[0].name.endswith("_log-log.pdf")
        assert FigureRecord.read(screen.saved[3]).trend == {"name": "responsivity", "include_excluded": False,
                                                            "log": True}
        assert (pl.read_csv(screen.saved[2]).filter(pl.col("label").str.ends_with("R < 0"))["y"] < 0).all()
        await pilot.press("tab")  # the spectral trend: linear, the choice kept for the photoresponse tab
        await settle(pilot)
        assert not screen.spec.log_x and "l" not in footer_keys(screen)
        await pilot.press("shift+tab")
        await settle(pilot)
        assert screen.spec.log_x


def test_the_help_names_the_markers_the_plot_draws_below_0() -> None:
    """It named ▽, a point in doubt below 0: the points below 0 are ▼."""
    assert f"below 0 a series apart ({NEGATIVE}, {HOLLOW[NEGATIVE]} in doubt)" in TrendsScreen.HELP


# --- the real corpus ----------------------------------------------------------------------------------------------

def test_the_real_corpus_draws_its_negative_photoresponses_apart_and_fits_them(real_store: StagingConfig) -> None:
    """142 of 234 lit It runs have ΔI < 0: every one drawn, in a series of its sign, none dropped silently."""
    metrics = read_metrics(real_store)
    manifest = load_manifest(real_store)
    lit = metrics.filter(pl.col("proc") == "It", pl.col("has_light"), pl.col("power_w").is_not_null(),
                         pl.col("delta_i_a").is_not_null())
    assert lit.filter(pl.col("delta_i_a") < 0).height > lit.height / 2
    negatives = fitted = 0
    for group, number in lit.select("chip_group", "chip_number").unique().sort("*").iter_rows():
        runs = chip_runs(manifest, number, group, None, tz=real_store.local_tz)
        rows = trend_rows(runs, metrics, current_annotations(real_store.store_root))
        spec = trend_spec(Trend.PHOTORESPONSE, rows, include_excluded=True, tz=real_store.local_tz, log_log=True)
        chip = lit.filter(pl.col("chip_group") == group, pl.col("chip_number") == number)
        below = [run for s in spec.series if s.sign < 0 for run in s.point_run_ids]
        assert sorted(below) == sorted(chip.filter(pl.col("delta_i_a") < 0)["run_id"].to_list())
        assert sum(s.x.size for s in spec.series) == chip.filter(pl.col("delta_i_a") != 0).height
        negatives += len(below)
        for series in spec.series:  # each fit is the least-squares line of log |ΔI| against log P
            if series.fit is not None:
                slope = np.polyfit(np.log10(series.x), np.log10(series.y), 1)[0]
                assert series.fit.exponent == pytest.approx(slope, abs=1e-9)
                fitted += 1
            else:
                assert series.x.size < FIT_POINTS or series.x.max() < FIT_SPAN * series.x.min()
    assert negatives == lit.filter(pl.col("delta_i_a") < 0).height and fitted
