"""One report over a period, built once and rendered as JSON, a table or CSV.

The CLI, the API, the dashboard and the digests all call :func:`build_report`, so they show
the same numbers for the same period.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from plugin.csv_cells import SafeWriter
from plugin.reports import lists
from plugin.reports import queries as q
from plugin.reports.credits import credit_summary
from plugin.reports.kpis import BY_KEY, DEFINITIONS, Kpi, Tally, compute, working_days
from rules.calendar import Calendar

#: open tasks past their deadline with no activity this long are "stuck"
DEFAULT_IDLE = timedelta(hours=24)
Linker = Callable[[str, str], str | None]


@dataclass
class Report:
    """KPIs overall and per dimension, plus the lists and the weekly trend behind them."""

    start: datetime
    end: datetime
    generated_at: datetime
    filters: q.Filters
    working_days: int
    kpis: dict[str, Kpi]
    by: dict[str, dict[str, dict[str, Kpi]]]
    breaches: dict[str, int]
    profitability: dict[str, Any]
    credits: dict[str, Any] | None
    stuck: list[dict[str, Any]] = field(default_factory=list)
    late: list[dict[str, Any]] = field(default_factory=list)
    trend: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        def full(k: Kpi) -> dict[str, Any]:
            d = BY_KEY[k.key]
            return {**k.to_json(), "label": d.label, "unit": d.unit, "formula": d.formula}

        return {
            "period": {"from": self.start.isoformat(), "to": self.end.isoformat(),
                       "working_days": self.working_days},
            "filters": {"company": self.filters.company, "manager": self.filters.manager},
            "generated_at": self.generated_at.isoformat(),
            "kpis": {key: full(k) for key, k in self.kpis.items()},
            "breaches": self.breaches,
            "by": {dim: {name: {key: k.to_json() for key, k in ks.items()}
                         for name, ks in groups.items()} for dim, groups in self.by.items()},
            "profitability": self.profitability,
            "credits": self.credits,
            "stuck": self.stuck,
            "late": self.late,
            "trend": self.trend,
        }


def build_report(
    session: Session, start: datetime, end: datetime, now: datetime, team: Calendar,
    filters: q.Filters | None = None, targets: Mapping[str, float | None] | None = None,
    idle: timedelta = DEFAULT_IDLE, trend_weeks: int = 8, link: Linker | None = None,
) -> Report:
    """The report of ``[start, end)``; stuck tasks are as of ``now``."""
    filters = filters or q.Filters()
    days = working_days(start, end, team)
    bounds = trend_bounds(end, team, trend_weeks)
    found = q.cohorts(session, start, end, filters, bounds)
    groups = found.groups
    stuck = lists.stuck_groups(session, now, idle, filters)
    overall = groups[""].get("", Tally())
    by: dict[str, dict[str, dict[str, Kpi]]] = {}
    for i, dim in enumerate(q.DIMS):
        stuck_by: dict[str, int] = {}
        for key, n in stuck.items():
            stuck_by[key[i]] = stuck_by.get(key[i], 0) + n
        tallies = groups[dim]
        names = sorted(set(tallies) | set(stuck_by))
        by[dim] = {name: compute(tallies.get(name, Tally()), days, stuck_by.get(name, 0),
                                 targets) for name in names}
    report = Report(
        start, end, now, filters, days,
        compute(overall, days, sum(stuck.values()), targets),
        by,
        found.breaches,
        {
            "paid": overall.paid,
            "estimate_hours": round(overall.paid_estimate_hours, 2),
            "logged_hours": round(overall.paid_logged_minutes / 60, 2),
            "overruns": overall.overruns,
            "tasks": lists.overrun_list(session, start, end, filters),
        },
        credit_summary(session, start, end, filters.company),
        lists.stuck_list(session, now, idle, filters),
        lists.late_list(session, start, end, filters),
        trend_points(bounds, found.weeks),
    )
    if link is not None:
        for item in (*report.stuck, *report.late, *report.profitability["tasks"]):
            item["url"] = link(item["connection"], item["ticket_id"])
    return report


def week_start(at: datetime, cal: Calendar) -> datetime:
    """Monday 00:00 in the calendar's zone of the week holding ``at``."""
    local = at.astimezone(cal.tz)
    monday = local.date() - timedelta(days=local.weekday())
    return datetime(monday.year, monday.month, monday.day, tzinfo=cal.tz)


def trend_bounds(end: datetime, team: Calendar, weeks: int) -> list[datetime]:
    """The ``weeks + 1`` local Mondays bounding the last ``weeks`` calendar weeks up to the
    one holding ``end``."""
    if weeks <= 0:
        return []
    last = week_start(end - timedelta(microseconds=1), team)
    first = _shift_weeks(last, -(weeks - 1), team)
    return [_shift_weeks(first, i, team) for i in range(weeks + 1)]


def trend_points(bounds: list[datetime], weekly: list[Tally]) -> list[dict[str, Any]]:
    """One point per week, oldest first: resolved count and the resolution shares."""
    points: list[dict[str, Any]] = []
    for a, t in zip(bounds, weekly, strict=False):
        k = compute(t, 0)
        points.append({
            "week": a.date().isoformat(), "resolved": t.resolved,
            "within_1_day": k["within_1_day"].value, "on_time": k["on_time"].value,
            "first_time_resolution": k["first_time_resolution"].value,
        })
    return points


def _shift_weeks(at: datetime, weeks: int, cal: Calendar) -> datetime:
    # wall-clock arithmetic: a DST week is 167 or 169 hours long, Monday stays Monday 00:00
    d = at.date() + timedelta(weeks=weeks)
    return datetime(d.year, d.month, d.day, tzinfo=cal.tz)


# -- renderings -------------------------------------------------------------------------
def fmt(k: Kpi) -> str:
    unit = BY_KEY[k.key].unit
    if k.value is None:
        return "-"
    if unit == "%":
        return f"{k.value * 100:.1f}%"
    return f"{k.value:g}"


def fmt_target(k: Kpi) -> str:
    if k.target is None:
        return ""
    d = BY_KEY[k.key]
    side = ">=" if d.higher_is_better else "<="
    shown = f"{k.target * 100:g}%" if d.unit == "%" else f"{k.target:g}"
    return f"{side} {shown}"


def render_json(report: Report) -> str:
    return json.dumps(report.to_json(), indent=2, ensure_ascii=False)


def render_table(report: Report) -> str:
    # the dates a person asked for (--to is inclusive), in the report's own zone
    last = report.end.astimezone(report.start.tzinfo) - timedelta(microseconds=1)
    lines = [f"Quality report {report.start.date().isoformat()} .. {last.date().isoformat()}"
             f" ({report.start.tzinfo}, {report.working_days} working days)"]
    width = max(len(d.label) for d in DEFINITIONS)
    for d in DEFINITIONS:
        k = report.kpis[d.key]
        mark = {True: "ok", False: "MISS", None: ""}[k.ok]
        lines.append(f"  {d.label:<{width}}  {fmt(k):>9}  {fmt_target(k):>9}  n={k.n:<6} {mark}")
    b = report.breaches
    lines.append(f"  Breaches: accept {b['accept']}, first response {b['first_response']},"
                 f" resolve {b['resolve']}")
    for dim, groups in report.by.items():
        lines.append(f"By {dim}:")
        for name, ks in groups.items():
            cells = ", ".join(f"{key}={fmt(ks[key])}" for key in
                              ("within_1_day", "on_time", "first_time_resolution", "csat_avg"))
            lines.append(f"  {name}: resolved={ks['within_1_day'].n}, {cells}")
    return "\n".join(lines)


def render_csv(report: Report) -> str:
    buf = io.StringIO()
    w = SafeWriter(buf, lineterminator="\n")  # no formula from a payload's ids
    w.writerow(["dimension", "group", "kpi", "value", "target", "ok", "n"])
    rows: list[tuple[str, str, dict[str, Kpi]]] = [("all", "", report.kpis)]
    rows += [(dim, name, ks) for dim, groups in report.by.items() for name, ks in groups.items()]
    for dim, name, ks in rows:
        for key, k in ks.items():
            ok = "" if k.ok is None else str(k.ok).lower()
            w.writerow([dim, name, key, "" if k.value is None else k.value,
                        "" if k.target is None else k.target, ok, k.n])
    return buf.getvalue()
