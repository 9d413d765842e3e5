"""A reproduction of the lab's other tool's staging, for bench/stage.py to measure labtui against.

The other tool is the lab's optothermal_processing (`stage-all`: `src/core/stage_raw_measurements.py`,
`src/core/stage_utils.py`, `src/core/quality.py` and `config/procedures.yml`, as the public index holds them). This
is our own code following its per-file design step by step, not its source:

- a pool of 6 worker *processes* (the platform's default start method), one Polars thread each, one task per file,
  results taken as they complete with a progress line each;
- per file: the header read line by line with regular expressions; parameters and metadata cast to the types the
  procedures spec declares (numbers with units parsed by a regular expression); the data read again from the path
  with Polars' schema inference (10 000 rows, low memory, ragged lines truncated); the run id a SHA-1 of procedure,
  chip, start time and a SHA-1 of the data written back out as CSV; the data's columns matched to the spec's by
  normalised names and synonyms, cast, and validated against the spec; manifest columns taken by their aliases;
  the light flag, the duration and the IVg quality flags; run id, procedure and start time added as columns; the
  Parquet written to a temporary file and renamed into its Hive partition; an event JSON written;
- at the end every event JSON read back and the manifest written from them, then read again for the summary.

Its command line (`process_and_analyze.py stage-all`, Typer) imports every command module before it runs one (its
plugin system registers them that way), and the plotting commands import Matplotlib's pyplot at the top: the
process's start-up, reproduced by `start_up()`. `stage-all` runs 8 worker processes with 2 Polars threads each.

    python bench/other_tool.py RAW_DIR OUT_DIR      # prints the staging's wall time (from the pool's start), runs
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import re
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import polars as pl

WORKERS = 8  # `stage-all`'s default (the core module's own is 6, with 1 Polars thread)
POLARS_THREADS = "2"  # `stage-all`'s default: Polars threads per worker process
LOCAL_TZ = "America/Santiago"

# The procedures spec (the tool's config/procedures.yml): a parameter's type is the same in every procedure that has it.
PARAMETER_TYPES = {
    "Irange": "float", "Vrange": "float", "NPLC": "int", "N_avg": "int", "Chained execution": "bool",
    "Chip group name": "str", "Chip number": "int", "Information": "str", "Sample": "str", "Procedure version": "str",
    "Show more": "bool", "Laser toggle": "bool", "VG toggle": "bool", "Use temperature sensor": "bool",
    "Laser voltage": "float", "Laser wavelength": "float", "Wavelength": "float", "Laser ON+OFF period": "float",
    "Burn-in time": "float", "Step time": "float", "Sampling time (excluding Keithley)": "float", "VDS": "float",
    "VG": "float", "VG start": "float", "VG end": "float", "VG step": "float", "VSD start": "float",
    "VSD end": "float", "VSD step": "float", "Drain-Source current": "float", "Initial (current) T": "float",
    "Target T": "float", "T step start time": "float", "T start": "float", "T end": "float", "T step": "float",
    "Laser voltage start": "float", "Laser voltage end": "float", "Laser voltage step": "float",
    "Optical fiber": "str", "Pulse time": "float",
}
METADATA_TYPES = {"Start time": "datetime", "Sensor model": "str"}
DATA_COLUMNS = {
    "IVg": ["Vg (V)", "I (A)"], "IV": ["Vsd (V)", "I (A)", "t (s)"], "It": ["t (s)", "I (A)", "VL (V)"],
    "ITt": ["t (s)", "I (A)", "VL (V)", "Plate T (degC)", "Ambient T (degC)", "Clock (ms)"],
    "IVgT": ["Vg (V)", "I (A)", "Plate T (degC)", "Ambient T (degC)", "Clock (ms)"],
    "VVg": ["Vg (V)", "VDS (V)", "t (s)", "Plate T (degC)", "Ambient T (degC)", "Clock (ms)"],
    "Vt": ["t (s)", "VDS (V)", "VL (V)", "Plate T (degC)", "Ambient T (degC)", "Clock (ms)"],
    "LaserCalibration": ["VL (V)", "Power (W)"], "Tt": ["Time (s)", "Plate Temperature (degC)"],
}
MANIFEST_COLUMNS = {
    "vds_v": ["VDS", "Vds", "VSD", "Drain voltage"], "vg_fixed_v": ["VG", "Vg"], "vg_start_v": ["VG start"],
    "vg_end_v": ["VG end"], "vg_step_v": ["VG step"], "vsd_start_v": ["VSD start"], "vsd_end_v": ["VSD end"],
    "vsd_step_v": ["VSD step"], "ids_v": ["Drain-Source current"], "wavelength_nm": ["Laser wavelength"],
    "laser_voltage_V": ["Laser voltage"], "laser_period_s": ["Laser ON+OFF period"],
    "laser_voltage_start_v": ["Laser voltage start"], "laser_voltage_end_v": ["Laser voltage end"],
    "laser_voltage_step_v": ["Laser voltage step"], "optical_fiber": ["Optical fiber"],
    "sensor_model": ["Sensor model"],
}
SYNONYMS = {
    "I (A)": [r"^i$", r"^i_a$", r"^id(_a)?$", r"^ids(_a)?$", r"^current(_a)?$"],
    "Vsd (V)": [r"^vsd(_v)?$", r"^vd(_v)?$", r"^vds(_v)?$"], "Vg (V)": [r"^vg(_v)?$", r"^gate_v(_v)?$"],
    "VL (V)": [r"^vl(_v)?$"], "t (s)": [r"^t(_s)?$", r"^time(_s)?$"],
}

PROCEDURE = re.compile(r"^#\s*Procedure\s*:\s*<([^>]+)>\s*$", re.I)
SECTION = re.compile(r"^#\s*(Parameters|Metadata|Data)\s*:\s*$", re.I)
KEY_VALUE = re.compile(r"^#\s*([^:]+):\s*(.*)\s*$")
NUMBER_UNIT = re.compile(r"^\s*([-+]?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)\s*([^\s]+)?\s*$")


def read_header(path: Path) -> tuple[str | None, dict[str, str], dict[str, str]]:
    """Procedure, parameters and metadata, one regular expression after another per line up to `#Data:`."""
    proc, section = None, ""
    blocks: dict[str, dict[str, str]] = {"parameters": {}, "metadata": {}}
    with path.open("r", errors="ignore", encoding="utf-8") as lines:
        for line in lines:
            text = line.strip()
            if (found := SECTION.match(text)) is not None:
                section = found.group(1).lower()
                if section == "data":
                    break
                continue
            if (found := PROCEDURE.match(text)) is not None:
                proc = found.group(1).split(".")[-1].strip()
            elif text.startswith("#") and (found := KEY_VALUE.match(text)) is not None and section in blocks:
                blocks[section][found.group(1).strip()] = found.group(2).strip()
    return proc, blocks["parameters"], blocks["metadata"]


def cast(value: str, kind: str) -> Any:
    """A header value as its declared type; the text when it does not cast."""
    try:
        if kind in ("int", "float"):
            found = NUMBER_UNIT.match(value)
            number = float(found.group(1)) if found else float(value)
            return int(number) if kind == "int" else number
        if kind == "bool":
            return value.strip().lower() in {"1", "true", "yes", "on", "y"}
        if kind == "datetime":
            return dt.datetime.fromtimestamp(float(value), dt.UTC)
    except ValueError:
        pass
    return value


def normalised(name: str) -> str:
    return re.sub(r"\s+", "", name.strip().lower()).translate(str.maketrans("", "", "_-()[]"))


def spec_names(columns: list[str], wanted: list[str]) -> dict[str, str]:
    """The data's columns renamed to the spec's: by normalised name, else by a synonym."""
    by_normal = {normalised(c): c for c in columns}
    rename: dict[str, str] = {}
    for target in wanted:
        if normalised(target) in by_normal:
            rename[by_normal[normalised(target)]] = target
            continue
        for pattern in SYNONYMS.get(target, []):
            hit = next((c for c in columns if re.fullmatch(pattern, c, re.I) or re.fullmatch(pattern, normalised(c))),
                       None)
            if hit is not None:
                rename[hit] = target
                break
    return rename


def quality_flags(frame: pl.DataFrame) -> str | None:
    """The IVg dead-sample flags: open circuit, flat sweep, stuck in compliance."""
    current = np.abs(frame["I (A)"].to_numpy())
    peak = float(np.nanmax(current))
    if not np.isfinite(peak):
        return None
    if peak < 1e-12:
        return "DEAD_OPEN_CIRCUIT"
    flags = ["DEAD_FLAT_IVG"] * ((peak - float(np.nanmin(current))) / peak < 0.15)
    flags += ["DEAD_STUCK_SATURATED"] * (float(np.mean(np.abs(current - peak) < 0.01 * peak)) > 0.95)
    return ",".join(flags) or None


def stage_file(source: str, out: str) -> dict[str, Any]:
    """One file in a worker process, its event written; the event back (status "reject" with the error)."""
    path, events = Path(source), Path(out) / "_manifest" / "events"
    try:
        proc, raw_parameters, raw_metadata = read_header(path)
        if proc is None:
            raise RuntimeError("missing '# Procedure:'")
        parameters = {k: cast(v, PARAMETER_TYPES.get(k, "str")) for k, v in raw_parameters.items()}
        metadata = {k: cast(v, METADATA_TYPES.get(k, "str")) for k, v in raw_metadata.items()}
        start = metadata.get("Start time", parameters.get("Start time"))
        if not isinstance(start, dt.datetime):
            start = dt.datetime.fromtimestamp(path.stat().st_mtime, dt.UTC)
        date = start.astimezone(ZoneInfo(LOCAL_TZ)).date().isoformat()
        frame = pl.read_csv(path, comment_prefix="#", infer_schema_length=10000, try_parse_dates=False,
                            low_memory=True, truncate_ragged_lines=True)
        if frame.height == 0:
            raise RuntimeError("empty data table")
        content = hashlib.sha1(frame.write_csv().encode()).hexdigest()
        identity = "|".join([proc, str(parameters.get("Chip group name", "")), str(parameters.get("Chip number", "")),
                             f"{start:%Y-%m-%dT%H:%M:%S.%f}", content])
        run_id = hashlib.sha1(identity.encode()).hexdigest()[:16]
        wanted = DATA_COLUMNS.get(proc, [])
        frame = frame.rename(spec_names(frame.columns, wanted))
        frame = frame.with_columns(pl.col(c).cast(pl.Float64, strict=False) for c in wanted if c in frame.columns)
        problems = [f"missing column {c}" for c in wanted if c not in frame.columns]
        problems += [f"{k} is not {PARAMETER_TYPES[k]}" for k, v in parameters.items()
                     if PARAMETER_TYPES.get(k) in ("int", "float") and not isinstance(v, int | float)]
        sources = {**parameters, **metadata}
        manifest = {name: value for name, aliases in MANIFEST_COLUMNS.items()
                    if (value := next((sources[a] for a in aliases if a in sources), None)) is not None}
        duration = next((frame[c].max() for c in ("t (s)", "Time (s)") if c in frame.columns), None)
        folder = Path(out) / f"proc={proc}" / f"date={date}" / f"run_id={run_id}"
        folder.mkdir(parents=True, exist_ok=True)
        frame = frame.with_columns(pl.lit(run_id).alias("run_id"), pl.lit(proc).alias("proc"),
                                   pl.lit(start).alias("start_dt"))
        with tempfile.NamedTemporaryFile("wb", delete=False, dir=folder) as temporary:
            written = Path(temporary.name)
        frame.write_parquet(written)
        written.replace(folder / "part-000.parquet")
        event = {"status": "ok", "ingested_at_utc": dt.datetime.now(dt.UTC), "run_id": run_id, "proc": proc,
                 "rows": frame.height, "path": str(folder / "part-000.parquet"), "source_file": source,
                 "chip_group": parameters.get("Chip group name"), "chip_number": parameters.get("Chip number"),
                 "start_time_utc": start, "date_local": date, "duration_s": duration,
                 "has_light": "wavelength_nm" in manifest and manifest.get("laser_voltage_V", 0.0) != 0.0,
                 "validation_messages": problems,
                 "quality_flags": quality_flags(frame) if proc == "IVg" and "I (A)" in frame.columns else None,
                 **manifest}
        events.mkdir(parents=True, exist_ok=True)
        with (events / f"event-{run_id}.json").open("w", encoding="utf-8") as handle:
            json.dump(event, handle, ensure_ascii=False, default=str)
        return event
    except Exception as error:  # the tool turns any failure into a reject record
        return {"status": "reject", "source_file": source, "error": str(error)}


def write_manifest(out: Path) -> int:
    """Every event JSON read back, their keys unified, the manifest written; the number of runs."""
    rows = [json.loads(p.read_text(encoding="utf-8")) for p in sorted((out / "_manifest" / "events").glob("*.json"))]
    keys = sorted({key for row in rows for key in row})
    frame = pl.DataFrame([{key: row.get(key) for key in keys} for row in rows], infer_schema_length=None)
    frame.write_parquet(out / "_manifest" / "manifest.parquet")
    return frame.height


def start_up() -> None:
    """What the tool's command line imports before it stages, of what is installed here: Rich (its console, panels,
    tables, progress), PyYAML, Pydantic and pyplot (Typer and SciencePlots are not installed, and left out)."""
    import matplotlib.pyplot  # noqa: F401
    import pydantic  # noqa: F401
    import rich.console
    import rich.panel
    import rich.progress
    import rich.table  # noqa: F401
    import yaml  # noqa: F401


def main() -> None:
    raw, out = Path(sys.argv[1]), Path(sys.argv[2])
    start_up()
    started = time.perf_counter()
    os.environ["POLARS_MAX_THREADS"] = POLARS_THREADS  # set before the pool starts, as the tool sets it
    files = sorted(p for p in raw.rglob("*.csv") if not p.name.startswith("._"))
    with ProcessPoolExecutor(WORKERS) as pool:
        futures = [pool.submit(stage_file, str(p), str(out)) for p in files]
        for number, future in enumerate(as_completed(futures), 1):
            event = future.result()
            where = event.get("path", event.get("error"))
            print(f"[{number:04d}] {event['status']:>7} {event.get('proc', '')} {where}", file=sys.stderr)
    runs = write_manifest(out)
    elapsed = time.perf_counter() - started
    summary = pl.read_parquet(out / "_manifest" / "manifest.parquet").group_by("proc").len().sort("len")
    print(f"staged {runs} runs in {elapsed:.1f} s: {dict(summary.iter_rows())}", file=sys.stderr)
    print(elapsed, runs)


if __name__ == "__main__":
    main()
