"""Per-ticket facts the KPIs need, written when they happen (working time already counted)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    event,
    inspect,
    text,
    update,
)
from sqlalchemy.orm import Mapped, Session, mapped_column
from sqlalchemy.orm.attributes import set_committed_value

from plugin.storage.models import Base, Ticket

#: the ticket's report dimensions, copied so a report scans this one table (no join)
DIMENSIONS = ("task_type", "priority", "company_id", "manager")
#: covering indexes. A cohort's aggregate reads the dimension-first one whole, in group order
#: (SQLite then aggregates without sorting; a report covers most rows anyway); the range-first
#: one serves the weekly trend and the newest-first lists
COVERING: dict[str, tuple[str, ...]] = {
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
#: the statuses of a finished ticket (rules.lifecycle.DONE); the stuck-task index holds the
#: others only
OPEN_SQL = "status NOT IN ('resolved', 'closed')"
#: an open ticket: the partial index's condition spelled exactly (the planner then sees that
#: the index holds every candidate), and not deleted by its host (rules.lifecycle.GONE)
OPEN_WHERE = f"tickets.{OPEN_SQL} AND tickets.status <> 'deleted'"


class TicketMetrics(Base):
    """One row per ticket: durations in working minutes, counts, rating, time logged."""

    __tablename__ = "ticket_metrics"
    __table_args__ = tuple(Index(name, *cols) for name, cols in COVERING.items())

    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), primary_key=True)
    #: copies of the ticket's dimensions (kept equal by ``record``)
    task_type: Mapped[str | None] = mapped_column(String(32))
    priority: Mapped[str | None] = mapped_column(String(16))
    company_id: Mapped[str | None] = mapped_column(String(100))
    manager: Mapped[str | None] = mapped_column(String(100))
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


#: open tickets by deadline (partial, covering): the stuck-task queries read a few index rows,
#: not the tickets table
OPEN_DUE = Index("ix_tickets_open_due", Ticket.resolve_due, Ticket.task_type, Ticket.priority,
                 Ticket.company_id, Ticket.manager, Ticket.last_event_at, Ticket.filed_at,
                 sqlite_where=text(OPEN_SQL), postgresql_where=text(OPEN_SQL))


@event.listens_for(Session, "after_flush")
def _copy_dimensions(session: Session, _flush_context: Any) -> None:
    """Keep the copies equal when a ticket is re-typed or moved outside ``record`` (rules
    replay, an edit without an event): the report would otherwise file it under the old type."""
    for obj in session.dirty:
        if not isinstance(obj, Ticket):
            continue
        attrs = inspect(obj).attrs
        if not any(attrs[name].history.has_changes() for name in DIMENSIONS):
            continue
        values = {name: getattr(obj, name) for name in DIMENSIONS}
        loaded = session.identity_map.get(inspect(TicketMetrics).identity_key_from_primary_key(
            (obj.id,))) or next((m for m in session.new if isinstance(m, TicketMetrics)
                                 and m.ticket_id == obj.id), None)
        if loaded is not None and all(getattr(loaded, k) == v for k, v in values.items()):
            continue  # the loaded row carries them already (written, or in the next flush)
        if loaded is None and obj.id in session.info.get("deskpilot.no-metrics", ()):
            continue  # no metrics row yet: its first record copies them
        table = TicketMetrics.metadata.tables["ticket_metrics"]
        session.connection().execute(
            update(table).where(table.c.ticket_id == obj.id).values(**values)
        )
        if loaded is not None:
            for name, value in values.items():
                set_committed_value(loaded, name, value)
