"""Freshdesk: an automation rule's "Trigger webhook" action with our JSON template.

Freshdesk cannot sign. The rule sends a shared secret in a custom header,
``X-Deskpilot-Token``, compared in constant time with every ``webhook_secrets`` entry; the
header is never stored. There is no delivery id either, so the delivery key is the
SHA-256 of the body (a retry re-sends the same rendered body).

Freshdesk renders dates without an offset in the helpdesk's time zone, so such dates need
``options.timezone`` on the connection; without it they are refused as naive (422).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from plugin.settings import Connection
from rules.event import Actor, Comment, EventType, Ticket, TicketEvent
from webhooks.base import (
    InvalidSignature,
    body_sha256,
    check_any,
    company_for,
    header,
    load_json,
    require_object,
)
from webhooks.hosts import _common as c

KIND = "freshdesk"
SIGNED = True
TOKEN_HEADER = "X-Deskpilot-Token"
#: nothing is needed to re-parse, and the token header is a secret: keep none
KEPT_HEADERS: tuple[str, ...] = ()

STATUS_DEFAULTS = {
    "2": "in_progress", "open": "in_progress", "3": "waiting_client", "pending": "waiting_client",
    "4": "resolved", "resolved": "resolved", "5": "closed", "closed": "closed",
    "6": "waiting_client", "waiting on customer": "waiting_client",
    "7": "on_hold", "waiting on third party": "on_hold",
}
PRIORITY_DEFAULTS = {"1": "low", "low": "low", "2": "normal", "medium": "normal",
                     "3": "high", "high": "high", "4": "urgent", "urgent": "urgent"}
SOURCES = {"1": "email", "email": "email", "2": "portal", "portal": "portal", "3": "phone",
           "phone": "phone", "7": "chat", "chat": "chat", "9": "portal",
           "feedback widget": "portal", "10": "email", "outbound email": "email"}
EVENTS = {EventType.CREATED, EventType.UPDATED, EventType.COMMENTED, EventType.TIME_LOGGED}
#: the plugin's own notes start with this marker, so their echo is recognised
OWN_MARKER = "[Deskpilot]"
_UNFILLED = re.compile(r"^\s*(\{\{.*\}\})?\s*$")
_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%a, %d %b, %Y at %I:%M %p",
            "%a, %d %b %Y at %I:%M %p")


def verify(body: bytes, headers: Mapping[str, str], secrets: Any, now: datetime) -> None:
    if not secrets:
        raise InvalidSignature("no secret configured for this connection")
    check_any(header(headers, TOKEN_HEADER), [str(s) for s in secrets])


def sign(body: bytes, secret: str) -> str:
    """The header value the automation rule sends (the secret itself: Freshdesk cannot sign)."""
    return secret


def delivery_key(body: bytes, headers: Mapping[str, str]) -> str:
    return "sha256:" + body_sha256(body)


def _clean(data: Mapping[str, Any]) -> dict[str, Any]:
    return {k: (v.strip() if isinstance(v, str) else v) for k, v in data.items()
            if v is not None and not (isinstance(v, str) and _UNFILLED.match(v))}


def _instant(data: Mapping[str, Any], key: str, path: str, conn: Connection,
             required: bool) -> datetime | None:
    value = data.get(key)
    if not isinstance(value, str) or re.search(r"(Z|[+-]\d\d:?\d\d)$", value.strip()):
        return c.instant(data, key, path, required=required)
    for fmt in _FORMATS:
        try:
            naive = datetime.strptime(value.strip(), fmt)
        except ValueError:
            continue
        zone = conn.options.get("timezone") if conn.options else None
        if not zone:
            raise c.fail(path, "naive datetime: set options.timezone to the helpdesk's zone")
        try:
            return naive.replace(tzinfo=ZoneInfo(str(zone)))
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise c.fail(path, "options.timezone is not an IANA zone") from exc
    return c.instant(data, key, path, required=required)  # raises the ISO error


def parse(body: bytes, headers: Mapping[str, str], conn: Connection) -> list[TicketEvent]:
    data = require_object(load_json(body))
    name = c.text(data, "event", "event")
    t = _clean(c.obj(data, "ticket", "ticket"))
    ticket_id = c.required_ident(t, "id", "ticket.id")
    created = _instant(t, "created_on", "ticket.created_on", conn, True)
    assert created is not None
    updated = _instant(t, "modified_on", "ticket.modified_on", conn, False) or created
    requester = _clean(c.obj(t, "requester", "ticket.requester", required=False))
    company = _clean(c.obj(t, "company", "ticket.company", required=False))
    custom = _clean(c.obj(t, "custom_fields", "ticket.custom_fields", required=False))
    total = c.minutes_from_duration(t.get("total_time_spent"), "ticket.total_time_spent")
    if total is not None:
        custom["time_spent_total_minutes"] = total
    custom = c.rename_fields(conn, custom)
    email = c.text(requester, "email", "ticket.requester.email")
    org_name = c.text(company, "name", "ticket.company.name")
    ticket = Ticket(
        id=ticket_id, created_at=created,
        company=company_for(conn.company_from, organization=(None, org_name), email=email,
                            custom_fields=custom),
        requester_id=c.ident(requester, "id", "ticket.requester.id", required=False),
        requester_email=email, subject=c.text(t, "subject", "ticket.subject") or "",
        body=c.text(t, "description", "ticket.description") or "",
        tags=tuple(x.strip() for x in (c.text(t, "tags", "ticket.tags") or "").split(",")
                   if x.strip()),
        priority=c.map_priority(conn, PRIORITY_DEFAULTS, t.get("priority")),
        status=c.map_status(conn, STATUS_DEFAULTS, t.get("status")),
        channel=SOURCES.get(str(t.get("source", "")).lower()),
        assignee_id=c.text(_clean(c.obj(t, "agent", "ticket.agent", required=False)), "email",
                           "ticket.agent.email"),
        custom_fields=custom, organization=org_name,
    )
    if name == EventType.CREATED:
        ticket = replace(ticket, status=c.opening_status(conn, t.get("status"), ticket.status,
                                                         {"2", "open"}))
    top = _clean(data)
    comment = None
    own = False
    if name == EventType.COMMENTED:
        public = c.text(top, "latest_public_comment", "latest_public_comment")
        private = c.text(top, "latest_private_comment", "latest_private_comment")
        if public or private:
            comment = Comment(id=None, public=bool(public), body=public or private or "")
            marker = str(conn.options.get("own_marker", OWN_MARKER)) if conn.options else OWN_MARKER
            own = comment.body.lstrip().startswith(marker)
    return [TicketEvent(
        connection=conn.name, host_kind=KIND, delivery_key=delivery_key(body, headers),
        event=name if name in EVENTS else EventType.UNKNOWN, occurred_at=updated,
        ticket=ticket, actor=Actor(kind="system"), comment=comment, own_write=own,
    )]
