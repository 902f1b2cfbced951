"""Freshdesk adapter: shared-secret header, the automation template, local-time dates."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from plugin.settings import CompanyFrom, Connection
from rules.event import Actor, TimeEntry
from webhooks.base import InvalidPayload, InvalidSignature
from webhooks.hosts import freshdesk

FIX = Path(__file__).parent.parent / "fixtures" / "freshdesk"
TEMPLATE = Path(freshdesk.__file__).parent / "templates" / "freshdesk_automation.json"
NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
CONN = Connection(name="fd", kind="freshdesk", options={"timezone": "Europe/Kyiv"},
                  company_from=CompanyFrom(source="organization", map={"ACME Ltd": "acme"}))


def parse(name: str, conn: Connection = CONN):
    return freshdesk.parse((FIX / f"{name}.json").read_bytes(), {}, conn)


def test_token_header_is_compared_against_every_secret_and_never_kept():
    freshdesk.verify(b"{}", {"x-deskpilot-token": "second-secret"},
                     ["first-secret", "second-secret"], NOW)
    for given in ({}, {"X-Deskpilot-Token": "second-secre"}):
        with pytest.raises(InvalidSignature):
            freshdesk.verify(b"{}", given, ["second-secret"], NOW)
    assert freshdesk.TOKEN_HEADER.lower() not in {h.lower() for h in freshdesk.KEPT_HEADERS}


#: every placeholder the shipped template may use: Freshdesk's placeholder list (Admin →
#: placeholders; ``ApplicationHelper#ticket_placeholders`` and ``Admin::VaRulesHelper`` in
#: Freshdesk's code) and the ticket/user Liquid drops behind it (``TicketDrop``:
#: ``created_on``, ``modified_on``, ``total_time_spent``, ``latest_*_comment_text``; the
#: requester's ``id``; ``cf_…`` custom fields; ``UserDrop``'s ``:language`` attribute behind
#: ``ticket.requester.language``)
REAL_PLACEHOLDERS = {
    "ticket.id", "ticket.subject", "ticket.description", "ticket.status", "ticket.priority",
    "ticket.source", "ticket.ticket_type", "ticket.tags", "ticket.created_on",
    "ticket.modified_on", "ticket.requester.id", "ticket.requester.email",
    "ticket.requester.name", "ticket.requester.language", "ticket.agent.email",
    "ticket.company.name",
    "ticket.total_time_spent", "ticket.latest_public_comment_text",
    "ticket.latest_private_comment_text", "triggered_event",
}


def test_template_uses_real_freshdesk_placeholders_only_and_parses():
    text = TEMPLATE.read_text()
    used = set(re.findall(r"\{\{\s*([a-z_.]+)\s*\}\}", text))
    assert {p for p in used if not p.startswith("ticket.cf_")} <= REAL_PLACEHOLDERS
    assert {"ticket.requester.name", "ticket.latest_private_comment_text",
            "triggered_event"} <= used
    assert json.loads(text)["deskpilot"] == "freshdesk-automation/2"
    rendered = text.replace("{{ticket.id}}", "9").replace("{{ticket.created_on}}",
                                                          "2026-11-23 10:00:00")
    (ev,) = freshdesk.parse(rendered.encode(), {}, CONN)
    assert ev.ticket.id == "9" and ev.ticket.status is None and ev.ticket.company is None
    assert ev.actor.kind == "system" and ev.comment is None and ev.time_entry is None


def test_scenarios():
    (created,) = parse("ticket_created")
    assert created.event == "ticket.created" and created.ticket.status == "new"
    assert created.ticket.created_at.isoformat() == "2026-11-23T10:00:00+02:00"
    assert created.ticket.company is not None and created.ticket.company.id == "acme"
    assert created.ticket.tags == ("reports", "billing") and created.ticket.priority == "normal"
    assert created.delivery_key == "sha256:" + __import__("hashlib").sha256(
        (FIX / "ticket_created.json").read_bytes()).hexdigest()
    (status,) = parse("status_changed")
    assert status.ticket.status == "waiting_client" and status.comment is None
    (own,) = parse("own_user_echo")
    assert own.own_write and own.comment is not None and not own.comment.public
    assert own.comment.body == "[Deskpilot] Deadline: 2026-11-24 17:00"
    assert parse("unknown_event")[0].event == "unknown"


def test_a_requesters_reply_is_a_client_comment():
    (ev,) = parse("comment_added")
    assert ev.event == "ticket.commented" and ev.ticket.status == "in_progress"
    assert ev.comment is not None and ev.comment.public
    assert ev.comment.body == "It also happens for February."  # "Olena Koval : " is the author
    assert ev.comment.author == Actor(kind="client", id="43000001", name="Olena Koval")
    assert ev.actor == ev.comment.author and not ev.own_write


def test_an_agents_reply_is_an_agent_comment():
    (ev,) = parse("agent_replied")
    assert ev.comment is not None and ev.comment.public
    assert ev.comment.body == "Thanks, we are checking the February report too."
    assert ev.comment.author == Actor(kind="agent", name="Ihor Melnyk") == ev.actor


def test_a_private_note_is_read_as_private_with_its_own_text():
    # Freshdesk renders both placeholders: the public one still shows the previous reply
    (ev,) = parse("private_note_added")
    assert ev.comment is not None and not ev.comment.public
    assert ev.comment.body == "The report query filters on the wrong month."
    assert ev.comment.author.kind == "agent"  # only agents add notes


def test_triggered_event_decides_between_the_two_placeholders():
    data = json.loads((FIX / "private_note_added.json").read_text())
    for triggered, public, text in (
            ("{note_type:public}", True, "Thanks, we are checking the February report too."),
            ('{"note_type":"private"}', False, "The report query filters on the wrong month."),
            ("{reply_sent:sent}", True, "Thanks, we are checking the February report too."),
            ("", True, "Thanks, we are checking the February report too.")):
        (ev,) = freshdesk.parse(json.dumps({**data, "triggered_event": triggered}).encode(),
                                {}, CONN)
        assert ev.comment is not None and (ev.comment.public, ev.comment.body) == (public, text)
    # a private note whose placeholder rendered empty is no comment, not the old reply
    (empty,) = freshdesk.parse(json.dumps({**data, "latest_private_comment": ""}).encode(),
                               {}, CONN)
    assert empty.comment is None


def test_the_rules_performed_by_names_the_author_when_names_cannot():
    data = json.loads((FIX / "comment_added.json").read_text())
    # a reply by a contact in CC is not the requester by name: the rule's performer says so
    cc = {**data, "latest_public_comment": "Petro Koval : Same for us.",
          "performed_by": "requester"}
    (ev,) = freshdesk.parse(json.dumps(cc).encode(), {}, CONN)
    assert ev.comment is not None and ev.comment.author.kind == "client"
    (by_name,) = freshdesk.parse(json.dumps({**cc, "performed_by": ""}).encode(), {}, CONN)
    assert by_name.comment is not None and by_name.comment.author.kind == "agent"
    (system,) = freshdesk.parse(json.dumps(
        {**data, "latest_public_comment": "System : Auto-closed."}).encode(), {}, CONN)
    assert system.comment is not None and system.comment.author.kind == "system"
    assert system.comment.body == "Auto-closed."


def test_version_1_bodies_parse_as_before():
    (ev,) = parse("legacy_v1_comment")
    assert ev.comment is not None and ev.comment.public
    assert ev.comment.body == "It also happens for February."
    assert ev.comment.author.kind == "system" and ev.actor.kind == "system"
    text = (FIX / "legacy_v1_comment.json").read_text().replace(
        '"It also happens for February."', '"Olena Koval : It also happens for February."')
    (named,) = freshdesk.parse(text.encode(), {}, CONN)  # v1: the text is kept whole
    assert named.comment is not None
    assert named.comment.body == "Olena Koval : It also happens for February."
    assert named.comment.author.kind == "system"


def test_a_delivered_time_log_carries_the_total_only():
    (logged,) = parse("time_logged")
    assert logged.event == "time.logged" and logged.time_entry is None
    assert logged.ticket.custom_fields["time_spent_total_minutes"] == 45
    assert logged.comment is None


def test_a_polled_time_log_carries_its_entry():
    data = json.loads((FIX / "time_logged.json").read_text())
    data |= {"performed_by": "agent",
             "time_entry": {"id": "11", "minutes": "45", "agent_id": "8"}}
    (ev,) = freshdesk.parse(json.dumps(data).encode(), {}, CONN)
    assert ev.time_entry == TimeEntry(id="time-11", minutes=45, agent_id="8")
    assert ev.actor.kind == "agent"
    for bad in ("-5", "soon", {"x": 1}):
        data["time_entry"]["minutes"] = bad
        with pytest.raises(InvalidPayload):
            freshdesk.parse(json.dumps(data).encode(), {}, CONN)
    data["time_entry"] = {"id": "", "minutes": "", "agent_id": ""}
    assert freshdesk.parse(json.dumps(data).encode(), {}, CONN)[0].time_entry is None


def test_local_dates_need_the_helpdesk_time_zone():
    with pytest.raises(InvalidPayload) as exc:
        parse("ticket_created", Connection(name="fd", kind="freshdesk"))
    assert "options.timezone" in json.dumps(exc.value.errors)
    with pytest.raises(InvalidPayload):
        parse("missing_field")


@pytest.mark.parametrize("stamp", ["2026-11-23 10:00:00 +0200", "2026-11-23 08:00:00 UTC",
                                   "2026-11-23 08:00:00 +0000", "2026-11-23 10:00:00"])
def test_rails_to_s_dates_with_offset_or_utc(stamp):
    # Freshdesk renders {{ticket.created_on}} with Rails' default Time#to_s (HOSTS.md §3):
    # ``+0200``-style offsets, or the literal ``UTC`` for an account set to UTC; a naive one
    # is read in options.timezone (Europe/Kyiv here). All are the same instant.
    body = json.loads((FIX / "ticket_created.json").read_bytes())
    body["ticket"]["created_on"] = stamp
    (created,) = freshdesk.parse(json.dumps(body).encode(), {}, CONN)
    assert created.ticket.created_at == datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
