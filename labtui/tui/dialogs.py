"""Modal screens: an error, a yes/no question, a line of text, a choice among a few, the fields of one record, the keys
of a screen."""

from __future__ import annotations

from collections.abc import Iterable

from rich.console import Console, ConsoleOptions, RenderResult
from rich.markup import escape
from rich.measure import Measurement
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import ActiveBinding, Binding
from textual.containers import VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen, Screen
from textual.visual import VisualType
from textual.widgets import Input, OptionList, Static

from labtui.core.wording import shown
from labtui.tui.base import plain


class DialogBox(VerticalScroll):
    """The dialog's frame; it takes the focus, so arrows and j/k scroll a long body."""

    BINDINGS = [
        Binding("j", "scroll_down", "Scroll down", show=False),
        Binding("k", "scroll_up", "Scroll up", show=False),
    ]


class Dialog(ModalScreen[bool]):
    """A framed box over the current screen; Esc closes it. Its keys are said in the frame's bottom edge, always in
    view: below the body they scrolled away with a long one (a run's fields), and the footer under the box is the
    screen's beneath, whose keys do nothing here."""

    BINDINGS = [Binding("escape", "close", "Close")]
    hint = "esc close"

    def __init__(self, title: str, body: VisualType) -> None:
        super().__init__()
        self.box_title = title
        self.body = body

    def compose(self) -> ComposeResult:
        with DialogBox(id="dialog") as box:
            box.border_title = Content(shown(self.box_title))  # plain text: it names files (see `plain`)
            box.border_subtitle = self.hint
            yield Static(plain(self.body), id="dialog-body")

    def on_mount(self) -> None:
        self.app.clear_notifications()  # a toast sat over the box at 80×24, hiding the keys or the question

    def action_close(self) -> None:
        self.dismiss(False)


class ErrorDialog(Dialog):
    """A worker failed: say what happened instead of crashing or hanging."""

    BINDINGS = [Binding("enter", "close", "Close", show=False), Binding("q", "app.quit", "Quit", show=False)]
    DEFAULT_CLASSES = "error"
    hint = "esc close · q quit"


class ConfirmDialog(Dialog):
    """A yes/no question before anything that changes the store."""

    BINDINGS = [Binding("y", "answer(True)", "Yes"), Binding("n", "answer(False)", "No")]
    hint = "y yes · n / esc no"

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)


class TextDialog(ModalScreen[str | None]):
    """Ask for one line of text (a reason, a tag, a note): Enter answers it, Esc answers None."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, title: str, prompt: str, value: str = "", hint: str = "enter ok · esc cancel",
                 problem: str = "") -> None:
        """`problem`: why the text answered before was refused, said above the field that asks again (a
        notification covered the field)."""
        super().__init__()
        self.box_title, self.prompt, self.value, self.hint, self.problem = title, prompt, value, hint, problem

    def compose(self) -> ComposeResult:
        with DialogBox(id="dialog") as box:
            box.border_title = Content(shown(self.box_title))  # plain text: it names files (see `plain`)
            box.border_subtitle = self.hint  # as a `Dialog`'s
            yield Static(plain(self.prompt), id="dialog-body")
            if self.problem:
                yield Static(plain(self.problem), id="dialog-problem")
            yield Input(self.value, id="dialog-input")

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    DISCARD_HINT = "esc again discards the text · enter ok"

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.dismiss(event.value)

    def on_input_changed(self) -> None:
        self.query_one(DialogBox).border_subtitle = self.hint  # typing on: the next esc asks again

    def action_cancel(self) -> None:
        """Esc answers None; text typed here is discarded only by a second esc (one slip lost a paragraph of note)."""
        box, typed = self.query_one(DialogBox), self.query_one(Input).value
        if typed.strip() and typed != self.value and box.border_subtitle != self.DISCARD_HINT:
            box.border_subtitle = self.DISCARD_HINT
            return
        self.dismiss(None)


class ChoiceDialog(ModalScreen[int | None]):
    """Pick one of a few options (↑ ↓ or j k, then enter, or a click): answers its index; Esc answers None."""

    BINDINGS = [
        Binding("escape", "cancel", "Cancel"),
        Binding("j", "down", "Down", show=False),
        Binding("k", "up", "Up", show=False),
    ]

    def __init__(self, title: str, options: Iterable[str], current: int = 0) -> None:
        super().__init__()
        self.box_title, self.options, self.current = title, list(options), current

    def compose(self) -> ComposeResult:
        with DialogBox(id="dialog") as box:
            box.border_title = Content(shown(self.box_title))
            box.border_subtitle = "enter choose · esc cancel"
            yield OptionList(*map(Content, self.options), id="dialog-choices")

    def on_mount(self) -> None:
        choices = self.query_one(OptionList)
        choices.highlighted = self.current
        choices.focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option_index)

    def action_down(self) -> None:
        self.query_one(OptionList).action_cursor_down()

    def action_up(self) -> None:
        self.query_one(OptionList).action_cursor_up()

    def action_cancel(self) -> None:
        self.dismiss(None)


SHOWN_CHARACTERS = 2000  # of one field: a header's 900 kB Information took the dialog 10 s to lay out


class FieldGrid:
    """Names and values in two columns, the names in at most two fifths of the width (a longer one wraps): a header's
    36-character parameter name left an 80-column terminal's values 30 columns, a definition five lines."""

    def __init__(self, rows: Iterable[tuple[str, Text]]) -> None:
        self.rows = list(rows)

    def table(self, width: int) -> Table:
        table = Table.grid(padding=(0, 2))
        table.add_column(style="bold", max_width=max(12, width * 2 // 5), overflow="fold")
        table.add_column(overflow="fold")
        for name, value in self.rows:
            table.add_row(name, value)
        return table

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        yield self.table(options.max_width)

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        return Measurement.get(console, options, self.table(options.max_width))


class FieldsDialog(Dialog):
    """Every field of one record (a manifest row), one per line; a very long value cut (`field_text`)."""

    def __init__(self, title: str, fields: Iterable[tuple[str, object]]) -> None:
        rows = [(name, value if isinstance(value, Text) else Text(field_text(value))) for name, value in fields]
        super().__init__(title, FieldGrid(rows))


def field_text(value: object) -> str:
    """A field's value as the dialog shows it: `—` for none; past `SHOWN_CHARACTERS`, cut and its length said (the
    manifest and the history's JSON and CSV keep the whole text)."""
    text = "—" if value is None else shown(str(value), lines=True)  # a file name's escape sequence, seen
    if len(text) <= SHOWN_CHARACTERS:
        return text
    return f"{text[:SHOWN_CHARACTERS]}… ({len(text):,} characters in all)"


REMAP_HINT = "the dim names are action ids: keys: {id: key} in config/labtui.yaml remaps a key"


def task_bindings(screen: Screen) -> list[ActiveBinding]:
    """The keys of a screen worth listing: its own and the app's first, then its tables' moves; never a text
    field's editing keys (a filter's 25 of them buried the screen's) nor Textual's system ones."""
    from textual.widgets import Input

    own: list[ActiveBinding] = []
    widgets: list[ActiveBinding] = []
    for active in screen.active_bindings.values():
        if active.binding.system or isinstance(active.node, Input):
            continue
        (own if active.node is screen or active.node is screen.app else widgets).append(active)
    return own + widgets


def help_text(help: str) -> Text:
    """A screen's HELP in italics; a span in backticks (something to type, a command) upright and bold, without
    the backticks."""
    text = Text(style="italic")
    for k, part in enumerate(help.split("`")):
        text.append(part, style="not italic bold" if k % 2 else "")
    return text


class HelpDialog(Dialog):
    """What the screen below is for and every key it answers to, from its live bindings (remaps included), each
    with its action id: the name `keys:` in the config remaps it by, listed nowhere else (the app's warning about an
    unknown one listed them all, a toast taller than an 80×24 screen)."""

    BINDINGS = [Binding("question_mark,f1", "close", "Close", show=False)]

    def __init__(self, screen: Screen) -> None:
        keys = Table.grid(padding=(0, 2))
        keys.add_column(style="bold", no_wrap=True)
        keys.add_column()
        keys.add_column(style="dim")
        seen: set[str] = set()
        listed = [active.binding for active in task_bindings(screen)]
        for binding in listed:
            if binding.description in seen:
                continue
            seen.add(binding.description)
            same = [other for other in listed if other.description == binding.description]
            keys.add_row(" ".join(screen.app.get_key_display(b) for b in same), escape(binding.description),
                         next((b.id for b in same if b.id), ""))  # ^q, Textual's own, has none: q's
        body = Table.grid()
        body.add_row(help_text(getattr(screen, "HELP", "") or ""))
        body.add_row("")
        body.add_row(keys)
        body.add_row(Text(f"\n{REMAP_HINT}", style="dim italic"))
        super().__init__(f"Help — {screen.title or screen.app.title}", body)
