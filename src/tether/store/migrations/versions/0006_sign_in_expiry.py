"""sign-in links and issued assignments expire

Adds `rater_tokens.expires_at` (links issued before this upgrade get 30 days from the upgrade, the default
lifetime) and `campaigns.assignment_expiry_hours` (existing campaigns: 24, the default). The PII pseudonym
secrets in `project_secrets` are moved out of the database by the first use of the key ring
(`tether.deploy.keyring`), which knows where the project's key file lives; this migration cannot.

Revision ID: 0006
Revises: 0005
"""

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("rater_tokens") as batch:
        batch.add_column(sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True))
    tokens = sa.table("rater_tokens", sa.column("expires_at", sa.DateTime(timezone=True)))
    op.execute(tokens.update().where(tokens.c.expires_at.is_(None))
               .values(expires_at=datetime.now(UTC) + timedelta(days=30)))
    with op.batch_alter_table("campaigns") as batch:
        batch.add_column(sa.Column("assignment_expiry_hours", sa.Float(), nullable=False, server_default="24"))


def downgrade() -> None:
    with op.batch_alter_table("campaigns") as batch:
        batch.drop_column("assignment_expiry_hours")
    with op.batch_alter_table("rater_tokens") as batch:
        batch.drop_column("expires_at")
