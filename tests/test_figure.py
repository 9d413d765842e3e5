"""Figures: the files are valid and look as they should, the runs are chosen and recorded as the user asked, and
`labtui plot`'s renderer process draws the same bytes, or fails without a file or a process left behind.

A small lab staged from synthetic raw files (one module-scoped store); two reference PNGs at 100 dpi are compared
with matplotlib's own `compare_images`. After an intended change of the figures, regenerate them with
`LABTUI_UPDATE_FIGURES=1 pytest tests/test_figure.py` and look at them before committing.
"""

from __future__ import annotations

import datetime as dt
import io
import itertools
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from dataclasses import replace
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from labtui.core.drawing import (
    COLUMN_IN,
    COLUMN_LEGEND_ROW_IN,
    LASER_ON,
    LEGEND_MAX,
    PAGE_LEGEND_ROW_IN,
    SIZE_IN,
    Drawing,
    Trace,
    draw_axes,
    figure_size,
    legend_entries,
    render,
)
from labtui.core.errors import UsageError
from labtui.core.looks import OKABE_ITO, series_style
from labtui.core.metrics import read_metrics
from labtui.core.plotdata import KINDS, LoadedGroup, PlotOptions, load_group, shape
from labtui.core.plotdata.figure import DRAW_BUCKETS, drawing_of, legend_left_out, write_figure
from labtui.core.plotdata.model import PlotSpec, Series
from labtui.core.plotdata.selection import (
    FigureRecord,
    calibration_runs,
    chip_runs,
    figure_record,
    one_procedure,
    sidecar_path,
)
from labtui.core.plotdata.trends import with_plotted_quantities
from labtui.core.renderer import Renderer, RendererFailed, figure_format, worth_a_process
from labtui.core.seqs import missing_seqs, parse_seqs
from labtui.synth import write_run
from tests.lab import Lab, cli_env

REFERENCES = Path(__file__).parent / "figures"
START = dt.datetime(2025, 10, 13, 15, 0, tzinfo=dt.UTC)
# seq: (proc, header overrides) of chip Alisson 67, in history order; a calibration besides
RUNS = [("It", {"Laser voltage": 1.0}), ("It", {"Laser voltage": 2.0}), ("It", {"Laser voltage": 3.0}),
        ("IVg", {}), ("IV", {})]
SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Lab:
    lab = Lab(tmp_path_factory.mktemp("figure"))
    for index, (proc, params) in enumerate(RUNS):
        write_run(lab.raw / "2025-10-13", proc, file_idx=index + 1, start_utc=START + dt.timedelta(minutes=10 * index),
                  params=params, seed=3)
    write_run(lab.raw / "2025-10-13", "LaserCalibration", file_idx=9, chip_group=None, chip_number=None,
              start_utc=START - dt.timedelta(hours=1), seed=3)
    lab.stage()
    return lab


def spec_of(lab: Lab, seqs: list[int], options: PlotOptions | None = None, width: int | None = DRAW_BUCKETS):
    """As `labtui plot` shapes the runs: It runs with their powers (their legend says them)."""
    config = lab.config
    proc, runs = one_procedure(chip_runs(lab.manifest(), 67, None, seqs, tz=config.local_tz), None)
    if proc == "It":
        runs = with_plotted_quantities(runs, read_metrics(config))
    return shape(load_group(proc, runs, config.stage_root), options or PlotOptions(), width)


# -- the files ----------------------------------------------------------------------------------------------------
def test_pdf_is_vector_with_its_fonts_embedded(lab):
    data = render(drawing_of(spec_of(lab, [1, 2, 3])), "pdf")
    assert data.startswith(b"%PDF-") and data.rstrip().endswith(b"%%EOF")
    assert b"/FontFile2" in data  # TrueType embedded: the PDF reads the same on a machine without DejaVu
    assert data.count(b"/FontFile2") == 1  # one subset holds µ, λ and − too: each subset costs a font parse
    assert b"/Subtype /Image" not in data  # lines are paths, not a bitmap
    assert b"CreationDate" not in data  # reproducible: the same runs give the same bytes
    assert data == render(drawing_of(spec_of(lab, [1, 2, 3])), "pdf")


def test_pdf_embeds_the_cut_font_and_falls_back_to_the_whole_one(lab):
    import re

    spec = spec_of(lab, [1, 2])
    fonts = set(re.findall(rb"/BaseFont /[A-Z]{6}\+(\w+)", render(drawing_of(spec), "pdf")))
    assert fonts == {b"DejaVuSansLabtui"}  # µ, λ, −, Δ are in the cut: one small subset
    foreign = replace(spec, series=(replace(spec.series[0], label="Жук"),))  # Cyrillic: outside the cut
    fonts = set(re.findall(rb"/BaseFont /[A-Z]{6}\+(\w+)", render(drawing_of(foreign), "pdf")))
    assert fonts == {b"DejaVuSansLabtui", b"DejaVuSans"}


def test_svg_has_a_path_per_series_and_no_text_or_web_font(lab):
    spec = spec_of(lab, [4], PlotOptions(log_y=True))
    text = render(drawing_of(spec), "svg").decode("utf-8")
    root = ET.fromstring(text)
    groups = {g.get("id"): g for g in root.iter(f"{SVG}g")}
    for number in range(len(spec.series)):
        assert groups[f"series-{number}"].find(f"{SVG}path") is not None
    assert spec.markers and groups["dirac-points"] is not None
    assert root.find(f".//{SVG}text") is None and "@font-face" not in text and "url(http" not in text
    assert not any(0x2800 <= ord(char) <= 0x28FF for char in text)  # no braille: not a terminal screenshot


def test_png_is_300_dpi_and_not_blank(lab, tmp_path):
    from matplotlib.image import imread

    path = tmp_path / "its.png"
    write_figure(spec_of(lab, [1, 2, 3]), path)
    pixels = imread(path)
    assert pixels.shape[:2] == (1260, 1920)  # 6.4 × 4.2 in at 300 dpi
    first = np.array([int(OKABE_ITO[0][k : k + 2], 16) / 255 for k in (1, 3, 5)])
    assert (np.abs(pixels[..., :3] - first).max(axis=-1) < 0.05).sum() > 500  # the first run's line is drawn


def test_the_laser_on_span_is_no_runs_colour() -> None:
    """The span was the palette's yellow: an It figure's 8th run vanished inside it."""
    assert LASER_ON not in OKABE_ITO


@pytest.mark.parametrize(
    ("name", "seqs", "options"),
    [("it_auto", [1, 2, 3], PlotOptions()), ("ivg_log", [4], PlotOptions(log_y=True))],
)
def test_figure_matches_its_reference(lab, tmp_path, name, seqs, options):
    from matplotlib.testing.compare import compare_images

    reference, actual = REFERENCES / f"{name}.png", tmp_path / f"{name}.png"
    actual.write_bytes(render(drawing_of(spec_of(lab, seqs, options)), "png", dpi=100))
    if os.environ.get("LABTUI_UPDATE_FIGURES"):
        reference.write_bytes(actual.read_bytes())
        pytest.skip(f"wrote {reference}")
    assert compare_images(str(reference), str(actual), tol=5) is None


def legend_of(drawing: Drawing) -> list[str]:
    from matplotlib.figure import Figure

    ax = Figure().add_subplot()
    draw_axes(ax, drawing)
    return [text.get_text() for text in ax.get_legend().get_texts()]


def test_a_sweep_figure_has_a_legend_entry_per_run_and_per_direction(lab):
    """As a paper has it: the run's colour once, solid forward and dashed backward once (not four legs per run)."""
    sweep = drawing_of(spec_of(lab, [4], PlotOptions()))
    assert len(sweep.traces) == 4
    assert legend_of(sweep) == ["seq 4", "forward sweep (Vg rising)", "backward sweep (Vg falling)", "Dirac point"]


@pytest.mark.filterwarnings("error")
def test_runs_past_the_palette_are_coloured_by_seq_with_a_colour_bar():
    """A chip's 40 sweeps: past the palette's 16 looks, colours and dashes repeated (seq 1 and seq 17 drawn alike,
    and no legend at all past 48 entries). Each run now takes its colour along viridis by its seq, a colour bar
    names the seq, and the legend keeps what is not a run: the two directions and the Dirac points."""
    from matplotlib.figure import Figure

    x = np.linspace(-1, 1, 5)
    seqs = [3 * k + 2 for k in range(40)]  # not contiguous: the bar spans the seqs, not the count
    drawing = Drawing("Alisson67 · IVg", "Vg (V)", "I (µA)", tuple(
        Trace(x, x * k, f"seq {seq} leg {d}", k, d, f"seq {seq}", seq=seq) for k, seq in enumerate(seqs)
        for d in (1, -1)), dirac_points=((0.1, 0.2),))
    figure = Figure(layout="constrained")
    ax = figure.add_subplot()
    draw_axes(ax, drawing)
    assert [text.get_text() for text in ax.get_legend().get_texts()] == [
        "forward sweep (Vg rising)", "backward sweep (Vg falling)", "Dirac point"]
    legs = [line for line in ax.get_lines() if (line.get_gid() or "").startswith("series-")]
    assert len({line.get_color() for line in legs}) == 40  # one colour per run, both its legs
    assert [line.get_linestyle() for line in legs[:2]] == ["-", "--"]
    bar = next(axes for axes in figure.axes if axes.get_gid() == "seq-colour-bar")
    assert bar.get_ylabel() == "seq" and bar.get_ylim() == (2, 119)
    assert render(drawing, "png", dpi=30)[:4] == b"\x89PNG"


def test_runs_past_the_palette_some_without_a_seq_are_all_coloured_by_their_place():
    """19 runs of seq 101–119 and one outside a chip's history: the bar said "run, in the plot's order" but spanned
    20–119, the 19 placed by their seq and the other by its place (20), as if it came long before them."""
    from matplotlib.figure import Figure

    x = np.linspace(-1, 1, 5)
    seqs = [*range(101, 120), None]
    drawing = Drawing("runs", "Vg (V)", "I (µA)", tuple(
        Trace(x, x * k, f"run {k}", k, 1, f"run {k}", seq=seq) for k, seq in enumerate(seqs)))
    figure = Figure(layout="constrained")
    draw_axes(figure.add_subplot(), drawing)
    bar = next(axes for axes in figure.axes if axes.get_gid() == "seq-colour-bar")
    assert bar.get_ylabel() == "run, in the plot's order" and bar.get_ylim() == (1, 20)


def test_runs_placed_past_the_palette_are_coloured_by_seq_though_fewer_are_drawn():
    """17 runs chosen, one excluded and left out: the 16 drawn keep their places in the selection (0–16), so they are
    past the palette as the 17 are; taken as within it, the run at place 16 was drawn as the one at place 0."""
    from matplotlib.figure import Figure

    x = np.linspace(-1, 1, 5)
    drawing = Drawing("runs", "Vg (V)", "I (µA)", tuple(
        Trace(x, x * k, f"seq {k + 1}", k, seq=k + 1) for k in range(17) if k != 5))
    ax = Figure(layout="constrained").add_subplot()
    draw_axes(ax, drawing)
    lines = [line for line in ax.get_lines() if (line.get_gid() or "").startswith("series-")]
    assert len({(line.get_color(), line.get_linestyle()) for line in lines}) == 16


def test_a_sweep_figure_of_two_colour_cycles_keeps_an_entry_per_run():
    """Chip 67's 13 IVg sweeps (`labtui plot 67 --proc IVg --align-cnp`, README) were 52 leg entries: no legend at
    all; 9 sweeps, 36 entries in two columns that took half the figure. Runs 9–16 have a dash family of their own
    (dotted forward, dash-dot backward), so an entry per run still tells them apart: each direction's entry shows
    both families' styles."""
    from matplotlib.figure import Figure

    x = np.linspace(-1, 1, 5)
    drawing = Drawing("Alisson67 · IVg", "Vg (V)", "I (µA)", tuple(
        Trace(x, x * k, f"seq {k} leg {d}", k, d, f"seq {k}") for k in range(13) for d in (1, -1)))
    ax = Figure().add_subplot()
    draw_axes(ax, drawing)
    legend = ax.get_legend()
    texts = [text.get_text() for text in legend.get_texts()]
    assert texts == [*(f"seq {k}" for k in range(13)), "forward sweep (Vg rising)", "backward sweep (Vg falling)"]
    handles = dict(zip(texts, legend.legend_handles, strict=True))
    assert handles["seq 9"].get_linestyle() == ":"  # the run's entry as its forward legs are drawn
    assert handles["seq 9"].get_color() == series_style(9, 1)[0] == OKABE_ITO[1]


def test_a_log_axis_labels_its_ticks_as_plain_numbers():
    """|ΔI| of chip 67's lit It runs (seq 7, 9, 13) spans 0.01 … 1500 nA: matplotlib's own log labels read `1e−02`,
    `1e−01`, then `1`, `10`, `1000`; a figure's axis reads 0.01, 0.1, 1 … 1000 in its unit."""
    from matplotlib.figure import Figure

    x = np.linspace(0.0, 180.0, 50)
    drawing = Drawing("Alisson67 · It", "t (s)", "|ΔI| (nA)", (Trace(x, np.geomspace(0.01, 1500.0, 50), "seq 7"),),
                      log_y=True)
    figure = Figure(figsize=(6.4, 4.2))
    ax = figure.add_subplot()
    draw_axes(ax, drawing)
    figure.canvas.draw()
    low, high = ax.get_ylim()
    labels = {round(float(text.get_position()[1]), 6): text.get_text() for text in ax.get_yticklabels()
              if low <= text.get_position()[1] <= high}
    assert labels == {0.01: "0.01", 0.1: "0.1", 1.0: "1", 10.0: "10", 100.0: "100", 1000.0: "1000"}


def trend_legend(count: int, joined: bool) -> list[tuple[str, str, str, str]]:
    """The legend of a photoresponse trend of `count` wavelengths, as (label, colour, marker, line style)."""
    from matplotlib.figure import Figure

    x = np.array([6e-6, 6e-6, 1.8e-5])  # one power repeated: the points stand alone
    traces = tuple(Trace(x, x * k, f"{350 + 25 * k} nm", k) for k in range(count))
    drawing = Drawing("Alisson68 · photoresponse against power", "P (µW)", "ΔI (µA)", traces, points=True,
                      joined=joined)
    ax = Figure().add_subplot()
    draw_axes(ax, drawing)
    legend = ax.get_legend()
    return [(text.get_text(), line.get_color(), line.get_marker(), line.get_linestyle())
            for text, line in zip(legend.get_texts(), legend.get_lines(), strict=True)]


@pytest.mark.parametrize("joined", [False, True])
def test_trend_series_past_the_palette_each_have_a_colour_and_a_shape(joined):
    """A photoresponse trend of the real chip Alisson72 has ten wavelengths: its 680 and 850 nm points took the 365 and
    385 nm colours (a square for a circle: at 3.5 pt, the same blue dot), and past 16 wavelengths the looks repeated
    outright. Each wavelength now has its own colour along viridis, in λ order, and neighbours differ in shape."""
    for count in (10, 20):
        entries = trend_legend(count, joined)
        assert [label for label, *_ in entries] == [f"{350 + 25 * k} nm" for k in range(count)]
        colors = [color for _, color, _, _ in entries]
        assert len(set(colors)) == count and not set(colors) & set(OKABE_ITO), colors
        assert all(a[2] != b[2] for a, b in itertools.pairwise(entries))  # neighbours: another marker
        assert {style for *_, style in entries} == ({"None"} if not joined else {"-", "--", "-.", ":"})


def test_trend_series_within_the_palette_look_as_before():
    """Up to 8 wavelengths a trend keeps the palette's colours, circles and solid lines."""
    for count in (1, 8):
        looks = [(color, marker, style) for _, color, marker, style in trend_legend(count, True)]
        assert looks == [(color, "o", "-") for color in OKABE_ITO[:count]]


def test_a_trends_points_in_doubt_are_ringed_and_named_in_the_legend():
    """A point priced by a stale calibration or within the noise was drawn as sure as any other: only the notes
    counted them. It is ringed, hollow, where it is; the legend names the rings once."""
    from matplotlib.figure import Figure

    x = np.array([6e-6, 1.2e-5, 1.8e-5])
    drawing = Drawing("Alisson68 · photoresponse against power", "P (µW)", "ΔI (µA)", (Trace(x, 2 * x, "455 nm"),),
                      points=True, doubted=((1.2e-5, 2.4e-5),), doubted_label="value in doubt")
    ax = Figure().add_subplot()
    draw_axes(ax, drawing)
    (rings,) = [line for line in ax.get_lines() if line.get_gid() == "doubted-points"]
    assert (rings.get_xdata(), rings.get_ydata()) == ((1.2e-5,), (2.4e-5,)) and rings.get_markerfacecolor() == "none"
    assert [text.get_text() for text in ax.get_legend().get_texts()] == ["455 nm", "value in doubt"]
    ax = Figure().add_subplot()
    draw_axes(ax, replace(drawing, doubted=()))
    assert not [line for line in ax.get_lines() if line.get_gid() == "doubted-points"]


def test_a_trends_points_of_excluded_runs_are_crossed_out_and_named_in_the_legend():
    """Drawn with the excluded runs (`--include-excluded`, a redraw), their points looked like any other: only the
    CSV told them apart. Each is crossed out where it is; the legend names the crosses once."""
    from matplotlib.figure import Figure

    x = np.array([1.0, 2.0, 3.0])
    drawing = Drawing("Alisson67 · Dirac point against time", "time (d)", "V_CNP (V)", (Trace(x, x / 10, "forward"),),
                      points=True, excluded=((2.0, 0.2), (3.0, 0.3)), excluded_label="excluded run")
    ax = Figure().add_subplot()
    draw_axes(ax, drawing)
    (crosses,) = [line for line in ax.get_lines() if line.get_gid() == "excluded-points"]
    assert (tuple(crosses.get_xdata()), tuple(crosses.get_ydata())) == ((2.0, 3.0), (0.2, 0.3))
    assert crosses.get_marker() == "x"
    assert [text.get_text() for text in ax.get_legend().get_texts()] == ["forward", "excluded run"]
    assert legend_entries(drawing) == 2 and legend_entries(replace(drawing, excluded=())) == 1


def test_a_trend_by_run_has_whole_run_numbers_on_its_axis():
    """Two runs by seq were ticked 1.0, 1.2 … 2.0 under "run (seq)"."""
    from matplotlib.figure import Figure

    drawing = Drawing("Alisson74 · Dirac point by run", "run (seq)", "V_CNP (V)",
                      (Trace(np.array([1.0, 2.0]), np.array([0.1, 0.2]), "forward"),), points=True, integer_x=True)
    ax = Figure().add_subplot()
    draw_axes(ax, drawing)
    ax.figure.canvas.draw()
    assert [tick for tick in ax.get_xticks() if 1 <= tick <= 2] == [1.0, 2.0]
    dated = Figure().add_subplot()
    draw_axes(dated, replace(drawing, sessions=((0.5, "2025-09-08"), (1.5, "2025-09-15"))))
    (top,) = dated.child_axes  # each day's date on an axis above the points, a faint line where it starts
    assert [label.get_text() for label in top.get_xticklabels()] == ["2025-09-08", "2025-09-15"]
    assert len([line for line in dated.get_lines() if str(line.get_gid()).startswith("session-")]) == 2
    # days one run apart among 40 runs: the two dates are not written over each other, both lines stay, and the
    # date written is the day of 19 runs, not the day of one (its 19 runs had read as measured the day before)
    many = Figure().add_subplot()
    draw_axes(many, replace(drawing, traces=(Trace(np.arange(1.0, 41.0), np.zeros(40), "forward"),),
                            sessions=((0.5, "2025-09-08"), (1.5, "2025-10-15"), (20.5, "2025-11-02"))))
    assert [label.get_text() for label in many.child_axes[0].get_xticklabels()] == ["2025-10-15", "2025-11-02"]
    assert len([line for line in many.get_lines() if str(line.get_gid()).startswith("session-")]) == 3


def calibration_spec(wavelengths: list[float | None]) -> PlotSpec:
    """The plot of laser calibrations at these wavelengths, one run each, in history order."""
    x = np.linspace(0.0, 5.0, 11)
    runs = pl.DataFrame({"run_id": [f"{k:016x}" for k in range(len(wavelengths))],
                         "seq": range(1, len(wavelengths) + 1), "laser_wavelength_nm": wavelengths},
                        schema_overrides={"laser_wavelength_nm": pl.Float64})
    columns = tuple({"vl_v": x, "power_w": x * 1e-6 * (k + 1)} for k in range(len(wavelengths)))
    group = LoadedGroup("LaserCalibration", runs, columns, (), kind=KINDS["LaserCalibration"])
    return shape(group, PlotOptions(), DRAW_BUCKETS)


def legend_looks(ax) -> dict[str, tuple[str, str]]:
    legend = ax.get_legend()
    return {text.get_text(): (line.get_color(), line.get_linestyle())
            for text, line in zip(legend.get_texts(), legend.get_lines(), strict=True)}


@pytest.mark.filterwarnings("error")
def test_calibrations_past_the_palette_are_coloured_by_wavelength(tmp_path):
    """A day of 20 calibrations at 10 wavelengths (the real 2025-09-23) was coloured by seq, a colour bar beside it:
    which curve was which λ, the figure no longer said. Past the palette's runs, the runs of one wavelength share a
    look and one legend entry, in λ order (a run without a λ last); past 8 wavelengths, as a trend's (viridis)."""
    from matplotlib.figure import Figure

    wavelengths: list[float | None] = [850.0, 365.0, 455.0, 365.0, 625.0] * 4
    wavelengths[-1] = None
    spec = calibration_spec(wavelengths)
    figure = Figure(layout="constrained")
    ax = figure.add_subplot()
    draw_axes(ax, drawing_of(spec))
    entries = legend_looks(ax)
    assert list(entries) == ["λ=365 nm", "λ=455 nm", "λ=625 nm", "λ=850 nm", "λ=? nm"]
    assert list(entries.values()) == [(color, "-") for color in OKABE_ITO[:5]]
    lines = [line for line in ax.get_lines() if (line.get_gid() or "").startswith("series-")]
    assert [(line.get_color(), line.get_linestyle()) for line in lines] == [
        entries[f"λ={nm:g} nm" if nm else "λ=? nm"] for nm in wavelengths]
    assert not any(axes.get_gid() == "seq-colour-bar" for axes in figure.axes)
    write_figure(spec, tmp_path / "calibrations.png", dpi=30)  # no layout warning
    assert (tmp_path / "calibrations.png").read_bytes()[:4] == b"\x89PNG"

    ax = Figure().add_subplot()
    draw_axes(ax, drawing_of(calibration_spec([365.0 + 50 * (k % 10) for k in range(20)])))
    entries = legend_looks(ax)
    assert len(entries) == 10 and len({color for color, _ in entries.values()}) == 10
    assert not {color for color, _ in entries.values()} & set(OKABE_ITO)


def it_spec(wavelengths: list[float | None]) -> PlotSpec:
    """The plot of It runs at these wavelengths (None: a dark run), one each, in history order."""
    t = np.linspace(0.0, 120.0, 13)
    vl = np.where((t >= 30) & (t < 90), 3.0, 0.0)
    runs = pl.DataFrame({"run_id": [f"{k:016x}" for k in range(len(wavelengths))],
                         "seq": range(1, len(wavelengths) + 1), "laser_wavelength_nm": wavelengths,
                         "has_light": [nm is not None for nm in wavelengths], "laser_period_s": 120.0},
                        schema_overrides={"laser_wavelength_nm": pl.Float64})
    columns = tuple({"t_s": t, "i_a": 1e-6 + 1e-8 * k * (vl if nm else 0 * vl), "vl_v": vl if nm else 0 * vl}
                    for k, nm in enumerate(wavelengths))
    return shape(LoadedGroup("It", runs, columns, (), kind=KINDS["It"]), PlotOptions(), DRAW_BUCKETS)


def test_it_runs_past_the_palette_are_coloured_by_wavelength_and_dark_runs_apart():
    """A chip's 24 It runs at three wavelengths and in the dark were coloured by seq, a colour bar beside them: the
    photoresponse per wavelength, the figure could not show. Past the palette, the runs of one λ share a look and an
    entry, dark runs last; runs all at one λ keep the colour by seq (their drift over the weeks)."""
    from matplotlib.figure import Figure

    wavelengths: list[float | None] = [455.0, 365.0, None, 850.0] * 6
    figure = Figure(layout="constrained")
    ax = figure.add_subplot()
    draw_axes(ax, drawing_of(it_spec(wavelengths)))
    legend = ax.get_legend()
    assert [text.get_text() for text in legend.get_texts()] == ["laser ON", "λ=365 nm", "λ=455 nm", "λ=850 nm",
                                                                "dark"]
    assert [(line.get_color(), line.get_linestyle()) for line in legend.get_lines()] == [
        (color, "-") for color in OKABE_ITO[:4]]
    assert not any(axes.get_gid() == "seq-colour-bar" for axes in figure.axes)

    figure = Figure(layout="constrained")
    draw_axes(figure.add_subplot(), drawing_of(it_spec([455.0] * 24)))
    assert any(axes.get_gid() == "seq-colour-bar" for axes in figure.axes)


def test_calibrations_within_the_palette_keep_an_entry_per_run():
    """Up to 16 runs, each calibration keeps its own look and entry, the λ in its label."""
    from matplotlib.figure import Figure

    ax = Figure().add_subplot()
    draw_axes(ax, drawing_of(calibration_spec([455.0, 365.0, 455.0])))
    assert legend_looks(ax) == {"λ=455 nm, seq 1": (OKABE_ITO[0], "-"), "λ=365 nm, seq 2": (OKABE_ITO[1], "-"),
                                "λ=455 nm, seq 3": (OKABE_ITO[2], "-")}


@pytest.mark.filterwarnings("error")
def test_a_legend_that_cannot_fit_beside_the_axes_is_left_out_and_said():
    """A legend of seven columns beside the axes shrank them to nothing (matplotlib warned on stderr). Two columns
    fit; beyond, no legend, and `labtui plot` says why. (Runs that many are coloured by seq: a trend's series.)"""
    from matplotlib.figure import Figure

    x = np.linspace(0.0, 1.0, 5)
    series = tuple(Series(f"{k} nm", x, x * k, f"r{k}", k, run_index=k) for k in range(LEGEND_MAX + 1))
    spec = PlotSpec("trend", "trend", "P", "W", "ΔI", "A", False, series, (), (), (), (), pl.DataFrame(), points=True)
    fits = replace(spec, series=series[:LEGEND_MAX])
    ax = Figure().add_subplot()
    draw_axes(ax, drawing_of(fits))
    assert ax.get_legend()._ncols == 2 and legend_left_out(fits) == []
    ax = Figure().add_subplot()
    draw_axes(ax, drawing_of(spec))
    assert ax.get_legend() is None
    assert legend_left_out(spec) == [f"no legend: its {LEGEND_MAX + 1} entries do not fit beside the axes (the "
                                     "title counts the runs)"]
    assert render(drawing_of(spec), "png", dpi=30)[:4] == b"\x89PNG"  # no layout warning


def test_twenty_overlaid_runs_of_85k_points_keep_their_extremes(tmp_path):
    t = np.arange(85_000) * 0.01
    rng = np.random.default_rng(0)
    columns = []
    for k in range(20):
        i = 1e-6 + 1e-9 * rng.standard_normal(t.size) + 1e-8 * k
        i[1000 + 3000 * k] += 5e-8  # one-sample spike: striding would drop it
        columns.append({"t_s": t, "i_a": i, "vl_v": np.where((t > 200) & (t < 500), 3.0, 0.0)})
    runs = pl.DataFrame({"run_id": [f"{k:016x}" for k in range(20)], "seq": range(1, 21), "chip_name": "Alisson67",
                         "laser_voltage_v": [float(k) for k in range(20)], "has_light": True})
    group = LoadedGroup("It", runs, tuple(columns), (), kind=KINDS["It"])
    drawn, full = shape(group, PlotOptions(), DRAW_BUCKETS), shape(group, PlotOptions(), None)
    assert all(s.x.size <= 2 * DRAW_BUCKETS for s in drawn.series) and full.series[0].x.size == 85_000
    assert [float(s.y.max()) for s in drawn.series] == [float(s.y.max()) for s in full.series]
    root = ET.fromstring(render(drawing_of(drawn), "svg"))
    assert len([g for g in root.iter(f"{SVG}g") if (g.get("id") or "").startswith("series-")]) == 20
    assert series_style(0, 1) != series_style(8, 1)  # past the 8 colours, the dash tells runs apart
    assert root.find(f".//{SVG}g[@id='seq-colour-bar']") is not None  # past 16 runs, the colour is the seq's


# -- errors -------------------------------------------------------------------------------------------------------
def test_the_extension_names_the_type(tmp_path):
    assert [figure_format(Path(f"a.{ext}")) for ext in ("pdf", "SVG", "png")] == ["pdf", "svg", "png"]
    for bad in ("fig.jpg", "fig"):
        with pytest.raises(UsageError, match=r"use \.pdf, \.svg or \.png"):
            figure_format(Path(bad))


def test_an_unwritable_path_is_a_usage_error_and_leaves_nothing(lab, tmp_path):
    (tmp_path / "notes.txt").write_text("a file, not a folder", encoding="utf-8")
    with pytest.raises(UsageError, match=r"cannot write the figure .*notes.txt/x.pdf: .*notes.txt is not a folder"):
        write_figure(spec_of(lab, [1]), tmp_path / "notes.txt" / "x.pdf")
    assert [path.name for path in tmp_path.iterdir()] == ["notes.txt"]


def test_a_failed_render_leaves_no_file(lab, tmp_path, monkeypatch):
    import matplotlib.figure

    def broken(*args, **kwargs):
        raise RuntimeError("renderer failed")

    path = tmp_path / "x.pdf"
    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", broken)
    with pytest.raises(RuntimeError):
        write_figure(spec_of(lab, [1]), path)
    assert list(tmp_path.iterdir()) == []


# -- the renderer process -------------------------------------------------------------------------------------------
def test_the_renderer_process_draws_what_this_process_draws(lab):
    drawing = drawing_of(spec_of(lab, [4], PlotOptions(log_y=True)))  # PDF: the command line tests below
    with Renderer("png") as renderer:
        process = renderer._process
        assert renderer.render(drawing, "png", dpi=100) == render(drawing, "png", dpi=100)
    assert process.returncode == 0  # it exits once its figure is sent, and is reaped


@pytest.mark.parametrize("python", ["/nonexistent/python", "false"], ids=["no interpreter", "it exits at once"])
def test_a_renderer_that_cannot_start_leaves_the_drawing_to_this_process(lab, monkeypatch, python):
    monkeypatch.setattr(sys, "executable", shutil.which(python) or python)
    drawing = drawing_of(spec_of(lab, [1]))
    with Renderer("pdf") as renderer:
        assert renderer.render(drawing, "pdf", dpi=300) == render(drawing, "pdf")
        assert renderer._process is None  # reaped


def test_leaving_the_renderer_on_an_error_kills_and_reaps_its_process():
    with pytest.raises(KeyboardInterrupt), Renderer("pdf") as renderer:
        process = renderer._process
        raise KeyboardInterrupt  # as a Ctrl+C while the command reads the data
    assert process.returncode == -signal.SIGKILL


def test_a_renderer_process_only_where_it_saves_time(monkeypatch):
    monkeypatch.delitem(sys.modules, "matplotlib", raising=False)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1}, raising=False)
    assert worth_a_process()
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0})  # one core: it would only add its start-up
    assert not worth_a_process()
    monkeypatch.setitem(sys.modules, "matplotlib", object())  # this process draws sooner than a new one imports
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1})
    assert not worth_a_process()


CORES = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
two_cores = pytest.mark.skipif(CORES < 2, reason="on one core the command draws itself (`worth_a_process`)")


def plot_command(lab: Lab, out: Path, *args: str) -> list[str]:
    return lab.command("plot", "67", "--seq", "1-3", *args, "--out", str(out))


@two_cores
@pytest.mark.parametrize("crash_at", [None, "renderer_start"], ids=["renderer process", "it cannot start"])
def test_the_command_draws_in_a_renderer_process_or_itself(lab, tmp_path, crash_at):
    out = tmp_path / "its.pdf"
    command = plot_command(lab, out)
    done = subprocess.run([command[0], "-X", "importtime", *command[1:]], env=cli_env(crash_at), capture_output=True,
                          text=True, check=True)
    assert out.read_bytes() == render(drawing_of(spec_of(lab, [1, 2, 3])), "pdf")
    assert ("| matplotlib.figure" in done.stderr) is (crash_at is not None)  # the command's own imports


@two_cores
def test_a_renderer_that_dies_while_drawing_leaves_one_line_and_no_file(lab, tmp_path):
    done = subprocess.run(plot_command(lab, tmp_path / "its.pdf"), env=cli_env("renderer_draw"), capture_output=True,
                          text=True, check=False)
    assert (done.returncode, done.stderr) == (1, f"labtui: {RendererFailed(86)}\n")
    assert "exit status 86" in done.stderr and list(tmp_path.iterdir()) == []
    assert str(RendererFailed(-signal.SIGKILL)).startswith("the figure renderer was killed by SIGKILL before")


@two_cores
@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="finds the renderer through Linux's /proc")
def test_ctrl_c_leaves_no_renderer_process(lab, tmp_path):
    command = subprocess.Popen(plot_command(lab, tmp_path / "its.pdf"), env=cli_env(), stderr=subprocess.PIPE,
                               text=True)
    children = Path(f"/proc/{command.pid}/task/{command.pid}/children")
    deadline = time.monotonic() + 30
    while not children.read_text().split() and time.monotonic() < deadline:  # started first thing
        time.sleep(0.005)
    (renderer,) = children.read_text().split()
    command.send_signal(signal.SIGINT)
    # having said so, the process ends with 130 or, in ~5 % of Ctrl+Cs at random moments, by the SIGINT itself after
    # its message: when the KeyboardInterrupt lands inside a library's nested `PyRun_*` call, CPython sets its
    # "unhandled KeyboardInterrupt" flag (seen through ctypes: 6 of 120), and only `python -m` consults that flag at
    # exit (the `labtui` script exits with 130); a shell shows 130 either way
    assert command.wait(timeout=30) in (130, -signal.SIGINT) and command.stderr.read() == "labtui: interrupted\n"
    assert not Path(f"/proc/{renderer}").exists() and list(tmp_path.iterdir()) == []


# -- choosing the runs --------------------------------------------------------------------------------------------
def test_parse_seqs():
    assert parse_seqs("4-7") == [4, 5, 6, 7]
    assert parse_seqs("1,8,13") == [1, 8, 13]
    assert parse_seqs("1-3, 9,2") == [1, 2, 3, 9]
    assert parse_seqs("4 - 6,5") == [4, 5, 6]
    for bad in ("x", "7-4", "0", "1,,2", "-3", "٣", "4-", "1-1000001", "9" * 5000):
        with pytest.raises(UsageError, match="not a seq list") as refused:
            parse_seqs(bad)
        assert len(str(refused.value)) < 200  # 5000 digits quoted cut short, not the cap 9223372036854775808
    assert str(refused.value) == ("not a seq list: '9999999999999999999999999999999999999999'… (5,000 characters) "
                                  "(seq 99999999999999999999… (5,000 characters) is beyond any history)")
    assert missing_seqs([3, 1], 5) is None and missing_seqs([6, 1, 9], 5) == "6, 9"
    started = time.perf_counter()
    assert missing_seqs(parse_seqs("1-1000000"), 61) == "62, 63, 64, 65, 66, 67, 68, 69, 70, 71, … (999939 in all)"
    assert time.perf_counter() - started < 5  # a typo's range is spelt out once, not compared with itself


def test_chip_runs_and_their_errors(lab):
    manifest, tz = lab.manifest(), lab.config.local_tz
    assert chip_runs(manifest, 67, "alisson", [3, 1], tz=tz)["seq"].to_list() == [1, 3]
    with pytest.raises(UsageError, match=r"chip Alisson67 has no run seq 9, 12 \(its history has seq 1–5\)"):
        chip_runs(manifest, 67, None, [1, 9, 12], tz=tz)
    with pytest.raises(UsageError, match="no runs of chip number 99"):
        chip_runs(manifest, 99, None, None, tz=tz)
    runs = chip_runs(manifest, 67, None, None, tz=tz)
    with pytest.raises(UsageError, match=r"mix procedures: It \(3\), IVg \(1\), IV \(1\); choose one with --proc"):
        one_procedure(runs, None)
    assert one_procedure(runs, "ivg")[1]["seq"].to_list() == [4]
    with pytest.raises(UsageError, match="unknown procedure"):
        one_procedure(runs, "Nope")
    calibrations = calibration_runs(manifest, dt.date(2025, 10, 13), tz=tz)
    assert calibrations["proc"].to_list() == ["LaserCalibration"] and "date_local" in calibrations.columns
    with pytest.raises(UsageError, match="no calibration runs on 2025-10-14"):
        calibration_runs(manifest, dt.date(2025, 10, 14), tz=tz)


def test_the_record_redraws_and_notices_changed_or_missing_runs(lab, tmp_path):
    manifest, tz = lab.manifest(), lab.config.local_tz
    runs = chip_runs(manifest, 67, None, [1, 2, 3], tz=tz)
    options = PlotOptions(baseline="fixed", baseline_time_s=20.0, log_y=True)
    path, record_bytes = figure_record(tmp_path / "its.pdf", runs, options)
    path.write_bytes(record_bytes)
    assert path == sidecar_path(tmp_path / "its.pdf") == tmp_path / "its.pdf.json"
    record = FigureRecord.read(path)
    assert record.options == options and record.run_ids == tuple(runs["run_id"])
    again, notes = record.check(manifest, tz=tz, metrics="m")
    assert again["run_id"].to_list() == list(record.run_ids) and notes == []
    document = json.loads(path.read_text(encoding="utf-8"))
    assert document["runs"][0]["seq"] == 1 and len(document["runs"][0]["source_sha256"]) == 64
    restaged = manifest.with_columns(
        source_sha256=pl.when(pl.col("run_id") == runs["run_id"][1]).then(pl.lit("0" * 64))
        .otherwise(pl.col("source_sha256"))
    ).filter(pl.col("run_id") != runs["run_id"][2])
    again, notes = record.check(restaged, tz=tz, metrics="m")
    assert again.height == 2
    assert notes == [
        f"run {runs['run_id'][2]} is no longer in the store",
        f"seq 2 (run {runs['run_id'][1]}) has changed since the figure was made (re-staged from other data)",
    ]
    old, source = runs["run_id"][2], runs["source_file"][2]  # its file's start time edited: staged as another run
    moved = manifest.with_columns(run_id=pl.when(pl.col("run_id") == old).then(pl.lit("abcdef0123456789"))
                                  .otherwise(pl.col("run_id")))
    again, notes = record.check(moved, tz=tz, metrics="m")  # was "no longer in the store", and drawn without it
    assert again["run_id"].to_list() == [*runs["run_id"][:2], "abcdef0123456789"]
    assert notes == [f"run {old} was staged again as run abcdef0123456789 (its file {source} changed its start "
                     "time): drawn as that run"]
    with pytest.raises(UsageError, match="none of the figure's 3 run"):
        record.check(manifest.clear(), tz=tz, metrics="m")
    (tmp_path / "bad.json").write_text("{}", encoding="utf-8")
    with pytest.raises(UsageError, match="is not a labtui figure record"):
        FigureRecord.read(tmp_path / "bad.json")
    with pytest.raises(UsageError, match="cannot read the figure record"):
        FigureRecord.read(tmp_path / "gone.json")
    (tmp_path / "f.pdf").write_bytes(b"%PDF-1.4\n\xac\xff binary")  # the figure given for its record
    (tmp_path / "f.pdf.json").write_text("{}", encoding="utf-8")
    with pytest.raises(UsageError, match=f"^{tmp_path / 'f.pdf'} is a figure, not its record: give "
                                         f"{tmp_path / 'f.pdf.json'}$"):
        FigureRecord.read(tmp_path / "f.pdf")
    written = json.loads(record.to_json(tmp_path / "f.pdf", runs))
    for key, value, why in (("runs", [{**written["runs"][0], "run_id": 5}], "a text run_id"),
                            ("runs", {"run_id": "x"}, "a list of runs"), ("options", [], "not a mapping"),
                            ("runs", [], "it names no runs"),
                            *(("runs", [{**written["runs"][0], "place": place}], "places are not whole numbers")
                              for place in (-1, 1.5, True)),
                            ("labtui_figure", 99, "format 99, and this labtui reads")):
        (tmp_path / "edited.json").write_text(json.dumps({**written, key: value}), encoding="utf-8")
        with pytest.raises(UsageError, match=why):  # hand-edited: a sentence, not a Polars type error
            FigureRecord.read(tmp_path / "edited.json")
    for document, why in (([written], "not the JSON object labtui writes"),
                          ({k: v for k, v in written.items() if k != "options"}, "no 'options'")):
        (tmp_path / "edited.json").write_text(json.dumps(document), encoding="utf-8")
        with pytest.raises(UsageError, match=why):  # not an AttributeError's or a KeyError's own words
            FigureRecord.read(tmp_path / "edited.json")


def test_options_change_the_spec_the_figure_draws(lab):
    spec = spec_of(lab, [4], PlotOptions(gm=True))
    assert (spec.y_label, spec.y_unit[-1], spec.markers) == ("gm", "S", ())
    raw = spec_of(lab, [1], replace(PlotOptions(), baseline="raw"))
    assert raw.y_label == "I" and raw.spans


# -- the real lab's figures ---------------------------------------------------------------------------------------
def real_spec(config, chip: int, seqs: list[int], options: PlotOptions | None = None) -> PlotSpec:
    """Chip `chip` (Alisson) of the real lab's files, shaped as `labtui plot` shapes it."""
    manifest = pl.read_parquet(config.manifest_path)
    proc, runs = one_procedure(chip_runs(manifest, chip, "Alisson", seqs, tz=config.local_tz), None)
    return shape(load_group(proc, runs, config.stage_root), options or PlotOptions(), DRAW_BUCKETS, config.metrics)


def test_a_negative_number_in_the_title_and_legend_has_the_ticks_minus_sign(real_store):
    """Chip 67's lit It runs at VG = −0.4 V (seq 3 and 7), and a leg of a sweep from 0 to −5 V: a number's sign is
    the minus of the tick labels (−0.4), not a hyphen (-0.4); a date's hyphens stay."""
    from matplotlib.figure import Figure

    ax = Figure().add_subplot()
    draw_axes(ax, drawing_of(real_spec(real_store, 67, [3, 7])))
    assert "VG=\u22120.4\u00a0V" in ax.get_title() and "-" not in ax.get_title()  # its space a no-break one
    sweep = real_spec(real_store, 67, [1])
    one_leg = drawing_of(replace(sweep, series=(replace(sweep.series[0], run_label=""),), markers=()))
    assert legend_of(one_leg) == ["seq 1 0→\u22125 V"]
    dates = Drawing("Alisson67 · 2025-10-18", "time since 2025-10-15 (h)", "I (nA)", one_leg.traces)
    ax = Figure().add_subplot()
    draw_axes(ax, dates)
    assert (ax.get_title(), ax.get_xlabel()) == ("Alisson67 · 2025-10-18", "time since 2025-10-15 (h)")


def test_a_wrapped_title_keeps_a_number_with_its_unit_and_seq_with_its_numbers():
    """At a column's width a long title broke between `seq` and `7–68` (and could between `365` and `nm`):
    matplotlib wraps at plain spaces, and the title binds those with no-break ones."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    title = "Alisson68 · It · VL=1.25 V · λ=365 nm · VG=-0.4 V · VDS=0.1 V · 47 runs, seq 7–68"  # broke at seq
    trace = Trace(np.arange(3.0), np.arange(3.0), "a")
    figure = Figure(figsize=COLUMN_IN)
    ax = figure.add_subplot()
    draw_axes(ax, Drawing(title, "t (s)", "I (nA)", (trace,), column=True))
    ax.title._renderer = FigureCanvasAgg(figure).get_renderer()  # as drawing sets it: where its lines wrap
    lines = ax.title._get_wrapped_text().split("\n")
    assert len(lines) > 1 and not any(line.rstrip().endswith(("seq", "1.25", "365", "47")) for line in lines)
    assert "seq\u00a07–68" in lines[-1] and "365\u00a0nm" in ax.get_title()


@pytest.mark.parametrize("fmt", ["png", "svg", "pdf"])
def test_a_dollar_sign_is_a_dollar_sign_and_v_cnp_has_its_subscript(fmt):
    """A chip group `a$\\frac{$b` ended the figure in a traceback (matplotlib read a formula between two `$`), and
    `Ali$son$67` set `son` in italics; the Dirac point's axis read `V_CNP` with an underscore."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    drawing = Drawing("a$\\frac{$b67 · Ali$son$67", "Vg − V_CNP", "V_CNP", (Trace(np.arange(3.0), np.arange(3.0),
                                                                                   "x$^$ seq 1"),))
    assert render(drawing, fmt)  # drawn, no traceback
    figure = Figure()
    ax = figure.add_subplot()
    draw_axes(ax, drawing)
    FigureCanvasAgg(figure).draw()
    assert "a\\$\\frac{\\$b67" in ax.get_title() and "Ali\\$son\\$67" in ax.get_title()
    assert legend_of(drawing) == ["x\\$^\\$ seq 1"]
    assert ax.get_ylabel() == "V$_\\mathregular{CNP}$" and ax.get_xlabel() == "Vg − V$_\\mathregular{CNP}$"


def real_plot(config, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`labtui plot` on the real lab's store."""
    store = ["--raw-root", str(config.raw_root), "--stage-root", str(config.stage_root),
             "--derived-root", str(config.metrics_path.parent)]
    return subprocess.run([sys.executable, "-m", "labtui", "plot", *store, *args], cwd=tmp_path, env=cli_env(),
                          capture_output=True, text=True, timeout=120, check=False)


def test_a_legend_inside_the_axes_never_hides_a_curve() -> None:
    """matplotlib's `best` place is the one with the fewest points under it, not none: three It curves that fill
    the plot ran under a column figure's legend. It goes below a column figure, beside a full one; where a corner is
    free, it stays inside."""
    from matplotlib.figure import Figure

    t = np.linspace(0, 180, 500)
    filling = tuple(Trace(t, np.sin(t / 9 + k) + 0.3 * k, f"VL={k} V, P={k}.5 µW (stale cal.)") for k in range(3))
    free = tuple(Trace(t, t / 180 * (k + 1), f"run {k}") for k in range(3))  # the upper left corner is empty
    for column in (True, False):
        figure = Figure(figsize=figure_size(Drawing("It", "t (s)", "ΔI (µA)", filling, column=column)))
        ax = figure.add_subplot()
        draw_axes(ax, Drawing("It", "t (s)", "ΔI (µA)", filling, column=column))
        assert (ax.get_legend() is None) == column and (len(figure.legends) == 1) == column
        if not column:  # beside the axes: anchored outside them
            assert ax.get_legend().get_bbox_to_anchor().transformed(ax.transAxes.inverted()).x0 > 1
        ax = Figure().add_subplot()
        draw_axes(ax, Drawing("It", "t (s)", "ΔI (µA)", free, column=column))
        assert ax.get_legend() is not None and ax.get_legend()._loc == 0  # `best`, inside


def test_a_page_figures_legend_of_long_labels_goes_below_its_axes() -> None:
    """A log–log trend's 23 series named by λ, VG, period and α, beside the axes, left the plot a third of the page
    and ran off its foot: below the axes, in one column where two do not fit, the figure grown by its rows. Short
    labels stay beside."""
    from matplotlib.figure import Figure

    long_ones = tuple(Trace(np.arange(3.0), np.arange(3.0) + k, f"{365 + 40 * k} nm, VG={k - 5} V, period 120 s, "
                            f"R < 0: α = 0.6{k} ± 0.05 (4 runs)") for k in range(12))
    short_ones = tuple(replace(trace, label=f"{365 + 40 * k} nm") for k, trace in enumerate(long_ones))
    for traces, below in ((long_ones, True), (short_ones, False)):
        drawing = Drawing("Alisson76 · responsivity against power", "P (µW)", "|R| (mA/W)", traces, points=True)
        figure = Figure(figsize=figure_size(drawing), layout="constrained")
        ax = figure.add_subplot()
        draw_axes(ax, drawing)
        assert (len(figure.legends) == 1) == below and (ax.get_legend() is None) == below
        width, height = figure.get_size_inches()
        assert width == SIZE_IN[0]
        assert height == (pytest.approx(SIZE_IN[1] + 12 * PAGE_LEGEND_ROW_IN + 0.05) if below else SIZE_IN[1])
    figure.savefig(io.BytesIO(), format="png")  # laid out: the plot keeps most of the page's width
    assert ax.get_position().width > 0.6


def test_a_column_figure_is_a_journal_column_wide_with_its_long_legend_below(real_store, tmp_path):
    """`--column`: chip 79's 15 sweeps (19 legend entries) at a two-column journal's column width, 3.4 in, the
    legend below the plot (beside it, it left the plot a third of the width and ran off the page) and nothing cut
    at the edges; `--from` redraws it at that size. A figure of 6.4 in shrunk to a column has 4.8 pt text."""
    import re

    from matplotlib.image import imread

    done = real_plot(real_store, tmp_path, "79", "--proc", "IVg", "--column", "--out", "col.pdf")
    assert done.returncode == 0, done.stderr
    box = re.search(rb"/MediaBox \[ *0 0 ([\d.]+) ([\d.]+)", (tmp_path / "col.pdf").read_bytes())
    width, height = map(float, box.groups())
    assert width == pytest.approx(3.4 * 72)
    assert height > (2.6 + 9 * 0.125) * 72  # the plot's height, and the legend's 10 rows below it
    assert json.loads((tmp_path / "col.pdf.json").read_text())["column"] is True
    done = real_plot(real_store, tmp_path, "--from", "col.pdf.json", "--out", "again.png")
    assert done.returncode == 0, done.stderr
    pixels = imread(tmp_path / "again.png")[..., :3]
    assert pixels.shape[1] == 1020 and pixels.shape[0] == round(height / 72 * 300)
    ink = pixels.min(axis=-1) < 0.5
    assert ink[-round(0.5 * 300):].any()  # the legend's last rows, in the figure's last half inch
    assert not (ink[:3].any() or ink[-3:].any() or ink[:, :3].any() or ink[:, -3:].any())  # nothing at the edges
    done = real_plot(real_store, tmp_path, "67", "--seq", "3,7,9,13", "--column", "--out", "its.png")
    assert done.returncode == 0, done.stderr
    # a legend of 5 sat in the plot over the ΔI curves (at matplotlib's `best`): below it, in one column
    assert imread(tmp_path / "its.png").shape[:2] == (round((COLUMN_IN[1] + 5 * COLUMN_LEGEND_ROW_IN + 0.05) * 300),
                                                        1020)
    # one of 8 (a dark trend's gate voltages) hid a third of a column's points: below the plot, as a longer one
    series = tuple(Trace(np.arange(3.0), np.arange(3.0) + k, f"VG={k} V") for k in range(8))
    eight = Drawing("Alisson71 · dark current by run", "run (seq)", "I dark (nA)", series, points=True, column=True)
    assert figure_size(eight)[1] > COLUMN_IN[1] and figure_size(replace(eight, traces=series[:6]))[1] == COLUMN_IN[1]


def test_each_dirac_point_is_edged_in_its_runs_colour():
    """All black, the diamonds of an overlay said nothing of whose each was."""
    from matplotlib.colors import to_rgba
    from matplotlib.figure import Figure

    x = np.linspace(-1, 1, 5)
    drawing = Drawing("Alisson81 · IVg", "Vg (V)", "I (µA)", tuple(
        Trace(x, x * (k + 1), f"seq {k} leg {d}", k, d, f"seq {k}") for k in range(3) for d in (1, -1)),
        dirac_points=((0.1, 0.2), (0.3, 0.4), (-0.2, 0.1)), dirac_runs=(2, 0, 2))
    ax = Figure().add_subplot()
    draw_axes(ax, drawing)
    forward = {k: to_rgba(line.get_color()) for k, line in enumerate(
        line for line in ax.get_lines() if str(line.get_gid()).startswith("series-") and line.get_linestyle() == "-")}
    (diamonds,) = [c for c in ax.collections if c.get_gid() == "dirac-points"]
    assert [tuple(edge) for edge in diamonds.get_edgecolors()] == [forward[2], forward[0], forward[2]]


def test_a_trend_against_time_writes_dates_on_its_axis():
    """"time since 2025-09-08, America/Santiago (d)" left a referee counting days from a date in the axis title."""
    from matplotlib.figure import Figure

    days = Drawing("Alisson81 · Dirac point against time", "time since 2025-09-08, America/Santiago (d)",
                   "V_CNP (V)", (Trace(np.array([0.6, 17.5, 45.2]), np.array([0.3, -0.3, 0.4]), "CNP forward"),),
                   points=True, dates_from=("2025-09-08", "America/Santiago", "d"))
    figure = Figure(layout="constrained")
    ax = figure.add_subplot()
    draw_axes(ax, days)
    figure.draw_without_rendering()
    low, high = ax.get_xlim()
    shown = [(tick, label.get_text()) for tick, label in zip(ax.get_xticks(), ax.get_xticklabels(), strict=True)
             if low <= tick <= high]
    assert len(shown) >= 3 and all(tick == int(tick) for tick, _ in shown)  # at midnights
    assert [text for _, text in shown] == [str(dt.date(2025, 9, 8) + dt.timedelta(days=int(tick))) for tick, _ in shown]
    assert ax.get_xlabel() == "date (America/Santiago)"
    hours = Figure().add_subplot()
    draw_axes(hours, replace(days, dates_from=("2025-10-21", "UTC", "h"),
                             traces=(Trace(np.array([9.5, 14.0, 30.0]), np.array([0.3, -0.3, 0.4]), "CNP"),)))
    hours.figure.draw_without_rendering()
    shown = [label.get_text() for label in hours.get_xticklabels() if label.get_text()]
    assert "10-22 00:00" in shown and hours.get_xlabel() == "local time (UTC)"


def test_a_trends_dates_are_spaced_on_its_axes_as_laid_out_beside_its_legend():
    """The dates were spaced by the axes' width before the layout: a legend beside the axes then narrowed them, and
    dates that had just cleared each other were written over each other."""
    from matplotlib.figure import Figure

    from labtui.core.drawing_axes import SESSION_LABEL_GAP_IN

    traces = tuple(Trace(np.arange(1.0, 61.0), np.full(60, float(k)), f"λ={400 + 10 * k} nm, a long label")
                   for k in range(12))  # too many entries to sit inside the axes: the legend goes beside them
    sessions = tuple((0.5 + 3 * k, f"2025-10-{k + 1:02d}") for k in range(20))
    figure = Figure(figsize=(6.4, 4.8), layout="constrained")
    ax = figure.add_subplot()
    draw_axes(ax, Drawing("Alisson67 · trend by run", "run (seq)", "ΔI (A)", traces, points=True, integer_x=True,
                          sessions=sessions))
    figure.draw_without_rendering()
    assert ax.get_legend() is not None and ax.get_legend().get_bbox_to_anchor().x0 > ax.bbox.x1 - 1  # beside
    (top,) = ax.child_axes
    written = [tick for tick, label in zip(top.get_xticks(), top.get_xticklabels(), strict=True) if label.get_text()]
    inches = np.diff(ax.transData.transform([(x, 0.0) for x in written])[:, 0]) / figure.dpi
    assert len(written) >= 2 and inches.min() >= SESSION_LABEL_GAP_IN - 1e-9, inches


def test_a_trends_dates_leave_its_y_label_on_the_figure() -> None:
    """Laid out once to space the dates, a column figure's y label was then saved half off its left edge."""
    import matplotlib
    from matplotlib.figure import Figure

    from labtui.core import drawing as drawing_module

    drawing = Drawing("Alisson81 · Dirac point by run", "run (seq)", "V_CNP (V)",
                      (Trace(np.arange(1.0, 59.0), np.linspace(-0.4, 0.8, 58), "CNP forward"),), points=True,
                      integer_x=True, column=True, sessions=((0.5, "2025-09-08"), (1.5, "2025-09-25"),
                                                             (36.5, "2025-10-21"), (46.5, "2025-10-23")))
    with matplotlib.rc_context({**drawing_module._RC, **drawing_module._COLUMN_RC}):  # as `render` draws it
        figure = Figure(figsize=figure_size(drawing), layout="constrained")
        ax = figure.add_subplot()
        draw_axes(ax, drawing)
        figure.savefig(io.BytesIO(), format="png")
        assert ax.yaxis.label.get_window_extent().x0 >= 0
