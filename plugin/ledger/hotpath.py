"""The per-ticket calls' hot path: one read under the company lock, one write.

``reserve``, ``complete`` and ``release`` run while holding the company's row lock, so every
statement there is paid by every other worker waiting on that company. Here each call
reads everything it decides on in one statement (the entry under its key, the company's
sums, the ticket's open reservation and, for a debit, the live lots) and posts its entry
with its allocations in one more (a data-modifying CTE on PostgreSQL).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from typing import Any

from sqlalchemy import bindparam, func, insert, select, text, true
from sqlalchemy.orm import Session

from plugin.ledger.accounts import entry_by_key, is_postgres
from plugin.ledger.models import CreditAllocation, CreditEntry, CreditLot

#: the columns an entry is posted with (``id`` comes back from the insert)
ENTRY_COLUMNS = tuple(c.key for c in CreditEntry.__table__.columns if c.key != "id")


@dataclass
class State:
    """What a call decides on, read in one statement under the company lock."""

    found: CreditEntry | None
    balance: int
    reserved: int
    has_account: bool
    #: the (ticket, cycle)'s open reservation
    held: int
    #: live lots with credits left, soonest-expiring first: [lot id, units left]
    live: list[list[int]]

    @property
    def available(self) -> int:
        return self.balance - self.reserved


@cache  # built once: constructing the expressions costs more than running them
def _state_statement(with_lots: bool) -> Any:
    company: Any = bindparam("company")
    e = CreditEntry
    sums = (
        select(
            func.coalesce(func.sum(e.units), 0).label("balance"),
            func.coalesce(func.sum(e.reserved), 0).label("reserved"),
            func.count().label("n"),
            select(func.coalesce(func.sum(e.reserved), 0))
            .where(
                e.company_id == company,
                e.ticket_key == bindparam("ticket"),
                e.cycle == bindparam("cycle"),
            )
            .scalar_subquery()
            .label("held"),
        )
        .where(e.company_id == company)
        .subquery("s")
    )
    # the entry under the key as plain columns (id first; NULL when there is none)
    entry_cols = [CreditEntry.id, *(getattr(CreditEntry, c) for c in ENTRY_COLUMNS)]
    cols: list[Any] = [sums.c.balance, sums.c.reserved, sums.c.n, sums.c.held, *entry_cols]
    q: Any
    if not with_lots:
        q = select(*cols).select_from(sums)
    else:
        now: Any = bindparam("now")
        left = func.sum(CreditAllocation.units)
        lots = (
            select(CreditLot.id, CreditLot.expires_at, left.label("left"))
            .join(CreditAllocation, CreditAllocation.lot_id == CreditLot.id)
            .where(
                CreditLot.company_id == company,
                CreditLot.expires_at > now,
                CreditLot.purchased_at <= now,
            )
            .group_by(CreditLot.id, CreditLot.expires_at)
            .having(left > 0)
            .subquery("l")
        )
        # one row per live lot (or one with no lot), each carrying the scalars
        q = (
            select(lots.c.id, lots.c.left, *cols)
            .select_from(sums)
            .outerjoin(lots, true())
            .order_by(lots.c.expires_at, lots.c.id)
        )
    return q.outerjoin(CreditEntry, CreditEntry.key == bindparam("key"))



def read_state(
    session: Session,
    company_id: str,
    key: str,
    ticket_key: str,
    cycle: int,
    now: datetime | None = None,
) -> State:
    """The call's whole decision input; ``now`` given: the live lots too (for a debit)."""
    with_lots = now is not None
    stmt = _state_statement(with_lots)
    params: dict[str, Any] = {
        "company": company_id,
        "key": key,
        "ticket": ticket_key,
        "cycle": cycle,
    }
    if with_lots:
        params["now"] = now
    # Core execution on the session's connection: no ORM compile or entity loading here
    rows = session.connection().execute(stmt, params).all()
    first = rows[-1]
    skip = 2 if with_lots else 0
    live = [[r[0], int(r[1])] for r in rows if with_lots and r[0] is not None]
    bal, res, n, held, entry_id = first[skip : skip + 5]
    found = None
    if entry_id is not None:
        found = CreditEntry(id=entry_id, **dict(zip(ENTRY_COLUMNS, first[skip + 5 :], strict=True)))
    return State(found, int(bal), int(res), n > 0, int(held), live)


def take(units: int, live: Sequence[list[int]]) -> list[tuple[int | None, int]]:
    """Allocations taking ``units`` soonest-expiring first; the shortfall is debt (no lot)."""
    moves: list[tuple[int | None, int]] = []
    need = units
    for item in live:
        if need <= 0:
            break
        n = min(item[1], need)
        moves.append((item[0], -n))
        item[1] -= n
        need -= n
    if need > 0:
        moves.append((None, -need))
    return moves


def _cte_sql(moves: int) -> str:
    cols = ", ".join(ENTRY_COLUMNS)
    params = ", ".join(f":{c}" for c in ENTRY_COLUMNS)
    sql = (
        f"WITH e AS (INSERT INTO credit_entries ({cols}) VALUES ({params}) "
        "ON CONFLICT (key) DO NOTHING RETURNING id)"
    )
    if moves:
        rows = ", ".join(f"(CAST(:l{i} AS INTEGER), CAST(:u{i} AS INTEGER))" for i in range(moves))
        sql += (
            ", a AS (INSERT INTO credit_allocations (entry_id, company_id, lot_id, units) "
            f"SELECT e.id, :company_id, v.lot_id, v.units FROM e, (VALUES {rows}) "
            "AS v(lot_id, units))"
        )
    return sql + " SELECT id FROM e"


@cache
def _cte(moves: int) -> Any:
    return text(_cte_sql(moves))


_INSERT_ENTRY = insert(CreditEntry).returning(CreditEntry.id)


def insert_entry(
    session: Session, values: dict[str, Any], moves: Sequence[tuple[int | None, int]] = ()
) -> CreditEntry | None:
    """Post an entry and its allocations; None when its key exists already.

    The returned entry is built from ``values`` and the new id (not loaded back: the
    caller only reads it).
    """
    row = {c: values.get(c) for c in ENTRY_COLUMNS}
    moves = [m for m in moves if m[1]]
    if is_postgres(session):
        stmt = _cte(len(moves))
        params = dict(row, posted_at=values["posted_at"].astimezone(UTC))
        for i, (lot_id, units) in enumerate(moves):
            params[f"l{i}"], params[f"u{i}"] = lot_id, units
        new_id = session.connection().execute(stmt, params).scalar()
        if new_id is None:
            return None
    else:
        # writers are serialised (BEGIN IMMEDIATE) and the key was looked up: no conflict
        conn = session.connection()
        new_id = conn.execute(_INSERT_ENTRY, row).scalar_one()
        if moves:
            conn.execute(
                insert(CreditAllocation),
                [
                    {"entry_id": new_id, "company_id": row["company_id"], "lot_id": lot, "units": u}
                    for lot, u in moves
                ],
            )
    return CreditEntry(id=new_id, **row)


def found_again(session: Session, key: str) -> CreditEntry:
    """The entry a concurrent post under the same key won with."""
    found = entry_by_key(session, key)
    if found is None:  # pragma: no cover - a conflict means the row exists
        raise RuntimeError(f"entry {key} conflicted but cannot be found")
    return found
