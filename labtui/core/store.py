"""Where the store is and which raw tree it belongs to, so a wrong path is refused instead of polluting a store.

The store is the folder holding `_manifest/`; its stage root (`raw_measurements/` by default) holds the Parquet.
`_manifest/store.json` records the raw root the store was built from and the stage root's name. A run_id hashes the
path relative to the raw root, so staging the same files from another root (a sub-folder, another lab's tree) would
stage them again under new run_ids: the recorded root turns that into a clear refusal. When the lab really moved
the raw tree, `--raw-root-moved` records the new root; relative paths, and so run_ids, are unchanged. A lab folder
moved or copied whole (raw root and store in the same places relative to each other, as `store.json` also records
the store's own path) needs no flag: the new paths are recorded at its next stage.
"""

from __future__ import annotations

import datetime as dt
import errno
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from labtui.core.config import StagingConfig, default_derived_root, no_folder
from labtui.core.errors import ExitCode, LabtuiError, OperationFailed, UsageError
from labtui.core.fields import build, json_bytes
from labtui.core.json_text import parse_json
from labtui.core.lock import Holder, WriterLock

MANIFEST_DIR = "_manifest"
IDENTITY_FILE = "store.json"
DEFAULT_STAGE_DIR = "raw_measurements"
# What a store folder may hold besides its stage root; anything else means the folder is not a store.
STORE_ENTRIES = frozenset({MANIFEST_DIR, "_rejects", "_annotations", "_quarantine"})
DIRTY_MARKER = ".dirty"  # in _manifest/ while a writer works: a writer that finds it sweeps what a crash left
SAMPLED_SOURCES = 20  # staged files looked up under a new raw root to recognise a moved tree


@dataclass(frozen=True, kw_only=True)
class StoreIdentity:
    raw_root: str  # absolute, as given when the store was built (or last moved)
    stage_dir: str  # the stage root's folder name inside the store
    recorded_at_utc: dt.datetime
    store_root: str | None = None  # absolute, where the store was then (None: recorded by an older labtui)
    local_tz: str | None = None  # the zone its runs are dated in (None: recorded by an older labtui)
    derived_root: str | None = None  # where its last stage put the derived tables, when told (None: beside the store)


class StoreReadOnly(LabtuiError):
    """The store cannot be written (read-only share, another user's folder); reading it still works."""

    exit_code = ExitCode.READ_ONLY

    def __init__(self, store: Path, path: Path, error: OSError) -> None:
        super().__init__(f"the store {store} is read-only ({path}: {error.strerror or error}); "
                         "reading it works, writing needs write permission")


def is_store(folder: Path) -> bool:
    return (folder / MANIFEST_DIR).is_dir()


def stage_root_of(path: Path, *, store: bool) -> Path:
    """The stage root named by `--store DIR` (the store folder) or `--stage-root DIR`, which may also name the store
    folder itself (as the app does): a store's, or one to be made — a folder not inside a store and not named
    `raw_measurements` (`--stage-root data/02_stage` made `data/` the store). A path that is a file is refused."""
    if path.is_file():
        raise UsageError(f"{path} is a file, not a folder: give the store folder (the one holding {MANIFEST_DIR}/)")
    if store or is_store(path) or (path.name != DEFAULT_STAGE_DIR and not is_store(path.parent)):
        return path / _recorded_stage_dir(path)
    return path


def locate_store(path: Path) -> tuple[Path, Path]:
    """(store folder, stage root) of a path naming either, as a reader is given it; a clear error for anything else."""
    if is_store(path):
        return path, path / _recorded_stage_dir(path)
    if path.is_dir() and is_store(path.parent) and path.name == _recorded_stage_dir(path.parent):
        return path.parent, path
    if not path.exists():
        raise UsageError(f"no such store folder: {path}")
    if below := stores_in(path):  # a project's `data/`: the store is a folder below, as the command line says
        which = f"{below[0]} is one" if len(below) == 1 else f"{', '.join(map(str, below[:3]))} are stores"
        raise UsageError(f"not a labtui store: {path}; {which}: give it")
    raise UsageError(f"not a labtui store: {path} (give the folder holding {MANIFEST_DIR}/, e.g. data/02_stage, "
                     f"or its stage root, {DEFAULT_STAGE_DIR}/)")


def _recorded_stage_dir(store: Path) -> str:
    identity = read_identity(store / MANIFEST_DIR / IDENTITY_FILE)
    return identity.stage_dir if identity else DEFAULT_STAGE_DIR


def read_identity(path: Path) -> StoreIdentity | None:
    """The store's record, or None when it is missing or unreadable, as a garbled one is: so is a record whose
    stage_dir is not one folder name (a hand edit: an absolute path or `..` made `--store` stage a new store outside
    the store given, where readers found none)."""
    try:
        identity = build(StoreIdentity, parse_json(path.read_bytes()), extra="ignore")
    except (OSError, ValueError):  # json.JSONDecodeError is a ValueError
        return None
    one_folder = identity.stage_dir not in ("", "..") and Path(identity.stage_dir).name == identity.stage_dir
    return identity if one_folder else None


def record_lost(config: StagingConfig) -> str:
    """What a missing raw folder adds when the store holds runs but its record of where they came from
    (`store.json`) is missing or damaged: the config's default raw folder was named, which the user never gave, and
    validate and repair said nothing of the record."""
    if not config.manifest_path.exists() or read_identity(identity_path(config)) is not None:
        return ""
    return (f" (the store's record of its raw folder, {identity_path(config)}, is missing or damaged: give --raw-root "
            "once, and the next stage records it again)")


def identity_path(config: StagingConfig) -> Path:
    return config.manifest_dir / IDENTITY_FILE


def recorded_zone(store_root: Path) -> str | None:
    """The zone the store's runs are dated in, as its last stage recorded it: the lab's, for a reader that has no
    config (a notebook's `open_store`, a command run from another folder), whose default zone dated runs otherwise
    and, staging, moved 481 of 552 runs to other date partitions."""
    identity = read_identity(store_root / MANIFEST_DIR / IDENTITY_FILE)
    return None if identity is None else identity.local_tz


def derived_root_gone(store_root: Path) -> Path | None:
    """The derived tables' folder the store's last stage recorded (`_recorded_derived`) when it is not there now (a
    share not mounted, the folder deleted); None when none is recorded, or it is there. Commands say so: they read
    and write the store's default table instead, unsaid, and a lab reading an empty table took it for none."""
    folder = _recorded_derived(store_root)
    return folder if folder is not None and not folder.is_dir() else None


def recorded_derived_root(store_root: Path) -> Path | None:
    """Where the store's last stage was told to put its derived tables (`_recorded_derived`), while that folder is
    there: a command or a notebook not told again read an empty metrics table, or built a second one beside the
    store, unsaid."""
    folder = _recorded_derived(store_root)
    return folder if folder is not None and folder.is_dir() else None


def _recorded_derived(store_root: Path) -> Path | None:
    """The derived root the store's last stage recorded (`--derived-root`), there or not. A store moved or copied
    since (its recorded path another) finds it where it was relative to the store: a copied lab folder's stage wrote
    into the original's table. A copy whose table would be the original's (the store folder alone copied beside it)
    has none: its annotations repriced the original's runs."""
    identity = read_identity(store_root / MANIFEST_DIR / IDENTITY_FILE)
    if identity is None or identity.derived_root is None:
        return None
    folder = Path(identity.derived_root)
    if identity.store_root is not None and not same_folder(original := Path(identity.store_root), store_root):
        try:
            folder = Path(os.path.normpath(store_root / os.path.relpath(folder, original)))
        except ValueError:  # Windows: the two on different drives have no relative path
            return None
        if (original / MANIFEST_DIR).is_dir() and same_folder(folder, Path(identity.derived_root)):
            return None  # a copy beside the original, which is still there: the table is the original's
    return folder


def shared_derived_problem(config: StagingConfig) -> str | None:
    """Why this store must not use the derived root it is given: its metrics table is another store's, which records
    that folder as its own. Two stores given one `--derived-root` rewrote each other's table at every command (547
    rows, then 4): the commands' answers held, a notebook reading the table got whichever store ran last."""
    from labtui.core.metrics_stamp import OWNER_KEY
    from labtui.core.parquet_footer import footer_bytes, footer_value

    if config.derived_root is None:  # beside the store: its own
        return None
    try:
        owner = footer_value(footer_bytes(config.metrics_path), OWNER_KEY)
    except (OSError, ValueError):  # no table yet, or a damaged one: the next update writes it
        return None
    if owner is None or same_folder(Path(owner), config.store_root):
        return None
    identity = read_identity(Path(owner) / MANIFEST_DIR / IDENTITY_FILE)
    if identity is None:
        return None  # that store is gone (moved, or deleted): this one takes its table
    # its own derived root: the one it records, else the default beside it (`<store>_derived`: one taken over by a
    # second store's `--derived-root` was rewritten by both, as a recorded one had been)
    kept = Path(identity.derived_root) if identity.derived_root is not None else default_derived_root(Path(owner))
    if not same_folder(kept, config.derived_root):
        return None  # it keeps its tables elsewhere now (a project copied): this one takes it
    return (f"the derived root {config.derived_root} holds the derived tables of the store {owner}, which keeps them "
            "there: give each store a derived root of its own (--derived-root, or derived_root in the config)")


def check_location(config: StagingConfig) -> None:
    """Refuse a store path that cannot be right, before anything reads or writes there.

    - a store inside another store (`--stage-root` given the store folder's own stage root's parent twice, …);
    - a stage root whose name differs from the store's (a typo would read the store's manifest but no Parquet);
    - a folder that is neither empty nor a store (never scatter `_manifest/` into someone's documents);
    - a file where the store or its stage root should be;
    - a link to a folder that is not there (its disk not mounted): staging would write in the mount point;
    - a derived root in the raw folder or the store.
    """
    store, stage = config.store_root, config.stage_root
    if (problem := config.derived_root_problem() or shared_derived_problem(config)) is not None:
        raise UsageError(problem)
    check_store_paths(store, stage)
    if is_store(store):
        identity = read_identity(identity_path(config))
        kept = store / (identity.stage_dir if identity else DEFAULT_STAGE_DIR)
        if kept != stage and (identity is not None or (config.manifest_path.exists() and not stage.is_dir())):
            raise UsageError(f"the store {store} keeps its runs in {kept}, not in {stage}")
        return
    if store.is_dir():
        strangers = sorted(name for name in os.listdir(store) if name not in STORE_ENTRIES and name != stage.name)
        if strangers:
            shown = ", ".join(strangers[:3]) + (" …" if len(strangers) > 3 else "")
            meant = (f"; to make {stage} the store, give it as --store" if stage.name != DEFAULT_STAGE_DIR
                     else "")  # a stage root named like a store: --stage-root names the runs folder inside one
            raise UsageError(f"{store} is not a labtui store and is not empty ({shown}): "
                             f"give an empty folder or an existing store{meant}")


def check_store_paths(store: Path, stage: Path) -> None:
    """What a store's path alone can show is wrong (no config needed): a link to a folder that is not there, a file
    where a folder should be, a folder inside another store."""
    for path in (store, stage):
        if path.is_symlink() and not path.exists():  # to nothing, or a loop (it was "not there" too)
            why = no_folder(path)
            raise UsageError(f"{path} {why}" if why.endswith("mend the link") else
                             f"{path} {why} (a disk not mounted?): mount it, or mend the link")
        if path.exists() and not path.is_dir():
            raise UsageError(f"{path} is a file, not a folder: the store {store} cannot be there")
    for parent in store.parents:
        if is_store(parent):
            raise UsageError(f"{store} is inside the store {parent}: give {parent} itself (--store {parent})")


def check_named_store(stage: Path, named: Path, *, reading: bool, repairing: bool = False) -> None:
    """A store given on the command line (`named`, whose stage root is `stage`), checked before the config is read:
    its defaults (a raw root below the working folder) are not what is wrong with it. A command `reading` a store
    needs one there; any command is told of a store just below (`--store` given the folder that holds it). A store
    whose `_manifest/` is gone but whose runs are there is damaged: `repairing` rebuilds it, the others say so."""
    store = stage.parent
    check_store_paths(store, stage)
    if is_store(store):
        return
    if any(stage.glob("proc=*")):  # `no labtui store` and `stage into it first` read as a wrong path
        if repairing:
            return
        from labtui.core.manifest import MANIFEST_NAME, ManifestDamaged

        gone = f"its {MANIFEST_DIR}/ folder is gone; the runs are in {stage.name}/"
        raise ManifestDamaged(store / MANIFEST_DIR / MANIFEST_NAME, gone)
    below = stores_in(Path(os.path.abspath(store)))  # `--store .` names `store/` by a path that says where
    if below:
        which = f"{below[0]} is one: give --store {below[0]}" if len(below) == 1 else \
            f"{', '.join(map(str, below[:3]))}{' …' if len(below) > 3 else ''} are stores: give one as --store"
        raise UsageError(f"no labtui store at {named} (it has no {MANIFEST_DIR}/ folder); {which}")
    if reading and holds_raw_files(store):  # staging into it, as said below, is refused: it is a raw tree
        raise UsageError(f"no labtui store at {named}: it holds raw measurement files (.csv), so give it as "
                         f"--raw-root, and the store as --store (`labtui stage --raw-root {named} --store STORE`)")
    if reading:
        raise UsageError(f"no labtui store at {named} (it has no {MANIFEST_DIR}/ folder): check the path, or stage "
                         f"into it first (`labtui stage --store {named}`)")


def holds_raw_files(folder: Path) -> bool:
    """Whether `folder`, or a folder directly in it (a day's), holds a measurement file: a `.csv` whose first bytes
    have a `#Procedure:` line (a project folder's exported histories are CSV too). The first few found decide."""
    from labtui.core.scan import is_csv_name

    found: list[str] = []
    try:
        with os.scandir(folder) as entries:
            children = list(entries)
        found += [entry.path for entry in children if is_csv_name(entry.name)]
        for entry in children:
            if len(found) < RAW_FILES_LOOKED_AT and entry.is_dir(follow_symlinks=False):
                with os.scandir(entry.path) as inner:
                    found += [item.path for item in inner if is_csv_name(item.name)]
    except OSError:  # unreadable: the plain message
        pass
    return any(_a_measurement(path) for path in found[:RAW_FILES_LOOKED_AT])


RAW_FILES_LOOKED_AT = 5


def _a_measurement(path: str) -> bool:
    """Whether the file's first bytes hold a procedure tag, as the parser reads one (`parser.PROCEDURE_TAG`)."""
    from labtui.core.parser import PROCEDURE_TAG

    try:
        with open(path, "rb") as handle:
            return PROCEDURE_TAG.search(handle.read(4096).decode("latin-1")) is not None
    except OSError:
        return False


def stores_in(folder: Path) -> list[Path]:
    """The stores directly inside `folder`, by name (none when it cannot be listed)."""
    try:
        children = sorted(entry.name for entry in os.scandir(folder) if entry.is_dir())
    except OSError:
        return []
    return [folder / name for name in children if is_store(folder / name)]


def check_raw_root(config: StagingConfig, sources: list[str], *, moved: bool) -> StoreIdentity | None:
    """The identity to record when this raw root may stage into the store (None: already recorded as is).

    `sources`: the manifest's source files. Refuses (exit 2, naming both roots) a raw root other than the recorded
    one unless `moved`; a store built before identities were recorded adopts the raw root its files are found in,
    and a store without runs the raw root it is given.
    """
    raw, store = Path(os.path.abspath(config.raw_root)), Path(os.path.abspath(config.store_root))
    identity = read_identity(identity_path(config))
    derived = None if config.derived_root is None else os.path.abspath(config.derived_root)
    fresh = StoreIdentity(raw_root=str(raw), stage_dir=config.stage_root.name, store_root=str(store),
                          recorded_at_utc=dt.datetime.now(dt.UTC), local_tz=config.local_tz, derived_root=derived)
    if identity is None:
        if not sources or moved or _found_under(raw, sources):
            return fresh
        raise UsageError(f"none of the store's staged files is under the raw root {raw}: is it the raw root the "
                         f"store {config.store_root} was built from? (pass --raw-root-moved if the tree moved)")
    recorded = Path(identity.raw_root)
    if same_folder(recorded, raw):  # a link to it, or the link's target, is the same folder
        same_store = identity.store_root is not None and same_folder(Path(identity.store_root), store)
        # the store moved alone, its zone or its derived tables' folder changed, or an older record
        return None if same_store and (identity.local_tz, identity.derived_root) == (config.local_tz, derived) \
            else fresh
    if not sources:  # no run yet (a first stage from a mistyped, empty folder): nothing binds it to that root
        return fresh
    holds_them = _found_under(raw, sources)
    if holds_them and (moved or (identity.store_root is not None
                                 and _moved_together(raw, store, recorded, Path(identity.store_root)))):
        return fresh
    if moved:  # a sub-folder or another tree staged its files again under new run_ids, beside the old ones
        raise UsageError(f"not all of the store's staged files are under {raw}: --raw-root-moved is for the same "
                         f"raw tree in a new place (the store {config.store_root} was built from {recorded})")
    if recorded in raw.parents:
        why = "it is a sub-folder of the store's raw root: stage the whole raw root (new files are found there)"
    elif raw in recorded.parents:
        why = ("it contains the store's raw root: to stage the whole tree, stage it into a new store (--store "
               "NEW_FOLDER)")
    elif sources and _found_under(raw, sources):
        why = "the staged files are there: if the lab moved the raw tree, pass --raw-root-moved"
    else:
        why = "it is another folder (another lab's data?); pass --raw-root-moved only if the tree really moved"
    raise UsageError(f"the store {config.store_root} was built from the raw root {recorded}, not {raw}: {why}")


def same_folder(recorded: Path, given: Path) -> bool:
    """The same folder, named as recorded or through a link (a path that does not exist names itself)."""
    return recorded == given or os.path.realpath(recorded) == os.path.realpath(given)


def _moved_together(raw: Path, store: Path, recorded_raw: Path, recorded_store: Path) -> bool:
    """Whether the raw root is where the recorded one was relative to the store: the lab folder moved or was copied
    whole (a relative `raw_root` in the config stays right), so the run_ids' relative paths are the same."""
    try:
        return os.path.relpath(raw, store) == os.path.relpath(recorded_raw, recorded_store)
    except ValueError:  # Windows: raw root and store on different drives have no relative path
        return False


def _found_under(raw: Path, sources: list[str]) -> bool:
    """Whether the raw root holds the store's files: a sample of them exists at the same relative paths."""
    step = max(1, len(sources) // SAMPLED_SOURCES)
    sample = sources[::step][:SAMPLED_SOURCES]
    return sum(_present(raw / source) for source in sample) * 2 > len(sample)


def _present(path: Path) -> bool:
    """Whether a staged file is there; one in a folder that cannot be read counts (a copied project with a folder
    of another user's): the stage names that folder when it lists the tree, where this raised on the first one."""
    try:
        return path.is_file()
    except PermissionError:  # a hung share's EIO or ESTALE says nothing of where the files are
        return True


def write_identity(config: StagingConfig, identity: StoreIdentity) -> None:
    from labtui.core.atomic import atomic_write_bytes  # Polars comes with it: only writers pay for it

    path = identity_path(config)
    try:
        atomic_write_bytes(path, json_bytes(identity))
    except OSError as exc:
        raise OperationFailed("record the raw root in", path, exc) from exc


LockWait = Callable[[Holder | None], None]  # told once, when a writer starts waiting for another's lock


def lock_store(
    config: StagingConfig,
    cancel: threading.Event | None = None,
    on_wait: LockWait | None = None,
) -> WriterLock:
    """The writer lock of the store, held; a store that cannot be written says so (`StoreReadOnly`). `on_wait` is
    told who holds it, once, if it must wait (up to `lock_timeout_seconds`): `repair` waited three minutes unsaid."""
    lock = WriterLock(config.lock_path)
    try:
        lock.acquire(config.lock_timeout_seconds, cancel, on_wait)
    except OSError as exc:
        if isinstance(exc, PermissionError) or exc.errno == errno.EROFS:
            raise StoreReadOnly(config.store_root, config.lock_path, exc) from None
        raise OperationFailed("lock the store at", config.lock_path, exc) from exc
    return lock
