"""What a ledger entry is worth in money (issue 17): the one place that says it.

An entry that moves credits (purchase, grant, debit, reversal, burn, adjustment) is worth
the units each of its allocations moved times that lot's price per task, in the lot's
currency; units no lot covered (overdraft) are valued at the company's latest package price.
Entries that move no units (reserve, release, settle) have no amount. The CLI statement
(``plugin.ledger.statement``) and the client cabinet's statement page and CSV read amounts
through :func:`priced`, so the client and the team see the same figure.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from plugin.ledger.models import CreditLot

#: the currency of an amount whose allocations are in several currencies
MIXED = "mixed"
Price = tuple[Decimal, str]


class PricedLot(Protocol):
    """What pricing needs of a lot (a ``CreditLot`` row or a plain tuple of its columns)."""

    @property
    def id(self) -> int: ...
    @property
    def price_per_task(self) -> Decimal: ...
    @property
    def currency(self) -> str: ...
    @property
    def purchased_at(self) -> object: ...


@dataclass(frozen=True)
class Prices:
    """A company's price per task by lot, and the one overdraft units are valued at."""

    by_lot: Mapping[int, Price]
    #: the company's latest package price (None: it never had a package)
    fallback: Price | None

    @classmethod
    def of_lots(cls, lots: Iterable[PricedLot]) -> Prices:
        rows = list(lots)
        latest = max(rows, key=lambda lot: (lot.purchased_at, lot.id), default=None)
        return cls({lot.id: (lot.price_per_task, lot.currency) for lot in rows},
                   (latest.price_per_task, latest.currency) if latest is not None else None)


def load_prices(session: Session, company_id: str) -> Prices:
    """Every lot's price of ``company_id`` (one row per package bought or granted)."""
    return Prices.of_lots(session.execute(
        select(CreditLot.id, CreditLot.price_per_task, CreditLot.currency,
               CreditLot.purchased_at).where(CreditLot.company_id == company_id)).all())


@dataclass(frozen=True)
class Amount:
    """An entry's worth, signed like its units."""

    #: in cents; None when the allocations are in several currencies (see ``parts``)
    amount: Decimal | None
    #: the currency, or ``MIXED``
    currency: str
    #: per currency, unrounded (what totals add up)
    parts: Mapping[str, Decimal]

    def cents(self) -> dict[str, Decimal]:
        """Per currency, in cents."""
        return {c: cents(v) for c, v in self.parts.items()}

    def text(self) -> str:
        """``-350.00 UAH``; ``-350.00 UAH, -12.50 EUR`` for several currencies."""
        return ", ".join(f"{v} {c}" for c, v in self.cents().items())


def with_parts(note: str | None, worth: Amount | None) -> str | None:
    """``note``, followed by one figure per currency when the entry's lots were in several
    (its ``amount`` is then None): ``goodwill [-350.00 UAH, -12.50 EUR]``."""
    if worth is None or worth.amount is not None:
        return note
    return f"{note or ''} [{worth.text()}]"


def cents(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.01"))


def priced(units: int, allocations: Iterable[tuple[int | None, int]],
           prices: Prices) -> Amount | None:
    """The worth of an entry that moved ``units`` through ``allocations`` (lot id, or None
    for overdraft, and units); None when it moved no units or nothing it moved has a price."""
    if not units:
        return None
    worth: dict[str, Decimal] = {}
    for lot_id, moved in allocations:
        price = prices.by_lot.get(lot_id) if lot_id else prices.fallback
        if price is not None:
            worth[price[1]] = worth.get(price[1], Decimal(0)) + price[0] * moved
    if not worth:
        return None
    if len(worth) == 1:
        currency, value = next(iter(worth.items()))
        return Amount(cents(value), currency, worth)
    return Amount(None, MIXED, worth)
