"""A chip's trends and the Dirac-point-aligned IVg overlay: engine specs against the metrics table of a staged
synthetic lab, and `labtui plot --trend / --align-cnp` files, records and errors."""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import json
from collections.abc import AsyncIterator
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import polars as pl
import pytest
from textual.pilot import Pilot
from textual.screen import Screen
from textual.widgets import Tab

from labtui.cli import main
from labtui.cli.plot import TRENDS
from labtui.core.annotations import Change, annotate, current_annotations
from labtui.core.config import StagingConfig, load_config
from labtui.core.drawing import draw_axes
from labtui.core.history import load_manifest
from labtui.core.metrics import read_metrics
from labtui.core.metrics.definitions import DRIFT_ALONE, IN_DOUBT
from labtui.core.plotdata import PlotOptions, export_frame, load_group, shape
from labtui.core.plotdata.figure import drawing_of, points_csv
from labtui.core.plotdata.model import PlotSpec, Series
from labtui.core.plotdata.numeric import nice_ticks
from labtui.core.plotdata.selection import FigureRecord, chip_runs
from labtui.core.plotdata.trends import (
    Trend,
    gaps,
    thinned,
    trend_rows,
    trend_spec,
    with_plotted_quantities,
)
from labtui.core.si import format_si
from labtui.core.wording import counted
from labtui.synth import LabSpec
from labtui.synth.demo import config_file_of, write_demo
from labtui.tui.app import LabApp
from labtui.tui.history import HistoryScreen
from labtui.tui.plot import PlotScreen
from labtui.tui.trends import TrendsScreen
from tests.lab import Lab
from tests.pilot import settle


class DemoLab:
    def __init__(self, folder: Path) -> None:
        write_demo(folder, LabSpec(chips=1, days=4, seed=3, irregularities=False))
        self.config_file = config_file_of(folder)
        assert main(["stage", "-q", "--config", str(self.config_file)]) == 0
        self.config: StagingConfig = load_config(self.config_file)
        manifest = load_manifest(self.config)
        self.number = int(manifest["chip_number"].drop_nulls()[0])
        self.runs = chip_runs(manifest, self.number, "Alisson", None, tz=self.config.local_tz)
        self.metrics = read_metrics(self.config)

    def cli(self, *args: str) -> list[str]:
        return [*args, "--config", str(self.config_file)]

    def spec(self, trend: Trend, *, include_excluded: bool = False):
        rows = trend_rows(self.runs, self.metrics, current_annotations(self.config.store_root))
        return trend_spec(trend, rows, include_excluded=include_excluded, tz=self.config.local_tz)


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> DemoLab:
    return DemoLab(tmp_path_factory.mktemp("trends"))


def points(spec) -> pl.DataFrame:
    return export_frame(spec)


def text_of(screen, selector: str) -> str:
    return str(screen.query_one(selector).render())


def test_cnp_trend_points_are_the_metrics_tables_values(lab: DemoLab) -> None:
    spec = lab.spec(Trend.CNP)
    assert [s.label for s in spec.series] == ["CNP forward", "CNP backward"]
    assert spec.y_unit == "V" and spec.x_unit in ("h", "d") and "time since" in spec.x_label
    # in V whatever the range: one chip's axis read mV and another's V, side by side on a slide
    small = trend_rows(lab.runs, lab.metrics.with_columns(pl.col("cnp_fwd_v", "cnp_bwd_v", "hysteresis_v") / 1000),
                       current_annotations(lab.config.store_root))
    assert {trend_spec(trend, small, tz=lab.config.local_tz).y_unit for trend in (Trend.CNP, Trend.HYSTERESIS)} == {"V"}
    drawn = points(spec)
    ivg = lab.metrics.filter(pl.col("proc") == "IVg")
    for series, column in zip(spec.series, ("cnp_fwd_v", "cnp_bwd_v"), strict=True):
        expected = ivg.drop_nulls(column).select("run_id", column)
        got = drawn.filter(pl.col("label") == series.label).join(expected, on="run_id")
        assert got.height == expected.height > 0
        np.testing.assert_allclose(got["y"], got[column])
        assert np.all(np.diff(series.x) >= 0)  # in time order
    seqs = lab.runs.select("run_id", pl.col("seq").alias("history_seq"))
    assert drawn.join(seqs, on="run_id").filter(pl.col("seq") != pl.col("history_seq")).is_empty()
    # the CSV's x is hours or days since a midnight: the file names it, as the axis title does
    assert export_frame(spec)["x_label"].unique().to_list() == [spec.x_label]
    assert "delta_i_snr" not in drawn.columns  # a photoresponse's doubt: not a column of every sweep's point
    # each point says when its run was measured: a trend by seq, or in days since a date, said it nowhere
    measured = drawn.join(lab.runs.select("run_id", "date_local", when="start_time_utc"), on="run_id")
    assert measured.height == drawn.height and measured["start_time_utc"].equals(measured["when"])
    assert measured["date_local"].equals(measured["date_local_right"])


def test_a_trend_against_time_is_drawn_by_run_with_the_same_points_and_pauses(lab: DemoLab) -> None:
    """Sessions weeks apart squeezed each session's runs into one vertical smear on a time axis (a real chip: 20
    sweeps whose Dirac point drifts 2 V within a session, drawn as one column at day 7.5): by run, one step each."""
    rows = trend_rows(lab.runs, lab.metrics, current_annotations(lab.config.store_root))
    for trend in (Trend.CNP, Trend.HYSTERESIS, Trend.DARK):
        in_time = trend_spec(trend, rows, tz=lab.config.local_tz)
        by_run = trend_spec(trend, rows, tz=lab.config.local_tz, by_seq=True)
        assert (by_run.x_label, by_run.x_unit, by_run.title.endswith(" by run")) == ("run (seq)", "", True), trend
        for timed, ordered in zip(in_time.series, by_run.series, strict=True):
            assert ordered.x.tolist() == list(ordered.point_seqs) == list(timed.point_seqs)  # x: each run's seq
            assert ordered.y.tolist() == timed.y.tolist() and ordered.breaks == timed.breaks  # a pause still lifts
    by_run = trend_spec(Trend.CNP, rows, tz=lab.config.local_tz, by_seq=True)
    assert any(s.breaks for s in by_run.series)
    # each measuring day's start marked with its date, between the runs either side: by seq a pause of days read as
    # one step, and nothing said when anything was measured
    plotted = points(by_run).select("seq", "date_local").unique().sort("seq")
    days = plotted.group_by("date_local").agg(pl.col("seq").min()).sort("seq")
    assert [day for _, day in by_run.sessions] == [f"{day:%Y-%m-%d}" for day in days["date_local"]]
    assert by_run.sessions[0][0] == days["seq"][0] - 0.5
    assert all(prev < at < first for (at, _), first, prev in zip(
        by_run.sessions[1:], days["seq"][1:], [plotted.filter(pl.col("seq") < s)["seq"].max() for s in days["seq"][1:]],
        strict=True))
    assert trend_spec(Trend.CNP, rows, tz=lab.config.local_tz).sessions == ()  # a time axis says when itself
    assert by_run.integer_x and not trend_spec(Trend.CNP, rows, tz=lab.config.local_tz).integer_x  # no run 1.2
    assert nice_ticks(1, 2, 5, integer=True) == ([1.0, 2.0], ["1", "2"])
    assert nice_ticks(1, 69, 5, integer=True) == ([20.0, 40.0, 60.0], ["20", "40", "60"])
    with pytest.raises(ValueError, match="not drawn against time"):
        trend_spec(Trend.SPECTRAL, rows, tz=lab.config.local_tz, by_seq=True)


def test_a_chips_trends_against_time_share_one_origin(lab: DemoLab) -> None:
    """The Dirac point's axis read "time since 2025-09-08", the dark current's "since 2025-09-15" (each from its own
    first run): panels of one chip did not line up, and hiding a first run moved the origin."""
    rows = trend_rows(lab.runs, lab.metrics, current_annotations(lab.config.store_root))
    first = lab.runs.sort("start_time_utc")["start_time_utc"][0].astimezone(ZoneInfo(lab.config.local_tz))
    early = pl.col("start_time_utc") < pl.col("start_time_utc").min() + dt.timedelta(days=1)
    hidden = rows.with_columns(excluded=early, exclude_reason=pl.lit("test"))  # the first day's runs excluded
    for trend in (Trend.CNP, Trend.HYSTERESIS, Trend.DARK):
        for chosen in (rows, hidden):
            label = trend_spec(trend, chosen, tz=lab.config.local_tz).x_label
            assert label == f"time since {first:%Y-%m-%d}, {lab.config.local_tz}", (trend, label)


def test_a_cnp_of_a_sentinel_sweep_is_left_out_of_the_trend_and_said(lab: DemoLab) -> None:
    """A sweep whose Vg column read 5e307 gave that Dirac point: the trend's axis overflowed plotext (the app
    crashed); it is left out like the plots' points of ±1e30 or more, and counted."""
    first = lab.metrics.filter(pl.col("proc") == "IVg").drop_nulls("cnp_fwd_v")["run_id"][0]
    metrics = lab.metrics.with_columns(cnp_fwd_v=pl.when(pl.col("run_id") == first).then(5e307)
                                       .otherwise(pl.col("cnp_fwd_v")))
    rows = trend_rows(lab.runs, metrics, current_annotations(lab.config.store_root))
    spec = trend_spec(Trend.CNP, rows, tz=lab.config.local_tz)
    assert "CNP forward: 1 point of ±1e+30 or more (overflow marks) left out" in spec.messages
    assert first not in spec.series[0].point_run_ids and first in spec.series[1].point_run_ids


def test_the_table_names_why_a_responsivity_is_in_doubt_for_exports(
    lab: DemoLab, capsys: pytest.CaptureFixture[str]
) -> None:
    """The app marks a doubted responsivity ⚠ and a trend draws it hollow; `labtui metrics --format csv` and
    `open_store().metrics` carried the +1.5 A/W of a settling current with nothing to say so."""
    lit = lab.metrics.filter(pl.col("proc") == "It", pl.col("has_light"))
    priced = lit.filter(pl.col("responsivity_a_per_w").is_not_null())
    weak = priced.filter(pl.col("delta_i_snr") < 5)["run_id"].to_list()
    drifting = priced.filter(DRIFT_ALONE)["run_id"].to_list()
    assert weak and drifting  # the demo's faintest pulses and steepest dark drifts
    doubt = dict(lab.metrics.select("run_id", "responsivity_doubt").iter_rows())
    assert all("ΔI under 5 σ of the dark noise" in doubt[run_id] for run_id in weak)
    assert all("the dark drift alone could make ΔI" in doubt[run_id] for run_id in drifting)
    sure = lab.metrics.filter(~pl.col("run_id").is_in(weak + drifting), ~pl.col("calibration_stale").fill_null(False),
                              ~(pl.col("calibration_spread") >= 2).fill_null(False))
    assert sure.height and sure["responsivity_doubt"].is_null().all()
    # no responsivity, no doubt of one (a lit run no calibration prices: its ΔI's doubts are delta_i_snr's)
    unpriced = lit.filter(pl.col("responsivity_a_per_w").is_null(), IN_DOUBT)
    assert unpriced.height and unpriced["responsivity_doubt"].is_null().all()
    capsys.readouterr()
    assert main(lab.cli("metrics", "--format", "csv")) == 0
    exported = pl.read_csv(capsys.readouterr().out.encode())
    assert dict(exported.select("run_id", "responsivity_doubt").iter_rows()) == doubt


def test_photoresponse_and_responsivity_per_wavelength_skip_and_count_nulls(lab: DemoLab) -> None:
    lit = lab.metrics.filter(pl.col("proc") == "It", pl.col("has_light"))
    without_power = lit.filter(pl.col("power_w").is_null()).height
    for trend, column in ((Trend.PHOTORESPONSE, "delta_i_a"), (Trend.RESPONSIVITY, "responsivity_a_per_w")):
        spec = lab.spec(trend)
        assert spec.x_label == "P" and spec.x_unit.endswith("W")
        periods = lit.join(lab.runs.select("run_id", "laser_period_s"), on="run_id")
        keys = ("laser_wavelength_nm", "vg_fixed_v", "laser_period_s")
        groups = periods.drop_nulls(["power_w", column]).select(keys).unique().sort("*")
        # a series per wavelength, gate voltage and laser period (ΔI is read at the end of a pulse)
        assert groups["vg_fixed_v"].n_unique() > 1 and groups["laser_period_s"].n_unique() > 1
        assert [s.label for s in spec.series] == [f"{w:g} nm, VG={v:g} V, period {p:g} s"
                                                  for w, v, p in groups.iter_rows()]
        drawn = points(spec).join(lit.select("run_id", "power_w", column), on="run_id")
        assert drawn.height == lit.drop_nulls(["power_w", column]).height
        doubts = drawn.join(lit.select("run_id", snr="delta_i_snr", stale="calibration_stale"), on="run_id")
        assert doubts["delta_i_snr"].to_list() == doubts["snr"].to_list()  # which points the warnings count
        assert doubts["calibration_stale"].to_list() == doubts["stale"].to_list()
        x_factor = drawn["x"][0] / drawn["power_w"][0]
        y_factor = drawn["y"][0] / drawn[column][0]
        np.testing.assert_allclose(drawn["x"], drawn["power_w"] * x_factor)
        np.testing.assert_allclose(drawn["y"], drawn[column] * y_factor)
        if without_power:
            assert f"{without_power} lit It run{'s' if without_power > 1 else ''} without power_w left out" \
                in spec.messages
    # a period per wavelength and gate voltage: no series mixes periods, so none is split by them (a legend of 20
    # entries was unreadable in a terminal)
    apart = lab.runs.with_columns(laser_period_s=pl.col("laser_wavelength_nm") + 1000 * pl.col("vg_fixed_v"))
    apart_rows = trend_rows(apart, lab.metrics, current_annotations(lab.config.store_root))
    labels = [s.label for s in trend_spec(Trend.RESPONSIVITY, apart_rows, tz=lab.config.local_tz).series]
    assert labels and not any("period" in label for label in labels)
    weak = lit.drop_nulls("power_w").filter(pl.col("delta_i_snr") < 5).height  # the demo's faintest pulses
    drifting = lit.drop_nulls("power_w").filter(DRIFT_ALONE).height  # and its steepest dark drifts
    assert weak and drifting
    assert lab.spec(Trend.PHOTORESPONSE).warnings == (
        f"{counted(weak, 'point')} with a ΔI under 5σ of the dark noise (delta_i_snr): not resolved",
        f"{counted(drifting, 'point')} whose ΔI the dark drift alone, carried on under the light, could make "
        "(delta_i_drift_corrected_a)")
    one = lit.drop_nulls("power_w")["run_id"][0]
    resolved = lab.metrics.with_columns(delta_i_snr=pl.lit(100.0), delta_i_drift_corrected_a=pl.col("delta_i_a"))
    stale = resolved.with_columns(calibration_stale=pl.col("calibration_stale") | (pl.col("run_id") == one))
    rows = trend_rows(lab.runs, stale, current_annotations(lab.config.store_root))
    assert trend_spec(Trend.PHOTORESPONSE, rows, tz=lab.config.local_tz).warnings == (
        "1 point from a stale laser calibration (calibration_stale: measured far in time from the run)",)
    unresolved = resolved.with_columns(delta_i_snr=pl.when(pl.col("run_id") == one).then(4.9).otherwise(100.0))
    rows = trend_rows(lab.runs, unresolved, current_annotations(lab.config.store_root))
    assert trend_spec(Trend.RESPONSIVITY, rows, tz=lab.config.local_tz).warnings == (
        "1 point with a ΔI under 5σ of the dark noise (delta_i_snr): not resolved",)
    disputed = resolved.with_columns(calibration_spread=pl.when(pl.col("run_id") == one).then(2.5).otherwise(1.1))
    rows = trend_rows(lab.runs, disputed, current_annotations(lab.config.store_root))
    disputed_spec = trend_spec(Trend.RESPONSIVITY, rows, tz=lab.config.local_tz)
    assert disputed_spec.warnings == (
        "1 point whose calibrations disagree 2× or more (calibration_spread)",)
    exported = points(disputed_spec)  # the CSV says which point
    assert exported.filter(pl.col("calibration_spread") >= 2)["run_id"].to_list() == [one]
    # a ΔI the dark drift alone could make: a settling current with no step at the switches read +1.5 A/W
    drift = resolved.with_columns(delta_i_drift_corrected_a=pl.when(pl.col("run_id") == one)
                                  .then(-0.2 * pl.col("delta_i_a")).otherwise(pl.col("delta_i_a")))
    drift_rows = trend_rows(lab.runs, drift, current_annotations(lab.config.store_root))
    drift_spec = trend_spec(Trend.PHOTORESPONSE, drift_rows, tz=lab.config.local_tz)
    assert drift_spec.warnings == ("1 point whose ΔI the dark drift alone, carried on under the light, could make "
                                   "(delta_i_drift_corrected_a)",)
    exported = points(drift_spec)
    assert exported.filter(pl.col("delta_i_drift_corrected_a") != pl.col("delta_i_a"))["run_id"].to_list() == [one]
    # and the plot: the one point in doubt is drawn hollow, at its place, for each kind of doubt; none without one
    for metrics, trend in ((stale, Trend.PHOTORESPONSE), (unresolved, Trend.RESPONSIVITY), (disputed, Trend.SPECTRAL),
                           (drift, Trend.RESPONSIVITY)):
        spec = trend_spec(trend, trend_rows(lab.runs, metrics, current_annotations(lab.config.store_root)),
                          tz=lab.config.local_tz)
        drawn = points(spec).filter(pl.col("run_id") == one)
        assert spec.doubted == ((drawn["x"][0], drawn["y"][0]),), trend
    assert trend_spec(Trend.RESPONSIVITY, trend_rows(lab.runs, resolved, current_annotations(lab.config.store_root)),
                      tz=lab.config.local_tz).doubted == ()
    assert lab.spec(Trend.CNP).doubted == ()
    rows = trend_rows(lab.runs, stale, current_annotations(lab.config.store_root))
    photoresponse = lab.spec(Trend.PHOTORESPONSE)  # joined only where no power repeats (else vertical zig-zags)
    assert photoresponse.joined == all(np.unique(s.x).size == s.x.size for s in photoresponse.series)
    repeated = pl.concat([rows, rows.with_columns(run_id=pl.col("run_id") + "-again", seq=pl.col("seq") + 1000)])
    assert not trend_spec(Trend.PHOTORESPONSE, repeated, tz=lab.config.local_tz).joined
    spectral = lab.spec(Trend.SPECTRAL)
    assert spectral.x_unit == "nm" and not spectral.joined
    assert sorted(points(spectral)["x"].unique()) == sorted(lit.drop_nulls("responsivity_a_per_w")
                                                            ["laser_wavelength_nm"].unique())
    # R depends on power: a spectrum of points at several powers says so (split by VG, its legend no longer did)
    powers = lit.drop_nulls("responsivity_a_per_w")["power_w"]
    assert powers.max() >= 1.5 * powers.min()
    assert (f"R at powers from {format_si(powers.min(), 'W', zeros=True)} to {format_si(powers.max(), 'W', zeros=True)}"
            ": it depends on power (the responsivity trend shows how), so compare wavelengths at one power"
            ) in spectral.messages
    one_power = trend_rows(lab.runs, lab.metrics.with_columns(power_w=pl.lit(6e-6)),
                           current_annotations(lab.config.store_root))
    assert not any("R at powers" in m for m in trend_spec(Trend.SPECTRAL, one_power, tz=lab.config.local_tz).messages)
    # and the figure's title says at what power (the notes go to stderr, not on the page)
    assert spectral.title.endswith(f" · P {format_si(powers.min(), 'W', zeros=True)} – "
                                   f"{format_si(powers.max(), 'W', zeros=True)}")
    assert trend_spec(Trend.SPECTRAL, one_power, tz=lab.config.local_tz).title.endswith(" · P=6.00 µW")
    assert not any("a spectral response needs" in m for m in spectral.messages)
    # one wavelength: one column of points, said (a spectrum of one λ read as if the chip answered only there), and
    # said first: at 80×24 the notes past four lines scroll out of sight; its powers have nothing to be compared with
    one_colour = trend_rows(lab.runs.with_columns(laser_wavelength_nm=pl.lit(365.0)), lab.metrics,
                            current_annotations(lab.config.store_root))
    notes = trend_spec(Trend.SPECTRAL, one_colour, tz=lab.config.local_tz).messages
    assert notes[0] == "every point at 365 nm: a spectral response needs lit runs at two wavelengths or more"
    assert not any("R at powers" in note for note in notes)
    # after the runs left out, though: the app's box shows the first lines, and the spectral notes had pushed it out
    lit_seq = one_colour.filter(pl.col("responsivity_a_per_w").is_not_null())["seq"][0]
    hiding = one_colour.with_columns(excluded=pl.col("seq") == lit_seq)
    notes = trend_spec(Trend.SPECTRAL, hiding, tz=lab.config.local_tz).messages
    assert notes[:2] == ("1 excluded run hidden",
                         "every point at 365 nm: a spectral response needs lit runs at two wavelengths or more")


def test_a_terminal_draws_one_point_per_cell_and_joins_only_sparse_series(lab: DemoLab) -> None:
    spec = lab.spec(Trend.CNP)
    wide = thinned(spec, 100_000, 100_000)  # a cell per run: every point, joined
    assert wide.series[0].x.size == spec.series[0].x.size and wide.joined
    crowded = thinned(spec, 4, 2)  # 8 cells for the chip's IVg runs
    assert 2 <= crowded.series[0].x.size <= 8 < spec.series[0].x.size and not crowded.joined
    assert crowded.series[0].x[0] == spec.series[0].x[0]  # the first run of each cell is kept, in x order
    assert np.all(np.diff(crowded.series[0].x) >= 0)


def test_dark_trend_has_every_it_run_in_a_series_per_gate_voltage(lab: DemoLab) -> None:
    """A dark current at VG = −5 V and at +1 V are other quantities: one series zig-zagged between them."""
    spec = lab.spec(Trend.DARK)
    its = lab.metrics.filter(pl.col("proc") == "It").drop_nulls("i_dark_a")
    assert sorted(points(spec)["run_id"]) == sorted(its["run_id"])
    gates = its["vg_fixed_v"].unique().sort()
    assert [s.label for s in spec.series] == [f"VG={v:g} V" for v in gates] and gates.len() > 1
    for series in spec.series:
        assert set(its.filter(pl.col("run_id").is_in(series.point_run_ids))["vg_fixed_v"]) == {
            float(series.label.removeprefix("VG=").removesuffix(" V"))}
    one_gate = trend_rows(lab.runs.filter(pl.col("vg_fixed_v") == gates[0]), lab.metrics,
                          current_annotations(lab.config.store_root))
    assert [s.label for s in trend_spec(Trend.DARK, one_gate, tz=lab.config.local_tz).series] == ["I dark"]


def test_a_trend_of_runs_at_several_biases_is_a_series_per_bias(lab: DemoLab) -> None:
    """Runs at Vds 0.1 V and at 0.5 V (a dark current, a ΔI, 5× apart) were one series: it zig-zagged between them."""
    runs = lab.runs.with_columns(vds_v=pl.when(pl.col("seq") % 2 == 0).then(0.5).otherwise(pl.col("vds_v")))
    rows = trend_rows(runs, lab.metrics, current_annotations(lab.config.store_root))
    spec = trend_spec(Trend.CNP, rows, tz=lab.config.local_tz)
    ivgs = runs.filter(pl.col("proc") == "IVg")
    biases = {series.label.rsplit("VDS=", 1)[1] for series in spec.series}  # `CNP forward, VDS=0.5 V`
    assert biases == {f"{v:g} V" for v in ivgs["vds_v"].unique()} and len(biases) == 2
    for series in spec.series:
        assert set(ivgs.filter(pl.col("run_id").is_in(series.point_run_ids))["vds_v"]) == {
            float(series.label.rsplit("VDS=", 1)[1].removesuffix(" V"))}
    # sweeps at 0 V have no Dirac point: the runs drawn are of one bias, and no series is named by it
    zero = runs.with_columns(vds_v=pl.when(pl.col("seq") % 2 == 0).then(0.0).otherwise(pl.col("vds_v")))
    unread = lab.metrics.with_columns(
        **{column: pl.when(pl.col("run_id").is_in(zero.filter(pl.col("vds_v") == 0)["run_id"].implode()))
           .then(None).otherwise(pl.col(column)) for column in ("cnp_fwd_v", "cnp_bwd_v")})
    spec = trend_spec(Trend.CNP, trend_rows(zero, unread, current_annotations(lab.config.store_root)),
                      tz=lab.config.local_tz)
    assert [series.label for series in spec.series] == ["CNP forward", "CNP backward"]


def test_excluded_runs_are_hidden_and_counted_unless_included(tmp_path: Path, capsys) -> None:
    lab = DemoLab(tmp_path)
    ivg = lab.runs.filter(pl.col("proc") == "IVg").head(3)
    annotate(lab.config.store_root, ivg, [Change("exclude", "gate leak")], author="test")
    spec = lab.spec(Trend.CNP)
    assert spec.messages[0] == "3 excluded runs hidden" and spec.hidden == 3  # first: the app's status puts it first
    assert not set(ivg["run_id"]) & set(points(spec)["run_id"])
    everything = lab.spec(Trend.CNP, include_excluded=True)
    assert set(ivg["run_id"]) <= set(points(everything)["run_id"]) and not everything.messages
    assert everything.hidden == 0
    # drawn like the others: the CSV says which were excluded, and why
    marked = points(everything).filter(pl.col("excluded")).select("run_id", "exclude_reason").unique()
    assert set(marked["run_id"]) == set(ivg["run_id"]) and set(marked["exclude_reason"]) == {"gate leak"}
    # and drawn crossed out, where they are: they looked like the others, only the CSV told them apart
    crossed = points(everything).filter(pl.col("excluded")).select("x", "y").rows()
    assert sorted(everything.excluded) == sorted(crossed) and len(crossed) >= 3
    for drawn in everything.series:  # the line stops on both sides of each: it ran through them, read as the trend
        for at, run_id in enumerate(drawn.point_run_ids):
            if run_id in set(ivg["run_id"]):
                assert at == 0 or at in drawn.breaks, (drawn.label, at, drawn.breaks)
                assert at + 1 == drawn.x.size or at + 1 in drawn.breaks, (drawn.label, at, drawn.breaks)
    assert lab.spec(Trend.CNP).excluded == ()
    assert "excluded" not in points(lab.spec(Trend.CNP)).columns  # none drawn: no column of them
    assert lab.spec(Trend.DARK).messages == ()  # the hidden runs are IVg: the dark trend lost nothing

    out = tmp_path / "cnp.svg"
    assert main(lab.cli("plot", str(lab.number), "--group", "Alisson", "--trend", "cnp", "--out", str(out))) == 0
    record = json.loads((tmp_path / "cnp.svg.json").read_text(encoding="utf-8"))
    assert record["trend"] == {"name": "cnp", "include_excluded": False}
    assert not set(ivg["run_id"]) & {run["run_id"] for run in record["runs"]}
    capsys.readouterr()
    assert main(lab.cli("plot", str(lab.number), "--group", "Alisson", "--trend", "cnp", "--include-excluded",
                        "--out", str(out))) == 0  # which points are crossed out, and why, said as a trace figure's
    assert capsys.readouterr().err.count("is excluded (gate leak); drawn, --include-excluded") == ivg.height
    assert main(lab.cli("plot", str(lab.number), "--group", "Alisson", "--trend", "cnp", "--out", str(out))) == 0
    assert "labtui plot: 3 excluded runs hidden, --include-excluded draws them\n" in capsys.readouterr().err


def test_a_trend_redrawn_from_its_record_draws_a_run_excluded_since_and_says_so(tmp_path: Path, capsys) -> None:
    """A trace figure's `--from` drew a run excluded since (the figure is of the runs it records) and a trend's
    dropped it without a word: its record no longer redrew the figure."""
    lab = DemoLab(tmp_path)
    out, again = tmp_path / "cnp.svg", tmp_path / "again.svg"
    assert main(lab.cli("plot", str(lab.number), "--group", "Alisson", "--trend", "cnp", "--out", str(out))) == 0
    drawn = json.loads((tmp_path / "cnp.svg.json").read_text(encoding="utf-8"))["runs"]
    run = lab.runs.filter(pl.col("run_id") == drawn[0]["run_id"])
    annotate(lab.config.store_root, run, [Change("exclude", "gate leak")], author="test")
    capsys.readouterr()
    assert main(lab.cli("plot", "--from", str(out) + ".json", "--out", str(again))) == 0
    redrawn = json.loads((tmp_path / "again.svg.json").read_text(encoding="utf-8"))["runs"]
    assert [r["run_id"] for r in redrawn] == [r["run_id"] for r in drawn]
    said = capsys.readouterr().err
    assert f"(run {run['run_id'][0]}) is excluded (gate leak); drawn, as the figure records it" in said


def test_plot_by_seq_records_its_axis_and_is_refused_where_there_is_no_time_axis(lab: DemoLab, tmp_path: Path,
                                                                                 capsys) -> None:
    chip = (str(lab.number), "--group", "Alisson")
    out, again = tmp_path / "cnp.svg", tmp_path / "again.svg"
    assert main(lab.cli("plot", *chip, "--trend", "cnp", "--by-seq", "--out", str(out))) == 0
    record = json.loads((tmp_path / "cnp.svg.json").read_text(encoding="utf-8"))
    assert record["trend"] == {"name": "cnp", "include_excluded": False, "by_seq": True}
    assert main(lab.cli("plot", "--from", str(out) + ".json", "--out", str(again))) == 0  # redrawn by run too
    assert json.loads((tmp_path / "again.svg.json").read_text(encoding="utf-8"))["trend"] == record["trend"]
    capsys.readouterr()
    for args, said in (
        (("plot", *chip, "--trend", "spectral", "--by-seq"), "the spectral trend is not drawn against time: --by-seq "
                                                              "is for cnp, hysteresis and dark"),
        (("plot", *chip, "--by-seq"), "--by-seq draws a trend against the runs' order: give it with --trend"),
    ):
        assert main(lab.cli(*args, "--out", str(tmp_path / "no.svg"))) == 2
        assert said in capsys.readouterr().err
    record["trend"]["by_seq"] = "no"  # a hand-edited record: text is no switch (it read as true)
    (tmp_path / "edited.json").write_text(json.dumps(record), encoding="utf-8")
    assert main(lab.cli("plot", "--from", str(tmp_path / "edited.json"), "--out", str(tmp_path / "no.svg"))) == 2
    assert "its trend's by_seq must be true or false, got 'no'" in capsys.readouterr().err
    record["trend"] = {"name": "spectral", "include_excluded": False, "by_seq": True}  # named as the record has it
    (tmp_path / "edited.json").write_text(json.dumps(record), encoding="utf-8")
    assert main(lab.cli("plot", "--from", str(tmp_path / "edited.json"), "--out", str(tmp_path / "no.svg"))) == 2
    assert f"the spectral trend is not drawn against time: {tmp_path / 'edited.json'}'s by_seq is for cnp" in (
        capsys.readouterr().err)
    assert not (tmp_path / "no.svg").exists()


def test_lit_sweeps_dirac_points_are_a_series_apart_from_the_dark_ones(lab: DemoLab) -> None:
    """A lit sweep's Dirac point moves with the light (photogating): drawn on the dark sweeps' line, a real chip's
    lit sweep at −0.66 V read as the chip drifting."""
    ivg_seqs = lab.runs.filter(pl.col("proc") == "IVg")["seq"].to_list()
    lit = lab.runs.with_columns(has_light=pl.col("has_light") | pl.col("seq").is_in(ivg_seqs[1:3]))
    rows = trend_rows(lit, lab.metrics, current_annotations(lab.config.store_root))
    cnp = trend_spec(Trend.CNP, rows, tz=lab.config.local_tz)
    assert [s.label for s in cnp.series] == ["CNP forward, dark", "CNP forward, lit", "CNP backward, dark",
                                             "CNP backward, lit"]
    assert [s.point_seqs for s in cnp.series if s.label.endswith("lit")] == [tuple(ivg_seqs[1:3])] * 2
    hysteresis = trend_spec(Trend.HYSTERESIS, rows, tz=lab.config.local_tz)
    assert [s.label for s in hysteresis.series] == ["dark", "lit"]
    assert [s.label for s in lab.spec(Trend.HYSTERESIS).series] == ["hysteresis"]  # every sweep dark: one series


def test_an_aligned_sweeps_dirac_points_are_said_as_the_table_says_them(real_store: StagingConfig) -> None:
    """Aligned, the backward leg's Dirac point is the run's hysteresis: the real chip 67's −86.1497 mV was rounded
    to µV first (−86.150) and said −86.2 mV, beside the table's −86.1 mV."""
    runs = chip_runs(load_manifest(real_store), 67, "Alisson", None, tz=real_store.local_tz)
    metrics = read_metrics(real_store)
    rows = with_plotted_quantities(runs.filter(pl.col("proc") == "IVg"), metrics)
    spec = shape(load_group("IVg", rows, real_store.stage_root), PlotOptions(align_cnp=True), None,
                 real_store.metrics)
    table = dict(metrics.select("run_id", "hysteresis_v").drop_nulls().iter_rows())
    said = [marker for marker in spec.markers if marker.run_id in table and abs(marker.x) > 1e-6]
    assert len(said) >= 10
    for marker in said:
        assert f"Dirac Vg − V_CNP={format_si(table[marker.run_id], 'V')}," in marker.text


def test_the_hysteresis_trend_is_each_sweeps_backward_minus_forward_dirac_point(lab: DemoLab) -> None:
    """"Is the hysteresis growing?" was read off the gap between the Dirac point trend's two lines."""
    spec = lab.spec(Trend.HYSTERESIS)
    drawn = points(spec).select("run_id", "y")
    ivg = lab.metrics.filter(pl.col("proc") == "IVg", pl.col("run_id").is_in(lab.runs["run_id"].to_list()))
    expected = ivg.drop_nulls("hysteresis_v")
    assert drawn.height == expected.height > 0 and spec.y_unit.endswith("V")
    scale = {"V": 1.0, "mV": 1e-3}[spec.y_unit]
    joined = drawn.join(expected.select("run_id", "hysteresis_v"), on="run_id")
    assert joined.height == drawn.height and np.allclose(joined["y"] * scale, joined["hysteresis_v"], rtol=1e-12)


def test_a_trace_figures_legend_power_in_doubt_is_warned_as_a_trends_point_is(lab: DemoLab) -> None:
    """A figure of It runs names each lit run's P in its legend: one from a calibration 141 h away, or from
    calibrations 5× apart, was drawn with no warning, while the same run's trend point was hollow and counted."""
    lit = lab.runs.filter(pl.col("proc") == "It").join(
        lab.metrics.drop_nulls("power_w").select("run_id"), on="run_id").head(3)
    first, second = lit["run_id"][0], lit["run_id"][1]
    doubted = lab.metrics.with_columns(
        calibration_stale=pl.col("run_id") == first,
        calibration_spread=pl.when(pl.col("run_id") == second).then(5.0).otherwise(1.0))
    spec = shape(load_group("It", with_plotted_quantities(lit, doubted), lab.config.stage_root), PlotOptions())
    seq = dict(lit.select("run_id", "seq").iter_rows())
    assert [w for w in spec.warnings if w.startswith("P of")] == [
        f"P of seq {seq[first]} from a stale laser calibration (calibration_stale: measured far in time from the run)",
        f"P of seq {seq[second]} whose calibrations disagree 2× or more (calibration_spread)"]
    plain = lab.metrics.with_columns(calibration_stale=pl.lit(False), calibration_spread=pl.lit(1.0))
    spec = shape(load_group("It", with_plotted_quantities(lit, plain), lab.config.stage_root), PlotOptions())
    assert not [w for w in spec.warnings if w.startswith("P of")]


def test_a_trace_figures_runs_whose_delta_i_is_in_doubt_are_said_in_its_legend_warnings_and_csv(lab: DemoLab) -> None:
    """An It figure of runs under 5σ of their dark noise, or whose step the dark drift alone makes, said nothing of
    it (a referee's first question), though their trend points were hollow and the metrics said so."""
    lit = lab.runs.filter(pl.col("proc") == "It").join(
        lab.metrics.drop_nulls("power_w").select("run_id"), on="run_id").head(3)
    first, second, third = lit["run_id"]
    doubted = lab.metrics.with_columns(
        calibration_stale=pl.lit(False), calibration_spread=pl.lit(1.0), delta_i_a=pl.lit(1e-8),
        delta_i_snr=pl.when(pl.col("run_id") == first).then(2.0).otherwise(50.0),
        delta_i_drift_corrected_a=pl.when(pl.col("run_id") == second).then(-1e-9).otherwise(1e-8))
    spec = shape(load_group("It", with_plotted_quantities(lit, doubted), lab.config.stage_root), PlotOptions())
    seq = dict(lit.select("run_id", "seq").iter_rows())
    assert [w for w in spec.warnings if "ΔI" in w] == [
        f"seq {seq[first]} with a ΔI under 5σ of the dark noise (delta_i_snr): not resolved",
        f"seq {seq[second]} whose ΔI the dark drift alone, carried on under the light, could make "
        "(delta_i_drift_corrected_a)"]
    labels = {s.run_id: s.label for s in spec.series}
    assert labels[first].endswith(" (ΔI < 5σ)") and labels[second].endswith(" (drift?)")
    assert "(" not in labels[third]
    points = pl.read_csv(io.BytesIO(points_csv(spec)))
    assert {"delta_i_snr", "delta_i_a", "delta_i_drift_corrected_a"} <= set(points.columns)
    assert points.filter(pl.col("run_id") == first)["delta_i_snr"].unique().to_list() == [2.0]


def test_a_sweep_figures_csv_holds_the_dirac_points_it_marks(lab: DemoLab) -> None:
    """The diamonds of an IVg overlay were in the figure alone: its CSV could not rebuild it, nor say whose each was."""
    runs = with_plotted_quantities(lab.runs.filter(pl.col("proc") == "IVg").head(3), lab.metrics)
    spec = shape(load_group("IVg", runs, lab.config.stage_root), PlotOptions())
    frame = export_frame(spec)
    dirac = frame.filter(pl.col("label").str.starts_with("Dirac point, "))
    assert dirac.height == len(spec.markers) >= 3
    assert dirac.select("x", "y").rows() == [(marker.x, marker.y) for marker in spec.markers]
    assert set(dirac["seq"]) == set(runs["seq"]) and dirac["x_unit"].unique().to_list() == [spec.x_unit]
    curves = frame.filter(~pl.col("label").str.starts_with("Dirac point"))
    for run_id, x in dirac.select("run_id", "x").rows():  # on its run's curve, as drawn
        assert curves.filter(pl.col("run_id") == run_id)["x"].min() <= x <= curves["x"].max()


def test_an_excluded_run_drawn_with_the_others_is_faded_in_the_figure(lab: DemoLab) -> None:
    """Drawn with --include-excluded, an excluded run's trace looked like the others: only its legend label's
    "(excluded)" told it apart."""
    from matplotlib.figure import Figure

    from labtui.core.drawing import EXCLUDED_ALPHA, draw_axes

    runs = lab.runs.filter(pl.col("proc") == "It").head(3).with_columns(excluded=pl.int_range(pl.len()) == 1)
    spec = shape(load_group("It", runs, lab.config.stage_root), PlotOptions())
    assert [s.excluded for s in spec.series] == [False, True, False] and spec.series[1].label.endswith("(excluded)")
    ax = Figure().add_subplot()
    draw_axes(ax, drawing_of(spec))
    drawn = {line.get_gid(): line.get_alpha() for line in ax.get_lines() if str(line.get_gid()).startswith("series")}
    assert drawn == {"series-0": 1.0, "series-1": EXCLUDED_ALPHA, "series-2": 1.0}


def test_aligned_overlay_puts_every_dirac_point_at_zero(lab: DemoLab) -> None:
    runs = with_plotted_quantities(lab.runs.filter(pl.col("proc") == "IVg").head(4), lab.metrics)
    runs = runs.with_columns(cnp_fwd_v=pl.when(pl.int_range(pl.len()) == 3).then(None).otherwise("cnp_fwd_v"))
    spec = shape(load_group("IVg", runs, lab.config.stage_root), PlotOptions(align_cnp=True))
    assert spec.x_label == "Vg − V_CNP"
    assert {s.run_id for s in spec.series} == set(runs["run_id"][:3])
    assert any(m.startswith("1 run without a forward Dirac point") for m in spec.messages)
    forward = [m for m in spec.markers if "Dirac" in m.text]
    assert forward and min(abs(m.x) for m in forward) < 0.05  # the forward leg's own Dirac point lands on 0
    assert all("Dirac Vg − V_CNP=" in m.text for m in spec.markers)  # the shifted value, named as the x axis


def test_cli_trends_write_every_format_and_redraw(lab: DemoLab, tmp_path: Path, capsys) -> None:
    assert tuple(Trend) == TRENDS  # the command line's choices, written out so that `--help` imports nothing
    for trend, name in zip(Trend, ("c.pdf", "h.svg", "p.svg", "r.svg", "s.svg", "d.png"), strict=True):
        out = tmp_path / name
        assert main(lab.cli("plot", str(lab.number), "--group", "Alisson", "--trend", str(trend),
                            "--out", str(out))) == 0, trend
        assert out.stat().st_size > 1000
    assert "(dark trend: " in capsys.readouterr().out
    again = tmp_path / "again.svg"
    assert main(lab.cli("plot", "--from", str(tmp_path / "d.png.json"), "--out", str(again))) == 0
    assert json.loads((tmp_path / "again.svg.json").read_text(encoding="utf-8"))["trend"]["name"] == "dark"
    capsys.readouterr()
    # a trend has no log axis: its redraw with --log wrote the same figure without a word, as if it were drawn
    assert main(lab.cli("plot", "--from", str(tmp_path / "d.png.json"), "--log", "--out", str(tmp_path / "l.svg"))) == 2
    assert capsys.readouterr().err == (f"labtui: {tmp_path / 'd.png.json'} is a trend's record, one point per run: "
                                       "--log does not apply\n")
    assert not (tmp_path / "l.svg").exists()
    aligned = tmp_path / "aligned.pdf"
    assert main(lab.cli("plot", str(lab.number), "--group", "Alisson", "--proc", "IVg", "--align-cnp",
                        "--out", str(aligned))) == 0
    assert json.loads((tmp_path / "aligned.pdf.json").read_text(encoding="utf-8"))["options"]["align_cnp"] is True
    assert main(lab.cli("plot", "--from", str(tmp_path / "aligned.pdf.json"), "--out", str(again))) == 0


def test_cli_trend_of_chosen_runs_draws_their_points_alone(lab: DemoLab, tmp_path: Path, capsys) -> None:
    """A paper's figure of one session's power series: `--seq` was refused with a trend, and the only way to draw
    those runs alone was to exclude every other run of the chip, hiding them everywhere."""
    out, points_file = tmp_path / "r.svg", tmp_path / "r.csv"
    lit = lab.runs.filter(pl.col("proc") == "It").join(lab.metrics.drop_nulls("responsivity_a_per_w")
                                                       .select("run_id"), on="run_id").sort("seq")
    chosen = lit["seq"].head(2).to_list()
    assert main(lab.cli("plot", str(lab.number), "--group", "Alisson", "--trend", "responsivity", "--seq",
                        ",".join(map(str, chosen)), "--out", str(out), "--points", str(points_file))) == 0
    assert sorted(set(pl.read_csv(points_file)["seq"].to_list())) == chosen
    record = json.loads((tmp_path / "r.svg.json").read_text(encoding="utf-8"))
    assert sorted(run["seq"] for run in record["runs"]) == chosen  # a redraw draws these again
    assert "(responsivity trend: 2 points of 2 runs)" in capsys.readouterr().out
    ivg = lab.runs.filter(pl.col("proc") == "IVg")["seq"].head(2).to_list()  # runs of no lit It: said of them
    assert main(lab.cli("plot", str(lab.number), "--group", "Alisson", "--trend", "responsivity", "--seq",
                        ",".join(map(str, ivg)), "--out", str(out))) == 2
    assert capsys.readouterr().err == (f"labtui: nothing to draw for the responsivity trend: seq {ivg[0]},{ivg[1]} "
                                       "hold no lit It run\n")


def test_cli_figures_of_the_starred_or_tagged_runs(lab: DemoLab, tmp_path: Path, capsys) -> None:
    """A starred power series drawn alone: `--starred` and `--tag` chose a history's runs, not a figure's; a trend
    could be limited only by excluding every other run."""
    lit = lab.runs.filter(pl.col("proc") == "It").join(lab.metrics.drop_nulls("responsivity_a_per_w")
                                                       .select("run_id"), on="run_id").sort("seq").head(3)
    annotate(lab.config.store_root, lit.head(2), [Change("star"), Change("tag", "power series")], author="test")
    chosen = sorted(lit["seq"].head(2).to_list())
    for marks in (("--starred",), ("--tag", "power series"), ("--starred", "--tag", "power series")):
        out, points_file = tmp_path / "r.svg", tmp_path / "r.csv"
        assert main(lab.cli("plot", str(lab.number), "--group", "Alisson", "--trend", "responsivity", *marks,
                            "--out", str(out), "--points", str(points_file))) == 0, marks
        assert sorted(set(pl.read_csv(points_file)["seq"].to_list())) == chosen, marks
    traces = tmp_path / "t.svg"  # a figure of runs too, of --seq's
    assert main(lab.cli("plot", str(lab.number), "--group", "Alisson", "--seq", ",".join(map(str, lit["seq"])),
                        "--starred", "--out", str(traces), "--points", str(points_file))) == 0
    assert sorted(set(pl.read_csv(points_file)["seq"].to_list())) == chosen
    capsys.readouterr()
    assert main(lab.cli("plot", str(lab.number), "--group", "Alisson", "--trend", "cnp", "--tag", "nowhere",
                        "--out", str(out))) == 2
    err = capsys.readouterr().err
    assert err.startswith("labtui: none of the ") and err.endswith(" runs chosen is tagged 'nowhere'\n"), err
    assert main(lab.cli("plot", "--from", f"{traces}.json", "--starred", "--out", str(out))) == 2
    assert "--starred does not apply" in capsys.readouterr().err


@pytest.mark.parametrize(("args", "message"), [
    (("--trend", "cnp", "--proc", "IVg"), "--proc does not apply"),
    (("--trend", "cnp", "--seq", "900"), "has no run seq 900"),
    (("--trend", "dark", "--log", "--gm"), "--log, --gm does not apply"),
    (("--proc", "It", "--align-cnp"), "these are It runs: --align-cnp is for IVg runs"),
])
def test_cli_trend_errors_are_one_line(lab: DemoLab, tmp_path: Path, capsys, args, message) -> None:
    out = tmp_path / "x.pdf"
    assert main(lab.cli("plot", str(lab.number), "--group", "Alisson", *args, "--out", str(out))) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("labtui: ") and message in err and "\n" not in err
    assert not out.exists()
    assert main(lab.cli("plot", "--trend", "cnp", "--out", str(out))) == 2
    assert "give its number" in capsys.readouterr().err


# --- the app ----------------------------------------------------------------------------------------------------

def footer_keys(screen: Screen) -> set[str]:
    """The keys the screen's footer shows."""
    return {str(key.render()).split()[0] for key in screen.query("FooterKey") if key.visible}


@contextlib.asynccontextmanager
async def trends_at_80_columns(lab: DemoLab) -> AsyncIterator[tuple[Pilot, TrendsScreen]]:
    """The app on an 80×24 terminal, on the demo chip's trends: its pilot and the screen."""
    app = LabApp(lab.config)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        app.push_screen(TrendsScreen("Alisson", lab.number))
        await settle(pilot)
        assert isinstance(app.screen, TrendsScreen) and app.screen.spec is not None
        yield pilot, app.screen


async def test_trends_screen_switches_trends_toggles_and_exports(lab: DemoLab) -> None:
    app = LabApp(lab.config)
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(pilot)
        app.push_screen(HistoryScreen("Alisson", lab.number))
        await settle(pilot)
        await pilot.press("T")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, TrendsScreen) and screen.spec is not None
        assert screen.spec.kind == "trend-cnp" and "excluded" not in text_of(screen, "#plot-status")  # none to hide
        o_says = lambda: screen.active_bindings["o"].binding.description  # noqa: E731
        assert o_says() == "Against seq" and "time since" in screen.spec.x_label
        await pilot.press("o")
        assert screen.spec.x_label == "run (seq)" and o_says() == "Against time"
        assert not screen.check_action("toggle_responsivity", ())  # r only where ΔI / R applies
        screen.action_next_trend()  # the trend on show at once, not when the Tabs' message comes: a key pressed
        assert screen.spec.kind == "trend-hysteresis"  # in between (`e`) worked on the trend before
        await settle(pilot)
        assert screen.spec.kind == "trend-hysteresis" and not screen.check_action("toggle_responsivity", ())
        await pilot.press("r")
        assert [n.message for n in app._notifications][-1] == ("ΔI / responsivity applies to the Photoresponse "
                                                               "trend, not to Hysteresis")
        screen.action_next_trend()
        await settle(pilot)
        assert screen.spec.kind == "trend-photoresponse"
        shown: list[str] = []
        show = screen.show
        screen.show = lambda: (show(), shown.append(screen.spec.kind))  # type: ignore[method-assign]
        screen.action_next_trend()
        screen.action_next_trend()  # two quick tabs: the first's message came after, and switched back
        await settle(pilot)
        assert shown == ["trend-spectral", "trend-dark"]
        screen.action_previous_trend()
        screen.action_previous_trend()
        await settle(pilot)
        del screen.show
        assert screen.spec.kind == "trend-photoresponse"
        await pilot.press("r")
        assert screen.spec.kind == "trend-responsivity" and screen.spec.y_unit.endswith("A/W")
        tab = screen.query_one("#trend-photoresponse", Tab)
        assert str(tab.label) == "Responsivity"  # it read Photoresponse over a responsivity's axis
        await pilot.press("r")
        assert screen.spec.kind == "trend-photoresponse" and str(tab.label) == "Photoresponse"
        assert "o" not in screen.active_bindings  # no time axis to switch: the key says so, as the plot's do
        await pilot.press("o")
        assert [n.message for n in app._notifications][-1] == ("Photoresponse is not drawn against time: against seq "
                                                               "or time does not apply")
        await pilot.press("l")  # the plot's log key: log–log axes here (`test_trends_log`)
        assert screen.spec.log_x and screen.spec.log_y
        await pilot.press("l")
        assert not screen.spec.log_x
        await pilot.press("r")
        await pilot.press("tab", "tab")
        assert screen.spec.kind == "trend-dark" and screen.spec.x_label == "run (seq)"  # the choice stays
        x_says = lambda: screen.active_bindings["X"].binding.description  # noqa: E731
        assert x_says() == "Show excluded"
        await pilot.press("X")
        assert "excluded runs shown (none)" in text_of(screen, "#plot-status") and x_says() == "Hide excluded"
        await pilot.press("e")
        await settle(pilot)
        assert [path.suffix for path in screen.saved] == [".pdf", ".png", ".csv", ".json"]
        recorded = FigureRecord.read(screen.saved[3])  # as `labtui plot --trend` writes one: `--from` redraws it
        assert recorded.trend == {"name": "dark", "include_excluded": True, "by_seq": True}
        assert recorded.metrics is not None
        exported = pl.read_csv(screen.saved[2])
        assert exported.columns[:2] == ["run_id", "seq"] and exported.height == points(screen.spec).height
        assert screen.saved[0].name.endswith("_by-seq_with-excluded.pdf")
        await pilot.press("escape")
        assert isinstance(app.screen, HistoryScreen)


async def test_the_trends_footer_shows_each_tabs_keys_at_80_columns(lab: DemoLab) -> None:
    """At 80 columns the footer ended in `e Export PDF+PNG+CSV`: r, the photoresponse's other half, was in no footer.
    X is in the help and the palette, and the status line names it when it hides runs."""
    async with trends_at_80_columns(lab) as (pilot, screen):
        assert {"tab", "e", "o"} <= footer_keys(screen)
        await pilot.press("tab", "tab")
        await settle(pilot)
        assert screen.spec is not None and screen.spec.kind == "trend-photoresponse"
        assert {"tab", "e", "r"} <= footer_keys(screen)
        assert "X" in screen.active_bindings and screen.check_action("show_excluded", (True,))


async def test_trends_open_from_the_chips_list(lab: DemoLab) -> None:
    app = LabApp(lab.config)
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(pilot)
        await pilot.press("c")
        await settle(pilot)
        await pilot.press("7", "0", "ctrl+g")  # the filter keeps the focus: a key it does not type
        await settle(pilot)
        assert isinstance(app.screen, TrendsScreen) and app.screen.number == lab.number


async def test_plot_screen_aligns_sweeps_on_their_dirac_points(lab: DemoLab) -> None:
    app = LabApp(lab.config)
    ivg = lab.runs.filter(pl.col("proc") == "IVg").head(3)
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(pilot)
        app.push_screen(PlotScreen(ivg))
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, PlotScreen) and screen.spec is not None and screen.spec.x_label == "Vg"
        await pilot.press("a")
        assert screen.spec.x_label == "Vg − V_CNP" and "aligned" in text_of(screen, "#plot-status")
        cnp = lab.metrics.filter(pl.col("run_id") == ivg["run_id"][0])["cnp_fwd_v"][0]
        first = next(s for s in screen.spec.series if s.run_id == ivg["run_id"][0])
        vg = screen.groups["IVg"].columns[0]["vg_v"]
        assert first.x.min() == pytest.approx(vg.min() - cnp, abs=0.06)  # shifted by the run's own CNP


@pytest.mark.parametrize(("trend", "why"), [("dark", "the chip has no It run"),
                                            ("spectral", "the chip has no lit It run"),
                                            ("responsivity", "the chip has no lit It run")])
def test_a_trend_of_a_chip_without_its_runs_says_so_in_one_line(tmp_path: Path, capsys, trend: str, why: str) -> None:
    lab = Lab(tmp_path)
    lab.write_run("d/IVg2025-10-14_1.csv", "IVg", start=dt.datetime(2025, 10, 14, 12, tzinfo=dt.UTC))
    lab.stage()
    lab.config.metrics_path.unlink()  # a store staged before its table existed, or the table deleted
    out = tmp_path / "trend.pdf"
    assert main(lab.args("plot", "67", "--trend", trend, "--out", str(out))) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"labtui: nothing to draw for the {trend} trend: no metrics table yet (")
    assert err.endswith("`labtui metrics` computes it, and every stage keeps it up to date\n")
    assert main(lab.args("metrics")) == 0
    capsys.readouterr()
    assert main(lab.args("plot", "67", "--trend", trend, "--out", str(out))) == 2
    assert capsys.readouterr().err == f"labtui: nothing to draw for the {trend} trend: {why}\n"
    assert not out.exists()


async def test_the_trends_screen_says_when_the_store_has_no_metrics_table_yet(tmp_path: Path) -> None:
    lab = Lab(tmp_path)
    lab.write_run("d/IVg2025-10-14_1.csv", "IVg", start=dt.datetime(2025, 10, 14, 12, tzinfo=dt.UTC))
    lab.stage()
    lab.config.metrics_path.unlink()
    app = LabApp(lab.config)
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(pilot)
        app.push_screen(TrendsScreen("Alisson", 67))
        await settle(pilot)
        status = text_of(app.screen, "#plot-status")
        assert "nothing to draw: no metrics table yet: a stage (s on the dashboard) or `labtui metrics`" in status
        app.pop_screen()
        lab.stage()
        lab.config.metrics_path.write_bytes(lab.config.metrics_path.read_bytes()[:200])  # damaged: "loading…" for
        for _ in range(2):  # ever, once the dialog saying so was seen
            app.push_screen(TrendsScreen("Alisson", 67))
            await settle(pilot)
            while not isinstance(app.screen, TrendsScreen):  # the error dialog, the first time
                await pilot.press("escape")
                await settle(pilot)
            assert "nothing to draw: the metrics table is damaged: `labtui metrics --rebuild` recomputes it" in \
                text_of(app.screen, "#plot-status")
            app.pop_screen()


async def test_the_notes_under_a_trend_take_fewer_lines_on_a_short_terminal(tmp_path: Path) -> None:
    """At 80×24 six warnings and two status lines left a trend's plot 7 rows: the notes scroll past 4 lines there,
    past 8 on a taller terminal."""
    lab = Lab(tmp_path)
    lab.write_run("d/IVg2025-10-14_1.csv", "IVg", start=dt.datetime(2025, 10, 14, 12, tzinfo=dt.UTC))
    lab.stage()
    app = LabApp(lab.config)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        app.push_screen(TrendsScreen("Alisson", 67))
        await settle(pilot)
        box = app.screen.query_one("#status-box")
        assert box.styles.max_height is not None and box.styles.max_height.value == 4
        await pilot.resize_terminal(120, 40)
        await settle(pilot)
        assert box.styles.max_height is not None and box.styles.max_height.value == 8


def test_a_line_against_time_stops_across_weeks_without_a_run():
    """Runs every few hours for days, then none for a month: the line breaks there, never between days."""
    days = np.array([0.0, 0.1, 0.2, 1.0, 1.1, 2.0, 2.2, 3.0, 33.0, 33.2, 34.0])
    assert gaps(days) == (8,)
    assert gaps(np.arange(10.0)) == () and gaps(np.array([0.0, 40.0])) == ()
    series = Series("CNP", days, days, "", None, point_run_ids=tuple("abcdefghijk"), point_seqs=tuple(range(11)),
                    breaks=gaps(days))
    spec = PlotSpec("trend-cnp", "t", "time", "d", "V_CNP", "V", False, (series,), (), (), (), (), pl.DataFrame(),
                    points=True)
    kept = thinned(spec, 4, 4).series[0]  # fewer points: the break moves to the first point kept after the gap
    assert kept.x[kept.breaks[0]] == 33.0 and kept.x[kept.breaks[0] - 1] < 33.0
    from matplotlib.figure import Figure

    axes = Figure().add_subplot()
    draw_axes(axes, drawing_of(spec))
    line = axes.get_lines()[0]
    assert np.isnan(line.get_xdata()).sum() == 1  # matplotlib lifts the pen there
