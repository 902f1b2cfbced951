"""The fields a condition may read, by dotted path, and how each is read from a context.

A path is resolved once at load time into a getter, so evaluation is a function call.
Prefix paths (``ticket.custom_fields.<name>``, ``changes.<field>``) take any suffix.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from rules.decision import State
from rules.event import TicketEvent


@dataclass
class Context:
    """What conditions see: the event, stored facts, the clock and the current classification."""

    event: TicketEvent
    state: State
    now: datetime
    tz: ZoneInfo
    task_type: str | None = None
    units: int | None = None
    transitions: frozenset[str] = frozenset()
    #: is_open(now) in the applicable calendar, filled lazily by the engine
    working_now: Callable[[], bool] | None = None
    #: build per-condition traces and deadline timelines (explain); off on the hot path
    explain: bool = True
    extra: dict[str, Any] = field(default_factory=dict)
    #: the ticket's logged minutes after this event (the engine counts them, rules.items)
    logged_minutes: int | None = None


Getter = Callable[[Context], Any]

_WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def _tasks_today(c: Context) -> int:
    if c.state.tasks_today is not None:
        return c.state.tasks_today
    return c.state.company.started_by_day.get(c.now.astimezone(c.tz).date(), 0)


def _idle_days(c: Context) -> float:
    if c.state.client_idle_days is not None:
        return c.state.client_idle_days
    since = c.state.ticket.last_client_activity_at or c.state.ticket.waiting_since
    return (c.now - since).total_seconds() / 86400 if since else 0.0


def logged_minutes(c: Context) -> int:
    """The ticket's logged minutes with this event's (as counted by the engine)."""
    if c.logged_minutes is not None:
        return c.logged_minutes
    extra = (
        c.event.time_entry.minutes if c.event.time_entry and c.event.event == "time.logged" else 0
    )
    return c.state.ticket.logged_minutes + extra


FIELDS: dict[str, Getter] = {
    "event": lambda c: c.event.event,
    "ticket.id": lambda c: c.event.ticket.id,
    "ticket.subject": lambda c: c.event.ticket.subject,
    "ticket.body": lambda c: c.event.ticket.body,
    "ticket.text": lambda c: f"{c.event.ticket.subject}\n{c.event.ticket.body}",
    "ticket.tags": lambda c: list(c.event.ticket.tags),
    "ticket.priority": lambda c: c.event.ticket.priority,
    "ticket.status": lambda c: c.event.ticket.status,
    "ticket.channel": lambda c: c.event.ticket.channel,
    "ticket.assignee": lambda c: c.event.ticket.assignee_id,
    "ticket.requester.email": lambda c: c.event.ticket.requester_email,
    "ticket.company.id": lambda c: c.event.ticket.company.id if c.event.ticket.company else None,
    "ticket.company.name": lambda c: (
        c.event.ticket.company.name if c.event.ticket.company else None
    ),
    "ticket.type": lambda c: c.task_type,
    "ticket.units": lambda c: c.units,
    "ticket.logged_minutes": logged_minutes,
    "ticket.reopen_count": lambda c: c.state.ticket.reopen_count,
    "ticket.client_idle_days": _idle_days,
    # the filing notice "credits do not cover this task" went out (issue 17)
    "ticket.short_noticed": lambda c: c.state.ticket.short_noticed,
    "ticket.accepted": lambda c: (
        c.state.ticket.accepted_at is not None or "accepted" in c.transitions
    ),
    "ticket.filed.weekday": lambda c: _WEEKDAYS[
        c.event.ticket.created_at.astimezone(c.tz).weekday()
    ],
    "ticket.filed.time": lambda c: c.event.ticket.created_at.astimezone(c.tz).strftime("%H:%M"),
    "actor.kind": lambda c: c.event.actor.kind,
    "actor.id": lambda c: c.event.actor.id,
    "comment.public": lambda c: c.event.comment.public if c.event.comment else None,
    "comment.author.kind": lambda c: c.event.comment.author.kind if c.event.comment else None,
    "comment.body": lambda c: c.event.comment.body if c.event.comment else None,
    "time_entry.minutes": lambda c: c.event.time_entry.minutes if c.event.time_entry else None,
    "rating.score": lambda c: c.event.rating.score if c.event.rating else None,
    "company.known": lambda c: c.state.company.known,
    "company.tasks_today": _tasks_today,
    "company.credits_available": lambda c: c.state.company.credits_available,
    "company.manager": lambda c: c.extra.get("manager", c.state.company.manager),
    "transition": lambda c: sorted(c.transitions),
    "decision.flags": lambda c: list(c.extra.get("flags", ())),
    "now.weekday": lambda c: _WEEKDAYS[c.now.astimezone(c.tz).weekday()],
    "now.time": lambda c: c.now.astimezone(c.tz).strftime("%H:%M"),
    "now.working": lambda c: bool(c.working_now()) if c.working_now else None,
}

#: the list fields without the copy their getters make for explain's trace; only for
#: operators that read the value as a collection (contains, contains_any)
RAW_COLLECTIONS: dict[str, Getter] = {
    "ticket.tags": lambda c: c.event.ticket.tags,
    "transition": lambda c: c.transitions,
    "decision.flags": lambda c: c.extra.get("flags", ()),
}

#: path prefixes taking any suffix, and how the suffix is read
PREFIXES: dict[str, Callable[[str], Getter]] = {
    "ticket.custom_fields.": lambda name: lambda c: c.event.ticket.custom_fields.get(name),
    "changes.": lambda name: (
        lambda c: list(c.event.changes[name]) if name in c.event.changes else None
    ),
    "ticket.facts.": lambda name: lambda c: c.state.ticket.facts.get(name),
    "company.facts.": lambda name: lambda c: c.state.company.facts.get(name),
}


def resolve(path: str) -> Getter | None:
    """The getter for ``path``, or None when no field has that name."""
    if path in FIELDS:
        return FIELDS[path]
    for prefix, make in PREFIXES.items():
        if path.startswith(prefix) and len(path) > len(prefix):
            return make(path[len(prefix) :])
    return None


def field_names() -> list[str]:
    """Every field name, prefixes written as ``prefix<name>``, for did-you-mean and docs."""
    return [*FIELDS, *(p + "<name>" for p in PREFIXES)]
