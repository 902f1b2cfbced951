"""Per-ticket facts the KPIs need, written when they happen (working time already counted)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Float, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from plugin.storage.models import Base


class TicketMetrics(Base):
    """One row per ticket: durations in working minutes, counts, rating, time logged."""

    __tablename__ = "ticket_metrics"
    __table_args__ = (
        Index("ix_ticket_metrics_resolved", "resolved_at"),
        Index("ix_ticket_metrics_first_response", "first_response_at"),
        Index("ix_ticket_metrics_rated", "rated_at"),
    )

    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), primary_key=True)
    #: when the working clock started (filing, or the deferred start)
    clock_start: Mapped[datetime | None] = mapped_column()
    last_status: Mapped[str | None] = mapped_column(String(32))
    accepted_at: Mapped[datetime | None] = mapped_column()
    accept_minutes: Mapped[float | None] = mapped_column(Float)
    accept_breached: Mapped[int] = mapped_column(Integer, default=0)
    first_response_at: Mapped[datetime | None] = mapped_column()
    first_response_minutes: Mapped[float | None] = mapped_column(Float)
    first_response_breached: Mapped[int] = mapped_column(Integer, default=0)
    first_resolved_at: Mapped[datetime | None] = mapped_column()
    #: the latest resolution (after a reopening, the final one)
    resolved_at: Mapped[datetime | None] = mapped_column()
    resolution_minutes: Mapped[float | None] = mapped_column(Float)
    #: 1 resolved by the promised deadline, 0 late, None no deadline
    resolved_on_time: Mapped[int | None] = mapped_column(Integer)
    resolve_due: Mapped[datetime | None] = mapped_column()
    resolved_by: Mapped[str | None] = mapped_column(String(100))
    closed_at: Mapped[datetime | None] = mapped_column()
    reopen_count: Mapped[int] = mapped_column(Integer, default=0)
    messages_client: Mapped[int] = mapped_column(Integer, default=0)
    messages_agent: Mapped[int] = mapped_column(Integer, default=0)
    rating_score: Mapped[int | None] = mapped_column(Integer)
    rating_scale: Mapped[int | None] = mapped_column(Integer)
    rated_at: Mapped[datetime | None] = mapped_column()
    logged_minutes: Mapped[int] = mapped_column(Integer, default=0)
    estimate_hours: Mapped[float | None] = mapped_column(Float)
    paused_minutes: Mapped[float] = mapped_column(Float, default=0.0)
    last_activity_at: Mapped[datetime | None] = mapped_column()
    #: bookkeeping: pause intervals, time entries by id, comment ids seen
    state: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
