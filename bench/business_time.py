"""Benchmark of working-time arithmetic, and the gate against ``businesstimedelta``.

Prints medians for add 8 h / 8,000 h, working_between over a year, the size of a
calendar's precomputed data for a 5-year horizon, and compares results and speed
with businesstimedelta 1.0.1 on random cases where its model applies (one daily
window Mon-Fri, holidays, UTC so no DST). Exit status 1 when the gate fails.

    .venv/bin/python bench/business_time.py          # ~30 s
    .venv/bin/python bench/business_time.py --full   # longer durations in the gate
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rules.calendar import Calendar, calendars_from_source, load_calendars  # noqa: E402
from rules.calendar.business_time import add_working, is_open, next_open, working_between  # noqa: E402
from rules.config.source import parse_text  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
H = timedelta(hours=1)


def median_us(fn, args: list, repeats: int = 7) -> float:
    """Median over ``repeats`` runs of the mean per call over ``args`` (µs)."""
    runs = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for a in args:
            fn(*a)
        runs.append((time.perf_counter() - t0) / len(args) * 1e6)
    return statistics.median(runs)


def starts(rng: random.Random, n: int, year: int = 2026, tz=UTC) -> list[datetime]:
    base = datetime(year, 1, 1, tzinfo=UTC)
    return [(base + timedelta(minutes=rng.randrange(365 * 1440))).astimezone(tz) for _ in range(n)]


def speed(cal: Calendar, rng: random.Random) -> None:
    s = starts(rng, 1000, tz=cal.tz)
    fresh = load_calendars(ROOT / "config" / "calendars.yaml")["default"]
    t0 = time.perf_counter()
    add_working(s[0], 8 * H, fresh)
    cold = (time.perf_counter() - t0) * 1e3
    figures = {
        "add 8 working hours": median_us(add_working, [(x, 8 * H, cal) for x in s]),
        "add 8,000 working hours": median_us(add_working, [(x, 8000 * H, cal) for x in s]),
        "working_between over a year": median_us(
            working_between, [(x, x + timedelta(days=365), cal) for x in s]
        ),
        "is_open": median_us(is_open, [(x, cal) for x in s]),
        "next_open": median_us(next_open, [(x, cal) for x in s]),
    }
    print(f"calendar '{cal.name}' ({cal.tz.key}), 1,000 random starts in 2026, median of 7 runs")
    for name, us in figures.items():
        print(f"  {name:30s} {us:8.2f} µs")
    print(f"  first call on a cold calendar  {cold:8.2f} ms (builds a 26-week block)")
    horizon = load_calendars(ROOT / "config" / "calendars.yaml")["default"]
    add_working(datetime(2026, 1, 1, tzinfo=UTC), 5 * 261 * 9 * H, horizon)
    print(f"  precomputed data, 5 years      {horizon.cached_bytes() / 1024:8.1f} KiB")


def gate(rng: random.Random, cases: int, max_hours: int) -> bool:
    import businesstimedelta
    import holidays
    import pytz

    years = range(2025, 2031)
    us_hol = holidays.US(years=years)
    workday = businesstimedelta.WorkDayRule(
        start_time=datetime(2000, 1, 1, 9).time(),
        end_time=datetime(2000, 1, 1, 17).time(),
        working_days=[0, 1, 2, 3, 4],
        tz=pytz.utc,
    )
    theirs = businesstimedelta.Rules([workday, businesstimedelta.HolidayRule(us_hol, tz=pytz.utc)])
    ours = calendars_from_source(
        parse_text(
            "calendars:\n  utc:\n    timezone: UTC\n    week: {mon-fri: '09:00-17:00'}\n"
            "    holidays: {country: US}\n",
            "gate.yaml",
        )
    )["utc"]
    base = datetime(2026, 1, 1, tzinfo=UTC)
    s = [base + timedelta(seconds=rng.randrange(2 * 365 * 86400)) for _ in range(cases)]
    d = [timedelta(minutes=rng.randrange(1, max_hours * 60)) for _ in range(cases)]
    # businesstimedelta returns pytz-aware datetimes; compare instants
    t0 = time.perf_counter()
    theirs_add = [
        x + businesstimedelta.BusinessTimeDelta(theirs, timedelta=y)
        for x, y in zip(s, d, strict=True)
    ]
    t_theirs_add = time.perf_counter() - t0
    t0 = time.perf_counter()
    ours_add = [add_working(x, y, ours) for x, y in zip(s, d, strict=True)]
    t_ours_add = time.perf_counter() - t0
    ends = [
        x + y * 3 for x, y in zip(s, d, strict=True)
    ]  # a calendar span ~3x the working duration
    t0 = time.perf_counter()
    theirs_between = [theirs.difference(x, e).timedelta for x, e in zip(s, ends, strict=True)]
    t_theirs_between = time.perf_counter() - t0
    t0 = time.perf_counter()
    ours_between = [working_between(x, e, ours) for x, e in zip(s, ends, strict=True)]
    t_ours_between = time.perf_counter() - t0

    bad_add = [i for i in range(cases) if ours_add[i] != theirs_add[i]]
    # its difference() drops sub-second parts and whole days; compare at its resolution
    bad_between = [
        i for i in range(cases) if abs(ours_between[i] - theirs_between[i]) >= timedelta(seconds=1)
    ]
    ratio_add = t_theirs_add / t_ours_add
    ratio_between = t_theirs_between / t_ours_between
    print(
        f"gate vs businesstimedelta: {cases:,} random cases, durations up to {max_hours} h,"
        " UTC Mon-Fri 09:00-17:00 + US holidays"
    )
    print(
        f"  add:     identical {cases - len(bad_add):,}/{cases:,};"
        f" ours {t_ours_add / cases * 1e6:7.2f} µs, theirs {t_theirs_add / cases * 1e6:8.1f} µs"
        f" -> {ratio_add:6.1f}x"
    )
    print(
        f"  between: identical {cases - len(bad_between):,}/{cases:,};"
        f" ours {t_ours_between / cases * 1e6:7.2f} µs,"
        f" theirs {t_theirs_between / cases * 1e6:8.1f} µs -> {ratio_between:6.1f}x"
    )
    for i in (bad_add + bad_between)[:5]:
        print(
            f"  mismatch: start {s[i]}, duration {d[i]}: ours {ours_add[i]} /"
            f" {ours_between[i]}, theirs {theirs_add[i]} / {theirs_between[i]}"
        )
    ok = not bad_add and not bad_between and min(ratio_add, ratio_between) >= 50
    print(f"  gate (identical results, ratio >= 50x): {'PASS' if ok else 'FAIL'}")
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="gate durations up to 400 h")
    parser.add_argument("--cases", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=4)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    speed(load_calendars(ROOT / "config" / "calendars.yaml")["default"], rng)
    return 0 if gate(rng, args.cases, 400 if args.full else 40) else 1


if __name__ == "__main__":
    sys.exit(main())
