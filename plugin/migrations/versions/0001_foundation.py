"""Foundation: raw event log, companies, tickets.

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op

from plugin.storage.models import UTCDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "events",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("connection", sa.String(64), nullable=False),
        sa.Column("delivery_key", sa.String(200), nullable=False),
        sa.Column("body_sha256", sa.String(64), nullable=False),
        sa.Column("received_at", UTCDateTime(), nullable=False),
        sa.Column("headers", sa.JSON(), nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.Column("event_type", sa.String(40)),
        sa.Column("ticket_id", sa.String(100)),
        sa.Column("occurred_at", UTCDateTime()),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text()),
        sa.Column("processed_at", UTCDateTime()),
        sa.UniqueConstraint("connection", "delivery_key", name="uq_events_delivery"),
    )
    op.create_index("ix_events_state_received", "events", ["state", "received_at"])
    op.create_index("ix_events_ticket", "events", ["connection", "ticket_id", "occurred_at"])
    op.create_table(
        "companies",
        sa.Column("id", sa.String(100), primary_key=True),
        sa.Column("name", sa.String(200)),
        sa.Column("plan", sa.String(64)),
        sa.Column("manager", sa.String(100)),
        sa.Column("calendar", sa.String(64)),
        sa.Column("created_at", UTCDateTime(), nullable=False),
    )
    op.create_table(
        "tickets",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("connection", sa.String(64), nullable=False),
        sa.Column("host_ticket_id", sa.String(100), nullable=False),
        sa.Column("company_id", sa.String(100), sa.ForeignKey("companies.id")),
        sa.Column("task_type", sa.String(32)),
        sa.Column("units", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("priority", sa.String(16)),
        sa.Column("manager", sa.String(100)),
        sa.Column("subject", sa.String(500)),
        *[
            sa.Column(name, UTCDateTime())
            for name in (
                "filed_at", "accepted_at", "first_response_at", "resolved_at", "closed_at",
                "accept_due", "first_response_due", "resolve_due", "deferred_to",
            )
        ],
        sa.Column("calendar", sa.String(64)),
        sa.Column("rules_version", sa.String(80)),
        sa.Column("last_event_at", UTCDateTime()),
        sa.Column("facts", sa.JSON(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.UniqueConstraint("connection", "host_ticket_id", name="uq_tickets_host_id"),
    )
    op.create_index("ix_tickets_company_filed", "tickets", ["company_id", "filed_at"])
    op.create_index("ix_tickets_status", "tickets", ["status"])


def downgrade() -> None:
    op.drop_table("tickets")
    op.drop_table("companies")
    op.drop_table("events")
