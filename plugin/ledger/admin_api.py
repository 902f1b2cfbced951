"""The credits admin API under ``/api/credits``: the CLI's commands as JSON, token-protected."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

from apispec import APISpec
from flask import Blueprint, Response, current_app, jsonify, request
from marshmallow import ValidationError
from sqlalchemy.orm import Session

from plugin.auth import (
    PRINTABLE_STRING,
    error_response,
    require_admin,
    require_printable_input,
)
from plugin.ledger.accounts import LedgerError
from plugin.ledger.admin import (
    buy,
    company_plan,
    correct,
    parse_instant,
    read_balance,
    read_statement,
)
from plugin.ledger.expiry import expire_lots
from plugin.ledger.hooks import balance_changed
from plugin.ledger.plans import Plans, PlansError, load_plans
from plugin.ledger.queries import notices
from plugin.ledger.schemas import (
    AdjustmentRequestSchema,
    AdjustmentSchema,
    BalanceSchema,
    NoticeSchema,
    PurchaseRequestSchema,
    PurchaseSchema,
    StatementSchema,
)
from plugin.storage.db import utcnow
from rules.config.credit_limits import CreditLimits, read_credit_limits
from rules.config.source import SourceError
from rules.event import company_key

T = TypeVar("T")
credits_api = Blueprint("credits_api", __name__, url_prefix="/api/credits")
credits_api.before_request(require_admin)


credits_api.before_request(require_printable_input)


@credits_api.url_value_preprocessor
def _canonical_company(endpoint: str | None, values: dict[str, Any] | None) -> None:
    """Company ids are case-insensitive: ``/api/credits/ACME`` is ``acme`` (rules.event)."""
    if values and isinstance(values.get("company_id"), str):
        values["company_id"] = company_key(values["company_id"])
#: as long as the body's ``key`` may be (see the request schemas)
MAX_KEY = 200


def _plans() -> Plans:
    return load_plans(current_app.extensions["deskpilot"].settings.config_dir)


def _limits() -> CreditLimits:
    """``limits.credits`` of the rules in force, read per request (an edit applies at once)."""
    return read_credit_limits(current_app.extensions["deskpilot"].settings.config_dir)


def _in_session(fn: Callable[[Session], T]) -> T:
    with current_app.extensions["deskpilot"].db.session() as session:
        return fn(session)


def _instant_arg(name: str) -> datetime | None:
    text = request.args.get(name)
    return parse_instant(text) if text else None


@credits_api.errorhandler(LedgerError)
def _refused(exc: LedgerError) -> Response:
    return error_response(422, "refused", str(exc))


@credits_api.errorhandler(PlansError)
def _bad_plans(exc: PlansError) -> Response:
    return error_response(409, "plans-invalid", str(exc))


@credits_api.errorhandler(SourceError)
def _bad_rules(exc: SourceError) -> Response:
    return error_response(409, "rules-invalid", str(exc))


@credits_api.errorhandler(ValidationError)
def _invalid(exc: ValidationError) -> Response:
    messages = exc.messages if isinstance(exc.messages, dict) else {"_schema": exc.messages}
    return error_response(
        422, "invalid-payload", "the request body does not match the schema", {"json": messages}
    )


def _body() -> dict[str, Any]:
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise ValidationError({"_schema": ["a JSON object is required"]})
    return data


def _idempotency_key(company_id: str, data: dict[str, Any]) -> str:
    """The body's ``key`` or the ``Idempotency-Key`` header; a POST without one is refused.

    A made-up key would turn a client's retry (a timeout, a lost answer) into a second
    purchase; with the client's key the retry finds the first and buys nothing. Keys are
    the client's, so they are scoped to the company (two companies may both send "1").
    """
    key = data.get("key") or request.headers.get("Idempotency-Key", "").strip()
    if not key or len(key) > MAX_KEY:
        raise ValidationError(
            {
                "key": [
                    f"an idempotency key (1-{MAX_KEY} characters) is required: the body's "
                    "key or the Idempotency-Key header; a retry with the same key posts once"
                ]
            }
        )
    return f"api:{company_id}:{key}"


@credits_api.get("/<company_id>")
def get_balance(company_id: str) -> Response:
    now = utcnow()
    at = _instant_arg("at") or now
    plans = _plans()
    bal = _in_session(lambda s: read_balance(s, plans, company_id, at, now))
    return jsonify(BalanceSchema().dump(bal.to_json()))


@credits_api.get("/<company_id>/statement")
def get_statement(company_id: str) -> Response:
    start, end = _instant_arg("from"), _instant_arg("to")
    st = _in_session(lambda s: read_statement(s, company_id, start, end, utcnow()))
    return jsonify(StatementSchema().dump(st.to_json()))


@credits_api.get("/<company_id>/notices")
def get_notices(company_id: str) -> Response:
    plans, now = _plans(), utcnow()
    found = _in_session(lambda s: notices(s, company_id, now, company_plan(s, plans, company_id)))
    return jsonify([NoticeSchema().dump(n.to_json()) for n in found])


@credits_api.post("/<company_id>/purchases")
def post_purchase(company_id: str) -> tuple[Response, int]:
    data = PurchaseRequestSchema(limits=_limits()).load(_body())
    key = _idempotency_key(company_id, data)
    plans, at = _plans(), data.get("at") or utcnow()
    bought = _in_session(
        lambda s: buy(
            s,
            plans,
            company_id,
            data["tasks"],
            at,
            data.get("price_per_task"),
            data.get("currency"),
            key,
        )
    )
    if not bought.duplicate:
        balance_changed(company_id)
    lot = bought.lot
    body = {
        "lot": {
            "lot_id": lot.id,
            "tasks": lot.tasks,
            "remaining": None,
            "purchased_at": lot.purchased_at.isoformat(),
            "expires_at": lot.expires_at.isoformat(),
            "expired": False,
            "price_per_task": str(lot.price_per_task),
            "currency": lot.currency,
        },
        "entry_id": bought.entry.id,
        "duplicate": bought.duplicate,
    }
    return jsonify(PurchaseSchema().dump(body)), 200 if bought.duplicate else 201


@credits_api.post("/<company_id>/adjustments")
def post_adjustment(company_id: str) -> tuple[Response, int]:
    data = AdjustmentRequestSchema(limits=_limits()).load(_body())
    key = _idempotency_key(company_id, data)
    plans, now = _plans(), utcnow()
    entry, new = _in_session(
        lambda s: correct(
            s, plans, company_id, data["units"], data["reason"], data.get("author"), now, key
        )
    )
    if new:
        balance_changed(company_id)
    row = {
        "id": entry.id,
        "posted_at": entry.posted_at.isoformat(),
        "kind": entry.kind,
        "units": entry.units,
        "reserved_change": 0,
        "flag": entry.flag,
        "note": entry.reason,
    }
    return jsonify(AdjustmentSchema().dump({"entry": row, "duplicate": not new})), (
        201 if new else 200
    )


@credits_api.post("/expire")
def post_expire() -> Response:
    burns = _in_session(lambda s: expire_lots(s, utcnow()))
    for company_id in sorted({b.company_id for b in burns}):
        balance_changed(company_id)
    return jsonify(
        {
            "burned": [
                {"company_id": b.company_id, "lot_id": b.lot_id, "units": b.units} for b in burns
            ]
        }
    )


def _json(schema: str, description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


IDEMPOTENCY_KEY = {
    "in": "header",
    "name": "Idempotency-Key",
    "description": "required unless the body has key (422 without either); a retry with "
    "the same key posts once and answers 200",
    # OpenAPI cannot say "this or the body's key": documented as the one way always accepted
    "required": True,
    "schema": {"type": "string", "minLength": 1, "maxLength": MAX_KEY},
}


def document_limits(doc: dict[str, Any], limits: CreditLimits) -> dict[str, Any]:
    """``doc`` (the OpenAPI document as a dict) with the request maxima of ``limits``."""
    schemas = doc.get("components", {}).get("schemas", {})
    purchase = schemas.get("PurchaseRequest", {}).get("properties", {})
    adjustment = schemas.get("AdjustmentRequest", {}).get("properties", {})
    if "tasks" in purchase:
        purchase["tasks"]["maximum"] = limits.max_tasks_per_purchase
    if "price_per_task" in purchase:
        purchase["price_per_task"]["maximum"] = float(limits.max_price)
    if "units" in adjustment:
        adjustment["units"].update(minimum=-limits.max_adjust, maximum=limits.max_adjust)
    return doc


def configured_document(doc: dict[str, Any]) -> dict[str, Any]:
    """The served document: the limits of the rules in force (unreadable: as built)."""
    try:
        return document_limits(doc, _limits())
    except SourceError:
        return doc


def openapi_paths(spec: APISpec) -> None:
    """Register the credits schemas and paths on ``spec`` (see ``plugin.openapi``)."""
    for name, schema in (
        ("Balance", BalanceSchema),
        ("Statement", StatementSchema),
        ("Notice", NoticeSchema),
        ("PurchaseRequest", PurchaseRequestSchema),
        ("Purchase", PurchaseSchema),
        ("AdjustmentRequest", AdjustmentRequestSchema),
        ("Adjustment", AdjustmentSchema),
    ):
        spec.components.schema(name, schema=schema)
    company = {"in": "path", "name": "company_id", "required": True, "schema": PRINTABLE_STRING}
    instant = {"type": "string", "format": "date-time"}
    errors = {
        "401": _json("Error", "missing or invalid admin token"),
        "422": _json("Error", "invalid request or refused by the ledger"),
        "429": _json("Error", "too many wrong tokens from this address (Retry-After)"),
    }
    spec.path(
        path="/api/credits/{company_id}",
        operations={
            "get": {
                "summary": "Balance, reserved and available credits, per package",
                "parameters": [company, {"in": "query", "name": "at", "schema": instant}],
                "responses": {"200": _json("Balance", "the balance"), **errors},
            }
        },
    )
    spec.path(
        path="/api/credits/{company_id}/statement",
        operations={
            "get": {
                "summary": "Packages, entries with running balance, burns and money lines",
                "parameters": [
                    company,
                    {"in": "query", "name": "from", "schema": instant},
                    {"in": "query", "name": "to", "schema": instant},
                ],
                "responses": {"200": _json("Statement", "the statement"), **errors},
            }
        },
    )
    spec.path(
        path="/api/credits/{company_id}/notices",
        operations={
            "get": {
                "summary": "Low-balance, expiring-soon and overdrawn notices",
                "parameters": [company],
                "responses": {
                    "200": {
                        "description": "notices",
                        "content": {
                            "application/json": {"schema": {"type": "array", "items": "Notice"}}
                        },
                    },
                    **errors,
                },
            }
        },
    )
    spec.path(
        path="/api/credits/{company_id}/purchases",
        operations={
            "post": {
                "summary": "Add a package (refused below the plan's minimum)",
                "parameters": [
                    company,
                    IDEMPOTENCY_KEY,
                ],
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": "PurchaseRequest"}},
                },
                "responses": {
                    "201": _json("Purchase", "bought"),
                    "200": _json("Purchase", "already bought under this key"),
                    **errors,
                },
            }
        },
    )
    spec.path(
        path="/api/credits/{company_id}/adjustments",
        operations={
            "post": {
                "summary": "A manual correction with reason and author",
                "parameters": [
                    company,
                    IDEMPOTENCY_KEY,
                ],
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": "AdjustmentRequest"}},
                },
                "responses": {
                    "201": _json("Adjustment", "adjusted"),
                    "200": _json("Adjustment", "already adjusted under this key"),
                    **errors,
                },
            }
        },
    )
    spec.path(
        path="/api/credits/expire",
        operations={
            "post": {
                "summary": "Burn what is left in expired packages (idempotent)",
                "responses": {"200": {"description": "the burns posted"}, **errors},
            }
        },
    )
