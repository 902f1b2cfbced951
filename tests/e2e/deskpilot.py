"""Deskpilot's processes for the e2e suite: receiver thread, RQ worker, CLI, database reads.

The receiver runs in a thread of the test process (``plugin.app.create_app``) so a test can
take it down and bring it back on the same port; the worker, the scheduler tick and
reconciliation run as the real ``deskpilot`` commands in subprocesses.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import func, select
from werkzeug.serving import BaseWSGIServer, make_server

from plugin.app import create_app
from plugin.settings import Settings, load_settings
from plugin.storage.db import Database
from plugin.storage.models import Event, EventState, Ticket

REPO = Path(__file__).resolve().parents[2]
T = TypeVar("T")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Receiver:
    """Deskpilot's web app on a fixed 127.0.0.1 port, in a thread; can stop and restart."""

    def __init__(self, settings: Settings, port: int):
        self.settings = settings
        self.port = port
        self.app = create_app(settings)
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self._server = make_server("127.0.0.1", self.port, self.app, threaded=True)
        self._thread = threading.Thread(
            target=self._server.serve_forever, daemon=True, name="e2e-receiver"
        )
        self._thread.start()

    def stop(self) -> None:
        """Close the listening socket: the helpdesk's webhook calls now fail to connect."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(10)
            self._thread = None

    def close(self) -> None:
        self.stop()
        self.app.extensions["deskpilot"].close()


class Deskpilot:
    """Settings, environment and commands of the Deskpilot installation under test."""

    def __init__(self, settings_file: Path, env: dict[str, str], workdir: Path):
        self.settings_file = settings_file
        self.env = env
        self.workdir = workdir
        self.settings = load_settings(env=env)
        self.db = Database(self.settings.database_url)
        self.workers: list[subprocess.Popen[bytes]] = []
        self.worker_log = workdir / "worker.log"
        self.scheduler_log = workdir / "scheduler.log"

    def command(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        """Run ``deskpilot ARGS`` as an operator would; the output is kept for messages."""
        done = subprocess.run(
            [sys.executable, "-m", "plugin.cli", *args],
            cwd=REPO,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        with (self.workdir / "commands.log").open("a") as log:
            log.write(
                f"$ deskpilot {' '.join(args)}  -> {done.returncode}\n{done.stdout}{done.stderr}\n"
            )
        return done

    def must(self, *args: str) -> str:
        done = self.command(*args)
        assert done.returncode == 0, (
            f"deskpilot {' '.join(args)} exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
        )
        return done.stdout

    def start_worker(self) -> None:
        log = self.worker_log.open("ab")
        self.workers.append(
            subprocess.Popen(
                [sys.executable, "-m", "plugin.cli", "worker"],
                cwd=REPO,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        )
        log.close()

    def start_scheduler(self) -> None:
        """The one ``deskpilot scheduler`` of the installation (push retries, sweeps, timers)."""
        log = self.scheduler_log.open("ab")
        self.workers.append(
            subprocess.Popen(
                [sys.executable, "-m", "plugin.cli", "scheduler"],
                cwd=REPO,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        )
        log.close()

    def stop_workers(self) -> None:
        """Stop the worker and scheduler processes this harness started."""
        for proc in self.workers:
            if proc.poll() is None:
                proc.terminate()
        for proc in self.workers:
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self.workers.clear()

    def check_workers(self) -> None:
        for proc in self.workers:
            if proc.poll() is not None:
                raise AssertionError(
                    f"{proc.args!r} exited with {proc.returncode}:\n{self.diagnostics()}"
                )

    # -- reading Deskpilot's own state --------------------------------------------------
    def unsettled(self, ticket_ids: tuple[int | str, ...] = ()) -> int:
        """Stored events not yet processed plus outbox rows not yet at the host.

        Limited to ``ticket_ids`` when given, so one scenario's leftovers (say, a push that
        never became due) are reported by that scenario and do not stall the next one.
        """
        from plugin.outbox.rows import OutboxRow, OutboxState

        ids = [str(t) for t in ticket_ids]
        events = select(func.count(Event.id)).where(
            Event.state.in_([EventState.QUEUED, EventState.PROCESSING])
        )
        pending = select(func.count(OutboxRow.id)).where(
            OutboxRow.state.in_([OutboxState.PENDING, OutboxState.SENDING])
        )
        if ids:
            events = events.where(Event.ticket_id.in_(ids))
            pending = pending.where(OutboxRow.ticket_id.in_(ids))
        with self.db.session() as session:
            return int(session.scalar(events) or 0) + int(session.scalar(pending) or 0)

    def events(self, host_ticket_id: int | str) -> list[Event]:
        with self.db.session() as session:
            return list(
                session.scalars(
                    select(Event).where(Event.ticket_id == str(host_ticket_id)).order_by(Event.id)
                )
            )

    def ticket(self, host_ticket_id: int | str) -> Ticket | None:
        with self.db.session() as session:
            return session.scalar(
                select(Ticket).where(Ticket.host_ticket_id == str(host_ticket_id))
            )

    def ledger_entries(self, company_id: str) -> list[Any]:
        from plugin.ledger.models import CreditEntry

        with self.db.session() as session:
            return list(
                session.scalars(
                    select(CreditEntry)
                    .where(CreditEntry.company_id == company_id)
                    .order_by(CreditEntry.id)
                )
            )

    def balance(self, company_id: str) -> Any:
        from plugin.ledger.queries import balance

        with self.db.session() as session:
            return balance(session, company_id)

    def invoke(self, *args: str) -> str:
        """Run ``deskpilot ARGS`` in this process (no interpreter start-up), for quick commands
        that build no process-wide context."""
        from click.testing import CliRunner

        from plugin.cli import main

        done = CliRunner().invoke(main, list(args), env=self.env, catch_exceptions=False)
        with (self.workdir / "commands.log").open("a") as log:
            log.write(f"$ deskpilot {' '.join(args)}  -> {done.exit_code}\n{done.output}\n")
        assert done.exit_code == 0, (
            f"deskpilot {' '.join(args)} exited {done.exit_code}: {done.output}"
        )
        return done.output

    def buy_credits(self, company_id: str, tasks: int) -> None:
        """A package of the company's plan, bought the way an operator does it."""
        self.invoke("credits", "buy", company_id, "--tasks", str(tasks))

    def reconcile_due_now(self, connection: str) -> None:
        """Make the scheduler's reconcile task due at once for ``connection``.

        The scheduler keeps "polled recently" as a Redis key that expires after the
        connection's ``reconcile_minutes`` (plugin/scheduler.py); dropping it is what a Redis
        flush does, which the scheduler documents as "the next poll comes early".
        """
        import redis

        assert self.settings.redis_url
        conn = redis.Redis.from_url(self.settings.redis_url)
        try:
            conn.delete(f"deskpilot:sched:reconcile:{connection}")
        finally:
            conn.close()

    def diagnostics(self) -> str:
        return (
            f"--- worker log\n{tail(self.worker_log)}\n"
            f"--- scheduler log\n{tail(self.scheduler_log, 20)}\n"
            f"--- commands\n{tail(self.workdir / 'commands.log', 30)}"
        )


@contextmanager
def migrated_database(admin: str, prefix: str,
                      unavailable: Callable[[str], None]) -> Iterator[str]:
    """A throwaway PostgreSQL database named ``<prefix>_<hex>``, migrated to head and
    dropped afterwards; ``unavailable`` (skip here, fail on CI) when the server is absent."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    from plugin.storage.migrate import upgrade

    admin_url = make_url(admin)
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    try:
        engine = create_engine(admin_url, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # noqa: BLE001
        unavailable(f"PostgreSQL is not reachable ({exc.__class__.__name__}: {exc})")
    url = admin_url.set(database=name).render_as_string(hide_password=False)
    try:
        upgrade(url)
        yield url
    finally:
        with engine.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        engine.dispose()


def tail(path: Path, lines: int = 40) -> str:
    if not path.exists():
        return f"({path.name}: nothing yet)"
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def wait_for(
    probe: Callable[[], T | None],
    what: str,
    timeout: float = 30.0,
    interval: float = 0.2,
    diagnostics: Callable[[], str] | None = None,
) -> T:
    """Poll ``probe`` until it returns something truthy; fail with ``what`` and the logs."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while True:
        last = probe()
        if last:
            return last
        if time.monotonic() > deadline:
            extra = f"\n{diagnostics()}" if diagnostics else ""
            raise AssertionError(
                f"timed out after {timeout:.0f} s waiting for {what} (last: {last!r}){extra}"
            )
        time.sleep(interval)


def clean_env(extra: dict[str, str]) -> dict[str, str]:
    """The environment of Deskpilot's subprocesses: ours, minus any stray DESKPILOT_*."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DESKPILOT_")}
    env.update(extra)
    return env
