"""0005 replaces the unused outcomes table, carrying its rows over, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text

from tether.records import Outcome, OutcomeKind
from tether.store import Store
from tether.store.engine import _alembic_config, current_revision, upgrade
from tether.store.models import Base

T = datetime(2026, 5, 1, 12, tzinfo=UTC)


def test_upgrade_from_0004_carries_old_outcomes_and_matches_the_models(store_url: str) -> None:
    store = Store(store_url, migrate=False)
    store.drop_all()
    upgrade(store.engine, "0004")
    with store.engine.begin() as conn:  # rows of 0001's table (no project, no kind)
        conn.execute(text("INSERT INTO outcomes (trace_id, name, value_num, value_text, source, created_at) "
                          "VALUES ('t1', 'tests_passed', 1.0, NULL, 'ci', :t), "
                          "('t2', 'ticket', NULL, 'resolved', NULL, NULL), ('t3', 'revenue', 12.5, NULL, NULL, NULL)"),
                     {"t": T})
    upgrade(store.engine, "0005")
    assert current_revision(store.engine) == "0005"
    with store.engine.connect() as conn:
        assert "outcomes_0001" not in inspect(conn).get_table_names()
        diffs = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert [d for d in diffs if "outcomes" in repr(d)] == []
    got = {o.trace_id: o for o in store.outcomes(project="default")}
    assert [got[t].kind for t in ("t1", "t2", "t3")] == [OutcomeKind.BINARY, OutcomeKind.CATEGORICAL,
                                                         OutcomeKind.NUMERIC]
    assert got["t1"].source == "ci" and got["t1"].observed_at == T and got["t2"].source == "legacy"
    assert got["t2"].value == "resolved" and got["t3"].value == 12.5
    # the new table takes new outcomes, idempotently
    new = Outcome(outcome_id="o1", name="tests_passed", value=0, trace_id="t9", source="sandbox")
    assert store.add_outcomes([new, new], project="p").stored == 1
    store.close()


def test_downgrade_to_0004_keeps_the_outcomes(store_url: str) -> None:
    store = Store(store_url)
    store.add_outcomes([Outcome(outcome_id="o1", name="resolved", value=1, trace_id="t1", observed_at=T)])
    cfg = _alembic_config(store.engine)
    with store.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0004")
    with store.engine.connect() as conn:
        rows = conn.execute(text("SELECT trace_id, name, value_num FROM outcomes")).all()
    assert [tuple(r) for r in rows] == [("t1", "resolved", 1.0)]
    store.close()
