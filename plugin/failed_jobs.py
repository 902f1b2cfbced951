"""Failed jobs for operators: list them with a readable reason, requeue them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from redis import Redis
from rq.exceptions import DeserializationError
from rq.job import Job
from rq.registry import FailedJobRegistry
from sqlalchemy import update

from plugin.context import Context
from plugin.outbox.rows import OutboxRow, OutboxState
from plugin.queue import ALL_QUEUES, SERIALIZER, queue


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


def retry_failed(ctx: Context, job_id: str | None) -> list[str]:
    """Requeue one failed job (or all with ``job_id`` None); returns the requeued ids.

    A failed push also marked its outbox rows failed: they go back to pending first, so
    the requeued job has something to send.
    """
    done: list[str] = []
    for item in failed_jobs(ctx.redis):
        if job_id is not None and item.id != job_id:
            continue
        if item.func == "plugin.outbox.push.push_ticket" and len(item.args) >= 2:
            _reset_outbox(ctx, str(item.args[0]), str(item.args[1]))
        FailedJobRegistry(queue=queue(ctx.redis, item.queue)).requeue(item.id)
        done.append(item.id)
    return done


def _reset_outbox(ctx: Context, connection: str, ticket_id: str) -> None:
    with ctx.db.session() as session:
        session.execute(
            update(OutboxRow)
            .where(OutboxRow.connection == connection, OutboxRow.ticket_id == ticket_id,
                   OutboxRow.state == OutboxState.FAILED)
            .values(state=OutboxState.PENDING, attempts=0)
        )
