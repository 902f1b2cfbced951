"""Prometheus metrics: counters the other parts increment, and the ``/metrics`` endpoint.

Increment from anywhere, e.g. ``EVENTS.labels(host="zammad", outcome="duplicate").inc()``,
``JOB_LATENCY.labels(host="zammad").observe(seconds)``. Queue depths are read at scrape
time from the gauges registered with :func:`register_depth` (rq queues are built in).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator

from flask import Blueprint, Response, current_app
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

log = logging.getLogger("deskpilot.metrics")

#: outcome: received, ignored, duplicate, failed, invalid
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
RULE_RELOAD_FAILURES = Counter(
    "deskpilot_rule_reload_failures", "Rule reloads rejected (the last good rules stay)"
)

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


REGISTRY.register(_DepthCollector())

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


@bp.get("/metrics")
def metrics() -> Response:
    """Prometheus text exposition of every Deskpilot metric."""
    register_depth("rq", _rq_depths_bound())
    return Response(generate_latest(REGISTRY), mimetype=CONTENT_TYPE_LATEST)


def _rq_depths_bound() -> DepthReader:
    # bind the app now: the collector runs inside generate_latest, still in this request
    app = current_app._get_current_object()  # type: ignore[attr-defined]

    def read() -> dict[str, int]:
        with app.app_context():
            return _rq_depths()

    return read
