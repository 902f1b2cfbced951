"""``rules check``: warn when a calendar in use has no holiday data for this or next year.

Holidays run out silently otherwise: ``holidays`` lists none for Ukraine while martial law
suspends public holidays, so a calendar whose explicit dates stop at 31 December makes
1 January a working day (issue 17). A calendar has holiday data for a year when any of
its explicit dates, yearly dates, closed overrides or the ``holidays`` package's days fall
in it; an intersection has it when each of its parts has.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date
from typing import Any

from rules.config.source import Problem, Source

ROLES = ("client", "manager")


def has_holiday_data(cal: Any, year: int) -> bool:
    parts = getattr(cal, "parts", None)
    if parts:
        return all(has_holiday_data(p, year) for p in parts)
    if getattr(cal, "yearly", None):
        return True
    if any(d.year == year for d in getattr(cal, "closed_dates", {}) or {}):
        return True
    overrides = getattr(cal, "overrides", {}) or {}
    if any(d.year == year and not windows for d, (windows, _) in overrides.items()):
        return True
    country_year = getattr(cal, "_country_year", None)
    return bool(getattr(cal, "country", None) and country_year and country_year(year))


def calendars_in_use(rules: Any) -> list[str]:
    """The team's and default calendars, and every calendar a policy or routing names."""
    names: list[str] = [rules.default_calendar, rules.team_calendar]
    for policy in rules.policies:
        names.extend(c for c in policy.calendar if c not in ROLES)
    names.extend(rules.manager_calendar.values())
    names.extend(rules.company_calendar.values())
    seen: list[str] = []
    for n in names:
        if n and n in rules.calendars and n not in seen:
            seen.append(n)
    return seen


def coverage_problems(rules: Any, src: Source | None, today: date,
                      file: str = "calendars.yaml") -> list[Problem]:
    """One warning per calendar in use and year (this and next) without holiday data."""
    out: list[Problem] = []
    cals: Mapping[str, Any] = rules.calendars
    for name in calendars_in_use(rules):
        missing = [y for y in _years(today) if not has_holiday_data(cals[name], y)]
        if not missing:
            continue
        years = " and ".join(str(y) for y in missing)
        msg = (f"calendar '{name}' has no holiday data for {years}: every day of it but the "
               f"weekly days off counts as working time; add extra_holidays for {years}")
        path = ("calendars", name)
        out.append(src.problem(path, msg, "warning") if src is not None
                   else Problem(file, 1, 1, f"calendars.{name}", msg, "warning"))
    return out


def _years(today: date) -> Iterable[int]:
    return (today.year, today.year + 1)
