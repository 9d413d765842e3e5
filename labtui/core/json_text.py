"""JSON read from the store's files, which a damaged disk, a bad copy or a hostile hand can fill with anything."""

from __future__ import annotations

import json
from typing import Any


def parse_json(text: str | bytes) -> Any:
    """The value of `text`, or a `ValueError` (as `json.loads` raises for text that is not JSON) for one nested too
    deeply to parse: `json` raises RecursionError, which no reader took for a damaged file (`[` × 100 000 in a reject
    record stopped every command, `validate --fix` too, with a traceback)."""
    try:
        return json.loads(text)
    except RecursionError:
        raise ValueError("JSON nested too deeply to read") from None
