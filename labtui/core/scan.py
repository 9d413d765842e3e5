"""The read side of staging: which raw files exist, and which of them the next stage would read.

Shared by the stager (its plan), `labtui validate`, the watcher and the app's status line; nothing here writes.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import re
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from labtui.core.config import StagingConfig, registry_digest
from labtui.core.extraction_rules import EXTRACTION_RULES
from labtui.core.rejects import RejectRecord, load_rejects
from labtui.core.stat_index import Signatures, signatures

if TYPE_CHECKING:
    import polars as pl


class Outcome(StrEnum):
    STAGED = "staged"
    UNCHANGED = "unchanged"
    BUSY = "busy"
    REJECTED = "rejected"


EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def mtime_us(mtime_ns: int) -> int:
    """A file's mtime as the manifest records it, in µs since the epoch: what incremental staging compares."""
    return mtime_ns // 1000


def mtime_of(mtime_ns: int) -> dt.datetime:
    """The manifest's `source_mtime` of a file with this mtime."""
    return EPOCH + dt.timedelta(microseconds=mtime_us(mtime_ns))


class Candidate(NamedTuple):
    """A raw file that should end up staged or rejected: `*.csv` (`is_csv_name`), not hidden, not Excel's lock file, not
    behind a dir link. A tuple: a frozen dataclass took 0.75 µs to make and a NamedTuple takes 0.28 (a 65k-file scan
    245 → 211 ms, with `source_key`'s ASCII fast path: medians of 9 interleaved pairs)."""

    source_file: str  # relative to the raw root, forward slashes
    path: str  # a plain string: scanning 65k files, Path objects cost more than the scan itself
    size: int
    mtime_ns: int
    is_symlink: bool


def source_key(rel: str) -> str:
    """The manifest's name of a raw file. A name that is not UTF-8 (a latin-1 `medici\\xf3n.csv` from a Windows
    stick) reaches Python with surrogates, which no Parquet, JSON or hash can hold: its bytes are spelled `\\xNN`.
    A name that itself holds such a spelling has its backslash spelled `\\x5c`, so that every `\\xNN` in a key is
    one byte and two files never share a key (they did, and each stage dropped the other's run)."""
    if rel.isascii() and "\\x" not in rel:  # nearly every name: nothing to spell
        return rel
    rel = _BYTE_LIKE.sub(r"\\x5c", rel)
    try:
        rel.encode("utf-8")
    except UnicodeEncodeError:
        return rel.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    return rel


_SPELLED_BYTE = re.compile(r"\\x([0-9a-f]{2})")  # how `source_key` spells a byte of a name
_BYTE_LIKE = re.compile(r"\\(?=x[0-9a-f]{2})")  # a backslash that a byte's spelling would start


def source_path(raw_root: Path, source_file: str) -> Path:
    """The raw file a source key names: `raw_root / key`, with each byte its key spells `\\xNN` put back (`raw_root
    / key` missed a latin-1 name: prune took such a file for gone). A key's text is UTF-8 and goes through bytes too
    unless it is ASCII: under an ASCII locale (LC_ALL=C, UTF-8 mode off) Python cannot name `Señal/…` otherwise."""
    if source_file.isascii() and "\\x" not in source_file:
        return raw_root / source_file
    parts = _SPELLED_BYTE.split(source_file)  # text, byte, text, …
    name = b"".join(bytes([int(part, 16)]) if odd else part.encode("utf-8") for odd, part in
                    ((index % 2, part) for index, part in enumerate(parts)))
    return raw_root / os.fsdecode(name)


TRAILING_BLANKS = " \t\u00a0."  # after `.csv`: Windows drops blanks and dots there, a Linux share keeps them


def is_csv_name(name: str) -> bool:
    """`*.csv` in any case, blanks or dots after it allowed: `IVg_3.csv ` and `IVg_3.csv.` (typed after a rename)
    were neither staged nor said. Not a line end: a script's CR or LF written into a name is no file it meant."""
    return name.rstrip(TRAILING_BLANKS).lower().endswith(".csv")


def csv_stem(name: str) -> str:
    """A raw file's name without `.csv` and what `is_csv_name` allows after it: what the header's parser reads a
    file index and a chip from (`Path.stem` of `IVg_9.csv.` kept `.csv.`: no file index, no chip)."""
    plain = name.rstrip(TRAILING_BLANKS)
    return plain[:-4] if plain.lower().endswith(".csv") else Path(name).stem


OWNER_FILE_PREFIX = "~$"  # Excel's owner file beside a workbook it has open (`~$IVg….csv`: 165 bytes of lock, no data)
# Folders a file server or an OS keeps on a share or a drive: its recycle bin (a run the lab deleted came back, and
# `prune` then dropped the good copy's run), its snapshots (every run again), its thumbnails. As hidden folders, never
# scanned; compared casefolded (`$RECYCLE.BIN` is `$Recycle.Bin` on some Windows versions).
SYSTEM_FOLDERS = frozenset({
    "#recycle", "#snapshot", "@eadir",  # Synology
    "@recycle", "@recently-snapshot",  # QNAP
    "$recycle.bin", "system volume information",  # Windows, on every drive it writes
})


def not_scanned(path: Path, raw_root: Path) -> str | None:
    """Why `scan_raw` skips `path`, a folder or file under `raw_root` (the rules of its loop, said), None when it
    lists it or `path` is not under `raw_root` (the stager refuses that itself)."""
    inside = os.path.relpath(os.path.abspath(path), os.path.abspath(raw_root)).split(os.sep)
    if inside[0] == "..":
        return None
    if path.is_dir():
        return "is a folder (name the files in it)"
    if not is_csv_name(path.name):
        return "is not a CSV file"
    if path.name.startswith(OWNER_FILE_PREFIX):
        return "is the lock file Excel keeps while it has a file open"
    if any(part.startswith(".") for part in inside):
        return "is hidden (a name starting with '.')"
    if system := system_folder_of(inside):
        return f"is in {system}/, a recycle bin or snapshot folder the file server or the OS keeps"
    if any(Path(raw_root, *inside[:depth]).is_symlink() for depth in range(1, len(inside))):
        return "is behind a link to a folder (labtui does not follow them)"
    if path.exists() and not path.is_symlink() and not path.is_file():
        return "is not a regular file (a pipe, a device or a socket)"
    return None


def system_folder_of(parts: list[str]) -> str | None:
    """The first of a raw file's folders (`parts`, its path's, the file's name last) that is one of
    `SYSTEM_FOLDERS`, which no scan enters; None when there is none."""
    return next((part for part in parts[:-1] if part.casefold() in SYSTEM_FOLDERS), None)


@dataclass
class PassedOver:
    """What a raw scan saw but does not stage, for a person to hear of (source keys; folders end in `/`)."""

    not_regular: list[str] = field(default_factory=list)  # named *.csv, but a pipe, a socket, a device
    folder_links: list[str] = field(default_factory=list)  # links to folders: their runs are never staged
    unlisted: dict[str, OSError] = field(default_factory=dict)  # folders that cannot be listed ('': the raw root)

    def unseen(self, source: str) -> bool:
        """Whether `source` is in a folder the scan could not list: present or not, nobody can tell."""
        return bool(self.unlisted) and source.startswith(tuple(self.unlisted))

    def unlisted_named(self, raw_root: Path) -> dict[str, str]:
        """Each folder that could not be listed → how every command says it: `locked/ (Permission denied)` (the
        root by its path)."""
        return {folder: f"{folder or raw_root} ({error.strerror or error})" for folder, error in self.unlisted.items()}


def scan_raw(raw_root: Path, passed: PassedOver | None = None) -> list[Candidate]:
    """Every candidate file under the raw root, sorted; directory links are not followed, hidden entries and
    `SYSTEM_FOLDERS` skipped.
    What it passes over that a person should hear of goes into `passed` when given."""
    found: list[Candidate] = []
    for rel, entry in files_under(raw_root, hidden=False, unlisted=None if passed is None else passed.unlisted):
        if not is_csv_name(entry.name) or entry.name.startswith(OWNER_FILE_PREFIX):
            if passed is not None and _links_a_folder(entry):
                passed.folder_links.append(source_key(rel))
            continue
        try:
            link = entry.is_symlink()
            if not link and not entry.is_file(follow_symlinks=False):
                if passed is not None:
                    passed.not_regular.append(source_key(rel))
                continue  # FIFOs, sockets, devices: never opened
            info = entry.stat(follow_symlinks=False)
        except OSError:
            continue
        found.append(Candidate(source_key(rel), entry.path, info.st_size, info.st_mtime_ns, link))
    if passed is not None:
        passed.unlisted = {source_key(folder): error for folder, error in sorted(passed.unlisted.items())}
    found.sort(key=lambda c: c.source_file)
    return found


def _links_a_folder(entry: os.DirEntry[str]) -> bool:
    try:
        return entry.is_symlink() and entry.is_dir()
    except OSError:  # a link the scan cannot follow to its end links no folder it could read
        return False


def files_under(
    root: Path, *, hidden: bool = True, unlisted: dict[str, OSError] | None = None
) -> Iterator[tuple[str, os.DirEntry[str]]]:
    """(path relative to `root` with `/`, entry) of everything under it that is not a folder (links included, never
    followed); without `hidden`, no entry whose name starts with a dot, nor anything in such a folder or in one of
    `SYSTEM_FOLDERS` (only folders are looked up: a 65k-file scan casefolds no file's name). A folder that
    vanished holds nothing to see; one that cannot be listed (no permission, an I/O error) is put in `unlisted` when
    given, as its relative path ending in `/` (the root: ''), with the error. One `scandir` per folder, paths built
    as it goes (`os.walk` stats every folder again, and `relpath` per file was 0.9 s of a 65k-run store's 2.6 s
    validation), and a stack, not recursion: a hostile tree may nest a thousand folders deep."""
    folders = [(str(root), "")]
    while folders:
        folder, prefix = folders.pop()
        try:
            with os.scandir(folder) as entries:
                listed = list(entries)
        except (FileNotFoundError, NotADirectoryError):
            continue
        except OSError as error:
            if unlisted is not None:
                unlisted[prefix] = error
            continue
        for entry in listed:
            if not hidden and entry.name.startswith("."):
                continue
            try:
                is_folder = entry.is_dir(follow_symlinks=False)
            except OSError:
                continue
            if is_folder:
                if hidden or entry.name.casefold() not in SYSTEM_FOLDERS:
                    folders.append((entry.path, f"{prefix}{entry.name}/"))
            else:
                yield prefix + entry.name, entry


READ_AGAIN = -1  # the size of a run's signature whose row older rules made (`made_by_current_rules`): no file's


def stat_columns(manifest: pl.DataFrame, rules: Mapping[str, str] | None, local_tz: str) -> dict[str, list[Any]]:
    """`source_file`, `size`, `mtime_us` (µs since the epoch, the manifest's precision) and `run_id` of every staged
    run, as lists. A row made by older extraction rules (`extraction_rules.py`), or by another registry entry of its
    procedure than `rules` holds (`Registry.rules`; None: the registry cannot be read), or dated in another zone
    than the lab's `local_tz` (the lab set its zone after staging), has the size `READ_AGAIN`, which no file has:
    the next stage reads its file again."""
    import polars as pl

    mtime_us = pl.col("source_mtime").dt.epoch("us")
    current = made_by_current_rules(rules) & dated_in(local_tz)
    size = pl.when(current).then(pl.col("source_size")).otherwise(READ_AGAIN)
    return manifest.select("source_file", "run_id", size=size, mtime_us=mtime_us).to_dict(as_series=False)


def dated_in(local_tz: str) -> pl.Expr:
    """Whether a manifest row's local date is its start's in the zone `local_tz` (a row without a start: true)."""
    import polars as pl

    local_date = pl.col("start_time_utc").dt.convert_time_zone(local_tz).dt.date()
    return local_date.eq_missing(pl.col("date_local")).fill_null(True)


def redated(manifest: pl.DataFrame, local_tz: str, sources: Iterable[str]) -> int:
    """How many runs of the raw files `sources` the zone `local_tz` dates on another day than the manifest has them:
    the files a stage reads again because the lab's zone changed."""
    import polars as pl

    return manifest.filter(~dated_in(local_tz) & pl.col("source_file").is_in(list(sources))).height


def made_by_current_rules(rules: Mapping[str, str] | None) -> pl.Expr:
    """Whether a manifest row holds what this labtui would read from its file as it was: made by these extraction
    rules and by the registry entry of its procedure that `rules` (`Registry.rules`) holds, or by a newer labtui's
    rules (left to it: two labtuis on one store would otherwise read the file again at each other's every stage).
    A row of these rules without its entry was rewritten by an older labtui, which drops the column it does not
    know (every such row is made with one): taken as made by the entry now there, not read again at each of its
    commits."""
    import polars as pl

    made_by = pl.col("extraction_rules").fill_null(0)
    if rules is None:  # the registry cannot be read: the stage that needs it says why
        return made_by >= EXTRACTION_RULES
    entry = pl.col("proc").replace_strict(rules, default=None, return_dtype=pl.String)
    same_entry = pl.col("procedure_rules").is_null() | (pl.col("procedure_rules") == entry).fill_null(False)
    return (made_by > EXTRACTION_RULES) | ((made_by == EXTRACTION_RULES) & same_entry)


def staged_signatures(manifest: pl.DataFrame, rules: Mapping[str, str] | None, local_tz: str) -> Signatures:
    """What incremental staging compares: source file → (size, mtime µs) as recorded at its last staging (see
    `stat_columns`)."""
    return signatures(stat_columns(manifest, rules, local_tz))


def known_outcome(cand: Candidate, staged: Signatures, rejects: dict[str, RejectRecord],
                  registry: str | None = None, present: Mapping[str, Candidate] | None = None) -> Outcome | None:
    """UNCHANGED or REJECTED when the file is as it was when last staged or rejected (by the registry whose
    `registry_digest` is `registry`); None when it must be read. A case twin's reject holds while the file that
    owns the run is among `present` (`owners_present`) and as staged: gone, renamed or changed, the twin may be
    the run's file now."""
    if staged.get(cand.source_file) == (cand.size, mtime_us(cand.mtime_ns)):
        return Outcome.UNCHANGED
    record = rejects.get(cand.source_file)  # also of a file broken since it was staged (its run is kept)
    if record is None or record.extraction_rules < EXTRACTION_RULES or not rejected_as_is(cand, record, registry):
        return None
    if record.kind == "duplicate_run" and not _owner_holds(record, staged, rejects, registry, present or {}):
        return None
    return Outcome.REJECTED


def _owner_holds(record: RejectRecord, staged: Signatures, rejects: dict[str, RejectRecord], registry: str | None,
                 present: Mapping[str, Candidate]) -> bool:
    """Whether the file owning a twin's run is there and will not be read: as staged, or broken since and rejected
    as it is (its run stays: read again, the twin was rejected again at every stage)."""
    owner = present.get(record.owner_file or "")
    if owner is None:
        return False
    if staged.get(owner.source_file) == (owner.size, mtime_us(owner.mtime_ns)):
        return True
    broken = rejects.get(owner.source_file)
    return broken is not None and broken.kind != "duplicate_run" and rejected_as_is(owner, broken, registry)


def owners_present(candidates: list[Candidate], rejects: dict[str, RejectRecord]) -> dict[str, Candidate]:
    """The scanned files by name, for `known_outcome` to find the owners of case twins' runs; empty (no pass over
    the scan) when no reject is a twin's."""
    if not any(record.kind == "duplicate_run" for record in rejects.values()):
        return {}
    return {cand.source_file: cand for cand in candidates}


def plan_stage(config: StagingConfig, candidates: list[Candidate], staged: Signatures, rejects: dict[str, RejectRecord],
               registry: str | None, *, only: set[str] | None, force: bool, settle_s: float, hash_named: bool,
               manifest: Callable[[], pl.DataFrame]) -> tuple[list[Candidate], list[tuple[Candidate, Outcome]]]:
    """The files a stage reads, and those it leaves with their outcome: as staged or rejected (`known_outcome`,
    unless `force`), or busy, modified within `settle_s`. `only`: the files named (None: every one); of them, with
    `hash_named`, those that look unchanged but whose content is not the staged one's are read (`manifest` gives
    the staged hashes)."""
    now_ns = time.time_ns()
    work: list[Candidate] = []
    skipped: list[tuple[Candidate, Outcome]] = []
    present = owners_present(candidates, rejects)
    for cand in candidates:
        if only is not None and cand.source_file not in only:
            continue
        known = None if force else known_outcome(cand, staged, rejects, registry, present)
        if known is not None:
            skipped.append((cand, known))
        elif not cand.is_symlink and abs(now_ns - cand.mtime_ns) < settle_s * 1e9:
            # modified within the settle time. An mtime further ahead is a clock that runs ahead (the acquisition
            # PC's, kept by a copy), not a file being written: it was deferred until the clock caught up, even
            # with no settle time at all (and so in watch mode, which judges settling itself)
            skipped.append((cand, Outcome.BUSY))
        else:
            work.append(cand)
    if only is not None and hash_named:
        edited = _edited_in_place(config, [cand for cand, outcome in skipped if outcome is Outcome.UNCHANGED],
                                  manifest)
        work += [cand for cand, _ in skipped if cand.source_file in edited]
        skipped = [(cand, outcome) for cand, outcome in skipped if cand.source_file not in edited]
    return work, skipped


def _edited_in_place(config: StagingConfig, named: list[Candidate], manifest: Callable[[], pl.DataFrame]) -> set[str]:
    """Of the files named to restage that look unchanged (size and mtime as staged), those whose content is not
    what was staged: an edit of the same size with its mtime put back (a copy that keeps times, a fix undone and
    redone). Hashing a few named files is cheap; the whole tree's is `validate --hash`'s."""
    if not named:
        return set()
    from labtui.core.raw_checks import hash_files

    staged = dict(manifest().select("source_file", "source_sha256").iter_rows())
    sources = [cand.source_file for cand in named]
    digests = hash_files(config.raw_root, sources, config.workers)
    return {source for source, digest in zip(sources, digests, strict=True) if digest != staged.get(source)}


def rejected_as_is(cand: Candidate, record: RejectRecord, registry: str | None = None) -> bool:
    """The file is as it was when rejected (same size and mtime), and so is the procedure registry (`registry`:
    its `registry_digest`; a record from before registries were recorded, or an unreadable registry, compares the
    file alone): its reject still holds, unless older extraction rules judged it (`read_again`), or the clock
    did (a start time that was in the future: `RejectRecord.plausible_now`)."""
    if None not in (registry, record.registry_sha256) and registry != record.registry_sha256:
        return False  # the lab edited its registry since (the reject said: add the procedure to it)
    if record.plausible_now():
        return False
    return (record.source_size, record.source_mtime_ns) == (cand.size, cand.mtime_ns)


def read_again(cand: Candidate, staged: Signatures, rejects: dict[str, RejectRecord]) -> bool:
    """Whether the plan reads `cand` because older extraction rules made its row or rejected it as it is."""
    record = rejects.get(cand.source_file)
    return staged.get(cand.source_file, (0, 0))[0] == READ_AGAIN or (
        record is not None and record.extraction_rules < EXTRACTION_RULES and rejected_as_is(cand, record))


class Waiting(NamedTuple):
    """Raw files the next `stage` would read (new or changed), and how many of them it reads only because newer
    rules (an edited registry entry, a newer labtui) would make their rows or rejects differently, or the lab's zone
    dates their runs otherwise."""

    files: list[str]
    again: int
    redated: int = 0  # of `again`, those whose run's local date the lab's zone (`local_tz`) moves


def pending_files(config: StagingConfig, manifest: pl.DataFrame, passed: PassedOver | None = None) -> Waiting | None:
    """What the next `stage` would read; None when the raw folder is not there. What the scan passes over (a folder
    it cannot list) goes into `passed` when given."""
    if not config.raw_root.is_dir():
        return None
    from labtui.core.registry import procedure_rules  # Pydantic: only where the manifest is read

    registry = registry_digest(config.procedures_file)
    staged = staged_signatures(manifest, procedure_rules(config.procedures_file), config.local_tz)
    rejects = load_rejects(config.rejects_dir)
    candidates = scan_raw(config.raw_root, passed)
    present = owners_present(candidates, rejects)
    work = [c for c in candidates if known_outcome(c, staged, rejects, registry, present) is None]
    files = [c.source_file for c in work]
    return Waiting(files, sum(read_again(c, staged, rejects) for c in work), redated(manifest, config.local_tz, files))


def relative_source(raw_root: Path, path: Path) -> str:
    """A path given by the user → the source_file key (relative, forward slashes); must be under the raw root."""
    absolute = Path(os.path.abspath(path))
    with contextlib.suppress(ValueError):  # as named
        return source_key(absolute.relative_to(os.path.abspath(raw_root)).as_posix())
    # else through the links either path took (not the file's own), resolved only then: two `realpath`s a file were
    # most of the watcher's first stage (its 10k files named)
    linked = Path(os.path.realpath(absolute.parent)) / absolute.name
    with contextlib.suppress(ValueError):
        return source_key(linked.relative_to(os.path.realpath(raw_root)).as_posix())
    raise ValueError(f"{path} is not under the raw root {raw_root}")
