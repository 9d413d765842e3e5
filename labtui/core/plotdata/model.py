"""What a plot widget receives: options in, a frozen `PlotSpec` out. No drawing library is imported here."""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum

import numpy as np
import polars as pl

TYPE_CHECKING = False
if TYPE_CHECKING:
    from labtui.core.plotdata.numeric import PowerLaw


class Baseline(StrEnum):
    """How It currents are referenced: `raw` plots I, the others plot ΔI = I − I(reference)."""

    RAW = "raw"
    FIRST = "first"  # I at the first point (t = 0)
    FIXED = "fixed"  # I at `PlotOptions.baseline_time_s`, linearly interpolated
    AUTO = "auto"  # the table's i_dark_a: mean I over the window before the laser first switches on


class GmMethod(StrEnum):
    GRADIENT = "gradient"  # numpy.gradient on the actual Vg spacing: exact, but passes the noise through
    SAVGOL = "savgol"  # local polynomial least squares: smooths the noise a derivative amplifies


def baseline_time(text: str) -> float | None:
    """A fixed baseline's time as typed (`30`: seconds from the run's start), for the app's `t` and `labtui plot
    --baseline t=…` alike; None unless it is a number ≥ 0 and finite (`nan` drew every run against an end point)."""
    try:
        at = float(text)
    except ValueError:
        return None
    return at if 0 <= at < math.inf else None


@dataclass(frozen=True)
class PlotOptions:
    """User choices that change the shaping. The plot width is not here: resizing must not look like a new plot."""

    baseline: Baseline = Baseline.AUTO
    baseline_time_s: float = 0.0
    log_y: bool = False
    gm: bool = False
    gm_method: GmMethod = GmMethod.SAVGOL
    sg_window: int | None = None  # points; None: the metrics' gm window (0.5 V) at the leg's step, as the table's gm
    sg_polyorder: int = 2
    align_cnp: bool = False  # IVg: x = Vg − the run's forward-leg CNP from the metrics table (`cnp_fwd_v` in the rows)

    def __post_init__(self) -> None:
        # Accept the plain strings a UI or config holds, and fail here rather than deep inside the shaping.
        object.__setattr__(self, "baseline", Baseline(self.baseline))
        object.__setattr__(self, "gm_method", GmMethod(self.gm_method))
        if self.sg_window is not None and (self.sg_window < 3 or self.sg_window % 2 == 0):
            raise ValueError(f"sg_window must be an odd number ≥ 3, got {self.sg_window}")
        if not 1 <= self.sg_polyorder < (self.sg_window or 3):
            raise ValueError(f"sg_polyorder must be in 1..sg_window-1, got {self.sg_polyorder}")
        at = self.baseline_time_s  # a figure record edited by hand: text or null failed in the shaping's NumPy
        if isinstance(at, bool) or not isinstance(at, int | float) or not 0 <= at < math.inf:
            raise ValueError(f"baseline_time_s must be a number of seconds ≥ 0, got {at!r}")
        for name in ("log_y", "gm", "align_cnp"):  # "no" is a true string: it drew what the record said was off
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"{name} must be true or false, got {getattr(self, name)!r}")


@dataclass(frozen=True, eq=False)
class Series:
    """One drawable trace, already in the axis units of its `PlotSpec`."""

    label: str
    x: np.ndarray
    y: np.ndarray
    run_id: str
    seq: int | None
    incomplete: bool = False
    run_index: int = 0  # the run's place in the selection (`load.with_places`), else in its group: the colour its
    # legs share
    direction: int = 0  # sweep legs: +1 forward (rising x), -1 backward; 0 when not a leg
    run_label: str = ""  # a sweep leg's run, as `label` names it without the leg
    # Trends: one point per run, so each point names its own run (empty: the whole series is `run_id`'s).
    point_run_ids: tuple[str, ...] = ()
    point_seqs: tuple[int | None, ...] = ()
    breaks: tuple[int, ...] = ()  # the line stops before these points (a trend's: no run measured for long; a
    # sweep leg's: rows without a reading)
    # A calibration's wavelength (`λ=455 nm`) and its place among the plot's, by λ: past the palette's runs, a plot
    # colours the runs by it and names each wavelength once, not each run.
    group: str = ""
    group_index: int = 0
    excluded: bool = False  # an excluded run's, drawn with the others (X, --include-excluded): faded in a figure
    # a log–log trend's series holds the points of one sign, as |y|: -1 those below 0 (drawn hollow), +1 the others
    sign: int = 0
    fit: PowerLaw | None = None  # a log–log trend's power law through the series' points, in axis units
    fit_note: str = ""  # its α as the legend says it, or why none was fitted


@dataclass(frozen=True)
class Marker:
    """A labelled point (the Dirac point of a sweep leg), in axis units; `text` is for the legend/status line."""

    x: float
    y: float
    text: str
    run_id: str
    leg: str = ""  # the label of the sweep leg it is read on (its series')


DOUBTED_LABEL = "value in doubt"  # the legend's entry for a trend's points in doubt (`doubted`): the notes say why
EXCLUDED_LABEL = "excluded run"  # the legend's entry for a trend's points of excluded runs, when they are drawn


@dataclass(frozen=True, eq=False)
class PlotSpec:
    """Everything one plot needs. `runs` are the manifest rows of the plotted runs (for export names)."""

    kind: str
    title: str
    x_label: str
    x_unit: str
    y_label: str
    y_unit: str
    log_y: bool
    series: tuple[Series, ...]
    markers: tuple[Marker, ...]
    spans: tuple[tuple[float, float], ...]  # laser-ON windows, x axis units
    warnings: tuple[str, ...]  # the selection may mislead (mixed durations, light and dark)
    messages: tuple[str, ...]  # runs left out or shaped with a fallback
    runs: pl.DataFrame
    points: bool = False  # one point per run (trends): draw a marker at each, joined where the series is ordered
    joined: bool = True  # with `points`: False for a scatter (several runs share an x)
    # trends: the points whose value is in doubt (`metrics.definitions.IN_DOUBT`), in axis units, ringed (in the
    # terminal, hollow)
    doubted: tuple[tuple[float, float], ...] = ()
    # trends drawn with the excluded runs (`--include-excluded`, a redraw): their points, in axis units, crossed out
    excluded: tuple[tuple[float, float], ...] = ()
    integer_x: bool = False  # x counts runs (a trend by seq): its ticks are whole numbers, never run 1.2
    sessions: tuple[tuple[float, str], ...] = ()  # a trend by seq: where each measuring day starts, and its date
    hidden: int = 0  # a trend: the excluded runs left out, said by `messages[0]` (where the app's status puts it first)
    # a trend against time: the local day (`YYYY-MM-DD`) whose midnight x counts its unit (h, d) from, and the zone;
    # a figure writes dates on its axis
    dates_from: tuple[str, ...] = ()
    log_x: bool = False  # a trend against power on log–log axes (`log_y` too)
    fit_law: str = ""  # what its series' power laws are of (`|ΔI| ∝ P^α`): a figure's legend title
    fits: tuple[str, ...] = ()  # and each series' α (or why it has none), a line each after one naming the law

    @property
    def x_title(self) -> str:
        return _axis_title(self.x_label, self.x_unit)

    @property
    def y_title(self) -> str:
        return _axis_title(self.y_label, self.y_unit)


def _axis_title(label: str, unit: str) -> str:
    return f"{label} ({unit})" if unit else label
