"""Every subcommand from an empty directory: the packaged defaults or one line naming init.

No command leaves a traceback or a stray ``var/`` behind; the long-running processes refuse
to start (exit 2, every problem listed) when their rules do not load.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from plugin.cli import main

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = str(ROOT / "examples" / "01-filed.json")

#: commands that need a configuration: exit 2 naming `deskpilot init`
NEEDS_CONFIG = [
    ["up", "--port", "18999"],
    ["serve"],
    ["worker", "--burst"],
    ["scheduler"],
    ["scheduler", "tick"],
    ["db", "upgrade"],
    ["rules", "replay", "--since", "2026-11-01"],
    ["credits", "buy", "acme", "--tasks", "10"],
    ["credits", "balance", "acme"],
    ["credits", "statement", "acme"],
    ["credits", "adjust", "acme", "--units", "1", "--reason", "x"],
    ["jobs", "failed"],
    ["jobs", "retry", "--all"],
    ["hosts", "import", "zammad"],
    ["hosts", "reconcile", "zammad"],
    ["report"],
    ["send", EXAMPLE],
    ["outbox", "list"],
    ["outbox", "show", "1"],
    ["outbox", "resend", "1"],
    ["outbox", "discard", "1", "--reason", "x"],
    ["cabinet", "link", "acme"],
    ["cabinet", "rotate", "acme"],
    ["cabinet", "revoke", "acme"],
    ["cabinet", "list"],
]
#: read-only commands that run on the packaged defaults
ON_DEFAULTS = [
    ["rules", "check"],
    ["rules", "test"],
    ["rules", "explain", EXAMPLE],
]


@pytest.fixture
def empty_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    import os

    for name in list(os.environ):
        if name.startswith("DESKPILOT_"):
            monkeypatch.delenv(name)
    # `deskpilot --config/--debug` set these for the process (and up's children): undone
    # after each test, so they do not leak into later tests of this pytest process
    for name in ("DESKPILOT_CONFIG_DIR", "DESKPILOT_DEBUG"):
        monkeypatch.setenv(name, "")
        monkeypatch.delenv(name)
    here = tmp_path / "empty"
    here.mkdir()
    monkeypatch.chdir(here)
    return here


def _run(args: list[str]) -> tuple[int, str]:
    result = CliRunner().invoke(main, args)
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        args, result.exception)
    return result.exit_code, result.output


@pytest.mark.parametrize("args", NEEDS_CONFIG, ids=" ".join)
def test_command_without_config_names_init(empty_dir: Path, args: list[str]) -> None:
    code, output = _run(args)
    assert code == 2, (code, output)
    assert "Traceback" not in output
    lines = [line for line in output.splitlines() if line.strip()]
    assert len(lines) == 1 and "deskpilot init" in lines[0], output
    assert list(empty_dir.iterdir()) == [], "left files behind"


@pytest.mark.parametrize("args", ON_DEFAULTS, ids=" ".join)
def test_read_only_rule_commands_run_on_the_packaged_defaults(empty_dir: Path,
                                                              args: list[str]) -> None:
    code, output = _run(args)
    assert code == 0, output
    assert "Traceback" not in output and "packaged defaults" in output
    assert list(empty_dir.iterdir()) == []


def test_a_missing_config_dir_is_one_line(empty_dir: Path) -> None:
    code, output = _run(["--config", "nowhere", "report"])
    assert code == 2 and "nowhere does not exist" in output and "deskpilot init" in output
    assert "Traceback" not in output


def test_help_of_every_command(empty_dir: Path) -> None:
    from plugin.cli import COMMANDS

    for name in COMMANDS:
        code, output = _run([name, "--help"])
        assert code == 0 and "Usage:" in output, (name, output)


def test_init_refuses_to_overwrite_and_keeps_secrets_with_force(empty_dir: Path) -> None:
    import stat

    from plugin.settings import load_settings

    code, output = _run(["init"])
    assert code == 0, output
    settings_file = empty_dir / "config" / "deskpilot.yaml"
    assert stat.S_IMODE(settings_file.stat().st_mode) == 0o600
    settings = load_settings()
    generic = settings.connection("generic")
    assert generic is not None and len(generic.webhook_secrets[0]) >= 32
    assert settings.admin_tokens and len(settings.admin_tokens[0]) >= 32
    assert {"var/", "config/deskpilot.yaml"} <= set(
        (empty_dir / ".gitignore").read_text().splitlines())
    assert sorted(p.name for p in (empty_dir / "examples").glob("*.json"))[0] == "01-filed.json"
    next_steps = output.split("next:\n", 1)[1].splitlines()
    assert len(next_steps) == 3 and all("deskpilot " in line for line in next_steps), output
    assert "deskpilot up" in next_steps[0] and "send examples/01-filed.json" in next_steps[1]
    companies = empty_dir / "config" / "companies.yaml"
    assert companies.read_text() == (ROOT / "config" / "companies.yaml").read_text()
    before = settings_file.read_text()
    (empty_dir / "config" / "plans.yaml").write_text("# edited\n")
    companies.write_text("companies:\n  acme: {language: en}\n")
    code, output = _run(["init"])
    assert code == 2 and "--force" in output
    assert (empty_dir / "config" / "plans.yaml").read_text() == "# edited\n"
    code, output = _run(["init", "--force"])
    assert code == 0, output
    assert settings_file.read_text() == before  # the secrets pasted into hosts stay
    assert (empty_dir / "config" / "plans.yaml").read_text() != "# edited\n"
    # the admin's companies are theirs, like the secrets: kept
    assert companies.read_text() == "companies:\n  acme: {language: en}\n"
    assert "kept" in output and "companies.yaml" in output
    code, output = _run(["rules", "check"])
    assert code == 0 and "packaged defaults" not in output


@pytest.mark.parametrize("command", [["up", "--port", "18999"], ["serve"], ["worker"],
                                     ["scheduler"]], ids=" ".join)
def test_long_running_processes_refuse_rules_that_do_not_load(
    empty_dir: Path, monkeypatch: pytest.MonkeyPatch, command: list[str]
) -> None:
    shutil.copytree(ROOT / "config", empty_dir / "config")
    classify = empty_dir / "config" / "rules" / "10-classify.yaml"
    classify.write_text(classify.read_text().replace("op: eq", "op: equals", 1))
    monkeypatch.setenv("DESKPILOT_REDIS_URL", "redis://127.0.0.1:1/0")
    code, output = _run(command)
    assert code == 2, output
    assert "does not load" in output and "10-classify.yaml" in output and "equals" in output
    assert "Traceback" not in output
    assert not (empty_dir / "var").exists()


@pytest.mark.parametrize(("args", "option"), [
    (["credits", "adjust", "acme", "--units", "99999999999999999999", "--reason", "x"],
     "--units"),
    (["credits", "adjust", "acme", "--units", "100001", "--reason", "x"], "--units"),
    (["credits", "adjust", "acme", "--units", "-100001", "--reason", "x"], "--units"),
    (["credits", "buy", "acme", "--tasks", "99999999999"], "--tasks"),
    (["credits", "buy", "acme", "--tasks", "0"], "--tasks"),
    (["credits", "buy", "acme", "--tasks", "5", "--price", "1e20"], "--price"),
    (["credits", "buy", "acme", "--tasks", "5", "--currency", "UAHX"], "--currency"),
], ids=lambda v: " ".join(v) if isinstance(v, list) else v)
def test_cli_numbers_have_the_admin_api_bounds(empty_dir: Path, args: list[str],
                                               option: str) -> None:
    shutil.copytree(ROOT / "config", empty_dir / "config")
    code, output = _run(args)
    assert code == 2 and output.startswith(f"error: {option}: "), output
    assert "Traceback" not in output and len(output.splitlines()) == 1


def test_cli_accepts_the_admin_api_extremes(empty_dir: Path) -> None:
    shutil.copytree(ROOT / "config", empty_dir / "config")
    # a fresh embedded database is created at head by the first command that needs it
    code, output = _run(["credits", "balance", "acme"])
    assert code == 0 and "created the embedded database" in output, output
    assert "Traceback" not in output
    assert _run(["db", "upgrade"])[0] == 0
    code, output = _run(["credits", "adjust", "acme", "--units", "100000", "--reason", "x"])
    assert code == 0 and "+100000" in output, output
