"""The schema of ``config/plans.yaml``: every plan setting's default, in one place.

The ledger (:mod:`plugin.ledger.plans`) validates the file with it at every process start
and builds its plans from the loaded values; the rules compiler
(:mod:`rules.config.compile`) reads the few settings the engine needs (holds, low-balance
notices, held-and-resolved) from the same schema, so neither repeats a default.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields, validate

MODELS = ("prepaid", "pay_per_request", "pay_per_hour", "monthly")
HOLD = "hold"
OVERDRAFT = "overdraft"


def _dec(**kw: Any) -> fields.Decimal:
    return fields.Decimal(as_string=False, validate=validate.Range(min=0), **kw)


class PlanSchema(Schema):
    class Meta:
        unknown = RAISE

    model = fields.String(load_default="prepaid", validate=validate.OneOf(MODELS))
    price_per_task = _dec(load_default=Decimal("0"))
    currency = fields.String(load_default="UAH", validate=validate.Length(equal=3))
    min_tasks = fields.Integer(load_default=1, validate=validate.Range(min=1))
    expiry_days = fields.Integer(load_default=90, validate=validate.Range(min=1))
    on_insufficient = fields.String(load_default=HOLD, validate=validate.OneOf([HOLD, OVERDRAFT]))
    #: a task on hold for credits that the team resolves anyway (issue 17): ``overdraft``
    #: debits it at once into flagged overdraft; ``pending`` keeps the debit pending until
    #: credits arrive (then taken, soonest-expiring lot first). Never free.
    held_resolved = fields.String(
        load_default="overdraft", validate=validate.OneOf(["overdraft", "pending"])
    )
    low_balance_threshold = fields.Integer(load_default=2, validate=validate.Range(min=0))
    expiring_soon_days = fields.Integer(load_default=14, validate=validate.Range(min=0))
    price_per_request = _dec(load_default=None)
    rate_per_hour = _dec(load_default=None)
    included_hours = fields.Integer(load_default=0, validate=validate.Range(min=0))
    price = fields.String(load_default=None)


class ComplexitySchema(Schema):
    class Meta:
        unknown = RAISE

    price_per_point = _dec(required=True)
    currency = fields.String(load_default="USD", validate=validate.Length(equal=3))
    min_price = _dec(load_default=Decimal("0"))
    implementation_types = fields.Dict(keys=fields.String(), values=_dec(), required=True)
    hours_weight = _dec(load_default=Decimal("0"))
    enhancement_weight = _dec(load_default=Decimal("0"))
    user_weight = _dec(load_default=Decimal("0"))


class EnhancementSchema(Schema):
    rate_per_hour = _dec(load_default=Decimal("30"))
    currency = fields.String(load_default="USD", validate=validate.Length(equal=3))


class PlansSchema(Schema):
    # other capabilities may keep their own keys in plans.yaml (the ledger keeps them)
    default_plan = fields.String(load_default="standard")
    no_account = fields.String(load_default="flag", validate=validate.OneOf(["flag", "ignore"]))
    plans = fields.Dict(keys=fields.String(), values=fields.Nested(PlanSchema), required=True)
    enhancement = fields.Nested(
        EnhancementSchema, load_default=lambda: dict(EnhancementSchema().load({}))
    )
    complexity = fields.Nested(ComplexitySchema, load_default=None)


def load_lenient(schema: Schema, raw: Mapping[str, Any]) -> dict[str, Any]:
    """``raw`` loaded by ``schema``, a key it refuses left at its default.

    For the rules compiler: a wrong value in plans.yaml is the ledger's plans check to
    report (:mod:`plugin.ledger.plans`, run at every process start); the engine keeps the
    schema's default for it meanwhile.
    """
    try:
        return dict(schema.load(raw))
    except ValidationError as exc:
        bad = set(exc.messages) if isinstance(exc.messages, dict) else set(raw)
        kept = {k: v for k, v in raw.items() if k not in bad}
    try:
        return dict(schema.load(kept))
    except ValidationError:  # a whole-record refusal: nothing of it is kept
        return dict(schema.load({}))
