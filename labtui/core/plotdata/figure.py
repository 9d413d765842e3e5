"""Figures for reports and papers: a `PlotSpec` as the `Drawing` that `labtui.core.drawing` renders, written
atomically.

The figure draws the same spec the terminal plot draws, so what the user saw is what they export. `labtui plot`
hands the drawing to a renderer process it started ahead (`labtui.core.renderer`); the app's `e` renders here.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import polars as pl

from labtui.core.atomic import check_replaceable, replace_all, temp_stem
from labtui.core.drawing import LEGEND_MAX, PNG_DPI, Drawing, Trace, legend_entries, render
from labtui.core.errors import OperationFailed, UsageError
from labtui.core.export import UTC_TEXT, spreadsheet_safe
from labtui.core.plotdata.export import export_frame
from labtui.core.plotdata.model import DOUBTED_LABEL, EXCLUDED_LABEL, PlotSpec
from labtui.core.plotdata.view import plot_title
from labtui.core.renderer import figure_format

TYPE_CHECKING = False
if TYPE_CHECKING:
    from labtui.core.renderer import Renderer

# Points per series kept for drawing (min/max per bucket): beyond what 300 dpi across the axes can show.
DRAW_BUCKETS = 2000


def drawing_of(spec: PlotSpec, *, column: bool = False) -> Drawing:
    """What the figure of `spec` shows, at a journal column's size if `column`. Shape the spec with
    `width=DRAW_BUCKETS` (the CSV export uses `width=None`)."""
    runs = {s.run_id: s.run_index for s in spec.series}
    return Drawing(
        title=plot_title(spec),
        x_title=spec.x_title,
        y_title=spec.y_title,
        # a fitted series' entry says its α (`405 nm: α = 0.62 ± 0.05 (6 runs)`), the legend's title what α is of
        traces=tuple(Trace(s.x, s.y, f"{s.label}: {s.fit_note}" if s.fit else s.label, s.run_index, s.direction,
                           s.run_label, s.breaks, s.seq, s.group, s.group_index, s.excluded, hollow=s.sign < 0,
                           fit_line=s.fit.line() if s.fit else None) for s in spec.series),
        dirac_points=tuple((marker.x, marker.y) for marker in spec.markers),
        dirac_runs=tuple(runs.get(marker.run_id, 0) for marker in spec.markers),
        doubted=spec.doubted,
        doubted_label=DOUBTED_LABEL,
        excluded=spec.excluded,
        excluded_label=EXCLUDED_LABEL,
        integer_x=spec.integer_x,
        sessions=spec.sessions,
        dates_from=(*spec.dates_from, spec.x_unit) if spec.dates_from else (),
        laser_on=spec.spans,
        log_y=spec.log_y,
        log_x=spec.log_x,
        legend_title=spec.fit_law,
        points=spec.points,
        joined=spec.joined,
        column=column,
    )


def legend_left_out(spec: PlotSpec) -> list[str]:
    """The line `labtui plot` says when the figure of `spec` has no legend (more entries than fit beside the axes)."""
    entries = legend_entries(drawing_of(spec))
    if entries <= LEGEND_MAX:
        return []
    return [f"no legend: its {entries} entries do not fit beside the axes (the title counts the runs)"]


def write_figure(spec: PlotSpec, path: Path, *, dpi: int = PNG_DPI, renderer: Renderer | None = None,
                 column: bool = False, beside: Sequence[tuple[Path, bytes]] = ()) -> None:
    """Render (in `renderer`'s process when given; a journal column's size if `column`) and write atomically: a
    failure leaves no partial file; a path whose folder is a file is a usage error, an operating-system error (a full
    disk) one of its own. `beside`: files written with it, all or none (its record, `selection.figure_record`;
    its points, `points_csv`): the figure was written, then its record failed (exit 74), and a figure was left
    without its record, or beside the record of the one before."""
    _check_folder(path)
    drawing, fmt = drawing_of(spec, column=column), figure_format(path)
    data = renderer.render(drawing, fmt, dpi=dpi) if renderer is not None else render(drawing, fmt, dpi=dpi)
    write_set([(path, data), *beside])


def points_csv(spec: PlotSpec) -> bytes:
    """Every point of `spec`'s series as CSV (label, x, y, their units), a formula's text made harmless: the figure's
    data, for a paper's supplementary material."""
    frame = export_frame(spec)  # its times as every CSV of labtui writes them (`…Z`, not Polars' `+0000`)
    # x and y to 15 significant digits: scaled to the axis unit, `1.378906e-05` A read `13.789060000000001` µA
    frame = frame.with_columns(pl.col(pl.Datetime).dt.strftime(UTC_TEXT), pl.col("x", "y").round_sig_figs(15))
    return spreadsheet_safe(frame).write_csv().encode("utf-8")


def write_figure_set(full: PlotSpec, paths: Sequence[Path], *, drawn: PlotSpec | None = None,
                     record: tuple[Path, bytes] | None = None) -> None:
    """The app's `e`: the figure as PDF and PNG (`drawn`, downsampled for drawing, when given), the CSV of every
    point of `full` and the figure's `record`, as one set (each was written alone: a failure of the record left
    the new figure beside the last export's record); any failure is one `LabtuiError` line."""
    pdf, png, csv = paths
    _check_folder(pdf)
    drawing = drawing_of(drawn or full)
    write_set([(pdf, render(drawing, "pdf")), (png, render(drawing, "png", dpi=PNG_DPI)), (csv, points_csv(full)),
               *([record] if record is not None else [])])


def _check_folder(path: Path) -> None:
    if path.parent.exists() and not path.parent.is_dir():
        raise UsageError(f"cannot write the figure {path}: {path.parent} is not a folder")


def write_set(files: list[tuple[Path, bytes]]) -> None:
    """Every file of `files` (path, bytes) written, or none: each to a temp file first, then all renamed into place,
    once each can be (a folder of its name, a read-only file: refused before any is written); an error names the
    file it is about (a figure, its record, its points), not its temp file."""
    try:
        if (folder := next((target for target, _ in files if target.is_dir()), None)) is not None:
            raise IsADirectoryError(21, "a folder has its name", str(folder))
        check_replaceable(target for target, _ in files)
        replace_all([target for target, _ in files], lambda paths: [
            temp.write_bytes(content) for temp, (_, content) in zip(paths, files, strict=True)], files[0][0].parent)
    except OSError as error:
        failed = Path(error.filename or files[0][0]).name
        target = next((target for target, _ in sorted(files, key=lambda file: -len(file[0].name))  # the longest
                       if failed == target.name or failed.startswith(f".{temp_stem(target.name)}.")), files[0][0])
        # first: a record's temp name `.f.pdf.json.….tmp` starts with its figure's `.f.pdf.`
        what = {".json": "the figure record", ".csv": "the figure's points"}.get(target.suffix, "the figure")
        raise OperationFailed(f"write {what}", target, error) from None
