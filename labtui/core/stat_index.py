"""The stat index: what a no-change `labtui stage` compares the raw tree with, readable without Polars.

`_manifest/stat_index.json` lists every staged source file with the size, mtime (µs, as the manifest records it) and
run_id of its manifest row, column by column (65k runs: a JSON object per file took 130 ms to read and 120 ms to
write, columns 40 and 30), and names the manifest it was made from by the SHA-256 of its bytes. Importing Polars
costs more than the whole no-change check, so the stager plans from this index and opens the manifest only when
there is work. The manifest stays the authority: the writer rewrites the index right after each manifest replace,
under the same lock, and an index whose hash is not the current manifest's (a crash between the two replaces, a
store from an older labtui, a hand edit), or that another labtui's extraction rules made, is not used, so the plan
falls back to the manifest itself; a stale index never gives a wrong answer, and the next writer rewrites it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from labtui.core.atomic import atomic_write_bytes
from labtui.core.extraction_rules import EXTRACTION_RULES
from labtui.core.json_text import parse_json

INDEX_NAME = "stat_index.json"
COLUMNS = ("source_file", "size", "mtime_us", "run_id")
FORMAT = 2  # 1: an object per file

Signatures = dict[str, tuple[int, int]]  # source file -> (size, mtime in µs) at its last staging


def index_path(manifest_path: Path) -> Path:
    return manifest_path.with_name(INDEX_NAME)


def manifest_digest(manifest_path: Path) -> str | None:
    """SHA-256 of the committed manifest's bytes (one read through one handle); None when there is none (or a
    folder has its name: the manifest's reader says it is damaged)."""
    try:
        with open(manifest_path, "rb") as handle:
            return hashlib.file_digest(handle, "sha256").hexdigest()
    except (FileNotFoundError, IsADirectoryError):
        return None


def write_stat_index(manifest_path: Path, columns: Mapping[str, list[Any]], digest: str | None,
                     registry: str | None, local_tz: str) -> None:
    """Index the manifest now at `manifest_path`, whose `manifest_digest` is `digest` (`columns`: `scan.stat_columns`
    of it, by the registry whose `registry_digest` is `registry`, taken before it, and the lab's zone `local_tz`).
    Atomic but not fsynced: after a power cut an old index fails the hash check and costs one slower re-run."""
    record = {"format": FORMAT, "manifest_sha256": digest, "extraction_rules": EXTRACTION_RULES,
              "registry_sha256": registry, "local_tz": local_tz, **{name: columns[name] for name in COLUMNS}}
    atomic_write_bytes(index_path(manifest_path), json.dumps(record, ensure_ascii=False).encode("utf-8"),
                       durable=False)


def signatures(columns: Mapping[str, list[Any]]) -> Signatures:
    """Source file → (size, mtime µs), from the index's columns (`scan.stat_columns`, or a record read back);
    ValueError when they differ in length: never zipped short."""
    return dict(zip(columns["source_file"], zip(columns["size"], columns["mtime_us"], strict=True), strict=True))


def read_stat_index(manifest_path: Path, digest: str | None, registry: str | None,
                    local_tz: str) -> Signatures | None:
    """The staged signatures, when the index describes the manifest now committed (`digest`: its
    `manifest_digest`, which the caller takes once for every record it checks) by the registry now there
    (`registry`: its `registry_digest`) in the lab's zone now (`local_tz`); else None (read the manifest)."""
    try:
        record = parse_json(index_path(manifest_path).read_bytes())
        if (record["format"] != FORMAT or digest is None or record["manifest_sha256"] != digest
                or record["extraction_rules"] != EXTRACTION_RULES  # its sizes say which rows are read again
                or record["registry_sha256"] != registry or record.get("local_tz") != local_tz):
            return None
        return signatures(record)
    except (OSError, ValueError, TypeError, KeyError, AttributeError):
        return None  # missing, torn by a power cut, or not ours: the manifest answers instead
