"""IVg quantities of hostile sweeps: a lone spike, a short dropout and a gate that does not respond gave confident,
wrong values with no remark. Each test starts from a sweep shaped like the real `IVg2025-09-15_1.csv` (0 → −5 →
+5 → −5 → 0 V in 0.05 V steps, Dirac points −2.44 V up and −1.51 V down, on/off about 6), made here so it always
runs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from labtui.core.config import MetricsSettings
from labtui.core.metrics import read_metrics
from labtui.core.metrics.glitches import glitches, sweep_glitches
from labtui.core.metrics.ivg import breakdown_at, ivg_quantities
from labtui.core.plotdata import PlotOptions, build_plots
from tests.lab import COLUMNS, Lab, data_rows, raw_csv, sweep

SETTINGS = MetricsSettings()
VDS = 0.1
UP, DOWN = -2.44, -1.51  # the Dirac points of the real sweep, up- and down-sweep
SPIKE_AT = 150  # −2.5 V on the up-sweep, beside its Dirac point: row 150 of the real file
DROPOUT_AT = slice(200, 202)  # 0 and 0.05 V on the up-sweep: rows 200 and 201 of the real file


def graphene_loop(seed: int = 15) -> tuple[np.ndarray, np.ndarray]:
    """A V-shaped graphene sweep: |I| 21 µA at the Dirac point, rising to about 5.8× at +5 V, the hole arm steeper,
    with 2.4e-4 relative noise. The Dirac point relaxes over ~5 setpoints toward the value of the sweep's direction
    (trapped charge), so the curve is continuous at the turning points as a real one is."""
    vg = np.array(sweep(-5, 5, 0.05, "loop"))
    target = np.where(np.concatenate([[False], vg[1:] > vg[:-1]]), UP, DOWN)
    dirac = np.empty(vg.size)
    dirac[0] = DOWN
    for k in range(1, vg.size):
        dirac[k] = dirac[k - 1] + (target[k] - dirac[k - 1]) * (1 - np.exp(-1 / 5))
    arm = np.sqrt(1 + ((vg - dirac) / 1.2) ** 2) - 1
    current = 2.1e-5 * (1 + np.where(vg < dirac, 1.0, 0.9) * arm)
    return vg, current * (1 + 2.4e-4 * np.random.default_rng(seed).standard_normal(vg.size))


@pytest.fixture(scope="module")
def clean() -> tuple[np.ndarray, np.ndarray, dict[str, float | None]]:
    vg, current = graphene_loop()
    values, remarks = ivg_quantities(vg, current, VDS, SETTINGS)
    assert remarks == [] and glitches(current).sum() == 0 and breakdown_at(current) is None
    assert values["cnp_fwd_v"] == pytest.approx(UP, abs=0.01) and values["cnp_bwd_v"] == pytest.approx(DOWN, abs=0.01)
    assert values["on_off_ratio"] == pytest.approx(5.75, abs=0.01)
    return vg, current, values


def test_a_lone_spike_is_no_breakdown_nor_the_on_current(clean) -> None:
    """1 mA at −2.5 V, the next point as before: it read `the channel broke down at Vg -2.45 V (|I| 0.001 → 2.9e-05
    A, for good)`, no up-sweep Dirac point, the down-sweep's read on the wrong leg, on/off 34 (the spike). A point
    over BREAKDOWN_FALL × both its neighbours is no reading of the channel, as one under 1/BREAKDOWN_FALL is not."""
    vg, current, truth = clean
    spiked = current.copy()
    spiked[SPIKE_AT] = 1e-3
    assert breakdown_at(spiked) is None and np.flatnonzero(glitches(spiked)).tolist() == [SPIKE_AT]
    values, remarks = ivg_quantities(vg, spiked, VDS, SETTINGS)
    assert remarks == []
    assert values["on_off_ratio"] == truth["on_off_ratio"] and values["i_min_a"] == truth["i_min_a"]
    assert values["cnp_bwd_v"] == truth["cnp_bwd_v"]
    assert values["cnp_fwd_v"] == pytest.approx(truth["cnp_fwd_v"], abs=1e-3)  # its fit lacks the spike's setpoint
    assert values["hysteresis_v"] == pytest.approx(truth["hysteresis_v"], abs=1e-3)
    for column in ("gm_max_hole_s", "gm_max_electron_s"):  # the spike made them 0.9 mS
        assert values[column] == pytest.approx(truth[column], rel=1e-9)


def test_a_two_point_dropout_is_no_dirac_point(clean) -> None:
    """0.1 µA at 0 and 0.05 V on the way up: the up-sweep's Dirac point read 0.004 V (true −2.44), i_min 1e-7 A,
    on/off 1330, with no remark. A run of up to GLITCH_RUN points under half of the points around it is a contact
    glitch, as a single point is."""
    vg, current, truth = clean
    dropped = current.copy()
    dropped[DROPOUT_AT] = 1e-7
    assert np.flatnonzero(glitches(dropped)).tolist() == [200, 201] and breakdown_at(dropped) is None
    values, remarks = ivg_quantities(vg, dropped, VDS, SETTINGS)
    assert remarks == []
    for column in ("cnp_fwd_v", "cnp_bwd_v", "cnp_v", "hysteresis_v", "i_min_a", "on_off_ratio"):
        assert values[column] == truth[column], column
    for column in ("gm_max_hole_s", "gm_max_electron_s"):  # the dropout made the electron one 10 times as large
        assert values[column] == pytest.approx(truth[column], rel=1e-9)


BOTTOM_READ = ("i_min_a: the V's bottom reads under half of both its neighbours (a V sharper than the sweep's step "
               "resolves, or a dropout there): read as the minimum")


def sharp_v(step: float, rounding: float, dirac: float) -> tuple[np.ndarray, np.ndarray]:
    """A loop 0 → −5 → +5 → −5 → 0 V of a V whose bottom is rounded over `rounding` volts (graphene_loop's is 1.2 V):
    the sharper, the higher its on/off (250 at 0.02 V)."""
    vg = np.array(sweep(-5, 5, step, "loop"))
    return vg, 2.1e-5 * np.sqrt(1 + ((vg - dirac) / rounding) ** 2)


@pytest.mark.parametrize(("step", "rounding"), [(0.1, 0.02), (0.1, 0.05), (1.0, 0.3), (0.5, 0.1)])
@pytest.mark.parametrize("offset", [0.1, 0.3, 0.5])  # of a step, the Dirac point from the nearest setpoint
def test_the_bottom_of_a_sharp_or_coarsely_swept_v_is_its_dirac_point_not_a_dropout(step: float, rounding: float,
                                                                                   offset: float) -> None:
    """The setpoint nearest the Dirac point of a sharp V (on/off over ~100 at 0.1 V) or of a V swept at 1 V reads
    under half of both its neighbours: it was passed over as a contact dropout, and the Dirac point read a step or
    two off (−2 V for −0.86 V), i_min and on/off of a neighbour, with no remark or "no parabola fits"."""
    dirac = -1.2 + offset * step
    vg, current = sharp_v(step, rounding, dirac)
    values, remarks = ivg_quantities(vg, current, VDS, SETTINGS)
    assert not [remark for remark in remarks if remark.startswith(("cnp", "on_off"))], remarks
    # as deep as a dropout, the bottom is read and said: it may be one
    assert [remark for remark in remarks if remark.startswith("i_min")] == ([BOTTOM_READ] if glitches(current).any()
                                                                             else [])
    for column in ("cnp_fwd_v", "cnp_bwd_v"):
        assert values[column] == pytest.approx(dirac, abs=step / 2), column
    assert values["i_min_a"] == current.min() and values["on_off_ratio"] == pytest.approx(current.max() / current.min())


def test_a_dropout_at_a_sharp_vs_bottom_read_as_its_bottom_is_said() -> None:
    """A ×0.45 dropout at the bottom of a V as sharp as its step looks like a sharper V: read as the bottom, it made
    i_min 2.2× low and on/off 2.2× high, unsaid. It is said."""
    vg, current = sharp_v(0.05, 0.05, 0.3)
    up = np.flatnonzero(np.diff(vg, prepend=vg[0]) > 0)
    current[int(up[np.argmin(current[up])])] *= 0.45
    assert BOTTOM_READ in ivg_quantities(vg, current, VDS, SETTINGS)[1]


def test_a_loops_first_reading_at_the_bottom_of_its_v_is_read_but_a_dropout_there_is_not() -> None:
    """A loop starts at 0 V, near many Dirac points: at 1 V steps its first reading, the sweep's least, was passed
    over as a dropout (i_min 1.1–1.4× high on real sweeps resampled so), and its return there read as the channel
    breaking down ("broke down at Vg 0 V", on 13 of them). One arm judges it there; a dropout at the first reading
    of a finer sweep is still passed over."""
    vg, current = sharp_v(1.0, 0.3, 0.1)
    current[-1] *= 1.2  # back at 0 V a little higher (its history): the first reading is the least
    values, remarks = ivg_quantities(vg, current, VDS, SETTINGS)
    assert values["i_min_a"] == current[0] == current.min() and BOTTOM_READ in remarks
    assert breakdown_at(current) is None and not [remark for remark in remarks if "broke down" in remark]
    vg, current = sharp_v(0.1, 0.3, 0.6)  # rising away from 0 V as the loop goes negative
    dropped = current.copy()
    dropped[0] *= 0.1
    assert sweep_glitches(dropped)[0] and ivg_quantities(vg, dropped, VDS, SETTINGS)[0]["i_min_a"] > dropped[0]


def test_a_dropout_at_the_bottom_of_a_round_v_is_still_a_glitch(clean) -> None:
    """The bottom of a V is not a dropout when the arms' lines reach it; a reading far below where they meet is."""
    vg, current, truth = clean
    up = np.flatnonzero(np.diff(vg, prepend=vg[0]) > 0)
    bottom = int(up[np.argmin(current[up])])
    dropped = current.copy()
    dropped[bottom] = current[bottom] / 10
    assert np.flatnonzero(sweep_glitches(dropped)).tolist() == [bottom]
    values, _ = ivg_quantities(vg, dropped, VDS, SETTINGS)
    assert values["cnp_fwd_v"] == pytest.approx(UP, abs=0.05) and values["i_min_a"] >= truth["i_min_a"]


@pytest.mark.parametrize(("rounding", "beside", "depth"), [(0.3, -1, 0.45), (0.05, 0, 1e-3)])
def test_a_dropout_beside_or_at_a_sharp_vs_bottom_is_still_a_glitch(rounding: float, beside: int,
                                                                    depth: float) -> None:
    """Judged against the lower of the arms' lines (near 0 beside a steep arm), a ×0.45 dropout one setpoint off
    the bottom (on/off 21 at 0.1 V) read the Dirac point 64 mV off, i_min half and on/off 44; a ×1e-3 one at a sharp
    V's bottom an on/off of 1e5: no remark. A V's bottom is on or above both lines."""
    dirac = -1.17
    vg, current = sharp_v(0.1, rounding, dirac)
    up = np.flatnonzero(np.diff(vg, prepend=vg[0]) > 0)
    at = int(up[np.argmin(current[up])]) + beside
    dropped = current.copy()
    dropped[at] *= depth
    assert at in np.flatnonzero(sweep_glitches(dropped)).tolist()
    values, _ = ivg_quantities(vg, dropped, VDS, SETTINGS)
    assert values["cnp_fwd_v"] == pytest.approx(dirac, abs=0.05)
    assert values["on_off_ratio"] == pytest.approx(current.max() / current.min(), rel=0.3)


@pytest.mark.parametrize("high", [False, True])
@pytest.mark.parametrize("run", [1, 2, 3, 4, 7])
def test_a_spike_is_up_to_three_points_and_a_dropout_any_number_that_comes_back(run: int, high: bool) -> None:
    current = np.full(16, 1e-5)
    current[4 : 4 + run] = 3e-5 if high else 3e-7
    assert np.flatnonzero(glitches(current)).tolist() == (list(range(4, 4 + run)) if run <= 3 or not high else [])
    if not high:  # a dropout longer than a glitch reads under a tenth of the readings beside it: ×3 is a reading
        current[4 : 4 + run] = 3e-6
        assert np.flatnonzero(glitches(current)).tolist() == (list(range(4, 4 + run)) if run <= 3 else [])
        current[4 : 4 + run] = 3e-7
    current[4 + run :] = 2.1e-5  # back to more than twice the reading before: a change of the current, no dropout
    assert not glitches(current)[4 + run - 1] or run <= 3


@pytest.mark.parametrize(("end", "factor"), [("first", 10.0), ("first", 0.01), ("last", 10.0)])
def test_a_glitch_at_an_end_of_the_sweep_is_passed_over(clean, end: str, factor: float) -> None:
    """The first point ×10 read as a breakdown at the second (`for good`: every quantity null); the last ×10 was
    the on-current (on/off 16.9 for 2.9). An end has one side: its points are held to the two beside them."""
    vg, current, truth = clean
    at = 0 if end == "first" else current.size - 1
    hit = current.copy()
    hit[at] *= factor
    assert np.flatnonzero(glitches(hit)).tolist() == [at] and breakdown_at(hit) is None
    values, remarks = ivg_quantities(vg, hit, VDS, SETTINGS)
    assert remarks == []
    for column in ("cnp_bwd_v", "i_min_a", "on_off_ratio", "gm_max_hole_s", "gm_max_electron_s"):
        assert values[column] == pytest.approx(truth[column], rel=1e-6), column


@pytest.mark.parametrize("run", [1, 2, 3, 4])
def test_a_sweep_that_ends_low_ends_in_a_breakdown_not_a_glitch(run: int) -> None:
    """A fall at the last points may be the channel breaking: it stays a breakdown. A run of more than GLITCH_RUN
    points at either end is a reading."""
    current = np.full(12, 1e-5)
    current[12 - run :] = 3e-6
    assert not glitches(current).any() and breakdown_at(current) == 12 - run
    current = np.full(12, 1e-5)
    current[:run] = 3e-5
    assert np.flatnonzero(glitches(current)).tolist() == (list(range(run)) if run <= 3 else [])


def test_a_spike_before_a_breakdown_is_not_the_current_it_fell_from(clean) -> None:
    vg, current, _ = clean
    broken = current.copy()
    broken[SPIKE_AT + 1 :] /= 50
    broken[SPIKE_AT] = 1e-3
    assert breakdown_at(broken) == SPIKE_AT + 1
    _, remarks = ivg_quantities(vg, broken, VDS, SETTINGS)
    assert remarks[0] == ("IVg: the channel broke down at Vg -2.45 V (|I| 2.1e-05 → 4.2e-07 A, for good): the "
                          "quantities are of the sweep before it")


FLAT_REMARK = ("no minimum clear of the noise (the curve is flat: max/min |I| {}, a span under 16× its "
               "point-to-point noise)")


def test_a_flat_curve_has_no_dirac_point() -> None:
    """A gate that does not move the current: 50 µA × (1 + 1e-4 noise) read cnp_fwd 0.785 V, cnp_bwd 3.07 V and a
    hysteresis of 2.29 V, with no remark. The current it measured is still given."""
    vg = np.array(sweep(-5, 5, 0.05, "loop"))
    current = 5e-5 * (1 + 1e-4 * np.random.default_rng(0).standard_normal(vg.size))
    values, remarks = ivg_quantities(vg, current, VDS, SETTINGS)
    assert remarks == [f"cnp_fwd_v: {FLAT_REMARK.format('1.0006')}", f"cnp_bwd_v: {FLAT_REMARK.format('1.0006')}",
                       GM_FLAT]
    assert all(values[column] is None for column in ("cnp_fwd_v", "cnp_bwd_v", "cnp_v", "hysteresis_v"))
    assert values["i_min_a"] == current.min() and values["on_off_ratio"] == current.max() / current.min()


GM_FLAT = "gm: the up-sweep leg is flat (see cnp_fwd_v): a gate that does not move the current has no transconductance"


@pytest.mark.parametrize("noise", [2e-4, 0.0])
def test_a_flat_curve_has_no_transconductance_either(noise: float) -> None:
    """gm is read on each side of the CNP: a flat sweep has none, yet its noise gave gm 5e-8 S and a mobility of 28
    cm²/(V·s) (a constant current: 8e-20 S), with no remark, a plausible dirty device (hostile review 9)."""
    vg = np.array(sweep(-5, 5, 0.05, "loop"))
    current = 2.5e-5 * (1 + noise * np.random.default_rng(1).standard_normal(vg.size))
    values, remarks = ivg_quantities(vg, current, VDS, SETTINGS)
    assert values["gm_max_hole_s"] is None and values["gm_max_electron_s"] is None and GM_FLAT in remarks


@pytest.mark.parametrize("seed", range(5))
def test_a_v_as_shallow_and_noisy_as_the_flattest_real_leg_keeps_its_dirac_point(seed: int) -> None:
    """The flattest real leg: max/min |I| 1.29, its span 28 × its noise. Its 1 % noise alone has none."""
    vg = np.array(sweep(-5, 5, 0.05, "loop"))
    noise = 1 + 0.01 * np.random.default_rng(seed).standard_normal(vg.size)
    shallow = 6e-6 * (1 + 0.05 * (np.sqrt(1 + (vg - 1.3) ** 2) - 1)) * noise
    values, remarks = ivg_quantities(vg, shallow, VDS, SETTINGS)
    assert values["cnp_fwd_v"] is not None and values["cnp_bwd_v"] is not None
    assert not any("clear of the noise" in remark for remark in remarks)
    values, remarks = ivg_quantities(vg, 6e-6 * noise, VDS, SETTINGS)
    assert values["cnp_fwd_v"] is None and remarks[0].startswith("cnp_fwd_v: no minimum clear of the noise")


def test_a_spike_is_no_breakdown_in_the_figure_either(tmp_path: Path) -> None:
    """The figure marks the table's Dirac points on the same legs: a spike cut neither of them off, nor raised the
    figure's gm."""
    lab = Lab(tmp_path)
    vg, current = graphene_loop()
    current[SPIKE_AT] = 1e-3
    rows = data_rows(zip(vg, current, strict=True), len(COLUMNS["IVg"]))
    params = {"VG start": "-5 V", "VG end": "5 V", "VG step": "0.05 V"}
    lab.write("2025-09-15/IVg2025-09-15_1.csv", raw_csv("IVg", rows=rows, params=params))
    lab.stage()
    run = read_metrics(lab.config).row(0, named=True)
    assert run["cnp_fwd_v"] == pytest.approx(UP, abs=0.01) and run["cnp_bwd_v"] == pytest.approx(DOWN, abs=0.01)
    assert not any("broke down" in remark for remark in run["remarks"])
    spec = build_plots(lab.manifest(), lab.stage_root, PlotOptions(), settings=lab.config.metrics)[0]
    assert sorted(marker.x for marker in spec.markers) == pytest.approx(
        sorted([run["cnp_fwd_v"], run["cnp_bwd_v"]]), abs=1e-6)
    # nor a gm 25 times the sweep's: the figure's gm leaves the glitch out, as the table's does
    gm = build_plots(lab.manifest(), lab.stage_root, PlotOptions(gm=True), settings=lab.config.metrics)[0]
    peak = max(float(np.abs(series.y).max()) for series in gm.series) * {"nS": 1e-9, "µS": 1e-6}[gm.y_unit]
    assert peak < 1.5 * max(run["gm_max_hole_s"], run["gm_max_electron_s"])


def test_rows_sorted_or_shuffled_give_no_dirac_point_and_say_why(clean) -> None:
    """A script that sorts a sweep by Vg before saving it put each setpoint's up- and down-sweep readings side by
    side: read as one leg, its "forward" Dirac point mixed both legs (0.355 V of a real sweep whose legs read 0.474 and
    0.160 V). Shuffled, the Dirac point read 3.6e-13 V. Neither is a sweep as measured: no CNP nor gm, and why."""
    vg, current, truth = clean
    order = np.argsort(vg, kind="stable")
    values, remarks = ivg_quantities(vg[order], current[order], VDS, SETTINGS)
    assert values["cnp_fwd_v"] is None and values["gm_max_hole_s"] is None
    assert values["i_min_a"] == truth["i_min_a"]  # the least current is the least whatever the order
    assert remarks == ["IVg: 400 of its 601 rows repeat the Vg before them: rows sorted by Vg? No Dirac point nor gm "
                       "from them"]
    shuffled = np.random.default_rng(1).permutation(vg.size)
    values, remarks = ivg_quantities(vg[shuffled], current[shuffled], VDS, SETTINGS)
    assert values["cnp_fwd_v"] is None and len(remarks) == 1
    assert remarks[0].startswith("IVg: Vg turns back ") and remarks[0].endswith(" times in 601 rows: rows out of "
                                                                               "order? No Dirac point nor gm from them")
    twice = np.repeat(np.arange(vg.size), 2)  # a loop that reads each setpoint twice: half its rows repeat, it turns
    values, remarks = ivg_quantities(vg[twice], current[twice], VDS, SETTINGS)
    assert values["cnp_fwd_v"] == pytest.approx(UP, abs=0.01) and not any("rows sorted" in r for r in remarks)
    resumed = np.concatenate([np.arange(100), np.arange(150, vg.size)])  # a sweep resumed 2.5 V further: its legs
    values, remarks = ivg_quantities(vg[resumed], current[resumed], VDS, SETTINGS)  # still read
    assert values["cnp_fwd_v"] == pytest.approx(UP, abs=0.01) and not any("out of order" in r for r in remarks)


@pytest.mark.parametrize(("points", "level"), [(4, 2e-11), (10, 2e-11), (4, 0.0)])
def test_a_contact_dropout_longer_than_a_glitch_is_no_dirac_point_and_is_said(clean, points: int,
                                                                               level: float) -> None:
    """Four readings of 2e-11 A at Vg 2.5–2.65 V on the up-sweep (0.36 s of a real sweep) read as the V's bottom:
    cnp_fwd_v 2.56 V (0.07 V), a hysteresis of −2.56 V and on/off 1.6e6, with no remark; four of 0 A likewise.
    A dropout that comes back is passed over whatever its length, and said."""
    vg, current, truth = clean
    dropped = current.copy()
    dropped[250 : 250 + points] = level
    values, remarks = ivg_quantities(vg, dropped, VDS, SETTINGS)
    assert remarks == [f"IVg: a contact dropout of {points} points (Vg {vg[250]:g} to {vg[249 + points]:g} V, |I| "
                       "under 1/10 of the readings beside it) passed over"]
    for column in ("cnp_fwd_v", "cnp_bwd_v", "i_min_a", "on_off_ratio", "gm_max_hole_s", "gm_max_electron_s"):
        assert values[column] == pytest.approx(truth[column], rel=0.05), column


def test_a_sharp_v_bottom_is_no_dropout_and_many_dropouts_are_said_once(clean) -> None:
    """Review: the bottom of a sharp, smooth V (four points under half of their neighbours: a better chip's, on/off
    130) was passed over as a contact dropout, its Dirac point moved 0.25 V and the hysteresis's sign flipped; and a
    run of many dropouts got a remark each (2,322 in one row). A dropout longer than a glitch reads under a tenth of
    the readings beside it; past three, one remark says them all."""
    vg, current, _ = clean
    sharp = current - 0.98 * current.min()  # on/off ~300: the V's bottom points fall ×2 from one step to the next
    values, remarks = ivg_quantities(vg, sharp, VDS, SETTINGS)
    assert not any("dropout" in remark for remark in remarks), remarks
    assert values["cnp_fwd_v"] == pytest.approx(UP, abs=0.02) and values["cnp_bwd_v"] == pytest.approx(DOWN, abs=0.02)
    dropped = current.copy()
    for start in range(20, 400, 40):  # ten contacts lost for 5 points each, away from the Dirac points
        dropped[start : start + 5] = 1e-12
    values, remarks = ivg_quantities(vg, dropped, VDS, SETTINGS)
    assert [remark for remark in remarks if "dropout" in remark] == [
        f"IVg: 10 contact dropouts of 5–5 points passed over (the first Vg {vg[20]:g} to {vg[24]:g} V; |I| under 1/10 "
        "of the readings beside them)"]


def test_a_dropout_over_a_turn_or_over_the_v_bottom_is_no_dirac_point(clean) -> None:
    """Review: a contact lost over the turn at −5 V was passed over for i_min but, on the leg alone (where it touched
    the leg's end), read as the Dirac point (−4.73 V, a hysteresis of 4.45 V); one over the V's bottom put the Dirac
    point at the dropout's edge, said only as "no parabola fits"."""
    vg, current, truth = clean
    over_turn = current.copy()
    over_turn[90:111] = 1e-12  # −4.5 → −5 → −4.5 V
    values, _ = ivg_quantities(vg, over_turn, VDS, SETTINGS)
    assert values["cnp_fwd_v"] == pytest.approx(truth["cnp_fwd_v"], abs=0.01)
    assert values["cnp_bwd_v"] == pytest.approx(truth["cnp_bwd_v"], abs=0.01)
    over_bottom = current.copy()
    bottom = 100 + int(np.argmin(current[100:300]))  # the up-sweep's Dirac point
    over_bottom[bottom - 8 : bottom + 8] = 1e-12
    values, remarks = ivg_quantities(vg, over_bottom, VDS, SETTINGS)
    assert values["cnp_fwd_v"] is None and values["cnp_bwd_v"] == pytest.approx(truth["cnp_bwd_v"], abs=0.01)
    said = next(remark for remark in remarks if remark.startswith("cnp_fwd_v:"))
    assert said == (f"cnp_fwd_v: min |I| beside a contact dropout (Vg {vg[bottom - 8]:g}…{vg[bottom + 7]:g} V): the "
                    "Dirac point may lie in it"), said
