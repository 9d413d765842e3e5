"""The words of a plot view: which runs, which options are active, what the files are called.

Shared by the terminal plot, the figure and the export, so the status line, the title and the file names agree.
"""

from __future__ import annotations

from collections.abc import Iterable

import polars as pl

from labtui.core.history import CHIP_KEYS, RUN_ORDER, staged_now, timeline
from labtui.core.plotdata.labels import TITLE_PARTS, in_a_row
from labtui.core.plotdata.load import PLACE, run_ident
from labtui.core.plotdata.model import Baseline, GmMethod, PlotOptions, PlotSpec

BASELINE_TEXT = {
    Baseline.RAW: "I, no baseline",
    Baseline.FIRST: "ΔI = I − I(first point)",
    Baseline.AUTO: "ΔI = I − I dark (mean just before laser ON)",
}
GM_METHOD_TEXT = {GmMethod.GRADIENT: "plain gradient", GmMethod.SAVGOL: "Savitzky–Golay {window}, order {order}"}


def plot_rows(manifest: pl.DataFrame, run_ids: Iterable[str], tz: str) -> pl.DataFrame:
    """Manifest rows of the chosen runs, with their `seq` in their chip's history, in history order."""
    chosen = manifest.filter(pl.col("run_id").is_in(list(run_ids)))
    histories = manifest.join(chosen.select(CHIP_KEYS).unique(), on=list(CHIP_KEYS), how="semi", nulls_equal=True)
    seqs = timeline(histories, tz=tz).select("run_id", "seq")
    return chosen.join(seqs, on="run_id", how="left").sort(RUN_ORDER, nulls_last=True)


def current_rows(runs: pl.DataFrame, manifest: pl.DataFrame, tz: str) -> pl.DataFrame:
    """`plot_rows` of runs chosen earlier, as the store holds them now: a run re-staged since under a new run_id
    (its start time corrected, by `labtui restage` or `validate --fix` in another terminal) is found by its raw
    file, at its place (`PLACE`); a run no longer in the store stays as it was (reading it says so)."""
    if runs.is_empty():
        return runs
    now = staged_now(runs.select("run_id", "source_file"), manifest)["run_id"]
    if now.equals(runs["run_id"]):
        return runs
    gone = runs.filter(~pl.col("source_file").is_in(manifest["source_file"].implode()))  # not staged any more
    staged = plot_rows(manifest, now.to_list(), tz)
    if PLACE in runs.columns:  # each keeps its colour
        staged = staged.join(pl.DataFrame({"run_id": now, PLACE: runs[PLACE]}), on="run_id", how="left")
    return pl.concat([staged, gone], how="diagonal_relaxed").sort(RUN_ORDER, nulls_last=True)


def default_options(proc: str, runs: pl.DataFrame) -> PlotOptions:
    """What a plot of these runs shows first: dark It runs have no laser edge to reference, so I as measured."""
    if proc == "It" and runs.height and not runs["has_light"].fill_null(False).any():
        return PlotOptions(baseline=Baseline.RAW)
    return PlotOptions()


TITLED_RUNS = 6  # ranges (or runs) a title names one by one; more read as a count and a span (the record has all)


def runs_text(runs: pl.DataFrame) -> str:
    """`seq 3–5, 9`: which runs of the history are drawn; runs without a seq by date and queue index. Beyond
    `TITLED_RUNS` ranges, `47 runs, seq 4–68`: a title must fit above the plot. Reads the seq column alone: a
    chip's trends title 10k runs, whose rows as dicts took 60 ms of every redraw."""
    column = runs.get_column("seq") if "seq" in runs.columns else None
    if column is None or not runs.height or column.null_count():
        if runs.height > TITLED_RUNS:
            return f"{runs.height} runs"
        return ", ".join(run_ident(row) for row in runs.to_dicts())
    ranges = in_a_row(column.to_list())
    if len(ranges) > TITLED_RUNS:
        return f"{sum(map(len, ranges))} runs, seq {ranges[0][0]}–{ranges[-1][-1]}"
    return "seq " + ", ".join(str(r[0]) if len(r) == 1 else f"{r[0]}–{r[-1]}" for r in ranges)


def controls(kind: str, options: PlotOptions) -> tuple[str, ...]:
    """The options that change what a procedure's plot shows right now (log does not apply to gm)."""
    match kind:
        case "It":
            return ("baseline", "log_y")
        case "IVg":
            return ("gm", "gm_method", "align_cnp") if options.gm else ("gm", "log_y", "align_cnp")
        case "LaserCalibration":
            return ()
    return ("log_y",)  # every other procedure: y as acquired, or its log


def view_parts(kind: str, options: PlotOptions, gm_window_v: float | None = None) -> list[tuple[str, str]]:
    """(status text, file-name tag) of each active option, so the status line and the export name agree;
    `gm_window_v`, the config's, names the default Savitzky–Golay window in volts."""
    parts = []
    for control in controls(kind, options):
        match control:
            case "baseline" if options.baseline is Baseline.FIXED:
                at = options.baseline_time_s
                parts.append((f"ΔI = I − I(t = {at:g} s)", f"dI-t{at:g}s"))
            case "baseline":
                tag = "" if options.baseline is Baseline.RAW else f"dI-{options.baseline}"
                parts.append((BASELINE_TEXT[options.baseline], tag))
            case "log_y":
                parts.append(("log |y|", "log") if options.log_y else ("linear", ""))
            case "gm" if options.gm:
                parts.append(("gm = dI/dVg per sweep leg", "gm"))
            case "gm":
                parts.append(("I vs Vg", ""))
            case "align_cnp" if options.align_cnp:
                parts.append(("aligned: Vg − V_CNP (forward leg)", "aligned"))
            case "gm_method":
                window = (f"{options.sg_window} pts" if options.sg_window else
                          f"over {gm_window_v:g} V" if gm_window_v else "over gm_max's window")
                text = GM_METHOD_TEXT[options.gm_method].format(window=window, order=options.sg_polyorder)
                if options.gm_method is GmMethod.SAVGOL and not options.sg_window and gm_window_v:
                    text += " (as gm_max)"  # not `over 0.5 V as gm_max, order 2`: the order read as gm_max's
                parts.append((text, str(options.gm_method)))
    return parts


def file_suffix(kind: str, options: PlotOptions, extension: str) -> str:
    """`_dI-auto.csv`: exports of two views of the same runs do not overwrite each other."""
    return "".join(f"_{tag}" for _, tag in view_parts(kind, options) if tag) + extension


def plot_title(spec: PlotSpec) -> str:
    return f"{spec.title}{TITLE_PARTS}{runs_text(spec.runs)}" if spec.runs.height else spec.title
