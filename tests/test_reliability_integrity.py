"""Everyday mistakes that must neither pollute the store nor end in a traceback (issue 14): the wrong raw root, the
wrong store folder, a damaged manifest, operating-system errors, pasted paths, foreign files, loose parser rules.

CLI behaviour is checked in real subprocesses (exit codes and one-line messages are the promise); the engine in
process where that is enough.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import resource
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import polars as pl
import pyarrow.dataset as pads
import pytest

from labtui.cli import main
from labtui.core import manifest as manifest_module
from labtui.core.config import StagingConfig
from labtui.core.errors import ExitCode
from labtui.core.layout import run_parquet_path
from labtui.core.manifest import ManifestDamaged, ManifestNewer, read_manifest
from labtui.core.parquet_footer import read_run_record
from labtui.core.registry import load_registry
from labtui.core.repair import repair
from labtui.core.scan import Waiting, pending_files
from labtui.core.validate import validate
from tests.lab import (
    IT_COLUMNS,
    OLD_MTIME,
    REAL_RAW,
    Lab,
    cli_env,
    data_rows,
    default_rows,
    it_rows,
    ivg_rows,
    put,
    raw_csv,
    render_run,
    staged_once,
)
from tests.promises import empty_folders, store_bytes, temp_files, tree_listing

FILES = ("d1/IVg2025-09-15_1.csv", "d1/It2025-09-15_2.csv", "d2/IV2025-09-16_1.csv", "d2/IVg2025-09-16_2.csv")


@pytest.fixture
def lab(tmp_path: Path) -> Lab:
    return staged_once(four_runs_lab, tmp_path / "lab")


def four_runs_lab(root: Path) -> Lab:
    """The FILES, each a run of its procedure, staged."""
    lab = Lab(root)
    for index, rel in enumerate(FILES):
        put(
            lab.raw / rel,
            render_run(rel.split("/")[1].split("2025")[0], file_idx=index + 1, start_utc=1757947090.0 + 1000 * index)[
                1
            ],
            OLD_MTIME,
        )
    lab.stage()
    return lab


def one_line_error(result: subprocess.CompletedProcess[str], code: int, *needles: str) -> None:
    assert result.returncode == code, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1, result.stderr
    for needle in needles:
        assert needle in result.stderr, result.stderr


def manifest_rows(lab: Lab) -> pl.DataFrame:
    return read_manifest(lab.config.manifest_path).sort("run_id")


# -- 1. the store knows its raw root -------------------------------------------------------------------------------
def test_staging_from_a_sub_folder_or_another_folder_is_refused(lab: Lab, tmp_path: Path) -> None:
    before = manifest_rows(lab)
    sub = lab.cli("stage", "--raw-root", str(lab.raw / "d1"))
    one_line_error(sub, 2, str(lab.raw.absolute()), str((lab.raw / "d1").absolute()), "sub-folder")
    other = tmp_path / "other-lab"
    put(other / "IVg2025-01-01_1.csv", render_run("IVg")[1], OLD_MTIME)
    one_line_error(lab.cli("stage", "--raw-root", str(other)), 2, str(other), "another folder")
    assert manifest_rows(lab).equals(before)


def test_the_folder_holding_the_raw_root_or_the_store_swapped_is_refused_with_what_to_do(lab: Lab) -> None:
    """Staged from raw/d1, then from raw: `it contains the store's raw root`, and nothing to do next. The raw root
    and the store swapped: `no labtui store at raw … stage into it first`, a stage that is then refused."""
    sub = Lab(lab.root, raw_root="raw/d1", stage_root="d1store/raw_measurements")
    assert sub.cli("stage").returncode == 0
    one_line_error(sub.cli("stage", "--raw-root", str(lab.raw)), 2, "contains the store's raw root: to stage the "
                   "whole tree, stage it into a new store (--store NEW_FOLDER)")
    for command in (("history", "67"), ("stage",)):
        one_line_error(lab.cli(*command, "--raw-root", str(lab.store_root), "--store", str(lab.raw)), 2,
                       f"--raw-root {lab.store_root} is a labtui store, and {lab.raw} is not: were the raw folder "
                       "and the store swapped?")
    for folder in (lab.raw, lab.raw / "d1"):  # the raw folder, or a day's, given as the store alone: what it is
        one_line_error(lab.cli("history", "67", "--store", str(folder)), 2, f"no labtui store at {folder}: it holds "
                       f"raw measurement files (.csv), so give it as --raw-root, and the store as --store (`labtui "
                       f"stage --raw-root {folder} --store STORE`)")
    exports = lab.root / "project"  # a folder of exported histories is CSV too, and no raw tree
    (exports / "histories").mkdir(parents=True)
    (exports / "histories" / "Alisson67.csv").write_text("seq,date,proc\n1,2025-10-13,It\n")
    one_line_error(lab.cli("history", "67", "--store", str(exports)), 2, f"no labtui store at {exports} (it has no "
                   "_manifest/ folder): check the path")


def test_a_moved_raw_tree_keeps_its_run_ids_with_the_explicit_flag(lab: Lab, tmp_path: Path) -> None:
    before = manifest_rows(lab)
    moved = tmp_path / "moved-raw"
    shutil.move(lab.raw, moved)
    one_line_error(lab.cli("stage", "--raw-root", str(moved)), 2, "--raw-root-moved")
    result = lab.cli("stage", "--raw-root", str(moved), "--raw-root-moved")
    assert result.returncode == 0 and "0 staged" in result.stdout, result.stderr
    assert manifest_rows(lab)["run_id"].to_list() == before["run_id"].to_list()
    assert lab.cli("stage", "--raw-root", str(moved)).returncode == 0  # recorded: no flag needed any more


def test_a_lab_folder_moved_or_copied_whole_stages_without_the_flag(lab: Lab, tmp_path: Path) -> None:
    """Raw root and store where they were relative to each other (the config's relative paths): the run_ids are the
    same, so no --raw-root-moved is asked for, nothing is staged again, and the new paths are recorded."""
    before = manifest_rows(lab)["run_id"].to_list()
    moved = tmp_path / "new-disk" / "lab"
    shutil.move(lab.root, moved)
    copied = tmp_path / "colleague" / "lab"
    shutil.copytree(moved, copied)  # modification times kept, as a copy to another PC keeps them
    for root in (moved, copied):
        there = Lab(root)
        result = there.cli("stage")
        assert result.returncode == 0 and "0 staged, 4 unchanged" in result.stdout, result.stderr
        assert manifest_rows(there)["run_id"].to_list() == before
        identity = json.loads((there.store_root / "_manifest" / "store.json").read_text(encoding="utf-8"))
        assert (identity["raw_root"], identity["store_root"]) == (str(root / "raw"), str(root / "store"))
    sub_folder = Lab(copied, raw_root="raw/d1")  # a sub-folder is not where the raw root was: still refused
    one_line_error(sub_folder.cli("stage"), 2, "sub-folder")


def test_a_store_recorded_by_an_older_labtui_learns_its_place_and_keeps_asking_when_moved(lab: Lab,
                                                                                         tmp_path: Path) -> None:
    """An older store.json has no store path: the raw root alone decides, as it did; the next stage records both."""
    identity_file = lab.store_root / "_manifest" / "store.json"
    older = {key: value for key, value in json.loads(identity_file.read_text(encoding="utf-8")).items()
             if key != "store_root"}
    identity_file.write_text(json.dumps(older), encoding="utf-8")
    moved = Lab(shutil.move(lab.root, tmp_path / "moved"))
    one_line_error(moved.cli("stage"), 2, "--raw-root-moved")
    back = Lab(shutil.move(moved.root, lab.root))
    assert back.cli("stage").returncode == 0
    recorded = json.loads(identity_file.read_text(encoding="utf-8"))
    assert recorded["store_root"] == str(lab.store_root.absolute()) and recorded["raw_root"] == older["raw_root"]


def test_a_store_whose_record_is_lost_says_so_where_its_raw_folder_is_asked_for(lab: Lab, tmp_path: Path,
                                                                               monkeypatch, capsys) -> None:
    """store.json truncated (or deleted): `stage --store` named the config's default `data/01_raw`, a folder the
    user never gave, and validate and repair said nothing of the record."""
    identity = lab.store_root / "_manifest" / "store.json"
    identity.write_text("{", encoding="utf-8")
    lab.config_file.unlink()  # no config: the store alone
    monkeypatch.chdir(tmp_path)
    lost = f"(the store's record of its raw folder, {identity}, is missing or damaged: give --raw-root once"
    assert main(["stage", "--store", str(lab.store_root)]) == 2
    assert lost in capsys.readouterr().err
    main(["validate", "--store", str(lab.store_root)])
    assert lost in " ".join(capsys.readouterr().out.split())
    assert main(["stage", "--store", str(lab.store_root), "--raw-root", str(lab.raw)]) == 0
    assert json.loads(identity.read_text(encoding="utf-8"))["raw_root"] == str(lab.raw.absolute())
    assert main(["stage", "--store", str(lab.store_root)]) == 0  # the record again: the store alone will do


@pytest.mark.parametrize("stage_dir", ["{elsewhere}/raw_measurements", "..", "sub/raw_measurements"])
def test_a_store_record_naming_a_stage_folder_outside_the_store_is_not_followed(lab: Lab, tmp_path: Path,
                                                                                stage_dir: str) -> None:
    """store.json edited by hand to a stage_dir that is not one folder name: an absolute one made `stage --store`
    start a new store in that folder (writing outside the store given) while `history` found no store at all, and
    `..` refused the store as inside itself. The record is unreadable, as a garbled one is: the next stage records
    it again."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    identity = lab.store_root / "_manifest" / "store.json"
    recorded = json.loads(identity.read_text(encoding="utf-8"))
    identity.write_text(json.dumps({**recorded, "stage_dir": stage_dir.format(elsewhere=elsewhere)}), encoding="utf-8")
    before = manifest_rows(lab)
    staged = lab.cli("stage", "--force")
    assert staged.returncode == 0 and f"{len(FILES)} staged" in staged.stdout, staged.stderr
    assert list(elsewhere.iterdir()) == [] and manifest_rows(lab)["run_id"].equals(before["run_id"])
    assert json.loads(identity.read_text(encoding="utf-8"))["stage_dir"] == "raw_measurements"
    listed = lab.cli("history", "67")
    assert listed.returncode == 0, listed.stderr


@pytest.mark.parametrize("how", ["record_edited", "folder_moved"])
def test_a_store_whose_runs_folder_is_not_there_is_not_staged_into(lab: Lab, tmp_path: Path, how: str) -> None:
    """store.json edited to `"stage_dir": "foo"`, or `raw_measurements/` moved away: a stage put a changed run in a
    new folder and left the others where they were (or orphaned), and the recipes read the old run: a store split in
    two, unsaid. It is refused, and said."""
    identity = lab.store_root / "_manifest" / "store.json"
    if how == "record_edited":
        recorded = json.loads(identity.read_text(encoding="utf-8"))
        identity.write_text(json.dumps({**recorded, "stage_dir": "foo"}), encoding="utf-8")
        runs = lab.store_root / "foo"
    else:
        runs = lab.config.stage_root
        runs.rename(tmp_path / "moved")
    lab.write("d3/IVg2025-09-17_1.csv", raw_csv("IVg", start=1758110000))  # a file to stage
    before = tree_listing(lab.store_root)
    refused = lab.cli("stage", "--store", str(lab.store_root))
    assert refused.returncode == 2 and refused.stderr.splitlines() == [
        f"labtui: the store {lab.store_root} lists runs in {runs}, which is not there (the folder moved or deleted, "
        "or its _manifest/store.json edited?): mend it, or `labtui validate` lists what is missing"], refused.stderr
    assert tree_listing(lab.store_root) == before


def test_prune_lists_runs_whose_raw_file_is_gone_and_drops_them_only_when_confirmed(lab: Lab) -> None:
    (lab.raw / FILES[0]).unlink()
    dry = lab.cli("prune")
    assert dry.returncode == 0 and FILES[0] in dry.stdout and "--yes" in dry.stdout, dry.stderr
    assert manifest_rows(lab).height == len(FILES)
    done = lab.cli("prune", "--yes")
    assert done.returncode == 0 and "dropped 1 run" in done.stdout, done.stderr
    assert FILES[0] not in manifest_rows(lab)["source_file"].to_list()
    assert list((lab.store_root / "_quarantine").rglob("part-000.parquet")), "the dropped Parquet was deleted"
    assert lab.cli("validate").returncode == 0


def test_prune_says_a_run_staged_from_a_recycle_bin_is_there_unscanned_not_gone(lab: Lab) -> None:
    """A run staged from `#recycle/` before such folders were passed over was listed as "raw file gone", though
    its file is there: where no scan looks."""
    binned = f"#recycle/{FILES[0]}"
    (lab.raw / binned).parent.mkdir(parents=True)
    (lab.raw / FILES[0]).rename(lab.raw / binned)
    manifest = manifest_rows(lab).with_columns(pl.col("source_file").replace(FILES[0], binned))
    manifest.write_parquet(lab.config.manifest_path)
    dry = lab.cli("prune")
    assert dry.returncode == 0 and "in #recycle/, a recycle bin or snapshot folder labtui does not scan" in dry.stdout
    assert "raw file gone" not in dry.stdout, dry.stdout


def test_prune_of_a_run_whose_parquet_is_gone_too_names_no_folder(lab: Lab) -> None:
    """With nothing left to quarantine, prune said "their Parquet and records are in None"."""
    (lab.raw / FILES[0]).unlink()
    for part in lab.config.stage_root.glob("proc=*/date=*/run_id=*/part-000.parquet"):
        if FILES[0] in part.read_bytes().decode("latin-1"):  # its run record names its raw file
            shutil.rmtree(part.parent)
    done = lab.cli("prune", "--yes")
    assert done.returncode == 0 and "dropped 1 run (no Parquet of theirs to set aside)" in done.stdout, done.stdout
    assert "None" not in done.stdout


def test_prune_drops_a_gone_files_run_whose_run_id_a_hand_edit_made_null(lab: Lab) -> None:
    """Prune listed the run (its raw file gone) and then, dropping by run_id, dropped 0 runs and kept the row."""
    nulled = pl.when(pl.col("source_file") == FILES[0]).then(None).otherwise("run_id")
    manifest_rows(lab).with_columns(run_id=nulled).write_parquet(lab.config.manifest_path)
    (lab.raw / FILES[0]).unlink()
    done = lab.cli("prune", "--yes")
    assert done.returncode == 0 and "dropped 1 run" in done.stdout, (done.stdout, done.stderr)
    assert FILES[0] not in manifest_rows(lab)["source_file"].to_list()
    assert manifest_rows(lab).height == len(FILES) - 1


def test_repair_after_a_prune_does_not_call_the_pruned_run_lost(lab: Lab) -> None:
    """The kept manifest (the one prune replaced) still lists the pruned run: a later repair reported it "lost …
    (re-stage them from the raw files)", a raw file the lab had deleted on purpose."""
    (lab.raw / FILES[0]).unlink()
    assert lab.cli("prune", "--yes").returncode == 0
    lab.config.manifest_path.write_bytes(b"garbage")
    done = lab.cli("repair")
    assert done.returncode == 0, done.stderr
    assert "whose Parquet is gone" not in done.stdout and "nothing is lost" in done.stdout, done.stdout
    assert FILES[0] not in manifest_rows(lab)["source_file"].to_list()


def test_repair_still_calls_a_run_lost_that_was_pruned_and_then_staged_again(lab: Lab) -> None:
    """A raw file back after `prune --yes` is staged again under the same run_id: the quarantine still holds its
    old copy, and a repair that later finds its Parquet gone said nothing was lost (the prune predates it)."""
    raw = (lab.raw / FILES[0]).read_bytes()
    (lab.raw / FILES[0]).unlink()
    assert lab.cli("prune", "--yes").returncode == 0
    put(lab.raw / FILES[0], raw, OLD_MTIME)  # the file was only away: back, and staged again
    assert lab.stage() is not None and FILES[0] in manifest_rows(lab)["source_file"].to_list()
    run_id = manifest_rows(lab).filter(pl.col("source_file") == FILES[0])["run_id"][0]
    put(lab.raw / "d3/IVg2025-09-17_1.csv", render_run("IVg", file_idx=9, start_utc=1757947090.0 + 9000)[1],
        OLD_MTIME)
    lab.stage()  # another commit: the manifest that lists the run again is now a kept one
    shutil.rmtree(next(lab.stage_root.rglob(f"run_id={run_id}")))  # its Parquet lost
    lab.config.manifest_path.write_bytes(b"garbage")
    done = lab.cli("repair")
    assert done.returncode == 0, done.stderr
    assert f"{run_id} {FILES[0]}" in done.stdout, done.stdout


def test_a_link_to_the_raw_root_or_the_store_is_the_same_folder(lab: Lab, tmp_path: Path) -> None:
    """`--raw-root <a link to it>` was refused as another raw root, and `--store <a link to it>` rewrote the store's
    record of where it is on every switch between the two names."""
    (tmp_path / "raw-link").symlink_to(lab.raw)
    (tmp_path / "store-link").symlink_to(lab.store_root)
    identity = lab.store_root / "_manifest" / "store.json"
    recorded = identity.read_bytes()
    for args in (("--raw-root", str(tmp_path / "raw-link")), ("--store", str(tmp_path / "store-link")), ()):
        result = lab.cli("stage", *args)
        assert result.returncode == 0, result.stderr
        assert identity.read_bytes() == recorded, args


def test_raw_root_moved_refuses_a_root_that_holds_none_of_the_staged_files(lab: Lab) -> None:
    """A sub-folder given with --raw-root-moved staged its files again under new run_ids (their relative paths
    changed), beside the old runs: every chip's history held its runs twice, and validate said healthy."""
    before = manifest_rows(lab)
    sub = (lab.raw / FILES[0]).parent
    one_line_error(lab.cli("stage", "--raw-root", str(sub), "--raw-root-moved"), 2,
                   "--raw-root-moved is for the same raw tree in a new place")
    assert manifest_rows(lab).equals(before)


def test_a_first_stage_from_a_mistyped_empty_folder_does_not_bind_the_store_to_it(empty: Lab, tmp_path: Path) -> None:
    """`stage --raw-root emptyraw` said "no raw files" and recorded emptyraw as the new store's raw root; the right
    folder was then refused as "another lab's data" until --raw-root-moved, though the store held no run."""
    typo = tmp_path / "emptyraw"
    typo.mkdir()
    assert empty.cli("stage", "--raw-root", str(typo)).returncode == 0
    empty.write("a/It2025-10-14_1.csv", raw_csv("It"), mtime=OLD_MTIME)
    result = empty.cli("stage", "--json")
    assert result.returncode == 0 and json.loads(result.stdout)["staged"] == 1, result.stderr
    one_line_error(empty.cli("stage", "--raw-root", str(typo)), 2, "was built from the raw root")  # it holds a run now


def test_a_copied_project_whose_raw_folder_is_missing_never_stages_the_originals(lab: Lab, tmp_path: Path) -> None:
    """With its own raw folder renamed, a copy of the project staged the original's raw tree (recorded in the copied
    store), recorded it as its own, and validate called it healthy."""
    copy = Lab(Path(shutil.copytree(lab.root, tmp_path / "copy", symlinks=True)))
    (copy.raw).rename(copy.root / "raw_renamed")
    lab.write("new/It2025-10-20_1.csv", raw_csv("It", start=1760971999), mtime=OLD_MTIME)  # in the original only
    result = copy.cli("stage")
    assert result.returncode == 2 and str(copy.raw) in result.stderr, result.stderr
    assert manifest_rows(copy).height == len(FILES)


def test_prune_refuses_a_raw_root_that_would_drop_runs_whose_files_are_elsewhere(lab: Lab, tmp_path: Path) -> None:
    """`stage` refuses a sub-folder of the raw root; `prune --yes` took it and dropped every run outside it. An
    unmounted share (its mount point an empty folder) dropped them all."""
    sub = (lab.raw / FILES[0]).parent
    one_line_error(lab.cli("prune", "--yes", "--raw-root", str(sub)), 2, "sub-folder of the store's raw root")
    for validating in (("validate",), ("validate", "--fix")):  # it said `store healthy` and advised both refused
        one_line_error(lab.cli(*validating, "--raw-root", str(sub)), 2, "sub-folder of the store's raw root")
    away = tmp_path / "away"
    shutil.move(lab.raw, away)
    lab.raw.mkdir()  # the share unmounted: its mount point is an empty folder
    one_line_error(lab.cli("prune", "--yes"), 2, "no staged run's raw file is under")
    assert manifest_rows(lab).height == len(FILES)


def _file_size_limited(limit: int) -> Callable[[], None]:
    """A subprocess whose files cannot grow past `limit` bytes: its writes fail with EFBIG (SIGXFSZ ignored), as a
    full disk's fail with ENOSPC, through the same code (a tmpfs to fill needs privileges CI may lack)."""
    def limited() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    return limited


@pytest.mark.parametrize(("command", "operation"), [
    (("repair",), "cannot write the manifest"),
    (("metrics", "--rebuild"), "cannot write the metrics table"),
    (("plot", "--seq", "1", "--out", "fig.pdf"), "cannot write the figure"),
    (("export", "histories", "--out", "histories"), "cannot write the chip histories to"),
])
def test_a_write_the_disk_refuses_is_one_line_naming_it_and_nothing_half_written(lab: Lab, command: tuple[str, ...],
                                                                                  operation: str) -> None:
    """A full disk under Polars' writer was its own error ("os error 28", "Invalid thrift: transport error"): a
    traceback and exit 70 from `stage`, `repair` and `metrics`, a bare "operating-system error" from `export`."""
    if command[0] == "repair":
        lab.config.manifest_path.write_bytes(lab.config.manifest_path.read_bytes()[:100])  # repair has work
    if command[0] == "plot":  # matplotlib's first run writes its font cache: here, not cut short by the limit
        import matplotlib.font_manager  # noqa: F401
    args = (*command[:1], "67", "--group", "Alisson", *command[1:]) if command[0] == "plot" else command
    before = store_bytes(lab.store_root)
    argv = [sys.executable, "-m", "labtui", *args, "--config", str(lab.config_file)]  # after `export histories`
    result = subprocess.run(argv, cwd=lab.root, env=cli_env(), capture_output=True, text=True, check=False,
                            preexec_fn=_file_size_limited(600))
    one_line_error(result, 74, operation, "File too large")
    assert temp_files(lab.store_root) == [] and not list(lab.root.glob("fig.pdf*")) and \
        not list(lab.root.glob("histories/*.csv"))
    if command[0] != "repair":
        assert store_bytes(lab.store_root) == before


def test_a_reject_record_the_disk_refuses_is_one_line_naming_it(lab: Lab) -> None:
    """Was "operating-system error: No space left on device", naming no file."""
    put(lab.raw / "IVg2025-09-15_9.csv", b"#Procedure: <laser_setup.procedures.IVg.IVg>\r\n#Parameters:\r\n", OLD_MTIME)
    argv = [sys.executable, "-m", "labtui", "stage", "--config", str(lab.config_file)]
    result = subprocess.run(argv, cwd=lab.root, env=cli_env(), capture_output=True, text=True, check=False,
                            preexec_fn=_file_size_limited(300))
    one_line_error(result, 74, "cannot write the reject record", "_rejects", "File too large")
    assert temp_files(lab.store_root) == []


# -- 2. one store, named everywhere --------------------------------------------------------------------------------
def test_the_store_is_found_from_its_folder_or_its_stage_root(lab: Lab) -> None:
    for flag, path in (("--store", lab.store_root), ("--stage-root", lab.store_root), ("--stage-root", lab.stage_root)):
        result = subprocess.run(
            [sys.executable, "-m", "labtui", "chips", "--raw-root", str(lab.raw), flag, str(path), "--format", "json"],
            cwd=lab.root,
            env=cli_env(),
            capture_output=True,
            text=True,
            check=False,
        )
        assert result.returncode == 0 and "Alisson" in result.stdout, (flag, path, result.stderr)
    assert not (lab.store_root / "raw_measurements" / "_manifest").exists(), "a store was nested in the store"


@pytest.mark.parametrize("where", ["file", "stranger_folder", "inside_store", "typo"])
def test_a_path_that_is_no_store_is_refused_and_nothing_is_created(lab: Lab, tmp_path: Path, where: str) -> None:
    target = {
        "file": tmp_path / "notes.txt",
        "stranger_folder": tmp_path / "documents" / "raw_measurements",
        "inside_store": lab.stage_root / "proc=IVg" / "raw_measurements",
        "typo": lab.store_root / "raw_measurments",
    }[where]
    if where == "file":
        target.write_text("not a store")
    if where == "stranger_folder":
        target.parent.mkdir()
        (target.parent / "thesis.tex").write_text("")
    listing = sorted(str(path) for path in tmp_path.rglob("*"))
    for command in ("stage", "chips"):
        one_line_error(lab.cli(command, "--stage-root", str(target)), 2)
    assert sorted(str(path) for path in tmp_path.rglob("*")) == listing


@contextlib.contextmanager
def small_disk(folder: Path, size: str) -> Iterator[Path]:
    """`folder` (made) as a tmpfs of `size` for the test's span; skipped where it cannot be mounted (not root)."""
    folder.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0 or subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)],
                                           capture_output=True, check=False).returncode:
        pytest.skip("cannot mount a small tmpfs here")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], capture_output=True, check=False)


def write_long_it_runs(raw: Path, count: int) -> None:
    """`count` It runs of 4,000 samples each: ~25 kB of Parquet apiece, to fill a small disk."""
    rows = [f"{i * 0.1!r},{1e-6 + i * 1e-9!r},{1.0!r},nan,nan,nan" for i in range(4000)]
    for index in range(count):
        put(raw / f"It2025-10-14_{index}.csv",
            raw_csv("It", start=1760371684 + index, rows=rows, params={"Laser ON+OFF period": "260 s"}), OLD_MTIME)


def test_a_full_stage_root_on_another_filesystem_leaves_no_temp_file(tmp_path: Path) -> None:
    """With the stage root on a filesystem of its own, temp files are written beside their targets, inside the
    dataset (a rename cannot cross filesystems): a failed stage removes them at once, not only the staging area's."""
    lab = Lab(tmp_path / "lab", workers=1)
    with small_disk(lab.stage_root, "300k"):
        write_long_it_runs(lab.raw, 40)
        (lab.store_root / "_manifest").mkdir()  # a store already, so that the stage root is not made in its place
        one_line_error(lab.cli("stage"), 74, "No space left on device")
        assert not temp_files(lab.store_root) and not empty_folders(lab.stage_root)


def test_runs_written_after_another_chunk_failed_leave_no_temp_file(tmp_path: Path) -> None:
    """A chunk that fails on a full disk frees its space; the chunk queued behind it then writes its runs, which no
    commit publishes now. Their temp files, beside their targets on a stage root of its own, went unremoved."""
    lab = Lab(tmp_path / "lab", workers=1)
    with small_disk(lab.stage_root, "300k"):
        noise = random.Random(7)
        for index in range(5):  # the first chunk (a MiB of raw bytes): more Parquet than the disk holds
            rows = [f"{i * 0.1!r},{noise.random()!r},{noise.random()!r},nan,nan,nan" for i in range(4000)]
            put(lab.raw / f"It2025-10-14_a{index:02}.csv",
                raw_csv("It", start=1760371684 + index, rows=rows, params={"Laser ON+OFF period": "260 s"}), OLD_MTIME)
        for index in range(16):  # the second: a few rows each, which fit once the first chunk's temps are gone
            put(lab.raw / f"It2025-10-14_b{index:02}.csv",
                raw_csv("It", start=1760381684 + index, rows=it_rows(10), params={"Laser ON+OFF period": "260 s"}),
                OLD_MTIME)
        (lab.store_root / "_manifest").mkdir()
        one_line_error(lab.cli("stage"), 74, "No space left on device")
        assert not temp_files(lab.store_root) and not empty_folders(lab.stage_root)  # nor their run folders


def test_a_disk_that_fills_under_polars_writer_is_said_full_not_a_bug(tmp_path: Path, real_raw: Path) -> None:
    """With a few hundred KiB left, Polars' Parquet writer failed as `Invalid thrift: transport error`, naming no
    OS error: `stage` printed a traceback and exit 70 in four runs of five (real files, a 3 MiB disk)."""
    with small_disk(tmp_path / "disk", "3m") as disk:
        lab = Lab(tmp_path / "lab", raw=real_raw / "Alisson_23_sept", stage_root=disk / "store" / "raw_measurements")
        for filler_kib in (2820, 2900, 2980):
            (disk / "filler").write_bytes(bytes(filler_kib << 10))
            one_line_error(lab.cli("stage"), 74, "No space left on device")
            assert not temp_files(disk)


def test_readers_name_the_store_they_looked_in(tmp_path: Path) -> None:
    """A user in the wrong folder was told "no rejected files"."""
    empty = Lab(tmp_path)
    for command in ("rejects", "chips"):  # no store there at all: said so, as every reader says it (`chips` had
        # said "no chip runs staged yet", exit 0, where `history` said there is no store)
        result = empty.cli(command)
        assert result.returncode == 2 and result.stderr == (f"labtui: no labtui store at {empty.store_root}: stage "
                                                            "the raw files first (`labtui stage`), or name the store "
                                                            "(--store DIR)\n"), command
    empty.config.stage_root.mkdir(parents=True)  # a store of no runs yet
    result = empty.cli("chips")
    assert result.returncode == 0 and f"no chip runs staged yet in {empty.store_root}" in result.stdout


# -- 3. the manifest can always be rebuilt from the store alone ----------------------------------------------------
DAMAGES = {
    "truncated": lambda path: path.write_bytes(path.read_bytes()[: path.stat().st_size // 2]),
    "deleted": lambda path: path.unlink(),
    "garbled": lambda path: path.write_bytes(b"PAR1" + os.urandom(3000) + b"PAR1"),
    "a folder": lambda path: (path.unlink(), path.mkdir(), (path / "part-0.parquet").write_bytes(b"?")),
    "another table": lambda path: pl.DataFrame({"a": [1, 2]}).write_parquet(path),
    "a column retyped": lambda path: pl.read_parquet(path).with_columns(pl.col("n_rows").cast(pl.String))
    .write_parquet(path),
}


@pytest.mark.parametrize("damage", DAMAGES)
def test_repair_rebuilds_a_damaged_manifest_without_the_raw_files(lab: Lab, damage: str) -> None:
    (lab.raw / "d1" / "It2025-09-15_2.csv").write_bytes(raw_csv("It", params={"Chip number": "67"}))
    lab.stage()  # a second commit: the first manifest is now a kept one
    before = manifest_rows(lab)
    annotations = lab.store_root / "_annotations" / "notes.json"
    annotations.parent.mkdir()
    annotations.write_text('{"67": "cracked"}')
    shutil.rmtree(lab.raw)
    lab.raw.mkdir()  # the raw files are gone (the folder is there, so `stage` gets as far as the store)
    DAMAGES[damage](lab.config.manifest_path)
    for command in ("chips", "stage", "validate"):
        result = lab.cli(command, *(["--force"] if command == "stage" else []))
        assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
        assert "labtui repair" in result.stderr + result.stdout
        assert damage != "a column retyped" or command == "validate" or "n_rows is String, not Int64" in result.stderr
    one_line_error(lab.cli("history", "67"), 1, "labtui repair")
    repaired = lab.cli("repair")
    assert repaired.returncode == 0 and f"restored {before.height} runs" in repaired.stdout, repaired.stderr
    assert "nothing is lost" in repaired.stdout
    assert manifest_rows(lab).equals(before)
    assert annotations.read_text() == '{"67": "cracked"}'
    assert "nothing to repair" in lab.cli("repair").stdout


def test_a_manifest_a_newer_labtui_wrote_is_neither_rebuilt_nor_rewritten(lab: Lab) -> None:
    """Two PCs on one share, one upgraded: a manifest of a higher schema_version with a column this labtui does not
    know. validate sent the lab to `repair`, repair found it readable, and the next stage rewrote it without that
    column (its rows still saying the newer schema)."""
    path = lab.config.manifest_path
    lab.write("d1/It2025-09-15_9.csv", raw_csv("It", start=1757950000), mtime=OLD_MTIME)  # work for a stage
    newer = pl.read_parquet(path).with_columns(schema_version=pl.lit(2, pl.Int64), newer=pl.lit("x"))
    # a column of another type too: it read as damage, and repair rebuilt the manifest without the newer column
    for manifest in (newer, newer.with_columns(pl.col("n_rows").cast(pl.Int32))):
        manifest.write_parquet(path)
        written = path.read_bytes()
        for command in ("stage", "validate", "repair", "chips"):
            one_line_error(lab.cli(command), 1, f"the manifest {path} was written by a newer labtui (manifest schema "
                                                "2; this labtui knows 1): upgrade labtui")
        assert path.read_bytes() == written
        with pytest.raises(ManifestNewer):  # the app's validation, which reads the file itself
            validate(lab.config)


def staged_by_an_older_labtui(config: StagingConfig, *, records_as_files: bool) -> None:
    """The runs' Parquet without the record in its footer, as labtui wrote it before 2026-12: each record in a JSON
    file of its own, or (earlier still) nowhere."""
    for part in config.stage_root.rglob("part-000.parquet"):
        record = read_run_record(part)
        assert record is not None
        if records_as_files:
            config.legacy_records_dir.mkdir(parents=True, exist_ok=True)
            (config.legacy_records_dir / f"{record['run_id']}.json").write_text(json.dumps(record))
        pl.read_parquet(part).write_parquet(part)
        assert read_run_record(part) is None


def test_the_runs_parquet_alone_rebuild_the_manifest(lab: Lab) -> None:
    """One commit (no kept manifest) and the manifest deleted: each run's Parquet carries its row."""
    before = manifest_rows(lab)
    assert not list((lab.config.manifest_dir / "previous").glob("*.parquet"))
    lab.config.manifest_path.unlink()
    one_line_error(lab.cli("chips"), 1, "labtui repair")
    report = repair(lab.config)
    assert (report.from_records, report.from_previous, report.lost_runs) == (before.height, 0, [])
    assert manifest_rows(lab).equals(before)


def test_a_store_with_an_older_labtuis_record_files_repairs_and_restages(lab: Lab) -> None:
    """Records in `_manifest/events/` still vouch for their runs; a run staged again drops its file, as its new
    Parquet carries the record."""
    before = manifest_rows(lab)
    staged_by_an_older_labtui(lab.config, records_as_files=True)
    lab.config.manifest_path.unlink()
    report = repair(lab.config)
    assert (report.from_records, report.from_previous, report.lost_runs) == (before.height, 0, [])
    assert manifest_rows(lab).equals(before)
    changed = lab.raw / FILES[0]
    put(changed, changed.read_bytes() + b"\n", OLD_MTIME + 10)  # changed: staged again
    assert lab.stage().staged == 1
    restaged = manifest_rows(lab).filter(pl.col("source_file") == FILES[0]).row(0, named=True)
    assert not (lab.config.legacy_records_dir / f"{restaged['run_id']}.json").exists()
    assert len(list(lab.config.legacy_records_dir.glob("*.json"))) == before.height - 1
    folder = lab.stage_root / f"proc={restaged['proc']}" / f"date={restaged['date_local']}"
    assert read_run_record(folder / f"run_id={restaged['run_id']}" / "part-000.parquet") is not None


def test_a_deleted_manifest_of_a_store_without_run_records_is_damage_too(lab: Lab) -> None:
    """The oldest labtui kept earlier manifests but wrote no run records: with the manifest (and the stat index and
    overview) deleted, the store looked new (no chip, 'nothing to repair') while its runs sat on disk."""
    lab.stage(force=True)  # a second commit: the first manifest is kept
    before = manifest_rows(lab)
    staged_by_an_older_labtui(lab.config, records_as_files=False)
    for name in ("manifest.parquet", "stat_index.json", "overview.json"):
        (lab.config.manifest_dir / name).unlink()
    one_line_error(lab.cli("chips"), 1, "labtui repair")
    repaired = lab.cli("repair")
    assert repaired.returncode == 0 and f"restored {before.height} runs" in repaired.stdout, repaired.stdout
    assert manifest_rows(lab)["run_id"].equals(before["run_id"])


@pytest.mark.parametrize("named", [False, True])
@pytest.mark.parametrize("deleted", ["manifest, stat index and overview", "all of _manifest/"])
def test_a_store_whose_manifest_files_are_deleted_is_damaged_not_new(lab: Lab, tmp_path: Path, deleted: str,
                                                                     named: bool) -> None:
    """One commit (no kept manifest, no record file): with the manifest, stat index and overview deleted the store
    looked new, so `stage` staged the raw files afresh and the run of a raw file gone since became an orphan folder
    that `validate --fix` deleted, though its Parquet carried its record. Named with `--store`, a store without its
    `_manifest/` was `no labtui store` (stage into it first), and `repair` refused it."""
    store = ("--store", str(lab.store_root)) if named else ()
    before = manifest_rows(lab)
    assert not list((lab.config.manifest_dir / "previous").glob("*.parquet"))
    gone = lab.raw / FILES[0]
    shutil.move(gone, tmp_path / "moved-away.csv")  # the lab moved one raw file away meanwhile
    if deleted == "all of _manifest/":
        shutil.rmtree(lab.config.manifest_dir)
    else:
        for name in ("manifest.parquet", "stat_index.json", "overview.json"):
            (lab.config.manifest_dir / name).unlink()
    for command in ("chips", "stage", "validate"):
        result = lab.cli(command, *store)
        assert result.returncode == 1 and "Traceback" not in result.stderr, (command, result.stderr)
        assert "labtui repair" in result.stderr + result.stdout, (command, result.stdout)
    assert not lab.config.manifest_path.exists()  # `stage` staged nothing
    repaired = lab.cli("repair", *store)
    assert repaired.returncode == 0 and f"restored {before.height} runs" in repaired.stdout, repaired.stderr
    assert manifest_rows(lab).equals(before)
    assert lab.cli("validate", "--fix").returncode == 0
    assert manifest_rows(lab)["source_file"].to_list() == before["source_file"].to_list()
    assert len(list(lab.stage_root.rglob("part-000.parquet"))) == before.height


def test_a_crash_marker_beside_a_deleted_manifest_sets_the_older_runs_aside(lab: Lab, tmp_path: Path) -> None:
    """A crashed writer's `.dirty` marker and a deleted `_manifest/` (all but the hidden marker) read as a first stage
    cut short: the next stage sweeps every run folder as the crash's debris. Runs whose records predate the marker
    are not its debris: set aside with their records, the run of a raw file gone since among them."""
    gone = manifest_rows(lab).filter(pl.col("source_file") == FILES[0]).row(0, named=True)
    shutil.move(lab.raw / FILES[0], tmp_path / "moved-away.csv")
    for path in lab.config.manifest_dir.iterdir():
        shutil.rmtree(path) if path.is_dir() else path.unlink()
    marker = lab.config.manifest_dir / ".dirty"
    marker.write_text("4242")  # a writer that marked the store after those runs were staged, then crashed
    later = time.time() + 1
    os.utime(marker, (later, later))
    assert lab.stage().staged == len(FILES) - 1
    kept = list((lab.store_root / "_quarantine").glob(f"*/raw_measurements/proc=*/date=*/run_id={gone['run_id']}"))
    assert len(kept) == 1 and read_run_record(kept[0] / "part-000.parquet")["source_file"] == FILES[0]


def test_a_run_that_cannot_be_replaced_names_its_file_not_the_staging_areas_temp(lab: Lab) -> None:
    """A run folder made immutable (or a folder where the run's Parquet should be) failed the commit with
    `operating-system error on …/_manifest/tmp/.part-000.parquet.….tmp`: the temp file, no operation. The run's
    file is named, and the store stays as its last commit left it."""
    source = "d3/IVg2025-09-17_1.csv"
    put(lab.raw / source, render_run("IVg", file_idx=1, start_utc=1758047090.0)[1], OLD_MTIME)
    lab.stage()
    row = lab.manifest().row(0, named=True)
    target = run_parquet_path(lab.stage_root, row["proc"], row["date_local"], row["run_id"])
    target.unlink()
    (target / "in-the-way").mkdir(parents=True)
    before = lab.config.manifest_path.read_bytes()
    result = lab.cli("stage", "--force")
    assert result.returncode == ExitCode.IO and result.stderr == f"labtui: cannot replace {target}: Is a directory\n"
    assert lab.config.manifest_path.read_bytes() == before


def test_a_stage_killed_before_it_publishes_leaves_nothing_in_the_quarantine(lab: Lab) -> None:
    """The workers make the run folders before the commit fills them: killed in between, a stage leaves empty ones
    that hold no run to restore, so the next stage deletes them as its debris (it set them aside as runs older than
    the crash, a quarantine of empty folders after every interrupted stage)."""
    put(lab.raw / "d3/IVg2025-09-17_1.csv", render_run("IVg", file_idx=1, start_utc=1758047090.0)[1], OLD_MTIME)
    assert lab.cli("stage", crash_at="after_temp_write").returncode != 0
    assert [folder for folder in lab.stage_root.glob("proc=*/date=*/run_id=*") if not any(folder.iterdir())]
    assert lab.stage().staged == 1
    assert not (lab.store_root / "_quarantine").exists()


def test_a_first_stage_killed_before_its_manifest_is_an_interrupted_writer_not_damage(empty: Lab) -> None:
    """Killed between publishing its Parquet and writing the first manifest, a stage leaves run folders and its
    `.dirty` marker: the readers see a new store and `repair` has nothing to repair, so `validate` must not send the
    user to `repair` (a loop: "the manifest is missing" → "nothing to repair" → the same error); the next stage (or
    `--fix`) sweeps and stages."""
    for index, rel in enumerate(FILES):
        empty.write(rel, render_run("IVg", file_idx=index + 1, start_utc=1757947090.0 + 1000 * index)[1], OLD_MTIME)
    assert empty.cli("stage", crash_at="after_parquet_replace").returncode != 0
    assert list(empty.stage_root.rglob("part-000.parquet")) and not empty.config.manifest_path.exists()
    checked = empty.cli("validate")
    assert "manifest_missing" not in checked.stdout and "interrupted_writer" in checked.stdout, checked.stdout
    assert "nothing to repair" in empty.cli("repair").stdout
    fixed = empty.cli("validate", "--fix")
    assert fixed.returncode == 0 and "Traceback" not in fixed.stderr, fixed.stdout + fixed.stderr
    assert empty.manifest().height == len(FILES)


def test_repair_sets_aside_the_older_run_of_a_file_staged_again_and_counts_what_it_restored(lab: Lab) -> None:
    """A writer killed after the manifest replace leaves the old run of a file whose start time changed: both runs'
    records vouch for their folders, the manifest takes the newer one, and the older one is reported and moved to the
    quarantine (it was counted as restored and left in the stage root, for `validate --fix` to delete)."""
    old = lab.run_of(FILES[0])
    put(lab.raw / FILES[0], render_run("IVg", file_idx=1, start_utc=1757947090.0 + 60)[1], OLD_MTIME + 10)
    crashed = lab.cli("stage", crash_at="after_manifest_replace")
    assert crashed.returncode != 0
    new = lab.run_of(FILES[0])
    old_folder = lab.stage_root / f"proc={old['proc']}" / f"date={old['date_local']}" / f"run_id={old['run_id']}"
    assert new["run_id"] != old["run_id"] and old_folder.is_dir()
    before = manifest_rows(lab)
    lab.config.manifest_path.write_bytes(b"garbage")
    repaired = lab.cli("repair")
    assert repaired.returncode == 0, repaired.stderr
    assert f"restored {len(FILES)} runs: {len(FILES)} from their run records" in repaired.stdout, repaired.stdout
    assert "moved 1 run folder of an older staging" in repaired.stdout and "nothing is lost" not in repaired.stdout
    assert manifest_rows(lab).equals(before)
    assert not old_folder.exists() and list((lab.store_root / "_quarantine").rglob(f"run_id={old['run_id']}"))
    assert lab.cli("validate").returncode == 0


def test_repair_says_what_is_lost_and_quarantines_what_it_cannot_vouch_for(lab: Lab) -> None:
    config = lab.config
    lab.stage(force=True)  # a commit: the manifest it replaced is kept
    kept = manifest_rows(lab)
    lost = kept.row(0, named=True)
    shutil.rmtree(lab.stage_root / f"proc={lost['proc']}" / f"date={lost['date_local']}" / f"run_id={lost['run_id']}")
    stray = lab.stage_root / "proc=IVg" / "date=2025-01-01" / f"run_id={'f' * 16}"
    stray.mkdir(parents=True)
    shutil.copy(next(lab.stage_root.rglob("part-000.parquet")), stray / "part-000.parquet")
    staged_by_an_older_labtui(config, records_as_files=False)  # no run records, only kept manifests
    config.manifest_path.write_bytes(b"garbage")
    report = repair(config)  # in-process (the command line's repair is the test above): what the engine reports
    said = "\n".join(report.lines())
    assert report.from_records == 0 and report.from_previous == kept.height - 1, said
    assert report.lost_runs == [f"{lost['run_id']} {lost['source_file']}"] and "lost 1 run whose" in said, said
    assert report.unvouched == [f"proc=IVg/date=2025-01-01/run_id={'f' * 16}"] and "moved 1 run folder" in said
    assert not stray.exists() and list((lab.store_root / "_quarantine").rglob(f"run_id={'f' * 16}"))
    same = ["run_id", "source_file", "source_sha256"]  # rows from the kept manifest: staged before the forced stage
    assert manifest_rows(lab).select(same).equals(kept.filter(pl.col("run_id") != lost["run_id"]).select(same))
    assert repair(config).lines() == ["the manifest is readable: nothing to repair (`labtui validate` checks the rest)"]


async def test_the_app_shows_a_damaged_manifest_once_and_q_quits(lab: Lab) -> None:
    from labtui.tui.app import LabApp
    from labtui.tui.dialogs import ErrorDialog

    lab.config.manifest_path.write_bytes(b"PAR1 not really")
    app = LabApp(lab.config)
    async with app.run_test(size=(100, 30)) as pilot:
        await _workers_done(app)
        await pilot.press("c")
        await _workers_done(app)
        await pilot.pause()
        assert isinstance(app.screen, ErrorDialog)
        assert "labtui repair" in str(app.screen.body)
        await pilot.press("escape")
        for _ in range(3):
            await _workers_done(app)
            await pilot.pause()
        assert not isinstance(app.screen, ErrorDialog), "the same error came back after Esc"
        await pilot.press("escape", "c")
        await _workers_done(app)
        await pilot.pause()
        assert not isinstance(app.screen, ErrorDialog)
        app.show_error(RuntimeError("another"))
        await pilot.pause()
        await pilot.press("q")
        await pilot.pause()
    assert app.return_code == 0

async def _workers_done(app: object) -> None:
    """Every worker finished: the ones reading the damaged manifest fail (the app shows that as a dialog), and a
    failed worker still listed makes `wait_for_complete` raise, depending on when it is asked."""
    from textual.worker import WorkerFailed

    with contextlib.suppress(WorkerFailed):
        await app.workers.wait_for_complete()  # type: ignore[attr-defined]


# -- 4. one line per operating-system error -----------------------------------------------------------------------
@contextlib.contextmanager
def read_only_mount(folder: Path) -> Iterator[None]:
    """`folder` as a read-only share (a read-only bind mount: EROFS even for root); skips where it cannot mount."""
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("needs root to bind-mount a read-only store")
    if subprocess.run(["mount", "--bind", str(folder), str(folder)], capture_output=True, check=False).returncode:
        pytest.skip("bind mounts are not allowed here")
    try:
        if subprocess.run(["mount", "-o", "remount,ro,bind", str(folder)], capture_output=True, check=False).returncode:
            pytest.skip("read-only remounts are not allowed here")
        yield
    finally:
        subprocess.run(["umount", "-l", str(folder)], capture_output=True, check=False)


def as_nobody() -> None:
    os.setgid(65534)
    os.setuid(65534)


def test_a_read_only_store_reads_fully_and_writers_say_it_is_read_only(lab: Lab) -> None:
    with read_only_mount(lab.store_root):
        for command, args in (("chips", ()), ("history", ("67",)), ("validate", ()), ("rejects", ())):
            result = lab.cli(command, *args)
            assert result.returncode in (0, 1) and not result.stderr.strip(), (command, result.stderr)
        metrics = lab.cli("metrics", "67")  # shown as last computed: the table cannot be brought up to date here
        assert metrics.returncode == 0 and "Alisson67" in metrics.stdout, metrics.stderr
        assert metrics.stderr == "labtui: the store is read-only: derived quantities as last computed\n"
        for command, args in (("stage", ("--force",)), ("repair", ()), ("validate", ("--fix",)),
                              ("metrics", ("--rebuild",))):
            if command == "validate":
                (lab.raw / FILES[0]).touch()  # something to fix
            one_line_error(lab.cli(command, *args), 73, "read-only", str(lab.store_root))


def test_a_store_of_another_user_is_read_only_for_a_non_root_user(lab: Lab, tmp_path: Path) -> None:
    try:
        probe = (
            subprocess.run(
                [sys.executable, "-c", "import polars"],
                preexec_fn=as_nobody,
                capture_output=True,
                env=cli_env(),
                check=False,
            )
            if os.geteuid() == 0
            else None
        )
    except OSError:  # the interpreter itself is out of the other user's reach
        probe = None
    if probe is None or probe.returncode:
        pytest.skip("cannot run Python as another user here")
    for folder in (tmp_path, *tmp_path.parents):
        if folder != Path("/"):
            folder.chmod(folder.stat().st_mode | 0o005)
    result = subprocess.run(
        lab.command("stage", "--force"),
        preexec_fn=as_nobody,
        capture_output=True,
        text=True,
        env=cli_env(),
        cwd="/",
        check=False,
    )
    one_line_error(result, 73, "read-only")


@pytest.mark.parametrize("size", ["300k", "400k", "900k"])  # full at the Parquet, the run records, the manifest
def test_a_full_disk_is_one_line_and_leaves_nothing_half_written(tmp_path: Path, size: str) -> None:
    """The line names what was being written and where (a run record's write said only the OS error), and no
    temp file of the failed write is left taking the space that is short."""
    with small_disk(tmp_path / "disk", size) as disk:
        lab = Lab(disk, raw=tmp_path / "raw", workers=1)
        write_long_it_runs(lab.raw, 40)
        result = lab.cli("stage")
        one_line_error(result, 74, "No space left on device")
        assert result.stderr.startswith("labtui: cannot write "), result.stderr
        assert not temp_files(lab.store_root) and not empty_folders(lab.stage_root)
        read_manifest(lab.config.manifest_path)  # whatever was committed is whole


def test_an_unwritable_output_and_demo_folder_are_one_line(lab: Lab, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    with read_only_mount(out):
        one_line_error(lab.cli("history", "67", "--out", str(out / "h.csv")), 73, f"cannot write {out / 'h.csv'}")
        demo = subprocess.run(
            [sys.executable, "-m", "labtui", "demo", str(out / "lab")],
            env=cli_env(),
            capture_output=True,
            text=True,
            check=False,
        )
        one_line_error(demo, 73, f"cannot write the demo lab into {out / 'lab'}")
        assert not any(out.iterdir())


# -- 5. restage takes the paths labtui prints ----------------------------------------------------------------------
def test_restage_takes_paths_relative_to_the_raw_root_and_force_re_extracts(lab: Lab) -> None:
    before = manifest_rows(lab).filter(pl.col("source_file") == FILES[0])["ingested_at_utc"].item()
    unchanged = lab.cli("restage", FILES[0])  # as `labtui rejects` and `validate` print it; cwd is not the raw root
    assert unchanged.returncode == 0 and "1 unchanged" in unchanged.stdout, unchanged.stderr
    forced = lab.cli("restage", "--force", FILES[0])
    assert forced.returncode == 0 and "1 staged" in forced.stdout, forced.stderr
    assert manifest_rows(lab).filter(pl.col("source_file") == FILES[0])["ingested_at_utc"].item() > before
    one_line_error(lab.cli("restage", "d9/none.csv"), 2, "d9/none.csv", str(lab.raw))
    (lab.raw / "notes.txt").write_text("a note")
    (lab.raw / ".hidden").mkdir()
    (lab.raw / ".hidden" / "It2025-10-14_9.csv").write_bytes(b"x")
    folder = FILES[0].rsplit("/", 1)[0]
    os.mkfifo(lab.raw / "pipe.csv")
    (lab.raw / "~$It2025-10-14_9.csv").write_bytes(b"\x05labtu")
    (lab.raw / "#recycle" / folder).mkdir(parents=True)
    shutil.copy(lab.raw / FILES[0], lab.raw / "#recycle" / FILES[0])
    (lab.raw / "linked").symlink_to(lab.raw / folder)
    linked = f"linked/{FILES[0].rsplit('/', 1)[1]}"
    for given, problem in ((folder, "is a folder"), ("notes.txt", "is not a CSV file"),
                           (".hidden/It2025-10-14_9.csv", "is hidden"), ("pipe.csv", "is not a regular file"),
                           (linked, "is behind a link to a folder"),
                           ("~$It2025-10-14_9.csv", "lock file Excel"),
                           (f"#recycle/{FILES[0]}", "is in #recycle/, a recycle bin or snapshot folder")):
        # a stage never reads them: said, not 0 staged
        one_line_error(lab.cli("restage", given), 2, given, problem)
    (lab.raw / "It2025-10-14_9.csv\r").write_bytes(b"x")  # its CR wrote the rest of the line over its name
    one_line_error(lab.cli("restage", "It2025-10-14_9.csv\r"), 2, "It2025-10-14_9.csv\\r", "is not a CSV file")


# -- 6. foreign files in the stage root ----------------------------------------------------------------------------
def test_foreign_files_are_reported_and_moved_to_the_quarantine(lab: Lab) -> None:
    strangers = [
        "notes.txt",
        "proc=It/junk.parquet",
        next(
            str(p.parent.relative_to(lab.stage_root) / "copy.parquet") for p in lab.stage_root.rglob("part-000.parquet")
        ),
    ]
    for rel in strangers:
        (lab.stage_root / rel).write_bytes(b"x")
    report = lab.cli("validate")
    assert report.returncode == 1 and "foreign_files" in report.stdout and "notes.txt" in report.stdout
    fixed = lab.cli("validate", "--fix")
    assert fixed.returncode == 0 and "store healthy" in fixed.stdout, fixed.stdout
    (batch,) = (lab.store_root / "_quarantine").iterdir()
    quarantined = {str(path.relative_to(batch)) for path in batch.rglob("*") if path.is_file()}
    assert quarantined == {f"raw_measurements/{rel}" for rel in strangers}
    pads.dataset(lab.stage_root, partitioning="hive").to_table()  # a directory scan reads again


def test_links_in_the_stage_root_are_foreign_never_followed(lab: Lab, tmp_path: Path) -> None:
    """A link to a folder of Parquet (a colleague's runs, linked in) would be read by a directory scan as runs of
    this store: reported and moved to the quarantine as the link itself, what it points at left alone."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "part-000.parquet").write_bytes(b"not this store's")
    (lab.stage_root / "proc=It" / "linked").symlink_to(elsewhere, target_is_directory=True)
    (lab.stage_root / "proc=It" / "part-link.parquet").symlink_to(elsewhere / "part-000.parquet")
    report = lab.cli("validate")
    assert report.returncode == 1 and "proc=It/linked" in report.stdout and "proc=It/part-link.parquet" in report.stdout
    assert lab.cli("validate", "--fix").returncode == 0
    (batch,) = (lab.store_root / "_quarantine").iterdir()
    assert (batch / "raw_measurements" / "proc=It" / "linked").is_symlink()
    assert (elsewhere / "part-000.parquet").read_bytes() == b"not this store's"
    pads.dataset(lab.stage_root, partitioning="hive").to_table()


def test_a_tree_nested_deeper_than_python_recurses_is_walked(lab: Lab) -> None:
    """1,200 folders deep in the stage root (past Python's recursion limit): the stranger at the bottom is reported,
    and a crashed writer's temp file down there is swept by the next stage."""
    chain = [lab.stage_root]
    for _ in range(1200):  # one by one: pathlib's mkdir(parents=True) recurses too
        chain.append(chain[-1] / "a")
        chain[-1].mkdir()
    deep = chain[-1]
    try:
        (deep / "stray.txt").write_text("x")
        report = lab.cli("validate")
        assert report.returncode == 1 and "Traceback" not in report.stderr
        assert "foreign_files" in report.stdout and "stray.txt" in report.stdout
        (deep / ".part-000.parquet.1234.tmp").write_bytes(b"torn")
        (lab.config.manifest_dir / ".dirty").write_text("1234")
        assert lab.cli("stage").returncode == 0
        assert not (deep / ".part-000.parquet.1234.tmp").exists()
    finally:  # bottom up: shutil.rmtree, which pytest cleans its temp folders with, recurses too
        for folder in reversed(chain[1:]):
            for entry in os.scandir(folder):
                if not entry.is_dir(follow_symlinks=False):
                    os.unlink(entry.path)
            folder.rmdir()


# -- 7. parser rules -----------------------------------------------------------------------------------------------
@pytest.fixture
def empty(tmp_path: Path) -> Lab:
    return Lab(tmp_path / "empty")


@pytest.mark.parametrize("chip", ["67b", "6 7", "67.0x", "0", "-3"])
def test_a_chip_number_that_is_not_one_positive_integer_rejects_the_file(empty: Lab, chip: str) -> None:
    empty.write("a/It2025-10-14_1.csv", raw_csv("It", params={"Chip number": chip}), mtime=OLD_MTIME)
    report = empty.stage()
    assert report.rejected == 1 and empty.rejects()["a/It2025-10-14_1.csv"].kind == "bad_chip_number"


@pytest.mark.parametrize(("value", "said"), [
    ("-0.35x", "is not in V (its unit is 'x')"), ("6 7", "is not a finite number in V"),
    ("1.4 A", "is not in V (its unit is 'A')"),  # a wrong unit, not a wrong number
    ("nan V", "is not a finite number in V"), ("1e308 kV", "is not a finite number in V"),  # its overflow, said
    *[(comma, "is not a finite number in V (a comma in the number: written with a decimal point and no thousands "
              "separator, it is read)") for comma in ("1,37 V", "-0,5", "1,200 V", "1.200,5 V")],  # a spreadsheet's
])
def test_another_parameter_that_is_not_a_number_is_left_empty_with_a_warning(empty: Lab, value: str,
                                                                              said: str) -> None:
    empty.write("a/It2025-10-14_1.csv", raw_csv("It", params={"VG": value}), mtime=OLD_MTIME)
    report = empty.stage()
    assert report.staged == 1 and empty.manifest()["vg_fixed_v"].item() is None
    record = read_run_record(next(empty.stage_root.rglob("part-000.parquet")))
    assert record is not None and any(said in warning for warning in record["warnings"]), record["warnings"]


@pytest.mark.parametrize("before", [[], [""], ["", " \t", ""]], ids=["none", "one", "three"])
def test_blank_lines_never_become_rows(empty: Lab, before: list[str]) -> None:
    """Also before the first row, where Polars would read a blank line as a one-column row and fail the file."""
    rows = ivg_rows()
    data = raw_csv("IVg", rows=[*before, *rows[:5], "", "  ", *rows[5:], "", "", ""])
    empty.write("a/IVg2025-10-14_1.csv", data, mtime=OLD_MTIME)
    report = empty.stage()
    assert report.new_rejects == []
    assert empty.manifest()["n_rows"].item() == len(rows) and empty.manifest()["is_complete"].item()
    staged = pl.read_parquet(next(empty.stage_root.rglob("*.parquet")))
    assert staged["vg_v"].head(2).to_list() == [float(row.split(",")[0]) for row in rows[:2]]


def test_a_sweep_with_rows_missing_inside_it_is_not_said_aborted(empty: Lab) -> None:
    """Rows deleted mid-sweep (a hand edit), the sweep at both its ends and back at 0: "aborted" said it stopped."""
    rows = ivg_rows()  # 0 → −1 → 1 → −1 → 0
    empty.write("a/IVg2025-10-14_1.csv", raw_csv("IVg", rows=rows[:3] + rows[5:]), mtime=OLD_MTIME)
    report = empty.stage()
    assert not empty.manifest()["is_complete"].item()
    assert report.warned["a/IVg2025-10-14_1.csv"] == [
        "rows missing: 11 of the 13 rows its sweep parameters imply, though it swept -1…1 and came back to 0 (rows "
        "deleted or lost inside it)"]
    stopped = rows[:7] + rows[-1:]  # stopped at 1 V, then a last row at 0
    empty.write("a/IVg2025-10-14_2.csv", raw_csv("IVg", rows=stopped, start=1760371999), mtime=OLD_MTIME)
    assert empty.stage().warned["a/IVg2025-10-14_2.csv"] == ["aborted: 8 of the 13 rows its sweep parameters imply"]


def test_an_it_run_with_rows_missing_inside_it_is_said_and_not_complete(empty: Lab) -> None:
    """4 s of rows deleted inside the lit window of a run that reaches its end: complete, unsaid (only a τ remark
    in the metrics hinted at it), where an IVg sweep with rows missing is said and not complete. A slow clock (a
    sample every 3 s) and one stray pause are no such gap."""
    rows = it_rows(period=20.0)  # 30 s, a sample every 0.1 s
    empty.write("a/It2025-10-14_1.csv", raw_csv("It", params={"Laser ON+OFF period": "20 s"},
                                                 rows=rows[:120] + rows[161:]), mtime=OLD_MTIME)
    report = empty.stage()
    assert not empty.manifest()["is_complete"].item()
    assert report.warned["a/It2025-10-14_1.csv"] == [
        "rows missing: t (s) leaps from 11.9 to 16.1, about 41 rows at its usual interval, though "
        "the run reaches its end (rows deleted or lost inside it)"]
    slow = it_rows(period=120.0, dt_s=3.0)
    paused = [*rows[:120], f"{12.9},{rows[120].split(',', 1)[1]}", *rows[130:]]  # 1 s without a sample
    unread = [*rows[:120], *(f"nan,{row.split(',', 1)[1]}" for row in rows[120:161]), *rows[161:]]  # rows there
    for name, period, data in (("2", "120 s", slow), ("3", "20 s", paused), ("4", "20 s", unread)):
        empty.write(f"a/It2025-10-14_{name}.csv", raw_csv("It", params={"Laser ON+OFF period": period}, rows=data,
                                                          start=1760371999 + int(name)), mtime=OLD_MTIME)
    report = empty.stage()
    assert report.staged == 3 and not report.warned, report.warned
    assert empty.manifest().sort("source_file")["is_complete"].to_list() == [False, True, True, True]
    # rows deleted, one row's time unread beside them: the gap is still read (it was not, once any time was NaN)
    gapped = [*rows[:119], f"nan,{rows[119].split(',', 1)[1]}", *rows[161:]]
    empty.write("a/It2025-10-14_5.csv", raw_csv("It", params={"Laser ON+OFF period": "20 s"}, rows=gapped,
                                                 start=1760371999 + 5), mtime=OLD_MTIME)
    assert empty.stage().warned["a/It2025-10-14_5.csv"][0].startswith("rows missing: t (s) leaps from 11.8 to 16.1")


def test_a_header_whose_light_the_vl_column_contradicts_is_said(empty: Lab) -> None:
    """`Laser voltage: 0 V` in the header of a run whose VL column pulses (a hand edit, a header of another run):
    stored dark, as the lab's rule says, unsaid but for a remark on its power; lit with a VL column never lit,
    likewise. A VL over the threshold for two samples is a misread, no pulse."""
    pulsed, unlit = it_rows(), it_rows(voltage=0.0)
    blip = data_rows([(k * 0.1, 1e-6, 0.5 if k in (5, 6, 12, 13, 20, 21) else 0.0) for k in range(31)],
                     len(IT_COLUMNS))  # three slivers of 2 samples: misreads, not a pulse
    marks = data_rows([(k * 0.1, 1e-6, 9.9e37 if k in (5, 6, 7) else 0.0) for k in range(31)], len(IT_COLUMNS))
    cases = {"1": ("0 V", pulsed), "2": ("1.15 V", unlit), "3": ("0 V", blip), "4": ("0 V", marks),
             "5": ("1.15 V", marks)}  # lit by its header, its VL at 0 V but for overflow marks: never lit
    for name, (voltage, rows) in cases.items():
        empty.write(f"a/It2025-10-14_{name}.csv", raw_csv("It", params={"Laser voltage": voltage}, rows=rows,
                                                          start=1760371999 + int(name)), mtime=OLD_MTIME)
    report = empty.stage()
    assert report.staged == 5
    never = ("its header's laser voltage (1.15 V) says lit, though its 'VL (V)' column never reaches 0.1 V: the laser "
             "did not switch on? Stored lit, as the header says")
    assert report.warned == {
        "a/It2025-10-14_1.csv": ["its header's laser voltage (0 V) says dark, though its 'VL (V)' column pulses to "
                                 "1.15 V (10 samples on in a row): stored dark, as the header says (correct it if the "
                                 "run was lit)"],
        "a/It2025-10-14_2.csv": [never], "a/It2025-10-14_5.csv": [never]}
    assert empty.manifest().sort("source_file")["has_light"].to_list() == [False, True, False, False, True]
    # stopped before its pulse was due (half its period): its VL column never lit, and nothing else is wrong
    empty.write("a/It2025-10-14_6.csv", raw_csv("It", rows=it_rows()[:8], start=1760371999 + 6), mtime=OLD_MTIME)
    assert empty.stage().warned == {"a/It2025-10-14_6.csv": ["aborted: t (s) spans 0.7 of 3"]}


def test_a_sweep_run_the_other_way_round_from_its_header_is_said(empty: Lab) -> None:
    """A sweep that went to +1 V first under `VG start: -1 V` staged as `VG:-1→1`, its header's limits swapped
    unsaid (its Dirac points are read from its data's legs, as ever)."""
    mirrored = [",".join([str(-float(row.split(",")[0]) + 0.0), *row.split(",")[1:]]) for row in ivg_rows()]
    empty.write("a/IVg2025-10-14_1.csv", raw_csv("IVg", rows=mirrored), mtime=OLD_MTIME)
    report = empty.stage()
    assert empty.manifest()["is_complete"].item()
    assert report.warned["a/IVg2025-10-14_1.csv"] == [
        "Vg (V) leaves 0 upward, though its header's VG start is -1: the sweep ran the other way round (its header's "
        "limits swapped?)"]


def test_a_sweep_with_fewer_rows_than_its_parameters_imply_is_incomplete(empty: Lab) -> None:
    rows = ivg_rows()  # 0 → −1 → 1 → −1 → 0 in 0.5 V steps: 13 rows
    empty.write("a/IVg2025-10-14_1.csv", raw_csv("IVg", rows=rows[:9]), mtime=OLD_MTIME)  # stopped at 0 V on the way
    empty.write("a/IVg2025-10-14_2.csv", raw_csv("IVg", rows=rows, start=1760371999), mtime=OLD_MTIME)
    empty.stage()
    assert empty.manifest().sort("source_file")["is_complete"].to_list() == [False, True]


def _shifted(rows: list[str], seconds: float) -> list[str]:
    return [f"{float(row.split(',', 1)[0]) + seconds},{row.split(',', 1)[1]}" for row in rows]


def _ending_at(rows: list[str], vsd: str) -> list[str]:
    return [*rows[:-1], f"{vsd},{rows[-1].split(',', 1)[1]}"]


IV_ROWS = default_rows("IV")  # 0 → −0.1 → 0 → 0.1 → 0 V in 0.05 V steps


@pytest.mark.parametrize(("proc", "rows", "params", "complete"), [
    ("It", _shifted(it_rows()[:16], 1000), {}, False),  # half its time, on a clock that starts at 1000 s
    ("It", _shifted(it_rows(), 1000), {}, True),
    ("IV", _ending_at(IV_ROWS, "-0.045"), {}, True),  # within a step of 0, as the real setpoints end
    ("IV", _ending_at(IV_ROWS, "-0.045"), {"VSD step": None}, True),  # no step: it cannot be judged
    ("IV", _ending_at(IV_ROWS, "-0.045"), {"VSD step": ""}, True),
    ("IV", IV_ROWS[:-3], {"VSD step": None}, False),  # short of its end: judged without a step
])
def test_completeness_is_judged_on_what_the_data_spans(empty: Lab, proc: str, rows: list[str], params: dict,
                                                       complete: bool) -> None:
    """An It run cut at 100 of 180 s on a clock starting at 1000 s was complete (the largest t, not the span); a
    complete IV sweep without its step was aborted against a step made up as 1 % of its range."""
    empty.write(f"a/{proc}2025-10-14_1.csv", raw_csv(proc, rows=rows, params=params), mtime=OLD_MTIME)
    empty.stage()
    assert empty.manifest()["is_complete"].to_list() == [complete]


@pytest.mark.parametrize(("proc", "params"), [
    ("IVg", {"VG end": "1e308 V"}), ("IVg", {"VG step": "5e-324 V"}),
    ("LaserCalibration", {"Laser voltage end": "1e308 V", "Laser voltage step": "1e-300 V"}),
])
def test_sweep_parameters_no_sweep_could_have_are_judged_not_a_crash(empty: Lab, proc: str, params: dict) -> None:
    """The rows a sweep implies overflowed an integer (1e308 V / 0.05 V): the whole stage stopped with a traceback,
    the good files beside it unstaged. Out-of-range limits are left empty (completeness cannot be judged), an
    absurd step counts no rows."""
    empty.write(f"a/{proc}2025-10-14_1.csv", raw_csv(proc, params=params), mtime=OLD_MTIME)
    empty.write("a/IVg2025-10-14_2.csv", raw_csv("IVg", start=1760371999), mtime=OLD_MTIME)
    report = empty.stage()
    assert report.new_rejects == [] and empty.manifest().height == 2


def test_the_real_sweep_that_stopped_at_zero_volts_is_incomplete(empty: Lab) -> None:
    real = REAL_RAW / "Alisson_04_sept" / "IVg2025-09-04_12.csv"
    if not real.is_file():
        pytest.skip("../shared/realdata/raw is not available")
    empty.write("IVg2025-09-04_12.csv", real.read_bytes(), mtime=OLD_MTIME)
    empty.stage()
    row = empty.manifest().row(0, named=True)
    assert (row["n_rows"], row["is_complete"]) == (201, False)


@pytest.mark.parametrize("configured", [True, False])
def test_history_filters_use_the_labs_own_procedure_registry(empty: Lab, tmp_path: Path, configured: bool) -> None:
    """The lab's registry is the one its config names (`procedures_file`), else the project's
    config/procedures.yaml beside labtui.yaml (a new procedure added there was ignored)."""
    registry = load_registry().model_dump()
    registry["procedures"]["Sweepy"] = {**registry["procedures"]["IVg"], "aliases": ["SWP"]}
    import yaml

    procedures = tmp_path / "procedures.yaml" if configured else empty.config_file.parent / "procedures.yaml"
    procedures.write_text(yaml.safe_dump(registry), encoding="utf-8")
    empty.write("a/Sweepy2025-10-14_1.csv", raw_csv("IVg").replace(b"IVg.IVg", b"Sweepy.Sweepy"), mtime=OLD_MTIME)
    if configured:
        empty.configure(procedures_file=procedures)
    assert empty.cli("stage").returncode == 0
    result = empty.cli("history", "67", "--proc", "SWP", "--format", "csv")
    assert result.returncode == 0 and "Sweepy2025-10-14_1.csv" in result.stdout, result.stderr


def test_a_procedure_added_to_the_registry_stages_the_files_rejected_for_lacking_it(empty: Lab) -> None:
    """The reject says `add it to config/procedures.yaml`: once the lab has, the next `labtui stage` reads the file
    again (a reject holds for the file as it is *and* the registry it was judged by; before, the unchanged file kept
    its reject until `stage --force`), the dashboard counts it as waiting, and a re-run with both unchanged reads
    nothing."""
    import yaml

    empty.write("a/Sweepy2025-10-14_1.csv", raw_csv("IVg").replace(b"IVg.IVg", b"Sweepy.Sweepy"), mtime=OLD_MTIME)
    empty.write("a/IVg2025-10-14_2.csv", raw_csv("IVg", start=1760371999.5), mtime=OLD_MTIME)
    first = json.loads(empty.cli("stage", "--json").stdout)
    assert (first["staged"], [r["kind"] for r in first["rejects"]]) == (1, ["unknown_procedure"])
    registry = load_registry().model_dump()
    registry["procedures"]["Sweepy"] = registry["procedures"]["IVg"]
    (empty.config_file.parent / "procedures.yaml").write_text(yaml.safe_dump(registry), encoding="utf-8")
    assert pending_files(empty.config, empty.manifest()) == Waiting(["a/Sweepy2025-10-14_1.csv"], 0)
    second = json.loads(empty.cli("stage", "--json").stdout)
    assert (second["staged"], second["unchanged"], second["rejected"]) == (1, 1, 0), second
    assert empty.rejects() == {}
    third = json.loads(empty.cli("stage", "--json").stdout)
    assert (third["staged"], third["unchanged"], third["rejected"]) == (0, 2, 0), third


def test_a_reader_racing_the_first_commit_reads_it_instead_of_calling_the_store_damaged(
    empty: Lab, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A commit records its runs after replacing the manifest: a reader that missed the manifest and then finds
    runs (the first commit landed in between) looks again; a manifest still missing is damaged."""
    empty.write("a/IVg2025-10-14_1.csv", raw_csv("IVg"), mtime=OLD_MTIME)
    empty.stage()
    path = empty.config.manifest_path
    committed = path.read_bytes()
    path.unlink()
    looked = manifest_module.holds_runs

    def first_commit_lands(folder: Path) -> bool:
        path.write_bytes(committed)
        return looked(folder)

    monkeypatch.setattr(manifest_module, "holds_runs", first_commit_lands)
    assert read_manifest(path).height == 1
    monkeypatch.undo()
    path.unlink()
    with pytest.raises(ManifestDamaged, match="it is missing, but the store holds runs"):
        read_manifest(path)


def test_a_store_file_of_json_nested_past_any_depth_is_a_damaged_file_not_a_traceback(lab: Lab,
                                                                                   tmp_path: Path) -> None:
    """`[` × 100 000 in a reject record, the store's record, its index, an annotation or a figure record: `json`
    raises RecursionError, which no reader took for a damaged file: every command (and `validate --fix`, the way
    out) ended in a traceback, exit 70. Each such file now reads as damaged, as a truncated one does."""
    lab.write("broken/It2025-09-15_9.csv", b"#Procedure: <laser_setup.procedures.It.It>\n", mtime=OLD_MTIME)
    assert lab.cli("stage").returncode == 0 and lab.rejects()
    assert lab.cli("annotate", "67", "--seq", "1", "--star").returncode == 0
    figure = tmp_path / "f.svg"
    assert lab.cli("plot", "67", "--seq", "1", "--out", str(figure)).returncode == 0
    manifest = lab.store_root / "_manifest"
    nested = b"[" * 100_000
    for damaged in (next((lab.store_root / "_rejects").glob("*.json")), manifest / "store.json",
                    manifest / "stat_index.json", manifest / "overview.json",
                    next((lab.store_root / "_annotations").rglob("*.json")), Path(f"{figure}.json")):
        damaged.write_bytes(nested)
    for command in (["rejects"], ["history", "67"], ["chips"], ["stage"], ["validate"], ["validate", "--fix"],
                    ["plot", "--from", f"{figure}.json", "--out", str(tmp_path / "g.svg")]):
        result = lab.cli(*command)
        assert result.returncode != ExitCode.BUG and "Traceback" not in result.stderr, (command, result.stderr)
