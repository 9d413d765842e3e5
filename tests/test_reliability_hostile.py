"""Hostile input: files and trees a lab (or a broken copy, a USB stick, a curious student) can put in the raw root.

Each case of the table builds a raw tree and says, per file, what labtui must make of it — staged (complete or
not), rejected with a kind, or ignored (not a candidate) — and why. After the stage every case also checks the
promises that hold after any completed run: raw tree untouched (1), every candidate staged xor rejected (2),
a re-run changes nothing (3), the store reads whole (4).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import gzip
import json
import os
import re
import shutil
import stat
import threading
import time
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from labtui.core import stager as stager_module
from labtui.core.errors import OperationFailed
from labtui.core.fixes import apply_fixes
from labtui.core.layout import run_parquet_path
from labtui.core.manifest import read_manifest
from labtui.core.metrics import read_metrics
from labtui.core.rejects import LINE_BYTES, excerpt, reject_path
from labtui.core.validate import validate
from tests.lab import OLD_MTIME, Lab, put, render_run, unlistable
from tests.promises import assert_settled, raw_snapshot, reject_files, store_bytes

STAGED = ("staged", True)
INCOMPLETE = ("staged", False)
IGNORED = ("ignored", None)


def rejected(kind: str) -> tuple[str, str]:
    return ("rejected", kind)


Expect = tuple[str, object]
Builder = Callable[[Path, Path], dict[str, Expect]]


@dataclass(frozen=True)
class Case:
    id: str
    build: Builder  # (raw root, a folder outside it) -> {source_file: expected outcome}
    reason: str
    subprocess: bool = False  # stage through the CLI with a timeout (cases that once hung the parser)


def valid(proc: str = "IVg", **kwargs: object) -> bytes:
    return render_run(proc, **kwargs)[1]  # type: ignore[arg-type]


def plant(raw: Path, rel: str, data: bytes) -> None:
    """A raw file written long ago (never busy)."""
    put(raw / rel, data, OLD_MTIME)


def one(rel: str, data: bytes, expect: Expect) -> Builder:
    def build(raw: Path, outside: Path) -> dict[str, Expect]:
        plant(raw, rel, data)
        return {rel: expect}
    return build


def _lines(data: bytes) -> list[bytes]:
    return data.split(b"\r\n")


def replace_line(data: bytes, startswith: bytes, new: bytes | None) -> bytes:
    lines = _lines(data)
    index = next(i for i, line in enumerate(lines) if line.startswith(startswith))
    if new is None:
        del lines[index]
    else:
        lines[index] = new
    return b"\r\n".join(lines)


def header_and_rows(data: bytes) -> tuple[bytes, list[bytes]]:
    head, _, body = data.partition(b"#Data:\r\n")
    columns, _, rows = body.partition(b"\r\n")
    return head + b"#Data:\r\n" + columns + b"\r\n", [row for row in rows.split(b"\r\n") if row]


def with_rows(data: bytes, rows: list[bytes]) -> bytes:
    head, _ = header_and_rows(data)
    return head + b"".join(row + b"\r\n" for row in rows)


IVG = valid("IVg", n_rows=41)
HEAD, ROWS = header_and_rows(IVG)
NAME = "2025-09-15/IVg2025-09-15_1.csv"


def _two_million_rows(raw: Path, outside: Path) -> dict[str, Expect]:
    n = 2_000_000
    head = valid("LaserCalibration", n_rows=2).split(b"#Data:")[0]
    head = replace_line(head, b"#\tLaser voltage step:", f"#\tLaser voltage step: {5 / (n - 1)!r} V".encode())
    frame = pl.DataFrame({"VL (V)": pl.int_range(0, n, eager=True) * (5 / (n - 1)),
                          "Power (W)": pl.int_range(0, n, eager=True) * 1e-12 + 1e-8})
    body = frame.write_csv(include_header=True, line_terminator="\r\n").encode()
    plant(raw, "2025-09-15/LaserCalibration2025-09-15_7.csv", head + b"#Data:\r\n" + body)
    return {"2025-09-15/LaserCalibration2025-09-15_7.csv": STAGED}


def _name_twins(same_start: bool) -> Builder:
    def build(raw: Path, outside: Path) -> dict[str, Expect]:
        plant(raw, "d/IVg2025-09-15_1.csv", valid("IVg", n_rows=21, seed=1))
        plant(
            raw,
            "d/ivg2025-09-15_1.csv",
            valid("IVg", n_rows=31, seed=2, start_utc=1757947090.3839564 + (0 if same_start else 60)),
        )
        return {
            "d/IVg2025-09-15_1.csv": STAGED,
            "d/ivg2025-09-15_1.csv": rejected("duplicate_run") if same_start else STAGED,
        }

    return build


def _unicode_names(raw: Path, outside: Path) -> dict[str, Expect]:
    nfc = unicodedata.normalize("NFC", "d/medición_1.csv")
    nfd = unicodedata.normalize("NFD", "d/medición_1.csv")
    plant(raw, nfc, valid("IVg", seed=1))
    plant(raw, nfd, valid("IVg", seed=2))
    plant(raw, "d/Ωhm ✓ 測定_2.csv", valid("IV"))
    return {nfc: STAGED, nfd: STAGED, "d/Ωhm ✓ 測定_2.csv": STAGED}


def _undecodable_name(raw: Path, outside: Path) -> dict[str, Expect]:
    folder = raw / "d"
    folder.mkdir(parents=True)
    path = os.fsencode(folder) + b"/medici\xf3n_1.csv"  # latin-1 bytes: not UTF-8
    with open(path, "wb") as handle:
        handle.write(valid("IVg"))
    os.utime(path, ns=(int(OLD_MTIME * 1e9),) * 2)
    return {"d/medici\\xf3n_1.csv": STAGED}


def _name_spelling_a_byte(raw: Path, outside: Path) -> dict[str, Expect]:
    """A UTF-8 name that holds the text `\\xf3` beside a latin-1 name with the byte 0xF3: once one key, and every
    stage dropped one of the two runs."""
    expected = _undecodable_name(raw, outside)
    plant(raw, "d/medici\\xf3n_1.csv", valid("IVg", start_utc=1757947090.3839564 + 60))
    plant(raw, "d/a\\x5c.csv", valid("IV"))
    return {**expected, "d/medici\\x5cxf3n_1.csv": STAGED, "d/a\\x5cx5c.csv": STAGED}


def _symlinks(raw: Path, outside: Path) -> dict[str, Expect]:
    plant(raw, "d/IVg2025-09-15_1.csv", valid("IVg"))
    outside.mkdir(parents=True, exist_ok=True)
    put(outside / "secret.csv", valid("IV"), OLD_MTIME)
    os.symlink("IVg2025-09-15_1.csv", raw / "d" / "inside_link.csv")
    os.symlink(outside / "secret.csv", raw / "d" / "outside_link.csv")
    os.symlink(raw / "d" / "nowhere.csv", raw / "d" / "dangling.csv")
    os.symlink("loop.csv", raw / "d" / "loop.csv")
    os.symlink(outside, raw / "d" / "dir_link.csv")  # a link to a directory, named like a file
    return {
        "d/IVg2025-09-15_1.csv": STAGED,
        "d/inside_link.csv": rejected("symlink"),
        "d/outside_link.csv": rejected("symlink"),
        "d/dangling.csv": rejected("symlink"),
        "d/loop.csv": rejected("symlink"),
        "d/dir_link.csv": rejected("symlink"),
    }


def _directory_links(raw: Path, outside: Path) -> dict[str, Expect]:
    plant(raw, "d/IVg2025-09-15_1.csv", valid("IVg"))
    outside.mkdir(parents=True, exist_ok=True)
    put(outside / "IV2025-09-15_2.csv", valid("IV"), OLD_MTIME)
    os.symlink(outside, raw / "escape")  # a directory link out of the raw root: never followed
    os.symlink("..", raw / "d" / "up")  # a directory loop
    os.symlink(".", raw / "d" / "self")
    return {
        "d/IVg2025-09-15_1.csv": STAGED,
        "escape/IV2025-09-15_2.csv": IGNORED,
        "d/up/d/IVg2025-09-15_1.csv": IGNORED,
        "d/self/IVg2025-09-15_1.csv": IGNORED,
    }


def _non_candidates(raw: Path, outside: Path) -> dict[str, Expect]:
    plant(raw, "d/x.csv/IVg2025-09-15_1.csv", valid("IVg"))  # a directory named x.csv: its content counts
    plant(raw, "d/.IVg2025-09-15_2.csv", valid("IVg", file_idx=2))
    plant(raw, "d/.trash/IVg2025-09-15_3.csv", valid("IVg", file_idx=3))
    plant(raw, "d/IVg2025-09-15_4.txt", valid("IVg", file_idx=4))
    plant(raw, "d/IVg2025-09-15_5.csv.bak", valid("IVg", file_idx=5))
    plant(raw, "d/.DS_Store", b"\x00\x00\x00\x01Bud1\x00")
    plant(raw, "d/IVG2025-09-15_6.CSV", valid("IVg", file_idx=6))  # upper-case extension: a candidate
    os.mkfifo(raw / "d" / "pipe.csv")  # never opened: opening a FIFO would block
    owner = b"\x05labtu" + b"\x20" * 49 + b"\x05\x00l\x00a\x00b\x00t\x00u\x00" + b"\x20\x00" * 49  # Excel's lock
    plant(raw, "d/~$IVg2025-09-15_7.csv", owner)
    for index, end in enumerate((" ", ".", "\t", "\u00a0 "), start=8):  # typed after the name: still a CSV
        plant(raw, f"d/IVg2025-09-15_{index}.csv{end}", valid("IVg", file_idx=index))
    plant(raw, "d/IVg2025-09-15_12.csv\n", valid("IVg", file_idx=12))  # a script's line end: no name it meant
    return {
        "d/x.csv/IVg2025-09-15_1.csv": STAGED,
        "d/.IVg2025-09-15_2.csv": IGNORED,
        "d/.trash/IVg2025-09-15_3.csv": IGNORED,
        "d/IVg2025-09-15_4.txt": IGNORED,
        "d/IVg2025-09-15_5.csv.bak": IGNORED,
        "d/.DS_Store": IGNORED,
        "d/IVG2025-09-15_6.CSV": STAGED,
        "d/pipe.csv": IGNORED,
        "d/~$IVg2025-09-15_7.csv": IGNORED,
        **{f"d/IVg2025-09-15_{index}.csv{end}": STAGED for index, end in enumerate((" ", ".", "\t", "\u00a0 "), 8)},
        "d/IVg2025-09-15_12.csv\n": IGNORED,
    }


def _huge_columns_row(raw: Path, outside: Path) -> dict[str, Expect]:
    head = HEAD.split(b"#Data:")[0]
    columns = b"Vg (V),I (A)," + b",".join(b"extra %d" % i for i in range(20_000))
    plant(raw, NAME, head + b"#Data:\r\n" + columns + b"\r\n" + b"0.0,1.0" + b",1.0" * 20_000 + b"\r\n")
    return {NAME: INCOMPLETE}


BIG = 8 * 1024 * 1024
_LONG = valid("IVg", n_rows=201)
NUL_LATE = with_rows(_LONG, [*header_and_rows(_LONG)[1][:-1], b"0.0," + b"\x00" * 50 + b",nan,nan,nan"])
assert NUL_LATE.index(b"\x00") > 4096


def _it_cut_within_a_percent(raw: Path, outside: Path) -> dict[str, Expect]:
    """1.5 periods of 120 s at 12 samples a second: a run cut 19 samples (1.6 s) short was complete under a 1 %
    tolerance; one sample short of the end is within a sample, and complete."""
    head, rows = header_and_rows(valid("It", n_rows=2161))
    plant(raw, "d/It2025-09-15_1.csv", head + b"".join(row + b"\r\n" for row in rows[:-19]))
    plant(raw, "d/It2025-09-15_2.csv", head + b"".join(row + b"\r\n" for row in rows[:-1]))
    return {"d/It2025-09-15_1.csv": INCOMPLETE, "d/It2025-09-15_2.csv": STAGED}


def _set_field(row: bytes, index: int, value: bytes) -> bytes:
    fields = row.split(b",")
    fields[index] = value
    return b",".join(fields)


INFINITE = with_rows(
    IVG, [_set_field(r, 1, b"inf") for r in ROWS[:5]] + ROWS[5:-1] + [_set_field(ROWS[-1], 1, b"1e999")]
)

CASES = [
    Case("empty", one(NAME, b"", rejected("empty")), "zero bytes: nothing to stage"),
    Case("whitespace_only", one(NAME, b" \r\n\t\r\n", rejected("empty")), "blank lines only"),
    Case("binary", one(NAME, bytes(range(256)) * 64, rejected("not_this_format")), "NUL bytes: not text"),
    Case("gzip", one(NAME, gzip.compress(IVG), rejected("not_this_format")), "a compressed copy"),
    Case("utf16_bom", one(NAME, IVG.decode().encode("utf-16"), rejected("not_this_format")), "re-saved as UTF-16"),
    Case(
        "utf16_no_bom", one(NAME, IVG.decode().encode("utf-16-le"), rejected("not_this_format")), "UTF-16 without BOM"
    ),
    Case(
        "html_error_page",
        one(
            NAME, b"<!DOCTYPE html>\n<html><body><h1>502 Bad Gateway</h1></body></html>\n", rejected("not_this_format")
        ),
        "a download that saved the server's error page",
    ),
    Case(
        "header_only_real_irregularity",
        one(NAME, IVG.split(b"#Metadata:")[0], rejected("no_data_section")),
        "acquisition never started: no #Metadata, no start time, no #Data (seen in the real data)",
    ),
    Case("metadata_but_no_data", one(NAME, IVG.split(b"#Data:")[0], rejected("no_data_section")), "no #Data section"),
    Case(
        "data_tag_at_eof",
        one(NAME, IVG.split(b"#Data:")[0] + b"#Data:\r\n", rejected("no_columns")),
        "#Data: and nothing after",
    ),
    Case("header_without_rows", one(NAME, HEAD, rejected("no_rows")), "column row but zero data rows"),
    Case(
        "truncated_mid_header",
        one(NAME, IVG[: IVG.index(b"#\tVG end") + 5], rejected("no_data_section")),
        "copy interrupted inside the header",
    ),
    Case(
        "truncated_mid_row",
        one(NAME, with_rows(IVG, ROWS[:20]) + ROWS[20][:7], INCOMPLETE),
        "acquisition stopped mid-row: the partial line is dropped, the run is short of its sweep",
    ),
    Case("it_cut_within_a_percent", _it_cut_within_a_percent, "an It run cut more than a sample short of 1.5 periods"),
    Case("aborted_sweep", one(NAME, with_rows(IVG, ROWS[:15]), INCOMPLETE), "fewer rows than the sweep implies"),
    Case(
        "duplicate_key_conflicting",
        one(
            NAME, IVG.replace(b"#\tSample: D", b"#\tChip number: 68\r\n#\tSample: D"), rejected("conflicting_parameter")
        ),
        "two different chip numbers",
    ),
    Case(
        "duplicate_key_same_value",
        one(NAME, IVG.replace(b"#\tSample: D", b"#\tChip number: 67\r\n#\tSample: D"), STAGED),
        "a repeated key that agrees is harmless",
    ),
    Case(
        "absurd_chip_number",
        one(NAME, IVG.replace(b"Chip number: 67", b"Chip number: " + b"9" * 300), rejected("bad_chip_number")),
        "an integer no Int64 column can hold",
    ),
    Case(
        "absurd_file_index",
        one("d/IVg2025-09-15_99999999999999999999999.csv", IVG, STAGED),
        "a queue index no Int64 column can hold: left empty with a warning (it only orders runs)",
    ),
    Case(
        "negative_wavelength",
        one(NAME, IVG.replace(b"Laser wavelength: 455", b"Laser wavelength: -455"), STAGED),
        "a wavelength below zero: left empty with a warning",
    ),
    Case(
        "start_time_epoch_zero",
        one(NAME, replace_line(IVG, b"#\tStart time", b"#\tStart time: 0"), rejected("bad_start_time")),
        "1970: a clock that was never set",
    ),
    Case(
        "start_time_far_future",
        one(NAME, replace_line(IVG, b"#\tStart time", b"#\tStart time: 4102444800"), rejected("bad_start_time")),
        "the year 2100",
    ),
    Case(
        "start_time_nan",
        one(NAME, replace_line(IVG, b"#\tStart time", b"#\tStart time: nan"), rejected("bad_start_time")),
        "not a number",
    ),
    Case(
        "start_time_huge",
        one(NAME, replace_line(IVG, b"#\tStart time", b"#\tStart time: 1e300"), rejected("bad_start_time")),
        "beyond any datetime",
    ),
    Case(
        "no_start_time",
        one(NAME, replace_line(IVG, b"#\tStart time", None), rejected("no_start_time")),
        "no way to date the run",
    ),
    Case(
        "non_numeric_data",
        one(NAME, with_rows(IVG, [*ROWS[:5], b"0.1,abc,nan,nan,nan", *ROWS[5:]]), rejected("bad_value")),
        "text in a Float64 column",
    ),
    Case(
        "extra_field_in_row",
        one(NAME, with_rows(IVG, [*ROWS[:5], ROWS[5] + b",7", *ROWS[6:]]), rejected("bad_row")),
        "a row wider than the column row",
    ),
    Case(
        "quoted_field",
        one(NAME, with_rows(IVG, [*ROWS, b'"1,2",3,nan,nan,nan']), rejected("bad_value")),
        "a quoted field is one field (a text column's may hold a comma); '1,2' is no number",
    ),
    Case("nul_after_sniff_window", one(NAME, NUL_LATE, rejected("bad_value")), "binary garbage past the first 4 KiB"),
    Case("infinite_values", one(NAME, INFINITE, STAGED), "inf and overflowing literals are numbers (Float64 inf)"),
    Case(
        "sweep_column_all_nan",
        one(NAME, with_rows(IVG, [b"nan" + r[r.index(b",") :] for r in ROWS]), INCOMPLETE),
        "no finite gate voltage: completeness cannot be shown",
    ),
    Case(
        "empty_fields",
        one(NAME, with_rows(IVG, [*ROWS[:3], b"0.1,,nan,nan,nan", *ROWS[3:]]), STAGED),
        "an empty field is a missing value, kept",
    ),
    Case(
        "missing_required_column",
        one(NAME, IVG.replace(b"Vg (V),I (A)", b"Vg (V),Current"), rejected("missing_column")),
        "no I (A) column",
    ),
    Case(
        "duplicate_column",
        one(NAME, IVG.replace(b"Vg (V),I (A),Plate T (degC)", b"Vg (V),I (A),I (A)"), rejected("duplicate_column")),
        "two columns with one stored name",
    ),
    Case(
        "unknown_procedure",
        one(NAME, IVG.replace(b"procedures.IVg.IVg", b"procedures.Foo.Foo"), rejected("unknown_procedure")),
        "a procedure the registry does not know",
    ),
    Case(
        "procedure_path_traversal",
        one(NAME, IVG.replace(b"<laser_setup.procedures.IVg.IVg>", b"<../../../etc/x>"), rejected("no_procedure")),
        "a procedure name shaped like a path",
    ),
    Case(
        "procedure_dots_only",
        one(NAME, IVG.replace(b"laser_setup.procedures.IVg.IVg", b"IVg.."), rejected("unknown_procedure")),
        "an empty class name after the last dot",
    ),
    Case(
        "no_chip_number",
        one("d/run_1.csv", IVG.replace(b"#\tChip number: 67\r\n", b""), rejected("no_chip_number")),
        "a chip run without a chip",
    ),
    Case(
        "chip_number_text",
        one(NAME, IVG.replace(b"Chip number: 67", b"Chip number: sixty"), rejected("bad_chip_number")),
        "a chip number that is not an integer",
    ),
    Case(
        "line_not_starting_with_hash",
        one(NAME, IVG.replace(b"#\tSample: D", b"Sample: D"), rejected("not_this_format")),
        "a header line that lost its '#'",
    ),
    Case(
        "second_data_section",
        one(NAME, IVG + b"#Data:\r\n" + ROWS[0] + b"\r\n", rejected("bad_row")),
        "two files concatenated",
    ),
    Case(
        "column_row_missing",
        one(NAME, HEAD.rsplit(b"\r\n", 2)[0] + b"\r\n" + b"".join(row + b"\r\n" for row in ROWS),
            rejected("no_columns")),
        "the column-name row deleted by hand: said so, not 'column 'nan' appears twice'",
    ),
    Case(
        "cr_ending_a_field",
        one(NAME, with_rows(IVG, [*ROWS[:3], _set_field(ROWS[3], 1, ROWS[3].split(b",")[1][:-1] + b"\r"), *ROWS[4:]]),
            rejected("bad_row")),
        "a damaged byte made a CR end a field mid-row: Polars read the number without its last digit",
    ),
    Case("lf_line_endings", one(NAME, IVG.replace(b"\r\n", b"\n"), STAGED), "edited on Linux"),
    Case(
        "cr_only_line_endings",
        one(NAME, IVG.replace(b"\r\n", b"\r"), rejected("not_this_format")),
        "classic Mac line ends: said so, not read as one enormous first line",
    ),
    Case("utf8_bom", one(NAME, b"\xef\xbb\xbf" + IVG, STAGED), "saved by a Windows editor"),
    Case("blank_line_under_data_tag", one(NAME, IVG.replace(b"#Data:\r\n", b"#Data:\r\n\r\n"), STAGED),
         "a hand edit's blank line between #Data: and the column row: read past, said"),
    Case(
        "latin1_free_text",
        one(NAME, IVG.replace(b"Information: run 1 seed 0", b"Information: medici\xf3n :("), STAGED),
        "Spanish notes in latin-1",
    ),
    Case("key_without_value", one(NAME, IVG.replace(b"#\tVDS: 0.1 V", b"#\tVDS:"), STAGED), "an empty parameter"),
    Case(
        "header_line_8mb_text",
        one(NAME, IVG.replace(b"Information: run 1 seed 0", b"Information: " + b"x" * BIG),
            rejected("header_too_large")),
        "an 8 MB free-text line: it would sit in the manifest and the run's Parquet footer",
        subprocess=True,
    ),
    Case(
        "header_line_8mb_number",
        one(NAME, IVG.replace(b"Laser voltage: 0 V", b"Laser voltage: 1 a" + b" " * BIG + b"b"),
            rejected("header_too_large")),
        "an 8 MB value that is no number (once a regex blow-up)",
        subprocess=True,
    ),
    Case(
        "first_line_8mb",
        one(NAME, b"#Procedure: <a" + b" " * BIG + b"!\r\n" + IVG.split(b"\r\n", 1)[1], rejected("no_procedure")),
        "an 8 MB #Procedure line (once a regex blow-up)",
        subprocess=True,
    ),
    Case("column_row_20k_columns", _huge_columns_row, "20 000 unknown columns are kept; sensor-less sweep of one row"),
    Case("two_million_rows", _two_million_rows, "a 2M-row calibration (≈60 MB)"),
    Case("names_with_spaces_and_unicode", _unicode_names, "NFC and NFD spellings are different files on Linux"),
    Case("undecodable_name", _undecodable_name, "a latin-1 file name: stored with \\xNN escapes"),
    Case("name_spelling_a_byte", _name_spelling_a_byte, "a name holding `\\xNN` has its backslash spelled `\\x5c`"),
    Case(
        "case_twins_same_start",
        _name_twins(True),
        "IVg…/ivg… with one start time are one run_id: the first in name order stages, the other is a duplicate",
    ),
    Case("case_twins_other_start", _name_twins(False), "different start times: two runs"),
    Case("symlinks_to_files", _symlinks, "links inside, outside, dangling, looping, to a directory: never followed"),
    Case("directory_links", _directory_links, "a directory link out of the root and directory loops: not walked"),
    Case("non_candidates", _non_candidates,
         "hidden files and folders, other extensions, a FIFO, Excel's lock file; x.csv/ is a folder"),
]


def _outcomes(lab: Lab) -> dict[str, Expect]:
    config = lab.config
    outcomes: dict[str, Expect] = {}
    for row in read_manifest(config.manifest_path).iter_rows(named=True):
        outcomes[row["source_file"]] = ("staged", row["is_complete"])
    for record in reject_files(config):
        outcomes[str(record["source_file"])] = rejected(str(record["kind"]))
    return outcomes


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_hostile_input(case: Case, tmp_path: Path) -> None:
    lab = Lab(tmp_path / "lab")
    expected = case.build(lab.raw, tmp_path / "outside")
    raw_before = raw_snapshot(lab.raw)
    started = time.monotonic()
    if case.subprocess:
        result = lab.cli("stage", timeout=60)
        assert result.returncode == 0, result.stderr[-2000:]
    else:
        lab.stage()
    elapsed = time.monotonic() - started
    assert elapsed < 30, f"{case.id}: staging took {elapsed:.1f} s"
    outcomes = _outcomes(lab)
    for source, expect in expected.items():
        got = outcomes.get(source, IGNORED)
        assert got == expect, f"{case.id}: {source}: expected {expect}, got {got} ({case.reason})"
    assert_settled(lab.config)
    assert raw_snapshot(lab.raw) == raw_before
    before = store_bytes(lab.store_root)
    again = lab.stage()
    assert again.staged == 0 and store_bytes(lab.store_root) == before


def test_numbers_near_the_limit_of_a_float_stage_as_gaps_or_nulls(tmp_path: Path) -> None:
    """Times of ±1e308 overflowed the run's duration (NumPy's RuntimeWarning on the terminal, inf in the manifest),
    and a calibration's VL of 1e308 its fit (a RankWarning, LAPACK's own lines): staged, as gaps (the overflow
    marks they are) or nulls, and the command says nothing but its summary and the span they leave."""
    lab = Lab(tmp_path / "lab")
    head, rows = header_and_rows(valid("It", n_rows=30))
    plant(lab.raw, "d/It2025-09-15_1.csv",
          head + b"".join(row + b"\r\n" for row in [_set_field(rows[0], 0, b"-1e308"), *rows[1:-1],
                                                     _set_field(rows[-1], 0, b"1e308")]))
    head, rows = header_and_rows(valid("LaserCalibration", n_rows=40, file_idx=2))
    plant(lab.raw, "d/LaserCalibration2025-09-15_2.csv",
          head + b"".join((_set_field(row, 0, b"1e308") if n == 20 else row) + b"\r\n" for n, row in enumerate(rows)))
    result = lab.cli("stage")
    assert result.returncode == 0, result.stderr
    assert result.stderr.splitlines() == [f"labtui: this started a new store at {lab.store_root}"], result.stderr
    # the clock's two marks are no readings: its span is of the others' (a mark of 9.9e37 made an aborted run whole)
    assert result.stdout.splitlines() == ["note d/It2025-09-15_1.csv: aborted: t (s) spans 167.586 of 180",
                                          result.stdout.splitlines()[1]], result.stdout
    assert result.stdout.splitlines()[1].startswith("2 staged, 0 unchanged")
    manifest = lab.manifest()
    assert manifest.filter(pl.col("proc") == "It")["duration_s"].to_list() == [pytest.approx(167.586, abs=1e-3)]
    assert read_metrics(lab.config).filter(pl.col("proc") == "It")["drift_a_per_s"].to_list() == [None]  # not 0
    metrics = read_metrics(lab.config).filter(pl.col("proc") == "LaserCalibration").row(0, named=True)
    # a VL of 1e308 is no reading: a gap, said, and the slope is the other 39 points'
    assert metrics["slope_w_per_v"] > 0 and metrics["p_max_w"] is not None
    assert "vl_v: 1 value of ±1e+30 or more (an instrument's overflow mark) read as gaps" in metrics["remarks"]


def test_a_case_twin_arriving_later_never_overwrites_the_staged_run(tmp_path: Path) -> None:
    lab = Lab(tmp_path)
    plant(lab.raw, "d/IVg2025-09-15_1.csv", valid("IVg", n_rows=21, seed=1))
    lab.stage()
    config = lab.config
    row = read_manifest(config.manifest_path).row(0, named=True)
    path = run_parquet_path(config.stage_root, row["proc"], row["date_local"], row["run_id"])
    owner_bytes = path.read_bytes()
    plant(lab.raw, "d/ivg2025-09-15_1.csv", valid("IVg", n_rows=31, seed=2))
    report = lab.stage()
    assert [record.kind for record in report.new_rejects] == ["duplicate_run"]
    assert path.read_bytes() == owner_bytes, "the twin's data replaced the owner's Parquet"
    assert_settled(config)


def test_unreadable_file_is_rejected(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    lab = Lab(tmp_path)
    plant(lab.raw, "d/IVg2025-09-15_1.csv", valid("IVg"))
    plant(lab.raw, "d/IVg2025-09-15_2.csv", valid("IVg", file_idx=2))
    target = lab.raw / "d" / "IVg2025-09-15_2.csv"
    if os.geteuid() == 0:  # root reads everything: emulate the permission error at the engine's open
        real_open = os.open

        def deny(path: object, flags: int, *args: object, **kwargs: object) -> int:
            if os.fspath(path) == os.fspath(target):  # type: ignore[arg-type]
                raise PermissionError(13, "Permission denied", os.fspath(target))  # type: ignore[arg-type]
            return real_open(path, flags, *args, **kwargs)  # type: ignore[arg-type]

        monkeypatch.setattr(os, "open", deny)
    else:
        target.chmod(0)
    try:
        lab.stage()
        assert _outcomes(lab) == {"d/IVg2025-09-15_1.csv": STAGED, "d/IVg2025-09-15_2.csv": rejected("unreadable")}
        assert_settled(lab.config)
    finally:
        target.chmod(stat.S_IRUSR | stat.S_IWUSR)


def test_a_folder_that_cannot_be_listed_is_said_and_loses_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Its files are neither staged nor taken for gone: the runs staged from it stay, its reject records too (a
    stage dropped them as records of deleted files, silently), and stage, validate and prune name the folder
    (prune stopped on an operating-system error, as another user)."""
    from labtui.cli import main

    lab = Lab(tmp_path)
    plant(lab.raw, "d/IVg2025-09-15_1.csv", valid("IVg"))
    plant(lab.raw, "locked/IVg2025-09-15_2.csv", valid("IVg", file_idx=2))
    plant(lab.raw, "locked/IVg2025-09-15_3.csv", b"garbage\r\n")
    lab.stage()
    before = _outcomes(lab)
    plant(lab.raw, "d/IVg2025-09-15_4.csv", valid("IVg", file_idx=4))
    with unlistable(lab.raw / "locked", monkeypatch):
        report = lab.stage()
        assert report.unlisted_folders == ["locked/ (Permission denied)"]
        assert _outcomes(lab) == {**before, "d/IVg2025-09-15_4.csv": STAGED}
        findings = {finding.code: finding for finding in validate(lab.config).findings}
        assert findings["raw_unlisted"].items == ["locked/ (Permission denied)"]
        assert findings["raw_unlisted"].fix == ("give the user running labtui read access to them (chmod, chown), or "
                                                "move their files out")
        assert {"raw_missing", "rejects_stale"}.isdisjoint(findings), list(findings)
        apply_fixes(lab.config, validate(lab.config))
        assert _outcomes(lab) == {**before, "d/IVg2025-09-15_4.csv": STAGED}
        capsys.readouterr()
        assert main(lab.args("prune", "--yes")) == 0
        said = capsys.readouterr()
        assert said.err == "labtui: cannot list the raw folder locked/ (Permission denied): its runs were not " \
                           "checked, and are kept\n"
        assert said.out.startswith("nothing to prune in ") and "raw file that could be checked is under" in said.out
        assert _outcomes(lab) == {**before, "d/IVg2025-09-15_4.csv": STAGED}


def test_a_copied_project_with_a_folder_it_cannot_read_stages_the_rest_and_names_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A project copied to another disk (its store recorded the old raw root) checked that its staged files were
    there: the first in a folder it could not read stopped stage and validate on an operating-system error (exit
    73, the code of a store that cannot be written)."""
    from labtui.cli import main

    original = Lab(tmp_path / "original")
    plant(original.raw, "d/IVg2025-09-15_1.csv", valid("IVg"))
    plant(original.raw, "locked/IVg2025-09-15_2.csv", valid("IVg", file_idx=2, start_utc=1757948090.0))
    original.stage()
    lab = Lab(Path(shutil.copytree(original.root, tmp_path / "copy")))
    with unlistable(lab.raw / "locked", monkeypatch):
        report = lab.stage()
        assert report.unlisted_folders == ["locked/ (Permission denied)"]
        assert [f.code for f in validate(lab.config).findings] == ["raw_unlisted"]
        capsys.readouterr()  # a file named in it: said, and the exit code of an unreadable file, not the store's 73
        assert main(lab.args("restage", "locked/IVg2025-09-15_2.csv")) == 74
        assert capsys.readouterr().err == f"labtui: cannot look for the raw file {lab.raw}/locked/" \
                                          "IVg2025-09-15_2.csv: Permission denied\n"
    assert len(read_manifest(lab.config.manifest_path)) == 2


def test_a_raw_root_that_cannot_be_listed_stops_the_stage_and_fixes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The stage stops on one line naming the folder (it said 'raw/_manifest'); validate warns that nothing was
    checked instead of calling every run gone, and its fixes leave the reject records (one was deleted); prune
    refuses."""
    from labtui.cli import main

    lab = Lab(tmp_path)
    plant(lab.raw, "d/IVg2025-09-15_1.csv", valid("IVg"))
    plant(lab.raw, "d/IVg2025-09-15_3.csv", b"garbage\r\n")
    lab.stage()
    before = _outcomes(lab)
    with unlistable(lab.raw, monkeypatch):
        assert lab.config.raw_root_problem() == f"cannot list the raw folder {lab.raw}: Permission denied"
        with pytest.raises(OperationFailed, match=f"^cannot list the raw folder {lab.raw}: Permission denied$") as how:
            lab.stage()
        assert how.value.exit_code == 74  # an unreadable folder, not a store that cannot be written (73)
        report = validate(lab.config)
        assert [(f.code, f.severity) for f in report.findings] == [("raw_root_unreadable", "warning")]
        apply_fixes(lab.config, report)
        assert main(lab.args("prune", "--yes")) == 2  # every run would look gone
        assert _outcomes(lab) == before


def test_a_raw_file_cut_short_keeps_its_complete_run_until_the_user_restages_it(tmp_path: Path) -> None:
    """A complete run's file cut to its first rows (a copy that failed, a bad edit) replaced the run with an aborted
    one of 8 rows, said only as a note. Now the cut file is a reject and the staged run stays, through stage,
    validate --fix and watch alike; `restage --force` names the file and takes what is left. The acquisition only
    appends: an aborted run's file cut further is cut short too."""
    from labtui.cli import main

    lab = Lab(tmp_path)
    plant(lab.raw, "d/IVg2025-09-15_1.csv", valid("IVg"))
    lab.stage()
    complete = lab.manifest().row(0, named=True)
    parquet = run_parquet_path(lab.config.stage_root, "IVg", complete["date_local"], complete["run_id"])
    kept = parquet.read_bytes()
    lines = (lab.raw / "d/IVg2025-09-15_1.csv").read_bytes().splitlines(keepends=True)
    data_at = next(number for number, line in enumerate(lines) if line.startswith(b"#Data:"))
    cut = b"".join(lines[:data_at + 2 + 5])  # the header, the column row, 5 data rows
    plant(lab.raw, "d/IVg2025-09-15_1.csv", cut)
    report = lab.stage()
    assert report.new_rejects[0].kind == "cut_short" and report.new_rejects[0].describe() == (
        f"cut short: 5 data rows left of the {complete['n_rows']} of its staged run; restore the file, or `labtui "
        f"restage --force` it to stage what is left (line {data_at + 2 + 5}); its last good content stays staged (run "
        f"{complete['run_id']})"
    )  # the line its rows end on: the reject review shows the file's lines around it
    assert lab.manifest().row(0, named=True) == complete and parquet.read_bytes() == kept
    findings = validate(lab.config)
    assert [finding.code for finding in findings.findings] == ["rejects"]
    apply_fixes(lab.config, findings)
    assert lab.manifest().row(0, named=True) == complete
    assert main(lab.args("restage", "--force", str(lab.raw / "d/IVg2025-09-15_1.csv"), "-q")) == 0
    assert _outcomes(lab) == {"d/IVg2025-09-15_1.csv": INCOMPLETE}
    assert lab.manifest().row(0, named=True)["n_rows"] == 5
    plant(lab.raw, "d/IVg2025-09-15_1.csv", b"".join(lines[:data_at + 2 + 3]))  # an aborted run cut further
    assert lab.stage().new_rejects[0].reason.startswith("cut short: 3 data rows left of the 5 of its staged run")
    assert lab.manifest().row(0, named=True)["n_rows"] == 5
    another = b"".join(lines[:data_at + 2 + 3]).replace(b"Start time: 1757947090", b"Start time: 1757947690")
    put(lab.raw / "d/IVg2025-09-15_1.csv", another, OLD_MTIME + 60)  # another run (aborted) under the name: it
    # is no cut, and replaces the old run (the same size as the reject's file: a new mtime tells it apart)
    assert lab.stage().staged == 1 and _outcomes(lab) == {"d/IVg2025-09-15_1.csv": INCOMPLETE}
    assert lab.manifest().row(0, named=True)["n_rows"] == 3


def test_a_file_cut_short_is_refused_also_where_the_procedure_has_no_completeness_rule(tmp_path: Path) -> None:
    """It2 (like IVT, IVsaw, …) has no rule that tells a finished run, so every run of it reads complete: cut to 40
    of its rows, the file replaced the staged run without a word, and validate called the store healthy."""
    lab = Lab(tmp_path)
    data = valid("It").replace(b"procedures.It.It>", b"procedures.It2.It2>")
    plant(lab.raw, "d/It22025-10-14_1.csv", data)
    lab.stage()
    staged = lab.manifest().row(0, named=True)
    assert staged["proc"] == "It2" and staged["is_complete"] and staged["n_rows"] > 5
    lines = data.splitlines(keepends=True)
    data_at = next(number for number, line in enumerate(lines) if line.startswith(b"#Data:"))
    plant(lab.raw, "d/It22025-10-14_1.csv", b"".join(lines[:data_at + 2 + 5]))
    report = lab.stage()
    assert report.new_rejects[0].kind == "cut_short"
    assert report.new_rejects[0].reason.startswith(f"cut short: 5 data rows left of the {staged['n_rows']}")
    assert lab.manifest().row(0, named=True) == staged


def staged_then_cut(tmp_path: Path, rows: int, mtime: float = OLD_MTIME) -> tuple[Lab, dict[str, Any]]:
    """A lab whose IVg run is staged, its raw file then cut to its first `rows` data rows (written at `mtime`), and
    the run's manifest row as staged."""
    lab = Lab(tmp_path)
    data = valid("IVg")
    plant(lab.raw, "d/IVg2025-09-15_1.csv", data)
    lab.stage()
    lines = data.splitlines(keepends=True)
    data_at = next(number for number, line in enumerate(lines) if line.startswith(b"#Data:"))
    put(lab.raw / "d/IVg2025-09-15_1.csv", b"".join(lines[:data_at + 2 + rows]), mtime)
    return lab, lab.manifest().row(0, named=True)


def test_a_file_read_mid_save_with_fewer_rows_is_busy_not_cut_short(tmp_path: Path) -> None:
    """A staged file being saved again (a sync client, a copy over it) read before its last rows are in was a
    `cut_short` reject, whose advice (`restage --force` what is left) was wrong while the file was being written.
    Written within the last 30 s, it is busy; left as it is for longer, it is cut short."""
    now = time.time()
    lab, staged = staged_then_cut(tmp_path, 5, now)
    report = lab.stage()
    assert list(report.busy_files) == ["d/IVg2025-09-15_1.csv"] and re.fullmatch(  # 0 s ago on a quiet machine
        r"it holds fewer rows than its staged run and it was written ([0-9]|1[0-9]) s ago: still being saved or "
        r"copied\? Staged once it is 30 s old", report.busy_files["d/IVg2025-09-15_1.csv"])
    assert lab.rejects() == {} and lab.manifest().row(0, named=True) == staged
    os.utime(lab.raw / "d/IVg2025-09-15_1.csv", (now - 31, now - 31))
    assert [record.kind for record in lab.stage().new_rejects] == ["cut_short"]


def test_restage_without_force_refuses_a_file_cut_short_since_staged(tmp_path: Path) -> None:
    """`restage raw/d/*.csv` after a failed copy took the cut file as it was (21 of 40 rows, no note): only
    `--force`, which the reject names, takes what is left."""
    from labtui.cli import main

    lab, staged = staged_then_cut(tmp_path, 5)
    main(lab.args("restage", str(lab.raw / "d/IVg2025-09-15_1.csv"), "-q"))
    assert lab.manifest().row(0, named=True) == staged
    assert [record.kind for record in lab.rejects().values()] == ["cut_short"]
    assert main(lab.args("restage", "--force", str(lab.raw / "d/IVg2025-09-15_1.csv"), "-q")) == 0
    assert lab.manifest().row(0, named=True)["n_rows"] == 5


def test_a_start_time_in_the_future_is_judged_again_once_the_clock_is_right(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Staged on a computer whose clock was 420 days behind, every run was 'in the future'; with the clock set
    right the reject still held (the file had not changed), and only `restage --force` staged them."""
    import labtui.core.start_time as start_time

    lab = Lab(tmp_path)
    plant(lab.raw, "d/IVg2025-09-15_1.csv", valid("IVg"))
    monkeypatch.setattr(start_time, "FUTURE_SLACK", dt.timedelta(days=-(dt.datetime.now(dt.UTC).year - 2024) * 366))
    (record,) = lab.stage().new_rejects
    assert record.kind == "bad_start_time" and "is implausible (in the future: this computer's clock says" in \
        record.reason
    before = store_bytes(lab.store_root)
    assert lab.stage().staged == 0 and store_bytes(lab.store_root) == before  # judged by this clock a moment ago:
    # not read again at every stage
    run_start = dt.datetime(2025, 9, 15, 14, 38, 10, tzinfo=dt.UTC)  # valid("IVg")'s
    plausible = run_start - start_time.FUTURE_SLACK  # when the clock makes it plausible, read again
    assert abs(record.plausible_from_utc - plausible) < dt.timedelta(seconds=1)  # type: ignore[operator]
    monkeypatch.undo()
    reject = reject_path(lab.config.rejects_dir, record.source_file)  # time passes: the clock reaches that moment
    written = json.loads(reject.read_text())
    written["plausible_from_utc"] = f"{dt.datetime.now(dt.UTC):%Y-%m-%dT%H:%M:%S.%fZ}"
    reject.write_text(json.dumps(written))
    assert lab.stage().staged == 1 and not lab.rejects()


def test_a_file_where_the_store_keeps_a_folder_is_named_and_fix_moves_it_out_of_the_stage_root(
    tmp_path: Path,
) -> None:
    """`_rejects` made a file: "cannot write the reject record …/_rejects/x.json: File exists" named a file that
    is not there. A run's folder made a file: `validate --fix` re-staged before it moved the stranger, and stopped
    on it ("File exists"), moving nothing."""
    from labtui.core.errors import OperationFailed

    lab = Lab(tmp_path)
    plant(lab.raw, "d/IVg2025-09-15_1.csv", valid("IVg"))
    lab.stage()
    shutil.rmtree(lab.config.rejects_dir, ignore_errors=True)
    lab.config.rejects_dir.write_text("")
    plant(lab.raw, "d/bad.csv", b"not a measurement")
    with pytest.raises(OperationFailed, match=re.escape(f"({lab.config.rejects_dir} is a file where a folder is "
                                                        "needed)")):
        lab.stage()
    lab.config.rejects_dir.unlink()
    lab.stage()
    run = lab.run_of("d/IVg2025-09-15_1.csv")
    folder = run_parquet_path(lab.config.stage_root, "IVg", run["date_local"], run["run_id"]).parent
    shutil.rmtree(folder)
    folder.write_text("junk")
    report = validate(lab.config)
    assert {finding.code for finding in report.findings} >= {"parquet_missing", "foreign_files"}
    apply_fixes(lab.config, report)
    assert validate(lab.config).ok and folder.is_dir()


def test_a_file_swapped_for_a_fifo_after_the_scan_does_not_hang(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A FIFO is never a candidate, but the scan and the read are two moments: the read must not block."""
    lab = Lab(tmp_path)
    plant(lab.raw, "d/IVg2025-09-15_1.csv", valid("IVg"))
    scanned = stager_module.scan_raw(lab.raw)
    (lab.raw / "d" / "IVg2025-09-15_1.csv").unlink()
    os.mkfifo(lab.raw / "d" / "IVg2025-09-15_1.csv")
    monkeypatch.setattr(stager_module, "scan_raw", lambda root, passed: scanned)
    done = threading.Event()
    worker = threading.Thread(target=lambda: (lab.stage(), done.set()), daemon=True)
    worker.start()
    worker.join(20)
    if not done.is_set():  # unblock a reader stuck in open() so the test process can end (no reader: ENXIO), then fail
        with contextlib.suppress(OSError):
            os.close(os.open(lab.raw / "d" / "IVg2025-09-15_1.csv", os.O_WRONLY | os.O_NONBLOCK))
        worker.join(20)
        pytest.fail("the stager blocked opening a FIFO")
    assert _outcomes(lab) == {"d/IVg2025-09-15_1.csv": rejected("not_a_file")}
    monkeypatch.undo()
    lab.stage()  # the FIFO is no candidate: its reject record goes
    assert reject_files(lab.config) == []


def test_a_file_larger_than_any_run_is_rejected_unread(tmp_path: Path) -> None:
    """A disk image named .csv (sparse here: no disk is used) is not read into memory; the reject says why."""
    from labtui.core.rawread import MAX_RAW_BYTES

    lab = Lab(tmp_path)
    plant(lab.raw, "d/IVg2025-09-15_1.csv", valid("IVg"))
    with open(lab.raw / "d" / "IVg2025-09-15_2.csv", "wb") as huge:
        huge.truncate(MAX_RAW_BYTES + 1)
    lab.stage()
    assert _outcomes(lab) == {"d/IVg2025-09-15_1.csv": STAGED, "d/IVg2025-09-15_2.csv": rejected("too_large")}
    [record] = reject_files(lab.config)
    assert "more than any run" in str(record["reason"])


def test_the_excerpt_of_a_rejected_file_cuts_long_lines_and_never_reads_one_whole(tmp_path: Path) -> None:
    """What the rejects screen shows of a file: its first lines and those around the bad one, each cut to
    `LINE_BYTES`. A 5-million-field row (or a file without line breaks) is skipped in chunks, not held."""
    path = tmp_path / "IVg2025-09-15_1.csv"
    head = [b"#Procedure: <laser_setup.procedures.IVg.IVg>", b"#Data:", b"Vg (V),I (A)"]
    path.write_bytes(b"\r\n".join([*head, b"1," * 5_000_000 + b"1", b"2,3", b"4,5"]) + b"\r\n")
    lines = excerpt(path, 4)
    assert [n for n, _ in lines] == [1, 2, 3, 4, 5, 6]
    assert lines[3][1] == ("1," * (LINE_BYTES // 2)) + "…" and lines[4:] == [(5, "2,3"), (6, "4,5")]
    no_breaks = tmp_path / "blob.csv"
    no_breaks.write_bytes(bytes(range(32, 127)) * 100_000)  # 9.5 MB, not one line break
    ((number, text),) = excerpt(no_breaks, None)
    assert number == 1 and text.endswith("…") and len(text.encode()) < 2 * LINE_BYTES


NAMES = [b"medici\xf3n.csv", b"medici\\xf3n.csv", b"a\\x5c.csv", b"a\\\xf3.csv", b"a\\xF3.csv", b"\\x\\xz.csv",
         b"\\x5cxf3.csv"]


def test_each_name_has_a_key_of_its_own_that_names_it_back() -> None:
    from labtui.core.scan import source_key, source_path

    keys = [source_key(os.fsdecode(name)) for name in NAMES]
    assert len(set(keys)) == len(NAMES)
    assert [os.fsencode(source_path(Path("/raw"), key)) for key in keys] == [b"/raw/" + name for name in NAMES]


def test_a_latin1_named_file_is_found_from_its_key(tmp_path: Path) -> None:
    """Its key spells the bytes `\\xNN`, which `raw_root / key` never names: prune took the file for gone (and
    `prune --yes` would drop its run), validate hashed nothing and called it changed, `--fix` and watch restaged
    nothing."""
    from labtui.core.fixes import apply_fixes
    from labtui.core.repair import prunable
    from labtui.core.scan import PassedOver, source_path
    from labtui.core.validate import validate

    lab = Lab(tmp_path)
    expected = _undecodable_name(lab.raw, tmp_path)
    lab.stage()
    (key,) = expected
    assert source_path(lab.raw, key).read_bytes() == valid("IVg")
    assert prunable(lab.config, read_manifest(lab.config.manifest_path), PassedOver()).is_empty()
    assert validate(lab.config, hash_all=True).findings == []
    path = source_path(lab.raw, key)
    path.write_bytes(valid("IVg") + b"0.0,1e-06,nan,nan,nan\r\n")  # content changed: --fix restages it
    report = validate(lab.config)
    assert [finding.restage for finding in report.findings if finding.restage] == [(key,)]
    assert apply_fixes(lab.config, report).stage_reports[0].staged == 1


def test_a_folder_whose_path_is_too_long_is_not_said_to_need_read_access(tmp_path: Path) -> None:
    """A raw path over the system's limit (4096 bytes) was listed as unreadable with the fix `chmod, chown`."""
    lab = Lab(tmp_path)
    plant(lab.raw, "d/IVg2025-09-15_1.csv", valid("IVg"))
    lab.stage()
    folder = os.open(lab.raw, os.O_RDONLY)  # made a level at a time: no single path names the deepest folder
    try:
        for _ in range(20):
            os.mkdir("x" * 250, dir_fd=folder)
            inner = os.open("x" * 250, os.O_RDONLY, dir_fd=folder)
            os.close(folder)
            folder = inner
    finally:
        os.close(folder)
    finding = {f.code: f for f in validate(lab.config).findings}["raw_unlisted"]
    assert "(File name too long)" in finding.items[0]
    assert finding.fix == "shorten their paths (longer than the system allows), or move their files out"
