"""The RQ worker: no fork per job (``SimpleWorker``), the context built once per process.

A forking worker pays ~13 ms per job (FACTS.md: 68 vs 164-222 trivial jobs/s per process),
and our jobs are small, so jobs run in the worker process itself.
"""

from __future__ import annotations

from rq import SimpleWorker

from plugin.context import build_context, set_context
from plugin.queue import DEFAULT, EVENTS, PUSH, connect
from plugin.settings import Settings

#: rq takes jobs from the first non-empty queue: pushes first, since a push finishes an
#: event already processed (receipt → host write), while under load events-first would
#: leave every push waiting until the event queue runs dry
WORK_ORDER = (PUSH, EVENTS, DEFAULT)


def run_worker(settings: Settings, burst: bool = False,
               queue_names: list[str] | None = None) -> bool:
    assert settings.redis_url
    ctx = build_context(settings)
    set_context(ctx)
    conn = connect(settings.redis_url)
    worker = SimpleWorker(list(queue_names or WORK_ORDER), connection=conn)
    try:
        return bool(worker.work(burst=burst, with_scheduler=False,
                                logging_level=settings.log_level))
    finally:
        ctx.close()
