"""Derived metrics: known answers of the pure definitions, the incremental table, the CLI, and accuracy against the
synthetic lab's ground truth (plus the real files when ../shared is present)."""

from __future__ import annotations

import datetime as dt
import itertools
import json
import math
import os
import re
import warnings
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from labtui.cli import main
from labtui.core.annotations import current_annotations
from labtui.core.chip_params import ChipParams, load_chip_params
from labtui.core.config import MetricsSettings, default_registry_path, load_config
from labtui.core.history import load_manifest
from labtui.core.lab_files import ConfigError
from labtui.core.layout import run_parquet_path
from labtui.core.manifest import read_manifest
from labtui.core.metrics import (
    BY_COLUMN,
    METRICS_SCHEMA,
    METRICS_VERSION,
    QUANTITIES,
    definitions_markdown,
    from_data,
    read_metrics,
    update_metrics,
)
from labtui.core.metrics import per_run as metrics_per_run
from labtui.core.metrics import pricing as metrics_pricing
from labtui.core.metrics import table as metrics_table
from labtui.core.metrics.arrays import all_finite, median, percentiles
from labtui.core.metrics.calibration import calibration_curve, calibration_quantities, power_at, powers_at
from labtui.core.metrics.definitions import MOBILITY_LIMIT
from labtui.core.metrics.it import COLUMNS as IT_QUANTITIES
from labtui.core.metrics.it import dark_level, it_quantities, lit_vl_disagrees, moving_average
from labtui.core.metrics.ivg import breakdown_at, dirac_point, ivg_quantities, parabola_vertex
from labtui.core.metrics.reprice import reprice_after
from labtui.core.metrics.savgol import savgol_derivative
from labtui.core.metrics.spread import reach
from labtui.core.overview import last_dirac_points
from labtui.core.parquet_footer import read_run_record
from labtui.core.plotdata import PlotOptions, build_plots
from labtui.core.plotdata.numeric import laser_windows
from labtui.core.plotdata.selection import chip_runs
from labtui.core.plotdata.trends import Trend, trend_rows, trend_spec
from labtui.synth import LabSpec, write_run
from labtui.synth.demo import GROUND_TRUTH, config_file_of, write_demo
from labtui.tui.history_view import quantity_items
from tests.lab import COLUMNS, PARAMS, Lab, data_rows, it_rows, lock_held_elsewhere, raw_csv, raw_file, sweep
from tests.promises import CRASH_EXIT

SETTINGS = MetricsSettings()
START = dt.datetime(2025, 10, 14, 15, 0, tzinfo=dt.UTC)
README = Path(__file__).resolve().parents[1] / "README.md"


def loop(span: float = 5.0, step: float = 0.05) -> np.ndarray:
    """0 → −span → +span → −span → 0, as the acquisition sweeps."""
    n = round(span / step)
    down, up = np.linspace(0, -span, n + 1), np.linspace(-span, span, 2 * n + 1)
    return np.concatenate([down, up[1:], up[::-1][1:], down[::-1][1:]])


# --- IVg ----------------------------------------------------------------------------------------------------------

def test_dirac_point_is_refined_between_setpoints_and_refused_at_a_legs_end() -> None:
    vg = np.linspace(-5, 5, 201)
    found = dirac_point(vg, 1e-5 + 1e-6 * (vg - 0.123) ** 2)
    assert found.vg == pytest.approx(0.123, abs=1e-9) and found.remark is None
    outside = dirac_point(vg, 1e-5 + 1e-6 * (vg - 4.9) ** 2)
    assert outside.vg is None and "outside the sweep" in outside.remark


def test_a_minimum_beside_a_gap_of_rows_wider_than_the_fit_window_is_no_dirac_point() -> None:
    """NaN currents over Vg 0…0.5 V around a V's bottom (the rows dropped, as `read_sweep` drops them): the gap's edge
    was read as the minimum and the parabola fitted across the gap, a Dirac point 42 mV off, said only as rows
    missing. A gap within the fit window (3 rows at 0.05 V) is read across."""
    vg = np.round(np.arange(-5, 5.025, 0.05), 10)
    current = 1e-5 + 1e-6 * np.abs(vg - 0.27) ** 1.2
    wide = (vg >= 0) & (vg <= 0.5)
    found = dirac_point(vg[~wide], current[~wide])
    assert found.vg is None and found.remark == ("min |I| beside a gap in the readings (Vg -0.05…0.55 V, rows without "
                                                 "a finite Vg or I): the Dirac point may lie in it")
    narrow = (vg >= 0.25) & (vg <= 0.35)
    assert dirac_point(vg[~narrow], current[~narrow]).vg == pytest.approx(0.27, abs=0.02)


def test_the_fit_window_holds_setpoints_written_with_float_drift() -> None:
    """The acquisition adds up its 0.1 V steps: points 0.5 V from the minimum lie 0.5000000000000004 V away and
    still belong to the fit."""
    vg = np.array(list(itertools.accumulate(itertools.repeat(0.1, 100), initial=-5.0)))
    current = 1e-5 + 1e-6 * np.abs(vg + 3.47) ** 1.5
    k = int(np.argmin(current))
    assert vg[k] - vg[k - 5] > 0.5 and vg[k + 5] - vg[k] > 0.5

    def vertex(points: int) -> float:
        x = vg[k - points : k + points + 1] - vg[k]
        a, b, _ = np.polyfit(x, current[k - points : k + points + 1] / current[k], 2)
        return float(vg[k] - b / (2 * a))

    assert dirac_point(vg, current, fit_window_v=0.5).vg == pytest.approx(vertex(5), abs=1e-9)
    assert abs(vertex(5) - vertex(4)) > 1e-6  # the window matters at the tolerance above


def test_a_v_with_unequal_arms_keeps_its_dirac_point_near_the_minimum_and_coarse_steps_still_fit() -> None:
    """A rounded V whose hole arm is twice as steep: the ±0.5 V parabola put the point 74 mV up the shallow arm,
    past the sampled minimum's neighbours; at ±0.2 V, 28 mV. A sweep of 0.5 V steps has no other point within 0.2 V:
    the fit takes the minimum's two neighbours, not the raw minimum."""
    vg = np.round(np.arange(-100, 101) * 0.05, 10)
    x0, rounding = 0.31, 0.15
    current = 1e-5 * (1 + np.where(vg < x0, 2.0, 1.0) * (np.sqrt((vg - x0) ** 2 + rounding**2) - rounding))
    wide = dirac_point(vg, current, fit_window_v=0.5).vg - x0
    found = dirac_point(vg, current)
    assert wide > 0.05 and 0 < found.vg - x0 < 0.4 * wide and found.remark is None
    coarse = np.round(np.arange(-10, 11) * 0.5, 10)
    found = dirac_point(coarse, 1e-5 + 1e-6 * (coarse - 0.123) ** 2)
    assert found.vg == pytest.approx(0.123, abs=1e-9) and found.remark is None


def test_a_parabola_vertex_beyond_the_leg_falls_back_to_the_raw_minimum() -> None:
    """A noisy flat bottom near the sweep's end: the parabola's vertex (5.1 V) is within the fit window of the raw
    minimum (4.8 V) but beyond the sweep (5 V)."""
    vg = np.round(np.arange(-50, 51) * 0.1, 10)
    current = 1e-5 + 1e-6 * (vg - 5.2) ** 2
    current[48 + 50] = current[-1] * 0.999
    found = dirac_point(vg, current, fit_window_v=0.5)
    assert found.vg == 4.8 and found.remark == "no parabola fits the minimum: the raw minimum is given"


def test_an_aborted_loop_takes_its_backward_leg_after_the_forward_one() -> None:
    """0 → −5 → +5 → 0, aborted: the first leg (0 → −5 V) spans as much as the backward one (+5 → 0 V), but it
    only leaves the resting 0 V; the backward sweep is the one after the forward sweep."""
    vg = loop()
    vg = vg[: np.flatnonzero(np.isclose(vg, 5.0))[0] + 101]  # stops back at 0 V
    rising = np.concatenate([[1], np.sign(np.diff(vg))]) > 0
    dirac = np.where(rising, -0.3, 1.4)
    values, remarks = ivg_quantities(vg, 1e-5 + 2e-6 * np.abs(vg - dirac), 0.1, SETTINGS)
    assert values["cnp_bwd_v"] == pytest.approx(1.4, abs=0.01)
    assert values["hysteresis_v"] == pytest.approx(1.7, abs=0.02)
    assert remarks == []


@pytest.mark.parametrize(("forward", "backward", "said"), [(0.30, 0.23, True), (0.30, 0.20, False),
                                                            (0.30, 0.37, False)])
def test_a_hysteresis_within_two_gate_steps_is_said_to_be_the_sweeps_settling_lag(forward, backward, said) -> None:
    """Chips with no hysteresis of their own read −1.3 to −2 gate steps (a current read before it settles): said,
    the value kept; 2 steps and more is the device's (0.05 V steps here), as is any above 0 (the lag lowers it)."""
    vg = loop()
    rising = np.concatenate([[1], np.sign(np.diff(vg))]) > 0
    values, remarks = ivg_quantities(vg, 1e-5 + 2e-6 * np.abs(vg - np.where(rising, forward, backward)), 0.1, SETTINGS)
    assert values["hysteresis_v"] == pytest.approx(backward - forward, abs=0.005)
    lag = [remark for remark in remarks if remark.startswith("hysteresis_v:")]
    assert lag == ([f"hysteresis_v: {values['hysteresis_v']:+.3g} V is within 2 gate steps (0.05 V): a current read "
                    "before it settled lags each leg by about a step, so this much is the sweep's, not necessarily "
                    "the device's"] if said else [])


def test_a_cnp_of_one_leg_says_it_is_no_two_leg_mean() -> None:
    """The history and the dashboard show cnp_v as the sweep's CNP beside two-leg means: one leg's alone is said."""
    vg = loop()
    up = vg[np.argmin(vg): np.argmax(vg) + 1]  # −5 → +5 only: no backward leg
    values, remarks = ivg_quantities(up, 1e-5 + 2e-6 * np.abs(up - 0.4), 0.1, SETTINGS)
    assert values["cnp_v"] == values["cnp_fwd_v"] == pytest.approx(0.4, abs=0.01)
    assert "cnp_v: the up-sweep leg's Dirac point alone (the other leg has none), not a two-leg mean" in remarks


def test_the_times_of_a_step_the_dark_drift_alone_makes_say_so() -> None:
    """A settling current, no step of its own at the switches (a little against the light): ΔI is the drift's, and
    the run's responsivity in doubt (`DRIFT_ALONE`); its τ_rise of 35 s was given as the device's response."""
    t = np.arange(0, 180, 0.1)
    on = (t >= 60) & (t < 120)
    current = 1e-6 + 1e-9 * t - 1e-10 * on + 1e-12 * np.random.default_rng(1).standard_normal(t.size)
    values, remarks = it_quantities(t, current, np.where(on, 2.0, 0.0), 0.1, SETTINGS, 2.0)
    assert values["tau_rise_s"] is not None and values["delta_i_drift_corrected_a"] < 0 < values["delta_i_a"]
    assert remarks[-1] == ("tau_rise_s, tau_decay_s: the dark drift carried on under the light could make ΔI alone: "
                           "the times may be the drift's, not the device's response")
    step = it_quantities(t, 1e-6 + 1e-9 * t + 1e-7 * on, np.where(on, 2.0, 0.0), 0.1, SETTINGS, 2.0)[1]
    assert not any(remark.startswith("tau_rise_s, tau_decay_s:") for remark in step)  # a real step: no remark


def test_gm_is_the_branch_s_own_slope_not_a_step_the_wrong_way() -> None:
    """|dI/dVg| took a contact recovering at −3 V on the hole branch (a rise of |I| where it falls toward the CNP)
    for the transconductance: 22 µS for 16, a mobility 41 % high (two real sweeps: twice and five times theirs). Each
    branch's gm is its own sign's: the fall of |I| left of the CNP, the rise right of it."""
    vg = loop()
    up = np.zeros(vg.size, dtype=bool)
    up[100:301] = True  # the forward leg, −5 → +5 V, its turning point included
    current = 1e-5 + 4e-6 * np.abs(vg - 0.5)
    clean, _ = ivg_quantities(vg, current, 0.1, SETTINGS)
    recovered = np.where(up & (vg < -3), 0.7 * current, current)
    values, _ = ivg_quantities(vg, recovered, 0.1, SETTINGS)
    assert values["gm_max_hole_s"] == pytest.approx(clean["gm_max_hole_s"], rel=0.05)
    assert values["gm_max_electron_s"] == pytest.approx(4e-6, rel=0.01)
    negative, _ = ivg_quantities(vg, -current, -0.1, SETTINGS)  # a negative bias: |I| alike, gm alike
    assert negative["gm_max_hole_s"] == pytest.approx(clean["gm_max_hole_s"])


def test_a_sweep_at_vds_0_has_no_dirac_point() -> None:
    """At Vds 0 V the current is the gate's leakage: a Dirac point −0.6 V forward, +0.6 V backward, 1.2 V of
    hysteresis and an on/off of 2185 were read from it, unsaid. None, said."""
    vg = loop()
    rising = np.concatenate([[1], np.sign(np.diff(vg))]) > 0
    leak = vg / 2e9 + 0.3e-9 * np.where(rising, 1, -1)
    values, remarks = ivg_quantities(vg, leak, 0.0, SETTINGS)
    assert all(value is None for name, value in values.items() if name != "i_min_a")  # a reading, as a dead one's
    assert remarks[0] == ("IVg: at Vds 0 V no current is driven through the channel: its I is the gate's leakage or "
                          "an offset, no Dirac point")


def test_a_sweep_aborted_in_its_first_leg_says_why_it_has_no_gm(tmp_path: Path) -> None:
    """Stopped on its way 0 → −V, a sweep has no up-sweep leg and so no gm: the remarks said so of cnp_fwd_v only,
    and the app showed gm_max_hole_s and gm_max_electron_s blank with no reason."""
    lab = Lab(tmp_path)
    rows = data_rows(((vg, 1e-6 * (1 + abs(vg + 1))) for vg in sweep(-2, 2, 0.1, "loop")[:21]), len(COLUMNS["IVg"]))
    params = {"VG start": "-2 V", "VG end": "2 V", "VG step": "0.1 V"}
    lab.write("2025-10-14/IVg2025-10-14_1.csv", raw_csv("IVg", rows=rows, params=params))
    lab.stage()
    run = read_metrics(lab.config).row(0, named=True)
    assert run["cnp_bwd_v"] == pytest.approx(-1.0) and run["gm_max_hole_s"] is None
    assert "gm: no up-sweep leg to read it on" in run["remarks"]


def test_an_aborted_runs_quantities_say_they_are_of_the_rows_it_has(tmp_path: Path) -> None:
    """A sweep cut in its second leg has a Dirac point from what it measured: the table gave it like any other (the
    manifest's is_complete said the run aborted; a trend's reader of the table saw nothing). One remark, last,
    kept once through later updates; a complete run has none."""
    lab = Lab(tmp_path)
    params = {"VG start": "-2 V", "VG end": "2 V", "VG step": "0.1 V"}

    def write(index: int, kept: int | None) -> None:
        rows = data_rows(((v, 1e-6 * (1 + (v - 0.2) ** 2)) for v in sweep(-2, 2, 0.1, "loop")[:kept]),
                         len(COLUMNS["IVg"]))
        lab.write(f"2025-10-14/IVg2025-10-14_{index}.csv", raw_csv("IVg", rows=rows, params=params,
                                                                   start=1760371684.0 + 600 * index))

    write(1, 60)
    write(2, None)
    lab.stage()
    write(3, None)
    lab.stage()  # a second update joins the table again
    table = read_metrics(lab.config).sort("source_file")
    assert lab.manifest().sort("source_file")["is_complete"].to_list() == [False, True, True]
    cut, whole, _ = table.iter_rows(named=True)
    assert cut["cnp_fwd_v"] == pytest.approx(0.2) and cut["remarks"][-1] == (
        "run not complete: its quantities are of the rows it has (stopped short, or rows missing inside it: the "
        "manifest's is_complete is false)")
    assert cut["remarks"].count(cut["remarks"][-1]) == 1 and not any("aborted run" in r for r in whole["remarks"])


@pytest.mark.parametrize("lost", [
    # one reading of 0 A on the way back (k 65: 1.5 V, going down) was the backward leg's min |I|: its Dirac point
    # read 1.19 V (a hysteresis of 1 V) with no remark, and the figure put its diamond there; nor is it i_min_a: its
    # 0 A left on_off_ratio undefined (a reading of 1 pA made it 5.8 million)
    range(65, 66),
    # review: a contact lost over the turn at −2 V (−1.5 → −2 → −1.5 V) touched the legs' ends, where each leg alone
    # read it as the Dirac point; the table reads the whole sweep's glitches, and the figure's markers with it
    range(15, 26),
])
def test_a_dropout_is_no_dirac_point_in_the_table_nor_in_the_figure(tmp_path: Path, lost: range) -> None:
    lab = Lab(tmp_path)
    vg = sweep(-2, 2, 0.1, "loop")
    current = [0.0 if k in lost else 1e-6 * (1 + (v - 0.2) ** 2) for k, v in enumerate(vg)]
    rows = data_rows(zip(vg, current, strict=True), len(COLUMNS["IVg"]))
    params = {"VG start": "-2 V", "VG end": "2 V", "VG step": "0.1 V"}
    lab.write("2025-10-14/IVg2025-10-14_1.csv", raw_csv("IVg", rows=rows, params=params))
    lab.stage()
    run = read_metrics(lab.config).row(0, named=True)
    assert run["cnp_fwd_v"] == pytest.approx(0.2) and run["cnp_bwd_v"] == pytest.approx(0.2)
    spec = build_plots(lab.manifest(), lab.stage_root, PlotOptions(), settings=lab.config.metrics)[0]
    assert [marker.x for marker in spec.markers] == pytest.approx([0.2, 0.2])
    assert run["i_min_a"] == pytest.approx(1e-6) and run["on_off_ratio"] == pytest.approx(1 + 2.2**2)


def test_a_sweep_whose_smallest_current_is_0_a_says_why_it_has_no_on_off_ratio() -> None:
    vg = np.array(sweep(-2, 2, 0.1, "loop"))
    current = 1e-6 * (1 + (vg - 0.2) ** 2)
    current[:4] = 0.0  # four readings of 0 A: longer than a contact glitch
    values, remarks = ivg_quantities(vg, current, 0.1, SETTINGS)
    assert values["on_off_ratio"] is None and "on_off_ratio: the smallest |I| is 0 A" in remarks


def test_gm_is_smoothed_over_the_same_vg_where_the_sweeps_step_changes(tmp_path: Path) -> None:
    """A sweep at 0.01 V up to 0 V and 0.1 V after it: the Savitzky–Golay window of 51 points (0.5 V at the typical
    step) reached over 5 V of the coarse part, and gm_max_electron_s read 12 % low (gm_max_hole_s 5 % high)."""
    lab = Lab(tmp_path)
    for n, vg in enumerate([np.arange(-300, 301) / 100, np.r_[np.arange(-300, 0) / 100, np.arange(0, 31) / 10]]):
        current = 1e-5 * np.sqrt(0.2**2 + (vg - 0.5) ** 2) / (1 + np.abs(vg - 0.5))  # a V whose gm peaks near it
        rows = data_rows(zip(vg, current, strict=True), len(COLUMNS["IVg"]))
        lab.write(f"2025-10-14/IVg2025-10-14_{n + 1}.csv", raw_csv("IVg", rows=rows, start=START.timestamp() + n))
    lab.stage()
    even, mixed = read_metrics(lab.config).sort("source_file").iter_rows(named=True)
    for column in ("gm_max_hole_s", "gm_max_electron_s"):
        assert mixed[column] == pytest.approx(even[column], rel=0.01), column


@pytest.mark.parametrize(("vg", "window"), [
    (np.r_[np.linspace(-5, 5, 3000), np.linspace(0.30, 0.31, 1000)], 101),  # a dense cluster in a coarse sweep
    (np.linspace(-5, 5, 8000) + np.random.default_rng(1).uniform(0, 5e-4, 8000), 301),  # a fine, jittered Vg
])
def test_an_uneven_sweeps_local_fits_keep_their_memory_bounded(vg: np.ndarray, window: int) -> None:
    """Uneven legs are fitted point by point, a row of the window's points each. A cluster of 1,000 points within
    10 mV put the cluster in every window near it (1,000 wide instead of 101), and every row was made at once: a
    fine sweep of 12k uneven points took 0.5 GB (one of 22k points, 565 MiB and 1.5 s). Within a cluster the
    window is its own points around each one, as on an even leg; the fits are made a block at a time."""
    import tracemalloc

    vg = np.sort(vg)
    current = 1e-5 * (1 + (vg - 0.2) ** 2)
    tracemalloc.start()
    try:
        slope = savgol_derivative(vg, current, window, 2)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 40e6, peak  # 190–320 MB before
    assert slope == pytest.approx(2e-5 * (vg - 0.2), abs=1e-9)  # a parabola's slope, exact from any window


def test_an_uneven_legs_last_fits_weigh_each_point_once() -> None:
    """A sweep at 0.01 V and 0.05 V after it: at its end a window holds 5 points, the rows before it 21, and the
    rest of its row repeated the leg's last point, counted as inside (17 times): the last slope read 0.8 % off."""
    x = np.r_[np.arange(100) / 100, 1 + np.arange(11) / 20]
    y = np.sin(3 * x)
    slope = savgol_derivative(x, y, 21, 2)
    assert slope[-1] == pytest.approx(np.polyfit(x[-5:] - x[-1], y[-5:], 2)[1], rel=1e-9)


def breaking_sweep() -> tuple[np.ndarray, np.ndarray]:
    """A 0 → −5 → +5 → −5 → 0 loop whose channel breaks down at +3 V on the way up: |I| drops to a tenth, for good
    (as one real sweep, Alisson79 on 4 September, did at 11.4 V)."""
    vg = loop()
    current = 1e-5 + 2e-6 * np.abs(vg - 0.3)
    after = np.arange(vg.size) >= np.flatnonzero(np.isclose(vg, 3.0))[0]
    return vg, np.where(after, current / 10 * (1 - 0.05 * np.sin(vg)), current)


def test_a_channel_that_breaks_down_is_read_up_to_the_breakdown() -> None:
    vg, current = breaking_sweep()
    assert breakdown_at(current) == np.flatnonzero(np.isclose(vg, 3.0))[0]
    values, remarks = ivg_quantities(vg, current, 0.1, SETTINGS)
    assert values["cnp_fwd_v"] == pytest.approx(0.3, abs=0.01)  # not the low current after the collapse
    assert values["on_off_ratio"] == pytest.approx((1e-5 + 2e-6 * 5.3) / 1e-5, rel=1e-3)
    assert values["gm_max_electron_s"] == pytest.approx(2e-6, rel=0.01)  # the collapse is no transconductance
    assert remarks[0].startswith("IVg: the channel broke down at Vg 3 V")
    dropout = 1e-5 + 2e-6 * np.abs(vg - 0.3)
    dropout[100] /= 10  # one point lost, the next back: no breakdown
    assert breakdown_at(dropout) is None


def test_ivg_quantities_of_a_hysteretic_sweep() -> None:
    vg = loop()
    rising = np.concatenate([[1], np.sign(np.diff(vg))]) > 0
    dirac = np.where(rising, -0.3, 0.2)  # the up-sweep meets the Dirac point lower: hysteresis 0.5 V
    current = 1e-5 + 2e-6 * np.abs(vg - dirac)
    values, remarks = ivg_quantities(vg, current, 0.1, SETTINGS)
    assert values["cnp_fwd_v"] == pytest.approx(-0.3, abs=0.01)
    assert values["cnp_bwd_v"] == pytest.approx(0.2, abs=0.01)
    assert values["cnp_v"] == pytest.approx(-0.05, abs=0.01) and values["hysteresis_v"] == pytest.approx(0.5, abs=0.02)
    assert values["i_min_a"] == pytest.approx(1e-5, rel=1e-3)
    assert values["on_off_ratio"] == pytest.approx((1e-5 + 2e-6 * 5.3) / 1e-5, rel=1e-3)
    assert remarks == []
    values, _ = ivg_quantities(vg, 1e-5 + 2e-6 * np.abs(vg - 0.1), 0.1, SETTINGS)
    assert values["gm_max_hole_s"] == pytest.approx(2e-6) and values["gm_max_electron_s"] == pytest.approx(2e-6)


def test_a_dead_channel_has_no_dirac_point() -> None:
    vg = loop()
    values, remarks = ivg_quantities(vg, np.full(vg.size, 1e-8) + 1e-11 * np.sin(vg * 7), 0.1, SETTINGS)
    assert values["cnp_fwd_v"] is None and values["gm_max_hole_s"] is None and values["i_min_a"] > 0
    assert any("dead channel" in remark for remark in remarks) and not any("unit" in remark for remark in remarks)


def test_a_dead_channel_at_a_vds_no_transistor_takes_asks_after_its_unit() -> None:
    """`VDS: 0.1 kV` (100 V for 100 mV) called a channel carrying 47 µA dead, and said no more."""
    vg = loop()
    _, remarks = ivg_quantities(vg, 2.5e-5 * (1 + 0.1 * np.abs(vg)), 100.0, SETTINGS)
    assert remarks[0].startswith("IVg: dead channel (max |I| 37.5 µA at Vds 100 V, conductance below 1 µS)") and \
        remarks[0].endswith("S): or a Vds in another unit (mV written V)?")


@pytest.mark.parametrize("size", [1, 2, 3, 4, 7, 8, 600, 601])
def test_the_typical_step_is_numpys_median_to_the_bit(size: int) -> None:
    """The table's values depend on it: the gm window is a number of points derived from this step."""
    rng = np.random.default_rng(size)
    steps = np.abs(rng.standard_normal(size)) * 10.0 ** rng.integers(-6, 1)
    for values in (steps, np.round(steps, 3), np.full(size, 0.05)):
        assert median(values) == float(np.median(values))


@pytest.mark.parametrize("size", [1, 2, 3, 4, 7, 20, 21, 601])
def test_a_sweeps_step_range_is_numpys_percentiles_to_the_bit(size: int) -> None:
    """A sweep's finest and widest steps decide whether it is judged by its path (`_step_range`)."""
    rng = np.random.default_rng(size)
    steps = np.abs(rng.standard_normal(size)) * 10.0 ** rng.integers(-6, 1)
    for values in (steps, np.round(steps, 3), np.full(size, 0.05)):
        for percents in ((5, 95), (0, 50, 100), tuple(rng.uniform(0, 100, 4))):
            assert percentiles(values, percents) == np.percentile(values, percents).tolist()


def test_a_run_is_read_without_its_non_finite_points_even_when_its_sums_overflow() -> None:
    """`all_finite` decides from two sums; a NaN, an inf or finite values whose sum overflows take the masked path,
    which gives what the points without the non-finite ones give."""
    vg, current = loop(), 1e-6 + 1e-7 * np.abs(loop() - 0.3)
    assert all_finite(vg, current)
    expected = ivg_quantities(vg, current, 0.1, SETTINGS)
    for bad in (np.nan, np.inf, -np.inf):
        spoiled = np.insert(current, 5, bad)
        assert not all_finite(np.insert(vg, 5, 0.0), spoiled)
        values, remarks = ivg_quantities(np.insert(vg, 5, vg[5]), spoiled, 0.1, SETTINGS)
        assert values == expected[0] and remarks == [  # said: half a sweep's currents NaN read as a whole one
            f"IVg: 1 of its {vg.size + 1} rows have no finite Vg or I: its quantities are of the other {vg.size}",
            *expected[1]]
    huge = np.full(3, 1e308)
    with np.errstate(over="ignore", invalid="ignore"):  # as `from_data` calls it
        assert not all_finite(huge, huge) and not all_finite(np.array([1.0, np.inf]), np.array([1.0, -np.inf]))


@pytest.mark.parametrize("size", [0, 1, 2, 5, 6, 7, 12, 300])
def test_the_moving_average_is_each_windows_mean(size: int) -> None:
    """Centred windows that shrink at the ends, for windows wider than the trace too; to rounding of a running sum."""
    trace = np.random.default_rng(size).standard_normal(size) * 1e-9 + 1e-6
    for points in (1, 2, 3, 6, 7, 13):
        half = points // 2
        expected = [trace[max(k - half, 0) : k + half + 1].mean() for k in range(size)]
        np.testing.assert_allclose(moving_average(trace, points), expected, rtol=1e-9)


def test_the_parabola_vertex_is_the_least_squares_one() -> None:
    """Cramer's rule on the normal equations against a least-squares solver, on noisy and exact parabolas."""
    rng = np.random.default_rng(7)
    for _ in range(200):
        x = np.sort(rng.uniform(-0.5, 0.5, int(rng.integers(3, 40))))
        y = 1 + rng.uniform(0.5, 5) * (x - rng.uniform(-0.3, 0.3)) ** 2 + rng.normal(0, 0.01, x.size)
        _c, b, a = np.linalg.lstsq(np.stack([np.ones_like(x), x, x * x], 1), y, rcond=None)[0]
        vertex = parabola_vertex(x, y)
        assert (vertex is None) == (a <= 0)
        if vertex is not None:
            assert vertex == pytest.approx(-b / (2 * a), abs=1e-9)
    assert parabola_vertex(np.array([0.0, 0.0, 1.0, 1.0]), np.array([1.0, 2.0, 3.0, 4.0])) is None  # two x only
    assert parabola_vertex(np.array([-1.0, 0.0, 1.0]), np.array([1.0, 2.0, 1.0])) is None  # opens downwards


def test_a_dirac_point_beyond_the_sweep_leaves_one_branch() -> None:
    vg = loop()
    values, remarks = ivg_quantities(vg, 1e-5 + 2e-6 * np.abs(vg + 7), 0.1, SETTINGS)  # CNP at −7 V
    assert values["cnp_fwd_v"] is None and values["gm_max_hole_s"] is None
    assert values["gm_max_electron_s"] == pytest.approx(2e-6)
    assert any(r.startswith("cnp_fwd_v:") for r in remarks) and any(r.startswith("gm_max_hole_s:") for r in remarks)


# --- It -----------------------------------------------------------------------------------------------------------

def pulse(tau: float = 3.0, drift: float = 1e-10, laser: float = 2.0) -> tuple[np.ndarray, ...]:
    """Dark 0–20 s, lit 20–40 s, dark 40–60 s: an exponential step of 1 µA on a drifting 10 µA baseline."""
    t = np.arange(0, 60, 0.05)
    return (t, *pulse_at(t, tau, drift, laser))


def pulse_at(t: np.ndarray, tau: float = 3.0, drift: float = 1e-10, laser: float = 2.0) -> tuple[np.ndarray, ...]:
    """`pulse`'s current and VL on the clock `t`."""
    vl = np.where((t >= 20) & (t < 40), laser, 0.0)
    step = np.where(t >= 20, 1 - np.exp(-np.clip(t - 20, 0, None) / tau), 0.0)
    step = np.where(t >= 40, (1 - math.exp(-20 / tau)) * np.exp(-np.clip(t - 40, 0, None) / tau), step)
    return 1e-5 + drift * t + 1e-6 * step, vl


def test_it_photoresponse_drift_and_time_constants() -> None:
    t, current, vl = pulse()
    values, remarks = it_quantities(t, current, vl, 0.1, SETTINGS)
    dark = (t >= 15) & (t < 20)
    lit = (t >= 35) & (t < 40)
    assert values["i_dark_a"] == pytest.approx(current[dark].mean())
    assert values["delta_i_a"] == pytest.approx(current[lit].mean() - current[dark].mean())
    assert values["delta_i_rel"] == pytest.approx(values["delta_i_a"] / values["i_dark_a"])
    assert values["drift_a_per_s"] == pytest.approx(1e-10, rel=1e-6)
    assert values["delta_i_drift_corrected_a"] == pytest.approx(
        1e-6 * (1 - np.exp(-np.arange(15, 20, 0.05) / 3)).mean(), rel=1e-6
    )
    assert values["tau_rise_s"] == pytest.approx(3.0, abs=0.15) and values["tau_decay_s"] == pytest.approx(
        3.0, abs=0.15
    )
    assert remarks == []


@pytest.mark.parametrize("glitch", ["spike", "dropout"])
def test_a_contact_glitch_in_an_it_window_is_no_reading(glitch: str) -> None:
    """One sample ×10 in the lit window made ΔI 37× and the responsivity with it; one of 0 A in the dark window
    made ΔI 4.9×, with no remark. A spike or a dropout of up to GLITCH_RUN samples is passed over, as in a sweep,
    and the plot's ΔI baseline is the table's i_dark_a."""
    t, current, vl = pulse()
    current *= 1 + 1e-5 * np.random.default_rng(3).standard_normal(t.size)  # noise to measure the SNR by
    clean, clean_remarks = it_quantities(t, current, vl, 0.1, SETTINGS)
    hit = current.copy()
    at = np.flatnonzero((t >= 37) & (t < 37.1)) if glitch == "spike" else np.flatnonzero((t >= 17) & (t < 17.15))
    hit[at] = hit[at] * 10 if glitch == "spike" else 0.0
    hit[0] *= 10  # the first sample too: an end has one side
    values, remarks = it_quantities(t, hit, vl, 0.1, SETTINGS)
    assert remarks == clean_remarks == []
    for column in IT_QUANTITIES:
        assert values[column] == pytest.approx(clean[column], rel=0.02), column  # the glitched lost 1–3 samples
    assert dark_level(t, hit, 20.0, SETTINGS.it_window_s) == values["i_dark_a"]


def test_a_contact_dropout_longer_than_a_glitch_is_passed_over_and_said() -> None:
    """A contact lost for 4 samples (0.33 s) in the real It2025-10-21_3's ON window made ΔI 53 % larger, τ_rise
    3×, and the SNR higher; 8 in its dark window flipped ΔI's sign; neither said. A dropout that comes back is no
    reading, whatever its length: passed over, and said; one that never comes back is not one (a contact opened)."""
    t, current, vl = pulse()
    current *= 1 + 1e-5 * np.random.default_rng(3).standard_normal(t.size)
    clean, clean_remarks = it_quantities(t, current, vl, 0.1, SETTINGS)
    for start, samples in ((37.0, 4), (17.0, 8), (36.0, 60)):  # lit, dark, and most of the lit window
        hit = current.copy()
        at = np.flatnonzero(t >= start)[:samples]
        hit[at] = 2.1e-11
        values, remarks = it_quantities(t, hit, vl, 0.1, SETTINGS)
        assert remarks[0] == (f"It: a contact dropout of {samples} samples (t {t[at[0]]:.4g}–{t[at[-1]]:.4g} s, |I| "
                              "under 1/10 of the readings beside it) passed over"), remarks
        if samples < 60:
            for column in ("i_dark_a", "delta_i_a", "delta_i_rel"):
                assert values[column] == pytest.approx(clean[column], rel=0.02), (start, column)
            assert len(remarks) == 1, remarks
        else:  # too little of the window left to average: said as for NaN
            assert values["delta_i_a"] is None and remarks[1].startswith("It: 40 of the ~100 samples in the 5 s lit")
        assert dark_level(t, hit, 20.0, SETTINGS.it_window_s) == values["i_dark_a"]
    assert clean_remarks == []
    fast = current.copy()  # review: a fast photoresponse down by 55 % is the channel's, no dropout of the window
    lit = np.flatnonzero(vl > 0)
    fast[lit] *= 0.45
    values, remarks = it_quantities(t, fast, vl, 0.1, SETTINGS)
    assert not any("dropout" in remark for remark in remarks), remarks
    assert values["delta_i_rel"] < -0.45


def test_an_instruments_overflow_mark_is_a_gap_said_not_a_current() -> None:
    """A Keithley meter out of range writes 9.9e37: in the dark window it made i_dark 2e37 A and the responsivity
    -3e42 A/W, said nowhere. Values of ±1e30 or more read as gaps, said per column; the rest is as without them."""
    t, current, vl = pulse()
    expected = from_data("It", pl.DataFrame({"t_s": t, "i_a": current, "vl_v": vl}), 0.1, SETTINGS)
    marked = np.where((t >= 17) & (t < 17.2), 9.9e37, current)  # 4 samples in the 15–20 s dark window
    marked[-1] = -9.9e37
    *values, remarks = from_data("It", pl.DataFrame({"t_s": t, "i_a": marked, "vl_v": vl}), 0.1, SETTINGS)
    assert remarks[0] == "i_a: 5 values of ±1e+30 or more (an instrument's overflow mark) read as gaps"
    named, unmarked = (dict(zip(metrics_per_run.DATA_COLUMNS, row, strict=False)) for row in (values, expected))
    for column in ("i_dark_a", "delta_i_a", "drift_a_per_s", "tau_rise_s", "tau_decay_s"):  # dark: 96 samples
        assert named[column] == pytest.approx(unmarked[column], rel=1e-3), column
    assert remarks[1:] == expected[-1]
    vg = loop()
    sweep_values = from_data("IVg", pl.DataFrame({"vg_v": vg, "i_a": np.full(vg.size, 9.91e37)}), 0.1, SETTINGS)
    assert set(sweep_values[:-1]) == {None} and sweep_values[-1] == [
        f"i_a: {vg.size} values of ±1e+30 or more (an instrument's overflow mark) read as gaps",
        "IVg: fewer than 3 finite points"]


def test_a_photocurrent_at_zero_bias_is_read_not_passed_over_as_dropouts() -> None:
    """At Vds 0 V a photocurrent is pA of noise around 0: a sample's |I| under half of its neighbours' is noise, not
    a contact dropout. A third of the samples were passed over as glitches, the dark window then read as too thin
    ("the rest NaN or overflow marks", of which it held none), and ΔI was lost."""
    t, _, vl = pulse()
    noise = 2e-12 * np.random.default_rng(4).standard_normal(t.size)
    current = noise + np.where(vl > 0, 1e-10, 0.0)
    values, remarks = it_quantities(t, current, vl, 0.0, SETTINGS)
    dark, lit = (t >= 15) & (t < 20), (t >= 35) & (t < 40)
    assert values["delta_i_a"] == pytest.approx(current[lit].mean() - current[dark].mean())
    assert values["delta_i_a"] == pytest.approx(1e-10, abs=1e-12)
    assert not [remark for remark in remarks if remark.startswith("It:")], remarks
    spiked = current.copy()  # a spike stands off the noise: passed over, as in a run of one sign
    spiked[np.searchsorted(t, 37)] = 1e-7
    assert it_quantities(t, spiked, vl, 0.0, SETTINGS)[0]["delta_i_a"] == pytest.approx(values["delta_i_a"], rel=0.01)
    dropped = np.abs(current) + 1e-9  # a current of one sign keeps its glitches: a dropout at 15 s is passed over
    dropped[300] = 1e-12
    dark[300] = False
    assert it_quantities(t, dropped, vl, 0.0, SETTINGS)[0]["i_dark_a"] == pytest.approx(dropped[dark].mean())


def test_a_stretch_of_noise_around_0_leaves_the_rest_of_a_runs_glitches_passed_over() -> None:
    """A contact opened for the last 10 s of a 10 µA run (pA around 0 there, both signs): glitch detection was
    switched off for the whole run, and a 1 mA spike in the dark window read i_dark 2e-5 A and flipped ΔI's sign."""
    t, current, vl = pulse(drift=0.0)
    rng = np.random.default_rng(5)
    current = current * (1 + 2.4e-4 * rng.standard_normal(t.size))
    current[t >= 50] = 2e-12 * rng.standard_normal(int((t >= 50).sum()))
    clean = it_quantities(t, current, vl, 0.1, SETTINGS)[0]
    current[np.searchsorted(t, 17)] = 1e-3
    values = it_quantities(t, current, vl, 0.1, SETTINGS)[0]
    assert values["i_dark_a"] == pytest.approx(clean["i_dark_a"], rel=1e-4)
    assert values["delta_i_a"] == pytest.approx(clean["delta_i_a"], rel=1e-3)


def test_a_window_mostly_without_readings_is_not_averaged() -> None:
    """A dark window whose samples were NaN but one gave i_dark of that one sample, and a photoresponse, without a
    word. A window under 90 % of its samples is said; one a few samples short is still read."""
    t, current, vl = pulse()
    gaps = np.where((t >= 15.2) & (t < 20), np.nan, current)  # 4 of the 100 samples of the 15–20 s window left
    values, remarks = it_quantities(t, gaps, vl, 0.1, SETTINGS)
    assert values["i_dark_a"] is None and values["delta_i_a"] is None
    assert remarks == ["It: 4 of the ~100 samples in the 5 s dark window are readings (the rest NaN, overflow "
                       "marks or contact glitches): too few to average"]
    lit_gaps = np.where((t >= 36) & (t < 40), np.nan, current)
    assert it_quantities(t, lit_gaps, vl, 0.1, SETTINGS)[1] == [
        "It: 20 of the ~100 samples in the 5 s lit window are readings (the rest NaN, overflow marks or contact "
        "glitches): too few to average"]
    few = np.where((t >= 17) & (t < 17.2), np.nan, current)  # 96 of 100: read, as from those 96
    dark = few[(t >= 15) & (t < 20)]
    assert it_quantities(t, few, vl, 0.1, SETTINGS)[0]["i_dark_a"] == pytest.approx(np.nanmean(dark))


def test_rows_missing_in_time_leave_the_windows_and_times_they_fall_in_unread() -> None:
    """A real It run with the rows of 62–119.5 s deleted (a hand edit, a lost block) read τ_rise 59.5 s (35 s
    whole), the first sample after the gap, and ΔI from 6 samples of the lit window's last 0.5 s, with no remark:
    a window over half without readings is not averaged, and a τ with a gap at its switch, or within the smoothing's
    reach of its crossing on either side, is not read. A pause of the acquisition (real runs: up to 1.1 s at 0.084 s
    a sample, a few % of their τ; under a tenth of it, τ is read to a tenth) changes neither, nor does a slow clock."""
    t, current, vl = pulse()
    whole, _ = it_quantities(t, current, vl, 0.1, SETTINGS)

    def cut(start: float, end: float, clock: np.ndarray = t) -> tuple[dict[str, float | None], list[str]]:
        kept = (clock < start) | (clock >= end)
        trace = pulse() if clock is t else (clock, *pulse_at(clock))
        return it_quantities(trace[0][kept], trace[1][kept], trace[2][kept], 0.1, SETTINGS)

    values, remarks = cut(35, 39.5)  # the lit window but its last 0.5 s
    assert values["i_dark_a"] == whole["i_dark_a"] and values["delta_i_a"] is None
    assert remarks == ["It: no reading between 35 and 39.5 s, over half the 5 s lit window (rows missing, or NaN, "
                       "overflow marks or glitches): too little of it to average"]
    assert cut(14, 19.5)[1] == ["It: no reading between 15 and 19.5 s, over half the 5 s dark window (rows missing, "
                                "or NaN, overflow marks or glitches): too little of it to average"]
    crossing, switch = "around where {} of the step is reached", "before the switch-{}"
    for start, end, unread, since, where in (
            (21, 24, "tau_rise_s", 20.95, crossing.format("1 − 1/e")),  # the crossing (23 s) inside the gap
            (23.05, 25, "tau_rise_s", 23, crossing.format("1 − 1/e")),  # just after it, within the smoothing's reach
            (19.5, 21.4, "tau_rise_s", 19.45, switch.format("on")),  # the switch-on inside the gap
            (19.5, 20.5, "tau_rise_s", 19.45, switch.format("on")),  # ... and the crossing at its first sample after
            (40, 42.4, "tau_decay_s", 39.95, switch.format("off"))):  # the switch-off inside the gap
        values, remarks = cut(start, end)
        unknown = "when it switched" if "switch" in where else "when it was reached"
        assert values[unread] is None and remarks == [
            f"{unread}: no reading for {end - since:.3g} s {where} (from {since:g} s: rows missing, or NaN, overflow "
            f"marks or glitches): {unknown} is unknown"], (start, end)
    assert cut(21, 24)[0]["tau_decay_s"] == whole["tau_decay_s"]
    values, remarks = cut(22.8, 23.05)  # a pause of 0.3 s (6 intervals, a tenth of τ = 3 s) at the crossing
    assert remarks == [] and values["tau_rise_s"] == pytest.approx(whole["tau_rise_s"], abs=0.3)
    assert cut(36, 37)[1] == []  # a 1 s pause in the lit window
    slow = np.arange(0, 60, 0.3)  # a slow clock: 5 s of rows missing at the crossing are still a gap
    assert cut(21, 26, slow)[0]["tau_rise_s"] is None
    assert cut(30, 30, slow)[0]["tau_rise_s"] == pytest.approx(3, abs=0.4)
    sparse = np.arange(0, 60, 3.0)  # a run sampled every 3 s: its windows hold a sample or two, no gap
    assert not any("no reading" in remark for remark in cut(0, 0, sparse)[1])


def test_the_dark_trend_leaves_out_the_settling_at_the_start() -> None:
    """Real runs often start with a transient that has settled long before switch-on: a line through the whole
    dark part would be steep with it, and its extrapolation under the light would swamp ΔI."""
    t = np.arange(0, 90, 0.05)
    vl = np.where((t >= 60) & (t < 75), 2.0, 0.0)
    current = 1e-5 + 2e-11 * t + 3e-6 * np.exp(-t / 3) + np.where(vl > 0, 1e-7, 0.0)
    values, _ = it_quantities(t, current, vl, 0.1, SETTINGS)
    assert values["drift_a_per_s"] == pytest.approx(2e-11, rel=0.01)
    assert values["delta_i_drift_corrected_a"] == pytest.approx(1e-7, rel=0.01)
    assert np.polyfit(t[t < 60], current[t < 60], 1)[0] < -1e-9  # the whole dark part's line: 50× steeper, falling


def test_rise_and_decay_times_need_a_step_clear_of_a_wandering_baseline() -> None:
    """A baseline that wanders over seconds is not white noise: smoothing does not shrink it by √n, so the noise
    is measured on the smoothed dark trace itself."""
    t, current, vl = pulse(drift=0.0)
    wander = 4e-8 * np.sin(2 * np.pi * t / 8)  # 40 nA over 8 s: 1 s of smoothing keeps nearly all of it
    step = 1e-7 * (current - 1e-5) / 1e-6  # 100 nA: 16σ of white noise of that σ, smoothed; not of the wander
    values, remarks = it_quantities(t, 1e-5 + wander + step, vl, 0.1, SETTINGS)
    assert values["delta_i_a"] is not None and values["tau_rise_s"] is None and values["tau_decay_s"] is None
    assert remarks[0].startswith("tau: delta_i_a is within 5σ")
    assert 0 < values["delta_i_snr"] < 5
    values, _ = it_quantities(t, 1e-5 + wander + step * 50, vl, 0.1, SETTINGS)
    assert values["tau_rise_s"] == pytest.approx(3.0, abs=0.5)
    assert values["delta_i_snr"] > 5


def test_a_photoresponses_snr_is_its_size_over_the_smoothed_dark_noise() -> None:
    t, current, vl = pulse(drift=0.0)
    noise = np.random.default_rng(7).normal(0.0, 1e-7, t.size)
    values, _ = it_quantities(t, current + noise, vl, 0.1, SETTINGS)
    settled = (t >= 0) & (t < 20)  # the drift window (20 s) before switch-on at 20 s
    smooth = np.convolve(noise, np.ones(20) / 20, mode="same")[settled]  # 1 s of 0.05 s samples
    expected = abs(values["delta_i_a"]) / np.std(smooth - np.polyval(np.polyfit(t[settled], smooth, 1), t[settled]))
    assert values["delta_i_snr"] == pytest.approx(expected, rel=0.1)
    flat = np.where(t < 20, 0.0, current)  # a dark trace without noise (no Vds: not called dead): no ratio to give
    values, remarks = it_quantities(t, flat, vl, None, SETTINGS)
    assert values["delta_i_snr"] is None and values["delta_i_a"] is not None
    assert "delta_i_snr: the smoothed dark trace holds no noise (σ = 0 A)" in remarks
    assert any(text.startswith("tau_rise_s: faster than the trace resolves") for text in remarks)  # 0 → 10 µA at once


def test_dark_runs_and_unfinished_pulses_say_why_there_is_no_photoresponse() -> None:
    t, _, vl = pulse(laser=0.05)  # below the lab's 0.1 V light threshold: dark
    current = 1e-5 + 1e-10 * t
    values, remarks = it_quantities(t, current, vl, 0.1, SETTINGS)
    assert values["i_dark_a"] == pytest.approx(current.mean()) and values["drift_a_per_s"] == pytest.approx(1e-10)
    assert values["delta_i_a"] is None and remarks == [
        "photoresponse: the laser never switched on (a dark run, or one stopped before its pulse)"]
    t, current, vl = pulse()
    values, remarks = it_quantities(t[t < 30], current[t < 30], vl[t < 30], 0.1, SETTINGS)
    assert values["i_dark_a"] is not None and values["delta_i_a"] is None and "never switched off" in remarks[0]
    values, remarks = it_quantities(t, current, vl, 0.1, replace(SETTINGS, it_window_s=30.0))
    assert values["i_dark_a"] is None and "dark window" in remarks[0]
    whole = it_quantities(t, current, vl, 0.1, SETTINGS)[0]
    off = int(np.argmax((vl[1:] < 0.1) & (vl[:-1] >= 0.1))) + 1  # the first sample after the switch-off
    for after in (1, 2):  # a run stopped a sample or two after its switch-off "never switched off", no ΔI
        values, remarks = it_quantities(t[:off + after], current[:off + after], vl[:off + after], 0.1, SETTINGS)
        assert values["delta_i_a"] == whole["delta_i_a"] and not any("never switched off" in text for text in remarks)


def test_a_trace_whose_clock_goes_back_or_whose_laser_is_unrecorded_gives_no_photoresponse() -> None:
    """The windows are found by bisection on t and the edges on VL: sorted rows, two runs in one file or an empty VL
    column would give numbers from the wrong samples."""
    t, current, vl = pulse()
    restarted = np.concatenate([t[:400], t[:400]])  # the acquisition restarted and appended its rows
    values, remarks = it_quantities(restarted, np.concatenate([current[:400]] * 2), np.concatenate([vl[:400]] * 2),
                                    0.1, SETTINGS)
    assert all(value is None for value in values.values()) and "goes back at sample 401" in remarks[0]
    jitter = t.copy()
    jitter[301] = jitter[300] - 1e-6  # back by a µs: said with the digits that tell the two apart
    remarks = it_quantities(jitter, current, vl, 0.1, SETTINGS)[1]
    assert f"({jitter[300]:.9g} → {jitter[301]:.9g} s)" in remarks[0]
    values, remarks = it_quantities(t, current, np.full(t.size, np.nan), 0.1, SETTINGS)
    assert all(value is None for value in values.values()) and "VL column holds no value" in remarks[0]


def test_a_vl_misread_mid_pulse_does_not_switch_the_laser_off() -> None:
    """One VL sample of 0 V in the middle of the pulse switched the laser off there: ΔI read half-way up the step,
    half its size, with no remark. Two samples are a misread too, and so are more held under a tenth of the 5 s
    window (3 samples, 0.25 s, read as a second pulse, flipped a real run's ΔI); 0.5 s is a switch."""
    t, current, vl = pulse()
    expected = it_quantities(t, current, vl, 0.1, SETTINGS)
    for misread in ([500], [500, 501], list(range(500, 509))):  # from 25 s, 15 s before the switch-off at 40 s
        flickered = vl.copy()
        flickered[misread] = 0.0
        assert it_quantities(t, current, flickered, 0.1, SETTINGS) == expected
        assert laser_windows(t, flickered, 0.1, SETTINGS.it_window_s) == [(20.0, 40.0)]  # the plot's shading too
    flickered = vl.copy()
    flickered[500:510] = 0.0  # off at 25 s for 0.5 s, 5 s after the switch-on: ΔI is of 20–25 s
    assert it_quantities(t, current, flickered, 0.1, SETTINGS)[0]["delta_i_a"] < 0.9 * expected[0]["delta_i_a"]


def test_a_blip_near_a_pulse_s_edges_or_a_spark_in_the_dark_is_a_misread() -> None:
    """Read against each neighbour alone, a blip 0.5 s after the switch-on, or 1 s before the switch-off, split the
    pulse ("switched on again", a ΔI of 0.5 s or none), and a 3-sample spark of light in the dark lead-in was the
    pulse read; in a run its header says is dark, VL noise reaching the threshold was read as pulses, the dark
    current a 5 s mean before the first and the drift 70× off."""
    t, current, vl = pulse()
    expected = it_quantities(t, current, vl, 0.1, SETTINGS)
    for at, level in ((410, 0.0), (780, 0.0), (200, 2.0)):  # 20.5 s, 39 s: off; 10 s: on
        blipped = vl.copy()
        blipped[at:at + 3] = level
        assert it_quantities(t, current, blipped, 0.1, SETTINGS) == expected, at
    dark = 1e-5 + 1e-12 * t
    noise = np.zeros(t.size)
    noise[[100, 101, 102, 600, 601, 602]] = 0.12  # two 0.15 s slivers past the 0.1 V threshold
    values, remarks = it_quantities(t, dark, noise, 0.1, SETTINGS, laser_v=0.0)
    assert values["i_dark_a"] == pytest.approx(dark.mean()) and values["drift_a_per_s"] == pytest.approx(1e-12)
    assert remarks == ["photoresponse: the laser never switched on (a dark run, or one stopped before its pulse)"]
    assert laser_windows(t, noise, 0.1, SETTINGS.it_window_s, 0.0) == []  # nor shaded


def test_a_short_pulse_or_a_train_of_them_is_no_misread() -> None:
    """The misread rule of a tenth of the window took a real 0.4 s pulse for one: a dark run, its dark current and
    drift over the pulse. Only a laser off inside a pulse, ten times shorter than either side, is a misread; an
    unrelated NaN current beside a lit blip said the blip's samples held no reading."""
    t = np.arange(0, 30, 0.0835)
    vl = np.where((t >= 15) & (t < 15.4), 2.0, 0.0)
    current = 1e-5 + 1e-6 * (vl > 0)
    values, remarks = it_quantities(t, current, vl, 0.1, SETTINGS)
    assert values["i_dark_a"] == pytest.approx(1e-5) and values["delta_i_a"] is None  # of the 5 s before it
    assert remarks == ["photoresponse: the laser was on 0.418 s, less than the 5 s window"]
    train = np.where((t >= 15) & ((t - 15) % 0.8 < 0.4), 2.0, 0.0)  # 0.4 s on, 0.4 s off: pulses, not misreads
    assert len(laser_windows(t, train, 0.1, SETTINGS.it_window_s)) > 10
    unread = current.copy()
    unread[48] = np.nan  # 4 s, far from the pulse
    values, remarks = it_quantities(t, unread, vl, 0.1, SETTINGS)
    assert remarks == ["photoresponse: the laser was on 0.418 s, less than the 5 s window"]


def test_a_vl_column_that_disagrees_with_the_header_is_said_by_the_stage_and_a_rebuild(tmp_path: Path) -> None:
    """The power is priced at the header's laser voltage: a header that says 1.15 V on a run the VL column says was
    driven at 3.52 V got a responsivity of another power without a word. Every real lit run's VL is its header's."""
    lab = Lab(tmp_path)
    lab.write("d/It2025-10-13_1.csv", raw_csv("It", rows=it_rows(voltage=3.52)))
    lab.write("d/It2025-10-13_2.csv", raw_csv("It", start=1760371999.5))  # 1.15 V in both
    said = ("It: the VL column reads 3.52 V while lit, the header's laser voltage 1.15 V (power_w is priced at the "
            "header's)")

    def remarks() -> dict[str, list[str]]:
        table = read_metrics(lab.config).join(lab.manifest().select("run_id", "source_file"), on="run_id")
        return dict(table.select("source_file", "remarks").iter_rows())

    lab.stage()
    staged = remarks()
    assert said in staged["d/It2025-10-13_1.csv"] and not any("VL column" in r for r in staged["d/It2025-10-13_2.csv"])
    update_metrics(lab.config, rebuild=True)  # read back from the Parquet: the same
    assert remarks() == staged
    vl = pulse()[2]
    assert lit_vl_disagrees(vl, 2.0, 0.1) == [] and lit_vl_disagrees(vl, None, 0.1) == []
    assert lit_vl_disagrees(vl, 0.05, 0.1) == []  # a header that says dark: the VL column's pulses are said elsewhere
    assert lit_vl_disagrees(np.zeros(5), 2.0, 0.1) == [  # a header that says lit, a VL column that never is
        "It: the VL column never reaches 0.1 V, the header's laser voltage 2 V (power_w is priced at the header's)"]
    assert lit_vl_disagrees(np.full(5, np.nan), 2.0, 0.1) == lit_vl_disagrees(np.zeros(0), 2.0, 0.1) == []


def test_a_laser_reading_missing_while_lit_does_not_switch_the_laser_off(tmp_path: Path) -> None:
    """A blank VL field in the lit part (a missed read-back, staged as a missing value) was taken as the switch-off:
    ΔI from the wrong window, a rise time cut short and a decay time measured from the middle of the pulse."""
    lab = Lab(tmp_path)
    rows = []
    for k in range(451):  # dark 0–15 s, lit 15–30 s rising 1 nA/s, dark 30–45 s
        t = k / 10
        on = 15 <= t < 30
        rows.append([repr(t), repr(1e-6 + (1e-9 * (t - 15) if on else 0.0)), "2.0" if on else "0.0", "nan", "nan",
                     "nan"])
    whole = [",".join(row) for row in rows]
    rows[220][2] = ""  # t = 22 s
    params = {"Laser voltage": "2 V", "Laser ON+OFF period": "30 s"}
    lab.write("2025-10-14/It2025-10-14_1.csv", raw_csv("It", rows=whole, params=params, start=START.timestamp()))
    lab.write("2025-10-14/It2025-10-14_2.csv", raw_csv("It", rows=[",".join(row) for row in rows], params=params,
                                                       start=START.timestamp() + 60))
    lab.stage()
    table = read_metrics(lab.config).sort("source_file")
    assert table["delta_i_a"][0] == pytest.approx(1e-9 * 12.45, rel=1e-6)
    for column in ("delta_i_a", "tau_rise_s", "tau_decay_s"):
        assert table[column][1] == pytest.approx(table[column][0]), column


def test_the_figure_shades_the_laser_on_where_the_table_reads_it_on(tmp_path: Path) -> None:
    """A pulse at 0.05 V is below the lab's 0.1 V light threshold: the history says dark and the table has no
    photoresponse, yet the figure shaded it "laser ON" (it shaded wherever VL > 0)."""
    lab = Lab(tmp_path)
    faint = it_rows(period=20.0, voltage=0.05)
    lab.write("2025-10-14/It2025-10-14_1.csv", raw_csv("It", rows=faint, params={"Laser voltage": "0.05 V",
                                                                                  "Laser ON+OFF period": "20 s"}))
    lab.write("2025-10-14/It2025-10-14_2.csv", raw_csv("It", rows=it_rows(period=20.0),
                                                       params={"Laser ON+OFF period": "20 s"}, start=START.timestamp()))
    lab.stage()
    table = read_metrics(lab.config).sort("source_file")
    assert table["delta_i_a"][0] is None and table["delta_i_a"][1] is not None
    runs = lab.manifest().sort("source_file")
    shaded = [build_plots(runs[k : k + 1], lab.stage_root, PlotOptions(), settings=lab.config.metrics)[0].spans
              for k in range(2)]
    assert shaded[0] == () and np.allclose(shaded[1], [(10.0, 20.0)])


def test_a_step_faster_than_the_trace_resolves_has_no_time_constant() -> None:
    """An instant step read τ = 0 s (the smoothed trace past 1 − 1/e at the first lit sample): no device's time."""
    t, current, vl = pulse(tau=1e-3)
    current *= 1 + 1e-5 * np.random.default_rng(5).standard_normal(t.size)
    values, remarks = it_quantities(t, current, vl, 0.1, SETTINGS)
    assert values["tau_rise_s"] is None and values["tau_decay_s"] is None and values["delta_i_a"] > 0
    assert remarks == [
        "tau_rise_s: faster than the trace resolves (1 − 1/e of the step already at the first sample, smoothed over "
        "1 s)",
        "tau_decay_s: faster than the trace resolves (1/e of the step already at the first sample, smoothed over 1 s)"]
    values, _ = it_quantities(t, *pulse(tau=0.3)[1:], 0.1, SETTINGS)
    assert values["tau_rise_s"] == pytest.approx(0.3, abs=0.1)  # resolved: a sample or more after switch-on


def test_slow_decay_is_null_when_not_reached() -> None:
    t, current, vl = pulse(tau=200.0)
    values, remarks = it_quantities(t, current, vl, 0.1, SETTINGS)
    assert values["tau_decay_s"] is None and any(r.startswith("tau_decay_s:") for r in remarks)


def test_a_second_pulse_is_said_and_the_decay_read_before_it() -> None:
    """A run with a second pulse had only its first read, unsaid (the definitions said so, the run's row did not),
    and the decay was read into the next pulse: with a slow decay, its rise made a tau_decay_s of the wrong pulse."""
    t, current, vl = pulse(tau=8.0)
    second = (t >= 52) & (t < 56)
    vl = np.where(second, 2.0, vl)
    current = np.where(t >= 52, current + 1e-6 * (1 - np.exp(-(t - 52) / 0.5)), current)  # lit again at 52 s
    values, remarks = it_quantities(t, current, vl, 0.1, SETTINGS)
    assert remarks[0] == "photoresponse: the laser switched on again at 52 s (several pulses in one run): only the " \
                         "first is read"
    single, _ = it_quantities(*pulse(tau=8.0), 0.1, SETTINGS)
    assert values["delta_i_a"] == single["delta_i_a"] and values["tau_decay_s"] == pytest.approx(8.0, abs=0.5)


# --- LaserCalibration ---------------------------------------------------------------------------------------------


def test_a_curve_whose_last_setpoint_carries_float_drift_prices_its_end() -> None:
    """A cumulative 0.1 V sum writes the last setpoint as 4.999999999999998: a run at 5 V was `outside the calibrated
    0–5 V`, the remark contradicting itself (8 real It runs are at 5 V)."""
    vl = np.cumsum(np.full(51, 0.1)) - 0.1
    power = 1e-6 * vl
    assert vl[-1] < 5.0
    assert power_at(vl, power, 5.0) == (power[-1], None)
    assert powers_at(vl, power, np.array([5.0, 5.01]))[0] == power[-1] and np.isnan(powers_at(vl, power, [5.01])[0])
    assert power_at(vl, power, 5.01)[1] == "power_w: VL 5.01 V is outside the calibrated 0–5 V"


def test_calibration_slope_threshold_and_interpolation() -> None:
    vl = np.round(np.arange(0, 5.05, 0.1), 10)
    power = 5e-9 + 2e-6 * np.clip(vl - 0.3, 0, None)
    values, remarks = calibration_quantities(vl, power)
    assert values["p_max_w"] == pytest.approx(power.max()) and values["slope_w_per_v"] == pytest.approx(2e-6)
    assert values["threshold_v"] == pytest.approx(0.4, abs=1e-9) and remarks == []  # 0.3 V is still dark
    assert power_at(vl, power, 2.55)[0] == pytest.approx(5e-9 + 2e-6 * 2.25)
    assert power_at(vl, power, 5.5) == (None, "power_w: VL 5.5 V is outside the calibrated 0–5 V")
    offset = power - 1e-8  # a meter that reads below zero in the dark
    why = "power_w: the calibration gives -5e-09 W at VL 0.2 V, no power above 0 W"
    assert power_at(vl, offset, 0.2) == (None, why)


def test_a_calibration_whose_vl_never_changes_gives_no_curve_whatever_its_rows_order() -> None:
    """Two readings at one VL (or a stuck VL column): `np.interp` gave whichever sorted last, so the power and the
    responsivity depended on the rows' order. No curve, said; the nearest usable calibration is taken instead
    (`_why_unpriced` passes over a calibration with a whole-curve remark)."""
    for power in (np.array([1e-6, 9e-6]), np.array([9e-6, 1e-6])):
        values, remarks = calibration_quantities(np.array([1.05, 1.05]), power)
        assert values == dict.fromkeys(values) and remarks == [
            "LaserCalibration: VL never changes (1.05 V): a power at one voltage is no curve"]
        assert power_at(*calibration_curve(np.array([1.05, 1.05]), power), 1.05) == (
            None, "power_w: the calibration's VL never changes (1.05 V): a power at one voltage is no curve")


def test_a_calibrations_glitch_prices_no_run() -> None:
    """One reading of a calibration at 0 W (a sensor dropout) at a run's VL, written 1.4000000000000001 V by the
    acquisition, priced the run at 1.3e-20 W: a responsivity of -1e12 A/W, unflagged; a reading of 1e-10 W gave
    -145 A/W, and a 100× spike was p_max and priced its run 100× high. A dropout or a spike of up to 3 readings
    between two others is passed over, as the sweeps' contact glitches are; the dark readings a curve starts with
    are its own (not a dropout), and so is the last reading."""
    vl = np.round(np.arange(0, 3.05, 0.1), 10)
    power = np.where(vl >= 0.5, 1e-6 * (vl - 0.4), 3e-9)
    at = 1.4000000000000001
    clean = power_at(*calibration_curve(vl, power), at)
    assert clean == (pytest.approx(1e-6), None)
    for reading in (0.0, 1e-10, 1e-4):  # a dropout, a dropout to the dark floor, a spike
        glitched = power.copy()
        glitched[14] = reading
        assert power_at(*calibration_curve(vl, glitched), at) == (pytest.approx(clean[0], rel=1e-12), None), reading
        assert calibration_quantities(vl, glitched)[0] == pytest.approx(calibration_quantities(vl, power)[0]), reading
    assert calibration_quantities(vl, power)[0]["threshold_v"] == pytest.approx(0.5)  # its dark start kept
    ends = power.copy()
    ends[-1] = 1e-4  # a steep last reading: a reading, not a spike (it may be the laser's top)
    assert calibration_curve(vl, ends)[1][-1] == 1e-4
    # the dark readings' noise is no glitch: a dark reading before the knee passed over as a "dropout" priced a run
    # below the threshold by a line from the dark level to the first lit reading (600× its power)
    knee = np.where(vl >= 2.2, 1e-6 * (vl - 2.1), 1e-9)
    knee[18] = 3e-9  # 1.8 V
    assert np.array_equal(calibration_curve(vl, knee)[1], knee)
    assert power_at(*calibration_curve(vl, knee), 2.0)[0] is None
    rng = np.random.default_rng(7)
    for _ in range(20):  # dark readings of 50 % noise, some below 0 W: none passed over
        noisy = np.where(vl >= 2.2, 1e-6 * (vl - 2.1), 1e-9 * (1 + 0.5 * rng.standard_normal(vl.size)))
        assert calibration_curve(vl, noisy)[1].size == vl.size


def test_a_run_at_a_vl_below_its_calibrations_threshold_has_no_power() -> None:
    """Below the threshold the sensor reads its dark offset, not the laser: a power of 3 nW there gave a responsivity
    orders of magnitude off. power_w is null there, saying why, as the spread's powers are."""
    vl = np.round(np.arange(0, 3.05, 0.1), 10)
    curve = calibration_curve(vl, np.where(vl >= 0.5, 1e-6 * (vl - 0.4), 3e-9))
    assert power_at(*curve, 0.3) == (None, "power_w: the calibration gives 3e-09 W at VL 0.3 V, not above its laser's "
                                           "threshold (2.3e-08 W: its dark reading and a margin over the sensor's "
                                           "noise, see threshold_v): no light to price")
    assert np.isnan(powers_at(*curve, np.array([0.3]))[0]) and powers_at(*curve, np.array([1.4]))[0] > 0


@pytest.mark.parametrize(("at_0_1", "threshold"), [(137e-9, 0.1), (15e-9, 0.2)])
def test_a_calibrations_threshold_is_where_it_reads_light_over_the_sensors_noise(at_0_1, threshold) -> None:
    """LaserCalibration2025-09-15_2 (850 nm) reads 137.5 nW at 0.1 V against 2.1 nW dark, under 1 % of its 15 µW:
    its threshold was put at 0.2 V, and a run at 0.1 V would have been refused. 13 nW over the dark reading is within
    the sensor's scatter: no light yet."""
    vl = np.round(np.arange(0, 3.05, 0.1), 10)
    power = np.where(vl >= 0.2, 5e-6 * (vl - 0.1), 2.1e-9)
    power[1] = at_0_1
    values, remarks = calibration_quantities(vl, power)
    assert values["threshold_v"] == threshold and not remarks
    assert (power_at(*calibration_curve(vl, power), 0.1)[0] is not None) == (threshold == 0.1)


def test_a_calibration_of_the_sensors_noise_alone_prices_no_run() -> None:
    """A fibre off the sensor: 1.3 ± 0.4 nW of noise priced a run at 4.9 V at 1.66 nW, a responsivity 15,000× the
    run's, with no doubt said (only a store with 3 calibrations of the wavelength could tell it by its P max)."""
    vl = np.round(np.arange(0, 5.05, 0.1), 10)
    noise = 1.3e-9 + 0.4e-9 * np.random.default_rng(7).standard_normal(vl.size)
    values, remarks = calibration_quantities(vl, noise)
    assert values["threshold_v"] is None and values["slope_w_per_v"] is None
    assert len(remarks) == 1 and remarks[0].startswith("LaserCalibration: the Power rises ") and remarks[0].endswith(
        "above its dark reading at most, within a sensor's dark scatter (20 nW): no light reached the sensor; it "
        "prices no run")
    assert calibration_quantities(vl, noise + np.where(vl >= 1, 25e-9, 0))[0]["threshold_v"] == 1.0  # 25 nW: light


VLS = np.round(np.arange(0, 5.05, 0.1), 10)
LIGHT = np.where(VLS >= 1.1, 5e-6 * (VLS - 1.0), 0.0)  # the laser on from 1.1 V, 20 µW at 5 V


@pytest.mark.parametrize(("power", "lit"), [
    (LIGHT + np.where(VLS == 0.5, 1e-7, 0.0), True),  # a coarse meter: one count of 0.1 µW at 0.5 V
    (LIGHT + np.r_[-15e-9, np.where(VLS[1:] == 0.5, 7e-9, 4e-9)], True),  # 7 nW over a dark reading of −15 nW
    (np.r_[1.3e-9 + 0.4e-9 * np.random.default_rng(7).standard_normal(50), 25e-9] + np.where(VLS == 0.5, 2e-9, 0.0),
     False),  # a curve of noise, one stray reading at its end
])
def test_no_run_is_priced_by_the_sensors_noise_below_the_lasers_threshold(power, lit) -> None:
    """Under a margin of 20 nW (or 1 % of a weak curve's rise), a reading of the sensor's noise below the threshold
    priced a run there: one count of a coarse meter (0.1 µW), 7 nW over a dark reading of −15 nW, 2 nW of a curve
    of noise with one stray reading at its end. A run is priced only above the last setpoint that reads dark."""
    curve = calibration_curve(VLS, power)
    price, why = power_at(*curve, 0.5)
    assert price is None and why.startswith("power_w: VL 0.5 V is below its laser's threshold"), why
    assert np.isnan(powers_at(*curve, np.array([0.5]))[0])
    if lit:
        assert power_at(*curve, 2.0) == (pytest.approx(power[20]), None)  # lit: priced as before


def test_readings_repeated_at_one_vl_are_their_mean_whatever_the_rows_order() -> None:
    """A calibration that measured 1 V twice (3 µW, then 1 µW): `np.interp` priced a run at 1 V with the repeat that
    sorted last (3 µW, 1.5× the mean), and its responsivity with it. The repeats are one point, their mean, in the
    power a run gets and in the calibration's own numbers (the dark reading repeated too)."""
    vl, power = np.array([0.0, 0.0, 1.0, 1.0, 2.0, 3.0, 4.0]), np.array([2e-9, 0.0, 3e-6, 1e-6, 4e-6, 6e-6, 7e-6])
    forward, backward = calibration_curve(vl, power), calibration_curve(vl[::-1], power[::-1])
    assert all(np.array_equal(a, b) for a, b in zip(forward, backward, strict=True))
    assert power_at(*forward, 1.0) == (2e-6, None) and power_at(*forward, 0.5) == (pytest.approx(1.0005e-6), None)
    values, remarks = calibration_quantities(vl, power)
    assert values["threshold_v"] == 1.0 and values["slope_w_per_v"] == pytest.approx(2e-6) and not remarks
    huge = calibration_curve(np.array([0.0, 1.0, 1.0, 2.0]), np.array([0.0, 1.7e308, 1.7e308, 1.7e308]))[1]
    assert huge[1] == 1.7e308  # repeats near the limit of a float: their mean, not an overflow to inf


def test_a_calibration_of_absurd_values_has_no_slope_and_says_why_without_a_warning() -> None:
    """VL near the limit of a float on the linear part: np.polyfit warned (RankWarning) and LAPACK printed its
    own errors onto the terminal, under the app's screen. No finite slope: a null with its reason."""
    vl = np.round(np.arange(0, 5.05, 0.1), 10)
    power = 5e-9 + 2e-6 * np.clip(vl - 0.3, 0, None)
    vl[30] = 1e308  # sorted last; its Power is within 10–90 % of p_max
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with np.errstate(all="ignore"):  # as `from_data` calls it
            values, remarks = calibration_quantities(vl, power)
    assert values["slope_w_per_v"] is None and values["p_max_w"] == pytest.approx(power.max())
    assert remarks == ["slope_w_per_v: no finite fit (VL or Power near the limits of a float)"]


def test_a_calibration_clipped_by_its_meters_range_prices_no_run_past_the_clip() -> None:
    """A meter on a fixed range writes its full scale past it: the top of the curve read a flat 5 µW, and a run at
    4.67 V was priced at 5 µW for 6 µW (a responsivity 20 % high), unsaid. The curve ends where the clip begins,
    and says so; a run past it is unpriced."""
    vl = np.round(np.arange(0, 5.05, 0.1), 10)
    power = np.where(vl > 0.2, 2.9e-9 + 1.3e-6 * (vl - 0.2), 2.9e-9)
    clipped = np.minimum(power, 5e-6)
    values, remarks = calibration_quantities(vl, clipped)
    first = float(vl[np.argmax(clipped == 5e-6)])
    assert values["p_max_w"] == pytest.approx(float(clipped[clipped < 5e-6].max()))
    assert remarks == [f"p_max_w: the Power reads a flat 5 µW from VL {first:g} V on: the meter's range clipped it; "
                       "no run at those voltages is priced"]
    curve = calibration_curve(vl, clipped)
    assert power_at(*curve, 4.67)[0] is None and power_at(*curve, 2.0)[0] == pytest.approx(power[20])
    assert calibration_curve(vl, power)[0].size == vl.size  # a curve whose largest reading is once: whole
    past = np.where(vl == 4.8, np.nan, clipped)  # a reading missing past the clip: of the clip, not a gap
    assert power_at(*calibration_curve(vl, past), 4.67) == power_at(*curve, 4.67)
    assert not any(remark.startswith("curve:") for remark in calibration_quantities(vl, past)[1])


def test_a_calibration_missing_readings_prices_no_run_across_its_gap() -> None:
    """NaN Power at 0.1–0.3 V, the curve's knee: np.interp drew a line from the dark reading to the first lit one and
    priced a run at 0.2 V 54 % high, and the threshold read 0.4 V, unsaid. No power across the gap, and no threshold
    inside it, each said; a reading beside it is still priced as read."""
    vl = np.round(np.arange(0, 3.05, 0.1), 10)
    power = np.where(vl >= 0.15, 1e-6 * (vl - 0.1), 3e-9)
    gappy = np.where((vl > 0.05) & (vl < 0.35), np.nan, power)
    values, remarks = calibration_quantities(vl, gappy)
    assert values["threshold_v"] is None and values["slope_w_per_v"] == pytest.approx(1e-6)
    assert remarks == ["curve: no Power reading at VL 0.1, 0.2 and 0.3 V: no run between their neighbours is "
                       "priced", "threshold_v: the laser switches on between VL 0 and 0.4 V, where the Power has no "
                       "reading"]
    curve = calibration_curve(vl, gappy)
    assert power_at(*curve, 0.2) == (None, "power_w: the calibration has no Power reading next to VL 0.2 V: none is "
                                           "drawn across")
    assert power_at(*curve, 0.4) == (pytest.approx(3e-7), None)  # a reading beside the gap: itself
    assert power_at(*curve, 1.25) == (pytest.approx(1.15e-6), None)
    assert np.isnan(powers_at(*curve, np.array([0.25])))[0] and powers_at(*curve, np.array([0.4]))[0] > 0
    assert calibration_quantities(vl, power)[0]["threshold_v"] == pytest.approx(0.2)  # whole: as before


def test_a_calibration_with_no_dark_reading_prices_runs_as_it_measured_them() -> None:
    """Its 0 V reading missing, or a sweep from 0.5 V: the lowest reading, lit, was taken for the dark one. The
    threshold moved up a step, unsaid, and a run at that lowest VL was refused as "not above its laser's threshold",
    though the curve measured 1.35 µW there."""
    vl = np.round(np.arange(0, 3.05, 0.1), 10)
    power = 1.35e-6 + 1e-6 * vl  # lasing from 0 V on
    for from_vl, curve_vl, curve_power in ((0.1, vl, np.where(vl == 0, np.nan, power)),
                                           (0.5, vl[vl >= 0.45], power[vl >= 0.45])):
        values, remarks = calibration_quantities(curve_vl, curve_power)
        at = 1.35e-6 + 1e-6 * from_vl
        assert values["threshold_v"] is None and values["slope_w_per_v"] == pytest.approx(1e-6)
        assert f"threshold_v: the Power reads {at * 1e6:.3g} µW at VL {from_vl:g} V, its lowest: the curve starts " \
               "lit, with no dark reading to tell where the laser switches on" in remarks
        assert power_at(*calibration_curve(curve_vl, curve_power), from_vl) == (pytest.approx(at), None)
    dark = np.where(vl >= 0.2, power, 1.5e-8)  # a real dark start of 15 nW: the dark reading, as before
    assert calibration_quantities(vl, dark)[0]["threshold_v"] == pytest.approx(0.2)


def test_a_calibrations_first_reading_spiking_above_its_dark_ones_is_left_out() -> None:
    """A settling spike of 5 µW at 0 V was the dark reading: the threshold read 1.3 V for 0.2 V, every run below it
    was refused, and the slope fitted the spike (−5.5 %). It is left out and said; the curve is read from 0.1 V (the
    real curves are lit from 0.1 or 0.2 V: one dark reading follows the 0 V one, at most)."""
    vl = np.round(np.arange(0, 5.05, 0.1), 10)
    power = np.where(vl >= 0.2, 4e-6 * (vl - 0.15), 3e-9)
    spiked = power.copy()
    spiked[0] = 5e-6
    values, remarks = calibration_quantities(vl, spiked)
    assert values == pytest.approx(calibration_quantities(vl, power)[0])
    assert values["threshold_v"] == pytest.approx(0.2)
    assert remarks == ["curve: its first reading (5 µW at VL 0 V) stands above the dark readings after it, "
                       "a settling spike: left out"]
    assert power_at(*calibration_curve(vl, spiked), 1.0) == (pytest.approx(3.4e-6), None)
    assert power_at(*calibration_curve(vl, spiked), 0.05)[1] == "power_w: VL 0.05 V is outside the calibrated 0.1–5 V"


def test_a_calibrations_odd_start_and_ends_are_read_by_their_shape() -> None:
    """From the review of the rules above: a lit start whose next reading dropped out was taken for a spike before a
    dark reading (a run priced 2× low); a dark start of 21 nW, or one raised by ambient light, for a lit one (no
    threshold, runs below it priced at the sensor's offset); a NaN at the top VL padded the curve's range, so the
    next nearest calibration no longer priced a run there; a setpoint written 0.30000000000000004 beside a gap was
    refused; and a curve of no reading raised."""
    vl = np.round(np.arange(0.5, 5.05, 0.1), 10)
    lit = 1e-6 + 4e-6 * vl
    dropped = lit.copy()
    dropped[1] = 0.0  # 0.6 V: a dropout, passed over; the lit start before it is no spike
    values, remarks = calibration_quantities(vl, dropped)
    assert values["threshold_v"] is None and not any("spike" in remark for remark in remarks)
    assert power_at(*calibration_curve(vl, dropped), 0.65) == (pytest.approx(1e-6 + 4e-6 * 0.65), None)
    fine = np.round(np.arange(1.0, 5.001, 0.02), 10)  # a lit start in fine steps (each 0.4 % of p_max): it climbs
    assert calibration_quantities(fine, 4e-6 * (fine - 0.3))[0]["threshold_v"] is None
    assert power_at(*calibration_curve(fine, 4e-6 * (fine - 0.3)), 1.0) == (pytest.approx(2.8e-6), None)
    full = np.round(np.arange(0, 5.05, 0.1), 10)
    for offset in (21e-9, 300e-9):  # a flat start as high as a lit reading: still the dark one
        raised = np.where(full >= 0.2, 19e-6 * (full - 0.1) / 4.9, 0.0) + offset
        raised[1] += 1e-9
        assert calibration_quantities(full, raised)[0]["threshold_v"] == pytest.approx(0.2)
        assert power_at(*calibration_curve(full, raised), 0.1)[0] is None  # below the threshold: no light
    top = np.where(full == 5.0, np.nan, 1e-6 * full)
    curve = calibration_curve(full, top)
    assert curve[0][-1] == 4.9 and power_at(*curve, 5.0) == (None, "power_w: VL 5 V is outside the calibrated 0–4.9 V")
    drifted = full.copy()
    drifted[3] = 0.30000000000000004
    gap = np.where(full == 0.2, np.nan, 1e-6 * full + 1e-6)
    assert power_at(*calibration_curve(drifted, gap), 0.3) == (pytest.approx(1.3e-6), None)
    assert power_at(full, np.full(full.size, np.nan), 1.0)[0] is None
    assert np.isnan(powers_at(full, np.full(full.size, np.nan), np.array([1.0]))).all()


def test_a_concave_calibration_starts_where_the_laser_is_on_not_where_its_line_points() -> None:
    """The real curves bend: a line through 10–90 % of p_max reaches the dark reading at a negative VL (−0.27 V
    for a real 565 nm calibration, lit from 0.1 V); here dark up to 0.2 V."""
    vl = np.round(np.arange(0, 5.05, 0.1), 10)
    power = np.where(vl > 0.2, 2.9e-9 + 3e-5 * np.sqrt(np.clip(vl - 0.25, 0, None) / 4.75), 2.9e-9)
    values, _ = calibration_quantities(vl, power)
    assert values["threshold_v"] == pytest.approx(0.3)
    assert np.polyval(np.polyfit(vl[(power > 3e-6) & (power < 2.7e-5)], power[(power > 3e-6) & (power < 2.7e-5)], 1),
                      0.0) > power[0]  # the line's way: at 0 V it is already above the dark reading
    noisy = power.copy()
    noisy[1] = power[0] * 3  # a flicker at 0.1 V, far below 1 % of the rise
    assert calibration_quantities(vl, noisy)[0]["threshold_v"] == pytest.approx(0.3)
    values, remarks = calibration_quantities(vl, np.full(vl.size, 2.9e-9))
    assert values["threshold_v"] is None
    assert remarks == ["LaserCalibration: the power never rises above the dark reading"]
    values, remarks = calibration_quantities(vl, power - 2 * power.max())  # a negative offset, and no light
    assert values == dict.fromkeys(values) and remarks == [
        "LaserCalibration: no Power reading above 0 W: no light reached the sensor"]
    # a sensor zeroed with light on it: every reading 4 µW low, its dark ones below 0 W, and runs priced low unsaid
    values, remarks = calibration_quantities(vl, power - 4e-6)
    assert values == dict.fromkeys(values) and remarks == [
        "LaserCalibration: its reading at the lowest laser voltage is below 0 W (-4 µW, 15% of P max): a sensor "
        "zeroed with light on it reads every power low by as much. No quantities from it"]
    # one dark reading, the next already lit (as many real curves): the offset is told all the same, and in a curve
    # of two points
    assert calibration_quantities(vl[2:], power[2:] - 4e-6)[0]["p_max_w"] is None
    assert calibration_quantities(np.array([0.0, 1.0]), np.array([-1e-6, 5e-6]))[0]["p_max_w"] is None
    assert calibration_quantities(vl, power - 4e-9)[0]["p_max_w"] == pytest.approx(power.max() - 4e-9)  # its noise
    glitch = power.copy()
    glitch[0] = -4e-6  # one reading below 0 W beside dark ones above it: a glitch, no offset
    assert calibration_quantities(vl, glitch)[0]["p_max_w"] == pytest.approx(power.max())
    faint = power / 300 - 1.3e-9  # a 100 nW laser: 1.3 nW of offset is the sensor's noise, not 1 % of its P max
    assert calibration_quantities(vl, faint)[0]["p_max_w"] == pytest.approx(faint.max())


# --- chip geometry ------------------------------------------------------------------------------------------------


def test_gate_capacitance_of_layers_in_series() -> None:
    chip = ChipParams(
        channel_length_um=10,
        channel_width_um=5,
        dielectric=[
            {"thickness_nm": 60, "relative_permittivity": 6.0},
            {"thickness_nm": 20, "relative_permittivity": 3.4},
        ],
    )
    assert chip.capacitance_f_per_m2 == pytest.approx(8.8541878128e-12 / (60e-9 / 6.0 + 20e-9 / 3.4))
    assert chip.has_geometry and ("gate capacitance", "5.53e+00 nF/cm²") not in chip.describe()
    assert not ChipParams(channel_length_um=10).has_geometry


def test_chip_params_errors_name_the_chip_and_the_field(tmp_path: Path) -> None:
    path = tmp_path / "chip_params.yaml"
    path.write_text("Alisson67:\n  channel_length_um: -3\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="chip Alisson67, channel_length_um: Input should be greater than 0"):
        load_chip_params(path)
    path.write_text("Alisson67:\n  dielectric: [{thickness_nm: 20, permittivity: 3}]\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"chip Alisson67, dielectric\.0\.(relative_permittivity|permittivity)"):
        load_chip_params(path)
    assert load_chip_params(tmp_path / "absent.yaml") == {} and load_chip_params(None) == {}


@pytest.mark.parametrize(("layer", "words"), [
    ("{thickness_nm: 90, relative_permittivity: .inf}", "relative_permittivity: Input should be a finite number"),
    ("{thickness_nm: .nan, relative_permittivity: 3.9}", "thickness_nm: Input should be a finite number"),
    ("{thickness_nm: 1e-300, relative_permittivity: 1e300}", "the gate stack gives no finite capacitance"),
])
def test_a_gate_stack_without_a_finite_capacitance_is_refused_by_name(tmp_path: Path, layer: str, words: str) -> None:
    path = tmp_path / "chip_params.yaml"
    path.write_text(f"Alisson67:\n  channel_length_um: 10\n  dielectric: [{layer}]\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=f"chip Alisson67, .*{re.escape(words)}"):
        load_chip_params(path)


def write_geometry(tmp_path: Path, chip: str = "Alisson67") -> None:
    """A chip's complete geometry (10 × 5 µm under 90 nm of SiO₂) in the small lab's chip_params.yaml."""
    (tmp_path / "config" / "chip_params.yaml").write_text(
        f"{chip}:\n  channel_length_um: 10\n  channel_width_um: 5\n"
        "  dielectric: [{thickness_nm: 90, relative_permittivity: 3.9}]\n", encoding="utf-8")


@pytest.mark.parametrize(("length", "width", "what"), [("1e300", "1e-300", "overflows"),
                                                       ("1e-300", "1e300", "underflows")])  # it read 0 cm²/Vs
def test_a_geometry_beyond_a_float_gives_no_mobility_and_says_why(tmp_path: Path, length: str, width: str,
                                                                  what: str) -> None:
    lab = small_lab(tmp_path)
    (tmp_path / "config" / "chip_params.yaml").write_text(
        f"Alisson67:\n  channel_length_um: {length}\n  channel_width_um: {width}\n"
        "  dielectric: [{thickness_nm: 90, relative_permittivity: 3.9}]\n", encoding="utf-8")
    lab.stage()
    ivg = read_metrics(lab.config).filter(pl.col("proc") == "IVg").row(0, named=True)
    assert ivg["gm_max_hole_s"] is not None and ivg["mobility_hole_cm2_vs"] is None
    assert f"mobility: the geometry of Alisson67 in chip_params.yaml {what} a float" in ivg["remarks"]


def test_a_chip_params_file_that_is_not_there_is_named_in_the_mobility_remark(tmp_path: Path) -> None:
    """A misspelt `chip_params_file` (or a new lab's file not written yet) leaves every mobility out: the remark
    names the file labtui looked for, where it said only `no complete geometry for Alisson67 in chip_params.yaml`
    (a file that has that chip, under another name)."""
    lab = small_lab(tmp_path)
    write_geometry(tmp_path)
    lab.configure(chip_params_file="config/chip_param.yaml")
    lab.stage()
    ivg = read_metrics(lab.config).filter(pl.col("proc") == "IVg").row(0, named=True)
    assert ivg["mobility_hole_cm2_vs"] is None
    missing = tmp_path / "config" / "chip_param.yaml"
    assert (f"mobility: no chip geometry: {missing} does not exist (chip_params_file; its format: the README, Chip "
            "geometry)") in ivg["remarks"]
    lab.configure(chip_params_file=None)  # the default, config/chip_params.yaml, is there
    lab.stage(force=True)
    assert read_metrics(lab.config).filter(pl.col("proc") == "IVg").row(0, named=True)["mobility_hole_cm2_vs"] > 0


def test_a_chip_name_two_chips_share_gives_neither_a_mobility(tmp_path: Path) -> None:
    """Group `Alisson6` number 7 is named `Alisson67`, as group `Alisson` number 67 is: the geometry of Alisson67 in
    chip_params.yaml gave the other chip a mobility 3× the real one's, unsaid."""
    lab = small_lab(tmp_path)
    write_geometry(tmp_path)
    lab.stage()
    alone = read_metrics(lab.config).filter(pl.col("proc") == "IVg").row(0, named=True)["mobility_hole_cm2_vs"]
    assert alone is not None
    lab.write("2025-10-14/IVg2025-10-14_9.csv", raw_csv("IVg", params={"Chip group name": "Alisson6",
                                                                      "Chip number": "7"}, start=1760379999.0))
    lab.stage()
    sweeps = read_metrics(lab.config).filter(pl.col("proc") == "IVg")
    assert sweeps.height == 2 and sweeps["mobility_hole_cm2_vs"].null_count() == 2
    assert all("mobility: Alisson67 is the name of several chips (their groups and numbers apart): whose geometry "
               "chip_params.yaml gives is unknown" in remarks for remarks in sweeps["remarks"])


def test_an_edited_chip_geometry_is_in_the_table_after_a_stage_with_nothing_to_stage(tmp_path: Path) -> None:
    """W doubled in chip_params.yaml: a stage with nothing to stage kept the old mobility (and the app showed it)
    until `labtui metrics`. The table's stamp holds the geometry file's fingerprint, so the stage redoes the join; a
    stage with nothing changed at all writes nothing."""
    lab = small_lab(tmp_path)
    write_geometry(tmp_path)
    lab.stage()

    def mobility() -> float:
        return read_metrics(lab.config).filter(pl.col("proc") == "IVg").row(0, named=True)["mobility_hole_cm2_vs"]

    narrow = mobility()
    path = tmp_path / "config" / "chip_params.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("channel_width_um: 5", "channel_width_um: 10"),
                    encoding="utf-8")
    assert lab.stage().staged == 0 and mobility() == pytest.approx(narrow / 2)
    written = lab.config.metrics_path.stat().st_mtime_ns
    assert lab.stage().staged == 0 and lab.config.metrics_path.stat().st_mtime_ns == written


def test_a_sweep_at_vds_0_says_so_not_that_the_header_lacks_it(tmp_path: Path) -> None:
    """`VDS: 0 V` gave the remark `no drain voltage (Vds) in the header`, which the header gives, as 0."""
    lab = small_lab(tmp_path)
    write_run(lab.raw / "2025-10-14", "IVg", file_idx=1, start_utc=START + dt.timedelta(minutes=10),
              params={"VDS": 0})
    write_geometry(tmp_path)
    lab.stage()
    ivg = read_metrics(lab.config).filter(pl.col("proc") == "IVg").row(0, named=True)
    assert ivg["mobility_hole_cm2_vs"] is None and "mobility: the drain voltage (Vds) is 0 V" in ivg["remarks"]


def test_a_mobility_beyond_any_graphenes_is_no_number_and_says_why(tmp_path: Path) -> None:
    """`VDS: 0.1 mV` for 0.1 V (or a width in nm for µm) gave a mobility of 5e6 cm²/(V·s) and no remark."""
    lab = small_lab(tmp_path)
    write_run(lab.raw / "2025-10-14", "IVg", file_idx=2, start_utc=START + dt.timedelta(minutes=50),
              params={"VDS": "0.1 mV"})
    write_geometry(tmp_path)
    lab.stage()
    sweeps = read_metrics(lab.config).filter(pl.col("proc") == "IVg").sort("vds_v")
    tiny, usual = sweeps.row(0, named=True), sweeps.row(1, named=True)
    assert tiny["vds_v"] == pytest.approx(1e-4) and tiny["gm_max_hole_s"] is not None
    assert tiny["mobility_hole_cm2_vs"] is None and tiny["mobility_electron_cm2_vs"] is None
    remark = next(text for text in tiny["remarks"] if text.startswith("mobility:"))
    assert re.fullmatch(r"mobility: 8\.\d\d?e6 cm²/\(V·s\) is beyond any graphene's \(over 1e6 cm²/\(V·s\)\): "
                        r"check Vds \(0\.0001 V\) and the geometry of Alisson67 in chip_params\.yaml", remark), remark
    # past a float's range (a Vds of 1e-300 V): no number to write, 1.99e297 was written 1.9900000000000012e+297e6
    write_run(lab.raw / "2025-10-14", "IVg", file_idx=3, start_utc=START + dt.timedelta(minutes=55),
              params={"VDS": "1e-300 V"})
    lab.stage()
    least = read_metrics(lab.config).filter(pl.col("proc") == "IVg").sort("vds_v").row(0, named=True)
    remark = next(text for text in least["remarks"] if text.startswith(("mobility:", "gm:")))
    # its current is the meter's noise alone: a flat sweep, without gm (since version 21), else a mobility past any
    assert re.fullmatch(r"mobility: (\d\.\d\d?e\d+ cm²/\(V·s\)|past a float's range) is beyond .*|gm: the "
                        r"up-sweep leg is flat .*", remark), remark
    assert least["mobility_hole_cm2_vs"] is None
    assert 0 < usual["mobility_hole_cm2_vs"] <= MOBILITY_LIMIT
    assert not any(text.startswith("mobility:") for text in usual["remarks"])


def test_a_calibration_that_stops_short_of_a_runs_voltage_leaves_it_to_the_next_nearest(tmp_path: Path) -> None:
    """An aborted calibration 1.5 min before a run at 2 V, cut at 1.4 V, was its nearest: `VL 2 V is outside the
    calibrated 0–1.4 V`, no power, beside a complete one of its wavelength 4 h later. The nearest whose range
    reaches the run's voltage prices it, and a later update keeps that choice."""
    lab = Lab(tmp_path)
    day = lab.raw / "2025-10-14"
    write_run(day, "LaserCalibration", file_idx=1, start_utc=START, params={"Laser wavelength": 455}, n_rows=15)
    write_run(day, "It", file_idx=1, start_utc=START + dt.timedelta(minutes=10), params={"Laser voltage": 2.0,
                                                                                           "Laser wavelength": 455})
    write_run(day, "LaserCalibration", file_idx=2, start_utc=START + dt.timedelta(hours=4),
              params={"Laser wavelength": 455})
    lab.stage()
    table = read_metrics(lab.config)
    cut, complete = table.filter(pl.col("proc") == "LaserCalibration").sort("start_time_utc")["run_id"]
    lit = table.filter(pl.col("proc") == "It").row(0, named=True)
    assert lit["calibration_run_id"] == complete and lit["power_w"] > 0
    assert lit["calibration_age_h"] == pytest.approx(-4 + 10 / 60)
    assert not any(text.startswith("power_w") for text in lit["remarks"])
    write_run(day, "IVg", file_idx=1, start_utc=START + dt.timedelta(hours=5))  # an update that keeps the price
    lab.stage()
    again = read_metrics(lab.config).filter(pl.col("proc") == "It").row(0, named=True)
    assert again == lit and cut != complete


def test_a_swept_column_in_another_unit_than_its_headers_gives_no_quantities(tmp_path: Path) -> None:
    """Vg logged in mV under `Vg (V)` made a Dirac point of 417 V; VL so in a calibration priced an It run's power
    357× low (its responsivity 357× high). Both staged complete, with no remark. A swept column reaching more than
    10 times as far from 0 as its header's sweep is in another unit: no quantities, said why, the same read back."""
    lab = Lab(tmp_path)
    day = "2025-10-14"
    ivg = data_rows(((1000 * vg, 1e-6 * (1 + abs(vg - 0.2))) for vg in sweep(-1, 1, 0.5, "loop")), len(COLUMNS["IVg"]))
    lab.write(f"{day}/IVg{day}_1.csv", raw_csv("IVg", rows=ivg))
    cal = data_rows(((500.0 * k, 1e-4 * k) for k in range(5)), 2)  # 0…2000 "V", its header's 0…2 V
    lab.write(f"{day}/LaserCalibration{day}_1.csv", raw_csv("LaserCalibration", rows=cal))
    lab.write(f"{day}/It{day}_1.csv", raw_csv("It"))
    lab.stage()
    staged = read_metrics(lab.config).sort("proc")
    sweep_row, lit, calibration = (staged.filter(pl.col("proc") == proc).row(0, named=True)
                                   for proc in ("IVg", "It", "LaserCalibration"))
    assert sweep_row["cnp_v"] is None and sweep_row["on_off_ratio"] is None
    assert sweep_row["remarks"][0] == ("IVg: Vg reaches -1000…1000 V, past the header's sweep of -1…1 V: logged in "
                                       "another unit? No quantities from it")
    assert calibration["p_max_w"] is None and calibration["remarks"] == [
        "LaserCalibration: VL reaches 0…2000 V, past the header's sweep of 0…2 V: logged in another unit? No "
        "quantities from it"]
    assert lit["power_w"] is None and lit["responsivity_a_per_w"] is None
    assert main(lab.args("metrics", "--rebuild", "--format", "json")) == 0
    assert read_metrics(lab.config).sort("proc").equals(staged)


def test_a_current_in_another_unit_than_its_meters_range_gives_no_quantities(tmp_path: Path) -> None:
    """I logged in mA under `I (A)` (a sweep's 1 µA read 1 mA against a 1 mA range, its gm 1000× high) or in nA (a
    dark current of 47 kA, a responsivity of −6e7 A/W) staged with no remark, though the header's `Irange` bounds
    every reading (the real runs' largest |I| is 1.05× theirs). Past 1.5× it (a 4.7 µA channel logged in mA under a
    1 mA range read 4.7× it, priced at −6.3 A/W, unsaid while the bound was 10×): no quantities, said why, the same
    read back; within it, or without an Irange, the run keeps its quantities."""
    lab = Lab(tmp_path)
    day = "2025-10-14"
    ivg = data_rows(((vg, 1e-3 * (1 + abs(vg - 0.2))) for vg in sweep(-1, 1, 0.5, "loop")), len(COLUMNS["IVg"]))
    lab.write(f"{day}/IVg{day}_1.csv", raw_csv("IVg", rows=ivg, params={"Irange": "0.0001 A"}))  # µA read as mA
    lab.write(f"{day}/IVg{day}_2.csv", raw_csv("IVg", rows=ivg, params={"Irange": "1e-2 A"}))  # 10 mA: within
    lab.write(f"{day}/IVg{day}_3.csv", raw_csv("IVg", rows=ivg, params={"Irange": None}))
    lab.write(f"{day}/IVg{day}_5.csv", raw_csv("IVg", rows=ivg, params={"Irange": "1e-3 A"}))  # 2.2× its range
    lab.write(f"{day}/IVg{day}_6.csv", raw_csv("IVg", rows=ivg, params={"Irange": "2.1e-3 A"}))  # 1.05×: a meter's
    nano = [",".join([t, str(1e9 * float(i)), *rest]) for t, i, *rest in (row.split(",") for row in it_rows())]
    lab.write(f"{day}/It{day}_4.csv", raw_csv("It", rows=nano))  # its header's 1 mA range
    lab.stage()
    staged = read_metrics(lab.config)
    rows = {row["source_file"].rsplit("_", 1)[1]: row for row in staged.iter_rows(named=True)}
    assert rows["1.csv"]["i_min_a"] is None and rows["1.csv"]["remarks"][0] == (
        "IVg: I reaches 0.0012…0.0022 A, past the header's Irange of 0.0001 A: logged in another unit? No quantities "
        "from it")
    assert rows["2.csv"]["i_min_a"] == rows["3.csv"]["i_min_a"] == rows["6.csv"]["i_min_a"] == pytest.approx(1.2e-3)
    assert rows["5.csv"]["i_min_a"] is None and rows["5.csv"]["remarks"][0] == (
        "IVg: I reaches 0.0012…0.0022 A, past the header's Irange of 0.001 A: logged in another unit? No quantities "
        "from it")
    assert rows["4.csv"]["i_dark_a"] is None and rows["4.csv"]["remarks"][0] == (
        "It: I reaches 1000…1200 A, past the header's Irange of 0.001 A: logged in another unit? No quantities from it")
    assert main(lab.args("metrics", "--rebuild", "--format", "json")) == 0
    assert read_metrics(lab.config).equals(staged)


def test_a_current_or_a_power_in_another_unit_without_a_header_bound_gives_no_quantities(tmp_path: Path) -> None:
    """Without an `Irange` (or with one of 0 A or `auto`) a current logged in µA under `I (A)` made a dark current of
    47 A with no remark; a calibration's Power logged in µW under `Power (W)` (24.9 "W" from an S120VC sensor, whose
    full scale is 50 mW) priced every run 10⁶× high. Past 10× what the instrument reads: no quantities, said why."""
    lab = Lab(tmp_path)
    day = "2025-10-14"
    # its 1.2 µA in nA (the review's 47 µA channel logged in µA read 47 A: as far past as these)
    nano = [",".join([t, str(1e9 * float(i)), *rest]) for t, i, *rest in (row.split(",") for row in it_rows())]
    for index, irange in enumerate((None, "0 A", "auto"), start=1):
        lab.write(f"{day}/It{day}_{index}.csv", raw_csv("It", rows=nano, params={"Irange": irange}))
    powers = data_rows(((0.5 * k, 20.0 * k + 1e-3) for k in range(5)), 2)  # 1 mW…80 W: "W" that are µW
    for index, sensor in enumerate(("S120VC", None), start=1):
        lab.write(f"{day}/LaserCalibration{day}_{index}.csv",
                  raw_csv("LaserCalibration", rows=powers, params={"Sensor model": sensor}))
    lab.write(f"{day}/It{day}_9.csv", raw_csv("It"))  # lit, at the calibrations' wavelength: priced by neither
    lab.stage()
    staged = read_metrics(lab.config)
    rows = {row["source_file"].rsplit("/", 1)[1]: row for row in staged.iter_rows(named=True)}
    for index in (1, 2, 3):
        row = rows[f"It{day}_{index}.csv"]
        assert row["remarks"][0].startswith("It: I reaches "), row["remarks"]
        assert row["remarks"][0].endswith(" A, past 1 A (no Irange in the header: a source-meter's largest range): "
                                          "logged in another unit? No quantities from it")
    known, unknown = (rows[f"LaserCalibration{day}_{index}.csv"] for index in (1, 2))
    assert known["p_max_w"] is None and known["remarks"] == [
        "LaserCalibration: Power reaches 0.001…80.001 W, past the S120VC sensor's full scale of 0.05 W: logged in "
        "another unit? No quantities from it"]
    assert unknown["remarks"] == ["LaserCalibration: Power reaches 0.001…80.001 W, past 1 W (more than a bench source "
                                  "gives a chip): logged in another unit? No quantities from it"]
    lit = rows[f"It{day}_9.csv"]
    assert lit["power_w"] is None and any("S120VC sensor's full scale" in remark for remark in lit["remarks"])
    assert main(lab.args("metrics", "--rebuild", "--format", "json")) == 0
    assert read_metrics(lab.config).equals(staged)


def test_a_calibration_whose_last_reading_alone_is_past_its_sensor_says_its_last_row_is_cut(tmp_path: Path) -> None:
    """`5.0,2.02437532e-05` cut to `5.0,2.02` (then saved with a line end) read 2.02 W past the S120VC's full scale:
    "logged in another unit?" sent the user after a unit; the last row alone is past it, a row cut short."""
    lab = Lab(tmp_path)
    day = "2025-10-14"
    rows = data_rows(((0.5 * k, 1e-5 * k + 1e-9) for k in range(5)), 2)
    rows[-1] = "2.0,2.02"
    lab.write(f"{day}/LaserCalibration{day}_1.csv", raw_csv("LaserCalibration", rows=rows,
                                                            params={"Sensor model": "S120VC"}))
    lab.stage()
    (row,) = read_metrics(lab.config).iter_rows(named=True)
    assert row["p_max_w"] is None and row["remarks"] == [
        "LaserCalibration: its last Power reading (2.02 W) alone is past the S120VC sensor's full scale of 0.05 W: its "
        "last row cut short (a download or a copy cut off, then saved)? No quantities from it"]


def test_a_lit_run_at_0_nm_is_not_priced_by_a_calibration_at_0_nm(tmp_path: Path) -> None:
    """0 nm is what a dark run's header writes: a lit It run at 0 nm was priced by a calibration that also said
    0 nm, and given a power and a responsivity of no known laser."""
    lab = small_lab(tmp_path)
    day = lab.raw / "2025-10-14"
    write_run(day, "LaserCalibration", file_idx=2, start_utc=START, params={"Laser wavelength": 0})
    write_run(day, "It", file_idx=1, start_utc=START + dt.timedelta(minutes=20),
              params={"Laser voltage": 2.0, "Laser wavelength": 0})
    lab.stage()
    lit = read_metrics(lab.config).filter(pl.col("proc") == "It", pl.col("laser_voltage_v") == 2.0).row(0, named=True)
    assert lit["power_w"] is None and lit["calibration_run_id"] is None
    assert ("power_w: the header's wavelength is 0 nm (a dark run's), though its laser voltage lights it: no "
            "calibration can price it") in lit["remarks"]


def test_a_drain_bias_past_any_graphene_transistors_gives_no_mobility_and_says_why(tmp_path: Path) -> None:
    """`VDS: 100 V` for 100 mV divided gm by 1000× the bias: a mobility 1000× low, with no remark (a channel that
    still carried current past the dead threshold; a dead one's remark already doubted the unit)."""
    lab = small_lab(tmp_path)
    write_run(lab.raw / "2025-10-14", "IVg", file_idx=2, start_utc=START + dt.timedelta(minutes=50),
              params={"VDS": "0.1 kV"})
    write_geometry(tmp_path)
    lab.configure(metrics={"dead_conductance_s": 1e-9})  # the synthetic channel's current does not scale with Vds
    lab.stage()
    sweeps = read_metrics(lab.config).filter(pl.col("proc") == "IVg").sort("vds_v")
    usual, past = sweeps.row(0, named=True), sweeps.row(-1, named=True)
    assert past["vds_v"] == pytest.approx(100) and past["gm_max_hole_s"] is not None
    assert past["mobility_hole_cm2_vs"] is None and past["mobility_electron_cm2_vs"] is None
    assert ("mobility: Vds 100.0 V is past any graphene transistor's bias (10 V): in another unit (mV written V)? No "
            "mobility from it") in past["remarks"]
    assert usual["mobility_hole_cm2_vs"] > 0 and not any(text.startswith("mobility:") for text in usual["remarks"])


def test_a_chip_params_entry_spelt_in_another_case_is_named_in_the_mobility_remark(tmp_path: Path) -> None:
    """`alisson67:` in chip_params.yaml is not chip Alisson67 (two groups may differ by case alone), but the remark
    said only `no complete geometry for Alisson67 in chip_params.yaml` beside an entry the lab can see."""
    lab = small_lab(tmp_path)
    write_geometry(tmp_path, "alisson67")
    lab.stage()
    ivg = read_metrics(lab.config).filter(pl.col("proc") == "IVg").row(0, named=True)
    assert ivg["mobility_hole_cm2_vs"] is None
    assert ivg["remarks"] == ["mobility: chip_params.yaml names alisson67, not Alisson67 (chip names are matched "
                              "with their case)"]


# --- the table ----------------------------------------------------------------------------------------------------


def test_schema_definitions_and_readme_agree(tmp_path: Path) -> None:
    assert read_metrics(tmp_path).schema == pl.Schema(METRICS_SCHEMA)
    assert all(q.column in METRICS_SCHEMA for q in QUANTITIES)
    assert definitions_markdown() in README.read_text(encoding="utf-8"), "README: paste definitions_markdown()"


def test_a_value_is_written_with_its_unit_and_a_negative_zero_as_zero() -> None:
    assert BY_COLUMN["cnp_v"].format(-0.35) == "-350 mV" and BY_COLUMN["cnp_v"].format(None) == "—"
    assert BY_COLUMN["delta_i_rel"].format(0.03936) == "3.94 %"
    assert BY_COLUMN["mobility_hole_cm2_vs"].format(1234.4) == "1234 cm²/(V·s)"
    # a difference of equal means is -0.0: "-0 A" and "-0 %" read as having a sign
    assert [BY_COLUMN[column].format(-0.0) for column in ("delta_i_a", "delta_i_rel", "on_off_ratio")] == [
        "0 A", "0 %", "0"]


def test_every_definition_writes_in_the_windows_it_is_computed_with() -> None:
    """A definition names each window by its setting: none is left unfilled, and a changed one is quoted."""
    for quantity in QUANTITIES:
        assert "{" not in quantity.defined() and "}" not in quantity.defined(), quantity.column
    other = MetricsSettings(cnp_fit_window_v=0.3, cnp_edge_margin_v=0.25, gm_window_v=0.8, light_threshold_v=0.2,
                            it_window_s=2.5, it_smoothing_s=0.5, it_drift_window_s=30, wavelength_tolerance_nm=2)
    quoted = " ".join(quantity.defined(other) for quantity in QUANTITIES)
    for phrase in ("within 0.3 V of it", "within 0.25 V of the leg's ends", "slope over 0.8 V", "VL ≥ 0.2 V",
                   "the 2.5 s before the first", "k = round(0.5 s / the run's", "the 30 s before switch-on",
                   "(within 2 nm)", "> 24 h"):
        assert phrase in quoted, phrase


def small_lab(tmp_path: Path) -> Lab:
    """Its chips' geometry, when a test writes one, is at the default place (config/chip_params.yaml)."""
    lab = Lab(tmp_path)
    day = lab.raw / "2025-10-14"
    write_run(day, "LaserCalibration", file_idx=1, start_utc=START, params={"Laser wavelength": 455})
    write_run(day, "IVg", file_idx=1, start_utc=START + dt.timedelta(minutes=10))
    write_run(day, "It", file_idx=1, start_utc=START + dt.timedelta(minutes=20), params={"Laser voltage": 2.0})
    write_run(day, "It", file_idx=2, start_utc=START + dt.timedelta(minutes=30), params={"Laser voltage": 0})
    write_run(day, "IV", file_idx=1, start_utc=START + dt.timedelta(minutes=40))
    return lab


@pytest.mark.parametrize("point", ["before_manifest_replace:1", "after_manifest_replace:1"])
def test_a_stage_killed_in_its_last_commit_leaves_the_table_as_it_was(tmp_path: Path, point: str) -> None:
    """The stage computes the table of its last commit while that commit writes, and writes it after the commit: a
    kill before it completes leaves the table of the runs committed before (the next stage brings it up to date)."""
    lab = small_lab(tmp_path)
    lab.stage()
    before = lab.config.metrics_path.read_bytes()
    write_run(lab.raw / "2025-10-14", "IVg", file_idx=2, start_utc=START + dt.timedelta(minutes=50))
    killed = lab.cli("stage", crash_at=point)
    assert killed.returncode == CRASH_EXIT, killed.stderr
    assert lab.config.metrics_path.read_bytes() == before
    assert read_metrics(lab.config).height == 4 and lab.stage().metrics.computed == 1  # type: ignore[union-attr]
    assert read_metrics(lab.config).height == 5


def test_staging_keeps_the_table_current_incrementally(tmp_path: Path) -> None:
    lab = small_lab(tmp_path)
    report = lab.stage()
    assert report.metrics is not None and report.metrics.computed == 4 and report.metrics.written
    table = read_metrics(lab.config)
    assert sorted(table["proc"]) == ["IVg", "It", "It", "LaserCalibration"]  # no row for IV
    lit = table.filter(pl.col("proc") == "It", pl.col("has_light")).row(0, named=True)
    calibration = table.filter(pl.col("proc") == "LaserCalibration").row(0, named=True)
    assert lit["calibration_run_id"] == calibration["run_id"] and lit["calibration_age_h"] == pytest.approx(
        1 / 3, abs=0.01
    )
    assert lit["power_w"] > 0 and lit["responsivity_a_per_w"] == pytest.approx(lit["delta_i_a"] / lit["power_w"])
    assert not lit["calibration_stale"]
    ivg = table.filter(pl.col("proc") == "IVg").row(0, named=True)
    assert ivg["mobility_hole_cm2_vs"] is None and any(r.startswith("mobility:") for r in ivg["remarks"])

    assert lab.stage().metrics is None  # nothing staged, table present: not even read
    later = START + dt.timedelta(hours=30)
    write_run(lab.raw / "2025-10-15", "LaserCalibration", file_idx=1, start_utc=later, params={"Laser wavelength": 455})
    write_run(
        lab.raw / "2025-10-15",
        "It",
        file_idx=1,
        start_utc=later + dt.timedelta(minutes=5),
        params={"Laser voltage": 3.0},
    )
    report = lab.stage()
    assert report.metrics.computed == 2  # the new runs only; the old It keeps its data, its calibration is re-chosen
    table = read_metrics(lab.config)
    newest = table.filter(pl.col("proc") == "It").sort("start_time_utc").row(-1, named=True)
    assert newest["calibration_age_h"] == pytest.approx(1 / 12, abs=0.01)
    assert table.filter(pl.col("run_id") == lit["run_id"]).row(0, named=True)["power_w"] == lit["power_w"]

    (tmp_path / "config" / "chip_params.yaml").write_text(
        "Alisson67:\n  channel_length_um: 10\n  channel_width_um: 5\n"
        "  dielectric: [{material: hBN, thickness_nm: 20, relative_permittivity: 3.4}]\n",
        encoding="utf-8",
    )
    update = update_metrics(lab.config)
    assert update.computed == 0 and update.written  # geometry is joined, never a reason to re-read a run
    ivg = update.table.filter(pl.col("proc") == "IVg").row(0, named=True)
    capacitance = 8.8541878128e-12 * 3.4 / 20e-9
    assert ivg["mobility_hole_cm2_vs"] == pytest.approx(2 * ivg["gm_max_hole_s"] / (capacitance * 0.1) * 1e4)
    assert not any(r.startswith("mobility:") for r in ivg["remarks"])
    assert update_metrics(lab.config).written is False  # unchanged: the file is left alone

    lab.configure(chip_params_file="config/chip_params.yaml", metrics="{it_window_s: 4}")
    assert update_metrics(lab.config).computed == 6  # other windows: every run again


def test_a_stage_with_nothing_to_stage_redoes_a_table_of_an_older_labtui_or_other_windows(tmp_path: Path) -> None:
    """After an upgrade (another metrics_version) or a change of windows, a stage that finds no new raw file left the
    table as it was: every reader showed the old values until a run arrived."""
    lab = small_lab(tmp_path)
    lab.stage()
    current = read_metrics(lab.config)
    older = current.with_columns(metrics_version=pl.lit(METRICS_VERSION - 1, pl.Int32), cnp_v=pl.lit(9.0))
    older.write_parquet(lab.config.metrics_path)  # as an older labtui wrote it: its own values, no stamp
    report = lab.stage()
    assert report.staged == 0 and report.metrics is not None and report.metrics.computed == current.height
    assert read_metrics(lab.config).equals(current)
    table = lab.config.metrics_path.read_bytes()
    assert lab.stage().metrics is None and lab.config.metrics_path.read_bytes() == table  # current: not even read
    lab.configure(metrics="{it_window_s: 4}")
    assert lab.stage().metrics.computed == current.height  # type: ignore[union-attr]


def test_a_stage_reads_nothing_back_and_equals_a_rebuild(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The stage computes every run's quantities and each calibration's curve from the frames it parsed; a
    rebuild from the store's Parquet files gives the same table."""
    lab = small_lab(tmp_path)

    def read_back(*args: object) -> None:
        raise AssertionError(f"the stage read a Parquet back: {args[1:]}")

    monkeypatch.setattr(metrics_per_run, "_read_chunk", read_back)
    monkeypatch.setattr(metrics_pricing, "_curve", read_back)
    lab.stage()
    monkeypatch.undo()
    staged = read_metrics(lab.config)
    assert staged.filter(pl.col("power_w") > 0).height == 1
    assert update_metrics(lab.config, rebuild=True).table.equals(staged)


def test_a_rebuild_reads_many_calibration_curves_back_in_threads(tmp_path: Path) -> None:
    """Three calibrations (one per wavelength) are read back by the metrics' threads: the same table as staged."""
    lab = Lab(tmp_path, chip_params_file="config/chip_params.yaml")
    day = lab.raw / "2025-10-14"
    for n, nm in enumerate((365, 455, 565)):
        write_run(day, "LaserCalibration", file_idx=n + 1, start_utc=START + dt.timedelta(minutes=10 * n),
                  params={"Laser wavelength": nm})
        write_run(day, "It", file_idx=n + 1, start_utc=START + dt.timedelta(minutes=10 * n + 5),
                  params={"Laser voltage": 2.0, "Laser wavelength": nm})
    lab.stage()
    staged = read_metrics(lab.config)
    assert staged.filter(pl.col("power_w") > 0)["calibration_run_id"].n_unique() == 3
    assert update_metrics(lab.config, rebuild=True).table.equals(staged)


def test_a_run_whose_parquet_lacks_its_columns_is_said_in_one_line(tmp_path: Path) -> None:
    """A Parquet without the columns its metrics read (another table written in its place) fails the read with
    Polars' query plan in the message: the problem and the remark say its first line, not the plan."""
    lab = small_lab(tmp_path)
    lab.stage()
    it = read_metrics(lab.config).filter(pl.col("proc") == "It").row(0, named=True)
    pl.DataFrame({"t_s": [0.0, 1.0]}).write_parquet(run_parquet_path(lab.config.stage_root, "It", it["date_local"],
                                                                     it["run_id"]))
    update = update_metrics(lab.config, rebuild=True)
    (problem,) = update.problems
    remarks = update.table.filter(pl.col("run_id") == it["run_id"])["remarks"].to_list()[0]
    assert "i_a" in problem and "\n" not in problem and remarks and not any("\n" in remark for remark in remarks)


@pytest.mark.parametrize("parameters", ["[]", "[" * 100_000, "not json",
                                        '{"Irange": null, "Sensor model": 5, "Laser voltage start": []}'])
def test_a_rebuild_reads_a_hand_edited_rows_parameters_as_none(tmp_path: Path, parameters: str) -> None:
    """A manifest row's `parameters` edited into a list, garbage, JSON nested past any depth or values that are no
    text ended `metrics --rebuild` in a traceback (`'list' object has no attribute 'get'`, RecursionError): no header
    values, then."""
    lab = small_lab(tmp_path)
    lab.stage()
    staged = read_metrics(lab.config)
    manifest = read_manifest(lab.config.manifest_path)
    edited = manifest.with_columns(parameters=pl.when(pl.col("proc") != "IV").then(pl.lit(parameters))
                                   .otherwise(pl.col("parameters")))
    edited.write_parquet(lab.config.manifest_path)
    rebuilt = update_metrics(lab.config, rebuild=True).table
    assert rebuilt.height == staged.height and not rebuilt.filter(pl.col("proc") == "LaserCalibration")["p_max_w"] \
        .is_null().any() and rebuilt.filter(pl.col("proc") == "IVg")["cnp_v"].is_not_null().all()


def test_a_rebuild_reads_around_an_unreadable_parquet_and_retries_it_next_time(tmp_path: Path) -> None:
    """One damaged file fails its chunk's query: each file is then read alone, the damaged run gets an empty row
    without a hash (so the next update reads it again) and every other run its values."""
    lab = small_lab(tmp_path)
    lab.stage()
    staged = read_metrics(lab.config)
    ivg = staged.filter(pl.col("proc") == "IVg").row(0, named=True)
    path = run_parquet_path(lab.config.stage_root, "IVg", ivg["date_local"], ivg["run_id"])
    good = path.read_bytes()
    path.write_bytes(good[: len(good) // 2])
    update = update_metrics(lab.config, rebuild=True)
    (problem,) = update.problems
    assert problem.startswith(f"IVg run {ivg['run_id']}: cannot read {path}")
    damaged = update.table.filter(pl.col("run_id") == ivg["run_id"]).row(0, named=True)
    assert damaged["cnp_v"] is None and damaged["source_sha256"] is None
    assert any(remark.startswith("run: cannot read its Parquet") for remark in damaged["remarks"])
    others = pl.col("run_id") != ivg["run_id"]
    assert update.table.filter(others).equals(staged.filter(others))
    path.write_bytes(good)
    retried = update_metrics(lab.config)
    assert retried.computed == 1 and retried.table.equals(staged)


def test_a_folder_where_the_table_goes_is_said_not_read_as_no_table(tmp_path: Path) -> None:
    """A folder at metrics.parquet was read as no table yet: `plot --trend` said the runs had no CNP."""
    lab = small_lab(tmp_path)
    lab.stage()
    path = lab.config.metrics_path
    path.unlink()
    (path / "sub").mkdir(parents=True)
    trend = lab.cli("plot", "67", "--trend", "cnp", "--out", str(tmp_path / "cnp.svg"))
    assert trend.returncode == 1 and trend.stderr.count("\n") == 1, trend.stderr
    assert f"the metrics table {path} is damaged (a folder, not a file: move it away)" in trend.stderr


@pytest.mark.parametrize("damage", ["cut", "empty", "retyped"])
def test_a_damaged_table_is_said_in_one_line_and_recomputed_by_a_writer(tmp_path: Path, damage: str) -> None:
    """The table cut short, emptied, or re-saved with another column type (a notebook's round trip): `plot --trend`,
    `metrics` and `stage` ended in a traceback (exit 70), the stage after committing. It is derived from the store:
    a reader names it and the rebuild, a writer recomputes it."""
    lab = small_lab(tmp_path)
    lab.stage()
    path = lab.config.metrics_path
    good = read_metrics(path)
    if damage == "cut":
        path.write_bytes(path.read_bytes()[:3000])
    elif damage == "empty":
        path.write_bytes(b"")
    else:
        good.with_columns(pl.col("metrics_version").cast(pl.Int64)).write_parquet(path)
    trend = lab.cli("plot", "67", "--trend", "cnp", "--out", str(tmp_path / "cnp.svg"))
    assert trend.returncode == 1 and "Traceback" not in trend.stderr
    assert f"the metrics table {path} is damaged" in trend.stderr and "labtui metrics --rebuild" in trend.stderr
    assert not (tmp_path / "cnp.svg").exists()
    staged = lab.cli("stage")
    assert staged.returncode == 0 and "Traceback" not in staged.stderr, staged.stderr
    assert read_metrics(path).equals(good)
    if damage == "cut":  # `labtui metrics` recomputes it as well
        path.write_bytes(b"PAR1")
        listed = lab.cli("metrics", "67", "--format", "csv")
        assert listed.returncode == 0 and "Traceback" not in listed.stderr, listed.stderr
        assert read_metrics(path).equals(good)


def test_cli_metrics_formats_filters_and_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lab = small_lab(tmp_path)
    lab.stage()
    capsys.readouterr()
    out = tmp_path / "it.csv"
    assert main(lab.args("metrics", "67", "--proc", "ITS", "--format", "csv", "--out", str(out))) == 0
    rows = pl.read_csv(out, infer_schema=False)
    assert rows.height == 2 and rows.columns[:7] == [
        "run_id",
        "source_file",
        "chip_name",
        "seq",
        "proc",
        "date_local",
        "start_time_utc",
    ]
    assert main(lab.args("metrics", "--format", "json")) == 0
    as_json = json.loads(capsys.readouterr().out)
    assert {row["proc"] for row in as_json} == {"IVg", "It", "LaserCalibration"}
    assert main(lab.args("history", "67", "--proc", "ITS", "--format", "csv")) == 0
    history = pl.read_csv(capsys.readouterr().out.encode(), infer_schema=False)
    assert sorted(rows["start_time_utc"]) == sorted(history["start_time_utc"])  # as the history writes it: …Z
    assert {row["start_time_utc"] for row in as_json} >= set(history["start_time_utc"])
    assert main(lab.args("metrics", "67", "--proc", "IVg")) == 0
    table = capsys.readouterr().out
    assert "cnp_fwd_v" in table and "delta_i_a" not in table
    assert re.search(r" -?\d+(\.\d+)? [mµ]?V ", table.splitlines()[1])  # read with unit and prefix: -840 mV
    (tmp_path / "elsewhere").mkdir()  # a derived root is a folder that exists (a typo no longer makes one)
    assert main(lab.args("metrics", "--rebuild", "--derived-root", str(tmp_path / "elsewhere"))) == 0
    registry = tmp_path / "lab_procedures.yaml"  # the lab's own registry names IVg "gate" too: both commands know it
    registry.write_text(default_registry_path().read_text().replace("  IVg:\n", "  IVg:\n    aliases: [gate]\n"))
    lab.configure(procedures_file=registry)
    capsys.readouterr()
    assert main(lab.args("metrics", "67", "--proc", "gate", "--format", "json")) == 0
    assert {row["proc"] for row in json.loads(capsys.readouterr().out)} == {"IVg"}
    assert main(lab.args("plot", "67", "--proc", "gate", "--out", str(tmp_path / "gate.svg"))) == 0
    assert (tmp_path / "elsewhere" / "metrics.parquet").is_file()
    assert main(lab.args("metrics", "99")) == 2
    assert main(lab.args("metrics", "--proc", "Nope")) == 2
    errors = capsys.readouterr().err.splitlines()[-2:]
    assert errors[0].startswith("labtui: no runs of chip number 99") and errors[1].startswith("labtui: unknown")


def test_cli_metrics_definitions_print_each_quantity_with_the_labs_windows(tmp_path: Path,
                                                                          capsys: pytest.CaptureFixture[str]) -> None:
    """The README said the definitions were what the command line shows too, and no command printed them (`metrics
    --help` sent the reader to the README, whose windows are the defaults, not the lab's)."""
    lab = Lab(tmp_path)
    lab.configure(metrics={"it_window_s": 7.0})
    assert main(lab.args("metrics", "--definitions", "--proc", "ITS", "--columns", "i_dark_a,delta_i_a,cnp_v")) == 0
    out = capsys.readouterr().out
    assert out.startswith("i_dark_a (A, It runs)\n  mean I over the 7 s before the first laser switch-on")
    assert "delta_i_a (A, It runs)\n" in out and "cnp_v" not in out  # --proc and --columns both choose
    for extra, said in ((["67"], "a chip does not apply"), (["--out", "def.csv"], "--out does not apply"),
                        (["--proc", "Nope"], "unknown procedure 'Nope'"), (["--columns", "cnp_v,nope"], "no column "
                         "'nope'"), (["--proc", "IVg", "--columns", "delta_i_a"], "no derived quantity of IVg runs "
                         "is among --columns"), (["--proc", "IV"], "IV runs have no derived quantities")):
        assert main(lab.args("metrics", "--definitions", *extra)) == 2, extra  # each printed nothing, exit 0, or
        assert said in capsys.readouterr().err, extra  # a traceback (an unknown procedure)
    assert not (tmp_path / "def.csv").exists()


def test_cli_metrics_columns_shows_only_the_quantities_named(tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    """"The Dirac points over the weeks" printed five or six lines a run at 80 columns, every IVg quantity beside
    them: `--columns` names the ones to show, in their order; a misspelt one is named."""
    lab = small_lab(tmp_path)
    lab.stage()
    capsys.readouterr()
    assert main(lab.args("metrics", "67", "--proc", "IVg", "--columns", "cnp_bwd_v, cnp_fwd_v")) == 0
    header, *rows = capsys.readouterr().out.splitlines()
    assert header.split() == ["chip_name", "seq", "proc", "date_local", "cnp_bwd_v", "cnp_fwd_v"] and len(rows) == 1
    assert main(lab.args("metrics", "67", "--columns", "cnp_v,remarks", "--format", "csv")) == 0
    table = pl.read_csv(capsys.readouterr().out.encode(), infer_schema=False)
    assert table.columns == ["run_id", "source_file", "chip_name", "seq", "proc", "date_local", "start_time_utc",
                             "cnp_v", "remarks"]
    assert main(lab.args("metrics", "67", "--columns", "cnp_fwd")) == 2
    assert capsys.readouterr().err == ("labtui: --columns: no column 'cnp_fwd'; did you mean 'cnp_fwd_v'? (the "
                                       "README's Derived quantities lists them)\n")


def test_a_registry_entry_read_like_another_family_gets_that_familys_quantities_at_the_next_stage(
        tmp_path: Path) -> None:
    """A lab's It2 entry said `like: IVg` by mistake; fixed to `like: It`, the next stage read its files again, but
    their metrics rows were kept from the table (same content, same definitions): read as IVg runs until
    `metrics --rebuild`."""
    lab = Lab(tmp_path)
    registry = tmp_path / "procedures.yaml"
    right = "  It2: &three_phase\n    description: current vs time in three phases (laser off, on, off)\n    like: It"
    assert right in default_registry_path().read_text()
    registry.write_text(default_registry_path().read_text().replace(right, right.replace("like: It", "like: IVg")))
    lab.configure(procedures_file=registry)
    lab.write("a/It22025-10-13_1.csv", raw_csv("It2", params=PARAMS["It"], columns=COLUMNS["It"], rows=it_rows()))
    lab.stage()
    (row,) = read_metrics(lab.config).rows(named=True)
    said = "run: its data have no Vg (V) column, which IVg's quantities are read from"
    assert row["delta_i_a"] is None and said in row["remarks"]
    registry.write_text(default_registry_path().read_text())
    assert lab.stage().read_again == 1
    (row,) = read_metrics(lab.config).rows(named=True)  # read as an It run (this one switched on too early)
    assert [remark.split(":")[0] for remark in row["remarks"]] == ["It", "power_w"]


def test_a_calibration_procedure_of_the_labs_own_prices_runs_staged_after_it(tmp_path: Path) -> None:
    """A registry's `LaserCal: like: LaserCalibration`: its curve was read back from `proc=LaserCalibration`, where
    it is not, so a run staged after it had no power ("the calibration's Parquet could not be read", again at every
    update) until `metrics --rebuild`."""
    lab = Lab(tmp_path)
    registry = tmp_path / "procedures.yaml"
    default = default_registry_path().read_text()
    own = "  LaserCal:\n    like: LaserCalibration\n    chip: false\n    light: always\n    required_columns: " \
          '["VL (V)", "Power (W)"]\n'
    registry.write_text(default.replace("\n  LaserCalibration:\n", f"\n{own}  LaserCalibration:\n", 1))
    lab.configure(procedures_file=registry)
    calibration = raw_file("LaserCalibration", start=START - dt.timedelta(hours=1)).replace(
        b"LaserCalibration.LaserCalibration>", b"LaserCal.LaserCal>")
    lab.write("a/LaserCal2025-10-14_1.csv", calibration)
    lab.stage()
    lab.write_run("a/It2025-10-14_1.csv", "It", start=START)
    lab.stage()
    (row,) = read_metrics(lab.config).filter(pl.col("proc") == "It").rows(named=True)
    assert row["power_w"] is not None and row["calibration_run_id"] is not None, row["remarks"]


def test_a_sweep_under_light_is_priced_as_an_it_run_is(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """An IVg swept with the laser on (its header's laser voltage) had no power: the physicist reading a Dirac point's
    shift under light had no P in its legend, nor in `labtui metrics`. It is priced by the calibration an It run at
    that time and voltage would be, with its age; a dark sweep is not."""
    lab = small_lab(tmp_path)
    write_run(lab.raw / "2025-10-14", "IVg", file_idx=2, start_utc=START + dt.timedelta(minutes=50),
              params={"Laser voltage": 2.0, "Laser wavelength": 455})
    lab.stage()
    rows = read_metrics(lab.config).filter(pl.col("proc") != "LaserCalibration").sort("start_time_utc")
    dark_ivg, lit_it, _, lit_ivg = rows.rows(named=True)
    assert lit_ivg["power_w"] == pytest.approx(lit_it["power_w"]) and lit_ivg["power_w"] > 0
    assert lit_ivg["calibration_run_id"] == lit_it["calibration_run_id"]
    assert lit_ivg["calibration_age_h"] == pytest.approx(50 / 60)
    assert lit_ivg["responsivity_a_per_w"] is None  # no ΔI of a sweep
    assert dark_ivg["power_w"] is None and dark_ivg["calibration_run_id"] is None
    capsys.readouterr()
    assert main(lab.args("metrics", "--proc", "IVg")) == 0
    assert "power_w" in capsys.readouterr().out.splitlines()[0]


def test_a_run_its_laser_toggle_says_dark_is_not_priced(tmp_path: Path) -> None:
    """`Laser toggle: False` beside `Laser voltage: 2 V` stored the run dark, yet it was priced by its voltage: 💡-less
    in the history with a power and a responsivity, left out of the photoresponse trend."""
    lab = small_lab(tmp_path)
    write_run(lab.raw / "2025-10-14", "It", file_idx=3, start_utc=START + dt.timedelta(minutes=50),
              params={"Laser voltage": 2.0, "Laser toggle": "False"})
    lab.stage()
    rows = read_metrics(lab.config).filter(pl.col("proc") == "It").sort("start_time_utc").rows(named=True)
    lit, toggled = rows[0], rows[-1]
    assert lit["power_w"] is not None and toggled["has_light"] is False
    assert toggled["power_w"] is None and toggled["responsivity_a_per_w"] is None
    assert "power_w: the header's 'Laser toggle' says the laser was off (its 'Laser voltage' left at 2.0 V), " \
           "though VL pulses in the data" in toggled["remarks"]
    record = read_run_record(run_parquet_path(lab.config.stage_root, "It", toggled["date_local"], toggled["run_id"]))
    assert any(warning.startswith("its header's 'Laser toggle' (off) says dark, though its 'VL (V)' column pulses")
               for warning in record["warnings"]), record["warnings"]


def test_cli_metrics_carry_what_each_run_was_measured_under(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A photoresponse table without its wavelength and laser voltage cannot be plotted against them, and a
    calibration's row without its wavelength cannot be told from the day's others."""
    lab = small_lab(tmp_path)
    lab.stage()
    capsys.readouterr()
    assert main(lab.args("metrics", "--format", "json")) == 0
    rows = json.loads(capsys.readouterr().out)
    manifest = pl.read_parquet(lab.config.manifest_path)
    for row in rows:
        staged = manifest.row(by_predicate=pl.col("run_id") == row["run_id"], named=True)
        for name in ("has_light", "laser_voltage_v", "vg_fixed_v", "vds_v"):
            assert row[name] == staged[name], name
        lit = staged["has_light"] is not False
        assert row["laser_wavelength_nm"] == (staged["laser_wavelength_nm"] if lit else None)
    calibrations = [row for row in rows if row["proc"] == "LaserCalibration"]
    assert main(lab.args("history", "--calibrations", "--format", "json")) == 0
    numbered = {row["run_id"]: row["seq"] for row in json.loads(capsys.readouterr().out)}
    assert calibrations and {row["run_id"]: row["seq"] for row in calibrations} == numbered
    assert main(lab.args("metrics", "--proc", "LaserCalibration")) == 0
    header = capsys.readouterr().out.splitlines()[0].split()
    assert "laser_wavelength_nm" in header and "laser_voltage_v" not in header
    assert main(lab.args("metrics", "67", "--proc", "It")) == 0
    header = capsys.readouterr().out.splitlines()[0].split()
    assert header.index("laser_wavelength_nm") < header.index("laser_voltage_v") < header.index("i_dark_a")


def test_cli_metrics_hides_excluded_runs_and_carries_the_annotations(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lab = small_lab(tmp_path)
    lab.stage()
    assert main(lab.args("metrics", "67", "--proc", "It", "--format", "json")) == 0
    its = json.loads(capsys.readouterr().out)
    assert main(lab.args("annotate", "--run", its[0]["run_id"], "--exclude", "contact lost", "--tag", "a")) == 0
    assert main(lab.args("annotate", "--run", its[1]["run_id"], "--tag", "a", "--tag", "b")) == 0
    capsys.readouterr()
    assert main(lab.args("metrics", "67", "--proc", "It", "--format", "csv")) == 0
    out, err = capsys.readouterr()
    rows = pl.read_csv(out.encode())
    assert rows["run_id"].to_list() == [its[1]["run_id"]] and rows["tags"].to_list() == ["a; b"]
    assert rows.columns[-5:] == ["starred", "excluded", "exclude_reason", "tags", "note"]
    assert rows["metrics_version"].to_list() == [METRICS_VERSION] and rows["source_sha256"][0]
    assert err.strip() == "labtui metrics: 1 excluded run hidden (--include-excluded shows them)"
    assert main(lab.args("metrics", "67", "--proc", "It", "--format", "json", "--include-excluded")) == 0
    out, err = capsys.readouterr()
    shown = json.loads(out)
    assert [row["exclude_reason"] for row in shown] == ["contact lost", None] and shown[1]["tags"] == ["a", "b"]
    # what each row was computed from, as the table says it: a CSV or JSON without it could not be traced
    table = read_metrics(lab.config).filter(pl.col("run_id") == shown[0]["run_id"]).row(0, named=True)
    for name in ("source_sha256", "calibration_run_id", "calibration_sha256", "calibration_set", "settings_hash"):
        assert shown[0][name] == table[name], name
    assert table["calibration_sha256"]  # priced: the comparison is of something
    assert err == ""
    assert main(lab.args("metrics", "67", "--proc", "It")) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "1 excluded run hidden (--include-excluded shows them)"
    # the terminal table had none of them: which row was excluded could not be told
    assert main(lab.args("metrics", "67", "--proc", "It", "--include-excluded")) == 0
    header, excluded, tagged = capsys.readouterr().out.splitlines()
    assert header.split()[-1] == "annotations"
    assert excluded.endswith("⊘ contact lost  # a") and tagged.endswith("# a, b")


# --- accuracy -----------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory: pytest.TempPathFactory) -> pl.DataFrame:
    """A small demo lab, staged (the stage computes the metrics), joined with its ground truth."""
    folder = tmp_path_factory.mktemp("demo")
    write_demo(folder, LabSpec(chips=3, days=8, seed=5))
    assert main(["stage", "-q", "--config", str(config_file_of(folder))]) == 0
    config = load_config(config_file_of(folder))
    metrics = read_metrics(config)
    truth = pl.read_csv(folder / GROUND_TRUTH, infer_schema_length=None)
    calibrations = metrics.filter(pl.col("proc") == "LaserCalibration").select(
        pl.col("run_id").alias("calibration_run_id"), pl.col("date_local").alias("calibration_date")
    )
    return metrics.join(calibrations, on="calibration_run_id", how="left").join(truth, on="source_file", suffix="_true")


def close(frame: pl.DataFrame, column: str, tolerance: pl.Expr) -> float:
    """Share of the runs with a true value where the measured one is within the tolerance."""
    judged = frame.filter(pl.col(f"{column}_true").is_not_null())
    assert judged.height >= 10, column
    error = (pl.col(column) - pl.col(f"{column}_true")).abs()
    return judged.select((error <= tolerance).fill_null(False).mean()).item()


def test_dirac_points_within_50_mv_of_the_truth(synthetic: pl.DataFrame) -> None:
    assert close(synthetic, "cnp_fwd_v", pl.lit(0.05)) >= 0.95
    assert close(synthetic, "cnp_bwd_v", pl.lit(0.05)) >= 0.95


def test_photoresponse_power_and_mobility_match_the_truth(synthetic: pl.DataFrame) -> None:
    # ΔI is noise-limited at 5 nA (σ/I ≈ 2.4e-4 per sample on 60-sample windows): a rare run misses by a hair
    assert close(synthetic, "delta_i_a", pl.max_horizontal(0.05 * pl.col("delta_i_a_true").abs(), pl.lit(5e-9))) >= 0.98
    # the fibre coupling changes from day to day, as the real one does: a calibration of the same day is exact
    same_day = synthetic.filter(pl.col("calibration_date") == pl.col("date_local"))
    assert close(same_day, "power_w", 0.01 * pl.col("power_w_true")) == 1.0
    for column in ("mobility_hole_cm2_vs", "mobility_electron_cm2_vs"):
        assert close(synthetic, column, 0.1 * pl.col(f"{column}_true")) >= 0.98


def test_real_files(real_store) -> None:
    table = update_metrics(real_store).table
    ivg = table.filter(pl.col("proc") == "IVg")
    dead = ivg["remarks"].list.eval(pl.element().str.contains("dead channel")).list.any()
    assert 0 < dead.sum() < 10
    assert ivg.filter(~dead)["cnp_fwd_v"].null_count() == 0  # every sweep of a live chip has a forward CNP
    assert ivg.filter(dead)["cnp_fwd_v"].null_count() == dead.sum()
    it = table.filter(pl.col("proc") == "It")
    dark = it.filter(~pl.col("has_light"))
    assert dark.height and dark["delta_i_a"].null_count() == dark.height
    assert dark["remarks"].list.first().str.starts_with("photoresponse: the laser never switched on").all()
    lit = it.filter(pl.col("has_light"))
    assert lit["calibration_run_id"].null_count() == 0 and lit["power_w"].null_count() == 0


def test_a_bad_chip_params_file_never_fails_a_stage(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lab = small_lab(tmp_path)
    (tmp_path / "config" / "chip_params.yaml").write_text("Alisson67: [1, 2]\n", encoding="utf-8")
    assert main(lab.args("stage", "-q")) == 0
    assert "labtui: metrics not updated: chip parameters" in capsys.readouterr().err
    assert lab.manifest().height == 5 and read_metrics(lab.config).is_empty()


def test_hostile_numbers_give_nulls_not_errors() -> None:
    from labtui.core.metrics import from_data

    vg = loop()
    nan = from_data("IVg", pl.DataFrame({"vg_v": vg, "i_a": np.full(vg.size, np.nan)}), 0.1, SETTINGS)
    assert set(nan[:-1]) == {None} and nan[-1] == ["IVg: fewer than 3 finite points"]
    t, current, vl = pulse()
    huge = from_data("It", pl.DataFrame({"t_s": t, "i_a": current * 1e303, "vl_v": vl}), 0.1, SETTINGS)
    assert all(value is None or math.isfinite(value) for value in huge[:-1])
    assert from_data("IV", pl.DataFrame({"vsd_v": [0.0]}), 0.1, SETTINGS) == ()


@pytest.mark.parametrize(("given", "remark"), [
    ("0 V", "power_w: the header's 'Laser voltage' (0.0 V) says the laser was off, though VL pulses in the data"),
    (None, "power_w: the header gives no readable 'Laser voltage', though VL pulses in the data"),
    ("1,0 V", "power_w: the header gives no readable 'Laser voltage', though VL pulses in the data"),  # it said none
])
def test_a_pulse_under_a_header_that_says_dark_is_not_priced_and_says_why(tmp_path: Path, given: str | None,
                                                                           remark: str) -> None:
    """The photoresponse is read from the VL column, the power from the header's voltage: a run whose two disagree
    had a ΔI, no power and no word (the app showed a bare "—")."""
    lab = small_lab(tmp_path)
    lab.write("2025-10-14/It2025-10-14_5.csv", raw_csv("It", rows=it_rows(period=20.0),
                                                       params={"Laser voltage": given, "Laser ON+OFF period": "20 s"}))
    lab.stage()
    it = read_metrics(lab.config).filter(pl.col("source_file") == "2025-10-14/It2025-10-14_5.csv").row(0, named=True)
    assert it["delta_i_a"] is not None and it["power_w"] is None and remark in it["remarks"]


def test_a_run_without_a_calibration_of_its_wavelength_says_so(tmp_path: Path) -> None:
    lab = small_lab(tmp_path)
    write_run(
        lab.raw / "2025-10-14",
        "It",
        file_idx=3,
        start_utc=START + dt.timedelta(hours=2),
        params={"Laser voltage": 2.0, "Laser wavelength": 365},
    )
    lab.stage()
    it = read_metrics(lab.config).filter(pl.col("laser_wavelength_nm") == 365).row(0, named=True)
    assert it["calibration_run_id"] is None and it["power_w"] is None and it["calibration_age_h"] is None
    assert "power_w: no LaserCalibration of 365 nm in the store" in it["remarks"]
    assert it["delta_i_a"] is not None


def test_of_two_calibrations_as_near_the_run_takes_the_earlier(tmp_path: Path) -> None:
    """Calibrations 600.023757 s before and after a run: which one priced it was decided by the rounding of start
    times in float hours (the later in a quarter of such ties), not by a rule."""
    lab = Lab(tmp_path)
    day = lab.raw / "2025-10-14"
    run = START + dt.timedelta(minutes=50, microseconds=71271)
    apart = dt.timedelta(seconds=600, microseconds=23757)
    for file_idx, start in ((1, run + apart), (2, run - apart)):
        write_run(day, "LaserCalibration", file_idx=file_idx, start_utc=start, params={"Laser wavelength": 455})
    write_run(day, "It", file_idx=1, start_utc=run, params={"Laser voltage": 2.0})
    lab.stage()
    starts = dict(lab.manifest().select("source_file", "start_time_utc").iter_rows())
    later, earlier = (starts[f"2025-10-14/LaserCalibration2025-10-14_{n}.csv"] for n in (1, 2))
    lit = starts["2025-10-14/It2025-10-14_1.csv"]
    assert later - lit == lit - earlier  # as near, to the microsecond
    it = read_metrics(lab.config).filter(pl.col("proc") == "It").row(0, named=True)
    assert it["calibration_run_id"] == lab.run_of("2025-10-14/LaserCalibration2025-10-14_2.csv")["run_id"]
    assert it["calibration_age_h"] == pytest.approx(apart / dt.timedelta(hours=1), rel=1e-12)


def recalibrate(path: Path, power: Callable[[float], float]) -> Path:
    """A written LaserCalibration with its Power column replaced by `power(VL)`: a blocked sensor, a zeroed meter."""
    head, data = path.read_bytes().decode().split("VL (V),Power (W)\r\n")
    voltages = [float(line.split(",")[0]) for line in data.splitlines() if line]
    rows = "".join(f"{vl!r},{power(vl)!r}\r\n" for vl in voltages)
    path.write_bytes(f"{head}VL (V),Power (W)\r\n{rows}".encode())
    return path


def test_a_responsivity_is_signed_by_the_conductance_not_by_the_bias(tmp_path: Path) -> None:
    """The same device at Vds = −0.1 V gives the opposite ΔI for the same physics: its responsivity entered the
    trends with the opposite sign."""
    lab = small_lab(tmp_path)
    write_run(lab.raw / "2025-10-14", "It", file_idx=3, start_utc=START + dt.timedelta(minutes=21),
              params={"Laser voltage": 2.0, "VDS": -0.1})
    lab.stage()
    lit = read_metrics(lab.config).filter(pl.col("proc") == "It", pl.col("has_light")).sort("start_time_utc")
    forward, reverse = lit.rows(named=True)
    assert forward["vds_v"] == 0.1 and reverse["vds_v"] == -0.1
    assert forward["delta_i_a"] * reverse["delta_i_a"] < 0  # the current's change follows the bias ...
    assert reverse["responsivity_a_per_w"] == pytest.approx(-reverse["delta_i_a"] / reverse["power_w"])
    assert forward["responsivity_a_per_w"] == pytest.approx(forward["delta_i_a"] / forward["power_w"])
    assert forward["responsivity_a_per_w"] * reverse["responsivity_a_per_w"] > 0  # ... the conductance's does not


def test_a_responsivity_without_a_vds_is_signed_by_the_dark_current_and_one_against_vds_is_said(
        tmp_path: Path) -> None:
    """Without a Vds in the header the current's sign is the bias's, as the definition says: a run at −0.1 V whose
    VDS line was lost had the opposite responsivity of the same run with it. A dark current flowing against Vds (an
    ammeter wired the other way) was signed by Vds without a word."""
    lab = small_lab(tmp_path)
    day = lab.raw / "2025-10-14"
    for file_idx, minutes in ((3, 21), (4, 22), (5, 23)):
        write_run(day, "It", file_idx=file_idx, start_utc=START + dt.timedelta(minutes=minutes),
                  params={"Laser voltage": 2.0, "VDS": -0.1})
    lost, swapped = day / "It2025-10-14_4.csv", day / "It2025-10-14_5.csv"
    lost.write_bytes(re.sub(rb"#\tVDS: [^\r\n]*\r?\n", b"", lost.read_bytes()))
    swapped.write_bytes(swapped.read_bytes().replace(b"#\tVDS: -0.1 V", b"#\tVDS: 0.1 V"))
    lab.stage()
    table = read_metrics(lab.config).filter(pl.col("proc") == "It", pl.col("has_light"))
    rows = {row["source_file"].rsplit("_", 1)[1]: row for row in table.iter_rows(named=True)}
    reverse, no_vds, against = rows["3.csv"], rows["4.csv"], rows["5.csv"]
    assert no_vds["vds_v"] is None and no_vds["i_dark_a"] < 0 and reverse["vds_v"] == -0.1
    for run in (reverse, no_vds):  # negated, as at −0.1 V: the same sign for the same physics
        assert run["responsivity_a_per_w"] == pytest.approx(-run["delta_i_a"] / run["power_w"])
    assert no_vds["responsivity_a_per_w"] * reverse["responsivity_a_per_w"] > 0
    assert against["vds_v"] == 0.1 and against["responsivity_a_per_w"] == pytest.approx(
        against["delta_i_a"] / against["power_w"])
    said = [remark for remark in against["remarks"] if "against the bias" in remark]
    assert said == ["responsivity_a_per_w: i_dark_a and Vds have opposite signs, a current against the bias, which "
                    "no channel carries (an ammeter wired the other way?): signed by Vds"], against["remarks"]
    assert against["i_dark_a"] < 0 and not [remark for row in rows.values() if row is not against
                                            for remark in row["remarks"] if "against the bias" in remark]


def cut_calibration(path: Path, top_v: float) -> Path:
    """A written LaserCalibration stopped at `top_v` (aborted): its rows past it dropped."""
    head, data = path.read_bytes().decode().split("VL (V),Power (W)\r\n")
    rows = "".join(f"{line}\r\n" for line in data.splitlines() if line and float(line.split(",")[0]) <= top_v)
    path.write_bytes(f"{head}VL (V),Power (W)\r\n{rows}".encode())
    return path


def test_a_run_its_nearest_calibration_cannot_price_is_priced_by_one_that_comes_later(tmp_path: Path) -> None:
    """The nearest calibration stopped at 1.5 V, below the run's 2 V: unpriced, rightly. A full one staged later was
    never tried: the run's row matched its nearest again at every update (`metrics` and `stage --force` alike)."""
    lab = small_lab(tmp_path)
    day = lab.raw / "2025-10-14"
    cut_calibration(day / "LaserCalibration2025-10-14_1.csv", 1.5)
    lab.stage()

    def lit() -> dict[str, object]:
        return read_metrics(lab.config).filter(pl.col("proc") == "It", pl.col("has_light")).row(0, named=True)

    assert lit()["power_w"] is None
    full = write_run(day, "LaserCalibration", file_idx=2, start_utc=START + dt.timedelta(hours=5),
                     params={"Laser wavelength": 455})
    lab.stage()
    assert lit()["power_w"] is not None
    full_id = lab.run_of(str(full.relative_to(lab.raw)))["run_id"]
    assert lit()["calibration_run_id"] == full_id
    from labtui.core.annotations import Change, annotate

    excluded = annotate(lab.config.store_root, lab.manifest().filter(pl.col("run_id") == full_id),
                        [Change("exclude", "sensor moved")], author="ana")
    assert excluded is not None  # the nearest still cannot price it: "by none", not "by another calibration"
    assert reprice_after(lab.config, excluded.run_ids) == "power_w repriced: 1 lit It run (1 by none)"
    included = annotate(lab.config.store_root, lab.manifest().filter(pl.col("run_id") == full_id),
                        [Change("include")], author="ana")
    assert included is not None and lit()["power_w"] is None
    assert reprice_after(lab.config, included.run_ids) == "power_w repriced: 1 lit It run (1 by it again)"
    assert lit()["power_w"] is not None


@pytest.mark.parametrize("cut_first", [True, False])
def test_of_two_calibrations_started_together_the_one_that_reaches_prices(tmp_path: Path, cut_first: bool) -> None:
    """Two calibrations of one start time (a truncated backup copy beside the whole file), one stopped short of the
    run's VL: by the order of their run_ids the run was priced by a third, 10 h away, at another power."""
    lab = Lab(tmp_path)
    day = lab.raw / "2025-10-14"
    twins = [write_run(day, "LaserCalibration", file_idx=n, start_utc=START, params={"Laser wavelength": 455})
             for n in (1, 2)]
    cut_calibration(twins[0 if cut_first else 1], 1.5)
    far = recalibrate(write_run(day, "LaserCalibration", file_idx=3, start_utc=START + dt.timedelta(hours=11),
                                params={"Laser wavelength": 455}), lambda vl: 3e-6 * vl)
    write_run(day, "It", file_idx=1, start_utc=START + dt.timedelta(hours=1), params={"Laser voltage": 2.0})
    lab.stage()
    whole = twins[1 if cut_first else 0]
    run = read_metrics(lab.config).filter(pl.col("proc") == "It").row(0, named=True)
    assert run["calibration_run_id"] == lab.run_of(str(whole.relative_to(lab.raw)))["run_id"]
    assert run["calibration_run_id"] != lab.run_of(str(far.relative_to(lab.raw)))["run_id"]


def test_an_excluded_calibration_prices_no_run_and_its_runs_are_repriced_at_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A LaserCalibration the lab excluded (its sensor moved) still priced the lit runs nearest to it, in the table
    and every responsivity from it. Excluding it reprices them at once by the next nearest; including it again, or
    undoing the exclusion, gives them back; with no other calibration, the run says why none prices it. The stage
    and a rebuild price by the same rule."""
    from labtui.core.annotations import Change, annotate, undo

    lab = small_lab(tmp_path)
    day = lab.raw / "2025-10-14"
    near = recalibrate(day / "LaserCalibration2025-10-14_1.csv", lambda vl: 1e-6 * vl)
    lab.stage()
    near_id = lab.run_of(str(near.relative_to(lab.raw)))["run_id"]

    def priced() -> dict[str, object]:
        return read_metrics(lab.config).filter(pl.col("proc") == "It", pl.col("has_light")).row(0, named=True)

    # by its seq in `labtui history --calibrations`, as a run_id is nowhere on the screen
    assert main(lab.args("annotate", "--calibrations", "--seq", "1", "--exclude", "sensor moved")) == 0
    assert capsys.readouterr().out.splitlines() == [
        "excluded “sensor moved”: 1 run of the setup's calibrations (seq 1)",
        "power_w repriced: 1 lit It run (1 by none)"]
    alone = priced()
    assert alone["calibration_run_id"] is None and alone["power_w"] is None and alone["responsivity_a_per_w"] is None
    assert (f"power_w: no LaserCalibration of 455 nm can price it (the nearest, {near_id}: excluded “sensor moved”)"
            in alone["remarks"])
    far = recalibrate(write_run(day, "LaserCalibration", file_idx=2, start_utc=START + dt.timedelta(hours=5),
                                params={"Laser wavelength": 455}), lambda vl: 3e-6 * vl)
    lab.stage()  # the stage prices by the exclusion too
    far_id = lab.run_of(str(far.relative_to(lab.raw)))["run_id"]
    assert priced()["calibration_run_id"] == far_id and priced()["power_w"] == pytest.approx(6e-6)
    incremental = read_metrics(lab.config)
    metrics_table.update_metrics(lab.config, rebuild=True)
    assert read_metrics(lab.config).equals(incremental)
    included = annotate(lab.config.store_root, lab.manifest().filter(pl.col("run_id") == near_id),
                        [Change("include")], author="ana")
    assert included is not None and included.changes_exclusion()
    assert reprice_after(lab.config, included.run_ids) == "power_w repriced: 1 lit It run (1 by it again)"
    assert priced()["calibration_run_id"] == near_id and priced()["power_w"] == pytest.approx(2e-6)
    assert priced()["calibration_spread"] == pytest.approx(3.0)  # the far one in reach, 3× the near one's power
    farther = annotate(lab.config.store_root, lab.manifest().filter(pl.col("run_id") == far_id),
                       [Change("exclude", "wrong filter")], author="ana")
    assert farther is not None  # in reach of the run, not its nearest: its spread alone is redone
    assert reprice_after(lab.config, farther.run_ids) == ("power_w: no lit It run priced by it, none repriced; "
                                                          "calibration_spread redone for 1 run it was in reach of")
    assert priced()["calibration_run_id"] == near_id and priced()["calibration_spread"] is None
    farther = annotate(lab.config.store_root, lab.manifest().filter(pl.col("run_id") == far_id),
                       [Change("include")], author="ana")
    assert farther is not None and reprice_after(lab.config, farther.run_ids) is not None
    undone = undo(lab.config.store_root, included.id, author="ana")
    assert undone is not None and undone.action is not None
    assert reprice_after(lab.config, undone.action.run_ids) == ("power_w repriced: 1 lit It run (1 by another "
                                                                "calibration)")
    assert priced()["calibration_run_id"] == far_id
    assert reprice_after(lab.config, [priced()["run_id"]]) is None  # not a calibration: no update


def test_an_exclusion_reattached_to_a_restaged_calibration_reprices_its_runs(tmp_path: Path) -> None:
    """A calibration whose start time was corrected is staged under a new run_id, its exclusion still on the old
    one: it priced its runs again, and `validate --fix`, which re-attaches the exclusion, left them so."""
    from labtui.core.annotations import Change, annotate
    from labtui.core.fixes import apply_fixes
    from labtui.core.validate import validate

    lab = small_lab(tmp_path)
    lab.stage()
    source = "2025-10-14/LaserCalibration2025-10-14_1.csv"
    annotate(lab.config.store_root, lab.manifest().filter(pl.col("source_file") == source),
             [Change("exclude", "sensor moved")], author="ana")
    write_run(lab.raw / "2025-10-14", "LaserCalibration", file_idx=1, start_utc=START + dt.timedelta(minutes=1),
              params={"Laser wavelength": 455})
    lab.stage()
    new_id = lab.run_of(source)["run_id"]
    lit = pl.col("proc") == "It", pl.col("has_light")
    assert read_metrics(lab.config).filter(*lit)["calibration_run_id"].to_list() == [new_id]
    done = apply_fixes(lab.config, validate(lab.config))
    assert "power_w repriced: 1 lit It run (1 by none)" in done.lines
    assert read_metrics(lab.config).filter(*lit)["calibration_run_id"].to_list() == [None]


def test_repricing_a_damaged_table_or_a_starred_calibration_says_what_it_did(tmp_path: Path) -> None:
    """Over a damaged table, repricing computes it anew (and said "no lit It run priced by it"); re-attaching a
    calibration's star alone reprices nothing (and said the same line)."""
    from labtui.core.annotations import Change, annotate
    from labtui.core.fixes import apply_fixes
    from labtui.core.validate import validate

    lab = small_lab(tmp_path)
    lab.stage()
    source = "2025-10-14/LaserCalibration2025-10-14_1.csv"
    calibration = lab.manifest().filter(pl.col("source_file") == source)
    action = annotate(lab.config.store_root, calibration, [Change("star")], author="ana")
    assert action is not None and not action.changes_exclusion()
    write_run(lab.raw / "2025-10-14", "LaserCalibration", file_idx=1, start_utc=START + dt.timedelta(minutes=1),
              params={"Laser wavelength": 455})
    lab.stage()
    done = apply_fixes(lab.config, validate(lab.config))
    assert "re-attached the annotations of 1 re-staged run to their new run_id" in done.lines
    assert not [line for line in done.lines if line.startswith("power_w")]  # a star prices nothing
    excluded = annotate(lab.config.store_root, lab.manifest().filter(pl.col("source_file") == source),
                        [Change("exclude", "sensor moved")], author="ana")
    assert excluded is not None
    lab.config.metrics_path.write_bytes(b"PAR1 torn")
    assert reprice_after(lab.config, excluded.run_ids) == ("power_w repriced: the metrics table was damaged, and is "
                                                           "computed anew")
    assert read_metrics(lab.config).filter(pl.col("proc") == "It", pl.col("has_light"))[
        "calibration_run_id"].to_list() == [None]


def test_a_calibration_excluded_while_another_process_stages_says_the_table_is_behind(tmp_path: Path) -> None:
    """The annotation is written (the log takes no lock); the table, which takes the writer lock, waits for it and,
    held past the timeout, is said to be behind, with the command that brings it up to date."""
    from labtui.core.annotations import Change, annotate, excluded_runs

    lab = small_lab(tmp_path)
    lab.stage()
    calibration = lab.manifest().filter(pl.col("proc") == "LaserCalibration")
    action = annotate(lab.config.store_root, calibration, [Change("exclude", "sensor moved")], author="ana")
    assert action is not None
    with lock_held_elsewhere(lab.config.lock_path, "labtui stage"):
        line = reprice_after(replace(lab.config, lock_timeout_seconds=0), action.run_ids)
    assert line is not None and line.startswith("power_w not repriced (") and line.endswith(
        "): `labtui metrics` reprices")
    assert excluded_runs(lab.config.store_root) == {calibration["run_id"][0]: "sensor moved"}
    assert main(lab.args("metrics", "--proc", "It", "--format", "csv")) == 0  # the command it names
    assert read_metrics(lab.config).filter(pl.col("proc") == "It")["calibration_run_id"].to_list() == [None, None]


def test_calibrations_in_reach_that_disagree_give_the_runs_calibration_spread(tmp_path: Path) -> None:
    """Calibrations of one wavelength a few hours apart disagreed up to 5.8× at a run's VL (56 of the real lit runs
    over 2×), and the run took the nearest one's power without a word: `calibration_spread` compares the powers of
    every calibration within the stale window that can price the run, `calibration_set` names those in reach; a
    changed or new calibration in reach redoes it, as a rebuild would, and so does one that could not be read."""
    lab = small_lab(tmp_path)
    day = lab.raw / "2025-10-14"
    first = recalibrate(day / "LaserCalibration2025-10-14_1.csv", lambda vl: 1e-6 * vl)
    lab.stage()
    lit = read_metrics(lab.config).filter(pl.col("proc") == "It", pl.col("has_light"))
    assert lit["calibration_spread"].to_list() == [None] and lit["calibration_set"].to_list() == [None]  # one
    assert ("calibration_spread: fewer than two calibrations within 24 h price it (or one prices it at a power too "
            "near 0 W to divide by): "
            "nothing to compare") in lit["remarks"][0]  # the null's reason, as every null quantity has one
    later = START + dt.timedelta(hours=2)
    second = recalibrate(write_run(day, "LaserCalibration", file_idx=2, start_utc=later,
                                   params={"Laser wavelength": 455}), lambda vl: 3e-6 * vl)
    for file_idx, hours, power in ((3, 1, lambda vl: 0.0), (4, 30, lambda vl: 9e-6 * vl)):  # blocked; out of reach
        recalibrate(write_run(day, "LaserCalibration", file_idx=file_idx, start_utc=START + dt.timedelta(hours=hours),
                              params={"Laser wavelength": 455}), power)
    lab.stage()

    def spread_and_set() -> tuple[float, str]:
        row = read_metrics(lab.config).filter(pl.col("proc") == "It", pl.col("has_light")).row(0, named=True)
        return row["calibration_spread"], row["calibration_set"]

    first_id, second_id = (lab.run_of(str(path.relative_to(lab.raw)))["run_id"] for path in (first, second))
    in_reach = f"{first_id}…{second_id} (2) "  # in start order, then a digest of their contents
    spread, before = spread_and_set()
    assert spread == pytest.approx(3.0) and before.startswith(in_reach)
    recalibrate(second, lambda vl: 2e-6 * vl)
    lab.stage()
    spread, after = spread_and_set()
    assert spread == pytest.approx(2.0) and after.startswith(in_reach) and after != before
    incremental = read_metrics(lab.config)
    metrics_table.update_metrics(lab.config, rebuild=True)
    assert read_metrics(lab.config).equals(incremental)
    parquets = [run_parquet_path(lab.config.stage_root, "LaserCalibration", run["date_local"], run["run_id"])
                for run in (lab.run_of(str(path.relative_to(lab.raw))) for path in (first, second))]
    for parquet in parquets:
        parquet.rename(parquet.with_suffix(".aside"))  # unreadable while a new run is priced: nothing kept from it
    write_run(day, "It", file_idx=3, start_utc=START + dt.timedelta(minutes=25), params={"Laser voltage": 2.0})
    lab.stage()
    new = read_metrics(lab.config).filter(pl.col("source_file") == "2025-10-14/It2025-10-14_3.csv").row(0, named=True)
    assert (new["calibration_spread"], new["calibration_set"], new["power_w"]) == (None, None, None)
    assert any(remark.startswith("power_w: the calibration's Parquet could not be read") for remark in new["remarks"])
    for parquet in parquets:
        parquet.with_suffix(".aside").rename(parquet)
    metrics_table.update_metrics(lab.config)  # read again: the power and the spread come back
    incremental = read_metrics(lab.config)
    new = incremental.filter(pl.col("source_file") == "2025-10-14/It2025-10-14_3.csv").row(0, named=True)
    assert new["power_w"] is not None and new["calibration_spread"] == pytest.approx(2.0)
    assert not [remark for remark in new["remarks"] if remark.startswith("calibration_spread")]  # redone by the join
    metrics_table.update_metrics(lab.config, rebuild=True)
    assert read_metrics(lab.config).equals(incremental)


def test_a_calibration_far_from_its_wavelengths_others_prices_no_run_and_says_why(tmp_path: Path) -> None:
    """A calibration's Power logged in mW under `Power (W)` read 0.01 "W", under its sensor's full scale: it priced
    the run it was nearest to 1000× high (a responsivity 1000× low), unsaid. Against the median of its wavelength's
    usable calibrations (three at least, itself among them) it is 1000× apart: said on its row, and it prices none;
    the others, and dark or excluded ones, are not judged by it. The remark is the join's: the next update makes it
    again, from the calibrations as they are then (kept as a from-data one, it grew by one at each update)."""
    from labtui.core.annotations import Change, annotate

    lab = small_lab(tmp_path)
    day = lab.raw / "2025-10-14"
    recalibrate(day / "LaserCalibration2025-10-14_1.csv", lambda vl: 1e-6 * vl)
    slipped = recalibrate(write_run(day, "LaserCalibration", file_idx=2, start_utc=START + dt.timedelta(minutes=19),
                                    params={"Laser wavelength": 455}), lambda vl: 2e-3 * vl)
    lab.stage()  # two: which of them is in another unit cannot be told

    def lit() -> dict[str, object]:
        return read_metrics(lab.config).filter(pl.col("proc") == "It", pl.col("has_light")).row(0, named=True)

    def judged() -> dict[str, list[str]]:
        rows = read_metrics(lab.config).filter(pl.col("proc") == "LaserCalibration")
        return {source: [remark for remark in remarks if remark.startswith("pricing")]
                for source, remarks in rows.select("source_file", "remarks").iter_rows()}

    mw_id = lab.run_of(str(slipped.relative_to(lab.raw)))["run_id"]
    assert lit()["calibration_run_id"] == mw_id and lit()["power_w"] == pytest.approx(4e-3)
    dark = recalibrate(write_run(lab.raw / "2025-10-10", "LaserCalibration", file_idx=3,
                                 start_utc=START - dt.timedelta(days=4), params={"Laser wavelength": 455}),
                       lambda vl: 1e-9)  # a laser that never came on: no say in the median
    lab.stage()
    assert not any(judged().values())
    earlier = write_run(lab.raw / "2025-10-10", "LaserCalibration", file_idx=1, start_utc=START - dt.timedelta(days=5),
                        params={"Laser wavelength": 455})
    recalibrate(earlier, lambda vl: 1.2e-6 * vl)
    lab.stage()  # three usable ones, one of them 2000× the others
    said = ("pricing: P max 10 mW is 1667× the median of the store's 3 calibrations of 455 nm (6 µW): its Power "
            "logged in another unit? It prices no run")
    assert judged() == {path: ([said] if path == str(slipped.relative_to(lab.raw)) else [])
                        for path in judged()} and str(dark.relative_to(lab.raw)) in judged()
    row = read_metrics(lab.config).filter(pl.col("run_id") == mw_id).row(0, named=True)
    assert row["p_max_w"] == pytest.approx(1e-2)  # the data's value, kept
    assert lit()["calibration_run_id"] == lab.run_of("2025-10-14/LaserCalibration2025-10-14_1.csv")["run_id"]
    assert lit()["power_w"] == pytest.approx(2e-6)
    table = read_metrics(lab.config)
    metrics_table.update_metrics(lab.config)
    metrics_table.update_metrics(lab.config)
    assert read_metrics(lab.config).equals(table)  # made again, not carried over and added to
    metrics_table.update_metrics(lab.config, rebuild=True)
    assert read_metrics(lab.config).equals(table)
    annotate(lab.config.store_root, lab.manifest().filter(pl.col("run_id") == mw_id), [Change("exclude", "mW")],
             author="ana")
    metrics_table.update_metrics(lab.config)
    assert not any(judged().values())  # excluded: the lab has said why; the others are two again


def test_a_spread_is_computed_again_when_its_calibrations_change_but_not_their_ends_or_count(tmp_path: Path) -> None:
    """The middle calibration re-measured at another wavelength left the run's reach, and one of a nearby wavelength
    joined it under a wider tolerance: same first and last, same count, and the old spread was kept."""
    lab = Lab(tmp_path)
    day = lab.raw / "2025-10-14"
    for file_idx, hours, nm, factor in ((1, 0, 455, 1), (2, 1, 455, 3), (3, 2, 455, 1), (4, 1.5, 458, 1.5)):
        recalibrate(write_run(day, "LaserCalibration", file_idx=file_idx, start_utc=START + dt.timedelta(hours=hours),
                              params={"Laser wavelength": nm}), lambda vl, factor=factor: factor * 1e-6 * vl)
    write_run(day, "It", file_idx=1, start_utc=START + dt.timedelta(hours=1), params={"Laser voltage": 2.0})
    lab.stage()

    def spread() -> float:
        return read_metrics(lab.config).filter(pl.col("proc") == "It")["calibration_spread"][0]

    assert spread() == pytest.approx(3.0)
    recalibrate(write_run(day, "LaserCalibration", file_idx=2, start_utc=START + dt.timedelta(hours=1),
                          params={"Laser wavelength": 470}), lambda vl: 3e-6 * vl)
    lab.configure(metrics={"wavelength_tolerance_nm": 5})
    lab.stage()
    assert spread() == pytest.approx(1.5)
    assert read_metrics(lab.config).equals(metrics_table.compute_update(lab.config, rebuild=True).table)


def test_prune_takes_the_dropped_runs_out_of_the_metrics_table(tmp_path: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    """A pruned calibration kept pricing the lit runs (and their rows stayed in the table) until the next stage that
    had files to stage."""
    lab = small_lab(tmp_path)
    lab.stage()
    lit = read_metrics(lab.config).filter(pl.col("proc") == "It", pl.col("has_light")).row(0, named=True)
    assert lit["power_w"] is not None
    (lab.raw / "2025-10-14" / "LaserCalibration2025-10-14_1.csv").unlink()
    assert main(lab.args("prune", "--yes")) == 0
    table = read_metrics(lab.config)
    assert "LaserCalibration" not in table["proc"].to_list()
    lit = table.filter(pl.col("proc") == "It", pl.col("has_light")).row(0, named=True)
    assert (lit["power_w"], lit["calibration_run_id"]) == (None, None)
    assert "power_w: no LaserCalibration of 455 nm in the store" in lit["remarks"]


def test_a_prune_whose_metrics_update_fails_says_so_and_the_next_stage_computes_them(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """With a broken chip_params.yaml the table's update after a prune failed without a word, and a stage with no
    file to stage never redid it: the dropped calibration kept pricing the runs."""
    monkeypatch.chdir(tmp_path)
    lab = small_lab(tmp_path)
    lab.stage()
    (lab.raw / "2025-10-14" / "LaserCalibration2025-10-14_1.csv").unlink()
    geometry = tmp_path / "config" / "chip_params.yaml"
    geometry.parent.mkdir(exist_ok=True)
    geometry.write_text("Alisson67: [unclosed\n")
    assert main(lab.args("prune", "--yes")) == 0
    assert "the next stage computes the derived quantities again" in capsys.readouterr().err
    geometry.write_text("{}\n")
    assert lab.stage().staged == 0
    table = read_metrics(lab.config)
    assert "LaserCalibration" not in table["proc"].to_list()
    assert table.filter(pl.col("proc") == "It", pl.col("has_light"))["power_w"].to_list() == [None]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_spreads_updated_stage_by_stage_are_those_a_rebuild_computes(tmp_path: Path, seed: int) -> None:
    """Calibrations and lit runs of two wavelengths arriving, re-measured and pruned in random order, hours apart:
    after every stage the table's spreads, kept or computed again, are those computed from scratch."""
    rng = np.random.default_rng(seed)
    lab = Lab(tmp_path)
    day = lab.raw / "2025-10-14"
    calibrations: list[Path] = []

    def scaled(factor: float) -> Callable[[float], float]:
        return lambda vl: factor * 1e-6 * vl

    for step in range(4):
        for _ in range(int(rng.integers(2, 5))):
            file_idx = len(calibrations) + 1
            start = START + dt.timedelta(hours=float(rng.uniform(0, 60)))
            path = write_run(day, "LaserCalibration", file_idx=file_idx, start_utc=start,
                             params={"Laser wavelength": int(rng.choice([455, 505]))})
            calibrations.append(recalibrate(path, scaled(float(rng.uniform(0.5, 4)))))
        for k in range(int(rng.integers(1, 4))):
            write_run(day, "It", file_idx=100 * step + k + 1, start_utc=START + dt.timedelta(
                hours=float(rng.uniform(0, 60))), params={"Laser voltage": 2.0,
                                                        "Laser wavelength": int(rng.choice([455, 505]))})
        if step >= 1:  # one re-measured, one gone
            recalibrate(calibrations[int(rng.integers(len(calibrations)))], scaled(float(rng.uniform(0.5, 4))))
        if step >= 2:
            gone = calibrations.pop(int(rng.integers(len(calibrations))))
            gone.unlink()
            assert main(lab.args("prune", "--yes")) == 0
        lab.stage()
        columns = ["run_id", "calibration_set", "calibration_spread", "power_w"]
        staged = read_metrics(lab.config).select(columns).sort("run_id")
        assert staged.equals(metrics_table.compute_update(lab.config, rebuild=True).table.select(columns).sort(
            "run_id")), step
    assert staged["calibration_spread"].drop_nulls().len() > 0  # the case is exercised


def test_reach_gives_each_run_the_slice_of_calibrations_within_the_window() -> None:
    times = np.array([20, 0, 100, 10])  # unsorted, as the calibrations come
    spans = reach(times, np.arange(4), np.array([50, 15, 5, 100]), np.arange(4), 10)
    assert spans.runs.tolist() == [2, 1, 0, 3] and times[spans.cals].tolist() == [0, 10, 20, 100]  # by start time
    assert spans.first[spans.count > 0].tolist() == [0, 1] and spans.count.tolist() == [2, 2, 0, 0]  # 50: none in
    # reach; 100: only one, not two


def test_a_calibration_that_cannot_price_power_is_passed_over(tmp_path: Path) -> None:
    """A blocked sensor's calibration (0 W everywhere) priced the run 0 W, an infinite responsivity: the run takes
    the nearest calibration that can price it, or none, and says which calibration could not and why (also when
    that calibration arrives after the run was staged)."""
    lab = small_lab(tmp_path)
    day = lab.raw / "2025-10-14"
    nearer = START + dt.timedelta(minutes=25)
    recalibrate(write_run(day, "LaserCalibration", file_idx=2, start_utc=nearer, params={"Laser wavelength": 455}),
                lambda vl: 0.0)
    write_run(day, "It", file_idx=3, start_utc=START + dt.timedelta(minutes=50),
              params={"Laser voltage": 2.0, "Laser wavelength": 385})
    lab.stage()
    blocked = recalibrate(write_run(day, "LaserCalibration", file_idx=3, start_utc=nearer,
                                    params={"Laser wavelength": 385}), lambda vl: 0.0)
    lab.stage()
    table = read_metrics(lab.config)
    good = lab.run_of("2025-10-14/LaserCalibration2025-10-14_1.csv")["run_id"]
    lit = table.filter(pl.col("source_file") == "2025-10-14/It2025-10-14_1.csv").row(0, named=True)
    assert lit["calibration_run_id"] == good and lit["power_w"] > 0
    assert lit["responsivity_a_per_w"] == pytest.approx(lit["delta_i_a"] / lit["power_w"])
    unpriced = table.filter(pl.col("laser_wavelength_nm") == 385, pl.col("proc") == "It").row(0, named=True)
    assert unpriced["calibration_run_id"] is None and unpriced["power_w"] is None
    assert unpriced["responsivity_a_per_w"] is None and unpriced["delta_i_a"] is not None
    blocked_id = lab.run_of(str(blocked.relative_to(lab.raw)))["run_id"]
    assert (f"power_w: no LaserCalibration of 385 nm can price it (the nearest, {blocked_id}: no Power reading "
            "above 0 W: no light reached the sensor)") in unpriced["remarks"]


def test_no_power_where_the_calibration_gives_none_at_the_runs_voltage(tmp_path: Path) -> None:
    """A meter zeroed in the dark gives 0 W below the laser's threshold: a run lit that faintly has no power and
    no responsivity, also in a table stored before this rule (metrics_version 3 kept its 0 W)."""
    lab = small_lab(tmp_path)
    day = lab.raw / "2025-10-14"
    recalibrate(day / "LaserCalibration2025-10-14_1.csv", lambda vl: 2e-6 * max(vl - 0.3, 0.0))
    write_run(day, "It", file_idx=3, start_utc=START + dt.timedelta(minutes=50), params={"Laser voltage": 0.2})
    lab.stage()
    faint = pl.col("source_file") == "2025-10-14/It2025-10-14_3.csv"
    why = "power_w: the calibration gives 0 W at VL 0.2 V, no power above 0 W"

    def check(table: pl.DataFrame) -> None:
        run = table.filter(faint).row(0, named=True)
        assert run["calibration_run_id"] is not None and run["delta_i_a"] is not None
        assert run["power_w"] is None and run["responsivity_a_per_w"] is None and why in run["remarks"]

    check(read_metrics(lab.config))
    stored_before = read_metrics(lab.config).with_columns(
        power_w=pl.when(faint).then(0.0).otherwise("power_w"),
        remarks=pl.col("remarks").list.eval(pl.element().filter(~pl.element().str.starts_with("power_w"))),
        metrics_version=pl.lit(3, pl.Int32),
    )
    stored_before.write_parquet(lab.config.metrics_path)  # as that labtui wrote it
    check(update_metrics(lab.config).table)


def test_a_responsivity_that_overflows_is_null_with_its_reason(tmp_path: Path) -> None:
    """A curve of subnormal powers (1e-321 W) over a dark reading below 0 W and a rise past the sensor's noise at its
    top prices a run there; ΔI over that is beyond the float range. (Subnormal powers alone are no light.)"""
    lab = small_lab(tmp_path)
    recalibrate(lab.raw / "2025-10-14" / "LaserCalibration2025-10-14_1.csv",
                lambda vl: -15e-9 if vl == 0 else 1e-321 if vl <= 2.5 else 1e-8 * vl)
    lab.stage()
    lit = read_metrics(lab.config).filter(pl.col("source_file") == "2025-10-14/It2025-10-14_1.csv").row(0, named=True)
    assert lit["power_w"] == pytest.approx(1e-321) and lit["delta_i_a"] is not None, lit["remarks"]
    assert lit["responsivity_a_per_w"] is None
    assert "responsivity_a_per_w: delta_i_a / power_w overflows" in lit["remarks"]


def test_two_stores_in_one_folder_keep_their_own_metrics_and_the_lab_layout_its_03_derived(tmp_path: Path) -> None:
    """Side by side, each store has its own table: staging one never drops the other's quantities."""
    labs = {}
    for name, proc in (("a", "IVg"), ("b", "It")):
        stage_root = tmp_path / "stores" / name / "raw_measurements"
        lab = Lab(tmp_path / name, raw=tmp_path / f"raw_{name}", stage_root=str(stage_root))
        lab.write_run(f"d/{proc}2025-10-14_1.csv", proc, start=dt.datetime(2025, 10, 14, 12, tzinfo=dt.UTC))
        labs[name] = lab
    for lab in labs.values():
        assert lab.stage().metrics.computed == 1  # type: ignore[union-attr]
    assert {lab.config.metrics_path for lab in labs.values()} == {
        tmp_path / "stores" / "a_derived" / "metrics.parquet", tmp_path / "stores" / "b_derived" / "metrics.parquet"}
    for name, lab in labs.items():
        update = update_metrics(lab.config)
        assert update.computed == 0 and not update.written  # nothing to redo: the other store left it alone
        assert update.table["proc"].to_list() == [{"a": "IVg", "b": "It"}[name]]
    data = tmp_path / "data"
    lab_layout = load_config(None, raw_root=tmp_path / "raw_a", stage_root=data / "02_stage" / "raw_measurements")
    assert lab_layout.metrics_path == data / "03_derived" / "metrics.parquet"


# laser off 40 s, on 40 s (I rises by 100 nA, τ 5 s), off 45 s: an It run of 1.5 periods, and a three-phase run
THREE_PHASES = data_rows(((0.5 * k, 1e-6 + 1e-7 * (1 - math.exp(-(0.5 * k - 40) / 5)) if 80 <= k < 160 else 1e-6,
                           1.15 if 80 <= k < 160 else 0.0) for k in range(250)), len(COLUMNS["It"]))


@pytest.mark.parametrize(("legacy", "family", "params", "columns", "rows"), [
    ("IVgT", "IVg", {"VG start": "-2 V", "VG end": "2 V", "VG step": "0.1 V"}, COLUMNS["IVg"],
     data_rows(((v, 1e-6 * (1 + (v - 0.3) ** 2)) for v in sweep(-2, 2, 0.1, "loop")), len(COLUMNS["IVg"]))),
    ("ITt", "It", {**PARAMS["It"], "Laser ON+OFF period": "80 s"}, COLUMNS["It"], THREE_PHASES),
    ("It2", "It", {**PARAMS["It"], "Laser ON+OFF period": "80 s"}, COLUMNS["It"], THREE_PHASES),
    ("ItThreePhase", "It", {**PARAMS["It"], "Laser ON+OFF period": "80 s"}, COLUMNS["It"], THREE_PHASES),
])
def test_a_legacy_procedures_run_gets_the_quantities_of_the_procedure_it_is_like(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], legacy: str, family: str, params: dict[str, str],
        columns: list[str], rows: list[str]) -> None:
    """The registry's `like` (IVgT like IVg, ITt like It): one sweep written under both names and staged together
    has the same numbers in both rows; the legacy run had no row at all (a lab's older weeks had no Dirac point).
    A three-phase run (It2) is an It run of 1.5 periods: It's quantities read the VL edges, never the period."""
    lab = Lab(tmp_path)
    for later, proc in enumerate((family, legacy)):
        lab.write(f"2025-10-14/{proc}2025-10-14_1.csv",
                  raw_csv(proc, params=params, columns=columns, rows=rows, start=START.timestamp() + later))
    lab.stage()
    table = read_metrics(lab.config).join(read_manifest(lab.config.manifest_path).select("run_id", "proc"),
                                          on="run_id")
    assert sorted(table["proc"]) == sorted([family, legacy])
    quantities = [q.column for q in QUANTITIES if q.applies_to(family)]
    legacy_row, family_row = (table.filter(pl.col("proc") == proc).select(*quantities, "remarks").row(0, named=True)
                              for proc in (legacy, family))
    assert legacy_row == family_row
    assert any(legacy_row[q.column] is not None for q in QUANTITIES if q.applies_to(family) and q.from_data)
    assert update_metrics(lab.config, rebuild=True).table.equals(read_metrics(lab.config))  # read back: the same
    # the chip's trend draws both runs, and the dashboard's Dirac point is the newest sweep's, the legacy one
    trend = Trend.CNP if family == "IVg" else Trend.DARK
    manifest, metrics = load_manifest(lab.config), read_metrics(lab.config)
    runs = chip_runs(manifest, 67, "Alisson", None, tz=lab.config.local_tz)
    spec = trend_spec(trend, trend_rows(runs, metrics, current_annotations(lab.config.store_root)),
                      tz=lab.config.local_tz)
    assert sorted(spec.series[0].point_run_ids) == sorted(table["run_id"])
    legacy_id = table.filter(pl.col("proc") == legacy)["run_id"][0]
    if family == "IVg":
        points = last_dirac_points(manifest, metrics, current_annotations(lab.config.store_root))
        assert points["run_id"].to_list() == [legacy_id]
    # the app's run details and `labtui metrics --proc <legacy>` show the family's quantities
    detailed = [column for column in quantities if column != "responsivity_doubt"]  # said on the responsivity's line
    assert [topic for topic, _ in quantity_items(metrics, legacy_id)] == detailed
    capsys.readouterr()
    assert main(lab.args("metrics", "--proc", legacy)) == 0
    assert quantities[0] in capsys.readouterr().out


def test_a_pulse_whose_current_is_unread_while_lit_is_no_dark_run() -> None:
    """NaN currents over the whole lit window left no lit sample among the readings: the run was said to be one whose
    laser "never switched on", with a dark current and drift taken over the pulse's tail."""
    t, current, vl = pulse()
    unread = np.where(vl >= SETTINGS.light_threshold_v, np.nan, current)
    values, remarks = it_quantities(t, unread, vl, 0.1, SETTINGS)
    assert all(value is None for value in values.values())
    assert remarks == [f"photoresponse: the laser switched on at {t[np.argmax(vl >= 0.1)]:.4g} s, but I holds no "
                       "reading while it was on (NaN, overflow marks or contact glitches)"]


def test_a_calibrations_gap_unprices_the_runs_inside_it_alone(tmp_path: Path) -> None:
    """A calibration with no Power reading around a run's VL: the run is unpriced and says why, the calibration's
    row says where its gap is, and it still prices a run beside the gap (its remark is no whole-curve refusal)."""
    lab = small_lab(tmp_path)
    day = lab.raw / "2025-10-14"
    recalibrate(day / "LaserCalibration2025-10-14_1.csv", lambda vl: math.nan if 1.5 < vl < 2.5 else 1e-6 * vl)
    write_run(day, "It", file_idx=3, start_utc=START + dt.timedelta(minutes=21), params={"Laser voltage": 3.0})
    lab.stage()
    table = read_metrics(lab.config)
    calibration = table.filter(pl.col("proc") == "LaserCalibration").row(0, named=True)
    assert [remark for remark in calibration["remarks"] if remark.startswith("curve: ")] == [
        "curve: no Power reading at 9 VLs from 1.6 to 2.4 V: no run between their neighbours is priced"]
    inside, beside = table.filter(pl.col("proc") == "It", pl.col("has_light")).sort("laser_voltage_v").rows(named=True)
    assert inside["laser_voltage_v"] == 2.0 and inside["power_w"] is None
    assert "power_w: the calibration has no Power reading next to VL 2 V: none is drawn across" in inside["remarks"]
    assert beside["power_w"] == pytest.approx(3e-6)


def test_a_calibration_without_a_wavelength_says_it_prices_no_run(tmp_path: Path) -> None:
    """With its `Laser wavelength` line gone, a calibration priced nothing, and its row said nothing; the lit run
    said "no LaserCalibration of 455 nm in the store" beside it."""
    lab = Lab(tmp_path)
    day = lab.raw / "2025-10-14"
    path = write_run(day, "LaserCalibration", file_idx=1, start_utc=START, params={"Laser wavelength": 455})
    path.write_bytes(re.sub(rb"#\tLaser wavelength: [^\n]*\n", b"", path.read_bytes()))
    write_run(day, "It", file_idx=1, start_utc=START + dt.timedelta(minutes=20), params={"Laser voltage": 2.0})
    lab.stage()
    table = read_metrics(lab.config)
    calibration = table.filter(pl.col("proc") == "LaserCalibration").row(0, named=True)
    assert calibration["p_max_w"] is not None and "pricing: its header gives no laser wavelength (or 0 nm): which " \
        "laser it measured is unknown; it prices no run" in calibration["remarks"]
    lit = table.filter(pl.col("proc") == "It").row(0, named=True)
    assert lit["power_w"] is None and "power_w: no LaserCalibration of 455 nm in the store (1 LaserCalibration " \
        "without a wavelength)" in lit["remarks"]


def test_a_killed_writers_temp_file_beside_the_metrics_table_goes_at_the_next_write(tmp_path: Path) -> None:
    """`.metrics.parquet.<hex>.tmp`, left by a writer killed before its rename, stayed for good, unreported; one
    younger than any write takes may be a live writer's, and stays."""
    from labtui.core.atomic import temp_path_for

    lab = Lab(tmp_path)
    lab.write("2025-10-14/IVg2025-10-14_1.csv", raw_csv("IVg"))
    lab.stage()
    metrics_path = lab.config.metrics_path
    killed, live = temp_path_for(metrics_path), temp_path_for(metrics_path)
    for temp in (killed, live):
        temp.write_bytes(b"PAR1 half a table")
    os.utime(killed, (1e9, 1e9))
    assert main(lab.args("metrics", "--rebuild")) == 0
    assert not killed.exists() and live.exists()
