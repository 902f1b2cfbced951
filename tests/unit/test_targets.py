"""Deadline targets: every SPEC §2 example, and the timelines shown by ``explain``."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from rules.calendar import Calendar, calendars_from_source, load_calendars
from rules.calendar.business_time import working_between
from rules.config.source import parse_text
from rules.targets import (
    bug_cutoff,
    due_from_field,
    duration_from_field,
    end_of_next_working_day,
    times_base,
    working_duration,
)

ROOT = Path(__file__).resolve().parents[2]
KYIV = ZoneInfo("Europe/Kyiv")


@pytest.fixture(scope="module")
def default() -> Calendar:
    return load_calendars(ROOT / "config" / "calendars.yaml")["default"]


def k(y: int, mo: int, d: int, h: int = 0, mi: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, tzinfo=KYIV)


def same(a: datetime | None, b: datetime) -> bool:
    assert a is not None
    return a.astimezone(UTC) == b.astimezone(UTC) and a.utcoffset() == b.utcoffset()


# 2026-03-02 is a Monday
@pytest.mark.parametrize(
    ("filed", "due", "why"),
    [
        (k(2026, 3, 2, 10), k(2026, 3, 2, 18), "before 16:00: min(18:00, 18:00)"),
        (k(2026, 3, 2, 9), k(2026, 3, 2, 17), "before 16:00: filing + 8 h ends first"),
        (k(2026, 3, 2, 15, 59), k(2026, 3, 2, 18), "before 16:00: end of that working day"),
        (k(2026, 3, 2, 16), k(2026, 3, 3, 15), "at 16:00: filing + 8 working hours"),
        (k(2026, 3, 2, 17), k(2026, 3, 3, 16), "after 16:00: filing + 8 working hours"),
        (k(2026, 3, 6, 17, 30), k(2026, 3, 9, 16, 30), "Friday 17:30: Monday 16:30"),
        (k(2026, 3, 7, 11), k(2026, 3, 9, 17), "Saturday -> Monday 09:00 -> Monday 17:00"),
        (k(2026, 3, 2, 19), k(2026, 3, 3, 17), "evening counts as filed at 09:00 next day"),
        (k(2026, 3, 2, 7), k(2026, 3, 2, 17), "early morning counts as filed at 09:00"),
        (datetime(2026, 3, 2, 15, 30, tzinfo=UTC), k(2026, 3, 3, 16, 30), "15:30Z is 17:30 Kyiv"),
    ],
)
def test_bug_cutoff_spec(default, filed, due, why):
    got = bug_cutoff(filed, default)
    assert same(got.due, due), why
    assert got.kind == "bug_cutoff"


def test_bug_cutoff_timeline_explains_the_cap(default):
    got = bug_cutoff(k(2026, 3, 2, 15), default)
    kinds = [e.kind for e in got.timeline]
    assert kinds == ["counted", "cutoff"]
    assert got.timeline[0].minutes == 180
    assert "before 16:00: due by the end of that working day" in got.detail


def test_bug_cutoff_filed_saturday_shows_closed_then_counted(default):
    got = bug_cutoff(k(2026, 3, 7, 11), default)
    assert [e.kind for e in got.timeline] == ["closed", "counted"]
    assert got.timeline[1].minutes == 480
    assert "filed outside working hours, counted from Mon 2026-03-09 09:00" in got.detail


def test_bug_cutoff_is_configurable_and_pauses_stretch_it(default):
    got = bug_cutoff(k(2026, 3, 2, 15), default, hours=2, cutoff=time(12, 0))
    assert same(got.due, k(2026, 3, 2, 17))
    paused = bug_cutoff(k(2026, 3, 2, 10), default, pauses=[(k(2026, 3, 2, 11), k(2026, 3, 2, 12))])
    assert same(paused.due, k(2026, 3, 3, 10))  # one working hour paused moves 18:00 by 1 h
    assert [e.kind for e in paused.timeline].count("pause") == 1


@pytest.mark.parametrize(
    ("start", "due"),
    [
        (k(2026, 3, 2, 10), k(2026, 3, 3, 18)),  # Monday -> end of Tuesday
        (k(2026, 3, 6, 10), k(2026, 3, 9, 18)),  # Friday -> end of Monday
        (k(2026, 3, 7, 10), k(2026, 3, 9, 18)),  # Saturday -> end of Monday
        (k(2026, 3, 2, 23, 30), k(2026, 3, 3, 18)),  # late Monday -> end of Tuesday
    ],
)
def test_end_of_next_working_day(default, start, due):
    got = end_of_next_working_day(start, default)
    assert same(got.due, due)
    assert got.kind == "end_of_next_working_day"


def test_working_duration_and_times_base(default):
    simple = working_duration(k(2026, 3, 2, 10), 480, default)
    assert same(simple.due, k(2026, 3, 2, 18))
    assert simple.kind == "working_duration"
    assert "8 h working time from Mon 2026-03-02 10:00 EET" in simple.detail
    composite = times_base(k(2026, 3, 2, 10), 3, 480, default)
    assert same(composite.due, k(2026, 3, 4, 16))
    assert sum(e.minutes for e in composite.timeline if e.kind == "counted") == 3 * 480
    assert "3 × 8 h = 24 h" in composite.detail
    with pytest.raises(ValueError):
        times_base(k(2026, 3, 2, 10), -1, 480, default)


def test_timeline_shows_skipped_holiday_and_pause():
    cal = calendars_from_source(
        parse_text(
            """
calendars:
  team:
    timezone: Europe/Kyiv
    week: {mon-fri: "09:00-18:00"}
    extra_holidays: {2026-01-01: New Year's Day}
    overrides: {2026-01-02: {hours: "09:00-13:00", name: short day}}
""",
            "t.yaml",
        )
    )["team"]
    pause = (k(2026, 1, 5, 9), k(2026, 1, 5, 10))
    got = working_duration(k(2025, 12, 31, 15), 9 * 60, cal, [pause])
    assert same(got.due, k(2026, 1, 5, 12))  # 3 h Wed, holiday Thu, 4 h Fri, pause, 2 h Mon
    kinds = [(e.kind, e.label, e.minutes) for e in got.timeline]
    assert ("holiday", "New Year's Day", 0) in kinds
    assert ("note", "short day: 09:00-13:00", 240) in kinds
    assert ("pause", "clock paused", 60) in kinds
    assert [m for kind, _, m in kinds if kind == "counted"] == [180, 240, 120]


def test_long_timeline_is_capped_but_the_total_stays_exact(default):
    got = times_base(k(2026, 3, 2, 10), 100, 480, default)
    assert len(got.timeline) == 40
    assert got.timeline[-1].kind == "note"
    assert sum(e.minutes for e in got.timeline if e.kind in ("counted", "note")) == 48_000
    assert got.due is not None
    assert working_between(k(2026, 3, 2, 10), got.due, default) == timedelta(minutes=48_000)


def test_fields(default):
    assert due_from_field(None).due is None
    stated = due_from_field(k(2026, 3, 20, 12))
    assert same(stated.due, k(2026, 3, 20, 12)) and stated.kind == "due_field"
    with pytest.raises(ValueError, match="naive"):
        due_from_field(datetime(2026, 3, 20, 12))
    assert duration_from_field(k(2026, 3, 2, 10), None, default).due is None
    est = duration_from_field(k(2026, 3, 2, 10), 1.5, default)
    assert same(est.due, k(2026, 3, 2, 11, 30)) and est.kind == "duration_field"
    assert "1.5 h stated on the ticket" in est.detail
