"""Store one accepted delivery and enqueue its processing, in one pass."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from redis.exceptions import RedisError
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import SQLAlchemyError

from plugin.queue import enqueue_event
from plugin.storage.db import utcnow
from plugin.storage.models import Event, EventState
from rules.event import EventType, TicketEvent
from webhooks.base import body_sha256

log = logging.getLogger("deskpilot.webhook")


class Dependency(Exception):
    """The database or Redis is down: the host must redeliver later (503)."""

    def __init__(self, which: str):
        super().__init__(which)
        self.which = which


@dataclass(frozen=True)
class Outcome:
    """What happened to one delivery."""

    status: str  # queued | duplicate | ignored | conflict
    event_id: int | None
    reason: str | None = None


def ignored_reason(events: list[TicketEvent]) -> str | None:
    if not events:
        return "no ticket event in this delivery"
    if all(ev.own_write for ev in events):
        return "own write echoed back"
    if all(ev.event == EventType.UNKNOWN for ev in events):
        return "event type not acted on"
    return None


def store_and_enqueue(
    ctx: Any, connection: str, key: str, body: bytes, headers: dict[str, str],
    events: list[TicketEvent],
) -> Outcome:
    """Insert the raw event (unique per connection and delivery key), then enqueue it.

    A duplicate answers with the stored row; the same key with another body is a conflict.
    If Redis fails after the row is committed, the row stays ``queued`` (the sweeper
    enqueues it later) and the host is answered 503, so its redelivery, answered
    ``duplicate``, confirms the delivery: nothing is lost and nothing is processed twice.
    """
    digest = body_sha256(body)
    reason = ignored_reason(events)
    first = events[0] if events else None
    values = {
        "connection": connection, "delivery_key": key[:200], "body_sha256": digest,
        "received_at": utcnow(), "headers": headers, "body": body,
        "event_type": first.event if first else None,
        "ticket_id": first.ticket.id if first else None,
        "occurred_at": first.occurred_at if first else None,
        "state": EventState.IGNORED if reason else EventState.QUEUED, "attempts": 0,
        "last_error": reason,
    }
    try:
        event_id = _insert(ctx.db, values)
    except SQLAlchemyError as exc:
        log.warning("webhook.store-failed error=%s", exc.__class__.__name__)
        raise Dependency("database") from exc
    if event_id is None:
        return _existing(ctx, connection, key, digest)
    if reason:
        return Outcome("ignored", event_id, reason)
    try:
        enqueue_event(ctx.redis, event_id, one_trip=True)
    except (RedisError, OSError, RuntimeError) as exc:
        # stored durably: the sweeper re-enqueues rows left queued
        log.warning("webhook.enqueue-failed event=%s error=%s", event_id, exc.__class__.__name__)
        raise Dependency("redis") from exc
    return Outcome("queued", event_id)


_INSERTS: dict[str, Any] = {}


def _insert(db: Any, values: dict[str, Any]) -> int | None:
    """One ``INSERT … ON CONFLICT DO NOTHING RETURNING id``; ``None`` when the key exists.

    On PostgreSQL it runs in autocommit: one round trip instead of BEGIN, INSERT, COMMIT
    (the hot path of the receiver; the row is durable when the statement returns). SQLite
    keeps its ``BEGIN IMMEDIATE`` transaction, which is local and cheap.
    """
    dialect = db.engine.dialect.name
    stmt = _INSERTS.get(dialect)
    if stmt is None:  # built once per dialect: SQLAlchemy then reuses the compiled form
        insert = pg_insert if dialect == "postgresql" else sqlite_insert
        table: Any = Event.__table__
        stmt = _INSERTS[dialect] = insert(table).on_conflict_do_nothing(
            index_elements=["connection", "delivery_key"]).returning(table.c.id)
    if dialect == "postgresql":
        with db.unpinged.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            return conn.execute(stmt, values).scalar()
    with db.engine.begin() as conn:
        return conn.execute(stmt, values).scalar()


def _existing(ctx: Any, connection: str, key: str, digest: str) -> Outcome:
    try:
        with ctx.db.session() as session:
            found = session.execute(
                select(Event.id, Event.body_sha256).where(
                    Event.connection == connection, Event.delivery_key == key[:200]
                )
            ).one_or_none()
    except SQLAlchemyError as exc:
        raise Dependency("database") from exc
    if found is None:  # pragma: no cover - the unique row vanished between two statements
        raise Dependency("database")
    if found.body_sha256 != digest:
        return Outcome("conflict", found.id)
    return Outcome("duplicate", found.id, "delivery already received")
