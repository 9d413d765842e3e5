"""A manifest row as a Pydantic model: every run is validated by it before it is staged, and by `validate`.

Only the writers and the checks import it; readers use `manifest.MANIFEST_SCHEMA`, which a test holds equal to
these fields.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from pydantic_core import from_json

from labtui.core.integers import INT64_MAX, INT64_MIN  # integers from a header or a file name fit Int64
from labtui.core.manifest import SCHEMA_VERSION


def _utc(value: dt.datetime) -> dt.datetime:
    if value.tzinfo is None or value.utcoffset() != dt.timedelta(0):
        raise ValueError("must be a timezone-aware UTC datetime")
    return value


UtcDatetime = Annotated[dt.datetime, AfterValidator(_utc)]


def _json_object(text: str) -> str:
    """The header's values as the readers parse them (`manifest.run_parameters`): a JSON object, kept as its text."""
    if not isinstance(from_json(text), dict):
        raise ValueError("must be a JSON object")
    return text


class ManifestRow(BaseModel):
    """One staged run. `extra="forbid"`: a typo in a field name is an error, not a silent new column."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    run_id: str = Field(pattern=r"^[0-9a-f]{16}$")
    source_file: str = Field(min_length=1, description="path relative to the raw root, forward slashes")
    proc: str = Field(pattern=r"^[A-Za-z][A-Za-z0-9_]{0,63}$")
    date_local: dt.date
    start_time_utc: UtcDatetime
    file_idx: int | None = Field(default=None, ge=0, le=INT64_MAX)
    chip_group: str | None = None
    chip_number: int | None = Field(default=None, ge=INT64_MIN, le=INT64_MAX)
    chip_name: str | None = None
    sample: str | None = None
    has_light: bool | None = None
    laser_voltage_v: float | None = None
    laser_wavelength_nm: float | None = Field(default=None, ge=0)  # 0 = dark run that wrote no wavelength
    laser_period_s: float | None = None
    vg_start_v: float | None = None
    vg_end_v: float | None = None
    vg_fixed_v: float | None = None
    vds_v: float | None = None
    duration_s: float | None = None
    summary: str = Field(description="the run's conditions in the lab's words, e.g. `VG=-0.35 V VDS=0.1 V`")
    information: str | None = None
    procedure_version: str | None = None
    parameters: Annotated[str, AfterValidator(_json_object)] = Field(
        description="every header parameter and metadata value, verbatim, as a JSON object")
    n_rows: int = Field(ge=1)
    is_complete: bool
    day_folder: str
    source_size: int = Field(ge=0)
    source_mtime: UtcDatetime
    source_sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    schema_version: int = SCHEMA_VERSION
    extraction_version: str
    extraction_rules: int = Field(default=0, ge=0, le=INT64_MAX, description=(
        "the `extraction_rules.EXTRACTION_RULES` the row was made by (0: before rows recorded it)"))
    procedure_rules: str | None = Field(default=None, pattern=r"^[0-9a-f]{64}$", description=(
        "`Registry.rules` of the run's procedure: the registry entry the row was made by (null: before rows "
        "recorded it)"))
    ingested_at_utc: UtcDatetime
