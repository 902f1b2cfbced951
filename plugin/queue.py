"""Redis connection and RQ queues; job ids are derived from what they process."""

from __future__ import annotations

import logging
from typing import Any

import redis
from rq import Queue, Retry

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


def enqueue_event(conn: redis.Redis, event_id: int, *, one_trip: bool = False,
                  **kwargs: Any) -> None:
    """Enqueue processing of stored event ``event_id`` (idempotent by job id).

    ``one_trip`` sends every command in one pipeline (one Redis round trip instead of
    rq's two or three); the webhook receiver uses it on its hot path.
    """
    pipe = conn.pipeline() if one_trip else None
    queue(conn, EVENTS).enqueue_call(
        "plugin.jobs.process.process_event",
        args=(event_id,),
        kwargs=kwargs or None,
        job_id=event_job_id(event_id),
        retry=EVENT_RETRY,
        timeout=EVENT_JOB_TIMEOUT,
        result_ttl=600,
        failure_ttl=30 * 24 * 3600,
        description=f"process event {event_id}",
        pipeline=pipe,
    )
    if pipe is not None:
        pipe.execute()
