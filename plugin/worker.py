"""The RQ worker: no fork per job (``SimpleWorker``), the context built once per process.

A forking worker pays ~13 ms per job (FACTS.md: 68 vs 164-222 trivial jobs/s per process),
and our jobs are small, so jobs run in the worker process itself.
"""

from __future__ import annotations

import time
from typing import Any

from rq import SimpleWorker
from rq.job import Job

from plugin.context import build_context, set_context
from plugin.queue import DEFAULT, EVENTS, JOB_FUNCS, PUSH, SERIALIZER, connect
from plugin.settings import Settings

#: rq takes jobs from the first non-empty queue: pushes first, since a push finishes an
#: event already processed (receipt → host write), while under load events-first would
#: leave every push waiting until the event queue runs dry
WORK_ORDER = (PUSH, EVENTS, DEFAULT)

#: seconds between two liveness refreshes of the worker key outside a job's own pipeline
HEARTBEAT_EVERY = 5.0

#: the longest the worker's pub/sub thread blocks in one read (rq: 60 s; see ``subscribe``)
PUBSUB_POLL_SECONDS = 1.0


class RefusedJob(Exception):
    """A job from Redis that is not one of Deskpilot's (failed, never run)."""


class AllowedJob(Job):
    """A job that runs only a function of :data:`plugin.queue.JOB_FUNCS`.

    Its data is read with the JSON serializer (a pickle fails to load: rq's
    ``DeserializationError``), and its function is checked before rq imports it, so a job
    written into Redis by hand runs nothing: it lands in the failed registry.
    """

    @property
    def func(self) -> Any:
        name = self.func_name
        if name not in JOB_FUNCS:
            raise RefusedJob(f"job {self.id}: {name!r} is not a Deskpilot job function")
        return super().func


class DeskpilotWorker(SimpleWorker):
    """``SimpleWorker`` whose stand-alone heartbeats are throttled.

    rq refreshes the worker key (three round trips) several times per job, about a third of
    its per-job cost on small jobs; the key lives ``worker_ttl`` (minutes), so one refresh
    every few seconds keeps it as alive. Heartbeats inside a pipeline (job start) and any
    that extend the key further than the last one are always sent.
    """

    _granted_until = 0.0

    def heartbeat(self, timeout: int | None = None, pipeline: Any = None) -> None:
        now = time.monotonic()
        until = now + (timeout or self.worker_ttl + 60)
        if pipeline is None and until <= self._granted_until + HEARTBEAT_EVERY:
            return
        super().heartbeat(timeout, pipeline)
        self._granted_until = max(until, now)

    def subscribe(self) -> None:
        """rq's subscription, with a pub/sub thread that wakes every second instead of 60 s.

        Why: rq 3.0's teardown sends UNSUBSCRIBE and then calls ``PubSubWorkerThread.stop()``,
        which since redis-py 8.2 *joins* the thread (redis/client.py ``stop``). When the
        thread reads the unsubscribe reply before the flag is cleared, its next
        ``get_message(timeout=60)`` finds no subscription and waits 60 s on
        ``subscribed_event``; the burst worker then stalls 60 s in teardown (reproduced: 3 of
        10 bursts with rq 3.0.0 + redis 8.2.0). With a 1 s poll the wait ends within a second,
        and :meth:`unsubscribe` clears the thread's flag first so it does not wait at all.
        """
        self.log.info("Worker %s: subscribing to channel %s", self.name,
                      self.pubsub_channel_name)
        self.pubsub = self.connection.pubsub()
        self.pubsub.subscribe(**{self.pubsub_channel_name: self.handle_payload})
        self.pubsub_thread = self.pubsub.run_in_thread(  # type: ignore[assignment]
            sleep_time=PUBSUB_POLL_SECONDS, daemon=True,
            exception_handler=self._pubsub_exception_handler,
        )

    def unsubscribe(self) -> None:
        """Tell the pub/sub thread to stop *before* rq's UNSUBSCRIBE wakes it (see above)."""
        running = getattr(self.pubsub_thread, "_running", None)
        if running is not None:
            running.clear()
        super().unsubscribe()


def run_worker(settings: Settings, burst: bool = False,
               queue_names: list[str] | None = None) -> bool:
    assert settings.redis_url
    ctx = build_context(settings)
    set_context(ctx)
    conn = connect(settings.redis_url)
    worker = DeskpilotWorker(list(queue_names or WORK_ORDER), connection=conn,
                             serializer=SERIALIZER, job_class=AllowedJob)
    try:
        return bool(worker.work(burst=burst, with_scheduler=False,
                                logging_level=settings.log_level))
    finally:
        ctx.close()
