"""Reconciliation and backfill: poll a host's API and store what its webhooks missed.

Each polled ticket becomes a body in the host's own webhook format, parsed by the same
adapter (``webhooks.hosts.ADAPTERS[kind].parse``) and stored through the receiver's
``store_and_enqueue``, so processing cannot tell a polled change from a delivered one. The
delivery key is chosen so that a change the webhook did deliver is recognised:

- django-helpdesk: one body per followup dated since ``since`` with ``followup_id`` (key
  ``ticket-<id>-followup-<fid>``), the opening followup as the new-ticket body (key
  ``ticket-<id>-new``) — exactly the keys of the real webhooks, so stored deliveries answer
  "duplicate"/"conflict" and nothing is processed twice.
- Redmine: the 7.0 core payload without a journal, keyed by ``updated_on`` (repeated polls
  of an unchanged issue dedupe against each other).
- Zammad, Zendesk, Freshdesk (:data:`SNAPSHOT_KINDS`): the real delivery keys
  (``X-Zammad-Delivery`` job id, Zendesk invocation id, Freshdesk body hash) cannot be
  rebuilt, so polls are keyed ``poll:<id>:<updated_at>`` (deduping repeated polls) and a
  ticket is skipped when Deskpilot already processed an event at least as new
  (``tickets.last_event_at``). A ticket Deskpilot has never seen (no ticket row, no stored
  event) is stored as ``ticket.created``, any other as ``ticket.updated``: processing a
  second creation would post a second auto-reply, while a second identical update
  snapshot is a no-op (``tests/unit/test_hostclient_reconcile_snapshots.py``).
  Zammad: the default trigger payload (``X-Zammad-Delivery: poll-<id>-<updated_at>``);
  Zendesk and Freshdesk: our shipped templates rendered by :mod:`template_bodies`.
  A snapshot carries the ticket's state only: what was *added* to an updated ticket —
  comments, replies, notes, time logs — is polled item by item by :mod:`reconcile_items`
  (each with its own ``poll:<id>:<kind>:<item id>`` key, skipped when a stored delivery
  already carried it, :mod:`reconcile_match`), also for tickets whose snapshot is skipped.

The poll's window: items after ``since`` (default ``2 × reconcile_minutes`` and the host's
settle time before ``now``) and at or before ``now`` less the settle time
(:func:`reconcile_items.settle`), so the host's own retries come first.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from plugin.hosts import make_client
from plugin.hosts.errors import ClientError, HostError, NotFound
from plugin.reconcile.bodies import BODIES
from plugin.reconcile.items import ITEMS, Body, Item, Window, instant, settle
from plugin.reconcile.match import delivered, same_item
from plugin.reconcile.merges import find_merges
from plugin.reconcile.seen import Seen, seen_ticket
from plugin.settings import Connection
from rules.event import EventType, TicketEvent
from rules.generic_format import FormatError
from webhooks.base import WebhookError
from webhooks.hosts import ADAPTERS
from webhooks.limits import check_events
from webhooks.store import store_and_enqueue

__all__ = ["Body", "Report", "import_open", "reconcile", "supported"]

log = logging.getLogger("deskpilot.hosts")

#: hosts whose real delivery keys a poll cannot rebuild: deduped by ticket state instead
SNAPSHOT_KINDS = frozenset({"zammad", "zendesk", "freshdesk"})
#: hosts whose polls look up what Deskpilot holds: Redmine's poll offers ``issue.created``
#: for an issue created in the window, stored only when the ticket is unknown (``_store_one``)
SEEN_KINDS = SNAPSHOT_KINDS | {"redmine"}


@dataclass
class Report:
    """What one reconciliation or import pass did."""

    connection: str
    tickets: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)

    def count(self, outcome: str) -> None:
        self.outcomes[outcome] = self.outcomes.get(outcome, 0) + 1

    def as_dict(self) -> dict[str, Any]:
        return {"connection": self.connection, "tickets": self.tickets,
                "outcomes": dict(sorted(self.outcomes.items())), "errors": self.errors}


def _skip_reason(conn: Connection, ticket: dict[str, Any], since: datetime | None,
                 seen: Seen) -> str | None:
    """Why a snapshot-kind ticket needs no body: nothing in it is newer than what we hold."""
    if not seen.known:
        return None
    if since is None:
        return "skipped-known"  # the import backfills creations only
    updated = instant(ticket.get("updated_at"))
    if updated is not None and seen.last_event_at is not None and updated <= seen.last_event_at:
        return "skipped-processed"
    return None


def _store(ctx: Any, conn: Connection, client: Any, tickets: Iterable[dict[str, Any]],
           window: Window | None, report: Report) -> Report:
    """Store each ticket's snapshot (unless already held) and, in a poll, its new items."""
    adapter = ADAPTERS[conn.kind]
    build = BODIES[conn.kind]
    snapshots = conn.kind in SNAPSHOT_KINDS
    since = window.since if window is not None else None
    items = ITEMS.get(conn.kind) if window is not None else None
    try:
        for ticket in tickets:
            report.tickets += 1
            seen = (seen_ticket(ctx, conn.name, str(ticket.get("id")))
                    if conn.kind in SEEN_KINDS else Seen())
            reason = _skip_reason(conn, ticket, since, seen) if snapshots else None
            if reason:
                report.count(reason)
            else:
                for body, headers, key in build(conn, ticket, since, seen):
                    _store_one(ctx, conn, adapter, ticket, body, headers, key, seen, report)
            if items is not None and window is not None:
                # a dropped reply is not in the snapshot, whatever processing already holds
                found = _read_items(items, client, conn, ticket, window, report)
                _store_items(ctx, conn, adapter, ticket, found, window, report)
    except HostError as exc:
        # what was stored stays stored; the next pass starts from its own ``since``
        report.errors.append(f"host: {exc}")
    log.info("hosts.reconciled connection=%s tickets=%d outcomes=%s errors=%d",
             conn.name, report.tickets, report.outcomes, len(report.errors))
    return report


def _read_items(items: Callable[..., list[Item]], client: Any, conn: Connection,
                ticket: dict[str, Any], window: Window, report: Report) -> list[Item]:
    """One ticket's items; a ticket gone since the list (404) or items we may not read
    (another 4xx) cost that ticket's items only. Transient errors end the pass."""
    try:
        return items(client, conn, ticket, window)
    except NotFound:
        report.count("skipped-gone")
    except ClientError as exc:
        report.errors.append(f"ticket {ticket.get('id')} items: {exc}")
    return []


def checked(ctx: Any, conn: Connection, adapter: Any, ticket: dict[str, Any], body: bytes,
            headers: dict[str, str], report: Any) -> list[TicketEvent] | None:
    """The events of a polled body, held to the receiver's checks (ids, texts, numbers, the
    years of its instants); None, with the reason among the report's errors, when refused:
    a host's API is read as a webhook is, so it stores nothing a webhook could not."""
    try:
        events = list(adapter.parse(body, headers, conn))
        check_events(events, ctx.settings.config_dir)
    except WebhookError as exc:
        report.errors.append(f"ticket {ticket.get('id')}: {exc.message}")
        return None
    except FormatError as exc:
        report.errors.append(f"ticket {ticket.get('id')}: refused ({'; '.join(exc.lines())})")
        return None
    return events


def _store_items(ctx: Any, conn: Connection, adapter: Any, ticket: dict[str, Any],
                 items: list[Item], window: Window, report: Report) -> None:
    """Store polled items, except our own and those a stored delivery already carried."""
    stored = None
    for item in items:
        if item.own:
            report.count("skipped-own")
            continue
        events = checked(ctx, conn, adapter, ticket, item.body.body, item.body.headers, report)
        if events is None:
            continue
        if events and all(ev.own_write for ev in events):
            report.count("skipped-own")  # e.g. Freshdesk's own-note marker
            continue
        if stored is None:
            stored = delivered(ctx, conn, str(ticket.get("id")), window.since)
        if any(same_item(ev, d) for ev in events for d in stored):
            report.count("skipped-delivered")
            continue
        key = item.body.key or adapter.delivery_key(item.body.body, item.body.headers)
        outcome = store_and_enqueue(ctx, conn.name, key, item.body.body, item.body.headers,
                                    events)
        report.count(outcome.status)


def _store_one(ctx: Any, conn: Connection, adapter: Any, ticket: dict[str, Any], body: bytes,
               headers: dict[str, str], key: str | None, seen: Seen, report: Report) -> None:
    events = checked(ctx, conn, adapter, ticket, body, headers, report)
    if events is None:
        return
    if seen.known and any(ev.event == EventType.CREATED for ev in events):
        # Zammad infers "created" from a young ticket: a second creation would post a
        # second auto-reply, so a ticket we know is never stored as one
        report.count("skipped-known")
        return
    key = key or (events[0].delivery_key if events else None) or adapter.delivery_key(
        body, headers)
    outcome = store_and_enqueue(ctx, conn.name, key, body, headers, events)
    report.count(outcome.status)


def _connection(ctx: Any, conn_name: str) -> Connection:
    conn = ctx.settings.connection(conn_name)
    if conn is None:
        raise ValueError(f"no connection named {conn_name!r}")
    return conn


def supported(conn: Connection) -> bool:
    return conn.kind in BODIES


def reconcile(ctx: Any, conn_name: str, since: datetime | None, now: datetime,
              **client_options: Any) -> Report:
    """Poll tickets updated since ``since`` (default: twice ``reconcile_minutes`` and the
    host's settle time before ``now``), and their items up to ``now`` less the settle time.

    ``client_options`` go to :func:`make_client` (``sleep``, ``rng``, ``retry_budget``).
    """
    conn = _connection(ctx, conn_name)
    report = Report(conn.name)
    if not supported(conn):
        report.errors.append(f"kind {conn.kind!r} is not reconciled")
        return report
    wait = settle(conn)
    since = since or now - timedelta(minutes=2 * conn.reconcile_minutes) - wait
    with make_client(conn, **client_options) as client:
        _store(ctx, conn, client, client.list_updated(since), Window(since, now - wait), report)
        if conn.kind == "django_helpdesk":  # merges send no webhook and leave the list
            find_merges(ctx, conn, client, now, report)
        return report


def import_open(ctx: Any, conn_name: str, now: datetime, **client_options: Any) -> Report:
    """The one-time backfill: every open ticket, stored as its creation event."""
    conn = _connection(ctx, conn_name)
    report = Report(conn.name)
    if not supported(conn):
        report.errors.append(f"kind {conn.kind!r} cannot be imported")
        return report
    with make_client(conn, **client_options) as client:
        return _store(ctx, conn, client, client.list_open(), None, report)
