"""Reconciliation stores polled changes with the real webhooks' keys, so nothing doubles."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import responses
from sqlalchemy import select

from plugin.context import Context, build_context
from plugin.reconcile.poll import import_open, reconcile
from plugin.settings import load_settings
from plugin.storage import Event
from plugin.storage.migrate import upgrade
from webhooks.hosts import ADAPTERS
from webhooks.store import store_and_enqueue

BASE = "http://127.0.0.1:8000/helpdesk"
FIXTURES = Path(__file__).parents[1] / "fixtures" / "django_helpdesk"
NOW = datetime(2026, 11, 22, 14, 0, tzinfo=UTC)


@pytest.fixture
def ctx(sqlite_url: str, redis_url: str, tmp_path: Path) -> Iterator[Context]:
    upgrade(sqlite_url)
    settings = load_settings({"DESKPILOT_CONFIG_DIR": str(tmp_path)}, {
        "database_url": sqlite_url, "redis_url": redis_url, "var_dir": str(tmp_path / "var"),
        "connections": [{"name": "dh", "kind": "django_helpdesk", "base_url": BASE,
                         "credentials": {"token": "dhkey"}, "plugin_user_id": 9,
                         "options": {"queue_slugs": {"1": "support"}}}]})
    context = build_context(settings)
    yield context
    context.close()


def delivered() -> dict[str, Any]:
    return json.loads((FIXTURES / "comment_added.json").read_text())


def polled_ticket() -> dict[str, Any]:
    """The same ticket as the API shows it a little later: one more followup (id 3)."""
    t = copy.deepcopy(delivered()["ticket"])
    t["followup_set"].append({**t["followup_set"][1], "id": 3, "user": 2,
                              "comment": "Found it", "date": "2026-11-22T15:40:00+02:00"})
    return t


def events(ctx: Context) -> list[tuple[str, str]]:
    with ctx.db.session() as s:
        return sorted((r.delivery_key, r.state) for r in s.execute(select(Event)).scalars())


@responses.activate
def test_poll_stores_only_what_the_webhooks_missed(ctx: Context) -> None:
    # the real webhook for followup 2 arrived; the one for followup 3 was lost
    body = json.dumps(delivered()).encode()
    conn = ctx.settings.connections[0]
    parsed = ADAPTERS["django_helpdesk"].parse(body, {}, conn)
    store_and_enqueue(ctx, "dh", parsed[0].delivery_key, body, {}, parsed)
    responses.get(f"{BASE}/api/tickets/", json={"count": 1, "next": None,
                                                "results": [polled_ticket()]})
    since = datetime(2026, 11, 22, 13, 25, 50, tzinfo=UTC)  # after followup 1
    report = reconcile(ctx, "dh", since, NOW)
    assert report.tickets == 1 and not report.errors
    assert report.outcomes == {"conflict": 1, "queued": 1}
    assert [k for k, _ in events(ctx)] == ["ticket-1-followup-2", "ticket-1-followup-3"]
    again = reconcile(ctx, "dh", since, NOW)
    assert again.outcomes == {"conflict": 1, "duplicate": 1}
    assert len(events(ctx)) == 2
    assert responses.calls[0].request.headers["Authorization"] == "Token dhkey"


@responses.activate
def test_import_stores_each_open_ticket_as_its_creation(ctx: Context) -> None:
    responses.get(f"{BASE}/api/tickets/", json={"count": 1, "next": None,
                                                "results": [polled_ticket()]})
    report = import_open(ctx, "dh", NOW)
    assert report.outcomes == {"queued": 1}
    assert events(ctx) == [("ticket-1-new", "queued")]
    stored = import_open(ctx, "dh", NOW)
    assert stored.outcomes == {"duplicate": 1}


def test_unknown_connection_is_an_error(ctx: Context) -> None:
    with pytest.raises(ValueError, match="no connection"):
        reconcile(ctx, "nope", None, NOW)


def test_cli_refuses_an_unknown_connection(tmp_path: Path, monkeypatch) -> None:
    from click.testing import CliRunner

    from plugin.cli import main

    monkeypatch.setenv("DESKPILOT_CONFIG_DIR", str(tmp_path))
    monkeypatch.setenv("DESKPILOT_DATABASE_URL", f"sqlite:///{tmp_path / 'x.sqlite3'}")
    monkeypatch.setenv("DESKPILOT_VAR_DIR", str(tmp_path / "var"))
    result = CliRunner().invoke(main, ["hosts", "reconcile", "nope"])
    assert result.exit_code == 2 and "no connection named 'nope'" in result.output


def test_cli_since_help_states_the_window_reconcile_uses() -> None:
    from click.testing import CliRunner

    from plugin.cli import main
    from plugin.reconcile.items import SETTLE_MINUTES

    result = CliRunner().invoke(main, ["hosts", "reconcile", "--help"], terminal_width=400)
    text = " ".join(result.output.split())
    assert result.exit_code == 0 and "twice the connection's reconcile_minutes" in text
    assert "options.reconcile_settle_minutes" in text
    assert "Zammad {zammad}, Zendesk {zendesk}, Freshdesk {freshdesk} minutes".format(
        **SETTLE_MINUTES) in text


@responses.activate
def test_poll_refuses_what_the_receiver_refuses(ctx: Context) -> None:
    # a ticket opened in year 9999 (issue 16): the receiver answers 422, the poll stores
    # nothing either and reports why
    t = polled_ticket()
    t["followup_set"][0]["date"] = "9999-12-30T15:40:00+02:00"
    responses.get(f"{BASE}/api/tickets/", json={"count": 1, "next": None, "results": [t]})
    since = datetime(2026, 11, 22, 13, 25, 50, tzinfo=UTC)
    report = reconcile(ctx, "dh", since, NOW)
    assert events(ctx) == []
    assert any("ticket.created_at: must lie in the years 2000-2100" in e for e in report.errors), \
        report.errors
