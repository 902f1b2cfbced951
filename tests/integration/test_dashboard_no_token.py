"""The dashboard's sign-in says plainly when no admin token is configured at all."""

from __future__ import annotations

from pathlib import Path

from plugin.app import create_app
from plugin.context import build_context
from plugin.settings import load_settings

ROOT = Path(__file__).resolve().parents[2]


def _app(tmp_path: Path, sqlite_url: str, token: str | None):  # type: ignore[no-untyped-def]
    env = {"DESKPILOT_DATABASE_URL": sqlite_url, "DESKPILOT_CONFIG_DIR": str(ROOT / "config"),
           "DESKPILOT_VAR_DIR": str(tmp_path / "var")}
    if token:
        env["DESKPILOT_ADMIN_TOKEN"] = token
    ctx = build_context(load_settings(env))
    ctx.db.create_all()  # sign-in failures and sessions live in the database
    return create_app(context=ctx), ctx


def test_login_without_any_configured_token_says_so(tmp_path: Path, sqlite_url: str) -> None:
    app, ctx = _app(tmp_path, sqlite_url, None)
    try:
        client = app.test_client()
        page = client.get("/dashboard/login").get_data(as_text=True)
        assert "No admin token is configured" in page and "DESKPILOT_ADMIN_TOKEN" in page
        tried = client.post("/dashboard/login", data={"token": "a-token-of-20-chars!!"})
        assert tried.status_code == 403
        assert "No admin token is configured" in tried.get_data(as_text=True)
        assert "No admin token is configured" in client.get(
            "/dashboard?token=whatever-token-0000").get_data(as_text=True)
    finally:
        ctx.close()


def test_login_with_a_configured_token_keeps_unknown_token(tmp_path: Path,
                                                           sqlite_url: str) -> None:
    app, ctx = _app(tmp_path, sqlite_url, "admin-token-0123456789abcdef")
    try:
        client = app.test_client()
        assert "No admin token" not in client.get("/dashboard/login").get_data(as_text=True)
        wrong = client.post("/dashboard/login", data={"token": "wrong-token-000000"})
        assert wrong.status_code == 403 and "Unknown token" in wrong.get_data(as_text=True)
    finally:
        ctx.close()
