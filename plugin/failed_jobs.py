"""Failed jobs for operators: list them with a readable reason, requeue them.

Two sources: RQ's failed-job registry (kept 30 days), and the stored events the processing
gave up on (state ``failed``: the scheduler's sweeper stops after ``EVENT_MAX_ROUNDS``, or the
connection is gone), which stay listed after RQ forgot their job.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from redis import Redis
from rq.exceptions import DeserializationError
from rq.job import Job
from rq.registry import FailedJobRegistry
from sqlalchemy import select, update

from plugin.context import Context
from plugin.outbox.rows import OutboxRow, OutboxState
from plugin.queue import (
    ALL_QUEUES,
    EVENT_FUNC,
    EVENTS,
    SERIALIZER,
    enqueue_event,
    event_job_description,
    event_job_id,
    queue,
)
from plugin.storage.models import Event, EventState


@dataclass(frozen=True)
class FailedJob:
    """One entry of RQ's failed-job registry."""

    id: str
    queue: str
    description: str
    failed_at: str
    reason: str
    func: str
    args: tuple[Any, ...]


def reason_of(job: Job) -> str:
    """The readable reason: the last line of the stored traceback (the exception message)."""
    latest = job.latest_result()
    info = latest.exc_string if latest is not None else job.exc_info
    lines = [ln.strip() for ln in str(info or "").splitlines() if ln.strip()]
    return lines[-1] if lines else "(no reason recorded)"


def failed_jobs(conn: Redis) -> list[FailedJob]:
    out: list[FailedJob] = []
    for name in ALL_QUEUES:
        q = queue(conn, name)
        registry = FailedJobRegistry(queue=q)
        for job in Job.fetch_many(registry.get_job_ids(), connection=conn,
                                  serializer=SERIALIZER):
            if job is None:
                continue
            ended: datetime | None = job.ended_at
            try:
                func, args = job.func_name or "", tuple(job.args or ())
            except DeserializationError:  # written by hand, not JSON: refused, listed as such
                func, args = "<not a JSON job: refused>", ()
            out.append(FailedJob(
                id=job.id, queue=name, description=job.description or func,
                failed_at=ended.isoformat(timespec="seconds") if ended else "-",
                reason=reason_of(job), func=func, args=args,
            ))
    return out


def failed_events(ctx: Context, listed: set[str] | frozenset[str] = frozenset()
                  ) -> list[FailedJob]:
    """The stored events in state ``failed`` whose job is not in ``listed`` (the registry's
    ids), as failed event jobs with the row's reason."""
    with ctx.db.session() as session:
        rows = session.execute(
            select(Event.id, Event.last_error).where(Event.state == EventState.FAILED)
            .order_by(Event.id)
        ).all()
    return [FailedJob(id=event_job_id(event_id), queue=EVENTS,
                      description=event_job_description(event_id), failed_at="-",
                      reason=error or "(no reason recorded)", func=EVENT_FUNC, args=(event_id,))
            for event_id, error in rows if event_job_id(event_id) not in listed]


def retry_failed(ctx: Context, job_id: str | None) -> list[str]:
    """Requeue one failed job (or all with ``job_id`` None); returns the requeued ids.

    A failed push also marked its outbox rows failed: they go back to pending first, so
    the requeued job has something to send. A failed event goes back to ``queued`` with no
    failed round counted, so the sweeper retries it again as a new one.
    """
    done: list[str] = []
    registry = failed_jobs(ctx.redis)
    for item in registry:
        if job_id is not None and item.id != job_id:
            continue
        if item.func == "plugin.outbox.push.push_ticket" and len(item.args) >= 2:
            _reset_outbox(ctx, str(item.args[0]), str(item.args[1]))
        if item.func == EVENT_FUNC and item.args:
            _reopen_event(ctx, int(item.args[0]))
        FailedJobRegistry(queue=queue(ctx.redis, item.queue)).requeue(item.id)
        done.append(item.id)
    for item in failed_events(ctx, {i.id for i in registry}):
        if job_id is not None and item.id != job_id:
            continue
        _reopen_event(ctx, int(item.args[0]))
        enqueue_event(ctx.redis, int(item.args[0]))
        done.append(item.id)
    return done


def _reopen_event(ctx: Context, event_id: int) -> None:
    with ctx.db.session() as session:
        session.execute(
            update(Event).where(Event.id == event_id, Event.state == EventState.FAILED)
            .values(state=EventState.QUEUED, attempts=0, last_error=None)
        )


def _reset_outbox(ctx: Context, connection: str, ticket_id: str) -> None:
    with ctx.db.session() as session:
        session.execute(
            update(OutboxRow)
            .where(OutboxRow.connection == connection, OutboxRow.ticket_id == ticket_id,
                   OutboxRow.state == OutboxState.FAILED)
            .values(state=OutboxState.PENDING, attempts=0)
        )
