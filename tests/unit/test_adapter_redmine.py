"""Redmine adapter: suer/redmine_webhook 5.x payloads and Redmine 7 core webhooks."""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime
from pathlib import Path

import pytest

from plugin.settings import CompanyFrom, Connection
from webhooks.base import InvalidPayload, InvalidSignature
from webhooks.hosts import redmine

FIX = Path(__file__).parent.parent / "fixtures" / "redmine"
NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
CONN = Connection(name="rm", kind="redmine", plugin_user_id="40",
                  company_from=CompanyFrom(source="project", map={"4": "acme"}))


def parse(name: str):
    return redmine.parse((FIX / f"{name}.json").read_bytes(), {}, CONN)


def test_core_signature_is_github_style_sha256_hex():
    body = (FIX / "own_user_echo.json").read_bytes()
    expected = "sha256=" + hmac.new(b"redmine-secret", body, hashlib.sha256).hexdigest()
    assert redmine.sign(body, "redmine-secret") == expected
    redmine.verify(body, {"x-redmine-signature-256": expected}, ["redmine-secret"], NOW)
    with pytest.raises(InvalidSignature):
        redmine.verify(body, {"X-Redmine-Signature-256": expected.upper()}, ["redmine-secret"],
                       NOW)


def test_plugin_payloads():
    (created,) = parse("ticket_created")
    assert (created.event, created.delivery_key) == ("ticket.created", "issue-311-created")
    t = created.ticket
    assert (t.id, t.status, t.priority, t.project) == ("311", "new", "normal", "acme")
    assert t.company is not None and t.company.id == "acme"
    assert t.custom_fields == {"task_type": "composite", "units": "2"}
    assert t.requester_email == "olena@acme.example" and t.tags == ("tracker:bug",)
    (comment,) = parse("comment_added")
    assert comment.event == "ticket.commented"
    assert comment.delivery_key == "issue-311-journal-901-20261123T091500"
    assert comment.comment is not None and comment.comment.public
    assert comment.ticket.assignee_id == "5"
    (status,) = parse("status_changed")
    assert status.event == "ticket.updated" and status.changes == {"status_id": ("2", "4")}
    assert status.ticket.status == "waiting_client" and status.actor.id == "5"


def test_core_payloads():
    (logged,) = parse("time_logged")
    assert logged.event == "time.logged" and logged.ticket.id == "311"
    assert logged.time_entry is not None and logged.time_entry.minutes == 45
    assert logged.ticket.company is not None and logged.ticket.company.id == "acme"
    (own,) = parse("own_user_echo")
    assert own.own_write and own.changes == {"due_date": (None, "2026-11-24")}
    assert own.ticket.status == "in_progress"
    assert parse("unknown_event") == []
    with pytest.raises(InvalidPayload) as exc:
        parse("missing_field")
    assert "issue.id" in exc.value.errors


@pytest.mark.parametrize("key", ["4", "acme", "ACME Ltd"])
def test_project_map_by_id_identifier_or_name_on_both_routes(key):
    # issue 15: the 5.x plugin payload carries identifier, id and name; Redmine 7's core
    # payload (redmine/redmine 7.0.0 app/models/webhook_payload.rb: the API JSON)
    # only id and name. The same project must map to the same company on both routes.
    conn = Connection(name="rm", kind="redmine", plugin_user_id="40",
                      company_from=CompanyFrom(source="project", map={key: "client-7"}))
    (plugin_route,) = redmine.parse((FIX / "ticket_created.json").read_bytes(), {}, conn)
    assert plugin_route.ticket.company is not None
    assert plugin_route.ticket.company.id == "client-7"
    if key != "acme":  # the identifier is not in a core payload at all
        (core_route,) = redmine.parse((FIX / "own_user_echo.json").read_bytes(), {}, conn)
        assert core_route.ticket.company is not None
        assert core_route.ticket.company.id == "client-7"
