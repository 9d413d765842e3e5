"""Rejected raw files: why, where in the file, and a one-key re-stage once the file is fixed."""

from __future__ import annotations

import asyncio
import os
import shlex
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from zoneinfo import ZoneInfo

import polars as pl
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult, SuspendNotSupported
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.reactive import reactive
from textual.widgets import Header
from textual.worker import Worker, WorkerState

from labtui.core.rejects import RejectRecord
from labtui.core.stage_events import StageReport
from labtui.core.wording import counted, shown
from labtui.tui.base import LabFooter, LabScreen, Shown
from labtui.tui.dialogs import ConfirmDialog
from labtui.tui.stage import StageScreen
from labtui.tui.store import short_path
from labtui.tui.table import Column, FrameTable

LINE_ARGUMENT_EDITORS = {"vi", "vim", "nvim", "nano", "emacs", "micro"}  # accept `+N file`
FALLBACK_EDITORS = ("nano", "micro")  # without $VISUAL or $EDITOR: editors that show how to save and quit

COLUMNS = [
    Column("source_file", "file", max_width=48),
    Column("kind", "kind", max_width=20),
    Column("line", "line", right=True),
    Column("when", "rejected"),
    Column("reason", "reason", max_width=200, prose=True),
]


def rejects_frame(records: list[RejectRecord], zone: ZoneInfo) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "source_file": [r.source_file for r in records],
            "kind": [r.kind for r in records],
            "line": [r.line for r in records],
            "when": [r.rejected_at_utc.astimezone(zone).strftime("%Y-%m-%d %H:%M") for r in records],
            "reason": [r.reason for r in records],
        },
        schema={"source_file": pl.String, "kind": pl.String, "line": pl.Int64, "when": pl.String, "reason": pl.String},
    )


def choose_editor() -> tuple[list[str] | None, bool]:
    """The command that edits a file: $VISUAL, $EDITOR, else the first fallback installed (never vi, which a
    physicist may not know how to leave); whether it is a fallback. A blank variable is unset, and one with an
    unclosed quote is taken whole, to be said as a command that cannot start (both crashed the app)."""
    configured = os.environ.get("VISUAL", "").strip() or os.environ.get("EDITOR", "").strip()
    if configured:
        try:
            return shlex.split(configured), False
        except ValueError:
            return [configured], False
    found = next(filter(None, map(shutil.which, FALLBACK_EDITORS)), None)
    return ([found] if found else None), True


def render_excerpt(lines: list[tuple[int, str]], bad: int | None) -> tuple[Text, int | None]:
    """The excerpt, numbered, the offending line highlighted; and that line's row in it (None: not in it)."""
    text = Text()
    previous, row, bad_row = 0, 0, None
    for number, content in lines:
        if number != previous + 1:
            text.append("     ⋮\n", style="dim")
            row += 1
        if number == bad:
            bad_row = row
        style = "bold reverse" if number == bad else ""
        text.append(f"{number:>5} ", style="dim" if number != bad else "bold")
        text.append(shown(content.expandtabs(4)) + "\n", style=style)  # a NUL or an escape: seen, not acted on
        previous, row = number, row + 1
    return text, bad_row


class RejectsScreen(LabScreen):
    HELP = (
        "Raw files that could not be staged, with the reason; the pane shows the file with the offending line "
        "highlighted. Fix the file (o opens it in $VISUAL or $EDITOR, else nano), then r re-stages it; "
        "R re-stages every rejected file."
    )
    AUTO_FOCUS = "#rejects"
    BINDINGS = [
        Binding("r", "restage", "Re-stage file", id="restage"),
        Binding("R", "restage_all", "Re-stage all", id="restage_all"),
        Binding("o", "edit", "Edit ($EDITOR)", id="edit"),
    ]

    reason: reactive[Text] = reactive(Text)  # why the file under the cursor was rejected
    file_lines: reactive[Text] = reactive(Text)  # its first lines and the lines around the offending one

    def __init__(self, *, focus: str | None = None) -> None:
        super().__init__()
        self.focus_file = focus
        self.records: dict[str, RejectRecord] = {}

    def compose(self) -> ComposeResult:
        yield Header()
        yield FrameTable(COLUMNS, key="source_file", id="rejects", choosable=False)  # the pane shows the file
        yield Shown(id="reason").data_bind(text=RejectsScreen.reason)  # above the file's lines: stays in view
        with VerticalScroll(id="detail"):
            yield Shown(id="excerpt").data_bind(text=RejectsScreen.file_lines)
        yield LabFooter()

    def on_mount(self) -> None:
        self.title = "Rejects"
        self.reload()

    def reload(self) -> None:
        self.load()

    @work(group="load", exclusive=True, exit_on_error=False)
    async def load(self) -> None:
        records = await asyncio.to_thread(self.lab.store.rejects)
        self.records = {record.source_file: record for record in records}
        table = self.query_one(FrameTable)
        table.show(rejects_frame(records, self.lab.config.zone), keep=self.focus_file)
        self.focus_file = None
        self.sub_title = counted(len(records), "file")
        self.refresh_bindings()  # its keys are offered only while there is a file to act on
        if not records:
            self._detail(Text("No rejected files. 🎉"), Text())

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """r, R and o act on rejected files: with none, the footer did offer them, and they did nothing."""
        return bool(self.records) or action not in {"restage", "restage_all", "edit"}

    @on(FrameTable.CursorMoved, "#rejects")
    def _cursor(self, event: FrameTable.CursorMoved) -> None:
        if event.row is not None:
            self.preview(self.records[event.row["source_file"]])

    @work(group="preview", exclusive=True, exit_on_error=False)
    async def preview(self, record: RejectRecord) -> None:
        reason = Text.assemble((f"{record.kind}: ", "bold"), record.describe(), "\n", (record.source_file, "dim"))
        try:
            lines = await asyncio.to_thread(self.lab.store.excerpt, record)
        except OSError as exc:
            self._detail(reason, Text(f"cannot read the file: {exc.strerror or exc}", style="italic"))
            return
        self._detail(reason, *render_excerpt(lines, record.line))

    def _detail(self, reason: Text, body: Text, bad_row: int | None = None) -> None:
        self.reason, self.file_lines = reason, body
        self.call_after_refresh(self._show_bad_line, bad_row)

    def _show_bad_line(self, bad_row: int | None) -> None:
        """The pane shows the offending line, mid-height (it showed the file's first lines, the line 70 below them
        at 80×24); the top where there is none."""
        detail = self.query_one("#detail", VerticalScroll)
        if bad_row is None:
            detail.scroll_home(animate=False)
            return
        detail.scroll_to(y=max(0, bad_row - detail.scrollable_content_region.height // 2), animate=False)

    # -- actions ----------------------------------------------------------------------------------------------
    def _current(self) -> RejectRecord | None:
        row = self.query_one(FrameTable).row
        return self.records.get(row["source_file"]) if row else None

    def action_restage(self) -> None:
        record = self._current()
        if record is not None:
            self._confirm_cut_short([record], lambda take: self._restage_one(record.source_file, take))

    def _restage_one(self, source_file: str, take_cut_short: bool) -> None:
        self.notify(f"re-staging {source_file}…")
        self.restage(source_file, take_cut_short)

    def _confirm_cut_short(self, records: list[RejectRecord], go: Callable[[bool], object]) -> None:
        """`go(take_cut_short)`. A file still as it was found cut short replaces its staged run, whose rows exist
        nowhere else, only if the user says yes to that; anything else goes at once, judged again: a file restored
        since (the question told the user to do what they had done) stages, one cut again is refused again."""
        cut = [record for record in records if record.kind == "cut_short" and self._unchanged_since(record)]
        if not cut:
            go(False)
            return
        body = Text(f"{counted(len(cut), 'file')} cut short since staged: re-staging takes what is left of each "
                    "and replaces its staged run, whose rows are in no raw file now.\n\n")
        for record in cut[:5]:
            body.append(f"• {shown(record.source_file)}: {record.reason.partition(';')[0]}\n")
        if len(cut) > 5:
            body.append(f"… and {len(cut) - 5} more\n")
        body.append("\nTo keep the staged run, restore the file instead.", style="italic")

        def answered(yes: bool | None) -> None:
            if yes:
                go(True)

        self.app.push_screen(ConfirmDialog("Replace staged runs with cut files?", body), answered)

    def _unchanged_since(self, record: RejectRecord) -> bool:
        """Whether the file has the size and mtime it was rejected with (False when it is gone)."""
        try:
            now = self.lab.store.raw_path(record.source_file).stat()
        except OSError:
            return False
        return (now.st_size, now.st_mtime_ns) == (record.source_size, record.source_mtime_ns)

    @work(thread=True, group="restage", exclusive=True, exit_on_error=False)
    def restage(self, source_file: str, take_cut_short: bool) -> StageReport:
        return self.lab.store.restage(source_file, take_cut_short=take_cut_short)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.worker.group != "restage":
            return
        if event.state is WorkerState.SUCCESS and event.worker.result is not None:
            self._outcome(event.worker.result)
            self.lab.check_store()

    def _outcome(self, report: StageReport) -> None:
        if report.staged:
            self.notify("staged: the file left the rejects and is in its chip's history", title="✔ Re-staged")
        elif report.new_rejects:
            self.notify(report.new_rejects[0].describe(), title="✘ Still rejected", severity="error", timeout=10)
        elif report.busy:
            self.notify("the file is still being written; try again in a moment", severity="warning")
        else:
            self.notify("the file is no longer in the raw folder; its reject record was dropped", severity="warning")

    def action_restage_all(self) -> None:
        if self.records:
            only = [self.lab.store.raw_path(source) for source in self.records]
            self._confirm_cut_short(list(self.records.values()),
                                    lambda take: self.app.push_screen(StageScreen(only=only, take_cut_short=take)))

    def action_edit(self) -> None:
        record = self._current()
        if record is None:
            return
        path = self.lab.store.raw_path(record.source_file)
        editor, fallback = choose_editor()
        if editor is None:
            self.app.copy_to_clipboard(str(path))
            installed = next(filter(shutil.which, ("vim", "vi", "emacs")), "your-editor")  # nano and micro: none
            self.notify(f"no editor: set one with `export EDITOR={installed}` (in ~/.bashrc to keep it). The file's "
                        f"path is on the clipboard: {short_path(path)}", title="Edit", severity="warning", timeout=15)
            return
        line = [f"+{record.line}"] if record.line and Path(editor[0]).name in LINE_ARGUMENT_EDITORS else []
        failed: OSError | None = None
        try:
            with self.app.suspend():
                try:  # caught inside: an error leaving `suspend` skips the resume, a blank app deaf to keys
                    subprocess.run([*editor, *line, str(path)], check=False)
                except OSError as exc:
                    failed = exc
        except SuspendNotSupported:
            self.notify("this terminal cannot hand over to an editor", severity="error")
            return
        if failed is not None:
            self.notify(f"cannot start {editor[0]}: {failed.strerror or failed}", severity="error")
            return
        self.preview(record)
        chosen = f" (opened in {Path(editor[0]).name}: $EDITOR is not set)" if fallback else ""
        self.notify(f"press r to re-stage the file{chosen}", title="Edited?")
