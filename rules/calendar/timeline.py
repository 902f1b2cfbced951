"""The short timeline behind a deadline, for ``explain``: counted time, holidays, pauses."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from rules.calendar.business_time import (
    Pause,
    _intervals_us,
    _pauses_us,
    check_span,
    instant_us,
    working_between,
)
from rules.calendar.model import Calendar
from rules.calendar.tz import MIN_US, Interval, day_span, from_us, local_date

MAX_ENTRIES = 40  # an explain screen, not an audit log; the total stays exact in ``detail``
KINDS = ("counted", "holiday", "pause", "closed", "cutoff", "note")


@dataclass(frozen=True)
class TimelineEntry:
    """One line of a deadline's timeline; ``minutes`` is working time in it."""

    kind: str  # one of KINDS
    start: datetime
    end: datetime
    minutes: int
    label: str


def fmt_time(t: datetime, cal: Calendar) -> str:
    """``Mon 2026-03-02 10:00 EET`` in the calendar's zone."""
    return t.astimezone(cal.tz).strftime("%a %Y-%m-%d %H:%M %Z")


def fmt_duration(minutes: int) -> str:
    """``510`` -> ``8 h 30 min``."""
    h, m = divmod(minutes, 60)
    return f"{h} h {m} min" if h and m else (f"{h} h" if h else f"{m} min")


def _minutes(us: int) -> int:
    return round(us / MIN_US)


def _minus(piece: Interval, pauses: list[Interval]) -> list[Interval]:
    out = [piece]
    for p0, p1 in pauses:
        nxt: list[Interval] = []
        for a, b in out:
            if p1 <= a or p0 >= b:
                nxt.append((a, b))
                continue
            if a < p0:
                nxt.append((a, p0))
            if p1 < b:
                nxt.append((p1, b))
        out = nxt
    return out


def build_timeline(
    start: datetime, due: datetime, cal: Calendar, pauses: Sequence[Pause] = ()
) -> tuple[TimelineEntry, ...]:
    """Counted working intervals, skipped holidays and pauses from ``start`` to ``due``."""
    a, b = instant_us(start), instant_us(due)
    check_span(a, b)  # a day-by-day walk below: bounded as the arithmetic is
    tz = cal.tz
    entries: list[tuple[int, TimelineEntry]] = []
    ps = _pauses_us(pauses)
    intervals = list(_intervals_us(cal, a, b)) if b > a else []
    if intervals and intervals[0][0] > a:
        entries.append(
            (
                a,
                TimelineEntry(
                    "closed",
                    from_us(a, tz),
                    from_us(intervals[0][0], tz),
                    0,
                    "outside working hours; the clock starts at the next opening",
                ),
            )
        )
    for piece in intervals:
        for s, e in _minus(piece, ps):
            ls, le = from_us(s, tz), from_us(e, tz)
            label = f"{ls:%a %d %b %H:%M}–{le:%H:%M}"
            entries.append((s, TimelineEntry("counted", ls, le, _minutes(e - s), label)))
    for p0, p1 in ps:
        lo, hi = max(p0, a), min(p1, b)
        if lo < hi:
            lost = working_between(from_us(lo, tz), from_us(hi, tz), cal)
            entries.append(
                (
                    lo,
                    TimelineEntry(
                        "pause",
                        from_us(lo, tz),
                        from_us(hi, tz),
                        round(lost / timedelta(minutes=1)),
                        "clock paused",
                    ),
                )
            )
    if b > a:
        day, last = local_date(a, tz), local_date(b, tz)
        while day <= last:
            note = cal.note_on(day)
            if note:
                d0, d1 = day_span(tz, day)
                open_us = sum(e - s for s, e in _intervals_us(cal, d0, d1))
                kind = "note" if open_us else "holiday"
                entries.append(
                    (
                        d0,
                        TimelineEntry(
                            kind, from_us(d0, tz), from_us(d1, tz), _minutes(open_us), note
                        ),
                    )
                )
            day += timedelta(days=1)
    entries.sort(key=lambda x: x[0])
    out = [e for _, e in entries]
    if len(out) > MAX_ENTRIES:
        rest = out[MAX_ENTRIES - 1 :]
        counted = sum(e.minutes for e in rest if e.kind == "counted")
        out = out[: MAX_ENTRIES - 1]
        out.append(
            TimelineEntry(
                "note",
                rest[0].start,
                rest[-1].end,
                counted,
                f"{len(rest)} more entries ({fmt_duration(counted)} counted)",
            )
        )
    return tuple(out)
