"""Freshdesk placeholders as Freshdesk renders them into our shipped automation template.

Facts as the adapter's docstring cites them (Freshdesk's Liquid drops, mirrored in
Ramesh-Veeriaperumal/freshconsult): dates are Rails' ``Time#to_s`` (``+0200``), tags a
comma list, status / priority / source their names, ``total_time_spent`` ``hh:mm`` (past
99 hours too), a comment ``"<author> : <text>"``; an unset placeholder renders empty.
"""

from __future__ import annotations

import json

from plugin.settings import CompanyFrom, Connection
from rules.companies import locale_language
from tests.vendor_support import FRESHDESK, render
from webhooks.hosts import freshdesk

CONN = Connection(name="fd", kind="freshdesk",
                  company_from=CompanyFrom(source="organization", map={"ACME Ltd": "acme"}))


def parse(values: dict[str, str], event: str = "ticket.commented", performer: str = "agent"):
    data = render("freshdesk_automation.json", values)
    data["event"], data["performed_by"] = event, performer
    return freshdesk.parse(json.dumps(data).encode(), {}, CONN)


def test_a_rendered_reply_reads_names_lists_offsets_and_totals():
    (ev,) = parse(FRESHDESK)
    t = ev.ticket
    assert t.created_at.isoformat() == "2026-12-04T10:00:00+02:00"
    assert t.tags == ("vip", "printers") and t.status == "in_progress"
    assert t.priority == "normal" and t.channel == "email"
    assert t.custom_fields["time_spent_total_minutes"] == 26 * 60 + 15
    assert t.company is not None and t.company.id == "acme" and t.assignee_id is None
    assert ev.comment is not None and ev.comment.public and ev.comment.body == "On it."
    assert ev.comment.author.kind == "agent" and ev.comment.author.name == "Ivan Petrenko"


def test_a_ticket_without_company_tags_or_time_renders_empty_and_parses():
    values = {k: v for k, v in FRESHDESK.items()
              if k not in ("ticket.company.name", "ticket.tags", "ticket.total_time_spent")}
    (ev,) = parse(values, event="ticket.updated")
    assert ev.ticket.company is None and ev.ticket.tags == ()
    assert "time_spent_total_minutes" not in ev.ticket.custom_fields


def test_the_requesters_language_code_is_the_users_and_read_as_a_note_language():
    # UserDrop's :language is the user's code from Freshdesk's config/languages.yml
    for code, language in (("uk", "uk"), ("en", "en"), ("ru-RU", None), ("pt-BR", None)):
        (ev,) = parse({**FRESHDESK, "ticket.requester.language": code})
        assert ev.ticket.requester_locale == code
        assert locale_language(ev.ticket.requester_locale) == language
    (unset,) = parse(FRESHDESK)  # a user without a language renders empty
    assert unset.ticket.requester_locale is None
