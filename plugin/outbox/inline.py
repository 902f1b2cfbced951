"""Inline push: the processing job carries the host commands it has just written.

A push job per event costs rq's bookkeeping (~4 ms CPU and dozens of Redis commands), a
queue hop and a claim transaction. When the host is healthy the processing job claims its
ticket's new outbox rows inside its own transaction (it holds the ticket's lock already)
and sends them right after commit, with one HTTP attempt. Everything else is unchanged:
the rows are claimed like a push job claims them, so a push job and an inline push never
send the same rows, and a worker killed between commit and send leaves a claim that
expires for the sweeper.

After a failed inline push the connection is *paused* in this process for
:data:`PAUSE_SECONDS`: its pushes go through push jobs with their backoff, so a failing or
slow host never slows event processing down.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from plugin.context import Context
from plugin.outbox.push import Batch, claim_in, send
from plugin.processing.tickets import outbox_idle

log = logging.getLogger("deskpilot.push")

PAUSE_SECONDS = 30.0


@dataclass(frozen=True)
class Claimed:
    """A batch claimed inside the processing transaction, to send after commit."""

    conn: Any
    ticket_id: str
    batch: Batch


def _paused(ctx: Context, connection: str) -> bool:
    until = ctx.extras.get("inline-push-paused", {}).get(connection)
    return until is not None and time.monotonic() < until


def pause(ctx: Context, connection: str) -> None:
    ctx.extras.setdefault("inline-push-paused", {})[connection] = \
        time.monotonic() + PAUSE_SECONDS


def may_claim_on_insert(ctx: Context, session: Session, ticket: Any) -> bool:
    """Whether the ticket's new outbox rows may be inserted already claimed for an inline
    push: the connection pushes inline and is not paused, and the ticket has no other open
    rows (its lock query said so, or this transaction created it)."""
    conn = ctx.settings.connection(ticket.connection)
    return (conn is not None and conn.inline_push and not _paused(ctx, conn.name)
            and outbox_idle(session, ticket))


def claim_inline(ctx: Context, session: Session, tickets: Iterable[tuple[str, str]],
                 now: datetime) -> tuple[list[Claimed], list[tuple[str, str]]]:
    """Claim in ``session`` the open rows of ``tickets`` (locked by the caller) that can be
    pushed inline; returns them and the tickets left to push jobs."""
    inline: list[Claimed] = []
    queued: list[tuple[str, str]] = []
    for connection, ticket_id in sorted(set(tickets)):
        conn = ctx.settings.connection(connection)
        if conn is None or not conn.inline_push or _paused(ctx, connection):
            queued.append((connection, ticket_id))
            continue
        batch = claim_in(session, connection, ticket_id, now)
        if isinstance(batch, Batch):
            inline.append(Claimed(conn, ticket_id, batch))
            if batch.more:  # rows held back behind a retried batch: a push job follows up
                queued.append((connection, ticket_id))
        elif batch != "idle":
            # busy (a push is under way) or waiting (an earlier batch backs off): as before,
            # a push job carries the new rows in their turn
            queued.append((connection, ticket_id))
    return inline, queued


def push_claimed(ctx: Context, claimed: Iterable[Claimed], now: datetime,
                 received: dict[int, datetime] | None = None) -> None:
    """Send each claimed batch once (after the claiming transaction committed).

    Never raises: a failure is recorded on the rows (retry by the sweeper, or a push job
    at once for a refusal), and anything unexpected leaves the claim to expire.
    """
    for item in claimed:
        try:
            outcome = send(ctx, item.conn, item.ticket_id, item.batch, now, inline=True,
                           received=received)
        except Exception as exc:  # noqa: BLE001 - the claim expires; the sweeper resends
            outcome = "failed"
            log.warning("push.inline-error connection=%s ticket=%s error=%s",
                        item.conn.name, item.ticket_id, exc.__class__.__name__)
        # a refusal (4xx) says nothing about the host's health: only failures pause
        if not outcome.startswith(("sent", "recorded", "refused")):
            pause(ctx, item.conn.name)
