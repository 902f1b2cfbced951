"""Ledger: the company's expiry cursor (no lot holding credits expires before it).

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op

from plugin.storage.models import UTCDateTime

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # NULL makes the next ledger call look for expired lots and set it
    op.add_column("companies", sa.Column("credits_checked_until", UTCDateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("companies") as batch:
        batch.drop_column("credits_checked_until")
