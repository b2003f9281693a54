"""Production events into the store: validated, PII-redacted with the project's key, stored idempotently."""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator

from sqlalchemy import select

from tether.collect.db import write_transaction
from tether.deploy.keys import project_secret
from tether.deploy.pii import Redactor
from tether.records import Event
from tether.store import Store, WriteResult
from tether.store.models import EventRow
from tether.store.repository import event_from_row

MAX_SHORT_FIELD = 255  # model and name columns are String(255)


def check_storable(event: Event) -> list[str]:
    """Problems the database would reject (so the API answers 422, never 500): long short fields, NUL bytes."""
    problems = []
    for key in ("model", "name"):
        v = getattr(event, key)
        if v is not None and len(v) > MAX_SHORT_FIELD:
            problems.append(f"{key}: longer than {MAX_SHORT_FIELD} characters")
    # PostgreSQL text cannot hold NUL; checking the serialized form covers nested attributes too
    if "\\u0000" in event.model_dump_json():
        problems.append("contains a NUL character (\\u0000), which the store cannot hold")
    return problems


class Ingestor:
    """Redacts and stores events for any project of one store (one redactor per project, cached)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._redactors: dict[str, Redactor] = {}
        self._lock = threading.Lock()

    def redactor(self, project: str) -> Redactor:
        """The project's redactor (its secret is created on first use)."""
        with self._lock:
            r = self._redactors.get(project)
            if r is None:
                r = self._redactors[project] = Redactor(project_secret(self.store, project))
            return r

    def ingest(self, events: Iterable[Event], project: str) -> WriteResult:
        """Redact then store in one committed transaction; a repeated event_id is stored once."""
        redactor = self.redactor(project)
        clean = [redactor.redact_event(e) for e in events]
        with write_transaction(self.store) as conn:
            return self.store.add_events(clean, project=project, conn=conn)

    def events_for_trace(self, project: str, trace_id: str, limit: int = 1000) -> list[Event]:
        """A trace's events in this project, in arrival order."""
        stmt = (select(EventRow.__table__).where(EventRow.project == project, EventRow.trace_id == trace_id)
                .order_by(EventRow.id).limit(limit))
        with self.store.engine.connect() as conn:
            return [event_from_row(r) for r in conn.execute(stmt)]


def iter_project_events(store: Store, project: str) -> Iterator[Event]:
    """Every stored event of a project (already redacted)."""
    return store.iter_events(project=project)
