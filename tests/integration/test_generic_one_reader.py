"""One reader for the generic event (issue 18): the receiver, ``rules explain`` and ``rules
test`` read a body the same way — what the receiver refuses with a 422, explain refuses
(exit 2) with the same field errors; what it accepts, explain reads to the same event.

Fed to both: the shipped ``examples/*.json``, every ``config/tests`` case's event, the
receiver tests' generic body, and bodies the old lenient reader of ``explain`` read
differently from the receiver (each listed in :data:`INVALID` / :data:`DISAGREED`).
"""

from __future__ import annotations

import copy
import json
import shutil
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from plugin.cli import main as cli_main
from rules.bounds import read_bounds
from rules.casetest import build_event
from rules.config.loader import load_rules
from rules.config.source import load_file
from rules.event import TicketEvent
from rules.generic_event import event_from_dict
from rules.generic_format import FormatError, flat_errors
from tests.integration.test_receiver_security import HOSTS, fixture, make_stack, send
from webhooks.hosts import generic

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "config"
GENERIC = next(h for h in HOSTS if h.kind == "generic")


def _shipped() -> list[tuple[str, dict[str, Any]]]:
    bodies = [(f"examples/{p.name}", json.loads(p.read_text()))
              for p in sorted((ROOT / "examples").glob("*.json"))]
    for path in sorted((CONFIG / "tests").glob("*.yaml")):
        data = load_file(path).data
        defaults = data.get("defaults") or {}
        for i, case in enumerate(data.get("cases") or []):
            body = build_event(case.get("event") or {}, defaults.get("event") or {},
                               case.get("now"))
            bodies.append((f"config/tests/{path.name}#{i + 1}", body))
    return bodies


def _base() -> dict[str, Any]:
    return copy.deepcopy(fixture("generic", "ticket_created"))


def _with(path: str, value: Any) -> dict[str, Any]:
    """The receiver tests' generic body with ``path`` (dotted) set to ``value``."""
    body = _base()
    *parents, last = path.split(".")
    node = body
    for key in parents:
        node = node.setdefault(key, {})
    node[last] = value
    return body


def _entry(**fields: Any) -> dict[str, Any]:
    return _with("time_entry", {"id": "te-1", "minutes": 30, **fields})


#: bodies the receiver refuses; the old lenient reader of explain/test accepted every one
INVALID = {
    "billable null": _entry(billable=None),
    "minutes missing": _with("time_entry", {"id": "te-1"}),
    "minutes as text": _entry(minutes="30"),
    "minutes over the format": _entry(minutes=100001),
    "minutes over limits.input": _entry(minutes=20000),
    "units over limits.input": _with("ticket.custom_fields", {"units": 1000}),
    "unknown actor kind": _with("actor", {"kind": "robot"}),
    "naive occurred_at": _with("occurred_at", "2026-11-23T10:00:00"),
    "ticket id with a slash": _with("ticket.id", "../T-1"),
    "ticket id too long": _with("ticket.id", "T" * 101),
    "merged_into with a space": _with("merged_into", "T 2"),
    "score 0 on scale 5": _with("rating", {"score": 0}),
    "scale 7": _with("rating", {"score": 3, "scale": 7}),
    "change not a pair": _with("changes", {"status": ["new"]}),
    "locale too long": _with("ticket.requester", {"id": "c-1", "locale": "x" * 36}),
    "tag not a string": _with("ticket.tags", [1]),
    "unknown priority": _with("ticket.priority", "whenever"),
    "comment without public": _with("comment", {"id": "c-1", "body": "hi"}),
    "control character in the subject": _with("ticket.subject", "a\x07b"),
    "NUL in a comment": _with("comment", {"id": "c-1", "public": True, "body": "a\x00b"}),
    "empty event name": _with("event", ""),
    "body not an object": [_base()],  # type: ignore[dict-item]
}

#: bodies both accept, which the old lenient reader read differently from the receiver
DISAGREED = {
    "billable as the text false": _entry(billable="false"),
    "requester locale": _with("ticket.requester", {"id": "c-1", "locale": "uk-UA"}),
    "plugin actor": _with("actor", {"kind": "plugin", "id": "dp-bot"}),
    "Z suffix": _with("occurred_at", "2026-11-23T08:00:00Z"),
    "integer ids": _with("ticket.id", 4711),
}


def _explain(tmp_path: Path, name: str, body: Any) -> tuple[int, list[str]]:
    path = tmp_path / f"{abs(hash(name))}.json"
    path.write_text(json.dumps(body))
    result = CliRunner().invoke(cli_main, ["rules", "explain", str(path), "--json",
                                           "--config", str(CONFIG)])
    return result.exit_code, [line for line in result.stderr.splitlines() if line]


def _lines(errors: Any) -> list[str]:
    return [f"{path}: {msg}" for path, msgs in flat_errors(errors).items() for msg in msgs]


def _same(event: TicketEvent) -> TicketEvent:
    """Without what only a connection or a delivery adds."""
    return replace(event, connection="-", delivery_key="-")


@pytest.fixture
def stack(tmp_path, sqlite_url, redis_url):
    app, ctx = make_stack(tmp_path, sqlite_url, redis_url, hosts=[GENERIC])
    yield app.test_client(), ctx
    ctx.close()


def test_the_receivers_limits_are_the_shipped_rules(tmp_path: Path) -> None:
    """The stack reads limits.input from an empty config (the defaults), explain from the
    shipped rules: the same ranges, so refusals can be compared one for one."""
    receiver, shipped = read_bounds(tmp_path), load_rules(CONFIG).bounds
    for name in ("units", "estimate_hours", "time_minutes"):
        assert receiver.range(name) == shipped.range(name)


@pytest.mark.parametrize("name,body", [*INVALID.items()], ids=[*INVALID])
def test_a_body_the_receiver_refuses_explain_refuses_with_the_same_errors(
        stack, tmp_path, name, body) -> None:
    client, _ = stack
    resp = send(client, GENERIC, body, delivery=f"one-reader-{abs(hash(name))}")
    assert resp.status_code == 422, (name, resp.get_json())
    code, lines = _explain(tmp_path, name, body)
    assert code == 2, (name, lines)
    # the same field errors, each one refusal line (README: Errors)
    assert lines == [f"error: {line}" for line in _lines(resp.get_json()["errors"])], name
    assert lines  # a field is named, never an empty refusal


@pytest.mark.parametrize("name,body", [*_shipped(), *DISAGREED.items()],
                         ids=[n for n, _ in _shipped()] + [*DISAGREED])
def test_a_body_the_receiver_accepts_explain_reads_to_the_same_event(
        stack, tmp_path, name, body) -> None:
    client, _ = stack
    resp = send(client, GENERIC, body, delivery=f"one-reader-{abs(hash(name))}")
    # stored: queued, or kept as "ignored" (the plugin's own write echoed back)
    assert resp.status_code in (200, 202), (name, resp.get_json())
    assert resp.get_json()["status"] in ("queued", "ignored"), name
    code, lines = _explain(tmp_path, name, body)
    assert code == 0, (name, lines)
    conn = stack[1].settings.connection(GENERIC.name)
    received = generic.event_from_dict(body, connection=conn.name, delivery="d", conn=conn)
    assert _same(event_from_dict(body)) == _same(received), name


def test_what_the_old_reader_read_differently() -> None:
    """The lenient reader explain and rules test used before; each now as the receiver."""
    assert event_from_dict(DISAGREED["billable as the text false"]).time_entry.billable is False
    assert event_from_dict(DISAGREED["requester locale"]).ticket.requester_locale == "uk-UA"
    assert event_from_dict(DISAGREED["plugin actor"]).own_write is True
    with pytest.raises(FormatError) as refused:
        event_from_dict(INVALID["billable null"])  # the old reader: billable False
    assert refused.value.lines() == ["time_entry.billable: Field may not be null."]
    with pytest.raises(FormatError):
        event_from_dict(INVALID["minutes missing"])  # the old reader: 0 minutes
    with pytest.raises(FormatError):
        event_from_dict(INVALID["unknown actor kind"])  # the old reader: kept "robot"


def test_rules_test_refuses_an_event_the_receiver_refuses(tmp_path: Path) -> None:
    rules = tmp_path / "config"
    shutil.copytree(CONFIG, rules)
    shutil.rmtree(rules / "tests")
    (rules / "tests").mkdir()
    (rules / "tests" / "refused.yaml").write_text(
        "cases:\n"
        "  - name: a slash in the ticket id\n"
        "    event: {at: '2026-11-23T10:00:00+02:00', ticket: {id: '../T-1'}}\n"
        "    expect: {task_type: simple}\n"
        "  - name: billable null\n"
        "    event: {at: '2026-11-23T10:00:00+02:00', time_entry: {minutes: 5, billable: null}}\n"
        "    expect: {task_type: simple}\n")
    result = CliRunner().invoke(cli_main, ["rules", "test", str(rules)])
    assert result.exit_code == 1
    assert "ticket.id: must be letters, digits" in result.output
    assert "time_entry.billable: Field may not be null." in result.output
    assert "0 passed, 2 failed" in result.output
