"""The one written definition of every derived quantity: the table's schema, the CLI, the app and the README use it.

A quantity's column name carries its SI unit; `procedure` says which runs have it; `definition` is the one line a
physicist reads next to the number. `from_data` quantities come from the run's own Parquet (recomputed only when
the run changes); the others are joined from elsewhere (chip geometry, the nearest calibration) on every update.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import polars as pl

from labtui.core.config import MetricsSettings

RESOLVED_SIGMAS = 5.0  # a photoresponse is resolved from this many noise σ (delta_i_snr) up: only then τ is read
# An interval without a reading this many of an It run's usual sample intervals long, and this share of the time
# constant it is in, leaves that τ unread: rows missing (a hand edit, a lost block) or readings left out. Real runs
# pause up to 13 intervals (1.1 s at 0.084 s a sample), a few % of their τ.
GAP_SPACINGS, GAP_SHARE = 3, 0.1
FLICKER_SAMPLES = 2  # a laser state held this few samples between two stretches of the other is a misread VL
CALIBRATIONS_DISAGREE = 2.0  # calibration_spread from which a run's power_w, and its responsivity, are in doubt
OUT_OF_ORDER_ROWS = 8  # rows from which a sweep's repeats and turns say its order (fewer: a test of a few points)
TURNS_APART = 10  # a sweep turning back once per this many rows or more often is out of order ...
LOOP_TURNS = 3  # ... and more often than two loops (0 → start → end → start → 0) turn: a sweep of a few points
UNITS_APART = 300.0  # a calibration's P max this many times above or below its wavelength's others' is in another
# unit (a prefix apart is 1000×; the real lab's calibrations of one wavelength lie within 6× of each other)
DRIFT_MAKES_ALL = 1.0  # the share of ΔI the dark drift, carried on under the light, makes from which ΔI is in doubt
# A lit run's responsivity in doubt (`DOUBTS`): priced by a stale calibration or by calibrations that disagree, or of
# a ΔI the dark noise could make, or the dark drift alone (a settling current with no step at the switches read
# +1.5 A/W, the corpus's largest). The history marks it, a trend rings its point: shown as any other, it read
# as sure.
DOUBT_COLUMNS = ("calibration_stale", "calibration_spread", "delta_i_snr", "delta_i_a", "delta_i_drift_corrected_a")
# the share of ΔI the drift makes, signed: a drift against the step (a corrected ΔI larger still) makes none of it
_DRIFT_SHARE_OF_DELTA = (pl.col("delta_i_a") - pl.col("delta_i_drift_corrected_a")) / pl.col("delta_i_a")
DRIFT_ALONE = (_DRIFT_SHARE_OF_DELTA.is_finite() & (_DRIFT_SHARE_OF_DELTA >= DRIFT_MAKES_ALL)).fill_null(False)


DRIFT_WORDS = "the dark drift carried on under the light makes {share:.0%} of ΔI ({corrected})"


def drift_share(run: dict[str, Any]) -> float | None:
    """The share of a run's ΔI its dark drift makes (`DRIFT_ALONE`'s); None where there is none (no ΔI, or no
    corrected one)."""
    delta, corrected = run["delta_i_a"], run["delta_i_drift_corrected_a"]
    if not delta or corrected is None or not math.isfinite(share := (delta - corrected) / delta):
        return None
    return share


def drift_of(run: dict[str, Any]) -> tuple[float, str] | None:
    """`drift_share`, and the run's drift-corrected ΔI in words (`drift-corrected 12 nA`)."""
    if (share := drift_share(run)) is None:
        return None
    return share, f"drift-corrected {BY_COLUMN['delta_i_a'].format(run['delta_i_drift_corrected_a'])}"


def _stale_said(run: dict[str, Any], _settings: MetricsSettings) -> str:
    age = run["calibration_age_h"]
    return f"from a calibration {abs(age):.0f} h {'after' if age < 0 else 'before'} the run: stale"


def _drift_alone_said(run: dict[str, Any], _settings: MetricsSettings) -> str:
    share, corrected = drift_of(run) or (math.nan, "")  # there is one where the doubt holds
    return DRIFT_WORDS.format(share=share, corrected=corrected) + ": the drift alone could make the step"


@dataclass(frozen=True)
class Doubt:
    """One reason a lit run's responsivity is in doubt, in every place that says it: `responsivity_doubt` in the
    table and its exports, the ⚠ of the app's history and detail, a trend's ringed points and a figure's warnings."""

    reason: str  # `responsivity_doubt`'s words
    holds: pl.Expr  # on a metrics row; false where its columns are null
    of_points: str  # a figure's words after what it counts (`3 points …`, `P of seq 4 …`), naming the column
    on_power: bool  # a doubt on the power (its calibration), else on the photoresponse ΔI
    said: Callable[[dict[str, Any], MetricsSettings], str]  # the run's detail: the doubt with the run's numbers
    mark: str = ""  # a doubt on ΔI: what a trace figure's legend adds to the run's entry (its P's: `STALE`)


# Each doubt. An export (`labtui metrics --format csv`, `open_store().metrics`) that handed +1.5 A/W of a settling
# current to a paper's pipeline unmarked is why the table carries the reasons the app and the trends mark.
DOUBTS: tuple[Doubt, ...] = (
    Doubt("calibration stale", pl.col("calibration_stale").fill_null(False),
          "from a stale laser calibration (calibration_stale: measured far in time from the run)", True, _stale_said),
    Doubt(f"calibrations disagree ≥ {CALIBRATIONS_DISAGREE:g}×",
          (pl.col("calibration_spread") >= CALIBRATIONS_DISAGREE).fill_null(False),
          f"whose calibrations disagree {CALIBRATIONS_DISAGREE:g}× or more (calibration_spread)", True,
          lambda run, settings: f"the calibrations within {settings.calibration_stale_h:g} h of the run disagree "
                                f"{run['calibration_spread']:.2g}× on its power: one at another laser setting? It "
                                "is priced by the nearest (the setup's history lists them)"),
    Doubt(f"ΔI under {RESOLVED_SIGMAS:g} σ of the dark noise",
          (pl.col("delta_i_snr") < RESOLVED_SIGMAS).fill_null(False),
          f"with a ΔI under {RESOLVED_SIGMAS:g}σ of the dark noise (delta_i_snr): not resolved", False,
          lambda run, _settings: f"ΔI is {run['delta_i_snr']:.2g}σ of the dark noise: not resolved",
          f" (ΔI < {RESOLVED_SIGMAS:g}σ)"),
    Doubt("the dark drift alone could make ΔI", DRIFT_ALONE,
          "whose ΔI the dark drift alone, carried on under the light, could make (delta_i_drift_corrected_a)", False,
          _drift_alone_said, " (drift?)"),
)
IN_DOUBT = pl.any_horizontal(doubt.holds for doubt in DOUBTS)
RESPONSIVITY_DOUBT = pl.when(IN_DOUBT & pl.col("responsivity_a_per_w").is_not_null()).then(pl.concat_str(
    [pl.when(doubt.holds).then(pl.lit(doubt.reason)) for doubt in DOUBTS], separator="; ", ignore_nulls=True))
VDS_PLAUSIBLE_V = 10.0  # a drain bias past this is no graphene transistor's (the real runs: 0.01–1 V)
MOBILITY_LIMIT = 1e6  # cm²/(V·s): above suspended graphene's at low temperature; higher is a unit slip, not a device
LIT_SWEEPS = ("IVg",)  # swept under light at the header's laser voltage: priced as an It run is (`power_w`)
PRICED = ("It", *LIT_SWEEPS)  # the runs given a power when lit
PREFIXED_UNITS = frozenset({"V", "A", "S", "W", "s", "A/W", "W/V", "A/s"})  # shown as mV, nA, µA/W, …


@dataclass(frozen=True)
class Quantity:
    column: str
    unit: str
    procedure: str
    definition: str  # its windows as `MetricsSettings` fields, `{it_window_s:g}`: see `defined`
    dtype: type[pl.DataType] | pl.DataType = pl.Float64
    from_data: bool = True
    percent: bool = False  # a ratio read as a percentage (ΔI/I: `3.94 %`, not 0.03936)
    read_from: tuple[str, ...] = ()  # the quantities this one is computed from: a null there is its reason too
    also: tuple[str, ...] = ()  # other procedures it applies to (a lit IVg's power, as an It run's)

    def applies_to(self, procedure: str) -> bool:
        return procedure == self.procedure or procedure in self.also

    @property
    def runs(self) -> str:
        """The procedures whose runs it applies to, as the definitions table and `labtui metrics --list` say them."""
        return ", ".join((self.procedure, *self.also))

    def defined(self, settings: MetricsSettings | None = None) -> str:
        """The definition with the windows `settings` computes under (the defaults: issue 11's) written in."""
        return self.definition.format_map(asdict(settings or MetricsSettings()))

    def format(self, value: object) -> str:
        """A value as a physicist reads it: `-350 mV`, `12.3 nA`, `4.1 µA/W`, `3.94 %`; 4 digits where the unit takes
        no prefix (`1234 cm²/(V·s)`); "—" for null."""
        if value is None:
            return "—"
        if isinstance(value, bool):
            return "yes" if value else "no"
        if not isinstance(value, float | int):
            return str(value)
        return str(self.format_each(pl.Series([float(value)]))[0])

    def format_each(self, values: pl.Series) -> pl.Series:
        """`format` of a whole numeric column at once (a table of 10k runs), null where the value is null."""
        from labtui.core.si import format_si_each

        present = values.is_not_null()
        numbers = [number + 0.0 for number in values.filter(present).cast(pl.Float64).to_list()]  # -0.0 is 0
        if self.unit in PREFIXED_UNITS:
            texts = format_si_each(numbers, self.unit)
        elif self.percent:
            texts = [f"{100 * number:.3g} %" for number in numbers]
        else:
            texts = [f"{number:.4g} {self.unit}".rstrip() for number in numbers]
        out = pl.Series(values.name, [None] * values.len(), dtype=pl.String)
        return out.scatter(present.arg_true(), pl.Series(texts, dtype=pl.String)) if len(texts) else out


QUANTITIES: tuple[Quantity, ...] = (
    # IVg ---------------------------------------------------------------------------------------------------------
    Quantity("cnp_fwd_v", "V", "IVg",
             "Dirac point (charge-neutrality point) of the forward leg (the longest up-sweep; of two as long, the "
             "later: an aborted loop's first leg only leaves 0 V): the Vg of min |I| (passing over contact glitches: "
             "runs of up to 3 points all over twice both points around them or all under half of them, or of more all "
             "under a tenth of them, the current coming back to within 2× of the reading before (a dropout, with a "
             "remark), as graphene's current changes smoothly with Vg; but not the bottom of a V, which the two points "
             "on each side fall "
             "into and rise out of, no deeper than half of where the higher arm's line reaches it), refined by the "
             "vertex of a least-squares parabola of |I| against Vg through the points within {cnp_fit_window_v:g} V "
             "of it, that distance included (at least its two neighbours; a parabola that "
             "opens downwards or puts its vertex outside that window or the leg leaves the raw minimum, with a "
             "remark); undefined when the leg (of 10 points or more) spans an |I| range under 16 times its "
             "point-to-point noise (the median |third difference| / (0.6745·√20), white noise's σ: a flat curve, the "
             "gate does not move the current), or when that minimum lies within "
             "{cnp_edge_margin_v:g} V of the leg's ends, nearer than that (the Dirac point is outside the sweep), "
             "or beside a gap of rows without a finite Vg or I wider than that window and 2.5 of the steps beyond "
             "it, or beside a contact dropout longer than 3 points (the Dirac point may lie in the gap), or the "
             "sweep's rows are out of order "
             f"(of {OUT_OF_ORDER_ROWS} rows or more: a third repeat the Vg "
             f"before them and it never turns back, as sorted by Vg, or it turns back once per {TURNS_APART} rows or "
             "more often, and more "
             f"than {2 * LOOP_TURNS} times, as shuffled), or at Vds 0 V (no current driven through the channel: "
             "its I is the gate's leakage). Distances are to 1e-6 of the leg's Vg span: setpoints are written "
             "0.30000000000000004"),
    Quantity("cnp_bwd_v", "V", "IVg", "the same on the backward leg (the longest down-sweep)"),
    Quantity("cnp_v", "V", "IVg", "mean of the defined ones of cnp_fwd_v and cnp_bwd_v",
             read_from=("cnp_fwd_v", "cnp_bwd_v")),
    Quantity("hysteresis_v", "V", "IVg", "cnp_bwd_v − cnp_fwd_v", read_from=("cnp_fwd_v", "cnp_bwd_v")),
    Quantity("i_min_a", "A", "IVg",
             "smallest |I| of the sweep (passing over contact glitches, as cnp_fwd_v does); of a sweep whose |I| "
             "falls to under half from one setpoint to the next and stays there (the channel broke down; a glitch "
             "that comes back is no breakdown), every IVg quantity is of the part before, with a remark"),
    Quantity("on_off_ratio", "", "IVg",
             "largest |I| of the sweep (passing over contact glitches, as i_min_a does: a spike is no on-current) / "
             "i_min_a; null for a dead channel (max |I| / |Vds| under {dead_conductance_s:g} S: a ratio of noise), "
             "which has no CNP and no gm either"),
    Quantity("gm_max_hole_s", "S", "IVg",
             "largest fall of |I| with Vg, −d|I|/dVg, on the forward leg left of its CNP (the way |I| goes toward "
             "the CNP: a step of |I| the other way is no transconductance; of its smallest |I| where the CNP is "
             "outside the "
             "sweep; Savitzky–Golay slope over {gm_window_v:g} V, quadratic, contact glitches left out; the window "
             "is round({gm_window_v:g} V / step) + 1 points made odd upwards, at least 3, the step the median |ΔVg| "
             "of the leg, and shifted inward at the leg's ends, as SciPy's mode='interp'); null where the forward "
             "leg is flat (no CNP clear of its noise: a gate that does not move the current), or |I| never falls "
             "there"),
    Quantity("gm_max_electron_s", "S", "IVg", "the same right of the CNP, of the rise of |I|, d|I|/dVg"),
    Quantity("mobility_hole_cm2_vs", "cm²/(V·s)", "IVg",
             "field-effect mobility μ = (L/W)·gm_max_hole_s/(C·|Vds|), C the gate capacitance per area of the "
             "chip's dielectric stack (config/chip_params.yaml); only where the chip's geometry is known (and its "
             "name is of one chip: group `Alisson6` number 7 is named `Alisson67` too), and none "
             f"above {MOBILITY_LIMIT:.0e} (more than any graphene's: a Vds or a geometry in the wrong unit), nor at a "
             f"|Vds| past {VDS_PLAUSIBLE_V:g} V (no graphene transistor's bias: mV written V)",
             from_data=False, read_from=("gm_max_hole_s",)),
    Quantity("mobility_electron_cm2_vs", "cm²/(V·s)", "IVg", "the same from gm_max_electron_s", from_data=False,
             read_from=("gm_max_electron_s",)),
    # It ----------------------------------------------------------------------------------------------------------
    Quantity("i_dark_a", "A", "It",
             "mean I over the {it_window_s:g} s before the first laser switch-on (the first sample with VL ≥ "
             "{light_threshold_v:g} V; a VL state, on or off, held for 2 samples or fewer, or between two of the "
             "other for under a tenth of that window and of the two around it — a laser on only beside a longer "
             "pulse, or in a run whose header's laser voltage says dark, where any on that short is — is a misread, "
             "no switch, but for a laser off over the run's last samples: a switch-off it ended at); a dark run: "
             "mean I over the whole run. Every It quantity passes over contact glitches (a spike or a dropout of up "
             "to 3 samples over 2× or under ½ of the samples around it, or a longer dropout under a tenth of them "
             "that comes back to within 2× of the sample before it, with a remark; not noise around 0, as at Vds 0 V: "
             "a run "
             "within 5σ of 0 with the samples beside it, σ the trace's median |difference| / (0.6745·√2)). A window "
             "of which under 90 % of the samples are readings (the others NaN, overflow marks or glitches), or over "
             "half of which passes without a reading (and over 2 of the run's usual sample intervals: rows "
             "missing), is not averaged: no value, and a remark"),
    Quantity("delta_i_a", "A", "It", "mean I over the {it_window_s:g} s before the laser switches off − i_dark_a"),
    Quantity("delta_i_rel", "", "It", "delta_i_a / i_dark_a (shown in %)", percent=True),
    Quantity("drift_a_per_s", "A/s", "It",
             "least-squares slope of I against t over the samples of the {it_drift_window_s:g} s before switch-on "
             "(t ≥ t_on − {it_drift_window_s:g} s, before the switch-on sample; the run's first seconds, its "
             "settling, left out; a dark run: the whole run)"),
    Quantity("delta_i_drift_corrected_a", "A", "It",
             "delta_i_a − drift_a_per_s × (mean t of the ON window − mean t of the dark window): the dark trend "
             "extrapolated under the light removed. Where that trend, running as the step does, makes all of "
             "delta_i_a or more, the dark drift alone could make the step: the app and the trends flag the "
             "responsivity"),
    Quantity("delta_i_snr", "", "It",
             "|delta_i_a| / σ, σ the root-mean-square residual (over n, not n − 1) of the smoothed trace about its "
             "least-squares line over the drift window; smoothed: a centred mean over 2·⌊k/2⌋ + 1 samples, k = "
             "round({it_smoothing_s:g} s / the run's mean sample interval), of the dark samples before switch-on "
             "alone (no lit sample reaches into it: near switch-on and the run's start a window is cut off there, "
             "the mean of the samples left in it, no longer centred): the "
             "photoresponse is resolved from "
             f"{RESOLVED_SIGMAS:g} up "
             "(below, τ is not read, and the app and the trends flag the responsivity)"),
    Quantity("tau_rise_s", "s", "It",
             "time from switch-on until the trace (the lit samples alone, smoothed as for delta_i_snr, the windows "
             "cut off at switch-on and switch-off) first reaches 1 − 1/e of "
             f"delta_i_a (the step at the pulse's end, which a slow device has not settled by: compare runs of one "
             f"laser period); null when not reached, when reached at the first lit sample (faster than the trace "
             f"resolves), when a gap lies at the switch or within the smoothing's reach of that sample (an interval "
             f"without a reading over {GAP_SPACINGS} of the run's usual ones, the median over the drift window, and "
             f"over {GAP_SHARE:g} of the time read: rows missing, or readings left out) or when delta_i_snr < "
             f"{RESOLVED_SIGMAS:g}; a remark where the dark drift alone could make ΔI (responsivity_doubt): the times "
             "may be the drift's (no drift is subtracted from the trace)"),
    Quantity("tau_decay_s", "s", "It",
             "time from switch-off until the trace (the samples from switch-off on, up to the laser's next switch-on "
             "if any, smoothed alike) first falls to 1/e of delta_i_a above i_dark_a; "
             "null when not reached by then (persistent photoconductivity), when reached at the first "
             "dark sample, across a gap (as for tau_rise_s) or when delta_i_snr < "
             f"{RESOLVED_SIGMAS:g}"),
    Quantity("power_w", "W", "It",
             "irradiated power (the beam's, as the calibration's power sensor reads it, not the share the channel "
             "intercepts: the responsivity is the device's external one): the LaserCalibration of the same wavelength "
             "(within {wavelength_tolerance_nm:g} nm) nearest in start time (of two as near, the earlier) of those "
             "not excluded (`labtui annotate --exclude`), whose Power rises above their dark reading by more than "
             "20 nW (a sensor's dark scatter: no light) and above 0 W over at least two laser voltages, whose p_max_w "
             f"lies within {UNITS_APART:g}× of the median of the "
             "store's such calibrations of their wavelength (where there are three or more, itself among them: "
             "further, its Power is in another unit) and whose VL range reaches the run's (an aborted one may stop "
             "short: "
             "the next nearest then), its Power (readings repeated at one VL taken as their mean, a dropout or a spike "
             "of up to 3 readings between two others passed over, and a longer dropout under a tenth of them, and a "
             "first reading lit before a dark one) "
             "linearly interpolated at the run's laser voltage (an IVg swept under light: its header's, the laser on "
             "for the whole sweep); "
             "null outside the calibrated VL range (no extrapolation), next to a VL with no Power reading (NaN: no "
             "line is drawn across the gap), where that Power is not above 0 W or not above "
             "the calibration's dark reading by threshold_v's margin, or at a VL at or below the last one whose "
             "Power reads under that margin before the curve's top (below it the sensor reads no "
             "light; a curve whose lowest reading is lit has none), and for dark runs (by the header's laser "
             "voltage; a run whose VL column pulses under a header that says dark has a remark)",
             from_data=False, also=LIT_SWEEPS),
    Quantity("calibration_run_id", "", "It", "run_id of the calibration power_w comes from", pl.String,
             from_data=False, also=LIT_SWEEPS),
    Quantity("calibration_age_h", "h", "It",
             "run start − calibration start, in hours: negative when the calibration came after the run",
             from_data=False, also=LIT_SWEEPS),
    Quantity("calibration_stale", "", "It", "|calibration_age_h| > {calibration_stale_h:g} h", pl.Boolean,
             from_data=False, also=LIT_SWEEPS),
    Quantity("calibration_spread", "", "It",
             "largest over smallest power that the LaserCalibrations of the run's wavelength (within "
             "{wavelength_tolerance_nm:g} nm) started within {calibration_stale_h:g} h of it give at its laser "
             "voltage, of those that price it by power_w's rule (`calibration_set` names the ones in reach); null "
             f"with fewer than two, or where one is too near 0 W to divide by. From {CALIBRATIONS_DISAGREE:g} up, "
             "the app and the trends flag the responsivity",
             from_data=False, also=LIT_SWEEPS),
    Quantity("responsivity_a_per_w", "A/W", "It",
             "delta_i_a / power_w, negated when Vds < 0 (where the header gives no Vds, or 0 V, when the dark "
             "current is below 0): positive when the light raises the channel's conductance, whatever the bias "
             "polarity; a dark current against Vds is said. Null where it overflows",
             from_data=False),
    Quantity("responsivity_doubt", "", "It",
             "why this lit run's responsivity (or the ΔI and the power it is read from) is in doubt, the reasons "
             "joined by `; `: " + "; ".join(doubt.reason for doubt in DOUBTS) + " (calibration_stale, "
             "calibration_spread, delta_i_snr, delta_i_drift_corrected_a); null when none holds or there is no "
             "responsivity. The app marks such a responsivity ⚠, the trends ring its point", pl.String,
             from_data=False),
    # LaserCalibration --------------------------------------------------------------------------------------------
    Quantity("p_max_w", "W", "LaserCalibration",
             "largest Power of the calibration (a spike of up to 3 readings between two others passed over; a flat "
             "top, two or more readings at the highest VLs equal to it, is the meter's range and left out, and no "
             "run there priced); null "
             "where no reading is above 0 W (a sensor's offset alone), or where the reading at the lowest VL is below "
             "0 W by more than 1 % of it and 10 nW, the next one no dark reading near 0 W (a sensor zeroed with light "
             "on it; beside one, a glitch)"),
    Quantity("slope_w_per_v", "W/V", "LaserCalibration",
             "least-squares slope of Power against VL over the linear part (10–90 % of p_max_w)"),
    Quantity("threshold_v", "V", "LaserCalibration",
             "the lowest VL from which the Power stays above the dark reading (the Power at the lowest VL) by more "
             "than 0.1 % of its rise to p_max_w and 20 nW, twice a sensor's dark scatter (by 1 % of the rise, where "
             "that is less: a weak laser): the first setpoint with light on the sensor; the same margin is what a "
             "run's laser voltage must be priced above; null where the lowest reading is "
             "itself lit (above 1 % of p_max_w and 20 nW: no dark reading), or a VL with no Power reading lies "
             "between that setpoint and the one before"),
)

BY_COLUMN: dict[str, Quantity] = {q.column: q for q in QUANTITIES}
INCOMPLETE_TOPIC = "run not complete"  # a remark of a run the manifest says is not complete (stopped short, or rows
# missing inside it): of all its values, not why one is null
PROCEDURES: tuple[str, ...] = ("IVg", "It", "LaserCalibration")  # other procedures get no row
NOT_COMPUTED = (
    "IV, and every other procedure (IVgT, ITt, Vt, …): no row in the table",
    "It runs of several laser pulses: only the first switch-on and switch-off are read (a remark says so)",
    "mobility from a chip without a complete geometry in config/chip_params.yaml",
    "a sweep or a calibration whose Vg or VL reaches more than 10 times as far from 0 as its header's sweep (logged "
    "in another unit): no quantities, and a remark",
    "the contact resistance: mobilities are extrinsic field-effect values from the two-terminal gm",
)


def columns_of(procedure: str) -> list[str]:
    """The quantity columns that apply to a procedure, in table order (what the CLI table shows for it)."""
    return [q.column for q in QUANTITIES if q.applies_to(procedure)]


def definitions_markdown() -> str:
    """The README's table of definitions, with the default windows, generated from this registry (tests keep the
    README in step)."""
    lines = ["| column | unit | runs | definition |", "|---|---|---|---|"]
    # a `|x|` in a definition would end its cell
    lines += [f"| `{q.column}` | {q.unit or '—'} | {q.runs} | {q.defined().replace('|', chr(92) + '|')} |"
              for q in QUANTITIES]
    return "\n".join(lines)
