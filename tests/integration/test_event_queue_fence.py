"""Outside the tested rq range the one-trip enqueue is rq's own: the same job, a slower path."""

from __future__ import annotations

import pytest
from rq.job import Job

import plugin.queue
from plugin.queue import EVENTS, SERIALIZER, connect, enqueue_event


@pytest.fixture
def conn(redis_url):
    c = connect(redis_url)
    yield c
    c.close()


def test_an_untested_rq_gets_rqs_own_enqueue(conn, monkeypatch):
    monkeypatch.setattr(plugin.queue, "_TEMPLATE_FITS", False)
    monkeypatch.setattr(plugin.queue, "_enqueue_event_job", pytest.fail)  # never the template
    enqueue_event(conn, 7, one_trip=True)
    assert conn.lrange(f"rq:queue:{EVENTS}", 0, -1) == [b"event-7"]
    job = Job.fetch("event-7", connection=conn, serializer=SERIALIZER)
    assert (job.func_name, list(job.args), job.get_status()) == (
        "plugin.processing.process.process_event", [7], "queued")  # JSON: a list
