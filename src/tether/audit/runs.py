"""An audit as the stages after it read it: the typed `AuditRun` record the store keeps."""

from __future__ import annotations

from collections.abc import Iterable

from tether.audit.audit import AuditResult
from tether.records import AuditRun, Comparison


def audit_run(result: AuditResult, comparisons: Iterable[Comparison], source: str = "store") -> AuditRun:
    """The record of `result`: the campaigns its comparisons came from, the 0.4 rule's verdicts, all numbers."""
    comparisons = list(comparisons)
    numbers = result.to_dict()
    return AuditRun(
        source=source,
        n_comparisons=len(comparisons),
        campaigns=sorted({c.campaign for c in comparisons if c.campaign}),
        blocked_task_types=result.blocked_task_types,
        verdicts={t: {k: v for k, v in d.items() if k != "disputed"} for t, d in numbers["task_types"].items()},
        config=result.config.model_dump(mode="json", exclude={"gold"}),
        result=numbers,
    )
