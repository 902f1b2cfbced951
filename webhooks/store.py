"""Store one accepted delivery and enqueue its processing, in one pass."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from functools import cache
from typing import Any

from redis.exceptions import RedisError
from sqlalchemy import JSON, select
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import SQLAlchemyError

from plugin.queue import enqueue_event
from plugin.storage.db import utcnow
from plugin.storage.models import Event, EventState, UTCDateTime
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
        log.warning("webhook.store-failed error=%s", type(exc.__cause__ or exc).__name__)
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


#: the receiver's INSERT on PostgreSQL, straight to psycopg (prepared on first use): every
#: column of ``events`` but its id, in table order, derived from the table (as
#: ``plugin.ledger.hotpath`` derives its own), so a new column cannot be silently skipped;
#: one the caller does not give gets its scalar default, else NULL, as SQLAlchemy's insert
#: would. The conversions SQLAlchemy's column types would do are derived from the types too.
_PG_TABLE: Any = Event.__table__
_PG_COLUMNS = tuple(c.key for c in _PG_TABLE.columns if not c.primary_key)
_PG_DEFAULTS = {
    c: d.arg if (d := _PG_TABLE.c[c].default) is not None and d.is_scalar else None
    for c in _PG_COLUMNS
}
_PG_JSON = tuple(i for i, c in enumerate(_PG_COLUMNS) if isinstance(_PG_TABLE.c[c].type, JSON))
_PG_INSTANTS = tuple(
    i for i, c in enumerate(_PG_COLUMNS) if isinstance(_PG_TABLE.c[c].type, UTCDateTime))
_PG_INSERT = (
    f"INSERT INTO {_PG_TABLE.name} ({', '.join(_PG_COLUMNS)}) VALUES "
    f"({', '.join('%s::json' if i in _PG_JSON else '%s' for i in range(len(_PG_COLUMNS)))}) "
    "ON CONFLICT (connection, delivery_key) DO NOTHING RETURNING id"
)


def _insert(db: Any, values: dict[str, Any]) -> int | None:
    """One ``INSERT … ON CONFLICT DO NOTHING RETURNING id``; ``None`` when the key exists.

    On PostgreSQL it runs in autocommit (one round trip instead of BEGIN, INSERT, COMMIT;
    the row is durable when the statement returns) as a prepared statement on the pooled
    psycopg connection: SQLAlchemy's execution machinery cost more CPU than the statement
    on this hot path. SQLite keeps SQLAlchemy and its ``BEGIN IMMEDIATE`` transaction.
    """
    dialect = db.engine.dialect.name
    if dialect == "postgresql":
        return _insert_postgresql(db.unpinged, values)
    with db.engine.begin() as conn:
        return conn.execute(_sqlite_insert(), values).scalar()


@cache
def _sqlite_insert() -> Any:
    """Built once: SQLAlchemy then reuses the compiled form."""
    table: Any = Event.__table__
    return sqlite_insert(table).on_conflict_do_nothing(
        index_elements=["connection", "delivery_key"]).returning(table.c.id)


def _insert_postgresql(engine: Any, values: dict[str, Any]) -> int | None:
    import psycopg  # here: SQLite deployments never load it (tens of MB per process)

    params = [values[c] if c in values else _PG_DEFAULTS[c] for c in _PG_COLUMNS]
    for i in _PG_JSON:  # as SQLAlchemy's JSON type writes them
        params[i] = json.dumps(params[i])
    for i in _PG_INSTANTS:  # what UTCDateTime refuses, refused here too
        at = params[i]
        if at is not None and at.utcoffset() is None:
            raise InsertFailed("naive datetime given to the database")
    try:
        pooled = engine.raw_connection()
    except psycopg.Error as exc:  # the server cannot be reached (the pool does not wrap it)
        raise InsertFailed(str(exc)) from exc
    try:
        pg = pooled.driver_connection
        cursor = pooled.info.get("receiver-cursor")
        if cursor is None or cursor.connection is not pg:  # one per pooled connection
            cursor = pooled.info["receiver-cursor"] = pg.cursor()
        pg.autocommit = True
        try:
            row = cursor.execute(_PG_INSERT, params, prepare=True).fetchone()
        finally:
            pg.autocommit = False  # as the pool's other users expect it
    except psycopg.Error as exc:
        if pg.broken or pg.closed:  # the server went away: the pool must not hand it out again
            pooled.invalidate(exc)
        raise InsertFailed(str(exc)) from exc
    finally:
        pooled.close()
    return None if row is None else int(row[0])


class InsertFailed(SQLAlchemyError):
    """The raw INSERT failed (psycopg's error is the cause): one handler for both paths."""


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
