"""A rule-based state machine over the ledger, checked against a small in-memory model.

The model keeps lots (soonest-expiring first), debt, reservations and each ticket's charge;
after every step the database must agree with it and with the ledger's own invariants.
``bench/ledger.py --machine-steps`` runs the same machine for longer.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule
from sqlalchemy import func, select, text
from sqlalchemy.pool import StaticPool

import plugin.tables  # noqa: F401  (every table on the metadata)
from plugin import ledger
from plugin.ledger.models import CreditEntry
from plugin.storage import Database

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
CO = "acme"
TICKETS = 6


@dataclass
class Lot:
    id: int
    bought: datetime
    expires: datetime
    remaining: int


@dataclass
class Ticket:
    cycle: int = 0
    units: int = 1
    is_bug: bool = False
    #: cycle -> allocations of its current debit, as (lot id or None, units)
    debits: dict[int, list[tuple[int | None, int]]] = field(default_factory=dict)
    #: cycle -> the charge the ledger should hold for it
    charge: dict[int, int] = field(default_factory=dict)
    #: cycle -> open reservation
    reserved: dict[int, int] = field(default_factory=dict)
    keys: set[tuple[int, str]] = field(default_factory=set)


class Model:
    """What the ledger should hold, computed the plain way."""

    def __init__(self) -> None:
        self.now = T0
        self.lots: list[Lot] = []
        self.balance = 0
        self.debt = 0
        self.excused = False  # available may be negative: expiry or a bug's overdraft
        self.account = False  # anything ever posted (a package or an adjustment)
        #: lot id -> credits it paid towards debt (net), and when it last moved
        self.settled: dict[int, int] = {}
        self.last_move: dict[int, int] = {}
        self.seq = 0
        self.tickets = [Ticket() for _ in range(TICKETS)]

    @property
    def reserved(self) -> int:
        return sum(sum(t.reserved.values()) for t in self.tickets)

    @property
    def available(self) -> int:
        return self.balance - self.reserved

    def live(self) -> list[Lot]:
        return sorted(
            (x for x in self.lots if x.bought <= self.now < x.expires and x.remaining > 0),
            key=lambda x: (x.expires, x.id),
        )

    def excuse(self) -> None:
        # debits of finished work and admin corrections are posted even when short (flagged
        # overdraft); only a reservation is ever refused under hold
        if self.available < 0:
            self.excused = True

    def burn(self) -> None:
        for lot in self.lots:
            if lot.expires <= self.now and lot.remaining:
                self.balance -= lot.remaining
                lot.remaining = 0
                if self.available < 0:
                    self.excused = True

    def take(self, units: int) -> list[tuple[int | None, int]]:
        moves: list[tuple[int | None, int]] = []
        need = units
        for lot in self.live():
            if need == 0:
                break
            n = min(lot.remaining, need)
            lot.remaining -= n
            need -= n
            moves.append((lot.id, -n))
        if need:
            self.debt += need
            moves.append((None, -need))
        self.balance -= units
        return moves

    def settle(self) -> None:
        for lot in self.live():
            if self.debt <= 0:
                break
            n = min(lot.remaining, self.debt)
            lot.remaining -= n
            self.debt -= n
            self.settled[lot.id] = self.settled.get(lot.id, 0) + n
            self.seq += 1
            self.last_move[lot.id] = self.seq

    def refund(self) -> None:
        """Debt a reversal cancelled goes back to the lots that paid it, latest first."""
        surplus = -self.debt
        owed = [lot_id for lot_id, n in self.settled.items() if n > 0]
        for lot_id in sorted(owed, key=lambda x: -self.last_move[x]):
            if surplus <= 0:
                break
            back = min(self.settled[lot_id], surplus)
            next(x for x in self.lots if x.id == lot_id).remaining += back
            self.settled[lot_id] -= back
            self.debt += back
            surplus -= back
            self.seq += 1
            self.last_move[lot_id] = self.seq

    def restore(self, moves: list[tuple[int | None, int]]) -> None:
        for lot_id, units in moves:
            if lot_id is None:
                self.debt += units
            else:
                next(x for x in self.lots if x.id == lot_id).remaining -= units
            self.balance -= units


#: one in-memory database on one connection for the whole run: a step pays for its ledger
#: call and one check query, never for engine, connection or schema work
_DB: Database | None = None
#: emptied between examples, children first
_TABLES = ("credit_allocations", "credit_money_lines", "credit_entries", "credit_lots", "companies")


def _database() -> Database:
    global _DB
    if _DB is None:
        _DB = Database("sqlite://", poolclass=StaticPool)
        _DB.create_all()
    else:
        with _DB.session() as s:
            for table in _TABLES:
                s.execute(text(f"DELETE FROM {table}"))
    return _DB


#: every figure the model is compared with, and every structural invariant, in one query
CHECK = text(
    """
    SELECT 'total', NULL, coalesce(sum(units), 0), coalesce(sum(reserved), 0)
      FROM credit_entries
    UNION ALL
    SELECT 'lot', lot_id, sum(units), 0 FROM credit_allocations GROUP BY lot_id
    UNION ALL
    SELECT 'ticket', ticket_key, sum(units), 0 FROM credit_entries
     WHERE kind IN ('debit', 'reversal') GROUP BY ticket_key
    UNION ALL
    SELECT 'entry-is-not-its-allocations', NULL, count(*), 0 FROM credit_entries e
     WHERE e.units != coalesce(
        (SELECT sum(a.units) FROM credit_allocations a WHERE a.entry_id = e.id), 0)
    UNION ALL
    SELECT 'lot-used-after-expiry', NULL, count(*), 0 FROM credit_allocations a
      JOIN credit_entries e ON e.id = a.entry_id JOIN credit_lots l ON l.id = a.lot_id
     WHERE a.units < 0 AND e.kind != 'burn' AND e.posted_at >= l.expires_at
    UNION ALL
    SELECT 'reversal-not-exact', NULL, count(*), 0 FROM (
        SELECT rid, lot, u FROM (
            SELECT r.id AS rid, coalesce(a.lot_id, 0) AS lot, a.units AS u, 1 AS side
              FROM credit_entries r JOIN credit_allocations a ON a.entry_id = r.id
             WHERE r.kind = 'reversal'
            UNION ALL
            SELECT r.id, coalesce(a.lot_id, 0), -a.units, -1
              FROM credit_entries r JOIN credit_allocations a ON a.entry_id = r.reverses_id
             WHERE r.kind = 'reversal'
        ) GROUP BY rid, lot, u HAVING sum(side) != 0
    )
    """
)
PROBLEMS = ("entry-is-not-its-allocations", "lot-used-after-expiry", "reversal-not-exact")


class LedgerMachine(RuleBasedStateMachine):
    """Purchases, acceptances, completions, duplicates, reopen, re-type, merge, expiry, time."""

    def __init__(self) -> None:
        super().__init__()
        self.db = _database()
        self.m = Model()
        self.n = 0

    def teardown(self) -> None:
        # the public read (four queries, expiry applied at read time) once per example
        m = self.m
        with self.db.session() as s:
            bal = ledger.balance(s, CO, m.now)
        live = {x.id: (0 if x.expires <= m.now else x.remaining) for x in m.lots}
        unburned = sum(x.remaining for x in m.lots if x.expires <= m.now)
        assert bal.balance == m.balance - unburned
        assert (bal.reserved, bal.debt, bal.has_account) == (m.reserved, m.debt, m.account)
        assert {x.lot_id: x.remaining for x in bal.lots} == live

    # --- rules -----------------------------------------------------------------------
    @rule(tasks=st.integers(10, 14))
    def buy(self, tasks: int) -> None:
        m = self.m
        self.n += 1
        with self.db.session() as s:
            p = ledger.purchase(s, CO, tasks, Decimal("350"), "UAH", m.now, key=f"buy-{self.n}")
        m.burn()
        m.account = True
        m.lots.append(Lot(p.lot.id, m.now, m.now + timedelta(days=90), tasks))
        m.balance += tasks
        m.settle()

    @rule(units=st.integers(-3, 3).filter(bool))
    def adjust(self, units: int) -> None:
        m = self.m
        self.n += 1
        with self.db.session() as s:
            entry, new = ledger.adjust(s, CO, units, "fix", "admin", m.now, key=f"adj-{self.n}")
        assert new
        m.burn()
        m.account = True
        if units > 0:
            assert entry.lot_id is not None
            m.lots.append(Lot(entry.lot_id, m.now, m.now + timedelta(days=90), units))
            m.balance += units
            m.settle()
        else:
            m.take(-units)
        m.excuse()

    @rule(i=st.integers(0, TICKETS - 1), units=st.integers(0, 4), bug=st.booleans())
    def accept(self, i: int, units: int, bug: bool) -> None:
        m, t = self.m, self.m.tickets[i]
        if bug:
            units = min(units, 1)
        with self.db.session() as s:
            r = ledger.reserve(s, CO, f"T{i}", t.cycle, units, m.now, is_bug=bug)
        m.burn()
        if (t.cycle, "reserve") in t.keys:
            expected = ledger.DUPLICATE
        elif not m.account:
            expected = ledger.NO_ACCOUNT
        elif units > m.available and not bug:
            expected = ledger.HELD
        else:
            expected = ledger.OVERDRAFT if units > m.available else ledger.RESERVED
            if units > m.available:
                m.excused = True
            t.keys.add((t.cycle, "reserve"))
            t.reserved[t.cycle] = units
            t.units, t.is_bug = units, bug
        if expected == ledger.HELD:
            t.units, t.is_bug = units, bug
            assert r.available is not None and r.available < units
        assert r.status == expected, (r, expected)

    @rule(i=st.integers(0, TICKETS - 1), auto_close=st.booleans())
    def resolve(self, i: int, auto_close: bool) -> None:
        m, t = self.m, self.m.tickets[i]
        with self.db.session() as s:
            r = ledger.complete(s, CO, f"T{i}", t.cycle, t.units, m.now)
        m.burn()
        if (t.cycle, "debit") in t.keys:
            assert r.status == ledger.DUPLICATE
            return
        held = t.reserved.pop(t.cycle, 0)
        if held == 0 and not m.account:
            assert r.status == ledger.NO_ACCOUNT
            return
        assert r.status == ledger.DEBITED
        t.keys.add((t.cycle, "debit"))
        t.debits[t.cycle] = m.take(t.units)
        t.charge[t.cycle] = t.units
        m.excuse()

    @rule(i=st.integers(0, TICKETS - 1), charge_again=st.booleans())
    def reopen(self, i: int, charge_again: bool) -> None:
        """Reopened: by default the same cycle (a later resolve is not charged again)."""
        t = self.m.tickets[i]
        if charge_again and t.cycle in t.charge:
            t.cycle += 1

    @rule(i=st.integers(0, TICKETS - 1), units=st.integers(0, 4))
    def retype(self, i: int, units: int) -> None:
        m, t = self.m, self.m.tickets[i]
        with self.db.session() as s:
            r = ledger.retype(s, CO, f"T{i}", t.cycle, units, m.now)
        m.burn()
        if t.cycle in t.debits:
            if t.charge[t.cycle] == units:
                assert r.status == ledger.DUPLICATE
                return
            m.restore(t.debits[t.cycle])
            m.refund()
            m.settle()
            t.debits[t.cycle] = m.take(units)
            t.charge[t.cycle] = t.units = units
            m.burn()
            m.excuse()
            assert r.status == ledger.RETYPED
            return
        held = t.reserved.get(t.cycle, 0)
        if held == 0:
            assert r.status == ledger.NOTHING
            t.units = units
        elif held == units:
            assert r.status == ledger.DUPLICATE
        elif units - held > m.available:
            assert r.status == ledger.HELD
        else:
            assert r.status == ledger.RETYPED
            t.reserved[t.cycle] = t.units = units

    @rule(i=st.integers(0, TICKETS - 1))
    def merge(self, i: int) -> None:
        m, t = self.m, self.m.tickets[i]
        with self.db.session() as s:
            r = ledger.release(s, CO, f"T{i}", t.cycle, m.now, "merged")
        m.burn()
        if (t.cycle, "release") in t.keys:
            assert r.status == ledger.DUPLICATE
        elif t.reserved.get(t.cycle, 0) == 0:
            assert r.status == ledger.NOTHING
        else:
            assert r.status == ledger.RELEASED
            t.keys.add((t.cycle, "release"))
            t.reserved.pop(t.cycle)

    @rule()
    def expiry_job(self) -> None:
        with self.db.session() as s:
            ledger.expire_lots(s, self.m.now)
        self.m.burn()
        before = self._db_totals()
        with self.db.session() as s:
            assert ledger.expire_lots(s, self.m.now) == []
        assert self._db_totals() == before

    @rule(hours=st.sampled_from([1, 8, 24, 24 * 7, 24 * 30]))
    def time_passes(self, hours: int) -> None:
        self.m.now += timedelta(hours=hours)

    # --- invariants: one query after every step ----------------------------------------
    def _db_totals(self) -> tuple[int, int]:
        with self.db.session() as s:
            row = s.execute(
                select(
                    func.coalesce(func.sum(CreditEntry.units), 0),
                    func.coalesce(func.sum(CreditEntry.reserved), 0),
                )
            ).one()
        return int(row[0]), int(row[1])

    @invariant()
    def ledger_agrees_with_the_model(self) -> None:
        m = self.m
        # available never below zero under hold, except through flagged overdraft
        if m.available >= 0:
            m.excused = False
        assert m.available >= 0 or m.excused
        with self.db.session() as s:
            rows = s.execute(CHECK).all()
        lots: dict[int | None, int] = {}
        net: dict[str, int] = {}
        for tag, key, a, b in rows:
            if tag == "total":
                # entries sum to the model's balance; reservations too
                assert (a, b) == (m.balance, m.reserved), (a, b, m.balance, m.reserved)
            elif tag == "lot":
                lots[key] = a
            elif tag == "ticket":
                net[key] = a
            else:
                assert tag in PROBLEMS and a == 0, (tag, a)
        # each lot holds what the model says (so soonest-expiring went first), debt too
        assert -lots.pop(None, 0) == m.debt
        assert lots == {x.id: x.remaining for x in m.lots}
        # each ticket's net charge (debits less reversals) equals its decided charge
        for i, t in enumerate(m.tickets):
            assert -net.get(f"T{i}", 0) == sum(t.charge.values())


LedgerMachine.TestCase.settings = settings(
    max_examples=int(os.environ.get("LEDGER_MACHINE_EXAMPLES", "160")),
    stateful_step_count=40,
    deadline=None,
)
TestLedgerMachine = LedgerMachine.TestCase
