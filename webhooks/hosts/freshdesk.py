"""Freshdesk: an automation rule's "Trigger webhook" action with our JSON template.

Freshdesk cannot sign. The rule sends a shared secret in a custom header,
``X-Deskpilot-Token``, compared in constant time with every ``webhook_secrets`` entry; the
header is never stored. There is no delivery id either, so the delivery key is the
SHA-256 of the body (a retry re-sends the same rendered body).

Freshdesk renders dates without an offset in the helpdesk's time zone, so such dates need
``options.timezone`` on the connection; without it they are refused as naive (422).

What a body says beyond the ticket (facts from Freshdesk's own Liquid code,
``app/drops/helpdesk/ticket_drop.rb``, ``app/models/helpdesk/ticket.rb#liquidize_comment``,
``lib/va/webhook/util.rb``, ``app/models/helpdesk/note/callbacks.rb`` and
``time_sheet.rb#update_observer_events``, as mirrored in Ramesh-Veeriaperumal/freshconsult):

- ``{{ticket.latest_public_comment_text}}`` / ``…private…`` render the newest public /
  private conversation as ``"<author name> : <text>"`` (``System`` without a user). Both
  always render, so on a private note the public one still shows the previous reply.
- ``{{triggered_event}}`` renders the event that fired the rule: ``{reply_sent:sent}`` (a
  reply, by the requester or an agent), ``{note_type:private}`` / ``{note_type:public}``
  (a note: agents only), ``{time_sheet_action:added}``, ``{ticket_action:created}``,
  ``{status:{from:…,to:…}}``. It decides which comment placeholder belongs to the event.
- No placeholder names the author's role, so ``freshdesk-automation/2`` bodies (the shipped
  template) read it from ``performed_by`` — the rule's own "performed by" (``agent`` or
  ``requester``, a literal the admin sets per rule) — else from the event (a note is an
  agent's) and the rendered author name against ``{{ticket.requester.name}}``.
  Version-1 bodies (no author name in the template) keep the whole text and a "system" author.
- Deskpilot's own notes come back too (unless the rule says *Performed by is not* its agent).
  The loop guard (:func:`_own_note`) decides by the author wherever the body gives one: the
  rendered name against ``options.plugin_agent_name``, or, in the reconciliation poll's
  bodies, ``author_id`` (the conversation's ``user_id`` in Freshdesk's API v2 "List All
  Conversations of a Ticket") against ``plugin_user_id``. No webhook placeholder renders the
  comment author's id or e-mail (``liquidize_comment`` renders ``user.name`` only), so the
  name is what a webhook can offer. The ``[Deskpilot]`` marker decides only where no author
  is given or nothing is configured to compare it with.
- No placeholder carries one time entry's minutes (only ``{{ticket.total_time_spent}}``, the
  total after it, "hh:mm"), so a delivered ``time.logged`` sets the total only. The
  reconciliation poll renders each time entry with an extra ``time_entry`` object
  (``id``, ``minutes``, ``agent_id``) that becomes the event's :class:`TimeEntry`.
- ``{{ticket.requester.language}}`` renders the requester's language *code*: the ticket
  drop's ``requester`` is the ``User`` (``to_liquid`` → ``UserDrop``), whose
  ``liquid_attributes`` include ``:language``, the user's column that ``language_object``
  looks up with ``Language.find_by_code`` among ``config/languages.yml`` (``en``, ``uk``,
  ``ru-RU``, ``pt-BR``, ``es-LA``…): ``app/drops/user_drop.rb``, ``app/models/user.rb`` in
  the same mirror (branch ``swatkats-hacki``, 2020). A user without one renders empty
  ("no locale"). The poll's ``include=requester`` has no language, so a polled body
  leaves it empty.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from plugin.settings import Connection
from rules.event import Actor, Comment, EventType, Ticket, TicketEvent, TimeEntry
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
_VERSION = re.compile(r"freshdesk-automation/(\d{1,3})")
#: a rendered comment placeholder: "<author name> : <text>" (the name: no colon, one line)
_AUTHORED = re.compile(r"([^\n:]*):[ \t]*(.*)", re.DOTALL)
#: ``performed_by``: the rule's "performed by" (Freshdesk's words) as our actor kinds
PERFORMERS = {"agent": "agent", "requester": "client", "customer": "client",
              "contact": "client", "system": "system"}
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
    if isinstance(value, str):
        value = _rails_offset(value)
        data = {**data, key: value}
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


def _rails_offset(value: str) -> str:
    """Rails' default ``Time#to_s`` as Freshdesk's placeholders render it (HOSTS.md §3):
    ``2026-12-04 10:10:00 +0200`` or, for an account set to UTC, ``2026-12-04 08:10:00 UTC``,
    as ISO 8601 with the offset (``+02:00``, ``+00:00``)."""
    text = value.strip()
    if text.endswith(" UTC"):
        return text[:-4].rstrip() + "+00:00"
    found = re.fullmatch(r"(.*\d)\s+([+-]\d\d):?(\d\d)", text)
    if found:
        return f"{found.group(1)}{found.group(2)}:{found.group(3)}"
    return value


def triggered(data: Mapping[str, Any]) -> tuple[str, str]:
    """``{{triggered_event}}`` as ``(event, value)``: ``{note_type:private}`` gives
    ``("note_type", "private")``; quotes and escapes, if any, are ignored."""
    raw = data.get("triggered_event")
    if not isinstance(raw, str):
        return "", ""
    name, _, value = re.sub(r'[{}"\\\s]', "", raw).partition(":")
    return name.lower(), value.lower()


def _version(data: Mapping[str, Any]) -> int:
    match = _VERSION.fullmatch(str(data.get("deskpilot") or "").strip())
    return int(match.group(1)) if match else 1


def _comment(top: Mapping[str, Any], version: int, performer: str | None,
             requester: Actor) -> Comment | None:
    """The comment the triggering event added: a note's from the private or public
    placeholder as ``{{triggered_event}}`` says, a reply's from the public one; without
    that event the public one wins (Freshdesk renders both whatever happened)."""
    public = c.text(top, "latest_public_comment", "latest_public_comment")
    private = c.text(top, "latest_private_comment", "latest_private_comment")
    event, value = triggered(top)
    is_private = value == "private" if event == "note_type" else (
        False if event == "reply_sent" else not public)
    text = private if is_private else public
    if not text:
        return None
    if version < 2:  # the template had no author name: the whole text, a "system" author
        return Comment(id=None, public=not is_private, body=text)
    match = _AUTHORED.fullmatch(text)
    name, text = (match.group(1).strip() or None, match.group(2).strip()) if match else (None, text)
    if performer:
        kind = performer
    elif event == "note_type":
        kind = "agent"  # only agents add notes
    elif name is None or name.casefold() == "system":
        kind = "system"
    else:
        kind = "client" if name.casefold() == (requester.name or "").casefold() else "agent"
    author = (Actor(kind="client", id=requester.id, name=name or requester.name)
              if kind == "client" else Actor(kind=kind, name=name))
    return Comment(id=None, public=not is_private, body=text, author=author)


def _time_entry(top: Mapping[str, Any], ticket_id: str, updated: datetime) -> TimeEntry | None:
    """The poll's ``time_entry`` (a Freshdesk webhook cannot render one entry's minutes)."""
    entry = _clean(c.obj(top, "time_entry", "time_entry", required=False))
    minutes = c.integer(entry, "minutes", "time_entry.minutes") or 0
    if minutes < 0:
        raise c.fail("time_entry.minutes", "must not be negative")
    if not minutes:
        return None
    entry_id = c.ident(entry, "id", "time_entry.id", required=False)
    return TimeEntry(id=f"time-{entry_id}" if entry_id else f"{ticket_id}@{updated.isoformat()}",
                     minutes=minutes,
                     agent_id=c.ident(entry, "agent_id", "time_entry.agent_id", required=False))


def _own_note(conn: Connection, comment: Comment, author_id: str | None) -> bool:
    """Deskpilot's own note echoed back: decided by the author wherever the body gives one,
    by the text marker only where it gives none.

    - ``author_id`` (the poll's conversation ``user_id``) with ``plugin_user_id`` set: ours
      exactly when they are equal, whatever the text says;
    - a client's comment is never ours (a client could otherwise hide a reply by starting it
      with the marker);
    - a rendered author name (``"<name> : <text>"``, not ``System``) with
      ``options.plugin_agent_name`` set (the Deskpilot agent's name as Freshdesk renders it):
      ours exactly when the names are equal (case-insensitive), so a CC contact's or another
      agent's comment starting with the marker is processed;
    - otherwise (no author, or nothing configured to compare it with): the marker
      (``options.own_marker``, default ``[Deskpilot]``) decides.
    """
    if author_id is not None and conn.plugin_user_id is not None:
        return author_id == conn.plugin_user_id
    author = comment.author
    if author.kind == "client":
        return False
    options = conn.options or {}
    agent = str(options.get("plugin_agent_name") or "").strip()
    name = (author.name or "").strip()
    if agent and name and name.casefold() != "system":
        return name.casefold() == agent.casefold()
    marker = str(options.get("own_marker", OWN_MARKER))
    return comment.body.lstrip().startswith(marker)


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
    requester_id = c.ident(requester, "id", "ticket.requester.id", required=False)
    language = c.text(requester, "language", "ticket.requester.language")
    ticket = Ticket(
        id=ticket_id, created_at=created,
        company=company_for(conn.company_from, organization=(None, org_name), email=email,
                            custom_fields=custom),
        requester_id=requester_id, requester_locale=language.strip() if language else None,
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
    version = _version(top)
    performer = PERFORMERS.get((c.text(top, "performed_by", "performed_by") or "").lower())
    actor = Actor(kind=performer or "system")
    event = name if name in EVENTS else EventType.UNKNOWN
    comment = time_entry = None
    own = False
    if event == EventType.COMMENTED:
        client = Actor(kind="client", id=requester_id,
                       name=c.text(requester, "name", "ticket.requester.name"))
        comment = _comment(top, version, performer, client)
        if comment is not None:
            actor = comment.author
            own = _own_note(conn, comment, c.ident(top, "author_id", "author_id",
                                                   required=False))
    elif event == EventType.TIME_LOGGED:
        time_entry = _time_entry(top, ticket_id, updated)
    return [TicketEvent(
        connection=conn.name, host_kind=KIND, delivery_key=delivery_key(body, headers),
        event=event, occurred_at=updated, ticket=ticket, actor=actor, comment=comment,
        time_entry=time_entry, own_write=own,
    )]
