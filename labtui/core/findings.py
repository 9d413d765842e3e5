"""What `labtui validate` reports: findings (code, severity, offenders, the fix) and the report that holds them.

Shared by the read-only checks (validate.py), the repairs (fixes.py), the CLI and the app.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

Severity = Literal["error", "warning", "info"]
ITEMS_SHOWN = 50
SEVERITY_ORDER = {"error": 0, "warning": 1, "info": 2}


class FindingCode(StrEnum):
    """What kind of problem a finding is: the stable name scripts read from `labtui validate --json`."""

    MANIFEST_MISSING = "manifest_missing"
    MANIFEST_UNREADABLE = "manifest_unreadable"
    MANIFEST_COLUMNS = "manifest_columns"
    SOURCE_OUTSIDE = "source_outside"
    SCHEMA = "schema"
    NULL_REQUIRED = "null_required"
    DUPLICATE_RUN_ID = "duplicate_run_id"
    PARQUET_MISSING = "parquet_missing"
    PARQUET_UNREADABLE = "parquet_unreadable"
    ROW_COUNT_MISMATCH = "row_count_mismatch"
    PARQUET_OF_ANOTHER_RUN = "parquet_of_another_run"
    MANIFEST_UNLIKE_RECORD = "manifest_unlike_record"
    DATE_LOCAL_MISMATCH = "date_local_mismatch"
    DATED_APART = "dated_apart"
    ORPHAN_PARQUET = "orphan_parquet"
    DUPLICATE_CONTENT = "duplicate_content"
    SAME_START = "same_start"
    CHIP_NAME_CLASH = "chip_name_clash"
    INCOMPLETE = "incomplete"
    STORE_MISSING = "store_missing"
    RAW_ROOT_MISSING = "raw_root_missing"
    RAW_ROOT_UNREADABLE = "raw_root_unreadable"
    RAW_ROOT_DIFFERS = "raw_root_differs"
    RAW_MISSING = "raw_missing"
    RAW_CHANGED = "raw_changed"
    RAW_TOUCHED = "raw_touched"
    RAW_OLDER_RULES = "raw_older_rules"
    RAW_NEW = "raw_new"
    RAW_NOT_REGULAR = "raw_not_regular"
    RAW_FOLDER_LINK = "raw_folder_link"
    RAW_UNLISTED = "raw_unlisted"
    REJECTS = "rejects"
    REJECTS_STALE = "rejects_stale"
    REJECT_UNREADABLE = "reject_unreadable"
    INTERRUPTED_WRITER = "interrupted_writer"
    WRITER_ACTIVE = "writer_active"
    FOREIGN_FILES = "foreign_files"
    FILE_FOR_FOLDER = "file_for_folder"
    ANNOTATIONS_ORPHANED = "annotations_orphaned"
    ANNOTATIONS_REATTACHABLE = "annotations_reattachable"
    ANNOTATIONS_UNREADABLE = "annotations_unreadable"
    ANNOTATIONS_AHEAD = "annotations_ahead"
    REGISTRY_WITHOUT_LIKE = "registry_without_like"
    REGISTRY_INVALID = "registry_invalid"
    METRICS_DAMAGED = "metrics_damaged"


MANIFEST_FILE_CODES = {FindingCode.MANIFEST_MISSING, FindingCode.MANIFEST_UNREADABLE, FindingCode.MANIFEST_COLUMNS}


class FixAction(StrEnum):
    """How `apply_fixes` (fixes.py) repairs a finding; findings of other codes are not fixable automatically."""

    RESTAGE = "restage"
    STAGE = "stage"
    QUARANTINE_ORPHANS = "quarantine_orphans"
    REMOVE_BAD_REJECTS = "remove_bad_rejects"
    REATTACH = "reattach_annotations"
    QUARANTINE = "quarantine"


FIX_ACTION = {
    FindingCode.SCHEMA: FixAction.RESTAGE,
    FindingCode.NULL_REQUIRED: FixAction.RESTAGE,
    FindingCode.DUPLICATE_RUN_ID: FixAction.RESTAGE,
    FindingCode.PARQUET_MISSING: FixAction.RESTAGE,
    FindingCode.PARQUET_UNREADABLE: FixAction.RESTAGE,
    FindingCode.ROW_COUNT_MISMATCH: FixAction.RESTAGE,
    FindingCode.PARQUET_OF_ANOTHER_RUN: FixAction.RESTAGE,
    FindingCode.MANIFEST_UNLIKE_RECORD: FixAction.RESTAGE,
    FindingCode.DATE_LOCAL_MISMATCH: FixAction.RESTAGE,
    FindingCode.RAW_CHANGED: FixAction.RESTAGE,
    FindingCode.RAW_TOUCHED: FixAction.STAGE,  # a stage records their new stat, and stages none again
    FindingCode.RAW_NEW: FixAction.STAGE,
    FindingCode.REJECTS_STALE: FixAction.STAGE,
    FindingCode.INTERRUPTED_WRITER: FixAction.STAGE,
    FindingCode.ORPHAN_PARQUET: FixAction.QUARANTINE_ORPHANS,
    FindingCode.REJECT_UNREADABLE: FixAction.REMOVE_BAD_REJECTS,
    FindingCode.ANNOTATIONS_REATTACHABLE: FixAction.REATTACH,
    FindingCode.FOREIGN_FILES: FixAction.QUARANTINE,
}


@dataclass(frozen=True)
class Finding:
    """One kind of problem: how bad, how many, the first offenders, and what to do about it.

    `restage` lists every source file whose re-staging repairs the finding (all of them, not only the `items`
    shown); a finding is `fixable` when `apply_fixes` can repair it.
    """

    code: FindingCode
    severity: Severity
    title: str
    count: int
    items: list[str]
    fix: str
    fixable: bool
    restage: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, object]:
        return {
            "code": self.code, "severity": self.severity, "title": self.title, "count": self.count,
            "items": self.items, "fix": self.fix, "fixable": self.fixable,
        }


@dataclass
class ValidationReport:
    findings: list[Finding]
    stats: dict[str, int]
    elapsed_s: float

    @property
    def ok(self) -> bool:
        """No errors: warnings (rejects, aborted runs, unstaged files) do not make a store unhealthy."""
        return not any(finding.severity == "error" for finding in self.findings)

    @property
    def no_store(self) -> bool:
        """Nothing staged here yet: no errors, but nothing checked either, so not to be called healthy."""
        return any(finding.code == FindingCode.STORE_MISSING for finding in self.findings)

    @property
    def fixable(self) -> list[Finding]:
        return [finding for finding in self.findings if finding.fixable]

    def counts(self) -> dict[str, int]:
        return {severity: sum(f.severity == severity for f in self.findings) for severity in SEVERITY_ORDER}

    def to_dict(self) -> dict[str, object]:
        return {
            "ok": self.ok, "elapsed_s": round(self.elapsed_s, 3), "stats": self.stats, "counts": self.counts(),
            "findings": [finding.to_dict() for finding in self.findings],
        }


def make_finding(
    code: FindingCode, severity: Severity, title: str, offenders: list[str], fix: str, restage: Iterable[str] = ()
) -> list[Finding]:
    """A finding when there are offenders, else nothing; fixable only when its repair has something to act on."""
    if not offenders:
        return []
    targets = tuple(sorted(set(restage)))
    action = FIX_ACTION.get(code)
    fixable = action is not None and (action is not FixAction.RESTAGE or bool(targets))
    return [Finding(code, severity, title, len(offenders), offenders[:ITEMS_SHOWN], fix, fixable, targets)]
