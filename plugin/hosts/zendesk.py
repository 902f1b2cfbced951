"""Zendesk Support API client: one ``PUT /api/v2/tickets/{id}`` per push where possible.

Zendesk allows 30 updates per ticket per 10 minutes (HOSTS.md §2), so status, custom fields,
assignee, tags and one comment ride in a single ticket update. A second update is only
needed when both a public and a private comment are pending (one comment per update).

Facts (HOSTS.md §2): Basic auth ``{email}/token:{api_token}``; statuses new/open/pending/
hold/solved/closed; ``custom_fields: [{id, value}]``; private note ``comment: {body,
public: false}``; ``additional_tags`` adds tags without replacing them; no time-entry API,
the Time Tracking app keeps two custom fields (total seconds, last update seconds); no
general due-date field, so deadlines go into text fields with the ISO time (plus an
optional date field, ``resolve_due_date``, for views).
Reconciliation reads (``plugin.reconcile.items``): List Comments ``GET /api/v2/tickets/
{id}/comments`` (cursor pagination, ``sort=-created_at`` newest first, ``include=users``
sideloads the authors with their ``role``) and List Audits for a Ticket ``GET /api/v2/tickets/
{id}/audits`` (each audit one update: ``author_id``, ``created_at``, ``events`` with ``Change``
events ``{field_name: <custom field id>, previous_value, value}`` — how the Time Tracking
app's fields move), developer.zendesk.com api-reference/ticketing/tickets/ticket_comments and
ticket_audits; roles of other users from Show Many Users.
Organisation fields: ``PUT /api/v2/organizations/{id}`` with
``{"organization": {"organization_fields": {key: value}}}`` — developer.zendesk.com
api-reference/ticketing/organizations/organizations#update-organization (as used by
fprimex/zdesk-cli ``doc/zdesk_organization_update.md``).
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Sequence
from datetime import UTC, datetime
from functools import partial
from typing import Any

from plugin.hosts.base import (
    HttpHostClient,
    Steps,
    basic_auth,
    int_or_str,
    iso_date,
    result,
    segment,
)
from plugin.outbox.coalesce import changeset
from plugin.outbox.commands import Command, PushResult

SIDELOADS = "users,organizations"
#: cursor pagination's page size (both list endpoints return at most 100)
PAGE = 100


class ZendeskClient(HttpHostClient):
    """Writes Deskpilot's commands to a Zendesk account."""

    kind = "zendesk"
    DEFAULT_STATUS_MAP = {
        "new": "new", "accepted": "open", "in_progress": "open", "waiting_client": "pending",
        "on_hold": "hold", "resolved": "solved", "closed": "closed",
    }

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self._roles: dict[str, str] = {}

    def auth_headers(self) -> dict[str, str]:
        return basic_auth(f"{self.credential('email')}/token", self.credential("api_token"))

    def push(self, ticket_id: str, commands: Sequence[Command], *, company: str | None = None,
             idempotency_key: str, done: Collection[str] = ()) -> PushResult:
        cs = changeset(commands)
        steps = Steps(done)
        skipped: list[str] = []
        company_side = self.wants_company_side(company)
        tags = cs.fields.pop("tags", None)
        update: dict[str, Any] = {}
        if cs.status and self.host_status(cs.status) is not None:
            update["status"] = self.host_status(cs.status)
        if cs.assignee:
            update["assignee_id"] = int_or_str(cs.assignee)
        if tags:
            update["additional_tags"] = list(tags) if isinstance(tags, list | tuple) else [tags]
        custom = [{"id": int_or_str(k), "value": v}
                  for k, v in self.ticket_values(cs, skipped, company_side=company_side)]
        date_field = self.field_key("resolve_due_date")
        if cs.host_due and cs.deadlines is not None and date_field is not None:
            custom.append({"id": int_or_str(date_field),
                           "value": iso_date(cs.deadlines.get("resolve_due"))})
        if cs.time_logs:
            custom += self._time_fields(ticket_id, sum(t.minutes for t in cs.time_logs) * 60,
                                        steps, skipped)
        if custom:
            update["custom_fields"] = custom
        comments = _comments(cs)
        if comments:
            update["comment"] = comments[0]
        if update:
            steps.run("ticket", lambda: self._put(ticket_id, update))
        for i, comment in enumerate(comments[1:], start=1):
            steps.run(f"comment-{i}", partial(self._put, ticket_id, {"comment": comment}))
        org_fields = {str(k): v for k, v in self.company_values(cs)}
        if company_side and org_fields:
            steps.run("organization", lambda: self.request(
                "PUT", f"/api/v2/organizations/{segment(company)}",
                json={"organization": {"organization_fields": org_fields}}))
        return result(ticket_id, steps, skipped)

    def _put(self, ticket_id: str, ticket: dict[str, Any]) -> Any:
        return self.request("PUT", f"/api/v2/tickets/{segment(ticket_id)}", json={"ticket": ticket})

    def _time_fields(self, ticket_id: str, seconds: int, steps: Steps,
                     skipped: list[str]) -> list[dict[str, Any]]:
        total_id, last_id = self.field_key("time_total"), self.field_key("time_last")
        if total_id is None or last_id is None:
            skipped.append("time_total/time_last")
            return []
        # The total is a running sum kept by the Time Tracking app: read it, then add.
        ticket = steps.run("read-time", lambda: self.get_ticket(ticket_id)) or {}
        current = 0
        for field in ticket.get("custom_fields") or []:
            if str(field.get("id")) == str(total_id):
                current = int(float(field.get("value") or 0))
        return [{"id": int_or_str(total_id), "value": current + seconds},
                {"id": int_or_str(last_id), "value": seconds}]

    def get_ticket(self, ticket_id: str) -> dict[str, Any]:
        data = self.request("GET", f"/api/v2/tickets/{segment(ticket_id)}") or {}
        return dict(data.get("ticket") or {})

    def list_updated(self, since: datetime) -> Iterator[dict[str, Any]]:
        # Incremental Ticket Export, cursor based: ``GET /api/v2/incremental/tickets/
        # cursor.json?start_time=<unix>`` then ``?cursor=<after_cursor>`` until
        # ``end_of_stream`` (developer.zendesk.com api-reference/ticketing/ticket-management/
        # incremental_exports; 10 requests/min, 429 + Retry-After; changes of the last minute
        # come in the next poll). ``include=users,organizations`` sideloads the requester's
        # e-mail and the organisation the trigger template renders.
        params: dict[str, Any] = {"start_time": int(since.timestamp()), "include": SIDELOADS}
        while True:
            page = self.request("GET", "/api/v2/incremental/tickets/cursor.json",
                                params=params) or {}
            yield from _with_sideloads(page.get("tickets") or [], page)
            if page.get("end_of_stream", True) or not page.get("after_cursor"):
                return
            params = {"cursor": page["after_cursor"], "include": SIDELOADS}

    def ticket_comments(self, ticket_id: str, since: datetime) -> list[dict[str, Any]]:
        """The ticket's comments created after ``since``, newest first; their authors' roles
        are remembered for :meth:`user_roles` (``include=users``)."""
        url: str | None = f"/api/v2/tickets/{segment(ticket_id)}/comments"
        params: dict[str, Any] | None = {"sort": "-created_at", "include": "users",
                                         "page[size]": PAGE}
        out: list[dict[str, Any]] = []
        while url:
            page = self.request("GET", url, params=params) or {}
            self._remember(page.get("users"))
            rows = [c for c in page.get("comments") or [] if isinstance(c, dict)]
            newer = [c for c in rows if _later(c.get("created_at"), since)]
            out += newer
            if len(newer) < len(rows) or not (page.get("meta") or {}).get("has_more"):
                return out  # newest first: an older comment ends the walk
            url, params = (page.get("links") or {}).get("next"), None
        return out

    def ticket_audits(self, ticket_id: str) -> Iterator[dict[str, Any]]:
        """Every audit (update) of the ticket, oldest first (cursor pages, else offset)."""
        url: str | None = f"/api/v2/tickets/{segment(ticket_id)}/audits"
        params: dict[str, Any] | None = {"page[size]": PAGE}
        while url:
            page = self.request("GET", url, params=params) or {}
            yield from (a for a in page.get("audits") or [] if isinstance(a, dict))
            meta = page.get("meta") or {}
            url = ((page.get("links") or {}).get("next") if meta.get("has_more")
                   else page.get("next_page"))
            params = None

    def user_roles(self, user_ids: Collection[Any]) -> dict[str, str]:
        """``role`` (end-user, agent, admin) per user id; unknown ones read with Show Many."""
        wanted = sorted({str(u) for u in user_ids if u is not None} - set(self._roles))
        for i in range(0, len(wanted), PAGE):
            found = self.request("GET", "/api/v2/users/show_many.json",
                                 params={"ids": ",".join(wanted[i:i + PAGE])}) or {}
            self._remember(found.get("users"))
        return {str(u): self._roles.get(str(u), "") for u in user_ids if u is not None}

    def _remember(self, users: Any) -> None:
        for user in users or []:
            if isinstance(user, dict) and user.get("id") is not None:
                self._roles[str(user["id"])] = str(user.get("role") or "")

    def list_open(self) -> Iterator[dict[str, Any]]:
        # Search has no sideloads here: requesters and organisations are read per page with
        # Show Many Users / Organizations (``show_many.json?ids=``, ≤ 100 ids).
        url: str | None = "/api/v2/search.json"
        params: dict[str, Any] | None = {"query": "type:ticket status<solved"}
        while url:
            page = self.request("GET", url, params=params) or {}
            tickets = page.get("results") or []
            extra: dict[str, Any] = {}
            for kind, key in (("users", "requester_id"), ("organizations", "organization_id")):
                ids = sorted({str(t[key]) for t in tickets if t.get(key) is not None})
                if ids:
                    found = self.request("GET", f"/api/v2/{kind}/show_many.json",
                                         params={"ids": ",".join(ids)}) or {}
                    extra[kind] = found.get(kind) or []
            yield from _with_sideloads(tickets, extra)
            url, params = page.get("next_page"), None


def _with_sideloads(tickets: list[dict[str, Any]],
                    page: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Tickets with their requester and organization objects under ``requester``/``organization``
    (keys the ticket JSON does not use itself), for :func:`template_bodies.zendesk_payload`."""
    users = {u.get("id"): u for u in page.get("users") or [] if isinstance(u, dict)}
    orgs = {o.get("id"): o for o in page.get("organizations") or [] if isinstance(o, dict)}
    for t in tickets:
        yield {**t, "requester": users.get(t.get("requester_id")) or {},
               "organization": orgs.get(t.get("organization_id")) or {}}


def _later(value: Any, since: datetime) -> bool:
    """``value`` (Zendesk's ``…Z`` time) is after ``since``; unreadable counts as not."""
    try:
        when = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return False
    return (when if when.tzinfo else when.replace(tzinfo=UTC)) > since


def _comments(cs: Any) -> list[dict[str, Any]]:
    """At most two comments: all public notes in one, all private notes in the other."""
    public = [n.body for n in cs.notes if not n.internal]
    private = [n.body for n in cs.notes if n.internal]
    # a time log's note as a private comment, in the team's words ("time_logged_note",
    # rendered when the command was written; the minutes go to the time fields)
    private += [t.comment or t.note for t in cs.time_logs if t.note]
    out = []
    for bodies, is_public in ((public, True), (private, False)):
        if bodies:
            out.append({"body": "\n\n".join(bodies), "public": is_public})
    if cs.notes and cs.notes[0].internal and len(out) == 2:
        out.reverse()  # keep the order the rules produced them in
    return out

