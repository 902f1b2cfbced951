"""The generic webhook body of SPEC §7 as a :class:`TicketEvent` (pure; used by ``explain``)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from rules.event import Actor, Comment, Company, EventType, Rating, Ticket, TicketEvent, TimeEntry


class EventError(ValueError):
    """The body is not a valid generic event; ``errors`` maps key paths to messages."""

    def __init__(self, errors: Mapping[str, str]):
        self.errors = dict(errors)
        super().__init__("; ".join(f"{k}: {v}" for k, v in self.errors.items()))


def _id(v: Any) -> str | None:
    if v is None or isinstance(v, bool):
        return None
    return str(v) if isinstance(v, (str, int)) else None


def _when(d: Mapping[str, Any], key: str, path: str, errors: dict[str, str]) -> datetime | None:
    v = d.get(key)
    if not isinstance(v, str):
        errors[path] = "required ISO 8601 datetime with an offset"
        return None
    try:
        t = datetime.fromisoformat(v)
    except ValueError:
        errors[path] = f"not an ISO 8601 datetime: {v!r}"
        return None
    if t.tzinfo is None:
        errors[path] = "datetime must carry a UTC offset (naive)"
        return None
    return t


def _actor(d: Any) -> Actor:
    d = d if isinstance(d, Mapping) else {}
    return Actor(str(d.get("kind") or "system"), _id(d.get("id")), d.get("name"))


def event_from_dict(body: Any, connection: str = "generic") -> TicketEvent:
    """Parse a generic body; raises :class:`EventError` listing every problem."""
    errors: dict[str, str] = {}
    if not isinstance(body, Mapping):
        raise EventError({"<body>": "must be a JSON object"})
    t = body.get("ticket")
    if not isinstance(t, Mapping):
        raise EventError({"ticket": "required object"})
    if not isinstance(body.get("event"), str):
        errors["event"] = "required string"
    occurred = _when(body, "occurred_at", "occurred_at", errors)
    created = _when(t, "created_at", "ticket.created_at", errors)
    tid = _id(t.get("id"))
    if tid is None:
        errors["ticket.id"] = "required string or integer"
    if errors or occurred is None or created is None or tid is None:
        raise EventError(errors)
    company = t.get("company") if isinstance(t.get("company"), Mapping) else None
    requester: Mapping[str, Any] = t["requester"] if isinstance(t.get("requester"), Mapping) else {}
    assignee: Mapping[str, Any] = t["assignee"] if isinstance(t.get("assignee"), Mapping) else {}
    cid = _id(company.get("id")) if company else None
    ticket = Ticket(
        id=tid,
        created_at=created,
        company=Company(cid, company.get("name")) if company and cid else None,
        requester_id=_id(requester.get("id")),
        requester_email=requester.get("email"),
        subject=str(t.get("subject") or ""),
        body=str(t.get("body") or ""),
        tags=tuple(str(x) for x in t.get("tags") or ()),
        priority=t.get("priority"),
        status=t.get("status"),
        channel=t.get("channel"),
        assignee_id=_id(assignee.get("id")),
        custom_fields=dict(t.get("custom_fields") or {}),
    )
    changes = {
        str(k): (v[0], v[1])
        for k, v in (body.get("changes") or {}).items()
        if isinstance(v, (list, tuple)) and len(v) == 2
    }
    c = body.get("comment")
    comment = (
        Comment(
            _id(c.get("id")),
            bool(c.get("public")),
            str(c.get("body") or ""),
            _actor(c.get("author")),
        )
        if isinstance(c, Mapping)
        else None
    )
    te = body.get("time_entry")
    entry = (
        TimeEntry(
            _id(te.get("id")),
            int(te.get("minutes") or 0),
            _id(te.get("agent_id")),
            bool(te.get("billable", True)),
            te.get("note"),
        )
        if isinstance(te, Mapping)
        else None
    )
    ra = body.get("rating")
    rating = (
        Rating(int(ra.get("score") or 0), int(ra.get("scale") or 5), ra.get("comment"))
        if isinstance(ra, Mapping)
        else None
    )
    name = body["event"] if body["event"] in EventType.ALL else EventType.UNKNOWN
    raw = json.dumps(body, sort_keys=True, default=str).encode()
    return TicketEvent(
        connection=connection,
        host_kind="generic",
        delivery_key=hashlib.sha256(raw).hexdigest(),
        event=name,
        occurred_at=occurred,
        ticket=ticket,
        actor=_actor(body.get("actor")),
        changes=changes,
        comment=comment,
        time_entry=entry,
        rating=rating,
        merged_into=_id(body.get("merged_into")),
    )
