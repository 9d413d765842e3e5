"""Parity with the old tool's histories: known legacy defects explained and ignored, real differences reported."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from labtui.cli import main
from labtui.core.manifest import read_manifest
from labtui.core.parity import parity, read_legacy_history
from tests.lab import REALDATA, Lab, chip67_lab, local

TZ = "America/Santiago"
HEADER = "seq,date,time_hms,proc,summary,source_file,file_idx,start_time,day_folder,has_light"


def old_row(seq: int, when: str, source: str, *, folder: str | None = None, shown: str | None = None) -> str:
    """A row as the old tool wrote it: `raw_data/` paths, wall-clock time of its host (UTC here), epoch start."""
    start = local(when)
    wall = shown or start.astimezone(dt.UTC).strftime("%Y-%m-%d,%H:%M:%S")
    proc = Path(source).name.split("2025", 1)[0]
    day = folder or source.split("/")[0]
    return f"{seq},{wall},{proc},{proc} Alisson67,raw_data/{source},1,{start.timestamp()!r},{day},false"


GOOD_ROWS = [
    old_row(1, "2025-09-05 10:00", "Alisson_05_sept/IVg2025-09-05_1.csv"),
    old_row(2, "2025-09-05 10:00:20", "Alisson_05_sept/IVg2025-09-05_2.csv"),
    old_row(3, "2025-09-05 10:30", "Alisson_05_sept/It2025-09-05_1.csv"),
    old_row(4, "2025-09-05 10:30", "Alisson_05_sept/It2025-09-05_1.csv", folder="Alisson_05_sept_test"),
    old_row(5, "2025-09-08 08:00", "Alisson_08_sept/IV2025-09-08_1.csv"),  # group `other`, same number
    old_row(6, "2025-09-08 09:15", "Alisson_08_sept/It2025-09-08_1.csv"),
    old_row(7, "2025-09-08 22:30", "Alisson_08_sept/It2025-09-08_2.csv"),
    old_row(8, "2025-09-09 10:00", "Alisson_09_sept/It2025-09-09_1.csv"),  # its file never reached raw/
]


@pytest.fixture
def lab(tmp_path) -> Lab:
    return chip67_lab(tmp_path)


def write_old(lab: Lab, rows: list[str], name: str = "Alisson67_history.csv") -> Path:
    path = lab.root / name
    path.write_text("\n".join([HEADER, *rows]) + "\n", encoding="utf-8")
    return path


def check(lab: Lab, rows: list[str], **options: object):
    return parity(read_legacy_history(write_old(lab, rows)), lab.manifest(), tz=TZ, raw_root=lab.raw, **options)


def test_legacy_defects_are_explained_and_ignored(lab: Lab) -> None:
    report = check(lab, GOOD_ROWS)
    assert report.agree and (report.chip_group, report.chip_number) == ("Alisson", 67)
    assert (report.old_rows, report.matched) == (8, 5)
    explained = {item.code: item for item in report.explained}
    assert {code: item.count for code, item in explained.items()} == {
        "duplicate": 1, "other_group": 1, "not_in_raw": 1, "host_zone": 5,
    }
    assert explained["duplicate"].items == ["Alisson_05_sept/It2025-09-05_1.csv (Alisson_05_sept_test)"]
    assert explained["other_group"].items == ["Alisson_08_sept/IV2025-09-08_1.csv (Alisson_08_sept)"]
    assert "UTC+0 h" in explained["host_zone"].title  # the old host wrote UTC wall-clock times


def test_times_in_the_lab_zone_need_no_explanation(lab: Lab) -> None:
    rows = [old_row(1, "2025-09-05 10:30", "Alisson_05_sept/It2025-09-05_1.csv", shown="2025-09-05,10:30:00")]
    report = check(lab, rows, number=67, group="Alisson")
    assert "host_zone" not in {item.code for item in report.explained}


def test_a_run_missing_from_the_old_file(lab: Lab) -> None:
    report = check(lab, GOOD_ROWS[:5] + GOOD_ROWS[6:])
    assert not report.agree
    assert report.only_labtui["source_file"].to_list() == ["Alisson_08_sept/It2025-09-08_1.csv"]
    assert report.only_labtui["seq"].to_list() == [4]


def test_runs_labtui_does_not_have_get_a_reason(lab: Lab) -> None:
    wrong_start = old_row(9, "2025-09-08 23:00", "Alisson_08_sept/It2025-09-08_2.csv")
    calibration = old_row(10, "2025-09-08 07:00", "Alisson_08_sept/LaserCalibration2025-09-08_1.csv")
    lab.write_run("Alisson_08_sept/It2025-09-08_7.csv", "It", start=local("2025-09-08 23:30"), number=68)
    other_chip = old_row(11, "2025-09-08 23:30", "Alisson_08_sept/It2025-09-08_7.csv")
    (lab.raw / "unstaged.csv").write_text("not a run")
    unstaged = old_row(12, "2025-09-08 23:40", "unstaged.csv")
    lab.stage()
    report = check(lab, [*GOOD_ROWS, wrong_start, calibration, other_chip, unstaged])
    assert not report.agree and report.only_labtui.is_empty()
    reasons = dict(report.only_old.select("source_file", "reason").iter_rows())
    assert reasons == {
        "Alisson_08_sept/It2025-09-08_2.csv": "the staged file has another start time (re-recorded?)",
        "Alisson_08_sept/LaserCalibration2025-09-08_1.csv": "labtui has this run under chip (none)",
        "Alisson_08_sept/It2025-09-08_7.csv": "labtui has this run under chip Alisson68",
        "unstaged.csv": "the raw file is not staged (see `labtui rejects` and `labtui validate`)",
    }


@pytest.mark.parametrize("start", ["notanumber", "nan", "inf", "-inf", "1e308", "1e19"])
def test_an_old_row_without_a_usable_start_time_says_so(lab: Lab, start: str) -> None:
    """A hand edit, or an old tool's NaN for a file without a start (NaN, inf and a time past a 64-bit count of µs
    ended the comparison in a traceback)."""
    fields = GOOD_ROWS[0].split(",")
    fields[7] = start  # seq,date,time,proc,summary,source_file,file_idx,start_time,…
    report = check(lab, [",".join(fields), *GOOD_ROWS[1:]], number=67, group="Alisson")
    reasons = dict(report.only_old.select("source_file", "reason").iter_rows())
    assert reasons == {"Alisson_05_sept/IVg2025-09-05_1.csv": "the old row has no usable start_time"}


def test_order_differences(lab: Lab) -> None:
    rows = list(GOOD_ROWS)
    rows[5], rows[6] = rows[6], rows[5]
    report = check(lab, rows)
    assert not report.agree and report.only_old.is_empty() and report.only_labtui.is_empty()
    assert report.order == [
        "Alisson_08_sept/It2025-09-08_2.csv: old position 4, labtui position 5 (seq 5)",
        "Alisson_08_sept/It2025-09-08_1.csv: old position 5, labtui position 4 (seq 4)",
    ]


def test_the_chip_is_inferred_or_given(lab: Lab) -> None:
    only_other = [GOOD_ROWS[4]]
    assert check(lab, only_other).chip_group == "other"
    report = check(lab, only_other, number=67, group="Alisson")
    assert report.chip_group == "Alisson" and report.only_labtui.height == 5
    with pytest.raises(ValueError, match="cannot tell which chip"):
        check(lab, [GOOD_ROWS[-1]])


def test_an_old_file_needs_source_and_start(tmp_path) -> None:
    path = tmp_path / "x.csv"
    path.write_text("seq,date\n1,2025-09-05\n")
    with pytest.raises(ValueError, match="no source_file, start_time"):
        read_legacy_history(path)


def test_cli_exit_codes(lab: Lab, capsys) -> None:
    assert main(lab.args("parity", str(write_old(lab, GOOD_ROWS)))) == 0
    out = capsys.readouterr().out
    assert "1 rows listed twice" in out and "AGREE" in out
    assert main(lab.args("parity", str(write_old(lab, GOOD_ROWS[:6], "short.csv")), "--json")) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["agree"] is False and [row["seq"] for row in report["only_labtui"]] == [5]
    # a path typed wrong, or a folder, is a usage error (2), as every command's: it was an operating system's (74)
    for absent in ("absent.csv", "*.csv", "."):  # a path is that file, never a pattern
        assert main(lab.args("parity", str(lab.root / absent))) == 2
        assert f"labtui: cannot read the old history {lab.root / absent}: " in capsys.readouterr().err
    (lab.root / "empty.csv").write_bytes(b"")
    (lab.root / "x.pdf").write_bytes(b"%PDF-1.4\n\xff\xfe\x00binary")
    for name in ("empty.csv", "x.pdf"):
        assert main(lab.args("parity", str(lab.root / name))) == 2, name
        assert "is not an old history" in capsys.readouterr().err


def test_a_history_labtui_exported_agrees_with_labtui(lab: Lab, capsys) -> None:
    """Its columns include the manifest's own (start_time_utc, …): only what matching reads is taken."""
    assert main(lab.args("export", "histories", "--out", str(lab.root / "exported"))) == 0
    exported = next((lab.root / "exported").glob("Alisson67_history.csv"))
    capsys.readouterr()
    assert main(lab.args("parity", str(exported))) == 0 and "AGREE" in capsys.readouterr().out


@pytest.mark.realdata
def test_labtui_agrees_with_every_legacy_history(real_store) -> None:
    manifest = read_manifest(real_store.manifest_path)
    explained: dict[int, dict[str, int]] = {}
    for path in sorted((REALDATA / "legacy_histories").glob("*_history.csv")):
        report = parity(read_legacy_history(path), manifest, tz=TZ, raw_root=real_store.raw_root)
        assert report.agree, (path.name, report.only_old.to_dicts(), report.only_labtui["source_file"].to_list(),
                              report.order)
        assert path.name == f"{report.chip_group}{report.chip_number}_history.csv"
        explained[report.chip_number] = {item.code: item.count for item in report.explained}
    assert explained[68] == {"duplicate": 38} and explained[75] == {"duplicate": 11}
    assert explained[71] == {"other_group": 2}
    assert explained[79] == explained[100] == {}
