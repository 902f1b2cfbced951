"""The balance shown on every open ticket of a company stays current (issue 15).

A host without an organisation field for the balance shows it on tickets (``field_map``
``balance``/``reserved``/``available``). When the company's credits change (a debit, a
reservation, a purchase, an expiry) every open ticket of the company on such a connection
gets a ``set_balance`` row, not only the ticket whose event changed it; the rows of one
ticket coalesce into one write (last balance wins), so a burst costs one update per ticket.
A connection that keeps the balance on the organisation (``company.*`` in ``field_map``)
needs one write for the company, which the changing ticket's push already makes.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from plugin.outbox.commands import Command
from plugin.outbox.rows import add_commands
from plugin.storage.models import Ticket

#: ticket-side balance fields (any of them mapped means the ticket shows the balance)
TICKET_FIELDS = ("balance", "reserved", "available")
#: statuses whose tickets no longer need a current balance
_DONE = ("resolved", "closed")
#: at most this many tickets per connection get the new balance per change (the newest);
#: far above a client company's usual open tickets, and a bound on a burst of writes
MAX_TICKETS = 100


def running_context() -> Any:
    """The context this process runs with (the web app's in a request, else the one the
    worker, scheduler or CLI installed), or None: never builds one."""
    from flask import current_app, has_app_context

    from plugin import context

    if has_app_context():
        return current_app.extensions.get("deskpilot")
    return context._current  # noqa: SLF001 - read only; get_context() would build one


def shows_on_tickets(conn: Any) -> bool:
    """The connection shows the balance on tickets, not on an organisation record."""
    fmap = getattr(conn, "field_map", None) or {}
    if any(fmap.get(f"company.{name}") is not None for name in TICKET_FIELDS):
        return False
    return any(fmap.get(name) is not None for name in TICKET_FIELDS)


def open_tickets(session: Session, company: str, connection: str) -> list[str]:
    """Host ids of the company's open tickets on ``connection``, newest first."""
    return list(session.execute(
        select(Ticket.host_ticket_id)
        .where(Ticket.company_id == company, Ticket.connection == connection,
               Ticket.status.not_in(_DONE))
        .order_by(Ticket.id.desc()).limit(MAX_TICKETS)
    ).scalars())


def spread_balance(session: Session, settings: Any, company: str, cmd: Command,
                   key: str, now: datetime,
                   skip: Iterable[tuple[str, str]] = ()) -> list[tuple[str, str]]:
    """Queue ``cmd`` (a ``set_balance``) on the company's other open tickets of every
    connection that shows the balance on tickets; returns the tickets given a row."""
    skipped = set(skip)
    connections = session.execute(
        select(Ticket.connection).where(Ticket.company_id == company).distinct()
    ).scalars()
    touched: list[tuple[str, str]] = []
    for name in sorted(connections):
        conn = settings.connection(name)
        if conn is None or not shows_on_tickets(conn):
            continue
        for host_id in open_tickets(session, company, name):
            if (name, host_id) in skipped:
                continue
            if add_commands(session, name, host_id, [cmd], f"{key}:{name}:{host_id}", now,
                            company_id=company):
                touched.append((name, host_id))
    return touched
