"""Redmine REST client: ``PUT /issues/{id}.json`` plus ``POST /time_entries.json``.

Facts (HOSTS.md §4, from redmine/redmine 5.0-stable): ``X-Redmine-API-Key`` header;
``PUT /issues/{id}.json {"issue": {status_id, due_date (date only), assigned_to_id,
custom_fields: [{id, value}], notes, private_notes}}`` answered 204; time entries
``POST /time_entries.json {"time_entry": {issue_id, hours, activity_id, comments}}``.
EVERY write carries ``X-Skip-Webhooks: 1`` so the redmine_webhook plugin does not echo our
own changes back (suer/redmine_webhook). Redmine has no company object: balances go to an
issue custom field. ``due_date`` holds only the date (the resolution deadline's, or the
acceptance deadline's until there is one), so the times go to string custom fields
(``field_map["accept_due"]``, ``["resolve_due"]``): Redmine 5/6 have no datetime custom
field. Polling: ``GET /issues.json?updated_on=>=…&status_id=*`` (Redmine REST API
"Listing issues", ``updated_on`` filter with operators), then each issue's journals.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Sequence
from datetime import UTC, datetime
from functools import partial
from typing import Any

from plugin.hosts.base import HttpHostClient, Steps, int_or_str, iso_date, result, segment
from plugin.outbox.coalesce import Note, changeset
from plugin.outbox.commands import Command, PushResult

SKIP = {"X-Skip-Webhooks": "1"}
PAGE = 100
#: time_entry.comments is a 1024-character column in Redmine 5; stay well inside it
COMMENT_LIMIT = 255


class RedmineClient(HttpHostClient):
    """Writes Deskpilot's commands to a Redmine instance."""

    kind = "redmine"
    # The ids of a stock Redmine install (issue_statuses fixtures); instances differ, so
    # ``status_map`` normally overrides them (GET /issue_statuses.json lists them).
    DEFAULT_STATUS_MAP = {
        "new": 1, "accepted": 2, "in_progress": 2, "waiting_client": 4, "on_hold": 4,
        "resolved": 3, "closed": 5,
    }

    def auth_headers(self) -> dict[str, str]:
        return {"X-Redmine-API-Key": self.credential("api_key")}

    def write(self, method: str, path: str, body: Any) -> Any:
        return self.request(method, path, json=body, headers=SKIP)

    def push(self, ticket_id: str, commands: Sequence[Command], *, company: str | None = None,
             idempotency_key: str, done: Collection[str] = ()) -> PushResult:
        cs = changeset(commands)
        steps = Steps(done)
        skipped: list[str] = []
        issue: dict[str, Any] = {}
        status = self.host_status(cs.status) if cs.status else None
        if status is not None:
            issue["status_id"] = status
        if cs.assignee:
            issue["assigned_to_id"] = int_or_str(cs.assignee)
        if cs.host_due and cs.deadlines is not None:
            # until acceptance the acceptance deadline is the one ``due_date`` shows (SPEC §2)
            issue["due_date"] = iso_date(cs.deadlines.get("resolve_due")
                                         or cs.deadlines.get("accept_due"))
        custom = [{"id": int_or_str(k), "value": _text(v)}
                  for k, v in self.ticket_values(cs, skipped, company_side=False)]
        if custom:
            issue["custom_fields"] = custom
        notes = list(cs.notes)
        if notes:
            issue.update(_journal(notes.pop(0)))
        if issue:
            steps.run("issue", lambda: self.write(
                "PUT", f"/issues/{segment(ticket_id)}.json", {"issue": issue}))
        # One journal per PUT: each further note is its own (notes-only) update.
        for i, note in enumerate(notes, start=1):
            body = {"issue": _journal(note)}
            steps.run(f"note-{i}", partial(self.write, "PUT",
                                           f"/issues/{segment(ticket_id)}.json", body))
        activity = self.conn.options.get("time_activity_id")
        for i, log in enumerate(cs.time_logs):
            entry: dict[str, Any] = {"issue_id": int_or_str(ticket_id),
                                     "hours": round(log.minutes / 60, 2)}
            if activity is not None:
                entry["activity_id"] = activity
            if log.note:
                entry["comments"] = log.note[:COMMENT_LIMIT]
            steps.run(f"time-{i}", partial(
                self.write, "POST", "/time_entries.json", {"time_entry": entry}))
        return result(ticket_id, steps, skipped)

    def get_ticket(self, ticket_id: str) -> dict[str, Any]:
        data = self.request("GET", f"/issues/{segment(ticket_id)}.json",
                            params={"include": "journals"}) or {}
        return dict(data.get("issue") or {})

    def comment_visibility(self, ticket_id: str) -> dict[str, bool]:
        """Each journal's id → public (``not private_notes``) as the issue's API shows it.

        ``GET /issues/{id}.json?include=journals`` lists a private note only to a user with
        "View private notes"; one it leaves out is absent here (the caller decides)."""
        journals = self.get_ticket(ticket_id).get("journals") or []
        return {str(j["id"]): not bool(j.get("private_notes"))
                for j in journals if isinstance(j, dict) and j.get("id") is not None}

    def _pages(self, params: dict[str, Any]) -> Iterator[dict[str, Any]]:
        offset = 0
        while True:
            data = self.request("GET", "/issues.json",
                                params={**params, "limit": PAGE, "offset": offset}) or {}
            issues = data.get("issues") or []
            yield from issues
            offset += len(issues)
            if not issues or offset >= int(data.get("total_count") or 0):
                return

    def list_updated(self, since: datetime) -> Iterator[dict[str, Any]]:
        """Issues updated since ``since``, each with its ``journals`` (the list endpoint has
        none): who changed an issue is only in its journals (README, Redmine)."""
        stamp = since.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        for issue in self._pages({"updated_on": f">={stamp}", "status_id": "*",
                                  "sort": "updated_on"}):
            full = self.get_ticket(str(issue.get("id")))
            yield {**issue, "journals": full.get("journals") or []}

    def ticket_time_entries(self, ticket_id: str) -> list[dict[str, Any]]:
        """The issue's time entries (``GET /time_entries.json?issue_id=``), every page."""
        out: list[dict[str, Any]] = []
        while True:
            data = self.request("GET", "/time_entries.json", params={
                "issue_id": ticket_id, "limit": PAGE, "offset": len(out)}) or {}
            page = data.get("time_entries") or []
            out.extend(page)
            if not page or len(out) >= int(data.get("total_count") or 0):
                return out

    def list_open(self) -> Iterator[dict[str, Any]]:
        return self._pages({"status_id": "open", "sort": "id"})


def _journal(note: Note) -> dict[str, Any]:
    return {"notes": note.body, "private_notes": note.internal}


def _text(value: Any) -> Any:
    # Redmine custom field values are strings (lists for multi-value fields).
    if value is None or isinstance(value, list):
        return value if value is not None else ""
    return str(value)
