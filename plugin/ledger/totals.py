"""A company's credit totals in one statement: the ledger's balance for hot paths.

:func:`plugin.ledger.balance` answers the same question with four queries and the lots
listed; processing needs only the totals, once before the rules run and once after credit
operations (for the host's balance field). The figures are the ledger's own definition — sums
of the entries posted up to ``at``, minus what is left on lots already expired at ``at``
(expiry applied at read time) — and ``tests/integration/test_jobs_credits.py`` holds them
equal. :func:`credits_statement` is also the credits part of the processing job's one-trip
company read (``plugin.processing.credits.read_company``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import bindparam, exists, func, select
from sqlalchemy.orm import Session, aliased

from plugin.ledger.models import CreditAllocation, CreditEntry, CreditLot


@dataclass(frozen=True)
class Credits:
    """Balance, reserved, available (= balance − reserved), and whether an account exists."""

    balance: int
    reserved: int
    available: int
    has_account: bool


@cache  # built once: constructing the expression costs more than running it
def credits_statement() -> Any:
    company: Any = bindparam("company")
    at: Any = bindparam("at")
    # what expired lots still hold as of ``at``: the ledger burns it at read time (aliases,
    # so the subqueries are not correlated with the outer scan of the entries)
    entry, any_entry = aliased(CreditEntry), aliased(CreditEntry)
    unburned = (
        select(func.coalesce(func.sum(CreditAllocation.units), 0))
        .join(entry, entry.id == CreditAllocation.entry_id)
        .join(CreditLot, CreditLot.id == CreditAllocation.lot_id)
        .where(CreditAllocation.company_id == company, entry.posted_at <= at,
               CreditLot.purchased_at <= at, CreditLot.expires_at <= at)
        .scalar_subquery()
    )
    e = CreditEntry
    return select(
        func.coalesce(func.sum(e.units), 0),
        func.coalesce(func.sum(e.reserved), 0),
        unburned,
        exists().where(any_entry.company_id == company),
    ).where(e.company_id == company, e.posted_at <= at)


def credits_from_row(raw: Any, reserved: Any, unburned: Any, account: Any) -> Credits:
    """:class:`Credits` from a row of :func:`credits_statement`."""
    bal = int(raw) - int(unburned)
    return Credits(bal, int(reserved), bal - int(reserved), bool(account))


def read_credits(session: Session, company_id: str, at: datetime) -> Credits:
    """The company's credits as of ``at`` (one round trip)."""
    row = session.execute(credits_statement(), {"company": company_id, "at": at}).one()
    return credits_from_row(*row)
