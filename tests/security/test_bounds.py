"""Numbers from outside are bounded (issue 16, findings 3 and 10): out of range is a 422 at
the receiver in milliseconds, and the engine (``rules explain``) refuses the same values, so
no input costs a worker more than milliseconds or buys a fraction."""

from __future__ import annotations

import copy
import json
import shutil
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from plugin.cli import main as cli_main
from rules.bounds import read_bounds
from rules.config.loader import load_rules
from rules.engine import evaluate
from rules.generic_event import event_from_dict
from rules.state_json import state_from_json
from tests.integration.test_receiver_security import HOSTS, counts, fixture, send, stack  # noqa: F401

ROOT = Path(__file__).resolve().parents[2]
GENERIC = next(h for h in HOSTS if h.kind == "generic")


def _event(**custom_fields: object) -> dict:
    data = copy.deepcopy(fixture("generic", "ticket_created"))
    data["ticket"]["custom_fields"] = {"task_type": "composite", **custom_fields}
    return data


@pytest.mark.parametrize("field,value", [
    ("units", 1000000), ("units", 2 ** 31), ("units", 10 ** 25), ("units", "1" * 25),
    ("units", 1.9), ("units", 0), ("units", -3), ("estimate_hours", 10 ** 9),
    ("estimate_hours", -1), ("estimate_hours", "1e400"),
])
def test_out_of_range_custom_numbers_are_422_in_milliseconds(stack, field, value) -> None:  # noqa: F811
    client, ctx = stack
    started = time.perf_counter()
    resp = send(client, GENERIC, _event(**{field: value}), delivery=f"big-{field}-{value}")
    elapsed = time.perf_counter() - started
    assert resp.status_code == 422, resp.get_json()
    assert f"ticket.custom_fields.{field}" in resp.get_json()["errors"]
    assert elapsed < 0.5  # the request's own time; nothing is stored or queued
    assert counts(ctx) == (0, 0)


def test_in_range_numbers_are_accepted(stack) -> None:  # noqa: F811
    client, _ = stack
    resp = send(client, GENERIC, _event(units=3, estimate_hours=2.5), delivery="ok-1")
    assert resp.status_code == 202, resp.get_json()


def test_a_time_entry_beyond_a_day_is_422(stack) -> None:  # noqa: F811
    client, _ = stack
    data = copy.deepcopy(fixture("generic", "ticket_created"))
    data.update(event="time.logged", time_entry={"minutes": 50000})
    resp = send(client, GENERIC, data, delivery="long-time")
    assert resp.status_code == 422
    assert "time_entry.minutes" in resp.get_json()["errors"]


def test_the_limits_are_configuration(tmp_path: Path) -> None:
    config = tmp_path / "config"
    shutil.copytree(ROOT / "config", config)
    service = config / "rules" / "00-service.yaml"
    text = service.read_text().replace("units: {min: 1, max: 100}", "units: {min: 1, max: 500}")
    service.write_text(text)
    bounds = read_bounds(config)
    assert bounds.field_problems({"units": 300}) == {}
    assert bounds.field_problems({"units": 501}) == {"units": "must be between 1 and 500"}
    assert load_rules(config).bounds.range("units").high == 500
    # the shipped default
    assert read_bounds(ROOT / "config").field_problems({"units": 101})


def test_the_engine_refuses_the_same_units_in_milliseconds() -> None:
    rules = load_rules(ROOT / "config")
    body = _event(units=1000000)
    body["ticket"]["company"] = {"id": "acme"}
    event = event_from_dict(body, connection="test")
    started = time.perf_counter()
    decision = evaluate(rules, event, state_from_json({}), event.occurred_at)
    assert time.perf_counter() - started < 1.0
    out = decision.to_json()
    assert out["units"] == 1  # the out-of-range value is not used: the type's default is
    assert out["resolve_due"] is None or str(out["resolve_due"]) < "2100"


def test_rules_explain_answers_a_huge_units_value_fast(tmp_path: Path) -> None:
    body = _event(units=10 ** 6)
    event_file = tmp_path / "event.json"
    event_file.write_text(json.dumps(body))
    started = time.perf_counter()
    # the receiver refuses it (422): explain does too, naming the field (issue 18's one reader)
    refused = CliRunner().invoke(cli_main, ["rules", "explain", str(event_file), "--json",
                                            "--config", str(ROOT / "config")])
    assert refused.exit_code == 2
    assert "ticket.custom_fields.units: must be between" in refused.output
    # asked to explain it anyway (an event stored before a limit changed): the engine's
    # bounded work, as before
    result = CliRunner().invoke(cli_main, ["rules", "explain", str(event_file), "--json",
                                           "--ignore-limits",
                                           "--config", str(ROOT / "config")])
    assert time.perf_counter() - started < 2.0
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert out["units"] == 1 and str(out["resolve_due"]) < "2100"
