"""The generic event's plain case loaded without marshmallow: the same result at a fraction
of the cost (the schema's load was the largest share of the receiver's CPU per request).

:func:`load` returns exactly what ``GenericEventSchema().load(data)`` returns when every
field present has its plain JSON type and passes its validator; for anything else (a
missing required field, a null where none is allowed, ``"true"`` for a boolean, ``"5"`` for
an integer...) it returns ``None`` and the caller runs marshmallow, whose answers and error
messages stay the contract. Every limit, choice and default is read from
:mod:`rules.generic_format` (the format's one definition), and
tests/unit/test_generic_plain.py holds the two to the same output on generated bodies.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from marshmallow import ValidationError

from rules.generic_format import (
    ACTOR_KIND_DEFAULT,
    ACTOR_KINDS,
    BILLABLE_DEFAULT,
    CHANNELS,
    EVENT_LENGTH,
    ID_LENGTH,
    LOCALE_LIMIT,
    MINUTES,
    PRIORITIES,
    SCALE_DEFAULT,
    SCALES,
    SCORE,
    STATUSES,
    offset_instant,
)


class _NotPlain(Exception):
    """This body needs marshmallow (to load it or to word its errors)."""


def _id(value: Any) -> str:
    """``_Id``: a str, or an int turned into one; :data:`ID_LENGTH` once stripped."""
    if type(value) is str:
        text = value.strip()
    elif type(value) is int:
        text = str(value)
    else:
        raise _NotPlain
    if not ID_LENGTH[0] <= len(text) <= ID_LENGTH[1]:
        raise _NotPlain
    return text


def _opt_id(data: dict[str, Any], key: str) -> str | None:
    value = data.get(key)
    return None if value is None else _id(value)


def _str(data: dict[str, Any], key: str, default: str | None,
         choices: tuple[str, ...] | None = None) -> str | None:
    """``String(load_default=default, allow_none=True, validate=OneOf(choices))``."""
    value = data.get(key, default)
    if value is None:
        return None
    if type(value) is not str or (choices is not None and value not in choices):
        raise _NotPlain
    return value


def _int(value: Any, low: int, high: int) -> int:
    """``Integer(strict=True, validate=Range(low, high))``."""
    if type(value) is not int or not low <= value <= high:
        raise _NotPlain
    return value


def _bool(value: Any) -> bool:
    if type(value) is not bool:
        raise _NotPlain
    return value


def _instant(value: Any, parse: Callable[[Any], datetime]) -> datetime:
    try:
        return parse(value)
    except ValidationError:
        raise _NotPlain from None


def _nested(data: dict[str, Any], key: str, load: Callable[[dict[str, Any]], dict[str, Any]]
            ) -> dict[str, Any] | None:
    """``Nested(schema, load_default=None, allow_none=True)``."""
    value = data.get(key)
    if value is None:
        return None
    if type(value) is not dict:
        raise _NotPlain
    return load(value)


def _actor(d: dict[str, Any]) -> dict[str, Any]:
    kind = d.get("kind", ACTOR_KIND_DEFAULT)  # not nullable: a null kind is marshmallow's error
    if type(kind) is not str or kind not in ACTOR_KINDS:
        raise _NotPlain
    return {"kind": kind, "id": _opt_id(d, "id"), "name": _str(d, "name", None)}


def _company(d: dict[str, Any]) -> dict[str, Any]:
    if "id" not in d:
        raise _NotPlain
    return {"id": _id(d["id"]), "name": _str(d, "name", None)}


def _person(d: dict[str, Any]) -> dict[str, Any]:
    return {"id": _opt_id(d, "id"), "email": _str(d, "email", None)}


def _requester(d: dict[str, Any]) -> dict[str, Any]:
    locale = _str(d, "locale", None)
    if locale is not None and len(locale) > LOCALE_LIMIT:
        raise _NotPlain
    return {**_person(d), "locale": locale}


def _comment(d: dict[str, Any]) -> dict[str, Any]:
    return {"id": _opt_id(d, "id"), "public": _bool(d.get("public")),
            "body": _str(d, "body", ""), "author": _nested(d, "author", _actor)}


def _time_entry(d: dict[str, Any]) -> dict[str, Any]:
    return {"id": _opt_id(d, "id"), "minutes": _int(d.get("minutes"), *MINUTES),
            "agent_id": _opt_id(d, "agent_id"),
            "billable": _bool(d.get("billable", BILLABLE_DEFAULT)),
            "note": _str(d, "note", None)}


def _rating(d: dict[str, Any]) -> dict[str, Any]:
    scale = d.get("scale", SCALE_DEFAULT)
    if type(scale) is not int or scale not in SCALES:
        raise _NotPlain
    return {"score": _int(d.get("score"), *SCORE), "scale": scale,
            "comment": _str(d, "comment", None)}


def _tags(d: dict[str, Any]) -> list[str] | None:
    if "tags" not in d:
        return []
    value = d["tags"]
    if value is None:
        return None
    if type(value) is not list or any(type(tag) is not str for tag in value):
        raise _NotPlain
    return list(value)


def _optional_dict(d: dict[str, Any], key: str) -> dict[str, Any] | None:
    """An optional object field: absent is ``{}``, null stays ``None``, anything else is
    marshmallow's business."""
    if key not in d:
        return {}
    value = d[key]
    if value is not None and type(value) is not dict:
        raise _NotPlain
    return value


def _fields(d: dict[str, Any]) -> dict[str, Any] | None:
    value = _optional_dict(d, "custom_fields")
    return None if value is None else dict(value)


def _changes(d: dict[str, Any]) -> dict[str, list[Any]] | None:
    value = _optional_dict(d, "changes")
    if value is None:
        return None
    out = {}
    for name, pair in value.items():
        # List(Raw(allow_none=True)): a null old value is "was unset", a null new "cleared"
        if type(pair) is not list:
            raise _NotPlain
        out[name] = list(pair)
    return out


def load(data: dict[str, Any], parse_instant: Callable[[Any], datetime] = offset_instant
         ) -> dict[str, Any] | None:
    """What the generic schema loads from ``data``, or ``None`` when marshmallow must decide.

    ``parse_instant`` is the schema's own instant parser (raising ``ValidationError``).
    """
    try:
        event = data.get("event")
        ticket = data.get("ticket")
        if type(event) is not str or type(ticket) is not dict:
            return None
        if not EVENT_LENGTH[0] <= len(event) <= EVENT_LENGTH[1]:
            return None
        if "id" not in ticket or "created_at" not in ticket or "occurred_at" not in data:
            return None
        return {
            "event": event,
            "occurred_at": _instant(data["occurred_at"], parse_instant),
            "actor": _nested(data, "actor", _actor),
            "ticket": {
                "id": _id(ticket["id"]),
                "created_at": _instant(ticket["created_at"], parse_instant),
                "company": _nested(ticket, "company", _company),
                "requester": _nested(ticket, "requester", _requester),
                "subject": _str(ticket, "subject", ""),
                "body": _str(ticket, "body", ""),
                "tags": _tags(ticket),
                "priority": _str(ticket, "priority", None, PRIORITIES),
                "status": _str(ticket, "status", None, STATUSES),
                "channel": _str(ticket, "channel", None, CHANNELS),
                "assignee": _nested(ticket, "assignee", _person),
                "custom_fields": _fields(ticket),
            },
            "changes": _changes(data),
            "comment": _nested(data, "comment", _comment),
            "time_entry": _nested(data, "time_entry", _time_entry),
            "rating": _nested(data, "rating", _rating),
            "merged_into": _opt_id(data, "merged_into"),
        }
    except _NotPlain:
        return None
