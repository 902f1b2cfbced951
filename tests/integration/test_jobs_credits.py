"""The processing job's one-statement credits read equals the ledger's own balance."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from plugin import ledger
from plugin.ledger.totals import read_credits
from plugin.storage.models import Company
from tests.jobs_support import make_context

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


@pytest.fixture
def ctx(db_url):
    c = make_context(db_url)
    yield c
    c.close()


def _same(session, company: str, at: datetime) -> None:
    want = ledger.balance(session, company, at)
    got = read_credits(session, company, at)
    assert (got.balance, got.reserved, got.available, got.has_account) == (
        want.balance, want.reserved, want.available, want.has_account), at


def test_read_credits_matches_ledger_balance_through_a_lifecycle(ctx):
    with ctx.db.session() as s:
        s.add_all([Company(id="acme", name="ACME"), Company(id="empty", name="E")])
        s.flush()
        _same(s, "empty", T0)
        # a small lot that expires soon, a bigger one that lasts
        ledger.purchase(s, "acme", 3, Decimal("350"), "UAH", T0,
                        expires_at=T0 + timedelta(days=10))
        ledger.purchase(s, "acme", 10, Decimal("350"), "UAH", T0 + timedelta(days=1))
        _same(s, "acme", T0 - timedelta(days=1))  # before any purchase
        _same(s, "acme", T0 + timedelta(hours=1))  # only the first lot yet
        at = T0 + timedelta(days=2)
        ledger.reserve(s, "acme", "generic:T-1", 0, 2, at)
        ledger.complete(s, "acme", "generic:T-1", 0, 2, at + timedelta(hours=3))
        ledger.reserve(s, "acme", "generic:T-2", 0, 4, at + timedelta(hours=4))
        for hours in (1, 3, 5):
            _same(s, "acme", at + timedelta(hours=hours))
        # the first lot has expired but the expiry job has not run: burned at read time
        later = T0 + timedelta(days=11)
        _same(s, "acme", later)
        ledger.expire_lots(s, later)
        _same(s, "acme", later)
        _same(s, "acme", later + timedelta(days=400))  # everything expired
        _same(s, "empty", later)


def test_read_company_brings_row_credits_and_cap_slots_in_one_statement(ctx):
    from sqlalchemy import event

    from plugin.processing.credits import read_company
    from plugin.processing.models import CapSlot
    from plugin.storage.models import Ticket

    day = T0.date()
    with ctx.db.session() as s:
        s.add(Company(id="acme", name="ACME", plan="gold", manager="m-7", calendar="kyiv"))
        s.flush()
        ledger.purchase(s, "acme", 10, Decimal("350"), "UAH", T0)
        ledger.reserve(s, "acme", "generic:T-1", 0, 3, T0 + timedelta(hours=1))
        for n, offset in enumerate((0, 0, 1, 9, -8)):  # -8: before the lookback
            t = Ticket(connection="generic", host_ticket_id=f"T-{n}", company_id="acme")
            s.add(t)
            s.flush()
            s.add(CapSlot(ticket_pk=t.id, company_id="acme", day=day + timedelta(days=offset)))
        s.flush()
        statements: list[str] = []
        event.listen(s.get_bind(), "before_cursor_execute",
                     lambda *a: statements.append(a[2]))
        got = read_company(s, "acme", T0 + timedelta(hours=2), day - timedelta(days=7))
        missing = read_company(s, "nobody", T0, day)
        assert len(statements) == 2
        want = ledger.balance(s, "acme", T0 + timedelta(hours=2))
    assert (got.known, got.manager, got.calendar, got.plan) == (True, "m-7", "kyiv", "gold")
    assert (got.credits.balance, got.credits.reserved, got.credits.available) == (
        want.balance, want.reserved, want.available) == (10, 3, 7)
    assert got.started_by_day == {day: 2, day + timedelta(days=1): 1,
                                  day + timedelta(days=9): 1}
    assert (missing.known, missing.manager, missing.started_by_day) == (False, None, {})
    assert not missing.credits.has_account
