"""End-to-end bench: signed generic events → receiver (gunicorn) → Redis → 2 workers → a
fake host HTTP server on 127.0.0.1 (the generic connection's ``callback_url``).

Prints p50/p95/p99 from receipt to the host write, lost and duplicated writes, at 50 and
100 events/s, the highest sustainable rate found by a short ramp, and SimpleWorker vs the
forking Worker on trivial jobs. Uses a throwaway PostgreSQL database (or SQLite under /tmp
with ``--sqlite``) and Redis db 13, both removed at the end.

    .venv/bin/python bench/e2e.py            # 20 s per rate (default)
    .venv/bin/python bench/e2e.py --full     # 2 minutes per rate
    BENCH_DUMP=/tmp/lat.txt .venv/bin/python bench/e2e.py --full --rates 100 --ramp ""
    .venv/bin/python bench/e2e.py --micro --before 2bb3c4f   # in-process, before/after
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import redis
import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.append(str(ROOT / "bench"))  # after ROOT: bench/rules.py must not shadow rules/

from webhooks.hosts.generic import signed_headers  # noqa: E402

SECRET = "bench-secret-0123456789"
REDIS_URL = "redis://127.0.0.1:6379/13"
PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
PY = str(ROOT / ".venv" / "bin" / "python")
WORKER_ERR = None if os.environ.get("BENCH_DEBUG") else subprocess.DEVNULL


class Host:
    """The fake host, in a process of its own (a helpdesk is another server: in the sender's
    process it would share its GIL and answer late): records the first write per ticket and
    every delivery id; :meth:`snapshot` fetches both over HTTP."""

    def __init__(self) -> None:
        import multiprocessing

        ctx = multiprocessing.get_context("spawn")
        ready = ctx.Queue()
        self.process = ctx.Process(target=_serve_host, args=(ready,), daemon=True)
        self.process.start()
        self.port = int(ready.get(timeout=30))
        self.http = requests.Session()
        self.http.trust_env = False

    def snapshot(self) -> tuple[dict[str, float], dict[str, int]]:
        """(first write time per ticket, writes per delivery id) so far."""
        data = self.http.get(f"http://127.0.0.1:{self.port}/state", timeout=30).json()
        return data["first"], data["deliveries"]

    def close(self) -> None:
        self.process.terminate()
        self.process.join(10)


def _serve_host(ready: Any) -> None:
    lock = threading.Lock()
    first: dict[str, float] = {}
    deliveries: dict[str, int] = {}

    class Handler(BaseHTTPRequestHandler):
        # keep-alive, as a helpdesk's API server: each push needs no TCP connect; one write per
        # answer and no Nagle, so a small answer never waits for the client's delayed ACK
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True

        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            now = time.time()
            data = json.loads(body)
            with lock:
                first.setdefault(data["ticket_id"], now)
                key = data["delivery_id"]
                deliveries[key] = deliveries.get(key, 0) + 1
            self._answer(b"{}")

        def do_GET(self) -> None:  # noqa: N802
            with lock:
                out = json.dumps({"first": first, "deliveries": deliveries}).encode()
            self._answer(out)

        def _answer(self, out: bytes) -> None:
            self.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                             b"Content-Length: %d\r\n\r\n%s" % (len(out), out))

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    ready.put(server.server_address[1])
    server.serve_forever()


def event_body(ticket: str, n: int) -> bytes:
    now = time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime())
    return json.dumps({
        "event": "ticket.created", "occurred_at": now,
        "actor": {"kind": "client", "id": "u-1"},
        "ticket": {"id": ticket, "created_at": now, "subject": f"Bench {n}",
                   "company": {"id": f"c{n % 300}", "name": "Bench"},
                   "status": "new", "priority": "normal", "channel": "email"},
    }).encode()


def run_rate(url: str, host: Host, rate: float, seconds: float, tag: str,
             drain: float = 120.0) -> dict[str, float]:
    """Send ``rate`` events/s for ``seconds``; wait (up to ``drain`` s) for every host
    write, so an overloaded rate shows as latency and leaves no backlog to the next one;
    ``lost`` are the events never written by then."""
    sent: dict[str, float] = {}
    sess = requests.Session()
    sess.trust_env = False  # the load generator shares the cores: no env scan per request
    adapter = requests.adapters.HTTPAdapter(pool_connections=32, pool_maxsize=32)
    sess.mount("http://", adapter)
    errors = 0

    def send(n: int) -> None:
        nonlocal errors
        ticket = f"{tag}-{n}"
        body = event_body(ticket, n)
        headers = {"Content-Type": "application/json",
                   **signed_headers(body, SECRET, str(uuid.uuid4()))}
        t0 = time.time()
        try:
            r = sess.post(url, data=body, headers=headers, timeout=10)
            if r.status_code != 202:
                errors += 1
                return
        except requests.RequestException:
            errors += 1
            return
        sent[ticket] = t0

    total = int(rate * seconds)
    start = time.monotonic()
    with ThreadPoolExecutor(max_workers=32) as pool:
        for n in range(total):
            delay = start + n / rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            pool.submit(send, n)
    send_end = time.monotonic()
    deadline = time.time() + drain
    while time.time() < deadline:
        first, _ = host.snapshot()
        if all(t in first for t in sent):
            break
        time.sleep(0.5)
    first, _ = host.snapshot()
    if os.environ.get("BENCH_DUMP"):  # a file: one "sent_at latency" line per event
        with open(os.environ["BENCH_DUMP"], "a") as out:
            out.writelines(f"{tag} {t0:.3f} {first[t] - t0:.4f}\n"
                           for t, t0 in sent.items() if t in first)
    lat = sorted(first[t] - t0 for t, t0 in sent.items() if t in first)
    lost = sum(1 for t in sent if t not in first)
    q = statistics.quantiles(lat, n=100) if len(lat) > 1 else [float("nan")] * 99
    return {"rate": rate, "sent": len(sent), "errors": errors, "lost": lost,
            "achieved": len(sent) / max(send_end - start, 1e-9),
            "p50": q[49], "p95": q[94], "p99": q[98]}


def worker_bench(jobs: int = 1500) -> dict[str, float]:
    """Trivial jobs/s with 2 worker processes: SimpleWorker vs the forking Worker."""
    from rq import Queue

    out: dict[str, float] = {}
    conn = redis.Redis.from_url(REDIS_URL)
    for cls in ("SimpleWorker", "Worker"):
        conn.flushdb()
        q = Queue("bench", connection=conn)
        q.enqueue_many([Queue.prepare_data("os.getpid", result_ttl=0) for _ in range(jobs)])
        code = (f"import redis, rq; c=redis.Redis.from_url('{REDIS_URL}'); "
                f"rq.{cls}([rq.Queue('bench', connection=c)], connection=c)"
                ".work(burst=True, with_scheduler=False, logging_level='ERROR')")
        t0 = time.monotonic()
        procs = [subprocess.Popen([PY, "-c", code]) for _ in range(2)]
        for p in procs:
            p.wait()
        out[cls] = jobs / (time.monotonic() - t0)
    conn.flushdb()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--full", action="store_true", help="2 minutes per rate")
    ap.add_argument("--seconds", type=float, default=20.0, help="seconds per rate")
    ap.add_argument("--sqlite", action="store_true", help="SQLite under /tmp, not PostgreSQL")
    ap.add_argument("--ramp", default="150,200,250", help="rates tried for the highest")
    ap.add_argument("--micro", action="store_true",
                    help="only the in-process bench: statements and ms per event")
    ap.add_argument("--before", metavar="REV", help="with --micro: also the code of REV")
    ap.add_argument("--rates", default="50,100", help="rates measured before the ramp")
    ap.add_argument("--workers", type=int, default=2, help="worker processes")
    args = ap.parse_args()
    if args.micro:
        import e2e_micro

        if args.before:
            e2e_micro.report_before(args.before, 60, "sqlite,pg")
        e2e_micro.report(60, ["sqlite", "pg"])
        return
    seconds = 120.0 if args.full else args.seconds

    tmp = Path(tempfile.mkdtemp(prefix="deskpilot-bench-"))
    pg_engine = None
    if args.sqlite:
        db_url = f"sqlite:///{tmp / 'bench.sqlite3'}"
    else:
        from sqlalchemy import create_engine, text

        name = f"deskpilot_bench_{uuid.uuid4().hex[:8]}"
        pg_engine = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
        with pg_engine.connect() as c:
            c.execute(text(f'CREATE DATABASE "{name}"'))
        db_url = PG_ADMIN.rsplit("/", 1)[0] + f"/{name}"
    host = Host()
    settings = {
        "database_url": db_url, "redis_url": REDIS_URL, "config_dir": str(ROOT / "config"),
        "var_dir": str(tmp), "log_level": "WARNING",
        "connections": [{"name": "generic", "kind": "generic", "webhook_secrets": [SECRET],
                         "callback_url": f"http://127.0.0.1:{host.port}/callback",
                         "credentials": {"callback_secret": "callback-" + SECRET}}],
    }
    (tmp / "deskpilot.yaml").write_text(json.dumps(settings))
    env = {**os.environ, "DESKPILOT_SETTINGS": str(tmp / "deskpilot.yaml"),
           "PYTHONPATH": str(ROOT)}
    redis.Redis.from_url(REDIS_URL).flushdb()
    import plugin.tables  # noqa: F401
    from plugin.storage.db import Database

    db = Database(db_url)
    db.create_all()
    db.dispose()
    port = 8791
    cli = [PY, "-m", "plugin.cli"]
    procs = [subprocess.Popen([*cli, "serve", "--port", str(port), "--workers", "2"], env=env)]
    profile = os.environ.get("BENCH_PROFILE")  # a directory: each worker writes a cProfile
    procs += [subprocess.Popen(
        [PY, "-m", "cProfile", "-o", f"{profile}/worker-{n}.prof", "-m", "plugin.cli", "worker"]
        if profile else [*cli, "worker"], env=env, stderr=WORKER_ERR)
        for n in range(args.workers)]
    procs.append(subprocess.Popen([*cli, "scheduler"], env=env, stderr=subprocess.DEVNULL))
    try:
        for _ in range(100):
            try:
                if requests.get(f"http://127.0.0.1:{port}/healthz", timeout=1).ok:
                    break
            except requests.RequestException:
                time.sleep(0.2)
        url = f"http://127.0.0.1:{port}/webhooks/generic"
        run_rate(url, host, 20, 3, "warm")
        print(f"bench: {seconds:.0f} s per rate, database {'sqlite' if args.sqlite else 'pg'}, "
              f"{args.workers} workers")
        header = "rate/s  achieved  sent  errors  lost  p50 ms  p95 ms  p99 ms"
        print(header)
        best = 0.0
        fixed = [float(r) for r in args.rates.split(",") if r]
        for rate in [*fixed, *[float(r) for r in args.ramp.split(",") if r]]:
            ramp = rate > max(fixed, default=0)
            r = run_rate(url, host, rate, seconds if not ramp else min(seconds, 15.0),
                         f"r{int(rate)}", drain=60.0 if ramp else 120.0)
            print(f"{r['rate']:6.0f}  {r['achieved']:8.1f}  {r['sent']:4.0f}  {r['errors']:6.0f}"
                  f"  {r['lost']:4.0f}  {r['p50'] * 1000:6.0f}  {r['p95'] * 1000:6.0f}"
                  f"  {r['p99'] * 1000:6.0f}", flush=True)
            ok = r["lost"] == 0 and r["errors"] == 0 and r["p95"] < 1.0 \
                and r["achieved"] >= 0.95 * rate
            if ok:
                best = max(best, rate)
            elif ramp:
                break
        _, deliveries = host.snapshot()
        dup = sum(1 for n in deliveries.values() if n > 1)
        print(f"duplicated host writes (same delivery id twice): {dup} of {len(deliveries)}")
        print(f"highest sustainable rate tried (p95 < 1 s, 0 lost): {best:.0f} events/s")
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait(timeout=20)
        host.close()
    wb = worker_bench()
    print(f"trivial jobs/s, 2 processes: SimpleWorker {wb['SimpleWorker']:.0f}, "
          f"forking Worker {wb['Worker']:.0f}, ratio {wb['SimpleWorker'] / wb['Worker']:.1f}x")
    redis.Redis.from_url(REDIS_URL).flushdb()
    if pg_engine is not None:
        from sqlalchemy import text

        with pg_engine.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{db_url.rsplit("/", 1)[1]}" WITH (FORCE)'))
        pg_engine.dispose()


if __name__ == "__main__":
    main()
