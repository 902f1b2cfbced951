"""Issue 15: how a batch is cut into host calls, and what a refusal costs (plugin.outbox.units)."""

from __future__ import annotations

from typing import Any

import pytest

from plugin.hosts.errors import ClientError, ServerError
from plugin.outbox.commands import Command, PushResult
from plugin.outbox.units import Outcome, Unit, is_refusal, parts, plan, split_refused


class Multi:
    atomic = False


class Atomic:
    atomic = True


ROWS = [
    Command.set_status("accepted"),
    Command.add_note("internal", "internal"),
    Command.set_fields(task_type="bug", units=2),
    Command.add_note("Accepted, due 17:00 (EET).", "client"),
    Command.log_time(15),
]


def test_a_multi_call_client_gets_client_notes_first_then_appends_then_fields() -> None:
    units = plan(Multi(), [1, 2, 3, 4, 5], ROWS)
    assert [u.ids for u in units] == [(4,), (2,), (5,), (1, 3)]


def test_an_atomic_client_and_a_batch_of_fields_only_stay_one_call() -> None:
    assert [u.ids for u in plan(Atomic(), [1, 2, 3, 4, 5], ROWS)] == [(1, 2, 3, 4, 5)]
    fields = [ROWS[0], ROWS[2]]
    assert [u.ids for u in plan(Multi(), [1, 3], fields)] == [(1, 3)]


def test_refusals_are_4xx_but_not_credentials_missing_tickets_or_rate_limits() -> None:
    assert is_refusal(ClientError(422, "PUT", "u"))
    assert is_refusal(ClientError(400, "PUT", "u"))
    assert not is_refusal(ClientError(401, "PUT", "u"))
    assert not is_refusal(ServerError(500, "PUT", "u"))


def _pusher(refuse: Any, fail: Any = None) -> tuple[list[list[Command]], Any]:
    sent: list[list[Command]] = []

    def push(cmds: list[Command], key: str) -> PushResult:
        if fail is not None and fail(cmds):
            raise ServerError(503, "PUT", "u", "down")
        if refuse(cmds):
            raise ClientError(422, "PUT", "u", '{"units": "bad"}')
        sent.append(cmds)
        return PushResult("4", calls=1)
    return sent, push


def _has_units(cmds: list[Command]) -> bool:
    return any(c.type == "set_fields" and "units" in c.data["fields"] for c in cmds)


def test_a_refused_unit_is_split_by_row_then_by_field() -> None:
    unit = Unit((1, 3), (ROWS[0], ROWS[2]))
    sent, push = _pusher(_has_units)
    out = Outcome()
    split_refused(push, unit, "k", ClientError(422, "PUT", "u"), out)
    assert out.delivered == [1]
    (refusal,) = out.refused
    assert refusal.row_id == 3 and refusal.command == Command.set_fields(units=2)
    assert [c.type for cmds in sent for c in cmds] == ["set_status", "set_fields"]
    assert sent[1][0].data["fields"] == {"task_type": "bug"}  # the other field landed
    assert out.calls == 2


def test_a_transient_failure_while_splitting_propagates() -> None:
    unit = Unit((1, 3), (ROWS[0], ROWS[2]))
    sent, push = _pusher(lambda c: False, fail=_has_units)
    out = Outcome()
    with pytest.raises(ServerError):
        split_refused(push, unit, "k", ClientError(422, "PUT", "u"), out)
    assert out.delivered == [1] and out.refused == []


DEADLINES = Command.set_deadlines(accept_due="2026-12-07T10:00:00Z",
                                  resolve_due="2026-12-08T15:00:00Z",
                                  deferred_to="2026-12-07T08:00:00Z")


def _only(cmds: list[Command]) -> list[str]:
    return [w for c in cmds for w in c.data.get("only") or ["whole"]]


def test_a_set_deadlines_splits_into_the_hosts_due_date_then_each_deadline() -> None:
    pieces = parts(DEADLINES)
    assert _only(pieces) == ["host_due", "accept_due", "first_response_due", "resolve_due",
                             "deferred_to"]
    assert pieces[4].data == {"deferred_to": "2026-12-07T08:00:00Z", "only": ["deferred_to"]}
    assert parts(DEADLINES, deadlines=False) == [DEADLINES]  # the generic callback's format
    assert parts(pieces[3]) == [pieces[3]]  # a part is not split again


def test_a_refused_deadline_costs_only_its_own_field() -> None:
    unit = Unit((1, 2), (ROWS[0], DEADLINES))
    keys: list[str] = []

    def refuse(cmds: list[Command]) -> bool:
        return any("resolve_due" in (c.data.get("only") or ["resolve_due"]) for c in cmds
                   if c.type == "set_deadlines")
    sent, push = _pusher(refuse)

    def keyed(cmds: list[Command], key: str) -> PushResult:
        keys.append(key)
        result: PushResult = push(cmds, key)
        return result
    out = Outcome()
    split_refused(keyed, unit, "k", ClientError(422, "PUT", "u"), out)
    assert out.delivered == [1]
    (refusal,) = out.refused
    assert refusal.row_id == 2
    assert refusal.command == Command("set_deadlines", {"resolve_due": "2026-12-08T15:00:00Z",
                                                        "only": ["resolve_due"]})
    delivered = [c for cmds in sent[1:] for c in cmds]
    assert _only(delivered) == ["host_due", "accept_due", "first_response_due", "deferred_to"]
    # stable keys per part: a retry of the same refusal sends the same deliveries
    assert keys == ["k/r1", "k/r2", "k/r2/p0", "k/r2/p1", "k/r2/p2", "k/r2/p3", "k/r2/p4"]
