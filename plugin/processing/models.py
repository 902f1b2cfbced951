"""Tables of the workers: ticket timers and daily-cap slots.

Timers live in the database (not in Redis) so a flushed Redis loses none; the scheduler
re-arms itself from them at every tick. Cap slots count, per company and working day of the
team calendar, the tasks whose clocks start that day.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from plugin.storage.models import Base


class TimerKind:
    """What a ticket timer checks when it fires."""

    #: accept_due passed and the ticket is still not accepted
    ACCEPT_OVERDUE = "accept_overdue"
    #: a deadline is near (working time before it)
    BREACH_WARNING = "breach_warning"
    #: resolved / waiting for the client with no client reply for N days
    AUTO_CLOSE = "auto_close"
    #: a deferred task's clocks start
    DEFERRED_START = "deferred_start"

    ALL = (ACCEPT_OVERDUE, BREACH_WARNING, AUTO_CLOSE, DEFERRED_START)


class TimerState:
    """States of a ticket timer."""

    ARMED = "armed"
    FIRED = "fired"
    CANCELLED = "cancelled"


class TicketTimer(Base):
    """One pending check of one ticket; at most one per (ticket, kind)."""

    __tablename__ = "ticket_timers"
    __table_args__ = (
        UniqueConstraint("ticket_pk", "kind", name="uq_ticket_timers_kind"),
        Index("ix_ticket_timers_due", "state", "due_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    ticket_pk: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(32))
    due_at: Mapped[datetime] = mapped_column()
    state: Mapped[str] = mapped_column(String(16), default=TimerState.ARMED)
    fired_at: Mapped[datetime | None] = mapped_column()
    last_error: Mapped[str | None] = mapped_column(Text)


class CapSlot(Base):
    """The working day whose daily-cap slot a ticket takes (one per ticket)."""

    __tablename__ = "cap_slots"
    __table_args__ = (Index("ix_cap_slots_company_day", "company_id", "day"),)

    ticket_pk: Mapped[int] = mapped_column(
        ForeignKey("tickets.id", ondelete="CASCADE"), primary_key=True
    )
    company_id: Mapped[str] = mapped_column(String(100))
    day: Mapped[date] = mapped_column(Date)
