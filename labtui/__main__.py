"""`python -m labtui` and the `labtui` command."""

import sys


def run() -> int:
    """The command line; a Ctrl+C while Python is still loading labtui ends it quietly (nothing was done yet)."""
    try:
        from labtui.cli import main
    except KeyboardInterrupt:
        print("labtui: interrupted while starting; nothing was done", file=sys.stderr)
        return 130
    return main()


if __name__ == "__main__":
    raise SystemExit(run())
