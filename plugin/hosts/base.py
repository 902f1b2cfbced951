"""The interface every host API client implements."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any

from plugin.hosts.commands import Command, PushResult


class HostClient:
    """Carries out outbox commands against one host connection; decides nothing."""

    kind: str = ""

    def push(self, ticket_id: str, commands: Sequence[Command], *, company: str | None = None,
             idempotency_key: str) -> PushResult:
        """Apply all commands for one ticket in as few calls as the host allows."""
        raise NotImplementedError

    def list_updated(self, since: datetime) -> Iterator[dict[str, Any]]:
        """Tickets updated at or after ``since`` (host JSON), for reconciliation."""
        raise NotImplementedError

    def get_ticket(self, ticket_id: str) -> dict[str, Any]:
        """One ticket as the host's API returns it."""
        raise NotImplementedError

    def close(self) -> None:
        """Release the HTTP session."""
