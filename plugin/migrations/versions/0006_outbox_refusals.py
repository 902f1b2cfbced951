"""Outbox: the durable record of writes the host refused (status, when, discard reason).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-05
"""

import sqlalchemy as sa
from alembic import op

from plugin.storage.models import UTCDateTime

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("refused_status", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("failed_at", UTCDateTime(), nullable=True))
        batch.add_column(sa.Column("discard_reason", sa.Text(), nullable=True))
        batch.add_column(sa.Column("discarded_at", UTCDateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        for name in ("discarded_at", "discard_reason", "failed_at", "refused_status"):
            batch.drop_column(name)
