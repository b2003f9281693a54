"""tether.outcomes: what actually happened beside what raters preferred, and reward models audited against it.

    from tether.outcomes import read_scored, audit_outcomes, outcome_pairs, grade_numeric
    rows = read_scored("scored.jsonl")          # prompt, response, score, passed per line
    result = audit_outcomes(rows)               # AUC, rank correlation, calibration, best-of-n, by slice
    pairs = outcome_pairs(rows)                 # passing chosen over failing, provenance source "outcome"
    grade_numeric("... #### 18", "18").passed   # True
"""

from __future__ import annotations

from tether.lazy import lazy_exports

_LAZY = {
    "grade_numeric": "grading", "extract_answer": "grading", "parse_number": "grading", "Grade": "grading",
    "ScoredResponse": "scored", "read_scored": "scored", "join_outcomes": "scored",
    "AuditConfig": "audit", "OutcomeAudit": "audit", "audit_outcomes": "audit",
    "PairConfig": "pairs", "outcome_pairs": "pairs", "campaign_items": "pairs", "score_rows": "pairs",
    "write_report": "report", "print_summary": "report",
}

_names, __getattr__ = lazy_exports(__name__, _LAZY)
__all__ = list(_names)
