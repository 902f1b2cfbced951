"""django-helpdesk 2.6: its native ``new_ticket_done`` / ``update_ticket_done`` webhooks.

Bodies: ``{"ticket": <TicketSerializer>, "queue_slug"}`` for a new ticket and
``{"ticket", "queue_slug", "followup_id"}`` for a followup (captured from a running
2.6.1 in ``tests/fixtures/django_helpdesk``). The host sends no signature, no headers of
its own and no delivery id, so it uses the token URL and the delivery key is
``ticket-<id>-new`` or ``ticket-<id>-followup-<followup id>``. The ticket has no creation
time of its own: the opening followup's ``date`` is used.

A merge sends no webhook (``views/staff.py`` ``merge_tickets`` saves the duplicate with
status 5 and ``merged_to`` and moves its followups to the kept ticket). The poll finds it
(``plugin.reconcile.merges``) and stores the duplicate as the API shows it, without
``followup_id`` and with ``deskpilot_seen_at`` (when the poll saw it: the helpdesk records
no merge time); such a body is ``ticket.merged``, keyed ``ticket-<id>-merged-<kept id>``.

The requester's locale: none (``Ticket.requester_locale`` stays None). The submitter is only
``submitter_email`` (``TicketSerializer.Meta.fields`` in 2.6.1: ``id queue title description
resolution submitter_email assigned_to status on_hold priority due_date merged_to attachment
followup_set``, ``helpdesk/serializers.py``; ``helpdesk/webhooks.py`` adds ``queue_slug``
and ``followup_id``). ``Queue.locale`` exists but the body names the queue by id only, and
it is the queue's mail language, not the requester's.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime
from typing import Any

from plugin.settings import Connection
from rules.event import Actor, Comment, EventType, Ticket, TicketEvent, TimeEntry
from webhooks.base import InvalidSignature, company_for, load_json, own_user, require_object
from webhooks.hosts import _common as c

KIND = "django_helpdesk"
SIGNED = False
KEPT_HEADERS: tuple[str, ...] = ()

#: 1 Open is ``new`` on the new-ticket hook and ``in_progress`` afterwards
STATUS_DEFAULTS = {"1": "in_progress", "2": "in_progress", "3": "resolved", "4": "closed",
                   "5": "closed"}
PRIORITY_DEFAULTS = {"1": "urgent", "2": "high", "3": "normal", "4": "low", "5": "low"}


def verify(body: bytes, headers: Mapping[str, str], secrets: Any, now: datetime) -> None:
    raise InvalidSignature("django-helpdesk cannot sign: use the token URL")


def delivery_key(body: bytes, headers: Mapping[str, str]) -> str | None:
    return None  # built from the ticket and followup ids in parse()


def _followups(t: Mapping[str, Any]) -> list[dict[str, Any]]:
    raw = t.get("followup_set")
    if not isinstance(raw, list) or not raw:
        raise c.fail("ticket.followup_set", "must list the ticket's followups")
    for i, f in enumerate(raw):
        if not isinstance(f, dict):
            raise c.fail(f"ticket.followup_set[{i}]", "must be an object")
        c.ident(f, "id", f"ticket.followup_set[{i}].id")
    return raw


def _ticket(conn: Connection, t: Mapping[str, Any], opened: datetime) -> Ticket:
    ticket_id = c.required_ident(t, "id", "ticket.id")
    custom = c.rename_fields(conn, {k[len("custom_"):]: v for k, v in t.items()
                                    if k.startswith("custom_")})
    email = c.text(t, "submitter_email", "ticket.submitter_email")
    status = c.integer(t, "status", "ticket.status")
    mapped = c.map_status(conn, STATUS_DEFAULTS, status)
    if c.boolean(t, "on_hold", "ticket.on_hold", False) and mapped not in ("resolved", "closed"):
        mapped = "on_hold"
    due = c.instant(t, "due_date", "ticket.due_date", required=False)
    if due is not None:
        custom.setdefault("due_date", due.isoformat())
    return Ticket(
        id=ticket_id, created_at=opened,
        company=company_for(conn.company_from, email=email, custom_fields=custom,
                            organization=(None, None)),
        requester_email=email, subject=c.text(t, "title", "ticket.title") or "",
        body=c.text(t, "description", "ticket.description") or "",
        priority=c.map_priority(conn, PRIORITY_DEFAULTS, c.integer(t, "priority",
                                                                   "ticket.priority")),
        status=mapped, channel="host",
        assignee_id=c.ident(t, "assigned_to", "ticket.assigned_to", required=False),
        custom_fields=custom,
    )


def parse(body: bytes, headers: Mapping[str, str], conn: Connection) -> list[TicketEvent]:
    data = require_object(load_json(body))
    t = c.obj(data, "ticket", "ticket")
    merged_to = c.ident(t, "merged_to", "ticket.merged_to", required=False)
    if merged_to is not None and data.get("followup_id") is None:
        return [_merged(conn, data, t, merged_to)]
    followups = _followups(t)
    first = min(followups, key=lambda f: int(f["id"]) if str(f["id"]).isdigit() else 0)
    opened = c.instant(first, "date", "ticket.followup_set[].date")
    assert opened is not None
    ticket = _ticket(conn, t, opened)
    slug = c.text(data, "queue_slug", "queue_slug")
    if slug:  # the reference the helpdesk shows: queue slug and id (Ticket.ticket_for_url)
        ticket = replace(ticket, reference=f"{slug}-{ticket.id}")
    fid = c.ident(data, "followup_id", "followup_id", required=False)
    if fid is None:
        user = c.ident(first, "user", "ticket.followup_set[].user", required=False)
        status = c.opening_status(conn, t.get("status"), ticket.status, {"1"})
        return [TicketEvent(
            connection=conn.name, host_kind=KIND, delivery_key=f"ticket-{ticket.id}-new",
            event=EventType.CREATED, occurred_at=opened, ticket=replace(ticket, status=status),
            actor=Actor(kind="agent" if user else "client", id=user),
            own_write=own_user(conn, user),
        )]
    key = f"ticket-{ticket.id}-followup-{fid}"
    found = [f for f in followups if str(f.get("id")) == fid]
    if not found:  # the followup is gone (deleted in between): nothing to act on
        return [TicketEvent(connection=conn.name, host_kind=KIND, delivery_key=key,
                            event=EventType.UNKNOWN, occurred_at=opened, ticket=ticket)]
    f = found[0]
    path = "ticket.followup_set[followup_id]"
    user = c.ident(f, "user", f"{path}.user", required=False)
    actor = Actor(kind="agent" if user else "client", id=user)
    when = c.instant(f, "date", f"{path}.date")
    assert when is not None
    text = c.text(f, "comment", f"{path}.comment") or ""
    comment = Comment(id=fid, public=c.boolean(f, "public", f"{path}.public", False), body=text,
                      author=actor) if text else None
    minutes = c.minutes_from_duration(f.get("time_spent"), f"{path}.time_spent")
    new_status = c.integer(f, "new_status", f"{path}.new_status")
    changes: dict[str, tuple[Any, Any]] = {}
    if new_status is not None:
        changes["status"] = (None, c.map_status(conn, STATUS_DEFAULTS, new_status))
    time_entry = None
    if minutes:
        time_entry = TimeEntry(id=fid, minutes=minutes, agent_id=user, note=text or None)
        event = EventType.TIME_LOGGED
    elif changes:
        event = EventType.UPDATED
    else:
        event = EventType.COMMENTED if comment else EventType.UPDATED
    return [TicketEvent(
        connection=conn.name, host_kind=KIND, delivery_key=key, event=event, occurred_at=when,
        ticket=ticket, actor=actor, changes=changes, comment=comment, time_entry=time_entry,
        own_write=own_user(conn, user),
    )]


def _merged(conn: Connection, data: Mapping[str, Any], t: Mapping[str, Any],
            merged_to: str) -> TicketEvent:
    """A duplicate merged into ``merged_to``: its followups went with the merge, so its
    times are the poll's (``deskpilot_seen_at``), or the opening followup's if one is left."""
    seen = c.instant(data, "deskpilot_seen_at", "deskpilot_seen_at", required=False)
    left = t.get("followup_set") if isinstance(t.get("followup_set"), list) else []
    first = min(_followups(t), key=lambda f: int(f["id"]) if str(f["id"]).isdigit() else 0) \
        if left else None
    opened = c.instant(first, "date", "ticket.followup_set[].date") if first else None
    when = seen or opened
    if when is None:
        raise c.fail("deskpilot_seen_at", "a merged ticket without followups needs the time "
                                          "it was seen merged")
    ticket = _ticket(conn, t, opened or when)
    slug = c.text(data, "queue_slug", "queue_slug")
    if slug:
        ticket = replace(ticket, reference=f"{slug}-{ticket.id}")
    return TicketEvent(
        connection=conn.name, host_kind=KIND,
        delivery_key=f"ticket-{ticket.id}-merged-{merged_to}", event=EventType.MERGED,
        occurred_at=when, ticket=ticket, actor=Actor(kind="agent"), merged_into=merged_to)
