"""Configuration: `config/labtui.yaml`, checked field by field; CLI flags override it.

Relative paths in a config file are resolved against the project folder, i.e. the folder that holds `config/`
(or the config file's own folder when it does not sit in a `config/` folder), so the same file works from any cwd.
"""

from __future__ import annotations

import errno
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from labtui import __version__
from labtui.core.fields import FieldError, bounds, build
from labtui.core.lab_files import ConfigError, file_sha256, read_yaml

CONFIG_ENV = "LABTUI_CONFIG"
DEFAULT_CONFIG = Path("config") / "labtui.yaml"
METRICS_FILE = "metrics.parquet"  # in the derived root


def known_zone(name: str) -> ZoneInfo:
    """The IANA time zone `name`; a ValueError that says what to write instead."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {name!r} (use an IANA name like America/Santiago)") from exc


@dataclass(frozen=True, kw_only=True)
class MetricsSettings:
    """Windows and limits of the derived quantities (`labtui.core.metrics`); the defaults are issue 11's."""

    cnp_fit_window_v: float = field(default=0.2, metadata=bounds(gt=0))  # parabola through points this near min |I|
    cnp_edge_margin_v: float = field(default=0.2, metadata=bounds(ge=0))  # a minimum this near a leg's end: no CNP
    gm_window_v: float = field(default=0.5, metadata=bounds(gt=0))  # Savitzky-Golay window of the transconductance
    dead_conductance_s: float = field(default=1e-6, metadata=bounds(ge=0))  # max |I|/|Vds| below this: dead channel
    light_threshold_v: float = field(default=0.1, metadata=bounds(ge=0))  # laser ON ⇔ VL ≥ this (the lab's rule)
    it_window_s: float = field(default=5.0, metadata=bounds(gt=0))  # averaging window before switch-on and -off
    it_smoothing_s: float = field(default=1.0, metadata=bounds(gt=0))  # moving average before rise/decay times
    it_drift_window_s: float = field(default=20.0, metadata=bounds(gt=0))  # dark trend: this long before switch-on
    calibration_stale_h: float = field(default=24.0, metadata=bounds(gt=0))  # |calibration age| above: stale
    wavelength_tolerance_nm: float = field(default=0.5, metadata=bounds(ge=0))  # a calibration of the same λ


def default_registry_path() -> Path:
    """`config/procedures.yaml` of the source tree, or the copy packaged into the wheel."""
    here = Path(__file__).resolve().parents[1]
    for candidate in (here.parent / "config" / "procedures.yaml", here / "config" / "procedures.yaml"):
        if candidate.is_file():
            return candidate
    raise ConfigError("the procedure registry procedures.yaml is missing from the installation")


def registry_digest(procedures_file: Path | None) -> str | None:
    """SHA-256 of the registry's bytes (`procedures_file`, else labtui's own): a reject is judged by the file *and*
    the registry, so one made before the lab edited its registry (an unknown procedure added) is judged again.
    None when it cannot be read (the stage that loads it says why)."""
    try:
        return file_sha256(procedures_file or default_registry_path(), "procedure registry")
    except ConfigError:
        return None


def default_derived_root(store_root: Path) -> Path:
    """Where a store's derived tables go unless `derived_root` says: `03_derived` beside the lab layout's store
    folder (`data/02_stage` → `data/03_derived`); beside a store folder of another name, `<name>_derived`
    (`stores/lab_a` → `stores/lab_a_derived`). Two stores kept in one folder thus never share one metrics table,
    which each would rewrite for its own runs, leaving the other's trends and figures without their quantities.
    A store named through a link (`--store link`) finds the tables beside the link's target when there are none
    beside the link: `link_derived/` was a second table, left stale (a project whose `data/02_stage` links to a
    larger disk keeps its `data/03_derived`)."""
    beside = _derived_beside(store_root)
    if store_root.is_symlink() and not (beside / METRICS_FILE).exists():
        target = _derived_beside(Path(os.path.realpath(store_root)))
        if (target / METRICS_FILE).exists():
            return target
    return beside


def _derived_beside(store_root: Path) -> Path:
    if store_root.name == "02_stage":
        return store_root.parent / "03_derived"
    return store_root.parent / f"{store_root.name}_derived"


@dataclass(frozen=True, kw_only=True)
class StagingConfig:
    """Everything the engine needs to know; derived store paths are filled from `stage_root`.

    Built from a config file and flags by `load_config`, which checks every field (`labtui.core.fields`); the
    roots are checked on any construction, so no code path can stage into its own raw tree."""

    raw_root: Path = Path("data/01_raw")
    stage_root: Path = Path("data/02_stage/raw_measurements")
    local_tz: str = "America/Santiago"
    # staging threads: one at a time runs a chunk's Python (`ChunkWorker.stage`), and its Polars queries take longer
    # than their CPU, so more threads than cores keep the cores busier: on 2 cores, 5 threads staged the real corpus
    # 5–8 % faster than 3 (4: 4 %), for 5 MiB more peak memory at 10× the corpus (12 and 4 interleaved pairs)
    workers: int = field(default=5, metadata=bounds(ge=1, le=64))
    settle_seconds: float = field(default=0.0, metadata=bounds(ge=0))  # one-shot stage: newer files are busy
    watch_settle_seconds: float = field(default=5.0, metadata=bounds(ge=0))  # watch mode: settle before staging
    watch_poll_seconds: float = field(default=1.0, metadata=bounds(gt=0))
    lock_timeout_seconds: float = field(default=180.0, metadata=bounds(ge=0))
    commit_interval_seconds: float = field(default=2.0, metadata=bounds(gt=0))  # commits during a long stage
    procedures_file: Path | None = None  # None: labtui's registry (load_config takes the lab's config/procedures.yaml)
    chip_params_file: Path | None = Path("config/chip_params.yaml")  # absent: no chip has a geometry yet
    derived_root: Path | None = None  # derived tables (metrics.parquet); see derived_dir
    metrics: MetricsSettings = field(default_factory=MetricsSettings)
    histories_dir: Path = Path("histories")
    exports_dir: Path = Path("exports")
    keys: dict[str, str] = field(default_factory=dict)  # TUI key remapping: action -> key
    user: str | None = field(default=None, metadata=bounds(nonempty=True))  # annotations' author (default: OS user)

    def __post_init__(self) -> None:
        try:
            known_zone(self.local_tz)
        except ValueError as exc:  # said as every other setting's problem: the key, then what is wrong
            raise ValueError(f"local_tz: {exc}") from None
        # realpath: a link that loops is its own path, no RuntimeError (Python 3.11's `resolve`): its reads say it
        raw, stage = Path(os.path.realpath(self.raw_root)), Path(os.path.realpath(self.stage_root))
        store = stage if (stage / "_manifest").is_dir() else stage.parent  # a config may name the store folder
        # a raw root that is not there inside a store that is holds nothing to mix up: the default `data/01_raw` of a
        # command run in the store's folder, which the store's recorded raw root replaces (`cli.locate`)
        unmixed = not raw.exists() and (store / "_manifest").is_dir()
        if (stage == raw or raw in stage.parents or store in raw.parents) and not unmixed:  # nor a store in raw
            raise ValueError(f"the store {store} and raw_root {raw} must not contain each other")

    @property
    def store_root(self) -> Path:
        """The folder holding `raw_measurements/`, `_manifest/` and `_rejects/`."""
        return self.stage_root.parent

    @property
    def manifest_dir(self) -> Path:
        return self.store_root / "_manifest"

    @property
    def manifest_path(self) -> Path:
        return self.manifest_dir / "manifest.parquet"

    @property
    def legacy_records_dir(self) -> Path:
        """Where labtui before 2026-12 kept each run's record as a JSON file (now in the run's Parquet)."""
        return self.manifest_dir / "events"

    @property
    def rejects_dir(self) -> Path:
        return self.store_root / "_rejects"

    @property
    def lock_path(self) -> Path:
        return self.manifest_dir / ".lock"

    def raw_root_problem(self) -> str | None:
        """Why nothing can be staged from `raw_root` (None: it is a folder of raw files): it is missing, a file,
        cannot be listed, or is a labtui store or its Parquet folder (a mix-up of the two paths)."""
        if not self.raw_root.is_dir():
            return f"the raw folder {self.raw_root} {no_folder(self.raw_root)}"
        try:
            os.scandir(self.raw_root).close()
        except OSError as error:
            return f"cannot list the raw folder {self.raw_root}: {error.strerror or error}"
        stage_dir = (self.raw_root.parent / "_manifest").is_dir() and any(self.raw_root.glob("proc=*"))
        if (self.raw_root / "_manifest").is_dir() or stage_dir:
            return f"the raw folder {self.raw_root} is part of a labtui store, not a folder of raw CSV files"
        return None

    def no_raw_files(self) -> str:
        """What a stage that found no raw file says, in `labtui stage` and the app: the path is the likely mistake."""
        return f"no raw files (*.csv) in {self.raw_root}: is it the raw folder?"

    def derived_root_problem(self) -> str | None:
        """Why the derived tables must not go where `derived_root` says (None: they may): into the raw folder (which
        labtui never writes), into the store (a file among its runs is a foreign file; its `_manifest/` is the
        commit's), or into a folder that is not there (a typo made one, and a second metrics table in it)."""
        if self.derived_root is None:  # beside the store: in the raw folder only when the raw folder holds the store
            if (inside := self._inside(self.derived_dir)) is not None and inside[1] == "the raw folder":
                return (f"the store's derived tables would go in the raw folder ({inside[0]}): their folder "
                        f"{self.derived_dir} is beside the store; give --derived-root a folder outside it")
            return None
        if (inside := self._inside(self.derived_root)) is not None:
            folder, what = inside
            return (f"the derived root {self.derived_root} is in {what} ({folder}): give a folder outside the raw "
                    "folder and every store (by default it is beside the store)")
        if not self.derived_root.is_dir():
            state = "is a file, not a folder" if self.derived_root.exists() else "does not exist"
            return (f"the derived root {self.derived_root} {state}: create it first, or check the path (labtui makes "
                    "only its default one, beside the store)")
        return None

    def _inside(self, path: Path) -> tuple[Path, str] | None:
        """The raw folder, the store or another labtui store that holds `path` (links followed), and how it is
        named; None: none does (a metrics table in another store's runs broke its readers, DuckDB's and pyarrow's)."""
        target = Path(os.path.realpath(path))
        for folder, what in ((self.raw_root, "the raw folder"), (self.store_root, "the store")):
            if target.is_relative_to(os.path.realpath(folder)):
                return folder, what
        other = next((folder for folder in (target, *target.parents) if (folder / "_manifest").is_dir()), None)
        return (other, "another labtui store") if other is not None else None

    def inside_problem(self, path: Path) -> str | None:
        """Why no output goes to `path`: it is in the raw folder, the store or another labtui store (`_inside`)."""
        if (inside := self._inside(path)) is None:
            return None
        folder, what = inside
        return f"{path} is in {what} ({folder}): labtui writes its outputs elsewhere"

    def output_problem(self, path: Path, config_file: Path | None = None) -> str | None:
        """Why an output the user named (`--out`) must not be written at `path`, its links followed: a file there
        would replace a raw file, a store file, the metrics table or a file labtui reads (`config_file`: the one
        named by `--config`), an output being written by a rename, which replaces whatever has the name; and a
        device or a pipe is not a file to replace."""
        if (inside := self.inside_problem(path)) is not None:
            return inside
        target = Path(os.path.realpath(path))
        if target == Path(os.path.realpath(self.metrics_path)):
            return f"{path} is the metrics table labtui keeps: write the output elsewhere"
        if (read := self._read_file(target, config_file)) is not None:  # `history 69 --out config/labtui.yaml`:
            # every later command failed on the table written in its place
            return f"{path} is {read}, which labtui reads: write the output elsewhere"
        try:
            kind = os.stat(path).st_mode  # through the link: /dev/stdout's realpath names no file when it is a pipe
        except OSError:
            kind = None
        if kind is not None and not (stat.S_ISREG(kind) or stat.S_ISDIR(kind)):
            return f"{path} is not a regular file (a device, a pipe or a socket)"
        if not target.parent.exists():  # a mistyped folder is said, not created (anywhere, as whoever runs labtui)
            link = f" ({path} links to {target})" if target != Path(os.path.abspath(path)) else ""
            return f"the folder {target.parent} does not exist{link}: create it first, or check the path"
        return None

    def _read_file(self, target: Path, config_file: Path | None) -> str | None:
        """What `target` (a real path) is when it is a file labtui reads: a config, the chip geometry, the registry."""
        if any(found is not None and target == Path(os.path.realpath(found))
               for found in (config_file, find_config(), config_of_store(self.stage_root))):
            return "the config"
        if target.parts[-2:] == DEFAULT_CONFIG.parts:  # another project's, where `labtui` finds it from its folder
            return "a lab's config"
        for name, what in (("chip_params_file", "the chip geometry file"),
                           ("procedures_file", "the procedure registry")):
            if (read := getattr(self, name)) is not None and target == Path(os.path.realpath(read)):
                return f"{what} ({name})"
        return None

    @property
    def derived_dir(self) -> Path:
        """`derived_root`, else the store's own folder of derived tables (`default_derived_root`)."""
        return self.derived_root if self.derived_root is not None else default_derived_root(self.store_root)

    @property
    def metrics_path(self) -> Path:
        return self.derived_dir / METRICS_FILE

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.local_tz)


_PATH_FIELDS = (
    "raw_root",
    "stage_root",
    "procedures_file",
    "chip_params_file",
    "histories_dir",
    "exports_dir",
    "derived_root",
)


def no_folder(path: Path) -> str:
    """What `path`, which is no folder, is instead: a file, a link that loops or to nothing, or nothing."""
    if path.exists():
        return "is a file, not a folder"
    if not path.is_symlink():
        return "does not exist"
    try:
        path.stat()
    except OSError as error:
        if error.errno == errno.ELOOP:
            return "is a symbolic link that loops (to itself, or through others): mend the link"
    return f"is a symbolic link to {os.readlink(path)}, which does not exist"


def find_config(explicit: Path | None = None) -> Path | None:
    """The config file to use: --config, then $LABTUI_CONFIG, then config/labtui.yaml in the working folder or the
    nearest folder above it that has one (as git finds its repository: a command run from a sub-folder of the
    project reads the project's config, whose relative paths stay relative to the project)."""
    if explicit is not None:
        return explicit
    env = os.environ.get(CONFIG_ENV)
    if env:
        return Path(env)
    here = working_dir()
    for folder in (here, *here.parents):
        if os.path.lexists(folder / DEFAULT_CONFIG):  # a folder of its name, a link to a share not mounted: said
            # when read, not passed over for the defaults (or a config further up)
            return DEFAULT_CONFIG if folder == here else folder / DEFAULT_CONFIG
    return None


def config_of_store(stage_root: Path) -> Path | None:
    """The config of the project a store named on the command line lives in, for a command run outside the project
    (`labtui --store ~/lab/data/02_stage metrics 68` from the home folder): the nearest config/labtui.yaml above the
    store, when its `stage_root` is that store. Run from elsewhere, the command read no config: the lab's chip
    geometry (no mobility, said in every row), its procedures and its metrics windows went unread. A config of
    another store, or one that cannot be read, is not this store's: None."""
    stage_root = Path(os.path.realpath(_resolve(None, stage_root)))
    for folder in stage_root.parents:
        if not (candidate := folder / DEFAULT_CONFIG).is_file():
            continue
        try:
            data = read_yaml(candidate, "config file")
        except ConfigError:
            return None
        named = data.get("stage_root", StagingConfig.stage_root) if isinstance(data, dict) else None
        if not isinstance(named, str | Path):
            return None
        named_root = os.path.realpath(_resolve(folder, Path(named)))  # the store's runs, or its folder (as the app)
        return candidate if named_root in (str(stage_root), str(stage_root.parent)) else None
    return None


def working_dir() -> Path:
    """The working folder, which a shell can sit in after it was deleted: that said in one line (it was "labtui:
    operating-system error: No such file or directory", naming nothing), and only when a relative path needs it."""
    try:
        return Path.cwd()
    except FileNotFoundError:
        raise ConfigError("the working folder no longer exists (deleted or unmounted): cd to another one") from None


def project_dir_of(config_file: Path) -> Path:
    folder = Path(os.path.realpath(config_file)).parent
    return folder.parent if folder.name == "config" else folder


def load_config(config_file: Path | None = None, *, flags: dict[str, str] | None = None,
                **overrides: Any) -> StagingConfig:
    """Read and validate the config, apply non-None overrides (CLI flags), resolve relative paths. `flags` names
    an override's option when it is not `--key` (`--store` gives the stage root), for the error to name it."""
    path = find_config(config_file)
    if path is None and overrides.get("stage_root") is not None:
        path = config_of_store(Path(overrides["stage_root"]))
    data: dict[str, Any] = {}
    if path is not None:
        loaded = read_yaml(path, "config file")
        if loaded is not None and not isinstance(loaded, dict):
            raise ConfigError(f"config file {path} must hold a mapping of settings")
        data = loaded or {}
    base = working_dir() if path is None else project_dir_of(path)
    for key in _PATH_FIELDS:
        if isinstance(data.get(key), str | Path):  # anything else is reported by `build`
            data[key] = _resolve(base, Path(data[key]))
    for key, value in overrides.items():
        if value is not None:
            data[key] = _resolve(None, Path(value)) if key in _PATH_FIELDS else value
    for key in ("raw_root", "stage_root", "histories_dir", "exports_dir", "chip_params_file"):
        data.setdefault(key, _resolve(base, getattr(StagingConfig, key)))
    if path is None and "local_tz" not in data and (zone := _store_zone(data["stage_root"])) is not None:
        data["local_tz"] = zone  # no config at all: the store's zone, not the default (a Tokyo lab's runs in Santiago)
    if "derived_root" not in data and (derived := _store_derived_root(data["stage_root"])) is not None:
        data["derived_root"] = derived  # where its last stage was told to put them, not a second table beside it
    if "procedures_file" not in data and (lab_registry := base / "config" / "procedures.yaml").is_file():
        data["procedures_file"] = Path(os.path.realpath(lab_registry))  # the lab's registry; else labtui's own (None)
    try:
        return build(StagingConfig, data, types={"MetricsSettings": lambda value: build(MetricsSettings, value)})
    except FieldError as exc:
        failing = {problem.split(":", 1)[0] for problem in exc.problems}
        if any(value is not None and key in failing for key, value in overrides.items()):  # `--workers 1000`
            raise ConfigError(f"invalid value on the command line: {exc}") from None
        given = [(flags or {}).get(key, f"--{key.replace('_', '-')}") for key, value in overrides.items()
                 if value is not None and key in _PATH_FIELDS]
        where = f" in {path}" if path else ""
        if given:  # the file may be right: `--raw-root data --stage-root data/01_raw` is the command line's
            where = f" ({path} with {', '.join(given)})" if path else f" ({', '.join(given)})"
        raise ConfigError(f"invalid configuration{where}: {exc}") from None


def _store_zone(stage_root: object) -> str | None:
    """The zone the store at `stage_root` (its runs' folder, or the store folder a config may name) recorded; one this
    machine does not know is said, not replaced by the default (which would date its runs otherwise)."""
    from labtui.core.store import recorded_zone  # the store's module reads configs: imported here, not at the top

    if not isinstance(stage_root, Path):
        return None
    for store_root in (stage_root.parent, stage_root):
        if (zone := recorded_zone(store_root)) is not None:
            try:
                known_zone(zone)
            except ValueError as exc:
                raise ConfigError(f"the store {store_root} records its runs' zone as {zone!r}, which this machine "
                                  f"does not know ({exc}): set local_tz in the config") from None
            return zone
    return None


def _store_derived_root(stage_root: object) -> Path | None:
    """The derived tables' folder the store at `stage_root` (its runs' folder, or the store folder a config may name)
    recorded at its last stage (`store.recorded_derived_root`)."""
    from labtui.core.store import recorded_derived_root  # the store's module reads configs: imported here

    if not isinstance(stage_root, Path):
        return None
    return next(filter(None, (recorded_derived_root(store_root) for store_root in (stage_root.parent, stage_root))),
                None)


def _resolve(base: Path | None, path: Path) -> Path:
    """`path` against `base` (None: the working folder, looked up only for a relative path), its links kept as an
    absolute path keeps them: a store's `raw_measurements` linked to another disk, resolved, moved the store (its
    `_manifest/`) to the link's target's parent when named relatively, and not when named absolutely."""
    path = path.expanduser()
    return path if path.is_absolute() else Path(os.path.abspath((base or working_dir()) / path))


def extraction_version() -> str:
    """Package version, plus `git describe` of the source tree when it is a git checkout."""
    import subprocess

    src = Path(__file__).resolve().parents[2]
    if not (src / ".git").exists():
        return __version__
    try:
        out = subprocess.run(
            ["git", "-C", str(src), "describe", "--always", "--dirty", "--tags"],
            capture_output=True,
            text=True,
            timeout=2,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return __version__
    return f"{__version__}+{out}" if out else __version__
