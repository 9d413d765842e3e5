"""Numbers with an SI prefix, as every view writes a quantity (`12.3 µA`, `-350 mV`): light, for the engine's
remarks and the tables, without the plots' helpers."""

from __future__ import annotations

import math
from collections.abc import Iterable

# Engineering prefixes for the lab's quantities. Nothing above the base unit: the lab reads time in s, not ks.
_PREFIXES = {0: "", -3: "m", -6: "µ", -9: "n", -12: "p"}
_LOWEST, _HIGHEST = min(_PREFIXES), max(_PREFIXES)


def si_scale(max_abs: float) -> tuple[float, str]:
    """Factor and prefix that put `max_abs` in [1, 1000) of the unit (clamped to p … base)."""
    if not math.isfinite(max_abs) or max_abs <= 0:
        return 1.0, ""
    exponent = 3 * math.floor(math.log10(max_abs) / 3)
    exponent = min(max(exponent, _LOWEST), _HIGHEST)
    return 10.0 ** -exponent, _PREFIXES[exponent]


def format_si(value: float, unit: str, *, zeros: bool = False) -> str:
    """A value with its own prefix, to 3 significant digits: `format_si(1.23e-5, "A") == "12.3 µA"`; rounded once,
    before the prefix is chosen (0.99999 V reads "1 V", not "1e+03 mV"; 0.009265 A "9.27 mA"); -0 is 0, and a value
    past the prefixes (below 1 pA, 1000 A and over) or not finite is written in the nearest one. `zeros`: the digits'
    trailing zeros kept (`6.00 µW` beside `5.98 µW` in a legend, where `6 µW` read as a rougher value). Pure Python,
    no NumPy: the command line's history formats its quantities without paying NumPy's import."""
    value = float(value) + 0.0
    if not math.isfinite(value) or value == 0:
        return f"{value:.3g} {unit}"
    digits, _, power = f"{value:.2e}".partition("e")  # the 3 significant digits, rounded from the exact binary value
    exponent = 3 * (int(power) // 3)
    if _LOWEST <= exponent <= _HIGHEST:  # 1, 10 or 100 of the prefix: the digits shifted, no second rounding
        shifted = float(digits) * 10 ** (int(power) - exponent)
    else:
        exponent = min(max(exponent, _LOWEST), _HIGHEST)
        shifted = value * 10.0 ** -exponent
    written = f"{shifted:#.3g}".removesuffix(".") if zeros else f"{shifted:.3g}"
    return f"{written} {_PREFIXES[exponent]}{unit}"


def format_si_each(values: Iterable[float], unit: str) -> list[str]:
    """`format_si` of every value (a table column)."""
    return [format_si(value, unit) for value in values]
