"""Prometheus metrics: counters the other parts increment, and the ``/metrics`` endpoint.

Increment from anywhere, e.g. ``count_event("zammad", "duplicate")``,
``JOB_LATENCY.labels(host="zammad").observe(seconds)``. With ``PROMETHEUS_MULTIPROC_DIR``
set (the process commands set it, see ``metrics_dir``) every process writes its samples
there and ``/metrics`` sums them all; without it ``/metrics`` shows this process only.
Queue depths are read at scrape time (rq queues are built in; more with
:func:`register_depth`). Rule reloads are counted by ``plugin.rules_runtime``
(``deskpilot_rules_reload_errors``).
"""

from __future__ import annotations

import hmac
import logging
import os
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import datetime
from typing import Any

from flask import Blueprint, Response, current_app, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector
from sqlalchemy import event as sa_event
from sqlalchemy import select

from plugin.auth import bearer, error_response
from plugin.reports.metrics_dir import ENV

log = logging.getLogger("deskpilot.metrics")

#: outcome: received, ignored, duplicate, invalid (refused: signature, size, payload,
#: conflict), failed (could not be stored: database or Redis down)
EVENTS = Counter(
    "deskpilot_events", "Webhook events by host connection and outcome", ["host", "outcome"]
)
#: seconds from the webhook's receipt to the host write that carried out its commands
JOB_LATENCY = Histogram(
    "deskpilot_job_latency_seconds", "Receipt to host write", ["host"],
    buckets=(0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300, 900, 3600),
)
#: kind: accept, first_response, resolve
BREACHES = Counter("deskpilot_breaches", "Deadlines missed, by kind", ["kind"])
DEBITS = Counter("deskpilot_debits", "Credit debits posted", ["company"])
DEBITED_UNITS = Counter("deskpilot_debited_units", "Credit units debited", ["company"])
#: the receiver's store outcomes under their metric names
_STORE_OUTCOMES = {"queued": "received", "conflict": "invalid"}


def count_event(host: str, outcome: str) -> None:
    """One webhook delivery's outcome (the receiver's status names are accepted too)."""
    EVENTS.labels(host=host, outcome=_STORE_OUTCOMES.get(outcome, outcome)).inc()


#: label debits by company id (``metrics_company_labels``; set by :func:`configure`)
_COMPANY_LABELS = False
#: the one series debits count in when company labels are off
ALL_COMPANIES = "all"


def configure(settings: Any) -> None:
    """Apply the settings that shape metrics (called where settings are loaded)."""
    global _COMPANY_LABELS
    _COMPANY_LABELS = bool(getattr(settings, "metrics_company_labels", False))


def count_debits(session: Any, company: str, result: Any) -> None:
    """Count the debits a ledger call posted (``result.posted``), once the transaction
    commits: a job rolled back and retried must not count twice. The client company's id
    is a label only when ``metrics_company_labels`` asks for it (the client list is not
    an operator's business)."""
    posted = [e for e in getattr(result, "posted", ()) if getattr(e, "kind", None) == "debit"]
    if not posted:
        return
    units = sum(-int(e.units) for e in posted)
    company = company if _COMPANY_LABELS else ALL_COMPANIES

    def _count(_session: Any) -> None:
        DEBITS.labels(company=company).inc(len(posted))
        DEBITED_UNITS.labels(company=company).inc(units)

    sa_event.listen(session, "after_commit", _count, once=True)


def observe_push(ctx: Any, host: str, starts: Iterable[tuple[str, datetime]],
                 at: datetime, received: Mapping[int, datetime] | None = None) -> None:
    """Observe receipt → host write for the rows just written to the host at ``at``.

    ``starts`` are the rows' ``(idempotency key, created_at)``: the latency starts at the
    source event's ``received_at`` (keys ``event:<id>:…``; ``received`` has those the caller
    knows, one query finds the rest), else at the row's creation.
    """
    from plugin.storage.models import Event

    begin: dict[str, datetime] = {}
    events: set[int] = set()
    for key, created in starts:
        parts = key.split(":")
        if parts[0] == "event" and len(parts) > 1 and parts[1].isdigit():
            eid = int(parts[1])
            if received is not None and eid in received:
                begin[f"event:{eid}"] = received[eid]
            else:
                events.add(eid)
        else:
            begin.setdefault(f"row:{key}", created)
    if events:
        try:
            with ctx.db.sessions() as session:
                found = session.execute(select(Event.id, Event.received_at)
                                        .where(Event.id.in_(events))).all()
        except Exception as exc:  # noqa: BLE001 - a metric must never fail a push
            log.warning("metrics.latency-failed host=%s error=%s", host, exc)
            return
        begin.update({f"event:{eid}": received for eid, received in found})
    for start in begin.values():
        JOB_LATENCY.labels(host=host).observe(max(0.0, (at - start).total_seconds()))


DepthReader = Callable[[], dict[str, int]]
_depths: dict[str, DepthReader] = {}


def register_depth(name: str, reader: DepthReader) -> None:
    """Report ``reader()``'s ``{queue: depth}`` under ``deskpilot_queue_depth`` at scrape time."""
    _depths[name] = reader


class _DepthCollector(Collector):
    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily(
            "deskpilot_queue_depth", "Jobs or rows waiting, by queue", labels=["queue"]
        )
        for name, reader in list(_depths.items()):
            try:
                for queue, depth in reader().items():
                    family.add_metric([queue], depth)
            except Exception as exc:  # noqa: BLE001 - a scrape must not fail on one source
                log.warning("metrics.depth-failed source=%s error=%s", name, exc)
        yield family


_DEPTHS = _DepthCollector()
REGISTRY.register(_DEPTHS)

bp = Blueprint("metrics", __name__)


def _rq_depths() -> dict[str, int]:
    from rq import Queue

    ctx = current_app.extensions["deskpilot"]
    out: dict[str, int] = {}
    if not ctx.redis_url:
        return out
    for q in Queue.all(connection=ctx.redis):
        out[f"rq:{q.name}"] = q.count
    return out


def scrape_registry() -> CollectorRegistry:
    """Every process's samples (multiprocess directory) plus the queue depths; this
    process's own registry when no directory is configured."""
    path = os.environ.get(ENV)
    if not path:
        return REGISTRY
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=path)
    registry.register(_DEPTHS)
    return registry


@bp.get("/metrics")
def metrics() -> Response:
    """Prometheus text exposition of every Deskpilot metric, for operators only:
    ``Authorization: Bearer <metrics or admin token>`` (401 without, 403 wrong; 404 when
    no token is configured at all, so nothing is served unprotected)."""
    settings = current_app.extensions["deskpilot"].settings
    tokens = (*settings.metrics_tokens, *settings.admin_tokens)
    if not tokens:
        return error_response(404, "not-found", "metrics are off: set metrics_tokens "
                              "(or DESKPILOT_METRICS_TOKEN)")
    given = bearer(request.headers.get("Authorization"))
    if not given:
        return error_response(401, "unauthorized", "a metrics token is required "
                              "(Authorization: Bearer <token>)")
    hits = [hmac.compare_digest(given.encode(), str(t).encode()) for t in tokens]
    if not any(hits):
        return error_response(403, "forbidden", "this metrics token is not valid")
    register_depth("rq", _rq_depths_bound())
    return Response(generate_latest(scrape_registry()), mimetype=CONTENT_TYPE_LATEST)


def _rq_depths_bound() -> DepthReader:
    # bind the app now: the collector runs inside generate_latest, still in this request
    app = current_app._get_current_object()  # type: ignore[attr-defined]

    def read() -> dict[str, int]:
        with app.app_context():
            return _rq_depths()

    return read
