"""Freshdesk and Zendesk polls: API tickets rendered into our webhook templates, deduplicated."""

from __future__ import annotations

import dataclasses
import json
import random
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import responses
from responses import matchers
from sqlalchemy import select

from plugin.context import Context
from plugin.processing.process import process_event
from plugin.reconcile.poll import reconcile
from plugin.reconcile.template_bodies import (
    freshdesk_item_payload,
    freshdesk_payload,
    zendesk_payload,
)
from plugin.settings import Connection
from plugin.storage.models import Event
from tests.reconcile_support import ACME, FD, FIX, NOW, ROOT, SINCE, ZD, reconcile_context
from webhooks.hosts import freshdesk, zendesk

CONNECTIONS = [
    {"name": "fd", "kind": "freshdesk", "base_url": FD,
     "credentials": {"api_key": "fdkey"}, "company_from": ACME,
     "field_map": {"task_type": "cf_task_type", "units": "cf_units"}},
    {"name": "zd", "kind": "zendesk", "base_url": ZD,
     "credentials": {"email": "bot@acme.example", "api_token": "ztok"},
     "company_from": {"source": "organization"},
     "field_map": {"task_type": 101, "units": 102}},
]


@pytest.fixture
def ctx(sqlite_url: str, redis_url: str, tmp_path: Path) -> Iterator[Context]:
    yield from reconcile_context(sqlite_url, redis_url, tmp_path, CONNECTIONS)


def fd_ticket(**over: Any) -> dict[str, Any]:
    """Ticket 1501 as ``GET /api/v2/tickets?include=requester,company,description`` gives it
    (developers.freshdesk.com/api/#list_all_tickets): the state of the fixture delivery
    ``freshdesk/status_changed.json`` (rendered in Europe/Kyiv, UTC+2)."""
    return {
        "id": 1501, "subject": "Report totals are wrong", "status": 3, "priority": 2,
        "source": 1, "type": "Incident", "tags": ["reports", "billing"],
        "description": "<div>The monthly report shows 0 for March.</div>",
        "description_text": "The monthly report shows 0 for March.",
        "created_at": "2026-11-23T08:00:00Z", "updated_at": "2026-11-23T10:00:00Z",
        "requester_id": 43000001, "responder_id": 8, "company_id": 31,
        "requester": {"id": 43000001, "email": "olena@acme.example", "name": "Olena"},
        "company": {"id": 31, "name": "ACME Ltd"},
        "custom_fields": {"cf_task_type": "composite", "cf_units": 2},
        "due_by": "2026-11-24T08:00:00Z", "fr_due_by": "2026-11-23T09:00:00Z", **over}


def zd_ticket(**over: Any) -> dict[str, Any]:
    """Ticket 4711 as the incremental export gives it, with our sideload keys: the state of
    the fixture delivery ``zendesk/status_changed.json``."""
    return {
        "id": 4711, "subject": "Report totals are wrong", "status": "pending",
        "description": "The monthly report shows 0 for March.", "priority": "normal",
        "type": "incident", "via": {"channel": "email"}, "tags": ["reports", "billing"],
        "created_at": "2026-11-23T08:00:00Z", "updated_at": "2026-11-23T10:00:00Z",
        "requester_id": 377, "assignee_id": 901, "organization_id": 360012,
        "custom_fields": [{"id": 101, "value": "composite"}, {"id": 102, "value": "2"},
                          {"id": 999, "value": "other"}],
        "requester": {"id": 377, "email": "olena@acme.example"},
        "organization": {"id": 360012, "external_id": "acme", "name": "ACME Ltd"}, **over}


def no_items() -> None:
    """Nothing was added to the polled tickets (items: ``test_hostclient_reconcile_items``)."""
    for path in ("conversations", "time_entries"):
        responses.get(re.compile(rf"{FD}/api/v2/tickets/\d+/{path}"), json=[])
    responses.get(re.compile(rf"{ZD}/api/v2/tickets/\d+/comments"),
                  json={"comments": [], "users": [], "meta": {"has_more": False}})


def connection(ctx: Context, name: str) -> Connection:
    conn = ctx.settings.connection(name)
    assert conn is not None
    return conn


def rows(ctx: Context) -> list[tuple[str, str, str | None]]:
    with ctx.db.session() as s:
        found = s.execute(select(Event).order_by(Event.id)).scalars()
        return [(r.delivery_key, r.state, r.event_type) for r in found]


def test_freshdesk_render_parses_like_the_real_delivery(ctx: Context) -> None:
    conn = connection(ctx, "fd")
    real = dataclasses.replace(conn, options={"timezone": "Europe/Kyiv"})
    (delivered,) = freshdesk.parse((FIX / "freshdesk" / "status_changed.json").read_bytes(),
                                   {}, real)
    body = json.dumps(freshdesk_payload(conn, {**fd_ticket(),
                                               "agent_email": "ihor@support.example"},
                                        "ticket.updated")).encode()
    (polled,) = freshdesk.parse(body, {}, conn)  # ISO UTC dates: no timezone option needed
    assert (polled.event, polled.occurred_at) == (delivered.event, delivered.occurred_at)
    assert polled.ticket.created_at == delivered.ticket.created_at
    # the template's total_time_spent has no API counterpart: left empty, so no total
    fields = dict(delivered.ticket.custom_fields)
    assert fields.pop("time_spent_total_minutes") == 0
    assert polled.ticket == dataclasses.replace(delivered.ticket, custom_fields=fields)
    assert polled.ticket.company is not None and polled.ticket.company.id == "acme"


def shape(value: Any) -> Any:
    """A JSON body's keys, nested; leaves as their type (placeholders render text)."""
    return {k: shape(v) for k, v in value.items()} if isinstance(value, dict) else type(value)


def test_freshdesk_poll_bodies_keep_the_shipped_templates_format(ctx: Context) -> None:
    conn = connection(ctx, "fd")
    template = json.loads((ROOT / "webhooks" / "hosts" / "templates" /
                           "freshdesk_automation.json").read_text())
    t = {**fd_ticket(), "agent_email": "ihor@support.example"}
    reply = {"id": 2, "user_id": 43000001, "incoming": True, "private": False, "source": 0,
             "body_text": "It also happens for February.", "created_at": "2026-11-23T10:20:00Z"}
    note = {**reply, "id": 3, "user_id": 8, "incoming": False, "private": True, "source": 2,
            "body_text": "Report query is wrong."}
    entry = {"id": 11, "agent_id": 8, "time_spent": "00:45"}
    bodies = [freshdesk_payload(conn, t, "ticket.updated"),
              freshdesk_item_payload(conn, t, at=reply["created_at"], conversation=reply),
              freshdesk_item_payload(conn, t, at=reply["created_at"], conversation=note)]
    assert shape(bodies[0]) == shape(template)
    for body in bodies[1:]:
        # the one key a poll adds to a comment: its author's id (no placeholder renders it),
        # which the loop guard compares with plugin_user_id
        assert shape({k: v for k, v in body.items() if k != "author_id"}) == shape(template)
    assert [b["author_id"] for b in bodies[1:]] == ["43000001", "8"]
    logged = freshdesk_item_payload(conn, t, at="2026-11-23T10:25:00Z", entry=entry,
                                    total_minutes=75)
    # the one key a poll adds: Freshdesk has no placeholder for one entry's minutes
    assert shape({k: v for k, v in logged.items() if k != "time_entry"}) == shape(template)
    assert logged["time_entry"] == {"id": "11", "minutes": "45", "agent_id": "8"}
    # rendered as Freshdesk renders the placeholders
    assert bodies[1]["latest_public_comment"] == "Olena : It also happens for February."
    assert (bodies[1]["triggered_event"], bodies[1]["performed_by"]) == (
        "{reply_sent:sent}", "requester")
    assert bodies[2]["latest_private_comment"] == " : Report query is wrong."
    assert (bodies[2]["triggered_event"], bodies[2]["performed_by"]) == (
        "{note_type:private}", "agent")
    assert (logged["triggered_event"], logged["ticket"]["total_time_spent"]) == (
        "{time_sheet_action:added}", "01:15")


def test_zendesk_render_parses_like_the_real_delivery(ctx: Context) -> None:
    conn = connection(ctx, "zd")
    (delivered,) = zendesk.parse((FIX / "zendesk" / "status_changed.json").read_bytes(),
                                 {}, conn)
    (polled,) = zendesk.parse(json.dumps(zendesk_payload(conn, zd_ticket(), "ticket.updated"))
                              .encode(), {}, conn)
    assert (polled.event, polled.occurred_at) == (delivered.event, delivered.occurred_at)
    assert polled.ticket == delivered.ticket
    # nobody is "current user" for a poll, and an update carries no comment or time
    assert polled.actor.kind == "system" and polled.comment is None
    assert polled.time_entry is None


@responses.activate
def test_freshdesk_poll_pages_waits_out_429_and_dedupes(ctx: Context) -> None:
    no_items()
    url = f"{FD}/api/v2/tickets"
    page = {"updated_since": "2026-11-23T09:00:00Z", "order_by": "updated_at",
            "order_type": "asc", "per_page": "100", "include": "requester,company,description"}
    first = [fd_ticket(id=2000 + i, responder_id=None) for i in range(99)] + [fd_ticket()]
    responses.get(url, status=429, headers={"Retry-After": "7"},
                  match=[matchers.query_param_matcher({**page, "page": "1"})])
    responses.get(url, json=first, match=[matchers.query_param_matcher({**page, "page": "1"})])
    responses.get(url, json=[fd_ticket(id=1502, status=2, responder_id=None)],
                  match=[matchers.query_param_matcher({**page, "page": "2"})])
    responses.get(f"{FD}/api/v2/agents/8",
                  json={"id": 8, "contact": {"email": "ihor@support.example"}})
    sleeps: list[float] = []
    report = reconcile(ctx, "fd", SINCE, NOW, sleep=sleeps.append, rng=random.Random(0))
    assert not report.errors and report.tickets == 101
    assert report.outcomes == {"queued": 101}
    assert len(sleeps) == 1 and sleeps[0] >= 7  # Retry-After is the floor of retry_delay
    stored = rows(ctx)
    assert ("poll:1501:2026-11-23T10:00:00Z", "queued", "ticket.created") in stored
    # the same poll again: every ticket is known now, and its key is taken
    again = reconcile(ctx, "fd", SINCE, NOW, sleep=sleeps.append)
    assert again.outcomes == {"conflict": 101} and len(rows(ctx)) == 101


@responses.activate
def test_freshdesk_poll_skips_what_processing_already_holds(ctx: Context) -> None:
    no_items()
    from tests.jobs_support import buy

    buy(ctx, "acme", 10, datetime(2026, 11, 20, tzinfo=UTC))
    url = f"{FD}/api/v2/tickets"
    responses.get(f"{FD}/api/v2/agents/8", json={"id": 8, "contact": {"email": "i@x"}})
    responses.get(url, json=[fd_ticket(updated_at="2026-11-23T08:00:00Z", status=2)])
    assert reconcile(ctx, "fd", SINCE, NOW).outcomes == {"queued": 1}
    with ctx.db.session() as s:
        (event_id,) = s.execute(select(Event.id)).scalars()
    assert process_event(event_id, NOW) == "processed"
    # unchanged since: skipped without storing; changed later: stored as an update
    assert reconcile(ctx, "fd", SINCE, NOW).outcomes == {"skipped-processed": 1}
    responses.replace(responses.GET, url, json=[fd_ticket()])
    assert reconcile(ctx, "fd", SINCE, NOW).outcomes == {"queued": 1}
    assert rows(ctx)[-1] == ("poll:1501:2026-11-23T10:00:00Z", "queued", "ticket.updated")


@responses.activate
def test_zendesk_poll_keys_by_ticket_and_update_time(ctx: Context) -> None:
    no_items()
    url = f"{ZD}/api/v2/incremental/tickets/cursor.json"
    responses.get(url, status=429, headers={"Retry-After": "2"})
    responses.get(url, json={"tickets": [zd_ticket()], "end_of_stream": True,
                             "users": [], "organizations": []})
    sleeps: list[float] = []
    report = reconcile(ctx, "zd", SINCE, NOW, sleep=sleeps.append, rng=random.Random(1))
    assert report.outcomes == {"queued": 1} and sleeps and sleeps[0] >= 2
    (stored,) = rows(ctx)
    assert stored == ("poll:4711:2026-11-23T10:00:00Z", "queued", "ticket.created")
    with ctx.db.session() as s:
        headers = s.execute(select(Event.headers)).scalar_one()
    assert headers[zendesk.DELIVERY_HEADER] == stored[0]


@responses.activate
def test_a_host_that_keeps_failing_ends_the_pass_with_an_error(ctx: Context) -> None:
    responses.get(f"{ZD}/api/v2/incremental/tickets/cursor.json", status=429,
                  headers={"Retry-After": "3600"})
    report = reconcile(ctx, "zd", SINCE, NOW, sleep=lambda s: None)
    assert report.tickets == 0 and report.errors and "429" in report.errors[0]


@responses.activate
def test_freshdesk_import_stores_open_tickets_as_creations_once(ctx: Context) -> None:
    from plugin.reconcile.poll import import_open

    responses.get(f"{FD}/api/v2/tickets", json=[
        fd_ticket(responder_id=None), fd_ticket(id=1600, status=4, responder_id=None)],
        match=[matchers.query_param_matcher({
            "updated_since": "2000-01-01T00:00:00Z", "per_page": "100", "page": "1",
            "include": "requester,company,description"})])
    report = import_open(ctx, "fd", NOW)
    assert report.tickets == 1 and report.outcomes == {"queued": 1}  # 1600 is resolved
    assert rows(ctx) == [("import:1501:2026-11-23T10:00:00Z", "queued", "ticket.created")]
    assert import_open(ctx, "fd", NOW).outcomes == {"skipped-known": 1}
