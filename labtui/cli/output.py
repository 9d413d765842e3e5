"""The standard output of every command: its data written in UTF-8 (`print_data`), and its failures said as what
failed (`said_output`, which `main` puts under every command)."""

from __future__ import annotations

import codecs
import io
import os
import sys

from labtui.core.errors import OperationFailed

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing, which every start would pay for
if TYPE_CHECKING:
    from typing import TextIO

    from typing_extensions import Buffer


# What a character an output's encoding lacks is written as (ASCII, a Latin-1 terminal's): `8.84 ?A` lost the unit's
# prefix, and the magnitude with it; a character not here is `?`. Those of the tables (a unit's prefix, λ, Δ, a sweep's
# arrow, the history's marks: two cells, `L` lit, `D` dark) as wide as they are, or the columns slip; those of
# sentences alone (σ, ≥, ≈) as words say them.
PLAIN = {"µ": "u", "μ": "u", "λ": "l", "Δ": "d", "→": ":", "−": "-", "–": "-", "—": "-", "×": "x", "·": ".",
         "…": ".", "°": "o", "²": "2", "³": "3", "Ω": "O", "⚠": "!", "💡": "L ", "🌙": "D ", "❗": "! ", "✓": "y",
         "✗": "n", "σ": " sigma", "≥": ">=", "≤": "<=", "≈": "~", "✔": "+", "✘": "x", "★": "*"}
PLAIN_ERRORS = "labtui-plain"  # the codecs error handler that writes them so (`reconfigure(errors=...)`)


def _plain(error: UnicodeError) -> tuple[str, int]:
    if not isinstance(error, UnicodeEncodeError):
        raise error
    return "".join(PLAIN.get(char, "?") for char in error.object[error.start:error.end]), error.end


codecs.register_error(PLAIN_ERRORS, _plain)


def print_data(text: str) -> None:
    """CSV or JSON on the standard output, in UTF-8 whatever the output's encoding, as --out writes it: a Latin-1 or
    cp1252 output (a redirection on Windows, a Latin-1 locale) got that encoding, with `?` for every 🌙, → and λ."""
    sys.stdout.flush()
    sys.stdout.buffer.write((text if text.endswith("\n") else text + "\n").encode("utf-8"))
    sys.stdout.flush()


class _StandardOutput(io.RawIOBase):
    """The standard output's file descriptor, whose failures say what failed: `validate > /dev/full` (or a full disk,
    a dead terminal) was "operating-system error: No space left on device", naming nothing."""

    def __init__(self, fd: int) -> None:
        super().__init__()
        self.fd = fd
        self.failed = False  # said once; what is written after has nowhere to go (nor an exit's flush a new error)

    def writable(self) -> bool:
        return True

    def fileno(self) -> int:
        return self.fd

    def isatty(self) -> bool:
        return os.isatty(self.fd)

    def write(self, data: Buffer, /) -> int:
        if self.failed:
            return memoryview(data).nbytes
        try:
            return os.write(self.fd, data)
        except OSError as exc:
            self.failed = True
            if isinstance(exc, BrokenPipeError):  # a reader that stopped (`| head`): not an error
                raise
            raise OperationFailed("write", "the standard output", exc) from None


def said_output(stream: TextIO) -> TextIO:
    """`stream` (the standard output) written through `_StandardOutput`, in its encoding and its buffering (none
    under `python -u` or PYTHONUNBUFFERED, as a lab's service runs `stage --watch`); itself when it has no file
    descriptor (a test's capture)."""
    try:
        fd = stream.fileno()
    except (OSError, ValueError):
        return stream
    raw = _StandardOutput(fd)
    buffered = isinstance(getattr(stream, "buffer", None), io.BufferedIOBase)
    binary = io.BufferedWriter(raw) if buffered else raw  # a raw stream under -u, as Python's own
    return io.TextIOWrapper(binary, encoding=stream.encoding, errors=stream.errors,  # type: ignore[type-var]
                            line_buffering=bool(stream.line_buffering),
                            write_through=bool(getattr(stream, "write_through", False)))
