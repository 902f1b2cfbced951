"""Build a :class:`State` from JSON (``explain --state FILE``, YAML test cases, stored facts).

Flat shortcuts are accepted next to the nested form, e.g. ``{"tasks_today": 3,
"logged_minutes": 70, "credits_available": 5, "company_known": true}``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import fields
from datetime import date, datetime
from typing import Any

from rules.decision import CompanyState, State, TicketState

_TICKET_SHORTCUTS = ("logged_minutes", "reopen_count")
_COMPANY_SHORTCUTS = {"credits_available": "credits_available", "company_known": "known"}


class StateError(ValueError):
    """The state JSON is malformed."""


def _dt(v: Any, key: str) -> datetime | None:
    if v is None or isinstance(v, datetime):
        return v
    try:
        t = datetime.fromisoformat(str(v))
    except ValueError as exc:
        raise StateError(f"{key}: not an ISO 8601 datetime: {v!r}") from exc
    if t.tzinfo is None:
        raise StateError(f"{key}: datetime needs a UTC offset")
    return t


def _date(v: Any) -> date | None:
    if v is None or isinstance(v, date):
        return v
    return date.fromisoformat(str(v))


def ticket_state(d: Mapping[str, Any]) -> TicketState:
    """A TicketState from stored facts (JSON types) or from a Decision's ``ticket_facts``."""
    known = {f.name: f for f in fields(TicketState)}
    out: dict[str, Any] = {}
    for key, value in d.items():
        if key not in known:
            raise StateError(f"ticket.{key}: unknown fact")
        ftype = str(known[key].type)
        if "datetime" in ftype and key != "pauses":
            value = _dt(value, f"ticket.{key}")
        elif key == "slot_day":
            value = _date(value)
        elif key == "pauses":
            value = tuple((_dt(a, "pauses"), _dt(b, "pauses")) for a, b in value or ())
        elif key == "warned":
            value = tuple(value or ())
        elif key == "comments_seen":
            value = tuple(str(v) for v in value or ())
        elif key == "time_entries":
            value = tuple((str(k), int(v)) for k, v in value or ())
        out[key] = value
    out.setdefault("known", bool(d))
    return TicketState(**out)


def state_from_json(d: Mapping[str, Any] | None) -> State:
    """The State for ``explain``; an empty mapping means an empty state."""
    d = dict(d or {})
    ticket = dict(d.pop("ticket", None) or {})
    company = dict(d.pop("company", None) or {})
    for key in _TICKET_SHORTCUTS:
        if key in d:
            ticket[key] = d.pop(key)
    for key, target in _COMPANY_SHORTCUTS.items():
        if key in d:
            company[target] = d.pop(key)
    tasks_today = d.pop("tasks_today", None)
    idle = d.pop("client_idle_days", None)
    if d:
        raise StateError(f"unknown state keys: {', '.join(sorted(d))}")
    counts = {_date(k): int(v) for k, v in (company.pop("started_by_day", None) or {}).items()}
    company.setdefault("known", "credits_available" in company or bool(company.get("id")))
    names = {f.name for f in fields(CompanyState)}
    bad = sorted(set(company) - names)
    if bad:
        raise StateError(f"company: unknown facts {', '.join(bad)}")
    return State(
        ticket=ticket_state(ticket) if ticket else TicketState(),
        company=CompanyState(**company, started_by_day=counts),  # type: ignore[arg-type]
        tasks_today=tasks_today,
        client_idle_days=idle,
    )
