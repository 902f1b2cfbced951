"""End-to-end scenarios against a real Redmine 5.0 (Debian bookworm) with our plugin.

Redmine is driven only through its REST API, as its users drive it: clients file issues in
their company's project, the agent sets fields, writes notes, logs time and changes statuses.
Deskpilot learns of it through the deskpilot_webhooks plugin (Redmine 7 format, signed) or,
for the ``poll`` project the plugin leaves out, through ``deskpilot hosts reconcile``.
Every expectation is read back from Redmine (journals, custom fields, ``due_date``, status)
or from the ledger. Redmine stamps issues with the real clock, so deadlines are computed
from the ``created_on`` it reports with the calendar functions the rules use.
"""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import requests

from plugin.ledger.models import EntryKind
from rules.calendar.business_time import add_working
from tests.e2e.redmine.api import parse_time
from tests.e2e.redmine.conftest import CONNECTION, RedmineStack

pytestmark = [pytest.mark.e2e, pytest.mark.redis, pytest.mark.postgres]

KYIV = ZoneInfo("Europe/Kyiv")
SLACK = timedelta(seconds=2)


def close_to(value: str | None, expected: datetime) -> bool:
    """A deadline custom field (ISO 8601 text with offset) within SLACK of ``expected``."""
    if not value:
        return False
    return abs(datetime.fromisoformat(value) - expected) <= SLACK


def due_date_of(deadline: datetime) -> str:
    """``due_date`` holds the deadline's date in the installation's time zone."""
    return deadline.astimezone(KYIV).date().isoformat()


def debits(stack: RedmineStack, company: str, issue_id: int) -> list[Any]:
    key = f"{CONNECTION}:{issue_id}"
    return [e for e in stack.deskpilot.ledger_entries(company)
            if e.kind == EntryKind.DEBIT and e.ticket_key == key]


def explain(stack: RedmineStack, company: str, issue_id: int) -> str:
    """The ledger, the stored events and the ticket's facts, for a failing assertion."""
    state = stack.deskpilot.ticket(issue_id)
    return "\n".join([
        *(f"ledger {e.kind} {e.units} {e.ticket_key}" for e in
          stack.deskpilot.ledger_entries(company)),
        *(f"event {e.id} {e.state} {e.body[:300]!r}" for e in stack.deskpilot.events(issue_id)),
        f"facts {state.facts if state else None}",
    ])


def funded(stack: RedmineStack, ident: str) -> str:
    """The company's id; its package of 10 tasks was bought when the stack started."""
    company = stack.company(ident)
    assert stack.deskpilot.ledger_entries(company), f"no package bought for {company}"
    return company


def file_and_wait(stack: RedmineStack, ident: str, subject: str) -> dict[str, Any]:
    issue = stack.file(ident, subject)
    stack.wait(lambda: stack.ours(issue["id"], private=False), f"the auto-reply on #{issue['id']}")
    stack.settle(issue["id"])
    return stack.agent.issue(issue["id"])


@pytest.fixture(scope="module")
def composite(rm_stack: RedmineStack) -> dict[str, Any]:
    """Filed by Acme's client, accepted by the agent as composite with 2 units."""
    stack = rm_stack
    company = funded(stack, "acme")
    issue = file_and_wait(stack, "acme", "Rework the monthly sales report layout")
    stack.agent.update(issue["id"], notes="Taking this one: composite, 2 units.",
                       status_id=stack.status("in_progress"), task_type="composite", units=2)
    stack.wait(lambda: len(stack.ours(issue["id"], private=False)) >= 2,
               "the acceptance note on the composite issue")
    stack.settle(issue["id"])
    return {"id": issue["id"], "company": company, "filed": parse_time(issue["created_on"])}


def test_1_filing_writes_the_acceptance_deadline_the_type_and_the_auto_reply(
    rm_stack: RedmineStack,
) -> None:
    stack = rm_stack
    funded(stack, "filing")
    issue = stack.file("filing", "Checkout is not working for all users",
                       "Since this morning nobody can pay.")
    iid = issue["id"]
    replies = stack.wait(lambda: stack.ours(iid, private=False), "Deskpilot's auto-reply note")
    stack.settle(iid)

    filed = parse_time(issue["created_on"])
    accept_due = add_working(filed, timedelta(hours=1), stack.calendar)
    now = stack.agent.issue(iid)
    assert close_to(stack.agent.field(now, "accept_due"), accept_due), (
        stack.agent.field(now, "accept_due"), accept_due)
    # until acceptance the date Redmine shows is the acceptance deadline's
    assert now["due_date"] == due_date_of(accept_due)
    assert stack.agent.field(now, "task_type") == "bug"
    assert len(replies) == 1 and str(iid) in replies[0]["notes"]
    assert now["status"]["id"] == stack.status("new")
    # the client sees the auto-reply (a public note)
    seen = [j for j in stack.client("filing").journals(iid) if j["user"]["id"] == stack.bot_id]
    # (the field writes go in a PUT of their own after the note, issue 15: their journal
    # carries details only, no text)
    assert [j["id"] for j in seen if j.get("notes")] == [replies[0]["id"]]
    # Deskpilot's own write carried X-Skip-Webhooks: nothing came back for it (the events
    # are the plugin's issue.created and any scheduler poll's snapshot, never our journal)
    events = [json.loads(e.body) for e in stack.deskpilot.events(iid)]
    assert events[0]["type"] == "issue.created"
    assert all("journal" not in e["data"] for e in events), events


def test_2_accepting_as_composite_writes_the_resolution_deadline_and_reserves_units(
    rm_stack: RedmineStack, composite: dict[str, Any],
) -> None:
    stack = rm_stack
    now = stack.agent.issue(composite["id"])
    resolve_due = add_working(composite["filed"], timedelta(hours=16), stack.calendar)
    assert close_to(stack.agent.field(now, "resolve_due"), resolve_due), (
        stack.agent.field(now, "resolve_due"), resolve_due)
    assert now["due_date"] == due_date_of(resolve_due)
    public = stack.ours(composite["id"], private=False)
    assert len(public) == 2, [j["notes"] for j in public]  # auto-reply, then accepted
    assert "2" in public[1]["notes"]
    credits = stack.deskpilot.balance(composite["company"])
    assert (credits.balance, credits.reserved, credits.available) == (10, 2, 8), explain(
        stack, composite["company"], composite["id"])
    state = stack.deskpilot.ticket(composite["id"])
    assert state is not None and (state.task_type, state.units) == ("composite", 2)


def test_3_logged_time_is_counted_once_and_the_private_note_stays_private(
    rm_stack: RedmineStack,
) -> None:
    stack = rm_stack
    funded(stack, "globex")
    issue = file_and_wait(stack, "globex", "Question about the discount settings")
    iid = issue["id"]
    stack.agent.update(iid, notes="Taking this one.", status_id=stack.status("in_progress"),
                       task_type="simple", units=1)
    stack.wait(lambda: len(stack.ours(iid, private=False)) >= 2, "the acceptance note")
    stack.settle(iid)
    told = stack.ours(iid, private=False)

    entry = stack.agent.log_time(iid, 1.5, "Walked the client through the settings.")
    notes = stack.wait(lambda: stack.ours(iid, private=True), "an internal re-type suggestion")
    stack.settle(iid)
    assert len(notes) == 1 and notes[0]["private_notes"] is True
    assert "1.5" in notes[0]["notes"] or "1,5" in notes[0]["notes"], notes[0]["notes"]

    # the time entry's webhook again, byte for byte: a duplicate, nothing counted twice
    (logged,) = [e for e in stack.deskpilot.events(iid)
                 if json.loads(e.body)["type"] == "time_entry.created"]
    assert json.loads(logged.body)["data"]["time_entry"]["id"] == entry["id"]
    resp = stack.deliver(logged.body)
    assert resp.status_code == 200 and resp.json()["status"] == "duplicate", resp.text
    stack.settle(iid)
    assert stack.ours(iid, private=True) == notes
    state = stack.deskpilot.ticket(iid)
    assert state is not None and state.facts["state"]["logged_minutes"] == 90, state.facts

    # the client never sees the internal note; the agent does, marked private
    client_view = stack.client("globex").journals(iid)
    assert notes[0]["id"] not in {j["id"] for j in client_view}
    assert all(not j["private_notes"] for j in client_view)
    assert stack.ours(iid, private=False) == told
    now = stack.agent.issue(iid)
    assert (stack.agent.field(now, "task_type"), stack.agent.field(now, "units")) == ("simple", "1")


def test_4_resolving_debits_once_updates_the_balance_field_and_asks_for_feedback(
    rm_stack: RedmineStack, composite: dict[str, Any],
) -> None:
    stack = rm_stack
    iid, company = composite["id"], composite["company"]
    before = len(stack.ours(iid, private=False))
    stack.agent.update(iid, notes="The new layout is live.", status_id=stack.status("resolved"))
    stack.wait(lambda: len(stack.ours(iid, private=False)) > before, "the feedback request note")
    stack.settle(iid)

    assert [e.units for e in debits(stack, company, iid)] == [-2]
    credits = stack.deskpilot.balance(company)
    assert (credits.balance, credits.reserved, credits.available) == (8, 0, 8)
    now = stack.agent.issue(iid)
    assert now["status"]["id"] == stack.status("resolved")
    assert stack.agent.field(now, "balance") == "8"
    assert len(stack.ours(iid, private=False)) == before + 1
    # what the client reads (the shipped template, the installation's language: uk)
    feedback = stack.ours(iid, private=False)[-1]["notes"]
    assert feedback == (f"Задачу #{iid} виконано. Оцініть, будь ласка, нашу роботу від 1 до 5"
                        " — це допоможе нам ставати кращими."), feedback


def test_5_redelivered_webhooks_and_our_own_writes_never_come_back_as_work(
    rm_stack: RedmineStack, composite: dict[str, Any],
) -> None:
    stack = rm_stack
    iid, company = composite["id"], composite["company"]
    ours = stack.ours(iid)
    events = stack.deskpilot.events(iid)
    # nothing Deskpilot wrote came back: every stored journal is the agent's or the client's
    journal_users = {json.loads(e.body)["data"].get("journal", {}).get("user", {}).get("id")
                     for e in events}
    assert stack.bot_id not in journal_users
    assert {j["id"] for j in ours}.isdisjoint(
        {json.loads(e.body)["data"].get("journal", {}).get("id") for e in events})
    for row in events:
        resp = stack.deliver(row.body)
        assert resp.status_code == 200 and resp.json()["status"] == "duplicate", resp.text
    stack.settle(iid)
    assert len(stack.deskpilot.events(iid)) == len(events)
    assert [e.units for e in debits(stack, company, iid)] == [-2]
    assert stack.ours(iid) == ours

    # a forged body (no valid signature) is refused
    resp = requests.post(stack.webhook_url, data=events[0].body, timeout=10, headers={
        "Content-Type": "application/json", "X-Redmine-Signature-256": "sha256=" + "0" * 64})
    assert resp.status_code == 401, resp.text


def test_6_the_poll_path_files_accepts_and_resolves_without_the_plugin(
    rm_stack: RedmineStack,
) -> None:
    stack = rm_stack
    company = funded(stack, "poll")
    issue = stack.file("poll", "Import last year's orders")
    iid = issue["id"]

    stack.deskpilot.must("hosts", "reconcile", CONNECTION)
    replies = stack.wait(lambda: stack.ours(iid, private=False), "the auto-reply after a poll")
    stack.settle(iid)
    filed = parse_time(issue["created_on"])
    now = stack.agent.issue(iid)
    assert close_to(stack.agent.field(now, "accept_due"),
                    add_working(filed, timedelta(hours=1), stack.calendar))

    # a second poll finds nothing new: no second auto-reply
    stack.deskpilot.must("hosts", "reconcile", CONNECTION)
    stack.settle(iid)
    assert stack.ours(iid, private=False) == replies

    stack.agent.update(iid, notes="Imported.", status_id=stack.status("resolved"),
                       task_type="simple", units=1)
    stack.agent.log_time(iid, 0.5, "the import")
    stack.deskpilot.must("hosts", "reconcile", CONNECTION)
    stack.wait(lambda: len(debits(stack, company, iid)) == 1, "the debit after a poll")
    stack.settle(iid)
    stack.deskpilot.must("hosts", "reconcile", CONNECTION)
    stack.settle(iid)
    assert [e.units for e in debits(stack, company, iid)] == [-1]
    assert stack.agent.field(stack.agent.issue(iid), "balance") == "9"
    # the time entry was polled too, and counted once over two polls
    state = stack.deskpilot.ticket(iid)
    assert state is not None and state.facts["state"]["logged_minutes"] == 30, state.facts


def test_7_the_plugin_retries_while_deskpilot_is_down(rm_stack: RedmineStack) -> None:
    stack = rm_stack
    funded(stack, "hooli")
    stack.receiver.stop()
    try:
        # Redmine answers its user at once: the plugin posts from its own thread
        started = datetime.now().astimezone()
        issue = stack.file("hooli", "Change the invoice e-mail address")
        assert datetime.now().astimezone() - started < timedelta(seconds=5)
    finally:
        stack.receiver.start()
    # the plugin's next attempt (2 s, then 10 s later) reaches the receiver
    stack.wait(lambda: stack.ours(issue["id"], private=False), "the auto-reply after a retry", 60)
    stack.settle(issue["id"])
    assert len(stack.deskpilot.events(issue["id"])) == 1


def test_8_a_refused_write_costs_only_itself(rm_stack: RedmineStack) -> None:
    """The company's dedicated manager is no member of its project: Redmine refuses the
    assignment (422 "Assignee is invalid"); the auto-reply and the deadlines still land."""
    from sqlalchemy import update

    from plugin.storage.models import Company

    stack = rm_stack
    company = funded(stack, "strict")
    with stack.deskpilot.db.session() as session:
        session.execute(update(Company).where(Company.id == company).values(
            manager=str(stack.seed["users"]["client-acme"]["id"])))
        session.commit()
    issue = stack.file("strict", "Add a colleague to our account")
    iid = issue["id"]
    stack.wait(lambda: stack.ours(iid, private=False), "the auto-reply despite the refusal")
    stack.settle(iid)
    now = stack.agent.issue(iid)
    assert now.get("assigned_to") is None
    filed = parse_time(issue["created_on"])
    assert close_to(stack.agent.field(now, "accept_due"),
                    add_working(filed, timedelta(hours=1), stack.calendar))
    assert len(stack.ours(iid, private=False)) == 1
    # recorded for the admin: what was refused, Redmine's status and its own words
    refused = [json.loads(line) for line in
               stack.deskpilot.must("outbox", "list", "--json").splitlines() if line.strip()]
    mine = [r for r in refused if r["ticket_id"] == str(iid)]
    assert len(mine) == 1, refused
    assert mine[0]["host_status"] == 422 and "Assignee is invalid" in mine[0]["host_message"], mine
    # the refusal does not hold up the ticket's later writes
    stack.agent.update(iid, notes="Taking this one.", status_id=stack.status("in_progress"),
                       task_type="simple", units=1)
    stack.wait(lambda: len(stack.ours(iid, private=False)) >= 2, "the acceptance note")
    stack.settle(iid)
    assert stack.deskpilot.balance(company).reserved == 1


def test_9_redmine_refuses_what_it_cannot_store_with_422_and_errors(
    rm_stack: RedmineStack,
) -> None:
    """The facts the README states about writes Redmine refuses."""
    stack = rm_stack
    issue = stack.file("filing", "Prices are shown without VAT")
    iid = issue["id"]
    bad_int = stack.agent.update(iid, (422,), units="two")
    assert bad_int.json() == {"errors": ["Units is not a number"]}
    with_time = stack.agent.call("PUT", f"/issues/{iid}.json", (422,),
                                 json={"issue": {"due_date": "2026-12-07T17:00:00+02:00"}})
    assert with_time.json() == {"errors": ["Due date is not a valid date"]}
    assert date.fromisoformat("2026-12-07")  # the form due_date takes
    stack.settle(iid)


def test_10_corrected_and_deleted_time_and_a_deleted_issue_arrive_as_such(
    rm_stack: RedmineStack,
) -> None:
    """time_entry.updated/deleted and issue.deleted from the plugin, on the real payloads."""
    stack = rm_stack
    company = funded(stack, "globex")
    issue = file_and_wait(stack, "globex", "Update the delivery terms page")
    iid = issue["id"]
    stack.agent.update(iid, notes="On it.", status_id=stack.status("in_progress"),
                       task_type="simple", units=1)
    stack.wait(lambda: len(stack.ours(iid, private=False)) >= 2, "the acceptance note")
    stack.settle(iid)
    reserved = stack.deskpilot.balance(company).reserved

    def logged() -> int:
        state = stack.deskpilot.ticket(iid)
        return int(state.facts["state"].get("logged_minutes") or 0) if state else 0

    entry = stack.agent.log_time(iid, 0.5, "first look")
    stack.wait(lambda: logged() == 30 or None, "30 logged minutes")
    stack.agent.call("PUT", f"/time_entries/{entry['id']}.json", (204,),
                     json={"time_entry": {"hours": 0.75}})
    stack.wait(lambda: logged() == 45 or None, "the corrected 45 minutes")
    stack.agent.call("DELETE", f"/time_entries/{entry['id']}.json", (204,))
    stack.wait(lambda: logged() == 0 or None, "the deleted entry taken back")
    stack.settle(iid)
    kinds = [json.loads(e.body)["type"] for e in stack.deskpilot.events(iid)]
    assert kinds.count("time_entry.updated") == 1 and kinds.count("time_entry.deleted") == 1

    # an administrator deletes the issue: its reservation is released
    stack.admin.call("DELETE", f"/issues/{iid}.json", (204,))
    stack.wait(lambda: stack.deskpilot.balance(company).reserved == reserved - 1 or None,
               "the reservation released by issue.deleted")
    stack.settle(iid)
    assert "issue.deleted" in [json.loads(e.body)["type"] for e in stack.deskpilot.events(iid)]


def test_11_an_agents_private_note_is_no_first_response_a_public_one_is(
    rm_stack: RedmineStack,
) -> None:
    """The plugin's ``private_notes`` on a real journal: the agent's private note to a colleague
    is internal (the client never sees it, and it is no first response); the public reply is."""
    stack = rm_stack
    funded(stack, "globex")
    issue = file_and_wait(stack, "globex", "The export misses the VAT column")
    iid = issue["id"]
    events = len(stack.deskpilot.events(iid))
    stack.agent.update(iid, notes="Colleagues: the export job was changed on Friday.",
                       private=True)
    stack.wait(lambda: len(stack.deskpilot.events(iid)) > events or None,
               "the private note's webhook")
    stack.settle(iid)
    (body,) = [json.loads(e.body) for e in stack.deskpilot.events(iid)[events:]]
    assert body["data"]["journal"]["private_notes"] is True, body
    state = stack.deskpilot.ticket(iid)
    assert state is not None and state.facts["state"].get("first_response_at") is None, state.facts
    assert all(not j["private_notes"] for j in stack.client("globex").journals(iid))

    stack.agent.update(iid, notes="We are looking at the export now.")
    stack.wait(lambda: (stack.deskpilot.ticket(iid).facts["state"]  # type: ignore[union-attr]
                        .get("first_response_at")) or None, "the public reply's first response")
    stack.settle(iid)
