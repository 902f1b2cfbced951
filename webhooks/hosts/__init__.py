"""One adapter module per host kind, registered in one visible dict."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from types import ModuleType
from typing import Any, Protocol

from plugin.settings import Connection
from rules.event import TicketEvent
from webhooks.hosts import django_helpdesk, freshdesk, generic, redmine, zammad, zendesk


class Adapter(Protocol):
    """The shape of a ``webhooks/hosts/<kind>.py`` module."""

    KIND: str
    SIGNED: bool

    def verify(self, body: bytes, headers: Mapping[str, str], secrets: Any,
               now: datetime) -> None: ...

    def parse(self, body: bytes, headers: Mapping[str, str],
              conn: Connection) -> list[TicketEvent]: ...

    def delivery_key(self, body: bytes, headers: Mapping[str, str]) -> str | None: ...


ADAPTERS: dict[str, ModuleType] = {
    "zammad": zammad,
    "zendesk": zendesk,
    "freshdesk": freshdesk,
    "redmine": redmine,
    "django_helpdesk": django_helpdesk,
    "generic": generic,
}
