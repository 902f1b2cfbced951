"""Admin credentials and the JSON error envelope shared by every HTTP surface.

The envelope is ``{code, status, message, errors}`` with a dotted-slug ``code`` and the
numeric ``status`` (flask-smorest's shape), the same for the receiver, the admin APIs and
Flask's own 404/405. A missing admin token is 401; a wrong one is 403.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from typing import Any

from flask import Response, current_app, jsonify, request

from plugin.settings import Settings


def error_response(status: int, code: str, message: str, errors: Any = None,
                   headers: Mapping[str, str] | None = None) -> Response:
    resp = jsonify({"code": code, "status": status, "message": message, "errors": errors or {}})
    resp.status_code = status
    for key, value in (headers or {}).items():
        resp.headers[key] = value
    if status == 401:
        resp.headers.setdefault("WWW-Authenticate", 'Bearer realm="deskpilot"')
    return resp


def token_ok(settings: Settings, token: str | None) -> bool:
    """Whether ``token`` is one of the configured admin tokens (constant-time compare)."""
    if not token:
        return False
    given = token.encode()
    # compare against every token (rotation) so the time taken does not tell which matched
    hits = [hmac.compare_digest(given, str(t).encode()) for t in settings.admin_tokens]
    return any(hits)


def bearer(header: str | None) -> str | None:
    if header and header[:7].lower() == "bearer ":
        return header[7:].strip() or None
    return None


def token_status(settings: Settings, token: str | None) -> int | None:
    """``None`` when the token is valid, 401 when it is missing, 403 when it is wrong."""
    if not token:
        return 401
    return None if token_ok(settings, token) else 403


def require_admin() -> Response | None:
    """A ``before_request`` guard for admin blueprints (Authorization: Bearer <token>).

    Wrong tokens count towards the per-address sign-in throttle (``plugin.web_sessions``):
    past the allowed failures the address is answered 429 with ``Retry-After``."""
    from plugin.web_sessions import Throttle

    ctx = current_app.extensions["deskpilot"]
    settings = ctx.settings
    given = bearer(request.headers.get("Authorization"))
    throttle = Throttle.from_settings(settings)
    if given:
        wait = throttle.retry_after(ctx.db, request.remote_addr)
        if wait is not None:
            return error_response(429, "too-many-requests",
                                  f"too many wrong tokens from this address: retry in {wait} s",
                                  headers={"Retry-After": str(wait)})
    status = token_status(settings, given)
    if status == 401:
        return error_response(401, "unauthorized", "an admin token is required "
                              "(Authorization: Bearer <token>)")
    if status == 403:
        throttle.failed(ctx.db, request.remote_addr)
        return error_response(403, "forbidden", "this admin token is not valid")
    return None


#: the OpenAPI schema of an id or name in a path or query (what the guard below accepts)
PRINTABLE_STRING = {"type": "string", "minLength": 1, "maxLength": 200,
                    "pattern": "^[^\\u0000-\\u001f\\u007f]+$"}


def _printable(value: str) -> bool:
    return len(value) <= 200 and not any(ord(ch) < 32 or ord(ch) == 127 for ch in value)


def require_printable_input() -> Response | None:
    """A ``before_request`` guard: path and query values are printable text.

    Ids end up in queries and primary keys; control characters (PostgreSQL refuses NUL)
    and huge values are a client error, never a 500 from the database.
    """
    values = {**(request.view_args or {}), **request.args}
    bad = sorted(k for k, v in values.items() if isinstance(v, str) and not _printable(v))
    if bad:
        return error_response(422, "invalid-parameter", "parameters must be printable text",
                              {k: ["control characters or over 200 characters"] for k in bad})
    return None
