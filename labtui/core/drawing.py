"""A figure as plain data (`Drawing`) and its matplotlib rendering: vector PDF and SVG, PNG at 300 dpi.

A `Drawing` is what `plotdata.figure` makes of a `PlotSpec` (the series, units, laser-ON spans, Dirac points and
title the terminal plot draws), so what the user saw is what they export. This module imports neither Polars nor
Pydantic, and matplotlib only inside `render`: `labtui plot` loads it in a renderer process (`renderer`) while it
reads the data, and the app and the CLI start without it. The output is deterministic (DejaVu Sans, which ships
with matplotlib, cut to a lab figure's characters in `fonts/` by scripts/figure_font.py so that embedding it is
fast; no dates in the metadata; a fixed SVG hash salt), needs no network and holds no terminal glyphs: SVG text is
converted to paths, PDF fonts are embedded as TrueType.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from labtui.core.drawing_axes import date_axis, figure_of, log_axes, session_dates
from labtui.core.looks import (
    DASHES,
    OKABE_ITO,
    PALETTE_RUNS,
    group_style,
    groups,
    places,
    seq_orders,
    sequential_map,
    series_style,
)

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing
if TYPE_CHECKING:
    from collections.abc import Callable

    import numpy as np
    from matplotlib.artist import Artist
    from matplotlib.axes import Axes
    from matplotlib.legend import Legend
    from matplotlib.lines import Line2D
    from matplotlib.typing import ColorType


PNG_DPI = 300
SIZE_IN = (6.4, 4.2)  # a page's width less its margins, 9 pt text: a figure read on screen or across a page
# One column of a two-column journal (Physical Review 3.4 in, Nature 89 mm) at print size: text of 7-8 pt, not the
# 4.8 pt the 6.4 in figure's 9 pt shrinks to in a column.
COLUMN_IN = (3.4, 2.6)
COLUMN_LEGEND_COLUMNS, COLUMN_LEGEND_ROW_IN = 2, 0.125  # a column figure's legend below its axes: a row of 6.5 pt
_COLUMN_RC = {"font.size": 8, "axes.titlesize": 7, "legend.fontsize": 6.5, "xtick.labelsize": 7, "ytick.labelsize": 7,
              "axes.linewidth": 0.6, "xtick.major.width": 0.6, "ytick.major.width": 0.6,
              "xtick.major.size": 2.5, "ytick.major.size": 2.5, "grid.linewidth": 0.5}
LASER_ON = "#999999"  # grey: the palette's yellow as the span hid an 8th run's line in it
LEGEND_INSIDE = 8  # more entries than this go beside the axes
# a journal column's axes are 3.4 in wide: a legend of 8 entries inside hid a third of a trend's points
COLUMN_LEGEND_INSIDE = 6
LEGEND_COLUMN = 24  # entries a column beside the axes holds
BESIDE_MAX = 0.5  # a legend wider than this share of a page figure goes below its axes, in two columns or one ...
PAGE_LEGEND_COLUMNS, PAGE_LEGEND_ROW_IN = 2, 0.15  # ... the figure grown by its rows (of 7.5 pt)
# Beyond two columns the axes shrank to nothing (matplotlib warned on stderr): no legend then. The title counts the
# series, the record names the runs.
LEGEND_MAX = 2 * LEGEND_COLUMN
FONT = Path(__file__).with_name("fonts") / "DejaVuSansLabtui.ttf"
_RC = {
    "font.family": ["DejaVu Sans Labtui", "DejaVu Sans"],  # a glyph outside the cut falls back to the whole font
    "font.size": 9,
    "axes.titlesize": 9,
    "legend.fontsize": 7.5,
    "svg.fonttype": "path",
    "svg.hashsalt": "labtui",
    "pdf.fonttype": 42,
    "pdf.compression": 4,  # zlib's level 6 (the default) takes 3× as long for 3 % fewer bytes
    "ps.fonttype": 42,  # the PDF backend sizes its font subsets by this key: 42 keeps the figure to one subset
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.formatter.useoffset": False,
}
# A hyphen before a number is its sign ("VG=-0.4 V", a leg "0→-5 V"), not a date's or a name's hyphen.
_SIGN = re.compile(r"(?<![\w.])-(?=\.?\d)")
# A space the title must not wrap at (no-break spaces: matplotlib wraps at plain ones): after `seq` before its
# numbers, after a number before its unit; at a column's width a title broke into `… seq` / `7–68`
_BOUND = re.compile(r"(?<=\bseq) (?=\d)|(?<=\d) (?=[^\W\d_]|[µ°%])")
_NO_DATES = {"pdf": {"CreationDate": None, "Producer": "labtui"}, "svg": {"Date": None}, "png": {"Software": "labtui"}}


@dataclass(frozen=True, eq=False)
class Trace:
    """One line (or, for trends, one marker per point), in axis units."""

    x: np.ndarray
    y: np.ndarray
    label: str  # traces sharing a label share one legend entry
    run_index: int = 0  # the run's place in the selection (`plotdata.load.with_places`): its colour
    direction: int = 0  # sweep legs: -1 backward (dashed)
    run_label: str = ""  # a sweep leg's run (`label` names the leg too): see `_legend_by_run`
    breaks: tuple[int, ...] = ()  # the line stops before these points (a trend's long gap)
    seq: int | None = None  # the run's seq in its chip's history: its colour past `PALETTE_RUNS` runs
    group: str = ""  # a calibration's wavelength (`λ=455 nm`): past `PALETTE_RUNS` runs, its look and legend entry
    group_index: int = 0  # the group's place among the figure's, by wavelength: its colour and its legend line
    excluded: bool = False  # an excluded run's, drawn with the others: faded (`EXCLUDED_ALPHA`), its entry too
    hollow: bool = False  # a trend's points below 0, drawn as |y| on a log axis: hollow markers
    fit_line: tuple[tuple[float, float], tuple[float, float]] | None = None  # a power law's ends, drawn dashed


EXCLUDED_ALPHA = 0.4  # an excluded run's trace drawn beside the others reads as set aside, not as one of them


@dataclass(frozen=True, eq=False)
class Drawing:
    """Everything a figure shows, and nothing it needs a data library for: it crosses to a renderer process."""

    title: str
    x_title: str
    y_title: str
    traces: tuple[Trace, ...]
    dirac_points: tuple[tuple[float, float], ...] = ()
    dirac_runs: tuple[int, ...] = ()  # each Dirac point's run (`Trace.run_index`): its diamond edged in its colour
    doubted: tuple[tuple[float, float], ...] = ()  # trends: points in doubt, ringed
    doubted_label: str = ""
    excluded: tuple[tuple[float, float], ...] = ()  # trends: points of excluded runs, crossed out
    excluded_label: str = ""
    integer_x: bool = False  # ticks on whole numbers only (x counts runs)
    sessions: tuple[tuple[float, str], ...] = ()  # a line where each measuring day starts, with its date
    # x counts hours or days (its unit, `h` or `d`) from a local day's midnight: (`YYYY-MM-DD`, the zone, the unit),
    # written as dates on the axis (a referee read "time since 2025-09-08 (d)" as days to count)
    dates_from: tuple[str, ...] = ()
    laser_on: tuple[tuple[float, float], ...] = ()  # x spans
    log_y: bool = False
    log_x: bool = False  # a trend against power on log–log axes
    legend_title: str = ""  # what its fitted lines are (`|ΔI| ∝ P^α`), above its legend's entries
    points: bool = False  # one marker per point (trends), joined unless `joined` is False (a scatter)
    joined: bool = True
    column: bool = False  # a journal column's size (`COLUMN_IN`), else `SIZE_IN`


def render(drawing: Drawing, fmt: str, *, dpi: int = PNG_DPI) -> bytes:
    """The figure file's bytes."""
    import matplotlib
    from matplotlib.figure import Figure  # not pyplot: no global figure manager, no GUI backend to choose

    _add_figure_font()
    rc = {**_RC, **_COLUMN_RC} if drawing.column else _RC
    with matplotlib.rc_context(rc):  # type: ignore[arg-type]  # keys are checked by matplotlib at run time
        figure = Figure(figsize=figure_size(drawing), layout="constrained")
        draw_axes(figure.add_subplot(), drawing)
        buffer = io.BytesIO()
        figure.savefig(buffer, format=fmt, dpi=dpi, metadata=_NO_DATES[fmt])
    return buffer.getvalue()


def load(fmt: str) -> None:
    """Import what rendering `fmt` needs (matplotlib, the backend and, for a PDF, its font subsetter): what a
    renderer process started ahead of its data does meanwhile. (Drawing a small figure too would load nothing more:
    the first real figure is drawn as fast as the next.)"""
    import matplotlib.figure  # noqa: F401  # the figure, axes, lines and text classes
    from matplotlib.backend_bases import get_registered_canvas_class

    get_registered_canvas_class(fmt)
    _add_figure_font()


@cache
def _add_figure_font() -> None:
    from matplotlib import font_manager

    font_manager.fontManager.addfont(FONT)


def _legend_by_run(traces: tuple[Trace, ...]) -> bool:
    """Sweep legs of runs that each have a look of their own (a colour, and past the palette a dash family): one
    legend entry per run and one per direction (solid forward, dashed backward; dotted and dash-dot in the second
    family), as a paper figure has them, instead of an entry per leg (four per sweep: a chip's 13 sweeps, 52 entries,
    had no legend at all)."""
    return (any(trace.direction for trace in traces) and all(trace.run_label for trace in traces)
            and max(trace.run_index for trace in traces) < PALETTE_RUNS)


@dataclass(frozen=True)
class _Looks:
    """How a figure tells its traces apart, worked out once for a drawing and once for its legend's size."""

    groups: dict[int, str]  # `groups`: a look per group; empty, a look per run
    by_group: bool  # runs past the palette's looks drawn by wavelength, an entry per wavelength
    by_seq: bool  # runs past the palette's looks, each coloured by its seq (a colour bar); a trend's are not runs


def _looks(drawing: Drawing) -> _Looks:
    grouped = groups(drawing.traces, points=drawing.points, looks=PALETTE_RUNS)
    by_group = not drawing.points and bool(grouped)
    past_palette = places(drawing.traces) > PALETTE_RUNS
    return _Looks(grouped, by_group, not drawing.points and past_palette and not by_group)


def draw_axes(ax: Axes, drawing: Drawing) -> None:
    """Draw `drawing` on matplotlib axes: what `render` puts in its figure."""
    # a long chip name and view wrap within the figure, never cut off, and never between a number and its unit
    ax.set_title(_BOUND.sub("\u00a0", typeset(drawing.title)), wrap=True)
    ax.set_xlabel(typeset(drawing.x_title))
    ax.set_ylabel(typeset(drawing.y_title))
    if drawing.integer_x:
        from matplotlib.ticker import MaxNLocator

        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    if drawing.dates_from:
        date_axis(ax, *drawing.dates_from)
    for number, (start, stop) in enumerate(drawing.laser_on):
        ax.axvspan(start, stop, color=LASER_ON, alpha=0.35, lw=0, zorder=0, label="laser ON" if number == 0 else None,
                   gid=f"laser-on-{number}")
    labelled: set[str] = set()
    colors: dict[int, ColorType] = {}  # each run's colour, as its forward leg is drawn (its Dirac points' edges)
    looks = _looks(drawing)
    grouped, by_group = looks.groups, looks.by_group
    by_run = _legend_by_run(drawing.traces)
    seq_colors = _seq_colors(ax, drawing.traces) if looks.by_seq else None
    for number, trace in enumerate(drawing.traces):  # gids name the SVG groups: a reader (or a test) finds each trace
        name = typeset(trace.run_label if by_run else trace.label)
        label = None if name in labelled or seq_colors or by_group else name
        labelled.add(name)
        marker: str | None = None
        if grouped:
            index = trace.group_index if by_group else trace.run_index
            color, linestyle, marker = group_style(index, len(grouped), trace.direction)
        elif seq_colors:
            color, linestyle = seq_colors(trace), DASHES[0][trace.direction < 0]
        else:
            color, linestyle = series_style(trace.run_index, trace.direction)
        if drawing.points and not drawing.joined:
            linestyle = "none"
        colors.setdefault(trace.run_index, color)
        x, y = trace.x, trace.y
        if trace.breaks:  # matplotlib lifts the pen at a NaN
            import numpy as np  # loaded with matplotlib already

            x, y = (np.insert(values.astype(float), trace.breaks, np.nan) for values in (x, y))
        alpha = EXCLUDED_ALPHA if trace.excluded else 1.0
        ax.plot(x, y, color=color, linestyle=linestyle, lw=1.0, label=None if by_run else label, alpha=alpha,
                gid=f"series-{number}", marker=marker if drawing.points else None, ms=3.5,  # trends: one per run
                mfc="white" if trace.hollow else color)
        if trace.fit_line is not None:  # over the span fitted, in its series' colour; along it, points evenly
            import numpy as np  # apart on log–log axes, which a legend is kept off as off a curve (`_hides_data`)

            (x0, y0), (x1, y1) = trace.fit_line
            ax.plot(np.geomspace(x0, x1, 32), np.geomspace(y0, y1, 32), color=color, linestyle="--", lw=1.0,
                    alpha=alpha, gid=f"fit-{number}")
        if by_run and label is not None:  # the run's entry: its colour, as its forward legs are drawn
            ax.plot([], [], color=color, linestyle=series_style(trace.run_index, 1)[1], lw=1.0, label=label,
                    alpha=alpha)
    if by_group:  # an entry per wavelength, in their order: the runs of one share it
        for index, group in grouped.items():
            color, linestyle, _ = group_style(index, len(grouped), 0)
            ax.plot([], [], color=color, linestyle=linestyle, lw=1.0, label=typeset(group))
    directions: dict[str, tuple[Line2D, ...]] = {}
    if seq_colors and any(trace.direction for trace in drawing.traces):
        for direction, what in ((1, "forward sweep (Vg rising)"), (-1, "backward sweep (Vg falling)")):
            ax.plot([], [], color="0.35", linestyle=DASHES[0][direction < 0], lw=1.0, label=what)
    if by_run:
        from matplotlib.lines import Line2D

        families = sorted({run_index // len(OKABE_ITO) for run_index in (t.run_index for t in drawing.traces)})
        for direction, what in ((1, "forward sweep (Vg rising)"), (-1, "backward sweep (Vg falling)")):
            ax.plot([], [], color="0.35", linestyle=series_style(0, direction)[1], lw=1.0, label=what)
            if families != [0]:  # the entry shows each family's style of the direction, side by side
                styles = (DASHES[family % len(DASHES)][direction < 0] for family in families)
                directions[what] = tuple(Line2D([], [], color="0.35", lw=1.0, linestyle=style)  # type: ignore[arg-type]
                                         for style in styles)
    if drawing.dirac_points:  # edged in their runs' colours: in an overlay, whose each is (all black, none said)
        xs, ys = zip(*drawing.dirac_points, strict=True)
        edges: list[ColorType] | str = [colors.get(run, "black") for run in drawing.dirac_runs] \
            if drawing.dirac_runs else "black"
        ax.scatter(xs, ys, s=16, marker="D", facecolors="white", edgecolors=edges, linewidths=1.0, zorder=3,
                   gid="dirac-points")
        ax.plot([], [], "D", color="black", ms=4, mfc="white", mew=1.0, ls="none", label="Dirac point")
    for number, (at, _) in enumerate(drawing.sessions):  # a faint line behind the points where each day starts
        ax.axvline(at, color="0.8", lw=0.6, zorder=0, gid=f"session-{number}")
    if drawing.doubted:  # a ring around the point's own marker: its series still reads, and that it is in doubt
        xs, ys = zip(*drawing.doubted, strict=True)
        ax.plot(xs, ys, "o", color="black", ms=7, mfc="none", mew=0.8, ls="none", label=drawing.doubted_label,
                zorder=3, gid="doubted-points")
    if drawing.excluded:  # a cross over the point's own marker: its series still reads, and that the lab excluded it
        xs, ys = zip(*drawing.excluded, strict=True)
        ax.plot(xs, ys, "x", color="black", ms=6, mew=0.8, ls="none", label=drawing.excluded_label, zorder=3,
                gid="excluded-points")
    log_axes(ax, x=drawing.log_x, y=drawing.log_y)
    _place_legend(ax, drawing, directions)
    if drawing.sessions:
        session_dates(ax, drawing.sessions)


def _place_legend(ax: Axes, drawing: Drawing, directions: dict[str, tuple[Line2D, ...]]) -> None:
    """The legend inside the axes where it hides no point, else beside them (below them in a column figure, and in
    a page figure where beside them it would take half the page)."""
    entries = legend_entries(drawing)
    if not entries or entries > LEGEND_MAX:
        return
    drawn, labels = ax.get_legend_handles_labels()
    handles: list[Artist | tuple[Line2D, ...]] = list(drawn)
    # a title one row as an entry is (`legend_entries` counts it so): at the text's size, a full column ran off the
    # figure's foot
    import matplotlib

    options: dict[str, object] = {"frameon": False, "title": typeset(drawing.legend_title) or None,
                                  "title_fontsize": matplotlib.rcParams["legend.fontsize"]}
    if directions:
        from matplotlib.legend_handler import HandlerTuple

        handles = [directions.get(label, handle) for handle, label in zip(handles, labels, strict=True)]
        options["handler_map"] = {tuple: HandlerTuple(ndivide=None)}
    inside = entries <= _legend_inside(drawing)
    if inside and not _hides_data(ax, ax.legend(handles, labels, loc="best", **options)):
        return
    if drawing.column:  # below the axes: beside them, it left the plot a third of a column and ran off the page
        if inside:  # a few entries that hid data, in one column (two of their long labels ran off the page), the
            # figure grown by their rows as for a long legend (`figure_size`)
            width, height = figure_size(drawing)
            figure_of(ax).set_size_inches(width, height + entries * COLUMN_LEGEND_ROW_IN + 0.05)
        legend = ax.figure.legend(handles=handles, labels=labels, loc="outside lower center",
                                  ncols=1 if inside else COLUMN_LEGEND_COLUMNS, **options)
        if not inside and _wider_than_page(legend):  # a long label (a lit sweep's VL, P and λ) ran off both
            # edges: one column, the figure grown by its rows
            legend.remove()
            figure_of(ax).set_size_inches(COLUMN_IN[0], COLUMN_IN[1] + entries * COLUMN_LEGEND_ROW_IN + 0.05)
            ax.figure.legend(handles=handles, labels=labels, loc="outside lower center", ncols=1, **options)
    else:  # beside the axes, where it hides no data
        legend = ax.legend(handles, labels, loc="upper left", bbox_to_anchor=(1.01, 1.0),
                           ncols=-(-entries // LEGEND_COLUMN), **options)
        if legend.get_window_extent().width > BESIDE_MAX * figure_of(ax).bbox.width:  # long labels (a log–log
            # trend's λ, VG, period and α) left the plot a third of the page: below it, the figure grown by its rows
            legend.remove()
            for columns in (PAGE_LEGEND_COLUMNS, 1):
                legend = ax.figure.legend(handles=handles, labels=labels, loc="outside lower center", ncols=columns,
                                          **options)
                if columns == 1 or not _wider_than_page(legend):
                    break
                legend.remove()
            figure_of(ax).set_size_inches(SIZE_IN[0], SIZE_IN[1] + -(-entries // columns) * PAGE_LEGEND_ROW_IN + 0.05)


def figure_size(drawing: Drawing) -> tuple[float, float]:
    """The figure's width and height in inches: a column figure grows by the rows of a legend below its axes
    (`draw_axes`), so the plot keeps `COLUMN_IN`'s height."""
    if not drawing.column:
        return SIZE_IN
    entries = legend_entries(drawing)
    below = -(-entries // COLUMN_LEGEND_COLUMNS) if _legend_inside(drawing) < entries <= LEGEND_MAX else 0
    return COLUMN_IN[0], COLUMN_IN[1] + below * COLUMN_LEGEND_ROW_IN + (0.05 if below else 0.0)


def _wider_than_page(legend: Legend) -> bool:
    """Whether a legend is wider than its figure (whose width a column figure keeps). Its width is its entries' and
    columns', wherever it goes: measured without laying out the figure (a layout pass took 50 ms)."""
    figure = legend.get_figure(root=True)
    assert figure is not None  # placed on a figure
    return bool(legend.get_window_extent().width > figure.bbox.width)


def _hides_data(ax: Axes, legend: Legend) -> bool:
    """Whether a legend placed inside the axes (at matplotlib's `best`, the place with the fewest points under it)
    covers any point of a curve: the ΔI of three It runs ran under a column figure's `laser ON` entry. Removed
    then, to go beside or below the axes. Up to 2,000 points of each curve are looked at."""
    import numpy as np

    figure_of(ax).draw_without_rendering()  # where `best` puts it is found as the figure is laid out
    box = legend.get_window_extent()
    for line in ax.get_lines():
        points = np.asarray(line.get_xydata(), dtype=float)
        points = points[:: max(1, len(points) // 2000)]
        shown = ax.transData.transform(points[np.isfinite(points).all(axis=1)])
        if shown.size and ((shown[:, 0] > box.x0) & (shown[:, 0] < box.x1) & (shown[:, 1] > box.y0)
                           & (shown[:, 1] < box.y1)).any():
            legend.remove()
            return True
    return False


def _legend_inside(drawing: Drawing) -> int:
    """The most legend entries drawn inside the axes; more go beside them, or below a column figure's."""
    return COLUMN_LEGEND_INSIDE if drawing.column else LEGEND_INSIDE


def typeset(text: str) -> str:
    """`text` with each number's sign a minus (U+2212), as matplotlib writes the tick labels beside it (the title's
    `VG=-0.4 V` read as a hyphen above ticks of −0.4), each `$` a dollar sign, not the start of a formula (a chip
    group `a$\\frac{$b` ended the figure in a traceback, and `Ali$son$67` set `son` in italics), V_CNP and I_dark
    with their subscripts (an underscore on a paper's axis) and a power law's exponent raised (`P^α`)."""
    return _SIGN.sub("\u2212", text.replace("$", r"\$")).replace("V_CNP", r"V$_\mathregular{CNP}$").replace(
        "I_dark", r"I$_\mathregular{dark}$").replace("P^(α−1)", r"P$^\mathregular{α−1}$").replace(
        "P^α", r"P$^\mathregular{α}$")


def _seq_colors(ax: Axes, traces: tuple[Trace, ...]) -> Callable[[Trace], str]:
    """Draw the colour bar of the runs' seq beside `ax` (`seq_orders`); a trace's colour along it."""
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import Normalize, to_hex
    from matplotlib.ticker import MaxNLocator

    orders, named = seq_orders({trace.run_index: trace.seq for trace in traces})
    colors = sequential_map()
    norm = Normalize(min(orders.values()), max(orders.values()))
    scale = ScalarMappable(norm, colors)
    bar = ax.figure.colorbar(scale, ax=ax, label="seq" if named else "run, in the plot's order", pad=0.02)
    bar.ax.set_gid("seq-colour-bar")
    bar.ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    return lambda trace: to_hex(colors(float(norm(orders[trace.run_index]))))


def legend_entries(drawing: Drawing) -> int:
    """The entries of the figure's legend: a run's, a leg's or a group's label each, the two directions of sweeps
    drawn by run, the laser's ON span, the Dirac points, the points in doubt, the points of excluded runs."""
    looks = _looks(drawing)
    by_run, by_seq = _legend_by_run(drawing.traces), looks.by_seq
    if looks.by_group:
        names = {trace.group for trace in drawing.traces}
    else:
        names = set() if by_seq else {trace.run_label if by_run else trace.label for trace in drawing.traces}
    directions = (by_run or by_seq) and any(trace.direction for trace in drawing.traces)
    return (len(names) + 2 * directions + bool(drawing.laser_on) + bool(drawing.dirac_points) + bool(drawing.doubted)
            + bool(drawing.excluded) + bool(drawing.legend_title))
