"""Dashboard and admin sign-in (issue 16, finding 7): anti-framing and no-store headers, a
server-side session that logout revokes, and wrong sign-ins throttled per client address."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.security.support import SECRETS, make_app

ADMIN = SECRETS["admin"]
WRONG = "wrong-token-000000000000"


@pytest.fixture
def app(tmp_path, sqlite_url) -> Iterator[Any]:
    flask_app, ctx = make_app(tmp_path, sqlite_url, None)
    yield flask_app
    ctx.close()


def _cookie(resp: Any) -> str:
    header = resp.headers["Set-Cookie"]
    assert header.startswith("deskpilot_dashboard=")
    return header.split(";", 1)[0].split("=", 1)[1]


def test_pages_are_not_framed_and_not_cached(app) -> None:
    client = app.test_client()
    for resp in (client.get("/dashboard/login"),
                 client.post("/dashboard/login", data={"token": WRONG}),
                 client.post("/dashboard/login", data={"token": ADMIN}),
                 client.get("/dashboard")):
        assert resp.headers["X-Frame-Options"] == "DENY"
        assert "frame-ancestors 'none'" in resp.headers["Content-Security-Policy"]
        assert resp.headers["Cache-Control"] == "no-store"


def test_logout_revokes_the_session_for_every_copy_of_the_cookie(app) -> None:
    browser = app.test_client()
    signed = browser.post("/dashboard/login", data={"token": ADMIN})
    assert signed.status_code == 302
    cookie = _cookie(signed)
    assert ADMIN not in cookie
    thief = app.test_client()
    thief.set_cookie("deskpilot_dashboard", cookie, path="/dashboard")
    assert thief.get("/dashboard").status_code == 200  # a copy works while signed in
    assert browser.get("/dashboard/logout").status_code == 302
    after = thief.get("/dashboard")
    assert after.status_code == 302 and after.headers["Location"].endswith("/dashboard/login")
    # a new sign-in gets a new, unrelated session
    again = _cookie(app.test_client().post("/dashboard/login", data={"token": ADMIN}))
    assert again != cookie


def test_the_database_keeps_only_the_sessions_sha256(app) -> None:
    """A database dump opens no dashboard: the cookie's token is stored as its SHA-256."""
    import hashlib

    from sqlalchemy import select

    from plugin.web_sessions import WebSession

    cookie = _cookie(app.test_client().post("/dashboard/login", data={"token": ADMIN}))
    with app.extensions["deskpilot"].db.session() as s:
        rows = [tuple(str(v) for v in r) for r in s.execute(select(WebSession.__table__))]
    assert rows and all(cookie not in cell and ADMIN not in cell for r in rows for cell in r)
    assert hashlib.sha256(cookie.encode()).hexdigest() in {r[0] for r in rows}


def test_a_made_up_cookie_is_not_a_session(app) -> None:
    client = app.test_client()
    client.set_cookie("deskpilot_dashboard", "0" * 64, path="/dashboard")
    assert client.get("/dashboard").status_code == 302


def test_the_301st_wrong_sign_in_is_throttled(app) -> None:
    client = app.test_client()
    codes = [client.post("/dashboard/login", data={"token": WRONG}).status_code
             for _ in range(300)]
    allowed = 100  # signin_failures_allowed's default
    assert codes[:allowed] == [403] * allowed
    assert set(codes[allowed:]) == {429}
    last = client.post("/dashboard/login", data={"token": ADMIN})  # even the right token
    assert last.status_code == 429 and int(last.headers["Retry-After"]) > 0
    assert client.get("/dashboard?token=" + ADMIN).status_code == 429
    # another address is not affected
    other = app.test_client().post("/dashboard/login", data={"token": ADMIN},
                                   environ_base={"REMOTE_ADDR": "10.0.0.7"})
    assert other.status_code == 302


def test_the_admin_api_is_throttled_too(app) -> None:
    client = app.test_client()
    codes = [client.get("/api/credits/acme",
                        headers={"Authorization": f"Bearer {WRONG}"}).status_code
             for _ in range(300)]
    assert codes[0] == 403 and codes[-1] == 429
    resp = client.get("/api/credits/acme", headers={"Authorization": f"Bearer {ADMIN}"})
    assert resp.status_code == 429 and resp.get_json()["code"] == "too-many-requests"
    assert "Retry-After" in resp.headers
    other = client.get("/api/credits/acme", headers={"Authorization": f"Bearer {ADMIN}"},
                       environ_base={"REMOTE_ADDR": "10.0.0.8"})
    assert other.status_code != 429
