"""Bounds on the numbers that come from outside (issue 16): units, estimate hours, minutes,
and the years of an event's instants.

A number from a payload drives work (deadline arithmetic walks working time unit by unit)
and money (units are credits, estimate hours are billed), so each has a range, set in
``limits.input`` of the service rules (``config/rules/00-service.yaml``)::

    limits:
      input:
        units: {min: 1, max: 100}            # the units custom field (whole numbers)
        estimate_hours: {min: 0, max: 1000}  # the estimate custom field
        time_minutes: {min: 0, max: 10080}   # one time entry (a week)
        years: {min: 2000, max: 2100}        # every instant of an event (its dates)

The receiver refuses a value outside its range with a 422 naming the field (before
anything is stored); the engine refuses it too (an override it cannot use, as for a
malformed value), so ``rules explain`` and a replay of old events cost the same bounded
work. Whole-number fields refuse fractions (``1.9`` is not 1). Pure: no I/O but the
optional file read of :func:`read_bounds`.

The year window keeps deadline arithmetic bounded: working time is counted by walking the
calendar (``rules.calendar.business_time``), so the span between two instants of a ticket
is the cost. A window is at most :data:`MAX_YEAR_WINDOW` years wide and lies inside
1970-2999 (the arithmetic's own range, the CLI's too).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import yaml


@dataclass(frozen=True)
class Range:
    """One field's allowed values."""

    low: Decimal
    high: Decimal
    whole: bool = False

    def problem(self, value: Any) -> str | None:
        """Why ``value`` is refused (None: accepted, or absent)."""
        if value is None or value == "":
            return None
        number = as_number(value)
        if number is None:
            return "must be a number"
        if self.whole and number != number.to_integral_value():
            return "must be a whole number"
        if not self.low <= number <= self.high:
            return f"must be between {_plain(self.low)} and {_plain(self.high)}"
        return None


#: the shipped ranges (``limits.input`` in the service rules overrides each)
DEFAULTS: Mapping[str, Range] = {
    "units": Range(Decimal(1), Decimal(100), whole=True),
    "estimate_hours": Range(Decimal(0), Decimal(1000)),
    "time_minutes": Range(Decimal(0), Decimal(10080), whole=True),
    "years": Range(Decimal(2000), Decimal(2100), whole=True),
}
#: the years a window may span and lie in: working-time arithmetic walks at most 105 years
#: and covers 1970-2999 (``rules.calendar.business_time``)
MAX_YEAR_WINDOW = 100
YEAR_LIMITS = (1970, 2999)


def year_window_problem(low: Decimal, high: Decimal) -> str | None:
    """Why a ``years`` window is refused (None: accepted)."""
    if low != low.to_integral_value() or high != high.to_integral_value():
        return "years must be whole numbers"
    if not YEAR_LIMITS[0] <= low <= high <= YEAR_LIMITS[1]:
        return f"years must lie within {YEAR_LIMITS[0]}-{YEAR_LIMITS[1]}, min before max"
    if high - low > MAX_YEAR_WINDOW:
        return f"years may span at most {MAX_YEAR_WINDOW} years"
    return None


@dataclass(frozen=True)
class Bounds:
    """The ranges, and the custom-field names the specialist's values come in."""

    ranges: Mapping[str, Range] = field(default_factory=lambda: dict(DEFAULTS))
    units_field: str = "units"
    estimate_field: str = "estimate_hours"
    due_field: str = "due_at"

    def range(self, name: str) -> Range:
        return self.ranges.get(name) or DEFAULTS[name]

    def year_problem(self, value: datetime) -> str | None:
        """Why an instant is refused: its year (as written, in its own offset) lies outside
        ``years``. The year as written: no conversion, so no overflow at year 1 or 9999."""
        years = self.range("years")
        if years.low <= value.year <= years.high:
            return None
        return f"must lie in the years {_plain(years.low)}-{_plain(years.high)}"

    def field_problems(self, custom_fields: Mapping[str, Any]) -> dict[str, str]:
        """``{custom field name: why refused}`` for the bounded custom fields."""
        out = {}
        for name, key in (("units", self.units_field), ("estimate_hours", self.estimate_field)):
            problem = self.range(name).problem(custom_fields.get(key))
            if problem:
                out[key] = problem
        return out


def _plain(number: Decimal) -> str:
    """``100`` whether the rules file said ``100`` or the schema made it ``100.0``: the
    receiver (which reads the files) and ``rules explain`` (the compiled rules) word a refusal
    alike."""
    return format(number.normalize(), "f")


def as_number(value: Any) -> Decimal | None:
    """A JSON number or numeric string as an exact Decimal (None: not a finite number)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, int | float):
        return Decimal(str(value))
    if isinstance(value, str) and 0 < len(value.strip()) <= 40:
        try:
            number = Decimal(value.strip())
        except InvalidOperation:
            return None
        return number if number.is_finite() else None
    return None


def compile_bounds(raw: Mapping[str, Any] | None, overrides: Mapping[str, str]) -> Bounds:
    """``limits.input`` (validated by the schema) and the override field names."""
    ranges = dict(DEFAULTS)
    for name, spec in (raw or {}).items():
        base = DEFAULTS[name]
        ranges[name] = Range(Decimal(str(spec.get("min", base.low))),
                             Decimal(str(spec.get("max", base.high))), base.whole)
    years = ranges["years"]
    problem = year_window_problem(years.low, years.high)
    if problem:  # the schema reports it (rules check); here: refused as a whole
        raise ValueError(f"limits.input.years: {problem}")
    return Bounds(ranges, overrides.get("units_field", "units"),
                  overrides.get("estimate_field", "estimate_hours"),
                  overrides.get("due_field", "due_at"))


def read_bounds(config_dir: str | Path) -> Bounds:
    """The bounds from the rules files alone (the receiver's light read: it does not compile
    the whole rule set). Unreadable or invalid files give the shipped defaults; ``rules
    check`` reports their errors."""
    rules_dir = Path(config_dir) / "rules"
    raw: Mapping[str, Any] | None = None
    overrides: Mapping[str, str] = {}
    for path in sorted(rules_dir.glob("*.yaml")) if rules_dir.is_dir() else ():
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, yaml.YAMLError):
            continue
        if not isinstance(data, dict):
            continue
        limits = data.get("limits")
        if isinstance(limits, dict) and isinstance(limits.get("input"), dict):
            raw = limits["input"]
        if isinstance(data.get("overrides"), dict):
            overrides = {k: str(v) for k, v in data["overrides"].items()}
    try:
        valid = {k: v for k, v in (raw or {}).items() if k in DEFAULTS and isinstance(v, dict)}
        return compile_bounds(valid, overrides)
    except (InvalidOperation, TypeError, ValueError):
        return Bounds()
