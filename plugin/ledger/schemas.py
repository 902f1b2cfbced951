"""Marshmallow schemas of the credits admin API (requests validated, answers documented)."""

from __future__ import annotations

from marshmallow import RAISE, Schema, fields, validate


class _Strict(Schema):
    class Meta:
        unknown = RAISE


class PurchaseRequestSchema(_Strict):
    """A package to add to a company's deposit."""

    tasks = fields.Integer(required=True, validate=validate.Range(min=1))
    price_per_task = fields.Decimal(as_string=True, validate=validate.Range(min=0))
    currency = fields.String(validate=validate.Length(equal=3))
    at = fields.AwareDateTime(metadata={"description": "purchase time (default: now)"})
    key = fields.String(
        validate=validate.Length(min=1, max=200),
        metadata={"description": "idempotency key; a retry buys once"},
    )


class AdjustmentRequestSchema(_Strict):
    """A manual correction: +N grants, −N takes credits."""

    units = fields.Integer(required=True, validate=validate.Range(min=-100000, max=100000))
    reason = fields.String(required=True, validate=validate.Length(min=1, max=500))
    author = fields.String(validate=validate.Length(max=100))
    key = fields.String(validate=validate.Length(min=1, max=200))


class LotSchema(Schema):
    """A package and what is left in it."""

    lot_id = fields.Integer()
    tasks = fields.Integer()
    remaining = fields.Integer()
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

    code = fields.Integer()
    status = fields.String()
    message = fields.String()
    errors = fields.Dict()
