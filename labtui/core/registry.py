"""The procedure registry (`config/procedures.yaml`): what each acquisition procedure writes and what it means.

The parser is driven by it, so a new procedure of the acquisition software is one YAML entry, not new code.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import re
import string
import unicodedata
from functools import cached_property, lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from labtui.core.config import default_registry_path
from labtui.core.errors import first_invalid
from labtui.core.lab_files import ConfigError, file_sha256, read_yaml
from labtui.core.layout import PARTITION_KEYS

if TYPE_CHECKING:
    import polars as pl

_SNAKE = re.compile(r"[^0-9a-z]+")
_SAMPLE: dict[str, object] = {"float": 1.5, "int": 1, "str": "text"}  # a value of each parameter type
LASER_COLUMN = "VL (V)"  # the laser's drive voltage, sampled with the data: ON from the light threshold
LIGHT_THRESHOLD_V = 0.1  # the lab's rule: light ⇔ Laser voltage ≥ 0.1 V
MAX_SWEEP_STEPS = 1e9  # a sweep the acquisition could take has far fewer; above it (or NaN), the parameters are a slip


# Names readers add beside a run's data: the partition keys (a Hive reader puts the run's folder value in their
# place, or fails on the two types), the run columns every `labtui.api` scan starts with, and those the README's
# recipes add (`chip_name` joined from the manifest: a data column of that name took its place; DuckDB's `filename`
# and `run_keys`: its read failed on the clash)
READER_COLUMNS = PARTITION_KEYS | {"date_local", "seq", "chip_name", "filename", "run_keys"}


@lru_cache(maxsize=4096)  # a stage asks it of every column of every file: a lab has a few dozen names
def snake_column(raw_name: str) -> str:
    """`Vg (V)` → `vg_v`, `Plate T (degC)` → `plate_t_degc`: the stored name of a data column. A name readers add
    (`READER_COLUMNS`: `Date` → `date_`, `Seq` → `seq_`) gets a trailing `_`, which no other stored name has: else
    the reader's value would take the data's place. Letters outside ASCII are spelt in it (`_in_ascii`)."""
    ascii_name = raw_name if raw_name.isascii() else _in_ascii(raw_name)
    name = _SNAKE.sub("_", ascii_name.strip().lower()).strip("_") or "column"
    return f"{name}_" if name in READER_COLUMNS else name


# as units spell them in ASCII (NFKD makes the µ and Ω signs these), and λ as English does (Unicode: `lamda`)
_SPELT = {"μ": "u", "Ω": "ohm", "°": "deg", "λ": " lambda "}


def _in_ascii(name: str) -> str:
    """`I (µA)` → `I (uA)`, `R (kΩ)` → `R (kohm)`, `T (°C)` → `T (degC)`, `Δt (s)` → ` delta t (s)`, `é` → `e`:
    dropped, these letters took the unit from a name (`I (µA)` stored as `i_a`, in amperes) or made two names one
    (`Δt (s)` and `t (s)`, a file rejected for a duplicate column it did not have)."""
    spelt = []
    for char in unicodedata.normalize("NFKD", name):
        if char.isascii():
            spelt.append(char)
        elif char in _SPELT:
            spelt.append(_SPELT[char])
        elif unicodedata.category(char).startswith("L"):  # a letter by its name: `GREEK CAPITAL LETTER DELTA` →
            spelt.append(f" {_letter_name(char)} ")  # ` delta `, `CYRILLIC SMALL LETTER TE` → ` te `, ø → ` o `
        elif not unicodedata.combining(char):  # an accent goes with its letter (é → e); any other sign separates
            spelt.append(" ")
    return "".join(spelt)


def _letter_name(char: str) -> str:
    """A letter NFKD leaves outside ASCII, by its Unicode name: the words after LETTER, without what it is WITH
    (`LATIN SMALL LETTER O WITH STROKE` → `o`, `LATIN SMALL LETTER SHARP S` → `sharp s`); an ideograph, by its name's
    last word (`ideograph-7535`). Dropped, two Cyrillic names were one, and the file a duplicate column."""
    name = unicodedata.name(char, "")
    if " LETTER " in name:
        return name.split(" LETTER ", 1)[1].split(" WITH ", 1)[0].lower()
    return name.rsplit(" ", 1)[-1].lower()


# The types a parameter may be read as to fill each typed manifest field (`ManifestRow`): a chip number read as
# text stopped every stage with a traceback, read as a float it named chips `Alisson67.0`. Other fields are kept in
# the row's `parameters`, any type.
_NUMBER, _TEXT = ("float", "int"), ("str",)
FIELD_TYPES = {"chip_number": ("int",), "file_idx": ("int",), "start_time": _NUMBER,
               **dict.fromkeys(("chip_group", "sample", "information", "procedure_version"), _TEXT),
               **dict.fromkeys(("laser_voltage_v", "laser_wavelength_nm", "laser_period_s", "vg_start_v", "vg_end_v",
                                "vg_fixed_v", "vds_v", "duration_s"), _NUMBER)}


class ParameterSpec(BaseModel):
    """How one header parameter maps to a manifest field."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    field: str
    type: Literal["float", "int", "str"] = "float"
    unit: str | None = None  # the SI unit the field is stored in; prefixed units (mV, nA) are converted
    minimum: float | None = None  # a value below it is a slip (a negative wavelength): left empty, with a warning
    maximum: float | None = None  # a value above it is a slip (a gate at 100 kV): left empty, with a warning

    @model_validator(mode="after")
    def _fits_the_field(self) -> ParameterSpec:
        if self.type not in (allowed := FIELD_TYPES.get(self.field, (self.type,))):
            kind = {"int": "an integer", "float": "a number", "str": "text"}[allowed[0]]
            raise ValueError(f"the manifest stores {self.field} as {kind}: give it `type: {allowed[0]}`, not "
                             f"{self.type}")
        return self


class Completeness(BaseModel):
    """How to tell an aborted run from a complete one, from its header and its data."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["duration", "sweep"]
    column: str  # raw column name whose values are checked
    period_parameter: str | None = None  # duration: the run lasts `periods` × this parameter
    periods: float = 1.0
    start_parameter: str | None = None  # sweep: must reach start and end
    end_parameter: str | None = None
    step_parameter: str | None = None
    returns_to_zero: bool = False  # sweep: the last point is back at 0 (within a step)
    # sweep: the path the voltage takes, which with the step sets the rows a complete run has: `once` start → end,
    # `loop` 0 → start → end → start → 0 (IVg), `through_zero` 0 → start → 0 → end → 0 (IV)
    path: Literal["once", "loop", "through_zero"] = "once"

    def path_points(self, start: float, end: float) -> tuple[float, ...]:
        """Where the sweep's path starts, turns and ends, in order (`path`)."""
        return {"once": (start, end), "loop": (0.0, start, end, start, 0.0),
                "through_zero": (0.0, start, 0.0, end, 0.0)}[self.path]

    def expected_rows(self, start: float, end: float, step: float) -> int | None:
        """Rows of a complete sweep: one per step along the path, plus the first point; None when the parameters
        imply no countable number (a step of 1e-320 V, limits of 1e308 V)."""
        points = self.path_points(start, end)
        steps = sum(abs(b - a) for a, b in itertools.pairwise(points)) / step
        return round(steps) + 1 if steps < MAX_SWEEP_STEPS else None

    @model_validator(mode="after")
    def _parameters_present(self) -> Completeness:
        needed = ("period_parameter",) if self.kind == "duration" else ("start_parameter", "end_parameter")
        missing = [name for name in needed if getattr(self, name) is None]
        if missing:
            raise ValueError(f"completeness of kind {self.kind!r} needs {', '.join(missing)}")
        return self


class PlotAxes(BaseModel):
    """The data columns (raw names) a run of a procedure is plotted by: y against x."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    x: str
    y: str


class ProcedureSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = ""
    aliases: tuple[str, ...] = ()
    chip: bool = True  # belongs to a chip (needs a Chip number) rather than to the setup
    light: Literal["laser_voltage", "always", "never"] = "laser_voltage"  # how has_light is decided
    description: str = ""
    parameters: dict[str, ParameterSpec] = Field(default_factory=dict)
    required_columns: tuple[str, ...] = ()
    optional_columns: tuple[str, ...] = ()
    text_columns: tuple[str, ...] = ()  # stored as strings; every other data column is Float64
    time_column: str | None = None
    completeness: Completeness | None = None
    summary: tuple[str, ...] = ()  # format strings over manifest fields; a part whose field is None is left out
    # the procedure whose data these are read as (IVgT: like IVg): its derived quantities, plot and trends
    like: str | None = None
    plot: PlotAxes | None = None  # None: `axes` picks them

    @property
    def axes(self) -> PlotAxes | None:
        """What a plot of these runs draws: `plot`, else the first required column besides the x axis against the
        time column (Vt: VDS vs t) or, with none, the first required column (VVg: VDS vs Vg); None when there is
        no second column to draw."""
        if self.plot is not None:
            return self.plot
        x = self.time_column or next(iter(self.required_columns), None)
        y = next((name for name in self.required_columns if name not in (x, *self.text_columns)), None)
        return None if x is None or y is None else PlotAxes(x=x, y=y)


_WORDING = {"aliases", "description", "plot"}  # what a procedure's entry says that no run's row or data holds


def _dumped(parameters: dict[str, ParameterSpec]) -> dict[str, object]:
    return {name: spec.model_dump(mode="json") for name, spec in parameters.items()}


class Registry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    common_parameters: dict[str, ParameterSpec] = Field(default_factory=dict)
    metadata: dict[str, ParameterSpec] = Field(default_factory=dict)
    procedures: dict[str, ProcedureSpec]

    @model_validator(mode="after")
    def _fill_names(self) -> Registry:
        for name, spec in self.procedures.items():
            if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]{0,63}", name):
                raise ValueError(f"procedure name {name!r} must be a plain identifier (it becomes a folder name)")
            object.__setattr__(spec, "name", name)
            self._check_summary(spec)
            if spec.plot is not None:
                numeric = set(spec.required_columns + spec.optional_columns) - set(spec.text_columns)
                if unknown := [axis for axis in (spec.plot.x, spec.plot.y) if axis not in numeric]:
                    raise ValueError(f"plot of {name} names {', '.join(map(repr, unknown))}, not one of its numeric "
                                     "required or optional columns")
        for name, spec in self.procedures.items():
            target = self.procedures.get(spec.like) if spec.like is not None else None
            if spec.like is not None and target is None:
                raise ValueError(f"procedure {name} is like {spec.like!r}, which the registry does not define")
            if target is not None and target.like is not None:
                raise ValueError(f"procedure {name} is like {spec.like}, which is itself like {target.like}: "
                                 f"name {target.like}")
        return self

    def family(self, name: str) -> str:
        """The procedure a run of `name` is read as (its `like`, else itself): one name per kind of data, so a
        legacy IVgT run gets the Dirac point an IVg run gets."""
        spec = self.procedures.get(name)
        return spec.like if spec is not None and spec.like is not None else name

    def families(self) -> dict[str, str]:
        """Each procedure with a `like` → its family: a Polars `replace` over a table's `proc` column."""
        return {name: spec.like for name, spec in self.procedures.items() if spec.like is not None}

    def _check_summary(self, spec: ProcedureSpec) -> None:
        """Each summary part names fields the procedure's parameters fill, with a format their type takes: a typo
        is said once, here, not a part silently missing from every run's summary."""
        samples: dict[str, object] = {"file_idx": 1, "chip_number": 1, "chip_group": "Alisson"}
        for parameter in {**self.metadata, **self.parameters_of(spec)}.values():
            samples[parameter.field] = _SAMPLE[parameter.type]
        for template in spec.summary:
            where = f"summary part {template!r} of {spec.name}"
            try:
                names = [field for _, field, _, _ in string.Formatter().parse(template) if field is not None]
                for field in names:
                    if not field.isidentifier():
                        raise ValueError(f"{{{field}}} is not a field name (no attributes, indexes or positions)")
                    if field not in samples:
                        raise ValueError(f"no parameter of {spec.name} fills the field {field!r}")
                template.format(**samples)
            except ValueError as error:
                raise ValueError(f"{where}: {error}") from None

    def get(self, name: str) -> ProcedureSpec | None:
        return self.procedures.get(name)

    @cached_property
    def rules(self) -> dict[str, str]:
        """Each procedure → SHA-256 of what a run of it is read by: the common parameters and metadata, and its own
        entry but for its wording (aliases, description, plot). A manifest row records its procedure's, so a stage
        reads again the files of a procedure whose entry the lab has edited since (a completeness rule added)."""
        shared = {"common_parameters": _dumped(self.common_parameters), "metadata": _dumped(self.metadata)}
        return {
            name: hashlib.sha256(json.dumps(
                {**shared, "procedure": spec.model_dump(mode="json", exclude=_WORDING)}, sort_keys=True,
            ).encode()).hexdigest()
            for name, spec in self.procedures.items()
        }

    def parameters_of(self, spec: ProcedureSpec) -> dict[str, ParameterSpec]:
        return {**self.common_parameters, **spec.parameters}

    def canonical(self, name: str) -> str | None:
        """A user-typed procedure name (any case, or an alias like ITS) → the stored name."""
        lowered = name.lower()
        for proc, spec in self.procedures.items():
            if proc.lower() == lowered or lowered in (a.lower() for a in spec.aliases):
                return proc
        return None


@lru_cache(maxsize=8)
def _load(path: Path, digest: str) -> Registry:
    try:
        data = read_yaml(path, "procedure registry")
        if not isinstance(data, dict):
            raise ConfigError(f"procedure registry {path} must be a mapping with a `procedures:` key")
        # top-level keys starting with `_` hold YAML anchors shared by several procedures
        return Registry(**{key: value for key, value in data.items() if not key.startswith("_")})
    except ValidationError as exc:
        raise ConfigError(f"procedure registry {path}: {first_invalid(exc.errors())}") from None
    except TypeError as exc:  # a key that is not text
        raise ConfigError(f"procedure registry {path} is invalid: {exc}") from None


def proc_family(proc: str, procedures_file: Path | None = None) -> str:
    """`Registry.family` of the lab's registry (`procedures_file`, else labtui's own)."""
    return load_registry(procedures_file).family(proc)


def family_expr(procedures_file: Path | None = None) -> pl.Expr:
    """`proc_family` of a table's `proc` column, as a Polars expression (the metrics table, trends, the overview)."""
    import polars as pl

    return pl.col("proc").replace(load_registry(procedures_file).families())


def procedure_rules(procedures_file: Path | None = None) -> dict[str, str] | None:
    """`Registry.rules` of the lab's registry; None when it cannot be loaded (the stage that needs it says why),
    and no row is then read again for it."""
    try:
        return load_registry(procedures_file).rules
    except ConfigError:
        return None


def load_registry(path: Path | None = None) -> Registry:
    """The registry at `path` (else labtui's own), loaded once per content: an edit that keeps the file's mtime (two
    saves within a share's clock tick) is a new registry, as `registry_digest` (which the stat index records) says."""
    path = Path(os.path.realpath(path or default_registry_path()))
    return _load(path, file_sha256(path, "procedure registry"))
