"""A company's credits in one statement, for the processing job's hot path.

``plugin.ledger.balance`` answers the same question with four queries and the lots listed;
the job needs only the totals, once before the rules run and once after credit operations
(for the host's balance field). The figures are the ledger's own definition — sums of the
entries posted up to ``at``, minus what is left on lots already expired at ``at`` (expiry
applied at read time) — and ``tests/integration/test_jobs_credits.py`` holds them equal.
Before the rules run, :func:`read_company` brings the company's own row and its cap slots
per day in the same round trip.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from functools import cache
from typing import Any

from sqlalchemy import String, bindparam, cast, exists, func, select
from sqlalchemy.orm import Session, aliased

from plugin.ledger.models import CreditAllocation, CreditEntry, CreditLot
from plugin.processing.models import CapSlot
from plugin.storage.models import Company


@dataclass(frozen=True)
class Credits:
    """Balance, reserved, available (= balance − reserved), and whether an account exists."""

    balance: int
    reserved: int
    available: int
    has_account: bool


@dataclass(frozen=True)
class CompanyFacts:
    """What the rules read about a company: its row, credits and cap slots per day."""

    known: bool
    manager: str | None
    calendar: str | None
    plan: str | None
    credits: Credits
    #: tasks per working day (from ``since`` on) whose clocks start that day
    started_by_day: dict[date, int]


@cache  # built once: constructing the expression costs more than running it
def _statement() -> Any:
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


@cache
def _company_statement() -> Any:
    # the credits as a one-row subquery, the company's row joined to it (absent: NULLs) and
    # the cap slots per day folded into one string ("2026-11-23:2,2026-11-24:1")
    company: Any = bindparam("company")
    per_day = (select(CapSlot.day, func.count().label("n"))
               .where(CapSlot.company_id == company, CapSlot.day >= bindparam("since"))
               .group_by(CapSlot.day).subquery())
    slots = select(func.aggregate_strings(
        cast(per_day.c.day, String) + ":" + cast(per_day.c.n, String), ",")).scalar_subquery()
    credits = _statement().add_columns(slots.label("slots")).subquery()
    return (select(credits, Company.id, Company.manager, Company.calendar, Company.plan)
            .select_from(credits).outerjoin(Company, Company.id == company))


def _slots(raw: str | None) -> dict[date, int]:
    out: dict[date, int] = {}
    for item in (raw or "").split(","):
        if item:
            day, n = item.rsplit(":", 1)
            out[date.fromisoformat(day)] = int(n)
    return out


def _credits(raw: Any, reserved: Any, unburned: Any, account: Any) -> Credits:
    bal = int(raw) - int(unburned)
    return Credits(bal, int(reserved), bal - int(reserved), bool(account))


def read_credits(session: Session, company_id: str, at: datetime) -> Credits:
    """The company's credits as of ``at`` (one round trip)."""
    return _credits(*session.execute(_statement(), {"company": company_id, "at": at}).one())


def read_company(session: Session, company_id: str, at: datetime, since: date) -> CompanyFacts:
    """The company's row, credits as of ``at`` and cap slots from ``since`` on (one round
    trip: the processing job reads them before every decision)."""
    *credits, slots, known, manager, calendar, plan = session.execute(
        _company_statement(), {"company": company_id, "at": at, "since": since}).one()
    return CompanyFacts(known=known is not None, manager=manager, calendar=calendar, plan=plan,
                        credits=_credits(*credits), started_by_day=_slots(slots))
