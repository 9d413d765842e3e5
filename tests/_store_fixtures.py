"""Stores for the history, validation, export and parity tests: small raw files staged by the real engine.

`Lab` writes raw files in the acquisition's layout (CRLF, `#Procedure`, `#\tKey: value`, `#Metadata`, `#Data`)
into a temp project with its own config file, and stages them with `labtui.core.stager.stage`.
`real_store` stages ../shared/realdata once per session (skipped when it is absent).
"""

from __future__ import annotations

import datetime as dt
import itertools
import os
from pathlib import Path
from zoneinfo import ZoneInfo

import polars as pl
import pytest

from labtui.core.config import StagingConfig, load_config
from labtui.core.extract import run_id_for
from labtui.core.manifest import read_manifest
from labtui.core.stage_events import StageReport
from labtui.core.stager import stage
from labtui.synth.writer import raw_text

REALDATA = Path(__file__).resolve().parents[2] / "shared" / "realdata"
SANTIAGO = ZoneInfo("America/Santiago")
SENSORS = ("Plate T (degC)", "Ambient T (degC)", "Clock (ms)")


def local(text: str) -> dt.datetime:
    """`2025-10-14 22:30` in the lab's zone, as an aware datetime."""
    return dt.datetime.fromisoformat(text).replace(tzinfo=SANTIAGO)


def _sweep(start: float, end: float, step: float, path: str) -> list[float]:
    """The acquisition's sweep shapes (`path` as in the registry): `loop` 0 → start → end → start → 0 (IVg),
    `through_zero` 0 → start → 0 → end → 0 (IV)."""
    corners = {"loop": [0.0, start, end, start, 0.0], "through_zero": [0.0, start, 0.0, end, 0.0]}[path]
    values = [0.0]
    for a, b in itertools.pairwise(corners):
        n = round(abs(b - a) / step)
        values += [a + (b - a) * k / n for k in range(1, n + 1)]
    return [round(v, 9) for v in values]


def raw_file(
    proc: str,
    *,
    start: dt.datetime,
    group: str | None = "Alisson",
    number: int | None = 67,
    light: bool = True,
    wavelength: float = 455,
    vg: float = -0.35,
    information: str = "fixture run",
    rows: int | None = None,
) -> bytes:
    """A complete run of `proc` (It, IVg, IV, LaserCalibration); `rows` cuts it short (an aborted run)."""
    params: dict[str, str] = {"Irange": "0.001 A", "NPLC": "1"}
    if proc != "LaserCalibration":
        if group is not None:
            params["Chip group name"] = group
        if number is not None:
            params["Chip number"] = str(number)
        params |= {"Information": information, "Laser voltage": "1.15 V" if light else "0 V",
                   "Laser wavelength": f"{wavelength:g}", "Procedure version": "2.2.0", "Sample": "other",
                   "VDS": "0.1 V"}
    if proc == "It":
        params |= {"Laser ON+OFF period": "2 s", "VG": f"{vg:g} V"}
        columns = ("t (s)", "I (A)", "VL (V)", *SENSORS)
        data = [(k * 0.1, 1e-6 + 1e-8 * k, 1.15 if 10 <= k < 20 else 0.0) for k in range(31)]
    elif proc == "IVg":
        params |= {"VG start": "-1 V", "VG end": "1 V", "VG step": "0.5 V"}
        columns = ("Vg (V)", "I (A)", *SENSORS)
        data = [(v, 1e-6 * (1 + abs(v - 0.2))) for v in _sweep(-1, 1, 0.5, "loop")]
    elif proc == "IV":
        params |= {"VG": f"{vg:g} V", "VSD start": "-0.1 V", "VSD end": "0.1 V", "VSD step": "0.05 V"}
        columns = ("Vsd (V)", "I (A)", *SENSORS)
        data = [(v, 1e-5 * v) for v in _sweep(-0.1, 0.1, 0.05, "through_zero")]
    elif proc == "LaserCalibration":
        params |= {"Laser wavelength": f"{wavelength:g}", "Laser voltage start": "0 V", "Laser voltage end": "2 V",
                   "Laser voltage step": "0.5 V", "Optical fiber": "F1 (M92L02)"}
        columns = ("VL (V)", "Power (W)")
        data = [(0.5 * k, 1e-4 * k) for k in range(5)]
    else:
        raise ValueError(proc)
    width = len(columns)
    lines = [",".join([*(repr(float(v)) for v in row), *["nan"] * (width - len(row))]) for row in data[:rows]]
    return raw_text(proc, params, start=repr(start.timestamp()), columns=columns, rows=lines).encode("ascii", "replace")


class Lab:
    """A project folder: `config/labtui.yaml`, `raw/`, `store/`, `histories/`, `exports/`."""

    def __init__(self, root: Path, **settings: str) -> None:
        self.root = root
        self.config_file = root / "config" / "labtui.yaml"
        self.config_file.parent.mkdir(parents=True, exist_ok=True)
        self.settings = {"raw_root": "raw", "stage_root": "store/raw_measurements", "histories_dir": "histories",
                         "exports_dir": "exports", "local_tz": "America/Santiago", "lock_timeout_seconds": "0"}
        self.configure(**settings)
        (root / "raw").mkdir(exist_ok=True)

    def configure(self, **settings: str) -> None:
        self.settings |= settings
        text = "".join(f"{key}: {value}\n" for key, value in self.settings.items())
        self.config_file.write_text(text, encoding="utf-8")

    @property
    def config(self) -> StagingConfig:
        return load_config(self.config_file)

    @property
    def raw(self) -> Path:
        return self.config.raw_root

    def cli(self, *args: str) -> list[str]:
        """Arguments for `labtui.cli.main`, the config given after the command (where argparse keeps it)."""
        return [*args, "--config", str(self.config_file)]

    def write(self, rel: str, proc: str, *, start: dt.datetime, mtime: float | None = None, **options: object) -> Path:
        path = self.raw / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(raw_file(proc, start=start, **options))  # type: ignore[arg-type]
        stamp = mtime if mtime is not None else start.timestamp() + 600  # written when the run ended
        os.utime(path, (stamp, stamp))
        return path

    def stage(self, **options: object) -> StageReport:
        return stage(self.config, **options)

    def manifest(self) -> pl.DataFrame:
        return read_manifest(self.config.manifest_path)

    def run_of(self, source_file: str) -> dict[str, object]:
        return self.manifest().filter(pl.col("source_file") == source_file).row(0, named=True)


def chip67_lab(root: Path) -> Lab:
    """Chip Alisson67 over a week that crosses the DST change, plus a look-alike `other` 67 and a calibration."""
    lab = Lab(root)
    lab.write("Alisson_05_sept/IVg2025-09-05_2.csv", "IVg", start=local("2025-09-05 10:00"), light=False,
              information="second sweep")
    lab.write("Alisson_05_sept/IVg2025-09-05_1.csv", "IVg", start=local("2025-09-05 10:00"), light=False)
    lab.write("Alisson_05_sept/It2025-09-05_1.csv", "It", start=local("2025-09-05 10:30"), wavelength=365)
    lab.write("Alisson_08_sept/It2025-09-08_1.csv", "It", start=local("2025-09-08 09:15"), vg=0.2)
    lab.write("Alisson_08_sept/It2025-09-08_2.csv", "It", start=local("2025-09-08 22:30"), light=False,
              information="Dark relaxation overnight")
    lab.write("Alisson_08_sept/IV2025-09-08_1.csv", "IV", start=local("2025-09-08 08:00"), number=67, group="other")
    lab.write("Alisson_08_sept/LaserCalibration2025-09-08_1.csv", "LaserCalibration", start=local("2025-09-08 07:00"))
    lab.stage()
    return lab


def all_procedures_lab(root: Path) -> Lab:
    """It, IVg, IV and LaserCalibration runs (each procedure has columns the others lack), two chips, and one run
    whose run_id is all digits with a leading zero (the real data has an all-digit one): what readers get wrong."""
    lab = Lab(root)
    lab.write("2025-09-08/IVg2025-09-08_1.csv", "IVg", start=local("2025-09-08 10:00"), light=False)
    lab.write("2025-09-08/It2025-09-08_2.csv", "It", start=local("2025-09-08 10:30"))
    lab.write("2025-09-08/IV2025-09-08_3.csv", "IV", start=local("2025-09-08 11:00"), number=71, group="other")
    lab.write("2025-09-08/LaserCalibration2025-09-08_1.csv", "LaserCalibration", start=local("2025-09-08 07:00"))
    digits = "2025-09-09/It2025-09-09_1.csv"
    lab.write(digits, "It", start=all_digit_start(digits, local("2025-09-09 12:00")), light=False)
    lab.stage()
    return lab


def all_digit_start(source_file: str, near: dt.datetime) -> dt.datetime:
    """The first second from `near` at which the run of `source_file` gets an all-digit run_id starting with 0."""
    for seconds in range(10**6):
        start = near + dt.timedelta(seconds=seconds)
        run_id = run_id_for(source_file, start.astimezone(dt.UTC))
        if run_id.isdigit() and run_id.startswith("0"):
            return start
    raise AssertionError("no all-digit run_id within a million seconds")


def sha_tree(folder: Path) -> dict[str, tuple[bytes, int]]:
    """Every file under `folder` with its bytes and mtime: proof that nothing in it changed."""
    return {
        path.relative_to(folder).as_posix(): (path.read_bytes(), path.stat().st_mtime_ns)
        for path in sorted(folder.rglob("*")) if path.is_file()
    }


@pytest.fixture(scope="session")
def real_store(tmp_path_factory: pytest.TempPathFactory) -> StagingConfig:
    """../shared/realdata/raw staged once; incremental, so a second module's fixture finds it done."""
    if not (REALDATA / "raw").is_dir():
        pytest.skip("../shared/realdata is not available")
    root = tmp_path_factory.getbasetemp() / "labtui-realdata"
    lab = Lab(root, raw_root=str(REALDATA / "raw"))
    stage(lab.config)
    return lab.config
