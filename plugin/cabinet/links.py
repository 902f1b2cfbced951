"""Issuing, rotating, revoking and resolving a company's secret cabinet link.

A token is 32 random bytes (URL-safe base64, 43 characters). Only its SHA-256 is stored, so
a database dump reveals no working link and a link cannot be shown twice: ``issue`` prints
it once, ``rotate`` replaces it. :func:`resolve` answers the company of a live link and
None for anything else (unknown, malformed, revoked, expired) without saying which.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from plugin.cabinet.models import CabinetLink
from plugin.storage.models import Company

#: what a token looks like; anything else is refused before the database is asked
TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]{43}$")
#: the longest expiry ``--expires`` accepts (ten years)
MAX_DAYS = 3650


class LinkError(ValueError):
    """A link could not be issued (unknown company, a live link exists, bad expiry)."""


@dataclass(frozen=True)
class Issued:
    """A new link: the token (shown once) and what was stored about it."""

    company_id: str
    token: str
    created_at: datetime
    expires_at: datetime | None
    revoked: int


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("ascii", "replace")).hexdigest()


def live(session: Session, company_id: str, now: datetime) -> list[CabinetLink]:
    """The company's links that still open its cabinet, newest first."""
    rows = session.execute(
        select(CabinetLink).where(CabinetLink.company_id == company_id,
                                  CabinetLink.revoked_at.is_(None))
        .order_by(CabinetLink.created_at.desc(), CabinetLink.id.desc())
    ).scalars()
    return [r for r in rows if r.expires_at is None or r.expires_at > now]


def _expiry(now: datetime, days: int | None) -> datetime | None:
    if days is None:
        return None
    if not 1 <= days <= MAX_DAYS:
        raise LinkError(f"--expires must be between 1 and {MAX_DAYS} days, not {days}")
    return now + timedelta(days=days)


def _company(session: Session, company_id: str) -> str:
    found = session.get(Company, company_id)
    if found is None:
        raise LinkError(f"unknown company {company_id!r} (it appears once a ticket or a "
                        "credit package names it)")
    return found.id


def _new(session: Session, company_id: str, now: datetime, days: int | None,
         revoked: int) -> Issued:
    expires = _expiry(now, days)
    token = secrets.token_urlsafe(32)
    session.add(CabinetLink(company_id=company_id, token_hash=token_hash(token),
                            created_at=now, expires_at=expires))
    session.flush()
    return Issued(company_id, token, now, expires, revoked)


def issue(session: Session, company_id: str, now: datetime, days: int | None = None) -> Issued:
    """A first link for the company; refused while a live one exists (it cannot be shown
    again: only its hash is stored), so nobody silently gets a second valid link."""
    company_id = _company(session, company_id)
    existing = live(session, company_id, now)
    if existing:
        raise LinkError(
            f"{company_id} already has a live cabinet link (created "
            f"{existing[0].created_at:%Y-%m-%d %H:%M} UTC); only its hash is stored, so it "
            f"cannot be shown again. Run `deskpilot cabinet rotate {company_id}` for a new one "
            "(the old one stops working).")
    return _new(session, company_id, now, days, 0)


def revoke(session: Session, company_id: str, now: datetime) -> int:
    """Revoke every live link of the company; returns how many."""
    company_id = _company(session, company_id)
    result = session.execute(
        update(CabinetLink)
        .where(CabinetLink.company_id == company_id, CabinetLink.revoked_at.is_(None))
        .values(revoked_at=now),
        execution_options={"synchronize_session": False},
    )
    return int(getattr(result, "rowcount", 0) or 0)


def rotate(session: Session, company_id: str, now: datetime, days: int | None = None) -> Issued:
    """Revoke the company's links and issue a new one, in one transaction."""
    _expiry(now, days)  # a bad expiry refuses before anything is revoked
    revoked = revoke(session, company_id, now)
    return _new(session, _company(session, company_id), now, days, revoked)


def resolve(session: Session, token: str, now: datetime) -> str | None:
    """The company whose live link ``token`` is; None for every other case alike."""
    if not TOKEN_RE.match(token or ""):
        return None
    row = session.execute(
        select(CabinetLink.company_id, CabinetLink.expires_at, CabinetLink.revoked_at)
        .where(CabinetLink.token_hash == token_hash(token))
    ).first()
    if row is None or row.revoked_at is not None:
        return None
    if row.expires_at is not None and row.expires_at <= now:
        return None
    return str(row.company_id)


def describe(session: Session, company_id: str | None, now: datetime) -> list[dict[str, str]]:
    """Every link (no tokens: they are not stored), for ``deskpilot cabinet list``."""
    q = select(CabinetLink).order_by(CabinetLink.company_id, CabinetLink.created_at)
    if company_id:
        q = q.where(CabinetLink.company_id == company_id)
    out = []
    for r in session.execute(q).scalars():
        state = ("revoked" if r.revoked_at else
                 "expired" if r.expires_at and r.expires_at <= now else "live")
        out.append({"company": r.company_id, "state": state,
                    "created": r.created_at.isoformat(),
                    "expires": r.expires_at.isoformat() if r.expires_at else "never"})
    return out
