"""Production events and outcomes in the Store (a mixin of `Store`): idempotent by (project, id); an outcome
event is also filed as an outcome joined to its generation by trace (`outcomes_repo`)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, select

from tether.records import Event, EventType, Outcome
from tether.store import outcomes_repo
from tether.store.bulk import (
    WriteResult,
    aware,
    chunks,
    datetime_param,
    insert_ignore_tuples,
    json_param,
    value_columns,
)
from tether.store.models import EventRow

CHUNK = 5000
_EVENTS = EventRow.__table__


class EventStore:
    """Needs the Store's `transaction()`, `engine` and `_paged()`."""

    def add_events(self, events: Iterable[Event], *, project: str = "default",
                   conn: Connection | None = None) -> WriteResult:
        """Store events idempotently by (project, event_id); the caller redacts first."""
        if conn is None:
            with self.transaction() as c:
                return self.add_events(events, project=project, conn=c)
        seen = stored = 0
        as_datetime = datetime_param(conn)
        now = as_datetime(datetime.now(UTC))
        for chunk in chunks(events, CHUNK):
            rows = [(project, e.event_id, e.type.value, e.trace_id, as_datetime(e.timestamp), e.model, e.prompt,
                     e.response, e.name, *value_columns(e.value), e.corrected_response,
                     json_param(e.attributes or None), json_param(e.model_extra or None), now) for e in chunk]
            stored += insert_ignore_tuples(conn, _EVENTS, _EVENT_COLUMNS, rows)
            seen += len(chunk)
            # outcome events also land in `outcomes`, joined to their generation (stored before or after them)
            generations = [e for e in chunk if e.type == EventType.GENERATION]
            if generations:
                outcomes_repo.link_generations(conn, project, generations)
            outcomes = [outcomes_repo.outcome_of_event(e) for e in chunk if e.type == EventType.OUTCOME]
            if outcomes:
                outcomes_repo.add_outcomes(conn, outcomes, project)
        return WriteResult(stored=stored, duplicates=seen - stored)

    # -- outcomes ----------------------------------------------------------------------

    def add_outcomes(self, outcomes: Iterable[Outcome], *, project: str = "default",
                     conn: Connection | None = None) -> WriteResult:
        """Store outcomes idempotently by (project, outcome_id), with their generation's time where known."""
        if conn is None:
            with self.transaction() as c:
                return self.add_outcomes(outcomes, project=project, conn=c)
        stored = seen = 0
        for chunk in chunks(outcomes, CHUNK):
            n_stored, n_seen = outcomes_repo.add_outcomes(conn, chunk, project)
            stored, seen = stored + n_stored, seen + n_seen
        return WriteResult(stored=stored, duplicates=seen - stored)

    def outcomes(self, *, project: str | None = None, trace_id: str | None = None,
                 source: str | None = None) -> list[Outcome]:
        """Stored outcomes in arrival order (a project's, a trace's, a source's)."""
        with self.engine.connect() as conn:
            return list(outcomes_repo.iter_outcomes(conn, project=project, trace_id=trace_id, source=source))

    def iter_events(self, *, project: str | None = None, batch: int = 2000) -> Iterator[Event]:
        stmt = select(_EVENTS).order_by(EventRow.id)
        if project is not None:
            stmt = stmt.where(EventRow.project == project)
        for row in self._paged(stmt, EventRow.id, batch):
            yield event_from_row(row)

    def event_projects(self) -> list[str]:
        """The projects (tenants) that have stored events."""
        with self.engine.connect() as conn:
            return list(conn.execute(select(EventRow.project).distinct().order_by(EventRow.project)).scalars())



_EVENT_COLUMNS = ("project", "event_id", "type", "trace_id", "timestamp", "model", "prompt", "response", "name",
                  "value_num", "value_text", "corrected_response", "attributes", "extra", "stored_at")


def event_from_row(row: Any) -> Event:
    data: dict[str, Any] = dict(row.extra or {})
    data.update(
        event_id=row.event_id,
        type=row.type,
        trace_id=row.trace_id,
        timestamp=aware(row.timestamp),
        model=row.model,
        prompt=row.prompt,
        response=row.response,
        name=row.name,
        value=row.value_num if row.value_num is not None else row.value_text,
        corrected_response=row.corrected_response,
        attributes=row.attributes or {},
    )
    return Event.model_validate(data)
