"""A ready-to-open demo lab: raw files from the generator plus a config file that points at them."""

from __future__ import annotations

import csv
import json
import os
import shutil
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

import yaml

from labtui.synth.lab import generate_lab
from labtui.synth.labspec import LabSpec, LabSummary
from labtui.synth.truth import COLUMNS as TRUTH_COLUMNS

MARKER = ".labtui-demo.json"
CONFIG_TEXT = """\
# A demo lab written by `labtui demo` (synthetic data in the acquisition's exact format).
raw_root: data/01_raw
stage_root: data/02_stage/raw_measurements
local_tz: {tz}
histories_dir: histories
exports_dir: exports
chip_params_file: config/chip_params.yaml
"""
GROUND_TRUTH = "ground_truth.csv"
# What a demo lab folder holds (an interrupted generation leaves some of it, and is redone), exports included
DEMO_ENTRIES = frozenset({"data", "config", GROUND_TRUTH, MARKER, "exports", "histories"})


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
    if folder.is_dir() and (others := sorted(set(os.listdir(folder)) - DEMO_ENTRIES)):
        shown = ", ".join(others[:3]) + (", …" if len(others) > 3 else "")
        raise FileExistsError(f"{folder} is not empty (it holds {shown}): the demo lab, and the config that every "
                              "labtui command run there reads, need an empty or new folder")
    config = config_file_of(folder)
    config_text = CONFIG_TEXT.format(tz=spec.tz)
    if config.exists() and config.read_text(encoding="utf-8", errors="replace") != config_text:
        raise FileExistsError(f"{config} is a config of its own, not the demo's: the demo lab needs an empty or new "
                              "folder")  # it was written over
    chip_params, truth, marker = config.parent / "chip_params.yaml", folder / GROUND_TRUTH, folder / MARKER
    written = (config, chip_params, truth, marker)
    kept = {path for path in written if path.exists()}  # an interrupted demo's: redone, never removed
    try:
        summary = generate_lab(raw, spec)
        config.parent.mkdir(parents=True, exist_ok=True)
        config.write_text(config_text, encoding="utf-8")
        header = "# The demo chips' geometry (see config/chip_params.yaml of labtui): it gives their mobilities.\n"
        chip_params.write_text(
            header + yaml.safe_dump(dict(summary.chip_params), sort_keys=False, allow_unicode=True), encoding="utf-8")
        write_ground_truth(truth, summary)
        described = {k: v for k, v in asdict(spec).items() if k != "kinds"}
        described["irregularities"] = sorted(spec.kinds)
        marker.write_text(json.dumps(described, default=str, indent=2), encoding="utf-8")
    except BaseException:  # a full disk, a Ctrl+C: no part of a lab left (its raw files refused the next demo there)
        shutil.rmtree(raw, ignore_errors=True)
        for path in set(written) - kept:
            path.unlink(missing_ok=True)
        raise
    return summary


def write_ground_truth(path: Path, summary: LabSummary) -> None:
    """What `labtui metrics` should find: `source_file` (relative to the raw root), `proc`, then the true value of
    each quantity the generator knows (`labtui.synth.truth`), under the column names of `labtui metrics`."""
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["source_file", "proc", *TRUTH_COLUMNS])
        for run in summary.runs:
            if run.start_utc is not None:
                writer.writerow([run.path, run.proc, *("" if run.truth.get(c) is None else repr(run.truth[c])
                                                       for c in TRUTH_COLUMNS)])


def ensure_demo(
    folder: Path | None = None, spec: LabSpec | None = None, *, announce: Callable[[Path], object] | None = None
) -> Path:
    """The demo lab's config file, generating the lab first if it is missing or was interrupted (`announce(folder)`
    first: it takes seconds)."""
    folder = folder or default_demo_dir()
    if not (folder / MARKER).is_file():
        if announce is not None:
            announce(folder)
        shutil.rmtree(folder / "data" / "01_raw", ignore_errors=True)
        write_demo(folder, spec)
    return config_file_of(folder)
