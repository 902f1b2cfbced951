"""Zendesk adapter: the shipped trigger template, rendered, → TicketEvent."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from base64 import b64encode
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from plugin.settings import CompanyFrom, Connection
from webhooks.base import InvalidSignature
from webhooks.hosts import zendesk

FIX = Path(__file__).parent.parent / "fixtures" / "zendesk"
TEMPLATE = Path(zendesk.__file__).parent / "templates" / "zendesk_trigger.json"
NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
CONN = Connection(name="zd", kind="zendesk", plugin_user_id="955",
                  company_from=CompanyFrom(source="organization"))


def parse(name: str, conn: Connection = CONN):
    return zendesk.parse((FIX / f"{name}.json").read_bytes(), {}, conn)


def headers(body: bytes, secret: str, when: datetime) -> dict[str, str]:
    ts = when.strftime("%Y-%m-%dT%H:%M:%SZ")
    return {zendesk.SIGNATURE_HEADER: zendesk.sign(body, secret, ts),
            zendesk.TIMESTAMP_HEADER: ts}


def test_signature_is_base64_hmac_sha256_over_timestamp_then_body():
    body, ts = b'{"say": "hello"}', "2021-07-25T10:00:00Z"
    expected = b64encode(hmac.new(b"s3cret-key", ts.encode() + body, hashlib.sha256).digest())
    assert zendesk.sign(body, "s3cret-key", ts) == expected.decode()
    zendesk.verify(body, headers(body, "s3cret-key", NOW), ["other-key", "s3cret-key"], NOW)


def test_old_documented_vector_only_matches_body_then_timestamp():
    # Zendesk's older "Verifying webhook authenticity" page: this vector was computed over
    # BODY + TIMESTAMP. The current page (and we) sign TIMESTAMP + BODY, so it must fail.
    secret = "HRkRd4BeOAoUkfZr-mhauJT64rvBASlJRoIyPsd3zeA="
    body, ts = b'{"say": "hello"}', "2021-07-25T10:00:00Z"
    old_sig = "tRDSF7URY8BLCDlaBcQ7FHu051Zk+aAB0NKMP53teMw="
    reversed_order = hmac.new(secret.encode(), body + ts.encode(), hashlib.sha256).digest()
    assert b64encode(reversed_order).decode() == old_sig
    when = datetime(2021, 7, 25, 10, 0, tzinfo=UTC)
    with pytest.raises(InvalidSignature):
        zendesk.verify(body, {zendesk.SIGNATURE_HEADER: old_sig,
                              zendesk.TIMESTAMP_HEADER: ts}, [secret], when)


@pytest.mark.parametrize("skew", [timedelta(seconds=-301), timedelta(seconds=301)])
def test_timestamps_outside_five_minutes_are_refused(skew):
    body = b"{}"
    with pytest.raises(InvalidSignature, match="5-minute"):
        zendesk.verify(body, headers(body, "k-123456", NOW + skew), ["k-123456"], NOW)
    zendesk.verify(body, headers(body, "k-123456", NOW + skew / 2), ["k-123456"], NOW)


def test_template_is_valid_json_using_only_real_placeholders_and_parses():
    text = TEMPLATE.read_text()
    data = json.loads(text)
    names = set(re.findall(r"\{\{([a-z_.A-Z0-9]+)\}\}", text))
    assert {"ticket.id", "ticket.status", "ticket.latest_comment.value", "current_user.id",
            "ticket.organization.external_id", "ticket.created_at_with_timestamp"} <= names
    rendered = json.dumps(data).replace("{{ticket.id}}", "12").replace(
        "{{ticket.created_at_with_timestamp}}", "2026-11-23T08:00Z")
    (ev,) = zendesk.parse(rendered.encode(), {}, CONN)
    assert ev.ticket.id == "12" and ev.event == "ticket.updated"
    assert ev.ticket.custom_fields == {} and ev.ticket.status is None  # unfilled = absent


def test_fixture_scenarios_map_to_events():
    (created,) = parse("ticket_created")
    assert (created.event, created.ticket.status, created.actor.kind) == (
        "ticket.created", "new", "client")
    assert created.ticket.company is not None and created.ticket.company.id == "acme"
    assert created.ticket.tags == ("reports", "billing") and created.ticket.channel == "email"
    assert created.ticket.assignee_id is None
    assert created.ticket.created_at == datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
    (commented,) = parse("comment_added")
    assert commented.comment is not None and commented.comment.public
    (status,) = parse("status_changed")
    assert status.ticket.status == "waiting_client" and status.comment is None
    (logged,) = parse("time_logged")
    assert logged.event == "time.logged" and logged.time_entry is not None
    assert logged.time_entry.minutes == 45
    assert parse("own_user_echo")[0].own_write is True
    assert parse("unknown_event")[0].event == "unknown"
    assert parse("ticket_created")[0].delivery_key.startswith("sha256:")
    key = zendesk.delivery_key(b"{}", {"x-zendesk-webhook-invocation-id": "8350205582"})
    assert key == "8350205582"
