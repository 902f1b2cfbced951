"""Issue 7's eight end-to-end scenarios against a real django-helpdesk 2.6.1.

The helpdesk is driven only through its REST API, as its users would; every expectation is
read back from the helpdesk (followups, ``due_date``, custom fields, status) or from the
ledger. The helpdesk stamps tickets with the real clock, so deadlines are checked relative
to the filing time it reports, computed with the same calendar functions the rules use, and
the day-based rules (auto-close) run through ``deskpilot scheduler tick --now``.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pytest
import requests

from plugin.ledger.models import EntryKind
from rules.calendar.business_time import add_working, next_open
from tests.e2e.conftest import CONNECTION, Stack
from tests.e2e.helpdesk import CLOSED, RESOLVED, HelpdeskAPI, parse_time

pytestmark = [pytest.mark.e2e, pytest.mark.redis, pytest.mark.postgres]

#: deadlines are written in whole seconds; the filing time the adapter reads may differ from
#: the one shown to the tests by the sub-second part only
SLACK = timedelta(seconds=2)


#: django-helpdesk keeps custom datetime fields as text and reads them back naive (in its
#: TIME_ZONE, UTC here) and to the minute: "2026-11-23T08:00"
FIELD_SLACK = timedelta(seconds=60)


def posted_day(t: datetime, cal: Any) -> date:
    """The calendar day, in the team calendar's zone, on which a task posted at ``t`` counts."""
    return t.astimezone(cal.tz).date()


def close_to(value: str | None, expected: datetime, slack: timedelta = SLACK) -> bool:
    if value is None:
        return False
    seen = parse_time(value)
    if seen.tzinfo is None:
        seen = seen.replace(tzinfo=UTC)
    return abs(seen - expected) <= slack


def field_close_to(value: str | None, expected: datetime) -> bool:
    """A custom datetime field as the helpdesk shows it, truncated to the minute."""
    return close_to(value, expected.replace(second=0, microsecond=0), FIELD_SLACK)


def debits(stack: Stack, company: str, ticket_id: int) -> list[Any]:
    """The ticket's debit entries in the ledger (its key is ``<connection>:<host id>``)."""
    key = f"{CONNECTION}:{ticket_id}"
    return [
        e
        for e in stack.deskpilot.ledger_entries(company)
        if e.kind == EntryKind.DEBIT and e.ticket_key == key
    ]


def file_and_wait(stack: Stack, company: str, title: str, **custom: Any) -> dict[str, Any]:
    """File a ticket and wait for Deskpilot's auto-reply, so later steps see it processed."""
    ticket = stack.file(company, title, **custom)
    stack.wait(
        lambda: stack.ours(ticket["id"], public=True), f"the auto-reply on ticket {ticket['id']}"
    )
    stack.settle(ticket["id"])
    return stack.agent.ticket(ticket["id"])


def accept(stack: Stack, ticket_id: int, task_type: str, units: int) -> None:
    """The agent states type and units (a silent PATCH) and notes it (which fires the hook)."""
    stack.agent.update_fields(ticket_id, task_type=task_type, units=units)
    stack.agent.follow_up(ticket_id, f"Taking this one: {task_type}, {units} units.")


def resolve(stack: Stack, ticket_id: int, comment: str = "Done, please check.") -> datetime:
    """The agent resolves the ticket; returns when the helpdesk recorded it."""
    followup = stack.agent.follow_up(ticket_id, comment, public=True, new_status=RESOLVED)
    return parse_time(followup["date"])


@pytest.fixture(scope="module")
def composite(stack: Stack) -> dict[str, Any]:
    """Scenario 2's ticket: filed, then accepted by the agent as composite with 2 units."""
    company = stack.company("s2-acme")
    ticket = file_and_wait(stack, company, "Rework the monthly sales report layout")
    accept(stack, ticket["id"], "composite", 2)
    stack.wait(
        lambda: len(stack.ours(ticket["id"], public=True)) >= 2,
        "the acceptance note on the composite ticket",
    )
    stack.settle(ticket["id"])
    return {"id": ticket["id"], "company": company, "filed": HelpdeskAPI.filed_at(ticket)}


def test_1_filing_posts_the_auto_reply_and_writes_the_acceptance_deadline(stack: Stack) -> None:
    company = stack.company("s1-filing")
    ticket = stack.file(company, "How do I export the price list to Excel")
    filed = HelpdeskAPI.filed_at(ticket)
    replies = stack.wait(
        lambda: stack.ours(ticket["id"], public=True), "Deskpilot's auto-reply followup"
    )
    stack.settle(ticket["id"])

    accept_due = add_working(filed, timedelta(hours=1), stack.calendar)
    now = stack.agent.ticket(ticket["id"])
    assert field_close_to(now["custom_accept_due"], accept_due), (
        now["custom_accept_due"],
        accept_due,
    )
    assert len(stack.ours(ticket["id"], public=True)) == 1, "exactly one auto-reply"
    assert str(ticket["id"]) in replies[0]["comment"]
    assert now["status"] == 1
    # SPEC §2: the resolution deadline is written on acceptance; until then the one deadline
    # the helpdesk shows (due_date) is the acceptance deadline
    assert close_to(now["due_date"], accept_due), (now["due_date"], accept_due)


def test_2_accepting_as_composite_writes_the_resolution_deadline_and_reserves_units(
    stack: Stack, composite: dict[str, Any]
) -> None:
    ticket = stack.agent.ticket(composite["id"])
    resolve_due = add_working(composite["filed"], timedelta(hours=16), stack.calendar)
    assert close_to(ticket["due_date"], resolve_due), (ticket["due_date"], resolve_due)
    public = stack.ours(composite["id"], public=True)
    assert len(public) == 2, [f["comment"] for f in public]  # auto-reply, then accepted
    assert "2" in public[1]["comment"]
    credits = stack.deskpilot.balance(composite["company"])
    assert (credits.balance, credits.reserved, credits.available) == (10, 2, 8)
    state = stack.deskpilot.ticket(composite["id"])
    assert state is not None and (state.task_type, state.units) == ("composite", 2)


def test_3_ninety_minutes_on_a_simple_ticket_suggests_retyping_without_retyping(
    stack: Stack,
) -> None:
    company = stack.company("s3-globex")
    ticket = file_and_wait(stack, company, "Question about the discount settings")
    tid = ticket["id"]
    accept(stack, tid, "simple", 1)
    stack.wait(lambda: len(stack.ours(tid, public=True)) >= 2, "the acceptance note")
    stack.settle(tid)
    told = stack.ours(tid, public=True)

    stack.agent.follow_up(tid, "Walked the client through the settings.", minutes=90)
    notes = stack.wait(lambda: stack.ours(tid, public=False), "an internal re-type suggestion")
    stack.settle(tid)

    assert len(notes) == 1 and not notes[0]["public"]
    assert "1.5" in notes[0]["comment"] or "1,5" in notes[0]["comment"], notes[0]["comment"]
    now = stack.agent.ticket(tid)
    assert (now["custom_task_type"], now["custom_units"]) == ("simple", 1)
    # no re-typing, so nothing new for the client (the re-type rule is opt-in)
    assert stack.ours(tid, public=True) == told
    state = stack.deskpilot.ticket(tid)
    assert state is not None and (state.task_type, state.units) == ("simple", 1)


def test_4_resolving_the_composite_debits_once_and_asks_for_feedback(
    stack: Stack, composite: dict[str, Any]
) -> None:
    ticket_id, company = composite["id"], composite["company"]
    before = len(stack.ours(ticket_id, public=True))
    resolve(stack, ticket_id, "The new layout is live.")
    stack.wait(
        lambda: len(stack.ours(ticket_id, public=True)) > before, "the feedback-request followup"
    )
    stack.settle(ticket_id)

    taken = debits(stack, company, ticket_id)
    assert [e.units for e in taken] == [-2], taken
    credits = stack.deskpilot.balance(company)
    assert (credits.balance, credits.reserved, credits.available) == (8, 0, 8)
    now = stack.agent.ticket(ticket_id)
    assert now["status"] == RESOLVED
    assert now["custom_balance"] == 8
    assert len(stack.ours(ticket_id, public=True)) == before + 1


def test_5_the_fourth_ticket_of_the_day_is_deferred_but_a_bug_is_not(stack: Stack) -> None:
    company = stack.company("s5-initech")
    cal = stack.calendar
    tickets = [
        file_and_wait(stack, company, f"Please update the contract template no. {n}")
        for n in range(1, 5)
    ]
    days = [posted_day(HelpdeskAPI.filed_at(t), cal) for t in tickets]
    # The cap counts by the calendar day each task was posted on, in the team calendar's
    # zone (seed 001, issue 17); four tickets filed within seconds share it unless midnight
    # passed in between, which the expectation follows.
    expect_deferred = days[3] == days[0]
    fourth = tickets[3]
    if expect_deferred:
        stack.wait(lambda: len(stack.ours(fourth["id"], public=True)) >= 2, "the deferral note")
    stack.settle(*(t["id"] for t in tickets))

    for t in tickets[:3]:
        assert len(stack.ours(t["id"], public=True)) == 1, "no deferral under the cap"
    state = stack.deskpilot.ticket(fourth["id"])
    assert state is not None
    if expect_deferred:
        # the clock starts on the next working day after the posting day (its slot is free:
        # a fresh company) — Monday for tickets posted on a Saturday
        midnight = datetime.combine(days[3] + timedelta(days=1), time(0), tzinfo=cal.tz)
        deferred_to = next_open(midnight, cal)
        assert state.deferred_to is not None and abs(state.deferred_to - deferred_to) <= SLACK
        notes = stack.ours(fourth["id"], public=True)
        assert len(notes) == 2, [n["comment"] for n in notes]
        now = stack.agent.ticket(fourth["id"])
        assert field_close_to(
            now["custom_accept_due"], add_working(deferred_to, timedelta(hours=1), cal)
        )
    else:
        assert state.deferred_to is None

    bug = file_and_wait(stack, company, "Checkout is not working for all users")
    bug_state = stack.deskpilot.ticket(bug["id"])
    assert bug_state is not None and bug_state.task_type == "bug"
    assert bug_state.deferred_to is None
    assert len(stack.ours(bug["id"], public=True)) == 1, "a bug gets no deferral note"
    bug_filed = HelpdeskAPI.filed_at(bug)
    now = stack.agent.ticket(bug["id"])
    assert field_close_to(now["custom_accept_due"], add_working(bug_filed, timedelta(hours=1), cal))
    if posted_day(bug_filed, cal) == days[0]:
        # over the cap: flagged internally, never deferred
        assert len(stack.ours(bug["id"], public=False)) == 1


def test_6_a_resolved_ticket_without_client_reply_auto_closes_after_5_days(stack: Stack) -> None:
    company = stack.company("s6-umbrella")
    ticket = file_and_wait(stack, company, "Add a colleague to our account")
    tid = ticket["id"]
    resolved_at = resolve(stack, tid, "Added, the invitation is on its way.")
    stack.wait(lambda: len(stack.ours(tid, public=True)) >= 2, "the feedback request")
    stack.settle(tid)
    assert len(debits(stack, company, tid)) == 1

    stack.tick(resolved_at + timedelta(days=4, hours=23))
    stack.settle(tid)
    assert stack.agent.ticket(tid)["status"] == RESOLVED, "closed a day early"

    told = stack.ours(tid, public=True)
    stack.tick(resolved_at + timedelta(days=5, minutes=1))
    stack.wait(lambda: stack.agent.ticket(tid)["status"] == CLOSED, "the ticket to be closed")
    stack.settle(tid)
    closed = stack.ours(tid, public=True)
    assert len(closed) == len(told) + 1, "the client is told once that the ticket closed"

    stack.tick(resolved_at + timedelta(days=6))
    stack.settle(tid)
    assert [e.units for e in debits(stack, company, tid)] == [-1]
    assert stack.ours(tid, public=True) == closed
    assert stack.deskpilot.balance(company).balance == 9


def test_7_redelivered_webhooks_and_our_own_echoes_change_nothing(stack: Stack) -> None:
    company = stack.company("s7-hooli")
    ticket = file_and_wait(stack, company, "Change the invoice e-mail address")
    tid = ticket["id"]
    resolve(stack, tid)
    stack.wait(lambda: len(stack.ours(tid, public=True)) >= 2, "the feedback request")
    stack.settle(tid)
    ours_before = stack.ours(tid)
    events = stack.deskpilot.events(tid)

    # every webhook the helpdesk sent for this ticket, delivered again byte for byte
    for row in events:
        resp = requests.post(
            stack.webhook_url,
            data=row.body,
            headers={"Content-Type": "application/json"},
            timeout=10,
        )
        assert resp.status_code == 200, resp.text
        assert resp.json()["status"] == "duplicate", resp.json()
    stack.settle(tid)

    assert len(stack.deskpilot.events(tid)) == len(events)
    assert [e.units for e in debits(stack, company, tid)] == [-1]
    assert stack.ours(tid) == ours_before
    # our own followups came back as webhooks and were recognised, not processed
    mine = {f["id"] for f in ours_before}
    echoes = [row for row in events if json.loads(row.body).get("followup_id") in mine]
    assert len(echoes) == len(mine) >= 2
    assert {row.state for row in echoes} == {"ignored"}


def test_8_host_outage_is_retried_and_a_missed_webhook_is_reconciled(stack: Stack) -> None:
    company = stack.company("s8-stark")
    # (a) the helpdesk API answers 500 for a while: the push is retried until it lands
    mark = stack.relay.mark()
    stack.relay.fail_next(3)
    ticket = stack.file(company, "Set up the new warehouse in the catalogue")
    tid = ticket["id"]
    stack.wait(
        lambda: stack.ours(tid, public=True), "the auto-reply after the helpdesk recovered", 90
    )
    stack.settle(tid, timeout=60)
    seen = stack.relay.requests_since(mark)
    assert sum(s.injected for s in seen) == 3
    assert any(not s.injected and s.status < 300 for s in seen)
    assert len(stack.ours(tid, public=True)) == 1, "the note is written exactly once"
    assert field_close_to(
        stack.agent.ticket(tid)["custom_accept_due"],
        add_working(HelpdeskAPI.filed_at(ticket), timedelta(hours=1), stack.calendar),
    )

    # (b) the receiver is down while a client files and the agent resolves: the helpdesk
    # keeps both (and answers its caller 500, its synchronous webhook having failed)
    told = stack.ours(tid)
    stack.receiver.stop()
    try:
        stack.agent.file_ticket(
            stack.queue, "Import last year's orders", f"cto@{company}", expect=(500,)
        )
        stack.agent.follow_up(
            tid, "Warehouse added.", public=True, new_status=RESOLVED, expect=(500,)
        )
    finally:
        stack.receiver.start()
    missed = [
        t for t in stack.agent.tickets(status="1") if t["title"] == "Import last year's orders"
    ]
    assert len(missed) == 1
    mid = missed[0]["id"]
    assert stack.agent.ticket(tid)["status"] == RESOLVED

    # reconciliation turns both differences into events
    stack.deskpilot.must("hosts", "reconcile", "helpdesk")
    stack.wait(lambda: stack.ours(mid, public=True), "the auto-reply on the reconciled ticket")
    stack.wait(lambda: len(stack.ours(tid)) > len(told), "the reconciled feedback request")
    stack.settle(tid, mid)
    now = stack.agent.ticket(mid)
    assert field_close_to(
        now["custom_accept_due"],
        add_working(HelpdeskAPI.filed_at(missed[0]), timedelta(hours=1), stack.calendar),
    )
    assert [e.units for e in debits(stack, company, tid)] == [-1]

    reconciled = stack.ours(tid) + stack.ours(mid)
    assert len({f["comment"] for f in reconciled}) == len(reconciled), "a note written twice"

    # a second reconciliation finds nothing new
    stack.deskpilot.must("hosts", "reconcile", "helpdesk")
    stack.settle(tid, mid)
    assert stack.ours(tid) + stack.ours(mid) == reconciled
    assert [e.units for e in debits(stack, company, tid)] == [-1]

    # (c) the same without an operator: the scheduler's own reconcile task finds a miss
    stack.receiver.stop()
    try:
        stack.agent.file_ticket(
            stack.queue, "Archive the 2025 price lists", f"cfo@{company}", expect=(500,)
        )
    finally:
        stack.receiver.start()
    (late,) = [
        t for t in stack.agent.tickets(status="1") if t["title"] == "Archive the 2025 price lists"
    ]
    stack.deskpilot.reconcile_due_now(CONNECTION)
    ticked = stack.tick(datetime.now(UTC))
    assert "reconcile: failed" not in ticked, ticked
    stack.wait(lambda: stack.ours(late["id"], public=True), "the scheduler's reconciliation")
    stack.settle(late["id"])
    assert len(stack.ours(late["id"], public=True)) == 1
