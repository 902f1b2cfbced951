"""Instants as integer microseconds since the epoch, and wall-clock days mapped to UTC.

Working time is *real elapsed time during which the calendar zone's wall clock
reads a time inside a working window of that local date*. So a window that
touches the missing hour of a spring-forward night is shorter by the gap, and a
window over the repeated hour of a fall-back night counts both passes of the
hour (every real minute once). Days are mapped to UTC by cutting the UTC time
line into segments of constant offset and, per segment, shifting the local
window by that offset; both DST cases then fall out without special code.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, tzinfo
from functools import lru_cache

from rules.calendar.hours import Windows

US = 1_000_000
MIN_US = 60 * US
HOUR_US = 60 * MIN_US
DAY_US = 24 * HOUR_US
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_EPOCH_ORD = date(1970, 1, 1).toordinal()
_SAMPLE_US = 6 * HOUR_US  # no zone has two offset changes within 6 hours

Segment = tuple[int, int, int]  # utc start, utc end, offset (all microseconds)
Interval = tuple[int, int]


def to_us(dt: datetime) -> int:
    """An aware datetime as microseconds since the epoch; naive ones are refused."""
    if dt.tzinfo is None or dt.utcoffset() is None:
        raise ValueError(f"naive datetime {dt.isoformat()}: give a time zone")
    d = dt - EPOCH
    return (d.days * 86_400 + d.seconds) * US + d.microseconds


def td_us(td: timedelta) -> int:
    """A timedelta as integer microseconds."""
    return (td.days * 86_400 + td.seconds) * US + td.microseconds


def from_us(us: int, tz: tzinfo) -> datetime:
    """Microseconds since the epoch as an aware datetime in ``tz``."""
    # fromtimestamp is twice as fast as EPOCH + timedelta and sets ``fold`` on repeated hours
    secs, micro = divmod(us, US)
    out = datetime.fromtimestamp(secs, tz)
    return out.replace(microsecond=micro) if micro else out


def date_us(d: date) -> int:
    """Local midnight of ``d`` read as if it were UTC (the base for wall-clock shifts)."""
    return (d.toordinal() - _EPOCH_ORD) * DAY_US


def us_date(us: int) -> date:
    """The date of a naive (wall-clock) microsecond value."""
    return date.fromordinal(us // DAY_US + _EPOCH_ORD)


def offset_at(tz: tzinfo, us: int) -> int:
    """The zone's UTC offset at an instant, in microseconds."""
    off = from_us(us, tz).utcoffset()
    assert off is not None  # zoneinfo always answers for an aware instant
    return td_us(off)


def segments(tz: tzinfo, lo: int, hi: int) -> list[Segment]:
    """Cut ``[lo, hi)`` into spans of constant UTC offset (transitions found by bisection)."""
    out: list[Segment] = []
    seg_start, off = lo, offset_at(tz, lo)
    t = lo
    while t < hi:
        nxt = min(t + _SAMPLE_US, hi)
        off_next = offset_at(tz, nxt)
        if off_next != off:
            a, b = t, nxt  # offset(a) == off, offset(b) != off: find the first changed second
            while b - a > US:
                mid = (a + b) // 2 // US * US
                if mid <= a:
                    mid = a + US
                if offset_at(tz, mid) == off:
                    a = mid
                else:
                    b = mid
            out.append((seg_start, b, off))
            seg_start, off = b, offset_at(tz, b)
        t = nxt
    out.append((seg_start, hi, off))
    return out


def day_pieces(segs: list[Segment], day: date, windows: Windows) -> list[Interval]:
    """UTC intervals during which the wall clock on local ``day`` reads inside ``windows``."""
    base = date_us(day)
    out: list[Interval] = []
    for s_min, e_min in windows:
        ws, we = base + s_min * MIN_US, base + e_min * MIN_US
        for u0, u1, off in segs:
            a, b = ws - off, we - off
            if a < u0:
                a = u0
            if b > u1:
                b = u1
            if a < b:
                out.append((a, b))
    return out


@lru_cache(maxsize=4096)
def day_span(tz: tzinfo, day: date) -> Interval:
    """The UTC span of the local date ``day`` (half-open; shorter or longer on DST days)."""
    base = date_us(day)
    segs = segments(tz, base - 2 * DAY_US, base + 3 * DAY_US)
    pieces = day_pieces(segs, day, ((0, 1440),))
    return min(p[0] for p in pieces), max(p[1] for p in pieces)


def local_date(us: int, tz: tzinfo) -> date:
    """The wall-clock date of an instant in ``tz``."""
    return from_us(us, tz).date()


def merge(intervals: list[Interval]) -> list[Interval]:
    """Sort and merge touching or overlapping intervals."""
    intervals.sort()
    out: list[Interval] = []
    for a, b in intervals:
        if out and a <= out[-1][1]:
            if b > out[-1][1]:
                out[-1] = (out[-1][0], b)
        else:
            out.append((a, b))
    return out
