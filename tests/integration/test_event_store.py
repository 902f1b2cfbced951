"""The receiver's INSERT: every column as SQLAlchemy would write it, on SQLite and PostgreSQL
(where it goes straight to psycopg as a prepared statement), and how it fails."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta, timezone

import pytest
import redis
from rq import Queue
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.exc import SQLAlchemyError

from plugin.app import create_app
from plugin.context import build_context
from plugin.queue import EVENTS
from plugin.settings import load_settings
from plugin.storage import Event
from plugin.storage.db import Database
from webhooks import store
from webhooks.hosts.generic import signed_headers

KYIV = timezone(timedelta(hours=2))
SECRET = "store-secret-0123456789"


def values(key: str, **over) -> dict:
    base = {
        "connection": "generic", "delivery_key": key, "body_sha256": "ab" * 32,
        "received_at": datetime(2026, 11, 23, 8, 5, 1, 123456, tzinfo=UTC),
        "headers": {"content-type": "application/json", "X-Deskpilot-Delivery": "ключ"},
        "body": b'{"event": "ticket.updated"}\x00\xff', "event_type": "ticket.updated",
        "ticket_id": "T-1", "occurred_at": datetime(2026, 11, 23, 10, 5, tzinfo=KYIV),
        "state": "queued", "attempts": 0, "last_error": None,
    }
    return {**base, **over}



def test_insert_writes_every_column_and_a_known_key_returns_none(db):
    first = store._insert(db, values("k-1"))
    ignored = store._insert(db, values("k-2", event_type=None, ticket_id=None, occurred_at=None,
                                       state="ignored", last_error="own write echoed back"))
    assert isinstance(first, int) and isinstance(ignored, int) and ignored != first
    assert store._insert(db, values("k-1", body=b"another")) is None
    with db.session() as s:
        rows = {r.delivery_key: r for r in s.execute(select(Event)).scalars()}
    assert set(rows) == {"k-1", "k-2"}
    row = rows["k-1"]
    want = values("k-1")
    assert row.id == first
    for column in ("connection", "body_sha256", "headers", "body", "event_type", "ticket_id",
                   "state", "attempts", "last_error"):
        assert getattr(row, column) == want[column], column
    assert row.received_at == want["received_at"] and row.received_at.tzinfo is not None
    assert row.occurred_at == want["occurred_at"]
    assert row.processed_at is None
    assert (rows["k-2"].event_type, rows["k-2"].occurred_at, rows["k-2"].last_error) == (
        None, None, "own write echoed back")


def test_a_naive_instant_is_refused_as_a_database_error(db):
    naive = datetime(2026, 11, 23, 10, 5)
    with pytest.raises(SQLAlchemyError):
        store._insert(db, values("k-3", occurred_at=naive))
    with db.session() as s:
        assert s.execute(select(func.count()).select_from(Event)).scalar_one() == 0


@pytest.mark.postgres
def test_postgresql_statement_error_keeps_the_pooled_connection_usable(pg_url):
    db = Database(pg_url)
    db.create_all()
    try:
        with pytest.raises(store.InsertFailed):  # delivery_key is VARCHAR(200)
            store._insert(db, values("x" * 300))
        assert db.unpinged.pool.checkedout() == 0
        assert store._insert(db, values("k-4")) is not None
        with db.unpinged.connect() as conn:  # the pool's connections are back out of autocommit
            assert conn.connection.driver_connection.autocommit is False
    finally:
        db.dispose()


def _app(db_url: str, redis_url: str, tmp_path):
    settings = load_settings({"DESKPILOT_CONFIG_DIR": str(tmp_path)}, {
        "database_url": db_url, "redis_url": redis_url, "var_dir": str(tmp_path / "var"),
        "connections": [{"name": "generic", "kind": "generic", "webhook_secrets": [SECRET]}],
    })
    ctx = build_context(settings)
    return create_app(context=ctx), ctx


def _post(client, delivery: str):
    body = json.dumps({
        "event": "ticket.created", "occurred_at": "2026-11-23T10:05:00+02:00",
        "ticket": {"id": "T-1", "created_at": "2026-11-23T10:00:00+02:00"},
    }).encode()
    return client.post("/webhooks/generic", data=body, headers={
        "Content-Type": "application/json", **signed_headers(body, SECRET, delivery)})


def _queued(redis_url: str) -> int:
    conn = redis.Redis.from_url(redis_url)
    try:
        return Queue(EVENTS, connection=conn).count
    finally:
        conn.close()


@pytest.mark.postgres
def test_postgresql_connection_killed_under_the_pool_is_one_503_then_202(
        pg_url, redis_url, tmp_path, caplog):
    app, ctx = _app(pg_url, redis_url, tmp_path)
    ctx.db.create_all()
    client = app.test_client()
    try:
        assert _post(client, "d-1").status_code == 202  # the pool now holds a connection
        admin = create_engine(pg_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            killed = conn.execute(text(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()")).scalar()
        admin.dispose()
        assert killed >= 1
        with caplog.at_level(logging.WARNING):
            lost = _post(client, "d-2")
        assert lost.status_code == 503 and lost.headers["Retry-After"]
        # dropped from the pool by the receiver, not by the pool's reset failing on it
        assert [r.name for r in caplog.records] == ["deskpilot.webhook"] * 2
        assert lost.json["code"] == "unavailable"
        assert _post(client, "d-2").status_code == 202  # redelivered: a fresh connection
        assert _queued(redis_url) == 2
    finally:
        ctx.close()


@pytest.mark.postgres
def test_postgresql_unreachable_is_503_and_nothing_is_enqueued(redis_url, tmp_path):
    app, ctx = _app("postgresql+psycopg://postgres@127.0.0.1:1/none", redis_url, tmp_path)
    try:
        resp = _post(app.test_client(), "d-1")
        assert resp.status_code == 503 and resp.headers["Retry-After"]
        assert _queued(redis_url) == 0
    finally:
        ctx.close()
