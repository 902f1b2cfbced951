"""django-helpdesk adapter, on payloads captured from a running django-helpdesk 2.6.1."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from plugin.settings import CompanyFrom, Connection
from webhooks.base import InvalidPayload, InvalidSignature
from webhooks.hosts import _common, django_helpdesk

FIX = Path(__file__).parent.parent / "fixtures" / "django_helpdesk"
CONN = Connection(name="dh", kind="django_helpdesk", plugin_user_id="3",
                  company_from=CompanyFrom(source="email_domain", map={"acme.example": "acme"}))


def parse(name: str, conn: Connection = CONN):
    return django_helpdesk.parse((FIX / f"{name}.json").read_bytes(), {}, conn)


def test_cannot_sign():
    assert django_helpdesk.SIGNED is False
    with pytest.raises(InvalidSignature):
        django_helpdesk.verify(b"{}", {}, ["x" * 10], datetime.now(UTC))


def test_new_ticket_hook():
    (ev,) = parse("ticket_created")
    assert (ev.event, ev.delivery_key, ev.own_write) == ("ticket.created", "ticket-1-new", False)
    t = ev.ticket
    assert (t.status, t.priority, t.requester_email) == ("new", "high", "olena@acme.example")
    assert t.company is not None and t.company.id == "acme"
    assert t.custom_fields == {"task_type": "composite", "units": 2,
                               "due_date": "2030-01-15T19:00:00+02:00"}
    assert t.created_at.isoformat() == "2026-11-22T15:25:49.541041+02:00"  # opening followup


def test_followup_hooks():
    (comment,) = parse("comment_added")
    assert comment.event == "ticket.commented" and comment.delivery_key == "ticket-1-followup-2"
    assert comment.comment is not None and comment.comment.public and comment.actor.id == "2"
    (status,) = parse("status_changed")
    assert status.event == "ticket.updated" and status.changes == {"status": (None, "resolved")}
    assert status.ticket.status == "resolved"
    (logged,) = parse("time_logged")
    assert logged.event == "time.logged" and logged.time_entry is not None
    assert (logged.time_entry.minutes, logged.time_entry.id) == (45, "4")
    assert logged.comment is not None and logged.comment.public is False
    assert parse("own_user_echo")[0].own_write is True
    assert parse("unknown_event")[0].event == "unknown"
    with pytest.raises(InvalidPayload):
        parse("missing_field")


@pytest.mark.parametrize(("text", "minutes"), [
    ("00:45:00", 45), ("01:30", 90), ("1 02:00:00", 1560), ("00:00:40", 1), ("00:00:20", 0)])
def test_durations(text, minutes):
    assert _common.minutes_from_duration(text, "x") == minutes


def test_the_ticket_reference_is_the_one_the_helpdesk_shows():
    # helpdesk/models.py Ticket.ticket_for_url: "<queue slug>-<id>"; notes use it (issue 15)
    (ev,) = parse("ticket_created")
    assert ev.ticket.reference == "support-1"
