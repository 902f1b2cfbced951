"""Was a polled item already delivered by the host's own webhook?

A delivery's key cannot be rebuilt by a poll (Zendesk invocation id, Freshdesk body hash,
Zammad job id), so a polled comment or time log is compared with what the ticket's stored
deliveries carried, re-parsed by the same adapter:

- the same article id (Zammad, whose comments and time entries carry it);
- else, within :data:`MATCH_WINDOW` of each other (the templates render the update's time,
  Freshdesk in whole minutes): the same logged minutes (Zendesk), or a comment of the same
  visibility and text — compared as plain text, one may be cut short (a rendered
  placeholder can be trimmed).

A delivered Freshdesk ``time.logged`` (and Zammad's time accounted without an article)
carries the ticket's new total only, never the entry, so nothing here can match the polled
entry and it is stored next to the delivery. That counts no minute twice: processing counts
time by the totals both bodies carry (:mod:`rules.items`), so the delivery logs the total's
rise as it arrives and the entry, whose total after it is then already accounted, logs
nothing — and in the other order the entry logs and the delivery's total is covered.

Stored polls (keys ``poll…``/``import…``) are left out: a second poll must meet its own key
and be a duplicate. Two identical comments within minutes of each other, one delivered and
one dropped, count as one — the same reply said twice has the same effect.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select

from plugin.reconcile.items import plain_text
from plugin.settings import Connection
from plugin.storage.models import Event
from rules.event import TicketEvent
from rules.items import MATCH_WINDOW  # processing tells id-less comments apart the same way
from webhooks.base import WebhookError
from webhooks.hosts import ADAPTERS

#: delivery keys of stored polls and imports (never a host's own delivery)
POLL_PREFIXES = ("poll", "import")


def delivered(ctx: Any, conn: Connection, ticket_id: str, since: datetime) -> list[TicketEvent]:
    """The ticket's deliveries from ``since`` on (less the match window), parsed."""
    with ctx.db.session() as session:
        rows = session.execute(
            select(Event.delivery_key, Event.body, Event.headers).where(
                Event.connection == conn.name, Event.ticket_id == ticket_id,
                Event.occurred_at >= since - MATCH_WINDOW)
        ).all()
    adapter = ADAPTERS[conn.kind]
    out: list[TicketEvent] = []
    for key, body, headers in rows:
        if key.startswith(POLL_PREFIXES):
            continue
        try:
            out += adapter.parse(body, headers or {}, conn)
        except WebhookError:
            continue  # stored but unreadable now (settings changed): nothing to match
    return out


def same_item(polled: TicketEvent, stored: TicketEvent) -> bool:
    """``stored`` carried the comment or time log ``polled`` was built for."""
    mine, theirs = polled.comment, stored.comment
    if mine is not None and mine.id is not None and theirs is not None and theirs.id is not None:
        return mine.id == theirs.id
    if abs(polled.occurred_at - stored.occurred_at) > MATCH_WINDOW:
        return False
    if polled.time_entry is not None:
        return (stored.time_entry is not None
                and stored.time_entry.minutes == polled.time_entry.minutes)
    if mine is not None:
        return (theirs is not None and theirs.public == mine.public
                and _same_text(mine.body, theirs.body))
    return False


def _same_text(a: str, b: str) -> bool:
    a, b = plain_text(a).casefold(), plain_text(b).casefold()
    if not a or not b:
        return a == b
    return a.startswith(b) or b.startswith(a)
