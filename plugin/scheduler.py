"""The scheduler process: owns every timer. Exactly one runs per installation.

Each periodic task is a function ``(ctx, now) -> str`` registered in :data:`TASKS` with its
interval; :func:`tick` runs every task that is due. Timers that belong to tickets live in
the database, so a flushed Redis loses none of them.
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
from sqlalchemy import select

from plugin.context import Context
from plugin.queue import enqueue_event, event_job_id, queue
from plugin.storage.db import utcnow
from plugin.storage.models import Event, EventState

log = logging.getLogger("deskpilot.scheduler")

#: stored events not processed after this long are re-enqueued
STRANDED_AFTER = timedelta(seconds=60)


def sweep_events(ctx: Context, now: datetime) -> str:
    """Re-enqueue stored events left unprocessed (Redis lost, a worker killed mid-job)."""
    cutoff = now - STRANDED_AFTER
    with ctx.db.session() as session:
        rows = session.execute(
            select(Event.id).where(
                Event.state.in_([EventState.QUEUED, EventState.PROCESSING]),
                Event.received_at < cutoff,
            ).order_by(Event.id).limit(5000)
        ).scalars().all()
    if not rows:
        return "0 stranded"
    q = queue(ctx.redis)
    again = 0
    for event_id in rows:
        job = q.fetch_job(event_job_id(event_id))
        if job is not None and job.get_status(refresh=True) in {"queued", "started",
                                                                 "scheduled", "deferred"}:
            continue
        enqueue_event(ctx.redis, event_id)
        again += 1
    if again:
        log.warning("scheduler.sweep re-enqueued=%s", again)
    return f"{again} re-enqueued"


@dataclass(frozen=True)
class Task:
    """A periodic task of the scheduler."""

    name: str
    every: timedelta
    run: Callable[[Context, datetime], str]


TASKS: list[Task] = [
    Task("sweep-events", timedelta(seconds=30), sweep_events),
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


def run_forever(ctx: Context, interval: float = 5.0, clock: Callable[[], Any] = utcnow) -> None:
    """Tick every ``interval`` seconds until SIGTERM or SIGINT."""
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
            time.sleep(0.2)
            slept += 0.2
    log.info("scheduler.stopped")
