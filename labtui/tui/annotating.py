"""Annotating a history's runs: star, exclude (asking why), tag and note the chosen runs, or the run a detail
shows, and undo the screen's own last change. The keys are bound by `HistoryScreen`; the store's `annotate` and
`undo` write."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from functools import partial

import polars as pl
from textual import work

from labtui.core.annotations import Action, AnnotationError, Change, check_length
from labtui.core.errors import LabtuiError
from labtui.core.wording import counted
from labtui.tui.base import FilteredScreen, said_errors
from labtui.tui.dialogs import TextDialog
from labtui.tui.run_detail import run_dialog


class AnnotatingScreen(FilteredScreen):
    """A screen of runs (`runs`, with their annotation columns) whose annotation keys change the `chosen` ones."""

    def __init__(self) -> None:
        super().__init__()
        self.runs = pl.DataFrame()
        self.undoable: list[tuple[Action, pl.DataFrame]] = []  # this screen's annotation actions and their runs,
        # last first
        self.focus_run: str | None = None  # the run the next reload puts the cursor on
        self.after_reload: Callable[[], object] | None = None  # said once the next reload shows the runs
        self.annotating = asyncio.Lock()  # one change at a time, each judged by the store as the last one left it
        self.just_said: str | None = None  # what the last change from a run's detail did, said at the detail's top

    def chosen(self) -> pl.DataFrame:
        """The runs an annotation key applies to."""
        raise NotImplementedError

    def not_in_view(self, rows: pl.DataFrame) -> int:
        """How many of `rows` the screen does not show (selected, then filtered out or hidden)."""
        raise NotImplementedError

    def label(self, rows: pl.DataFrame) -> str:
        """`seq 3` or `4 runs`, and how many of them are not in view: a key applies to those too, and `starred: 2
        runs` said nothing of a run selected before it was excluded and hidden."""
        away = self.not_in_view(rows)
        return _runs_label(rows) + (f" ({away} not in view)" if away else "")

    def _changed(self, action: Action, rows: pl.DataFrame) -> str:
        """The runs `action` changed of the chosen `rows` (`label`): `1 run of 3 runs` where the others were so."""
        label = self.label(rows)
        return label if len(action.run_ids) >= rows.height else f"{counted(len(action.run_ids), 'run')} of {label}"

    def action_star(self) -> None:
        self._star(self.chosen())

    def action_exclude(self) -> None:
        self._exclude(self.chosen())

    def action_tag(self) -> None:
        self._tag(self.chosen())

    def action_note(self) -> None:
        self._note(self.chosen())

    def _star(self, rows: pl.DataFrame, then: Callable[[], object] | None = None) -> None:
        """`then`: called when the change is done (or asked for and cancelled); a run's detail opens again."""
        if rows.height:
            self.annotate(rows, _star_or_unstar, then=then)

    def _exclude(self, rows: pl.DataFrame, then: Callable[[], object] | None = None) -> None:
        """Exclude, asking why; on runs that are all excluded already, include them again."""
        if not rows.height:
            return
        if rows["excluded"].all():
            self.annotate(rows, Change("include"), then=then)
            return
        self._ask(
            rows,
            "Exclude",
            f"Why leave {_these(rows)} out of trends and figures? (e.g. contact lost at 40 s)",
            "",
            partial(Change, "exclude"),  # an empty reason is refused, said and asked for again
            then,
        )

    def _tag(self, rows: pl.DataFrame, then: Callable[[], object] | None = None) -> None:
        if rows.height:
            self._ask(
                rows,
                "Tag",
                f"A tag for {_these(rows)} (e.g. 455 nm power series); -tag removes it",
                "",
                partial(_tag_change, rows),
                then,
            )

    def _note(self, rows: pl.DataFrame, then: Callable[[], object] | None = None) -> None:
        if rows.height:
            self._ask(
                rows,
                "Note",
                f"The note of {_these(rows)} (empty clears it)",
                rows["note"][0] or "",
                lambda text: Change("note", text),
                then,
            )

    def _ask(
        self, rows: pl.DataFrame, title: str, prompt: str, value: str, change: Callable[[str], Change],
        then: Callable[[], object] | None,
    ) -> None:
        what = f"{title} · {self.label(rows)}"

        def answered(text: str | None) -> None:
            if text is None:
                if then is not None:
                    then()
                return
            try:
                wanted = change(text.strip())
                check_length(wanted)
            except LabtuiError as exc:  # what was typed cannot be stored (a `;` in a tag, too long): ask again,
                self.app.push_screen(TextDialog(what, prompt, text, problem=str(exc)), answered)  # saying why
                return
            # not written (a read-only store): asked again with the text, saying why
            self.annotate(rows, wanted, lambda problem: self.app.push_screen(
                TextDialog(what, prompt, text, problem=problem), answered), then=then)

        self.app.push_screen(TextDialog(what, prompt, value), answered)

    @work(group="annotate", exit_on_error=False)
    async def annotate(self, rows: pl.DataFrame, change: Change | Callable[[pl.DataFrame], Change],
                       not_written: Callable[[str], object] | None = None, *,
                       then: Callable[[], object] | None = None) -> None:
        """Apply `change`, or the change a toggle makes of the runs' annotations as stored now: the table's rows
        are those of its last reload, so a second * pressed before it starred the runs again. `not_written` gets
        the problem when the store refuses the change (else it is the worker's error): a typed text is not lost.
        `then` is called once the change is stored or found needless."""
        async with self.annotating:
            if callable(change):
                change = change(await asyncio.to_thread(self.lab.store.as_annotated, rows))
            try:
                action = await asyncio.to_thread(self.lab.store.annotate, rows, change)
            except LabtuiError as exc:
                if not_written is None:
                    raise
                not_written(str(exc))
                return
            if action is None:
                said = f"nothing to change: {self.label(rows)} already as asked"
                self.notify(said, title="Annotation")
            else:
                label = self._changed(action, rows)
                self.undoable.append((action, rows))  # under the lock: a u waiting for it undoes this change
        if action is not None:
            said = f"{action.describe()}: {label} · u undoes"
            self.notify(said, title="Annotation")
            self.reload()
        if then is not None:  # the run's detail again at once: the repricing may wait seconds for a stage's lock
            self.just_said = said
            then()
        if action is not None:
            await self._reprice(action)

    @work(group="annotate", exit_on_error=False)
    async def action_undo(self, then: Callable[[], object] | None = None) -> None:
        """`then`: a run's detail, opened again once the runs are reloaded, saying what was undone at its top (it
        closed, and the undo was said in the history behind it)."""
        def say(text: str) -> None:
            if then is None:
                self.notify(text, title="Annotation")
            else:
                self.just_said = text
                then()

        async with self.annotating:  # after the change it follows: u pressed right after * undid nothing
            if not self.undoable:
                # the undo list is this screen's, since it opened: an annotation from before is changed by its key
                say("nothing to undo: u takes back the annotations made since this history opened; change an earlier "
                    "one with its key (* x # n)")
                return
            last, rows = self.undoable.pop()
            runs = self._changed(last, rows)  # as they are in view now
            undone = await asyncio.to_thread(self.lab.store.undo, last)
        if undone is not None and undone.action is None:
            say(f"nothing undone: {last.describe()}: {runs}{undone.describe()}")
            return
        left = undone.describe() if undone else ""
        # in view as the reload shows them: an exclusion undone shows its run again (said "1 not in view" beside it)
        self.after_reload = lambda: say(f"undone: {last.describe()}: {self._changed(last, rows)}{left}")
        self.focus_run = rows["run_id"][0]  # the cursor on the run undone (it stayed on the next one shown)
        self.reload()
        if undone is not None and undone.action is not None:
            await self._reprice(undone.action)

    async def _reprice(self, action: Action) -> None:
        """A calibration excluded or included again reprices the lit runs near it: said, and shown. The annotation
        is stored whatever happens here (a damaged manifest): said, not the worker's error."""
        try:
            line = await asyncio.to_thread(self.lab.store.reprice, action)
        except LabtuiError as exc:
            self.notify(f"power_w not repriced: {exc}", title="Metrics", severity="warning")
            return
        if line is not None:
            self.notify(line, title="Metrics")
            self.reload()

    @said_errors
    def _open_detail(self, run_id: str) -> None:
        """The run's detail; again after a change made from it, which it says first: a dialog clears the toasts (one
        hid its keys at 80×24), and the change was seen only by paging down to the annotations."""
        done, self.just_said = self.just_said, None
        dialog = run_dialog(self.lab.store.manifest(), run_id, self.lab, partial(self._annotate_shown, run_id), done)
        if dialog is not None:
            self.app.push_screen(dialog)

    @said_errors
    def _annotate_shown(self, run_id: str, action: str, records: int) -> None:
        """An annotation key in a run's detail: on that run alone, then its detail again, the annotation in it; `u`
        undoes as in the history, then shows it again saying what it undid. Annotated by someone else since the
        detail showed `records` of its records (a `*` on "none" unstarred a colleague's star): not done, its detail
        shown again."""
        if action == "undo":
            self.action_undo(partial(self._open_detail, run_id))
            return
        if self.lab.store.annotation_log(run_id).height != records:
            self.just_said = "annotated meanwhile, in another app or terminal: see its annotations below; the key " \
                             "again changes them"
            self._open_detail(run_id)
            return
        rows = self.runs.filter(pl.col("run_id") == run_id)
        act = {"star": self._star, "exclude": self._exclude, "tag": self._tag, "note": self._note}[action]
        act(rows, partial(self._open_detail, run_id))


def _tag_change(rows: pl.DataFrame, text: str) -> Change:
    """A tag as typed: `-tag` removes it, from runs that have it (else nothing would change, yet a record would
    say it was removed). Nothing typed is asked for again saying what to type (the store's `a tag is one line of
    text without ';' (got '')` said what a tag may not be)."""
    tag = text.removeprefix("-").strip()
    if not tag:
        raise AnnotationError("type a tag, or -tag to remove one")
    if not text.startswith("-"):
        return Change("tag", text)
    if not rows.select(pl.col("tags").list.contains(tag).any()).item():
        raise AnnotationError(f"no run here has the tag {tag!r}")
    return Change("untag", tag)


def _runs_label(rows: pl.DataFrame) -> str:
    return f"seq {rows['seq'][0]}" if rows.height == 1 else f"{rows.height} runs"


def _these(rows: pl.DataFrame) -> str:
    return "this run" if rows.height == 1 else "these runs"


def _star_or_unstar(runs: pl.DataFrame) -> Change:
    """The star key: unstar runs that are all starred, else star them."""
    return Change("unstar" if runs["starred"].all() else "star")
