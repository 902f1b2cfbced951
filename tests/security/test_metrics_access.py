"""``/metrics`` is for operators (issue 16, finding 4): a bearer token, and no client
company in a label unless ``metrics_company_labels`` asks for it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from plugin.app import create_app
from plugin.context import Context, build_context, set_context
from plugin.reports.metrics import count_debits
from plugin.settings import load_settings
from plugin.storage.models import Company

ROOT = Path(__file__).resolve().parents[2]
METRICS = "metrics-token-prometheus-77aa01"
ADMIN = "admin-token-for-the-api-5566bb"
CLIENT = "globex-confidential-client"


def _context(tmp_path: Path, sqlite_url: str, **extra: Any) -> Context:
    import plugin.tables  # noqa: F401 - every table on Base.metadata

    settings = load_settings({"DESKPILOT_CONFIG_DIR": str(ROOT / "config")}, {
        "database_url": sqlite_url, "redis_url": None, "var_dir": str(tmp_path / "var"),
        **extra})
    ctx = build_context(settings)
    ctx.db.create_all()
    set_context(ctx)
    return ctx


@pytest.fixture
def ctx(tmp_path: Path, sqlite_url: str) -> Iterator[Context]:
    c = _context(tmp_path, sqlite_url, metrics_tokens=[METRICS], admin_tokens=[ADMIN])
    yield c
    set_context(None)
    c.close()


def _debit(ctx: Context, company: str) -> None:
    from plugin import ledger

    at = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
    with ctx.db.session() as session:
        session.add(Company(id=company, name=company.upper()))
        session.flush()
        ledger.purchase(session, company, 10, Decimal("10"), "EUR", at)
        result = ledger.complete(session, company, "generic:T-1", 0, 1, at)
        count_debits(session, company, result)


def test_metrics_need_a_token_and_name_no_company(ctx: Context) -> None:
    _debit(ctx, CLIENT)
    client = create_app(context=ctx).test_client()
    anonymous = client.get("/metrics")
    assert anonymous.status_code == 401
    assert CLIENT not in anonymous.get_data(as_text=True)
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong-token-0000000000"}
                      ).status_code == 403
    for token in (METRICS, ADMIN):
        resp = client.get("/metrics", headers={"Authorization": f"Bearer {token}"})
        assert resp.status_code == 200
        body = resp.get_data(as_text=True)
        assert 'deskpilot_debits_total{company="all"}' in body
        assert CLIENT not in body


def test_company_labels_only_when_a_setting_asks(tmp_path: Path, sqlite_url: str) -> None:
    ctx = _context(tmp_path, sqlite_url, metrics_tokens=[METRICS], metrics_company_labels=True)
    try:
        _debit(ctx, "initech-labelled")
        body = create_app(context=ctx).test_client().get(
            "/metrics", headers={"Authorization": f"Bearer {METRICS}"}).get_data(as_text=True)
        assert 'deskpilot_debits_total{company="initech-labelled"}' in body
    finally:
        set_context(None)
        ctx.close()
        build_context(load_settings({}, {"database_url": sqlite_url,
                                         "var_dir": str(tmp_path / "v2")})).close()


def test_without_any_token_metrics_are_off(tmp_path: Path, sqlite_url: str) -> None:
    ctx = _context(tmp_path, sqlite_url)
    try:
        resp = create_app(context=ctx).test_client().get("/metrics")
        assert resp.status_code == 404 and "metrics_tokens" in resp.get_json()["message"]
    finally:
        set_context(None)
        ctx.close()
