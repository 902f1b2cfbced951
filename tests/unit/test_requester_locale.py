"""The requester's locale from the hosts that send one (Zendesk, Freshdesk): what
``rules.companies.locale_language`` reads, the bounds the receiver holds it to, the poll's
rendering, and the note language it chooses when the company has none."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from plugin.reconcile.template_bodies import freshdesk_payload, zendesk_payload
from plugin.settings import CompanyFrom, Connection
from rules.companies import locale_language
from rules.config.loader import load_rules
from rules.engine import evaluate
from rules.event_checks import check_event
from rules.generic_format import LOCALE_LIMIT, FormatError
from rules.state_json import state_from_json
from tests.vendor_support import FRESHDESK, ZENDESK, render
from webhooks.hosts import freshdesk, zendesk

ROOT = Path(__file__).resolve().parents[2]
ZD = Connection(name="zd", kind="zendesk",
                company_from=CompanyFrom(source="organization", map={"ACME Ltd": "acme"}))
FD = Connection(name="fd", kind="freshdesk")


def zendesk_created(language: str, role: str = "End-user") -> Any:
    data = render("zendesk_trigger.json", {**ZENDESK, "ticket.requester.language": language,
                                           "current_user.role": role})
    data["event"] = "ticket.created"
    (ev,) = zendesk.parse(json.dumps(data).encode(), {}, ZD)
    return ev


@pytest.mark.parametrize(("given", "language"), [
    ("uk", "uk"), ("uk-UA", "uk"), ("uk_UA", "uk"), ("  UK_ua ", "uk"), ("en-US", "en"),
    ("EN", "en"), ("English", "en"), ("English (United Kingdom)", "en"),
    ("Українська", "uk"), ("ukrainian (ukraine)", "uk"), ("Ukrainian - українська", "uk"),
    ("ru_RU", None), ("ru", None), ("Deutsch", None), ("Spanish - español", None),
    ("", None), (None, None)])
def test_codes_and_vendor_names_become_a_note_language_or_none(given, language):
    assert locale_language(given) == language


def test_a_zendesk_requester_in_ukrainian_gets_the_ukrainian_auto_reply():
    # the installation writes English, the company has no language of its own: the
    # requester's profile language decides the client's note; the team's stays the team's
    rules = replace(load_rules(ROOT / "config"), language="en", team_language="en",
                    company_language={})
    notes = {}
    for rendered in ("Українська", "English", ""):
        ev = zendesk_created(rendered)
        decision = evaluate(rules, ev, state_from_json({}), ev.occurred_at)
        notes[rendered] = {a["template"]: a["text"] for a in decision.to_json()["actions"]
                           if a["type"] == "add_note"}
    assert notes["Українська"]["auto_reply"].startswith("Ми отримали ваше звернення #4512")
    assert notes["English"]["auto_reply"].startswith("We have received your request #4512")
    assert notes[""]["auto_reply"].startswith("We have received")  # no locale: the default
    # a configured company language still wins over the requester's
    configured = replace(rules, company_language={"acme": "en"})
    ev = zendesk_created("Українська")
    decision = evaluate(configured, ev, state_from_json({}), ev.occurred_at)
    (reply,) = [a["text"] for a in decision.to_json()["actions"]
                if a["type"] == "add_note" and a["template"] == "auto_reply"]
    assert reply.startswith("We have received")


@pytest.mark.parametrize("bad", ["x" * (LOCALE_LIMIT + 1), "uk\nBcc: someone"])
def test_a_host_locale_is_held_to_the_generic_formats_bounds_by_its_own_field(bad):
    ev = zendesk_created(bad)
    with pytest.raises(FormatError) as err:
        check_event(ev)
    assert list(err.value.errors) == ["ticket.requester.language"]
    data = render("freshdesk_automation.json", {**FRESHDESK, "ticket.requester.language": bad})
    (fd,) = freshdesk.parse(json.dumps(data).encode(), {}, FD)
    with pytest.raises(FormatError) as err:
        check_event(fd)
    assert list(err.value.errors) == ["ticket.requester.language"]
    check_event(zendesk_created("x" * LOCALE_LIMIT))  # at the limit: accepted


def test_the_zendesk_poll_renders_the_users_locale_and_freshdesks_none():
    t = {"id": 4711, "subject": "Totals", "status": "open", "created_at": "2026-11-23T08:00:00Z",
         "updated_at": "2026-11-23T10:00:00Z", "requester_id": 377,
         "requester": {"id": 377, "email": "olena@acme.example", "locale": "uk"}}
    body = zendesk_payload(ZD, t, "ticket.updated")
    assert body["ticket"]["requester"]["language"] == "uk"
    (ev,) = zendesk.parse(json.dumps(body).encode(), {}, ZD)
    assert locale_language(ev.ticket.requester_locale) == "uk"
    # Freshdesk's embedded requester (id, name, email, …) has no language: empty, absent
    fd = freshdesk_payload(FD, {"id": 88, "created_at": "2026-11-23T08:00:00Z",
                                "requester": {"id": 5, "email": "o@acme.example"}},
                           "ticket.updated")
    assert fd["ticket"]["requester"]["language"] == ""
    (fev,) = freshdesk.parse(json.dumps(fd).encode(), {}, FD)
    assert fev.ticket.requester_locale is None


def test_the_last_known_locale_is_kept_only_for_the_same_requester():
    from datetime import UTC, datetime

    from rules.event import Ticket
    from rules.items import with_known_locale

    stored = Ticket(id="7", created_at=datetime(2026, 12, 7, tzinfo=UTC), requester_id="u-1",
                    requester_email="u@acme.example", requester_locale="uk")
    silent = replace(stored, requester_locale=None)
    assert with_known_locale(silent, stored).requester_locale == "uk"
    assert with_known_locale(replace(silent, requester_email=None), stored).requester_locale == "uk"
    assert with_known_locale(replace(stored, requester_locale="en-GB"),
                             stored).requester_locale == "en-GB"  # a new one wins
    other = replace(silent, requester_id="u-2", requester_email="boss@acme.example")
    assert with_known_locale(other, stored).requester_locale is None  # another person
    assert with_known_locale(silent, None) is silent
