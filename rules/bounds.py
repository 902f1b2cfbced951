"""Bounds on the numbers that come from outside (issue 16): units, estimate hours, minutes.

A number from a payload drives work (deadline arithmetic walks working time unit by unit)
and money (units are credits, estimate hours are billed), so each has a range, set in
``limits.input`` of the service rules (``config/rules/00-service.yaml``)::

    limits:
      input:
        units: {min: 1, max: 100}            # the units custom field (whole numbers)
        estimate_hours: {min: 0, max: 1000}  # the estimate custom field
        time_minutes: {min: 0, max: 10080}   # one time entry (a week)

The receiver refuses a value outside its range with a 422 naming the field (before
anything is stored); the engine refuses it too (an override it cannot use, as for a
malformed value), so ``rules explain`` and a replay of old events cost the same bounded
work. Whole-number fields refuse fractions (``1.9`` is not 1). Pure: no I/O but the
optional file read of :func:`read_bounds`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
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
}


@dataclass(frozen=True)
class Bounds:
    """The ranges, and the custom-field names the specialist's values come in."""

    ranges: Mapping[str, Range] = field(default_factory=lambda: dict(DEFAULTS))
    units_field: str = "units"
    estimate_field: str = "estimate_hours"

    def range(self, name: str) -> Range:
        return self.ranges.get(name) or DEFAULTS[name]

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
    return Bounds(ranges, overrides.get("units_field", "units"),
                  overrides.get("estimate_field", "estimate_hours"))


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
