"""django-helpdesk 2.6.1's webhook bodies for the value types its serializers produce.

Sources (the installed 2.6.1, ``helpdesk/`` in the e2e venv; same files in
django-helpdesk/django-helpdesk ``src/helpdesk/``):

- ``webhooks.py``: ``{"ticket": TicketSerializer(ticket).data, "queue_slug"[, "followup_id"]}``
  after ``ticket.set_custom_field_values()`` (``models.py``: an unset custom field is
  ``None``).
- ``serializers.py`` ``TicketSerializer``: ``assigned_to`` / ``merged_to`` are primary keys
  or ``null``, ``due_date`` ``null`` or ISO 8601; ``FollowUpSerializer``: ``time_spent`` is a
  DRF ``DurationField`` (``django.utils.duration.duration_string``: ``"1 02:00:00"`` past a
  day, ``".500000"`` microseconds), ``followupattachment_set`` a list of objects.
- ``models.py`` ``CustomField.build_api_field``: ``decimal`` → ``DecimalField`` (a string,
  ``"1.50"``), ``integer`` → int, ``boolean`` → bool, ``date`` → ``"YYYY-MM-DD"``.
- ``views/staff.py`` ``merge_tickets``: a merged ticket gets ``merged_to`` and status 5
  (duplicate); its followups move to the ticket it was merged into.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from plugin.settings import CompanyFrom, Connection
from webhooks.base import WebhookError
from webhooks.hosts import django_helpdesk

CONN = Connection(name="dh", kind="django_helpdesk", plugin_user_id="3",
                  company_from=CompanyFrom(source="custom_field", field="client",
                                           map={"ACME Ltd": "acme"}))


def followup(fid: int, **over: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": fid, "ticket": 7, "user": None, "title": "Printer offline", "comment": "",
        "public": True, "new_status": None, "time_spent": None, "followupattachment_set": [],
        "date": f"2026-12-04T10:1{fid}:00.123456Z", "message_id": None,
        "email_recipients": [],
    }
    data.update(over)
    return data


def body(*followups: dict[str, Any], followup_id: int | None = None, **over: Any
         ) -> bytes:
    ticket: dict[str, Any] = {
        "id": 7, "queue": 1, "title": "Printer offline", "description": "It stopped.",
        "resolution": None, "submitter_email": "olena@acme.example", "assigned_to": None,
        "status": 1, "on_hold": False, "priority": 3, "due_date": None, "merged_to": None,
        "followup_set": list(followups), "custom_client": "ACME Ltd", "custom_units": "1.50",
        "custom_billable": True, "custom_deadline": "2026-12-10", "custom_notes": None,
    }
    ticket.update(over)
    data: dict[str, Any] = {"ticket": ticket, "queue_slug": "support"}
    if followup_id is not None:
        data["followup_id"] = followup_id
    return json.dumps(data).encode()


def test_a_new_ticket_with_nulls_and_typed_custom_fields():
    (ev,) = django_helpdesk.parse(body(followup(1, comment="It stopped.")), {}, CONN)
    assert ev.event == "ticket.created" and ev.ticket.status == "new"
    assert ev.ticket.assignee_id is None and "due_date" not in ev.ticket.custom_fields
    assert ev.ticket.custom_fields["units"] == "1.50"
    assert ev.ticket.custom_fields["billable"] is True
    assert ev.ticket.custom_fields["notes"] is None
    assert ev.ticket.company is not None and ev.ticket.company.id == "acme"
    assert ev.ticket.created_at.microsecond == 123456


def test_an_agent_followup_over_a_day_of_time_with_an_attachment():
    attachment = {"id": 4, "followup": 2, "file": "/media/helpdesk/attachments/x.png",
                  "filename": "x.png", "mime_type": "image/png", "size": 1024}
    data = body(followup(1), followup(2, user=5, comment="Replaced the fuser.",
                                      public=False, time_spent="1 02:00:00.500000",
                                      followupattachment_set=[attachment], new_status=3),
                followup_id=2, status=3, assigned_to=5)
    (ev,) = django_helpdesk.parse(data, {}, CONN)
    assert ev.event == "time.logged" and ev.delivery_key == "ticket-7-followup-2"
    assert ev.time_entry is not None and ev.time_entry.minutes == 26 * 60
    assert ev.comment is not None and not ev.comment.public and ev.actor.id == "5"
    assert ev.ticket.assignee_id == "5" and ev.ticket.status == "resolved"


def test_a_followup_on_a_merged_duplicate_reads_as_closed():
    data = body(followup(9, comment="Any news?"), followup_id=9, status=5, merged_to=3)
    (ev,) = django_helpdesk.parse(data, {}, CONN)
    assert ev.event == "ticket.commented" and ev.ticket.status == "closed"
    assert ev.actor.kind == "client"


def _seen(raw: bytes, at: str) -> bytes:
    data = json.loads(raw)
    data["deskpilot_seen_at"] = at
    return json.dumps(data).encode()


def test_a_polled_merged_duplicate_is_a_merge_into_the_kept_ticket():
    # merge_tickets moved its followups away; the poll adds when it saw the merge
    raw = _seen(body(status=5, merged_to=3), "2026-12-04T12:00:00+00:00")
    (ev,) = django_helpdesk.parse(raw, {}, CONN)
    assert ev.event == "ticket.merged" and ev.merged_into == "3"
    assert ev.delivery_key == "ticket-7-merged-3"
    assert ev.occurred_at.isoformat() == "2026-12-04T12:00:00+00:00"
    assert ev.ticket.status == "closed" and ev.ticket.reference == "support-7"
    assert ev.ticket.company is not None and ev.ticket.company.id == "acme"
    assert not ev.own_write


def test_a_merged_duplicate_with_a_followup_left_keeps_its_opening_time():
    raw = _seen(body(followup(1), status=5, merged_to=3), "2026-12-04T12:00:00+00:00")
    (ev,) = django_helpdesk.parse(raw, {}, CONN)
    assert ev.event == "ticket.merged"
    assert ev.ticket.created_at.isoformat() == "2026-12-04T10:11:00.123456+00:00"


def test_a_merged_body_with_no_time_at_all_is_refused_by_name():
    with pytest.raises(WebhookError, match="deskpilot_seen_at"):
        django_helpdesk.parse(body(status=5, merged_to=3), {}, CONN)


def test_the_serializer_sends_only_the_submitters_email_so_no_locale_is_read():
    (ev,) = django_helpdesk.parse(body(followup(1, comment="It stopped.")), {}, CONN)
    assert ev.ticket.requester_email == "olena@acme.example"
    assert ev.ticket.requester_locale is None
