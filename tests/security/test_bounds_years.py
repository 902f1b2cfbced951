"""The years of an event's instants are bounded (issue 16): a ``created_at`` in year 9999 was
answered 202, then cost every processing attempt 12-15 s of working-time arithmetic and
ended in "year 10000 is out of range"; year 0001 broke ``rules replay``. Now every instant
outside ``limits.input.years`` is a 422 naming the field, for every host kind and the
reconcile poll, and nothing is stored."""

from __future__ import annotations

import copy
import shutil
from pathlib import Path
from typing import Any

import pytest

from rules.bounds import read_bounds
from rules.config.loader import load_rules
from rules.config.source import SourceError
from rules.generic_event import event_from_dict
from rules.generic_format import FormatError
from tests.integration.test_receiver_security import HOSTS, counts, fixture, put, send, stack  # noqa: F401

ROOT = Path(__file__).resolve().parents[2]
GENERIC = next(h for h in HOSTS if h.kind == "generic")
FAR = ["9999", "0001", "1969"]
#: where each host's ticket creation instant is, and the field the 422 names for it
CREATED = {
    "zammad": (("ticket", "created_at"), "ticket.created_at"),
    "zendesk": (("ticket", "created_at"), "ticket.created_at"),
    "freshdesk": (("ticket", "created_on"), "ticket.created_on"),
    "redmine": (("payload", "issue", "created_on"), "payload.issue.created_on"),
    "django_helpdesk": (("ticket", "followup_set", 0, "date"), "ticket.created_at"),
    "generic": (("ticket", "created_at"), "ticket.created_at"),
}


def at(data: dict[str, Any], path: tuple[Any, ...]) -> Any:
    node: Any = data
    for step in path:
        node = node[step]
    return node


def with_year(data: dict[str, Any], path: tuple[Any, ...], year: str) -> dict[str, Any]:
    """``data`` with the instant at ``path`` moved to ``year`` (same format, same day)."""
    return put(data, path, year + at(data, path)[4:])


@pytest.mark.parametrize("year", FAR)
@pytest.mark.parametrize("host", HOSTS, ids=[h.name for h in HOSTS])
def test_a_creation_instant_out_of_the_years_is_422_and_nothing_is_stored(
        stack, host, year) -> None:  # noqa: F811
    client, ctx = stack
    path, field = CREATED[host.kind]
    resp = send(client, host, with_year(fixture(host.kind, "ticket_created"), path, year),
                delivery=f"far-{year}")
    assert resp.status_code == 422, resp.get_json()
    errors = resp.get_json()["errors"]
    assert errors[field] == ["must lie in the years 2000-2100"], errors
    assert counts(ctx) == (0, 0)


@pytest.mark.parametrize("year", FAR)
def test_every_instant_of_a_generic_event_is_bounded(stack, year) -> None:  # noqa: F811
    client, ctx = stack
    base = fixture("generic", "ticket_created")
    far = f"{year}-12-30T10:00:00+02:00"
    cases = {
        "occurred_at": put(base, ("occurred_at",), far),
        "ticket.custom_fields.due_at": put(base, ("ticket", "custom_fields"), {"due_at": far}),
        "changes.due_at": {**copy.deepcopy(base), "event": "ticket.updated",
                           "changes": {"due_at": [None, far]}},
    }
    for n, (field, body) in enumerate(cases.items()):
        resp = send(client, GENERIC, body, delivery=f"far-{year}-{n}")
        assert resp.status_code == 422, (field, resp.get_json())
        assert field in resp.get_json()["errors"]
    assert counts(ctx) == (0, 0)


def test_the_edges_of_the_window_are_accepted(stack) -> None:  # noqa: F811
    client, ctx = stack
    body = put(fixture("generic", "ticket_created"), ("ticket", "created_at"),
               "2000-01-01T00:00:00+00:00")
    body = put(body, ("ticket", "custom_fields"), {"due_at": "2100-12-31T23:00:00+00:00",
                                                   "note": "9999-12-30 is no instant"})
    assert send(client, GENERIC, body, delivery="edges").status_code == 202
    assert counts(ctx) == (1, 1)


def test_explain_refuses_what_the_receiver_refuses() -> None:
    body = put(fixture("generic", "ticket_created"), ("ticket", "created_at"),
               "9999-12-30T10:00:00+00:00")
    with pytest.raises(FormatError) as refused:
        event_from_dict(body, bounds=read_bounds(ROOT / "config"))
    assert "ticket.created_at: must lie in the years 2000-2100" in refused.value.lines()


def test_the_window_is_configuration_and_bounded(tmp_path: Path) -> None:
    config = tmp_path / "config"
    shutil.copytree(ROOT / "config", config)
    service = config / "rules" / "00-service.yaml"
    shipped = service.read_text()
    service.write_text(shipped.replace("years: {min: 2000, max: 2100}",
                                       "years: {min: 1990, max: 2060}"))
    assert read_bounds(config).range("years").low == 1990
    assert load_rules(config).bounds.range("years").high == 2060
    # wider than working-time arithmetic walks, or outside the years it covers: refused
    for window in ("{min: 1970, max: 2999}", "{min: 1900, max: 2000}"):
        service.write_text(shipped.replace("{min: 2000, max: 2100}", window))
        with pytest.raises(SourceError, match="years"):
            load_rules(config)
        assert read_bounds(config).range("years").high == 2100  # the receiver keeps the default
