"""`labtui demo` and the demo cache behind `labtui --demo`: a stageable lab with its own config."""

from __future__ import annotations

from pathlib import Path

import pytest

from labtui.cli import main
from labtui.core.config import load_config
from labtui.core.manifest import read_manifest
from labtui.synth import LabSpec
from labtui.synth.demo import MARKER, default_demo_dir, ensure_demo, write_demo
from tests.lab import cli_env

SMALL = LabSpec(chips=2, days=2, seed=3)


def test_demo_command_writes_a_lab_that_stages(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "lab"
    assert main(["demo", str(folder), "--chips", "2", "--days", "3", "--seed", "2", "--stage"]) == 0
    out = capsys.readouterr().out
    config = load_config(folder / "config" / "labtui.yaml")
    assert config.raw_root == folder / "data" / "01_raw"
    manifest = read_manifest(config.manifest_path)
    assert manifest.height > 10 and f"labtui --config {folder / 'config' / 'labtui.yaml'}" in out
    assert set(manifest["proc"].unique()) >= {"It", "IVg"}
    work = tmp_path / "work"  # someone's folder: the demo's config would steer every command run there
    (work / "02_stage").mkdir(parents=True)
    (work / "notes.txt").write_text("mine")
    afile = work / "notes.txt"  # a file where the folder goes: the user's mistake (2), not the system's (74)
    for argv, message in (([str(folder)], "already holds files"),  # never overwrites a lab
                          ([str(work)], f"{work} is not empty (it holds 02_stage, notes.txt)"),
                          ([str(afile)], f"cannot write the demo lab into {afile}: Not a directory ({afile} is a "
                                         "file where a folder is needed)"),
                          ([str(afile / "lab")], f"({afile} is a file where a folder is needed)"),
                          ([str(tmp_path / "other"), "--seed", "-5"], "the seed is a whole number ≥ 0, not -5")):
        assert main(["demo", *argv]) == 2
        assert message in capsys.readouterr().err
    assert sorted(p.name for p in work.iterdir()) == ["02_stage", "notes.txt"]  # nothing written there


def test_ensure_demo_generates_once_and_redoes_an_interrupted_one(tmp_path: Path) -> None:
    folder = tmp_path / "cache"
    config_file = ensure_demo(folder, SMALL)
    raw_files = sorted(p.name for p in (folder / "data" / "01_raw").rglob("*.csv"))
    stamp = (folder / MARKER).stat().st_mtime_ns
    assert ensure_demo(folder, SMALL) == config_file and (folder / MARKER).stat().st_mtime_ns == stamp
    (folder / MARKER).unlink()  # as if generation had been interrupted
    ensure_demo(folder, SMALL)
    assert sorted(p.name for p in (folder / "data" / "01_raw").rglob("*.csv")) == raw_files


def test_default_demo_dir_honours_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("LABTUI_DEMO_DIR", str(tmp_path / "d"))
    assert default_demo_dir() == tmp_path / "d"
    monkeypatch.delenv("LABTUI_DEMO_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "c"))
    assert default_demo_dir() == tmp_path / "c" / "labtui" / "demo"


def test_a_command_given_demo_reads_the_demo_lab(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    """The README sends a new user from `labtui --demo` to `labtui history 68`: run beside the demo, the command read
    the empty lab of the folder it ran in, and `labtui --demo chips` ignored --demo."""
    folder = tmp_path / "demo"
    monkeypatch.setenv("LABTUI_DEMO_DIR", str(folder))
    monkeypatch.chdir(tmp_path)
    ensure_demo(folder, SMALL)
    assert main(["--demo", "chips"]) == 0  # staged first, as the app stages it when it opens
    out, err = capsys.readouterr()
    assert out.startswith("CHIP") and "Alisson" in out
    assert err == "labtui: staging the demo lab (the first time only)…\n"
    assert main(["--demo", "chips"]) == 0
    assert capsys.readouterr().err == ""
    assert main(["--demo", "chips", "--store", str(tmp_path)]) == 2
    assert capsys.readouterr().err == "labtui: --demo names the lab: not with --store\n"
    assert not (tmp_path / "data").exists()  # nothing of a lab written where the command ran


def test_a_demo_that_runs_out_of_room_leaves_no_part_of_a_lab(tmp_path: Path) -> None:
    """A full disk (here a file-size limit: the OS refuses the write, as on a full disk) left an empty raw file
    behind, and `labtui demo` there again refused the folder as one that "already holds files"."""
    import resource
    import signal
    import subprocess
    import sys

    def small_files() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # the write fails (EFBIG) instead of the process dying
        resource.setrlimit(resource.RLIMIT_FSIZE, (20_000, 20_000))

    folder = tmp_path / "lab"
    own = folder / "config" / "labtui.yaml"  # a config the lab wrote: refused, never written over
    own.parent.mkdir(parents=True)
    own.write_text("raw_root: elsewhere\n", encoding="utf-8")
    with pytest.raises(FileExistsError, match="is a config of its own, not the demo's"):
        write_demo(folder, SMALL)
    assert own.read_text(encoding="utf-8") == "raw_root: elsewhere\n" and not (folder / "data").exists()
    own.unlink()
    full = subprocess.run([sys.executable, "-m", "labtui", "demo", str(folder), "--chips", "2", "--days", "2"],
                          preexec_fn=small_files, capture_output=True, text=True, timeout=120, cwd=tmp_path,
                          env=cli_env())
    assert full.returncode == 74 and "File too large" in full.stderr, full.stderr
    assert not (folder / "data" / "01_raw").exists() and not own.exists()
    assert main(["demo", str(folder), "--chips", "2", "--days", "2"]) == 0  # room again: the demo is written
