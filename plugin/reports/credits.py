"""Credits sold, reserved, used and burned, and money billed, from the ledger's entries."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from plugin.ledger import balance
from plugin.ledger.models import CreditEntry, CreditLot, EntryKind, MoneyLine


def credit_summary(session: Session, start: datetime, end: datetime,
                   company: str | None = None) -> dict[str, Any]:
    """Ledger movements posted in ``[start, end)`` (one company, or all)."""
    q = (select(CreditEntry.kind, func.sum(CreditEntry.units), func.sum(CreditEntry.reserved))
         .where(CreditEntry.posted_at >= start, CreditEntry.posted_at < end)
         .group_by(CreditEntry.kind))
    m = (select(MoneyLine.currency, func.sum(MoneyLine.amount))
         .where(MoneyLine.posted_at >= start, MoneyLine.posted_at < end)
         .group_by(MoneyLine.currency))
    if company:
        q = q.where(CreditEntry.company_id == company)
        m = m.where(MoneyLine.company_id == company)
    units: dict[str, int] = {}
    reserved: dict[str, int] = {}
    for kind, u, r in session.execute(q):
        units[kind], reserved[kind] = int(u or 0), int(r or 0)
    return {
        "sold": units.get(EntryKind.PURCHASE, 0) + units.get(EntryKind.GRANT, 0),
        "reserved": reserved.get(EntryKind.RESERVE, 0),
        # a reversal gives back what a debit took, so used is the net
        "used": -(units.get(EntryKind.DEBIT, 0) + units.get(EntryKind.REVERSAL, 0)),
        "burned": -units.get(EntryKind.BURN, 0),
        "adjusted": units.get(EntryKind.ADJUST, 0),
        "money": {cur: float(amount or 0) for cur, amount in session.execute(m)},
    }


def balances(session: Session, now: datetime, company: str | None = None,
             limit: int = 50) -> list[dict[str, Any]]:
    """Current balances of companies holding lots, with their lots expiring within 14 days."""
    q = select(CreditLot.company_id).distinct().order_by(CreditLot.company_id).limit(limit)
    if company:
        q = q.where(CreditLot.company_id == company)
    out = []
    for company_id in session.execute(q).scalars():
        b = balance(session, company_id, now)
        out.append({
            "company": company_id, "balance": b.balance, "reserved": b.reserved,
            "available": b.available, "debt": b.debt,
            "expiring": [{"lot_id": lot.lot_id, "remaining": lot.remaining,
                          "expires_at": lot.expires_at.isoformat()}
                         for lot in b.expiring_soon],
        })
    return out
