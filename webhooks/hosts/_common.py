"""Small helpers the host adapters share: typed field access, status and field mapping.

Every accessor raises :class:`InvalidPayload` with the JSON path of the bad field, so a
422 answer tells the host admin exactly what is wrong with their payload or template.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from plugin.settings import Connection
from rules.event import PRIORITIES, STATUSES
from webhooks.base import InvalidPayload, as_id, parse_instant

_MISSING = object()
_DURATION = re.compile(r"\s*(?:(\d+)\s+(?:days?,\s*)?)?(\d{1,5}):(\d{2})(?::(\d{2})(?:\.\d+)?)?\s*")


def fail(path: str, message: str) -> InvalidPayload:
    return InvalidPayload(f"invalid payload at {path}", {path: [message]})


def obj(data: Mapping[str, Any], key: str, path: str, *, required: bool = True) -> dict[str, Any]:
    """A nested JSON object; ``{}`` when optional and absent or null."""
    value = data.get(key, _MISSING)
    if value is _MISSING or value is None:
        if required:
            raise fail(path, "missing required object")
        return {}
    if not isinstance(value, dict):
        raise fail(path, "must be an object")
    return value


def ident(data: Mapping[str, Any], key: str, path: str, *, required: bool = True) -> str | None:
    """An id: a string or an integer, returned as a string."""
    value = data.get(key)
    if value is None or value == "":
        if required:
            raise fail(path, "missing required id")
        return None
    result = as_id(value)
    if result is None or len(result) > 100:
        raise fail(path, "must be a string or an integer id")
    if not result.strip():
        if required:
            raise fail(path, "missing required id")
        return None
    return result.strip()


def required_ident(data: Mapping[str, Any], key: str, path: str) -> str:
    """An id that must be there: a payload error (422) when it is missing or blank."""
    result = ident(data, key, path)
    if result is None:  # ident already refuses a missing id; this narrows the type
        raise fail(path, "missing required id")
    return result


def text(data: Mapping[str, Any], key: str, path: str) -> str | None:
    value = data.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise fail(path, "must be a string")
    return str(value)


def integer(data: Mapping[str, Any], key: str, path: str) -> int | None:
    """An integer; numeric strings (template placeholders render as text) are accepted."""
    value = data.get(key)
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise fail(path, "must be an integer")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and re.fullmatch(r"\s*-?\d{1,12}\s*", value):
        return int(value)
    raise fail(path, "must be an integer")


def boolean(data: Mapping[str, Any], key: str, path: str, default: bool) -> bool:
    value = data.get(key)
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false", "1", "0"):
        return value.strip().lower() in ("true", "1")
    raise fail(path, "must be a boolean")


def instant(data: Mapping[str, Any], key: str, path: str, *, required: bool = True
            ) -> datetime | None:
    value = data.get(key)
    if value is None or value == "":
        if required:
            raise fail(path, "missing required datetime")
        return None
    return parse_instant(value, path)


def inbound_map(conn: Connection, section: str) -> Mapping[str, Any]:
    """``conn.status_map[section]`` (``inbound``, ``priority``) as a lower-cased lookup."""
    found = conn.status_map.get(section) if conn.status_map else None
    if not isinstance(found, Mapping):
        return {}
    return {str(k).strip().lower(): v for k, v in found.items()}


def map_status(conn: Connection, defaults: Mapping[str, str], raw: Any) -> str | None:
    """The host status as one of ``STATUSES``; the connection's ``status_map.inbound`` wins.

    Unknown host statuses give ``None`` (the snapshot then leaves our status alone) rather
    than an error: hosts let admins add statuses at any time.
    """
    if raw is None or raw == "":
        return None
    key = str(raw).strip().lower()
    mapped = inbound_map(conn, "inbound").get(key, defaults.get(key))
    return mapped if mapped in STATUSES else None


def opening_status(conn: Connection, raw: Any, mapped: str | None,
                   open_keys: set[str]) -> str | None:
    """Hosts without a "new" status report a new ticket as open: call it ``new`` then.

    An explicit ``status_map.inbound`` entry for the open status still wins.
    """
    key = str(raw).strip().lower()
    if key in open_keys and key not in inbound_map(conn, "inbound"):
        return "new"
    return mapped


def map_priority(conn: Connection, defaults: Mapping[str, str], raw: Any) -> str | None:
    if raw is None or raw == "":
        return None
    key = str(raw).strip().lower()
    mapped = inbound_map(conn, "priority").get(key, defaults.get(key))
    if mapped is None and key in PRIORITIES:
        mapped = key
    return mapped if mapped in PRIORITIES else None


def rename_fields(conn: Connection, values: Mapping[str, Any]) -> dict[str, Any]:
    """Host custom-field names → Deskpilot names by ``field_map.inbound``; others kept as is."""
    renames = conn.field_map.get("inbound") if conn.field_map else None
    if not isinstance(renames, Mapping):
        return dict(values)
    return {str(renames.get(k, k)): v for k, v in values.items()}


def minutes_from_duration(value: Any, path: str) -> int | None:
    """``"HH:MM:SS"`` / ``"HH:MM"`` (or ``"D HH:MM:SS"``, Django's long form) → whole minutes."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise fail(path, "must be a duration string HH:MM[:SS]")
    match = _DURATION.fullmatch(value)
    if not match:
        raise fail(path, "must be a duration string HH:MM[:SS]")
    days, hours, mins, secs = (int(g) if g else 0 for g in match.groups())
    total = days * 24 * 60 + hours * 60 + mins + (1 if secs >= 30 else 0)
    return total


def minutes_from_hours(value: Any, path: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise fail(path, "must be a number of hours")
    try:
        hours = float(value)
    except ValueError as exc:
        raise fail(path, "must be a number of hours") from exc
    if not 0 <= hours <= 10000:
        raise fail(path, "must be between 0 and 10000 hours")
    return round(hours * 60)
