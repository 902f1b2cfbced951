"""Redmine: the suer/redmine_webhook plugin (5.x) and Redmine 7 core webhooks.

- 5.x plugin: ``{"payload": {"action": "opened"|"updated", "issue", "journal", "url"}}``,
  unsigned and without a delivery id, so it uses the token URL; the key is the issue and
  journal id.
- 7.x core: ``{"type": "issue.updated", "timestamp", "data": {"issue", "journal"}}`` (also
  ``time_entry.*``), signed ``X-Redmine-Signature-256: sha256=<hex HMAC-SHA256>``; no
  delivery id either, so the key is built from the object ids the same way. Deskpilot's own
  plugin for 5.x/6.x (``templates/redmine/deskpilot_webhooks``) posts the same format, its
  journal adding ``private_notes``. Redmine 7's leaves it out: such a note is marked
  ``unconfirmed`` and the worker reads its flag from the host before the rules run.
- A journal by the issue's author is the client speaking; any other user is an agent.

The requester's locale: none (``Ticket.requester_locale`` stays None). A Redmine user's
``language`` is not in any of the three bodies: the 5.x plugin's author is ``id login mail
firstname lastname identity_url icon_url`` (suer/redmine_webhook
``lib/redmine_webhook/author_wrapper.rb``), Redmine 7's issue is the API's
``issues/show.api.rsb`` whose ``author`` is ``{id, name}``, and our plugin posts that same
format. Reading it needs ``GET /users/{id}.json`` (admin) per event.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from plugin.settings import Connection
from rules.event import Actor, Comment, EventType, Ticket, TicketEvent, TimeEntry
from webhooks.base import (
    InvalidSignature,
    check_any,
    company_for,
    header,
    hmac_hex,
    load_json,
    own_user,
    require_object,
)
from webhooks.hosts import _common as c

KIND = "redmine"
SIGNED = True
SIGNATURE_HEADER = "X-Redmine-Signature-256"
#: never the signature: a stored body must not be replayable from the events table
KEPT_HEADERS: tuple[str, ...] = ()

STATUS_DEFAULTS = {"new": "new", "in progress": "in_progress", "feedback": "waiting_client",
                   "resolved": "resolved", "closed": "closed", "rejected": "closed",
                   # the statuses a support team adds (README, Redmine)
                   "accepted": "accepted", "waiting for client": "waiting_client"}
PRIORITY_DEFAULTS = {"low": "low", "normal": "normal", "high": "high", "urgent": "urgent",
                     "immediate": "urgent"}
CORE_EVENTS = {
    "issue.created": EventType.CREATED, "issue.updated": EventType.UPDATED,
    "issue.deleted": EventType.DELETED, "time_entry.created": EventType.TIME_LOGGED,
    "time_entry.updated": EventType.TIME_UPDATED, "time_entry.deleted": EventType.TIME_DELETED,
}


def sign(body: bytes, secret: str) -> str:
    return "sha256=" + hmac_hex(secret, body)


def verify(body: bytes, headers: Mapping[str, str], secrets: Any, now: datetime) -> None:
    if not secrets:
        raise InvalidSignature("no secret configured for this connection")
    check_any(header(headers, SIGNATURE_HEADER), [sign(body, s) for s in secrets])


def delivery_key(body: bytes, headers: Mapping[str, str]) -> str | None:
    return None  # built from the payload's ids in parse()


def _person(data: Mapping[str, Any]) -> tuple[str | None, str | None, str | None]:
    """(id, name, e-mail) of a plugin AuthorWrapper or a core ``{id, name}``."""
    pid = c.ident(data, "id", "user.id", required=False)
    name = c.text(data, "name", "user.name") or " ".join(
        str(data.get(k) or "") for k in ("firstname", "lastname")).strip() or None
    return pid, name, c.text(data, "mail", "user.mail")


def _custom(conn: Connection, issue: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    plugin_style = issue.get("custom_field_values")
    core_style = issue.get("custom_fields")
    for i, cf in enumerate(plugin_style if isinstance(plugin_style, list) else []):
        if isinstance(cf, dict) and cf.get("custom_field_name"):
            out[str(cf["custom_field_name"])] = cf.get("value")
        elif not isinstance(cf, dict):
            raise c.fail(f"issue.custom_field_values[{i}]", "must be an object")
    for i, cf in enumerate(core_style if isinstance(core_style, list) else []):
        if isinstance(cf, dict) and cf.get("name"):
            out[str(cf["name"])] = cf.get("value")
        elif not isinstance(cf, dict):
            raise c.fail(f"issue.custom_fields[{i}]", "must be an object")
    return c.rename_fields(conn, out)


def _ticket(conn: Connection, issue: Mapping[str, Any]) -> Ticket:
    issue_id = c.required_ident(issue, "id", "issue.id")
    created = c.instant(issue, "created_on", "issue.created_on")
    assert created is not None
    project = c.obj(issue, "project", "issue.project", required=False)
    # the redmine_webhook plugin (5.x) sends identifier, id and name; Redmine 7's core
    # payload (app/models/webhook_payload.rb at 7.0.0: the issue's API JSON) only id and
    # name: a company_from map by identifier, id or name is tried with all of them
    proj = (c.text(project, "identifier", "issue.project.identifier"),
            c.ident(project, "id", "issue.project.id", required=False),
            c.text(project, "name", "issue.project.name"))
    status = c.obj(issue, "status", "issue.status", required=False)
    mapped = c.map_status(conn, STATUS_DEFAULTS, c.text(status, "name", "issue.status.name"))
    if mapped is None and status.get("is_closed") is True:
        mapped = "closed"
    author_id, _, author_mail = _person(c.obj(issue, "author", "issue.author", required=False))
    assignee = c.obj(issue, "assignee", "issue.assignee", required=False) or c.obj(
        issue, "assigned_to", "issue.assigned_to", required=False)
    custom = _custom(conn, issue)
    tracker = c.text(c.obj(issue, "tracker", "issue.tracker", required=False), "name",
                     "issue.tracker.name")
    return Ticket(
        id=issue_id, created_at=created,
        company=company_for(conn.company_from, project=proj, email=author_mail,
                            custom_fields=custom, organization=(proj[0] or proj[1], proj[2])),
        requester_id=author_id, requester_email=author_mail,
        subject=c.text(issue, "subject", "issue.subject") or "",
        body=c.text(issue, "description", "issue.description") or "",
        tags=(f"tracker:{tracker.lower()}",) if tracker else (),
        priority=c.map_priority(conn, PRIORITY_DEFAULTS, c.text(
            c.obj(issue, "priority", "issue.priority", required=False), "name",
            "issue.priority.name")),
        status=mapped, assignee_id=_person(assignee)[0] if assignee else None,
        custom_fields=custom, project=proj[0] or proj[1],
    )


def _changes(journal: Mapping[str, Any]) -> dict[str, tuple[Any, Any]]:
    details = journal.get("details")
    if details is not None and not isinstance(details, list):
        raise c.fail("journal.details", "must be a list")
    out: dict[str, tuple[Any, Any]] = {}
    for i, d in enumerate(details or []):
        if not isinstance(d, dict):
            raise c.fail(f"journal.details[{i}]", "must be an object")
        prefix = "" if d.get("property") == "attr" else f"{d.get('property')}:"
        out[f"{prefix}{d.get('prop_key')}"] = (d.get("old_value"), d.get("value"))
    return out


def _issue_event(conn: Connection, name: str, issue: Mapping[str, Any],
                 journal: Mapping[str, Any], occurred: datetime | None) -> TicketEvent:
    ticket = _ticket(conn, issue)
    comment = None
    changes: dict[str, tuple[Any, Any]] = {}
    if journal:
        jid = c.ident(journal, "id", "journal.id")
        uid, uname, _ = _person(c.obj(journal, "author", "journal.author", required=False)
                                or c.obj(journal, "user", "journal.user", required=False))
        # the issue's author commenting on it is the client, not an agent
        kind = "client" if uid is not None and uid == ticket.requester_id else "agent"
        actor = Actor(kind=kind, id=uid, name=uname)
        notes = c.text(journal, "notes", "journal.notes")
        if notes:
            # Redmine 7 core leaves ``private_notes`` out: the worker asks the host
            # (plugin.processing.visibility); the 5.x/6.x plugins send it
            comment = Comment(id=jid, public=not c.boolean(journal, "private_notes",
                                                           "journal.private_notes", False),
                              body=notes, author=actor,
                              unconfirmed="private_notes" not in journal)
            if name == EventType.UPDATED:
                name = EventType.COMMENTED
        changes = _changes(journal)
        written = c.instant(journal, "created_on", "journal.created_on", required=False)
        occurred = written or occurred
        # with the journal's own instant: Redmine on SQLite reuses the ids of a deleted
        # issue's rows (``journals.id`` is a plain INTEGER PRIMARY KEY, seen in
        # tests/e2e/redmine), and the same key with another body would be refused as a conflict
        key = f"issue-{ticket.id}-journal-{jid}" + (f"-{written:%Y%m%dT%H%M%S}" if written else "")
    else:
        actor = Actor(kind="client", id=ticket.requester_id)
        key = f"issue-{ticket.id}-{name.split('.')[-1]}"
    return TicketEvent(
        connection=conn.name, host_kind=KIND, delivery_key=key, event=name,
        occurred_at=occurred or ticket.created_at, ticket=ticket, actor=actor, changes=changes,
        comment=comment, own_write=own_user(conn, actor.id),
    )


def _time_event(conn: Connection, name: str, entry: Mapping[str, Any], kind: str,
                occurred: datetime) -> list[TicketEvent]:
    issue = c.obj(entry, "issue", "time_entry.issue", required=False)
    issue_id = c.ident(issue, "id", "time_entry.issue.id", required=False)
    if issue_id is None:
        return []  # time logged on a project, not on a ticket
    entry_id = c.ident(entry, "id", "time_entry.id")
    uid, uname, _ = _person(c.obj(entry, "user", "time_entry.user", required=False))
    project = c.obj(entry, "project", "time_entry.project", required=False)
    proj = (c.ident(project, "id", "time_entry.project.id", required=False),
            c.text(project, "name", "time_entry.project.name"))
    created = c.instant(entry, "created_on", "time_entry.created_on")
    assert created is not None
    # a time entry carries no issue snapshot: only the id and project are known here
    ticket = Ticket(id=issue_id, created_at=created, project=proj[0],
                    company=company_for(conn.company_from, project=proj, organization=proj))
    minutes = c.minutes_from_hours(entry.get("hours", 0), "time_entry.hours")
    stamp = c.text(entry, "updated_on", "time_entry.updated_on") or occurred.isoformat()
    return [TicketEvent(
        connection=conn.name, host_kind=KIND, delivery_key=f"time-{entry_id}-{kind}-{stamp}",
        event=name, occurred_at=occurred, ticket=ticket, actor=Actor("agent", uid, uname),
        time_entry=TimeEntry(id=entry_id, minutes=minutes, agent_id=uid,
                             note=c.text(entry, "comments", "time_entry.comments")),
        own_write=own_user(conn, uid),
    )]


def parse(body: bytes, headers: Mapping[str, str], conn: Connection) -> list[TicketEvent]:
    data = require_object(load_json(body))
    if "payload" in data:  # suer/redmine_webhook (5.x)
        payload = c.obj(data, "payload", "payload")
        action = c.text(payload, "action", "payload.action")
        if action not in ("opened", "updated"):
            return []
        issue = c.obj(payload, "issue", "payload.issue")
        journal = c.obj(payload, "journal", "payload.journal", required=False)
        name = EventType.CREATED if action == "opened" else EventType.UPDATED
        occurred = None if action == "opened" else c.instant(
            issue, "updated_on", "issue.updated_on", required=False)
        return [_issue_event(conn, name, issue, journal if action == "updated" else {},
                             occurred)]
    kind = c.text(data, "type", "type")
    if kind is None:
        raise c.fail("type", "missing: neither a redmine_webhook nor a Redmine 7 payload")
    occurred = c.instant(data, "timestamp", "timestamp")
    assert occurred is not None
    payload = c.obj(data, "data", "data")
    core = CORE_EVENTS.get(kind)
    if core is None:
        return []  # wiki pages, news, versions: nothing to act on
    if kind.startswith("time_entry."):
        return _time_event(conn, core, c.obj(payload, "time_entry", "data.time_entry"),
                           kind.split(".")[1], occurred)
    journal = c.obj(payload, "journal", "data.journal", required=False)
    event = _issue_event(conn, core, c.obj(payload, "issue", "data.issue"), journal, occurred)
    if not journal:
        return [event.with_delivery_key(f"issue-{event.ticket.id}-{kind}-{data['timestamp']}")]
    return [event]
