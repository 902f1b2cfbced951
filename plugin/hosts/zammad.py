"""Zammad REST client: one ticket ``PUT`` with an inline article, then time accountings.

Facts (HOSTS.md §1): ``Authorization: Token token=<token>``; ``PUT /api/v1/tickets/{id}``
takes ``state`` by name, ``owner_id``, custom attributes as top-level keys and one inline
``article``; notes are articles ``type: note`` (``internal: true`` hides them from the
customer); time via ``POST /api/v1/tickets/{id}/time_accountings {"time_unit": "60.0"}``.
Deadlines go to custom datetime attributes named in ``field_map`` and NEVER to
``pending_time``, which drives Zammad's pending-close.
Organisation fields: ``PUT /api/v1/organizations/{id}`` with attributes as top-level keys,
needs ``admin.organization`` — zammad/zammad-documentation ``api/organization.rst``.
Polling: ``GET /api/v1/tickets/search?query=…&sort_by=…&order_by=…&expand=true`` —
``api/ticket/index.rst`` (Search) and ``api/intro.rst``; per updated ticket its articles,
``GET /api/v1/ticket_articles/by_ticket/{id}`` (``api/ticket/articles.rst``: every article
with ``sender``, ``type``, ``internal``, ``created_by_id``, ``created_at``), and its time,
``GET /api/v1/tickets/{id}/time_accountings`` (``api/ticket/timeaccounting.rst``:
``ticket_article_id``, ``time_unit``, ``created_by_id``, ``created_at``).
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Sequence
from datetime import UTC, datetime
from functools import partial
from typing import Any

from plugin.hosts.base import HttpHostClient, Steps, int_or_str, result, segment
from plugin.outbox.coalesce import Note, changeset
from plugin.outbox.commands import Command, PushResult

#: attributes a deadline must never be written to
FORBIDDEN_KEYS = frozenset({"pending_time"})
PAGE = 100


class ZammadClient(HttpHostClient):
    """Writes Deskpilot's commands to a Zammad instance."""

    kind = "zammad"
    # Verified against zammad/zammad: the default states are db/seeds/ticket_states.rb
    # (1 new, 2 open = default_follow_up, 3 pending reminder, 4 closed, 5 merged, 6 removed,
    # 7 pending close = state type "pending action"). For the two pending state types
    # CoreWorkflow::Custom::PendingTime makes pending_time mandatory, and
    # ChecksCoreWorkflow#check_mandatory refuses an update without it ("Missing required
    # value for field 'pending_time'!", 422) — it runs for API updates too, since
    # TicketsController#update sets screen 'edit'. We never write pending_time (it drives
    # pending-close), so waiting and on hold map to open, and resolved to closed (there is
    # no resolved state; a client's follow-up reopens a closed ticket to "open").
    DEFAULT_STATUS_MAP = {
        "new": "new", "accepted": "open", "in_progress": "open", "waiting_client": "open",
        "on_hold": "open", "resolved": "closed", "closed": "closed",
    }

    def auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Token token={self.credential('token')}"}

    def push(self, ticket_id: str, commands: Sequence[Command], *, company: str | None = None,
             idempotency_key: str, done: Collection[str] = ()) -> PushResult:
        cs = changeset(commands)
        steps = Steps(done)
        skipped: list[str] = []
        company_side = self.wants_company_side(company)
        update: dict[str, Any] = {}
        if cs.status and self.host_status(cs.status) is not None:
            update["state"] = self.host_status(cs.status)
        if cs.assignee:
            update["owner_id"] = int_or_str(cs.assignee)
        for key, value in self.ticket_values(cs, skipped, company_side=company_side):
            if key in FORBIDDEN_KEYS:
                skipped.append(str(key))
            else:
                update[str(key)] = value
        notes = list(cs.notes)
        if notes:
            update["article"] = self._article(notes.pop(0))
        if update:
            steps.run("ticket", lambda: self.request(
                "PUT", f"/api/v1/tickets/{segment(ticket_id)}", json=update))
        for i, note in enumerate(notes, start=1):
            body = {"ticket_id": int_or_str(ticket_id), **self._article(note)}
            steps.run(f"article-{i}", partial(
                self.request, "POST", "/api/v1/ticket_articles", json=body))
        type_id = self.conn.options.get("time_accounting_type_id")
        for i, log in enumerate(cs.time_logs):
            body = {"time_unit": f"{float(log.minutes):.1f}"}
            if type_id is not None:
                body["type_id"] = type_id
            steps.run(f"time-{i}", partial(
                self.request, "POST", f"/api/v1/tickets/{segment(ticket_id)}/time_accountings",
                json=body))
        org = {str(k): v for k, v in self.company_values(cs)}
        if company_side and org:
            steps.run("organization", lambda: self.request(
                "PUT", f"/api/v1/organizations/{segment(company)}", json=org))
        return result(ticket_id, steps, skipped)

    @staticmethod
    def _article(note: Note) -> dict[str, Any]:
        return {"body": note.body, "content_type": "text/plain", "type": "note",
                "internal": note.internal}

    def get_ticket(self, ticket_id: str) -> dict[str, Any]:
        return dict(self.request("GET", f"/api/v1/tickets/{segment(ticket_id)}",
                                 params={"expand": "true"}) or {})

    def _search(self, query: str) -> Iterator[dict[str, Any]]:
        page = 1
        while True:
            data = self.request("GET", "/api/v1/tickets/search", params={
                "query": query, "sort_by": "updated_at", "order_by": "asc",
                "limit": PAGE, "page": page, "expand": "true"})
            tickets = _search_tickets(data)
            yield from tickets
            if len(tickets) < PAGE:
                return
            page += 1

    def ticket_articles(self, ticket_id: str) -> list[dict[str, Any]]:
        rows = self.request("GET", f"/api/v1/ticket_articles/by_ticket/{segment(ticket_id)}")
        return [a for a in rows or [] if isinstance(a, dict)]

    def ticket_time_accountings(self, ticket_id: str) -> list[dict[str, Any]]:
        rows = self.request("GET", f"/api/v1/tickets/{segment(ticket_id)}/time_accountings")
        return [a for a in rows or [] if isinstance(a, dict)]

    def list_updated(self, since: datetime) -> Iterator[dict[str, Any]]:
        stamp = since.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        return self._search(f"updated_at:>={stamp}")

    def list_open(self) -> Iterator[dict[str, Any]]:
        states = self.conn.options.get("open_states", ["new", "open", "pending reminder"])
        return self._search("state.name:(" + " OR ".join(f'"{s}"' for s in states) + ")")


def _search_tickets(data: Any) -> list[dict[str, Any]]:
    """``expand=true`` answers a list; without it Zammad answers ids plus ``assets``."""
    if isinstance(data, list):
        return data
    if isinstance(data, dict):
        assets = (data.get("assets") or {}).get("Ticket") or {}
        return [assets[str(i)] for i in data.get("tickets") or [] if str(i) in assets]
    return []

