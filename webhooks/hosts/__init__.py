"""One adapter module per host kind, registered in one visible dict."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Protocol

from plugin.settings import Connection, Secret
from rules.event import TicketEvent
from webhooks.hosts import django_helpdesk, freshdesk, generic, redmine, zammad, zendesk


class Adapter(Protocol):
    """The shape of a ``webhooks/hosts/<kind>.py`` module."""

    KIND: str
    SIGNED: bool

    def verify(self, body: bytes, headers: Mapping[str, str], secrets: Sequence[Secret],
               now: datetime) -> None: ...

    def parse(self, body: bytes, headers: Mapping[str, str],
              conn: Connection) -> list[TicketEvent]: ...

    def delivery_key(self, body: bytes, headers: Mapping[str, str]) -> str | None: ...


ADAPTERS: dict[str, Adapter] = {
    "zammad": zammad,
    "zendesk": zendesk,
    "freshdesk": freshdesk,
    "redmine": redmine,
    "django_helpdesk": django_helpdesk,
    "generic": generic,
}
