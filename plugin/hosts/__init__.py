"""Outbound host API clients, one module per kind, registered in one visible dict.

They mirror the inbound adapters in ``webhooks/hosts/``: those turn host events into
``TicketEvent``s, these turn Deskpilot's outbox ``Command``s into host API calls.
"""

from __future__ import annotations

import requests

from plugin.hosts.base import HostClient, HttpHostClient
from plugin.hosts.django_helpdesk import DjangoHelpdeskClient
from plugin.hosts.freshdesk import FreshdeskClient
from plugin.hosts.generic import GenericClient
from plugin.hosts.redmine import RedmineClient
from plugin.hosts.zammad import ZammadClient
from plugin.hosts.zendesk import ZendeskClient
from plugin.settings import Connection

CLIENTS: dict[str, type[HttpHostClient]] = {
    "zammad": ZammadClient,
    "zendesk": ZendeskClient,
    "freshdesk": FreshdeskClient,
    "redmine": RedmineClient,
    "django_helpdesk": DjangoHelpdeskClient,
    "generic": GenericClient,
}


def make_client(conn: Connection, session: requests.Session | None = None,
                **options: object) -> HostClient:
    """The client for ``conn``; close it (or use it as a context manager) when done.

    A ``session`` passed in is shared and left open; one created here is closed by
    ``close()``. ``options`` go to the client (``sleep``, ``rng``, ``retry_budget``, ...).
    """
    try:
        cls = CLIENTS[conn.kind]
    except KeyError:
        raise ValueError(f"no host client for kind {conn.kind!r}") from None
    return cls(conn, session, **options)  # type: ignore[arg-type]


__all__ = ["CLIENTS", "HostClient", "make_client"]
