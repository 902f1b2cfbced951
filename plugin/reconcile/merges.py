"""django-helpdesk merges, found by the poll: the helpdesk sends no webhook for them.

``views/staff.py`` ``merge_tickets`` (django-helpdesk 2.6.1) saves each duplicate with
status 5 (Duplicate) and ``merged_to`` and moves its followups to the kept ticket, without
``update_ticket``: no webhook fires, and the poll's ticket list (statuses 1–3, keyed on
followup dates) never shows the duplicate again. It would stay open in Deskpilot with its
reservation.

So each pass reads by id (``GET /api/tickets/<id>/``) a bounded number of the tickets
Deskpilot holds open for the connection, continuing where the previous pass stopped (the
cursor lives in Redis; a lost cursor starts over). One the host reports merged is stored
as the helpdesk's own ticket body with ``deskpilot_seen_at`` through the receiver's
``store_and_enqueue`` (the adapter reads it as ``ticket.merged``, key
``ticket-<id>-merged-<kept id>``), so processing releases its reservation once.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from redis.exceptions import RedisError
from sqlalchemy import select

from plugin.hosts.errors import HostError, NotFound
from plugin.settings import Connection
from plugin.storage.models import Event, Ticket
from rules.event import EventType
from rules.generic_format import FormatError
from rules.lifecycle import GONE
from webhooks.base import WebhookError
from webhooks.hosts import ADAPTERS
from webhooks.limits import check_events
from webhooks.store import store_and_enqueue

log = logging.getLogger("deskpilot.hosts")

#: tickets read per pass by default (``options.merge_checks_per_pass``)
CHECKS_PER_PASS = 50
#: statuses Deskpilot no longer holds open: nothing left to release
DONE = ("closed", GONE)
DUPLICATE = 5


def _cursor_key(conn: Connection) -> str:
    return f"deskpilot:reconcile:merge-cursor:{conn.name}"


def _read_cursor(ctx: Any, conn: Connection) -> int:
    try:
        return int(ctx.redis.get(_cursor_key(conn)) or 0)
    except (RedisError, ValueError):  # a lost cursor only restarts the rotation
        return 0


def _write_cursor(ctx: Any, conn: Connection, value: int) -> None:
    try:
        ctx.redis.set(_cursor_key(conn), str(value))
    except RedisError:
        log.warning("hosts.merge-cursor-lost connection=%s", conn.name)


def candidates(ctx: Any, conn: Connection, after: int, limit: int) -> list[tuple[int, str]]:
    """Up to ``limit`` (row id, host ticket id) Deskpilot holds open, from row id ``after``
    on, wrapping round to the first; tickets whose merge is already stored are left out."""
    merged = select(Event.ticket_id).where(Event.connection == conn.name,
                                           Event.event_type == EventType.MERGED)
    base = select(Ticket.id, Ticket.host_ticket_id).where(
        Ticket.connection == conn.name, Ticket.status.not_in(DONE),
        Ticket.host_ticket_id.not_in(merged)).order_by(Ticket.id)
    with ctx.db.session() as session:
        rows = [(r[0], r[1]) for r in session.execute(
            base.where(Ticket.id > after).limit(limit))]
        if len(rows) < limit and after > 0:
            rows += [(r[0], r[1]) for r in session.execute(
                base.where(Ticket.id <= after).limit(limit - len(rows)))]
    return rows


def find_merges(ctx: Any, conn: Connection, client: Any, now: datetime, report: Any) -> None:
    """Read this pass's share of open tickets; store each the host reports merged."""
    limit = int(conn.options.get("merge_checks_per_pass") or CHECKS_PER_PASS)
    rows = candidates(ctx, conn, _read_cursor(ctx, conn), limit)
    last = 0
    try:
        for row_id, ticket_id in rows:
            try:
                ticket = client.get_ticket(ticket_id)
            except NotFound:
                report.count("merge-check-gone")
                ticket = {}
            last = row_id
            if ticket.get("merged_to") in (None, "") or ticket.get("status") != DUPLICATE:
                continue
            _store_merge(ctx, conn, ticket, now, report)
    except HostError as exc:
        report.errors.append(f"host (merges): {exc}")
    if last:  # the next pass goes on after the last ticket read
        _write_cursor(ctx, conn, last)


def _store_merge(ctx: Any, conn: Connection, ticket: dict[str, Any], now: datetime,
                 report: Any) -> None:
    slugs = conn.options.get("queue_slugs") or {}
    body = json.dumps({"ticket": ticket, "queue_slug": slugs.get(str(ticket.get("queue")),
                                                                 str(ticket.get("queue"))),
                       "deskpilot_seen_at": now.isoformat()},
                      separators=(",", ":"), ensure_ascii=False).encode()
    headers = {"Content-Type": "application/json"}
    try:
        events: Sequence[Any] = ADAPTERS[conn.kind].parse(body, headers, conn)
        check_events(events, ctx.settings.config_dir)
    except WebhookError as exc:
        report.errors.append(f"ticket {ticket.get('id')}: {exc.message}")
        return
    except FormatError as exc:  # the receiver's checks: stored only what a webhook could be
        report.errors.append(f"ticket {ticket.get('id')}: refused ({'; '.join(exc.lines())})")
        return
    if not events or events[0].event != EventType.MERGED:
        return
    outcome = store_and_enqueue(ctx, conn.name, events[0].delivery_key, body, headers,
                                list(events))
    report.count(f"merged-{outcome.status}")
    log.info("hosts.merge-found connection=%s ticket=%s into=%s outcome=%s", conn.name,
             ticket.get("id"), events[0].merged_into, outcome.status)
