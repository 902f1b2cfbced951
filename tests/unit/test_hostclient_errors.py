"""Host errors: the status table, Retry-After parsing and the one retry decision."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
import requests

from plugin.hosts.errors import (
    ClientError,
    HostHTTPError,
    HostUnavailable,
    NotFound,
    RateLimited,
    ServerError,
    error_for,
    parse_retry_after,
    retry_delay,
    safe_url,
)

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


@pytest.mark.parametrize(("status", "cls"), [
    (404, NotFound), (429, RateLimited), (400, ClientError), (401, ClientError),
    (403, ClientError), (422, ClientError), (500, ServerError), (502, ServerError),
    (503, ServerError),
])
def test_status_table(status: int, cls: type[HostHTTPError]) -> None:
    err = error_for(status, "PUT", "https://h.example/api/v2/tickets/1", b'{"error":"x"}')
    assert type(err) is cls
    assert err.status == status and err.method == "PUT"
    assert '{"error":"x"}' in str(err)


def test_message_has_host_text_but_no_credentials() -> None:
    err = error_for(422, "PUT", "https://bot:s3cret@h.example/api/v1/tickets/7",
                    b'{"error": "Invalid value for state"}')
    assert "Invalid value for state" in str(err)
    assert "s3cret" not in str(err) and "bot" not in err.url
    assert safe_url("https://h.example:8443/x?a=1") == "https://h.example:8443/x?a=1"


def test_long_bodies_are_cut() -> None:
    err = error_for(500, "GET", "https://h.example/", b"x" * 5000)
    assert len(err.body) == 500


def test_retry_after_seconds_and_http_date() -> None:
    assert parse_retry_after("30") == 30.0
    assert parse_retry_after("  7 ") == 7.0
    date = format_datetime(NOW + timedelta(seconds=90), usegmt=True)
    assert parse_retry_after(date, NOW) == pytest.approx(90.0)
    assert parse_retry_after(format_datetime(NOW - timedelta(hours=1), usegmt=True), NOW) == 0
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None
    err = error_for(429, "PUT", "https://h/", b"", {"Retry-After": "12"})
    assert isinstance(err, RateLimited) and err.retry_after == 12.0


@pytest.mark.parametrize("exc", [
    HostUnavailable("refused"), ServerError(503, "GET", "https://h/"),
    RateLimited(429, "GET", "https://h/"), requests.ConnectionError("x"), requests.Timeout(),
])
def test_transient_errors_back_off_exponentially_with_jitter(exc: Exception) -> None:
    rng = random.Random(1)
    delays = [retry_delay(exc, attempt, rng) for attempt in range(1, 7)]
    for attempt, delay in enumerate(delays, start=1):
        backoff = 2 ** (attempt - 1)
        assert delay is not None
        assert backoff / 2 <= delay <= backoff
    assert delays[-1] > delays[0]  # type: ignore[operator]


def test_jitter_spreads_retries() -> None:
    exc = ServerError(500, "GET", "https://h/")
    rng = random.Random(7)
    assert len({retry_delay(exc, 5, rng) for _ in range(20)}) > 10


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 422])
def test_other_4xx_are_never_retried(status: int) -> None:
    assert retry_delay(error_for(status, "PUT", "https://h/"), 1) is None


def test_retry_after_is_a_floor_and_cap_holds() -> None:
    limited = RateLimited(429, "PUT", "https://h/", retry_after=45.0)
    assert retry_delay(limited, 1, random.Random(0)) == 45.0
    big = ServerError(500, "GET", "https://h/")
    assert retry_delay(big, 40, random.Random(0), cap=60) == pytest.approx(60, abs=30)
    assert retry_delay(big, 3, max_attempts=3) is None
    assert retry_delay(ValueError("bug"), 1) is None
