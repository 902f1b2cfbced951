"""Shared fixtures: throwaway PostgreSQL databases and Redis DBs, settings, app, client.

Tests that need a server use the real one. Outside CI they skip with a clear message when
the server is absent; with ``CI=true`` they fail instead, so CI can never pass by skipping.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci", max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile("dev", max_examples=30, deadline=None)
settings.register_profile("full", max_examples=2000, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
PG_ADMIN_URL = os.environ.get(
    "DESKPILOT_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
REDIS_TEST_URL = os.environ.get("DESKPILOT_TEST_REDIS_URL", "redis://127.0.0.1:6379")


def _unavailable(what: str, exc: Exception) -> None:
    message = f"{what} is not reachable ({exc.__class__.__name__}: {exc})"
    if IN_CI:
        pytest.fail(f"{message}; CI=true requires it", pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="session")
def pg_server_url() -> Iterator[str]:
    """A fresh PostgreSQL database for this test session, dropped at the end."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    admin_url = make_url(PG_ADMIN_URL)
    name = f"deskpilot_t_{uuid.uuid4().hex[:10]}"
    try:
        admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # noqa: BLE001 - any connection failure means "absent"
        _unavailable("PostgreSQL", exc)
    try:
        yield admin_url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def pg_url(pg_server_url: str) -> Iterator[str]:
    """The session's PostgreSQL database, emptied before each test."""
    from sqlalchemy import create_engine, text

    engine = create_engine(pg_server_url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()
    yield pg_server_url


@pytest.fixture
def sqlite_url(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'deskpilot.sqlite3'}"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request) -> str:
    """Each storage test runs once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        return request.getfixturevalue("sqlite_url")
    return request.getfixturevalue("pg_url")


@pytest.fixture
def redis_url() -> Iterator[str]:
    """A Redis database of the real server, leased for this test and flushed around it.

    Several test runs may share one server, so each test leases a free db (1-15) with a
    short-lived lock key in db 0 instead of picking one blindly.
    """
    import time

    import redis

    try:
        lock_conn = redis.Redis.from_url(f"{REDIS_TEST_URL}/0")
        lock_conn.ping()
    except Exception as exc:  # noqa: BLE001
        _unavailable("Redis", exc)
    token = uuid.uuid4().hex
    db = 0
    deadline = time.monotonic() + 60
    while not db:
        for candidate in range(1, 16):
            if lock_conn.set(f"deskpilot-test-lease:{candidate}", token, nx=True, ex=300):
                db = candidate
                break
        else:
            if time.monotonic() > deadline:
                pytest.fail("no free Redis test database (1-15) for 60 s")
            time.sleep(0.05)
    url = f"{REDIS_TEST_URL}/{db}"
    conn = redis.Redis.from_url(url)
    conn.flushdb()
    try:
        yield url
    finally:
        conn.flushdb()
        conn.close()
        if lock_conn.get(f"deskpilot-test-lease:{db}") == token.encode():
            lock_conn.delete(f"deskpilot-test-lease:{db}")
        lock_conn.close()
