"""Helpers for the reconciliation (poll) tests: the hosts' base URLs, the poll window, and a
context on a migrated SQLite schema with the shipped config and the test's connections."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from plugin.context import Context, build_context, set_context
from plugin.settings import load_settings
from plugin.storage.migrate import upgrade
from tests.jobs_support import buy

ROOT = Path(__file__).resolve().parents[1]
FIX = ROOT / "tests" / "fixtures"
ZD = "https://acme.zendesk.com"
FD = "https://acme.freshdesk.com"
ZM = "https://zammad.acme.example"
NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
SINCE = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
ACME = {"source": "organization", "map": {"ACME Ltd": "acme"}}


def reconcile_context(sqlite_url: str, redis_url: str, tmp_path: Path,
                      connections: list[dict[str, Any]], *,
                      acme_tasks: int = 0) -> Iterator[Context]:
    """For a fixture to ``yield from``: the context (set as current) on a migrated schema,
    with ``acme_tasks`` tasks bought for ``acme`` first when given; closed afterwards."""
    upgrade(sqlite_url)
    settings = load_settings({"DESKPILOT_CONFIG_DIR": str(ROOT / "config")}, {
        "database_url": sqlite_url, "redis_url": redis_url, "var_dir": str(tmp_path / "var"),
        "config_dir": str(ROOT / "config"), "connections": connections})
    context = build_context(settings)
    set_context(context)
    if acme_tasks:
        buy(context, "acme", acme_tasks, datetime(2026, 11, 20, tzinfo=UTC))
    yield context
    context.close()
