"""Zammad polls cannot rebuild ``X-Zammad-Delivery`` (a job id): what keeps a change that was
both delivered and polled from being processed twice."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import responses
from sqlalchemy import func, select

from plugin.context import Context
from plugin.ledger.models import CreditEntry
from plugin.outbox.rows import OutboxRow
from plugin.processing.process import process_event
from plugin.reconcile.poll import reconcile
from plugin.storage.models import Event
from tests.reconcile_support import ACME, FIX, NOW, ZM, reconcile_context
from webhooks.hosts import ADAPTERS
from webhooks.store import store_and_enqueue

ZAMMAD = FIX / "zammad"
SINCE = datetime(2026, 11, 23, 7, 0, tzinfo=UTC)
CONNECTIONS = [{
    "name": "zm", "kind": "zammad", "base_url": ZM, "credentials": {"token": "t"},
    "plugin_user_id": "7", "company_from": ACME,
    "field_map": {"inbound": {"deskpilot_task_type": "task_type", "deskpilot_units": "units"}}}]


@pytest.fixture
def ctx(sqlite_url: str, redis_url: str, tmp_path: Path) -> Iterator[Context]:
    yield from reconcile_context(sqlite_url, redis_url, tmp_path, CONNECTIONS, acme_tasks=10)


def fixture(name: str) -> dict[str, Any]:
    return json.loads((ZAMMAD / f"{name}.json").read_text())


def deliver(ctx: Context, name: str) -> None:
    """The real webhook, with its ActiveJob id as delivery key, stored and processed."""
    body = (ZAMMAD / f"{name}.json").read_bytes()
    headers = {**json.loads((ZAMMAD / "headers.json").read_text()),
               "X-Zammad-Delivery": f"job-{name}"}
    conn = ctx.settings.connection("zm")
    assert conn is not None
    events = ADAPTERS["zammad"].parse(body, headers, conn)
    outcome = store_and_enqueue(ctx, "zm", events[0].delivery_key, body, headers, events)
    assert outcome.event_id is not None
    process_event(outcome.event_id, NOW)


def poll(ctx: Context, *tickets: dict[str, Any]) -> dict[str, int]:
    responses.get(f"{ZM}/api/v1/tickets/search", json=list(tickets))
    # no article after the opening one: the snapshot alone (items: test_..._items.py)
    responses.get(re.compile(rf"{ZM}/api/v1/ticket_articles/by_ticket/\d+"), json=[])
    report = reconcile(ctx, "zm", SINCE, NOW)
    assert not report.errors
    return report.outcomes


def effects(ctx: Context) -> tuple[int, int, int]:
    """Outbox rows, ledger entries, stored events."""
    with ctx.db.session() as s:
        return tuple(int(s.execute(select(func.count()).select_from(m)).scalar_one())
                     for m in (OutboxRow, CreditEntry, Event))  # type: ignore[return-value]


def process_queued(ctx: Context) -> None:
    with ctx.db.session() as s:
        ids = s.execute(select(Event.id).where(Event.state == "queued")).scalars().all()
    for event_id in ids:
        process_event(event_id, NOW)


@responses.activate
def test_a_delivered_change_polled_again_is_skipped(ctx: Context) -> None:
    deliver(ctx, "status_changed")
    before = effects(ctx)
    assert poll(ctx, fixture("status_changed")["ticket"]) == {"skipped-processed": 1}
    assert effects(ctx) == before


def commands(ctx: Context) -> list[dict[str, Any]]:
    with ctx.db.session() as s:
        return list(s.execute(select(OutboxRow.command).order_by(OutboxRow.id)).scalars())


@responses.activate
def test_a_newer_identical_snapshot_is_processed_as_a_no_op(ctx: Context) -> None:
    # e.g. our own write touched updated_at: the poll cannot tell, processing must shrug
    deliver(ctx, "status_changed")
    ticket = {**fixture("status_changed")["ticket"], "updated_at": "2026-11-23T10:05:00.000Z"}
    ticket["state"] = "open"
    assert poll(ctx, ticket) == {"queued": 1}
    process_queued(ctx)  # the state change itself: in progress
    outbox, ledger, stored = effects(ctx)
    ticket["updated_at"] = "2026-11-23T10:20:00.000Z"
    assert poll(ctx, ticket) == {"queued": 1}
    process_queued(ctx)
    assert effects(ctx) == (outbox, ledger, stored + 1)
    assert poll(ctx, ticket) == {"skipped-processed": 1}


@responses.activate
def test_while_waiting_a_newer_snapshot_only_moves_the_paused_deadlines(ctx: Context) -> None:
    # "pending reminder" is waiting for the client: the SLA clock is paused, so a later
    # snapshot (delivered or polled) pushes the deadlines by the time waited. No note,
    # no ledger entry: nothing is said or debited twice.
    deliver(ctx, "status_changed")
    before, (_, ledger, stored) = commands(ctx), effects(ctx)
    ticket = {**fixture("status_changed")["ticket"], "updated_at": "2026-11-23T10:05:00.000Z"}
    assert poll(ctx, ticket) == {"queued": 1}
    process_queued(ctx)
    after = commands(ctx)
    assert after[:len(before)] == before and effects(ctx)[1:] == (ledger, stored + 1)
    (moved,) = after[len(before):]
    assert moved["type"] == "set_deadlines"
    assert moved["data"]["resolve_due"] == "2026-11-24T17:05:00+02:00"


@responses.activate
def test_a_known_young_ticket_is_never_stored_as_a_second_creation(ctx: Context) -> None:
    deliver(ctx, "ticket_created")
    before = effects(ctx)
    # touched 10 s later, still one article: Zammad's adapter would infer "created" again,
    # and a second creation posts a second auto-reply
    young = {**fixture("ticket_created")["ticket"], "updated_at": "2026-11-23T08:00:10.000Z"}
    assert poll(ctx, young) == {"skipped-known": 1}
    assert effects(ctx) == before


@responses.activate
def test_a_stored_but_unprocessed_delivery_makes_the_ticket_known(ctx: Context) -> None:
    body = (ZAMMAD / "ticket_created.json").read_bytes()
    conn = ctx.settings.connection("zm")
    assert conn is not None
    events = ADAPTERS["zammad"].parse(body, {"X-Zammad-Delivery": "job-1"}, conn)
    store_and_enqueue(ctx, "zm", "job-1", body, {}, events)  # no worker ran yet
    assert poll(ctx, fixture("ticket_created")["ticket"]) == {"skipped-known": 1}


@responses.activate
def test_an_unknown_ticket_is_stored_with_a_poll_key(ctx: Context) -> None:
    ticket = fixture("status_changed")["ticket"]
    assert poll(ctx, ticket) == {"queued": 1}
    with ctx.db.session() as s:
        key = s.execute(select(Event.delivery_key)).scalar_one()
    assert key == f"poll-81-{ticket['updated_at']}"
