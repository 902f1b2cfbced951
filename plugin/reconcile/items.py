"""What a poll adds to a ticket's snapshot: the comments, replies, notes and time logs whose
webhooks were dropped (Zendesk's circuit breaker, Freshdesk's 24 h limit, Zammad's 5 tries).

For an updated ticket, each host's items added in the poll's :class:`Window` are read from its
API (the clients' ``ticket_*`` methods) and rendered one body per item in the format that
host's webhook adapter parses, so processing sees a client reply, an agent reply, a note or a
time log exactly as if the webhook had come:

- Zendesk: List Comments (one ``ticket.commented`` trigger body per comment, the author's
  role from the sideloaded users) and, when ``field_map`` names the Time Tracking fields
  (``time_total``/``time_last``), List Audits: an update that raised "Total time spent (sec)"
  (else set "Time spent last update (sec)") is one ``ticket.updated`` body with those
  seconds, which the adapter turns into ``time.logged``, as it does for the trigger.
- Freshdesk: conversations (``ticket.commented``, public or private, ``performed_by`` from
  ``incoming``) and time entries (``time.logged`` with the ticket's total after the entry
  and the entry itself as ``time_entry``; running timers wait).
- Zammad: articles (the default ``{ticket, article}`` payload, ``accounted_time`` from the
  article's time accounting as Zammad's own payload computes it) and time accountings
  without an article, as an internal note with no text carrying ``accounted_time``.

Each item has its own key, ``poll:<ticket>:<kind>:<host id>`` — a second poll is a
duplicate, a changed item (an edited entry) a conflict, never a second event. The ticket's
opening comment/article is the ticket itself (the snapshot), never an item. Items by the
connection's own user (``plugin_user_id``, the loop guard's) are skipped.

A delivered webhook has a key a poll cannot rebuild (Zendesk invocation id, Freshdesk body
hash, Zammad job id), so :mod:`plugin.reconcile.match` compares each item with the
ticket's stored deliveries instead. The other order — a poll first, then the host's own late
retry — is kept off by the window's end: items younger than the host's retry time
(:data:`SETTLE_MINUTES`, ``options.reconcile_settle_minutes``) wait for the next poll.
Freshdesk's retries (+5/+30/+60 min, rate-limited deliveries held up to 24 h) outlast a
default window, so there a late retry of an item already polled is stored as a second
event; processing then counts its comment or time once (``rules/items.py``: by host id,
by text within 5 minutes, or by the ticket's total), so it has no second effect.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

from plugin.reconcile.template_bodies import (
    freshdesk_item_payload,
    hhmm_minutes,
    zendesk_item_payload,
)
from plugin.reconcile.template_bodies import plain_text as plain_text  # reconcile_match's import
from plugin.settings import Connection
from webhooks.base import own_user
from webhooks.hosts import zammad, zendesk

#: how long a host may still retry a failed delivery itself (HOSTS.md): Zammad 5 tries
#: 10-40 s apart with up to 60 s each, Zendesk's few quick retries; Freshdesk's +5/+30/+60 min
#: retries and day-long deferrals are longer than a poll window can wait (see README)
SETTLE_MINUTES = {"zammad": 7, "zendesk": 5, "freshdesk": 0}
JSON_HEADERS = {"Content-Type": "application/json"}


class Body(NamedTuple):
    """One body to store; ``key`` overrides the adapter's delivery key when set."""

    body: bytes
    headers: dict[str, str]
    key: str | None = None


@dataclass(frozen=True)
class Item:
    """One polled item as a body; ``own`` when the connection's own user made it."""

    body: Body
    own: bool = False


def instant(value: Any) -> datetime | None:
    """A host timestamp as an aware datetime (naive ones are UTC); ``None`` if unreadable."""
    if not isinstance(value, str) or not value:
        return None
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


@dataclass(frozen=True)
class Window:
    """Items added after ``since`` and at or before ``until`` belong to this poll."""

    since: datetime
    until: datetime

    def holds(self, value: Any) -> bool:
        when = instant(value)
        return when is not None and self.since < when <= self.until


def settle(conn: Connection) -> timedelta:
    """How long before a poll's ``now`` its window ends (a number in the option, else the
    kind's default)."""
    minutes = float(SETTLE_MINUTES.get(conn.kind, 0))
    given = (conn.options or {}).get("reconcile_settle_minutes")
    if isinstance(given, int | float) and not isinstance(given, bool):
        minutes = float(given)
    return timedelta(minutes=max(0.0, minutes))


FAR = datetime.max.replace(tzinfo=UTC)


def _sorted(rows: Iterable[dict[str, Any]], stamp: str) -> list[dict[str, Any]]:
    return sorted(rows, key=lambda r: (instant(r.get(stamp)) or FAR, str(r.get("id"))))


def _in_order(found: list[tuple[Any, Item]]) -> list[Item]:
    """Items by their time, so processing meets them in the order they happened."""
    return [item for _, item in sorted(found, key=lambda p: instant(p[0]) or FAR)]


def dump(payload: Any) -> bytes:
    """A body as the hosts send JSON: compact, UTF-8."""
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()


def _opening(value: Any, t: Mapping[str, Any]) -> bool:
    """Created with the ticket: Zendesk's description is the first comment."""
    when, created = instant(value), instant(t.get("created_at"))
    return when is not None and created is not None and when <= created


def zendesk_items(client: Any, conn: Connection, t: Mapping[str, Any],
                  window: Window) -> list[Item]:
    tid = str(t.get("id"))
    out: list[tuple[Any, Item]] = []
    comments = [c for c in client.ticket_comments(tid, window.since)
                if window.holds(c.get("created_at")) and not _opening(c.get("created_at"), t)]
    roles = client.user_roles([c.get("author_id") for c in comments])
    for c in comments:
        author = c.get("author_id")
        payload = zendesk_item_payload(conn, t, at=c.get("created_at"), user_id=author,
                                       role=roles.get(str(author)), comment=c)
        out.append((c.get("created_at"), _zendesk(payload, f"poll:{tid}:comment:{c.get('id')}",
                                                   own_user(conn, author))))
    total, last = conn.field_map.get("time_total"), conn.field_map.get("time_last")
    if total is not None or last is not None:
        for audit in client.ticket_audits(tid):
            at = audit.get("created_at")
            seconds = _seconds(audit, total, last)
            if seconds <= 0 or not window.holds(at) or _opening(at, t):
                continue
            author = audit.get("author_id")
            payload = zendesk_item_payload(conn, t, at=at, user_id=author, seconds=seconds,
                                           role=client.user_roles([author]).get(str(author)))
            out.append((at, _zendesk(payload, f"poll:{tid}:time:{audit.get('id')}",
                                     own_user(conn, author))))
    return _in_order(out)


def _zendesk(payload: dict[str, Any], key: str, own: bool) -> Item:
    headers = {**JSON_HEADERS, zendesk.DELIVERY_HEADER: key}
    return Item(Body(dump(payload), headers, key), own)


def _seconds(audit: Mapping[str, Any], total: Any, last: Any) -> int:
    """Seconds an update logged: the rise of the total, else the "last update" value."""
    changes = {str(e.get("field_name")): e for e in audit.get("events") or []
               if isinstance(e, dict) and e.get("type") in ("Change", "Create")}
    if total is not None and str(total) in changes:
        e = changes[str(total)]
        return _number(e.get("value")) - _number(e.get("previous_value"))
    if last is not None and str(last) in changes:
        return _number(changes[str(last)].get("value"))
    return 0


def _number(value: Any) -> int:
    try:
        return int(float(value))
    except (TypeError, ValueError):
        return 0


def freshdesk_items(client: Any, conn: Connection, t: Mapping[str, Any],
                    window: Window) -> list[Item]:
    tid = str(t.get("id"))
    out: list[tuple[Any, Item]] = []
    for c in client.ticket_conversations(tid):
        if not window.holds(c.get("created_at")):
            continue
        payload = freshdesk_item_payload(conn, t, at=c.get("created_at"), conversation=c)
        key = f"poll:{tid}:conversation:{c.get('id')}"
        out.append((c.get("created_at"),
                    _freshdesk(payload, key, own_user(conn, c.get("user_id")))))
    total = 0
    # an entry counts from its last change: a timer's stop, or a manual entry's creation
    for e in _sorted((e for e in client.ticket_time_entries(tid) if not e.get("timer_running")),
                     "updated_at"):
        total += hhmm_minutes(e.get("time_spent"))
        at = e.get("updated_at") or e.get("created_at")
        if window.holds(at):
            payload = freshdesk_item_payload(conn, t, at=at, entry=e, total_minutes=total)
            out.append((at, _freshdesk(payload, f"poll:{tid}:time:{e.get('id')}",
                                       own_user(conn, e.get("agent_id")))))
    return _in_order(out)


def _freshdesk(payload: dict[str, Any], key: str, own: bool) -> Item:
    return Item(Body(dump(payload), dict(JSON_HEADERS), key), own)


def zammad_items(client: Any, conn: Connection, t: Mapping[str, Any],
                 window: Window) -> list[Item]:
    tid = str(t.get("id"))
    articles = _sorted(client.ticket_articles(tid), "created_at")
    # the ticket's total (``time_unit``) says whether any time was accounted at all
    timed = "time_unit" not in t or _number(t.get("time_unit")) > 0
    accountings = client.ticket_time_accountings(tid) if timed else []
    by_article = {str(a.get("ticket_article_id")): a for a in accountings
                  if a.get("ticket_article_id") is not None}
    ticket = {**t, "article_count": max(len(articles), _number(t.get("article_count")))}
    out: list[tuple[Any, Item]] = []
    for art in articles[1:]:  # the first article is the ticket's own opening message
        if not window.holds(art.get("created_at")):
            continue
        spent = by_article.get(str(art.get("id")), {}).get("time_unit")
        article = {k: ({} if k.endswith("_by") and not isinstance(v, dict) else v)
                   for k, v in art.items()}
        article["accounted_time"] = _number(spent)
        out.append((art.get("created_at"),
                    _zammad(ticket, article, f"poll:{tid}:article:{art.get('id')}",
                            own_user(conn, art.get("created_by_id")))))
    loose = [a for a in accountings if a.get("ticket_article_id") is None]
    for a in loose:  # time accounted on an update without an article
        if window.holds(a.get("created_at")) and _number(a.get("time_unit")) > 0:
            note = {"id": f"time-{a.get('id')}", "ticket_id": t.get("id"), "type": "note",
                    "sender": "Agent", "internal": True, "body": "",
                    "created_by_id": a.get("created_by_id"), "created_at": a.get("created_at"),
                    "accounted_time": _number(a.get("time_unit"))}
            out.append((a.get("created_at"),
                        _zammad(ticket, note, f"poll:{tid}:time:{a.get('id')}",
                                own_user(conn, a.get("created_by_id")))))
    return _in_order(out)


def _zammad(ticket: dict[str, Any], article: dict[str, Any], key: str, own: bool) -> Item:
    headers = {**JSON_HEADERS, zammad.DELIVERY_HEADER: key}
    return Item(Body(dump({"ticket": ticket, "article": article}), headers, key), own)


#: per host kind: the items of one updated ticket in the poll's window
def redmine_items(client: Any, conn: Connection, t: Mapping[str, Any],
                  window: Window) -> list[Item]:
    """Time entries of the issue changed in the window, as the ``time_entry.created`` (never
    changed since) or ``time_entry.updated`` event Redmine 7 and our plugin send, with the
    adapter's key ``time-<id>-<action>-<updated_on>``: a delivered one is a duplicate. (Notes
    and field changes come with the issue's journals: ``reconcile_bodies.redmine_bodies``.)"""
    tid = str(t.get("id"))
    out: list[tuple[Any, Item]] = []
    for e in client.ticket_time_entries(tid):
        at = e.get("updated_on") or e.get("created_on")
        if str((e.get("issue") or {}).get("id")) != tid or not window.holds(at):
            continue
        action = "created" if e.get("updated_on") == e.get("created_on") else "updated"
        payload = {"type": f"time_entry.{action}", "timestamp": at, "data": {"time_entry": e}}
        key = f"time-{e.get('id')}-{action}-{e.get('updated_on')}"
        out.append((at, Item(Body(dump(payload), dict(JSON_HEADERS), key),
                             own_user(conn, (e.get("user") or {}).get("id")))))
    return _in_order(out)


ITEMS: dict[str, Callable[[Any, Connection, Mapping[str, Any], Window], list[Item]]] = {
    "redmine": redmine_items,
    "zendesk": zendesk_items,
    "freshdesk": freshdesk_items,
    "zammad": zammad_items,
}
