"""Marshmallow schemas of the credits admin API (requests validated, answers documented)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema

from plugin.storage.db import SUPPORTED_YEARS
from rules.config.credit_limits import CreditLimits
from rules.config.schema import COLUMN_MAX_INT, COLUMN_MAX_PRICE

#: the shipped ``limits.credits`` (the rules schema's defaults), for the OpenAPI document
DEFAULT_LIMITS = CreditLimits.defaults()
#: PostgreSQL text cannot hold NUL: refused as a payload error, not a 500 from the database
NO_NUL = validate.Regexp(r"^[^\x00]*$", error="must not contain NUL characters")
#: purchase years: the instants Deskpilot stores and computes with (plugin.storage.db)
YEARS = (SUPPORTED_YEARS.start, SUPPORTED_YEARS.stop - 1)


def _in_range(value: datetime) -> None:
    if not YEARS[0] <= value.year <= YEARS[1]:
        raise ValidationError(f"the year must be {YEARS[0]}-{YEARS[1]}")


class _Strict(Schema):
    class Meta:
        unknown = RAISE


class _Limited(_Strict):
    """A request held to the configured ``limits.credits`` (the CLI and the admin API pass
    the limits of the rules in force; unset: the shipped defaults)."""

    def __init__(self, *, limits: CreditLimits | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.limits = limits or DEFAULT_LIMITS


#: digits after the point per currency (ISO 4217 minor units; others: 2); the price column
#: keeps two, so a currency with three (KWD) is held to two as well
MINOR_UNITS = {"JPY": 0, "KRW": 0, "VND": 0, "CLP": 0, "ISK": 0, "UGX": 0, "PYG": 0}


class Whole(fields.Integer):
    """An integer that refuses fractions (``10.9`` is an error, not 10 tasks)."""

    default_error_messages = {"fraction": "must be a whole number"}

    def _validated(self, value: object) -> int:
        if isinstance(value, float | Decimal | str) and not isinstance(value, bool):
            try:
                exact = Decimal(str(value).strip())
            except ArithmeticError:
                raise self.make_error("invalid") from None
            if exact.is_finite() and exact != exact.to_integral_value():
                raise self.make_error("fraction")
        return int(super()._validated(value))


def price_places_problem(price: Decimal | None, currency: str | None) -> str | None:
    """Why ``price`` has more decimals than ``currency`` has (None: it fits)."""
    if price is None:
        return None
    places = min(MINOR_UNITS.get((currency or "").upper(), 2), 2)
    exponent = price.normalize().as_tuple().exponent
    if isinstance(exponent, int) and -exponent > places:
        return f"at most {places} decimal places for {currency or 'this currency'}"
    return None


class PurchaseRequestSchema(_Limited):
    """A package to add to a company's deposit."""

    # the columns' bounds (INTEGER, NUMERIC(14, 2)) hold whatever is configured; the
    # configured maxima (limits.credits) are checked in _configured_limits
    tasks = Whole(
        required=True, validate=validate.Range(min=1, max=COLUMN_MAX_INT),
        # the document states the limits (the shipped ones here; /api/openapi.json those in
        # force: plugin.ledger.admin_api.document_limits)
        metadata={"maximum": DEFAULT_LIMITS.max_tasks_per_purchase,
                  "description": "at most limits.credits.max_tasks_per_purchase of the service "
                                 "rules"},
    )
    # apispec renders a Decimal's Range bounds as strings; the document needs numbers
    price_per_task = fields.Decimal(
        as_string=True,
        validate=validate.Range(min=0, max=COLUMN_MAX_PRICE),
        metadata={"minimum": 0, "maximum": float(DEFAULT_LIMITS.max_price), "multipleOf": 0.01,
                  "description": "at most the currency's decimal places (2; 0 for JPY, "
                                 "KRW, VND, CLP, ISK, UGX, PYG): more are refused, not cut; "
                                 "at most limits.credits.max_price of the service rules"},
    )
    currency = fields.String(validate=[validate.Length(equal=3), NO_NUL])
    at = fields.AwareDateTime(
        validate=_in_range,
        # OpenAPI 3.0 has no bounds for date-times: the years as a pattern
        metadata={
            "description": "purchase time (default: now), years 1970-2999",
            "pattern": r"^(19[7-9][0-9]|2[0-9]{3})-",
        },
    )
    key = fields.String(
        validate=[validate.Length(min=1, max=200), NO_NUL],
        metadata={"description": "idempotency key; a retry buys once"},
    )

    @validates_schema
    def _price_places(self, data: dict[str, Any], **_: Any) -> None:
        # stored exactly or refused: 0.001 is not silently 0.00
        problem = price_places_problem(data.get("price_per_task"), data.get("currency"))
        if problem:
            raise ValidationError(problem, "price_per_task")

    @validates_schema
    def _configured_limits(self, data: dict[str, Any], **_: Any) -> None:
        errors = {name: [problem] for name, problem in (
            ("tasks", self.limits.tasks_problem(data.get("tasks", 0))),
            ("price_per_task", self.limits.price_problem(data.get("price_per_task"))),
        ) if problem}
        if errors:
            raise ValidationError(errors)


class AdjustmentRequestSchema(_Limited):
    """A manual correction: +N grants, −N takes credits."""

    units = Whole(
        required=True, validate=validate.Range(min=-COLUMN_MAX_INT, max=COLUMN_MAX_INT),
        metadata={"minimum": -DEFAULT_LIMITS.max_adjust, "maximum": DEFAULT_LIMITS.max_adjust,
                  "description": "at most limits.credits.max_adjust of the service rules "
                                 "either way"},
    )
    reason = fields.String(required=True, validate=[validate.Length(min=1, max=500), NO_NUL])
    author = fields.String(validate=[validate.Length(max=100), NO_NUL])
    key = fields.String(validate=[validate.Length(min=1, max=200), NO_NUL])

    @validates_schema
    def _configured_limits(self, data: dict[str, Any], **_: Any) -> None:
        problem = self.limits.adjust_problem(data.get("units", 0))
        if problem:
            raise ValidationError(problem, "units")


class LotSchema(Schema):
    """A package and what is left in it."""

    lot_id = fields.Integer()
    tasks = fields.Integer()
    remaining = fields.Integer(
        allow_none=True, metadata={"description": "null in a purchase's answer (not computed)"}
    )
    purchased_at = fields.String()
    expires_at = fields.String()
    expired = fields.Boolean()
    price_per_task = fields.String()
    currency = fields.String()


class BalanceSchema(Schema):
    """Balance = sum of entries; available = balance − reserved."""

    company_id = fields.String()
    at = fields.String(allow_none=True)
    balance = fields.Integer()
    reserved = fields.Integer()
    available = fields.Integer()
    debt = fields.Integer(metadata={"description": "credits used on overdraft, not yet covered"})
    has_account = fields.Boolean()
    lots = fields.List(fields.Nested(LotSchema))
    expiring_soon = fields.List(fields.Nested(LotSchema))


class PurchaseSchema(Schema):
    """The lot a purchase created (or found again by its key)."""

    lot = fields.Nested(LotSchema)
    entry_id = fields.Integer()
    duplicate = fields.Boolean()


class EntrySchema(Schema):
    """One statement row: an entry with the balance and reservations after it."""

    id = fields.Integer()
    posted_at = fields.String()
    kind = fields.String()
    ticket = fields.String(allow_none=True)
    cycle = fields.Integer(allow_none=True)
    task_type = fields.String(allow_none=True)
    units = fields.Integer()
    reserved_change = fields.Integer()
    balance = fields.Integer()
    reserved = fields.Integer()
    lots = fields.String()
    flag = fields.String(allow_none=True)
    note = fields.String(allow_none=True)
    #: the credits' worth in the package's currency (units x price per task); null when the
    #: entry moves no units (reserve, release, settle)
    amount = fields.String(allow_none=True)
    currency = fields.String(allow_none=True)


class AdjustmentSchema(Schema):
    """The adjustment entry."""

    entry = fields.Nested(EntrySchema)
    duplicate = fields.Boolean()


class MoneyLineSchema(Schema):
    """A money charge kept apart from credits."""

    id = fields.Integer()
    posted_at = fields.String()
    ticket = fields.String(allow_none=True)
    amount = fields.String()
    currency = fields.String()
    reason = fields.String(allow_none=True)


class StatementSchema(Schema):
    """Packages, entries with running balance, burns and money lines of a period."""

    company_id = fields.String()
    from_ = fields.String(data_key="from", allow_none=True)
    to = fields.String(allow_none=True)
    opening_balance = fields.Integer()
    opening_reserved = fields.Integer()
    closing_balance = fields.Integer()
    totals = fields.Dict(keys=fields.String(), values=fields.Integer())
    #: what ``totals`` and ``totals_money`` sum
    totals_label = fields.String()
    totals_money = fields.Dict(keys=fields.String(),
                               values=fields.Dict(keys=fields.String(), values=fields.String()))
    lots = fields.List(fields.Dict())
    entries = fields.List(fields.Nested(EntrySchema))
    money = fields.List(fields.Nested(MoneyLineSchema))
    money_totals = fields.Dict(keys=fields.String(), values=fields.String())


class NoticeSchema(Schema):
    """A low-balance, expiring-soon or overdrawn notice."""

    kind = fields.String()
    company_id = fields.String()
    message = fields.String()
    data = fields.Dict()


class ErrorSchema(Schema):
    """The error envelope every Deskpilot endpoint answers with."""

    code = fields.String(metadata={"description": "a slug, e.g. unauthorized"})
    status = fields.Integer(metadata={"description": "the HTTP status"})
    message = fields.String()
    errors = fields.Dict()
