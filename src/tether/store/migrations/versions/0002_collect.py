"""campaign tables: items, rubric versions, assignments, tokens, admin credentials, pause state

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27 03:32:44.943695
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "admin_credentials",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("secret_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
        sa.UniqueConstraint("secret_hash"),
    )
    op.create_table(
        "campaigns",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("objectives", sa.JSON(), nullable=False),
        sa.Column("overlap", sa.Integer(), nullable=False),
        sa.Column("pilot_items", sa.Integer(), nullable=False),
        sa.Column("agreement_threshold", sa.Float(), nullable=False),
        sa.Column("gold_rate", sa.Float(), nullable=False),
        sa.Column("attention_rate", sa.Float(), nullable=False),
        sa.Column("qualification_gold", sa.Integer(), nullable=False),
        sa.Column("pass_threshold", sa.Float(), nullable=False),
        sa.Column("queue_size", sa.Integer(), nullable=False),
        sa.Column("interface", sa.String(length=255), nullable=False),
        sa.Column("lock_counter", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
    )
    op.create_table(
        "web_sessions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("session_hash", sa.String(length=64), nullable=False),
        sa.Column("role", sa.String(length=8), nullable=False),
        sa.Column("subject", sa.String(length=255), nullable=False),
        sa.Column("csrf_token", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("session_hash"),
    )
    op.create_table(
        "campaign_items",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("pair_id", sa.String(length=255), nullable=False),
        sa.Column("prompt_id", sa.String(length=32), nullable=False),
        sa.Column("response_a_id", sa.String(length=32), nullable=False),
        sa.Column("response_b_id", sa.String(length=32), nullable=False),
        sa.Column("task_type", sa.String(length=128), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("expected", sa.JSON(), nullable=True),
        sa.Column("pilot_round", sa.Integer(), nullable=True),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["campaign_id"], ["campaigns.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(
            ["prompt_id"],
            ["prompts.id"],
        ),
        sa.ForeignKeyConstraint(
            ["response_a_id"],
            ["responses.id"],
        ),
        sa.ForeignKeyConstraint(
            ["response_b_id"],
            ["responses.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("campaign_id", "pair_id", name="uq_campaign_items_pair"),
    )
    with op.batch_alter_table("campaign_items", schema=None) as batch_op:
        batch_op.create_index("ix_campaign_items_campaign_task", ["campaign_id", "task_type", "kind"], unique=False)
        batch_op.create_index("ix_campaign_items_order", ["campaign_id", "kind", "position"], unique=False)

    op.create_table(
        "rater_qualifications",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("rater_id", sa.String(length=255), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("gold_accuracy", sa.Float(), nullable=True),
        sa.Column("n_gold", sa.Integer(), nullable=False),
        sa.Column("since_assignment", sa.Integer(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["campaign_id"], ["campaigns.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["rater_id"], ["raters.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("campaign_id", "rater_id", name="uq_rater_qualifications"),
    )
    op.create_table(
        "rater_tokens",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("rater_id", sa.String(length=255), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["rater_id"], ["raters.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("token_hash"),
    )
    with op.batch_alter_table("rater_tokens", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_rater_tokens_rater_id"), ["rater_id"], unique=False)

    op.create_table(
        "rubric_versions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("task_type", sa.String(length=128), nullable=False),
        sa.Column("version", sa.String(length=64), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["campaign_id"], ["campaigns.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("campaign_id", "task_type", "version", name="uq_rubric_versions"),
    )
    op.create_table(
        "task_type_states",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("task_type", sa.String(length=128), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("pilot_round", sa.Integer(), nullable=False),
        sa.Column("rubric_version", sa.String(length=64), nullable=True),
        sa.Column("agreement", sa.Float(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["campaign_id"], ["campaigns.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("campaign_id", "task_type", name="uq_task_type_states"),
    )
    op.create_table(
        "assignments",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("rater_id", sa.String(length=255), nullable=False),
        sa.Column("objectives", sa.JSON(), nullable=False),
        sa.Column("shown_first", sa.String(length=1), nullable=False),
        sa.Column("phase", sa.String(length=16), nullable=False),
        sa.Column("rubric_version", sa.String(length=64), nullable=True),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("first_shown_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("time_on_task_ms", sa.Integer(), nullable=True),
        sa.Column("answers", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(["campaign_id"], ["campaigns.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["item_id"], ["campaign_items.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(
            ["rater_id"],
            ["raters.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("item_id", "rater_id", name="uq_assignments_item_rater"),
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table("assignments", schema=None) as batch_op:
        batch_op.create_index("ix_assignments_campaign", ["campaign_id"], unique=False)
        batch_op.create_index("ix_assignments_rater_open", ["rater_id", "answered_at"], unique=False)



def downgrade() -> None:
    with op.batch_alter_table("assignments", schema=None) as batch_op:
        batch_op.drop_index("ix_assignments_rater_open")
        batch_op.drop_index("ix_assignments_campaign")

    op.drop_table("assignments")
    op.drop_table("task_type_states")
    op.drop_table("rubric_versions")
    with op.batch_alter_table("rater_tokens", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_rater_tokens_rater_id"))

    op.drop_table("rater_tokens")
    op.drop_table("rater_qualifications")
    with op.batch_alter_table("campaign_items", schema=None) as batch_op:
        batch_op.drop_index("ix_campaign_items_order")
        batch_op.drop_index("ix_campaign_items_campaign_task")

    op.drop_table("campaign_items")
    op.drop_table("web_sessions")
    op.drop_table("campaigns")
    op.drop_table("admin_credentials")
