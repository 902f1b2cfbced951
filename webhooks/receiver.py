"""The receiver blueprint: verify, parse, store, enqueue, answer — nothing else.

Routes: ``POST /webhooks/<name>`` for hosts that sign, ``POST /webhooks/<name>/<token>``
for hosts that cannot; ``GET``/``HEAD`` answer 200 because hosts probe a URL when a
webhook is saved. The answers are the contract in README.md.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Mapping
from functools import cache
from typing import Any, cast

from flask import Blueprint, Response, current_app, jsonify, request

from plugin.auth import error_response
from plugin.logs import shown
from plugin.reports.metrics import count_event
from plugin.storage.db import utcnow
from rules.generic_format import FormatError
from webhooks.base import InvalidSignature, WebhookError, body_sha256
from webhooks.hosts import ADAPTERS
from webhooks.limits import check_events
from webhooks.store import Dependency, store_and_enqueue

log = logging.getLogger("deskpilot.webhook")
bp = Blueprint("webhooks", __name__, url_prefix="/webhooks")

#: headers kept with the raw event (what the adapters need to re-parse it); never secrets
KEPT_HEADERS = ("content-type", "user-agent")
#: the events table's ``delivery_key`` column
DELIVERY_LIMIT = 200


def error(status: int, code: str, message: str, errors: Any = None, **headers: str) -> Response:
    """The error envelope ``{code, status, message, errors}``."""
    return error_response(status, code, message, errors,
                          {k.replace("_", "-"): v for k, v in headers.items()})


def answer(status: str, event_id: int | None, reason: str | None, code: int) -> Response:
    resp = jsonify({"status": status, "event_id": event_id, "reason": reason})
    resp.status_code = code
    return resp


@cache
def kept_names(adapter: Any) -> tuple[str, ...]:
    """The headers kept for ``adapter``, spelled as ``request.headers`` lists them (built
    once per adapter)."""
    wanted = (*KEPT_HEADERS, *getattr(adapter, "KEPT_HEADERS", ()))
    return tuple(dict.fromkeys(h.title() for h in wanted))


def kept_headers(headers: Any, adapter: Any) -> dict[str, str]:
    """The kept headers present in ``headers`` (a WSGI ``EnvironHeaders``): a lookup per
    kept name instead of a pass over every header sent; an empty Content-Type counts as
    absent, as ``EnvironHeaders`` lists it."""
    kept = {}
    for name in kept_names(adapter):
        value = headers.get(name)
        if value is not None and (value or name != "Content-Type"):
            kept[name] = value
    return kept


@bp.route("/<name>", methods=["GET", "HEAD", "POST"])
@bp.route("/<name>/<token>", methods=["GET", "HEAD", "POST"])
def receive(name: str, token: str | None = None) -> Response:
    ctx = current_app.extensions["deskpilot"]
    conn = ctx.settings.connection(name)
    if conn is None:
        # the name is the URL's, not a configured one: bounded and escaped for the log line
        log.info("webhook.unknown-connection conn=%s", shown(name))
        return error(404, "unknown-connection", "no such webhook connection")
    if request.method in ("GET", "HEAD"):
        return answer("ok", None, None, 200)
    adapter = ADAPTERS[conn.kind]
    length = request.content_length
    if length is not None and length > conn.body_limit:
        log.info("webhook.too-large conn=%s", name)
        count_event(name, "invalid")
        return error(413, "too-large", f"body over {conn.body_limit} bytes")
    body = request.get_data(cache=False)
    if len(body) > conn.body_limit:
        log.info("webhook.too-large conn=%s", name)
        count_event(name, "invalid")
        return error(413, "too-large", f"body over {conn.body_limit} bytes")
    now = utcnow()
    # werkzeug's Headers: a case-insensitive mapping that is not registered as a Mapping
    headers = cast("Mapping[str, str]", request.headers)
    try:
        if token is not None:
            _check_token(token, conn.webhook_tokens)
        else:
            if not adapter.SIGNED:
                raise InvalidSignature("this host cannot sign: use the token URL")
            options = getattr(adapter, "verify_options", None)
            adapter.verify(body, headers, conn.webhook_secrets, now,
                           **(options(conn) if options else {}))
        events = adapter.parse(body, headers, conn)
        check_events(events, ctx.settings.config_dir)
    except WebhookError as exc:
        log.info("webhook.%s conn=%s", exc.code, name)
        count_event(name, "invalid")
        return error(exc.status, exc.code, exc.message, exc.errors)
    except FormatError as exc:  # the event checks (and the generic format) of rules/
        log.info("webhook.invalid-payload conn=%s", name)
        count_event(name, "invalid")
        return error(422, "invalid-payload", exc.message, exc.errors)
    except (ValueError, TypeError, KeyError, AttributeError, AssertionError, RecursionError):
        # an adapter gap, not the host's outage: answer 422 (a 5xx would make the host
        # retry a body that can never succeed) and keep the trace for us at WARNING
        log.warning("webhook.parse-error conn=%s", name, exc_info=True)
        count_event(name, "invalid")
        return error(422, "invalid-payload", "the payload could not be read")
    key = (events[0].delivery_key if events else None) or adapter.delivery_key(
        body, headers) or "sha256:" + body_sha256(body)
    if len(key) > DELIVERY_LIMIT:  # cut, two long ids would collide: refused instead
        log.info("webhook.invalid-payload conn=%s reason=delivery-id-too-long", name)
        count_event(name, "invalid")
        field = getattr(adapter, "DELIVERY_HEADER", "delivery")
        return error(422, "invalid-payload", "the delivery id is too long",
                     {field: [f"must be at most {DELIVERY_LIMIT} characters"]})
    try:
        outcome = store_and_enqueue(ctx, conn.name, key, body,
                                    kept_headers(request.headers, adapter), events)
    except Dependency as exc:
        log.warning("webhook.unavailable conn=%s dependency=%s", name, exc.which)
        count_event(name, "failed")
        return error(503, "unavailable", f"{exc.which} unavailable; retry later",
                     Retry_After="30")
    log.info("webhook.%s conn=%s event=%s", outcome.status, name, outcome.event_id)
    count_event(name, outcome.status)
    if outcome.status == "conflict":
        return error(409, "conflict", "this delivery id was already used with another body")
    code = 202 if outcome.status == "queued" else 200
    return answer(outcome.status, outcome.event_id, outcome.reason, code)


def _check_token(given: str, tokens: tuple[str, ...]) -> None:
    matched = False
    for candidate in tokens:
        matched |= hmac.compare_digest(given.encode(), candidate.encode())
    if not matched:
        raise InvalidSignature("unknown token")
