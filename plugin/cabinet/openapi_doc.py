"""The cabinet's paths in the OpenAPI document (``plugin.openapi`` lists ``plugin.cabinet.web``)."""

from __future__ import annotations

from typing import Any

_INSTANT = {"type": "string", "format": "date-time", "nullable": True,
            "description": "ISO 8601 in the company's time zone"}
_TASK = {"type": "object", "properties": {
    "ticket": {"type": "string", "description": "the host's ticket id"},
    "reference": {"type": "string", "description": "the ticket as the host shows it "
                  "(django-helpdesk `support-4`, Zammad's number `#31081`), else `#<id>`"},
    "url": {"type": "string", "nullable": True,
            "description": "the ticket's page for the client (Zendesk Help Center, Freshdesk "
                           "portal, django-helpdesk public view, …; "
                           "`options.client_ticket_url`); null when none can be built"},
    "subject": {"type": "string", "nullable": True},
    "type": {"type": "string", "nullable": True}, "type_label": {"type": "string"},
    "units": {"type": "integer"}, "status": {"type": "string"},
    "filed_at": _INSTANT, "accepted_at": _INSTANT, "accept_due": _INSTANT,
    "resolve_due": _INSTANT, "resolved_at": _INSTANT, "deferred_to": _INSTANT,
    "paused": {"type": "boolean", "description": "the clock stands: waiting for the client"},
    "paused_since": _INSTANT,
    "working_minutes_left": {"type": "integer", "nullable": True,
                             "description": "open tasks: working minutes to resolve_due "
                                            "(negative: overdue; frozen while paused)"},
    "overdue": {"type": "boolean"},
    "on_time": {"type": "boolean", "nullable": True, "description": "finished tasks"},
    "logged_minutes": {"type": "integer", "description": "the specialist's logged time"},
    "estimate_hours": {"type": "number", "nullable": True, "description": "enhancements"},
    "credits_reserved": {"type": "integer"}, "credits_debited": {"type": "integer"},
}}
_LOT = {"type": "object", "properties": {
    "lot_id": {"type": "integer"}, "tasks": {"type": "integer"},
    "remaining": {"type": "integer"}, "purchased_at": _INSTANT, "expires_at": _INSTANT,
    "expired": {"type": "boolean"}, "expiring_soon": {"type": "boolean"},
    "price_per_task": {"type": "string"}, "currency": {"type": "string"}}}
_ENTRY = {"type": "object", "properties": {
    "id": {"type": "integer"}, "posted_at": _INSTANT,
    "kind": {"type": "string", "enum": ["purchase", "grant", "reserve", "release", "debit",
                                        "reversal", "burn", "adjust", "settle"]},
    "ticket": {"type": "string", "nullable": True, "description": "the host's ticket id"},
    "reference": {"type": "string", "nullable": True,
                  "description": "the ticket as the host shows it, else `#<id>`"},
    "task_type": {"type": "string", "nullable": True},
    "units": {"type": "integer"}, "reserved_change": {"type": "integer"},
    "amount": {"type": "string", "nullable": True,
               "description": "the credits' worth, signed like `units` (units x the package's "
                              "price; the CLI statement's figure); null: no units moved, or "
                              "several currencies (`currency` is then `mixed`)"},
    "currency": {"type": "string", "nullable": True},
    "amounts": {"type": "object", "additionalProperties": {"type": "string"},
                "description": "the amount per currency"},
    "balance": {"type": "integer", "description": "balance after this entry"},
    "reserved": {"type": "integer", "description": "reserved after this entry"},
    "flag": {"type": "string", "nullable": True},
    "lot_id": {"type": "integer", "nullable": True, "description": "a purchase's or expiry's lot"},
    "note": {"type": "string", "nullable": True}}}
_PAGER = {"type": "object", "description": "a page of tasks: its positions in the list",
          "properties": {
              "page": {"type": "integer"}, "page_size": {"type": "integer"},
              "total": {"type": "integer"},
              "first": {"type": "integer", "description": "1-based; 0 past the end"},
              "last": {"type": "integer"}, "more": {"type": "boolean"}}}
CABINET = {"type": "object", "properties": {
    "company": {"type": "object", "properties": {
        "id": {"type": "string"}, "name": {"type": "string"},
        "timezone": {"type": "string"}, "calendar": {"type": "string"}}},
    "language": {"type": "string", "enum": ["uk", "en"]},
    "configured_language": {"type": "string", "enum": ["uk", "en"]},
    "generated_at": _INSTANT,
    "tasks": {"type": "object", "properties": {
        "open": {"type": "array", "items": {"$ref": "#/components/schemas/CabinetTask"}},
        "open_total": {"type": "integer"},
        "open_pager": _PAGER,
        "finished": {"type": "array", "items": {"$ref": "#/components/schemas/CabinetTask"}},
        "finished_pager": _PAGER,
        "page": {"type": "integer"}, "page_size": {"type": "integer"},
        "more": {"type": "boolean"}}},
    "credits": {"type": "object", "properties": {
        "has_account": {"type": "boolean"}, "balance": {"type": "integer"},
        "reserved": {"type": "integer"}, "available": {"type": "integer"},
        "debt": {"type": "integer"}, "expiring_soon_days": {"type": "integer"},
        "lots": {"type": "array", "items": {"$ref": "#/components/schemas/CabinetLot"}}}},
    "statement": {"type": "object", "properties": {
        "page": {"type": "integer"}, "page_size": {"type": "integer"},
        "more": {"type": "boolean"}, "closing_balance": {"type": "integer"},
        "entries": {"type": "array", "items": {"$ref": "#/components/schemas/CabinetEntry"}},
        "money": {"type": "array", "items": {"type": "object"}}}},
    "manager": {"type": "object", "nullable": True, "properties": {
        "name": {"type": "string"}, "calendar": {"type": "string"},
        "calendar_timezone": {"type": "string"}, "working_now": {"type": "boolean"},
        "next_window": {"type": "object", "nullable": True,
                        "properties": {"start": _INSTANT, "end": _INSTANT}},
        "week": {"type": "array", "items": {"type": "object"}}}},
    "cap": {"type": "object", "properties": {
        "date": {"type": "string", "format": "date"}, "used": {"type": "integer"},
        "max": {"type": "integer", "nullable": True},
        "exempt_types": {"type": "array", "items": {"type": "string"}}}},
    "kpis": {"type": "object", "properties": {
        "period": {"type": "object"},
        "values": {"type": "object", "additionalProperties": {"type": "object"},
                   "description": "the team report's KPIs filtered to this company"},
        "shown": {"type": "array", "items": {"type": "string"}}}},
}}


def register(spec: Any) -> None:
    """Add the cabinet's schemas, security scheme and paths to ``spec``."""
    spec.components.schema("CabinetTask", _TASK)
    spec.components.schema("CabinetLot", _LOT)
    spec.components.schema("CabinetEntry", _ENTRY)
    spec.components.schema("Cabinet", CABINET)
    spec.components.security_scheme("cabinet_link", {
        "type": "http", "scheme": "bearer",
        "description": "the company's cabinet link token (`deskpilot cabinet link COMPANY`)"})
    bound = {"anyOf": [{"type": "string", "format": "date"},
                       {"type": "string", "format": "date-time"}]}
    page = {"type": "integer", "minimum": 1, "maximum": 10000, "default": 1}
    params = [
        {"in": "query", "name": "lang", "schema": {"type": "string", "enum": ["uk", "en"]},
         "description": "language of labels (default: the company's)"},
        {"in": "query", "name": "open_page", "schema": page, "description": "open tasks page"},
        {"in": "query", "name": "page", "schema": page, "description": "finished tasks page"},
        {"in": "query", "name": "statement_page", "schema": page},
        {"in": "query", "name": "from", "schema": bound, "description": "KPI period start"},
        {"in": "query", "name": "to", "schema": bound, "description": "KPI period end"},
    ]
    token = {"in": "path", "name": "token", "required": True,
             "schema": {"type": "string", "pattern": "^[A-Za-z0-9_-]{43}$"}}
    err = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
    ok = {"description": "the company's cabinet",
          "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Cabinet"}}}}
    responses = {"200": ok,
                 "404": {"description": "unknown, revoked or expired link (indistinguishable)",
                         **err},
                 "422": {"description": "a bad period or page", **err}}
    spec.path(path="/api/cabinet", operations={"get": {
        "summary": "A client company's cabinet (link token as bearer)", "tags": ["cabinet"],
        "security": [{"cabinet_link": []}], "parameters": params, "responses": responses}})
    spec.path(path="/api/cabinet/{token}", operations={"get": {
        "summary": "A client company's cabinet (link token in the path)", "tags": ["cabinet"],
        "security": [], "parameters": [token, *params], "responses": responses}})
    spec.path(path="/api/cabinet/{token}/statement.csv", operations={"get": {
        "summary": "The company's whole credit statement as CSV, with running balance",
        "tags": ["cabinet"], "security": [], "parameters": [token],
        "responses": {"200": {"description": "CSV", "content": {"text/csv": {}}},
                      "404": {"description": "unknown, revoked or expired link", **err}}}})
