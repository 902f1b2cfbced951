"""``push_ticket``: carry a ticket's pending outbox rows to its host.

One push per ticket at a time, in row order: a job *claims* the rows (state ``sending``
until ``claimed_until``) under the ticket's row lock, calls the host without holding a
transaction, then marks them sent. A failed batch keeps its rows, idempotency key and the
steps the host already applied; it is retried after :func:`plugin.hosts.errors.retry_delay`
(honouring ``Retry-After``) by the scheduler's outbox sweeper, and later rows of the ticket
wait behind it. Permanent or exhausted failures mark the rows failed with the host's message
and raise :class:`PushFailed`, which puts the job in RQ's failed-job registry.
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from sqlalchemy import bindparam, or_, select, update

from plugin.context import Context, get_context
from plugin.hosts.errors import HostHTTPError
from plugin.outbox.commands import Command, PushResult, coalesce
from plugin.outbox.rows import OutboxRow, OutboxState, clear_pending, enqueue_coalesced
from plugin.outbox.units import Outcome, is_refusal, plan, split_refused
from plugin.processing.tickets import lock_ticket
from plugin.reports.metrics import observe_push
from plugin.storage.db import utcnow

log = logging.getLogger("deskpilot.push")

#: attempts of one batch before it is given up (about 30 min of backoff at the 300 s cap)
MAX_ATTEMPTS = 12
#: a claim older than this is considered abandoned (worker killed mid-push)
CLAIM_TTL = timedelta(minutes=2)
#: batches one job sends for a ticket before leaving the rest to the next job
MAX_ROUNDS = 5
#: in-call retries of the HTTP client stay short: longer waits are the job's backoff
CLIENT_OPTIONS: dict[str, Any] = {"retry_budget": 2.0, "max_attempts": 2}
_rng = random.Random()


class PushFailed(Exception):
    """A push the host refused for good (or after every retry): the reason is readable."""


@dataclass(frozen=True)
class Batch:
    """Claimed rows of one ticket, pushed as one call under one idempotency key."""

    ids: tuple[int, ...]
    key: str
    commands: tuple[Command, ...]
    company: str | None
    attempts: int
    done: tuple[str, ...]
    #: open rows of the ticket were left out (behind a retried batch): claim again after
    more: bool = False
    #: (idempotency key, created_at) per row: where the receipt → host write latency starts
    starts: tuple[tuple[str, datetime], ...] = ()


def _open_rows(session: Any, connection: str, ticket_id: str) -> list[OutboxRow]:
    return list(session.execute(
        select(OutboxRow).where(
            OutboxRow.connection == connection, OutboxRow.ticket_id == ticket_id,
            or_(OutboxRow.state == OutboxState.PENDING, OutboxRow.state == OutboxState.SENDING),
        ).order_by(OutboxRow.id)
    ).scalars())


def claim(ctx: Context, connection: str, ticket_id: str, now: datetime) -> Batch | str:
    """Claim the ticket's next batch, or say why there is none (``idle``/``busy``/``waiting``)."""
    with ctx.db.session() as session:
        lock_ticket(session, connection, ticket_id)
        return claim_in(session, connection, ticket_id, now)


def claim_in(session: Any, connection: str, ticket_id: str, now: datetime) -> Batch | str:
    """:func:`claim` inside ``session``, whose transaction already holds the ticket's lock
    (the processing job claims the rows it has just written, in its own transaction)."""
    rows = _open_rows(session, connection, ticket_id)
    if not rows:
        return "idle"
    if any(r.state == OutboxState.SENDING and r.claimed_until and r.claimed_until > now
           for r in rows):
        return "busy"
    retry = [r for r in rows if r.batch_key]
    total = len(rows)
    if retry:
        key = min(retry, key=lambda r: r.id).batch_key
        rows = [r for r in retry if r.batch_key == key]
        if min(r.next_attempt_at for r in rows) > now:
            return "waiting"  # an earlier batch is backing off: keep the ticket's order
    else:
        rows = [r for r in rows if r.next_attempt_at <= now]
        if not rows:
            return "waiting"
        key = f"{connection}:{ticket_id}:{rows[0].id}-{rows[-1].id}"
    done: set[str] = set()
    for r in rows:
        r.state, r.claimed_until, r.batch_key = OutboxState.SENDING, now + CLAIM_TTL, key
        r.attempts += 1
        done.update(r.steps_done or ())
    assert key is not None
    return Batch(
        ids=tuple(r.id for r in rows), key=key,
        commands=tuple(r.to_command() for r in rows),
        company=next((r.company_id for r in rows if r.company_id), None),
        attempts=max(r.attempts for r in rows), done=tuple(sorted(done)),
        more=bool(retry) and len(rows) < total,
        starts=tuple((r.idempotency_key, r.created_at) for r in rows),
    )


@cache
def _sent_statement() -> Any:
    table: Any = OutboxRow.__table__
    return update(table).where(table.c.id.in_(bindparam("ids", expanding=True))).values(
        state=OutboxState.SENT, last_error=None, claimed_until=None)


def _mark_sent(ctx: Context, ids: tuple[int, ...], now: datetime) -> None:
    """The common case: one statement (built once), committed on its own."""
    with ctx.db.autocommit() as conn:
        conn.execute(_sent_statement(), {"ids": list(ids), "sent_at": now})


def _finish(ctx: Context, batch: Batch, now: datetime, *, error: BaseException | None,
            delay: float | None, outcome: Outcome | None = None) -> list[int]:
    """Record a batch's end: delivered rows sent, refused rows failed with the host's status
    and message (plus an internal note about them, see :mod:`plugin.outbox.refusals`), the
    rest retried after ``delay`` (or failed for good with ``delay`` None). Returns the ids
    of the notes written about refusals."""
    outcome = outcome or Outcome()
    if error is None and not outcome.refused:
        _mark_sent(ctx, batch.ids, now)
        return []
    from plugin.outbox.refusals import record_refusals

    settled = set(outcome.delivered) | {r.row_id for r in outcome.refused}
    with ctx.db.session() as session:
        rows = list(session.execute(
            select(OutboxRow).where(OutboxRow.id.in_(batch.ids))).scalars())
        for r in rows:
            if r.id in outcome.delivered:
                r.state, r.claimed_until, r.last_error = OutboxState.SENT, None, None
                r.sent_at = now
            elif r.id in settled or error is None:
                continue
            else:
                r.claimed_until = None
                r.last_error = f"{error.__class__.__name__}: {error}"[:2000]
                r.steps_done = sorted({*batch.done, *getattr(error, "done_steps", ())})
                if delay is None:
                    r.state, r.failed_at = OutboxState.FAILED, now
                    r.refused_status = getattr(error, "status", None)
                else:
                    r.state, r.next_attempt_at = OutboxState.PENDING, now + timedelta(seconds=delay)
        if not outcome.refused:
            return []
        from plugin.rules_runtime import team_rules

        return record_refusals(session, rows, outcome.refused, now,
                               team_rules(ctx.settings.config_dir))


def client_for(ctx: Context, conn: Any, *, inline: bool = False) -> Any:
    """A host client for ``conn``, kept per process (keep-alive); tests may inject a factory.

    The ``inline`` client (used inside processing jobs) makes one HTTP attempt: a retry is
    a push job's business, never a wait inside event processing.
    """
    factory = ctx.extras.get("host-client-factory")
    if factory is not None:
        return factory(conn)
    clients = ctx.extras.setdefault("host-clients", {})
    name = f"{conn.name}:inline" if inline else conn.name
    if name not in clients:
        from plugin.hosts import make_client

        options = {**CLIENT_OPTIONS, "max_attempts": 1} if inline else CLIENT_OPTIONS
        clients[name] = make_client(conn, **options)
    return clients[name]


def _done_for(done: tuple[str, ...], prefix: str) -> tuple[str, ...]:
    """A unit's own completed steps (stored as ``<first row id>/<step>``; bare names are
    from before units and belong to the whole batch)."""
    return tuple(sorted({s[len(prefix):] for s in done if s.startswith(prefix)}
                        | {s for s in done if "/" not in s}))


def _push_units(client: Any, ticket_id: str, batch: Batch, outcome: Outcome) -> None:
    """Push the batch unit by unit into ``outcome``; a failure that is not a refusal is
    raised with its unit's completed steps (prefixed) and the earlier units' results kept."""
    units = plan(client, batch.ids, batch.commands)

    def push(cmds: list[Command], key: str, done: tuple[str, ...] = ()) -> PushResult:
        res: PushResult = client.push(ticket_id, coalesce(cmds), company=batch.company,
                                      idempotency_key=key, done=done)
        outcome.recorded = outcome.recorded or res.recorded
        return res

    for unit in units:
        key = batch.key if len(units) == 1 else f"{batch.key}/{unit.ids[0]}"
        prefix = f"{unit.ids[0]}/"
        try:
            try:
                outcome.calls += push(list(unit.commands), key,
                                      _done_for(batch.done, prefix)).calls
                outcome.delivered.extend(unit.ids)
            except Exception as exc:
                if not is_refusal(exc):
                    raise
                assert isinstance(exc, HostHTTPError)
                try:
                    split_refused(lambda c, k: push(c, k), unit, key, exc, outcome,
                                  deadlines=getattr(client, "scoped_deadlines", False))
                except Exception as inner:
                    # a failure while splitting: its steps belong to one row's push, not
                    # to the unit; the unit is retried whole (field writes are idempotent)
                    inner.done_steps = ()  # type: ignore[attr-defined]
                    raise
        except Exception as exc:
            done = getattr(exc, "done_steps", ())
            try:
                exc.done_steps = tuple(prefix + s for s in done)  # type: ignore[attr-defined]
            except AttributeError:
                pass
            raise


def send(ctx: Context, conn: Any, ticket_id: str, batch: Batch, now: datetime, *,
         inline: bool = False, received: dict[int, datetime] | None = None) -> str:
    """Push one claimed batch; on failure schedule its retry or fail it for good.

    Rows the host refuses (4xx) fail alone, recorded with the host's status and message
    (:mod:`plugin.outbox.units`); the others are delivered. ``inline`` (the processing job's
    own first attempt): a failure never raises.
    """
    outcome = Outcome()
    client = client_for(ctx, conn, inline=inline)
    try:
        _push_units(client, ticket_id, batch, outcome)
    except Exception as exc:  # noqa: BLE001 - every failure is classified by retry_delay
        from plugin.hosts.errors import retry_delay

        delay = retry_delay(exc, batch.attempts, _rng, max_attempts=MAX_ATTEMPTS)
        if inline:
            notes = _finish(ctx, batch, now, error=exc, delay=0.0 if delay is None else delay,
                            outcome=outcome)
            log.info("push.inline-failed connection=%s ticket=%s error=%s",
                     conn.name, ticket_id, exc.__class__.__name__)
            if (delay is None or notes) and ctx.redis_url:
                enqueue_coalesced(ctx.redis, [(conn.name, ticket_id)], f"f{batch.ids[-1]}")
            return "handed to a push job" if delay is None else f"retry in {delay:.1f}s"
        notes = _finish(ctx, batch, now, error=exc, delay=delay, outcome=outcome)
        _observe(ctx, conn.name, batch, outcome, received)
        if notes and ctx.redis_url:
            enqueue_coalesced(ctx.redis, [(conn.name, ticket_id)], f"n{notes[-1]}")
        if delay is None:
            why = "permanent" if batch.attempts < MAX_ATTEMPTS else "retries exhausted"
            log.warning("push.failed connection=%s ticket=%s attempts=%s error=%s",
                        conn.name, ticket_id, batch.attempts, exc.__class__.__name__)
            raise PushFailed(f"{conn.name}/{ticket_id}: {why} after {batch.attempts} "
                             f"attempt(s): {exc}") from exc
        log.info("push.retry connection=%s ticket=%s attempt=%s delay=%.1f error=%s",
                 conn.name, ticket_id, batch.attempts, delay, exc.__class__.__name__)
        return f"retry in {delay:.1f}s"
    notes = _finish(ctx, batch, now, error=None, delay=None, outcome=outcome)
    _observe(ctx, conn.name, batch, outcome, received)
    if outcome.refused:
        if notes and ctx.redis_url:
            enqueue_coalesced(ctx.redis, [(conn.name, ticket_id)], f"n{notes[-1]}")
        reasons = "; ".join(str(r.error) for r in outcome.refused)
        log.warning("push.refused connection=%s ticket=%s rows=%s delivered=%s",
                    conn.name, ticket_id, [r.row_id for r in outcome.refused],
                    len(outcome.delivered))
        if not inline:
            raise PushFailed(f"{conn.name}/{ticket_id}: refused {len(outcome.refused)} of "
                             f"{len(batch.ids)} write(s) (see deskpilot outbox list): {reasons}")
        return f"refused {len(outcome.refused)} of {len(batch.ids)}"
    return "recorded" if outcome.recorded else f"sent ({outcome.calls} call(s))"


def _observe(ctx: Context, host: str, batch: Batch, outcome: Outcome,
             received: dict[int, datetime] | None) -> None:
    delivered = set(outcome.delivered)
    if not delivered:
        return
    starts = tuple(s for i, s in zip(batch.ids, batch.starts, strict=False) if i in delivered)
    observe_push(ctx, host, starts if batch.starts else (), utcnow(), received)


def push_ticket(connection: str, ticket_id: str, now: datetime | str | None = None) -> str:
    """Push the ticket's pending commands to its host (the RQ job; ``now`` arrives as ISO
    8601 text, since jobs carry JSON only)."""
    if isinstance(now, str):
        now = datetime.fromisoformat(now)
    ctx = get_context()
    conn = ctx.settings.connection(connection)
    if conn is None:
        raise PushFailed(f"{connection}/{ticket_id}: connection no longer configured")
    # from here on a new outbox row needs a new job: this one may have claimed already
    if ctx.redis_url:
        clear_pending(ctx.redis, connection, ticket_id)
    outcome = "idle"
    for _ in range(MAX_ROUNDS):
        at = now or utcnow()
        batch = claim(ctx, connection, ticket_id, at)
        if isinstance(batch, str):
            return outcome if batch == "idle" and outcome != "idle" else batch
        outcome = send(ctx, conn, ticket_id, batch, at)
        # rows written since the claim got a push job of their own (the marker was cleared
        # above): only rows held back behind a retried batch need another round here
        if outcome.startswith("retry") or not batch.more:
            return outcome
    return outcome
