"""The seed plan's naive stager, for bench/stage.py and bench/cli_start.py to measure labtui against: the stager a
first version writes. One file after another in one process (Polars' threads parse and write), each read as the
other tool reads it (bench/other_tool.py: the header in Python, the data with Polars' schema inference, a Pydantic
row) and written to its Hive partition; the manifest, with every file's size and mtime, written at the end. A
re-run reads the manifest, stats every raw file and stages only the new and the changed: with nothing changed it
writes nothing.

    python bench/naive_stager.py RAW_DIR OUT_DIR    # prints the staging's wall time and the files staged
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import polars as pl
from other_tool import read_run, write_run


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
