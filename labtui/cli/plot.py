"""`labtui plot`: a figure (PDF, SVG or PNG) of a chip's runs, of a day's calibrations, or redrawn from its record.

The engine and matplotlib are imported inside `run`: `labtui --help` and the other commands never load them. `run`
starts the renderer process (`labtui.core.renderer`) before it imports the engine, so matplotlib loads meanwhile.
"""

from __future__ import annotations

import argparse
import os
import sys

from labtui.cli import EXIT_OK, add_chip_arguments, add_command
from labtui.cli.arg_types import NAME_MAX, file_arg, path_arg
from labtui.cli.history import iso_date
from labtui.cli.locate import checked_output, config_from, require_store
from labtui.core.wording import counted

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing, which every start would pay for
if TYPE_CHECKING:
    from pathlib import Path

    import polars as pl

    from labtui.core.config import StagingConfig
    from labtui.core.renderer import Renderer

BASELINES = ("auto", "raw", "first")
# `plotdata.trends.Trend`, not imported here
TRENDS = ("cnp", "hysteresis", "photoresponse", "responsivity", "spectral", "dark")
LOG_LOG_TRENDS = ("photoresponse", "responsivity")  # those against power (`plotdata.trends.against_power`)


def figure_arg(text: str) -> Path:
    """`file_arg`, its example a figure: `labtui plot --out out/` suggested `runs.csv`, a type it refuses."""
    try:
        return file_arg(text)
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a file name (give the figure to write, e.g. fig.pdf)") \
            from None


def points_arg(text: str) -> Path:
    """`--points`: a file name ending in .csv (the points of a figure are a table, whatever the figure's type)."""
    path = file_arg(text)
    if path.suffix.lower() != ".csv":
        raise argparse.ArgumentTypeError(f"{text!r}: the points are written as CSV; name a .csv file")
    return path


def register_plot(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    parser = add_command(
        sub, "plot", common,
        description="Write a figure of runs of one procedure: the same plot as the app's, as vector PDF or SVG, "
                    "or PNG at 300 dpi (the type comes from --out). A record FIGURE.json beside it lets "
                    "`--from` redraw it.",
        examples=(
            "labtui plot 67 --seq 7,9,13 --out its_365nm.pdf",
            "labtui plot 67 --seq 1,8,10 --log --out ivg.svg",
            "labtui plot 67 --proc IVg --align-cnp --out ivg_aligned.pdf",
            "labtui plot 67 --trend cnp --out a67_cnp.pdf",
            "labtui plot 67 --trend photoresponse --log --out a67_dI_vs_P.pdf",
            "labtui plot --calibrations --date 2025-10-21 --out cal.pdf",
            "labtui plot --from its_365nm.pdf.json --out its_365nm.png",
            "labtui plot 67 --seq 7,9,13 --column --out its_column.pdf",
        ),
    )
    what = parser.add_argument_group("which runs")
    add_chip_arguments(what, "chip number or name (e.g. 67 or Alisson67)")
    what.add_argument("--seq", metavar="SEQS", help="runs of the chip's history (with --calibrations: of theirs; "
                      "with --trend: the points of these runs): 4-7, 1,8,13 or 1-3,9 (default: all)")
    what.add_argument("--proc", metavar="PROC", help="keep the runs of this procedure (needed when the runs mix)")
    what.add_argument("--calibrations", action="store_true", help="the setup's laser power calibrations, not a chip")
    what.add_argument("--date", type=iso_date, metavar="YYYY-MM-DD", help="with --calibrations: those of this day")
    what.add_argument("--from", dest="record", type=path_arg, metavar="FIGURE.json",
                      help="redraw the runs and options of an earlier figure (says when a run changed or is gone)")
    what.add_argument("--starred", action="store_true", help="of those, the starred runs only ★ (`labtui annotate`)")
    what.add_argument("--tag", metavar="TAG", help="of those, the runs with this tag only")
    what.add_argument("--include-excluded", action="store_true",
                      help="draw excluded runs too (left out by default, and counted; see `labtui annotate`)")
    view = parser.add_argument_group("view (as the app's plot keys)")
    view.add_argument("--baseline", type=baseline, metavar="auto|raw|first|t=SECONDS",
                      help="It: ΔI against the dark current just before the laser switches on (auto: i_dark_a, "
                           "the mean over it_window_s), the first point, or t=SECONDS; raw plots I (default: auto, "
                           "raw for dark runs)")
    view.add_argument("--log", action="store_true",
                      help="log |y| (every procedure but LaserCalibration; not of gm); with --trend photoresponse or "
                           "responsivity, log–log axes, the points below 0 a series apart, each series' power law "
                           "fitted (α in its legend)")
    view.add_argument("--gm", action="store_true", help="IVg: transconductance gm = dI/dVg per sweep leg")
    view.add_argument("--gm-method", choices=("savgol", "gradient"), help="gm derivative (default: savgol)")
    view.add_argument("--align-cnp", action="store_true",
                      help="IVg: overlay against Vg − each run's forward-leg Dirac point (from the metrics table)")
    trend = parser.add_argument_group("trends of a chip (one point per run, from the metrics table)")
    trend.add_argument("--trend", choices=TRENDS,
                       help="cnp: Dirac point (forward, backward) against time; hysteresis: backward minus "
                            "forward Dirac point against time; photoresponse / responsivity: ΔI or "
                            "ΔI/P against power, per wavelength; spectral: responsivity against wavelength; "
                            "dark: dark current against time")
    trend.add_argument("--by-seq", action="store_true",
                       help="cnp, hysteresis, dark: against the runs' order (seq) instead of time, one step a run: "
                            "sessions weeks apart squeeze each session's runs into one vertical smear on a time axis "
                            "(the line still breaks across a long pause)")
    parser.add_argument("--out", type=figure_arg, required=True, metavar="FILE", help="the figure: .pdf, .svg or .png")
    parser.add_argument("--points", type=points_arg, metavar="FILE.csv",
                        help="also every point of the figure's series (full resolution, as the app's e writes them): "
                             "label, x, y and their units")
    parser.add_argument("--column", action="store_true",
                        help="a journal column's figure: 3.4 in wide, text of 7-8 pt, a long legend below the plot "
                             "(default: 6.4 × 4.2 in, 9 pt)")
    parser.set_defaults(func=run)


def baseline(text: str) -> dict[str, object]:
    """`auto`, `raw`, `first` or `t=SECONDS` → the PlotOptions fields it sets."""
    if text in BASELINES:
        return {"baseline": text}
    if text.startswith("t="):
        from labtui.core.plotdata.model import baseline_time

        if (at := baseline_time(text[2:])) is not None:
            return {"baseline": "fixed", "baseline_time_s": at}
    raise argparse.ArgumentTypeError(f"not a baseline: {text!r} (auto, raw, first or t=SECONDS from the run's start, "
                                     "e.g. t=20)")


def run(args: argparse.Namespace) -> int:
    from labtui.__main__ import tune_native_libraries
    from labtui.core.errors import UsageError
    from labtui.core.renderer import Renderer, figure_format, worth_a_process

    fmt = figure_format(args.out)  # an unknown extension fails before any data is read
    if args.trend is not None:
        check_trend_args(args)
    elif args.by_seq and args.record is None:
        raise UsageError("--by-seq draws a trend against the runs' order: give it with --trend (cnp, hysteresis, dark)")
    sources = (args.number is not None) + args.calibrations + (args.record is not None)
    if sources != 1:
        raise UsageError("give a chip number, --calibrations or --from FIGURE.json (one of them)")
    if args.date is not None and not args.calibrations:
        raise UsageError("--date chooses calibrations: give it with --calibrations (a chip's runs are chosen by --seq)")
    if args.record is not None and (given := [flag for flag, value in (("--seq", args.seq), ("--proc", args.proc),
                                                                       ("--group", args.group), ("--tag", args.tag))
                                              if value is not None]
                                    + ["--starred"] * args.starred
                                    + ["--include-excluded"] * args.include_excluded):  # it drew them, excluded or not
        raise UsageError(f"--from redraws the runs its record names: {', '.join(given)} does not apply")
    if args.calibrations and args.group is not None:
        raise UsageError("calibrations belong to the setup, not to a chip: --group does not apply")
    tune_native_libraries()  # as `labtui` does, for a caller of `main` too: the renderer process inherits it
    # First: the renderer loads matplotlib while this process loads the engine and the data.
    with Renderer(fmt, spawn=worth_a_process()) as renderer:
        return draw(args, renderer)


def draw(args: argparse.Namespace, renderer: Renderer) -> int:
    """Choose and load the runs, shape them as the app's plot does, and write the figure and its record."""
    from dataclasses import replace

    from labtui.cli.history import say_unread_annotations
    from labtui.core.annotations import hidden_note
    from labtui.core.atomic import check_replaceable
    from labtui.core.errors import OperationFailed, UsageError
    from labtui.core.history import load_manifest
    from labtui.core.metrics import read_metrics
    from labtui.core.metrics.definitions import PRICED
    from labtui.core.metrics_stamp import metrics_stamp
    from labtui.core.plotdata.figure import DRAW_BUCKETS, legend_left_out, points_csv, write_figure
    from labtui.core.plotdata.load import load_group
    from labtui.core.plotdata.selection import (
        FigureRecord,
        as_recorded,
        calibration_runs,
        chip_runs,
        draws_derived,
        excluded_drawn,
        figure_record,
        marked_runs,
        one_procedure,
        sidecar_path,
        without_excluded,
    )
    from labtui.core.plotdata.shape import shape
    from labtui.core.plotdata.trends import trend_record, with_plotted_quantities
    from labtui.core.plotdata.view import default_options
    from labtui.core.registry import proc_family
    from labtui.core.seqs import parse_seqs

    config = require_store(config_from(args))
    if args.points is not None:  # checked as --out is: never over a lab file, a link's target written
        args.points = checked_output(config, args.points, args.config)
    if len(os.fsencode((sidecar := sidecar_path(args.out)).name)) > NAME_MAX:  # the figure's is allowed, not its
        raise UsageError(f"cannot write the figure record beside {args.out}: its name, with .json, is past the "
                         f"{NAME_MAX} bytes a file name holds: give --out a shorter name")
    if sidecar.is_dir():  # found before the figure is written, not after
        raise UsageError(f"cannot write the figure record {sidecar}: a folder has its name")
    try:  # nor a record that cannot be replaced: a new figure beside the old record redraws another with --from
        check_replaceable((args.out, sidecar))
    except OSError as error:
        raise OperationFailed("replace", error.filename, error) from error
    manifest = load_manifest(config)
    say_unread_annotations(config.store_root)  # an excluded run is drawn or left out as annotated
    notes: list[str] = []
    hidden = 0
    record = FigureRecord.read(args.record) if args.record is not None else None
    if record is not None and record.trend is not None:
        if given := _trend_view_options(args, str(record.trend.get("name"))):  # as `--trend` says it
            raise UsageError(f"{args.record} is a trend's record, one point per run: {', '.join(given)} does not "
                             "apply")
        runs, notes = record.check(manifest, tz=config.local_tz, metrics=metrics_stamp(config))
        runs, excluded = as_recorded(config.store_root, runs)
        notes += excluded
        return draw_trend(args, config, runs, notes, record.trend, renderer, column=args.column or record.column,
                          recorded=True)
    if args.trend is not None:  # its runs, or those of --seq, --starred, --tag (a paper's power series)
        seqs = parse_seqs(args.seq) if args.seq is not None else None
        runs = marked_runs(config.store_root, chip_runs(manifest, args.number, args.group, seqs, tz=config.local_tz),
                           starred=args.starred, tag=args.tag)
        trend = trend_record(args.trend, include_excluded=args.include_excluded, by_seq=args.by_seq)
        return draw_trend(args, config, runs, notes, trend, renderer, column=args.column)
    if args.by_seq:
        raise UsageError(f"{args.record} is a figure of runs, not a trend's: --by-seq does not apply")
    if record is not None:
        runs, notes = record.check(manifest, tz=config.local_tz, metrics=metrics_stamp(config))
        runs, excluded = as_recorded(config.store_root, runs)
        notes += excluded
        proc, runs = one_procedure(runs, None)
    else:
        seqs = parse_seqs(args.seq) if args.seq is not None else None  # `--seq ""` is no list, not "all"
        if args.calibrations:  # numbered as `labtui history --calibrations` lists them
            runs = calibration_runs(manifest, args.date, seqs, tz=config.local_tz)
        else:
            runs = chip_runs(manifest, args.number, args.group, seqs, tz=config.local_tz)
        runs = marked_runs(config.store_root, runs, starred=args.starred, tag=args.tag)
        if args.proc is not None:  # first: an excluded run of another procedure was not going to be drawn
            runs = one_procedure(runs, args.proc, config.procedures_file)[1]
        runs, hidden = without_excluded(config.store_root, runs, include=args.include_excluded)
        if args.include_excluded:
            notes += excluded_drawn(runs, "--include-excluded")
        proc, runs = one_procedure(runs, args.proc, config.procedures_file)
    family = proc_family(proc, config.procedures_file)  # IVg for IVgT runs: its options and how they are drawn
    options = record.options if record is not None else default_options(family, runs)
    changes = {**(args.baseline or {}), **({"log_y": True} if args.log else {}), **({"gm": True} if args.gm else {}),
               **({"gm_method": args.gm_method} if args.gm_method else {}),
               **({"align_cnp": True} if args.align_cnp else {})}
    check_view_args(args, proc, family)
    options = replace(options, **changes)
    column = args.column or (record is not None and record.column)  # a column figure's redraw is one too
    powered = family in PRICED and config.metrics_path.exists()  # a lit run's power, beside its laser voltage
    if options.align_cnp or powered:
        notes += stale_metrics(config)
        runs = with_plotted_quantities(runs, read_metrics(config))
    group = load_group(proc, runs, config.stage_root, config.procedures_file)
    spec = shape(group, options, DRAW_BUCKETS, config.metrics)
    if not spec.series:
        raise UsageError(f"nothing to draw: {'; '.join(spec.messages) or 'no data points'}")
    derived = draws_derived(spec, group.runs, options)
    written = figure_record(args.out, group.runs, options, metrics=metrics_stamp(config) if derived else None,
                            column=column)
    table = [] if args.points is None else [(args.points, points_csv(shape(group, options, None, config.metrics)))]
    write_figure(spec, args.out, renderer=renderer, column=column, beside=[written, *table])
    sidecar = written[0]
    for line in (*notes, *spec.warnings, *spec.messages, *legend_left_out(spec)):
        print(f"labtui plot: {line}", file=sys.stderr)
    left_out = f"; {hidden_note(hidden)}, --include-excluded draws them" if hidden else ""
    drawn = len({series.run_id for series in spec.series})  # not a run the overlay left out (no Dirac point)
    missing = f"; {runs.height - drawn} more not drawn, as said above" if runs.height > drawn else ""
    traces = f"{counted(len(spec.series), 'trace')} of {counted(drawn, 'run')}{missing}{left_out}"
    print(f"wrote {args.out} ({traces}){_beside(sidecar, args.points)}")
    return EXIT_OK


def stale_metrics(config: StagingConfig) -> list[str]:
    """A line when the metrics table a figure reads was computed by another labtui or under other `metrics:`
    windows (an upgrade, an edited config): its values are not this labtui's until a stage redoes them."""
    from labtui.core.metrics_stamp import is_current

    if not config.metrics_path.exists() or is_current(config):
        return []
    return ["the metrics table was computed by another labtui, under other `metrics:` windows or with another "
            "chip_params.yaml (derived values stale): `labtui stage` or `labtui metrics` recomputes it"]


VIEW_FLAGS: dict[str, tuple[str, ...] | None] = {  # a view option and the procedures it changes (None: as the app)
    "--baseline": ("It",),
    "--log": None,
    "--gm": ("IVg",),
    "--gm-method": ("IVg",),
    "--align-cnp": ("IVg",),
}


def _view_options(args: argparse.Namespace) -> dict[str, object]:
    """Each view option (`VIEW_FLAGS`) and what was given for it."""
    return {flag: getattr(args, flag.removeprefix("--").replace("-", "_")) for flag in VIEW_FLAGS}


def check_view_args(args: argparse.Namespace, proc: str, family: str) -> None:
    """A view option the runs' procedure (read as `family`: IVg for IVgT) has no use for is a mistake to say, not
    to drop: `--gm` on It runs would otherwise draw a plain It figure as if gm had been drawn."""
    from labtui.core.errors import UsageError
    from labtui.core.plotdata.model import PlotOptions
    from labtui.core.plotdata.view import controls

    def applies(flag: str) -> bool:
        procs = VIEW_FLAGS[flag]
        return "log_y" in controls(family, PlotOptions()) if procs is None else family in procs

    unused = [flag for flag, value in _view_options(args).items() if value and not applies(flag)]
    if unused:
        uses = "; ".join(f"{flag} is for {' / '.join(procs)} runs" if (procs := VIEW_FLAGS[flag]) is not None
                         else f"{flag} does not apply to them" for flag in unused)
        raise UsageError(f"these are {proc} runs: {uses}")
    if args.gm_method and not args.gm:  # it was dropped, and the figure record said gm: false, gm_method: gradient
        raise UsageError("--gm-method chooses how --gm is drawn: give it with --gm")


def check_trend_args(args: argparse.Namespace) -> None:
    """A trend draws one chip's runs (all, or those of --seq), one point each: a procedure and trace options do not
    apply."""
    from labtui.core.errors import UsageError

    if args.number is None:
        raise UsageError("--trend draws one chip's runs: give its number (e.g. labtui plot 67 --trend cnp --out …)")
    given = ["--proc"] * (args.proc is not None) + _trend_view_options(args, args.trend)
    if given:
        raise UsageError(f"--trend draws the chip's runs (--seq: some of them), one point each: {', '.join(given)} "
                         f"does not apply{_LOG_LOG_HINT * ('--log' in given)}")


_LOG_LOG_HINT = "; --log is for the photoresponse and responsivity trends (log–log against power)"


def _trend_view_options(args: argparse.Namespace, trend: str) -> list[str]:
    """The view options given that a trend has no use for: all but --log, which draws one against power on log–log
    axes."""
    return [flag for flag, value in _view_options(args).items()
            if value and not (flag == "--log" and trend in LOG_LOG_TRENDS)]


def draw_trend(
    args: argparse.Namespace, config: StagingConfig, runs: pl.DataFrame, notes: list[str], trend: dict[str, object],
    renderer: Renderer, *, column: bool, recorded: bool = False,
) -> int:
    """Write a trend figure (at a journal column's size if `column`) and its record (the trend's name and switch, and
    the runs it drew). `recorded`: `runs` are a figure's record's, each drawn, excluded since or not (a redraw
    dropped a run excluded after the figure, which a trace figure's redraw keeps)."""
    from labtui.core.annotations import current_annotations
    from labtui.core.errors import UsageError
    from labtui.core.metrics import read_metrics
    from labtui.core.metrics_stamp import metrics_stamp
    from labtui.core.plotdata.figure import points_csv, write_figure
    from labtui.core.plotdata.model import PlotOptions
    from labtui.core.plotdata.selection import excluded_drawn, figure_record
    from labtui.core.plotdata.trends import (
        Trend,
        against_power,
        against_time,
        trend_record,
        trend_rows,
        trend_spec,
    )

    try:
        name = Trend(str(trend.get("name")))
    except ValueError:
        raise UsageError(f"{args.record} names no known trend ({trend.get('name')!r})") from None
    include = bool(args.include_excluded or trend.get("include_excluded"))  # a record's: checked as true or false
    by_seq = bool(args.by_seq or trend.get("by_seq"))
    log_log = bool(args.log or trend.get("log"))
    if by_seq and not against_time(name):
        given = "--by-seq" if args.by_seq else f"{args.record}'s by_seq"
        raise UsageError(f"the {name} trend is not drawn against time: {given} is for cnp, hysteresis and dark")
    if log_log and not against_power(name):  # a record's, edited by hand (`--log` is refused before)
        raise UsageError(f"the {name} trend is not drawn against power: {args.record}'s log is for photoresponse "
                         "and responsivity")
    if not config.metrics_path.exists():
        raise UsageError(f"nothing to draw for the {name} trend: no metrics table yet ({config.metrics_path}); "
                         "`labtui metrics` computes it, and every stage keeps it up to date")
    notes = [*notes, *stale_metrics(config)]
    rows = trend_rows(runs, read_metrics(config), current_annotations(config.store_root))
    spec = trend_spec(name, rows, include_excluded=include or recorded, tz=config.local_tz,
                      procedures_file=config.procedures_file, by_seq=by_seq, log_log=log_log,
                      reveal="--include-excluded draws them",
                      whose="the chip has" if recorded else _whose(args))
    if not spec.series:
        reasons = "; ".join(spec.messages) or "no point to draw"
        raise UsageError(f"nothing to draw for the {name} trend: {reasons}")
    drawn = trend_record(name, include_excluded=include, by_seq=by_seq, log_log=log_log)
    written = figure_record(args.out, spec.runs, PlotOptions(), drawn, metrics_stamp(config), column)
    table = [] if args.points is None else [(args.points, points_csv(spec))]
    write_figure(spec, args.out, renderer=renderer, column=column, beside=[written, *table])
    sidecar = written[0]
    if include and not recorded:  # which of the points are crossed out, and why (a redraw's notes said it already)
        notes += excluded_drawn(spec.runs, "--include-excluded")
    for line in (*notes, *spec.warnings, *spec.messages, *spec.fits):
        print(f"labtui plot: {line}", file=sys.stderr)
    points = sum(s.x.size for s in spec.series)
    print(f"wrote {args.out} ({name} trend: {counted(points, 'point')} of {counted(spec.runs.height, 'run')})"
          f"{_beside(sidecar, args.points)}")
    return EXIT_OK


def _whose(args: argparse.Namespace) -> str:
    """The runs chosen, as a trend's note names them when none is of its procedure (`seq 1-3 hold`): the chip has
    them, the runs chosen do not."""
    if args.starred or args.tag is not None:
        return "the runs chosen hold"
    if args.seq is not None:
        return f"seq {args.seq.strip()} {'hold' if ',' in args.seq or '-' in args.seq else 'has'}"
    return "the chip has"


def _beside(record: Path, points: Path | None) -> str:
    """The files written beside a figure, as its line names them: ` and its.pdf.json`, or `, its.pdf.json and
    its.csv`."""
    return f", {record} and {points}" if points is not None else f" and {record}"

