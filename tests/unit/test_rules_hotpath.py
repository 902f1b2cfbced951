"""The worker's fast path (``explain=False``) decides exactly what ``explain`` shows."""

from __future__ import annotations

import pickle
import shutil
from dataclasses import replace
from datetime import datetime, time, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rules import targets
from rules.casetest import _plain, build_event, merge
from rules.conditions import OPERATORS, _specialised
from rules.config.loader import load_rules
from rules.config.source import load_file
from rules.decision import Decision, State
from rules.engine import evaluate, evaluate_timer, with_state
from rules.generic_event import event_from_dict
from rules.state_json import state_from_json
from rules.templates import TemplateParams

CONFIG = Path(__file__).resolve().parents[2] / "config"
T0 = datetime.fromisoformat("2026-11-23T10:00:00+02:00")


@pytest.fixture(scope="module")
def rules():
    return load_rules(CONFIG)


def _same(a: Decision, b: Decision) -> None:
    """Everything but the explain-only parts (trace, timelines) is equal."""
    ja, jb = a.to_json(), b.to_json()
    ja.pop("trace"), jb.pop("trace")
    assert ja == jb
    assert a.credit_ops == b.credit_ops and a.flags == b.flags
    assert a.transitions == b.transitions
    assert _plain(dict(a.ticket_facts)) == _plain(dict(b.ticket_facts))
    assert a.company_facts == b.company_facts


def _cases() -> list[tuple[str, dict[str, Any], dict[str, Any]]]:
    out = []
    for path in sorted((CONFIG / "tests").glob("*.yaml")):
        data = load_file(path).data
        for case in data["cases"]:
            out.append((f"{path.stem}: {case['name']}", case, data.get("defaults") or {}))
    return out


CASES = _cases()


@pytest.mark.parametrize("case", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_every_shipped_case_decides_the_same_without_explain(rules, case) -> None:
    raw, defaults = case
    body = build_event(raw.get("event") or {}, defaults.get("event") or {}, raw.get("now"))
    event = event_from_dict(body, connection="test")
    state = state_from_json(_plain(merge(defaults.get("state") or {}, raw.get("state") or {})))
    now = datetime.fromisoformat(_plain(raw["now"])) if raw.get("now") else event.occurred_at
    if raw.get("timer"):
        full = evaluate_timer(rules, event.ticket, state, now)
        fast = evaluate_timer(rules, event.ticket, state, now, explain=False)
    else:
        full = evaluate(rules, event, state, now)
        fast = evaluate(rules, event, state, now, explain=False)
    _same(full, fast)


def _step(i: int, name: str, status: str, actor: str, cf: Any = None, **extra: Any) -> Any:
    ticket = {"status": status, "created_at": T0.isoformat(), "custom_fields": cf or {}}
    body = build_event(
        {
            "event": name,
            "occurred_at": (T0 + timedelta(minutes=i)).isoformat(),
            "actor": {"kind": actor},
            "ticket": ticket,
            **extra,
        },
        {},
    )
    return event_from_dict(body)


def test_a_folded_lifecycle_reuses_stored_deadlines_only_when_nothing_changed(rules) -> None:
    """Fold with the fast path and check each step against a full explain evaluation."""
    comment = {"id": "c", "public": True, "body": "hi", "author": {"kind": "agent"}}
    client_comment = dict(comment, author={"kind": "client"})
    three = {"task_type": "composite", "units": 3}
    steps = [
        _step(0, "ticket.created", "new", "client"),
        _step(20, "ticket.updated", "accepted", "agent", changes={"status": ["new", "accepted"]}),
        _step(30, "ticket.commented", "accepted", "agent", comment=comment),
        # the specialist makes it composite x3: deadlines must move, not be reused
        _step(40, "ticket.updated", "in_progress", "agent", three),
        _step(50, "ticket.updated", "waiting_client", "agent", three),  # the pause opens
        _step(900, "ticket.commented", "in_progress", "client", three, comment=client_comment),
        _step(960, "ticket.updated", "resolved", "agent", three),
    ]
    state = state_from_json({"company": {"id": "acme", "known": True, "credits_available": 9}})
    reused = 0
    dues = []
    for ev in steps:
        full = evaluate(rules, ev, state, ev.occurred_at)
        fast = evaluate(rules, ev, state, ev.occurred_at, explain=False)
        _same(full, fast)
        key = fast.ticket_facts.get("facts", {}).get("deadline_key")
        reused += bool(key) and key == state.ticket.facts.get("deadline_key")
        dues.append(fast.resolve_due)
        state = with_state(fast, state)
    assert reused >= 2  # the comment and the resolve changed nothing the deadlines read
    assert dues[3] > dues[2]  # 3 units take longer
    assert dues[5] > dues[3]  # the waiting time is not counted


def test_a_config_change_never_reuses_deadlines_of_another_version(rules, tmp_path) -> None:
    ev = _step(0, "ticket.created", "new", "client")
    d = evaluate(rules, ev, State(), ev.occurred_at, explain=False)
    state = with_state(d, State())
    config = tmp_path / "config"
    shutil.copytree(CONFIG, config, ignore=shutil.ignore_patterns("tests"))
    pol = config / "rules" / "20-policies.yaml"
    text = pol.read_text(encoding="utf-8")
    old = "accept: {kind: working_hours, hours: 1}"
    assert old in text
    pol.write_text(text.replace(old, old.replace("1}", "2}"), 1), encoding="utf-8")
    other = load_rules(config)
    later = _step(5, "ticket.commented", "new", "client")
    fast = evaluate(other, later, state, later.occurred_at, explain=False)
    full = evaluate(other, later, state, later.occurred_at)
    _same(full, fast)
    assert fast.accept_due == d.accept_due + timedelta(hours=1)


_values = st.one_of(
    st.none(),
    st.integers(-3, 3),
    st.sampled_from(["Bug", "bug", "BUG report", "feature", "", "доробка"]),
    st.lists(st.sampled_from(["Bug", "bug", "x", "Feature", 3]), max_size=4),
    st.tuples(st.sampled_from(["bug", "held"])),
    st.frozensets(st.sampled_from(["accepted", "held", "BUG"])),
)


@settings(max_examples=150)
@given(
    op=st.sampled_from(["contains", "contains_any", "eq", "in"]),
    value=st.sampled_from(["bug", "Bug", "held", ["bug", "feature"], ["x"], ["Доробка", "held"]]),
    actual=_values,
)
def test_specialised_operators_answer_like_the_reference(op: str, value: Any, actual: Any) -> None:
    if (op in ("contains_any", "in")) != isinstance(value, list):
        return  # the compiler refuses these combinations
    fast = _specialised(op, value)
    assert fast is not None
    try:
        want = bool(OPERATORS[op](actual, value))
    except TypeError:
        return  # e.g. an unhashable actual for `in`: the reference raises, so does the rule
    assert fast(actual) == want


@settings(max_examples=60, deadline=None)
@given(
    minutes=st.integers(0, 14 * 24 * 60),
    cutoff=st.sampled_from([time(16, 0), time(12, 30), time(9, 0)]),
)
def test_bug_cutoff_fast_path_gives_the_same_due(rules, minutes: int, cutoff: time) -> None:
    cal = rules.calendars[rules.default_calendar]
    filed = T0 + timedelta(minutes=minutes)
    full = targets.bug_cutoff(filed, cal, 8, cutoff)
    fast = targets.bug_cutoff(filed, cal, 8, cutoff, explain=False)
    assert fast.due == full.due and fast.timeline == () and full.timeline


def test_template_text_is_rendered_when_read_not_when_decided() -> None:
    calls = []

    def render() -> str:
        calls.append(1)
        return "Deadline: Mon"

    p = TemplateParams({"visibility": "client", "template": "accepted"}, render)
    assert calls == [] and "text" in p and len(p) == 3
    assert list(p) == ["visibility", "template", "text"]
    assert p["text"] == "Deadline: Mon" and dict(p)["text"] == "Deadline: Mon"
    assert calls == [1]  # rendered once
    assert p == {"visibility": "client", "template": "accepted", "text": "Deadline: Mon"}
    assert pickle.loads(pickle.dumps(p)) == dict(p)


def test_an_automatic_retype_note_is_rendered_with_the_new_type(tmp_path) -> None:
    """The opt-in re-type runs before the lifecycle; its client note still gets its text."""
    config = tmp_path / "config"
    shutil.copytree(CONFIG, config, ignore=shutil.ignore_patterns("tests"))
    autos = config / "rules" / "30-automations.yaml"
    autos.write_text(autos.read_text(encoding="utf-8").replace("enabled: false", "enabled: true"))
    rules = load_rules(config)
    ev = _step(
        0,
        "time.logged",
        "in_progress",
        "agent",
        time_entry={"id": "e", "minutes": 30, "agent_id": "a", "billable": True},
    )
    state = state_from_json(
        {
            "company": {"id": "acme", "known": True, "credits_available": 9},
            "ticket": {
                "task_type": "simple",
                "units": 1,
                "status": "in_progress",
                "rule": "fallback",
                "logged_minutes": 100,
                "filed_at": T0.isoformat(),
                "accepted_at": T0.isoformat(),
                "reserved_units": 1,
            },
        }
    )
    d = evaluate(rules, ev, state, ev.occurred_at, explain=False)
    assert d.task_type == "composite"
    note = next(a for a in d.actions if a.params.get("template") == "retyped")
    assert note.params["text"].strip()
    assert "{" not in note.params["text"]


def test_reused_deadlines_keep_the_calendar_zone(rules) -> None:
    ev = _step(0, "ticket.created", "new", "client")
    d = evaluate(rules, ev, State(), ev.occurred_at, explain=False)
    state = with_state(d, State())
    # stored facts come back from JSON with a fixed offset, not the zone object
    fixed = replace(state.ticket, accept_due=d.accept_due.astimezone(d.accept_due.tzinfo))
    later = _step(3, "ticket.commented", "new", "client")
    d2 = evaluate(rules, later, replace(state, ticket=fixed), later.occurred_at, explain=False)
    assert d2.accept_due == d.accept_due
    assert d2.accept_due.utcoffset() == d.accept_due.utcoffset()


def test_updated_equals_dataclasses_replace(rules) -> None:
    from rules.decision import TicketState, updated

    ev = _step(0, "ticket.created", "new", "client")
    d = evaluate(rules, ev, State(), ev.occurred_at, explain=False)
    base = TicketState(reopen_count=2, warned=("accept",))
    assert updated(base, d.ticket_facts) == replace(base, **d.ticket_facts)
    assert base.known is False  # the original is untouched
