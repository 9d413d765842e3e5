"""`python -m labtui` and the `labtui` command."""

import gc
import sys


def run() -> int:
    """The command line; a Ctrl+C while Python is still loading labtui ends it quietly (nothing was done yet).
    `labtui --version` alone is answered before argparse is imported (its import is most of a `--help`)."""
    if sys.argv[1:] == ["--version"]:
        from labtui import __version__

        print(f"labtui {__version__}")
        return 0
    try:
        from labtui.cli import main
    except KeyboardInterrupt:
        print("labtui: interrupted while starting; nothing was done", file=sys.stderr)
        return 130
    status = main()
    # At exit the interpreter looks for garbage cycles among every live object, most of them made by importing
    # Polars and NumPy: 0.05–0.1 s spent on a process that is ending anyway. It skips frozen objects.
    gc.freeze()
    return status


if __name__ == "__main__":
    raise SystemExit(run())
