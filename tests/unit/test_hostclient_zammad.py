"""Zammad client: the requests of HOSTS.md §1 (token auth, state names, articles, time)."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
import responses
from responses import matchers

from plugin.hosts import make_client
from plugin.hosts.errors import HostError, NotFound
from plugin.hosts.zammad import ZammadClient
from plugin.outbox.commands import Command
from plugin.settings import Connection, Secret

BASE = "https://zammad.example"
AUTH = {"Authorization": "Token token=ztoken"}


def make(field_map: dict | None = None) -> ZammadClient:
    conn = Connection(name="zm", kind="zammad", base_url=BASE + "/",
                      credentials={"token": Secret("ztoken")},
                      status_map={"waiting_client": "waiting for customer"},
                      field_map=field_map or {
                          "accept_due": "deskpilot_accept_due",
                          "resolve_due": "deskpilot_resolve_due", "task_type": "dp_type",
                          "company.available": "dp_credits"},
                      options={"time_accounting_type_id": 4})
    client = make_client(conn, sleep=lambda s: None, rng=random.Random(0))
    assert isinstance(client, ZammadClient)
    return client


@pytest.fixture
def client() -> Iterator[ZammadClient]:
    with make() as c:
        yield c


@responses.activate
def test_one_put_with_state_attributes_and_inline_internal_article(client) -> None:
    responses.put(f"{BASE}/api/v1/tickets/9", json={"id": 9},
                  match=[matchers.header_matcher(AUTH), matchers.json_params_matcher({
                      "state": "open", "owner_id": 5, "dp_type": "bug",
                      "deskpilot_accept_due": "2026-11-23T11:00:00+02:00",
                      "deskpilot_resolve_due": None,
                      "article": {"body": "rule bug-by-tag", "content_type": "text/plain",
                                  "type": "note", "internal": True}})])
    responses.post(f"{BASE}/api/v1/ticket_articles", json={"id": 100},
                   match=[matchers.json_params_matcher({
                       "ticket_id": 9, "body": "We accepted your request",
                       "content_type": "text/plain", "type": "note", "internal": False})])
    responses.post(f"{BASE}/api/v1/tickets/9/time_accountings", json={"id": 1},
                   match=[matchers.json_params_matcher({"time_unit": "60.0", "type_id": 4})])
    res = client.push("9", [
        Command.set_status("accepted"), Command.assign("5"), Command.set_fields(task_type="bug"),
        Command.set_deadlines(accept_due="2026-11-23T11:00:00+02:00"),
        Command.add_note("rule bug-by-tag"),
        Command.add_note("We accepted your request", visibility="client"),
        Command.log_time(60),
    ], idempotency_key="k")
    assert res.steps == ("ticket", "article-1", "time-0") and res.calls == 3


@responses.activate
def test_status_map_overrides_and_deadline_never_goes_to_pending_time() -> None:
    with make({"resolve_due": "pending_time"}) as client:
        responses.put(f"{BASE}/api/v1/tickets/9", json={},
                      match=[matchers.json_params_matcher({"state": "waiting for customer"})])
        res = client.push("9", [Command.set_status("waiting_client"),
                                Command.set_deadlines(resolve_due="2026-11-24T17:00:00Z")],
                          idempotency_key="k")
    assert "pending_time" in res.detail


@responses.activate
def test_balance_to_the_organisation(client) -> None:
    responses.put(f"{BASE}/api/v1/organizations/3", json={},
                  match=[matchers.header_matcher(AUTH),
                         matchers.json_params_matcher({"dp_credits": 8})])
    client.push("9", [Command.set_balance("acme", 10, 2, 8)], company="3", idempotency_key="k")
    assert len(responses.calls) == 1


@responses.activate
def test_failure_midway_reports_done_steps_and_retry_skips_them(client) -> None:
    responses.put(f"{BASE}/api/v1/tickets/9", json={})
    responses.post(f"{BASE}/api/v1/tickets/9/time_accountings", status=404,
                   json={"error": "Not authorized"})
    cmds = [Command.add_note("why"), Command.log_time(30)]
    with pytest.raises(NotFound) as info:
        client.push("9", cmds, idempotency_key="k")
    assert info.value.done_steps == ("ticket",)
    responses.replace(responses.POST, f"{BASE}/api/v1/tickets/9/time_accountings", json={})
    res = client.push("9", cmds, idempotency_key="k", done=info.value.done_steps)
    assert res.steps == ("time-0",)
    puts = [c for c in responses.calls if c.request.method == "PUT"]
    assert len(puts) == 1  # the note was not posted twice


@responses.activate
def test_search_for_updated_tickets(client) -> None:
    responses.get(f"{BASE}/api/v1/tickets/search", json=[{"id": 1}, {"id": 2}],
                  match=[matchers.query_param_matcher({
                      "query": "updated_at:>=2026-11-23T08:00:00Z", "sort_by": "updated_at",
                      "order_by": "asc", "limit": "100", "page": "1", "expand": "true"})])
    since = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
    assert [t["id"] for t in client.list_updated(since)] == [1, 2]


def test_missing_token_is_a_clear_error() -> None:
    conn = Connection(name="zm", kind="zammad", base_url=BASE)
    with make_client(conn) as client, pytest.raises(HostError, match="credential 'token'"):
        client.get_ticket("1")

