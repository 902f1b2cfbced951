"""The company's credits for the cabinet: balance and lots (the ledger's own reading), and a
bounded page of the statement, newest first, with the running balance after each entry.

The running balance of a page is the sum of every entry minus those newer than it, so a page
costs two index range reads whatever the length of the history. Each entry that moves credits
shows its money amount as the CLI statement does (``plugin.ledger.worth``), and each ticket
the host's own reference (``plugin.cabinet.host_links``).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from plugin.cabinet.host_links import entry_reference, references
from plugin.ledger.accounts import totals
from plugin.ledger.models import CreditAllocation as A
from plugin.ledger.models import CreditEntry as E
from plugin.ledger.models import EntryKind, MoneyLine
from plugin.ledger.queries import balance
from plugin.ledger.worth import Amount, load_prices, priced

#: statement entries per page
PAGE_SIZE = 25
#: money lines shown (newest)
MONEY_LIMIT = 20


def _local(value: datetime, tz: ZoneInfo) -> str:
    return value.astimezone(tz).isoformat()


def credits(session: Session, company_id: str, now: datetime, tz: ZoneInfo,
            soon_days: int) -> dict[str, Any]:
    """Available, reserved, debt and the lots, soonest expiry first (expired ones last)."""
    bal = balance(session, company_id, now=now, expiring_soon_days=soon_days)
    soon = {lot.lot_id for lot in bal.expiring_soon}
    lots = sorted(bal.lots, key=lambda lot: (lot.expired, lot.expires_at, lot.lot_id))
    return {
        "has_account": bal.has_account,
        "balance": bal.balance,
        "reserved": bal.reserved,
        "available": bal.available,
        "debt": bal.debt,
        "expiring_soon_days": soon_days,
        "lots": [{
            "lot_id": lot.lot_id, "tasks": lot.tasks, "remaining": lot.remaining,
            "purchased_at": _local(lot.purchased_at, tz),
            "expires_at": _local(lot.expires_at, tz),
            "expired": lot.expired, "expiring_soon": lot.lot_id in soon,
            "price_per_task": lot.price_per_task, "currency": lot.currency,
        } for lot in lots],
    }


def statement_page(session: Session, company_id: str, page: int,
                   tz: ZoneInfo) -> dict[str, Any]:
    """Entries ``PAGE_SIZE`` at a time, newest first, each with the balance and reserved
    figure after it; plus the newest money lines."""
    order = (E.posted_at.desc(), E.id.desc())
    skip = (page - 1) * PAGE_SIZE
    total_units, total_reserved = totals(session, company_id)
    newer_units = newer_reserved = 0
    if skip:
        newer = (select(E.units, E.reserved).where(E.company_id == company_id)
                 .order_by(*order).limit(skip).subquery())
        got = session.execute(select(func.coalesce(func.sum(newer.c.units), 0),
                                     func.coalesce(func.sum(newer.c.reserved), 0))).one()
        newer_units, newer_reserved = int(got[0]), int(got[1])
    rows = session.execute(
        select(E.id, E.posted_at, E.kind, E.ticket_key, E.task_type, E.units, E.reserved,
               E.flag, E.reason, E.lot_id)
        .where(E.company_id == company_id).order_by(*order)
        .offset(skip).limit(PAGE_SIZE + 1)).all()
    bal, res = total_units - newer_units, total_reserved - newer_reserved
    shown = rows[:PAGE_SIZE]
    money_rows = session.execute(
        select(MoneyLine.posted_at, MoneyLine.ticket_key, MoneyLine.amount, MoneyLine.currency,
               MoneyLine.reason)
        .where(MoneyLine.company_id == company_id)
        .order_by(MoneyLine.posted_at.desc(), MoneyLine.id.desc()).limit(MONEY_LIMIT)).all()
    refs = references(session, company_id,
                      [r.ticket_key for r in shown] + [m.ticket_key for m in money_rows])
    worth = _worth(session, company_id, shown)
    entries = []
    for r in shown:
        entries.append({
            "id": r.id, "posted_at": _local(r.posted_at, tz), "kind": r.kind,
            "ticket": _ticket_ref(r.ticket_key),
            "reference": entry_reference(r.ticket_key, refs), "task_type": r.task_type,
            "units": r.units, "reserved_change": r.reserved,
            **amount_fields(worth.get(r.id)),
            "balance": bal, "reserved": res, "flag": r.flag, "lot_id": r.lot_id,
            "note": r.reason if r.kind != EntryKind.BURN else None,
        })
        bal -= r.units
        res -= r.reserved
    money = [{
        "posted_at": _local(m.posted_at, tz), "ticket": _ticket_ref(m.ticket_key),
        "reference": entry_reference(m.ticket_key, refs),
        "amount": str(m.amount), "currency": m.currency, "reason": m.reason,
    } for m in money_rows]
    return {"page": page, "page_size": PAGE_SIZE, "more": len(rows) > PAGE_SIZE,
            "closing_balance": total_units, "entries": entries, "money": money}


def _worth(session: Session, company_id: str,
           rows: Sequence[Any]) -> dict[int, Amount | None]:
    """The money amount of each of ``rows`` (entries of one page) by entry id."""
    moving = [r.id for r in rows if r.units]
    if not moving:
        return {}
    moves: dict[int, list[tuple[int | None, int]]] = defaultdict(list)
    for entry_id, lot_id, units in session.execute(
            select(A.entry_id, A.lot_id, A.units).where(A.entry_id.in_(moving))
            .order_by(A.id)):
        moves[entry_id].append((lot_id, units))
    prices = load_prices(session, company_id)
    return {r.id: priced(r.units, moves.get(r.id, ()), prices) for r in rows if r.units}


def amount_fields(worth: Amount | None) -> dict[str, Any]:
    """An entry's money as the cabinet's JSON carries it: ``amount`` (text, signed like the
    units) and ``currency``; ``amounts`` per currency (several only when lots in different
    currencies met in one entry: then ``amount`` is None and ``currency`` ``mixed``)."""
    if worth is None:
        return {"amount": None, "currency": None, "amounts": {}}
    return {"amount": None if worth.amount is None else str(worth.amount),
            "currency": worth.currency,
            "amounts": {cur: str(cents) for cur, cents in worth.cents().items()}}


def _ticket_ref(key: str | None) -> str | None:
    """The host's ticket id from a ledger ticket key (``<connection>:<id>``)."""
    if not key:
        return None
    return key.split(":", 1)[1] if ":" in key else key
