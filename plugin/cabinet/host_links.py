"""The ticket as the client knows it: the host's own reference, and a link a client can open.

The team's links (``plugin.reports.service.TICKET_URLS``, dashboard and reports) open the
hosts' agent views, which a client cannot open. The cabinet links each task to the host's
client-facing page instead:

- Zendesk: the Help Center request page, ``/hc/requests/{id}`` (the requester's "My
  activities"; Zendesk redirects it to the Help Center's locale).
- Freshdesk: the support portal, ``/support/tickets/{id}``.
- Zammad: customers open the same ``/#ticket/zoom/{id}`` as agents (the customer interface
  is the same application, limited to the customer's own and organisation's tickets).
- Redmine: clients are Redmine users, ``/issues/{id}``.
- django-helpdesk: the public view, ``/view/?ticket={ref}&email={email}``, with the queue
  slug and id (``support-4``) and the submitter's address. In django-helpdesk 2.6.1
  ``helpdesk/urls.py`` routes ``view/`` to ``public.ViewTicket`` (``name="public_view"``),
  and ``Ticket.ticket_url`` (``helpdesk/models.py``) builds the submitter's link as
  ``{base}/view/?ticket={ticket_for_url}&email={submitter_email}&key={secret_key}``.
  ``ViewTicket.get`` (``helpdesk/views/public.py``) matches the ticket on the submitter's
  address *and* ``secret_key`` for an anonymous visitor, and on the address alone when the
  visitor is signed in to the helpdesk with that address. The webhook body
  (``TicketSerializer``) carries no ``secret_key``, so Deskpilot cannot build the anonymous
  link: this one opens the ticket for a client signed in to the helpdesk (anyone else gets
  the helpdesk's "view a ticket" form). Without the submitter's address there is no link.
- generic: no client page is known; none unless configured.

``options.client_ticket_url`` of a connection replaces the template (as
``options.ticket_url`` does for the team's link): ``{base}`` (the connection's
``base_url``), ``{id}``, ``{ref}`` (the host's reference without a leading ``#``, else the
id) and ``{email}`` (the requester's address), each URL-encoded. A link that needs a value
the ticket lacks is not shown; a template naming another placeholder shows no link and is
logged once.
"""

from __future__ import annotations

import logging
import string
from collections.abc import Iterable, Mapping
from functools import cache
from typing import Any
from urllib.parse import quote

from sqlalchemy import select, tuple_
from sqlalchemy.orm import Session

from plugin.settings import Settings
from plugin.storage.models import Ticket as T

log = logging.getLogger("deskpilot.cabinet")
#: where a client opens its ticket, by connection kind (see the module's text)
CLIENT_TICKET_URLS = {
    "zendesk": "{base}/hc/requests/{id}",
    "freshdesk": "{base}/support/tickets/{id}",
    "zammad": "{base}/#ticket/zoom/{id}",
    "redmine": "{base}/issues/{id}",
    "django_helpdesk": "{base}/view/?ticket={ref}&email={email}",
}
PLACEHOLDERS = frozenset({"base", "id", "ref", "email"})


def reference(snapshot: Mapping[str, Any] | None, ticket_id: str) -> str:
    """The reference the host shows (``support-4``, Zammad's ``#31081``), else ``#<id>``."""
    ref = (snapshot or {}).get("reference")
    return str(ref) if ref else f"#{ticket_id}"


@cache
def _names(template: str) -> frozenset[str] | None:
    """The placeholders ``template`` uses; None (logged once) when it is not usable."""
    try:
        names = frozenset(f for _, f, _, _ in string.Formatter().parse(template) if f is not None)
    except ValueError as exc:
        log.warning("cabinet: client_ticket_url %r is not a template (%s): no links", template,
                    exc)
        return None
    if not names <= PLACEHOLDERS:
        log.warning("cabinet: client_ticket_url %r names %s; known are %s: no links", template,
                    sorted(names - PLACEHOLDERS), sorted(PLACEHOLDERS))
        return None
    return names


def client_url(settings: Settings, connection: str, ticket_id: str,
               snapshot: Mapping[str, Any] | None) -> str | None:
    """The page a client opens the ticket on, or None when none can be built."""
    conn = settings.connection(connection)
    if conn is None:
        return None
    template = conn.options.get("client_ticket_url") or CLIENT_TICKET_URLS.get(conn.kind)
    if not template:
        return None
    names = _names(str(template))
    snap = snapshot or {}
    email = snap.get("requester_email")
    ref = str(snap.get("reference") or "").lstrip("#") or ticket_id
    values = {"base": (conn.base_url or "").rstrip("/"), "id": quote(ticket_id, safe=""),
              "ref": quote(ref, safe=""), "email": quote(str(email or ""), safe="@")}
    if names is None or any(not values[name] for name in names):
        return None
    return str(template).format(**values)


def references(session: Session, company_id: str,
               keys: Iterable[str | None] | None = None) -> dict[str, str]:
    """The hosts' own references of ``company_id``'s tickets by ledger ticket key
    (``<connection>:<id>``): those in ``keys``, or every ticket of the company when None.
    Tickets whose host has no reference of its own are left out (``#<id>`` then)."""
    ref = T.facts[("snapshot", "reference")].as_string()
    q = select(T.connection, T.host_ticket_id, ref).where(T.company_id == company_id,
                                                          ref.is_not(None))
    if keys is not None:
        pairs = {tuple(k.split(":", 1)) for k in keys if k and ":" in k}
        if not pairs:
            return {}
        q = q.where(tuple_(T.connection, T.host_ticket_id).in_(pairs))
    return {f"{conn}:{tid}": str(r) for conn, tid, r in session.execute(q) if r}


def entry_reference(key: str | None, refs: Mapping[str, str]) -> str | None:
    """A ledger entry's ticket as the client knows it (None: no ticket)."""
    if not key:
        return None
    return refs.get(key) or f"#{key.split(':', 1)[-1]}"
