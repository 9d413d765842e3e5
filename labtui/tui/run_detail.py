"""One run's detail, as Enter in a history opens it: the run at a glance, its derived quantities, its annotations,
every manifest field and header parameter, and the quantities' definitions; the annotation keys act on the run."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

import polars as pl
from textual.binding import Binding

from labtui.core.annotations import log_lines
from labtui.core.history import summary_line
from labtui.core.manifest import run_parameters
from labtui.core.wording import quoted
from labtui.tui.dialogs import DialogBox, FieldsDialog
from labtui.tui.history_view import definition_items, quantity_items

if TYPE_CHECKING:
    from rich.text import Text

    from labtui.tui.app import LabApp


class RunDetail(FieldsDialog):
    """A run's fields; `*`, `x`, `#` and `n` close it and hand `annotate` the action for this run alone (in the
    history they act on its selection), which it shows again after: it said `none (* star, …)`, and those keys did
    nothing here. `u` undoes the screen's last annotation, as in the history, and shows the run again."""

    BINDINGS = [  # the history's ids: a key the lab's config gives them (`keys:`) is theirs here too
        Binding("asterisk", "annotate('star')", "Star", id="star"),
        Binding("x", "annotate('exclude')", "Exclude", id="exclude"),
        Binding("number_sign", "annotate('tag')", "Tag", id="tag"),
        Binding("n", "annotate('note')", "Note", id="note"),
        Binding("u", "annotate('undo')", "Undo", id="undo"),  # "· u undoes" after a change made here did nothing
    ]

    def __init__(self, title: str, fields: Iterable[tuple[str, object]], annotate: Callable[[str, int], object],
                 records: int = 0) -> None:
        super().__init__(title, fields)
        self.annotate = annotate
        self.records = records  # the run's annotation records it shows: a key acts on what it showed

    def on_mount(self) -> None:
        """The frame's hint names the annotation keys as they are bound (a `keys:` remapping included)."""
        super().on_mount()
        bound = {active.binding.id: active.binding for active in self.active_bindings.values() if active.node is self}
        keys = [f"{self.app.get_key_display(bound[binding.id])} {binding.description.lower()}"
                for binding in self.BINDINGS if isinstance(binding, Binding) and binding.id in bound]
        self.query_one(DialogBox).border_subtitle = " · ".join([*keys, self.hint])

    def action_annotate(self, action: str) -> None:
        self.dismiss(False)
        self.annotate(action, self.records)


def _calibration_named(items: list[tuple[str, Text]], manifest: pl.DataFrame, tz: str) -> list[tuple[str, Text]]:
    """The calibration that priced the run named as the setup's history lists it (its seq, local date and time,
    wavelength), after its run_id: a run_id alone sent the reader to match it in a CSV."""
    from labtui.core.history import calibrations

    for name, text in items:
        if name != "calibration_run_id":
            continue
        found = calibrations(manifest, tz=tz).filter(pl.col("run_id") == text.plain)  # a null's text holds a reason
        if found.height:
            seq, date, time, wavelength = found.select("seq", "date", "time_hms", "laser_wavelength_nm").row(0)
            at = "" if wavelength is None else f", {wavelength:g} nm"
            text.append(f"  the setup's seq {seq}, {date} {time}{at} (`labtui history --calibrations`)",
                        style="italic")
    return items


def run_dialog(manifest: pl.DataFrame, run_id: str, lab: LabApp, annotate: Callable[[str, int], object],
               done: str | None = None) -> RunDetail | None:
    """What a physicist opens a run for first: its derived quantities with their definitions and every annotation
    (who, when in the lab's time, and what); then every manifest field (each UTC time also in the lab's zone) and
    its header parameters spelled out. The quantities came after ~40 lines of fields, below the dialog's fold.
    `annotate`: what an annotation key in it does (`RunDetail`); `done`: what the last one did, said first."""
    rows = manifest.filter(pl.col("run_id") == run_id)
    if not rows.height:
        return None
    fields = rows.row(0, named=True)
    text = fields.pop("parameters")
    parameters = run_parameters(text)
    glance = rows.select(summary_line()).item()
    glance += f" · {fields['start_time_utc'].astimezone(lab.config.zone):%Y-%m-%d %H:%M}"
    items: list[tuple[str, object]] = [("just now", done)] if done else []
    items.append(("run", glance))  # at a glance, first
    metrics, damaged = lab.store.metrics_or_empty()
    items += [("derived", "the metrics table is damaged: `labtui metrics --rebuild` recomputes it")] if damaged \
        else _calibration_named(quantity_items(metrics, run_id, lab.config.procedures_file, lab.config.metrics),
                                manifest, lab.config.local_tz)
    log = lab.store.annotation_log(run_id)
    lines = log_lines(log, lab.config.local_tz)
    items += [("annotations", "\n".join(lines) if lines else "none (* star, x exclude, # tag, n note)")]
    for name, value in fields.items():
        if name == "laser_wavelength_nm" and value is not None and fields["has_light"] is False:
            value = f"{value:g} (the header's, left from the last lit run: this run is dark)"  # a history shows none
        items.append((name, value))
        if isinstance(value, dt.datetime) and name.endswith("_utc"):
            zone, local = lab.config.zone, value.astimezone(lab.config.zone)
            items.append((f"{name.removesuffix('_utc')}_local", f"{local:%Y-%m-%d %H:%M:%S} {local:%Z} ({zone.key})"))
    if parameters is None:  # a hand edit of the manifest: said, where the header's values would be
        items.append(("· header", f"not readable from the manifest ({quoted(text or 'null')}): `labtui restage "
                                  f"--force {fields['source_file']}` reads its raw file again"))
    else:
        items += [(f"· {key}", value) for key, value in parameters.items()]
    # last: a dozen definitions put the run's own fields pages down
    items.append(("definitions", "of the quantities above, with the lab's windows"))
    items += definition_items(fields["proc"], lab.config.procedures_file, lab.config.metrics)
    return RunDetail(f"Run {run_id} · {fields['source_file']}", items, annotate, log.height)
