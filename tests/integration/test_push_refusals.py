"""Issue 15: a write the host refuses costs only itself. For every host client, through the
outbox and ``push_ticket`` with the real client and ``responses``: the host refuses one field
of a batch (``units``, 4xx); the client-visible note, the deadline and the other field are
still delivered, and the refused part is recorded (state failed, host status and message),
listed by ``deskpilot outbox list`` and resent by ``deskpilot outbox resend``."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
import responses
from click.testing import CliRunner
from sqlalchemy import select

from plugin.cli import main
from plugin.context import set_context
from plugin.outbox.commands import Command
from plugin.outbox.push import PushFailed, push_ticket
from plugin.outbox.rows import OutboxRow, OutboxState, add_commands
from tests.jobs_support import SECRET, connections_context

NOW = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
BASE = "http://host.test"
REFUSAL = {"errors": {"units": ["is not a valid number"]}}
Seen = list[tuple[str, str, Any]]


def _body(request: Any) -> Any:
    raw = request.body
    return json.loads(raw) if raw else None


def _handler(seen: Seen, refuses: Callable[[Any], bool], ok: Any = None,
             status: int = 200) -> Callable[[Any], tuple[int, dict[str, str], str]]:
    def handle(request: Any) -> tuple[int, dict[str, str], str]:
        body = _body(request)
        if refuses(body):
            return 422, {}, json.dumps(REFUSAL)
        seen.append((request.method, request.url, body))
        if status == 204:
            return status, {}, ""
        return status, {}, json.dumps(ok if ok is not None else {"id": 1})
    return handle


def _has(text: str) -> Callable[[Any], bool]:
    return lambda body: text in json.dumps(body)


# kind -> (connection extras, route setup, "delivered" checks on the seen requests)
def _dh(seen: Seen) -> None:
    responses.add_callback(responses.PATCH, f"{BASE}/api/tickets/4/",
                           callback=_handler(seen, _has("custom_units")))
    responses.add(responses.GET, f"{BASE}/api/tickets/4/", json={"status": 1})
    responses.add_callback(responses.POST, f"{BASE}/api/followups/",
                           callback=_handler(seen, lambda b: False, status=201))


def _zammad(seen: Seen) -> None:
    responses.add_callback(responses.PUT, f"{BASE}/api/v1/tickets/4",
                           callback=_handler(seen, _has('"units"')))


def _zendesk(seen: Seen) -> None:
    responses.add_callback(responses.PUT, f"{BASE}/api/v2/tickets/4",
                           callback=_handler(seen, _has('"id": 77')))


def _freshdesk(seen: Seen) -> None:
    responses.add_callback(responses.PUT, f"{BASE}/api/v2/tickets/4",
                           callback=_handler(seen, _has("cf_units")))
    responses.add_callback(responses.POST, f"{BASE}/api/v2/tickets/4/notes",
                           callback=_handler(seen, lambda b: False, status=201))


def _redmine(seen: Seen) -> None:
    responses.add_callback(responses.PUT, f"{BASE}/issues/4.json",
                           callback=_handler(seen, _has('"id": 77'), status=204))


def _generic(seen: Seen) -> None:
    responses.add_callback(responses.POST, f"{BASE}/callback",
                           callback=_handler(seen, _has('"units"')))


CASES: dict[str, tuple[dict[str, Any], Callable[[Seen], None]]] = {
    "django_helpdesk": ({"credentials": {"token": "t"},
                         "field_map": {"task_type": "task_type", "units": "units",
                                       "resolve_due": "resolve_by"}}, _dh),
    "zammad": ({"credentials": {"token": "t"},
                "field_map": {"task_type": "task_type", "units": "units",
                              "resolve_due": "resolve_by"}}, _zammad),
    "zendesk": ({"credentials": {"email": "a@b.c", "api_token": "t"},
                 "field_map": {"task_type": 76, "units": 77, "resolve_due": 78}}, _zendesk),
    "freshdesk": ({"credentials": {"api_key": "k"},
                   "field_map": {"task_type": "cf_task_type", "units": "cf_units"}},
                  _freshdesk),
    "redmine": ({"credentials": {"api_key": "k"},
                 "field_map": {"task_type": 76, "units": 77, "resolve_due": 78}}, _redmine),
    "generic": ({"webhook_secrets": [SECRET], "callback_url": f"{BASE}/callback",
                 "credentials": {"callback_secret": "callback-secret-of-its-own"}}, _generic),
}


@pytest.fixture
def host(request: Any, sqlite_url: str, tmp_path: Any) -> Any:
    kind = request.param
    extra, routes = CASES[kind]
    conn = {"name": "h", "kind": kind, "base_url": BASE, "inline_push": False, **extra}
    ctx = connections_context(sqlite_url, [conn], var_dir=str(tmp_path))
    yield ctx, routes, conn
    set_context(None)
    ctx.close()


def _rows(ctx: Any) -> list[OutboxRow]:
    with ctx.db.session() as s:
        return list(s.execute(select(OutboxRow).order_by(OutboxRow.id)).scalars())


@pytest.mark.parametrize("host", list(CASES), indirect=True)
@responses.activate
def test_the_host_refuses_one_field_the_rest_of_the_batch_is_delivered(host, tmp_path,
                                                                       monkeypatch) -> None:
    ctx, routes, conn = host
    seen: Seen = []
    routes(seen)
    with ctx.db.session() as s:
        add_commands(s, "h", "4", [
            Command.set_status("accepted"),
            Command.set_deadlines(accept_due="2026-12-07T10:00:00Z",
                                  resolve_due="2026-12-08T15:00:00Z"),
            Command.set_fields(task_type="consultation", units=1),
            Command.add_note("Accepted, due 08.12 17:00 EET.", "client"),
        ], "event:1", NOW, company_id="acme")
    with pytest.raises(PushFailed, match="refused 1 of 4"):
        push_ticket("h", "4", NOW)
    sent = json.dumps(seen)
    assert "Accepted, due 08.12 17:00 EET." in sent  # the client's message arrived
    assert "consultation" in sent  # the other field arrived
    assert "2026-12-08" in sent  # the deadline arrived
    rows = _rows(ctx)
    failed = [r for r in rows if r.state == OutboxState.FAILED]
    assert len(failed) == 1
    assert failed[0].command == {"type": "set_fields", "data": {"fields": {"units": 1}}}
    assert failed[0].refused_status == 422 and "not a valid number" in (failed[0].last_error
                                                                        or "")
    assert {r.state for r in rows[:4]} == {OutboxState.SENT, OutboxState.FAILED}
    # the internal note about it is pending for the next push (the host accepts notes)
    note = rows[4]
    assert note.state == OutboxState.PENDING and "units" in note.command["data"]["body"]

    settings_file = tmp_path / "deskpilot.yaml"
    settings_file.write_text(json.dumps({
        "database_url": ctx.settings.database_url, "config_dir": str(ctx.settings.config_dir),
        "var_dir": str(tmp_path), "connections": [conn]}))
    monkeypatch.setenv("DESKPILOT_SETTINGS", str(settings_file))
    runner = CliRunner()
    listed = runner.invoke(main, ["outbox", "list"])
    assert listed.exit_code == 0, listed.output
    assert f"{failed[0].id}\th/4\tfailed" in listed.output and "HTTP 422" in listed.output
    # when it failed: the installation's zone (Europe/Kyiv by default), named (issue 22)
    assert re.search(r"\tfailed\t\d{4}-\d\d-\d\d \d\d:\d\d:\d\d EES?T\t", listed.output), \
        listed.output
    shown = runner.invoke(main, ["outbox", "show", str(failed[0].id)])
    assert json.loads(shown.output)["host_status"] == 422
    # the host is fixed: the resend delivers only the refused field
    responses.reset()
    seen.clear()
    routes(seen)
    for call in list(responses.registered()):
        call.callback = _handler(seen, lambda b: False, status=201)  # type: ignore[attr-defined]
    resent = runner.invoke(main, ["outbox", "resend", str(failed[0].id)])
    assert resent.exit_code == 0, resent.output
    assert '"units"' in json.dumps(seen) or '"cf_units"' in json.dumps(seen) \
        or '"custom_units"' in json.dumps(seen) or '"id": 77' in json.dumps(seen)
    assert "consultation" not in json.dumps(seen)
    assert {r.state for r in _rows(ctx)} == {OutboxState.SENT}
    empty = runner.invoke(main, ["outbox", "list"])
    assert empty.stdout == "" and "no refused writes" in empty.stderr  # a person sees why


@pytest.mark.parametrize("host", ["generic"], indirect=True)
def test_discard_needs_a_reason_and_keeps_it(host, tmp_path, monkeypatch) -> None:
    ctx, _routes, conn = host
    with ctx.db.session() as s:
        (rid,) = add_commands(s, "h", "4", [Command.set_fields(units=1)], "event:9", NOW)
        row = s.get(OutboxRow, rid)
        assert row is not None
        row.state, row.refused_status, row.last_error = OutboxState.FAILED, 400, "E: bad"
    settings_file = tmp_path / "deskpilot.yaml"
    settings_file.write_text(json.dumps({
        "database_url": ctx.settings.database_url, "config_dir": str(ctx.settings.config_dir),
        "var_dir": str(tmp_path), "connections": [conn]}))
    monkeypatch.setenv("DESKPILOT_SETTINGS", str(settings_file))
    runner = CliRunner()
    assert runner.invoke(main, ["outbox", "discard", str(rid)]).exit_code == 2
    blank = runner.invoke(main, ["outbox", "discard", str(rid), "--reason", " "])
    assert blank.exit_code == 2 and "needs a reason" in blank.output
    done = runner.invoke(main, ["outbox", "discard", str(rid), "--reason", "field removed"])
    assert done.exit_code == 0 and "discarded 1" in done.output
    empty = runner.invoke(main, ["outbox", "list"])
    assert empty.stdout == "" and "no refused writes" in empty.stderr  # a person sees why
    kept = runner.invoke(main, ["outbox", "list", "--discarded", "--json"])
    assert json.loads(kept.output)["discard_reason"] == "field removed"
    again = runner.invoke(main, ["outbox", "resend", str(rid)])
    assert again.exit_code == 2 and "discarded, not failed" in again.output


def test_the_dashboard_lists_the_writes_the_host_refused(sqlite_url, tmp_path) -> None:
    import plugin.tables  # noqa: F401 - every table on Base.metadata
    from plugin.app import create_app
    from plugin.context import build_context
    from plugin.settings import load_settings
    from tests.jobs_support import ROOT

    token = "dashboard-token-0123456789"
    settings = load_settings(env={}, overrides={
        "database_url": sqlite_url, "config_dir": str(ROOT / "config"),
        "var_dir": str(tmp_path), "admin_tokens": [token],
        "connections": [{"name": "h", "kind": "generic", "webhook_secrets": [SECRET]}]})
    ctx = build_context(settings)
    ctx.db.create_all()
    try:
        with ctx.db.session() as s:
            (rid,) = add_commands(s, "h", "4", [Command.set_fields(units=1)], "event:9", NOW,
                                  company_id="acme")
            row = s.get(OutboxRow, rid)
            assert row is not None
            row.state, row.refused_status, row.failed_at = OutboxState.FAILED, 422, NOW
            row.last_error, row.attempts = 'ClientError: PUT /x -> 422: {"units": "<bad>"}', 2
        client = create_app(context=ctx).test_client()
        client.get("/dashboard", query_string={"token": token})
        html = client.get("/dashboard").get_data(as_text=True)
        section = html[html.index("Writes the host refused"):]
        assert 'id="refused"' in section and "h/4" in section and "fields units" in section
        assert "HTTP 422" in section and "&lt;bad&gt;" in section  # the host's text, escaped
        other = client.get("/dashboard", query_string={"company": "globex"})
        assert "None: the hosts took every write." in other.get_data(as_text=True)
    finally:
        ctx.close()


@pytest.mark.parametrize("host", ["django_helpdesk"], indirect=True)
@responses.activate
def test_a_host_outage_after_the_message_retries_only_the_rest(host) -> None:
    # the client's message is its own call and was delivered; the field write met a 503:
    # the retry sends the field write alone, the message is never posted twice
    ctx, _routes, _conn = host
    responses.add(responses.GET, f"{BASE}/api/tickets/4/", json={"status": 1})
    responses.add(responses.POST, f"{BASE}/api/followups/", status=201, json={"id": 9})
    for _ in range(2):  # the in-call retry too
        responses.add(responses.PATCH, f"{BASE}/api/tickets/4/", status=503, body="down")
    responses.add(responses.PATCH, f"{BASE}/api/tickets/4/", json={"id": 4})
    with ctx.db.session() as s:
        add_commands(s, "h", "4", [
            Command.set_fields(task_type="consultation"),
            Command.add_note("Accepted.", "client"),
        ], "event:1", NOW, company_id="acme")
    assert push_ticket("h", "4", NOW).startswith("retry in")
    rows = _rows(ctx)
    assert [r.state for r in rows] == [OutboxState.PENDING, OutboxState.SENT]
    assert push_ticket("h", "4", rows[0].next_attempt_at).startswith("sent")
    posts = [c for c in responses.calls if c.request.method == "POST"]
    assert len(posts) == 1
    assert {r.state for r in _rows(ctx)} == {OutboxState.SENT}
