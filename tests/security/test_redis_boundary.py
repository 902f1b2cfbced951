"""Redis is a trust boundary (issue 16, finding 8): jobs are JSON and name a Deskpilot job
function, or the worker refuses them; Redis with a password (and the embedded one's
generated password) works end to end."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from rq import Queue
from rq.registry import FailedJobRegistry, FinishedJobRegistry
from rq.serializers import DefaultSerializer, JSONSerializer
from sqlalchemy import select

from plugin.context import Context, set_context
from plugin.failed_jobs import failed_jobs
from plugin.queue import ALL_QUEUES, EVENTS, SERIALIZER, connect, enqueue_event, queue
from plugin.storage.models import Event
from plugin.worker import AllowedJob, DeskpilotWorker
from tests.integration.test_receiver_security import HOSTS, fixture, make_stack, send
from tests.jobs_support import make_context, payload, store

MARKER: list[str] = []


def mark(text: str) -> int:
    """What an attacker's job would run (a side effect the test can see)."""
    MARKER.append(text)
    return len(text)


def _work(conn: redis.Redis) -> None:
    DeskpilotWorker([queue(conn, n) for n in ALL_QUEUES], connection=conn,
                    serializer=SERIALIZER, job_class=AllowedJob).work(
        burst=True, with_scheduler=False)


@pytest.fixture
def ctx(sqlite_url: str, redis_url: str) -> Iterator[Context]:
    c = make_context(sqlite_url, redis_url)
    set_context(c)
    yield c
    set_context(None)
    c.close()


def test_a_pickled_job_enqueued_by_hand_is_refused_and_the_worker_goes_on(ctx: Context) -> None:
    MARKER.clear()
    conn = ctx.redis
    evil = Queue(EVENTS, connection=conn, serializer=DefaultSerializer)  # pickle
    job = evil.enqueue_call(f"{__name__}.mark", args=("pwned",), job_id="by-hand-pickle")
    eid = store(ctx, payload("T-1", "ticket.created", "2026-11-23T10:00:00+02:00",
                             actor="client"), "ok-1")
    enqueue_event(conn, eid, one_trip=True)
    _work(conn)
    assert MARKER == []
    assert job.id in FailedJobRegistry(queue=queue(conn, EVENTS)).get_job_ids()
    assert f"event-{eid}" in FinishedJobRegistry(queue=queue(conn, EVENTS)).get_job_ids()
    listed = {j.id: j for j in failed_jobs(conn)}
    assert listed[job.id].func == "<not a JSON job: refused>"


def test_a_json_job_naming_another_function_is_refused(ctx: Context) -> None:
    MARKER.clear()
    conn = ctx.redis
    for n, func in enumerate((f"{__name__}.mark", "builtins.len", "os.system")):
        Queue(EVENTS, connection=conn, serializer=JSONSerializer).enqueue_call(
            func, args=("pwned",), job_id=f"by-hand-{n}")
    _work(conn)
    assert MARKER == []
    failed = {j.id: j for j in failed_jobs(conn)}
    assert set(failed) >= {"by-hand-0", "by-hand-1", "by-hand-2"}
    assert "not a Deskpilot job function" in failed["by-hand-2"].reason


def test_jobs_carry_json_only(ctx: Context) -> None:
    enqueue_event(ctx.redis, 5, one_trip=True)
    raw = ctx.redis.hget("rq:job:event-5", "data")
    import zlib

    assert json.loads(zlib.decompress(raw)) == ["plugin.processing.process.process_event", None,
                                                [5], {}]


# -- a password-protected Redis ----------------------------------------------------------------
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def protected_redis(tmp_path: Path) -> Iterator[str]:
    server = shutil.which("redis-server")
    if server is None:
        pytest.skip("redis-server is not installed")
    port, password = _free_port(), "pw-for-a-protected-redis-42"
    proc = subprocess.Popen([server, "--port", str(port), "--bind", "127.0.0.1",
                             "--requirepass", password, "--save", "", "--appendonly", "no",
                             "--dir", str(tmp_path)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                redis.Redis(port=port, password=password).ping()
                break
            except redis.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        yield f"redis://:{password}@127.0.0.1:{port}/0"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_a_password_protected_redis_end_to_end(tmp_path: Path, sqlite_url: str,
                                               protected_redis: str) -> None:
    anonymous = redis.Redis.from_url(protected_redis.replace(":pw-for-a-protected-redis-42@",
                                                             ""))
    with pytest.raises(redis.AuthenticationError):
        anonymous.set("x", "1")
    host = next(h for h in HOSTS if h.kind == "generic")
    config = tmp_path / "config"
    shutil.copytree(Path(__file__).resolve().parents[2] / "config", config)
    app, ctx = make_stack(config, sqlite_url, protected_redis)
    set_context(ctx)
    try:
        resp = send(app.test_client(), host, fixture("generic", "ticket_created"),
                    delivery="pw-1")
        assert resp.status_code == 202
        conn = connect(protected_redis)
        _work(conn)
        with ctx.db.session() as s:
            assert s.execute(select(Event.state)).scalars().all() == ["processed"]
    finally:
        set_context(None)
        ctx.close()
    # the wrong password: the receiver stores the event and answers 503 (the host retries)
    wrong = protected_redis.replace("pw-for-a-protected-redis-42", "wrong-password")
    app, ctx = make_stack(tmp_path / "w", sqlite_url, wrong)
    try:
        resp = send(app.test_client(), host, fixture("generic", "ticket_created"),
                    delivery="pw-2")
        assert resp.status_code == 503
    finally:
        ctx.close()


def test_the_embedded_redis_has_a_generated_password(tmp_path: Path) -> None:
    from plugin.runner import start_embedded_redis

    server, url = start_embedded_redis(tmp_path)
    try:
        authed = redis.Redis.from_url(url)
        authed.set("k", "v")
        assert authed.get("k") == b"v"
        anonymous = redis.Redis(host="127.0.0.1", port=server.port)
        assert anonymous.ping()  # the readiness probe still works
        with pytest.raises(redis.exceptions.NoPermissionError):
            anonymous.set("k", "x")
        with pytest.raises(redis.exceptions.NoPermissionError):
            anonymous.lpush(f"rq:queue:{EVENTS}", "evil")
        acl = tmp_path / "valkey" / "users.acl"
        assert acl.stat().st_mode & 0o077 == 0
        assert url.split("@")[0].split(":")[-1] not in acl.read_text()  # only its hash
        second_server, second = start_embedded_redis(tmp_path / "again")
        second_server.stop()
        assert second != url  # a new password every run
    finally:
        server.stop()
