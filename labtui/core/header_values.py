"""A header parameter's text as the value its registry entry asks for: numbers with their unit (SI prefixes, minutes
and hours for seconds), integers exactly, bounds; what does not fit is left empty with a warning (`typed_value`)."""

from __future__ import annotations

import math
import re
from typing import TYPE_CHECKING, Any, NamedTuple, TypeVar

from labtui.core.integers import INT64_MAX, INT64_MIN, int_of_digits
from labtui.core.registry import ParameterSpec, ProcedureSpec
from labtui.core.wording import quoted

if TYPE_CHECKING:
    import numpy as np

ANY_UNIT = ParameterSpec(field="value", unit=None)  # a number in whatever unit it is written

# One number, then optionally whitespace and one unit word (`0.1 V`, `50 mV`, `25 degC`): `67b`, `6 7`, `67.0x` are
# not numbers. Possessive quantifiers keep it linear on a hostile header's 8 MB line.
NUMBER_WITH_UNIT = re.compile(
    r"^([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?|[-+]?nan|[-+]?inf)(?:\s*+((?:[^\W\d_]|[°%])\S*+))?$", re.IGNORECASE)
_SI_PREFIX = {"p": -12, "n": -9, "u": -6, "µ": -6, "μ": -6, "m": -3, "k": 3, "M": 6}  # powers of ten
# `−0.4 V` (the minus sign) and `–0.4 V` (the en dash a word processor's autocorrect makes of a hyphen): a minus
_MINUSES = str.maketrans({"\u2212": "-", "\u2013": "-"})
# a period or a duration written in minutes or hours, or seconds spelt out (`120 sec`: the run lost its period, and
# with it the check that it was cut short)
_IN_SECONDS = {"min": 60.0, "h": 3600.0, "sec": 1.0, "secs": 1.0, "second": 1.0, "seconds": 1.0}


def split_number(text: str) -> tuple[float, str | None] | None:
    """`0.1 V` and `0.1V` → (0.1, "V"), `455` → (455.0, None); None for text that is no number with a unit
    (`2.1.0`, `F1 (M92L02)`)."""
    match = NUMBER_WITH_UNIT.match(text.strip().translate(_MINUSES))
    if not match:
        return None
    return float(match.group(1)) + 0.0, match.group(2)  # `-0 V` is 0 V: a negative zero was shown as "VG=-0 V"


def parse_number(text: str, spec: ParameterSpec) -> float | None:
    """`0.1 V` → 0.1, `50 mV` → 0.05 (for unit V), `455` → 455; `0.1V` and `0.1 v` too, and `2 min` for unit s.
    None when it is not a number in that unit. A prefix keeps its case: `mV` is not `MV`."""
    split = split_number(text)
    if split is None:
        return None
    value, unit = split
    if unit is not None and spec.type == "int":
        return None  # counts and identifiers (Chip number) carry no unit
    if unit is None or spec.unit is None or unit.lower() == spec.unit.lower():
        return value
    if (power := prefix_apart(unit, spec.unit)) is not None:
        return times_ten_to(value, power)
    if spec.unit == "s" and unit.lower() in _IN_SECONDS:  # `120 Sec` as `120 sec`
        return value * _IN_SECONDS[unit.lower()]
    return None


Scaled = TypeVar("Scaled", float, "np.ndarray")


def times_ten_to(value: Scaled, power: int) -> Scaled:
    """`value` × 10**`power` (a number, or a column's values), divided by an exact 10**n and rounded once: `10 uA` is
    1e-05 as `1e-5 A` is (10 * 1e-6 is 9.999999999999999e-06), and 1150 mV is 1.15 V."""
    return value * 10.0**power if power > 0 else value / 10.0**-power


def prefix_apart(unit: str, wanted: str) -> int | None:
    """The power of ten from `unit` to `wanted` where they are one unit with SI prefixes (`mV` → `V`: −3, `um` → `nm`:
    3, `m` → `nm`: 9, `µA` → `uA`: 0, one prefix spelt three ways); None where they are not (a wavelength of
    `0.455 um` was "not in nm", left empty)."""
    def split(name: str) -> tuple[int, str]:
        return (_SI_PREFIX[name[0]], name[1:]) if len(name) > 1 and name[0] in _SI_PREFIX else (0, name)

    (given, base), (target, wanted_base) = split(unit), split(wanted)
    return given - target if base == wanted_base else None


def unset(value: str) -> bool:
    """A parameter's value as PyMeasure writes one never set (`str(None)`), in any case, or left empty."""
    return value.strip().casefold() in ("", "none")


COMMA_NUMBER = re.compile(r"\s*[-+]?[\d.]*\d,\d")  # `1,37 V`, `1.200,5 V` (a decimal comma), `1,200 s` (thousands)
_INTEGER = re.compile(r"\s*+([-+]?\d+)(?:\.0*)?\s*+")  # `67`, and `67.0` as a float formatting writes it


def parse_integer(text: str) -> int | None:
    """`67` → 67, exactly within 64 bits (through a float, 12345678901234567 became …568; `int_of_digits`); None for
    `1e1` or `67.5`: an identifier or a count is written out in digits."""
    match = _INTEGER.fullmatch(text)
    return int_of_digits(match.group(1)) if match else None


def typed_value(key: str, text: str, spec: ParameterSpec, line: int, warnings: list[str]) -> Any:
    """Header parameter `key`'s text on `line` as its registry `spec` types it; None, with a warning, for a value that
    is no such number or lies outside the spec's bounds (a slip: the run stages, the field is empty). A text of
    `None` is how PyMeasure writes a parameter left unset: no value (a chip filed as `None80`, an Information of
    `None` shown as if someone had typed it)."""
    if spec.type == "str":
        return None if text.strip() == "None" else text
    value = parse_integer(text) if spec.type == "int" else parse_number(text, spec)
    if value is None or not (spec.type == "int" or math.isfinite(value)):
        expected = "an integer" if spec.type == "int" else f"a finite number{f' in {spec.unit}' if spec.unit else ''}"
        if value is None and spec.type != "int" and spec.unit and (split := split_number(text)) is not None \
                and split[1] is not None:  # `1.4 A` for a voltage was "not a finite number in V"
            expected = f"in {spec.unit} (its unit is {quoted(split[1], 20)})"
        elif spec.type != "int" and COMMA_NUMBER.match(text):  # `1,37 V` from a spreadsheet in a decimal-comma
            # locale: said, not guessed
            expected += " (a comma in the number: written with a decimal point and no thousands separator, it is read)"
        warnings.append(f"line {line}: parameter {quoted(key)} = {quoted(text)} is not {expected}; left empty")
        return None
    if spec.type == "int" and not INT64_MIN <= value <= INT64_MAX:
        out_of_range = "beyond a 64-bit integer"
    elif spec.minimum is not None and value < spec.minimum:
        out_of_range = f"below {spec.minimum:g}"
    elif spec.maximum is not None and value > spec.maximum:
        out_of_range = f"above {spec.maximum:g}"
    else:
        return value
    unit = f" {spec.unit}" if spec.unit else ""
    warnings.append(f"line {line}: parameter {quoted(key)} = {quoted(text)} is {out_of_range}{unit}; left empty")
    return None


def header_text(raw: dict[str, str], key: str) -> str | None:
    """A header value as its text; None when absent, or not text (a manifest's `parameters` edited by hand to hold
    `"Irange": null` or a number: a traceback in the metrics)."""
    value = raw.get(key)
    return value if isinstance(value, str) else None


def sweep_limits(spec: ProcedureSpec | None, raw: dict[str, str]) -> tuple[float, float] | None:
    """The header's limits of the column a sweep sweeps (its `completeness` rule's start and end parameters: VG
    start/end, Laser voltage start/end), lowest first, from the header's texts (a run's as parsed, or its manifest
    `parameters`); None for other procedures, or when either is missing or no number."""
    if spec is None or (rule := spec.completeness) is None or rule.kind != "sweep":
        return None
    limits = []
    for key in (rule.start_parameter, rule.end_parameter):
        text = header_text(raw, key) if key else None
        value = parse_number(text, spec.parameters.get(key, ANY_UNIT)) if key and text is not None else None
        if value is None or not math.isfinite(value):
            return None
        limits.append(value)
    return min(limits), max(limits)


CURRENT_RANGE = "Irange"  # the source meter's current range, as the acquisition writes it (`Irange: 0.001 A`)
_AMPERES = ParameterSpec(field="irange", unit="A")
SENSOR_MODEL = "Sensor model"  # a calibration's power sensor, in its #Metadata (`Sensor model: S120VC`)
SENSOR_FULL_SCALE_W = {"S120C": 0.05, "S120VC": 0.05}  # the photodiode sensors' full scale, as Thorlabs rates them
# Without a header bound: the most any reading of the kind can be. A source-meter's largest range is 1 A (a Keithley
# 24xx's; the real runs' currents are µA), and a bench source on a chip gives µW–mW (the real calibrations 6–84 µW).
ANY_CURRENT_A, ANY_POWER_W = 1.0, 1.0


# How far past its bound a reading may go before the run is taken as logged in another unit. An instrument the header
# names reads at most a little past its range (a source-meter 5 %: the real runs' largest |I| is 1.050× their
# Irange), so 1.5×: a µA channel logged in mA under a 1 mA range read 1.05–10× it, and priced runs 1000× high. The
# bounds of no named instrument (1 A, 1 W) are the most one could read: 10×.
NAMED_INSTRUMENT_SLACK, ANY_INSTRUMENT_SLACK = 1.5, 10.0


class ReadingLimit(NamedTuple):
    """The most a run's measured column (an IVg's or an It's I, a calibration's Power) can read, what says so, and
    how many times that a reading may reach before it is in another unit."""

    value: float
    source: str  # "the header's Irange of 0.001 A"
    slack: float


def current_range(raw: dict[str, str]) -> float | None:
    """The header's current range in A (a run's parameters as parsed, or its manifest `parameters`): no reading of
    the meter goes past it (the real runs' largest |I| is 1.05× theirs); None when absent, no number, or not > 0."""
    value = parse_number(text, _AMPERES) if (text := header_text(raw, CURRENT_RANGE)) is not None else None
    return value if value is not None and 0 < value < math.inf else None


def reading_limit(family: str, raw: dict[str, str]) -> ReadingLimit:
    """The bound of a run's measured column, from its header (the meter's `Irange`, the sensor's model) or, without
    one, the most any such instrument reads: a µA current or a µW power logged under `(A)` or `(W)` reads 10⁶× more,
    and past the bound's slack the run has no quantities (`metrics.per_run`). A header without an Irange, or with one
    of 0 A or `auto`, left a current logged in µA unsaid (a dark current of 47 A)."""
    if family == "LaserCalibration":
        model = (header_text(raw, SENSOR_MODEL) or "").strip()
        if (full_scale := SENSOR_FULL_SCALE_W.get(model.upper())) is not None:
            return ReadingLimit(full_scale, f"the {model} sensor's full scale of {full_scale:g} W",
                                NAMED_INSTRUMENT_SLACK)
        return ReadingLimit(ANY_POWER_W, f"{ANY_POWER_W:g} W (more than a bench source gives a chip)",
                            ANY_INSTRUMENT_SLACK)
    if (irange := current_range(raw)) is not None:
        return ReadingLimit(irange, f"the header's Irange of {irange:g} A", NAMED_INSTRUMENT_SLACK)
    return ReadingLimit(ANY_CURRENT_A, f"{ANY_CURRENT_A:g} A (no Irange in the header: a source-meter's largest range)",
                        ANY_INSTRUMENT_SLACK)
