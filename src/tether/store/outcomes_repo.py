"""SQL for outcomes: stored idempotently by (project, outcome_id) and joined to their generation by trace.

An outcome's `generated_at` (and so its delay) comes from the project's generation event of the same trace: at
write time when that generation is already stored, or later when it arrives (`link_generations`)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, select, update

from tether.records import Event, EventType, Outcome
from tether.store.bulk import aware as _aware
from tether.store.bulk import datetime_param, insert_ignore_tuples, json_param, value_columns
from tether.store.models import EventRow, OutcomeRow

_OUTCOMES = OutcomeRow.__table__
_CHUNK = 500  # trace ids per IN (...)


def outcome_of_event(event: Event) -> Outcome:
    """An `outcome` event as an Outcome: its id is the event's, its kind and source may be given in attributes
    (`kind`, `source`; default: kind from the value, source `event`)."""
    attrs = dict(event.attributes)
    data: dict[str, Any] = {"outcome_id": event.event_id, "name": event.name, "value": event.value,
                            "trace_id": event.trace_id, "observed_at": event.timestamp, "attributes": attrs}
    for key in ("kind", "source"):
        if isinstance(attrs.get(key), str):
            data[key] = attrs.pop(key)
    return Outcome.model_validate(data)


def _generation_times(conn: Connection, project: str, traces: Sequence[str]) -> dict[str, datetime]:
    """The earliest generation timestamp of each trace that has one in the project."""
    # by trace id alone, the rest filtered here: given the project too, SQLite walks the (project, event_id) key,
    # every event of the project per call, and ingestion slows down as the table grows
    times: dict[str, datetime] = {}
    for i in range(0, len(traces), _CHUNK):
        stmt = (select(EventRow.trace_id, EventRow.timestamp, EventRow.project, EventRow.type)
                .where(EventRow.trace_id.in_(traces[i:i + _CHUNK])))
        for trace, ts, p, kind in conn.execute(stmt):
            if p == project and kind == EventType.GENERATION.value:
                ts = _aware(ts)
                if trace not in times or ts < times[trace]:
                    times[trace] = ts
    return times


_COLUMNS = ("project", "outcome_id", "trace_id", "name", "kind", "source", "value_num", "value_text", "observed_at",
            "generated_at", "delay_seconds", "attributes", "extra", "stored_at")


def _row(o: Outcome, project: str, generated: datetime | None, now: Any, as_datetime: Any) -> tuple[Any, ...]:
    generated_at = o.generated_at or generated
    delay = o.delay_seconds
    if delay is None and generated_at is not None and o.observed_at is not None:
        delay = (o.observed_at - generated_at).total_seconds()
    return (project, o.outcome_id, o.trace_id, o.name, o.kind.value if o.kind else None, o.source,
            *value_columns(o.value),
            None if o.observed_at is None else as_datetime(o.observed_at),
            None if generated_at is None else as_datetime(generated_at), delay,
            json_param(o.attributes or None), json_param(o.model_extra or None), now)


def add_outcomes(conn: Connection, outcomes: Iterable[Outcome], project: str) -> tuple[int, int]:
    """Store outcomes (a repeated outcome_id in the project is stored once); returns (stored, seen)."""
    items = list(outcomes)
    traces = sorted({o.trace_id for o in items if o.trace_id is not None and o.generated_at is None})
    times = _generation_times(conn, project, traces) if traces else {}
    as_datetime = datetime_param(conn)
    now = as_datetime(datetime.now(UTC))
    rows = [_row(o, project, times.get(o.trace_id) if o.trace_id else None, now, as_datetime) for o in items]
    return insert_ignore_tuples(conn, _OUTCOMES, _COLUMNS, rows), len(rows)


def link_generations(conn: Connection, project: str, generations: Iterable[Event]) -> int:
    """Give outcomes that arrived before their generation its time and their delay; returns rows updated."""
    first: dict[str, datetime] = {}
    for e in generations:
        if e.trace_id not in first or e.timestamp < first[e.trace_id]:
            first[e.trace_id] = e.timestamp
    traces = sorted(first)
    updated = 0
    for i in range(0, len(traces), _CHUNK):
        # by trace id alone (the index), as in `_generation_times`; usually no outcome is waiting
        stmt = (select(OutcomeRow.id, OutcomeRow.trace_id, OutcomeRow.observed_at, OutcomeRow.project,
                       OutcomeRow.generated_at).where(OutcomeRow.trace_id.in_(traces[i:i + _CHUNK])))
        for row_id, trace, observed, p, generated_at in conn.execute(stmt).all():
            if p != project or generated_at is not None:
                continue
            generated = first[trace]
            delay = (_aware(observed) - generated).total_seconds() if observed is not None else None
            updated += conn.execute(update(OutcomeRow).where(OutcomeRow.id == row_id)
                                    .values(generated_at=generated, delay_seconds=delay)).rowcount or 0
    return updated


def outcome_from_row(row: Any) -> Outcome:
    data: dict[str, Any] = dict(row.extra or {})
    data.update(outcome_id=row.outcome_id, name=row.name, kind=row.kind, source=row.source,
                value=row.value_num if row.value_num is not None else row.value_text, trace_id=row.trace_id,
                observed_at=_aware(row.observed_at), generated_at=_aware(row.generated_at),
                delay_seconds=row.delay_seconds, attributes=row.attributes or {})
    return Outcome.model_validate(data)


def iter_outcomes(conn: Connection, *, project: str | None = None, trace_id: str | None = None,
                  source: str | None = None) -> Iterator[Outcome]:
    """Stored outcomes in arrival order, filtered by project, trace and source."""
    stmt = select(_OUTCOMES).order_by(OutcomeRow.id)
    for column, value in ((OutcomeRow.project, project), (OutcomeRow.trace_id, trace_id),
                          (OutcomeRow.source, source)):
        if value is not None:
            stmt = stmt.where(column == value)
    for row in conn.execute(stmt).all():
        yield outcome_from_row(row)
