"""Company ids are case-insensitive everywhere: ``ACME`` and ``acme`` are one company.

The canonical id is ``rules.event.company_key`` (stripped, casefolded), applied where an id
enters: the receiver's events and ``company_from.map`` lookups, the CLI's company argument,
the admin API's ``<company_id>``, report filters and the rules' routing keys.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient

import plugin.tables  # noqa: F401  (every table on the metadata)
from plugin.cli import main
from plugin.context import Context
from plugin.ledger.admin_api import credits_api
from plugin.settings import CompanyFrom, load_settings
from plugin.storage import Database
from rules.event import Company
from webhooks.base import company_for
from webhooks.hosts.generic import event_from_dict

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "admin-token-0123456789abcdef"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def env(sqlite_url: str, tmp_path: Path) -> dict[str, str]:
    Database(sqlite_url).create_all()
    return {
        "DESKPILOT_DATABASE_URL": sqlite_url,
        "DESKPILOT_CONFIG_DIR": str(ROOT / "config"),
        "DESKPILOT_VAR_DIR": str(tmp_path / "var"),
        "DESKPILOT_ADMIN_TOKEN": TOKEN,
    }


@pytest.fixture
def client(env: dict[str, str]) -> Iterator[FlaskClient]:
    settings = load_settings(env)
    ctx = Context(settings=settings, db=Database(settings.database_url), redis_url=None)
    app = Flask("test")
    app.extensions["deskpilot"] = ctx
    app.register_blueprint(credits_api)
    yield app.test_client()
    ctx.db.dispose()


def test_receiver_ids_and_mappings_fold_case() -> None:
    assert Company("ACME ").id == "acme"
    rule = CompanyFrom(source="organization", map={"ACME Ltd": "Acme"})
    assert company_for(rule, organization=("17", "acme ltd")) == Company("acme", "acme ltd")
    assert company_for(CompanyFrom(source="organization"), organization=("Globex", None)).id == (
        "globex")
    body = json.loads((ROOT / "examples/01-filed.json").read_text())
    body["ticket"]["company"]["id"] = "ACME"
    assert event_from_dict(body).ticket.company == Company("acme", "ACME Ltd")


def test_cli_and_api_see_one_company(env: dict[str, str], client: FlaskClient) -> None:
    def cli(*args: str) -> str:
        result = CliRunner().invoke(main, ["credits", *args], env=env)
        assert result.exit_code == 0, result.output
        return result.output

    assert cli("buy", "ACME", "--tasks", "10").startswith("bought: ")
    assert "acme at " in cli("balance", "acme") and "balance 10," in cli("balance", "Acme")
    api = client.get("/api/credits/ACME", headers=AUTH).json
    assert api["company_id"] == "acme" and api["balance"] == 10
    bought = client.post("/api/credits/AcMe/purchases", json={"tasks": 10, "key": "k1"},
                         headers=AUTH)
    assert bought.status_code == 201, bought.json
    assert json.loads(cli("balance", "acme", "--json"))["balance"] == 20
    statement = json.loads(cli("statement", "ACME", "--format", "json"))
    assert [e["kind"] for e in statement["entries"]] == ["purchase", "purchase"]


def test_report_filter_folds_case(env: dict[str, str]) -> None:
    result = CliRunner().invoke(main, ["report", "--company", "ACME", "--format", "json"],
                                env=env)
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["filters"]["company"] == "acme"


def test_cabinet_commands_fold_case(env: dict[str, str]) -> None:
    """``cabinet link|rotate|revoke|list`` take the id as ``credits`` does: ``ACME`` is the
    company ``credits buy acme`` created, never an unknown one."""
    env = {**env, "DESKPILOT_PUBLIC_URL": "https://desk.example"}

    def cli(*args: str) -> tuple[str, str]:
        result = CliRunner().invoke(main, list(args), env=env)
        assert result.exit_code == 0, result.output
        return result.stdout, result.stderr

    cli("credits", "buy", "acme", "--tasks", "10")
    url, about = cli("cabinet", "link", "ACME")
    assert url.startswith("https://desk.example/cabinet/") and about.startswith("company acme;")
    listed, _ = cli("cabinet", "list", "ACME")
    assert listed.split()[:2] == ["acme", "live"] and listed == cli("cabinet", "list", "acme")[0]
    _, rotated = cli("cabinet", "rotate", " Acme ")
    assert rotated.startswith("company acme;") and "1 earlier link(s) revoked" in rotated
    assert cli("cabinet", "revoke", "AcMe")[0] == "1 link(s) of acme revoked\n"
    states = [line.split()[1] for line in cli("cabinet", "list", "ACME")[0].splitlines()]
    assert states == ["revoked", "revoked"]
    refused = CliRunner().invoke(main, ["cabinet", "link", "  "], env=env)
    assert refused.exit_code == 2 and refused.stderr.startswith("error: Invalid value for "
                                                                 "'COMPANY': a company id")
