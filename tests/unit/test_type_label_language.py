"""A task type's label follows the note's language (issue 22): an English client note said
type "складена" because the label was picked in the rule set's default language."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

from rules.config.loader import load_rules
from rules.engine import evaluate
from rules.generic_event import event_from_dict
from rules.state_json import state_from_json
from rules.templates import PerLanguage, fmt_value

ROOT = Path(__file__).resolve().parents[2]


def _notes(language: dict[str, str]) -> dict[str, str]:
    rules = replace(load_rules(ROOT / "config"), company_language=language)
    event = event_from_dict(json.loads((ROOT / "examples" / "02-accepted-composite.json")
                                       .read_text(encoding="utf-8")))
    decision = evaluate(rules, event, state_from_json({}), event.occurred_at)
    return {a["template"]: a["text"] for a in decision.to_json()["actions"]
            if a["type"] == "add_note"}


def test_an_english_note_names_the_type_in_english() -> None:
    accepted = _notes({"acme": "en"})["accepted"]
    assert 'type "composite"' in accepted and "складена" not in accepted, accepted


def test_a_ukrainian_note_keeps_the_ukrainian_label() -> None:
    assert "тип «складена»" in _notes({})["accepted"]


def test_a_label_without_the_language_falls_back_then_to_the_type_id() -> None:
    label = PerLanguage({"uk": "складена"}, "uk", "composite")
    assert fmt_value(label, "en") == "складена" and str(label) == "складена"
    assert fmt_value(PerLanguage({}, "uk", "composite"), "en") == "composite"
