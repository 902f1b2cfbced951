"""The generic callback: Deskpilot's commands POSTed, signed, to any URL (README: "Generic
(signed)").

Body ``{"delivery_id", "ticket_id", "commands": [{"type": …, …data}]}`` signed like the
inbound generic webhook (version 2: ``X-Deskpilot-Signature: t=<unix>,v2=<hex>`` covering
the timestamp, the delivery id and the body) with the connection's own outbound secret,
``credentials.callback_secret`` — never an inbound webhook secret, so the receiving end
cannot forge events to us with what it holds — plus ``X-Deskpilot-Delivery``. The delivery
id is the push's idempotency key, so a retried push is recognisable at the receiving end.
Without a ``callback_url`` the commands are recorded (logged, and kept in the outbox by the
caller), never failed. The body's shape is ``rules.generic_format.callback_body`` (the
generic format's one definition, inbound and outbound).
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Iterator, Sequence
from datetime import datetime
from functools import partial
from typing import Any

from plugin.hosts.base import HttpHostClient, Steps, result
from plugin.hosts.errors import HostError
from plugin.outbox.commands import Command, PushResult, coalesce
from rules import generic_format
from webhooks.hosts.generic import signed_headers

log = logging.getLogger("deskpilot.hosts")


def callback_body(delivery_id: str, ticket_id: str, commands: Sequence[Command]) -> bytes:
    """The exact bytes that are signed and sent (the format: rules/generic_format.py)."""
    return generic_format.callback_body(
        delivery_id, ticket_id, ((c.type, c.to_json()["data"]) for c in commands))


class GenericClient(HttpHostClient):
    """Posts commands to the connection's ``callback_url``, or records them."""

    kind = "generic"
    atomic = True
    #: the callback carries deadlines as the generic format's whole snapshot
    #: (docs/generic-format.md)
    scoped_deadlines = False

    def push(self, ticket_id: str, commands: Sequence[Command], *, company: str | None = None,
             idempotency_key: str, done: Collection[str] = ()) -> PushResult:
        folded = coalesce(commands)
        if not self.conn.callback_url:
            # No secrets or bodies at INFO: only what was decided, by type.
            log.info("hosts.recorded connection=%s ticket=%s delivery=%s commands=%s",
                     self.conn.name, ticket_id, idempotency_key,
                     ",".join(c.type for c in folded))
            return PushResult(ticket_id=ticket_id, recorded=True,
                              detail="recorded: no callback_url configured")
        secret = self.conn.credentials.get("callback_secret")
        if not secret:
            raise HostError(f"connection {self.conn.name!r}: the callback needs its own secret, "
                            "credentials.callback_secret (not a webhook secret)")
        body = callback_body(idempotency_key, ticket_id, folded)
        headers = {"Content-Type": "application/json",
                   **signed_headers(body, str(secret), idempotency_key)}
        steps = Steps(done)
        steps.run("callback", partial(
            self.request, "POST", self.conn.callback_url, data=body, headers=headers))
        return result(ticket_id, steps)

    def get_ticket(self, ticket_id: str) -> dict[str, Any]:
        raise HostError("a generic connection has no ticket API to read from")

    def list_updated(self, since: datetime) -> Iterator[dict[str, Any]]:
        return iter(())  # nothing to poll: the generic source pushes every event

    def list_open(self) -> Iterator[dict[str, Any]]:
        return iter(())
