"""Reading a company's credits: balance at an instant (expiry applied at read time), notices."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from plugin.ledger.accounts import has_account, totals
from plugin.ledger.models import CreditAllocation, CreditEntry, CreditLot
from plugin.ledger.plans import Plan
from plugin.storage.db import utcnow
from rules.templates import counted


@dataclass(frozen=True)
class LotBalance:
    """One lot as of an instant."""

    lot_id: int
    tasks: int
    remaining: int
    purchased_at: datetime
    expires_at: datetime
    expired: bool
    price_per_task: str
    currency: str

    def to_json(self) -> dict[str, Any]:
        out = dict(self.__dict__)
        out["purchased_at"] = self.purchased_at.isoformat()
        out["expires_at"] = self.expires_at.isoformat()
        return out


@dataclass(frozen=True)
class Balance:
    """A company's credits: balance = sum of entries, available = balance − reserved."""

    company_id: str
    at: datetime | None
    balance: int
    reserved: int
    available: int
    debt: int
    has_account: bool
    lots: list[LotBalance] = field(default_factory=list)
    expiring_soon: list[LotBalance] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "company_id": self.company_id,
            "at": self.at.isoformat() if self.at else None,
            "balance": self.balance,
            "reserved": self.reserved,
            "available": self.available,
            "debt": self.debt,
            "has_account": self.has_account,
            "lots": [lot.to_json() for lot in self.lots],
            "expiring_soon": [lot.to_json() for lot in self.expiring_soon],
        }


def last_entry_id(session: Session, company_id: str) -> int | None:
    """The id of the company's newest ledger entry (None: none posted): its ledger's state,
    for keys that must differ exactly when the ledger has moved."""
    found = session.execute(
        select(func.max(CreditEntry.id)).where(CreditEntry.company_id == company_id)
    ).scalar_one()
    return None if found is None else int(found)


def balance(
    session: Session,
    company_id: str,
    at: datetime | None = None,
    expiring_soon_days: int = 14,
    *,
    now: datetime | None = None,
) -> Balance:
    """The company's credits as of ``at``; None: every entry, as of ``now`` (the clock).

    Lots expired by then count as burned even when the expiry job has not run yet, so a
    read never shows credits that can no longer be used.
    """
    # ``at`` bounds the entries read; ``when`` is the instant expiry is judged at
    when = at if at is not None else (now or utcnow())
    raw_balance, reserved = totals(session, company_id, at)
    moved = (
        select(CreditAllocation.lot_id, func.sum(CreditAllocation.units))
        .join(CreditEntry, CreditEntry.id == CreditAllocation.entry_id)
        .where(CreditAllocation.company_id == company_id)
        .group_by(CreditAllocation.lot_id)
    )
    if at is not None:
        moved = moved.where(CreditEntry.posted_at <= at)
    left = {lot_id: int(n) for lot_id, n in session.execute(moved).all()}
    lots_q = select(CreditLot).where(CreditLot.company_id == company_id)
    if at is not None:
        lots_q = lots_q.where(CreditLot.purchased_at <= at)
    lots: list[LotBalance] = []
    unburned = 0
    for lot in session.execute(lots_q.order_by(CreditLot.expires_at, CreditLot.id)).scalars():
        expired = lot.expires_at <= when
        remaining = left.get(lot.id, 0)
        if expired:
            unburned += remaining
            remaining = 0
        lots.append(
            LotBalance(
                lot.id,
                lot.tasks,
                remaining,
                lot.purchased_at,
                lot.expires_at,
                expired,
                str(lot.price_per_task),
                lot.currency,
            )
        )
    bal = raw_balance - unburned
    horizon = when + timedelta(days=expiring_soon_days)
    soon = [lot for lot in lots if not lot.expired and lot.remaining and lot.expires_at <= horizon]
    return Balance(
        company_id,
        at,
        bal,
        reserved,
        bal - reserved,
        -left.get(None, 0),
        has_account(session, company_id),
        lots,
        soon,
    )


@dataclass(frozen=True)
class Notice:
    """Something the team or the client should be told about a company's credits."""

    kind: str
    company_id: str
    message: str
    data: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "company_id": self.company_id,
            "message": self.message,
            "data": self.data,
        }


LOW_BALANCE = "low_balance"
EXPIRING_SOON = "expiring_soon"
OVERDRAWN = "overdrawn"


def notices(session: Session, company_id: str, now: datetime, plan: Plan) -> list[Notice]:
    """Low-balance, expiring-soon and overdrawn notices for the caller to turn into notes.

    Deduplicating them (once per lot, once per day) is the caller's job: this only says what
    holds now.
    """
    bal = balance(session, company_id, now, plan.expiring_soon_days)
    if not bal.has_account:
        return []
    out: list[Notice] = []
    if bal.balance < 0 or bal.debt > 0:
        out.append(
            Notice(
                OVERDRAWN,
                company_id,
                f"balance {bal.balance}: {counted(bal.debt, 'credit|credits', 'en')} used on "
                "overdraft",
                {"balance": bal.balance, "debt": bal.debt},
            )
        )
    if bal.available <= plan.low_balance_threshold:
        out.append(
            Notice(
                LOW_BALANCE,
                company_id,
                f"{counted(bal.available, 'credit|credits', 'en')} available "
                f"(threshold {plan.low_balance_threshold})",
                {"available": bal.available, "threshold": plan.low_balance_threshold},
            )
        )
    for lot in bal.expiring_soon:
        out.append(
            Notice(
                EXPIRING_SOON,
                company_id,
                f"{counted(lot.remaining, 'credit|credits', 'en')} of package {lot.lot_id} "
                f"{'expires' if lot.remaining == 1 else 'expire'} "
                f"{lot.expires_at.date().isoformat()}",
                {
                    "lot_id": lot.lot_id,
                    "remaining": lot.remaining,
                    "expires_at": lot.expires_at.isoformat(),
                },
            )
        )
    return out
