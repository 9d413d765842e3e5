"""The synthetic lab: deterministic, in the real files' exact format, physically sane, irregular only on request."""

from __future__ import annotations

import datetime as dt
import io
import itertools
import os
import re
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import polars as pl
import pytest

from labtui.synth import IRREGULARITIES, LabSpec, LabSummary, chip_device, generate_lab, write_files, write_run

REAL_RAW = Path(__file__).resolve().parents[2] / "shared" / "realdata" / "raw"


def needs_real(test):  # a pytest decorator
    """Compared against the lab's real files when they are around, skipped otherwise."""
    skip = pytest.mark.skipif(not REAL_RAW.is_dir(), reason=f"no real data at {REAL_RAW}")
    return pytest.mark.realdata(skip(test))

PROCS = ("It", "IVg", "IV", "LaserCalibration")
START = dt.datetime(2025, 10, 13, 16, 18, 6, 969408, tzinfo=dt.UTC)
ISO_FOLDER = re.compile(r"^\d{4}-\d{2}-\d{2}$")
LEGACY_FOLDER = re.compile(r"^[A-Za-z]+_(\d{2})_([a-z]+)$")
MONTHS = {"jan": 1, "feb": 2, "mar": 3, "apr": 4, "may": 5, "jun": 6, "jul": 7, "aug": 8, "sept": 9, "oct": 10,
          "nov": 11, "dec": 12}


@dataclass
class Parsed:
    procedure: str
    params: dict[str, str]  # in file order
    metadata: dict[str, str]
    columns: list[str]
    rows: list[str]
    body: bytes  # column row + data rows, for Polars


def parse(path: Path) -> Parsed:
    """A deliberately independent reader of the raw format (not the project's parser)."""
    raw = path.read_bytes()
    lines = raw.decode().split("\r\n")
    assert lines[-1] == "", "the file must end with CRLF"
    data_at = lines.index("#Data:")
    meta_at = lines.index("#Metadata:") if "#Metadata:" in lines else data_at
    assert lines[1] == "#Parameters:"

    def pairs(block: list[str]) -> dict[str, str]:
        assert all(line.startswith("#\t") for line in block), block
        return dict(line[2:].split(": ", 1) for line in block)

    body_at = raw.index(b"#Data:\r\n") + len(b"#Data:\r\n")
    return Parsed(lines[0], pairs(lines[2:meta_at]), pairs(lines[meta_at + 1:data_at]), lines[data_at + 1].split(","),
                  lines[data_at + 2:-1], raw[body_at:])


def frame(parsed: Parsed) -> pl.DataFrame:
    return pl.read_csv(io.BytesIO(parsed.body), schema={name: pl.Float64 for name in parsed.columns})


def tree(root: Path) -> dict[str, bytes]:
    return {path.relative_to(root).as_posix(): path.read_bytes() for path in sorted(root.rglob("*")) if path.is_file()}


def folder_date(folder: str) -> dt.date:
    if ISO_FOLDER.match(folder):
        return dt.date.fromisoformat(folder)
    day, month = LEGACY_FOLDER.match(folder).groups()  # type: ignore[union-attr]
    return dt.date(2025, MONTHS[month], int(day))


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> LabSummary:
    return generate_lab(tmp_path_factory.mktemp("lab") / "01_raw")


@pytest.fixture(scope="module")
def clean_lab(tmp_path_factory: pytest.TempPathFactory) -> LabSummary:
    return generate_lab(tmp_path_factory.mktemp("clean") / "01_raw", LabSpec(irregularities=False))


def complete_runs(summary: LabSummary, proc: str) -> list:
    irregular = {item.path for item in summary.irregular}
    return [run for run in summary.runs if run.proc == proc and run.complete and run.path not in irregular]


# --- determinism ---------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def seed_7(tmp_path_factory: pytest.TempPathFactory) -> LabSummary:
    """A small lab of seed 7, generated once for the two seed tests to compare against (~2 s a lab)."""
    return generate_lab(tmp_path_factory.mktemp("seed_7"), LabSpec(chips=2, days=4, seed=7))


def test_same_seed_gives_a_byte_identical_tree(seed_7: LabSummary, tmp_path: Path) -> None:
    again = generate_lab(tmp_path, LabSpec(chips=2, days=4, seed=7))
    assert tree(seed_7.root) == tree(tmp_path)
    assert seed_7.runs == again.runs and seed_7.irregular == again.irregular


def test_different_seed_gives_a_different_tree(seed_7: LabSummary, tmp_path: Path) -> None:
    generate_lab(tmp_path, LabSpec(chips=2, days=4, seed=8))
    assert tree(seed_7.root) != tree(tmp_path)


def test_write_run_depends_only_on_its_arguments(tmp_path: Path) -> None:
    same = [write_run(tmp_path / name, "It", file_idx=1, start_utc=START) for name in ("a", "b")]
    other = write_run(tmp_path / "c", "It", file_idx=1, start_utc=START, seed=1)
    assert same[0].read_bytes() == same[1].read_bytes()
    assert other.read_bytes() != same[0].read_bytes()


def test_lab_dates_come_from_the_spec_not_the_clock(tmp_path: Path) -> None:
    start = dt.date(2024, 3, 4)
    summary = generate_lab(tmp_path, LabSpec(chips=1, days=3, start_date=start, irregularities=False))
    assert {run.date_local for run in summary.runs} <= {start + dt.timedelta(days=i) for i in range(3)}
    assert {run.day_folder for run in summary.runs} <= {(start + dt.timedelta(days=i)).isoformat() for i in range(3)}


# --- format fidelity -----------------------------------------------------------------------------------------------

def real_files(proc: str) -> list[Path]:
    return sorted(path for path in REAL_RAW.rglob(f"{proc}2*.csv") if b"#Metadata:" in path.read_bytes())


@needs_real
@pytest.mark.parametrize("proc", PROCS)
def test_header_and_columns_match_the_real_files(proc: str, lab: LabSummary) -> None:
    real = [parse(path) for path in real_files(proc)[:40]]
    synth = parse(lab.root / complete_runs(lab, proc)[0].path)
    assert synth.procedure in {file.procedure for file in real}
    assert list(synth.params) in [list(file.params) for file in real]
    assert list(synth.metadata) in [list(file.metadata) for file in real]
    assert synth.columns in [file.columns for file in real]


@needs_real
@pytest.mark.parametrize("proc", PROCS)
def test_header_values_are_formatted_like_the_real_ones(proc: str, lab: LabSummary) -> None:
    units: dict[str, set[str]] = {}
    for path in real_files(proc)[:40]:
        for key, value in parse(path).params.items():
            units.setdefault(key, set()).add(value.partition(" ")[2] if re.match(r"^-?[\d.]+ ", value) else "")
    for run in complete_runs(lab, proc)[:30]:
        for key, value in parse(lab.root / run.path).params.items():
            if re.match(r"^-?[\d.]+( |$)", value):
                assert value.partition(" ")[2] in units[key], (key, value)
                assert not re.match(r"^-?\d+\.0( |$)", value), f"{key}: {value} prints a needless .0"


@needs_real
@pytest.mark.parametrize("proc", ("IVg", "IV", "LaserCalibration"))
def test_sweep_columns_reproduce_the_real_ones_exactly(proc: str, tmp_path: Path) -> None:
    sweep_keys = {"IVg": ("VG start", "VG end", "VG step"), "IV": ("VSD start", "VSD end", "VSD step"),
                  "LaserCalibration": ("Laser voltage start", "Laser voltage end", "Laser voltage step")}[proc]
    seen = set()
    for path in real_files(proc):
        real = parse(path)
        sweep = tuple(real.params[key] for key in sweep_keys)
        if sweep in seen:
            continue
        seen.add(sweep)
        params = dict(zip(sweep_keys, sweep, strict=True))
        synth = parse(write_run(tmp_path, proc, file_idx=len(seen), start_utc=START, params=params))
        assert len(synth.rows) >= len(real.rows), f"{path.name}: aborted real runs are shorter, never longer"
        assert [row.split(",")[0] for row in synth.rows[: len(real.rows)]] == [row.split(",")[0] for row in real.rows]
    assert seen  # the comparison ran


def test_lines_are_crlf_and_numbers_are_python_reprs(lab: LabSummary) -> None:
    for run in lab.runs[::15]:
        raw = (lab.root / run.path).read_bytes()
        assert raw.count(b"\n") == raw.count(b"\r\n") > 0
        parsed = parse(lab.root / run.path)
        sensors = len(parsed.columns) - (2 if run.proc != "It" else 3)
        for row in parsed.rows:
            tokens = row.split(",")
            assert tokens[len(tokens) - sensors:] == ["nan"] * sensors
            for token in tokens[: len(tokens) - sensors]:
                assert repr(float(token)) == token, (run.path, row)


def test_line_ending_can_be_changed(tmp_path: Path) -> None:
    raw = write_run(tmp_path, "IVg", file_idx=1, start_utc=START, line_ending="\n").read_bytes()
    assert b"\r" not in raw and raw.count(b"\n") == 21 + 601


@pytest.mark.parametrize("proc", PROCS)
def test_data_block_parses_with_an_explicit_float64_schema(proc: str, lab: LabSummary) -> None:
    expected_columns = {"It": ["t (s)", "I (A)", "VL (V)"], "IVg": ["Vg (V)", "I (A)"], "IV": ["Vsd (V)", "I (A)"],
                        "LaserCalibration": ["VL (V)", "Power (W)"]}[proc]
    sensors = [] if proc == "LaserCalibration" else ["Plate T (degC)", "Ambient T (degC)", "Clock (ms)"]
    run = complete_runs(lab, proc)[0]
    data = frame(parse(lab.root / run.path))
    assert data.columns == expected_columns + sensors
    assert all(dtype == pl.Float64 for dtype in data.dtypes)
    assert data.height == run.n_rows == run.expected_rows
    assert data.select(pl.col(expected_columns).is_nan().any()).row(0) == (False,) * len(expected_columns)
    assert all(data[name].is_nan().all() for name in sensors)


def test_file_names_carry_the_queue_date_and_the_procedure(lab: LabSummary) -> None:
    for run in lab.runs:
        folder, name = run.path.split("/")
        match = re.fullmatch(r"([A-Za-z]+)(\d{4}-\d{2}-\d{2})_(\d+)\.csv", name)
        assert match and folder == run.day_folder
        assert match[1] == run.proc and parse(lab.root / run.path).procedure.endswith(f".{run.proc}.{run.proc}>")
        assert dt.date.fromisoformat(match[2]) == folder_date(folder)


def test_queue_indices_count_per_day_and_procedure_in_time_order(clean_lab: LabSummary) -> None:
    queues: dict[tuple[str, str], list] = {}
    for run in sorted(clean_lab.runs, key=lambda run: run.start_utc):
        queues.setdefault((run.day_folder, run.proc), []).append(int(run.path.rsplit("_", 1)[1][:-4]))
    assert all(indices == list(range(1, len(indices) + 1)) for indices in queues.values())
    assert any(proc == "It" for _, proc in queues) and any(proc == "IVg" for _, proc in queues)


# --- physics ---------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("chip_number", (67, 71, 80))
def test_ivg_minimum_sits_at_the_chip_dirac_point_with_hysteresis(chip_number: int, tmp_path: Path) -> None:
    device = chip_device("Alisson", chip_number, 0)
    data = frame(parse(write_run(tmp_path, "IVg", file_idx=1, start_utc=START, chip_number=chip_number)))
    vg, current = data["Vg (V)"].to_numpy(), data["I (A)"].to_numpy()
    up, down = slice(100, 301), slice(300, 501)  # −5 → 5 and 5 → −5 of the 601-point sweep
    dirac_up, dirac_down = vg[up][np.argmin(current[up])], vg[down][np.argmin(current[down])]
    assert abs((dirac_up + dirac_down) / 2 - device.vd0) < 0.3
    assert dirac_down > dirac_up  # trapped charge: the down-sweep sees the Dirac point later
    assert min(current[100], current[300]) > 1.3 * current.min()  # both branches rise: ambipolar V
    assert 3e-6 < current.min() < 1e-4 and current.max() < 3e-4


def test_lab_ivg_minima_follow_the_recorded_dirac_point(lab: LabSummary) -> None:
    checked = 0
    for run in complete_runs(lab, "IVg"):
        data = frame(parse(lab.root / run.path))
        if data.height != 601 or run.laser_voltage:
            continue
        leg = data[100:301]
        assert abs(leg["Vg (V)"][int(leg["I (A)"].arg_min())] - run.dirac_v) < 0.7, run.path  # hysteresis ≤ 0.5 V
        checked += 1
    assert checked > 100


@pytest.mark.parametrize("period", (120, 240))
def test_it_time_axis_and_laser_window(period: int, tmp_path: Path) -> None:
    params = {"Laser voltage": 1.2, "Laser ON+OFF period": period}
    data = frame(parse(write_run(tmp_path, "It", file_idx=1, start_utc=START, params=params)))
    t, vl = data["t (s)"].to_numpy(), data["VL (V)"].to_numpy()
    assert t[0] == 0.0 and t[-1] >= 1.5 * period > t[-2]
    assert 0.083 < np.median(np.diff(t)) < 0.086 and np.all(np.diff(t) > 0)
    assert 0.93 < len(t) / (1.5 * period / 0.0836) < 1.01
    previous = np.r_[-1.0, t[:-1]]
    assert np.array_equal(vl, np.where((previous >= period / 2) & (previous < period), 1.2, 0.0))


def photoresponse(path: Path, period: float = 120) -> tuple[float, float, float]:
    """(dark level before the laser, relative step while on, fraction of the step left at the end)."""
    data = frame(parse(path))
    t, current = data["t (s)"].to_numpy(), data["I (A)"].to_numpy()
    dark = current[(t > 0.4 * period) & (t < 0.5 * period)].mean()
    lit = current[(t > 0.9 * period) & (t < period)].mean()
    end = current[t > 1.45 * period].mean()
    return dark, (lit - dark) / dark, (end - dark) / (lit - dark)


def test_it_photoresponse_sign_follows_the_gate_and_size_the_wavelength(tmp_path: Path) -> None:
    vd = chip_device("Alisson", 67, 0).vd0

    def step(idx: int, vg: float, wavelength: int, laser_v: float) -> tuple[float, float, float]:
        params = {"VG": round(vd + vg, 2), "Laser wavelength": wavelength, "Laser voltage": laser_v}
        return photoresponse(write_run(tmp_path, "It", file_idx=idx, start_utc=START, params=params))

    dark, holes, left = step(1, -3, 365, 4.5)
    assert 5e-6 < dark < 2e-4
    assert -0.3 < holes < -0.005  # light n-dopes: on the hole side the current drops
    assert 0 < left < 1  # relaxes after switch-off, partly persistent
    assert 0.005 < step(2, +3, 365, 4.5)[1] < 0.3  # on the electron side it rises
    assert abs(step(3, -3, 850, 4.5)[1]) < abs(holes) / 5  # infrared barely gates
    assert abs(step(4, -3, 365, 0)[1]) < 0.003  # no light, no step


def test_laser_calibration_is_linear_above_threshold(tmp_path: Path) -> None:
    path = write_run(tmp_path, "LaserCalibration", file_idx=1, start_utc=START, params={"Laser wavelength": 405})
    parsed = parse(path)
    assert "Chip number" not in parsed.params and list(parsed.metadata) == ["Sensor model", "Start time"]
    data = frame(parsed)
    vl, power = data["VL (V)"].to_numpy(), data["Power (W)"].to_numpy()
    assert len(vl) == 51 and power[0] < 5e-8
    lit = vl >= 0.5
    slope, offset = np.polyfit(vl[lit], power[lit], 1)
    residual = power[lit] - (slope * vl[lit] + offset)
    assert 1e-7 < slope < 5e-5 and np.abs(residual).max() < 0.02 * power.max()


def test_iv_is_ohmic_through_the_origin_with_the_ivg_conductance(tmp_path: Path) -> None:
    device = chip_device("Alisson", 67, 0)
    data = frame(parse(write_run(tmp_path, "IV", file_idx=1, start_utc=START)))
    vsd, current = data["Vsd (V)"].to_numpy(), data["I (A)"].to_numpy()
    away = np.abs(vsd) > 0.005
    assert len(vsd) == 44 and np.all(np.sign(current[away]) == np.sign(vsd[away]))
    assert current[vsd == 0.1][0] == pytest.approx(float(device.current(0.0, 0.1, device.vd0)), rel=0.02)


def test_aborted_runs_are_shorter_than_their_sweep_or_period(tmp_path: Path, lab: LabSummary) -> None:
    assert len(parse(write_run(tmp_path, "IVg", file_idx=1, start_utc=START, n_rows=100)).rows) == 100
    aborted = lab.of_kind("aborted_run")
    assert aborted
    for item in aborted:
        run = next(run for run in lab.runs if run.path == item.path)
        assert len(parse(lab.root / run.path).rows) == run.n_rows < run.expected_rows


def test_dead_chip_reads_noise_level_currents(lab: LabSummary) -> None:
    dead = {item.path for item in lab.of_kind("dead_chip")}
    for run in lab.runs:
        if run.proc == "IVg" and run.start_utc is not None:
            peak = frame(parse(lab.root / run.path))["I (A)"].abs().max()
            assert (peak < 2e-8) == (run.path in dead), run.path


# --- the lab and its irregularities --------------------------------------------------------------------------------

def test_default_lab_has_a_realistic_size_and_mix(lab: LabSummary) -> None:
    assert 500 <= sum(lab.counts.values()) <= 700
    assert set(lab.counts) == set(PROCS) and lab.counts["It"] > lab.counts["LaserCalibration"]
    assert len([chip for chip in lab.chips if chip[0] == "Alisson"]) == 6
    assert all((run.chip is None) == (run.proc == "LaserCalibration") for run in lab.runs)
    lights = [run for run in lab.runs if run.proc == "It" and run.laser_voltage]
    assert all(run.laser_voltage >= 0.1 for run in lights) and len(lights) > 0.8 * lab.counts["It"]


def test_every_irregularity_is_present_when_on(lab: LabSummary) -> None:
    assert {item.kind for item in lab.irregular} == IRREGULARITIES
    by_path = {run.path: run for run in lab.runs}
    for path in lab.rejects:
        parsed = parse(lab.root / path)
        assert not parsed.metadata and not parsed.rows and "#Metadata:" not in (lab.root / path).read_text()
    for item in lab.of_kind("overnight_run"):
        run = by_path[item.path]
        assert run.date_local == folder_date(run.day_folder) + dt.timedelta(days=1)
    for item in lab.of_kind("evening_run"):
        run = by_path[item.path]
        assert run.date_local == folder_date(run.day_folder) != run.start_utc.date()
    reused = {by_path[item.path].chip for item in lab.of_kind("chip_reused")}
    assert {("Alisson", number) for _, number in reused} <= set(lab.chips) and all(g == "other" for g, _ in reused)
    assert all((lab.root / item.path).read_bytes().startswith(b"\x00\x00\x00\x01Bud1")
               for item in lab.of_kind("junk_file"))
    assert all(LEGACY_FOLDER.match(item.path) for item in lab.of_kind("legacy_folder"))


def test_mtimes_are_run_ends_except_the_file_still_being_written(lab: LabSummary) -> None:
    (busy,) = lab.of_kind("in_progress")
    newest = max((run for run in lab.runs if run.start_utc), key=lambda run: run.start_utc)
    assert busy.path == newest.path and busy.expect == "defer"
    for run in lab.runs[::20]:
        if run.start_utc is not None and run.path != busy.path:
            lag = os.stat(lab.root / run.path).st_mtime - run.start_utc.timestamp()
            assert 0 < lag < 3 * 3600 * 1.5, run.path
    assert os.stat(lab.root / busy.path).st_mtime > max(os.stat(lab.root / run.path).st_mtime for run in lab.runs
                                                        if run.path != busy.path)


def test_no_irregularity_when_off(clean_lab: LabSummary) -> None:
    assert clean_lab.irregular == () and clean_lab.rejects == ()
    assert not list(clean_lab.root.rglob(".*"))
    for run in clean_lab.runs:
        assert run.complete and ISO_FOLDER.match(run.day_folder) and (run.chip is None or run.chip[0] == "Alisson")
        assert run.date_local == dt.date.fromisoformat(run.day_folder) == run.start_utc.date()
        assert "#Metadata:" in (clean_lab.root / run.path).read_text()


@pytest.mark.parametrize("seed", (9, 21))  # labs whose long days reach the closing hour
def test_ordinary_days_close_before_the_evening(seed: int, tmp_path: Path) -> None:
    summary = generate_lab(tmp_path, LabSpec(chips=4, days=8, seed=seed, irregularities=False))
    zone = ZoneInfo("America/Santiago")
    assert max(run.start_utc.astimezone(zone).time() for run in summary.runs) < dt.time(19, 30)


def test_irregularities_switch_individually(tmp_path: Path) -> None:
    chosen = {"junk_file", "aborted_run", "index_gap"}
    summary = generate_lab(tmp_path, LabSpec(chips=2, days=5, irregularities=chosen))
    assert {item.kind for item in summary.irregular} == chosen


def test_unknown_irregularity_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown irregularities"):
        LabSpec(irregularities={"aborted_run", "cosmic_ray"})


# --- the fixture factory -------------------------------------------------------------------------------------------

def test_write_run_overrides_drops_and_omits_keys(tmp_path: Path) -> None:
    params = {"Laser voltage": 1.2, "VG": -0.35, "Laser ON+OFF period": 240, "Information": None}
    parsed = parse(write_run(tmp_path, "It", file_idx=7, start_utc=START, params=params))
    assert parsed.params["Laser voltage"] == "1.2 V" and parsed.params["VG"] == "-0.35 V"
    assert parsed.params["Laser ON+OFF period"] == "240 s" and "Information" not in parsed.params
    assert parsed.metadata == {"Start time": repr(START.timestamp())}
    assert set(frame(parsed)["VL (V)"].unique()) == {0.0, 1.2}
    anonymous = parse(write_run(tmp_path, "IVg", file_idx=1, start_utc=START, chip_group=None, chip_number=None))
    assert "Chip group name" not in anonymous.params and "Chip number" not in anonymous.params


def test_write_run_names_aborts_and_header_only(tmp_path: Path) -> None:
    evening = dt.datetime(2025, 9, 16, 1, 30, tzinfo=dt.UTC)  # 22:30 on the 15th in Santiago
    assert write_run(tmp_path, "IVg", file_idx=3, start_utc=evening).name == "IVg2025-09-15_3.csv"
    custom = write_run(tmp_path, "It", file_idx=10, start_utc=START, file_name="It2025-09-25_10.csv",
                       header_only=True)
    raw = custom.read_bytes()
    assert custom.name == "It2025-09-25_10.csv" and b"#Metadata:" not in raw and b"Start time" not in raw
    assert raw.endswith(b"#Data:\r\nt (s),I (A),VL (V),Plate T (degC),Ambient T (degC),Clock (ms)\r\n")


def test_write_run_refuses_naive_times_and_unknown_procedures(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        write_run(tmp_path, "It", file_idx=1, start_utc=dt.datetime(2025, 9, 15, 12))
    with pytest.raises(ValueError, match="unknown procedure"):
        write_run(tmp_path, "Stress", file_idx=1, start_utc=START)


def test_write_files_queues_consecutive_runs(tmp_path: Path) -> None:
    paths = write_files(tmp_path, "IVg", 3, seed=4, chip_number=81)
    assert [path.name for path in paths] == [f"IVg2025-09-15_{i}.csv" for i in (1, 2, 3)]
    starts = [float(parse(path).metadata["Start time"]) for path in paths]
    assert all(later - earlier > 60 for earlier, later in itertools.pairwise(starts))
    assert len({path.read_bytes().split(b"#Data:")[1] for path in paths}) == 3
