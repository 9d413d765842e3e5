"""Annotating from the history screen (Pilot): star, exclude with a reason, tag, note, undo, filters, run detail,
and annotations written by another process showing up by themselves."""

from __future__ import annotations

import datetime as dt
import os
import shutil
from pathlib import Path

import polars as pl
import pytest
from textual.widgets import Input

from labtui.core.annotations import Change, annotate, current_annotations, read_log
from labtui.core.annotations.log import ACTIONS_DIR, annotations_dir
from labtui.core.metrics import read_metrics
from labtui.tui.app import LabApp
from labtui.tui.dialogs import ErrorDialog, FieldsDialog, TextDialog
from labtui.tui.history import HistoryScreen
from labtui.tui.plot import PlotScreen
from tests.lab import Lab, epoch, raw_csv, tui_lab, unwritable
from tests.pilot import record_notifications, said, settle, wait_until
from tests.test_tui import column, dialog_text, open_chip, table, text_of


@pytest.fixture
def lab(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Lab:
    monkeypatch.chdir(tmp_path)
    return tui_lab(tmp_path, user="ana")


def marks(lab: Lab) -> dict[str, dict]:
    return {row["run_id"]: row for row in current_annotations(lab.config.store_root).iter_rows(named=True)}


async def answer(pilot, text: str) -> None:
    assert isinstance(pilot.app.screen, TextDialog)
    await pilot.press(*text, "enter")
    await settle(pilot)


async def test_the_star_key_toggles_as_often_as_it_is_pressed(lab: Lab) -> None:
    """Each * judged the run by the table's rows, which reload after a change: pressed twice before the reload,
    the second starred again ("nothing to change"), and ten presses left the run starred."""
    app = LabApp(lab.config)
    async with app.run_test(size=(140, 30)) as pilot:
        await open_chip(pilot, "67")
        first = column(app, "run_id")[0]
        for presses, starred in ((2, False), (3, True), (9, False)):  # 2, 5 and 14 presses in all
            for _ in range(presses):
                app.screen.action_star()  # no reload in between: as fast as keys repeat
            await settle(pilot)
            assert marks(lab).get(first, {"starred": False})["starred"] is starred, presses
        app.screen.action_star()
        app.screen.action_undo()  # right after: it undid nothing ("no annotation of yours to undo here")
        await settle(pilot)
        assert not marks(lab).get(first, {"starred": False})["starred"]
        await pilot.press("escape")  # back on the chips, the chip under the cursor
        await settle(pilot)
        await pilot.press("enter")  # the history anew: an annotation from before it opened is changed by its key
        await settle(pilot)
        app.screen.action_undo()
        await settle(pilot)
        assert said(app)[-1].message == ("nothing to undo: u takes back the annotations made since this history "
                                         "opened; change an earlier one with its key (* x # n)")


async def test_a_run_detail_takes_the_annotation_keys_the_config_gives(tmp_path: Path, monkeypatch) -> None:
    """`keys: {star: s}` moved the history's star to `s`; the detail kept `*`, and its hint said so."""
    monkeypatch.chdir(tmp_path)
    lab = tui_lab(tmp_path, keys={"star": "s"})
    app = LabApp(lab.config)
    async with app.run_test(size=(140, 40)) as pilot:
        await open_chip(pilot, "67")
        run = table(app).row["run_id"]
        await pilot.press("enter")
        await settle(pilot)
        assert app.screen.query_one("#dialog").border_subtitle.startswith("s star · x exclude · # tag · n note")
        await pilot.press("s")
        await wait_until(pilot, lambda: isinstance(app.screen, FieldsDialog) and "starred" in dialog_text(app))
        assert marks(lab)[run]["starred"]


async def exclude_the_first_run(pilot, app: LabApp, reason: str = "contact lost") -> dict:
    """Alisson67's history opened and its first run excluded (x, and a reason): that run's row."""
    await open_chip(pilot, "67")
    row = table(app).row
    assert row is not None
    await pilot.press("x")
    await answer(pilot, reason)
    return row


async def test_an_exclusion_undone_is_said_in_view_and_the_cursor_goes_back_to_its_run(lab: Lab) -> None:
    """`undone: excluded “…”: seq 1 (1 not in view)` with seq 1 back on screen, and the cursor on the next run: a
    tag then went to seq 2."""
    app = LabApp(lab.config)
    async with app.run_test(size=(140, 30)) as pilot:
        run = (await exclude_the_first_run(pilot, app))["run_id"]
        assert run not in column(app, "run_id")  # hidden by default
        await pilot.press("u")
        await settle(pilot)
        assert said(app)[-1].message == "undone: excluded “contact lost”: seq 1"
        assert table(app).row["run_id"] == run
        await pilot.press("x")  # hidden by a filter meanwhile, a run undone is said out of view
        await answer(pilot, "contact lost")
        await pilot.press("slash", *"no such text", "enter")
        await settle(pilot)
        await pilot.press("u")
        await settle(pilot)
        assert said(app)[-1].message == "undone: excluded “contact lost”: seq 1 (1 not in view)"


async def test_undo_says_what_a_colleague_changed_since_and_leaves_it(lab: Lab) -> None:
    """u put back the state before the user's exclusion, erasing the one a colleague made since from the CLI."""
    app = LabApp(lab.config)
    async with app.run_test(size=(140, 30)) as pilot:
        await open_chip(pilot, "67")
        runs = read_runs(lab)
        await pilot.press("x")
        await answer(pilot, "reason A")
        annotate(lab.config.store_root, runs.head(1), [Change("include")], author="bo")
        annotate(lab.config.store_root, runs.head(1), [Change("exclude", "reason B")], author="bo")
        await pilot.press("u")
        await settle(pilot)
        assert marks(lab)[runs["run_id"][0]]["exclude_reason"] == "reason B"
        # seq 1, excluded still, is hidden: said as it is when undone
        assert said(app)[-1].message == ("nothing undone: excluded “reason A”: seq 1 (1 not in view); 1 annotation "
                                         "left as bo changed it since")
        app.screen.focus_run = runs["run_id"][0]  # as an undo's reload puts the cursor on its run, excluded still
        app.screen.show_view()
        await settle(pilot)
        assert not app.screen.view.include_excluded  # the view kept as it was: only a run it opens at is shown


async def test_a_note_the_store_refuses_is_asked_again_with_its_text(lab: Lab) -> None:
    """On a read-only store the typed text was lost: the error said, and `n` opened an empty field."""
    app = LabApp(lab.config)
    async with app.run_test(size=(140, 30)) as pilot:
        await open_chip(pilot, "67")
        await pilot.press("asterisk")  # the log's folder exists
        await settle(pilot)
        with unwritable(annotations_dir(lab.config.store_root) / ACTIONS_DIR):
            await pilot.press("n")
            await answer(pilot, "re-mounted after the contact was lost")
            assert isinstance(app.screen, TextDialog)
            assert app.screen.query_one(Input).value == "re-mounted after the contact was lost"
            assert "cannot write the annotation" in text_of(app.screen, "#dialog-problem")
            await pilot.press("escape")
        await pilot.press("n")
        await answer(pilot, "re-mounted")
        assert next(iter(marks(lab).values()))["note"] == "re-mounted"


async def test_esc_discards_typed_text_only_when_pressed_again(lab: Lab) -> None:
    """One esc too many lost a paragraph of note: typed text takes a second esc (the field's hint says so); typing
    on asks again; a field left as it was opened, or blank, is cancelled by one."""
    app = LabApp(lab.config)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_chip(pilot, "67")
        await pilot.press("n", *"contact re-bonded", "escape")
        await settle(pilot)
        assert isinstance(app.screen, TextDialog) and app.screen.query_one(Input).value == "contact re-bonded"
        assert app.screen.query_one("#dialog").border_subtitle == TextDialog.DISCARD_HINT
        await pilot.press(*" on pad 3", "escape")
        await settle(pilot)
        assert isinstance(app.screen, TextDialog)  # typed on: asked again
        await pilot.press("escape")
        await settle(pilot)
        assert not isinstance(app.screen, TextDialog) and marks(lab) == {}
        for keys in ((), (*"  ",)):
            await pilot.press("n", *keys, "escape")
            await settle(pilot)
            assert not isinstance(app.screen, TextDialog)


async def test_star_exclude_tag_note_and_undo_from_the_history(lab: Lab) -> None:
    app = LabApp(lab.config)
    async with app.run_test(size=(140, 30)) as pilot:
        await open_chip(pilot, "67")
        assert isinstance(app.screen, HistoryScreen)
        first, second = column(app, "run_id")[:2]
        await pilot.press("asterisk")
        await settle(pilot)
        assert marks(lab)[first]["starred"]
        assert "★" in table(app).render_line(1).text  # the first row's marks column
        await pilot.press("number_sign")
        await answer(pilot, "455 nm")
        await pilot.press("n")
        await answer(pilot, "re-mounted")
        assert (marks(lab)[first]["tags"], marks(lab)[first]["note"]) == (["455 nm"], "re-mounted")
        await settle(pilot)
        assert "★ #✎" in table(app).render_line(1).text  # starred, tagged and noted: each marked
        # a selection: both runs, one action
        await pilot.press("space", "j", "space", "x")
        await answer(pilot, "contact lost")
        assert marks(lab)[first]["exclude_reason"] == marks(lab)[second]["exclude_reason"] == "contact lost"
        assert first not in column(app, "run_id") and second not in column(app, "run_id")  # hidden by default
        # no filter: not "3 of 5 runs", which read as one with the excluded runs alone hidden
        shown = len(column(app, "run_id"))
        status = text_of(app, "#status")
        assert status.startswith(f"{shown} runs · ") and "2 excluded runs hidden (X shows)" in status, status
        assert app.screen.active_bindings["X"].binding.description == "Show excluded"
        await pilot.press("X")  # show them again
        await settle(pilot)
        assert column(app, "run_id")[:2] == [first, second]
        assert app.screen.active_bindings["X"].binding.description == "Hide excluded"
        await pilot.press("u")  # undo the exclusion: a new record, the old ones stay
        await settle(pilot)
        assert not marks(lab)[first]["excluded"] and second not in marks(lab)
        assert read_log(lab.config.store_root)["kind"].to_list().count("include") == 2
        assert said(app)[-1].message == "undone: excluded “contact lost”: 2 runs"  # which runs, as when done
        await pilot.press("S")  # starred only
        await settle(pilot)
        assert column(app, "run_id") == [first]
        await pilot.press("S", "slash", *"re-mount", "enter")  # the text filter finds notes (and tags)
        await settle(pilot)
        assert column(app, "run_id") == [first]
        assert set(read_log(lab.config.store_root)["author"].to_list()) == {"ana"}


def restage_corrected(lab: Lab, source: str) -> str:
    """Another terminal corrects the raw file's start time (5 s later) and re-stages it: its new run_id."""
    old = lab.run_of(source)
    lab.write_run(source, old["proc"], start=old["start_time_utc"] + dt.timedelta(seconds=5))
    restaged = lab.cli("restage", source)
    assert restaged.returncode == 0, restaged.stderr
    return lab.run_of(source)["run_id"]


async def test_a_run_restaged_under_a_new_run_id_while_its_reason_is_typed_is_the_one_excluded(lab: Lab) -> None:
    """x, then another terminal re-stages the run after correcting its start time, then the reason: the exclusion
    went to the old run_id, which is no run any more; the app said "excluded" and the run stayed in every view."""
    app = LabApp(lab.config)
    async with app.run_test(size=(140, 30)) as pilot:
        await open_chip(pilot, "67")
        source = table(app).row["source_file"]
        old = lab.run_of(source)
        await pilot.press("x")
        assert isinstance(app.screen, TextDialog)
        new_id = restage_corrected(lab, source)
        assert new_id != old["run_id"] and lab.run_of(source)["chip_number"] == 67
        await answer(pilot, "contact lost")
        assert marks(lab)[new_id]["exclude_reason"] == "contact lost"
        assert old["run_id"] not in marks(lab)
        app.check_store()
        await settle(pilot)
        assert new_id not in column(app, "run_id")  # hidden, as an excluded run is


async def test_a_selected_run_restaged_under_a_new_run_id_stays_selected(lab: Lab) -> None:
    """Selected for a plot, then re-staged from another terminal after its start time was corrected: it left the
    selection silently, and p plotted one run fewer than the user chose."""
    app = LabApp(lab.config)
    async with app.run_test(size=(140, 30)) as pilot:
        await open_chip(pilot, "67")
        await pilot.press("space", "j", "space")
        first, second = table(app).frame["source_file"].to_list()[:2]
        restage_corrected(lab, first)
        app.check_store()
        await settle(pilot)
        assert table(app).selected == {lab.run_of(first)["run_id"], lab.run_of(second)["run_id"]}
        assert "2 selected" in text_of(app, "#status")


async def test_u_undoes_on_the_run_as_it_is_now_after_a_restage_and_reattach(lab: Lab) -> None:
    """x, then another terminal re-stages the run under a new run_id and `validate --fix` re-attaches the exclusion
    there; u wrote its "include" under the old run_id and the run stayed excluded while the app said "undone"."""
    app = LabApp(lab.config)
    async with app.run_test(size=(140, 30)) as pilot:
        source = (await exclude_the_first_run(pilot, app))["source_file"]
        restage_corrected(lab, source)
        fixed = lab.cli("validate", "--fix")
        assert "re-attached the annotations of 1 re-staged run" in fixed.stdout, fixed.stdout + fixed.stderr
        new_id = lab.run_of(source)["run_id"]
        assert marks(lab)[new_id]["excluded"]
        await pilot.press("u")
        await settle(pilot)
        assert new_id not in marks(lab) or not marks(lab)[new_id]["excluded"]


async def test_u_undoes_a_re_staged_runs_annotation_not_re_attached_yet(lab: Lab) -> None:
    """x, then the run is re-staged under a new run_id, its exclusion not re-attached yet: u compared the old
    run_id's state with the new one's and said "nothing undone … left as someone changed it since". It is undone
    where it is, so re-attaching moves nothing back."""
    app = LabApp(lab.config)
    async with app.run_test(size=(140, 30)) as pilot:
        await open_chip(pilot, "67")
        source, old_id = table(app).row["source_file"], table(app).row["run_id"]
        await pilot.press("x")
        await answer(pilot, "contact lost")
        restage_corrected(lab, source)
        await pilot.press("u")
        await settle(pilot)
        assert said(app)[-1].message.startswith("undone: excluded “contact lost”")
        assert not marks(lab).get(old_id, {"excluded": False})["excluded"]
        lab.cli("validate", "--fix")
        assert not marks(lab).get(lab.run_of(source)["run_id"], {"excluded": False})["excluded"]


async def test_annotations_another_user_made_unreadable_are_said_once_not_a_crash(lab: Lab, monkeypatch) -> None:
    """Another user's first `labtui annotate` (umask 077) made `_annotations/` this user cannot read: the store poll
    raised PermissionError on the app's timer and the app exited with a traceback (exit 70)."""
    app = LabApp(lab.config)
    async with app.run_test(size=(140, 30)) as pilot:
        await open_chip(pilot, "67")
        annotate(lab.config.store_root, table(app).frame[:1], [Change("star")], author="bo")
        folder = lab.config.store_root / "_annotations"
        if os.geteuid() == 0:  # root reads everything: emulate the permission error where the log is looked at
            real_stat = Path.stat

            def deny(path: Path, *args: object, **kwargs: object) -> os.stat_result:
                if path.is_relative_to(folder):
                    raise PermissionError(13, "Permission denied", str(path))
                return real_stat(path, *args, **kwargs)  # type: ignore[arg-type]

            monkeypatch.setattr(Path, "stat", deny)
        else:
            folder.chmod(0)
        try:
            app.check_store()
            app.check_store()
            await settle(pilot)
            assert app.is_running and isinstance(app.screen, ErrorDialog)
            said_once = f"labtui: cannot read the annotations in {folder / 'log.parquet'}: Permission denied"
            assert dialog_text(app).strip() == said_once  # in the CLI's words, not "Something went wrong"
            await pilot.press("escape")
            app.check_store()  # the same problem is not said again at every poll,
            app.screen.reload()  # nor by the screen's own read of it
            await wait_until(pilot, lambda: not any(worker.is_running for worker in app.workers))
            await pilot.pause()
            assert isinstance(app.screen, HistoryScreen)
        finally:
            monkeypatch.undo()
            folder.chmod(0o755)


async def test_the_dashboard_validates_again_when_only_the_annotations_changed(lab: Lab) -> None:
    """`labtui validate --fix` in another terminal re-attached the annotations of a re-staged run (annotations only,
    the manifest unchanged): the dashboard kept its warning about them for good."""
    app = LabApp(lab.config)
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(pilot)
        source = lab.manifest().filter(pl.col("chip_number") == 67)["source_file"][0]
        annotate(lab.config.store_root, lab.manifest().filter(pl.col("source_file") == source), [Change("star")],
                 author="bo")
        restage_corrected(lab, source)
        app.check_store()
        await settle(pilot)
        warned = text_of(app, "#validation")
        fixed = lab.cli("validate", "--fix")
        assert "re-attached the annotations of 1 re-staged run" in fixed.stdout, fixed.stdout + fixed.stderr
        app.check_store()
        await settle(pilot)
        assert text_of(app, "#validation") != warned
        assert text_of(app, "#validation") == text_of_validation(lab)


async def test_an_annotation_does_not_make_a_validation_without_annotation_findings_stale(lab: Lab) -> None:
    """Every annotation (the app's own too) made the dashboard validate the whole store again: ~1.4 s at 65k runs,
    for findings an annotation cannot change."""
    app = LabApp(lab.config)
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(pilot)
        validated = app.last_validation
        assert validated is not None and app.validated is not None
        assert not [f for f in validated.findings if f.code.startswith("annotations")]
        annotate(lab.config.store_root, lab.manifest()[:1], [Change("star")], author="bo")
        app.check_store()
        await settle(pilot)
        assert app.last_validation is validated  # not made again


def text_of_validation(lab: Lab) -> str:
    """The dashboard card's text for the store as it is (`labtui validate`'s counts)."""
    from labtui.core.validate import validate

    counts = validate(lab.config).counts()
    return f"✔ healthy\n{counts['warning']} warning{'s' if counts['warning'] != 1 else ''}, {counts['info']} info"


def problem(app: LabApp) -> str:
    """Why the text dialog asks again."""
    return str(app.screen.query_one("#dialog-problem").render())


async def test_x_on_an_excluded_run_includes_it_and_an_empty_reason_is_asked_for_again(lab: Lab,
                                                                                       monkeypatch) -> None:
    record_notifications(monkeypatch)
    app = LabApp(lab.config)
    async with app.run_test(size=(140, 30)) as pilot:
        await open_chip(pilot, "67")
        first = column(app, "run_id")[0]
        await pilot.press("x")
        await answer(pilot, "")
        assert first not in marks(lab)
        assert isinstance(app.screen, TextDialog)  # asked again, saying why inside the dialog, not over its field
        assert problem(app).startswith("an exclusion needs a reason")
        assert not said(app)
        await pilot.press("escape")  # cancelled
        await settle(pilot)
        assert first not in marks(lab)
        await pilot.press("x")
        await pilot.press("escape")  # cancelled
        await settle(pilot)
        assert first not in marks(lab)
        await pilot.press("X", "x")
        await answer(pilot, "noisy")
        assert marks(lab)[first]["excluded"]
        await pilot.press("x")  # the cursor is still on it (X shows excluded runs): include, no question asked
        await settle(pilot)
        assert not isinstance(app.screen, TextDialog) and first not in marks(lab)


async def test_text_that_cannot_be_stored_is_asked_for_again_and_nothing_is_written(lab: Lab, monkeypatch) -> None:
    record_notifications(monkeypatch)
    app = LabApp(lab.config)
    async with app.run_test(size=(140, 30)) as pilot:
        await open_chip(pilot, "67")
        first = column(app, "run_id")[0]
        await pilot.press("number_sign")
        app.screen.query_one(Input).value = "x" * 201  # typing 201 keys through the pilot takes seconds
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, TextDialog) and app.screen.query_one(Input).value == "x" * 201  # kept
        assert "a tag holds at most 200 characters (this one has 201)" in problem(app)
        await pilot.press("escape")
        for nothing in ("", "-"):  # said what to type, not what a tag may not hold
            await pilot.press("number_sign")
            await answer(pilot, nothing)
            assert isinstance(app.screen, TextDialog) and problem(app) == "type a tag, or -tag to remove one"
            await pilot.press("escape")
        await pilot.press("number_sign")
        await answer(pilot, "-455 nm")  # a tag no run here has: removing it would change nothing
        assert isinstance(app.screen, TextDialog) and problem(app).endswith("no run here has the tag '455 nm'")
        await pilot.press("escape")
        await settle(pilot)
        assert first not in marks(lab) and read_log(lab.config.store_root).is_empty()
        await pilot.press("space", "x")  # selected, then excluded: hidden, but still selected
        await answer(pilot, "noisy")
        await pilot.press("p")  # only excluded runs chosen: hidden from the plot, and nothing opens
        await settle(pilot)
        assert said(app)[-1].message == "nothing to plot: 1 excluded run hidden (X shows excluded runs)"
        await pilot.press("X", "p")  # shown: plotted, and said excluded in its legend (it looked like any other)
        await settle(pilot)
        assert isinstance(app.screen, PlotScreen)
        labels = [series.label for series in app.screen.spec.series]  # the run's sweep legs
        assert labels and all(label.endswith("(excluded)") for label in labels), labels


async def test_run_detail_lists_every_annotation_with_who_and_when(lab: Lab) -> None:
    runs = read_runs(lab)
    annotate(lab.config.store_root, runs.head(1), [Change("star"), Change("note", "good one")], author="bo")
    app = LabApp(lab.config)
    async with app.run_test(size=(140, 40)) as pilot:
        await open_chip(pilot, "67")
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, FieldsDialog)
        text = dialog_text(app)
        assert "bo  starred" in text and "bo  note “good one”" in text


async def test_the_annotation_keys_in_a_run_detail_act_on_that_run_and_show_it_again(lab: Lab) -> None:
    """The detail said `none (* star, x exclude, # tag, n note)` and those keys did nothing there. Now each acts on
    the run shown, not on the history's selection, and the detail opens again with the annotation in it; a question
    cancelled opens it again unchanged."""
    runs = read_runs(lab)
    shown, selected = runs["run_id"][1], runs["run_id"][0]
    app = LabApp(lab.config)
    async with app.run_test(size=(140, 40)) as pilot:
        await open_chip(pilot, "67")
        await pilot.press("space", "j", "enter")  # the first run selected, the detail of the second
        await settle(pilot)
        assert "* star · x exclude · # tag · n note · u undo · esc close" in app.screen.query_one(
            "#dialog").border_subtitle
        await pilot.press("asterisk")
        await wait_until(pilot, lambda: isinstance(app.screen, FieldsDialog) and "starred" in dialog_text(app))
        assert marks(lab)[shown]["starred"] and selected not in marks(lab)
        # said at its top: the dialog clears the toasts, and the change was seen only pages down
        assert dialog_text(app).lstrip().startswith("just now") and "starred: seq 2 · u undoes" in dialog_text(app)
        await pilot.press("n")
        await answer(pilot, "gate leak at -5 V")
        await wait_until(pilot, lambda: isinstance(app.screen, FieldsDialog) and "gate leak" in dialog_text(app))
        await pilot.press("number_sign")
        await settle(pilot)
        await pilot.press("escape")  # the tag's question cancelled: the detail again, as it was
        await wait_until(pilot, lambda: isinstance(app.screen, FieldsDialog))
        assert "just now" not in dialog_text(app)
        await pilot.press("x")
        await answer(pilot, "contact lost")
        await wait_until(pilot, lambda: isinstance(app.screen, FieldsDialog) and "contact lost" in dialog_text(app))
        assert marks(lab)[shown]["excluded"] and not marks(lab)[shown]["tags"]
        assert "· u undoes" in dialog_text(app)
        await pilot.press("u")  # as it says: the exclusion undone, the detail open again saying so (it closed)
        await wait_until(pilot, lambda: isinstance(app.screen, FieldsDialog) and "undone" in dialog_text(app))
        assert not marks(lab)[shown]["excluded"]
        assert dialog_text(app).lstrip().startswith("just now") and "undone: excluded “contact lost”: seq 2" in \
            dialog_text(app)
        assert "included" in dialog_text(app)  # its annotations as they are now
        for undone in ("note", "starred"):  # the run as it was before its first key
            await pilot.press("u")
            await wait_until(pilot, lambda undone=undone: isinstance(app.screen, FieldsDialog) and
                             f"undone: {undone}" in dialog_text(app))
        assert shown not in marks(lab)  # nothing left on it
        await pilot.press("u")  # nothing left: said in the detail, which stays
        await wait_until(pilot, lambda: isinstance(app.screen, FieldsDialog) and "nothing to undo" in dialog_text(app))
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, HistoryScreen) and table(app).selected == {selected}  # its selection as it was


async def test_a_key_in_a_detail_a_colleague_annotated_since_shows_it_first(lab: Lab) -> None:
    """The detail said `none`; a colleague starred the run meanwhile; `*` there, meant to star it, unstarred it (the
    star key toggles by the store's state). Now it shows the detail again with the colleague's star, and acts on
    the next key."""
    runs = read_runs(lab)
    app = LabApp(lab.config)
    async with app.run_test(size=(140, 40)) as pilot:
        await open_chip(pilot, "67")
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, FieldsDialog) and "none (* star" in dialog_text(app))
        annotate(lab.config.store_root, runs.head(1), [Change("star")], author="bo")
        app.check_store()
        await pilot.press("asterisk")
        await wait_until(pilot, lambda: isinstance(app.screen, FieldsDialog) and "annotated meanwhile" in
                         dialog_text(app))
        assert "starred" in dialog_text(app) and marks(lab)[runs["run_id"][0]]["starred"]
        await pilot.press("asterisk")  # the key again: now on what it shows
        await wait_until(pilot, lambda: isinstance(app.screen, FieldsDialog) and "unstarred: seq 1" in
                         dialog_text(app))
        assert runs["run_id"][0] not in marks(lab)


async def test_annotations_that_cannot_be_read_are_said_by_enter_and_p_not_a_crash(lab: Lab, monkeypatch) -> None:
    """A file in place of the annotations' actions folder: Enter on a run (its detail reads its annotations) and `p`
    exited the app with a traceback; the app says it, in the CLI's words, and goes on (a key pressed again, its
    dialog seen, says it in a toast: it did nothing at all)."""
    record_notifications(monkeypatch)
    app = LabApp(lab.config)
    async with app.run_test(size=(140, 30)) as pilot:
        await open_chip(pilot, "67")
        actions = annotations_dir(lab.config.store_root) / ACTIONS_DIR
        actions.parent.mkdir(exist_ok=True)
        if actions.exists():
            shutil.rmtree(actions)
        actions.write_text("restored from a backup by hand")
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, ErrorDialog))
        assert dialog_text(app).strip().startswith(f"labtui: cannot read the annotations in {actions}: Not a directory")
        await pilot.press("escape", "p")  # said once already: the dialog is not shown again until the store changes
        await settle(pilot)
        assert app.is_running and isinstance(app.screen, HistoryScreen)
        assert said(app)[-1].message.startswith(f"labtui: cannot read the annotations in {actions}")


async def test_selected_runs_pruned_in_another_terminal_are_said_gone(lab: Lab, monkeypatch) -> None:
    """Two runs selected, one pruned elsewhere: the status line dropped to one, unsaid, and the next `*` acted on
    the run under the cursor once none was left."""
    record_notifications(monkeypatch)
    app = LabApp(lab.config)
    async with app.run_test(size=(140, 30)) as pilot:
        await open_chip(pilot, "67")
        await pilot.press("space", "j", "space")
        first = column(app, "source_file")[0]
        (lab.raw / first).unlink()
        assert lab.cli("prune", "--yes").returncode == 0
        app.check_store()
        await wait_until(pilot, lambda: len(table(app).selected) == 1)
        await settle(pilot)
        assert {note.message for note in said(app) if note.title == "Selection"} == {
            "1 selected run left this history (pruned, or staged anew under another chip): 1 still selected"}


async def test_runs_staged_before_the_ones_shown_say_they_renumbered_the_history(lab: Lab, monkeypatch) -> None:
    """A day copied in late renumbered an open history silently: seq 6 became seq 33, and a seq noted for `labtui
    annotate 67 --seq …` named another run."""
    record_notifications(monkeypatch)
    app = LabApp(lab.config)
    async with app.run_test(size=(140, 30)) as pilot:
        await open_chip(pilot, "67")
        height = table(app).frame.height
        lab.write("2025-09-01/It2025-09-01_1.csv", raw_csv("It", start=epoch(2025, 9, 1)))  # before every run
        lab.stage()
        app.check_store()
        await wait_until(pilot, lambda: table(app).frame.height == height + 1)
        await settle(pilot)
        assert {note.message for note in said(app) if note.title == "History"} == {
            f"{height} runs of this history renumbered by runs staged or pruned before them: seq 1 is seq 2 now"}


async def test_annotations_from_another_process_show_up_by_themselves(lab: Lab) -> None:
    app = LabApp(lab.config)
    async with app.run_test(size=(140, 30)) as pilot:
        await open_chip(pilot, "67")
        first = column(app, "run_id")[0]
        annotate(lab.config.store_root, read_runs(lab).head(1), [Change("exclude", "from the CLI")], author="bo")
        app.check_store()  # the app polls this every 2 s
        await settle(pilot)
        assert first not in column(app, "run_id")


def read_runs(lab: Lab) -> pl.DataFrame:
    from labtui.core.manifest import read_manifest

    manifest = read_manifest(lab.config.manifest_path)
    return manifest.filter(pl.col("chip_number") == 67).sort("start_time_utc")


async def test_the_history_status_keeps_every_filter_in_view_at_80_columns(lab: Lab) -> None:
    """`47 of 81 runs · 2 excluded runs hidden (X shows) · sort: date ↑ · proc: It · 💡 light` is 84 columns:
    at 80×24 the light filter was cut off, and the count read as what the procedure alone left."""
    app = LabApp(lab.config)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_chip(pilot, "67")
        await pilot.press("space", "j", "space", "x")
        await answer(pilot, "contact lost")
        await pilot.press("t")
        while "proc: It" not in text_of(app, "#status"):
            await pilot.press("t")
            await settle(pilot)
        await pilot.press("l", "o", "j", "enter")  # sorted by date
        await settle(pilot)
        status = app.screen.query_one("#status")
        assert "💡 light" in text_of(app, "#status")
        drawn = "".join(strip.text for strip in status.render_lines(status.region.reset_offset))
        assert "light" in drawn


async def test_excluding_a_calibration_in_the_app_reprices_the_runs_it_priced(lab: Lab) -> None:
    """x on a setup calibration hid it from histories and plots, yet it still priced the lit runs near it (their
    power and responsivity): the app reprices them at once and says how many, and u gives them back."""
    lab.write("2025-10-13/LaserCalibration2025-10-13_5.csv", raw_csv("LaserCalibration", start=epoch(2025, 10, 13, 12)))
    lab.stage()

    def priced_by() -> list[str | None]:
        lit = read_metrics(lab.config).filter(pl.col("proc") == "It", pl.col("has_light"))
        return lit["calibration_run_id"].to_list()

    calibration = lab.run_of("2025-10-13/LaserCalibration2025-10-13_5.csv")["run_id"]
    assert calibration in priced_by()
    app = LabApp(lab.config)
    async with app.run_test(size=(120, 30)) as pilot:
        await pilot.press("c")
        await settle(pilot)
        await pilot.press("ctrl+l")
        await settle(pilot)
        await pilot.press("x")
        await answer(pilot, "power meter moved")
        await wait_until(pilot, lambda: said(app)[-1].title == "Metrics")
        assert said(app)[-1].message == "power_w repriced: 1 lit It run (1 by none)"
        assert calibration not in priced_by()
        repriced = sum(note.title == "Metrics" for note in said(app))
        await pilot.press("u")  # the undo's own note may come after the repricing's: any new one of the Metrics
        await wait_until(pilot, lambda: calibration in priced_by()
                         and sum(note.title == "Metrics" for note in said(app)) > repriced)


async def test_a_key_on_selected_runs_out_of_view_says_so(lab: Lab) -> None:
    """Runs selected, then excluded and hidden, stay selected (filters do not unselect) and a key applies to them:
    `starred: 2 runs` did not say that neither was on the screen."""
    app = LabApp(lab.config)
    async with app.run_test(size=(140, 30)) as pilot:
        await open_chip(pilot, "67")
        await pilot.press("space", "j", "space", "x")
        await answer(pilot, "contact lost")
        assert "2 selected (2 not in view)" in text_of(app, "#status")
        await pilot.press("asterisk")
        await wait_until(pilot, lambda: said(app)[-1].message.startswith("starred"))
        assert said(app)[-1].message == "starred: 2 runs (2 not in view) · u undoes"
        await pilot.press("X")  # the excluded runs shown: the undo says them as they are now, in view
        await settle(pilot)
        assert "2 selected" in text_of(app, "#status") and "not in view" not in text_of(app, "#status")
        await pilot.press("u")
        await wait_until(pilot, lambda: said(app)[-1].message.startswith("undone"))
        assert said(app)[-1].message == "undone: starred: 2 runs"


async def test_annotation_files_that_cannot_be_read_are_said_once_by_the_history(lab: Lab) -> None:
    """A damaged action file's exclusion is lost: the run was listed and plotted again in the app, unsaid, while
    `labtui history` said it on stderr."""
    actions = annotations_dir(lab.config.store_root) / ACTIONS_DIR
    actions.mkdir(parents=True, exist_ok=True)
    (actions / "20250101T000000000000Z-broken.json").write_text('{"action": "x", "rec')
    app = LabApp(lab.config)
    async with app.run_test(size=(140, 30)) as pilot:
        await open_chip(pilot, "67")
        app.screen.reload()  # a second read (any annotation, a stage) does not say it again
        await settle(pilot)
        warned = [note for note in said(app) if note.title == "Annotations"]
        assert [note.message for note in warned] == [
            "1 annotation file cannot be read: its records are left out (`labtui validate` names the files); `v` on "
            "the dashboard validates"]
