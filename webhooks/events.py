"""Re-export of the event model, so adapters import it from the receiver package."""

from rules.event import (
    ACTOR_KINDS,
    CHANNELS,
    PRIORITIES,
    STATUSES,
    Actor,
    Comment,
    Company,
    EventType,
    Rating,
    Ticket,
    TicketEvent,
    TimeEntry,
)

__all__ = [
    "ACTOR_KINDS", "CHANNELS", "PRIORITIES", "STATUSES", "Actor", "Comment", "Company",
    "EventType", "Rating", "Ticket", "TicketEvent", "TimeEntry",
]
