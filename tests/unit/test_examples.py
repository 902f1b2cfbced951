"""examples/: one ticket's lifecycle in the generic format, each event valid and explained."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from plugin.cli import main
from webhooks.hosts.generic import event_from_dict

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((ROOT / "examples").glob("*.json"))


def test_the_lifecycle_is_complete() -> None:
    events = [json.loads(p.read_text())["event"] for p in EXAMPLES]
    assert events == ["ticket.created", "ticket.updated", "time.logged", "ticket.updated",
                      "rating.submitted"]
    readme = (ROOT / "README.md").read_text()
    assert "examples/01-filed.json" in readme and "docs/generic-format.md" in readme
    assert "SPEC §7" not in readme


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_each_example_is_accepted_and_explained(path: Path) -> None:
    event = event_from_dict(json.loads(path.read_text()))  # what the receiver parses
    assert event.ticket.id == "EX-1" and event.ticket.company is not None
    result = CliRunner().invoke(main, ["rules", "explain", str(path), "--json"],
                                env={"DESKPILOT_CONFIG_DIR": str(ROOT / "config")})
    assert result.exit_code == 0, result.output
    decision = json.loads(result.output)
    if path.name != "01-filed.json":
        assert decision["task_type"] == "composite" and decision["units"] == 2, decision
