"""Issue 15 for deadlines: a host that refuses one deadline's field (Redmine's custom field for
``resolve_due`` answering 422, a wrong Zendesk/Freshdesk custom field id, a Zammad attribute
that does not exist) costs that field only. Through the outbox and ``push_ticket`` with the real
clients and ``responses``: the host's own due date and the other deadlines land, one refusal
naming the field is recorded, and ``deskpilot outbox resend`` delivers it once the admin has
fixed the mapping. A push the host accepts stays one request."""

from __future__ import annotations

import json
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
from tests.jobs_support import connections_context

NOW = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
BASE = "http://host.test"
ACCEPT, RESOLVE = "2026-12-07T10:00:00Z", "2026-12-08T15:00:00Z"
Seen = list[tuple[str, Any]]


def _handler(seen: Seen, refused: str, status: int) -> Callable[[Any], tuple[int, dict, str]]:
    """The host: a write naming ``refused`` (the misconfigured field) is a 422, the rest lands."""
    def handle(request: Any) -> tuple[int, dict, str]:
        body = json.loads(request.body) if request.body else None
        if refused in json.dumps(body):
            return 422, {}, json.dumps({"errors": ["Resolve by is not a valid field"]})
        seen.append((request.method, body))
        return status, {}, "" if status == 204 else json.dumps({"id": 1})
    return handle


def _routes(kind: str, seen: Seen, refused: str) -> None:
    if kind == "redmine":
        responses.add_callback(responses.PUT, f"{BASE}/issues/4.json",
                               callback=_handler(seen, refused, 204))
    elif kind == "zendesk":
        responses.add_callback(responses.PUT, f"{BASE}/api/v2/tickets/4",
                               callback=_handler(seen, refused, 200))
    elif kind == "freshdesk":
        responses.add_callback(responses.PUT, f"{BASE}/api/v2/tickets/4",
                               callback=_handler(seen, refused, 200))
        responses.add_callback(responses.POST, f"{BASE}/api/v2/tickets/4/notes",
                               callback=_handler(seen, refused, 201))
    else:
        responses.add_callback(responses.PUT, f"{BASE}/api/v1/tickets/4",
                               callback=_handler(seen, refused, 200))


# kind -> (credentials, field map with resolve_due's field wrong, the wrong key as the host's
# JSON shows it, the fixed key, what must arrive besides the refused field)
CASES: dict[str, tuple[dict[str, str], dict[str, Any], str, Any, list[Any]]] = {
    "redmine": ({"api_key": "k"}, {"accept_due": 70, "resolve_due": 78}, '"id": 78', 79,
                [{"due_date": "2026-12-08"}, {"custom_fields": [{"id": 70, "value": ACCEPT}]}]),
    "zendesk": ({"email": "a@b.c", "api_token": "t"},
                {"accept_due": 70, "resolve_due": 78, "resolve_due_date": 80}, '"id": 78', 79,
                [{"custom_fields": [{"id": 80, "value": "2026-12-08"}]},
                 {"custom_fields": [{"id": 70, "value": ACCEPT}]}]),
    "freshdesk": ({"api_key": "k"}, {"accept_due": "cf_accept_by", "resolve_due": "cf_resolv_by"},
                  "cf_resolv_by", "cf_resolve_by",
                  [{"due_by": RESOLVE, "fr_due_by": ACCEPT},
                   {"custom_fields": {"cf_accept_by": ACCEPT}}]),
    "zammad": ({"token": "t"}, {"accept_due": "accept_by", "resolve_due": "resolv_by"},
               '"resolv_by"', "resolve_by", [{"accept_by": ACCEPT}]),
}


@pytest.fixture
def host(request: Any, sqlite_url: str, tmp_path: Any) -> Any:
    kind = request.param
    creds, field_map, *_ = CASES[kind]
    conn = {"name": "h", "kind": kind, "base_url": BASE, "inline_push": False,
            "credentials": creds, "field_map": field_map}
    ctx = connections_context(sqlite_url, [conn], var_dir=str(tmp_path))
    yield kind, ctx, conn
    set_context(None)
    ctx.close()


def _rows(ctx: Any) -> list[OutboxRow]:
    with ctx.db.session() as s:
        return list(s.execute(select(OutboxRow).order_by(OutboxRow.id)).scalars())


def _contains(body: Any, part: Any) -> bool:
    """``part``'s keys are in ``body`` with these values (lists: every item found)."""
    if isinstance(part, dict):
        return isinstance(body, dict) and all(k in body and _contains(body[k], v)
                                              for k, v in part.items())
    if isinstance(part, list):
        return isinstance(body, list) and all(any(_contains(b, p) for b in body) for p in part)
    return bool(body == part)


def _unwrap(body: Any) -> Any:
    """The written fields: Redmine's ``issue``, Zendesk's ``ticket``, else the body."""
    for key in ("issue", "ticket"):
        if isinstance(body, dict) and key in body:
            return body[key]
    return body


@pytest.mark.parametrize("host", list(CASES), indirect=True)
@responses.activate
def test_a_refused_deadline_field_costs_only_that_field(host, tmp_path, monkeypatch) -> None:
    kind, ctx, conn = host
    _creds, _map, refused, fixed, delivered = CASES[kind]
    seen: Seen = []
    _routes(kind, seen, refused)
    with ctx.db.session() as s:
        add_commands(s, "h", "4", [
            Command.set_status("accepted"),
            Command.set_deadlines(accept_due=ACCEPT, resolve_due=RESOLVE),
            Command.add_note("Accepted, due 08.12 17:00 EET.", "client"),
        ], "event:1", NOW, company_id="acme")
    with pytest.raises(PushFailed, match="refused 1 of 3"):
        push_ticket("h", "4", NOW)
    written = [_unwrap(body) for _method, body in seen]
    for part in delivered:  # the host's due date and the accepted deadline landed
        assert any(_contains(w, part) for w in written), (part, written)
    assert "Accepted, due 08.12 17:00 EET." in json.dumps(seen)
    assert RESOLVE not in json.dumps([w for w in written if "due_by" not in json.dumps(w)])
    rows = _rows(ctx)
    assert [r.state for r in rows[:3]] == [OutboxState.SENT, OutboxState.FAILED,
                                           OutboxState.SENT]
    failed = rows[1]
    assert failed.command == {"type": "set_deadlines",
                              "data": {"resolve_due": RESOLVE, "only": ["resolve_due"]}}
    assert failed.refused_status == 422 and "not a valid field" in (failed.last_error or "")
    note = rows[3]  # the team is told, naming the field
    assert note.state == OutboxState.PENDING
    # in the team's language (the shipped team_language: uk)
    assert "\n- resolve_due (1 термін): HTTP 422: " in note.command["data"]["body"]

    settings_file = tmp_path / "deskpilot.yaml"

    def settings(field_map: dict[str, Any]) -> None:
        settings_file.write_text(json.dumps({
            "database_url": ctx.settings.database_url,
            "config_dir": str(ctx.settings.config_dir), "var_dir": str(tmp_path),
            "connections": [{**conn, "field_map": field_map}]}))
    settings(conn["field_map"])
    monkeypatch.setenv("DESKPILOT_SETTINGS", str(settings_file))
    runner = CliRunner()
    listed = runner.invoke(main, ["outbox", "list"])
    assert f"{failed.id}\th/4\tfailed" in listed.output and "deadline resolve_due" in \
        listed.output, listed.output
    # resent before the fix: refused again, the same record (nothing else is written again)
    seen.clear()
    again = runner.invoke(main, ["outbox", "resend", str(failed.id)])
    assert "failed again" in again.output, again.output
    assert RESOLVE not in json.dumps(seen) and ACCEPT not in json.dumps(seen)
    assert _rows(ctx)[1].command == failed.command and _rows(ctx)[1].state == OutboxState.FAILED
    # the admin fixes the field's mapping; the resend writes that field and nothing else
    settings({**conn["field_map"], "resolve_due": fixed})
    seen.clear()
    resent = runner.invoke(main, ["outbox", "resend", str(failed.id)])
    assert resent.exit_code == 0, resent.output
    writes = [_unwrap(b) for _m, b in seen if "deskpilot outbox resend" not in json.dumps(b)]
    assert len(writes) == 1, writes
    assert str(fixed) in json.dumps(writes[0]) and RESOLVE in json.dumps(writes[0])
    assert ACCEPT not in json.dumps(writes[0]) and "2026-12-08\"" not in json.dumps(writes[0])
    assert {r.state for r in _rows(ctx)} == {OutboxState.SENT}


@pytest.mark.parametrize("host", ["redmine", "freshdesk"], indirect=True)
@responses.activate
def test_deadlines_the_host_accepts_stay_one_request(host) -> None:
    kind, ctx, conn = host
    seen: Seen = []
    _routes(kind, seen, refused="nothing is refused")
    with ctx.db.session() as s:
        add_commands(s, "h", "4", [
            Command.set_status("accepted"),
            Command.set_deadlines(accept_due=ACCEPT, resolve_due=RESOLVE),
        ], "event:1", NOW, company_id="acme")
    assert push_ticket("h", "4", NOW) == "sent (1 call(s))"
    ((_method, body),) = seen
    text = json.dumps(body)
    assert ACCEPT in text and RESOLVE in text
    assert ("2026-12-08" in text) and ("due_date" in text or "due_by" in text)
    assert {r.state for r in _rows(ctx)} == {OutboxState.SENT}
