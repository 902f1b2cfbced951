"""Ledger: credit lots, append-only entries, lot allocations, money lines.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op

from plugin.storage.models import UTCDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "credit_lots",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("company_id", sa.String(100), sa.ForeignKey("companies.id"), nullable=False),
        sa.Column("tasks", sa.Integer(), nullable=False),
        sa.Column("price_per_task", sa.Numeric(14, 2), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("plan", sa.String(64), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("purchased_at", UTCDateTime(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.Column("key", sa.String(255), nullable=False, unique=True),
    )
    op.create_index("ix_credit_lots_company_expiry", "credit_lots", ["company_id", "expires_at"])
    op.create_table(
        "credit_entries",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("company_id", sa.String(100), sa.ForeignKey("companies.id"), nullable=False),
        sa.Column("key", sa.String(255), nullable=False, unique=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("units", sa.Integer(), nullable=False),
        sa.Column("reserved", sa.Integer(), nullable=False),
        sa.Column("ticket_key", sa.String(200)),
        sa.Column("cycle", sa.Integer()),
        sa.Column("task_type", sa.String(32)),
        sa.Column("lot_id", sa.Integer(), sa.ForeignKey("credit_lots.id")),
        sa.Column("reverses_id", sa.Integer(), sa.ForeignKey("credit_entries.id")),
        sa.Column("flag", sa.String(32)),
        sa.Column("reason", sa.Text()),
        sa.Column("author", sa.String(100)),
        sa.Column("posted_at", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_credit_entries_company", "credit_entries", ["company_id", "id"])
    op.create_index(
        "ix_credit_entries_ticket", "credit_entries", ["company_id", "ticket_key", "cycle"]
    )
    op.create_index("ix_credit_entries_posted", "credit_entries", ["company_id", "posted_at"])
    op.create_table(
        "credit_allocations",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("entry_id", sa.Integer(), sa.ForeignKey("credit_entries.id"), nullable=False),
        sa.Column("company_id", sa.String(100), nullable=False),
        sa.Column("lot_id", sa.Integer(), sa.ForeignKey("credit_lots.id")),
        sa.Column("units", sa.Integer(), nullable=False),
    )
    op.create_index("ix_credit_allocations_entry", "credit_allocations", ["entry_id"])
    op.create_index(
        "ix_credit_allocations_company_lot", "credit_allocations", ["company_id", "lot_id"]
    )
    op.create_table(
        "credit_money_lines",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("company_id", sa.String(100), sa.ForeignKey("companies.id"), nullable=False),
        sa.Column("key", sa.String(255), nullable=False, unique=True),
        sa.Column("ticket_key", sa.String(200)),
        sa.Column("amount", sa.Numeric(14, 2), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("reason", sa.Text()),
        sa.Column("posted_at", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_credit_money_company", "credit_money_lines", ["company_id", "posted_at"])


def downgrade() -> None:
    op.drop_table("credit_money_lines")
    op.drop_table("credit_allocations")
    op.drop_table("credit_entries")
    op.drop_table("credit_lots")
