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
- Zammad: the default trigger payload with ``X-Zammad-Delivery: poll-<id>-<updated_at>``.

Zendesk and Freshdesk bodies are templates the admin writes (HOSTS.md §2, §3), so a polled
ticket has no faithful webhook form; they are not reconciled here yet.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from plugin.hosts import make_client
from plugin.settings import Connection
from webhooks.base import WebhookError
from webhooks.hosts import ADAPTERS
from webhooks.store import store_and_enqueue

log = logging.getLogger("deskpilot.hosts")

Body = tuple[bytes, dict[str, str]]


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


def _after(value: Any, since: datetime | None) -> bool:
    if since is None:
        return True
    if not isinstance(value, str):
        return False
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return False
    return (when if when.tzinfo else when.replace(tzinfo=since.tzinfo)) >= since


def _fid(f: dict[str, Any]) -> int:
    return int(f["id"]) if str(f.get("id", "")).isdigit() else 0


def helpdesk_bodies(conn: Connection, t: dict[str, Any], since: datetime | None) -> list[Body]:
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
        out.append((_dump(payload), {"Content-Type": "application/json"}))
    return out


def redmine_bodies(conn: Connection, issue: dict[str, Any],
                   since: datetime | None) -> list[Body]:
    kind = "issue.created" if since is None else "issue.updated"
    stamp = issue.get("created_on") if since is None else issue.get("updated_on")
    payload = {"type": kind, "timestamp": stamp, "data": {"issue": issue}}
    return [(_dump(payload), {"Content-Type": "application/json"})]


def zammad_bodies(conn: Connection, t: dict[str, Any], since: datetime | None) -> list[Body]:
    tag = "import" if since is None else "poll"
    headers = {"Content-Type": "application/json",
               "X-Zammad-Delivery": f"{tag}-{t.get('id')}-{t.get('updated_at')}"}
    return [(_dump({"ticket": t, "article": {}}), headers)]


BODIES: dict[str, Callable[[Connection, dict[str, Any], datetime | None], list[Body]]] = {
    "django_helpdesk": helpdesk_bodies,
    "redmine": redmine_bodies,
    "zammad": zammad_bodies,
}


def _store(ctx: Any, conn: Connection, tickets: Iterable[dict[str, Any]],
           since: datetime | None, report: Report) -> Report:
    adapter = ADAPTERS[conn.kind]
    build = BODIES[conn.kind]
    for ticket in tickets:
        report.tickets += 1
        for body, headers in build(conn, ticket, since):
            try:
                events = adapter.parse(body, headers, conn)
            except WebhookError as exc:
                report.errors.append(f"ticket {ticket.get('id')}: {exc.message}")
                continue
            key = (events[0].delivery_key if events else None) or adapter.delivery_key(
                body, headers)
            outcome = store_and_enqueue(ctx, conn.name, key, body, headers, events)
            report.count(outcome.status)
    log.info("hosts.reconciled connection=%s tickets=%d outcomes=%s errors=%d",
             conn.name, report.tickets, report.outcomes, len(report.errors))
    return report


def _connection(ctx: Any, conn_name: str) -> Connection:
    conn = ctx.settings.connection(conn_name)
    if conn is None:
        raise ValueError(f"no connection named {conn_name!r}")
    return conn


def supported(conn: Connection) -> bool:
    return conn.kind in BODIES


def reconcile(ctx: Any, conn_name: str, since: datetime | None, now: datetime) -> Report:
    """Poll tickets updated since ``since`` (default: ``reconcile_minutes`` before ``now``)."""
    conn = _connection(ctx, conn_name)
    report = Report(conn.name)
    if not supported(conn):
        report.errors.append(f"kind {conn.kind!r} is not reconciled (template webhooks)")
        return report
    since = since or now - timedelta(minutes=2 * conn.reconcile_minutes)
    with make_client(conn) as client:
        return _store(ctx, conn, client.list_updated(since), since, report)


def import_open(ctx: Any, conn_name: str, now: datetime) -> Report:
    """The one-time backfill: every open ticket, stored as its creation event."""
    conn = _connection(ctx, conn_name)
    report = Report(conn.name)
    if not supported(conn):
        report.errors.append(f"kind {conn.kind!r} cannot be imported yet")
        return report
    with make_client(conn) as client:
        return _store(ctx, conn, client.list_open(), None, report)

