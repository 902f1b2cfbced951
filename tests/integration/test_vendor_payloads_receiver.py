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
from tests.vendor_support import FRESHDESK, ZENDESK, render

FIXTURES = Path(__file__).parent.parent / "fixtures"
BY_NAME = {h.name: h for h in HOSTS}


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
