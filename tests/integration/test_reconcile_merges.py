"""django-helpdesk merges send no webhook (``views/staff.py`` ``merge_tickets`` at 2.6.1):
the poll reads the tickets Deskpilot holds open by id, stores a duplicate the host reports
merged as ``ticket.merged`` and processing releases its reservation, once. Through the real
path: stored webhooks → ``process_event`` → ``reconcile`` (``responses``) → ``process_event``."""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import responses
from sqlalchemy import select

from plugin.context import Context
from plugin.ledger.accounts import totals
from plugin.processing.process import process_event
from plugin.reconcile.poll import reconcile
from plugin.storage.models import Event, Ticket
from tests.reconcile_support import FIX, reconcile_context
from webhooks.hosts import ADAPTERS
from webhooks.store import store_and_enqueue

BASE = "http://127.0.0.1:8000/helpdesk"
NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
CONN = {"name": "dh", "kind": "django_helpdesk", "base_url": BASE, "inline_push": False,
        "credentials": {"token": "dhkey"}, "plugin_user_id": 9,
        "company_from": {"source": "email_domain", "map": {"acme.example": "acme"}},
        "options": {"queue_slugs": {"1": "support"}}}


@pytest.fixture
def ctx(sqlite_url: str, redis_url: str, tmp_path: Path) -> Iterator[Context]:
    yield from reconcile_context(sqlite_url, redis_url, tmp_path, [CONN], acme_tasks=5)


def _fixture(name: str, ticket_id: int) -> dict[str, Any]:
    data = json.loads((FIX / "django_helpdesk" / f"{name}.json").read_text())
    data["ticket"]["id"] = ticket_id
    return data


def _deliver(ctx: Context, data: dict[str, Any], at: datetime) -> None:
    body = json.dumps(data).encode()
    events = ADAPTERS["django_helpdesk"].parse(body, {}, ctx.settings.connections[0])
    outcome = store_and_enqueue(ctx, "dh", events[0].delivery_key, body, {}, events)
    assert process_event(outcome.event_id, at) == "processed"


def _accepted(ctx: Context, ticket_id: int) -> None:
    """Filed by the client's request and answered by an agent: its task is reserved."""
    _deliver(ctx, _fixture("ticket_created", ticket_id), datetime(2026, 11, 22, 13, 26,
                                                                  tzinfo=UTC))
    _deliver(ctx, _fixture("comment_added", ticket_id), datetime(2026, 11, 22, 13, 27,
                                                                 tzinfo=UTC))


def _reserved(ctx: Context) -> int:
    with ctx.db.session() as s:
        return totals(s, "acme")[1]


def _merged(ticket_id: int, into: int) -> dict[str, Any]:
    """The duplicate as ``GET /api/tickets/<id>/`` shows it after the merge: status 5,
    ``merged_to`` and no followups left (they moved to the kept ticket)."""
    t = copy.deepcopy(_fixture("ticket_created", ticket_id)["ticket"])
    return {**t, "status": 5, "merged_to": into, "followup_set": []}


def _open(ticket_id: int) -> dict[str, Any]:
    return copy.deepcopy(_fixture("comment_added", ticket_id)["ticket"])


def _no_recent_tickets() -> None:
    responses.get(f"{BASE}/api/tickets/", json={"count": 0, "next": None, "results": []})


@responses.activate
def test_a_merged_duplicate_releases_its_reservation_once(ctx: Context) -> None:
    _accepted(ctx, 1)
    one = _reserved(ctx)
    assert one > 0
    _accepted(ctx, 7)
    assert _reserved(ctx) == 2 * one
    _no_recent_tickets()
    responses.get(f"{BASE}/api/tickets/1/", json=_merged(1, 7))
    responses.get(f"{BASE}/api/tickets/7/", json=_open(7))
    report = reconcile(ctx, "dh", None, NOW)
    assert not report.errors
    assert report.outcomes == {"merged-queued": 1}
    with ctx.db.session() as s:
        (ev,) = s.execute(select(Event).where(Event.event_type == "ticket.merged")).scalars()
        event_id, key = ev.id, ev.delivery_key
    assert key == "ticket-1-merged-7"
    (parsed,) = ADAPTERS["django_helpdesk"].parse(ev.body, {}, ctx.settings.connections[0])
    assert parsed.merged_into == "7" and parsed.occurred_at == NOW
    assert parsed.ticket.reference == "support-1"
    assert process_event(event_id, NOW) == "processed"
    assert _reserved(ctx) == one  # the kept ticket's reservation stays
    with ctx.db.session() as s:
        status = dict(s.execute(select(Ticket.host_ticket_id, Ticket.status)).all())
    assert status == {"1": "closed", "7": "in_progress"}
    # the next pass: the duplicate is closed in Deskpilot, no longer read, nothing stored
    later = reconcile(ctx, "dh", None, NOW + timedelta(minutes=10))
    assert later.outcomes == {} and not later.errors
    reads = [c.request.url for c in responses.calls if "/api/tickets/1/" in c.request.url]
    assert len(reads) == 1
    assert _reserved(ctx) == one


@responses.activate
def test_a_merge_stored_but_not_yet_processed_is_not_read_again(ctx: Context) -> None:
    _accepted(ctx, 1)
    _no_recent_tickets()
    responses.get(f"{BASE}/api/tickets/1/", json=_merged(1, 7))
    assert reconcile(ctx, "dh", None, NOW).outcomes == {"merged-queued": 1}
    again = reconcile(ctx, "dh", None, NOW + timedelta(minutes=10))
    assert again.outcomes == {} and not again.errors
    assert len([c for c in responses.calls if "/api/tickets/1/" in c.request.url]) == 1


@responses.activate
def test_the_checks_are_bounded_per_pass_and_rotate(ctx: Context, monkeypatch) -> None:
    for tid in (1, 2, 3):
        _accepted(ctx, tid)
    _no_recent_tickets()
    for tid in (1, 2, 3):
        responses.get(f"{BASE}/api/tickets/{tid}/", json=_open(tid))
    conn = ctx.settings.connections[0]
    monkeypatch.setitem(conn.options, "merge_checks_per_pass", 2)

    def read() -> list[str]:
        found = (re.search(r"/api/tickets/(\d+)/$", c.request.url) for c in responses.calls)
        return [m.group(1) for m in found if m]

    reconcile(ctx, "dh", None, NOW)
    assert read() == ["1", "2"]
    reconcile(ctx, "dh", None, NOW + timedelta(minutes=10))
    assert read() == ["1", "2", "3", "1"]


@responses.activate
def test_a_host_that_fails_mid_pass_keeps_what_was_read(ctx: Context) -> None:
    _accepted(ctx, 1)
    _accepted(ctx, 2)
    _no_recent_tickets()
    responses.get(f"{BASE}/api/tickets/1/", json=_merged(1, 7))
    responses.get(f"{BASE}/api/tickets/2/", status=503, body="maintenance")
    report = reconcile(ctx, "dh", None, NOW, sleep=lambda s: None)
    assert report.outcomes == {"merged-queued": 1}
    assert len(report.errors) == 1 and "503" in report.errors[0]
