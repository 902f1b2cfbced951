"""SQL aggregation agrees with the Python formulas, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from types import SimpleNamespace
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import inspect, select
from sqlalchemy.orm import Session

from plugin import tables as registry  # noqa: F401
from plugin.reports import queries as q
from plugin.reports.kpis import compute, tally_rows
from plugin.reports.models import COVERING, TicketMetrics
from plugin.reports.report import build_report, render_csv, render_table
from plugin.reports.sample import generate
from plugin.storage.db import Database
from plugin.storage.migrate import upgrade
from plugin.storage.models import Ticket
from tests.reports_support import team_calendar

KYIV = ZoneInfo("Europe/Kyiv")
START = datetime(2026, 10, 5, tzinfo=KYIV)
END = datetime(2026, 11, 30, tzinfo=KYIV)


@pytest.fixture
def session(db_url: str) -> Iterator[Session]:
    db = Database(db_url)
    db.create_all()
    with db.session() as s:
        generate(s, 800, START, END, seed=3, companies=6)
        yield s
    db.dispose()


def rows(session: Session, pred: Any = None) -> list[SimpleNamespace]:
    out = []
    for m, t in session.execute(select(TicketMetrics, Ticket).join(Ticket)):
        # the copied dimensions the queries group by are the ticket's own
        assert (m.task_type, m.priority, m.company_id, m.manager) == (
            t.task_type, t.priority, t.company_id, t.manager)
        if pred is None or pred(t):
            out.append(SimpleNamespace(**{c.key: getattr(m, c.key)
                                          for c in TicketMetrics.__table__.columns}))
    return out


def values(kpis: dict) -> dict[str, Any]:
    return {k: v.value for k, v in kpis.items()}


def test_sql_tallies_match_python_over_rows(session: Session) -> None:
    a, b = datetime(2026, 10, 19, tzinfo=KYIV), datetime(2026, 11, 9, tzinfo=KYIV)
    cal = team_calendar()
    report = build_report(session, a, b, END, cal)
    expected = tally_rows(rows(session), a, b)
    assert expected.resolved > 100 and expected.rated10 and expected.rated5 and expected.paid
    assert values(report.kpis) | {"stuck": None} == values(compute(expected, 15))
    assert report.working_days == 15
    for task_type in ("simple", "enhancement"):
        mine = tally_rows(rows(session, lambda t, tt=task_type: t.task_type == tt), a, b)
        got = values(report.by["type"][task_type])
        assert got | {"stuck": None} == values(compute(mine, 15)) | {"stuck": None}


def test_company_filter_restricts_every_cohort(session: Session) -> None:
    a, b = START, END
    report = build_report(session, a, b, END, team_calendar(), q.Filters(company="co-002"))
    expected = tally_rows(rows(session, lambda t: t.company_id == "co-002"), a, b)
    assert report.kpis["within_1_day"].n == expected.resolved
    assert report.kpis["csat_satisfied"].n == expected.rated5
    assert set(report.by["company"]) == {"co-002"}


def test_stuck_breaches_lists_and_trend(session: Session) -> None:
    now = END + timedelta(days=3)
    report = build_report(session, START, END, now, team_calendar(),
                          link=lambda conn, tid: f"https://desk.example/{tid}")
    open_overdue = [
        t for t in session.execute(select(Ticket)).scalars()
        if t.status not in ("resolved", "closed") and t.resolve_due is not None
        and t.resolve_due < now and t.last_event_at is not None
        and t.last_event_at < now - timedelta(hours=24)
    ]
    assert report.kpis["stuck"].value == len(open_overdue) > 0
    assert report.stuck[0]["url"] == f"https://desk.example/{report.stuck[0]['ticket_id']}"
    late = sum(1 for r in rows(session) if r.resolved_on_time == 0
               and START <= r.resolved_at < END)
    assert report.breaches["resolve"] == late
    assert all(item["resolved_at"] for item in report.late)
    assert len(report.trend) == 8 and report.trend[-1]["week"] == "2026-11-23"
    weekly = sum(p["resolved"] for p in report.trend)
    assert weekly == sum(1 for r in rows(session) if r.resolved_at and START <= r.resolved_at < END)
    text = render_table(report)
    assert "Resolved within 1 working day" in text and "By company:" in text
    # the dates asked for, END exclusive, in the report's zone (not two ISO instants)
    assert text.splitlines()[0].startswith(
        "Quality report 2026-10-05 .. 2026-11-29 (Europe/Kyiv, "), text.splitlines()[0]
    assert "First response, median (working min)" in text
    assert render_csv(report).splitlines()[0] == "dimension,group,kpi,value,target,ok,n"


def test_migration_builds_the_models_columns_and_covering_indexes(db_url: str) -> None:
    upgrade(db_url)
    db = Database(db_url)
    try:
        insp = inspect(db.engine)
        columns = {c["name"] for c in insp.get_columns("ticket_metrics")}
        assert columns == set(TicketMetrics.__table__.columns.keys())
        indexes = {ix["name"]: tuple(ix["column_names"])
                   for ix in insp.get_indexes("ticket_metrics")}
        assert indexes == COVERING
        open_due = [ix for ix in insp.get_indexes("tickets") if ix["name"] == "ix_tickets_open_due"]
        assert [tuple(ix["column_names"]) for ix in open_due] == [
            ("resolve_due", "task_type", "priority", "company_id", "manager", "last_event_at",
             "filed_at")]
    finally:
        db.dispose()
