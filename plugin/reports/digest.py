"""The daily digest and the weekly report: text built from the same report as everything else.

Delivered as an internal note on the admin ticket named in ``reports.yaml`` (``digest:
{connection, ticket_id}``) through the outbox, keyed by period so a digest goes out once.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from plugin.reports.kpis import BY_KEY
from plugin.reports.report import Report, fmt, fmt_target

log = logging.getLogger("deskpilot.reports")

HEADLINE = ("within_1_day", "within_1_hour", "on_time", "first_time_resolution",
            "first_response_median", "first_response_p90", "messages_per_ticket",
            "csat_avg", "csat_satisfied", "nps", "solved_per_specialist_day", "stuck")


def daily_period(now: datetime, tz: Any) -> tuple[datetime, datetime]:
    """Yesterday, local midnight to midnight."""
    today = now.astimezone(tz).date()
    y = today - timedelta(days=1)
    return (datetime(y.year, y.month, y.day, tzinfo=tz),
            datetime(today.year, today.month, today.day, tzinfo=tz))


def weekly_period(now: datetime, tz: Any) -> tuple[datetime, datetime]:
    """The last full week, Monday to Monday, local."""
    today = now.astimezone(tz).date()
    monday = today - timedelta(days=today.weekday())
    prev = monday - timedelta(days=7)
    return (datetime(prev.year, prev.month, prev.day, tzinfo=tz),
            datetime(monday.year, monday.month, monday.day, tzinfo=tz))


def _kpi_line(report: Report, key: str) -> str:
    k = report.kpis[key]
    mark = {True: "ok", False: "MISS", None: ""}[k.ok]
    target = fmt_target(k)
    return f"- {BY_KEY[key].label}: {fmt(k)}" + (f" (target {target}) {mark}" if target else "")


def render_digest(report: Report, title: str, weekly: bool = False) -> str:
    """Plain text for a note or an e-mail: headline KPIs, breaches, stuck tasks, credits."""
    last = (report.end.astimezone(report.start.tzinfo) - timedelta(microseconds=1)).date()
    first = report.start.date()
    span = first.isoformat() if first == last else f"{first.isoformat()} – {last.isoformat()}"
    lines = [f"{title}: {span}", f"Resolved: {report.kpis['within_1_day'].n}"]
    lines += [_kpi_line(report, key) for key in HEADLINE if report.kpis[key].value is not None
              or key == "stuck"]
    b = report.breaches
    lines.append(f"Breaches: acceptance {b['accept']}, first response {b['first_response']},"
                 f" resolution {b['resolve']}")
    for item in report.stuck[:10]:
        where = item.get("url") or f"{item['connection']}/{item['ticket_id']}"
        lines.append(f"  stuck: {item['ticket_id']} {item.get('company') or ''}"
                     f" due {(item['resolve_due'] or '')[:16]} {where}")
    if report.credits:
        c = report.credits
        money = ", ".join(f"{v:g} {cur}" for cur, v in c["money"].items()) or "none"
        lines.append(f"Credits: sold {c['sold']}, reserved {c['reserved']}, used {c['used']},"
                     f" burned {c['burned']}; money billed {money}")
    if weekly:
        p = report.profitability
        lines.append(f"Paid tasks: {p['paid']}, {p['logged_hours']} h logged of"
                     f" {p['estimate_hours']} h estimated, {p['overruns']} over estimate")
        for dim in ("manager", "type"):
            lines.append(f"By {dim}:")
            for name, ks in report.by[dim].items():
                lines.append(
                    f"  {name}: resolved {ks['within_1_day'].n}, within 1 day"
                    f" {fmt(ks['within_1_day'])}, on time {fmt(ks['on_time'])}, first time"
                    f" {fmt(ks['first_time_resolution'])}, per day"
                    f" {fmt(ks['solved_per_specialist_day'])}, stuck {fmt(ks['stuck'])}"
                )
    return "\n".join(lines)
