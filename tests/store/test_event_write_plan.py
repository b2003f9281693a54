"""Writing a batch of events reads only what its traces touch: no query may walk a project's whole history, or
ingestion slows down as the tables grow (it did: SQLite answered the outcome/generation joins through the
(project, event_id) key, every event of the project per batch)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import event

from tether.records import Event
from tether.store import Store


def _batch(start: int, n: int) -> list[Event]:
    t0 = datetime(2025, 1, 1, tzinfo=UTC)
    out = []
    for i in range(start, start + n):
        trace = f"t{i}"
        out.append(Event(event_id=f"g{i}", type="generation", trace_id=trace, timestamp=t0 + timedelta(seconds=i),
                         prompt="p", response="r", model="m"))
        out.append(Event(event_id=f"o{i}", type="outcome", trace_id=trace, name="ok", value=1.0,
                         timestamp=t0 + timedelta(seconds=i + 5)))
    return out


def test_event_writes_search_by_trace_not_by_project(tmp_path: Path):
    store = Store(f"sqlite:///{tmp_path / 'e.db'}")
    store.add_events(_batch(0, 300), project="p")
    reads: list[str] = []

    @event.listens_for(store.engine, "before_cursor_execute")
    def _capture(conn, cursor, statement, parameters, context, executemany):  # noqa: ANN001
        if statement.lstrip().upper().startswith("SELECT") and not executemany:
            reads.append((statement, parameters))

    # outcomes first, then their generations: both the join at write time and the late link run
    late = _batch(300, 20)
    store.add_events([e for e in late if e.type.value == "outcome"], project="p")
    store.add_events([e for e in late if e.type.value == "generation"], project="p")
    assert reads
    with store.engine.connect() as conn:
        for statement, parameters in reads:
            plan = " ".join(str(r[-1]) for r in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement,
                                                                        parameters).all())
            assert "trace_id" in plan and "SCAN" not in plan, (statement, plan)
    delays = {o.trace_id: o.delay_seconds for o in store.outcomes(project="p")}
    assert delays["t0"] == 5.0 and delays["t310"] == 5.0  # joined at write time, and linked late
    store.close()
