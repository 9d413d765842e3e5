"""Per-chip parameters (`config/chip_params.yaml`): free notes, and the geometry that turns gm into a mobility.

```yaml
Alisson67:                      # chip name = group + number, as in the histories
  material: graphene on biotite
  notes: top-gated, hBN encapsulated
  channel_length_um: 10
  channel_width_um: 5
  dielectric:                   # the gate stack, gate to channel; layers in series
    - {material: biotite, thickness_nm: 60, relative_permittivity: 6.0}
    - {material: hBN, thickness_nm: 20, relative_permittivity: 3.4}
```
A chip with no geometry (or with only some of it) simply has no mobility.
"""

from __future__ import annotations

import math
from functools import cached_property
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from labtui.core.errors import first_invalid
from labtui.core.lab_files import ConfigError, read_yaml

EPSILON_0_F_PER_M = 8.8541878128e-12


class DielectricLayer(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    material: str | None = None
    thickness_nm: float = Field(gt=0)
    relative_permittivity: float = Field(gt=0)


class ChipParams(BaseModel):
    """One chip's entry. Geometry fields are optional; `capacitance_f_per_m2` needs the whole gate stack."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    material: str | None = None
    notes: str | None = None
    channel_length_um: float | None = Field(default=None, gt=0)
    channel_width_um: float | None = Field(default=None, gt=0)
    dielectric: tuple[DielectricLayer, ...] = ()

    @model_validator(mode="after")
    def _finite_capacitance(self) -> ChipParams:
        """Layers of finite positive numbers can still give none (a thickness of 1e-300 nm over a permittivity of
        1e300): said here, not a division by zero in the metrics."""
        capacitance = self.capacitance_f_per_m2
        if capacitance is not None and not (math.isfinite(capacitance) and capacitance > 0):
            raise ValueError("the gate stack gives no finite capacitance (check the thicknesses and permittivities)")
        return self

    @cached_property
    def capacitance_f_per_m2(self) -> float | None:
        """Gate capacitance per area of the layers in series: C = ε0 / Σ (t_i / ε_i)."""
        if not self.dielectric:
            return None
        series = sum(layer.thickness_nm * 1e-9 / layer.relative_permittivity for layer in self.dielectric)
        return EPSILON_0_F_PER_M / series if series > 0 else math.inf

    @property
    def has_geometry(self) -> bool:
        return None not in (self.channel_length_um, self.channel_width_um, self.capacitance_f_per_m2)

    def missing_geometry(self) -> list[str]:
        """The fields a mobility still needs (empty when the geometry is complete)."""
        needed = {"channel_length_um": self.channel_length_um, "channel_width_um": self.channel_width_um,
                  "dielectric": self.dielectric or None}
        return [name for name, value in needed.items() if value is None]

    def describe(self) -> list[tuple[str, str]]:
        """(label, value) lines for the chips view: what is known about the chip, geometry included."""
        lines = [(label, value) for label, value in (("material", self.material), ("notes", self.notes)) if value]
        if self.channel_length_um is not None and self.channel_width_um is not None:
            lines.append(("channel L × W", f"{self.channel_length_um:g} µm × {self.channel_width_um:g} µm"))
        if self.dielectric:
            stack = " / ".join(
                f"{layer.material or 'layer'} {layer.thickness_nm:g} nm (ε={layer.relative_permittivity:g})"
                for layer in self.dielectric
            )
            lines.append(("gate dielectric", stack))
            lines.append(("gate capacitance", f"{self.capacitance_f_per_m2 * 1e5:.3g} nF/cm²"))  # type: ignore[operator]
        if not self.has_geometry:
            lines.append(("mobility", f"not computed: no {', '.join(self.missing_geometry())}"))
        return lines


def load_chip_params(path: Path | None) -> dict[str, ChipParams]:
    """Chip name → parameters; {} when no file is configured or it does not exist (a new lab has none yet)."""
    if path is None:
        return {}
    if not path.exists():
        return {}
    data = read_yaml(path, "chip parameters")
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"chip parameters {path} must map chip names (e.g. Alisson67) to their parameters")
    chips: dict[str, ChipParams] = {}
    for name, entry in data.items():
        try:
            chips[str(name)] = ChipParams.model_validate(entry or {})
        except ValidationError as exc:
            raise ConfigError(f"chip parameters {path}: chip {name}, {first_invalid(exc.errors())}") from None
    return chips
