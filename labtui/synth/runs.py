"""The objects a lab's schedule is made of: chips whose Dirac point evolves in time, lab days with their clock and
setup, and the runs planned on them (written later by `lab.py`)."""

from __future__ import annotations

import datetime as dt
import math
import random
from dataclasses import dataclass, field
from typing import Any

from labtui.synth.physics import Device

PHOTO_MEMORY_S = 3 * 3600.0  # the persistent photo-shift fades over hours
PHOTO_CARRYOVER = 0.1  # share of a run's persistent photo-shift still there at the next run
EPSILON_0 = 8.8541878128e-12  # F/m


@dataclass
class Chip:
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
        capacitance = EPSILON_0 / stack
        return self.geometry["channel_length_um"] / self.geometry["channel_width_um"] / capacitance

    def vd(self, epoch: float, day: Day) -> float:
        hours = (epoch - day.opening) / 3600
        fading = math.exp(-(epoch - self.photo_epoch) / PHOTO_MEMORY_S)
        return self.daily_vd[day.index] + self.drift_v_per_h * hours + self.photo_v * fading

    def expose(self, shift_v: float, epoch: float) -> None:
        """Light leaves part of its Dirac shift behind (persistent photodoping)."""
        self.photo_v = self.photo_v * math.exp(-(epoch - self.photo_epoch) / PHOTO_MEMORY_S)
        self.photo_v += PHOTO_CARRYOVER * self.device.persist * shift_v
        self.photo_epoch = epoch


@dataclass
class Day:
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
class PlannedRun:
    folder: str
    queue_date: dt.date
    proc: str
    start: float
    header: dict[str, str]
    chip: Chip | None
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


class Countdown:
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

