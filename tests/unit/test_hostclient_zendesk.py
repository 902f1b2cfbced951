"""Zendesk client: the exact requests of HOSTS.md §2, one PUT per push, retries."""

from __future__ import annotations

import base64
import json
import random
from collections.abc import Iterator

import pytest
import responses
from responses import matchers

from plugin.hosts import make_client
from plugin.hosts.errors import ClientError, RateLimited
from plugin.hosts.zendesk import ZendeskClient
from plugin.outbox.commands import Command
from plugin.settings import Connection, Secret

BASE = "https://acme.zendesk.com"
AUTH = "Basic " + base64.b64encode(b"bot@acme.example/token:ztok").decode()
FIELDS = {"task_type": 101, "units": 102, "accept_due": 103, "resolve_due": 104,
          "resolve_due_date": 105, "time_total": 201, "time_last": 202,
          "company.balance": "credits_balance", "company.available": "credits_available"}


@pytest.fixture
def client() -> Iterator[ZendeskClient]:
    conn = Connection(name="zd", kind="zendesk", base_url=BASE, field_map=FIELDS,
                      credentials={"email": Secret("bot@acme.example"),
                                   "api_token": Secret("ztok")})
    sleeps: list[float] = []
    with make_client(conn, sleep=sleeps.append, rng=random.Random(0)) as c:
        assert isinstance(c, ZendeskClient)
        c.sleeps = sleeps  # type: ignore[attr-defined]
        yield c


def body(call: responses.Call) -> dict:
    return json.loads(call.request.body or "")


@responses.activate
def test_status_fields_deadlines_and_comment_in_one_put(client: ZendeskClient) -> None:
    responses.put(f"{BASE}/api/v2/tickets/42", json={"ticket": {"id": 42}},
                  match=[matchers.header_matcher({"Authorization": AUTH})])
    cmds = [
        Command.set_status("accepted"),
        Command.set_fields(task_type="composite"),
        Command.set_deadlines(accept_due="2026-11-23T11:00:00+02:00",
                              resolve_due="2026-11-24T17:00:00+02:00"),
        Command.add_note("Why: rule composite-by-keyword", visibility="internal"),
        Command.set_status("in_progress"),
        Command.set_fields(units=2),
        Command.add_note("Second reason", visibility="internal"),
        Command.assign("3001"),
        Command.set_fields(tags=["deskpilot"], estimate_hours=4),
    ]
    res = client.push("42", cmds, idempotency_key="k1")
    assert len(responses.calls) == 1 and res.calls == 1
    assert body(responses.calls[0]) == {"ticket": {
        "status": "open",
        "assignee_id": 3001,
        "additional_tags": ["deskpilot"],
        "custom_fields": [
            {"id": 101, "value": "composite"}, {"id": 102, "value": 2},
            {"id": 103, "value": "2026-11-23T11:00:00+02:00"},
            {"id": 104, "value": "2026-11-24T17:00:00+02:00"},
            {"id": 105, "value": "2026-11-24"},
        ],
        "comment": {"body": "Why: rule composite-by-keyword\n\nSecond reason", "public": False},
    }}
    assert res.detail == "skipped unmapped: estimate_hours"


@responses.activate
def test_public_and_private_comments_need_two_updates(client: ZendeskClient) -> None:
    responses.put(f"{BASE}/api/v2/tickets/42", json={})
    client.push("42", [Command.add_note("Accepted", visibility="client"),
                       Command.add_note("reason"), Command.set_status("resolved")],
                idempotency_key="k")
    first, second = (body(c)["ticket"] for c in responses.calls)
    assert first == {"status": "solved", "comment": {"body": "Accepted", "public": True}}
    assert second == {"comment": {"body": "reason", "public": False}}


@responses.activate
def test_time_tracking_adds_to_the_current_total(client: ZendeskClient) -> None:
    responses.get(f"{BASE}/api/v2/tickets/42", json={"ticket": {
        "id": 42, "custom_fields": [{"id": 201, "value": 1800}, {"id": 202, "value": 600}]}})
    responses.put(f"{BASE}/api/v2/tickets/42", json={})
    client.push("42", [Command.log_time(90), Command.log_time(15)], idempotency_key="k")
    assert body(responses.calls[1])["ticket"]["custom_fields"] == [
        {"id": 201, "value": 1800 + 105 * 60}, {"id": 202, "value": 105 * 60}]


@responses.activate
def test_balance_goes_to_the_organisation(client: ZendeskClient) -> None:
    responses.put(f"{BASE}/api/v2/organizations/77", json={},
                  match=[matchers.json_params_matcher({"organization": {"organization_fields": {
                      "credits_balance": 10, "credits_available": 8}}})])
    res = client.push("42", [Command.set_balance("acme", 10, 2, 8)], company="77",
                      idempotency_key="k")
    assert res.steps == ("organization",)


@responses.activate
def test_429_with_retry_after_is_waited_out_then_succeeds(client: ZendeskClient) -> None:
    url = f"{BASE}/api/v2/tickets/42"
    responses.put(url, status=429, headers={"Retry-After": "7"}, json={"error": "slow down"})
    responses.put(url, json={})
    res = client.push("42", [Command.set_status("on_hold")], idempotency_key="k")
    assert res.calls == 1 and len(responses.calls) == 2
    assert client.sleeps == [7.0]  # type: ignore[attr-defined]


@responses.activate
def test_429_beyond_the_budget_is_raised_for_the_queue(client: ZendeskClient) -> None:
    responses.put(f"{BASE}/api/v2/tickets/42", status=429, headers={"Retry-After": "600"})
    with pytest.raises(RateLimited) as info:
        client.push("42", [Command.set_status("on_hold")], idempotency_key="k")
    assert info.value.retry_after == 600.0 and len(responses.calls) == 1


@responses.activate
def test_422_fails_at_once_with_the_hosts_message(client: ZendeskClient) -> None:
    responses.put(f"{BASE}/api/v2/tickets/42", status=422,
                  json={"error": "RecordInvalid", "details": {"status": "closed is final"}})
    with pytest.raises(ClientError, match="closed is final") as info:
        client.push("42", [Command.set_status("new")], idempotency_key="k")
    assert "ztok" not in str(info.value)
    assert len(responses.calls) == 1 and client.sleeps == []  # type: ignore[attr-defined]


@responses.activate
def test_list_updated_follows_the_incremental_cursor(client: ZendeskClient) -> None:
    url = f"{BASE}/api/v2/incremental/tickets/cursor.json"
    side = "users,organizations"
    responses.get(url, match=[matchers.query_param_matcher({"start_time": "1795428000",
                                                            "include": side})],
                  json={"tickets": [{"id": 1, "requester_id": 377, "organization_id": 5}],
                        "users": [{"id": 377, "email": "olena@acme.example"}],
                        "organizations": [{"id": 5, "name": "ACME Ltd"}],
                        "after_cursor": "c2", "end_of_stream": False})
    responses.get(url, match=[matchers.query_param_matcher({"cursor": "c2", "include": side})],
                  json={"tickets": [{"id": 2}], "after_cursor": "c3", "end_of_stream": True})
    from datetime import UTC, datetime
    since = datetime.fromtimestamp(1795428000, UTC)
    rows = list(client.list_updated(since))
    assert [t["id"] for t in rows] == [1, 2]
    assert rows[0]["requester"]["email"] == "olena@acme.example"
    assert rows[0]["organization"]["name"] == "ACME Ltd"
    assert rows[1]["requester"] == {} and rows[1]["organization"] == {}


@responses.activate
def test_list_open_reads_requesters_and_organisations_per_page(client: ZendeskClient) -> None:
    responses.get(f"{BASE}/api/v2/search.json", json={
        "results": [{"id": 7, "requester_id": 377, "organization_id": 5},
                    {"id": 8, "requester_id": 378, "organization_id": None}],
        "next_page": None},
        match=[matchers.query_param_matcher({"query": "type:ticket status<solved"})])
    responses.get(f"{BASE}/api/v2/users/show_many.json",
                  match=[matchers.query_param_matcher({"ids": "377,378"})],
                  json={"users": [{"id": 377, "email": "olena@acme.example"}]})
    responses.get(f"{BASE}/api/v2/organizations/show_many.json",
                  match=[matchers.query_param_matcher({"ids": "5"})],
                  json={"organizations": [{"id": 5, "name": "ACME Ltd"}]})
    rows = list(client.list_open())
    assert rows[0]["requester"]["email"] == "olena@acme.example"
    assert rows[0]["organization"]["name"] == "ACME Ltd" and rows[1]["requester"] == {}
