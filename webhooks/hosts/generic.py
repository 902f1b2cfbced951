"""The generic webhook of SPEC.md §7: Deskpilot's own format, for any host or script.

Signature version 2 (the default): ``X-Deskpilot-Signature: t=<unix seconds>,v2=<hex>``
where ``<hex>`` is HMAC-SHA256(secret, ``"<t>.<delivery id>."`` + raw body) and the delivery
id is the ``X-Deskpilot-Delivery`` header ("" when absent). The timestamp must be within the
connection's ``options.signature_tolerance_seconds`` (300) of our clock, and the delivery id
is covered, so a captured delivery cannot be replayed later or under a new delivery id.
Several ``v2=`` entries may be sent (a sender rotating secrets signs with each); every
configured secret is tried (rotation on our side).

Version 1 (``sha256=<hex HMAC-SHA256(secret, raw body)>``, SPEC §7 as first published) is
accepted only on a connection with ``options.accept_legacy_signature: true``.

The delivery id is ``X-Deskpilot-Delivery`` or, when absent, the SHA-256 of the body.
"""

from __future__ import annotations

import hmac
import time
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from marshmallow import EXCLUDE, Schema, ValidationError, fields, validate

from plugin.settings import Connection
from rules.event import (
    ACTOR_KINDS,
    CHANNELS,
    PRIORITIES,
    STATUSES,
    Actor,
    Comment,
    Company,
    EventType,
    Rating,
    Ticket,
    TicketEvent,
    TimeEntry,
)
from webhooks.base import (
    InvalidPayload,
    InvalidSignature,
    body_sha256,
    check_any,
    company_for,
    header,
    hmac_hex,
    load_json,
    require_object,
)
from webhooks.hosts import generic_plain

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


class _Id(fields.Field):
    """A string id; integers are accepted and turned into strings."""

    default_error_messages = {"invalid": "must be a string or an integer"}

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> str:
        if isinstance(value, bool) or not isinstance(value, str | int):
            raise self.make_error("invalid")
        text = str(value).strip()
        if not text or len(text) > 100:
            raise ValidationError("must be 1-100 characters")
        return text


def offset_instant(value: Any) -> datetime:
    """ISO 8601 with an offset; naive datetimes are refused (``ValidationError``)."""
    if not isinstance(value, str):
        raise ValidationError("must be an ISO 8601 string")
    text = value[:-1] + "+00:00" if value.endswith(("Z", "z")) else value
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError as exc:
        raise ValidationError("not an ISO 8601 datetime") from exc
    if parsed.utcoffset() is None:
        raise ValidationError("must carry a UTC offset")
    return parsed


class _Instant(fields.Field):
    """ISO 8601 with an offset; naive datetimes are refused."""

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> datetime:
        return offset_instant(value)


class _Loose(Schema):
    class Meta:
        unknown = EXCLUDE


class _ActorSchema(_Loose):
    kind = fields.String(load_default="system", validate=validate.OneOf(ACTOR_KINDS))
    id = _Id(load_default=None, allow_none=True)
    name = fields.String(load_default=None, allow_none=True)


class _CompanySchema(_Loose):
    id = _Id(required=True)
    name = fields.String(load_default=None, allow_none=True)


class _PersonSchema(_Loose):
    id = _Id(load_default=None, allow_none=True)
    email = fields.String(load_default=None, allow_none=True)


class _RequesterSchema(_PersonSchema):
    #: the requester's locale (``en``, ``en-US``, ``uk-UA``): the language of client notes
    #: unless the company's is configured (issue 17)
    locale = fields.String(load_default=None, allow_none=True,
                           validate=validate.Length(max=35))


class _TicketSchema(_Loose):
    id = _Id(required=True)
    created_at = _Instant(required=True)
    company = fields.Nested(_CompanySchema, load_default=None, allow_none=True)
    requester = fields.Nested(_RequesterSchema, load_default=None, allow_none=True)
    subject = fields.String(load_default="", allow_none=True)
    body = fields.String(load_default="", allow_none=True)
    tags = fields.List(fields.String(), load_default=list, allow_none=True)
    priority = fields.String(load_default=None, allow_none=True,
                             validate=validate.OneOf(PRIORITIES))
    status = fields.String(load_default=None, allow_none=True, validate=validate.OneOf(STATUSES))
    channel = fields.String(load_default=None, allow_none=True,
                            validate=validate.OneOf(CHANNELS))
    assignee = fields.Nested(_PersonSchema, load_default=None, allow_none=True)
    custom_fields = fields.Dict(keys=fields.String(), load_default=dict, allow_none=True)


class _CommentSchema(_Loose):
    id = _Id(load_default=None, allow_none=True)
    public = fields.Boolean(required=True)
    body = fields.String(load_default="", allow_none=True)
    author = fields.Nested(_ActorSchema, load_default=None, allow_none=True)


class _TimeEntrySchema(_Loose):
    id = _Id(load_default=None, allow_none=True)
    minutes = fields.Integer(required=True, strict=True, validate=validate.Range(min=0, max=100000))
    agent_id = _Id(load_default=None, allow_none=True)
    billable = fields.Boolean(load_default=True)
    note = fields.String(load_default=None, allow_none=True)


class _RatingSchema(_Loose):
    score = fields.Integer(required=True, strict=True, validate=validate.Range(min=0, max=10))
    scale = fields.Integer(load_default=5, validate=validate.OneOf([5, 10]))
    comment = fields.String(load_default=None, allow_none=True)


class GenericEventSchema(_Loose):
    """The generic event body; unknown keys are kept in the raw event and ignored here."""

    event = fields.String(required=True, validate=validate.Length(min=1, max=60))
    occurred_at = _Instant(required=True)
    actor = fields.Nested(_ActorSchema, load_default=None, allow_none=True)
    ticket = fields.Nested(_TicketSchema, required=True)
    # [old, new]: either side may be null ("was unset" / "cleared"), SPEC §7 `changes`
    changes = fields.Dict(keys=fields.String(),
                          values=fields.List(fields.Raw(allow_none=True)),
                          load_default=dict, allow_none=True)
    comment = fields.Nested(_CommentSchema, load_default=None, allow_none=True)
    time_entry = fields.Nested(_TimeEntrySchema, load_default=None, allow_none=True)
    rating = fields.Nested(_RatingSchema, load_default=None, allow_none=True)
    merged_into = _Id(load_default=None, allow_none=True)


SCHEMA = GenericEventSchema()  # built once: a schema per request costs 2.5x


def _actor(data: Mapping[str, Any] | None) -> Actor:
    if not data:
        return Actor()
    return Actor(kind=data["kind"], id=data.get("id"), name=data.get("name"))


def event_from_dict(
    raw: Any, *, connection: str = "generic", delivery: str = "", conn: Connection | None = None
) -> TicketEvent:
    """Validate a generic event body (already JSON-decoded) into a :class:`TicketEvent`."""
    obj = require_object(raw)
    data = generic_plain.load(obj, offset_instant)  # None: marshmallow loads it (or words why not)
    if data is None:
        try:
            data = SCHEMA.load(obj)
        except ValidationError as exc:
            raise InvalidPayload("the event does not match the generic schema",
                                 exc.messages_dict) from None
    changes = {}
    for name, pair in (data.get("changes") or {}).items():
        if len(pair) != 2:
            raise InvalidPayload("invalid changes", {f"changes.{name}": ["must be [old, new]"]})
        changes[name] = (pair[0], pair[1])
    t = data["ticket"]
    requester = t.get("requester") or {}
    company = Company(t["company"]["id"], t["company"].get("name")) if t.get("company") else None
    if company is None and conn is not None:
        company = company_for(
            conn.company_from, email=requester.get("email"),
            custom_fields=t.get("custom_fields") or {},
        )
    ticket = Ticket(
        id=t["id"], created_at=t["created_at"], company=company,
        requester_id=requester.get("id"), requester_email=requester.get("email"),
        requester_locale=requester.get("locale"),
        subject=t.get("subject") or "", body=t.get("body") or "",
        tags=tuple(t.get("tags") or ()), priority=t.get("priority"), status=t.get("status"),
        channel=t.get("channel"), assignee_id=(t.get("assignee") or {}).get("id"),
        custom_fields=dict(t.get("custom_fields") or {}),
    )
    comment = None
    if data.get("comment"):
        c = data["comment"]
        comment = Comment(id=c.get("id"), public=c["public"], body=c.get("body") or "",
                          author=_actor(c.get("author")))
    time_entry = None
    if data.get("time_entry"):
        te = data["time_entry"]
        time_entry = TimeEntry(id=te.get("id"), minutes=te["minutes"], agent_id=te.get("agent_id"),
                               billable=te["billable"], note=te.get("note"))
    rating = None
    if data.get("rating"):
        r = data["rating"]
        if r["scale"] == 5 and not 1 <= r["score"] <= 5:
            raise InvalidPayload("invalid rating", {"rating.score": ["must be 1-5 on scale 5"]})
        rating = Rating(score=r["score"], scale=r["scale"], comment=r.get("comment"))
    event_name = data["event"] if data["event"] in EventType.ALL else EventType.UNKNOWN
    actor = _actor(data.get("actor"))
    own = bool(conn and conn.plugin_user_id and actor.id == conn.plugin_user_id)
    return TicketEvent(
        connection=connection, host_kind=KIND, delivery_key=delivery, event=event_name,
        occurred_at=data["occurred_at"], ticket=ticket, actor=actor, changes=changes,
        comment=comment, time_entry=time_entry, rating=rating,
        merged_into=data.get("merged_into"), own_write=own or actor.kind == "plugin",
    )


def parse(body: bytes, headers: Mapping[str, str], conn: Connection) -> list[TicketEvent]:
    return [
        event_from_dict(load_json(body), connection=conn.name,
                        delivery=delivery_key(body, headers), conn=conn)
    ]
