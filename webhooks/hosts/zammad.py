"""Zammad: a trigger's "notification.webhook" action with the default ``{ticket, article}`` body.

Signed with ``X-Hub-Signature: sha1=<hex HMAC-SHA1(token, raw body)>`` (no timestamp, so
replays are stopped by de-duplicating ``X-Zammad-Delivery``, which stays the same across
Zammad's five retries). The default payload carries no event name, so the event is read
from the trigger name (``options.trigger_events``) or inferred from the snapshot.

Time: an article's own accounting arrives as ``article.accounted_time`` (a ``time.logged``
with that entry). Time accounted on an update without an article leaves ``article`` ``{}``,
and the ticket carries only its total, ``time_unit`` (a decimal as text, ``null`` before any
accounting), and the accountings' ids (``ticket_time_accounting_ids``), never their units
(``TriggerWebhookJob::RecordPayload::Ticket``: the ticket's attributes with association ids
and names; accountings have no name). So the total becomes ``time_spent_total_minutes``
on every snapshot; processing logs a total above the minutes already logged as their
difference at once (``rules/items.py``), and the poll's accounting behind it adds nothing.

The requester's locale: none (``Ticket.requester_locale`` stays None, the installation's
default language applies unless the company has one). A Zammad user's language is
``preferences.locale``, and the default payload leaves ``preferences`` out of every user it
resolves (``customer``, ``created_by``…): zammad/zammad
``app/jobs/trigger_webhook_job/record_payload/base.rb``, ``USER_ATTRIBUTE_BLACKLIST =
%w[last_login login_failed password preferences …]`` applied in
``associated_record_attributes``, checked by
``spec/jobs/trigger_webhook_job/record_payload/base_example.rb``. A custom payload cannot
name it either (``custom_payload/track/user.rb`` drops ``preferences`` from the user's
functions), and reading it back costs a ``GET /api/v1/users/{id}`` per event.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from plugin.settings import Connection
from rules.event import Actor, Comment, EventType, Ticket, TicketEvent, TimeEntry
from webhooks.base import (
    InvalidSignature,
    body_sha256,
    check_any,
    company_for,
    header,
    hmac_hex,
    load_json,
    own_user,
    require_object,
)
from webhooks.hosts import _common as c

KIND = "zammad"
SIGNED = True
SIGNATURE_HEADER = "X-Hub-Signature"
DELIVERY_HEADER = "X-Zammad-Delivery"
TRIGGER_HEADER = "X-Zammad-Trigger"
#: never the signature: a stored body must not be replayable from the events table
KEPT_HEADERS = (DELIVERY_HEADER, TRIGGER_HEADER)

#: Zammad's default state names → Deskpilot statuses (override: ``status_map.inbound``)
STATUS_DEFAULTS = {
    "new": "new", "open": "in_progress", "pending reminder": "waiting_client",
    "pending close": "resolved", "closed": "closed", "merged": "closed", "removed": "closed",
}
PRIORITY_DEFAULTS = {"1 low": "low", "2 normal": "normal", "3 high": "high"}
CHANNELS = {"email": "email", "phone": "phone", "web": "portal", "chat": "chat", "sms": "chat",
            "note": "host"}

#: ticket attributes Zammad always sends; any other scalar key is a custom object attribute
STANDARD_KEYS = frozenset("""
id group_id priority_id state_id organization_id number title owner_id customer_id note
first_response_at first_response_escalation_at first_response_in_min first_response_diff_in_min
close_at close_escalation_at close_in_min close_diff_in_min update_escalation_at update_in_min
update_diff_in_min last_contact_at last_contact_agent_at last_contact_customer_at
last_owner_update_at create_article_type_id create_article_sender_id article_count escalation_at
pending_time type time_unit preferences updated_by_id created_by_id created_at updated_at
article_ids create_article_sender create_article_type ticket_time_accounting
ticket_time_accounting_ids state priority group owner customer organization created_by
updated_by checklist_id referencing_checklist_ids last_close_at tags mentions
""".split())

#: a ticket younger than this with at most one article is reported as just created
CREATED_WINDOW = timedelta(seconds=60)


def sign(body: bytes, secret: str) -> str:
    return "sha1=" + hmac_hex(secret, body, "sha1")


def verify(body: bytes, headers: Mapping[str, str], secrets: Any, now: datetime) -> None:
    if not secrets:
        raise InvalidSignature("no secret configured for this connection")
    check_any(header(headers, SIGNATURE_HEADER), [sign(body, s) for s in secrets])


def delivery_key(body: bytes, headers: Mapping[str, str]) -> str:
    given = (header(headers, DELIVERY_HEADER) or "").strip()
    return given if given else "sha256:" + body_sha256(body)  # over 200: 422 (receiver)


def _name(value: Any) -> Any:
    """Zammad sends associations as names (``"open"``) or resolved objects (``{"name": …}``)."""
    return value.get("name") if isinstance(value, dict) else value


def _actor(user: Mapping[str, Any], user_id: str | None, sender: str | None = None) -> Actor:
    roles = user.get("roles") if isinstance(user.get("roles"), list) else []
    if sender:
        kind = {"customer": "client", "agent": "agent"}.get(sender.lower(), "system")
    elif roles:
        kind = "client" if roles == ["Customer"] else "agent"
    else:
        kind = "system"
    name = " ".join(str(user.get(k) or "") for k in ("firstname", "lastname")).strip() or None
    return Actor(kind=kind, id=user_id, name=name)


def _custom_fields(ticket: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in ticket.items():
        if key in STANDARD_KEYS or key.endswith("_id") or key.endswith("_ids"):
            continue
        if isinstance(value, dict) and "value" in value:
            # an external data source attribute stores ``{"value", "label"}`` (zammad/zammad
            # ``lib/can_selector/advanced_sorting/external_data_source_field_sort.rb`` sorts
            # by ``->>'value'``): the value is what a company map or a rule compares
            value = value.get("value")
        if value is None or isinstance(value, str | int | float | bool):
            out[key] = value
        elif isinstance(value, list) and all(isinstance(v, str | int | float) for v in value):
            out[key] = list(value)
    return out


def _minutes_per_unit(conn: Connection) -> float:
    """``options.time_unit_minutes`` (default 1); a setting that is no number is a 422 naming
    it, as the Freshdesk adapter does for ``options.timezone``."""
    given = (conn.options or {}).get("time_unit_minutes", 1)
    try:
        factor = float(given)
    except (TypeError, ValueError):
        factor = -1.0
    if isinstance(given, bool) or not 0 < factor <= 1440:
        raise c.fail("options.time_unit_minutes", "must be a number of minutes above 0")
    return factor


def _units(value: Any, path: str) -> float | None:
    """A time unit count (Zammad renders decimals as text, "45.0"); ``None`` when absent."""
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise c.fail(path, "must be a number")
    try:
        units = float(value)
    except ValueError as exc:
        raise c.fail(path, "must be a number") from exc
    if not 0 <= units <= 10_000_000:
        raise c.fail(path, "must be between 0 and 10000000")
    return units


def _trigger_name(raw: str | None) -> str | None:
    """``X-Zammad-Trigger`` is the trigger's name as typed (``TriggerWebhookJob#headers``:
    ``'X-Zammad-Trigger' => trigger.name``), sent as raw UTF-8 bytes; a WSGI server hands
    header bytes over as Latin-1, so "Заявка создана" arrives as mojibake. Undo that."""
    if raw is None:
        return None
    try:
        return raw.encode("latin-1").decode("utf-8")
    except UnicodeError:  # not Latin-1-decoded UTF-8: already text (or plain ASCII)
        return raw


def _event_name(conn: Connection, headers: Mapping[str, str], ticket: Mapping[str, Any],
                article: Mapping[str, Any], created: datetime, updated: datetime) -> str:
    triggers = conn.options.get("trigger_events") if conn.options else None
    trigger = _trigger_name(header(headers, TRIGGER_HEADER))
    if isinstance(triggers, Mapping) and trigger in triggers:
        named = str(triggers[trigger])
        return named if named in EventType.ALL else EventType.UNKNOWN
    if _name(ticket.get("state")) == "merged":
        return EventType.MERGED
    count = c.integer(ticket, "article_count", "ticket.article_count") or 0
    if count <= 1 and updated - created <= CREATED_WINDOW:
        return EventType.CREATED
    if article and _accounted(article) > 0:
        return EventType.TIME_LOGGED
    return EventType.COMMENTED if article else EventType.UPDATED


def parse(body: bytes, headers: Mapping[str, str], conn: Connection) -> list[TicketEvent]:
    data = require_object(load_json(body))
    if "ticket" not in data and "article" not in data:
        return []  # a custom or pre-defined (Slack, Teams…) payload: nothing to act on
    t = c.obj(data, "ticket", "ticket")
    article = c.obj(data, "article", "article", required=False)
    ticket_id = c.required_ident(t, "id", "ticket.id")
    created = c.instant(t, "created_at", "ticket.created_at")
    assert created is not None
    updated = c.instant(t, "updated_at", "ticket.updated_at", required=False) or created
    customer = c.obj(t, "customer", "ticket.customer", required=False)
    org = c.obj(t, "organization", "ticket.organization", required=False)
    org_pair = (c.ident(t, "organization_id", "ticket.organization_id", required=False),
                c.text(org, "name", "ticket.organization.name"))
    factor = _minutes_per_unit(conn)
    fields = _custom_fields(t)
    total = _units(t.get("time_unit"), "ticket.time_unit")
    if total is not None:
        fields["time_spent_total_minutes"] = round(total * factor)
    custom = c.rename_fields(conn, fields)
    email = c.text(customer, "email", "ticket.customer.email")
    owner = c.ident(t, "owner_id", "ticket.owner_id", required=False)
    create_type = _name(t.get("create_article_type"))
    ticket = Ticket(
        id=ticket_id, created_at=created,
        company=company_for(conn.company_from, organization=org_pair, email=email,
                            custom_fields=custom),
        requester_id=c.ident(t, "customer_id", "ticket.customer_id", required=False),
        requester_email=email, subject=c.text(t, "title", "ticket.title") or "",
        priority=c.map_priority(conn, PRIORITY_DEFAULTS, _name(t.get("priority"))),
        status=c.map_status(conn, STATUS_DEFAULTS, _name(t.get("state"))),
        channel=CHANNELS.get(str(create_type or "").lower()),
        assignee_id=None if owner in (None, "1") else owner,  # user 1 is Zammad's "-" nobody
        custom_fields=custom, organization=org_pair[1] or org_pair[0],
        reference=_reference(t),
    )
    event = _event_name(conn, headers, t, article, created, updated)
    comment = time_entry = None
    author_id = None
    if article:
        author_id = c.ident(article, "created_by_id", "article.created_by_id", required=False)
        author = _actor(c.obj(article, "created_by", "article.created_by", required=False),
                        author_id, c.text(article, "sender", "article.sender"))
        comment = Comment(
            id=c.ident(article, "id", "article.id", required=False),
            public=not c.boolean(article, "internal", "article.internal", False),
            body=c.text(article, "body", "article.body") or "", author=author,
        )
        minutes = _accounted(article)
        if minutes < 0:
            raise c.fail("article.accounted_time", "must not be negative")
        if minutes:
            time_entry = TimeEntry(id=f"article-{comment.id}",
                                   minutes=_whole_minutes(minutes * factor),
                                   agent_id=author_id)
        actor = author
        occurred = c.instant(article, "created_at", "article.created_at", required=False) or updated
    else:
        updater_id = c.ident(t, "updated_by_id", "ticket.updated_by_id", required=False)
        actor = _actor(c.obj(t, "updated_by", "ticket.updated_by", required=False), updater_id)
        occurred = updated
    own = own_user(conn, author_id) if article else own_user(conn, actor.id)
    return [TicketEvent(
        connection=conn.name, host_kind=KIND, delivery_key=delivery_key(body, headers),
        event=event, occurred_at=occurred, ticket=ticket, actor=actor, comment=comment,
        time_entry=time_entry, own_write=own,
    )]


def _reference(t: Mapping[str, Any]) -> str | None:
    """Zammad shows (and mails) a ticket by its ``number`` ("#10081"), not by its
    database ``id``; client notes name it the same way."""
    number = t.get("number")
    if isinstance(number, bool) or not isinstance(number, str | int):
        return None  # optional: a shape we don't know leaves the default "#<id>"
    text = str(number).strip()
    return f"#{text}" if text and len(text) <= 100 else None


def _accounted(article: Mapping[str, Any]) -> float:
    """``article.accounted_time``: a float in current Zammad (zammad/zammad
    ``app/jobs/trigger_webhook_job/record_payload/ticket/article.rb``: ``time_unit.to_f``;
    its spec for issue #4127 expects 3.33, HOSTS.md §1), an integer in older ones (the
    2021/2022 versions of the same file: ``time_unit.to_i``), text from a custom payload
    template."""
    value = article.get("accounted_time")
    if value is None or value == "":
        return 0.0
    if isinstance(value, bool):
        raise c.fail("article.accounted_time", "must be a number")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise c.fail("article.accounted_time", "must be a number") from None
    if number != number or number in (float("inf"), float("-inf")):
        raise c.fail("article.accounted_time", "must be a number")
    return number


def _whole_minutes(minutes: float) -> int:
    """Fractional minutes rounded half up to whole minutes (3.33 → 3, 2.5 → 3); any time
    logged at all counts at least one minute (0.2 → 1), so an entry is never lost."""
    if minutes <= 0:
        return 0
    return max(1, int(minutes + 0.5))
