"""0008 adds the loop tables (champion history, ticks, lock) and key scopes, from 0007, on SQLite and PostgreSQL,
and drops them back."""

from __future__ import annotations

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text

from tether.records import Promotion
from tether.store import Store
from tether.store.engine import _alembic_config, current_revision, upgrade
from tether.store.models import Base


def test_upgrade_adds_promotions_and_keeps_the_registry(store_url: str) -> None:
    store = Store(store_url, migrate=False)
    store.drop_all()
    upgrade(store.engine, "0007")
    with store.engine.begin() as conn:
        conn.execute(text("INSERT INTO model_versions (name, version, kind, path, created_at) "
                          "VALUES ('rm', 'v1', 'reward', '/m/rm', CURRENT_TIMESTAMP)"))
        conn.execute(text("INSERT INTO api_keys (project, key_hash, prefix, name, created_at) "
                          "VALUES ('shop', 'h', 'tk_abc', '', CURRENT_TIMESTAMP)"))
    upgrade(store.engine, "0008")
    assert current_revision(store.engine) == "0008"
    with store.engine.connect() as conn:
        diffs = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert [d for d in diffs if any(t in repr(d) for t in ("promotions", "loop_ticks", "loop_locks", "api_keys"))
            ] == []
    from tether.store import deploy_repo

    key = deploy_repo.list_keys(store, "shop")[0]  # a key from before keeps its full ingestion scope
    assert (key.scope, key.origins) == ("ingest", ())
    store.add_promotion(Promotion(role="reward", action="promote", path="/m/rm", model="rm", version="v1",
                                  reason="first"))
    assert store.champion("reward").model == "rm" and store.model_versions()[0].path == "/m/rm"
    store.close()


def test_downgrade_to_0007_drops_the_loop_tables(store_url: str) -> None:
    store = Store(store_url)
    cfg = _alembic_config(store.engine)
    with store.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0007")
    with store.engine.connect() as conn:
        assert not {"promotions", "loop_ticks", "loop_locks"} & set(inspect(conn).get_table_names())
        assert not {"scope", "origins"} & {c["name"] for c in inspect(conn).get_columns("api_keys")}
    assert current_revision(store.engine) == "0007"
    store.close()
