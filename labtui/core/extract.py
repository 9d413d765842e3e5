"""From a parsed file to its manifest row: identity (run_id, local date), light flag, summary; its completeness and
duration are `completeness`'s."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
import re
from pathlib import PurePosixPath
from typing import Any
from zoneinfo import ZoneInfo

import polars as pl

from labtui.core.completeness import before_its_pulse, duration_s, finite_values, is_complete
from labtui.core.datablock import NO_READING
from labtui.core.extraction_rules import EXTRACTION_RULES
from labtui.core.manifest_row import ManifestRow
from labtui.core.metrics.definitions import FLICKER_SAMPLES
from labtui.core.parser import Header
from labtui.core.registry import LASER_COLUMN, LIGHT_THRESHOLD_V
from labtui.core.scan import mtime_of

DATE_IN_PATH = r"\d{4}-\d{2}-\d{2}"  # a day in a raw file's path (`2025-10-13/IVg2025-10-13_1.csv`): the last names it
DATE_SLACK_DAYS = 1  # a run queued on day D may start on D+1 (an overnight queue): only more is said


def run_id_for(source_file: str, start_time_utc: dt.datetime) -> str:
    """Deterministic id: survives moving the whole raw tree, differs when the start time changes."""
    key = f"{source_file.lower()}|{start_time_utc.strftime('%Y-%m-%dT%H:%M:%SZ')}"
    return hashlib.sha1(key.encode("utf-8")).hexdigest()[:16]


def local_date(start_time_utc: dt.datetime, zone: ZoneInfo) -> dt.date:
    """The lab's calendar day of a run: evening runs fall on the next UTC date, DST shifts the offset."""
    return start_time_utc.astimezone(zone).date()


LASER_TOGGLE = "laser toggle"  # a newer acquisition's switch, beside a laser voltage that keeps its last value
SWITCHED_OFF = frozenset({"false", "off", "no", "disabled"})


def has_light(header: Header) -> bool | None:
    """The lab's rule on the header's laser voltage; a `Laser toggle: False` beside it says dark, whatever voltage
    was left set (a dark sweep at `Laser voltage: 3.5 V` was stored lit, and drawn in the lit CNP trend)."""
    if header.spec.light != "laser_voltage":
        return header.spec.light == "always"
    if toggled_off(header):
        return False
    voltage = header.fields.get("laser_voltage_v")
    return None if voltage is None or math.isnan(voltage) else voltage >= LIGHT_THRESHOLD_V


def toggled_off(header: Header) -> bool:
    """Whether the header's `Laser toggle` says off: `False`, `off`, `no`, `disabled` (in any letter case) or 0."""
    for key, value in header.raw.items():
        if key.strip().lower() == LASER_TOGGLE:
            word = value.strip().lower()
            return word in SWITCHED_OFF or _is_zero(word)
    return False


def _is_zero(word: str) -> bool:
    try:
        return float(word) == 0
    except ValueError:
        return False


def summary(header: Header, light: bool | None) -> str:
    """The run's conditions in the lab's words (`VG=-0.35 V VDS=0.1 V λ=455 nm`), from its procedure's `summary`
    parts. Only data: the light, procedure, chip and file index have columns of their own, and whoever shows a
    summary line adds them (`labtui.core.history.summary_line`)."""
    parts = []
    known = {name: value for name, value in header.fields.items() if value is not None}
    for template in header.spec.summary:
        if light is False and "{laser_" in template:
            continue  # a dark run keeps the last wavelength; showing it would suggest light
        try:
            parts.append(template.format(**known))
        except (KeyError, ValueError, IndexError):
            continue  # a part whose field is missing is left out
    return " ".join(parts)


def chip_name_of(group: str | None, number: int | None) -> str | None:
    if number is None:
        return None
    return f"{group or ''}{number}"


def build_row(
    header: Header,
    frame: pl.DataFrame,
    *,
    source_file: str,
    size: int,
    mtime_ns: int,
    sha256: str,
    zone: ZoneInfo,
    extraction_version: str,
    procedure_rules: str,
    ingested_at: dt.datetime,
) -> tuple[ManifestRow, list[str]]:
    """The manifest row of one parsed run, plus notes worth keeping in its record (`procedure_rules`: the
    `Registry.rules` of its procedure)."""
    fields = header.fields
    light = has_light(header)
    chip = chip_name_of(fields.get("chip_group"), fields.get("chip_number"))
    complete, notes = is_complete(header.spec.completeness, header, frame)
    date = local_date(header.start_time_utc, zone)
    notes += _unread_columns(header, frame) + _light_unlike_data(header, frame, light) + _dated_apart(source_file, date)
    known: dict[str, Any] = {name: fields.get(name) for name in _FIELD_COLUMNS}
    row = ManifestRow(
        run_id=run_id_for(source_file, header.start_time_utc),
        source_file=source_file,
        proc=header.proc,
        date_local=date,
        start_time_utc=header.start_time_utc,
        file_idx=fields.get("file_idx"),
        chip_name=chip,
        has_light=light,
        duration_s=duration_s(header, frame),
        summary=summary(header, light),
        parameters=json.dumps(header.raw, ensure_ascii=False, sort_keys=True),
        n_rows=frame.height,
        is_complete=complete,
        day_folder=PurePosixPath(source_file).parent.name,
        source_size=size,
        source_mtime=mtime_of(mtime_ns),
        source_sha256=sha256,
        extraction_version=extraction_version,
        extraction_rules=EXTRACTION_RULES,
        procedure_rules=procedure_rules,
        ingested_at_utc=ingested_at,
        **known,
    )
    return row, notes


def _unread_columns(header: Header, frame: pl.DataFrame) -> list[str]:
    """A note for each of the procedure's number columns (its completeness column aside, which `is_complete` judges)
    with not one finite value: a run whose current is all NaN staged as done, said only by its metrics' remarks. A
    column at a time (`finite_values`): a Polars query per file took 60 ms of the corpus's CPU."""
    judged = header.spec.completeness.column if header.spec.completeness else None
    return [f"no reading in {name!r}: not one finite value (the instrument off, or not connected?)"
            for name in header.spec.required_columns
            if name != judged and name not in header.spec.text_columns and finite_values(frame, name) is None]


def _light_unlike_data(header: Header, frame: pl.DataFrame, light: bool | None) -> list[str]:
    """A note when the header's laser voltage says dark and the VL column pulses (a hand edit, a header written for
    another run), or lit and the VL column never lit: the header decides (the lab's rule), unsaid but for a remark
    on the run's power. A VL over the threshold for 2 samples in a row or fewer is a misread, as the metrics take
    it."""
    if light is None or header.spec.light != "laser_voltage":
        return []
    if (values := finite_values(frame, LASER_COLUMN)) is None:  # no VL column, or no reading in it (said)
        return []
    if (top := float(values.max())) >= NO_READING:  # an overflow mark is no reading, nor a pulse
        values = values[values < NO_READING]
        top = float(values.max()) if values.size else -math.inf
    if (top >= LIGHT_THRESHOLD_V) == light:  # as the header says: one reduction for every real run
        return []
    from labtui.core.metrics.arrays import true_runs

    on = values >= LIGHT_THRESHOLD_V
    longest = max((end - start for start, end in true_runs(on)), default=0)  # samples on in a row
    said = ("its header's 'Laser toggle' (off)" if toggled_off(header)
            else f"its header's laser voltage ({header.fields['laser_voltage_v']:g} V)")
    if not light and longest > FLICKER_SAMPLES:
        return [f"{said} says dark, though its {LASER_COLUMN!r} column pulses to {float(values[on].max()):g} V "
                f"({longest} samples on in a row): stored dark, as the header says (correct it if the run was lit)"]
    if light and not on.any() and not before_its_pulse(header, frame):
        return [f"{said} says lit, though its {LASER_COLUMN!r} column never reaches {LIGHT_THRESHOLD_V:g} V: the "
                "laser did not switch on? Stored lit, as the header says"]
    return []


def _dated_apart(source_file: str, date: dt.date) -> list[str]:
    """A note when the run's local date is more than `DATE_SLACK_DAYS` from the last day its path names: a header
    from a computer whose clock was reset dated a run 2001 among 2025's, and nothing said so."""
    named = re.findall(DATE_IN_PATH, source_file)
    try:
        day = dt.date.fromisoformat(named[-1]) if named else None
    except ValueError:  # `2025-13-45`: no day
        return []
    if day is None or abs((date - day).days) <= DATE_SLACK_DAYS:
        return []
    return [f"the header's start time is on {date}, {abs((date - day).days):,} days from the {day} its path names: "
            "the acquisition computer's clock was off? The run is dated by its header"]


_FIELD_COLUMNS = (
    "chip_group", "chip_number", "sample", "laser_voltage_v", "laser_wavelength_nm", "laser_period_s",
    "vg_start_v", "vg_end_v", "vg_fixed_v", "vds_v", "information", "procedure_version",
)
