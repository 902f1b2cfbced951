"""``process_event``: one stored webhook → rules → one transaction of state, credits, outbox.

Flow per event: lock the event row, re-parse it, skip own writes (loop guard), then per
ticket event: lock the ticket row (``SELECT … FOR UPDATE`` on PostgreSQL; SQLite serialises
writers at ``BEGIN IMMEDIATE``), load the facts, evaluate the rules, apply the decision
(ticket state, ledger, outbox rows, timers) and mark the event processed — all in one
transaction. Push jobs are enqueued after it commits.

Ordering: a delivery older than the ticket's last processed event (by the event's own
``occurred_at``) is *late*: its snapshot is not applied (status and deadlines never go
back); only what it adds (a comment, a time entry, a rating) is evaluated, against the
newest snapshot.
"""

from __future__ import annotations

import dataclasses
import logging
from datetime import date, datetime
from functools import cache
from typing import Any

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session

from plugin import rules_runtime
from plugin.context import Context, get_context
from plugin.outbox.inline import Claimed, claim_inline, may_claim_on_insert, push_claimed
from plugin.outbox.push import client_for
from plugin.outbox.rows import enqueue_after_commit
from plugin.processing.apply import Applied, apply_decision
from plugin.processing.state import load_state, stored_snapshot
from plugin.processing.tickets import (
    ensure_company,
    lock_ticket,
    outbox_used,
    start_new_life,
    take_snapshot,
)
from plugin.processing.visibility import confirm_visibility
from plugin.reports.record import record_event
from plugin.settings import Connection
from plugin.storage.db import utcnow
from plugin.storage.models import Event, EventState, Ticket
from rules.config.model import RuleSet
from rules.decision import Decision, iso
from rules.engine import evaluate
from rules.event import EventType, TicketEvent
from rules.items import with_known_locale, with_total
from rules.lifecycle import GONE
from webhooks.hosts import ADAPTERS

log = logging.getLogger("deskpilot.jobs")


def parse_stored(event: Any, conn: Connection) -> list[TicketEvent]:
    """Re-parse a stored raw event (an :class:`Event` or a row with its ``body`` and
    ``headers``) with its connection's adapter (pure)."""
    adapter = ADAPTERS[conn.kind]
    return list(adapter.parse(event.body, event.headers or {}, conn))


def current_rules(ctx: Context) -> RuleSet:
    """The rules for this job: a test's, else the hot-reloading holder's (last good rules)."""
    given = ctx.extras.get("rules")
    if given is not None:
        return given() if callable(given) else given
    holder = ctx.extras.get("rules-holder")
    if holder is None:
        # resolved once per process: the holder itself re-checks the files every 2 s
        holder = ctx.extras["rules-holder"] = rules_runtime.holder_for(ctx.settings.config_dir)
    return holder.rules


def upsert_ticket(session: Session, ev: TicketEvent) -> Ticket:
    """The ticket row for ``ev`` (created on first sight) with its snapshot, unless late."""
    ticket = lock_ticket(session, ev.connection, ev.ticket.id, ev)
    assert ticket is not None
    if ticket.last_event_at is None or ev.occurred_at >= ticket.last_event_at:
        ticket.facts = {**(ticket.facts or {}), "snapshot": take_snapshot(session, ticket, ev)}
        if ev.ticket.status:
            ticket.status = ev.ticket.status
    session.flush()
    return ticket


def team_today(rules: RuleSet, now: datetime) -> date:
    cal = rules.calendars[rules.team_calendar]
    return now.astimezone(cal.tz).date()


def process_ticket_event(session: Session, ticket: Ticket, ev: TicketEvent, rules: RuleSet,
                         now: datetime, source_key: str,
                         claim_at: datetime | None = None) -> Applied:
    """Evaluate one ticket event against the stored facts and apply the decision.

    Nothing is written to the ticket row before the ledger has run, so the transaction
    updates it once (an autoflush between two writes would cost a second UPDATE).
    """
    if ev.event == EventType.CREATED and ticket.status == GONE:
        start_new_life(session, ticket)
        log.info("job.ticket-new-life ticket=%s (a creation under a deleted ticket's id)",
                 ticket.host_ticket_id)
    late = ticket.last_event_at is not None and ev.occurred_at < ticket.last_event_at
    snapshot: TicketEvent | None = None
    company_id = ticket.company_id
    if late:
        # the total logged time it reported is its own (rules.items.with_total)
        newest = with_total(stored_snapshot(ticket) or ev.ticket, ev.ticket)
        ev = dataclasses.replace(ev, ticket=newest, changes={})
        log.info("job.event-late ticket=%s occurred_at=%s", ticket.host_ticket_id,
                 iso(ev.occurred_at))
    else:
        if ev.ticket.requester_locale is None and ticket.facts:  # else nothing to decode
            known = with_known_locale(ev.ticket, stored_snapshot(ticket))
            if known is not ev.ticket:
                ev = dataclasses.replace(ev, ticket=known)
        snapshot = ev
        if ev.ticket.company is not None:
            company_id = ev.ticket.company.id
            if company_id != ticket.company_id:
                # moved to another company: the ledger must post to the new one
                ensure_company(session, ev.ticket.company)
                ticket.company_id = company_id
    # lifecycle instants are the event's own time (as `rules explain` does), never later
    # than the job's clock
    at = min(ev.occurred_at, now)
    state, credits = load_state(session, ticket, company_id, team_today(rules, at), at)
    decision = evaluate(rules, ev, state, at, explain=False)
    if decision.ignored:
        if snapshot is not None:
            ticket.facts = {**(ticket.facts or {}),
                            "snapshot": take_snapshot(session, ticket, snapshot)}
        return Applied()
    applied = apply_decision(session, ticket, decision, state, rules, source_key=source_key,
                             now=now, snapshot=snapshot, credits=credits, claim_at=claim_at)
    record_metrics(session, ticket, ev, decision, rules, at)
    return applied


def record_metrics(session: Session, ticket: Ticket, ev: TicketEvent, decision: Decision,
                   rules: RuleSet, at: datetime) -> None:
    """Keep the reports' per-ticket metrics in the same transaction."""
    cal = rules.calendars.get(decision.calendar) or rules.calendars[rules.default_calendar]
    record_event(session, ticket, ev, decision, at, cal)


_EVENT_COLUMNS = ("id", "connection", "received_at", "headers", "body", "state")


@cache
def _event_query(lock: bool) -> Any:
    table: Any = Event.__table__
    q = select(*(table.c[c] for c in _EVENT_COLUMNS)).where(table.c.id == bindparam("id"))
    return q.with_for_update() if lock else q


@cache
def _event_done() -> Any:
    table: Any = Event.__table__
    return (update(table).where(table.c.id == bindparam("event_id"))
            .values(attempts=table.c.attempts + 1))


def _load_event(session: Session, event_id: int, lock: bool) -> Any:
    """The stored event's columns processing reads (``FOR UPDATE`` on PostgreSQL), or None.

    Core, not the ORM: the job reads a handful of columns and writes three, once; loading and
    flushing an ORM object for that cost more than the statements themselves.
    """
    return session.execute(_event_query(lock), {"id": event_id}).first()


def _mark_event(session: Session, event_id: int, state: str, now: datetime,
                error: str | None = None) -> str:
    """Record one processing attempt's outcome on the event row (in the job's transaction)."""
    processed = now if state in (EventState.PROCESSED, EventState.IGNORED) else None
    session.execute(_event_done(), {"event_id": event_id, "state": state,
                                    "processed_at": processed, "last_error": error})
    return state


def process_event(event_id: int, now: datetime | None = None) -> str:
    """Process stored event ``event_id`` once; a second run of a processed event is a no-op."""
    ctx = get_context()
    now = now or utcnow()
    with ctx.db.session() as session:
        row = _load_event(session, event_id, lock=ctx.db.dialect == "postgresql")
        if row is None:
            log.warning("job.event-missing id=%s", event_id)
            return "missing"
        if row.state in (EventState.PROCESSED, EventState.IGNORED):
            return str(row.state)
        conn = ctx.settings.connection(row.connection)
        if conn is None:
            return _mark_event(session, row.id, EventState.FAILED, now,
                               "connection no longer configured")
        events = [ev for ev in parse_stored(row, conn) if ev.event != EventType.UNKNOWN]
        # loop guard: our own writes echoed back trigger no processing and no debit
        mine = [ev for ev in events if not ev.own_write]
        if not mine:
            return _mark_event(session, row.id, EventState.IGNORED, now,
                               "own write echoed back" if events else "event type not acted on")
        # a comment without a visibility flag (Redmine 7 core): its host decides, before the
        # rules count it; no answer fails the job, which is retried
        mine = confirm_visibility(mine, lambda: client_for(ctx, conn, inline=True))
        rules = current_rules(ctx)
        touched: set[tuple[str, str]] = set()
        claimed: list[Claimed] = []
        for n, ev in enumerate(mine):
            ticket = lock_ticket(session, row.connection, ev.ticket.id, ev, related=True)
            assert ticket is not None
            applied = process_ticket_event(
                session, ticket, ev, rules, now, source_key=f"event:{row.id}:{n}",
                claim_at=now if may_claim_on_insert(ctx, session, ticket) else None)
            if applied.claimed is not None:
                claimed.append(Claimed(conn, ticket.host_ticket_id, applied.claimed))
            elif applied.outbox:
                touched.add((ticket.connection, ticket.host_ticket_id))
            if applied.outbox:
                outbox_used(session, ticket)
        _mark_event(session, row.id, EventState.PROCESSED, now)
        inline, queued = claim_inline(ctx, session, touched, now)
        inline = claimed + inline
        enqueue_after_commit(session, lambda: ctx.redis, queued, salt=f"e{row.id}")
        received = {row.id: row.received_at}
    push_claimed(ctx, inline, now, received)
    log.info("job.event-processed id=%s", event_id)
    return EventState.PROCESSED
