"""The outbox: host commands written in the processing transaction, pushed after commit.

A row is one :class:`~plugin.outbox.commands.Command` for one ticket of one connection. Rows
are inserted with the ticket state and ledger entries (one transaction), so a decision's
writes to the host can never be lost or invented; push jobs enqueued after commit carry
them out, and the scheduler's sweeper re-enqueues whatever is left pending.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import UTC, datetime
from functools import cache
from typing import Any

from redis import Redis
from redis.exceptions import RedisError
from sqlalchemy import JSON, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, Session, mapped_column

from plugin.outbox.commands import Command
from plugin.storage.models import Base

log = logging.getLogger("deskpilot.outbox")


#: a new row is due at once, whatever clock wrote it: a decision made at a simulated
#: ``scheduler tick --now`` in the future must not wait for the real clock to get there;
#: only retries get a real ``next_attempt_at``
DUE_AT_ONCE = datetime(1970, 1, 1, tzinfo=UTC)

class OutboxState:
    """States of an outbox row."""

    PENDING = "pending"
    #: claimed by a push job until ``claimed_until`` (then pending again for the sweeper)
    SENDING = "sending"
    SENT = "sent"
    #: refused by the host (4xx) or given up after every retry: kept for ``deskpilot outbox``
    FAILED = "failed"
    #: a failed row an operator gave up on (``deskpilot outbox discard --reason``)
    DISCARDED = "discarded"


class OutboxRow(Base):
    """One command for the host, kept until the host has it."""

    __tablename__ = "outbox"
    __table_args__ = (
        Index("ix_outbox_state_due", "state", "next_attempt_at"),
        Index("ix_outbox_ticket", "connection", "ticket_id", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    connection: Mapped[str] = mapped_column(String(64))
    ticket_id: Mapped[str] = mapped_column(String(100))
    company_id: Mapped[str | None] = mapped_column(String(100))
    command: Mapped[dict[str, Any]] = mapped_column(JSON)
    #: ``<source>:<n>``: the same decision replayed never writes a second row
    idempotency_key: Mapped[str] = mapped_column(String(255), unique=True)
    state: Mapped[str] = mapped_column(String(16), default=OutboxState.PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column()
    claimed_until: Mapped[datetime | None] = mapped_column()
    last_error: Mapped[str | None] = mapped_column(Text)
    #: the push this row belongs to once tried: retries resend the same batch under the same
    #: idempotency key, with the steps the host already applied
    batch_key: Mapped[str | None] = mapped_column(String(255))
    steps_done: Mapped[list[str] | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column()
    sent_at: Mapped[datetime | None] = mapped_column()
    # -- the durable record of a write the host refused (issue 15) --------------------------
    #: the host's HTTP status when it refused the write (None: failed without an answer)
    refused_status: Mapped[int | None] = mapped_column(Integer)
    #: when the row was last failed (refused, or retries exhausted)
    failed_at: Mapped[datetime | None] = mapped_column()
    #: why an operator discarded the row, and when
    discard_reason: Mapped[str | None] = mapped_column(Text)
    discarded_at: Mapped[datetime | None] = mapped_column()

    def to_command(self) -> Command:
        return Command.from_json(self.command)


def dialect_insert(session: Session) -> Any:
    """The dialect's ``insert`` (both have ``on_conflict_do_nothing`` and ``returning``)."""
    return dialect_insert_for(session.get_bind().dialect.name)


def dialect_insert_for(dialect: str) -> Any:
    """:func:`dialect_insert` by the dialect's name."""
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return sqlite_insert


def insert_ignoring(session: Session, table: Any, unique: tuple[str, ...],
                    returning: str | None = None) -> Any:
    """``INSERT … ON CONFLICT (unique) DO NOTHING [RETURNING col]`` for ``table``, built
    once per dialect: an insert with inline values is compiled again on every call."""
    return insert_ignoring_for(session.get_bind().dialect.name, table, unique, returning)


@cache
def insert_ignoring_for(dialect: str, table: Any, unique: tuple[str, ...],
                        returning: str | None = None) -> Any:
    """:func:`insert_ignoring` by the dialect's name (cached: one statement per arguments)."""
    stmt = dialect_insert_for(dialect)(table).on_conflict_do_nothing(index_elements=list(unique))
    if returning is not None:
        stmt = stmt.returning(table.c[returning])
    return stmt


def row_key(key_prefix: str, n: int) -> str:
    """The idempotency key of a decision's ``n``-th outbox row."""
    return f"{key_prefix}:{n}"[:255]


def add_commands(
    session: Session, connection: str, ticket_id: str, commands: Iterable[Command],
    key_prefix: str, now: datetime, company_id: str | None = None,
    claim: tuple[str, datetime] | None = None,
) -> list[int]:
    """Insert one row per command (keys ``<key_prefix>:<n>``); rows that exist are skipped.

    One ``INSERT … ON CONFLICT DO NOTHING RETURNING id`` for the whole decision (SQLAlchemy
    sends the rows as one multi-row statement): a re-applied source finds its keys taken
    and adds nothing. Returns the new rows' ids.

    ``claim`` (batch key, claimed until) inserts the rows already claimed for one push, as
    a push job's claim would leave them: the caller holds the ticket's lock and knows that
    the ticket has no other open rows, so the claim needs no query of its own.
    """
    batch_key, until = claim if claim is not None else (None, None)
    values = [
        {"connection": connection, "ticket_id": ticket_id, "company_id": company_id,
         "command": cmd.to_json(), "idempotency_key": row_key(key_prefix, n),
         "state": OutboxState.PENDING if claim is None else OutboxState.SENDING,
         "attempts": 0 if claim is None else 1, "next_attempt_at": DUE_AT_ONCE,
         "claimed_until": until, "last_error": None, "batch_key": batch_key,
         "steps_done": None, "created_at": now, "sent_at": None,
         "refused_status": None, "failed_at": None, "discard_reason": None,
         "discarded_at": None}
        for n, cmd in enumerate(commands)
    ]
    if not values:
        return []
    stmt = insert_ignoring(session, OutboxRow.__table__, ("idempotency_key",), "id")
    if len(values) == 1:
        return [int(i) for i in session.execute(stmt, values[0]).scalars()]
    result = session.connection().execute(stmt, values)
    return [int(i) for i in result.scalars()]


def push_job_id(connection: str, ticket_id: str, salt: str) -> str:
    # rq keeps job ids in key names: keep them short and free of ':' from host ids
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in ticket_id)[:80]
    return f"push-{connection}-{safe}-{salt}"


def pending_key(connection: str, ticket_id: str) -> str:
    """Redis key set while a push job of the ticket waits in the queue (not yet started)."""
    return f"deskpilot:push-pending:{connection}:{ticket_id}"


#: a marker outlives a lost job by at most this long (the sweeper covers the gap)
PENDING_TTL = 300


def enqueue_push(conn: Redis, connection: str, ticket_id: str, salt: str = "0",
                 pipeline: Any = None, now: datetime | None = None) -> bool:
    """Enqueue the push job of one ticket; False when Redis is down (the sweeper follows).

    ``now`` is the clock the job claims and stamps with (the sweeper's: a batch whose claim
    expired at the sweeper's time is taken over at that time); without it, the job's own.
    """
    from plugin.queue import PUSH, PUSH_FUNC, queue

    try:
        queue(conn, PUSH).enqueue_call(
            PUSH_FUNC,
            args=(connection, ticket_id),
            kwargs={"now": now.isoformat()} if now is not None else None,
            job_id=push_job_id(connection, ticket_id, salt),
            # gone once done, so the sweeper can tell "queued or running" from "finished"
            result_ttl=0,
            failure_ttl=30 * 24 * 3600,
            description=f"push {connection}/{ticket_id}",
            pipeline=pipeline,
        )
        if pipeline is not None:
            pipeline.execute()
    except (RedisError, OSError) as exc:
        log.warning("outbox.enqueue-failed connection=%s ticket=%s error=%s",
                    connection, ticket_id, exc.__class__.__name__)
        return False
    return True


def enqueue_coalesced(conn: Redis, tickets: Iterable[tuple[str, str]], salt: str) -> int:
    """Enqueue one push job per ticket unless one is already waiting; returns how many.

    A waiting job has not claimed its rows yet, so it will carry the new ones too: each
    ticket gets at most one queued push however many events arrive (rq's bookkeeping costs
    ~4 ms CPU and ~57 Redis commands per job). The job clears the marker before it claims.
    """
    wanted = sorted(set(tickets))
    if not wanted:
        return 0
    try:
        pipe = conn.pipeline(transaction=False)
        for connection, ticket_id in wanted:
            pipe.set(pending_key(connection, ticket_id), salt, nx=True, ex=PENDING_TTL)
        fresh = [t for t, was_set in zip(wanted, pipe.execute(), strict=True) if was_set]
    except (RedisError, OSError) as exc:
        log.warning("outbox.enqueue-failed error=%s", exc.__class__.__name__)
        return 0
    done = 0
    for connection, ticket_id in fresh:
        # the job and the queue entry in one round trip
        if enqueue_push(conn, connection, ticket_id, salt, pipeline=conn.pipeline()):
            done += 1
        else:
            clear_pending(conn, connection, ticket_id)
    return done


def clear_pending(conn: Redis, connection: str, ticket_id: str) -> None:
    """Drop the ticket's waiting-push marker (the push job does this before claiming)."""
    try:
        conn.delete(pending_key(connection, ticket_id))
    except (RedisError, OSError) as exc:
        log.warning("outbox.marker-clear-failed error=%s", exc.__class__.__name__)


def enqueue_after_commit(session: Session, conn_factory: Any,
                         tickets: Iterable[tuple[str, str]], salt: str) -> None:
    """Enqueue push jobs for ``tickets`` once ``session``'s transaction commits.

    Before commit a worker could pick the job up and find no rows; after a rollback there
    is nothing to push. ``conn_factory`` returns the Redis client (resolved lazily so a
    transaction without pushes never touches Redis).
    """
    wanted = sorted(set(tickets))
    if not wanted:
        return
    from sqlalchemy import event

    def _after(_session: Session) -> None:
        try:
            conn = conn_factory()
        except (RuntimeError, RedisError, OSError) as exc:
            # committed already: never fail the job now; the sweeper enqueues the rows
            log.warning("outbox.no-redis error=%s", exc)
            return
        enqueue_coalesced(conn, wanted, salt)

    event.listen(session, "after_commit", _after, once=True)
