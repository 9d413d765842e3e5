"""A reproduction of the lab's other tool's staging, for bench/stage.py to measure labtui against.

The other tool (python-lab, `src/models/config.py` at the commit the real data comes from) stages with a pool of
`workers` = 6 worker *processes*, one Polars thread each; per file it parses the header in Python, reads the data
with Polars' schema inference, validates a Pydantic manifest row, writes the run's Parquet and an event JSON; the
manifest is written once at the end. This is our own code following that design, not the tool's source:

    python bench/other_tool.py RAW_DIR OUT_DIR      # prints the wall time of the staging (pool start included)
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import multiprocessing
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import polars as pl
from pydantic import BaseModel, ConfigDict

WORKERS = 6  # the tool's default


class Row(BaseModel):
    model_config = ConfigDict(extra="forbid")
    run_id: str
    source_file: str
    proc: str
    start_time_utc: dt.datetime
    parameters: dict[str, str]
    n_rows: int
    source_sha256: str


def read_run(path: Path, raw: Path) -> tuple[Row, pl.DataFrame] | None:
    """A file's manifest row and data, as the tool reads them (None: a file it skips)."""
    data = path.read_bytes()
    params: dict[str, str] = {}
    proc, data_at = "", -1
    lines = data.split(b"\n")
    for number, line in enumerate(lines):
        text = line.decode("utf-8", "replace").strip()
        if text.startswith("#Procedure:"):
            proc = text.rsplit(".", 1)[-1].rstrip(">").strip()
        elif text.startswith("#Data:"):
            data_at = number + 1
            break
        elif text.startswith("#\t") and ":" in text:
            key, value = text[2:].split(":", 1)
            params[key.strip()] = value.strip()
    if data_at < 0 or "Start time" not in params:
        return None
    try:
        frame = pl.read_csv(b"\n".join(lines[data_at:]), infer_schema_length=1000)
    except pl.exceptions.PolarsError:
        return None
    start = dt.datetime.fromtimestamp(float(params["Start time"]), dt.UTC)
    rel = path.relative_to(raw).as_posix()
    run_id = hashlib.sha1(f"{rel.lower()}|{start:%Y-%m-%dT%H:%M:%SZ}".encode()).hexdigest()[:16]
    row = Row(run_id=run_id, source_file=rel, proc=proc, start_time_utc=start, parameters=params,
              n_rows=frame.height, source_sha256=hashlib.sha256(data).hexdigest())
    return row, frame


def write_run(row: Row, frame: pl.DataFrame, out: Path) -> None:
    """The run's Parquet in its Hive partition."""
    folder = out / f"proc={row.proc}" / f"date={row.start_time_utc.date()}" / f"run_id={row.run_id}"
    folder.mkdir(parents=True, exist_ok=True)
    frame.write_parquet(folder / "part-000.parquet")


def stage_file(path_text: str, raw: str, out: str) -> dict[str, object] | None:
    """One file in a worker process: its run written with an event record; its manifest row back."""
    run = read_run(Path(path_text), Path(raw))
    if run is None:
        return None
    row, frame = run
    write_run(row, frame, Path(out))
    events = Path(out) / "_manifest" / "events"
    events.mkdir(parents=True, exist_ok=True)
    (events / f"{row.run_id}.json").write_text(json.dumps({"run_id": row.run_id, "n_rows": frame.height}))
    return row.model_dump(mode="json")


def main() -> None:
    raw, out = sys.argv[1], sys.argv[2]
    files = sorted(str(p) for p in Path(raw).rglob("*") if p.suffix.lower() == ".csv" and p.is_file())
    started = time.perf_counter()
    os.environ["POLARS_MAX_THREADS"] = "1"  # one Polars thread per worker process, as the tool sets it
    with ProcessPoolExecutor(WORKERS, mp_context=multiprocessing.get_context("spawn")) as pool:
        rows = [row for row in pool.map(stage_file, files, [raw] * len(files), [out] * len(files), chunksize=4) if row]
    manifest = pl.DataFrame([{**row, "parameters": json.dumps(row["parameters"])} for row in rows])
    (Path(out) / "_manifest").mkdir(parents=True, exist_ok=True)
    manifest.write_parquet(Path(out) / "_manifest" / "manifest.parquet")
    print(time.perf_counter() - started, len(rows))


if __name__ == "__main__":
    main()
