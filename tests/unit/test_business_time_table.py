"""Table tests of working-time arithmetic: SPEC §2 examples, DST nights, overrides, bounds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from rules.calendar import Calendar, calendars_from_source, intersect, load_calendars
from rules.calendar.business_time import (
    NoWorkingTime,
    add_working,
    end_of_working_day,
    is_open,
    next_open,
    open_intervals,
    working_between,
)
from rules.config.source import parse_text

ROOT = Path(__file__).resolve().parents[2]
KYIV = ZoneInfo("Europe/Kyiv")
NY = ZoneInfo("America/New_York")
LH = ZoneInfo("Australia/Lord_Howe")
H = timedelta(hours=1)
M = timedelta(minutes=1)


def cals(text: str) -> dict[str, Calendar]:
    return calendars_from_source(parse_text(text, "t.yaml"))


@pytest.fixture(scope="module")
def default() -> Calendar:
    return load_calendars(ROOT / "config" / "calendars.yaml")["default"]


def k(y: int, mo: int, d: int, h: int = 0, mi: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, tzinfo=KYIV)


def same(a: datetime, b: datetime) -> bool:
    """Same instant *and* same wall clock (datetimes sharing a zone compare by wall clock)."""
    return a.astimezone(UTC) == b.astimezone(UTC) and a.utcoffset() == b.utcoffset()


# SPEC §2 "Counting" and the service levels built on it (2026-03-02 is a Monday)
@pytest.mark.parametrize(
    ("start", "hours", "due", "why"),
    [
        (k(2026, 3, 2, 10), 8, k(2026, 3, 2, 18), "8 working hours from Mon 10:00 is Mon 18:00"),
        (k(2026, 3, 6, 17, 30), 8, k(2026, 3, 9, 16, 30), "from Fri 17:30 it is Mon 16:30"),
        (k(2026, 3, 7, 11), 8, k(2026, 3, 9, 17), "filed Saturday counts from Mon 09:00"),
        (k(2026, 3, 6, 17, 30), 1, k(2026, 3, 9, 9, 30), "acceptance within 1 working hour"),
        (k(2026, 3, 2, 16), 3, k(2026, 3, 3, 10), "first response within 3 working hours"),
        (k(2026, 3, 2, 10), 9, k(2026, 3, 3, 10), "1 working day is 9 working hours"),
        (k(2026, 3, 2, 10), 24, k(2026, 3, 4, 16), "composite of 3 units: 3 x 8 hours"),
        (k(2026, 3, 2, 10), 20, k(2026, 3, 4, 12), "enhancement: filing + 20 estimate hours"),
        (k(2026, 3, 2, 8, 59), 8, k(2026, 3, 2, 17), "before opening counts from 09:00"),
        (k(2026, 3, 2, 18), 1, k(2026, 3, 3, 10), "at closing time counts from the next day"),
    ],
)
def test_spec_counting(default, start, hours, due, why):
    got = add_working(start, hours * H, default)
    assert same(got, due), why
    assert working_between(start, got, default) == hours * H


def test_input_in_another_zone_gives_result_in_calendar_zone(default):
    got = add_working(datetime(2026, 3, 2, 8, tzinfo=UTC), 8 * H, default)  # 10:00 in Kyiv
    assert same(got, k(2026, 3, 2, 18))
    assert got.tzinfo == KYIV


def test_pause_stops_the_clock(default):
    pause = (k(2026, 3, 2, 12), k(2026, 3, 3, 12))  # waiting for the client
    assert same(add_working(k(2026, 3, 2, 10), 8 * H, default, [pause]), k(2026, 3, 3, 18))
    assert working_between(k(2026, 3, 2, 10), k(2026, 3, 3, 18), default, [pause]) == 8 * H


def test_pause_before_start_or_in_closed_time_changes_nothing(default):
    night = (k(2026, 3, 2, 19), k(2026, 3, 3, 8))
    early = (k(2026, 3, 1, 10), k(2026, 3, 2, 10))
    got = add_working(k(2026, 3, 2, 10), 8 * H, default, [night, early])
    assert same(got, k(2026, 3, 2, 18))


def test_across_kyiv_spring_forward_weekend(default):
    got = add_working(k(2026, 3, 27, 17), 2 * H, default)  # Fri EET -> Mon EEST
    assert same(got, k(2026, 3, 30, 10))
    assert got.utcoffset() == 3 * H


DST = cals("""
calendars:
  ny: {timezone: America/New_York, week: {sun: "00:30-02:30, 02:45-03:15"}}
  kyiv_night: {timezone: Europe/Kyiv, week: {sun: "02:30-03:30, 03:45-05:00, 22:00-24:00"}}
  lord_howe: {timezone: Australia/Lord_Howe, week: {sun: "01:15-02:45, 09:00-12:00"}}
""")


@pytest.mark.parametrize(
    ("cal", "day", "tz", "expected", "why"),
    [
        ("ny", (2026, 3, 8), NY, 105 * M, "02:00-03:00 missing: 90 + 15 min"),
        ("ny", (2026, 11, 1), NY, 210 * M, "01:00-02:00 repeated: 180 + 30 min"),
        ("kyiv_night", (2026, 3, 29), KYIV, 210 * M, "03:00-04:00 missing: 30 + 60 + 120"),
        ("kyiv_night", (2026, 10, 25), KYIV, 300 * M, "03:00-04:00 repeated: 90 + 90 + 120"),
        ("lord_howe", (2026, 4, 5), LH, 300 * M, "01:30-02:00 repeated: 45 + 75 + 180"),
        ("lord_howe", (2026, 10, 4), LH, 240 * M, "02:00-02:30 missing: 45 + 15 + 180"),
        ("lord_howe", (2026, 6, 7), LH, 270 * M, "an ordinary Sunday: 90 + 180"),
    ],
)
def test_dst_days_count_real_elapsed_time(cal, day, tz, expected, why):
    start = datetime(day[0], day[1], day[2], tzinfo=tz)
    end = start + timedelta(days=1)  # wall-clock day: same zone arithmetic
    assert working_between(start, end, DST[cal]) == expected, why
    assert working_between(start, add_working(start, expected, DST[cal]), DST[cal]) == expected


def test_ny_repeated_hour_is_counted_twice_in_real_time():
    cal = DST["ny"]
    first = datetime(2026, 11, 1, 1, 30, tzinfo=NY)  # EDT, fold=0
    second = datetime(2026, 11, 1, 1, 30, fold=1, tzinfo=NY)  # EST
    assert is_open(first, cal) and is_open(second, cal)
    assert working_between(first, second, cal) == H
    got = add_working(datetime(2026, 11, 1, 0, 30, tzinfo=NY), 2 * H, cal)
    assert got.astimezone(UTC) == second.astimezone(UTC)


def test_kyiv_missing_hour_window_starts_at_the_jump():
    cal = DST["kyiv_night"]
    got = next_open(datetime(2026, 3, 29, 3, 31, tzinfo=UTC), cal)  # after 02:30-03:00 EET
    assert same(got, datetime(2026, 3, 29, 22, 0, tzinfo=KYIV))
    assert same(
        next_open(datetime(2026, 3, 29, 0, 59, tzinfo=UTC), cal),
        datetime(2026, 3, 29, 2, 59, tzinfo=KYIV),
    )
    assert same(
        next_open(datetime(2026, 3, 29, 1, 0, tzinfo=UTC), cal),
        datetime(2026, 3, 29, 4, 0, tzinfo=KYIV),
    )


OVERRIDES = cals("""
calendars:
  team:
    timezone: Europe/Kyiv
    week: {mon-thu: "09:00-13:00, 14:00-18:00", fri: "09:00-16:00"}
    extra_holidays: {2026-01-01: New Year}
    yearly_holidays: {"12-25": Christmas}
    overrides:
      2026-03-07: {hours: "10:00-15:00", name: Saturday made working}
      2026-03-04: {hours: "09:00-13:00", name: half-day holiday}
      2026-12-25: "09:00-12:00"
  client:
    timezone: America/New_York
    week: {mon-fri: "08:00-17:00"}
    holidays: {country: US}
""")


def test_overrides_holidays_and_split_windows():
    team = OVERRIDES["team"]
    assert working_between(k(2026, 3, 2), k(2026, 3, 9), team) == (8 + 8 + 4 + 8 + 7 + 5) * H
    assert not is_open(k(2026, 3, 2, 13, 30), team)
    assert same(add_working(k(2026, 3, 2, 12), 2 * H, team), k(2026, 3, 2, 15))
    assert working_between(k(2026, 1, 1), k(2026, 1, 2), team) == timedelta(0)
    assert working_between(k(2027, 12, 24), k(2027, 12, 26), team) == 7 * H  # Fri + holiday
    assert working_between(k(2026, 12, 25), k(2026, 12, 26), team) == 3 * H  # override wins
    assert same(end_of_working_day(k(2026, 3, 4, 10), team), k(2026, 3, 4, 13))


def test_intersection_of_zones():
    both = intersect(OVERRIDES["team"], OVERRIDES["client"], "both")
    assert both.tz == KYIV
    # Kyiv is 7 h ahead of New York in March before the US switch: NY 08:00 = Kyiv 15:00
    got = open_intervals(k(2026, 3, 2), k(2026, 3, 3), both)
    assert [(a.hour, b.hour) for a, b in got] == [(15, 18)]
    # after 2026-03-08 New York is on EDT and 6 h behind
    got = open_intervals(k(2026, 3, 9), k(2026, 3, 10), both)
    assert [(a.hour, b.hour) for a, b in got] == [(14, 18)]
    assert working_between(k(2026, 1, 19), k(2026, 1, 20), both) == timedelta(0)  # MLK day


def test_end_of_working_day_and_next_open(default):
    assert same(end_of_working_day(k(2026, 3, 2, 10), default), k(2026, 3, 2, 18))
    assert same(end_of_working_day(k(2026, 3, 7, 10), default), k(2026, 3, 9, 18))
    assert same(end_of_working_day(k(2026, 3, 2, 18), default), k(2026, 3, 3, 18))
    assert same(next_open(k(2026, 3, 2, 10), default), k(2026, 3, 2, 10))
    assert same(next_open(k(2026, 3, 6, 18), default), k(2026, 3, 9, 9))
    assert not is_open(k(2026, 3, 2, 18), default) and is_open(k(2026, 3, 2, 17, 59), default)


def test_sub_minute_precision(default):
    start = datetime(2026, 3, 2, 10, 0, 12, 345678, tzinfo=KYIV)
    got = add_working(start, timedelta(hours=8, microseconds=1), default)
    assert same(got, datetime(2026, 3, 3, 9, 0, 12, 345679, tzinfo=KYIV))
    assert working_between(start, got, default) == timedelta(hours=8, microseconds=1)


def test_zero_duration_is_the_start_and_negative_is_refused(default):
    sat = k(2026, 3, 7, 11)
    assert same(add_working(sat, timedelta(0), default), sat)
    with pytest.raises(ValueError, match="negative"):
        add_working(sat, -H, default)
    with pytest.raises(ValueError, match="naive"):
        add_working(datetime(2026, 3, 2, 10), H, default)
    with pytest.raises(ValueError, match="pause ends before"):
        add_working(sat, H, default, [(k(2026, 3, 9), k(2026, 3, 8))])


def test_long_durations_skip_blocks_exactly(default):
    start = k(2026, 3, 2, 10)
    for hours in (8_000, 20_000):
        got = add_working(start, hours * H, default)
        assert working_between(start, got, default) == hours * H
    assert working_between(k(2026, 1, 1), k(2027, 1, 1), default) == (261 - 2) * 9 * H


def test_no_working_time_within_horizon_raises():
    never = cals("""
calendars:
  once: {timezone: UTC, week: {}, overrides: {2020-01-06: "09:00-10:00"}}
  kyiv_morning: {timezone: Europe/Kyiv, week: {mon-fri: "09:00-10:00"}}
  ny_morning: {timezone: America/New_York, week: {mon-fri: "09:00-10:00"}}
  never: {intersect: [kyiv_morning, ny_morning]}
""")
    start = datetime(2026, 1, 1, tzinfo=UTC)
    for name in ("once", "never"):
        with pytest.raises(NoWorkingTime, match=f"'{name}' has no working time within 5"):
            add_working(start, H, never[name])
        with pytest.raises(NoWorkingTime):
            next_open(start, never[name])
        with pytest.raises(NoWorkingTime):
            end_of_working_day(start, never[name])
    assert working_between(start, start + timedelta(days=3650), never["never"]) == timedelta(0)


def test_precomputed_data_for_five_years_is_small(default):
    cal = load_calendars(ROOT / "config" / "calendars.yaml")["default"]
    add_working(k(2026, 1, 1), 5 * 261 * 9 * H, cal)
    assert 0 < cal.cached_bytes() < 1_000_000


def test_always_open_calendar_is_plain_time_across_block_boundaries():
    always = cals('calendars:\n  x: {timezone: UTC, week: {mon-sun: "00:00-24:00"}}\n')["x"]
    a, b = datetime(2026, 1, 1, tzinfo=UTC), datetime(2028, 1, 1, tzinfo=UTC)
    assert open_intervals(a, b, always) == [(a, b)]  # blocks are 26 weeks; merged across them
    assert working_between(a, b, always) == b - a
    assert add_working(a, b - a, always) == b
    assert same(end_of_working_day(a, always), datetime(2026, 1, 2, tzinfo=UTC))
