"""The stat index beside the manifest: written with a stage's last commit, trusted only while it names the current
manifest."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import polars as pl

from labtui.core.config import default_registry_path, registry_digest
from labtui.core.extraction_rules import EXTRACTION_RULES
from labtui.core.findings import FindingCode
from labtui.core.manifest import read_manifest, write_manifest
from labtui.core.overview import overview_path, read_overview
from labtui.core.stage_chunk import CHUNK_FILES
from labtui.core.stage_events import StageEvent
from labtui.core.stager import Stager
from labtui.core.stat_index import Signatures, index_path, manifest_digest, read_stat_index
from labtui.core.validate import validate
from tests.lab import Lab, it_rows, raw_csv

ROOT = Path(__file__).resolve().parents[1]


def index_of(lab: Lab) -> dict:
    return json.loads(index_path(lab.config.manifest_path).read_bytes())


def indexed(lab: Lab, digest: str | None = None) -> Signatures | None:
    """What a stage reads from the stat index now (None: it reads the manifest)."""
    path = lab.config.manifest_path
    return read_stat_index(path, digest or manifest_digest(path), registry_digest(lab.config.procedures_file),
                           lab.config.local_tz)


def files_of(index: dict) -> dict[str, list]:
    """The index's columns as source file → [size, mtime µs, run_id]."""
    return {source: [size, mtime, run_id] for source, size, mtime, run_id in
            zip(index["source_file"], index["size"], index["mtime_us"], index["run_id"], strict=True)}


def test_index_lists_every_manifest_row_and_names_the_manifest(lab: Lab) -> None:
    lab.write("a/It2025-10-13_1.csv", raw_csv("It"))
    lab.write("a/IVg2025-10-13_2.csv", raw_csv("IVg"))
    lab.stage()
    index = index_of(lab)
    manifest = lab.manifest()
    assert index["manifest_sha256"] == manifest_digest(lab.config.manifest_path)
    expected = {
        row["source_file"]: [row["source_size"], int(row["source_mtime"].timestamp() * 1e6), row["run_id"]]
        for row in manifest.iter_rows(named=True)
    }
    assert files_of(index) == expected
    for source, (size, mtime_us, _) in expected.items():
        info = (lab.raw / source).stat()
        assert (size, mtime_us) == (info.st_size, info.st_mtime_ns // 1000)


def test_a_long_stage_indexes_only_its_last_commit(lab: Lab) -> None:
    """The periodic commits of a long stage leave the stat index and the overview alone (rewriting them at every
    commit grew the peak memory with the store); the stage writes both for the manifest it leaves. One worker and
    three chunks: the third is handed out after the first periodic commit, so there are at least two."""
    files = 2 * CHUNK_FILES + 1
    for idx in range(1, files + 1):
        lab.write(f"a/It2025-10-13_{idx}.csv", raw_csv("It", start=1760371684.0 + 200 * idx))
    records = (index_path(lab.config.manifest_path), overview_path(lab.config.manifest_path))
    seen: list[tuple[bool, bool]] = []

    def on_event(event: StageEvent) -> None:
        if event.kind == "commit":
            seen.append(tuple(record.exists() for record in records))  # type: ignore[arg-type]

    config = replace(lab.config, commit_interval_seconds=1e-9, workers=1)
    report = Stager(config, on_event=on_event).run()
    assert report.commits >= 2 and seen[0] == (False, False)  # a periodic commit wrote neither
    digest = manifest_digest(lab.config.manifest_path)
    assert set(indexed(lab, digest) or {}) == set(lab.manifest()["source_file"])
    assert (described := read_overview(lab.config.manifest_path, config.local_tz, digest)) is not None
    assert described.runs == files


def test_an_index_of_another_manifest_is_never_trusted(lab: Lab) -> None:
    """A crash between the manifest replace and the index write leaves an index of the previous manifest: an index
    that lies about a changed file is believed only while its hash matches, so the hash is what keeps it honest."""
    path = lab.write("a/It2025-10-13_1.csv", raw_csv("It", rows=it_rows()[:5]))
    lab.stage()
    committed = index_of(lab)
    path.write_bytes(raw_csv("It"))
    info = path.stat()
    lie = {**committed, "source_file": ["a/It2025-10-13_1.csv"], "size": [info.st_size],
           "mtime_us": [info.st_mtime_ns // 1000], "run_id": ["0" * 16]}
    index_file = index_path(lab.config.manifest_path)

    index_file.write_text(json.dumps(lie))
    assert lab.stage().unchanged == 1  # same hash: believed (the writer keeps it true, see the first test)

    index_file.write_text(json.dumps({**lie, "manifest_sha256": "f" * 64}))
    report = lab.stage()
    assert (report.staged, report.unchanged) == (1, 0)
    assert files_of(index_of(lab))["a/It2025-10-13_1.csv"][:2] == [info.st_size, info.st_mtime_ns // 1000]
    assert lab.manifest()["n_rows"].to_list() == [len(it_rows())]


def test_a_missing_or_torn_index_falls_back_to_the_manifest_and_is_rewritten(lab: Lab) -> None:
    lab.write("a/It2025-10-13_1.csv", raw_csv("It"))
    lab.stage()
    index_file = index_path(lab.config.manifest_path)
    good = index_file.read_bytes()
    uneven = json.dumps(json.loads(good) | {"size": []}).encode()  # columns of different lengths: never zipped short
    for damage in (None, b"", b'{"format": 1, "manifest_sha25', b"[1, 2]", b'{"format": 99}', uneven):
        if damage is None:
            index_file.unlink()
        else:
            index_file.write_bytes(damage)
        assert indexed(lab) is None
        report = lab.stage()
        assert (report.staged, report.unchanged) == (0, 1)
        assert index_file.read_bytes() == good  # healed by the run that could not use it
    before = index_file.stat().st_mtime_ns
    lab.stage()
    assert index_file.stat().st_mtime_ns == before  # a usable index is left alone


def test_a_no_change_run_never_loads_polars_or_pydantic(lab: Lab) -> None:
    lab.write("a/It2025-10-13_1.csv", raw_csv("It"))
    lab.write("a/broken.csv", "not a measurement\n")
    lab.stage()
    probe = (
        "import sys\n"
        "from pathlib import Path\nfrom labtui.core.config import load_config\n"
        "from labtui.core.stager import stage\n"
        f"report = stage(load_config(Path({str(lab.root / 'config' / 'labtui.yaml')!r})))\n"
        "heavy = sorted(m for m in ('polars', 'numpy', 'pyarrow', 'pydantic') if m in sys.modules)\n"
        "print(report.unchanged, report.rejected, heavy)\n"
    )
    run = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.split() == ["1", "1", "[]"]


def as_an_older_labtui_left_it(lab: Lab, rules: int | None) -> None:
    """The store as a labtui of other extraction rules leaves it: each row's `extraction_rules` (None: a labtui from
    before rows recorded them, whose manifest has no such column), a summary that its rules read differently, and
    its stat index of that manifest (believed by its hash: only the rules it was made by tell it apart)."""
    manifest = lab.manifest().with_columns(summary=pl.lit("as the old rules read it"))
    manifest = manifest.drop("extraction_rules") if rules is None else manifest.with_columns(
        extraction_rules=pl.lit(rules, pl.Int64))
    write_manifest(manifest, lab.config.manifest_path)
    index = index_of(lab)
    index_path(lab.config.manifest_path).write_text(json.dumps(
        {key: value for key, value in index.items() if key != "extraction_rules" or rules is not None}
        | {"manifest_sha256": manifest_digest(lab.config.manifest_path)}
        | ({} if rules is None else {"extraction_rules": rules})))


def test_a_store_of_older_extraction_rules_is_read_again_by_a_plain_stage(lab: Lab) -> None:
    """An upgrade that reads raw files differently (an escape in a header, a negative zero) must not leave the old
    values in the store until someone thinks of `restage --force`: the rows record their rules, and a stage reads
    the files of older rows again; the next stage has nothing to do."""
    lab.write("a/It2025-10-13_1.csv", raw_csv("It"))
    lab.write("a/IVg2025-10-13_2.csv", raw_csv("IVg"))
    lab.stage()
    fresh = lab.manifest()
    sources = sorted(fresh["source_file"])
    assert fresh["extraction_rules"].to_list() == [EXTRACTION_RULES] * 2
    for rules in (None, EXTRACTION_RULES - 1):
        as_an_older_labtui_left_it(lab, rules)
        old = read_manifest(lab.config.manifest_path)
        assert old["extraction_rules"].to_list() == [0 if rules is None else rules] * 2  # 0: before rows said
        report = validate(lab.config)  # an older store is a valid store, whose next stage reads the files again
        assert report.ok and [(f.code, f.items, f.restage) for f in report.findings] == [
            (FindingCode.RAW_OLDER_RULES, sources, tuple(sources))]
        events: list[StageEvent] = []
        report = Stager(lab.config, on_event=events.append).run()
        assert (report.staged, report.read_again, report.unchanged) == (2, 2, 0)
        assert "2 staged (2 read again by newer rules)" in report.line()
        assert any(event.message == "2 to read (2 read again by newer rules)" for event in events)
        assert lab.manifest().drop("ingested_at_utc").equals(fresh.drop("ingested_at_utc"))  # the run_ids too
        assert index_of(lab)["extraction_rules"] == EXTRACTION_RULES
        report = lab.stage()
        assert (report.staged, report.read_again, report.unchanged) == (0, 0, 2)


def test_a_touched_file_of_older_rules_is_staged_again(lab: Lab) -> None:
    """A touched file's new stat is recorded without staging it only when its row is what this labtui would make:
    a row of older rules is made again, the file touched or not."""
    path = lab.write("a/It2025-10-13_1.csv", raw_csv("It"))
    lab.stage()
    as_an_older_labtui_left_it(lab, EXTRACTION_RULES - 1)
    moved = path.stat().st_mtime_ns - 10**9
    os.utime(path, ns=(moved, moved))
    report = lab.stage()
    assert (report.staged, report.touched) == (1, 0)
    assert lab.manifest()["extraction_rules"].to_list() == [EXTRACTION_RULES]


def test_a_registry_that_cannot_be_read_fails_a_stage_with_nothing_to_read(lab: Lab, tmp_path: Path) -> None:
    """A mistyped `procedures_file` passed every stage that had no file to read (exit 0, `0 staged`), until a new
    file failed on it: said at once, and the store left as it was."""
    lab.write("a/It2025-10-13_1.csv", raw_csv("It"))
    lab.stage()
    before = lab.config.manifest_path.read_bytes()
    lab.configure(procedures_file=tmp_path / "procedurs.yaml")
    result = lab.cli("stage")
    assert result.returncode == 2 and result.stderr == (
        f"labtui: cannot read procedure registry {tmp_path / 'procedurs.yaml'}: No such file or directory\n")
    assert lab.config.manifest_path.read_bytes() == before


def test_an_edited_registry_entry_reads_its_procedures_files_again(lab: Lab, tmp_path: Path) -> None:
    """A run staged as complete before its procedure had a completeness rule stayed complete until someone thought
    of `restage --force`: a row records its procedure's registry entry, and a plain stage reads again the files of
    an entry edited since, and only those (also when the edit kept the file's mtime, in the same process: the
    registry loaded was cached by mtime, and the stat index then vouched for the old rules); an edit of the wording
    alone (a description) reads nothing again."""
    registry = tmp_path / "procedures.yaml"
    rule = ('    completeness: {kind: duration, column: "t (s)", period_parameter: Laser ON+OFF period, '
            "periods: 1.5}\n")
    default = default_registry_path().read_text()
    assert rule in default
    registry.write_text(default.replace(rule, ""))
    lab.configure(procedures_file=registry)
    lab.write("a/It2025-10-13_1.csv", raw_csv("It", rows=it_rows()[:5]))  # 0.4 s of a 3 s run: cut short
    lab.write("a/IVg2025-10-13_2.csv", raw_csv("IVg"))
    lab.stage()
    assert lab.manifest().sort("proc")["is_complete"].to_list() == [True, True]  # no rule for It says otherwise
    saved = registry.stat()
    registry.write_text(default)
    os.utime(registry, ns=(saved.st_atime_ns, saved.st_mtime_ns))  # saved twice within a share's clock tick
    report = validate(lab.config)
    assert [(f.code, f.items) for f in report.findings] == [(FindingCode.RAW_OLDER_RULES, ["a/It2025-10-13_1.csv"])]
    report = lab.stage()
    assert (report.staged, report.read_again, report.unchanged) == (1, 1, 1)
    assert lab.manifest().sort("proc")["is_complete"].to_list() == [True, False]  # IVg, It
    registry.write_text(default.replace("current vs time under a pulsed laser", "I(t) under the laser"))
    report = lab.stage()
    assert (report.staged, report.read_again, report.unchanged) == (0, 0, 2)
    assert [f.code for f in validate(lab.config).findings] == [FindingCode.INCOMPLETE]  # nothing left to read again
    columns = 'required_columns: ["t (s)", "I (A)", "VL (V)"]'
    registry.write_text(default.replace(columns, columns.replace("]", ', "Gate leak (A)"]'), 1))
    report = lab.stage()  # the It file lacks the column now required: rejected, its run kept
    assert (report.read_again, report.rejected) == (1, 1) and lab.manifest().height == 2
    assert lab.stage().rejected == 1  # judged as it is: not read again
    codes = [f.code for f in validate(lab.config).findings]  # listed as a reject, not as a file the stage reads again
    assert FindingCode.REJECTS in codes and FindingCode.RAW_OLDER_RULES not in codes


def test_rows_of_newer_rules_are_left_to_the_labtui_that_made_them(lab: Lab) -> None:
    """Two labtuis on one store (the acquisition PC's older one, the office's newer): the older one neither reads
    the newer's rows again (they would go back and forth at every stage) nor calls them invalid."""
    lab.write("a/It2025-10-13_1.csv", raw_csv("It"))
    lab.stage()
    as_an_older_labtui_left_it(lab, EXTRACTION_RULES + 1)
    assert indexed(lab) is None
    report = lab.stage()
    assert (report.staged, report.unchanged) == (0, 1)
    assert lab.manifest()["summary"].to_list() == ["as the old rules read it"]
    assert validate(lab.config).findings == []


def test_rows_an_older_labtui_rewrote_without_their_registry_entry_are_not_read_again(lab: Lab) -> None:
    """An older labtui on the same store (the acquisition PC's) rewrites the manifest without the `procedure_rules`
    column it does not know: the newer one read every file again after each of its commits."""
    lab.write("a/It2025-10-13_1.csv", raw_csv("It"))
    lab.write("a/IVg2025-10-13_2.csv", raw_csv("IVg"))
    lab.stage()
    write_manifest(lab.manifest().drop("procedure_rules"), lab.config.manifest_path)
    index = {key: value for key, value in index_of(lab).items() if key != "registry_sha256"}  # as it writes one
    index_path(lab.config.manifest_path).write_text(json.dumps(
        index | {"manifest_sha256": manifest_digest(lab.config.manifest_path), "extraction_rules": 2}))
    report = lab.stage()
    assert (report.staged, report.read_again, report.unchanged) == (0, 0, 2)
    assert validate(lab.config).findings == []


def test_a_reject_of_older_rules_is_judged_again(lab: Lab) -> None:
    """A file an older labtui rejected may stage now (a rule that reads it was added): a stage reads it again; the
    reject it earns again holds until the file or the rules change."""
    lab.write("a/It2025-10-13_1.csv", raw_csv("It"))
    lab.write("a/broken.csv", "not a measurement\n")
    lab.stage()
    (record_file,) = lab.config.rejects_dir.glob("*.json")
    record = json.loads(record_file.read_bytes())
    assert record["extraction_rules"] == EXTRACTION_RULES
    record_file.write_text(json.dumps({key: value for key, value in record.items() if key != "extraction_rules"}))
    report = validate(lab.config)
    assert [(f.code, f.items) for f in report.findings if f.code != FindingCode.REJECTS] == [
        (FindingCode.RAW_OLDER_RULES, ["a/broken.csv"])]
    report = lab.stage()
    assert (report.read_again, report.unchanged, len(report.new_rejects), report.rejected) == (1, 1, 1, 1)
    report = lab.stage()
    assert (report.read_again, report.unchanged, len(report.new_rejects), report.rejected) == (0, 1, 0, 1)
