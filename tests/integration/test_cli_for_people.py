"""What a person reads at the terminal after ``deskpilot init``: local times with the zone,
links that open, and a word when a list is empty (issue 22: trying the product as a user)."""

from __future__ import annotations

import os
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
