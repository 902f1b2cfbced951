"""State goes to the deployment's home, not to wherever a command happens to run.

``deskpilot init DIR`` makes DIR the home (``DIR/config``, ``DIR/var``); ``deskpilot --config
DIR/config …`` from any other directory reads and writes ``DIR/var``. ``DESKPILOT_VAR_DIR``
is an environment path: relative to the current directory.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from plugin.cli import main
from plugin.settings import load_settings


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("DESKPILOT_"):
            monkeypatch.delenv(name)
    # `deskpilot --config` sets it for the process: undone after the test
    monkeypatch.setenv("DESKPILOT_CONFIG_DIR", "")
    monkeypatch.delenv("DESKPILOT_CONFIG_DIR")


def _run(args: list[str]) -> str:
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, (args, result.output, result.exception)
    return result.output


def test_config_option_from_an_empty_directory_keeps_state_in_the_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, clean_env: None
) -> None:
    home = tmp_path / "support"
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    _run(["init", str(home)])
    assert list(elsewhere.iterdir()) == []
    _run(["--config", str(home / "config"), "db", "upgrade"])
    output = _run(["--config", str(home / "config"), "credits", "buy", "acme", "--tasks", "10"])
    assert output.startswith("bought: lot 1, 10 tasks")
    assert list(elsewhere.iterdir()) == [], "state written to the current directory"
    assert (home / "var" / "deskpilot.sqlite3").stat().st_size > 0
    # the same database seen through DESKPILOT_CONFIG_DIR with a relative path
    monkeypatch.setenv("DESKPILOT_CONFIG_DIR", os.path.relpath(home / "config"))
    assert "10" in _run(["credits", "balance", "acme"])
    assert list(elsewhere.iterdir()) == []


def test_relative_paths_in_the_file_are_read_against_the_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, clean_env: None
) -> None:
    config = tmp_path / "home" / "config"
    config.mkdir(parents=True)
    monkeypatch.chdir(tmp_path)
    env = {"DESKPILOT_CONFIG_DIR": "home/config"}
    settings = load_settings(env)
    assert settings.var_dir == tmp_path / "home" / "var"
    assert settings.database_url == f"sqlite:///{tmp_path / 'home' / 'var' / 'deskpilot.sqlite3'}"
    (config / "deskpilot.yaml").write_text("var_dir: state\n"
                                           "database_url: sqlite:///db/deskpilot.sqlite3\n")
    settings = load_settings(env)
    assert settings.var_dir == tmp_path / "home" / "state"
    assert settings.database_url == f"sqlite:///{tmp_path / 'home' / 'db' / 'deskpilot.sqlite3'}"
    (config / "deskpilot.yaml").write_text(f"var_dir: {tmp_path / 'abs'}\n"
                                           f"database_url: sqlite:///{tmp_path / 'x.db'}\n")
    settings = load_settings(env)
    assert settings.var_dir == tmp_path / "abs"
    assert settings.database_url == f"sqlite:///{tmp_path / 'x.db'}"


def test_environment_var_dir_is_relative_to_the_current_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, clean_env: None
) -> None:
    (tmp_path / "home" / "config").mkdir(parents=True)
    here = tmp_path / "here"
    here.mkdir()
    monkeypatch.chdir(here)
    settings = load_settings({"DESKPILOT_CONFIG_DIR": str(tmp_path / "home" / "config"),
                              "DESKPILOT_VAR_DIR": "mine"})
    assert settings.var_dir == here / "mine"
    assert settings.database_url == f"sqlite:///{here / 'mine' / 'deskpilot.sqlite3'}"
