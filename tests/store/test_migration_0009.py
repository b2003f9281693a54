"""0009 adds the promotions table (the champion history), from 0006, on SQLite and PostgreSQL, and drops it back."""

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
    upgrade(store.engine, "0006")
    with store.engine.begin() as conn:
        conn.execute(text("INSERT INTO model_versions (name, version, kind, path, created_at) "
                          "VALUES ('rm', 'v1', 'reward', '/m/rm', CURRENT_TIMESTAMP)"))
    upgrade(store.engine)
    assert current_revision(store.engine) == "0009"
    with store.engine.connect() as conn:
        diffs = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert [d for d in diffs if any(t in repr(d) for t in ("promotions", "loop_ticks", "loop_locks"))] == []
    store.add_promotion(Promotion(role="reward", action="promote", path="/m/rm", model="rm", version="v1",
                                  reason="first"))
    assert store.champion("reward").model == "rm" and store.model_versions()[0].path == "/m/rm"
    store.close()


def test_downgrade_to_0006_drops_the_loop_tables(store_url: str) -> None:
    store = Store(store_url)
    cfg = _alembic_config(store.engine)
    with store.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0006")
    with store.engine.connect() as conn:
        assert not {"promotions", "loop_ticks", "loop_locks"} & set(inspect(conn).get_table_names())
    assert current_revision(store.engine) == "0006"
    store.close()
