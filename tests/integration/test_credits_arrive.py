"""Credits bought outside event processing reach the host and wake tasks held for credits."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from plugin import ledger
from plugin.ledger.hooks import LISTENERS, balance_changed
from plugin.outbox.rows import OutboxRow
from plugin.processing.balance import credits_changed, install
from plugin.processing.process import process_event
from plugin.storage.models import Company, Ticket
from tests.jobs_support import make_context, payload, store


def _held(ticket: Ticket) -> bool:
    return bool(((ticket.facts or {}).get("state") or {}).get("held"))


def test_a_purchase_pushes_the_balance_and_resumes_a_held_task(db_url, redis_url):
    ctx = make_context(db_url, redis_url)
    now = datetime.now(UTC).replace(microsecond=0)
    filed = (now - timedelta(hours=1)).isoformat()
    with ctx.db.session() as s:
        # an account with nothing available: bought once, all used (a row the first event
        # creates on its own is "no account", issue 17)
        s.add(Company(id="acme", name="ACME"))
        s.flush()
        ledger.purchase(s, "acme", 10, 350, "UAH", now - timedelta(days=30), key="p-0")
        ledger.adjust(s, "acme", -10, "used up", "admin", now - timedelta(days=29), key="a-0")
    created = store(ctx, payload("H-1", "ticket.created", filed), "h1")
    process_event(created, now - timedelta(minutes=50))
    accepted = store(ctx, payload("H-1", "ticket.updated", (now - timedelta(minutes=40))
                                  .isoformat(), status="accepted",
                                  changes={"status": ["new", "accepted"]}), "h2")
    process_event(accepted, now - timedelta(minutes=40))
    with ctx.db.session() as s:
        ticket = s.execute(select(Ticket)).scalar_one()
        assert _held(ticket), ticket.facts  # no credits: on hold under the shipped policy
        assert [h.host_ticket_id for h in ledger.held_tickets(s, "acme")] == ["H-1"]

    with ctx.db.session() as s:
        ledger.purchase(s, "acme", 10, 350, "UAH", now - timedelta(minutes=5), key="p-1")
    credits_changed("acme", now)

    with ctx.db.session() as s:
        ticket = s.execute(select(Ticket)).scalar_one()
        assert not _held(ticket), ticket.facts
        bal = ledger.balance(s, "acme", at=now)
        assert (bal.balance, bal.reserved) == (10, 1)  # the resumed task's unit is reserved
        pushed = [r.command for r in s.execute(select(OutboxRow)).scalars()]
        balances = [c for c in pushed if c["type"] == "set_balance"]
        assert balances and balances[-1]["data"]["available"] == 9
    ctx.close()


def test_the_ledger_hook_is_installed_once():
    install()
    install()
    assert LISTENERS.count(credits_changed) == 1
    assert callable(balance_changed)
