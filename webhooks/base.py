"""What every host adapter shares: its errors, signature helpers, JSON loading, company mapping.

An adapter module (``webhooks/hosts/<kind>.py``) provides two pure functions:

- ``verify(body, headers, secrets, now) -> None`` raising :class:`InvalidSignature`;
- ``parse(body, headers, conn) -> list[TicketEvent]`` raising :class:`InvalidPayload`
  (422) or :class:`NotJSON` (400);

plus ``SIGNED`` (``False`` for hosts that cannot sign and use the token route).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from plugin.settings import CompanyFrom, Connection
from rules.event import Company


class WebhookError(Exception):
    """Root of the receiver's errors; each maps to one HTTP answer."""

    status = 400
    code = "bad-request"

    def __init__(self, message: str, errors: Mapping[str, Any] | None = None):
        super().__init__(message)
        self.message = message
        self.errors = dict(errors or {})


class InvalidSignature(WebhookError):
    """Missing or wrong signature, token or timestamp."""

    status = 401
    code = "invalid-signature"


class NotJSON(WebhookError):
    """The body is not JSON (or not UTF-8)."""

    status = 400
    code = "not-json"


class InvalidPayload(WebhookError):
    """The body is JSON but fails the host's schema."""

    status = 422
    code = "invalid-payload"


def header(headers: Mapping[str, str], name: str) -> str | None:
    """Case-insensitive header lookup that works on plain dicts too."""
    value = headers.get(name)
    if value is not None:
        return value
    lname = name.lower()
    for key, val in headers.items():
        if key.lower() == lname:
            return val
    return None


def hmac_hex(secret: str, body: bytes, algo: str = "sha256") -> str:
    return hmac.new(secret.encode(), body, algo).hexdigest()


def hmac_b64(secret: str, message: bytes, algo: str = "sha256") -> str:
    return base64.b64encode(hmac.new(secret.encode(), message, algo).digest()).decode()


def check_any(given: str | None, expected: Iterable[str]) -> None:
    """Constant-time compare against every candidate (secret rotation); raise if none match."""
    if not given:
        raise InvalidSignature("signature missing")
    matched = False
    for candidate in expected:
        # no early exit: the time taken does not reveal which secret matched
        matched |= hmac.compare_digest(given.encode(), candidate.encode())
    if not matched:
        raise InvalidSignature("signature does not match")


#: a JSON escape of half a UTF-16 surrogate pair (a cheap pre-check; confirmed below)
_LONE_SURROGATE = re.compile(
    rb"\\u[dD][89abAB][0-9a-fA-F]{2}(?!\\u[dD][c-fC-F][0-9a-fA-F]{2})"
    rb"|(?<!\\u[dD][89abAB][0-9a-fA-F]{2})\\u[dD][c-fC-F][0-9a-fA-F]{2}"
)


def load_json(body: bytes) -> Any:
    try:
        data = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise NotJSON("body is not UTF-8 JSON") from exc
    except RecursionError as exc:
        raise NotJSON("body is nested too deeply") from exc
    if b"\\u" in body and _LONE_SURROGATE.search(body):
        # "\ud800" decodes to a str no database (or UTF-8 anything) can store
        try:
            json.dumps(data, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError as exc:
            raise InvalidPayload(
                "the body holds an unpaired UTF-16 surrogate escape",
                {"_schema": ["text must be valid Unicode (no lone \\ud800-\\udfff)"]},
            ) from exc
    return data


def require_object(data: Any) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise InvalidPayload("body must be a JSON object", {"_schema": ["must be an object"]})
    return data


def body_sha256(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def parse_instant(value: Any, path: str) -> datetime:
    """An ISO 8601 datetime with an offset; naive or malformed values are payload errors."""
    if not isinstance(value, str):
        raise InvalidPayload("invalid datetime", {path: ["must be an ISO 8601 string"]})
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError as exc:
        raise InvalidPayload("invalid datetime", {path: ["not an ISO 8601 datetime"]}) from exc
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        raise InvalidPayload("naive datetime", {path: ["must carry a UTC offset"]})
    return parsed


def as_id(value: Any) -> str | None:
    """Host ids are strings here; integers are accepted and turned into strings."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return None
    if isinstance(value, int | str):
        return str(value)
    return None


def company_for(
    rule: CompanyFrom,
    *,
    organization: tuple[str | None, str | None] | None = None,
    email: str | None = None,
    custom_fields: Mapping[str, Any] | None = None,
    project: tuple[str | None, ...] | None = None,
) -> Company | None:
    """Resolve the client company by the connection's ``company_from`` rule.

    ``organization`` and ``project`` are ``(id, name)`` pairs. An explicit ``map`` entry
    (by id, name or e-mail domain) wins over the raw value. ``None`` means no company,
    which is still a valid event.
    """
    source = rule.source
    candidates: list[str] = []
    name: str | None = None
    if source == "organization" and organization:
        org_id, name = organization
        candidates = [c for c in (org_id, name) if c]
    elif source == "email_domain" and email and "@" in email:
        domain = email.rsplit("@", 1)[1].strip().lower()
        candidates = [domain]
    elif source == "custom_field" and custom_fields and rule.field:
        candidates = _field_values(custom_fields.get(rule.field))
    elif source == "project" and project:
        # (id, name), or (identifier, id, name) where the host has both (Redmine): a map
        # entry by any of them matches, whichever of them the payload carries
        name = project[-1]
        candidates = [c for c in project if c]
    folded = {str(k).casefold(): v for k, v in rule.map.items()}
    for cand in candidates:
        if cand in rule.map:
            return Company(id=rule.map[cand], name=name)
        if str(cand).casefold() in folded:  # map keys match regardless of case, like ids
            return Company(id=folded[str(cand).casefold()], name=name)
    return Company(id=candidates[0], name=name) if candidates else None


def _field_values(value: Any) -> list[str]:
    """A custom field's value as company candidates.

    A multi-value field comes as a list (Redmine 7 renders ``"multiple": true`` fields'
    ``value`` as an array: redmine/redmine ``app/helpers/custom_fields_helper.rb``
    ``render_api_custom_values`` at 7.0.0; Zammad sends a multiselect attribute as an
    array): each non-empty item is a candidate, the first one names the company when no
    map entry matches. Zammad's external data source field is ``{"value", "label"}``.
    """
    if isinstance(value, dict):
        value = value.get("value")
    items = value if isinstance(value, list) else [value]
    return [str(v).strip() for v in items
            if isinstance(v, str | int | float) and not isinstance(v, bool) and str(v).strip()]


def own_user(conn: Connection, *user_ids: Any) -> bool:
    """True when any of the ids is the plugin's own user on this host (loop guard)."""
    me = conn.plugin_user_id
    return me is not None and any(as_id(u) == me for u in user_ids if u is not None)
