"""The one event model every host adapter produces and the rules engine consumes.

Lives in ``rules/`` because the engine is pure and must not import the receiver; the
receiver re-exports it as ``webhooks.events``. Unknown host events become
``EventType.UNKNOWN`` (answered "ignored"), never an error.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any


class EventType:
    """The event names of the generic format (docs/generic-format.md, "Event names")."""

    #: a ticket was filed
    CREATED = "ticket.created"
    #: any change of a ticket's fields (status, type, units, assignee, …)
    UPDATED = "ticket.updated"
    #: a public reply or an internal note was added
    COMMENTED = "ticket.commented"
    #: time was logged on the ticket
    TIME_LOGGED = "time.logged"
    #: a time entry was changed
    TIME_UPDATED = "time.updated"
    #: a time entry was removed
    TIME_DELETED = "time.deleted"
    #: the client rated the ticket
    RATING = "rating.submitted"
    #: the ticket was merged into another (``merged_into``)
    MERGED = "ticket.merged"
    #: the ticket was deleted on the host
    DELETED = "ticket.deleted"
    #: anything else the host sent; kept, answered "ignored"
    UNKNOWN = "unknown"
    #: a ticket timer fired (the scheduler's, never a host's: not in :data:`ALL`)
    TIMER = "timer.tick"

    ALL = (
        CREATED, UPDATED, COMMENTED, TIME_LOGGED, TIME_UPDATED, TIME_DELETED,
        RATING, MERGED, DELETED,
    )


STATUSES = ("new", "accepted", "in_progress", "waiting_client", "on_hold", "resolved", "closed")
PRIORITIES = ("low", "normal", "high", "urgent")
CHANNELS = ("portal", "email", "phone", "chat", "api", "host")
ACTOR_KINDS = ("client", "agent", "system", "plugin")


@dataclass(frozen=True)
class Actor:
    """Who caused the event."""

    kind: str = "system"
    id: str | None = None
    name: str | None = None


@dataclass(frozen=True)
class Company:
    """The client company a ticket belongs to, as the connection resolved it.

    The id is canonical (:func:`company_key`): ``ACME`` and ``acme`` are one company.
    """

    id: str
    name: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "id", company_key(self.id))


def company_key(company_id: str) -> str:
    """The canonical company id: company ids are case-insensitive everywhere (receiver
    mappings, CLI, API, reports, rules), so every boundary stores and compares this form."""
    return str(company_id).strip().casefold()


@dataclass(frozen=True)
class Ticket:
    """A full snapshot of the ticket as the host sent it with the event."""

    id: str
    created_at: datetime
    company: Company | None = None
    requester_id: str | None = None
    requester_email: str | None = None
    #: the requester's locale as the host sends it (``en-US``, ``uk``): the language of
    #: client notes unless the company's is configured (rules.companies)
    requester_locale: str | None = None
    subject: str = ""
    body: str = ""
    tags: tuple[str, ...] = ()
    priority: str | None = None
    status: str | None = None
    channel: str | None = None
    assignee_id: str | None = None
    custom_fields: Mapping[str, Any] = field(default_factory=dict)
    organization: str | None = None
    project: str | None = None
    #: the reference the host shows for the ticket (django-helpdesk: queue slug and id,
    #: ``support-4``); None: ``#<id>``, as most hosts show it
    reference: str | None = None


@dataclass(frozen=True)
class Comment:
    """A reply (public) or internal note (not public)."""

    id: str | None
    public: bool
    body: str = ""
    author: Actor = field(default_factory=Actor)
    #: the host sent no visibility flag (Redmine 7 core journals): ``public`` is only the
    #: adapter's default, which the worker confirms with the host before the rules run
    unconfirmed: bool = False


@dataclass(frozen=True)
class TimeEntry:
    """Minutes a specialist logged."""

    id: str | None
    minutes: int
    agent_id: str | None = None
    billable: bool = True
    note: str | None = None


@dataclass(frozen=True)
class Rating:
    """A client's satisfaction score (1–5, or 0–10 for NPS)."""

    score: int
    scale: int = 5
    comment: str | None = None


@dataclass(frozen=True)
class TicketEvent:
    """One thing that happened to one ticket on one host, normalised."""

    connection: str
    host_kind: str
    delivery_key: str
    event: str
    occurred_at: datetime
    ticket: Ticket
    actor: Actor = field(default_factory=Actor)
    changes: Mapping[str, tuple[Any, Any]] = field(default_factory=dict)
    comment: Comment | None = None
    time_entry: TimeEntry | None = None
    rating: Rating | None = None
    merged_into: str | None = None
    #: set by the adapter when the plugin's own write came back (loop guard)
    own_write: bool = False

    def with_delivery_key(self, key: str) -> TicketEvent:
        return replace(self, delivery_key=key)
