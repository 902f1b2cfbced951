"""record_event on constructed histories: working-time durations with pauses, reopenings,
a DST weekend, messages, time logs and ratings, each checked against hand-counted values."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.orm import Session

from plugin import tables as registry  # noqa: F401
from plugin.reports.models import TicketMetrics
from plugin.reports.record import record_event
from plugin.storage.db import Database
from rules.decision import Decision, Transitions
from rules.event import Actor, TicketEvent
from rules.event import Ticket as EvTicket
from tests.reports_support import History, team_calendar

KYIV = ZoneInfo("Europe/Kyiv")


def k(d: int, h: int, mi: int = 0, month: int = 11) -> datetime:
    return datetime(2026, month, d, h, mi, tzinfo=KYIV)


@pytest.fixture
def session(sqlite_url: str) -> Iterator[Session]:
    db = Database(sqlite_url)
    db.create_all()
    with db.session() as s:
        yield s
    db.dispose()


def metrics(session: Session, h: History) -> TicketMetrics:
    assert h.ticket is not None
    m = session.get(TicketMetrics, h.ticket.id)
    assert m is not None
    return m


def test_pause_while_waiting_for_the_client_is_not_counted(session: Session) -> None:
    # Mon 10:00 filed; waiting for the client Mon 12:00 → Tue 10:00 (7 working hours paused);
    # resolved Tue 11:00: 8 h + 2 h elapsed working time − 7 h paused = 3 h
    h = History(session, team_calendar(), "T-1", k(23, 10), resolve_due=k(24, 16))
    h.filed_()
    h.status_(k(23, 10, 20), "accepted")
    h.reply(k(23, 11, 30))
    h.note(k(23, 11, 40))
    h.status_(k(23, 12), "waiting_client")
    h.reply(k(24, 10), who="client", cid="c-client")
    h.reply(k(24, 10), who="client", cid="c-client")  # the same reply delivered twice
    h.status_(k(24, 10), "in_progress")
    h.status_(k(24, 11), "resolved")
    m = metrics(session, h)
    assert m.accept_minutes == 20 and m.accept_breached == 0
    assert m.first_response_minutes == 90
    assert m.paused_minutes == 420
    assert m.resolution_minutes == 180
    assert m.resolved_on_time == 1 and m.reopen_count == 0
    assert (m.messages_client, m.messages_agent) == (2, 1)
    assert m.resolved_by == "ihor"


def test_reopened_task_counts_its_last_resolution(session: Session) -> None:
    h = History(session, team_calendar(), "T-2", k(23, 10), resolve_due=k(23, 18))
    h.filed_()
    h.status_(k(23, 11), "resolved")
    assert metrics(session, h).resolution_minutes == 60
    h.status_(k(23, 14), "in_progress")  # the client says it is not fixed
    h.status_(k(24, 10), "resolved")
    h.status_(k(24, 12), "closed")  # closing a resolved task is not a second resolution
    m = metrics(session, h)
    assert m.reopen_count == 1
    assert m.first_resolved_at == k(23, 11) and m.resolved_at == k(24, 10)
    assert m.resolution_minutes == 540  # Mon 10-18 + Tue 9-10
    assert m.resolved_on_time == 0
    assert m.closed_at == k(24, 12)


def test_dst_weekend_counts_working_hours_not_wall_hours(session: Session) -> None:
    # Fri 23 Oct 17:00 (UTC+3) → Mon 26 Oct (UTC+2): the clocks went back on Sunday
    h = History(session, team_calendar(), "T-3", k(23, 17, month=10))
    h.filed_()
    h.reply(k(26, 9, 30, month=10))
    h.status_(k(26, 10, month=10), "resolved")
    m = metrics(session, h)
    assert m.first_response_minutes == 90
    assert m.resolution_minutes == 120
    assert m.resolved_on_time is None  # no deadline known


def test_time_entries_are_tracked_by_id(session: Session) -> None:
    h = History(session, team_calendar(), "T-4", k(23, 10))
    h.filed_()
    h.time(k(23, 11), "e1", 30)
    h.time(k(23, 12), "e2", 45)
    h.time(k(23, 13), "e2", 60, kind="time.updated")
    assert metrics(session, h).logged_minutes == 90
    h.time(k(23, 14), "e1", 30, kind="time.deleted")
    assert metrics(session, h).logged_minutes == 60


def test_latest_rating_and_its_scale_are_kept(session: Session) -> None:
    h = History(session, team_calendar(), "T-5", k(23, 10))
    h.filed_()
    h.rate(k(24, 10), 3)
    h.rate(k(24, 11), 9, scale=10)
    m = metrics(session, h)
    assert (m.rating_score, m.rating_scale, m.rated_at) == (9, 10, k(24, 11))


def test_decision_pauses_and_transitions_win(session: Session) -> None:
    h = History(session, team_calendar(), "T-6", k(23, 10))
    ticket = h.filed_()
    decision = Decision(
        "T-6", "simple", 1, "fallback", "default", resolve_due=k(23, 17),
        transitions=Transitions(resolved=True),
        ticket_facts={"pauses": ((k(23, 11), k(23, 12)),)},
    )
    ev = TicketEvent("generic", "generic", "d-6", "ticket.updated", k(23, 15),
                     EvTicket("T-6", k(23, 10), status="in_progress"), Actor("agent", "olena"))
    m = record_event(session, ticket, ev, decision, k(23, 15), team_calendar())
    assert m is not None
    assert m.resolution_minutes == 240 and m.paused_minutes == 60
    assert m.resolved_on_time == 1 and m.resolved_by == "olena"


def test_own_writes_and_unknown_events_are_ignored(session: Session) -> None:
    h = History(session, team_calendar(), "T-7", k(23, 10))
    ticket = h.filed_()
    for kind, own in (("ticket.updated", True), ("unknown", False)):
        ev = TicketEvent("generic", "generic", f"x-{kind}", kind, k(23, 11),
                         EvTicket("T-7", k(23, 10), status="resolved"), own_write=own)
        assert record_event(session, ticket, ev, None, k(23, 11), team_calendar()) is None
    assert metrics(session, h).resolved_at is None


def test_dimensions_are_copied_and_follow_a_retyped_ticket(session: Session) -> None:
    h = History(session, team_calendar(), "T-8", k(23, 10), company="acme", priority="high",
                task_type="simple", manager="ihor")
    ticket = h.filed_()
    m = metrics(session, h)
    assert (m.task_type, m.priority, m.company_id, m.manager) == ("simple", "high", "acme",
                                                                  "ihor")
    # a rules replay re-types the ticket and hands it over without any event
    ticket.task_type, ticket.manager = "bug", "olena"
    session.flush()
    assert (m.task_type, m.manager) == ("bug", "olena")
    session.expire_all()
    stored = session.get(TicketMetrics, ticket.id)
    assert stored is not None and (stored.task_type, stored.manager) == ("bug", "olena")
