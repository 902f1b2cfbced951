"""Loop guard by author, not by text, where the host gives the author (issue 16, finding 5).

Freshdesk renders a comment as ``"<author name> : <text>"`` (no placeholder gives the
author's id or e-mail); the reconciliation poll knows the conversation's ``user_id``. With
the Deskpilot agent configured per connection (``options.plugin_agent_name`` for webhooks,
``plugin_user_id`` for the poll), a comment counts as Deskpilot's own echo exactly when that
agent wrote it; the ``[Deskpilot]`` text marker decides only where no author is given or
nothing is configured to compare it with.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from plugin.reconcile.template_bodies import freshdesk_item_payload
from plugin.settings import Connection
from tests.integration.test_receiver_security import HOSTS, make_stack, send
from webhooks.hosts import freshdesk

ROOT = Path(__file__).resolve().parents[2]
FIX = ROOT / "tests" / "fixtures" / "freshdesk"
ZONE = {"timezone": "Europe/Kyiv"}
AGENT = "Deskpilot Bot"
FRESHDESK = next(h for h in HOSTS if h.kind == "freshdesk")


def _body(name: str, **top: Any) -> dict[str, Any]:
    data = json.loads((FIX / f"{name}.json").read_text())
    data.update(top)
    return data


def _reply(text: str) -> dict[str, Any]:
    """A public reply as Freshdesk renders it (``{reply_sent:sent}``)."""
    return _body("comment_added", latest_public_comment=text)


def _note(text: str) -> dict[str, Any]:
    """A private note (``{note_type:private}``): only agents add notes."""
    return _body("own_user_echo", latest_private_comment=text)


def _own(data: dict[str, Any], **options: Any) -> bool:
    conn = Connection(name="fd", kind="freshdesk", options={**ZONE, **options})
    (event,) = freshdesk.parse(json.dumps(data).encode(), {}, conn)
    return event.own_write


CLIENT = "Olena Koval : [Deskpilot] please do not ignore me"
CC_CONTACT = "Marta Shevchenko : [Deskpilot] I am in CC and I answer too"
OTHER_AGENT = "Ihor : [Deskpilot] Deadline: 2026-11-24 17:00"


@pytest.fixture
def receiver(tmp_path, sqlite_url, redis_url):
    """The receiver with the Deskpilot agent configured on the Freshdesk connection."""
    host = replace(FRESHDESK, conn={"options": {**ZONE, "plugin_agent_name": AGENT}})
    app, ctx = make_stack(tmp_path, sqlite_url, redis_url, [host])
    yield app.test_client(), host
    ctx.close()


def test_a_client_or_cc_contacts_comment_starting_with_the_marker_is_processed(
    receiver,
) -> None:
    client, host = receiver
    for n, text in enumerate((CLIENT, CC_CONTACT)):
        data = _reply(text)
        data["ticket"] = {**data["ticket"], "modified_on": f"2026-11-23 11:1{n}:00"}
        answer = send(client, host, data)
        assert answer.status_code == 202 and answer.get_json()["status"] == "queued", text


def test_our_own_note_by_the_configured_agent_is_ignored(receiver) -> None:
    client, host = receiver
    answer = send(client, host, _note(f"{AGENT} : [Deskpilot] Deadline: 2026-11-24 17:00"))
    assert answer.status_code == 200 and answer.get_json()["status"] == "ignored"
    # decided by the author: our agent's note is ours even without the marker
    assert _own(_note(f"{AGENT.upper()} : Deadline: 2026-11-24 17:00"),
                plugin_agent_name=AGENT)


def test_with_the_agent_configured_only_its_comments_are_ours() -> None:
    assert not _own(_reply(CLIENT), plugin_agent_name=AGENT)
    assert not _own(_reply(CC_CONTACT), plugin_agent_name=AGENT)
    assert not _own(_note(OTHER_AGENT), plugin_agent_name=AGENT)
    assert _own(_note(f"{AGENT} : [Deskpilot] Deadline"), plugin_agent_name=AGENT)


def test_without_the_option_the_marker_decides_except_for_the_requester() -> None:
    """The documented fallback: a client's reply is never ours; any other author whose
    text starts with the marker is taken for our echo (a CC contact included: configure
    options.plugin_agent_name, or split the rule by "performed by")."""
    assert not _own(_reply(CLIENT))
    assert _own(_reply(CC_CONTACT))
    assert not _own(_reply("Marta Shevchenko : no marker here"))
    assert _own(_note(OTHER_AGENT))
    # the rule split by performer: a requester's copy of the rule makes the CC reply a client's
    assert not _own({**_reply(CC_CONTACT), "performed_by": "requester"})
    # a custom marker
    assert _own(_note("Ihor : <<dp>> hello"), own_marker="<<dp>>")


def test_where_no_author_is_given_the_marker_decides_even_with_the_option() -> None:
    system = _note("System : [Deskpilot] Deadline")
    legacy = _body("legacy_v1_comment")  # freshdesk-automation/1: no author name at all
    assert _own(system, plugin_agent_name=AGENT)
    assert not _own(_note("System : an automation's note"), plugin_agent_name=AGENT)
    legacy["latest_public_comment"] = "[Deskpilot] " + legacy["latest_public_comment"]
    assert _own(legacy, plugin_agent_name=AGENT)


def _poll_body(user_id: int, text: str, *, incoming: bool) -> dict[str, Any]:
    conn = Connection(name="fd", kind="freshdesk", options=ZONE)
    ticket = {"id": 1501, "subject": "s", "description": "d", "status": 2, "priority": 1,
              "source": 1, "created_at": "2026-11-23T10:00:00Z",
              "updated_at": "2026-11-23T11:00:00Z", "requester_id": 43000001,
              "requester": {"id": 43000001, "name": "Olena Koval",
                            "email": "olena@acme.example"}}
    conversation = {"id": 9, "user_id": user_id, "incoming": incoming, "private": False,
                    "source": 0, "body_text": text, "created_at": "2026-11-23T11:00:00Z"}
    return freshdesk_item_payload(conn, ticket, at=conversation["created_at"],
                                  conversation=conversation)


def _polled_own(data: dict[str, Any], plugin_user_id: str | None) -> bool:
    conn = Connection(name="fd", kind="freshdesk", options=ZONE, plugin_user_id=plugin_user_id)
    (event,) = freshdesk.parse(json.dumps(data).encode(), {}, conn)
    return event.own_write


def test_the_polls_bodies_name_the_author_by_id() -> None:
    """Freshdesk API v2's conversation ``user_id`` against plugin_user_id, not the text."""
    cc_reply = _poll_body(43000077, "[Deskpilot] a CC contact's reply", incoming=True)
    other_agent = _poll_body(8, "[Deskpilot] another agent's reply", incoming=False)
    ours = _poll_body(955, "Deadline: 2026-11-24 17:00", incoming=False)
    assert (cc_reply["author_id"], ours["author_id"]) == ("43000077", "955")
    assert not _polled_own(cc_reply, "955")
    assert not _polled_own(other_agent, "955")
    assert _polled_own(ours, "955")  # ours without the marker
    # no plugin_user_id: the documented fallback, the marker
    assert _polled_own(other_agent, None) and not _polled_own(ours, None)
