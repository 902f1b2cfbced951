"""Loading and locking the ticket row a job works on, and copying the host's view onto it."""

from __future__ import annotations

from functools import cache
from typing import Any, cast

from sqlalchemy import JSON, bindparam, exists, select
from sqlalchemy.orm import Session

from plugin.outbox.rows import (
    OutboxRow,
    OutboxState,
    dialect_insert_for,
    insert_ignoring,
    insert_ignoring_for,
)
from plugin.processing.models import CapSlot
from plugin.processing.state import encode_snapshot
from plugin.reports.models import TicketMetrics
from plugin.storage.db import utcnow
from plugin.storage.models import Company, Ticket
from rules.event import Company as EvCompany
from rules.event import EventType, TicketEvent


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


@cache  # built once per shape: constructing it cost more than running it
def _ticket_query(related: bool, pg: bool) -> Any:
    q: Any
    if related:
        # the metrics row and cap slot come in the same round trip, held by the session (see
        # lock_ticket) so later ``session.get`` calls find them without SQL; so does whether
        # the ticket has open outbox rows (none: its new rows may be inserted claimed)
        open_rows = exists().where(
            OutboxRow.connection == Ticket.connection, OutboxRow.ticket_id == Ticket.host_ticket_id,
            OutboxRow.state.in_((OutboxState.PENDING, OutboxState.SENDING)))
        q = (select(Ticket, TicketMetrics, CapSlot, open_rows.label("open_rows"))
             .outerjoin(TicketMetrics, TicketMetrics.ticket_id == Ticket.id)
             .outerjoin(CapSlot, CapSlot.ticket_pk == Ticket.id))
    else:
        q = select(Ticket)
    q = q.where(Ticket.connection == bindparam("connection"),
                Ticket.host_ticket_id == bindparam("host_ticket_id"))
    return q.with_for_update(of=Ticket) if pg else q


def lock_ticket(session: Session, connection: str, host_ticket_id: str,
                ev: TicketEvent | None = None, related: bool = False) -> Ticket | None:
    """The ticket row, locked for this transaction; created from ``ev`` on first sight.

    PostgreSQL locks the row (``SELECT … FOR UPDATE``); SQLite serialises writers at
    ``BEGIN IMMEDIATE``. With ``related`` its metrics and cap-slot rows are loaded in the
    same query and kept in ``session.info`` for the transaction. A ``ticket.created`` event
    inserts first and looks up only when the ticket exists already (a redelivery, an import).
    """
    if ev is not None and ev.event == EventType.CREATED:
        created = create_ticket(session, connection, host_ticket_id, ev)
        if created is not None:
            return created
    pg = _is_pg(session)
    q = _ticket_query(related, pg)
    which = {"connection": connection, "host_ticket_id": host_ticket_id}
    row = session.execute(q, which).first()
    if row is None and ev is not None:
        created = create_ticket(session, connection, host_ticket_id, ev)
        if created is not None:
            return created
        # another worker created it first: this waits for its lock
        row = session.execute(q.execution_options(populate_existing=True), which).first()
    if row is None:
        return None
    if related:
        session.info.setdefault("deskpilot.held", []).extend(r for r in row[:3] if r is not None)
        for key, absent in (("deskpilot.no-metrics", row[1] is None),
                            ("deskpilot.no-slot", row[2] is None),
                            ("deskpilot.outbox-idle", not row[3])):
            known: set[int] = session.info.setdefault(key, set())
            if absent:
                known.add(row[0].id)
            else:
                known.discard(row[0].id)
    return cast(Ticket, row[0])


def create_ticket(session: Session, connection: str, host_ticket_id: str,
                  ev: TicketEvent) -> Ticket | None:
    """Insert the ticket row (and its company, unless known) and return it; None when it
    exists already. One statement on PostgreSQL (the company's insert rides along as a
    data-modifying CTE); two on SQLite, which has none.

    The row is this transaction's own until commit, so it needs no lock of its own; a
    second worker inserting the same ticket waits on the unique index. A new ticket has no
    metrics, cap slot, timers or outbox rows yet: ``session.info`` says so, and the job
    skips those queries.
    """
    company = ev.ticket.company
    pg = _is_pg(session)
    if company is not None and not pg:
        insert_company(session, company)
    params = {"connection": connection, "host_ticket_id": host_ticket_id,
              "filed_at": ev.ticket.created_at, "company_id": company.id if company else None,
              "updated_at": utcnow(), "facts": {}}
    if company is not None and pg:
        params.update(company_name=company.name, company_created=params["updated_at"])
    stmt = _insert_ticket(session, with_company=company is not None and pg)
    ticket = session.scalars(stmt, params).first()
    if ticket is None:
        return None
    session.info.setdefault("deskpilot.held", []).append(ticket)
    for key in ("deskpilot.no-metrics", "deskpilot.no-slot", "deskpilot.new-tickets",
                "deskpilot.outbox-idle"):
        session.info.setdefault(key, set()).add(ticket.id)
    return ticket


def _insert_ticket(session: Session, with_company: bool) -> Any:
    """``INSERT INTO tickets … ON CONFLICT DO NOTHING RETURNING`` the ORM row, with the
    company's ``INSERT … ON CONFLICT DO NOTHING`` as a CTE when asked (PostgreSQL); built
    once per dialect with bound parameters (building and coercing the values per call cost
    more than running the statement)."""
    return _ticket_insert(session.get_bind().dialect.name, with_company)


@cache
def _ticket_insert(dialect: str, with_company: bool) -> Any:
    table: Any = Ticket.__table__
    stmt = (dialect_insert_for(dialect)(table)
            .values(connection=bindparam("connection"),
                    host_ticket_id=bindparam("host_ticket_id"), units=1, status="new",
                    filed_at=bindparam("filed_at"), facts=bindparam("facts", type_=JSON),
                    company_id=bindparam("company_id"), updated_at=bindparam("updated_at"))
            .on_conflict_do_nothing(index_elements=["connection", "host_ticket_id"])
            .returning(*table.c))
    if with_company:
        stmt = stmt.add_cte(
            insert_ignoring_for(dialect, Company.__table__, ("id",)).values(
                id=bindparam("company_id"), name=bindparam("company_name"), plan=None,
                manager=None, calendar=None, created_at=bindparam("company_created"))
            .cte("new_company"))
    # a Core statement whose returned row the ORM loads as a (persistent) Ticket
    return select(Ticket).from_statement(stmt)


def outbox_idle(session: Session, ticket: Ticket) -> bool:
    """Whether the ticket had no open outbox rows when this transaction locked it (and has
    been given none since): rows added now may be claimed as they are inserted."""
    return ticket.id in session.info.get("deskpilot.outbox-idle", ())


def outbox_used(session: Session, ticket: Ticket) -> None:
    """The transaction added outbox rows for ``ticket``: it is no longer idle."""
    session.info.get("deskpilot.outbox-idle", set()).discard(ticket.id)


def is_new(session: Session, ticket: Ticket) -> bool:
    """Whether this transaction created ``ticket`` (it has no rows elsewhere yet)."""
    return ticket.id in session.info.get("deskpilot.new-tickets", ())


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


def start_new_life(session: Session, ticket: Ticket) -> None:
    """A creation under the id of a ticket its host deleted (``rules.lifecycle.GONE``) is a
    new ticket: hosts that reuse a deleted row's id do this (Redmine on SQLite, whose
    ``issues.id`` is a plain ``INTEGER PRIMARY KEY``, seen in tests/e2e/redmine; MySQL before
    8.0 after a restart). Its state starts empty in the next ledger cycle, so the old life's
    reservation, debit and once-only automations stay its own; its metrics row (a deleted
    ticket's) goes; the timer rows stay (the deletion cancelled them) and are re-armed."""
    from plugin.processing.state import _MIRRORED, decode_ticket_state, encode_ticket_state
    from rules.decision import TicketState

    old = decode_ticket_state((ticket.facts or {}).get("state"))
    facts = {k: v for k, v in (ticket.facts or {}).items() if k == "timers"}
    facts["state"] = encode_ticket_state(TicketState(cycle=old.cycle + 1))
    ticket.facts = facts
    for name in _MIRRORED:
        setattr(ticket, name, None)
    ticket.status, ticket.units = "new", 1  # the columns' own defaults
    metrics = session.get(TicketMetrics, ticket.id)
    if metrics is not None:
        session.delete(metrics)
        session.flush()
