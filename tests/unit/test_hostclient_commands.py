"""The outbox command model: validation, JSON round trip and coalescing."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from plugin.outbox.coalesce import changeset
from plugin.outbox.commands import (
    Command,
    CommandError,
    coalesce,
    deadline_part,
    deadline_writes,
)
from rules.event import STATUSES


def test_json_round_trip_is_lossless_and_json_serialisable() -> None:
    cmds = [
        Command.set_status("accepted"),
        Command.set_deadlines(accept_due="2026-11-23T11:00:00+02:00", resolve_due=None),
        Command.log_time(90, note="analysis", agent_id="a-3"),
        Command.add_note("Accepted, due tomorrow", visibility="client"),
        Command.set_fields(task_type="composite", units=2),
        Command.assign("a-3"),
        Command.set_balance("acme", balance=10, reserved=2, available=8),
    ]
    for cmd in cmds:
        text = json.dumps(cmd.to_json())
        assert Command.from_json(json.loads(text)) == cmd
    assert cmds[1].data == {"accept_due": "2026-11-23T11:00:00+02:00",
                            "first_response_due": None, "resolve_due": None}


def test_commands_do_not_alias_the_callers_dict() -> None:
    fields = {"units": 2}
    cmd = Command("set_fields", {"fields": fields})
    fields["units"] = 3
    assert cmd.data["fields"]["units"] == 2
    with pytest.raises(TypeError):
        cmd.data["fields"] = {}  # type: ignore[index]


@pytest.mark.parametrize(("type_", "data", "message"), [
    ("reopen", {}, "unknown command type"),
    ("set_status", {"status": "done"}, "unknown status"),
    ("set_deadlines", {"due": "x"}, "unknown keys"),
    ("set_deadlines", {"resolve_due": "x", "only": ["due_date"]}, "only must list"),
    ("set_deadlines", {"resolve_due": "x", "only": []}, "only must list"),
    ("set_deadlines", {"resolve_due": "x", "only": ["accept_due"]}, "without"),
    ("set_deadlines", {"resolve_due": "x", "only": ["host_due"]}, "without"),
    ("log_time", {"minutes": 0}, "positive int"),
    ("log_time", {"minutes": True}, "positive int"),
    ("add_note", {"visibility": "public", "body": "x"}, "visibility"),
    ("add_note", {"visibility": "client", "body": ""}, "body"),
    ("set_fields", {"fields": ["units"]}, "mapping"),
    ("assign", {}, "agent_id"),
    ("set_balance", {"balance": 1}, "company_id"),
])
def test_invalid_commands_fail_at_construction(type_: str, data: dict, message: str) -> None:
    with pytest.raises(CommandError, match=message):
        Command(type_, data)


def test_coalesce_last_wins_fields_merge_notes_and_time_kept_in_order() -> None:
    cmds = [
        Command.set_status("accepted"),
        Command.add_note("first"),
        Command.set_fields(task_type="simple", units=1),
        Command.log_time(30),
        Command.set_balance("acme", 10, 0, 10),
        Command.set_status("in_progress"),
        Command.set_fields(units=2),
        Command.add_note("second", visibility="client"),
        Command.set_balance("acme", 10, 2, 8),
        Command.set_balance("beta", 5, 0, 5),
        Command.log_time(15),
    ]
    out = coalesce(cmds)
    assert [c.type for c in out] == ["set_fields", "set_status", "set_balance", "set_balance",
                                     "add_note", "log_time", "add_note", "log_time"]
    assert out[0].data["fields"] == {"task_type": "simple", "units": 2}
    assert out[1].data["status"] == "in_progress"
    assert out[2].data["company_id"] == "acme" and out[2].data["available"] == 8
    assert [c.data.get("body") or c.data.get("minutes") for c in out[4:]] == [
        "first", 30, "second", 15]


statuses = st.sampled_from(STATUSES).map(Command.set_status)
notes = st.text(min_size=1, max_size=5).map(Command.add_note)
times = st.integers(1, 600).map(Command.log_time)


@given(st.lists(st.one_of(statuses, notes, times), max_size=12))
def test_coalesce_properties(cmds: list[Command]) -> None:
    out = coalesce(cmds)
    assert coalesce(out) == out  # idempotent
    kept = [c for c in cmds if c.type in ("add_note", "log_time")]
    assert [c for c in out if c.type in ("add_note", "log_time")] == kept
    last = [c for c in cmds if c.type == "set_status"][-1:]
    assert [c for c in out if c.type == "set_status"] == last
    cs = changeset(cmds)
    assert cs.status == (last[0].data["status"] if last else None)
    assert sum(t.minutes for t in cs.time_logs) == sum(c.data["minutes"] for c in kept
                                                       if c.type == "log_time")


DUE = Command.set_deadlines(accept_due="2026-12-07T10:00:00Z", first_response_due=None,
                            resolve_due="2026-12-08T15:00:00Z")


def test_a_deadlines_part_writes_only_its_own_part() -> None:
    due = deadline_part(DUE, "host_due")
    assert due.data == {**DUE.data, "only": ["host_due"]}  # the due date needs all three
    field = deadline_part(DUE, "resolve_due")
    assert field.data == {"resolve_due": "2026-12-08T15:00:00Z", "only": ["resolve_due"]}
    assert Command.from_json(json.loads(json.dumps(field.to_json()))) == field
    assert deadline_writes(DUE.data) == ("host_due", "accept_due", "first_response_due",
                                         "resolve_due")
    cs = changeset([field])
    assert not cs.host_due and cs.deadline_fields() == {"resolve_due": "2026-12-08T15:00:00Z"}
    cs = changeset([due])
    assert cs.host_due and cs.deadline_fields() == {} and cs.deadlines == dict(DUE.data)
    whole = changeset([DUE])
    assert whole.host_due and whole.deadline_fields() == dict(DUE.data)


def test_parts_join_back_into_the_whole_and_a_resent_part_joins_what_came_before() -> None:
    pieces = [deadline_part(DUE, w) for w in deadline_writes(DUE.data)]
    assert coalesce(pieces) == [DUE]  # every part refused: the row keeps its command
    accept, resolve = pieces[1], pieces[3]
    (both,) = coalesce([accept, resolve])  # two refused parts resent together: both written
    assert both.data == {"accept_due": "2026-12-07T10:00:00Z",
                         "resolve_due": "2026-12-08T15:00:00Z",
                         "only": ["accept_due", "resolve_due"]}
    newer = Command.set_deadlines(accept_due="2026-12-07T11:00:00Z")
    assert coalesce([resolve, newer]) == [newer]  # a whole snapshot replaces a part
    (kept,) = coalesce([newer, resolve])  # a part after a snapshot: everything, its value in
    assert "only" not in kept.data and kept.data["resolve_due"] == "2026-12-08T15:00:00Z"
    assert kept.data["accept_due"] == "2026-12-07T11:00:00Z"
