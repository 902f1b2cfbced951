"""Configured secrets never appear in logs, errors or pages; outbound URLs come from settings.

The leak test configures a recognisable value for every secret, drives requests of every
kind (valid, forged, oversize, malformed, admin with wrong tokens, dashboard sign-in),
processes and pushes events against failing hosts, loads invalid settings, and searches
everything captured: log records at DEBUG, stderr/stdout, response bodies and headers,
exception messages and reprs.
"""

from __future__ import annotations

import json
import logging
import re
from datetime import UTC, datetime

import pytest
import responses

from plugin.hosts import make_client
from plugin.outbox.commands import Command
from plugin.settings import SettingsError, load_settings
from tests.integration.test_receiver_security import HOSTS, fixture
from tests.security.support import LIMIT, SECRETS, make_app, url_of

pytestmark = pytest.mark.redis
CALLBACK = "http://callback.settings.example/deskpilot"


def _headers(host, body: bytes, secret: str) -> dict[str, str]:
    headers = {"Content-Type": "application/json"}
    if host.headers:
        headers.update(host.headers(body, secret, f"leak-{len(body)}"))
    return headers


def test_secrets_never_appear_in_logs_errors_or_pages(tmp_path, sqlite_url, redis_url, caplog,
                                                     capfd):
    caplog.set_level(logging.DEBUG)
    seen: list[str] = []
    app, ctx = make_app(tmp_path, sqlite_url, redis_url)
    client = app.test_client()
    seen.append(repr(ctx.settings))
    for host in HOSTS:
        data = fixture(host.kind, "ticket_created")
        good = json.dumps(data).encode()
        for body, secret, token in [
            (good, SECRETS["new"], SECRETS["token"]),            # accepted
            (good, SECRETS["old"], SECRETS["token"]),            # duplicate
            (good, "wrong-secret-000000", "wrong-token-0000000000"),  # refused
            (b"{not json", SECRETS["new"], SECRETS["token"]),     # malformed
            (json.dumps({**data, "p": "x" * LIMIT}).encode(), SECRETS["new"], SECRETS["token"]),
            (json.dumps({"ticket": None}).encode(), SECRETS["new"], SECRETS["token"]),
        ]:
            resp = client.post(url_of(host, token), data=body, headers=_headers(host, body,
                                                                               secret))
            seen += [resp.get_data(as_text=True), str(dict(resp.headers))]
    for url in ("/api/credits/acme", "/api/reports/summary", "/api/openapi.json", "/metrics"):
        for auth in ("", "Bearer wrong-token-00000000", f"Bearer {SECRETS['admin']}"):
            resp = client.get(url, headers={"Authorization": auth} if auth else {})
            seen += [resp.get_data(as_text=True), str(dict(resp.headers))]
    dash = app.test_client()
    for token in ("wrong-token-00000000", SECRETS["admin"]):
        resp = dash.post("/dashboard/login", data={"token": token})
        seen += [resp.get_data(as_text=True), str(dict(resp.headers))]
    resp = dash.get("/dashboard")
    seen += [resp.get_data(as_text=True), str(dict(resp.headers))]
    # host API failures: every client, refused and failing, with its messages
    for conn in ctx.settings.connections:
        with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
            for method in ("GET", "POST", "PUT", "PATCH"):
                mock.add(method, re.compile(r"https?://.*"), status=401,
                         body='{"error":"bad credentials"}')
            try:
                client_ = make_client(conn, retry_budget=0.0, max_attempts=1)
                client_.push("T-1", [Command.add_note("hello"), Command.set_status("resolved")],
                             idempotency_key="leak-1")
            except Exception as exc:  # noqa: BLE001 - the message is what is searched
                seen += [str(exc), repr(exc)]
    # invalid settings that carry secrets: the messages describe rules, never values
    for bad in ({"admin_tokens": ["SEKRET-short"]},
                {"connections": [{"name": "x", "kind": "generic",
                                  "webhook_secrets": ["SEKRET-s"], "bogus": SECRETS["new"]}]}):
        try:
            load_settings({}, {"database_url": "sqlite://", "config_dir": "config",
                               "var_dir": str(tmp_path), **bad})
        except SettingsError as exc:
            seen.append(str(exc))
    ctx.close()
    out, err = capfd.readouterr()
    seen += [out, err, caplog.text]
    seen += [json.dumps(r.__dict__, default=str) for r in caplog.records]
    haystack = "\n".join(seen)
    assert "webhook" in caplog.text  # the receiver did log, so the search means something
    leaked = {name: value for name, value in SECRETS.items() if value in haystack}
    assert leaked == {}, f"secrets leaked: {sorted(leaked)}"
    assert "SEKRET-short" not in haystack and "SEKRET-s" not in haystack


@responses.activate
def test_outbound_requests_go_only_to_urls_from_settings(tmp_path, sqlite_url, redis_url):
    """A payload full of URLs never makes Deskpilot call them: only ``callback_url``."""
    from rq import SimpleWorker

    from plugin.context import set_context
    from plugin.queue import ALL_QUEUES, SERIALIZER
    from tests.jobs_support import buy

    responses.add(responses.POST, CALLBACK, json={"ok": True})
    app, ctx = make_app(tmp_path, sqlite_url, redis_url, callback_url=CALLBACK)
    set_context(ctx)
    buy(ctx, "acme", 10, datetime(2026, 1, 1, tzinfo=UTC))
    host = next(h for h in HOSTS if h.kind == "generic")
    evil = "http://169.254.169.254/latest/meta-data/"
    data = fixture("generic", "ticket_created")
    data.update({"callback_url": evil, "url": evil, "webhook": {"url": evil}})
    data["ticket"].update({"company": {"id": "acme", "name": evil}, "subject": evil,
                           "custom_fields": {"callback_url": evil, "units": 1},
                           "status": "accepted"})
    data["event"] = "ticket.updated"
    data["changes"] = {"status": ["new", "accepted"]}
    body = json.dumps(data).encode()
    assert app.test_client().post(url_of(host), data=body,
                                  headers=_headers(host, body, SECRETS["new"])).status_code == 202
    SimpleWorker(list(ALL_QUEUES), connection=ctx.redis, serializer=SERIALIZER).work(
        burst=True, with_scheduler=False)
    urls = [call.request.url for call in responses.calls]
    assert urls, "the decision should have been pushed to the callback"
    assert set(urls) == {CALLBACK}
    set_context(None)
    ctx.close()
