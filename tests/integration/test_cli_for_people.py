"""What a person reads at the terminal after ``deskpilot init``: local times with the zone,
links that open, and a word when a list is empty (issue 22: trying the product as a user)."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from plugin.cli import main

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def installed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty directory after ``deskpilot init`` and ``db upgrade`` (zone Europe/Kyiv)."""
    for name in list(os.environ):
        if name.startswith("DESKPILOT_"):
            monkeypatch.delenv(name)
    here = tmp_path / "site"
    here.mkdir()
    monkeypatch.chdir(here)
    for args in (["init"], ["db", "upgrade"]):
        result = CliRunner().invoke(main, args)
        assert result.exit_code == 0, result.output
    return here


def _ok(args: list[str]) -> tuple[str, str]:
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output
    return result.stdout, result.stderr


def test_credits_print_instants_in_the_installations_zone(installed: Path) -> None:
    # winter in Kyiv: UTC+2, "EET"; 2026-12-01 10:00 UTC is 12:00 there
    bought, _ = _ok(["credits", "buy", "acme", "--tasks", "10",
                     "--at", "2026-12-01T10:00:00+00:00"])
    assert "expires 2027-03-01 12:00 EET" in bought, bought
    assert "+00:00" not in bought
    balance, _ = _ok(["credits", "balance", "acme", "--at", "2026-12-02T08:30:00+00:00"])
    assert balance.startswith("acme at 2026-12-02 10:30 EET: balance 10"), balance
    assert "lot 1: 10/10 left, expires 2027-03-01 12:00 EET" in balance
    statement, _ = _ok(["credits", "statement", "acme"])
    assert "bought 2026-12-01 12:00 EET, expires 2027-03-01 12:00 EET" in statement, statement
    row = next(line for line in statement.splitlines() if "purchase" in line and "+10" in line)
    assert row.startswith("2026-12-01 12:00 EET purchase"), row
    assert "+00:00" not in statement
    # machine formats keep UTC ISO 8601
    as_json, _ = _ok(["credits", "statement", "acme", "--format", "json"])
    assert "2026-12-01T10:00:00+00:00" in as_json


def test_cabinet_link_opens_on_the_running_up(installed: Path) -> None:
    from plugin.up_state import write_state

    _ok(["credits", "buy", "acme", "--tasks", "10"])  # the company becomes known
    alone, note = _ok(["cabinet", "link", "acme"])
    assert alone.startswith("http://127.0.0.1:8700/cabinet/")
    assert "public_url is not set" in note  # says why the address may not be the right one
    # `deskpilot up --port 34567` is running here: its address is the one that answers
    write_state(installed / "var", {"url": "http://127.0.0.1:34567"})
    try:
        rotated, note = _ok(["cabinet", "rotate", "acme"])
    finally:
        (installed / "var" / "up.json").unlink()
    assert re.match(r"http://127\.0\.0\.1:34567/cabinet/\S+\n$", rotated), rotated
    assert "http://127.0.0.1:34567/api/cabinet" in note and "public_url is not set" not in note
    # an explicit public_url wins over both; init's file shows where it goes
    settings = installed / "config" / "deskpilot.yaml"
    assert "# public_url: https://" in settings.read_text()
    settings.write_text(settings.read_text() + "\npublic_url: https://desk.example.com\n")
    rotated, note = _ok(["cabinet", "rotate", "acme"])
    assert rotated.startswith("https://desk.example.com/cabinet/") and "public_url" not in note
    # instants a person reads: the installation's zone, named; never microseconds
    timed, note = _ok(["cabinet", "rotate", "acme", "--expires", "30"])
    assert re.search(r"expires 20\d\d-\d\d-\d\d \d\d:\d\d EET;", note), note
    listed, _ = _ok(["cabinet", "list", "acme"])
    assert re.search(r"live +created 20\S+ \d\d:\d\d EET  expires 20\S+ \d\d:\d\d EET",
                     listed), listed
    assert "+00:00" not in listed and not re.search(r"\dT\d", listed), listed
    again = CliRunner().invoke(main, ["cabinet", "link", "acme"])
    assert again.exit_code == 2
    assert re.search(r"\(created 20\d\d-\d\d-\d\d \d\d:\d\d UTC\)", again.output), again.output


def test_empty_lists_and_clean_rules_say_so_on_stderr(installed: Path) -> None:
    out, err = _ok(["rules", "check"])
    assert out == "" and err.strip() == "rules ok"
    out, err = _ok(["outbox", "list"])
    assert out == "" and "no refused writes" in err and "--discarded" in err
    out, err = _ok(["outbox", "list", "--json"])
    assert out == "" and "no refused writes" in err


def test_help_tells_a_new_user_where_to_start(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    out, _ = _ok(["--help"])
    start = out[out.index("Getting started"):]
    assert "deskpilot init" in start and "deskpilot up" in start
    assert "deskpilot send examples/01-filed.json" in start  # init writes examples/ here
