"""Redis connection and RQ queues; job ids are derived from what they process."""

from __future__ import annotations

import logging
import zlib
from typing import Any

import redis
from rq import Queue, Retry
from rq.job import Job
from rq.serializers import DefaultSerializer
from rq.utils import now, utcformat

log = logging.getLogger("deskpilot.queue")

EVENTS = "deskpilot-events"
PUSH = "deskpilot-push"
DEFAULT = "deskpilot-default"
ALL_QUEUES = (EVENTS, PUSH, DEFAULT)

#: processing a stored event: two immediate retries. No interval: a job rq parks as
#: "scheduled" needs rq's own scheduler, which our workers don't run; anything beyond these
#: retries (a database outage, a killed worker) is re-enqueued by the scheduler's sweeper.
EVENT_RETRY = Retry(max=2)
#: an event job runs for milliseconds; one "started" longer than this belongs to a dead worker
EVENT_JOB_TIMEOUT = 120


def connect(url: str) -> redis.Redis:
    """A Redis client with short timeouts: a dead Redis must fail fast, not hang a request."""
    return redis.Redis.from_url(
        url, socket_connect_timeout=2, socket_timeout=5, health_check_interval=30
    )


def queue(conn: redis.Redis, name: str = EVENTS) -> Queue:
    return Queue(name, connection=conn)


def event_job_id(event_id: int) -> str:
    return f"event-{event_id}"


#: the function an event job runs, and everything rq records about such a job
EVENT_FUNC = "plugin.jobs.process.process_event"
_EVENT_JOB: dict[str, Any] = {"retry": EVENT_RETRY, "timeout": EVENT_JOB_TIMEOUT, "result_ttl": 600,
                             "failure_ttl": 30 * 24 * 3600}


def event_job_description(event_id: int) -> str:
    return f"process event {event_id}"


def enqueue_event(conn: redis.Redis, event_id: int, *, one_trip: bool = False,
                  **kwargs: Any) -> None:
    """Enqueue processing of stored event ``event_id`` (idempotent by job id).

    ``one_trip`` (the webhook receiver's hot path) writes the job in one ``MULTI … EXEC``:
    one Redis round trip, and the job hash filled from a template rq built once instead
    of rq building a job per event (see :func:`_enqueue_event_job`).
    """
    if one_trip and not kwargs:
        _enqueue_event_job(conn, event_id)
        return
    pipe = conn.pipeline() if one_trip else None
    queue(conn, EVENTS).enqueue_call(
        EVENT_FUNC,
        args=(event_id,),
        kwargs=kwargs or None,
        job_id=event_job_id(event_id),
        description=event_job_description(event_id),
        pipeline=pipe,
        **_EVENT_JOB,
    )
    if pipe is not None:
        pipe.execute()


_EVENTS_KEY = Queue.redis_queue_namespace_prefix + EVENTS
#: the hash rq writes for an event job, less what differs per event (built on first use)
_template: dict[str, Any] | None = None


def _event_job_template(conn: redis.Redis) -> dict[str, Any]:
    global _template
    if _template is None:  # a race builds it twice, the same both times
        job = queue(conn, EVENTS).create_job(
            EVENT_FUNC, args=(0,), job_id=event_job_id(0),
            description=event_job_description(0), **_EVENT_JOB)
        job.enqueued_at = job.created_at
        _template = job.to_dict()
    return _template


def _enqueue_event_job(conn: redis.Redis, event_id: int) -> None:
    """What rq's ``enqueue_call`` writes for an event job, without its per-job Python cost.

    The job hash is rq's own (``Job.to_dict`` of a job built once by ``Queue.create_job``
    with the same options) with the per-event fields filled in: the pickled call (rq's
    ``(func_name, instance, args, kwargs)`` tuple, zlib-compressed), the description and
    the timestamps. Then, as rq does: the queue in ``rq:queues``, the hash, the id pushed
    on the queue; rq's workers, registries and ``Job.fetch`` read it as any other job.
    A test compares it with rq's own enqueue field by field.
    """
    job_id = event_job_id(event_id)
    stamp = utcformat(now())
    fields: dict[Any, Any] = {
        **_event_job_template(conn),
        "created_at": stamp, "enqueued_at": stamp,
        "data": zlib.compress(DefaultSerializer.dumps((EVENT_FUNC, None, (event_id,), {}))),
        "description": event_job_description(event_id),
    }
    pipe = conn.pipeline()  # transaction: MULTI ... EXEC in one round trip
    pipe.sadd(Queue.redis_queues_keys, _EVENTS_KEY)
    pipe.hset(Job.key_for(job_id), mapping=fields)
    pipe.rpush(_EVENTS_KEY, job_id)
    pipe.execute()

