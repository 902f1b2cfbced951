"""Outbox → push jobs (``inline_push: false``): coalescing, retries on 500/429, permanent 4xx
into RQ's failed registry, ``jobs failed`` / ``jobs retry``, a real SimpleWorker, and the HTTP
generic callback. The inline path is in test_push_inline.py."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

import pytest
import responses
from click.testing import CliRunner
from rq import SimpleWorker
from rq.registry import FailedJobRegistry
from sqlalchemy import select

from plugin.cli import main
from plugin.context import set_context
from plugin.hosts.errors import ClientError, RateLimited, ServerError
from plugin.outbox.push import push_ticket
from plugin.outbox.rows import OutboxRow, OutboxState, enqueue_push
from plugin.processing.process import process_event
from plugin.queue import ALL_QUEUES, PUSH, SERIALIZER, connect, enqueue_event, queue
from tests.jobs_support import SECRET, FakeClient, buy, make_context, payload, store

NOW = datetime(2026, 11, 16, 12, 0, tzinfo=UTC)


def _states(ctx, decisions_only: bool = False) -> list[str]:
    stmt = select(OutboxRow.state).order_by(OutboxRow.id)
    if decisions_only:  # without the internal notes about refused writes (issue 15)
        stmt = stmt.where(OutboxRow.idempotency_key.not_like("refused:%"))
    with ctx.db.session() as s:
        return list(s.execute(stmt).scalars())


def _accept(ctx, ticket: str = "T-1", delivery: str = "d1") -> None:
    eid = store(ctx, payload(ticket, "ticket.updated", "2026-11-16T10:20:00+02:00",
                             status="accepted", changes={"status": ["new", "accepted"]}),
                delivery)
    process_event(eid, NOW)


@pytest.fixture
def ctx(sqlite_url, redis_url):
    c = make_context(sqlite_url, redis_url, inline_push=False)
    buy(c, "acme", 10, datetime(2026, 11, 10, tzinfo=UTC))
    yield c
    set_context(None)
    c.close()


def test_push_coalesces_and_marks_rows_sent(ctx):
    client = FakeClient()
    ctx.extras["host-client-factory"] = lambda conn: client
    _accept(ctx)
    # the push job was enqueued after commit
    assert queue(ctx.redis, PUSH).count == 1
    assert push_ticket("generic", "T-1", NOW).startswith("sent")
    assert len(client.pushes) == 1
    ticket_id, commands, key = client.pushes[0]
    assert ticket_id == "T-1" and key.startswith("generic:T-1:")
    assert {"set_fields", "set_deadlines", "set_balance", "add_note"} <= set(client.types())
    assert set(_states(ctx)) == {OutboxState.SENT}
    assert push_ticket("generic", "T-1", NOW) == "idle"


def test_500_then_429_are_retried_with_backoff_and_retry_after(ctx):
    client = FakeClient(fail=[
        ServerError(500, "POST", "http://host/cb", "boom"),
        RateLimited(429, "POST", "http://host/cb", "slow down", retry_after=7.0),
    ])
    ctx.extras["host-client-factory"] = lambda conn: client
    _accept(ctx)
    assert push_ticket("generic", "T-1", NOW).startswith("retry in")
    with ctx.db.session() as s:
        rows = list(s.execute(select(OutboxRow)).scalars())
    assert {r.state for r in rows} == {OutboxState.PENDING}
    assert all("ServerError" in (r.last_error or "") for r in rows)
    first_due = min(r.next_attempt_at for r in rows)
    assert first_due > NOW
    # not yet due: nothing is sent, the batch keeps its place
    assert push_ticket("generic", "T-1", NOW) == "waiting"
    assert push_ticket("generic", "T-1", first_due).startswith("retry in")
    with ctx.db.session() as s:
        rows = list(s.execute(select(OutboxRow)).scalars())
    assert min(r.next_attempt_at for r in rows) >= first_due + timedelta(seconds=7)
    later = max(r.next_attempt_at for r in rows)
    assert push_ticket("generic", "T-1", later).startswith("sent")
    assert len(client.pushes) == 1 and len({k for _, _, k in client.pushes}) == 1
    assert set(_states(ctx)) == {OutboxState.SENT}


def test_permanent_4xx_lands_in_failed_registry_and_jobs_cli_retries(ctx, tmp_path,
                                                                     monkeypatch):
    refusal = ClientError(422, "POST", "http://host/cb", '{"error": "field balance is read-only"}')

    class Refusing(FakeClient):
        """Refuses every write but internal notes while ``refusing`` (issue 15 splits a
        refused batch row by row and field by field, and notes the refusal on the ticket)."""

        refusing = True

        def push(self, ticket_id, commands, **kw):
            if self.refusing and not all(
                    c.type == "add_note" and c.data["visibility"] == "internal"
                    for c in commands):
                raise refusal
            return super().push(ticket_id, commands, **kw)

    client = Refusing()
    ctx.extras["host-client-factory"] = lambda conn: client
    _accept(ctx)
    conn = connect(ctx.settings.redis_url)
    SimpleWorker([queue(conn, n) for n in ALL_QUEUES], connection=conn, serializer=SERIALIZER).work(
        burst=True, with_scheduler=False)
    failed = FailedJobRegistry(queue=queue(conn, PUSH))
    assert len(failed.get_job_ids()) == 1
    assert set(_states(ctx, decisions_only=True)) == {OutboxState.FAILED}
    # the internal note about the refusal was delivered by a push job of its own
    assert [c.type for _, cmds, _ in client.pushes for c in cmds] == ["add_note"]
    assert "field balance is read-only" in client.pushes[0][1][0].data["body"]
    client.pushes.clear()
    client.refusing = False
    with ctx.db.session() as s:
        assert "read-only" in (s.execute(select(OutboxRow.last_error)).scalars().first() or "")

    settings_file = tmp_path / "deskpilot.yaml"
    settings_file.write_text(json.dumps({
        "database_url": ctx.settings.database_url, "redis_url": ctx.settings.redis_url,
        "config_dir": str(ctx.settings.config_dir), "var_dir": str(tmp_path),
        "connections": [{"name": "generic", "kind": "generic", "webhook_secrets": [SECRET]}],
    }))
    monkeypatch.setenv("DESKPILOT_SETTINGS", str(settings_file))
    runner = CliRunner()
    listed = runner.invoke(main, ["jobs", "failed"])
    assert listed.exit_code == 0, listed.output
    assert "push generic/T-1" in listed.output
    # when it failed: the installation's zone, named (issue 22)
    assert re.search(r"\t\d{4}-\d\d-\d\d \d\d:\d\d:\d\d EES?T\tpush generic/T-1",
                     listed.output), listed.output
    assert "refused" in listed.output
    assert "field balance is read-only" in listed.output
    assert runner.invoke(main, ["jobs", "retry"]).exit_code == 2  # neither ID nor --all
    retried = runner.invoke(main, ["jobs", "retry", "--all"])
    assert retried.exit_code == 0 and "requeued push-generic-T-1" in retried.output
    assert failed.get_job_ids() == []
    empty = runner.invoke(main, ["jobs", "failed"])  # nothing failed: a word, on stderr only
    assert empty.exit_code == 0 and empty.stdout == "" and "no failed jobs" in empty.stderr
    assert set(_states(ctx, decisions_only=True)) == {OutboxState.PENDING}
    set_context(ctx)  # the CLI installed its own context; the worker below uses ours
    SimpleWorker([queue(conn, PUSH)], connection=conn, serializer=SERIALIZER).work(
        burst=True, with_scheduler=False)
    assert set(_states(ctx)) == {OutboxState.SENT}
    assert len(client.pushes) == 1


def test_event_to_host_through_a_real_simple_worker(ctx):
    client = FakeClient()
    ctx.extras["host-client-factory"] = lambda conn: client
    eid = store(ctx, payload("T-9", "ticket.created", "2026-11-16T10:00:00+02:00",
                             actor="client"), "w1")
    enqueue_event(ctx.redis, eid)
    SimpleWorker([queue(ctx.redis, n) for n in ALL_QUEUES], connection=ctx.redis,
                 serializer=SERIALIZER).work(
        burst=True, with_scheduler=False)
    assert [p[0] for p in client.pushes] == ["T-9"]
    assert "add_note" in client.types()
    assert set(_states(ctx)) == {OutboxState.SENT}


@responses.activate
def test_generic_http_callback_retries_500_then_succeeds(sqlite_url, redis_url):
    ctx = make_context(sqlite_url, redis_url, callback_url="http://host.test/callback",
                       inline_push=False)
    buy(ctx, "acme", 10, datetime(2026, 11, 10, tzinfo=UTC))
    try:
        responses.add(responses.POST, "http://host.test/callback", status=500, body="down")
        responses.add(responses.POST, "http://host.test/callback", status=200, json={"ok": 1})
        _accept(ctx, "T-7", "h1")
        ctx.extras["host-clients"] = {}
        from plugin.outbox import push as push_mod

        # one HTTP attempt per job here, so the job-level retry is what is tested
        push_mod.CLIENT_OPTIONS["max_attempts"] = 1
        try:
            assert push_ticket("generic", "T-7", NOW).startswith("retry in")
            with ctx.db.session() as s:
                due = max(s.execute(select(OutboxRow.next_attempt_at)).scalars())
            assert push_ticket("generic", "T-7", due).startswith("sent")
        finally:
            push_mod.CLIENT_OPTIONS["max_attempts"] = 2
        assert len(responses.calls) == 2
        body = json.loads(responses.calls[1].request.body)
        assert body["ticket_id"] == "T-7"
        assert responses.calls[0].request.headers["X-Deskpilot-Delivery"] == \
            responses.calls[1].request.headers["X-Deskpilot-Delivery"]
        assert responses.calls[1].request.headers["X-Deskpilot-Signature"].startswith("t=")
        assert {c["type"] for c in body["commands"]} >= {"set_deadlines", "set_balance"}
    finally:
        set_context(None)
        ctx.close()


def test_enqueue_push_without_redis_returns_false():
    assert enqueue_push(connect("redis://127.0.0.1:1/0"), "generic", "T-1") is False


def test_one_waiting_push_job_per_ticket_however_many_events(ctx):
    client = FakeClient()
    ctx.extras["host-client-factory"] = lambda conn: client
    _accept(ctx, "T-9", "w1")
    first = len(_states(ctx))
    resolved = payload("T-9", "ticket.updated", "2026-11-16T10:30:00+02:00",
                       status="resolved", changes={"status": ["accepted", "resolved"]})
    process_event(store(ctx, resolved, "w2"), NOW)
    # both events wrote rows; the second found a push of the ticket still waiting
    assert first > 0 and len(_states(ctx)) > first
    assert queue(ctx.redis, PUSH).count == 1
    assert push_ticket("generic", "T-9", NOW).startswith("sent")
    assert len(client.pushes) == 1  # the waiting job carried the rows of both events
    # once a job has started, the next event needs (and gets) a job of its own
    sent = len(_states(ctx))
    # a new ticket event with host commands: the acceptance of another task type
    later = payload("T-9", "ticket.updated", "2026-11-16T11:00:00+02:00", status="accepted",
                    fields={"task_type": "composite", "units": 3},
                    changes={"status": ["resolved", "accepted"]})
    process_event(store(ctx, later, "w3"), NOW)
    assert len(_states(ctx)) > sent
    assert queue(ctx.redis, PUSH).count == 2
