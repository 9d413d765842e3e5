"""What every screen shares: Esc goes back, a help text for `?`, a reload when the store changes, and an error
dialog when one of its workers fails."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, ParamSpec, cast

from rich.segment import Segment
from textual.app import App
from textual.binding import Binding
from textual.color import Color
from textual.content import Content
from textual.filter import LineFilter
from textual.notifications import SeverityLevel
from textual.reactive import reactive
from textual.screen import Screen
from textual.visual import VisualType
from textual.widgets import Footer, Input, Static
from textual.widgets._footer import FooterKey  # not exported by textual.widgets
from textual.worker import Worker, WorkerState

from labtui.core.errors import LabtuiError
from labtui.core.wording import CONTROL_CODES, shown
from labtui.tui.messages import StoreChanged

if TYPE_CHECKING:
    from labtui.tui.app import LabApp

P = ParamSpec("P")


def said_errors(handler: Callable[P, None]) -> Callable[P, None]:
    """A key or message handler that reads the store on the UI thread (not in a worker, whose errors the app says):
    a user's problem it meets (annotations that cannot be read, a damaged file) is said by the app, not a crash
    (Enter on a run in a history whose annotations' folder a file took exited with a traceback)."""
    @functools.wraps(handler)
    def run(*args: P.args, **kwargs: P.kwargs) -> None:
        try:
            handler(*args, **kwargs)
        except (OSError, LabtuiError) as error:
            node = cast("Screen | App[object]", args[0])
            cast("LabApp", node if isinstance(node, App) else node.app).show_error(error, asked=True)
    return run


def plain(text: VisualType) -> VisualType:
    """Text as it is: the app's strings carry file names, headers' free text, reasons and notes, where `[/]` or
    `[red]` is what the lab wrote, not markup (a `[/]` crashed the app, a `[red]` restyled the line); a control
    character is shown escaped, as the command line shows it (`\\x1b[31m`)."""
    return Content(shown(text, lines=True)) if isinstance(text, str) else text


_DROPPED = dict.fromkeys(CONTROL_CODES)  # str.translate drops them


class WithoutControls(LineFilter):
    """Every line the app draws, its control characters dropped: a file name or a raw file's line holding an escape
    sequence (ESC[2J clears the screen; an OSC 52 writes the clipboard) reached the terminal, which acted on it. They
    take no cell, so every line keeps its width, and what is readable stays (`ESC[31mRED` shows `[31mRED`)."""

    def apply(self, segments: list[Segment], background: Color) -> list[Segment]:
        if all(segment.control or segment.text.isprintable() for segment in segments):
            return segments
        return [segment if segment.control or segment.text.isprintable()
                else Segment(segment.text.translate(_DROPPED), segment.style) for segment in segments]


class Shown(Static):
    """A line of a screen's state: `Shown().data_bind(text=TheScreen.attribute)` shows the screen's reactive
    attribute whenever it changes (the screen only assigns it); with `hide_empty`, hidden while there is nothing."""

    text: reactive[VisualType] = reactive("", layout=True)

    def __init__(self, *, hide_empty: bool = False, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.hide_empty = hide_empty

    def watch_text(self, text: VisualType) -> None:
        self.update(plain(text))
        if self.hide_empty:
            self.display = bool(text)


class LabFooter(Footer):
    """Textual's footer, without its leak (textual#6666): each recompose (whenever the screen's keys change: a load
    done, the screen back on top) left the old keys on the footer, held by their watchers of `compact`, which Textual
    drops only when that value is set; the dashboard's footer gained ~20 widgets each time it came back.

    Its keys are shown whole: one the width cuts is hidden with those after it (at 80 columns the history's
    footer ended in `t Proc`, the plot's in `e Export PDF+PNG+`); `?` lists them all."""

    DEFAULT_CSS = "LabFooter { overflow-x: hidden; }"  # no scrolling the hidden keys into view, blank

    async def recompose(self) -> None:
        await super().recompose()
        self.mutate_reactive(Footer.compact)
        self.call_after_refresh(self._show_whole_keys)  # once the new keys have their style (their padding)

    def on_resize(self) -> None:
        self._show_whole_keys()

    def _show_whole_keys(self) -> None:
        """Each key's width is that of its text, known before any layout: the new keys of a footer recomposed under
        a dialog or the command palette are laid out only later, and a hidden key has no region."""
        keys = list(self.query(FooterKey))
        width = {key: key.render().cell_len + key.styles.gutter.width + key.styles.margin.width for key in keys}
        room = self.size.width - sum(width[key] for key in keys if key.has_class("-command-palette"))
        for key in keys:
            if not key.has_class("-command-palette"):
                room -= width[key]
                key.visible = room >= 0


class LabScreen(Screen[None]):
    HELP = ""  # shown by `?` above the list of keys

    # the app's `?`, second in the footer: a narrow terminal hides a screen's last keys, and `?` lists them all
    BINDINGS = [
        Binding("escape", "back", "Back", id="back"),
        Binding("question_mark,f1", "app.help", "Help", id="help"),
    ]

    @property
    def lab(self) -> LabApp:
        return cast("LabApp", self.app)

    def action_back(self) -> None:
        self.dismiss()

    def on_unmount(self) -> None:
        """Textual's Header watches the app's title and sub-title, and those watchers are dropped only when the value
        is set (textual#6666): set again here, or every screen closed left its header (five widgets) on the app."""
        self.app.mutate_reactive(App.title)
        self.app.mutate_reactive(App.sub_title)

    def notify(self, message: str, *, title: str = "", severity: SeverityLevel = "information",
               timeout: float | None = None, markup: bool = False) -> None:
        """Plain text, as the app's own (`LabApp.notify`): Textual's default reads a message as markup."""
        self.app.notify(message, title=title, severity=severity, timeout=timeout, markup=markup)

    def on_store_changed(self, _: StoreChanged) -> None:
        self.reload()

    def reload(self) -> None:
        """Read again what the screen shows; runs its loading in a worker."""
        raise NotImplementedError

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """A failing worker is said by the app (`LabApp.show_error`), never a crash or a silent hang: the one place
        errors are shown. A screen's own handler runs first and only updates its state (Textual calls both)."""
        if event.state is WorkerState.ERROR and event.worker.error is not None:
            self.lab.show_error(event.worker.error)


class FilteredScreen(LabScreen):
    """A screen with a `#filter` field that `/` jumps to."""

    BINDINGS = [Binding("slash", "filter", "Filter", id="filter", priority=True)]

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """`/` is a priority key so that the keys typed right after it reach the field (focus moves at once, before
        they are dispatched); inside the field it is just a character."""
        return not (action == "filter" and isinstance(self.focused, Input))

    def action_filter(self) -> None:
        self.set_focus(self.query_one("#filter", Input))
