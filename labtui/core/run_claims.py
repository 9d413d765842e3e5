"""Which raw file owns each run while a stage reads files in several threads: a run_id is claimed before its Parquet
is written, so a second file mapping to the same run (a case twin) or a file cut short since it was staged is
rejected without touching the Parquet of the run it would replace. Also what a stage says of a file whose new run
stands for another run: one it replaces (`replaced_note`), one whose file moved (`moved_note`)."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from labtui.core.rejects import Reject
from labtui.core.wording import counted

if TYPE_CHECKING:
    import polars as pl

    from labtui.core.manifest_row import ManifestRow


class RunClaims:
    """The claims of one stage, starting from the manifest it read (`staged`) and the raw files it found
    (`present`). `take_cut_short`: files the user named to be taken as they are (`restage --force`)."""

    def __init__(self, staged: pl.DataFrame, present: set[str], take_cut_short: bool) -> None:
        runs, sources = staged["run_id"].to_list(), staged["source_file"].to_list()
        self._staged = staged
        self._present = present
        self._take_cut_short = take_cut_short
        self._lock = threading.Lock()
        self._claimed = dict(zip(runs, sources, strict=True))  # run_id -> source_file that owns it
        self._owned = dict(zip(sources, runs, strict=True))  # source_file -> its run_id
        self._staged_runs: dict[str, tuple[str, int]] | None = None  # (proc, n_rows) by run_id, made when a staged
        # file is re-read
        self._replaced: dict[str, str] = {}  # source_file -> the run_id it held, where its new run is another

    def run_of(self, source_file: str) -> str | None:
        """The run the file holds: as staged, or as claimed in this stage."""
        return self._owned.get(source_file)

    def replaced_run(self, source_file: str) -> dict[str, Any] | None:
        """The manifest row of the run a file held as staged that its new run replaces (another start time, which
        the run_id reads, or another procedure); None where the file's run is the same, or it held none."""
        import polars as pl

        if (run_id := self._replaced.get(source_file)) is None:
            return None
        return self._staged.row(by_predicate=pl.col("run_id") == run_id, named=True)

    def claim(self, row: ManifestRow, last_line: int) -> None:
        """Reserve the row's run_id; raises `Reject` for a case twin of a present file and for a file cut short (its
        rows end on `last_line`)."""
        with self._lock:
            owner = self._claimed.get(row.run_id)
            if owner is not None and owner != row.source_file and owner in self._present:
                raise Reject(
                    "duplicate_run",
                    f"maps to the same run as {owner} (paths equal but for letter case, same start time)",
                    owner=owner,
                )
            old = self._owned.get(row.source_file)
            if old == row.run_id and (staged := self._staged_run(old)) is not None and staged[0] != row.proc:
                self._replaced[row.source_file] = old  # another measurement, at the same start: no cut
            elif old == row.run_id and not self._take_cut_short:
                self._refuse_cut_short(row, last_line)
            if old is not None and old != row.run_id and self._claimed.get(old) == row.source_file:
                del self._claimed[old]  # the file's start time moved: its old run_id is free
                self._replaced[row.source_file] = old
            self._claimed[row.run_id] = row.source_file
            self._owned[row.source_file] = row.run_id

    def _staged_run(self, run_id: str) -> tuple[str, int] | None:
        """The staged run's procedure and row count (the table made once: a filter per file re-read took 230 µs of
        the claim lock at 65k runs)."""
        if self._staged_runs is None:
            runs = self._staged.select("run_id", "proc", "n_rows").rows()
            self._staged_runs = {run_id: (proc, n_rows) for run_id, proc, n_rows in runs}
        return self._staged_runs.get(run_id)

    def _refuse_cut_short(self, row: ManifestRow, last_line: int) -> None:
        """A run with fewer rows than the same run (same file, same start time) as staged is a file cut short (a
        copy that failed, a bad edit; the acquisition only ever appends): rejected, so the staged run stays
        (`Stager._collect`). Whether or not it reads as complete: a procedure without a completeness rule (It2, IVT,
        …) is complete at any length, and its run was replaced by 40 of its 2135 rows. Another run under the file's
        name is no cut: it replaces the old one as before."""
        before = staged[1] if (staged := self._staged_run(row.run_id)) is not None else None
        if before is not None and row.n_rows < before:
            raise Reject("cut_short", f"cut short: {counted(row.n_rows, 'data row')} left of the {before} of its "
                                      "staged run; restore the file, or `labtui restage --force` it to stage what is "
                                      "left", last_line)


def replaced_note(old: dict[str, Any], row: ManifestRow, marks: dict[str, Any] | None = None) -> str:
    """What a stage says of a file whose new run replaced its staged one (`RunClaims.replaced_run`): the old run's
    data leave the store, and where another measurement was copied over the file, only a backup brings it back; the
    old run's annotations (`marks`, its row of `current_annotations`) stay with it until carried over, or, under its
    run_id, now mark the new run."""
    staged = f"{old['proc']}, started {old['start_time_utc']:%Y-%m-%d %H:%M:%S} UTC, {old['n_rows']} rows"
    article = "an" if row.proc[:1] in "AEIOU" else "a"
    now = (f"it now holds {article} {row.proc} run" if old["proc"] != row.proc
           else f"its start time is now {row.start_time_utc:%Y-%m-%d %H:%M:%S} UTC")
    kept = (". Its Parquet is set aside in the store's _quarantine/…-replaced-runs/: if another measurement was "
            "copied over the file, the old one's data are there; restore its raw file from a backup under a name of "
            "its own" if old["run_id"] != row.run_id else ". If another measurement was copied over the file, "
            "restore the old one from a backup under a name of its own")
    return f"replaces the file's staged run {old['run_id']} ({staged}): {now}{_kept(old, row, marks)}{kept}"


def _kept(old: dict[str, Any], row: ManifestRow, marks: dict[str, Any] | None) -> str:
    """Where the replaced run's annotations are now, and how to move or take them back."""
    if marks is None:
        return ""
    import shlex

    from labtui.core.annotations import summary

    if old["run_id"] != row.run_id:
        return (f". Its annotations ({summary(marks)}) stay with run {old['run_id']}, not on the new one: `labtui "
                "validate --fix` carries them over (for the same measurement re-timed, not another one copied over "
                "the file)")
    undo = [*(["--unstar"] if marks["starred"] else []), *(["--include"] if marks["excluded"] else []),
            *(f"--untag {shlex.quote(tag)}" for tag in marks["tags"] or ()),
            *(["--clear-note"] if marks["note"] else [])]
    return (f". Its annotations ({summary(marks)}) now mark the new run, which keeps its run_id: `labtui annotate "
            f"--run {row.run_id} {' '.join(undo)}` takes them back if they were of the old measurement alone")


def moved_note(moved_from: str, run_id: str, old_run: str, marks: dict[str, Any] | None) -> str:
    """What a stage says of a file (staged as `run_id`) holding the content of a staged run (`old_run`) whose raw
    file is gone, and that run's annotations (`marks`): they stay with it, and the command that marks the new run
    alike is said (which of two files holding the content is the moved one, and whether the lab meant the old marks
    for it, only the lab knows: a copied annotation, of a copy, excluded an original)."""
    said = f"the content of {moved_from}, staged and its raw file gone: moved? `labtui prune --yes` drops the run " \
           "of the old path"
    if marks is None:
        return said
    from labtui.core.annotations import summary

    return (f"{said}. Its annotations ({summary(marks)}) stay with that run, not on this one: `labtui annotate --run "
            f"{run_id} --like {old_run}` marks this one alike")
