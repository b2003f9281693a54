"""the loop: the champion history of each role (promote, refuse with the failing checks, roll back), loop ticks
and their lock; API keys get a scope and allowed origins (publishable feedback keys for the widget; existing keys
keep full ingestion scope); campaigns say whose judgments the 0.4 rule runs on (existing ones: human raters)

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "promotions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("role", sa.String(length=255), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("model", sa.String(length=255), nullable=True),
        sa.Column("version", sa.String(length=64), nullable=True),
        sa.Column("checks", sa.JSON(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("share", sa.Float(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_promotions_role", "promotions", ["role"])
    op.create_table(
        "loop_ticks",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("role", sa.String(length=255), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("campaign", sa.String(length=255), nullable=True),
        sa.Column("triggers", sa.JSON(), nullable=True),
        sa.Column("actions", sa.JSON(), nullable=True),
        sa.Column("result", sa.JSON(), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_loop_ticks_role", "loop_ticks", ["role"])
    op.create_table(
        "loop_locks",
        sa.Column("role", sa.String(length=255), nullable=False),
        sa.Column("holder", sa.String(length=255), nullable=False),
        sa.Column("acquired_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("role"),
    )


    with op.batch_alter_table("api_keys") as batch:
        batch.add_column(sa.Column("scope", sa.String(length=16), nullable=False, server_default="ingest"))
        batch.add_column(sa.Column("origins", sa.JSON(), nullable=True))
    with op.batch_alter_table("campaigns") as batch:
        batch.add_column(sa.Column("rule_raters", sa.String(length=8), nullable=False, server_default="human"))


def downgrade() -> None:
    with op.batch_alter_table("campaigns") as batch:
        batch.drop_column("rule_raters")
    with op.batch_alter_table("api_keys") as batch:
        batch.drop_column("origins")
        batch.drop_column("scope")
    op.drop_table("loop_locks")
    op.drop_index("ix_loop_ticks_role", table_name="loop_ticks")
    op.drop_table("loop_ticks")
    op.drop_index("ix_promotions_role", table_name="promotions")
    op.drop_table("promotions")
