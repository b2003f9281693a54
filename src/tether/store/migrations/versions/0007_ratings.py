"""ratings (Rating v1 records) and rating-scale campaign items

Adds the `ratings` table (one judgment of one response on a scale, FORMATS.md "Rating") and two
columns to `campaign_items`: `task` ("pairwise" for every existing item) and `task_spec` (a rating
item's scale, labels and objectives; NULL for pairwise items).

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ratings",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("dedup_key", sa.String(length=32), nullable=False),
        sa.Column("item_id", sa.String(length=255), nullable=False),
        sa.Column("prompt_id", sa.String(length=32), nullable=False),
        sa.Column("prompt_is_turns", sa.Boolean(), nullable=False),
        sa.Column("response_id", sa.String(length=32), nullable=False),
        sa.Column("score", sa.Integer(), nullable=False),
        sa.Column("scale_min", sa.Integer(), nullable=False),
        sa.Column("scale_max", sa.Integer(), nullable=False),
        sa.Column("scale_labels", sa.JSON(), nullable=True),
        sa.Column("rater_id", sa.String(length=255), nullable=False),
        sa.Column("objective", sa.String(length=64), nullable=False),
        sa.Column("task_type", sa.String(length=128), nullable=False),
        sa.Column("campaign", sa.String(length=255), nullable=True),
        sa.Column("interface", sa.String(length=255), nullable=True),
        sa.Column("rubric_version", sa.String(length=64), nullable=True),
        sa.Column("rationale", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("stored_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("extra", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(["prompt_id"], ["prompts.id"]),
        sa.ForeignKeyConstraint(["rater_id"], ["raters.id"]),
        sa.ForeignKeyConstraint(["response_id"], ["responses.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("dedup_key"),
    )
    with op.batch_alter_table("ratings") as batch:
        batch.create_index("ix_ratings_task_objective", ["task_type", "objective"], unique=False)
        batch.create_index(batch.f("ix_ratings_campaign"), ["campaign"], unique=False)
        batch.create_index(batch.f("ix_ratings_item_id"), ["item_id"], unique=False)
        batch.create_index(batch.f("ix_ratings_rater_id"), ["rater_id"], unique=False)
    with op.batch_alter_table("campaign_items") as batch:
        batch.add_column(sa.Column("task", sa.String(length=16), nullable=False, server_default="pairwise"))
        batch.add_column(sa.Column("task_spec", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("campaign_items") as batch:
        batch.drop_column("task_spec")
        batch.drop_column("task")
    with op.batch_alter_table("ratings") as batch:
        batch.drop_index(batch.f("ix_ratings_rater_id"))
        batch.drop_index(batch.f("ix_ratings_item_id"))
        batch.drop_index(batch.f("ix_ratings_campaign"))
        batch.drop_index("ix_ratings_task_objective")
    op.drop_table("ratings")
