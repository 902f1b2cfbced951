"""The KPIs of SPEC §5 as pure functions over a :class:`Tally` of stored ticket metrics.

A tally is a set of sums over one group of tickets (the whole period, one type, one
company, …). ``queries`` fills tallies with SQL; :func:`tally_rows` fills one from rows in
Python (tests, small sets); both must agree. Cohorts: resolution KPIs count tickets by their
latest resolution in the period; first response by the first public agent reply in the
period; satisfaction by the rating's time. Durations are working minutes stored by
``record`` (pauses excluded).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from rules.calendar import Calendar
from rules.calendar.business_time import working_between

#: 1 working day of the shipped team calendar (09:00-18:00) and 1 working hour, in minutes
WORKING_DAY_MINUTES = 540
WORKING_HOUR_MINUTES = 60
#: more public messages than this on one ticket is flagged (seed 004: no more than four)
MESSAGES_FLAG = 4


@dataclass(frozen=True)
class Definition:
    """What a KPI means: label, unit, target, which side of the target is good, formula."""

    key: str
    label: str
    unit: str
    target: float | None
    higher_is_better: bool
    formula: str


DEFINITIONS: tuple[Definition, ...] = (
    Definition("on_time", "Resolved on time", "%", 1.0, True,
               "resolved by the promised resolve_due / resolved tasks that had a deadline"),
    Definition("within_1_day", "Resolved within 1 working day", "%", 0.80, True,
               "resolution_minutes <= 540 (working, pauses excluded) / resolved"),
    Definition("within_1_hour", "Resolved within 1 working hour", "%", 0.20, True,
               "resolution_minutes <= 60 / resolved"),
    Definition("first_time_resolution", "Resolved first time", "%", 0.70, True,
               "resolved with reopen_count = 0 / resolved"),
    Definition("first_response_avg", "First response, average (working min)", "min", 180, False,
               "mean working minutes from filing to the first public agent reply"),
    Definition("first_response_median", "First response, median (working min)", "min", 60, False,
               "median of the same (goal: 1 working hour)"),
    Definition("first_response_p90", "First response, p90 (working min)", "min", 180, False,
               "90th percentile (nearest rank) of the same"),
    Definition("messages_per_ticket", "Messages per ticket", "msgs", 4, False,
               "(opening request + public client and agent replies) / resolved"),
    Definition("over_4_messages", "Tickets over 4 messages", "count", 0, False,
               "resolved tickets with more than 4 public messages"),
    Definition("csat_avg", "CSAT average (1-5)", "score", None, True,
               "mean of 1-5 ratings given in the period"),
    Definition("csat_satisfied", "Satisfied (4-5)", "%", 0.80, True,
               "ratings of 4 or 5 / 1-5 ratings"),
    Definition("nps", "NPS (0-10)", "score", None, True,
               "100 x (ratings 9-10 - ratings 0-6) / 0-10 ratings; only where hosts send 0-10"),
    Definition("solved_per_specialist_day", "Solved per specialist per working day", "tasks",
               10, True, "resolved / (specialists who resolved x working days in the period)"),
    Definition("stuck", "Stuck tasks", "count", 0, False,
               "open, past resolve_due, no activity for the idle window"),
    Definition("overruns", "Paid tasks over estimate", "count", 0, False,
               "enhancements resolved with logged hours > estimate hours"),
)
BY_KEY = {d.key: d for d in DEFINITIONS}


@dataclass
class Tally:
    """Sums over one group of tickets; every KPI is a ratio or an order statistic of these."""

    resolved: int = 0
    with_deadline: int = 0
    on_time: int = 0
    within_day: int = 0
    within_hour: int = 0
    first_time: int = 0
    messages: int = 0
    over_messages: int = 0
    paid: int = 0
    paid_estimate_hours: float = 0.0
    paid_logged_minutes: int = 0
    overruns: int = 0
    first_responses: list[float] = field(default_factory=list)
    rated5: int = 0
    score5: int = 0
    satisfied5: int = 0
    rated10: int = 0
    promoters: int = 0
    detractors: int = 0
    #: distinct specialists who resolved tasks of the group (resolver, else the manager)
    specialists: int = 0

    def add(self, other: Tally) -> Tally:
        """Fold ``other`` (another cohort of the same group) into this tally."""
        for name in self.__dataclass_fields__:
            mine, theirs = getattr(self, name), getattr(other, name)
            if isinstance(mine, list):
                mine.extend(theirs)
            else:
                setattr(self, name, mine + theirs)
        return self


@dataclass(frozen=True)
class Kpi:
    """One KPI's value against its target (``ok`` None when there is nothing to judge)."""

    key: str
    value: float | None
    target: float | None
    ok: bool | None
    n: int

    def to_json(self) -> dict[str, Any]:
        return {"value": self.value, "target": self.target, "ok": self.ok, "n": self.n}


def ratio(num: int, den: int) -> float | None:
    return round(num / den, 4) if den else None


def percentile(values: list[float], p: float) -> float | None:
    """Nearest-rank percentile (p in 0..1): the smallest value with at least p of the set."""
    if not values:
        return None
    return _rank_sorted(sorted(values), p)


def _rank_sorted(ordered: list[float], p: float) -> float:
    return ordered[max(0, math.ceil(p * len(ordered)) - 1)]


def _median_sorted(ordered: list[float]) -> float:
    """``statistics.median`` of an already sorted list (it would sort it again)."""
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def _round(value: float | None, digits: int) -> float | None:
    return round(value, digits) if value is not None else None


def judge(key: str, value: float | None, n: int, targets: Mapping[str, float | None]) -> Kpi:
    d = BY_KEY[key]
    target = targets.get(key, d.target)
    if value is None or target is None:
        return Kpi(key, value, target, None, n)
    ok = value >= target if d.higher_is_better else value <= target
    return Kpi(key, value, target, ok, n)


def compute(
    t: Tally, working_days: int, stuck: int | None = None,
    targets: Mapping[str, float | None] | None = None,
) -> dict[str, Kpi]:
    """Every KPI of one tally; ``working_days`` is the period's working days (team calendar)."""
    targets = targets or {}
    # sorted once: the median and the p90 both read the order (100k replies in a year)
    frt = sorted(t.first_responses)
    stats: tuple[int, float | None, float | None, float | None] = (
        (len(frt), sum(frt) / len(frt), _median_sorted(frt), _rank_sorted(frt, 0.9))
        if frt else (0, None, None, None))
    values: dict[str, tuple[float | None, int]] = {
        "on_time": (ratio(t.on_time, t.with_deadline), t.with_deadline),
        "within_1_day": (ratio(t.within_day, t.resolved), t.resolved),
        "within_1_hour": (ratio(t.within_hour, t.resolved), t.resolved),
        "first_time_resolution": (ratio(t.first_time, t.resolved), t.resolved),
        "first_response_avg": (_round(stats[1], 1), stats[0]),
        "first_response_median": (_round(stats[2], 1), stats[0]),
        "first_response_p90": (stats[3], stats[0]),
        "messages_per_ticket": (round(t.messages / t.resolved, 2) if t.resolved else None,
                                t.resolved),
        "over_4_messages": (float(t.over_messages), t.resolved),
        "csat_avg": (round(t.score5 / t.rated5, 2) if t.rated5 else None, t.rated5),
        "csat_satisfied": (ratio(t.satisfied5, t.rated5), t.rated5),
        "nps": (round(100 * (t.promoters - t.detractors) / t.rated10, 1) if t.rated10 else None,
                t.rated10),
        "solved_per_specialist_day": (
            round(t.resolved / (t.specialists * working_days), 2)
            if t.specialists and working_days else None, t.resolved),
        "stuck": (float(stuck) if stuck is not None else None, stuck or 0),
        "overruns": (float(t.overruns), t.paid),
    }
    return {key: judge(key, v, n, targets) for key, (v, n) in values.items()}


def working_days(start: datetime, end: datetime, cal: Calendar) -> int:
    """Local dates in ``[start, end)`` with any working time in ``cal``."""
    tz = cal.tz
    day = start.astimezone(tz).date()
    last = end.astimezone(tz)
    count = 0
    while datetime(day.year, day.month, day.day, tzinfo=tz) < last:
        a = datetime(day.year, day.month, day.day, tzinfo=tz)
        nxt = day + timedelta(days=1)
        b = min(datetime(nxt.year, nxt.month, nxt.day, tzinfo=tz), last)
        if working_between(max(a, start), b, cal) > timedelta(0):
            count += 1
        day = nxt
    return count


def _in(at: datetime | None, start: datetime, end: datetime) -> bool:
    return at is not None and start <= at < end


def tally_rows(rows: Iterable[Any], start: datetime, end: datetime) -> Tally:
    """One tally from metrics rows (``TicketMetrics`` or alike: it holds the dimensions)."""
    t = Tally()
    specialists: set[str] = set()
    for r in rows:
        if _in(r.resolved_at, start, end):
            t.resolved += 1
            if r.resolved_on_time is not None:
                t.with_deadline += 1
                t.on_time += r.resolved_on_time
            minutes = r.resolution_minutes or 0.0
            t.within_day += minutes <= WORKING_DAY_MINUTES
            t.within_hour += minutes <= WORKING_HOUR_MINUTES
            t.first_time += r.reopen_count == 0
            msgs = r.messages_client + r.messages_agent
            t.messages += msgs
            t.over_messages += msgs > MESSAGES_FLAG
            specialist = r.resolved_by or r.manager
            if specialist:
                specialists.add(specialist)
            if r.task_type == "enhancement" and r.estimate_hours is not None:
                t.paid += 1
                t.paid_estimate_hours += r.estimate_hours
                t.paid_logged_minutes += r.logged_minutes
                t.overruns += r.logged_minutes > r.estimate_hours * 60
        if _in(r.first_response_at, start, end) and r.first_response_minutes is not None:
            t.first_responses.append(r.first_response_minutes)
        if _in(r.rated_at, start, end) and r.rating_score is not None:
            if r.rating_scale == 10:
                t.rated10 += 1
                t.promoters += r.rating_score >= 9
                t.detractors += r.rating_score <= 6
            else:
                t.rated5 += 1
                t.score5 += r.rating_score
                t.satisfied5 += r.rating_score >= 4
    t.specialists = len(specialists)
    return t
