"""Building blocks every ledger operation shares: the company lock, posting, sums, allocation.

Callers pass a session already inside a transaction; nothing here commits or reads the clock.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session

from plugin.ledger.models import CreditAllocation, CreditEntry, CreditLot, EntryKind
from plugin.storage.models import Company


class LedgerError(Exception):
    """A ledger operation was refused (bad arguments, below the plan's minimum)."""


@dataclass
class LotLeft:
    """A lot and what is left in it."""

    lot: CreditLot
    remaining: int


def is_postgres(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def ticket_op_key(ticket_key: str, cycle: int, op: str) -> str:
    """The idempotency key of one operation on one lifecycle cycle of a ticket."""
    return f"t:{ticket_key}:{cycle}:{op}"


#: the expiry cursor when no lot holds credits (nothing can expire until one is bought)
NEVER = datetime(9999, 1, 1, tzinfo=UTC)


# built once: constructing a statement costs more than running it on the hot path
_CURSOR = select(Company.credits_checked_until).where(Company.id == bindparam("company"))
_LOCK = _CURSOR.with_for_update()
_BY_KEY = select(CreditEntry).where(CreditEntry.key == bindparam("key"))
_DEBT = select(func.coalesce(func.sum(CreditAllocation.units), 0)).where(
    CreditAllocation.company_id == bindparam("company"), CreditAllocation.lot_id.is_(None)
)


def lock_company(session: Session, company_id: str, now: datetime) -> datetime | None:
    """Serialise every mutation of one company's credits; returns its expiry cursor.

    PostgreSQL: a row lock on the company, created first when missing, held until the
    caller's transaction ends (the locked row is read after the wait, so the cursor is
    current). SQLite: BEGIN IMMEDIATE already serialises all writers, so the row only has
    to exist.
    """
    # the reads below run on the connection (no ORM autoflush): write what is pending first
    session.flush()
    params = {"company": company_id}
    if is_postgres(session):
        found = session.connection().execute(_LOCK, params).first()
        if found is None:
            session.execute(
                pg_insert(Company)
                .values(id=company_id, created_at=now)
                .on_conflict_do_nothing(index_elements=["id"])
            )
            found = session.connection().execute(_LOCK, params).first()
        return found[0] if found else None
    found = session.connection().execute(_CURSOR, params).first()
    if found is None:
        session.add(Company(id=company_id, created_at=now))
        session.flush()
        return None
    return found[0]


def set_checked_until(session: Session, company_id: str, until: datetime | None) -> None:
    session.execute(
        update(Company).where(Company.id == company_id).values(credits_checked_until=until),
        execution_options={"synchronize_session": False},
    )


def recheck_expiry(session: Session, company_id: str) -> None:
    """Credits went back into older lots (a reversal, a refund): look again next call."""
    set_checked_until(session, company_id, None)


def lower_checked_until(session: Session, company_id: str, expires_at: datetime) -> None:
    """A new lot holds credits until ``expires_at``: the cursor must not pass it."""
    session.execute(
        update(Company)
        .where(Company.id == company_id, Company.credits_checked_until > expires_at)
        .values(credits_checked_until=expires_at),
        execution_options={"synchronize_session": False},
    )


def next_expiry(session: Session, company_id: str) -> datetime:
    """When the soonest lot that still holds credits expires (``NEVER`` when none does)."""
    left = (
        select(CreditAllocation.lot_id)
        .where(CreditAllocation.company_id == company_id, CreditAllocation.lot_id.is_not(None))
        .group_by(CreditAllocation.lot_id)
        .having(func.sum(CreditAllocation.units) > 0)
    )
    soonest = session.execute(
        select(func.min(CreditLot.expires_at)).where(CreditLot.id.in_(left))
    ).scalar()
    return soonest or NEVER


def entry_by_key(session: Session, key: str) -> CreditEntry | None:
    return session.execute(_BY_KEY, {"key": key}).scalar_one_or_none()


def post(session: Session, entry: CreditEntry, checked: bool = False) -> tuple[CreditEntry, bool]:
    """Insert ``entry`` unless its key exists; returns (the entry with that key, inserted?).

    ``checked``: the caller already looked the key up under the company lock. Under the lock
    a duplicate key is found by the lookup; ``ON CONFLICT DO NOTHING`` covers the race the
    lock cannot (the same key posted for two companies at once) in one round trip, where a
    savepoint would take three.
    """
    if not checked:
        existing = entry_by_key(session, entry.key)
        if existing is not None:
            return existing, False
    if not is_postgres(session):
        session.add(entry)
        session.flush()
        return entry, True
    values = {
        col.key: getattr(entry, col.key)
        for col in CreditEntry.__table__.columns
        if col.key != "id" and getattr(entry, col.key) is not None
    }
    stmt = (
        pg_insert(CreditEntry)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["key"])
        .returning(CreditEntry)
    )
    inserted = session.scalars(stmt).first()
    if inserted is not None:
        return inserted, True
    original = entry_by_key(session, entry.key)
    if original is None:  # pragma: no cover - a conflict means the row exists
        raise LedgerError(f"entry {entry.key} conflicted but cannot be found")
    return original, False


def allocate(session: Session, entry: CreditEntry, lot_id: int | None, units: int) -> None:
    if units:
        session.add(
            CreditAllocation(
                entry_id=entry.id, company_id=entry.company_id, lot_id=lot_id, units=units
            )
        )


def has_account(session: Session, company_id: str) -> bool:
    """A company has an account once anything was posted for it (a package, a grant, an
    adjustment); reservations and debits need one first, so this is "ever bought or set up"."""
    q = select(CreditEntry.id).where(CreditEntry.company_id == company_id).limit(1)
    return session.execute(q).first() is not None


def totals(session: Session, company_id: str, at: datetime | None = None) -> tuple[int, int]:
    """(balance, reserved): sums of the entries posted up to ``at``."""
    q = select(
        func.coalesce(func.sum(CreditEntry.units), 0),
        func.coalesce(func.sum(CreditEntry.reserved), 0),
    ).where(CreditEntry.company_id == company_id)
    if at is not None:
        q = q.where(CreditEntry.posted_at <= at)
    balance, reserved = session.execute(q).one()
    return int(balance), int(reserved)


def open_reservation(session: Session, company_id: str, ticket_key: str, cycle: int) -> int:
    q = select(func.coalesce(func.sum(CreditEntry.reserved), 0)).where(
        CreditEntry.company_id == company_id,
        CreditEntry.ticket_key == ticket_key,
        CreditEntry.cycle == cycle,
    )
    return int(session.execute(q).scalar_one())


def lots_left(
    session: Session,
    company_id: str | None,
    *,
    live_at: datetime | None = None,
    expired_at: datetime | None = None,
    positive: bool = True,
) -> list[LotLeft]:
    """Lots with what is left in them, soonest-expiring first.

    ``live_at``: only lots still valid at that instant; ``expired_at``: only lots expired by
    then; ``company_id`` None: every company (the expiry job).
    """
    left = func.sum(CreditAllocation.units)
    q = (
        select(CreditLot, left)
        .join(CreditAllocation, CreditAllocation.lot_id == CreditLot.id)
        .group_by(CreditLot.id)
        .order_by(CreditLot.expires_at, CreditLot.id)
    )
    if company_id is not None:
        q = q.where(CreditLot.company_id == company_id)
    if live_at is not None:
        q = q.where(CreditLot.expires_at > live_at, CreditLot.purchased_at <= live_at)
    if expired_at is not None:
        q = q.where(CreditLot.expires_at <= expired_at)
    if positive:
        q = q.having(left > 0)
    return [LotLeft(lot, int(n)) for lot, n in session.execute(q).all()]


def debt(session: Session, company_id: str) -> int:
    """Credits taken that no lot covered (overdraft), not yet settled by a later purchase."""
    return -int(session.execute(_DEBT, {"company": company_id}).scalar_one())


def consume(session: Session, entry: CreditEntry, units: int, live: Sequence[LotLeft]) -> int:
    """Take ``units`` from the live lots, soonest-expiring first; returns the shortfall.

    The shortfall becomes debt (an allocation with no lot) so the entry's units always equal
    the sum of its allocations.
    """
    need = units
    for item in live:
        if need <= 0:
            break
        take = min(item.remaining, need)
        allocate(session, entry, item.lot.id, -take)
        item.remaining -= take
        need -= take
    if need > 0:
        allocate(session, entry, None, -need)
    return max(need, 0)


def settle_debt(
    session: Session, cause: CreditEntry, company_id: str, now: datetime
) -> CreditEntry | None:
    """Cover outstanding debt from live lots, in an entry of its own after ``cause``.

    Keeping it apart leaves ``cause`` exact (a reversal mirrors its debit line by line).
    """
    owed = debt(session, company_id)
    if owed <= 0:
        return None
    live = lots_left(session, company_id, live_at=now)
    if not live:
        return None
    entry, new = post(
        session,
        CreditEntry(
            company_id=company_id,
            key=f"settle:{cause.key}",
            kind=EntryKind.SETTLE,
            units=0,
            reserved=0,
            reason=f"overdraft covered after {cause.kind} {cause.id}",
            posted_at=now,
        ),
    )
    if not new:
        return None
    for item in live:
        take = min(item.remaining, owed)
        allocate(session, entry, item.lot.id, -take)
        allocate(session, entry, None, take)
        owed -= take
        if owed == 0:
            break
    session.flush()
    return entry


def refund_settled(
    session: Session, cause: CreditEntry, company_id: str, now: datetime
) -> CreditEntry | None:
    """Give back to lots what they paid towards debt that a reversal has since cancelled.

    A debit taken on overdraft and later covered by a package, then reversed, leaves the
    debt bucket positive; those credits return to the lots that covered the debt, latest
    settlement first (an expired lot burns them again).
    """
    surplus = -debt(session, company_id)
    if surplus <= 0:
        return None
    settled = func.sum(CreditAllocation.units)
    rows = session.execute(
        select(CreditAllocation.lot_id, -settled, func.max(CreditAllocation.id))
        .join(CreditEntry, CreditEntry.id == CreditAllocation.entry_id)
        .where(
            CreditAllocation.company_id == company_id,
            CreditAllocation.lot_id.is_not(None),
            CreditEntry.kind == EntryKind.SETTLE,
        )
        .group_by(CreditAllocation.lot_id)
        .having(settled < 0)
        .order_by(func.max(CreditAllocation.id).desc())
    ).all()
    if not rows:
        return None
    entry, new = post(
        session,
        CreditEntry(
            company_id=company_id,
            key=f"refund:{cause.key}",
            kind=EntryKind.SETTLE,
            units=0,
            reserved=0,
            reason=f"overdraft no longer owed after {cause.kind} {cause.id}",
            posted_at=now,
        ),
    )
    if not new:
        return None
    for lot_id, paid, _ in rows:
        back = min(int(paid), surplus)
        allocate(session, entry, lot_id, back)
        allocate(session, entry, None, -back)
        surplus -= back
        if surplus == 0:
            break
    session.flush()
    return entry
