"""Validation: findings by severity, a jump to the run or file behind each, and the safe fixes on request."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import polars as pl
from rich.style import Style
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.reactive import reactive
from textual.widgets import Header, Tree
from textual.widgets.tree import TreeNode
from textual.worker import Worker, WorkerState

from labtui.core.findings import ValidationReport
from labtui.core.fixes import FixReport
from labtui.core.wording import counted, shown
from labtui.tui.base import LabFooter, LabScreen, Shown, said_errors
from labtui.tui.dialogs import ConfirmDialog, help_text
from labtui.tui.history import run_screen
from labtui.tui.rejects import RejectsScreen

SEVERITIES = (
    ("error", "✘ errors", "bold red"),
    ("warning", "⚠ warnings", "bold yellow"),
    ("info", "ℹ info", "bold"),
)


class FindingsTree(Tree[str]):
    """j/k move as in the tables; a line too long for the tree ends in "…" (cut mid-word, a fix read as another
    sentence), and shows whole below the tree when highlighted (`ValidateScreen.whole_line`)."""

    BINDINGS = [
        Binding("j", "cursor_down", "Down", show=False),
        Binding("k", "cursor_up", "Up", show=False),
    ]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.codes: dict[TreeNode[str], str] = {}  # each finding's node → its code: what a new report opens again

    def render_label(self, node: TreeNode[str], base_style: Style, style: Style) -> Text:
        label = super().render_label(node, base_style, style)
        room = self.scrollable_content_region.width - indent(node) * self.guide_depth
        if label.cell_len > room > 1:
            label.truncate(room, overflow="ellipsis")
        return label

    def get_label_width(self, node: TreeNode[str]) -> int:
        """The whole label's width, not the cut one's."""
        return super().render_label(node, Style(), Style()).cell_len


def fix_here(fix: str) -> str:
    """A finding's fix as this screen does it: `f`, not the command line's `labtui validate --fix`."""
    return fix.replace("`labtui validate --fix`", "`f` here")


def show_report(tree: FindingsTree, report: ValidationReport) -> None:
    """Severity → finding → its items; an item's data is the item text, which `locate` turns into a place. The
    findings the user had opened are open in the new report (a deep check closed them all), the cursor on the
    first of them."""
    opened = {code for node, code in tree.codes.items() if node.is_expanded}
    tree.clear()
    tree.codes = {}
    for severity, label, style in SEVERITIES:
        findings = [finding for finding in report.findings if finding.severity == severity]
        if not findings:
            continue
        group = tree.root.add(Text(f"{label} ({len(findings)})", style=style), expand=True)
        for finding in findings:
            mark = " · fixable" if finding.fixable else ""
            node = group.add(Text.assemble(f"{finding.title} ", (f"({finding.count}){mark}", "dim")),
                             expand=finding.code in opened)
            tree.codes[node] = finding.code
            node.add_leaf(help_text(f"→ {fix_here(finding.fix)}"))
            for item in finding.items:
                node.add_leaf(Text(shown(item)), data=item)  # it names files: a `[/]` is not markup
            if finding.count > len(finding.items):
                node.add_leaf(Text(f"… and {finding.count - len(finding.items)} more", style="dim"))
    if again := [node for node, code in tree.codes.items() if code in opened]:
        tree.call_after_refresh(tree.move_cursor, again[0])
    elif report.findings:
        tree.cursor_line = 1  # the first finding: enter opens it


def indent(node: TreeNode[str]) -> int:
    """Guides in front of a node's line: one for each ancestor but the root, which is not shown."""
    depth, parent = 0, node.parent
    while parent is not None and parent.parent is not None:
        depth, parent = depth + 1, parent.parent
    return depth


def locate(item: str, manifest: pl.DataFrame, rejected: set[str]) -> tuple[str, str] | None:
    """What a finding's item points at: ("run", run_id) or ("reject", source_file); items read "<run_id> <file>…",
    "<file>: <why>" or just "<file>"."""
    head, source = item.split(" ", 1)[0], item.split(": ", 1)[0]
    runs = manifest.filter((pl.col("run_id") == head) | (pl.col("source_file") == source))
    if runs.height:
        return "run", runs["run_id"][0]
    if source in rejected:
        return "reject", source
    return None


class ValidateScreen(LabScreen):
    HELP = (
        "Checks that the manifest, the Parquet runs and the raw files agree. Enter on an item opens its run or "
        "rejected file; f applies the safe fixes (re-staging from the raw files, removing unreferenced Parquet); "
        "raw files are never changed. d checks deeper: it hashes every raw file and decodes every run's Parquet "
        "data, not only its footer (slower: about 1 s per 20 MB of Parquet)."
    )
    AUTO_FOCUS = "#findings"
    BINDINGS = [
        Binding("f", "fix", "Apply fixes", id="fix"),
        Binding("v", "revalidate", "Validate again", id="revalidate"),
        Binding("d", "deep_check", "Deep check", id="deep_check"),
    ]

    summary: reactive[Text | str] = reactive("validating…")  # the verdict, or what is being done
    whole_line: reactive[Text | str] = reactive("")  # the highlighted line in full, when the tree cuts it off

    def __init__(self) -> None:
        super().__init__()
        self.report: ValidationReport | None = None
        self.cancel = threading.Event()
        self.fixing = False

    def compose(self) -> ComposeResult:
        yield Header()
        yield Shown(id="summary").data_bind(text=ValidateScreen.summary)
        tree: FindingsTree = FindingsTree("findings", id="findings")
        tree.show_root = False
        yield tree
        yield Shown(hide_empty=True, id="whole-line").data_bind(text=ValidateScreen.whole_line)
        yield LabFooter()

    def on_mount(self) -> None:
        self.title = "Validate"
        self.reload()

    def reload(self) -> None:
        self.run_validation()

    def action_revalidate(self) -> None:
        self.summary = "validating…"
        self.reload()

    def action_deep_check(self) -> None:
        self.summary = "validating deeply: hashing every raw file, decoding every run's Parquet…"
        self.run_validation(deep=True)

    @work(group="validate", exclusive=True, exit_on_error=False)
    async def run_validation(self, *, deep: bool = False) -> None:
        report, signature = await asyncio.to_thread(self.lab.store.validate, deep=deep)
        self.report = report
        self.lab.record_validation(report, signature)
        show_report(self.query_one(FindingsTree), report)
        counts = report.counts()
        verdict = (Text("no store yet", style="bold") if report.no_store
                   else Text("✔ healthy", style="bold green") if report.ok else Text("✘ problems", style="bold red"))
        errors, warnings = counted(counts["error"], "error"), counted(counts["warning"], "warning")
        verdict.append(f" · {errors}, {warnings}, {counts['info']} info · "
                       f"{counted(report.stats['runs'], 'run')} and "
                       f"{counted(report.stats.get('raw_files', 0), 'raw file')} checked")
        if report.fixable:
            verdict.append(f"\nf applies the safe fixes of {counted(len(report.fixable), 'finding')}", style="bold")
        verdict.append(" · " if report.fixable else "\n")
        verdict.append("deep check (every raw file hashed, every Parquet decoded)" if deep else "d checks deeper",
                       style="dim")
        self.summary = verdict

    @on(Tree.NodeHighlighted, "#findings")
    def _highlighted(self, event: Tree.NodeHighlighted[str]) -> None:
        self._show_whole_line(event.node)

    def on_resize(self) -> None:
        if (node := self.query_one(FindingsTree).cursor_node) is not None:
            self._show_whole_line(node)

    def _show_whole_line(self, node: TreeNode[str]) -> None:
        tree = self.query_one(FindingsTree)
        width = indent(node) * tree.guide_depth + tree.get_label_width(node)
        self.whole_line = node.label if width > tree.scrollable_content_region.width else ""

    @on(Tree.NodeSelected, "#findings")
    @said_errors  # a damaged manifest, the finding Enter was pressed on: a traceback
    def _jump(self, event: Tree.NodeSelected[str]) -> None:
        if event.node.data is None:
            return
        manifest = self.lab.store.manifest()
        place = locate(event.node.data, manifest, {r.source_file for r in self.lab.store.rejects()})
        if place is None:
            self.notify("nothing to open for this item", severity="warning")
        elif place[0] == "reject":
            self.app.push_screen(RejectsScreen(focus=place[1]))
        elif (screen := run_screen(manifest, place[1], self.lab)) is not None:  # located in this manifest
            self.app.push_screen(screen)

    def action_fix(self) -> None:
        """Apply the safe fixes; with none (or the findings not in yet) the key says so instead of doing nothing."""
        if self.report is None:
            self.notify("still validating: the safe fixes can be applied once the findings are in",
                        severity="warning")
            return
        if not self.report.fixable:
            self.notify("nothing to fix: no finding here has a safe fix (each says what to do)", severity="warning")
            return
        body = Text("labtui will:\n")
        for finding in self.report.fixable:
            body.append(f"• {finding.title} ({finding.count}): {fix_here(finding.fix)}\n")
        body.append("\nRaw files are never changed.", style="italic")

        def answered(yes: bool | None) -> None:
            if yes and self.report is not None:
                self.summary = "applying the fixes… (esc stops after the current step)"
                self.cancel.clear()
                self.fixing = True
                self.fix(self.report, self.cancel)

        self.app.push_screen(ConfirmDialog("Apply the safe fixes?", body), answered)

    @work(thread=True, group="fix", exclusive=True, exit_on_error=False)
    def fix(self, report: ValidationReport, cancel: threading.Event) -> FixReport:
        return self.lab.store.fix(report, cancel)

    def action_back(self) -> None:
        """Esc stops a running fix (cleanly: the engine commits what it did); otherwise goes back."""
        if self.fixing:
            self.cancel.set()
        else:
            super().action_back()

    def on_unmount(self) -> None:
        self.cancel.set()  # quitting stops a running fix cleanly

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.worker.group != "fix" or event.state not in (WorkerState.SUCCESS, WorkerState.ERROR):
            return
        self.fixing = False
        if event.state is WorkerState.SUCCESS and isinstance(result := event.worker.result, FixReport):
            done = "\n".join(result.lines) or "nothing to do"
            self.notify(done + ("\n(stopped early)" if result.cancelled else ""), title="Fixes applied", timeout=10)
        self.lab.check_store()  # every open screen reloads; this one validates again
        self.action_revalidate()
