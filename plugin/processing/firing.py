"""Firing ticket timers: the scheduler's task, each due timer through the same path as an event.

:mod:`plugin.processing.timers` arms the timers inside the processing transaction; this module
fires the due ones, each in its own transaction: the engine's timer entry point decides what
the timer means and :func:`~plugin.processing.apply.apply_decision` writes it (debit once).
"""

from __future__ import annotations

import logging
from datetime import datetime

from plugin.context import Context
from plugin.outbox.inline import Claimed, claim_inline, push_claimed
from plugin.outbox.rows import enqueue_after_commit
from plugin.processing.apply import apply_decision
from plugin.processing.models import TicketTimer, TimerState
from plugin.processing.process import current_rules, team_today
from plugin.processing.state import load_state, stored_snapshot
from plugin.processing.tickets import lock_ticket
from plugin.processing.timers import due_timers
from plugin.storage.models import Ticket
from rules.decision import iso
from rules.engine import evaluate_timer

log = logging.getLogger("deskpilot.timers")


def fire_due_timers(ctx: Context, now: datetime) -> str:
    """The scheduler task: fire every due ticket timer, each in its own transaction."""
    with ctx.db.session() as session:
        due = due_timers(session, now)
    fired = failed = 0
    for timer_id, _ticket_pk in due:
        try:
            if run_timer(ctx, timer_id, now):
                fired += 1
        except Exception as exc:  # noqa: BLE001 - one ticket's failure must not stop the rest
            failed += 1
            log.exception("timers.fire-failed timer=%s", timer_id)
            with ctx.db.session() as session:
                row = session.get(TicketTimer, timer_id)
                if row is not None:
                    row.last_error = f"{exc.__class__.__name__}: {exc}"[:1000]
    return f"{fired} fired" + (f", {failed} failed" if failed else "")


def run_timer(ctx: Context, timer_id: int, now: datetime) -> bool:
    """Fire one ticket timer at ``now`` through the engine's timer entry point (once)."""
    with ctx.db.session() as session:
        timer = session.get(TicketTimer, timer_id)
        if timer is None or timer.state != TimerState.ARMED or timer.due_at > now:
            return False
        ticket = session.get(Ticket, timer.ticket_pk)
        if ticket is None:
            return False
        ticket = lock_ticket(session, ticket.connection, ticket.host_ticket_id)
        session.refresh(timer)  # re-read under the ticket lock: another tick may have fired it
        if ticket is None or timer.state != TimerState.ARMED:
            return False
        timer.state, timer.fired_at = TimerState.FIRED, now
        snapshot = stored_snapshot(ticket)
        if snapshot is None:
            timer.last_error = "no ticket snapshot stored"
            return False
        rules = current_rules(ctx)
        state, credits = load_state(session, ticket, ticket.company_id, team_today(rules, now),
                                    now)
        decision = evaluate_timer(rules, snapshot, state, now, explain=False)
        source = f"timer:{timer.id}:{timer.kind}:{iso(timer.due_at)}"
        applied = apply_decision(session, ticket, decision, state, rules, source_key=source,
                                 now=now, credits=credits)
        inline: list[Claimed] = []
        if applied.outbox:
            inline, queued = claim_inline(ctx, session,
                                          [(ticket.connection, ticket.host_ticket_id)], now)
            enqueue_after_commit(session, lambda: ctx.redis, queued, salt=f"t{timer.id}")
    push_claimed(ctx, inline, now)
    log.info("timers.fired timer=%s kind=%s", timer_id, timer.kind)
    return True
