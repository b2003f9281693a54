"""Deletion requests: remove a user's (or a trace's) events and everything the store derived from them.

"Derived" in the store today means, for each affected trace:
- every event of the trace (generation, feedback, correction, outcome) in the project;
- rows of the `outcomes` table with that trace_id;
- preference pairs whose provenance names the trace (`provenance.trace_id`, as written by
  `tether.deploy.feedback.corrections_to_pairs`).
A user's traces are those whose events carry the user id in `enduser.id` / `user.id` / `user_id`
(raw, or as its PII pseudonym when the id itself was redacted). Comparisons collected from
production prompts carry no trace link yet, so they are not reached (see the report).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import delete, select

from tether.collect.db import write_transaction
from tether.deploy.pii import Redactor
from tether.store import Store
from tether.store.models import EventRow, OutcomeRow, PreferencePairRow

USER_KEYS = ("enduser.id", "user.id", "user_id")
_CHUNK = 500


@dataclass
class ForgetResult:
    """What a deletion removed."""

    traces: int = 0
    events: int = 0
    outcomes: int = 0
    pairs: int = 0


def traces_of_user(store: Store, project: str, user: str, redactor: Redactor | None = None) -> set[str]:
    """Trace ids whose events name `user` in a user attribute."""
    wanted = {user}
    if redactor is not None:
        wanted.add(redactor.redact(user))
    traces: set[str] = set()
    stmt = select(EventRow.trace_id, EventRow.attributes).where(EventRow.project == project,
                                                                EventRow.attributes.is_not(None))
    with store.engine.connect() as conn:
        for trace_id, attrs in conn.execute(stmt):
            if isinstance(attrs, dict) and any(attrs.get(k) in wanted for k in USER_KEYS):
                traces.add(trace_id)
    return traces


def forget(store: Store, project: str, *, traces: Iterable[str] = (), user: str | None = None,
           redactor: Redactor | None = None) -> ForgetResult:
    """Delete the given traces (and a user's traces) and what was derived from them, in one transaction."""
    targets = set(traces)
    if user is not None:
        targets |= traces_of_user(store, project, user, redactor)
    result = ForgetResult(traces=len(targets))
    if not targets:
        return result
    ids = sorted(targets)
    with write_transaction(store) as conn:
        for i in range(0, len(ids), _CHUNK):
            part = ids[i : i + _CHUNK]
            result.events += conn.execute(
                delete(EventRow).where(EventRow.project == project, EventRow.trace_id.in_(part))).rowcount or 0
            result.outcomes += conn.execute(delete(OutcomeRow).where(OutcomeRow.trace_id.in_(part))).rowcount or 0
        # provenance is free-form JSON: match in Python, portable across SQLite and PostgreSQL
        doomed = [pid for pid, prov in conn.execute(
            select(PreferencePairRow.id, PreferencePairRow.provenance).where(PreferencePairRow.provenance.is_not(None)))
            if isinstance(prov, dict) and prov.get("trace_id") in targets]
        for i in range(0, len(doomed), _CHUNK):
            result.pairs += conn.execute(
                delete(PreferencePairRow).where(PreferencePairRow.id.in_(doomed[i : i + _CHUNK]))).rowcount or 0
    return result
