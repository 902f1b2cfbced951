"""Deskpilot's production processes around the chaos harness: serve, workers, scheduler.

Everything runs as the real ``deskpilot`` console commands in subprocesses, pointed by
``DESKPILOT_*`` variables at the throwaway Redis and PostgreSQL of :mod:`tests.chaos.harness`
and at a settings YAML whose ``generic`` connection calls back the :class:`FakeHost`.
A process that dies (a killed worker, a worker that lost Redis) is started again the way a
supervisor (systemd, Kubernetes) would, and counted.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import IO, Any

import yaml

from tests.chaos.harness import ChaosPostgres, ChaosRedis, FakeHost, free_port, wait_port

REPO = Path(__file__).resolve().parents[2]
DESKPILOT = str(Path(sys.executable).with_name("deskpilot"))
SECRET = "chaos-generic-secret-7f3a9c"
APP_ROLE = "deskpilot"
#: the tables a "write failure" window takes INSERT away from (receiver, ledger, outbox)
WRITE_TABLES = ("events", "credit_entries", "outbox")


@dataclass
class Proc:
    """One supervised ``deskpilot`` subprocess."""

    name: str
    args: list[str]
    popen: subprocess.Popen[bytes] | None = None
    restarts: int = 0
    deaths: list[int] = field(default_factory=list)


class Stack:
    """Redis, PostgreSQL, the fake host and Deskpilot's processes, all on free ports."""

    def __init__(self, workdir: Path, *, fault_rate: float = 0.3, workers: int = 2,
                 host_timeout: float = 1.0, seed: int = 7):
        self.workdir = workdir
        self.redis = ChaosRedis(workdir)
        self.pg = ChaosPostgres(workdir)
        self.host = FakeHost(fault_rate=fault_rate, seed=seed,
                             timeout_seconds=host_timeout * 1.5)
        self.host_timeout = host_timeout
        self.port = free_port()
        self.n_workers = workers
        self.procs: dict[str, Proc] = {}
        self.logs: dict[str, IO[bytes]] = {}
        self.settings_file = workdir / "deskpilot.yaml"
        self._ctx: Any = None

    # -- set-up -------------------------------------------------------------------------

    @property
    def app_db_url(self) -> str:
        return f"postgresql+psycopg://{APP_ROLE}@127.0.0.1:{self.pg.port}/deskpilot"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/webhooks/generic"

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("DESKPILOT_")}
        env.update({
            "DESKPILOT_SETTINGS": str(self.settings_file),
            "DESKPILOT_DATABASE_URL": self.app_db_url,
            "DESKPILOT_REDIS_URL": self.redis.url,
            "DESKPILOT_CONFIG_DIR": str(REPO / "config"),
            "DESKPILOT_VAR_DIR": str(self.workdir / "var"),
            "DESKPILOT_LOG_LEVEL": "INFO",
        })
        return env

    def start(self) -> None:
        self.redis.start()
        self.pg.init()
        self.pg.start()
        # the app runs as an ordinary role that owns its tables, so privileges can be
        # taken away for a write-failure window (a superuser ignores privileges)
        self.pg.sql(f"CREATE ROLE {APP_ROLE} LOGIN")
        self.pg.sql(f"CREATE DATABASE deskpilot OWNER {APP_ROLE}")
        self.host.start()
        self.settings_file.write_text(yaml.safe_dump({
            "log_level": "INFO",
            "connections": [{
                "name": "generic", "kind": "generic", "webhook_secrets": [SECRET],
                "callback_url": self.host.url, "timeout_seconds": self.host_timeout,
                "credentials": {"callback_secret": "callback-" + SECRET},
            }],
        }))
        self.cli("db", "upgrade")
        self.spawn("serve", ["serve", "--port", str(self.port), "--workers", "2",
                             "--threads", "4"])
        for n in range(self.n_workers):
            self.spawn(f"worker-{n}", ["worker"])
        self.spawn("scheduler", ["scheduler"])
        wait_port(self.port)

    def buy(self, companies: list[str], tasks: int) -> None:
        """Prepaid packages for ``companies``, through ``plugin.ledger`` on the app's DB."""
        from plugin import ledger
        from plugin.storage.db import Database
        from plugin.storage.models import Company

        db = Database(self.app_db_url)
        try:
            with db.session() as s:
                for company in companies:
                    if s.get(Company, company) is None:
                        s.add(Company(id=company, name=company.upper()))
                        s.flush()
                    ledger.purchase(s, company, tasks, Decimal("350"), "UAH",
                                    datetime.now(UTC) - timedelta(days=1))
        finally:
            db.dispose()

    # -- processes ------------------------------------------------------------------------

    def cli(self, *args: str, timeout: float = 120) -> str:
        done = subprocess.run([DESKPILOT, *args], env=self.env(), capture_output=True,
                              text=True, timeout=timeout, cwd=REPO)
        if done.returncode != 0:
            raise RuntimeError(f"deskpilot {' '.join(args)} exited {done.returncode}: "
                               f"{done.stderr[-2000:]}")
        return done.stdout

    def spawn(self, name: str, args: list[str]) -> Proc:
        proc = self.procs.get(name) or Proc(name, args)
        log = self.logs.get(name)
        if log is None:
            log = self.logs[name] = open(self.workdir / f"{name}.log", "ab")  # noqa: SIM115
        proc.popen = subprocess.Popen([DESKPILOT, *args], env=self.env(), cwd=REPO,
                                      stdout=log, stderr=subprocess.STDOUT,
                                      start_new_session=True)
        self.procs[name] = proc
        return proc

    def supervise(self) -> None:
        """Start again any process that died, as a process supervisor would."""
        for proc in self.procs.values():
            if proc.popen is not None and proc.popen.poll() is not None:
                proc.deaths.append(proc.popen.returncode)
                proc.restarts += 1
                self.spawn(proc.name, proc.args)

    def pids(self) -> dict[str, int]:
        return {n: p.popen.pid for n, p in self.procs.items() if p.popen is not None}

    def kill_worker_mid_job(self, timeout: float = 10.0) -> str:
        """SIGKILL a worker while it runs a job (rq marks the worker busy)."""
        import redis
        from rq import Worker

        conn = redis.Redis.from_url(self.redis.url, socket_timeout=2)
        ours = {p.popen.pid: p for n, p in self.procs.items()
                if n.startswith("worker") and p.popen is not None}
        deadline = time.monotonic() + timeout
        try:
            while time.monotonic() < deadline:
                for w in Worker.all(connection=conn):
                    if w.pid in ours and w.get_state() == "busy":
                        os.kill(w.pid, signal.SIGKILL)
                        ours[w.pid].popen.wait(5)  # type: ignore[union-attr]
                        return f"killed {ours[w.pid].name} while busy"
                time.sleep(0.005)
        except redis.RedisError as exc:
            return f"no kill: {exc.__class__.__name__}"
        finally:
            conn.close()
        # nobody busy in time: kill one anyway, so the fault is always injected
        victim = next(iter(ours.values()))
        os.kill(victim.popen.pid, signal.SIGKILL)  # type: ignore[union-attr]
        victim.popen.wait(5)  # type: ignore[union-attr]
        return f"killed {victim.name} (idle)"

    def revoke_writes(self) -> None:
        self.pg.sql(f"REVOKE INSERT ON {', '.join(WRITE_TABLES)} FROM {APP_ROLE}",
                    db="deskpilot")

    def grant_writes(self) -> None:
        self.pg.sql(f"GRANT INSERT ON {', '.join(WRITE_TABLES)} TO {APP_ROLE}", db="deskpilot")

    def tick(self, ahead: timedelta = timedelta(minutes=3)) -> dict[str, str]:
        """One scheduler tick (the code of ``deskpilot scheduler tick --now``) as if
        ``ahead`` had passed, so stranded work is due; run in this process to save the
        command's start-up time on every drain round."""
        from plugin.context import build_context, set_context
        from plugin.scheduler import tick
        from plugin.settings import load_settings

        if self._ctx is None:
            self._ctx = build_context(load_settings(env=self.env()))
            set_context(self._ctx)
        return tick(self._ctx, datetime.now(UTC) + ahead, force=True)

    def stop(self) -> None:
        for proc in self.procs.values():
            if proc.popen is not None and proc.popen.poll() is None:
                proc.popen.terminate()
        for proc in self.procs.values():
            if proc.popen is not None:
                try:
                    proc.popen.wait(10)
                except subprocess.TimeoutExpired:
                    proc.popen.kill()
                    proc.popen.wait(5)
        for log in self.logs.values():
            log.close()
        if self._ctx is not None:
            from plugin.context import set_context

            self._ctx.close()
            set_context(None)
        self.host.stop()
        self.redis.stop()
        self.pg.stop("immediate")
        self.pg.remove()

    def log_text(self, name: str) -> str:
        path = self.workdir / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""
