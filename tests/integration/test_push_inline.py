"""Inline push: the processing job sends the commands it has just written (one HTTP attempt);
failures fall back to push jobs (backoff, failed-job registry) and pause inline pushing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from rq import SimpleWorker
from rq.registry import FailedJobRegistry
from sqlalchemy import select, update

from plugin.context import set_context
from plugin.hosts.errors import ClientError, ServerError
from plugin.outbox import inline as inline_mod
from plugin.outbox.push import push_ticket
from plugin.outbox.rows import OutboxRow, OutboxState
from plugin.processing.process import process_event
from plugin.queue import ALL_QUEUES, PUSH, SERIALIZER, queue
from plugin.scheduler import sweep_outbox
from tests.jobs_support import FakeClient, buy, make_context, payload, store

NOW = datetime(2026, 11, 16, 12, 0, tzinfo=UTC)


@pytest.fixture
def ctx(db_url, redis_url):
    c = make_context(db_url, redis_url)
    buy(c, "acme", 10, datetime(2026, 11, 10, tzinfo=UTC))
    yield c
    set_context(None)
    c.close()


def _rows(ctx) -> list[OutboxRow]:
    with ctx.db.session() as s:
        return list(s.execute(select(OutboxRow).order_by(OutboxRow.id)).scalars())


def _accept(ctx, ticket: str, delivery: str) -> None:
    eid = store(ctx, payload(ticket, "ticket.updated", "2026-11-16T10:20:00+02:00",
                             status="accepted", changes={"status": ["new", "accepted"]}),
                delivery)
    assert process_event(eid, NOW) == "processed"


def test_processing_job_pushes_its_own_commands(ctx):
    client = FakeClient()
    ctx.extras["host-client-factory"] = lambda conn: client
    _accept(ctx, "T-1", "d1")
    assert queue(ctx.redis, PUSH).count == 0  # no push job: the processing job sent them
    assert len(client.pushes) == 1
    ticket_id, commands, key = client.pushes[0]
    assert ticket_id == "T-1" and key.startswith("generic:T-1:")
    assert {"set_fields", "set_deadlines", "set_balance", "add_note"} <= set(client.types())
    rows = _rows(ctx)
    assert rows and {(r.state, r.attempts) for r in rows} == {(OutboxState.SENT, 1)}
    # processing the same event again sends nothing more
    assert push_ticket("generic", "T-1", NOW) == "idle"
    assert len(client.pushes) == 1


def test_a_host_500_leaves_the_retry_to_a_push_job_and_pauses_inline(ctx):
    client = FakeClient(fail=[ServerError(500, "POST", "http://host/cb", "boom")])
    ctx.extras["host-client-factory"] = lambda conn: client
    _accept(ctx, "T-1", "d1")
    rows = _rows(ctx)
    assert {r.state for r in rows} == {OutboxState.PENDING}
    assert all(r.attempts == 1 and "ServerError" in (r.last_error or "") for r in rows)
    due = min(r.next_attempt_at for r in rows)
    assert due > NOW
    assert queue(ctx.redis, PUSH).count == 0  # the sweeper enqueues it when due
    # the connection is paused: the next ticket's commands go through a push job
    _accept(ctx, "T-2", "d2")
    assert queue(ctx.redis, PUSH).count == 1
    assert sweep_outbox(ctx, due) == "1 enqueued"  # T-1's retry is due
    SimpleWorker([queue(ctx.redis, PUSH)], connection=ctx.redis, serializer=SERIALIZER).work(
        burst=True, with_scheduler=False)
    assert {r.state for r in _rows(ctx)} == {OutboxState.SENT}
    # T-1 retried under the key of its first attempt; nothing was sent twice
    assert sorted(p[0] for p in client.pushes) == ["T-1", "T-2"]
    assert [p[2] for p in client.pushes if p[0] == "T-1"] == [rows[0].batch_key]


def test_a_refusal_fails_only_the_refused_row_and_is_recorded_at_once(ctx):
    # issue 15: the host refuses one command of the batch (the balance); the others are
    # delivered by the same inline push, the refused row is kept failed in the database
    # with the host's status and message, and an internal note about it follows
    refusal = ClientError(422, "POST", "http://host/cb", '{"error": "balance is read-only"}')

    class RefusesBalance(FakeClient):
        def push(self, ticket_id, commands, **kw):
            if any(c.type == "set_balance" for c in commands):
                raise refusal
            return super().push(ticket_id, commands, **kw)

    client = RefusesBalance()
    ctx.extras["host-client-factory"] = lambda conn: client
    _accept(ctx, "T-1", "d1")
    rows = _rows(ctx)
    failed = [r for r in rows if r.state == OutboxState.FAILED]
    assert [r.command["type"] for r in failed] == ["set_balance"]
    assert failed[0].refused_status == 422 and "read-only" in (failed[0].last_error or "")
    assert failed[0].failed_at is not None and failed[0].attempts == 1
    delivered = {c.type for _, cmds, _ in client.pushes for c in cmds}
    assert {"set_fields", "set_deadlines", "add_note"} <= delivered
    assert "set_balance" not in delivered
    decision_rows = [r for r in rows if not r.idempotency_key.startswith("refused:")]
    assert {r.state for r in decision_rows} == {OutboxState.SENT, OutboxState.FAILED}
    # the internal note about the refusal waits for its push job (the connection is not
    # paused: a refusal says nothing about the host's health)
    note = [r for r in rows if r.idempotency_key.startswith("refused:")]
    assert len(note) == 1 and note[0].command["data"]["visibility"] == "internal"
    assert f"outbox #{failed[0].id}" in note[0].command["data"]["body"]
    assert not inline_mod._paused(ctx, "generic")
    SimpleWorker([queue(ctx.redis, n) for n in ALL_QUEUES], connection=ctx.redis,
                 serializer=SERIALIZER).work(
        burst=True, with_scheduler=False)
    assert _rows(ctx)[note[0].id - 1].state == OutboxState.SENT
    assert FailedJobRegistry(queue=queue(ctx.redis, PUSH)).get_job_ids() == []


def test_rows_of_a_ticket_with_a_push_under_way_wait_for_a_push_job(ctx):
    client = FakeClient()
    ctx.extras["host-client-factory"] = lambda conn: client
    _accept(ctx, "T-1", "d1")
    with ctx.db.session() as s:  # a push job of T-1 has claimed rows and is sending
        s.execute(update(OutboxRow).values(state=OutboxState.SENDING,
                                           claimed_until=NOW + timedelta(minutes=2)))
    resolved = payload("T-1", "ticket.updated", "2026-11-16T10:30:00+02:00",
                       status="resolved", changes={"status": ["accepted", "resolved"]})
    process_event(store(ctx, resolved, "d2"), NOW)
    assert len(client.pushes) == 1
    assert queue(ctx.redis, PUSH).count == 1
    assert OutboxState.PENDING in {r.state for r in _rows(ctx)}


def test_a_worker_killed_between_commit_and_send_leaves_a_claim_the_sweeper_resends(
        ctx, monkeypatch):
    client = FakeClient()
    ctx.extras["host-client-factory"] = lambda conn: client
    monkeypatch.setattr("plugin.processing.process.push_claimed", lambda *a, **k: None)
    now = datetime.now(UTC)  # the claim runs on the wall clock here, as in production
    eid = store(ctx, payload("T-1", "ticket.updated", "2026-11-16T10:20:00+02:00",
                             status="accepted", changes={"status": ["new", "accepted"]}), "d1")
    assert process_event(eid, now) == "processed"
    rows = _rows(ctx)
    assert {r.state for r in rows} == {OutboxState.SENDING} and client.pushes == []
    assert sweep_outbox(ctx, now + timedelta(minutes=1)) == "0 due"  # the claim still holds
    # a `scheduler tick --now` ahead of the wall clock: its push job claims at the tick's
    # time, so the expired claim is taken over instead of being "busy" on the worker's clock
    assert sweep_outbox(ctx, now + timedelta(minutes=3)) == "1 enqueued"
    SimpleWorker([queue(ctx.redis, PUSH)], connection=ctx.redis, serializer=SERIALIZER).work(
        burst=True, with_scheduler=False)
    assert {r.state for r in _rows(ctx)} == {OutboxState.SENT}
    assert len(client.pushes) == 1 and client.pushes[0][2] == rows[0].batch_key


def test_inline_push_resumes_after_the_pause(ctx, monkeypatch):
    client = FakeClient(fail=[ServerError(503, "POST", "http://host/cb", "busy")])
    ctx.extras["host-client-factory"] = lambda conn: client
    clock = [1000.0]
    monkeypatch.setattr(inline_mod.time, "monotonic", lambda: clock[0])
    _accept(ctx, "T-1", "d1")
    clock[0] += inline_mod.PAUSE_SECONDS + 1
    _accept(ctx, "T-2", "d2")
    assert [p[0] for p in client.pushes] == ["T-2"]
    assert queue(ctx.redis, PUSH).count == 0


def test_a_new_tickets_rows_are_claimed_as_they_are_inserted(ctx):
    """No outbox query of its own: the rows go in claimed, as a push job's claim leaves them."""
    from sqlalchemy import event

    client = FakeClient()
    ctx.extras["host-client-factory"] = lambda conn: client
    eid = store(ctx, payload("T-1", "ticket.created", "2026-11-16T10:00:00+02:00"), "d1")
    seen: list[str] = []
    event.listen(ctx.db.engine, "before_cursor_execute", lambda *a: seen.append(a[2]))
    assert process_event(eid, NOW) == "processed"
    outbox = [s.split()[0] for s in seen if "outbox" in s.split("WHERE")[0]]
    assert outbox == ["INSERT", "UPDATE"]  # inserted claimed, then marked sent
    assert len(client.pushes) == 1 and {r.state for r in _rows(ctx)} == {OutboxState.SENT}


def test_rows_behind_a_batch_backing_off_are_not_claimed_and_keep_their_order(
        ctx, monkeypatch):
    client = FakeClient(fail=[ServerError(500, "POST", "http://host/cb", "boom")])
    ctx.extras["host-client-factory"] = lambda conn: client
    clock = [1000.0]
    monkeypatch.setattr(inline_mod.time, "monotonic", lambda: clock[0])
    _accept(ctx, "T-1", "d1")
    first = {r.id for r in _rows(ctx)}
    clock[0] += inline_mod.PAUSE_SECONDS + 1  # inline pushing resumed; T-1 still backs off
    resolved = payload("T-1", "ticket.updated", "2026-11-16T10:30:00+02:00",
                       status="resolved", changes={"status": ["accepted", "resolved"]})
    process_event(store(ctx, resolved, "d2"), NOW)
    later = [r for r in _rows(ctx) if r.id not in first]
    assert later and {(r.state, r.batch_key) for r in later} == {(OutboxState.PENDING, None)}
    assert client.pushes == []  # nothing overtook the first batch
    assert queue(ctx.redis, PUSH).count == 1  # a push job carries them in their turn
    SimpleWorker([queue(ctx.redis, PUSH)], connection=ctx.redis, serializer=SERIALIZER).work(
        burst=True, with_scheduler=False)
    assert {r.state for r in _rows(ctx)} == {OutboxState.SENT}
    keys = [p[2] for p in client.pushes]
    assert len(keys) == 2 and keys[0] == _rows(ctx)[0].batch_key  # the retry went first
