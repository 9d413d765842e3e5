"""The checks behind the reliability promises (docs/reliability.md), shared by the reliability tests.

Every check here is written against the store's files, independently of the engine's own bookkeeping, so a test
fails when the store is wrong, not only when the engine notices.
"""

from __future__ import annotations

import collections
import hashlib
import json
import math
import os
import re
import stat
from pathlib import Path

import polars as pl
import pyarrow.dataset as pads
import pyarrow.parquet as pq

from labtui.core.config import StagingConfig
from labtui.core.datablock import parse_data, parse_many
from labtui.core.layout import run_parquet_path
from labtui.core.manifest import read_manifest
from labtui.core.parquet_footer import read_run_record
from labtui.core.parser import Header, parse_header
from labtui.core.registry import load_registry
from labtui.core.rejects import Reject
from tests.lab import raw_csv

CRASH_EXIT = 86
LOCKED_EXIT = 75
VOLATILE_MANIFEST_COLUMNS = ("ingested_at_utc", "extraction_version")
REGISTRY = load_registry()
BATCH_NEIGHBOUR = raw_csv("IVg")


# -- promise 1: the raw tree ------------------------------------------------------------------------------------
def raw_snapshot(raw_root: Path) -> dict[str, tuple[object, ...]]:
    """Every entry under the raw root (links not followed): type, mode, size, mtime, ctime, inode, content.

    ctime moves on any write, rename, chmod, utime or link change, so "touched" is caught even when content is not.
    """
    snapshot: dict[str, tuple[object, ...]] = {}
    for folder, dirs, files in os.walk(raw_root, followlinks=False):
        for name in dirs + files:
            path = os.path.join(folder, name)
            info = os.lstat(path)
            content: object = None
            if stat.S_ISREG(info.st_mode):
                try:
                    with open(path, "rb") as handle:
                        content = hashlib.sha256(handle.read()).hexdigest()
                except PermissionError:
                    content = "unreadable"
            elif stat.S_ISLNK(info.st_mode):
                content = os.readlink(path)
            key = os.path.relpath(path, raw_root)
            snapshot[key] = (
                stat.S_IFMT(info.st_mode),
                info.st_mode,
                info.st_size,
                info.st_mtime_ns,
                info.st_ctime_ns,
                info.st_ino,
                content,
            )
    return snapshot


# -- promise 2: candidates ---------------------------------------------------------------------------------------
def source_key(rel: str) -> str:
    """The manifest's name of a raw file: relative, forward slashes; undecodable bytes shown as \\xNN, and the
    backslash of a `\\xNN` the name holds as `\\x5c` (each spelling is one byte)."""
    spelled = re.sub(r"\\(?=x[0-9a-f]{2})", r"\\x5c", rel)
    return spelled.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def candidates(raw_root: Path) -> set[str]:
    """Files that must end up staged or rejected: named *.csv (any case), not hidden, not Excel's lock file (`~$…`),
    not behind a dir link.

    Regular files, and links named *.csv (which labtui reports as rejects of kind `symlink` instead of following).
    """
    found: set[str] = set()
    for folder, dirs, files in os.walk(raw_root, followlinks=False):
        dirs[:] = [d for d in dirs if not d.startswith(".") and not os.path.islink(os.path.join(folder, d))]
        entries = files + [d for d in os.listdir(folder) if os.path.islink(os.path.join(folder, d))]
        for name in set(entries):
            if name.startswith((".", "~$")) or not name.lower().endswith(".csv"):
                continue
            path = os.path.join(folder, name)
            info = os.lstat(path)
            if stat.S_ISREG(info.st_mode) or stat.S_ISLNK(info.st_mode):
                found.add(source_key(os.path.relpath(path, raw_root).replace(os.sep, "/")))
    return found


def reject_files(config: StagingConfig) -> list[dict[str, object]]:
    """Every reject record on disk (not de-duplicated: a duplicate would be a bug to catch)."""
    if not config.rejects_dir.is_dir():
        return []
    return [
        json.loads(path.read_bytes())
        for path in sorted(config.rejects_dir.iterdir())
        if path.name.endswith(".json") and not path.name.startswith(".")
    ]


def assert_bookkeeping(config: StagingConfig) -> None:
    """Promise 2: every candidate is in the manifest exactly once xor has exactly one reject record — or both, when
    the file broke after it was staged: its reject names the run kept (`previous_run_id`)."""
    manifest = read_manifest(config.manifest_path)
    in_manifest = collections.Counter(manifest["source_file"].to_list())
    records = reject_files(config)
    rejected = collections.Counter(str(record["source_file"]) for record in records)
    run_of = dict(zip(manifest["source_file"].to_list(), manifest["run_id"].to_list(), strict=True))
    kept = {str(record["source_file"]) for record in records
            if record["previous_run_id"] is not None and record["previous_run_id"] == run_of.get(record["source_file"])}
    assert max(in_manifest.values(), default=1) == 1, f"a file has several manifest rows: {in_manifest.most_common(3)}"
    assert manifest["run_id"].n_unique() == manifest.height, "a run_id appears twice in the manifest"
    assert max(rejected.values(), default=1) == 1, f"a file has several reject records: {rejected.most_common(3)}"
    present = candidates(config.raw_root)
    both = sorted(name for name in present if in_manifest[name] and rejected[name] and name not in kept)
    neither = sorted(name for name in present if not in_manifest[name] and not rejected[name])
    assert not both, f"staged and rejected at once: {both}"
    assert not neither, f"neither staged nor rejected: {neither}"
    stale = sorted(set(rejected) - present)
    assert not stale, f"reject records of files that do not exist: {stale}"


# -- promise 4: what a reader sees -------------------------------------------------------------------------------
def temp_files(store_root: Path) -> list[str]:
    """Leftovers of an interrupted write anywhere in the store (hidden `.<name>.<id>.tmp` files)."""
    found = []
    for folder, _, files in os.walk(store_root):
        found += [os.path.join(folder, name) for name in files if name.startswith(".") and name.endswith(".tmp")]
    return sorted(found)


def empty_folders(stage_root: Path) -> list[str]:
    """Folders under a store's runs that hold nothing: run folders made for a write that failed (a full disk) and
    left behind, which `validate` took for Parquet the manifest lost."""
    return sorted(folder for folder, folders, files in os.walk(stage_root)
                  if not folders and not files and folder != str(stage_root))


def assert_readable(config: StagingConfig, *, settled: bool) -> None:
    """Promise 4 on a frozen store: what Polars, pyarrow and the manifest show is whole.

    `settled`: after a completed run — every manifest row's Parquet has the row's n_rows, no orphans, no temp file.
    In a crashed state, orphan Parquet and leftovers in `_manifest/` are allowed (the next writer removes them),
    but nothing under the stage root may be anything but a whole Parquet file.
    """
    stage_root = config.stage_root
    if config.manifest_path.exists():
        manifest = pl.read_parquet(config.manifest_path)
        pq.read_table(config.manifest_path)
    else:
        manifest = read_manifest(config.manifest_path)
    files = (
        [Path(folder) / name for folder, _, names in os.walk(stage_root) for name in names]
        if stage_root.exists()
        else []
    )
    strangers = [str(path) for path in files if not path.name.endswith(".parquet") or path.name.startswith(".")]
    assert not strangers, f"non-Parquet files under the stage root, visible to readers: {strangers}"
    referenced = set()
    for row in manifest.iter_rows(named=True):
        path = run_parquet_path(stage_root, row["proc"], row["date_local"], row["run_id"])
        referenced.add(path)
        assert path.is_file(), f"manifest row {row['source_file']} points to a missing Parquet {path}"
        frame = pl.read_parquet(path)
        if settled:
            assert frame.height == row["n_rows"], f"{path}: {frame.height} rows, manifest says {row['n_rows']}"
    if files:
        table = pads.dataset(stage_root, partitioning="hive").to_table()
        assert table.num_rows >= (manifest["n_rows"].sum() if settled else 0)
        scanned = pl.scan_parquet(
            stage_root, hive_partitioning=True, missing_columns="insert", extra_columns="ignore"
        ).collect()
        assert scanned.height == table.num_rows
    if settled:
        orphans = sorted(str(path) for path in files if path not in referenced)
        assert not orphans, f"Parquet files no manifest row references: {orphans}"
        assert not temp_files(config.store_root), f"temp files left: {temp_files(config.store_root)}"
        assert not (config.manifest_dir / ".dirty").exists(), "the crash marker survived a completed run"


# -- promises 3 and 5: store state ---------------------------------------------------------------------------------
def _plain(value: object) -> object:
    if isinstance(value, float) and math.isnan(value):
        return "NaN"
    return value


def store_state(config: StagingConfig) -> dict[str, object]:
    """What must be equal between two stores of the same input: manifest rows (without ingest times), every file
    under the stage root (`run_content`), and the reject records (without the time of rejection)."""
    manifest = read_manifest(config.manifest_path).drop(VOLATILE_MANIFEST_COLUMNS).sort("run_id")
    rows = [{key: _plain(value) for key, value in row.items()} for row in manifest.iter_rows(named=True)]
    files = {}
    if config.stage_root.exists():
        for folder, _, names in os.walk(config.stage_root):
            for name in names:
                path = Path(folder) / name
                files[path.relative_to(config.stage_root).as_posix()] = run_content(path)
    rejects = sorted(
        tuple(sorted((key, json.dumps(value)) for key, value in record.items() if key != "rejected_at_utc"))
        for record in reject_files(config)
    )
    return {"manifest": rows, "files": dict(sorted(files.items())), "rejects": rejects}


def run_content(path: Path) -> str:
    """A hash of a run's Parquet as two stagings of one file must agree on it: its data byte for byte, and its
    record (`read_run_record`) but for when and by which version it was staged."""
    record = read_run_record(path)
    assert record is not None, f"{path} has no run record"
    for key in ("staged_at_utc", "extraction_version"):
        del record[key]
    for key in VOLATILE_MANIFEST_COLUMNS:
        del record["row"][key]
    data = pl.read_parquet(path).write_ipc(None).getvalue()
    return hashlib.sha256(data + json.dumps(record, sort_keys=True).encode()).hexdigest()


def store_bytes(store_root: Path) -> dict[str, str]:
    """Every file of the store (except the lock file and diagnostics) with its content hash: for "nothing changed"."""
    result = {}
    for folder, _, names in os.walk(store_root):
        for name in names:
            path = Path(folder) / name
            rel = path.relative_to(store_root).as_posix()
            if rel == "_manifest/.lock":
                continue
            result[rel] = hashlib.sha256(path.read_bytes()).hexdigest()
    return dict(sorted(result.items()))


def tree_listing(root: Path) -> dict[str, tuple[int, str]]:
    """Every entry (folders too) under root with its type and content hash: "nothing was written"."""
    listing: dict[str, tuple[int, str]] = {}
    if not root.exists():
        return listing
    for folder, dirs, files in os.walk(root):
        for name in dirs + files:
            path = Path(folder) / name
            info = path.lstat()
            digest = hashlib.sha256(path.read_bytes()).hexdigest() if stat.S_ISREG(info.st_mode) else ""
            listing[path.relative_to(root).as_posix()] = (stat.S_IFMT(info.st_mode), digest)
    return listing


def assert_settled(config: StagingConfig) -> None:
    """Everything a completed run promises (2 and 4)."""
    assert_readable(config, settled=True)
    assert_bookkeeping(config)


# -- the parser's two paths -------------------------------------------------------------------------------------
def parse_alone_and_batched(data: bytes, header: Header) -> tuple[pl.DataFrame, list[str]]:
    """`parse_data` of one file, checked against the same file read within a batch (`parse_many`, the stager's
    path, with a clean file before and after it): the same frame and warnings, or the same `Reject`."""
    clean = parse_header(BATCH_NEIGHBOUR, REGISTRY)
    batched = parse_many([(BATCH_NEIGHBOUR, clean), (data, header), (BATCH_NEIGHBOUR, clean)])
    assert not isinstance(batched[0], Reject) and not isinstance(batched[2], Reject)
    try:
        frame, warnings = parse_data(data, header)
    except Reject as alone:
        assert isinstance(batched[1], Reject), f"a batch read what alone is rejected: {alone}"
        assert (batched[1].kind, batched[1].reason, batched[1].line) == (alone.kind, alone.reason, alone.line)
        raise
    assert not isinstance(batched[1], Reject), f"a batch rejected what alone reads: {batched[1]}"
    assert batched[1][0].equals(frame) and batched[1][0].schema == frame.schema and batched[1][1] == warnings
    return frame, warnings
