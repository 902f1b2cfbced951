"""``deskpilot credits …`` and the ``/api/credits`` admin API with its OpenAPI document."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient

import plugin.tables  # noqa: F401  (every table on the metadata)
from plugin import ledger
from plugin.cli import main
from plugin.context import Context
from plugin.ledger.admin_api import credits_api
from plugin.ledger.hooks import LISTENERS
from plugin.openapi import build_spec, openapi_api
from plugin.settings import load_settings
from plugin.storage import Database

TOKEN = "admin-token-0123456789abcdef"


@pytest.fixture
def env(sqlite_url: str, tmp_path) -> dict[str, str]:
    Database(sqlite_url).create_all()
    return {
        "DESKPILOT_DATABASE_URL": sqlite_url,
        "DESKPILOT_CONFIG_DIR": "config",
        "DESKPILOT_VAR_DIR": str(tmp_path / "var"),
        "DESKPILOT_ADMIN_TOKEN": TOKEN,
    }


@pytest.fixture
def pushed() -> Iterator[list[str]]:
    seen: list[str] = []
    LISTENERS.append(seen.append)
    yield seen
    LISTENERS.remove(seen.append)


def cli(env: dict[str, str], *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["credits", *args], env=env)
    return result.exit_code, result.output


def test_cli_buy_balance_adjust_statement(env: dict[str, str], pushed: list[str]) -> None:
    code, out = cli(env, "buy", "acme", "--tasks", "9")
    assert code == 1 and "at least 10" in out
    now = datetime.now(UTC)
    bought = (now - timedelta(days=10)).isoformat()
    code, out = cli(env, "buy", "acme", "--tasks", "12", "--at", bought)
    expires = (now + timedelta(days=80)).date().isoformat()
    assert code == 0 and "12 tasks x 350.00 UAH" in out and expires in out
    assert pushed == ["acme"]
    code, out = cli(env, "buy", "acme", "--tasks", "10", "--at", "2026-01-10T10:00:00")
    assert code == 2 and "no UTC offset" in out
    code, out = cli(
        env, "adjust", "acme", "--units", "-2", "--reason", "double-counted", "--author", "olena"
    )
    assert code == 0 and "-2 (double-counted)" in out
    code, out = cli(env, "balance", "acme", "--at", (now - timedelta(days=5)).isoformat(), "--json")
    assert code == 0 and json.loads(out)["available"] == 12  # the adjustment came later
    code, out = cli(env, "balance", "acme", "--at", (now + timedelta(days=81)).isoformat())
    assert code == 0 and "balance 0" in out and "expired" in out
    code, out = cli(env, "statement", "acme", "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert code == 0 and [r["kind"] for r in rows][:2] == ["purchase", "adjust"]
    assert rows[1]["note"] == "double-counted (olena)"
    # money amounts are numbers a spreadsheet reads as such: a negative one is no formula
    # (it used to come out as the text "'-700.00")
    assert [(r["amount"], r["currency"]) for r in rows[:2]] == [("4200.00", "UAH"),
                                                                 ("-700.00", "UAH")]
    assert "'-" not in out
    code, out = cli(env, "statement", "acme", "--format", "json")
    doc = json.loads(out)
    assert doc["closing_balance"] == doc["opening_balance"] + sum(
        e["units"] for e in doc["entries"]
    )
    code, out = cli(env, "statement", "acme")
    assert code == 0 and "Closing balance" in out and "lot 1:+12" in out


@pytest.fixture
def client(env: dict[str, str]) -> Iterator[FlaskClient]:
    settings = load_settings(env=env)
    ctx = Context(settings=settings, db=Database(settings.database_url), redis_url=None)
    app = Flask("test")
    app.extensions["deskpilot"] = ctx
    app.register_blueprint(credits_api)
    app.register_blueprint(openapi_api)
    yield app.test_client()
    ctx.db.dispose()


AUTH = {"Authorization": f"Bearer {TOKEN}"}


def test_api_needs_the_admin_token(client: FlaskClient) -> None:
    assert client.get("/api/credits/acme").status_code == 401
    bad = client.get("/api/credits/acme", headers={"Authorization": "Bearer nope"})
    assert bad.status_code == 403 and bad.json["code"] == "forbidden"


def test_api_purchase_balance_statement(client: FlaskClient, pushed: list[str]) -> None:
    at = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    body = {"tasks": 10, "at": at, "key": "order-77"}
    first = client.post("/api/credits/acme/purchases", json=body, headers=AUTH)
    again = client.post("/api/credits/acme/purchases", json=body, headers=AUTH)
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json["duplicate"] and again.json["lot"]["lot_id"] == first.json["lot"]["lot_id"]
    assert pushed == ["acme"]
    few = client.post("/api/credits/acme/purchases", json={"tasks": 3, "key": "k3"}, headers=AUTH)
    assert few.status_code == 422 and "at least 10" in few.json["message"]
    junk = client.post("/api/credits/acme/purchases", json={"tasks": "x", "y": 1}, headers=AUTH)
    assert junk.status_code == 422 and set(junk.json["errors"]["json"]) == {"tasks", "y"}
    adj = client.post(
        "/api/credits/acme/adjustments",
        json={"units": -9, "reason": "migration", "author": "ihor"},
        headers={**AUTH, "Idempotency-Key": "fix-1"},
    )
    assert adj.status_code == 201 and adj.json["entry"]["units"] == -9
    bal = client.get("/api/credits/acme", headers=AUTH).json
    assert (bal["balance"], bal["available"], bal["lots"][0]["remaining"]) == (1, 1, 1)
    notes = client.get("/api/credits/acme/notices", headers=AUTH).json
    assert [n["kind"] for n in notes] == ["low_balance"]
    st = client.get("/api/credits/acme/statement", headers=AUTH).json
    assert [e["kind"] for e in st["entries"]] == ["purchase", "adjust"]
    assert [e["balance"] for e in st["entries"]] == [10, 1]


def test_api_posts_need_an_idempotency_key(client: FlaskClient, pushed: list[str]) -> None:
    """A retried POST without a key would buy twice: it is refused, and nothing is bought."""
    for path, body in (
        ("purchases", {"tasks": 10}),
        ("adjustments", {"units": 2, "reason": "goodwill"}),
    ):
        url = f"/api/credits/acme/{path}"
        bare = client.post(url, json=body, headers=AUTH)
        blank = client.post(url, json=body, headers={**AUTH, "Idempotency-Key": "  "})
        for answer in (bare, blank):
            assert answer.status_code == 422, answer.json
            assert (
                answer.json["code"] == "invalid-payload" and "key" in answer.json["errors"]["json"]
            )
        by_header = [
            client.post(url, json=body, headers={**AUTH, "Idempotency-Key": f"{path}-1"})
            for _ in range(2)
        ]
        assert [r.status_code for r in by_header] == [201, 200]
    bal = client.get("/api/credits/acme", headers=AUTH).json
    assert bal["balance"] == 12 and pushed == ["acme", "acme"]
    # the same key from another company is another purchase
    other = client.post(
        "/api/credits/beta/purchases",
        json={"tasks": 10},
        headers={**AUTH, "Idempotency-Key": "purchases-1"},
    )
    assert other.status_code == 201 and other.json["duplicate"] is False
    doc = client.get("/api/openapi.json").json
    params = doc["paths"]["/api/credits/{company_id}/purchases"]["post"]["parameters"]
    assert any(p["name"] == "Idempotency-Key" and "422" in p["description"] for p in params)


def test_openapi_document_lists_the_credits_paths(client: FlaskClient) -> None:
    doc = client.get("/api/openapi.json").json
    assert doc["openapi"] == "3.0.3"
    assert {
        "/api/credits/{company_id}",
        "/api/credits/{company_id}/purchases",
        "/api/credits/{company_id}/statement",
    } <= set(doc["paths"])
    post = doc["paths"]["/api/credits/{company_id}/purchases"]["post"]
    ref = post["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    assert ref == "#/components/schemas/PurchaseRequest"
    props = doc["components"]["schemas"]["PurchaseRequest"]["properties"]
    assert (
        props["tasks"]["type"] == "integer"
        and "tasks" in (doc["components"]["schemas"]["PurchaseRequest"]["required"])
    )
    assert build_spec().to_dict()["paths"].keys() == doc["paths"].keys()


def test_no_account_is_reported(env: dict[str, str]) -> None:
    code, out = cli(env, "balance", "ghost")
    assert code == 0 and "no account" in out
    db = Database(env["DESKPILOT_DATABASE_URL"])
    with db.session() as s:
        assert ledger.balance(s, "ghost").has_account is False
    db.dispose()
