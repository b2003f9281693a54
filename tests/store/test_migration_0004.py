"""0004 upgrades a database at the previous head without losing rows, on SQLite and PostgreSQL."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import insert, inspect, select

from tether.records import AuditRun, ModelVersion
from tether.store import Store
from tether.store.engine import current_revision, upgrade
from tether.store.models import Base, ModelVersionRow

STAGE_RESULT_TABLES = ("audit_runs", "audit_run_campaigns", "model_versions")


def test_upgrade_from_0003_keeps_rows_and_matches_the_models(store_url: str) -> None:
    store = Store(store_url, migrate=False)
    store.drop_all()
    upgrade(store.engine, "0003")
    with store.engine.begin() as conn:  # a version recorded before 0004 (the old columns only)
        conn.execute(insert(ModelVersionRow.__table__).values(name="rm", version="v1", kind="reward", path="/m"))
    upgrade(store.engine, "0004")
    assert current_revision(store.engine) == "0004"
    with store.engine.connect() as conn:
        assert conn.execute(select(ModelVersionRow.__table__.c.name)).scalar_one() == "rm"
        assert set(inspect(conn).get_table_names()) >= set(STAGE_RESULT_TABLES)
        diffs = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    mine = [d for d in diffs if any(f"'{t}'" in repr(d) or f"table=<{t}>" in repr(d) for t in STAGE_RESULT_TABLES)]
    assert mine == []
    assert [v.version for v in store.model_versions(name="rm")] == ["v1"]
    assert store.add_model_version(ModelVersion(name="rm", kind="reward", path="/m")).version == "v2"
    assert store.add_audit_run(AuditRun(campaigns=["c"])).id == store.latest_audit_run("c").id
    store.close()
