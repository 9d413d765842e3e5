"""Synthetic lab: raw files in exactly the acquisition software's format, with believable device physics.

`write_run` / `write_files` write single runs (fixture factories); `generate_lab` writes a whole lab of chips
measured over weeks, with the real data's irregularities, and returns its ground truth as a `LabSummary`.
"""

from labtui.synth.lab import generate_lab
from labtui.synth.labspec import IRREGULARITIES, IrregularFile, LabSpec, LabSummary, RunInfo
from labtui.synth.physics import chip_device
from labtui.synth.writer import write_files, write_run

__all__ = [
    "IRREGULARITIES",
    "IrregularFile",
    "LabSpec",
    "LabSummary",
    "RunInfo",
    "chip_device",
    "generate_lab",
    "write_files",
    "write_run",
]
