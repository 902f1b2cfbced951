"""``rules check``: an invalid rule is reported once, not also as the cause of unreachable rules."""

from __future__ import annotations

import shutil
from pathlib import Path

from rules.config.loader import check

CONFIG = Path(__file__).resolve().parents[2] / "config"


def _broken(tmp_path: Path, first: str, second: str) -> Path:
    config = tmp_path / "config"
    shutil.copytree(CONFIG, config)
    path = config / "rules" / "10-classify.yaml"
    path.write_text(path.read_text().replace(first, second, 1))
    return config


def test_an_unknown_operator_is_one_problem(tmp_path: Path) -> None:
    config = _broken(tmp_path, "op: eq", "op: equals")
    problems = [p for p in check(config) if p.severity == "error"]
    assert [p.message for p in problems] == ["unknown operator 'equals'"], [
        str(p) for p in problems]
    assert not any("unreachable" in str(p) for p in check(config))


def test_a_real_catch_all_still_makes_later_rules_unreachable(tmp_path: Path) -> None:
    config = _broken(tmp_path, "    when: {field: ticket.channel, op: eq, value: phone}\n", "")
    shown = [str(p) for p in check(config)]
    assert any("is unreachable: rule 'phone-is-critical' before it matches everything" in s
               for s in shown), shown
