"""What the CLI and the admin API do, in one place: buy, balance, statement, adjust."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation

from sqlalchemy.orm import Session

from plugin.ledger.accounts import LedgerError
from plugin.ledger.expiry import expire_lots
from plugin.ledger.funds import Purchase, adjust, purchase
from plugin.ledger.models import CreditEntry
from plugin.ledger.plans import Plan, Plans
from plugin.ledger.queries import Balance, balance
from plugin.ledger.statement import Statement, statement
from plugin.storage.db import SUPPORTED_YEARS, in_supported_range
from plugin.storage.models import Company


def parse_instant(text: str) -> datetime:
    """An ISO 8601 instant with its UTC offset (a naive time is refused: whose 09:00?)."""
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise LedgerError(f"not an ISO 8601 datetime: {text!r}") from None
    if value.tzinfo is None:
        raise LedgerError(f"{text!r} has no UTC offset (e.g. 2026-11-23T10:00:00+02:00)")
    if not in_supported_range(value):
        raise LedgerError(f"{text!r} is outside the supported years "
                          f"{SUPPORTED_YEARS.start}-{SUPPORTED_YEARS.stop - 1}")
    return value


def parse_money(text: str | Decimal) -> Decimal:
    try:
        value = Decimal(str(text))
    except InvalidOperation:
        raise LedgerError(f"not an amount: {text!r}") from None
    if not value.is_finite() or value < 0:
        raise LedgerError(f"not an amount: {text!r}")
    return value


def company_plan(session: Session, plans: Plans, company_id: str) -> Plan:
    company = session.get(Company, company_id)
    return plans.get(company.plan if company else None)


def buy(
    session: Session,
    plans: Plans,
    company_id: str,
    tasks: int,
    at: datetime,
    price: Decimal | None = None,
    currency: str | None = None,
    key: str | None = None,
) -> Purchase:
    """A package on the company's plan; price and currency default to the plan's."""
    plan = company_plan(session, plans, company_id)
    if plan.model != "prepaid":
        raise LedgerError(
            f"company {company_id} is on plan {plan.name} ({plan.model}): it buys no packages"
        )
    return purchase(
        session,
        company_id,
        tasks,
        plan.price_per_task if price is None else price,
        currency or plan.currency,
        at,
        plan=plan,
        key=key,
    )


def read_balance(
    session: Session, plans: Plans, company_id: str, at: datetime, now: datetime
) -> Balance:
    """The balance at ``at``; reading the present first burns what has expired."""
    plan = company_plan(session, plans, company_id)
    if at >= now:
        expire_lots(session, now, company_id)
    return balance(session, company_id, at, plan.expiring_soon_days)


def read_statement(
    session: Session,
    company_id: str,
    start: datetime | None,
    end: datetime | None,
    now: datetime,
) -> Statement:
    expire_lots(session, now, company_id)
    return statement(session, company_id, start, end)


def correct(
    session: Session,
    plans: Plans,
    company_id: str,
    units: int,
    reason: str,
    author: str | None,
    now: datetime,
    key: str,
) -> tuple[CreditEntry, bool]:
    plan = company_plan(session, plans, company_id)
    return adjust(
        session,
        company_id,
        units,
        reason,
        author,
        now,
        key,
        expires_at=now + timedelta(days=plan.expiry_days),
        currency=plan.currency,
    )
