"""Issue 15: after a debit every open ticket of the company that shows the balance gets the
new one (coalesced per ticket), through the real path (event → rules → ledger → outbox →
push), not only the ticket whose event changed it."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from plugin.context import set_context
from plugin.outbox.push import push_ticket
from plugin.outbox.rows import OutboxRow, OutboxState
from plugin.processing.process import process_event
from tests.jobs_support import SECRET, FakeClient, buy, connections_context, payload, store

NOW = datetime(2026, 11, 16, 12, 0, tzinfo=UTC)


def _ctx(db_url: str, field_map: dict[str, str]):
    ctx = connections_context(db_url, [{
        "name": "generic", "kind": "generic", "webhook_secrets": [SECRET],
        "field_map": field_map, "inline_push": True}])
    buy(ctx, "acme", 10, datetime(2026, 11, 10, tzinfo=UTC))
    return ctx


def _accept(ctx, ticket: str, n: int) -> None:
    eid = store(ctx, payload(ticket, "ticket.updated", f"2026-11-16T10:{20 + n}:00+02:00",
                             status="accepted", changes={"status": ["new", "accepted"]}),
                f"a-{ticket}")
    process_event(eid, NOW)


def _balances(client: FakeClient) -> dict[str, list[int]]:
    out: dict[str, list[int]] = {}
    for ticket_id, cmds, _ in client.pushes:
        for c in cmds:
            if c.type == "set_balance":
                out.setdefault(ticket_id, []).append(c.data["balance"])
    return out


@pytest.fixture
def shown(sqlite_url):
    ctx = _ctx(sqlite_url, {"balance": "credits_left"})
    yield ctx
    set_context(None)
    ctx.close()


def test_a_debit_reaches_every_open_ticket_of_the_company(shown):
    client = FakeClient()
    shown.extras["host-client-factory"] = lambda conn: client
    for n, t in enumerate(("T-1", "T-2", "T-3")):
        _accept(shown, t, n)
    client.pushes.clear()
    resolved = payload("T-1", "ticket.updated", "2026-11-16T11:00:00+02:00", status="resolved",
                       changes={"status": ["accepted", "resolved"]})
    process_event(store(shown, resolved, "r-1"), NOW)
    # no Redis here: the other tickets' rows wait for a push (the sweeper's, or this one)
    for t in ("T-2", "T-3"):
        push_ticket("generic", t, NOW)
    seen = _balances(client)
    assert seen["T-1"] == [9]  # 10 bought, 1 debited
    assert seen["T-2"] == [9] and seen["T-3"] == [9]
    with shown.db.session() as s:
        states = set(s.execute(select(OutboxRow.state)).scalars())
    assert states == {OutboxState.SENT}


def test_a_host_keeping_the_balance_on_the_organisation_gets_it_once(sqlite_url):
    ctx = _ctx(sqlite_url, {"company.balance": "credits_left"})
    try:
        client = FakeClient()
        ctx.extras["host-client-factory"] = lambda conn: client
        for n, t in enumerate(("T-1", "T-2")):
            _accept(ctx, t, n)
        client.pushes.clear()
        resolved = payload("T-1", "ticket.updated", "2026-11-16T11:00:00+02:00",
                           status="resolved", changes={"status": ["accepted", "resolved"]})
        process_event(store(ctx, resolved, "r-1"), NOW)
        assert push_ticket("generic", "T-2", NOW) == "idle"
        assert set(_balances(client)) == {"T-1"}
    finally:
        set_context(None)
        ctx.close()
