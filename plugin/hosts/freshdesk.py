"""Freshdesk API v2 client: ticket ``PUT``, then notes and time entries.

Facts (HOSTS.md §3): Basic auth with the API key as user and ``X`` as password; status ints
2 Open, 3 Pending, 4 Resolved, 5 Closed; ``PUT /api/v2/tickets/{id}`` with ``status``,
``fr_due_by`` (first response due), ``due_by`` (resolution due), ``responder_id``,
``custom_fields: {"cf_name": value}``; notes ``POST /api/v2/tickets/{id}/notes
{body, private}``; time ``POST /api/v2/tickets/{id}/time_entries {time_spent: "hh:mm",
agent_id, note}`` (also mpclarkson/freshdesk-php-sdk ``src/Resources/TimeEntry.php``).
Company fields: ``PUT /api/v2/companies/{id} {"custom_fields": {...}}`` — Freshdesk
"Update a Company" (mirrored at withone.ai; sjkingo/python-freshdesk ``freshdesk/v2/api.py``
uses ``companies/{id}``). Polling: ``GET /api/v2/tickets?updated_since=…`` (the same SDK).
"""

from __future__ import annotations

import base64
from collections.abc import Collection, Iterator, Sequence
from datetime import UTC, datetime
from functools import partial
from typing import Any

from plugin.hosts.base import HttpHostClient, Steps, hhmm, int_or_str, result
from plugin.hosts.coalesce import ChangeSet, changeset
from plugin.hosts.commands import Command, PushResult

PAGE = 100
#: statuses whose SLA clock is stopped: writing due dates there is refused or pointless
_NO_DUE_STATUSES = {4, 5}


class FreshdeskClient(HttpHostClient):
    """Writes Deskpilot's commands to a Freshdesk account."""

    kind = "freshdesk"
    DEFAULT_STATUS_MAP = {
        "new": 2, "accepted": 2, "in_progress": 2, "waiting_client": 3, "on_hold": 3,
        "resolved": 4, "closed": 5,
    }

    def auth_headers(self) -> dict[str, str]:
        user = f"{self.credential('api_key')}:X"
        return {"Authorization": "Basic " + base64.b64encode(user.encode()).decode()}

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
        if cs.deadlines is not None and status not in _NO_DUE_STATUSES:
            update.update(_due_fields(cs))
        custom = {str(k): v for k, v in self.ticket_values(cs, skipped,
                                                           company_side=company_side)}
        if custom:
            update["custom_fields"] = custom
        if update:
            steps.run("ticket", lambda: self.request(
                "PUT", f"/api/v2/tickets/{ticket_id}", json=update))
        for i, note in enumerate(cs.notes):
            body = {"body": note.body, "private": note.internal}
            steps.run(f"note-{i}", partial(
                self.request, "POST", f"/api/v2/tickets/{ticket_id}/notes", json=body))
        for i, log in enumerate(cs.time_logs):
            entry: dict[str, Any] = {"time_spent": hhmm(log.minutes)}
            if log.note:
                entry["note"] = log.note
            if log.agent_id:
                entry["agent_id"] = int_or_str(log.agent_id)
            steps.run(f"time-{i}", partial(
                self.request, "POST", f"/api/v2/tickets/{ticket_id}/time_entries", json=entry))
        fields = {str(k): v for k, v in self.company_values(cs)}
        if company_side and fields:
            steps.run("company", lambda: self.request(
                "PUT", f"/api/v2/companies/{company}", json={"custom_fields": fields}))
        return result(ticket_id, steps, skipped)

    def get_ticket(self, ticket_id: str) -> dict[str, Any]:
        return dict(self.request("GET", f"/api/v2/tickets/{ticket_id}") or {})

    def _pages(self, params: dict[str, Any]) -> Iterator[dict[str, Any]]:
        page = 1
        while True:
            rows = self.request("GET", "/api/v2/tickets",
                                params={**params, "per_page": PAGE, "page": page}) or []
            yield from rows
            if len(rows) < PAGE:
                return
            page += 1

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

    Freshdesk rejects a first-response due date after the resolution due date, so the
    first-response one is dropped in that case. ``None`` (no deadline) is not written:
    Freshdesk keeps its own SLA date then.
    """
    dl = cs.deadlines or {}
    first = dl.get("first_response_due") or dl.get("accept_due")
    due = dl.get("resolve_due")
    out: dict[str, str] = {}
    if due:
        out["due_by"] = _utc(due)
    if first and (not due or _parse(first) <= _parse(due)):
        out["fr_due_by"] = _utc(first)
    return out


def _parse(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _utc(value: str) -> str:
    return _parse(value).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
