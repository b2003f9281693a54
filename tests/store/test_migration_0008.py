"""0008 adds the loop tables (champion history, ticks, lock) and key scopes, from 0007, on SQLite and PostgreSQL,
and drops them back."""

from __future__ import annotations

from sqlalchemy import inspect, text
from tests.store.migration_steps import downgrade, schema_diffs

from tether.records import Promotion
from tether.store import Store, deploy_repo
from tether.store.engine import current_revision, upgrade

TABLES = ("promotions", "loop_ticks", "loop_locks", "api_keys", "campaigns")


def test_upgrade_adds_promotions_and_keeps_the_registry_and_keys(store_url: str) -> None:
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
    assert schema_diffs(store, TABLES) == []
    key = deploy_repo.list_keys(store, "shop")[0]  # a key from before keeps its full ingestion scope
    assert (key.scope, key.origins) == ("ingest", ())
    store.add_promotion(Promotion(role="reward", action="promote", path="/m/rm", model="rm", version="v1",
                                  reason="first"))
    assert store.champion("reward").model == "rm" and store.model_versions()[0].path == "/m/rm"
    store.close()


def test_downgrade_to_0007_drops_the_loop_tables(store_url: str) -> None:
    store = Store(store_url)
    downgrade(store, "0007")
    with store.engine.connect() as conn:
        assert not {"promotions", "loop_ticks", "loop_locks"} & set(inspect(conn).get_table_names())
        assert not {"scope", "origins"} & {c["name"] for c in inspect(conn).get_columns("api_keys")}
    assert current_revision(store.engine) == "0007"
    store.close()
