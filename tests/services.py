"""Leases on the shared test services, used by every conftest."""

from __future__ import annotations

import contextlib
import os
import time
import uuid
from collections.abc import Iterator

import pytest

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
REDIS_TEST_URL = os.environ.get("DESKPILOT_TEST_REDIS_URL", "redis://127.0.0.1:6379")


def unavailable(what: str, exc: Exception) -> None:
    """Skip outside CI; with ``CI=true`` a missing service fails the test instead."""
    message = f"{what} is not reachable ({exc.__class__.__name__}: {exc})"
    if IN_CI:
        pytest.fail(f"{message}; CI=true requires it", pytrace=False)
    pytest.skip(message)


@contextlib.contextmanager
def leased_redis_db(ttl_seconds: int) -> Iterator[str]:
    """A Redis database (1-15) of the real server, leased and flushed around its use.

    Several test runs may share one server, so each user leases a free db with a
    short-lived lock key in db 0 instead of picking one blindly. Db 0 is never flushed.
    """
    import redis

    try:
        lock = redis.Redis.from_url(f"{REDIS_TEST_URL}/0")
        lock.ping()
    except Exception as exc:  # noqa: BLE001 - any connection failure means "absent"
        unavailable("Redis", exc)
    token, db = uuid.uuid4().hex, 0
    deadline = time.monotonic() + 60
    while not db:
        for candidate in range(1, 16):
            if lock.set(f"deskpilot-test-lease:{candidate}", token, nx=True, ex=ttl_seconds):
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
        if lock.get(f"deskpilot-test-lease:{db}") == token.encode():
            lock.delete(f"deskpilot-test-lease:{db}")
        lock.close()
