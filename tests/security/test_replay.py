"""Replay is bound to the signature (issue 16, finding 2).

The generic format's version 2 signature covers a timestamp and the delivery id: a captured
delivery re-sent under a new delivery id, or after the tolerance window, is refused. The
version 1 scheme is accepted only where a connection says so, and there a time entry
without a host id still counts once. Stored events keep no signature; files are private.
"""

from __future__ import annotations

import copy
import json
import os
import stat
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from plugin.context import Context
from plugin.processing.process import process_event
from plugin.processing.state import ticket_state
from plugin.storage.db import make_engine
from plugin.storage.models import Event, EventState, Ticket
from tests.integration.test_receiver_security import (
    HOSTS,
    NEW,
    OLD,
    counts,
    fixture,
    make_stack,
    send,
    stack,  # noqa: F401
)
from tests.jobs_support import buy, make_context, payload, store
from webhooks.base import InvalidSignature
from webhooks.hosts import generic

GENERIC = next(h for h in HOSTS if h.kind == "generic")
URL = "/webhooks/generic"


def _post(client, body: bytes, headers: dict[str, str]):
    return client.post(URL, data=body, headers={"Content-Type": "application/json", **headers})


def _time_logged() -> bytes:
    data = copy.deepcopy(fixture("generic", "ticket_created"))
    data.update(event="time.logged", time_entry={"minutes": 30})
    return json.dumps(data).encode()


def test_a_captured_delivery_replayed_under_a_new_delivery_id_is_refused(stack) -> None:  # noqa: F811
    client, ctx = stack
    body = _time_logged()
    captured = generic.signed_headers(body, NEW, "d-original")
    assert _post(client, body, captured).status_code == 202
    for n in range(3):
        replay = {**captured, generic.DELIVERY_HEADER: f"d-replay-{n}"}
        resp = _post(client, body, replay)
        assert resp.status_code == 401, resp.get_json()
    # without a delivery header the signature (made for "d-original") does not match either
    assert _post(client, body, {generic.SIGNATURE_HEADER: captured[generic.SIGNATURE_HEADER]}
                 ).status_code == 401
    assert counts(ctx) == (1, 1)  # queued once


def test_a_delivery_outside_the_tolerance_window_is_refused(stack) -> None:  # noqa: F811
    client, _ = stack
    body = _time_logged()
    for skew in (-301, 301):
        headers = generic.signed_headers(body, NEW, "d-late", timestamp=time.time() + skew)
        resp = _post(client, body, headers)
        assert resp.status_code == 401
        assert "clock" in resp.get_json()["message"]
    assert _post(client, body, generic.signed_headers(body, NEW, "d-now",
                                                      timestamp=time.time() - 250)
                 ).status_code == 202


def test_rotation_several_secrets_and_several_signatures(stack) -> None:  # noqa: F811
    client, _ = stack
    body = _time_logged()
    t = int(time.time())
    for n, secret in enumerate((OLD, NEW)):  # either configured secret
        assert _post(client, body, generic.signed_headers(body, secret, f"rot-{n}")
                     ).status_code == 202
    # a sender rotating its side sends one v2 entry per secret it holds
    old = generic.sign(body, "retired-secret-000", delivery="rot-2", timestamp=t)
    new = generic.sign(body, NEW, delivery="rot-2", timestamp=t)
    both = f"{old},{new.split(',', 1)[1]}"
    assert _post(client, body, {generic.SIGNATURE_HEADER: both,
                                generic.DELIVERY_HEADER: "rot-2"}).status_code == 202
    assert _post(client, body, generic.signed_headers(body, "unknown-secret-1", "rot-3")
                 ).status_code == 401


def test_version_1_only_where_the_connection_allows_it(tmp_path, sqlite_url, redis_url) -> None:
    body = _time_logged()
    legacy = {generic.SIGNATURE_HEADER: generic.sign_legacy(body, NEW),
              generic.DELIVERY_HEADER: "v1-a"}
    app, ctx = make_stack(tmp_path, sqlite_url, redis_url)
    try:
        resp = _post(app.test_client(), body, legacy)
        assert resp.status_code == 401 and "accept_legacy_signature" not in resp.get_json()[
            "message"] and "version 1" in resp.get_json()["message"]
    finally:
        ctx.close()
    allowed = copy.deepcopy(GENERIC)
    allowed.conn = {**GENERIC.conn, "options": {"accept_legacy_signature": True}}
    app, ctx = make_stack(tmp_path, sqlite_url, redis_url, [allowed])
    try:
        assert _post(app.test_client(), body, legacy).status_code == 202
    finally:
        ctx.close()


def test_verify_refuses_malformed_v2_headers() -> None:
    body = b"{}"
    now = datetime.now(UTC)
    for value in ("t=abc,v2=00", "v2=00", f"t={int(time.time())}", "garbage"):
        with pytest.raises(InvalidSignature):
            generic.verify(body, {generic.SIGNATURE_HEADER: value}, [NEW], now)


# -- content-level idempotency: a time entry without host id counts once ----------------------
@pytest.fixture
def jobs(db_url: str) -> Iterator[Context]:
    c = make_context(db_url)
    buy(c, "acme", 10, datetime(2026, 11, 20, tzinfo=UTC))
    yield c
    c.close()


def _logged(ctx: Context, host_id: str) -> int:
    with ctx.db.session() as s:
        row = s.execute(select(Ticket).where(Ticket.host_ticket_id == host_id)).scalar_one()
        return ticket_state(row).logged_minutes


def test_an_id_less_time_entry_replayed_under_new_delivery_ids_counts_once(jobs) -> None:
    now = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
    entry = {"minutes": 30, "agent_id": "a-1"}
    ids = [store(jobs, payload("T-9", "ticket.created", "2026-11-23T10:00:00+02:00"), "c")]
    ids += [store(jobs, payload("T-9", "time.logged", "2026-11-23T10:30:00+02:00",
                                time_entry=entry), f"replay-{n}") for n in range(3)]
    # the same minutes by the same agent at another instant is another entry
    ids.append(store(jobs, payload("T-9", "time.logged", "2026-11-23T10:45:00+02:00",
                                   time_entry=entry), "second"))
    for event_id in ids:
        assert process_event(event_id, now) == EventState.PROCESSED
    assert _logged(jobs, "T-9") == 60


# -- stored bodies and files ---------------------------------------------------------------
@pytest.mark.parametrize("host", [h for h in HOSTS if h.headers], ids=lambda h: h.name)
def test_no_stored_event_keeps_a_signature(stack, host) -> None:  # noqa: F811
    client, ctx = stack
    resp = send(client, host, fixture(host.kind, "ticket_created"), delivery="kept-1")
    assert resp.status_code in (200, 202)
    with ctx.db.session() as s:
        headers = s.execute(select(Event.headers)).scalars().all()
    assert headers
    for kept in headers:
        names = {k.lower() for k in kept}
        assert not any("signature" in n or "token" in n for n in names if
                       not n.endswith("-timestamp")), kept


def test_the_sqlite_file_and_var_are_private(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        path = tmp_path / "var" / "deskpilot.sqlite3"
        engine = make_engine(f"sqlite:///{path}")
        with engine.begin() as conn:
            conn.exec_driver_sql("CREATE TABLE t (x INTEGER)")
        engine.dispose()
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    finally:
        os.umask(old)
