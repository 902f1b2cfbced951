"""Loading `config/calendars.yaml`: the shipped file, its examples, one bad file per mistake."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest

from rules.calendar import Calendar, IntersectionCalendar, calendars_from_source, load_calendars
from rules.config.source import SourceError, parse_text

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ROOT / "config" / "calendars.yaml"
FIXTURES = Path(__file__).parent / "calendar_fixtures"


def test_shipped_default_is_spec_section_2():
    cals = load_calendars(SHIPPED)
    cal = cals["default"]
    assert cal.tz.key == "Europe/Kyiv"
    assert cal.week == (((540, 1080),),) * 5 + ((), ())  # Mon-Fri 09:00-18:00
    assert cal.country == "UA"
    assert cal.holiday_name(date(2026, 1, 1)) == "New Year's Day"  # explicit, not from holidays.UA


def test_shipped_examples_load_when_uncommented(tmp_path):
    # the commented examples are documentation; they must stay valid
    text = re.sub(r"(?m)^  # ((?:[a-z_]+:)|(?:  ))", r"  \1", SHIPPED.read_text())
    path = tmp_path / "calendars.yaml"
    path.write_text(text)
    cals = load_calendars(path)
    assert set(cals) == {"default", "manager_olena", "acme_hours", "acme_support"}
    assert isinstance(cals["acme_support"], IntersectionCalendar)
    assert cals["acme_support"].tz.key == "Europe/Kyiv"
    olena = cals["manager_olena"]
    assert olena.week[0] == ((480, 720), (780, 1020))
    assert olena.windows_on(date(2026, 6, 13)) == ((600, 900),)  # a Saturday made working
    assert olena.windows_on(date(2026, 8, 10)) == ()
    assert cals["acme_hours"].holiday_name(date(2026, 12, 24)) == "Christmas Eve"
    assert cals["acme_hours"].holiday_name(date(2026, 7, 3)) is not None  # observed July 4th


def _expectation(path: Path) -> str:
    first = path.read_text().splitlines()[0]
    assert first.startswith("# expect: "), f"{path.name} must start with '# expect: '"
    return first.removeprefix("# expect: ")


@pytest.mark.parametrize("path", sorted(FIXTURES.glob("*.yaml")), ids=lambda p: p.stem)
def test_invalid_file_reports_its_problem_with_position(path):
    with pytest.raises(SourceError) as err:
        load_calendars(path)
    lines = [str(p) for p in err.value.problems]
    expected = f"{path}:{_expectation(path)}"
    assert any(line.startswith(expected) for line in lines), lines
    assert len(lines) == 1, lines  # one mistake per fixture, reported once


def test_all_problems_are_reported_together():
    text = """
calendars:
  default:
    timezone: Mars/Olympus
    week: {mon: "9-5", sunday: "10:00-12:00"}
  other:
    intersect: [default, nobody]
"""
    with pytest.raises(SourceError) as err:
        calendars_from_source(parse_text(text, "c.yaml"))
    messages = [p.message for p in err.value.problems]
    assert len(messages) == 4, messages
    assert any("unknown weekday 'sunday'; did you mean 'sun'?" in m for m in messages)
    assert any("unknown calendar 'nobody'" in m for m in messages)


def test_impossible_date_is_a_source_error(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("calendars:\n  default:\n    extra_holidays: {2026-02-30: x}\n")
    with pytest.raises(SourceError, match="day is out of range"):
        load_calendars(path)
    with pytest.raises(SourceError, match="cannot read"):
        load_calendars(tmp_path / "missing.yaml")


def test_window_forms():
    cals = calendars_from_source(
        parse_text(
            """
calendars:
  x:
    timezone: UTC
    week:
      mon: ["09:00-12:00", "13:00-24:00"]
      tue: closed
      wed: off
      thu: null
      fri: "00:00-24:00"
""",
            "c.yaml",
        )
    )
    week = cals["x"].week
    assert week[0] == ((540, 720), (780, 1440))
    assert week[1] == week[2] == week[3] == week[5] == ()
    assert week[4] == ((0, 1440),)


def test_calendar_is_immutable():
    cal = Calendar("x", "UTC", [((540, 1080),)] * 7)
    with pytest.raises(AttributeError):
        cal.name = "y"
