"""SQL for the production side: API keys, project PII secrets, a trace's events, deletion requests."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import delete, func, select, update

from tether.records import Event
from tether.store.deploy_models import ApiKeyRow, ProjectSecretRow
from tether.store.event_store import event_from_row
from tether.store.loop_repo import forget_batch_traces
from tether.store.models import EventRow, OutcomeRow, PreferencePairRow
from tether.store.repository import Store

_CHUNK = 500  # ids per DELETE ... IN (...)
_KEYS = ApiKeyRow.__table__


@dataclass(frozen=True)
class KeyInfo:
    """What a key is allowed to do: the project it belongs to; `feedback` keys only post feedback, from `origins`."""

    id: int
    project: str
    prefix: str
    name: str
    created_at: datetime
    revoked_at: datetime | None
    scope: str = "ingest"
    origins: tuple[str, ...] = ()


def add_key(store: Store, project: str, key_hash: str, prefix: str, name: str, *, scope: str = "ingest",
            origins: Sequence[str] = ()) -> None:
    with store.write_transaction() as conn:
        conn.execute(_KEYS.insert(), [{"project": project, "key_hash": key_hash, "prefix": prefix, "name": name,
                                       "created_at": datetime.now(UTC), "revoked_at": None, "scope": scope,
                                       "origins": list(origins) or None}])


def revoke_keys(store: Store, *, key_hash: str | None = None, prefix: str | None = None) -> int:
    """Revoke the live key with this hash, or those with this prefix; returns how many."""
    where = _KEYS.c.key_hash == key_hash if key_hash is not None else _KEYS.c.prefix == prefix
    with store.write_transaction() as conn:
        stmt = update(_KEYS).where(where, _KEYS.c.revoked_at.is_(None)).values(revoked_at=datetime.now(UTC))
        return conn.execute(stmt).rowcount or 0


def list_keys(store: Store, project: str | None = None, *, key_hash: str | None = None) -> list[KeyInfo]:
    """Every key (a project's, or the one with this hash), newest last, revoked ones included."""
    stmt = select(_KEYS).order_by(ApiKeyRow.id)
    if project is not None:
        stmt = stmt.where(ApiKeyRow.project == project)
    if key_hash is not None:
        stmt = stmt.where(ApiKeyRow.key_hash == key_hash)
    with store.connect() as conn:
        return [KeyInfo(r.id, r.project, r.prefix, r.name, r.created_at, r.revoked_at, r.scope,
                        tuple(r.origins or ())) for r in conn.execute(stmt)]


def stored_project_secrets(store: Store) -> dict[str, str]:
    """Pseudonym secrets a store kept before key files (tenant -> secret); moved out by the key ring."""
    table = ProjectSecretRow.__table__
    with store.connect() as conn:
        return {r.project: r.secret for r in conn.execute(select(table.c.project, table.c.secret))}


def delete_project_secrets(store: Store, projects: list[str]) -> None:
    table = ProjectSecretRow.__table__
    with store.write_transaction() as conn:
        conn.execute(delete(table).where(table.c.project.in_(projects)))


def events_for_trace(store: Store, project: str, trace_id: str, limit: int = 1000) -> list[Event]:
    """A trace's events in a project, in arrival order."""
    stmt = (select(EventRow.__table__).where(EventRow.project == project, EventRow.trace_id == trace_id)
            .order_by(EventRow.id).limit(limit))
    with store.connect() as conn:
        return [event_from_row(r) for r in conn.execute(stmt)]


def event_id_counts(store: Store, project: str) -> tuple[int, int, set[str]]:
    """(rows, distinct event ids, the ids) of a project's events."""
    where = EventRow.project == project
    with store.connect() as conn:
        rows = conn.execute(select(func.count()).select_from(EventRow).where(where)).scalar_one()
        distinct = conn.execute(select(func.count(func.distinct(EventRow.event_id))).where(where)).scalar_one()
        ids = set(conn.execute(select(EventRow.event_id).where(where)).scalars())
    return rows, distinct, ids


def traces_with_attribute(store: Store, project: str, keys: Sequence[str], values: Collection[str]) -> set[str]:
    """Trace ids of a project's events holding one of `values` under one of `keys`, in their attributes or at
    the event's top level (unknown keys a client sent, kept as metadata)."""
    traces: set[str] = set()
    stmt = select(EventRow.trace_id, EventRow.attributes, EventRow.extra).where(EventRow.project == project)
    with store.connect() as conn:
        for trace_id, *fields in conn.execute(stmt):
            if any(isinstance(f, dict) and f.get(k) in values for f in fields for k in keys):
                traces.add(trace_id)
    return traces


def texts_of_traces(store: Store, project: str, traces: Collection[str]) -> set[str]:
    """Every prompt, response and corrected response of the traces' events in the project (what an embedding cache
    may hold vectors of)."""
    ids = sorted(traces)
    texts: set[str] = set()
    cols = (EventRow.prompt, EventRow.response, EventRow.corrected_response)
    with store.connect() as conn:
        for i in range(0, len(ids), _CHUNK):
            stmt = select(*cols).where(EventRow.project == project, EventRow.trace_id.in_(ids[i : i + _CHUNK]))
            texts.update(t for row in conn.execute(stmt) for t in row if t)
    return texts


# provenance keys that name a trace a pair was built from: production corrections, outcome pairs' two sides
_TRACE_KEYS = ("trace_id", "chosen_trace_id", "rejected_trace_id")


def delete_traces(store: Store, project: str, traces: Collection[str]) -> tuple[int, int, int, int]:
    """In one transaction, delete the traces' events and outcomes in the project, preference pairs whose provenance
    names one, and what loop batches made of them; returns (events, outcomes, pairs, batch judgments + items)."""
    ids = sorted(traces)
    events = outcomes = pairs = 0
    with store.write_transaction() as conn:
        for i in range(0, len(ids), _CHUNK):
            part = ids[i : i + _CHUNK]
            events += conn.execute(
                delete(EventRow).where(EventRow.project == project, EventRow.trace_id.in_(part))).rowcount or 0
            outcomes += conn.execute(delete(OutcomeRow).where(
                OutcomeRow.project == project, OutcomeRow.trace_id.in_(part))).rowcount or 0
        # provenance is free-form JSON: match in Python, portable across SQLite and PostgreSQL
        doomed = [pid for pid, prov in conn.execute(
            select(PreferencePairRow.id, PreferencePairRow.provenance).where(PreferencePairRow.provenance.is_not(None)))
            if isinstance(prov, dict) and any(prov.get(k) in traces for k in _TRACE_KEYS)]
        for i in range(0, len(doomed), _CHUNK):
            pairs += conn.execute(
                delete(PreferencePairRow).where(PreferencePairRow.id.in_(doomed[i : i + _CHUNK]))).rowcount or 0
        batches = forget_batch_traces(conn, project, set(traces))
    return events, outcomes, pairs, batches
