"""The shipped notes read well in both languages whatever the numbers (issue 22).

Every template of config/rules/90-templates.yaml is rendered in uk and en with the values a
real ticket gives them: a date renders as "23.11.2026 11:00 (EET)", so a template that puts
it in parentheses again reads "(до 23.11.2026 11:00 (EET))"; a Ukrainian numeral before a
noun agrees only for some numbers ("3 задачі", but "5 задачі"), so the cap is never put
before one.
"""

from __future__ import annotations

import re
import string
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from rules.config.loader import load_rules
from rules.templates import fmt_value

CONFIG = Path(__file__).resolve().parents[2] / "config"
KYIV = ZoneInfo("Europe/Kyiv")


def _values(cap: int) -> dict[str, object]:
    at = datetime(2026, 11, 23, 11, 0, tzinfo=KYIV)
    return {
        "ticket_id": "#EX-1", "subject": "Export", "task_type": "composite",
        "type_label": "складена", "units": 2, "accept_due": at, "first_response_due": at,
        "resolve_due": at, "deferred_to": at, "due": at, "credits_available": 1,
        "credits_needed": 2, "logged_hours": 1.5, "company": "acme", "manager": "olena",
        "idle_days": 5, "deadline": "resolve", "cap": cap, "money": "350.00 UAH",
        "cap_day": date(2026, 12, 5),
    }


def _rendered() -> list[tuple[str, str, int, str]]:
    out = []
    for name, tmpl in load_rules(CONFIG).templates.items():
        for lang, text in tmpl.texts.items():
            for cap in (1, 3, 5):
                values = _values(cap)
                fields = {f for _, f, _, _ in string.Formatter().parse(text) if f}
                out.append((name, lang, cap, text.format_map(
                    {k: fmt_value(values.get(k), lang) for k in fields})))
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
