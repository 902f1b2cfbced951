"""Focused recovery cases the chaos run found: stranded event jobs must be swept again.

Each case makes one fault happen for real (a failing database write, a worker killed with
SIGKILL in the middle of a job), then lets time pass the way the scheduler sees it
(``tick`` at a later ``now``) and drains the queues with a burst worker.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
import yaml
from rq import SimpleWorker
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from plugin.queue import ALL_QUEUES, EVENTS, SERIALIZER, connect, enqueue_event, event_job_id, queue
from plugin.scheduler import tick
from plugin.storage.db import utcnow
from plugin.storage.models import Event, EventState
from tests.jobs_support import SECRET, buy, make_context, payload, store

pytestmark = pytest.mark.redis


def _drain(ctx) -> None:
    SimpleWorker(list(ALL_QUEUES), connection=ctx.redis, serializer=SERIALIZER).work(
        burst=True, with_scheduler=False)


def _state(ctx, event_id: int) -> str:
    with ctx.db.session() as s:
        row = s.get(Event, event_id)
        assert row is not None
        return row.state


def _accepted(ctx, ticket: str, delivery: str) -> int:
    now = utcnow()
    body = payload(ticket, "ticket.updated", now.isoformat(timespec="seconds"),
                   status="accepted", changes={"status": ["new", "accepted"]})
    return store(ctx, body, delivery)


def test_event_that_failed_during_a_db_outage_is_processed_later(sqlite_url, redis_url,
                                                                 monkeypatch):
    ctx = make_context(sqlite_url, redis_url)
    buy(ctx, "acme", 10, utcnow() - timedelta(days=1))
    event_id = _accepted(ctx, "R-1", "r1")
    from plugin.processing import process

    real = process.lock_ticket
    calls = {"n": 0}
    database = {"down": True}

    def outage(*args, **kwargs):
        calls["n"] += 1
        if database["down"]:  # the outage outlasts the job's own immediate retries
            raise OperationalError("SELECT", {}, Exception("server closed the connection"))
        return real(*args, **kwargs)

    monkeypatch.setattr(process, "lock_ticket", outage)
    enqueue_event(ctx.redis, event_id)
    _drain(ctx)
    assert calls["n"] >= 1 and _state(ctx, event_id) == EventState.QUEUED
    database["down"] = False
    # ten minutes later the database is back and the scheduler has ticked
    results = tick(ctx, utcnow() + timedelta(minutes=10), force=True)
    _drain(ctx)
    assert _state(ctx, event_id) == EventState.PROCESSED, results
    ctx.close()


def test_event_of_a_worker_killed_mid_job_is_processed_later(tmp_path: Path, sqlite_url,
                                                            redis_url):
    ctx = make_context(sqlite_url, redis_url)
    event_id = _accepted(ctx, "R-2", "r2")
    settings = tmp_path / "deskpilot.yaml"
    settings.write_text(yaml.safe_dump({"connections": [
        {"name": "generic", "kind": "generic", "webhook_secrets": [SECRET]}]}))
    env = {**os.environ, "DESKPILOT_SETTINGS": str(settings),
           "DESKPILOT_DATABASE_URL": sqlite_url, "DESKPILOT_REDIS_URL": redis_url,
           "DESKPILOT_CONFIG_DIR": str(Path(__file__).resolve().parents[2] / "config"),
           "DESKPILOT_VAR_DIR": str(tmp_path / "var")}
    # hold SQLite's write lock so the worker's job blocks inside its transaction
    blocker = ctx.db.engine.connect()
    held = blocker.begin()  # the engine begins SQLite transactions IMMEDIATE
    worker = subprocess.Popen(
        [str(Path(sys.executable).with_name("deskpilot")), "worker", "--queues", EVENTS],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        enqueue_event(ctx.redis, event_id)
        job = queue(ctx.redis).fetch_job(event_job_id(event_id))
        assert job is not None
        deadline = time.monotonic() + 20
        while job.get_status(refresh=True) != "started":
            assert time.monotonic() < deadline, "the worker never started the job"
            time.sleep(0.05)
        os.kill(worker.pid, signal.SIGKILL)
        worker.wait(10)
    finally:
        if worker.poll() is None:
            worker.kill()
        held.rollback()
        blocker.close()
    assert _state(ctx, event_id) == EventState.QUEUED
    results = tick(ctx, utcnow() + timedelta(minutes=10), force=True)
    _drain(ctx)
    assert _state(ctx, event_id) == EventState.PROCESSED, results
    with ctx.db.session() as s:
        s.execute(text("SELECT 1"))
    ctx.close()


def test_reconcile_task_runs(sqlite_url, redis_url):
    ctx = make_context(sqlite_url, redis_url)
    connect(redis_url).flushdb()
    results = tick(ctx, utcnow(), force=True)
    assert not results["reconcile"].startswith("failed"), results["reconcile"]
    ctx.close()
