"""Property tests of working-time arithmetic against a brute-force minute-stepping reference.

The reference reads the definition literally: a UTC minute is working time when
the calendar zone's wall clock, at that minute, reads inside a window of that
local date. Calendars here are built so that windows touch the missing and the
repeated hour of DST nights in three zones (one with a 30-minute shift).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from functools import cache
from zoneinfo import ZoneInfo

from hypothesis import given
from hypothesis import strategies as st

from rules.calendar import Calendar, calendars_from_source
from rules.calendar.business_time import add_working, is_open, next_open, working_between
from rules.config.source import parse_text

CALENDARS_YAML = """
calendars:
  kyiv:
    timezone: Europe/Kyiv
    week: {mon-fri: "09:00-18:00"}
    holidays: {country: UA}
    extra_holidays: {2026-03-30: test holiday, 2026-10-26: test holiday}
    overrides:
      2026-03-28: {hours: "10:00-14:00", name: Saturday made working}
      2026-10-23: {hours: "09:00-13:00", name: short Friday}
  kyiv_night:   # 03:00-04:00 is missing on 2026-03-29 and repeated on 2026-10-25
    timezone: Europe/Kyiv
    week: {mon-sun: "02:30-03:30, 03:45-05:00, 22:00-24:00"}
  ny:           # 02:00 local is when New York changes, on Sundays
    timezone: America/New_York
    week:
      mon-fri: "08:00-12:00, 13:00-17:30"
      sun: "00:30-02:30, 02:45-03:15"
    holidays: {country: US, subdivision: NY}
  lord_howe:    # +10:30 <-> +11:00 at 02:00 local
    timezone: Australia/Lord_Howe
    week: {mon-sun: "01:15-02:45, 09:00-12:00"}
  team_ny:
    intersect: [kyiv, ny]
"""

CALS = calendars_from_source(parse_text(CALENDARS_YAML, "test.yaml"))
MINUTE = timedelta(minutes=1)
TRANSITIONS = [
    datetime(2026, 3, 29, tzinfo=UTC),
    datetime(2026, 10, 25, tzinfo=UTC),
    datetime(2026, 3, 8, tzinfo=UTC),
    datetime(2026, 11, 1, tzinfo=UTC),
    datetime(2026, 4, 5, tzinfo=UTC),
    datetime(2026, 10, 4, tzinfo=UTC),
]
INPUT_ZONES = [UTC, ZoneInfo("Europe/Kyiv"), ZoneInfo("America/New_York"), ZoneInfo("Asia/Tokyo")]


# -- the reference -------------------------------------------------------------------------
@cache
def _windows(cal_name: str, day: date) -> tuple[tuple[int, int], ...]:
    cal = CALS[cal_name]
    return cal.windows_on(day)


def ref_open(cal: Calendar, t: datetime) -> bool:
    """Literal definition; an intersection is open when every part is."""
    parts = getattr(cal, "parts", None)
    if parts is not None:
        return all(ref_open(p, t) for p in parts)
    local = t.astimezone(cal.tz)
    minute = local.hour * 60 + local.minute
    return any(s <= minute < e for s, e in _windows(cal.name, local.date()))


def ref_paused(t: datetime, pauses: list[tuple[datetime, datetime]]) -> bool:
    return any(a <= t < b for a, b in pauses)


def ref_between(cal: Calendar, a: datetime, b: datetime, pauses=()) -> timedelta:
    # stepping in UTC: arithmetic on datetimes sharing a zone is wall-clock arithmetic
    n, t, b = 0, a.astimezone(UTC), b.astimezone(UTC)
    while t < b:
        n += ref_open(cal, t) and not ref_paused(t, list(pauses))
        t += MINUTE
    return n * MINUTE


def ref_add(cal: Calendar, start: datetime, minutes: int, pauses=()) -> datetime:
    t, left = start.astimezone(UTC), minutes
    while True:
        if ref_open(cal, t) and not ref_paused(t, list(pauses)):
            left -= 1
            if left == 0:
                return t + MINUTE
        t += MINUTE


def u(t: datetime) -> datetime:
    """Compare instants in UTC: aware datetimes sharing a zone compare by wall clock."""
    return t.astimezone(UTC)


# -- strategies ----------------------------------------------------------------------------
near_transition = st.builds(
    lambda base, m: base + m * MINUTE,
    st.sampled_from(TRANSITIONS),
    st.integers(-4 * 1440, 2 * 1440),
)
anywhere = st.builds(
    lambda m: datetime(2026, 1, 1, tzinfo=UTC) + m * MINUTE, st.integers(0, 2 * 365 * 1440)
)
instants = st.builds(
    lambda t, z: t.astimezone(z), st.one_of(near_transition, anywhere), st.sampled_from(INPUT_ZONES)
)
calendars = st.sampled_from(sorted(CALS)).map(CALS.__getitem__)
durations = st.integers(1, 1500)  # minutes; the sparsest calendar needs ~2 weeks for this


@given(calendars, instants, durations)
def test_add_matches_reference_and_inverts(cal, start, minutes):
    due = add_working(start, minutes * MINUTE, cal)
    assert u(due) == ref_add(cal, start, minutes)
    assert due.tzinfo == cal.tz
    assert working_between(start, due, cal) == minutes * MINUTE


@given(calendars, instants, st.integers(0, 14 * 1440))
def test_between_matches_reference(cal, a, span):
    b = u(a) + span * MINUTE
    assert working_between(a, b, cal) == ref_between(cal, a, b)
    assert working_between(b, a, cal) == -ref_between(cal, a, b)


@given(calendars, instants, durations, durations)
def test_monotonic_in_duration(cal, start, d1, d2):
    lo, hi = sorted((d1, d2))
    assert u(add_working(start, lo * MINUTE, cal)) <= u(add_working(start, hi * MINUTE, cal))


@given(calendars, instants, durations)
def test_result_never_in_closed_time_except_a_window_end(cal, start, minutes):
    due = u(add_working(start, minutes * MINUTE, cal))
    assert ref_open(cal, due) or ref_open(cal, due - MINUTE)
    assert is_open(due, cal) or is_open(due - MINUTE, cal)


@given(calendars, instants)
def test_is_open_and_next_open_match_reference(cal, t):
    assert is_open(t, cal) == ref_open(cal, t)
    nxt = u(next_open(t, cal))
    assert ref_open(cal, nxt)
    probe = u(t)
    while probe < nxt:  # nothing open between t and the answer
        assert not ref_open(cal, probe)
        probe += 15 * MINUTE if nxt - probe > 15 * MINUTE else MINUTE


pauses_strategy = st.lists(
    st.tuples(st.integers(-600, 10 * 1440), st.integers(1, 3 * 1440)), max_size=3
)


@given(calendars, instants, st.integers(1, 900), pauses_strategy)
def test_pauses_only_move_deadlines_later(cal, start, minutes, raw_pauses):
    pauses = [(u(start) + a * MINUTE, u(start) + (a + n) * MINUTE) for a, n in raw_pauses]
    plain = u(add_working(start, minutes * MINUTE, cal))
    paused = u(add_working(start, minutes * MINUTE, cal, pauses))
    assert paused >= plain
    assert paused == ref_add(cal, start, minutes, pauses)
    assert working_between(start, paused, cal, pauses) == minutes * MINUTE
