"""Issue 15's end-to-end scenarios against the real django-helpdesk 2.6.1: a write the host
refuses costs only itself and is resent once fixed, the agent's Resolution survives the
feedback request, every open ticket shows the current balance, deadlines are the same
instant in the helpdesk's own terms in UTC and in Europe/Kyiv, and one agent step that
replies and resolves gives the client one message."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tests.e2e.conftest import CONNECTION, Stack
from tests.e2e.helpdesk import RESOLVED, HelpdeskAPI, parse_time
from tests.e2e.test_e2e_django_helpdesk import accept, close_to, file_and_wait, resolve

pytestmark = [pytest.mark.e2e, pytest.mark.redis, pytest.mark.postgres]

#: Deskpilot's own zone (the e2e settings' ``timezone``, the default calendar's)
DESKPILOT_ZONE = ZoneInfo("Europe/Kyiv")


def refused_lines(stack: Stack, ticket_id: int) -> list[str]:
    """``deskpilot outbox list`` lines of one ticket."""
    listed = stack.deskpilot.must("outbox", "list")
    return [ln for ln in listed.splitlines() if f"\t{CONNECTION}/{ticket_id}\t" in ln]


def field_field(stack: Stack, data_type: str) -> None:
    """The helpdesk admin creates (or changes) the "Resolve by" custom field."""
    stack.site.shell(
        "from helpdesk.models import CustomField\n"
        "f, _ = CustomField.objects.get_or_create(name='resolve_by', defaults={"
        "'label': 'Resolve by', 'data_type': 'date', 'required': False, 'ordering': 20})\n"
        f"f.data_type = {data_type!r}\n"
        "f.save()\n"
    )


def wall_time(value: str | None, zone: str) -> datetime | None:
    """A custom datetime field as the helpdesk keeps it: wall time of its own TIME_ZONE."""
    if not value:
        return None
    seen = parse_time(value)
    return seen if seen.tzinfo else seen.replace(tzinfo=ZoneInfo(zone))


def accepted(stack: Stack, company: str, title: str) -> dict[str, Any]:
    ticket = file_and_wait(stack, company, title)
    accept(stack, ticket["id"], "simple", 1)
    stack.wait(lambda: len(stack.ours(ticket["id"], public=True)) >= 2, "the acceptance note")
    stack.settle(ticket["id"])
    return ticket


def test_1_a_refused_field_costs_only_itself_and_is_resent_once_fixed(stack: Stack) -> None:
    company = stack.company("s9-fields")
    # the team's own custom field for the resolution deadline, created as a date by mistake
    field_field(stack, "date")
    ticket = stack.file(company, "Our VAT report is missing March")
    tid = ticket["id"]
    stack.wait(lambda: stack.ours(tid, public=True), "the auto-reply")
    stack.settle(tid)
    # the helpdesk refuses null for the field, so Deskpilot leaves an unknown deadline out:
    # the auto-reply and the acceptance deadline arrived, nothing was refused
    stack.agent._call("PATCH", f"tickets/{tid}/", expect=(400,),
                      json={"custom_resolve_by": None})
    state = stack.deskpilot.ticket(tid)
    assert state is not None and state.accept_due is not None
    now = stack.agent.ticket(tid)
    assert close_to(now["due_date"], state.accept_due), (now["due_date"], state.accept_due)
    assert len(stack.ours(tid, public=True)) == 1
    assert refused_lines(stack, tid) == []

    # acceptance: the resolution deadline is refused by the misconfigured field alone
    accept(stack, tid, "simple", 1)
    stack.wait(lambda: len(stack.ours(tid, public=True)) >= 2, "the acceptance note")
    stack.wait(lambda: refused_lines(stack, tid), "the refused write in deskpilot outbox list")
    stack.settle(tid)
    state = stack.deskpilot.ticket(tid)
    assert state is not None and state.resolve_due is not None
    now = stack.agent.ticket(tid)
    assert close_to(now["due_date"], state.resolve_due), "the due date still arrived"
    assert now["custom_task_type"] == "simple" and not now.get("custom_resolve_by")
    (line,) = refused_lines(stack, tid)
    assert "HTTP 400" in line and "custom_resolve_by" in line, line
    assert "deadline resolve_due" in line, line  # only the refused deadline (issue 15)
    internal = [f["comment"] for f in stack.ours(tid, public=False)]
    assert any("deskpilot outbox resend" in c and "custom_resolve_by" in c for c in internal), \
        internal

    # the admin fixes the field; the operator resends the write
    field_field(stack, "datetime")
    row_id = line.split("\t")[0]
    out = stack.deskpilot.must("outbox", "resend", row_id)
    assert f"{CONNECTION}/{tid}: sent" in out, out
    stack.settle(tid)
    now = stack.agent.ticket(tid)
    shown = wall_time(now.get("custom_resolve_by"), "UTC")
    assert shown is not None and abs(shown - state.resolve_due) <= timedelta(seconds=60), (
        now.get("custom_resolve_by"), state.resolve_due)
    assert refused_lines(stack, tid) == []


def test_2_the_agents_resolution_survives_the_feedback_request(stack: Stack) -> None:
    company = stack.company("s10-resolution")
    ticket = accepted(stack, company, "The printer in room 4 prints blank pages")
    tid = ticket["id"]
    told = len(stack.ours(tid, public=True))
    text = "Replaced the toner cartridge; printing works again."
    resolve(stack, tid, text)
    stack.wait(lambda: len(stack.ours(tid, public=True)) > told, "the feedback request")
    stack.settle(tid)
    now = stack.agent.ticket(tid)
    assert now["status"] == RESOLVED
    assert now["resolution"] == text, now["resolution"]
    feedback = stack.ours(tid, public=True)[-1]["comment"]
    assert "1" in feedback and "5" in feedback


def test_3_every_open_ticket_of_the_company_shows_the_new_balance(stack: Stack) -> None:
    company = stack.company("s11-balance")
    tickets = [accepted(stack, company, f"Add user no. {n} to the portal") for n in (1, 2, 3)]
    ids = [t["id"] for t in tickets]
    assert stack.deskpilot.balance(company).balance == 10
    resolve(stack, ids[0], "User added.")
    stack.wait(lambda: len(stack.ours(ids[0], public=True)) >= 3, "the feedback request")
    stack.settle(*ids)
    assert stack.deskpilot.balance(company).balance == 9
    shown = {tid: stack.agent.ticket(tid)["custom_balance"] for tid in ids}
    assert shown == dict.fromkeys(ids, 9), shown


@pytest.mark.parametrize("zone", ["UTC", "Europe/Kyiv"])
def test_4_deadlines_are_the_same_instant_in_the_helpdesks_own_zone(stack: Stack,
                                                                   zone: str) -> None:
    if zone != stack.site.time_zone:
        stack.restart(zone)
    try:
        company = stack.company(f"s12-{zone.replace('/', '-').lower()}")
        ticket = file_and_wait(stack, company, f"Export the {zone} price list")
        tid = ticket["id"]
        state = stack.deskpilot.ticket(tid)
        assert state is not None and state.accept_due is not None
        now = stack.agent.ticket(tid)
        # due_date: a DateTimeField the helpdesk renders in its zone, with the offset
        assert close_to(now["due_date"], state.accept_due), (now["due_date"], state.accept_due)
        # "Accept by": the helpdesk keeps wall time of its own TIME_ZONE
        shown = wall_time(now["custom_accept_due"], zone)
        assert shown is not None and abs(shown - state.accept_due) <= timedelta(seconds=60), (
            zone, now["custom_accept_due"], state.accept_due)
        # the note: local time with the zone's usual abbreviation, the ticket as shown
        reply = stack.ours(tid, public=True)[0]["comment"]
        local = state.accept_due.astimezone(DESKPILOT_ZONE)
        assert f"({local.tzname()})" in reply and local.strftime("%H:%M") in reply, reply
        assert f"support-{tid}" in reply, reply
        assert HelpdeskAPI.filed_at(now) <= state.accept_due
    finally:
        if zone != "UTC":
            stack.restart("UTC")


def test_5_reply_and_resolve_in_one_step_is_one_client_message(stack: Stack) -> None:
    company = stack.company("s13-onestep")
    ticket = file_and_wait(stack, company, "Where is the export button")
    tid = ticket["id"]
    assert len(stack.ours(tid, public=True)) == 1
    stack.agent.follow_up(tid, "It is under Reports, Export.", public=True,
                          new_status=RESOLVED)
    stack.wait(lambda: len(stack.ours(tid, public=True)) >= 2, "the message for the resolution")
    stack.settle(tid)
    messages = [f["comment"] for f in stack.ours(tid, public=True)]
    assert len(messages) == 2, messages  # the auto-reply, then one message
    # the feedback request (90-templates.yaml, uk or en), not the "accepted" message
    last = messages[1].lower()
    assert not any(word in last for word in ("прийнято", "accepted")), messages
    assert "1" in last and "5" in last, messages
    state = stack.deskpilot.ticket(tid)
    assert state is not None and state.status == "resolved"
