"""The scheduler process: owns every timer. Exactly one runs per installation.

Each periodic task is a function ``(ctx, now) -> str`` registered in :data:`TASKS` with its
interval; :func:`tick` runs every task that is due. Ticket timers (acceptance overdue,
breach warnings, auto-close, deferred starts) live in the database
(``plugin.processing.timers`` arms them, ``plugin.processing.firing`` fires them), so a
flushed Redis or a restart loses none: every tick reads the due ones from the table. Workers
run without rq's own scheduler; retries of pushes are re-enqueued from here too.
"""

from __future__ import annotations

import logging
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from redis.exceptions import RedisError
from rq.job import Job
from sqlalchemy import and_, func, or_, select, update

from plugin.context import Context
from plugin.failed_jobs import reason_of
from plugin.outbox.rows import OutboxRow, OutboxState, enqueue_push, pending_key, push_job_id
from plugin.processing.firing import fire_due_timers
from plugin.queue import EVENT_JOB_TIMEOUT, SERIALIZER, enqueue_event, event_job_id
from plugin.storage.db import utcnow
from plugin.storage.models import Event, EventState

log = logging.getLogger("deskpilot.scheduler")

#: stored events not processed after this long are re-enqueued
STRANDED_AFTER = timedelta(seconds=60)
#: fresh outbox rows get their push job after commit; only older ones are the sweeper's
OUTBOX_STRANDED_AFTER = timedelta(seconds=30)
#: a failed event job is tried again after this long (a database outage passes), doubled
#: after each failed round
FAILED_RETRY_AFTER = timedelta(seconds=30)
#: failed rounds (each one job: rq's run and its immediate retries) after which a stored
#: event is given up: FAILED, with the reason, listed by ``deskpilot jobs failed`` and
#: requeued by ``deskpilot jobs retry``. With the doubling wait the last round starts about
#: an hour after the first (30 s × (2^7 - 1)): an outage of the database or a host passes,
#: an event that can never be processed stops costing a worker every 30 s.
EVENT_MAX_ROUNDS = 8


def event_job_alive(job: Any, now: datetime, failed_rounds: int = 0) -> bool:
    """True while rq will still run the job by itself, so the sweeper leaves it alone.

    ``started`` is alive only within the job's timeout: a worker killed with SIGKILL leaves
    its job "started" for ever. ``scheduled`` needs rq's scheduler, which we don't run, so
    it counts as stranded. ``failed`` is retried once ``FAILED_RETRY_AFTER`` has passed,
    doubled for each of the event's ``failed_rounds`` before.
    """
    if job is None:
        return False
    status = job.get_status(refresh=False)  # just fetched (Job.fetch_many)
    if status in ("queued", "deferred"):
        return True
    if status == "started":
        started = job.started_at or job.enqueued_at
        limit = timedelta(seconds=(job.timeout or EVENT_JOB_TIMEOUT) + 30)
        return started is not None and now - started < limit
    if status == "failed":
        ended = job.ended_at
        wait = FAILED_RETRY_AFTER * 2 ** min(failed_rounds, EVENT_MAX_ROUNDS)
        return ended is not None and now - ended < wait
    return False


def sweep_events(ctx: Context, now: datetime) -> str:
    """Re-enqueue stored events left unprocessed (Redis lost, a worker killed mid-job, a job
    that failed during a database outage).

    A job that failed counts a round on its event row (``attempts``: processing never ran
    to its end, so the row counts nothing else); after :data:`EVENT_MAX_ROUNDS` the event
    is marked FAILED with the job's reason and no longer re-enqueued."""
    cutoff = now - STRANDED_AFTER
    with ctx.db.session() as session:
        rows = session.execute(
            select(Event.id, Event.attempts).where(
                Event.state.in_([EventState.QUEUED, EventState.PROCESSING]),
                Event.received_at < cutoff,
            ).order_by(Event.id).limit(5000)
        ).all()
    if not rows:
        return "0 stranded"
    # every job read in one pipeline: under a backlog this pass covers thousands of events
    jobs = Job.fetch_many([event_job_id(e) for e, _ in rows], connection=ctx.redis,
                          serializer=SERIALIZER)
    again = 0
    failed: dict[int, int] = {}
    given_up: dict[int, tuple[int, str]] = {}
    for (event_id, rounds), job in zip(rows, jobs, strict=True):
        rounds = rounds or 0
        if event_job_alive(job, now, rounds):
            continue
        if job is not None and job.get_status(refresh=False) == "failed":
            rounds += 1
            if rounds >= EVENT_MAX_ROUNDS:
                given_up[event_id] = (rounds, reason_of(job))
                continue
            failed[event_id] = rounds
        enqueue_event(ctx.redis, event_id)
        again += 1
    _count_rounds(ctx, failed, given_up)
    if again:
        log.warning("scheduler.sweep re-enqueued=%s", again)
    for event_id, (rounds, reason) in given_up.items():
        log.error("scheduler.event-given-up event=%s rounds=%s reason=%s", event_id, rounds,
                  reason)
    return f"{again} re-enqueued" + (f", {len(given_up)} given up" if given_up else "")


def _count_rounds(ctx: Context, failed: dict[int, int],
                  given_up: dict[int, tuple[int, str]]) -> None:
    """Write the failed rounds on the event rows; the given-up events become FAILED (only
    while still unprocessed: a worker may have finished one meanwhile)."""
    if not failed and not given_up:
        return
    table: Any = Event.__table__
    open_states = [EventState.QUEUED, EventState.PROCESSING]
    with ctx.db.session() as session:
        for event_id, rounds in failed.items():
            session.execute(update(table).where(table.c.id == event_id,
                                                table.c.state.in_(open_states))
                            .values(attempts=rounds))
        for event_id, (rounds, reason) in given_up.items():
            session.execute(update(table).where(table.c.id == event_id,
                                                table.c.state.in_(open_states))
                            .values(attempts=rounds, state=EventState.FAILED,
                                    last_error=f"gave up after {rounds} failed rounds: "
                                               f"{reason}"[:2000]))


def sweep_outbox(ctx: Context, now: datetime) -> str:
    """Enqueue pushes for rows whose retry is due, and for rows left behind (Redis lost,
    a worker killed mid-push: its claim expires)."""
    with ctx.db.session() as session:
        rows = session.execute(
            select(OutboxRow.connection, OutboxRow.ticket_id, func.max(OutboxRow.id),
                   func.max(OutboxRow.attempts))
            .where(or_(
                and_(OutboxRow.state == OutboxState.PENDING, OutboxRow.next_attempt_at <= now,
                     or_(OutboxRow.attempts > 0,
                         OutboxRow.created_at < now - OUTBOX_STRANDED_AFTER)),
                and_(OutboxRow.state == OutboxState.SENDING, OutboxRow.claimed_until < now),
            ))
            .group_by(OutboxRow.connection, OutboxRow.ticket_id)
            .limit(2000)
        ).all()
    if not rows:
        return "0 due"
    # a push job still waiting in the queue will carry these rows: don't add another (under
    # load the backlog is older than OUTBOX_STRANDED_AFTER and would be pushed twice). One job
    # id per (last row, attempt): a queued or running job is not doubled, and push jobs leave
    # no result behind, so a finished one does not block the next. Both read in one pipeline.
    salts = [f"sw{max_id}-{attempts}" for _, _, max_id, attempts in rows]
    pipe = ctx.redis.pipeline(transaction=False)
    for (connection, ticket_id, _, _), salt in zip(rows, salts, strict=True):
        pipe.exists(pending_key(connection, ticket_id))
        pipe.exists(Job.key_for(push_job_id(connection, ticket_id, salt)))
    found = pipe.execute()
    again = 0
    for n, ((connection, ticket_id, _, _), salt) in enumerate(zip(rows, salts, strict=True)):
        if found[2 * n] or found[2 * n + 1]:
            continue
        if enqueue_push(ctx.redis, connection, ticket_id, salt, now=now):
            again += 1
    return f"{again} enqueued"


def expire_lots(ctx: Context, now: datetime) -> str:
    """Burn expired credit lots, and push the new balance of each company touched."""
    from plugin import ledger
    from plugin.outbox.rows import enqueue_after_commit
    from plugin.processing.balance import queue_balance_push

    with ctx.db.session() as session:
        burns = ledger.expire_lots(session, now)
        companies = sorted({b.company_id for b in burns})
        touched: list[tuple[str, str]] = []
        for company in companies:
            touched += queue_balance_push(session, company, now,
                                          f"expiry:{company}:{now.date().isoformat()}")
        enqueue_after_commit(session, lambda: ctx.redis, touched, salt=f"x{int(now.timestamp())}")
    return f"{len(burns)} burned in {len(companies)} companies"


def reconcile_hosts(ctx: Context, now: datetime) -> str:
    """Poll each host for recently updated tickets (``plugin.reconcile.poll``)."""
    from plugin.reconcile.poll import reconcile, supported

    done = []
    for conn in ctx.settings.connections:
        if not supported(conn):
            continue
        key = f"deskpilot:sched:reconcile:{conn.name}"
        # per-connection period: reconcile_minutes; the mark lives in Redis (a flush only
        # makes the next poll come early)
        if not ctx.redis.set(key, now.isoformat(), nx=True, ex=conn.reconcile_minutes * 60):
            continue
        report = reconcile(ctx, conn.name, None, now)
        done.append(f"{conn.name}: {report.tickets} tickets, {len(report.errors)} errors")
    return "; ".join(done) or "none due"


def _once_per(ctx: Context, name: str, period_key: str, ttl: timedelta) -> bool:
    return bool(ctx.redis.set(f"deskpilot:sched:{name}:{period_key}", "1", nx=True,
                              ex=int(ttl.total_seconds())))


def daily_digest(ctx: Context, now: datetime) -> str:
    """Once per local day after 09:00: the reports' daily digest (``plugin.reports``)."""
    local = now.astimezone(ctx.settings.tz)
    if local.hour < 9:
        return "not yet"
    from plugin.reports.schedule import daily_digest as deliver

    if not _once_per(ctx, "daily-digest", local.date().isoformat(), timedelta(days=3)):
        return "done today"
    return str(deliver(ctx, now))


def weekly_report(ctx: Context, now: datetime) -> str:
    """Once per ISO week, Monday after 09:00: the weekly report (``plugin.reports``)."""
    local = now.astimezone(ctx.settings.tz)
    if local.weekday() != 0 or local.hour < 9:
        return "not yet"
    from plugin.reports.schedule import weekly_report as deliver

    year, week, _ = local.isocalendar()
    if not _once_per(ctx, "weekly-report", f"{year}-W{week}", timedelta(days=10)):
        return "done this week"
    return str(deliver(ctx, now))


@dataclass(frozen=True)
class Task:
    """A periodic task of the scheduler."""

    name: str
    every: timedelta
    run: Callable[[Context, datetime], str]


TASKS: list[Task] = [
    Task("push-outbox", timedelta(seconds=1), sweep_outbox),
    Task("ticket-timers", timedelta(seconds=5), fire_due_timers),
    Task("sweep-events", timedelta(seconds=30), sweep_events),
    Task("expire-lots", timedelta(hours=1), expire_lots),
    Task("reconcile", timedelta(seconds=60), reconcile_hosts),
    Task("daily-digest", timedelta(minutes=5), daily_digest),
    Task("weekly-report", timedelta(minutes=5), weekly_report),
]


def tick(ctx: Context, now: datetime, last_run: dict[str, datetime] | None = None,
         force: bool = False) -> dict[str, str]:
    """Run every task that is due at ``now`` (all of them when ``force``)."""
    results: dict[str, str] = {}
    last_run = {} if last_run is None else last_run
    for task in TASKS:
        previous = last_run.get(task.name)
        if not force and previous is not None and now - previous < task.every:
            continue
        try:
            results[task.name] = task.run(ctx, now)
        except (RedisError, OSError) as exc:
            results[task.name] = f"failed: {exc.__class__.__name__}"
            log.warning("scheduler.task-failed task=%s error=%s", task.name, exc)
        except Exception as exc:  # noqa: BLE001 - one broken task must not stop the others
            results[task.name] = f"failed: {exc.__class__.__name__}: {exc}"
            log.exception("scheduler.task-failed task=%s", task.name)
        last_run[task.name] = now
    return results


def run_forever(ctx: Context, interval: float = 1.0, clock: Callable[[], Any] = utcnow) -> None:
    """Tick every ``interval`` seconds until SIGTERM or SIGINT."""
    from plugin.context import set_context

    set_context(ctx)  # timers run the processing code, which asks for the context
    stopping = False

    def _stop(*_: Any) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    last: dict[str, datetime] = {}
    log.info("scheduler.started tasks=%s", ",".join(t.name for t in TASKS))
    while not stopping:
        tick(ctx, clock(), last)
        slept = 0.0
        while slept < interval and not stopping:
            time.sleep(0.1)
            slept += 0.1
    log.info("scheduler.stopped")
