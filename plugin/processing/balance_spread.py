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

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from plugin.outbox.commands import Command
from plugin.outbox.rows import add_commands
from plugin.storage.models import Ticket
from rules.lifecycle import ENDED, GONE

#: ticket-side balance fields (any of them mapped means the ticket shows the balance)
TICKET_FIELDS = ("balance", "reserved", "available")
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
               Ticket.status.not_in(ENDED))
        .order_by(Ticket.id.desc()).limit(MAX_TICKETS)
    ).scalars())


def push_to_company(session: Session, company: str, cmd: Command, key: str, now: datetime, *,
                    also: Iterable[tuple[str, str]] = (),
                    settings: Any = None) -> list[tuple[str, str]]:
    """Queue ``cmd`` (a ``set_balance``) on the company's latest ticket of each connection (a
    host with an organisation field writes it there; never a ticket its host deleted), on
    the tickets in ``also``, and on every other open ticket of a connection that shows the
    balance on tickets (:func:`spread_balance`); returns the tickets given a row (each keyed
    by ``key`` and the ticket's place). ``settings``: whose connections show the balance on
    tickets (default: the running context's; none running: no open tickets are written)."""
    latest = session.execute(
        select(Ticket.connection, func.max(Ticket.id))
        .where(Ticket.company_id == company, Ticket.status.is_distinct_from(GONE))
        .group_by(Ticket.connection)
    ).all()
    targets: dict[tuple[str, str], str] = {}
    for connection, ticket_pk in latest:
        ticket = session.get(Ticket, ticket_pk)
        assert ticket is not None
        targets[(connection, ticket.host_ticket_id)] = f"{key}:{connection}"
    for connection, host_id in also:
        targets.setdefault((connection, host_id), f"{key}:{connection}:{host_id}")
    touched = [target for target, row_key in targets.items()
               if add_commands(session, target[0], target[1], [cmd], row_key, now,
                               company_id=company)]
    if settings is None:
        ctx = running_context()
        settings = None if ctx is None else ctx.settings
    if settings is None:
        return touched
    return touched + spread_balance(session, settings, company, cmd, f"{key}:open", now,
                                    skip=touched)


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
