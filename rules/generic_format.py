"""The generic event format, defined once: its fields, enums, defaults and rules.

For its users the format is documented in docs/generic-format.md (which names this module).

Deskpilot's own webhook body (``{"event", "occurred_at", "actor", "ticket", "changes",
"comment", "time_entry", "rating", "merged_into"}``) is read by the receiver
(``webhooks/hosts/generic.py``), by ``rules explain`` and by ``rules test`` through
:mod:`rules.generic_event`, which loads a body with :data:`SCHEMA` (the contract: its answers
and error messages are what a sender sees in a 422) or, for a plain body, with the fast path
:mod:`rules.generic_plain`, which takes every limit and default from here
(tests/unit/test_generic_plain.py holds the two equal on generated bodies). The id charset
and the short-text rules are :mod:`rules.event_checks`; the bounds on numbers are
``limits.input`` (:mod:`rules.bounds`). The outbound half, the generic callback's body
(``plugin/hosts/generic.py`` signs and sends it), is :func:`callback_body`. Pure: no I/O,
nothing from ``plugin/`` or ``webhooks/``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from marshmallow import EXCLUDE, Schema, ValidationError, fields, validate

from rules.event import ACTOR_KINDS, CHANNELS, PRIORITIES, STATUSES

#: the event name's length (an unknown name is kept as ``EventType.UNKNOWN``)
EVENT_LENGTH = (1, 60)
#: an id once stripped (the charset of the ticket id is :data:`rules.event_checks.SAFE`)
ID_LENGTH = (1, 100)
#: the requester's locale (``en``, ``en-US``, ``uk-UA``): the language of client notes
#: unless the company's is configured (issue 17)
LOCALE_LIMIT = 35
#: one time entry's minutes as the format allows them; ``limits.input.time_minutes``
#: (rules/bounds.py) narrows them to the team's range (a week by default)
MINUTES = (0, 100000)
#: a rating's score across both scales; on scale 5 it must be 1-5 (:data:`SCALE5_SCORE`)
SCORE = (0, 10)
SCALE5_SCORE = (1, 5)
SCALES = (5, 10)

#: defaults of absent fields (a null is refused where no default says otherwise)
ACTOR_KIND_DEFAULT = "system"
BILLABLE_DEFAULT = True
SCALE_DEFAULT = 5

__all__ = [
    "ACTOR_KINDS", "CHANNELS", "PRIORITIES", "STATUSES", "SCHEMA", "FormatError",
    "GenericEventSchema", "callback_body", "flat_errors", "offset_instant",
]


class FormatError(ValueError):
    """The body is not a valid generic event.

    ``errors`` is what the receiver answers in its 422 (marshmallow's nested messages, or
    ``{"dotted.path": [message]}``); :meth:`lines` is the same, one ``path: message`` each.
    """

    def __init__(self, message: str, errors: Mapping[str, Any]):
        self.message = message
        self.errors = dict(errors)
        super().__init__("; ".join(self.lines()) or message)

    def lines(self) -> list[str]:
        return [f"{path}: {msg}" for path, msgs in flat_errors(self.errors).items()
                for msg in msgs]


def flat_errors(errors: Mapping[str, Any], prefix: str = "") -> dict[str, list[str]]:
    """``{"ticket": {"id": ["..."]}}`` as ``{"ticket.id": ["..."]}`` (list indexes kept)."""
    out: dict[str, list[str]] = {}
    for key, value in errors.items():
        path = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, Mapping):
            out.update(flat_errors(value, path))
        elif isinstance(value, list | tuple):
            out.setdefault(path, []).extend(str(v) for v in value)
        else:
            out.setdefault(path, []).append(str(value))
    return out


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


class _Id(fields.Field):
    """A string id; integers are accepted and turned into strings."""

    default_error_messages = {"invalid": "must be a string or an integer"}

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> str:
        if isinstance(value, bool) or not isinstance(value, str | int):
            raise self.make_error("invalid")
        text = str(value).strip()
        if not ID_LENGTH[0] <= len(text) <= ID_LENGTH[1]:
            raise ValidationError(f"must be {ID_LENGTH[0]}-{ID_LENGTH[1]} characters")
        return text


class _Instant(fields.Field):
    """ISO 8601 with an offset; naive datetimes are refused."""

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> datetime:
        return offset_instant(value)


class _Loose(Schema):
    class Meta:
        unknown = EXCLUDE


class _ActorSchema(_Loose):
    kind = fields.String(load_default=ACTOR_KIND_DEFAULT, validate=validate.OneOf(ACTOR_KINDS))
    id = _Id(load_default=None, allow_none=True)
    name = fields.String(load_default=None, allow_none=True)


class _CompanySchema(_Loose):
    id = _Id(required=True)
    name = fields.String(load_default=None, allow_none=True)


class _PersonSchema(_Loose):
    id = _Id(load_default=None, allow_none=True)
    email = fields.String(load_default=None, allow_none=True)


class _RequesterSchema(_PersonSchema):
    locale = fields.String(load_default=None, allow_none=True,
                           validate=validate.Length(max=LOCALE_LIMIT))


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
    minutes = fields.Integer(required=True, strict=True,
                             validate=validate.Range(min=MINUTES[0], max=MINUTES[1]))
    agent_id = _Id(load_default=None, allow_none=True)
    billable = fields.Boolean(load_default=BILLABLE_DEFAULT)
    note = fields.String(load_default=None, allow_none=True)


class _RatingSchema(_Loose):
    score = fields.Integer(required=True, strict=True,
                           validate=validate.Range(min=SCORE[0], max=SCORE[1]))
    scale = fields.Integer(load_default=SCALE_DEFAULT, validate=validate.OneOf(SCALES))
    comment = fields.String(load_default=None, allow_none=True)


class GenericEventSchema(_Loose):
    """The generic event body; unknown keys are kept in the raw event and ignored here."""

    event = fields.String(required=True,
                          validate=validate.Length(min=EVENT_LENGTH[0], max=EVENT_LENGTH[1]))
    occurred_at = _Instant(required=True)
    actor = fields.Nested(_ActorSchema, load_default=None, allow_none=True)
    ticket = fields.Nested(_TicketSchema, required=True)
    # [old, new]: either side may be null ("was unset" / "cleared"), the format's `changes`
    changes = fields.Dict(keys=fields.String(),
                          values=fields.List(fields.Raw(allow_none=True)),
                          load_default=dict, allow_none=True)
    comment = fields.Nested(_CommentSchema, load_default=None, allow_none=True)
    time_entry = fields.Nested(_TimeEntrySchema, load_default=None, allow_none=True)
    rating = fields.Nested(_RatingSchema, load_default=None, allow_none=True)
    merged_into = _Id(load_default=None, allow_none=True)


SCHEMA = GenericEventSchema()  # built once: a schema per request costs 2.5x


def callback_body(delivery_id: str, ticket_id: str,
                  commands: Iterable[tuple[str, Mapping[str, Any]]]) -> bytes:
    """The generic callback's body, ``{"delivery_id", "ticket_id", "commands": [{"type": …,
    …data}]}`` from ``(type, data)`` pairs: the exact bytes that are signed and sent
    (compact UTF-8 JSON; the ticket id is the one the event carried)."""
    payload = {"delivery_id": delivery_id, "ticket_id": ticket_id,
               "commands": [{"type": kind, **data} for kind, data in commands]}
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()
