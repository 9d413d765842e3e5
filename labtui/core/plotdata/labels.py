"""Legend labels and titles: what varies across the selection goes in the legend, what is shared in the title."""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

from labtui.core.metrics.definitions import DOUBT_COLUMNS, DOUBTS
from labtui.core.metrics.schema import METRICS_SCHEMA
from labtui.core.plotdata.load import Row, run_ident
from labtui.core.si import format_si

if TYPE_CHECKING:
    import polars as pl

TITLE_PARTS = " · "  # between a title's parts: chips, procedure, each shared parameter, the runs


class Param(NamedTuple):
    column: str
    name: str
    unit: str
    in_the_dark: bool = True  # False: meaningless for a dark run (it keeps the last wavelength, or 0)
    prefixed: bool = False  # written with an SI prefix (`P=2.73 µW`), not as the header writes it
    doubt: str | None = None  # the column that puts the value in doubt, said beside it (`STALE`)

    def applies(self, row: Row) -> bool:
        """Whether the run has this parameter at all (a dark run has no wavelength; an unknown one it has)."""
        return self.in_the_dark or row.get("has_light") is not False

    def value(self, row: Row) -> float | None:
        return row.get(self.column) if self.applies(row) else None

    def format(self, value: float | None, doubted: bool = False) -> str:
        if value is None:
            return f"{self.name}=? {self.unit}"
        text = f"{self.name}={format_si(value, self.unit, zeros=True) if self.prefixed else f'{value:g} {self.unit}'}"
        return f"{text}{STALE}" if doubted else text

    def doubted(self, rows: list[Row]) -> bool:
        """Whether the value of any of `rows` is in doubt (its `doubt` column true)."""
        return self.doubt is not None and any(row.get(self.doubt) and self.value(row) is not None for row in rows)


WAVELENGTH = Param("laser_wavelength_nm", "λ", "nm", in_the_dark=False)
# the irradiated power, when the runs have it (`trends.with_plotted_quantities`: a lit It run's `power_w`), beside
# the laser voltage it is priced from: a legend of VL alone left the reader to price each run
# and whether its calibration was measured far in time from the run, said on the figure (a paper's legend read
# `P=5.91 µW` from a calibration 141 h away, its doubt only on stderr)
STALE = " (stale cal.)"  # short: one stale run's legend line took half a figure's width
POWER = Param("power_w", "P", "W", in_the_dark=False, prefixed=True, doubt="calibration_stale")
# In the order the lab compares runs: illumination first, then the gate, then the bias (runs at Vds 0.1, −0.1, 0.5
# and 0 V were drawn as `seq 1 / 3 / 17 / 18`). A title names the wavelength first: the one that names which laser,
# and at 80 columns the end of a title is cut (λ was, after VL and P); a bias all share it leaves out, as before.
BIAS = Param("vds_v", "VDS", "V")
LASER_VOLTAGE = Param("laser_voltage_v", "VL", "V")
PARAMS = (LASER_VOLTAGE, POWER, WAVELENGTH, Param("vg_fixed_v", "VG", "V"), BIAS)
TITLE_PARAMS = (WAVELENGTH, *(param for param in PARAMS if param not in (WAVELENGTH, BIAS)))


def legend_labels(rows: list[Row]) -> list[str]:
    """Label each run by every parameter that varies across `rows` (runs at other wavelengths *and* powers name
    both: a legend of powers alone would pass a spectral series off as a power series), else by its seq.

    A dark run has no wavelength: its label leaves it out, and beside one the lit runs' labels name theirs (the title
    cannot: `λ=455 nm` above a figure of 14 dark sweeps and one lit reads as all of them lit). Labels that would
    still collide (two runs at the same VL) get the run's seq appended, after a comma as each part is (`VL=1 V, seq 3`).
    """
    mixed = _mixes_light(rows)  # dark beside lit at one voltage (its `Laser toggle` off): the voltage says which
    varying = [p for p in PARAMS if len({p.value(row) for row in rows}) > 1 or (mixed and p is LASER_VOLTAGE)]
    if not varying:
        labels = [run_ident(row) for row in rows]
    else:
        labels = [", ".join(_part(p, row) for p in varying if p.applies(row)) or run_ident(row) for row in rows]
        if len(set(labels)) < len(labels):
            labels = [f"{label}, {run_ident(row)}" for label, row in zip(labels, rows, strict=False)]
    return [label + marks for label, marks in zip(labels, _delta_doubted(rows), strict=True)]


def _delta_doubted(rows: list[Row]) -> list[str]:
    """What puts each lit It run's ΔI in doubt (`DOUBTS`' marks), said after its label as a stale calibration is
    beside its P: a paper's It figure of runs under 5σ of their noise, or of steps the dark drift alone makes, said
    nothing of it. Runs without the metrics' columns (no table joined): none."""
    marked = [doubt for doubt in DOUBTS if doubt.mark]
    if not any(name in row for row in rows for name in DOUBT_COLUMNS):
        return [""] * len(rows)
    held = doubt_columns(rows).select(doubt.holds.alias(str(number)) for number, doubt in enumerate(marked))
    return ["".join(doubt.mark for doubt, holds in zip(marked, flags, strict=True) if holds)
            for flags in held.iter_rows()]


def doubt_columns(rows: list[Row]) -> pl.DataFrame:
    """The runs' `DOUBT_COLUMNS`, typed as the metrics table's (a null where a run has none), for `DOUBTS`' rules:
    what a legend marks and a trace figure's warnings count."""
    import polars as pl

    return pl.DataFrame([[row.get(name) for name in DOUBT_COLUMNS] for row in rows], orient="row",
                        schema={name: METRICS_SCHEMA[name] for name in DOUBT_COLUMNS})


def _part(param: Param, row: Row) -> str:
    """One run's value of `param` in its legend label: a dark run's laser voltage is `dark` (by the lab's rule,
    under 0.1 V), which reads at a glance beside `VL=1.15 V, λ=365 nm` where `VL=0 V` had to be worked out."""
    if param is LASER_VOLTAGE and row.get("has_light") is False:
        return "dark"
    return param.format(param.value(row), param.doubted([row]))


def title(proc: str, rows: list[Row]) -> str:
    """Chip(s) · procedure · the parameters every plotted run shares (e.g. a single calibration's λ); runs all dark
    say `dark`, not the `VL=0 V` their headers keep."""
    chips = chip_names(rows)
    dark = bool(rows) and all(row.get("has_light") is False for row in rows)
    unshared = LASER_VOLTAGE if dark or _mixes_light(rows) else None  # `dark` said instead, or in the legend
    shared = [
        p.format(values.pop(), p.doubted(rows))
        for p in TITLE_PARAMS
        if p is not unshared and len(values := {p.value(row) for row in rows}) == 1 and None not in values
    ]
    shared = ["dark", *shared] if dark else shared
    return TITLE_PARTS.join([", ".join(chips), proc, *shared] if chips else [proc, *shared])


def _mixes_light(rows: list[Row]) -> bool:
    return len({row.get("has_light") for row in rows}) > 1


def in_a_row(numbers: list[int]) -> list[list[int]]:
    """The distinct numbers sorted and grouped into runs of consecutive ones (`[3, 4, 5, 9]` → `[[3, 4, 5], [9]]`),
    which a title and a file name each write as ranges."""
    ranges: list[list[int]] = []
    for number in sorted(set(numbers)):
        if ranges and number == ranges[-1][-1] + 1:
            ranges[-1].append(number)
        else:
            ranges.append([number])
    return ranges


def chip_names(rows: list[Row]) -> list[str]:
    """The distinct chips of the rows, in order; calibrations have none."""
    return list(dict.fromkeys(row["chip_name"] for row in rows if row.get("chip_name")))
