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


def test_an_expiry_burn_pushes_the_new_balance_to_every_open_ticket(sqlite_url):
    from decimal import Decimal

    from plugin import ledger
    from plugin.scheduler import expire_lots

    ctx = connections_context(sqlite_url, [{
        "name": "generic", "kind": "generic", "webhook_secrets": [SECRET],
        "field_map": {"balance": "credits_left"}, "inline_push": True}])
    try:
        buy(ctx, "acme", 10, datetime(2026, 11, 10, tzinfo=UTC))
        with ctx.db.session() as s:  # 10 credits that last, 4 that expire on 20.11
            ledger.purchase(s, "acme", 4, Decimal("350"), "UAH",
                            datetime(2026, 11, 10, tzinfo=UTC),
                            expires_at=datetime(2026, 11, 20, tzinfo=UTC))
        client = FakeClient()
        ctx.extras["host-client-factory"] = lambda conn: client
        for n, t in enumerate(("T-1", "T-2", "T-3")):
            _accept(ctx, t, n)
        assert _balances(client) == {"T-1": [14], "T-2": [14], "T-3": [14]}
        with ctx.db.session() as s:
            first = max(s.execute(select(OutboxRow.id)).scalars())
        later = datetime(2026, 11, 21, 3, 0, tzinfo=UTC)
        assert expire_lots(ctx, later) == "1 burned in 1 companies"
        with ctx.db.session() as s:
            rows = list(s.execute(select(OutboxRow).where(OutboxRow.id > first)
                                  .order_by(OutboxRow.id)).scalars())
            after = ledger.balance(s, "acme", now=later)
        assert (after.balance, after.reserved, after.available) == (10, 3, 7)
        # one set_balance row per open ticket, with the figures after the burn, due now
        assert sorted(r.ticket_id for r in rows) == ["T-1", "T-2", "T-3"]
        for r in rows:
            assert r.state == OutboxState.PENDING and r.company_id == "acme"
            assert r.next_attempt_at.replace(tzinfo=UTC) <= later
            assert r.command == {"type": "set_balance", "data": {
                "company_id": "acme", "balance": 10, "reserved": 3, "available": 7}}
            assert r.idempotency_key.startswith("expiry:acme:2026-11-21:")
        # a second run on the same day burns nothing and writes nothing twice
        assert expire_lots(ctx, later) == "0 burned in 0 companies"
        with ctx.db.session() as s:
            assert len(list(s.execute(select(OutboxRow).where(OutboxRow.id > first))
                            .scalars())) == 3
        client.pushes.clear()
        for t in ("T-1", "T-2", "T-3"):
            push_ticket("generic", t, later)
        assert _balances(client) == {"T-1": [10], "T-2": [10], "T-3": [10]}
    finally:
        set_context(None)
        ctx.close()
