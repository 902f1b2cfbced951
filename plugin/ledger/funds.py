"""Credits in and out by hand: packages bought, manual adjustments, money lines."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from plugin.ledger.accounts import (
    LedgerError,
    allocate,
    consume,
    entry_by_key,
    is_postgres,
    lock_company,
    lots_left,
    lower_checked_until,
    post,
    settle_debt,
)
from plugin.ledger.expiry import lock_and_burn
from plugin.ledger.hotpath import found_again, insert_entry
from plugin.ledger.models import CreditEntry, CreditLot, EntryKind, MoneyLine
from plugin.ledger.plans import OVERDRAFT, Plan

DEFAULT_EXPIRY_DAYS = 90


@dataclass(frozen=True)
class Purchase:
    """A package bought: its lot and its entry; ``duplicate`` when the key was seen before."""

    lot: CreditLot
    entry: CreditEntry
    duplicate: bool = False


@dataclass(frozen=True)
class MoneyResult:
    """A money line recorded (or found again by its key)."""

    line: MoneyLine
    duplicate: bool = False


def _new_lot(
    session: Session,
    company_id: str,
    tasks: int,
    price: Decimal,
    currency: str,
    plan: str,
    source: str,
    at: datetime,
    expires_at: datetime,
    key: str,
) -> CreditLot:
    lot = CreditLot(
        company_id=company_id,
        tasks=tasks,
        price_per_task=Decimal(price).quantize(Decimal("0.01")),
        currency=currency.upper(),
        plan=plan,
        source=source,
        purchased_at=at,
        expires_at=expires_at,
        key=key,
    )
    session.add(lot)
    session.flush()
    lower_checked_until(session, company_id, expires_at)
    return lot


def purchase(
    session: Session,
    company_id: str,
    tasks: int,
    price_per_task: Decimal,
    currency: str,
    at: datetime,
    plan: Plan | None = None,
    key: str | None = None,
    source: str = EntryKind.PURCHASE,
    expires_at: datetime | None = None,
) -> Purchase:
    """Add a package of ``tasks`` credits expiring ``plan.expiry_days`` after ``at``.

    Refuses fewer tasks than the plan's minimum. Outstanding overdraft debt is settled from
    the new lot at once. ``key`` defaults to one derived from the arguments, so a retried
    call with the same arguments buys once.
    """
    if isinstance(price_per_task, float):
        raise LedgerError("price must be a Decimal, not a float")
    if plan is not None and source == EntryKind.PURCHASE and tasks < plan.min_tasks:
        raise LedgerError(f"plan {plan.name} sells at least {plan.min_tasks} tasks, not {tasks}")
    if tasks <= 0:
        raise LedgerError("tasks must be positive")
    key = key or f"purchase:{company_id}:{at.isoformat()}:{tasks}:{price_per_task}:{currency}"
    lock_and_burn(session, company_id, at)
    found = session.execute(select(CreditLot).where(CreditLot.key == key)).scalar_one_or_none()
    if found is not None:
        entry = entry_by_key(session, key)
        assert entry is not None
        return Purchase(found, entry, duplicate=True)
    days = plan.expiry_days if plan is not None else DEFAULT_EXPIRY_DAYS
    until = expires_at or at + timedelta(days=days)
    lot = _new_lot(
        session,
        company_id,
        tasks,
        Decimal(price_per_task),
        currency,
        plan.name if plan else "standard",
        source,
        at,
        until,
        key,
    )
    values = {
        "company_id": company_id,
        "key": key,
        "kind": source,
        "units": tasks,
        "reserved": 0,
        "lot_id": lot.id,
        "posted_at": at,
    }
    entry = insert_entry(session, values, [(lot.id, tasks)]) or found_again(session, key)
    settle_debt(session, entry, company_id, at)
    return Purchase(lot, entry)


def adjust(
    session: Session,
    company_id: str,
    units: int,
    reason: str,
    author: str | None,
    now: datetime,
    key: str,
    expires_at: datetime | None = None,
    currency: str = "UAH",
) -> tuple[CreditEntry, bool]:
    """A manual correction: +N opens a free lot (expiring like a package), −N takes credits
    soonest-expiring first. Returns (entry, posted now?)."""
    if units == 0:
        raise LedgerError("an adjustment moves at least one unit")
    if not reason:
        raise LedgerError("an adjustment needs a reason")
    lock_and_burn(session, company_id, now)
    found = entry_by_key(session, key)
    if found is not None:
        return found, False
    lot_id = None
    if units > 0:
        until = expires_at or now + timedelta(days=DEFAULT_EXPIRY_DAYS)
        lot_id = _new_lot(
            session,
            company_id,
            units,
            Decimal("0"),
            currency,
            "adjustment",
            EntryKind.ADJUST,
            now,
            until,
            key,
        ).id
    live = lots_left(session, company_id, live_at=now) if units < 0 else []
    short = units < 0 and -units > sum(item.remaining for item in live)
    entry, new = post(
        session,
        CreditEntry(
            company_id=company_id,
            key=key,
            kind=EntryKind.ADJUST,
            units=units,
            reserved=0,
            lot_id=lot_id,
            reason=reason,
            author=author,
            flag=OVERDRAFT if short else None,
            posted_at=now,
        ),
    )
    if not new:
        return entry, False
    if units > 0:
        allocate(session, entry, lot_id, units)
        session.flush()
        settle_debt(session, entry, company_id, now)
    else:
        consume(session, entry, -units, live)
        session.flush()
    return entry, True


def record_money(
    session: Session,
    company_id: str,
    ticket_key: str | None,
    amount: Decimal,
    currency: str,
    now: datetime,
    reason: str,
    key: str | None = None,
) -> MoneyResult:
    """Record a money charge (enhancement estimate × rate, per-request or per-hour fee).

    Money never touches the credit balance. ``key`` defaults to (ticket, reason), so an
    enhancement's price is fixed by the first estimate recorded under that reason.
    """
    if isinstance(amount, float):
        raise LedgerError("amount must be a Decimal, not a float")
    key = key or f"money:{ticket_key}:{reason}"
    lock_company(session, company_id, now)
    found = session.execute(select(MoneyLine).where(MoneyLine.key == key)).scalar_one_or_none()
    if found is not None:
        return MoneyResult(found, duplicate=True)
    line = MoneyLine(
        company_id=company_id,
        key=key,
        ticket_key=ticket_key,
        amount=Decimal(amount).quantize(Decimal("0.01")),
        currency=currency.upper(),
        reason=reason,
        posted_at=now,
    )
    if not is_postgres(session):
        session.add(line)
        session.flush()
        return MoneyResult(line)
    try:
        with session.begin_nested():
            session.add(line)
            session.flush()
    except IntegrityError:
        again = session.execute(select(MoneyLine).where(MoneyLine.key == key)).scalar_one()
        return MoneyResult(again, duplicate=True)
    return MoneyResult(line)
