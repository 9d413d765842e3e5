"""What `labtui validate` reports: findings (code, severity, offenders, the fix) and the report that holds them.

Shared by the read-only checks (validate.py), the repairs (fixes.py), the CLI and the app.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

Severity = Literal["error", "warning", "info"]
ITEMS_SHOWN = 50
SEVERITY_ORDER = {"error": 0, "warning": 1, "info": 2}
MANIFEST_FILE_CODES = {"manifest_missing", "manifest_unreadable", "manifest_columns"}

# How `apply_fixes` (fixes.py) repairs a finding; findings of other codes are not fixable automatically.
RESTAGE, STAGE, REMOVE_ORPHANS, REMOVE_BAD_REJECTS = "restage", "stage", "remove_orphans", "remove_bad_rejects"
REATTACH = "reattach_annotations"
QUARANTINE = "quarantine"
FIX_ACTION = {
    "schema": RESTAGE,
    "null_required": RESTAGE,
    "duplicate_run_id": RESTAGE,
    "parquet_missing": RESTAGE,
    "parquet_unreadable": RESTAGE,
    "row_count_mismatch": RESTAGE,
    "date_local_mismatch": RESTAGE,
    "raw_changed": RESTAGE,
    "raw_touched": RESTAGE,
    "raw_new": STAGE,
    "rejects_stale": STAGE,
    "interrupted_writer": STAGE,
    "orphan_parquet": REMOVE_ORPHANS,
    "reject_unreadable": REMOVE_BAD_REJECTS,
    "annotations_reattachable": REATTACH,
    "foreign_files": QUARANTINE,
}


@dataclass(frozen=True)
class Finding:
    """One kind of problem: how bad, how many, the first offenders, and what to do about it.

    `restage` lists every source file whose re-staging repairs the finding (all of them, not only the `items`
    shown); a finding is `fixable` when `apply_fixes` can repair it.
    """

    code: str
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
    code: str, severity: Severity, title: str, offenders: list[str], fix: str, restage: Iterable[str] = ()
) -> list[Finding]:
    """A finding when there are offenders, else nothing; fixable only when its repair has something to act on."""
    if not offenders:
        return []
    targets = tuple(sorted(set(restage)))
    action = FIX_ACTION.get(code)
    fixable = action is not None and (action != RESTAGE or bool(targets))
    return [Finding(code, severity, title, len(offenders), offenders[:ITEMS_SHOWN], fix, fixable, targets)]
