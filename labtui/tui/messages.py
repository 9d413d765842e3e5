"""Messages the screens and the app exchange."""

from __future__ import annotations

from textual.message import Message


class StoreChanged(Message, bubble=False):
    """The store was written (by this app or another labtui): reload what you show."""


class PlotRequested(Message):
    """Plot these runs, the excluded ones among them only if `include_excluded` (left out, their places are kept:
    the others' colours do not change with X); the app decides how."""

    def __init__(self, run_ids: tuple[str, ...], include_excluded: bool = True) -> None:
        super().__init__()
        self.run_ids = run_ids
        self.include_excluded = include_excluded
