"""Messages the screens and the app exchange."""

from __future__ import annotations

from textual.message import Message


class StoreChanged(Message, bubble=False):
    """The store was written (by this app or another labtui): reload what you show."""


class PlotRequested(Message):
    """Plot these runs; the app decides how."""

    def __init__(self, run_ids: tuple[str, ...]) -> None:
        super().__init__()
        self.run_ids = run_ids
