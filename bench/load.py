"""Load: signed generic events at a steady rate through serve → Redis → workers → host.

Own Redis and PostgreSQL (as in the chaos suite), no faults. Every 5 s it samples the RSS
of each process (gunicorn's master and its workers, each worker, the scheduler) and the
queue depth; at the end it prints RSS at start and end, the depth series, the achieved
rate, and the audit (lost and doubled must be 0).

    python bench/load.py                 # 60 s at 50 events/s
    python bench/load.py --seconds 600   # the full run: 10 minutes
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.chaos.audit import audit  # noqa: E402
from tests.chaos.run import COMPANIES, _pending, queue_depths  # noqa: E402
from tests.chaos.stack import SECRET, Stack  # noqa: E402
from tests.chaos.stream import Sender, plan_deliveries  # noqa: E402


def rss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def children(pid: int) -> list[int]:
    try:
        return [int(c) for c in
                Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def processes(stack: Stack) -> dict[str, int]:
    out = {}
    for name, pid in stack.pids().items():
        out[name] = pid
        for n, child in enumerate(children(pid)):
            out[f"{name}/{n}"] = child
    return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--seconds", type=float, default=60.0)
    p.add_argument("--rate", type=float, default=50.0)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--drain", type=float, default=300.0, help="seconds to wait for the backlog")
    args = p.parse_args()
    with tempfile.TemporaryDirectory(prefix="deskpilot-load-") as tmp:
        stack = Stack(Path(tmp), fault_rate=0.0, workers=args.workers)
        try:
            stack.start()
            stack.buy(COMPANIES, 100_000)
            time.sleep(3)  # gunicorn workers up and imported
            n_tickets = max(1, int(args.seconds * args.rate / 3.3))
            deliveries = plan_deliveries(n_tickets, COMPANIES, random.Random(1), swap_share=0.05)
            procs = processes(stack)
            start_rss = {n: rss_kib(pid) for n, pid in procs.items()}
            series: list[tuple[float, int, int]] = []
            done = threading.Event()
            t0 = time.monotonic()

            def sample() -> None:
                while not done.wait(5):
                    try:
                        depth = sum(queue_depths(stack.redis.url).values())
                    except Exception as exc:  # noqa: BLE001 - one bad read must not end the series
                        print("depth sample failed:", exc)
                        depth = -1
                    series.append((time.monotonic() - t0, depth,
                                   sum(rss_kib(pid) for pid in procs.values())))

            sampler = threading.Thread(target=sample, daemon=True)
            sampler.start()
            sends = Sender(stack.url, SECRET, rate=args.rate, threads=12).run(deliveries)
            sent_in = time.monotonic() - t0
            end_rss = {n: rss_kib(pid) for n, pid in procs.items()}
            deadline = time.monotonic() + args.drain
            while time.monotonic() < deadline and any(_pending(stack)):
                time.sleep(1)
            drained_in = time.monotonic() - t0
            done.set()
            sampler.join()
            result = audit(stack.app_db_url, deliveries, sends, stack.host.record,
                           queue_depths(stack.redis.url))
        finally:
            stack.stop()
    print(f"sent {sends.sent} deliveries in {sent_in:.1f} s = {sends.sent / sent_in:.1f}/s "
          f"(target {args.rate}/s); all processed and pushed after {drained_in:.1f} s")
    print(f"{'process':<14}{'RSS start MiB':>14}{'RSS end MiB':>13}")
    for name in start_rss:
        print(f"{name:<14}{start_rss[name] / 1024:>14.1f}{end_rss.get(name, 0) / 1024:>13.1f}")
    print("t(s)  queue depth  total RSS MiB")
    for t, depth, rss in series:
        print(f"{t:5.0f}  {depth:11d}  {rss / 1024:13.1f}")
    during = [d for t, d, _ in series if t <= sent_in]
    if len(during) >= 6:
        third = len(during) // 3
        first, last = during[:third], during[-third:]
        print(f"queue depth while sending: mean of first third {sum(first) / len(first):.1f}, "
              f"of last third {sum(last) / len(last):.1f}, max {max(during)}")
    print(f"processed {result.figures['processed']} events in {drained_in:.1f} s = "
          f"{result.figures['processed'] / drained_in:.1f} events/s sustained")
    print("load:", result.line())
    for problem in result.problems[:50]:
        print("problem:", problem)
    return 0 if result.lost == 0 and result.doubled == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
