"""Working-time arithmetic on a :class:`~rules.calendar.Calendar`; pure functions.

Inputs are timezone-aware datetimes in any zone; results are in the calendar's
zone. Working time is real elapsed time during which the calendar's wall clock
reads inside a working window (see :mod:`rules.calendar.tz` for DST). A deadline is
the *earliest* instant by which the duration has been worked, so it may be a
window's end (Mon 18:00) but never lies inside closed time. A pause is an
interval in which the clock stops; pauses may overlap each other and closed time.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta

from rules.calendar.model import BLOCK_US, Calendar
from rules.calendar.tz import DAY_US, Interval, day_span, from_us, local_date, merge, to_us

Pause = tuple[datetime, datetime]

__all__ = [
    "MAX_SPAN_YEARS",
    "NoWorkingTime",
    "OutOfRange",
    "Pause",
    "add_working",
    "end_of_working_day",
    "is_open",
    "next_open",
    "open_intervals",
    "working_between",
]


class NoWorkingTime(Exception):
    """The calendar has no open time inside its horizon (default 5 years) after an instant."""

    def __init__(self, cal: Calendar, after: int):
        years = cal.horizon_us / (365.25 * 86_400 * 1_000_000)
        super().__init__(
            f"calendar '{cal.name}' has no working time within {round(years, 1):g} years after"
            f" {from_us(after, cal.tz).isoformat()}"
        )


#: the instants the arithmetic accepts: the years 1970-2999 (the CLI's own bound)
FIRST_YEAR, LAST_YEAR = 1970, 2999
_FIRST_US = to_us(datetime(FIRST_YEAR, 1, 1, tzinfo=UTC))
_END_US = to_us(datetime(LAST_YEAR + 1, 1, 1, tzinfo=UTC))
#: the longest span walked: wider than the widest year window the rules accept
#: (``limits.input.years``, at most 100 years apart), about 0.2 s cold for an office calendar
MAX_SPAN_YEARS = 105
MAX_SPAN_US = MAX_SPAN_YEARS * 36525 * DAY_US // 100


class OutOfRange(ValueError):
    """An instant or a span beyond what working-time arithmetic walks (refused at once)."""


def instant_us(t: datetime) -> int:
    """``t`` as epoch microseconds, refused outside the years the arithmetic covers."""
    u = to_us(t)
    if not _FIRST_US <= u < _END_US:
        raise OutOfRange(
            f"{t.isoformat()} is outside the years {FIRST_YEAR}-{LAST_YEAR} that working-time"
            " arithmetic covers"
        )
    return u


def check_span(a: int, b: int) -> None:
    """Refuse a span ``[a, b)`` longer than :data:`MAX_SPAN_YEARS` (walking it costs seconds)."""
    if b - a > MAX_SPAN_US:
        years = (b - a) / (365.25 * DAY_US)
        raise OutOfRange(
            f"a span of {years:.0f} years is longer than the {MAX_SPAN_YEARS} years that"
            " working-time arithmetic walks"
        )


# -- microsecond kernels ----------------------------------------------------------------
def _add_us(cal: Calendar, t: int, dur: int) -> int:
    """Earliest instant by which ``dur`` (> 0) of open time has passed since ``t``."""
    # Block.before / Block.at inlined: this is the hot path of every deadline
    k = t // BLOCK_US
    blk = cal._blocks.get(k) or cal.block(k)
    i = bisect_right(blk.starts, t) - 1
    c = dur
    if i >= 0:
        end = blk.ends[i]
        c += blk.cum_end[i] - (end - t if t < end else 0)
    last_open = t
    while c > blk.total:
        c -= blk.total
        if blk.total and blk.ends[-1] > last_open:
            last_open = blk.ends[-1]
        k += 1
        if k * BLOCK_US - last_open > cal.horizon_us:
            raise NoWorkingTime(cal, last_open)
        check_span(t, k * BLOCK_US)
        blk = cal.block(k)
    cum = blk.cum_end
    i = bisect_left(cum, c)
    return blk.ends[i] - (cum[i] - c)


def _between_us(cal: Calendar, a: int, b: int) -> int:
    """Open time in ``[a, b)`` for ``a <= b``."""
    ka, kb = a // BLOCK_US, b // BLOCK_US
    first = cal.block(ka)
    if ka == kb:
        return first.before(b) - first.before(a)
    total = first.total - first.before(a)
    totals = cal._totals
    for k in range(ka + 1, kb):
        # a middle block counts only its total: kept per calendar (an int per 26 weeks of
        # the years the arithmetic covers), so a long span is walked once, not per call
        n = totals.get(k)
        if n is None:
            n = totals[k] = cal.block(k).total
        total += n
    return total + cal.block(kb).before(b)


def _next_open_us(cal: Calendar, t: int) -> int:
    k = t // BLOCK_US
    while True:
        blk = cal.block(k)
        i = bisect_right(blk.ends, t)
        if i < len(blk.ends):
            start = blk.starts[i]
            return start if start > t else t
        k += 1
        if k * BLOCK_US - t > cal.horizon_us:
            raise NoWorkingTime(cal, t)


def _intervals_us(cal: Calendar, a: int, b: int) -> Iterator[Interval]:
    """Open intervals clipped to ``[a, b)``, merged across block boundaries."""
    pending: Interval | None = None
    for k in range(a // BLOCK_US, (b - 1) // BLOCK_US + 1):
        blk = cal.block(k)
        for i in range(max(bisect_right(blk.ends, a), 0), bisect_left(blk.starts, b)):
            s, e = max(blk.starts[i], a), min(blk.ends[i], b)
            if pending and pending[1] == s:
                pending = (pending[0], e)
                continue
            if pending:
                yield pending
            pending = (s, e)
    if pending:
        yield pending


def _pauses_us(pauses: Sequence[Pause]) -> list[Interval]:
    out = []
    for p_start, p_end in pauses:
        a, b = instant_us(p_start), instant_us(p_end)
        if b < a:
            raise ValueError(f"pause ends before it starts: {p_start} .. {p_end}")
        if a < b:
            out.append((a, b))
    return merge(out)


# -- public API ---------------------------------------------------------------------------
def add_working(
    start: datetime, duration: timedelta, cal: Calendar, pauses: Sequence[Pause] = ()
) -> datetime:
    """The earliest instant by which ``duration`` of working time has passed since ``start``."""
    t, dur = instant_us(start), (duration.days * 86_400 + duration.seconds) * 1_000_000
    dur += duration.microseconds
    if dur < 0:
        raise ValueError(f"negative working duration {duration}")
    check_span(0, dur)  # the deadline lies at least ``dur`` after ``start``
    if dur == 0:
        return from_us(t, cal.tz)
    if pauses:
        for p_start, p_end in _pauses_us(pauses):
            if p_end <= t:
                continue
            due = _add_us(cal, t, dur)
            if p_start >= due:
                break
            if p_start > t:  # work done before the pause; less than ``dur`` since due is later
                dur -= _between_us(cal, t, p_start)
            t = p_end
    return from_us(_add_us(cal, t, dur), cal.tz)


def working_between(
    a: datetime, b: datetime, cal: Calendar, pauses: Sequence[Pause] = ()
) -> timedelta:
    """Working time from ``a`` to ``b`` (negative when ``b`` is before ``a``), minus pauses."""
    x, y = instant_us(a), instant_us(b)
    sign = 1
    if y < x:
        x, y, sign = y, x, -1
    check_span(x, y)
    total = _between_us(cal, x, y)
    for p_start, p_end in _pauses_us(pauses):
        lo, hi = max(p_start, x), min(p_end, y)
        if lo < hi:
            total -= _between_us(cal, lo, hi)
    return timedelta(microseconds=sign * total)


def next_open(t: datetime, cal: Calendar) -> datetime:
    """``t`` itself when the calendar is open then, else the next opening."""
    return from_us(_next_open_us(cal, instant_us(t)), cal.tz)


def is_open(t: datetime, cal: Calendar) -> bool:
    """Whether ``t`` lies inside working time (a window's end is closed)."""
    u = instant_us(t)
    blk = cal.block(u // BLOCK_US)
    i = bisect_right(blk.starts, u) - 1
    return i >= 0 and u < blk.ends[i]


def end_of_working_day(t: datetime, cal: Calendar) -> datetime:
    """End of the last window of the working day of ``t`` (the next one when closed at ``t``)."""
    o = _next_open_us(cal, instant_us(t))
    _, day_end = day_span(cal.tz, local_date(o, cal.tz))
    k = (day_end - 1) // BLOCK_US
    while True:  # ends at o's block at the latest, since o is open and before day_end
        blk = cal.block(k)
        j = bisect_left(blk.starts, day_end) - 1
        if j >= 0:
            return from_us(min(blk.ends[j], day_end), cal.tz)
        k -= 1


def open_intervals(a: datetime, b: datetime, cal: Calendar) -> list[tuple[datetime, datetime]]:
    """The working intervals inside ``[a, b)``, in the calendar's zone."""
    x, y = instant_us(a), instant_us(b)
    if y <= x:
        return []
    check_span(x, y)
    return [(from_us(s, cal.tz), from_us(e, cal.tz)) for s, e in _intervals_us(cal, x, y)]
