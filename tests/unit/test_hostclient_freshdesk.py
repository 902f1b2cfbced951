"""Freshdesk client: the requests of HOSTS.md §3 (status ints, due dates, notes, time)."""

from __future__ import annotations

import base64
import random
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
import responses
from responses import matchers

from plugin.hosts import make_client
from plugin.hosts.errors import ClientError
from plugin.hosts.freshdesk import FreshdeskClient
from plugin.outbox.commands import Command
from plugin.settings import Connection, Secret

BASE = "https://acme.freshdesk.com"
AUTH = {"Authorization": "Basic " + base64.b64encode(b"fdkey:X").decode()}


@pytest.fixture
def client() -> Iterator[FreshdeskClient]:
    conn = Connection(name="fd", kind="freshdesk", base_url=BASE,
                      credentials={"api_key": Secret("fdkey")},
                      field_map={"task_type": "cf_task_type", "units": "cf_units",
                                 "company.available": "cf_credits_available"})
    with make_client(conn, sleep=lambda s: None, rng=random.Random(0)) as c:
        assert isinstance(c, FreshdeskClient)
        yield c


@responses.activate
def test_ticket_update_notes_and_time_entries(client: FreshdeskClient) -> None:
    responses.put(f"{BASE}/api/v2/tickets/55", json={"id": 55},
                  match=[matchers.header_matcher(AUTH), matchers.json_params_matcher({
                      "status": 3, "responder_id": 8,
                      "due_by": "2026-11-24T15:00:00Z", "fr_due_by": "2026-11-23T09:00:00Z",
                      "custom_fields": {"cf_task_type": "composite", "cf_units": 2}})])
    responses.post(f"{BASE}/api/v2/tickets/55/notes", json={"id": 1},
                   match=[matchers.json_params_matcher({"body": "why", "private": True})])
    responses.post(f"{BASE}/api/v2/tickets/55/notes", json={"id": 2},
                   match=[matchers.json_params_matcher({"body": "On hold", "private": False})])
    responses.post(f"{BASE}/api/v2/tickets/55/time_entries", json={"id": 3},
                   match=[matchers.json_params_matcher({
                       "time_spent": "01:30", "note": "analysis", "agent_id": 8})])
    res = client.push("55", [
        Command.set_status("on_hold"), Command.assign("8"),
        Command.set_fields(task_type="composite", units=2),
        Command.set_deadlines(accept_due="2026-11-23T11:00:00+02:00",
                              resolve_due="2026-11-24T17:00:00+02:00"),
        Command.add_note("why"), Command.add_note("On hold", visibility="client"),
        Command.log_time(90, note="analysis", agent_id="8"),
    ], idempotency_key="k")
    assert res.steps == ("ticket", "note-0", "note-1", "time-0")


@responses.activate
def test_first_response_after_resolution_is_clamped_to_it(client: FreshdeskClient) -> None:
    # Freshdesk refuses fr_due_by > due_by, comparing with its stored value when only one is
    # sent (TicketValidation#due_by_gt_fr_due_by): both are sent, fr_due_by = due_by
    responses.put(f"{BASE}/api/v2/tickets/55", json={}, match=[matchers.json_params_matcher(
        {"due_by": "2026-11-23T10:00:00Z", "fr_due_by": "2026-11-23T10:00:00Z"})])
    client.push("55", [Command.set_deadlines(first_response_due="2026-11-23T12:00:00Z",
                                             resolve_due="2026-11-23T10:00:00Z")],
                idempotency_key="k")


@responses.activate
def test_refused_due_dates_are_dropped_and_the_rest_still_lands(
        client: FreshdeskClient) -> None:
    # the stored due_by (not ours to see) is earlier than our first-response date
    url = f"{BASE}/api/v2/tickets/55"
    refusal = {"description": "Validation failed", "errors": [
        {"field": "fr_due_by", "message": "must be less than due_by", "code": "invalid_value"}]}
    responses.put(url, status=400, json=refusal, match=[matchers.json_params_matcher(
        {"status": 2, "fr_due_by": "2026-11-23T12:00:00Z"})])
    responses.put(url, json={}, match=[matchers.json_params_matcher({"status": 2})])
    res = client.push("55", [Command.set_status("accepted"),
                             Command.set_deadlines(accept_due="2026-11-23T12:00:00Z")],
                      idempotency_key="k")
    assert res.steps == ("ticket",) and len(responses.calls) == 2
    assert "due dates refused" in res.detail and "must be less than due_by" in res.detail


@responses.activate
def test_other_400s_are_not_retried_without_due_dates(client: FreshdeskClient) -> None:
    responses.put(f"{BASE}/api/v2/tickets/55", status=400, json={
        "description": "Validation failed",
        "errors": [{"field": "status", "message": "It should be one of these values"}]})
    with pytest.raises(ClientError, match="one of these values"):
        client.push("55", [Command.set_status("accepted"),
                           Command.set_deadlines(resolve_due="2026-11-24T10:00:00Z")],
                    idempotency_key="k")
    assert len(responses.calls) == 1


@responses.activate
def test_no_due_dates_with_a_resolved_status(client: FreshdeskClient) -> None:
    responses.put(f"{BASE}/api/v2/tickets/55", json={},
                  match=[matchers.json_params_matcher({"status": 4})])
    client.push("55", [Command.set_status("resolved"),
                       Command.set_deadlines(resolve_due="2026-11-23T10:00:00Z")],
                idempotency_key="k")


@responses.activate
def test_company_custom_field_for_the_balance(client: FreshdeskClient) -> None:
    responses.put(f"{BASE}/api/v2/companies/31", json={}, match=[
        matchers.header_matcher(AUTH),
        matchers.json_params_matcher({"custom_fields": {"cf_credits_available": 8}})])
    client.push("55", [Command.set_balance("acme", 10, 2, 8)], company="31",
                idempotency_key="k")


@responses.activate
def test_5xx_then_success(client: FreshdeskClient) -> None:
    url = f"{BASE}/api/v2/tickets/55/notes"
    responses.post(url, status=502, body="Bad gateway")
    responses.post(url, status=503, headers={"Retry-After": "2"})
    responses.post(url, json={"id": 1})
    res = client.push("55", [Command.add_note("x")], idempotency_key="k")
    assert res.steps == ("note-0",) and len(responses.calls) == 3


@responses.activate
def test_400_validation_error_is_permanent(client: FreshdeskClient) -> None:
    responses.put(f"{BASE}/api/v2/tickets/55", status=400, json={
        "description": "Validation failed",
        "errors": [{"field": "due_by", "message": "It should be a/an valid date"}]})
    with pytest.raises(ClientError, match="valid date"):
        client.push("55", [Command.set_status("accepted")], idempotency_key="k")
    assert len(responses.calls) == 1


@responses.activate
def test_list_updated_pages_until_a_short_page_and_looks_agents_up_once(
        client: FreshdeskClient) -> None:
    query = {"updated_since": "2026-11-23T08:00:00Z", "order_by": "updated_at",
             "order_type": "asc", "per_page": "100", "include": "requester,company,description"}
    responses.get(f"{BASE}/api/v2/tickets",
                  json=[{"id": i, "responder_id": 8 if i % 2 else None} for i in range(100)],
                  match=[matchers.query_param_matcher({**query, "page": "1"})])
    responses.get(f"{BASE}/api/v2/tickets", json=[{"id": 100, "responder_id": 9}],
                  match=[matchers.query_param_matcher({**query, "page": "2"})])
    agent8 = responses.get(f"{BASE}/api/v2/agents/8",
                           json={"id": 8, "contact": {"email": "ihor@support.example"}})
    responses.get(f"{BASE}/api/v2/agents/9", status=404, json={})
    rows = list(client.list_updated(datetime(2026, 11, 23, 8, 0, tzinfo=UTC)))
    assert len(rows) == 101 and agent8.call_count == 1
    assert rows[1]["agent_email"] == "ihor@support.example" and "agent_email" not in rows[0]
    assert rows[100]["agent_email"] is None
