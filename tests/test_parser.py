"""The parser, rule by rule: what stages, what is rejected and with which sentence."""

from __future__ import annotations

import datetime as dt
import gzip
import math

import polars as pl
import pytest

from labtui.core.completeness import duration_s, is_complete
from labtui.core.datablock import RAGGED_CHECK_BYTES, _count, _cr_ends_a_field, data_block
from labtui.core.header_values import parse_number
from labtui.core.parser import Header, parse_header
from labtui.core.registry import ParameterSpec, load_registry, snake_column
from labtui.core.rejects import Reject
from labtui.core.start_time import FUTURE_SLACK
from labtui.core.wording import quoted
from tests.lab import IT_COLUMNS, IVG_COLUMNS, data_rows, it_rows, ivg_rows, raw_csv, sweep
from tests.promises import parse_alone_and_batched

REGISTRY = load_registry()


def parse(data: bytes, stem: str = "It2025-10-14_3"):
    """Every rule holds alone and within a batch (the stager's path)."""
    header = parse_header(data, REGISTRY, stem)
    frame, warnings = parse_alone_and_batched(data, header)
    return header, frame, warnings


def rejected(data: bytes, stem: str = "It2025-10-14_3") -> Reject:
    with pytest.raises(Reject) as info:
        parse(data, stem)
    return info.value


def _separated(data: bytes, separator: bytes, line_end: bytes = b"\r\n") -> bytes:
    """The file as a spreadsheet re-saves it: another separator between the columns of the column row and rows,
    or another line end after them (`,\r\n`: every line ending with a comma)."""
    head, _, rows = data.partition(b"#Data:\r\n")
    return head + b"#Data:\r\n" + rows.replace(b",", separator).replace(b"\r\n", line_end)


def _padded(data: bytes, from_line: int = 0, separator: bytes = b",") -> bytes:
    """The file as a spreadsheet saves it: every line padded with commas to the widest row's width (with
    `separator`, every comma that separator first: a locale's own)."""
    lines = data.replace(b",", separator).split(b"\r\n")
    width = max(line.count(separator) for line in lines)
    return b"\r\n".join(line + separator * (width - line.count(separator)) if number >= from_line and line else line
                         for number, line in enumerate(lines))


# -- what parses ----------------------------------------------------------------------------------------------
def test_it_file_parses_into_typed_fields_and_float_columns() -> None:
    header, frame, warnings = parse(raw_csv("It"))
    assert header.proc == "It"
    assert header.fields["chip_group"] == "Alisson"
    assert header.fields["chip_number"] == 67
    assert header.fields["vg_fixed_v"] == pytest.approx(-0.35)
    assert header.fields["laser_voltage_v"] == pytest.approx(1.15)
    assert header.fields["laser_wavelength_nm"] == 455
    assert header.fields["laser_period_s"] == 2
    assert header.fields["file_idx"] == 3
    assert header.start_time_utc.timestamp() == pytest.approx(1760371684.3180444)
    assert frame.columns == ["t_s", "i_a", "vl_v", "plate_t_degc", "ambient_t_degc", "clock_ms"]
    assert all(dtype == pl.Float64 for dtype in frame.dtypes)
    assert frame.height == len(it_rows())
    assert frame["plate_t_degc"].is_nan().all()  # `nan` is NaN, never a string column
    assert warnings == []


@pytest.mark.parametrize(
    ("text", "unit", "expected"),
    [("0.1 V", "V", 0.1), ("50 mV", "V", 0.05), ("455", "nm", 455.0), ("120 s", "s", 120.0), ("1e-3 A", "A", 1e-3),
     ("-5.04 V", "V", -5.04), ("3 A", "V", None), ("abc", "V", None), ("", "V", None),
     ("0.1V", "V", 0.1), ("50mV", "V", 0.05), ("2.11 v", "V", 2.11), ("2 min", "s", 120.0), ("1 h", "s", 3600.0),
     ("5 MV", "V", 5e6), ("2 min", "V", None), ("2e", "V", None),
     # a unit with a prefix of its own (nm) takes the others of its base: `0.455 um` was "not in nm", left empty
     ("0.455 um", "nm", 455.0), ("0.455 µm", "nm", 455.0), ("4.55e-7 m", "nm", 455.0), ("100 ms", "s", 0.1),
     ("0.455 uV", "nm", None),
     # one prefix spelt three ways (micro sign, Greek mu, u): `5 µA` was "not in uA", left empty
     ("5 µA", "uA", 5.0), ("5 μA", "µA", 5.0), ("5 uA", "μA", 5.0)],
)
def test_parse_number_reads_value_and_unit(text: str, unit: str, expected: float | None) -> None:
    value = parse_number(text, ParameterSpec(field="x", unit=unit))
    assert value == (pytest.approx(expected) if expected is not None else None)


@pytest.mark.parametrize("text", ["-0 V", "-0.0 V", "-0e3 mV", "-0"])
def test_a_negative_zero_is_zero(text: str) -> None:
    """`VG: -0.0 V` was stored as -0.0: the history, the summary and a plot's title said "VG=-0 V"."""
    assert math.copysign(1.0, parse_number(text, ParameterSpec(field="x", unit="V"))) == 1.0  # type: ignore[arg-type]


@pytest.mark.parametrize(("text", "unit", "written"), [("10 uA", "A", "1e-5"), ("100 nA", "A", "1e-7"),
                                                       ("5 µA", "A", "5e-6"), ("25 nm", "m", "25e-9")])
def test_a_prefixed_unit_gives_the_number_written_without_it(text: str, unit: str, written: str) -> None:
    """`10 uA` was 9.999999999999999e-06 (10 * 1e-6): not equal to the 1e-05 of another run's `1e-5 A`."""
    assert parse_number(text, ParameterSpec(field="x", unit=unit)) == float(written)


@pytest.mark.parametrize(
    ("raw", "stored"),
    [
        ("Vg (V)", "vg_v"),
        ("I (A)", "i_a"),
        ("Plate T (degC)", "plate_t_degc"),
        ("Power (W)", "power_w"),
        ("Clock (ms)", "clock_ms"),
        ("wl (nm)", "wl_nm"),
        ("Run ID", "run_id_"),
        ("date", "date_"),
        ("Proc.", "proc_"),
        # letters outside ASCII spelt in it: dropped, `I (µA)` read as amperes, `Δt (s)` as `t (s)`
        ("I (µA)", "i_ua"),
        ("I (μA)", "i_ua"),  # the Greek mu, as the micro sign
        ("R (kΩ)", "r_kohm"),
        ("T (°C)", "t_degc"),
        ("λ (nm)", "lambda_nm"),
        ("Δt (s)", "delta_t_s"),
        ("Medición", "medicion"),
        ("I² (A²)", "i2_a2"),
        ("ø (mm)", "o_mm"),  # letters NFKD leaves as they are, by their Unicode names: two Cyrillic names were one
        ("Ток (А)", "te_o_ka_a"),
        ("电压 (V)", "ideograph_7535_ideograph_538b_v"),
        ("😀 (V)", "v"),
    ],
)
def test_snake_column_names(raw: str, stored: str) -> None:
    assert snake_column(raw) == stored


def test_a_text_parameter_pymeasure_left_unset_is_no_value() -> None:
    """PyMeasure writes an unset parameter as `None`: a chip was filed as `None80`, and 39 real files' Information
    read `None` as if someone had typed it. A number's `None` was already no number, said."""
    header = parse_header(raw_csv("It", params={"Chip group name": "None", "Information": " None"}), REGISTRY)
    assert header.fields["chip_group"] is None and header.fields["information"] is None
    assert header.fields["chip_number"] == 67 and not header.warnings
    assert parse_header(raw_csv("It", params={"Information": "None of the pulses"}), REGISTRY).fields[
        "information"] == "None of the pulses"


def test_a_column_named_apart_by_a_greek_letter_alone_is_no_duplicate() -> None:
    """`Δt (s)` beside `t (s)` was rejected as `column 'Δt (s)' appears twice`: both were stored as `t_s`."""
    columns = [*IT_COLUMNS, "Δt (s)", "Ig (µA)"]
    rows = [f"{row},0.1,2.5" for row in it_rows()]
    header = parse_header(raw_csv("It", columns=columns, rows=rows), REGISTRY)
    assert header.stored_columns[-2:] == ["delta_t_s", "ig_ua"]


def test_free_text_kept_verbatim_with_colons_trailing_spaces_and_latin1() -> None:
    data = raw_csv("It", params={"Information": "test 71 muerto :( a: b  "}).replace(
        b"muerto", "muertó".encode("latin-1")
    )
    header, _, _ = parse(data)
    assert header.fields["information"] == "test 71 muertó :( a: b  "


def test_a_line_of_utf8_and_latin1_bytes_keeps_both() -> None:
    """The whole line was read as latin-1 when any byte was not UTF-8: `medición µA` was stored `mediciÃ³n µA`."""
    data = raw_csv("It", params={"Information": "MIXED"}).replace(b"MIXED", "medición".encode() + b" \xb5A")
    header, _, _ = parse(data)
    assert header.fields["information"] == "medición µA"


def test_a_file_index_past_a_64_bit_integer_is_left_empty() -> None:
    """The index of a file's name orders runs; one too large to store rejected the run ('header values out of
    range: file_idx')."""
    header, _, _ = parse(raw_csv("It"), "It2025-10-14_" + "9" * 20)
    assert header.fields["file_idx"] is None
    assert header.warnings == ["the file name's index '99999999999999999999' is past a 64-bit integer; left empty"]
    assert parse(raw_csv("It"), "It2025-10-14_" + "9" * 18)[0].fields["file_idx"] == 10**18 - 1


def test_header_values_as_pymeasure_escapes_them_are_read_back() -> None:
    """PyMeasure writes every value through `unicode_escape`: a note in Spanish, a µA unit, a Windows path."""
    written = "medición con láser: ΔI ≥ 1 µA 🔦 en C:\\datos\tok"
    escaped = written.encode("unicode_escape").decode("ascii")
    header, _, _ = parse(raw_csv("It", params={"Information": escaped, "VDS": "100 \\xb5V", "Sample": "\\ud800"}))
    assert header.raw["Information"] == header.fields["information"] == written.replace("\t", " ")  # a control: a space
    assert header.fields["vds_v"] == pytest.approx(1e-4)
    assert header.fields["sample"] == "\\ud800"  # no character (a lone surrogate): kept as written


@pytest.mark.parametrize("eol", ["\r\n", "\n"])
def test_line_endings(eol: str) -> None:
    _, frame, _ = parse(raw_csv("It", eol=eol))
    assert frame.height == len(it_rows())


@pytest.mark.parametrize("key", [b"Laser voltage", b"Start time"])  # a parameter; the line above #Data:
def test_a_carriage_return_alone_ending_a_header_line_is_read_as_its_line_break(key: bytes) -> None:
    """A header line whose \\n was lost ran into the next one: one value held both (`Sample: other # Step time: 0 s`)
    and the next parameter was lost; on the line above `#Data:` the file was rejected for a tag it has. Read as
    the line break it was, and said."""
    data = raw_csv("It")
    line = next(line for line in data.split(b"\r\n") if key in line)
    header, frame, _ = parse(data.replace(line + b"\r\n", line + b"\r", 1))
    as_written, rows, _ = parse(data)
    assert header.fields == as_written.fields and header.columns == as_written.columns and frame.equals(rows)
    number = data.split(b"\r\n").index(line) + 1
    assert f"line {number}: a carriage return alone (\\r) ended it, before the next '#' line: read as a line " \
           "break" in header.warnings


@pytest.mark.parametrize("written", ["VL(V)", "vl (V)", "VL\xa0(V)", "VL  (V)"])
def test_a_column_spelt_otherwise_with_the_same_stored_name_is_the_registrys_column(written: str) -> None:
    """`VL(V)`, `vl (V)` or a no-break space: the registry's `VL (V)` (they are stored alike), said; the file was
    rejected for a missing column it has."""
    data = raw_csv("It")
    header, frame, _ = parse(data.replace(b",VL (V),", f",{written},".encode(), 1))
    as_written, rows, _ = parse(data)
    assert header.columns == as_written.columns and frame.equals(rows)
    assert f"line {header.column_line}: column {quoted(written)} read as 'VL (V)'" in header.warnings


@pytest.mark.parametrize("tag", ["#procedure:", "# Procedure :", "#PROCEDURE:\t"])
def test_the_procedure_tag_retyped_by_hand_is_read_as_the_data_tag_is(tag: str) -> None:
    """`#data:` and `# Data:` were read, `#procedure:` rejected the file as "not a PyMeasure measurement file"."""
    data = raw_csv("It")
    header, frame, _ = parse(data.replace(b"#Procedure:", tag.encode(), 1))
    as_written, rows, _ = parse(data)
    assert header.proc == as_written.proc and header.fields == as_written.fields and frame.equals(rows)
    assert f"line 1: {quoted(tag.rstrip())} read as '#Procedure:'" in header.warnings


def test_a_second_procedure_line_retyped_is_one_and_a_parameter_named_procedure_is_not() -> None:
    """`#   Procedure: <…IVg>` in an It file was taken for a parameter (a queued run's header, unsaid), and a tab-
    indented `Procedure: tuning` parameter for a second procedure line (the file rejected)."""
    data = raw_csv("It")
    queued = data.replace(b"#Parameters:", b"#   Procedure: <laser_setup.procedures.IVg.IVg>\r\n#Parameters:", 1)
    assert rejected(queued).kind == "conflicting_parameter"
    header, _, _ = parse(data.replace(b"#Parameters:", b"#Parameters:\r\n#\tProcedure: tuning", 1))
    assert header.raw["Procedure"] == "tuning"


def test_csv_quoting_of_every_field_is_read_through() -> None:
    """A tool that quotes every field (`"t (s)","I (A)"`) writes the same table."""
    head, _, rows = raw_csv("It").partition(b"#Data:\r\n")
    quoted = b"\r\n".join(b'"' + line.replace(b",", b'","') + b'"' for line in rows.split(b"\r\n") if line)
    header, frame, _ = parse(head + b"#Data:\r\n" + quoted + b"\r\n")
    assert header.columns == list(IT_COLUMNS) and frame.equals(parse(raw_csv("It"))[1])


def test_mixed_line_endings_and_bom() -> None:
    data = b"\xef\xbb\xbf" + raw_csv("It").replace(b"\r\n", b"\n", 5)
    header, frame, _ = parse(data)
    assert header.proc == "It" and frame.height == len(it_rows())


def test_blank_lines_under_the_data_tag_are_read_past_and_the_rows_lines_count_them() -> None:
    """A hand edit's blank line between `#Data:` and the column row was "no column-name row after #Data:" (it is
    the next line but one): read past, as blank lines before the first row are, said, and counted in a reject's line
    number."""
    data = raw_csv("It").replace(b"#Data:\r\n", b"#Data:\r\n\r\n \t\r\n")
    header, frame, warnings = parse(data)
    assert header.warnings == ["line 18: 2 blank lines before the column row, read past"]
    assert frame.height == len(it_rows()) and header.column_line == 20 and warnings == []
    assert rejected(data.replace(b"\r\n0.4,1e-06,", b"\r\n0.4,1_000,")).line == 25  # line 23 without them


def test_unterminated_last_line_is_dropped_with_a_warning() -> None:
    data = raw_csv("It") + b"9.9,1e-06,0.0,na"
    _, frame, warnings = parse(data)
    assert frame.height == len(it_rows())
    assert any("unterminated" in warning for warning in warnings)


def test_a_whole_last_row_without_its_line_end_is_kept() -> None:
    """A complete file rewritten by a script without its last CRLF: its last row, whole, was dropped as cut
    ("aborted: 150 of the 151 rows"), and a staged run's file was then rejected as cut short. A last field of `nan`
    (the sensor's columns) cannot be a longer value cut; a number can, and its row is still dropped."""
    data = raw_csv("It").rstrip(b"\r\n")
    _, frame, warnings = parse(data)
    assert frame.height == len(it_rows()) and not any("unterminated" in warning for warning in warnings)
    assert frame.equals(parse(raw_csv("It"))[1])
    for cut in (data[:-1], data.rsplit(b",", 3)[0]):  # `…,na`; `…,0.0`: the sensor's fields not written yet
        _, frame, warnings = parse(cut)
        assert frame.height == len(it_rows()) - 1 and any("unterminated" in warning for warning in warnings)


def test_a_whole_last_row_whose_last_number_has_its_whole_exponent_is_kept() -> None:
    """A calibration saved without its last CRLF lost its 5 V point (`aborted: 50 of the 51 rows`), and a lit run at
    5 V was left unpriced. Its Power is written as the acquisition writes it, with an exponent of two digits: a cut
    loses all or part of the exponent (`8.95e-0`, `8.95`), which the row before still has."""
    rows = [f"{k / 10:.1f},{(k + 1) * 1.7e-07!r}" for k in range(51)]
    data = raw_csv("LaserCalibration", rows=rows).rstrip(b"\r\n")
    _, frame, warnings = parse(data, "LaserCalibration2025-10-14_3")
    assert frame.height == 51 and frame[:, -1][-1] == pytest.approx(8.67e-06)
    assert not any("unterminated" in warning for warning in warnings)
    for cut in (data[:-1], data[:-3], data.rsplit(b"e", 1)[0]):  # `…e-0`, `…e`, `8.67`: a longer value cut
        _, frame, warnings = parse(cut, "LaserCalibration2025-10-14_3")
        assert frame.height == 50 and any("unterminated" in warning for warning in warnings)


@pytest.mark.parametrize("copies", [1, 4])  # under and over the 4 KiB the first checks read
def test_nul_bytes_ending_a_file_are_a_cut_tail_whatever_its_size(copies: int) -> None:
    """A crash leaves a file's length written and its last bytes NUL: a file under 4 KiB was rejected as "binary
    data", a larger one staged."""
    rows = it_rows() * copies
    _, frame, warnings = parse(raw_csv("It", rows=rows) + b"9.9,1e-06" + b"\x00" * 4096)
    assert frame.height == len(rows) and any("ends in NUL bytes" in warning for warning in warnings)
    assert "header only" in rejected(raw_csv("It").split(b"#Metadata:")[0] + b"\x00" * 4096).reason
    # after a whole last row: no row was cut, and the note does not say one was (it said "the last line … dropped")
    _, frame, warnings = parse(raw_csv("It", rows=rows) + b"\x00" * 5000)
    assert frame.height == len(rows) and "5000 NUL bytes after the last row dropped (a write lost in a crash?)" in \
        warnings and not any("unterminated" in warning for warning in warnings)


def test_a_dos_end_of_file_mark_after_the_last_row_is_dropped_and_said_as_what_it_is() -> None:
    """Some Windows tools end a text file with Ctrl+Z: it was "the last line was unterminated (acquisition stopped
    mid-row)", though no row was lost."""
    rows = it_rows()
    _, frame, warnings = parse(raw_csv("It", rows=rows) + b"\x1a")
    assert frame.height == len(rows)
    assert warnings == ["a DOS end-of-file mark (0x1A, Ctrl+Z) after the last row dropped"]
    # after a header with no row: no row was cut off ("its only row was cut off mid-line: acquisition stopped?")
    assert rejected(raw_csv("It", rows=[]) + b"\x1a").reason == "the file has a header but zero data rows"


def test_unknown_parameters_and_columns_are_information_not_errors() -> None:
    columns = (*IT_COLUMNS, "Extra (V)")
    rows = [row + ",1.5" for row in it_rows()]
    header, frame, warnings = parse(raw_csv("It", params={"New knob": "3 Hz"}, columns=columns, rows=rows))
    assert header.raw["New knob"] == "3 Hz"
    assert frame["extra_v"].to_list()[0] == 1.5
    assert warnings == [] and any("Extra (V)" in warning for warning in header.warnings)


def test_a_data_column_named_as_a_column_readers_add_is_stored_under_another_name_with_a_warning() -> None:
    """`run_id`, `date`, `proc` name the run's folders: a Hive reader would put the folder's value in their place;
    `date_local` and `seq` begin every `labtui.api` scan, which dropped a data column so named."""
    columns = (*IT_COLUMNS, "run_id", "Date", "proc", "Seq", "date_local")
    rows = [row + ",1,2,3,4,5" for row in it_rows()]
    header, frame, _ = parse(raw_csv("It", columns=columns, rows=rows))
    assert frame.columns[-5:] == ["run_id_", "date_", "proc_", "seq_", "date_local_"]
    assert frame.row(0)[-5:] == (1.0, 2.0, 3.0, 4.0, 5.0)
    assert "line 18: column 'Seq' is stored as 'seq_': readers add a column 'seq' to every row (the run's folder in " \
           "the store, or a scan's run columns)" in header.warnings
    assert sum("readers add a column" in warning for warning in header.warnings) == 5


def test_unparseable_known_parameter_is_left_empty_with_a_warning() -> None:
    header = parse_header(raw_csv("It", params={"VG": "lots V"}), REGISTRY, "x_1")
    assert header.fields["vg_fixed_v"] is None
    assert any("'VG'" in warning for warning in header.warnings)


def test_a_value_below_its_minimum_is_left_empty_with_a_warning() -> None:
    """A negative wavelength or period is a slip: the run stages, the field is empty and the warning says why."""
    header = parse_header(raw_csv("It", params={"Laser wavelength": "-385", "Laser ON+OFF period": "-120 s"}),
                          REGISTRY, "It2025-10-14_3")
    assert header.fields["laser_wavelength_nm"] is None and header.fields["laser_period_s"] is None
    assert sum("is below 0 nm; left empty" in w or "is below 0 s; left empty" in w for w in header.warnings) == 2


@pytest.mark.parametrize("written", ["2025-10-13T16:08:04.318044+00:00", "2025-10-13T13:08:04.318044-03:00",
                                     "2025-10-13T16:08:04.318044Z", "2025-10-13T16:08:04.318044z",
                                     "2025-10-13 16:08:04.318044 UTC", "2025-10-13 16:08:04.318044 GMT"])
def test_a_start_time_in_iso_8601_with_its_offset_is_read(written: str) -> None:
    """Another acquisition's `Start time: 2025-10-13T13:08:04.318044-03:00` names one instant, as a Unix time does:
    it was rejected as "not a Unix time in seconds"."""
    header = parse_header(raw_csv("It", start=written), REGISTRY, "It2025-10-14_3")
    assert header.start_time_utc == dt.datetime(2025, 10, 13, 16, 8, 4, 318044, tzinfo=dt.UTC)


def test_a_minus_sign_as_a_word_processor_writes_it_is_read_as_a_minus() -> None:
    """`VG: −0.4 V` (U+2212, a Mac's or a word processor's autocorrect) was "not a finite number in V; left empty"."""
    for minus in ("\u2212", "\u2013"):  # the minus sign, and the en dash an autocorrect makes of a hyphen
        header = parse_header(raw_csv("It", params={"VG": f"{minus}0.4 V"}), REGISTRY, "It2025-10-14_3")
        assert header.fields["vg_fixed_v"] == -0.4 and not header.warnings


def test_a_laser_period_of_no_experiment_is_left_empty_with_a_warning() -> None:
    """`1e25 s` (digits run together) was stored, and the run then called aborted ("spans 180 of 1.5e+25"): over a
    million seconds (11 days; the lab's longest is 7200 s) it is a slip, as a negative one is."""
    header = parse_header(raw_csv("It", params={"Laser ON+OFF period": "1e25 s"}), REGISTRY, "It2025-10-14_3")
    assert header.fields["laser_period_s"] is None
    assert any("'Laser ON+OFF period' = '1e25 s' is above 1e+06 s; left empty" in w for w in header.warnings)
    assert parse_header(raw_csv("It", params={"Laser ON+OFF period": "7200 s"}), REGISTRY,
                        "It2025-10-14_3").fields["laser_period_s"] == 7200


@pytest.mark.parametrize(("period", "note"), [
    ("0 s", "cannot judge completeness: 'Laser ON+OFF period' is 0, not a period"),
    ("", "cannot judge completeness: no 'Laser ON+OFF period'"),
])
def test_an_it_run_whose_period_cannot_judge_its_length_says_which_way(period: str, note: str) -> None:
    """A period of 0 s was noted as "no 'Laser ON+OFF period'", though the header gives one."""
    header, frame, _ = parse(raw_csv("It", params={"Laser ON+OFF period": period}))
    assert header.spec.completeness is not None
    assert is_complete(header.spec.completeness, header, frame) == (True, [note])


@pytest.mark.parametrize("period", [None, "0 s", "2 fortnights"])
def test_an_it_run_cut_while_lit_is_aborted_also_without_its_period(period: str | None) -> None:
    """Its period missing or unreadable, an It run cut mid-pulse counted complete ("cannot judge completeness"): kept
    by every filter on `is_complete`. Its VL column says the laser was still on at its end."""
    cut = it_rows()[:16]  # 1.5 s of 3: the laser on from 1 s, never switched off
    header, frame, _ = parse(raw_csv("It", params={"Laser ON+OFF period": period}, rows=cut))
    complete, notes = is_complete(header.spec.completeness, header, frame)
    assert not complete and notes[0].startswith("aborted: the laser was still on at its last sample (")
    assert notes[0].endswith(": judged by its data)")
    header, frame, _ = parse(raw_csv("It", params={"Laser ON+OFF period": period}))  # whole: the laser off at its end
    assert is_complete(header.spec.completeness, header, frame)[0]
    dark = data_rows(((0.1 * k, 1e-6, 0.0) for k in range(16)), len(IT_COLUMNS))  # says nothing of its length
    header, frame, _ = parse(raw_csv("It", params={"Laser ON+OFF period": period, "Laser voltage": "0 V"}, rows=dark))
    assert is_complete(header.spec.completeness, header, frame)[0]


def test_a_period_in_sec_is_read_as_seconds() -> None:
    """`120 sec` was no period ("'120 sec' is not in s"): a run cut short of it counted complete."""
    for written in ("2 Sec", "2 seconds"):
        assert parse(raw_csv("It", params={"Laser ON+OFF period": written}))[0].fields["laser_period_s"] == 2.0
    header, frame, _ = parse(raw_csv("It", params={"Laser ON+OFF period": "2 sec"}, rows=it_rows()[:16]))
    assert header.fields["laser_period_s"] == 2.0
    assert is_complete(header.spec.completeness, header, frame) == (False, ["aborted: t (s) spans 1.5 of 3"])


@pytest.mark.parametrize("step", [None, "0,5 V"])
def test_a_sweep_cut_away_from_0_is_aborted_also_without_its_step(step: str | None) -> None:
    """The loop 0 → −1 → +1 → 0 cut at +1 V, its `VG step` line missing or unreadable: the return to 0 was not
    judged without the step, and the half sweep was complete. The data's own step judges it."""
    rows = ivg_rows()
    cut = rows[: next(at for at, row in enumerate(rows) if row.startswith("1.0,")) + 1]
    header, frame, _ = parse(raw_csv("IVg", params={"VG step": step}, rows=cut), "IVg2025-10-14_3")
    assert is_complete(header.spec.completeness, header, frame) == (
        False, ["aborted: the sweep stopped at 1 instead of returning to 0"])
    header, frame, _ = parse(raw_csv("IVg", params={"VG step": step}), "IVg2025-10-14_3")
    assert is_complete(header.spec.completeness, header, frame) == (True, [])


def test_a_sweep_whose_header_step_is_no_step_of_it_is_judged_by_its_data() -> None:
    """`VG step: 1e-300 V` (a slip: 1e300 steps) judged a whole loop against that step: "aborted: the sweep stopped
    at -0.0095 instead of returning to 0", a step of its own from 0. Said, and judged by its data's step."""
    note = "its header's step of 1e-300 is no step of a -1…1 sweep: judged by its data's"
    header, frame, _ = parse(raw_csv("IVg", params={"VG step": "1e-300 V"}), "IVg2025-10-14_3")
    assert is_complete(header.spec.completeness, header, frame) == (True, [note])
    rows = ivg_rows()
    cut = rows[: next(at for at, row in enumerate(rows) if row.startswith("1.0,")) + 1]
    header, frame, _ = parse(raw_csv("IVg", params={"VG step": "1e-300 V"}, rows=cut), "IVg2025-10-14_3")
    assert is_complete(header.spec.completeness, header, frame) == (
        False, ["aborted: the sweep stopped at 1 instead of returning to 0", note])
    # its limits missing too: judged by the data's step, not by the slip (review)
    near_0 = [*rows[:-1], rows[-1].replace("0.0,", "-0.0095,", 1)]  # its last setpoint a hair from 0 V
    header, frame, _ = parse(raw_csv("IVg", params={"VG step": "1e-300 V", "VG start": None}, rows=near_0),
                             "IVg2025-10-14_3")
    assert is_complete(header.spec.completeness, header, frame) == (
        True, ["cannot judge completeness: sweep limits missing", note])


@pytest.mark.parametrize("limits", [{"VG start": "minus 1 V"}, {"VG end": "1 Volt"}, {"VG start": None}])
def test_a_sweep_cut_away_from_0_is_aborted_also_without_its_limits(limits: dict[str, str | None]) -> None:
    """A sweep cut at +1 V whose `VG start` read `minus 1 V`, `1 Volt` or nothing: "cannot judge
    completeness", so complete, its Dirac point not said to be of a cut run. Its data say it stopped short."""
    rows = ivg_rows()
    cut = rows[: next(at for at, row in enumerate(rows) if row.startswith("1.0,")) + 1]
    header, frame, _ = parse(raw_csv("IVg", params=limits, rows=cut), "IVg2025-10-14_3")
    assert is_complete(header.spec.completeness, header, frame) == (
        False, ["aborted: the sweep stopped at 1 instead of returning to 0 (its sweep limits are missing: judged by "
                "its data)"])
    header, frame, _ = parse(raw_csv("IVg", params=limits), "IVg2025-10-14_3")
    assert is_complete(header.spec.completeness, header, frame) == (True, ["cannot judge completeness: sweep limits "
                                                                           "missing"])


def test_a_file_of_a_procedure_named_by_an_alias_is_told_how_to_stage_it() -> None:
    """`<laser_setup.procedures.ITS.ITS>`: ITS is It's alias in filters (older notes), not a class the registry
    reads; the reject said only "unknown procedure 'ITS'", beside It among the known."""
    problem = rejected(raw_csv("It").replace(b"procedures.It.It>", b"procedures.ITS.ITS>"))
    assert problem.kind == "unknown_procedure" and problem.reason.endswith(
        "add it to config/procedures.yaml (ITS names It in filters only: its entry says `like: It`, as ITt's does)")
    problem = rejected(raw_csv("It").replace(b"procedures.It.It>", b"procedures.it.it>"))  # a case apart: no alias
    assert problem.reason.endswith("add it to config/procedures.yaml (spelt It there: a class name is matched with "
                                   "its case)")


def test_a_loop_swept_from_its_start_not_from_0_is_complete_as_swept() -> None:
    """Another acquisition's loop −1 → +1 → −1, every step of it, was "aborted: 9 of the 13 rows" the procedure's
    path 0 → −1 → +1 → −1 → 0 implies. Cut short, it is still aborted."""
    there = sweep(-1, 1, 0.5, "once")
    rows = data_rows(((vg, 1e-6 * (1 + abs(vg - 0.2))) for vg in [*there, *there[-2::-1]]), len(IVG_COLUMNS))
    header, frame, _ = parse(raw_csv("IVg", rows=rows), "IVg2025-10-14_3")
    assert is_complete(header.spec.completeness, header, frame) == (True, [
        "its sweep goes -1 → 1 → -1, not from 0 and back as its procedure's path: complete as swept (another "
        "acquisition's?)"])
    header, frame, _ = parse(raw_csv("IVg", rows=rows[:-2]), "IVg2025-10-14_3")
    assert not is_complete(header.spec.completeness, header, frame)[0]
    # at a coarser step than its header's, as swept still, and the step said (the note was left out)
    header, frame, _ = parse(raw_csv("IVg", rows=rows, params={"VG step": "0.25 V"}), "IVg2025-10-14_3")
    assert is_complete(header.spec.completeness, header, frame) == (True, [
        "its sweep goes -1 → 1 → -1, not from 0 and back as its procedure's path: complete as swept (another "
        "acquisition's?)", "Vg (V) steps by 0.5 where its header says 0.25: 9 rows for its 25"])


def test_a_sweep_its_header_does_not_describe_is_said_to_be_one() -> None:
    """A ±1 V loop under a ±0.5 V header was "two sweeps in one file (a run resumed?)"; under a ±2 V one, "aborted",
    though it came back to 0. Its data say what differs."""
    header, frame, _ = parse(raw_csv("IVg", params={"VG start": "-0.5 V", "VG end": "0.5 V"}), "IVg2025-10-14_3")
    assert is_complete(header.spec.completeness, header, frame) == (True, [
        "Vg (V) reaches -1…1, beyond its header's sweep of -0.5…0.5: its header written for another sweep?"])
    header, frame, _ = parse(raw_csv("IVg", params={"VG start": "-2 V", "VG end": "2 V"}), "IVg2025-10-14_3")
    assert is_complete(header.spec.completeness, header, frame) == (False, [
        "aborted: 13 of the 25 rows its sweep parameters imply (its data sweep -1…1 and come back to 0: its header "
        "written for another sweep?)"])
    rows = ivg_rows()
    cut = rows[: next(at for at, row in enumerate(rows) if row.startswith("1.0,")) + 1]
    header, frame, _ = parse(raw_csv("IVg", params={"VG start": "-2 V", "VG end": "2 V"}, rows=cut), "IVg2025-10-14_3")
    assert is_complete(header.spec.completeness, header, frame)[1] == [
        "aborted: 7 of the 25 rows its sweep parameters imply"]  # cut: not back at 0
    header, frame, _ = parse(raw_csv("IVg", params={"VG start": "-2 V", "VG end": "2 V"}, rows=rows[:2]),
                             "IVg2025-10-14_3")  # stopped a step away from 0: no sweep to speak of
    assert is_complete(header.spec.completeness, header, frame)[1] == [
        "aborted: 2 of the 25 rows its sweep parameters imply"]


def test_a_voltage_beyond_any_source_measure_unit_is_left_empty_with_a_warning() -> None:
    """100000 V for a gate (digits slipped, or kV for mV): no such value reaches the manifest or the metrics."""
    header = parse_header(raw_csv("IVg", params={"VDS": "100000 V", "VG start": "-0.1 MV", "VG end": "5 V"}),
                          REGISTRY, "IVg2025-10-14_3")
    assert header.fields["vds_v"] is None and header.fields["vg_start_v"] is None and header.fields["vg_end_v"] == 5
    assert any("'VDS' = '100000 V' is above 1100 V; left empty" in w for w in header.warnings)
    assert any("'VG start' = '-0.1 MV' is below -1100 V; left empty" in w for w in header.warnings)


def test_a_wavelength_no_laser_has_is_left_empty_with_a_warning() -> None:
    header = parse_header(raw_csv("It", params={"Laser wavelength": "1e20"}), REGISTRY, "It2025-10-14_3")
    assert header.fields["laser_wavelength_nm"] is None
    assert any("'Laser wavelength' = '1e20' is above 100000 nm; left empty" in w for w in header.warnings)


def test_non_finite_parameter_is_left_empty() -> None:
    header = parse_header(raw_csv("It", params={"Laser voltage": "nan V"}), REGISTRY, "x_1")
    assert header.fields["laser_voltage_v"] is None


def test_single_component_procedure_class_and_alias_file() -> None:
    data = raw_csv("It").replace(b"<laser_setup.procedures.It.It>", b"<laser_setup.procedures.ITt>")
    header = parse_header(data, REGISTRY, "ITt2025-01-01_1")
    assert header.proc == "ITt"


def test_chip_from_file_name_only_when_header_lacks_it() -> None:
    data = raw_csv("It", params={"Chip group name": None, "Chip number": None})
    header = parse_header(data, REGISTRY, "Alisson72_4")
    assert (header.fields["chip_group"], header.fields["chip_number"], header.fields["file_idx"]) == ("Alisson", 72, 4)


def test_header_chip_wins_over_file_name() -> None:
    header = parse_header(raw_csv("It"), REGISTRY, "Alisson72_4")
    assert header.fields["chip_number"] == 67


def test_calibration_needs_no_chip() -> None:
    params = {
        "Chip group name": None,
        "Chip number": None,
        "Sample": None,
        "Laser voltage start": "0 V",
        "Laser voltage end": "1 V",
        "Laser voltage step": "0.5 V",
    }
    data = raw_csv(
        "LaserCalibration", params=params, columns=["VL (V)", "Power (W)"], rows=["0.0,1e-9", "0.5,1e-6", "1.0,2e-6"]
    )
    header, frame, _ = parse(data, "LaserCalibration2025-10-13_1")
    assert header.fields.get("chip_number") is None
    assert frame.columns == ["vl_v", "power_w"]
    named = data.replace(b"#Parameters:\r\n", b"#Parameters:\r\n#\tChip group name: Alisson\r\n#\tChip number: 72\r\n")
    header, _, _ = parse(named, "LaserCalibration2025-10-13_1")  # the chip mounted meanwhile: not the run's chip
    assert header.fields.get("chip_number") is None and header.fields.get("chip_group") is None
    assert header.raw["Chip number"] == "72"  # kept with the run's parameters


def test_text_columns_of_the_registry_are_strings() -> None:
    data = raw_csv("IVsaw", columns=["Vsd (V)", "I (A)", "polarity"], rows=["0.0,1e-9,positive", "0.1,2e-9,negative"])
    _, frame, _ = parse(data, "IVsaw2025-10-13_1")
    assert frame["polarity"].to_list() == ["positive", "negative"]


def test_a_column_of_text_the_registry_does_not_name_is_rejected_with_how_to_keep_it() -> None:
    """Another acquisition's `Timestamp` column rejected the run as "… is not a number", with no way on: the reject
    says how to have it stored (a text column of the registry), and so listed the run stages with it as text."""
    columns = ["Vg (V)", "I (A)", "Timestamp"]
    data = raw_csv("IVg", columns=columns, rows=["0.0,1e-05,2025-09-23T10:22:17", "0.1,2e-05,2025-09-23T10:22:18"])
    assert rejected(data, "IVg2025-10-13_1").reason == (
        "'2025-09-23T10:22:17' in column 'Timestamp' is not a number (a column of text? list it under text_columns "
        "of IVg in config/procedures.yaml)")
    damaged = raw_csv("IVg", columns=columns, rows=["0.0,1e-05,1.0", "0.1,2e-05,x1.0"])  # a number gone bad: damage
    assert rejected(damaged, "IVg2025-10-13_1").reason == "'x1.0' in column 'Timestamp' is not a number"
    spec = REGISTRY.procedures["IVg"]
    listed = REGISTRY.model_copy(update={"procedures": {**REGISTRY.procedures, "IVg": spec.model_copy(
        update={"text_columns": ("Timestamp",)})}})
    frame = parse_alone_and_batched(data, parse_header(data, listed, "IVg2025-10-13_1"))[0]
    assert frame["timestamp"].to_list() == ["2025-09-23T10:22:17", "2025-09-23T10:22:18"]


def test_blanks_beside_a_text_column_are_the_texts_and_after_a_number_still_named() -> None:
    """Read past in every field, the blanks of a text column went too (`pos  ` stored as `pos`, a quoted `"a ,b"`
    as `a,b`): where the procedure has text columns they are kept, and a number's trailing blank is named."""
    columns = ["Vsd (V)", "I (A)", "polarity"]
    data = raw_csv("IVsaw", columns=columns, rows=['0.0,1e-9,pos  ', '0.1,2e-9,"a ,b"'])
    assert parse(data, "IVsaw2025-10-13_1")[1]["polarity"].to_list() == ["pos  ", "a ,b"]
    problem = rejected(raw_csv("IVsaw", columns=columns, rows=['0.0 ,1e-9,pos  ', '0.1,2e-9,"a ,b"']),
                       "IVsaw2025-10-13_1")
    assert problem.reason == "'0.0 ' in column 'Vsd (V)' ends with a space or tab (a hand edit?)"


def test_text_a_windows_tool_wrote_in_latin_1_is_read_and_said() -> None:
    """`negación` in latin-1 in a text column failed Polars' whole block: the file was rejected as "could not be
    parsed as numbers", with no line. It is read as Windows-1252 (latin-1's letters, and dashes and quotes), as the
    header's text is, and said with its line."""
    data = raw_csv("IVsaw", columns=["Vsd (V)", "I (A)", "polarity"], rows=["0.0,1e-9,positive", "0.1,2e-9,negative"])
    data = data.replace(b"negative", "negación µ".encode("latin-1"))
    header, frame, warnings = parse(data, "IVsaw2025-10-13_1")
    assert frame["polarity"].to_list() == ["positive", "negación µ"]
    assert warnings == [f"line {header.column_line + 2}: text that is not UTF-8 is read as Windows-1252 (written by "
                        "a Windows tool?)"]


# -- what is rejected, and how it is said -----------------------------------------------------------------------
def _rows_from(data: bytes) -> list[bytes]:
    """[the file up to its first data row, the data rows]."""
    start = data.index(b"\n", data.index(b"#Data:") + 8) + 1
    return [data[:start], data[start:]]


@pytest.mark.parametrize(
    ("data", "kind", "words"),
    [
        (b"", "empty", "empty"),
        (b"   \r\n", "empty", "empty"),
        (b"\xef\xbb\xbf\r\n", "empty", "empty"),  # a BOM alone
        (b"\x00\x01\x02binary", "not_this_format", "binary"),
        (gzip.compress(raw_csv("It")), "not_this_format", "gzip"),
        (raw_csv("It").decode().encode("utf-16"), "not_this_format", "UTF-16"),
        (raw_csv("It").decode().encode("utf-32"), "not_this_format", "UTF-32"),  # its BOM begins as UTF-16's
        *[(raw_csv("It").decode().encode(codec), "not_this_format", "UTF-16 text (without its byte-order mark)")
          for codec in ("utf-16-le", "utf-16-be")],  # it was "binary data"
        (b"#Procedure: <a.It>\r\n\x00\x01\x02\x03" * 8, "not_this_format", "holds binary data"),
        (raw_csv("It").decode().encode("utf-32-be"), "not_this_format", "binary"),
        (b"<html><body>502 Bad Gateway</body></html>", "not_this_format", "not a PyMeasure"),
        (b"t (s),I (A)\r\n0,1\r\n", "not_this_format", "'#Procedure:'"),
        (b"#Procedure: <>\r\n#Data:\r\na\r\n1\r\n", "no_procedure", "names no procedure"),
        (raw_csv("Foo"), "unknown_procedure", "'Foo'"),
        (raw_csv("It", data_section=False), "no_data_section", "header only"),
        (raw_csv("It", start=None, data_section=False), "no_data_section", "no #Metadata"),
        (raw_csv("It", start=None), "no_start_time", "Start time"),
        (raw_csv("It", start="yesterday"), "bad_start_time", "not a Unix time"),
        (raw_csv("It", start=12.5), "bad_start_time", "implausible"),
        (raw_csv("It", start=9e12), "bad_start_time", "implausible"),
        (raw_csv("It", start=1760371684318), "bad_start_time", "as milliseconds it is 2025-10-13 16:08 UTC"),
        # a clock's µs and ns (`time.time_ns()`) were "in the future: this computer's clock says …"
        (raw_csv("It", start="1760371684318044"), "bad_start_time", "as microseconds it is 2025-10-13 16:08 UTC"),
        (raw_csv("It", start="1760371684318044400"), "bad_start_time", "as nanoseconds it is 2025-10-13 16:08 UTC"),
        (raw_csv("It", start="1.76037E+09"), "bad_start_time", "is rounded"),
        # a date the acquisition's clock never writes: said what is read (it was "not a Unix time in seconds" alone)
        (raw_csv("It", start="Mon, 13 Oct 2025 16:08:04 +0000"), "bad_start_time",
         "is not a Unix time in seconds, nor an ISO 8601 date and time with its offset (`2025-10-13T13:08:04-03:00`)"),
        (raw_csv("It", start="2025-10-13 13:08:04"), "bad_start_time",
         "is a date and time without its offset from UTC (`+00:00`, `Z`): it names no instant"),
        (raw_csv("It", start="1760371684,3180444"), "bad_start_time",  # a decimal-comma locale's
         "'1760371684,3180444' is not a Unix time in seconds (a decimal comma: written with a point, it is read)"),
        (raw_csv("It", rows=[row.replace(".", ",") for row in it_rows()]), "bad_row",
         "the column row has 6: numbers written with a decimal comma (a spreadsheet in a decimal-comma locale "
         "re-saved the file?)"),
        (raw_csv("It", rows=[f"{row}," for row in it_rows()]), "bad_row",  # "a data row has 7 fields", said why
         "a data row has 7 fields, the column row has 6: it ends with a comma, the column row does not"),
        (raw_csv("It", rows=[*it_rows()[:-1], it_rows()[-1][:6]]), "bad_row",  # cut, then saved with a line break
         "a data row has 2 fields, the column row has 6: the file's last row, cut short"),
        (raw_csv("It", params={"Chip number": "sixty-seven"}), "bad_chip_number", "not a positive integer"),
        (raw_csv("It", params={"Chip number": "67.5"}), "bad_chip_number", "not a positive integer"),
        (raw_csv("It", params={"Chip number": "1e1"}), "bad_chip_number", "'1e1' is not a positive integer"),
        (raw_csv("It", params={"Chip number": "9" * 23}), "bad_chip_number", "is too large for a chip number"),
        # past Python's 4300 digits of text to int: a traceback that stopped every stage
        (raw_csv("It", params={"Chip number": "6" * 4301}), "bad_chip_number", "(4,301 characters) is too large"),
        (raw_csv("It", params={"Chip number": None}), "no_chip_number", "Chip number"),
        (raw_csv("It", params={"Chip group name": "Alisson\r\t#Chip number: 5"}), "bad_chip_group",
         "'Alisson\\r\\t#Chip number: 5' holds control characters"),
        # a carriage return before '#' is a line's end (below): the chip number given twice, one of them smuggled
        (raw_csv("It", params={"Chip group name": "Alisson\r#\tChip number: 5"}), "conflicting_parameter",
         "'Chip number' is given twice"),
        (raw_csv("It", columns=("t (s)", "I (A)")), "missing_column", "'VL (V)'"),
        (raw_csv("It").replace(b",VL (V),", b",VL (V)" + b"z" * 2000 + b",", 1), "bad_columns",
         "a column is named 'VL (V)zzzz"),
        (raw_csv("It", columns=("t (s)", "I (A)", "VL (%)")), "missing_column",  # another unit: another column
         "needs the column 'VL (V)'; the file has t (s), I (A), VL (%)"),
        (raw_csv("It", columns=("t (s)", "I (A)", "VL (V)", "I (A)", "x", "y")), "duplicate_column", "twice"),
        (raw_csv("It", columns=(*IT_COLUMNS, "date", "date_")), "duplicate_column", "same stored name as 'date'"),
        (raw_csv("It", rows=[]), "no_rows", "zero data rows"),
        (_rows_from(raw_csv("It"))[0] + b"0.0,1e-06", "no_rows", "its only row was cut off mid-line"),
        (raw_csv("It").split(b"\r\n", 1)[0][:20], "no_procedure", "the #Procedure line is cut off"),
        (raw_csv("It", start="1e20"), "bad_start_time", "implausible"),  # not "rounded": no time is that late
        (b"".join((_rows_from(raw_csv("It"))[0], _rows_from(raw_csv("It"))[1].replace(b"\r\n", b"\r\r\n"))),
         "bad_row", "ends in two carriage returns"),
        (raw_csv("It", eol="\r"), "not_this_format", "carriage return alone"),
        (raw_csv("It").replace(b"\r\n", b"\r\r\n"), "not_this_format", "two carriage returns"),
        (_padded(raw_csv("It")), "not_this_format", "a spreadsheet re-saved the file"),
        (_padded(raw_csv("It"), from_line=2), "not_this_format", "a spreadsheet re-saved the file"),
        # a locale whose separator is `;` (Chile's Excel): "the #Procedure line is cut off (a truncated file?)"
        (_padded(raw_csv("It"), separator=b";"), "not_this_format", "the header lines end with semicolons: a "
                                                                    "spreadsheet re-saved the file"),
        (_padded(raw_csv("It"), from_line=2, separator=b";"), "not_this_format", "end with semicolons"),
        (_separated(raw_csv("It"), b",", b",\r\n"), "bad_columns", "empty column name (it ends with a comma"),
        (_separated(raw_csv("It"), b"\t"), "bad_columns", "separated by tabs, not commas"),
        (_separated(raw_csv("It"), b";"), "bad_columns", "separated by semicolons, not commas"),
        # a #Data: line written otherwise: "a header line does not start with '#'" blamed the column row below it
        *[(raw_csv("It").replace(b"#Data:\r\n", tag), "not_this_format", f"the #Data: line is written {shown}")
          for tag, shown in ((b"#Data\r\n", "'#Data'"), (b"#Data :\r\n", "'#Data :'"),
                             (b"#Data:\r\r\n", "'#Data:\\r'"), (b"#Data:\xc2\xa0\r\n", "'#Data:\\xa0'"))],
    ],
)
def test_rejects_say_why(data: bytes, kind: str, words: str) -> None:
    problem = rejected(data)
    assert problem.kind == kind
    assert words in problem.reason


def test_a_row_of_whole_numbers_with_a_field_too_many_is_no_decimal_comma() -> None:
    """`1,2,0,nan,nan,nan,7` has no point and pairs up into six numbers too: a stray field, not a locale's comma."""
    assert rejected(raw_csv("It", rows=[*it_rows()[:3], "1,2,0,nan,nan,nan,7"])).reason == (
        "a data row has 7 fields, the column row has 6")


def test_a_start_time_in_the_future_says_when_the_clock_makes_it_plausible() -> None:
    """Then the file is read again (a clock that was behind, set right); never for one in milliseconds, or past
    any calendar."""
    soon = dt.datetime.now(dt.UTC) + dt.timedelta(days=30)
    problem = rejected(raw_csv("It", start=soon.timestamp()))
    assert "in the future: this computer's clock says" in problem.reason
    assert problem.plausible_from is not None
    assert abs(problem.plausible_from - (soon - FUTURE_SLACK)).total_seconds() < 1
    for start in (1760371684318, 9e12, 1e20, 12.5):  # milliseconds, past year 9999, before 2000
        assert rejected(raw_csv("It", start=start)).plausible_from is None, start


def test_a_chip_number_is_read_exactly_whatever_its_leading_zeros() -> None:
    header, _, _ = parse(raw_csv("It", params={"Chip number": "0" * 4400 + "67"}))
    assert header.fields["chip_number"] == 67


@pytest.mark.parametrize(("chip", "group", "number"), [
    ("Alisson80", "Alisson", 80), (" Alisson 080 ", "Alisson", 80), ("Alisson-80", "Alisson", 80),
    ("Alisson_80", "Alisson", 80), ("80", None, 80)])
def test_an_older_acquisitions_one_chip_parameter_names_the_chip(chip: str, group: str | None, number: int) -> None:
    """An older BaseProcedure wrote `Chip: Alisson80`, not a group and a number: its runs were rejected for having
    no 'Chip number', the chip right there."""
    header, _, _ = parse(raw_csv("It", params={"Chip number": None, "Chip group name": None, "Chip": chip}))
    assert (header.fields.get("chip_group"), header.fields["chip_number"]) == (group, number)
    for wrong, said in (("Alisson0", "gives chip number 0"), ("Alisson" + "9" * 30, "too large for a chip number")):
        problem = rejected(raw_csv("It", params={"Chip number": None, "Chip": wrong}))
        assert problem.kind == "bad_chip_number" and said in problem.reason
    # beside a group name of its own: filed under the group name, and said
    header, _, _ = parse(raw_csv("It", params={"Chip number": None, "Chip group name": "other", "Chip": "Alisson80"}))
    assert (header.fields["chip_group"], header.fields["chip_number"]) == ("other", 80)
    assert "'Chip' 'Alisson80' and 'Chip group name' 'other' name other groups" in " ".join(header.warnings)


IT = raw_csv("It")
_METADATA = b"#Metadata:\r\n#\tStart time: 1760371684.3180444\r\n"


@pytest.mark.parametrize(("data", "words", "line"), [
    (b"\r\n" + IT, "starts with 1 blank line before its '#Procedure:' line", 1),
    (b" \r\n\r\n" + IT, "starts with 2 blank lines before its '#Procedure:' line", 1),
    (IT[IT.index(b"#Data:"):], "starts with its #Data: line: the header above it", 1),
    (IT.replace(_METADATA, b"").replace(b"#Data:\r\n", b"#Data:\r\n" + _METADATA),
     "'Start time' comes after the #Data: line", 17),
    (IT.replace(b"Clock (ms)\r\n", b"Clock (ms)\r"), "a carriage return alone (\\r) ends the column row", 18),
    (IT.replace(b"#Data:\r\n", b"#Data: junk\r\n"), "the #Data: line has text after it ('#Data: junk')", 17),
    (IT.replace(b"\r\n0.4,1e-06,", b"\r\n0.4,1_000,"), "'1_000' in column 'I (A)' is not a number", 23),
    (IT.replace(b"\r\n0.4,1e-06,", b'\r\n"0.4,1e-06,'), "a quote (\") opens a field that the line does not close", 23),
    (IT.replace(b"nan\r\n0.4,", b"nan\r0.4,"), "a carriage return alone (\\r) inside the line runs two rows", 22),
    (IT.replace(b"\r\n0.4,1e-06,", "\r\n0.4,١٢,".encode()), "'١٢' in column 'I (A)' is not a number", 23),
    (IT.replace(b"t (s),I (A),VL (V),Plate T (degC),Ambient T (degC),Clock (ms)\r\n", b""),
     "the line after #Data: is a data row ('0.0,1e-06,0.0,nan,nan,nan'), not the column names: the column row is "
     "missing", 18),
    (raw_csv("LaserCalibration").replace(b"VL (V),Power (W)\r\n", b""), "a data row ('0.0,0.0')", 13),
    # a parameter written after the tag was "the columns are separated by tabs, not commas"
    (IT.replace(b"#Data:\r\n", b"#Data:\r\n#\tVDS: 0.1 V\r\n"), "the line after #Data: is a header line ('#\\tVDS: "
     "0.1 V'), not the column names", 18),
])
def test_a_reject_names_what_is_wrong_and_where(data: bytes, words: str, line: int) -> None:
    """Each was rejected for something else (`it starts with ''`, `no 'Start time'`, `column 'nan' appears twice`,
    `a header line does not start with '#'`), or without a line."""
    problem = rejected(data)
    assert words in problem.reason and problem.line == line, (problem.reason, problem.line)


def test_conflicting_duplicate_parameter_names_both_lines() -> None:
    data = raw_csv("It").replace(b"#Metadata:", b"#\tVDS: 0.2 V\r\n#Metadata:")
    problem = rejected(data)
    assert problem.kind == "conflicting_parameter"
    assert "'0.1 V'" in problem.reason and "'0.2 V'" in problem.reason and problem.line is not None


def test_a_parameter_the_registry_reads_nothing_from_given_twice_keeps_the_first_and_says_so() -> None:
    """`NPLC: 1`, then `NPLC: 2` rejected the whole run, though no field is read from it: which one the instrument
    used is said, the data staged. A parameter a field is read from still rejects (above)."""
    header, frame, _ = parse(raw_csv("It").replace(b"#\tNPLC: 1", b"#\tNPLC: 1\r\n#\tNPLC: 2"))
    assert header.raw["NPLC"] == "1" and frame.height == len(it_rows())
    line = raw_csv("It").split(b"\r\n").index(b"#\tNPLC: 1") + 2
    assert f"line {line}: parameter 'NPLC' given again with another value ('2'; line {line - 1} said '1'): the " \
           "first is kept" in header.warnings
    # a description given again (a note added by hand) lost the whole run: kept as first given, the other said
    data = raw_csv("It", params={"Information": "first"})
    header, frame, _ = parse(data.replace(b"#\tInformation: first", b"#\tInformation: first\r\n#\tInformation: "
                                                                     b"monitoring after anneal"))
    assert header.fields["information"] == "first" and frame.height == len(it_rows())
    assert any("parameter 'Information' given again with another value ('monitoring after anneal'" in warning
               for warning in header.warnings), header.warnings
    # under a value never set (PyMeasure writes `None`) or left empty, the note is the value (it was said, and lost)
    for unset in (b"None", b""):
        header, _, _ = parse(raw_csv("It").replace(b"#\tInformation: ", b"#\tInformation: " + unset + b"\r\n"
                                                   b"#\tInformation: after calibration, ", 1))
        assert header.fields["information"].startswith("after calibration, ") and header.raw["Information"] == \
            header.fields["information"]
        assert any("after line" in warning and "left it unset" in warning for warning in header.warnings)
    # and the other way round, of any parameter: unset again (`none`, in any case), the value given stays
    header, _, _ = parse(raw_csv("It").replace(b"#\tVDS: 0.1 V", b"#\tVDS: 0.1 V\r\n#\tVDS: none", 1))
    assert header.fields["vds_v"] == 0.1 and any("left unset ('none')" in warning for warning in header.warnings)


@pytest.mark.parametrize("again", [b"0.1 V", b"100 mV", b"0.1V", b"1e-1 V"])
def test_a_parameter_given_twice_with_one_value_is_harmless(again: bytes) -> None:
    """`VDS: 0.1 V`, then `VDS: 100 mV` (one number written two ways) was rejected as conflicting."""
    header, _, _ = parse(raw_csv("It").replace(b"#Metadata:", b"#\tVDS: " + again + b"\r\n#Metadata:"))
    assert header.fields["vds_v"] == 0.1 and header.raw["VDS"] == "0.1 V"


@pytest.mark.parametrize("spelled", ["Laser  voltage", "Laser\u00a0voltage", "\ufeffLaser voltage",
                                     "Laser\u200b voltage", "LASER VOLTAGE "])
def test_a_key_typed_with_extra_spaces_or_invisible_characters_is_the_key(spelled: str) -> None:
    """`Laser  voltage` (two spaces), with a no-break space, a BOM or a zero-width space lost the laser voltage: the
    run read as of unknown light, said nowhere. Set apart like case, and said (but case alone)."""
    header, _, _ = parse(raw_csv("It").replace(b"#\tLaser voltage:", f"#\t{spelled}:".encode()))
    assert header.fields["laser_voltage_v"] == 1.15
    said = [text for text in header.warnings if "read as 'Laser voltage'" in text]
    assert len(said) == (spelled != "LASER VOLTAGE ")


def test_a_key_typed_with_spaces_beside_a_sign_is_the_key() -> None:
    """`Laser ON + OFF period` lost the period: the run counted complete, "cannot judge completeness: no 'Laser
    ON+OFF period'" though the key was there."""
    header, _, _ = parse(raw_csv("It").replace(b"#\tLaser ON+OFF period:", b"#\tLaser ON + OFF period:"))
    assert header.fields["laser_period_s"] == 2
    assert "header key 'Laser ON + OFF period' read as 'Laser ON+OFF period'" in " ".join(header.warnings)


@pytest.mark.parametrize(("line", "read"), [("VDS (V): 0.1", "0.1 V"), ("VDS (mV): 100", "100 mV"),
                                            ("VDS (V): 0.1 V", "0.1 V")])
def test_a_key_written_with_its_unit_as_a_column_is_the_key(line: str, read: str) -> None:
    """`VDS (V): 0.1`, as the columns name their units, lost the drain voltage without a word: no mobility, and the
    key's unit is the value's."""
    data = raw_csv("It", params={"VDS": None}).replace(b"#Metadata:", f"#\t{line}\r\n#Metadata:".encode())
    header, _, _ = parse(data)
    assert header.fields["vds_v"] == pytest.approx(0.1) and header.raw["VDS"] == read
    at = data.split(b"\n").index(f"#\t{line}\r".encode()) + 1
    assert f"line {at}: header key '{line.split(':')[0]}' read as 'VDS': '{read}'" in header.warnings


@pytest.mark.parametrize("line", ["Laser voltage (max): 5 V", "Chip number (#): 67"])
def test_a_key_with_words_in_brackets_that_are_no_unit_of_it_is_another_parameter(line: str) -> None:
    """`Laser voltage (max): 5 V` beside `Laser voltage` was read as a second laser voltage and rejected as a
    conflict; `Chip number (#): 67` as `67 #`. Only a unit of the key's own is its unit, and a key given plainly
    keeps its value."""
    header, _, _ = parse(raw_csv("It").replace(b"#Metadata:", f"#\t{line}\r\n#Metadata:".encode()))
    assert header.raw[line.split(":")[0]] == line.split(": ")[1]
    assert header.fields["laser_voltage_v"] == 1.15 and header.fields["vds_v"] == 0.1
    assert not any("read as" in warning for warning in header.warnings)


@pytest.mark.parametrize("second_first", [False, True])
def test_a_key_with_its_unit_beside_the_key_itself_is_one_parameter_given_twice(second_first: bool) -> None:
    """`VDS (V): 0.5` after `VDS: 0.1 V` was kept apart, unsaid (the run staged at 0.1 V), and before it rejected as
    a conflict: in either order a conflict, and the same value twice is none."""
    lines = ["#\tVDS (V): 0.5", "#\tVDS: 0.1 V"] if second_first else ["#\tVDS: 0.1 V", "#\tVDS (V): 0.5"]
    data = raw_csv("It", params={"VDS": None})
    problem = rejected(data.replace(b"#Metadata:", "\r\n".join([*lines, "#Metadata:"]).encode()))
    assert problem.kind == "conflicting_parameter" and "'VDS'" in problem.reason
    header, _, _ = parse(data.replace(b"#Metadata:", b"#\tVDS: 0.1 V\r\n#\tVDS (mV): 100\r\n#Metadata:"))
    assert header.fields["vds_v"] == pytest.approx(0.1) and "VDS (mV)" not in header.raw


@pytest.mark.parametrize(("first", "second"), [("NaN V", "nan V"), ("inf V", "1e999 V")])
def test_one_non_number_written_twice_is_no_conflict(first: str, second: str) -> None:
    """`Laser voltage: NaN V`, then `nan V`: no value either way, rejected as given twice with different values."""
    data = raw_csv("It", params={"Laser voltage": None})
    header, _, _ = parse(data.replace(b"#Metadata:", f"#\tLaser voltage: {first}\r\n#\tLaser voltage: {second}\r\n"
                                                    "#Metadata:".encode()))
    assert header.fields["laser_voltage_v"] is None and any("Laser voltage" in text for text in header.warnings)


def test_a_second_procedure_line_naming_another_procedure_is_a_conflict() -> None:
    """Two runs' headers in one file (staged as the first's procedure, the second's `#Procedure` a parameter); a
    queued run's header repeated by its own run, which agrees, stays one run."""
    it = raw_csv("It")
    problem = rejected(it.replace(b"#Parameters:", b"#Procedure: <laser_setup.procedures.IVg.IVg>\r\n#Parameters:"))
    assert problem.kind == "conflicting_parameter" and "'It'" in problem.reason and problem.line == 2
    header, _, _ = parse(it.split(b"#Metadata:")[0] + it)
    assert header.proc == "It" and "Procedure" not in header.raw


def test_non_numeric_token_names_line_and_column() -> None:
    rows = it_rows()
    rows[4] = rows[4].replace("nan,nan,nan", "nan,oops,nan")
    data = raw_csv("It", rows=rows)
    problem = rejected(data)
    line_text = data.decode().split("\r\n")[problem.line - 1]
    assert problem.kind == "bad_value" and "'oops'" in problem.reason and "Ambient T" in problem.reason
    assert "oops" in line_text


def test_a_quoted_text_field_may_hold_a_comma() -> None:
    """CSV quotes a text field with a comma: the first row's commas were counted, and the file rejected for a
    field too many."""
    data = raw_csv("IVsaw", columns=("Vsd (V)", "I (A)", "polarity"), params={"VSD end": "1 V"},
                   rows=['0.0,1e-6,"pos,itive"', '0.1,2e-6,positive', '"0.2",3e-6,"neg, as ""n"""'])
    _, frame, _ = parse(data, "IVsaw2025-10-14_1")
    assert frame["polarity"].to_list() == ["pos,itive", "positive", 'neg, as "n"'] and frame["vsd_v"][2] == 0.2
    broken = data.replace(b'"neg, as ""n"""', b'"neg,\r\nas"')  # a quoted line break: no row of this format
    assert rejected(broken).reason == "a quote (\") opens a field that the line does not close"


@pytest.mark.parametrize(("rows", "line"), [
    # a quote that opens on one row and closes rows later: Polars read the rows between as one `polarity`, and the
    # run was staged complete with 4 rows fewer
    (['0.0,1e-6,pos', '0.1,2e-6,"pos', '0.2,3e-6,pos', '0.3,4e-6,pos', '0.4,5e-6,pos"', '0.5,6e-6,neg'], 2),
    (['0.0,1e-6,pos', '0.1,2e-6,po"s', '0.2,3e-6,pos'], 2),  # one inside a field: "not numbers", no line
])
def test_a_quote_left_open_in_a_text_column_is_a_bad_row_at_its_line(rows: list[str], line: int) -> None:
    data = raw_csv("IVsaw", columns=("Vsd (V)", "I (A)", "polarity"), params={"VSD end": "1 V"}, rows=rows)
    problem = rejected(data, "IVsaw2025-10-14_1")
    assert (problem.kind, problem.reason) == ("bad_row", "a quote (\") opens a field that the line does not close")
    assert data.decode().split("\r\n")[problem.line - 1] == rows[line - 1]


def test_an_infinite_value_is_kept_and_said_with_its_line_and_column() -> None:
    """`inf`, or a number past the largest float (`1e400`, a 400-digit integer), is read as ±inf: no instrument
    measures it, so the run says where it is."""
    rows = it_rows()
    rows[3], rows[7] = rows[3].replace(",1e-06,", ",1e400,"), rows[7].replace(",0.0,", ",-inf,", 1)
    rows[9] = rows[9].replace(",1e-06,", f",{'9' * 400},")
    data = raw_csv("It", rows=rows)
    header, frame, warnings = parse(data)
    lines = data.decode().split("\r\n")
    infinite = [warning for warning in warnings if "infinite" in warning]
    assert infinite == [f"line {header.column_line + 4}: column 'I (A)' holds an infinite value (`inf`, or a number "
                        "past ±1.8e308); stored as ±inf",
                        f"line {header.column_line + 8}: column 'VL (V)' holds an infinite value (`inf`, or a number "
                        "past ±1.8e308); stored as ±inf"]
    assert "1e400" in lines[header.column_line + 3] and "-inf" in lines[header.column_line + 7]
    assert frame["i_a"].is_infinite().sum() == 2 and frame["vl_v"].to_list()[7] == -math.inf


@pytest.mark.parametrize("bad_row", ["0.5,1e-6,0.0,nan,nan", "0.5,1e-6,0.0,nan,nan,nan,7"])
def test_wrong_field_count_in_a_complete_row(bad_row: str) -> None:
    rows = it_rows()
    rows[2] = bad_row
    data = raw_csv("It", rows=rows)
    problem = rejected(data)
    assert problem.kind == "bad_row"
    assert data.decode().split("\r\n")[problem.line - 1] == bad_row


def test_a_carriage_return_ending_a_field_inside_a_row_is_named_not_read_short() -> None:
    """Polars drops a CR before a comma: a flipped last digit (`2.377078e-05` → `2.377078e-0\\r`) was staged as
    2.377078 A, 100 000 times the current, with no word."""
    rows = it_rows()
    rows[4] = rows[4].replace(",", "\r,", 2).replace("\r,", ",", 1)  # the CR ends the second field, I (A)
    data = raw_csv("It", rows=rows)
    problem = rejected(data)
    assert problem.kind == "bad_row" and problem.reason == ("a carriage return (\\r) ends the field of column "
                                                            "'I (A)' inside the line (a damaged byte?)")
    assert data.decode().split("\r\n")[problem.line - 1] == rows[4]


def test_a_row_of_millions_of_fields_is_rejected_before_polars_reads_it() -> None:
    """Polars widens a 50 MB row into 13 M columns (19 s and 5.8 GB for one file); a large block whose commas
    outnumber rows × columns is read line by line first, which names the row."""
    rows = it_rows()
    rows[3] = "1.0," * (1 << 19) + "1.0"
    data = raw_csv("It", rows=rows)
    header = parse_header(data, load_registry(), "It2025-10-14_1")
    with pytest.raises(Reject) as problem:
        data_block(data, header)
    assert problem.value.kind == "bad_row" and f"{(1 << 19) + 1} fields, the column row has 6" in problem.value.reason
    assert data.decode().split("\r\n")[problem.value.line - 1].startswith("1.0,1.0,")


@pytest.mark.parametrize("start", [0, 7, RAGGED_CHECK_BYTES - 1, RAGGED_CHECK_BYTES + 3])
def test_fields_are_counted_across_the_mib_pieces_from_the_block_start(start: int) -> None:
    """The ragged check counts a MiB at a time: a comma or newline on either side of a piece's edge, and none before
    `start`, is counted once."""
    data = b"".join(b"1.5,-2e-3,nan\n" if k % 3 else b",,\n\n" for k in range(260_000)) + b"9,9"
    assert len(data) > 2 * RAGGED_CHECK_BYTES + 5
    for byte in (b",", b"\n"):
        assert _count(data, start, byte) == data.count(byte, start)


@pytest.mark.parametrize("at", [0, 7, RAGGED_CHECK_BYTES - 2, RAGGED_CHECK_BYTES - 1, RAGGED_CHECK_BYTES,
                                2 * RAGGED_CHECK_BYTES - 1])
def test_a_cr_ending_a_field_is_found_on_either_side_of_a_mib_piece_edge(at: int) -> None:
    """The CR-before-comma search runs a MiB at a time: the pair is found wherever it falls, across an edge too, and
    neither a CR before `start` nor a CRLF is taken for it."""
    clean = bytearray(b"1.5,2\r\n" * (3 * RAGGED_CHECK_BYTES // 7))
    assert not _cr_ends_a_field(bytes(clean), 0)
    damaged = bytearray(clean)
    damaged[at : at + 2] = b"\r,"
    assert _cr_ends_a_field(bytes(damaged), 0) and _cr_ends_a_field(bytes(damaged), at)
    assert not _cr_ends_a_field(bytes(damaged), at + 1)


def test_a_wide_first_row_is_rejected_before_polars_however_many_rows_follow() -> None:
    """Polars widens the frame to its first row's fields: enough normal rows after it kept the total count of commas
    under rows × columns, and a 4 M-field first row took 2.2 GB."""
    rows = ["1.0," * (1 << 17) + "1.0", *["0.1,1e-06,0.0,nan,nan,nan"] * 140_000]
    data = raw_csv("It", rows=rows)
    header = parse_header(data, load_registry(), "It2025-10-14_1")
    with pytest.raises(Reject) as problem:
        data_block(data, header)
    assert problem.value.kind == "bad_row" and f"{(1 << 17) + 1} fields" in problem.value.reason


@pytest.mark.parametrize(
    ("inserted", "reason"),
    [("# laser switched on here", "a comment line (#) among the data rows"),
     ("#Procedure: <laser_setup.procedures.It.It>",
      "a second run's header starts here (#Procedure:): a file holds one run"),
     # two files' data blocks joined: "'t (s)' in column 't (s)' is not a number" said what, not why; its names
     # as another acquisition writes them, read as the registry's (`VG (V)` as `Vg (V)`, `I (mA)` as `I (A)`)
     (",".join(IT_COLUMNS), "the column row again among the data rows: two files joined into one?"),
     (",".join(["T (S)", "I (mA)", *IT_COLUMNS[2:]]), "the column row again among the data rows: two files joined "
      "into one?"),
     (",".join(["None"] * len(IT_COLUMNS)), "'None' in column 't (s)' is not a number")],  # words, not the names
)
def test_a_hash_line_among_the_rows_is_named_where_it_is(inserted: str, reason: str) -> None:
    """Not the first data row: the comment a person added, the second run an acquisition appended, or the column
    row of a second file joined to the first."""
    rows = it_rows()
    rows.insert(5, inserted)
    data = raw_csv("It", rows=rows)
    problem = rejected(data)
    assert problem.reason == reason and data.decode().split("\r\n")[problem.line - 1] == inserted


def test_empty_fields_are_said_with_their_first_line_and_a_short_row_among_them_is_named() -> None:
    """An empty field is a missing value, said with the line of the first and how many rows have one (the note
    named none). Only the rows with one are diagnosed: a 15 MB run with one empty field took 2.9 s, not 0.8."""
    rows = it_rows()
    for index in (3, 6):  # `0.3,,…`: the current left empty
        fields = rows[index].split(",")
        rows[index] = ",".join([fields[0], "", *fields[2:]])
    header, frame, warnings = parse(raw_csv("It", rows=rows))
    assert frame["i_a"].null_count() == 2
    assert warnings == [f"line {header.column_line + 4}: some data fields are empty (2 rows); they are stored as "
                        "missing values"]
    rows[8] = rows[8].rsplit(",", 1)[0]  # a row one field short is read with a null too: it is named, not stored
    problem = rejected(raw_csv("It", rows=rows))
    assert problem.reason == "a data row has 5 fields, the column row has 6" and problem.line == header.column_line + 9


def test_blanks_after_a_number_are_read_past_as_those_before_it() -> None:
    """`nan ` at a line's end, `1.5\t,` mid-row: Polars reads a blank before a number, not after it, and the whole
    file was rejected for it. They are read past and said; a form feed is no blank, and a bad value beside blanks
    is still named with its line."""
    rows = it_rows()
    rows[5] += " "  # a hand edit left a space at the end of the line
    rows[6] = rows[6].replace(",", " \t,", 1)
    _, frame, warnings = parse(raw_csv("It", rows=rows))
    assert frame.height == len(rows) and frame.equals(parse(raw_csv("It"))[1])
    assert warnings == ["spaces or tabs after some values (a hand edit?) are read past"]
    long_run = [*rows[:7], rows[7] + " " * 100_000 + "x", *rows[8:]]  # read past from its first blank only: the
    assert rejected(raw_csv("It", rows=long_run)).reason.endswith("is not a number")  # regex took 46 s for 40k
    rows[7] += "\x0c"
    problem = rejected(raw_csv("It", rows=rows))
    assert problem.kind == "bad_value" and problem.reason == "'nan\\x0c' in column 'Clock (ms)' is not a number"
    assert problem.line == rejected(raw_csv("It", rows=[*it_rows()[:7], "x", *it_rows()[8:]])).line


def test_reject_str_includes_line() -> None:
    assert str(Reject("k", "bad thing", 12)) == "bad thing (line 12)"
    assert str(Reject("k", "bad thing")) == "bad thing"


def test_empty_fields_are_missing_values_not_rejects() -> None:
    rows = it_rows()
    rows[1] = "0.1,,0.0,nan,nan,nan"
    _, frame, warnings = parse(raw_csv("It", rows=rows))
    assert frame["i_a"].null_count() == 1
    assert any("empty" in warning for warning in warnings)


def test_a_line_of_empty_fields_is_a_row_of_missing_values_a_blank_line_no_row() -> None:
    """`,,,,,` lines were dropped as blank lines: a thousand of them left a shorter run, staged complete, unsaid."""
    rows = it_rows()
    rows[2:5] = [",,,,,", ",,,,,", " , , , , ,"]
    rows.insert(6, "")
    _, frame, warnings = parse(raw_csv("It", rows=rows))
    assert frame.height == len(rows) - 1  # the blank line only
    assert frame.slice(2, 3).select(pl.all().null_count()).row(0) == (3,) * frame.width
    assert any("empty" in warning for warning in warnings)
    _, whole, _ = parse(raw_csv("It", rows=[row for row in rows if row]))
    assert whole.equals(frame)


@pytest.mark.parametrize("line_end", [b"\n", b"\r\n", b" \t\r\n"])
def test_a_long_tail_of_blank_lines_costs_no_more_than_its_bytes(line_end: bytes) -> None:
    """Each blank line was read as a row of nulls, then found by splitting the whole block into Python lines: a
    real sweep padded with 12 MB of line ends took 8 s and 2 GB to stage."""
    import tracemalloc

    data = raw_csv("IVg", rows=ivg_rows())
    _, frame, warnings = parse(data)
    padded = data + line_end * 2_000_000
    block = data_block(padded, parse_header(padded, REGISTRY, "It2025-10-14_3"))
    assert len(block.data) <= len(data)  # Polars never reads the tail
    tracemalloc.start()
    try:
        _, read, padded_warnings = parse(padded)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert read.equals(frame) and padded_warnings == warnings
    assert peak < len(line_end) * 2_000_000, peak  # no Python object per line


@pytest.mark.parametrize(("last_line_end", "tail_line"), [
    (b"\t \r\n", b"\r\n"), (b"\r\r\n", b"\r\n"), (b"\r\n", b"\x0c\n"), (b"\r\n", b"\r\r\n"), (b"\r\n", b" \t\n")])
def test_a_file_is_judged_alike_whatever_the_length_of_its_blank_tail(last_line_end: bytes, tail_line: bytes) -> None:
    """The tail's cut stripped the last row's own trailing tab or `\r\r\n`, and lines of form feeds: a file rejected
    with 10 blank lines was staged with 3,000."""

    def outcome(lines: int) -> object:
        data = raw_csv("IVg", rows=ivg_rows()).removesuffix(b"\r\n") + last_line_end + tail_line * lines
        try:
            _, frame, warnings = parse(data)
        except Reject as problem:
            return problem.kind, problem.reason, problem.line
        return frame.height, warnings

    assert outcome(3000) == outcome(10)


def test_rows_parted_by_lone_carriage_returns_at_the_end_are_no_row_cut_short() -> None:
    """Without a final newline, the rows after the last one were taken for one row cut short and dropped: 551 of
    601 rows gone, the run staged as aborted."""
    rows = it_rows()
    data = raw_csv("It", rows=rows[:5])
    cut = data.rstrip(b"\r\n") + b"\r\n" + "\r".join(rows[5:]).encode() + b"\r"
    problem = rejected(cut)
    assert problem.kind == "bad_row" and "carriage return alone" in problem.reason
    assert problem.line == data.rstrip(b"\r\n").count(b"\n") + 2  # the line of the rows run together
    _, frame, warnings = parse(data.rstrip(b"\r\n") + b"\r\n" + rows[5].encode()[:7])  # a row cut short still is
    assert frame.height == 5 and any("unterminated" in warning for warning in warnings)


@pytest.mark.parametrize("blank", ["\u00a0", "\u2003", "\x0c", "\x0b"])
def test_a_number_after_a_blank_polars_does_not_skip_is_rejected_at_its_line(blank: str) -> None:
    """Python's `strip` took these for spaces: no row looked bad, and the reject named no line."""
    rows = it_rows()
    rows[3] = rows[3].replace(",", f",{blank}", 1)
    problem = rejected(raw_csv("It", rows=rows))
    assert problem.kind == "bad_value" and "is not a number" in problem.reason
    assert problem.line == raw_csv("It", rows=rows).split(b"\n").index(rows[3].encode() + b"\r") + 1


def test_a_data_line_missing_or_twice_is_said_as_such() -> None:
    """Each was blamed on another line: a column row with no `#Data:` above it as "a header line does not start
    with '#'", a second `#Data:` as the column row ("IVg needs the columns …; the file has #Data:")."""
    data = raw_csv("IVg", rows=ivg_rows())
    missing = rejected(data.replace(b"#Data:\r\n", b""))
    assert missing.reason.startswith("the column row 'Vg (V),I (A),") and missing.reason.endswith(
        "has no #Data: line above it: the header ends with a line of just `#Data:`")
    twice = rejected(data.replace(b"#Data:\r\n", b"#Data:\r\n# Data:\r\n"))
    assert twice.reason == "the #Data: line is there twice: the column names follow a single one"
    assert twice.line == data.split(b"\n").index(b"#Data:\r") + 2


def test_header_line_without_hash_is_rejected() -> None:
    data = raw_csv("It").replace(b"#Parameters:\r\n", b"#Parameters:\r\nstray text\r\n")
    assert rejected(data).kind == "not_this_format"


@pytest.mark.parametrize(("old", "new"), [
    (b"#\tVDS: 0.1 V", b"#\tVDS:0.1 V"),  # no space after the colon
    (b"#\tVDS: 0.1 V", b"#\tVDS:\t0.1 V"),  # a tab instead
    (b"#Data:", b"# Data:"),  # the section lines as a hand retypes them
    (b"#Data:", b"#DATA:"),
    (b"#\tVDS: 0.1 V", b"#\tVds: 0.1 V"),  # a registered key in another case
    (b"Chip number:", b"Chip Number:"),
    (b"Chip group name: Alisson", b"Chip group name:\tAlisson\t"),  # tabs around a value are blanks
])
def test_retyped_header_lines_read_the_same(old: bytes, new: bytes) -> None:
    original = raw_csv("IVg")
    header, frame, _ = parse(original.replace(old, new), "IVg2025-10-14_3")
    expected, same_frame, _ = parse(original, "IVg2025-10-14_3")
    assert header.fields == expected.fields and frame.equals(same_frame)
    assert header.warnings == expected.warnings


def test_control_characters_in_header_values_are_stored_as_spaces_with_a_warning() -> None:
    """An escape sequence or a tab within a note would reach the manifest, and every table printed from it."""
    header, _, _ = parse(raw_csv("It", params={"Information": "after\x1b[31m anneal\tB"}))
    assert header.fields["information"] == header.raw["Information"] == "after [31m anneal B"
    assert [warning for warning in header.warnings if "control characters" in warning] == [
        "line 7: control characters in 'Information: after\\x1b[31m anneal\\tB' are stored as spaces",
    ]


def test_windows_1252_punctuation_is_text_not_control_characters() -> None:
    """A line that is not UTF-8 is read as Windows-1252, its dashes, quotes and € the characters they are (read as
    latin-1, they were stored as C1 controls, U+0080–U+009F, which the exports dropped), no warning, and a group with
    one is a chip's name. Its 5 unused bytes are read as latin-1."""
    data = raw_csv("It").replace(b"Sample: other", "Sample: muestra – 2 V, “limpio” 5€".encode("cp1252") + b"\x81")
    data = data.replace(b"Chip group name: Alisson", "Chip group name: Alisson–B".encode("cp1252"))
    header, _, _ = parse(data)
    assert header.raw["Sample"] == "muestra – 2 V, “limpio” 5€\x81" and header.fields["chip_group"] == "Alisson–B"
    assert not [warning for warning in header.warnings if "control characters" in warning]


def test_a_column_in_another_prefix_of_its_unit_is_that_column_in_si() -> None:
    """`I (mA)`, `t (ms)`, `VL (mV)` (another acquisition's, a channel logged in mA) were rejected as missing `I (A)`:
    read as the registered column, its values in SI (divided by an exact power of ten, rounded once, as a header's
    `10 uA`), and said. Beside the column itself, another prefix is a column of its own, as written."""
    rows = [f"{t},{i},{vl},nan,nan,nan" for t, i, vl in ((0, 4.7, 0), (500, 4.8, 1150), (1000, 10.0, 0), (1500, "", 0))]
    header, frame, _ = parse(raw_csv("It", columns=("t (ms)", "I (mA)", "VL (mV)", *IT_COLUMNS[3:]), rows=rows))
    assert header.columns[:3] == ["t (s)", "I (A)", "VL (V)"] and header.column_scales == {"t_s": -3, "i_a": -3,
                                                                                          "vl_v": -3}
    assert frame["t_s"].to_list() == [0.0, 0.5, 1.0, 1.5] and frame["vl_v"].to_list() == [0.0, 1.15, 0.0, 0.0]
    assert frame["i_a"].to_list() == [0.0047, 0.0048, 0.01, None]  # 1150 / 1000 is 1.15; an empty field stays empty
    assert "line 18: column 'I (mA)' read as 'I (A)', its values × 1e-3" in header.warnings
    header, frame, _ = parse(raw_csv("It", columns=(*IT_COLUMNS, "I (nA)"), rows=[row + ",5" for row in it_rows()]))
    assert "i_na" in frame.columns and not header.column_scales
    # in capitals, `MA` is mA typed so, not a mega-ampere: not read as I (A) 10⁹× too large
    assert rejected(raw_csv("It", columns=("t (s)", "I (MA)", *IT_COLUMNS[2:]))).kind == "missing_column"


def test_a_chip_named_by_the_file_and_numbered_by_the_header_is_one_chip_and_a_disagreement_is_said() -> None:
    """`Alisson67_8.csv` with `Chip number: 67` and no group was filed as chip `67`, a chip of its own; named
    `Alisson68_4.csv` over a header of chip Alisson67, it was filed under Alisson67 unsaid."""
    header, _, _ = parse(raw_csv("It", params={"Chip group name": None}), "Alisson67_8")
    assert (header.fields["chip_group"], header.fields["chip_number"]) == ("Alisson", 67)
    assert "the header gives no 'Chip group name': 'Alisson' is read from the file name" in header.warnings
    header, _, _ = parse(raw_csv("It"), "Alisson68_4")
    assert (header.fields["chip_group"], header.fields["chip_number"]) == ("Alisson", 67)
    assert ("the file name names chip 'Alisson68', its header chip 'Alisson67': the run is filed under its header's"
            in header.warnings)
    for agreeing in ("Alisson67_4", "alisson67_4", "It67_1", "It2025-10-14_3"):  # a procedure's name is no chip's
        assert not [w for w in parse(raw_csv("It"), agreeing)[0].warnings if "file name" in w], agreeing
    header, _, _ = parse(raw_csv("It", params={"Chip group name": None}), "Alisson68_4")  # no group, another number
    assert header.fields.get("chip_group") is None and any("names chip 'Alisson68', its header chip '67'" in w
                                                       for w in header.warnings)
    header, _, _ = parse(raw_csv("It", params={"Chip group name": ""}), "Alisson67_8")  # an empty group is none
    assert (header.fields["chip_group"], header.fields["chip_number"]) == ("Alisson", 67)
    header, _, _ = parse(raw_csv("It", params={"Chip number": "None"}), "Alisson72_1")  # PyMeasure's unset: absent
    assert (header.fields["chip_group"], header.fields["chip_number"]) == ("Alisson", 72)
    for procedure in ("ITS67_7", "IVG67_6"):  # an alias, a case apart: a procedure's name still, no group
        assert parse(raw_csv("It", params={"Chip group name": None}), procedure)[0].fields.get("chip_group") is None
    header, _, _ = parse(raw_csv("It", params={"Chip group name": "Alisson2", "Chip number": "72"}), "Alisson272_4")
    assert not [w for w in header.warnings if "file name" in w]  # one chip, Alisson2's 72, read two ways
    header, _, _ = parse(raw_csv("It", params={"Chip group name": "\uff21lisson"}), "Alisson67_1")  # a full-width Ａ
    assert header.fields["chip_group"] == "Alisson" and not [w for w in header.warnings if "file name" in w]


@pytest.mark.parametrize("written", [
    "Pen\u0303a",  # decomposed: n + combining tilde
    "Pe\u00f1a\u200b",  # a zero-width space
    "\ufeffPe\u00f1a",  # a BOM pasted with the name
    "Pe\u2060\u00f1a",  # a word joiner
    "\u202ePe\u00f1a",  # a right-to-left override, which reorders the terminal's line
    "\uff30e\u00f1a",  # a full-width P
])
def test_a_chip_group_is_stored_as_the_letters_it_shows_with_a_warning(written: str) -> None:
    """Invisible characters or another Unicode spelling would file the chip's runs under a look-alike chip."""
    header, _, _ = parse(raw_csv("It", params={"Chip group name": written}))
    assert header.fields["chip_group"] == "Pe\u00f1a"
    assert [warning for warning in header.warnings if "Chip group name" in warning] == [
        f"line 5: 'Chip group name' {written!r} is stored as 'Peña' (invisible characters or another Unicode "
        "spelling of the same letters would start a chip of its own)"
    ]


@pytest.mark.parametrize(("written", "number"), [("12345678901234567", 12345678901234567), ("67.0", 67),
                                               ("+67", 67), (str(2**63 - 1), 2**63 - 1)])
def test_a_chip_number_is_read_exactly(written: str, number: int) -> None:
    """Through a float, 12345678901234567 was filed as chip …568, with no word."""
    header, _, _ = parse(raw_csv("It", params={"Chip number": written}))
    assert header.fields["chip_number"] == number and type(header.fields["chip_number"]) is int


def test_a_chip_group_of_invisible_characters_alone_names_no_group() -> None:
    header, _, _ = parse(raw_csv("It", params={"Chip group name": "\u200b\ufeff"}))
    assert header.fields.get("chip_group") is None


def test_a_control_character_in_a_key_alone_is_a_warning_not_a_bad_value() -> None:
    header, _, _ = parse(raw_csv("It").replace(b"Chip group name: Alisson", b"Chip\tgroup name: Alisson"))
    assert header.fields["chip_group"] == "Alisson"
    assert any("control characters in 'Chip\\tgroup name: Alisson'" in warning for warning in header.warnings)


def test_odd_header_line_is_a_warning() -> None:
    header = parse_header(
        raw_csv("It").replace(b"#Parameters:\r\n", b"#Parameters:\r\n#\tno separator here\r\n"), REGISTRY, "a_1"
    )
    assert any("no separator" in warning for warning in header.warnings)
    assert not math.isnan(header.start_time_utc.timestamp())


def test_header_only_file_like_the_real_one_says_the_run_was_never_recorded() -> None:
    problem = rejected(raw_csv("It", start=None, rows=[]))
    assert problem.kind == "no_start_time" and "never recorded" in problem.reason


@pytest.mark.parametrize(("old", "new"), [
    (b"Chip number: 67", b"Chip number: " + b"x" * 1_000_000),
    (b"Start time: 1760371684.3180444", b"Start time: " + b"y" * 1_000_000),
    (b"procedures.It.It>", b"procedures.It." + b"Z" * 1_000_000 + b">"),
    (b"t (s),", b",".join(b"c%d (V)" % k for k in range(3000)) + b","),  # 't (s)' missing, 3000 others
])
def test_a_hostile_value_is_quoted_short_with_its_length(old: bytes, new: bytes) -> None:
    """A 1 MB header value (or 3000 column names) would fill the reject record, the terminal and the rejects
    screen: a message quotes at most 60 characters of a value, or 12 names, and says how long it was."""
    data = raw_csv("It")
    assert old in data
    problem = rejected(data.replace(old, new, 1))
    assert len(problem.reason) < 400 and ("characters)" in problem.reason or "columns)" in problem.reason)


@pytest.mark.parametrize("grown", ["one value", "many lines"])
def test_a_header_larger_than_any_measurements_is_a_reject_naming_its_longest_line(grown: str) -> None:
    """A 20 MB note would sit in the manifest every command reads and in the run's Parquet footer every plot reads."""
    data = raw_csv("It")
    if grown == "one value":
        data = data.replace(b"Information: fixture", b"Information: " + b"x" * 100_000)
    else:
        data = data.replace(b"#Metadata:", b"".join(b"#\tNote %d: fine\r\n" % k for k in range(5000)) + b"#Metadata:")
    problem = rejected(data)
    assert problem.kind == "header_too_large" and "KiB" in problem.reason and len(problem.reason) < 300, problem
    if grown == "one value":
        assert problem.line == 7 and "'Information: xxx" in problem.reason and "(100,013 characters)" in problem.reason


def test_a_long_note_within_the_limit_is_kept_whole() -> None:
    header, _, _ = parse(raw_csv("It", params={"Information": "n" * 60_000}))
    assert header.fields["information"] == "n" * 60_000


def test_two_spellings_of_one_field_keep_the_procedures_own_and_say_so() -> None:
    """ItWl's registry entry spells the wavelength two ways (`Wavelength`, and the common `Laser wavelength`)."""
    columns = REGISTRY.procedures["ItWl"].required_columns
    rows = [",".join("1" for _ in columns)]

    def header_with(wavelength: str) -> Header:
        data = raw_csv("ItWl", params={"Laser wavelength": "385", "Wavelength": wavelength}, columns=columns, rows=rows)
        return parse_header(data, REGISTRY, "ItWl2025-10-14_1")

    differ = header_with("500 nm")
    assert differ.fields["laser_wavelength_nm"] == 500
    assert any("'Laser wavelength' and 'Wavelength' both give laser_wavelength_nm (385.0 and 500.0)" in warning
               for warning in differ.warnings)
    agree = header_with("385 nm")
    assert agree.fields["laser_wavelength_nm"] == 385 and not any("both give" in w for w in agree.warnings)
    unreadable = header_with("x nm")  # left empty, with its warning: the other spelling's value stays
    assert unreadable.fields["laser_wavelength_nm"] == 385



def test_a_sweep_whose_every_setpoint_is_offset_is_whole_and_said() -> None:
    """−0.95…1.05 for a header's −1…1 in 0.05 V steps (every Vg offset by a step) read as "aborted: the sweep covered
    −0.95…1.05 of −1…1"; it is the whole sweep, shifted. Shifted and cut short, it is still aborted."""
    fine = {"VG step": "0.05 V"}
    shifted = [round(vg + 0.05, 9) for vg in sweep(-1, 1, 0.05, "loop")]
    rows = data_rows(((vg, 1e-6 * (1 + abs(vg - 0.2))) for vg in shifted), len(IVG_COLUMNS))
    header, frame, _ = parse(raw_csv("IVg", rows=rows, params=fine), "IVg2025-10-14_3")
    assert is_complete(header.spec.completeness, header, frame) == (True, [
        "Vg (V) sweeps -0.95…1.05, its header's -1…1 shifted by +0.05 (a setpoint offset?)"])
    header, frame, _ = parse(raw_csv("IVg", rows=rows[:-20] + rows[-21:-20] * 20, params=fine), "IVg2025-10-14_3")
    assert is_complete(header.spec.completeness, header, frame) == (False, [
        "aborted: the sweep stopped at -0.95 instead of returning to 0.05",
        "Vg (V) sweeps -0.95…1.05, its header's -1…1 shifted by +0.05 (a setpoint offset?)"])
    twice = raw_csv("IVg", rows=rows + rows[1:], params=fine)  # two shifted sweeps in one file: said, as unshifted
    header, frame, _ = parse(twice, "IVg2025-10-14_3")
    assert "two sweeps in one file" in " ".join(is_complete(header.spec.completeness, header, frame)[1])
    far = [round(vg + 0.2, 9) for vg in sweep(-1, 1, 0.05, "loop")]  # 4 steps off: a header for another sweep
    header, frame, _ = parse(raw_csv("IVg", rows=data_rows(((vg, 1e-6) for vg in far), len(IVG_COLUMNS)),
                                     params=fine), "IVg2025-10-14_3")
    assert is_complete(header.spec.completeness, header, frame)[0] is False
    wide = [vg * 1.5 for vg in sweep(-1, 1, 0.05, "loop")]  # not a shift: beyond the header, as before
    header, frame, _ = parse(raw_csv("IVg", rows=data_rows(((vg, 1e-6) for vg in wide), len(IVG_COLUMNS)),
                                     params=fine), "IVg2025-10-14_3")
    assert "beyond its header's sweep" in is_complete(header.spec.completeness, header, frame)[1][0]


def test_an_overflow_mark_in_the_clock_is_no_end_of_the_run() -> None:
    """An aborted It run whose last t read 9.9e37 (an overflow mark) was complete, its duration 9.9e37 s."""
    rows = it_rows()[:21]  # 0–2 s of the 3 s its header's 1.5 periods take
    rows[-1] = "9.9e+37" + rows[-1][rows[-1].index(","):]
    header, frame, _ = parse(raw_csv("It", rows=rows), "It2025-10-14_3")
    assert is_complete(header.spec.completeness, header, frame) == (False, ["aborted: t (s) spans 1.9 of 3"])
    assert duration_s(header, frame) == pytest.approx(1.9)


def test_a_sweep_whose_turns_are_unread_is_whole_and_said() -> None:
    """NaN Vg at the sweep's turns (every row there) read as "aborted: the sweep covered −0.95…0.95 of −1…1"."""
    fine = {"VG step": "0.05 V"}
    values = sweep(-1, 1, 0.05, "loop")
    rows = data_rows(((vg, 1e-6 * (1 + abs(vg - 0.2))) for vg in values), len(IVG_COLUMNS))
    turns = [rows[k].replace(rows[k].split(",")[0], "nan", 1) if abs(values[k]) == 1 else rows[k]
             for k in range(len(rows))]
    header, frame, _ = parse(raw_csv("IVg", rows=turns, params=fine), "IVg2025-10-14_3")
    assert is_complete(header.spec.completeness, header, frame) == (True, [
        "Vg (V) reads -0.95…0.95 of -1…1 with every row there: its turns unread (NaN)"])
    header, frame, _ = parse(raw_csv("IVg", rows=turns[:-30], params=fine), "IVg2025-10-14_3")
    assert not is_complete(header.spec.completeness, header, frame)[0]  # cut short too: aborted


def test_a_sweep_of_two_steps_is_said_with_both() -> None:
    """Every 0.05 V step kept within ±0.5 V and only every 0.2 V beyond: "Vg (V) steps by 0.125" (a real file so
    cut), a step it never takes; with fewer steps near 0 the same loop was "two sweeps in one file" against the
    rows its median step implies. Its steps' range is said, and its span judges it."""
    fine = [vg for vg in sweep(-3, 3, 0.05, "loop") if abs(vg) <= 0.5 or round(vg / 0.2, 6).is_integer()]
    rows = data_rows(((vg, 1e-6 * (1 + abs(vg - 0.2))) for vg in fine), len(IVG_COLUMNS))
    params = {"VG start": "-3 V", "VG end": "3 V", "VG step": "0.05 V"}
    header, frame, _ = parse(raw_csv("IVg", rows=rows, params=params), "IVg2025-10-14_3")
    assert is_complete(header.spec.completeness, header, frame) == (True, [
        "Vg (V) steps by 0.05 to 0.2 where its header says 0.05: 139 rows for its 361, judged by its path"])
    header, frame, _ = parse(raw_csv("IVg", rows=rows[:-20], params=params), "IVg2025-10-14_3")
    assert not is_complete(header.spec.completeness, header, frame)[0]  # cut short: aborted
    back = next(k for k in range(len(fine) - 1, 0, -1) if fine[k] == 3.0)  # cut at 0.2 V on the way back from +3 V
    cut = rows[: next(k for k in range(back, len(fine)) if fine[k] <= 0.2) + 1]
    header, frame, _ = parse(raw_csv("IVg", rows=cut, params=params), "IVg2025-10-14_3")
    assert is_complete(header.spec.completeness, header, frame)[1][0] == (
        "aborted: the sweep never reached -3 on its way loop -3 → 3")  # it spanned −3…3 and stopped near 0
    uniform = data_rows(((vg, 1e-6) for vg in sweep(-3, 3, 0.1, "loop")), len(IVG_COLUMNS))
    holed = uniform[:50] + uniform[51:-40]  # one row dropped (no second step size), and cut: aborted by its rows
    header, frame, _ = parse(raw_csv("IVg", rows=holed, params=params), "IVg2025-10-14_3")
    assert is_complete(header.spec.completeness, header, frame)[1][0].startswith("aborted: 140 of the 181 rows")


def test_a_loop_sorted_by_vg_has_every_row_and_says_so() -> None:
    """A loop's rows sorted by Vg in a spreadsheet: "aborted: the sweep stopped at 1 instead of returning to 0",
    every row there (its metrics say "rows sorted by Vg?")."""
    values = sorted(sweep(-1, 1, 0.5, "loop"))
    rows = data_rows(((vg, 1e-6 * (1 + abs(vg - 0.2))) for vg in values), len(IVG_COLUMNS))
    header, frame, _ = parse(raw_csv("IVg", rows=rows), "IVg2025-10-14_3")
    assert is_complete(header.spec.completeness, header, frame) == (True, [
        "its rows are in the order of Vg (V)'s values, not of the sweep's path (sorted in a spreadsheet?): every row "
        "there"])
    header, frame, _ = parse(raw_csv("IVg", rows=rows[:-3]), "IVg2025-10-14_3")
    assert not is_complete(header.spec.completeness, header, frame)[0]  # rows missing too: aborted


def test_every_voltage_of_the_registry_is_bounded_by_what_a_source_measure_unit_applies() -> None:
    """IV's, IVgT's and the calibration's sweep limits had no bounds: `VSD start: -5000 V` (a slip of unit) made a
    whole IV run "aborted: the sweep covered -0.1…0.1 of -5000…0.1", where IVg's left the field empty, said."""
    specs = [*REGISTRY.common_parameters.items(),
             *((key, spec) for procedure in REGISTRY.procedures.values() for key, spec in procedure.parameters.items())]
    volts = [(key, spec) for key, spec in specs if spec.unit == "V"]
    assert len(volts) > 20 and all((spec.minimum, spec.maximum) == (-1100, 1100) for _, spec in volts), volts
    data = raw_csv("IV", params={"VSD start": "-5000 V"})
    header = parse_header(data, REGISTRY, "IV2025-10-14_1")
    assert header.fields["vsd_start_v"] is None and any("below -1100 V" in text for text in header.warnings)
