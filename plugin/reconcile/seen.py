"""What Deskpilot already holds for a host ticket, so a poll stores only what is new."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select

from plugin.storage.models import Event, Ticket


@dataclass(frozen=True)
class Seen:
    """A ticket's trace in Deskpilot: known at all, and its last processed event's time."""

    known: bool = False
    last_event_at: datetime | None = None


def seen_ticket(ctx: Any, connection: str, host_ticket_id: str) -> Seen:
    """Known = a ticket row, or any stored event (a delivery waiting to be processed counts:
    its ticket row appears only when a worker gets to it)."""
    with ctx.db.session() as session:
        last = session.execute(
            select(Ticket.last_event_at).where(Ticket.connection == connection,
                                               Ticket.host_ticket_id == host_ticket_id)
        ).first()
        if last is not None:
            return Seen(known=True, last_event_at=last[0])
        stored = session.execute(
            select(Event.id).where(Event.connection == connection,
                                   Event.ticket_id == host_ticket_id).limit(1)
        ).first()
    return Seen(known=stored is not None)
