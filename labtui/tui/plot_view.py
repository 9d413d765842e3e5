"""The plot widget and what it draws: the theme's palette, the plotext calls for a `PlotSpec`, the legend and the
status lines under it. Shared by the plot, follow and trends screens."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from textual.app import ComposeResult, RenderResult
from textual.color import Color
from textual.containers import Vertical, VerticalScroll
from textual.content import Content
from textual.message import Message
from textual.widgets import Static
from textual_plotext import PlotextPlot
from textual_plotext.plot import Plot

from labtui.core.looks import groups, places, seq_orders
from labtui.core.plotdata import PlotOptions, PlotSpec, Series
from labtui.core.plotdata.labels import TITLE_PARTS
from labtui.core.plotdata.model import DOUBTED_LABEL, EXCLUDED_LABEL
from labtui.core.plotdata.numeric import log_ticks, nice_ticks
from labtui.core.plotdata.view import plot_title, view_parts
from labtui.core.wording import counted
from labtui.tui.ansi import ansi_text
from labtui.tui.store import short_path

RGB = tuple[int, int, int]

# Contrast ≥ 3:1 (WCAG, graphics) against the surface of every built-in Textual theme of that brightness.
SERIES_COLORS: dict[bool, tuple[RGB, ...]] = {
    True: ((86, 180, 233), (255, 160, 60), (90, 210, 120), (255, 120, 120), (190, 160, 255),
           (240, 220, 90), (255, 140, 215), (80, 220, 210), (170, 210, 60), (255, 190, 150)),
    False: ((0, 90, 170), (190, 75, 0), (0, 120, 55), (190, 20, 40), (110, 60, 170),
            (120, 95, 0), (170, 35, 125), (0, 115, 125), (80, 105, 0), (140, 70, 40)),
}
# backward legs dotted: the two legs read apart; an excluded run's point crossed out; on log–log axes a series'
# points below 0 (drawn as |y|) a triangle down, apart from its points above 0; a point in doubt hollow, in its
# series' colour (a ring over it in one colour of its own hid the series and the sign of a chip's every point)
LINE, DOTS, DIRAC, POINT, EXCLUDED, NEGATIVE = "braille", "·", "◆", "●", "×", "▼"
HOLLOW = {POINT: "○", NEGATIVE: "▽"}
X_TICKS, Y_TICKS = 5, 7  # at most, as plotext's own: it splits the data limits evenly into that many
MARKER_LINES = 4  # Dirac points listed under a plot, one a line; past that, how many more
SWATCH = {LINE: "━━", DOTS: "··", POINT: "●", NEGATIVE: "▼"}
LEGS_BY_LEG = 8  # sweep legs the legend names one by one (two full sweeps); past that, by run and direction
# Past the palette's colours, each run takes its colour by its seq along viridis (matplotlib's, at 0, ¼, ½, ¾ and 1,
# interpolated), as a paper figure has them; on a dark canvas from 0.3, where its purple end is not lost in the dark,
# on a light one to 0.9, where its yellow end is not lost in the light.
SEQ_RAMP: tuple[RGB, ...] = ((68, 1, 84), (59, 82, 139), (33, 145, 140), (94, 201, 98), (253, 231, 37))
SEQ_SPAN = {True: (0.3, 1.0), False: (0.0, 0.9)}
RAMP_CELLS = 12  # the legend's colour bar

@dataclass(frozen=True)
class Palette:
    """Plot colours for the current theme: data colours by canvas brightness, marks from the theme's ink."""

    series: tuple[RGB, ...]
    span: RGB  # laser-ON edges: present but quieter than the data
    marker: RGB  # Dirac points: the theme's own text colour, the strongest contrast there is
    seq_span: tuple[float, float]  # the part of `SEQ_RAMP` readable on the canvas

    def color(self, run_index: int) -> RGB:
        return self.series[run_index % len(self.series)]

    def along(self, place: float) -> RGB:
        """The colour `place` (0 to 1) of the way along the readable part of the ramp."""
        low, high = self.seq_span
        at = (low + place * (high - low)) * (len(SEQ_RAMP) - 1)
        index = min(int(at), len(SEQ_RAMP) - 2)
        red, green, blue = (round(a + (at - index) * (b - a)) for a, b in zip(*SEQ_RAMP[index:index + 2], strict=True))
        return red, green, blue

    def of_group(self, index: int, count: int) -> RGB:
        """Group `index` of `count`'s colour (`Colouring.groups`): the palette's up to its length; past it (a trend
        of 12 wavelengths repeated two colours) each its own along the ramp, in their order."""
        return self.color(index) if count <= len(self.series) else self.along(index / (count - 1))


def palette_for(theme_variables: Mapping[str, str]) -> Palette:
    """The palette for a theme, from the same `surface` variable PlotextPlot paints its canvas with."""
    canvas = Color.parse(theme_variables["surface"])
    ink = Color.parse(theme_variables["foreground"])
    if ink.ansi is not None:  # ansi themes leave the text colour to the terminal: use plain black or white
        ink = canvas.get_contrast_text(1.0)
    dark = canvas.brightness < 0.5
    return Palette(SERIES_COLORS[dark], ink.blend(canvas, 0.5).rgb, ink.rgb, SEQ_SPAN[dark])


@dataclass(frozen=True)
class Colouring:
    """How a plot's series take their colours, worked out once for a legend or a drawing: by group (`groups`, the
    figure's rule past this palette's colours: a trend's series, the wavelengths of calibrations and It runs), else
    past the palette each run along the ramp by its seq (`ramp`: its place, and the legend's words for the ends;
    None within the palette), else each run its palette colour."""

    groups: dict[int, str]
    ramp: tuple[dict[int, float], str] | None
    color_of: Callable[[Series], RGB]


def colouring(spec: PlotSpec, palette: Palette) -> Colouring:
    """The spec's `Colouring` on this palette. Past the palette's colours (30 sweeps repeated 10 colours three times
    over, their legend lines too) a run's place on the ramp is its seq (`seq_orders`, as the figure's colour bar)."""
    found = groups(spec.series, points=spec.points, looks=len(palette.series))
    if found:
        return Colouring(found, None, lambda series: palette.of_group(
            series.run_index if spec.points else series.group_index, len(found)))
    seqs = {series.run_index: series.seq for series in spec.series}
    if places(spec.series) <= len(palette.series):
        return Colouring({}, None, lambda series: palette.color(series.run_index))
    orders, by_seq = seq_orders(seqs)
    low, high = min(orders.values()), max(orders.values())
    at = {index: (value - low) / (high - low) if high > low else 0.0 for index, value in orders.items()}
    ends = f"seq {low} → {high}" if by_seq else f"run {low} → {high}, in the plot's order"
    return Colouring({}, (at, ends), lambda series: palette.along(at[series.run_index]))


def legend(spec: PlotSpec, palette: Palette) -> Content:
    """One line per distinct trace label, with its colour and line style; then what the marks mean. Past
    `LEGS_BY_LEG` sweep legs, one line per run and one per direction, as a paper figure has them (31 sweeps made
    124 lines of legs)."""
    lines: list[Content] = []
    colours = colouring(spec, palette)
    ramp, found, color_of = colours.ramp, colours.groups, colours.color_of
    by_run = ramp is not None or (len({series.label for series in spec.series}) > LEGS_BY_LEG
                                  and all(series.run_label for series in spec.series))
    if ramp is not None:  # a colour bar, not a line per run
        bar = [("█", _rgb(palette.along(cell / (RAMP_CELLS - 1)))) for cell in range(RAMP_CELLS)]
        lines.append(Content.assemble(*bar, " ", ramp[1]))
    elif found and not spec.points:  # a line per wavelength: the runs of one share it
        lines += [Content.assemble((SWATCH[LINE], _rgb(palette.of_group(index, len(found)))), " ", group)
                  for index, group in found.items()]
    else:
        first: dict[str, Series] = {}
        for series in spec.series:
            first.setdefault(series.run_label if by_run else series.label, series)
        for label, series in first.items():
            swatch = SWATCH[(NEGATIVE if series.sign < 0 else POINT) if spec.points
                            else DOTS if series.direction < 0 and not by_run else LINE]
            lines.append(Content.assemble((swatch, _rgb(color_of(series))), " ", label))
    if by_run and any(series.direction for series in spec.series):
        lines += [Content.assemble((SWATCH[style], _rgb(palette.marker)), f" {what}")
                  for style, what in ((LINE, "forward (Vg rising)"), (DOTS, "backward (Vg falling)"))]
    if spec.spans:
        lines.append(Content.assemble(("│ ", _rgb(palette.span)), " laser ON"))
    if spec.markers:
        lines.append(Content.assemble((f"{DIRAC} ", _rgb(palette.marker)), " Dirac point"))
    if spec.doubted:  # hollow, as each sign's points in doubt are drawn
        below = {series.sign < 0 for series in spec.series}
        hollow = "".join(HOLLOW[marker] for marker, sign in ((POINT, False), (NEGATIVE, True)) if sign in below)
        lines.append(Content.assemble((hollow, _rgb(palette.marker)), f" {DOUBTED_LABEL}"))
    if spec.excluded:
        lines.append(Content.assemble((EXCLUDED, _rgb(palette.marker)), f" {EXCLUDED_LABEL}"))
    return Content("\n").join(lines)


class LegendBox(Vertical):
    """The legend beside the plot, scrolled (pgdn / pgup, the mouse) where it is longer than the plot is high; a line
    below it then says how many of its lines are out of sight (at 80×24 a trend's 24 series showed 16, unsaid)."""

    DEFAULT_CSS = """
    LegendBox {
        padding: 0 1; border-left: solid $primary 40%; background: $surface;
        & > VerticalScroll { height: 1fr; }
        & > #legend-more { height: 1; display: none; color: $text-muted; text-style: italic; }
    }
    """

    def compose(self) -> ComposeResult:
        with VerticalScroll():
            yield Static(id="legend")
        yield Static(id="legend-more")

    def on_mount(self) -> None:
        self.watch(self.query_one(VerticalScroll), "scroll_y", self._say_hidden, init=False)

    def show(self, content: Content) -> None:
        self.query_one("#legend", Static).update(content)
        self.call_after_refresh(self._say_hidden)  # once laid out: the content's height is known then

    def on_resize(self) -> None:
        self.call_after_refresh(self._say_hidden)

    def _say_hidden(self) -> None:
        scroll, more = self.query_one(VerticalScroll), self.query_one("#legend-more", Static)
        overflows = scroll.virtual_size.height > self.content_region.height  # with the line below, or without it
        if more.display != overflows:
            more.display = overflows
            self.call_after_refresh(self._say_hidden)  # the legend's own height changed with it: count again
        below = scroll.virtual_size.height - scroll.size.height - round(scroll.scroll_y)
        # lines, not entries (a wrapped entry takes two: `↓ 46 more` over 23 entries); whole in a 30-cell box
        more.update(f"↓ {counted(below, 'more line')} (pgdn)" if below > 0 else "↑ pgup for the rest")

    def page(self, pages: int) -> None:
        """Scroll by a page: the screen's pgdn / pgup, as the line below the legend says (the mouse alone did)."""
        scroll = self.query_one(VerticalScroll)
        (scroll.scroll_page_down if pages > 0 else scroll.scroll_page_up)(animate=False)


def status(spec: PlotSpec, options: PlotOptions, saved: tuple[Path, ...], gm_window_v: float) -> Content:
    """The view's state, then whatever the user must know before trusting the plot."""
    parts = view_parts(spec.kind, options, gm_window_v)
    state = [f"{spec.kind}: {counted(spec.runs.height, 'run')}", *(text for text, _ in parts)]
    lines = [Content(" · ".join(state))]
    lines += [Content.assemble(("⚠ " + warning, "$text-warning")) for warning in spec.warnings]
    shown = spec.markers if len(spec.markers) <= MARKER_LINES else spec.markers[: MARKER_LINES - 1]
    lines += [Content(marker.text) for marker in shown]  # one a line: a paragraph of them wrapped mid-value
    if len(shown) < len(spec.markers):
        # the history's CNP is the legs' mean: a run's detail (Enter there) has each leg's
        lines.append(Content(f"… and {len(spec.markers) - len(shown)} more Dirac points (each leg's in a run's detail: "
                             "Enter in the history)"))
    # what was left out or shaped otherwise, and why: notes, not errors (✗ in red read as a failure)
    lines += [Content.assemble(("· " + message, "$text-muted")) for message in spec.messages]
    return Content("\n").join([*lines, *saved_line(saved)])


def saved_line(saved: tuple[Path, ...]) -> list[Content]:
    """The status's last line after an export: where its files are (none before one). Files of one name in one
    folder are named once, with their suffixes (`saved exports/Alisson67_It_seq1-3 .pdf .png .csv`): each path
    written out took 3–4 lines of an 80×24 screen's plot."""
    if not saved:
        return []
    stem = saved[0].with_suffix("")  # the figure's record is `<stem>.pdf.json`
    if all(path.parent == stem.parent and path.name.startswith(f"{stem.name}.") for path in saved):
        text = f"{short_path(stem)} {' '.join(path.name.removeprefix(stem.name) for path in saved)}"
    else:
        text = ", ".join(map(short_path, saved))
    return [Content.assemble(("saved " + text, "$text-success"))]


def _rgb(color: RGB) -> str:
    return "rgb({},{},{})".format(*color)


def draw_spec(plt: Plot, spec: PlotSpec, palette: Palette, width: int) -> None:
    """The plotext calls for one spec `width` cells wide, on a cleared figure (PlotextPlot sets size and theme when
    it renders)."""
    plt.clear_figure()
    plt.ylabel(spec.y_title)
    plt.xlabel(fitted(spec.x_label, spec.x_unit, width + 3 - 2 * len(spec.y_title)))  # centred, clear of y's
    for edge in (edge for span in spec.spans for edge in span):
        plt.vertical_line(edge, color=palette.span)
    color_of = colouring(spec, palette).color_of
    doubted = set(spec.doubted)  # drawn hollow with their series; the others (see below) ringed
    # Dots first: a braille line drawn over them keeps both legs visible wherever they part.
    for series in sorted(spec.series, key=lambda s: s.direction >= 0):
        if spec.points:  # a trend: one marked point per run, joined where the series is ordered
            color = color_of(series)
            if spec.joined:
                for start, stop in itertools.pairwise((0, *series.breaks, series.x.size)):  # lifted at long gaps
                    plt.plot(series.x[start:stop].tolist(), series.y[start:stop].tolist(), marker=LINE, color=color)
            if series.fit is not None:  # its power law, over the powers fitted (the points unjoined)
                ends = series.fit.line()
                plt.plot([x for x, _ in ends], [y for _, y in ends], marker=LINE, color=color)
            marker = NEGATIVE if series.sign < 0 else POINT
            points = list(zip(series.x.tolist(), series.y.tolist(), strict=True))
            held = np.array([point in doubted for point in points], dtype=bool)
            for where, shape in ((~held, marker), (held, HOLLOW[marker])):
                if where.any():
                    plt.scatter(series.x[where].tolist(), series.y[where].tolist(), marker=shape, color=color)
            doubted.difference_update(points)
            continue
        if series.direction < 0:
            plt.scatter(series.x.tolist(), series.y.tolist(), marker=DOTS, color=color_of(series))
            continue
        for start, stop in itertools.pairwise((0, *series.breaks, series.x.size)):  # lifted across rows without
            plt.plot(series.x[start:stop].tolist(), series.y[start:stop].tolist(), marker=LINE,  # a reading
                     color=color_of(series))
    if spec.markers:
        plt.scatter([m.x for m in spec.markers], [m.y for m in spec.markers], marker=DIRAC, color=palette.marker)
    if doubted:  # a point in doubt a series' thinned-out point stands for (`thinned`): a ring in its cell
        plt.scatter([x for x, _ in doubted], [y for _, y in doubted], marker=HOLLOW[POINT], color=palette.marker)
    if spec.excluded:  # over their points too: crossed out
        plt.scatter([x for x, _ in spec.excluded], [y for _, y in spec.excluded], marker=EXCLUDED,
                    color=palette.marker)
    x = [*(series.x for series in spec.series), np.array([edge for span in spec.spans for edge in span]),
         np.array([marker.x for marker in spec.markers])]
    y = np.concatenate([*(series.y for series in spec.series), np.array([marker.y for marker in spec.markers])])
    _axis(plt.xscale, plt.xlim, plt.xticks, np.concatenate(x), spec.log_x, spec.points, X_TICKS, spec.integer_x)
    y_ticks = _axis(plt.yscale, plt.ylim, plt.yticks, y, spec.log_y, spec.points, Y_TICKS, False)
    plt.title(fitted(plot_title(spec), "", _title_room(width, max(map(len, y_ticks[1])) if y_ticks[0] else 3)))


def _axis(scale: Callable[[str], None], limit: Callable[[float, float], None], ticks: Callable[..., None],
          values: np.ndarray, log: bool, points: bool, count: int, integer: bool) -> tuple[list[float], list[str]]:
    """One axis of a plot: linear, or log over its positive values (a log axis without any fails in plotext's ticks:
    an empty plot is linear); round ticks; a trend's points (`points`) clear of the frame, which drew over those at
    the axes' ends. Its ticks."""
    positive = values[(values > 0) & np.isfinite(values)]
    if log and positive.size:
        scale("log")
        round_ticks = log_ticks(float(positive.min()), float(positive.max()), count)
        if points:  # plotext takes a log axis's limits as logs
            limit(*_padded(_limits(np.log10(positive))))
    else:
        round_ticks = nice_ticks(*_limits(values), count, integer=integer)
        if points:
            limit(*_padded(_limits(values)))
    _round_ticks(ticks, round_ticks)
    return round_ticks


def _title_room(width: int, tick_width: int) -> int:
    """The longest title plotext draws over a plot `width` cells wide whose y tick labels are `tick_width` wide: it
    centres the title on the frame (right of the labels and a space, between two axis lines) and leaves out one that
    would end past the plot (a log axis's `100000` left the title blank at 80 columns)."""
    frame_start = tick_width + 2
    centre = frame_start + (width - frame_start - 1) // 2
    return 2 * (width - centre)


def fitted(label: str, unit: str, room: int) -> str:
    """`label (unit)` in `room` cells, the label cut with … before its unit: plotext leaves out a title that does
    not fit (at 80 columns the trends lost their x axis's name, and the plots their title). A title of parts keeps
    whole parts: cut at a word, `VG=-0.4 V` lost its unit (`VG=-0.4…`) and a run list its last ranges."""
    whole = f"{label} ({unit})" if unit else label
    if len(whole) <= room:
        return whole
    tail = f"… ({unit})" if unit else "…"
    if room <= len(tail):
        return ""
    cut = label[: room - len(tail)]
    if (part_end := label.rfind(TITLE_PARTS, 0, len(cut) + len(TITLE_PARTS))) > 0:
        cut = cut[:part_end]
    elif label[len(cut)] != " " and " " in cut:  # at a word's end: "time since… (d)", not "time since 2025-09-0…"
        cut = cut[: cut.rfind(" ")]
    return cut.rstrip().rstrip(",;:") + tail  # "2025-09-01…", not "2025-09-01,…"


def _round_ticks(set_ticks: Callable[..., None], ticks: tuple[list[float], list[str]]) -> None:
    """Round ticks on an axis; plotext's own where there are none (an empty or a flat axis)."""
    if ticks[0]:
        set_ticks(*ticks)


def _limits(values: np.ndarray) -> tuple[float, float]:
    """The axis limits plotext gives these values (their finite extremes; a single value, ±50 % of it)."""
    finite = values[np.isfinite(values)]
    low, high = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 0.0)
    if low != high:
        return low, high
    return (0.5 * low, 1.5 * low) if low else (-1.0, 1.0)


POINTS_PAD = 0.03  # of an axis's span, each side of a trend's points


def _padded(limits: tuple[float, float]) -> tuple[float, float]:
    low, high = limits
    pad = (high - low) * POINTS_PAD
    return low - pad, high + pad


MIN_PLOT_ROWS = 7  # a title, the frame, two rows of data, the x ticks and the x label: plotext wrote the y ticks of
# a lower figure on its frame lines, values the data never took


class PlotView(PlotextPlot):
    """Draws a `PlotSpec` and nothing else: shaping, and so resizing, is the screen's business."""

    class Resized(Message):
        """The plot's width changed: the screen re-shapes the runs for it (a new height needs no new points)."""

    def __init__(self) -> None:
        super().__init__()
        self.shaped_width = 0  # the width the drawn spec was shaped for; 0 before the first draw
        self._last: RenderResult = ""
        self._drawn: tuple[PlotSpec, Palette] | None = None
        self._built: tuple[int, int, str] | None = None  # the size and theme `_last` was built for; None: not yet

    def on_unmount(self) -> None:
        """PlotextPlot subscribes to theme changes and never unsubscribes: its callback held every closed plot."""
        self.app.theme_changed_signal.unsubscribe(self)

    def on_resize(self) -> None:
        if self.size.width != self.shaped_width:
            self.post_message(self.Resized())

    def draw(self, spec: PlotSpec, palette: Palette) -> None:
        draw_spec(self.plt, spec, palette, self.size.width)
        self.shaped_width, self._drawn, self._built = self.size.width, (spec, palette), None
        self.refresh()

    def render(self) -> RenderResult:
        """Nothing before the first draw, the last frame while a re-shape for a new width is pending, a line saying so
        where the plot has too few rows for a figure.

        plotext's build is the costly step of a redraw: never spend it on points shaped for another width, nor twice
        on one size. It also changes the figure it builds (a log axis takes the log of its points in place: a second
        build of a log plot, on a new height, raised a math domain error), so a figure is drawn again before it is
        built again. The rest is PlotextPlot's render (textual-plotext 1.0: the size set twice, the theme) with its
        ANSI decoded by `ansi_text`, to the same text 6× faster than Rich's decoder.
        """
        if self._drawn is not None and self.size.height < MIN_PLOT_ROWS:
            return Content.styled(f"{counted(self.size.height, 'row')}: too few to plot (a plot needs {MIN_PLOT_ROWS})",
                                  "italic $text-muted")
        theme = self._get_plotext_theme_name(self.app.theme)
        wanted = (self.size.width, self.size.height, theme)
        if self._drawn is not None and self.size.width == self.shaped_width and wanted != self._built:
            plot = self.plt
            if self._built is not None:
                draw_spec(plot, *self._drawn, self.size.width)
            plot.plotsize(self.size.width, self.size.height)
            plot._set_size(self.size.width, self.size.height)  # as PlotextPlot does: its resizing needs both
            plot.theme(theme)
            self._last, self._built = ansi_text(plot.build()), wanted
        return self._last
