"""The scheduling simulation: every run of a lab planned in time order, day by day, the way the lab works.

A day runs sessions per chip — IVg, a series of It runs at several laser voltages, wavelengths or gates, IVg again —
with laser calibrations before light series on some days. The chip's Dirac point random-walks from day to day,
drifts within a day and is pushed negative by light (partly persistently), so successive IVg curves tell a story.
"""

from __future__ import annotations

import datetime as dt
import math
import random
import zlib
from dataclasses import replace
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np

from labtui.synth import physics
from labtui.synth.labspec import LabSpec
from labtui.synth.physics import Device
from labtui.synth.runs import Chip, Countdown, Day, PlannedRun
from labtui.synth.writer import header_params, nominal_duration, nominal_rows

_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sept", "oct", "nov", "dec")
# How often the lab used each wavelength in It runs (real counts).
_WAVELENGTH_USE = {365: 34, 455: 32, 405: 9, 385: 7, 565: 6, 850: 4, 625: 3, 505: 2, 590: 2, 680: 2}
_PERIODS = (120,) * 16 + (240, 240, 360, 480)
_OVERNIGHT_PERIOD = 4500
_CLOSING = dt.time(19, 30)  # no new run after this on an ordinary day: evening runs are an irregularity


class Planner:
    """Plans every run of the lab in time order."""

    def __init__(self, spec: LabSpec) -> None:
        self.spec = spec
        self.rng = random.Random(spec.seed)
        self.zone = ZoneInfo(spec.tz)
        self.plan: list[PlannedRun] = []
        self.chips = [self._new_chip(spec.group, number) for number in self._chip_numbers()]
        self.alive = list(self.chips)
        self.aborts = Countdown(self.rng, (2, 8), (20, 60))
        self.its_queued = 0
        self.header_only_at = self.rng.randint(5, 30) if spec.enabled("header_only") else None  # once per lab

    # --- chips and calendar -------------------------------------------------------------------------------------
    def _chip_numbers(self) -> list[int]:
        pool = range(67, 67 + max(15, 2 * self.spec.chips))
        return sorted(self.rng.sample(pool, self.spec.chips))

    def _new_chip(self, group: str, number: int) -> Chip:
        device = Device.random(np.random.default_rng([self.spec.seed, number, zlib.crc32(group.encode())]))
        walk = device.vd0 + np.cumsum(np.r_[0.0, [self.rng.gauss(0, 0.12) for _ in range(self.spec.days - 1)]])
        return Chip(group, number, device, walk.tolist(), self.rng.uniform(-0.08, 0.03), self._geometry(group, number))

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

    def _open_day(self, index: int, date: dt.date) -> Day:
        opening = self._local_day_start(date)
        return Day(
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
    def _pause(self, day: Day, low_s: float, high_s: float) -> None:
        day.clock += self.rng.uniform(low_s, high_s)

    def _queue(
        self,
        day: Day,
        proc: str,
        chip: Chip | None,
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
        day: Day,
        proc: str,
        chip: Chip | None,
        header: dict[str, str],
        laser_factor: float,
        *,
        n_rows: int | None = None,
        header_only: bool = False,
    ) -> None:
        self.plan.append(
            PlannedRun(
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

    def _sample(self, day: Day, chip: Chip) -> str:
        """The sample sub-id of a chip today: almost always "other", now and then a named piece ("D")."""
        if chip.number not in day.samples:
            day.samples[chip.number] = "D" if self.rng.random() < 0.05 else "other"
        return day.samples[chip.number]

    def _fibre(self, day: Day, wavelength: int) -> float:
        """Today's fibre coupling of a laser: calibrations and light runs of the day agree on it."""
        if wavelength and wavelength not in day.fibre:
            day.fibre[wavelength] = math.exp(self.rng.gauss(0, 0.15))
        return day.fibre.get(wavelength, 1.0)

    # --- the runs a physicist queues ---------------------------------------------------------------------------
    def _ivg(
        self,
        day: Day,
        chip: Chip,
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
        day: Day,
        chip: Chip,
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

    def _iv(self, day: Day, chip: Chip, info: str, span: float = 0.1) -> None:
        self._queue(day, "IV", chip, {"Information": info, "VSD start": -span, "VSD end": span}, gap=(30, 120))

    def _calibration(self, day: Day, wavelength: int) -> None:
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

    def _gates(self, day: Day, chip: Chip, k: int) -> list[float]:
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
    def _power_series(self, day: Day, chip: Chip) -> None:
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

    def _wavelength_scan(self, day: Day, chip: Chip) -> None:
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

    def _gate_series(self, day: Day, chip: Chip) -> None:
        wavelength, period = self._wavelength(), self.rng.choice(_PERIODS)
        laser_v = round(self.rng.uniform(0.8, 4.8), 2)
        self._ivg(day, chip)
        for vg in self._gates(day, chip, self.rng.randint(3, 5)):
            self._it(day, chip, vg=vg, laser_v=laser_v, wavelength=wavelength, period=period)
        self._ivg(day, chip, f"after {wavelength} nm")

    def _first_measurement(self, day: Day, chip: Chip) -> None:
        self._iv(day, chip, "iv test")
        self._ivg(day, chip, "first measurement", step=0.2)
        self._ivg(day, chip, "first measurement", step=0.1)
        if self.rng.random() < 0.3:
            self._ivg(day, chip, "first measurement", step=0.1, span=self.rng.choice((10, 15, 20)))

    def _monitoring(self, day: Day, chip: Chip) -> None:
        for _ in range(self.rng.randint(1, 3)):
            self._ivg(day, chip)
            self._pause(day, 300, 3600)

    def _chip_day(self, day: Day, chip: Chip) -> None:
        if chip.last_day < 0:
            self._first_measurement(day, chip)
        sessions = (self._power_series, self._wavelength_scan, self._gate_series)
        for _ in range(self.rng.choice((1, 2, 3))):
            self.rng.choices(sessions, weights=(0.45, 0.3, 0.25))[0](day, chip)
            self._pause(day, 300, 2400)

    def _death(self, day: Day, chip: Chip) -> None:
        """The channel breaks: flat noise-level sweeps, an IV to confirm, and the chip is never measured again."""
        chip.device = replace(chip.device, dead=True)
        self._ivg(day, chip)
        self._ivg(day, chip)
        self._iv(day, chip, f"test {chip.number} muerto :(", span=1)  # a wider sweep, in case
        self.alive.remove(chip)

    def _reused_number(self, day: Day) -> None:
        """Another group's chip that happens to carry one of our numbers (identity is group + number)."""
        other = self._new_chip("other", self.rng.choice(self.chips).number)
        self._iv(day, other, "test no light")
        self._iv(day, other, "test no light")
        self._ivg(day, other, "first measurement")
        self._pause(day, 600, 1800)

    def _evening(self, day: Day, chip: Chip) -> None:
        day.late = True
        day.clock = max(day.clock, self._epoch(day.date, dt.time(21, self.rng.randint(1, 50))))
        wavelength, vg = self._wavelength(), self._gates(day, chip, 1)[0]
        self._ivg(day, chip)
        for laser_v in self._laser_voltages(self.rng.randint(2, 3)):
            self._it(day, chip, vg=vg, laser_v=laser_v, wavelength=wavelength, period=120)
        self._ivg(day, chip, f"after {wavelength} nm")
        day.late = False

    def _overnight(self, day: Day, chip: Chip) -> None:
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

    def build(self) -> list[PlannedRun]:
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

    def _chips_today(self) -> list[Chip]:
        """The least recently measured chip plus a random one or two: every chip gets measured, some more often."""
        first = min(self.alive, key=lambda chip: (chip.last_day, self.rng.random()))
        others = [chip for chip in self.alive if chip is not first]
        return [first, *self.rng.sample(others, min(len(others), self.rng.choice((0, 1, 1, 2))))]

