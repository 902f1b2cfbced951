"""Generic callback (SPEC.md §7): signed POST, or recorded when no callback URL is set."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

import pytest
import responses

from plugin.hosts import CLIENTS, make_client
from plugin.hosts.errors import ServerError
from plugin.outbox.commands import Command
from plugin.settings import HOST_KINDS, Connection, Secret
from webhooks.base import InvalidSignature
from webhooks.hosts.generic import verify

URL = "https://hooks.example/deskpilot"
SECRET = Secret("s3cret-generic-1")
INBOUND = Secret("inbound-webhook-secret-3")


def conn(callback_url: str | None = URL) -> Connection:
    return Connection(name="gen", kind="generic", callback_url=callback_url,
                      credentials={"callback_secret": SECRET},
                      webhook_secrets=(INBOUND, Secret("older-secret-2")))


def test_every_host_kind_has_a_client() -> None:
    assert set(CLIENTS) == set(HOST_KINDS)
    with pytest.raises(ValueError, match="no host client"):
        make_client(Connection(name="x", kind="jira"))


def test_without_callback_url_commands_are_recorded_not_failed(caplog) -> None:
    caplog.set_level(logging.INFO, logger="deskpilot.hosts")
    with make_client(conn(None)) as client:
        res = client.push("T-1", [Command.set_status("accepted"), Command.add_note("hi")],
                          idempotency_key="out-7")
    assert res.recorded and res.calls == 0 and "recorded" in res.detail
    assert "ticket=T-1" in caplog.text and "set_status,add_note" in caplog.text
    assert SECRET not in caplog.text and "hi" not in caplog.text.split("commands=")[1]


@responses.activate
def test_signed_callback_with_delivery_id() -> None:
    responses.post(URL, json={"ok": True})
    cmds = [Command.set_status("accepted"), Command.set_status("in_progress"),
            Command.log_time(30, agent_id="a-3")]
    with make_client(conn()) as client:
        res = client.push("T-1", cmds, idempotency_key="out-7")
    assert res.calls == 1 and not res.recorded
    req = responses.calls[0].request
    raw = req.body if isinstance(req.body, bytes) else (req.body or "").encode()
    assert req.headers["X-Deskpilot-Signature"].startswith("t=")  # version 2
    assert req.headers["X-Deskpilot-Delivery"] == "out-7"
    verify(raw, req.headers, [SECRET], now=datetime.now(UTC))  # the inbound verifier accepts it
    with pytest.raises(InvalidSignature):  # signed with its own secret, not an inbound one
        verify(raw, req.headers, [INBOUND, "older-secret-2"], now=datetime.now(UTC))
    assert json.loads(raw) == {"delivery_id": "out-7", "ticket_id": "T-1", "commands": [
        {"type": "set_status", "status": "in_progress"},
        {"type": "log_time", "minutes": 30, "note": None, "agent_id": "a-3"}]}


@responses.activate
def test_callback_5xx_then_success() -> None:
    responses.post(URL, status=500)
    responses.post(URL, json={})
    with make_client(conn(), sleep=lambda s: None) as client:
        assert client.push("T-1", [Command.add_note("x")], idempotency_key="k").calls == 1
    assert len(responses.calls) == 2
    assert responses.calls[0].request.body == responses.calls[1].request.body


@responses.activate
def test_callback_exhausted_raises_server_error() -> None:
    responses.post(URL, status=502, body="gateway")
    with make_client(conn(), sleep=lambda s: None) as client, pytest.raises(ServerError):
        client.push("T-1", [Command.add_note("x")], idempotency_key="k")
