"""`python -m labtui` and the `labtui` command."""

import gc
import os
import sys

JEMALLOC = {"narenas": "1", "tcache_max": "4096", "tcache_nslots_small_max": "32"}  # see tune_native_libraries


def tune_native_libraries() -> None:
    """Settings the native libraries read once, when they load: call it before NumPy and Polars are imported. Each
    applies unless the user chose that setting.

    - NumPy's BLAS (OpenBLAS) on one thread: it starts a thread per core at import that spins for ~0.1 CPU-s
      waiting for work; on 2 cores that took 8 % of a stage's CPU from the workers (a stage 4.5 % faster without
      it, 10 interleaved pairs). labtui's arrays are small and its workers already use every core.
    - Polars' allocator (jemalloc) with one arena: by default each thread that allocates gets one of 4 per core,
      and each keeps the pages its thread freed for a while. With one arena the workers reuse each other's pages:
      a stage peaks 12 MiB lower, 13–19 MiB at 10× the corpus, at the same speed (4–10 interleaved pairs).
    - Smaller thread caches in it: each thread kept up to 200 freed blocks of each small size and freed blocks up to
      32 KiB, for its next allocations. With 32 blocks a size, up to 4 KiB, a stage peaks 6–8 MiB lower, 11 MiB at
      10× the corpus, at the same speed (3–5 interleaved runs). No cache at all (`tcache:false`) saved 3 MiB more,
      but every allocation would take the one arena's locks, which many cores would contend for.

    Polars appends this variable to its own allocator settings and writes the result back, so a process that
    imported Polars passes its settings on to a `labtui` it starts: each of these is added unless the settings
    name it."""
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    allocator = os.environ.get("_RJEM_MALLOC_CONF", "")
    named = {pair.split(":", 1)[0] for pair in allocator.split(",")}
    added = [f"{name}:{value}" for name, value in JEMALLOC.items() if name not in named]
    os.environ["_RJEM_MALLOC_CONF"] = ",".join(filter(None, [allocator, *added]))


def run() -> int:
    """The command line; a Ctrl+C while Python is still loading labtui ends it quietly (nothing was done yet).
    `labtui --version` alone is answered before argparse is imported (its import is most of a `--help`)."""
    tune_native_libraries()
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
