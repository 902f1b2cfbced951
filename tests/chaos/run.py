"""One chaos run: stream events through the real processes while faults are injected.

Faults, at fixed shares of the stream: Redis restarted (its data lost), a worker SIGKILLed
mid-job, PostgreSQL restarted, INSERT revoked from the app's role on the events, ledger and
outbox tables for a few seconds (real "permission denied" write failures), and the host
answering 500, 429 + Retry-After or timing out on ``fault_rate`` of its calls throughout.
Then the stream drains: the scheduler process keeps running and ``deskpilot scheduler tick``
runs as if minutes had passed, so the sweeper's recovery of stranded work is exercised.
"""

from __future__ import annotations

import random
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import func, select, text

from tests.chaos.audit import Audit, audit
from tests.chaos.harness import ChaosPostgres, ChaosRedis
from tests.chaos.stack import SECRET, Stack
from tests.chaos.stream import Sender, plan_deliveries

COMPANIES = ["acme", "globex", "initech"]


@dataclass
class ChaosConfig:
    """Size and pace of a run."""

    tickets: int = 40
    rate: float = 12.0
    fault_rate: float = 0.3
    write_failure_seconds: float = 3.0
    drain_timeout: float = 90.0
    seed: int = 7
    workers: int = 2


def queue_depths(redis_url: str) -> dict[str, int]:
    import redis
    from rq import Queue

    from plugin.queue import ALL_QUEUES

    conn = redis.Redis.from_url(redis_url, socket_timeout=2)
    try:
        out = {}
        for name in ALL_QUEUES:
            q = Queue(name, connection=conn)
            # a SIGKILLed worker's execution stays in the started registry until rq expires
            # it, even after the sweeper's copy of the job finished: count only jobs that
            # are still "started" themselves
            started = [j for j in q.started_job_registry.get_job_ids(cleanup=False)
                       if _status(conn, j) == "started"]
            out[name] = len(q) + len(started) + len(q.scheduled_job_registry)
        return out
    finally:
        conn.close()


def _status(conn: Any, job_id: str) -> str | None:
    """A job's status read without side effects; None once the job is gone (a finished
    job whose result is not kept disappears between two reads)."""
    from rq.exceptions import InvalidJobOperation, NoSuchJobError
    from rq.job import Job

    from plugin.queue import SERIALIZER

    try:
        return str(Job.fetch(job_id, connection=conn, serializer=SERIALIZER)
                   .get_status(refresh=True).value)
    except (NoSuchJobError, InvalidJobOperation):
        return None


def job_states(redis_url: str, event_ids: list[int]) -> dict[int, str]:
    """Where rq has each event's job (for a problem report: which stage lost it)."""
    import redis

    from plugin.queue import event_job_id, queue

    conn = redis.Redis.from_url(redis_url, socket_timeout=2)
    try:
        q = queue(conn)
        queued = set(q.job_ids)
        started = set(q.started_job_registry.get_job_ids())
        out = {}
        for event_id in event_ids:
            jid = event_job_id(event_id)
            job = q.fetch_job(jid)
            status = job.get_status(refresh=True) if job is not None else "no job"
            out[event_id] = (f"{status} in_queue={jid in queued} in_started={jid in started} "
                             f"started_at={getattr(job, 'started_at', None)} "
                             f"worker={getattr(job, 'worker_name', None)}")
        return out
    finally:
        conn.close()


def _pending(stack: Stack) -> tuple[int, int]:
    from plugin.outbox.rows import OutboxRow, OutboxState
    from plugin.storage.db import Database
    from plugin.storage.models import Event, EventState

    db = Database(stack.app_db_url)
    try:
        with db.session() as s:
            events = s.execute(select(func.count()).select_from(Event).where(
                Event.state.not_in([EventState.PROCESSED, EventState.IGNORED]))).scalar_one()
            rows = s.execute(select(func.count()).select_from(OutboxRow).where(
                OutboxRow.state != OutboxState.SENT)).scalar_one()
            s.execute(text("SELECT 1"))
        return int(events), int(rows)
    finally:
        db.dispose()


def _faults(stack: Stack, cfg: ChaosConfig, total: int, say: Callable[[str], None],
            outcome: dict[str, str]) -> Callable[[int], None]:
    """The fault schedule, fired from the sender loop at shares of the stream."""
    def restart(service: ChaosRedis | ChaosPostgres, name: str) -> str:
        service.restart()
        return f"{name} restarted"

    # the SIGKILL comes before the Redis restart: a restart wipes rq's worker registry, and
    # without it a busy worker cannot be told from an idle one
    killed = threading.Event()

    def kill() -> str:
        try:
            return stack.kill_worker_mid_job()
        finally:
            killed.set()

    def restart_redis() -> str:
        killed.wait(30)  # the kill may still be waiting for a busy worker
        return restart(stack.redis, "redis")

    plan: list[tuple[float, str, Callable[[], str]]] = [
        (0.15, "worker-sigkill", kill),
        (0.30, "redis-restart", restart_redis),
        (0.50, "postgres-restart", lambda: restart(stack.pg, "postgres")),
        (0.70, "write-failure", lambda: _write_window(stack, cfg.write_failure_seconds)),
    ]
    fired: set[str] = set()

    def on_progress(i: int) -> None:
        for share, name, action in plan:
            if name not in fired and i >= share * total:
                fired.add(name)
                # in a thread: the stream keeps flowing while the fault lasts
                def fire(a: Callable[[], str] = action, n: str = name) -> None:
                    outcome[n] = a()
                    say(f"{n}: {outcome[n]}")

                threading.Thread(target=fire, daemon=True).start()

    return on_progress


def _write_window(stack: Stack, seconds: float) -> str:
    stack.revoke_writes()
    time.sleep(seconds)
    stack.grant_writes()
    return f"INSERT revoked for {seconds:.0f} s"


def run_chaos(cfg: ChaosConfig, workdir: Path | None = None,
              say: Callable[[str], None] = print) -> Audit:
    """Run the whole scenario and return its audit (figures and problems)."""
    own_dir = None
    if workdir is None:
        own_dir = tempfile.TemporaryDirectory(prefix="deskpilot-chaos-")
        workdir = Path(own_dir.name)
    stack = Stack(workdir, fault_rate=cfg.fault_rate, workers=cfg.workers, seed=cfg.seed)
    try:
        t0 = time.monotonic()
        stack.start()
        stack.buy(COMPANIES, 1000)
        say(f"stack up in {time.monotonic() - t0:.1f} s (pids {stack.pids()})")
        rng = random.Random(cfg.seed)
        deliveries = plan_deliveries(cfg.tickets, COMPANIES, rng)
        sender = Sender(stack.url, SECRET, rate=cfg.rate)
        supervising = threading.Event()

        def supervise() -> None:
            while not supervising.wait(0.5):
                stack.supervise()

        sup = threading.Thread(target=supervise, daemon=True)
        sup.start()
        t1 = time.monotonic()
        faults: dict[str, str] = {}
        sends = sender.run(deliveries, _faults(stack, cfg, len(deliveries), say, faults))
        say(f"streamed {len(deliveries)} deliveries in {time.monotonic() - t1:.1f} s")
        time.sleep(cfg.write_failure_seconds + 1)  # let the last fault window close
        deadline = time.monotonic() + cfg.drain_timeout
        ticks = 0
        last_tick: dict[str, str] = {}
        while time.monotonic() < deadline:
            events, rows = _pending(stack)
            if not events and not rows and not any(queue_depths(stack.redis.url).values()):
                break
            last_tick = stack.tick()
            ticks += 1
            time.sleep(1)
        supervising.set()
        sup.join()
        say(f"drained in {time.monotonic() - t1:.1f} s after {ticks} scheduler ticks; "
            f"restarts { {n: p.restarts for n, p in stack.procs.items() if p.restarts} }")
        result = audit(stack.app_db_url, deliveries, sends, stack.host.record,
                       queue_depths(stack.redis.url))
        stranded = result.figures.get("unprocessed_ids") or []
        if stranded:
            for event_id, where in job_states(stack.redis.url, stranded).items():
                result.problems.append(f"event {event_id} job: {where}")
        result.figures["restarts"] = {n: p.restarts for n, p in stack.procs.items()}
        result.figures["faults"] = faults
        result.figures["ticks"] = ticks
        result.figures["last_tick"] = last_tick
        return result
    finally:
        stack.stop()
        if own_dir is not None:
            own_dir.cleanup()
