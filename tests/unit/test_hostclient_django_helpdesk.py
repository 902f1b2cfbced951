"""django-helpdesk client: one silent PATCH plus followups (HOSTS.md §5, tested there)."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
import responses
from responses import matchers

from plugin.hosts import make_client
from plugin.hosts.django_helpdesk import DjangoHelpdeskClient
from plugin.hosts.errors import ClientError
from plugin.outbox.commands import Command
from plugin.settings import Connection, Secret

BASE = "http://127.0.0.1:8000/helpdesk"
AUTH = {"Authorization": "Token dhkey"}


@pytest.fixture
def client() -> Iterator[DjangoHelpdeskClient]:
    conn = Connection(name="dh", kind="django_helpdesk", base_url=BASE,
                      credentials={"token": Secret("dhkey")},
                      field_map={"task_type": "task_type", "units": "units",
                                 "available": "credits_left"})
    with make_client(conn, sleep=lambda s: None, rng=random.Random(0)) as c:
        assert isinstance(c, DjangoHelpdeskClient)
        yield c


@responses.activate
def test_patch_then_one_followup_for_status_note_and_time(client) -> None:
    responses.patch(f"{BASE}/api/tickets/4/", json={"id": 4}, match=[
        matchers.header_matcher(AUTH), matchers.json_params_matcher({
            "on_hold": False, "due_date": "2026-11-24T17:00:00+02:00",
            "custom_task_type": "composite", "custom_units": 2, "custom_credits_left": 8})])
    # the client reads the ticket before followups (its Resolution is kept, issue 15)
    responses.get(f"{BASE}/api/tickets/4/", json={"id": 4, "status": 1, "resolution": None})
    responses.post(f"{BASE}/api/followups/", status=201, json={"id": 20}, match=[
        matchers.header_matcher(AUTH), matchers.json_params_matcher({
            "ticket": 4, "comment": "Resolved. Please rate us.", "public": True,
            "new_status": 3, "time_spent": "01:30:00"})])
    res = client.push("4", [
        Command.set_fields(task_type="composite", units=2),
        Command.set_deadlines(accept_due="2026-11-23T11:00:00+02:00",
                              resolve_due="2026-11-24T17:00:00+02:00"),
        Command.set_balance("acme", 10, 2, 8),
        Command.set_status("resolved"),
        Command.add_note("Resolved. Please rate us.", visibility="client"),
        Command.log_time(90),
    ], idempotency_key="k")
    assert res.steps == ("ticket", "read", "followup-0")
    assert [c.request.method for c in responses.calls] == ["PATCH", "GET", "POST"]


@responses.activate
def test_acceptance_deadline_until_resolution_is_known(client) -> None:
    responses.patch(f"{BASE}/api/tickets/4/", json={}, match=[matchers.json_params_matcher(
        {"due_date": "2026-11-23T11:00:00+02:00"})])
    client.push("4", [Command.set_deadlines(accept_due="2026-11-23T11:00:00+02:00")],
                idempotency_key="k")


@responses.activate
def test_status_alone_is_a_silent_patch_and_on_hold_is_the_flag(client) -> None:
    responses.patch(f"{BASE}/api/tickets/4/", json={}, match=[matchers.json_params_matcher(
        {"on_hold": True, "status": 1})])
    client.push("4", [Command.set_status("on_hold")], idempotency_key="k")
    assert len(responses.calls) == 1


@responses.activate
def test_two_visibilities_two_followups_extra_time_is_internal(client) -> None:
    # a status always sets the on_hold flag (leaving hold clears it), silently
    responses.patch(f"{BASE}/api/tickets/4/", json={},
                    match=[matchers.json_params_matcher({"on_hold": False})])
    responses.get(f"{BASE}/api/tickets/4/", json={"id": 4, "status": 1, "resolution": None})
    responses.post(f"{BASE}/api/followups/", status=201, json={})
    client.push("4", [Command.add_note("Deferred to Monday", visibility="client"),
                      Command.add_note("4th ticket today"),
                      Command.log_time(15, note="triage"), Command.log_time(5),
                      Command.set_status("accepted")], idempotency_key="k")
    bodies = [json.loads(c.request.body or "") for c in responses.calls[2:]]
    assert bodies[0] == {"ticket": 4, "comment": "Deferred to Monday\n\ntriage", "public": True,
                         "time_spent": "00:15:00", "new_status": 1}
    assert bodies[1] == {"ticket": 4, "comment": "4th ticket today", "public": False,
                         "time_spent": "00:05:00"}
    assert [c.request.method for c in responses.calls] == ["PATCH", "GET", "POST", "POST"]


@responses.activate
def test_403_is_permanent(client) -> None:
    responses.patch(f"{BASE}/api/tickets/4/", status=403,
                    json={"detail": "You do not have permission to perform this action."})
    with pytest.raises(ClientError, match="permission"):
        client.push("4", [Command.assign("2")], idempotency_key="k")


def _ticket(tid: int, *dates: str) -> dict:
    return {"id": tid, "status": 1, "followup_set": [
        {"id": tid * 10 + i, "date": d} for i, d in enumerate(dates)]}


@responses.activate
def test_list_updated_follows_next_and_filters_by_followup_date(client) -> None:
    page2 = f"{BASE}/api/tickets/?page=2&status=1%2C2%2C3"
    responses.get(f"{BASE}/api/tickets/", match=[matchers.query_param_matcher(
        {"status": "1,2,3"})], json={"count": 3, "next": page2, "results": [
            _ticket(1, "2026-11-23T07:00:00Z"),
            _ticket(2, "2026-11-23T07:00:00Z", "2026-11-23T09:30:00Z")]})
    responses.get(page2, json={"count": 3, "next": None, "results": [
        _ticket(3, "2026-11-23T08:00:00+00:00")]})
    since = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
    assert [t["id"] for t in client.list_updated(since)] == [2, 3]


@responses.activate
def test_list_open_asks_for_open_and_reopened(client) -> None:
    responses.get(f"{BASE}/api/tickets/", match=[matchers.query_param_matcher(
        {"status": "1,2"})], json={"count": 1, "next": None, "results": [_ticket(5)]})
    assert [t["id"] for t in client.list_open()] == [5]


@responses.activate
def test_a_followup_on_a_resolved_ticket_keeps_the_agents_resolution(client) -> None:
    # helpdesk/update_ticket.py 2.6.1: a followup without new_status takes the ticket's
    # status, and on a Resolved ticket its comment replaces ticket.resolution
    responses.get(f"{BASE}/api/tickets/4/",
                  json={"id": 4, "status": 3, "resolution": "Replaced the toner."})
    responses.post(f"{BASE}/api/followups/", status=201, json={"id": 21})
    responses.patch(f"{BASE}/api/tickets/4/", json={}, match=[
        matchers.json_params_matcher({"resolution": "Replaced the toner."})])
    res = client.push("4", [Command.add_note("Please rate us 1-5.", visibility="client")],
                      idempotency_key="k")
    assert [c.request.method for c in responses.calls] == ["GET", "POST", "PATCH"]
    assert json.loads(responses.calls[1].request.body or "") == {
        "ticket": 4, "comment": "Please rate us 1-5.", "public": True}
    assert res.steps == ("read", "followup-0", "resolution")


@responses.activate
def test_unknown_deadlines_are_left_out_and_custom_datetimes_are_local_wall_time() -> None:
    conn = Connection(name="dh", kind="django_helpdesk", base_url=BASE,
                      credentials={"token": Secret("dhkey")},
                      field_map={"accept_due": "accept_by", "resolve_due": "resolve_by"},
                      options={"timezone": "Europe/Kyiv"})
    responses.patch(f"{BASE}/api/tickets/4/", json={}, match=[matchers.json_params_matcher({
        "due_date": "2026-12-07T08:00:00Z", "custom_accept_by": "2026-12-07T10:00:00"})])
    with make_client(conn) as c:
        c.push("4", [Command.set_deadlines(accept_due="2026-12-07T08:00:00Z",
                                           resolve_due=None)], idempotency_key="k")
    assert len(responses.calls) == 1


@responses.activate
def test_a_field_the_helpdesk_refuses_is_dropped_the_rest_lands_and_the_refusal_is_raised(
        client) -> None:
    refusal = {"custom_units": ["A valid integer is required."]}
    responses.patch(f"{BASE}/api/tickets/4/", status=400, json=refusal, match=[
        matchers.json_params_matcher({"custom_task_type": "bug", "custom_units": "x"})])
    responses.patch(f"{BASE}/api/tickets/4/", json={}, match=[
        matchers.json_params_matcher({"custom_task_type": "bug"})])
    with pytest.raises(ClientError, match="valid integer") as info:
        client.push("4", [Command.set_fields(task_type="bug", units="x")], idempotency_key="k")
    assert info.value.status == 400 and info.value.done_steps == ("ticket",)
    assert len(responses.calls) == 2
