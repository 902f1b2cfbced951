"""Ticket snapshots as each host's webhook body, for a poll or the import (:mod:`reconcile`).

The keys each kind's bodies get, and why, are described in :mod:`plugin.reconcile.poll`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from plugin.reconcile.items import JSON_HEADERS, Body, dump, instant
from plugin.reconcile.seen import Seen
from plugin.reconcile.template_bodies import freshdesk_payload, utc, zendesk_payload
from plugin.settings import Connection
from rules.event import EventType
from webhooks.hosts import zendesk


def _after(value: Any, since: datetime | None) -> bool:
    if since is None:
        return True
    when = instant(value)
    return when is not None and when >= since


def _fid(f: dict[str, Any]) -> int:
    return int(f["id"]) if str(f.get("id", "")).isdigit() else 0


def helpdesk_bodies(conn: Connection, t: dict[str, Any], since: datetime | None,
                    seen: Seen) -> list[Body]:
    followups = sorted(t.get("followup_set") or [], key=_fid)
    slug = (conn.options.get("queue_slugs") or {}).get(str(t.get("queue")), str(t.get("queue")))
    out: list[Body] = []
    for i, f in enumerate(followups):
        if since is None and i > 0:
            break  # the import only needs the ticket itself
        if not _after(f.get("date"), since):
            continue
        payload: dict[str, Any] = {"ticket": t, "queue_slug": slug}
        if i > 0:
            payload["followup_id"] = f["id"]
        out.append(Body(dump(payload), dict(JSON_HEADERS)))
    return out


def _redmine_journal(j: dict[str, Any]) -> dict[str, Any]:
    """A journal as GET /issues/:id.json?include=journals shows it, in the webhook's shape
    (redmine/redmine 7.0.0 ``app/models/concerns/issue/webhookable.rb``)."""
    return {"id": j.get("id"), "created_on": j.get("created_on"), "notes": j.get("notes"),
            "private_notes": bool(j.get("private_notes")), "user": j.get("user") or {},
            "details": [{"property": d.get("property"), "prop_key": d.get("name"),
                         "old_value": d.get("old_value"), "value": d.get("new_value")}
                        for d in j.get("details") or []]}


def redmine_bodies(conn: Connection, issue: dict[str, Any], since: datetime | None,
                   seen: Seen) -> list[Body]:
    """The events a poll rebuilds, in the format and with the keys of the webhooks (Redmine 7
    core and our plugin), so a poll of what a webhook delivered is a duplicate:

    - ``issue.created`` for an issue created in the window (any, for the import), keyed by
      ``created_on``; stored only when Deskpilot does not know the ticket (``reconcile``);
    - one ``issue.updated`` per journal in the window, not our own, with that journal
      (key ``issue-<id>-journal-<jid>-<its created_on>``): the journal says who changed what;
    - else, when the issue changed after its creation, the journal-less ``issue.updated``
      snapshot keyed by ``updated_on``.

    Each body carries the issue as it is now (as a late webhook would).
    """
    journals = issue.get("journals") or []
    snapshot = {k: v for k, v in issue.items() if k != "journals"}
    created, updated = issue.get("created_on"), issue.get("updated_on")
    out: list[dict[str, Any]] = []
    if since is None or _after(created, since):
        out.append({"type": "issue.created", "timestamp": created, "data": {"issue": snapshot}})
    if since is not None:
        mine = conn.plugin_user_id
        fresh = [j for j in sorted(journals, key=_fid) if _after(j.get("created_on"), since)]
        for j in fresh:
            if mine is not None and str((j.get("user") or {}).get("id")) == mine:
                continue  # our own note or field write
            out.append({"type": "issue.updated", "timestamp": j.get("created_on"),
                        "data": {"issue": snapshot, "journal": _redmine_journal(j)}})
        if not fresh and updated != created:
            out.append({"type": "issue.updated", "timestamp": updated,
                        "data": {"issue": snapshot}})
    return [Body(dump(payload), dict(JSON_HEADERS)) for payload in out]


def _tag(since: datetime | None) -> str:
    return "import" if since is None else "poll"


def _event(seen: Seen) -> str:
    return EventType.UPDATED if seen.known else EventType.CREATED


def zammad_bodies(conn: Connection, t: dict[str, Any], since: datetime | None,
                  seen: Seen) -> list[Body]:
    headers = {**JSON_HEADERS,
               "X-Zammad-Delivery": f"{_tag(since)}-{t.get('id')}-{t.get('updated_at')}"}
    return [Body(dump({"ticket": t, "article": {}}), headers)]


def zendesk_bodies(conn: Connection, t: dict[str, Any], since: datetime | None,
                   seen: Seen) -> list[Body]:
    key = f"{_tag(since)}:{t.get('id')}:{utc(t.get('updated_at'))}"
    # the key rides in the invocation-id header, so the adapter's own key is this one
    headers = {**JSON_HEADERS, zendesk.DELIVERY_HEADER: key}
    return [Body(dump(zendesk_payload(conn, t, _event(seen))), headers, key)]


def freshdesk_bodies(conn: Connection, t: dict[str, Any], since: datetime | None,
                     seen: Seen) -> list[Body]:
    key = f"{_tag(since)}:{t.get('id')}:{utc(t.get('updated_at'))}"
    return [Body(dump(freshdesk_payload(conn, t, _event(seen))), dict(JSON_HEADERS), key)]


BODIES: dict[str, Callable[[Connection, dict[str, Any], datetime | None, Seen], list[Body]]] = {
    "django_helpdesk": helpdesk_bodies,
    "redmine": redmine_bodies,
    "zammad": zammad_bodies,
    "zendesk": zendesk_bodies,
    "freshdesk": freshdesk_bodies,
}
