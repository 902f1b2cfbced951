"""Server-side sign-in sessions and sign-in throttling, for every browser and API surface.

Sessions (issue 16): a sign-in creates a row holding the SHA-256 of a random session token;
the browser's cookie holds the token. Logout deletes the row, so a copied cookie is dead
after logout (the old cookie, an HMAC of the admin token, stayed valid forever). ``kind``
separates surfaces (``admin`` for the dashboard; a client cabinet can use its own kind and
``subject``); rows expire after their ``ttl``.

Throttling: wrong credentials are counted per client address (``request.remote_addr``;
put the proxy's real-IP handling in front, e.g. werkzeug's ``ProxyFix``) in a fixed window
(``signin_window_seconds``); past ``signin_failures_allowed`` failures the address is
answered 429 with ``Retry-After`` until the window ends, even with the right token. Rows
live in the database, so every web process shares them.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Integer, String, delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column

from plugin.storage.db import utcnow
from plugin.storage.models import Base, UTCDateTime

#: a dashboard session's life (the cookie's max-age too)
SESSION_TTL = timedelta(hours=12)


class WebSession(Base):
    __tablename__ = "web_sessions"

    token_sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    subject: Mapped[str | None] = mapped_column(String(200), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())


class SigninFailures(Base):
    __tablename__ = "signin_failures"

    address: Mapped[str] = mapped_column(String(64), primary_key=True)
    window_start: Mapped[datetime] = mapped_column(UTCDateTime())
    failures: Mapped[int] = mapped_column(Integer)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_session(db: Any, kind: str, subject: str | None = None,
                   ttl: timedelta = SESSION_TTL) -> str:
    """A new session; returns the token for the cookie (only its hash is stored)."""
    token = secrets.token_urlsafe(32)
    now = utcnow()
    with db.session() as s:
        s.execute(delete(WebSession).where(WebSession.expires_at < now))  # housekeeping
        s.add(WebSession(token_sha256=_digest(token), kind=kind, subject=subject,
                         created_at=now, expires_at=now + ttl))
    return token


@dataclass(frozen=True)
class SignedIn:
    kind: str
    subject: str | None


def session_for(db: Any, token: str | None, kind: str) -> SignedIn | None:
    """The live session of ``token`` for ``kind`` (None: none, expired or revoked)."""
    if not token or len(token) > 200:
        return None
    with db.session() as s:
        row = s.get(WebSession, _digest(token))
        if row is None or row.kind != kind or row.expires_at <= utcnow():
            return None
        return SignedIn(row.kind, row.subject)


def revoke(db: Any, token: str | None) -> None:
    """Logout: the session is gone for every copy of its cookie."""
    if token:
        with db.session() as s:
            s.execute(delete(WebSession).where(WebSession.token_sha256 == _digest(token)))


@dataclass(frozen=True)
class Throttle:
    """Failures allowed per address per window (from settings)."""

    allowed: int
    window: timedelta

    @classmethod
    def from_settings(cls, settings: Any) -> Throttle:
        return cls(int(settings.signin_failures_allowed),
                   timedelta(seconds=int(settings.signin_window_seconds)))

    def retry_after(self, db: Any, address: str | None) -> int | None:
        """Seconds until ``address`` may try again; None when it may try now."""
        now = utcnow()
        with db.session() as s:
            row = s.get(SigninFailures, _key(address))
            if row is None or row.window_start + self.window <= now:
                return None
            if row.failures < self.allowed:
                return None
            return max(1, int((row.window_start + self.window - now).total_seconds()) + 1)

    def failed(self, db: Any, address: str | None) -> None:
        """Count one wrong sign-in of ``address``."""
        now, key = utcnow(), _key(address)
        for _ in range(2):  # a concurrent first failure of the same address: count again
            try:
                with db.session() as s:
                    row = s.execute(select(SigninFailures).where(
                        SigninFailures.address == key).with_for_update()).scalar_one_or_none()
                    if row is None:
                        s.add(SigninFailures(address=key, window_start=now, failures=1))
                    elif row.window_start + self.window <= now:
                        row.window_start, row.failures = now, 1
                    else:
                        row.failures += 1
                return
            except IntegrityError:
                continue


def _key(address: str | None) -> str:
    return (address or "unknown")[:64]
