"""When a company's credits change outside event processing (a purchase, an adjustment, an
expiry burn, a ``rules replay --apply`` correction): push the new balance to the host, and
let tickets held for credits continue.

The ledger's CLI and admin API tell :mod:`plugin.ledger.hooks` after they commit; this
module listens. Everything goes through the outbox, so it needs no Redis: the scheduler's
outbox sweep delivers the rows even when nothing could be enqueued here.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime

from flask import current_app, has_app_context
from redis.exceptions import RedisError
from sqlalchemy.orm import Session

from plugin import ledger
from plugin.context import Context, get_context
from plugin.ledger.hooks import on_balance_change
from plugin.outbox.rows import enqueue_after_commit
from plugin.settings import Settings
from plugin.storage.db import utcnow
from plugin.storage.models import Ticket
from rules.decision import iso

log = logging.getLogger("deskpilot.jobs")

# The processing modules are imported inside the functions below on purpose: the web app
# imports this module at start (``install`` hooks the ledger), and the receiver's processes
# should not load the rules engine and the processing stack they never run. No import circle
# hides behind them (tests/unit/test_import_graph.py).


def queue_balance_push(session: Session, company: str, now: datetime, key: str, *,
                       also: Iterable[tuple[str, str]] = (),
                       settings: Settings | None = None) -> list[tuple[str, str]]:
    """Queue ``set_balance`` on the company's latest ticket of each connection (a host with
    an organisation field writes it there), on the tickets in ``also`` (``rules replay
    --apply``: the tickets it corrected, as a decision's own ticket gets it), and on every
    other open ticket of a connection that shows the balance on tickets (issue 15); returns
    the tickets given a row (each keyed by ``key`` and the ticket's place). ``settings``:
    whose connections show the balance on tickets (default: the running context's; none
    running: no open tickets are written)."""
    from plugin.processing.apply import balance_command
    from plugin.processing.balance_spread import push_to_company

    cmd = balance_command(session, company, now)
    return push_to_company(session, company, cmd, key, now, also=also, settings=settings)


def resume_held(ctx: Context, company: str, now: datetime) -> int:
    """Re-run each ticket held for credits through the rules (oldest first), each in its own
    transaction: the rules reserve and resume it once the credits cover it (and take a
    completed task's pending debit, plan ``held_resolved: pending``)."""
    from plugin.processing.apply import apply_decision
    from plugin.processing.process import current_rules, team_today
    from plugin.processing.state import load_state, stored_snapshot
    from plugin.processing.tickets import lock_ticket
    from rules.engine import evaluate_timer

    with ctx.db.session() as session:
        held = [(t.connection, t.host_ticket_id)
                for t in ledger.waiting_for_credits(session, company)]
    resumed = 0
    for connection, host_id in held:
        with ctx.db.session() as session:
            ticket = lock_ticket(session, connection, host_id)
            snapshot = stored_snapshot(ticket) if ticket is not None else None
            if ticket is None or snapshot is None:
                continue
            rules = current_rules(ctx)
            state, credits = load_state(session, ticket, company, team_today(rules, now), now)
            if not (state.ticket.held or state.ticket.debit_pending):
                continue
            decision = evaluate_timer(rules, snapshot, state, now, explain=False)
            applied = apply_decision(session, ticket, decision, state, rules,
                                     source_key=f"credits:{ticket.id}:{iso(now)}", now=now,
                                     credits=credits)
            if not _still_held(ticket):
                resumed += 1
            if applied.outbox:
                enqueue_after_commit(session, lambda: ctx.redis, [(connection, host_id)],
                                     salt=f"c{ticket.id}")
    return resumed


def _still_held(ticket: Ticket) -> bool:
    state = (ticket.facts or {}).get("state") or {}
    return bool(state.get("held"))


def _context() -> Context:
    # in a request: the app's own context; in the CLI: the one its command group installed
    if has_app_context():
        ctx: Context = current_app.extensions["deskpilot"]
        return ctx
    return get_context()


def credits_changed(company: str, now: datetime | None = None) -> None:
    """The ledger's balance-change listener (CLI, admin API)."""
    ctx = _context()
    now = now or utcnow()
    try:
        with ctx.db.session() as session:
            touched = queue_balance_push(session, company, now, f"credits:{company}:{iso(now)}")
            enqueue_after_commit(session, lambda: ctx.redis, touched, salt="credits")
    except (RedisError, OSError):
        touched = []  # committed; the scheduler's outbox sweep delivers the rows
    resumed = resume_held(ctx, company, now)
    log.info("jobs.credits-changed company=%s pushes=%s resumed=%s", company, len(touched),
             resumed)


def install() -> None:
    """Listen to the ledger (idempotent); the app factory and the credits CLI call it."""
    on_balance_change(credits_changed)
