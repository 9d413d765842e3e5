"""The one scratch lab of the tests: raw files in the acquisition's format and a project folder to stage them in.

Raw files: `raw_csv` renders a small run of any procedure through `labtui.synth.writer.raw_text` (the one renderer of
the format), with every header value and data row open to twisting; `raw_file` and `render_run` are the two shapes
the tests ask for most (a run on a given chip at a given local time; a run of n rows whose bytes vary with a seed).
Bulk and realistic data come from `labtui.synth` itself.

`Lab` is a project folder with its own `config/labtui.yaml` (nothing depends on the cwd or the repo's config): it
writes raw files, stages them in process, and runs `labtui` in process (`args`) or as a real process (`cli`).
The scenarios at the end are the labs several test modules share.
"""

from __future__ import annotations

import atexit
import contextlib
import dataclasses
import datetime as dt
import functools
import itertools
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from zoneinfo import ZoneInfo

import polars as pl
import pytest

from labtui.core.config import StagingConfig, load_config
from labtui.core.extract import run_id_for
from labtui.core.manifest import read_manifest, write_manifest
from labtui.core.rejects import RejectRecord, load_rejects, write_reject
from labtui.core.stage_events import StageReport
from labtui.core.stager import stage
from labtui.synth.writer import SENSOR_COLUMNS, raw_text

REPO = Path(__file__).resolve().parents[1]
REALDATA = REPO.parent / "shared" / "realdata"
REAL_RAW = REALDATA / "raw"
SANTIAGO = ZoneInfo("America/Santiago")
OLD_MTIME = 1_700_000_000.0  # raw files pinned to 2023-11-14: never "busy", and reproducible
PROCS = ("It", "IVg", "IV", "LaserCalibration")


# -- times ---------------------------------------------------------------------------------------------------------
def epoch(year: int, month: int, day: int, hour: int = 12, minute: int = 0, tz: str = "UTC") -> float:
    return dt.datetime(year, month, day, hour, minute, tzinfo=ZoneInfo(tz)).timestamp()


def local(text: str) -> dt.datetime:
    """`2025-10-14 22:30` in the lab's zone, as an aware datetime."""
    return dt.datetime.fromisoformat(text).replace(tzinfo=SANTIAGO)


# -- raw files -----------------------------------------------------------------------------------------------------
COLUMNS = {
    "It": ("t (s)", "I (A)", "VL (V)", *SENSOR_COLUMNS),
    "IVg": ("Vg (V)", "I (A)", *SENSOR_COLUMNS),
    "IV": ("Vsd (V)", "I (A)", *SENSOR_COLUMNS),
    "LaserCalibration": ("VL (V)", "Power (W)"),
}
IT_COLUMNS, IVG_COLUMNS = COLUMNS["It"], COLUMNS["IVg"]
_INSTRUMENT = {"Irange": "0.001 A", "NPLC": "1"}
BASE_PARAMS = {
    **_INSTRUMENT,
    "Chip group name": "Alisson",
    "Chip number": "67",
    "Information": "fixture",
    "Laser voltage": "1.15 V",
    "Laser wavelength": "455",
    "Procedure version": "2.2.0",
    "Sample": "other",
    "VDS": "0.1 V",
}
PARAMS = {  # a small complete run of each procedure
    "It": {**BASE_PARAMS, "Laser ON+OFF period": "2 s", "VG": "-0.35 V"},
    "IVg": {**BASE_PARAMS, "VG start": "-1 V", "VG end": "1 V", "VG step": "0.5 V", "Laser voltage": "0 V"},
    "IV": {**BASE_PARAMS, "VG": "-0.35 V", "VSD start": "-0.1 V", "VSD end": "0.1 V", "VSD step": "0.05 V",
           "Laser voltage": "0 V"},
    "LaserCalibration": {**_INSTRUMENT, "Laser wavelength": "455", "Laser voltage start": "0 V",
                         "Laser voltage end": "2 V", "Laser voltage step": "0.5 V", "Optical fiber": "F1 (M92L02)"},
}


def sweep(start: float, end: float, step: float, path: str) -> list[float]:
    """The acquisition's sweep shapes (`path` as in the registry): `once` start → end, `loop` 0 → start → end →
    start → 0 (IVg), `through_zero` 0 → start → 0 → end → 0 (IV)."""
    corners = {"once": [start, end], "loop": [0.0, start, end, start, 0.0],
               "through_zero": [0.0, start, 0.0, end, 0.0]}[path]
    values = [corners[0]]
    for a, b in itertools.pairwise(corners):
        n = round(abs(b - a) / step)
        values += [a + (b - a) * k / n for k in range(1, n + 1)]
    return [round(v, 9) for v in values]


def data_rows(values: Iterable[Sequence[float]], width: int) -> list[str]:
    """Data lines as the acquisition prints them: reprs, the sensor columns it did not read as `nan`."""
    return [",".join([*(repr(float(v)) for v in row), *["nan"] * (width - len(row))]) for row in values]


def it_rows(period: float = 2.0, dt_s: float = 0.1, voltage: float = 1.15) -> list[str]:
    """A complete It data block: 1.5 periods, laser on between period/2 and period."""
    rows = []
    for k in range(round(1.5 * period / dt_s) + 1):
        t = k * dt_s
        on = period / 2 <= t < period
        rows.append((t, 1e-6 + (2e-7 if on else 0.0), voltage if on else 0.0))
    return data_rows(rows, len(IT_COLUMNS))


def ivg_rows() -> list[str]:
    """0 → −1 → 1 → −1 → 0 V in 0.5 V steps: the acquisition's sweep shape."""
    return data_rows(((vg, 1e-6 * (1 + abs(vg - 0.2))) for vg in sweep(-1, 1, 0.5, "loop")), len(IVG_COLUMNS))


def default_rows(proc: str) -> list[str]:
    if proc == "It":
        return it_rows()
    if proc == "IV":
        return data_rows(((v, 1e-5 * v) for v in sweep(-0.1, 0.1, 0.05, "through_zero")), len(COLUMNS[proc]))
    if proc == "LaserCalibration":
        return data_rows(((0.5 * k, 1e-4 * k) for k in range(5)), len(COLUMNS[proc]))
    return ivg_rows()


def raw_csv(
    proc: str = "It",
    *,
    params: Mapping[str, str | None] | None = None,
    start: float | str | None = 1760371684.3180444,
    columns: Sequence[str] | None = None,
    rows: Iterable[str] | None = None,
    eol: str = "\r\n",
    data_section: bool = True,
) -> bytes:
    """A raw file in the acquisition's exact layout; `params` override header values and None removes a key.
    A procedure labtui does not know gets an IVg sweep under its name; a dark It run (`Laser voltage: 0 V`) rows
    whose VL stays at 0 V."""
    merged = {**PARAMS.get(proc, PARAMS["IVg"]), **(params or {})}
    if rows is None and proc == "It" and merged.get("Laser voltage") == "0 V":
        rows = it_rows(voltage=0.0)
    return raw_text(
        proc,
        {key: value for key, value in merged.items() if value is not None},
        start=start,
        columns=columns or COLUMNS.get(proc, IVG_COLUMNS),
        rows=rows if rows is not None else default_rows(proc),
        line_ending=eol,
        data_section=data_section,
    ).encode("utf-8")


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
    """A complete run of `proc` on a chip at `start`; `rows` cuts it short (an aborted run)."""
    params: dict[str, str | None] = {"Laser wavelength": f"{wavelength:g}"}
    if proc != "LaserCalibration":
        params |= {"Chip group name": group, "Chip number": None if number is None else str(number),
                   "Information": information, "Laser voltage": "1.15 V" if light else "0 V", "VG": f"{vg:g} V"}
    if proc == "IVg":
        params["VG"] = None
    width = len(COLUMNS[proc])
    if proc == "It":
        lines = data_rows(((k * 0.1, 1e-6 + 1e-8 * k, 1.15 if light and 10 <= k < 20 else 0.0) for k in range(31)),
                          width)  # a dark run's VL at 0 V throughout
    else:
        lines = default_rows(proc)
    return raw_csv(proc, params=params, start=repr(start.timestamp()), rows=lines[:rows])


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
    """(file name, file bytes) of a run of `n_rows` rows whose readings vary with `seed` (another seed, another
    content hash): what the reliability tests cut, twist and corrupt."""
    rng = random.Random(f"{proc}|{file_idx}|{seed}")
    start = start_utc.timestamp() if isinstance(start_utc, dt.datetime) else float(start_utc)
    day = dt.datetime.fromtimestamp(start, dt.UTC).date().isoformat()
    header: dict[str, str | None] = {"Chip group name": chip_group,
                                     "Chip number": None if chip_number is None else str(chip_number),
                                     "Information": f"run {file_idx} seed {seed}", "Sample": "D"}
    rows: list[tuple[float, ...]]
    if proc == "It":
        period = 120.0
        header |= {"Laser ON+OFF period": f"{period:g} s", "Laser voltage": "2.11 V", "VG": "-0.5 V"}
        end = 1.5 * period
        rows = [(end * i / max(n_rows - 1, 1), 3.69e-5 + rng.random() * 1e-8, 2.11 if i % 2 else 0.0)
                for i in range(n_rows)]
    elif proc in ("IVg", "IV"):
        key = "VG" if proc == "IVg" else "VSD"
        values, step = sweep_points(n_rows, -1.0, 1.0, "loop" if proc == "IVg" else "through_zero")
        header |= {f"{key} start": "-1 V", f"{key} end": "1 V", f"{key} step": f"{step!r} V", "Laser voltage": "0 V",
                   "Procedure version": "2.1.0"}
        if proc == "IV":
            header["VG"] = "0 V"
        rows = [(v, 2.3e-5 + v * 1e-6 + rng.random() * 1e-9, 25.0, 24.0, 1000.0 * i) for i, v in enumerate(values)]
    elif proc == "LaserCalibration":
        values, step = sweep_points(n_rows, 0.0, 5.0, "once")
        header = {"Information": "None", "Laser wavelength": "590", "Procedure version": "1.1.1",
                  "Laser voltage end": "5 V", "Laser voltage start": "0 V", "Laser voltage step": f"{step!r} V"}
        rows = [(v, 1e-8 + v * 7e-7 + rng.random() * 1e-10) for v in values]
    else:
        raise ValueError(f"render_run does not know {proc!r}")
    data = data_rows(rows, len(COLUMNS[proc]))
    return f"{proc}{day}_{file_idx}.csv", raw_csv(proc, params={**header, **(params or {})}, start=repr(start),
                                                  rows=data)


def sweep_points(n_rows: int, start: float, end: float, path: str) -> tuple[list[float], float]:
    """A sweep of `path` (see `sweep`) in exactly n_rows evenly spaced points, and the step that spacing means."""
    corners = {"once": [start, end], "loop": [0.0, start, end, start, 0.0],
               "through_zero": [0.0, start, 0.0, end, 0.0]}[path]
    legs = list(itertools.pairwise(corners))
    step = sum(abs(b - a) for a, b in legs) / max(n_rows - 1, 1)
    values: list[float] = []
    for i in range(n_rows):
        walked = i * step
        for a, b in legs:
            if walked <= abs(b - a) + 1e-12:
                values.append(a + (walked if b > a else -walked))
                break
            walked -= abs(b - a)
        else:
            values.append(legs[-1][1])
    values[-1] = legs[-1][1]
    return values, step


def put(path: Path, data: bytes | str, mtime: float | None = None) -> Path:
    """Write a raw file (creating folders); `mtime` pins its modification time, so staging decisions are
    deterministic (None: now, a file just written)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    if mtime is not None:
        os.utime(path, ns=(int(mtime * 1e9), int(mtime * 1e9)))
    return path


def damage_a_data_page(path: Path, length: int) -> None:
    """Overwrite `length` bytes in the middle of a Parquet's first column chunk: its footer (schema, rows, record)
    stays whole, so only decoding the data shows the damage."""
    import pyarrow.parquet as pq

    chunk = pq.ParquetFile(path).metadata.row_group(0).column(0)
    start = chunk.dictionary_page_offset or chunk.data_page_offset
    data = bytearray(path.read_bytes())
    middle = start + chunk.total_compressed_size // 2
    data[middle:middle + length] = b"\xff" * length
    path.write_bytes(bytes(data))


@contextlib.contextmanager
def unwritable(path: Path) -> Iterator[None]:
    """`path` cannot be opened for writing, as a file open in a spreadsheet on a share: read-only to a user,
    immutable to root (`chattr +i`; skipped where the file system has no such flag)."""
    if os.geteuid() != 0:
        path.chmod(0o444)
        try:
            yield
        finally:
            path.chmod(0o644)
        return
    if subprocess.run(["chattr", "+i", str(path)], capture_output=True, check=False).returncode:
        pytest.skip("no immutable flag (chattr) here")
    try:
        yield
    finally:
        subprocess.run(["chattr", "-i", str(path)], capture_output=True, check=False)


@contextlib.contextmanager
def unlistable(folder: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """`folder` cannot be listed: no read permission, or (root reads everything) its `scandir` denied as the OS
    would deny it."""
    if os.geteuid() == 0:
        real_scandir, real_stat = os.scandir, os.stat

        def deny(path: object = ".") -> object:
            if os.fspath(path) == os.fspath(folder):  # type: ignore[arg-type]
                raise PermissionError(13, "Permission denied", os.fspath(folder))
            return real_scandir(path)  # type: ignore[arg-type]

        def deny_inside(path: object, *args: object, **kwargs: object) -> os.stat_result:
            if os.path.dirname(os.fspath(path)) == os.fspath(folder):  # type: ignore[arg-type]
                raise PermissionError(13, "Permission denied", os.fspath(path))  # type: ignore[arg-type]
            return real_stat(path, *args, **kwargs)  # type: ignore[arg-type]

        with monkeypatch.context() as patch:
            patch.setattr(os, "scandir", deny)
            patch.setattr(os, "stat", deny_inside)  # a folder without read (x) permission: nothing in it stats
            yield
        return
    folder.chmod(0)
    try:
        yield
    finally:
        folder.chmod(0o755)


# -- the lab -------------------------------------------------------------------------------------------------------
class Lab:
    """A project folder: `config/labtui.yaml`, `raw/` (or a shared raw tree `raw`), `store/`.

    `settings` go into the config file (relative paths resolve against `root`); `mtime` is the modification time
    `write` gives raw files unless told otherwise (None: now).
    """

    DEFAULTS: Mapping[str, object] = {"raw_root": "raw", "stage_root": "store/raw_measurements", "workers": 2,
                                      "lock_timeout_seconds": 0}

    def __init__(self, root: Path, *, raw: Path | None = None, mtime: float | None = None, **settings: object) -> None:
        self.root = root
        self.mtime = mtime
        self.config_file = root / "config" / "labtui.yaml"
        self.config_file.parent.mkdir(parents=True, exist_ok=True)
        self.settings: dict[str, object] = {**self.DEFAULTS}
        if raw is not None:
            self.settings["raw_root"] = raw.absolute()
        self.configure(**settings)
        self.raw.mkdir(parents=True, exist_ok=True)

    def configure(self, **settings: object) -> None:
        """Change settings in the config file (a value of None goes back to labtui's default)."""
        self.settings |= settings
        self.settings = {key: value for key, value in self.settings.items() if value is not None}
        text = "".join(f"{key}: {_yaml(value)}\n" for key, value in self.settings.items())
        self.config_file.write_text(text, encoding="utf-8")

    @property
    def config(self) -> StagingConfig:
        return load_config(self.config_file)

    def _path(self, key: str) -> Path:
        """A path setting as written (read without the config, which a test may have broken on purpose)."""
        path = Path(str(self.settings[key]))
        return path if path.is_absolute() else self.root / path

    @property
    def raw(self) -> Path:
        return self._path("raw_root")

    @property
    def stage_root(self) -> Path:
        return self._path("stage_root")

    @property
    def store_root(self) -> Path:
        return self.stage_root.parent

    # raw files
    def write(self, rel: str, data: bytes | str, mtime: float | None = None) -> Path:
        return put(self.raw / rel, data, mtime if mtime is not None else self.mtime)

    def write_run(self, rel: str, proc: str, *, start: dt.datetime, mtime: float | None = None,
                  **options: object) -> Path:
        """`raw_file(proc, start=start, **options)`, its mtime the end of the run unless told otherwise."""
        data = raw_file(proc, start=start, **options)  # type: ignore[arg-type]
        return self.write(rel, data, mtime if mtime is not None else start.timestamp() + 600)

    # the store
    def stage(self, **options: object) -> StageReport:
        """One uninterrupted run, in process; a busy lock fails at once (lock timeout 0 unless configured)."""
        return stage(self.config, **options)

    def manifest(self) -> pl.DataFrame:
        return read_manifest(self.config.manifest_path)

    def rejects(self) -> dict[str, RejectRecord]:
        return load_rejects(self.config.rejects_dir)

    def run_of(self, source_file: str) -> dict[str, object]:
        return self.manifest().filter(pl.col("source_file") == source_file).row(0, named=True)

    def freeze(self, now: dt.datetime) -> None:
        """Ingest and reject times (and the code version) as if staged at `now`: screenshots stay identical."""
        config = self.config
        write_manifest(self.manifest().with_columns(ingested_at_utc=pl.lit(now), extraction_version=pl.lit("test")),
                       config.manifest_path)
        for record in self.rejects().values():
            write_reject(config.rejects_dir, dataclasses.replace(record, rejected_at_utc=now))

    def copy_store(self, store_root: Path) -> None:
        """Start from a copy of another lab's store, as if this lab's raw tree were the one it was built from (the
        same lab, its raw tree changed since): the recorded raw root follows."""
        shutil.copytree(store_root, self.store_root)
        identity = self.store_root / "_manifest" / "store.json"
        recorded = json.loads(identity.read_text(encoding="utf-8"))
        identity.write_text(json.dumps({**recorded, "raw_root": str(self.config.raw_root)}), encoding="utf-8")

    # labtui itself
    def args(self, *args: str) -> list[str]:
        """Arguments for `labtui.cli.main`, with the lab's config."""
        return [*args, "--config", str(self.config_file)]

    def command(self, command: str, *args: str) -> list[str]:
        """`labtui <command>` for a subprocess; a `--config` among `args` wins over the lab's (argparse keeps the
        last)."""
        quiet = ["--quiet"] if command in ("stage", "restage") else []
        return [sys.executable, "-m", "labtui", command, "--config", str(self.config_file), *quiet, *args]

    def cli(self, command: str, *args: str, crash_at: str | None = None,
            timeout: int = 120) -> subprocess.CompletedProcess[str]:
        """`labtui <command>` in a process of its own (optionally crashing at a fault point), cwd the lab's folder,
        forked from one that imported labtui once (`Forks`): a real process that dies at its fault point, holds and
        loses the lock as any other, without paying Python's start-up each time (the start-up's own tests, in
        `test_cli_startup`, start fresh interpreters)."""
        argv = self.command(command, *args)[3:]  # after `python -m labtui`
        return FORKS.run(argv, cwd=self.root, env=cli_env(crash_at), timeout=timeout)

    def popen(self, command: str, *args: str, crash_at: str | None = None) -> subprocess.Popen[str]:
        return subprocess.Popen(self.command(command, *args), cwd=self.root, env=cli_env(crash_at),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _yaml(value: object) -> str:
    """A setting as YAML text: text and paths verbatim (a test may write YAML itself), anything else as JSON."""
    return str(value) if isinstance(value, str | Path) else json.dumps(value)


_HOLD_THE_LOCK = """
import signal, sys
from pathlib import Path
from labtui.core.lock import WriterLock
WriterLock(Path(sys.argv[1]), command=sys.argv[2]).acquire(0)
print("held", flush=True)
signal.pause()  # until killed
"""


@contextlib.contextmanager
def lock_held_elsewhere(lock_path: Path, command: str) -> Iterator[subprocess.Popen[str]]:
    """Another process holding the store's writer lock as `command` (the lock is a kernel `flock`: only a separate
    process proves it), killed with SIGKILL on leaving, as a crashed holder would be."""
    holder = subprocess.Popen([sys.executable, "-c", _HOLD_THE_LOCK, str(lock_path), command], stdout=subprocess.PIPE,
                              env=cli_env(), text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        yield holder
    finally:
        holder.kill()
        holder.wait(30)


def cli_env(crash_at: str | None = None) -> dict[str, str]:
    """The environment of a `labtui` subprocess: this checkout's code, no LABTUI_ setting of the caller's."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("LABTUI_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    if crash_at:
        env["LABTUI_CRASH_AT"] = crash_at
    return env


_FORK_SERVER = r"""
import importlib, json, os, selectors, signal, sys
import polars  # imported, never used here: the children start their own thread pools
from labtui.cli import main
from labtui.core import faults
# what a stage imports (NumPy, Pydantic, the parser and the metrics): ~0.35 s a child would pay again each time;
# and what every command imports once running (YAML for the config, the command modules the tests run most):
# ~0.1 s more each, most of a forked command's time
import labtui.cli.stage, labtui.core.extract, labtui.core.history, labtui.core.metrics.table  # noqa: E401, F401
import yaml, labtui.cli.history, labtui.cli.plot, labtui.cli.progress, labtui.cli.tui  # noqa: E401, F401
import labtui.cli.validate, labtui.core.validate  # noqa: E401, F401


def read_to_end(fds):
    # both pipes at once, as `subprocess.run` reads them: a child blocked on a full stderr would never end
    chunks = {fd: [] for fd in fds}
    with selectors.DefaultSelector() as selector:
        for fd in fds:
            selector.register(fd, selectors.EVENT_READ)
        while selector.get_map():
            for key, _ in selector.select():
                chunk = os.read(key.fd, 1 << 16)
                if chunk:
                    chunks[key.fd].append(chunk)
                else:
                    selector.unregister(key.fd)
                    os.close(key.fd)
    return [b"".join(chunks[fd]).decode("utf-8", "replace") for fd in fds]


for line in sys.stdin:
    request = json.loads(line)
    (out, out_end), (err, err_end) = os.pipe(), os.pipe()  # pipes, as `subprocess.run` gives a command
    pid = os.fork()
    if pid == 0:
        signal.alarm(request["timeout"])  # a command that hangs is killed (SIGALRM), as `subprocess.run` would
        os.dup2(os.open(os.devnull, os.O_RDONLY), 0)  # not the server's requests
        os.dup2(out_end, 1)
        os.dup2(err_end, 2)
        for fd in (out, out_end, err, err_end):
            os.close(fd)
        os.chdir(request["cwd"])
        os.environ.clear()  # the caller's environment now (a test may have set a variable since the server started)
        os.environ.update(request["env"])
        if "LABTUI_CRASH_AT" in os.environ:
            importlib.reload(faults)  # it reads the fault point when imported
        try:
            code = main(request["argv"])
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    os.close(out_end)
    os.close(err_end)
    stdout, stderr = read_to_end([out, err])
    _, status = os.waitpid(pid, 0)
    reply = {"returncode": os.waitstatus_to_exitcode(status), "stdout": stdout, "stderr": stderr}
    print(json.dumps(reply), flush=True)
"""


class Forks:
    """One server process per test process that imports labtui once, then forks a child per `labtui` command.

    The crash tests run hundreds of commands that die at a fault point; a fresh interpreter spends ~0.5 s importing
    before a few milliseconds of staging. A forked child is as real a process (own pid, own lock, `os._exit`)."""

    def __init__(self) -> None:
        self._server: subprocess.Popen[str] | None = None
        self._lock = threading.Lock()

    def run(self, argv: list[str], *, cwd: Path, env: dict[str, str],
            timeout: int) -> subprocess.CompletedProcess[str]:
        request = json.dumps({"argv": argv, "cwd": str(cwd), "env": env, "timeout": timeout})
        with self._lock:  # one command at a time: the server answers in order
            server = self._start()
            assert server.stdin is not None and server.stdout is not None
            server.stdin.write(request + "\n")
            server.stdin.flush()
            reply = server.stdout.readline()
        if not reply:
            raise RuntimeError(f"the fork server died: {server.stderr.read() if server.stderr else ''}")
        answer = json.loads(reply)
        return subprocess.CompletedProcess(["labtui", *argv], answer["returncode"], answer["stdout"], answer["stderr"])

    def _start(self) -> subprocess.Popen[str]:
        if self._server is None or self._server.poll() is not None:
            self._server = subprocess.Popen([sys.executable, "-c", _FORK_SERVER], env=cli_env(), text=True,
                                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            atexit.register(self._server.kill)
        return self._server


FORKS = Forks()


def sha_tree(folder: Path) -> dict[str, tuple[bytes, int]]:
    """Every file under `folder` with its bytes and mtime: proof that nothing in it changed."""
    return {
        path.relative_to(folder).as_posix(): (path.read_bytes(), path.stat().st_mtime_ns)
        for path in sorted(folder.rglob("*")) if path.is_file()
    }


# -- scenarios -----------------------------------------------------------------------------------------------------
def chip67_lab(root: Path) -> Lab:
    """Chip Alisson67 over a week that crosses the DST change, plus a look-alike `other` 67 and a calibration."""
    return staged_once(_chip67_lab, root)


def _chip67_lab(root: Path) -> Lab:
    lab = Lab(root)
    lab.write_run("Alisson_05_sept/IVg2025-09-05_2.csv", "IVg", start=local("2025-09-05 10:00:20"), light=False,
                  information="second sweep")
    lab.write_run("Alisson_05_sept/IVg2025-09-05_1.csv", "IVg", start=local("2025-09-05 10:00"), light=False)
    lab.write_run("Alisson_05_sept/It2025-09-05_1.csv", "It", start=local("2025-09-05 10:30"), wavelength=365)
    lab.write_run("Alisson_08_sept/It2025-09-08_1.csv", "It", start=local("2025-09-08 09:15"), vg=0.2)
    lab.write_run("Alisson_08_sept/It2025-09-08_2.csv", "It", start=local("2025-09-08 22:30"), light=False,
                  information="Dark relaxation overnight")
    lab.write_run("Alisson_08_sept/IV2025-09-08_1.csv", "IV", start=local("2025-09-08 08:00"), number=67,
                  group="other")
    lab.write_run("Alisson_08_sept/LaserCalibration2025-09-08_1.csv", "LaserCalibration",
                  start=local("2025-09-08 07:00"))
    lab.stage()
    return lab


def all_procedures_lab(root: Path) -> Lab:
    """It, IVg, IV and LaserCalibration runs (each procedure has columns the others lack), two chips, and one run
    whose run_id is all digits with a leading zero (the real data has an all-digit one): what readers get wrong."""
    lab = Lab(root)
    lab.write_run("2025-09-08/IVg2025-09-08_1.csv", "IVg", start=local("2025-09-08 10:00"), light=False)
    lab.write_run("2025-09-08/It2025-09-08_2.csv", "It", start=local("2025-09-08 10:30"))
    lab.write_run("2025-09-08/IV2025-09-08_3.csv", "IV", start=local("2025-09-08 11:00"), number=71, group="other")
    lab.write_run("2025-09-08/LaserCalibration2025-09-08_1.csv", "LaserCalibration", start=local("2025-09-08 07:00"))
    digits = "2025-09-09/It2025-09-09_1.csv"
    lab.write_run(digits, "It", start=all_digit_start(digits, local("2025-09-09 12:00")), light=False)
    lab.stage()
    return lab


@functools.cache  # a search of up to a million run_ids, for the same few files
def all_digit_start(source_file: str, near: dt.datetime) -> dt.datetime:
    """The first second from `near` at which the run of `source_file` gets an all-digit run_id starting with 0."""
    for seconds in range(10**6):
        start = near + dt.timedelta(seconds=seconds)
        run_id = run_id_for(source_file, start.astimezone(dt.UTC))
        if run_id.isdigit() and run_id.startswith("0"):
            return start
    raise AssertionError("no all-digit run_id within a million seconds")


# The TUI's lab: chips Alisson67 (dark IVg sweeps, light and dark It runs), Alisson71 and other71 (one number, two
# groups), and one rejected file (a header without a start time) that `fixed_reject` repairs; times frozen.
FROZEN = dt.datetime(2025, 10, 26, 15, 0, tzinfo=dt.UTC)  # "now" for ingest and reject times
FILE_MTIME = epoch(2025, 10, 25)
REJECT = "2025-10-14/It2025-10-14_9.csv"
DARK = {"Laser voltage": "0 V"}
OTHER71 = {"Chip group name": "other", "Chip number": "71"}
ALISSON71 = {"Chip number": "71"}
TUI_RUNS: dict[str, bytes] = {
    "2025-10-13/IVg2025-10-13_1.csv": raw_csv("IVg", start=epoch(2025, 10, 13, 13, 0)),
    "2025-10-13/It2025-10-13_2.csv": raw_csv("It", start=epoch(2025, 10, 13, 13, 10)),
    "2025-10-13/It2025-10-13_3.csv": raw_csv(
        "It", start=epoch(2025, 10, 13, 13, 20), params={"Laser wavelength": "365", "Information": "after annealing"}
    ),
    "2025-10-13/It2025-10-13_4.csv": raw_csv("It", start=epoch(2025, 10, 13, 13, 30), params=DARK),
    "2025-10-14/IVg2025-10-14_1.csv": raw_csv("IVg", start=epoch(2025, 10, 14, 12, 0), params=ALISSON71),
    "2025-10-14/IVg2025-10-14_2.csv": raw_csv("IVg", start=epoch(2025, 10, 14, 12, 5), params=OTHER71),
    REJECT: raw_csv("It", start=None, data_section=False),
}


def fixed_reject() -> bytes:
    """The rejected file as it should have been: it stages as a light It run of Alisson67."""
    return raw_csv("It", start=epoch(2025, 10, 14, 13, 0), params={"Information": "repaired"})


def tui_lab(root: Path, *, staged: bool = True, **settings: object) -> Lab:
    """The TUI's lab in `root`; one worker and one commit, so logs are in order; staged and frozen at FROZEN."""
    settings = {"workers": 1, "commit_interval_seconds": 600.0, **settings}
    if staged:
        return staged_once(_staged_tui_lab, root, **settings)
    return _tui_lab(root, staged=False, **settings)


def _tui_lab(root: Path, *, staged: bool, **settings: object) -> Lab:
    lab = Lab(root, mtime=FILE_MTIME, **settings)
    for rel, content in TUI_RUNS.items():
        lab.write(rel, content)
    if staged:
        lab.stage()
        lab.freeze(FROZEN)
    return lab


def _staged_tui_lab(root: Path, **settings: object) -> Lab:
    return _tui_lab(root, staged=True, **settings)


# -- a lab staged once per test process ----------------------------------------------------------------------------
_TEMPLATES: dict[str, Lab | None] = {}


def staged_once(build: Callable[..., Lab], root: Path, **settings: object) -> Lab:
    """`build(root, **settings)`, a lab that stages a fixed set of files: built once per test process (and builder
    and settings) in a folder of its own, then copied into `root` with its times, the store's identity naming
    `root`'s raw root and store as a stage in `root` records them. Hundreds of tests start from the same few labs;
    a copy takes milliseconds where a stage takes a tenth of a second or more.

    Built in place instead when a copy could differ from a lab built in `root`: settings naming a path, or a file
    other than the store's identity and the metrics table naming the folder it was built in (the table names its
    store as its owner: a copy's names the template's, which keeps no derived root of its own, and the copy's next
    write names the copy)."""
    if any(isinstance(value, Path) for value in settings.values()):
        return build(root, **settings)
    key = json.dumps([build.__module__, build.__qualname__, settings], sort_keys=True)
    if key not in _TEMPLATES:
        parent = Path(tempfile.mkdtemp(prefix="labtui-tests-"))
        atexit.register(shutil.rmtree, parent, ignore_errors=True)
        template = build(parent / "lab", **settings)
        identity = template.store_root / "_manifest" / "store.json"
        named = {path for path in parent.rglob("*") if path.is_file() and str(parent).encode() in path.read_bytes()}
        alone = not any(Path(str(template.settings[key])).is_absolute() for key in ("raw_root", "stage_root"))
        _TEMPLATES[key] = template if alone and identity in named <= {identity, template.config.metrics_path} else None
    template = _TEMPLATES[key]
    if template is None:
        return build(root, **settings)
    shutil.copytree(template.root, root, dirs_exist_ok=True)
    lab = Lab(root, mtime=template.mtime, **template.settings)
    config, identity = lab.config, lab.store_root / "_manifest" / "store.json"
    text = identity.read_text(encoding="utf-8")
    recorded = json.loads(text)
    for key, path in (("raw_root", config.raw_root), ("store_root", config.store_root)):
        text = text.replace(json.dumps(recorded[key]), json.dumps(os.path.abspath(path)))
    identity.write_text(text, encoding="utf-8")
    return lab
