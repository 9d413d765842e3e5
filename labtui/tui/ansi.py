"""plotext's ANSI output as Rich `Text`, decoded as `Text.from_ansi` decodes it, several times faster.

plotext colours every character cell, so a 160 × 50 plot is ~8,000 escape sequences of a handful of kinds, and Rich's
decoder parses each one (with its colours and styles) again: 37 ms of a trend's 60 ms paint. Here the text is split
on its colour sequences in one regex call, and what each sequence does to the current style is asked of Rich's own
decoder once per (style, sequence) pair. A line with any other escape sequence is left to Rich's decoder whole.
"""

from __future__ import annotations

import re

from rich.ansi import AnsiDecoder
from rich.style import Style
from rich.text import Span, Text

_SGR = re.compile(r"\x1b\[([0-9;]*)m")  # Select Graphic Rendition: colours and styles, all that plotext writes


def ansi_text(ansi: str) -> Text:
    """The same `Text` (characters and style spans) as `Text.from_ansi(ansi)`."""
    decoder = AnsiDecoder()
    after: dict[tuple[Style, str], Style] = {}
    plain: list[str] = []
    spans: list[Span] = []
    offset = 0
    for number, line in enumerate(ansi.split("\n")):
        if number:
            plain.append("\n")
            offset += 1
        line = line.rsplit("\r", 1)[-1]  # a carriage return starts the line again, as Rich reads it
        parts = _SGR.split(line)  # text, sequence, text, …, text
        if any("\x1b" in text for text in parts[::2]):
            decoded = decoder.decode_line(line)
            spans += [Span(offset + start, offset + end, style) for start, end, style in decoded.spans]
            plain.append(decoded.plain)
            offset += len(decoded.plain)
            continue
        style = decoder.style
        for index, part in enumerate(parts):
            if index % 2:
                new = after.get((style, part))
                if new is None:
                    decoder.style = style
                    decoder.decode_line(f"\x1b[{part}m")
                    new = after[style, part] = decoder.style
                style = new
            elif part:
                if style:
                    spans.append(Span(offset, offset + len(part), style))
                plain.append(part)
                offset += len(part)
        decoder.style = style
    return Text("".join(plain), spans=spans, tab_size=8)
