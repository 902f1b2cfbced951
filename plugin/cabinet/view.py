"""Everything one company's cabinet shows, built once as a JSON-able dict: the page renders
it, ``/api/cabinet`` returns it.

Read-only: ledger reads, ticket rows and the team's report (``report_for`` with the company
filter, so the KPIs are the report's own numbers). Every list is a bounded page.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from plugin.cabinet import credits as cr
from plugin.cabinet import schedule as sc
from plugin.cabinet import tasks as tk
from plugin.cabinet.host_links import client_url
from plugin.cabinet.lang import company_language, pick
from plugin.ledger.plans import PlansError, load_plans
from plugin.reports.service import load_config, report_for, team_calendar
from plugin.settings import Settings
from plugin.storage.models import Company
from rules.config.model import RuleSet

log = logging.getLogger("deskpilot.cabinet")
#: the KPIs the page shows (the JSON carries every KPI of the report)
SHOWN_KPIS = ("on_time", "first_response_median", "within_1_day", "first_time_resolution",
              "csat_avg")
#: the highest page number accepted (a page past the data is simply empty)
MAX_PAGE = 10_000


class BadRequest(ValueError):
    """A query parameter the cabinet cannot use (a bad period, page)."""


def current_rules(settings: Settings) -> RuleSet | None:
    """The rules the workers use; None when none are valid (the cabinet then falls back to
    the team calendar, no manager routing and Ukrainian)."""
    from plugin.rules_runtime import current

    try:
        return current(settings.config_dir)
    except (RuntimeError, OSError) as exc:
        log.warning("cabinet: no valid rules (%s); using defaults", exc)
        return None


def _page(args: Mapping[str, str], name: str) -> int:
    raw = args.get(name) or "1"
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_PAGE:
        raise BadRequest(f"{name} must be a page number from 1 to {MAX_PAGE}")
    return int(raw)


def _soon_days(settings: Settings, company: Company | None) -> int:
    try:
        return load_plans(settings.config_dir).get(company.plan if company else None) \
            .expiring_soon_days
    except (PlansError, KeyError):
        return 14


def company_zone(session: Session, settings: Settings, company_id: str) -> ZoneInfo:
    """The zone the company's cabinet shows instants in (its calendar's, else the team's)."""
    rules = current_rules(settings)
    team = team_calendar(settings, load_config(settings.config_dir).team_calendar)
    cals = sc.calendars_of(rules, team)
    return sc.company_calendar(rules, session.get(Company, company_id), company_id, cals).tz


def build(session: Session, settings: Settings, company_id: str, now: datetime,
          args: Mapping[str, str]) -> dict[str, Any]:
    """The cabinet of ``company_id`` as of ``now`` for the query ``args`` (``lang``,
    ``open_page`` of open tasks, ``page`` of finished tasks, ``statement_page``,
    ``from``/``to`` of the KPI period)."""
    from plugin.reports.service import PeriodError

    rules = current_rules(settings)
    company = session.get(Company, company_id)
    configured = company_language(rules, company_id)
    lang = pick(args.get("lang"), configured)
    team_name = load_config(settings.config_dir).team_calendar
    team = team_calendar(settings, team_name)
    cals = sc.calendars_of(rules, team)
    zone_cal = sc.company_calendar(rules, company, company_id, cals)
    tz = zone_cal.tz
    page, st_page = _page(args, "page"), _page(args, "statement_page")
    open_at = _page(args, "open_page")
    try:
        report = report_for(session, settings, now, args.get("from") or None,
                            args.get("to") or None, company_id, None, trend_weeks=0)
    except PeriodError as exc:
        raise BadRequest(str(exc)) from exc
    labels = {name: spec.label.get(lang) or spec.label.get("en") or name
              for name, spec in (rules.types.items() if rules else ())}

    def link(conn: str, tid: str, snapshot: Mapping[str, Any] | None) -> str | None:
        return client_url(settings, conn, tid, snapshot)

    open_rows, open_total = tk.open_page(session, company_id, open_at)
    done_rows, done_total = tk.done_page(session, company_id, page)
    done_pager = tk.paging(page, done_total)

    def shape(row: Any) -> dict[str, Any]:
        return tk.shape(row, tz, now, cals.get, link, labels)

    soon = _soon_days(settings, company)
    manager = sc.manager_of(rules, company, company_id)
    last = report.end.astimezone(report.start.tzinfo)
    return {
        "company": {"id": company_id, "name": (company.name if company else None) or company_id,
                    "timezone": tz.key, "calendar": zone_cal.name},
        "language": lang,
        "configured_language": configured,
        "generated_at": now.astimezone(tz).isoformat(),
        "tasks": {
            "open": [shape(r) for r in open_rows],
            "open_total": open_total,
            "open_pager": tk.paging(open_at, open_total),
            "finished": [shape(r) for r in done_rows],
            "finished_pager": done_pager,
            "page": page, "page_size": tk.PAGE_SIZE, "more": done_pager["more"],
        },
        "credits": cr.credits(session, company_id, now, tz, soon),
        "statement": cr.statement_page(session, company_id, st_page, tz),
        "manager": sc.manager(rules, manager, cals, tz, now),
        "cap": sc.cap_usage(session, rules, company_id, team, now),
        "kpis": {
            "period": {"from": report.start.isoformat(), "to": report.end.isoformat(),
                       "first_day": report.start.date().isoformat(),
                       "last_day": (last - timedelta(microseconds=1)).date().isoformat(),
                       "working_days": report.working_days},
            "values": {key: k.to_json() for key, k in report.kpis.items()},
            "shown": list(SHOWN_KPIS),
        },
    }
