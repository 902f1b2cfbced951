"""Burning what is left in expired lots: a scheduled job, and a step of every mutation."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from plugin.ledger.accounts import (
    allocate,
    lock_company,
    lots_left,
    next_expiry,
    post,
    set_checked_until,
)
from plugin.ledger.models import CreditEntry, EntryKind
from plugin.storage.models import Company


def burn_expired(session: Session, company_id: str, now: datetime) -> list[CreditEntry]:
    """Burn the company's expired remainders; the caller holds the company lock.

    The key counts earlier burns of the lot, so a second run finds nothing left and posts
    nothing, while credits a reversal put back into an expired lot burn in a new entry.
    """
    burns: list[CreditEntry] = []
    for item in lots_left(session, company_id, expired_at=now):
        done = session.execute(
            select(func.count())
            .select_from(CreditEntry)
            .where(CreditEntry.lot_id == item.lot.id, CreditEntry.kind == EntryKind.BURN)
        ).scalar_one()
        entry, new = post(
            session,
            CreditEntry(
                company_id=company_id,
                key=f"burn:{item.lot.id}:{done + 1}",
                kind=EntryKind.BURN,
                units=-item.remaining,
                reserved=0,
                lot_id=item.lot.id,
                reason=f"lot {item.lot.id} expired {item.lot.expires_at.isoformat()}",
                posted_at=now,
            ),
        )
        if new:
            allocate(session, entry, item.lot.id, -item.remaining)
            burns.append(entry)
    if burns:
        session.flush()
    return burns


def lock_and_burn(
    session: Session, company_id: str, now: datetime, force: bool = False
) -> list[CreditEntry]:
    """Lock the company and burn its expired lots, unless its cursor says none can be.

    The cursor (``Company.credits_checked_until``) is the soonest expiry of a lot that
    still held credits at the last look; until ``now`` reaches it there is nothing to burn,
    which spares the per-ticket calls a lots query under the lock.
    """
    until = lock_company(session, company_id, now)
    if not force and until is not None and now < until:
        return []
    burns = burn_expired(session, company_id, now)
    soonest = next_expiry(session, company_id)
    if soonest != until:
        set_checked_until(session, company_id, soonest)
    return burns


def expire_lots(
    session: Session, now: datetime, company_id: str | None = None
) -> list[CreditEntry]:
    """Burn every expired remainder (one company, or all); running it twice changes nothing."""
    if company_id is not None:
        companies = [company_id]
    else:
        # every writer keeps the cursor at or before the soonest expiry of a lot holding
        # credits (NULL: not looked yet), so only these companies can have anything to burn
        due = select(Company.id).where(
            or_(Company.credits_checked_until.is_(None), Company.credits_checked_until <= now)
        )
        companies = sorted(session.execute(due).scalars())
    burns: list[CreditEntry] = []
    # one lock at a time in id order: the only multi-company locker can't deadlock the others
    for cid in companies:
        # the job is the safety net: it looks whatever the cursor says
        burns += lock_and_burn(session, cid, now, force=True)
    return burns
