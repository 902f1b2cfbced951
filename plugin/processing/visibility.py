"""Comments that arrived without a public/private flag, confirmed with the host.

Redmine 7 core webhooks leave ``private_notes`` out of the journal (redmine/redmine tag
7.0.0, ``app/models/concerns/issue/webhookable.rb`` ``journal_payload``: id, created_on,
notes, user, details), and the webhook's user usually sees private notes: an agent's
internal note would read as a public reply, set the first response and reach the client's
message count. The adapter marks such a comment ``unconfirmed``; before the rules run the
worker reads the journal's flag from the host (one ``GET`` per issue per event).

- The host answers and lists the journal: its ``private_notes`` decides.
- The host answers without the journal (a private note hidden from the API user, or a
  note deleted since), or the issue is gone (404): the note is taken as internal, never
  guessed public.
- No answer (connection error, timeout, 5xx, 429) or another refusal (401/403): the error
  propagates, the event's transaction rolls back and the job is retried as any failed
  event job is (rq's retries, then the scheduler's sweeper).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Sequence
from typing import Any

from plugin.hosts.errors import NotFound
from rules.event import TicketEvent

log = logging.getLogger("deskpilot.hosts")


def needs_host(events: Sequence[TicketEvent]) -> bool:
    return any(ev.comment is not None and ev.comment.unconfirmed for ev in events)


def confirm_visibility(events: Sequence[TicketEvent],
                       client: Callable[[], Any]) -> list[TicketEvent]:
    """``events`` with every unconfirmed comment's ``public`` read from the host.

    ``client`` is called (once) only when a comment needs it; its ``comment_visibility``
    maps the ticket's comment ids to ``public``."""
    if not needs_host(events):
        return list(events)
    host = client()
    known: dict[str, dict[str, bool]] = {}
    out: list[TicketEvent] = []
    for ev in events:
        comment = ev.comment
        if comment is None or not comment.unconfirmed:
            out.append(ev)
            continue
        ticket_id = ev.ticket.id
        if ticket_id not in known:
            try:
                known[ticket_id] = host.comment_visibility(ticket_id)
            except NotFound:
                known[ticket_id] = {}
        public = known[ticket_id].get(str(comment.id))
        if public is None:
            log.warning("hosts.comment-not-listed connection=%s ticket=%s comment=%s: "
                        "taken as internal", ev.connection, ticket_id, comment.id)
        confirmed = dataclasses.replace(comment, public=bool(public), unconfirmed=False)
        out.append(dataclasses.replace(ev, comment=confirmed))
    return out
