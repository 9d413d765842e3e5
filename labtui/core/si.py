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


def format_si(value: float, unit: str) -> str:
    """A value with its own prefix, to 3 significant digits: `format_si(1.23e-5, "A") == "12.3 µA"`; rounded before
    the prefix is chosen (0.99999 V reads "1 V", not "1e+03 mV"); -0 is 0, and a value too small or too large to
    round (below ~1e-306, past 1.797e308) or not finite is written as it is. Pure Python, no NumPy: the command
    line's history formats its quantities without paying NumPy's import."""
    value = float(value) + 0.0
    if math.isfinite(value) and value != 0 and (step := 10.0 ** (math.floor(math.log10(abs(value))) - 2)) > 0:
        try:
            rounded = round(value / step) * step
        except OverflowError:  # the quotient rounds past the largest float
            rounded = math.inf
        if math.isfinite(rounded):
            exponent = min(max(3 * math.floor(math.log10(abs(rounded)) / 3), _LOWEST), _HIGHEST)
            return f"{rounded * 10.0 ** -exponent:.3g} {_PREFIXES[exponent]}{unit}"
    return f"{value:.3g} {unit}"


def format_si_each(values: Iterable[float], unit: str) -> list[str]:
    """`format_si` of every value (a table column)."""
    return [format_si(value, unit) for value in values]
