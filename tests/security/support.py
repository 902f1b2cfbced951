"""A full app (receiver, admin API, reports, dashboard) with distinctive secrets everywhere."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Flask

from plugin.app import create_app
from plugin.context import Context, build_context
from plugin.settings import load_settings
from tests.integration.test_receiver_security import HOSTS, Host

ROOT = Path(__file__).resolve().parents[2]
#: every configured secret is recognisable, so a leak anywhere can be searched for
SECRETS = {
    "old": "SEKRET-old-webhook-4b1d9e",
    "new": "SEKRET-new-webhook-77c0aa",
    "token": "SEKRET-url-token-0d2f5a81",
    "admin": "SEKRET-admin-token-9e3c1b7f",
    "admin2": "SEKRET-admin-token-rotated-55",
    "api_password": "SEKRET-host-api-password-31",
    "api_key": "SEKRET-host-api-key-8fa2c4",
    "api_token": "SEKRET-host-api-token-c3d4e5",
    "host_token": "SEKRET-host-token-a9b8c7",
    "callback": "SEKRET-callback-secret-e6f7a1",
}
LIMIT = 8192


def connections(callback_url: str | None = None) -> list[dict[str, Any]]:
    out = []
    for h in HOSTS:
        conn: dict[str, Any] = {
            "name": h.name, "kind": h.kind,
            "webhook_secrets": [SECRETS["old"], SECRETS["new"]],
            "webhook_tokens": [SECRETS["token"]], "body_limit": LIMIT,
            "base_url": "http://helpdesk.invalid/",
            "credentials": {"password": SECRETS["api_password"], "api_key": SECRETS["api_key"],
                            "api_token": SECRETS["api_token"], "token": SECRETS["host_token"],
                            "email": "bot@desk.example",
                            "callback_secret": SECRETS["callback"]},
            **h.conn,
        }
        if h.kind == "generic":
            conn["callback_url"] = callback_url
            conn.pop("base_url")
        out.append(conn)
    return out


def make_app(tmp: Path, db_url: str, redis_url: str | None,
             callback_url: str | None = None) -> tuple[Flask, Context]:
    import plugin.tables  # noqa: F401 - every table on Base.metadata

    settings = load_settings({}, {
        "database_url": db_url, "redis_url": redis_url, "var_dir": str(tmp / "var"),
        "config_dir": str(ROOT / "config"), "log_level": "DEBUG",
        "admin_tokens": [SECRETS["admin"], SECRETS["admin2"]],
        "connections": connections(callback_url),
    })
    ctx = build_context(settings)
    ctx.db.create_all()
    app = create_app(context=ctx)
    _register_admin(app)
    return app, ctx


def _register_admin(app: Flask) -> None:
    # the admin API and its OpenAPI document, when the app factory does not mount them yet
    from plugin.ledger.admin_api import credits_api
    from plugin.openapi import openapi_api

    for bp in (credits_api, openapi_api):
        if bp.name not in app.blueprints:
            app.register_blueprint(bp)


def url_of(host: Host, token: str = SECRETS["token"]) -> str:
    return f"/webhooks/{host.name}" + ("" if host.headers else f"/{token}")
