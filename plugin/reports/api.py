"""The reports JSON API, ``Authorization: Bearer <admin token>`` on every call.

Query parameters on every path: ``from``, ``to`` (``YYYY-MM-DD``, the end date inclusive,
or ISO datetimes with offset; default the last 28 days and today), ``company``, ``manager``.

- ``GET /api/reports/summary`` — the whole report: ``period``, ``filters``, ``kpis`` (each
  ``{value, target, ok, n, label, unit, formula}``), ``breaches``, ``by`` (type, priority,
  company, manager → group → KPI), ``profitability``, ``credits``, ``stuck``, ``late``, ``trend``.
- ``GET /api/reports/kpis`` — ``{period, filters, kpis}`` only.
- ``GET /api/reports/stuck`` — ``{stuck: [...]}``: open tasks past deadline, idle.
- ``GET /api/reports/trend?weeks=8`` — ``{trend: [{week, resolved, within_1_day, on_time,
  first_time_resolution}]}``.

Errors use the receiver's envelope ``{code, status, message, errors}``: 401 without a valid
token, 422 for a bad period.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request

from plugin.auth import (
    PRINTABLE_STRING,
    error_response,
    require_admin,
    require_printable_input,
)
from plugin.reports.service import PeriodError, report_for
from plugin.storage.db import utcnow

bp = Blueprint("reports_api", __name__, url_prefix="/api/reports")


bp.before_request(require_admin)
bp.before_request(require_printable_input)


def _report(trend_weeks: int = 8) -> Any:
    ctx = current_app.extensions["deskpilot"]
    args = request.args
    with ctx.db.session() as session:
        return report_for(session, ctx.settings, utcnow(), args.get("from"), args.get("to"),
                          args.get("company"), args.get("manager"), trend_weeks)


def _guarded(build: Any) -> Response:
    try:
        return jsonify(build())
    except PeriodError as exc:
        return error_response(422, "invalid-period", str(exc))


@bp.get("/summary")
def summary() -> Response:
    """The whole report of the period."""
    return _guarded(lambda: _report().to_json())


@bp.get("/kpis")
def kpis() -> Response:
    """The KPIs of the period with their targets."""
    def build() -> dict[str, Any]:
        full = _report().to_json()
        return {k: full[k] for k in ("period", "filters", "kpis")}
    return _guarded(build)


@bp.get("/stuck")
def stuck() -> Response:
    """Open tasks past their deadline with no recent activity."""
    return _guarded(lambda: {"stuck": _report().to_json()["stuck"]})


@bp.get("/trend")
def trend() -> Response:
    """Weekly resolved counts and shares, oldest first."""
    weeks = max(1, min(request.args.get("weeks", 8, type=int) or 8, 104))
    return _guarded(lambda: {"trend": _report(weeks).to_json()["trend"]})


def openapi_paths(spec: Any) -> None:
    """Register the reports paths on ``spec`` (see ``plugin.openapi``)."""
    kpi = {"type": "object", "properties": {
        "value": {"type": "number", "nullable": True},
        "target": {"type": "number", "nullable": True},
        "ok": {"type": "boolean", "nullable": True}, "n": {"type": "integer"},
        "label": {"type": "string"}, "unit": {"type": "string"},
        "formula": {"type": "string"}}}
    spec.components.schema("Kpi", kpi)
    spec.components.schema("Report", {"type": "object", "properties": {
        "period": {"type": "object"}, "filters": {"type": "object"},
        "kpis": {"type": "object", "additionalProperties": {"$ref": "#/components/schemas/Kpi"}},
        "breaches": {"type": "object"}, "by": {"type": "object"},
        "profitability": {"type": "object"}, "credits": {"type": "object", "nullable": True},
        "stuck": {"type": "array", "items": {"type": "object"}},
        "late": {"type": "array", "items": {"type": "object"}},
        "trend": {"type": "array", "items": {"type": "object"}}}})
    bound = {"anyOf": [{"type": "string", "format": "date"},
                       {"type": "string", "format": "date-time"}]}
    params = [
        {"in": "query", "name": "from", "schema": bound,
         "description": "YYYY-MM-DD or ISO datetime with offset (default: 28 days ago)"},
        {"in": "query", "name": "to", "schema": bound,
         "description": "inclusive YYYY-MM-DD or exclusive ISO datetime (default: today)"},
        {"in": "query", "name": "company", "schema": PRINTABLE_STRING},
        {"in": "query", "name": "manager", "schema": PRINTABLE_STRING},
    ]
    err = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
    errors = {"401": {"description": "missing or invalid admin token", **err},
              "422": {"description": "invalid period", **err},
              "429": {"description": "too many wrong tokens from this address", **err}}
    report = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Report"}}}}
    for path, summary, extra in (
        ("/api/reports/summary", "The whole quality report of the period", []),
        ("/api/reports/kpis", "The KPIs of the period with targets (period, filters, kpis)", []),
        ("/api/reports/stuck", "Open tasks past their deadline with no recent activity", []),
        ("/api/reports/trend", "Weekly resolved counts and shares",
         [{"in": "query", "name": "weeks", "schema": {"type": "integer", "default": 8}}]),
    ):
        spec.path(path=path, operations={"get": {
            "summary": summary, "tags": ["reports"], "parameters": params + extra,
            "responses": {"200": {"description": summary, **report}, **errors},
        }})
