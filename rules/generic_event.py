"""The generic webhook body (docs/generic-format.md) as a :class:`TicketEvent`: the one reader.

The receiver (``webhooks/hosts/generic.py``), ``rules explain`` and ``rules test`` read a
generic event with :func:`read_event`, so a body the receiver refuses with a 422 is refused
by ``explain`` with the same field errors, and every default (``billable``, the actor's
kind, the rating's scale) is the same. The format itself is :mod:`rules.generic_format`;
the plain case is loaded by its fast path :mod:`rules.generic_plain`. Pure.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from typing import Any

from marshmallow import ValidationError

from rules import generic_plain
from rules.bounds import Bounds
from rules.event import Actor, Comment, Company, EventType, Rating, Ticket, TicketEvent, TimeEntry
from rules.event_checks import check_event, check_numbers
from rules.generic_format import SCALE5_SCORE, SCHEMA, FormatError

#: ``rules explain`` / ``rules test`` name for the format's error (``errors``, ``lines()``)
EventError = FormatError
#: who the company is when the body names none: ``(requester email, custom fields)`` → company
#: (the receiver maps it by the connection's ``company_from``)
CompanyFallback = Callable[[str | None, Mapping[str, Any]], Company | None]
KIND = "generic"


def load(body: Any) -> dict[str, Any]:
    """The loaded fields of a generic body (defaults filled), or :class:`FormatError`."""
    if not isinstance(body, dict):
        raise FormatError("body must be a JSON object", {"_schema": ["must be an object"]})
    data = generic_plain.load(body)  # None: marshmallow loads it (or words why not)
    if data is None:
        try:
            data = SCHEMA.load(body)
        except ValidationError as exc:
            raise FormatError("the event does not match the generic schema",
                              exc.messages_dict) from None
    return data


def _actor(data: Mapping[str, Any] | None) -> Actor:
    if not data:
        return Actor()
    return Actor(kind=data["kind"], id=data.get("id"), name=data.get("name"))


def _changes(data: Mapping[str, Any]) -> dict[str, tuple[Any, Any]]:
    changes = {}
    for name, pair in (data.get("changes") or {}).items():
        if len(pair) != 2:
            raise FormatError("invalid changes", {f"changes.{name}": ["must be [old, new]"]})
        changes[name] = (pair[0], pair[1])
    return changes


def _ticket(t: Mapping[str, Any], company_fallback: CompanyFallback | None) -> Ticket:
    requester = t.get("requester") or {}
    company = Company(t["company"]["id"], t["company"].get("name")) if t.get("company") else None
    if company is None and company_fallback is not None:
        company = company_fallback(requester.get("email"), t.get("custom_fields") or {})
    return Ticket(
        id=t["id"], created_at=t["created_at"], company=company,
        requester_id=requester.get("id"), requester_email=requester.get("email"),
        requester_locale=requester.get("locale"),
        subject=t.get("subject") or "", body=t.get("body") or "",
        tags=tuple(t.get("tags") or ()), priority=t.get("priority"), status=t.get("status"),
        channel=t.get("channel"), assignee_id=(t.get("assignee") or {}).get("id"),
        custom_fields=dict(t.get("custom_fields") or {}),
    )


def _rating(r: Mapping[str, Any]) -> Rating:
    low, high = SCALE5_SCORE
    if r["scale"] == 5 and not low <= r["score"] <= high:
        raise FormatError("invalid rating",
                          {"rating.score": [f"must be {low}-{high} on scale 5"]})
    return Rating(score=r["score"], scale=r["scale"], comment=r.get("comment"))


def to_event(data: Mapping[str, Any], *, connection: str, delivery: str,
             company_fallback: CompanyFallback | None = None,
             plugin_user_id: str | None = None) -> TicketEvent:
    """The event of :func:`load`'s ``data`` (raises :class:`FormatError` for what the schema
    cannot say: a change that is not a pair, a score outside scale 5)."""
    changes = _changes(data)
    ticket = _ticket(data["ticket"], company_fallback)
    comment = None
    if data.get("comment"):
        c = data["comment"]
        comment = Comment(id=c.get("id"), public=c["public"], body=c.get("body") or "",
                          author=_actor(c.get("author")))
    time_entry = None
    if data.get("time_entry"):
        te = data["time_entry"]
        time_entry = TimeEntry(id=te.get("id"), minutes=te["minutes"], agent_id=te.get("agent_id"),
                               billable=te["billable"], note=te.get("note"))
    rating = _rating(data["rating"]) if data.get("rating") else None
    event_name = data["event"] if data["event"] in EventType.ALL else EventType.UNKNOWN
    actor = _actor(data.get("actor"))
    own = bool(plugin_user_id and actor.id == plugin_user_id)
    return TicketEvent(
        connection=connection, host_kind=KIND, delivery_key=delivery, event=event_name,
        occurred_at=data["occurred_at"], ticket=ticket, actor=actor, changes=changes,
        comment=comment, time_entry=time_entry, rating=rating,
        merged_into=data.get("merged_into"), own_write=own or actor.kind == "plugin",
    )


def read_event(body: Any, *, connection: str = KIND, delivery: str = "",
               company_fallback: CompanyFallback | None = None,
               plugin_user_id: str | None = None) -> TicketEvent:
    """Validate a generic body (already JSON-decoded) into a :class:`TicketEvent`."""
    return to_event(load(body), connection=connection, delivery=delivery,
                    company_fallback=company_fallback, plugin_user_id=plugin_user_id)


def event_from_dict(body: Any, connection: str = KIND, *,
                    bounds: Bounds | None = None) -> TicketEvent:
    """What the receiver makes of ``body``, for ``explain`` and ``rules test``: read, then
    held to the same id/text checks and (given ``bounds``, the rules' ``limits.input``) the
    same number bounds; raises :class:`FormatError` with the receiver's field errors.

    There is no connection: no ``company_from`` mapping, no plugin user; the delivery id is
    the hash of the body (as the receiver's when no ``X-Deskpilot-Delivery`` is sent).
    """
    raw = json.dumps(body, sort_keys=True, default=str).encode()
    event = read_event(body, connection=connection, delivery=hashlib.sha256(raw).hexdigest())
    check_event(event)
    if bounds is not None:
        check_numbers(event, bounds)
    return event
