"""The Flask application factory."""

from __future__ import annotations

import logging

from flask import Blueprint, Flask, Response, current_app, jsonify
from redis.exceptions import RedisError
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.exceptions import HTTPException, MethodNotAllowed

from plugin.auth import error_response
from plugin.context import Context, build_context
from plugin.settings import Settings, load_settings

log = logging.getLogger("deskpilot.app")
health = Blueprint("health", __name__)


@health.get("/healthz")
def healthz() -> Response:
    """The process is up."""
    return jsonify({"status": "ok"})


@health.get("/readyz")
def readyz() -> Response:
    """The database and Redis are reachable; else 503 so a balancer stops sending."""
    ctx: Context = current_app.extensions["deskpilot"]
    checks: dict[str, str] = {}
    try:
        ctx.db.ping()
        checks["database"] = "ok"
    except SQLAlchemyError as exc:
        checks["database"] = f"down: {exc.__class__.__name__}"
    try:
        ctx.redis.ping()
        checks["redis"] = "ok"
    except (RedisError, OSError, RuntimeError) as exc:
        checks["redis"] = f"down: {exc.__class__.__name__}"
    ok = all(v == "ok" for v in checks.values())
    resp = jsonify({"status": "ok" if ok else "unavailable", "checks": checks})
    resp.status_code = 200 if ok else 503
    if not ok:
        resp.headers["Retry-After"] = "10"
    return resp


def create_app(settings: Settings | None = None, context: Context | None = None) -> Flask:
    """Build the web application around one :class:`Context`."""
    if context is None:
        context = build_context(settings or load_settings())
    app = Flask("deskpilot")
    app.config["MAX_CONTENT_LENGTH"] = max(
        [c.body_limit for c in context.settings.connections] + [1024 * 1024]
    ) + 1
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.extensions["deskpilot"] = context

    from plugin.cabinet.web import bp as cabinet_bp
    from plugin.ledger.admin_api import credits_api
    from plugin.openapi import openapi_api
    from plugin.processing.balance import install as push_balances
    from plugin.reports.web import register_reports
    from webhooks.receiver import bp as webhooks_bp

    push_balances()  # purchases and adjustments through the API reach the host
    app.register_blueprint(health)
    app.register_blueprint(webhooks_bp)
    app.register_blueprint(credits_api)
    app.register_blueprint(openapi_api)
    register_reports(app)
    app.register_blueprint(cabinet_bp)  # the client cabinet (issue 19)
    app.register_error_handler(HTTPException, _json_http_error)
    return app


def _json_http_error(exc: HTTPException) -> Response:
    """Unknown URLs and methods answer in the same JSON envelope as everything else."""
    code = exc.code or 500
    slug = (exc.name or "error").lower().replace(" ", "-")
    headers = {}
    if isinstance(exc, MethodNotAllowed) and exc.valid_methods:
        headers["Allow"] = ", ".join(exc.valid_methods)
    return error_response(code, slug, exc.description or exc.name, headers=headers)
