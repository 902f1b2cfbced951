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
        n = units if target.kind == "units_times" else 1
        due = add_working(start, timedelta(minutes=round(hours * 60) * n), cal, pauses)
        return targets.Deadline(due, target.kind, (), "")
    if target.kind == "working_hours":
        return targets.working_duration(start, round(hours * 60), cal, pauses)
    if target.kind == "units_times":
        return targets.times_base(start, units, round(hours * 60), cal, pauses)
    if target.kind == "bug_cutoff":
        return targets.bug_cutoff(start, cal, int(hours or 8), target.cutoff, pauses)
    if target.kind == "end_of_next_working_day":
        return targets.end_of_next_working_day(start, cal)
    # due_date: the stated due date wins; else the estimate in working time, else none yet
    if due_at is not None or target.fallback != "estimate_hours":
        return targets.due_from_field(due_at)
    return targets.duration_from_field(start, estimate_hours, cal, pauses)
