"""Configuration and procedure registry: paths, validation errors that say what is wrong, overrides."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from labtui.core.chip_params import load_chip_params
from labtui.core.config import extraction_version, find_config, load_config
from labtui.core.lab_files import ConfigError
from labtui.core.registry import FIELD_TYPES, default_registry_path, load_registry


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_relative_paths_resolve_against_the_project_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config_file = write(tmp_path / "lab" / "config" / "labtui.yaml", "raw_root: raw\nstage_root: s/raw_measurements\n")
    monkeypatch.chdir(tmp_path)
    config = load_config(config_file)
    assert config.raw_root == tmp_path / "lab" / "raw"
    assert config.manifest_path == tmp_path / "lab" / "s" / "_manifest" / "manifest.parquet"
    assert config.rejects_dir == tmp_path / "lab" / "s" / "_rejects"
    assert config.histories_dir == tmp_path / "lab" / "histories"


def test_cli_overrides_win_and_resolve_against_the_cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config_file = write(tmp_path / "labtui.yaml", "raw_root: raw\nworkers: 4\n")
    monkeypatch.chdir(tmp_path / "..")
    config = load_config(config_file, raw_root=Path("elsewhere"), workers=None)
    assert config.raw_root == (tmp_path / ".." / "elsewhere").resolve()
    assert config.workers == 4  # the file's: a flag left out (None) overrides nothing


def test_config_found_through_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config_file = write(tmp_path / "x.yaml", "local_tz: UTC\n")
    monkeypatch.setenv("LABTUI_CONFIG", str(config_file))
    assert find_config() == config_file
    assert load_config().local_tz == "UTC"


def test_a_command_run_from_a_sub_folder_finds_the_projects_config(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """As git finds its repository: the nearest config/labtui.yaml above the working folder, its paths relative to
    its project (a command in proj/sub looked for proj/sub/data/02_stage)."""
    monkeypatch.delenv("LABTUI_CONFIG", raising=False)
    write(tmp_path / "proj" / "config" / "labtui.yaml", "raw_root: data/raw\n")
    (tmp_path / "proj" / "sub" / "deeper").mkdir(parents=True)
    monkeypatch.chdir(tmp_path / "proj" / "sub" / "deeper")
    assert find_config() == tmp_path / "proj" / "config" / "labtui.yaml"
    config = load_config()
    assert config.raw_root == (tmp_path / "proj" / "data" / "raw").resolve()
    assert config.stage_root.is_relative_to((tmp_path / "proj").resolve())
    monkeypatch.chdir(tmp_path / "proj")
    assert find_config() == Path("config") / "labtui.yaml"


@pytest.mark.parametrize("named", ["data/02_stage/raw_measurements", "data/02_stage"])
def test_a_store_named_from_outside_its_project_reads_the_projects_config(tmp_path: Path, named: str,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """`labtui --store ~/lab/data/02_stage metrics 68` from the home folder read no config: the lab's chip geometry
    (no mobility), its procedures and its metrics windows went unread. The config above the store is read when it
    names that store; one naming another store is not."""
    monkeypatch.delenv("LABTUI_CONFIG", raising=False)
    write(tmp_path / "lab" / "config" / "labtui.yaml",
          f"stage_root: {named}\nlocal_tz: UTC\nmetrics:\n  cnp_fit_window_v: 0.3\n")
    (tmp_path / "home").mkdir()
    monkeypatch.chdir(tmp_path / "home")
    store_runs = tmp_path / "lab" / "data" / "02_stage" / "raw_measurements"
    config = load_config(None, stage_root=store_runs)
    assert (config.local_tz, config.metrics.cnp_fit_window_v) == ("UTC", 0.3)
    assert config.chip_params_file == (tmp_path / "lab" / "config" / "chip_params.yaml").resolve()
    assert config.stage_root == store_runs  # as given
    other = load_config(None, stage_root=tmp_path / "lab" / "data" / "other" / "raw_measurements")
    assert (other.local_tz, other.chip_params_file) == ("America/Santiago", tmp_path / "home" / "config" /
                                                        "chip_params.yaml")
    write(tmp_path / "home" / "config" / "labtui.yaml", "local_tz: Europe/Paris\n")  # the working folder's first
    assert load_config(None, stage_root=store_runs).local_tz == "Europe/Paris"


def test_a_config_may_name_the_store_folder_beside_the_raw_root(tmp_path: Path) -> None:
    """`stage_root: data/02_stage` (the store itself, as the app names it) beside `data/01_raw`: the store is that
    folder, not `data/`, which holds the raw root (the overlap check took it for the store and refused the config)."""
    (tmp_path / "data" / "02_stage" / "_manifest").mkdir(parents=True)
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "labtui.yaml").write_text("raw_root: data/01_raw\nstage_root: data/02_stage\n",
                                                     encoding="utf-8")
    assert load_config(tmp_path / "config" / "labtui.yaml").stage_root == (tmp_path / "data" / "02_stage").resolve()


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("local_tz: Mars/Olympus\n", "local_tz: unknown time zone .Mars/Olympus."),
        ("workers: 0\n", "workers"),
        ("raw_root: a\nstage_root: a/b\n", "must not contain each other"),
        ("no_such_setting: 1\n", "no_such_setting: unknown"),
        ("worker: 2\n", "did you mean workers"),
        ("workers: many\n", "workers: must be a whole number"),
        ("raw_root: 5\n", "raw_root: must be a path"),
        ("metrics: {it_window_s: 0, bogus: 1}\n", "metrics.bogus: unknown; metrics.it_window_s: must be > 0"),
        # accepted, .inf deferred every file forever (settle) or called every channel dead (dead_conductance_s)
        ("settle_seconds: .inf\n", "settle_seconds: must be a finite number, not inf"),
        ("metrics: {dead_conductance_s: .inf}\n", "metrics.dead_conductance_s: must be a finite number, not inf"),
        ("lock_timeout_seconds: -.inf\n", "lock_timeout_seconds: must be a finite number, not -inf"),
        ("keys: {quit: 1}\n", "keys: must be a mapping of names to text"),
        ("user: ''\n", "user: must not be empty"),
        ("raw_root: [unclosed\n", "not valid YAML"),
        ("- a list\n", "mapping"),
        ("!!python/object/apply:os.system ['echo pwned']\n", "not valid YAML"),
        ("workers: 2\nuser: ana\nworkers: 3\n", r"\(line 3, column 1\): the key 'workers' appears twice \(first on "
                                                  r"line 1\)"),
    ],
)
def test_bad_config_says_what_is_wrong(tmp_path: Path, text: str, words: str) -> None:
    with pytest.raises(ConfigError, match=words):
        load_config(write(tmp_path / "labtui.yaml", text))


def test_a_yaml_file_saved_in_another_encoding_or_broken_is_one_line_naming_it(tmp_path: Path) -> None:
    """A Windows editor saves Latin-1 or UTF-16; a YAML mistake is told where, in one line."""
    for data in ("user: José Peña\n".encode("latin-1"), "user: ana\n".encode("utf-16")):
        path = tmp_path / "labtui.yaml"
        path.write_bytes(data)
        with pytest.raises(ConfigError, match=r"config file .*labtui.yaml is not UTF-8 text \(byte \d+\): save it"):
            load_config(path)
        chip_params = tmp_path / "chip_params.yaml"
        chip_params.write_bytes(data)
        with pytest.raises(ConfigError, match=r"chip parameters .* is not UTF-8 text"):
            load_chip_params(chip_params)
    with pytest.raises(ConfigError) as error:
        load_config(write(tmp_path / "labtui.yaml", "raw_root: data\nworkers: [3\nuser: ana\n"))
    assert "\n" not in str(error.value) and "is not valid YAML (line 3, column 5)" in str(error.value)


def test_a_config_that_is_not_a_regular_file_is_refused_without_reading_it(tmp_path: Path) -> None:
    """`--config /dev/zero` read forever; a FIFO waited for a writer."""
    fifo = tmp_path / "labtui.yaml"
    os.mkfifo(fifo)
    for path in (Path("/dev/zero"), fifo, tmp_path):
        with pytest.raises(ConfigError, match=r"config file .* is not a regular file"):
            load_config(path)


def test_a_folder_where_the_config_is_looked_for_is_said_not_passed_over(tmp_path: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """`config/labtui.yaml/` made as a folder (a mkdir -p slip): the search passed it over, and the command ran on the
    defaults (or a config further up) without a word."""
    monkeypatch.delenv("LABTUI_CONFIG", raising=False)
    write(tmp_path / "config" / "labtui.yaml", "local_tz: UTC\n")  # a project's config, further up
    (tmp_path / "proj" / "config" / "labtui.yaml").mkdir(parents=True)
    monkeypatch.chdir(tmp_path / "proj")
    with pytest.raises(ConfigError, match=r"config file config/labtui.yaml is not a regular file"):
        load_config()
    (tmp_path / "proj" / "config" / "labtui.yaml").rmdir()  # a link to a share not mounted
    (tmp_path / "proj" / "config" / "labtui.yaml").symlink_to(tmp_path / "share" / "labtui.yaml")
    with pytest.raises(ConfigError, match=r"config/labtui.yaml"):
        load_config()


def test_missing_config_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read config file"):
        load_config(tmp_path / "nope.yaml")


def test_extraction_version_names_the_package_version() -> None:
    from labtui import __version__

    assert extraction_version().startswith(__version__)


def test_registry_knows_every_procedure_of_the_acquisition_software() -> None:
    registry = load_registry()
    expected = {
        "It",
        "IVg",
        "IV",
        "LaserCalibration",
        "IVgT",
        "ITt",
        "Tt",
        "Vt",
        "VVg",
        "ItVg",
        "ItWl",
        "Pt",
        "Pwl",
        "Stress",
    }
    assert expected <= set(registry.procedures)
    assert registry.canonical("its") == "It" and registry.canonical("ivg") == "IVg" and registry.canonical("x") is None
    assert not registry.procedures["LaserCalibration"].chip
    assert default_registry_path().name == "procedures.yaml"


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("procedures:\n  ../evil: {}\n", "plain identifier"),
        ("procedures:\n  X:\n    completeness: {kind: duration, column: t}\n", "period_parameter"),
        ("procedures: [\n", "not valid YAML"),
        ("procedures:\n  X:\n    bogus: 1\n", "bogus"),
        ("procedures:\n  X:\n    parameters: {VDS: {field: vds_v, type: complex}}\n",
         r"^procedure registry \S+: procedures\.X\.parameters\.VDS\.type: Input should be 'float', 'int' or 'str'$"),
        # a summary part with a typo would vanish from every run's summary: said once, when the registry loads
        ("procedures:\n  X:\n    parameters: {VDS: {field: vds_v}}\n    summary: ['VDS={vds_v:zz} V']\n",
         "summary part 'VDS={vds_v:zz} V' of X: Unknown format code 'z'"),
        ("procedures:\n  X:\n    summary: ['VDS={vsd_v:g} V']\n", "no parameter of X fills the field 'vsd_v'"),
        ("procedures:\n  X:\n    parameters: {VDS: {field: vds_v}}\n    summary: ['{vds_v.__class__}']\n",
         "is not a field name"),
        ("procedures:\n  X:\n    summary: ['{0}']\n", "is not a field name"),
        # a field the manifest types, read as another type: a chip number as text stopped every stage (a traceback),
        # as a float (`type:` left out) it named the chip Alisson67.0
        ("common_parameters: {Chip number: {field: chip_number, type: str}}\nprocedures: {}\n",
         r"common_parameters\.Chip number: the manifest stores chip_number as an integer: give it `type: int`, "
         r"not str$"),
        ("common_parameters: {Chip number: {field: chip_number}}\nprocedures: {}\n", "give it `type: int`, not float"),
        ("procedures:\n  X:\n    parameters: {VDS: {field: vds_v, type: str}}\n",
         "the manifest stores vds_v as a number: give it `type: float`, not str"),
        ("procedures:\n  X:\n    parameters: {Sample: {field: sample, type: int}}\n", "sample as text"),
        # a legacy name read as another procedure: that one must exist, and be read as itself
        ("procedures:\n  X: {like: IVgg}\n", "procedure X is like 'IVgg', which the registry does not define"),
        ("procedures:\n  A: {}\n  B: {like: A}\n  X: {like: B}\n", "procedure X is like B, which is itself like A"),
        # a plot of a column the procedure does not write (a typo) would fail on every run: said here
        ("procedures:\n  X: {required_columns: ['t (s)', 'P (W)'], text_columns: [polarity], "
         "plot: {x: 't (s)', y: 'P(W)'}}\n", r"plot of X names 'P\(W\)', not one of its numeric required or optional"),
        ("procedures:\n  X: {required_columns: ['t (s)'], text_columns: [polarity], plot: {x: polarity, y: 't (s)'}}\n",
         "plot of X names 'polarity'"),
    ],
)
def test_bad_registry_is_a_config_error(tmp_path: Path, text: str, words: str) -> None:
    with pytest.raises(ConfigError, match=words):
        load_registry(write(tmp_path / "procedures.yaml", text))


def test_the_typed_fields_are_the_manifests() -> None:
    """`registry.FIELD_TYPES` spells the types of `ManifestRow`'s fields a header parameter fills."""
    from labtui.core.manifest_row import ManifestRow

    kinds = {"int": int | None, "float": float | None, "str": str | None}
    for field, types in FIELD_TYPES.items():
        if field != "start_time":  # read into start_time_utc
            assert ManifestRow.model_fields[field].annotation == kinds[types[0]], field


def test_missing_registry_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read procedure registry"):
        load_registry(tmp_path / "none.yaml")


def test_registry_that_is_not_a_mapping_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="must be a mapping"):
        load_registry(write(tmp_path / "procedures.yaml", "- It\n- IVg\n"))


def test_a_link_to_the_store_has_the_stores_derived_tables(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`--store link` (a link to the store) made `link_derived/`, a second metrics table that went stale while the
    store's own was repriced: a link to the store is the same folder, its tables too."""
    monkeypatch.delenv("LABTUI_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "lab_a" / "_manifest").mkdir(parents=True)
    (tmp_path / "lab_a_derived").mkdir()
    (tmp_path / "lab_a_derived" / "metrics.parquet").touch()
    (tmp_path / "link").symlink_to(tmp_path / "lab_a")
    via_link = load_config(None, stage_root=tmp_path / "link" / "raw_measurements")
    direct = load_config(None, stage_root=tmp_path / "lab_a" / "raw_measurements")
    assert via_link.metrics_path == direct.metrics_path == tmp_path / "lab_a_derived" / "metrics.parquet"
    # a project's store folder linked to a larger disk keeps its tables beside the link, where it made them
    (tmp_path / "lab" / "data" / "03_derived").mkdir(parents=True)
    (tmp_path / "lab" / "data" / "03_derived" / "metrics.parquet").touch()
    (tmp_path / "lab" / "data" / "02_stage").symlink_to(tmp_path / "lab_a")
    linked = load_config(None, stage_root=tmp_path / "lab" / "data" / "02_stage" / "raw_measurements")
    assert linked.metrics_path == tmp_path / "lab" / "data" / "03_derived" / "metrics.parquet"
