"""`labtui --help`, `--version` and every command's `--help` start without loading a heavy library.

Checked in a fresh interpreter (this test process has them all loaded): it asks for every help text, then lists
which heavy modules got imported. Speed itself is measured by bench/cli_start.py, not here.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.lab import Lab, it_rows, raw_csv

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("polars", "numpy", "pyarrow", "pydantic", "textual", "plotext", "matplotlib", "yaml", "labtui.synth")
# Light, but a help text needs none of them, and each is milliseconds of a start that should take ~3× `python -c pass`
NEEDLESS = ("typing", "pathlib", "datetime", "threading", "unicodedata", "shutil")

PROBE = """
import contextlib, io, json, sys
from labtui.cli import build_parser

parser = build_parser()
commands = sorted(parser._subparsers._group_actions[0].choices)
asked = [["--help"], ["--version"]] + [[name, "--help"] for name in commands] + [["export", "histories", "--help"]]
for argv in asked:
    with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):
        build_parser().parse_args(argv)
heavy = sorted(name for name in sys.modules if name.split(".")[0] in HEAVY or name.startswith(HEAVY))
needless = sorted(name for name in NEEDLESS if name in sys.modules)
print(json.dumps({"commands": commands, "heavy": heavy, "needless": needless}))
"""


def test_help_and_version_import_nothing_heavy() -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run(
        [sys.executable, "-c", f"HEAVY = {HEAVY!r}\nNEEDLESS = {NEEDLESS!r}\n{PROBE}"],
        capture_output=True, text=True, check=True, env=env, cwd=ROOT,
    ).stdout
    result = json.loads(out)
    assert {"stage", "restage", "chips", "history", "parity", "tui"} <= set(result["commands"])
    assert result["heavy"] == []
    assert result["needless"] == []


def test_version_alone_skips_argparse_and_says_what_argparse_says(capsys: pytest.CaptureFixture[str]) -> None:
    from labtui.cli import main

    with pytest.raises(SystemExit):
        main(["--version"])
    said = capsys.readouterr().out
    probe = ("import sys; sys.argv = ['labtui', '--version']\nfrom labtui.__main__ import run\nrun()\n"
             "print('argparse' in sys.modules)")
    run = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=ROOT,
                         env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert run.stdout == said + "False\n"


def test_a_command_imports_no_other_commands_module() -> None:
    """`labtui --help` lists the commands from one table; a command builds its own options only."""
    probe = (
        "import contextlib, io, sys\nfrom labtui.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):\n"
        "    main(sys.argv[1:])\n"
        "from labtui.cli import COMMANDS\n"
        "print(sorted(f'labtui.cli.{module}' for module in {m for m, _ in COMMANDS.values()}\n"
        "             if f'labtui.cli.{module}' in sys.modules))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    expected = {  # arguments: the command modules they load (tui: the app's options are the top level's too)
        "--help": ["labtui.cli.tui"],
        "chips --help": ["labtui.cli.history", "labtui.cli.tui"],
        "--store history rejects --help": ["labtui.cli.rejects", "labtui.cli.tui"],  # a store folder named history
    }
    for argv, modules in expected.items():
        run = subprocess.run([sys.executable, "-c", probe, *argv.split()], capture_output=True, text=True, env=env,
                             cwd=ROOT, check=True)
        assert run.stdout.strip() == repr(modules), argv


def test_reading_commands_load_only_polars(lab: Lab) -> None:
    """`history` and `chips` read the manifest with Polars and the config file with YAML: no Pydantic, no NumPy."""
    lab.write("2025-10-13/It2025-10-13_1.csv", raw_csv("It"))
    lab.stage()
    probe = (
        "import contextlib, io, sys\nfrom labtui.cli import main\n"
        "for argv in (['history', '67'], ['chips']):\n"
        "    with contextlib.redirect_stdout(io.StringIO()):\n"
        "        assert main(argv) == 0, argv\n"
        f"HEAVY = {HEAVY!r}\n"
        "print(sorted(m for m in HEAVY if m in sys.modules))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    run = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env, cwd=lab.root)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "['polars', 'yaml']"


def test_a_stage_loads_no_library_it_does_not_use(lab: Lab) -> None:
    """A stage parses, checks and computes with Polars, Pydantic and NumPy: nothing of the app or the figures, and
    not numpy.ma, which `np.median` and `np.percentile` import on their first call (20-40 ms of the GIL in a stage
    with one short run): a run cut short, a sweep coarser than its header (its steps' range), three calibrations of
    one wavelength (their median P max) each take the paths that called them."""
    lab.write("2025-10-13/It2025-10-13_1.csv", raw_csv("It"))
    lab.write("2025-10-13/It2025-10-13_2.csv", raw_csv("It", rows=it_rows()[:-3]))  # cut short: its span is judged
    lab.write("2025-10-13/IVg2025-10-13_1.csv", raw_csv("IVg", params={"VG step": "0.25 V"}))  # swept at 0.5 V
    for k in range(3):
        lab.write(f"2025-10-13/LaserCalibration2025-10-13_{k + 1}.csv",
                  raw_csv("LaserCalibration", start=1760371684.3 + 600 * (k + 1)))
    probe = ("import sys\nfrom labtui.cli import main\nassert main(['stage', '-q']) == 0\n"
             "print(sorted(m for m in sys.modules if m.split('.')[0] in ('matplotlib', 'textual', 'plotext') or "
             "m.startswith(('numpy.ma.', 'labtui.tui', 'labtui.synth')) or m == 'numpy.ma'))\n")
    run = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=lab.root,
                         env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines()[-1] == "[]"  # after the stage's notes
    complete = dict(lab.manifest().select("source_file", "is_complete").iter_rows())
    assert (complete["2025-10-13/It2025-10-13_1.csv"], complete["2025-10-13/It2025-10-13_2.csv"]) == (True, False)
    assert complete["2025-10-13/IVg2025-10-13_1.csv"] and len(complete) == 6


def test_a_trends_pauses_load_no_numpy_ma() -> None:
    """The app's first time trend finds its pauses by the steps' median: `np.median` imported numpy.ma there (the
    figures' matplotlib loads it anyway; the terminal's plotext does not)."""
    probe = ("import sys\nimport numpy as np\nfrom labtui.core.plotdata.trends import gaps\n"
             "assert gaps(np.array([0.0, 1, 2, 3, 40, 41])) == (4,)\nprint('numpy.ma' in sys.modules)\n")
    run = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "False"


def test_help_still_describes_every_command(capsys: object) -> None:
    from labtui.cli import main

    try:
        main(["stage", "--help"])
    except SystemExit as exit_:
        assert exit_.code == 0
    text = capsys.readouterr().out  # type: ignore[attr-defined]
    assert "--force" in text and "--raw-root" in text


@pytest.mark.parametrize("columns", ["50", "130", "", "wide"])
def test_help_is_as_wide_as_argparse_makes_it(columns: str, capsys: pytest.CaptureFixture[str],
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """The width comes from $COLUMNS, else the terminal, else 80 — argparse's own lookup, without shutil."""
    import shutil

    from labtui.cli import main, terminal_columns

    monkeypatch.setenv("COLUMNS", columns)
    assert terminal_columns() == shutil.get_terminal_size().columns
    with pytest.raises(SystemExit):
        main(["plot", "--help"])
    widest = max(map(len, capsys.readouterr().out.splitlines()))
    assert widest > 100 if columns == "130" else widest < 100


def test_the_figure_renderer_loads_matplotlib_but_no_data_library() -> None:
    """`labtui plot`'s renderer process imports while the command reads the data: it must not load what the
    command loads (Polars, Pydantic), or the two cores would do the same work twice."""
    from labtui.core.renderer import READY, child_command

    command = child_command("pdf")
    done = subprocess.run([command[0], "-X", "importtime", *command[1:]], stdin=subprocess.DEVNULL,
                          capture_output=True, check=True)  # no drawing comes: it gets ready and exits
    imported = {line.split("|")[-1].strip() for line in done.stderr.decode().splitlines() if "|" in line}
    assert done.stdout == READY and {"matplotlib.figure", "fontTools.subset"} <= imported  # loaded for a PDF
    assert sorted(name for name in imported if name.split(".")[0] in ("polars", "pyarrow", "pydantic", "yaml")) == []


def test_every_commands_help_starts_with_what_it_does(capsys) -> None:
    """The line the command list gives it, at least (some commands said nothing above their options)."""
    from labtui.cli import COMMANDS, main

    for name, (_, line) in COMMANDS.items():
        with pytest.raises(SystemExit):
            main([name, "--help"])
        lines = capsys.readouterr().out.split("\n\n")
        assert lines[1].strip() and not lines[1].startswith("options"), name
        if name not in ("metrics", "plot", "annotate"):  # these say more
            assert " ".join(lines[1].split()) == line[0].upper() + line[1:] + ".", name  # wrapped at 80


def test_every_commands_help_ends_with_examples_it_takes_as_written(capsys) -> None:
    """The examples are command lines, kept one per line, that the command's own parser accepts (an option renamed
    and not its example would fail here)."""
    import shlex

    from labtui.cli import COMMANDS, build_parser, main

    with pytest.raises(SystemExit):
        main(["--help"])
    assert capsys.readouterr().out.split("\nexamples:\n")[1].startswith("  labtui --demo ")
    for name in (*COMMANDS, "export histories", "export metadata"):
        command = name.split()
        with pytest.raises(SystemExit):
            main([*command, "--help"])
        examples = capsys.readouterr().out.split("\nexamples:\n")[1].splitlines()
        assert examples, command
        for example in examples:
            argv = shlex.split(example, comments=True)[1:]
            assert example.startswith(f"  labtui {command[0]}") and len(example) < 80, example
            assert build_parser(argv).parse_args(argv).command == command[0], example


CACHES = "tcache_max:4096,tcache_nslots_small_max:32"


@pytest.mark.parametrize(
    ("chosen", "threads", "allocator"),
    [
        ({}, "1", f"narenas:1,{CACHES}"),
        ({"OPENBLAS_NUM_THREADS": "2", "_RJEM_MALLOC_CONF": "narenas:2"}, "2", f"narenas:2,{CACHES}"),
        ({"_RJEM_MALLOC_CONF": "tcache:false"}, "1", f"tcache:false,narenas:1,{CACHES}"),  # no cache: sizes moot
        # what a process that imported Polars passes on: Polars' own settings, which name no arenas nor caches
        ({"_RJEM_MALLOC_CONF": "dirty_decay_ms:500,muzzy_decay_ms:1000"}, "1",
         f"dirty_decay_ms:500,muzzy_decay_ms:1000,narenas:1,{CACHES}"),
    ],
)
def test_the_command_tunes_numpy_and_polars_unless_told(lab: Lab, chosen: dict[str, str], threads: str,
                                                         allocator: str) -> None:
    """OpenBLAS reads its thread count once, when NumPy is imported, and Polars hands its allocator's settings to
    jemalloc when it is imported (its own first, then this variable's): a stage imports both after `run` set them."""
    lab.write("2025-10-13/IVg2025-10-13_1.csv", raw_csv("IVg"))
    probe = ("import os, sys\nsys.argv = ['labtui', 'stage', '-q', '--settle', '0']\nfrom labtui.__main__ import run\n"
             "status = run()\nprint(status, 'numpy' in sys.modules, 'polars' in sys.modules, "
             "os.environ.get('OPENBLAS_NUM_THREADS'), os.environ.get('_RJEM_MALLOC_CONF'))\n")
    env = {key: value for key, value in os.environ.items() if key not in ("OPENBLAS_NUM_THREADS", "_RJEM_MALLOC_CONF")}
    run = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=lab.root,
                         env={**env, **chosen, "PYTHONPATH": str(ROOT)})
    assert run.returncode == 0, run.stderr
    status, numpy, polars, blas, jemalloc = run.stdout.split()[-5:]
    assert (status, numpy, polars, blas) == ("0", "True", "True", threads), run.stdout
    assert jemalloc.endswith("," + allocator) and jemalloc.count("narenas") == 1, jemalloc  # after Polars' own
