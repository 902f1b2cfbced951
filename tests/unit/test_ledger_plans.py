"""plans.yaml: validation, plan lookup, money per request/hour/estimate, the complexity formula."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import yaml

from plugin.ledger.complexity import ProjectFacts, complexity_points, month_end, monthly_price
from plugin.ledger.plans import PlansError, load_plans, parse_plans

SHIPPED = load_plans(Path(__file__).resolve().parents[2] / "config")


def test_shipped_standard_plan_matches_the_spec() -> None:
    plan = SHIPPED.get(None)
    assert (plan.name, plan.price_per_task, plan.currency, plan.min_tasks) == (
        "standard",
        Decimal("350"),
        "UAH",
        10,
    )
    assert (plan.expiry_days, plan.on_insufficient) == (90, "hold")
    assert (plan.low_balance_threshold, plan.expiring_soon_days) == (2, 14)
    assert SHIPPED.get("overdraft").on_insufficient == "overdraft"


def test_money_plans_and_enhancements_are_exact_decimals() -> None:
    assert SHIPPED.enhancement_money(Decimal("3.5")) == Decimal("105.00")
    assert SHIPPED.get("per_hour").money_for_hours(Decimal("1.25")) == Decimal("37.50")
    assert SHIPPED.get("per_request").money_for_request() == Decimal("400")
    with pytest.raises(PlansError, match="no rate_per_hour"):
        SHIPPED.get("standard").money_for_hours(Decimal(1))


def test_complexity_formula_uses_the_yaml_weights() -> None:
    weights = SHIPPED.complexity
    assert weights is not None
    facts = ProjectFacts("extended", Decimal("12"), custom_enhancements=3, active_users=25)
    # 40 + 0.5 x 12 + 5 x 3 + 1 x 25 = 86 points x 10 USD
    assert complexity_points(weights, facts) == Decimal("86.0")
    assert monthly_price(weights, facts) == Decimal("860.00")
    assert monthly_price(weights, ProjectFacts("standard", Decimal(0), 0, 0)) == Decimal("200.00")
    with pytest.raises(PlansError, match="known: custom, extended, standard"):
        monthly_price(weights, ProjectFacts("huge", Decimal(0), 0, 0))


def test_month_end_is_local_midnight_of_the_next_month() -> None:
    kyiv = ZoneInfo("Europe/Kyiv")
    # 31 Mar 22:30 UTC is already 1 Apr in Kyiv (UTC+3 after the DST switch)
    assert month_end(datetime(2026, 3, 31, 22, 30, tzinfo=UTC), kyiv) == datetime(
        2026, 5, 1, tzinfo=kyiv
    )
    assert month_end(datetime(2026, 12, 15, tzinfo=UTC), kyiv) == datetime(2027, 1, 1, tzinfo=kyiv)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"plans": {"standard": {"on_insufficient": "beg"}}}, "on_insufficient"),
        ({"plans": {"standard": {"min_tasks": 0}}}, "min_tasks"),
        ({"plans": {"standard": {"colour": "red"}}}, "colour"),
        ({"default_plan": "gold", "plans": {"standard": {}}}, "default_plan 'gold'"),
        ({}, "plans"),
    ],
)
def test_invalid_plans_are_refused_with_the_key(raw: dict, message: str) -> None:
    with pytest.raises(PlansError, match=message):
        parse_plans(raw)


def test_unknown_plan_and_foreign_keys(tmp_path: Path) -> None:
    (tmp_path / "plans.yaml").write_text(
        yaml.safe_dump({"plans": {"standard": {}}, "rules_owned_key": {"x": 1}})
    )
    plans = load_plans(tmp_path)
    assert plans.extra == {"rules_owned_key": {"x": 1}}
    with pytest.raises(PlansError, match="unknown plan 'gold'"):
        plans.get("gold")
    with pytest.raises(PlansError, match="No such file"):
        load_plans(tmp_path / "missing")
