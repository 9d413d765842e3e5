"""Numbers with an SI prefix, as every view writes a quantity (`12.3 µA`, `-350 mV`): light, for the engine's
remarks and the tables, without the plots' helpers."""

from __future__ import annotations

import math

import numpy as np

# Engineering prefixes for the lab's quantities. Nothing above the base unit: the lab reads time in s, not ks.
_PREFIXES = {0: "", -3: "m", -6: "µ", -9: "n", -12: "p"}


def si_scale(max_abs: float) -> tuple[float, str]:
    """Factor and prefix that put `max_abs` in [1, 1000) of the unit (clamped to p … base)."""
    if not math.isfinite(max_abs) or max_abs <= 0:
        return 1.0, ""
    exponent = 3 * math.floor(math.log10(max_abs) / 3)
    exponent = min(max(exponent, min(_PREFIXES)), max(_PREFIXES))
    return 10.0 ** -exponent, _PREFIXES[exponent]


def format_si(value: float, unit: str) -> str:
    """A single value with its own prefix, for status lines: `format_si(1.23e-5, "A") == "12.3 µA"`."""
    return format_si_each(np.array([value], dtype=float), unit)[0]


def format_si_each(values: np.ndarray, unit: str) -> list[str]:
    """`format_si` of every value, the scaling vectorised (a table column of 10k values at once)."""
    values = np.asarray(values, dtype=float) + 0.0  # -0.0 is 0: "-0 A" read as a current of some sign
    finite = np.isfinite(values) & (values != 0)
    step = 10.0 ** (np.floor(np.log10(np.where(finite, np.abs(values), 1.0))) - 2)
    finite &= step > 0  # below ~1e-306 the step underflows to 0: such a value is shown as it is
    step = np.where(finite, step, 1.0)
    with np.errstate(over="ignore"):  # 1.797e308 rounds past the largest float: such a value is shown as it is
        rounded = np.round(values / step) * step  # first: 0.99999 V reads "1 V", not "1e+03 mV"
    rounded = np.where(finite & np.isfinite(rounded), rounded, values)
    exponent = 3 * np.floor(np.log10(np.where(finite, np.abs(rounded), 1.0)) / 3)
    exponent = np.clip(exponent, min(_PREFIXES), max(_PREFIXES))
    units = [_PREFIXES[int(e)] + unit for e in exponent.tolist()]
    return [f"{number:.3g} {prefixed}" for number, prefixed in zip((rounded * 10.0 ** -exponent).tolist(), units,
                                                                  strict=True)]
