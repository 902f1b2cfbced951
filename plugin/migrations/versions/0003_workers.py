"""Workers: the outbox, ticket timers and daily-cap slots.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op

from plugin.storage.models import UTCDateTime

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("connection", sa.String(64), nullable=False),
        sa.Column("ticket_id", sa.String(100), nullable=False),
        sa.Column("company_id", sa.String(100)),
        sa.Column("command", sa.JSON(), nullable=False),
        sa.Column("idempotency_key", sa.String(255), nullable=False, unique=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", UTCDateTime(), nullable=False),
        sa.Column("claimed_until", UTCDateTime()),
        sa.Column("last_error", sa.Text()),
        sa.Column("batch_key", sa.String(255)),
        sa.Column("steps_done", sa.JSON()),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("sent_at", UTCDateTime()),
    )
    op.create_index("ix_outbox_state_due", "outbox", ["state", "next_attempt_at"])
    op.create_index("ix_outbox_ticket", "outbox", ["connection", "ticket_id", "id"])
    op.create_table(
        "ticket_timers",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("ticket_pk", sa.Integer(), sa.ForeignKey("tickets.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("due_at", UTCDateTime(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("fired_at", UTCDateTime()),
        sa.Column("last_error", sa.Text()),
        sa.UniqueConstraint("ticket_pk", "kind", name="uq_ticket_timers_kind"),
    )
    op.create_index("ix_ticket_timers_due", "ticket_timers", ["state", "due_at"])
    op.create_table(
        "cap_slots",
        sa.Column("ticket_pk", sa.Integer(), sa.ForeignKey("tickets.id", ondelete="CASCADE"),
                  primary_key=True),
        sa.Column("company_id", sa.String(100), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
    )
    op.create_index("ix_cap_slots_company_day", "cap_slots", ["company_id", "day"])


def downgrade() -> None:
    op.drop_index("ix_cap_slots_company_day", table_name="cap_slots")
    op.drop_table("cap_slots")
    op.drop_index("ix_ticket_timers_due", table_name="ticket_timers")
    op.drop_table("ticket_timers")
    op.drop_index("ix_outbox_ticket", table_name="outbox")
    op.drop_index("ix_outbox_state_due", table_name="outbox")
    op.drop_table("outbox")
