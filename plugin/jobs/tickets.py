"""Loading and locking the ticket row a job works on, and copying the host's view onto it."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from plugin.jobs.models import CapSlot
from plugin.jobs.state import encode_snapshot
from plugin.outbox import insert_ignoring
from plugin.reports.models import TicketMetrics
from plugin.storage.db import utcnow
from plugin.storage.models import Company, Ticket
from rules.event import Company as EvCompany
from rules.event import TicketEvent


def _is_pg(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def ensure_company(session: Session, company: EvCompany | None) -> Company | None:
    """The company row of ``company``, created on first sight (races are harmless)."""
    if company is None:
        return None
    row = session.get(Company, company.id)
    if row is None:
        insert_company(session, company)
        row = session.get(Company, company.id)
    session.info.setdefault("deskpilot.held", []).append(row)
    return row


def insert_company(session: Session, company: EvCompany) -> None:
    """Create the company row unless it exists (one statement, race-free)."""
    stmt = insert_ignoring(session, Company.__table__, ("id",))
    session.execute(stmt, {"id": company.id, "name": company.name, "plan": None,
                           "manager": None, "calendar": None, "created_at": utcnow()})


def _ticket_query(connection: str, host_ticket_id: str, related: bool, pg: bool) -> Any:
    q: Any
    if related:
        # the company, metrics row and cap slot come in the same round trip; held by the
        # session (see lock_ticket) so later ``session.get`` calls find them without SQL
        q = (select(Ticket, Company, TicketMetrics, CapSlot)
             .outerjoin(Company, Company.id == Ticket.company_id)
             .outerjoin(TicketMetrics, TicketMetrics.ticket_id == Ticket.id)
             .outerjoin(CapSlot, CapSlot.ticket_pk == Ticket.id))
    else:
        q = select(Ticket)
    q = q.where(Ticket.connection == connection, Ticket.host_ticket_id == host_ticket_id)
    return q.with_for_update(of=Ticket) if pg else q


def lock_ticket(session: Session, connection: str, host_ticket_id: str,
                ev: TicketEvent | None = None, related: bool = False) -> Ticket | None:
    """The ticket row, locked for this transaction; created from ``ev`` on first sight.

    PostgreSQL locks the row (``SELECT … FOR UPDATE``); SQLite serialises writers at
    ``BEGIN IMMEDIATE``. With ``related`` its company, metrics and cap-slot rows are loaded
    in the same query and kept in ``session.info`` for the transaction.
    """
    pg = _is_pg(session)
    q = _ticket_query(connection, host_ticket_id, related, pg)
    row = session.execute(q).first()
    if row is None and ev is not None:
        company = ev.ticket.company
        if company is not None:
            insert_company(session, company)
        # one statement whether or not another worker created it first; the SELECT below
        # then waits for that worker's lock
        stmt = insert_ignoring(session, Ticket.__table__, ("connection", "host_ticket_id"))
        session.execute(stmt, {
            "connection": connection, "host_ticket_id": host_ticket_id, "units": 1,
            "status": "new", "filed_at": ev.ticket.created_at, "facts": {},
            "company_id": company.id if company else None, "updated_at": utcnow(),
        })
        row = session.execute(q.execution_options(populate_existing=True)).first()
    if row is None:
        return None
    if related:
        session.info.setdefault("deskpilot.held", []).extend(r for r in row if r is not None)
        for key, found in (("deskpilot.no-metrics", row[2]), ("deskpilot.no-slot", row[3])):
            known: set[int] = session.info.setdefault(key, set())
            if found is None:
                known.add(row[0].id)
            else:
                known.discard(row[0].id)
    return row[0]


def take_snapshot(session: Session, ticket: Ticket, ev: TicketEvent) -> dict[str, Any]:
    """Copy the host's view of the ticket onto the row; its encoded snapshot, for facts."""
    t = ev.ticket
    if t.company is not None and t.company.id != ticket.company_id:
        ensure_company(session, t.company)
        ticket.company_id = t.company.id
    ticket.subject = (t.subject or "")[:500] or ticket.subject
    ticket.priority = t.priority or ticket.priority
    ticket.last_event_at = ev.occurred_at
    return encode_snapshot(t)
