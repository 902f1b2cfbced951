"""The interface every host API client implements, and the HTTP plumbing they share.

Field names. ``conn.field_map`` maps Deskpilot's names to the host's field keys (Zammad
attribute name, Zendesk field id, Freshdesk ``cf_`` name, Redmine custom field id,
django-helpdesk custom field name without ``custom_``). Names used:

- any ``set_fields`` name: ``task_type``, ``units``, ``estimate_hours``, ...
- deadlines: ``accept_due``, ``first_response_due``, ``resolve_due`` (+ per-host extras)
- balance on the ticket: ``balance``, ``reserved``, ``available``
- balance on the host's organisation/company: ``company.balance``, ``company.reserved``,
  ``company.available``

A name with no mapping is not written (and listed in ``PushResult.detail``).

Partial pushes. A push may need several calls (a ticket update, then a note, then a time
entry). Each call is a named *step*; when one fails, the raised ``HostError`` carries
``done_steps``, and the caller passes them back as ``done=`` on the retry so notes and time
entries are never posted twice.
"""

from __future__ import annotations

import base64
import html
import logging
import os
import random
import time
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any, Self, TypeVar
from urllib.parse import quote, urlsplit

import requests

from plugin.hosts.errors import (
    HostError,
    HostHTTPError,
    HostUnavailable,
    error_for,
    retry_delay,
    safe_url,
)
from plugin.outbox.coalesce import ChangeSet
from plugin.outbox.commands import Command, PushResult
from plugin.settings import Connection

log = logging.getLogger("deskpilot.hosts")
T = TypeVar("T")


class HostClient:
    """Carries out outbox commands against one host connection; decides nothing."""

    kind: str = ""
    #: one call per push, applied whole or not at all: a refused push is split by row only
    #: (``plugin.outbox.units``); a client needing several calls gets notes and time entries
    #: as pushes of their own before the field writes
    atomic: bool = False
    #: writes a part of a ``set_deadlines`` (``only``: the host's due date, or one deadline's
    #: field) alone, so a refused one is split (``plugin.outbox.units.parts``)
    scoped_deadlines: bool = True

    def push(self, ticket_id: str, commands: Sequence[Command], *, company: str | None = None,
             idempotency_key: str, done: Collection[str] = ()) -> PushResult:
        """Apply all commands for one ticket in as few calls as the host allows.

        ``company`` is the host's organisation/company id of the ticket (for balances kept
        on the organisation). ``done`` lists steps already applied by an earlier attempt.
        """
        raise NotImplementedError

    def list_updated(self, since: datetime) -> Iterator[dict[str, Any]]:
        """Tickets updated at or after ``since`` (host JSON), for reconciliation."""
        raise NotImplementedError

    def list_open(self) -> Iterator[dict[str, Any]]:
        """Every open ticket (host JSON), for the one-time import."""
        raise NotImplementedError

    def get_ticket(self, ticket_id: str) -> dict[str, Any]:
        """One ticket as the host's API returns it."""
        raise NotImplementedError

    def close(self) -> None:
        """Release the HTTP session."""

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Steps:
    """Runs named steps once each, remembering which completed (see module docstring)."""

    def __init__(self, done: Collection[str] = ()):
        self.done = set(done)
        self.completed: list[str] = []
        self.calls = 0

    def run(self, step: str, fn: Callable[[], T]) -> T | None:
        if step in self.done:
            return None
        try:
            result = fn()
        except HostError as exc:
            exc.done_steps = tuple(sorted(self.done | set(self.completed)))
            raise
        self.calls += 1
        self.completed.append(step)
        return result


def basic_auth(user: str, password: str) -> dict[str, str]:
    """An ``Authorization: Basic`` header (Freshdesk ``key:X``, Zendesk ``email/token:…``)."""
    raw = f"{user}:{password}".encode()
    return {"Authorization": "Basic " + base64.b64encode(raw).decode()}


class HttpHostClient(HostClient):
    """A host client speaking JSON over HTTP with a short in-call retry budget.

    Transient failures (connection, timeout, 5xx, 429) are retried here while the total wait
    stays within ``retry_budget`` seconds; beyond that the error is raised and the push job
    is retried later by the queue with :func:`retry_delay` again.
    """

    #: our status -> host status, used when ``conn.status_map`` has no entry
    DEFAULT_STATUS_MAP: Mapping[str, Any] = {}

    def __init__(self, conn: Connection, session: requests.Session | None = None, *,
                 sleep: Callable[[float], None] = time.sleep, rng: Any = random,
                 retry_budget: float = 30.0, max_attempts: int = 4):
        self.conn = conn
        self.base_url = (conn.base_url or "").rstrip("/")
        self._own_session = session is None
        self.session = session if session is not None else requests.Session()
        if self._own_session:
            # requests re-reads the proxy and CA-bundle environment on every call: with a
            # process's usual environment that was about a third of an inline push's CPU.
            # The same variables are read once per origin instead (see ``_environment``).
            self.session.trust_env = False
        self._env: dict[tuple[str, str], tuple[dict[str, str], Any]] = {}
        self.sleep = sleep
        self.rng = rng
        self.retry_budget = retry_budget
        self.max_attempts = max_attempts

    def close(self) -> None:
        if self._own_session:
            self.session.close()

    # -- configuration lookups ------------------------------------------------------------
    def credential(self, name: str) -> str:
        value = self.conn.credentials.get(name)
        if not value:
            raise HostError(f"connection {self.conn.name!r}: credential {name!r} is not set")
        return str(value)

    def host_status(self, status: str) -> Any:
        """The host's status for ours; ``None`` means "leave the host's status alone"."""
        if status in self.conn.status_map:
            return self.conn.status_map[status]
        return self.DEFAULT_STATUS_MAP.get(status)

    def field_key(self, name: str) -> Any:
        return self.conn.field_map.get(name)

    def mapped_fields(self, values: Mapping[str, Any],
                      skipped: list[str]) -> list[tuple[Any, Any]]:
        """``(host key, value)`` for every mapped name; unmapped names go to ``skipped``."""
        out = []
        for name, value in values.items():
            key = self.field_key(name)
            if key is None:
                skipped.append(name)
            else:
                out.append((key, value))
        return out

    def ticket_values(self, cs: ChangeSet, skipped: list[str], *,
                      company_side: bool) -> list[tuple[Any, Any]]:
        """Field writes for the ticket: ``set_fields``, mapped deadlines, ticket balances."""
        values: dict[str, Any] = dict(cs.fields)
        for name, due in cs.deadline_fields().items():
            if self.field_key(name) is not None:
                values[name] = due
        if not company_side:
            for bal in cs.balances:
                values.update({k: bal.get(k) for k in ("balance", "reserved", "available")})
        return self.mapped_fields(values, skipped)

    def company_values(self, cs: ChangeSet) -> list[tuple[Any, Any]]:
        """Organisation field writes for balances, when the connection maps them."""
        out = []
        for bal in cs.balances:
            for name in ("balance", "reserved", "available"):
                key = self.field_key("company." + name)
                if key is not None:
                    out.append((key, bal.get(name)))
        return out

    def wants_company_side(self, company: str | None) -> bool:
        return company is not None and any(
            self.field_key("company." + n) is not None
            for n in ("balance", "reserved", "available"))

    # -- HTTP -------------------------------------------------------------------------------
    def auth_headers(self) -> dict[str, str]:
        return {}

    def url(self, path: str) -> str:
        """``base_url + path``; an absolute URL (a host's own "next page" link, the generic
        callback) must stay on an origin from settings, so a host answer cannot send our
        credentials elsewhere."""
        if not path.startswith(("http://", "https://")):
            return self.base_url + path
        allowed = {urlsplit(u)[:2] for u in (self.base_url, self.conn.callback_url) if u}
        if urlsplit(path)[:2] not in allowed:
            raise HostError(f"connection {self.conn.name!r}: refused a URL outside the "
                            f"configured origin ({safe_url(path)})")
        return path

    def _environment(self, url: str) -> tuple[dict[str, str], Any]:
        """Proxies and TLS verification for ``url`` from the environment, as requests itself
        would read them (``HTTPS_PROXY``, ``NO_PROXY``, ``REQUESTS_CA_BUNDLE``,
        ``CURL_CA_BUNDLE``), once per origin: like the settings, read when the process starts
        using them. ``~/.netrc`` is not consulted (hosts authenticate with their headers)."""
        origin = urlsplit(url)[:2]
        found = self._env.get(origin)
        if found is None:
            verify: Any = self.conn.verify_tls
            if verify is True:
                verify = (os.environ.get("REQUESTS_CA_BUNDLE")
                          or os.environ.get("CURL_CA_BUNDLE") or True)
            found = self._env[origin] = (requests.utils.get_environ_proxies(url), verify)
        return found

    def _scrubbed(self, err: HostHTTPError, sent: Mapping[str, str]) -> HostHTTPError:
        """``err`` without our credentials: a host that echoes the key or the Authorization
        header it refused must not put them into logs, outbox records or notes."""
        values = {str(v) for v in self.conn.credentials.values()}
        for name in ("Authorization", "X-Redmine-API-Key"):
            if sent.get(name):
                values |= {sent[name], sent[name].split()[-1]}
        body = err.body
        for value in sorted((v for v in values if len(v) >= 6), key=len, reverse=True):
            body = body.replace(value, "***")
        if body == err.body:
            return err
        return type(err)(err.status, err.method, err.url, body, err.retry_after)

    def request(self, method: str, path: str, *, json: Any = None, data: bytes | None = None,
                params: Mapping[str, Any] | None = None,
                headers: Mapping[str, str] | None = None) -> Any:
        """One call with in-call retries; returns the decoded JSON (``None`` when empty)."""
        url = self.url(path)
        all_headers = {"Accept": "application/json", **self.auth_headers(), **(headers or {})}
        proxies, verify = self._environment(url)
        attempt = 0
        waited = 0.0
        while True:
            attempt += 1
            err: HostError
            try:
                resp = self.session.request(
                    method, url, json=json, data=data, params=params, headers=all_headers,
                    timeout=self.conn.timeout_seconds, verify=verify, proxies=proxies)
            except (requests.ConnectionError, requests.Timeout) as exc:
                # the exception text can echo the URL with its query; the class name is enough
                err = HostUnavailable(f"{method} {safe_url(url)}: {exc.__class__.__name__}")
            else:
                with resp:
                    if resp.status_code < 400:
                        return _decode(resp)
                    err = self._scrubbed(error_for(resp.status_code, method, url,
                                                   resp.content, resp.headers), all_headers)
            delay = retry_delay(err, attempt, self.rng, max_attempts=self.max_attempts)
            if delay is None or waited + delay > self.retry_budget:
                raise err
            log.info("hosts.retry connection=%s method=%s attempt=%d delay=%.1f error=%s",
                     self.conn.name, method, attempt, delay, err.__class__.__name__)
            self.sleep(delay)
            waited += delay


def html_text(text: str) -> str:
    """Plain text for a host that renders note bodies as HTML (Freshdesk): ``< > & " '``
    escaped, line breaks kept as ``<br>``. User text (a subject, a company name) in a
    template then shows as text and never runs as markup in the helpdesk. Hosts that take
    plain text (Zammad ``text/plain`` articles, Zendesk ``body``, Redmine, django-helpdesk)
    get the text unchanged: escaping there would show the entities."""
    return html.escape(text, quote=True).replace("\r\n", "\n").replace("\n", "<br>")


def segment(value: Any) -> str:
    """One URL path segment from a value (a ticket, organisation or agent id): every
    character outside ``A-Z a-z 0-9 - . _ ~`` percent-encoded, so an id can never add a
    segment, a query or a fragment (``1/../../companies/7?x=`` stays one segment). ``.``
    and ``..`` (which servers resolve) and the empty segment are refused. Every client
    builds its paths through this one function."""
    text = str(value)
    if text in ("", ".", ".."):
        raise HostError(f"refused the id {text!r} as a URL path segment")
    return quote(text, safe="")


def _decode(resp: requests.Response) -> Any:
    if not resp.content or resp.status_code == 204:
        return None
    try:
        return resp.json()
    except ValueError:
        return None


def result(ticket_id: str, steps: Steps, skipped: Sequence[str] = (),
           created: Sequence[str] = ()) -> PushResult:
    detail = f"skipped unmapped: {', '.join(sorted(set(skipped)))}" if skipped else ""
    return PushResult(ticket_id=ticket_id, calls=steps.calls, detail=detail,
                      created=tuple(created), steps=tuple(steps.completed))


def hhmm(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def iso_date(value: str | None) -> str | None:
    """``YYYY-MM-DD`` of an ISO datetime (in its own offset), for date-only host fields."""
    if not value:
        return None
    return datetime.fromisoformat(value.replace("Z", "+00:00")).date().isoformat()


def int_or_str(value: Any) -> Any:
    """Host ids as the host's JSON expects them: numeric ids as ints, others unchanged."""
    text = str(value)
    return int(text) if text.isdigit() else value
