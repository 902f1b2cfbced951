"""A merge in the real django-helpdesk 2.6.1 staff view sends no webhook: the reconciliation
poll finds the duplicate (status 5, ``merged_to``) and Deskpilot releases its reservation.

The merge goes through the helpdesk's own view (``views/staff.py`` ``merge_tickets``,
``/helpdesk/tickets/merge``) as a staff member's browser posts it, run with Django's test
client inside the helpdesk (``manage.py shell``) against the same database.
"""

from __future__ import annotations

import json

import pytest

from plugin.ledger.models import EntryKind
from tests.e2e.conftest import CONNECTION, Stack

pytestmark = [pytest.mark.e2e, pytest.mark.redis, pytest.mark.postgres]

DUPLICATE = 5

MERGE = """
from django.contrib.auth import get_user_model
from django.test import Client
client = Client(HTTP_HOST="127.0.0.1")
client.force_login(get_user_model().objects.get(username="agent"))
url = "/helpdesk/tickets/merge?tickets={keep}&tickets={dup}"
assert client.get(url).status_code == 200
answer = client.post(url, {{"chosen_ticket": "{keep}"}})
print("MERGED", answer.status_code, answer.get("Location"))
"""


def _accepted(stack: Stack, company: str, title: str) -> int:
    ticket = stack.file(company, title)
    tid = int(ticket["id"])
    stack.wait(lambda: stack.ours(tid, public=True), f"the auto-reply on ticket {tid}")
    stack.settle(tid)
    stack.agent.update_fields(tid, task_type="simple", units=1)
    stack.agent.follow_up(tid, "Taking this one: simple, 1 unit.")
    stack.settle(tid)
    return tid


def _entries(stack: Stack, company: str, tid: int, kind: str) -> list[int]:
    key = f"{CONNECTION}:{tid}"
    return [e.reserved for e in stack.deskpilot.ledger_entries(company)
            if e.kind == kind and e.ticket_key == key]


def test_a_ticket_merged_in_the_staff_view_releases_its_reservation(stack: Stack) -> None:
    company = stack.company("s9-merge")
    keep = _accepted(stack, company, "The printer on floor 2 is offline")
    dup = _accepted(stack, company, "Printer offline again (floor 2)")
    assert _entries(stack, company, dup, EntryKind.RESERVE), "the duplicate holds a reservation"

    out = stack.site.shell(MERGE.format(keep=keep, dup=dup))
    (line,) = [ln for ln in out.splitlines() if ln.startswith("MERGED ")]
    assert line == f"MERGED 302 /helpdesk/tickets/{keep}/", out
    merged = stack.agent.ticket(dup)
    assert merged["status"] == DUPLICATE and merged["merged_to"] == keep
    assert merged["followup_set"] == [], "its followups moved to the kept ticket"
    stack.settle(keep, dup)  # no webhook came: nothing to process yet
    assert not _entries(stack, company, dup, EntryKind.RELEASE)

    report = json.loads(stack.deskpilot.must("hosts", "reconcile", "helpdesk"))
    assert report["outcomes"].get("merged-queued") == 1, report
    stack.settle(keep, dup)
    released = _entries(stack, company, dup, EntryKind.RELEASE)
    assert len(released) == 1 and released[0] < 0, released
    assert not _entries(stack, company, keep, EntryKind.RELEASE), "the kept ticket stays"

    # the next pass finds nothing more: the duplicate is closed in Deskpilot
    again = json.loads(stack.deskpilot.must("hosts", "reconcile", "helpdesk"))
    assert not any(k.startswith("merged") for k in again["outcomes"]), again
    stack.settle(keep, dup)
    assert len(_entries(stack, company, dup, EntryKind.RELEASE)) == 1
