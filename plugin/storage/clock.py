"""The one wall clock of the application (only the outer layers read it)."""

from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    """The current instant, aware, in UTC; only the outer layers call it."""
    return datetime.now(UTC)
