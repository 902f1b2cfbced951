"""Classification: the specialist's overrides, then ordered rules, then the fallback type."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from rules.config.model import RuleSet
from rules.decision import FALLBACK, OVERRIDE
from rules.event_checks import as_instant
from rules.fields import Context


@dataclass(frozen=True)
class Overrides:
    """What the specialist stated on the ticket (custom fields or a ``type:`` tag)."""

    task_type: str | None = None
    units: int | None = None
    estimate_hours: float | None = None
    due_at: datetime | None = None
    #: override values that could not be used, as (field, message)
    invalid: tuple[tuple[str, str], ...] = ()


_NONE = Overrides()


def read_overrides(rules: RuleSet, ctx: Context) -> Overrides:
    cf = ctx.event.ticket.custom_fields
    o = rules.overrides
    if not cf and not any(t.startswith(o["type_tag_prefix"]) for t in ctx.event.ticket.tags):
        return _NONE  # the common case: nothing stated, nothing to parse
    bad: list[tuple[str, str]] = []
    task_type = cf.get(o["type_field"]) or None
    if task_type is None:
        prefix = o["type_tag_prefix"]
        tagged = [t[len(prefix) :] for t in ctx.event.ticket.tags if t.startswith(prefix)]
        task_type = tagged[-1] if tagged else None
    if task_type is not None and task_type not in rules.types:
        bad.append((o["type_field"], f"unknown type '{task_type}'"))
        task_type = None
    units = _int(cf.get(o["units_field"]))
    out_of_range = rules.bounds.field_problems(cf)  # limits.input: bounded work and money
    if cf.get(o["units_field"]) not in (None, "") and units is None:
        bad.append(
            (o["units_field"], f"units must be a whole number >= 1, got {cf[o['units_field']]!r}")
        )
    elif units is not None and o["units_field"] in out_of_range:
        bad.append((o["units_field"], f"units {out_of_range[o['units_field']]}"))
        units = None
    estimate = _float(cf.get(o["estimate_field"]))
    if estimate is not None and o["estimate_field"] in out_of_range:
        bad.append((o["estimate_field"],
                    f"estimate hours {out_of_range[o['estimate_field']]}"))
        estimate = None
    # one reader with the receiver's check of instants: what it bounds is what is read here
    due = as_instant(cf.get(o["due_field"]))
    if cf.get(o["due_field"]) not in (None, "") and due is None:
        bad.append((o["due_field"], "due date must be ISO 8601 with an offset"))
    elif due is not None and (far := rules.bounds.year_problem(due)):
        bad.append((o["due_field"], f"due date {far}"))  # limits.input: bounded work
        due = None
    return Overrides(task_type, units, estimate, due, tuple(bad))


def classify(
    rules: RuleSet, ctx: Context, ov: Overrides, trace: list[dict[str, Any]]
) -> tuple[str, int, str]:
    """``(type, units, rule)``; ``trace`` gets one entry per rule tried."""
    stored = ctx.state.ticket
    t: str
    rule: str
    units: int | None
    if ov.task_type is not None:
        t, rule, units = ov.task_type, OVERRIDE, None
    elif stored.known and stored.task_type in rules.types and stored.rule not in (None, OVERRIDE):
        # classification is made at filing and kept (an edited subject must not re-type a
        # task behind the specialist's back); a specialist's override changes it
        t, rule, units = str(stored.task_type), str(stored.rule), stored.units
        trace.append({"rule": rule, "matched": True, "conditions": [], "kept": True})
    else:
        t, rule, units = rules.default_type, FALLBACK, None
        for r in rules.classify:
            matched = r.when.test(ctx)
            conditions = r.when.trace(ctx) if ctx.explain else []
            trace.append({"rule": r.name, "matched": matched, "conditions": conditions})
            if matched:
                t, rule, units = r.type, r.name, r.units
                break
    if ov.units is not None:
        units = ov.units
    return t, int(units or rules.types[t].units), rule


def _int(v: Any) -> int | None:
    if isinstance(v, bool):
        return None
    try:
        n = int(str(v).strip()) if v not in (None, "") else None
    except ValueError:
        return None
    return n if n is not None and n >= 1 else None


def _float(v: Any) -> float | None:
    if v in (None, "") or isinstance(v, bool):
        return None
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if f > 0 else None
