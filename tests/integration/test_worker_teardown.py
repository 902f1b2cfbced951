"""A burst worker ends when its queues are empty, without rq 3.0 + redis-py 8.2's 60 s stall.

rq's teardown sends UNSUBSCRIBE and then joins the pub/sub thread, which (when it read the
reply first) waited 60 s for a subscription that never came: 3 of 10 bursts stalled before
``DeskpilotWorker`` stopped the thread first (plugin/worker.py ``subscribe``/``unsubscribe``).
"""

from __future__ import annotations

import time

import pytest

from plugin.queue import DEFAULT, connect, queue
from plugin.worker import DeskpilotWorker


@pytest.mark.redis
def test_burst_worker_tears_down_promptly(redis_url: str) -> None:
    conn = connect(redis_url)
    took = []
    try:
        for _ in range(8):
            # any job will do: this one names no Deskpilot function, so the worker refuses
            # it (issue 16) — the burst still has one job to take and must end promptly
            job = queue(conn, DEFAULT).enqueue("builtins.len", "abc")
            worker = DeskpilotWorker([queue(conn, DEFAULT)], connection=conn)
            start = time.monotonic()
            assert worker.work(burst=True, with_scheduler=False, logging_level="WARNING")
            took.append(time.monotonic() - start)
            job.refresh()
            assert job.get_status() == "failed"
    finally:
        conn.close()
    assert max(took) < 5, f"burst durations: {[round(t, 2) for t in took]}"
