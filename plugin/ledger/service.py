"""The task lifecycle on the ledger: reserve at acceptance, debit at completion, release, re-type.

Each function takes a session already in a transaction and the caller's ``now``; it locks the
company, burns expired lots, posts append-only entries with idempotency keys derived from
(ticket, cycle, operation), and never commits. A redelivered call returns the original entry
with status ``duplicate``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from plugin.ledger.accounts import (
    LedgerError,
    allocate,
    entry_by_key,
    lots_left,
    open_reservation,
    post,
    recheck_expiry,
    refund_settled,
    settle_debt,
    ticket_op_key,
    totals,
)
from plugin.ledger.expiry import burn_expired, lock_and_burn
from plugin.ledger.hotpath import found_again, insert_entry, read_state, take
from plugin.ledger.models import CreditAllocation, CreditEntry, EntryKind
from plugin.ledger.plans import HOLD, OVERDRAFT

RESERVED = "reserved"
HELD = "held"
NO_ACCOUNT = "no_account"
DUPLICATE = "duplicate"
DEBITED = "debited"
RELEASED = "released"
RETYPED = "retyped"
NOTHING = "nothing"


@dataclass(frozen=True)
class Result:
    """What a ledger call did: its status, the entry it posted (or found), and all it posted."""

    status: str
    entry: CreditEntry | None = None
    posted: tuple[CreditEntry, ...] = ()
    #: available credits after the call (balance − reserved)
    available: int | None = None
    flags: tuple[str, ...] = field(default_factory=tuple)

    @property
    def changed(self) -> bool:
        """Whether the balance or reservations moved (the host's balance needs a push)."""
        return bool(self.posted)


def _available(session: Session, company_id: str) -> int:
    balance, reserved = totals(session, company_id)
    return balance - reserved


def _check_policy(policy: str) -> None:
    if policy not in (HOLD, OVERDRAFT):
        raise LedgerError(f"unknown policy {policy!r}; use hold or overdraft")


def reserve(
    session: Session,
    company_id: str,
    ticket_key: str,
    cycle: int,
    units: int,
    now: datetime,
    policy: str = HOLD,
    is_bug: bool = False,
    task_type: str | None = None,
) -> Result:
    """Hold ``units`` for an accepted task; under ``hold`` refuse (status held) when short.

    Bugs are never held: when short they are reserved anyway and flagged ``overdraft``.
    """
    _check_policy(policy)
    if units < 0:
        raise LedgerError("units must be >= 0")
    burns = tuple(lock_and_burn(session, company_id, now))
    key = ticket_op_key(ticket_key, cycle, "reserve")
    st = read_state(session, company_id, key, ticket_key, cycle)
    available = st.available
    if st.found is not None:
        return Result(DUPLICATE, st.found, burns, available)
    if not st.has_account:
        return Result(NO_ACCOUNT, None, burns, flags=(NO_ACCOUNT,))
    short = units > available
    if short and policy == HOLD and not is_bug:
        return Result(HELD, None, burns, available, flags=(HELD,))
    values = {
        "company_id": company_id,
        "key": key,
        "kind": EntryKind.RESERVE,
        "units": 0,
        "reserved": units,
        "ticket_key": ticket_key,
        "cycle": cycle,
        "task_type": task_type,
        "flag": OVERDRAFT if short else None,
        "posted_at": now,
    }
    entry = insert_entry(session, values)
    if entry is None:
        return Result(DUPLICATE, found_again(session, key), burns, available)
    status = OVERDRAFT if short else RESERVED
    flags = (OVERDRAFT,) if short else ()
    return Result(status, entry, (*burns, entry), available - units, flags)


def _debit(
    session: Session,
    company_id: str,
    key: str,
    ticket_key: str,
    cycle: int,
    units: int,
    now: datetime,
    task_type: str | None,
) -> CreditEntry | None:
    """A debit that releases nothing (re-typing a completed task); None when already posted."""
    live = [[item.lot.id, item.remaining] for item in lots_left(session, company_id, live_at=now)]
    short = units > sum(n for _, n in live)
    values = {
        "company_id": company_id,
        "key": key,
        "kind": EntryKind.DEBIT,
        "units": -units,
        "reserved": 0,
        "ticket_key": ticket_key,
        "cycle": cycle,
        "task_type": task_type,
        "flag": OVERDRAFT if short else None,
        "posted_at": now,
    }
    if entry_by_key(session, key) is not None:
        return None
    return insert_entry(session, values, take(units, live))


def complete(
    session: Session,
    company_id: str,
    ticket_key: str,
    cycle: int,
    units: int,
    now: datetime,
    task_type: str | None = None,
) -> Result:
    """Take ``units`` at resolution or auto-close, once per (ticket, cycle).

    Consumes the cycle's open reservation and draws from the soonest-expiring live lots,
    spanning lots as needed; what no live lot covers becomes flagged overdraft debt.
    """
    if units < 0:
        raise LedgerError("units must be >= 0")
    burns = tuple(lock_and_burn(session, company_id, now))
    key = ticket_op_key(ticket_key, cycle, "debit")
    st = read_state(session, company_id, key, ticket_key, cycle, now)
    if st.found is not None:
        return Result(DUPLICATE, st.found, burns, st.available)
    if st.held == 0 and not st.has_account:
        return Result(NO_ACCOUNT, None, burns, flags=(NO_ACCOUNT,))
    short = units > sum(n for _, n in st.live)
    values = {
        "company_id": company_id,
        "key": key,
        "kind": EntryKind.DEBIT,
        "units": -units,
        "reserved": -st.held,
        "ticket_key": ticket_key,
        "cycle": cycle,
        "task_type": task_type,
        "flag": OVERDRAFT if short else None,
        "posted_at": now,
    }
    entry = insert_entry(session, values, take(units, st.live))
    if entry is None:
        return Result(DUPLICATE, found_again(session, key), burns)
    flags = (OVERDRAFT,) if short else ()
    after = st.available - units + st.held
    return Result(DEBITED, entry, (*burns, entry), after, flags)


def release(
    session: Session, company_id: str, ticket_key: str, cycle: int, now: datetime, reason: str
) -> Result:
    """Drop the cycle's open reservation (task cancelled, merged or deleted)."""
    burns = tuple(lock_and_burn(session, company_id, now))
    key = ticket_op_key(ticket_key, cycle, "release")
    st = read_state(session, company_id, key, ticket_key, cycle)
    if st.found is not None:
        return Result(DUPLICATE, st.found, burns, st.available)
    if st.held == 0:
        return Result(NOTHING, None, burns, st.available)
    values = {
        "company_id": company_id,
        "key": key,
        "kind": EntryKind.RELEASE,
        "units": 0,
        "reserved": -st.held,
        "ticket_key": ticket_key,
        "cycle": cycle,
        "reason": reason,
        "posted_at": now,
    }
    entry = insert_entry(session, values)
    if entry is None:
        return Result(DUPLICATE, found_again(session, key), burns, st.available)
    return Result(RELEASED, entry, (*burns, entry), st.available + st.held)


def current_debit(
    session: Session, company_id: str, ticket_key: str, cycle: int
) -> CreditEntry | None:
    """The cycle's debit that no reversal has undone yet."""
    reversed_ids = select(CreditEntry.reverses_id).where(
        CreditEntry.company_id == company_id, CreditEntry.reverses_id.is_not(None)
    )
    q = (
        select(CreditEntry)
        .where(
            CreditEntry.company_id == company_id,
            CreditEntry.ticket_key == ticket_key,
            CreditEntry.cycle == cycle,
            CreditEntry.kind == EntryKind.DEBIT,
            CreditEntry.id.not_in(reversed_ids),
        )
        .order_by(CreditEntry.id.desc())
        .limit(1)
    )
    return session.execute(q).scalar_one_or_none()


def live_debit_cycle(
    session: Session, company_id: str, ticket_key: str, top: int
) -> int | None:
    """The cycle (``top`` or earlier) holding the ticket's live debit, None when none does.

    The ledger keeps every re-typed debit in the cycle of the first debit, while the engine
    bumps its own cycle on each re-type: processing and replay ask here which one it is.
    """
    for cycle in range(top, -1, -1):
        if current_debit(session, company_id, ticket_key, cycle) is not None:
            return cycle
    return None


def _count(session: Session, company_id: str, ticket_key: str, cycle: int, kind: str) -> int:
    q = (
        select(func.count())
        .select_from(CreditEntry)
        .where(
            CreditEntry.company_id == company_id,
            CreditEntry.ticket_key == ticket_key,
            CreditEntry.cycle == cycle,
            CreditEntry.kind == kind,
        )
    )
    return int(session.execute(q).scalar_one())


def retype(
    session: Session,
    company_id: str,
    ticket_key: str,
    cycle: int,
    new_units: int,
    now: datetime,
    policy: str = HOLD,
    task_type: str | None = None,
    key: str | None = None,
) -> Result:
    """Re-type a task: after completion, an exact reversal of the debit plus a new debit;
    before completion, the reservation is swapped for one of ``new_units``.

    Calling it again with the charge already at ``new_units`` (or the same ``key``) posts
    nothing and returns status duplicate.
    """
    _check_policy(policy)
    if new_units < 0:
        raise LedgerError("units must be >= 0")
    burns = lock_and_burn(session, company_id, now)
    if key is not None and (found := entry_by_key(session, f"{key}:debit")) is not None:
        return Result(DUPLICATE, found, tuple(burns))
    debit = current_debit(session, company_id, ticket_key, cycle)
    if debit is not None:
        if -debit.units == new_units and task_type in (None, debit.task_type):
            return Result(DUPLICATE, debit, tuple(burns), _available(session, company_id))
        return _retype_debit(session, debit, new_units, now, task_type, key, burns)
    held = open_reservation(session, company_id, ticket_key, cycle)
    if held == 0:
        return Result(NOTHING, None, tuple(burns), _available(session, company_id))
    if held == new_units:
        return Result(DUPLICATE, None, tuple(burns), _available(session, company_id))
    available = _available(session, company_id)
    short = new_units - held > available
    if short and policy == HOLD:
        return Result(HELD, None, tuple(burns), available, flags=(HELD,))
    n = _count(session, company_id, ticket_key, cycle, EntryKind.RESERVE)
    base = key or ticket_op_key(ticket_key, cycle, f"retype:{n}")
    common = {
        "company_id": company_id,
        "ticket_key": ticket_key,
        "cycle": cycle,
        "units": 0,
        "posted_at": now,
    }
    rel, _ = post(
        session,
        CreditEntry(
            key=f"{base}:release",
            kind=EntryKind.RELEASE,
            reserved=-held,
            reason="re-typed",
            **common,
        ),
    )
    res, _ = post(
        session,
        CreditEntry(
            key=f"{base}:reserve",
            kind=EntryKind.RESERVE,
            reserved=new_units,
            task_type=task_type,
            flag=OVERDRAFT if short else None,
            **common,
        ),
    )
    status = OVERDRAFT if short else RETYPED
    return Result(
        status,
        res,
        (*burns, rel, res),
        _available(session, company_id),
        (OVERDRAFT,) if short else (),
    )


def _retype_debit(
    session: Session,
    debit: CreditEntry,
    new_units: int,
    now: datetime,
    task_type: str | None,
    key: str | None,
    burns: list[CreditEntry],
) -> Result:
    company_id, ticket_key, cycle = debit.company_id, debit.ticket_key or "", debit.cycle or 0
    n = _count(session, company_id, ticket_key, cycle, EntryKind.REVERSAL) + 1
    base = key or ticket_op_key(ticket_key, cycle, f"retype:{n}")
    rev, _ = post(
        session,
        CreditEntry(
            company_id=company_id,
            key=f"{base}:reversal",
            kind=EntryKind.REVERSAL,
            units=-debit.units,
            reserved=0,
            ticket_key=ticket_key,
            cycle=cycle,
            task_type=debit.task_type,
            reverses_id=debit.id,
            reason="re-typed",
            posted_at=now,
        ),
    )
    # exact: every unit goes back where it came from (an expired lot burns again below)
    moves = session.execute(
        select(CreditAllocation.lot_id, CreditAllocation.units).where(
            CreditAllocation.entry_id == debit.id
        )
    ).all()
    for lot_id, units in moves:
        allocate(session, rev, lot_id, -units)
    session.flush()
    moved = [
        refund_settled(session, rev, company_id, now),
        settle_debt(session, rev, company_id, now),
    ]
    new = _debit(
        session,
        company_id,
        f"{base}:debit",
        ticket_key,
        cycle,
        new_units,
        now,
        task_type or debit.task_type,
    )
    later_burns = burn_expired(session, company_id, now)
    # the reversal and the refund put credits back into lots: the cursor must look again
    recheck_expiry(session, company_id)
    posted = (*burns, rev, *(e for e in moved if e), *([new] if new else []), *later_burns)
    flags = (OVERDRAFT,) if new is not None and new.flag == OVERDRAFT else ()
    return Result(RETYPED, new, posted, _available(session, company_id), flags)
