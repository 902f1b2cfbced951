"""Freshdesk API v2 client: ticket ``PUT``, then notes and time entries.

Facts (HOSTS.md §3): Basic auth with the API key as user and ``X`` as password; status ints
2 Open, 3 Pending, 4 Resolved, 5 Closed; ``PUT /api/v2/tickets/{id}`` with ``status``,
``fr_due_by`` (first response due), ``due_by`` (resolution due), ``responder_id``,
``custom_fields: {"cf_name": value}``; notes ``POST /api/v2/tickets/{id}/notes
{body, private}``; time ``POST /api/v2/tickets/{id}/time_entries {time_spent: "hh:mm",
agent_id, note}`` (also mpclarkson/freshdesk-php-sdk ``src/Resources/TimeEntry.php``).
Company fields: ``PUT /api/v2/companies/{id} {"custom_fields": {...}}`` — Freshdesk
"Update a Company" (mirrored at withone.ai; sjkingo/python-freshdesk ``freshdesk/v2/api.py``
uses ``companies/{id}``). Polling: ``GET /api/v2/tickets?updated_since=…`` (the same SDK);
per updated ticket, List All Conversations ``GET /api/v2/tickets/{id}/conversations``
(replies and notes: ``incoming`` true for the requester's, ``private``, ``user_id``,
``body_text``, ``created_at``) and List Time Entries ``GET /api/v2/tickets/{id}/time_entries``
(``time_spent`` "hh:mm", ``agent_id``, ``timer_running``, ``created_at``), both paged with
``per_page`` ≤ 100 (developers.freshdesk.com/api #list_all_ticket_notes, #list_all_time_entries).
Due-date rules: Freshdesk's own API validator ``TicketValidation`` (Rails, ``ApiValidation``
subclass, found by the code search): no ``due_by``/``fr_due_by`` with status 4/5;
``fr_due_by`` ≤ ``due_by`` (a value not sent is taken from the stored ticket); both after
``created_at``; on create, both or neither.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from functools import partial
from typing import Any

from plugin.hosts.base import (
    HttpHostClient,
    Steps,
    basic_auth,
    hhmm,
    html_text,
    int_or_str,
    result,
    segment,
)
from plugin.hosts.errors import ClientError, NotFound
from plugin.outbox.coalesce import ChangeSet, changeset
from plugin.outbox.commands import Command, PushResult

PAGE = 100
#: Freshdesk refuses ``page`` above 300 on List All Tickets
MAX_PAGE = 300
INCLUDE = "requester,company,description"
#: Resolved/Closed: Freshdesk refuses due dates with them (``cannot_set_due_by_fields``,
#: Freshdesk's API ``TicketValidation#disallowed_status?``)
_NO_DUE_STATUSES = {4, 5}


class FreshdeskClient(HttpHostClient):
    """Writes Deskpilot's commands to a Freshdesk account."""

    kind = "freshdesk"
    DEFAULT_STATUS_MAP = {
        "new": 2, "accepted": 2, "in_progress": 2, "waiting_client": 3, "on_hold": 3,
        "resolved": 4, "closed": 5,
    }

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self._agents: dict[Any, str | None] = {}

    def auth_headers(self) -> dict[str, str]:
        return basic_auth(self.credential("api_key"), "X")

    def push(self, ticket_id: str, commands: Sequence[Command], *, company: str | None = None,
             idempotency_key: str, done: Collection[str] = ()) -> PushResult:
        cs = changeset(commands)
        steps = Steps(done)
        skipped: list[str] = []
        company_side = self.wants_company_side(company)
        update: dict[str, Any] = {}
        status = self.host_status(cs.status) if cs.status else None
        if status is not None:
            update["status"] = status
        if cs.assignee:
            update["responder_id"] = int_or_str(cs.assignee)
        if cs.host_due and status not in _NO_DUE_STATUSES:
            update.update(_due_fields(cs))
        custom = {str(k): v for k, v in self.ticket_values(cs, skipped,
                                                           company_side=company_side)}
        if custom:
            update["custom_fields"] = custom
        refused: list[str] = []
        if update:
            steps.run("ticket", lambda: self._put_ticket(ticket_id, update, refused))
        for i, note in enumerate(cs.notes):
            body = {"body": html_text(note.body), "private": note.internal}
            steps.run(f"note-{i}", partial(
                self.request, "POST", f"/api/v2/tickets/{segment(ticket_id)}/notes", json=body))
        for i, log in enumerate(cs.time_logs):
            entry: dict[str, Any] = {"time_spent": hhmm(log.minutes)}
            if log.note:
                entry["note"] = log.note
            if log.agent_id:
                entry["agent_id"] = int_or_str(log.agent_id)
            steps.run(f"time-{i}", partial(
                self.request, "POST", f"/api/v2/tickets/{segment(ticket_id)}/time_entries",
                json=entry))
        fields = {str(k): v for k, v in self.company_values(cs)}
        if company_side and fields:
            steps.run("company", lambda: self.request(
                "PUT", f"/api/v2/companies/{segment(company)}", json={"custom_fields": fields}))
        res = result(ticket_id, steps, skipped)
        return replace(res, detail="; ".join(filter(None, [res.detail, *refused])))

    def _put_ticket(self, ticket_id: str, update: dict[str, Any], refused: list[str]) -> Any:
        """The ticket ``PUT``; due dates Freshdesk refuses are dropped, the rest still lands.

        Freshdesk validates due dates against values we cannot see (the ticket's stored
        ``due_by``/``fr_due_by``, its ``created_at``, its current status), so a 400 naming
        them is retried once without them rather than losing the status and fields.
        """
        path = f"/api/v2/tickets/{segment(ticket_id)}"
        try:
            return self.request("PUT", path, json=update)
        except ClientError as exc:
            due = [k for k in ("due_by", "fr_due_by") if k in update]
            if exc.status != 400 or not due or "due_by" not in exc.body:
                raise
            refused.append(f"due dates refused by Freshdesk: {exc.body}")
            rest = {k: v for k, v in update.items() if k not in due}
            return self.request("PUT", path, json=rest) if rest else None

    def get_ticket(self, ticket_id: str) -> dict[str, Any]:
        return dict(self.request("GET", f"/api/v2/tickets/{segment(ticket_id)}") or {})

    def _pages(self, params: dict[str, Any]) -> Iterator[dict[str, Any]]:
        # List All Tickets: ``per_page`` ≤ 100, ``page`` ≤ 300 (developers.freshdesk.com/api
        # #list_all_tickets); ``include=requester,company,description`` embeds what the
        # automation template renders (each embed costs API credits, but saves a call per
        # ticket). A page shorter than ``per_page`` is the last.
        page = 1
        while page <= MAX_PAGE:
            rows = self.request("GET", "/api/v2/tickets", params={
                **params, "include": INCLUDE, "per_page": PAGE, "page": page}) or []
            for row in rows:
                yield self._with_agent(row)
            if len(rows) < PAGE:
                return
            page += 1

    def _with_agent(self, ticket: dict[str, Any]) -> dict[str, Any]:
        """The ticket with ``agent_email`` (``{{ticket.agent.email}}``), one lookup per agent."""
        agent = ticket.get("responder_id")
        if agent is None:
            return ticket
        if agent not in self._agents:
            # View an Agent: ``GET /api/v2/agents/{id}`` → ``{"id", "contact": {"email", …}}``
            try:
                found = self.request("GET", f"/api/v2/agents/{segment(agent)}") or {}
            except NotFound:
                found = {}
            self._agents[agent] = (found.get("contact") or {}).get("email")
        return {**ticket, "agent_email": self._agents[agent]}

    def ticket_conversations(self, ticket_id: str) -> list[dict[str, Any]]:
        """Replies and notes of the ticket, oldest first (the description is not one)."""
        return self._rows(f"/api/v2/tickets/{segment(ticket_id)}/conversations")

    def ticket_time_entries(self, ticket_id: str) -> list[dict[str, Any]]:
        return self._rows(f"/api/v2/tickets/{segment(ticket_id)}/time_entries")

    def _rows(self, path: str) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for page in range(1, MAX_PAGE + 1):
            rows = self.request("GET", path, params={"per_page": PAGE, "page": page}) or []
            out += [r for r in rows if isinstance(r, dict)]
            if len(rows) < PAGE:
                break
        return out

    def list_updated(self, since: datetime) -> Iterator[dict[str, Any]]:
        stamp = since.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        return self._pages({"updated_since": stamp, "order_by": "updated_at",
                            "order_type": "asc"})

    def list_open(self) -> Iterator[dict[str, Any]]:
        # Without updated_since Freshdesk lists only the last 30 days.
        for ticket in self._pages({"updated_since": "2000-01-01T00:00:00Z"}):
            if ticket.get("status") in (2, 3):
                yield ticket


def _due_fields(cs: ChangeSet) -> dict[str, str]:
    """``fr_due_by`` / ``due_by`` from our deadlines; acceptance stands in for first response.

    Freshdesk's own ``TicketValidation`` (the API's Rails validator) refuses
    ``fr_due_by`` later than ``due_by`` (error ``lt_due_by``), comparing with the STORED value
    when only one is sent, and refuses both with status Resolved/Closed
    (``cannot_set_due_by_fields``) and before ``created_at``. So when both are known a later
    first-response date is clamped to the resolution date (both sent, nothing compared with
    stored values); the rest is caught by :meth:`FreshdeskClient._put_ticket`. ``None``
    (no deadline) is not written: Freshdesk keeps its own SLA date then.
    """
    dl = cs.deadlines or {}
    first = dl.get("first_response_due") or dl.get("accept_due")
    due = dl.get("resolve_due")
    out: dict[str, str] = {}
    if due:
        out["due_by"] = _utc(due)
    if first:
        out["fr_due_by"] = _utc(due if due and _parse(first) > _parse(due) else first)
    return out


def _parse(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _utc(value: str) -> str:
    return _parse(value).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
