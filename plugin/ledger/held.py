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
    return [h for h, pending in _waiting(session, company_id, open_only=True) if not pending]


def waiting_for_credits(session: Session, company_id: str) -> list[HeldTicket]:
    """Held tickets and completed tickets whose debit is pending (plan ``held_resolved:
    pending``, issue 17), oldest filed first: what a purchase or grant re-runs."""
    return [h for h, _ in _waiting(session, company_id, open_only=False)]


def _waiting(session: Session, company_id: str,
             open_only: bool) -> list[tuple[HeldTicket, bool]]:
    where = [Ticket.company_id == company_id]
    if open_only:
        where.append(Ticket.closed_at.is_(None))
    rows = session.execute(
        select(
            Ticket.id,
            Ticket.connection,
            Ticket.host_ticket_id,
            Ticket.task_type,
            Ticket.units,
            Ticket.filed_at,
            Ticket.facts,
            Ticket.closed_at,
        )
        .where(*where)
        .order_by(Ticket.filed_at, Ticket.id)
    ).all()
    # the flags live in the JSON state (no column): a company's tickets are few (the daily
    # cap bounds them), a pending debit may sit on a closed one
    out = []
    for pk, conn, host_id, task_type, units, filed_at, facts, closed_at in rows:
        state = (facts or {}).get("state") or {}
        held = bool(state.get("held")) and closed_at is None
        pending = bool(state.get("debit_pending"))
        if held or pending:
            out.append((HeldTicket(pk, conn, host_id, task_type, units or 1, filed_at),
                        pending and not held))
    return out
