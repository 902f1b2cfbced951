"""rules.items: a comment or time entry counts once; a host's totals and its entries together
never count a minute twice nor lose one, in any order; the engine fires an event's own
automations once per item."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rules import items
from rules.config.loader import load_rules
from rules.decision import State, TicketState
from rules.engine import evaluate
from rules.event import Actor, Comment, EventType, Ticket, TicketEvent, TimeEntry
from rules.items import TOTAL_FIELD, Seen, count

CONFIG = Path(__file__).resolve().parents[2] / "config"
T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def ev(kind: str, at: datetime = T0, *, comment: Comment | None = None,
       entry: TimeEntry | None = None, total: int | None = None) -> TicketEvent:
    fields: dict[str, Any] = {} if total is None else {TOTAL_FIELD: total}
    return TicketEvent("c", "generic", f"k-{kind}-{at.isoformat()}", kind, at,
                       Ticket("T-1", T0, custom_fields=fields), Actor("agent", "a-1"),
                       comment=comment, time_entry=entry)


def fold(events: list[TicketEvent]) -> tuple[Seen, list[items.Counted]]:
    seen, out = Seen(), []
    for e in events:
        c = count(e, seen)
        out.append(c)
        seen = c.seen
    return seen, out


def test_comments_count_once_by_id_else_by_text_within_minutes() -> None:
    reply = Comment(None, True, "<div>It also happens   for February.</div>")
    same = Comment(None, True, "it also happens for february.")
    seen, out = fold([ev(EventType.COMMENTED, comment=reply),
                      ev(EventType.COMMENTED, T0 + timedelta(minutes=4), comment=same),
                      ev(EventType.COMMENTED, T0 + timedelta(minutes=11), comment=same),
                      ev(EventType.COMMENTED, comment=Comment(None, False, same.body)),
                      ev(EventType.COMMENTED, comment=Comment("7", True, "x")),
                      ev(EventType.COMMENTED, comment=Comment("7", True, "x, edited")),
                      ev(EventType.COMMENTED, comment=Comment(None, True, " ")),
                      ev(EventType.COMMENTED, comment=Comment(None, True, ""))])
    # the same text 4 minutes later is the same reply; 11 minutes later, or as a private
    # note, another one; an id decides alone; an empty comment cannot be told apart: counted
    assert [c.repeat for c in out] == [False, True, False, False, False, True, False, False]
    assert [c.event.comment is None for c in out] == [c.repeat for c in out]
    assert len(seen.comments) == 4 and seen.comments[-1] == "7"


def test_stored_comments_and_entries_are_bounded() -> None:
    many = [ev(EventType.COMMENTED, comment=Comment(str(i), True, "x"))
            for i in range(items.COMMENTS_KEPT + 5)]
    seen, _ = fold(many)
    assert len(seen.comments) == items.COMMENTS_KEPT and seen.comments[0] == "5"
    logs = [ev(EventType.TIME_LOGGED, entry=TimeEntry(f"e{i}", 1))
            for i in range(items.ENTRIES_KEPT + 3)]
    seen, _ = fold(logs)
    assert len(seen.entries) == items.ENTRIES_KEPT and seen.entries[0] == ("e3", 1)
    assert seen.logged_minutes == items.ENTRIES_KEPT + 3


def test_a_total_without_entry_logs_the_difference_as_a_synthetic_entry() -> None:
    seen, out = fold([ev(EventType.TIME_LOGGED, total=45),
                      ev(EventType.TIME_LOGGED, entry=TimeEntry("time-11", 45), total=45),
                      ev(EventType.UPDATED, total=60),
                      ev(EventType.TIME_LOGGED, total=50)])
    assert [c.added for c in out] == [45, 0, 15, 0]
    assert out[0].event.time_entry == TimeEntry("total:45", 45, agent_id="a-1")
    assert out[1].repeat and out[1].event.time_entry is None
    assert out[2].event.time_entry == TimeEntry("total:60", 15, agent_id="a-1")
    assert out[3].repeat  # a lower total (an older retry) logs nothing
    assert seen.logged_minutes == 60 and seen.entries == (("time-11", 45),)


def test_a_new_entry_with_a_total_logs_what_the_total_adds() -> None:
    # the poll's second entry (20 min, total 30) processed before the first (10 min, total 10)
    seen, out = fold([ev(EventType.TIME_LOGGED, entry=TimeEntry("b", 20), total=30),
                      ev(EventType.TIME_LOGGED, entry=TimeEntry("a", 10), total=10)])
    assert [c.added for c in out] == [30, 0]
    assert out[0].event.time_entry == TimeEntry("b", 30)
    assert seen.logged_minutes == 30 and dict(seen.entries) == {"a": 10, "b": 20}


@settings(max_examples=300, deadline=None)
@given(minutes=st.lists(st.integers(1, 120), min_size=1, max_size=5), data=st.data())
def test_totals_and_entries_in_any_order_count_the_highest_total(minutes: list[int],
                                                                 data: Any) -> None:
    """A totals host (Freshdesk): per entry a delivered total (maybe lost, maybe retried)
    and the poll's entry with the total after it; any order, any repeats."""
    totals = [sum(minutes[:i + 1]) for i in range(len(minutes))]
    pool = [ev(EventType.TIME_LOGGED, total=t) for t in totals]
    pool += [ev(EventType.TIME_LOGGED, entry=TimeEntry(f"time-{i}", m), total=t)
             for i, (m, t) in enumerate(zip(minutes, totals, strict=True))]
    events = data.draw(st.lists(st.sampled_from(pool), min_size=1, max_size=12))
    seen, out = fold(events)
    want = max(items.host_total(e) or 0 for e in events)
    assert seen.logged_minutes == want == sum(c.added for c in out)
    assert all(c.added >= 0 for c in out)


@settings(max_examples=300, deadline=None)
@given(ops=st.lists(st.tuples(st.sampled_from(["log", "update", "delete"]),
                              st.integers(0, 4), st.integers(1, 90), st.booleans()),
                    max_size=25))
def test_entries_logged_updated_deleted_and_delivered_twice_sum_up(
        ops: list[tuple[str, int, int, bool]]) -> None:
    """An entries host (Redmine, generic): each change may be delivered twice."""
    host: dict[str, int] = {}
    events = []
    kinds = {"log": EventType.TIME_LOGGED, "update": EventType.TIME_UPDATED,
             "delete": EventType.TIME_DELETED}
    for op, n, m, twice in ops:
        eid = f"e{n}"
        if (op == "log") == (eid in host):
            continue  # log a new id; update or delete an existing one
        if op == "delete":
            m = host.pop(eid)
        else:
            host[eid] = m
        events += [ev(kinds[op], entry=TimeEntry(eid, m))] * (2 if twice else 1)
    seen, _ = fold(events)
    assert seen.logged_minutes == sum(host.values())
    assert dict(seen.entries) == host


# -- through the engine -----------------------------------------------------------------------

@pytest.fixture(scope="module")
def rules() -> Any:
    return load_rules(CONFIG)


def simple(logged: int = 0, **over: Any) -> State:
    return State(ticket=TicketState(known=True, task_type="simple", units=1, rule="fallback",
                                    status="in_progress", filed_at=T0, accepted_at=T0,
                                    logged_minutes=logged, **over))


def notes(decision: Any) -> list[str]:
    return [a.params.get("template") for a in decision.actions if a.type == "add_note"]


def test_a_time_entry_applied_before_fires_no_time_automation(rules: Any) -> None:
    entry = TimeEntry("te-2", 20)
    again = ev(EventType.TIME_LOGGED, T0 + timedelta(hours=1), entry=entry)
    d = evaluate(rules, again, simple(70, time_entries=(("te-2", 20),)), again.occurred_at)
    assert d.ticket_facts["logged_minutes"] == 70 and "retype_suggestion" not in notes(d)
    d = evaluate(rules, again, simple(50), again.occurred_at)
    assert d.ticket_facts["logged_minutes"] == 70 and "retype_suggestion" in notes(d)


def test_a_delivered_total_logs_and_suggests_retyping_like_an_entry(rules: Any) -> None:
    # Freshdesk's time.logged: the total only; 30 minutes were counted before
    total = ev(EventType.TIME_LOGGED, T0 + timedelta(hours=1), total=75)
    d = evaluate(rules, total, simple(30), total.occurred_at)
    assert d.ticket_facts["logged_minutes"] == 75 and "retype_suggestion" in notes(d)
    # a total raised on a plain update is time logged too
    update = ev(EventType.UPDATED, T0 + timedelta(hours=1), total=75)
    d = evaluate(rules, update, simple(30), update.occurred_at)
    assert d.ticket_facts["logged_minutes"] == 75 and "retype_suggestion" in notes(d)


def test_a_repeated_client_comment_does_not_reset_the_idle_clock(rules: Any) -> None:
    comment = Comment("c-9", True, "Any news?", Actor("client", "u-1"))
    late = ev(EventType.COMMENTED, T0 + timedelta(days=2), comment=comment)
    d = evaluate(rules, late, simple(comments_seen=("c-9",)), late.occurred_at)
    assert "last_client_activity_at" not in d.ticket_facts
    d = evaluate(rules, late, simple(), late.occurred_at)
    assert d.ticket_facts["last_client_activity_at"] == late.occurred_at
