"""Freshdesk adapter: shared-secret header, the automation template, local-time dates."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from plugin.settings import CompanyFrom, Connection
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


def test_template_parses_and_uses_freshdesk_placeholders():
    text = TEMPLATE.read_text()
    assert {"ticket.id", "ticket.status", "ticket.latest_public_comment", "triggered_event"} <= \
        set(re.findall(r"\{\{([a-z_.]+)\}\}", text))
    rendered = text.replace("{{ticket.id}}", "9").replace("{{ticket.created_on}}",
                                                          "2026-11-23 10:00:00")
    (ev,) = freshdesk.parse(rendered.encode(), {}, CONN)
    assert ev.ticket.id == "9" and ev.ticket.status is None and ev.ticket.company is None


def test_scenarios():
    (created,) = parse("ticket_created")
    assert created.event == "ticket.created" and created.ticket.status == "new"
    assert created.ticket.created_at.isoformat() == "2026-11-23T10:00:00+02:00"
    assert created.ticket.company is not None and created.ticket.company.id == "acme"
    assert created.ticket.tags == ("reports", "billing") and created.ticket.priority == "normal"
    assert created.delivery_key == "sha256:" + __import__("hashlib").sha256(
        (FIX / "ticket_created.json").read_bytes()).hexdigest()
    (comment,) = parse("comment_added")
    assert comment.comment is not None and comment.comment.public
    assert comment.ticket.status == "in_progress"
    assert parse("status_changed")[0].ticket.status == "waiting_client"
    (logged,) = parse("time_logged")
    assert logged.event == "time.logged"
    assert logged.ticket.custom_fields["time_spent_total_minutes"] == 45
    (own,) = parse("own_user_echo")
    assert own.own_write and own.comment is not None and not own.comment.public
    assert parse("unknown_event")[0].event == "unknown"


def test_local_dates_need_the_helpdesk_time_zone():
    with pytest.raises(InvalidPayload) as exc:
        parse("ticket_created", Connection(name="fd", kind="freshdesk"))
    assert "options.timezone" in json.dumps(exc.value.errors)
    with pytest.raises(InvalidPayload):
        parse("missing_field")
