"""KPI formulas on hand-made tallies: ratios, percentiles, NPS, targets, working days."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from plugin.reports.kpis import Tally, compute, percentile, working_days
from tests.reports_support import team_calendar

KYIV = ZoneInfo("Europe/Kyiv")


def test_percentile_is_nearest_rank() -> None:
    values = [float(v) for v in range(10, 101, 10)]
    assert percentile(values, 0.9) == 90.0
    assert percentile(values, 0.5) == 50.0
    assert percentile([7.0], 0.9) == 7.0
    assert percentile([], 0.9) is None


def test_compute_ratios_against_targets() -> None:
    t = Tally(resolved=10, with_deadline=8, on_time=6, within_day=8, within_hour=1,
              first_time=7, messages=45, over_messages=3,
              first_responses=[30.0, 60.0, 90.0, 240.0], rated5=4, score5=17, satisfied5=3,
              rated10=5, promoters=3, detractors=1, specialists=2,
              paid=2, overruns=1)
    k = compute(t, working_days=5, stuck=2)
    assert (k["on_time"].value, k["on_time"].ok) == (0.75, False)
    assert (k["within_1_day"].value, k["within_1_day"].ok) == (0.8, True)
    assert (k["within_1_hour"].value, k["within_1_hour"].ok) == (0.1, False)
    assert (k["first_time_resolution"].value, k["first_time_resolution"].ok) == (0.7, True)
    assert k["first_response_avg"].value == 105.0 and k["first_response_avg"].ok
    assert k["first_response_median"].value == 75.0 and k["first_response_median"].ok is False
    assert k["first_response_p90"].value == 240.0 and k["first_response_p90"].ok is False
    assert k["messages_per_ticket"].value == 4.5 and k["messages_per_ticket"].ok is False
    assert k["over_4_messages"].value == 3.0
    assert k["csat_avg"].value == 4.25 and k["csat_avg"].ok is None
    assert k["csat_satisfied"].value == 0.75 and k["csat_satisfied"].ok is False
    assert k["nps"].value == 40.0
    # 10 tasks by 2 specialists over 5 working days: 1 a day each, floor is 10
    assert k["solved_per_specialist_day"].value == 1.0
    assert k["solved_per_specialist_day"].ok is False
    assert (k["stuck"].value, k["stuck"].ok) == (2.0, False)
    assert k["overruns"].n == 2


def test_empty_tally_has_no_values_and_no_verdicts() -> None:
    k = compute(Tally(), working_days=0)
    assert all(v.value is None or v.value == 0.0 for v in k.values())
    assert k["on_time"].ok is None and k["nps"].value is None


def test_targets_can_be_overridden() -> None:
    k = compute(Tally(resolved=10, within_day=7), 5, targets={"within_1_day": 0.7})
    assert k["within_1_day"].ok is True and k["within_1_day"].target == 0.7


def test_cohorts_of_one_group_add_up() -> None:
    a = Tally(resolved=1, specialists=2)
    a.add(Tally(first_responses=[2.0], rated5=1, score5=4))
    assert (a.resolved, a.first_responses, a.specialists, a.score5) == (1, [2.0], 2, 4)


@pytest.mark.parametrize(
    ("start", "end", "days"),
    [
        # the DST week: Kyiv leaves summer time on Sun 25 Oct 2026; still 5 working days
        (datetime(2026, 10, 19, tzinfo=KYIV), datetime(2026, 10, 26, tzinfo=KYIV), 5),
        # Christmas Day 2026 is a configured holiday (Friday)
        (datetime(2026, 12, 21, tzinfo=KYIV), datetime(2026, 12, 28, tzinfo=KYIV), 4),
        # starting after closing time on Monday: Monday does not count
        (datetime(2026, 11, 23, 18, 30, tzinfo=KYIV), datetime(2026, 11, 25, tzinfo=KYIV), 1),
    ],
)
def test_working_days(start: datetime, end: datetime, days: int) -> None:
    assert working_days(start, end, team_calendar()) == days


def test_first_response_order_statistics_of_an_unsorted_list() -> None:
    odd = compute(Tally(first_responses=[90.0, 10.0, 50.0, 70.0, 30.0]), 1)
    assert odd["first_response_median"].value == 50.0 and odd["first_response_p90"].value == 90.0
    even = compute(Tally(first_responses=[40.0, 10.0, 30.0, 20.0]), 1)
    assert even["first_response_median"].value == 25.0 and even["first_response_p90"].value == 40.0


def test_shipped_reports_yaml_states_the_spec_targets() -> None:
    from pathlib import Path

    from plugin.reports.kpis import DEFINITIONS
    from plugin.reports.service import load_config
    from rules.calendar import load_calendars

    config = Path(__file__).resolve().parents[2] / "config"
    cfg = load_config(config)
    assert cfg.targets == {d.key: d.target for d in DEFINITIONS}
    assert (cfg.idle_hours, cfg.digest) == (24, {})  # delivery stays commented out
    assert cfg.team_calendar in load_calendars(config / "calendars.yaml")
