"""Redmine client: HOSTS.md §4 requests, and X-Skip-Webhooks on every write."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
import requests
import responses
from responses import matchers

from plugin.hosts import make_client
from plugin.hosts.errors import HostUnavailable, ServerError
from plugin.hosts.redmine import RedmineClient
from plugin.outbox.commands import Command
from plugin.settings import Connection, Secret

BASE = "https://redmine.example"
KEY = {"X-Redmine-API-Key": "rkey"}


@pytest.fixture
def client() -> Iterator[RedmineClient]:
    conn = Connection(name="rm", kind="redmine", base_url=BASE,
                      credentials={"api_key": Secret("rkey")},
                      field_map={"resolve_due": 7, "task_type": 3, "available": 9},
                      options={"time_activity_id": 9})
    with make_client(conn, sleep=lambda s: None, rng=random.Random(0)) as c:
        assert isinstance(c, RedmineClient)
        yield c


@responses.activate
def test_issue_put_time_entry_and_skip_header_on_every_write(client: RedmineClient) -> None:
    responses.put(f"{BASE}/issues/12.json", status=204, match=[
        matchers.header_matcher(KEY), matchers.json_params_matcher({"issue": {
            "status_id": 3, "assigned_to_id": 4, "due_date": "2026-11-24",
            "custom_fields": [{"id": 3, "value": "bug"},
                              {"id": 7, "value": "2026-11-24T17:00:00+02:00"},
                              {"id": 9, "value": "8"}],
            "notes": "Resolved, 2 credits", "private_notes": True}})])
    responses.put(f"{BASE}/issues/12.json", status=204, match=[matchers.json_params_matcher(
        {"issue": {"notes": "Please rate us", "private_notes": False}})])
    responses.post(f"{BASE}/time_entries.json", status=201, json={"time_entry": {"id": 1}},
                   match=[matchers.json_params_matcher({"time_entry": {
                       "issue_id": 12, "hours": 1.5, "activity_id": 9,
                       "comments": "fix"}})])
    res = client.push("12", [
        Command.set_status("resolved"), Command.assign("4"), Command.set_fields(task_type="bug"),
        Command.set_deadlines(resolve_due="2026-11-24T17:00:00+02:00"),
        Command.set_balance("acme", 10, 2, 8),
        Command.add_note("Resolved, 2 credits"),
        Command.add_note("Please rate us", visibility="client"),
        Command.log_time(90, note="fix"),
    ], idempotency_key="k")
    assert res.steps == ("issue", "note-1", "time-0")
    writes = [c for c in responses.calls if c.request.method != "GET"]
    assert len(writes) == 3
    assert all(c.request.headers["X-Skip-Webhooks"] == "1" for c in writes)
    assert all(c.request.headers["X-Redmine-API-Key"] == "rkey" for c in writes)


@responses.activate
def test_5xx_then_success_and_exhaustion(client: RedmineClient) -> None:
    url = f"{BASE}/issues/12.json"
    responses.put(url, status=500, body="boom")
    responses.put(url, status=204)
    assert client.push("12", [Command.set_status("accepted")], idempotency_key="k").calls == 1
    responses.replace(responses.PUT, url, status=503, body="down")
    with pytest.raises(ServerError, match="down"):
        client.push("12", [Command.set_status("accepted")], idempotency_key="k")
    assert len(responses.calls) == 2 + client.max_attempts


@responses.activate
def test_connection_errors_become_host_unavailable(client: RedmineClient) -> None:
    responses.put(f"{BASE}/issues/12.json",
                  body=requests.ConnectionError("refused https://x?key=rkey"))
    with pytest.raises(HostUnavailable) as info:
        client.push("12", [Command.set_status("accepted")], idempotency_key="k")
    assert "rkey" not in str(info.value)


@responses.activate
def test_list_updated_pages_by_offset(client: RedmineClient) -> None:
    base_q = {"updated_on": ">=2026-11-23T08:00:00Z", "status_id": "*",
              "sort": "updated_on", "limit": "100"}
    responses.get(f"{BASE}/issues.json", match=[matchers.query_param_matcher(
        {**base_q, "offset": "0"})], json={"issues": [{"id": i} for i in range(100)],
                                           "total_count": 150})
    responses.get(f"{BASE}/issues.json", match=[matchers.query_param_matcher(
        {**base_q, "offset": "100"})], json={"issues": [{"id": i} for i in range(100, 150)],
                                             "total_count": 150})
    # each listed issue is read once more for its journals (the list carries none)
    for i in range(150):
        responses.get(f"{BASE}/issues/{i}.json", match=[matchers.query_param_matcher(
            {"include": "journals"})], json={"issue": {"id": i, "journals": [{"id": 1000 + i}]}})
    rows = list(client.list_updated(datetime(2026, 11, 23, 8, 0, tzinfo=UTC)))
    assert [r["id"] for r in rows] == list(range(150))
    assert [r["journals"] for r in rows[:2]] == [[{"id": 1000}], [{"id": 1001}]]
    assert all("X-Skip-Webhooks" not in c.request.headers for c in responses.calls)


@responses.activate
def test_due_date_shows_the_acceptance_deadline_until_there_is_a_resolution_deadline(
    client: RedmineClient,
) -> None:
    """Redmine's due_date is a date: the acceptance deadline's (in its own offset) at filing,
    the resolution deadline's once there is one; the times go to the mapped string fields."""
    responses.put(f"{BASE}/issues/12.json", status=204, match=[matchers.json_params_matcher(
        {"issue": {"due_date": "2026-11-24", "custom_fields": [{"id": 7, "value": ""}]}})])
    responses.put(f"{BASE}/issues/12.json", status=204, match=[matchers.json_params_matcher(
        {"issue": {"due_date": "2026-11-27",
                   "custom_fields": [{"id": 7, "value": "2026-11-27T00:30:00+02:00"}]}})])
    client.push("12", [Command.set_deadlines(accept_due="2026-11-24T00:30:00+02:00")],
                idempotency_key="a")
    client.push("12", [Command.set_deadlines(accept_due="2026-11-24T00:30:00+02:00",
                                             resolve_due="2026-11-27T00:30:00+02:00")],
                idempotency_key="b")
    assert len(responses.calls) == 2


@responses.activate
def test_time_entries_of_an_issue_page_by_offset(client: RedmineClient) -> None:
    for offset, ids in ((0, range(100)), (100, range(100, 120))):
        responses.get(f"{BASE}/time_entries.json", match=[matchers.query_param_matcher(
            {"issue_id": "12", "limit": "100", "offset": str(offset)})],
            json={"time_entries": [{"id": i} for i in ids], "total_count": 120})
    assert [e["id"] for e in client.ticket_time_entries("12")] == list(range(120))



@responses.activate
def test_comment_visibility_reads_each_journals_private_flag(client: RedmineClient) -> None:
    # GET /issues/:id.json?include=journals (redmine/redmine app/views/issues/show.api.rsb)
    responses.get(f"{BASE}/issues/311.json", match=[
        matchers.header_matcher(KEY), matchers.query_param_matcher({"include": "journals"})],
        json={"issue": {"id": 311, "journals": [
            {"id": 901, "notes": "hello", "private_notes": False},
            {"id": 902, "notes": "internal", "private_notes": True},
            {"id": 903, "notes": "", "details": []}]}})
    assert client.comment_visibility("311") == {"901": True, "902": False, "903": True}
