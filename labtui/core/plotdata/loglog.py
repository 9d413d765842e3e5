"""A trend against power on log–log axes (`trend_spec(log_log=True)`): |ΔI| or |R| against P, each series' points
of each sign apart, and the power law fitted to each.

A physicist reads a photoresponse as ΔI ∝ P^α (α ≈ 1 linear, below 1 trap-limited, a photogating that saturates),
and R = ΔI / P ∝ P^(α−1): its slope on log–log axes is α − 1, and its legend says α, the same number as the
photoresponse's (the fit of log |R| is that of log |ΔI| less log P, point for point). Graphene's photoconductivity
is negative in most of the real corpus's lit runs (142 of 234): a series' points below 0 are a series of their own
(`405 nm, ΔI < 0`, hollow), never mixed with the others in one |ΔI|; a value of exactly 0, which a log axis has no
place for, is left out and counted.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from labtui.core.plotdata.model import Series
from labtui.core.plotdata.numeric import power_law
from labtui.core.wording import counted

LAWS = {"ΔI": "|ΔI| ∝ P^α", "R": "|R| ∝ P^(α−1)"}  # the law the fits are of, by the quantity drawn


def by_sign(series: list[Series], quantity: str) -> tuple[list[Series], list[str]]:
    """Each series as a series of its points above 0 and one of those below (`Series.sign`, named `…, ΔI < 0`),
    both as |y|, in their series' colour; the points at exactly 0 left out, counted in the notes."""
    signed: list[Series] = []
    notes: list[str] = []
    for one in series:
        if zero := int(np.count_nonzero(one.y == 0)):
            notes.append(f"{one.label}: {counted(zero, 'run')} with {quantity} = 0 left out: a log axis has no 0")
        for sign in (1, -1):
            index = np.flatnonzero(np.sign(one.y) == sign)
            if not index.size:
                continue
            label = one.label if sign > 0 else f"{quantity} < 0" if one.label == quantity else \
                f"{one.label}, {quantity} < 0"
            signed.append(replace(one, label=label, x=one.x[index], y=np.abs(one.y[index]), sign=sign, breaks=(),
                                  point_run_ids=tuple(one.point_run_ids[k] for k in index),
                                  point_seqs=tuple(one.point_seqs[k] for k in index)))
    return signed, notes


def fitted(series: list[Series], quantity: str,
           excluded: frozenset[str] = frozenset()) -> tuple[list[Series], list[str]]:
    """Each series with its power law (`numeric.power_law`) and its α said (`α = 0.62 ± 0.05 (6 runs)`), or why none
    was fitted; the notes, a line each after one naming the law. The points of `excluded` runs (drawn crossed out, X
    or --include-excluded) are not fitted, and counted (`(5 runs; 2 excluded runs not fitted)`): showing the runs
    the lab set aside, for reference, moved the α a figure's legend says (through their points, the dashed line
    too)."""
    offset = 1.0 if quantity == "R" else 0.0  # R's slope is α − 1
    notes = [f"power law per series: {LAWS[quantity]}" + (f", so α is that of {LAWS['ΔI']}" if offset else "")]
    with_fits = []
    for one in series:
        kept = np.array([run not in excluded for run in one.point_run_ids], dtype=bool)
        aside = int(np.count_nonzero(~kept))
        unfitted = f"; {counted(aside, 'excluded run')} not fitted" if aside else ""
        fit = power_law(one.x[kept], one.y[kept])
        if isinstance(fit, str):
            with_fits.append(replace(one, fit_note=f"no α: {fit}{unfitted}"))
        else:
            alpha = f"α = {fit.exponent + offset:.2f} ± {fit.stderr:.2f} ({counted(fit.points, 'run')}{unfitted})"
            with_fits.append(replace(one, fit=fit, fit_note=alpha))
        notes.append(f"{one.label}: {with_fits[-1].fit_note}")
    return with_fits, notes

