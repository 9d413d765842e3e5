"""The seed plan's naive stager, for bench/stage.py and bench/cli_start.py to measure labtui against: the stager a
first version writes. One file after another in one process (Polars' threads parse and write), each read plainly
(the header in Python, the data with Polars' schema inference, a Pydantic row) and written to its Hive partition;
the manifest, with every file's size and mtime, written at the end. A re-run reads the manifest, stats every raw
file and stages only the new and the changed: with nothing changed it writes nothing.

    python bench/naive_stager.py RAW_DIR OUT_DIR    # prints the staging's wall time and the files staged
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import sys
import time
from pathlib import Path

import polars as pl
from pydantic import BaseModel, ConfigDict


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
    """A file's manifest row and data (None: a file it skips): the header in Python, the data with Polars' schema
    inference, a Pydantic row."""
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


def stage(raw: Path, out: Path) -> int:
    """Stage what is new or changed in `raw` into `out`; the number of files read."""
    manifest_path = out / "manifest.parquet"
    old = pl.read_parquet(manifest_path) if manifest_path.exists() else None
    known = set() if old is None else set(old.select("source_file", "size", "mtime_ns").iter_rows())
    rows: list[dict[str, object]] = []
    for path in sorted(raw.rglob("*")):
        if path.suffix.lower() != ".csv" or not path.is_file():
            continue
        source, stat = path.relative_to(raw).as_posix(), path.stat()
        if (source, stat.st_size, stat.st_mtime_ns) in known:
            continue
        run = read_run(path, raw)
        row: dict[str, object] = {"source_file": source, "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}
        if run is not None:  # a file it cannot read keeps a row without a run: a re-run skips it too
            write_run(*run, out)
            row |= {**run[0].model_dump(mode="json", exclude={"source_file"}),
                    "parameters": json.dumps(run[0].parameters)}
        rows.append(row)
    if rows:
        new = pl.DataFrame(rows, infer_schema_length=None)
        if old is not None:
            new = pl.concat([old.filter(~pl.col("source_file").is_in(new["source_file"].implode())), new],
                            how="diagonal_relaxed")
        out.mkdir(parents=True, exist_ok=True)
        new.write_parquet(manifest_path)
    return len(rows)


def main() -> None:
    started = time.perf_counter()
    count = stage(Path(sys.argv[1]), Path(sys.argv[2]))
    print(time.perf_counter() - started, count)


if __name__ == "__main__":
    main()
