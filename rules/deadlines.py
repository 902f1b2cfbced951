"""A policy's target specs turned into deadlines through :mod:`rules.targets`.

:func:`settle` is the engine's step: it reuses the stored deadlines when nothing they
depend on changed (the worker's common case: a comment, a time entry), else computes them;
with ``explain`` it always computes them, with their timelines.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from rules import targets
from rules.calendar.business_time import Pause, add_working
from rules.calendar.model import Calendar
from rules.config.model import Target
from rules.decision import TicketState
from rules.work import Work

NAMES = ("accept", "first_response", "resolve")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def compute(
    target: Target,
    start: datetime,
    cal: Calendar,
    units: int,
    pauses: Sequence[Pause],
    due_at: datetime | None,
    estimate_hours: float | None,
    explain: bool = True,
) -> targets.Deadline:
    """The deadline of one target counted from ``start`` (filing, or the deferred start).

    Without ``explain`` the plain durations skip the timeline (the worker's hot path).
    """
    hours = target.hours or 0
    if not explain and target.kind in ("working_hours", "units_times"):
        return targets.Deadline(due(target, start, cal, units, pauses), target.kind, (), "")
    if target.kind == "working_hours":
        return targets.working_duration(start, round(hours * 60), cal, pauses)
    if target.kind == "units_times":
        return targets.times_base(start, units, round(hours * 60), cal, pauses)
    if target.kind == "bug_cutoff":
        return targets.bug_cutoff(
            start, cal, int(hours or 8), target.cutoff, pauses, explain=explain
        )
    if target.kind == "end_of_next_working_day":
        return targets.end_of_next_working_day(start, cal, explain=explain)
    # due_date: the stated due date wins; else the estimate in working time, else none yet
    if due_at is not None or target.fallback != "estimate_hours":
        return targets.due_from_field(due_at)
    return targets.duration_from_field(start, estimate_hours, cal, pauses, explain=explain)


def due(
    target: Target,
    start: datetime,
    cal: Calendar,
    units: int,
    pauses: Sequence[Pause],
    due_at: datetime | None = None,
    estimate_hours: float | None = None,
) -> datetime | None:
    """Only the deadline of :func:`compute` (no timeline, no texts): the worker's hot path."""
    kind = target.kind
    if kind == "working_hours" or kind == "units_times":
        minutes = round((target.hours or 0) * 60) * (units if kind == "units_times" else 1)
        return add_working(start, timedelta(minutes=minutes), cal, pauses)
    return compute(target, start, cal, units, pauses, due_at, estimate_hours, False).due


def settle(w: Work, st: TicketState, filed_at: datetime) -> None:
    """Set ``w.due`` (and the ``<name>_due`` facts, ``w.timelines``) for the policy's targets."""
    start = w.deferred_to or filed_at
    estimate = w.facts.get("estimate_hours", st.estimate_hours)
    due_at = w.facts.get("due_at", st.due_at)
    targets = w.policy.targets if w.policy else {}
    key = inputs_key(w, start, due_at, estimate)
    w.facts["deadline_key"] = key
    explain = w.ctx.explain
    if key and not explain and st.facts.get("deadline_key") == key:
        # nothing the deadlines depend on changed since they were stored: reuse them
        for name in NAMES:
            w.due[name] = getattr(st, f"{name}_due") if name in targets else None
            if name in targets:
                w.facts[f"{name}_due"] = w.due[name]
        return
    now = w.ctx.now
    pauses = [(a, b or now) for a, b in w.facts["pauses"] if (b or now) > a]
    for name in NAMES:
        target = targets.get(name)
        if target is None:
            w.due[name] = None
            continue
        if explain:
            d = compute(target, start, w.cal, w.units, pauses, due_at, estimate)
            at, w.timelines[name] = d.due, d.timeline
        else:
            at = due(target, start, w.cal, w.units, pauses, due_at, estimate)
        w.due[name] = w.facts[f"{name}_due"] = at


def inputs_key(w: Work, start: datetime, due_at: datetime | None, estimate: float | None) -> str:
    """Everything the deadlines depend on, as a stable string ("" when ``now`` matters).

    The rules version covers targets and calendars; an open pause stretches the deadlines
    with the clock, so those are always computed.
    """
    pauses = w.facts["pauses"]
    if pauses and pauses[-1][1] is None:
        return ""
    spans = ",".join(f"{_us(a)}-{_us(b)}" for a, b in pauses)
    policy = w.policy.name if w.policy else ""
    at = _us(due_at) if due_at is not None else ""
    return f"{w.rules.version}|{policy}|{w.cal_name}|{w.units}|{_us(start)}|{spans}|{at}|{estimate}"


def _us(t: datetime) -> int:
    """An aware instant as integer microseconds (stable across processes, unlike hash())."""
    d = t - _EPOCH
    return (d.days * 86_400 + d.seconds) * 1_000_000 + d.microseconds
