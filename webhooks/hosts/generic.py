"""The generic webhook: Deskpilot's own format, for any host or script (docs/generic-format.md).

Signature version 2 (the default): ``X-Deskpilot-Signature: t=<unix seconds>,v2=<hex>``
where ``<hex>`` is HMAC-SHA256(secret, ``"<t>.<delivery id>."`` + raw body) and the delivery
id is the ``X-Deskpilot-Delivery`` header ("" when absent). The timestamp must be within the
connection's ``options.signature_tolerance_seconds`` (300) of our clock, and the delivery id
is covered, so a captured delivery cannot be replayed later or under a new delivery id.
Several ``v2=`` entries may be sent (a sender rotating secrets signs with each); every
configured secret is tried (rotation on our side).

Version 1 (``sha256=<hex HMAC-SHA256(secret, raw body)>``, the format as first published) is
accepted only on a connection with ``options.accept_legacy_signature: true``.

The delivery id is ``X-Deskpilot-Delivery`` or, when absent, the SHA-256 of the body.

The body's format is defined once in ``rules/generic_format.py`` and read by
``rules/generic_event.py`` (shared with ``rules explain`` and ``rules test``).
"""

from __future__ import annotations

import hmac
import time
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from plugin.settings import Connection
from rules.event import Company, TicketEvent
from rules.generic_event import read_event
from rules.generic_format import FormatError
from webhooks.base import (
    InvalidPayload,
    InvalidSignature,
    body_sha256,
    check_any,
    company_for,
    header,
    hmac_hex,
    load_json,
)

KIND = "generic"
SIGNED = True
SIGNATURE_HEADER = "X-Deskpilot-Signature"
DELIVERY_HEADER = "X-Deskpilot-Delivery"
#: never the signature: a stored body must not be replayable from the events table
KEPT_HEADERS = (DELIVERY_HEADER,)
#: how far a v2 timestamp may be from our clock (``options.signature_tolerance_seconds``)
TOLERANCE_SECONDS = 300
#: the most ``v2=`` entries read from one header (a sender rotating needs two or three)
MAX_SIGNATURES = 8


def _digest(secret: str, timestamp: int, delivery: str, body: bytes) -> str:
    return hmac_hex(secret, f"{timestamp}.{delivery}.".encode() + body)


def sign(body: bytes, secret: str, *, delivery: str = "", timestamp: float | None = None
         ) -> str:
    """The v2 signature header value for ``body`` sent with the delivery id ``delivery``.

    The one signing function: ``deskpilot send``, the generic callback and the tests use it.
    """
    t = int(time.time() if timestamp is None else timestamp)
    return f"t={t},v2={_digest(secret, t, delivery, body)}"


def signed_headers(body: bytes, secret: str, delivery: str | None = None, *,
                   timestamp: float | None = None) -> dict[str, str]:
    """The signature and delivery headers of one generic delivery."""
    headers = {SIGNATURE_HEADER: sign(body, secret, delivery=delivery or "",
                                      timestamp=timestamp)}
    if delivery:
        headers[DELIVERY_HEADER] = delivery
    return headers


def sign_legacy(body: bytes, secret: str) -> str:
    """Version 1 (body only, replayable): for connections that still accept it."""
    return "sha256=" + hmac_hex(secret, body)


def verify_options(conn: Connection) -> dict[str, Any]:
    """What ``verify`` needs from the connection (the receiver passes it on)."""
    options = conn.options or {}
    return {"legacy": options.get("accept_legacy_signature") is True,
            "tolerance": int(options.get("signature_tolerance_seconds", TOLERANCE_SECONDS))}


def verify(body: bytes, headers: Mapping[str, str], secrets: Any, now: datetime, *,
           legacy: bool = False, tolerance: int = TOLERANCE_SECONDS) -> None:
    given = (header(headers, SIGNATURE_HEADER) or "").strip()
    if not secrets:
        raise InvalidSignature("no secret configured for this connection")
    if not given:
        raise InvalidSignature("signature missing")
    if given.startswith("sha256="):
        if not legacy:
            raise InvalidSignature("the version 1 signature (sha256=) is not accepted on this "
                                   "connection: sign with t=<unix>,v2=<hex> (README)")
        check_any(given, [sign_legacy(body, str(s)) for s in secrets])
        return
    stamp, given_sigs = _parse_v2(given)
    if abs(now.timestamp() - stamp) > tolerance:
        raise InvalidSignature(f"signature timestamp is more than {tolerance} s from our clock")
    delivery = (header(headers, DELIVERY_HEADER) or "").strip()
    expected = [_digest(str(s), stamp, delivery, body) for s in secrets]
    matched = False
    for sig in given_sigs:
        for candidate in expected:
            # no early exit: the time taken does not reveal which secret matched
            matched |= hmac.compare_digest(sig.encode(), candidate.encode())
    if not matched:
        raise InvalidSignature("signature does not match")


def _parse_v2(value: str) -> tuple[int, list[str]]:
    stamp: int | None = None
    sigs: list[str] = []
    for part in value.split(",")[:MAX_SIGNATURES + 1]:
        key, _, item = part.strip().partition("=")
        if key == "t" and item.isdigit() and len(item) <= 12:
            stamp = int(item)
        elif key == "v2" and item:
            sigs.append(item)
    if stamp is None or not sigs:
        raise InvalidSignature("signature must be t=<unix seconds>,v2=<hex>")
    return stamp, sigs


def delivery_key(body: bytes, headers: Mapping[str, str]) -> str:
    given = (header(headers, DELIVERY_HEADER) or "").strip()
    return given if given else "sha256:" + body_sha256(body)  # over 200: 422 (receiver)


def event_from_dict(
    raw: Any, *, connection: str = "generic", delivery: str = "", conn: Connection | None = None
) -> TicketEvent:
    """Validate a generic event body (already JSON-decoded) into a :class:`TicketEvent`.

    The reading is :func:`rules.generic_event.read_event` (the same for ``rules explain`` and
    ``rules test``); the connection adds its ``company_from`` mapping and its plugin user.
    """
    fallback = None
    if conn is not None:
        rule = conn.company_from

        def fallback(email: str | None, custom_fields: Mapping[str, Any]) -> Company | None:
            return company_for(rule, email=email, custom_fields=custom_fields)

    try:
        return read_event(raw, connection=connection, delivery=delivery,
                          company_fallback=fallback,
                          plugin_user_id=conn.plugin_user_id if conn is not None else None)
    except FormatError as exc:
        raise InvalidPayload(exc.message, exc.errors) from None


def parse(body: bytes, headers: Mapping[str, str], conn: Connection) -> list[TicketEvent]:
    return [
        event_from_dict(load_json(body), connection=conn.name,
                        delivery=delivery_key(body, headers), conn=conn)
    ]
