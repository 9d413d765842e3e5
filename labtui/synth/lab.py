"""A believable lab: chips measured over weeks in the acquisition's folder layout, with the real irregularities.

The lab is planned first (a queue per day with a clock in UTC, chip states evolving in time order), then written.
A day runs sessions per chip — IVg, a series of It runs at several laser voltages, wavelengths or gates, IVg again —
with laser calibrations before light series on some days. The chip's Dirac point random-walks from day to day,
drifts within a day and is pushed negative by light (partly persistently), so successive IVg curves tell a story.
Every irregularity of the real data can be switched on or off by name; the summary says which files carry which,
and what a stager is expected to do with them.
"""

from __future__ import annotations

import datetime as dt
import itertools
import math
import random
import zlib
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np

from labtui.synth import physics
from labtui.synth.physics import Device
from labtui.synth.writer import (
    header_params,
    nominal_duration,
    nominal_rows,
    write_measurement,
)

IRREGULARITIES = frozenset({
    "aborted_run",  # fewer rows than the sweep or period implies → stage, is_complete = false
    "header_only",  # a run that never started: no #Metadata, no start time, no rows → reject
    "overnight_run",  # queued in the evening of day D, runs past local midnight → stage, local date D+1 (its
    #                   first runs start in the evening, so they also show as evening runs)
    "evening_run",  # starts after 21:00 local: the UTC date is the next day → stage, local date D
    "chip_reused",  # a chip number also used under the group "other" → stage as a distinct chip
    "dead_chip",  # a broken channel, currents at noise level → stage
    "junk_file",  # .DS_Store → ignore
    "legacy_folder",  # hand-made day folders like Alisson_15_sept/ → stage
    "index_gap",  # the queue index skips a number → stage
    "index_out_of_order",  # queue indices not in start-time order → stage
    "in_progress",  # the newest run, still being written (truncated, just modified) → defer
})
_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sept", "oct", "nov", "dec")
# How often the lab used each wavelength in It runs (real counts).
_WAVELENGTH_USE = {365: 34, 455: 32, 405: 9, 385: 7, 565: 6, 850: 4, 625: 3, 505: 2, 590: 2, 680: 2}
_PERIODS = (120,) * 16 + (240, 240, 360, 480)
_OVERNIGHT_PERIOD = 4500
_CLOSING = dt.time(19, 30)  # no new run after this on an ordinary day: evening runs are an irregularity
_PHOTO_MEMORY_S = 3 * 3600.0  # the persistent photo-shift fades over hours
_PHOTO_CARRYOVER = 0.1  # share of a run's persistent photo-shift still there at the next run
_EPSILON_0 = 8.8541878128e-12  # F/m


@dataclass(frozen=True)
class LabSpec:
    """What lab to generate. `irregularities` is True (all), False (none) or a set of names from IRREGULARITIES."""

    chips: int = 6
    days: int = 20
    seed: int = 1
    start_date: dt.date = dt.date(2025, 9, 1)
    tz: str = "America/Santiago"
    irregularities: bool | Iterable[str] = True
    group: str = "Alisson"
    kinds: frozenset[str] = field(init=False)  # the irregularities switched on

    def __post_init__(self) -> None:
        chosen = self.irregularities
        kinds = IRREGULARITIES if chosen is True else frozenset() if chosen is False else frozenset(chosen)
        if unknown := kinds - IRREGULARITIES:
            raise ValueError(f"unknown irregularities {sorted(unknown)}; known: {sorted(IRREGULARITIES)}")
        if self.chips < 1 or self.days < 1:
            raise ValueError("a lab needs at least one chip and one day")
        object.__setattr__(self, "kinds", kinds)

    def enabled(self, kind: str) -> bool:
        return kind in self.kinds


@dataclass(frozen=True)
class RunInfo:
    """Ground truth about one written run file, for asserting what a stager extracts."""

    path: str  # relative to the raw root, forward slashes
    proc: str
    chip: tuple[str, int] | None
    day_folder: str
    start_utc: dt.datetime | None  # None for a header-only file
    date_local: dt.date | None
    n_rows: int
    expected_rows: int
    laser_voltage: float | None
    wavelength_nm: float | None
    dirac_v: float | None  # the chip's true Dirac point when the run started
    truth: Mapping[str, float | None] = field(default_factory=dict)  # true derived quantities (`synth.truth`)

    @property
    def complete(self) -> bool:
        return self.n_rows == self.expected_rows and self.start_utc is not None


@dataclass(frozen=True)
class IrregularFile:
    """A file (or folder) that is irregular on purpose."""

    path: str  # relative to the raw root
    kind: str  # one of IRREGULARITIES
    detail: str
    expect: str  # what a stager should do: stage, stage_incomplete, reject, ignore, defer


@dataclass(frozen=True)
class LabSummary:
    root: Path
    runs: tuple[RunInfo, ...]
    irregular: tuple[IrregularFile, ...]
    chips: tuple[tuple[str, int], ...]
    chip_params: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)  # chip name → chip_params.yaml entry

    @property
    def counts(self) -> dict[str, int]:
        """Run files per procedure."""
        return dict(Counter(run.proc for run in self.runs))

    @property
    def rejects(self) -> tuple[str, ...]:
        """Files a stager must reject (the header-only ones)."""
        return tuple(item.path for item in self.irregular if item.expect == "reject")

    def of_kind(self, kind: str) -> tuple[IrregularFile, ...]:
        return tuple(item for item in self.irregular if item.kind == kind)


@dataclass
class _Chip:
    """A chip's identity and evolving state: its Dirac point moves with days, hours and light."""

    group: str
    number: int
    device: Device
    daily_vd: list[float]  # Dirac point at the start of each calendar day
    drift_v_per_h: float
    geometry: dict[str, Any]  # its chip_params.yaml entry: channel size and gate dielectric
    photo_v: float = 0.0  # persistent photo-shift left by earlier light runs
    photo_epoch: float = 0.0
    last_day: int = -1

    @property
    def name(self) -> str:
        return f"{self.group}{self.number}"

    @property
    def mobility_factor(self) -> float:
        """(L/W)/C in m²/F: μ = factor · gm / |Vds|."""
        layers = self.geometry["dielectric"]
        stack = sum(layer["thickness_nm"] * 1e-9 / layer["relative_permittivity"] for layer in layers)  # m per ε_r
        capacitance = _EPSILON_0 / stack
        return self.geometry["channel_length_um"] / self.geometry["channel_width_um"] / capacitance

    def vd(self, epoch: float, day: _Day) -> float:
        hours = (epoch - day.opening) / 3600
        fading = math.exp(-(epoch - self.photo_epoch) / _PHOTO_MEMORY_S)
        return self.daily_vd[day.index] + self.drift_v_per_h * hours + self.photo_v * fading

    def expose(self, shift_v: float, epoch: float) -> None:
        """Light leaves part of its Dirac shift behind (persistent photodoping)."""
        self.photo_v = self.photo_v * math.exp(-(epoch - self.photo_epoch) / _PHOTO_MEMORY_S)
        self.photo_v += _PHOTO_CARRYOVER * self.device.persist * shift_v
        self.photo_epoch = epoch


@dataclass
class _Day:
    """One lab day: its folder, a clock (UTC epoch), and the setup's state that day."""

    index: int
    date: dt.date
    folder: str
    opening: float
    clock: float
    closing: float
    burn_in: int
    calibration_step: float
    dark_wavelength_zero: bool  # some days dark runs write 0 instead of the last wavelength
    fine_range: bool  # later weeks use the 100 µA range for It when the current allows it
    last_wavelength: int = 455
    late: bool = False  # an evening or overnight session is running
    fibre: dict[int, float] = field(default_factory=dict)  # coupling factor per wavelength today
    samples: dict[int, str] = field(default_factory=dict)  # chip number → sample sub-id today

    @property
    def closed(self) -> bool:
        return not self.late and self.clock >= self.closing


@dataclass
class _Planned:
    folder: str
    queue_date: dt.date
    proc: str
    start: float
    header: dict[str, str]
    chip: _Chip | None
    device: Device | None
    vd: float | None
    laser_factor: float
    ordinal: int
    n_rows: int | None = None
    header_only: bool = False
    in_progress: bool = False
    file_idx: int = 0

    @property
    def name(self) -> str:
        return f"{self.folder}/{self.proc}{self.queue_date.isoformat()}_{self.file_idx}.csv"


class _Countdown:
    """Fires every few-dozen events: guarantees an irregularity shows up even in a small lab, at a realistic rate."""

    def __init__(self, rng: random.Random, first: tuple[int, int], then: tuple[int, int]) -> None:
        self._rng, self._then = rng, then
        self._left = rng.randint(*first)

    def fire(self) -> bool:
        self._left -= 1
        if self._left > 0:
            return False
        self._left = self._rng.randint(*self._then)
        return True


class _Planner:
    """Plans every run of the lab in time order."""

    def __init__(self, spec: LabSpec) -> None:
        self.spec = spec
        self.rng = random.Random(spec.seed)
        self.zone = ZoneInfo(spec.tz)
        self.plan: list[_Planned] = []
        self.chips = [self._new_chip(spec.group, number) for number in self._chip_numbers()]
        self.alive = list(self.chips)
        self.aborts = _Countdown(self.rng, (2, 8), (20, 60))
        self.its_queued = 0
        self.header_only_at = self.rng.randint(5, 30) if spec.enabled("header_only") else None  # once per lab

    # --- chips and calendar -------------------------------------------------------------------------------------
    def _chip_numbers(self) -> list[int]:
        pool = range(67, 67 + max(15, 2 * self.spec.chips))
        return sorted(self.rng.sample(pool, self.spec.chips))

    def _new_chip(self, group: str, number: int) -> _Chip:
        device = Device.random(np.random.default_rng([self.spec.seed, number, zlib.crc32(group.encode())]))
        walk = device.vd0 + np.cumsum(np.r_[0.0, [self.rng.gauss(0, 0.12) for _ in range(self.spec.days - 1)]])
        return _Chip(group, number, device, walk.tolist(), self.rng.uniform(-0.08, 0.03), self._geometry(group, number))

    def _geometry(self, group: str, number: int) -> dict[str, Any]:
        """A channel of a few to tens of µm on a biotite gate dielectric under hBN, as the lab builds them."""
        rng = np.random.default_rng([self.spec.seed, number, zlib.crc32(group.encode()), 7])
        return {
            "material": "graphene on biotite",
            "channel_length_um": float(rng.integers(5, 31)),
            "channel_width_um": float(rng.integers(5, 41)),
            "dielectric": [
                {"material": "biotite", "thickness_nm": float(rng.integers(30, 121)), "relative_permittivity": 6.0},
                {"material": "hBN", "thickness_nm": float(rng.integers(10, 41)), "relative_permittivity": 3.4},
            ],
        }

    def _epoch(self, date: dt.date, clock: dt.time) -> float:
        return dt.datetime.combine(date, clock, tzinfo=self.zone).timestamp()

    def _local_day_start(self, date: dt.date) -> float:
        minutes = self.rng.randint(9 * 60 + 30, 12 * 60 + 30)
        return self._epoch(date, dt.time(minutes // 60, minutes % 60, self.rng.randint(0, 59))) + self.rng.random()

    def _folder(self, index: int, date: dt.date) -> str:
        legacy = self.spec.enabled("legacy_folder") and index < math.ceil(0.4 * self.spec.days)
        return f"{self.spec.group}_{date.day:02d}_{_MONTHS[date.month - 1]}" if legacy else date.isoformat()

    def _open_day(self, index: int, date: dt.date) -> _Day:
        opening = self._local_day_start(date)
        return _Day(
            index=index,
            date=date,
            folder=self._folder(index, date),
            opening=opening,
            clock=opening,
            closing=self._epoch(date, _CLOSING),
            burn_in=self.rng.choice((0, 0, 0, 60, 300)),
            calibration_step=self.rng.choice((2, 2, 0.5, 0.2, 0.1)),
            dark_wavelength_zero=self.rng.random() < 0.25,
            fine_range=index >= self.spec.days // 2,
        )

    # --- the queue -----------------------------------------------------------------------------------------------
    def _pause(self, day: _Day, low_s: float, high_s: float) -> None:
        day.clock += self.rng.uniform(low_s, high_s)

    def _queue(
        self,
        day: _Day,
        proc: str,
        chip: _Chip | None,
        values: dict[str, Any],
        *,
        gap: tuple[float, float] = (2, 8),
        abortable: bool = True,
    ) -> None:
        """Append a run at the day's clock and advance the clock; aborted runs are queued again, as the lab does."""
        if day.closed:
            return
        if chip is not None:
            values.setdefault("Sample", self._sample(day, chip))
        header = header_params(proc, chip.group if chip else None, chip.number if chip else None, values)
        wavelength = int(values.get("Laser wavelength", 0))
        factor = self._fibre(day, wavelength)
        if proc == "It":
            self.its_queued += 1
            if self.its_queued == self.header_only_at:
                self._append(day, proc, chip, header, factor, header_only=True)
                self._pause(day, 10, 60)
        aborted = abortable and proc != "LaserCalibration" and self.spec.enabled("aborted_run") and self.aborts.fire()
        fraction = self.rng.uniform(0.05, 0.85) if aborted else 1.0
        n_rows = int(fraction * nominal_rows(proc, header)) if aborted else None
        self._append(day, proc, chip, header, factor, n_rows=n_rows)
        duration = nominal_duration(proc, header) * fraction
        power = physics.laser_power(wavelength, float(values.get("Laser voltage", 0)), factor)
        if chip is not None and power > 0:
            chip.expose(chip.device.photo_shift(power, wavelength) * fraction, day.clock + duration)
        day.clock += duration
        self._pause(day, *gap)
        if aborted:
            self._pause(day, 20, 120)
            self._queue(day, proc, chip, values, gap=gap, abortable=False)

    def _append(
        self,
        day: _Day,
        proc: str,
        chip: _Chip | None,
        header: dict[str, str],
        laser_factor: float,
        *,
        n_rows: int | None = None,
        header_only: bool = False,
    ) -> None:
        self.plan.append(
            _Planned(
                day.folder,
                day.date,
                proc,
                day.clock,
                header,
                chip,
                chip.device if chip else None,
                chip.vd(day.clock, day) if chip else None,
                laser_factor,
                len(self.plan),
                n_rows,
                header_only,
            )
        )
        if chip is not None:
            chip.last_day = day.index

    def _sample(self, day: _Day, chip: _Chip) -> str:
        """The sample sub-id of a chip today: almost always "other", now and then a named piece ("D")."""
        if chip.number not in day.samples:
            day.samples[chip.number] = "D" if self.rng.random() < 0.05 else "other"
        return day.samples[chip.number]

    def _fibre(self, day: _Day, wavelength: int) -> float:
        """Today's fibre coupling of a laser: calibrations and light runs of the day agree on it."""
        if wavelength and wavelength not in day.fibre:
            day.fibre[wavelength] = math.exp(self.rng.gauss(0, 0.15))
        return day.fibre.get(wavelength, 1.0)

    # --- the runs a physicist queues ---------------------------------------------------------------------------
    def _ivg(
        self,
        day: _Day,
        chip: _Chip,
        info: str = "monitoring",
        *,
        step: float = 0.05,
        span: float = 5,
        laser_v: float = 0,
        wavelength: int | None = None,
    ) -> None:
        dark_wl = 0 if day.dark_wavelength_zero else day.last_wavelength
        self._queue(
            day,
            "IVg",
            chip,
            {
                "Information": info,
                "Burn-in time": day.burn_in,
                "Laser voltage": laser_v,
                "Laser wavelength": wavelength if laser_v else dark_wl,
                "VG start": -span,
                "VG end": span,
                "VG step": step,
            },
            gap=(30, 240),
        )

    def _it(
        self,
        day: _Day,
        chip: _Chip,
        *,
        vg: float,
        laser_v: float,
        wavelength: int,
        period: int,
        info: str = "Light testing",
    ) -> None:
        dark = float(chip.device.current(vg, 0.1, chip.vd(day.clock, day)))
        fine = day.fine_range and dark < 8e-5
        if laser_v:
            day.last_wavelength = wavelength
        self._queue(
            day,
            "It",
            chip,
            {
                "Irange": 0.0001 if fine else 0.001,
                "Information": info,
                "Laser ON+OFF period": period,
                "Laser voltage": laser_v,
                "Laser wavelength": wavelength,
                "VG": vg,
            },
        )

    def _iv(self, day: _Day, chip: _Chip, info: str, span: float = 0.1) -> None:
        self._queue(day, "IV", chip, {"Information": info, "VSD start": -span, "VSD end": span}, gap=(30, 120))

    def _calibration(self, day: _Day, wavelength: int) -> None:
        info = self.rng.choice(("None", "None", "None", "max current", str(wavelength)))
        self._queue(
            day,
            "LaserCalibration",
            None,
            {"Information": info, "Laser wavelength": wavelength, "Step time": day.calibration_step},
            gap=(20, 120),
        )

    # --- choices -------------------------------------------------------------------------------------------------
    def _wavelength(self) -> int:
        return self.rng.choices(list(_WAVELENGTH_USE), weights=list(_WAVELENGTH_USE.values()))[0]

    def _gates(self, day: _Day, chip: _Chip, k: int) -> list[float]:
        """Gate voltages as the lab picks them: round values, or offsets from the latest Dirac point ("DP + x V")."""
        if self.rng.random() < 0.4:
            return sorted(float(v) for v in self.rng.sample((-5, -3, -1, 1, 3, 5), k))
        dp = chip.vd(day.clock, day) + self.rng.gauss(0, 0.1)
        offsets = self.rng.sample((-4, -3, -2, -1.5, -1, -0.5, 0.5, 1, 2, 3), k)
        return sorted(round(dp + offset, 2) for offset in offsets)

    def _laser_voltages(self, k: int) -> list[float]:
        if self.rng.random() < 0.4:
            return sorted(self.rng.sample((1.0, 2.0, 3.0, 4.0, 5.0), k))
        return sorted(round(self.rng.uniform(0.5, 5.0), 2) for _ in range(k))

    # --- sessions ------------------------------------------------------------------------------------------------
    def _power_series(self, day: _Day, chip: _Chip) -> None:
        wavelength, period = self._wavelength(), self.rng.choice(_PERIODS)
        if self.rng.random() < 0.4:
            self._calibration(day, wavelength)
        self._ivg(day, chip)
        gates = self._gates(day, chip, self.rng.choice((1, 1, 2)))
        if self.rng.random() < 0.25:
            self._it(day, chip, vg=gates[0], laser_v=0, wavelength=wavelength, period=period, info="dark reference")
        voltages = self._laser_voltages(self.rng.randint(3, 5))
        for vg in gates:
            for laser_v in voltages:
                self._it(day, chip, vg=vg, laser_v=laser_v, wavelength=wavelength, period=period)
        if self.rng.random() < 0.1:
            self._ivg(day, chip, "with light", laser_v=voltages[0], wavelength=wavelength)
        self._ivg(day, chip, f"after {wavelength} nm")

    def _wavelength_scan(self, day: _Day, chip: _Chip) -> None:
        """Red to UV at one matched power, each laser voltage read off that day's calibration."""
        wavelengths = sorted(self.rng.sample(physics.WAVELENGTHS_NM, self.rng.randint(3, 6)), reverse=True)
        target_w, period = self.rng.uniform(2e-6, 6e-6), self.rng.choice(_PERIODS)
        vg = self._gates(day, chip, 1)[0]
        self._ivg(day, chip)
        for wavelength in wavelengths:
            if self.rng.random() < 0.7:
                self._calibration(day, wavelength)
            laser_v = min(5.0, round(physics.voltage_for_power(wavelength, target_w, self._fibre(day, wavelength)), 2))
            self._it(
                day,
                chip,
                vg=vg,
                laser_v=laser_v,
                wavelength=wavelength,
                period=period,
                info=f"Light testing {wavelength} mn",
            )  # sic: the lab writes "mn"
            self._ivg(day, chip, f"after {wavelength} nm")

    def _gate_series(self, day: _Day, chip: _Chip) -> None:
        wavelength, period = self._wavelength(), self.rng.choice(_PERIODS)
        laser_v = round(self.rng.uniform(0.8, 4.8), 2)
        self._ivg(day, chip)
        for vg in self._gates(day, chip, self.rng.randint(3, 5)):
            self._it(day, chip, vg=vg, laser_v=laser_v, wavelength=wavelength, period=period)
        self._ivg(day, chip, f"after {wavelength} nm")

    def _first_measurement(self, day: _Day, chip: _Chip) -> None:
        self._iv(day, chip, "iv test")
        self._ivg(day, chip, "first measurement", step=0.2)
        self._ivg(day, chip, "first measurement", step=0.1)
        if self.rng.random() < 0.3:
            self._ivg(day, chip, "first measurement", step=0.1, span=self.rng.choice((10, 15, 20)))

    def _monitoring(self, day: _Day, chip: _Chip) -> None:
        for _ in range(self.rng.randint(1, 3)):
            self._ivg(day, chip)
            self._pause(day, 300, 3600)

    def _chip_day(self, day: _Day, chip: _Chip) -> None:
        if chip.last_day < 0:
            self._first_measurement(day, chip)
        sessions = (self._power_series, self._wavelength_scan, self._gate_series)
        for _ in range(self.rng.choice((1, 2, 3))):
            self.rng.choices(sessions, weights=(0.45, 0.3, 0.25))[0](day, chip)
            self._pause(day, 300, 2400)

    def _death(self, day: _Day, chip: _Chip) -> None:
        """The channel breaks: flat noise-level sweeps, an IV to confirm, and the chip is never measured again."""
        chip.device = replace(chip.device, dead=True)
        self._ivg(day, chip)
        self._ivg(day, chip)
        self._iv(day, chip, f"test {chip.number} muerto :(", span=1)  # a wider sweep, in case
        self.alive.remove(chip)

    def _reused_number(self, day: _Day) -> None:
        """Another group's chip that happens to carry one of our numbers (identity is group + number)."""
        other = self._new_chip("other", self.rng.choice(self.chips).number)
        self._iv(day, other, "test no light")
        self._iv(day, other, "test no light")
        self._ivg(day, other, "first measurement")
        self._pause(day, 600, 1800)

    def _evening(self, day: _Day, chip: _Chip) -> None:
        day.late = True
        day.clock = max(day.clock, self._epoch(day.date, dt.time(21, self.rng.randint(1, 50))))
        wavelength, vg = self._wavelength(), self._gates(day, chip, 1)[0]
        self._ivg(day, chip)
        for laser_v in self._laser_voltages(self.rng.randint(2, 3)):
            self._it(day, chip, vg=vg, laser_v=laser_v, wavelength=wavelength, period=120)
        self._ivg(day, chip, f"after {wavelength} nm")
        day.late = False

    def _overnight(self, day: _Day, chip: _Chip) -> None:
        """Long dark runs queued in the evening; the queue keeps going past midnight."""
        day.late = True
        day.clock = max(day.clock, self._epoch(day.date, dt.time(21, self.rng.randint(30, 59))))
        vg = self._gates(day, chip, 1)[0]
        self._ivg(day, chip)
        midnight = self._epoch(day.date + dt.timedelta(days=1), dt.time(0))
        while self.plan[-1].start < midnight:
            self._it(
                day,
                chip,
                vg=vg,
                laser_v=0,
                wavelength=day.last_wavelength,
                period=_OVERNIGHT_PERIOD,
                info="overnight dark",
            )
        day.late = False

    # --- the calendar --------------------------------------------------------------------------------------------
    def _working_days(self) -> list[tuple[int, dt.date]]:
        days = []
        for index in range(self.spec.days):
            date = self.spec.start_date + dt.timedelta(days=index)
            weekend_chance = {5: 0.3, 6: 0.15}.get(date.weekday(), 1.0)
            if index == 0 or self.rng.random() < weekend_chance:
                days.append((index, date))
        return days

    def _pick(self, days: list[tuple[int, dt.date]], kind: str) -> tuple[int, dt.date] | None:
        """A day for a once-per-lab event, never the last one (its runs must not be the newest of the lab)."""
        candidates = [day for day in days[:-1] if day[1].weekday() < 5] or days[:-1]
        return self.rng.choice(candidates) if self.spec.enabled(kind) and candidates else None

    def build(self) -> list[_Planned]:
        days = self._working_days()
        evenings = {self._pick(days, "evening_run") for _ in range(max(1, len(days) // 7))} - {None}
        overnight = self._pick(days, "overnight_run")
        reuse = self._pick(days, "chip_reused")
        dying = self._pick(days[len(days) // 2 :], "dead_chip") if len(self.chips) > 1 else None
        victim = self.rng.choice(self.chips)
        for index, date in days:
            day = self._open_day(index, date)
            if (index, date) == reuse:
                self._reused_number(day)
            if date.weekday() >= 5:
                self._monitoring(day, min(self.alive, key=lambda chip: chip.last_day))
                continue
            if (index, date) == dying:
                self._death(day, victim)
            for chip in self._chips_today():
                self._chip_day(day, chip)
                self._pause(day, 600, 2700)
            if (index, date) in evenings:
                self._evening(day, self.rng.choice(self.alive))
            if (index, date) == overnight:
                self._overnight(day, self.rng.choice(self.alive))
        return self.plan

    def _chips_today(self) -> list[_Chip]:
        """The least recently measured chip plus a random one or two: every chip gets measured, some more often."""
        first = min(self.alive, key=lambda chip: (chip.last_day, self.rng.random()))
        others = [chip for chip in self.alive if chip is not first]
        return [first, *self.rng.sample(others, min(len(others), self.rng.choice((0, 1, 1, 2))))]


def _assign_indices(plan: list[_Planned], spec: LabSpec, rng: random.Random) -> list[IrregularFile]:
    """Queue indices per day folder and procedure, in queue order, with the skips and swaps of the real data."""
    counters: Counter[tuple[str, str]] = Counter()
    gaps = _Countdown(rng, (3, 15), (40, 120))
    irregular = []
    for run in sorted(plan, key=lambda run: run.start):
        key = (run.folder, run.proc)
        counters[key] += 1
        if spec.enabled("index_gap") and gaps.fire():
            counters[key] += 1
            irregular.append((run, "index_gap", f"queue index {counters[key] - 1} missing"))
        run.file_idx = counters[key]
    if spec.enabled("index_out_of_order"):
        by_queue: dict[tuple[str, str], list[_Planned]] = {}
        for run in sorted(plan, key=lambda run: run.start):
            by_queue.setdefault((run.folder, run.proc), []).append(run)
        pairs = [
            (a, b)
            for runs in by_queue.values()
            for a, b in itertools.pairwise(runs)
            if b.file_idx == a.file_idx + 1 and not (a.header_only or b.header_only)
        ]
        for a, b in rng.sample(pairs, min(2, len(pairs))):
            a.file_idx, b.file_idx = b.file_idx, a.file_idx
            irregular.extend(
                (run, "index_out_of_order", "queue index order differs from start-time order") for run in (a, b)
            )
    return [IrregularFile(run.name, kind, detail, "stage") for run, kind, detail in irregular]


def _mark_in_progress(plan: list[_Planned], rng: random.Random) -> None:
    """The newest run is still being written when the lab is looked at."""
    run = max((run for run in plan if not run.header_only), key=lambda run: run.start)
    run.in_progress = True
    run.n_rows = int(rng.uniform(0.3, 0.7) * nominal_rows(run.proc, run.header))


def _write_junk(root: Path, folders: list[str], rng: random.Random) -> list[IrregularFile]:
    """Finder's .DS_Store, at the root and in one day folder: binary, not a measurement."""
    junk = []
    for folder in ("", rng.choice(folders)):
        path = root / folder / ".DS_Store"
        body = bytes(rng.getrandbits(8) if i % 97 == 0 else 0 for i in range(6144))
        path.write_bytes(b"\x00\x00\x00\x01Bud1" + body)
        relative = path.relative_to(root).as_posix()
        junk.append(IrregularFile(relative, "junk_file", "Finder metadata, not a measurement", "ignore"))
    return junk


def _classify(run: _Planned, info: RunInfo, zone: ZoneInfo, group: str) -> list[IrregularFile]:
    """The irregularities a written run carries, read off what was actually written."""
    found = []
    if run.header_only:
        found.append(("header_only", "no #Metadata, no start time, no data rows", "reject"))
    elif run.in_progress:
        found.append(("in_progress", f"still being written: {info.n_rows} rows so far, just modified", "defer"))
    elif not info.complete:
        found.append(("aborted_run", f"{info.n_rows} of {info.expected_rows} rows", "stage_incomplete"))
    if info.start_utc is not None and info.date_local is not None:
        local = info.start_utc.astimezone(zone)
        if info.date_local != run.queue_date:
            found.append(("overnight_run", f"queued {run.queue_date}, starts {local:%Y-%m-%d %H:%M} local", "stage"))
        elif info.start_utc.date() != info.date_local:
            found.append(("evening_run", f"starts {local:%H:%M} local, {info.start_utc:%Y-%m-%d} UTC", "stage"))
    if run.chip is not None and run.chip.group != group:
        found.append(("chip_reused", f"chip number {run.chip.number} also used by group {group}", "stage"))
    if run.device is not None and run.device.dead:
        found.append(("dead_chip", "currents at noise level (dead channel)", "stage"))
    return [IrregularFile(info.path, kind, detail, expect) for kind, detail, expect in found]


def generate_lab(root: Path, spec: LabSpec | None = None) -> LabSummary:
    """Write a whole lab under `root` (the raw root, e.g. data/01_raw) and return its ground truth.

    Deterministic for `spec.seed`: the same spec gives a byte-identical tree. File mtimes are the runs' end times
    (except an in-progress file, which keeps its write time).
    """
    spec = spec or LabSpec()
    root = Path(root)
    zone = ZoneInfo(spec.tz)
    rng = random.Random(spec.seed + 1)
    plan = _Planner(spec).build()
    irregular = _assign_indices(plan, spec, rng)
    if spec.enabled("in_progress"):
        _mark_in_progress(plan, rng)
    runs = []
    for run in plan:
        written = write_measurement(
            root / run.name,
            run.proc,
            run.header,
            start_epoch=run.start,
            device=run.device,
            vd=0.0 if run.vd is None else run.vd,
            rng=np.random.default_rng([spec.seed, run.ordinal]),
            laser_factor=run.laser_factor,
            n_rows=run.n_rows,
            header_only=run.header_only,
            set_mtime=not run.in_progress,
            mobility_factor=run.chip.mobility_factor if run.chip else None,
        )
        start = None if run.header_only else dt.datetime.fromtimestamp(run.start, dt.UTC)
        laser_v = run.header.get("Laser voltage")
        info = RunInfo(
            path=run.name,
            proc=run.proc,
            chip=(run.chip.group, run.chip.number) if run.chip else None,
            day_folder=run.folder,
            start_utc=start,
            date_local=start.astimezone(zone).date() if start else None,
            n_rows=written.n_rows,
            expected_rows=written.expected_rows,
            laser_voltage=float(laser_v.split()[0]) if laser_v else None,
            wavelength_nm=float(run.header["Laser wavelength"]),
            dirac_v=run.vd,
            truth=written.truth,
        )
        runs.append(info)
        irregular += _classify(run, info, zone, spec.group)
    folders = sorted({run.folder for run in plan})
    if spec.enabled("junk_file"):
        irregular += _write_junk(root, folders, rng)
    if spec.enabled("legacy_folder"):
        irregular += [
            IrregularFile(folder, "legacy_folder", "hand-made day folder name", "stage")
            for folder in folders
            if not folder[:4].isdigit()
        ]
    chips = sorted({info.chip for info in runs if info.chip is not None})
    params = {run.chip.name: run.chip.geometry for run in plan if run.chip is not None}
    return LabSummary(root, tuple(runs), tuple(irregular), tuple(chips), dict(sorted(params.items())))
