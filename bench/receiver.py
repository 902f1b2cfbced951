"""Receiver throughput: the real webhook receiver vs a bare floor endpoint, both under gunicorn.

The receiver stores every event in a throwaway PostgreSQL database and enqueues it in a
leased Redis db (never db 0) before answering 202. The floor does only an HMAC check, a
Redis ``SET NX`` and an ``LPUSH``. Both run under the same gunicorn settings (gthread,
2 workers × 4 threads), each in its own server, and are loaded by ``wrk`` from a second
process on 127.0.0.1 with signed 2 KB generic events at 64 connections, in alternating
rounds (this machine is shared: a burst of other work then weighs on both sides); every
request carries a new ``X-Deskpilot-Delivery`` id, so each one is a new event. Printed: each
round, the median rate and p50 over the rounds (one disturbed round does not decide) and
the worst round's p99.

    .venv/bin/python bench/receiver.py            # 3 rounds of 7 s per side
    .venv/bin/python bench/receiver.py --full     # 3 rounds of 20 s per side
"""

from __future__ import annotations

import argparse
import hmac
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SECRET = "bench-secret-0123456789"
PG_ADMIN = os.environ.get("DESKPILOT_TEST_PG_URL",
                          "postgresql+psycopg://postgres@127.0.0.1:5432/test")
REDIS = os.environ.get("DESKPILOT_TEST_REDIS_URL", "redis://127.0.0.1:6379")


def event_body(size: int = 2048) -> bytes:
    """A generic ticket.updated event padded to ``size`` bytes."""
    data: dict[str, Any] = {
        "event": "ticket.updated", "occurred_at": "2026-11-23T10:05:00+02:00",
        "actor": {"kind": "agent", "id": "a-3", "name": "Ihor"},
        "ticket": {"id": "T-1001", "created_at": "2026-11-23T10:00:00+02:00",
                   "company": {"id": "acme", "name": "ACME Ltd"},
                   "requester": {"id": "u-17", "email": "olena@acme.example"},
                   "subject": "Report totals are wrong", "tags": ["reports"],
                   "priority": "normal", "status": "in_progress", "channel": "email",
                   "custom_fields": {"task_type": "composite", "units": 2}, "body": ""},
        "changes": {"status": ["accepted", "in_progress"]},
    }
    pad = size - len(json.dumps(data).encode())
    data["ticket"]["body"] = "x" * max(pad, 0)
    return json.dumps(data).encode()


# ---------------------------------------------------------------- apps gunicorn loads


def make_receiver() -> Any:
    from plugin.app import create_app
    from plugin.settings import load_settings

    settings = load_settings({"DESKPILOT_CONFIG_DIR": os.environ["BENCH_DIR"]}, {
        "database_url": os.environ["BENCH_DB"], "redis_url": os.environ["BENCH_REDIS"],
        "var_dir": os.environ["BENCH_DIR"], "log_level": "WARNING",
        # wrk sends one pre-signed body under many delivery ids: the version 1 signature
        "connections": [{"name": "generic", "kind": "generic", "webhook_secrets": [SECRET],
                         "options": {"accept_legacy_signature": True}}],
    })
    return create_app(settings)


def make_floor() -> Any:
    import redis
    from flask import Flask, request

    app = Flask("floor")
    conn = redis.Redis.from_url(os.environ["BENCH_REDIS"])
    key = SECRET.encode()

    @app.post("/webhooks/generic")
    def floor() -> Any:
        body = request.get_data()
        given = request.headers.get("X-Deskpilot-Signature", "")
        expected = "sha256=" + hmac.new(key, body, "sha256").hexdigest()
        if not hmac.compare_digest(given, expected):
            return {"status": "bad"}, 401
        delivery = request.headers.get("X-Deskpilot-Delivery", "")
        if not conn.set(f"floor:seen:{delivery}", 1, nx=True, ex=600):
            return {"status": "duplicate"}, 200
        conn.lpush("floor:queue", body)
        return {"status": "queued"}, 202

    return app


# ---------------------------------------------------------------- the run


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_port(port: int, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError(f"server on {port} did not start")


LUA = """
local body = [[%BODY%]]
local sig = "%SIG%"
local counter = 0
local prefix = ""
setup = function(thread) thread:set("tid", tostring(math.random(1, 1000000000))) end
init = function(args) prefix = tid end
request = function()
  counter = counter + 1
  return wrk.format("POST", "/webhooks/generic", {
    ["Content-Type"] = "application/json",
    ["X-Deskpilot-Signature"] = sig,
    ["X-Deskpilot-Delivery"] = "%RUN%-" .. prefix .. "-" .. counter,
  }, body)
end
done = function(summary, latency, requests)
  io.write(string.format("BENCH p50=%.3f p99=%.3f requests=%d non2xx=%d errors=%d\\n",
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, summary.requests,
    summary.errors.status, summary.errors.connect + summary.errors.read +
    summary.errors.write + summary.errors.timeout))
end
"""


def start_server(app: str, env: dict[str, str]) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}", "--workers", "2",
         "--worker-class", "gthread", "--threads", "4", "--log-level", "warning",
         "--backlog", "2048", app],
        cwd=ROOT, env={**os.environ, **env, "PYTHONPATH": str(ROOT)},
    )
    wait_port(port)
    return server, f"http://127.0.0.1:{port}"


def load(url: str, seconds: int, workdir: Path, label: str, timeout: str = "5s"
         ) -> dict[str, Any]:
    """One wrk run at 64 connections with delivery ids new to this run."""
    out = subprocess.run(["wrk", "-t2", "-c64", f"-d{seconds}s", "--timeout", timeout,
                          "-s", str(_script(workdir, label)), url],
                         capture_output=True, text=True, check=True).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    return {"rate": rate, **_bench_line(out)}


def run_sides(apps: dict[str, str], env: dict[str, str], rounds: int, seconds: int,
              workdir: Path) -> dict[str, list[dict[str, Any]]]:
    """Both servers up; warm both, then alternate floor and receiver ``rounds`` times, so a
    burst of other load on this shared machine falls on both sides alike."""
    servers = {label: start_server(app, env) for label, app in apps.items()}
    runs: dict[str, list[dict[str, Any]]] = {label: [] for label in apps}
    try:
        for label, (_, url) in servers.items():
            # warm-up: connection pools, imports, first DB/Redis connections
            runs[label].append(load(url, 5, workdir, f"{label}-warm-up", timeout="20s"))
        for n in range(rounds):
            for label, (_, url) in servers.items():
                runs[label].append(load(url, seconds, workdir, f"{label}-{n}"))
    finally:
        for server, _ in servers.values():
            server.terminate()
            server.wait(timeout=30)
    return runs


def summary(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The measured rounds (warm-up left out): median rate and p50, worst p99."""
    measured = runs[1:]
    return {"rate": statistics.median(r["rate"] for r in measured),
            "p50": statistics.median(r["p50"] for r in measured),
            "p99": max(r["p99"] for r in measured),
            "requests": sum(r["requests"] for r in measured),
            "failed": sum(r["non2xx"] + r["errors"] for r in measured),
            "sent": sum(r["requests"] for r in runs)}


def _script(workdir: Path, label: str) -> Path:
    """A wrk script whose delivery ids are new to this run (wrk's Lua ``math.random`` is not
    seeded, so each run draws the same thread prefixes: the run id keeps them apart)."""
    body = event_body()
    sig = "sha256=" + hmac.new(SECRET.encode(), body, "sha256").hexdigest()
    script = workdir / f"{label}.lua"
    script.write_text(LUA.replace("%BODY%", body.decode()).replace("%SIG%", sig)
                      .replace("%RUN%", uuid.uuid4().hex[:8]))
    return script


def _bench_line(out: str) -> dict[str, Any]:
    m = re.search(r"BENCH p50=([\d.]+) p99=([\d.]+) requests=(\d+) non2xx=(\d+) errors=(\d+)",
                  out)
    assert m is not None, out
    return {"p50": float(m.group(1)), "p99": float(m.group(2)), "requests": int(m.group(3)),
            "non2xx": int(m.group(4)), "errors": int(m.group(5))}


def lease_redis_db() -> tuple[str, Any, int, str]:
    import redis

    lock = redis.Redis.from_url(f"{REDIS}/0")
    token = uuid.uuid4().hex
    for db in range(15, 0, -1):
        if lock.set(f"deskpilot-test-lease:{db}", token, nx=True, ex=900):
            return f"{REDIS}/{db}", lock, db, token
    raise RuntimeError("no free Redis db (1-15)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true",
                        help="3 rounds of 20 s per side instead of 3 rounds of 7 s")
    parser.add_argument("--rounds", type=int, default=None)
    parser.add_argument("--seconds", type=int, default=None, help="per side and round")
    args = parser.parse_args()
    rounds = args.rounds or 3
    seconds = args.seconds or (20 if args.full else 7)
    if not shutil.which("wrk"):
        sys.exit("wrk is needed: apt-get install -y wrk")

    import redis
    from sqlalchemy import create_engine, func, select, text
    from sqlalchemy.engine import make_url

    from plugin.storage import Event
    from plugin.storage.migrate import upgrade

    admin_url = make_url(PG_ADMIN)
    name = f"deskpilot_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}"'))
    db_url = admin_url.set(database=name).render_as_string(hide_password=False)
    redis_url, lock, db, token = lease_redis_db()
    rconn = redis.Redis.from_url(redis_url)
    rconn.flushdb()
    try:
        upgrade(db_url)
        with tempfile.TemporaryDirectory() as tmp:
            env = {"BENCH_DB": db_url, "BENCH_REDIS": redis_url, "BENCH_DIR": tmp}
            runs = run_sides({"floor": "bench.receiver:make_floor()",
                              "receiver": "bench.receiver:make_receiver()"},
                             env, rounds, seconds, Path(tmp))
        engine = create_engine(db_url)
        with engine.connect() as c:
            stored = c.execute(select(func.count()).select_from(Event)).scalar_one()
        engine.dispose()
        jobs = rconn.llen("rq:queue:deskpilot-events")
    finally:
        rconn.flushdb()
        rconn.close()
        if lock.get(f"deskpilot-test-lease:{db}") == token.encode():
            lock.delete(f"deskpilot-test-lease:{db}")
        lock.close()
        with admin.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    floor, recv = summary(runs["floor"]), summary(runs["receiver"])
    print(f"gunicorn gthread 2x4, wrk 64 connections, 2 KB signed events; floor and receiver "
          f"alternating, {rounds} rounds of {seconds} s each")
    for n in range(1, rounds + 1):
        print(f"  round {n}: " + ", ".join(
            f"{label} {runs[label][n]['rate']:.0f}/s p99 {runs[label][n]['p99']:.1f} ms"
            for label in runs))
    print(f"{'':10} {'acks/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'requests':>9} {'non-2xx':>8}")
    for label, r in (("floor", floor), ("receiver", recv)):
        print(f"{label:10} {r['rate']:9.0f} {r['p50']:8.1f} {r['p99']:8.1f} "
              f"{r['requests']:9d} {r['failed']:8d}")
    ratio = recv["rate"] / floor["rate"] if floor["rate"] else 0.0
    print(f"ratio receiver/floor: {ratio:.0%} (goal >= 50 %); receiver p99 "
          f"{recv['p99']:.1f} ms, worst round (goal < 100 ms)")
    print(f"stored events: {stored}, queued jobs: {jobs} (PostgreSQL + Redis, durable before "
          f"202); receiver requests counted by wrk: {recv['sent']} (+ those in flight at each "
          "run's end)")

if __name__ == "__main__":
    # run as a script, bench/ is first on sys.path and bench/rules.py would shadow ``rules``
    here = Path(__file__).resolve().parent
    sys.path[:] = [str(ROOT)] + [p for p in sys.path if Path(p or ".").resolve() != here]
    main()
