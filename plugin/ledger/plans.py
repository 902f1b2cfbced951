"""Plans from ``config/plans.yaml``: prices, minimums, expiry, the insufficient-credit policy."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml
from marshmallow import RAISE, Schema, ValidationError, fields, post_load, validate

MODELS = ("prepaid", "pay_per_request", "pay_per_hour", "monthly")
HOLD = "hold"
OVERDRAFT = "overdraft"


class PlansError(Exception):
    """``plans.yaml`` is missing or invalid."""


@dataclass(frozen=True)
class Plan:
    """One billing plan a company can be on."""

    name: str
    model: str = "prepaid"
    price_per_task: Decimal = Decimal("0")
    currency: str = "UAH"
    min_tasks: int = 1
    expiry_days: int = 90
    on_insufficient: str = HOLD
    #: a task on hold for credits that the team resolves anyway (issue 17): ``overdraft``
    #: debits it at once into flagged overdraft; ``pending`` keeps the debit pending until
    #: credits arrive (then taken, soonest-expiring lot first). Never free.
    held_resolved: str = "overdraft"
    low_balance_threshold: int = 2
    expiring_soon_days: int = 14
    price_per_request: Decimal | None = None
    rate_per_hour: Decimal | None = None
    included_hours: int = 0
    price: str | None = None

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
    """Every plan plus the shared settings of ``plans.yaml``."""

    plans: Mapping[str, Plan]
    default_plan: str
    no_account: str = "flag"
    enhancement_rate: Decimal = Decimal("30")
    enhancement_currency: str = "USD"
    complexity: Complexity | None = None
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


def _dec(**kw: Any) -> fields.Decimal:
    return fields.Decimal(as_string=False, validate=validate.Range(min=0), **kw)


class _PlanSchema(Schema):
    class Meta:
        unknown = RAISE

    model = fields.String(load_default="prepaid", validate=validate.OneOf(MODELS))
    price_per_task = _dec(load_default=Decimal("0"))
    currency = fields.String(load_default="UAH", validate=validate.Length(equal=3))
    min_tasks = fields.Integer(load_default=1, validate=validate.Range(min=1))
    expiry_days = fields.Integer(load_default=90, validate=validate.Range(min=1))
    on_insufficient = fields.String(load_default=HOLD, validate=validate.OneOf([HOLD, OVERDRAFT]))
    held_resolved = fields.String(load_default="overdraft",
                                  validate=validate.OneOf(["overdraft", "pending"]))
    low_balance_threshold = fields.Integer(load_default=2, validate=validate.Range(min=0))
    expiring_soon_days = fields.Integer(load_default=14, validate=validate.Range(min=0))
    price_per_request = _dec(load_default=None)
    rate_per_hour = _dec(load_default=None)
    included_hours = fields.Integer(load_default=0, validate=validate.Range(min=0))
    price = fields.String(load_default=None)


class _ComplexitySchema(Schema):
    class Meta:
        unknown = RAISE

    price_per_point = _dec(required=True)
    currency = fields.String(load_default="USD", validate=validate.Length(equal=3))
    min_price = _dec(load_default=Decimal("0"))
    implementation_types = fields.Dict(keys=fields.String(), values=_dec(), required=True)
    hours_weight = _dec(load_default=Decimal("0"))
    enhancement_weight = _dec(load_default=Decimal("0"))
    user_weight = _dec(load_default=Decimal("0"))

    @post_load
    def _make(self, data: dict, **_: Any) -> Complexity:
        return Complexity(**data)


class _EnhancementSchema(Schema):
    rate_per_hour = _dec(load_default=Decimal("30"))
    currency = fields.String(load_default="USD", validate=validate.Length(equal=3))


class _PlansSchema(Schema):
    # other capabilities may keep their own keys in plans.yaml; they are kept in ``extra``
    default_plan = fields.String(load_default="standard")
    no_account = fields.String(load_default="flag", validate=validate.OneOf(["flag", "ignore"]))
    plans = fields.Dict(keys=fields.String(), values=fields.Nested(_PlanSchema), required=True)
    enhancement = fields.Nested(_EnhancementSchema, load_default=dict)
    complexity = fields.Nested(_ComplexitySchema, load_default=None)


def parse_plans(raw: Mapping[str, Any]) -> Plans:
    """Validate the contents of ``plans.yaml``."""
    known = set(_PlansSchema().fields)
    try:
        data = _PlansSchema().load({k: v for k, v in raw.items() if k in known})
    except ValidationError as exc:
        raise PlansError(f"plans.yaml: {exc.messages}") from None
    plans = {name: Plan(name=name, **spec) for name, spec in data["plans"].items()}
    if data["default_plan"] not in plans:
        raise PlansError(f"plans.yaml: default_plan {data['default_plan']!r} is not a plan")
    enh = data["enhancement"] or {}
    return Plans(
        plans=plans,
        default_plan=data["default_plan"],
        no_account=data["no_account"],
        enhancement_rate=enh.get("rate_per_hour", Decimal("30")),
        enhancement_currency=enh.get("currency", "USD"),
        complexity=data["complexity"],
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
