"""The shipped rule set against its YAML cases, the explain contract, the CLI and hot reload."""

from __future__ import annotations

import json
import shutil
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from plugin.cli import main
from plugin.rules_runtime import RulesHolder
from rules.casetest import build_event, run_dir
from rules.config.loader import load_rules
from rules.decision import State
from rules.engine import evaluate, with_state
from rules.generic_event import event_from_dict
from rules.state_json import state_from_json

CONFIG = Path(__file__).resolve().parents[2] / "config"
SPEC_EVENT = {
    "event": "ticket.updated",
    "occurred_at": "2026-11-23T10:05:00+02:00",
    "actor": {"kind": "agent", "id": "a-3", "name": "Ihor"},
    "ticket": {
        "id": "T-1001",
        "company": {"id": "acme", "name": "ACME Ltd"},
        "requester": {"id": "u-17", "email": "olena@acme.example"},
        "subject": "Report totals are wrong",
        "body": "…",
        "tags": ["reports"],
        "priority": "normal",
        "status": "accepted",
        "channel": "email",
        "assignee": {"id": "a-3"},
        "custom_fields": {"task_type": "composite", "units": 2},
        "created_at": "2026-11-23T10:00:00+02:00",
    },
    "changes": {"status": ["new", "accepted"]},
    "comment": None,
    "time_entry": None,
    "rating": None,
}


@pytest.fixture(scope="module")
def rules():
    return load_rules(CONFIG)


def test_every_shipped_case_passes(rules) -> None:
    results = run_dir(rules, CONFIG / "tests")
    assert len(results) >= 40
    failed = [(r.name, r.diffs, r.error) for r in results if not r.ok]
    assert failed == []


def test_explain_json_matches_the_spec_example(tmp_path: Path) -> None:
    path = tmp_path / "event.json"
    path.write_text(json.dumps(SPEC_EVENT))
    res = CliRunner().invoke(
        main, ["rules", "explain", str(path), "--json", "--config", str(CONFIG)]
    )
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    assert list(out) == [
        "ticket_id",
        "task_type",
        "units",
        "rule",
        "calendar",
        "accept_due",
        "first_response_due",
        "resolve_due",
        "deferred_to",
        "credits",
        "actions",
        "rules_version",
        "trace",
    ]
    assert out["task_type"] == "composite" and out["units"] == 2 and out["rule"] == "override"
    assert out["accept_due"] == "2026-11-23T11:00:00+02:00"
    assert out["first_response_due"] == "2026-11-23T13:00:00+02:00"
    assert out["resolve_due"] == "2026-11-24T17:00:00+02:00"
    assert out["deferred_to"] is None
    assert out["credits"] == {"on_resolve": 2, "money": None}
    assert {"type": "add_note", "visibility": "client", "template": "accepted"}.items() <= next(
        a for a in out["actions"] if a.get("template") == "accepted"
    ).items()
    assert out["rules_version"].startswith("sha256:")


def test_explain_rejects_a_naive_datetime_with_exit_2(tmp_path: Path) -> None:
    bad = dict(SPEC_EVENT, occurred_at="2026-11-23T10:05:00")
    path = tmp_path / "event.json"
    path.write_text(json.dumps(bad))
    res = CliRunner().invoke(main, ["rules", "explain", str(path), "--config", str(CONFIG)])
    assert res.exit_code == 2
    assert "occurred_at" in res.output


def test_explain_human_view_shows_marks_and_timelines(tmp_path: Path) -> None:
    path = tmp_path / "event.json"
    path.write_text(json.dumps(dict(SPEC_EVENT, event="ticket.created")))
    state = tmp_path / "state.json"
    state.write_text(json.dumps({"tasks_today": 1, "credits_available": 5}))
    res = CliRunner().invoke(
        main, ["rules", "explain", str(path), "--state", str(state), "--config", str(CONFIG)]
    )
    assert res.exit_code == 0, res.output
    assert "✓" in res.output and "✗" in res.output
    assert "counted  Tue 24 Nov 09:00–17:00" in res.output


def test_check_and_test_commands_pass_on_the_shipped_config() -> None:
    runner = CliRunner()
    assert runner.invoke(main, ["rules", "check", str(CONFIG / "rules")]).exit_code == 0
    res = runner.invoke(main, ["rules", "test", str(CONFIG)])
    assert res.exit_code == 0, res.output
    assert " 0 failed" in res.output


def test_own_writes_are_ignored(rules) -> None:
    body = build_event({"at": "2026-11-23T10:00:00+02:00"}, {})
    from dataclasses import replace

    event = replace(event_from_dict(body), own_write=True)
    d = evaluate(rules, event, State(), event.occurred_at)
    assert d.ignored == "own write" and d.actions == () and d.credit_ops == ()


def test_a_lifecycle_folds_through_with_state(rules) -> None:
    """File, accept, resolve, reopen, resolve: one reservation, one debit."""
    t0 = datetime.fromisoformat("2026-11-23T10:00:00+02:00")
    state = state_from_json({"company": {"id": "acme", "known": True, "credits_available": 9}})
    steps = [
        ("ticket.created", "new", "client"),
        ("ticket.updated", "accepted", "agent"),
        ("ticket.updated", "resolved", "agent"),
        ("ticket.updated", "in_progress", "client"),
        ("ticket.updated", "resolved", "agent"),
    ]
    kinds = []
    for i, (name, status, actor) in enumerate(steps):
        at = (t0 + timedelta(minutes=10 * i)).isoformat()
        body = build_event(
            {
                "event": name,
                "occurred_at": at,
                "actor": {"kind": actor},
                "ticket": {"status": status, "created_at": t0.isoformat()},
            },
            {},
        )
        d = evaluate(rules, event_from_dict(body), state, datetime.fromisoformat(at))
        kinds += [op.kind for op in d.credit_ops]
        state = with_state(d, state)
    assert kinds == ["reserve", "debit"]
    assert state.ticket.reopen_count == 1


def test_engine_is_pure_and_repeatable(rules) -> None:
    body = build_event({"at": "2026-11-23T10:00:00+02:00"}, {})
    event = event_from_dict(body)
    a = evaluate(rules, event, State(), event.occurred_at)
    b = evaluate(rules, event, State(), event.occurred_at)
    assert a.to_json() == b.to_json()


def test_hot_reload_keeps_the_last_good_rules(tmp_path: Path) -> None:
    config = tmp_path / "config"
    shutil.copytree(CONFIG, config, ignore=shutil.ignore_patterns("tests", "deskpilot*.yaml"))
    notes = []
    holder = RulesHolder(config, min_interval=0,
                         on_error=lambda v, p, last: notes.append((v, p, last)))
    good = holder.rules
    assert holder.reload() is False  # unchanged content: no re-read
    broken = config / "rules" / "10-classify.yaml"
    broken.write_text(broken.read_text().replace("type: bug", "type: bgu", 1))
    assert holder.get() is good
    assert holder.errors and "unknown type 'bgu'" in str(holder.errors[0])
    assert notes and notes[0][0] != good.version
    assert notes[0][2] is good  # the note is written in the team language of these
    broken.write_text(broken.read_text().replace("type: bgu", "type: bug"))
    assert holder.rules.version == good.version and holder.errors == []
