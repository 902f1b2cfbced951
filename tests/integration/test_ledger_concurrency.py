"""Many threads and processes on one company on real PostgreSQL: nothing lost or doubled,
never over-reserved under hold."""

from __future__ import annotations

import multiprocessing
import random
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

import plugin.tables  # noqa: F401  (every table on the metadata)
from plugin import ledger
from plugin.ledger.models import CreditAllocation, CreditEntry, EntryKind
from plugin.storage import Database

pytestmark = pytest.mark.postgres
T0 = datetime(2026, 5, 4, 9, 0, tzinfo=UTC)
CO = "acme"
POOL = 48  # tickets, each accepted and resolved by every worker (redeliveries)
CREDITS = 36  # fewer than the tickets: hold must refuse the rest


def hammer(url: str, seed: int, threads: int) -> dict[str, int]:
    """Accept and resolve every ticket of the pool in a shuffled order, in ``threads``."""
    db = Database(url, pool_size=threads, max_overflow=0)
    order = list(range(POOL))
    random.Random(seed).shuffle(order)
    counts: dict[str, int] = {}

    def one(i: int) -> list[str]:
        now = T0 + timedelta(seconds=i)
        with db.session() as s:
            r = ledger.reserve(s, CO, f"T{i}", 0, 1, now)
        if r.status not in (ledger.RESERVED, ledger.DUPLICATE):
            return [r.status]
        with db.session() as s:
            d = ledger.complete(s, CO, f"T{i}", 0, 1, now)
        return [r.status, d.status]

    with ThreadPoolExecutor(threads) as pool:
        for statuses in pool.map(one, order):
            for status in statuses:
                counts[status] = counts.get(status, 0) + 1
    db.dispose()
    return counts


def _setup(url: str) -> Database:
    db = Database(url)
    db.create_all()
    with db.session() as s:
        ledger.purchase(s, CO, 16, Decimal("350"), "UAH", T0 - timedelta(days=60), key="old")
        ledger.purchase(s, CO, CREDITS - 16, Decimal("350"), "UAH", T0 - timedelta(days=1))
    return db


def _check(db: Database) -> None:
    with db.session() as s:
        debits = s.execute(
            select(CreditEntry.ticket_key, func.count())
            .where(CreditEntry.kind == EntryKind.DEBIT)
            .group_by(CreditEntry.ticket_key)
        ).all()
        reserves = s.execute(
            select(func.count()).where(CreditEntry.kind == EntryKind.RESERVE)
        ).scalar_one()
        per_lot = s.execute(
            select(CreditAllocation.lot_id, func.sum(CreditAllocation.units)).group_by(
                CreditAllocation.lot_id
            )
        ).all()
        bal = ledger.balance(s, CO)
    # 0 doubled: one debit per ticket; 0 lost: every credit is a debit or still there
    assert all(n == 1 for _, n in debits)
    assert len(debits) == reserves == CREDITS  # hold let exactly the credits through
    assert bal.balance == CREDITS - len(debits) == 0
    assert bal.reserved == 0 and bal.debt == 0
    # never over-drawn: no lot below zero (a lost update would take a credit twice)
    assert all(lot is not None and left >= 0 for lot, left in per_lot)


def test_threads_on_one_company(pg_url: str) -> None:
    db = _setup(pg_url)
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda seed: hammer(pg_url, seed, 3), range(4)))
    _check(db)
    total = {k: sum(r.get(k, 0) for r in results) for k in ("reserved", "debited")}
    assert total == {"reserved": CREDITS, "debited": CREDITS}
    db.dispose()


def test_processes_on_one_company(pg_url: str) -> None:
    db = _setup(pg_url)
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(4) as pool:
        results = pool.starmap(hammer, [(pg_url, seed, 2) for seed in range(4)])
    _check(db)
    assert sum(r.get("debited", 0) for r in results) == CREDITS
    assert sum(r.get("held", 0) for r in results) >= 4 * POOL - 2 * 4 * CREDITS
    db.dispose()
