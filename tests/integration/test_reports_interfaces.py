"""CLI, API, dashboard and digests show the same numbers for the same period."""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml
from click.testing import CliRunner

from plugin import tables as registry  # noqa: F401
from plugin.app import create_app
from plugin.cli import main
from plugin.context import Context, build_context
from plugin.reports.digest import weekly_period
from plugin.reports.metrics import EVENTS, JOB_LATENCY
from plugin.reports.report import fmt
from plugin.reports.sample import generate
from plugin.reports.schedule import build_text, weekly_report
from plugin.settings import load_settings

ROOT = Path(__file__).resolve().parents[2]
KYIV = ZoneInfo("Europe/Kyiv")
TOKEN = "admin-token-0123456789"
PERIOD = {"from": "2026-10-05", "to": "2026-11-15"}


@pytest.fixture
def stack(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Context]:
    config = tmp_path / "config"
    config.mkdir()
    shutil.copy(ROOT / "config" / "calendars.yaml", config / "calendars.yaml")
    (config / "deskpilot.yaml").write_text(yaml.safe_dump({
        "database_url": db_url, "admin_tokens": [TOKEN], "var_dir": str(tmp_path / "var"),
        "connections": [{"name": "generic", "kind": "generic",
                         "webhook_secrets": ["s3cret-s3cret"],
                         "options": {"ticket_url": "https://desk.example/t/{id}"}}],
    }))
    (config / "reports.yaml").write_text(yaml.safe_dump({
        "targets": {"within_1_hour": 0.25},
        "digest": {"connection": "generic", "ticket_id": "ADMIN-1"},
    }))
    monkeypatch.setenv("DESKPILOT_CONFIG_DIR", str(config))
    ctx = build_context(load_settings())
    ctx.db.create_all()
    with ctx.db.session() as session:
        generate(session, 400, datetime(2026, 9, 28, tzinfo=KYIV),
                 datetime(2026, 11, 16, tzinfo=KYIV), seed=11, companies=5)
    yield ctx
    ctx.close()


def cli_json(*extra: str) -> dict[str, Any]:
    res = CliRunner().invoke(main, ["report", "--from", PERIOD["from"], "--to", PERIOD["to"],
                                    "--format", "json", *extra])
    assert res.exit_code == 0, res.output
    return json.loads(res.output)


def api(ctx: Context, path: str, token: str | None = TOKEN, **params: str) -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return create_app(context=ctx).test_client().get(path, query_string=params, headers=headers)


def test_cli_api_and_dashboard_agree(stack: Context) -> None:
    from_cli = cli_json()
    resp = api(stack, "/api/reports/summary", **PERIOD)
    assert resp.status_code == 200
    from_api = resp.get_json()
    for part in ("period", "kpis", "by", "breaches", "profitability", "credits", "trend"):
        assert from_cli[part] == from_api[part], part
    assert from_api["kpis"]["within_1_hour"]["target"] == 0.25  # reports.yaml override
    assert from_api["period"]["working_days"] == 30
    assert from_api["stuck"] and from_api["stuck"][0]["url"].startswith("https://desk.example/t/")

    client = create_app(context=stack).test_client()
    assert client.get("/dashboard").status_code == 302
    signed = client.get("/dashboard", query_string={"token": TOKEN, **PERIOD})
    assert signed.status_code == 302 and "token" not in signed.headers["Location"]
    html = client.get("/dashboard", query_string=PERIOD).get_data(as_text=True)
    for key in ("within_1_day", "on_time", "first_response_median", "csat_satisfied", "stuck"):
        tile = re.search(rf'data-kpi="{key}">.*?class="value">([^<]*)<', html, re.S)
        assert tile is not None, key
        from_report = from_api["kpis"][key]
        shown = tile.group(1)
        if from_report["unit"] == "%":
            assert shown == f"{from_report['value'] * 100:.1f}%"
        else:
            assert shown == f"{from_report['value']:g}"
    weeks = re.findall(r'data-week="([^"]+)" data-resolved="(\d+)"', html)
    assert [(w, int(n)) for w, n in weeks] == [(p["week"], p["resolved"])
                                               for p in from_api["trend"]]
    # durations name their unit; the footer's time is the installation's, named (issue 22)
    assert "First response, median (working min)" in html
    footer = re.search(r"<footer>Generated (\d{4}-\d\d-\d\d \d\d:\d\d) · times in ([^ ]+) ·", html)
    assert footer is not None and footer.group(2) == stack.settings.timezone, html[-400:]
    assert " UTC ·" not in html


def test_company_and_manager_filters_pass_through(stack: Context) -> None:
    from_cli = cli_json("--company", "co-001", "--manager", "olena")
    from_api = api(stack, "/api/reports/kpis", company="co-001", manager="olena",
                   **PERIOD).get_json()
    assert from_cli["kpis"] == from_api["kpis"]
    assert from_api["filters"] == {"company": "co-001", "manager": "olena"}
    assert 0 < from_api["kpis"]["within_1_day"]["n"] < cli_json()["kpis"]["within_1_day"]["n"]


def test_table_and_csv_formats(stack: Context) -> None:
    for fmt_name, needle in (("table", "Resolved within 1 working day"),
                             ("csv", "all,,within_1_day,")):
        res = CliRunner().invoke(main, ["report", "--from", PERIOD["from"], "--to",
                                        PERIOD["to"], "--format", fmt_name])
        assert res.exit_code == 0 and needle in res.output
    bad = CliRunner().invoke(main, ["report", "--from", "yesterday"])
    assert bad.exit_code == 2 and "not a date" in bad.output


def test_api_needs_a_valid_token_and_a_valid_period(stack: Context) -> None:
    assert api(stack, "/api/reports/summary", token=None).status_code == 401
    assert api(stack, "/api/reports/summary", token="wrong-token-0123456789").status_code == 403
    bad = api(stack, "/api/reports/kpis", **{"from": "2026-13-01"})
    assert bad.status_code == 422 and bad.get_json()["code"] == "invalid-period"
    trend = api(stack, "/api/reports/trend", weeks="3", to="2026-11-15").get_json()["trend"]
    assert [p["week"] for p in trend] == ["2026-10-26", "2026-11-02", "2026-11-09"]
    assert api(stack, "/api/reports/stuck").get_json()["stuck"]


def test_metrics_endpoint_exposes_counters(stack: Context) -> None:
    EVENTS.labels(host="generic", outcome="duplicate").inc()
    JOB_LATENCY.labels(host="generic").observe(0.3)
    assert api(stack, "/metrics", token=None).status_code == 401  # operators only (issue 16)
    body = api(stack, "/metrics").get_data(as_text=True)  # an admin token reads it too
    assert 'deskpilot_events_total{host="generic",outcome="duplicate"}' in body
    assert "deskpilot_job_latency_seconds_bucket" in body
    assert "# TYPE deskpilot_queue_depth gauge" in body


def test_weekly_report_text_and_delivery(stack: Context, redis_url: str) -> None:
    now = datetime(2026, 11, 16, 9, 30, tzinfo=KYIV)
    text, key = build_text(stack, now, weekly_period, True)
    summary = api(stack, "/api/reports/summary", **{"from": "2026-11-09",
                                                    "to": "2026-11-15"}).get_json()
    n = summary["kpis"]["within_1_day"]["n"]
    assert key == "2026-11-09" and n == 52
    # this stack's config has no rules/: the packaged rules' team language (uk)
    lines = text.splitlines()
    assert lines[:3] == [
        "Тижневий звіт Deskpilot: 2026-11-09 – 2026-11-15", "Вирішено 52 задачі",
        "- Вирішено протягом 1 робочого дня: 75.0% (ціль >= 80%) НЕ ДОСЯГНУТО"]
    assert "- Вирішено з першого разу: 84.6% (ціль >= 70%) так" in lines
    assert "- Середня оцінка CSAT (1-5): 2.39" in lines  # no target
    assert "  composite: вирішено 4 задачі, протягом 1 дня 100.0%, вчасно 100.0%, з першого" \
           " разу 75.0%, за день 0.27, застряглих 2" in lines
    assert "За менеджерами:" in lines and "10 платних задач: записано 50.53 год з 66.0 год" \
        " оцінки, понад оцінку: 3" in lines
    # the team's language switched to English (the shipped rules, team_language: en)
    rules = stack.settings.config_dir / "rules"
    shutil.copytree(ROOT / "config" / "rules", rules)
    shutil.copy(ROOT / "config" / "plans.yaml", rules.parent / "plans.yaml")
    service = rules / "00-service.yaml"
    service.write_text(service.read_text().replace("team_language: uk", "team_language: en"))
    from plugin.rules_runtime import holder_for

    assert holder_for(stack.settings.config_dir).reload()
    en, _ = build_text(stack, now, weekly_period, True)
    lines = en.splitlines()
    assert lines[:3] == [
        "Deskpilot weekly report: 2026-11-09 – 2026-11-15", "Resolved: 52 tasks",
        "- Resolved within 1 working day: 75.0% (target >= 80%) MISS"]
    assert "- Resolved first time: 84.6% (target >= 70%) ok" in lines
    assert "- CSAT average (1-5): 2.39" in lines
    assert "  composite: 4 tasks resolved, within 1 day 100.0%, on time 100.0%, first time" \
           " 75.0%, per day 0.27, stuck 2" in lines
    assert "By manager:" in lines and "10 paid tasks: 50.53 h logged of 66.0 h estimated," \
        " 3 over estimate" in lines
    assert "  stuck: T-122 co-003, due 2026-09-29T14:33, https://desk.example/t/T-122" in lines
    text = en
    ctx = build_context(stack.settings)
    ctx.redis_url = redis_url
    try:
        assert weekly_report(ctx, now) == "weekly: queued to generic/ADMIN-1"
        assert weekly_report(ctx, now) == "weekly: already queued"
    finally:
        ctx.close()
    from plugin.outbox.rows import OutboxRow

    with stack.db.session() as session:
        rows = session.query(OutboxRow).all()
        assert len(rows) == 1 and rows[0].command["data"]["body"] == text


def test_fmt_helper_matches_tiles() -> None:
    from plugin.reports.kpis import Kpi

    assert fmt(Kpi("within_1_day", 0.8125, 0.8, True, 16)) == "81.2%"
    assert fmt(Kpi("first_response_median", 42.5, 60, True, 3)) == "42.5"


def test_openapi_document_lists_the_reports_paths() -> None:
    from plugin.openapi import build_spec

    paths = build_spec().to_dict()["paths"]
    for path in ("/api/reports/summary", "/api/reports/kpis", "/api/reports/stuck",
                 "/api/reports/trend"):
        assert "401" in paths[path]["get"]["responses"]
