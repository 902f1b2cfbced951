"""Loop guard by author, escaping per host, CSV cells, exact money and counts (issue 16,
findings 5, 9 and 10)."""

from __future__ import annotations

import copy
import csv
import io
import json
import random
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import responses
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient

import plugin.tables  # noqa: F401  (every table on the metadata)
from plugin.cli import main
from plugin.context import Context
from plugin.csv_cells import SafeWriter, cell
from plugin.hosts import make_client
from plugin.ledger.admin_api import credits_api
from plugin.outbox.commands import Command
from plugin.settings import Connection, Secret, load_settings
from plugin.storage import Database
from tests.integration.test_receiver_security import HOSTS, send, stack  # noqa: F401
from webhooks.hosts import freshdesk

ROOT = Path(__file__).resolve().parents[2]
FIX = ROOT / "tests" / "fixtures" / "freshdesk"
XSS = '<img src=x onerror="alert(1)"> & Co'
TOKEN = "admin-token-0123456789abcdef"


# -- loop guard by author -----------------------------------------------------------------------
def _fd_body(name: str) -> dict:
    return json.loads((FIX / f"{name}.json").read_text())


def test_a_client_reply_starting_with_the_marker_is_not_ignored(stack) -> None:  # noqa: F811
    client, _ = stack
    host = next(h for h in HOSTS if h.kind == "freshdesk")
    data = _fd_body("comment_added")
    data["latest_public_comment"] = "Olena Koval : [Deskpilot] please do not ignore me"
    resp = send(client, host, data)
    assert resp.status_code == 202 and resp.get_json()["status"] == "queued"
    conn = Connection(name="fd", kind="freshdesk", options={"timezone": "Europe/Kyiv"})
    (event,) = freshdesk.parse(json.dumps(data).encode(), {}, conn)
    assert event.comment is not None and event.comment.author.kind == "client"
    assert not event.own_write


def test_our_own_note_is_still_recognised_and_the_agent_name_can_be_required() -> None:
    conn = Connection(name="fd", kind="freshdesk", options={"timezone": "Europe/Kyiv"})
    raw = json.dumps(_fd_body("own_user_echo")).encode()
    assert freshdesk.parse(raw, {}, conn)[0].own_write
    named = Connection(name="fd", kind="freshdesk",
                       options={"timezone": "Europe/Kyiv", "plugin_agent_name": "Deskpilot Bot"})
    assert freshdesk.parse(raw, {}, named)[0].own_write
    other = _fd_body("own_user_echo")
    other["latest_private_comment"] = "Ihor : [Deskpilot] Deadline: 2026-11-24 17:00"
    assert not freshdesk.parse(json.dumps(other).encode(), {}, named)[0].own_write


# -- escaping per host --------------------------------------------------------------------------
BASE = "https://desk.example"


def _client(kind: str):
    creds = {"api_key": Secret("k"), "token": Secret("t"), "email": Secret("e@x.example"),
             "api_token": Secret("at")}
    return make_client(Connection(name=kind, kind=kind, base_url=BASE, credentials=creds),
                       sleep=lambda s: None, rng=random.Random(0), max_attempts=1)


@responses.activate
def test_freshdesk_notes_carry_user_text_as_text_not_markup() -> None:
    responses.post(f"{BASE}/api/v2/tickets/7/notes", json={"id": 1})
    with _client("freshdesk") as client:
        client.push("7", [Command.add_note(f"Subject: {XSS}\nsecond line")],
                    idempotency_key="k")
    sent = json.loads(responses.calls[0].request.body)["body"]
    assert "<img" not in sent and "&lt;img src=x onerror=&quot;alert(1)&quot;&gt; &amp; Co" in sent
    assert sent.endswith("<br>second line")


@responses.activate
def test_plain_text_hosts_get_the_text_unchanged() -> None:
    responses.post(f"{BASE}/api/v1/ticket_articles", json={"id": 1})
    responses.put(f"{BASE}/api/v1/tickets/7", json={"id": 7})
    with _client("zammad") as client:
        client.push("7", [Command.add_note(f"Subject: {XSS}")], idempotency_key="k")
    sent = json.loads(responses.calls[0].request.body)["article"]  # the first note rides along
    assert sent["content_type"] == "text/plain" and sent["body"] == f"Subject: {XSS}"


# -- CSV cells ----------------------------------------------------------------------------------
@pytest.mark.parametrize("value", ['=HYPERLINK("http://evil.example","x")', "+1+2", "-2+3",
                                   "@SUM(A1)", "\t=1", "\r=1", "-1+1", "=cmd", "@x", "+1",
                                   "-1e5", "-350.", "-.5", "-350.00\n", "-3 ", "- 3", "-",
                                   "-١٢", "-350,00", "-1-1", "-0x1F"])
def test_csv_text_cells_that_could_be_formulas_are_neutralised(value: str) -> None:
    assert cell(value) == "'" + value
    assert cell(-3) == -3 and cell("acme") == "acme"


@pytest.mark.parametrize("value", ["-350.00", "-1", "-0", "-0.5", "-1234567890.125", "350.00"])
def test_csv_text_cells_that_are_plain_numbers_stay_numbers(value: str) -> None:
    # an optional minus, ASCII digits, an optional decimal part: no formula, so a spreadsheet
    # reads the statement's money amounts as numbers (not the text "'-350.00")
    assert cell(value) == value
    buf = io.StringIO()
    SafeWriter(buf, lineterminator="\n").writerow([value, "-1+1"])
    assert buf.getvalue() == f"{value},'-1+1\n"


@pytest.fixture
def env(sqlite_url: str, tmp_path) -> dict[str, str]:
    Database(sqlite_url).create_all()
    return {"DESKPILOT_DATABASE_URL": sqlite_url, "DESKPILOT_CONFIG_DIR": "config",
            "DESKPILOT_VAR_DIR": str(tmp_path / "var"), "DESKPILOT_ADMIN_TOKEN": TOKEN}


def test_a_statement_csv_neutralises_a_payload_sourced_id(env: dict[str, str]) -> None:
    from plugin import ledger
    from plugin.context import build_context
    from plugin.storage.models import Company

    ctx = build_context(load_settings(env))
    company = '=hyperlink("http://evil.example","x")'  # canonical (case-folded) id
    try:
        at = datetime(2026, 11, 20, tzinfo=UTC)
        with ctx.db.session() as s:
            s.add(Company(id=company, name="x"))
            s.flush()
            from decimal import Decimal

            ledger.purchase(s, company, 10, Decimal("350"), "UAH", at)
            ledger.reserve(s, company, "=cmd|' /C calc'!A0", 0, 1, at)  # a ticket key
    finally:
        ctx.close()
    result = CliRunner().invoke(main, ["credits", "statement", company, "--format", "csv"],
                                env=env)
    assert result.exit_code == 0, result.output
    rows = list(csv.reader(io.StringIO(result.output)))
    for row in rows[1:]:
        for value in row:
            assert not value.startswith(("=", "+", "@")), row
    assert "'=cmd|' /C calc'!A0" in [v for row in rows[1:] for v in row]


def test_a_report_csv_neutralises_a_company_group() -> None:
    from plugin.reports.kpis import Kpi
    from plugin.reports.report import Report, render_csv

    at = datetime(2026, 11, 23, tzinfo=UTC)
    kpi = {"on_time": Kpi("on_time", 0.5, 0.9, False, 2)}
    report = Report(start=at, end=at, generated_at=at, filters=None,  # type: ignore[arg-type]
                    working_days=1, kpis=kpi,
                    by={"company": {'=HYPERLINK("http://evil.example","x")': kpi}},
                    breaches={}, profitability={}, credits=None)
    rows = list(csv.reader(io.StringIO(render_csv(report))))
    assert rows[2][:2] == ["company", "'=HYPERLINK(\"http://evil.example\",\"x\")"]


# -- exact money and counts ---------------------------------------------------------------------
@pytest.fixture
def api(sqlite_url: str, tmp_path) -> Iterator[FlaskClient]:
    from plugin.context import build_context

    settings = load_settings({}, {"database_url": sqlite_url, "var_dir": str(tmp_path / "var"),
                                  "config_dir": str(ROOT / "config"), "admin_tokens": [TOKEN]})
    ctx: Context = build_context(settings)
    ctx.db.create_all()
    app = Flask("t")
    app.extensions["deskpilot"] = ctx
    app.register_blueprint(credits_api)
    yield app.test_client()
    ctx.close()


AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.mark.parametrize("body,field", [
    ({"tasks": 10.9}, "tasks"), ({"tasks": "10.5"}, "tasks"),
    ({"tasks": 10, "price_per_task": "0.001"}, "price_per_task"),
    ({"tasks": 10, "price_per_task": "35.005", "currency": "EUR"}, "price_per_task"),
    ({"tasks": 10, "price_per_task": "350.5", "currency": "JPY"}, "price_per_task"),
])
def test_fractions_and_extra_decimals_are_refused_not_cut(api: FlaskClient, body: dict,
                                                          field: str) -> None:
    resp = api.post("/api/credits/acme/purchases", json={**body, "key": "k-" + field},
                    headers=AUTH)
    assert resp.status_code == 422, resp.get_json()
    assert field in json.dumps(resp.get_json()["errors"])


def test_whole_numbers_and_exact_prices_are_accepted(api: FlaskClient) -> None:
    ok = api.post("/api/credits/acme/purchases",
                  json={"tasks": 10.0, "price_per_task": "35.50", "currency": "EUR",
                        "key": "ok-1"}, headers=AUTH)
    assert ok.status_code == 201, ok.get_json()
    assert ok.get_json()["lot"]["tasks"] == 10
    adj = api.post("/api/credits/acme/adjustments", json={"units": 1.5, "reason": "r",
                                                          "author": "a"},
                   headers={**AUTH, "Idempotency-Key": "adj-1"})
    assert adj.status_code == 422


def test_units_1_9_is_refused_at_the_receiver(stack) -> None:  # noqa: F811
    client, _ = stack
    host = next(h for h in HOSTS if h.kind == "freshdesk")
    data = copy.deepcopy(_fd_body("ticket_created"))
    data["ticket"]["custom_fields"]["units"] = "1.9"
    resp = send(client, host, data)
    assert resp.status_code == 422
    assert "ticket.custom_fields.units" in resp.get_json()["errors"]
