"""What an entry is worth: the one rule the CLI statement and the cabinet both read."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import NamedTuple

from plugin.ledger.worth import MIXED, Prices, priced


class Lot(NamedTuple):
    id: int
    price_per_task: Decimal
    currency: str
    purchased_at: datetime


PRICES = Prices.of_lots([
    Lot(1, Decimal("350.00"), "UAH", datetime(2026, 8, 3, tzinfo=UTC)),
    Lot(2, Decimal("12.50"), "EUR", datetime(2026, 11, 2, tzinfo=UTC)),
    Lot(3, Decimal("300.00"), "UAH", datetime(2026, 10, 1, tzinfo=UTC)),
])


def test_units_times_the_lots_price_signed_like_the_units() -> None:
    debit = priced(-1, [(1, -1)], PRICES)
    assert debit is not None and (debit.amount, debit.currency) == (Decimal("-350.00"), "UAH")
    assert debit.text() == "-350.00 UAH"
    bought = priced(10, [(3, 10)], PRICES)
    assert bought is not None and bought.text() == "3000.00 UAH"
    split = priced(-3, [(1, -1), (3, -2)], PRICES)
    assert split is not None and split.amount == Decimal("-950.00")


def test_overdraft_is_valued_at_the_latest_package_price() -> None:
    # lot 2 (EUR) was bought last, so units no lot covered are worth 12.50 EUR each
    over = priced(-2, [(None, -2)], PRICES)
    assert over is not None and over.text() == "-25.00 EUR"
    assert priced(-1, [(None, -1)], Prices({}, None)) is None  # never had a package


def test_several_currencies_give_one_figure_each() -> None:
    both = priced(-2, [(1, -1), (2, -1)], PRICES)
    assert both is not None and both.amount is None and both.currency == MIXED
    assert both.text() == "-350.00 UAH, -12.50 EUR"


def test_entries_that_move_no_units_have_no_amount() -> None:
    assert priced(0, [], PRICES) is None  # reserve, release
    assert priced(0, [(None, 1), (1, -1)], PRICES) is None  # settle: debt moved to a lot
