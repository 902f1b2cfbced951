"""The calendar model: weekly windows, holidays and overrides, compiled into UTC blocks.

A calendar's open time is precomputed lazily in blocks of 26 weeks of UTC time:
sorted open intervals (microseconds since the epoch) with a running total of
open time. Every question (add, between, next opening) is then a couple of
binary searches plus one subtraction per block crossed, so 8 and 8,000
working hours cost about the same. Blocks are UTC-aligned, which makes the
intersection of two calendars in different zones a merge of two blocks.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from rules.calendar.hours import Windows, fmt_windows
from rules.calendar.tz import DAY_US, Interval, day_pieces, merge, segments, us_date

BLOCK_US = 182 * DAY_US
DEFAULT_HORIZON = timedelta(days=5 * 365 + 1)
_MAX_BLOCKS = 64  # cached per calendar: ~32 years, far below 1 MB for office calendars


@dataclass(frozen=True)
class Block:
    """Open intervals of one UTC block with cumulative open time at each interval's end."""

    starts: list[int]
    ends: list[int]
    cum_end: list[int]
    total: int

    @classmethod
    def of(cls, intervals: list[Interval]) -> Block:
        starts, ends, cum = [], [], []
        total = 0
        for a, b in intervals:
            total += b - a
            starts.append(a)
            ends.append(b)
            cum.append(total)
        return cls(starts, ends, cum, total)

    def before(self, t: int) -> int:
        """Open time in this block before instant ``t``."""
        i = bisect_right(self.starts, t) - 1
        if i < 0:
            return 0
        end = self.ends[i]
        return self.cum_end[i] - (end - t if t < end else 0)

    def at(self, c: int) -> int:
        """The first instant by which ``c`` (0 < c <= total) of open time has passed."""
        i = bisect_left(self.cum_end, c)
        return self.ends[i] - (self.cum_end[i] - c)

    def nbytes(self) -> int:
        """Approximate memory held by this block (lists plus their int objects)."""
        import sys

        n = len(self.starts)
        ints = sum(sys.getsizeof(x) for x in (*self.starts, *self.ends, *self.cum_end))
        return 3 * sys.getsizeof([0] * n) + ints


class Calendar:
    """A named working calendar: a zone, weekly windows, holidays, overrides, horizon."""

    name: str
    tz: ZoneInfo
    week: tuple[Windows, ...]
    country: str | None
    subdivision: str | None
    categories: tuple[str, ...] | None
    closed_dates: dict[date, str]
    yearly: dict[tuple[int, int], str]
    overrides: dict[date, tuple[Windows, str]]
    horizon_us: int
    _blocks: dict[int, Block]
    #: each block's open time, kept when the block itself is evicted (business_time)
    _totals: dict[int, int]
    _country_days: dict[int, dict[date, str]]

    def __init__(
        self,
        name: str,
        tz: ZoneInfo | str,
        week: Sequence[Windows] = ((),) * 7,
        *,
        country: str | None = None,
        subdivision: str | None = None,
        categories: Sequence[str] | None = None,
        closed_dates: Mapping[date, str] | None = None,
        yearly: Mapping[tuple[int, int], str] | None = None,
        overrides: Mapping[date, tuple[Windows, str]] | None = None,
        horizon: timedelta = DEFAULT_HORIZON,
    ) -> None:
        if len(week) != 7:
            raise ValueError("week must give windows for 7 days, Monday first")
        s = object.__setattr__
        s(self, "name", name)
        s(self, "tz", tz if isinstance(tz, ZoneInfo) else ZoneInfo(tz))
        s(self, "week", tuple(tuple(w) for w in week))
        s(self, "country", country)
        s(self, "subdivision", subdivision)
        s(self, "categories", tuple(categories) if categories else None)
        s(self, "closed_dates", dict(closed_dates or {}))
        s(self, "yearly", dict(yearly or {}))
        s(self, "overrides", dict(overrides or {}))
        s(self, "horizon_us", (horizon.days * 86_400 + horizon.seconds) * 1_000_000)
        s(self, "_blocks", {})
        s(self, "_totals", {})
        s(self, "_country_days", {})

    def __setattr__(self, key: str, value: Any) -> None:
        raise AttributeError(f"Calendar is immutable (tried to set {key!r})")

    def __repr__(self) -> str:
        return f"<Calendar {self.name!r} {self.tz.key}>"

    # -- the rules, per local date ----------------------------------------------------
    def holiday_name(self, day: date) -> str | None:
        """The name of the holiday on ``day`` (explicit, yearly or from the country), if any."""
        name = self.closed_dates.get(day) or self.yearly.get((day.month, day.day))
        if name is None and self.country:
            name = self._country_year(day.year).get(day)
        return name

    def _country_year(self, year: int) -> dict[date, str]:
        cache = self._country_days
        if year not in cache and self.country:
            import holidays

            hol = holidays.country_holidays(
                self.country,
                subdiv=self.subdivision,
                years=year,
                categories=self.categories,
            )
            cache[year] = {d: str(n) for d, n in hol.items()}
        return cache.get(year, {})

    def windows_on(self, day: date) -> Windows:
        """The wall-clock windows of a local date after overrides and holidays."""
        over = self.overrides.get(day)
        if over is not None:
            return over[0]
        if self.holiday_name(day) is not None:
            return ()
        return self.week[day.weekday()]

    def note_on(self, day: date) -> str | None:
        """Why ``day`` differs from the weekly pattern (a holiday or override), if it does."""
        over = self.overrides.get(day)
        if over is not None:
            return f"{over[1] or 'override'}: {fmt_windows(over[0])}"
        if self.week[day.weekday()]:
            return self.holiday_name(day)
        return None

    # -- compiled blocks ----------------------------------------------------------------
    def block(self, k: int) -> Block:
        """Block ``k`` (UTC ``[k*BLOCK_US, (k+1)*BLOCK_US)``), built on first use."""
        blocks = self._blocks
        blk = blocks.get(k)
        if blk is None:
            blk = self._build_block(k)
            if len(blocks) >= _MAX_BLOCKS:
                try:  # oldest first; rebuilding is cheap. Another thread may race us here.
                    del blocks[next(iter(blocks))]
                except (RuntimeError, StopIteration, KeyError):
                    pass
            blocks[k] = blk
        return blk

    def _build_block(self, k: int) -> Block:
        lo, hi = k * BLOCK_US, (k + 1) * BLOCK_US
        segs = segments(self.tz, lo - 2 * DAY_US, hi + 2 * DAY_US)
        pieces: list[Interval] = []
        day = us_date(lo) - timedelta(days=1)
        last = us_date(hi) + timedelta(days=1)
        one = timedelta(days=1)
        while day <= last:
            windows = self.windows_on(day)
            if windows:
                for a, b in day_pieces(segs, day, windows):
                    if a < lo:
                        a = lo
                    if b > hi:
                        b = hi
                    if a < b:
                        pieces.append((a, b))
            day += one
        return Block.of(merge(pieces))

    def cached_bytes(self) -> int:
        """Approximate memory of the precomputed blocks and holiday tables."""
        import sys

        blocks = self._blocks
        size = sum(b.nbytes() for b in blocks.values())
        for table in self._country_days.values():
            size += sys.getsizeof(table) + sum(
                sys.getsizeof(d) + sys.getsizeof(n) for d, n in table.items()
            )
        return size


class IntersectionCalendar(Calendar):
    """Open exactly when both parts are open (e.g. team hours ∩ a client's hours)."""

    parts: tuple[Calendar, Calendar]

    def __init__(self, name: str, a: Calendar, b: Calendar, tz: ZoneInfo | None = None):
        super().__init__(name, tz or a.tz, horizon=timedelta(microseconds=a.horizon_us))
        object.__setattr__(self, "parts", (a, b))

    def __repr__(self) -> str:
        a, b = self.parts
        return f"<Calendar {self.name!r} = {a.name} ∩ {b.name}, {self.tz.key}>"

    def holiday_name(self, day: date) -> str | None:
        a, b = self.parts
        names = [f"{c.name}: {n}" for c in (a, b) if (n := c.holiday_name(day))]
        return "; ".join(names) or None

    def windows_on(self, day: date) -> Windows:
        raise TypeError("an intersection has no wall-clock windows of its own; use its blocks")

    def note_on(self, day: date) -> str | None:
        a, b = self.parts
        notes = [f"{c.name}: {n}" for c in (a, b) if (n := c.note_on(day))]
        return "; ".join(notes) or None

    def _build_block(self, k: int) -> Block:
        a, b = self.parts
        x, y = a.block(k), b.block(k)
        out: list[Interval] = []
        i = j = 0
        while i < len(x.starts) and j < len(y.starts):
            lo = max(x.starts[i], y.starts[j])
            hi = min(x.ends[i], y.ends[j])
            if lo < hi:
                out.append((lo, hi))
            if x.ends[i] < y.ends[j]:
                i += 1
            else:
                j += 1
        return Block.of(out)


def intersect(a: Calendar, b: Calendar, name: str | None = None) -> Calendar:
    """A calendar open only when both ``a`` and ``b`` are open; in ``a``'s zone."""
    return IntersectionCalendar(name or f"{a.name}&{b.name}", a, b)
