"""Annotations: star, exclude (with a reason), tag and note runs, kept apart from the data in `<store>/_annotations/`.

`log.py` is the append-only log on disk (format, writing, compaction, cached reading); `views.py` what it means
now (the current annotations, joined onto runs, filtered, shown); `exclusions.py` the runs excluded now, from a
digest kept up to date beside the log; `edits.py` the writes derived from it (an
annotation of the runs it changes, undo, re-attaching the annotations of re-staged runs).
"""

from labtui.core.annotations.edits import Orphans, Undone, annotate, orphans, reattach, undo
from labtui.core.annotations.exclusions import excluded_runs
from labtui.core.annotations.log import (
    ACTIONS_DIR,
    KINDS,
    SNAPSHOT,
    Action,
    AnnotationError,
    AnnotationKind,
    Change,
    ahead_of_clock,
    annotation_log,
    annotations_dir,
    check_length,
    default_author,
    read_log,
    unread_note,
    unreadable_actions,
)
from labtui.core.annotations.views import (
    ANNOTATION_COLUMNS,
    CURRENT_SCHEMA,
    AnnotationFilter,
    annotate_runs,
    current_annotations,
    current_view,
    hidden_note,
    log_lines,
    summaries,
    summary,
    with_annotations,
)

__all__ = [
    "ACTIONS_DIR",
    "ANNOTATION_COLUMNS",
    "CURRENT_SCHEMA",
    "KINDS",
    "SNAPSHOT",
    "Action",
    "AnnotationError",
    "AnnotationFilter",
    "AnnotationKind",
    "Change",
    "Orphans",
    "Undone",
    "ahead_of_clock",
    "annotate",
    "annotate_runs",
    "annotation_log",
    "annotations_dir",
    "check_length",
    "current_annotations",
    "current_view",
    "default_author",
    "excluded_runs",
    "hidden_note",
    "log_lines",
    "orphans",
    "read_log",
    "reattach",
    "summaries",
    "summary",
    "undo",
    "unread_note",
    "unreadable_actions",
    "with_annotations",
]
