"""Reports: per-ticket metrics (working-time durations, counts, rating, time logged).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

from plugin.storage.models import UTCDateTime

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ticket_metrics",
        sa.Column("ticket_id", sa.Integer(), sa.ForeignKey("tickets.id"), primary_key=True),
        sa.Column("clock_start", UTCDateTime()),
        sa.Column("last_status", sa.String(32)),
        sa.Column("accepted_at", UTCDateTime()),
        sa.Column("accept_minutes", sa.Float()),
        sa.Column("accept_breached", sa.Integer(), nullable=False),
        sa.Column("first_response_at", UTCDateTime()),
        sa.Column("first_response_minutes", sa.Float()),
        sa.Column("first_response_breached", sa.Integer(), nullable=False),
        sa.Column("first_resolved_at", UTCDateTime()),
        sa.Column("resolved_at", UTCDateTime()),
        sa.Column("resolution_minutes", sa.Float()),
        sa.Column("resolved_on_time", sa.Integer()),
        sa.Column("resolve_due", UTCDateTime()),
        sa.Column("resolved_by", sa.String(100)),
        sa.Column("closed_at", UTCDateTime()),
        sa.Column("reopen_count", sa.Integer(), nullable=False),
        sa.Column("messages_client", sa.Integer(), nullable=False),
        sa.Column("messages_agent", sa.Integer(), nullable=False),
        sa.Column("rating_score", sa.Integer()),
        sa.Column("rating_scale", sa.Integer()),
        sa.Column("rated_at", UTCDateTime()),
        sa.Column("logged_minutes", sa.Integer(), nullable=False),
        sa.Column("estimate_hours", sa.Float()),
        sa.Column("paused_minutes", sa.Float(), nullable=False),
        sa.Column("last_activity_at", UTCDateTime()),
        sa.Column("state", sa.JSON(), nullable=False),
    )
    op.create_index("ix_ticket_metrics_resolved", "ticket_metrics", ["resolved_at"])
    op.create_index("ix_ticket_metrics_first_response", "ticket_metrics", ["first_response_at"])
    op.create_index("ix_ticket_metrics_rated", "ticket_metrics", ["rated_at"])


def downgrade() -> None:
    op.drop_index("ix_ticket_metrics_rated", "ticket_metrics")
    op.drop_index("ix_ticket_metrics_first_response", "ticket_metrics")
    op.drop_index("ix_ticket_metrics_resolved", "ticket_metrics")
    op.drop_table("ticket_metrics")
