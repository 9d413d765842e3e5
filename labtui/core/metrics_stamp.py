"""What a metrics table was computed under (definitions and windows), readable without Polars.

The table's Parquet carries its stamp in its key-value metadata; a stage with nothing to stage compares it with its
own (the stat index's no-Polars path), so a table from another labtui or other windows is redone, not kept stale.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict

from labtui.core.config import MetricsSettings, StagingConfig
from labtui.core.parquet_footer import footer_bytes

# Bump when a definition changes: every row is then recomputed. 3: an It trace whose clock goes back, or whose
# VL column is empty, gets no photoresponse (was computed from the wrong samples). 4: no power_w where the
# calibration gives none above 0 W at the run's VL (was 0 W or less, and an infinite or sign-flipped responsivity).
# 5: a calibration whose VL never changes prices no power (gave the reading that sorted last), and its ties are
# sorted by power too (the curve depended on the rows' order). 6: an It sample whose VL is missing no longer switches
# the laser off (a blank VL while lit gave ΔI and the time constants from the wrong windows). 7: a one-point dropout
# of |I| (a contact glitch) is no Dirac point (it was a leg's min |I|, and the hysteresis with it). 8: gm of a sweep
# whose step changes is smoothed over the same Vg everywhere (a window of points reached far over a coarser part).
# 9: an It run whose laser never switched on is no longer called a dark run (one lit by its header may have been
# stopped before its pulse). 10: an uneven leg's last slopes weigh each point of their window once (its last point
# counted up to a window's times over), and a contact glitch is no i_min_a (nor, with it, the on_off_ratio). 11: a
# calibration's readings repeated at one VL are one point, their mean (a run there was priced with the largest).
# 12: a procedure `like` another in the registry (IVgT like IVg, ITt like It) gets that one's quantities (had none).
# 13: the Dirac point's parabola spans ±0.2 V of the minimum (at least its two neighbours), not ±0.5 V, which leaned
# toward the shallower arm of the V. 14: an It run's delta_i_snr; a responsivity's sign is the conductance's change
# (negated at Vds < 0). 15: a value of ±1e30 or more (an instrument's overflow mark, 9.9e37) is a gap, not a reading.
# 16: contact glitches are runs of up to 3 points, spikes too (no breakdown, no on-current, no gm); a flat leg has no
# Dirac point; a lit run at 0 nm (a dark run's wavelength) is priced by no calibration; an It window of which under
# 90 % of the samples are readings is not averaged, and a VL held 2 samples or fewer switches the laser neither on
# nor off; a lit It run whose VL column disagrees with its header's laser voltage says so. 17: a mobility above 1e6
# cm²/(V·s), beyond any graphene's, is no number (a Vds or a geometry in the wrong unit); a spike or a dropout at a
# sweep's first points, or a spike at its last, is a contact glitch (read as a breakdown, or the on-current), and
# an It run passes over contact glitches as a sweep does (one sample ×10 in the lit window made ΔI 37×); a run is
# priced by the nearest calibration whose VL range reaches its voltage (an aborted nearest one left it unpriced); a
# sweep or calibration whose Vg or VL reaches past 10× its header's sweep (another unit) has no quantities.
# 18: a calibration the lab excluded prices no run (the next nearest does; it still priced them). 19: a calibration's
# glitches (a dropout or a spike of up to 3 readings between two others) are passed over, and a run whose VL is below
# its calibration's laser threshold has no power (a 0 W reading at its VL priced it at 1e-20 W).
# 20: without a Vds in the header (or at 0 V), a responsivity is signed by the dark current, as its definition said
# (it was not negated for a negative current); a current 10× past the header's Irange gives no quantities; a
# calibration with no Power reading above 0 W has no p_max_w.
# 21: a flat sweep (no CNP clear of its noise) has no gm, hence no mobility; a current 10× past 1 A where the header
# gives no Irange, and a calibration's Power 10× past its sensor's full scale (or 1 W), give no quantities.
# 22: a calibration whose P max is 300× or more from the median of its wavelength's usable ones (3 or more) prices
# no run; a sweep whose rows are out of order (sorted by Vg, shuffled) has no Dirac point nor gm; an It run of
# several pulses says so, and its tau_decay_s is read before the next one; a sweep's rows without a finite Vg or I
# are said.
# 23: a sweep at a |Vds| past 10 V (no graphene transistor's bias: mV written V) has no mobility; the bottom of a
# sharp or coarsely swept V is its Dirac point and i_min (under half of both its neighbours, it was passed over as a
# dropout), said, also at a loop's ends (a return there was a breakdown);
# an It run's noise around 0 (at Vds 0 V) is no contact glitch (a third of its samples were passed over).
# 24: a current past 1.5× the header's Irange (a meter reads 5 % past its range), or a Power past 1.5× its sensor's
# full scale, gives no quantities (10× before: a µA channel logged in mA under a 1 mA range priced runs 1000× high);
# nor does a calibration whose reading at its lowest VL is below 0 W by more than 1 % of its P max and 10 nW, the
# next one no dark reading near 0 W (a sensor zeroed under light); a calibration's flat top (its largest Power read
# twice or more at its highest VLs: the meter's range) is left out, and prices no run; a leg's minimum beside a gap
# of rows wider than the fit window (NaN currents) is no Dirac point.
# 25: an It run whose current holds no reading while lit is no dark run (it had a dark current and drift taken over
# its pulse's tail, "the laser never switched on"); a calibration draws no line across VLs with no Power reading
# (3 NaN readings of its knee priced a run 54 % high) and has no threshold in such a gap; its lowest reading, lit,
# is no dark reading (a sweep from 0.5 V, its 0 V reading missing: runs there were refused); a first reading lit
# before a dark one is a settling spike, left out (the threshold read 1.3 V for 0.2 V); a VL state between two of
# the other for under a tenth of the averaging window and of the two around it is a misread (0.25 s of 0 V
# mid-pulse was a second pulse, and flipped ΔI's sign), a laser on only beside a longer pulse or in a run its
# header says is dark; a sweep at Vds 0 V has no Dirac point (a gate's leakage read
# one, 1.2 V of hysteresis); gm is the fall of |I| left of the CNP and its rise right of it (|dI/dVg| took a step the
# wrong way: two real sweeps' gm 2× and 5× theirs).
# 26: a laser off over an It run's last one or two samples is a switch-off the run ended at, not a misread VL (it
# read "the laser never switched off", and the run had no ΔI).
# 27: an It window over half without readings (rows missing) is not averaged, and a τ with a gap at its switch or its
# crossing is not read (57 s of rows deleted read τ_rise at the first sample after them, ΔI from 0.5 s of its window).
# 28: the gap rules of 27 measure by the run's usual sample interval (the drift window's median: rows missing made
# the mean's longer), look both ways from a τ's crossing and into its switch, and read τ to a tenth of itself.
# 29: the table names why a responsivity is in doubt (`responsivity_doubt`), as the app and the trends mark it.
# 30: that column null where there is no responsivity; a run not complete's remark so worded (`run not complete`,
# it was `aborted run`: a run with rows missing reached its end).
# 31: a sweep that runs its loop more than once was remarked (taken back in 33: it read one run of 0 → −V → 0 → −V
# → 0 as two, and missed a second sweep stopped after its up-sweep; the stage's note on the rows says it).
# 32: a contact dropout of any length that comes back is passed over (it was up to 3 points: 4 read as a sweep's
# Dirac point, 2.56 V off), and one over 3 points is remarked.
# 33: a dropout longer than 3 points reads under a tenth of the readings beside it (a sharp V's bottom, a fast
# photoresponse down by half were passed over as dropouts), and many are said in one remark.
# 34: a sweep's Dirac points are read with the whole sweep's glitches (a dropout over a turn, on the leg alone, was
# its Dirac point), and a minimum beside a dropout is none (it may lie in the dropout).
# 35: a CNP read on one leg alone is said so, and a hysteresis within 2 gate steps is said to be no more than the
# sweep's settling lag.
# 36: a calibration's light starts 0.1 % of its rise and 20 nW over its dark reading, not 1 % of its rise
# (threshold_v, and the level a run's power must be above).
# 37: a calibration whose Power rises no more than 20 nW over its dark reading (the sensor's noise) prices no run.
# 38: the times of a step the dark drift alone could make say so.
# 39: a run its `Laser toggle` says dark is not priced by the laser voltage left set in its header.
# 40: no run is priced at or below the last VL its calibration reads dark at before its top (a reading of the
# sensor's noise over the margin there priced a run).
# 41: the settling-lag remark is on a hysteresis below 0 alone (the lag lowers a positive one).
# 42: a measured column whose last reading alone is past its instrument's range says its last row may be cut short
# (it said "logged in another unit?"); a dead channel's remark writes its current and conductance with SI prefixes.
# 43: an IVg swept under light is priced as an It run (power_w and its calibration columns) by its header's laser
# voltage.
METRICS_VERSION = 43
STAMP_KEY = "labtui.metrics"
OWNER_KEY = "labtui.store"  # the store (its folder, absolute) whose runs the table holds
_JOIN_SETTINGS = {"calibration_stale_h", "wavelength_tolerance_nm"}


def settings_hash(settings: MetricsSettings) -> str:
    """Fingerprint of the windows the from-data quantities depend on (not of the join settings)."""
    used = {name: value for name, value in asdict(settings).items() if name not in _JOIN_SETTINGS}
    return hashlib.sha1(json.dumps(used, sort_keys=True).encode()).hexdigest()[:12]


def join_hash(config: StagingConfig) -> str:
    """Fingerprint of what the joined quantities depend on beyond the runs: the join settings and the chip geometry
    file's bytes. A `chip_params.yaml` edited left the mobilities of the old geometry in the table (and in the app)
    until `labtui metrics`: a stage with nothing to stage kept them."""
    used = {name: getattr(config.metrics, name) for name in sorted(_JOIN_SETTINGS)}
    digest = hashlib.sha1(json.dumps(used, sort_keys=True).encode())
    if config.chip_params_file is not None:
        try:
            digest.update(config.chip_params_file.read_bytes())
        except OSError as error:  # missing (no geometry yet) or unreadable: said by the update that reads it
            digest.update(type(error).__name__.encode())
    return digest.hexdigest()[:12]


def metrics_stamp(config: StagingConfig) -> str:
    return (f"metrics_version={METRICS_VERSION} settings_hash={settings_hash(config.metrics)} "
            f"join_hash={join_hash(config)}")


def is_current(config: StagingConfig) -> bool:
    """Whether the config's table was written under this labtui's stamp, for its windows, join settings and chip
    geometry (False when missing, unreadable, or written before tables carried one)."""
    try:
        return metrics_stamp(config).encode() in footer_bytes(config.metrics_path)
    except (OSError, ValueError):
        return False
