"""`labtui.open_store`: locating a store, histories, the lazy scan (union of columns, pruning, a writer committing
mid-read), the derived metrics, and an `import labtui` that stays light."""

from __future__ import annotations

import datetime as dt
import json
import shutil
import subprocess
import sys
import warnings
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from labtui import Store, open_store
from labtui.api import AnnotationsUnread, DamagedRun, StoreChanged, StoreGone
from labtui.cli import main
from labtui.core.annotations import ANNOTATION_COLUMNS, Change, annotate
from labtui.core.config import default_derived_root
from labtui.core.errors import UsageError
from labtui.core.faults import CRASH_EXIT_CODE
from labtui.core.history import HistoryFilter, history, load_manifest
from labtui.core.layout import run_parquet_path
from labtui.core.manifest import ManifestDamaged, read_manifest
from labtui.core.metrics import METRICS_SCHEMA, read_metrics, refresh_metrics
from labtui.core.registry import load_registry
from labtui.core.repair import drop_runs
from tests.lab import BASE_PARAMS, Lab, all_procedures_lab, data_rows, local, raw_csv


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Lab:
    return all_procedures_lab(tmp_path_factory.mktemp("api"))


@pytest.fixture(scope="module")
def store(lab: Lab) -> Store:
    return open_store(lab.config.store_root)


def per_run_files(lab: Lab) -> pl.DataFrame:
    """Every run's Parquet read on its own (no cross-file schema to get wrong), tagged with its run_id."""
    config = lab.config
    return pl.concat(
        [
            pl.read_parquet(run_parquet_path(config.stage_root, row["proc"], row["date_local"], row["run_id"]))
            .with_columns(run_id=pl.lit(row["run_id"]))
            for row in lab.manifest().iter_rows(named=True)
        ],
        how="diagonal",
    )


def test_open_store_accepts_the_store_or_its_raw_measurements(lab: Lab, tmp_path: Path) -> None:
    config = lab.config
    for path in (config.store_root, config.stage_root, str(config.stage_root)):
        store = open_store(path)
        assert (store.root, store.stage_root) == (config.store_root, config.stage_root)
        assert store.manifest.equals(lab.manifest())
    with pytest.raises(UsageError, match=r"not a labtui store: .* _manifest/"):
        open_store(tmp_path)
    with pytest.raises(UsageError, match="no such store folder"):
        open_store(tmp_path / "missing")
    (tmp_path / "store" / "_manifest").mkdir(parents=True)
    (tmp_path / "store" / "other").mkdir()
    with pytest.raises(UsageError, match=r"not a labtui store: .*other"):
        open_store(tmp_path / "store" / "other")
    # a project's data folder: the store below it is named, as the command line names it
    with pytest.raises(UsageError, match=rf"not a labtui store: {tmp_path}; {tmp_path / 'store'} is one: give it$"):
        open_store(tmp_path)
    with pytest.raises(UsageError, match="unknown time zone 'Mars/Olympus'"):
        open_store(config.store_root, local_tz="Mars/Olympus")


def test_a_store_is_read_and_staged_in_the_zone_its_runs_are_dated_in(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """A Tokyo lab's runs were dated in Santiago by a notebook's `open_store` (a run of the 22nd listed on the 21st,
    `since` the 22nd found none) and by a command run from another folder, whose stage moved 481 of 552 runs to
    other date partitions. The store records the zone its stage dated them in; a reader without one uses it."""
    lab = Lab(tmp_path / "lab", local_tz="Asia/Tokyo")
    lab.write("2025-10-13/It2025-10-13_1.csv", raw_csv("It", start=dt.datetime(2025, 10, 13, 20, tzinfo=dt.UTC)
                                                       .timestamp()))  # 05:00 on the 14th in Tokyo
    lab.stage()
    config = lab.config
    assert open_store(config.store_root).local_tz == "Asia/Tokyo"
    assert open_store(config.store_root).runs()["date"].to_list() == [dt.date(2025, 10, 14)]
    assert open_store(lab.config.store_root, local_tz="UTC").local_tz == "UTC"  # given: as given
    lab.config_file.unlink()  # no config: a command from another folder, with the store alone
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    monkeypatch.delenv("LABTUI_CONFIG", raising=False)
    before = read_manifest(config.manifest_path)
    assert main(["stage", "--quiet", "--store", str(config.store_root)]) == 0
    assert read_manifest(config.manifest_path).equals(before)  # no run re-dated
    identity = config.manifest_dir / "store.json"  # a zone this machine does not know: said, not the default's
    identity.write_text(identity.read_text(encoding="utf-8").replace("Asia/Tokyo", "Mars/Olympus"), encoding="utf-8")
    with pytest.raises(UsageError, match=r"the zone the store records \(.*store\.json\): pass local_tz: unknown"):
        open_store(config.store_root)
    assert main(["stage", "--quiet", "--store", str(config.store_root)]) == 2
    assert read_manifest(config.manifest_path).equals(before)


def test_runs_are_the_cli_history_with_its_filters(lab: Lab, store: Store) -> None:
    manifest = load_manifest(lab.config)
    expected = history(manifest, 67, tz="America/Santiago", filters=HistoryFilter(procs=("ITS",), light=True))
    assert store.runs(chip=67, proc="ITS", light=True).drop(ANNOTATION_COLUMNS).equals(expected)
    assert store.runs(since="2025-09-09")["source_file"].to_list() == ["2025-09-09/It2025-09-09_1.csv"]
    assert store.runs(until=dt.date(2025, 9, 8), proc=["IV", "LaserCalibration"])["proc"].sort().to_list() == [
        "IV", "LaserCalibration"]
    assert store.runs().height == manifest.height
    with pytest.raises(UsageError, match="unknown procedure 'Nope'"):
        store.runs(proc="Nope")
    with pytest.raises(UsageError, match="chip number 5"):
        store.runs(chip=5)
    assert store.runs(chip="alisson67").equals(store.runs(chip=67))  # a chip by its name, as the history shows it


def raised(error: type[Exception], call: Callable[[], object]) -> str:
    """The message `call` fails with: an `error`, and a UsageError too (labtui's one error for a user's mistake)."""
    with pytest.raises(error) as caught:
        call()
    assert isinstance(caught.value, UsageError)
    return str(caught.value)


def test_a_single_name_is_a_list_of_one_and_no_list_of_names_is_said(store: Store) -> None:
    # `columns="chip_name"` was read letter by letter: "unknown run columns c, h, i, p, _, n, a, m, e"
    one = store.scan(columns="chip_name").collect()
    assert one.columns[:5] == ["run_id", "proc", "date_local", "seq", "chip_name"]
    assert one.equals(store.scan(columns=["chip_name"]).collect())
    assert store.scan(columns=None).collect_schema() == store.scan().collect_schema()
    assert raised(TypeError, lambda: store.scan(columns=5)) == "columns takes a column name or a list of them, not 5"
    assert raised(TypeError, lambda: store.runs(proc=["It", 5])) == (
        "proc takes a procedure name or a list of them, not ['It', 5]")
    assert raised(TypeError, lambda: store.scan(67)) == (  # scan's first argument is proc, runs' is chip
        "proc takes a procedure name or a list of them, not 67")
    assert raised(TypeError, lambda: store.scan(run_ids=[1])) == "run_ids takes a run_id or a list of them, not [1]"


def test_a_chip_is_a_number_or_a_name(store: Store) -> None:
    assert store.runs(chip=np.int64(67)).equals(store.runs(chip=67))  # a number out of a frame's chip_number
    takes = 'chip takes a chip number (67) or name ("Alisson67"), not '
    assert raised(TypeError, lambda: store.runs(chip=67.0)) == takes + "67.0"  # was a TypeError from a regex
    assert raised(TypeError, lambda: store.runs(chip=True)) == takes + "True"  # was "no runs of chip number True"
    assert raised(TypeError, lambda: store.scan(chip=[67, 71])) == takes + "[67, 71]"


def test_a_flag_is_true_or_false(store: Store) -> None:
    assert store.runs(light=np.bool_(True)).equals(store.runs(light=True))
    # each of these matched no run, or every run, instead of failing
    assert raised(TypeError, lambda: store.runs(light="yes")) == "light takes True, False or None, not 'yes'"
    assert raised(TypeError, lambda: store.runs(light=1)) == "light takes True, False or None, not 1"
    assert raised(TypeError, lambda: store.runs(starred="no")) == "starred takes True or False, not 'no'"
    assert raised(TypeError, lambda: store.scan(include_excluded=None)) == (
        "include_excluded takes True or False, not None")


def test_a_wavelength_or_a_gate_voltage_is_a_number(store: Store) -> None:
    assert store.runs(wavelength=np.float32(455)).equals(store.runs(wavelength=455))
    assert store.runs(vg=np.float64(-0.35)).height == 3
    assert raised(TypeError, lambda: store.runs(wavelength="455")) == (  # Polars read it as a column name
        "wavelength takes a wavelength in nm (365) or None, not '455'")
    assert raised(TypeError, lambda: store.runs(vg=True)) == "vg takes a gate voltage in V (-0.5) or None, not True"
    assert raised(UsageError, lambda: store.runs(vg=float("nan"))) == (  # matched nothing
        "vg takes a gate voltage in V (-0.5) or None, not nan")


def test_a_tag_a_group_and_a_search_are_text(store: Store) -> None:
    assert raised(TypeError, lambda: store.runs(tag=["a", "b"])) == "tag takes one tag (a str) or None, not ['a', 'b']"
    assert raised(TypeError, lambda: store.runs(search=5)) == "search takes a text to look for or None, not 5"
    assert raised(TypeError, lambda: store.runs(chip=67, group=5)) == (
        'group takes a chip group ("Alisson") or None, not 5')
    assert raised(UsageError, lambda: store.runs(group="Alisson")) == (
        'group needs chip: it is the group of a chip number (chip=67, group="Alisson")')


def test_since_and_until_are_local_dates(store: Store) -> None:
    assert store.runs(since="2025-09-09").equals(store.runs(since=dt.date(2025, 9, 9)))
    takes = 'takes a local date ("2025-09-08" or datetime.date), not '
    assert raised(UsageError, lambda: store.runs(since="yesterday")) == f"since {takes}'yesterday'"
    assert raised(TypeError, lambda: store.runs(until=20250908)) == f"until {takes}20250908"
    # a datetime is a date to isinstance: compared with date_local, since 09:00 left out the runs at 10:00 and later
    assert raised(TypeError, lambda: store.runs(since=dt.datetime(2025, 9, 8, 9, 0))) == (
        f"since {takes}datetime.datetime(2025, 9, 8, 9, 0) (its .date(), or filter start_time_utc for a time of day)")


def test_an_unknown_procedure_or_column_is_named_with_the_known_ones(store: Store) -> None:
    known = ", ".join(sorted(load_registry().procedures))
    assert raised(UsageError, lambda: store.runs(proc="Nope")) == f"proc: unknown procedure 'Nope' (known: {known})"
    unknown = raised(UsageError, lambda: store.scan(columns=["chip"]))
    assert unknown.startswith("columns: unknown run column chip (known: seq, date, ") and ", chip_name, " in unknown


def test_open_store_says_which_argument_is_wrong(lab: Lab) -> None:
    root = lab.config.store_root
    assert raised(TypeError, lambda: open_store(None)) == "path takes a folder (a str or pathlib.Path), not None"
    assert raised(TypeError, lambda: open_store(root, derived_root=3)) == (
        "derived_root takes a folder (a str or pathlib.Path), not 3")
    assert raised(TypeError, lambda: open_store(root, local_tz=-3)) == (
        'local_tz takes an IANA time zone name ("America/Santiago") or None, not -3')
    assert raised(UsageError, lambda: open_store(root, local_tz="UTC-3")) == (
        "local_tz: unknown time zone 'UTC-3' (use an IANA name like America/Santiago)")


def test_runs_carry_the_annotations_and_filter_by_them(tmp_path: Path) -> None:
    lab = all_procedures_lab(tmp_path)
    store = open_store(lab.config.store_root)
    runs = store.runs(chip=67)
    first, second = runs.row(0, named=True), runs.row(1, named=True)
    annotate(lab.config.store_root, runs.head(1), [Change("exclude", "contact lost"), Change("tag", "batch 2")],
             author="alice")
    annotate(lab.config.store_root, runs.slice(1, 1), [Change("star"), Change("note", "re-mounted")], author="bob")
    marked = store.runs(chip=67)
    assert marked.columns[-5:] == list(ANNOTATION_COLUMNS) and marked.height == runs.height
    assert marked.row(0, named=True) == first | {
        "starred": False, "excluded": True, "exclude_reason": "contact lost", "tags": ["batch 2"], "note": None}
    assert marked.row(1, named=True) == second | {
        "starred": True, "excluded": False, "exclude_reason": None, "tags": [], "note": "re-mounted"}
    assert store.annotations.sort("starred").rows() == [  # `current_annotations(store)` was a TypeError
        (first["run_id"], False, True, "contact lost", ["batch 2"], None),
        (second["run_id"], True, False, None, [], "re-mounted"),
    ]
    assert store.runs(chip=67, include_excluded=False).height == runs.height - 1
    assert store.runs(starred=True)["run_id"].to_list() == [second["run_id"]]
    assert store.runs(tag="batch 2")["run_id"].to_list() == [first["run_id"]]
    scanned = store.scan(run_ids=[first["run_id"]], columns=["excluded"])
    assert scanned.select("excluded").unique().collect().item() is True
    kept = store.scan(chip=67, include_excluded=False).select("run_id").unique().collect()["run_id"]
    assert first["run_id"] not in kept.to_list() and kept.len() == runs.height - 1


def test_scan_is_every_column_of_every_run(lab: Lab, store: Store) -> None:
    samples = store.scan(columns=["chip_name", "has_light"]).collect()
    truth = per_run_files(lab)
    data_columns = [name for name in truth.columns if name != "run_id"]
    assert samples.columns == ["run_id", "proc", "date_local", "seq", "chip_name", "has_light", *data_columns]
    assert samples.schema["run_id"] == pl.String
    assert {"t_s", "vg_v", "vsd_v", "vl_v", "power_w"} <= set(data_columns)
    counts = samples.select(pl.all().count()).row(0, named=True)
    assert {name: counts[name] for name in data_columns} == truth.select(data_columns).count().row(0, named=True)
    assert samples.height == truth.height
    digit_run = lab.run_of("2025-09-09/It2025-09-09_1.csv")["run_id"]
    assert digit_run.isdigit() and digit_run.startswith("0")
    assert samples.filter(pl.col("run_id") == digit_run).height == lab.run_of("2025-09-09/It2025-09-09_1.csv")["n_rows"]
    by_run = samples.group_by("run_id").agg(pl.len(), pl.col("proc", "date_local", "chip_name", "has_light").first())
    manifest = lab.manifest().select("run_id", pl.col("n_rows").cast(pl.UInt32).alias("len"), "proc", "date_local",
                                     "chip_name", "has_light")
    assert by_run.sort("run_id").equals(manifest.select(by_run.columns).sort("run_id"))


def test_scan_selects_runs_and_keeps_the_history_numbering(lab: Lab, store: Store) -> None:
    its = store.scan(proc="ITS", chip=67).collect()
    assert set(its["proc"]) == {"It"}
    assert its.columns[4:] == ["t_s", "i_a", "vl_v", "plate_t_degc", "ambient_t_degc", "clock_ms"]
    history_seq = dict(store.runs(chip=67).select("run_id", "seq").iter_rows())
    assert all(history_seq[run_id] == seq for run_id, seq in its.select("run_id", "seq").unique().iter_rows())
    calibration = lab.run_of("2025-09-08/LaserCalibration2025-09-08_1.csv")["run_id"]
    only = store.scan(run_ids=calibration).collect()
    assert only.columns[4:] == ["vl_v", "power_w"] and only["run_id"].unique().to_list() == [calibration]
    assert store.scan(run_ids=[]).collect().height == 0
    with pytest.raises(UsageError, match="unknown run column"):
        store.scan(columns=["chip"])


def test_a_run_column_never_takes_the_place_of_a_data_column_of_its_name(tmp_path: Path) -> None:
    """A Vt run's measured VDS is its data's `vds_v`; `columns=["vds_v"]` (the header's VDS, in the manifest) put
    0.1 V on every row in its place, without a word. Now refused, naming both; runs without such data take it."""
    lab = Lab(tmp_path)
    measured = data_rows(((k * 0.1, 0.37 + 1e-3 * (k % 2), 1.15 if 10 <= k < 20 else 0.0) for k in range(31)), 3)
    lab.write("2025-09-08/Vt2025-09-08_1.csv", raw_csv(
        "Vt", params={**BASE_PARAMS, "Laser ON+OFF period": "2 s", "VG": "-0.35 V", "Drain-Source current": "1e-6 A"},
        start=repr(local("2025-09-08 09:00").timestamp()), columns=("t (s)", "VDS (V)", "VL (V)"), rows=measured))
    lab.write_run("2025-09-08/It2025-09-08_2.csv", "It", start=local("2025-09-08 10:30"))
    lab.stage()
    store = open_store(lab.config.store_root)
    vt = store.scan(proc="Vt").collect()
    assert vt["vds_v"].min() == 0.37 and vt["vds_v"].max() == 0.371
    assert raised(UsageError, lambda: store.scan(proc="Vt", columns=["chip_name", "vds_v"])) == (
        "columns: vds_v is a run column and a data column of the Vt runs, which a scan keeps under its name: "
        "leave it out of columns (store.runs() has the run's vds_v, to join on run_id)")
    with pytest.raises(UsageError, match="data column of the Vt runs"):
        store.scan(columns="vds_v")  # a Vt run among others
    its = store.scan(proc="It", columns="vds_v").collect()  # the It runs' data has no vds_v: the manifest's
    assert its["vds_v"].unique().to_list() == [0.1]


def test_filters_on_run_columns_prune_files_before_opening_them(tmp_path: Path) -> None:
    lab = all_procedures_lab(tmp_path)
    store = open_store(lab.config.store_root)
    keep = lab.run_of("2025-09-08/IVg2025-09-08_1.csv")
    scan = store.scan()
    scan.collect_schema()  # the union of columns comes from the footers; after that only data is read
    for row in lab.manifest().filter(pl.col("run_id") != keep["run_id"]).iter_rows(named=True):
        run_parquet_path(store.stage_root, row["proc"], row["date_local"], row["run_id"]).write_bytes(b"torn")
    samples = scan.filter(pl.col("run_id") == keep["run_id"]).select("vg_v", "i_a").collect()
    assert samples.height == keep["n_rows"]
    on_day = scan.filter(pl.col("date_local") == keep["date_local"]).filter(pl.col("proc") == "IVg")
    assert on_day.select(pl.len()).collect().item() == keep["n_rows"]
    with pytest.raises(DamagedRun, match=r"damaged run file .*part-000\.parquet"):
        scan.filter(pl.col("i_a") > 0).collect()  # not a run-level filter: every file is read, the damage found


def test_a_run_file_deleted_outside_labtui_is_a_damaged_run_not_a_run_left_out(tmp_path: Path) -> None:
    """`rm -r` of one run's folder: a scan left its samples out, unsaid (21 of a chip's 22 runs), while a truncated
    file raised. The manifest still names it: it is damaged, said as a truncated one is."""
    lab = all_procedures_lab(tmp_path)
    store = open_store(lab.config.store_root)
    gone = lab.run_of("2025-09-08/IVg2025-09-08_1.csv")
    run_parquet_path(store.stage_root, gone["proc"], gone["date_local"], gone["run_id"]).unlink()
    with pytest.raises(DamagedRun, match=r"damaged run file .*part-000\.parquet: the file is missing"):
        store.scan().collect()


def test_a_store_gone_since_it_was_opened_is_said_not_read_as_empty(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """Renamed or unmounted while a notebook held it, a store read as no runs (a scan as part of them), and one
    opened by a relative path read as none after a `%cd`: an empty result no reader could tell from "no such runs"."""
    lab = all_procedures_lab(tmp_path / "lab")
    monkeypatch.chdir(lab.config.store_root.parent)
    relative = open_store(lab.config.store_root.name)
    pending = relative.scan(chip=67).select("run_id")
    monkeypatch.chdir(tmp_path)
    assert relative.root == lab.config.store_root and pending.collect().height > 0
    pending = relative.scan().select("run_id")
    pending.collect_schema()
    lab.config.store_root.rename(tmp_path / "moved")
    with pytest.raises(StoreGone, match=rf"the store {lab.config.store_root} is gone: moved, renamed or unmounted"):
        relative.runs()
    with pytest.raises(StoreGone):
        pending.collect()


def test_a_commit_between_scan_and_collect_is_read_whole(tmp_path: Path) -> None:
    """A pending scan meets the store of the next commit: a re-staged run is read in its new version, a run that
    moved partition (its procedure was corrected) is found in its new place, a pruned run is gone; a run whose raw
    file is another run now is said (it was left out, the file's samples missing from the result, unsaid)."""
    lab = all_procedures_lab(tmp_path)
    store = open_store(lab.config.store_root)
    pending = store.scan(columns=["information"])
    moved = lab.run_of("2025-09-08/IV2025-09-08_3.csv")
    lab.write_run("2025-09-08/IV2025-09-08_3.csv", "It", start=local("2025-09-08 11:00"), number=71, group="other")
    lab.write_run("2025-09-08/It2025-09-08_2.csv", "It", start=local("2025-09-08 10:30"), information="fixed note")
    gone = lab.run_of("2025-09-08/IVg2025-09-08_1.csv")
    (lab.raw / "2025-09-08/IVg2025-09-08_1.csv").unlink()
    lab.stage()
    drop_runs(lab.config, {gone["source_file"]})
    assert lab.run_of("2025-09-08/IV2025-09-08_3.csv")["run_id"] == moved["run_id"]
    old = run_parquet_path(store.stage_root, moved["proc"], moved["date_local"], moved["run_id"])
    old.unlink(missing_ok=True)  # what the next writer's orphan clean-up does (the stager leaves it for now)
    samples = pending.collect()
    assert gone["run_id"] not in samples["run_id"].to_list()
    relocated = samples.filter(pl.col("run_id") == moved["run_id"])
    assert set(relocated["proc"]) == {"It"} and relocated["t_s"].null_count() == 0
    assert relocated.height == lab.run_of("2025-09-08/IV2025-09-08_3.csv")["n_rows"]
    assert store.scan(columns=["information"]).filter(pl.col("information") == "fixed note").collect().height > 0
    replaced = lab.run_of("2025-09-08/It2025-09-08_2.csv")
    pending = store.scan()
    lab.write_run("2025-09-08/It2025-09-08_2.csv", "It", start=local("2025-09-08 10:40"))
    lab.stage()
    now = lab.run_of("2025-09-08/It2025-09-08_2.csv")["run_id"]
    with pytest.raises(StoreChanged, match=rf"^run {replaced['run_id']} \(2025-09-08/It2025-09-08_2.csv\) left the "
                       rf"store while this scan read it, and its raw file now holds run {now}: scan again"):
        pending.collect()


def test_metrics_are_of_the_manifests_runs_after_a_stage_killed_before_the_table(tmp_path: Path) -> None:
    """A stage killed after its manifest commit, before the table's: the replaced run's row was in `store.metrics`,
    a run of no history (`seq` null), beside its file's new run."""
    lab = all_procedures_lab(tmp_path)
    refresh_metrics(lab.config)
    old = lab.run_of("2025-09-08/It2025-09-08_2.csv")["run_id"]
    lab.write_run("2025-09-08/It2025-09-08_2.csv", "It", start=local("2025-09-08 10:40"))
    assert lab.cli("stage", crash_at="after_manifest_replace").returncode == CRASH_EXIT_CODE
    metrics = open_store(lab.config.store_root).metrics
    assert old not in metrics["run_id"].to_list() and metrics["seq"].null_count() == 0
    assert set(metrics["run_id"]) < set(lab.manifest()["run_id"])


def test_annotation_files_that_cannot_be_read_are_warned_of(lab: Lab) -> None:
    """An action file cut short (a sync, a full disk) left its exclusion out of `runs`, `metrics` and `annotations`:
    the run counted in every mean, unsaid (only `history` and `validate` said it)."""
    run_id = lab.manifest()["run_id"][0]
    assert lab.cli("annotate", "--run", run_id, "--exclude", "contact lost").returncode == 0  # another process
    action = next((lab.config.store_root / "_annotations" / "actions").glob("*.json"))
    action.write_bytes(action.read_bytes()[:40])
    store = open_store(lab.config.store_root)
    for read in (store.runs, lambda: store.metrics, lambda: store.annotations, store.scan):
        with pytest.warns(AnnotationsUnread, match=r"^1 annotation file cannot be read: its records are left") as said:
            read()
        assert said[0].filename == __file__  # the reader's own line, not labtui's
    action.unlink()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert store.runs()["excluded"].sum() == 0


def test_metrics_are_the_derived_table_or_empty(lab: Lab, tmp_path: Path) -> None:
    store = open_store(lab.config.store_root, derived_root=tmp_path / "derived")
    own = ["seq", *ANNOTATION_COLUMNS]  # numbered as a history, marked as `runs`
    assert store.metrics.is_empty() and store.metrics.drop(own).schema == METRICS_SCHEMA
    config = replace(lab.config, derived_root=tmp_path / "derived")
    table = refresh_metrics(config).table
    assert not table.is_empty() and store.metrics.drop(own).equals(read_metrics(config))
    excluded = table["run_id"][0]  # a mean over the table took a run the lab excluded, unmarked
    annotate(lab.config.store_root, table.head(1), [Change("exclude", "contact lost")], author="ana")
    assert store.metrics.filter(pl.col("excluded"))["run_id"].to_list() == [excluded]
    assert open_store(lab.config.store_root).derived_root == lab.config.store_root.parent / "store_derived"
    assert open_store(lab.config.store_root).derived_root == lab.config.derived_dir  # as the CLI and the app


def test_a_derived_root_a_stage_was_given_is_the_stores_until_it_is_gone(tmp_path: Path,
                                                                        capsys: pytest.CaptureFixture[str]) -> None:
    """Staged with `--derived-root`, the store's metrics were read empty by `open_store` and by `labtui metrics
    --store` not told again, which built a second table beside the store, unsaid. The last stage's derived root is
    recorded in the store and read by default, while that folder is there."""
    lab = Lab(tmp_path / "one" / "lab")
    lab.write("2025-10-13/IVg2025-10-13_1.csv", raw_csv("IVg"))
    derived = tmp_path / "one" / "elsewhere"
    derived.mkdir()
    bare = ["--store", str(lab.store_root), "--raw-root", str(lab.raw)]
    assert main(["stage", "--quiet", *bare, "--derived-root", str(derived)]) == 0
    assert open_store(lab.store_root).derived_root == derived and open_store(lab.store_root).metrics.height == 1
    assert main(["metrics", "--store", str(lab.store_root), "--format", "json"]) == 0
    assert not default_derived_root(lab.store_root).exists()  # no second table
    # the lab folder copied whole (store and table): the copy's stage updates the copy's table, not the original's
    shutil.copytree(tmp_path / "one", tmp_path / "two")
    copy = Lab(tmp_path / "two" / "lab")
    copy.write("2025-10-13/IVg2025-10-13_2.csv", raw_csv("IVg", start=1760371684.0 + 600))
    assert main(["stage", "--quiet", "--store", str(copy.store_root), "--raw-root", str(copy.raw)]) == 0
    assert open_store(copy.store_root).metrics.height == 2 and open_store(lab.store_root).metrics.height == 1
    assert open_store(copy.store_root).derived_root == tmp_path / "two" / "elsewhere"
    # the store folder alone copied beside the original: the recorded table would be the original's, not its own
    shutil.copytree(lab.store_root, lab.store_root.parent / "store_copy")
    assert open_store(lab.store_root.parent / "store_copy").derived_root == default_derived_root(
        lab.store_root.parent / "store_copy")
    shutil.rmtree(derived)  # gone: the default again, as any store's, and a command says so (it read an empty table)
    with pytest.warns(UserWarning, match=rf"derived tables in {derived}, which is not there"):
        assert open_store(lab.store_root).derived_root == default_derived_root(lab.store_root)
    capsys.readouterr()
    assert main(["history", "--store", str(lab.store_root), "--calibrations"]) == 0
    assert capsys.readouterr().err.splitlines() == [
        f"labtui: the store keeps its derived tables in {derived}, which is not there (a share not mounted?): reading "
        f"{default_derived_root(lab.store_root)} instead; give --derived-root {derived} once it is back"]


def as_json(value: object) -> object:
    """A value as the CLI's JSON writes it: dates ISO, UTC times `…Z`."""
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return value.isoformat() if isinstance(value, dt.date) else value


def test_runs_and_metrics_differ_from_the_cli_as_the_readme_says(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The README called them `labtui history …` and `labtui metrics`: the CLI's history has `start_time`, its
    metrics `seq`, which the API had not. `seq` is in `store.metrics` now; what still differs, the README says."""
    lab = all_procedures_lab(tmp_path)
    store = open_store(lab.config.store_root)

    def cli_rows(*args: str) -> dict[str, dict[str, object]]:
        assert main(lab.args(*args, "--include-excluded", "--format", "json")) == 0
        return {row["run_id"]: row for row in json.loads(capsys.readouterr().out)}

    def differing(api: pl.DataFrame, cli: dict[str, dict[str, object]]) -> set[str]:
        """The columns whose values differ on some run of `api`."""
        return {name for row in api.iter_rows(named=True) for name in row
                if name in cli[row["run_id"]] and as_json(row[name]) != cli[row["run_id"]][name]}

    history, cli = store.runs(chip=67, proc="It", light=True), cli_rows("history", "67", "--proc", "It", "--light")
    assert set(next(iter(cli.values()))) - set(history.columns) == {"start_time"}  # the epoch: start_time_utc here
    assert set(history.columns) <= set(next(iter(cli.values()))) and list(cli) == history["run_id"].to_list()
    assert differing(history, cli) == {"summary"}
    for row in history.iter_rows(named=True):
        line = cli[row["run_id"]]
        assert line["summary"] == f"{row['light']} It {row['chip_name']} {row['summary']} #{row['file_idx']}"
        assert line["start_time"] == pytest.approx(row["start_time_utc"].timestamp(), abs=1e-6)
    metrics, cli = store.metrics, cli_rows("metrics")
    assert set(metrics.columns) - set(next(iter(cli.values()))) == {"chip_group", "chip_number"}
    assert set(next(iter(cli.values()))) <= set(metrics.columns)
    assert sorted(cli) == sorted(metrics["run_id"])
    assert differing(metrics.filter(pl.col("has_light")), cli) == set()
    assert differing(metrics, cli) == {"laser_wavelength_nm"}  # a dark run's header keeps one: the CLI blanks it
    assert {cli[run_id]["laser_wavelength_nm"] for run_id in metrics.filter(~pl.col("has_light"))["run_id"]} == {None}


def test_import_labtui_stays_light() -> None:
    code = (
        "import sys, labtui; print('labtui.api' in sys.modules, 'polars' in sys.modules, labtui.open_store.__module__)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["False", "False", "labtui.api"]
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        import labtui

        labtui.nope  # noqa: B018


def test_manifest_text_is_large_string_and_string_typed_manifests_still_read(lab: Lab, tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    assert pq.read_schema(lab.config.manifest_path).field("run_id").type == pa.large_string()  # Polars' own type
    table = pq.read_table(lab.config.manifest_path)
    as_string = pa.schema(f.with_type(pa.string()) if f.type == pa.large_string() else f for f in table.schema)
    old = tmp_path / "manifest.parquet"
    pq.write_table(table.cast(as_string), old)  # how manifests were written for a while
    assert pq.read_schema(old).field("run_id").type == pa.string()
    assert read_manifest(old).equals(lab.manifest())


def test_a_folder_given_for_the_manifest_is_named_not_called_damage(lab: Lab, tmp_path: Path) -> None:
    """`read_manifest(store)` said the healthy store's manifest was damaged and sent its user to `labtui repair`."""
    root = lab.config.store_root
    takes = f"read_manifest takes the manifest file ({lab.config.manifest_path})"
    for folder in (root, root / "_manifest", lab.config.stage_root):
        assert raised(UsageError, lambda folder=folder: read_manifest(folder)) == f"{folder} is a folder: {takes}"
    assert raised(UsageError, lambda: read_manifest(tmp_path)) == (
        f"{tmp_path} is a folder: read_manifest takes the manifest file (a store's _manifest/manifest.parquet)")
    (tmp_path / "_manifest" / "manifest.parquet").mkdir(parents=True)  # a folder in the manifest's place: damage
    with pytest.raises(ManifestDamaged, match=r"\(a folder, not a file\): run `labtui repair`"):
        read_manifest(tmp_path / "_manifest" / "manifest.parquet")
