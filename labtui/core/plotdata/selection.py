"""Which runs a figure draws: chosen by chip and seq on the command line, or read back from a figure's sidecar.

The sidecar `<figure>.json` records the run_ids, each run's content hash and the options, so a figure can be
redrawn later (in another format, by someone else) and says when a run it names was re-staged since or is gone.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import polars as pl

from labtui import __version__
from labtui.core.annotations import AnnotationFilter, annotate_runs
from labtui.core.errors import UsageError
from labtui.core.fields import build, one_of
from labtui.core.history import calibrations, canonical_proc, chip_rows, resolve_chip, timeline
from labtui.core.json_text import parse_json
from labtui.core.plotdata.load import PLACE, group_by_proc, run_ident, with_places
from labtui.core.plotdata.model import Baseline, GmMethod, PlotOptions, PlotSpec
from labtui.core.plotdata.view import plot_rows
from labtui.core.seqs import missing_seqs
from labtui.core.wording import counted, quoted

SIDECAR_FORMAT = 1
_HASHED = ("source_sha256", "extraction_version")  # a run "changed" when its raw bytes or their extraction did


def chip_runs(
    manifest: pl.DataFrame, chip: int | str, group: str | None, seqs: list[int] | None, *, tz: str
) -> pl.DataFrame:
    """Manifest rows (with `seq`) of a chip's runs (a number or a name) at `seqs` (all of them for None); an unknown
    seq is an error."""
    group, number = resolve_chip(manifest, chip, group)
    rows = chip_rows(manifest, group, number)
    # nulls_equal: a run_id a hand edit made null keeps its seq (`load_group` says it names no Parquet)
    numbered = rows.join(timeline(rows, tz=tz).select("run_id", "seq"), on="run_id", nulls_equal=True)
    if seqs is None:
        return numbered.sort("seq")
    if missing := missing_seqs(seqs, numbered.height):  # seqs are 1…n: only those beyond n are missing
        chip = rows["chip_name"][0]
        raise UsageError(f"chip {chip} has no run seq {missing} (its history has seq 1–{numbered.height})")
    return numbered.filter(pl.col("seq").is_in(seqs)).sort("seq")


def calibration_runs(
    manifest: pl.DataFrame, on_date: dt.date | None, seqs: list[int] | None = None, *, tz: str
) -> pl.DataFrame:
    """The setup's runs (laser power calibrations) of one local date, or all of them; at `seqs`, as
    `labtui history --calibrations` numbers them (an unknown seq is an error, as a chip's)."""
    runs = calibrations(manifest, tz=tz)
    if seqs is not None and (missing := missing_seqs(seqs, runs.height)):
        raise UsageError(f"the calibrations have no run seq {missing} (their history has seq 1–{runs.height})")
    if seqs is not None:
        runs = runs.filter(pl.col("seq").is_in(seqs))
    if on_date is not None:
        runs = runs.filter(pl.col("date") == on_date)
    if runs.is_empty():
        at = f" at the chosen seq{'s' if len(seqs or ()) > 1 else ''}" if seqs else ""
        raise UsageError(f"no calibration runs{at}{f' on {on_date}' if on_date else ''} in the manifest")
    return plot_rows(manifest, runs["run_id"], tz)


def marked_runs(store_root: Path, runs: pl.DataFrame, *, starred: bool, tag: str | None) -> pl.DataFrame:
    """Of `runs`, the starred ones and those tagged `tag` (each when asked for: `labtui plot --starred --tag`); all
    when neither is. None such is an error that says which."""
    if not starred and tag is None:
        return runs
    if tag is not None and not tag.strip():
        raise UsageError(f"--tag names a tag, not {tag!r}")
    marked = annotate_runs(store_root, runs).filter(
        AnnotationFilter(starred=starred, tag=tag, include_excluded=True).expression())
    if marked.is_empty():
        what = " and ".join([*(["starred"] if starred else []), *([f"tagged {quoted(tag.strip())}"] if tag else [])])
        raise UsageError(f"none of the {counted(runs.height, 'run')} chosen is {what}")
    return marked.select(runs.columns)


def without_excluded(store_root: Path, runs: pl.DataFrame, *, include: bool) -> tuple[pl.DataFrame, int]:
    """The chosen runs a figure draws, with their annotations (an excluded run drawn says so in its legend) and their
    places among them (`with_places`): the excluded ones left out (and counted) unless `include`; when every chosen
    run is excluded that is an error saying so, not an empty figure."""
    annotated = with_places(annotate_runs(store_root, runs))
    if include:
        return annotated, 0
    kept, hidden = AnnotationFilter().apply(annotated)
    if kept.is_empty() and hidden:
        raise UsageError(f"{'the chosen run is' if hidden == 1 else f'all {hidden} chosen runs are'} excluded "
                         "(--include-excluded draws them)")
    return kept, hidden


def as_recorded(store_root: Path, runs: pl.DataFrame) -> tuple[pl.DataFrame, list[str]]:
    """A redrawn figure's runs, every one it records, with their annotations, and a line for each the lab excluded
    since, and why: drawn, marked as excluded, as the figure is of the runs it records."""
    annotated = annotate_runs(store_root, runs)
    return annotated, excluded_drawn(annotated, "as the figure records it")


def excluded_drawn(runs: pl.DataFrame, why: str) -> list[str]:
    """A line for each excluded run among `runs` (with their annotations) a figure draws, with its reason and why it
    is drawn: past a palette's runs the legend is a colour bar, where no "(excluded)" label shows."""
    return [f"{run_ident(row)} (run {row['run_id']}) is excluded ({row['exclude_reason']}); drawn, {why}"
            for row in runs.filter(pl.col("excluded")).iter_rows(named=True)]


def one_procedure(
    runs: pl.DataFrame, proc: str | None, procedures_file: Path | None = None
) -> tuple[str, pl.DataFrame]:
    """The runs of one procedure (`proc` as the lab's registry, `procedures_file`, names it): a figure never mixes
    axes; several without `proc` is an error listing them."""
    if proc is not None:
        try:
            proc = canonical_proc(proc, procedures_file)
        except ValueError as error:
            raise UsageError(str(error)) from None
        runs = runs.filter(pl.col("proc") == proc)
        if runs.is_empty():
            raise UsageError(f"no {proc} run among the chosen runs")
        return proc, runs
    groups = group_by_proc(runs)
    if len(groups) > 1:
        mix = ", ".join(f"{name} ({frame.height})" for name, frame in groups)
        raise UsageError(f"the chosen runs mix procedures: {mix}; choose one with --proc")
    return groups[0]


_OPTION_TYPES = {"Baseline": one_of(tuple(Baseline)), "GmMethod": one_of(tuple(GmMethod))}


@dataclass(frozen=True)
class FigureRecord:
    """What a figure shows, as written beside it: enough to draw it again and to notice the data moved on."""

    run_ids: tuple[str, ...]
    options: PlotOptions
    hashes: dict[str, dict[str, str | None]]  # run_id → the `_HASHED` columns when the figure was made
    trend: dict[str, object] | None = None  # a trend figure: {"name": "cnp", "include_excluded": False}
    metrics: str | None = None  # a figure of derived quantities: their definitions and windows (`metrics_stamp`)
    column: bool = False  # drawn at a journal column's size (`labtui plot --column`)
    sources: dict[str, str] = field(default_factory=dict)  # run_id → its raw file, to follow a run staged anew
    # run_id → its place among the runs chosen (`with_places`): its colour, which a redraw of a figure that left an
    # excluded run out gave the next run
    places: dict[str, int] = field(default_factory=dict)

    @classmethod
    def of(cls, runs: pl.DataFrame, options: PlotOptions, trend: dict[str, object] | None = None,
           metrics: str | None = None, column: bool = False) -> FigureRecord:
        rows = runs.select("run_id", *_HASHED).iter_rows(named=True)
        hashes = {row["run_id"]: {k: row[k] for k in _HASHED} for row in rows}
        places = dict(runs.select("run_id", PLACE).iter_rows()) if PLACE in runs.columns else {}
        return cls(tuple(runs["run_id"]), options, hashes, trend, metrics, column, places=places)

    def to_json(self, figure: Path, runs: pl.DataFrame) -> bytes:
        listed = [
            {"run_id": row["run_id"], "seq": row.get("seq"), "chip": row.get("chip_name"), "proc": row["proc"],
             "source_file": row["source_file"], **self.hashes[row["run_id"]],
             **({PLACE: self.places[row["run_id"]]} if row["run_id"] in self.places else {})}
            for row in runs.iter_rows(named=True)
        ]
        document = {"labtui_figure": SIDECAR_FORMAT, "labtui_version": __version__, "figure": figure.name,
                    "options": {k: str(v) if isinstance(v, str) else v for k, v in asdict(self.options).items()},
                    **({"trend": self.trend} if self.trend else {}),
                    **({"metrics": self.metrics} if self.metrics else {}),
                    **({"column": True} if self.column else {}), "runs": listed}
        return (json.dumps(document, indent=2, ensure_ascii=False) + "\n").encode("utf-8")

    @classmethod
    def read(cls, path: Path) -> FigureRecord:
        try:
            document = parse_json(path.read_text(encoding="utf-8"))
            if not isinstance(document, dict) or "labtui_figure" not in document:
                raise ValueError("not the JSON object labtui writes beside a figure")
            if document["labtui_figure"] != SIDECAR_FORMAT:
                raise ValueError(f"format {document['labtui_figure']!r}, and this labtui reads format "
                                 f"{SIDECAR_FORMAT}: written by another version?")
            missing = [key for key in ("runs", "options") if key not in document]
            if missing:
                raise ValueError(f"no {' or '.join(repr(key) for key in missing)}")
            runs = document["runs"]
            if not (isinstance(runs, list) and all(isinstance(run, dict) and isinstance(run.get("run_id"), str)
                                                   for run in runs)):
                raise ValueError("its runs are not a list of runs with a text run_id")
            if not runs:
                raise ValueError("it names no runs")
            if not isinstance(document["options"], dict):
                raise ValueError("its options are not a mapping")
            trend = document.get("trend")
            if "trend" in document and not isinstance(trend, dict):  # null too: it redrew a trend as its runs' traces
                raise ValueError("its trend is not a mapping")
            for switch in ("include_excluded", "by_seq", "log"):  # "no" read as true
                if trend is not None and not isinstance(value := trend.get(switch, False), bool):
                    raise ValueError(f"its trend's {switch} must be true or false, got {value!r}")
            metrics = document.get("metrics")
            if metrics is not None and not isinstance(metrics, str):
                raise ValueError("its metrics stamp is not text")
            if not isinstance(column := document.get("column", False), bool):
                raise ValueError("its column is not true or false")
            sources = {run["run_id"]: run["source_file"] for run in runs if isinstance(run.get("source_file"), str)}
            places = {run["run_id"]: run[PLACE] for run in runs if PLACE in run}
            if any(type(place) is not int or place < 0 for place in places.values()):  # true is an int
                raise ValueError("its runs' places are not whole numbers from 0")
            options = build(PlotOptions, document["options"], types=_OPTION_TYPES)  # each wrong one named
            return cls(tuple(run["run_id"] for run in runs), options,
                       {run["run_id"]: {k: run.get(k) for k in _HASHED} for run in runs}, trend, metrics, column,
                       sources, places)
        except OSError as error:
            raise UsageError(f"cannot read the figure record {path}: {error.strerror or error}") from None
        except (ValueError, KeyError, TypeError, AttributeError) as error:
            if (record := sidecar_path(path)).is_file():  # the figure given for its record
                raise UsageError(f"{path} is a figure, not its record: give {record}") from None
            raise UsageError(f"{path} is not a labtui figure record ({error})") from None

    def check(self, manifest: pl.DataFrame, *, tz: str, metrics: str) -> tuple[pl.DataFrame, list[str]]:
        """The recorded runs still in the store (with `seq`, and their `PLACE` where recorded), and one line for each
        that is gone or changed; and one when the figure drew derived quantities under other definitions or windows
        than this labtui's (`metrics`)."""
        now = self._restaged(manifest)
        runs = plot_rows(manifest, [now.get(run_id, run_id) for run_id in self.run_ids], tz)
        if self.places:
            places = {now.get(run_id, run_id): place for run_id, place in self.places.items()}
            runs = runs.with_columns(pl.col("run_id").replace_strict(places, default=None, return_dtype=pl.Int64)
                                     .alias(PLACE))
        notes = [f"run {run_id} was staged again as run {now[run_id]} (its file {self.sources[run_id]} changed its "
                 "start time): drawn as that run" for run_id in self.run_ids if run_id in now]
        notes += [f"run {run_id} is no longer in the store" for run_id in self.run_ids
                  if run_id not in now and run_id not in runs["run_id"]]
        recorded = {now.get(run_id, run_id): self.hashes[run_id] for run_id in self.run_ids}
        notes.extend(
            f"{run_ident(row)} (run {row['run_id']}) has changed since the figure was made (re-staged from other data)"
            for row in runs.select("run_id", "seq", "file_idx", "date_local", *_HASHED).iter_rows(named=True)
            if any(row[k] != recorded[row["run_id"]][k] for k in _HASHED)
        )
        if runs.is_empty():
            raise UsageError(f"none of the figure's {counted(len(self.run_ids), 'run')} is in the store any more")
        if self.metrics is not None and metrics != self.metrics:
            notes.append(f"its derived quantities were computed under {self.metrics}, this labtui's are under "
                         f"{metrics}: a definition, a `metrics:` window or chip_params.yaml changed since, so they "
                         "may differ")
        return runs, notes

    def _restaged(self, manifest: pl.DataFrame) -> dict[str, str]:
        """Recorded runs gone from the store whose raw file is staged as one other run now (its start time edited,
        and with it the run_id): old run_id → new one, as `validate` re-attaches their annotations."""
        present = set(manifest.filter(pl.col("run_id").is_in(self.run_ids))["run_id"])
        by_source = {source: run_id for run_id, source in self.sources.items() if run_id not in present}
        if not by_source:
            return {}
        staged = manifest.filter(pl.col("source_file").is_in(list(by_source)) & ~pl.col("run_id").is_in(self.run_ids))
        single = staged.filter(pl.len().over("source_file") == 1)  # a file staged as two runs names neither
        return {by_source[source]: run_id for source, run_id in single.select("source_file", "run_id").iter_rows()}


def draws_derived(spec: PlotSpec, runs: pl.DataFrame, options: PlotOptions) -> bool:
    """Whether a figure of `runs` draws derived quantities, whose definitions and windows its record then names:
    Dirac points (markers, an aligned overlay) or a lit run's power in its legend (a trend's always are)."""
    powers = "power_w" in runs.columns and runs["power_w"].is_not_null().any()
    return options.align_cnp or bool(spec.markers) or powers


def sidecar_path(figure: Path) -> Path:
    return figure.with_name(figure.name + ".json")


def figure_record(
    figure: Path, runs: pl.DataFrame, options: PlotOptions, trend: dict[str, object] | None = None,
    metrics: str | None = None, column: bool = False,
) -> tuple[Path, bytes]:
    """The record beside `figure` (its path, its bytes), from which `labtui plot --from` redraws it."""
    return sidecar_path(figure), FigureRecord.of(runs, options, trend, metrics, column).to_json(figure, runs)
