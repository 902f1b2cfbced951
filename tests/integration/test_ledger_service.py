"""The ledger's lifecycle on SQLite and PostgreSQL: reservations, debits, expiry, statements."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import inspect, select

import plugin.tables  # noqa: F401  (every table on the metadata)
from plugin import ledger
from plugin.ledger.models import CreditAllocation, CreditEntry
from plugin.ledger.plans import load_plans
from plugin.storage import Database
from plugin.storage.migrate import upgrade
from plugin.storage.models import Company

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
#: a read "now" while T0's packages are live (expiry is judged at the clock by default)
SOON = T0 + timedelta(days=30)
PLAN = load_plans("config").get("standard")



def buy(db: Database, tasks: int = 10, at: datetime = T0, company: str = "acme") -> int:
    with db.session() as s:
        return ledger.purchase(s, company, tasks, Decimal("350"), "UAH", at, plan=PLAN).lot.id


def test_migration_creates_ledger_tables(db_url: str) -> None:
    upgrade(db_url)
    database = Database(db_url)
    tables = set(inspect(database.engine).get_table_names())
    assert {"credit_lots", "credit_entries", "credit_allocations", "credit_money_lines"} <= tables
    with database.session() as s:
        ledger.purchase(s, "acme", 10, Decimal("350"), "UAH", T0, plan=PLAN)
        assert ledger.reserve(s, "acme", "T-1", 0, 1, T0).status == ledger.RESERVED
    database.dispose()


def test_purchase_below_minimum_is_refused(db: Database) -> None:
    with db.session() as s, pytest.raises(ledger.LedgerError, match="at least 10"):
        ledger.purchase(s, "acme", 9, Decimal("350"), "UAH", T0, plan=PLAN)


def test_reserve_then_complete_spans_lots_soonest_expiring_first(db: Database) -> None:
    late = buy(db, 10, T0)
    early = buy(db, 10, T0 - timedelta(days=30))
    with db.session() as s:
        assert ledger.reserve(s, "acme", "T-1", 0, 8, T0).status == ledger.RESERVED
        assert ledger.complete(s, "acme", "T-1", 0, 8, T0).status == ledger.DEBITED
        assert ledger.reserve(s, "acme", "T-2", 0, 5, T0).status == ledger.RESERVED
        done = ledger.complete(s, "acme", "T-2", 0, 5, T0 + timedelta(hours=1))
        moves = s.execute(
            select(CreditAllocation.lot_id, CreditAllocation.units)
            .where(CreditAllocation.entry_id == done.entry.id)
            .order_by(CreditAllocation.id)
        ).all()
    assert [tuple(m) for m in moves] == [(early, -2), (late, -3)]
    with db.session() as s:
        bal = ledger.balance(s, "acme", T0 + timedelta(days=1))
    assert (bal.balance, bal.reserved, bal.available) == (7, 0, 7)
    assert {lot.lot_id: lot.remaining for lot in bal.lots} == {early: 0, late: 7}


def test_redelivery_posts_nothing_and_returns_the_original(db: Database) -> None:
    buy(db)
    with db.session() as s:
        first = ledger.reserve(s, "acme", "T-1", 0, 2, T0)
        again = ledger.reserve(s, "acme", "T-1", 0, 2, T0)
        debit = ledger.complete(s, "acme", "T-1", 0, 2, T0)
        debit_again = ledger.complete(s, "acme", "T-1", 0, 2, T0 + timedelta(days=5))
    assert again.status == ledger.DUPLICATE and again.entry.id == first.entry.id
    assert debit_again.status == ledger.DUPLICATE and debit_again.entry.id == debit.entry.id
    with db.session() as s:
        assert ledger.balance(s, "acme", now=SOON).balance == 8
        assert len(s.execute(select(CreditEntry)).all()) == 3


def test_hold_refuses_what_is_not_available_and_bugs_are_never_held(db: Database) -> None:
    buy(db)
    with db.session() as s:
        assert ledger.reserve(s, "acme", "T-1", 0, 9, T0).status == ledger.RESERVED
        held = ledger.reserve(s, "acme", "T-2", 0, 2, T0)
        assert held.status == ledger.HELD and held.entry is None and held.available == 1
        bug = ledger.reserve(s, "acme", "T-3", 0, 2, T0, is_bug=True)
        assert bug.status == ledger.OVERDRAFT
        over = ledger.reserve(s, "acme", "T-4", 0, 2, T0, policy=ledger.OVERDRAFT)
        assert over.status == ledger.OVERDRAFT and over.available == -3
    # credits arrive: the held task continues under the same key
    buy(db, 10, T0 + timedelta(days=1))
    with db.session() as s:
        again = ledger.reserve(s, "acme", "T-2", 0, 2, T0 + timedelta(days=1))
    assert again.status == ledger.RESERVED


def test_unknown_company_is_flagged_no_account(db: Database) -> None:
    with db.session() as s:
        r = ledger.reserve(s, "ghost", "T-1", 0, 1, T0)
        c = ledger.complete(s, "ghost", "T-1", 0, 1, T0)
    assert r.status == c.status == ledger.NO_ACCOUNT and r.flags == ("no_account",)


def test_release_frees_the_reservation_once(db: Database) -> None:
    buy(db)
    with db.session() as s:
        ledger.reserve(s, "acme", "T-1", 0, 3, T0)
        assert ledger.release(s, "acme", "T-1", 0, T0, "merged").status == ledger.RELEASED
        assert ledger.release(s, "acme", "T-1", 0, T0, "merged").status == ledger.DUPLICATE
        assert ledger.balance(s, "acme", now=SOON).available == 10


def test_retype_after_completion_reverses_exactly(db: Database) -> None:
    buy(db)
    with db.session() as s:
        ledger.reserve(s, "acme", "T-1", 0, 1, T0)
        debit = ledger.complete(s, "acme", "T-1", 0, 1, T0, task_type="simple")
        r = ledger.retype(s, "acme", "T-1", 0, 3, T0, task_type="composite")
        assert r.status == ledger.RETYPED
        assert ledger.retype(s, "acme", "T-1", 0, 3, T0).status == ledger.DUPLICATE
        rev = [e for e in r.posted if e.kind == "reversal"][0]
        assert rev.reverses_id == debit.entry.id and rev.units == 1
        assert ledger.balance(s, "acme", now=SOON).balance == 7
        # re-typed to a bug: the charge goes to zero
        ledger.retype(s, "acme", "T-1", 0, 0, T0, task_type="bug")
        assert ledger.balance(s, "acme", now=SOON).balance == 10


def test_retype_before_completion_swaps_the_reservation(db: Database) -> None:
    buy(db)
    with db.session() as s:
        ledger.reserve(s, "acme", "T-1", 0, 1, T0)
        assert ledger.retype(s, "acme", "T-1", 0, 4, T0).status == ledger.RETYPED
        assert ledger.balance(s, "acme", now=SOON).reserved == 4
        assert ledger.retype(s, "acme", "T-1", 0, 40, T0).status == ledger.HELD
        ledger.complete(s, "acme", "T-1", 0, 4, T0)
        bal = ledger.balance(s, "acme", now=SOON)
    assert (bal.balance, bal.reserved) == (6, 0)


def test_expiry_burns_once_and_reads_apply_it_before_the_job(db: Database) -> None:
    lot = buy(db)
    with db.session() as s:
        ledger.reserve(s, "acme", "T-1", 0, 2, T0)
        ledger.complete(s, "acme", "T-1", 0, 2, T0)
    after = T0 + timedelta(days=90, seconds=1)
    with db.session() as s:
        assert ledger.balance(s, "acme", after).balance == 0  # not burned yet, already gone
        assert ledger.balance(s, "acme", T0 + timedelta(days=89)).balance == 8
        burns = ledger.expire_lots(s, after)
        assert [(b.lot_id, b.units) for b in burns] == [(lot, -8)]
        assert ledger.expire_lots(s, after) == []
        assert ledger.expire_lots(s, after + timedelta(days=3)) == []
        assert ledger.balance(s, "acme", now=SOON).balance == 0
        # an expired lot is never used: the debit becomes flagged debt
        d = ledger.complete(s, "acme", "T-2", 0, 1, after)
        assert d.flags == ("overdraft",)
    lot2 = buy(db, 10, after)
    with db.session() as s:
        bal = ledger.balance(s, "acme", after)
    assert (bal.balance, bal.debt) == (9, 0)
    assert {x.lot_id: x.remaining for x in bal.lots} == {lot: 0, lot2: 9}


def test_retype_of_a_debit_from_an_expired_lot_burns_the_returned_credit(db: Database) -> None:
    buy(db)
    with db.session() as s:
        ledger.complete(s, "acme", "T-1", 0, 3, T0)
    later = T0 + timedelta(days=100)
    buy(db, 10, later)
    with db.session() as s:
        r = ledger.retype(s, "acme", "T-1", 0, 1, later)
        kinds = [e.kind for e in r.posted]
        bal = ledger.balance(s, "acme", later)
    assert kinds == ["reversal", "debit", "burn"]
    assert bal.balance == 9  # the new lot pays the new debit; the old credits burned


def test_money_lines_are_apart_from_credits(db: Database) -> None:
    buy(db)
    amount = load_plans("config").enhancement_money(Decimal("3.5"))
    with db.session() as s:
        first = ledger.record_money(s, "acme", "T-9", amount, "USD", T0, "enhancement estimate")
        again = ledger.record_money(s, "acme", "T-9", amount, "USD", T0, "enhancement estimate")
        st = ledger.statement(s, "acme")
        assert ledger.balance(s, "acme", now=SOON).balance == 10
    assert again.duplicate and again.line.id == first.line.id
    assert st.money_totals == {"USD": "105.00"}


def test_adjustments_and_statement_add_up(db: Database) -> None:
    buy(db)
    with db.session() as s:
        ledger.adjust(s, "acme", 2, "goodwill", "olena", T0, key="adj-1")
        entry, new = ledger.adjust(s, "acme", 2, "goodwill", "olena", T0, key="adj-1")
        assert not new
        ledger.adjust(s, "acme", -1, "correction", "olena", T0 + timedelta(hours=1), key="adj-2")
        ledger.reserve(s, "acme", "T-1", 0, 2, T0 + timedelta(hours=2), task_type="composite")
        ledger.complete(s, "acme", "T-1", 0, 2, T0 + timedelta(hours=3), task_type="composite")
        st = ledger.statement(s, "acme", T0 + timedelta(minutes=30), T0 + timedelta(days=1))
    assert st.opening_balance == 12
    assert [r.kind for r in st.rows] == ["adjust", "reserve", "debit"]
    assert [r.balance for r in st.rows] == [11, 11, 9]
    assert st.rows[-1].task_type == "composite" and st.rows[-1].ticket == "T-1"
    assert st.closing_balance == st.opening_balance + sum(r.units for r in st.rows)


def test_notices_low_balance_and_expiring_soon(db: Database) -> None:
    buy(db)
    with db.session() as s:
        ledger.complete(s, "acme", "T-1", 0, 8, T0)
        kinds = [n.kind for n in ledger.notices(s, "acme", T0 + timedelta(days=80), PLAN)]
        early = [n.kind for n in ledger.notices(s, "acme", T0 + timedelta(days=1), PLAN)]
        assert ledger.notices(s, "ghost", T0, PLAN) == []
    assert kinds == ["low_balance", "expiring_soon"]
    assert early == ["low_balance"]


@pytest.mark.parametrize(("taken", "left", "word", "verb"),
                         [(9, 1, "credit", "expires"), (8, 2, "credits", "expire")])
def test_notices_agree_with_their_number(db: Database, taken: int, left: int, word: str,
                                         verb: str) -> None:
    buy(db)
    with db.session() as s:
        ledger.complete(s, "acme", "T-1", 0, taken, T0)
        got = {n.kind: n.message for n in ledger.notices(s, "acme", T0 + timedelta(days=80),
                                                          PLAN)}
    assert got["low_balance"].startswith(f"{left} {word} available ")
    assert got["expiring_soon"].startswith(f"{left} {word} of package 1 {verb} ")


def test_same_key_for_two_companies_returns_the_first_entry(db: Database) -> None:
    buy(db, company="acme")
    buy(db, company="beta")
    with db.session() as s:
        first = ledger.reserve(s, "acme", "T-1", 0, 1, T0)
        moved = ledger.reserve(s, "beta", "T-1", 0, 1, T0)
    # a ticket that changed company is not reserved twice: the key is global
    assert moved.status == ledger.DUPLICATE and moved.entry.id == first.entry.id
    with db.session() as s:
        assert ledger.balance(s, "beta", now=SOON).reserved == 0


def test_monthly_hours_burn_at_month_end(db: Database) -> None:
    from zoneinfo import ZoneInfo

    from plugin.ledger.complexity import grant_month

    kyiv = ZoneInfo("Europe/Kyiv")
    monthly = load_plans("config").get("monthly")
    mid = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)
    with db.session() as s:
        first = grant_month(s, "acme", monthly, mid, kyiv)
        again = grant_month(s, "acme", monthly, mid + timedelta(days=3), kyiv)
        assert first is not None and again is not None and again.duplicate
        assert first.lot.expires_at == datetime(2026, 7, 1, tzinfo=kyiv)
        ledger.complete(s, "acme", "T-1", 0, 5, mid)
        assert ledger.balance(s, "acme", mid).balance == 15
        burns = ledger.expire_lots(s, datetime(2026, 7, 1, tzinfo=kyiv))
        assert [b.units for b in burns] == [-15]
        assert grant_month(s, "acme", load_plans("config").get("standard"), mid, kyiv) is None


def test_reversing_a_debit_covered_later_refunds_the_lot_that_paid(db: Database) -> None:
    with db.session() as s:
        ledger.adjust(s, "acme", -3, "migration", "admin", T0, key="adj")
        ledger.complete(s, "acme", "T-2", 0, 1, T0)  # on overdraft: debt 4
    lot = buy(db, 12, T0 + timedelta(hours=1))  # pays the debt: 8 left
    with db.session() as s:
        r = ledger.retype(s, "acme", "T-2", 0, 3, T0 + timedelta(hours=2))
        bal = ledger.balance(s, "acme", now=SOON)
    # T-2 now costs 3: its first unit goes back to the lot that paid it, then 3 are taken
    assert [e.kind for e in r.posted] == ["reversal", "settle", "debit"]
    assert (bal.balance, bal.debt) == (12 - 3 - 3, 0)
    assert {x.lot_id: x.remaining for x in bal.lots} == {lot: 6}


def test_balance_now_burns_expired_lots_at_read_time(db: Database) -> None:
    """The present balance (no ``at``) never shows credits of a lot already expired."""
    lot = buy(db)
    with db.session() as s:
        ledger.complete(s, "acme", "T-1", 0, 2, T0)
    expired = T0 + timedelta(days=90)
    with db.session() as s:
        live = ledger.balance(s, "acme", now=expired - timedelta(seconds=1))
        gone = ledger.balance(s, "acme", now=expired)
        clock = ledger.balance(s, "acme")  # T0 + 90 days is long past on the real clock
    assert (live.balance, live.available, live.lots[0].remaining) == (8, 8, 8)
    assert [x.lot_id for x in live.expiring_soon] == [lot]
    for bal in (gone, clock):
        assert (bal.balance, bal.available, bal.expiring_soon) == (0, 0, [])
        assert [(x.lot_id, x.remaining, x.expired) for x in bal.lots] == [(lot, 0, True)]
    with db.session() as s:
        # the job burns the same credits the read already left out: the figure stays
        ledger.expire_lots(s, expired)
        assert ledger.balance(s, "acme").balance == 0


def test_expiry_cursor_follows_a_backdated_package(db: Database) -> None:
    """The per-ticket calls skip the expired-lots query until the soonest expiry; a package
    bought with an earlier expiry moves that instant back, so it still burns on time."""
    buy(db)  # expires T0 + 90 days
    with db.session() as s:
        ledger.reserve(s, "acme", "T-1", 0, 1, T0 + timedelta(days=1))
        cursor = s.get(Company, "acme")
        assert cursor is not None and cursor.credits_checked_until == T0 + timedelta(days=90)
    old = buy(db, 10, T0 - timedelta(days=88))  # expires T0 + 2 days
    with db.session() as s:
        done = ledger.complete(s, "acme", "T-1", 0, 1, T0 + timedelta(days=3))
        moved = s.execute(
            select(CreditAllocation.lot_id).where(CreditAllocation.entry_id == done.entry.id)
        ).scalars()
        assert old not in list(moved)  # expired: never drawn from
        assert [(b.kind, b.lot_id, b.units) for b in done.posted[:-1]] == [("burn", old, -10)]
        bal = ledger.balance(s, "acme", now=T0 + timedelta(days=3))
    assert (bal.balance, bal.reserved) == (9, 0)


def test_migration_matches_the_models(sqlite_url: str) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from plugin.storage.models import Base

    upgrade(sqlite_url)
    database = Database(sqlite_url)
    with database.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    database.dispose()
    mine = [d for d in diff if "credit_" in repr(d)]
    assert mine == []
