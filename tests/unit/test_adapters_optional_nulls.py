"""Issue 17 item 5: a null in an optional place is "unset", never a lost event.

The generic ``changes`` pair ``[null, "composite"]`` (a field set for the first time) is
accepted by both loaders; and for every other adapter, every value of every shipped fixture
is set to null in turn: only the fields the host always sends (ids, creation instants, the
event's own objects) may refuse it.
"""

from __future__ import annotations

import copy
import importlib
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from rules import generic_plain
from rules.generic_format import SCHEMA, offset_instant
from webhooks.base import InvalidPayload
from webhooks.hosts import generic
from webhooks.hosts.generic import event_from_dict

FIX = Path(__file__).parent.parent / "fixtures"
#: paths a host always fills (refusing null there is right: the event means nothing without)
REQUIRED = re.compile(
    r"(^|\.)(id|created_at|created_on|timestamp|type|ticket|payload|issue|journal|data"
    r"|followup_set|date|hours|time_entry)(\.\d+)?$|\.(custom_field_values|custom_fields"
    r"|details|followup_set)\.\d+$")


def _paths(o: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    if path and o is not None:
        yield path
    if isinstance(o, dict):
        for k, v in o.items():
            yield from _paths(v, (*path, k))
    elif isinstance(o, list):
        for i, v in enumerate(o):
            yield from _paths(v, (*path, i))


def _nulled(data: Any, path: tuple[Any, ...]) -> Any:
    out = copy.deepcopy(data)
    node = out
    for k in path[:-1]:
        node = node[k]
    node[path[-1]] = None
    return out


def _generic_body(changes: dict[str, Any]) -> dict[str, Any]:
    return {
        "event": "ticket.updated", "occurred_at": "2026-11-23T10:05:00+02:00",
        "actor": {"kind": "agent", "id": "a-3"},
        "ticket": {"id": "T-1", "created_at": "2026-11-23T10:00:00+02:00",
                   "status": "accepted", "custom_fields": {"task_type": "composite"}},
        "changes": changes,
    }


@pytest.mark.parametrize("pair", [[None, "composite"], ["composite", None], [None, None]])
def test_generic_changes_accept_a_null_side_in_both_loaders(pair):
    body = _generic_body({"task_type": pair})
    plain = generic_plain.load(body, offset_instant)
    assert plain is not None and plain["changes"] == {"task_type": pair}
    assert SCHEMA.load(body)["changes"] == {"task_type": pair}  # marshmallow agrees
    ev = event_from_dict(body)
    assert ev.changes == {"task_type": tuple(pair)}


def test_generic_changes_still_refuse_what_is_not_a_pair():
    with pytest.raises(InvalidPayload):
        event_from_dict(_generic_body({"task_type": [None]}))
    with pytest.raises(InvalidPayload):
        event_from_dict(_generic_body({"task_type": "composite"}))


@pytest.mark.parametrize("host", ["zammad", "zendesk", "freshdesk", "redmine",
                                  "django_helpdesk"])
def test_every_adapter_takes_null_for_every_optional_value(host):
    tests = importlib.import_module(f"tests.unit.test_adapter_{host}")
    adapter = importlib.import_module(f"webhooks.hosts.{host}")
    headers = getattr(tests, "HEADERS", {})
    checked = 0
    for fixture in sorted((FIX / host).glob("*.json")):
        if fixture.name in ("headers.json", "missing_field.json"):
            continue
        data = json.loads(fixture.read_text())
        adapter.parse(json.dumps(data).encode(), headers, tests.CONN)
        for path in _paths(data):
            dotted = ".".join(map(str, path))
            try:
                adapter.parse(json.dumps(_nulled(data, path)).encode(), headers, tests.CONN)
            except InvalidPayload as exc:
                assert REQUIRED.search(dotted), f"{fixture.name}: null {dotted} refused: {exc}"
            checked += 1
    assert checked > 50


def test_generic_fixture_nulls_too():
    body = _generic_body({"status": ["new", "accepted"]})
    body["ticket"].update(company={"id": "acme", "name": "ACME"}, requester={"id": "u"},
                          assignee={"id": "a-3"}, tags=["x"], priority="normal")
    body.update(comment={"id": "c", "public": True, "body": "b", "author": {"kind": "agent"}})
    for path in _paths(body):
        dotted = ".".join(map(str, path))
        try:
            generic.event_from_dict(_nulled(body, path))
        except InvalidPayload as exc:
            assert dotted in {"event", "occurred_at", "ticket", "ticket.id", "ticket.created_at",
                              "comment.public", "actor.kind", "comment.author.kind",
                              "ticket.company.id", "ticket.tags.0",
                              "changes.status"}, f"null {dotted} refused: {exc}"
