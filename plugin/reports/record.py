"""Keep :class:`TicketMetrics` current: one call per processed event, inside its transaction.

Durations are counted in working time of the ticket's calendar when they happen, minus the
pauses (waiting for the client), so reports only sum stored numbers and never recompute
calendars over history.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from plugin.reports.metrics import BREACHES
from plugin.reports.models import DIMENSIONS, TicketMetrics
from plugin.storage.models import Ticket
from rules.calendar import Calendar
from rules.calendar.business_time import working_between
from rules.decision import Decision
from rules.event import EventType, TicketEvent
from rules.items import count, seen_of
from rules.lifecycle import DONE, ENDED

#: statuses in which the clock stands still (the shipped rules' ``pause_when``); the
#: decision's own pause list wins when the engine provides one
PAUSE_STATUSES = frozenset({"waiting_client"})

Interval = tuple[datetime, datetime | None]


def record_event(
    session: Session,
    ticket_row: Ticket,
    event: TicketEvent,
    decision: Decision | None,
    now: datetime,
    calendar: Calendar,
) -> TicketMetrics | None:
    """Update the ticket's metrics row for ``event``; None for events that mean nothing here.

    ``ticket_row`` must be flushed (it needs its id); ``calendar`` is the ticket's working
    calendar (the one its deadlines were counted in). ``now`` bounds open pauses only. The
    row is written with the rest of the transaction, at its next flush (one flush per job).
    """
    if event.own_write or event.event == EventType.UNKNOWN:
        return None
    # lock_ticket(related=True) found no metrics row: no query for it
    missing: set[int] = session.info.get("deskpilot.no-metrics", set())
    m = None if ticket_row.id in missing else session.get(TicketMetrics, ticket_row.id)
    if m is None:
        missing.discard(ticket_row.id)
        # the opening request is the client's first message of the correspondence
        m = TicketMetrics(
            ticket_id=ticket_row.id, accept_breached=0, first_response_breached=0,
            reopen_count=0, messages_client=1, messages_agent=0, logged_minutes=0,
            paused_minutes=0.0, state={},
        )
        session.add(m)
    for name in DIMENSIONS:
        setattr(m, name, getattr(ticket_row, name))
    at = event.occurred_at
    state: dict[str, Any] = dict(m.state or {})
    start = _clock_start(ticket_row, event, decision)
    m.clock_start = start
    if m.last_activity_at is None or at > m.last_activity_at:
        m.last_activity_at = at
    old = m.last_status if m.last_status is not None else _old_status(event)
    new = event.ticket.status or old
    pauses = _update_pauses(state, decision, old, new, at)
    closed_pauses = [(a, b if b is not None else min(at, now)) for a, b in pauses]

    def minutes_to(t: datetime) -> float:
        if start is None:
            return 0.0
        spent = working_between(start, t, calendar, [p for p in closed_pauses if p[0] < t])
        return max(0.0, round(spent.total_seconds() / 60, 2))

    tr = decision.transitions if decision is not None else None
    if m.accepted_at is None and ((tr and tr.accepted) or new not in (None, "new")):
        m.accepted_at = at
        m.accept_minutes = minutes_to(at)
        due = _due(decision, ticket_row, "accept_due")
        m.accept_breached = int(due is not None and at > due)
        if m.accept_breached:
            BREACHES.labels(kind="accept").inc()
    if (tr and tr.reopened) or (old in DONE and new is not None and new not in ENDED):
        m.reopen_count += 1
    resolved_now = new in DONE and old not in DONE
    if tr is not None and (tr.resolved or tr.auto_closed) and old not in DONE:
        resolved_now = True
    if resolved_now:
        _resolve(m, ticket_row, event, decision, at, minutes_to(at))
    if new == "closed" and old != "closed":
        m.closed_at = at
    # the same comment or time entry delivered twice counts once (rules.items), as the
    # engine counts it, on the metrics' own record of what was applied
    counted = count(event, seen_of(m.logged_minutes, state.get("comments"), state.get("time")))
    if counted.event.comment is not None and counted.event.comment.public:
        _count_message(m, counted.event, decision, ticket_row, at, minutes_to)
    state["comments"] = list(counted.seen.comments)
    state["time"] = [list(pair) for pair in counted.seen.entries]
    m.logged_minutes = counted.seen.logged_minutes
    if event.rating is not None:
        m.rating_score, m.rating_scale, m.rated_at = event.rating.score, event.rating.scale, at
    estimate = event.ticket.custom_fields.get("estimate_hours")
    if estimate is None and decision is not None:
        estimate = decision.ticket_facts.get("estimate_hours")
    if estimate not in (None, ""):
        m.estimate_hours = float(estimate)
    m.paused_minutes = round(
        sum(working_between(a, b, calendar).total_seconds() for a, b in closed_pauses) / 60, 2
    )
    m.last_status = new
    m.state = state
    return m


def _clock_start(ticket: Ticket, event: TicketEvent, decision: Decision | None) -> datetime | None:
    if decision is not None and decision.deferred_to is not None:
        return decision.deferred_to
    return ticket.deferred_to or ticket.filed_at or event.ticket.created_at


def _old_status(event: TicketEvent) -> str | None:
    change = event.changes.get("status")
    if change:
        return change[0]
    # first sight of a ticket that is not being filed: it was in its current status already
    return None if event.event == EventType.CREATED else event.ticket.status


def _due(decision: Decision | None, ticket: Ticket, name: str) -> datetime | None:
    value = getattr(decision, name, None) if decision is not None else None
    return value if value is not None else getattr(ticket, name)


def _update_pauses(
    state: dict[str, Any], decision: Decision | None, old: str | None, new: str | None,
    at: datetime,
) -> list[Interval]:
    if decision is not None and "pauses" in decision.ticket_facts:
        pauses = [(a, b) for a, b in decision.ticket_facts["pauses"]]
    else:
        pauses = [_parse(p) for p in state.get("pauses", [])]
        is_open = bool(pauses) and pauses[-1][1] is None
        if new in PAUSE_STATUSES and not is_open:
            pauses.append((at, None))
        elif new not in PAUSE_STATUSES and is_open:
            pauses[-1] = (pauses[-1][0], at)
    state["pauses"] = [[a.isoformat(), b.isoformat() if b else None] for a, b in pauses]
    return pauses


def _parse(raw: Sequence[str | None]) -> Interval:
    a, b = raw
    assert a is not None
    return datetime.fromisoformat(a), datetime.fromisoformat(b) if b else None


def _resolve(m: TicketMetrics, ticket: Ticket, event: TicketEvent, decision: Decision | None,
             at: datetime, minutes: float) -> None:
    # the latest resolution counts; after a reopening it replaces the earlier one
    m.first_resolved_at = m.first_resolved_at or at
    m.resolved_at = at
    m.resolution_minutes = minutes
    due = _due(decision, ticket, "resolve_due")
    m.resolve_due = due
    m.resolved_on_time = None if due is None else int(at <= due)
    if m.resolved_on_time == 0:
        BREACHES.labels(kind="resolve").inc()
    if event.actor.kind == "agent" and event.actor.id:
        m.resolved_by = event.actor.id
    else:
        m.resolved_by = event.ticket.assignee_id or ticket.manager


def _count_message(m: TicketMetrics, event: TicketEvent, decision: Decision | None,
                   ticket: Ticket, at: datetime, minutes_to: Any) -> None:
    comment = event.comment
    assert comment is not None
    kind = comment.author.kind if comment.author.kind != "system" else event.actor.kind
    if kind == "client":
        m.messages_client += 1
    elif kind == "agent":
        m.messages_agent += 1
        if m.first_response_at is None:
            m.first_response_at = at
            m.first_response_minutes = minutes_to(at)
            due = _due(decision, ticket, "first_response_due")
            m.first_response_breached = int(due is not None and at > due)
            if m.first_response_breached:
                BREACHES.labels(kind="first_response").inc()
