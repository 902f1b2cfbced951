"""A stored event that can never be processed is given up (issue 16): the scheduler's sweeper
re-enqueued a failed event job every 30 s for ever (a ``created_at`` in year 9999 cost each
attempt 12-15 s). Now each failed round is counted on the event row, the wait doubles, and
after ``EVENT_MAX_ROUNDS`` the event is FAILED with its reason and listed as a failed job."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from rq import SimpleWorker
from rq.job import Job
from sqlalchemy import select

from plugin.context import set_context
from plugin.failed_jobs import failed_events, failed_jobs, retry_failed
from plugin.queue import (
    ALL_QUEUES,
    EVENTS,
    SERIALIZER,
    connect,
    enqueue_event,
    event_job_id,
    queue,
)
from plugin.scheduler import EVENT_MAX_ROUNDS, FAILED_RETRY_AFTER, sweep_events
from plugin.storage.models import Event
from tests.jobs_support import make_context, payload, store


@pytest.fixture
def ctx(sqlite_url, redis_url):
    c = make_context(sqlite_url, redis_url)
    set_context(c)  # the worker's jobs ask for it
    yield c
    set_context(None)
    c.close()


class QuietWorker(SimpleWorker):
    """rq's worker without its command channel: a burst run needs no commands, and stopping
    the channel's thread could wait out its poll (up to a minute) at every run."""

    def subscribe(self) -> None:
        self.pubsub_thread = None


def work(ctx) -> None:
    conn = connect(ctx.redis_url)
    try:
        QuietWorker([queue(conn, n) for n in ALL_QUEUES], connection=conn,
                    serializer=SERIALIZER).work(burst=True, with_scheduler=False)
    finally:
        conn.close()


def row(ctx, event_id: int) -> Event:
    with ctx.db.session() as s:
        found = s.execute(select(Event).where(Event.id == event_id)).scalar_one()
        s.expunge(found)
        return found


def ended_at(ctx, event_id: int) -> datetime:
    job = Job.fetch(event_job_id(event_id), connection=ctx.redis, serializer=SERIALIZER)
    assert job.get_status() == "failed" and job.ended_at is not None
    return job.ended_at


def test_a_failing_event_is_re_enqueued_at_most_the_cap_then_failed_with_its_reason(ctx):
    # stored before the receiver bounded the years: the job fails fast in the deadline
    # arithmetic, every time
    bad = store(ctx, payload("T-far", "ticket.created", "2026-11-16T10:00:00+02:00",
                             created="9999-12-30T10:00:00+02:00", actor="client"), "far-1")
    enqueue_event(ctx.redis, bad)
    work(ctx)
    re_enqueued = 0
    for rounds in range(1, EVENT_MAX_ROUNDS + 3):
        last = ended_at(ctx, bad)
        # the wait doubles with each failed round: not yet retried just before it ends
        soon = last + FAILED_RETRY_AFTER * 2 ** (rounds - 1) - timedelta(seconds=1)
        assert sweep_events(ctx, soon).startswith("0 re-enqueued")
        outcome = sweep_events(ctx, last + timedelta(days=3))
        if outcome == "1 re-enqueued":
            re_enqueued += 1
            assert row(ctx, bad).attempts == rounds and row(ctx, bad).state == "queued"
            work(ctx)
            continue
        assert outcome == "0 re-enqueued, 1 given up"
        break
    assert re_enqueued == EVENT_MAX_ROUNDS - 1
    given_up = row(ctx, bad)
    assert (given_up.state, given_up.attempts) == ("failed", EVENT_MAX_ROUNDS)
    assert given_up.last_error.startswith(f"gave up after {EVENT_MAX_ROUNDS} failed rounds: ")
    assert "1970-2999" in given_up.last_error  # the arithmetic's own words, not a timeout
    # no longer swept, and listed where the admin looks (deskpilot jobs failed), with why
    assert sweep_events(ctx, datetime.now(UTC) + timedelta(days=30)) == "0 stranded"
    [listed] = failed_jobs(ctx.redis)
    assert listed.id == event_job_id(bad) and "1970-2999" in listed.reason
    assert failed_events(ctx, {listed.id}) == []  # listed once


def test_a_given_up_event_stays_listed_after_rq_forgets_its_job_and_can_be_retried(ctx):
    bad = store(ctx, payload("T-far", "ticket.created", "2026-11-16T10:00:00+02:00",
                             created="9999-12-30T10:00:00+02:00", actor="client"), "far-2")
    with ctx.db.session() as s:
        s.get(Event, bad).state = "failed"
        s.get(Event, bad).attempts = EVENT_MAX_ROUNDS
        s.get(Event, bad).last_error = "gave up after 8 failed rounds: OutOfRange: …"
    assert failed_jobs(ctx.redis) == []  # the registry's 30 days have passed
    [listed] = failed_events(ctx)
    assert (listed.id, listed.reason) == (event_job_id(bad),
                                          "gave up after 8 failed rounds: OutOfRange: …")
    assert retry_failed(ctx, event_job_id(bad)) == [event_job_id(bad)]
    assert (row(ctx, bad).state, row(ctx, bad).attempts) == ("queued", 0)
    assert queue(ctx.redis, EVENTS).job_ids == [event_job_id(bad)]


def test_a_lost_job_is_re_enqueued_without_counting_a_round(ctx):
    ok = store(ctx, payload("T-ok", "ticket.created", "2026-11-16T10:00:00+02:00",
                            actor="client"), "ok-1")
    ctx.redis.flushdb()  # Redis lost: no job, nothing failed
    assert sweep_events(ctx, datetime.now(UTC) + timedelta(minutes=5)) == "1 re-enqueued"
    assert row(ctx, ok).attempts == 0
    work(ctx)
    assert row(ctx, ok).state == "processed"
