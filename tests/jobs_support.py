"""Helpers for the workers' tests: settings with a generic connection, stored events,
credits, and a fake host client that records what it was asked to push."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from plugin.context import Context, build_context, set_context
from plugin.outbox.commands import Command, PushResult
from plugin.settings import load_settings
from plugin.storage.models import Event, EventState
from webhooks.hosts import generic

ROOT = Path(__file__).resolve().parent.parent
SECRET = "s3cret-for-tests"


def make_context(db_url: str, redis_url: str | None = None,
                 callback_url: str | None = None, inline_push: bool = True) -> Context:
    """A context on a fresh schema with the shipped config and one generic connection
    (``inline_push=False``: every push goes through a push job)."""
    return connections_context(db_url, [
        {"name": "generic", "kind": "generic", "webhook_secrets": [SECRET],
         "credentials": {"callback_secret": "callback-" + SECRET},
         "callback_url": callback_url, "inline_push": inline_push}], redis_url=redis_url)


def connections_context(db_url: str, connections: list[dict[str, Any]], *,
                        redis_url: str | None = None,
                        var_dir: str = "/tmp/deskpilot-test-var",
                        config_dir: str | None = None,
                        settings: dict[str, Any] | None = None) -> Context:
    """A context (set as current) on a fresh schema with the shipped config (or
    ``config_dir``), these connections and any other ``settings``."""
    import plugin.tables  # noqa: F401 - every table on Base.metadata

    settings = load_settings(env={}, overrides={
        "database_url": db_url, "redis_url": redis_url,
        "config_dir": config_dir or str(ROOT / "config"), "var_dir": var_dir,
        "connections": connections, **(settings or {}),
    })
    ctx = build_context(settings)
    ctx.db.create_all()
    set_context(ctx)
    return ctx


def payload(ticket: str, event: str, at: str, *, status: str = "new", company: str = "acme",
            created: str | None = None, fields: dict[str, Any] | None = None,
            actor: str = "agent", changes: dict[str, Any] | None = None,
            time_entry: dict[str, Any] | None = None,
            comment: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "event": event, "occurred_at": at,
        "actor": {"kind": actor, "id": "a-1" if actor == "agent" else "u-1"},
        "ticket": {"id": ticket, "created_at": created or at[:11] + "10:00:00" + at[19:],
                   "subject": f"Question {ticket}",
                   "company": {"id": company, "name": company.upper()},
                   "requester": {"id": "u-1", "email": f"u@{company}.example"},
                   "status": status, "priority": "normal", "channel": "email",
                   "custom_fields": fields or {}},
        "changes": changes or {}, "comment": comment, "time_entry": time_entry,
    }


def store(ctx: Context, body: dict[str, Any], delivery: str) -> int:
    """Store an event as the receiver does (parsed, state queued); returns its id."""
    raw = json.dumps(body).encode()
    headers = {generic.DELIVERY_HEADER: delivery}
    conn = ctx.settings.connection("generic")
    evs = generic.parse(raw, headers, conn)
    with ctx.db.session() as s:
        row = Event(connection="generic", delivery_key=delivery, body_sha256="x" * 64,
                    received_at=evs[0].occurred_at, headers=headers, body=raw,
                    event_type=evs[0].event, ticket_id=evs[0].ticket.id,
                    occurred_at=evs[0].occurred_at, state=EventState.QUEUED, attempts=0)
        s.add(row)
    return row.id


def buy(ctx: Context, company: str, tasks: int, at: datetime) -> None:
    from plugin import ledger
    from plugin.storage.models import Company

    with ctx.db.session() as s:
        if s.get(Company, company) is None:
            s.add(Company(id=company, name=company.upper()))
            s.flush()
        ledger.purchase(s, company, tasks, Decimal("350"), "UAH", at)


class FakeClient:
    """Records pushes; ``fail`` is a list of exceptions raised by the next calls."""

    def __init__(self, fail: Sequence[BaseException] = ()):
        self.pushes: list[tuple[str, list[Command], str]] = []
        self.fail = list(fail)

    def push(self, ticket_id: str, commands: Sequence[Command], *, company: str | None = None,
             idempotency_key: str, done: Any = ()) -> PushResult:
        if self.fail:
            raise self.fail.pop(0)
        self.pushes.append((ticket_id, list(commands), idempotency_key))
        return PushResult(ticket_id, calls=1)

    def types(self) -> list[str]:
        return [c.type for _, cmds, _ in self.pushes for c in cmds]
