"""``process_event``: turn one stored webhook into ticket state.

The foundation records the ticket snapshot; the rules, ledger and outbox steps hang on
:func:`apply_events`, which runs inside the same database transaction.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from plugin.context import get_context
from plugin.storage.db import utcnow
from plugin.storage.models import Company, Event, EventState, Ticket
from rules.event import EventType, TicketEvent

log = logging.getLogger("deskpilot.jobs")


def parse_stored(event: Event, settings_conn: object) -> list[TicketEvent]:
    """Re-parse a stored raw event with its connection's adapter (pure)."""
    from webhooks.hosts import ADAPTERS

    conn = settings_conn
    adapter = ADAPTERS[conn.kind]  # type: ignore[attr-defined]
    return list(adapter.parse(event.body, event.headers or {}, conn))


def upsert_ticket(session: Session, ev: TicketEvent) -> Ticket:
    """The ticket row for ``ev``, created on first sight, with the snapshot applied."""
    ticket = session.execute(
        select(Ticket).where(
            Ticket.connection == ev.connection, Ticket.host_ticket_id == ev.ticket.id
        )
    ).scalar_one_or_none()
    if ev.ticket.company is not None and session.get(Company, ev.ticket.company.id) is None:
        session.add(Company(id=ev.ticket.company.id, name=ev.ticket.company.name))
        session.flush()
    if ticket is None:
        ticket = Ticket(
            connection=ev.connection, host_ticket_id=ev.ticket.id, units=1, status="new",
            filed_at=ev.ticket.created_at, facts={},
        )
        session.add(ticket)
    ticket.company_id = ev.ticket.company.id if ev.ticket.company else ticket.company_id
    ticket.subject = (ev.ticket.subject or "")[:500] or ticket.subject
    ticket.priority = ev.ticket.priority or ticket.priority
    if ev.ticket.status:
        ticket.status = ev.ticket.status
    if ticket.last_event_at is None or ev.occurred_at >= ticket.last_event_at:
        ticket.last_event_at = ev.occurred_at
    session.flush()
    return ticket


#: the step that applies parsed events inside the transaction; the workers replace it
EventApplier = Callable[[Session, Event, list[TicketEvent], datetime], None]


def record_only(session: Session, row: Event, events: list[TicketEvent], now: datetime) -> None:
    for ev in events:
        if ev.event != EventType.UNKNOWN and not ev.own_write:
            upsert_ticket(session, ev)


def apply_events(session: Session, row: Event, events: list[TicketEvent], now: datetime) -> None:
    record_only(session, row, events, now)


def process_event(event_id: int, now: datetime | None = None) -> str:
    """Process stored event ``event_id`` once; a second run of a processed event is a no-op."""
    ctx = get_context()
    now = now or utcnow()
    with ctx.db.session() as session:
        row = session.get(Event, event_id, with_for_update=ctx.db.dialect == "postgresql")
        if row is None:
            log.warning("job.event-missing id=%s", event_id)
            return "missing"
        if row.state in (EventState.PROCESSED, EventState.IGNORED):
            return row.state
        row.attempts += 1
        conn = ctx.settings.connection(row.connection)
        if conn is None:
            row.state, row.last_error = EventState.FAILED, "connection no longer configured"
            return row.state
        events = parse_stored(row, conn)
        apply_events(session, row, events, now)
        row.state = EventState.PROCESSED
        row.processed_at = now
        row.last_error = None
    log.info("job.event-processed id=%s", event_id)
    return EventState.PROCESSED
