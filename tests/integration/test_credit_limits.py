"""``limits.credits`` (issue 16): what one purchase or adjustment may move is configuration.

The CLI (``deskpilot credits buy|adjust``) and the admin API read the same limits from the
service rules; a request over one is refused naming the limit; the shipped defaults are the
schema's; an invalid limit fails ``rules check`` at ``file:line:col``.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient

import plugin.tables  # noqa: F401  (every table on the metadata)
from plugin.cli import main
from plugin.context import Context
from plugin.ledger.admin_api import credits_api
from plugin.openapi import openapi_api
from plugin.settings import load_settings
from plugin.storage import Database
from rules.config.credit_limits import CreditLimits, read_credit_limits

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "admin-token-0123456789abcdef"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
LOWER = """
  credits:
    max_tasks_per_purchase: 50
    max_price: 500
    max_adjust: 20
"""


def _config(tmp_path: Path, credits: str | None) -> Path:
    config = tmp_path / "config"
    shutil.copytree(ROOT / "config", config, ignore=shutil.ignore_patterns("tests"))
    if credits is not None:
        service = config / "rules" / "00-service.yaml"
        text = service.read_text(encoding="utf-8")
        anchor = "  daily_cap:\n"
        assert anchor in text
        service.write_text(text.replace(anchor, credits.lstrip("\n") + anchor), encoding="utf-8")
    return config


def _env(tmp_path: Path, sqlite_url: str, config: Path) -> dict[str, str]:
    Database(sqlite_url).create_all()
    return {
        "DESKPILOT_DATABASE_URL": sqlite_url,
        "DESKPILOT_CONFIG_DIR": str(config),
        "DESKPILOT_VAR_DIR": str(tmp_path / "var"),
        "DESKPILOT_ADMIN_TOKEN": TOKEN,
    }


def _cli(env: dict[str, str], *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["credits", *args], env=env)
    return result.exit_code, result.output


@pytest.fixture
def lowered(tmp_path: Path, sqlite_url: str) -> dict[str, str]:
    return _env(tmp_path, sqlite_url, _config(tmp_path, LOWER))


def _client(env: dict[str, str]) -> Iterator[FlaskClient]:
    settings = load_settings(env=env)
    ctx = Context(settings=settings, db=Database(settings.database_url), redis_url=None)
    app = Flask("test")
    app.extensions["deskpilot"] = ctx
    app.register_blueprint(credits_api)
    app.register_blueprint(openapi_api)
    yield app.test_client()
    ctx.db.dispose()


@pytest.fixture
def lowered_api(lowered: dict[str, str]) -> Iterator[FlaskClient]:
    yield from _client(lowered)


def test_the_cli_refuses_a_purchase_above_the_configured_limit(lowered: dict[str, str]) -> None:
    code, out = _cli(lowered, "buy", "acme", "--tasks", "51")
    assert code == 2
    assert "--tasks: at most 50 tasks per purchase (limits.credits.max_tasks_per_purchase)" in out
    code, out = _cli(lowered, "buy", "acme", "--tasks", "20", "--price", "500.01")
    assert code == 2 and "--price: at most 500 per task (limits.credits.max_price)" in out
    code, out = _cli(lowered, "adjust", "acme", "--units", "-21", "--reason", "typo")
    assert code == 2
    assert "--units: between -20 and 20 units per adjustment (limits.credits.max_adjust)" in out
    code, out = _cli(lowered, "balance", "acme", "--json")
    assert code == 0 and '"balance": 0' in out  # nothing was bought or taken
    # at the limits: accepted
    code, out = _cli(lowered, "buy", "acme", "--tasks", "50", "--price", "500")
    assert code == 0 and "50 tasks x 500.00 UAH" in out
    code, out = _cli(lowered, "adjust", "acme", "--units", "-20", "--reason", "typo")
    assert code == 0 and "-20 (typo)" in out


def test_the_admin_api_refuses_a_purchase_above_the_configured_limit(
    lowered_api: FlaskClient,
) -> None:
    over = lowered_api.post("/api/credits/acme/purchases",
                            json={"tasks": 51, "price_per_task": "600", "key": "k1"},
                            headers=AUTH)
    assert over.status_code == 422 and over.json["code"] == "invalid-payload"
    assert over.json["errors"]["json"] == {
        "tasks": ["at most 50 tasks per purchase (limits.credits.max_tasks_per_purchase)"],
        "price_per_task": ["at most 500 per task (limits.credits.max_price)"],
    }
    adj = lowered_api.post("/api/credits/acme/adjustments",
                           json={"units": 21, "reason": "goodwill", "key": "a1"}, headers=AUTH)
    assert adj.status_code == 422
    assert adj.json["errors"]["json"] == {
        "units": ["between -20 and 20 units per adjustment (limits.credits.max_adjust)"]}
    assert lowered_api.get("/api/credits/acme", headers=AUTH).json["has_account"] is False
    ok = lowered_api.post("/api/credits/acme/purchases", json={"tasks": 50, "key": "k2"},
                          headers=AUTH)
    assert ok.status_code == 201 and ok.json["lot"]["tasks"] == 50
    # the served document states the limits in force
    schemas = lowered_api.get("/api/openapi.json").json["components"]["schemas"]
    bought, adjusted = (schemas[n]["properties"] for n in ("PurchaseRequest", "AdjustmentRequest"))
    assert (bought["tasks"]["maximum"], bought["price_per_task"]["maximum"]) == (50, 500)
    assert (adjusted["units"]["minimum"], adjusted["units"]["maximum"]) == (-20, 20)


def test_the_defaults_are_unchanged(tmp_path: Path, sqlite_url: str) -> None:
    shipped = read_credit_limits(ROOT / "config")
    assert shipped == CreditLimits.defaults() == CreditLimits(
        1_000_000, Decimal("999999999999.99"), 100_000)
    env = _env(tmp_path, sqlite_url, _config(tmp_path, None))
    for client in _client(env):
        over = client.post("/api/credits/acme/purchases", json={"tasks": 1_000_001, "key": "k"},
                           headers=AUTH)
        assert over.status_code == 422
        assert over.json["errors"]["json"]["tasks"] == [
            "at most 1000000 tasks per purchase (limits.credits.max_tasks_per_purchase)"]
        adj = client.post("/api/credits/acme/adjustments",
                          json={"units": 100_001, "reason": "r", "key": "a"}, headers=AUTH)
        assert adj.status_code == 422 and "max_adjust" in adj.json["errors"]["json"]["units"][0]
        ok = client.post("/api/credits/acme/adjustments",
                         json={"units": 100_000, "reason": "r", "key": "b"}, headers=AUTH)
        assert ok.status_code == 201
        doc = client.get("/api/openapi.json").json["components"]["schemas"]
        assert doc["PurchaseRequest"]["properties"]["tasks"]["maximum"] == 1_000_000


BAD = """
  credits:
    max_tasks_per_purchase: 0
    max_price: lots
"""


def test_an_invalid_limit_fails_rules_check_at_file_line_col(
    tmp_path: Path, sqlite_url: str,
) -> None:
    config = _config(tmp_path, BAD)
    service = config / "rules" / "00-service.yaml"
    lines = service.read_text(encoding="utf-8").splitlines()
    row = {key: next(i for i, line in enumerate(lines, 1) if line.strip().startswith(key))
           for key in ("max_tasks_per_purchase:", "max_price:")}
    result = CliRunner().invoke(main, ["rules", "check", str(config / "rules")])
    assert result.exit_code != 0
    for key, line in row.items():
        name = key.rstrip(":")
        assert re.search(rf"00-service\.yaml:{line}:\d+: limits\.credits\.{name}: ",
                         result.output), result.output
    # the CLI and the admin API refuse to guess a money limit from a broken file
    env = _env(tmp_path, sqlite_url, config)
    code, out = _cli(env, "buy", "acme", "--tasks", "10")
    assert code == 2 and f"00-service.yaml:{row['max_price:']}:" in out
    for client in _client(env):
        answer = client.post("/api/credits/acme/purchases", json={"tasks": 10, "key": "k"},
                             headers=AUTH)
        assert answer.status_code == 409 and answer.json["code"] == "rules-invalid"
        assert "limits.credits.max_tasks_per_purchase" in answer.json["message"]
