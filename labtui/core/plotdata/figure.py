"""Figures for reports and papers: a `PlotSpec` drawn by matplotlib as vector PDF/SVG or 300-dpi PNG.

The figure draws the same spec the terminal plot draws (series, units, laser-ON spans, Dirac points, title), so
what the user saw is what they export. matplotlib is imported only inside `render`: the app and the CLI start
without it. The output is deterministic (DejaVu Sans, which ships with matplotlib, cut to a lab figure's characters
in `fonts/` by scripts/figure_font.py so that embedding it is fast; no dates in the metadata; a fixed SVG hash
salt), needs no network and holds no terminal glyphs: SVG text is converted to paths, PDF fonts are embedded as
TrueType.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from labtui.core.atomic import atomic_write, atomic_write_bytes
from labtui.core.errors import OperationFailed, UsageError
from labtui.core.plotdata.export import export_frame
from labtui.core.plotdata.model import PlotSpec
from labtui.core.plotdata.view import plot_title

if TYPE_CHECKING:
    from matplotlib.axes import Axes

FORMATS = ("pdf", "svg", "png")
PNG_DPI = 300
SIZE_IN = (6.4, 4.2)  # one column of a two-column page at a readable scale
# Points per series kept for drawing (min/max per bucket): beyond what 300 dpi across the axes can show.
DRAW_BUCKETS = 2000
# Okabe & Ito (2008), the palette most journals point to: distinguishable with every common colour-vision
# deficiency. Yellow is last: it is faint on white.
OKABE_ITO = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#F0E442")
# Runs past the palette's length get the next dash family; backward sweep legs are dashed within their family.
DASHES = (("-", "--"), (":", "-."))
LASER_ON = "#F0E442"
LEGEND_INSIDE = 8  # more entries than this go beside the axes
_RC = {
    "font.family": ["DejaVu Sans Labtui", "DejaVu Sans"],  # a glyph outside the cut falls back to the whole font
    "font.size": 9,
    "axes.titlesize": 9,
    "legend.fontsize": 7.5,
    "svg.fonttype": "path",
    "svg.hashsalt": "labtui",
    "pdf.fonttype": 42,
    "ps.fonttype": 42,  # the PDF backend sizes its font subsets by this key: 42 keeps the figure to one subset
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.formatter.useoffset": False,
}
_NO_DATES = {"pdf": {"CreationDate": None, "Producer": "labtui"}, "svg": {"Date": None}, "png": {"Software": "labtui"}}


def figure_format(path: Path) -> str:
    """`pdf`, `svg` or `png` from the file name; anything else is a usage error naming the choices."""
    fmt = path.suffix.lower().removeprefix(".")
    if fmt not in FORMATS:
        shown = f"'{path.suffix}'" if path.suffix else "no extension"
        raise UsageError(f"cannot tell the figure type of {path} ({shown}): use .pdf, .svg or .png")
    return fmt


def render(spec: PlotSpec, fmt: str, *, dpi: int = PNG_DPI) -> bytes:
    """The figure file's bytes. Shape the spec with `width=DRAW_BUCKETS` (the CSV export uses `width=None`)."""
    import matplotlib
    from matplotlib.figure import Figure

    _add_figure_font()
    with matplotlib.rc_context(_RC):  # type: ignore[arg-type]  # keys are checked by matplotlib at run time
        figure = Figure(figsize=SIZE_IN, layout="constrained")
        _draw(figure.add_subplot(), spec)
        buffer = io.BytesIO()
        figure.savefig(buffer, format=fmt, dpi=dpi, metadata=_NO_DATES[fmt])
    return buffer.getvalue()


@cache
def _add_figure_font() -> None:
    from matplotlib import font_manager

    font_manager.fontManager.addfont(Path(__file__).with_name("fonts") / "DejaVuSansLabtui.ttf")


def write_figure(spec: PlotSpec, path: Path, *, dpi: int = PNG_DPI) -> None:
    """Render and write atomically: a failure leaves no partial file, and an unwritable path is a usage error."""
    if path.parent.exists() and not path.parent.is_dir():
        raise UsageError(f"cannot write the figure {path}: {path.parent} is not a folder")
    data = render(spec, figure_format(path), dpi=dpi)
    try:
        atomic_write_bytes(path, data)
    except OSError as error:
        raise UsageError(f"cannot write the figure {path}: {error.strerror or error}") from None


def write_figure_set(full: PlotSpec, paths: Sequence[Path], *, drawn: PlotSpec | None = None) -> None:
    """The app's `e`: the figure as PDF and PNG (`drawn`, downsampled for drawing, when given) and the CSV of
    every point of `full`; any failure is one `LabtuiError` line, and no partial file is left."""
    pdf, png, csv = paths
    for path in (pdf, png):
        write_figure(drawn or full, path)
    try:
        atomic_write(csv, lambda handle: export_frame(full).write_csv(handle))
    except OSError as error:
        raise OperationFailed("write", csv, error) from None


def series_style(run_index: int, direction: int) -> tuple[str, str]:
    """(colour, line style) of a trace: one colour per run, dashed for a backward sweep leg."""
    color = OKABE_ITO[run_index % len(OKABE_ITO)]
    family = DASHES[(run_index // len(OKABE_ITO)) % len(DASHES)]
    return color, family[direction < 0]


def _draw(ax: Axes, spec: PlotSpec) -> None:
    ax.set_title(plot_title(spec))
    ax.set_xlabel(spec.x_title)
    ax.set_ylabel(spec.y_title)
    for number, (start, stop) in enumerate(spec.spans):
        ax.axvspan(start, stop, color=LASER_ON, alpha=0.35, lw=0, zorder=0, label="laser ON" if number == 0 else None,
                   gid=f"laser-on-{number}")
    labelled: set[str] = set()
    for number, series in enumerate(spec.series):  # gids name the SVG groups: a reader (or a test) finds each trace
        color, linestyle = series_style(series.run_index, series.direction)
        label = None if series.label in labelled else series.label
        labelled.add(series.label)
        if spec.points and not spec.joined:
            linestyle = "none"
        ax.plot(series.x, series.y, color=color, linestyle=linestyle, lw=1.0, label=label, gid=f"series-{number}",
                marker="o" if spec.points else None, ms=3.5)  # trends: one marker per run
    if spec.markers:
        ax.plot([m.x for m in spec.markers], [m.y for m in spec.markers], "D", color="black", ms=4, mfc="white",
                mew=1.0, ls="none", label="Dirac point", zorder=3, gid="dirac-points")
    if spec.log_y:
        from matplotlib.ticker import LogFormatter

        ax.set_yscale("log")  # ticks as plain numbers in the axis unit (40, 60, 100 µA), not 4×10¹
        ax.yaxis.set_major_formatter(LogFormatter(labelOnlyBase=False))
        ax.yaxis.set_minor_formatter(LogFormatter(labelOnlyBase=False, minor_thresholds=(1, 0.5)))
    entries = len(labelled) + bool(spec.spans) + bool(spec.markers)
    if entries <= LEGEND_INSIDE:
        ax.legend(loc="best", frameon=False)
    else:  # beside the axes, where it hides no data
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), ncols=1 + entries // 24, frameon=False)
