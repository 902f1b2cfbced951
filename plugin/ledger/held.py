"""Tasks waiting for credits: what to re-run through the rules once a company's credits arrive.

Under the ``hold`` policy the rules put an accepted task on hold when its company is short
(``TicketState.held``, kept in ``Ticket.facts["state"]``) and reserve its units on the
ticket's next event. Nothing else wakes it: after a purchase or a grant the workers list
the company's held tickets here and run each through the rules again, oldest first, so
the credits go to the tasks that waited longest.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from plugin.storage.models import Ticket


@dataclass(frozen=True)
class HeldTicket:
    """An open ticket on hold for want of credits."""

    ticket_pk: int
    connection: str
    host_ticket_id: str
    task_type: str | None
    units: int
    filed_at: datetime | None


def held_tickets(session: Session, company_id: str) -> list[HeldTicket]:
    """The company's open tickets held for credits, oldest filed first."""
    rows = session.execute(
        select(
            Ticket.id,
            Ticket.connection,
            Ticket.host_ticket_id,
            Ticket.task_type,
            Ticket.units,
            Ticket.filed_at,
            Ticket.facts,
        )
        .where(Ticket.company_id == company_id, Ticket.closed_at.is_(None))
        .order_by(Ticket.filed_at, Ticket.id)
    ).all()
    # the flag lives in the JSON state (no column): open tickets of one company are few
    return [
        HeldTicket(pk, conn, host_id, task_type, units or 1, filed_at)
        for pk, conn, host_id, task_type, units, filed_at, facts in rows
        if ((facts or {}).get("state") or {}).get("held")
    ]
