"""``deskpilot db upgrade`` on a fresh database gives exactly the schema the models declare
(migrations 0001–0004 of every capability, on SQLite and PostgreSQL)."""

from __future__ import annotations

import shutil
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from click.testing import CliRunner
from sqlalchemy import inspect

import plugin.tables  # noqa: F401 - every table on Base.metadata
from plugin.storage.db import make_engine
from plugin.storage.migrate import head_revision
from plugin.storage.models import Base

ROOT = Path(__file__).resolve().parents[2]


def _upgrade_with_cli(db_url: str, tmp_path: Path) -> None:
    from plugin.cli import main

    config = tmp_path / "config"
    shutil.copytree(ROOT / "config", config)
    env = {"DESKPILOT_CONFIG_DIR": str(config), "DESKPILOT_VAR_DIR": str(tmp_path / "var"),
           "DESKPILOT_DATABASE_URL": db_url}
    result = CliRunner().invoke(main, ["db", "upgrade"], env=env)
    assert result.exit_code == 0, result.output
    assert f"database at revision {head_revision()}" in result.output


def test_upgrade_to_head_matches_the_models(db_url, tmp_path):
    _upgrade_with_cli(db_url, tmp_path)
    engine = make_engine(db_url)
    try:
        with engine.connect() as conn:
            ctx = MigrationContext.configure(conn, opts={"compare_type": True})
            diff = compare_metadata(ctx, Base.metadata)
            tables = set(inspect(conn).get_table_names())
    finally:
        engine.dispose()
    assert diff == [], "\n".join(str(d) for d in diff)
    # the comparison saw the real tables (an empty database would differ by all of them)
    assert set(Base.metadata.tables) <= tables
    assert {"outbox", "ticket_timers", "cap_slots", "credit_entries", "ticket_metrics"} <= tables
