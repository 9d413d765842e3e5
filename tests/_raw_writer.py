"""A tiny writer of raw files in the acquisition's format, for the reliability tests.

Bulk data comes from the project's generator (`labtui.synth`); `render_run` gives small, exact bytes that the
hostile-input cases and the state machine cut, twist and corrupt, independent of the generator's physics.
"""

from __future__ import annotations

import datetime as dt
import os
import random
from collections.abc import Mapping
from pathlib import Path

from labtui.synth.writer import raw_text

PROCS = ("It", "IVg", "IV", "LaserCalibration")


def _sweep(n_rows: int, start: float, end: float, *, path: str) -> tuple[list[float], float]:
    """The acquisition's sweep in n_rows points, and the step that spacing means. `path` as in the registry:
    `once` start → end, `loop` 0 → start → end → start → 0 (IVg), `through_zero` 0 → start → 0 → end → 0 (IV)."""
    legs = {
        "once": [(start, end)],
        "loop": [(0.0, start), (start, end), (end, start), (start, 0.0)],
        "through_zero": [(0.0, start), (start, 0.0), (0.0, end), (end, 0.0)],
    }[path]
    length = sum(abs(b - a) for a, b in legs)
    step = length / max(n_rows - 1, 1)
    values: list[float] = []
    for i in range(n_rows):
        walked = i * step
        for a, b in legs:
            span = abs(b - a)
            if walked <= span + 1e-12:
                values.append(a + (walked if b > a else -walked))
                break
            walked -= span
        else:
            values.append(legs[-1][1])
    values[-1] = legs[-1][1]
    return values, step


def render_run(
    proc: str,
    *,
    file_idx: int = 1,
    start_utc: dt.datetime | float = 1757947090.3839564,
    chip_group: str | None = "Alisson",
    chip_number: int | None = 67,
    params: Mapping[str, str | None] | None = None,
    n_rows: int = 20,
    seed: int = 0,
) -> tuple[str, bytes]:
    """(file name, file bytes) of one run; `params` overrides header keys (None removes a key)."""
    rng = random.Random(f"{proc}|{file_idx}|{seed}")
    start = start_utc.timestamp() if isinstance(start_utc, dt.datetime) else float(start_utc)
    day = dt.datetime.fromtimestamp(start, dt.UTC).date().isoformat()
    header: dict[str, str] = {"Irange": "0.001 A", "NPLC": "1"}
    if proc != "LaserCalibration":
        if chip_group is not None:
            header["Chip group name"] = chip_group
        if chip_number is not None:
            header["Chip number"] = str(chip_number)
        header.update({"Information": f"run {file_idx} seed {seed}", "Sample": "D", "VDS": "0.1 V"})
    sensors = ["Plate T (degC)", "Ambient T (degC)", "Clock (ms)"]
    rows: list[list[float]]
    if proc == "It":
        period = 120.0
        header.update({"Laser ON+OFF period": f"{period:g} s", "Laser voltage": "2.11 V", "Laser wavelength": "455",
                       "VG": "-0.5 V", "Procedure version": "2.2.0"})
        columns = ["t (s)", "I (A)", "VL (V)", *sensors]
        end = 1.5 * period
        rows = [[end * i / max(n_rows - 1, 1), 3.69e-5 + rng.random() * 1e-8, 2.11 if i % 2 else 0.0,
                 float("nan"), float("nan"), float("nan")] for i in range(n_rows)]
    elif proc in ("IVg", "IV"):
        key = "VG" if proc == "IVg" else "VSD"
        values, step = _sweep(n_rows, -1.0, 1.0, path="loop" if proc == "IVg" else "through_zero")
        header.update({f"{key} start": "-1 V", f"{key} end": "1 V", f"{key} step": f"{step!r} V",
                       "Laser voltage": "0 V", "Laser wavelength": "455", "Procedure version": "2.1.0"})
        if proc == "IV":
            header["VG"] = "0 V"
        columns = ["Vg (V)" if proc == "IVg" else "Vsd (V)", "I (A)", *sensors]
        rows = [[v, 2.3e-5 + v * 1e-6 + rng.random() * 1e-9, 25.0, 24.0, 1000.0 * i] for i, v in enumerate(values)]
    elif proc == "LaserCalibration":
        values, step = _sweep(n_rows, 0.0, 5.0, path="once")
        header.update({"Optical fiber": "F1 (M92L02)", "Information": "None", "Laser wavelength": "590",
                       "Procedure version": "1.1.1", "Laser voltage end": "5 V", "Laser voltage start": "0 V",
                       "Laser voltage step": f"{step!r} V"})
        columns = ["VL (V)", "Power (W)"]
        rows = [[v, 1e-8 + v * 7e-7 + rng.random() * 1e-10] for v in values]
    else:
        raise ValueError(f"render_run does not know {proc!r}")
    for key, value in (params or {}).items():
        if value is None:
            header.pop(key, None)
        else:
            header[key] = value
    data = [",".join("nan" if v != v else repr(v) for v in row) for row in rows]
    text = raw_text(proc, header, start=repr(start), columns=columns, rows=data)
    return f"{proc}{day}_{file_idx}.csv", text.encode("utf-8", "replace")


def write_raw(path: Path, data: bytes, mtime_s: float | None = None) -> Path:
    """Write bytes to a raw file (creating folders) and pin its mtime, so staging decisions are deterministic."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    if mtime_s is not None:
        os.utime(path, ns=(int(mtime_s * 1e9), int(mtime_s * 1e9)))
    return path
