"""Typed host API errors and the one function that decides whether, and when, to retry.

``HostError → HostHTTPError(status, method, url, body) → NotFound, RateLimited, ClientError,
ServerError``; ``HostUnavailable`` is a connection error or timeout (no HTTP answer). HTTP
statuses map to classes through one table, as gidgethub's ``decipher_response`` does.
Messages carry the host's own message, never a credential: auth lives in headers, which are
never part of a message, and user-info in URLs is stripped.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit, urlunsplit

#: longest host message kept in an error (the rest is noise in a failed-job list)
MESSAGE_LIMIT = 500


class HostError(Exception):
    """Root of every error a host client raises."""

    #: steps of a push that completed before the failure (see ``HostClient.push``)
    done_steps: tuple[str, ...] = ()


class HostUnavailable(HostError):
    """No HTTP answer: connection refused or reset, DNS failure, timeout."""


class HostHTTPError(HostError):
    """The host answered with an error status."""

    def __init__(self, status: int, method: str, url: str, body: str = "",
                 retry_after: float | None = None):
        self.status = status
        self.method = method
        self.url = safe_url(url)
        self.body = body[:MESSAGE_LIMIT]
        self.retry_after = retry_after
        super().__init__(f"{method} {self.url} -> {status}: {self.body or '(no message)'}")


class NotFound(HostHTTPError):
    """404: the ticket (or organisation) does not exist on the host."""


class RateLimited(HostHTTPError):
    """429: the host asks us to slow down, usually with ``Retry-After``."""


class ClientError(HostHTTPError):
    """Any other 4xx: our request is wrong or not allowed; retrying cannot help."""


class ServerError(HostHTTPError):
    """5xx: the host failed; worth retrying."""


STATUS_TO_EXC: dict[int, type[HostHTTPError]] = {404: NotFound, 429: RateLimited}


def safe_url(url: str) -> str:
    """The URL without user-info (``https://user:pass@host`` must never reach a log)."""
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """``Retry-After`` as seconds: either delta-seconds or an HTTP date (RFC 9110 §10.2.3)."""
    if not value:
        return None
    text = value.strip()
    try:
        return max(0.0, float(text))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def host_message(body: bytes | str, limit: int = MESSAGE_LIMIT) -> str:
    """The host's error text, shortened; JSON error bodies are kept as they are (compact)."""
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    return " ".join(text.split())[:limit]


def error_for(status: int, method: str, url: str, body: bytes | str = b"",
              headers: Mapping[str, str] | None = None,
              now: datetime | None = None) -> HostHTTPError:
    """The typed error for an error answer."""
    cls = STATUS_TO_EXC.get(status)
    if cls is None:
        cls = ServerError if status >= 500 else ClientError
    retry_after = parse_retry_after((headers or {}).get("Retry-After"), now)
    return cls(status, method, url, host_message(body), retry_after)


def retry_delay(exc: BaseException, attempt: int, rng: Any = random, *,
                base: float = 1.0, cap: float = 300.0,
                max_attempts: int | None = None) -> float | None:
    """Seconds to wait before attempt ``attempt + 1``, or ``None``: do not retry.

    ``attempt`` counts the attempts made so far (1 after the first failure). Connection
    errors, timeouts, 5xx and 429 are retried with exponential backoff and "equal jitter"
    (half fixed, half random, so a burst of failed jobs does not come back in lock-step);
    a ``Retry-After`` from the host is a floor. Other 4xx are never retried.
    """
    if max_attempts is not None and attempt >= max_attempts:
        return None
    if not is_transient(exc):
        return None
    backoff = min(cap, base * (2 ** max(0, attempt - 1)))
    delay = backoff / 2 + rng.uniform(0, backoff / 2)
    retry_after = getattr(exc, "retry_after", None)
    if retry_after is not None:
        delay = max(delay, float(retry_after))
    return delay


def is_transient(exc: BaseException) -> bool:
    """True for failures that may pass on their own (and so are worth retrying)."""
    if isinstance(exc, HostUnavailable | RateLimited | ServerError):
        return True
    if isinstance(exc, HostHTTPError):
        return False
    # raw transport errors from code that did not wrap them
    import requests

    return isinstance(exc, requests.ConnectionError | requests.Timeout)
