"""Reports: per-ticket metrics (working-time durations, counts, rating, time logged).

The ticket's dimensions are copied in and every cohort has a covering index, so a report
scans this one table's indexes (see ``plugin.reports.models``); open tickets get a
partial index by deadline for the stuck-task queries.

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

#: frozen here (not imported from the models): a migration must not change after release
DIMENSIONS = ("task_type", "priority", "company_id", "manager")
INDEXES = {
    "ix_ticket_metrics_resolved": (
        "resolved_at", "company_id", "manager", "resolved_on_time", "resolution_minutes",
        "reopen_count",
    ),
    "ix_ticket_metrics_resolved_groups": (
        *DIMENSIONS, "resolved_by", "resolved_at", "resolved_on_time", "resolution_minutes",
        "reopen_count", "messages_client", "messages_agent", "estimate_hours", "logged_minutes",
    ),
    "ix_ticket_metrics_first_response_groups": (
        *DIMENSIONS, "first_response_at", "first_response_minutes", "first_response_breached",
    ),
    "ix_ticket_metrics_rated_groups": (*DIMENSIONS, "rated_at", "rating_scale", "rating_score"),
    "ix_ticket_metrics_accepted": ("accepted_at", "accept_breached", "company_id", "manager"),
}
OPEN_DUE = ("resolve_due", *DIMENSIONS, "last_event_at", "filed_at")
OPEN_SQL = "status NOT IN ('resolved', 'closed')"


def upgrade() -> None:
    op.create_table(
        "ticket_metrics",
        sa.Column("ticket_id", sa.Integer(), sa.ForeignKey("tickets.id"), primary_key=True),
        sa.Column("task_type", sa.String(32)),
        sa.Column("priority", sa.String(16)),
        sa.Column("company_id", sa.String(100)),
        sa.Column("manager", sa.String(100)),
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
    for name, columns in INDEXES.items():
        op.create_index(name, "ticket_metrics", list(columns))
    op.create_index("ix_tickets_open_due", "tickets", list(OPEN_DUE),
                    sqlite_where=sa.text(OPEN_SQL), postgresql_where=sa.text(OPEN_SQL))


def downgrade() -> None:
    op.drop_index("ix_tickets_open_due", "tickets")
    for name in reversed(INDEXES):
        op.drop_index(name, "ticket_metrics")
    op.drop_table("ticket_metrics")
