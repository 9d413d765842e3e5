"""The first screen: the state of the store at a glance, one key to each task."""

from __future__ import annotations

import asyncio
import datetime as dt
import threading
from typing import TYPE_CHECKING, cast

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid, Horizontal, Vertical
from textual.content import Content
from textual.reactive import reactive
from textual.widgets import Header, Sparkline, Static
from textual.worker import Worker, WorkerState

from labtui.core.lock import Holder
from labtui.core.overview import LatestRun, Overview
from labtui.core.rejects import RejectRecord
from labtui.core.scan import PassedOver
from labtui.core.stage_events import EventKind, StageReport
from labtui.core.wording import counted
from labtui.tui.base import LabFooter, LabScreen, Shown, said_errors
from labtui.tui.dirac_card import DIRAC_COLUMNS, dirac_rows, fitted_columns
from labtui.tui.live import LiveChanged
from labtui.tui.store import short_path
from labtui.tui.table import Column, FrameTable

if TYPE_CHECKING:
    import polars as pl

    from labtui.tui.stage import Progress

CARDS = (  # id, title, the binding id of the key that acts on it
    ("runs", "Runs", None),
    ("chips", "Chips", "chips"),
    ("staged", "Last staging", None),
    ("waiting", "Waiting raw files", "stage"),
    ("rejects", "Rejects", "rejects"),
    ("validation", "Last validation", "validate"),
)
LATEST_COLUMNS = [  # the overview's text of each latest run, headed as in the histories
    Column("date", "date"),
    Column("time_hms", "time"),
    Column("chip_name", "chip"),
    Column("proc", "proc", max_width=9),  # "LaserCal…": the whole name widened the column past the summary at 80
    Column("light", "💡", width=2),
    Column("summary", "summary", max_width=60, prose=True),
]
# a narrow panel (80 columns) dates a run to the minute in one column: 9 cells more for the summary, which showed
# 5 (`VG=-…`)
NARROW_LATEST = 60
COMPACT_LATEST = [Column("when", "when"), *LATEST_COLUMNS[2:]]


def _month_day_minute(run: LatestRun) -> str:
    """`10-24 01:48` of a latest run's date and time (either may be missing)."""
    return " ".join(filter(None, ((run["date"] or "")[5:], (run["time_hms"] or "")[:5])))


SHORT_ROWS = 32  # a shorter terminal gets the compact cards (one line of detail each), leaving room for the runs
DIRAC_MIN_ROWS = 22  # a shorter one keeps the runs-per-day panel whole and leaves the Dirac points out


class DashboardScreen(LabScreen, inherit_bindings=False):
    HELP = (
        "The state of the store: runs and chips staged, new raw files waiting to be staged, rejected files and the "
        "last validation. Every task is one key away; ctrl+p lists them all. w watches the raw folder: each new "
        "run is staged once it stops changing, and f follows the run being measured. Below: the latest runs "
        "(enter opens one in its chip's history), the runs per day, and the last Dirac point (CNP of the newest "
        "IVg, excluded runs left out) of each chip measured lately (enter opens that run)."
    )
    BINDINGS = [
        # priority: handled before the keys typed after it are dispatched, so `c68⏎` filters the chips for 68
        Binding("c", "app.open('chips')", "Chips", id="chips", priority=True),
        Binding("r", "app.open('rejects')", "Rejects", id="rejects"),
        Binding("v", "app.open('validate')", "Validate", id="validate"),
        Binding("f", "follow", "Follow run", id="follow", show=False),  # the measuring line names it when it applies
        Binding("s", "app.stage", "Stage", id="stage"),  # the app's keys, shown here (see `LabApp.BINDINGS`)
        Binding("w", "app.watch(True)", "Watch", id="watch"),
        Binding("w", "app.watch(False)", "Stop watching", id="watch"),
        # not inherited (escape has no use here), so tab is bound again: between the latest runs and the Dirac points
        Binding("tab", "app.focus_next", "Next table", show=False),
        Binding("shift+tab", "app.focus_previous", "Previous table", show=False),
    ]
    DEFAULT_CSS = """
    DashboardScreen #live, DashboardScreen #staging { display: none; padding: 0 2; height: auto; }
    DashboardScreen #activity { height: 1fr; min-height: 6; padding: 0 1; }
    DashboardScreen #latest { width: 2fr; border: round $primary 60%; border-title-color: $text-primary; }
    DashboardScreen #side { width: 1fr; min-width: 30; }
    DashboardScreen #per-day { height: auto; max-height: 100%; border: round $primary 60%;
                               border-title-color: $text-primary; padding: 0 1; }
    DashboardScreen #dirac { height: 1fr; min-height: 4; border: round $primary 60%;
                             border-title-color: $text-primary; scrollbar-size-horizontal: 0;
                             scrollbar-size-vertical: 1; }
    DashboardScreen #sparkline { height: 3; }
    DashboardScreen #per-day-caption { color: $text-muted; }
    """

    loaded = False  # the store's numbers and latest runs are painted (what a cold start waits for)
    refresh_seconds = 10.0  # how often the screen in view looks for new raw files and a store another process changed
    _shown: object = None  # the store's signature when its numbers were last read
    runs_by_proc: tuple[int, dict[str, int]] | None = None  # the runs, and of each procedure (`_show_runs`)
    # what the screen shows, as the workers last found it: each bound to its line (`Shown`) in `compose`
    runs_card: reactive[Text | str] = reactive("…")
    chips_card: reactive[Text | str] = reactive("…")
    staged_card: reactive[Text | str] = reactive("…")
    waiting_card: reactive[Text | str] = reactive("…")
    rejects_card: reactive[Text | str] = reactive("…")
    validation_card: reactive[Text | str] = reactive("…")
    staging_line: reactive[str] = reactive("")  # `labtui --demo` staging in the background
    live_lines: reactive[Content] = reactive(Content())  # what is watched and measured; empty when not watching
    lock_line: reactive[str] = reactive("")  # another labtui writing the store
    per_day_caption: reactive[str] = reactive("")

    def __init__(self, *, stage: bool = False) -> None:
        super().__init__()
        self.stage_on_open = stage  # `labtui --demo`: stage in the background, progress shown here
        self.staging = False
        self.cancel = threading.Event()
        self._dirac_rows: pl.DataFrame | None = None  # the Dirac points as shown, fitted again at each resize
        self._latest_rows: list[LatestRun] = []  # the latest runs, their columns chosen at each resize

    def compose(self) -> ComposeResult:
        yield Header()
        with Grid(id="cards"):
            for card_id, title, _ in CARDS:
                card = Shown(id=card_id, classes="card").data_bind(text=getattr(DashboardScreen, f"{card_id}_card"))
                card.border_title = title
                yield card
        config = self.lab.config
        yield Static(Text.assemble(("raw files: ", "bold"), short_path(config.raw_root), ("   store: ", "bold"),
                                   short_path(config.store_root)), id="paths")
        yield Shown(hide_empty=True, id="staging").data_bind(text=DashboardScreen.staging_line)
        yield Shown(hide_empty=True, id="live").data_bind(text=DashboardScreen.live_lines)
        yield Shown(hide_empty=True, id="lock", classes="notice").data_bind(text=DashboardScreen.lock_line)
        with Horizontal(id="activity"):
            latest = FrameTable(LATEST_COLUMNS, key="run_id", id="latest")
            latest.border_title = "Latest runs"
            yield latest
            with Vertical(id="side"):
                with Vertical(id="per-day") as per_day:
                    per_day.border_title = "Runs per day"
                    yield Sparkline([], id="sparkline")
                    yield Shown(id="per-day-caption").data_bind(text=DashboardScreen.per_day_caption)
                dirac = FrameTable(DIRAC_COLUMNS, key="chip_name", id="dirac")
                dirac.border_title = "Last Dirac point"
                yield dirac
        yield LabFooter()

    def on_mount(self) -> None:
        self.title = "Dashboard"
        self._show_live()  # the store's numbers load on screen resume, which also follows the first mount
        self.set_interval(self.refresh_seconds, self._look_again)
        if self.stage_on_open:
            self.stage_in_background()

    def _look_again(self) -> None:
        """While in view: the numbers again when the store changed (a `labtui stage` in another terminal), else
        the raw files waiting (a run just measured), so the screen never shows a stale count for long."""
        if not self.loaded or self.app.screen is not self:
            return
        if self.lab.store.signature() != self._shown:
            self.reload()
        else:
            self.load_waiting()
            # a writer holding the lock has not committed yet (or never will: `validate --fix`, `prune`), and the
            # app's watcher may be waiting on it: say who, as when it started, and when it is gone
            self._show_lock(self.lab.store.holder())

    def on_resize(self) -> None:
        self.set_class(self.size.height < SHORT_ROWS, "-short")
        self._show_runs()
        self.query_one("#dirac", FrameTable).display = self.size.height >= DIRAC_MIN_ROWS
        self.call_after_refresh(self._show_dirac)  # its panel's new width, once laid out
        self.call_after_refresh(self._show_latest)

    def on_screen_resume(self) -> None:
        self.reload()

    def reload(self) -> None:
        """The numbers first: the overview the last commit recorded is a small file, read here (no Polars), so
        that the first paint shows them; without one (an older store) a worker computes them from the manifest.
        Once they are painted: the raw files waiting, the Dirac points and a validation, which need Polars
        (importing it in a worker thread holds the interpreter for a few hundred milliseconds)."""
        self._show_keys()
        self._show_validation()
        self._shown = self.lab.store.signature()  # before the reads: a change while they run is seen next time
        recorded = self.lab.store.recorded_overview()
        if recorded is None:
            self.load_status()
        else:
            self._show_status(recorded)

    @work(group="status", exclusive=True, exit_on_error=False)
    async def load_status(self) -> None:
        from labtui.core.manifest import ManifestDamaged  # with Polars: the overview's worker needs it anyway

        try:
            overview = await asyncio.to_thread(self.lab.store.overview)
        except ManifestDamaged:  # its dialog is shown once: the cards kept the numbers of before, "nothing new"
            self._show_damaged()
            raise
        self._show_status(overview)

    def _show_damaged(self) -> None:
        """The dashboard of a store whose manifest cannot be read: no number nor run from before it was damaged,
        and the validation (which names the mend) run again."""
        store = self.lab.store
        self._show_overview(Overview(0, 0, {}, None, [], [], None), store.rejects(), store.holder())
        self.runs_by_proc = None
        self._card("runs", "damaged", "labtui repair")
        for card in ("chips", "waiting"):
            self._card(card, "?", "no manifest to read")
        self.query_one("#latest", FrameTable).empty_text = "the manifest cannot be read (labtui repair)"
        self.per_day_caption = ""
        if self._dirac_rows is not None:
            self.query_one("#dirac", FrameTable).empty_text = "no manifest to read"
            self._dirac_rows = self._dirac_rows.clear()
            self._show_dirac()
        self.loaded = True
        if self.app.screen is self and self.lab.validated != self.lab.store.signature():
            self.revalidate()

    def _show_status(self, overview: Overview) -> None:
        store = self.lab.store
        self._show_overview(overview, store.rejects(), store.holder())
        self.call_after_refresh(self._load_the_rest)

    def _load_the_rest(self) -> None:
        self.loaded = True
        self.load_waiting()
        self.load_dirac_points()
        if self.app.screen is self and self.lab.validated != self.lab.store.signature():
            self.revalidate()  # only when in view

    @work(group="dirac", exclusive=True, exit_on_error=False)
    async def load_dirac_points(self) -> None:
        points, damaged = await asyncio.to_thread(self.lab.store.dirac_points)
        dirac = self.query_one("#dirac", FrameTable)
        dirac.empty_text = "no chip measured yet"  # once read: an empty table before is one still loading
        self._dirac_rows = dirac_rows(points, damaged)
        # the newest chip first, unless the user is in the card: its cursor on a chip seen before kept the chips a
        # stage brought out of its two lines at 80×24
        newest = None if dirac.has_focus or not self._dirac_rows.height else self._dirac_rows["chip_name"][0]
        self._show_dirac(newest)

    def _show_dirac(self, keep: str | None = None) -> None:
        """The Dirac points fitted to the panel's width (`fitted_columns`), the cursor on the chip `keep` (default:
        the one it is on)."""
        if self._dirac_rows is None:
            return
        dirac = self.query_one("#dirac", FrameTable)
        dirac.show(self._dirac_rows, columns=fitted_columns(dirac.size.width), keep=keep)

    @work(group="waiting", exclusive=True, exit_on_error=False)
    async def load_waiting(self) -> None:
        store = self.lab.store
        passed = PassedOver()
        waiting = await asyncio.to_thread(store.waiting, passed)
        if waiting is None or "" in passed.unlisted:
            # said in the card's first line: the compact card cuts the path's message short
            self._card("waiting", "no raw folder", self.lab.config.raw_root_problem() or "")
        elif passed.unlisted:  # their files are not counted: s names them
            self._card("waiting", f"{len(waiting.files)}", f"{counted(len(passed.unlisted), 'folder')} unreadable")
        elif waiting.files:  # since the last staging; a card at 80 columns
            total, again = len(waiting.files), waiting.again
            why = "new or changed" if not again else "by newer rules" if again == total else f"{again} by newer rules"
            if waiting.redated:  # the config's zone is not the one the runs were dated in: said as that
                why = f"{waiting.redated} to re-date (local_tz)"
            self._card("waiting", f"{total}", why)
        elif await asyncio.to_thread(store.derived_outdated):  # an older labtui's table, or none: s redoes it
            self._card("waiting", "0", "derived values stale")
        elif await asyncio.to_thread(store.staged_anything):  # reads the reject records: not on the UI thread
            self._card("waiting", "0", "nothing new")
        else:  # every raw file is staged, rejected or waiting: there are none
            self._card("waiting", "0", "no raw CSV files")

    @work(group="validate", exclusive=True, exit_on_error=False)
    async def revalidate(self) -> None:
        """The store changed since the last validation (or none ran yet): check it again, in the background."""
        self._card("validation", "checking…", "")
        self.lab.record_validation(*await asyncio.to_thread(self.lab.store.validate))
        self._show_validation()

    def on_live_changed(self, _: LiveChanged) -> None:
        self._show_live()

    def _show_live(self) -> None:
        """While watching: what is watched, the runs being measured, the last problem (retried until it clears)."""
        live, config = self.lab.live, self.lab.config
        if not live.watching:
            self.live_lines = Content()
            return
        lines = [Content.assemble(("⟳ watching ", "bold"), short_path(config.raw_root),
                                  f": a new run is staged once unchanged for {config.watch_settle_seconds:g} s")]
        follow = self._keys().get("follow")
        lines += [Content.assemble(("● measuring now: ", "bold $text-success"), run.description,
                                   (f"  ({follow} follows it)" if number == 0 and follow else "", "dim"))
                  for number, run in enumerate(live.measuring)]
        if live.problem:
            lines.append(Content.assemble(("⚠ " + live.problem, "$text-error")))
        self.live_lines = Content("\n").join(lines)

    def action_follow(self) -> None:
        """The first run being measured (one setup measures one run at a time)."""
        from labtui.tui.follow import FollowScreen  # brings the plot screen's libraries: imported when needed

        if not self.lab.live.measuring:
            hint = "" if self.lab.live.watching else " (w watches the raw folder for runs being written)"
            self.notify(f"no run is being measured{hint}", severity="warning")
            return
        self.app.push_screen(FollowScreen(self.lab.live.measuring[0].source_file))

    # -- staging at start (`labtui --demo`) ---------------------------------------------------------------------
    def stage_in_background(self) -> None:
        self.staging = True
        self.staging_line = "⟳ staging the raw files…"
        self.run_stage()

    @work(thread=True, group="stage", exclusive=True, exit_on_error=False)
    def run_stage(self) -> StageReport:
        from labtui.tui.stage import Relay  # the staging screen's module: imported when a staging starts

        return self.lab.store.stage(on_event=Relay(self.post_message, self.lab.config.zone), cancel=self.cancel)

    def on_progress(self, message: Progress) -> None:
        """The staging's `Progress` messages (handled by name: the class is imported when a staging starts)."""
        event = message.event
        if event.kind in (EventKind.SCAN, EventKind.FILE) and event.total:
            self.staging_line = f"⟳ staging the raw files: {event.done} of {event.total}…"

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.worker.group != "stage" or event.state not in (WorkerState.SUCCESS, WorkerState.ERROR):
            return
        self.staging = False
        self.staging_line = ""
        if event.state is WorkerState.SUCCESS:
            report = cast(StageReport, event.worker.result)
            if report.staged or report.new_rejects:
                rejected = (f"; {counted(len(report.new_rejects), 'file')} rejected, r shows why"
                            if report.new_rejects else "")
                self.notify(f"{counted(report.staged, 'run')} staged{rejected}", title="Staged")
        self.lab.check_store()  # a failure (another labtui staging this store, …) is the app's to show

    def on_unmount(self) -> None:
        """Quitting stops the staging cleanly (what was committed stays valid)."""
        self.cancel.set()

    # -- what the store holds -----------------------------------------------------------------------------------
    @on(FrameTable.Chosen, "#latest")
    @on(FrameTable.Chosen, "#dirac")
    @said_errors
    def _open_run(self, event: FrameTable.Chosen) -> None:
        """The run in its chip's history (a chip without a Dirac point yet has no run to open)."""
        from labtui.tui.history import run_screen  # the histories' screens: imported when first opened

        if event.row["run_id"] is None:
            return
        screen = run_screen(self.lab.store.manifest(), event.row["run_id"], self.lab)
        if screen is None:  # the row was drawn before another terminal re-staged or pruned its run
            self.notify("this run is no longer in the store (re-staged or pruned since): the dashboard is read again",
                        severity="warning")
            self.reload()
        else:
            self.app.push_screen(screen)

    def _card(self, card_id: str, value: str, detail: str) -> None:
        setattr(self, f"{card_id}_card", Text.assemble((value, "bold"), "\n", (detail, "dim")))

    def _show_runs(self) -> None:
        """The runs, and how many of each procedure, a count never parted from its name (no-break spaces). The
        compact card's one line of detail cut `It 329 · IVg 217 · L…`, the other procedures unseen: there the counts
        follow the total and wrap onto the next line, a name past 9 letters cut to 8 (`LaserCal…`, as the latest
        runs' proc column cuts it)."""
        if self.runs_by_proc is None:
            return
        runs, procs = self.runs_by_proc
        short = self.has_class("-short")
        names = {proc: proc if not short or len(proc) <= 9 else f"{proc[:8]}…" for proc in procs}
        detail = ", ".join(f"{names[proc]}\xa0{n}" for proc, n in procs.items()) or "none yet"  # `·` began a line
        self.runs_card = Text.assemble((f"{runs}", "bold"), "  " if short else "\n", (detail, "dim"))

    def _show_overview(self, status: Overview, rejects: list[RejectRecord], holder: Holder | None) -> None:
        self.runs_by_proc = status.runs, status.procs
        self._show_runs()
        self._card("chips", f"{status.chips}", "by group and number")
        staged = [t for t in (status.last_staged_utc, *(r.rejected_at_utc for r in rejects)) if t is not None]
        if not staged:  # a staging that only rejected files still counts: it read them
            self._card("staged", "never", "press s to stage")
        else:
            local = max(staged).astimezone(self.lab.config.zone)
            self._card("staged", local.strftime("%Y-%m-%d %H:%M"), self.lab.config.local_tz)
        self._card("rejects", f"{len(rejects)}", "could not be staged" if rejects else "none")
        self._show_lock(holder)
        self.query_one("#latest", FrameTable).empty_text = "no runs yet"  # as the Dirac points': said once read
        self._latest_rows = [{**row, "when": _month_day_minute(row)} for row in status.latest]
        self._show_latest()
        sparkline = self.query_one("#sparkline", Sparkline)
        sparkline.data = status.per_day
        sparkline.display = bool(status.per_day)
        caption = "no runs yet: s stages the raw files"
        if status.first_day is not None:
            last_day = status.first_day + dt.timedelta(days=len(status.per_day) - 1)
            days = counted(len(status.per_day), "day")  # up to the newest run's day, ACTIVITY_DAYS at most
            caption = (f"{days} to {last_day:%m-%d}:\n{counted(sum(status.per_day), 'run')}\n"  # days first: no total
                       f"busiest day: {counted(max(status.per_day), 'run')}")
        self.per_day_caption = caption

    def _show_latest(self) -> None:
        latest = self.query_one("#latest", FrameTable)
        latest.columns = COMPACT_LATEST if latest.size.width < NARROW_LATEST else LATEST_COLUMNS
        newest = self._latest_rows[0]["run_id"] if self._latest_rows and latest.cursor == 0 else None
        latest.show_text(self._latest_rows, keep=newest)  # a cursor on the newest run stays on the newest

    def _show_lock(self, holder: Holder | None) -> None:
        if holder is None or holder.is_this_process():  # the app's own staging shows as its progress line
            self.lock_line = ""
        else:
            self.lock_line = f"⚠ the store is being written by {holder.describe(self.lab.config.zone)}"

    def _show_validation(self) -> None:
        report = self.lab.last_validation
        if report is None:
            return
        if report.no_store:  # its warnings are that very fact and the files to stage: "no store yet / 2 warnings"
            self._card("validation", "no store yet", f"{counted(report.stats.get('raw_files', 0), 'raw file')} "
                                                     "to stage")
            return
        counts = report.counts()
        value = "✔ healthy" if report.ok else f"✘ {counted(counts['error'], 'error')}"
        self._card("validation", value, f"{counted(counts['warning'], 'warning')}, {counts['info']} info")

    def _keys(self) -> dict[str | None, str]:
        """The key of each binding id, as remapped in `config.keys`."""
        return {active.binding.id: self.app.get_key_display(active.binding) for active in self.active_bindings.values()}

    def _show_keys(self) -> None:
        """Each card's subtitle names the key that acts on it, as remapped in `config.keys`."""
        keys = self._keys()
        for card_id, _, binding_id in CARDS:
            if binding_id is not None and binding_id in keys:
                self.query_one(f"#{card_id}", Static).border_subtitle = f"{keys[binding_id]} →"
