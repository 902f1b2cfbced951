"""Sections of a calendar definition about days: holidays, explicit and yearly dates, overrides.

Each function validates one section, appends problems with their positions and
returns what it could parse, so one run reports every mistake in the file.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from rules.calendar.hours import Windows, parse_windows
from rules.config.source import PathKey, Problem, Source, did_you_mean

HOLIDAY_KEYS = ("country", "subdivision", "categories")
OVERRIDE_KEYS = ("hours", "name")
_MONTH_DAY_RE = re.compile(r"^(\d{2})-(\d{2})$")


def mapping(src: Source, value: Any, path: PathKey, problems: list[Problem]) -> Mapping:
    """The value if it is a mapping, else a problem and ``{}``."""
    if isinstance(value, Mapping):
        return value
    problems.append(src.problem(path, f"must be a mapping, got {type(value).__name__}"))
    return {}


def unknown_keys(
    src: Source, body: Mapping, path: PathKey, allowed: tuple[str, ...], problems: list[Problem]
) -> None:
    """A did-you-mean problem for every key not in ``allowed``."""
    for key in body:
        if key not in allowed:
            problems.append(
                src.problem(
                    (*path, str(key)), f"unknown key '{key}'{did_you_mean(str(key), allowed)}"
                )
            )


def holidays_section(
    src: Source, value: Any, path: PathKey, problems: list[Problem]
) -> dict[str, Any]:
    """``holidays: {country, subdivision, categories}`` checked against the `holidays` package."""
    if value is None:
        return {}
    import holidays

    body = mapping(src, value, path, problems)
    unknown_keys(src, body, path, HOLIDAY_KEYS, problems)
    supported = holidays.list_supported_countries()
    country = body.get("country")
    if not isinstance(country, str) or country.upper() not in supported:
        hint = did_you_mean(str(country).upper(), supported) if country else ""
        problems.append(
            src.problem(
                (*path, "country"),
                f"unknown country code '{country}'{hint} (ISO 3166, e.g. UA, US, DE)",
            )
        )
        return {}
    out: dict[str, Any] = {"country": country.upper()}
    subdiv = body.get("subdivision")
    if subdiv is not None:
        subdivs = supported[country.upper()]
        if str(subdiv) not in subdivs:
            hint = did_you_mean(str(subdiv), subdivs)
            problems.append(
                src.problem(
                    (*path, "subdivision"), f"'{subdiv}' is not a subdivision of {country}{hint}"
                )
            )
        out["subdivision"] = str(subdiv)
    cats = body.get("categories")
    if cats is not None:
        cats = [cats] if isinstance(cats, str) else cats
        known = holidays.country_holidays(country.upper()).supported_categories
        if not isinstance(cats, list):
            problems.append(src.problem((*path, "categories"), "must be a list of categories"))
        else:
            for i, cat in enumerate(cats):
                if cat not in known:
                    problems.append(
                        src.problem(
                            (*path, "categories", i),
                            f"unknown category '{cat}' for {country}"
                            f"{did_you_mean(str(cat), known)}",
                        )
                    )
            out["categories"] = [str(c) for c in cats]
    return out


def _as_date(key: Any) -> date | None:
    if isinstance(key, datetime):
        return None
    if isinstance(key, date):
        return key
    try:
        return date.fromisoformat(str(key))
    except ValueError:
        return None


def dates(src: Source, value: Any, path: PathKey, problems: list[Problem]) -> dict[date, str]:
    """``extra_holidays: {YYYY-MM-DD: name}``."""
    out: dict[date, str] = {}
    for key, label in mapping(src, value or {}, path, problems).items():
        d = _as_date(key)
        if d is None:
            problems.append(src.problem((*path, str(key)), f"'{key}' is not a date (YYYY-MM-DD)"))
        else:
            out[d] = str(label) if label is not None else "holiday"
    return out


def month_days(
    src: Source, value: Any, path: PathKey, problems: list[Problem]
) -> dict[tuple[int, int], str]:
    """``yearly_holidays: {"MM-DD": name}``."""
    out: dict[tuple[int, int], str] = {}
    for key, label in mapping(src, value or {}, path, problems).items():
        m = _MONTH_DAY_RE.match(str(key))
        ok = False
        if m:
            try:
                date(2000, int(m[1]), int(m[2]))  # a leap year, so 02-29 is accepted
                ok = True
            except ValueError:
                ok = False
        if not m or not ok:
            problems.append(
                src.problem(
                    (*path, str(key)), f"'{key}' is not a month-day (MM-DD, e.g. \"12-25\")"
                )
            )
            continue
        out[(int(m[1]), int(m[2]))] = str(label) if label is not None else "holiday"
    return out


def overrides_section(
    src: Source, value: Any, path: PathKey, problems: list[Problem]
) -> dict[date, tuple[Windows, str]]:
    """``overrides: {YYYY-MM-DD: windows | {hours, name}}``."""
    out: dict[date, tuple[Windows, str]] = {}
    for key, spec in mapping(src, value or {}, path, problems).items():
        kpath = (*path, str(key))
        d = _as_date(key)
        if d is None:
            problems.append(src.problem(kpath, f"'{key}' is not a date (YYYY-MM-DD)"))
            continue
        label = ""
        if isinstance(spec, Mapping):
            n = len(problems)
            unknown_keys(src, spec, kpath, OVERRIDE_KEYS, problems)
            if "hours" not in spec and len(problems) == n:  # a misspelt 'hours' says enough
                problems.append(src.problem(kpath, "missing 'hours' (windows, or closed)"))
            label = str(spec.get("name") or "")
            spec = spec.get("hours")
            kpath = (*kpath, "hours")
        windows, errors = parse_windows(spec)
        problems.extend(src.problem(kpath, e) for e in errors)
        out[d] = (windows, label)
    return out
