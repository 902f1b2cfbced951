"""Processing counts a comment or a time entry once, however many deliveries carry it.

Through the real processing job on both databases: a comment or time entry delivered twice
(two delivery keys), time updated and deleted by id, and Freshdesk's delivered totals next to
the poll's entries in every order (``rules.items``)."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from plugin.context import Context
from plugin.processing.process import process_event
from plugin.processing.state import ticket_state
from plugin.reconcile.template_bodies import freshdesk_item_payload
from plugin.reports.models import TicketMetrics
from plugin.storage.models import Event, EventState, Ticket
from rules.decision import TicketState
from tests.jobs_support import buy, connections_context, make_context, payload, store
from webhooks.hosts import ADAPTERS

ROOT = Path(__file__).resolve().parents[2]
FIX = ROOT / "tests" / "fixtures" / "freshdesk"
NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)  # after every event below


def facts(ctx: Context, host_id: str, connection: str = "generic"
          ) -> tuple[TicketState, TicketMetrics, Ticket]:
    with ctx.db.session() as s:
        row = s.execute(select(Ticket).where(Ticket.connection == connection,
                                             Ticket.host_ticket_id == host_id)).scalar_one()
        m = s.get(TicketMetrics, row.id)
        assert m is not None
        s.expunge_all()
        return ticket_state(row), m, row


def run(ctx: Context, *ids: int) -> None:
    for event_id in ids:
        assert process_event(event_id, NOW) == EventState.PROCESSED


@pytest.fixture
def ctx(db_url: str) -> Iterator[Context]:
    c = make_context(db_url)
    buy(c, "acme", 10, datetime(2026, 11, 20, tzinfo=UTC))
    yield c
    c.close()


def test_a_comment_delivered_twice_counts_once_and_the_rest_still_applies(ctx: Context) -> None:
    client = {"id": "c-1", "public": True, "body": "Any news?",
              "author": {"kind": "client", "id": "u-1"}}
    reply = {"id": "c-2", "public": True, "body": "Fixed, please check.",
             "author": {"kind": "agent", "id": "a-1"}}
    run(ctx,
        store(ctx, payload("T-1", "ticket.created", "2026-11-23T10:00:00+02:00",
                           actor="client"), "d1"),
        store(ctx, payload("T-1", "ticket.commented", "2026-11-23T10:30:00+02:00",
                           actor="client", comment=client), "d2"),
        # the same reply in a second webhook (another delivery key)
        store(ctx, payload("T-1", "ticket.commented", "2026-11-23T10:30:00+02:00",
                           actor="client", comment=client), "d2-again"),
        store(ctx, payload("T-1", "ticket.commented", "2026-11-23T10:40:00+02:00",
                           comment=reply), "d3"),
        # the agent's reply again, now with the status the agent set with it
        store(ctx, payload("T-1", "ticket.commented", "2026-11-23T10:41:00+02:00",
                           status="waiting_client", comment=reply,
                           changes={"status": ["new", "waiting_client"]}), "d3-again"))
    st, m, row = facts(ctx, "T-1")
    assert (m.messages_client, m.messages_agent) == (2, 1)  # the opening request and c-1
    assert st.comments_seen == ("c-1", "c-2")
    assert row.status == st.status == "waiting_client"  # the rest of the event applied
    assert m.first_response_at is not None


def test_a_time_entry_delivered_twice_logs_once(ctx: Context) -> None:
    entry = {"id": "te-1", "minutes": 45, "agent_id": "a-1"}
    run(ctx,
        store(ctx, payload("T-2", "ticket.created", "2026-11-23T10:00:00+02:00",
                           actor="client"), "t1"),
        store(ctx, payload("T-2", "time.logged", "2026-11-23T11:00:00+02:00",
                           time_entry=entry), "t2"),
        store(ctx, payload("T-2", "time.logged", "2026-11-23T11:00:00+02:00",
                           time_entry=entry), "t2-again"))
    st, m, _ = facts(ctx, "T-2")
    assert st.logged_minutes == m.logged_minutes == 45
    # twice 45 would pass the 60 minutes of the re-type suggestion: not suggested
    assert "retype-suggestion" not in st.facts.get("fired", [])
    run(ctx, store(ctx, payload("T-2", "time.logged", "2026-11-23T11:30:00+02:00",
                                time_entry={"id": "te-2", "minutes": 20}), "t3"))
    st, m, _ = facts(ctx, "T-2")
    assert st.logged_minutes == m.logged_minutes == 65
    assert st.facts.get("fired") == ["retype-suggestion"]
    assert st.time_entries == (("te-1", 45), ("te-2", 20))


def test_time_updated_and_deleted_by_id(ctx: Context) -> None:
    def ev(kind: str, hhmm: str, eid: str, minutes: int, key: str) -> int:
        return store(ctx, payload("T-3", kind, f"2026-11-23T{hhmm}:00+02:00",
                                  time_entry={"id": eid, "minutes": minutes}), key)

    run(ctx, store(ctx, payload("T-3", "ticket.created", "2026-11-23T10:00:00+02:00",
                                actor="client"), "u0"),
        ev("time.logged", "10:30", "e1", 30, "u1"), ev("time.logged", "10:40", "e2", 45, "u2"))
    assert facts(ctx, "T-3")[0].logged_minutes == 75
    run(ctx, ev("time.updated", "10:50", "e2", 60, "u3"),
        ev("time.updated", "10:50", "e2", 60, "u3-again"))
    st, m, _ = facts(ctx, "T-3")
    assert st.logged_minutes == m.logged_minutes == 90
    run(ctx, ev("time.deleted", "11:00", "e1", 30, "u4"),
        ev("time.deleted", "11:00", "e1", 30, "u4-again"))
    st, m, _ = facts(ctx, "T-3")
    assert st.logged_minutes == m.logged_minutes == 60
    assert st.time_entries == (("e2", 60),)
    # an update of an entry never logged here logs its minutes
    run(ctx, ev("time.updated", "11:10", "e9", 15, "u5"))
    assert facts(ctx, "T-3")[0].logged_minutes == 75


# -- Freshdesk: a delivered total, the poll's entry ------------------------------------------

@pytest.fixture
def fd(db_url: str, tmp_path: Path) -> Iterator[Context]:
    c = connections_context(db_url, [
        {"name": "fd", "kind": "freshdesk", "base_url": "https://acme.fd.example",
         "credentials": {"api_key": "k"}, "webhook_secrets": ["fd-secret-1"],
         "company_from": {"source": "organization", "map": {"ACME Ltd": "acme"}},
         "options": {"timezone": "Europe/Kyiv"}}], var_dir=str(tmp_path / "var"))
    buy(c, "acme", 10, datetime(2026, 11, 20, tzinfo=UTC))
    yield c
    c.close()


def api_ticket(tid: str) -> dict[str, Any]:
    """The ticket as Freshdesk's API answers (what the poll renders its bodies from)."""
    return {"id": int(tid), "subject": "Report totals are wrong", "status": 2, "priority": 2,
            "source": 1, "tags": [], "description_text": "Shows 0.",
            "created_at": "2026-11-23T08:00:00Z", "updated_at": "2026-11-23T10:30:00Z",
            "requester_id": 43000001,
            "requester": {"id": 43000001, "email": "olena@acme.example", "name": "Olena Koval"},
            "company": {"id": 31, "name": "ACME Ltd"}, "custom_fields": {}}


def delivered(tid: str, fixture: str, kyiv: str, total: str | None = None) -> bytes:
    """The automation's own body (template v2) for ticket ``tid`` at ``kyiv`` local time."""
    body = json.loads((FIX / fixture).read_text())
    body["ticket"].update(id=tid, modified_on=f"2026-11-23 {kyiv}:00")
    body["ticket"]["custom_fields"] = {}
    if total is not None:
        body["ticket"]["total_time_spent"] = total
    return json.dumps(body).encode()


def polled_entry(c: Context, tid: str, eid: int, utc: str, spent: str, total: int) -> bytes:
    conn = c.settings.connection("fd")
    entry = {"id": eid, "agent_id": 8, "time_spent": spent, "timer_running": False}
    return json.dumps(freshdesk_item_payload(conn, api_ticket(tid), at=f"2026-11-23T{utc}:00Z",
                                             entry=entry, total_minutes=total)).encode()


def polled_reply(c: Context, tid: str, utc: str, text: str) -> bytes:
    conn = c.settings.connection("fd")
    note = {"id": 2, "user_id": 43000001, "body": f"<div>{text}</div>", "body_text": text,
            "incoming": True, "private": False, "source": 0,
            "created_at": f"2026-11-23T{utc}:00Z"}
    return json.dumps(freshdesk_item_payload(conn, api_ticket(tid), at=f"2026-11-23T{utc}:00Z",
                                             conversation=note)).encode()


def put(c: Context, body: bytes, key: str | None = None) -> int:
    """Store a Freshdesk body as the receiver (or, with ``key``, the poll) stores it."""
    conn = c.settings.connection("fd")
    assert conn is not None
    (ev,) = ADAPTERS["freshdesk"].parse(body, {}, conn)
    with c.db.session() as s:
        row = Event(connection="fd", delivery_key=key or ev.delivery_key, body_sha256="x" * 64,
                    received_at=NOW, headers={}, body=body, event_type=ev.event,
                    ticket_id=ev.ticket.id, occurred_at=ev.occurred_at,
                    state=EventState.QUEUED, attempts=0)
        s.add(row)
    return row.id


def logged(c: Context, tid: str) -> int:
    st, m, _ = facts(c, tid, "fd")
    assert st.logged_minutes == m.logged_minutes
    return st.logged_minutes


def test_freshdesk_total_then_entry_counts_once(fd: Context) -> None:
    # the webhook (total 00:45 after the entry) first, the poll's entry 45 minutes later
    run(fd, put(fd, delivered("1501", "time_logged.json", "12:25", "00:45")))
    assert logged(fd, "1501") == 45
    run(fd, put(fd, polled_entry(fd, "1501", 11, "10:25", "00:45", 45), "poll:1501:time:11"))
    assert logged(fd, "1501") == 45
    st, _, _ = facts(fd, "1501", "fd")
    assert st.time_entries == (("time-11", 45),)


def test_freshdesk_entry_then_total_counts_once(fd: Context) -> None:
    # the poll stored the entry first; Freshdesk's retry of the webhook arrives an hour later
    run(fd, put(fd, polled_entry(fd, "1502", 11, "10:25", "00:45", 45), "poll:1502:time:11"))
    assert logged(fd, "1502") == 45
    run(fd, put(fd, delivered("1502", "time_logged.json", "12:25", "00:45")))
    assert logged(fd, "1502") == 45


def test_freshdesk_any_order_of_totals_and_entries_ends_at_the_last_total(fd: Context) -> None:
    """Entries of 30 and 45 minutes: two webhooks (totals 00:30, 01:15) and the poll's two
    entries, any subset in any order, count the highest total they reported."""
    n = 0
    for size in range(1, 5):
        for chosen in itertools.permutations(range(4), size):
            n += 1
            tid = str(2000 + n)
            bodies = [(delivered(tid, "time_logged.json", "12:30", "00:30"), None),
                      (delivered(tid, "time_logged.json", "12:45", "01:15"), None),
                      (polled_entry(fd, tid, 1, "10:30", "00:30", 30), f"poll:{tid}:time:1"),
                      (polled_entry(fd, tid, 2, "10:45", "00:45", 75), f"poll:{tid}:time:2")]
            ids = [put(fd, *bodies[i]) for i in chosen]
            run(fd, *ids)
            want = max((30, 75, 30, 75)[i] for i in chosen)
            assert logged(fd, tid) == want, [("D1", "D2", "P1", "P2")[i] for i in chosen]
    assert n == 64


def test_freshdesk_a_late_entry_behind_a_newer_body_without_total_counts_once(
        fd: Context) -> None:
    # the webhook's total, then a polled reply (whose body has no total), then the entry:
    # older than the reply, so late; it is still covered by the total it reports
    run(fd, put(fd, delivered("1503", "time_logged.json", "12:25", "00:45")),
        put(fd, polled_reply(fd, "1503", "10:40", "Any news?"), "poll:1503:conversation:2"),
        put(fd, polled_entry(fd, "1503", 11, "10:25", "00:45", 45), "poll:1503:time:11"))
    assert logged(fd, "1503") == 45


def test_freshdesk_a_polled_reply_and_its_late_webhook_count_once(fd: Context) -> None:
    run(fd,
        put(fd, polled_reply(fd, "1504", "09:15", "It also happens for February."),
            "poll:1504:conversation:2"),
        # Freshdesk's retry of the reply's own webhook (its time rendered in whole minutes)
        put(fd, delivered("1504", "comment_added.json", "11:16")))
    _, m, _ = facts(fd, "1504", "fd")
    assert m.messages_client == 2  # the opening request and the reply
    # a different reply minutes later is a second message
    run(fd, put(fd, polled_reply(fd, "1504", "09:20", "And for January."),
                "poll:1504:conversation:3"))
    assert facts(fd, "1504", "fd")[1].messages_client == 3
