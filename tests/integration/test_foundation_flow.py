"""The foundation's loop on real servers: receive → store → enqueue → worker → ticket row."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
import redis
from rq import Queue, SimpleWorker
from sqlalchemy import select

from plugin.app import create_app
from plugin.context import build_context, set_context
from plugin.queue import EVENTS, SERIALIZER
from plugin.settings import load_settings
from plugin.storage import Event, Ticket
from plugin.storage.migrate import upgrade
from webhooks.hosts.generic import signed_headers

SECRET = "generic-secret-for-tests"
CONFIG = str(Path(__file__).resolve().parents[2] / "config")

EVENT = {
    "event": "ticket.created",
    "occurred_at": "2026-11-23T10:05:00+02:00",
    "actor": {"kind": "client", "id": "u-17"},
    "ticket": {
        "id": 1001, "company": {"id": "acme", "name": "ACME Ltd"},
        "requester": {"id": "u-17", "email": "olena@acme.example"},
        "subject": "Report totals are wrong", "status": "new", "priority": "normal",
        "channel": "email", "created_at": "2026-11-23T10:00:00+02:00",
    },
}


@pytest.fixture
def stack(db_url, redis_url, tmp_path):
    upgrade(db_url)
    settings = load_settings(
        {"DESKPILOT_CONFIG_DIR": CONFIG, "DESKPILOT_GENERIC_SECRET": SECRET},
        {"database_url": db_url, "redis_url": redis_url, "var_dir": str(tmp_path / "var")},
    )
    ctx = build_context(settings)
    set_context(ctx)
    app = create_app(context=ctx)
    yield app, ctx
    set_context(None)
    ctx.close()


def post(client, payload, delivery=None, secret=SECRET):
    body = json.dumps(payload).encode()
    headers = {"Content-Type": "application/json", **signed_headers(body, secret, delivery)}
    return client.post("/webhooks/generic", data=body, headers=headers)


def test_event_is_stored_queued_and_processed_by_a_real_worker(stack):
    app, ctx = stack
    client = app.test_client()
    first = post(client, EVENT, "d-1")
    assert first.status_code == 202
    assert first.json["status"] == "queued"
    event_id = first.json["event_id"]
    again = post(client, EVENT, "d-1")
    assert again.status_code == 200 and again.json == {
        "status": "duplicate", "event_id": event_id, "reason": "delivery already received"}
    conn = redis.Redis.from_url(ctx.redis_url)
    assert Queue(EVENTS, connection=conn).count == 1  # the duplicate enqueued nothing
    SimpleWorker([Queue(EVENTS, connection=conn, serializer=SERIALIZER)], connection=conn,
                 serializer=SERIALIZER).work(burst=True)
    with ctx.db.session() as s:
        row = s.get(Event, event_id)
        assert row.state == "processed" and row.attempts == 1
        ticket = s.execute(select(Ticket)).scalar_one()
        assert (ticket.host_ticket_id, ticket.company_id, ticket.status) == ("1001", "acme", "new")
        assert ticket.filed_at.isoformat() == "2026-11-23T08:00:00+00:00"
    conn.close()


def test_bad_signature_is_401_and_stores_nothing(stack):
    app, ctx = stack
    resp = post(app.test_client(), EVENT, "d-2", secret="not-the-secret")
    assert resp.status_code == 401
    assert resp.json["code"] == "invalid-signature"
    with ctx.db.session() as s:
        assert s.execute(select(Event)).first() is None


def test_same_delivery_with_another_body_is_409(stack):
    app, _ = stack
    client = app.test_client()
    assert post(client, EVENT, "d-3").status_code == 202
    changed = {**EVENT, "occurred_at": "2026-11-23T10:06:00+02:00"}
    resp = post(client, changed, "d-3")
    assert resp.status_code == 409 and resp.json["code"] == "conflict"


def test_without_delivery_id_the_body_hash_is_the_key(stack):
    app, _ = stack
    client = app.test_client()
    assert post(client, EVENT).status_code == 202
    assert post(client, EVENT).json["status"] == "duplicate"


def test_schema_failure_is_422_with_field_errors(stack):
    app, _ = stack
    bad = {**EVENT, "occurred_at": "2026-11-23T10:05:00", "ticket": {"id": "T"}}
    resp = post(app.test_client(), bad, str(uuid.uuid4()))
    assert resp.status_code == 422
    assert resp.json["code"] == "invalid-payload"
    assert resp.json["errors"]["occurred_at"] == ["must carry a UTC offset"]
    assert resp.json["errors"]["ticket"]["created_at"] == ["Missing data for required field."]


def test_health_and_readiness(stack):
    app, _ = stack
    client = app.test_client()
    assert client.get("/healthz").json == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json["checks"] == {"database": "ok", "redis": "ok"}


def test_readiness_is_503_when_redis_is_down(db_url, tmp_path):
    upgrade(db_url)
    settings = load_settings({"DESKPILOT_CONFIG_DIR": str(tmp_path)},
                             {"database_url": db_url, "redis_url": "redis://127.0.0.1:1/0"})
    ctx = build_context(settings)
    try:
        resp = create_app(context=ctx).test_client().get("/readyz")
        assert resp.status_code == 503
        assert resp.headers["Retry-After"] == "10"
        assert resp.json["checks"]["database"] == "ok"
        assert resp.json["checks"]["redis"].startswith("down")
    finally:
        ctx.close()


def test_redis_down_after_store_still_queues_durably(db_url, tmp_path):
    """The row is committed; the sweeper enqueues it once Redis is back."""
    upgrade(db_url)
    settings = load_settings(
        {"DESKPILOT_CONFIG_DIR": str(tmp_path), "DESKPILOT_GENERIC_SECRET": SECRET},
        {"database_url": db_url, "redis_url": "redis://127.0.0.1:1/0"},
    )
    ctx = build_context(settings)
    try:
        resp = post(create_app(context=ctx).test_client(), EVENT, "d-9")
        # issue 3's contract: Redis down answers 503 + Retry-After; the row is durable
        assert resp.status_code == 503 and resp.headers["Retry-After"]
        with ctx.db.session() as s:
            assert s.execute(select(Event.state)).scalar_one() == "queued"
    finally:
        ctx.close()
