"""Event jobs written by the receiver's one-trip path are rq's own jobs.

``enqueue_event(one_trip=True)`` fills rq's job hash from a template instead of building a
job per event; these tests hold it to what rq itself writes, to one Redis round trip, and
to rq's worker, retries, registries and ``deskpilot jobs`` treating it like any other job.
"""

from __future__ import annotations

import pytest
import redis
from rq import SimpleWorker
from rq.job import Job
from rq.registry import FailedJobRegistry, FinishedJobRegistry
from rq.utils import utcparse
from sqlalchemy import select

import plugin.processing.process
import plugin.queue
from plugin.context import set_context
from plugin.failed_jobs import failed_jobs, retry_failed
from plugin.queue import ALL_QUEUES, EVENTS, SERIALIZER, connect, enqueue_event, queue
from plugin.storage import Event
from tests.jobs_support import make_context, payload, store

STAMPS = (b"created_at", b"enqueued_at")


@pytest.fixture
def conn(redis_url):
    c = connect(redis_url)
    yield c
    c.close()


def _written(conn: redis.Redis, event_id: int) -> tuple[dict[bytes, bytes], list[bytes], set]:
    fields = conn.hgetall(f"rq:job:event-{event_id}")
    return fields, conn.lrange(f"rq:queue:{EVENTS}", 0, -1), conn.smembers("rq:queues")


def test_one_trip_writes_what_rqs_own_enqueue_writes(conn):
    enqueue_event(conn, 41)  # rq's enqueue_call
    by_rq = _written(conn, 41)
    conn.flushdb()
    plugin.queue._script = None  # built anew from rq on first use
    enqueue_event(conn, 41, one_trip=True)
    ours = _written(conn, 41)
    assert ours[1:] == by_rq[1:] == ([b"event-41"], {f"rq:queue:{EVENTS}".encode()})
    assert {k: v for k, v in ours[0].items() if k not in STAMPS} == {
        k: v for k, v in by_rq[0].items() if k not in STAMPS}
    for stamp in STAMPS:
        utcparse(ours[0][stamp].decode())
    assert conn.ttl("rq:job:event-41") == -1  # no expiry, as rq leaves it

    job = Job.fetch("event-41", connection=conn, serializer=SERIALIZER)
    assert (job.func_name, job.args, job.kwargs) == ("plugin.processing.process.process_event",
                                                     [41], {})  # JSON: a list
    assert (job.retries_left, job.retry_intervals, job.timeout) == (2, [0], 120)
    assert (job.result_ttl, job.failure_ttl, job.origin) == (600, 30 * 24 * 3600, EVENTS)
    assert job.description == "process event 41" and job.get_status() == "queued"
    assert job.created_at == job.enqueued_at


def test_fixed_fields_reach_redis_byte_for_byte(conn):
    for value in (b"", b"deskpilot-events", b"[0]", bytes(range(256)), "ключ".encode()):
        assert conn.eval(f"return {plugin.queue._lua_string(value)}", 0) == value


def test_one_trip_is_one_round_trip(conn, monkeypatch):
    plugin.queue._script = None
    sent: list[int] = []
    original = redis.connection.Connection.send_packed_command

    def counting(self, command, *args, **kwargs):
        sent.append(1)
        return original(self, command, *args, **kwargs)

    conn.ping()  # the pool's connection is open before counting
    monkeypatch.setattr(redis.connection.Connection, "send_packed_command", counting)
    enqueue_event(conn, 7, one_trip=True)  # the first too: nothing to load beforehand
    assert len(sent) == 1
    enqueue_event(conn, 8, one_trip=True)
    assert len(sent) == 2
    assert queue(conn, EVENTS).job_ids == ["event-7", "event-8"]


def test_a_worker_runs_retries_and_lists_a_one_trip_job_like_any_rq_job(
        sqlite_url, redis_url, monkeypatch):
    ctx = make_context(sqlite_url, redis_url)
    try:
        eid = store(ctx, payload("T-5", "ticket.created", "2026-11-16T10:00:00+02:00",
                                 actor="client"), "q1")
        runs: list[int] = []

        def broken(event_id: int) -> str:
            runs.append(event_id)
            raise RuntimeError("database went away")

        monkeypatch.setattr(plugin.processing.process, "process_event", broken)
        enqueue_event(ctx.redis, eid, one_trip=True)
        worker_conn = connect(redis_url)
        SimpleWorker([queue(worker_conn, n) for n in ALL_QUEUES],
                     connection=worker_conn, serializer=SERIALIZER).work(
            burst=True, with_scheduler=False)
        assert runs == [eid] * 3  # the first run and EVENT_RETRY's two immediate retries
        failed = FailedJobRegistry(queue=queue(ctx.redis, EVENTS))
        assert failed.get_job_ids() == [f"event-{eid}"]
        [listed] = failed_jobs(ctx.redis)
        assert (listed.id, listed.description) == (f"event-{eid}", f"process event {eid}")
        assert "database went away" in listed.reason

        monkeypatch.undo()  # the real process_event from here on
        assert retry_failed(ctx, f"event-{eid}") == [f"event-{eid}"]
        set_context(ctx)
        SimpleWorker([queue(worker_conn, n) for n in ALL_QUEUES],
                     connection=worker_conn, serializer=SERIALIZER).work(
            burst=True, with_scheduler=False)
        worker_conn.close()
        assert f"event-{eid}" in FinishedJobRegistry(
            queue=queue(ctx.redis, EVENTS)).get_job_ids()
        with ctx.db.session() as s:
            assert s.execute(select(Event.state)).scalars().all() == ["processed"]
    finally:
        set_context(None)
        ctx.close()
