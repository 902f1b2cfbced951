"""Deadline targets of SPEC §2: each returns the deadline and a short timeline for ``explain``.

The caller picks the start (filing or acceptance) and the calendar; every target
is pure. Time filed outside working hours starts counting at the next opening,
which falls out of :func:`add_working` for durations and is explicit for the bug
cut-off.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta

from rules.calendar.business_time import (
    Pause,
    add_working,
    end_of_working_day,
    next_open,
    working_between,
)
from rules.calendar.model import Calendar
from rules.calendar.timeline import TimelineEntry, build_timeline, fmt_duration, fmt_time
from rules.calendar.tz import day_span, from_us, to_us

__all__ = [
    "Deadline",
    "TimelineEntry",
    "bug_cutoff",
    "due_from_field",
    "duration_from_field",
    "end_of_next_working_day",
    "times_base",
    "working_duration",
]


@dataclass(frozen=True)
class Deadline:
    """A computed deadline (``due`` None when not known yet) and how it was reached."""

    due: datetime | None
    kind: str
    timeline: tuple[TimelineEntry, ...]
    detail: str


def _counted(
    kind: str,
    start: datetime,
    minutes: int,
    cal: Calendar,
    pauses: Sequence[Pause],
    what: str,
    explain: bool = True,
) -> Deadline:
    if minutes < 0:
        raise ValueError(f"negative working time: {minutes} minutes")
    due = add_working(start, timedelta(minutes=minutes), cal, pauses)
    if not explain:
        return Deadline(due, kind, (), "")
    detail = f"{what} from {fmt_time(start, cal)} in calendar '{cal.name}': {fmt_time(due, cal)}"
    return Deadline(due, kind, build_timeline(start, due, cal, pauses), detail)


def working_duration(
    start: datetime, minutes: int, cal: Calendar, pauses: Sequence[Pause] = ()
) -> Deadline:
    """``minutes`` working minutes from ``start`` (filing or acceptance)."""
    what = f"{fmt_duration(minutes)} working time"
    return _counted("working_duration", start, minutes, cal, pauses, what)


def times_base(
    start: datetime, n: int, base_minutes: int, cal: Calendar, pauses: Sequence[Pause] = ()
) -> Deadline:
    """``n`` × ``base_minutes`` of working time (a composite task of N units)."""
    if n < 0:
        raise ValueError(f"negative multiplier {n}")
    what = f"{n} × {fmt_duration(base_minutes)} = {fmt_duration(n * base_minutes)} working time"
    return _counted("times_base", start, n * base_minutes, cal, pauses, what)


def bug_cutoff(
    filed: datetime,
    cal: Calendar,
    hours: int = 8,
    cutoff: time = time(16, 0),
    pauses: Sequence[Pause] = (),
    explain: bool = True,
) -> Deadline:
    """SPEC §2: before the cut-off, min(filing + hours, end of that working day); else + hours.

    Filed outside working hours counts as filed at the next opening. With pauses,
    both branches are stretched by the paused working time (the clock stops for both).
    Without ``explain`` only ``due`` is computed (the rules engine's hot path).
    """
    start = next_open(filed, cal)
    full = timedelta(hours=hours)
    wall = start.astimezone(cal.tz).time().replace(tzinfo=None)
    if not explain:
        if wall < cutoff:
            left = working_between(start, end_of_working_day(start, cal), cal)
            if left < full:
                return Deadline(add_working(start, left, cal, pauses), "bug_cutoff", (), "")
        return Deadline(add_working(start, full, cal, pauses), "bug_cutoff", (), "")
    moved = to_us(start) != to_us(filed)
    why = f"filed outside working hours, counted from {fmt_time(start, cal)}; " if moved else ""
    cut: TimelineEntry | None = None
    if wall < cutoff:
        eod = end_of_working_day(start, cal)
        left = working_between(start, eod, cal)
        if left < full:
            due = add_working(start, left, cal, pauses)
            why += (
                f"before {cutoff:%H:%M}: due by the end of that working day"
                f" ({fmt_duration(round(left / timedelta(minutes=1)))} left),"
                f" sooner than {hours} working hours"
            )
            cut = TimelineEntry("cutoff", eod, eod, 0, f"end of working day {eod:%a %H:%M}")
        else:
            due = add_working(start, full, cal, pauses)
            why += f"before {cutoff:%H:%M}: {hours} working hours fit in that working day"
    else:
        due = add_working(start, full, cal, pauses)
        why += f"at or after {cutoff:%H:%M}: {hours} working hours"
    timeline = build_timeline(filed, due, cal, pauses)
    if cut is not None:
        timeline = (*timeline, cut)
    detail = f"bug filed {fmt_time(filed, cal)}; {why}; due {fmt_time(due, cal)}"
    return Deadline(due, "bug_cutoff", timeline, detail)


def end_of_next_working_day(start: datetime, cal: Calendar, explain: bool = True) -> Deadline:
    """The end of the first working day after ``start``'s local date."""
    day = start.astimezone(cal.tz).date() + timedelta(days=1)
    tomorrow = from_us(day_span(cal.tz, day)[0], cal.tz)
    due = end_of_working_day(next_open(tomorrow, cal), cal)
    if not explain:
        return Deadline(due, "end_of_next_working_day", (), "")
    detail = f"end of the next working day after {fmt_time(start, cal)}: {fmt_time(due, cal)}"
    return Deadline(due, "end_of_next_working_day", build_timeline(start, due, cal), detail)


def due_from_field(value: datetime | None) -> Deadline:
    """A due date stated on the ticket (e.g. an enhancement's ``due_at``), taken as is."""
    if value is None:
        return Deadline(None, "due_field", (), "no due date stated yet")
    to_us(value)  # refuses a naive datetime: a deadline must be an instant
    return Deadline(value, "due_field", (), f"due date stated on the ticket: {value.isoformat()}")


def duration_from_field(
    start: datetime,
    hours: float | None,
    cal: Calendar,
    pauses: Sequence[Pause] = (),
    explain: bool = True,
) -> Deadline:
    """A duration in hours from a ticket field (e.g. ``estimate_hours``), in working time."""
    if hours is None:
        return Deadline(None, "duration_field", (), "no duration stated yet")
    minutes = round(hours * 60)
    what = f"{hours:g} h stated on the ticket ({fmt_duration(minutes)}) of working time"
    return _counted("duration_field", start, minutes, cal, pauses, what, explain)
