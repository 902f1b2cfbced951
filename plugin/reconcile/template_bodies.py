"""Render a polled Zendesk or Freshdesk ticket into the body our shipped webhook template makes.

Both hosts send what the admin's template says; the templates are ours
(``webhooks/hosts/templates/zendesk_trigger.json``, ``freshdesk_automation.json``), so a
ticket read from the API can be rendered into the same JSON and parsed by the same adapter.
Placeholders render as text, as the hosts do; a value the API does not give renders empty,
which the adapters read as "absent".

- A ticket snapshot (:func:`zendesk_payload`, :func:`freshdesk_payload`) is
  ``ticket.created`` or ``ticket.updated``, whose comment the adapters ignore; its actor is
  "system", and the time fields (Zendesk's "time spent last update", Freshdesk's
  ``total_time_spent``) stay empty, so a snapshot never logs time.
- One comment, reply, note or time log the poll found (:func:`zendesk_item_payload`,
  :func:`freshdesk_item_payload`, called by :mod:`plugin.reconcile.items`) renders as
  the body the trigger would have sent for that update: ``updated_at`` is the item's own
  time, the comment and its author fill the comment placeholders, the time fills the time
  placeholder (Zendesk: the seconds of that update; Freshdesk: the ticket's total after it).
  Freshdesk's comment placeholders render ``"<author name> : <text>"`` and
  ``{{triggered_event}}`` the event (``{reply_sent:sent}``, ``{note_type:private}``…); the
  poll renders them alike and sets ``performed_by`` (the rule's "performed by", which the
  admin writes per rule) from the conversation's ``incoming``. Freshdesk has no placeholder
  for one time entry's minutes, so a polled time log adds what no delivery can carry: a
  ``time_entry`` object (``id``, ``minutes``, ``agent_id``), the only key a poll adds to
  the template's.

Dates are rendered as ISO-8601 in UTC, which both adapters read without
``options.timezone`` (Freshdesk itself renders local time without an offset).
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from plugin.settings import Connection
from rules.event import EventType

# Freshdesk ticket properties — developers.freshdesk.com/api/#tickets (status 2-5,
# priority 1-4, source 1/2/3/7/9/10), as HOSTS.md §3; ``{{ticket.status}}`` and friends render
# the label an agent sees, so the labels are rendered here too.
FD_STATUS = {2: "Open", 3: "Pending", 4: "Resolved", 5: "Closed"}
FD_PRIORITY = {1: "Low", 2: "Medium", 3: "High", 4: "Urgent"}
FD_SOURCE = {1: "Email", 2: "Portal", 3: "Phone", 7: "Chat", 9: "Feedback Widget",
             10: "Outbound Email"}
#: a conversation's ``source`` for a note (Freshdesk's ``Helpdesk::Note`` sources: email 0,
#: form 1, note 2, …); any other is a reply, which fires ``{reply_sent:sent}``
FD_NOTE_SOURCE = 2
#: the template's ``custom_fields`` keys; the admin puts their ``cf_`` names in the template
TEMPLATE_FIELDS = ("task_type", "units")

# Zendesk: ``{{ticket.status}}`` renders the title ("Open", "On-hold"), ``{{ticket.via}}`` a
# label of ``via.channel`` (developer.zendesk.com "Ticket placeholders" / Tickets API "via").
ZD_STATUS = {"new": "New", "open": "Open", "pending": "Pending", "hold": "On-hold",
             "solved": "Solved", "closed": "Closed"}
#: ``{{current_user.role}}`` renders the role's title; the adapter reads "end-user" as a client
ZD_ROLE = {"end-user": "End-user", "agent": "Agent", "admin": "Admin"}
ZD_VIA = {"email": "Mail", "web": "Web Form", "api": "Web Service", "voice": "Phone call",
          "chat": "Chat", "help_center": "Help Center", "native_messaging": "Messaging"}


def text(value: Any) -> str:
    """A value as a placeholder renders it: ``None`` is empty, booleans lower-case."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def label(table: Mapping[Any, str], value: Any) -> str:
    """The label a placeholder renders for a coded value; unknown codes as they are."""
    return table.get(value) or text(value)


def utc(value: Any) -> str:
    """An API timestamp as ISO-8601 UTC (``…Z``); empty when absent or unreadable."""
    if not isinstance(value, str) or not value:
        return ""
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return ""
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _template_fields(conn: Connection, values: Mapping[str, Any],
                     default: str) -> dict[str, str]:
    """``task_type``/``units`` read from the host field ``field_map`` names (else ``default``)."""
    out = {}
    for name in TEMPLATE_FIELDS:
        key = conn.field_map.get(name) if conn.field_map else None
        out[name] = text(values.get(str(key if key is not None else default.format(name))))
    return out


def freshdesk_payload(conn: Connection, t: Mapping[str, Any], event: str) -> dict[str, Any]:
    """``freshdesk_automation.json`` rendered from ``GET /api/v2/tickets`` JSON.

    Expects ``include=requester,company,description`` (List All Tickets embeds) and, for
    ``{{ticket.agent.email}}``, the responder's e-mail under ``agent_email`` (set by
    :meth:`FreshdeskClient.list_updated` from ``GET /api/v2/agents/{id}``).
    """
    requester = t.get("requester") or {}
    company = t.get("company") or {}
    tags = t.get("tags") or []
    return {
        "deskpilot": "freshdesk-automation/2",
        "event": event,
        "performed_by": "",
        "triggered_event": "",
        "ticket": {
            "id": text(t.get("id")),
            "subject": text(t.get("subject")),
            "description": text(t.get("description_text") or t.get("description")),
            "status": label(FD_STATUS, t.get("status")),
            "priority": label(FD_PRIORITY, t.get("priority")),
            "source": label(FD_SOURCE, t.get("source")),
            "type": text(t.get("type")),
            "tags": ",".join(str(x) for x in tags) if isinstance(tags, list) else text(tags),
            "created_on": utc(t.get("created_at")),
            "modified_on": utc(t.get("updated_at")),
            "requester": {"id": text(requester.get("id") or t.get("requester_id")),
                          "email": text(requester.get("email")),
                          "name": text(requester.get("name")),
                          # the embedded requester has no language: empty, as a user
                          # without one renders
                          "language": ""},
            "agent": {"email": text(t.get("agent_email"))},
            "company": {"name": text(company.get("name"))},
            "total_time_spent": "",
            "custom_fields": _template_fields(conn, t.get("custom_fields") or {}, "cf_{}"),
        },
        "latest_public_comment": "",
        "latest_private_comment": "",
    }


def zendesk_payload(conn: Connection, t: Mapping[str, Any], event: str) -> dict[str, Any]:
    """``zendesk_trigger.json`` rendered from incremental-export ticket JSON.

    Expects the sideloaded requester and organization under ``requester`` and
    ``organization`` (set by :meth:`ZendeskClient.list_updated` from ``include=users,
    organizations``); custom field ids come from ``field_map`` (``task_type``, ``units``).
    """
    requester = t.get("requester") or {}
    org = t.get("organization") or {}
    via = (t.get("via") or {}).get("channel") if isinstance(t.get("via"), dict) else None
    custom = {str(f.get("id")): f.get("value") for f in t.get("custom_fields") or []
              if isinstance(f, dict)}
    status = str(t.get("status") or "")
    return {
        "deskpilot": "zendesk-trigger/1",
        "event": event,
        "ticket": {
            "id": text(t.get("id")),
            "title": text(t.get("subject")),
            "description": text(t.get("description")),
            "status": ZD_STATUS.get(status, status),
            "priority": text(t.get("priority")).capitalize(),
            "type": text(t.get("type")).capitalize(),
            "via": ZD_VIA.get(str(via), text(via)),
            "tags": " ".join(str(x) for x in t.get("tags") or []),
            "created_at": utc(t.get("created_at")),
            "updated_at": utc(t.get("updated_at")),
            # {{ticket.requester.language}} renders the locale's name; the sideloaded user
            # has its code (``locale``: "uk", "en-US"), which the adapter reads as well
            "requester": {"id": text(t.get("requester_id")), "email": text(requester.get("email")),
                          "language": text(requester.get("locale"))},
            "assignee": {"id": text(t.get("assignee_id"))},
            "organization": {"id": text(t.get("organization_id")),
                             "external_id": text(org.get("external_id")),
                             "name": text(org.get("name"))},
            "custom_fields": _template_fields(conn, custom, "{}"),
        },
        "comment": {"public": "", "body": "", "author_id": ""},
        "time_spent_last_update_seconds": "",
        "current_user": {"id": "", "role": ""},
    }


def zendesk_item_payload(conn: Connection, t: Mapping[str, Any], *, at: Any, user_id: Any,
                         role: str | None, comment: Mapping[str, Any] | None = None,
                         seconds: int = 0) -> dict[str, Any]:
    """The trigger body of one update: a comment (List Comments JSON) or logged seconds."""
    event = EventType.COMMENTED if comment else EventType.UPDATED
    payload = zendesk_payload(conn, {**t, "updated_at": at}, event)
    payload["current_user"] = {"id": text(user_id),
                               "role": ZD_ROLE.get(str(role or ""), text(role).capitalize())}
    if comment:
        payload["comment"] = {"public": text(bool(comment.get("public", True))),
                              "body": text(comment.get("body")),
                              "author_id": text(comment.get("author_id"))}
    if seconds:
        payload["time_spent_last_update_seconds"] = text(seconds)
    return payload


def freshdesk_item_payload(conn: Connection, t: Mapping[str, Any], *, at: Any,
                           conversation: Mapping[str, Any] | None = None,
                           entry: Mapping[str, Any] | None = None,
                           total_minutes: int = 0) -> dict[str, Any]:
    """The automation body of one update: a reply or note (List All Conversations JSON), or
    a time entry (List Time Entries JSON) with the ticket's total time after it, as
    ``{{ticket.total_time_spent}}`` renders it ("hh:mm")."""
    event = EventType.TIME_LOGGED if entry is not None else EventType.COMMENTED
    payload = freshdesk_payload(conn, {**t, "updated_at": at}, event)
    if entry is not None:
        hours, minutes = divmod(total_minutes, 60)
        payload["ticket"]["total_time_spent"] = f"{hours:02d}:{minutes:02d}"
        payload["performed_by"] = "agent"
        payload["triggered_event"] = "{time_sheet_action:added}"
        payload["time_entry"] = {"id": text(entry.get("id")),
                                 "minutes": text(hhmm_minutes(entry.get("time_spent"))),
                                 "agent_id": text(entry.get("agent_id"))}
    if conversation is not None:
        c = conversation
        private, incoming = bool(c.get("private")), bool(c.get("incoming"))
        requester = t.get("requester") or {}
        by_requester = str(c.get("user_id")) == str(requester.get("id") or t.get("requester_id"))
        # the author's name is known for the requester; others render as an empty name
        author = text(requester.get("name")) if by_requester else ""
        body = text(c.get("body_text")) or plain_text(c.get("body"))
        payload["performed_by"] = "requester" if incoming else "agent"
        # the author by id (Freshdesk API v2 conversation ``user_id``): the adapter's loop
        # guard compares it with plugin_user_id instead of reading the text's marker
        payload["author_id"] = text(c.get("user_id"))
        payload["triggered_event"] = (
            "{note_type:private}" if private else
            "{note_type:public}" if c.get("source") == FD_NOTE_SOURCE else "{reply_sent:sent}")
        payload["latest_private_comment" if private else "latest_public_comment"] = \
            f"{author} : {body}"
    return payload


def hhmm_minutes(value: Any) -> int:
    """Freshdesk's ``time_spent`` ("hh:mm") as minutes; 0 when unreadable."""
    match = re.fullmatch(r"\s*(\d+):(\d{2})\s*", str(value or ""))
    return int(match.group(1)) * 60 + int(match.group(2)) if match else 0


def plain_text(value: Any) -> str:
    """HTML as the text it shows: tags out, entities decoded, white space collapsed."""
    return " ".join(html.unescape(re.sub(r"<[^>]*>", " ", str(value or ""))).split())
