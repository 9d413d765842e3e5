"""Validation: every finding triggered by a deliberately damaged store, the --fix round trip, the CLI."""

from __future__ import annotations

import json
import os
import shutil
import threading
from collections.abc import Callable

import polars as pl
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from labtui import open_store
from labtui.cli import main
from labtui.core.annotations import annotations_dir
from labtui.core.config import default_registry_path
from labtui.core.findings import Finding
from labtui.core.fixes import apply_fixes
from labtui.core.lab_files import ConfigError
from labtui.core.layout import run_dir, run_parquet_path
from labtui.core.lock import LockBusy, WriterLock
from labtui.core.manifest import write_manifest
from labtui.core.manifest_row import ManifestRow
from labtui.core.parquet_footer import read_footer
from labtui.core.scan import pending_files
from labtui.core.store import DIRTY_MARKER
from labtui.core.validate import _schema_errors, validate
from tests.lab import COLUMNS, Lab, chip67_lab, damage_a_data_page, data_rows, epoch, local, raw_csv, sha_tree, sweep

IT = "Alisson_08_sept/It2025-09-08_1.csv"
IVG = "Alisson_05_sept/IVg2025-09-05_1.csv"


@pytest.fixture
def lab(tmp_path) -> Lab:
    return chip67_lab(tmp_path)


def parquet_of(lab: Lab, source: str):
    run = lab.run_of(source)
    return run_parquet_path(lab.config.stage_root, run["proc"], run["date_local"], run["run_id"])


def edit_manifest(lab: Lab, change: Callable[[pl.DataFrame], pl.DataFrame]) -> None:
    write_manifest(change(lab.manifest()), lab.config.manifest_path)


def by_code(lab: Lab, **options: object) -> dict[str, Finding]:
    return {finding.code: finding for finding in validate(lab.config, **options).findings}


def test_a_fresh_store_is_clean(lab: Lab) -> None:
    report = validate(lab.config)
    assert report.findings == [] and report.ok
    assert report.stats["runs"] == 7 and report.stats["chips"] == 2 and report.stats["calibrations"] == 1
    assert report.stats["raw_files"] == 7 and report.stats["hashed"] == 0


def test_a_damaged_metrics_table_is_an_error_with_its_mend(lab: Lab) -> None:
    """A truncated metrics.parquet read "store healthy", while every trend and `labtui metrics` failed on it."""
    table = lab.config.metrics_path
    table.write_bytes(table.read_bytes()[:100])
    finding = by_code(lab)["metrics_damaged"]
    assert finding.severity == "error" and not validate(lab.config).ok
    assert finding.items[0].startswith(f"the metrics table {table} is damaged (not a readable Parquet file")
    assert finding.fix == "`labtui metrics --rebuild` recomputes it from the store"


def copy_a_raw_file(lab: Lab) -> None:
    (lab.raw / "copies").mkdir()
    shutil.copy2(lab.raw / IT, lab.raw / "copies" / "It.csv")
    lab.stage()


def copy_and_edit_a_raw_file(lab: Lab) -> None:
    """A copy whose free text was changed afterwards: other bytes, the same run."""
    (lab.raw / "copies").mkdir()
    edited = (lab.raw / IT).read_bytes().replace(b"#Parameters:", b"#Parameters:\r\n#\tComment: redone", 1)
    (lab.raw / "copies" / "It.csv").write_bytes(edited)
    lab.stage()


def reject_a_file(lab: Lab) -> None:
    (lab.raw / "Alisson_08_sept" / "It2025-09-08_9.csv").write_bytes(b"#Procedure: <a.It.It>\r\n")
    lab.stage()


def stage_an_aborted_run(lab: Lab) -> None:
    lab.write_run("Alisson_09_sept/It2025-09-09_1.csv", "It", start=local("2025-09-09 10:00"), rows=8)
    lab.stage()


def write_a_bad_reject_record(lab: Lab) -> None:
    lab.config.rejects_dir.mkdir(exist_ok=True)
    (lab.config.rejects_dir / "0123.json").write_text("{")


def reject_then_delete(lab: Lab) -> None:
    (lab.raw / "bad.csv").write_bytes(b"nothing")
    lab.stage()
    (lab.raw / "bad.csv").unlink()


def set_column(source: str, column: str, value: pl.Expr) -> Callable[[Lab], None]:
    """Damage one manifest row: `column` of the row of `source` becomes `value`."""
    return lambda lab: edit_manifest(lab, lambda m: m.with_columns(
        pl.when(pl.col("source_file") == source).then(value).otherwise(pl.col(column)).alias(column)))


def add_orphan(lab: Lab) -> None:
    folder = parquet_of(lab, IT).parent
    shutil.copytree(folder, folder.with_name("run_id=" + "a" * 16))


# Each damage, and the finding it must produce: (code, severity, fixable, an item that must be listed)
DAMAGES: dict[str, tuple[Callable[[Lab], object], str, str, bool, str]] = {
    "delete a Parquet": (lambda lab: parquet_of(lab, IT).unlink(), "parquet_missing", "error", True, IT),
    "delete a run folder": (
        lambda lab: shutil.rmtree(parquet_of(lab, IT).parent), "parquet_missing", "error", True, IT,
    ),
    "truncate a Parquet": (
        lambda lab: os.truncate(parquet_of(lab, IT), parquet_of(lab, IT).stat().st_size // 2),
        "parquet_unreadable", "error", True, IT,
    ),
    "overwrite a Parquet with text": (
        lambda lab: parquet_of(lab, IT).write_text("run,values\n1,2\n"), "parquet_unreadable", "error", True, IT,
    ),
    "add an orphan folder": (add_orphan, "orphan_parquet", "error", True, "run_id=" + "a" * 16),
    "another run's Parquet copied over": (
        lambda lab: shutil.copyfile(parquet_of(lab, IVG), parquet_of(lab, IT)), "parquet_of_another_run", "error", True,
        f"{IT}: its record names run ",
    ),
    "n_rows off by one": (
        set_column(IT, "n_rows", pl.col("n_rows") + 1), "row_count_mismatch", "error", True,
        "the Parquet has 31 rows, the manifest says 32",
    ),
    "duplicate manifest row": (
        lambda lab: edit_manifest(lab, lambda m: pl.concat([m, m.filter(pl.col("source_file") == IT)])),
        "duplicate_run_id", "error", True, IT,
    ),
    "run_id not 16 hex": (
        set_column(IT, "run_id", pl.lit("XYZ")), "schema", "error", True,
        "XYZ Alisson_08_sept/It2025-09-08_1.csv: run_id: String should match pattern",
    ),
    "parameters no longer JSON": (  # the readers read them as missing; a re-stage writes them again
        set_column(IT, "parameters", pl.lit('{"VG": "0.3')), "schema", "error", True,
        "Alisson_08_sept/It2025-09-08_1.csv: parameters: Value error, EOF while parsing",
    ),
    "parameters a JSON list": (
        set_column(IT, "parameters", pl.lit("[1, 2]")), "schema", "error", True,
        "parameters: Value error, must be a JSON object",
    ),
    "null run_id": (set_column(IT, "run_id", pl.lit(None)), "null_required", "error", True, "run_id: 1 null"),
    "null proc": (set_column(IT, "proc", pl.lit(None)), "null_required", "error", True, "proc: 1 null"),
    "proc not a safe name": (
        set_column(IT, "proc", pl.lit("../x")), "schema", "error", True, "proc: String should match pattern",
    ),
    "null date_local": (set_column(IT, "date_local", pl.lit(None)), "null_required", "error", True,
                        "date_local: 1 null"),
    "null summary": (set_column(IT, "summary", pl.lit(None)), "null_required", "error", True, "summary: 1 null"),
    "null source_file": (  # a hand edit: no raw file to look for (validate listed it as gone: None, a traceback)
        set_column(IT, "source_file", pl.lit(None)), "null_required", "error", False, "source_file: 1 null",
    ),
    "date_local in UTC": (  # the 22:30 local run is on the next UTC date
        lambda lab: edit_manifest(lab, lambda m: m.with_columns(date_local=pl.col("start_time_utc").dt.date())),
        "date_local_mismatch", "error", True, "Alisson_08_sept/It2025-09-08_2.csv",
    ),
    "unknown manifest column": (
        lambda lab: edit_manifest(lab, lambda m: m.with_columns(pl.lit(1).alias("colour"))),
        "manifest_columns", "error", False, "unknown column colour",
    ),
    "delete the manifest": (
        lambda lab: lab.config.manifest_path.unlink(), "manifest_missing", "error", False, "manifest.parquet",
    ),
    "another table written over the manifest": (
        lambda lab: pl.DataFrame({"a": [1, 2]}).write_parquet(lab.config.manifest_path), "manifest_columns", "error",
        False, "missing column run_id",
    ),
    "garbage manifest": (
        lambda lab: lab.config.manifest_path.write_bytes(b"PAR1 not really"), "manifest_unreadable", "error", False,
        "manifest.parquet",
    ),
    "edit a raw file": (
        lambda lab: (lab.raw / IT).write_bytes((lab.raw / IT).read_bytes() + b"3.1,1e-06,0.0,nan,nan,nan\r\n"),
        "raw_changed", "warning", True, IT,
    ),
    "touch a raw file": (lambda lab: os.utime(lab.raw / IT), "raw_touched", "info", True, IT),
    "delete a raw file": (lambda lab: (lab.raw / IT).unlink(), "raw_missing", "warning", False, IT),
    "add a raw file": (
        lambda lab: lab.write_run("Alisson_09_sept/It2025-09-09_1.csv", "It", start=local("2025-09-09 10:00")),
        "raw_new", "warning", True, "Alisson_09_sept/It2025-09-09_1.csv",
    ),
    "copy a raw file": (copy_a_raw_file, "duplicate_content", "warning", False, f"{IT} = copies/It.csv"),
    "copy and edit a raw file": (copy_and_edit_a_raw_file, "same_start", "warning", False, f"{IT} ≈ copies/It.csv"),
    "a group typed in lower case": (
        lambda lab: (lab.write_run("Alisson_09_sept/It2025-09-09_1.csv", "It", start=local("2025-09-09 10:00"),
                                   group="alisson"), lab.stage()),
        "chip_name_clash", "warning", False, "Alisson67 / alisson67: one chip, its group typed in two ways?",
    ),
    "a group with a zero-width space, staged before groups were cleaned": (
        lambda lab: edit_manifest(lab, lambda m: m.with_columns(
            chip_group=pl.when(pl.col("source_file") == IT).then(pl.lit("Alisson\u200b")).otherwise("chip_group"),
            chip_name=pl.when(pl.col("source_file") == IT).then(pl.lit("Alisson\u200b67")).otherwise("chip_name"))),
        "chip_name_clash", "warning", False, "Alisson67 / Alisson\u200b67: one chip, its group typed in two ways?",
    ),
    "a pipe named .csv": (
        lambda lab: os.mkfifo(lab.raw / "Alisson_08_sept" / "pipe.csv"), "raw_not_regular", "info", False,
        "Alisson_08_sept/pipe.csv",
    ),
    "a link to a day folder kept elsewhere": (
        lambda lab: os.symlink(lab.raw / "Alisson_08_sept", lab.raw / "linked_day"), "raw_folder_link", "warning",
        False, "linked_day",
    ),
    "two chips with one name": (
        lambda lab: (lab.write_run("Alisson_09_sept/It2025-09-09_1.csv", "It", start=local("2025-09-09 10:00"),
                                   group="Alisson6", number=7), lab.stage()),
        "chip_name_clash", "warning", False, "Alisson67: the name of 2 different chips",
    ),
    "a rejected file": (reject_a_file, "rejects", "warning", False, "Alisson_08_sept/It2025-09-08_9.csv: "),
    "an aborted run": (stage_an_aborted_run, "incomplete", "info", False, "Alisson_09_sept/It2025-09-09_1.csv"),
    "an unreadable reject record": (write_a_bad_reject_record, "reject_unreadable", "warning", True, "0123.json"),
    "a reject of a deleted file": (reject_then_delete, "rejects_stale", "info", True, "bad.csv"),
    "an interrupted writer": (
        lambda lab: (lab.config.manifest_dir / ".dirty").write_text("1234"), "interrupted_writer", "warning", True,
        ".dirty",
    ),
    # a rejected file was neither staged nor rejected ("cannot write the reject record … File exists"), and
    # validate called the store healthy
    **{f"a file named as the {name} folder": (
        lambda lab, folder=folder: (shutil.rmtree(folder(lab), ignore_errors=True),
                                    folder(lab).parent.mkdir(parents=True, exist_ok=True), folder(lab).write_text("")),
        "file_for_folder", "error", False, name,
    ) for name, folder in (("_rejects", lambda lab: lab.config.rejects_dir),
                           ("derived", lambda lab: lab.config.derived_dir),
                           ("_annotations", lambda lab: annotations_dir(lab.config.store_root)),
                           ("actions", lambda lab: annotations_dir(lab.config.store_root) / "actions"),
                           ("tmp", lambda lab: lab.config.manifest_dir / "tmp"))},
    # a link that loops where the annotations' folder is: a RuntimeError traceback in every command
    "a link that loops as the _annotations folder": (
        lambda lab: (shutil.rmtree(annotations_dir(lab.config.store_root), ignore_errors=True),
                     annotations_dir(lab.config.store_root).symlink_to("_annotations")),
        "file_for_folder", "error", False, "_annotations",
    ),
}


@pytest.mark.parametrize("damage", DAMAGES, ids=list(DAMAGES))
def test_every_damage_is_found(lab: Lab, damage: str) -> None:
    harm, code, severity, fixable, item = DAMAGES[damage]
    harm(lab)
    report = validate(lab.config)
    found = {finding.code: finding for finding in report.findings}
    assert code in found, [f.code for f in report.findings]
    finding = found[code]
    assert (finding.severity, finding.fixable) == (severity, fixable)
    assert finding.count >= 1 and finding.fix
    assert any(item in listed for listed in finding.items), finding.items
    assert all(isinstance(listed, str) for every in report.findings for listed in every.items)  # the CLI prints them
    assert report.ok == (severity != "error" and not any(f.severity == "error" for f in report.findings))


@pytest.mark.parametrize("damage", ["a file named as the actions folder", "a link that loops as the _annotations "
                                                                          "folder"])
def test_a_command_that_cannot_read_the_annotations_says_so_in_one_line(lab: Lab, damage: str, capsys) -> None:
    """"operating-system error on …/actions: Not a directory" named no operation; a link that loops, a traceback."""
    DAMAGES[damage][0](lab)
    for command in (("history", "Alisson67"), ("annotate", "Alisson67", "--seq", "1", "--star")):
        assert main(lab.args(*command)) == 74
        err = capsys.readouterr().err
        assert err.startswith(f"labtui: cannot read the annotations in {annotations_dir(lab.config.store_root)}") \
            and err.count("\n") == 1, err


def test_a_sweep_that_never_came_back_to_0_is_aborted_in_words_that_fit_it(lab: Lab) -> None:
    """Every row of a sweep there, its last not back at 0 V: listed as `fewer rows than the header promises`."""
    vg = [*sweep(-1, 1, 0.5, "loop")[:-1], 1.0]  # the count kept, the last at +1 V
    rows = data_rows(((v, 1e-6) for v in vg), len(COLUMNS["IVg"]))
    lab.write("2025-10-14/IVg2025-10-14_1.csv", raw_csv("IVg", rows=rows))
    lab.stage()
    finding = by_code(lab)["incomplete"]
    assert finding.count == 1 and finding.items[0].endswith(" 2025-10-14/IVg2025-10-14_1.csv")
    assert finding.title == ("runs not complete (stopped short of the sweep or the time their header promises, or rows "
                             "missing inside them)")


def test_a_table_that_names_no_run_is_one_finding_not_one_per_row(lab: Lab) -> None:
    pl.DataFrame({"a": [1, 2]}).write_parquet(lab.config.manifest_path)
    report = validate(lab.config)
    errors = [finding.code for finding in report.findings if finding.severity == "error"]
    assert errors == ["manifest_columns"] and report.stats["runs"] == 0


def test_a_row_duplicated_by_hand_is_no_raw_copy(lab: Lab) -> None:
    """The row's file was also listed as a copy of itself (`X = X`), with advice to move a raw copy out of the tree."""
    DAMAGES["duplicate manifest row"][0](lab)
    codes = [finding.code for finding in validate(lab.config).findings]
    assert "duplicate_run_id" in codes and "duplicate_content" not in codes and "same_start" not in codes


@pytest.mark.parametrize("damage", ["delete the manifest", "garbage manifest", "unknown manifest column"])
def test_no_orphans_without_a_trustworthy_manifest(lab: Lab, damage: str) -> None:
    add_orphan(lab)
    DAMAGES[damage][0](lab)
    report = validate(lab.config)
    assert "orphan_parquet" not in {f.code for f in report.findings}
    apply_fixes(lab.config, report)
    assert len(list(lab.config.stage_root.glob("proc=*/date=*/run_id=*"))) == 8  # nothing deleted


@pytest.mark.parametrize("damage", ["delete the manifest", "garbage manifest"])
def test_a_lost_manifest_is_not_every_raw_file_waiting_to_be_staged(lab: Lab, damage: str) -> None:
    """Beside `manifest_unreadable`, validate listed every raw file as `raw_new` with the fix "stage them": a stage
    would read them all again, where `labtui repair` brings the runs back from the store."""
    DAMAGES[damage][0](lab)
    codes = {f.code for f in validate(lab.config).findings}
    assert DAMAGES[damage][1] in codes and "raw_new" not in codes


def test_content_change_with_same_size_and_mtime_needs_hash_all(lab: Lab) -> None:
    path = lab.raw / IT
    stat = path.stat()
    data = bytearray(path.read_bytes())
    data[-20] = ord("7") if data[-20] != ord("7") else ord("8")
    path.write_bytes(bytes(data))
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert "raw_changed" not in by_code(lab)  # cheap mode trusts size + mtime
    found = by_code(lab, hash_all=True)
    assert found["raw_changed"].items == [IT] and found["raw_changed"].restage == (IT,)
    # `validate --fix` alone trusts size and mtime too: it would not find the file to re-stage
    assert found["raw_changed"].fix == "re-stage them (`labtui validate --hash --fix`)"


@pytest.mark.parametrize(("length", "said"), [
    (16, "its data disagrees with its footer: column t_s holds -7.68"),  # decodes, to other numbers
    (60, "its data cannot be decoded: "),
])
def test_a_damaged_data_page_is_found_by_the_deep_check_and_fixed_by_restaging(
    lab: Lab, capsys, length: int, said: str
) -> None:
    damage_a_data_page(parquet_of(lab, IT), length)
    assert read_footer(parquet_of(lab, IT)).rows == lab.run_of(IT)["n_rows"]  # the footer does not show it
    assert validate(lab.config).ok
    found = by_code(lab, decode_all=True)
    assert list(found) == ["parquet_unreadable"] and found["parquet_unreadable"].restage == (IT,)
    assert said in found["parquet_unreadable"].items[0]
    assert main(lab.args("validate", "--deep")) == 1
    out = capsys.readouterr().out
    assert "runs whose Parquet file is unreadable: 1" in out and "7 hashed" in out
    assert main(lab.args("validate", "--deep", "--fix", "-q")) == 0
    assert validate(lab.config, hash_all=True, decode_all=True).findings == []
    assert pl.read_parquet(parquet_of(lab, IT)).height == lab.run_of(IT)["n_rows"]


def test_a_manifest_edited_by_hand_is_found_by_the_deep_check_and_fixed_by_restaging(lab: Lab, capsys) -> None:
    """A notebook put chip 67's run under chip 68 in the manifest: `validate --deep` said healthy, the history
    listed it under 68, and a `stage --force` quietly put it back."""
    edit_manifest(lab, lambda m: m.with_columns(chip_name=pl.when(pl.col("source_file") == IT).then(
        pl.lit("Alisson68")).otherwise("chip_name")))
    assert "manifest_unlike_record" not in by_code(lab)  # read from the records: the deep check alone
    found = by_code(lab, decode_all=True)["manifest_unlike_record"]
    assert found.severity == "error" and found.restage == (IT,)
    assert found.items == [f"{lab.run_of(IT)['run_id']} {IT}: chip_name 'Alisson68' in the manifest, 'Alisson67' in "
                           "its record"]
    assert main(lab.args("validate", "--deep", "--fix", "-q")) == 0
    assert lab.run_of(IT)["chip_name"] == "Alisson67"
    assert validate(lab.config, hash_all=True, decode_all=True).findings == []


def test_only_changed_raw_files_are_hashed(lab: Lab) -> None:
    os.utime(lab.raw / IT)
    assert validate(lab.config).stats["hashed"] == 1
    assert validate(lab.config, hash_all=True).stats["hashed"] == 7


def test_missing_raw_root_is_reported(tmp_path) -> None:
    lab = chip67_lab(tmp_path)
    shutil.rmtree(lab.raw)
    found = by_code(lab)
    assert found["raw_root_missing"].severity == "warning" and "raw_missing" not in found


def test_a_store_that_is_not_there_is_said_so(tmp_path, capsys: pytest.CaptureFixture[str]) -> None:
    """A misspelt --store validated as 'healthy' with 0 runs; it says there is no store there yet."""
    lab = Lab(tmp_path)
    lab.write_run("d/It2025-09-09_1.csv", "It", start=local("2025-09-09 10:00"))
    found = by_code(lab)
    assert found["store_missing"].severity == "warning" and found["store_missing"].items == [str(lab.store_root)]
    assert validate(lab.config).no_store
    assert main(lab.args("validate")) == 0
    assert capsys.readouterr().out.splitlines()[-1].startswith("no store here yet: 0 errors, 2 warnings")
    lab.stage()
    assert "store_missing" not in by_code(lab) and not validate(lab.config).no_store
    assert main(lab.args("validate")) == 0
    assert capsys.readouterr().out.splitlines()[-1].startswith("store healthy: 0 errors")


def test_an_active_writer_is_mentioned_and_its_marker_not_taken_for_an_interrupted_one(lab: Lab) -> None:
    """A stage running while `validate` looked showed "a writer was interrupted" beside "a writer is using the
    store": the `.dirty` marker was the running writer's own."""
    marker = lab.config.manifest_dir / DIRTY_MARKER
    lock = WriterLock(lab.config.lock_path, command="labtui stage")
    lock.acquire(0)
    try:
        marker.write_text(str(os.getpid()))
        found = by_code(lab)
        assert "labtui stage" in found["writer_active"].items[0] and "interrupted_writer" not in found
    finally:
        lock.release()
    assert by_code(lab)["interrupted_writer"].items == [str(marker)]  # left after the writer is gone: interrupted


def test_a_run_whose_raw_file_is_gone_cannot_be_restaged(lab: Lab) -> None:
    parquet_of(lab, IT).unlink()
    (lab.raw / IT).unlink()
    found = by_code(lab)
    assert not found["parquet_missing"].fixable and found["parquet_missing"].restage == ()


def test_items_are_capped_but_counts_and_targets_are_complete(tmp_path) -> None:
    lab = Lab(tmp_path)
    for k in range(60):
        start = local("2025-09-09 10:00").replace(minute=k % 60, second=k // 60)
        lab.write_run(f"d/It2025-09-09_{k}.csv", "It", start=start)
    lab.stage()
    for path in lab.config.stage_root.rglob("*.parquet"):
        path.unlink()
    finding = by_code(lab)["parquet_missing"]
    assert finding.count == 60 and len(finding.items) == 50 and len(finding.restage) == 60


# -- fixes ---------------------------------------------------------------------------------------------------------
def test_fix_round_trip_repairs_the_store_and_never_touches_raw_data(lab: Lab) -> None:
    for damage in ("delete a Parquet", "add an orphan folder", "add a raw file", "edit a raw file",
                   "an unreadable reject record", "an interrupted writer", "date_local in UTC"):
        DAMAGES[damage][0](lab)
    parquet_of(lab, IVG).write_bytes(b"broken")
    raw_before = sha_tree(lab.raw)
    before = validate(lab.config)
    assert not before.ok
    assert {f.code for f in before.fixable} >= {"parquet_missing", "parquet_unreadable", "orphan_parquet", "raw_new",
                                                "raw_changed", "reject_unreadable", "interrupted_writer",
                                                "date_local_mismatch"}
    done = apply_fixes(lab.config, before)
    assert done.lines and not done.cancelled
    after = validate(lab.config)
    assert after.ok and after.findings == [], [(f.code, f.items) for f in after.findings]
    assert sha_tree(lab.raw) == raw_before
    assert lab.manifest().height == 8
    assert pq.read_metadata(parquet_of(lab, IT)).num_rows == 32  # re-staged from the edited raw file


ADDRESSING_NO_RUN = ["run_id not 16 hex", "null run_id", "null proc", "proc not a safe name", "null date_local"]


@pytest.mark.parametrize("damage", ADDRESSING_NO_RUN)
def test_a_row_that_addresses_no_run_is_left_out_until_the_fix_restages_it(lab: Lab, tmp_path, capsys,
                                                                            damage: str) -> None:
    """A hand edit that leaves a row's run_id, proc or date_local unusable for a path: every command that builds run
    paths from the manifest leaves the row out (they ended in a traceback, `run_dir(None)`), a commit keeps it,
    its folder is set aside, never deleted, and `validate --fix` re-stages it."""
    record = read_footer(parquet_of(lab, IT)).run_id
    DAMAGES[damage][0](lab)
    lab.config.metrics_path.unlink()  # the stage's metrics update then reads every run back
    (lab.config.manifest_dir / ".dirty").write_text("1234")  # and it first sweeps the orphans
    out = tmp_path / "out"
    out.mkdir()
    for command in (["stage"], ["stage"], ["metrics"], ["chips"], ["history", "Alisson67"],
                    ["export", "metadata", "--out", str(out)], ["export", "histories", "--out", str(out)],
                    ["plot", "Alisson67", "--seq", "4", "--out", str(out / "it.png")], ["prune"]):
        assert main(lab.args(*command)) in (0, 2), (command, capsys.readouterr().err)
    assert "bug in labtui" not in capsys.readouterr().err
    assert open_store(lab.store_root).scan(chip="Alisson67").collect().height > 0
    lab.write_run("Alisson_09_sept/It2025-09-09_1.csv", "It", start=local("2025-09-09 10:00"))
    lab.stage()  # a commit of another run keeps the damaged row for validate to report
    assert lab.manifest().filter(pl.col("source_file") == IT).height == 1
    kept = list((lab.store_root / "_quarantine").glob(f"*/raw_measurements/proc=It/*/run_id={record}/*.parquet"))
    assert len(kept) == 1  # an orphan: set aside by the sweep, not deleted
    apply_fixes(lab.config, validate(lab.config))
    assert validate(lab.config).findings == []
    assert lab.run_of(IT)["run_id"] == record and parquet_of(lab, IT).is_file()


@pytest.mark.parametrize(("column", "value"), [("parameters", None), ("parameters", '{"VG": "0.3'),
                                               ("chip_name", None)])
def test_a_null_where_a_command_expects_a_value_is_a_missing_value(
    lab: Lab, tmp_path, capsys, column: str, value: str | None
) -> None:
    """A hand edit's null in a nullable column, or one no run path needs, that a command read as set (`json.loads`
    of the parameters, a file name from the chip's name): the value is missing, not a traceback. So are parameters
    that are no longer JSON."""
    first, alone = IVG, "Alisson_08_sept/IV2025-09-08_1.csv"  # Alisson67's first run; other67's only one
    edit_manifest(lab, lambda m: m.with_columns(
        pl.when(pl.col("source_file").is_in([first, alone])).then(pl.lit(value, dtype=pl.String))
        .otherwise(pl.col(column)).alias(column)))
    out = tmp_path / "out"
    out.mkdir()
    for command in (["validate"], ["chips"], ["export", "metadata", "--out", str(out)],
                    ["export", "histories", "--out", str(out)]):
        assert main(lab.args(*command)) in (0, 1), (command, capsys.readouterr().err)
    assert "bug in labtui" not in capsys.readouterr().err
    # named by another run's name, or (none left) the one its group and number make
    assert {path.name for path in out.glob("*_history.csv")} == {"Alisson67_history.csv", "other67_history.csv"}
    assert (out / "Alisson_05_sept" / "metadata.csv").is_file() and (out / "Alisson_08_sept" / "metadata.csv").is_file()


def test_a_fix_that_restages_says_nothing_of_folders_it_did_not_move(lab: Lab) -> None:
    """A re-stage checks for the old folders of runs whose date moved: with none, it said "moved 0 Parquet folders
    the manifest does not reference to None"."""
    DAMAGES["edit a raw file"][0](lab)
    done = apply_fixes(lab.config, validate(lab.config))
    assert done.lines and not [line for line in done.lines if "Parquet folder" in line or "None" in line], done.lines


def test_fix_with_a_stale_report_keeps_runs_committed_since(lab: Lab) -> None:
    folder = parquet_of(lab, IT).parent
    edit_manifest(lab, lambda m: m.filter(pl.col("source_file") != IT))  # as if a stager died before its commit
    report = validate(lab.config)
    assert report.findings[0].code == "orphan_parquet" and report.findings[0].items == [
        folder.relative_to(lab.config.stage_root).as_posix()
    ]
    lab.stage()  # commits the run: the folder the report calls an orphan is referenced again
    apply_fixes(lab.config, report)
    assert validate(lab.config).findings == []
    assert parquet_of(lab, IT).exists()


def test_changing_the_zone_is_repaired_by_restaging(lab: Lab) -> None:
    late = "Alisson_08_sept/It2025-09-08_2.csv"
    old_folder = parquet_of(lab, late).parent
    lab.configure(local_tz="UTC")
    found = by_code(lab)
    assert found["date_local_mismatch"].restage == (late,)
    apply_fixes(lab.config, validate(lab.config))
    assert validate(lab.config).findings == []
    assert not old_folder.exists() and parquet_of(lab, late).parent.parent.name == "date=2025-09-09"


def test_a_stage_after_the_zone_changed_moves_the_runs_and_leaves_no_folder_behind(lab: Lab) -> None:
    """A run whose local date moved was staged again into its new date's folder, and its old folder was left for
    `validate` to call an orphan. A plain stage does it, for the runs whose date moved alone: it said `0 staged` and
    left them on their old dates, which `validate` called an error whose fix (`restage FILE`) did nothing."""
    late = "Alisson_08_sept/It2025-09-08_2.csv"
    old_folder = parquet_of(lab, late).parent
    lab.configure(local_tz="UTC")
    waiting = pending_files(lab.config, lab.manifest())  # as the dashboard's card says it: "1 to re-date"
    assert waiting is not None and (waiting.files, waiting.again, waiting.redated) == ([late], 1, 1)
    report = lab.stage()
    assert (report.staged, report.staged_files, report.read_again) == (1, [late], 1)
    # said as the zone it is, not as "newer rules": one colleague's config re-dates everyone's store
    assert "1 staged (1 read again: 1 dated in UTC (local_tz), where the store's runs were dated in " \
           "America/Santiago: set local_tz back if that is the lab's zone)" in report.line()
    assert not old_folder.exists() and parquet_of(lab, late).parent.parent.name == "date=2025-09-09"
    assert validate(lab.config).findings == []
    assert lab.stage().staged == 0  # the stat index is of this zone now
    lab.configure(local_tz=None)  # back: the run goes back to its first date; a row of older rules, said apart
    older = lab.manifest().with_columns(extraction_rules=pl.when(pl.col("source_file") == IT).then(
        pl.lit(1, pl.Int64)).otherwise("extraction_rules"))
    write_manifest(older, lab.config.manifest_path)
    report = lab.stage()
    assert sorted(report.staged_files) == sorted([late, IT]) and parquet_of(lab, late).parent.parent.name == \
        "date=2025-09-08"
    assert "(2 read again: 1 dated in America/Santiago (local_tz), where the store's runs were dated in UTC: set " \
           "local_tz back if that is the lab's zone; 1 by newer rules)" in report.line()


def test_fix_waits_for_the_writer_lock(lab: Lab) -> None:
    add_orphan(lab)
    report = validate(lab.config)
    lock = WriterLock(lab.config.lock_path)
    lock.acquire(0)
    try:
        with pytest.raises(LockBusy):
            apply_fixes(lab.config, report)  # the lab's lock_timeout_seconds is 0
    finally:
        lock.release()
    assert "orphan_parquet" in by_code(lab)


def test_a_cancelled_fix_does_nothing(lab: Lab) -> None:
    add_orphan(lab)
    parquet_of(lab, IT).unlink()
    cancel = threading.Event()
    cancel.set()
    done = apply_fixes(lab.config, validate(lab.config), cancel=cancel)
    assert done.cancelled and done.lines == []
    assert {"orphan_parquet", "parquet_missing"} <= set(by_code(lab))


# -- the footer reader ---------------------------------------------------------------------------------------------
def test_read_footer_agrees_with_pyarrow_and_finds_the_record(lab: Lab, tmp_path) -> None:
    frames = {
        "wide": pl.DataFrame({f"c{k}": range(1000) for k in range(40)}),
        "nested": pl.DataFrame({"s": [{"a": 1, "b": [1, 2]}] * 7, "t": ["x"] * 7}),
        "empty": pl.DataFrame({"x": []}, schema={"x": pl.Float64}),
        "row groups": pl.DataFrame({"x": range(10_000)}),
    }
    paths = [lab.config.manifest_path, *lab.config.stage_root.rglob("*.parquet")]
    for name, frame in frames.items():
        path = tmp_path / f"{name}.parquet"
        frame.write_parquet(path, row_group_size=1000, statistics=True)
        paths.append(path)
    for path in paths:
        footer = read_footer(path)
        assert footer.rows == pq.read_metadata(path).num_rows, path
        staged = path.parent.name.removeprefix("run_id=") if path.parent.name.startswith("run_id=") else None
        assert footer.run_id == staged, path  # a run's Parquet names its run; any other Parquet has no record


@pytest.mark.parametrize("content", [b"", b"PAR1", b"PAR1" + b"\x00" * 20 + b"PAR1", b"x" * 100 + b"PAR1"])
def test_read_footer_rejects_garbage(tmp_path, content: bytes) -> None:
    path = tmp_path / "bad.parquet"
    path.write_bytes(content)
    with pytest.raises((ValueError, IndexError)):
        read_footer(path)


# -- CLI -----------------------------------------------------------------------------------------------------------
def test_cli_exit_codes_and_json(lab: Lab, capsys) -> None:
    assert main(lab.args("validate")) == 0
    assert "store healthy" in capsys.readouterr().out
    parquet_of(lab, IT).unlink()
    assert main(lab.args("validate")) == 1
    assert "runs whose Parquet file is missing: 1" in capsys.readouterr().out
    assert main(lab.args("validate", "--json")) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] is False and report["findings"][0]["code"] == "parquet_missing"
    assert report["findings"][0]["items"][0].endswith(IT)


def test_cli_says_once_that_fix_does_it(lab: Lab, capsys) -> None:
    """`fix: re-stage them (`labtui validate --fix`) (--fix does it)`: a fix that names `--fix` is not told it
    twice; one that does not, is."""
    for damage in ("edit a raw file", "duplicate manifest row"):
        DAMAGES[damage][0](lab)
    main(lab.args("validate"))  # its exit code is `test_cli_exit_codes_and_json`'s
    fixes = [line.strip() for line in capsys.readouterr().out.splitlines() if line.strip().startswith("fix:")]
    assert "fix: re-stage them (`labtui validate --fix`)" in fixes, fixes
    assert "fix: re-stage their raw files: the manifest keeps one row per run (--fix does it)" in fixes, fixes


def test_cli_fix(lab: Lab, capsys) -> None:
    add_orphan(lab)
    parquet_of(lab, IT).unlink()
    assert main(lab.args("validate", "--fix", "-q")) == 0
    out = capsys.readouterr().out
    assert "re-staged 1 file from" in out and "moved 1 Parquet folder the" in out and "store healthy" in out
    assert validate(lab.config).findings == []
    assert not run_dir(lab.config.stage_root, "It", lab.run_of(IT)["date_local"], "a" * 16).exists()
    kept = list((lab.store_root / "_quarantine").glob(f"*-orphan-runs/raw_measurements/proc=It/*/run_id={'a' * 16}"))
    assert len(kept) == 1 and (kept[0] / "part-000.parquet").is_file()  # set aside with its record, not deleted


# -- real data -----------------------------------------------------------------------------------------------------
@pytest.mark.realdata
def test_a_fresh_stage_of_the_real_data_passes(real_store, capsys) -> None:
    report = validate(real_store)
    assert report.ok
    assert {f.code: f.severity for f in report.findings} == {"incomplete": "info", "rejects": "warning"}
    assert report.stats["runs"] == 552 and report.stats["raw_files"] == 553
    assert validate(real_store, hash_all=True, decode_all=True).findings == report.findings  # no false alarm
    assert main(["validate", "--raw-root", str(real_store.raw_root), "--stage-root", str(real_store.stage_root)]) == 0


# -- the schema check, column by column, against the model row by row -----------------------------------------------
HOSTILE: dict[type[pl.DataType], list[object]] = {  # values a damaged or hand-edited manifest may hold, per dtype
    pl.String: [None, "", "XYZ", "0123456789ABCDEF", "0123456789abcdef", "a" * 70, "It 2", "é", "../x.csv"],
    pl.Int64: [None, -1, 0, 1, 2**62, -(2**62)],
    pl.Int32: [None, -1, 0, 3],
    pl.Float64: [None, float("nan"), float("inf"), -float("inf"), -1.0, 0.0, 455.0],
    pl.Boolean: [None, True, False],
    pl.Date: [None],
    pl.Datetime: [None],
}


@pytest.fixture(scope="module")
def manifest_frame(tmp_path_factory: pytest.TempPathFactory) -> pl.DataFrame:
    return chip67_lab(tmp_path_factory.mktemp("schema")).manifest()


def per_row_errors(frame: pl.DataFrame) -> list[tuple[int, str]]:
    """The reference: each row through `ManifestRow.model_validate`, its first error as the model reports it."""
    rows = frame.with_columns(pl.col(pl.Datetime).dt.to_string("%Y-%m-%dT%H:%M:%S%.f%:z")).iter_rows(named=True)
    errors = []
    for index, row in enumerate(rows):
        try:
            ManifestRow.model_validate(row)
        except ValidationError as exc:
            first = exc.errors()[0]
            errors.append((index, f"{'.'.join(map(str, first['loc']))}: {first['msg']}"))
    return errors


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_the_column_checks_find_the_rows_and_first_errors_the_model_finds(
    manifest_frame: pl.DataFrame, data: st.DataObject
) -> None:
    frame = manifest_frame
    for _ in range(data.draw(st.integers(1, 6))):
        column = data.draw(st.sampled_from(frame.columns))
        dtype = frame.schema[column]
        value = data.draw(st.sampled_from(HOSTILE[dtype.base_type()]))
        row = data.draw(st.integers(0, frame.height - 1))
        frame = frame.with_columns(pl.when(pl.int_range(pl.len()) == row).then(pl.lit(value, dtype))
                                   .otherwise(pl.col(column)).alias(column))
    assert _schema_errors(frame) == per_row_errors(frame)


def test_a_lab_registry_without_the_like_lines_is_said_with_the_lines_to_add(lab: Lab) -> None:
    """A lab's own registry copied before `like:` existed reads IVgT runs as a procedure of their own: no Dirac
    point. Validate names the runs and the line; with it added, `labtui metrics` gives them IVg's quantities."""
    params = {"VG start": "-2 V", "VG end": "2 V", "VG step": "0.1 V"}
    rows = data_rows(((v, 1e-6 * (1 + (v - 0.3) ** 2)) for v in sweep(-2, 2, 0.1, "loop")), len(COLUMNS["IVg"]))
    lab.write("2025-10-13/IVgT2025-10-13_1.csv", raw_csv("IVgT", params=params, rows=rows))
    own = default_registry_path().read_text(encoding="utf-8")
    registry = lab.root / "procedures.yaml"
    registry.write_text(own.replace("    like: IVg\n", ""), encoding="utf-8")
    lab.configure(procedures_file=registry)
    lab.stage()
    finding = by_code(lab)["registry_without_like"]
    assert finding.severity == "warning" and str(registry) in finding.title
    assert finding.items == ["IVgT: 1 run; add `like: IVg` to its entry"]
    assert main(lab.args("metrics", "--format", "json")) == 0
    registry.write_text(own, encoding="utf-8")
    assert "registry_without_like" not in by_code(lab)
    assert main(lab.args("metrics", "--out", str(lab.root / "m.json"), "--format", "json")) == 0
    ivgt = [row for row in json.loads((lab.root / "m.json").read_text()) if row["proc"] == "IVgT"]
    assert len(ivgt) == 1 and ivgt[0]["cnp_fwd_v"] == pytest.approx(0.3, abs=0.05)


def test_a_registry_that_does_not_load_is_said_and_a_stage_it_stops_leaves_no_marker(lab: Lab) -> None:
    """A broken registry passed a stage with nothing to read and `validate` ("store healthy"); the next stage with a
    file to read failed after marking the store dirty, and validate then sent the user back to that stage."""
    lab.write("2025-10-13/IVg2025-10-13_1.csv", raw_csv("IVg"))
    lab.stage()
    registry = lab.root / "procedures.yaml"
    registry.write_text(default_registry_path().read_text(encoding="utf-8") + "  Bogus: [\n", encoding="utf-8")
    lab.configure(procedures_file=registry)
    finding = by_code(lab)["registry_invalid"]
    assert finding.severity == "error" and finding.title == "the procedure registry does not load"
    assert finding.items[0].startswith(f"procedure registry {registry} is not valid YAML"), finding.items
    lab.write("2025-10-13/IVg2025-10-13_2.csv", raw_csv("IVg", start=epoch(2025, 10, 13, 12)))
    with pytest.raises(ConfigError, match="not valid YAML"):
        lab.stage()
    assert not (lab.config.manifest_dir / DIRTY_MARKER).exists()
    assert set(by_code(lab)) == {"registry_invalid", "raw_new"}
    # nor a first stage, which records the raw folder's identity first (a marker, then the identity file)
    first = Lab(lab.root / "first", raw=lab.raw, procedures_file=registry)
    with pytest.raises(ConfigError, match="not valid YAML"):
        first.stage()
    assert not (first.config.manifest_dir / DIRTY_MARKER).exists()
