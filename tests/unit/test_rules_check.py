"""One invalid rules file per failure mode, each with its expected ``file:line:col`` message."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from rules.config.loader import check, load_rules
from rules.config.source import SourceError

HERE = Path(__file__).parent / "rules_fixtures"
FIXTURES = sorted(HERE.glob("*.yaml"))
CONFIG = Path(__file__).resolve().parents[2] / "config"


def _expected(path: Path) -> str:
    first = path.read_text(encoding="utf-8").splitlines()[0]
    assert first.startswith("# expect: ")
    return first.removeprefix("# expect: ")


def _setup(tmp_path: Path, fixture: Path) -> Path:
    rules = tmp_path / "rules"
    rules.mkdir(parents=True)
    shutil.copy(HERE / "base.yaml.txt", rules / "00-base.yaml")
    shutil.copy(fixture, rules / fixture.name)
    return rules


@pytest.mark.parametrize("fixture", FIXTURES, ids=[f.stem for f in FIXTURES])
def test_each_failure_mode_is_reported_where_it_is(tmp_path: Path, fixture: Path) -> None:
    rules = _setup(tmp_path, fixture)
    lines = [str(p) for p in check(rules)]
    want = f"{rules / fixture.name}:{_expected(fixture)}"
    assert any(line.startswith(want) for line in lines), "\n".join(lines)


def test_the_base_alone_is_valid(tmp_path: Path) -> None:
    rules = tmp_path / "rules"
    rules.mkdir()
    shutil.copy(HERE / "base.yaml.txt", rules / "00-base.yaml")
    # valid; only Deskpilot's own team templates are missing (their packaged texts are used)
    [warning] = check(rules)
    assert warning.severity == "warning" and "own team templates" in warning.message


def test_a_team_template_missing_from_the_admins_rules_warns_where_templates_are(
    tmp_path: Path,
) -> None:
    config = tmp_path / "config"
    shutil.copytree(CONFIG, config, ignore=shutil.ignore_patterns("tests", "deskpilot*.yaml"))
    path = config / "rules" / "90-templates.yaml"
    text = path.read_text(encoding="utf-8")
    start = text.index("  refused_writes:\n")
    end = text.index("  refused_write:\n")
    path.write_text(text[:start] + text[end:], encoding="utf-8")
    line = 2 + text[:text.index("\ntemplates:")].count("\n")
    [problem] = check(config / "rules")
    assert str(problem) == (
        f"{path}:{line}:1: templates: warning: missing 1 of Deskpilot's own team templates "
        "(refused_writes): their packaged texts are used; copy them from the shipped "
        "config/rules/90-templates.yaml to edit them")
    from plugin.team_texts import team_text

    # the packaged text, in the admin's team language
    admin = load_rules(config / "rules")
    assert team_text(admin, "refused_writes", refused="- x", refused_count=1).startswith(
        "Хелпдеск відмовив Deskpilot у 1 записі в цю задачу:\n- x\n")


def test_errors_refuse_to_load_warnings_do_not(tmp_path: Path) -> None:
    with pytest.raises(SourceError) as exc:
        load_rules(_setup(tmp_path / "a", HERE / "unknown_type.yaml"))
    assert "unknown type 'bgu'" in str(exc.value)
    ruleset = load_rules(_setup(tmp_path / "b", HERE / "manager_overload.yaml"))
    assert ruleset.company_manager["c11"] == "olena"


def test_shipped_rules_are_valid() -> None:
    assert [str(p) for p in check(CONFIG / "rules")] == []


def test_the_check_command_exits_1_with_every_problem_and_0_on_warnings(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from plugin.cli import main

    bad = _setup(tmp_path / "a", HERE / "leaf_unknown_key.yaml")
    res = CliRunner().invoke(main, ["rules", "check", str(bad)])
    assert res.exit_code == 1
    lines = res.output.splitlines()
    where = f"{bad / 'leaf_unknown_key.yaml'}:"
    hint = "unknown key 'valeu'; did you mean 'value'?"
    assert f"{where}4:46: classify[0].when.valeu: {hint}" in lines
    assert f"{where}4:5: classify[0].when: operator 'contains' needs a 'value'" in lines
    assert "2 error(s)" in lines
    warn = _setup(tmp_path / "b", HERE / "overlapping_policies.yaml")
    res = CliRunner().invoke(main, ["rules", "check", str(warn)])
    assert res.exit_code == 0 and ": warning: policy 'second' overlaps" in res.output


def test_the_check_command_warns_of_a_year_without_holidays_and_still_passes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """rules/calendar/coverage.py through the CLI: the shipped config without its 2027
    holidays, checked on 5 December 2026 (this year and the next are checked). A warning:
    the rules load and run (exit 0), the admin is told which calendar and year."""
    from datetime import UTC, datetime

    from click.testing import CliRunner

    import rules.config.loader as loader
    from plugin.cli import main

    class December2026(datetime):
        @classmethod
        def now(cls, tz: object = None) -> datetime:  # type: ignore[override]
            return datetime(2026, 12, 5, 9, 0, tzinfo=UTC)

    monkeypatch.setattr(loader, "datetime", December2026)
    config = tmp_path / "config"
    shutil.copytree(CONFIG, config, ignore=shutil.ignore_patterns("tests", "deskpilot*.yaml"))
    calendars = config / "calendars.yaml"
    text = calendars.read_text(encoding="utf-8")
    kept = [line for line in text.splitlines(keepends=True)
            if not line.startswith("      2027-")]
    assert len(text.splitlines()) - len(kept) == 11  # every 2027 day of art. 73 dropped
    calendars.write_text("".join(kept), encoding="utf-8")
    line = 1 + "".join(kept).split("\n  default:")[0].count("\n") + 1

    res = CliRunner().invoke(main, ["rules", "check", str(config / "rules")])
    assert res.exit_code == 0, res.output
    assert res.stdout.splitlines() == [
        f"{calendars}:{line}:3: calendars.default: warning: calendar 'default' has no holiday "
        "data for 2027: every day of it but the weekly days off counts as working time; add "
        "extra_holidays for 2027"]
    assert res.stderr.strip() == "rules ok (1 warning(s))"

    # with them back, the same day passes quietly
    calendars.write_text(text, encoding="utf-8")
    res = CliRunner().invoke(main, ["rules", "check", str(config / "rules")])
    assert res.exit_code == 0 and res.stdout == "" and res.stderr.strip() == "rules ok"
