"""What every report interface shares: periods, the team calendar, targets, host links.

Optional ``<config dir>/reports.yaml`` (``config/reports.yaml`` ships every key, commented)::

    team_calendar: default        # the calendar whose working days the report counts
    idle_hours: 24                # no activity this long makes an overdue task "stuck"
    targets: {within_1_day: 0.8}  # override any KPI target of plugin.reports.kpis
    digest: {connection: zammad, ticket_id: "4711"}   # where digests go (internal note)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import yaml
from sqlalchemy.orm import Session

from plugin.reports.kpis import BY_KEY
from plugin.reports.queries import Filters
from plugin.reports.report import Report, build_report
from plugin.settings import Settings
from plugin.storage.db import SUPPORTED_YEARS, in_supported_range
from rules.calendar import Calendar, load_calendars
from rules.event import company_key

#: a report without --from/--to covers the last 28 days and today
DEFAULT_DAYS = 28
#: where a ticket lives in each host's web UI, by connection kind
TICKET_URLS = {
    "zammad": "{base}/#ticket/zoom/{id}",
    "zendesk": "{base}/agent/tickets/{id}",
    "freshdesk": "{base}/a/tickets/{id}",
    "redmine": "{base}/issues/{id}",
    "django_helpdesk": "{base}/tickets/{id}/",
}


class PeriodError(ValueError):
    """A --from/--to value that is neither a date nor an ISO datetime with offset."""


@dataclass(frozen=True)
class ReportConfig:
    """The reports section of the configuration."""

    team_calendar: str = "default"
    idle_hours: float = 24
    targets: dict[str, float | None] = field(default_factory=dict)
    digest: dict[str, Any] = field(default_factory=dict)


def load_config(config_dir: Path) -> ReportConfig:
    path = Path(config_dir) / "reports.yaml"
    if not path.exists():
        return ReportConfig()
    raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    unknown = set(raw.get("targets") or {}) - set(BY_KEY)
    if unknown:
        raise ValueError(f"{path}: targets: unknown KPI {sorted(unknown)}")
    return ReportConfig(
        team_calendar=str(raw.get("team_calendar", "default")),
        idle_hours=float(raw.get("idle_hours", 24)),
        targets=dict(raw.get("targets") or {}),
        digest=dict(raw.get("digest") or {}),
    )


@lru_cache(maxsize=8)
def _calendars(path: str, mtime: float) -> dict[str, Calendar]:
    return load_calendars(path)


def team_calendar(settings: Settings, name: str = "default") -> Calendar:
    path = Path(settings.config_dir) / "calendars.yaml"
    return _calendars(str(path), path.stat().st_mtime)[name]


def parse_bound(value: str, tz: ZoneInfo, end: bool) -> datetime:
    """``YYYY-MM-DD`` (local midnight; an end date is inclusive) or an ISO datetime."""
    try:
        if len(value) == 10:
            d = date.fromisoformat(value) + timedelta(days=1 if end else 0)
            at = datetime(d.year, d.month, d.day, tzinfo=tz)
        else:
            at = datetime.fromisoformat(value)
    except (ValueError, OverflowError) as exc:
        raise PeriodError(f"not a date or datetime: {value!r}") from exc
    if at.tzinfo is None:
        raise PeriodError(f"datetime needs an offset: {value!r}")
    if not in_supported_range(at):
        raise PeriodError(f"{value!r} is outside the supported years "
                          f"{SUPPORTED_YEARS.start}-{SUPPORTED_YEARS.stop - 1}")
    return at


def period(start: str | None, end: str | None, tz: ZoneInfo,
           now: datetime) -> tuple[datetime, datetime]:
    """The report period; defaults to the last 28 days and today, in local days."""
    today = now.astimezone(tz).date()
    b = parse_bound(end, tz, True) if end else parse_bound(today.isoformat(), tz, True)
    if start:
        a = parse_bound(start, tz, False)
    else:
        first = b.date() - timedelta(days=DEFAULT_DAYS + 1)
        a = datetime(first.year, first.month, first.day, tzinfo=tz)
    if a >= b:
        raise PeriodError("--from must be before --to")
    return a, b


def ticket_url(settings: Settings, connection: str, ticket_id: str) -> str | None:
    """The ticket in the host's UI; ``options.ticket_url`` of the connection wins."""
    conn = settings.connection(connection)
    if conn is None:
        return None
    template = conn.options.get("ticket_url") or TICKET_URLS.get(conn.kind)
    if not template or (not conn.base_url and "{base}" in template):
        return None
    return str(template).format(base=(conn.base_url or "").rstrip("/"), id=ticket_id)


def report_for(
    session: Session, settings: Settings, now: datetime, start: str | None = None,
    end: str | None = None, company: str | None = None, manager: str | None = None,
    trend_weeks: int = 8,
) -> Report:
    """The report every interface shows for the same arguments."""
    cfg = load_config(settings.config_dir)
    cal = team_calendar(settings, cfg.team_calendar)
    a, b = period(start, end, cal.tz, now)
    return build_report(
        session, a, b, now, cal, Filters(company_key(company) if company else None, manager),
        cfg.targets,
        timedelta(hours=cfg.idle_hours), trend_weeks,
        link=lambda conn, tid: ticket_url(settings, conn, tid),
    )
