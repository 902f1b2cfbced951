"""Admin token checks shared by the reports API and the dashboard."""

from __future__ import annotations

import hmac

from plugin.settings import Settings


def token_ok(settings: Settings, token: str | None) -> bool:
    """Whether ``token`` is one of the configured admin tokens (constant-time compare)."""
    if not token:
        return False
    given = token.encode()
    # compare against every token so the time taken does not tell which one matched
    hits = [hmac.compare_digest(given, str(t).encode()) for t in settings.admin_tokens]
    return any(hits)


def bearer(header: str | None) -> str | None:
    if header and header[:7].lower() == "bearer ":
        return header[7:].strip()
    return None
