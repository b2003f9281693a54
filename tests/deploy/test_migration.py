"""The 0003 migration creates exactly what the deploy models declare (no drift between the two)."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from tether.store import Store
from tether.store.models import Base

DEPLOY_TABLES = ("api_keys", "project_secrets")


def test_migrated_schema_matches_the_deploy_models(store: Store) -> None:
    with store.engine.connect() as conn:
        assert set(inspect(conn).get_table_names()) >= set(DEPLOY_TABLES)
        diffs = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    # only this stage's tables are judged here; other stages own theirs
    mine = [d for d in diffs if any(f"'{t}'" in repr(d) or f"table=<{t}>" in repr(d) for t in DEPLOY_TABLES)]
    assert mine == []
