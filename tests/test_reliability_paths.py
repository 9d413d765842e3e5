"""Promises 1 and 7: the raw tree is read-only to labtui, and nothing in a raw file or a config makes labtui write
outside the store, run code, or follow a link out of the raw root.

The write-confinement test watches the process itself: every Python-level file operation (and Polars' Parquet
writer) is recorded while a deliberately nasty raw tree is staged, and each recorded path is checked.
"""

from __future__ import annotations

import builtins
import fcntl
import io
import os
import re
import shutil
from pathlib import Path

import polars as pl
import pytest

from labtui.core.lab_files import ConfigError
from labtui.core.registry import load_registry
from labtui.core.stager import Stager
from tests.lab import OLD_MTIME, Lab, put, render_run
from tests.promises import assert_settled, raw_snapshot, tree_listing

REPO = Path(__file__).resolve().parents[1]
WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND


class FileSpy:
    """Records file operations of this process: (operation, absolute path, detail)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls: list[tuple[str, str, object]] = []
        self.fds: dict[int, str] = {}
        real_open, real_io_open = os.open, io.open

        def spy_open(path: object, flags: int, *args: object, **kwargs: object) -> int:
            fd = real_open(path, flags, *args, **kwargs)  # type: ignore[arg-type]
            if kwargs.get("dir_fd") is None:
                self.calls.append(("os.open", self._abs(path), flags))
                self.fds[fd] = self._abs(path)
            return fd

        def spy_io_open(file: object, mode: str = "r", *args: object, **kwargs: object) -> object:
            if not isinstance(file, int):
                self.calls.append(("open", self._abs(file), mode))
            return real_io_open(file, mode, *args, **kwargs)  # type: ignore[call-overload]

        monkeypatch.setattr(os, "open", spy_open)
        monkeypatch.setattr(io, "open", spy_io_open)
        monkeypatch.setattr(builtins, "open", spy_io_open)
        for name in ("replace", "rename", "mkdir", "unlink", "remove", "rmdir", "utime", "chmod", "symlink", "link",
                     "truncate", "mkfifo", "chown"):
            self._wrap(monkeypatch, os, name)
        self._wrap(monkeypatch, shutil, "rmtree")
        for name in ("flock", "lockf"):
            real = getattr(fcntl, name)

            def spy_lock(fd: int, *args: object, _real: object = real, _name: str = name) -> object:
                self.calls.append((f"fcntl.{_name}", self.fds.get(fd, f"fd {fd}"), args))
                return _real(fd, *args)  # type: ignore[operator]

            monkeypatch.setattr(fcntl, name, spy_lock)
        real_write_parquet = pl.DataFrame.write_parquet

        def spy_write_parquet(frame: pl.DataFrame, file: object, *args: object, **kwargs: object) -> object:
            if not isinstance(file, io.IOBase):
                self.calls.append(("write_parquet", self._abs(file), None))
            return real_write_parquet(frame, file, *args, **kwargs)  # type: ignore[arg-type]

        monkeypatch.setattr(pl.DataFrame, "write_parquet", spy_write_parquet)
        real_sink_parquet = pl.LazyFrame.sink_parquet

        def spy_sink_parquet(frame: pl.LazyFrame, path: object, *args: object, **kwargs: object) -> object:
            if not isinstance(path, io.IOBase):  # the stager writes a chunk's Parquet with sinks
                self.calls.append(("write_parquet", self._abs(path), None))
            return real_sink_parquet(frame, path, *args, **kwargs)  # type: ignore[arg-type]

        monkeypatch.setattr(pl.LazyFrame, "sink_parquet", spy_sink_parquet)

    @staticmethod
    def _abs(path: object) -> str:
        return os.path.abspath(os.fsdecode(path))  # type: ignore[arg-type]

    def _wrap(self, monkeypatch: pytest.MonkeyPatch, module: object, name: str) -> None:
        real = getattr(module, name)

        def spy(*args: object, **kwargs: object) -> object:
            paths = [a for a in args[:2] if isinstance(a, (str, bytes, os.PathLike))]
            if kwargs.get("dir_fd") is None:
                for path in paths:
                    self.calls.append((f"{module.__name__}.{name}", self._abs(path), None))  # type: ignore[attr-defined]
            return real(*args, **kwargs)

        monkeypatch.setattr(module, name, spy)

    def writes(self) -> list[tuple[str, str, object]]:
        """Every operation that creates, changes or removes something."""
        found = []
        for op, path, detail in self.calls:
            if op == "os.open" and not int(detail) & WRITE_FLAGS:  # type: ignore[call-overload]
                continue
            if op == "open" and not re.search(r"[wax+]", str(detail)):
                continue
            if op.startswith("fcntl."):
                continue
            found.append((op, path, detail))
        return found


def under(path: str, root: Path) -> bool:
    return Path(path).is_relative_to(root.resolve()) or Path(path).is_relative_to(root)


def _nasty_tree(raw: Path, outside: Path) -> None:
    """Files whose content or name tries to steer a path: traversal in every header value, links out, odd names."""
    outside.mkdir(parents=True, exist_ok=True)
    put(outside / "secret.csv", render_run("IV")[1], OLD_MTIME)
    put(outside / "IVg2025-09-15_9.csv", render_run("IVg", file_idx=9)[1], OLD_MTIME)
    params = {"Chip group name": "../../../../outside/pwn", "Sample": "/etc/passwd", "Information": "..\\..\\x",
              "Procedure version": "proc=Evil/date=1999-01-01"}
    for i, proc in enumerate(("It", "IVg", "IV", "LaserCalibration"), start=1):
        put(raw / "2025-09-15" / f"{proc}2025-09-15_{i}.csv",
                  render_run(proc, file_idx=i, params=params)[1], OLD_MTIME)
    put(raw / "..weird" / "x.csv", render_run("IVg", file_idx=5)[1], OLD_MTIME)  # hidden folder: skipped
    put(raw / "2025-09-15" / "..csv", render_run("IVg", file_idx=6)[1], OLD_MTIME)  # hidden name
    hive_like = raw / "2025-09-15" / "proc=It" / "date=2020-01-01"
    put(hive_like / "IVg_7.csv", render_run("IVg", file_idx=7)[1], OLD_MTIME)
    put(
        raw / "2025-09-15" / "evil.csv",
        render_run("IVg", file_idx=8)[1].replace(b"laser_setup.procedures.IVg.IVg", b"../../../outside/IVg"),
        OLD_MTIME,
    )
    os.symlink(outside / "secret.csv", raw / "2025-09-15" / "link_out.csv")
    os.symlink(outside, raw / "escape")
    os.symlink("/etc", raw / "etc")


def test_staging_writes_only_inside_the_store_and_only_reads_the_raw_tree(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lab = Lab(tmp_path / "lab")
    outside = tmp_path / "outside"
    _nasty_tree(lab.raw, outside)
    raw_before, outside_before = raw_snapshot(lab.raw), raw_snapshot(outside)
    spy = FileSpy(monkeypatch)
    report = lab.stage()
    lab.stage(force=True)  # re-stage everything: replaces, removals, reject rewrites
    Stager(lab.config, only=[lab.raw / "escape" / "IVg2025-09-15_9.csv"]).run()  # a path through a dir link
    monkeypatch.undo()

    assert report.staged == 5 and report.rejected == 2, report.line()  # `evil.csv` and the link are rejected
    raw_fds = {path for op, path, _ in spy.calls if op == "os.open" and under(path, lab.raw)}
    assert len(raw_fds) >= 5, "the spy saw no raw file opened: it watches nothing"
    assert any(op == "write_parquet" and under(path, lab.store_root) for op, path, _ in spy.calls)
    derived = lab.config.derived_dir  # the derived table (metrics.parquet) is the stage's other output
    escaped = [call for call in spy.writes() if not (under(call[1], lab.store_root) or under(call[1], derived))]
    assert not escaped, f"writes outside the store and its derived tables: {escaped[:10]}"
    raw_writes = [call for call in spy.writes() if under(call[1], lab.raw)]
    assert not raw_writes, raw_writes
    locks = [call for call in spy.calls if call[0].startswith("fcntl.") and call[1] in raw_fds]
    assert not locks, f"raw files were locked: {locks}"
    reads_outside = [
        call for call in spy.calls if under(call[1], outside) or call[1].startswith("/etc/") or "/escape/" in call[1]
    ]
    assert not reads_outside, f"opened through a link out of the raw root: {reads_outside}"
    assert raw_snapshot(lab.raw) == raw_before, "the raw tree changed"
    assert raw_snapshot(outside) == outside_before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["lab", "outside"]
    assert sorted(p.name for p in lab.root.iterdir()) == ["config", "raw", "store", "store_derived"]
    assert_settled(lab.config)


BOMB = '!!python/object/apply:os.system ["touch {marker}"]'


def test_a_config_file_cannot_run_code(tmp_path: Path) -> None:
    lab = Lab(tmp_path)
    put(lab.raw / "IVg2025-09-15_1.csv", render_run("IVg")[1], OLD_MTIME)
    marker = tmp_path / "pwned"
    lab.configure(workers=BOMB.format(marker=marker))
    result = lab.cli("stage")
    assert result.returncode == 2 and "not valid YAML" in result.stderr, result.stderr
    assert not marker.exists()
    assert not lab.store_root.exists()


def test_a_procedure_registry_cannot_run_code_nor_name_a_path(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text(f"procedures:\n  It: {BOMB.format(marker=marker)}\n", encoding="utf-8")
    traversal = tmp_path / "traversal.yaml"
    traversal.write_text("procedures:\n  ../../evil:\n    required_columns: [x]\n", encoding="utf-8")
    for registry in (bomb, traversal):
        with pytest.raises(ConfigError):
            load_registry(registry)
    assert not marker.exists()
    lab = Lab(tmp_path / "lab")
    put(lab.raw / "IVg2025-09-15_1.csv", render_run("IVg")[1], OLD_MTIME)
    lab.configure(procedures_file=traversal)
    result = lab.cli("stage")
    assert result.returncode == 2 and "plain identifier" in result.stderr, result.stderr
    assert not list(lab.store_root.rglob("*.parquet"))


def test_yaml_is_only_ever_safe_loaded() -> None:
    """A static guard: no loader in the package can construct Python objects. Only the safe loaders are named
    (`SafeLoader`, or libyaml's `CSafeLoader`); no unsafe one, and none of the loading shortcuts that use one."""
    offenders = []
    for path in (REPO / "labtui").rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        unsafe_loader = re.search(r"\b(C?(Unsafe|Full)?Loader|C?BaseLoader)\b(?!\s*=)", text)  # not `Loader=`
        if unsafe_loader or re.search(r"yaml\.(unsafe_load|full_load|load_all)\(", text):
            offenders.append(str(path.relative_to(REPO)))
    assert not offenders
    assert "SafeLoader" in (REPO / "labtui" / "core" / "lab_files.py").read_text(encoding="utf-8")


@pytest.mark.parametrize("layout", ["stage_in_raw", "raw_in_stage", "same", "stage_link_into_raw"])
def test_roots_that_overlap_are_refused_and_nothing_is_created(tmp_path: Path, layout: str) -> None:
    raw = tmp_path / "raw"
    put(raw / "IVg2025-09-15_1.csv", render_run("IVg")[1], OLD_MTIME)
    stage_root = {
        "stage_in_raw": raw / "store" / "raw_measurements",
        "raw_in_stage": tmp_path / "store",
        "same": raw,
        "stage_link_into_raw": tmp_path / "link" / "raw_measurements",
    }[layout]
    if layout == "raw_in_stage":
        shutil.move(raw, tmp_path / "store" / "raw")
        raw = tmp_path / "store" / "raw"
    if layout == "stage_link_into_raw":
        os.symlink(raw, tmp_path / "link")
    before = raw_snapshot(raw)
    lab = Lab(tmp_path, raw=raw)
    result = lab.cli("stage", "--stage-root", str(stage_root))
    assert result.returncode == 2 and "must not contain each other" in result.stderr, result.stderr
    assert "(" in result.stderr and "with --stage-root)" in result.stderr  # not the config file's fault alone
    assert raw_snapshot(raw) == before, "something was created or changed under the raw root"


@pytest.mark.parametrize("target", ["../outside.csv", "/etc/passwd", "raw/../outside.csv"])
def test_restage_refuses_paths_outside_the_raw_root(tmp_path: Path, target: str) -> None:
    lab = Lab(tmp_path)
    put(lab.raw / "IVg2025-09-15_1.csv", render_run("IVg")[1], OLD_MTIME)
    put(tmp_path / "outside.csv", render_run("IV")[1], OLD_MTIME)
    lab.stage()
    before = tree_listing(lab.store_root)
    path = (
        target
        if target.startswith("/")
        else str(lab.raw / target)
        if not target.startswith("raw/")
        else str(tmp_path / target)
    )
    result = lab.cli("restage", path)
    assert result.returncode == 2 and "not under the raw root" in result.stderr, result.stderr  # a usage error
    assert tree_listing(lab.store_root) == before


@pytest.mark.parametrize("given", ["store", "store/raw_measurements"])
def test_a_store_given_as_the_raw_folder_is_refused_and_an_empty_raw_folder_is_said(tmp_path: Path, given: str) -> None:
    """Mixing up the two paths (another store, or its Parquet folder, as the raw root) is refused before anything is
    written; a raw folder with no CSV stages nothing and says so. A raw folder kept inside a store folder is fine."""
    lab = Lab(tmp_path)
    put(lab.raw / "IVg2025-09-15_1.csv", render_run("IVg")[1], OLD_MTIME)
    lab.stage()
    other = Lab(tmp_path / "other", raw=tmp_path / given)
    for watch in ([], ["--watch"]):  # the watcher too, which retries a raw folder it cannot reach
        result = other.cli("stage", *watch)
        assert result.returncode == 2, result.stderr
        assert result.stderr == (f"labtui: the raw folder {tmp_path / given} is part of a labtui store, not a "
                                 "folder of raw CSV files (set raw_root in the config or pass --raw-root)\n")
    assert not (tmp_path / "other" / "store").exists()
    inside = tmp_path / "store" / "raw_inbox"  # a raw folder the lab keeps in the store folder
    inside.mkdir()
    result = Lab(tmp_path / "third", raw=inside).cli("stage")
    assert result.returncode == 0 and result.stdout.startswith("0 staged, 0 unchanged")
    assert result.stderr.endswith(f"labtui: no raw files (*.csv) in {inside}: is it the raw folder?\n")


def test_a_runs_folder_linked_to_another_disk_keeps_its_store_however_it_is_named(tmp_path: Path) -> None:
    """`raw_measurements` linked to a bigger disk: named relatively (the config's default), the link was resolved and
    the store moved to the target's parent (a second manifest there); and with the disk unmounted, a stage wrote a
    new store into the mount point."""
    disk = tmp_path / "disk" / "runs"
    disk.mkdir(parents=True)
    lab = Lab(tmp_path / "lab")
    put(lab.raw / "IVg2025-09-15_1.csv", render_run("IVg")[1], OLD_MTIME)
    lab.store_root.mkdir()
    os.symlink(disk, lab.stage_root)
    staged = lab.cli("stage")
    assert staged.returncode == 0, staged.stderr
    assert (lab.store_root / "_manifest" / "manifest.parquet").is_file() and list(disk.glob("proc=IVg/*/*/*.parquet"))
    assert sorted(os.listdir(tmp_path / "disk")) == ["runs"]
    for named in ("store", str(lab.store_root), "store/raw_measurements"):
        flag = "--stage-root" if named.endswith("raw_measurements") else "--store"
        checked = lab.cli("validate", flag, named)
        assert checked.returncode == 0 and "store healthy" in checked.stdout, (named, checked.stdout, checked.stderr)
    shutil.rmtree(disk)  # the disk not mounted: the link leads nowhere
    for command in ("stage", "validate"):
        refused = lab.cli(command)
        assert refused.returncode == 2 and refused.stderr.count("\n") == 1, refused.stderr
        assert f"{lab.stage_root} is a symbolic link to {disk}, which does not exist (a disk not mounted?)" in \
            refused.stderr
    assert sorted(os.listdir(tmp_path / "disk")) == []
    lab.stage_root.unlink()
    lab.stage_root.symlink_to(lab.stage_root.name)  # a link that loops: "not there" too
    refused = lab.cli("validate")
    assert refused.returncode == 2 and refused.stderr == (
        f"labtui: {lab.stage_root} is a symbolic link that loops (to itself, or through others): mend the link\n")


def test_a_raw_root_named_through_a_link_is_the_same_raw_root(tmp_path: Path) -> None:
    """Staged through a link to the raw folder, `validate` warned that the store was built from another raw root
    (the fix it offered recorded nothing), and `restage` refused the link's path as outside the raw root."""
    lab = Lab(tmp_path)
    put(lab.raw / "d" / "IVg2025-09-15_1.csv", render_run("IVg")[1], OLD_MTIME)
    link = tmp_path / "via"
    os.symlink(tmp_path, link)
    assert lab.cli("stage", "--raw-root", str(link / "raw")).returncode == 0
    for raw in (lab.raw, link / "raw"):
        checked = lab.cli("validate", "--raw-root", str(raw))
        assert checked.returncode == 0 and "raw_root_differs" not in checked.stdout, checked.stdout
        for named in (lab.raw, link / "raw"):
            again = lab.cli("restage", "--raw-root", str(raw), str(named / "d" / "IVg2025-09-15_1.csv"))
            assert again.returncode == 0 and "Traceback" not in again.stderr, (raw, named, again.stderr)
    assert lab.cli("restage", str(tmp_path / "IVg2025-09-15_1.csv")).returncode == 2  # outside it still is
