"""The shipped notes read well in both languages whatever the numbers (issue 22).

Every template of config/rules/90-templates.yaml is rendered in uk and en with the values a
real ticket gives them: a date renders as "23.11.2026 11:00 (EET)", so a template that puts
it in parentheses again reads "(до 23.11.2026 11:00 (EET))"; a Ukrainian numeral before a
noun agrees only for some numbers ("3 задачі", but "5 задачі"), so the cap is never put
before one. A number a noun follows names its forms (``{idle_days:day|days}``) and agrees
(issue 23: "1 days", "1 units" read wrong): rendered with 1 and 2 (and 5, 21 in Ukrainian).
"""

from __future__ import annotations

import re
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from rules.config.loader import load_rules
from rules.templates import counted, fill

CONFIG = Path(__file__).resolve().parents[2] / "config"
KYIV = ZoneInfo("Europe/Kyiv")


def _values(cap: int, n: int = 2) -> dict[str, object]:
    at = datetime(2026, 11, 23, 11, 0, tzinfo=KYIV)
    return {
        "ticket_id": "#EX-1", "subject": "Export", "task_type": "composite",
        "type_label": "складена", "units": n, "accept_due": at, "first_response_due": at,
        "resolve_due": at, "deferred_to": at, "due": at, "credits_available": 1,
        "credits_needed": n, "logged_hours": 1.5, "company": "acme", "manager": "olena",
        "idle_days": n, "deadline": "resolve", "cap": cap, "money": "350.00 UAH",
        "cap_day": date(2026, 12, 5),
        # Deskpilot's own team notes (rules/config/team_templates.py)
        "refused": "- fields units: HTTP 400: not a number (outbox #7)", "refused_count": n,
        "write": "fields units", "host_status": 400, "host_message": "not a number",
        "outbox_id": 7, "fields": "units", "deadlines": "resolve_due", "status": "resolved",
        "field_count": n, "deadline_count": n,
        "minutes": n, "note": "the import", "version": "3f2a", "problem_count": n,
        "problems": "rules/10-classify.yaml:3:11: unknown type 'bgu'",
        "period": "2026-11-09 – 2026-11-15", "resolved": n, "kpi": "Resolved on time",
        "value": "80.0%", "target": ">= 100%", "accept": 0, "first_response": 1,
        "resolve": 2, "link": "generic/EX-1", "sold": 10, "reserved": 2, "used": 3,
        "burned": 0, "paid": n, "estimate_hours": 2.0, "overruns": 0, "name": "olena",
        "within_1_day": "50.0%", "on_time": "100.0%", "first_time": "100.0%",
        "per_day": "1.5", "stuck": "0",
    }


def _rendered() -> list[tuple[str, str, int, str]]:
    out = []
    for name, tmpl in load_rules(CONFIG).templates.items():
        for lang, text in tmpl.texts.items():
            for cap in (1, 3, 5):
                out.append((name, lang, cap, fill(text, lang, _values(cap))))
    return out


def _counted() -> list[tuple[str, str, int, str]]:
    out = []
    for name, tmpl in load_rules(CONFIG).templates.items():
        for lang, text in tmpl.texts.items():
            for n in (1, 2, 5, 21):
                out.append((name, lang, n, fill(text, lang, _values(3, n))))
    return out


@pytest.mark.parametrize("name,lang,cap,text", _rendered(),
                         ids=lambda v: str(v)[:20] if isinstance(v, (str, int)) else "")
def test_every_note_reads_well(name: str, lang: str, cap: int, text: str) -> None:
    assert "—" not in text.replace(" — ", ""), text  # no placeholder left without a value
    depth = 0
    for ch in text:  # no parentheses inside parentheses
        depth += {"(": 1, ")": -1}.get(ch, 0)
        assert depth <= 1, text
    if lang == "uk":
        assert not re.search(rf"\b{cap} задач", text), text  # agreement depends on the number
    else:
        assert not re.search(rf"\b{cap} tasks\b", text), text  # "1 tasks" for a cap of 1
    assert "(EET)" in text or not any(k in text for k in ("2026,", "23.11.2026"))


#: a noun after a number, in the form that number does not take
DISAGREE = {
    "en": {1: r"\b1 (days|units|hours|tasks|credits|minutes|writes|problems|fields|deadlines)\b",
           2: r"\b2 (day|unit|hour|task|credit|minute|write|problem|field|deadline)\b"},
    "uk": {1: r"\b1 (днів|дні|хвилин|хвилини|задач|задачі|помилок|помилки|записах|полів"
              r"|термінів)\b",
           2: r"\b2 (дня|хвилин|хвилину|задач|задачу|помилок|помилка|записі|полів|термінів)\b",
           5: r"\b5 (дня|дні|хвилину|хвилини|задачу|задачі|помилка|помилки|записі|поле|термін)\b",
           21: r"\b21 (днів|дні|хвилин|хвилини|задач|задачі|помилок|помилки|записах|полів)\b"},
}


@pytest.mark.parametrize("name,lang,n,text", _counted(),
                         ids=lambda v: str(v)[:20] if isinstance(v, (str, int)) else "")
def test_a_number_and_its_noun_agree(name: str, lang: str, n: int, text: str) -> None:
    pattern = DISAGREE[lang].get(n)
    assert pattern is None or not re.search(pattern, text), text
    assert "|" not in text and "{" not in text, text


def test_the_shipped_counted_notes_with_1_and_2() -> None:
    templates = load_rules(CONFIG).templates
    closed, retyped = templates["auto_closed"].texts, templates["retyped"].texts
    assert "after 1 day without" in fill(closed["en"], "en", _values(3, 1))
    assert "after 2 days without" in fill(closed["en"], "en", _values(3, 2))
    assert "протягом 1 дня." in fill(closed["uk"], "uk", _values(3, 1))
    assert "протягом 2 днів." in fill(closed["uk"], "uk", _values(3, 2))
    assert "(1 unit)" in fill(retyped["en"], "en", _values(3, 1))
    assert "(2 units)" in fill(retyped["en"], "en", _values(3, 2))


def test_plural_forms_by_language() -> None:
    assert [counted(n, "task|tasks", "en") for n in (0, 1, 2)] == ["0 tasks", "1 task", "2 tasks"]
    assert counted(1.5, "hour|hours", "en") == "1.5 hours"
    forms = "задача|задачі|задач"
    assert [counted(n, forms, "uk") for n in (1, 2, 5, 11, 21, 22, 25, 112)] == [
        "1 задача", "2 задачі", "5 задач", "11 задач", "21 задача", "22 задачі", "25 задач",
        "112 задач"]
    assert counted(None, "day|days", "en") == "— days"
    # an ordinary format spec still works
    assert fill("{units:>3}|{units:unit|units}", "en", {"units": 1}) == "  1|1 unit"
