"""Whose calendar is whose: the company's zone, its dedicated manager and their working
windows (shown in the company's zone), and today's use of the daily cap."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from plugin.processing.models import CapSlot
from plugin.storage.models import Company
from rules.calendar import Calendar
from rules.calendar.business_time import open_intervals
from rules.config.model import RuleSet

#: how far ahead the manager's windows are looked for (a long holiday still finds one)
HORIZON = timedelta(days=21)
#: days of the schedule shown
WEEK = 7


@dataclass(frozen=True)
class Calendars:
    """The calendars by name, with the team's as the fallback for a missing name."""

    by_name: dict[str, Calendar]
    team: Calendar

    def get(self, name: str | None) -> Calendar:
        found = self.by_name.get(name or "")
        return found if found is not None else self.team


def calendars_of(rules: RuleSet | None, team: Calendar) -> Calendars:
    found = dict(rules.calendars) if rules is not None else {}
    return Calendars({k: v for k, v in found.items() if isinstance(v, Calendar)}, team)


def company_calendar(rules: RuleSet | None, company: Company | None, company_id: str,
                     cals: Calendars) -> Calendar:
    """The client's own calendar (routing, else the company row), else the team's."""
    name = (rules.company_calendar.get(company_id) if rules is not None else None) or (
        company.calendar if company is not None else None)
    return cals.get(name)


def manager_of(rules: RuleSet | None, company: Company | None, company_id: str) -> str | None:
    name = rules.company_manager.get(company_id) if rules is not None else None
    return name or (company.manager if company is not None else None)


def manager(rules: RuleSet | None, name: str | None, cals: Calendars, tz: ZoneInfo,
            now: datetime) -> dict[str, Any] | None:
    """The manager, their next working window and the coming week's windows, all in the
    client's zone ``tz`` (the calendar's holidays and overrides applied)."""
    if not name:
        return None
    cal_name = rules.manager_calendar.get(name) if rules is not None else None
    cal = cals.get(cal_name)
    windows = open_intervals(now, now + HORIZON, cal)
    nxt = windows[0] if windows else None
    days: dict[date, list[str]] = {}
    start = now.astimezone(tz).date()
    for i in range(WEEK):
        days[start + timedelta(days=i)] = []
    # the week from the client's midnight today: today's earlier windows count as its schedule
    midnight = datetime(start.year, start.month, start.day, tzinfo=tz)
    for a, b in open_intervals(midnight, midnight + timedelta(days=WEEK + 1), cal):
        a_local, b_local = a.astimezone(tz), b.astimezone(tz)
        if a_local.date() in days:
            days[a_local.date()].append(f"{a_local:%H:%M}–{_end(b_local, a_local)}")
    return {
        "name": name,
        "calendar": cal.name,
        "calendar_timezone": cal.tz.key,
        "working_now": bool(nxt and nxt[0] <= now),
        "next_window": None if nxt is None else {
            "start": nxt[0].astimezone(tz).isoformat(), "end": nxt[1].astimezone(tz).isoformat()},
        "week": [{"date": d.isoformat(), "weekday": d.weekday(), "windows": w}
                 for d, w in days.items()],
    }


def _end(b: datetime, a: datetime) -> str:
    # a window ending at the next local midnight reads 24:00, not 00:00
    if b.date() != a.date() and b.hour == 0 and b.minute == 0:
        return "24:00"
    return f"{b:%H:%M}"


def cap_usage(session: Session, rules: RuleSet | None, company_id: str, team: Calendar,
              now: datetime) -> dict[str, Any]:
    """Tasks whose clocks start today (the team calendar's date) against the daily cap."""
    today = now.astimezone(team.tz).date()
    used = session.execute(select(func.count()).select_from(CapSlot).where(
        CapSlot.company_id == company_id, CapSlot.day == today)).scalar_one()
    cap = rules.cap if rules is not None else None
    return {"date": today.isoformat(), "used": int(used),
            "max": cap.max if cap is not None else None,
            "exempt_types": sorted(cap.exempt_types) if cap is not None else []}
