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
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from plugin.hosts import make_client
from plugin.hosts.errors import HostError
from plugin.hosts.seen import Seen, seen_ticket
from plugin.hosts.template_bodies import freshdesk_payload, utc, zendesk_payload
from plugin.settings import Connection
from rules.event import EventType
from webhooks.base import WebhookError
from webhooks.hosts import ADAPTERS, zendesk
from webhooks.store import store_and_enqueue

log = logging.getLogger("deskpilot.hosts")

#: hosts whose real delivery keys a poll cannot rebuild: deduped by ticket state instead
SNAPSHOT_KINDS = frozenset({"zammad", "zendesk", "freshdesk"})
JSON_HEADERS = {"Content-Type": "application/json"}


class Body(NamedTuple):
    """One body to store; ``key`` overrides the adapter's delivery key when set."""

    body: bytes
    headers: dict[str, str]
    key: str | None = None


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


def _dump(payload: Any) -> bytes:
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()


def _instant(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def _after(value: Any, since: datetime | None) -> bool:
    if since is None:
        return True
    when = _instant(value)
    if when is None:
        return False
    return (when if when.tzinfo else when.replace(tzinfo=since.tzinfo)) >= since


def _fid(f: dict[str, Any]) -> int:
    return int(f["id"]) if str(f.get("id", "")).isdigit() else 0


def helpdesk_bodies(conn: Connection, t: dict[str, Any], since: datetime | None,
                    seen: Seen) -> list[Body]:
    followups = sorted(t.get("followup_set") or [], key=_fid)
    slug = (conn.options.get("queue_slugs") or {}).get(str(t.get("queue")), str(t.get("queue")))
    out: list[Body] = []
    for i, f in enumerate(followups):
        if since is None and i > 0:
            break  # the import only needs the ticket itself
        if not _after(f.get("date"), since):
            continue
        payload: dict[str, Any] = {"ticket": t, "queue_slug": slug}
        if i > 0:
            payload["followup_id"] = f["id"]
        out.append(Body(_dump(payload), dict(JSON_HEADERS)))
    return out


def redmine_bodies(conn: Connection, issue: dict[str, Any], since: datetime | None,
                   seen: Seen) -> list[Body]:
    kind = "issue.created" if since is None else "issue.updated"
    stamp = issue.get("created_on") if since is None else issue.get("updated_on")
    payload = {"type": kind, "timestamp": stamp, "data": {"issue": issue}}
    return [Body(_dump(payload), dict(JSON_HEADERS))]


def _tag(since: datetime | None) -> str:
    return "import" if since is None else "poll"


def _event(seen: Seen) -> str:
    return EventType.UPDATED if seen.known else EventType.CREATED


def zammad_bodies(conn: Connection, t: dict[str, Any], since: datetime | None,
                  seen: Seen) -> list[Body]:
    headers = {**JSON_HEADERS,
               "X-Zammad-Delivery": f"{_tag(since)}-{t.get('id')}-{t.get('updated_at')}"}
    return [Body(_dump({"ticket": t, "article": {}}), headers)]


def zendesk_bodies(conn: Connection, t: dict[str, Any], since: datetime | None,
                   seen: Seen) -> list[Body]:
    key = f"{_tag(since)}:{t.get('id')}:{utc(t.get('updated_at'))}"
    # the key rides in the invocation-id header, so the adapter's own key is this one
    headers = {**JSON_HEADERS, zendesk.DELIVERY_HEADER: key}
    return [Body(_dump(zendesk_payload(conn, t, _event(seen))), headers, key)]


def freshdesk_bodies(conn: Connection, t: dict[str, Any], since: datetime | None,
                     seen: Seen) -> list[Body]:
    key = f"{_tag(since)}:{t.get('id')}:{utc(t.get('updated_at'))}"
    return [Body(_dump(freshdesk_payload(conn, t, _event(seen))), dict(JSON_HEADERS), key)]


BODIES: dict[str, Callable[[Connection, dict[str, Any], datetime | None, Seen], list[Body]]] = {
    "django_helpdesk": helpdesk_bodies,
    "redmine": redmine_bodies,
    "zammad": zammad_bodies,
    "zendesk": zendesk_bodies,
    "freshdesk": freshdesk_bodies,
}


def _skip_reason(conn: Connection, ticket: dict[str, Any], since: datetime | None,
                 seen: Seen) -> str | None:
    """Why a snapshot-kind ticket needs no body: nothing in it is newer than what we hold."""
    if not seen.known:
        return None
    if since is None:
        return "skipped-known"  # the import backfills creations only
    updated = _instant(ticket.get("updated_at"))
    if updated is not None and seen.last_event_at is not None and updated <= seen.last_event_at:
        return "skipped-processed"
    return None


def _store(ctx: Any, conn: Connection, tickets: Iterable[dict[str, Any]],
           since: datetime | None, report: Report) -> Report:
    adapter = ADAPTERS[conn.kind]
    build = BODIES[conn.kind]
    snapshots = conn.kind in SNAPSHOT_KINDS
    try:
        for ticket in tickets:
            report.tickets += 1
            seen = seen_ticket(ctx, conn.name, str(ticket.get("id"))) if snapshots else Seen()
            reason = _skip_reason(conn, ticket, since, seen) if snapshots else None
            if reason:
                report.count(reason)
                continue
            for body, headers, key in build(conn, ticket, since, seen):
                _store_one(ctx, conn, adapter, ticket, body, headers, key, seen, report)
    except HostError as exc:
        # what was stored stays stored; the next pass starts from its own ``since``
        report.errors.append(f"host: {exc}")
    log.info("hosts.reconciled connection=%s tickets=%d outcomes=%s errors=%d",
             conn.name, report.tickets, report.outcomes, len(report.errors))
    return report


def _store_one(ctx: Any, conn: Connection, adapter: Any, ticket: dict[str, Any], body: bytes,
               headers: dict[str, str], key: str | None, seen: Seen, report: Report) -> None:
    try:
        events = adapter.parse(body, headers, conn)
    except WebhookError as exc:
        report.errors.append(f"ticket {ticket.get('id')}: {exc.message}")
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
    """Poll tickets updated since ``since`` (default: ``reconcile_minutes`` before ``now``).

    ``client_options`` go to :func:`make_client` (``sleep``, ``rng``, ``retry_budget``).
    """
    conn = _connection(ctx, conn_name)
    report = Report(conn.name)
    if not supported(conn):
        report.errors.append(f"kind {conn.kind!r} is not reconciled")
        return report
    since = since or now - timedelta(minutes=2 * conn.reconcile_minutes)
    with make_client(conn, **client_options) as client:
        return _store(ctx, conn, client.list_updated(since), since, report)


def import_open(ctx: Any, conn_name: str, now: datetime, **client_options: Any) -> Report:
    """The one-time backfill: every open ticket, stored as its creation event."""
    conn = _connection(ctx, conn_name)
    report = Report(conn.name)
    if not supported(conn):
        report.errors.append(f"kind {conn.kind!r} cannot be imported")
        return report
    with make_client(conn, **client_options) as client:
        return _store(ctx, conn, client.list_open(), None, report)
