"""The shipped ``config/companies.yaml``: valid, changes nothing, and its commented examples
are valid too (rules/companies.py reads it; ``deskpilot init`` copies it)."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from rules.companies import load_companies
from rules.config.loader import check, load_rules

CONFIG = Path(__file__).resolve().parents[2] / "config"


def _copy(tmp_path: Path) -> Path:
    config = tmp_path / "config"
    shutil.copytree(CONFIG, config, ignore=shutil.ignore_patterns("tests", "deskpilot*.yaml"))
    return config


def test_the_shipped_file_is_valid_and_names_no_company(tmp_path: Path) -> None:
    assert (CONFIG / "companies.yaml").is_file()
    problems: list = []
    path, languages = load_companies(CONFIG, problems)
    assert path == CONFIG / "companies.yaml" and languages == {} and problems == []
    config = _copy(tmp_path)
    with_file = load_rules(config / "rules")
    (config / "companies.yaml").unlink()
    without = load_rules(config / "rules")
    assert with_file.company_language == without.company_language


def test_its_commented_examples_are_valid_when_uncommented(tmp_path: Path) -> None:
    config = _copy(tmp_path)
    text = (config / "companies.yaml").read_text(encoding="utf-8")
    example = text[text.index("# companies:\n"):text.index("\ncompanies: {}")]
    uncommented = re.sub(r"^# ?", "", example, flags=re.MULTILINE)
    (config / "companies.yaml").write_text(uncommented + "\n", encoding="utf-8")
    assert [p for p in check(config / "rules") if p.severity == "error"] == []
    ruleset = load_rules(config / "rules")
    assert ruleset.company_language["acme"] == "en"
    assert ruleset.company_language["globex"] == "uk"


def test_a_wrong_key_in_it_fails_the_check_where_it_is(tmp_path: Path) -> None:
    config = _copy(tmp_path)
    (config / "companies.yaml").write_text("companies:\n  acme: {calendar: acme_hours}\n")
    errors = [str(p) for p in check(config / "rules") if p.severity == "error"]
    assert errors and errors[0].startswith(f"{config / 'companies.yaml'}:2:")
    assert "calendar" in errors[0]
