"""Helpers for the reports tests: build events and run them through the metrics recorder."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from plugin.processing.process import upsert_ticket
from plugin.reports.record import record_event
from plugin.storage.models import Ticket
from rules.calendar import Calendar, load_calendars
from rules.event import Actor, Comment, Company, Rating, TicketEvent, TimeEntry
from rules.event import Ticket as EvTicket

ROOT = Path(__file__).resolve().parents[1]


def team_calendar() -> Calendar:
    return load_calendars(ROOT / "config" / "calendars.yaml")["default"]


class History:
    """One ticket's events, applied in order the way the processing job applies them."""

    def __init__(self, session: Session, cal: Calendar, tid: str, filed: datetime,
                 company: str = "acme", priority: str = "normal", **row: Any):
        self.session, self.cal, self.tid, self.filed = session, cal, tid, filed
        self.company, self.priority, self.status = company, priority, "new"
        self.row_values = row
        self.n = 0
        self.ticket: Ticket | None = None

    def event(self, kind: str, at: datetime, status: str | None = None,
              actor: str = "agent", **extra: Any) -> Ticket:
        self.n += 1
        changes = {}
        if status is not None and status != self.status:
            changes["status"] = (self.status, status)
            self.status = status
        ev = TicketEvent(
            connection="generic", host_kind="generic", delivery_key=f"{self.tid}-{self.n}",
            event=kind, occurred_at=at,
            ticket=EvTicket(id=self.tid, created_at=self.filed, company=Company(self.company),
                            priority=self.priority, status=self.status,
                            assignee_id=extra.pop("assignee", "ihor"),
                            custom_fields=extra.pop("fields", {})),
            actor=Actor(actor, "ihor" if actor == "agent" else "u-1"),
            changes=changes, **extra,
        )
        ticket = upsert_ticket(self.session, ev)
        for key, value in self.row_values.items():
            setattr(ticket, key, value)
        record_event(self.session, ticket, ev, None, at, self.cal)
        self.ticket = ticket
        return ticket

    def filed_(self) -> Ticket:
        return self.event("ticket.created", self.filed, actor="client")

    def status_(self, at: datetime, status: str) -> Ticket:
        return self.event("ticket.updated", at, status=status)

    def reply(self, at: datetime, who: str = "agent", cid: str | None = None) -> Ticket:
        return self.event("ticket.commented", at, actor=who,
                          comment=Comment(cid or f"c{self.n}", True, "…", Actor(who)))

    def note(self, at: datetime) -> Ticket:
        return self.event("ticket.commented", at, comment=Comment(f"n{self.n}", False, "…"))

    def time(self, at: datetime, entry: str, minutes: int, kind: str = "time.logged") -> Ticket:
        return self.event(kind, at, time_entry=TimeEntry(entry, minutes))

    def rate(self, at: datetime, score: int, scale: int = 5) -> Ticket:
        return self.event("rating.submitted", at, actor="client", rating=Rating(score, scale))
