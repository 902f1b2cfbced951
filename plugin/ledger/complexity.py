"""The monthly plan: price from the project-complexity formula, hours that burn at month end."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from plugin.ledger.plans import Complexity, PlansError

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
