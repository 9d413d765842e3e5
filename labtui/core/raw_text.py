"""A raw file's bytes before its header is read: where its text ends (`text_end`: what it holds if it is no ASCII
CSV), its header lines as text (`decode_line`, `decode_lines`), and the reject of a file that is no measurement at
all (`not_a_measurement`). The parser reads the header from what these leave."""

from __future__ import annotations

import codecs
import re
from typing import NoReturn

from labtui.core.rejects import Reject
from labtui.core.wording import counted, quoted

_SNIFF = 4096
DATA_TAG = rb"(?mi)^#[ \t]*data:[ \t]*\r?"  # the line the rows follow; `# Data:` and `#DATA:` as hands retype it
# the first byte of content, without copying the file as bytes.strip() does; a DOS end-of-file mark (Ctrl+Z, which
# some Windows tools append) is none
VISIBLE = re.compile(rb"[^\s\x1a]")
BLANK_LINES = re.compile(rb"(?:[ \t\r]*+\n)*+")  # blank lines, as Polars skips them before a row


def decode_line(line: bytes) -> str:
    """Header lines are ASCII; free text may carry UTF-8 or Windows-1252 bytes (Spanish notes), even both in one line
    (a note typed on two machines): each byte that is no UTF-8 is read as Windows-1252, not the whole line (`medición
    µA` read as `mediciÃ³n µA`). Windows-1252 is latin-1 with dashes, quotes and € where latin-1 has C1 controls
    (`– “limpio” 5€` was stored as U+0096 U+0093 U+0094 U+0080, which exports dropped); its 5 unused bytes are
    read as latin-1."""
    return line.decode("utf-8", _WINDOWS_1252_BYTES)


def _as_windows_1252(error: UnicodeError) -> tuple[str, int]:
    assert isinstance(error, UnicodeDecodeError)  # registered for decoding only
    return "".join(_WINDOWS_1252[byte] for byte in error.object[error.start : error.end]), error.end


def _windows_1252(byte: int) -> str:
    try:
        return bytes((byte,)).decode("cp1252")
    except UnicodeDecodeError:  # 0x81, 0x8D, 0x8F, 0x90, 0x9D: no character in Windows-1252
        return chr(byte)


_WINDOWS_1252 = [_windows_1252(byte) for byte in range(256)]
_WINDOWS_1252_BYTES = "labtui-windows-1252"
codecs.register_error(_WINDOWS_1252_BYTES, _as_windows_1252)


def decode_lines(header: bytes) -> list[str]:
    """The header's lines as text: decoded at once when it is all UTF-8 (nearly always), else line by line."""
    try:
        return header.decode("utf-8").split("\n")
    except UnicodeDecodeError:
        return [decode_line(line) for line in header.split(b"\n")]


def _utf16_without_bom(head: bytes) -> bool:
    """ASCII text written as UTF-16 without a byte-order mark: every other byte NUL, the others text."""
    for text, nuls in ((head[0::2], head[1::2]), (head[1::2], head[0::2])):  # little-endian, then big-endian
        if len(nuls) > 8 and not nuls.strip(b"\x00") and text.isascii() and b"\x00" not in text:
            return True
    return False


def text_end(data: bytes) -> int:
    """Where the file's text ends: at its end, or where the NUL bytes that end a small file begin."""
    head = data[:_SNIFF]
    if not VISIBLE.search(data):
        raise Reject("empty", "the file is empty")
    if head.startswith(b"\x1f\x8b"):
        raise Reject("not_this_format", "the file is gzip-compressed, not a measurement CSV: decompress it first")
    nul = head.find(b"\x00")
    # NUL bytes from there to the end are a write lost in a crash, dropped with the cut last line (`data_block`) as
    # in a file larger than the sniff; a small file with them was "binary data"
    padding = nul > 0 and data.count(b"\x00", nul) == len(data) - nul
    if head.startswith((b"\xff\xfe", b"\xfe\xff")) or (nul >= 0 and not padding):
        kind = ("UTF-32 text" if head.startswith((b"\xff\xfe\x00\x00", b"\x00\x00\xfe\xff"))
                else "UTF-16 text" if head[:2] in (b"\xff\xfe", b"\xfe\xff")
                else "UTF-16 text (without its byte-order mark)" if _utf16_without_bom(head) else "binary data")
        raise Reject("not_this_format", f"the file holds {kind}, not an ASCII measurement CSV")
    if b"\r" in head and b"\n" not in head:
        raise Reject("not_this_format", "the lines end with a carriage return alone (classic Mac OS line ends): "
                                        "convert them to newlines")
    if head.find(b"\r\r\n") == head.find(b"\n") - 2 >= 0:  # else "a header line does not start with '#'"
        raise Reject("not_this_format", "the lines end in two carriage returns (\\r\\r\\n: the file's line ends "
                                        "converted twice?)", 1)
    return nul if padding else len(data)


def not_a_measurement(data: bytes) -> NoReturn:
    """The reject of a file whose first line is not `#Procedure:`, naming what the file starts with instead."""
    first = VISIBLE.search(data)
    if first is None:  # a BOM alone
        raise Reject("empty", "the file is empty")
    line = data.count(b"\n", 0, first.start()) + 1
    end = data.find(b"\n", first.start())
    text = decode_line(data[first.start() : len(data) if end < 0 else end]).strip()
    if line > 1 and text.startswith("#Procedure:"):
        raise Reject("not_this_format", f"the file starts with {counted(line - 1, 'blank line')} before its "
                                        "'#Procedure:' line (a hand edit?): remove them", 1)
    if re.match(DATA_TAG, data[first.start() :]):
        raise Reject("not_this_format", "the file starts with its #Data: line: the header above it (#Procedure:, "
                                        "#Parameters:, #Metadata:) is missing", line)
    raise Reject("not_this_format", f"not a PyMeasure measurement file: it starts with {quoted(text)}, not "
                                    "'#Procedure:'", line)
