"""The monthly plan: price from the project-complexity formula, hours that burn at month end."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from plugin.ledger.funds import Purchase, purchase
from plugin.ledger.models import EntryKind
from plugin.ledger.plans import Complexity, Plan, PlansError

CENT = Decimal("0.01")


@dataclass(frozen=True)
class ProjectFacts:
    """What the complexity formula reads about a client's project."""

    implementation_type: str
    implementation_hours: Decimal
    custom_enhancements: int
    active_users: int


def complexity_points(weights: Complexity, facts: ProjectFacts) -> Decimal:
    """Implementation type + weighted hours, enhancements and users."""
    try:
        base = weights.implementation_types[facts.implementation_type]
    except KeyError:
        known = ", ".join(sorted(weights.implementation_types))
        raise PlansError(
            f"unknown implementation type {facts.implementation_type!r}; known: {known}"
        ) from None
    return (
        base
        + weights.hours_weight * Decimal(facts.implementation_hours)
        + weights.enhancement_weight * facts.custom_enhancements
        + weights.user_weight * facts.active_users
    )


def monthly_price(weights: Complexity, facts: ProjectFacts) -> Decimal:
    """The monthly price in ``weights.currency``, to the cent, never below the minimum."""
    price = (complexity_points(weights, facts) * weights.price_per_point).quantize(CENT)
    return max(price, weights.min_price.quantize(CENT))


def month_end(at: datetime, tz: ZoneInfo) -> datetime:
    """The first instant of the next month in ``tz``: when included hours burn."""
    local = at.astimezone(tz)
    first_next = (local.replace(day=28) + timedelta(days=4)).replace(
        day=1, hour=0, minute=0, second=0, microsecond=0
    )
    # rebuild from the wall clock so the zone's offset on that date applies (DST)
    return datetime(first_next.year, first_next.month, 1, tzinfo=tz)


def grant_month(
    session: Session, company_id: str, plan: Plan, at: datetime, tz: ZoneInfo
) -> Purchase | None:
    """Open the month's included hours (a free lot burning at month end); once per month."""
    if plan.model != "monthly" or plan.included_hours <= 0:
        return None
    local = at.astimezone(tz)
    start = datetime(local.year, local.month, 1, tzinfo=tz)
    return purchase(
        session,
        company_id,
        plan.included_hours,
        Decimal("0"),
        plan.currency,
        start,
        plan=plan,
        key=f"monthly:{company_id}:{local.year:04d}-{local.month:02d}",
        source=EntryKind.GRANT,
        expires_at=month_end(at, tz),
    )
