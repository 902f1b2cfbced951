"""Ticket timers kept in the database: armed by the processing transaction, fired by the
scheduler.

Each ticket has at most one timer per kind (:class:`~plugin.processing.models.TimerKind`). They are
recomputed from the ticket's state every time a decision is applied, so they never drift
from it, and the scheduler reads them from the table at every tick: a flushed Redis or a
restarted scheduler loses none. When one fires, the engine's timer entry point decides what
it means and the decision goes through the same apply path as an event (debit once).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from plugin.processing.models import TicketTimer, TimerKind, TimerState
from plugin.storage.models import Ticket
from rules.calendar.business_time import next_open
from rules.calendar.model import Calendar
from rules.config.model import RuleSet
from rules.decision import TicketState
from rules.lifecycle import DONE, GONE

log = logging.getLogger("deskpilot.timers")

#: timers fired per scheduler tick (the rest wait for the next tick)
BATCH = 200


def _calendar(rules: RuleSet, st: TicketState) -> Calendar | None:
    cals = rules.calendars
    return cals.get(st.calendar or "") or cals.get(rules.default_calendar)


def _in_working_time(at: datetime, cal: Calendar | None) -> datetime:
    # breach warnings go out only inside working hours: never at night or on a weekend
    if cal is None:
        return at
    return next_open(at, cal)


def wanted_timers(st: TicketState, rules: RuleSet | None,
                  now: datetime) -> dict[str, datetime | None]:
    """When each kind of timer of this ticket should fire (None: not armed)."""
    out: dict[str, datetime | None] = dict.fromkeys(TimerKind.ALL)
    if st.status in ("closed", GONE) or rules is None:
        return out
    if rules.acceptance_overdue and st.accepted_at is None \
            and not st.escalated and st.accept_due is not None:
        out[TimerKind.ACCEPT_OVERDUE] = st.accept_due
    before = rules.breach_before_minutes
    if before and st.status not in DONE:
        # wall-clock "before" is never earlier than the working-time one, so a warning may be
        # a little late across a night but never early; the engine re-checks in working time
        candidates = [
            due - timedelta(minutes=before)
            for name in rules.breach_deadlines
            if name not in st.warned
            and (due := getattr(st, f"{name}_due", None)) is not None and due > now
        ]
        if candidates:
            out[TimerKind.BREACH_WARNING] = _in_working_time(max(min(candidates), now),
                                                             _calendar(rules, st))
    days = rules.auto_close_days
    if days is not None and st.status in rules.auto_close_statuses:
        since = max((d for d in (st.waiting_since, st.last_client_activity_at) if d),
                    default=None)
        if since is not None:
            out[TimerKind.AUTO_CLOSE] = since + timedelta(days=days)
    if st.deferred_to is not None and st.deferred_to > now:
        out[TimerKind.DEFERRED_START] = st.deferred_to
    return out


def _encoded(wanted: dict[str, datetime | None]) -> dict[str, str | None]:
    return {k: v.isoformat() if v is not None else None for k, v in wanted.items()}


def arm_ticket_timers(session: Session, ticket: Ticket, st: TicketState, rules: RuleSet,
                      now: datetime, known: Mapping[str, str | None] | None = None,
                      rows_exist: bool = True) -> dict[str, str | None]:
    """Bring the ticket's timer rows in line with its state (inside the caller's txn).

    ``known`` is what the last call returned (kept in the ticket's facts): when the wanted
    timers equal it, the rows already match and no statement is needed. ``rows_exist``
    False: the ticket has no timer rows (created in this transaction), none are read.
    Returns the wanted timers, ISO-encoded, for the caller to keep.
    """
    wanted = wanted_timers(st, rules, now)
    encoded = _encoded(wanted)
    if known == encoded:
        return encoded
    rows = {
        t.kind: t
        for t in session.execute(
            select(TicketTimer).where(TicketTimer.ticket_pk == ticket.id)
        ).scalars()
    } if rows_exist else {}
    for kind, due in wanted.items():
        row = rows.get(kind)
        if due is None:
            if row is not None and row.state == TimerState.ARMED:
                row.state = TimerState.CANCELLED
            continue
        if row is None:
            session.add(TicketTimer(ticket_pk=ticket.id, kind=kind, due_at=due,
                                    state=TimerState.ARMED))
        elif row.state != TimerState.ARMED or row.due_at != due:
            if row.state == TimerState.FIRED and row.due_at == due:
                continue  # already fired for this very instant: don't fire it twice
            row.due_at, row.state, row.last_error = due, TimerState.ARMED, None
    return encoded


def due_timers(session: Session, now: datetime, limit: int = BATCH) -> list[tuple[int, int]]:
    """(timer id, ticket pk) of armed timers due at ``now``, oldest first."""
    rows = session.execute(
        select(TicketTimer.id, TicketTimer.ticket_pk)
        .where(TicketTimer.state == TimerState.ARMED, TicketTimer.due_at <= now)
        .order_by(TicketTimer.due_at, TicketTimer.id)
        .limit(limit)
    ).all()
    return [(int(a), int(b)) for a, b in rows]
