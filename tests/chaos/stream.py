"""The event stream of the chaos run: signed generic deliveries and senders that retry.

Each ticket goes created → accepted (credits reserved) → resolved (credits taken). About
10 % of deliveries are sent twice under the same delivery id (a host's redelivery), and a
share of tickets have their acceptance and resolution sent in swapped order. Senders retry
on 5xx and connection errors with backoff, as real hosts do (Zammad retries 5 times).
"""

from __future__ import annotations

import json
import random
import threading
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import requests

from webhooks.hosts.generic import signed_headers


@dataclass(frozen=True)
class Delivery:
    """One signed delivery of one event."""

    delivery_id: str
    ticket_id: str
    kind: str  # created | accepted | resolved
    body: bytes
    units: int
    company: str


def _event(ticket: str, kind: str, at: datetime, company: str, units: int) -> dict[str, Any]:
    status = {"created": "new", "accepted": "accepted", "resolved": "resolved"}[kind]
    before = {"created": None, "accepted": "new", "resolved": "accepted"}[kind]
    created = at if kind == "created" else at - timedelta(minutes=10 * (kind != "created"))
    return {
        "event": "ticket.created" if kind == "created" else "ticket.updated",
        "occurred_at": at.isoformat(timespec="seconds"),
        "actor": ({"kind": "client", "id": "u-1"} if kind == "created"
                  else {"kind": "agent", "id": "a-1", "name": "Ihor"}),
        "ticket": {
            "id": ticket, "created_at": created.isoformat(timespec="seconds"),
            "company": {"id": company, "name": company.upper()},
            "requester": {"id": "u-1", "email": f"olena@{company}.example"},
            "subject": f"Chaos question {ticket}", "body": "Report totals are wrong",
            "priority": "normal", "status": status, "channel": "email",
            "custom_fields": {"task_type": "composite", "units": units},
        },
        "changes": {"status": [before, status]} if before else {},
        "comment": None, "time_entry": None, "rating": None,
    }


def plan_deliveries(n_tickets: int, companies: list[str], rng: random.Random,
                    swap_share: float = 0.15, dup_share: float = 0.10) -> list[Delivery]:
    """The sends of the run, in sending order (duplicates included, some pairs swapped)."""
    base = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
    run = uuid.uuid4().hex[:6]
    per_ticket: list[list[Delivery]] = []
    for n in range(n_tickets):
        ticket = f"C-{run}-{n:05d}"
        company = companies[n % len(companies)]
        units = 1 + n % 2
        t0 = base + timedelta(seconds=n)
        events = []
        for step, kind in enumerate(("created", "accepted", "resolved")):
            body = json.dumps(_event(ticket, kind, t0 + timedelta(minutes=5 * step), company,
                                     units)).encode()
            events.append(Delivery(f"{ticket}-{kind}", ticket, kind, body, units, company))
        if rng.random() < swap_share:
            events[1], events[2] = events[2], events[1]  # resolution delivered first
        per_ticket.append(events)
    # interleave tickets: a few in flight at once, like a busy desk
    out: list[Delivery] = []
    window = 4
    for start in range(0, len(per_ticket), window):
        group = per_ticket[start:start + window]
        for step in range(3):
            for events in group:
                out.append(events[step])
                if rng.random() < dup_share:
                    out.append(events[step])  # the host's redelivery, same delivery id
    return out


@dataclass
class SendLog:
    """What the senders saw, per delivery id."""

    sent: int = 0
    attempts: int = 0
    retries: int = 0
    answers: Counter[int] = field(default_factory=Counter)
    #: delivery id → final status code (202 queued, 200 duplicate, other = not accepted)
    final: dict[str, int] = field(default_factory=dict)
    accepted: set[str] = field(default_factory=set)
    given_up: set[str] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)


class Sender:
    """Posts deliveries at a steady rate from a thread pool, retrying like a host."""

    def __init__(self, url: str, secret: str, *, rate: float, threads: int = 6,
                 max_attempts: int = 12, timeout: float = 10.0):
        self.url = url
        self.secret = secret
        self.rate = rate
        self.threads = threads
        self.max_attempts = max_attempts
        self.timeout = timeout
        self.log = SendLog()
        self._local = threading.local()

    def _session(self) -> requests.Session:
        s = getattr(self._local, "session", None)
        if s is None:
            s = self._local.session = requests.Session()
        return s

    def post(self, d: Delivery) -> int:
        headers = {"Content-Type": "application/json",
                   **signed_headers(d.body, self.secret, d.delivery_id)}
        code = 0
        for attempt in range(self.max_attempts):
            with self.log.lock:
                self.log.attempts += 1
                if attempt:
                    self.log.retries += 1
            try:
                resp = self._session().post(self.url, data=d.body, headers=headers,
                                            timeout=self.timeout)
                code = resp.status_code
            except requests.RequestException:
                code = 0
            with self.log.lock:
                self.log.answers[code] += 1
            if code and code < 500:
                break
            time.sleep(min(0.25 * 2 ** attempt, 3.0))
        with self.log.lock:
            self.log.sent += 1
            self.log.final[d.delivery_id] = code
            if code in (200, 202):
                self.log.accepted.add(d.delivery_id)
            elif d.delivery_id not in self.log.accepted:
                self.log.given_up.add(d.delivery_id)
        return code

    def run(self, deliveries: list[Delivery], on_progress: Any = None) -> SendLog:
        """Send everything at ``rate`` per second; ``on_progress(i)`` is called per send."""
        start = time.monotonic()
        with ThreadPoolExecutor(self.threads) as pool:
            futures = []
            for i, d in enumerate(deliveries):
                due = start + i / self.rate
                delay = due - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                futures.append(pool.submit(self.post, d))
                if on_progress is not None:
                    on_progress(i)
            for f in futures:
                f.result()
        self.log.given_up -= self.log.accepted
        return self.log
