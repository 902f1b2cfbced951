"""Redmine 7 core journals carry no ``private_notes`` (redmine/redmine tag 7.0.0,
``app/models/concerns/issue/webhookable.rb`` ``journal_payload``): the worker reads the
flag from the issue's journals (``GET /issues/<id>.json?include=journals``) before the rules
count the note. Through the real path: the receiver stores the signed body, ``process_event``
confirms the note with the host (``responses``) and runs the rules."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import responses
from sqlalchemy import select

from plugin.app import create_app
from plugin.context import Context, set_context
from plugin.processing.process import process_event
from plugin.storage.models import Event, EventState, Ticket
from tests.jobs_support import connections_context
from tests.unit.test_vendor_formats_redmine import issue
from webhooks.hosts import redmine

BASE = "http://redmine.test"
SECRET = "redmine-webhook-secret"
ISSUE_URL = f"{BASE}/issues/311.json"
NOW = datetime(2026, 12, 4, 10, 30, tzinfo=UTC)


@pytest.fixture
def ctx(sqlite_url: str, redis_url: str, tmp_path: Any) -> Iterator[Context]:
    ctx = connections_context(sqlite_url, [{
        "name": "rm", "kind": "redmine", "base_url": BASE, "inline_push": False,
        "webhook_secrets": [SECRET], "credentials": {"api_key": "k"},
        "plugin_user_id": "40"}], redis_url=redis_url, var_dir=str(tmp_path))
    yield ctx
    set_context(None)
    ctx.close()


def _deliver(ctx: Context, body: dict[str, Any], at: datetime) -> str:
    raw = json.dumps(body).encode()
    resp = create_app(context=ctx).test_client().post(
        "/webhooks/rm", data=raw, headers={"Content-Type": "application/json",
                                           redmine.SIGNATURE_HEADER: redmine.sign(raw, SECRET)})
    assert resp.status_code == 202, resp.json
    return process_event(resp.json["event_id"], at)


def _created(ctx: Context) -> None:
    body = {"type": "issue.created", "timestamp": "2026-12-04T08:00:00Z",
            "data": {"issue": issue(updated_on="2026-12-04T08:00:00Z")}}
    assert _deliver(ctx, body, datetime(2026, 12, 4, 8, 1, tzinfo=UTC)) == "processed"


def _note(flag: dict[str, Any] | None = None) -> dict[str, Any]:
    journal = {"id": 902, "created_on": "2026-12-04T10:10:00Z", "notes": "Checked the logs.",
               "user": {"id": 5, "name": "Ivan Petrenko"}, "details": [], **(flag or {})}
    return {"type": "issue.updated", "timestamp": "2026-12-04T10:10:00Z",
            "data": {"issue": issue(), "journal": journal}}


def _journals(private: bool) -> dict[str, Any]:
    # GET /issues/:id.json?include=journals (app/views/issues/show.api.rsb at 7.0.0)
    return {"issue": {**issue(), "journals": [
        {"id": 901, "user": {"id": 9, "name": "Olena Koval"}, "notes": "Still broken",
         "created_on": "2026-12-04T09:00:00Z", "private_notes": False, "details": []},
        {"id": 902, "user": {"id": 5, "name": "Ivan Petrenko"}, "notes": "Checked the logs.",
         "created_on": "2026-12-04T10:10:00Z", "private_notes": private, "details": []}]}}


def _ticket(ctx: Context) -> Ticket:
    with ctx.db.session() as s:
        t = s.execute(select(Ticket).where(Ticket.host_ticket_id == "311")).scalar_one()
        s.expunge(t)
        return t


def _asked() -> list[str]:
    return [c.request.url for c in responses.calls if c.request.method == "GET"]


@responses.activate
def test_a_private_core_journal_is_an_internal_note_and_no_first_response(ctx) -> None:
    _created(ctx)
    responses.add(responses.GET, ISSUE_URL, json=_journals(private=True))
    assert _deliver(ctx, _note(), NOW) == "processed"
    assert _asked() == [f"{ISSUE_URL}?include=journals"]
    assert responses.calls[0].request.headers["X-Redmine-API-Key"] == "k"
    assert _ticket(ctx).first_response_at is None


@responses.activate
def test_a_public_core_journal_is_the_first_response(ctx) -> None:
    _created(ctx)
    responses.add(responses.GET, ISSUE_URL, json=_journals(private=False))
    assert _deliver(ctx, _note(), NOW) == "processed"
    assert len(_asked()) == 1
    assert _ticket(ctx).first_response_at is not None


@responses.activate
@pytest.mark.parametrize("private", [True, False])
def test_a_journal_that_carries_the_flag_costs_no_request(ctx, private: bool) -> None:
    _created(ctx)
    assert _deliver(ctx, _note({"private_notes": private}), NOW) == "processed"
    assert _asked() == []
    assert (_ticket(ctx).first_response_at is None) is private


@responses.activate
def test_a_journal_the_host_does_not_list_is_not_taken_as_public(ctx) -> None:
    # a private note hidden from the API user is absent from the list
    _created(ctx)
    data = _journals(private=False)
    data["issue"]["journals"].pop()
    responses.add(responses.GET, ISSUE_URL, json=data)
    assert _deliver(ctx, _note(), NOW) == "processed"
    assert _ticket(ctx).first_response_at is None


@responses.activate
def test_an_unreachable_host_fails_the_job_and_the_retry_reads_the_flag(ctx) -> None:
    _created(ctx)
    responses.add(responses.GET, ISSUE_URL, status=503, body="maintenance")
    raw = json.dumps(_note()).encode()
    resp = create_app(context=ctx).test_client().post(
        "/webhooks/rm", data=raw, headers={"Content-Type": "application/json",
                                           redmine.SIGNATURE_HEADER: redmine.sign(raw, SECRET)})
    event_id = resp.json["event_id"]
    with pytest.raises(Exception, match="503"):
        process_event(event_id, NOW)
    with ctx.db.session() as s:
        assert s.get(Event, event_id).state == EventState.QUEUED  # left for the retry
    assert _ticket(ctx).first_response_at is None
    responses.replace(responses.GET, ISSUE_URL, json=_journals(private=False))
    assert process_event(event_id, NOW) == "processed"
    assert _ticket(ctx).first_response_at is not None
