"""Polls store what was added to an updated ticket while its webhooks were lost: comments,
replies, notes and time logs, one event per item, keyed per item, own ones skipped."""

from __future__ import annotations

import json
import random
import re
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import responses
from responses import matchers
from sqlalchemy import select

from plugin.context import Context
from plugin.processing.process import process_event
from plugin.processing.state import ticket_state
from plugin.reconcile.items import Window, settle
from plugin.reconcile.poll import import_open, reconcile
from plugin.settings import Connection
from plugin.storage.models import Event, Ticket
from rules.event import EventType, TicketEvent, TimeEntry
from tests.reconcile_support import ACME, FD, FIX, NOW, SINCE, ZD, ZM, reconcile_context
from webhooks.hosts import ADAPTERS
from webhooks.store import store_and_enqueue

CONNECTIONS = [
    {"name": "zd", "kind": "zendesk", "base_url": ZD, "plugin_user_id": 900,
     "credentials": {"email": "bot@acme.example", "api_token": "ztok"},
     "company_from": {"source": "organization"},
     "field_map": {"task_type": 101, "units": 102, "time_total": 201, "time_last": 202}},
    {"name": "fd", "kind": "freshdesk", "base_url": FD, "plugin_user_id": 77,
     "credentials": {"api_key": "fdkey"}, "company_from": ACME,
     "options": {"timezone": "Europe/Kyiv"},
     "field_map": {"task_type": "cf_task_type", "units": "cf_units"}},
    {"name": "zm", "kind": "zammad", "base_url": ZM, "plugin_user_id": 7,
     "credentials": {"token": "t"}, "company_from": ACME,
     "field_map": {"inbound": {"deskpilot_task_type": "task_type",
                               "deskpilot_units": "units"}}},
]


@pytest.fixture
def ctx(sqlite_url: str, redis_url: str, tmp_path: Path) -> Iterator[Context]:
    yield from reconcile_context(sqlite_url, redis_url, tmp_path, CONNECTIONS, acme_tasks=10)


def at(hhmm: str) -> str:
    return f"2026-11-23T{hhmm}:00Z"


def conn(ctx: Context, name: str) -> Connection:
    found = ctx.settings.connection(name)
    assert found is not None
    return found


ITEM_KEY = re.compile(r"poll:\d+:(comment|time|conversation|article):\d+")


def stored(ctx: Context) -> dict[str, TicketEvent]:
    """Stored items (not snapshots) by delivery key, re-parsed as processing parses them."""
    with ctx.db.session() as s:
        rows = s.execute(select(Event)).scalars().all()
        out = {}
        for r in rows:
            if ITEM_KEY.fullmatch(r.delivery_key):
                (ev,) = ADAPTERS[conn(ctx, r.connection).kind].parse(
                    r.body, r.headers or {}, conn(ctx, r.connection))
                out[r.delivery_key] = ev
        return out


def process_all(ctx: Context) -> None:
    with ctx.db.session() as s:
        ids = s.execute(select(Event.id).where(Event.state == "queued")
                        .order_by(Event.id)).scalars().all()
    for event_id in ids:
        assert process_event(event_id, NOW) == "processed"


def state(ctx: Context, connection: str, ticket_id: str) -> Any:
    with ctx.db.session() as s:
        row = s.execute(select(Ticket).where(Ticket.connection == connection,
                                             Ticket.host_ticket_id == ticket_id)).scalar_one()
        return ticket_state(row)


def deliver(ctx: Context, connection: str, body: bytes, headers: dict[str, str]) -> None:
    """The host's own webhook, stored as the receiver stores it."""
    events = ADAPTERS[conn(ctx, connection).kind].parse(body, headers, conn(ctx, connection))
    store_and_enqueue(ctx, connection, events[0].delivery_key, body, headers, events)


# -- Zendesk ---------------------------------------------------------------------------------

def zd_ticket(**over: Any) -> dict[str, Any]:
    return {"id": 4711, "subject": "Report totals are wrong", "status": "open",
            "description": "The monthly report shows 0 for March.", "priority": "normal",
            "type": "incident", "via": {"channel": "email"}, "tags": [],
            "created_at": at("08:00"), "updated_at": at("10:30"), "requester_id": 377,
            "assignee_id": 901, "organization_id": 360012,
            "custom_fields": [{"id": 101, "value": "simple"}, {"id": 102, "value": "1"},
                              {"id": 201, "value": "3900"}, {"id": 202, "value": "600"}],
            "requester": {"id": 377, "email": "olena@acme.example"},
            "organization": {"id": 360012, "external_id": "acme", "name": "ACME Ltd"}, **over}


def zd_comment(cid: int, when: str, author: int, body: str, public: bool = True) -> dict[str, Any]:
    return {"id": cid, "type": "Comment", "author_id": author, "body": body, "public": public,
            "created_at": at(when)}


def zd_audit(aid: int, when: str, author: int, *events: dict[str, Any]) -> dict[str, Any]:
    return {"id": aid, "ticket_id": 4711, "created_at": at(when), "author_id": author,
            "events": list(events)}


def zd_total(before: int, after: int) -> dict[str, Any]:
    return {"type": "Change", "field_name": "201", "previous_value": str(before),
            "value": str(after)}


def zd_host(ticket: dict[str, Any], comments: list[dict[str, Any]],
            audits: list[dict[str, Any]]) -> None:
    """Zendesk's answers: the incremental export, List Comments (newest first, authors
    sideloaded), List Audits and Show Many Users."""
    responses.get(f"{ZD}/api/v2/incremental/tickets/cursor.json",
                  json={"tickets": [ticket], "end_of_stream": True})
    responses.get(f"{ZD}/api/v2/tickets/4711/comments", json={
        "comments": sorted(comments, key=lambda c: c["created_at"], reverse=True),
        "users": [{"id": 377, "role": "end-user"}, {"id": 900, "role": "agent"}],
        "meta": {"has_more": False}},
        match=[matchers.query_param_matcher(
            {"sort": "-created_at", "include": "users", "page[size]": "100"})])
    responses.get(f"{ZD}/api/v2/tickets/4711/audits",
                  json={"audits": audits, "meta": {"has_more": False}})
    responses.get(f"{ZD}/api/v2/users/show_many.json", json={"users": [
        {"id": 902, "role": "agent"}]}, match=[matchers.query_param_matcher({"ids": "902"})])


@responses.activate
def test_zendesk_poll_stores_a_lost_client_reply_and_time_log_once(ctx: Context) -> None:
    comments = [zd_comment(1, "08:00", 377, "The monthly report shows 0 for March."),
                zd_comment(2, "08:30", 901, "Looking into it."),  # before since
                zd_comment(3, "10:20", 377, "It also happens for February."),
                zd_comment(4, "10:25", 900, "[Deskpilot] Accepted.", public=False)]  # ours
    audits = [zd_audit(50, "08:00", 377, {"type": "Create", "field_name": "subject"}),
              zd_audit(51, "08:40", 902, zd_total(0, 600)),  # before since
              zd_audit(52, "10:25", 902, zd_total(600, 3300),
                       {"type": "Change", "field_name": "202", "value": "2700"}),
              zd_audit(53, "10:26", 900, zd_total(3300, 3900))]  # our own time push
    zd_host(zd_ticket(), comments, audits)
    report = reconcile(ctx, "zd", SINCE, NOW)
    assert not report.errors
    assert report.outcomes == {"queued": 3, "skipped-own": 2}  # the snapshot and two items
    items = stored(ctx)
    assert sorted(items) == ["poll:4711:comment:3", "poll:4711:time:52"]
    reply, logged = items["poll:4711:comment:3"], items["poll:4711:time:52"]
    assert reply.event == EventType.COMMENTED and reply.occurred_at == datetime.fromisoformat(
        at("10:20"))
    assert reply.comment is not None and reply.comment.public
    assert reply.comment.author.kind == "client" and reply.comment.author.id == "377"
    assert reply.comment.body == "It also happens for February."
    assert logged.event == EventType.TIME_LOGGED and logged.time_entry is not None
    assert (logged.time_entry.minutes, logged.time_entry.agent_id) == (45, "902")
    assert logged.actor.kind == "agent"
    # processing: the reply resets the auto-close clock, the 45 minutes are logged
    process_all(ctx)
    st = state(ctx, "zd", "4711")
    assert st.last_client_activity_at == datetime.fromisoformat(at("10:20"))
    assert st.logged_minutes == 45
    # the next poll finds the same items: duplicates, nothing new to process
    again = reconcile(ctx, "zd", SINCE, NOW)
    assert again.outcomes == {"skipped-processed": 1, "duplicate": 2, "skipped-own": 2}
    assert len(stored(ctx)) == 2


@responses.activate
def test_zendesk_items_a_delivered_webhook_carried_are_not_stored_again(ctx: Context) -> None:
    real = (FIX / "zendesk" / "comment_added.json").read_bytes()  # updated_at 09:15
    deliver(ctx, "zd", real, json.loads((FIX / "zendesk" / "headers.json").read_text()))
    comments = [zd_comment(3, "09:15", 377, "It also happens\n for February. "),
                zd_comment(5, "09:16", 377, "And for January.")]
    zd_host(zd_ticket(updated_at=at("09:20")), comments, [])
    report = reconcile(ctx, "zd", SINCE, NOW)
    # the snapshot and the second reply are new; the first reply came with the webhook
    assert report.outcomes == {"queued": 2, "skipped-delivered": 1}
    assert list(stored(ctx)) == ["poll:4711:comment:5"]


@responses.activate
def test_zendesk_comments_429_is_waited_out_and_a_failing_5xx_ends_the_pass(
        ctx: Context) -> None:
    zd_host(zd_ticket(), [], [])
    url = f"{ZD}/api/v2/tickets/4711/comments"
    responses.replace(responses.GET, url, status=429, headers={"Retry-After": "3"})
    responses.add(responses.GET, url, json={"comments": [zd_comment(3, "10:20", 377, "Hi")],
                                            "users": [{"id": 377, "role": "end-user"}]})
    sleeps: list[float] = []
    report = reconcile(ctx, "zd", SINCE, NOW, sleep=sleeps.append, rng=random.Random(2))
    assert not report.errors and sleeps and sleeps[0] >= 3
    assert "poll:4711:comment:3" in stored(ctx)
    # a host that keeps failing: the pass ends with the error, the snapshot stays stored
    responses.replace(responses.GET, url, status=503)
    report = reconcile(ctx, "zd", SINCE, NOW + timedelta(minutes=10), sleep=lambda s: None)
    assert report.errors and "503" in report.errors[0]


# -- Freshdesk -------------------------------------------------------------------------------

def fd_ticket() -> dict[str, Any]:
    return {"id": 1501, "subject": "Report totals are wrong", "status": 2, "priority": 2,
            "source": 1, "type": "Incident", "tags": [], "description_text": "Shows 0.",
            "created_at": at("08:00"), "updated_at": at("10:30"), "requester_id": 43000001,
            "responder_id": None, "company_id": 31,
            "requester": {"id": 43000001, "email": "olena@acme.example"},
            "company": {"id": 31, "name": "ACME Ltd"},
            "custom_fields": {"cf_task_type": "simple", "cf_units": 1}}


def fd_note(nid: int, when: str, user: int, text: str, *, incoming: bool = False,
            private: bool = False) -> dict[str, Any]:
    return {"id": nid, "ticket_id": 1501, "user_id": user, "body": f"<div>{text}</div>",
            "body_text": text, "incoming": incoming, "private": private, "source": 0,
            "created_at": at(when), "updated_at": at(when)}


def fd_entry(eid: int, when: str, agent: int, spent: str, running: bool = False) -> dict[str, Any]:
    return {"id": eid, "ticket_id": 1501, "agent_id": agent, "time_spent": spent,
            "timer_running": running, "billable": True, "note": "",
            "created_at": at(when), "updated_at": at(when), "executed_at": at(when)}


def fd_host(notes: list[dict[str, Any]], entries: list[dict[str, Any]]) -> None:
    page = matchers.query_param_matcher({"per_page": "100", "page": "1"})
    responses.get(f"{FD}/api/v2/tickets", json=[fd_ticket()])
    responses.get(f"{FD}/api/v2/tickets/1501/conversations", json=notes, match=[page])
    responses.get(f"{FD}/api/v2/tickets/1501/time_entries", json=entries, match=[page])


@responses.activate
def test_freshdesk_poll_stores_lost_replies_notes_and_time_entries_once(
        ctx: Context) -> None:
    fd_host([fd_note(1, "08:30", 8, "Looking into it."),  # before since
             fd_note(2, "10:20", 43000001, "It also happens for February.", incoming=True),
             fd_note(3, "10:22", 8, "Report query is wrong.", private=True),
             fd_note(4, "10:24", 77, "[Deskpilot] Accepted.", private=True)],  # ours
            [fd_entry(10, "08:30", 8, "00:30"), fd_entry(11, "10:25", 8, "00:45"),
             fd_entry(12, "10:00", 8, "00:10", running=True),  # a timer still running
             fd_entry(13, "10:26", 77, "00:15")])  # our own time push
    report = reconcile(ctx, "fd", SINCE, NOW)
    assert not report.errors
    assert report.outcomes == {"queued": 4, "skipped-own": 2}
    items = stored(ctx)
    assert sorted(items) == ["poll:1501:conversation:2", "poll:1501:conversation:3",
                             "poll:1501:time:11"]
    reply = items["poll:1501:conversation:2"]
    assert reply.event == EventType.COMMENTED and reply.comment is not None
    assert reply.comment.public and reply.comment.body == "It also happens for February."
    assert reply.comment.author.kind == "client" == reply.actor.kind
    assert reply.comment.author.id == "43000001"
    assert reply.occurred_at == datetime.fromisoformat(at("10:20"))
    note = items["poll:1501:conversation:3"]
    assert note.comment is not None and not note.comment.public
    assert note.comment.body == "Report query is wrong." and note.comment.author.kind == "agent"
    logged = items["poll:1501:time:11"]
    # the automation's {{ticket.total_time_spent}} after the entry: 30 + 45 minutes
    assert logged.event == EventType.TIME_LOGGED
    assert logged.ticket.custom_fields["time_spent_total_minutes"] == 75
    assert logged.time_entry == TimeEntry(id="time-11", minutes=45, agent_id="8")
    # processing: the client's reply resets the auto-close clock; time counts by the total
    # after the entry (rules.items), so the 30 minutes logged before the window count too
    process_all(ctx)
    st = state(ctx, "fd", "1501")
    assert st.last_client_activity_at == datetime.fromisoformat(at("10:20"))
    assert st.logged_minutes == 75
    again = reconcile(ctx, "fd", SINCE, NOW)
    assert again.outcomes == {"skipped-processed": 1, "duplicate": 3, "skipped-own": 2}


@responses.activate
def test_freshdesk_a_delivered_time_log_leaves_its_minutes_to_the_poll(ctx: Context) -> None:
    """Freshdesk's webhook renders the ticket's total only, so the polled entry is stored
    even next to a delivered ``time.logged`` of the same total, and counted once."""
    real = json.loads((FIX / "freshdesk" / "time_logged.json").read_text())
    real["ticket"]["modified_on"] = "2026-11-23 12:25:00"  # Kyiv time: 10:25 UTC
    deliver(ctx, "fd", json.dumps(real).encode(), {})
    fd_host([], [fd_entry(11, "10:25", 8, "00:45")])
    report = reconcile(ctx, "fd", SINCE, NOW)
    assert "skipped-delivered" not in report.outcomes
    assert list(stored(ctx)) == ["poll:1501:time:11"]
    process_all(ctx)
    assert state(ctx, "fd", "1501").logged_minutes == 45


@responses.activate
def test_freshdesk_a_delivered_private_note_is_not_stored_again(ctx: Context) -> None:
    real = json.loads((FIX / "freshdesk" / "private_note_added.json").read_text())
    real["ticket"]["modified_on"] = "2026-11-23 12:22:00"  # Kyiv time: 10:22 UTC
    deliver(ctx, "fd", json.dumps(real).encode(), {})
    fd_host([fd_note(3, "10:22", 8, "The report query filters on the wrong month.",
                     private=True)], [])
    report = reconcile(ctx, "fd", SINCE, NOW)
    assert report.outcomes.get("skipped-delivered") == 1 and stored(ctx) == {}


@responses.activate
def test_freshdesk_item_calls_wait_out_429_and_a_delivered_reply_is_not_stored_again(
        ctx: Context) -> None:
    fd_host([], [])
    real = json.loads((FIX / "freshdesk" / "comment_added.json").read_text())
    real["ticket"]["modified_on"] = "2026-11-23 12:20:00"  # Kyiv time: 10:20 UTC
    deliver(ctx, "fd", json.dumps(real).encode(), {})
    url = f"{FD}/api/v2/tickets/1501/conversations"
    responses.replace(responses.GET, url, status=429, headers={"Retry-After": "5"})
    responses.add(responses.GET, url, json=[
        fd_note(2, "10:21", 43000001, "It also happens for February.", incoming=True)])
    sleeps: list[float] = []
    report = reconcile(ctx, "fd", SINCE, NOW, sleep=sleeps.append, rng=random.Random(3))
    assert not report.errors and sleeps and sleeps[0] >= 5
    assert report.outcomes["skipped-delivered"] == 1 and stored(ctx) == {}


# -- Zammad ----------------------------------------------------------------------------------

def zm_ticket(**over: Any) -> dict[str, Any]:
    t = json.loads((FIX / "zammad" / "comment_added.json").read_text())["ticket"]
    return {**t, "updated_at": "2026-11-23T10:30:00.000Z", "article_count": 5,
            "time_unit": "35.0", **over}


def zm_article(aid: int, when: str, user: int, sender: str, body: str,
               internal: bool = False) -> dict[str, Any]:
    """As ``GET /api/v1/ticket_articles/by_ticket/{id}`` answers: associations as names."""
    return {"id": aid, "ticket_id": 81, "type": "note" if internal else "email",
            "sender": sender, "internal": internal, "body": body,
            "content_type": "text/html", "created_by_id": user, "created_by": f"user{user}",
            "updated_by_id": user, "updated_by": f"user{user}",
            "created_at": f"2026-11-23T{when}:00.300Z", "updated_at": f"2026-11-23T{when}:00.300Z"}


def zm_host(articles: list[dict[str, Any]], accountings: list[dict[str, Any]],
            **ticket: Any) -> None:
    responses.get(f"{ZM}/api/v1/tickets/search", json=[zm_ticket(**ticket)])
    responses.get(f"{ZM}/api/v1/ticket_articles/by_ticket/81", json=articles)
    responses.get(f"{ZM}/api/v1/tickets/81/time_accountings", json=accountings)


ZM_ARTICLES = [zm_article(104, "08:00", 8, "Customer", "The monthly report shows 0."),
               zm_article(105, "10:20", 8, "Customer", "It also happens for February."),
               zm_article(106, "10:25", 5, "Agent", "Found it.", internal=True),
               zm_article(107, "10:26", 7, "Agent", "[Deskpilot] Accepted.", internal=True),
               zm_article(108, "11:58", 8, "Customer", "Any news?")]  # within the settle time
ZM_TIME = [{"id": 1, "ticket_id": 81, "ticket_article_id": 106, "time_unit": "15.0",
            "created_by_id": 5, "created_at": "2026-11-23T10:25:00.300Z"},
           {"id": 2, "ticket_id": 81, "ticket_article_id": None, "time_unit": "20.0",
            "created_by_id": 5, "created_at": "2026-11-23T10:27:00.000Z"}]


@responses.activate
def test_zammad_poll_stores_lost_articles_and_time_once(ctx: Context) -> None:
    zm_host(ZM_ARTICLES, ZM_TIME)
    report = reconcile(ctx, "zm", SINCE, NOW)
    assert not report.errors
    assert report.outcomes == {"queued": 4, "skipped-own": 1}
    items = stored(ctx)
    assert sorted(items) == ["poll:81:article:105", "poll:81:article:106", "poll:81:time:2"]
    reply = items["poll:81:article:105"]
    assert reply.event == EventType.COMMENTED and reply.comment is not None
    assert reply.comment.public and reply.comment.author.kind == "client"
    assert reply.comment.id == "105"
    note = items["poll:81:article:106"]
    assert note.event == EventType.TIME_LOGGED and note.comment is not None
    assert not note.comment.public and note.time_entry is not None
    assert (note.time_entry.minutes, note.time_entry.agent_id) == (15, "5")
    loose = items["poll:81:time:2"]
    assert loose.time_entry is not None and loose.time_entry.minutes == 20
    assert loose.comment is not None and not loose.comment.public and loose.comment.body == ""
    process_all(ctx)
    st = state(ctx, "zm", "81")
    assert st.last_client_activity_at == datetime.fromisoformat("2026-11-23T10:20:00.300+00:00")
    assert st.logged_minutes == 35
    # ten minutes later article 108 has settled; everything else is a duplicate
    later = reconcile(ctx, "zm", SINCE, NOW + timedelta(minutes=10))
    assert later.outcomes == {"skipped-processed": 1, "queued": 1, "duplicate": 3,
                              "skipped-own": 1}
    assert "poll:81:article:108" in stored(ctx)


@responses.activate
def test_zammad_an_article_the_webhook_delivered_is_not_stored_again(ctx: Context) -> None:
    real = (FIX / "zammad" / "comment_added.json").read_bytes()  # article 105
    deliver(ctx, "zm", real, {"X-Zammad-Delivery": "job-1"})
    zm_host([zm_article(104, "08:00", 8, "Customer", "Hi"),
             zm_article(105, "09:15", 8, "Customer", "It also happens for February.")], [],
            time_unit=None)
    report = reconcile(ctx, "zm", SINCE, NOW)
    assert report.outcomes.get("skipped-delivered") == 1 and stored(ctx) == {}
    # no time accounted on the ticket: its time accountings are not even read
    assert not any("time_accountings" in c.request.url for c in responses.calls)


@responses.activate
def test_zammad_articles_5xx_then_success_is_retried(ctx: Context) -> None:
    zm_host(ZM_ARTICLES[:2], [], time_unit=None)
    url = f"{ZM}/api/v1/ticket_articles/by_ticket/81"
    responses.replace(responses.GET, url, status=502)
    responses.add(responses.GET, url, status=503)
    responses.add(responses.GET, url, json=ZM_ARTICLES[:2])
    sleeps: list[float] = []
    report = reconcile(ctx, "zm", SINCE, NOW, sleep=sleeps.append, rng=random.Random(4))
    assert not report.errors and len(sleeps) == 2
    assert list(stored(ctx)) == ["poll:81:article:105"]
    assert responses.calls[-1].request.headers["Authorization"] == "Token token=t"


def test_the_window_ends_at_the_hosts_settle_time(ctx: Context) -> None:
    # items younger than the host's own retries wait for the next poll (option overrides)
    assert settle(conn(ctx, "zm")) == timedelta(minutes=7)
    assert settle(conn(ctx, "fd")) == timedelta(0)
    assert settle(replace(conn(ctx, "zd"), options={"reconcile_settle_minutes": 2})) == \
        timedelta(minutes=2)
    window = Window(SINCE, NOW)  # after since, up to and including until
    assert window.holds(at("10:00")) and window.holds(at("12:00"))
    assert not window.holds(at("09:00")) and not window.holds("not a time")


@responses.activate
def test_an_import_reads_no_items(ctx: Context) -> None:
    responses.get(f"{ZM}/api/v1/tickets/search", json=[zm_ticket(state="new")])
    assert import_open(ctx, "zm", NOW).outcomes == {"queued": 1}
    assert len(responses.calls) == 1  # the search only: no articles, no time


@responses.activate
def test_a_ticket_gone_or_unreadable_costs_only_its_own_items(ctx: Context) -> None:
    responses.get(f"{ZM}/api/v1/tickets/search",
                  json=[zm_ticket(time_unit=None), zm_ticket(id=82, time_unit=None)])
    responses.get(f"{ZM}/api/v1/ticket_articles/by_ticket/81", status=404)
    responses.get(f"{ZM}/api/v1/ticket_articles/by_ticket/82", status=403,
                  json={"error": "Not authorized"})
    report = reconcile(ctx, "zm", SINCE, NOW)
    # both snapshots stored; the deleted ticket's items skipped, the refusal reported
    assert report.outcomes == {"queued": 2, "skipped-gone": 1}
    assert len(report.errors) == 1 and "403" in report.errors[0]
    assert "Not authorized" in report.errors[0]


@responses.activate
def test_zendesk_item_reads_follow_cursor_pages_and_read_each_role_once(ctx: Context) -> None:
    from plugin.hosts import make_client

    base = f"{ZD}/api/v2/tickets/4711"
    responses.get(f"{base}/comments", json={
        "comments": [zd_comment(9, "11:00", 377, "c"), zd_comment(8, "10:50", 903, "b")],
        "users": [{"id": 377, "role": "end-user"}],
        "meta": {"has_more": True}, "links": {"next": f"{base}/comments?page[after]=x"}},
        match=[matchers.query_param_matcher(
            {"sort": "-created_at", "include": "users", "page[size]": "100"})])
    responses.get(f"{base}/comments", json={  # an older comment ends the walk here
        "comments": [zd_comment(7, "10:40", 377, "a"), zd_comment(6, "08:00", 377, "old")],
        "meta": {"has_more": True}, "links": {"next": f"{base}/comments?page[after]=y"}},
        match=[matchers.query_param_matcher({"page[after]": "x"})])
    responses.get(f"{base}/audits", json={"audits": [zd_audit(1, "09:00", 377)],
                                          "meta": {"has_more": True},
                                          "links": {"next": f"{base}/audits?page[after]=z"}},
                  match=[matchers.query_param_matcher({"page[size]": "100"})])
    responses.get(f"{base}/audits", json={"audits": [zd_audit(2, "10:00", 903)],
                                          "meta": {"has_more": False}},
                  match=[matchers.query_param_matcher({"page[after]": "z"})])
    responses.get(f"{ZD}/api/v2/users/show_many.json", json={"users": [
        {"id": 903, "role": "admin"}]}, match=[matchers.query_param_matcher({"ids": "903"})])
    with make_client(conn(ctx, "zd")) as client:
        comments = client.ticket_comments("4711", SINCE)
        assert [c["id"] for c in comments] == [9, 8, 7]
        assert [a["id"] for a in client.ticket_audits("4711")] == [1, 2]
        assert client.user_roles([377, 903, None]) == {"377": "end-user", "903": "admin"}
        assert client.user_roles([903]) == {"903": "admin"}
    assert len(responses.calls) == 5  # 903's role read once, 377's came with the comments
