"""labtui: a terminal app and staging engine for a graphene-FET lab's measurement files.

`from labtui import open_store` reads a store from Python (see `labtui.api`); it is imported on first use, so the
command line does not pay for it.
"""

from __future__ import annotations

__version__ = "0.1.0"
__all__ = ["AnnotationsUnread", "Store", "StoreChanged", "__version__", "open_store"]

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing, which every start would pay for
if TYPE_CHECKING:
    from labtui.api import AnnotationsUnread, Store, StoreChanged, open_store


def __getattr__(name: str) -> object:
    if name in ("AnnotationsUnread", "Store", "StoreChanged", "open_store"):
        from labtui import api

        return getattr(api, name)
    raise AttributeError(f"module 'labtui' has no attribute {name!r}")
