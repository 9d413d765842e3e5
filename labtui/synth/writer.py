"""Writes runs byte-for-byte in the acquisition software's raw format.

The layouts below are copied from the real files: the `#Parameters:` keys in the order and with the units each
procedure writes them, the `#Metadata:` block, the column row, and the number formatting of the data rows (Python
reprs: sweep voltages carry their `np.arange` artefacts, Keithley readings have 7 significant digits, power readings
are means of two 9-digit readings). Each file is rendered in memory and written with one call.
"""

from __future__ import annotations

import datetime as dt
import os
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np

from labtui.synth import physics
from labtui.synth.physics import Device
from labtui.synth.truth import run_truth

LAB_TZ = ZoneInfo("America/Santiago")
SENSOR_COLUMNS = ("Plate T (degC)", "Ambient T (degC)", "Clock (ms)")
_SENSORS_OFF = ",nan,nan,nan"
_FIXTURE_START = dt.datetime(2025, 9, 15, 15, 0, 0, 250_000, tzinfo=dt.UTC)
_START_OVERHEAD_S = 4.0  # instrument setup before the first data row
_CHIP_KEYS = ("Chip group name", "Chip number")


@dataclass(frozen=True)
class Layout:
    """How one procedure writes its file."""

    fields: tuple[tuple[str, str], ...]  # (key, unit) of every `#Parameters:` line, in file order
    defaults: Mapping[str, object]  # typical values of the real files
    columns: tuple[str, ...]
    row_format: str  # %-format of one data row
    first_row_format: str  # the first row differs for It: its time is exactly 0.0
    metadata: tuple[tuple[str, str], ...] = ()  # constant `#Metadata:` lines written before the start time


_SWEEP_ROW = "%r,%.7g" + _SENSORS_OFF
_IT_ROW = ",%.7g,%r" + _SENSORS_OFF

LAYOUTS: dict[str, Layout] = {
    "It": Layout(
        fields=(("Irange", "A"), ("NPLC", ""), ("T step start time", "s"), ("Chip group name", ""),
                ("Chip number", ""), ("Information", ""), ("Initial (current) T", "C"), ("Laser ON+OFF period", "s"),
                ("Laser voltage", "V"), ("Laser wavelength", ""), ("Procedure version", ""), ("Sample", ""),
                ("Sampling time (excluding Keithley)", "s"), ("Target T", "C"), ("VDS", "V"), ("VG", "V")),
        defaults={"Irange": 0.001, "NPLC": 1, "T step start time": 120, "Information": "Light testing",
                  "Initial (current) T": 0, "Laser ON+OFF period": 120, "Laser voltage": 1.25,
                  "Laser wavelength": 455, "Procedure version": "2.2.0", "Sample": "other",
                  "Sampling time (excluding Keithley)": 0, "Target T": 25, "VDS": 0.1, "VG": -0.4},
        columns=("t (s)", "I (A)", "VL (V)", *SENSOR_COLUMNS),
        row_format="%.7g" + _IT_ROW,
        first_row_format="%r" + _IT_ROW,
    ),
    "IVg": Layout(
        fields=(("Irange", "A"), ("NPLC", ""), ("Burn-in time", "s"), ("Chip group name", ""), ("Chip number", ""),
                ("Information", ""), ("Laser voltage", "V"), ("Laser wavelength", ""), ("Procedure version", ""),
                ("Sample", ""), ("Step time", "s"), ("VDS", "V"), ("VG end", "V"), ("VG start", "V"),
                ("VG step", "V")),
        defaults={"Irange": 0.001, "NPLC": 1, "Burn-in time": 0, "Information": "monitoring", "Laser voltage": 0,
                  "Laser wavelength": 455, "Procedure version": "2.1.0", "Sample": "other", "Step time": 0,
                  "VDS": 0.1, "VG end": 5, "VG start": -5, "VG step": 0.05},
        columns=("Vg (V)", "I (A)", *SENSOR_COLUMNS),
        row_format=_SWEEP_ROW,
        first_row_format=_SWEEP_ROW,
    ),
    "IV": Layout(
        fields=(("Irange", "A"), ("NPLC", ""), ("Burn-in time", "s"), ("Chip group name", ""), ("Chip number", ""),
                ("Information", ""), ("Laser voltage", "V"), ("Laser wavelength", ""), ("Procedure version", ""),
                ("Sample", ""), ("Step time", "s"), ("VG", "V"), ("VSD end", "V"), ("VSD start", "V"),
                ("VSD step", "V")),
        defaults={"Irange": 0.0001, "NPLC": 1, "Burn-in time": 600, "Information": "iv test", "Laser voltage": 0,
                  "Laser wavelength": 0, "Procedure version": "2.0.1", "Sample": "other", "Step time": 0, "VG": 0,
                  "VSD end": 0.1, "VSD start": -0.1, "VSD step": 0.01},
        columns=("Vsd (V)", "I (A)", *SENSOR_COLUMNS),
        row_format=_SWEEP_ROW,
        first_row_format=_SWEEP_ROW,
    ),
    "LaserCalibration": Layout(
        fields=(("N_avg", ""), ("Optical fiber", ""), ("Information", ""), ("Laser wavelength", ""),
                ("Procedure version", ""), ("Step time", "s"), ("Laser voltage end", "V"),
                ("Laser voltage start", "V"), ("Laser voltage step", "V")),
        defaults={"N_avg": 2, "Optical fiber": "F1 (M92L02)", "Information": "None", "Laser wavelength": 455,
                  "Procedure version": "1.1.1", "Step time": 2, "Laser voltage end": 5, "Laser voltage start": 0,
                  "Laser voltage step": 0.1},
        columns=("VL (V)", "Power (W)"),
        row_format="%r,%r",
        first_row_format="%r,%r",
        metadata=(("Sensor model", "S120VC"),),
    ),
}


@dataclass(frozen=True)
class Written:
    """What was written, for the lab's summary and for scheduling the next run."""

    path: Path
    n_rows: int
    expected_rows: int
    end_epoch: float
    truth: Mapping[str, float | None]  # the true values of the derived quantities (see `truth.run_truth`)


def layout(proc: str) -> Layout:
    """The layout of a procedure, or a clear error naming the ones this generator writes."""
    try:
        return LAYOUTS[proc]
    except KeyError:
        raise ValueError(f"unknown procedure {proc!r}; expected one of {', '.join(LAYOUTS)}") from None


def _format(value: object, unit: str) -> str:
    """Numbers as the acquisition prints them (`0.1 V`, `120 s`, `455`); strings verbatim (caller's full text)."""
    if isinstance(value, str):
        return value
    text = f"{value:g}"
    return f"{text} {unit}" if unit else text


def header_params(proc: str, chip_group: str | None, chip_number: int | None,
                  overrides: Mapping[str, object] | None = None) -> dict[str, str]:
    """The `#Parameters:` block as key → text, in file order.

    Overrides replace values by key; `None` drops a key; unknown keys are appended after the known ones. Chip keys
    are written only by procedures that have them (LaserCalibration belongs to the setup, not to a chip).
    """
    spec = layout(proc)
    units = dict(spec.fields)
    values: dict[str, object] = dict(spec.defaults)
    if _CHIP_KEYS[0] in units:
        values.update(zip(_CHIP_KEYS, (chip_group, chip_number), strict=True))
    values.update(overrides or {})
    keys = [key for key, _ in spec.fields] + [key for key in values if key not in units]
    return {key: _format(values[key], units.get(key, "")) for key in keys if values.get(key) is not None}


def _number(header: Mapping[str, str], key: str) -> float:
    """The numeric part of a header value (`-0.35 V` → -0.35)."""
    return float(header[key].split()[0])


def _ramp(proc: str, header: Mapping[str, str]) -> np.ndarray:
    """The swept column of a sweep procedure, from the header that drives it."""
    if proc == "IVg":
        return physics.gate_ramp(_number(header, "VG start"), _number(header, "VG end"), _number(header, "VG step"))
    if proc == "IV":
        return physics.drain_ramp(_number(header, "VSD start"), _number(header, "VSD end"),
                                  _number(header, "VSD step"))
    return physics.laser_ramp(_number(header, "Laser voltage start"), _number(header, "Laser voltage end"),
                              _number(header, "Laser voltage step"))


def nominal_rows(proc: str, header: Mapping[str, str]) -> int:
    """Rows a complete run writes (for It, at the nominal sampling interval)."""
    if proc == "It":
        return round(1.5 * _number(header, "Laser ON+OFF period") / physics.SAMPLE_INTERVAL_S)
    return len(_ramp(proc, header))


def nominal_duration(proc: str, header: Mapping[str, str]) -> float:
    """Seconds a complete run takes, for scheduling the next run of a queue."""
    if proc == "It":
        return _START_OVERHEAD_S + 1.5 * _number(header, "Laser ON+OFF period")
    if proc == "LaserCalibration":
        per_point = _number(header, "Step time") + 0.15 * _number(header, "N_avg")
        return _START_OVERHEAD_S + len(_ramp(proc, header)) * per_point
    lit = _number(header, "Laser voltage") > 0
    burn_in = _number(header, "Burn-in time") if lit else 0.0
    return _START_OVERHEAD_S + burn_in + len(_ramp(proc, header)) * physics.SWEEP_POINT_S


@dataclass(frozen=True, eq=False)
class Simulated:
    """A run's data columns (sensor columns excluded) and what the generator knows that the file does not."""

    columns: tuple[np.ndarray, ...]
    clean: np.ndarray | None = None  # noise-free current of a live chip, rows aligned with the columns
    dirac_v: np.ndarray | None = None  # IVg: the Dirac point the sweep meets at each point (hysteresis, light)
    power_w: float = 0.0  # irradiated power (0 in the dark)


def simulate(proc: str, header: Mapping[str, str], *, device: Device | None, vd: float, rng: np.random.Generator,
             laser_factor: float = 1.0) -> Simulated:
    """A complete run, consistent with its header.

    `device` and `vd` (its Dirac point now) are needed by the chip procedures, not by LaserCalibration.
    """
    if proc == "LaserCalibration":
        vl = _ramp(proc, header)
        return Simulated((vl, physics.calibration_power(vl, wavelength_nm=_number(header, "Laser wavelength"),
                                                        factor=laser_factor, n_avg=int(_number(header, "N_avg")),
                                                        rng=rng)))
    if device is None:
        raise ValueError(f"a {proc} run needs a device")
    irange = _number(header, "Irange")
    wavelength = _number(header, "Laser wavelength")
    laser_v = _number(header, "Laser voltage")
    power = physics.laser_power(wavelength, laser_v, laser_factor)
    live = not device.dead
    if proc == "It":
        t, clean, vl = physics.it_clean(device, period_s=_number(header, "Laser ON+OFF period"),
                                        vg=_number(header, "VG"), vds=_number(header, "VDS"), vd=vd, laser_v=laser_v,
                                        power_w=power, wavelength_nm=wavelength, rng=rng)
        if live:
            current = physics.measure(clean, irange, device.noise, rng)
        else:
            current = physics.dead_current(len(t), irange, rng)
        return Simulated((t, current, vl), clean if live else None, power_w=power)
    sweep = _ramp(proc, header)
    if proc == "IVg":
        if not live:
            return Simulated((sweep, physics.dead_current(len(sweep), irange, rng)), power_w=power)
        clean, dirac = physics.ivg_clean(
            device, sweep, vds=_number(header, "VDS"), vd=vd, power_w=power, wavelength_nm=wavelength, rng=rng
        )
        return Simulated((sweep, physics.measure(clean, irange, 2 * device.noise, rng)), clean, dirac, power)
    return Simulated(
        (sweep, physics.iv_current(device, sweep, vg=_number(header, "VG"), vd=vd, irange=irange, rng=rng))
    )


def raw_text(
    proc: str,
    params: Mapping[str, str],
    *,
    start: float | str | None,
    columns: Iterable[str] = (),
    rows: Iterable[str] = (),
    metadata: Iterable[tuple[str, str]] = (),
    line_ending: str = "\r\n",
    data_section: bool = True,
) -> str:
    """The raw format itself, the one renderer of it: `#Procedure`, `#Parameters:` lines, `#Metadata:` with the
    start time (none when `start` is None), then `#Data:`, the column row and the rows (none without `data_section`).

    Tests that twist the format give rows, start text and line endings verbatim; the generator uses `render`.
    """
    lines = [f"#Procedure: <laser_setup.procedures.{proc}.{proc}>", "#Parameters:"]
    lines += [f"#\t{key}: {value}" for key, value in params.items()]
    if start is not None:
        lines += ["#Metadata:", *(f"#\t{key}: {value}" for key, value in metadata), f"#\tStart time: {start}"]
    if data_section:
        lines += ["#Data:", ",".join(columns), *rows]
    return line_ending.join(lines) + line_ending


def render(
    proc: str,
    header: Mapping[str, str],
    start_epoch: float | None,
    columns: tuple[np.ndarray, ...],
    line_ending: str = "\r\n",
) -> str:
    """The whole file as text. `start_epoch=None` renders the header-only shape of a run that never started:
    no `#Metadata:` block (hence no start time), the column row, no data."""
    spec = layout(proc)
    text = raw_text(
        proc,
        header,
        start=None if start_epoch is None else repr(start_epoch),
        columns=spec.columns,
        metadata=spec.metadata,
        line_ending=line_ending,
    )
    n = len(columns[0]) if columns else 0
    if n:
        rows = spec.first_row_format + line_ending + (spec.row_format + line_ending) * (n - 1)
        text += rows % tuple(np.column_stack(columns).ravel().tolist())
    return text


def write_measurement(
    path: Path,
    proc: str,
    header: Mapping[str, str],
    *,
    start_epoch: float,
    device: Device | None,
    vd: float,
    rng: np.random.Generator,
    laser_factor: float = 1.0,
    n_rows: int | None = None,
    header_only: bool = False,
    line_ending: str = "\r\n",
    set_mtime: bool = True,
    mobility_factor: float | None = None,
) -> Written:
    """Simulate, render and write one run file.

    The file's mtime is set to the run's end, as the acquisition leaves it, so a freshly generated lab does not look
    like files still being written; `set_mtime=False` keeps the write time (an in-progress file).
    `mobility_factor` = (L/W)/C of the chip (m²/F) when its geometry is known: the truth then has mobilities.
    """
    truth: dict[str, float | None] = {}
    if header_only:
        text, written, expected, end = render(proc, header, None, (), line_ending), 0, 0, start_epoch
    else:
        run = simulate(proc, header, device=device, vd=vd, rng=rng, laser_factor=laser_factor)
        expected = len(run.columns[0])
        written = expected if n_rows is None else max(0, min(n_rows, expected))
        text = render(proc, header, start_epoch, tuple(c[:written] for c in run.columns), line_ending)
        end = start_epoch + nominal_duration(proc, header) * written / expected
        truth = run_truth(
            proc,
            run,
            written,
            vds_v=_number(header, "VDS") if "VDS" in header else None,
            mobility_factor=mobility_factor,
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode("utf-8"))
    if set_mtime:
        os.utime(path, (end, end))
    return Written(path, written, expected, end, truth)


def default_file_name(proc: str, start_utc: dt.datetime, file_idx: int) -> str:
    """`<Proc><YYYY-MM-DD>_<N>.csv` with the lab's local date of the start."""
    return f"{proc}{start_utc.astimezone(LAB_TZ).date().isoformat()}_{file_idx}.csv"


def _write_run(
    folder: Path,
    proc: str,
    *,
    file_idx: int,
    start_utc: dt.datetime,
    chip_group: str | None,
    chip_number: int | None,
    params: Mapping[str, object] | None,
    n_rows: int | None,
    seed: int,
    file_name: str | None,
    line_ending: str,
    header_only: bool,
) -> Written:
    if start_utc.tzinfo is None:
        raise ValueError("start_utc must be timezone-aware (the file stores a UTC epoch)")
    header = header_params(proc, chip_group, chip_number, params)
    device = physics.chip_device(chip_group, chip_number, seed)
    rng = np.random.default_rng([seed, file_idx, zlib.crc32(proc.encode())])
    path = Path(folder) / (file_name or default_file_name(proc, start_utc, file_idx))
    return write_measurement(
        path,
        proc,
        header,
        start_epoch=start_utc.timestamp(),
        device=device,
        vd=device.vd0,
        rng=rng,
        n_rows=n_rows,
        header_only=header_only,
        line_ending=line_ending,
    )


def write_run(
    folder: Path,
    proc: str,
    *,
    file_idx: int,
    start_utc: dt.datetime,
    chip_group: str | None = "Alisson",
    chip_number: int | None = 67,
    params: Mapping[str, object] | None = None,
    n_rows: int | None = None,
    seed: int = 0,
    file_name: str | None = None,
    line_ending: str = "\r\n",
    header_only: bool = False,
) -> Path:
    """Write one run file of `proc` ("It", "IVg", "IV", "LaserCalibration") into `folder`; a fixture factory.

    `params` override header values by key (numbers get the procedure's unit, strings are written verbatim, `None`
    drops the key); the data follow the final header. `chip_group`/`chip_number` of None omit those keys. The chip's
    device (and Dirac point, `physics.chip_device(group, number, seed).vd0`) is fixed by group, number and seed.
    `n_rows` truncates the data block (an aborted run); `header_only` writes a run that never started (no
    `#Metadata:`, no start time, no rows). The name defaults to `<Proc><local date>_<file_idx>.csv`.
    """
    return _write_run(
        folder,
        proc,
        file_idx=file_idx,
        start_utc=start_utc,
        chip_group=chip_group,
        chip_number=chip_number,
        params=params,
        n_rows=n_rows,
        seed=seed,
        file_name=file_name,
        line_ending=line_ending,
        header_only=header_only,
    ).path


def write_files(
    folder: Path,
    proc: str,
    n: int,
    *,
    seed: int = 0,
    start_utc: dt.datetime = _FIXTURE_START,
    chip_group: str | None = "Alisson",
    chip_number: int | None = 67,
    params: Mapping[str, object] | None = None,
    n_rows: int | None = None,
    line_ending: str = "\r\n",
) -> list[Path]:
    """Write `n` consecutive runs of one kind (queue indices 1…n, each starting a minute after the previous ends)."""
    paths = []
    for idx in range(1, n + 1):
        written = _write_run(
            folder,
            proc,
            file_idx=idx,
            start_utc=start_utc,
            chip_group=chip_group,
            chip_number=chip_number,
            params=params,
            n_rows=n_rows,
            seed=seed,
            file_name=None,
            line_ending=line_ending,
            header_only=False,
        )
        paths.append(written.path)
        start_utc = dt.datetime.fromtimestamp(written.end_epoch + 60.0, dt.UTC)
    return paths
