"""What the receiver holds every parsed event to before anything is stored: ids, short texts
and bounded numbers. Pure (moved from ``webhooks/ids.py`` so that ``rules explain`` and
``rules test`` refuse exactly what the receiver refuses).

Ids are data, never paths: what an inbound id may look like, per host kind.

A ticket id from a payload later becomes a segment of the host API's URL (and a database
key), so the receiver holds every id to the host's own shape before anything is stored:
the numeric helpdesks (Zammad, Zendesk, Freshdesk, Redmine, django-helpdesk) number their
tickets, the generic format takes a safe charset. Ids, subjects and company ids carry no
NUL or other control character (PostgreSQL refuses a NUL in text; a control character in a
note or a CSV is an injection). A failure is a 422 naming the field. Outbound, every path
segment is percent-encoded anyway (``plugin.hosts.base.segment``): the two defences are
independent.

Numbers from outside are held to ``limits.input`` (rules/bounds.py): a value out of its
range is a 422 naming the field, answered in the request's own time, so no unit count,
estimate or time entry can cost a worker more than milliseconds later. So are the years of
every instant an event carries (``limits.input.years``): when it occurred, when its ticket
was created, and any date in its custom fields or changes (an ISO 8601 value with an
offset, as the engine reads a due date), since deadlines and reports walk working time
between them.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import Any

from rules.bounds import Bounds
from rules.event import TicketEvent
from rules.generic_format import LOCALE_LIMIT, FormatError

#: the longest id kept (the events table's ``ticket_id`` column is 200; ids are far shorter)
ID_LIMIT = 100
#: the numeric helpdesks' ticket ids (Zammad, Zendesk, Freshdesk, Redmine and django-helpdesk
#: number tickets with database integer keys)
NUMERIC = re.compile(r"[1-9][0-9]{0,18}")
#: the generic format's ids: letters, digits and ``. _ : @ + = ~ -``, starting with a letter
#: or digit (so never ``.`` or ``..``); no ``/ ? # %``, no space
SAFE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:@+=~-]{0,99}")
#: C0 controls, DEL and C1 controls
CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
#: NUL, which no PostgreSQL text column stores (other controls are fine in free text)
NUL = "\x00"
#: the JSON path of the ticket id in each host's payload (for the 422's field name)
TICKET_ID_FIELD = {"redmine": "payload.issue.id"}
#: the JSON path of the requester's locale where a host's body carries one (the 422's field
#: name): the generic format's own key, our Zendesk and Freshdesk templates' placeholder
LOCALE_FIELD = {"zendesk": "ticket.requester.language",
                "freshdesk": "ticket.requester.language"}
SUBJECT_LIMIT = 1000
#: the JSON path of the ticket's creation instant where it is not the generic name
CREATED_FIELD = {"redmine": "payload.issue.created_on", "freshdesk": "ticket.created_on"}


def fail(field: str, message: str) -> FormatError:
    return FormatError(f"invalid payload at {field}", {field: [message]})


def check_id(value: str | None, field: str, *, shape: re.Pattern[str] | None = None,
             what: str = "") -> None:
    """Refuse an id that is too long, carries a control character or misses ``shape``."""
    if value is None:
        return
    if CONTROL.search(value):
        raise fail(field, "must not contain control characters")
    if len(value) > ID_LIMIT:
        raise fail(field, f"must be at most {ID_LIMIT} characters")
    if shape is not None and not shape.fullmatch(value):
        raise fail(field, what or "has characters an id cannot have")


def check_event(event: TicketEvent) -> None:
    """Hold one parsed event's ids and short texts to the rules above (raise 422)."""
    kind = event.host_kind
    generic = kind == "generic"
    shape, what = ((SAFE, "must be letters, digits and . _ : @ + = ~ - (starting with a "
                          "letter or digit), at most 100") if generic
                   else (NUMERIC, "must be the host's numeric ticket id"))
    ticket = event.ticket
    check_id(ticket.id, TICKET_ID_FIELD.get(kind, "ticket.id"), shape=shape, what=what)
    check_id(event.merged_into, "merged_into", shape=shape, what=what)
    if ticket.company is not None:
        check_id(ticket.company.id, "ticket.company.id")
        _text(ticket.company.name, "ticket.company.name", controls=True)
    for value, field in ((ticket.requester_id, "ticket.requester.id"),
                         (ticket.assignee_id, "ticket.assignee.id"),
                         (event.actor.id, "actor.id")):
        check_id(value, field)
    if event.comment is not None:
        check_id(event.comment.id, "comment.id", shape=SAFE if generic else None)
        check_id(event.comment.author.id, "comment.author.id")
        _text(event.comment.body, "comment.body", controls=False)
    if event.time_entry is not None:
        check_id(event.time_entry.id, "time_entry.id", shape=SAFE if generic else None)
        check_id(event.time_entry.agent_id, "time_entry.agent_id")
        _text(event.time_entry.note, "time_entry.note", controls=False)
    _text(ticket.subject, "ticket.subject", controls=True)
    if len(ticket.subject) > SUBJECT_LIMIT:
        raise fail("ticket.subject", f"must be at most {SUBJECT_LIMIT} characters")
    _text(ticket.body, "ticket.body", controls=False)
    _locale(ticket.requester_locale, LOCALE_FIELD.get(kind, "ticket.requester.locale"))
    for tag in ticket.tags:
        _text(tag, "ticket.tags", controls=True)


def _text(value: str | None, field: str, *, controls: bool) -> None:
    """Free text keeps tabs and line breaks; one-line texts keep no control at all."""
    if not value:
        return
    if NUL in value:
        raise fail(field, "must not contain NUL characters")
    if controls and CONTROL.search(value.replace("\t", " ")):
        raise fail(field, "must not contain control characters")


def _locale(value: str | None, field: str) -> None:
    """The requester's locale is a short one-line text: the generic format's bound
    (``LOCALE_LIMIT``) holds for what every host adapter reads too."""
    _text(value, field, controls=True)
    if value is not None and len(value) > LOCALE_LIMIT:
        raise fail(field, f"must be at most {LOCALE_LIMIT} characters")


def check_numbers(event: TicketEvent, bounds: Bounds) -> None:
    """Raise :class:`FormatError` (a 422) for a bounded number out of its range, or an
    instant whose year lies outside ``limits.input.years``."""
    errors = {f"ticket.custom_fields.{key}": [problem]
              for key, problem in bounds.field_problems(event.ticket.custom_fields).items()}
    if event.time_entry is not None:
        problem = bounds.range("time_minutes").problem(event.time_entry.minutes)
        if problem:
            errors["time_entry.minutes"] = [problem]
    for field, value in instants(event):
        problem = bounds.year_problem(value)
        if problem:
            errors.setdefault(field, [problem])
    if errors:
        raise FormatError("a value is out of its range (limits.input)", errors)


def instants(event: TicketEvent) -> Iterator[tuple[str, datetime]]:
    """``(JSON path, instant)`` for every instant ``event`` carries."""
    yield "occurred_at", event.occurred_at
    yield CREATED_FIELD.get(event.host_kind, "ticket.created_at"), event.ticket.created_at
    yield from _dated(event.ticket.custom_fields, "ticket.custom_fields.")
    for key, pair in event.changes.items():
        yield from _dated(dict(enumerate(pair)), f"changes.{key}", keyed=False)


def _dated(values: Mapping[Any, Any], prefix: str, *,
           keyed: bool = True) -> Iterator[tuple[str, datetime]]:
    for key, value in values.items():
        when = as_instant(value)
        if when is not None:
            yield (f"{prefix}{key}" if keyed else prefix), when


def as_instant(value: Any) -> datetime | None:
    """An aware datetime, or an ISO 8601 text with an offset read as one (as the engine
    reads a due date); None for anything else (a plain date, a number, free text)."""
    if isinstance(value, datetime):
        return value if value.utcoffset() is not None else None
    if not isinstance(value, str) or not 16 <= len(value) <= 40 or value[4:5] != "-":
        return None
    text = value[:-1] + "+00:00" if value.endswith(("Z", "z")) else value
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed if parsed.utcoffset() is not None else None
