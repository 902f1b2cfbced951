"""Zendesk: a webhook connected to triggers, with the body of ``templates/zendesk_trigger.json``.

Signature: ``X-Zendesk-Webhook-Signature = base64(HMAC-SHA256(secret, TIMESTAMP + BODY))``
with the timestamp from ``X-Zendesk-Webhook-Signature-Timestamp``; deliveries more than
five minutes away from our clock are refused (replay window). The delivery key is
``X-Zendesk-Webhook-Invocation-Id``.

Known discrepancy (HOSTS.md §2): an older revision of Zendesk's "Verifying webhook
authenticity" page wrote ``BODY + TIMESTAMP`` and its test vector only matches that order.
The current page and every open-source verifier use ``TIMESTAMP + BODY``, as we do;
``tests/unit/test_adapter_zendesk.py`` keeps the old vector to document the difference.

Every placeholder renders as text, so numbers and booleans arrive as strings, and a
placeholder Zendesk cannot fill renders empty.

The requester's language: ``ticket.requester.language`` is ``{{ticket.requester.language}}``,
the one placeholder Zendesk documents for it ("user.language: The user's language
preference", support.zendesk.com "Zendesk placeholders reference"). It renders the name of
the user's locale, not its code: Zendesk's own example ("Using Liquid markup case statements
…", support.zendesk.com 4408842967578) branches on ``{% when 'Italiano' %}``, and the
Locales API names them so (``{"locale": "en-US", "name": "English"}``, ``"es"``:
``"Español"``). Zendesk's Liquid is closed source, so the name is kept as sent and
``rules.companies.locale_language`` reads names and codes alike; a body from an older
template without the key reads as "no locale" (the installation's default language).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from plugin.settings import Connection
from rules.event import Actor, Comment, EventType, Ticket, TicketEvent, TimeEntry
from webhooks.base import (
    InvalidPayload,
    InvalidSignature,
    body_sha256,
    check_any,
    company_for,
    header,
    hmac_b64,
    load_json,
    own_user,
    parse_instant,
    require_object,
)
from webhooks.hosts import _common as c

KIND = "zendesk"
SIGNED = True
SIGNATURE_HEADER = "X-Zendesk-Webhook-Signature"
TIMESTAMP_HEADER = "X-Zendesk-Webhook-Signature-Timestamp"
DELIVERY_HEADER = "X-Zendesk-Webhook-Invocation-Id"
#: never the signature: a stored body must not be replayable from the events table
KEPT_HEADERS = (TIMESTAMP_HEADER, DELIVERY_HEADER, "X-Zendesk-Webhook-Id")
TOLERANCE = timedelta(minutes=5)

STATUS_DEFAULTS = {
    "new": "new", "open": "in_progress", "pending": "waiting_client", "hold": "on_hold",
    "on-hold": "on_hold", "on hold": "on_hold", "solved": "resolved", "closed": "closed",
}
PRIORITY_DEFAULTS = {"low": "low", "normal": "normal", "high": "high", "urgent": "urgent"}
#: ``{{ticket.via}}`` renders a human label; matched by the first word that fits
VIA = (("mail", "email"), ("email", "email"), ("web form", "portal"), ("help center", "portal"),
       ("phone", "phone"), ("voice", "phone"), ("chat", "chat"), ("messag", "chat"),
       ("api", "api"), ("web service", "api"))
EVENTS = {EventType.CREATED, EventType.UPDATED, EventType.COMMENTED}
_UNFILLED = re.compile(r"^\s*(\{\{.*\}\}|-)?\s*$")


def sign(body: bytes, secret: str, timestamp: str) -> str:
    return hmac_b64(secret, timestamp.encode() + body)


def verify(body: bytes, headers: Mapping[str, str], secrets: Any, now: datetime) -> None:
    if not secrets:
        raise InvalidSignature("no secret configured for this connection")
    stamp = header(headers, TIMESTAMP_HEADER)
    if not stamp:
        raise InvalidSignature("signature timestamp missing")
    try:
        when = parse_instant(stamp, TIMESTAMP_HEADER)
    except InvalidPayload as exc:
        raise InvalidSignature("signature timestamp unreadable") from exc
    if abs(now - when) > TOLERANCE:
        raise InvalidSignature("signature timestamp outside the 5-minute window")
    check_any(header(headers, SIGNATURE_HEADER), [sign(body, s, stamp) for s in secrets])


def delivery_key(body: bytes, headers: Mapping[str, str]) -> str:
    given = (header(headers, DELIVERY_HEADER) or "").strip()
    return given if given else "sha256:" + body_sha256(body)  # over 200: 422 (receiver)


def _value(data: Mapping[str, Any], key: str, path: str) -> str | None:
    """A rendered placeholder; empty, ``-`` or an unreplaced ``{{…}}`` count as absent."""
    value = c.text(data, key, path)
    return None if value is None or _UNFILLED.match(value) else value.strip()


def _clean(data: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in data.items()
            if not (isinstance(v, str) and _UNFILLED.match(v)) and v is not None}


def _channel(via: str | None) -> str | None:
    low = (via or "").lower()
    return next((ch for word, ch in VIA if word in low), None)


def parse(body: bytes, headers: Mapping[str, str], conn: Connection) -> list[TicketEvent]:
    data = require_object(load_json(body))
    name = c.text(data, "event", "event")
    t = c.obj(data, "ticket", "ticket")
    ticket_id = c.required_ident(_clean(t), "id", "ticket.id")
    created = c.instant(_clean(t), "created_at", "ticket.created_at")
    assert created is not None
    updated = c.instant(_clean(t), "updated_at", "ticket.updated_at", required=False) or created
    requester = c.obj(t, "requester", "ticket.requester", required=False)
    org = c.obj(t, "organization", "ticket.organization", required=False)
    org_pair = (_value(org, "external_id", "ticket.organization.external_id")
                or _value(org, "id", "ticket.organization.id"),
                _value(org, "name", "ticket.organization.name"))
    custom = c.rename_fields(conn, _clean(c.obj(t, "custom_fields", "ticket.custom_fields",
                                                required=False)))
    email = _value(requester, "email", "ticket.requester.email")
    language = _value(requester, "language", "ticket.requester.language")
    tags = tuple((_value(t, "tags", "ticket.tags") or "").split())
    ticket = Ticket(
        id=ticket_id, created_at=created,
        company=company_for(conn.company_from, organization=org_pair, email=email,
                            custom_fields=custom),
        requester_id=_value(requester, "id", "ticket.requester.id"), requester_email=email,
        requester_locale=language,
        subject=_value(t, "title", "ticket.title") or "",
        body=_value(t, "description", "ticket.description") or "", tags=tags,
        priority=c.map_priority(conn, PRIORITY_DEFAULTS, _value(t, "priority", "ticket.priority")),
        status=c.map_status(conn, STATUS_DEFAULTS, _value(t, "status", "ticket.status")),
        channel=_channel(_value(t, "via", "ticket.via")),
        assignee_id=_value(c.obj(t, "assignee", "ticket.assignee", required=False), "id",
                           "ticket.assignee.id"),
        custom_fields=custom, organization=org_pair[1] or org_pair[0],
    )
    user = c.obj(data, "current_user", "current_user", required=False)
    user_id = _value(user, "id", "current_user.id")
    # the API says "end-user"; the placeholder renders the role's label ("End-user",
    # "End user" in some accounts): compare letters only
    role = re.sub(r"[^a-z]", "", (_value(user, "role", "current_user.role") or "").lower())
    actor = Actor(kind="client" if role in ("enduser", "customer") else "agent" if role
                  else "system", id=user_id)
    comment = time_entry = None
    raw_comment = c.obj(data, "comment", "comment", required=False)
    if name == EventType.COMMENTED and _value(raw_comment, "body", "comment.body"):
        comment = Comment(
            id=None, public=c.boolean(_clean(raw_comment), "public", "comment.public", True),
            body=_value(raw_comment, "body", "comment.body") or "",
            author=Actor(kind=actor.kind, id=_value(raw_comment, "author_id", "comment.author_id")),
        )
    seconds = c.integer(_clean(data), "time_spent_last_update_seconds",
                        "time_spent_last_update_seconds") or 0
    if seconds < 0:
        raise c.fail("time_spent_last_update_seconds", "must not be negative")
    event = name if name in EVENTS else EventType.UNKNOWN
    if seconds and event in (EventType.UPDATED, EventType.COMMENTED):
        # the Time Tracking app's "time spent last update" field: this update logged time
        time_entry = TimeEntry(id=f"{ticket_id}@{updated.isoformat()}",
                               minutes=max(1, round(seconds / 60)), agent_id=user_id)
        event = EventType.TIME_LOGGED
    return [TicketEvent(
        connection=conn.name, host_kind=KIND, delivery_key=delivery_key(body, headers),
        event=event, occurred_at=updated, ticket=ticket, actor=actor, comment=comment,
        time_entry=time_entry, own_write=own_user(conn, user_id),
    )]
