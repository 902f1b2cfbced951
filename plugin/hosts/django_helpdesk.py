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

Values the helpdesk is known to refuse are never sent: ``custom_<name>: null`` is refused
whole (400 "This field may not be null.", HOSTS.md §5), so a deadline not known yet is left
out. Datetimes in the helpdesk's terms: ``due_date`` is a model ``DateTimeField`` and is sent
with its offset (DRF converts it); a custom datetime field is stored as the wall-time string
``CUSTOMFIELD_DATETIME_FORMAT`` (``helpdesk/lib.py convert_value``) with no zone, so it is
sent as the naive wall time of the helpdesk's own ``TIME_ZONE``, set per connection as
``options.timezone`` (default ``UTC``; the same key the Freshdesk adapter reads).

The Resolution is the helpdesk's own field: ``helpdesk/update_ticket.py`` (2.6.1) takes
``new_status = ticket.status`` for a followup posted without one and then copies the comment
into ``ticket.resolution`` whenever that status is Resolved (or Closed with no resolution), so
ANY followup on a resolved ticket (a feedback request, an internal note) would replace the
agent's resolution text. Before followups the client reads the ticket; when it had a
resolution and is (or becomes) Resolved/Closed, the resolution is written back after them
(a silent PATCH).
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterator, Sequence
from datetime import datetime
from functools import partial
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from plugin.hosts.base import HttpHostClient, Steps, basic_auth, int_or_str, result, segment
from plugin.hosts.errors import ClientError
from plugin.outbox.coalesce import ChangeSet, TimeLog, changeset
from plugin.outbox.commands import Command, PushResult

OPEN_STATUSES = "1,2"
#: statuses whose followups copy their comment into ``ticket.resolution``
RESOLVING = (3, 4)
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
        if cs.host_due and cs.deadlines is not None:
            # due_date is the one deadline the helpdesk shows: resolution once known, until
            # then the acceptance deadline.
            due = cs.deadlines.get("resolve_due") or cs.deadlines.get("accept_due")
            patch["due_date"] = due
        if cs.assignee:
            patch["assigned_to"] = int_or_str(cs.assignee)
        deadline_keys = {self.field_key(k) for k in cs.deadline_fields()} - {None}
        for key, value in self.ticket_values(cs, skipped, company_side=False):
            if value is None:
                continue  # refused whole by the helpdesk: an unknown value is left out
            patch[f"custom_{key}"] = self._wall(value) if key in deadline_keys else value
        refused: list[ClientError] = []
        if patch:
            steps.run("ticket", partial(self._patch, ticket_id, patch, refused))
        if followups:
            self._post_followups(ticket_id, followups, steps)
        if refused:
            # the rest of the write landed; the refusal is this push's outcome
            refused[0].done_steps = tuple(sorted(steps.done | set(steps.completed)))
            raise refused[0]
        return result(ticket_id, steps, skipped)

    def _patch(self, ticket_id: str, patch: dict[str, Any], refused: list[ClientError]) -> Any:
        """The ticket PATCH; fields the helpdesk refuses (DRF's 400 names them) are dropped
        and the rest is written, the refusal kept in ``refused`` for the caller to raise."""
        path = f"/api/tickets/{segment(ticket_id)}/"
        try:
            return self.request("PATCH", path, json=patch)
        except ClientError as exc:
            bad = _named_fields(exc.body) & set(patch)
            if exc.status != 400 or not bad or bad == set(patch):
                raise
            refused.append(exc)
            return self.request("PATCH", path, json={k: v for k, v in patch.items()
                                                     if k not in bad})

    def _post_followups(self, ticket_id: str, followups: list[dict[str, Any]],
                        steps: Steps) -> None:
        """Post the followups, keeping the agent's Resolution (see the module docstring)."""
        before = steps.run("read", partial(self.get_ticket, ticket_id)) or {}
        resolution = before.get("resolution")
        for i, body in enumerate(followups):
            steps.run(f"followup-{i}", partial(
                self.request, "POST", "/api/followups/", json=body))
        ends = next((b["new_status"] for b in reversed(followups) if "new_status" in b),
                    before.get("status"))
        # already resolved: the note is not the resolution, even an empty one stays empty
        if before.get("status") in RESOLVING or (resolution and ends in RESOLVING):
            steps.run("resolution", partial(
                self.request, "PATCH", f"/api/tickets/{segment(ticket_id)}/",
                json={"resolution": resolution}))

    def _wall(self, value: Any) -> Any:
        """A deadline for a custom datetime field: naive wall time in the helpdesk's zone."""
        if not isinstance(value, str):
            return value
        try:
            when = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return value
        name = str(self.conn.options.get("timezone") or "UTC")
        try:
            zone = ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            zone = ZoneInfo("UTC")
        if when.tzinfo is not None:
            when = when.astimezone(zone).replace(tzinfo=None)
        return when.isoformat(timespec="seconds")

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
        for log in logs:  # time with no note left to carry it: an internal followup each,
            # its comment the team's "time logged" text (rendered when the command was written)
            out.append(self._followup(ticket_id, log.comment or log.note or "", False, log))
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
        return dict(self.request("GET", f"/api/tickets/{segment(ticket_id)}/") or {})

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


def _named_fields(body: str) -> set[str]:
    """The fields a DRF validation error names (``{"custom_x": ["…"]}``); none if unreadable."""
    try:
        data = json.loads(body)
    except ValueError:
        return set()
    return {str(k) for k in data} if isinstance(data, dict) else set()


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
