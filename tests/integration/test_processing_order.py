"""Processing: late deliveries, idempotent re-runs, one transaction, the loop guard."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from plugin.ledger.models import CreditEntry
from plugin.outbox.rows import OutboxRow
from plugin.processing import apply as apply_mod
from plugin.processing.process import process_event
from plugin.storage.models import Event, EventState, Ticket
from tests.jobs_support import buy, make_context, payload, store

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)  # 14:00 Kyiv, after every event below


def _count(ctx, model) -> int:
    with ctx.db.session() as s:
        return int(s.execute(select(func.count()).select_from(model)).scalar_one())


def _ticket(ctx, host_id: str = "T-1") -> Ticket:
    with ctx.db.session() as s:
        return s.execute(select(Ticket).where(Ticket.host_ticket_id == host_id)).scalar_one()


@pytest.fixture
def ctx(db_url):
    c = make_context(db_url)
    buy(c, "acme", 10, datetime(2026, 11, 20, tzinfo=UTC))
    yield c
    c.close()


def test_late_delivery_does_not_regress_status_or_deadlines(ctx):
    created = store(ctx, payload("T-1", "ticket.created", "2026-11-23T10:00:00+02:00",
                                 actor="client"), "d1")
    accepted = store(ctx, payload("T-1", "ticket.updated", "2026-11-23T10:20:00+02:00",
                                  status="accepted", fields={"task_type": "composite",
                                                             "units": 2},
                                  changes={"status": ["new", "accepted"]}), "d2")
    resolved = store(ctx, payload("T-1", "ticket.updated", "2026-11-23T11:30:00+02:00",
                                  status="resolved", fields={"task_type": "composite",
                                                             "units": 2},
                                  changes={"status": ["accepted", "resolved"]}), "d3")
    process_event(created, NOW)
    process_event(accepted, NOW)
    process_event(resolved, NOW)
    before = _ticket(ctx)
    assert before.status == "resolved"
    # the acceptance delivered again under another delivery id, late: older than the last
    late = store(ctx, payload("T-1", "ticket.updated", "2026-11-23T10:20:00+02:00",
                              status="accepted", fields={"task_type": "composite", "units": 2},
                              changes={"status": ["new", "accepted"]}), "d2-again")
    assert process_event(late, NOW) == EventState.PROCESSED
    after = _ticket(ctx)
    assert after.status == "resolved"
    assert after.resolve_due == before.resolve_due
    assert after.last_event_at == before.last_event_at
    with ctx.db.session() as s:
        debits = s.execute(select(CreditEntry.units).where(CreditEntry.kind == "debit")).all()
    assert [tuple(d) for d in debits] == [(-2,)]


def test_out_of_order_processing_orders_by_occurred_at(ctx):
    created = store(ctx, payload("T-2", "ticket.created", "2026-11-23T10:00:00+02:00",
                                 actor="client"), "o1")
    resolved = store(ctx, payload("T-2", "ticket.updated", "2026-11-23T11:00:00+02:00",
                                  status="resolved", changes={"status": ["new", "resolved"]}),
                     "o2")
    process_event(resolved, NOW)  # the later event is processed first
    process_event(created, NOW)
    t = _ticket(ctx, "T-2")
    assert t.status == "resolved"
    assert t.filed_at is not None


def test_rerun_of_processed_event_is_a_noop(ctx):
    eid = store(ctx, payload("T-3", "ticket.updated", "2026-11-23T10:20:00+02:00",
                             status="accepted", changes={"status": ["new", "accepted"]}), "r1")
    assert process_event(eid, NOW) == EventState.PROCESSED
    rows, entries = _count(ctx, OutboxRow), _count(ctx, CreditEntry)
    assert rows > 0 and entries >= 2  # purchase + reserve
    assert process_event(eid, NOW) == EventState.PROCESSED
    # even forced back to queued, the same keys write nothing twice
    with ctx.db.session() as s:
        s.get(Event, eid).state = EventState.QUEUED
    process_event(eid, NOW)
    assert (_count(ctx, OutboxRow), _count(ctx, CreditEntry)) == (rows, entries)


def test_created_event_of_a_known_ticket_updates_the_same_row(ctx):
    """``ticket.created`` inserts first; a ticket already there (imported, or the same event
    redelivered under another delivery id) is locked and updated, never duplicated."""
    accepted = store(ctx, payload("T-4", "ticket.updated", "2026-11-23T10:20:00+02:00",
                                  status="accepted", changes={"status": ["new", "accepted"]}),
                     "k1")
    assert process_event(accepted, NOW) == EventState.PROCESSED
    first = _ticket(ctx, "T-4")
    timers = first.facts["timers"]
    again = store(ctx, payload("T-4", "ticket.created", "2026-11-23T10:00:00+02:00",
                               actor="client", status="new"), "k2")
    assert process_event(again, NOW) == EventState.PROCESSED
    assert _count(ctx, Ticket) == 1
    row = _ticket(ctx, "T-4")
    assert row.id == first.id and row.status == "accepted"  # late: the snapshot stays newer
    assert row.facts["timers"] == timers


def test_failure_after_ledger_step_commits_nothing(ctx, monkeypatch):
    eid = store(ctx, payload("T-4", "ticket.updated", "2026-11-23T10:20:00+02:00",
                             status="accepted", changes={"status": ["new", "accepted"]}), "f1")
    entries = _count(ctx, CreditEntry)

    def boom(*args, **kwargs):
        raise RuntimeError("outbox write failed")

    monkeypatch.setattr(apply_mod, "add_commands", boom)
    with pytest.raises(RuntimeError, match="outbox write failed"):
        process_event(eid, NOW)
    assert _count(ctx, CreditEntry) == entries
    assert _count(ctx, Ticket) == 0
    with ctx.db.session() as s:
        row = s.get(Event, eid)
        assert (row.state, row.attempts) == (EventState.QUEUED, 0)
    monkeypatch.undo()
    assert process_event(eid, NOW) == EventState.PROCESSED
    assert _count(ctx, CreditEntry) == entries + 1


def test_own_write_is_not_processed(ctx):
    body = payload("T-5", "ticket.updated", "2026-11-23T10:20:00+02:00", status="accepted",
                   changes={"status": ["new", "accepted"]})
    body["actor"] = {"kind": "plugin", "id": "deskpilot"}
    eid = store(ctx, body, "own1")
    assert process_event(eid, NOW) == EventState.IGNORED
    assert (_count(ctx, Ticket), _count(ctx, OutboxRow)) == (0, 0)
