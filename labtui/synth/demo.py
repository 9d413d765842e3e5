"""A ready-to-open demo lab: raw files from the generator plus a config file that points at them."""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import asdict
from pathlib import Path

from labtui.synth.lab import LabSpec, LabSummary, generate_lab

MARKER = ".labtui-demo.json"
CONFIG_TEXT = """\
# A demo lab written by `labtui demo` (synthetic data in the acquisition's exact format).
raw_root: data/01_raw
stage_root: data/02_stage/raw_measurements
local_tz: {tz}
histories_dir: histories
exports_dir: exports
"""


def default_demo_dir() -> Path:
    """$LABTUI_DEMO_DIR, else the user's cache folder: generated once, reused by every `labtui --demo`."""
    if explicit := os.environ.get("LABTUI_DEMO_DIR"):
        return Path(explicit)
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "labtui" / "demo"


def config_file_of(folder: Path) -> Path:
    return folder / "config" / "labtui.yaml"


def write_demo(folder: Path, spec: LabSpec | None = None) -> LabSummary:
    """Write `folder/data/01_raw/…` and `folder/config/labtui.yaml`; the marker is written last, so an
    interrupted generation is redone rather than half-used."""
    spec = spec or LabSpec()
    raw = folder / "data" / "01_raw"
    if raw.exists() and any(raw.iterdir()):
        raise FileExistsError(f"{raw} already holds files; choose an empty folder")
    summary = generate_lab(raw, spec)
    config = config_file_of(folder)
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(CONFIG_TEXT.format(tz=spec.tz), encoding="utf-8")
    described = {k: v for k, v in asdict(spec).items() if k != "kinds"}
    described["irregularities"] = sorted(spec.kinds)
    (folder / MARKER).write_text(json.dumps(described, default=str, indent=2), encoding="utf-8")
    return summary


def ensure_demo(folder: Path | None = None, spec: LabSpec | None = None) -> Path:
    """The demo lab's config file, generating the lab first if it is missing or was interrupted."""
    folder = folder or default_demo_dir()
    if not (folder / MARKER).is_file():
        shutil.rmtree(folder / "data" / "01_raw", ignore_errors=True)
        write_demo(folder, spec)
    return config_file_of(folder)
