"""What the benchmarks share: samples taken in interleaved rounds and reported as medians with ratios, the moment
the plot view paints (the end of a TUI action), and a full stage timed in a fresh process.

Interleaving (every case once per round, round after round) makes a load spike on the shared machine hit every
case alike, so the ratio of medians stays fair when the absolute times do not.

What one case writes must not be charged to the next. Its dirty pages are flushed before the next case starts its
clock (`settle_disk`), and the staging benchmarks delete nothing until every round is timed: on ext4 without a
journal (this VM's disk) a new inode skips every inode freed in the last minute or more (`recently_deleted`), so a
stage right after a deletion of a few thousand files took 20–50 % longer (measured; the kernel was 30 % of it).
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")
ROOT = Path(__file__).resolve().parents[1]


class Rounds:
    """Milliseconds per case, appended round by round; medians, ratios and the report lines."""

    def __init__(self, *cases: str) -> None:
        self.samples: dict[str, list[float]] = {case: [] for case in cases}

    def time(self, case: str, fn: Callable[[], T]) -> T:
        """Run `fn` once, add its wall time to `case`, return its result."""
        started = time.perf_counter()
        result = fn()
        self.add(case, (time.perf_counter() - started) * 1000)
        return result

    def add(self, case: str, ms: float) -> None:
        self.samples.setdefault(case, []).append(ms)

    def median(self, case: str) -> float:
        return statistics.median(self.samples[case])

    def ratio(self, case: str, reference: str) -> float:
        return self.median(case) / self.median(reference)

    def line(self, case: str, *, reference: str | None = None, target_ms: float | None = None, width: int = 24) -> str:
        """`case  median … ms, min …, max …`, then its ratio to `reference` and its verdict against `target_ms`."""
        values = self.samples[case]
        text = f"  {case:{width}} median {self.median(case):7.1f} ms, min {min(values):7.1f}, max {max(values):7.1f}"
        if reference is not None and case != reference:
            text += f", {self.ratio(case, reference):4.2f}× {reference}"
        if target_ms is not None:
            verdict = "ok" if self.median(case) <= target_ms else "TOO SLOW (see the ratio on a loaded machine)"
            text += f"  (target ≤ {target_ms:g} ms: {verdict})"
        return text

    def report(self, *, reference: str | None = None, target_ms: float | None = None) -> None:
        width = max(map(len, self.samples), default=0)
        for case in self.samples:
            print(self.line(case, reference=reference, target_ms=target_ms, width=width))


class Painted:
    """Wraps `PlotView.render` to record when the expected screen's plot first paints a spec newer than before."""

    def __init__(self) -> None:
        from labtui.tui.plot_view import PlotView  # the TUI benchmarks only: the others never load Textual

        self.event = asyncio.Event()
        self.at = 0.0  # perf_counter() when that render returned
        self.screen: object = None
        self.old: object = None  # the spec painted before: waiting for a newer one
        original = PlotView.render

        def render(view: PlotView):  # type: ignore[no-untyped-def]
            result = original(view)
            spec = getattr(self.screen, "spec", None)
            if spec is not None and spec is not self.old and view.shaped_width == view.size.width:
                self.at = time.perf_counter()
                self.event.set()
            return result

        PlotView.render = render  # type: ignore[method-assign]

    def expect(self, screen: object) -> None:
        """Call before the action timed: the next paint of a spec other than the screen's current one counts."""
        self.screen, self.old = screen, getattr(screen, "spec", None)
        self.event.clear()

    async def since(self, started: float, timeout: float = 30) -> float:
        """Milliseconds from `started` (a perf_counter()) to the expected paint."""
        await asyncio.wait_for(self.event.wait(), timeout)
        return (self.at - started) * 1000


_STAGE_CHILD = """
import json, resource, sys, time
from labtui.__main__ import tune_native_libraries
tune_native_libraries()  # as the `labtui` command does, before NumPy and Polars are imported
# the same imports with or without the derived step (the metrics' computations and NumPy too), all before the clock
import labtui.core.extract, labtui.core.manifest, labtui.core.metrics.table
import labtui.core.metrics as metrics
from labtui.core.config import load_config
from labtui.core.stager import stage
settings = json.loads(sys.argv[1])
own = [0.0]  # CPU of the threads while they run the derived step's hooks (their own cost, not its side effects)
def timed(hook):
    def run(*args, **kwargs):
        started = time.thread_time()
        try:
            return hook(*args, **kwargs)
        finally:
            own[0] += time.thread_time() - started
    return run
derived = settings.pop("derived")
stubs = {"from_data": lambda *args: (), "curve_of": lambda *args: None, "compute_update": lambda *a, **k: None,
         "update_after_stage": lambda *a, **k: None}
for name, stub in stubs.items():  # the stager imports these hooks from the package when it runs
    setattr(metrics, name, timed(getattr(metrics, name)) if derived else stub)
config = load_config(None, **settings)
started, cpu = time.perf_counter(), time.process_time()
stage(config)
try:  # the shared libraries' pages mapped (Linux): part of the peak, sized by the kernel's page cache, not by labtui
    library = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("RssFile:"))
except (OSError, StopIteration):
    library = 0
print(time.perf_counter() - started, time.process_time() - cpu, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
      own[0], library)
"""


@dataclass(frozen=True)
class ChildStage:
    wall_s: float
    cpu_s: float  # all threads of the process
    peak_rss_kib: int
    derived_cpu_s: float  # the threads' CPU inside the derived step's hooks (0 with it off)
    library_kib: int  # of the peak, the shared libraries' file pages at the end (0 where /proc does not say)


def settle_disk() -> None:
    """Flush what earlier cases wrote (`sync`) before the next one starts its clock: a stage's commit makes its
    files durable with `syncfs`, which would otherwise also write out the floor's or the other tool's output and
    charge that to labtui (about 0.3 s a round, measured)."""
    os.sync()


def stage_in_child(*, derived: bool = True, **settings: object) -> ChildStage:
    """One `stage()` in a fresh process (no pools, caches or garbage inherited from another run), imports done
    before the clock starts, as in the floor's process. `settings` are `load_config` overrides (paths as text or
    Path); `derived=False` switches the derived metrics off."""
    settle_disk()
    payload = json.dumps({"derived": derived, **{key: value if value is None or isinstance(value, int | float) else
                                                  str(value) for key, value in settings.items()}})
    out = subprocess.run([sys.executable, "-c", _STAGE_CHILD, payload], capture_output=True, text=True, check=True,
                         cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}).stdout
    wall, cpu, rss, derived_cpu, library = out.split()
    return ChildStage(float(wall), float(cpu), int(rss), float(derived_cpu), int(library))
