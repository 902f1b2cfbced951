"""Prometheus metrics: samples from other processes reach ``/metrics``, and the receiver,
the push job and the ledger count what happened."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import responses
from prometheus_client import REGISTRY
from sqlalchemy import select

from plugin import tables as registry  # noqa: F401
from plugin.app import create_app
from plugin.context import Context, build_context, set_context
from plugin.outbox.rows import OutboxRow
from plugin.reports.metrics import count_debits, observe_push
from plugin.reports.metrics_dir import ENV, prepare
from plugin.settings import load_settings
from plugin.storage.migrate import upgrade
from plugin.storage.models import Company, Event
from webhooks.hosts.generic import signed_headers

ROOT = Path(__file__).resolve().parents[2]
SECRET = "generic-secret-for-metrics"
METRICS_TOKEN = "metrics-token-for-prometheus-0123"
EVENT = {
    "event": "ticket.created", "occurred_at": "2026-11-23T10:05:00+02:00",
    "actor": {"kind": "client", "id": "u-17"},
    "ticket": {"id": 77, "company": {"id": "acme", "name": "ACME"}, "subject": "Totals",
               "status": "new", "priority": "normal", "created_at": "2026-11-23T10:00:00+02:00"},
}
CHILD = textwrap.dedent("""
    import sys
    from pathlib import Path
    from plugin.reports.metrics_dir import prepare
    prepare(Path(sys.argv[1]))  # before prometheus_client is imported, as the commands do
    from plugin.reports.metrics import BREACHES, JOB_LATENCY, count_event
    count_event("zammad", "duplicate")
    count_event("zammad", "queued")
    JOB_LATENCY.labels(host="zammad").observe(1.5)
    BREACHES.labels(kind="resolve").inc(3)
""")


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


@pytest.fixture
def ctx(sqlite_url: str, redis_url: str, tmp_path: Path) -> Iterator[Context]:
    upgrade(sqlite_url)
    settings = load_settings(
        {"DESKPILOT_CONFIG_DIR": str(ROOT / "config"), "DESKPILOT_GENERIC_SECRET": SECRET},
        {"database_url": sqlite_url, "redis_url": redis_url, "var_dir": str(tmp_path / "var"),
         "metrics_tokens": [METRICS_TOKEN], "metrics_company_labels": True},
    )
    context = build_context(settings)
    set_context(context)
    yield context
    set_context(None)
    context.close()


def test_counters_of_another_process_reach_metrics(ctx: Context, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    var = tmp_path / "worker-var"
    stale = var / "prometheus" / "counter_999999999.db"
    stale.parent.mkdir(parents=True)
    stale.write_bytes(b"left by a previous run")
    env = {k: v for k, v in os.environ.items() if k != ENV}
    env["PYTHONPATH"] = str(ROOT)
    subprocess.run([sys.executable, "-c", CHILD, str(var)], check=True, env=env, cwd=ROOT)
    files = sorted(p.name for p in (var / "prometheus").glob("*.db"))
    assert "counter_999999999.db" not in files and files  # the stale file went, the child's came

    from rq import Queue

    Queue("metrics-probe", connection=ctx.redis).enqueue("os.getpid")
    monkeypatch.setenv(ENV, str(var / "prometheus"))
    body = create_app(context=ctx).test_client().get(
        "/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}).get_data(as_text=True)
    assert 'deskpilot_events_total{host="zammad",outcome="duplicate"} 1.0' in body
    assert 'deskpilot_events_total{host="zammad",outcome="received"} 1.0' in body
    assert 'deskpilot_job_latency_seconds_sum{host="zammad"} 1.5' in body
    assert 'deskpilot_breaches_total{kind="resolve"} 3.0' in body
    # queue depths are read at scrape time, beside the files
    assert 'deskpilot_queue_depth{queue="rq:metrics-probe"} 1.0' in body


def test_prepare_keeps_the_files_of_live_processes(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV, "")  # unset for prepare, and restored after the test
    mine = tmp_path / "prometheus" / f"histogram_{os.getpid()}.db"
    mine.parent.mkdir()
    mine.write_bytes(b"")
    assert prepare(tmp_path) == tmp_path / "prometheus"
    assert os.environ[ENV] == str(tmp_path / "prometheus") and mine.exists()


def post(client: Any, payload: Mapping[str, Any], delivery: str) -> int:
    body = json.dumps(payload).encode()
    headers = {"Content-Type": "application/json", **signed_headers(body, SECRET, delivery)}
    return int(client.post("/webhooks/generic", data=body, headers=headers).status_code)


def test_receiver_counts_each_outcome(ctx: Context) -> None:
    before = {o: sample("deskpilot_events_total", host="generic", outcome=o)
              for o in ("received", "duplicate", "invalid")}
    client = create_app(context=ctx).test_client()
    assert post(client, EVENT, "m-1") == 202
    assert post(client, EVENT, "m-1") == 200
    bad = client.post("/webhooks/generic", data=b"{}", headers={"X-Deskpilot-Signature": "x"})
    assert bad.status_code == 401
    after = {o: sample("deskpilot_events_total", host="generic", outcome=o) for o in before}
    assert {o: after[o] - before[o] for o in before} == {"received": 1, "duplicate": 1,
                                                          "invalid": 1}


def test_push_latency_runs_from_the_events_receipt(ctx: Context) -> None:
    received = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
    with ctx.db.session() as session:
        ev = Event(connection="generic", delivery_key="lat-1", body=b"{}", headers={},
                   body_sha256="0" * 64,
                   received_at=received, state="processed", attempts=1)
        session.add(ev)
        session.flush()
        rows = [OutboxRow(connection="generic", ticket_id="T-9", command={}, state="sent",
                          idempotency_key=key, next_attempt_at=received, created_at=created)
                for key, created in ((f"event:{ev.id}:0", received + timedelta(seconds=3)),
                                     ("timer:5:0", received + timedelta(seconds=8)))]
        session.add_all(rows)
        session.flush()
        starts = [(r.idempotency_key, r.created_at) for r in rows]
        event_id = ev.id
    count = sample("deskpilot_job_latency_seconds_count", host="generic")
    total = sample("deskpilot_job_latency_seconds_sum", host="generic")
    observe_push(ctx, "generic", starts, received + timedelta(seconds=10))
    # the event's row from its receipt (10 s), the timer's row from its creation (2 s)
    assert sample("deskpilot_job_latency_seconds_count", host="generic") == count + 2
    assert sample("deskpilot_job_latency_seconds_sum", host="generic") == total + 12
    # a receipt the caller already knows (the inline push) is not looked up again
    observe_push(ctx, "generic", starts[:1], received + timedelta(seconds=4),
                 received={event_id: received + timedelta(seconds=1)})
    assert sample("deskpilot_job_latency_seconds_count", host="generic") == count + 3
    assert sample("deskpilot_job_latency_seconds_sum", host="generic") == total + 15


def test_debits_count_once_committed(ctx: Context) -> None:
    from plugin import ledger

    at = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
    units = sample("deskpilot_debited_units_total", company="acme-m")
    with ctx.db.session() as session:
        session.add(Company(id="acme-m", name="ACME"))
        session.flush()
        ledger.purchase(session, "acme-m", 10, Decimal("10"), "EUR", at)
        result = ledger.complete(session, "acme-m", "generic:T-1", 0, 2, at)
        assert result.status == "debited"
        count_debits(session, "acme-m", result)
        assert sample("deskpilot_debited_units_total", company="acme-m") == units
    assert sample("deskpilot_debited_units_total", company="acme-m") == units + 2
    assert sample("deskpilot_debits_total", company="acme-m") >= 1


@responses.activate
def test_a_write_the_host_refuses_counts_on_metrics(sqlite_url: str, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    from plugin.outbox.commands import Command
    from plugin.outbox.push import PushFailed, push_ticket
    from plugin.outbox.rows import OutboxState, add_commands

    monkeypatch.delenv(ENV, raising=False)  # one process: /metrics serves its own registry
    settings = load_settings(env={}, overrides={
        "database_url": sqlite_url, "config_dir": str(ROOT / "config"),
        "var_dir": str(tmp_path), "metrics_tokens": [METRICS_TOKEN],
        "connections": [{"name": "redmine-m", "kind": "redmine", "base_url": "http://rm.test",
                         "inline_push": False, "credentials": {"api_key": "k"},
                         "field_map": {"task_type": 76, "units": 77}}]})
    context = build_context(settings)
    context.db.create_all()
    set_context(context)

    def refuse_units(request: Any) -> tuple[int, dict[str, str], str]:
        if '"id": 77' in request.body.decode():
            return 422, {}, json.dumps({"errors": ["Units is not a number"]})
        return 204, {}, ""

    responses.add_callback(responses.PUT, "http://rm.test/issues/4.json", callback=refuse_units)
    line = re.compile(r'^deskpilot_host_refused_writes_total\{host="redmine-m",status="422"\} '
                      r"(\S+)$", re.M)

    def scraped() -> float:
        body = create_app(context=context).test_client().get(
            "/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}).get_data(
                as_text=True)
        found = line.search(body)
        return float(found.group(1)) if found else 0.0

    try:
        before = scraped()
        with context.db.session() as session:
            add_commands(session, "redmine-m", "4", [
                Command.set_status("accepted"), Command.set_fields(task_type="bug", units=2),
            ], "event:1", datetime(2026, 12, 7, 9, tzinfo=UTC), company_id="acme")
        with pytest.raises(PushFailed, match="refused 1 of 2"):
            push_ticket("redmine-m", "4", datetime(2026, 12, 7, 9, tzinfo=UTC))
        with context.db.session() as session:
            states = [r.state for r in session.execute(
                select(OutboxRow).order_by(OutboxRow.id)).scalars()]
        assert states[:2] == [OutboxState.SENT, OutboxState.FAILED]
        assert scraped() == before + 1  # one refused write, labelled by connection and status
    finally:
        set_context(None)
        context.close()
