"""Device, laser and instrument models behind the synthetic lab's data columns.

Everything here is vectorised numpy driven by an explicit `numpy.random.Generator`, so a run's data is a pure
function of its parameters and its seed. Value ranges come from the lab's real files: graphene FETs with a Dirac point
within a few volts of 0, 10–150 µA at VDS = 0.1 V, photoresponses from ~0.01 % (red/IR) to ~20 % (UV), laser powers
of 1–80 µW at ≤ 5 V, Keithley noise of ~1e-5 of the current range (σ/I ≈ 2.4e-4 per It sample).
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np

WAVELENGTHS_NM = (365, 385, 405, 455, 505, 565, 590, 625, 680, 850)
# (threshold voltage in V, slope in W/V) of each laser diode behind the F1 fibre, fitted on the real calibrations.
_LASER = {
    365: (0.2, 1.3e-6), 385: (0.2, 2.9e-6), 405: (0.2, 2.1e-6), 455: (0.2, 4.8e-6), 505: (0.2, 3.4e-6),
    565: (0.15, 3.6e-6), 590: (0.1, 1.6e-6), 625: (0.15, 2.7e-6), 680: (0.1, 1.35e-6), 850: (0.1, 4.0e-6),
}
# Photogating strength per wavelength relative to 365 nm: UV photons dope the substrate, red ones barely do.
_RESPONSIVITY = {365: 1.0, 385: 0.8, 405: 0.55, 455: 0.12, 505: 0.06, 565: 0.04, 590: 0.03, 625: 0.02, 680: 0.015,
                 850: 0.005}
_REFERENCE_POWER_W = 1e-5
_METER_OFFSET_W = 4e-9  # what the power meter reads with the laser off (real calibrations: 0.5–20 nW, median 4 nW)
SAMPLE_INTERVAL_S = 0.0836  # Keithley 2450 at NPLC 1 plus the bus round trip, the median of the real It files
SWEEP_POINT_S = 0.1  # one gate or drain step: set the TENMA, settle, read
_QUANTUM_PER_RANGE = 5.76e-8  # Keithley resolution as a fraction of the range (steps seen in dead-chip files)


def gate_ramp(v_start: float, v_end: float, v_step: float) -> np.ndarray:
    """The acquisition's IVg ramp, 0 → start → end → start → 0, built with `np.arange` exactly as it builds it.

    Reproducing the arithmetic (rather than a linspace) reproduces the float artefacts of the real Vg column,
    e.g. `-0.15000000000000002`, and the real row counts (601 for −5…5 V in 0.05 V steps).
    """
    lead = np.arange(0, v_start, (1 if v_start > 0 else -1) * v_step)
    up = np.arange(v_start, v_end, v_step)
    down = np.arange(v_end, v_start - v_step, -v_step)
    return np.concatenate((lead, up, down, lead[::-1]))


def drain_ramp(v_start: float, v_end: float, v_step: float) -> np.ndarray:
    """The acquisition's IV ramp: fine steps within ±0.5 mV of zero, coarse ones outside (its quirky 0, −0.0005,
    −0.0105, … sequence, 44 rows for ±0.1 V in 0.01 V steps)."""
    fine = v_step
    coarse = 5e-4 if 1e-6 <= v_step <= 5e-4 else v_step
    sgn = 1 if v_start > 0 else -1
    first = min(abs(v_start), 5e-4)
    last = min(abs(v_end), 5e-4)
    return np.concatenate((
        np.arange(0, sgn * first, sgn * fine),
        np.arange(sgn * first, v_start, sgn * coarse),
        np.arange(v_start, sgn * first, -sgn * coarse),
        np.arange(sgn * first, -sgn * last, -sgn * fine),
        np.arange(-sgn * last, v_end, -sgn * coarse),
        np.arange(v_end, -sgn * last, sgn * coarse),
        np.arange(-sgn * last, sgn * fine, sgn * fine),
    ))


def laser_ramp(v_start: float, v_end: float, v_step: float) -> np.ndarray:
    """The LaserCalibration ramp, end included the way the acquisition includes it."""
    return np.arange(v_start, v_end + v_step, v_step)


def _table_key(wavelength_nm: float) -> int:
    """Nearest tabulated wavelength, so a test can ask for 532 nm and still get a plausible laser."""
    return min(WAVELENGTHS_NM, key=lambda wl: abs(wl - wavelength_nm))


def laser_power(wavelength_nm: float, laser_v: float, factor: float = 1.0) -> float:
    """Optical power (W) at the chip, as the lab's power meter reads it (0 with the laser off); `factor` is the
    day's fibre coupling. The same curve the day's calibrations measure, so it is the irradiated power's truth."""
    if wavelength_nm <= 0 or laser_v <= 0:
        return 0.0
    return float(meter_power(np.asarray(laser_v, dtype=float), wavelength_nm, factor))


def meter_power(vl: np.ndarray, wavelength_nm: float, factor: float) -> np.ndarray:
    """Noise-free power-meter reading: its offset, plus the laser's output above the diode threshold (linear with
    a 1 % roll-off at 5 V) times the fibre coupling."""
    threshold, slope = _LASER[_table_key(wavelength_nm)]
    above = np.clip(vl - threshold, 0, None)
    return _METER_OFFSET_W + slope * factor * above * (1 - 0.01 * (vl / 5) ** 2)


def voltage_for_power(wavelength_nm: float, power_w: float, factor: float = 1.0) -> float:
    """Laser voltage that gives `power_w`, as the lab picks voltages from a calibration to match powers."""
    threshold, slope = _LASER[_table_key(wavelength_nm)]
    return threshold + power_w / (slope * factor)


@dataclass(frozen=True)
class Device:
    """One graphene FET: a V-shaped ambipolar conductance with contact resistance, charge-trap hysteresis,
    photogating (light shifts the Dirac point) with slow, partly persistent kinetics."""

    vd0: float  # Dirac point on the first day (V)
    sigma_min: float  # minimum sheet conductance at the Dirac point (S)
    v_width: float  # electron-hole puddle width (V): rounds the bottom of the V
    asym: float  # electron/hole branch asymmetry
    r_contact: float  # contact resistance (Ω): makes the branches sublinear
    hyst_half: float  # half the Dirac-point hysteresis between up and down sweeps (V)
    lag_points: float  # trap response time, in sweep points
    photo_gain: float  # Dirac shift at 365 nm and 10 µW (V)
    bolometric: float  # relative current drop per 10 µW from heating
    persist: float  # fraction of the photo-shift still there long after switch-off
    tau_rise: float  # slow photoresponse time constant (s)
    tau_fall: float  # relaxation time constant after switch-off (s)
    noise: float  # white noise in units of the current range
    dead: bool = False  # a broken channel: only the meter's offset and noise

    @classmethod
    def random(cls, rng: np.random.Generator, *, vd0: float | None = None) -> Device:
        """A device drawn from the spread of the lab's real chips."""
        return cls(
            vd0=float(rng.uniform(-1.8, 1.0)) if vd0 is None else vd0,
            sigma_min=float(np.exp(rng.uniform(np.log(1.0e-4), np.log(6.0e-4)))),
            v_width=float(rng.uniform(0.6, 1.4)),
            asym=float(rng.uniform(-0.3, 0.3)),
            r_contact=float(rng.uniform(200, 1500)),
            hyst_half=float(rng.uniform(0.05, 0.5)),
            lag_points=float(rng.uniform(8, 25)),
            photo_gain=float(rng.uniform(0.3, 1.2)),
            bolometric=float(rng.uniform(0.0, 0.003)),
            persist=float(rng.uniform(0.3, 0.9)),
            tau_rise=float(rng.uniform(8, 40)),
            tau_fall=float(rng.uniform(20, 120)),
            noise=float(rng.uniform(4e-6, 1.2e-5)),  # σ/I ≈ 1–4e-4 per It sample, as in the real files
        )

    def current(self, vg: np.ndarray | float, vds: float, vd: np.ndarray | float) -> np.ndarray:
        """Drain current (A) at gate `vg` for a Dirac point `vd`: I = VDS / (R_c + 1/σ(Vg − V_D))."""
        x = (np.asarray(vg, dtype=float) - vd) / self.v_width
        branch = x * (1 + self.asym * np.tanh(x))  # asymmetric slopes, minimum still exactly at the Dirac point
        sigma = self.sigma_min * np.sqrt(1 + branch * branch)
        return vds / (self.r_contact + 1 / sigma)

    def photo_shift(self, power_w: float, wavelength_nm: float) -> float:
        """Steady-state Dirac-point shift under light (V): negative (n-type photodoping), sublinear in power."""
        if power_w <= 0 or self.dead:
            return 0.0
        strength = _RESPONSIVITY[_table_key(wavelength_nm)]
        return -self.photo_gain * strength * (power_w / _REFERENCE_POWER_W) ** 0.6


def chip_device(chip_group: str | None, chip_number: int | None, seed: int = 0) -> Device:
    """The device behind a chip name, stable for a seed: fixture files of one chip share one Dirac point."""
    key = [seed, zlib.crc32((chip_group or "").encode()), chip_number or 0]
    return Device.random(np.random.default_rng(key))


def measure(current: np.ndarray, irange: float, noise: float, rng: np.random.Generator) -> np.ndarray:
    """What the Keithley reports: device noise (`noise` × range, plus a little proportional to the current), clipping
    at 1.05 × range, finite resolution."""
    quantum = irange * _QUANTUM_PER_RANGE
    sigma = irange * noise + 2e-5 * np.abs(current)
    reading = current + rng.normal(0.0, 1.0, current.shape) * sigma
    reading = np.clip(reading, -1.05 * irange, 1.05 * irange)
    reading = np.round(reading / quantum) * quantum
    return np.where(reading == 0, quantum, reading)  # an exact 0 would print as "0" where the meter never does


def dead_current(n: int, irange: float, rng: np.random.Generator) -> np.ndarray:
    """A dead channel reads a constant leakage of a few nA or less whatever the voltages, with only the meter's
    own noise of a couple of resolution steps on it."""
    return measure(np.full(n, rng.uniform(6e-10, 1e-8)), irange, 2 * _QUANTUM_PER_RANGE, rng)


def _lagged(v: np.ndarray, lag_points: float) -> np.ndarray:
    """First-order lag of the sweep voltage (trapped charge follows the gate late), starting from 0 V."""
    keep = 1 - 1 / lag_points
    kernel = (1 - keep) * keep ** np.arange(len(v))
    return np.convolve(v, kernel)[: len(v)]


def ivg_clean(device: Device, vg: np.ndarray, *, vds: float, vd: float, power_w: float, wavelength_nm: float,
              rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """The noise-free sweep and the Dirac point at each point: the V shape, its Dirac point lower on the up-sweep
    than on the down-sweep (hysteresis), shifted by light if the laser is on, with a slow drift along the sweep."""
    trap = np.tanh((vg - _lagged(vg, device.lag_points)) / 0.3)
    vd_eff = vd + device.photo_shift(power_w, wavelength_nm) - device.hyst_half * trap
    clean = device.current(vg, vds, vd_eff)
    clean *= 1 - device.bolometric * power_w / _REFERENCE_POWER_W
    clean *= 1 + rng.normal(0, 0.003) * np.linspace(0, 1, len(vg))
    return clean, vd_eff


def iv_current(device: Device, vsd: np.ndarray, *, vg: float, vd: float, irange: float,
               rng: np.random.Generator) -> np.ndarray:
    """A drain sweep: ohmic through the origin with a slight superlinearity and a sub-nA offset."""
    if device.dead:
        return dead_current(len(vsd), irange, rng)
    conductance = float(device.current(vg, 1.0, vd))
    clean = vsd * conductance * (1 + 0.05 * vsd**2) - 3e-10
    return measure(clean, irange, device.noise, rng)


def sample_times(period_s: float, rng: np.random.Generator) -> np.ndarray:
    """It timestamps: ~0.084 s steps with jitter and rare bus hiccups, up to the first sample at or past 1.5 × period.

    Values that would print as an integer at 7 significant digits are nudged by one digit, because the real files
    print times as Python floats (`120.0`, never `120`) and only `0.0` starts a run.
    """
    t_end = 1.5 * period_s
    step = SAMPLE_INTERVAL_S + abs(rng.normal(0, 0.0003))
    n = int(t_end / (step - 0.002)) + 2
    steps = step + rng.normal(0, 0.0004, n)
    hiccup = rng.random(n) < rng.uniform(0.001, 0.01)
    steps[hiccup] += rng.uniform(0.03, 0.25, int(hiccup.sum()))
    t = np.concatenate(([0.0], np.cumsum(steps)))
    t = t[: int(np.searchsorted(t, t_end)) + 1]
    whole = np.round(t)
    digit = 10.0 ** (np.floor(np.log10(np.maximum(whole, 1))) - 6)
    near = (np.abs(t - whole) <= 0.51 * digit) & (t > 0)
    t[near] = whole[near] + digit[near]
    return t


def laser_window(t: np.ndarray, period_s: float) -> np.ndarray:
    """Rows recorded with the laser on: the acquisition switches after the first sample at or past period/2 and
    switches off after the first one at or past the period, so each boundary sample still carries the old state."""
    previous = np.concatenate(([-1.0], t[:-1]))
    return (previous >= period_s / 2) & (previous < period_s)


def _photo_kinetics(t: np.ndarray, on: np.ndarray, device: Device) -> np.ndarray:
    """Normalised photoresponse: fast + slow rise while on, relaxation towards a persistent part after switch-off."""
    if not on.any():
        return np.zeros_like(t)
    first = int(np.argmax(on))
    t_on = t[first - 1] + 0.04
    after = np.flatnonzero(~on[first:])
    t_off = t[first + after[0] - 1] + 0.04 if after.size else np.inf

    def rise(s: np.ndarray) -> np.ndarray:
        return 0.3 * (1 - np.exp(-s / 1.5)) + 0.7 * (1 - np.exp(-s / device.tau_rise))

    g = rise(np.clip(t - t_on, 0, None)) * (t >= t_on)
    if np.isfinite(t_off):
        late = t >= t_off
        relax = device.persist + (1 - device.persist) * np.exp(-(t[late] - t_off) / device.tau_fall)
        g[late] = rise(np.array(t_off - t_on)) * relax
    return g


def it_clean(device: Device, *, period_s: float, vg: float, vds: float, vd: float, laser_v: float,
             power_w: float, wavelength_nm: float,
             rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The noise-free It run (t, I, VL): dark baseline with slow drift and 1/f-like wander, a photoresponse step
    while the laser is on (sign set by the gate relative to the Dirac point), relaxation after switch-off.
    The drift and the wander are the device's, not the meter's: they are part of the truth."""
    t = sample_times(period_s, rng)
    on = laser_window(t, period_s)
    vl = np.where(on, laser_v, 0.0)
    if device.dead:
        return t, np.zeros_like(t), vl
    dark = float(device.current(vg, vds, vd))
    shift = device.photo_shift(power_w, wavelength_nm)
    heating = device.bolometric * dark * power_w / _REFERENCE_POWER_W
    step = float(device.current(vg, vds, vd + shift)) - dark - heating
    drift = rng.normal(0, 0.003) * t / t[-1] + rng.normal(0, 0.003) * (1 - np.exp(-t / rng.uniform(30, 200)))
    wander = np.cumsum(rng.normal(0, 1e-5, len(t)))
    return t, dark * (1 + drift + wander) + step * _photo_kinetics(t, on, device), vl


def calibration_power(vl: np.ndarray, *, wavelength_nm: float, factor: float, n_avg: int,
                      rng: np.random.Generator) -> np.ndarray:
    """Power-meter column: dark offset of a few nW, linear above threshold, each point the mean of `n_avg`
    9-digit readings (which is why the real column shows long reprs like `1.4431665099999999e-07`)."""
    clean = meter_power(vl, wavelength_nm, factor)
    readings = clean + rng.normal(0, 1.0, (n_avg, len(vl))) * (1e-9 + 1e-3 * clean)
    rounded = np.array([float(f"{x:.9g}") for x in readings.ravel()]).reshape(readings.shape)
    return rounded.mean(axis=0)
