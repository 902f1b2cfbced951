"""The admin API's OpenAPI document, built by apispec from the blueprints' marshmallow schemas.

Each blueprint module that documents itself is listed in ``SOURCES`` and defines
``openapi_paths(spec)``, which registers its schemas and paths; add one line per module.
"""

from __future__ import annotations

import importlib

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from flask import Blueprint, Response, current_app, jsonify

#: modules whose ``openapi_paths(spec)`` adds to the document, in order
SOURCES: tuple[str, ...] = ("plugin.ledger.admin_api", "plugin.reports.api",
                            "plugin.cabinet.web")

openapi_api = Blueprint("openapi_api", __name__)


def build_spec(sources: tuple[str, ...] = SOURCES) -> APISpec:
    """The OpenAPI 3 document of every listed source."""
    from plugin.ledger.schemas import ErrorSchema

    spec = APISpec(
        title="Deskpilot admin API",
        version="1",
        openapi_version="3.0.3",
        plugins=[MarshmallowPlugin()],
        info={"description": "Admin endpoints; send `Authorization: Bearer <admin token>`."},
        security=[{"bearer": []}],
    )
    spec.components.security_scheme("bearer", {"type": "http", "scheme": "bearer"})
    spec.components.schema("Error", schema=ErrorSchema)
    for name in sources:
        importlib.import_module(name).openapi_paths(spec)
    return spec


@openapi_api.get("/api/openapi.json")
def openapi_json() -> Response:
    """The OpenAPI document (public: it describes, it reveals no data)."""
    from plugin.ledger.admin_api import configured_document

    doc = build_spec().to_dict()
    if "deskpilot" in current_app.extensions and "plugin.ledger.admin_api" in SOURCES:
        doc = configured_document(doc)  # the request maxima of limits.credits in force
    return jsonify(doc)
