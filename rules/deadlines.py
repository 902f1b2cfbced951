"""A policy's target specs turned into deadlines through :mod:`rules.targets`."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from rules import targets
from rules.business_time import Pause, add_working
from rules.model import Target


def compute(
    target: Target,
    start: datetime,
    cal: Any,
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
    cal: Any,
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
