"""stage results in the store: audit runs, model versions with lineage, config, contracts and gate

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_MODEL_VERSION_COLUMNS = ("config", "lineage", "contracts", "gate")


def upgrade() -> None:
    op.create_table(
        "audit_runs",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("n_comparisons", sa.Integer(), nullable=False),
        sa.Column("campaigns", sa.JSON(), nullable=False),
        sa.Column("blocked_task_types", sa.JSON(), nullable=False),
        sa.Column("verdicts", sa.JSON(), nullable=False),
        sa.Column("config", sa.JSON(), nullable=False),
        sa.Column("result", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_audit_runs_created_at", "audit_runs", ["created_at"])
    op.create_table(
        "audit_run_campaigns",
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("campaign", sa.String(length=255), nullable=False),
        sa.ForeignKeyConstraint(["run_id"], ["audit_runs.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("run_id", "campaign"),
    )
    op.create_index("ix_audit_run_campaigns_campaign", "audit_run_campaigns", ["campaign"])
    with op.batch_alter_table("model_versions") as batch_op:
        for name in _MODEL_VERSION_COLUMNS:
            batch_op.add_column(sa.Column(name, sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("model_versions") as batch_op:
        for name in _MODEL_VERSION_COLUMNS:
            batch_op.drop_column(name)
    op.drop_index("ix_audit_run_campaigns_campaign", table_name="audit_run_campaigns")
    op.drop_table("audit_run_campaigns")
    op.drop_index("ix_audit_runs_created_at", table_name="audit_runs")
    op.drop_table("audit_runs")
