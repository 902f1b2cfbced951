"""The cabinet's language accessor and the texts of both languages."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from plugin.cabinet.lang import _TEXTS, company_language, pick, texts
from plugin.cabinet.web import duration
from rules.config.loader import analyse
from rules.templates import fill

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def rules():
    found, problems = analyse(ROOT / "config")
    assert found is not None, problems
    return found


def test_company_language_reads_the_notes_setting_with_a_ukrainian_fallback(rules) -> None:
    assert company_language(rules, "acme") == "uk"  # defaults.language
    routed = replace(rules, company_language={"acme": "en", "globex": "de"})
    assert company_language(routed, "acme") == "en"
    assert company_language(routed, "globex") == "uk"  # no texts in German: Ukrainian
    assert company_language(replace(rules, language="en"), "other") == "en"
    assert company_language(None, "acme") == "uk"  # no valid rules at all


def test_the_page_may_switch_to_a_language_it_speaks() -> None:
    assert pick("en", "uk") == "en"
    assert pick("uk", "en") == "uk"
    assert pick("fr", "en") == "en" and pick(None, "uk") == "uk"


def test_every_text_exists_in_both_languages() -> None:
    for key, (uk, en) in _TEXTS.items():
        assert uk and en, key
    assert fill(texts("uk")["cap_usage"], "uk", {"used": 2, "max": 3}) == "2 з 3 задач сьогодні"
    assert fill(texts("en")["cap_usage"], "en", {"used": 2, "max": 3}) == "2 of 3 tasks today"


def test_durations_read_as_working_hours_and_minutes() -> None:
    en, uk = texts("en"), texts("uk")
    assert duration(150, en) == "2 h 30 min"
    assert duration(45, en) == "45 min"
    assert duration(-61, en) == "−1 h 01 min"
    assert duration(840, uk) == "14 год 00 хв"
    assert duration(None, en) == ""


def test_the_cap_card_does_not_say_today_twice() -> None:
    # "Ліміт на сьогодні / 0 з 3 задач сьогодні" read twice "today" (issue 22)
    for lang in ("uk", "en"):
        t = texts(lang)
        heading, usage = t["cap"], fill(t["cap_usage"], lang, {"used": 0, "max": 3})
        assert not ({"сьогодні", "today"} & set(heading.lower().split())
                    and {"сьогодні", "today"} & set(usage.split())), (heading, usage)
    assert texts("uk")["cap"] == "Денний ліміт" and texts("en")["cap"] == "Daily cap"
    # "10 доступно": the word follows the number, lower case
    assert texts("uk")["available"] == "доступно" and texts("en")["available"] == "available"


def test_instants_carry_the_zone_abbreviation_of_their_own_date() -> None:
    from zoneinfo import ZoneInfo

    from plugin.cabinet.web import at

    kyiv = ZoneInfo("Europe/Kyiv")
    assert at("2026-07-01T10:00:00+03:00", kyiv) == "2026-07-01 10:00 EEST"
    assert at("2026-12-01T10:00:00+02:00", kyiv) == "2026-12-01 10:00 EET"
    assert at("2026-11-19T12:30:00-05:00", ZoneInfo("America/New_York")) == "2026-11-19 12:30 EST"
    assert at(None, kyiv) == ""


@pytest.mark.parametrize(("lang", "cap", "shown"), [
    ("en", 1, "0 of 1 task today"), ("en", 2, "0 of 2 tasks today"),
    ("uk", 1, "0 з 1 задачі сьогодні"), ("uk", 2, "0 з 2 задач сьогодні"),
])
def test_the_daily_cap_agrees_with_its_number(lang: str, cap: int, shown: str) -> None:
    assert fill(texts(lang)["cap_usage"], lang, {"used": 0, "max": cap}) == shown
