"""What an event's comment and time entry add to their ticket: once, whichever way they came.

The same item can reach processing as two deliveries with two keys: a host retries a
webhook after the reconciliation poll stored the item under ``poll:<ticket>:<kind>:<id>``
(Freshdesk retries after 5, 30 and 60 minutes and holds rate-limited deliveries up to
24 h), or a host sends one comment in two webhooks. :func:`count` decides from the ticket's
stored facts (:class:`Seen`) what is new; the engine and the metrics recorder both call it,
each on its own stored facts, so both count an item once. Pure: no I/O, no clock.

Comments: by host id (``Comment.id``). A comment without one (Zendesk and Freshdesk
webhooks and poll bodies carry none) by its fingerprint: the same visibility and text
within :data:`MATCH_WINDOW` of each other is the same comment — the rule reconciliation
uses to match a polled comment with a delivery (the same reply said twice within minutes
counts once). A comment seen before is dropped from the event; the rest of the event
(status, fields, snapshot) applies as usual.

Time — the rule, ``logged_minutes`` per ticket:

1. An event that carries the host's total for the ticket (custom field
   :data:`TOTAL_FIELD`: Freshdesk's ``{{ticket.total_time_spent}}``, Zammad's ``time_unit``)
   counts by the total: a total above ``logged_minutes`` logs the difference (a synthetic
   entry ``total:<total>`` when the event has no entry of its own), a total at or below it
   logs nothing. An entry such an event also carries (a polled Freshdesk entry with the
   total after it, a Zammad article's accounting with the ticket's ``time_unit``) is
   remembered by id, but its minutes are not added on top: the total includes them
   (Freshdesk's poll renders the total after the entry; Zammad updates ``time_unit`` in the
   accounting's own transaction).
2. An entry on an event without a total logs its minutes once per id (``time.logged``;
   an entry without the host's id once per minutes, author and ``occurred_at``:
   :func:`entry_fingerprint`);
   ``time.updated`` logs the difference from what that id logged before (an id not
   remembered logs its minutes), ``time.deleted`` takes back what that id logged.

So ``logged_minutes`` is never below a total the host reported, and on a host that reports
totals it is the highest total seen: a delivered total and the polled entry behind it count
once, in either order (the total first: the entry's total is covered; the entry first: the
total is), and no minutes are lost (every total raises the count to itself). A total that
goes down (an entry deleted on the host, which Freshdesk and Zammad do not report as an
event) is not followed.

The engine fires an event's own automations (``on: [ticket.commented]``, ``[time.logged]``)
only when the event brought something new (:attr:`Counted.repeat`), and ``time.logged``
ones also when another event raised the total; a timer tick counts nothing.

Bounds: the last :data:`COMMENTS_KEPT` comment keys and :data:`ENTRIES_KEPT` entries per
ticket are kept; an older item delivered again would count again.
"""

from __future__ import annotations

import hashlib
import html
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from rules.event import Comment, EventType, Ticket, TicketEvent, TimeEntry

#: the ticket's total logged minutes as the host reports it (adapters fill it)
TOTAL_FIELD = "time_spent_total_minutes"
COMMENTS_KEPT = 100
ENTRIES_KEPT = 200
#: a comment without id is the same as one seen this close to it with the same text
MATCH_WINDOW = timedelta(minutes=5)
#: characters of plain text a fingerprint covers (a rendered placeholder may be cut short)
FINGERPRINT_CHARS = 64
TIME_EVENTS = frozenset({EventType.TIME_LOGGED, EventType.TIME_UPDATED, EventType.TIME_DELETED})
_TAG = re.compile(r"<[^>]*>")


@dataclass(frozen=True)
class Seen:
    """A ticket's stored item facts: minutes logged, comments and time entries applied."""

    logged_minutes: int = 0
    #: comment ids, and ``~<hash>@<minute>`` fingerprints of comments without id
    comments: tuple[str, ...] = ()
    #: (entry id, minutes it logged), oldest first
    entries: tuple[tuple[str, int], ...] = ()


@dataclass(frozen=True)
class Counted:
    """What one event adds, and the facts after it."""

    #: the event as the rules see it: a comment applied before dropped, ``time_entry`` the
    #: minutes this ``time.logged`` logs (None: none), or the synthetic entry of a total
    event: TicketEvent
    seen: Seen
    #: change of ``logged_minutes`` (negative when an update or deletion takes time back)
    added: int
    #: the event carried a comment or logged time, and all of it was applied before
    repeat: bool


def host_total(event: TicketEvent) -> int | None:
    """The host's total logged minutes the event's ticket carries (None: not reported)."""
    value = event.ticket.custom_fields.get(TOTAL_FIELD)
    if isinstance(value, bool) or value is None or value == "":
        return None
    try:
        total = round(float(value))
    except (TypeError, ValueError):
        return None
    return total if total >= 0 else None


def with_total(snapshot: Ticket, own: Ticket) -> Ticket:
    """``snapshot`` (a ticket) carrying ``own``'s host total, if ``own`` reports one.

    A late delivery is evaluated against the newest snapshot, but the total it reported is
    its own: without it, a late polled entry would count by its minutes on top of a total
    already counted."""
    total = own.custom_fields.get(TOTAL_FIELD)
    if total is None or snapshot.custom_fields.get(TOTAL_FIELD) == total:
        return snapshot
    return replace(snapshot, custom_fields={**snapshot.custom_fields, TOTAL_FIELD: total})


def with_known_locale(own: Ticket, stored: Ticket | None) -> Ticket:
    """``own`` carrying the requester's locale last known for the ticket when it sends none.

    Not every delivery of a ticket says the requester's language (a Freshdesk poll, a body
    from a template pasted before the language was in it): such an event must not turn the
    ticket's client notes, and the timer notes written from its snapshot, to the default
    language. Kept only while the requester is the same one."""
    if own.requester_locale or stored is None or not stored.requester_locale:
        return own
    same = ((own.requester_id or stored.requester_id) == stored.requester_id
            and (own.requester_email or stored.requester_email) == stored.requester_email)
    return replace(own, requester_locale=stored.requester_locale) if same else own


def plain(text: str) -> str:
    """Text as it shows: tags out, entities decoded, white space collapsed, case folded."""
    return " ".join(html.unescape(_TAG.sub(" ", text)).split()).casefold()


def fingerprint(comment: Comment, at: datetime) -> str | None:
    """``~<hash>@<minute>`` for a comment without id (None for an empty one: nothing to
    tell it from another)."""
    text = plain(comment.body)[:FINGERPRINT_CHARS]
    if not text:
        return None
    digest = hashlib.sha256(f"{int(comment.public)}|{text}".encode()).hexdigest()[:16]
    return f"~{digest}@{int(at.timestamp() // 60)}"


def entry_fingerprint(event: TicketEvent, entry: TimeEntry) -> str | None:
    """``~t<hash>`` for a logged entry without host id: its minutes, author and
    ``occurred_at`` (to the second). The same entry delivered again — a replay under a new
    delivery id, a host resending it — counts once while the ticket's last
    :data:`ENTRIES_KEPT` entries remember it; two entries logged at different instants
    both count. Updates and deletions need the host's id (None: not matched)."""
    if event.event != EventType.TIME_LOGGED:
        return None
    author = entry.agent_id or event.actor.id or ""
    raw = f"{int(entry.minutes)}|{author}|{int(event.occurred_at.timestamp())}"
    return "~t" + hashlib.sha256(raw.encode()).hexdigest()[:16]


def _seen_comment(key: str, comments: Iterable[str]) -> bool:
    if not key.startswith("~"):
        return key in comments
    digest, _, minute = key.partition("@")
    window = MATCH_WINDOW.total_seconds() // 60
    for other in comments:
        d, _, m = other.partition("@")
        if d == digest and m.isdigit() and abs(int(m) - int(minute)) <= window:
            return True
    return False


def _comment(event: TicketEvent, comments: tuple[str, ...]) -> tuple[bool | None, tuple[str, ...]]:
    """(the comment is new — None without one, the comment keys after it)."""
    c = event.comment
    if c is None:
        return None, comments
    key = str(c.id) if c.id is not None else fingerprint(c, event.occurred_at)
    if key is None:
        return True, comments
    if _seen_comment(key, comments):
        return False, comments
    return True, (*comments, key)[-COMMENTS_KEPT:]


def _time(event: TicketEvent, seen: Seen) -> tuple[int, dict[str, int], TimeEntry | None]:
    """(minutes added, entries after, the event's ``time_entry`` as the rules see it)."""
    entries = dict(seen.entries)
    entry = event.time_entry if event.event in TIME_EVENTS else None
    total = host_total(event)
    added, new = 0, False
    if entry is not None:
        eid = str(entry.id) if entry.id is not None else entry_fingerprint(event, entry)
        minutes = int(entry.minutes)
        if event.event == EventType.TIME_DELETED:
            added = -entries.pop(eid, 0) if eid is not None else 0
        elif event.event == EventType.TIME_UPDATED and eid in entries:
            added = minutes - entries.pop(eid)  # re-inserted: the newest entry now
            entries[eid] = minutes
        elif eid is None or eid not in entries:
            new = True
            if eid is not None:
                entries[eid] = minutes
            if total is None:
                added = minutes
    if total is not None and total > seen.logged_minutes + added:
        added = total - seen.logged_minutes
    if len(entries) > ENTRIES_KEPT:
        entries = dict(list(entries.items())[-ENTRIES_KEPT:])
    if event.event in (EventType.TIME_UPDATED, EventType.TIME_DELETED):
        return added, entries, event.time_entry  # the host's entry, as it was changed
    if added <= 0:
        # a time.logged applied before logs nothing; other events keep what they carry
        return added, entries, None if event.event == EventType.TIME_LOGGED else event.time_entry
    if entry is not None and new:
        return added, entries, replace(entry, minutes=added)
    agent = event.actor.id if event.actor.kind == "agent" else None
    return added, entries, TimeEntry(id=f"total:{total}", minutes=added, agent_id=agent)


def count(event: TicketEvent, seen: Seen) -> Counted:
    """What ``event``'s comment and time entry add to a ticket whose facts are ``seen``."""
    comment_new, comments = _comment(event, seen.comments)
    added, entries, logged = _time(event, seen)
    items: list[bool] = []
    if comment_new is not None:
        items.append(comment_new)
    if event.event == EventType.TIME_LOGGED and (
            event.time_entry is not None or host_total(event) is not None):
        items.append(added > 0)
    changed = comment_new is False or logged is not event.time_entry
    out = event
    if changed:
        out = replace(event, comment=event.comment if comment_new is not False else None,
                      time_entry=logged)
    return Counted(
        event=out,
        seen=Seen(seen.logged_minutes + added, comments, tuple(entries.items())),
        added=added,
        repeat=bool(items) and not any(items),
    )


def seen_of(logged: int | None, comments: Iterable[Any] | None,
            entries: Mapping[str, Any] | Iterable[Sequence[Any]] | None) -> Seen:
    """A :class:`Seen` from stored JSON (entries as ``[[id, minutes], …]`` or, as older
    metrics rows keep them, ``{id: minutes}``)."""
    pairs: Iterable[Sequence[Any]] = (
        entries.items() if isinstance(entries, Mapping) else (entries or ()))
    return Seen(int(logged or 0), tuple(str(c) for c in comments or ()),
                tuple((str(k), int(v)) for k, v in pairs))
