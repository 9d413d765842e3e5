"""Configuration: `config/labtui.yaml`, validated by Pydantic; CLI flags override it.

Relative paths in a config file are resolved against the project folder, i.e. the folder that holds `config/`
(or the config file's own folder when it does not sit in a `config/` folder), so the same file works from any cwd.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from labtui import __version__
from labtui.core.errors import UsageError

CONFIG_ENV = "LABTUI_CONFIG"
DEFAULT_CONFIG = Path("config") / "labtui.yaml"


class ConfigError(UsageError):
    """A config file that cannot be read or does not validate; the message says which file and why."""


class MetricsSettings(BaseModel):
    """Windows and limits of the derived quantities (`labtui.core.metrics`); the defaults are issue 11's."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    cnp_fit_window_v: float = Field(default=0.5, gt=0, description="parabola through the points this close to min |I|")
    cnp_edge_margin_v: float = Field(default=0.2, ge=0, description="a minimum this close to a leg's end is no CNP")
    gm_window_v: float = Field(default=0.5, gt=0, description="Savitzky-Golay window of the transconductance")
    dead_conductance_s: float = Field(default=1e-6, ge=0, description="max |I|/|Vds| below this: a dead channel")
    light_threshold_v: float = Field(default=0.1, ge=0, description="laser ON ⇔ VL ≥ this (the lab's rule)")
    it_window_s: float = Field(default=5.0, gt=0, description="averaging window before switch-on and switch-off")
    it_smoothing_s: float = Field(default=1.0, gt=0, description="moving average before reading rise/decay times")
    calibration_stale_h: float = Field(default=24.0, gt=0, description="|calibration age| above this is stale")
    wavelength_tolerance_nm: float = Field(default=0.5, ge=0, description="a calibration of the same wavelength")


class StagingConfig(BaseModel):
    """Everything the engine needs to know; derived store paths are filled from `stage_root`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    raw_root: Path = Path("data/01_raw")
    stage_root: Path = Path("data/02_stage/raw_measurements")
    local_tz: str = "America/Santiago"
    workers: int = Field(default=4, ge=1, le=64, description="threads; more than cores hides file-system latency")
    settle_seconds: float = Field(
        default=0.0, ge=0, description="one-shot stage: files modified this recently are busy"
    )
    watch_settle_seconds: float = Field(default=5.0, ge=0, description="watch mode: settle time before staging")
    watch_poll_seconds: float = Field(default=1.0, gt=0)
    lock_timeout_seconds: float = Field(default=180.0, ge=0)
    commit_interval_seconds: float = Field(default=2.0, gt=0, description="manifest commits during a long stage")
    procedures_file: Path | None = None
    chip_params_file: Path | None = None
    derived_root: Path | None = Field(default=None, description="derived tables (metrics.parquet); see derived_dir")
    metrics: MetricsSettings = Field(default_factory=MetricsSettings)
    histories_dir: Path = Path("histories")
    exports_dir: Path = Path("exports")
    keys: dict[str, str] = Field(default_factory=dict, description="TUI key remapping: action -> key")
    user: str | None = Field(default=None, min_length=1, description="author of annotations (default: the OS user)")

    @field_validator("local_tz")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r} (use an IANA name like America/Santiago)") from exc
        return value

    @model_validator(mode="after")
    def _distinct_roots(self) -> StagingConfig:
        raw, stage = self.raw_root.resolve(), self.stage_root.resolve()
        if stage == raw or raw in stage.parents or stage in raw.parents:
            raise ValueError(f"stage_root {stage} and raw_root {raw} must not contain each other")
        return self

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
    def events_dir(self) -> Path:
        return self.manifest_dir / "events"

    @property
    def rejects_dir(self) -> Path:
        return self.store_root / "_rejects"

    @property
    def lock_path(self) -> Path:
        return self.manifest_dir / ".lock"

    def raw_root_problem(self) -> str | None:
        """Why nothing can be staged from `raw_root` (None: it is a folder): it is missing, or it is a file."""
        if self.raw_root.is_dir():
            return None
        state = "is a file, not a folder" if self.raw_root.exists() else "does not exist"
        return f"the raw folder {self.raw_root} {state}"

    @property
    def derived_dir(self) -> Path:
        """`derived_root`, else `03_derived` beside the store folder (`data/02_stage` → `data/03_derived`)."""
        return self.derived_root if self.derived_root is not None else self.store_root.parent / "03_derived"

    @property
    def metrics_path(self) -> Path:
        return self.derived_dir / "metrics.parquet"

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


def find_config(explicit: Path | None = None) -> Path | None:
    """The config file to use: --config, then $LABTUI_CONFIG, then ./config/labtui.yaml if present."""
    if explicit is not None:
        return explicit
    env = os.environ.get(CONFIG_ENV)
    if env:
        return Path(env)
    return DEFAULT_CONFIG if DEFAULT_CONFIG.is_file() else None


def project_dir_of(config_file: Path) -> Path:
    folder = config_file.resolve().parent
    return folder.parent if folder.name == "config" else folder


def load_config(config_file: Path | None = None, **overrides: Any) -> StagingConfig:
    """Read and validate the config, apply non-None overrides (CLI flags), resolve relative paths."""
    path = find_config(config_file)
    data: dict[str, Any] = {}
    base = Path.cwd()
    if path is not None:
        import yaml  # here: a run without a config file never loads the YAML parser

        try:
            loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from exc
        except yaml.YAMLError as exc:
            raise ConfigError(f"config file {path} is not valid YAML: {exc}") from exc
        if loaded is not None and not isinstance(loaded, dict):
            raise ConfigError(f"config file {path} must hold a mapping of settings")
        data = loaded or {}
        base = project_dir_of(path)
    for key in _PATH_FIELDS:
        if data.get(key) is not None:
            data[key] = _resolve(base, Path(data[key]))
    for key, value in overrides.items():
        if value is not None:
            data[key] = _resolve(Path.cwd(), Path(value)) if key in _PATH_FIELDS else value
    for key in ("raw_root", "stage_root", "histories_dir", "exports_dir"):
        data.setdefault(key, _resolve(base, StagingConfig.model_fields[key].default))
    try:
        return StagingConfig(**data)
    except ValueError as exc:
        raise ConfigError(f"invalid configuration{f' in {path}' if path else ''}:\n{exc}") from exc


def _resolve(base: Path, path: Path) -> Path:
    path = path.expanduser()
    return path if path.is_absolute() else (base / path).resolve()


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
