"""django-helpdesk 2.6 REST client (TESTED against the real host, HOSTS.md §5).

Write pattern: one silent ``PATCH {base}/api/tickets/{id}/`` for ``due_date``,
``assigned_to``, ``on_hold`` and ``custom_<name>`` fields (it fires no webhook), then
``POST {base}/api/followups/`` for notes, status and time (each fires the followup webhook,
which the receiver recognises by the followup's user). A status change with no note or time
to carry it goes into the PATCH, so it costs no followup and no echo.
``{base}`` includes the helpdesk's URL prefix, e.g. ``http://127.0.0.1:8000/helpdesk``.
Auth: DRF ``Authorization: Token <key>`` (credential ``token``), or Basic with ``username``
and ``password``. Statuses 1 Open, 2 Reopened, 3 Resolved, 4 Closed, 5 Duplicate; on hold is
the ``on_hold`` flag. The ticket list is DRF-paginated (25 a page, ``next`` links).
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Sequence
from datetime import datetime
from functools import partial
from typing import Any

from plugin.hosts.base import HttpHostClient, Steps, basic_auth, int_or_str, result
from plugin.outbox.coalesce import ChangeSet, TimeLog, changeset
from plugin.outbox.commands import Command, PushResult

OPEN_STATUSES = "1,2"
#: reconciliation also looks at resolved tickets (a resolution missed while we were down)
RECENT_STATUSES = "1,2,3"


class DjangoHelpdeskClient(HttpHostClient):
    """Writes Deskpilot's commands to a django-helpdesk instance."""

    kind = "django_helpdesk"
    DEFAULT_STATUS_MAP = {
        "new": 1, "accepted": 1, "in_progress": 1, "waiting_client": 1, "on_hold": 1,
        "resolved": 3, "closed": 4,
    }

    def auth_headers(self) -> dict[str, str]:
        token = self.conn.credentials.get("token")
        if token:
            return {"Authorization": f"Token {token}"}
        return basic_auth(self.credential("username"), self.credential("password"))

    def push(self, ticket_id: str, commands: Sequence[Command], *, company: str | None = None,
             idempotency_key: str, done: Collection[str] = ()) -> PushResult:
        cs = changeset(commands)
        steps = Steps(done)
        skipped: list[str] = []
        followups = self._followups(ticket_id, cs)
        patch: dict[str, Any] = {}
        if cs.status:
            patch["on_hold"] = cs.status == "on_hold"
            status = self.host_status(cs.status)
            if status is not None and not followups:
                patch["status"] = status
        if cs.deadlines is not None:
            # due_date is the one deadline the helpdesk shows: resolution once known, until
            # then the acceptance deadline.
            patch["due_date"] = cs.deadlines.get("resolve_due") or cs.deadlines.get("accept_due")
        if cs.assignee:
            patch["assigned_to"] = int_or_str(cs.assignee)
        for key, value in self.ticket_values(cs, skipped, company_side=False):
            patch[f"custom_{key}"] = value
        if patch:
            steps.run("ticket", partial(
                self.request, "PATCH", f"/api/tickets/{ticket_id}/", json=patch))
        for i, body in enumerate(followups):
            steps.run(f"followup-{i}", partial(
                self.request, "POST", "/api/followups/", json=body))
        return result(ticket_id, steps, skipped)

    def _followups(self, ticket_id: str, cs: ChangeSet) -> list[dict[str, Any]]:
        """One followup per note; the first carries the status, time logs ride along."""
        logs = list(cs.time_logs)
        out: list[dict[str, Any]] = []
        for note in cs.notes:
            log = logs.pop(0) if logs else None
            comment = note.body
            if log is not None and log.note and log.note not in comment:
                comment = f"{comment}\n\n{log.note}"
            out.append(self._followup(ticket_id, comment, not note.internal, log))
        for log in logs:  # time with no note left to carry it: an internal followup each
            out.append(self._followup(
                ticket_id, log.note or f"Time logged: {log.minutes} min", False, log))
        status = self.host_status(cs.status) if cs.status else None
        if out and status is not None:
            out[0]["new_status"] = status
        return out

    def _followup(self, ticket_id: str, comment: str, public: bool,
                  log: TimeLog | None) -> dict[str, Any]:
        body: dict[str, Any] = {"ticket": int_or_str(ticket_id), "comment": comment,
                                "public": public}
        if log is not None:
            body["time_spent"] = _duration(log.minutes)
        title = self.conn.options.get("followup_title")
        if title:
            body["title"] = title
        return body

    def get_ticket(self, ticket_id: str) -> dict[str, Any]:
        return dict(self.request("GET", f"/api/tickets/{ticket_id}/") or {})

    def _pages(self, status: str) -> Iterator[dict[str, Any]]:
        url: str | None = "/api/tickets/"
        params: dict[str, Any] | None = {"status": status}
        while url:
            page = self.request("GET", url, params=params) or {}
            if isinstance(page, list):  # pagination switched off in REST_FRAMEWORK
                yield from page
                return
            yield from page.get("results") or []
            url, params = page.get("next"), None  # ``next`` already has the query

    def list_updated(self, since: datetime) -> Iterator[dict[str, Any]]:
        # Tickets carry no modification time; their followups do (every change a user
        # makes through the UI, API or e-mail creates one).
        for ticket in self._pages(RECENT_STATUSES):
            if any(_after(f.get("date"), since) for f in ticket.get("followup_set") or []):
                yield ticket

    def list_open(self) -> Iterator[dict[str, Any]]:
        return self._pages(OPEN_STATUSES)


def _duration(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}:00"


def _after(value: Any, since: datetime) -> bool:
    if not isinstance(value, str):
        return False
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return False
    if when.tzinfo is None:  # USE_TZ=False installs answer naive local times; assume UTC
        when = when.replace(tzinfo=since.tzinfo)
    return when >= since
