"""The labtui app: a dashboard and one screen per task, over a cached view of the store."""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from difflib import get_close_matches
from functools import partial
from importlib import import_module
from pathlib import Path
from typing import TYPE_CHECKING

from textual.actions import parse
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.filter import LineFilter
from textual.notifications import SeverityLevel
from textual.screen import Screen

from labtui.core.config import StagingConfig
from labtui.core.errors import LabtuiError, described, error_line
from labtui.core.lock import LockBusy
from labtui.core.stage_events import WatchEventKind
from labtui.tui.base import WithoutControls, said_errors
from labtui.tui.dashboard import DashboardScreen
from labtui.tui.dialogs import ConfirmDialog
from labtui.tui.live import LiveChanged, Measuring, WatchController, Watched
from labtui.tui.messages import PlotRequested, StoreChanged
from labtui.tui.store import Signature, Store, short_path

if TYPE_CHECKING:
    from textual.dom import DOMNode

    from labtui.core.findings import ValidationReport
    from labtui.tui.history import HistoryPlace

DARK, LIGHT = "textual-dark", "textual-light"
# The screens a key opens, imported when first opened: a cold start paints the dashboard without them (the plot
# screen alone brings NumPy and plotext).
TASKS = {"chips": "labtui.tui.chips:ChipsScreen", "rejects": "labtui.tui.rejects:RejectsScreen",
         "validate": "labtui.tui.validate:ValidateScreen"}
STORE_POLL_SECONDS = 2.0


def screen_class(name: str) -> type[Screen]:
    """The screen class named "module:Class", importing its module."""
    module, _, cls = name.partition(":")
    return getattr(import_module(module), cls)


def freeze_long_lived() -> None:
    """What exists when the app mounts lives as long as it (the imported modules, Textual's classes and caches): out
    of the garbage collector's full passes, which walked those ~100k objects in 35–55 ms, twice in a trend's first
    paint (T on a 10k-run chip: 220 → 160–175 ms, medians of 5; `bench/trends.py`). Once a process: an app started
    after another (in tests) must not pin the first one's garbage for good."""
    if not gc.get_freeze_count():
        gc.freeze()


class QuitWhileStaging(ConfirmDialog):
    """The question `q` asks while a staging runs; `q` again on it quits."""

    BINDINGS = [Binding("q", "answer(True)", "Quit", show=False)]
    hint = "y / q quit · n / esc stay"


class LabApp(App[None]):
    """Keyboard-only; everything slow (staging, validation, big histories) runs in workers."""

    CSS_PATH = Path(__file__).with_name("labtui.tcss")  # absolute, so subclasses elsewhere find it
    TITLE = "labtui"
    BINDINGS = [
        # `w` twice, one enabled by the state (`check_action`): the footer and help say what it will do
        Binding("w", "watch(True)", "Watch", id="watch", show=False),
        Binding("w", "watch(False)", "Stop watching", id="watch", show=False),
        Binding("question_mark,f1", "help", "Help", id="help"),
        Binding("ctrl+t", "toggle_theme", "Theme", id="theme", show=False),  # in help and ctrl+p: the footer keeps q
        Binding("q", "quit", "Quit", id="quit"),
    ]

    def __init__(
        self, config: StagingConfig, *, stage_on_start: bool = False, watch: bool = False, notice: str = "",
        notice_seconds: float = 20,
    ) -> None:
        super().__init__()
        self.config = config
        self.notice = notice  # said once the app is up (e.g. why the demo lab opened), not printed before it
        self.notice_seconds = notice_seconds  # as long as it is shown (over the dashboard's corner)
        self.store = Store(config)
        self.live = WatchController(self, self.store)
        self.stage_on_start = stage_on_start
        self.watch_on_start = watch
        self.last_validation: ValidationReport | None = None  # shown on the dashboard
        self.validated: Signature | None = None  # the store's signature when last_validation was made
        # each history left this session: its sort, selection and the run under the cursor (`HistoryScreen.left`)
        self.histories: dict[tuple[str | None, int | None], HistoryPlace] = {}
        self.set_keymap(config.keys)
        self._signature = self.store.signature()
        self._errors_shown: set[str] = set()
        self._without_controls = WithoutControls()  # one instance: Textual caches each line's filtered copy by it
        self._show_watching()

    def on_mount(self) -> None:
        freeze_long_lived()
        self.theme = DARK
        if unknown := unknown_actions(self.config.keys):
            self.notify(f"config keys: {unknown}", severity="warning", timeout=10)
        for taken in key_conflicts(self.config.keys):
            self.notify(f"config keys: {taken}: give one of them another key", severity="warning", timeout=10)
        self.push_screen(DashboardScreen(stage=self.stage_on_start))
        if self.notice:
            self.notify(self.notice, title="labtui", timeout=self.notice_seconds)
        if self.watch_on_start:
            self.toggle_watch()
        self.set_interval(STORE_POLL_SECONDS, self.check_store)

    def on_unmount(self) -> None:
        """Quitting stops the watcher instead of leaving the process waiting for its thread."""
        self.live.stop()

    def record_validation(self, report: ValidationReport, signature: Signature) -> None:
        self.last_validation, self.validated = report, signature

    def check_store(self) -> None:
        """Tell every open screen when the store changed, whoever changed it (this app, a `labtui stage`, or someone
        annotating in another app or with `labtui annotate`)."""
        signature = self.store.signature()
        try:
            annotated = self.store.annotated()
        except (OSError, LabtuiError) as exc:  # `_annotations/` made by another user's `labtui annotate` (umask
            # 077: an OperationFailed that names it), a share's hiccup: said once, in the CLI's words, and polled
            # again; it crashed the app (this runs on its timer)
            annotated = False
            self.show_error(exc)
        if annotated and self._reports_annotations():  # stale now (`validate --fix` re-attached them, say); not
            self.validated = None  # after every annotation: at 65k runs a validation is ~1.4 s of work
        if signature != self._signature or annotated:
            self._signature = signature
            self._errors_shown.clear()  # the store changed: an error that comes back is news
            self._tell_screens(StoreChanged)

    def _reports_annotations(self) -> bool:
        """The last validation has findings about annotations (of runs re-staged, or no longer staged)."""
        report = self.last_validation
        return report is not None and any(finding.code.startswith("annotations") for finding in report.findings)

    def get_line_filters(self) -> Sequence[LineFilter]:
        return [*super().get_line_filters(), self._without_controls]

    def notify(self, message: str, *, title: str = "", severity: SeverityLevel = "information",
               timeout: float | None = None, markup: bool = False) -> None:
        """Plain text unless a caller asks for markup: messages name files, quote reasons and notes (see `plain`)."""
        super().notify(message, title=title, severity=severity, timeout=timeout, markup=markup)

    def show_error(self, error: BaseException, *, asked: bool = False) -> None:
        """What the app does with any error of a worker (`LabScreen` hands them here): another writer holding the
        store is said in a notification (it passes; the screen offers to try again), any other user's problem in a
        dialog, both in the CLI's words (`labtui: <message>`); anything else is a bug, shown with its type. Each
        dialog is shown once until the store changes: screens reload when they come back, and a damaged manifest
        must not reopen the dialog after every Esc; a key's own error (`asked`), seen before, is said in a toast."""
        if isinstance(error, LockBusy):
            self.notify(error_line(error), title="Store busy", severity="warning", timeout=8)
            return
        if isinstance(error, LabtuiError):
            title, body = "labtui", error_line(error)
        elif isinstance(error, OSError):  # as the CLI says one no command translated: the user's problem, no bug
            from labtui.cli import describe_os_error

            title, body = "labtui", f"labtui: {describe_os_error(error)}"
        else:
            title, body = "Something went wrong", described(error)
        if body not in self._errors_shown:
            self._errors_shown.add(body)
            from labtui.tui.dialogs import ErrorDialog

            self.push_screen(ErrorDialog(title, body))
        elif asked:  # a key pressed for something it cannot do: said each time (its dialog was seen already), or
            self.notify(body, title=title, severity="error", timeout=6)  # the key did nothing at all

    def _tell_screens(self, message: type[StoreChanged | LiveChanged]) -> None:
        for screen in self.screen_stack:
            screen.post_message(message())

    # -- the live lab -----------------------------------------------------------------------------------------
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return action != "watch" or parameters[0] != self.live.watching

    def action_watch(self, on: bool) -> None:
        if on != self.live.watching:
            self.toggle_watch()

    def toggle_watch(self) -> None:
        if self.live.watching:
            self.live.stop()
            self.notify("stopped watching the raw folder", title="Watching")
        else:
            self.live.start()
            self.notify(f"each new run in {short_path(self.config.raw_root)} is staged once it has not changed for "
                        f"{self.config.watch_settle_seconds:g} s", title="Watching")
        self._show_watching()
        self._tell_screens(LiveChanged)
        self.screen.refresh_bindings()  # `w` now says the other thing

    def _show_watching(self) -> None:
        self.sub_title = short_path(self.config.store_root) + (" · watching ⟳" if self.live.watching else "")

    def on_watched(self, message: Watched) -> None:
        """A staging by the watcher reaches the open screens at once, not at the next store poll."""
        if message.event.kind == WatchEventKind.STAGED:
            self.check_store()
        self.live.watched(message.event)
        self._tell_screens(LiveChanged)

    def on_measuring(self, message: Measuring) -> None:
        if self.live.measured(message):
            self._tell_screens(LiveChanged)

    # -- actions ----------------------------------------------------------------------------------------------
    def action_open(self, name: str) -> None:
        kind = screen_class(TASKS[name])
        if not self._reveal(kind):
            self.push_screen(kind())

    def action_stage(self) -> None:
        """A staging in progress is shown again rather than started twice."""
        from labtui.tui.stage import StageScreen

        if any(isinstance(screen, DashboardScreen) and screen.staging for screen in self.screen_stack):
            self.notify("the raw files are being staged: the dashboard shows the progress", title="Staging")
        elif not self._reveal(StageScreen, lambda screen: isinstance(screen, StageScreen) and screen.running):
            self.push_screen(StageScreen())

    async def action_quit(self) -> None:
        """`q` quits at once, but while a staging runs it asks first: a `q` meant to close a screen stopped a stage
        at 27 % (what it committed stays valid; the next stage does the rest)."""
        from labtui.tui.stage import StageScreen

        if not any((isinstance(screen, StageScreen) and screen.running) or
                   (isinstance(screen, DashboardScreen) and screen.staging) for screen in self.screen_stack):
            self.exit()
            return
        body = ("A staging is running. Quit stops it after the files in progress: what it committed stays in the "
                "store, and the next stage does the rest.")
        self.push_screen(QuitWhileStaging("Quit while staging?", body),
                         lambda quit_now: self.exit() if quit_now else None)

    def _reveal(self, kind: type[Screen], wanted: Callable[[Screen], bool] = lambda screen: True) -> bool:
        """Go back to an open screen of this kind instead of stacking a second one; False when none is open."""
        for depth, screen in enumerate(reversed(self.screen_stack)):
            if isinstance(screen, kind) and wanted(screen):
                for _ in range(depth):
                    self.pop_screen()
                return True
        return False

    def action_help_quit(self) -> None:
        """Ctrl+C, a reflex to quit: how to. Textual's own note is markup, which this app's plain notifications showed
        as `Press [b]ctrl+q[/b] to quit`."""
        keys = sorted({self.get_key_display(active.binding) for active in self.active_bindings.values()
                       if active.binding.action in ("quit", "app.quit")}, key=len)
        self.notify(f"press {' or '.join(keys)} to quit labtui", title="Do you want to quit?")

    def action_help(self) -> None:
        from labtui.tui.dialogs import HelpDialog

        if not isinstance(self.screen, HelpDialog):
            self.push_screen(HelpDialog(self.screen))

    def action_toggle_theme(self) -> None:
        self.theme = LIGHT if self.theme == DARK else DARK

    @said_errors
    def on_plot_requested(self, message: PlotRequested) -> None:
        from labtui.core.annotations import AnnotationFilter, with_annotations
        from labtui.core.plotdata.load import with_places
        from labtui.core.plotdata.view import plot_rows
        from labtui.tui.plot import PlotScreen

        if isinstance(self.screen, PlotScreen):  # `p p p` typed ahead: the first one opened it
            return
        rows = with_places(plot_rows(self.store.manifest(), message.run_ids, self.config.local_tz))
        # with their annotations: an excluded run shown (X) and plotted is said so in its legend
        rows = AnnotationFilter(include_excluded=message.include_excluded).apply(
            with_annotations(rows, self.store.annotations()))[0]
        if not rows.height:  # excluded from another terminal since the history last read the annotations: an empty
            # plot opened
            self.notify("nothing to plot: the chosen runs were excluded since this view was read (X shows excluded "
                        "runs)", title="Plot", severity="warning")
            return
        self.push_screen(PlotScreen(rows, self.config.procedures_file))

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        """The palette lists the current screen's keys next to Textual's own commands, but ctrl+p's own (its `palette`
        entry only opened the palette again) and its tables' moves (`Column left`, `First row`: the help lists them)."""
        from labtui.tui.dialogs import task_bindings

        # Textual's key panel and maximize: the help dialog lists the keys, and the panel outlived escape
        builtin = [command for command in super().get_system_commands(screen)
                   if command.title not in ("Keys", "Maximize", "Minimize")]
        yield from builtin
        names = {command.title for command in builtin}
        for active in task_bindings(screen):
            binding = active.binding
            if not active.enabled or binding.description in names or binding.action == "command_palette":
                continue
            if active.node not in (screen, self) and not binding.show:  # a table's moves: keys, not commands
                continue
            names.add(binding.description)
            yield SystemCommand(binding.description, f"key: {self.get_key_display(binding)}",
                                partial(self.run_action, binding.action, active.node))
        if screen.is_modal:
            return
        # the app's own keys, which a text field with the focus types into (`w` in the chips' filter), and the
        # dashboard's tasks (chips, rejects, validate, stage: its keys alone, `s` beside History's `S` staged): the
        # palette is the way to them from every screen
        tasks = [(binding, "dashboard: ") for binding in DashboardScreen.BINDINGS
                 if isinstance(binding, Binding) and binding.action.startswith("app.") and binding.show]
        for binding, where in [*((entry, "") for entry in self.BINDINGS if isinstance(entry, Binding)), *tasks]:
            action = binding.action.removeprefix("app.")
            _, name, parameters = parse(action)
            if binding.description in names or not self.check_action(name, parameters):
                continue
            names.add(binding.description)
            key = self.get_key_display(replace(binding, key=self.config.keys.get(binding.id or "", binding.key)))
            yield SystemCommand(binding.description, f"key: {where}{key}" if where else f"key: {key} (not in a text "
                                "field)", partial(self.run_action, action))
        yield from self._chip_commands()

    def _chip_commands(self) -> Iterable[SystemCommand]:
        """Each chip's history and trends, named as their screens' titles: typing a chip's number finds them from
        every screen (only the chips list led to them)."""
        from labtui.core.history import told_apart

        try:
            chips = self.store.chips()
        except LabtuiError:  # a damaged manifest: the screens that read it say so
            return
        for group, number, chip in chips.select("chip_group", "chip_number", told_apart()).iter_rows():
            yield SystemCommand(f"History · {chip}", "the chip's runs: annotate, plot",
                                partial(self.open_chip, group, number))
            yield SystemCommand(f"Trends · {chip}", "the chip's Dirac point, photoresponse and dark current",
                                partial(self.open_chip, group, number, trends=True))

    def open_chip(self, group: str | None, number: int, *, trends: bool = False) -> None:
        from labtui.tui.history import HistoryScreen
        from labtui.tui.trends import TrendsScreen  # the metrics engine: loaded when first asked for

        self.push_screen(TrendsScreen(group, number) if trends else HistoryScreen(group, number))


def binding_ids() -> set[str]:
    """The actions `config.keys` can remap."""
    return {binding.id for cls in _binding_classes() for binding in cls.BINDINGS
            if isinstance(binding, Binding) and binding.id}


def unknown_actions(keymap: dict[str, str]) -> str:
    """`unknown action chip (chips?): ...`, the ids in `keymap` no action has, each with its close match; empty when
    there is none. The ids themselves are in the help (`?`): listed here, all 60, the warning was taller than an 80×24
    screen and began mid-list, the unknown one cut off."""
    if not keymap:  # the screens' classes `binding_ids` imports bring Polars: not before the first paint
        return ""
    known = binding_ids()
    unknown = sorted(set(keymap) - known)
    if not unknown:
        return ""
    names = [f"{name} ({close[0]}?)" if (close := get_close_matches(name, known, n=1)) else name for name in unknown]
    actions = "action" if len(unknown) == 1 else "actions"
    return f"unknown {actions} {', '.join(names)}: ? lists each screen's keys with their action ids"


def key_conflicts(keymap: dict[str, str]) -> list[str]:
    """`stage → r is also the key of rejects`: each remapped key that another action of the same screen (its own
    bindings, its base classes' and the app's) already has, where one of the two would shadow the other unsaid."""
    if not keymap:
        return []
    found: dict[tuple[str, str], set[str]] = {}  # (action, key) -> the other actions with that key, on any screen
    for cls in _binding_classes():
        owners: dict[str, set[str]] = {}
        inherited = (b for base in reversed(cls.__mro__) for b in base.__dict__.get("BINDINGS", ()))
        for binding in [*LabApp.BINDINGS, *inherited]:
            if isinstance(binding, Binding) and binding.id:
                for key in keymap.get(binding.id, binding.key).split(","):
                    owners.setdefault(key.strip(), set()).add(binding.id)
        for key, ids in owners.items():
            for action in sorted(ids & set(keymap)):
                if others := ids - {action}:
                    found.setdefault((action, key), set()).update(others)
    return [f"{action} → {key} is also the key of {', '.join(sorted(others))}"
            for (action, key), others in found.items()]


def _binding_classes() -> tuple[type[DOMNode], ...]:
    from labtui.tui.base import FilteredScreen, LabScreen
    from labtui.tui.follow import FollowScreen
    from labtui.tui.history import HistoryScreen
    from labtui.tui.plot import PlotScreen
    from labtui.tui.stage import StageScreen
    from labtui.tui.table import FrameTable
    from labtui.tui.trends import TrendsScreen

    return (LabApp, LabScreen, FilteredScreen, DashboardScreen, HistoryScreen, StageScreen, FrameTable, PlotScreen,
            TrendsScreen, FollowScreen, *map(screen_class, TASKS.values()))
