"""Zammad adapter: default ``{ticket, article}`` payloads → TicketEvent."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from plugin.settings import CompanyFrom, Connection
from webhooks.base import InvalidPayload, InvalidSignature
from webhooks.hosts import zammad

FIX = Path(__file__).parent.parent / "fixtures" / "zammad"
NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
CONN = Connection(name="zm", kind="zammad", plugin_user_id="7",
                  company_from=CompanyFrom(source="organization", map={"ACME Ltd": "acme"}),
                  field_map={"inbound": {"deskpilot_task_type": "task_type",
                                         "deskpilot_units": "units"}})
HEADERS = json.loads((FIX / "headers.json").read_text())


def parse(name: str, conn: Connection = CONN, headers=HEADERS):
    return zammad.parse((FIX / f"{name}.json").read_bytes(), headers, conn)


def test_sign_and_verify_hmac_sha1_over_the_raw_body_with_rotation():
    body = (FIX / "ticket_created.json").read_bytes()
    header = zammad.sign(body, "old-secret-1")
    assert header.startswith("sha1=") and len(header) == 45
    zammad.verify(body, {"x-hub-signature": header}, ["new-secret-2", "old-secret-1"], NOW)
    with pytest.raises(InvalidSignature):
        zammad.verify(body + b" ", {"X-Hub-Signature": header}, ["old-secret-1"], NOW)
    with pytest.raises(InvalidSignature):
        zammad.verify(body, {}, ["old-secret-1"], NOW)


def test_ticket_created_maps_snapshot_company_custom_attributes_and_delivery():
    (ev,) = parse("ticket_created")
    assert ev.event == "ticket.created" and ev.delivery_key == HEADERS["X-Zammad-Delivery"]
    t = ev.ticket
    assert (t.id, t.status, t.priority, t.channel) == ("81", "new", "normal", "email")
    assert t.company is not None and (t.company.id, t.company.name) == ("acme", "ACME Ltd")
    assert t.requester_email == "olena@acme.example" and t.assignee_id is None
    assert t.custom_fields["task_type"] == "composite" and t.custom_fields["units"] == 2
    assert t.created_at == datetime(2026, 11, 23, 8, 0, 0, 120000, tzinfo=UTC)
    assert ev.comment is not None and ev.comment.public and ev.actor.kind == "client"


def test_comment_status_and_time_events():
    (comment,) = parse("comment_added")
    assert comment.event == "ticket.commented" and comment.ticket.status == "in_progress"
    assert comment.comment is not None and comment.comment.body.startswith("It also")
    assert comment.ticket.assignee_id == "5"
    (status,) = parse("status_changed")
    assert status.event == "ticket.updated" and status.comment is None
    assert status.ticket.status == "waiting_client" and status.actor.id == "5"
    (logged,) = parse("time_logged")
    assert logged.event == "time.logged"
    assert logged.time_entry is not None and logged.time_entry.minutes == 45
    assert logged.time_entry.agent_id == "5" and logged.comment is not None
    assert logged.comment.public is False


def test_own_write_unknown_payload_and_trigger_names():
    (own,) = parse("own_user_echo")
    assert own.own_write is True
    assert parse("unknown_event") == []
    conn = Connection(name="zm", kind="zammad", options={"trigger_events": {
        "Deskpilot": "ticket.updated", "Chat": "slack.notify"}})
    (named,) = parse("comment_added", conn)
    assert named.event == "ticket.updated"
    (other,) = parse("comment_added", conn, {**HEADERS, "X-Zammad-Trigger": "Chat"})
    assert other.event == "unknown"


def test_status_map_override_and_missing_field():
    conn = Connection(name="zm", kind="zammad", status_map={"inbound": {"open": "accepted"}})
    assert parse("comment_added", conn)[0].ticket.status == "accepted"
    with pytest.raises(InvalidPayload) as exc:
        parse("missing_field")
    assert exc.value.errors == {"ticket.id": ["missing required id"]}


def test_time_without_an_article_gives_the_ticket_total_only():
    # Zammad's payload: article {} and the ticket's total time_unit with the accountings'
    # ids; the accounting's own units are not in it (the reconciliation poll reads them)
    (ev,) = parse("time_accounted_without_article")
    assert ev.event == "ticket.updated" and ev.comment is None and ev.time_entry is None
    assert ev.ticket.custom_fields["time_spent_total_minutes"] == 60
    assert ev.actor.kind == "agent" and ev.actor.id == "5"
    (logged,) = parse("time_logged")
    assert logged.ticket.custom_fields["time_spent_total_minutes"] == 45
    assert "time_spent_total_minutes" not in parse("comment_added")[0].ticket.custom_fields
    hours = Connection(name="zm", kind="zammad", options={"time_unit_minutes": 60})
    (ev,) = parse("time_accounted_without_article", hours)
    assert ev.ticket.custom_fields["time_spent_total_minutes"] == 3600


def test_time_unit_and_its_setting_must_be_numbers():
    data = json.loads((FIX / "time_accounted_without_article.json").read_text())
    for bad in ("soon", True, -1, "NaN"):
        data["ticket"]["time_unit"] = bad
        with pytest.raises(InvalidPayload) as exc:
            zammad.parse(json.dumps(data).encode(), HEADERS, CONN)
        assert "ticket.time_unit" in exc.value.errors
    for setting in ("x", 0, None, True):
        conn = Connection(name="zm", kind="zammad", options={"time_unit_minutes": setting})
        with pytest.raises(InvalidPayload) as exc:
            parse("time_logged", conn)
        assert "options.time_unit_minutes" in exc.value.errors


@pytest.mark.parametrize(("sent", "minutes"), [(3.33, 3), ("3.33", 3), (2.5, 3), (0.2, 1),
                                               (45.0, 45), (45, 45)])
def test_fractional_accounted_time_is_rounded_half_up_to_minutes(sent, minutes):
    # zammad/zammad app/jobs/trigger_webhook_job/record_payload/ticket/article.rb sends
    # ``time_unit.to_f``; its spec for issue #4127 expects 3.33
    body = json.loads((FIX / "time_logged.json").read_bytes())
    body["article"]["accounted_time"] = sent
    (logged,) = zammad.parse(json.dumps(body).encode(), {}, CONN)
    assert logged.event == "time.logged"
    assert logged.time_entry is not None and logged.time_entry.minutes == minutes


def test_accounted_time_that_is_not_a_number_is_refused():
    body = json.loads((FIX / "time_logged.json").read_bytes())
    body["article"]["accounted_time"] = "soon"
    with pytest.raises(InvalidPayload) as exc:
        zammad.parse(json.dumps(body).encode(), {}, CONN)
    assert "article.accounted_time" in exc.value.errors
