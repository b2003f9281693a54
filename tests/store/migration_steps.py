"""Steps the migration tests share: downgrade a store, and the schema differences left on some tables."""

from __future__ import annotations

from collections.abc import Sequence

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from tether.store import Store
from tether.store.engine import _alembic_config
from tether.store.models import Base


def downgrade(store: Store, revision: str) -> None:
    """Run the migrations down to `revision` on the store's database."""
    cfg = _alembic_config(store.engine)
    with store.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, revision)


def schema_diffs(store: Store, tables: Sequence[str], columns: Sequence[str] = ()) -> list:
    """Differences between the database and the models on these tables (empty: the migration matches them); with
    `columns`, only those touching them — for a revision that later migrations build on, whose columns the models
    already have."""
    with store.engine.connect() as conn:
        diffs = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    found = [d for d in diffs if any(f"'{t}'" in repr(d) or f"table=<{t}>" in repr(d) for t in tables)]
    return [d for d in found if not columns or any(f"'{c}'" in repr(d) for c in columns)]
