"""The daily cap of SPEC §2: tasks a company posts per calendar day, in the team calendar's zone.

Seed 001: a company "may not post more than 3 tasks a day". A task counts on the calendar day
it was posted (a Saturday's postings count for Saturday, not for the Monday their clocks
start on). Over the cap (policy ``defer``) the task takes a slot on the next working day
with one free (deferred tasks take slots first-come first-served) and its clocks start
there.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from rules.calendar.business_time import next_open
from rules.config.model import Cap

#: look this many working days ahead for a free slot before giving up (then: no deferral)
MAX_LOOKAHEAD = 60


@dataclass(frozen=True)
class CapResult:
    """Which working day's slot the task takes, and whether it was deferred or refused."""

    slot_day: date | None
    deferred_to: datetime | None = None
    over: bool = False
    action: str | None = None  # defer | reject | flag when over the cap
    count: int = 0
    #: the calendar day (team zone) the task was posted on: the day whose cap it counts on
    posted_day: date | None = None


def start_day(t: datetime, cal: Any) -> tuple[date, datetime]:
    """The working day on which a clock started at ``t`` counts, and its opening."""
    opening = next_open(t, cal)
    return opening.astimezone(cal.tz).date(), opening


def apply_cap(
    cap: Cap,
    task_type: str,
    filed: datetime,
    cal: Any,
    counts: Mapping[date, int],
    today_override: int | None = None,
) -> CapResult:
    """Decide the slot of a task posted at ``filed``; ``counts`` are tasks counted per day
    (posted that day within the cap, or deferred to it); ``today_override`` replaces the
    posting day's count (``explain --state`` with ``tasks_today``)."""
    day = filed.astimezone(cal.tz).date()

    def used(d: date) -> int:
        if d == day and today_override is not None:
            return today_override
        return counts.get(d, 0)

    n = used(day)
    if task_type in cap.exempt_types:
        # exempt types (bugs) take no slot and are never deferred, only flagged when over
        return CapResult(None, over=n >= cap.max, action="flag" if n >= cap.max else None,
                         count=n, posted_day=day)
    if n < cap.max:
        return CapResult(day, count=n, posted_day=day)
    if cap.policy != "defer":
        return CapResult(None, over=True, action=cap.policy, count=n, posted_day=day)
    probe = datetime.combine(day, datetime.min.time(), cal.tz)
    for _ in range(MAX_LOOKAHEAD):
        # first-come first-served: earlier deferred tasks already hold their later slots
        local = probe.astimezone(cal.tz)
        midnight = datetime.combine(local.date() + timedelta(days=1), datetime.min.time(), cal.tz)
        d, opening = start_day(midnight, cal)
        if used(d) < cap.max:
            return CapResult(d, deferred_to=opening, over=True, action="defer", count=n,
                             posted_day=day)
        probe = opening
    return CapResult(None, over=True, action="flag", count=n, posted_day=day)
