"""The ledger's tables: lots (packages), append-only entries, lot allocations, money lines.

Nothing here is ever updated or deleted: a correction is a new entry. The balance is the sum
of ``CreditEntry.units``; each entry's units equal the sum of its allocations, and an
allocation with no lot is overdraft debt (credits taken that no live lot covered).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import ForeignKey, Index, Integer, Numeric, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from plugin.storage.models import Base


class EntryKind:
    """Kinds of ledger entry."""

    #: a package bought (+units, allocated to its new lot)
    PURCHASE = "purchase"
    #: credits granted by an admin or a monthly plan (+units, a lot of its own)
    GRANT = "grant"
    #: units held for an accepted task (reserved +units, balance unchanged)
    RESERVE = "reserve"
    #: a reservation dropped (cancel, merge, delete, re-type before completion)
    RELEASE = "release"
    #: units taken at completion (−units), consuming the open reservation
    DEBIT = "debit"
    #: an earlier debit undone exactly (+units back to the lots it came from)
    REVERSAL = "reversal"
    #: what was left in an expired lot
    BURN = "burn"
    #: a manual correction (+units opens a free lot, −units takes credits)
    ADJUST = "adjust"
    #: overdraft debt covered from a live lot once credits came (0 units, moves only)
    SETTLE = "settle"


class CreditLot(Base):
    """A package of prepaid credits with its price and expiry."""

    __tablename__ = "credit_lots"
    __table_args__ = (Index("ix_credit_lots_company_expiry", "company_id", "expires_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    company_id: Mapped[str] = mapped_column(ForeignKey("companies.id"))
    tasks: Mapped[int] = mapped_column(Integer)
    price_per_task: Mapped[Decimal] = mapped_column(Numeric(14, 2))
    currency: Mapped[str] = mapped_column(String(3))
    plan: Mapped[str] = mapped_column(String(64))
    #: purchase or grant
    source: Mapped[str] = mapped_column(String(16))
    purchased_at: Mapped[datetime] = mapped_column()
    expires_at: Mapped[datetime] = mapped_column()
    key: Mapped[str] = mapped_column(String(255), unique=True)


class CreditEntry(Base):
    """One append-only ledger line; ``key`` makes posting it idempotent."""

    __tablename__ = "credit_entries"
    __table_args__ = (
        Index("ix_credit_entries_company", "company_id", "id"),
        Index("ix_credit_entries_ticket", "company_id", "ticket_key", "cycle"),
        Index("ix_credit_entries_posted", "company_id", "posted_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    company_id: Mapped[str] = mapped_column(ForeignKey("companies.id"))
    key: Mapped[str] = mapped_column(String(255), unique=True)
    kind: Mapped[str] = mapped_column(String(16))
    #: change of the balance
    units: Mapped[int] = mapped_column(Integer, default=0)
    #: change of the reserved figure
    reserved: Mapped[int] = mapped_column(Integer, default=0)
    ticket_key: Mapped[str | None] = mapped_column(String(200))
    cycle: Mapped[int | None] = mapped_column(Integer)
    task_type: Mapped[str | None] = mapped_column(String(32))
    lot_id: Mapped[int | None] = mapped_column(ForeignKey("credit_lots.id"))
    reverses_id: Mapped[int | None] = mapped_column(ForeignKey("credit_entries.id"))
    #: e.g. ``overdraft`` when the entry took credits no lot covered
    flag: Mapped[str | None] = mapped_column(String(32))
    reason: Mapped[str | None] = mapped_column(Text)
    author: Mapped[str | None] = mapped_column(String(100))
    posted_at: Mapped[datetime] = mapped_column()


class CreditAllocation(Base):
    """How many units one entry moved in or out of one lot (no lot = overdraft debt)."""

    __tablename__ = "credit_allocations"
    __table_args__ = (
        Index("ix_credit_allocations_entry", "entry_id"),
        Index("ix_credit_allocations_company_lot", "company_id", "lot_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    entry_id: Mapped[int] = mapped_column(ForeignKey("credit_entries.id"))
    company_id: Mapped[str] = mapped_column(String(100))
    lot_id: Mapped[int | None] = mapped_column(ForeignKey("credit_lots.id"))
    units: Mapped[int] = mapped_column(Integer)


class MoneyLine(Base):
    """A money charge (enhancement estimate × rate, pay per request/hour), apart from credits."""

    __tablename__ = "credit_money_lines"
    __table_args__ = (Index("ix_credit_money_company", "company_id", "posted_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    company_id: Mapped[str] = mapped_column(ForeignKey("companies.id"))
    key: Mapped[str] = mapped_column(String(255), unique=True)
    ticket_key: Mapped[str | None] = mapped_column(String(200))
    amount: Mapped[Decimal] = mapped_column(Numeric(14, 2))
    currency: Mapped[str] = mapped_column(String(3))
    reason: Mapped[str | None] = mapped_column(Text)
    posted_at: Mapped[datetime] = mapped_column()
