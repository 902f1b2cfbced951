"""Validate ``config/calendars.yaml`` into :class:`Calendar` objects, reporting every problem.

Problems are collected (never the first one only) and raised together as a
:class:`SourceError` whose lines read ``file:line:col: key.path: message``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from rules.calendar.days import (
    dates,
    holidays_section,
    mapping,
    month_days,
    overrides_section,
    unknown_keys,
)
from rules.calendar.hours import Windows, parse_weekday_key, parse_windows, weekday_choices
from rules.calendar.model import Calendar, IntersectionCalendar, intersect
from rules.config.source import PathKey, Problem, Source, SourceError, did_you_mean, load_file

TOP_KEYS = ("calendars",)
PLAIN_KEYS = (
    "description",
    "timezone",
    "week",
    "holidays",
    "extra_holidays",
    "yearly_holidays",
    "overrides",
)
INTERSECT_KEYS = ("description", "intersect", "timezone")
_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")


def load_calendars(path: str | Path) -> dict[str, Calendar]:
    """Load and validate a calendars file; raises SourceError listing all problems."""
    try:
        src = load_file(path)
    except ValueError as exc:  # PyYAML builds 2026-02-30 as a date and fails outside its marks
        raise SourceError([Problem(str(path), 1, 1, "", f"YAML value: {exc}")]) from exc
    return calendars_from_source(src)


def calendars_from_source(src: Source) -> dict[str, Calendar]:
    """Validate an already parsed source; raises SourceError listing all problems."""
    problems: list[Problem] = []
    root = mapping(src, src.data, (), problems)
    for key in root:
        if key not in TOP_KEYS:
            problems.append(
                src.problem((key,), f"unknown key '{key}'{did_you_mean(key, TOP_KEYS)}")
            )
    if "calendars" not in root:
        problems.append(src.problem((), "missing 'calendars' (a mapping of name -> calendar)"))
    specs = mapping(src, root.get("calendars", {}), ("calendars",), problems)
    plain: dict[str, Calendar] = {}
    intersections: dict[str, tuple[list[str], ZoneInfo | None]] = {}
    for name, spec in specs.items():
        path: PathKey = ("calendars", str(name))
        if not _NAME_RE.match(str(name)):
            problems.append(
                src.problem(
                    path, f"'{name}' is not a valid calendar name (letters, digits, '_' and '-')"
                )
            )
            continue
        body = mapping(src, spec, path, problems)
        if "intersect" in body:
            parsed = _intersection(src, str(name), body, path, [*specs], problems)
            if parsed:
                intersections[str(name)] = parsed
        else:
            cal = _plain(src, str(name), body, path, problems)
            if cal:
                plain[str(name)] = cal
    out = _resolve(src, specs, plain, intersections, problems)
    if problems:
        raise SourceError(problems)
    return out


@lru_cache(maxsize=1)
def _zone_names() -> frozenset[str]:
    return frozenset(available_timezones())


def _zone(src: Source, value: Any, path: PathKey, problems: list[Problem]) -> ZoneInfo | None:
    if not isinstance(value, str) or not value:
        problems.append(src.problem(path, "must be an IANA time zone name, e.g. Europe/Kyiv"))
        return None
    try:
        return ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        hint = did_you_mean(value, _zone_names())
        problems.append(src.problem(path, f"unknown time zone '{value}'{hint}"))
        return None


def _plain(
    src: Source, name: str, body: Mapping, path: PathKey, problems: list[Problem]
) -> Calendar | None:
    before = len(problems)
    unknown_keys(src, body, path, PLAIN_KEYS, problems)
    tz = None
    if "timezone" in body:
        tz = _zone(src, body["timezone"], (*path, "timezone"), problems)
    else:
        problems.append(src.problem(path, "missing 'timezone', e.g. timezone: Europe/Kyiv"))
    week_ok = True
    if "week" in body:
        n = len(problems)
        week = _week(src, body["week"], (*path, "week"), problems)
        week_ok = len(problems) == n
    else:
        week = [()] * 7
        problems.append(src.problem(path, "missing 'week', e.g. week: {mon-fri: 09:00-18:00}"))
    hol = holidays_section(src, body.get("holidays"), (*path, "holidays"), problems)
    extra = dates(src, body.get("extra_holidays"), (*path, "extra_holidays"), problems)
    yearly = month_days(src, body.get("yearly_holidays"), (*path, "yearly_holidays"), problems)
    overrides = overrides_section(src, body.get("overrides"), (*path, "overrides"), problems)
    if "week" in body and week_ok and not any(week) and not any(w for w, _ in overrides.values()):
        problems.append(src.problem((*path, "week"), "no working hours on any day"))
    if len(problems) > before or tz is None:
        return None
    return Calendar(
        name,
        tz,
        week,
        country=hol.get("country"),
        subdivision=hol.get("subdivision"),
        categories=hol.get("categories"),
        closed_dates=extra,
        yearly=yearly,
        overrides=overrides,
    )


def _week(src: Source, value: Any, path: PathKey, problems: list[Problem]) -> list[Windows]:
    week: list[Windows] = [()] * 7
    set_by: dict[int, str] = {}
    for key, spec in mapping(src, value, path, problems).items():
        days, err = parse_weekday_key(str(key))
        kpath = (*path, str(key))
        if err:
            if err == "unknown weekday":
                err = f"unknown weekday '{key}'{did_you_mean(str(key).lower(), weekday_choices())}"
            problems.append(src.problem(kpath, err))
            continue
        windows, errors = parse_windows(spec)
        problems.extend(src.problem(kpath, e) for e in errors)
        for d in days:
            if d in set_by:
                problems.append(
                    src.problem(kpath, f"{_DAY_NAMES[d]} is already set by '{set_by[d]}'")
                )
            set_by[d] = str(key)
            week[d] = windows
    return week


_DAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def _intersection(
    src: Source, name: str, body: Mapping, path: PathKey, names: list[Any], problems: list[Problem]
) -> tuple[list[str], ZoneInfo | None] | None:
    before = len(problems)
    for key in body:
        if key not in INTERSECT_KEYS:
            msg = (
                f"'{key}' cannot be combined with 'intersect' (define it in a part)"
                if key in PLAIN_KEYS
                else f"unknown key '{key}'{did_you_mean(str(key), INTERSECT_KEYS)}"
            )
            problems.append(src.problem((*path, str(key)), msg))
    parts = body["intersect"]
    ipath = (*path, "intersect")
    if not isinstance(parts, list) or len(parts) < 2:
        problems.append(
            src.problem(ipath, "must list at least two calendar names, e.g. [default, acme_hours]")
        )
        return None
    for i, part in enumerate(parts):
        if str(part) not in [str(n) for n in names]:
            others = [str(n) for n in names if str(n) != name]
            problems.append(
                src.problem(
                    (*ipath, i), f"unknown calendar '{part}'{did_you_mean(str(part), others)}"
                )
            )
        elif str(part) == name:
            problems.append(src.problem((*ipath, i), "a calendar cannot intersect itself"))
    tz = _zone(src, body["timezone"], (*path, "timezone"), problems) if "timezone" in body else None
    return ([str(p) for p in parts], tz) if len(problems) == before else None


def _resolve(
    src: Source,
    specs: Mapping,
    plain: dict[str, Calendar],
    inter: dict[str, tuple[list[str], ZoneInfo | None]],
    problems: list[Problem],
) -> dict[str, Calendar]:
    """Build intersections in dependency order; report cycles once each."""
    built = dict(plain)
    state: dict[str, str] = {}

    def build(name: str, chain: list[str]) -> Calendar | None:
        if name in built:
            return built[name]
        if name not in inter:
            return None  # the part itself is invalid and already reported
        if state.get(name) == "visiting":
            cycle = [*chain[chain.index(name) :], name]
            problems.append(
                src.problem(
                    ("calendars", cycle[0], "intersect"),
                    "intersection cycle: " + " -> ".join(cycle),
                )
            )
            return None
        if state.get(name) == "failed":
            return None
        state[name] = "visiting"
        parts, tz = inter[name]
        cals = [build(p, [*chain, name]) for p in parts]
        if any(c is None for c in cals) or state.get(name) == "failed":
            state[name] = "failed"
            return None
        done = [c for c in cals if c is not None]
        cal = done[0]
        for other in done[1:-1]:
            cal = intersect(cal, other)
        cal = IntersectionCalendar(name, cal, done[-1], tz)
        state[name] = "done"
        built[name] = cal
        return cal

    for name in inter:
        build(name, [])
    return {str(n): built[str(n)] for n in specs if str(n) in built}
