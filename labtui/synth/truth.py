"""Ground truth of the derived quantities: what `labtui metrics` should find in a synthetic run, from the
generator's noise-free signals. Independent of `labtui.core` (the generator never reads its own engine).

- Dirac points: where the sweep meets the Dirac point of the moment (Vg = V_D(Vg), hysteresis and light
  included) on the longest up- and down-sweep legs; none within `EDGE_MARGIN_V` of a leg's end, where the
  sweep cannot show it.
- Mobilities: μ = (L/W)·gm/(C·|Vds|) with gm the largest |dI/dVg| of the noise-free forward leg on each side of
  its Dirac point: the field-effect mobility (contact resistance included) the geometry implies.
- ΔI and the dark current: the noise-free current averaged over the same windows as the metrics (5 s before the
  first switch-on, 5 s before the switch-off). Device drift and wander are real signal, meter noise is not.
- Power: the noise-free reading of the day's power meter at the run's laser voltage.
"""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from labtui.synth.writer import Simulated

EDGE_MARGIN_V = 0.2
GM_SIDE_MIN_V = 0.5  # a branch narrower than the gm window has no gm maximum
WINDOW_S = 5.0
LIGHT_V = 0.1
COLUMNS = ("cnp_fwd_v", "cnp_bwd_v", "cnp_v", "hysteresis_v", "mobility_hole_cm2_vs", "mobility_electron_cm2_vs",
           "i_dark_a", "delta_i_a", "power_w")


def run_truth(proc: str, run: Simulated, rows: int, *, vds_v: float | None,
              mobility_factor: float | None) -> dict[str, float | None]:
    """The true values of one run's first `rows` rows (an aborted run is judged on what it wrote)."""
    if run.clean is None or rows < 3:
        return {}
    if proc == "IVg" and run.dirac_v is not None:
        return _ivg(run.columns[0][:rows], run.clean[:rows], run.dirac_v[:rows], vds_v, mobility_factor)
    if proc == "It":
        return _it(run.columns[0][:rows], run.clean[:rows], run.columns[2][:rows], run.power_w)
    return {}


def _legs(vg: np.ndarray) -> list[slice]:
    """Monotonic stretches of the ramp (steps are ≥ 1 mV, so the sign of each step is exact)."""
    sign = np.sign(np.round(np.diff(vg), 9))
    turns = np.flatnonzero(sign[1:] != sign[:-1]) + 1
    bounds = [0, *turns.tolist(), vg.size - 1]
    return [slice(a, b + 1) for a, b in itertools.pairwise(bounds) if sign[a] != 0]


def _longest(vg: np.ndarray, direction: int) -> slice | None:
    legs = [leg for leg in _legs(vg) if np.sign(vg[leg][-1] - vg[leg][0]) == direction and vg[leg].size >= 3]
    return max(legs, key=lambda leg: abs(vg[leg][-1] - vg[leg][0]), default=None)


def _crossing(vg: np.ndarray, dirac: np.ndarray, clean: np.ndarray) -> float | None:
    """Where Vg − V_D changes sign (the one nearest the current minimum), linearly interpolated."""
    gap = vg - dirac
    changes = np.flatnonzero(np.sign(gap[:-1]) != np.sign(gap[1:]))
    if not changes.size:
        return None
    k = changes[np.argmin(np.abs(changes - int(np.argmin(np.abs(clean)))))]
    root = float(vg[k] + (vg[k + 1] - vg[k]) * gap[k] / (gap[k] - gap[k + 1]))
    low, high = float(vg.min()), float(vg.max())
    return root if low + EDGE_MARGIN_V <= root <= high - EDGE_MARGIN_V else None


def _ivg(vg: np.ndarray, clean: np.ndarray, dirac: np.ndarray, vds_v: float | None,
         mobility_factor: float | None) -> dict[str, float | None]:
    truth: dict[str, float | None] = dict.fromkeys(COLUMNS[:6])
    for column, direction in (("cnp_fwd_v", 1), ("cnp_bwd_v", -1)):
        leg = _longest(vg, direction)
        if leg is not None:
            truth[column] = _crossing(vg[leg], dirac[leg], clean[leg])
    defined = [v for v in (truth["cnp_fwd_v"], truth["cnp_bwd_v"]) if v is not None]
    truth["cnp_v"] = float(np.mean(defined)) if defined else None
    if len(defined) == 2:
        truth["hysteresis_v"] = truth["cnp_bwd_v"] - truth["cnp_fwd_v"]  # type: ignore[operator]
    forward = _longest(vg, 1)
    if forward is not None and mobility_factor is not None and vds_v:
        x, y = vg[forward], clean[forward]
        gm = np.abs(np.gradient(y, x))
        split = truth["cnp_fwd_v"] if truth["cnp_fwd_v"] is not None else float(x[int(np.argmin(np.abs(y)))])
        for column, side in (("mobility_hole_cm2_vs", x < split), ("mobility_electron_cm2_vs", x > split)):
            if side.sum() >= 2 and np.ptp(x[side]) >= GM_SIDE_MIN_V:
                truth[column] = float(gm[side].max()) * mobility_factor / abs(vds_v) * 1e4
    return truth


def _it(t: np.ndarray, clean: np.ndarray, vl: np.ndarray, power_w: float) -> dict[str, float | None]:
    truth: dict[str, float | None] = {"i_dark_a": None, "delta_i_a": None, "power_w": None}
    on = vl >= LIGHT_V
    if not on.any():
        truth["i_dark_a"] = float(clean.mean())
        return truth
    k_on = int(np.argmax(on))
    t_on = t[k_on]
    dark = (t >= t_on - WINDOW_S) & (t < t_on)
    if not dark.any():
        return truth
    i_dark = truth["i_dark_a"] = float(clean[dark].mean())
    truth["power_w"] = power_w
    after = np.flatnonzero(~on[k_on:])
    if after.size:
        t_off = t[k_on + after[0]]
        lit = (t >= max(t_off - WINDOW_S, t_on)) & (t < t_off)
        truth["delta_i_a"] = float(clean[lit].mean()) - i_dark
    return truth
