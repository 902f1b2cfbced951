"""Redmine adapter on bodies captured from Redmine 5.0.4 (Debian) with our deskpilot_webhooks
plugin (tests/fixtures/redmine/plugin5_*.json), and the Redmine poll's bodies."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from plugin.reconcile.bodies import redmine_bodies
from plugin.reconcile.seen import Seen
from plugin.settings import CompanyFrom, Connection
from webhooks.hosts import redmine

FIX = Path(__file__).parent.parent / "fixtures" / "redmine"
CONN = Connection(
    name="rm", kind="redmine", plugin_user_id="5",
    company_from=CompanyFrom(source="project", map={"Acme Ltd": "acme"}),
    field_map={"inbound": {"Task type": "task_type", "Units": "units",
                           "Accept by": "accept_due"}},
)


def body(name: str) -> bytes:
    return (FIX / f"{name}.json").read_bytes()


def test_plugin_issue_created_is_the_clients_new_ticket_in_the_projects_company() -> None:
    (ev,) = redmine.parse(body("plugin5_issue_created"), {}, CONN)
    assert ev.event == "ticket.created"
    assert ev.delivery_key == "issue-1-issue.created-2026-12-05T05:37:50Z"
    t = ev.ticket
    assert (t.id, t.status, t.priority, t.subject) == ("1", "new", "normal", "Export price list")
    assert t.company is not None and (t.company.id, t.company.name) == ("acme", "Acme Ltd")
    assert t.created_at == datetime(2026, 12, 5, 5, 37, 50, tzinfo=UTC)
    assert t.custom_fields["task_type"] is None and "Balance" in t.custom_fields
    assert (ev.actor.kind, ev.actor.id) == ("client", "7") and not ev.own_write


def test_plugin_private_note_stays_internal_and_is_the_agents() -> None:
    (ev,) = redmine.parse(body("plugin5_private_note"), {}, CONN)
    assert ev.event == "ticket.commented" and ev.delivery_key == "issue-1-journal-1-20261205T053751"
    assert ev.comment is not None and not ev.comment.public
    assert ev.comment.body == "private thought"
    assert (ev.actor.kind, ev.actor.id, ev.actor.name) == ("agent", "6", "Alice Agent")


def test_a_journal_by_the_issues_author_is_the_client_speaking() -> None:
    data = json.loads(body("plugin5_private_note"))
    data["data"]["journal"].update(user={"id": 7, "name": "Client Acme Ltd"},
                                   notes="Any news?", private_notes=False)
    (ev,) = redmine.parse(json.dumps(data).encode(), {}, CONN)
    assert ev.comment is not None and ev.comment.public
    assert ev.actor.kind == "client"


def test_redmine_7_core_journal_without_private_notes_reads_as_public() -> None:
    data = json.loads(body("plugin5_private_note"))
    del data["data"]["journal"]["private_notes"]  # Redmine 7.0 core leaves it out
    (ev,) = redmine.parse(json.dumps(data).encode(), {}, CONN)
    assert ev.comment is not None and ev.comment.public


def test_plugin_time_entry_is_logged_time_on_the_issue() -> None:
    (ev,) = redmine.parse(body("plugin5_time_entry"), {}, CONN)
    assert ev.event == "time.logged"
    assert ev.delivery_key == "time-1-created-2026-12-05T05:37:51Z"
    assert ev.time_entry is not None and (ev.time_entry.minutes, ev.time_entry.id) == (90, "1")
    assert ev.ticket.id == "1" and ev.ticket.company is not None
    assert ev.ticket.company.id == "acme"


def test_support_team_statuses_map_without_configuration() -> None:
    data = json.loads(body("plugin5_issue_created"))
    for name, ours in (("Accepted", "accepted"), ("Waiting for client", "waiting_client"),
                       ("In Progress", "in_progress"), ("Resolved", "resolved")):
        data["data"]["issue"]["status"]["name"] = name
        (ev,) = redmine.parse(json.dumps(data).encode(), {}, CONN)
        assert ev.ticket.status == ours, name


def _issue(**extra: Any) -> dict[str, Any]:
    issue: dict[str, Any] = json.loads(body("plugin5_issue_created"))["data"]["issue"]
    issue.update(extra)
    return issue


def _kinds(bodies: list[Any]) -> list[tuple[str, str | None]]:
    out = []
    for b in bodies:
        data = json.loads(b.body)
        out.append((data["type"], (data["data"].get("journal") or {}).get("id")))
    return out


SINCE = datetime(2026, 12, 5, 5, 0, tzinfo=UTC)


def test_poll_of_a_new_issue_is_its_creation_with_the_webhooks_key() -> None:
    (b,) = redmine_bodies(CONN, _issue(journals=[]), SINCE, Seen())
    (ev,) = redmine.parse(b.body, b.headers, CONN)
    webhook = redmine.parse(body("plugin5_issue_created"), {}, CONN)[0]
    assert ev.event == "ticket.created" and ev.delivery_key == webhook.delivery_key


def test_poll_turns_each_journal_into_the_webhooks_event_skipping_our_own() -> None:
    journals = [
        {"id": 3, "user": {"id": 6, "name": "Alice Agent"}, "notes": "Taking it",
         "created_on": "2026-12-05T05:40:00Z", "private_notes": False,
         "details": [{"property": "attr", "name": "status_id", "old_value": "1",
                      "new_value": "2"}]},
        {"id": 4, "user": {"id": 5, "name": "Deskpilot Bot"}, "notes": "Accepted",
         "created_on": "2026-12-05T05:40:01Z", "private_notes": False, "details": []},
        {"id": 1, "user": {"id": 6, "name": "Alice Agent"}, "notes": "old",
         "created_on": "2026-12-05T04:00:00Z", "private_notes": True, "details": []},
    ]
    issue = _issue(updated_on="2026-12-05T05:40:01Z", journals=journals)
    bodies = redmine_bodies(CONN, issue, SINCE, Seen())
    assert _kinds(bodies) == [("issue.created", None), ("issue.updated", 3)]
    ev = redmine.parse(bodies[1].body, bodies[1].headers, CONN)[0]
    assert ev.delivery_key == "issue-1-journal-3-20261205T054000" and ev.actor.kind == "agent"
    assert ev.changes == {"status_id": ("1", "2")}
    assert "journals" not in json.loads(bodies[1].body)["data"]["issue"]


def test_poll_without_journals_in_the_window_is_a_snapshot_and_the_import_a_creation() -> None:
    issue = _issue(created_on="2026-12-01T08:00:00Z", updated_on="2026-12-05T05:30:00Z",
                   journals=[])
    assert _kinds(redmine_bodies(CONN, issue, SINCE, Seen())) == [("issue.updated", None)]
    assert _kinds(redmine_bodies(CONN, issue, None, Seen())) == [("issue.created", None)]
    unchanged = _issue(created_on="2026-12-01T08:00:00Z", updated_on="2026-12-01T08:00:00Z")
    assert redmine_bodies(CONN, unchanged, SINCE, Seen()) == []


class _TimeClient:
    def __init__(self, entries: list[dict[str, Any]]):
        self.entries = entries

    def ticket_time_entries(self, ticket_id: str) -> list[dict[str, Any]]:
        return self.entries


def test_poll_rebuilds_time_entries_with_the_webhooks_keys_skipping_our_own() -> None:
    from plugin.reconcile.items import Window, redmine_items

    entry = json.loads(body("plugin5_time_entry"))["data"]["time_entry"]
    changed = {**entry, "id": 2, "hours": 0.75, "updated_on": "2026-12-05T05:50:00Z"}
    ours = {**entry, "id": 3, "user": {"id": 5, "name": "Deskpilot Bot"}}
    older = {**entry, "id": 4, "created_on": "2026-12-04T08:00:00Z",
             "updated_on": "2026-12-04T08:00:00Z"}
    other_issue = {**entry, "id": 5, "issue": {"id": 99}}
    window = Window(SINCE, datetime(2026, 12, 5, 6, 0, tzinfo=UTC))
    items = redmine_items(_TimeClient([changed, entry, ours, older, other_issue]), CONN,
                          {"id": 1}, window)
    assert [(i.body.key, i.own) for i in items] == [
        ("time-1-created-2026-12-05T05:37:51Z", False),
        ("time-3-created-2026-12-05T05:37:51Z", True),
        ("time-2-updated-2026-12-05T05:50:00Z", False),
    ]
    (first,) = redmine.parse(items[0].body.body, items[0].body.headers, CONN)
    (webhook,) = redmine.parse(body("plugin5_time_entry"), {}, CONN)
    assert first.delivery_key == webhook.delivery_key == items[0].body.key
    (updated,) = redmine.parse(items[2].body.body, items[2].body.headers, CONN)
    assert updated.event == "time.updated" and updated.time_entry is not None
    assert updated.time_entry.minutes == 45


def test_a_reused_journal_id_of_a_deleted_issue_is_a_new_delivery() -> None:
    """Redmine on SQLite gives a new issue's journal the id of a deleted issue's (seen in
    tests/e2e/redmine): the key carries the journal's instant, so the new note is stored,
    not refused as a conflict; a redelivery of the same journal keeps its key."""
    data = json.loads(body("plugin5_private_note"))
    first = redmine.parse(json.dumps(data).encode(), {}, CONN)[0]
    data["data"]["journal"]["created_on"] = "2026-12-06T09:00:00Z"
    data["data"]["journal"]["notes"] = "A different note, a day later"
    reused = redmine.parse(json.dumps(data).encode(), {}, CONN)[0]
    assert first.delivery_key != reused.delivery_key
    assert reused.delivery_key == f"issue-{reused.ticket.id}-journal-1-20261206T090000"
    assert redmine.parse(json.dumps(data).encode(), {}, CONN)[0].delivery_key == \
        reused.delivery_key
