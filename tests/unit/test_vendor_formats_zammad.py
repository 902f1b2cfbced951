"""Zammad's default webhook body as Zammad itself builds it, field by field.

Shapes from zammad/zammad (read through the code index; commits as listed there):

- ``app/jobs/trigger_webhook_job/record_payload/ticket.rb`` (4ca1e98): the ticket's
  ``attributes_with_association_names`` with ``owner customer created_by updated_by
  organization priority group`` resolved to objects; ``state`` stays a name.
- ``app/jobs/trigger_webhook_job/record_payload/base.rb`` (14b5db3): an association with a
  blank id resolves to ``{}`` (a ticket without organization sends ``"organization": {}``).
- ``app/models/application_model/can_associations.rb`` (008053f): association names;
  a multiselect attribute is an array, an external data source attribute a
  ``{"value", "label"}`` object (``lib/can_selector/advanced_sorting/
  external_data_source_field_sort.rb`` sorts on ``->>'value'``).
- ``app/jobs/trigger_webhook_job.rb`` (``headers``): ``X-Zammad-Trigger`` is
  ``trigger.name`` as typed, any language.
"""

from __future__ import annotations

import json
from typing import Any

from plugin.settings import CompanyFrom, Connection
from webhooks.hosts import zammad


def _user(uid: int, first: str, last: str, roles: list[str], org: str | None = None
          ) -> dict[str, Any]:
    return {"id": uid, "login": f"{first.lower()}@example.com", "firstname": first,
            "lastname": last, "email": f"{first.lower()}@example.com", "active": True,
            "organization": org, "organization_id": 3 if org else None, "roles": roles,
            "role_ids": [3 if roles == ["Customer"] else 2], "vip": False,
            "created_at": "2026-01-10T09:00:00.000Z", "updated_at": "2026-01-10T09:00:00.000Z"}


def payload(**ticket_over: Any) -> dict[str, Any]:
    customer = _user(8, "Olena", "Koval", ["Customer"])
    ticket: dict[str, Any] = {
        "id": 81, "number": "31081", "title": "Printer offline", "group_id": 3,
        "group": {"id": 3, "name": "Service Desk", "active": True},
        "state_id": 2, "state": "open", "priority_id": 2,
        "priority": {"id": 2, "name": "2 normal", "ui_color": None, "active": True},
        "owner_id": 1, "owner": _user(1, "-", "", []),
        "customer_id": 8, "customer": customer,
        "organization_id": None, "organization": {},
        "created_by_id": 8, "created_by": customer, "updated_by_id": 8, "updated_by": customer,
        "article_count": 2, "article_ids": [104, 105], "create_article_type_id": 5,
        "create_article_type": "phone", "create_article_sender_id": 2,
        "create_article_sender": "Customer", "time_unit": None, "pending_time": None,
        "first_response_at": None, "close_at": None, "escalation_at": None,
        "preferences": {"channel_id": 1}, "ticket_time_accounting_ids": [],
        "created_at": "2026-12-04T08:00:00.123Z", "updated_at": "2026-12-04T10:10:00.456Z",
    }
    ticket.update(ticket_over)
    article = {
        "id": 105, "ticket_id": 81, "type_id": 10, "type": "note", "sender_id": 1,
        "sender": "Agent", "internal": True, "from": "Ivan Petrenko", "to": None,
        "subject": None, "body": "checked the spooler", "content_type": "text/html",
        "created_by_id": 12, "created_by": _user(12, "Ivan", "Petrenko", ["Agent"]),
        "updated_by_id": 12, "attachments": [], "accounted_time": 0,
        "created_at": "2026-12-04T10:10:00.456Z", "updated_at": "2026-12-04T10:10:00.456Z",
    }
    return {"ticket": ticket, "article": article}


def conn(**over: Any) -> Connection:
    base: dict[str, Any] = {"name": "zm", "kind": "zammad", "plugin_user_id": "7"}
    base.update(over)
    return Connection(**base)


def parse(data: dict[str, Any], c: Connection, headers: dict[str, str] | None = None):
    return zammad.parse(json.dumps(data).encode(), headers or {}, c)


def test_a_multiselect_company_attribute_names_the_company_not_a_python_list():
    c = conn(company_from=CompanyFrom(source="custom_field", field="client",
                                      map={"ACME Ltd": "acme"}))
    (ev,) = parse(payload(client=["ACME Ltd", "Globex"]), c)
    assert ev.ticket.company is not None and ev.ticket.company.id == "acme"
    (unmapped,) = parse(payload(client=["Initech"]), c)
    # the canonical (case-folded) id
    assert unmapped.ticket.company is not None and unmapped.ticket.company.id == "initech"
    (empty,) = parse(payload(client=[]), c)
    assert empty.ticket.company is None


def test_an_external_data_source_attribute_is_read_by_its_value():
    c = conn(company_from=CompanyFrom(source="custom_field", field="contract",
                                      map={"C-17": "acme"}))
    (ev,) = parse(payload(contract={"value": "C-17", "label": "ACME support 2026"}), c)
    assert ev.ticket.custom_fields["contract"] == "C-17"
    assert ev.ticket.company is not None and ev.ticket.company.id == "acme"


def test_a_trigger_named_in_cyrillic_still_selects_its_event():
    # the UTF-8 bytes of the header reach the WSGI app decoded as Latin-1
    name = "Deskpilot: заявка оновлена"
    c = conn(options={"trigger_events": {name: "ticket.updated"}})
    wire = name.encode("utf-8").decode("latin-1")
    (ev,) = parse(payload(), c, {"X-Zammad-Trigger": wire})
    assert ev.event == "ticket.updated"
    (plain,) = parse(payload(), c, {"X-Zammad-Trigger": name})  # a server that kept UTF-8
    assert plain.event == "ticket.updated"


def test_the_reference_is_the_ticket_number_zammad_shows():
    (ev,) = parse(payload(), conn())
    assert ev.ticket.id == "81" and ev.ticket.reference == "#31081"


def test_a_full_default_note_payload_without_organization_parses():
    (ev,) = parse(payload(), conn(company_from=CompanyFrom(source="organization")))
    assert ev.event == "ticket.commented"
    assert ev.ticket.company is None and ev.ticket.organization is None
    assert ev.ticket.assignee_id is None  # owner 1 is Zammad's "-"
    assert ev.ticket.channel == "phone" and ev.ticket.priority == "normal"
    assert ev.comment is not None and not ev.comment.public
    assert ev.comment.author.kind == "agent" and ev.actor.id == "12"
    assert ev.occurred_at.microsecond == 456000 and ev.time_entry is None


def test_an_odd_or_missing_number_leaves_the_default_reference():
    for odd in (None, "", {"n": 1}, True):
        (ev,) = parse(payload(number=odd), conn())
        assert ev.ticket.reference is None


def test_the_default_payload_carries_no_locale_so_none_is_read():
    # record_payload/base.rb leaves ``preferences`` (where Zammad keeps ``locale``) out of
    # every resolved user: the customer arrives without it
    data = payload()
    assert "preferences" not in data["ticket"]["customer"]
    (ev,) = parse(data, conn())
    assert ev.ticket.requester_locale is None
