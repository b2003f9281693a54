"""outcomes: one representation (value, kind, source, delay; per project, joined to its generation by trace)

Replaces 0001's unused `outcomes` table; rows it may hold are carried over (outcome_id `legacy-<id>`, project
`default`, kind from the value, observed_at from created_at).

Revision ID: 0005
Revises: 0004
"""

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_OLD = sa.table("outcomes_0001", sa.column("id", sa.Integer), sa.column("trace_id", sa.String),
                sa.column("name", sa.String), sa.column("value_num", sa.Float), sa.column("value_text", sa.Text),
                sa.column("source", sa.String), sa.column("created_at", sa.DateTime(timezone=True)),
                sa.column("extra", sa.JSON))


def _new_table(name: str) -> sa.TableClause:
    return sa.table(name, *(sa.column(c, t) for c, t in (
        ("project", sa.String), ("outcome_id", sa.String), ("trace_id", sa.String), ("name", sa.String),
        ("kind", sa.String), ("value_num", sa.Float), ("value_text", sa.Text), ("source", sa.String),
        ("observed_at", sa.DateTime(timezone=True)), ("attributes", sa.JSON), ("stored_at", sa.DateTime(timezone=True)),
    )))


def _kind(num: float | None) -> str:
    if num is None:
        return "categorical"
    return "binary" if num in (0, 1) else "numeric"


def upgrade() -> None:
    with op.batch_alter_table("outcomes") as batch_op:
        batch_op.drop_index("ix_outcomes_trace_id")
    op.rename_table("outcomes", "outcomes_0001")
    op.create_table(
        "outcomes",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("project", sa.String(length=255), nullable=False),
        sa.Column("outcome_id", sa.String(length=256), nullable=False),
        sa.Column("trace_id", sa.String(length=256), nullable=True),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("value_num", sa.Float(), nullable=True),
        sa.Column("value_text", sa.Text(), nullable=True),
        sa.Column("source", sa.String(length=255), nullable=False),
        sa.Column("observed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("generated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("delay_seconds", sa.Float(), nullable=True),
        sa.Column("attributes", sa.JSON(), nullable=True),
        sa.Column("extra", sa.JSON(), nullable=True),
        sa.Column("stored_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("project", "outcome_id", name="uq_outcomes_project_outcome"),
    )
    op.create_index("ix_outcomes_trace_id", "outcomes", ["trace_id"])
    conn = op.get_bind()
    rows = conn.execute(sa.select(_OLD)).all()
    now = datetime.now(UTC)
    if rows:
        conn.execute(_new_table("outcomes").insert(), [
            {"project": "default", "outcome_id": f"legacy-{r.id}", "trace_id": r.trace_id, "name": r.name,
             "kind": _kind(r.value_num), "value_num": r.value_num, "value_text": r.value_text,
             "source": r.source or "legacy", "observed_at": r.created_at, "attributes": r.extra,
             "stored_at": now} for r in rows])
    op.drop_table("outcomes_0001")


def downgrade() -> None:
    op.drop_index("ix_outcomes_trace_id", table_name="outcomes")
    op.rename_table("outcomes", "outcomes_0005")
    op.create_table(
        "outcomes",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("trace_id", sa.String(length=256), nullable=True),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("value_num", sa.Float(), nullable=True),
        sa.Column("value_text", sa.Text(), nullable=True),
        sa.Column("source", sa.String(length=255), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("extra", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_outcomes_trace_id", "outcomes", ["trace_id"])
    conn = op.get_bind()
    new = _new_table("outcomes_0005")
    rows = conn.execute(sa.select(new)).all()
    if rows:
        old = sa.table("outcomes", *(sa.column(c.name, c.type) for c in _OLD.columns if c.name != "id"))
        conn.execute(old.insert(), [
            {"trace_id": r.trace_id, "name": r.name, "value_num": r.value_num, "value_text": r.value_text,
             "source": r.source, "created_at": r.observed_at, "extra": r.attributes} for r in rows])
    op.drop_table("outcomes_0005")
