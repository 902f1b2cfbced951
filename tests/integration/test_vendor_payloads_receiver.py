"""One vendor-shaped body per host, end to end through the receiver (Flask test client).

Each body is shaped as the vendor builds it (see tests/unit/test_vendor_formats_*.py for
the sources): Zammad's default payload with a Cyrillic trigger name in its header,
Zendesk and Freshdesk rendering *our shipped templates* (every placeholder as text, an
unset one empty, Zendesk's ``*_with_timestamp`` without seconds, ``2013-12-12T05:35Z``
per its placeholders reference), Redmine 7's core ``issue.updated`` with a multiple
custom field, and django-helpdesk 2.6.1's followup hook with a >24 h ``time_spent``.
The stored event must carry the type and ticket the adapter read.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from plugin.storage import Event
from tests.integration.test_receiver_security import HOSTS, TOKEN, Host, make_stack, send
from tests.unit.test_vendor_formats_redmine import issue as redmine_issue
from tests.unit.test_vendor_formats_zammad import payload as zammad_payload

TEMPLATES = Path(__file__).parent.parent.parent / "webhooks" / "hosts" / "templates"
FIXTURES = Path(__file__).parent.parent / "fixtures"
BY_NAME = {h.name: h for h in HOSTS}


def render(template: str, values: dict[str, str]) -> dict[str, Any]:
    """Fill ``{{placeholder}}``s as the host does: JSON-escaped text, unknown ones empty."""
    text = (TEMPLATES / template).read_text()
    out, rest = [], text
    while "{{" in rest:
        head, _, tail = rest.partition("{{")
        name, _, rest = tail.partition("}}")
        out.append(head + json.dumps(values.get(name.strip(), ""))[1:-1])
    return json.loads("".join(out) + rest)


ZENDESK = {
    "ticket.id": "4512", "ticket.title": "Printer \"HP 4\" offline", "ticket.description":
    "It stopped\nprinting.", "ticket.status": "Open", "ticket.priority": "-",
    "ticket.via": "Mail", "ticket.tags": "vip printers",
    "ticket.created_at_with_timestamp": "2026-12-04T08:00Z",
    "ticket.updated_at_with_timestamp": "2026-12-04T10:10Z",
    "ticket.requester.id": "9001", "ticket.requester.email": "olena@acme.example",
    "ticket.organization.id": "77", "ticket.organization.name": "ACME Ltd",
    "ticket.latest_comment.is_public": "true", "ticket.latest_comment.value": "On it.",
    "ticket.latest_comment.author.id": "12", "current_user.id": "12",
    "current_user.role": "Agent",
}
FRESHDESK = {
    "ticket.id": "88", "ticket.subject": "Printer offline", "ticket.status": "Open",
    "ticket.priority": "Medium", "ticket.source": "Email", "ticket.tags": "vip, printers",
    "ticket.created_on": "2026-12-04 10:00:00 +0200", "ticket.modified_on":
    "2026-12-04 12:10:00 +0200", "ticket.requester.id": "5", "ticket.requester.email":
    "olena@acme.example", "ticket.requester.name": "Olena Koval", "ticket.company.name":
    "ACME Ltd", "ticket.total_time_spent": "26:15", "triggered_event": "{reply_sent:sent}",
    "ticket.latest_public_comment_text": "Ivan Petrenko : On it.",
}


def zendesk_body() -> dict[str, Any]:
    data = render("zendesk_trigger.json", ZENDESK)
    data["event"] = "ticket.commented"
    return data


def freshdesk_body() -> dict[str, Any]:
    data = render("freshdesk_automation.json", FRESHDESK)
    data["event"], data["performed_by"] = "ticket.commented", "agent"
    return data


def redmine_body() -> dict[str, Any]:
    journal = {"id": 902, "created_on": "2026-12-04T10:10:00Z", "notes": "On it.",
               "user": {"id": 5, "name": "Ivan Petrenko"}, "details": []}
    return {"type": "issue.updated", "timestamp": "2026-12-04T10:10:00Z",
            "data": {"issue": redmine_issue(), "journal": journal}}


def helpdesk_body() -> dict[str, Any]:
    data = json.loads((FIXTURES / "django_helpdesk" / "time_logged.json").read_text())
    data["ticket"]["followup_set"][-1]["time_spent"] = "1 02:00:00"
    return data


CASES = [
    ("zammad", zammad_payload, {"X-Zammad-Trigger":
                                "Нова заявка".encode().decode("latin-1")},
     "ticket.created", "81"),
    ("zendesk", zendesk_body, {}, "ticket.commented", "4512"),
    ("freshdesk", freshdesk_body, {}, "ticket.commented", "88"),
    ("redmine", redmine_body, {}, "ticket.commented", "311"),
    ("helpdesk", helpdesk_body, {}, "time.logged", "1"),
]


@pytest.fixture
def stack(tmp_path, sqlite_url, redis_url):
    hosts = [BY_NAME[name] for name, *_ in CASES]
    hosts = [Host(h.name, h.kind, h.headers, h.id_path, h.time_path,
                  {**h.conn, **({"options": {**h.conn.get("options", {}), "trigger_events":
                                             {"Нова заявка": "ticket.created"}}}
                                if h.kind == "zammad" else {})},
                  h.body_defines_key) for h in hosts]
    app, ctx = make_stack(tmp_path, sqlite_url, redis_url, hosts)
    yield app.test_client(), ctx
    ctx.close()


@pytest.mark.parametrize(("name", "build", "extra", "event", "ticket"), CASES,
                         ids=[c[0] for c in CASES])
def test_a_vendor_shaped_body_is_accepted_and_read(stack, name, build, extra, event, ticket):
    client, ctx = stack
    resp = send(client, BY_NAME[name], build(), headers=extra)
    assert resp.status_code == 202, resp.json
    with ctx.db.session() as s:
        row = s.execute(select(Event)).scalar_one()
    assert (row.event_type, row.ticket_id) == (event, ticket)
    assert TOKEN not in json.dumps(row.headers)
