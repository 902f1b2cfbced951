"""A fresh embedded deployment just works; anything else waits for the operator's upgrade.

``deskpilot up`` migrates at start; the commands that read or write the database do the
same for an embedded SQLite file that does not exist yet (one line on stderr says so). A
PostgreSQL database without the schema, and any database at an older revision, are refused
with one line naming ``deskpilot db upgrade`` and left as they were.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory
from click.testing import CliRunner
from sqlalchemy import create_engine, inspect

from plugin.cli import main
from plugin.storage.migrate import alembic_config, current_revision, head_revision, upgrade

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def deployment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in list(os.environ):
        if name.startswith("DESKPILOT_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("DESKPILOT_CONFIG_DIR", "")  # `--config` would set it: undone after
    monkeypatch.delenv("DESKPILOT_CONFIG_DIR")
    home = tmp_path / "support"
    home.mkdir()
    shutil.copytree(ROOT / "config", home / "config")
    monkeypatch.chdir(home)
    return home


def _run(args: list[str]) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, args)
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        args, result.exception)
    return result.exit_code, result.stdout, result.stderr


def test_a_fresh_embedded_database_is_created_at_head(deployment: Path) -> None:
    database = deployment / "var" / "deskpilot.sqlite3"
    code, out, err = _run(["credits", "balance", "acme"])
    assert code == 0, err
    assert "acme at " in out and "no account" in out
    assert err.splitlines() == [
        f"created the embedded database {database} (migrated to revision {head_revision()}, "
        "as `deskpilot up` does at start)"]
    assert current_revision(f"sqlite:///{database}") == head_revision()
    code, out, err = _run(["report", "--format", "json"])
    assert code == 0 and err == "", err  # said once, when it was created
    code, out, err = _run(["outbox", "list"])
    assert code == 0 and "created the embedded database" not in err, err


def test_postgresql_without_the_schema_is_refused(deployment: Path, pg_url: str,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DESKPILOT_DATABASE_URL", pg_url)
    for args in (["credits", "balance", "acme"], ["report"], ["cabinet", "list"]):
        code, out, err = _run(args)
        assert code == 1 and out == "", (args, out)
        assert err.splitlines() == [
            "error: the database has no Deskpilot schema yet: run `deskpilot db upgrade` "
            "(`deskpilot up` does it at start)"], args
    engine = create_engine(pg_url)
    try:
        assert inspect(engine).get_table_names() == []  # nothing created behind its back
    finally:
        engine.dispose()
    assert not (deployment / "var").exists()


def test_an_older_revision_is_left_to_the_operator(deployment: Path) -> None:
    database = deployment / "var" / "deskpilot.sqlite3"
    url = f"sqlite:///{database}"
    script = ScriptDirectory.from_config(alembic_config(url))
    older = script.get_revision(head_revision()).down_revision
    assert isinstance(older, str)
    upgrade(url, older)
    for args in (["credits", "buy", "acme", "--tasks", "10"], ["report"]):
        code, out, err = _run(args)
        assert code == 1 and out == "", (args, out)
        assert err.splitlines() == [
            f"error: the database is at revision {older}, this Deskpilot needs "
            f"{head_revision()}: back it up, then run `deskpilot db upgrade`"], args
    assert current_revision(url) == older
    assert _run(["db", "upgrade"])[0] == 0
    code, out, err = _run(["credits", "buy", "acme", "--tasks", "10"])
    assert code == 0 and out.startswith("bought: lot 1, 10 tasks"), err
