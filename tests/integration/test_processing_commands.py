"""What reaches the host's outbox: notify actions as internal notes, the deferral date with
the deadlines and in the client's note, one balance push per credit change."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from plugin.context import set_context
from plugin.outbox.rows import OutboxRow
from plugin.processing.firing import fire_due_timers
from plugin.processing.models import TicketTimer, TimerKind
from plugin.processing.process import process_event
from plugin.storage.models import Ticket
from tests.jobs_support import buy, make_context, payload, store

NOW = datetime(2026, 11, 16, 14, 0, tzinfo=UTC)  # a Monday


@pytest.fixture
def ctx(db_url):
    c = make_context(db_url)
    buy(c, "acme", 20, datetime(2026, 11, 10, tzinfo=UTC))
    yield c
    set_context(None)
    c.close()


def _commands(ctx, ticket: str) -> list[dict]:
    with ctx.db.session() as s:
        rows = s.execute(select(OutboxRow.command).where(OutboxRow.ticket_id == ticket)
                         .order_by(OutboxRow.id)).scalars()
        return [dict(c) for c in rows]


def _ticket(ctx, ticket: str) -> Ticket:
    with ctx.db.session() as s:
        return s.execute(select(Ticket).where(Ticket.host_ticket_id == ticket)).scalar_one()


def _timer(ctx, ticket: str, kind: str) -> TicketTimer:
    pk = _ticket(ctx, ticket).id
    with ctx.db.session() as s:
        return s.execute(select(TicketTimer).where(TicketTimer.ticket_pk == pk,
                                                   TicketTimer.kind == kind)).scalar_one()


def _file(ctx, ticket: str, at: str) -> None:
    process_event(store(ctx, payload(ticket, "ticket.created", at, actor="client"),
                        f"{ticket}-new"), NOW)


def _internal_notes(ctx, ticket: str) -> list[str]:
    return [c["data"]["body"] for c in _commands(ctx, ticket)
            if c["type"] == "add_note" and c["data"]["visibility"] == "internal"]


def test_acceptance_overdue_notifies_once_as_an_internal_note(ctx, caplog):
    _file(ctx, "N-1", "2026-11-16T10:00:00+02:00")
    due = _timer(ctx, "N-1", TimerKind.ACCEPT_OVERDUE).due_at
    before = len(_internal_notes(ctx, "N-1"))
    with caplog.at_level(logging.INFO, logger="deskpilot.jobs"):
        assert fire_due_timers(ctx, due + timedelta(minutes=1)) == "1 fired"
    notes = _internal_notes(ctx, "N-1")[before:]
    # the automation adds the note and notifies the manager with the same text: one note
    assert len(notes) == 1 and "N-1" in notes[0], notes
    assert "jobs.notify to=admins template=acceptance_overdue" in caplog.text


def test_breach_warning_notify_becomes_an_internal_note_naming_the_recipient(ctx):
    _file(ctx, "N-2", "2026-11-16T10:00:00+02:00")
    body = payload("N-2", "ticket.updated", "2026-11-16T10:10:00+02:00", status="accepted",
                   fields={"task_type": "composite", "units": 2},
                   changes={"status": ["new", "accepted"]})
    process_event(store(ctx, body, "N-2-acc"), NOW)
    timer = _timer(ctx, "N-2", TimerKind.BREACH_WARNING)
    resolve_due = _ticket(ctx, "N-2").resolve_due
    assert resolve_due is not None and timer.due_at < resolve_due
    assert fire_due_timers(ctx, timer.due_at + timedelta(seconds=1)) == "1 fired"
    notes = [n for n in _internal_notes(ctx, "N-2") if n.startswith("[admins] ")]
    assert len(notes) == 1 and "N-2" in notes[0], _internal_notes(ctx, "N-2")


def test_deferral_date_reaches_the_host_with_deadlines_and_client_note(ctx):
    for n in range(3):
        _file(ctx, f"D-{n}", f"2026-11-16T10:0{n}:00+02:00")
    _file(ctx, "D-3", "2026-11-16T10:05:00+02:00")  # the 4th of the day: over the cap
    t = _ticket(ctx, "D-3")
    assert t.deferred_to is not None and t.deferred_to > datetime(2026, 11, 16, 9, tzinfo=UTC)
    cmds = _commands(ctx, "D-3")
    deadlines = [c["data"] for c in cmds if c["type"] == "set_deadlines"]
    assert len(deadlines) == 1
    deferred = datetime.fromisoformat(deadlines[0]["deferred_to"])
    assert deferred == t.deferred_to
    # the acceptance clock starts at the deferral, so its deadline comes after it
    assert datetime.fromisoformat(deadlines[0]["accept_due"]) > deferred
    client = [c["data"]["body"] for c in cmds
              if c["type"] == "add_note" and c["data"]["visibility"] == "client"]
    # written in the calendar's zone, as the ISO value carries it
    local = deferred.strftime("%d.%m.%Y %H:%M")
    assert any(local in body for body in client if "D-3" in body), client
    # the three before it were not deferred: their deadlines carry no deferral date
    for n in range(3):
        sent = [c["data"] for c in _commands(ctx, f"D-{n}") if c["type"] == "set_deadlines"]
        assert sent and all("deferred_to" not in d for d in sent)


def test_balance_is_pushed_once_per_credit_change_and_not_without_one(ctx):
    _file(ctx, "B-1", "2026-11-16T10:00:00+02:00")
    assert not [c for c in _commands(ctx, "B-1") if c["type"] == "set_balance"]
    body = payload("B-1", "ticket.updated", "2026-11-16T10:10:00+02:00", status="accepted",
                   fields={"task_type": "composite", "units": 2},
                   changes={"status": ["new", "accepted"]})
    process_event(store(ctx, body, "B-1-acc"), NOW)
    balances = [c["data"] for c in _commands(ctx, "B-1") if c["type"] == "set_balance"]
    assert balances == [{"company_id": "acme", "balance": 20, "reserved": 2, "available": 18}]
