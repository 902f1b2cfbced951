"""Redis connection and RQ queues; job ids are derived from what they process.

Redis is a trust boundary: jobs are JSON (rq's ``JSONSerializer``: a job hash holding a
pickle is refused, never unpickled) and name one of :data:`JOB_FUNCS` (a job naming any
other function is refused by the worker, see ``plugin.worker.AllowedJob``).
"""

from __future__ import annotations

import logging
import re
import string
import zlib
from typing import Any

import redis
import rq
from rq import Queue, Retry
from rq.job import Job
from rq.serializers import JSONSerializer
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


#: how jobs are written and read: JSON only (a pickle from Redis would be code execution)
SERIALIZER = JSONSerializer


def queue(conn: redis.Redis, name: str = EVENTS) -> Queue:
    return Queue(name, connection=conn, serializer=SERIALIZER)


def event_job_id(event_id: int) -> str:
    return f"event-{event_id}"


#: the function an event job runs, and everything rq records about such a job
EVENT_FUNC = "plugin.processing.process.process_event"
#: the function a push job runs
PUSH_FUNC = "plugin.outbox.push.push_ticket"
#: every function a Deskpilot job may name; the worker refuses any other
JOB_FUNCS = frozenset({EVENT_FUNC, PUSH_FUNC})
_EVENT_JOB: dict[str, Any] = {
    "retry": EVENT_RETRY, "timeout": EVENT_JOB_TIMEOUT, "result_ttl": 600,
    "failure_ttl": 30 * 24 * 3600,
}


#: rq releases whose job hash ``_enqueue_event_job`` rebuilds, as checked byte for byte by
#: tests/integration/test_event_queue.py (run against rq 2.0.0, 2.12.0 and 3.0.0); pyproject
#: pins rq to this range. Outside it, ``one_trip`` falls back to rq's own enqueue.
RQ_TESTED = ((2, 0), (3, 1))


def rq_tested(version: str = rq.__version__) -> bool:
    """Whether ``version`` of rq lies in :data:`RQ_TESTED` (lower bound included)."""
    found = re.match(r"(\d+)\.(\d+)", version)
    return found is not None and RQ_TESTED[0] <= (int(found[1]), int(found[2])) < RQ_TESTED[1]


_TEMPLATE_FITS = rq_tested()


def event_job_description(event_id: int) -> str:
    return f"process event {event_id}"


def enqueue_event(conn: redis.Redis, event_id: int, *, one_trip: bool = False,
                  **kwargs: Any) -> None:
    """Enqueue processing of stored event ``event_id`` (idempotent by job id).

    ``one_trip`` (the webhook receiver's hot path) writes the job in one Redis round trip,
    its hash filled from what rq built once instead of rq building a job per event (see
    :func:`_enqueue_event_job`); with ``kwargs`` it is rq's enqueue in one pipeline.
    """
    if one_trip and not kwargs and _TEMPLATE_FITS:
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
#: the job hash fields that differ per event; the others are the same for every event job
_PER_EVENT = ("created_at", "enqueued_at", "data", "description")
_SCRIPT = """-- Deskpilot: an event job as rq's enqueue_call writes it (queue listed, hash, id)
redis.call('SADD', KEYS[1], KEYS[2])
redis.call('HSET', KEYS[3], 'created_at', ARGV[2], 'enqueued_at', ARGV[2], 'data', ARGV[3],
           'description', ARGV[4], {fields})
return redis.call('RPUSH', KEYS[2], ARGV[1])
"""
#: the script with every event job's fixed fields written in (built on first use)
_script: str | None = None


_LUA_PLAIN = frozenset((string.ascii_letters + string.digits + "-_.:[] ").encode())


def _lua_string(value: bytes) -> str:
    """A Lua string literal for any bytes (three-digit ``\\ddd`` escapes but for plain ASCII)."""
    return '"' + "".join(chr(b) if b in _LUA_PLAIN else f"\\{b:03d}" for b in value) + '"'


def _event_job_script(conn: redis.Redis) -> str:
    global _script
    if _script is None:  # a race builds it twice, the same both times
        job = queue(conn, EVENTS).create_job(
            EVENT_FUNC, args=(0,), job_id=event_job_id(0),
            description=event_job_description(0), **_EVENT_JOB)
        encode = conn.get_encoder().encode  # as HSET would send each value
        _script = _SCRIPT.format(fields=", ".join(
            f"{_lua_string(encode(k))}, {_lua_string(encode(v))}"
            for k, v in job.to_dict().items() if k not in _PER_EVENT))
    return _script


def _enqueue_event_job(conn: redis.Redis, event_id: int) -> None:
    """What rq's ``enqueue_call`` writes for an event job, without its per-job Python cost.

    The job hash is rq's own (``Job.to_dict`` of a job built once by ``Queue.create_job``
    with the same options, its fixed fields written into a Lua script) with the per-event
    fields filled in: the timestamps, the call as JSON (rq's ``(func_name, instance, args,
    kwargs)`` tuple through its ``JSONSerializer``, zlib-compressed) and the description.
    As rq does, atomically: the queue in ``rq:queues``, the hash, the id pushed on the
    queue; rq's workers, registries and ``Job.fetch`` read it as any other job. One
    ``EVAL``: one round trip, always (no script cache to miss after a Redis restart). A
    test compares it with rq's own enqueue.
    """
    job_id = event_job_id(event_id)
    conn.eval(
        _event_job_script(conn), 3,
        Queue.redis_queues_keys, _EVENTS_KEY, Job.key_for(job_id),
        job_id, utcformat(now()),
        zlib.compress(SERIALIZER.dumps((EVENT_FUNC, None, (event_id,), {}))),
        event_job_description(event_id),
    )
