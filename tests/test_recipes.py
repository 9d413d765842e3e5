"""The README's recipes for reading the store, run exactly as written (the code blocks are taken from the README,
so the docs cannot drift): every column of every procedure, `run_id` as text, a join with the manifest.

Checked against each run's file read on its own: every column's count of non-null values, not just the rows; on a
store whose path a glob or an SQL string would misread too, on one holding a moved run's old copy beside the new, and
on ones whose run folders hold a file beside the run's own (a copy, macOS's `._` file, `Thumbs.db`, a `.tmp`). A
stage committing between any two of a recipe's statements leaves its `labeled` as one manifest lists the runs; one
committing after the recipe, as the manifest it read.
Spark runs where pyspark and Java are installed (it is not a dependency), and is skipped otherwise.
"""

from __future__ import annotations

import ast
import gc
import importlib.util
import re
import shutil
import warnings
from pathlib import Path
from types import CodeType
from typing import Any

import polars as pl
import pytest

from labtui.core.faults import CRASH_EXIT_CODE
from labtui.core.layout import run_parquet_path
from tests.lab import IT_COLUMNS, Lab, all_digit_start, all_procedures_lab, it_rows, local, raw_csv

README = Path(__file__).resolve().parents[1] / "README.md"
RECIPE = re.compile(r"<!-- recipe: (\w+) -->\n```python\n(.*?)```", re.DOTALL)
RECIPES = dict(RECIPE.findall(README.read_text(encoding="utf-8")))
PLACEHOLDER = '"data/02_stage"'


def test_the_readme_has_every_recipe() -> None:
    assert list(RECIPES) == ["labtui", "polars", "pyarrow", "duckdb", "spark"]
    assert all(code.count(PLACEHOLDER) == 1 for code in RECIPES.values())


@pytest.fixture(scope="module", params=["lab", "odd path [v2]/Ana's lab", "backup/date=2026-01-01/batch=3"],
                ids=["plain_path", "odd_path", "hive_named_path"])
def lab(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Lab:
    """The store in a plain folder, in one whose path has a glob's `[`, a space and an SQL string's quote, and below
    `key=value` folders (a dated backup, a data lake): DuckDB dated every sample by the `date=` above the store
    (its `labeled` empty), Polars's scan raised on `batch`."""
    return all_procedures_lab(tmp_path_factory.mktemp("recipes") / request.param)


@pytest.fixture(scope="module")
def truth(lab: Lab) -> pl.DataFrame:
    return each_run_read_alone(lab)


def each_run_read_alone(lab: Lab) -> pl.DataFrame:
    """Every run's file read on its own, with the run's identity and chip from the manifest."""
    config = lab.config
    return pl.concat(
        [
            pl.read_parquet(
                run_parquet_path(config.stage_root, row["proc"], row["date_local"], row["run_id"]), glob=False
            ).with_columns(
                run_id=pl.lit(row["run_id"]),
                proc=pl.lit(row["proc"]),
                chip_name=pl.lit(row["chip_name"], dtype=pl.String),
            )
            for row in lab.manifest().iter_rows(named=True)
        ],
        how="diagonal",
    )


def run_recipe(name: str, lab: Lab) -> dict[str, Any]:
    code = RECIPES[name].replace(PLACEHOLDER, repr(str(lab.config.store_root)))
    namespace: dict[str, Any] = {}
    exec(compile(code, f"README.md recipe {name}", "exec"), namespace)  # the README's own code
    return namespace


def recipe_statements(name: str, lab: Lab) -> list[CodeType]:
    """The recipe's top-level statements, each compiled on its own (its README line numbers kept): to run a stage
    between two of them."""
    code = RECIPES[name].replace(PLACEHOLDER, repr(str(lab.config.store_root)))
    return [compile(ast.Module(body=[statement], type_ignores=[]), f"README.md recipe {name}", "exec")
            for statement in ast.parse(code).body]


def as_polars(frame: Any) -> pl.DataFrame:
    """A recipe's result (Polars, pyarrow, DuckDB or Spark) as a Polars frame, without converting its types."""
    if isinstance(frame, pl.LazyFrame):
        return frame.collect()
    if isinstance(frame, pl.DataFrame):
        return frame
    if hasattr(frame, "toArrow"):  # Spark
        return pl.DataFrame(frame.toArrow())
    if hasattr(frame, "fetch_arrow_table"):  # DuckDB
        return pl.DataFrame(frame.to_arrow_table())
    return pl.DataFrame(frame)  # pyarrow


def spark_available() -> bool:
    return importlib.util.find_spec("pyspark") is not None and shutil.which("java") is not None


ENGINES = pytest.mark.parametrize(
    "name",
    [
        "labtui",
        "polars",
        "pyarrow",
        "duckdb",
        pytest.param(
            "spark",
            marks=[pytest.mark.slow, pytest.mark.skipif(not spark_available(), reason="needs pyspark and Java")],
        ),
    ],
)


@ENGINES
def test_recipe_reads_every_column_with_run_id_as_text(name: str, lab: Lab, truth: pl.DataFrame) -> None:
    namespace = run_recipe(name, lab)
    assert_every_sample_once(name, namespace, truth)
    if name == "labtui":
        assert namespace["history"]["proc"].unique().to_list() == ["It"]
        assert namespace["dark_mean"].columns == ["chip_name", "date_local", "mean_dark_current_a"]
        assert namespace["dark_mean"].height == 1


def assert_every_sample_once(name: str, namespace: dict[str, Any], truth: pl.DataFrame) -> None:
    """`samples` and `labeled` hold each run's samples once, every column as the run's own file has it."""
    samples, labeled = as_polars(namespace["samples"]), as_polars(namespace["labeled"])
    data_columns = [column for column in truth.columns if column not in ("run_id", "proc", "chip_name")]
    assert {"t_s", "vg_v", "vsd_v", "vl_v", "power_w", "i_a"} <= set(data_columns)
    assert set(data_columns) <= set(samples.columns), f"{name} lost columns"
    assert samples.schema["run_id"] == pl.String
    assert sorted(samples["run_id"].unique()) == sorted(truth["run_id"].unique())  # the all-digit one, leading 0
    assert samples.height == truth.height
    counts = samples.select(pl.col([*data_columns, "run_id", "proc"]).count()).row(0, named=True)
    assert counts == truth.select(pl.col([*data_columns, "run_id", "proc"]).count()).row(0, named=True)
    per_run = samples.group_by("run_id", "proc").agg(pl.col(data_columns).count()).sort("run_id")
    assert per_run.equals(truth.group_by("run_id", "proc").agg(pl.col(data_columns).count()).sort("run_id"))
    assert labeled.height == truth.height
    assert labeled["chip_name"].count() == truth["chip_name"].count() > 0


@pytest.fixture(scope="module")
def digits_lab(tmp_path_factory: pytest.TempPathFactory) -> Lab:
    """A store whose only run has an all-digit run_id: nothing tells a type-inferring engine it is text."""
    lab = Lab(tmp_path_factory.mktemp("digits"))
    source = "2025-09-09/It2025-09-09_1.csv"
    lab.write_run(source, "It", start=all_digit_start(source, local("2025-09-09 12:00")))
    lab.stage()
    return lab


@ENGINES
def test_recipe_keeps_an_all_digit_run_id_as_text(name: str, digits_lab: Lab) -> None:
    namespace = run_recipe(name, digits_lab)
    run_id = digits_lab.manifest()["run_id"].item()
    for result in ("samples", "labeled"):
        frame = as_polars(namespace[result])
        assert frame.schema["run_id"] == pl.String
        assert frame["run_id"].unique().to_list() == [run_id]


@pytest.fixture(scope="module")
def keys_lab(tmp_path_factory: pytest.TempPathFactory) -> Lab:
    """A run whose data has columns named as the partition keys (`run_id`, `date`, `proc`) and as the columns the
    recipes add (`chip_name`, `filename`, `run_keys`), beside a plain run."""
    lab = Lab(tmp_path_factory.mktemp("keys"))
    lab.write_run("2025-09-08/It2025-09-08_1.csv", "It", start=local("2025-09-08 10:00"))
    keyed = raw_csv("It", columns=(*IT_COLUMNS, "run_id", "date", "proc", "chip_name", "filename", "run_keys"),
                    rows=[f"{row},1,2,3,4,5,6" for row in it_rows()])
    lab.write("2025-10-13/It2025-10-13_2.csv", keyed)
    lab.stage()
    return lab


@ENGINES
def test_recipe_reads_data_columns_named_as_partition_keys_or_recipe_columns(name: str, keys_lab: Lab) -> None:
    namespace = run_recipe(name, keys_lab)
    samples, labeled = as_polars(namespace["samples"]), as_polars(namespace["labeled"])
    assert samples.schema["run_id"] == pl.String
    assert sorted(samples["run_id"].unique()) == sorted(keys_lab.manifest()["run_id"])
    renamed = samples.select("run_id_", "date_", "proc_", "chip_name_", "filename_", "run_keys_").drop_nulls()
    assert renamed.height == len(it_rows()) and renamed.unique().rows() == [(1.0, 2.0, 3.0, 4.0, 5.0, 6.0)]
    assert labeled.height == samples.height
    assert set(labeled["chip_name"]) == set(keys_lab.manifest()["chip_name"])  # the manifest's, not the data's


@pytest.fixture(scope="module")
def moved_lab(tmp_path_factory: pytest.TempPathFactory) -> Lab:
    """Two runs moved to another partition by a stage killed (as by `kill -9`) after its manifest commit, before it
    removed their old folders: one's file now says another procedure, the other's local date changed with the zone.
    Both copies of each are on disk, as a directory scan meets them during any such stage."""
    lab = Lab(tmp_path_factory.mktemp("moved"))
    fixed = "2025-09-08/It2025-09-08_1.csv"
    lab.write_run(fixed, "IVg", start=local("2025-09-08 10:30"), light=False)  # the wrong `#Procedure`
    lab.write_run("2025-09-08/IVg2025-09-08_2.csv", "IVg", start=local("2025-09-08 22:30"), light=False)
    lab.stage()
    lab.write_run(fixed, "It", start=local("2025-09-08 10:30"))  # the same run_id, proc=It
    lab.configure(local_tz="UTC")  # 22:30 in Santiago is the next day in UTC
    assert lab.cli("stage", "--force", crash_at="after_manifest_replace").returncode == CRASH_EXIT_CODE
    moved = lab.manifest().select("proc", pl.col("date_local").cast(pl.String)).rows()
    assert sorted(moved) == [("IVg", "2025-09-09"), ("It", "2025-09-08")]  # committed: the moves are listed
    assert len(list(lab.stage_root.rglob("part-000.parquet"))) == 2 * len(moved)  # and the old copies left
    return lab


@ENGINES
def test_recipe_labels_each_run_once_beside_its_old_copy(name: str, moved_lab: Lab) -> None:
    """`labeled` joins the manifest on the run's partition too: each run once, the copy the manifest lists."""
    namespace = run_recipe(name, moved_lab)
    samples, labeled = as_polars(namespace["samples"]), as_polars(namespace["labeled"])
    runs = runs_in(labeled, name)
    assert runs.equals(listed(moved_lab.manifest())), f"{name}: {runs}"
    assert labeled["chip_name"].count() == labeled.height
    if name in ("labtui", "polars"):  # they start from the manifest: their samples are the listed copies
        assert samples.height == runs["n_rows"].sum()


def runs_in(labeled: pl.DataFrame, name: str) -> pl.DataFrame:
    """Each run `labeled` holds, by the manifest's address of it, with its rows: as `listed` gives a manifest's."""
    date = "date_local" if name == "labtui" else "date"
    return (labeled.group_by("run_id", "proc", date).agg(n_rows=pl.len().cast(pl.Int64)).rename({date: "date_local"})
            .sort("run_id"))


def listed(manifest: pl.DataFrame) -> pl.DataFrame:
    return manifest.select("run_id", "proc", "date_local", "n_rows").sort("run_id")


APPLEDOUBLE = b"\x00\x05\x16\x07\x00\x02\x00\x00Mac OS X        \x00\x02" + bytes(64)  # macOS's `._` file on a share
FOREIGN = {  # what a person, a sync client or an OS leaves beside a run's file
    "part-000 copy.parquet": lambda part: part,  # a Finder or Dropbox copy: a whole Parquet, the run a second time
    "._part-000.parquet": lambda part: APPLEDOUBLE,
    "Thumbs.db": lambda part: b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(504),  # Windows Explorer's
    "part-000.parquet.tmp": lambda part: part[: len(part) // 2],  # a sync client's download, cut short
}


@pytest.fixture(scope="module", params=list(FOREIGN))
def foreign_lab(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Lab:
    """Every run folder holds a file that is not the run's `part-000.parquet`."""
    lab = all_procedures_lab(tmp_path_factory.mktemp("foreign") / "lab")
    for part in lab.stage_root.glob("*/*/*/part-000.parquet"):
        (part.parent / request.param).write_bytes(FOREIGN[request.param](part.read_bytes()))
    return lab


@ENGINES
def test_recipe_reads_only_the_runs_files_beside_foreign_ones(name: str, foreign_lab: Lab) -> None:
    """A run's file is named `part-000.parquet`: a copy beside it is not the run twice, and a file that is no Parquet
    (or not a whole one) is not read."""
    assert_every_sample_once(name, run_recipe(name, foreign_lab), each_run_read_alone(foreign_lab))


@ENGINES
def test_recipe_leaves_no_file_open(name: str, digits_lab: Lab) -> None:
    """What a recipe opens, it closes (the Polars one left the manifest's file to the garbage collector)."""
    gc.collect()  # another test's garbage is not this recipe's
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        namespace = run_recipe(name, digits_lab)
        for result in ("samples", "labeled"):
            as_polars(namespace[result])
        del namespace
        gc.collect()
    assert [str(warning.message) for warning in caught if warning.category is ResourceWarning] == []


RESTAGED = "2025-09-08/It2025-09-08_2.csv"


@pytest.fixture(scope="module")
def before_a_restage(tmp_path_factory: pytest.TempPathFactory) -> Lab:
    """A staged lab (`all_procedures_lab`) whose It run's raw file now says another start time: the next stage
    re-stages it under a new run_id, and removes its old folder after the commit."""
    lab = all_procedures_lab(tmp_path_factory.mktemp("restage") / "lab")
    lab.write_run(RESTAGED, "It", start=local("2025-09-08 10:40"))  # was 10:30
    return lab


def commit_the_restage(lab: Lab) -> pl.DataFrame:
    """The stage, killed after its commit (as by `kill -9`) before it removed the run's old folder: the store as any
    stage leaves it for a moment. The manifest it committed."""
    old = lab.run_of(RESTAGED)["run_id"]
    assert lab.cli("stage", crash_at="after_manifest_replace").returncode == CRASH_EXIT_CODE
    assert lab.run_of(RESTAGED)["run_id"] != old
    return lab.manifest()


@ENGINES
def test_recipe_labels_each_run_once_while_a_stage_commits(name: str, before_a_restage: Lab,
                                                         tmp_path: Path) -> None:
    """A stage re-staging a run under a new run_id commits between any two of the recipe's statements, its old copy
    still there: `labeled` holds each run once, as one manifest lists it (pyarrow, and Spark, which reads when a query
    runs, read the data first and the manifest after, which no longer listed the run they had read)."""
    before = listed(before_a_restage.manifest())
    for cut in range(len(recipe_statements(name, before_a_restage)) + 1):
        shutil.copytree(before_a_restage.root, tmp_path / f"{cut}")
        lab = Lab(tmp_path / f"{cut}")
        statements, namespace = recipe_statements(name, lab), dict[str, Any]()
        for statement in statements[:cut]:
            exec(statement, namespace)
        after = listed(commit_the_restage(lab))
        for statement in statements[cut:]:
            exec(statement, namespace)
        runs = runs_in(as_polars(namespace["labeled"]), name)
        assert runs.equals(before) or runs.equals(after), f"{name}, the stage before statement {cut}: {runs}"


@ENGINES
def test_recipe_reads_the_manifest_once(name: str, before_a_restage: Lab, tmp_path: Path) -> None:
    """The recipe reads the manifest once, through one handle (promise 4: a read by path opens it more than once, and
    a commit in between tears it): a stage committing after the recipe ran leaves `labeled` as the manifest it read
    lists the runs (DuckDB's view read it again by path at each query, and Spark when a query ran)."""
    shutil.copytree(before_a_restage.root, tmp_path / "lab")
    lab = Lab(tmp_path / "lab")
    namespace = run_recipe(name, lab)
    before = listed(lab.manifest())
    commit_the_restage(lab)
    assert runs_in(as_polars(namespace["labeled"]), name).equals(before)
