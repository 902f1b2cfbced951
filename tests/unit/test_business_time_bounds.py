"""Working-time arithmetic refuses far instants and spans at once (issue 16): a stored event
from year 9999 or 0001 used to walk the calendar block by block for seconds, then fail on
"year 10000 is out of range". Nothing here times anything: a refused call builds no block."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from rules.calendar import Calendar, calendars_from_source, load_calendars
from rules.calendar.business_time import (
    MAX_SPAN_YEARS,
    OutOfRange,
    add_working,
    end_of_working_day,
    is_open,
    next_open,
    open_intervals,
    working_between,
)
from rules.calendar.timeline import build_timeline
from rules.config.source import parse_text

ROOT = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 11, 16, 10, tzinfo=UTC)
FAR_FUTURE = datetime(9999, 12, 30, 23, tzinfo=UTC)
FAR_PAST = datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=5)))
H = timedelta(hours=1)


def fresh() -> Calendar:
    """The shipped team calendar, with no block built yet."""
    return load_calendars(ROOT / "config" / "calendars.yaml")["default"]


def untouched(cal: Calendar) -> bool:
    return not cal._blocks and not cal._totals


@pytest.mark.parametrize("far", [FAR_FUTURE, FAR_PAST, datetime(1969, 12, 31, tzinfo=UTC),
                                 datetime(3000, 1, 1, tzinfo=UTC)],
                         ids=["9999", "0001", "1969", "3000"])
def test_an_instant_out_of_range_is_refused_before_any_walk(far: datetime) -> None:
    cal = fresh()
    calls = [
        lambda: working_between(NOW, far, cal),
        lambda: working_between(far, NOW, cal),
        lambda: add_working(far, 8 * H, cal),
        lambda: add_working(NOW, 8 * H, cal, [(far - H, far)] if far > NOW else [(far, NOW)]),
        lambda: next_open(far, cal),
        lambda: is_open(far, cal),
        lambda: end_of_working_day(far, cal),
        lambda: open_intervals(NOW, far, cal) if far > NOW else open_intervals(far, NOW, cal),
        lambda: build_timeline(NOW, far, cal) if far > NOW else build_timeline(far, NOW, cal),
    ]
    for call in calls:
        with pytest.raises(OutOfRange, match="1970-2999"):
            call()
    assert untouched(cal)


def test_a_span_longer_than_the_limit_is_refused_before_any_walk() -> None:
    cal = fresh()
    a, b = datetime(1971, 1, 1, tzinfo=UTC), datetime(2990, 1, 1, tzinfo=UTC)
    with pytest.raises(OutOfRange, match=f"longer than the {MAX_SPAN_YEARS} years"):
        working_between(a, b, cal)
    with pytest.raises(OutOfRange, match="longer than"):
        open_intervals(a, b, cal)
    with pytest.raises(OutOfRange, match="longer than"):
        add_working(NOW, timedelta(days=366 * MAX_SPAN_YEARS), cal)
    assert untouched(cal)
    assert isinstance(OutOfRange("x"), ValueError)  # callers that catch ValueError still do


def test_a_sparse_calendar_stops_walking_at_the_span_limit() -> None:
    # one hour a week: 6,000 working hours lie 115 years ahead, past the limit
    cal = calendars_from_source(parse_text(
        'calendars:\n  rare: {timezone: UTC, week: {mon: "09:00-10:00"}}\n', "t.yaml"))["rare"]
    with pytest.raises(OutOfRange, match="longer than"):
        add_working(NOW, 6_000 * H, cal)
    assert add_working(NOW, 52 * H, cal) < NOW + timedelta(days=366)


def test_a_century_inside_the_range_is_exact_and_kept() -> None:
    cal = fresh()
    a, mid, b = (datetime(2000, 1, 1, tzinfo=UTC), datetime(2050, 7, 1, tzinfo=UTC),
                 datetime(2100, 12, 31, tzinfo=UTC))
    whole = working_between(a, b, cal)
    assert whole == working_between(a, mid, cal) + working_between(mid, b, cal)
    assert working_between(b, a, cal) == -whole
    assert len(cal._blocks) <= 64 < len(cal._totals)  # the totals outlive evicted blocks
    assert working_between(a, b, cal) == whole
