"""The daily digest and the weekly report: text built from the same report as everything else.

Delivered as an internal note on the admin ticket named in ``reports.yaml`` (``digest:
{connection, ticket_id}``) through the outbox, keyed by period so a digest goes out once.
The team reads it, so it is written in the team's language (``defaults.team_language``)
from the ``digest_*`` templates (:mod:`rules.config.team_templates`).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from plugin.reports.report import Report, fmt, fmt_target
from plugin.team_texts import team_text
from rules.config.model import RuleSet
from rules.config.team_templates import DIGEST_KPIS

log = logging.getLogger("deskpilot.reports")


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


def _kpi_line(rules: RuleSet, report: Report, key: str) -> str:
    k = report.kpis[key]
    label = team_text(rules, f"digest_kpi_{key}")
    target = fmt_target(k)
    if not target:
        return team_text(rules, "digest_kpi", kpi=label, value=fmt(k))
    return team_text(rules, "digest_kpi_met" if k.ok else "digest_kpi_missed", kpi=label,
                     value=fmt(k), target=target)


def render_digest(rules: RuleSet, report: Report, weekly: bool = False) -> str:
    """Plain text for a note or an e-mail: headline KPIs, breaches, stuck tasks, credits;
    every line a team template (``digest_*``) in the team's language of ``rules``."""
    last = (report.end.astimezone(report.start.tzinfo) - timedelta(microseconds=1)).date()
    first = report.start.date()
    span = first.isoformat() if first == last else f"{first.isoformat()} – {last.isoformat()}"
    title = "digest_weekly_title" if weekly else "digest_daily_title"
    lines = [team_text(rules, title, period=span),
             team_text(rules, "digest_resolved", resolved=report.kpis["within_1_day"].n)]
    lines += [_kpi_line(rules, report, key) for key in DIGEST_KPIS
              if report.kpis[key].value is not None or key == "stuck"]
    b = report.breaches
    lines.append(team_text(rules, "digest_breaches", accept=b["accept"],
                           first_response=b["first_response"], resolve=b["resolve"]))
    for item in report.stuck[:10]:
        where = item.get("url") or f"{item['connection']}/{item['ticket_id']}"
        lines.append(team_text(rules, "digest_stuck", ticket_id=item["ticket_id"],
                               company=item.get("company") or "",
                               due=(item["resolve_due"] or "")[:16], link=where))
    if report.credits:
        c = report.credits
        money = (", ".join(f"{v:g} {cur}" for cur, v in c["money"].items())
                 or team_text(rules, "digest_no_money"))
        lines.append(team_text(rules, "digest_credits", sold=c["sold"], reserved=c["reserved"],
                               used=c["used"], burned=c["burned"], money=money))
    if weekly:
        p = report.profitability
        lines.append(team_text(rules, "digest_paid", paid=p["paid"],
                               logged_hours=p["logged_hours"],
                               estimate_hours=p["estimate_hours"], overruns=p["overruns"]))
        for dim in ("manager", "type"):
            lines.append(team_text(rules, f"digest_by_{dim}"))
            for name, ks in report.by[dim].items():
                lines.append(team_text(
                    rules, "digest_group", name=name, resolved=ks["within_1_day"].n,
                    within_1_day=fmt(ks["within_1_day"]), on_time=fmt(ks["on_time"]),
                    first_time=fmt(ks["first_time_resolution"]),
                    per_day=fmt(ks["solved_per_specialist_day"]), stuck=fmt(ks["stuck"])))
    return "\n".join(lines)
