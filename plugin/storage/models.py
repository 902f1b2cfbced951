"""The foundation's tables: raw event log, tickets, companies.

Other capabilities add their own tables (in their own modules, on the same ``Base``) and
their own alembic migrations.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

from plugin.storage.clock import utcnow


class UTCDateTime(TypeDecorator):
    """Aware datetimes stored as UTC; SQLite hands them back naive, so re-attach UTC."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Any) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database")
        from datetime import UTC

        return value.astimezone(UTC)

    def process_result_value(self, value: Any, dialect: Any) -> Any:
        if value is None:
            return None
        from datetime import UTC

        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    """Declarative base shared by every Deskpilot table."""

    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSON}


class EventState:
    """Processing states of a stored event."""

    QUEUED = "queued"
    PROCESSING = "processing"
    PROCESSED = "processed"
    IGNORED = "ignored"
    FAILED = "failed"


class Event(Base):
    """Every accepted webhook, as received: the source for processing and replay."""

    __tablename__ = "events"
    __table_args__ = (
        UniqueConstraint("connection", "delivery_key", name="uq_events_delivery"),
        Index("ix_events_state_received", "state", "received_at"),
        Index("ix_events_ticket", "connection", "ticket_id", "occurred_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    connection: Mapped[str] = mapped_column(String(64))
    delivery_key: Mapped[str] = mapped_column(String(200))
    body_sha256: Mapped[str] = mapped_column(String(64))
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    headers: Mapped[dict[str, Any]] = mapped_column(default=dict)
    body: Mapped[bytes] = mapped_column(LargeBinary)
    event_type: Mapped[str | None] = mapped_column(String(40))
    ticket_id: Mapped[str | None] = mapped_column(String(100))
    occurred_at: Mapped[datetime | None] = mapped_column()
    state: Mapped[str] = mapped_column(String(16), default=EventState.QUEUED)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    processed_at: Mapped[datetime | None] = mapped_column()


class Company(Base):
    """A client company that buys prepaid support."""

    __tablename__ = "companies"

    id: Mapped[str] = mapped_column(String(100), primary_key=True)
    name: Mapped[str | None] = mapped_column(String(200))
    plan: Mapped[str | None] = mapped_column(String(64))
    manager: Mapped[str | None] = mapped_column(String(100))
    calendar: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: the ledger's expiry cursor: no lot holding credits expires before it (NULL: look)
    credits_checked_until: Mapped[datetime | None] = mapped_column()


class Ticket(Base):
    """Deskpilot's state of one host ticket."""

    __tablename__ = "tickets"
    __table_args__ = (
        UniqueConstraint("connection", "host_ticket_id", name="uq_tickets_host_id"),
        Index("ix_tickets_company_filed", "company_id", "filed_at"),
        Index("ix_tickets_status", "status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    connection: Mapped[str] = mapped_column(String(64))
    host_ticket_id: Mapped[str] = mapped_column(String(100))
    company_id: Mapped[str | None] = mapped_column(ForeignKey("companies.id"))
    task_type: Mapped[str | None] = mapped_column(String(32))
    units: Mapped[int] = mapped_column(Integer, default=1)
    status: Mapped[str] = mapped_column(String(32), default="new")
    priority: Mapped[str | None] = mapped_column(String(16))
    manager: Mapped[str | None] = mapped_column(String(100))
    subject: Mapped[str | None] = mapped_column(String(500))
    filed_at: Mapped[datetime | None] = mapped_column()
    accepted_at: Mapped[datetime | None] = mapped_column()
    first_response_at: Mapped[datetime | None] = mapped_column()
    resolved_at: Mapped[datetime | None] = mapped_column()
    closed_at: Mapped[datetime | None] = mapped_column()
    accept_due: Mapped[datetime | None] = mapped_column()
    first_response_due: Mapped[datetime | None] = mapped_column()
    resolve_due: Mapped[datetime | None] = mapped_column()
    deferred_to: Mapped[datetime | None] = mapped_column()
    calendar: Mapped[str | None] = mapped_column(String(64))
    rules_version: Mapped[str | None] = mapped_column(String(80))
    last_event_at: Mapped[datetime | None] = mapped_column()
    #: facts the rules read and write (logged minutes, reopen count, …)
    facts: Mapped[dict[str, Any]] = mapped_column(default=dict)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
