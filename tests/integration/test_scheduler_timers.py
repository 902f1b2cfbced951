"""Scheduler: sweepers after a Redis flush, timers re-armed from the database, auto-close
through ``scheduler tick --now`` exactly once."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from plugin.cli import main
from plugin.context import build_context, set_context
from plugin.ledger.models import CreditEntry
from plugin.processing.models import TicketTimer, TimerKind, TimerState
from plugin.processing.process import process_event
from plugin.queue import EVENTS, PUSH, queue
from plugin.scheduler import sweep_events, sweep_outbox, tick
from plugin.storage.models import Event, Ticket
from tests.jobs_support import SECRET, buy, make_context, payload, store

RESOLVED_AT = "2026-11-16T15:00:00+02:00"
NOW = datetime(2026, 11, 16, 14, 0, tzinfo=UTC)


@pytest.fixture(params=[True], ids=["inline"])
def ctx(request, db_url, redis_url):
    c = make_context(db_url, redis_url, inline_push=request.param)
    buy(c, "acme", 10, datetime(2026, 11, 10, tzinfo=UTC))
    yield c
    set_context(None)
    c.close()


def _resolve(ctx, ticket: str = "T-1") -> None:
    for n, (at, status, old) in enumerate([
        ("2026-11-16T10:00:00+02:00", "new", None),
        ("2026-11-16T10:20:00+02:00", "accepted", "new"),
        (RESOLVED_AT, "resolved", "accepted"),
    ]):
        body = payload(ticket, "ticket.created" if old is None else "ticket.updated", at,
                       status=status, actor="client" if old is None else "agent",
                       changes={"status": [old, status]} if old else {})
        process_event(store(ctx, body, f"{ticket}-{n}"), NOW)


def _debits(ctx) -> list[int]:
    with ctx.db.session() as s:
        return list(s.execute(select(CreditEntry.units).where(CreditEntry.kind == "debit"))
                    .scalars())


@pytest.mark.parametrize("ctx", [False], ids=["push-jobs"], indirect=True)
def test_sweepers_re_enqueue_after_redis_flush(ctx):
    _resolve(ctx)
    stranded = store(ctx, payload("T-2", "ticket.created", "2026-11-16T10:00:00+02:00",
                                  actor="client"), "lost-1")
    ctx.redis.flushdb()  # Redis lost: queued jobs and pushes are gone
    later = datetime.now(UTC) + timedelta(minutes=5)
    assert sweep_events(ctx, later) == "1 re-enqueued"
    assert queue(ctx.redis, EVENTS).job_ids == [f"event-{stranded}"]
    assert sweep_outbox(ctx, later) == "1 enqueued"
    assert len(queue(ctx.redis, PUSH).job_ids) == 1
    # a second pass while the jobs still wait does not double them
    assert sweep_events(ctx, later) == "0 re-enqueued"
    assert sweep_outbox(ctx, later) == "0 enqueued"


def test_timers_live_in_the_database_and_survive_a_restart(ctx):
    _resolve(ctx)
    with ctx.db.session() as s:
        timer = s.execute(select(TicketTimer).where(
            TicketTimer.kind == TimerKind.AUTO_CLOSE)).scalar_one()
    resolved = datetime.fromisoformat(RESOLVED_AT)
    assert (timer.state, timer.due_at) == (TimerState.ARMED, resolved + timedelta(days=5))
    ctx.redis.flushdb()
    fresh = build_context(ctx.settings)  # a restarted scheduler: nothing in memory
    set_context(fresh)
    try:
        early = tick(fresh, resolved + timedelta(days=4, hours=23), force=True)
        assert early["ticket-timers"] == "0 fired"
        due = tick(fresh, resolved + timedelta(days=5, minutes=1), force=True)
        assert due["ticket-timers"] == "1 fired"
    finally:
        fresh.close()
    with ctx.db.session() as s:
        t = s.execute(select(Ticket).where(Ticket.host_ticket_id == "T-1")).scalar_one()
        assert t.status == "closed"


def test_scheduler_tick_cli_auto_closes_once(ctx, tmp_path, monkeypatch):
    _resolve(ctx)
    assert _debits(ctx) == [-1]  # resolution debits the simple task once
    settings_file = tmp_path / "deskpilot.yaml"
    settings_file.write_text(json.dumps({
        "database_url": ctx.settings.database_url, "redis_url": ctx.settings.redis_url,
        "config_dir": str(ctx.settings.config_dir), "var_dir": str(tmp_path),
        "connections": [{"name": "generic", "kind": "generic", "webhook_secrets": [SECRET]}],
    }))
    monkeypatch.setenv("DESKPILOT_SETTINGS", str(settings_file))
    at = (datetime.fromisoformat(RESOLVED_AT) + timedelta(days=5, hours=1)).isoformat()
    runner = CliRunner()
    first = runner.invoke(main, ["scheduler", "tick", "--now", at])
    assert first.exit_code == 0, first.output
    assert "ticket-timers: 1 fired" in first.output
    again = runner.invoke(main, ["scheduler", "tick", "--now", at])
    assert "ticket-timers: 0 fired" in again.output
    with ctx.db.session() as s:
        t = s.execute(select(Ticket).where(Ticket.host_ticket_id == "T-1")).scalar_one()
        assert t.status == "closed" and t.closed_at is not None
        assert s.execute(select(Event)).scalars().all()  # events untouched
    assert _debits(ctx) == [-1]  # resolved then auto-closed: still debited exactly once
