"""Every refusal of the CLI is one ``error: …`` line on stderr with the documented exit code
(README: Errors): 2 when the configuration or the input is wrong, 1 when the operation
failed — the commands' own refusals, click's usage errors and numbers out of range alike.

Every integer argument and option has a range (:mod:`plugin.cli.params`): a huge id is a
usage error, never an ``OverflowError`` from the database driver.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

import plugin.tables  # noqa: F401  (every table on the metadata)
from plugin.cli import COMMANDS, LazyGroup, main
from plugin.storage import Database

ROOT = Path(__file__).resolve().parents[2]
HUGE = "99999999999999999999999"
OUT_OF_ROW_IDS = "is not in the range 1<=x<=2147483647"


@pytest.fixture
def env(sqlite_url: str, tmp_path: Path) -> dict[str, str]:
    Database(sqlite_url).create_all()
    return {
        "DESKPILOT_DATABASE_URL": sqlite_url,
        "DESKPILOT_CONFIG_DIR": str(ROOT / "config"),
        "DESKPILOT_VAR_DIR": str(tmp_path / "var"),
        "DESKPILOT_REDIS_URL": "",
    }


#: (arguments, exit code, how the one stderr line starts, what else it says)
REFUSALS = [
    # the commands' own refusals
    (["cabinet", "link", "nobody"], 2, "error: unknown company 'nobody'", ""),
    (["hosts", "import", "nope"], 2, "error: no connection named 'nope'", ""),
    (["hosts", "reconcile", "generic", "--since", "yesterday"], 2,
     "error: --since: not an ISO datetime", ""),
    (["report", "--from", "2026-11-30", "--to", "2026-11-01"], 2,
     "error: --from must be before --to", ""),
    (["report", "--now", "soon"], 2, "error: --now: not an ISO datetime", ""),
    (["jobs", "failed"], 2, "error: deskpilot jobs needs DESKPILOT_REDIS_URL", ""),
    (["scheduler", "tick"], 2, "error: deskpilot scheduler tick needs DESKPILOT_REDIS_URL", ""),
    (["outbox", "show", "424242"], 2, "error: no outbox row #424242", ""),
    (["rules", "explain", "no-such-event.json"], 2, "error: ", "no-such-event.json"),
    (["credits", "adjust", "acme", "--units", HUGE, "--reason", "x"], 2, "error: --units: ",
     ""),
    # click's usage errors, in the same form
    (["no-such-command"], 2, "error: No such command 'no-such-command'.", "--help"),
    (["--no-such-option"], 2, "error: No such option '--no-such-option'", "--help"),
    (["credits", "buy", "acme"], 2, "error: Missing option '--tasks'.",
     "credits buy --help"),
    (["outbox", "resend"], 2, "error: give outbox row IDs or --all", ""),
    (["jobs", "retry"], 2, "error: give a job ID or --all", ""),
    (["send", "no-such-event.json"], 2, "error: Invalid value for 'EVENT_FILE'", ""),
    # numbers out of their range: a usage error before anything is read
    (["outbox", "show", HUGE], 2, "error: Invalid value for 'ROW_ID'", OUT_OF_ROW_IDS),
    (["outbox", "show", "0"], 2, "error: Invalid value for 'ROW_ID'", OUT_OF_ROW_IDS),
    (["outbox", "show", "-1"], 2, "error: ", ""),
    (["outbox", "resend", "1", HUGE], 2, "error: Invalid value for ", OUT_OF_ROW_IDS),
    (["outbox", "discard", HUGE, "--reason", "x"], 2, "error: Invalid value for ",
     OUT_OF_ROW_IDS),
    (["cabinet", "link", "acme", "--expires", HUGE], 2, "error: Invalid value for '--expires'",
     "1<=x<=3650"),
    (["cabinet", "rotate", "acme", "--expires", "0"], 2,
     "error: Invalid value for '--expires'", "1<=x<=3650"),
    (["serve", "--port", "70000"], 2, "error: Invalid value for '--port'", "1<=x<=65535"),
    (["serve", "--workers", "0"], 2, "error: Invalid value for '--workers'", "1<=x<=64"),
    (["serve", "--threads", HUGE], 2, "error: Invalid value for '--threads'", "1<=x<=64"),
    (["up", "--redis-port", HUGE], 2, "error: Invalid value for '--redis-port'", ""),
    (["rules", "replay", "--since", "2026-11-01", "--workers", "65"], 2,
     "error: Invalid value for '--workers'", "0<=x<=64"),
]


@pytest.mark.parametrize(("args", "code", "start", "says"), REFUSALS,
                         ids=[" ".join(r[0]) for r in REFUSALS])
def test_a_refusal_is_one_error_line(env: dict[str, str], args: list[str], code: int,
                                     start: str, says: str) -> None:
    result = CliRunner().invoke(main, args, env=env)
    assert result.exit_code == code, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert result.stdout == "", result.output
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith(start) and says in lines[0], result.stderr
    assert "Traceback" not in result.output and "OverflowError" not in result.output


def test_several_problems_follow_one_error_line(env: dict[str, str], tmp_path: Path) -> None:
    config = tmp_path / "config"
    shutil.copytree(ROOT / "config", config)
    classify = config / "rules" / "10-classify.yaml"
    classify.write_text(classify.read_text().replace("op: eq", "op: equals", 1))
    explain = CliRunner().invoke(main, ["rules", "explain", str(ROOT / "examples/01-filed.json"),
                                        "--config", str(config)], env=env)
    assert explain.exit_code == 2 and explain.stdout == ""
    first, *problems = explain.stderr.splitlines()
    assert first == "error: invalid rules:" and problems, explain.stderr
    assert all(p.startswith("  ") and "10-classify.yaml" in p for p in problems)

    (config / "deskpilot.yaml").write_text("timezone: Mars/Olympus\n")
    settings = CliRunner().invoke(main, ["report"], env={**env, "DESKPILOT_CONFIG_DIR":
                                                         str(config)})
    assert settings.exit_code == 2 and settings.stdout == ""
    first, *problems = settings.stderr.splitlines()
    assert first == "error: invalid settings:" and problems, settings.stderr
    assert all(p.startswith("  ") for p in problems) and "timezone" in problems[0]


def test_a_group_without_its_command_still_shows_its_help(env: dict[str, str]) -> None:
    result = CliRunner().invoke(main, ["cabinet"], env=env)
    assert "Usage:" in result.output and "rotate" in result.output
    assert "error:" not in result.output


def _commands() -> list[tuple[str, click.Command]]:
    """Every command of the CLI with its path (``outbox show``)."""
    found: list[tuple[str, click.Command]] = []
    ctx = click.Context(main)

    def walk(path: str, command: click.Command) -> None:
        found.append((path, command))
        if isinstance(command, click.Group):
            for name in command.list_commands(ctx):
                sub = command.get_command(ctx, name)
                assert sub is not None
                walk(f"{path} {name}".strip(), sub)

    assert isinstance(main, LazyGroup)
    for name in COMMANDS:
        sub = main.get_command(ctx, name)
        assert sub is not None
        walk(name, sub)
    return found


#: numbers checked by the admin API's own request schema instead (the same bounds, once:
#: tests/integration/test_cli_empty_dir.py::test_cli_numbers_have_the_admin_api_bounds)
SCHEMA_CHECKED = {("credits buy", "tasks"), ("credits adjust", "units")}


def test_every_number_the_cli_takes_is_bounded() -> None:
    unbounded = []
    for path, command in _commands():
        for param in command.params:
            if isinstance(param.type, click.types.IntParamType | click.types.FloatParamType):
                bounded = isinstance(param.type, click.types._NumberRangeBase) and (
                    param.type.min is not None and param.type.max is not None)
                if not bounded and (path, param.name) not in SCHEMA_CHECKED:
                    unbounded.append(f"{path} {param.name}")
    assert unbounded == []
    assert len([p for p, _ in _commands()]) > 25  # the walk reached the subcommands
