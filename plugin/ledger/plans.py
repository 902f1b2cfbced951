"""Plans from ``config/plans.yaml``: prices, minimums, expiry, the insufficient-credit policy."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml
from marshmallow import ValidationError

# the schema (every default) is shared with the rules compiler, which reads the engine's
# part of the plans from it
from rules.config.plans_schema import HOLD, MODELS, OVERDRAFT, PlansSchema

__all__ = ["HOLD", "MODELS", "OVERDRAFT", "Complexity", "Plan", "Plans", "PlansError",
           "load_plans", "parse_plans"]


class PlansError(Exception):
    """``plans.yaml`` is missing or invalid."""


@dataclass(frozen=True)
class Plan:
    """One billing plan a company can be on (defaults: :class:`PlanSchema`)."""

    name: str
    model: str
    price_per_task: Decimal
    currency: str
    min_tasks: int
    expiry_days: int
    on_insufficient: str
    #: a task on hold for credits that the team resolves anyway (issue 17): ``overdraft``
    #: debits it at once into flagged overdraft; ``pending`` keeps the debit pending until
    #: credits arrive (then taken, soonest-expiring lot first). Never free.
    held_resolved: str
    low_balance_threshold: int
    expiring_soon_days: int
    price_per_request: Decimal | None
    rate_per_hour: Decimal | None
    included_hours: int
    price: str | None

    def money_for_request(self) -> Decimal:
        """What one request costs on a pay-per-request plan."""
        if self.price_per_request is None:
            raise PlansError(f"plan {self.name} has no price_per_request")
        return self.price_per_request

    def money_for_hours(self, hours: Decimal) -> Decimal:
        """What ``hours`` cost on a pay-per-hour plan, to the cent."""
        if self.rate_per_hour is None:
            raise PlansError(f"plan {self.name} has no rate_per_hour")
        return (hours * self.rate_per_hour).quantize(Decimal("0.01"))


@dataclass(frozen=True)
class Complexity:
    """Weights of the monthly-price formula."""

    price_per_point: Decimal
    currency: str
    min_price: Decimal
    implementation_types: Mapping[str, Decimal]
    hours_weight: Decimal
    enhancement_weight: Decimal
    user_weight: Decimal


@dataclass(frozen=True)
class Plans:
    """Every plan plus the shared settings of ``plans.yaml`` (defaults: :class:`PlansSchema`)."""

    plans: Mapping[str, Plan]
    default_plan: str
    no_account: str
    enhancement_rate: Decimal
    enhancement_currency: str
    complexity: Complexity | None
    extra: Mapping[str, Any] = field(default_factory=dict)

    def get(self, name: str | None) -> Plan:
        """The named plan, or the default one when the company names none."""
        key = name or self.default_plan
        if key not in self.plans:
            raise PlansError(f"unknown plan {key!r}; known: {', '.join(sorted(self.plans))}")
        return self.plans[key]

    def enhancement_money(self, estimate_hours: Decimal) -> Decimal:
        """An enhancement's price: estimate hours × rate, to the cent."""
        return (Decimal(estimate_hours) * self.enhancement_rate).quantize(Decimal("0.01"))


def parse_plans(raw: Mapping[str, Any]) -> Plans:
    """Validate the contents of ``plans.yaml``."""
    known = set(PlansSchema().fields)
    try:
        data = PlansSchema().load({k: v for k, v in raw.items() if k in known})
    except ValidationError as exc:
        raise PlansError(f"plans.yaml: {exc.messages}") from None
    plans = {name: Plan(name=name, **spec) for name, spec in data["plans"].items()}
    if data["default_plan"] not in plans:
        raise PlansError(f"plans.yaml: default_plan {data['default_plan']!r} is not a plan")
    enh, complexity = data["enhancement"], data["complexity"]
    return Plans(
        plans=plans,
        default_plan=data["default_plan"],
        no_account=data["no_account"],
        enhancement_rate=enh["rate_per_hour"],
        enhancement_currency=enh["currency"],
        complexity=None if complexity is None else Complexity(**complexity),
        extra={k: v for k, v in raw.items() if k not in known},
    )


def load_plans(config_dir: Path | str) -> Plans:
    """Read and validate ``<config_dir>/plans.yaml``."""
    path = Path(config_dir) / "plans.yaml"
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except OSError as exc:
        raise PlansError(f"{path}: {exc.strerror}") from None
    if not isinstance(raw, dict):
        raise PlansError(f"{path}: must be a mapping")
    return parse_plans(raw)
