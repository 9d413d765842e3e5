"""`labtui plot`'s renderer process: matplotlib loads beside the command's own imports and data reads.

Importing matplotlib and its PDF machinery takes as long as everything else a figure of ten runs needs before it is
drawn, and does not depend on the data. So the command starts a second Python first thing (`Renderer`), which
imports what drawing the requested type needs (`drawing.load`), says it is ready, and waits; on two cores the
command's own work runs meanwhile. The command then sends the `Drawing` (pickled, with its downsampled arrays) and
gets back the file's bytes, which it writes itself, atomically: the renderer never touches a file, so it cannot
leave half of one. The renderer imports neither Polars nor Pydantic (tests/test_cli_startup.py checks), runs in its own
session (a Ctrl+C reaches the command, which then kills it), and exits when its stdin closes, so it outlives no
command. When it cannot start (no usable interpreter), the command renders itself, as the app always does.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys

from labtui.core import faults
from labtui.core.errors import LabtuiError, UsageError

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing
if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from labtui.core.drawing import Drawing

FORMATS = ("pdf", "svg", "png")
READY = b"R"
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # the folder holding labtui/
# The renderer imports this labtui, not whichever one the interpreter's own path would find.
_CHILD = "import sys; sys.path.insert(0, sys.argv[1]); from labtui.core.renderer import serve; serve(sys.argv[2])"


class RendererFailed(LabtuiError):
    """The renderer process stopped before it sent the figure; no file was written."""

    def __init__(self, returncode: int) -> None:
        if returncode < 0:
            how = f"was killed by {signal.Signals(-returncode).name}"
        else:
            how = f"stopped with exit status {returncode}"
        super().__init__(f"the figure renderer {how} before the figure was drawn; no file was written")


def figure_format(path: Path) -> str:
    """`pdf`, `svg` or `png` from the file name; anything else is a usage error naming the choices."""
    fmt = path.suffix.lower().removeprefix(".")
    if fmt not in FORMATS:
        shown = f"'{path.suffix}'" if path.suffix else "no extension"
        raise UsageError(f"cannot tell the figure type of {path} ({shown}): use .pdf, .svg or .png")
    return fmt


def worth_a_process() -> bool:
    """Whether a renderer process saves time: it needs a core of its own, and a process that has matplotlib already
    (a notebook, the tests) draws sooner than a new one imports it."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return cores > 1 and "matplotlib" not in sys.modules


def child_command(fmt: str) -> list[str]:
    """The renderer process's command line, getting ready to draw `fmt`."""
    return [sys.executable, "-P", "-c", _CHILD, ROOT, fmt]  # -P: a `numpy.py` in the working folder is not imported


class Renderer:
    """One figure drawn by a process started ahead of it. Entering starts the process; leaving, on any path (an
    error, a Ctrl+C), kills and reaps it."""

    def __init__(self, fmt: str, *, spawn: bool = True) -> None:
        self._fmt = fmt
        self._spawn = spawn and bool(sys.executable)  # Python may not know its own executable (embedded)
        self._process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Renderer:
        try:
            with _ctrl_c_held():  # a Ctrl+C inside Popen would lose the started process
                self._process = self._start()
        except BaseException:  # the Ctrl+C, raised once this object owns the process
            self.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def render(self, drawing: Drawing, fmt: str, *, dpi: int) -> bytes:
        """The figure's bytes, drawn by the renderer process once it is ready, or here when it never got ready."""
        import pickle

        process = self._process
        if process is None or process.stdout is None or process.stdout.read(1) != READY:
            self.close()
            from labtui.core.drawing import render

            return render(drawing, fmt, dpi=dpi)
        request = pickle.dumps((drawing, fmt, dpi), protocol=pickle.HIGHEST_PROTOCOL)
        try:
            data, _ = process.communicate(request)
        finally:
            self.close()
        if process.returncode != 0 or not data:
            raise RendererFailed(process.returncode)
        return data

    def _start(self) -> subprocess.Popen[bytes] | None:
        if not self._spawn:
            return None
        try:
            return subprocess.Popen(child_command(self._fmt), stdin=subprocess.PIPE, stdout=subprocess.PIPE, bufsize=0,
                                    start_new_session=True)  # its own session: a Ctrl+C reaches the command only
        except OSError:  # no interpreter at sys.executable, no process to spare: `render` draws here
            return None

    def close(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        if process.poll() is None:
            process.kill()
            process.wait()
        for pipe in (process.stdin, process.stdout):
            if pipe is not None:
                pipe.close()


@contextlib.contextmanager
def _ctrl_c_held() -> Iterator[None]:
    """SIGINT waits (POSIX) until the block is done, then is raised as usual."""
    if not hasattr(signal, "pthread_sigmask"):
        yield
        return
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})


def serve(fmt: str) -> None:
    """The renderer process: get ready for `fmt`, say so, then draw the one `Drawing` that comes on stdin."""
    import gc
    import pickle

    gc.disable()  # one figure, then `os._exit`: collecting would walk matplotlib's import-time objects for nothing
    faults.point("renderer_start")
    from labtui.core.drawing import load, render

    out, sys.stdout = sys.stdout.buffer, sys.stderr  # a stray print must not end up inside the figure
    load(fmt)
    with contextlib.suppress(BrokenPipeError):  # the command is gone: nobody to tell
        out.write(READY)
        out.flush()
        request = sys.stdin.buffer.read()
        if request:  # else the command stopped before its figure
            drawing, fmt, dpi = pickle.loads(request)
            faults.point("renderer_draw")
            out.write(render(drawing, fmt, dpi=dpi))
            out.flush()
    os._exit(0)  # no file is open: tearing matplotlib's modules down would only delay the command
